"""Read models of the admin page: users with their active sessions and last login, the stored
service tokens, and one user's sessions. Admins only (`Forbidden` for everybody else).

There is no session table: a session is a token, and tokens are not stored. What counts as an
active session, derived from what is stored:

- a successful login (an audit `login` row: `detail.via` is `browser` for the login form, absent
  for an API login),
- whose lifetime has not passed: a browser session lives `browser_ttl` (the cookie's lifetime,
  `DASHBOARD_WEB_SESSION_TTL_S`); an API login lives while its refresh-token family does (its
  newest, unspent refresh token has not expired: rotation moves that forward, so an API session
  may outlive `DASHBOARD_REFRESH_TOKEN_TTL_S` counted from the login),
- and that no session-ending event of its user followed (logout, sessions ended by an admin,
  disable or enable, role or password change, a reused refresh token: each bumped the user's
  session version, which revokes every token issued before it). The moment of the last such event
  comes from the audit log, where each of them is recorded with the user's address as target.

An API login is tied to its refresh-token family by its moment: the family's first token is
issued in the login's second (tokens keep whole seconds), and logins of one user in the same
second pair with that second's families in order (they are indistinguishable anyway).

Service tokens are not sessions: they are listed on their own (`service_tokens`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dashboard.db.models import AuditLog, RefreshToken, ServiceToken, User
from dashboard.db.session import Database
from dashboard.schemas.people import (
    ServiceTokenList,
    ServiceTokenView,
    SessionVia,
    SessionView,
    UserList,
    UserRow,
    UserSessions,
)
from dashboard.services.audit import AuditAction
from dashboard.services.errors import NotFound
from dashboard.services.queries import resolve_now
from dashboard.services.service_tokens import view_of
from dashboard.services.users import normalise_email, require_admin
from dashboard.services.viewer import Viewer

#: Every audit action that bumped the user's session version (and so ended all their sessions).
SESSION_ENDING = tuple(
    action.value
    for action in (
        AuditAction.LOGOUT,
        AuditAction.SESSIONS_ENDED,
        AuditAction.USER_DISABLED,
        AuditAction.USER_ENABLED,
        AuditAction.ROLE_CHANGED,
        AuditAction.PASSWORD_SET,
        AuditAction.REFRESH_REUSED,
    )
)
#: Newest service tokens listed (revoked and expired ones included).
MAX_TOKENS = 500
#: The audit log's `target` column is this long; a longer address is stored cut.
_TARGET_LENGTH = 128


def _target(email: str) -> str:
    return email[:_TARGET_LENGTH]


async def users_overview(
    db: Database, viewer: Viewer, browser_ttl: timedelta, *, now: datetime | None = None
) -> UserList:
    """Every user with the number of active sessions and their last login (time and address)."""
    require_admin(viewer)
    as_of = resolve_now(now)
    last = aliased(AuditLog)
    last_login = (
        select(AuditLog.id)
        .where(AuditLog.actor_user_id == User.id, AuditLog.action == AuditAction.LOGIN.value)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    stmt = (
        select(User, last.created_at, last.client_addr)
        .outerjoin(last, last.id == last_login)
        .order_by(User.id)
    )
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
        sessions = await _sessions(session, None, browser_ttl, as_of)
    users = [
        UserRow(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            is_active=user.is_active,
            is_demo=user.is_demo,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
            active_sessions=len(sessions.get(user.id, [])),
            last_login_at=login_at,
            last_login_addr=login_addr,
        )
        for user, login_at, login_addr in rows
    ]
    return UserList(users=users, as_of=as_of)


async def user_sessions(
    db: Database, viewer: Viewer, user_id: int, browser_ttl: timedelta, *, now: datetime | None = None
) -> UserSessions:
    """One user's active sessions, newest first. `NotFound` when there is no such user."""
    require_admin(viewer)
    as_of = resolve_now(now)
    async with db.read_session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        ends = await _last_ends(session, [user.email])
        sessions = await _sessions(session, user, browser_ttl, as_of, ends)
    return UserSessions(
        user_id=user.id,
        email=user.email,
        sessions=sessions.get(user.id, []),
        last_ended_at=ends.get(_target(user.email)),
        as_of=as_of,
    )


async def service_tokens(
    db: Database, viewer: Viewer | None, *, email: str | None = None, now: datetime | None = None
) -> ServiceTokenList:
    """Stored service tokens, newest first (at most `MAX_TOKENS`), of one user when `email` is
    given; active, expired, revoked, or ended by their user's sessions being ended. `viewer`
    None: the operator at the shell (`users tokens`)."""
    require_admin(viewer)
    as_of = resolve_now(now)
    owner, issuer, revoker = aliased(User), aliased(User), aliased(User)
    stmt = (
        select(ServiceToken, owner.email, issuer.email, revoker.email)
        .join(owner, owner.id == ServiceToken.user_id)
        .outerjoin(issuer, issuer.id == ServiceToken.created_by)
        .outerjoin(revoker, revoker.id == ServiceToken.revoked_by)
        .order_by(ServiceToken.created_at.desc(), ServiceToken.jti)
        .limit(MAX_TOKENS)
    )
    if email is not None:
        stmt = stmt.where(owner.email == normalise_email(email))
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
        ends = await _last_ends(session, sorted({user_email for _, user_email, _, _ in rows}))
    tokens: list[ServiceTokenView] = []
    for row, user_email, created_by, revoked_by in rows:
        emails = {i: e for i, e in ((row.created_by, created_by), (row.revoked_by, revoked_by)) if i and e}
        tokens.append(view_of(row, user_email, emails, as_of, ends.get(_target(user_email))))
    return ServiceTokenList(tokens=tokens, as_of=as_of)


# ---- sessions, derived -----------------------------------------------------------------------


async def _last_ends(session: AsyncSession, emails: Iterable[str] | None) -> dict[str, datetime]:
    """When each user's sessions were last ended, by audit target (the user's address); every
    user's when `emails` is None."""
    stmt = (
        select(AuditLog.target, func.max(AuditLog.created_at))
        .where(AuditLog.action.in_(SESSION_ENDING), AuditLog.target.is_not(None))
        .group_by(AuditLog.target)
    )
    if emails is not None:
        targets = sorted({_target(e) for e in emails})
        if not targets:
            return {}
        stmt = stmt.where(AuditLog.target.in_(targets))
    return {target: moment for target, moment in await session.execute(stmt) if target}


async def _sessions(
    session: AsyncSession,
    user: User | None,
    browser_ttl: timedelta,
    now: datetime,
    ends: dict[str, datetime] | None = None,
) -> dict[int, list[SessionView]]:
    """Active sessions by user id (of `user` alone, or of everybody), newest first."""
    families = await _live_families(session, user, now)
    horizon = now - browser_ttl
    if families:
        horizon = min(horizon, min(second for _, second in families))
    logins = select(AuditLog.actor_user_id, AuditLog.created_at, AuditLog.client_addr, AuditLog.detail).where(
        AuditLog.action == AuditAction.LOGIN.value,
        AuditLog.actor_user_id.is_not(None),
        AuditLog.created_at >= horizon,
    )
    if user is not None:
        logins = logins.where(AuditLog.actor_user_id == user.id)
    rows = (await session.execute(logins.order_by(AuditLog.created_at, AuditLog.id))).all()
    if ends is None:
        emails = await _emails(session, {row.actor_user_id for row in rows})
        ends = await _last_ends(session, emails.values())
    else:
        emails = {user.id: user.email} if user is not None else {}
    found: dict[int, list[SessionView]] = defaultdict(list)
    for user_id, started, addr, via, expires in _pair(rows, families, browser_ttl):
        ended = ends.get(_target(emails.get(user_id, "")))
        if expires > now and (ended is None or started > ended):
            found[user_id].append(
                SessionView(via=via, started_at=started, expires_at=expires, client_addr=addr)
            )
    return {
        user_id: sorted(views, key=lambda v: v.started_at, reverse=True) for user_id, views in found.items()
    }


async def _live_families(
    session: AsyncSession, user: User | None, now: datetime
) -> dict[tuple[int, datetime], list[datetime]]:
    """Refresh-token families that can still be refreshed (their newest token is unspent and
    unexpired), by (user, the second of their first token): how late each ends, latest first."""
    tips = select(RefreshToken.family).where(RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
    if user is not None:
        tips = tips.where(RefreshToken.user_id == user.id)
    stmt = (
        select(
            RefreshToken.user_id,
            func.min(RefreshToken.issued_at),
            func.max(RefreshToken.expires_at),
        )
        .where(RefreshToken.family.in_(tips))
        .group_by(RefreshToken.user_id, RefreshToken.family)
    )
    families: dict[tuple[int, datetime], list[datetime]] = defaultdict(list)
    for user_id, first, expires in await session.execute(stmt):
        families[(user_id, first.replace(microsecond=0))].append(expires)
    for ends in families.values():
        ends.sort(reverse=True)
    return families


def _pair(
    rows: Iterable[Any], families: dict[tuple[int, datetime], list[datetime]], browser_ttl: timedelta
) -> Iterable[tuple[int, datetime, str | None, SessionVia, datetime]]:
    """(user, started, address, via, expires) of each login: a browser login ends `browser_ttl`
    after it, an API login with its refresh-token family (one that has none left has ended)."""
    taken: dict[tuple[int, datetime], int] = defaultdict(int)
    for user_id, started, addr, detail in rows:
        via = (detail or {}).get("via") if isinstance(detail, dict) else None
        if via == SessionVia.BROWSER.value:
            yield user_id, started, addr, SessionVia.BROWSER, started + browser_ttl
            continue
        key = (user_id, started.replace(microsecond=0))
        candidates = families.get(key, [])
        index = taken[key]
        taken[key] += 1
        if index < len(candidates):
            yield user_id, started, addr, SessionVia.API, candidates[index]


async def _emails(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {user_id: email for user_id, email in rows}
