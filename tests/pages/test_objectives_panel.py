"""The prop-challenge panel on `/guards` with NiceGUI's simulated user: a trader sees their own
challenge with the numbers computed from the stored data, another trader does not, risk does; a
breached floor shows a failed badge that says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboard.db.models import AccountRiskState, TradingAccount
from dashboard.domain.daily_loss import day_start
from dashboard.domain.enums import DailyLossBasis, MaxLossMode
from dashboard.runtime import current_runtime
from tests.factories import make_position
from tests.pages.conftest import Web

D = Decimal


async def _challenge(web: Web, equity: str = "10390.00") -> int:
    """Trader A's account (initial 10 000) runs a challenge started 3 days ago: target 8 %, daily
    5 % on max(SOD balance, SOD equity), max 10 % static, UTC reset, 2 of 30 days; a position was
    opened yesterday (twice) and today."""
    now = datetime.now(UTC)
    today = day_start(now, "UTC")
    account_id = web.world.account["a"]
    async with current_runtime().database.session() as s:
        account = await s.get(TradingAccount, account_id)
        state = await s.get(AccountRiskState, account_id)
        assert account is not None and state is not None
        account.daily_loss_limit_pct, account.max_loss_limit_pct = D(5), D(10)
        account.daily_loss_basis = DailyLossBasis.MAX_SOD_BALANCE_EQUITY
        account.max_loss_mode = MaxLossMode.STATIC
        account.prop_profit_target_pct, account.prop_min_trading_days, account.prop_max_days = D(8), 2, 30
        account.prop_started_at = now - timedelta(days=3)
        for n, opened in enumerate((today - timedelta(hours=20), today - timedelta(hours=2), today)):
            await make_position(s, account, 6000 + n, opened_at=opened, updated_at=opened)
        state.balance, state.equity = D("10420.00"), D(equity)
        state.day_start_balance, state.day_start_equity = D("10400.00"), D("10450.00")
        state.highest_eod_balance = D("10400.00")
    return account_id


async def test_a_trader_sees_their_challenge_with_the_computed_numbers(web: Web) -> None:
    own = await _challenge(web)
    await web.login("a")
    await web.user.open("/guards")
    await web.see(f"objectives-state-{own}", "In progress")
    # target 8 % × 10 000 = 800.00; closed profit 10 420 − 10 000 = 420.00 = 52.50 %
    await web.see(f"objectives-target-{own}", "420.00 USD of 800.00 USD closed (52.50 %)")
    # reference max(10 400, 10 450) = 10 450; allowance 522.50; floor 9 927.50; room 462.50 = 88.52 %
    await web.see(f"objectives-daily-{own}", "462.50 USD (88.52 % of the 522.50 USD allowance)")
    await web.see(f"objectives-daily-{own}", "floor 9,927.50 USD")
    # static floor 9 000.00; room 1 390.00 = 139.00 % of 1 000.00
    await web.see(f"objectives-max-{own}", "1,390.00 USD (139.00 % of the 1,000.00 USD allowance)")
    # yesterday (twice) and today: 2 of 2; started 3 days ago: day 4 of 30, 27 days left
    await web.see(f"objectives-days-{own}", "Trading days: 2 of 2 (done) · 27 days left · day 4 of 30")
    bar = web.user.find(marker=f"objectives-target-bar-{own}").elements.pop()
    assert bar.value == 0.525  # type: ignore[attr-defined]
    assert bar.props.get("aria-label") == "Profit target progress"


async def test_another_trader_does_not_see_it_and_risk_does(web: Web) -> None:
    own = await _challenge(web)
    await web.login("b")
    await web.user.open("/guards")
    await web.see(f"dd-gauge-{web.world.account['b']}")
    await web.user.should_not_see(marker=f"objectives-{own}")
    web.user.http_client.cookies.clear()
    await web.login("risk")
    await web.user.open("/guards")
    await web.see(f"objectives-state-{own}", "In progress")
    await web.see(f"objectives-daily-{own}", "462.50 USD")


async def test_a_breached_floor_fails_the_challenge_and_says_why(web: Web) -> None:
    own = await _challenge(web, equity="8999.99")  # a cent under the static floor of 9 000.00
    await web.login("a")
    await web.user.open("/guards")
    await web.see(f"objectives-state-{own}", "Failed: max loss limit breached")
    await web.see(f"objectives-max-{own}", "Max loss room: 0.00 USD (0.00 %")
    badge = web.user.find(marker=f"objectives-state-{own}").elements.pop()
    assert "bg-red-100" in badge.classes and "text-red-900" in badge.classes


async def test_the_past_view_shows_no_objectives(web: Web) -> None:
    own = await _challenge(web)
    await web.login("a")
    at = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await web.user.open(f"/guards?at={at}")
    await web.see(f"dd-gauge-{own}")
    await web.user.should_not_see(marker=f"objectives-{own}")
