"""`/reconciliation`: status cards and the last sync events, the divergence timeline, the open
incidents."""

from __future__ import annotations

from collections.abc import Mapping

from components.live import LivePage
from components.page import live_page
from components.reconciliation import IncidentsPanel, StatusPanel, TimelinePanel


@live_page("/reconciliation", "Reconciliation")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    StatusPanel(live)
    TimelinePanel(live)
    IncidentsPanel(live)
