"""Home: a live overview of the demo fleet until the real pages and the login arrive.

In demo mode it shows every account's drawdown and the reconciliation counters, refreshed every few
seconds, so a new user sees the seeded data move. Outside demo mode nothing is shown before login
exists (issue: authentication), so no data is ever served unauthenticated.
"""

from __future__ import annotations

import logging

from nicegui import app, ui

from components.frame import frame
from dashboard.domain.enums import Role
from dashboard.services.viewer import Viewer
from dashboard.settings import Environment, Settings

log = logging.getLogger(__name__)

REFRESH_S = 3.0
# The demo overview reads as a risk user would (all accounts); there is no login yet.
DEMO_VIEWER = Viewer(user_id=0, role=Role.RISK)


COLUMNS = [
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "equity", "label": "Equity", "field": "equity"},
    {"name": "hwm", "label": "HWM", "field": "hwm"},
    {"name": "dd", "label": "Drawdown %", "field": "dd", "sortable": True},
    {"name": "level", "label": "Level", "field": "level"},
    {"name": "daily", "label": "Daily loss %", "field": "daily"},
    {"name": "open", "label": "Open positions", "field": "open"},
]


def register(settings: Settings) -> None:
    demo = settings.env is Environment.DEMO

    @ui.page("/")
    async def home() -> None:
        with frame("Overview", demo=demo):
            if not demo:
                ui.label("Sign-in is required; the live pages are not available yet.")
                return
            await _overview()


async def _overview() -> None:
    with ui.row().classes("gap-4 flex-wrap"):
        syncs = _card("Total syncs", "total-syncs")
        divergences = _card("Divergences detected", "divergences")
        open_positions = _card("Open positions", "open-positions")
        health = _card("Reconciliation health", "health")
    table = ui.table(columns=COLUMNS, rows=[], row_key="account").classes("w-full").mark("risk-wall")
    as_of = ui.label().classes("text-xs opacity-60").mark("as-of")

    async def refresh() -> None:
        runtime = app.state.runtime
        try:
            status = (await runtime.queries.reconciliation_status(DEMO_VIEWER)).model
            wall = (await runtime.queries.risk_wall(DEMO_VIEWER)).model
        except Exception:  # the page stays up; the next tick retries
            log.warning("overview refresh failed", exc_info=True)
            as_of.text = "data temporarily unavailable; retrying"
            return
        syncs.text = f"{status.total_syncs:,}"
        divergences.text = f"{status.divergences_detected:,}"
        open_positions.text = f"{status.open_positions_count:,}"
        health.text = status.health.value
        table.rows = [
            {
                "account": f"{a.name} ({a.broker_login})",
                "equity": f"{a.equity:,.2f}" if a.equity is not None else "-",
                "hwm": f"{a.hwm:,.2f}" if a.hwm is not None else "-",
                "dd": f"{a.drawdown_pct:.2f}",
                "level": a.dd_level.value,
                "daily": f"{a.daily_loss_pct:.2f}",
                "open": a.open_positions,
            }
            for a in wall.accounts
        ]
        table.update()
        as_of.text = f"as of {wall.as_of:%Y-%m-%d %H:%M:%S} UTC"

    await refresh()
    ui.timer(REFRESH_S, refresh)


def _card(title: str, marker: str) -> ui.label:
    with ui.card().classes("min-w-40"):
        ui.label(title).classes("text-xs uppercase opacity-60")
        return ui.label("-").classes("text-2xl font-semibold").mark(marker)


__all__ = ["register"]
