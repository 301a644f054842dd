"""The JWT attack suite: every forged, stale, mangled or misused token is refused with 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dashboard.auth.tokens import REQUIRED_CLAIMS, TokenService, TokenType
from tests.api.conftest import SECRET, Api

PROTECTED = "/api/v1/positions"


def claims(api: Api, name: str = "a", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": str(api.world.users[name]),
        "role": api.world.roles[name].value,
        "sv": 0,
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "j" * 22,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not ...}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def refused(api: Api, token: str, path: str = PROTECTED) -> bool:
    response = await api.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 401 and response.json()["detail"] == "invalid or expired token"


async def test_a_well_formed_token_is_accepted(api: Api) -> None:
    """The control: the forgeries below differ from this token in one respect each."""
    token = jwt.encode(claims(api), SECRET, algorithm="HS256")
    assert (await api.client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_alg_none_is_refused(api: Api) -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(api))}."
    assert await refused(api, unsigned)
    assert await refused(api, f"{b64({'alg': 'None'})}.{b64(claims(api))}.")


async def test_hs_rs_confusion_is_refused(api: Api) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert await refused(api, jwt.encode(claims(api), key, algorithm="RS256"))
    # The classic confusion: an HS256 token keyed with a public key the attacker knows.
    header = b64({"alg": "HS256", "typ": "JWT"})
    body = b64(claims(api))
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert await refused(api, forged)
    assert await refused(api, jwt.encode(claims(api), SECRET * 2, algorithm="HS512"))


async def test_wrong_key_is_refused(api: Api) -> None:
    assert await refused(
        api, jwt.encode(claims(api), "another-secret-of-sufficient-length-123456", algorithm="HS256")
    )


async def test_expired_and_not_yet_valid_are_refused(api: Api) -> None:
    now = int(time.time())
    assert await refused(api, jwt.encode(claims(api, iat=now - 1000, exp=now - 1), SECRET, algorithm="HS256"))
    assert await refused(api, jwt.encode(claims(api, nbf=now + 600), SECRET, algorithm="HS256"))
    assert await refused(
        api, jwt.encode(claims(api, iat=now + 600, exp=now + 1200), SECRET, algorithm="HS256")
    )


@pytest.mark.parametrize("missing", REQUIRED_CLAIMS)
async def test_each_required_claim_is_required(api: Api, missing: str) -> None:
    assert await refused(api, jwt.encode(claims(api, **{missing: ...}), SECRET, algorithm="HS256"))


async def test_tampered_payload_and_raised_role_are_refused(api: Api) -> None:
    token = jwt.encode(claims(api), SECRET, algorithm="HS256")
    header, _, signature = token.split(".")
    raised = b64(claims(api, role="admin"))
    assert await refused(api, f"{header}.{raised}.{signature}", "/api/v1/risk/accounts")
    other_user = b64(claims(api, sub=str(api.world.users["b"])))
    assert await refused(api, f"{header}.{other_user}.{signature}")
    # Even correctly signed, a role the user does not have is refused (the role is checked
    # against the user's current role, not trusted from the token).
    assert await refused(api, jwt.encode(claims(api, role="admin"), SECRET, algorithm="HS256"))
    assert await refused(api, jwt.encode(claims(api, sv=1), SECRET, algorithm="HS256"))


async def test_garbage_and_wrong_schemes_are_refused(api: Api) -> None:
    for token in ("", "abc", "a.b.c", "x" * 5000, "%C3%A9.e30.e30"):
        response = await api.client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    basic = await api.client.get(PROTECTED, headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401


async def test_revoked_after_logout(api: Api) -> None:
    tokens = (await api.login("a")).json()
    await api.client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert await refused(api, tokens["access_token"])


async def test_access_and_refresh_tokens_are_not_interchangeable(api: Api) -> None:
    tokens = (await api.login("a")).json()
    assert await refused(api, tokens["refresh_token"])
    as_refresh = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert as_refresh.status_code == 401
    # A refresh token minted with a valid signature but never stored (not issued by a login).
    service = TokenService(SECRET, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=1))
    stray = service.issue(
        user_id=api.world.users["a"], role=api.world.roles["a"], session_version=0,
        token_type=TokenType.REFRESH, family="f" * 16, now=datetime.now(UTC),
    )  # fmt: skip
    assert (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": stray.token})
    ).status_code == 401


async def test_refresh_token_reuse_is_refused(api: Api) -> None:
    tokens = (await api.login("a")).json()
    first = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    second = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert second.status_code == 401
