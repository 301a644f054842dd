"""User administration (the CLI's `users` commands): create, list, change role, disable, enable.

Every change that affects existing sessions bumps the user's session version, which revokes all
of their tokens at once; each change is audited and returns what the cache must drop.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.auth.passwords import check_password_policy, hash_password_async
from dashboard.db.models import User
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, InvalidInput, NotFound
from dashboard.services.ingestion.common import Touched

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
AUTH_FAMILY = "auth"


class UserSummary(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    is_demo: bool
    has_password: bool
    created_at: datetime


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


def auth_touched(user_id: int) -> Touched:
    return Touched(user_ids={user_id}, families={AUTH_FAMILY})


async def _by_email(session: AsyncSession, email: str) -> User:
    user = (
        await session.execute(select(User).where(User.email == normalise_email(email)))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


def _summary(user: User) -> UserSummary:
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


async def _hashed(password: str) -> str:
    """The argon2id hash of a password that meets the policy (else `InvalidInput` on `password`)."""
    try:
        check_password_policy(password)
    except ValueError as error:
        raise InvalidInput(str(error), field="password") from None
    return await hash_password_async(password)


async def create_user(
    db: Database, email: str, role: str | Role, password: str, display_name: str | None = None
) -> UserSummary:
    address = normalise_email(email)
    role_value = parse_role(role)
    password_hash = await _hashed(password)
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
        return _summary(user)


async def list_users(db: Database) -> list[UserSummary]:
    async with db.read_session() as session:
        return [_summary(u) for u in (await session.execute(select(User).order_by(User.id))).scalars()]


async def set_role(db: Database, email: str, role: str | Role) -> tuple[UserSummary, Touched]:
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
        return _summary(user), auth_touched(user.id)


async def set_active(db: Database, email: str, active: bool) -> tuple[UserSummary, Touched]:
    async with db.session() as session:
        user = await _by_email(session, email)
        user.is_active = active
        user.session_version += 1
        audit(session, AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED, target=user.email)
        return _summary(user), auth_touched(user.id)


async def set_password(db: Database, email: str, password: str) -> tuple[UserSummary, Touched]:
    password_hash = await _hashed(password)
    async with db.session() as session:
        user = await _by_email(session, email)
        user.password_hash = password_hash
        user.session_version += 1
        audit(session, AuditAction.PASSWORD_SET, target=user.email)
        return _summary(user), auth_touched(user.id)
