"""`/positions`: open positions with filters, totals, coloured P&L, a detail per row and CSV export;
below them the closed positions, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping

from components.accounts import AccountLabel, account_labels
from components.closed_positions import ClosedPositionsPanel
from components.live import LivePage
from components.page import live_page
from components.positions import PositionsPanel


@live_page("/positions", "Open positions")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    no_labels: dict[int, AccountLabel] = {}
    labels = await live.initial(lambda: account_labels(live), no_labels)
    PositionsPanel(live, labels)
    ClosedPositionsPanel(live, labels)
