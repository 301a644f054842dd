"""Ingestion endpoints as the bridge uses them: service token in, write stored once, the next
read (already cached) shows it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.api.conftest import Api
from tests.factories import T0

AT = T0 + timedelta(minutes=30)
WINDOW = {"since": (T0 - timedelta(hours=1)).isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}


def snapshot(api: Api, sync_id: str = "bridge-1") -> dict[str, object]:
    account_id = api.world.account["a"]
    identifier = 1000 + account_id
    return {
        "account_id": account_id,
        "sync_id": sync_id,
        "taken_at": AT.isoformat(),
        "positions": [
            {
                "identifier": identifier,
                "ticket": identifier,
                "symbol": "EURUSD",
                "side": "buy",
                "volume": "1.00",
                "price_open": "1.08500",
                "price_current": "1.08600",
                "sl": "1.07000",
                "opened_at": T0.isoformat(),
            },
            {
                "identifier": 4242,
                "ticket": 4242,
                "symbol": "XAUUSD",
                "side": "sell",
                "volume": "0.10",
                "price_open": "2350.00",
                "price_current": "2349.00",
                "opened_at": AT.isoformat(),
            },
        ],
    }


async def test_sync_is_stored_once_and_the_next_read_shows_it(api: Api) -> None:
    before = (await api.get("/api/v1/reconciliation/status", "a")).json()  # now cached
    positions_before = (await api.get("/api/v1/positions", "a")).json()["positions"]
    first = await api.client.post("/api/v1/ingest/syncs", json=snapshot(api), headers=api.auth("bot"))
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    again = await api.client.post("/api/v1/ingest/syncs", json=snapshot(api), headers=api.auth("bot"))
    assert again.json()["status"] == "duplicate"
    after = (await api.get("/api/v1/reconciliation/status", "a")).json()
    assert after["total_syncs"] == before["total_syncs"] + 1  # once, not twice
    positions = (await api.get("/api/v1/positions", "a")).json()["positions"]
    assert len(positions) == len(positions_before) + 1  # the unknown broker position was adopted
    risk_view = (await api.get("/api/v1/reconciliation/status", "risk")).json()
    assert risk_view["total_syncs"] == 3


async def test_equity_updates_the_gauges_on_the_next_read(api: Api) -> None:
    account_id = api.world.account["a"]
    gauge = (await api.get("/api/v1/guards/status", "a")).json()["guards"]["accounts"][0]
    assert gauge["dd_level"] == "warning"
    body = {"account_id": account_id, "ts": AT.isoformat(), "balance": "10000.00", "equity": "8400.00"}
    response = await api.client.post("/api/v1/ingest/equity", json=body, headers=api.auth("bot"))
    assert response.status_code == 200
    assert response.json()["detail"]["level"] == "critical"
    gauge = (await api.get("/api/v1/guards/status", "a")).json()["guards"]["accounts"][0]
    assert (gauge["drawdown_pct"], gauge["dd_level"]) == ("16.0000", "critical")
    wall = (await api.get("/api/v1/risk/accounts", "risk")).json()["accounts"]
    assert wall[0]["account_id"] == account_id and wall[0]["dd_level"] == "critical"
    curve = (await api.get(f"/api/v1/accounts/{account_id}/equity", "a", params=WINDOW)).json()["points"]
    assert curve[-1]["equity"] == "8400.00"


async def test_quotes_update_the_market_guards_for_everybody(api: Api) -> None:
    for who in ("a", "b"):
        await api.get("/api/v1/guards/status", who)
    quote = {"symbol": "EURUSD", "bid": "1.08600", "ask": "1.08610", "ts": AT.isoformat()}
    response = await api.client.post(
        "/api/v1/ingest/quotes", json={"quotes": [quote]}, headers=api.auth("bot")
    )
    assert response.status_code == 200 and response.json()["detail"]["accepted"] == 1
    for who in ("a", "b"):
        market = (await api.get("/api/v1/guards/status", who)).json()["market"]["symbols"]
        assert [(m["symbol"], Decimal(m["bid"])) for m in market] == [("EURUSD", Decimal("1.08600"))]


async def test_position_fill_endpoint(api: Api) -> None:
    fill = {
        "account_id": api.world.account["b"],
        "identifier": 777,
        "ticket": 777,
        "symbol": "GBPUSD",
        "side": "sell",
        "volume": "0.30",
        "price_open": "1.27000",
        "opened_at": AT.isoformat(),
    }
    assert (
        await api.client.post("/api/v1/ingest/positions", json=fill, headers=api.auth("bot"))
    ).status_code == 200
    dup = await api.client.post("/api/v1/ingest/positions", json=fill, headers=api.auth("bot"))
    assert dup.json()["status"] == "duplicate"
    symbols = {p["symbol"] for p in (await api.get("/api/v1/positions", "b")).json()["positions"]}
    assert "GBPUSD" in symbols


async def test_only_service_accounts_ingest(api: Api) -> None:
    for who in ("a", "risk", "admin"):
        response = await api.client.post("/api/v1/ingest/syncs", json=snapshot(api), headers=api.auth(who))
        assert response.status_code == 403
    assert (await api.client.post("/api/v1/ingest/syncs", json=snapshot(api))).status_code == 401
