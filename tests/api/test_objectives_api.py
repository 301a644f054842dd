"""`GET /api/v1/accounts/{id}/objectives`: a trader's own challenge, hand-computed; another
trader's account is a 404; an account without a challenge answers `"objectives": null`; an equity
snapshot ingested through the API shows at once (the read's cache family is invalidated)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dashboard.db.models import AccountRiskState, TradingAccount
from dashboard.domain.daily_loss import day_start
from dashboard.domain.enums import DailyLossBasis, MaxLossMode
from tests.api.conftest import Api
from tests.factories import make_position

D = Decimal


async def _challenge(api: Api) -> tuple[int, datetime]:
    """Trader A's account (initial 10 000) runs a challenge started 3 days ago: target 8 %, daily
    5 % on max(SOD balance, SOD equity), max 10 % static, UTC reset, 2 of 30 days."""
    now = datetime.now(UTC)
    started = now - timedelta(days=3)
    today = day_start(now, "UTC")
    account_id = api.world.account["a"]
    async with api.runtime.database.session() as s:
        account = await s.get(TradingAccount, account_id)
        state = await s.get(AccountRiskState, account_id)
        assert account is not None and state is not None
        account.daily_loss_limit_pct, account.max_loss_limit_pct = D(5), D(10)
        account.daily_loss_basis = DailyLossBasis.MAX_SOD_BALANCE_EQUITY
        account.max_loss_mode = MaxLossMode.STATIC
        account.prop_profit_target_pct, account.prop_min_trading_days, account.prop_max_days = D(8), 2, 30
        account.prop_started_at = started
        # yesterday twice (00:30 and 23:59 UTC: one day) and today at 00:00 UTC: 2 trading days
        for n, opened in enumerate(
            (today - timedelta(hours=23, minutes=30), today - timedelta(minutes=1), today)
        ):
            await make_position(s, account, 5000 + n, opened_at=opened, updated_at=opened)
        state.balance, state.equity = D("10420.00"), D("10390.00")
        state.day_start_balance, state.day_start_equity = D("10400.00"), D("10450.00")
        state.highest_eod_balance = D("10400.00")
    return account_id, now


async def test_a_trader_reads_their_own_challenge(api: Api) -> None:
    account_id, _ = await _challenge(api)
    response = await api.get(f"/api/v1/accounts/{account_id}/objectives", "a")
    assert response.status_code == 200
    body = response.json()
    o: dict[str, Any] = body["objectives"]
    assert body["account_id"] == account_id and o["account_id"] == account_id
    # target 8 % of 10 000 = 800.00; closed profit 420.00 = 52.5 %
    assert (o["target_amount"], o["profit"], o["progress_pct"]) == ("800.00", "420.00", "52.5000")
    # reference max(10 400, 10 450) = 10 450; allowance 522.50; floor 9 927.50;
    # room 10 390 − 9 927.50 = 462.50 = 88.51674… % of 522.50
    assert (o["daily_floor"], o["daily_allowance"], o["daily_room"], o["daily_room_pct"]) == (
        "9927.50",
        "522.50",
        "462.50",
        "88.5167",
    )
    # static floor 9 000.00; room 1 390.00 = 139 % of 1 000
    assert (o["max_floor"], o["max_room"], o["max_room_pct"]) == ("9000.00", "1390.00", "139.0000")
    # started 3 days ago: today is day 4 of 30, 27 days left; 2 of 2 trading days
    assert (o["day_number"], o["days_left"], o["trading_days"], o["min_trading_days"]) == (4, 27, 2, 2)
    assert (o["state"], o["fail_reason"], o["target_reached"]) == ("in_progress", None, False)
    risk = await api.get(f"/api/v1/accounts/{account_id}/objectives", "risk")
    assert risk.status_code == 200 and risk.json()["objectives"]["daily_room"] == "462.50"


async def test_another_traders_account_is_a_404_and_none_without_a_challenge(api: Api) -> None:
    account_id, _ = await _challenge(api)
    foreign = await api.get(f"/api/v1/accounts/{account_id}/objectives", "b")
    unknown = await api.get("/api/v1/accounts/999999/objectives", "b")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == {"detail": f"account {account_id} not found", "field": None}
    own = api.world.account["b"]
    response = await api.get(f"/api/v1/accounts/{own}/objectives", "b")
    assert response.status_code == 200
    assert response.json()["account_id"] == own and response.json()["objectives"] is None
    assert (await api.get(f"/api/v1/accounts/{account_id}/objectives")).status_code == 401
    assert (await api.get("/api/v1/accounts/0/objectives", "a")).status_code == 422
    assert (await api.get(f"/api/v1/accounts/{account_id}/objectives", "bot")).status_code == 403


async def test_an_ingested_snapshot_shows_at_once(api: Api) -> None:
    account_id, now = await _challenge(api)
    first = (await api.get(f"/api/v1/accounts/{account_id}/objectives", "a")).json()["objectives"]
    assert first["daily_room"] == "462.50"
    body = {
        "account_id": account_id,
        "ts": (now - timedelta(seconds=5)).isoformat(),
        "balance": "10420.00",
        "equity": "10100.00",
    }
    assert (
        await api.client.post("/api/v1/ingest/equity", json=body, headers=api.auth("bot"))
    ).status_code == 200
    o = (await api.get(f"/api/v1/accounts/{account_id}/objectives", "a")).json()["objectives"]
    # a new day for the projection: SOD balance 10 420, SOD equity 10 390 -> reference 10 420;
    # allowance 521.00; floor 9 899.00; room 10 100 − 9 899 = 201.00 = 38.57965… %
    assert (o["equity"], o["daily_floor"], o["daily_room"], o["daily_room_pct"]) == (
        "10100.00",
        "9899.00",
        "201.00",
        "38.5797",
    )


async def test_a_breached_floor_fails_the_challenge(api: Api) -> None:
    account_id, _ = await _challenge(api)
    async with api.runtime.database.session() as s:
        state = await s.get(AccountRiskState, account_id)
        assert state is not None
        state.equity = D("8999.99")  # a cent under the static floor of 9 000.00
    o = (await api.get(f"/api/v1/accounts/{account_id}/objectives", "a")).json()["objectives"]
    assert (o["state"], o["fail_reason"], o["max_room"], o["max_breached"]) == (
        "failed",
        "max_loss",
        "0.00",
        True,
    )


async def test_openapi_documents_the_read(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/accounts/{account_id}/objectives"]["get"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(operation["responses"])
    assert "objectives" in operation["description"] and operation["tags"] == ["objectives"]
    schema = spec["components"]["schemas"]["Objectives"]["properties"]
    assert {"progress_pct", "daily_room", "max_room", "trading_days", "days_left", "state"} <= set(schema)
