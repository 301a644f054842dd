"""Login, refresh rotation, logout and revocation, throttling, and the audit trail."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.db.models import AuditLog
from dashboard.services.users import set_active, set_role
from tests.api.conftest import PASSWORD, Api, make_app, make_runtime
from tests.conftest import CacheFactory


async def actions(api: Api) -> list[tuple[str, str | None, str | None]]:
    async with api.runtime.database.read_session() as s:
        rows = (await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()
    return [(r.action, r.target, r.client_addr) for r in rows]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_returns_tokens_that_work(api: Api) -> None:
    response = await api.login("a")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    me = await api.client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.json() == {
        "user_id": api.world.users["a"],
        "email": "a@test.local",
        "display_name": "a",
        "role": "trader",
    }
    assert ("login", "a@test.local", "127.0.0.1") in await actions(api)


async def test_every_login_failure_gets_the_same_answer(api: Api) -> None:
    await set_active(api.runtime.database, "b@test.local", False)
    answers = [
        await api.login("a", "wrong password"),
        await api.client.post(
            "/api/v1/auth/login", json={"email": "nobody@test.local", "password": PASSWORD}
        ),
        await api.login("b"),  # right password, disabled user
    ]
    assert {r.status_code for r in answers} == {401}
    assert {r.json()["detail"] for r in answers} == {"invalid email or password"}
    logged = [a for a in await actions(api) if a[0] == "login_failed"]
    assert [t for _, t, _ in logged] == ["a@test.local", "nobody@test.local", "b@test.local"]


async def test_refresh_rotates_and_a_reused_refresh_token_ends_every_session(api: Api) -> None:
    first = (await api.login("a")).json()
    second = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (
        await api.client.get("/api/v1/auth/me", headers=bearer(rotated["access_token"]))
    ).status_code == 200
    # The spent token comes back (stolen copy): refused, and the legitimate new pair dies too.
    replay = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert (
        await api.client.get("/api/v1/auth/me", headers=bearer(rotated["access_token"]))
    ).status_code == 401
    again = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401
    assert "refresh_token_reused" in [a[0] for a in await actions(api)]


async def test_logout_revokes_access_and_refresh_at_once(api: Api) -> None:
    tokens = (await api.login("a")).json()
    other_device = (await api.login("a")).json()
    out = await api.client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert out.status_code == 204
    for access in (tokens["access_token"], other_device["access_token"]):
        assert (await api.client.get("/api/v1/positions", headers=bearer(access))).status_code == 401
    refresh = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other_device["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert "logout" in [a[0] for a in await actions(api)]
    assert (await api.login("a")).status_code == 200  # a new login works again


async def test_disabling_or_demoting_a_user_ends_their_sessions_immediately(api: Api) -> None:
    trader = api.auth("a")
    risk = api.auth("risk")
    assert (await api.client.get("/api/v1/positions", headers=trader)).status_code == 200
    assert (await api.client.get("/api/v1/risk/accounts", headers=risk)).status_code == 200
    await api.runtime.write(set_active, "a@test.local", False)
    assert (await api.client.get("/api/v1/positions", headers=trader)).status_code == 401
    await api.runtime.write(set_role, "risk@test.local", "trader")
    assert (await api.client.get("/api/v1/risk/accounts", headers=risk)).status_code == 401


async def test_logout_in_one_process_is_refused_in_another_at_once(
    api: Api, make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    """Two app processes share the database and Redis; each caches session state in process."""
    runtimes = [
        make_runtime(
            api.runtime.database, make_cache(namespace=namespace, redis_url=redis_url, local_ttl_s=60)
        )
        for _ in range(2)
    ]
    clients = []
    for runtime in runtimes:
        await runtime.cache.start()
        assert await runtime.cache.wait_subscribed()
        clients.append(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(runtime)), base_url="http://t")
        )
    try:
        tokens = (
            await clients[0].post("/api/v1/auth/login", json={"email": "a@test.local", "password": PASSWORD})
        ).json()
        headers = bearer(tokens["access_token"])
        assert (
            await clients[1].get("/api/v1/positions", headers=headers)
        ).status_code == 200  # cached there now
        assert (await clients[0].post("/api/v1/auth/logout", headers=headers)).status_code == 204
        for _ in range(50):  # pub/sub delivery takes well under a millisecond; allow a little
            if (await clients[1].get("/api/v1/positions", headers=headers)).status_code == 401:
                break
        else:
            raise AssertionError("the other process still accepts the logged-out token")
    finally:
        for client in clients:
            await client.aclose()


async def test_five_failures_lock_the_account_with_retry_after(api: Api) -> None:
    for _ in range(5):
        assert (await api.login("a", "wrong")).status_code == 401
    locked = await api.login("a")  # even the right password, while locked
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert locked.json()["detail"] == "too many failed logins; try again later"
    assert (await api.login("b")).status_code == 200  # another account from the same address still works
    assert "login_locked" in [a[0] for a in await actions(api)]


async def test_one_address_guessing_many_accounts_is_throttled(api: Api, database: Any) -> None:
    runtime = make_runtime(database, login_max_failures_per_addr=3)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(runtime)), base_url="http://t")
    try:
        for name in ("x1", "x2", "x3"):
            answer = await client.post(
                "/api/v1/auth/login", json={"email": f"{name}@test.local", "password": "p"}
            )
            assert answer.status_code == 401
        answer = await client.post("/api/v1/auth/login", json={"email": "a@test.local", "password": PASSWORD})
        assert answer.status_code == 429 and "retry-after" in answer.headers
    finally:
        await client.aclose()
        await runtime.cache.close()


async def test_a_successful_login_resets_the_account_counter(api: Api) -> None:
    for _ in range(4):
        await api.login("a", "wrong")
    assert (await api.login("a")).status_code == 200
    for _ in range(4):
        assert (await api.login("a", "wrong")).status_code == 401
    assert (await api.login("a")).status_code == 200


async def test_demo_users_cannot_log_in_outside_demo_mode(api: Api, database: Any) -> None:
    from dashboard.db.models import User

    async with database.session() as s:
        user = (await s.execute(select(User).where(User.email == "a@test.local"))).scalar_one()
        user.is_demo = True
    production = make_runtime(database, env="production")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(production)), base_url="http://t")
    try:
        answer = await client.post("/api/v1/auth/login", json={"email": "a@test.local", "password": PASSWORD})
        assert answer.status_code == 401
    finally:
        await client.aclose()
    assert (await api.login("a")).status_code == 200  # the demo runtime lets it in


async def test_unused_cache_config_is_valid() -> None:
    assert QueryCache(CacheConfig()).backend == "in-process"
