"""`/accounts/{id}` with NiceGUI's simulated user: risk edits a limit with a reason and the gauges
follow within a tick, invalid limits show the schema's message under the field and store nothing,
an HWM reset shows on the chart; a trader sees own limits and room but no control, and the service
refuses a trader who calls it anyway; an unknown or foreign id is "Account not found".

The world (tests/api/conftest.py): traders A and B, one account each, initial 10 000, equity
10 000 then 8 900 (drawdown 11 %: warning under the default 10 / 15)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import ui
from sqlalchemy import func, select

from dashboard.db.models import AuditLog, HwmReset, TradingAccount
from dashboard.runtime import current_runtime
from dashboard.services.errors import Forbidden
from dashboard.services.risk_limits import change_limits, reset_hwm
from tests.factories import DEFAULT_LIMITS
from tests.pages.conftest import Web
from tests.pages.test_pages import fast_refresh


def one(web: Web, marker: str) -> Any:
    (element,) = web.user.find(marker=marker).elements
    return element


async def until(check: Callable[[], Any], what: str, tries: int = 100) -> Any:
    for _ in range(tries):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}")


def rows_of(web: Web) -> dict[str, dict[str, Any]]:
    table = one(web, "limits")
    assert isinstance(table, ui.table)
    return {row["key"]: row for row in table.rows}


async def stored(what: Any) -> Any:
    async with current_runtime().database.read_session() as s:
        return (await s.execute(what)).scalar_one()


async def test_risk_edits_a_limit_with_a_reason_and_the_gauges_follow(web: Web) -> None:
    await fast_refresh(web, "risk")
    await web.login("risk")
    account = web.world.account["a"]
    await web.user.open(f"/accounts/{account}")
    await web.see("account-heading", "login")
    await web.see(f"account-detail-{account}", "level warning")
    # Critical at 10 000 × 0.85 = 8 500: 400 left, 4 % of the HWM.
    rows = await until(lambda: rows_of(web).get("drawdown_critical"), "the limits shown")
    assert (rows["room"], rows["room_pct"], rows["status"]) == ("400.00 USD", "4.00 %", "within")

    web.user.find(marker="edit-limits").click()
    await web.see("limits-form")
    assert one(web, "limit-dd_critical_pct").value == 15.0
    one(web, "limit-dd_critical_pct").set_value(10.5)
    one(web, "limit-reason").set_value("news week: tighter")
    web.user.find(marker="save-limits").click()
    await web.user.should_see("Limits saved", retries=40)
    # The panel at once, the gauge of this page within a tick.
    await until(lambda: rows_of(web)["drawdown_critical"]["status"] == "critical reached", "the room updated")
    await web.see(f"account-detail-{account}", "level critical", retries=80)
    audit = await stored(select(AuditLog).where(AuditLog.action == "limits_changed"))
    assert audit.detail["reason"] == "news week: tighter" and audit.target == f"account:{account}"
    assert audit.detail["after"] == {"dd_critical_pct": "10.5"}
    # ...and so does the risk wall.
    await web.user.open("/risk")
    await web.see(f"wall-line-{account}", "critical")


async def test_invalid_limits_show_the_message_under_the_field_and_store_nothing(web: Web) -> None:
    await web.login("admin")
    account = web.world.account["a"]
    await web.user.open(f"/accounts/{account}")
    await until(lambda: rows_of(web), "the limits shown")
    web.user.find(marker="edit-limits").click()
    one(web, "limit-dd_warning_pct").set_value(16)
    one(web, "limit-day_reset_tz").set_value("Mars/Olympus")
    web.user.find(marker="save-limits").click()
    critical = await until(lambda: one(web, "limit-dd_critical_pct").error, "an error under critical")
    assert critical == "must be above the drawdown warning (16 %)"
    assert one(web, "limit-reason").error == "a reason is required"
    assert one(web, "limit-day_reset_tz").error.startswith("must be an IANA time zone")
    # A complete prop rule is needed once a profit target is set.
    one(web, "limit-dd_warning_pct").set_value(10)
    one(web, "limit-day_reset_tz").set_value("UTC")
    one(web, "limit-prop_profit_target_pct").set_value(8)
    one(web, "limit-reason").set_value("challenge")
    web.user.find(marker="save-limits").click()
    daily = await until(
        lambda: one(web, "limit-daily_loss_limit_pct").error, "an error under the daily limit"
    )
    assert daily == "a prop rule needs a daily loss limit"
    assert one(web, "limit-max_loss_limit_pct").error == "a prop rule needs a max loss limit"
    assert one(web, "limit-dd_critical_pct").error is None  # fixed fields clear their message
    await asyncio.sleep(0.2)
    assert (
        await stored(select(func.count()).select_from(AuditLog).where(AuditLog.action == "limits_changed"))
        == 0
    )
    assert (await stored(select(TradingAccount.dd_warning_pct).where(TradingAccount.id == account))) == 10


async def test_risk_resets_the_hwm_with_a_reason_and_the_chart_marks_it(web: Web) -> None:
    await fast_refresh(web, "risk")
    await web.login("risk")
    account = web.world.account["a"]
    await web.user.open(f"/accounts/{account}")
    await until(lambda: rows_of(web), "the limits shown")
    web.user.find(marker="reset-hwm").click()
    await web.see("hwm-reset-explain", "from 10,000.00 to the current equity 8,900.00")
    web.user.find(marker="confirm-hwm-reset").click()
    assert await until(lambda: one(web, "hwm-reason").error, "the reason required") == "a reason is required"
    one(web, "hwm-reason").set_value("challenge phase 2")
    web.user.find(marker="confirm-hwm-reset").click()
    await web.user.should_see("HWM reset to 8,900.00", retries=40)
    await until(lambda: rows_of(web)["drawdown_warning"]["room"] == "890.00 USD", "the room from the new HWM")
    await web.see(f"account-detail-{account}", "level normal", retries=80)
    reset = await stored(select(HwmReset))
    assert (reset.reason, reset.actor_user_id) == ("challenge phase 2", web.world.users["risk"])
    plot = one(web, "equity")
    one(web, "equity-window").set_value("1y")  # the world's equity is weeks old; the reset is now

    def marked() -> bool:
        data = plot.figure.get("data", []) if isinstance(plot.figure, dict) else []
        return any(trace.get("name") == "HWM reset" for trace in data)

    await until(marked, "the HWM reset marked on the chart", tries=200)
    trace = next(t for t in plot.figure["data"] if t.get("name") == "HWM reset")
    assert trace["y"] == [8900.0] and "challenge phase 2" in trace["hovertext"][0]
    assert plot.figure["layout"]["shapes"][0]["x0"] == trace["x"][0]


async def test_a_trader_sees_own_limits_and_room_but_no_control(web: Web) -> None:
    await web.login("a")
    account = web.world.account["a"]
    await web.user.open(f"/accounts/{account}")
    rows = await until(lambda: rows_of(web).get("drawdown_critical"), "the limits shown")
    assert rows["room"] == "400.00 USD"
    assert rows_of(web)["daily_loss"]["status"] == "no limit"
    await web.see("limit-settings", "Not a prop challenge.")
    for control in ("edit-limits", "reset-hwm", "limits-form", "hwm-reset-form"):
        await web.user.should_not_see(marker=control)
    # Calling the services anyway (what a hand-made socket event would reach) is refused.
    runtime, viewer = current_runtime(), (await _principal(web)).viewer
    with pytest.raises(Forbidden):
        await runtime.write(change_limits, viewer, account, {**DEFAULT_LIMITS, "reason": "mine"})
    with pytest.raises(Forbidden):
        await runtime.write(reset_hwm, viewer, account, "mine")
    assert (
        await stored(select(func.count()).select_from(AuditLog).where(AuditLog.action == "limits_changed"))
        == 0
    )


@pytest.mark.parametrize(
    "path", ["foreign", "/accounts/9999999", "/accounts/abc", "/accounts/0", "/accounts/" + "9" * 30]
)
async def test_an_unknown_or_foreign_account_is_not_found(web: Web, path: str) -> None:
    await web.login("a")
    await web.user.open(f"/accounts/{web.world.account['b']}" if path == "foreign" else path)
    await web.see("account-not-found")
    await web.user.should_not_see(marker="limits")


async def test_account_names_link_to_the_account_page(web: Web) -> None:
    await web.login("risk")
    account = web.world.account["b"]
    await web.user.open("/risk")
    await web.see(f"wall-account-{account}")
    web.user.find(marker=f"wall-account-{account}").click()
    await web.see("account-heading", "b main")
    await web.user.open("/guards")
    await web.see(f"account-link-{account}")


async def _principal(web: Web) -> Any:
    return await current_runtime().auth.principal(web.user.http_client.cookies["tb_session"])
