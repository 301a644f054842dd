"""`/api/v1/admin`: users, sessions and service tokens over the API, as an admin's script uses
them; every other role is a 403, no token a 401, and a service token is in one answer only."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dashboard.db.models import AuditLog, User
from tests.api.conftest import Api, make_app, make_runtime
from tests.conftest import CacheFactory

BASE = "/api/v1/admin"
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/users", None),
    ("POST", "/users", {"email": "new@test.local", "role": "trader", "password": "a long passphrase"}),
    ("PATCH", "/users/{a}", {"active": False}),
    ("POST", "/users/{a}/end-sessions", None),
    ("GET", "/users/{a}/sessions", None),
    ("GET", "/service-tokens", None),
    ("POST", "/service-tokens", {"email": "bot@test.local", "name": "x", "days": 1}),
    ("DELETE", "/service-tokens/abcdefghij", None),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(api: Api, method: str, path: str, as_: str | None, body: Any = None) -> httpx.Response:
    headers = api.auth(as_) if as_ else {}
    url = BASE + path.format(a=api.world.users["a"])
    return await api.client.request(method, url, headers=headers, json=body)


async def audit_rows(api: Api) -> list[AuditLog]:
    async with api.runtime.database.read_session() as s:
        return list((await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars())


async def me(api: Api, token: str) -> int:
    return (await api.client.get("/api/v1/auth/me", headers=bearer(token))).status_code


async def test_only_admins_get_in(api: Api) -> None:
    for method, path, body in ENDPOINTS:
        assert (await call(api, method, path, None, body)).status_code == 401, path
        for who in ("risk", "a", "bot"):
            response = await call(api, method, path, who, body)
            assert response.status_code == 403, (method, path, who)
            assert response.json()["detail"] == "this endpoint is for admin users"
    assert [r.action for r in await audit_rows(api)] == []  # nothing happened
    async with api.runtime.database.read_session() as s:
        assert (await s.execute(select(User).where(User.email == "new@test.local"))).first() is None
        a = await s.get(User, api.world.users["a"])
    assert a is not None and a.is_active and a.session_version == 0


async def test_an_admin_lists_users_with_their_sessions_and_last_login(api: Api) -> None:
    for _ in range(2):
        assert (await api.login("a")).status_code == 200
    users = (await call(api, "GET", "/users", "admin")).json()["users"]
    rows = {u["email"]: u for u in users}
    assert rows["a@test.local"]["active_sessions"] == 2
    assert rows["a@test.local"]["last_login_addr"] == "127.0.0.1" and rows["a@test.local"]["last_login_at"]
    assert rows["b@test.local"]["active_sessions"] == 0 and rows["b@test.local"]["last_login_at"] is None
    assert rows["admin@test.local"]["role"] == "admin" and "password_hash" not in rows["a@test.local"]
    sessions = (await call(api, "GET", "/users/{a}/sessions", "admin")).json()
    assert sessions["email"] == "a@test.local"
    assert [(s["via"], s["client_addr"]) for s in sessions["sessions"]] == [("api", "127.0.0.1")] * 2
    missing = await api.client.get(f"{BASE}/users/987654/sessions", headers=api.auth("admin"))
    assert missing.status_code == 404


async def test_an_admin_creates_a_user_who_can_log_in(api: Api) -> None:
    body = {
        "email": " Carol@Test.Local ",
        "role": "trader",
        "password": "a long passphrase",
        "display_name": "Carol",
    }
    created = await call(api, "POST", "/users", "admin", body)
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("email", "role", "display_name", "is_active")} == {
        "email": "carol@test.local",
        "role": "trader",
        "display_name": "Carol",
        "is_active": True,
    }
    login = await api.client.post(
        "/api/v1/auth/login", json={"email": "carol@test.local", "password": "a long passphrase"}
    )
    assert login.status_code == 200
    assert (await call(api, "POST", "/users", "admin", body)).status_code == 409
    for bad, field in (
        ({**body, "email": "d@test.local", "password": "short"}, "password"),
        ({**body, "email": "not an address"}, "email"),
        ({**body, "email": "d@test.local", "role": "boss"}, "role"),
        ({**body, "email": "d@test.local", "is_admin": True}, "is_admin"),
    ):
        refused = await call(api, "POST", "/users", "admin", bad)
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    [row] = [r for r in await audit_rows(api) if r.action == "user_created"]
    assert (row.actor_user_id, row.target, row.client_addr) == (
        api.world.users["admin"],
        "carol@test.local",
        "127.0.0.1",
    )
    assert "a long passphrase" not in json.dumps([r.detail for r in await audit_rows(api)])


async def test_role_and_state_changes_end_sessions_and_an_admin_cannot_lock_themselves_out(api: Api) -> None:
    token = api.token("a")
    assert await me(api, token) == 200
    changed = await call(api, "PATCH", "/users/{a}", "admin", {"role": "risk"})
    assert changed.status_code == 200 and changed.json()["role"] == "risk"
    assert await me(api, token) == 401  # the old token carries the old role and version
    disabled = await call(api, "PATCH", "/users/{a}", "admin", {"active": False})
    assert disabled.json()["is_active"] is False
    assert (await api.login("a")).status_code == 401
    admin_id = api.world.users["admin"]
    for patch, field in (({"active": False}, "active"), ({"role": "trader"}, "role")):
        refused = await api.client.patch(f"{BASE}/users/{admin_id}", headers=api.auth("admin"), json=patch)
        assert refused.status_code == 422 and refused.json()["field"] == field
        assert "yourself" in refused.json()["detail"] or "your own" in refused.json()["detail"]
    assert (
        await api.client.patch(f"{BASE}/users/987654", headers=api.auth("admin"), json={"active": True})
    ).status_code == 404
    assert (await call(api, "PATCH", "/users/{a}", "admin", {})).status_code == 422
    assert (await call(api, "PATCH", "/users/{a}", "admin", {"role": "boss"})).status_code == 422
    actions = [(r.action, r.actor_user_id) for r in await audit_rows(api)]
    assert ("role_changed", admin_id) in actions and ("user_disabled", admin_id) in actions


async def test_ending_sessions_ends_every_session_of_the_user(api: Api) -> None:
    first = (await api.login("a")).json()
    second = (await api.login("a")).json()
    ended = await call(api, "POST", "/users/{a}/end-sessions", "admin")
    assert ended.status_code == 200 and ended.json()["email"] == "a@test.local"
    for pair in (first, second):
        assert await me(api, pair["access_token"]) == 401
        refreshed = await api.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 401
    assert (await call(api, "GET", "/users/{a}/sessions", "admin")).json()["sessions"] == []
    [row] = [r for r in await audit_rows(api) if r.action == "sessions_ended"]
    assert (row.actor_user_id, row.target, row.client_addr) == (
        api.world.users["admin"],
        "a@test.local",
        "127.0.0.1",
    )
    missing = await api.client.post(f"{BASE}/users/987654/end-sessions", headers=api.auth("admin"))
    assert missing.status_code == 404


async def test_a_service_token_is_shown_once_listed_without_it_and_revoked_alone(api: Api) -> None:
    issued = []
    for name in ("bridge-1", "bridge-2"):
        response = await call(
            api, "POST", "/service-tokens", "admin", {"email": "bot@test.local", "name": name, "days": 30}
        )
        assert response.status_code == 201, response.text
        issued.append(response.json())
    for new in issued:
        assert await me(api, new["token"]) == 200
        assert (
            new["service_token"]["state"] == "active"
            and new["service_token"]["user_email"] == "bot@test.local"
        )
    listing = await call(api, "GET", "/service-tokens", "admin")
    assert [t["name"] for t in listing.json()["tokens"]] == ["bridge-2", "bridge-1"]
    first_jti = issued[0]["service_token"]["jti"]

    revoked = await call(api, "DELETE", f"/service-tokens/{first_jti}", "admin")
    assert revoked.status_code == 204
    assert await me(api, issued[0]["token"]) == 401  # the very next request
    assert await me(api, issued[1]["token"]) == 200  # the user's other token still works
    states = {
        t["name"]: t["state"] for t in (await call(api, "GET", "/service-tokens", "admin")).json()["tokens"]
    }
    assert states == {"bridge-1": "revoked", "bridge-2": "active"}
    assert (await call(api, "DELETE", f"/service-tokens/{first_jti}", "admin")).status_code == 409
    assert (await call(api, "DELETE", "/service-tokens/zzzzzzzzzz", "admin")).status_code == 404
    assert (await call(api, "DELETE", "/service-tokens/abc", "admin")).status_code == 422

    texts = listing.text + json.dumps([(r.target, r.detail) for r in await audit_rows(api)])
    for new in issued:
        assert new["token"] not in texts and new["token"].split(".")[2] not in texts
    rows = [
        (r.action, r.actor_user_id, r.target) for r in await audit_rows(api) if "service_token" in r.action
    ]
    admin_id = api.world.users["admin"]
    assert rows == [
        ("service_token_issued", admin_id, f"service_token:{issued[0]['service_token']['jti']}"),
        ("service_token_issued", admin_id, f"service_token:{issued[1]['service_token']['jti']}"),
        ("service_token_revoked", admin_id, f"service_token:{first_jti}"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "a@test.local", "name": "x", "days": 30}, 422, "email"),  # a trader
        ({"email": "bot@test.local", "name": "x", "days": 0}, 422, "days"),
        ({"email": "bot@test.local", "name": "x", "days": 366}, 422, "days"),
        ({"email": "bot@test.local", "name": "", "days": 30}, 422, "name"),
        ({"email": "bot@test.local", "name": "   ", "days": 30}, 422, "name"),
        ({"email": "nobody@test.local", "name": "x", "days": 30}, 404, None),
    ],
)
async def test_service_token_rules(api: Api, body: dict[str, Any], status: int, field: str | None) -> None:
    response = await call(api, "POST", "/service-tokens", "admin", body)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert (await call(api, "GET", "/service-tokens", "admin")).json()["tokens"] == []


async def test_a_revoked_token_is_refused_by_another_process_at_once(
    api: Api, make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
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
        admin = {"Authorization": f"Bearer {api.token('admin')}"}
        issued = (
            await clients[0].post(
                f"{BASE}/service-tokens",
                headers=admin,
                json={"email": "bot@test.local", "name": "b", "days": 1},
            )
        ).json()
        token = bearer(issued["token"])
        assert (await clients[1].get("/api/v1/auth/me", headers=token)).status_code == 200  # cached there
        jti = issued["service_token"]["jti"]
        assert (
            await clients[0].delete(f"{BASE}/service-tokens/{jti[:10]}", headers=admin)
        ).status_code == 204
        for _ in range(50):  # pub/sub delivery takes well under a millisecond; allow a little
            if (await clients[1].get("/api/v1/auth/me", headers=token)).status_code == 401:
                break
        else:
            raise AssertionError("the other process still accepts the revoked token")
    finally:
        for client in clients:
            await client.aclose()


async def test_openapi_documents_the_admin_endpoints(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, methods in (
        ("/api/v1/admin/users", {"get", "post"}),
        ("/api/v1/admin/users/{user_id}", {"patch"}),
        ("/api/v1/admin/users/{user_id}/end-sessions", {"post"}),
        ("/api/v1/admin/users/{user_id}/sessions", {"get"}),
        ("/api/v1/admin/service-tokens", {"get", "post"}),
        ("/api/v1/admin/service-tokens/{jti}", {"delete"}),
    ):
        assert methods <= set(paths[path]), path
        for method in methods:
            assert "403" in paths[path][method]["responses"], (path, method)
    assert "ServiceTokenIssuedOut" in spec["components"]["schemas"]
