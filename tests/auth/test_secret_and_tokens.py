"""The JWT secret policy and the token service on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from dashboard.auth.passwords import hash_password, verify_password
from dashboard.auth.secret import SecretPolicyError, resolve_jwt_secret
from dashboard.auth.tokens import TokenError, TokenService, TokenType
from dashboard.domain.enums import Role
from dashboard.settings import Environment, Settings

GOOD = "Zq8wX3vN6mB1kJ4hG7fD2sA9pL5tR0yE-extra"


def settings(env: Environment, secret: str | None) -> Settings:
    return Settings(env=env, jwt_secret=SecretStr(secret) if secret is not None else None)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "not set"),
        ("", "not set"),
        ("short-but-random-9f8e7d", "shorter than 32 bytes"),
        ("changeme" * 4, "known default"),
        ("your-secret-key" + "your-secret-key" + "12", "known default"),
        ("a" * 64, "known default"),
        ("abababababababababababababababababab", "known default"),
        ("a-string-secret-at-least-256-bits-long", "known default"),
    ],
)
def test_production_refuses_missing_default_or_short_secrets(secret: str | None, reason: str) -> None:
    with pytest.raises(SecretPolicyError, match=reason):
        resolve_jwt_secret(settings(Environment.PRODUCTION, secret))


def test_production_accepts_a_random_secret() -> None:
    resolved = resolve_jwt_secret(settings(Environment.PRODUCTION, GOOD))
    assert resolved.value == GOOD and not resolved.generated


def test_demo_generates_a_fresh_secret_per_start_but_uses_a_configured_one() -> None:
    first = resolve_jwt_secret(settings(Environment.DEMO, None))
    second = resolve_jwt_secret(settings(Environment.DEMO, None))
    assert first.generated and second.generated and first.value != second.value
    assert len(first.value.encode()) >= 32
    assert resolve_jwt_secret(settings(Environment.DEMO, GOOD)).value == GOOD
    with pytest.raises(SecretPolicyError):  # a configured secret must be good in demo too
        resolve_jwt_secret(settings(Environment.DEMO, "short"))


def test_token_round_trip_and_type_separation() -> None:
    service = TokenService(GOOD, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=7))
    issued = service.issue(user_id=7, role=Role.RISK, session_version=3, token_type=TokenType.ACCESS)
    claims = service.decode(issued.token, TokenType.ACCESS)
    assert (claims.user_id, claims.role, claims.session_version) == (7, Role.RISK, 3)
    assert issued.expires_in == 900
    with pytest.raises(TokenError):
        service.decode(issued.token, TokenType.REFRESH)
    refresh = service.issue(
        user_id=7, role=Role.RISK, session_version=3, token_type=TokenType.REFRESH, family="f1"
    )
    assert service.decode(refresh.token, TokenType.REFRESH).family == "f1"


def test_expiry_is_exact() -> None:
    service = TokenService(GOOD, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=7))
    past = datetime.now(UTC) - timedelta(minutes=16)
    stale = service.issue(
        user_id=1, role=Role.TRADER, session_version=0, token_type=TokenType.ACCESS, now=past
    )
    with pytest.raises(TokenError):
        service.decode(stale.token, TokenType.ACCESS)


def test_short_secrets_cannot_even_build_a_token_service() -> None:
    with pytest.raises(ValueError):
        TokenService("short", access_ttl=timedelta(minutes=1), refresh_ttl=timedelta(days=1))


async def test_argon2id_hashes_and_verifies_off_the_loop() -> None:
    hashed = hash_password("s3cret passphrase")
    assert hashed.startswith("$argon2id$")
    assert await verify_password("s3cret passphrase", hashed)
    assert not await verify_password("wrong", hashed)
    assert not await verify_password("anything", None)  # no user: same cost, always false
    assert not await verify_password("anything", "not-a-hash")
    assert not await verify_password("x" * 5000, hashed)
