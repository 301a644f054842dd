"""Users as stored: lookups for authentication, the session state every request checks, and the
administration the `users` CLI and the admin page perform.

Passwords arrive here already hashed: hashing and the password policy belong to `dashboard.auth`,
which sits above this layer. Every change that affects existing sessions bumps the user's session
version, which revokes all of their tokens at once; each change is audited in its own transaction
and returns what the cache must drop (`Touched`).

Who may administer: every change takes the acting person (`actor`, a `Viewer`). Only an admin may
act, whatever a page showed or hid (`Forbidden` otherwise); `None` is the operator at the shell
(the `users` CLI), who has the database in hand anyway. The audit entry names the actor and the
address they acted from. An admin may not disable or demote themselves: the desk must never lose
its last way in by a slip of the mouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import ServiceToken, User
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.schemas.common import ReadModel
from dashboard.schemas.people import UserSummary
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from dashboard.services.touched import Family, Touched
from dashboard.services.viewer import Viewer

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
#: A user named by id (the admin page and API) or by e-mail (the CLI).
UserRef = int | str

__all__ = ["Credentials", "SessionState", "UserChange", "UserRef", "UserSummary", "require_admin"]


class SessionState(ReadModel):
    """What a request needs to know about its user; cached per user (`Family.AUTH`)."""

    user_id: int
    email: str
    display_name: str
    role: Role
    session_version: int
    is_active: bool
    #: The `jti`s of the user's revoked service tokens that have not expired yet (service users
    #: only; a handful at most): a request bearing one is refused. Revoking drops this state in
    #: every process, so the very next request sees the token in here.
    revoked_tokens: tuple[str, ...] = ()


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
    """A change of the user's session state: their cached `SessionState` must go, everywhere (and
    the admin page's lists, which show it)."""
    return Touched().user(user_id, Family.AUTH).everyone(Family.PEOPLE)


def require_admin(actor: Viewer | None) -> None:
    """`Forbidden` unless the actor is an admin (None: the operator at the shell)."""
    if actor is not None and actor.role is not Role.ADMIN:
        raise Forbidden("user administration is for admin users")


def _actor_id(actor: Viewer | None) -> int | None:
    return actor.user_id if actor is not None else None


# ---- what authentication reads ---------------------------------------------------------------


async def session_state(db: Database, user_id: int) -> SessionState:
    """`NotFound` when the user does not exist."""
    async with db.read_session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id}")
        revoked: tuple[str, ...] = ()
        if user.role is Role.SERVICE:
            revoked = tuple(
                (
                    await session.execute(
                        select(ServiceToken.jti)
                        .where(
                            ServiceToken.user_id == user.id,
                            ServiceToken.revoked_at.is_not(None),
                            ServiceToken.expires_at > datetime.now(UTC),
                        )
                        .order_by(ServiceToken.jti)
                    )
                ).scalars()
            )
    return SessionState(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        session_version=user.session_version,
        is_active=user.is_active,
        revoked_tokens=revoked,
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
    #: The user after the change (None when a logout found no user: nothing to end).
    user: UserSummary | None = None


async def end_sessions(
    db: Database,
    user_id: UserRef,
    action: AuditAction,
    client_addr: str | None = None,
    *,
    actor: Viewer | None = None,
) -> SessionsEnded:
    """Revoke every token of the user at once: logout everywhere (`actor` None: the user
    themselves) or an admin ending someone's sessions (`AuditAction.SESSIONS_ENDED`).

    Tokens are revoked by the user's session version, which every token carries: there is no
    ending one session alone, ending any of them ends all of the user's sessions (browser tabs,
    API logins and refresh tokens, and service tokens). Someone other than the user must be an
    admin; a user that does not exist is `NotFound` for them (a logout of a vanished user ends
    nothing).
    """
    if actor is not None and actor.user_id != user_id:
        require_admin(actor)
    async with db.session() as session:
        if actor is None and isinstance(user_id, int):
            found = await session.get(User, user_id)
            if found is None:
                return SessionsEnded(user_id, Touched())
            user = found
        else:
            user = await _find(session, user_id)
            if actor is not None and actor.user_id != user.id:
                require_admin(actor)
        user.session_version += 1
        audit(
            session,
            action,
            # A logout is the user's own act; ending someone's sessions from the shell has no actor.
            actor_user_id=actor.user_id
            if actor is not None
            else (user.id if action is AuditAction.LOGOUT else None),
            target=user.email,
            client_addr=client_addr,
        )
        return SessionsEnded(user.id, session_touched(user.id), summary(user))


# ---- administration ------------------------------------------------------------------------


async def _by_email(session: AsyncSession, email: str) -> User:
    user = (
        await session.execute(select(User).where(User.email == normalise_email(email)))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


async def _find(session: AsyncSession, who: UserRef) -> User:
    """The user by id or e-mail, or `NotFound`."""
    if isinstance(who, str):
        return await _by_email(session, who)
    user = await session.get(User, who)
    if user is None:
        raise NotFound(f"no user {who}")
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
    db: Database,
    email: str,
    role: str | Role,
    password_hash: str,
    display_name: str | None = None,
    *,
    actor: Viewer | None = None,
    client_addr: str | None = None,
) -> UserChange:
    require_admin(actor)
    address = normalise_email(email)
    role_value = parse_role(role)
    name = (display_name or "").strip() or address.split("@")[0]
    async with db.session() as session:
        if (await session.execute(select(User.id).where(User.email == address))).first() is not None:
            raise Conflict(f"a user {address!r} already exists")
        user = User(
            email=address,
            display_name=name[:120],
            role=role_value,
            password_hash=password_hash,
            session_version=0,
            is_active=True,
            is_demo=False,
            created_at=datetime.now(UTC),
        )
        session.add(user)
        await session.flush()
        audit(
            session,
            AuditAction.USER_CREATED,
            actor_user_id=_actor_id(actor),
            target=address,
            client_addr=client_addr,
            detail={"role": role_value.value},
        )
        return UserChange(summary(user), Touched().everyone(Family.PEOPLE))


async def list_users(db: Database, actor: Viewer | None = None) -> list[UserSummary]:
    require_admin(actor)
    async with db.read_session() as session:
        return [summary(u) for u in (await session.execute(select(User).order_by(User.id))).scalars()]


async def set_role(
    db: Database,
    who: UserRef,
    role: str | Role,
    *,
    actor: Viewer | None = None,
    client_addr: str | None = None,
) -> UserChange:
    require_admin(actor)
    role_value = parse_role(role)
    async with db.session() as session:
        user = await _find(session, who)
        if actor is not None and user.id == actor.user_id and role_value is not Role.ADMIN:
            raise InvalidInput(
                "role: you cannot take away your own admin role; ask another admin", field="role"
            )
        previous = user.role
        user.role = role_value
        user.session_version += 1  # tokens carry the role: old ones must not keep the old rights
        audit(
            session,
            AuditAction.ROLE_CHANGED,
            actor_user_id=_actor_id(actor),
            target=user.email,
            client_addr=client_addr,
            detail={"from": previous.value, "to": role_value.value},
        )
        return UserChange(summary(user), session_touched(user.id))


async def set_active(
    db: Database,
    who: UserRef,
    active: bool,
    *,
    actor: Viewer | None = None,
    client_addr: str | None = None,
) -> UserChange:
    require_admin(actor)
    async with db.session() as session:
        user = await _find(session, who)
        if actor is not None and user.id == actor.user_id and not active:
            raise InvalidInput("active: you cannot disable yourself; ask another admin", field="active")
        user.is_active = active
        user.session_version += 1
        audit(
            session,
            AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED,
            actor_user_id=_actor_id(actor),
            target=user.email,
            client_addr=client_addr,
        )
        return UserChange(summary(user), session_touched(user.id))


async def set_password_hash(
    db: Database,
    who: UserRef,
    password_hash: str,
    *,
    actor: Viewer | None = None,
    client_addr: str | None = None,
) -> UserChange:
    require_admin(actor)
    async with db.session() as session:
        user = await _find(session, who)
        user.password_hash = password_hash
        user.session_version += 1
        audit(
            session,
            AuditAction.PASSWORD_SET,
            actor_user_id=_actor_id(actor),
            target=user.email,
            client_addr=client_addr,
        )
        return UserChange(summary(user), session_touched(user.id))


async def find_user(session: AsyncSession, who: UserRef) -> User:
    """The user by id or e-mail in the caller's transaction, or `NotFound` (for the services
    beside this one, e.g. service tokens)."""
    return await _find(session, who)
