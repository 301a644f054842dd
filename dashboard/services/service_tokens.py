"""Service tokens as stored: issuing one (the row, never the token) and revoking it.

A service token is a long-lived access token for a bridge (a user with role `service`). The
token itself is signed by `dashboard.auth`, shown once and never stored; what is kept is its `jti`,
name, lifetime, who issued it and who revoked it, so the admin page can list tokens and revoke one
without touching the others. A revoked token that has not expired yet is listed in its user's
session state (`users.SessionState.revoked_tokens`), and revoking drops that state in every
process, so the very next request with it is refused everywhere.

Tokens issued before tokens were stored have no row: they cannot be listed or revoked one by one,
and keep working until they expire or their user's sessions are ended (which ends every token of
the user, stored or not).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import ServiceToken, User
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.schemas.common import printable
from dashboard.schemas.people import (
    TOKEN_DAYS_MAX,
    TOKEN_DAYS_MIN,
    TOKEN_NAME_MAX,
    ServiceTokenView,
    TokenState,
)
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, InvalidInput, NotFound
from dashboard.services.touched import Family, Touched
from dashboard.services.users import (
    Credentials,
    as_credentials,
    find_user,
    require_admin,
    session_touched,
)
from dashboard.services.viewer import Viewer

T = TypeVar("T")

#: The shortest `jti` prefix that names a token (the CLI and the API accept a unique prefix).
MIN_PREFIX = 8
_JTI = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


@dataclass(frozen=True)
class Signed(Generic[T]):
    """What the signer made: the token (whatever type `dashboard.auth` uses) and the claims kept."""

    token: T
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenIssued(Generic[T]):
    """The signed token (to be shown once) and its stored row."""

    signed: Signed[T]
    view: ServiceTokenView
    touched: Touched


@dataclass(frozen=True)
class TokenRevoked:
    view: ServiceTokenView
    touched: Touched


def target(jti: str) -> str:
    """The audit target of a token: its `jti` (an identifier, not a credential)."""
    return f"service_token:{jti}"


def token_name(name: str) -> str:
    value = name.strip()
    if not value:
        raise InvalidInput("name: required (what the token is for)", field="name")
    if len(value) > TOKEN_NAME_MAX or not printable(value) or "\n" in value or "\t" in value:
        raise InvalidInput(f"name: one line of at most {TOKEN_NAME_MAX} characters", field="name")
    return value


def check_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not TOKEN_DAYS_MIN <= days <= TOKEN_DAYS_MAX:
        raise InvalidInput(f"days: must be between {TOKEN_DAYS_MIN} and {TOKEN_DAYS_MAX}", field="days")
    return days


def view_of(
    row: ServiceToken,
    user_email: str,
    emails: dict[int, str],
    now: datetime,
    ended_at: datetime | None = None,
) -> ServiceTokenView:
    """A stored token as listed: `emails` names the issuer and revoker; `ended_at` is the last time
    its user's sessions were ended (a token issued before then no longer works)."""
    if row.revoked_at is not None:
        state = TokenState.REVOKED
    elif row.expires_at <= now:
        state = TokenState.EXPIRED
    elif ended_at is not None and ended_at > row.created_at:
        state = TokenState.ENDED
    else:
        state = TokenState.ACTIVE
    return ServiceTokenView(
        jti=row.jti,
        name=row.name,
        user_id=row.user_id,
        user_email=user_email,
        created_at=row.created_at,
        created_by_email=emails.get(row.created_by) if row.created_by is not None else None,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by_email=emails.get(row.revoked_by) if row.revoked_by is not None else None,
        state=state,
    )


async def issue(
    db: Database,
    actor: Viewer | None,
    email: str,
    name: str,
    days: int,
    sign: Callable[[Credentials, datetime, timedelta], Signed[T]],
    client_addr: str | None = None,
) -> TokenIssued[T]:
    """Issue a token for the active service user `email`, valid `days` (1-365): `sign(user, now,
    lifetime)` signs it (with the user's current session version) in the same transaction that
    stores its row and its audit entry, so a token is never handed out without its row."""
    require_admin(actor)
    label = token_name(name)
    lifetime = timedelta(days=check_days(days))
    now = datetime.now(UTC)
    async with db.session() as session:
        user = await find_user(session, email)
        if user.role is not Role.SERVICE or not user.is_active:
            raise InvalidInput(
                "email: service tokens are for active users with role 'service'", field="email"
            )
        signed = sign(as_credentials(user), now, lifetime)
        row = ServiceToken(
            jti=signed.jti,
            user_id=user.id,
            name=label,
            created_by=actor.user_id if actor is not None else None,
            created_at=now,
            expires_at=signed.expires_at,
        )
        session.add(row)
        audit(
            session,
            AuditAction.SERVICE_TOKEN_ISSUED,
            actor_user_id=actor.user_id if actor is not None else None,
            target=target(signed.jti),
            client_addr=client_addr,
            detail={"user": user.email, "name": label, "expires_at": signed.expires_at.isoformat()},
            now=now,
        )
        emails = await _emails(session, {row.created_by})
        view = view_of(row, user.email, emails, now)
    return TokenIssued(signed, view, Touched().everyone(Family.PEOPLE))


async def revoke(
    db: Database, actor: Viewer | None, jti: str, client_addr: str | None = None
) -> TokenRevoked:
    """Revoke one token by its `jti` or a unique prefix of at least 8 characters. The other tokens
    of its user keep working; this one is refused from the next request on, in every process
    (its user's session state is dropped everywhere). Revoking twice is a `Conflict`."""
    require_admin(actor)
    now = datetime.now(UTC)
    async with db.session() as session:
        row = await _by_jti(session, jti)
        if row.revoked_at is not None:
            raise Conflict(f"service token {row.jti} was revoked already")
        row.revoked_at = now
        row.revoked_by = actor.user_id if actor is not None else None
        user = await session.get(User, row.user_id)
        assert user is not None  # a foreign key
        audit(
            session,
            AuditAction.SERVICE_TOKEN_REVOKED,
            actor_user_id=row.revoked_by,
            target=target(row.jti),
            client_addr=client_addr,
            detail={"user": user.email, "name": row.name},
            now=now,
        )
        emails = await _emails(session, {row.created_by, row.revoked_by})
        view = view_of(row, user.email, emails, now)
    return TokenRevoked(view, session_touched(row.user_id))


async def _by_jti(session: AsyncSession, jti: str) -> ServiceToken:
    text = jti.strip()
    if len(text) < MIN_PREFIX or not _JTI.match(text):
        raise InvalidInput(
            f"jti: give the token's id or at least its first {MIN_PREFIX} characters", field="jti"
        )
    row = (
        await session.execute(select(ServiceToken).where(ServiceToken.jti == text).with_for_update())
    ).scalar_one_or_none()
    if row is not None:
        return row
    # A prefix, compared exactly (SQLite's LIKE ignores case, and ids are case-sensitive); the
    # table holds a handful of tokens per bridge, a scan is nothing.
    found = list(
        (
            await session.execute(
                select(ServiceToken.jti).where(func.substr(ServiceToken.jti, 1, len(text)) == text).limit(2)
            )
        ).scalars()
    )
    if not found:
        raise NotFound(f"no service token {text!r}")
    if len(found) > 1:
        raise InvalidInput(f"jti: {text!r} names more than one token; give more characters", field="jti")
    locked = (
        await session.execute(select(ServiceToken).where(ServiceToken.jti == found[0]).with_for_update())
    ).scalar_one()
    return locked


async def _emails(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(wanted)))
    return {user_id: email for user_id, email in rows}
