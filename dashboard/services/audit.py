"""The audit log: who did what, when, from where. Written in the caller's transaction, so an
action and its audit entry commit (or roll back) together."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AuditLog
from dashboard.db.session import Database


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGOUT = "logout"
    REFRESH = "token_refreshed"
    REFRESH_REUSED = "refresh_token_reused"
    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    ROLE_CHANGED = "role_changed"
    PASSWORD_SET = "password_set"
    SERVICE_TOKEN_ISSUED = "service_token_issued"
    GUARD_EVENT_ACKNOWLEDGED = "guard_event_acknowledged"
    ALERT_CHANNEL_ADDED = "alert_channel_added"
    ALERT_CHANNEL_REMOVED = "alert_channel_removed"
    ALERT_RULE_ADDED = "alert_rule_added"
    ALERT_RULE_REMOVED = "alert_rule_removed"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    SESSIONS_ENDED = "sessions_ended"
    SERVICE_TOKEN_REVOKED = "service_token_revoked"
    INCIDENT_ACKNOWLEDGED = "incident_acknowledged"
    INCIDENT_ASSIGNED = "incident_assigned"
    INCIDENT_COMMENTED = "incident_commented"
    INCIDENT_RESOLVED = "incident_resolved"
    INCIDENT_REOPENED = "incident_reopened"
    LIMITS_CHANGED = "limits_changed"
    HWM_RESET = "hwm_reset"


async def record(
    db: Database,
    action: AuditAction,
    *,
    actor_user_id: int | None = None,
    target: str | None = None,
    client_addr: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """An audit entry that is a write of its own (a login, a failed login, a lock-out)."""
    async with db.session() as session:
        audit(
            session,
            action,
            actor_user_id=actor_user_id,
            target=target,
            client_addr=client_addr,
            detail=detail,
            now=now,
        )


def audit(
    session: AsyncSession,
    action: AuditAction,
    *,
    actor_user_id: int | None = None,
    target: str | None = None,
    client_addr: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        AuditLog(
            created_at=now or datetime.now(UTC),
            actor_user_id=actor_user_id,
            action=action.value,
            target=target[:128] if target else None,
            client_addr=client_addr[:64] if client_addr else None,
            detail=detail,
        )
    )
