"""`at` on the read API: the status, guards and risk reads answer as of a past moment (history
written through the real ingestion services, before and after a drawdown breach), the `/as-of`
reads list what was open then, a future or zoneless moment is a 422 naming `at`, visibility is the
live reads', and the OpenAPI schema documents the parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.positions import record_position_opened
from tests.api.conftest import Api
from tests.factories import T0

BREACH = T0 + timedelta(minutes=10)
DURING = T0 + timedelta(minutes=15)
OPENED = T0 + timedelta(minutes=30)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def history(api: Api) -> None:
    """Trader A: 16 % drawdown at T0+10m, recovered to 1 % at T0+20m; a new position at T0+30m."""
    own = api.world.account["a"]
    for ts, equity in ((BREACH, "8400.00"), (T0 + timedelta(minutes=20), "9900.00")):
        body = {"account_id": own, "ts": ts.isoformat(), "balance": "10000.00", "equity": equity}
        await api.runtime.write(record_equity, body)
    opened = {
        "account_id": own,
        "identifier": 3001,
        "ticket": 3001,
        "symbol": "GBPUSD",
        "side": "sell",
        "volume": "0.50",
        "price_open": "1.27000",
        "opened_at": OPENED.isoformat(),
    }
    await api.runtime.write(record_position_opened, opened)


async def test_the_risk_wall_as_of_a_moment_has_that_moments_values(api: Api) -> None:
    await history(api)
    own = api.world.account["a"]
    then = await api.get("/api/v1/risk/accounts", "risk", params={"at": iso(DURING)})
    assert then.status_code == 200, then.text
    body = then.json()
    (a,) = [g for g in body["accounts"] if g["account_id"] == own]
    assert (a["drawdown_pct"], a["dd_level"], a["equity"]) == ("16.0000", "critical", "8400.00")
    assert body["as_of"].startswith("2026-11-02T12:15:00") and body["accounts"][0]["account_id"] == own
    critical = await api.get("/api/v1/risk/accounts", "risk", params={"at": iso(DURING), "level": "critical"})
    assert [g["account_id"] for g in critical.json()["accounts"]] == [own]
    now = (await api.get("/api/v1/risk/accounts", "risk")).json()
    (live,) = [g for g in now["accounts"] if g["account_id"] == own]
    assert (live["drawdown_pct"], live["dd_level"]) == ("1.0000", "normal")
    assert (await api.get("/api/v1/risk/accounts", "a", params={"at": iso(DURING)})).status_code == 403


async def test_guards_status_as_of_a_moment_is_the_callers_accounts_then(api: Api) -> None:
    await history(api)
    response = await api.get("/api/v1/guards/status", "a", params={"at": iso(DURING)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [g["account_id"] for g in body["guards"]["accounts"]] == [api.world.account["a"]]
    assert body["guards"]["accounts"][0]["equity"] == "8400.00"
    # Quotes have no history: no market guards for a past moment (rather than today's).
    assert body["market"]["symbols"] == [] and body["market"]["as_of"] == body["guards"]["as_of"]


async def test_reconciliation_status_positions_and_incidents_as_of_a_moment(api: Api) -> None:
    await history(api)
    before = (await api.get("/api/v1/reconciliation/status", "a", params={"at": iso(DURING)})).json()
    after = (await api.get("/api/v1/reconciliation/status", "a", params={"at": iso(OPENED)})).json()
    assert (before["open_positions_count"], after["open_positions_count"]) == (1, 2)
    assert before["total_syncs"] == 1 and before["as_of"].startswith("2026-11-02T12:15:00")
    early = (await api.get("/api/v1/reconciliation/status", "a", params={"at": iso(T0)})).json()
    assert (early["total_syncs"], early["divergences_detected"]) == (0, 0)  # the first sync came at T0+1m

    listed = await api.get("/api/v1/positions/as-of", "a", params={"at": iso(OPENED)})
    assert listed.status_code == 200, listed.text
    positions = listed.json()["positions"]
    assert [p["symbol"] for p in positions] == ["GBPUSD", "EURUSD"]  # newest opened first
    assert {(p["profit"], p["swap"], p["price_current"]) for p in positions} == {(None, None, None)}
    earlier = (await api.get("/api/v1/positions/as-of", "a", params={"at": iso(DURING)})).json()
    assert [p["symbol"] for p in earlier["positions"]] == ["EURUSD"]
    other = await api.get(
        "/api/v1/positions/as-of", "b", params={"at": iso(OPENED), "account_id": api.world.account["a"]}
    )
    assert other.status_code == 404

    incidents = await api.get("/api/v1/reconciliation/incidents/as-of", "a", params={"at": iso(DURING)})
    assert incidents.status_code == 200, incidents.text
    assert [i["kind"] for i in incidents.json()["incidents"]] == ["sl_mismatch"]
    none_yet = await api.get("/api/v1/reconciliation/incidents/as-of", "a", params={"at": iso(T0)})
    assert none_yet.json()["incidents"] == []


async def test_a_future_zoneless_or_missing_moment_is_a_422_naming_at(api: Api) -> None:
    future = iso(datetime.now(UTC) + timedelta(minutes=5))
    for path, who in (
        ("/api/v1/risk/accounts", "risk"),
        ("/api/v1/guards/status", "a"),
        ("/api/v1/reconciliation/status", "a"),
        ("/api/v1/positions/as-of", "a"),
        ("/api/v1/reconciliation/incidents/as-of", "a"),
    ):
        for bad in (future, "2026-11-02T12:15:00", "1969-12-31T23:59:59Z", "soon"):
            response = await api.get(path, who, params={"at": bad})
            assert response.status_code == 422, (path, bad, response.text)
            assert response.json()["field"] == "at", (path, bad, response.text)
        assert "future" in (await api.get(path, who, params={"at": future})).json()["detail"]
    for path in ("/api/v1/positions/as-of", "/api/v1/reconciliation/incidents/as-of"):
        missing = await api.get(path, "a")
        assert missing.status_code == 422 and missing.json()["field"] == "at"


async def test_openapi_documents_at(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    for path in ("/risk/accounts", "/guards/status", "/reconciliation/status"):
        parameters = spec["paths"][f"/api/v1{path}"]["get"]["parameters"]
        (at,) = [p for p in parameters if p["name"] == "at"]
        assert at["required"] is False and "past moment" in at["description"], path
    for path in ("/positions/as-of", "/reconciliation/incidents/as-of"):
        parameters = spec["paths"][f"/api/v1{path}"]["get"]["parameters"]
        (at,) = [p for p in parameters if p["name"] == "at"]
        assert at["required"] is True, path


async def test_as_of_reads_are_cached_per_second_and_dropped_by_a_late_write(api: Api) -> None:
    """Keyed on `at` truncated to the second (two moments in one second share the read), and in
    the live reads' families: a late row about the past (a fill reported late) is seen at once."""
    await history(api)

    async def status(at: str) -> tuple[int, str]:
        body = (await api.get("/api/v1/reconciliation/status", "a", params={"at": at})).json()
        return body["open_positions_count"], body["as_of"]

    first = await status("2026-11-02T12:15:00.200Z")
    assert first[0] == 1 and first[1].startswith("2026-11-02T12:15:00") and "." not in first[1]
    assert await status("2026-11-02T12:15:00.700+00:00") == first
    late = {
        "account_id": api.world.account["a"],
        "identifier": 3002,
        "ticket": 3002,
        "symbol": "USDJPY",
        "side": "buy",
        "volume": "0.10",
        "price_open": "150.000",
        "opened_at": (DURING - timedelta(minutes=3)).isoformat(),  # 12:12, reported now
    }
    await api.runtime.write(record_position_opened, late)
    assert (await status(iso(DURING)))[0] == 2


async def test_the_first_moment_of_the_calendar_is_an_empty_answer_not_an_error(api: Api) -> None:
    for path, who in (
        ("/api/v1/risk/accounts", "risk"),
        ("/api/v1/guards/status", "a"),
        ("/api/v1/reconciliation/status", "a"),
        ("/api/v1/positions/as-of", "a"),
        ("/api/v1/reconciliation/incidents/as-of", "risk"),
    ):
        response = await api.get(path, who, params={"at": "1970-01-01T00:00:00Z"})
        assert response.status_code == 200, (path, response.text)
    wall = (await api.get("/api/v1/risk/accounts", "risk", params={"at": "1970-01-01T00:00:00Z"})).json()
    assert wall["accounts"] == []  # no account existed yet
