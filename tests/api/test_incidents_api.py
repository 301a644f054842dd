"""`/api/v1/reconciliation/incidents/...` (incidents as work items) as clients use it: risk takes an
incident from open to resolved, a trader reads and comments on their own and is refused the rest
(403) and anybody else's (404), bad bodies are 422 naming the field, bulk actions, the stats, and
the OpenAPI documents every path. The world (`tests.api.conftest`): traders A and B each with one
open SL mismatch."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from dashboard.db.models import AuditLog, DivergenceIncident
from tests.api.conftest import Api

BASE = "/api/v1/reconciliation/incidents"


async def call(api: Api, method: str, path: str, as_: str | None, body: Any = None) -> httpx.Response:
    headers = api.auth(as_) if as_ else {}
    return await api.client.request(method, f"{BASE}{path}", headers=headers, json=body)


async def incident_of(api: Api, name: str) -> int:
    async with api.runtime.database.read_session() as s:
        return (
            await s.execute(
                select(DivergenceIncident.id).where(DivergenceIncident.account_id == api.world.account[name])
            )
        ).scalar_one()


async def incident_audit(api: Api) -> list[AuditLog]:
    async with api.runtime.database.read_session() as s:
        stmt = select(AuditLog).where(AuditLog.action.like("incident_%")).order_by(AuditLog.id)
        return list((await s.execute(stmt)).scalars())


async def test_risk_takes_an_incident_from_open_to_resolved(api: Api) -> None:
    incident = await incident_of(api, "a")
    detail = await call(api, "GET", f"/{incident}", "risk")
    assert detail.status_code == 200
    assert (detail.json()["state"], detail.json()["assignee"], detail.json()["comments"]) == (
        "open",
        None,
        [],
    )

    acked = await call(api, "POST", f"/{incident}/acknowledge", "risk")
    assert acked.status_code == 200
    assert acked.json() == {
        "incident_id": incident,
        "state": "acknowledged",
        "assignee": None,
        "changed": True,
    }
    assert (await call(api, "POST", f"/{incident}/acknowledge", "admin")).json()["changed"] is False

    assigned = await call(api, "POST", f"/{incident}/assign", "risk", {"assignee_email": "admin@test.local"})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "admin@test.local"

    commented = await call(api, "POST", f"/{incident}/comments", "risk", {"body": "calling the broker"})
    assert commented.status_code == 201 and commented.json()["incident_id"] == incident

    resolved = await call(api, "POST", f"/{incident}/resolve", "risk", {"note": "broker fixed the SL"})
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    again = await call(api, "POST", f"/{incident}/resolve", "risk", {"note": "twice"})
    assert again.status_code == 422

    body = (await call(api, "GET", f"/{incident}", "risk")).json()
    assert (body["state"], body["resolution"], body["resolver"], body["resolution_note"]) == (
        "resolved",
        "manual",
        "risk@test.local",
        "broker fixed the SL",
    )
    assert (body["acknowledger"], body["assignee"]) == ("risk@test.local", "admin@test.local")
    assert [c["body"] for c in body["comments"]] == ["calling the broker", "Resolved: broker fixed the SL"]
    # The lists show the state and the assignee too (the write invalidated them).
    history = (await api.get("/api/v1/reconciliation/incidents", "risk")).json()["incidents"]
    listed = next(i for i in history if i["id"] == incident)
    assert (listed["state"], listed["assignee"]) == ("resolved", "admin@test.local")
    status = (await api.get("/api/v1/reconciliation/status", "a")).json()
    assert status["open_incidents"] == 0

    actions = [(e.action, e.target, e.actor_user_id) for e in await incident_audit(api)]
    risk = api.world.users["risk"]
    assert actions == [
        ("incident_acknowledged", f"incident:{incident}", risk),
        ("incident_assigned", f"incident:{incident}", risk),
        ("incident_commented", f"incident:{incident}", risk),
        ("incident_resolved", f"incident:{incident}", risk),
    ]
    assert all(e.client_addr for e in await incident_audit(api))


async def test_a_trader_reads_and_comments_on_own_but_changes_nothing_else(api: Api) -> None:
    own, other = await incident_of(api, "a"), await incident_of(api, "b")
    assert (await call(api, "GET", f"/{own}", "a")).status_code == 200
    comment = await call(api, "POST", f"/{own}/comments", "a", {"body": "I moved the SL myself"})
    assert comment.status_code == 201
    for path, body in (
        ("acknowledge", None),
        ("assign", {"assignee_email": "risk@test.local"}),
        ("resolve", {"note": "fine"}),
    ):
        refused = await call(api, "POST", f"/{own}/{path}", "a", body)
        assert refused.status_code == 403, (path, refused.text)
        assert "risk and admin" in refused.json()["detail"]
    bulk = await call(api, "POST", "/bulk", "a", {"ids": [own], "action": "acknowledge"})
    assert bulk.status_code == 403
    # Someone else's incident does not exist for A, whatever the action.
    assert (await call(api, "GET", f"/{other}", "a")).status_code == 404
    for path, body in (
        ("acknowledge", None),
        ("comments", {"body": "hello"}),
        ("resolve", {"note": "fine"}),
    ):
        assert (await call(api, "POST", f"/{other}/{path}", "a", body)).status_code == 404, path
    mixed = await call(api, "POST", "/bulk", "a", {"ids": [own, other], "action": "acknowledge"})
    assert mixed.status_code == 404
    async with api.runtime.database.read_session() as s:
        rows = list((await s.execute(select(DivergenceIncident))).scalars())
    assert all(r.acknowledged_at is None and r.resolution.value == "open" for r in rows)
    assert [e.action for e in await incident_audit(api)] == ["incident_commented"]


async def test_bad_bodies_and_unknown_incidents(api: Api) -> None:
    incident = await incident_of(api, "a")
    cases: list[tuple[str, Any, str]] = [
        ("resolve", {"note": ""}, "note"),
        ("resolve", {"note": "   "}, "note"),
        ("resolve", {}, "note"),
        ("resolve", {"note": "ok", "extra": 1}, "extra"),
        ("assign", {"assignee_email": "a@test.local"}, "assignee_email"),
        ("assign", {}, "assignee_email"),
        ("comments", {"body": "x" * 2001}, "body"),
    ]
    for path, body, field in cases:
        response = await call(api, "POST", f"/{incident}/{path}", "risk", body)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["field"] == field, (path, body, response.json())
    for body in (
        {"ids": list(range(1, 202)), "action": "acknowledge"},
        {"ids": [], "action": "acknowledge"},
        {"ids": [incident], "action": "resolve"},
        {"ids": [0], "action": "acknowledge"},
    ):
        assert (await call(api, "POST", "/bulk", "risk", body)).status_code == 422, body
    assert (await call(api, "GET", "/999999999", "risk")).status_code == 404
    assert (await call(api, "POST", "/999999999/acknowledge", "risk")).status_code == 404
    assert (await call(api, "GET", f"/{incident}", None)).status_code == 401
    assert (await call(api, "GET", f"/{incident}", "bot")).status_code == 403
    assert await incident_audit(api) == []


async def test_bulk_over_both_traders(api: Api) -> None:
    ids = [await incident_of(api, "a"), await incident_of(api, "b")]
    acked = await call(api, "POST", "/bulk", "risk", {"ids": ids, "action": "acknowledge"})
    assert acked.status_code == 200 and acked.json() == {"requested": 2, "changed": 2}
    assigned = await call(
        api, "POST", "/bulk", "admin", {"ids": ids, "action": "assign", "assignee_email": "risk@test.local"}
    )
    assert assigned.json() == {"requested": 2, "changed": 2}
    for name in ("a", "b"):
        listed = (await api.get("/api/v1/reconciliation/incidents?resolution=open", name)).json()["incidents"]
        assert [(i["state"], i["assignee"]) for i in listed] == [("acknowledged", "risk@test.local")]
    missing = await call(api, "POST", "/bulk", "risk", {"ids": [*ids, 999999999], "action": "acknowledge"})
    assert missing.status_code == 404
    assert len(await incident_audit(api)) == 4


async def test_stats_and_that_the_read_routes_still_answer(api: Api) -> None:
    stats = await call(api, "GET", "/stats", "a")
    assert stats.status_code == 200
    body = stats.json()
    assert body["days"] == 7 and body["overall"]["open"]["count"] == 1
    assert [a["account_id"] for a in body["by_account"]] == [api.world.account["a"]]
    everyone = (await call(api, "GET", "/stats?days=30", "risk")).json()
    assert everyone["overall"]["open"]["count"] == 2 and everyone["days"] == 30
    assert (await call(api, "GET", "/stats?days=0", "risk")).status_code == 422
    # `as-of` and the history are the read router's, behind these routes.
    as_of = await api.get("/api/v1/reconciliation/incidents/as-of?at=2026-11-02T12:02:00Z", "risk")
    assert as_of.status_code == 200 and len(as_of.json()["incidents"]) == 2
    assert (await api.get("/api/v1/reconciliation/incidents?limit=5", "risk")).status_code == 200


async def test_openapi_documents_the_incident_endpoints(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        f"{BASE}/{{incident_id}}": {"get"},
        f"{BASE}/{{incident_id}}/acknowledge": {"post"},
        f"{BASE}/{{incident_id}}/assign": {"post"},
        f"{BASE}/{{incident_id}}/comments": {"post"},
        f"{BASE}/{{incident_id}}/resolve": {"post"},
        f"{BASE}/bulk": {"post"},
        f"{BASE}/stats": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert set(paths[path]) == methods
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"] and operation["description"], path
    resolve = paths[f"{BASE}/{{incident_id}}/resolve"]["post"]
    assert {"200", "401", "403", "404", "422"} <= set(resolve["responses"])
    assert "ResolveIn" in str(resolve["requestBody"])
