"""Bad input per endpoint: 4xx with a message naming the field, never a 500, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import AuditLog, EquitySnapshot, ReconciliationLog
from tests.api.conftest import Api

READS = [
    ("/api/v1/reconciliation/timeline", {"since": "2026-11-02T10:00:00"}, "since"),
    ("/api/v1/reconciliation/timeline", {"since": "yesterday"}, "since"),
    ("/api/v1/reconciliation/timeline", {"account_id": "-1"}, "account_id"),
    ("/api/v1/reconciliation/timeline", {"account_id": str(2**70)}, "account_id"),
    ("/api/v1/reconciliation/timeline", {"limit": "0"}, "limit"),
    (
        "/api/v1/reconciliation/timeline",
        {"since": "2026-11-03T00:00:00Z", "until": "2026-11-02T00:00:00Z"},
        "since",
    ),
    ("/api/v1/positions", {"side": "long"}, "side"),
    ("/api/v1/positions", {"symbol": "EUR USD"}, "symbol"),
    ("/api/v1/positions", {"sort": "password_hash"}, "sort"),
    ("/api/v1/positions", {"account_id": "abc"}, "account_id"),
    ("/api/v1/positions/0", {}, "position_id"),
    ("/api/v1/positions/abc", {}, "position_id"),
    ("/api/v1/positions/99999999999999999999999", {}, "position_id"),
    ("/api/v1/guards/events", {"limit": "5000"}, "limit"),
    ("/api/v1/guards/events", {"guard_type": "moon"}, "guard_type"),
    ("/api/v1/guards/events", {"since": "2026-13-40T00:00:00Z"}, "since"),
    ("/api/v1/accounts/0/equity", {}, "account_id"),
    ("/api/v1/accounts/1/equity", {"max_points": "1"}, "max_points"),
    ("/api/v1/accounts/1/equity", {"until": "2026-11-02T00:00:00+25:00"}, "until"),
    ("/api/v1/risk/accounts", {"level": "extreme"}, "level"),
]


@pytest.mark.parametrize(("path", "params", "field"), READS)
async def test_bad_read_parameters_name_the_field(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    response = await api.get(path, "risk", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field and field in body["detail"]


LOGINS: list[tuple[Any, str]] = [
    ({"email": "a@test.local"}, "password"),
    ({"password": "x"}, "email"),
    ({"email": "a@test.local", "password": "x", "admin": True}, "admin"),
    ({"email": "a" * 300, "password": "x"}, "email"),
    ({"email": "a@test.local", "password": "x" * 2000}, "password"),
    ([1, 2], "body"),
]


@pytest.mark.parametrize(("body", "field"), LOGINS)
async def test_bad_login_bodies(api: Api, body: Any, field: str) -> None:
    response = await api.client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 422 and response.json()["field"] == field


async def test_non_json_login_body(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    async with api.runtime.database.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one() == 0


def sync(account_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"account_id": account_id, "sync_id": "bad-1", "taken_at": "2026-11-02T13:00:00Z"}
    body.update(overrides)
    return body


INGEST: list[tuple[str, Any, str]] = [
    (
        "quotes",
        {"quotes": [{"symbol": "EURUSD", "bid": "1.1", "ask": "1.2", "ts": "2099-01-01T00:00:00Z"}]},
        "quotes.0.ts",
    ),
    ("syncs", "no-account", "account_id"),
    ("syncs", "unknown-account", "account_id"),
    ("syncs", {"taken_at": "2026-11-02T13:00:00"}, "taken_at"),
    ("syncs", {"sync_id": "has space"}, "sync_id"),
    ("syncs", {"positions": [{"identifier": 1}]}, "positions.0.ticket"),
    ("syncs", {"event_type": "sync_failed"}, "body"),
    ("equity", {"ts": "2026-11-02T13:00:00Z", "balance": "1", "equity": "-"}, "account_id"),
    ("equity", "bad-equity", "equity"),
    ("quotes", {"quotes": []}, "quotes"),
    (
        "quotes",
        {"quotes": [{"symbol": "NOPE", "bid": "1", "ask": "1.1", "ts": "2026-11-02T13:00:00Z"}]},
        "quotes.0.symbol",
    ),
    (
        "quotes",
        {"quotes": [{"symbol": "EURUSD", "bid": "1.2", "ask": "1.1", "ts": "2026-11-02T13:00:00Z"}]},
        "quotes.0",
    ),
    (
        "quotes",
        {"quotes": [{"symbol": "EURUSD", "bid": "-1", "ask": "1.1", "ts": "2026-11-02T13:00:00Z"}]},
        "quotes.0.bid",
    ),
]


@pytest.mark.parametrize(("kind", "body", "field"), INGEST)
async def test_bad_ingestion_is_refused_and_writes_nothing(
    api: Api, kind: str, body: Any, field: str
) -> None:
    account_id = api.world.account["a"]
    if body == "no-account":
        body = {"sync_id": "x", "taken_at": "2026-11-02T13:00:00Z"}
    elif body == "unknown-account":
        body = sync(424242)
    elif body == "bad-equity":
        body = {"account_id": account_id, "ts": "2026-11-02T13:00:00Z", "balance": "1", "equity": "1.005"}
    elif kind == "syncs":
        body = sync(account_id, **body)
    async with api.runtime.database.read_session() as s:
        before = [
            (await s.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (ReconciliationLog, EquitySnapshot)
        ]
    response = await api.client.post(f"/api/v1/ingest/{kind}", json=body, headers=api.auth("bot"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field, response.json()
    async with api.runtime.database.read_session() as s:
        after = [
            (await s.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (ReconciliationLog, EquitySnapshot)
        ]
    assert before == after
