"""Login, refresh, logout and the principal behind an access token.

Revocation: every token carries the user's session version (`sv`). Logout, disabling a user,
changing their role or password, and a reused refresh token bump the version in the database and
invalidate the user's cached auth state through the cache (pub/sub reaches every process), so the
very next request with an old token is refused everywhere. The auth state is read through the
cache like every other hot-path read: one local dictionary lookup per request while nothing changes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.auth.passwords import verify_password
from dashboard.auth.tokens import IssuedToken, TokenClaims, TokenError, TokenService, TokenType
from dashboard.cache.cache import QueryCache
from dashboard.cache.keys import cache_key
from dashboard.db.models import AuditLog, RefreshToken, User
from dashboard.db.outage import DatabaseUnavailable
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.schemas.common import ReadModel, printable
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import NotFound, TooManyAttempts, Unauthenticated
from dashboard.services.users import AUTH_FAMILY, auth_touched
from dashboard.services.viewer import Viewer

GENERIC_LOGIN_ERROR = "invalid email or password"
GENERIC_TOKEN_ERROR = "invalid or expired token"


class AuthState(ReadModel):
    """What a request needs to know about its user, cached per user."""

    user_id: int
    email: str
    display_name: str
    role: Role
    session_version: int
    is_active: bool


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    display_name: str
    role: Role
    session_version: int
    expires_at: datetime
    # False only while the database is unreachable: the token was checked, the user state was not.
    verified: bool = True

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.user_id, self.role)


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)


class AuthService:
    def __init__(
        self,
        db: Database,
        cache: QueryCache,
        tokens: TokenService,
        policy: LoginPolicy,
        *,
        allow_demo_users: bool = True,
    ) -> None:
        self.db = db
        # Demo logins share a published password: outside demo mode they never log in.
        self.allow_demo_users = allow_demo_users
        self.cache = cache
        self.tokens = tokens
        self.policy = policy

    # ---- principal -------------------------------------------------------------------------

    async def auth_state(self, user_id: int) -> AuthState | None:
        async def load() -> AuthState:
            async with self.db.read_session() as session:
                user = await session.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id}")
            return AuthState(
                user_id=user.id,
                email=user.email,
                display_name=user.display_name,
                role=user.role,
                session_version=user.session_version,
                is_active=user.is_active,
            )

        try:
            return await self.cache.get_model(
                cache_key(AUTH_FAMILY, f"u{user_id}", AuthState), AuthState, load
            )
        except NotFound:
            return None

    async def principal(
        self, access_token: str, *, now: datetime | None = None, tolerate_outage: bool = False
    ) -> Principal:
        """The user behind a valid, unrevoked access token, or `Unauthenticated`.

        With the database unreachable and no cached state, `DatabaseUnavailable` propagates (the
        API answers 503), unless `tolerate_outage`: pages then trust the signed, unexpired token
        alone (`verified=False`) and show only what the cache still holds. Nothing can revoke a
        session during the outage, since revoking is itself a database write.
        """
        try:
            claims = self.tokens.decode(access_token, TokenType.ACCESS, now=now)
        except TokenError:
            raise Unauthenticated(GENERIC_TOKEN_ERROR) from None
        try:
            state = await self.auth_state(claims.user_id)
        except DatabaseUnavailable:
            if not tolerate_outage:
                raise
            return Principal(
                user_id=claims.user_id,
                email="",
                display_name=f"user {claims.user_id}",
                role=claims.role,
                session_version=claims.session_version,
                expires_at=claims.expires_at,
                verified=False,
            )
        if not _current(state, claims):
            raise Unauthenticated(GENERIC_TOKEN_ERROR)
        assert state is not None
        return Principal(
            user_id=state.user_id,
            email=state.email,
            display_name=state.display_name,
            role=state.role,
            session_version=state.session_version,
            expires_at=claims.expires_at,
        )

    # ---- login -----------------------------------------------------------------------------

    async def login(self, email: str, password: str, client_addr: str | None) -> TokenPair:
        """API login: an access token and a rotating refresh token."""
        user, now = await self._authenticate(email, password, client_addr)
        async with self.db.session() as session:
            pair = self._issue_pair(
                session, user.id, user.role, user.session_version, secrets.token_urlsafe(12), now
            )
            audit(
                session,
                AuditAction.LOGIN,
                actor_user_id=user.id,
                target=user.email,
                client_addr=client_addr,
                now=now,
            )
        return pair

    async def web_login(
        self, email: str, password: str, client_addr: str | None, ttl: timedelta
    ) -> IssuedToken:
        """Browser login: one session token for the HttpOnly cookie (no refresh token: a browser
        session simply ends at `ttl`, on logout, or when the user is disabled)."""
        user, now = await self._authenticate(email, password, client_addr)
        token = self.tokens.issue(
            user_id=user.id,
            role=user.role,
            session_version=user.session_version,
            token_type=TokenType.ACCESS,
            ttl=ttl,
            now=now,
        )
        async with self.db.session() as session:
            audit(
                session,
                AuditAction.LOGIN,
                actor_user_id=user.id,
                target=user.email,
                client_addr=client_addr,
                detail={"via": "browser"},
                now=now,
            )
        return token

    async def _authenticate(
        self, email: str, password: str, client_addr: str | None
    ) -> tuple[User, datetime]:
        if not printable(email) or not printable(password):
            # Never reaches the database (PostgreSQL refuses NUL) nor the audit log.
            raise Unauthenticated(GENERIC_LOGIN_ERROR)
        address = email.strip().lower()[:254]
        now = datetime.now(UTC)
        # Throttle before the hash runs: a locked-out guesser costs us one indexed count, not 100 ms.
        retry_after = await self._throttled(address, client_addr, now)
        if retry_after is not None:
            async with self.db.session() as session:
                audit(session, AuditAction.LOGIN_LOCKED, target=address, client_addr=client_addr, now=now)
            raise TooManyAttempts("too many failed logins; try again later", retry_after)
        async with self.db.read_session() as session:
            user = (await session.execute(select(User).where(User.email == address))).scalar_one_or_none()
        ok = await verify_password(password, user.password_hash if user is not None else None)
        if not ok or user is None or not user.is_active or (user.is_demo and not self.allow_demo_users):
            async with self.db.session() as session:
                audit(
                    session,
                    AuditAction.LOGIN_FAILED,
                    actor_user_id=user.id if user is not None else None,
                    target=address,
                    client_addr=client_addr,
                    detail={"reason": "disabled" if ok and user is not None else "bad credentials"},
                    now=now,
                )
            raise Unauthenticated(GENERIC_LOGIN_ERROR)
        return user, now

    async def _throttled(self, email: str, client_addr: str | None, now: datetime) -> int | None:
        """Seconds until the next attempt may succeed, or None when not throttled."""
        since = now - self.policy.window
        async with self.db.read_session() as session:
            last_success = (
                await session.execute(
                    select(func.max(AuditLog.created_at)).where(
                        AuditLog.action == AuditAction.LOGIN.value,
                        AuditLog.target == email,
                        AuditLog.created_at >= since,
                    )
                )
            ).scalar_one_or_none()
            checks = [
                (
                    AuditLog.target == email,
                    max(since, last_success or since),
                    self.policy.max_failures_per_account,
                )
            ]
            if client_addr:
                checks.append(
                    (AuditLog.client_addr == client_addr, since, self.policy.max_failures_per_address)
                )
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
                    waits.append(int((recent[-1] + self.policy.window - now).total_seconds()) + 1)
        return max(waits) if waits else None

    # ---- refresh and logout ----------------------------------------------------------------

    async def refresh(self, refresh_token: str, client_addr: str | None) -> TokenPair:
        try:
            claims = self.tokens.decode(refresh_token, TokenType.REFRESH)
        except TokenError:
            raise Unauthenticated(GENERIC_TOKEN_ERROR) from None
        now = datetime.now(UTC)
        reused = False
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(RefreshToken).where(RefreshToken.jti == claims.jti).with_for_update()
                )
            ).scalar_one_or_none()
            user = await session.get(User, claims.user_id)
            if row is None or user is None or row.user_id != user.id:
                raise Unauthenticated(GENERIC_TOKEN_ERROR)
            if row.used_at is not None:
                # A rotated token came back: someone holds a copy. End every session of this user.
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
                reused = True
            elif (
                not user.is_active
                or user.session_version != claims.session_version
                or user.role != claims.role
            ):
                raise Unauthenticated(GENERIC_TOKEN_ERROR)
            else:
                row.used_at = now
                pair = self._issue_pair(session, user.id, user.role, user.session_version, row.family, now)
        if reused:
            await self.cache.invalidate(auth_touched(claims.user_id))
            raise Unauthenticated(GENERIC_TOKEN_ERROR)
        return pair

    async def logout(self, principal: Principal, client_addr: str | None) -> None:
        """End every session of the user (all tabs, all devices), at once."""
        await self.revoke_all(principal.user_id, AuditAction.LOGOUT, client_addr)

    async def revoke_all(self, user_id: int, action: AuditAction, client_addr: str | None = None) -> None:
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                return
            user.session_version += 1
            audit(session, action, actor_user_id=user.id, target=user.email, client_addr=client_addr)
        await self.cache.invalidate(auth_touched(user_id))

    # ---- tokens ----------------------------------------------------------------------------

    def _issue_pair(
        self,
        session: AsyncSession,
        user_id: int,
        role: Role,
        session_version: int,
        family: str,
        now: datetime,
    ) -> TokenPair:
        access = self.tokens.issue(
            user_id=user_id, role=role, session_version=session_version, token_type=TokenType.ACCESS, now=now
        )
        refresh = self.tokens.issue(
            user_id=user_id,
            role=role,
            session_version=session_version,
            token_type=TokenType.REFRESH,
            family=family,
            now=now,
        )
        session.add(
            RefreshToken(
                jti=refresh.claims.jti,
                user_id=user_id,
                family=family,
                issued_at=refresh.claims.issued_at,
                expires_at=refresh.claims.expires_at,
            )
        )
        return TokenPair(access, refresh)

    async def service_token(self, email: str, ttl: timedelta) -> IssuedToken:
        """A long-lived access token for a bot (role `service`); revoked like any other session."""
        async with self.db.session() as session:
            user = (
                await session.execute(select(User).where(User.email == email.strip().lower()))
            ).scalar_one_or_none()
            if user is None:
                raise NotFound(f"no user {email!r}")
            if user.role is not Role.SERVICE or not user.is_active:
                raise Unauthenticated("service tokens are for active users with role 'service'")
            token = self.tokens.issue(
                user_id=user.id,
                role=user.role,
                session_version=user.session_version,
                token_type=TokenType.ACCESS,
                ttl=ttl,
            )
            audit(session, AuditAction.SERVICE_TOKEN_ISSUED, actor_user_id=user.id, target=user.email,
                  detail={"expires_at": token.claims.expires_at.isoformat()})  # fmt: skip
        return token


def _current(state: AuthState | None, claims: TokenClaims) -> bool:
    return (
        state is not None
        and state.is_active
        and state.session_version == claims.session_version
        and state.role == claims.role
    )
