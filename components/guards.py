"""The panels of `/guards`: per visible account a drawdown and a daily-loss gauge in the account's
own bands (a toast when a level changes), the chosen account's equity curve with its HWM and its
guard events (acknowledgeable, audited), and the market guards per symbol.

In the past view (`live.at`) the gauges, the curve (its window ending at the moment) and the
events up to the moment come from the as-of reads; toasts and acknowledgement are off (see
`components.time_control` for why), the events show the newest page only, and the market guards
are not shown: quotes are not kept over time."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel
from components.cards import heading, set_rows, utc, utc_on_hover
from components.gauge import Gauge
from components.live import LivePage, LivePanel
from components.pager import KeysetPager
from dashboard.cache.base_queries import Cached
from dashboard.domain.daily_loss import daily_loss_bands
from dashboard.domain.enums import GuardType, Level
from dashboard.schemas.guards import (
    AccountGuardList,
    AccountGuardState,
    EquityCurve,
    GuardEventList,
    MarketGuardList,
)
from dashboard.schemas.limits import HwmResetList, HwmResetView
from dashboard.services.errors import NotFound
from dashboard.services.guard_actions import acknowledge_guard_event

# Up to 24 h from the minute snapshots, longer from hourly rollups (never more than max_points).
#: Guard events per page (older ones a click away, fetched by the server, never all at once).
EVENTS_PAGE = 20
CURVE_WINDOWS = {
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}
#: An account's own page (limits, HWM resets, its gauges and curve).
ACCOUNT_PATH = "/accounts/{}"
#: Links to it: NiceGUI's link blue has 3.7:1 on white; these keep 4.5:1 in light and dark mode.
LINK_COLORS = "text-blue-800 dark:text-blue-300"
MARKET_GUARDS = (GuardType.PRICE_GAP, GuardType.SPREAD, GuardType.STALE_QUOTE)
TOASTS = {"critical": "negative", "warning": "warning"}
EVENT_COLUMNS: list[dict[str, Any]] = [
    {"name": "at", "label": "Time", "field": "at", "align": "left"},
    {"name": "type", "label": "Guard", "field": "type", "align": "left"},
    {"name": "level", "label": "Level", "field": "level", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "message", "label": "Message", "field": "message", "align": "left"},
    {"name": "ack", "label": "Acknowledged", "field": "acked", "align": "left"},
]
ACK_SLOT = """
<q-td :props="props">
  <q-btn v-if="!props.row.acked" dense flat color="primary" label="Acknowledge"
         @click="() => $parent.$emit('ack', props.row)" />
  <span v-else>{{ props.row.acked }}</span>
</q-td>
"""
# The past view: who had acknowledged by then, never a button (no action on the past).
ACKED_SLOT = """
<q-td :props="props">{{ props.row.acked || "–" }}</q-td>
"""
MARKET_COLUMNS: list[dict[str, Any]] = [
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left"},
    {"name": "bid", "label": "Bid", "field": "bid"},
    {"name": "ask", "label": "Ask", "field": "ask"},
    {"name": "age", "label": "Quote age", "field": "age"},
    {"name": "price_gap", "label": "Price gap", "field": "price_gap", "align": "left"},
    {"name": "spread", "label": "Spread", "field": "spread", "align": "left"},
    {"name": "stale_quote", "label": "Stale quote", "field": "stale_quote", "align": "left"},
]


RESET_COLOR = "#7c3aed"


def account_path(account_id: int) -> str:
    return ACCOUNT_PATH.format(account_id)


def equity_figure(curve: EquityCurve, resets: Sequence[HwmResetView] = ()) -> dict[str, Any]:
    """Equity and HWM over the window; each HWM reset in it a dashed vertical line with a marker
    at its new HWM whose hover says when, from which mark, by whom and why."""
    xs = [p.ts.isoformat() for p in curve.points]
    figure: dict[str, Any] = {
        "data": [
            {"type": "scatter", "mode": "lines", "name": "equity", "x": xs,
             "y": [float(p.equity) for p in curve.points], "line": {"color": "#2563eb"}},
            {"type": "scatter", "mode": "lines", "name": "HWM", "x": xs,
             "y": [float(p.hwm) for p in curve.points], "line": {"color": "#64748b", "dash": "dot"}},
        ],
        "layout": {"height": 280, "margin": {"l": 60, "r": 10, "t": 30, "b": 30}, "xaxis": {"type": "date"},
                   # Above the plot: below it, the legend ran into the date labels.
                   "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
                   "paper_bgcolor": "rgba(0,0,0,0)"},
        "config": {"displaylogo": False, "responsive": True},
    }  # fmt: skip
    if resets:
        figure["data"].append(reset_markers(resets))
        figure["layout"]["shapes"] = [
            {"type": "line", "xref": "x", "yref": "paper", "x0": r.created_at.isoformat(),
             "x1": r.created_at.isoformat(), "y0": 0, "y1": 1,
             "line": {"color": RESET_COLOR, "width": 1, "dash": "dash"}}
            for r in resets
        ]  # fmt: skip
    return figure


def reset_markers(resets: Sequence[HwmResetView]) -> dict[str, Any]:
    """The resets as a trace of their own: in the legend, and the reason on hover."""
    texts = [
        f"HWM reset {utc(r.created_at)}<br>"
        f"{'–' if r.previous_hwm is None else f'{r.previous_hwm:,.2f}'} → {r.new_hwm:,.2f}"
        f"<br>by {r.actor_name or f'#{r.actor_user_id}'}: {html.escape(r.reason)}"
        for r in resets
    ]
    return {
        "type": "scatter",
        "mode": "markers",
        "name": "HWM reset",
        "x": [r.created_at.isoformat() for r in resets],
        "y": [float(r.new_hwm) for r in resets],
        "marker": {"color": RESET_COLOR, "symbol": "diamond", "size": 10},
        "hovertext": texts,
        "hoverinfo": "text",
    }


class GaugesPanel(LivePanel[Cached[AccountGuardList]]):
    """Drawdown and daily-loss gauges per visible account; a toast when a drawdown level changes."""

    name = "gauges"

    def __init__(
        self,
        live: LivePage,
        states: list[AccountGuardState],
        labels: dict[int, AccountLabel],
        account_id: int | None = None,
    ) -> None:
        """`account_id`: one account's gauges only (its own page, where its name links nowhere);
        otherwise every visible account's, each name a link to the account's page."""
        super().__init__(live)
        self.labels = labels
        self.account_id = account_id
        self.gauges: dict[int, tuple[Gauge, Gauge, ui.label]] = {}
        self.levels: dict[int, str] = {}
        with ui.row().classes("w-full gap-3 flex-wrap").mark("gauges"):
            for state in states:
                with ui.card().classes("w-72 max-sm:w-full gap-0").mark(f"account-{state.account_id}"):
                    name = labels[state.account_id].long
                    if account_id is None and live.at is None:
                        link = ui.link(name, account_path(state.account_id))
                        link.classes(f"font-medium {LINK_COLORS}").mark(f"account-link-{state.account_id}")
                    else:
                        ui.label(name).classes("font-medium")
                    detail = ui.label().classes("text-xs").mark(f"account-detail-{state.account_id}")
                    self.gauges[state.account_id] = (
                        Gauge(f"dd-gauge-{state.account_id}"),
                        Gauge(f"daily-gauge-{state.account_id}"),
                        detail,
                    )
        live.add(self)
        if not states:
            ui.label("No accounts to show.")

    async def fetch(self) -> Cached[AccountGuardList]:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        if self.live.at is not None:
            return await queries.account_guards_at(viewer, self.live.at, account_id=self.account_id)
        return await queries.account_guards(viewer, account_id=self.account_id)

    def show(self, data: Cached[AccountGuardList]) -> None:
        for state in data.model.accounts:
            if state.account_id not in self.gauges:
                continue
            dd, daily, detail = self.gauges[state.account_id]
            dd.show(
                "Drawdown",
                state.drawdown_pct,
                state.dd_warning_pct,
                state.dd_critical_pct,
                state.dd_level.value,
            )
            limit = state.daily_loss_limit_pct
            warning, critical = daily_loss_bands(limit) if limit is not None else (None, None)
            daily.show("Daily loss", state.daily_loss_pct, warning, critical, state.daily_loss_level.value)
            equity = f"{state.equity:,.2f}" if state.equity is not None else "–"
            hwm = f"{state.hwm:,.2f}" if state.hwm is not None else "–"
            text = f"equity {equity} {state.currency} · HWM {hwm} · level {state.dd_level.value}"
            if state.silent_since is not None:
                text = f"SILENT since {self.live.local(state.silent_since)} (gauges frozen) · {text}"
            if detail.text != text:
                detail.text = text
            self._toast(state)

    def _toast(self, state: AccountGuardState) -> None:
        if self.live.at is not None:  # the past view announces nothing (components.time_control)
            return
        previous = self.levels.get(state.account_id)
        level = state.dd_level.value
        self.levels[state.account_id] = level
        if previous is not None and previous != level:
            name = self.labels[state.account_id].long
            ui.notify(
                f"{name}: drawdown {previous} → {level} ({state.drawdown_pct:.2f} %)",
                type=TOASTS.get(level, "positive"),  # type: ignore[arg-type]
                position="top-right",
            )


@dataclass(frozen=True)
class AccountView:
    curve: Cached[EquityCurve] | None
    events: Cached[GuardEventList] | None
    resets: Cached[HwmResetList] | None = None


class AccountPanel(LivePanel[AccountView]):
    """The chosen account's equity and HWM (with its HWM resets as markers), and its guard events
    with acknowledgement."""

    name = "account"

    def __init__(
        self, live: LivePage, labels: dict[int, AccountLabel], selected: int, choose: bool = True
    ) -> None:
        """`choose`: False on an account's own page, where the account is fixed."""
        super().__init__(live)
        self.drawn: tuple[Any, ...] | None = None
        with ui.card().classes("w-full"):
            with ui.row().classes("items-center gap-3 w-full"):
                heading("Equity and high-water mark")
                names = {i: label.long for i, label in labels.items()}
                self.chooser = ui.select(
                    names, value=selected or None, label="Account", on_change=lambda: live.act(self.redraw)
                )
                self.chooser.props("dense").mark("equity-account")
                self.chooser.set_visibility(choose)
                self.span = ui.toggle(
                    list(CURVE_WINDOWS), value="24h", on_change=lambda: live.act(self.redraw)
                )
                self.span.props('dense role=group aria-label="Equity window"').mark("equity-window")
            self.plot = ui.plotly({"data": [], "layout": {"height": 260}}).classes("w-full").mark("equity")
            past = live.at is not None
            heading(f"Guard events up to that moment (newest {EVENTS_PAGE})" if past else "Guard events")
            self.events = ui.table(columns=EVENT_COLUMNS, rows=[], row_key="id").classes("w-full")
            self.events.props("dense flat hide-pagination").mark("guard-events")
            self.events.pagination = {"rowsPerPage": 0}
            utc_on_hover(self.events, "at", "at_utc")
            self.pager: KeysetPager | None = None
            if past:
                self.events.add_slot("body-cell-ack", ACKED_SLOT)
            else:
                self.events.add_slot("body-cell-ack", ACK_SLOT)
                self.events.on("ack", lambda e: live.act(lambda: self.acknowledge(int(e.args["id"]))))
                self.pager = KeysetPager("guard-events-pager", self.refresh)
            live.add(self)

    async def fetch(self) -> AccountView:
        account_id = self.chooser.value
        if not account_id:
            return AccountView(None, None)
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        window = CURVE_WINDOWS[str(self.span.value)]
        at = self.live.at
        if at is not None:
            return AccountView(
                await queries.equity_curve_at(viewer, int(account_id), at, window=window, max_points=600),
                await queries.guard_events_at(viewer, at, account_id=int(account_id), limit=EVENTS_PAGE),
                await queries.hwm_resets(viewer, int(account_id), since=at - window, until=at),
            )
        assert self.pager is not None
        curve = await queries.equity_curve(viewer, int(account_id), window=window, max_points=600)
        events = await queries.guard_events(
            viewer, account_id=int(account_id), limit=EVENTS_PAGE, cursor=self.pager.cursor
        )
        resets = await queries.hwm_resets(viewer, int(account_id), window=window)
        return AccountView(curve, events, resets)

    def show(self, data: AccountView) -> None:
        if data.curve is None or data.events is None:
            return
        curve = data.curve.model
        resets = data.resets.model.resets if data.resets is not None else []
        key = (
            curve.account_id,
            self.span.value,
            curve.points[-1].ts if curve.points else None,
            len(curve.points),
            tuple(r.id for r in resets),
        )
        if key != self.drawn:  # the whole figure goes out only when the curve or its resets changed
            self.drawn = key
            self.plot.figure = equity_figure(curve, resets)
            self.plot.update()
        live = self.live
        set_rows(
            self.events,
            [
                {
                    "id": e.id,
                    "at": live.local(e.created_at, with_date=True),
                    "at_utc": utc(e.created_at),
                    "type": e.guard_type.value,
                    "level": e.level.value,
                    "state": e.state.value,
                    "message": e.message,
                    "acked": live.local(e.acknowledged_at, with_date=True) if e.acknowledged_at else "",
                }
                for e in data.events.model.events
            ],
        )
        if self.pager is not None:
            self.pager.seen(data.events.model.next_cursor)

    async def redraw(self) -> None:
        self.drawn = None
        if self.pager is not None:
            self.pager.reset()  # another account or window: back to the newest events
        await self.refresh()

    async def acknowledge(self, event_id: int) -> None:
        if self.live.at is not None:  # no button there; a crafted event must not act either
            ui.notify("Acknowledging is for the live page", type="warning")
            return
        try:
            await self.live.runtime.write(acknowledge_guard_event, self.live.principal.viewer, event_id)
        except NotFound:
            ui.notify("That event is not visible to you", type="warning")
            return
        ui.notify("Acknowledged", type="positive")
        await self.refresh()


class MarketPanel(LivePanel[Cached[MarketGuardList]]):
    """Last quote and guard levels per symbol (the same for everybody)."""

    name = "market"

    def __init__(self, live: LivePage) -> None:
        super().__init__(live)
        with ui.card().classes("w-full"):
            heading("Market guards")
            self.table = ui.table(columns=MARKET_COLUMNS, rows=[], row_key="symbol").classes("w-full")
            self.table.props("dense flat").mark("market")
            live.add(self)

    async def fetch(self) -> Cached[MarketGuardList]:
        return await self.live.runtime.queries.market_guards(self.live.principal.viewer)

    def show(self, cached: Cached[MarketGuardList]) -> None:
        data = cached.model
        set_rows(
            self.table,
            [
                {
                    "symbol": m.symbol,
                    "bid": f"{m.bid.normalize():f}",
                    "ask": f"{m.ask.normalize():f}",
                    "age": f"{m.age_seconds} s",
                    **{g.value: m.levels.get(g, Level.NORMAL).value for g in MARKET_GUARDS},
                }
                for m in data.symbols
            ],
        )


def market_not_kept() -> None:
    """In place of the market guards in the past view: their quotes are not kept over time (their
    events are, and are listed with the account's)."""
    with ui.card().classes("w-full"):
        heading("Market guards")
        ui.label(
            "Quotes are not kept over time, so the market guards of that moment cannot be shown; "
            "their events up to it are in the guard events above."
        ).classes("text-sm").mark("market-not-kept")
