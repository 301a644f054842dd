"""`/positions`: open positions with filters, totals, coloured P&L, a detail per row and CSV export."""

from __future__ import annotations

from collections.abc import Mapping

from components.accounts import account_labels
from components.live import LivePage
from components.page import live_page
from components.positions import PositionsPanel


@live_page("/positions", "Open positions")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    PositionsPanel(live, await live.initial(lambda: account_labels(live), {}))
