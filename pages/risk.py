"""`/risk` (risk and admin only): every account's drawdown gauge, worst first."""

from __future__ import annotations

from collections.abc import Mapping

from components.live import LivePage
from components.page import live_page
from components.risk_wall import RiskWallPanel


@live_page("/risk", "Risk wall", wide_only=True, as_of=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    RiskWallPanel(live)
