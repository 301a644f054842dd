"""Login, refresh, logout and the principal behind an access token.

Revocation: every token carries the user's session version (`sv`). Logout, an admin ending a
user's sessions, disabling a user, changing their role or password, and a reused refresh token
bump the version in the database and invalidate the user's cached session state through the one
write path (pub/sub reaches every process), so the very next request with an old token is refused
everywhere. A stored service token can also be revoked alone: its user's session state lists the
revoked, unexpired ones by `jti` (see `dashboard.services.service_tokens`). The session state is
read through the cache like every other hot-path read: one local dictionary lookup per request
while nothing changes.

This module holds no SQL: users, the login throttle and refresh tokens are services below it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dashboard.auth.passwords import verify_password
from dashboard.auth.tokens import IssuedToken, TokenClaims, TokenError, TokenService, TokenType
from dashboard.cache.cache import QueryCache
from dashboard.cache.keys import cache_key
from dashboard.cache.writer import Writer
from dashboard.db.outage import DatabaseUnavailable
from dashboard.domain.enums import Role
from dashboard.schemas.common import printable
from dashboard.services import audit, login_throttle, refresh_tokens, service_tokens, users
from dashboard.services.audit import AuditAction
from dashboard.services.errors import NotFound, TooManyAttempts, Unauthenticated
from dashboard.services.login_throttle import LoginPolicy
from dashboard.services.refresh_tokens import Rotation, StoredRefresh
from dashboard.services.service_tokens import Signed, TokenIssued
from dashboard.services.touched import Family, user_scope
from dashboard.services.users import Credentials, SessionState
from dashboard.services.viewer import Viewer

GENERIC_LOGIN_ERROR = "invalid email or password"
GENERIC_TOKEN_ERROR = "invalid or expired token"

__all__ = ["AuthService", "LoginPolicy", "Principal", "TokenPair"]


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


class AuthService:
    def __init__(
        self,
        cache: QueryCache,
        write: Writer,
        tokens: TokenService,
        policy: LoginPolicy,
        *,
        allow_demo_users: bool = True,
        on_login: Callable[[str], object] = lambda outcome: None,
    ) -> None:
        self.db = write.db
        self.cache = cache
        self.write = write
        self.tokens = tokens
        self.policy = policy
        # Demo logins share a published password: outside demo mode they never log in.
        self.allow_demo_users = allow_demo_users
        # Told each login attempt's outcome (success, failure, throttled, unavailable): metrics.
        self.on_login = on_login

    # ---- principal -------------------------------------------------------------------------

    async def session_state(self, user_id: int) -> SessionState | None:
        key = cache_key(Family.AUTH, user_scope(user_id), SessionState)
        try:
            return await self.cache.get_model(
                key, SessionState, lambda: users.session_state(self.db, user_id)
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
            state = await self.session_state(claims.user_id)
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
        if state is None or not _current(state, claims):
            raise Unauthenticated(GENERIC_TOKEN_ERROR)
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
        pair, stored = self._issue_pair(user, secrets.token_urlsafe(12), now)
        await refresh_tokens.record_login(self.db, user, stored, client_addr, now)
        return pair

    async def web_login(
        self, email: str, password: str, client_addr: str | None, ttl: timedelta
    ) -> IssuedToken:
        """Browser login: one session token for the HttpOnly cookie (no refresh token: a browser
        session simply ends at `ttl`, on logout, or when the user is disabled)."""
        user, now = await self._authenticate(email, password, client_addr)
        token = self.tokens.issue(
            user_id=user.user_id,
            role=user.role,
            session_version=user.session_version,
            token_type=TokenType.ACCESS,
            ttl=ttl,
            now=now,
        )
        await refresh_tokens.record_login(self.db, user, None, client_addr, now, via="browser")
        return token

    async def _authenticate(
        self, email: str, password: str, client_addr: str | None
    ) -> tuple[Credentials, datetime]:
        try:
            checked = await self._check_credentials(email, password, client_addr)
        except TooManyAttempts:
            self.on_login("throttled")
            raise
        except Unauthenticated:
            self.on_login("failure")
            raise
        except DatabaseUnavailable:
            self.on_login("unavailable")
            raise
        self.on_login("success")
        return checked

    async def _check_credentials(
        self, email: str, password: str, client_addr: str | None
    ) -> tuple[Credentials, datetime]:
        if not printable(email) or not printable(password):
            # Never reaches the database (PostgreSQL refuses NUL) nor the audit log.
            raise Unauthenticated(GENERIC_LOGIN_ERROR)
        address = email.strip().lower()[:254]
        now = datetime.now(UTC)
        # Throttle before the hash runs: a locked-out guesser costs us one indexed count, not 100 ms.
        wait = await login_throttle.retry_after(self.db, self.policy, address, client_addr, now)
        if wait is not None:
            await audit.record(
                self.db, AuditAction.LOGIN_LOCKED, target=address, client_addr=client_addr, now=now
            )
            raise TooManyAttempts("too many failed logins; try again later", wait)
        user = await users.credentials_of(self.db, address)
        ok = await verify_password(password, user.password_hash if user is not None else None)
        if not ok or user is None or not user.is_active or (user.is_demo and not self.allow_demo_users):
            await audit.record(
                self.db,
                AuditAction.LOGIN_FAILED,
                actor_user_id=user.user_id if user is not None else None,
                target=address,
                client_addr=client_addr,
                detail={"reason": "disabled" if ok and user is not None else "bad credentials"},
                now=now,
            )
            raise Unauthenticated(GENERIC_LOGIN_ERROR)
        return user, now

    # ---- refresh and logout ----------------------------------------------------------------

    async def refresh(self, refresh_token: str, client_addr: str | None) -> TokenPair:
        try:
            claims = self.tokens.decode(refresh_token, TokenType.REFRESH)
        except TokenError:
            raise Unauthenticated(GENERIC_TOKEN_ERROR) from None
        now = datetime.now(UTC)
        result = await refresh_tokens.rotate(
            self.db,
            claims.jti,
            claims.user_id,
            claims.session_version,
            claims.role,
            lambda user, family: self._issue_pair(user, family, now),
            client_addr,
            now,
        )
        await self.write.touched(result.touched)
        if result.outcome is not Rotation.ROTATED or result.issued is None:
            raise Unauthenticated(GENERIC_TOKEN_ERROR)
        return result.issued

    async def logout(self, principal: Principal, client_addr: str | None) -> None:
        """End every session of the user (all tabs, all devices), at once."""
        await self.write(users.end_sessions, principal.user_id, AuditAction.LOGOUT, client_addr)

    # ---- tokens ----------------------------------------------------------------------------

    def _issue_pair(self, user: Credentials, family: str, now: datetime) -> tuple[TokenPair, StoredRefresh]:
        access = self.tokens.issue(
            user_id=user.user_id,
            role=user.role,
            session_version=user.session_version,
            token_type=TokenType.ACCESS,
            now=now,
        )
        refresh = self.tokens.issue(
            user_id=user.user_id,
            role=user.role,
            session_version=user.session_version,
            token_type=TokenType.REFRESH,
            family=family,
            now=now,
        )
        stored = StoredRefresh(
            jti=refresh.claims.jti,
            user_id=user.user_id,
            family=family,
            issued_at=refresh.claims.issued_at,
            expires_at=refresh.claims.expires_at,
        )
        return TokenPair(access, refresh), stored

    async def service_token(
        self,
        email: str,
        name: str,
        days: int,
        actor: Viewer | None = None,
        client_addr: str | None = None,
    ) -> TokenIssued[IssuedToken]:
        """A long-lived access token for a bot (an active user with role `service`), named for what
        it is for and valid `days` (1-365). Its row is stored (never the token), so it can be
        listed and revoked on its own; it also ends with every other session of its user.
        `actor`: the admin issuing it (None: the operator at the shell)."""

        def sign(user: Credentials, now: datetime, lifetime: timedelta) -> Signed[IssuedToken]:
            token = self.tokens.issue(
                user_id=user.user_id,
                role=user.role,
                session_version=user.session_version,
                token_type=TokenType.ACCESS,
                ttl=lifetime,
                now=now,
            )
            return Signed(token, token.claims.jti, token.claims.expires_at)

        return await self.write(service_tokens.issue, actor, email, name, days, sign, client_addr)


def _current(state: SessionState, claims: TokenClaims) -> bool:
    """The token still speaks for its user: active, same session version and role, not revoked."""
    return (
        state.is_active
        and state.session_version == claims.session_version
        and state.role == claims.role
        and claims.jti not in state.revoked_tokens
    )
