"""Login throttling, counted over the audit log: failures per account and per client address.

Why the audit log: every failure is audited anyway, so the throttle needs no state of its own and
holds across processes. The check runs before the password hash, so a locked-out guesser costs one
indexed count, not 100 ms of argon2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from dashboard.db.models import AuditLog
from dashboard.db.session import Database
from dashboard.services.audit import AuditAction


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)


async def retry_after(
    db: Database, policy: LoginPolicy, email: str, client_addr: str | None, now: datetime
) -> int | None:
    """Seconds until the next attempt may succeed, or None when not throttled.

    An account's failures count only since its last successful login; an address's count over the
    whole window (one address guessing many accounts).
    """
    since = now - policy.window
    async with db.read_session() as session:
        last_success = (
            await session.execute(
                select(func.max(AuditLog.created_at)).where(
                    AuditLog.action == AuditAction.LOGIN.value,
                    AuditLog.target == email,
                    AuditLog.created_at >= since,
                )
            )
        ).scalar_one_or_none()
        checks: list[tuple[ColumnElement[bool], datetime, int]] = [
            (AuditLog.target == email, max(since, last_success or since), policy.max_failures_per_account)
        ]
        if client_addr:
            checks.append((AuditLog.client_addr == client_addr, since, policy.max_failures_per_address))
        waits = []
        for condition, start, limit in checks:
            recent = (
                (
                    await session.execute(
                        select(AuditLog.created_at)
                        .where(
                            AuditLog.action == AuditAction.LOGIN_FAILED.value,
                            condition,
                            AuditLog.created_at > start,
                        )
                        .order_by(AuditLog.created_at.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            if len(recent) >= limit:
                waits.append(int((recent[-1] + policy.window - now).total_seconds()) + 1)
    return max(waits) if waits else None
