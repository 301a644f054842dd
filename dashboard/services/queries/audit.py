"""Read model (e): the audit trail (who did what, when, from where), newest first, a keyset page
at a time, for risk and admin only.

Every write that changes the dashboard's state leaves an `audit_log` row (logins, lock-outs,
users, tokens, acknowledgements, alert channels and rules). The trail grows for the life of the
installation, so it is only ever read a page at a time (see `queries.cursor`), on the
`(created_at)` index, `(actor_user_id, created_at)` when narrowed to one person or
`(account_id, created_at)` to one account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from dashboard.db.models import AuditLog, User
from dashboard.db.session import Database
from dashboard.schemas.audit import AuditEntry, AuditPage
from dashboard.services.errors import Forbidden, InvalidInput
from dashboard.services.queries import check_limit, require_aware, resolve_now
from dashboard.services.queries.cursor import decode_cursor, next_cursor, older_than
from dashboard.services.viewer import Viewer

MAX_PAGE = 500
#: Longest filter text accepted (an e-mail address, an action, a target such as `rule:12`).
MAX_FILTER = 254


def _text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_FILTER:
        raise InvalidInput(f"{field} must be at most {MAX_FILTER} characters", field=field)
    return value.strip()


async def audit_trail(
    db: Database,
    viewer: Viewer,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    account_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> AuditPage:
    """Entries in `[since, until)`, filtered by the actor's e-mail (exact, case-insensitive), the
    action (exact), the target (exact, e.g. `guard_event:12`, or a user's address) and the trading
    account concerned (its limits, HWM, incidents, guard events and alerts).

    `Forbidden` for traders: the trail names other people's actions and addresses."""
    as_of = resolve_now(now)
    if not viewer.sees_all:
        raise Forbidden("the audit trail is for risk and admin users")
    check_limit(limit, "limit", MAX_PAGE)
    after = decode_cursor(cursor)
    actor_email = _text(actor, "actor")
    stmt = select(
        AuditLog.id,
        AuditLog.created_at,
        AuditLog.actor_user_id,
        AuditLog.account_id,
        User.email.label("actor_email"),
        AuditLog.action,
        AuditLog.target,
        AuditLog.client_addr,
        AuditLog.detail,
    ).outerjoin(User, User.id == AuditLog.actor_user_id)
    if actor_email is not None:
        stmt = stmt.where(func.lower(User.email) == actor_email.lower())
    if (action_text := _text(action, "action")) is not None:
        stmt = stmt.where(AuditLog.action == action_text)
    if (target_text := _text(target, "target")) is not None:
        stmt = stmt.where(AuditLog.target == target_text)
    if account_id is not None:
        stmt = stmt.where(AuditLog.account_id == account_id)
    if since is not None:
        stmt = stmt.where(AuditLog.created_at >= require_aware(since, "since"))
    if until is not None:
        stmt = stmt.where(AuditLog.created_at < require_aware(until, "until"))
    if after is not None:
        stmt = stmt.where(older_than(AuditLog.created_at, AuditLog.id, after))
    stmt = stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit + 1)
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    return AuditPage(
        entries=[AuditEntry.model_validate(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, "created_at"),
        as_of=as_of,
    )
