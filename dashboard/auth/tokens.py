"""JWTs with PyJWT: HS256 pinned, every claim required, access and refresh kept apart.

Claims: `sub` (user id), `role`, `sv` (the user's session version: bumping it revokes every token
of that user), `typ` (`access` or `refresh`), `iat`, `exp`, `jti`; refresh tokens add `fam` (the
rotation family, so a reused refresh token can be traced to its login).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from dashboard.domain.enums import Role

ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 10_000
REQUIRED_CLAIMS = ("sub", "role", "sv", "typ", "iat", "exp", "jti")


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class TokenError(Exception):
    """Any reason a token is not acceptable. The message is for logs; clients get a generic 401."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: Role
    session_version: int
    token_type: TokenType
    issued_at: datetime
    expires_at: datetime
    jti: str
    family: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: TokenClaims

    @property
    def expires_in(self) -> int:
        return max(0, int((self.claims.expires_at - self.claims.issued_at).total_seconds()))


class TokenService:
    def __init__(self, secret: str, *, access_ttl: timedelta, refresh_ttl: timedelta) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("JWT secret shorter than 32 bytes")
        self._secret = secret
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def derive_key(self, purpose: str) -> bytes:
        """A key for another signature (an alert's acknowledgement link) derived from the JWT secret
        for that one purpose: neither can stand in for the other, and the secret stays here."""
        return hmac.new(
            self._secret.encode(), f"telebot-dashboard:{purpose}".encode(), hashlib.sha256
        ).digest()

    def issue(
        self,
        *,
        user_id: int,
        role: Role,
        session_version: int,
        token_type: TokenType,
        ttl: timedelta | None = None,
        family: str | None = None,
        now: datetime | None = None,
    ) -> IssuedToken:
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        lifetime = ttl or (self.access_ttl if token_type is TokenType.ACCESS else self.refresh_ttl)
        claims = TokenClaims(
            user_id=user_id,
            role=role,
            session_version=session_version,
            token_type=token_type,
            issued_at=issued,
            expires_at=issued + lifetime,
            jti=secrets.token_urlsafe(16),
            family=family if token_type is TokenType.REFRESH else None,
        )
        payload: dict[str, object] = {
            "sub": str(user_id),
            "role": role.value,
            "sv": session_version,
            "typ": token_type.value,
            "iat": issued,
            "exp": claims.expires_at,
            "jti": claims.jti,
        }
        if claims.family is not None:
            payload["fam"] = claims.family
        return IssuedToken(jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims)

    def decode(self, token: str, expected: TokenType, *, now: datetime | None = None) -> TokenClaims:
        """Verify signature, algorithm, lifetime, every required claim and the token type.

        A token string already verified is remembered (bounded LRU): its signature and claims
        cannot change, so a repeat costs a dictionary lookup plus the expiry and type checks.
        """
        now = now or datetime.now(UTC)
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= now:
                del self._verified[token]
                raise TokenError("signature has expired")
            if known.token_type is not expected:
                raise TokenError(f"{known.token_type.value} token where {expected.value} was expected")
            return known
        claims = self._decode(token, expected, now)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _decode(self, token: str, expected: TokenType, now: datetime) -> TokenClaims:
        options: dict[str, object] = {"require": list(REQUIRED_CLAIMS), "verify_iat": True}
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise TokenError(f"algorithm {header.get('alg')!r} refused")
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options=options,  # type: ignore[arg-type]
                leeway=0,
            )
        except jwt.PyJWTError as error:
            raise TokenError(str(error)) from None
        try:
            issued_at = datetime.fromtimestamp(int(payload["iat"]), UTC)
            claims = TokenClaims(
                user_id=int(payload["sub"]),
                role=Role(payload["role"]),
                session_version=int(payload["sv"]),
                token_type=TokenType(payload["typ"]),
                issued_at=issued_at,
                expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
                jti=str(payload["jti"]),
                family=str(payload["fam"]) if "fam" in payload else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise TokenError(f"malformed claims: {error}") from None
        if claims.token_type is not expected:
            raise TokenError(f"{claims.token_type.value} token where {expected.value} was expected")
        if issued_at > now + timedelta(seconds=5):
            raise TokenError("token issued in the future")
        if expected is TokenType.REFRESH and not claims.family:
            raise TokenError("refresh token without family")
        return claims
