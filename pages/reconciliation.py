"""`/reconciliation`: status cards and the last sync events, the divergence timeline, the open
incidents, and the paged incident history and sync events."""

from __future__ import annotations

from collections.abc import Mapping

from components.accounts import AccountLabel, account_labels
from components.live import LivePage
from components.page import live_page
from components.reconciliation import IncidentsPanel, StatusPanel, TimelinePanel
from components.reconciliation_history import IncidentHistoryPanel, SyncEventsPanel


@live_page("/reconciliation", "Reconciliation")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    no_labels: dict[int, AccountLabel] = {}
    labels = await live.initial(lambda: account_labels(live), no_labels)
    StatusPanel(live)
    TimelinePanel(live)
    IncidentsPanel(live)
    IncidentHistoryPanel(live, labels)
    SyncEventsPanel(live, labels)
