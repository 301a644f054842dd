"""`/reconciliation`: status cards and the last sync events, the divergence timeline, the open
incidents as work items (state, assignee, detail with comments; risk and admin acknowledge, assign
and resolve, one or a selection at once), their ages and time to resolve, and the paged incident
history and sync events.

As it was at `?at=`: the status, the timeline ending then, the incidents and the positions open
then. The paged history and sync events are left out of the past view: they are lists of
everything, newest first, that page from now backwards, so beside a past moment they would show
rows that had not happened yet; the page says so and where to find them (live)."""

from __future__ import annotations

from collections.abc import Mapping

from nicegui import ui

from components.accounts import AccountLabel, account_labels
from components.cards import MUTED
from components.incident_stats import IncidentStatsPanel
from components.incident_work import IncidentDetailPanel
from components.live import LivePage
from components.page import live_page
from components.positions_at import PositionsAtPanel
from components.reconciliation import IncidentsPanel, StatusPanel, TimelinePanel
from components.reconciliation_history import IncidentHistoryPanel, SyncEventsPanel


@live_page("/reconciliation", "Reconciliation", as_of=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    no_labels: dict[int, AccountLabel] = {}
    labels = await live.initial(lambda: account_labels(live), no_labels)
    StatusPanel(live)
    TimelinePanel(live)
    if live.at is None:
        detail = IncidentDetailPanel(live, labels)
        IncidentsPanel(live, detail)
        detail.listeners.append(IncidentStatsPanel(live))
        IncidentHistoryPanel(live, labels, detail)
        SyncEventsPanel(live, labels)
        return
    IncidentsPanel(live)
    PositionsAtPanel(live)
    ui.label(
        "The incident history and the sync events list everything up to now; they are on the live page."
    ).classes(f"text-sm {MUTED}").mark("history-live-only")
