"""Refresh tokens as stored: one row per issued token, spent by rotation.

Rotation is one transaction: the presented token's row is locked, checked and marked used, and its
successor is stored. Presenting a spent token again means someone holds a copy: every session of
its user ends (the session version is bumped) and the attempt is audited. The tokens themselves
(signing, claims) are made by `dashboard.auth`, which passes a function that issues them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import RefreshToken, User
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.services.audit import AuditAction, audit
from dashboard.services.touched import Touched
from dashboard.services.users import Credentials, as_credentials, session_touched

T = TypeVar("T")


@dataclass(frozen=True)
class StoredRefresh:
    """What is kept of an issued refresh token (never the token itself)."""

    jti: str
    user_id: int
    family: str
    issued_at: datetime
    expires_at: datetime


class Rotation(StrEnum):
    ROTATED = "rotated"
    REUSED = "reused"
    REFUSED = "refused"


@dataclass(frozen=True)
class RotationResult(Generic[T]):
    outcome: Rotation
    issued: T | None
    touched: Touched


def _store(session: AsyncSession, refresh: StoredRefresh) -> None:
    session.add(
        RefreshToken(
            jti=refresh.jti,
            user_id=refresh.user_id,
            family=refresh.family,
            issued_at=refresh.issued_at,
            expires_at=refresh.expires_at,
        )
    )


async def record_login(
    db: Database,
    user: Credentials,
    refresh: StoredRefresh | None,
    client_addr: str | None,
    now: datetime,
    *,
    via: str | None = None,
) -> None:
    """A successful login: its audit entry and, for the API, its first refresh token."""
    async with db.session() as session:
        if refresh is not None:
            _store(session, refresh)
        audit(
            session,
            AuditAction.LOGIN,
            actor_user_id=user.user_id,
            target=user.email,
            client_addr=client_addr,
            detail={"via": via} if via else None,
            now=now,
        )


async def rotate(
    db: Database,
    jti: str,
    user_id: int,
    session_version: int,
    role: Role,
    issue: Callable[[Credentials, str], tuple[T, StoredRefresh]],
    client_addr: str | None,
    now: datetime,
) -> RotationResult[T]:
    """Spend the refresh token `jti` (claims: `user_id`, `session_version`, `role`) and store the
    successor `issue(user, family)` makes; a spent token ends every session of its user."""
    async with db.session() as session:
        row = (
            await session.execute(select(RefreshToken).where(RefreshToken.jti == jti).with_for_update())
        ).scalar_one_or_none()
        user = await session.get(User, user_id)
        if row is None or user is None or row.user_id != user.id:
            return RotationResult(Rotation.REFUSED, None, Touched())
        if row.used_at is not None:
            user.session_version += 1
            audit(
                session,
                AuditAction.REFRESH_REUSED,
                actor_user_id=user.id,
                target=user.email,
                client_addr=client_addr,
                detail={"family": row.family},
                now=now,
            )
            return RotationResult(Rotation.REUSED, None, session_touched(user.id))
        if not user.is_active or user.session_version != session_version or user.role != role:
            return RotationResult(Rotation.REFUSED, None, Touched())
        row.used_at = now
        issued, successor = issue(as_credentials(user), row.family)
        _store(session, successor)
        return RotationResult(Rotation.ROTATED, issued, Touched())
