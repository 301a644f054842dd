"""`/risk` (risk and admin only): the risk wall, every account's drawdown gauge worst first, with
filters by level and name; a click opens that account's guards."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from nicegui import ui

from components.frame import frame
from components.gauge import Gauge
from components.live import live_page

LEVEL_FILTERS = {"all": "All", "warning": "Warning+", "critical": "Critical"}


def register(demo: bool) -> None:
    @ui.page("/risk")
    async def risk_page(request: Request) -> None:
        live = live_page(request, "/risk")
        queries, viewer = live.runtime.queries, live.principal.viewer
        with frame("Risk wall", live, demo=demo):
            if not live.principal.role.sees_all:
                ui.label("The risk wall is for risk and admin users.").classes("text-lg").mark("forbidden")
                return
            with ui.row().classes("items-center gap-3 w-full flex-wrap"):
                level = ui.toggle(LEVEL_FILTERS, value="all", on_change=lambda: live.act(refresh_now)).mark(
                    "level-filter"
                )
                search = ui.input(
                    placeholder="Filter by account name", on_change=lambda: live.act(refresh_now)
                )
                search.props("dense clearable").classes("w-64").mark("name-filter")
                summary = ui.label().classes("text-sm opacity-70").mark("wall-summary")
            grid = ui.row().classes("w-full gap-3 flex-wrap").mark("wall")
            cards: dict[int, tuple[ui.card, Gauge, ui.label]] = {}
            order: list[int] = []
            live.panel("wall", lambda: refresh())

        async def refresh() -> datetime:
            data = (await queries.risk_wall(viewer)).model
            wall = data.accounts
            wanted = [
                a
                for a in wall
                if (level.value == "all" or a.dd_level.value == "critical" or
                    (level.value == "warning" and a.dd_level.value == "warning"))
                and (not search.value or str(search.value).lower() in a.name.lower())
            ]  # fmt: skip
            counts = {
                name: sum(a.dd_level.value == name for a in wall)
                for name in ("normal", "warning", "critical")
            }
            summary.text = (
                f"{len(wall)} accounts: {counts['critical']} critical, {counts['warning']} warning, "
                f"{counts['normal']} normal"
            )
            for a in wanted:
                if a.account_id not in cards:
                    with grid:
                        card = ui.card().classes("w-64 max-sm:w-full gap-0 cursor-pointer")
                        card.on("click", lambda _, i=a.account_id: ui.navigate.to(f"/guards?account={i}"))
                        card.mark(f"wall-{a.account_id}")
                        with card:
                            ui.label(f"{a.name} ({a.broker_login})").classes("font-medium")
                            gauge = Gauge(f"wall-gauge-{a.account_id}")
                            line = ui.label().classes("text-xs opacity-70")
                    cards[a.account_id] = (card, gauge, line)
                _, gauge, line = cards[a.account_id]
                gauge.show("Drawdown", a.drawdown_pct, a.dd_warning_pct, a.dd_critical_pct, a.dd_level.value)
                text = f"{a.dd_level.value} · daily loss {a.daily_loss_pct:.2f} % · {a.open_positions} open"
                if line.text != text:
                    line.text = text
            ids = [a.account_id for a in wanted]
            for account_id, (card, _, _) in cards.items():
                card.set_visibility(account_id in ids)
            if ids != order:  # worst first: move cards only when the order changed
                for index, account_id in enumerate(ids):
                    cards[account_id][0].move(grid, target_index=index)
                order[:] = ids
            return data.as_of

        async def refresh_now() -> None:
            await refresh()

        live.start()
