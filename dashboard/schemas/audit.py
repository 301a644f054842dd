"""Read model (e): the audit trail, for the risk and admin users' audit page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.schemas.common import ReadModel


class AuditEntry(ReadModel):
    id: int
    created_at: datetime
    #: Who did it (None for the system or an anonymous attempt, such as a failed login).
    actor_user_id: int | None
    actor_email: str | None
    #: The trading account concerned, if any.
    account_id: int | None = None
    action: str
    target: str | None
    client_addr: str | None
    detail: dict[str, Any] | None


class AuditPage(ReadModel):
    """One page of the trail, newest first; `next_cursor` continues it."""

    entries: list[AuditEntry]
    next_cursor: str | None
    as_of: datetime
