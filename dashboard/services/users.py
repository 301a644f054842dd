"""Users as stored: lookups for authentication, the session state every request checks, and the
administration the `users` CLI (and the admin page) performs.

Passwords arrive here already hashed: hashing and the password policy belong to `dashboard.auth`,
which sits above this layer. Every change that affects existing sessions bumps the user's session
version, which revokes all of their tokens at once; each change is audited in its own transaction
and returns what the cache must drop (`Touched`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import User
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.schemas.common import ReadModel
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, InvalidInput, NotFound
from dashboard.services.touched import Family, Touched

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")


class SessionState(ReadModel):
    """What a request needs to know about its user; cached per user (`Family.AUTH`)."""

    user_id: int
    email: str
    display_name: str
    role: Role
    session_version: int
    is_active: bool


@dataclass(frozen=True)
class Credentials:
    """A user as login sees it: who, which hash, and may they log in at all."""

    user_id: int
    email: str
    role: Role
    password_hash: str | None
    session_version: int
    is_active: bool
    is_demo: bool


class UserSummary(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    is_demo: bool
    has_password: bool
    created_at: datetime


@dataclass(frozen=True)
class UserChange:
    """An administered user after the change, and the session state it made stale."""

    user: UserSummary
    touched: Touched


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(f"email: not an e-mail address: {email!r}", field="email")
    return value


def parse_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"role: must be one of {allowed}", field="role") from None


def session_touched(user_id: int) -> Touched:
    """A change of the user's session state: their cached `SessionState` must go, everywhere."""
    return Touched().user(user_id, Family.AUTH)


# ---- what authentication reads ---------------------------------------------------------------


async def session_state(db: Database, user_id: int) -> SessionState:
    """`NotFound` when the user does not exist."""
    async with db.read_session() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    return SessionState(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        session_version=user.session_version,
        is_active=user.is_active,
    )


async def credentials_of(db: Database, email: str) -> Credentials | None:
    """The user with this (normalised) e-mail, or None."""
    async with db.read_session() as session:
        user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    return None if user is None else as_credentials(user)


def as_credentials(user: User) -> Credentials:
    return Credentials(
        user_id=user.id,
        email=user.email,
        role=user.role,
        password_hash=user.password_hash,
        session_version=user.session_version,
        is_active=user.is_active,
        is_demo=user.is_demo,
    )


@dataclass(frozen=True)
class SessionsEnded:
    user_id: int
    touched: Touched


async def end_sessions(
    db: Database, user_id: int, action: AuditAction, client_addr: str | None = None
) -> SessionsEnded:
    """Revoke every token of the user (logout everywhere)."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            return SessionsEnded(user_id, Touched())
        user.session_version += 1
        audit(session, action, actor_user_id=user.id, target=user.email, client_addr=client_addr)
    return SessionsEnded(user_id, session_touched(user_id))


# ---- administration ------------------------------------------------------------------------


async def _by_email(session: AsyncSession, email: str) -> User:
    user = (
        await session.execute(select(User).where(User.email == normalise_email(email)))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


def summary(user: User) -> UserSummary:
    return UserSummary(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        is_active=user.is_active,
        is_demo=user.is_demo,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
    )


async def create_user(
    db: Database, email: str, role: str | Role, password_hash: str, display_name: str | None = None
) -> UserChange:
    address = normalise_email(email)
    role_value = parse_role(role)
    async with db.session() as session:
        if (await session.execute(select(User.id).where(User.email == address))).first() is not None:
            raise Conflict(f"a user {address!r} already exists")
        user = User(
            email=address,
            display_name=(display_name or address.split("@")[0])[:120],
            role=role_value,
            password_hash=password_hash,
            session_version=0,
            is_active=True,
            is_demo=False,
            created_at=datetime.now(UTC),
        )
        session.add(user)
        await session.flush()
        audit(session, AuditAction.USER_CREATED, target=address, detail={"role": role_value.value})
        return UserChange(summary(user), Touched())


async def list_users(db: Database) -> list[UserSummary]:
    async with db.read_session() as session:
        return [summary(u) for u in (await session.execute(select(User).order_by(User.id))).scalars()]


async def set_role(db: Database, email: str, role: str | Role) -> UserChange:
    role_value = parse_role(role)
    async with db.session() as session:
        user = await _by_email(session, email)
        previous = user.role
        user.role = role_value
        user.session_version += 1  # tokens carry the role: old ones must not keep the old rights
        audit(
            session,
            AuditAction.ROLE_CHANGED,
            target=user.email,
            detail={"from": previous.value, "to": role_value.value},
        )
        return UserChange(summary(user), session_touched(user.id))


async def set_active(db: Database, email: str, active: bool) -> UserChange:
    async with db.session() as session:
        user = await _by_email(session, email)
        user.is_active = active
        user.session_version += 1
        audit(session, AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED, target=user.email)
        return UserChange(summary(user), session_touched(user.id))


async def set_password_hash(db: Database, email: str, password_hash: str) -> UserChange:
    async with db.session() as session:
        user = await _by_email(session, email)
        user.password_hash = password_hash
        user.session_version += 1
        audit(session, AuditAction.PASSWORD_SET, target=user.email)
        return UserChange(summary(user), session_touched(user.id))


async def service_user(db: Database, email: str) -> Credentials:
    """An active user with role `service` (long-lived bridge tokens are issued only for those)."""
    async with db.read_session() as session:
        user = await _by_email(session, email)
    if user.role is not Role.SERVICE or not user.is_active:
        raise InvalidInput("service tokens are for active users with role 'service'", field="email")
    return as_credentials(user)
