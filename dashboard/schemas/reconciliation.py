"""Read model (a): reconciliation status and the divergence timeline."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import computed_field

from dashboard.domain.enums import (
    DivergenceKind,
    Health,
    IncidentState,
    Resolution,
    Severity,
    SyncEventType,
    SyncStatus,
)
from dashboard.domain.reconciliation import incident_state
from dashboard.schemas.common import ReadModel


class SyncEvent(ReadModel):
    id: int
    account_id: int
    created_at: datetime
    event_type: SyncEventType
    status: SyncStatus
    duration_ms: int
    broker_positions: int
    local_positions: int
    matched_positions: int
    divergences: int
    auto_resolved: int
    error: str | None


class ReconciliationStatus(ReadModel):
    """The seed's schema (user_id, total_syncs, open_positions_count, divergences_detected,
    recent_events) plus health. `user_id` is None for the all-accounts view of risk and admin."""

    user_id: int | None
    total_syncs: int
    failed_syncs: int
    open_positions_count: int
    divergences_detected: int
    open_incidents: int
    open_critical_incidents: int
    last_sync_at: datetime | None
    last_sync_status: SyncStatus | None
    health: Health
    recent_events: list[SyncEvent]
    as_of: datetime


class DivergenceIncidentView(ReadModel):
    id: int
    account_id: int
    position_id: int | None
    broker_position_id: int
    symbol: str
    kind: DivergenceKind
    severity: Severity
    local_value: str | None
    broker_value: str | None
    action: Resolution
    resolution: Resolution
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int
    escalated_at: datetime | None
    resolved_at: datetime | None
    # The incident as a work item (all stored columns, so every read of incidents has them).
    acknowledged_at: datetime | None = None
    assignee_user_id: int | None = None
    #: How often the sync reopened it after a person had resolved it.
    reopen_count: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> IncidentState:
        """open, acknowledged or resolved: derived from `resolution` and `acknowledged_at`."""
        return incident_state(self.resolution, self.acknowledged_at)


class IncidentListItem(DivergenceIncidentView):
    """An incident in the lists people work from (open incidents, incident history): with its
    assignee's e-mail. A read that does not join the users (the past view) leaves it None."""

    assignee: str | None = None


class DivergenceTimeline(ReadModel):
    READ_MOMENTS: ClassVar[frozenset[str]] = frozenset({"as_of", "since", "until"})
    since: datetime
    until: datetime
    account_id: int | None
    incidents: list[DivergenceIncidentView]
    truncated: bool
    as_of: datetime


class DivergenceCount(ReadModel):
    #: Start of the bucket (bucket_s seconds long, aligned to the epoch).
    at: datetime
    kind: DivergenceKind
    severity: Severity
    count: int


class DivergenceCounts(ReadModel):
    """Incidents first seen in a window, counted by bucket, kind and severity: the fleet's timeline
    without shipping every incident (a week of 100 accounts is ~30,000)."""

    READ_MOMENTS: ClassVar[frozenset[str]] = frozenset({"as_of", "since", "until"})
    since: datetime
    until: datetime
    account_id: int | None
    bucket_s: int
    counts: list[DivergenceCount]
    total: int
    as_of: datetime


class OpenIncidents(ReadModel):
    incidents: list[IncidentListItem]
    as_of: datetime


class IncidentPage(ReadModel):
    """One page of the incident history (any resolution), newest first; `next_cursor` continues it."""

    incidents: list[IncidentListItem]
    next_cursor: str | None
    as_of: datetime


class SyncEventPage(ReadModel):
    """One page of the sync events, newest first; `next_cursor` continues it."""

    events: list[SyncEvent]
    next_cursor: str | None
    as_of: datetime
