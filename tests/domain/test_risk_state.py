"""The risk-state transition: HWM from the initial balance, day resets, max-loss floors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard.domain.enums import DailyLossBasis, GuardState, GuardType, Level, MaxLossMode
from dashboard.domain.numbers import DomainError
from dashboard.domain.risk_state import AccountRules, RiskState, advance

D = Decimal
T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def walk(rules: AccountRules, points: list[tuple[datetime, str, str]]) -> tuple[RiskState, list]:
    state, alerts = RiskState(), []
    for ts, balance, equity in points:
        state, found = advance(rules, state, ts, D(balance), D(equity))
        alerts.extend(found)
    return state, alerts


def test_hwm_starts_at_the_initial_balance_not_the_first_equity() -> None:
    state, _ = walk(AccountRules(D(10000)), [(T, "10000", "9500")])
    assert (state.hwm, state.drawdown_pct) == (D("10000"), D("5.0000"))


def test_day_reset_takes_the_last_values_before_the_reset_as_references() -> None:
    rules = AccountRules(D(100000), daily_loss_limit_pct=D(5), daily_loss_basis=DailyLossBasis.SOD_BALANCE)
    day1 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    day2 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    state, _ = walk(rules, [(day1, "104000", "104500"), (day2, "104000", "101000")])
    assert state.day_start_at == datetime(2026, 3, 3, tzinfo=UTC)
    assert state.day_start_balance == D("104000.00")
    assert state.daily_loss_pct == D("2.8846")  # 3 000 / 104 000


def test_trailing_eod_max_loss_floor_rises_with_end_of_day_balance() -> None:
    rules = AccountRules(D(100000), max_loss_limit_pct=D(10), max_loss_mode=MaxLossMode.TRAILING_EOD)
    points = [
        (T, "104000", "104000"),
        (T + timedelta(days=1), "104000", "94500"),  # floor 94 000: not breached
        (T + timedelta(days=1, hours=1), "104000", "93900"),  # below 94 000: breach
    ]
    state, alerts = walk(rules, points)
    max_loss = [(a.state, a.threshold) for a in alerts if a.guard_type is GuardType.MAX_LOSS]
    assert max_loss == [(GuardState.TRIGGERED, D("94000.00"))]
    assert state.max_loss_level is Level.CRITICAL


def test_static_max_loss_equal_to_floor_is_not_a_breach() -> None:
    rules = AccountRules(D(100000), max_loss_limit_pct=D(10))
    state, alerts = walk(rules, [(T, "100000", "90000")])
    assert state.max_loss_level is Level.NORMAL
    assert not [a for a in alerts if a.guard_type is GuardType.MAX_LOSS]


def test_out_of_order_snapshot_is_refused() -> None:
    rules = AccountRules(D(10000))
    state, _ = walk(rules, [(T, "10000", "10000")])
    with pytest.raises(DomainError, match="older"):
        advance(rules, state, T - timedelta(seconds=1), D(10000), D(10000))


def test_gauge_has_exact_levels_while_alerts_have_hysteresis() -> None:
    rules = AccountRules(D(10000))
    state, alerts = walk(rules, [(T, "10000", "9000"), (T + timedelta(minutes=1), "10000", "9150")])
    # 8.5 % is "normal" on the gauge, but the warning alert holds until below 8 %.
    assert state.dd_level is Level.NORMAL and state.dd_alert_level is Level.WARNING
    assert [(a.state, a.level) for a in alerts] == [(GuardState.TRIGGERED, Level.WARNING)]
