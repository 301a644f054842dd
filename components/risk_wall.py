"""The risk wall (`/risk`): every account's drawdown gauge, worst first, filtered by level and
name; a click opens that account's guards, the link under the card the account's own page (its
limits and the room left, its HWM). Cards are created once per account and then only updated,
shown, hidden or moved. In the past view (`live.at`) the wall is the one of that moment and a
click opens that account's guards at the same moment (the account page is live only: no link)."""

from __future__ import annotations

from nicegui import ui

from components.as_of_url import url_with
from components.gauge import Gauge
from components.guards import LINK_COLORS, account_path
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.schemas.guards import AccountGuardList, AccountGuardState

LEVEL_FILTERS = {"all": "All", "warning": "Warning+", "critical": "Critical"}
LEVELS = ("normal", "warning", "critical")


class RiskWallPanel(LivePanel[Cached[AccountGuardList]]):
    name = "wall"

    def __init__(self, live: LivePage) -> None:
        super().__init__(live)
        with ui.row().classes("items-center gap-3 w-full flex-wrap"):
            self.level = ui.toggle(LEVEL_FILTERS, value="all", on_change=lambda: live.act(self.refresh))
            self.level.props('role=group aria-label="Level filter"').mark("level-filter")
            self.search = ui.input(
                placeholder="Filter by account name", on_change=lambda: live.act(self.refresh)
            )
            self.search.props('dense clearable aria-label="Filter by account name"').classes("w-64")
            self.search.mark("name-filter")
            self.summary = ui.label().classes("text-sm").mark("wall-summary")
        self.grid = ui.row().classes("w-full gap-3 flex-wrap").mark("wall")
        # Per account: what is shown, hidden and moved (the card, with its link below it when
        # live), the gauge and the line.
        self.cards: dict[int, tuple[ui.element, Gauge, ui.label]] = {}
        self.order: list[int] = []
        live.add(self)

    async def fetch(self) -> Cached[AccountGuardList]:
        if self.live.at is not None:
            return await self.live.runtime.queries.risk_wall_at(self.live.principal.viewer, self.live.at)
        return await self.live.runtime.queries.risk_wall(self.live.principal.viewer)

    def key(self, data: Cached[AccountGuardList]) -> tuple[object, ...]:
        """The filters change what is shown without a new read."""
        return (data.content, self.level.value, self.search.value)

    def _wanted(self, account: AccountGuardState) -> bool:
        level, name = account.dd_level.value, str(self.search.value or "").lower()
        by_level = (
            self.level.value == "all"
            or level == "critical"
            or (self.level.value == "warning" and level == "warning")
        )
        return by_level and (not name or name in account.name.lower())

    def show(self, cached: Cached[AccountGuardList]) -> None:
        wall = cached.model.accounts
        wanted = [a for a in wall if self._wanted(a)]
        counts = {name: sum(a.dd_level.value == name for a in wall) for name in LEVELS}
        silent = sum(a.silent_since is not None for a in wall)
        text = (
            f"{len(wall)} accounts: {counts['critical']} critical, {counts['warning']} warning, "
            f"{counts['normal']} normal" + (f", {silent} silent" if silent else "")
        )
        if self.summary.text != text:
            self.summary.text = text
        for a in wanted:
            if a.account_id not in self.cards:
                self._card(a)
            _, gauge, line = self.cards[a.account_id]
            gauge.show("Drawdown", a.drawdown_pct, a.dd_warning_pct, a.dd_critical_pct, a.dd_level.value)
            text = f"{a.dd_level.value} · daily loss {a.daily_loss_pct:.2f} % · {a.open_positions} open"
            if a.silent_since is not None:  # a dead bridge: every number here is frozen
                text = f"SILENT since {self.live.local(a.silent_since)} · {text}"
            if line.text != text:
                line.text = text
        ids = [a.account_id for a in wanted]
        for account_id, (card, _, _) in self.cards.items():
            if card.visible != (account_id in ids):
                card.set_visibility(account_id in ids)
        if ids != self.order:  # worst first: move cards only when the order changed
            for index, account_id in enumerate(ids):
                self.cards[account_id][0].move(self.grid, target_index=index)
            self.order = ids

    def _card(self, a: AccountGuardState) -> None:
        with self.grid:
            # The link sits beside the card, not in it: a link inside a link is not operable.
            place = ui.column().classes("w-64 max-sm:w-full gap-1")
        with place:
            card = ui.card().classes("w-full gap-0 cursor-pointer")
            target = url_with("/guards", {"account": str(a.account_id)}, self.live.at)
            # A link for keyboards and screen readers too: focusable, opened with Enter.
            card.props("tabindex=0 role=link")  # its text (name, login, level) is its name
            card.on("click", lambda _, t=target: ui.navigate.to(t))
            card.on("keydown.enter", lambda _, t=target: ui.navigate.to(t))
            card.mark(f"wall-{a.account_id}")
            with card:
                ui.label(f"{a.name} ({a.broker_login})").classes("font-medium")
                gauge = Gauge(f"wall-gauge-{a.account_id}")
                line = ui.label().classes("text-xs").mark(f"wall-line-{a.account_id}")
            if self.live.at is None:
                link = ui.link("Limits and room", account_path(a.account_id)).classes(
                    f"text-xs px-1 {LINK_COLORS}"
                )
                link.props["aria-label"] = f"Limits and room of {a.name} ({a.broker_login})"
                link.mark(f"wall-account-{a.account_id}")
        self.cards[a.account_id] = (place, gauge, line)
