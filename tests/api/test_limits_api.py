"""`/accounts/{id}/limits` and the HWM reset over the real API: who may read and change what (a
trader reads own limits and room, never changes them; someone else's account is a 404 like a
missing one), validation as 422 naming the field with nothing stored, and the gauges following a
change at once.

The world (tests/api/conftest.py): traders A and B with one account each, initial 10 000, equity
10 000 then 8 900 (drawdown 11 %, warning under the default 10 / 15)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from dashboard.db.models import AuditLog, GuardEvent, HwmReset, TradingAccount
from tests.api.conftest import Api

MISSING = 9_999_999


def body(
    current: dict[str, Any], reason: str = "tighter for the news week", **changes: Any
) -> dict[str, Any]:
    """A PUT body: the limits as read, changed, with a reason."""
    return {**current, **changes, "reason": reason}


async def limits_of(api: Api, account_id: int, who: str = "risk") -> dict[str, Any]:
    response = await api.get(f"/api/v1/accounts/{account_id}/limits", who)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def put(api: Api, account_id: int, payload: Any, who: str = "risk") -> httpx.Response:
    return await api.client.put(f"/api/v1/accounts/{account_id}/limits", json=payload, headers=api.auth(who))


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.runtime.database.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def test_a_trader_reads_own_limits_and_room_and_nobody_elses(api: Api) -> None:
    own, other = api.world.account["a"], api.world.account["b"]
    view = await limits_of(api, own, "a")
    assert view["limits"]["dd_warning_pct"] == "10.0000" and view["limits"]["daily_loss_limit_pct"] is None
    assert (view["equity"], view["hwm"], view["dd_level"]) == ("8900.00", "10000.00", "warning")
    # Drawdown 11 %: the warning is reached; critical at 10 000 × 0.85 = 8 500, 400 (4 %) away.
    assert view["drawdown_warning"]["reached"] is True and view["drawdown_warning"]["room"] == "0.00"
    critical = view["drawdown_critical"]
    assert (critical["boundary"], critical["room"], critical["room_pct"], critical["reached"]) == (
        "8500.00",
        "400.00",
        "4.0000",
        False,
    )
    assert view["daily_loss"] is None and view["max_loss"] is None  # no such limits
    theirs = await api.get(f"/api/v1/accounts/{other}/limits", "a")
    missing = await api.get(f"/api/v1/accounts/{MISSING}/limits", "a")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"].replace(str(other), "ID") == missing.json()["detail"].replace(
        str(MISSING), "ID"
    )
    assert (await api.get(f"/api/v1/accounts/{other}/limits", "risk")).status_code == 200
    assert (await api.get(f"/api/v1/accounts/{own}/limits")).status_code == 401
    assert (await api.get(f"/api/v1/accounts/{own}/limits", "bot")).status_code == 403


async def test_risk_changes_a_limit_with_a_reason_and_the_gauges_follow(api: Api) -> None:
    own = api.world.account["a"]
    current = (await limits_of(api, own))["limits"]
    wall_before = (await api.get("/api/v1/risk/accounts", "risk")).json()["accounts"]
    assert next(a for a in wall_before if a["account_id"] == own)["dd_level"] == "warning"

    response = await put(api, own, body(current, dd_warning_pct="5", dd_critical_pct="10.5"))
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["limits"]["dd_critical_pct"] == "10.5000" and after["dd_level"] == "critical"
    assert after["drawdown_critical"]["reached"] is True
    # Every read follows at once: the wall, the trader's own gauges, the account settings.
    wall = (await api.get("/api/v1/risk/accounts", "risk")).json()["accounts"]
    mine = next(a for a in wall if a["account_id"] == own)
    assert (mine["dd_level"], mine["dd_critical_pct"]) == ("critical", "10.5000")
    status = (await api.get("/api/v1/guards/status", "a")).json()["guards"]["accounts"]
    assert status[0]["dd_level"] == "critical"
    accounts = (await api.get("/api/v1/accounts", "a")).json()["accounts"]
    assert accounts[0]["dd_warning_pct"] == "5.0000"
    # The crossing is a guard event, like one a snapshot makes.
    events = (await api.get("/api/v1/guards/events", "a", params={"account_id": own})).json()["events"]
    assert events[0]["level"] == "critical" and events[0]["state"] == "triggered"
    assert events[0]["threshold_value"].startswith("10.5")
    async with api.runtime.database.read_session() as s:
        (row,) = (await s.execute(select(AuditLog).where(AuditLog.action == "limits_changed"))).scalars()
    assert row.actor_user_id == api.world.users["risk"] and row.target == f"account:{own}"
    assert row.detail == {
        "account_id": own,
        "reason": "tighter for the news week",
        "before": {"dd_warning_pct": "10", "dd_critical_pct": "15"},
        "after": {"dd_warning_pct": "5", "dd_critical_pct": "10.5"},
    }


async def test_a_trader_may_not_change_limits_not_even_their_own(api: Api) -> None:
    own = api.world.account["a"]
    current = (await limits_of(api, own, "a"))["limits"]
    for who in ("a", "b"):
        refused = await put(api, own, body(current, dd_warning_pct="1"), who)
        assert refused.status_code == 403, refused.text
        reset = await api.client.post(
            f"/api/v1/accounts/{own}/hwm-reset", json={"reason": "mine"}, headers=api.auth(who)
        )
        assert reset.status_code == 403
    # The role is refused before the body is looked at: a trader learns nothing about validation.
    assert (await put(api, own, {"reason": ""}, "a")).status_code == 403
    assert (await limits_of(api, own))["limits"] == current
    assert await count(api, AuditLog, AuditLog.action.in_(("limits_changed", "hwm_reset"))) == 0
    assert await count(api, HwmReset) == 0


async def test_an_unknown_account_is_a_404_for_risk(api: Api) -> None:
    current = (await limits_of(api, api.world.account["a"]))["limits"]
    assert (await put(api, MISSING, body(current))).status_code == 404
    reset = await api.client.post(
        f"/api/v1/accounts/{MISSING}/hwm-reset", json={"reason": "x"}, headers=api.auth("risk")
    )
    assert reset.status_code == 404
    assert (await api.get(f"/api/v1/accounts/{MISSING}/hwm-resets", "risk")).status_code == 404


async def test_invalid_limits_are_a_422_naming_the_field_and_store_nothing(api: Api) -> None:
    own = api.world.account["a"]
    current = (await limits_of(api, own))["limits"]
    cases = [
        (body(current, dd_warning_pct="16"), "dd_critical_pct"),
        (body(current, daily_loss_limit_pct="0"), "daily_loss_limit_pct"),
        (body(current, day_reset_hour=24), "day_reset_hour"),
        (body(current, day_reset_tz="Nowhere/City"), "day_reset_tz"),
        (body(current, silence_timeout_s=5), "silence_timeout_s"),
        (body(current, prop_profit_target_pct="8"), "daily_loss_limit_pct"),
        (body(current, reason=" "), "reason"),
        ({k: v for k, v in body(current).items() if k != "reason"}, "reason"),
        (body(current, surprise=1), "surprise"),
    ]
    for payload, field in cases:
        response = await put(api, own, payload)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field and field in response.json()["detail"], response.json()
    assert (await limits_of(api, own))["limits"] == current
    assert await count(api, AuditLog, AuditLog.action == "limits_changed") == 0


async def test_a_change_that_changes_nothing_writes_nothing(api: Api) -> None:
    own = api.world.account["a"]
    current = (await limits_of(api, own))["limits"]
    assert (await put(api, own, body(current))).status_code == 200
    assert await count(api, AuditLog, AuditLog.action == "limits_changed") == 0


async def test_risk_resets_an_hwm_with_a_reason_and_everybody_who_may_see_it_reads_it(api: Api) -> None:
    own = api.world.account["a"]
    missing_reason = await api.client.post(
        f"/api/v1/accounts/{own}/hwm-reset", json={"reason": ""}, headers=api.auth("risk")
    )
    assert missing_reason.status_code == 422 and missing_reason.json()["field"] == "reason"
    response = await api.client.post(
        f"/api/v1/accounts/{own}/hwm-reset", json={"reason": "phase 2"}, headers=api.auth("admin")
    )
    assert response.status_code == 201, response.text
    reset = response.json()
    assert (reset["previous_hwm"], reset["new_hwm"], reset["reason"]) == ("10000.00", "8900.00", "phase 2")
    assert reset["actor_user_id"] == api.world.users["admin"] and reset["actor_name"] == "admin"
    view = await limits_of(api, own, "a")
    assert (view["hwm"], view["drawdown_pct"], view["dd_level"]) == ("8900.00", "0.0000", "normal")
    listed = await api.get(f"/api/v1/accounts/{own}/hwm-resets", "a")
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["resets"]] == [reset["id"]]
    assert (await api.get(f"/api/v1/accounts/{own}/hwm-resets", "b")).status_code == 404
    later = await api.get(
        f"/api/v1/accounts/{own}/hwm-resets", "risk", params={"since": "2200-01-01T00:00:00Z"}
    )
    assert later.status_code == 422 and later.json()["field"] == "since"
    async with api.runtime.database.read_session() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "hwm_reset"))).scalar_one()
        account = await s.get(TradingAccount, own)
        cleared = await count(api, GuardEvent, GuardEvent.account_id == own, GuardEvent.state == "cleared")
    assert audit.target == f"account:{own}" and audit.detail is not None
    assert audit.detail["before"]["hwm"] == "10000" and audit.detail["after"]["hwm"] == "8900"
    assert audit.detail["reason"] == "phase 2" and account is not None
    assert cleared == 1  # the drawdown warning cleared with the reset


async def test_the_routes_are_documented(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    limits = paths["/api/v1/accounts/{account_id}/limits"]
    assert {"get", "put"} <= set(limits)
    assert {"403", "404", "422"} <= set(limits["put"]["responses"])
    assert limits["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/AccountLimitsIn"
    )
    assert "reason" in spec["components"]["schemas"]["AccountLimitsIn"]["required"]
    assert "post" in paths["/api/v1/accounts/{account_id}/hwm-reset"]
    assert "get" in paths["/api/v1/accounts/{account_id}/hwm-resets"]
