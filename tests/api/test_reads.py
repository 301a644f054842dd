"""Each read endpoint as a client uses it: bearer token in, the visible data out, in the shapes
the OpenAPI schema declares."""

from __future__ import annotations

from datetime import timedelta

from dashboard.db.models import TradingAccount
from dashboard.domain.enums import PositionStatus
from tests.api.conftest import Api
from tests.factories import T0, make_position

SINCE = (T0 - timedelta(hours=1)).isoformat()
UNTIL = (T0 + timedelta(hours=1)).isoformat()


async def test_reconciliation_status_has_the_seed_schema_and_counts_own_accounts(api: Api) -> None:
    response = await api.get("/api/v1/reconciliation/status", "a")
    assert response.status_code == 200
    body = response.json()
    assert {
        "user_id",
        "total_syncs",
        "open_positions_count",
        "divergences_detected",
        "recent_events",
        "health",
    } <= set(body)
    assert body["user_id"] == api.world.users["a"]
    assert body["total_syncs"] == 1 and body["divergences_detected"] == 1
    assert [e["account_id"] for e in body["recent_events"]] == [api.world.account["a"]]
    wide = (await api.get("/api/v1/reconciliation/status", "risk")).json()
    assert wide["user_id"] is None and wide["total_syncs"] == 2


async def test_timeline_window_and_account_filter(api: Api) -> None:
    body = (
        await api.get("/api/v1/reconciliation/timeline", "risk", params={"since": SINCE, "until": UNTIL})
    ).json()
    assert {i["account_id"] for i in body["incidents"]} == set(api.world.account.values())
    own = (
        await api.get(
            "/api/v1/reconciliation/timeline",
            "risk",
            params={"since": SINCE, "until": UNTIL, "account_id": api.world.account["b"]},
        )
    ).json()
    assert {i["account_id"] for i in own["incidents"]} == {api.world.account["b"]}
    assert own["incidents"][0]["kind"] == "sl_mismatch"
    recent = (await api.get("/api/v1/reconciliation/timeline", "risk")).json()  # last 24 h: T0 is long ago
    assert recent["incidents"] == []


async def test_timeline_counts_are_the_timelines_incidents_counted(api: Api) -> None:
    window = {"since": SINCE, "until": UNTIL}
    for who in ("risk", "a"):
        listed = (await api.get("/api/v1/reconciliation/timeline", who, params=window)).json()
        counted = await api.get("/api/v1/reconciliation/timeline/counts", who, params=window)
        assert counted.status_code == 200, counted.text
        body = counted.json()
        assert body["total"] == len(listed["incidents"]) > 0 and body["bucket_s"] > 0
        kinds = {(i["kind"], i["severity"]) for i in listed["incidents"]}
        assert {(c["kind"], c["severity"]) for c in body["counts"]} == kinds
    theirs = await api.get(
        "/api/v1/reconciliation/timeline/counts", "a", params={**window, "account_id": api.world.account["b"]}
    )
    assert theirs.status_code == 404


async def test_positions_list_filters_and_detail(api: Api) -> None:
    body = (await api.get("/api/v1/positions", "risk", params={"side": "buy", "symbol": "EURUSD"})).json()
    assert {p["account_id"] for p in body["positions"]} == set(api.world.account.values())
    none = (await api.get("/api/v1/positions", "risk", params={"side": "sell"})).json()
    assert none["positions"] == []
    detail = await api.get(f"/api/v1/positions/{api.world.position['a']}", "a")
    assert detail.status_code == 200 and detail.json()["id"] == api.world.position["a"]


async def test_guards_status_per_account_with_market(api: Api) -> None:
    body = (await api.get("/api/v1/guards/status", "a")).json()
    (account,) = body["guards"]["accounts"]
    assert account["account_id"] == api.world.account["a"]
    assert account["equity"] == "8900.00" and account["hwm"] == "10000.00"
    assert account["drawdown_pct"] == "11.0000" and account["dd_level"] == "warning"
    assert account["dd_warning_pct"] and account["dd_critical_pct"] and "daily_loss_pct" in account
    assert "symbols" in body["market"]


async def test_accounts_and_equity_curve(api: Api) -> None:
    accounts = (await api.get("/api/v1/accounts", "b")).json()["accounts"]
    assert [a["id"] for a in accounts] == [api.world.account["b"]]
    curve = await api.get(
        f"/api/v1/accounts/{api.world.account['b']}/equity", "b", params={"since": SINCE, "until": UNTIL}
    )
    assert curve.status_code == 200
    points = curve.json()["points"]
    assert [(p["equity"], p["hwm"], p["drawdown_pct"]) for p in points] == [
        ("10000.00", "10000.00", "0.0000"),
        ("8900.00", "10000.00", "11.0000"),
    ]


async def test_risk_wall_is_for_risk_and_admin_worst_first(api: Api) -> None:
    for who in ("risk", "admin"):
        response = await api.get("/api/v1/risk/accounts", who)
        assert response.status_code == 200
        drawdowns = [a["drawdown_pct"] for a in response.json()["accounts"]]
        assert len(drawdowns) == 2 and drawdowns == sorted(drawdowns, key=float, reverse=True)
    refused = await api.get("/api/v1/risk/accounts", "a")
    assert refused.status_code == 403 and "risk" in refused.json()["detail"]


async def test_guard_events_of_own_accounts(api: Api) -> None:
    events = (await api.get("/api/v1/guards/events", "a")).json()["events"]
    assert events and {e["account_id"] for e in events} == {api.world.account["a"]}
    assert events[0]["guard_type"] == "drawdown" and events[0]["level"] == "warning"


async def test_service_accounts_do_not_read_and_anonymous_gets_401(api: Api) -> None:
    assert (await api.get("/api/v1/positions", "bot")).status_code == 403
    anonymous = await api.get("/api/v1/positions")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"


async def test_health_is_open_and_its_detail_is_for_admins(api: Api) -> None:
    health = await api.get("/health")
    assert health.status_code == 200 and "cache_detail" not in health.json()
    assert (await api.get("/health", params={"detail": "true"})).status_code == 401
    assert (await api.get("/health", "a", params={"detail": "true"})).status_code == 403
    await api.get("/api/v1/positions", "a")
    detail = (await api.get("/health", "admin", params={"detail": "true"})).json()["cache_detail"]
    families = {f["family"]: f for f in detail["families"]}
    assert families["positions"]["loads"] >= 1 and families["auth"]["loads"] >= 1


async def test_reads_are_served_from_the_cache(api: Api) -> None:
    for _ in range(5):
        await api.get("/api/v1/positions", "a")
    counters = api.runtime.cache.metrics["positions"]
    assert counters.loads == 1 and counters.local_hits == 4


async def _all_pages(api: Api, path: str, who: str, items: str, **params: object) -> list[dict[str, object]]:
    """Follow `next_cursor` one row at a time, as a client would."""
    rows: list[dict[str, object]] = []
    cursor = None
    for _ in range(50):
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await api.get(path, who, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body[items])
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the pages never ended")


async def test_incident_history_and_sync_events_page_with_cursors(api: Api) -> None:
    for path, items in (
        ("/api/v1/reconciliation/incidents", "incidents"),
        ("/api/v1/reconciliation/events", "events"),
    ):
        whole = (await api.get(path, "risk", params={"limit": 500})).json()
        assert whole["next_cursor"] is None and len(whole[items]) == 2
        paged = await _all_pages(api, path, "risk", items)
        assert [r["id"] for r in paged] == [r["id"] for r in whole[items]]
        own = await _all_pages(api, path, "a", items)
        assert {r["account_id"] for r in own} == {api.world.account["a"]}
        theirs = await api.get(path, "a", params={"account_id": api.world.account["b"]})
        assert theirs.status_code == 404
        forged = await api.get(path, "a", params={"cursor": "bm90LWEtY3Vyc29y"})
        assert forged.status_code == 422 and forged.json()["field"] == "cursor"
    open_only = (
        await api.get("/api/v1/reconciliation/incidents", "risk", params={"resolution": "open"})
    ).json()
    assert all(i["resolution"] == "open" for i in open_only["incidents"])
    assert (await api.get("/api/v1/reconciliation/events", "risk", params={"limit": 501})).status_code == 422


async def test_closed_positions_and_guard_events_page_with_cursors(api: Api) -> None:
    async with api.runtime.database.session() as s:
        account = await s.get(TradingAccount, api.world.account["a"])
        for n in range(3):
            await make_position(
                s, account, 5000 + n, status=PositionStatus.CLOSED, closed_at=T0 + timedelta(hours=n)
            )
    closed = await _all_pages(api, "/api/v1/positions/closed", "a", "positions")
    assert [p["broker_position_id"] for p in closed] == [5002, 5001, 5000]
    assert (await _all_pages(api, "/api/v1/positions/closed", "b", "positions")) == []
    events = await _all_pages(api, "/api/v1/guards/events", "a", "events")
    whole = (await api.get("/api/v1/guards/events", "a")).json()["events"]
    assert [e["id"] for e in events] == [e["id"] for e in whole] and whole
