"""`/guards`: per visible account a drawdown and a daily-loss gauge (the account's own bands); the
selected account's equity curve with its HWM and its recent guard events (acknowledgeable, audited);
market guards per symbol. A level change raises a toast in the browser."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import Request
from nicegui import ui

from components.cards import set_rows, utc, utc_on_hover
from components.frame import frame
from components.gauge import Gauge
from components.live import live_page
from dashboard.domain.enums import GuardType, Level
from dashboard.schemas.guards import AccountGuardState, EquityCurve
from dashboard.services.errors import NotFound
from dashboard.services.guard_actions import acknowledge_guard_event

DAILY_WARNING, DAILY_CRITICAL = Decimal("0.6"), Decimal("0.8")  # domain.daily_loss fractions
CURVE_WINDOWS = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
MARKET_GUARDS = (GuardType.PRICE_GAP, GuardType.SPREAD, GuardType.STALE_QUOTE)
EVENT_COLUMNS = [
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
MARKET_COLUMNS = [
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left"},
    {"name": "bid", "label": "Bid", "field": "bid"},
    {"name": "ask", "label": "Ask", "field": "ask"},
    {"name": "age", "label": "Quote age", "field": "age"},
    {"name": "price_gap", "label": "Price gap", "field": "price_gap", "align": "left"},
    {"name": "spread", "label": "Spread", "field": "spread", "align": "left"},
    {"name": "stale_quote", "label": "Stale quote", "field": "stale_quote", "align": "left"},
]


def equity_figure(curve: EquityCurve) -> dict[str, Any]:
    xs = [p.ts.isoformat() for p in curve.points]
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "name": "equity", "x": xs,
             "y": [float(p.equity) for p in curve.points], "line": {"color": "#2563eb"}},
            {"type": "scatter", "mode": "lines", "name": "HWM", "x": xs,
             "y": [float(p.hwm) for p in curve.points], "line": {"color": "#64748b", "dash": "dot"}},
        ],
        "layout": {"height": 260, "margin": {"l": 60, "r": 10, "t": 10, "b": 30}, "xaxis": {"type": "date"},
                   "legend": {"orientation": "h"}, "paper_bgcolor": "rgba(0,0,0,0)"},
        "config": {"displaylogo": False, "responsive": True},
    }  # fmt: skip


def register(demo: bool) -> None:
    @ui.page("/guards")
    async def guards_page(request: Request, account: int = 0) -> None:
        live = live_page(request, "/guards")
        queries, viewer = live.runtime.queries, live.principal.viewer
        listed = await live.initial(lambda: queries.account_guards(viewer), None)
        states = listed.model.accounts if listed is not None else []
        names = {s.account_id: f"{s.name} ({s.broker_login})" for s in states}
        selected = account if account in names else (states[0].account_id if states else 0)
        gauges: dict[int, tuple[Gauge, Gauge, ui.label]] = {}
        levels: dict[int, str] = {}
        last_curve: dict[str, Any] = {"key": None}
        with frame("Risk guards", live, demo=demo):
            with ui.row().classes("w-full gap-3 flex-wrap").mark("gauges"):
                for state in states:
                    with ui.card().classes("w-72 max-sm:w-full gap-0").mark(f"account-{state.account_id}"):
                        ui.label(names[state.account_id]).classes("font-medium")
                        detail = ui.label().classes("text-xs opacity-70")
                        gauges[state.account_id] = (
                            Gauge(f"dd-gauge-{state.account_id}"),
                            Gauge(f"daily-gauge-{state.account_id}"),
                            detail,
                        )
            live.panel("gauges", lambda: refresh_gauges())
            if not states:
                ui.label("No accounts to show.")
            with ui.card().classes("w-full"):
                with ui.row().classes("items-center gap-3 w-full"):
                    ui.label("Equity and high-water mark").classes("font-semibold")
                    chooser = ui.select(
                        names, value=selected or None, on_change=lambda: live.act(refresh_now)
                    ).props("dense")
                    chooser.mark("equity-account")
                    span = ui.toggle(
                        list(CURVE_WINDOWS), value="24h", on_change=lambda: live.act(refresh_now)
                    ).props("dense")
                    span.mark("equity-window")
                curve_plot = (
                    ui.plotly({"data": [], "layout": {"height": 260}}).classes("w-full").mark("equity")
                )
                ui.label("Guard events").classes("font-semibold mt-2")
                events = ui.table(columns=EVENT_COLUMNS, rows=[], row_key="id", pagination=10).classes(
                    "w-full"
                )
                events.props("dense flat").mark("guard-events")
                events.add_slot("body-cell-ack", ACK_SLOT)
                utc_on_hover(events, "at", "at_utc")
                events.on("ack", lambda e: live.act(lambda: acknowledge(int(e.args["id"]))))
                live.panel("account", lambda: refresh_account())
            with ui.card().classes("w-full"):
                ui.label("Market guards").classes("font-semibold")
                market = ui.table(columns=MARKET_COLUMNS, rows=[], row_key="symbol").classes("w-full")
                market.props("dense flat").mark("market")
                live.panel("market", lambda: refresh_market())

        def toast(state: AccountGuardState) -> None:
            previous = levels.get(state.account_id)
            levels[state.account_id] = state.dd_level.value
            if previous is not None and previous != state.dd_level.value:
                kind = {"critical": "negative", "warning": "warning"}.get(state.dd_level.value, "positive")
                ui.notify(
                    f"{names[state.account_id]}: drawdown {previous} → {state.dd_level.value} "
                    f"({state.drawdown_pct:.2f} %)",
                    type=kind,
                    position="top-right",
                )

        async def refresh_gauges() -> datetime:
            data = (await queries.account_guards(viewer)).model
            for state in data.accounts:
                if state.account_id not in gauges:
                    continue
                dd, daily, detail = gauges[state.account_id]
                dd.show(
                    "Drawdown",
                    state.drawdown_pct,
                    state.dd_warning_pct,
                    state.dd_critical_pct,
                    state.dd_level.value,
                )
                limit = state.daily_loss_limit_pct
                daily.show(
                    "Daily loss",
                    state.daily_loss_pct,
                    limit * DAILY_WARNING if limit is not None else None,
                    limit * DAILY_CRITICAL if limit is not None else None,
                    state.daily_loss_level.value,
                )
                equity = f"{state.equity:,.2f}" if state.equity is not None else "–"
                hwm = f"{state.hwm:,.2f}" if state.hwm is not None else "–"
                text = f"equity {equity} {state.currency} · HWM {hwm} · level {state.dd_level.value}"
                if detail.text != text:
                    detail.text = text
                toast(state)
            return data.as_of

        async def refresh_account() -> datetime | None:
            account_id = chooser.value
            if not account_id:
                return None
            curve = (
                await queries.equity_curve(
                    viewer, int(account_id), window=CURVE_WINDOWS[str(span.value)], max_points=600
                )
            ).model
            key = (
                curve.account_id,
                span.value,
                curve.points[-1].ts if curve.points else None,
                len(curve.points),
            )
            if key != last_curve["key"]:
                last_curve["key"] = key
                curve_plot.figure = equity_figure(curve)
                curve_plot.update()
            data = (await queries.guard_events(viewer, account_id=int(account_id), limit=50)).model
            set_rows(
                events,
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
                    for e in data.events
                ],
            )
            return curve.as_of

        async def refresh_market() -> datetime:
            data = (await queries.market_guards(viewer)).model
            set_rows(
                market,
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
            return data.as_of

        async def refresh_now() -> None:
            last_curve["key"] = None
            await refresh_account()

        async def acknowledge(event_id: int) -> None:
            try:
                await live.runtime.write(acknowledge_guard_event, viewer, event_id)
            except NotFound:
                ui.notify("That event is not visible to you", type="warning")
                return
            ui.notify("Acknowledged", type="positive")
            await refresh_account()

        live.start()
