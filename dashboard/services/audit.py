"""The audit log: who did what, when, from where. Written in the caller's transaction, so an
action and its audit entry commit (or roll back) together."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AuditLog
from dashboard.db.session import Database

#: The target of an action on a trading account itself (its limits, its HWM): `account:{id}`.
ACCOUNT_TARGET = "account:"


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


def account_of(target: str | None, detail: dict[str, Any] | None) -> int | None:
    """The trading account an entry concerns: its target (`account:12`) or its detail's
    `account_id`, so no caller can forget to name it for the audit page's account filter."""
    if target is not None and target.startswith(ACCOUNT_TARGET):
        number = target.removeprefix(ACCOUNT_TARGET)
        if number.isdigit():
            return int(number)
    value = (detail or {}).get("account_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
            account_id=account_of(target, detail),
            action=action.value,
            target=target[:128] if target else None,
            client_addr=client_addr[:64] if client_addr else None,
            detail=detail,
        )
    )
