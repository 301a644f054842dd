"""Read model (d): alerts, their deliveries per channel and each delivery's attempts."""

from __future__ import annotations

from datetime import datetime

from dashboard.domain.enums import AlertKind, AlertState, DeliveryStatus, Level
from dashboard.schemas.common import ReadModel


class DeliveryAttemptView(ReadModel):
    at: datetime
    ok: bool
    error: str | None


class AlertDeliveryView(ReadModel):
    channel: str
    status: DeliveryStatus
    escalation: bool
    deferred: bool
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    history: list[DeliveryAttemptView]


class AlertView(ReadModel):
    id: int
    key: str
    kind: AlertKind
    state: AlertState
    level: Level
    account_id: int | None
    user_id: int | None
    title: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    #: What a person wants to know first: pending, sent, failed, suppressed, acknowledged or resolved.
    status: str
    #: A raise that no recovery of its key has followed yet.
    open: bool
    deliveries: list[AlertDeliveryView]


class AlertList(ReadModel):
    alerts: list[AlertView]
    as_of: datetime
