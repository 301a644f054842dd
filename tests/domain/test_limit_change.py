"""A limit change or an HWM reset judges the stored gauges again, with ingestion's hysteresis and
edges (docs/domain.md §2.7, §2.11)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard.domain.enums import DailyLossBasis, GuardState, GuardType, Level
from dashboard.domain.levels import Thresholds
from dashboard.domain.limit_change import apply_rules, moved_day_start, reset_hwm
from dashboard.domain.numbers import DomainError
from dashboard.domain.risk_state import AccountRules, RiskState, advance

D = Decimal
T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
RULES = AccountRules(D(10000))


def walk(rules: AccountRules, points: list[tuple[datetime, str, str]]) -> RiskState:
    state = RiskState()
    for ts, balance, equity in points:
        state, _ = advance(rules, state, ts, D(balance), D(equity))
    return state


def edges(alerts: list) -> list[tuple[GuardType, Level, GuardState]]:
    return [(a.guard_type, a.level, a.state) for a in alerts]


def test_lowering_critical_below_the_drawdown_makes_it_critical_at_once() -> None:
    state = walk(RULES, [(T, "10000", "10000"), (T + timedelta(minutes=1), "10000", "8900")])  # dd 11 %
    assert (state.dd_level, state.dd_alert_level) == (Level.WARNING, Level.WARNING)
    tighter = replace(RULES, thresholds=Thresholds(D(5), D(10)))
    judged, alerts = apply_rules(RULES, tighter, state)
    assert (judged.dd_level, judged.dd_alert_level) == (Level.CRITICAL, Level.CRITICAL)
    assert edges(alerts) == [(GuardType.DRAWDOWN, Level.CRITICAL, GuardState.TRIGGERED)]
    assert alerts[0].threshold == D(10) and alerts[0].metric == D("11.0000")
    # Nothing else moved: the snapshot is the same one.
    assert replace(judged, dd_level=state.dd_level, dd_alert_level=state.dd_alert_level) == state


def test_raising_thresholds_clears_only_below_the_clearing_ratio() -> None:
    state = walk(RULES, [(T, "10000", "10000"), (T + timedelta(minutes=1), "10000", "8900")])  # dd 11 %
    # Warning 12 / critical 20: the gauge is normal at once; the alert clears only below 0.8 × 12 = 9.6.
    judged, alerts = apply_rules(RULES, replace(RULES, thresholds=Thresholds(D(12), D(20))), state)
    assert (judged.dd_level, judged.dd_alert_level) == (Level.NORMAL, Level.WARNING)
    assert alerts == []
    # Warning 14: 11 < 0.8 × 14 = 11.2, the alert clears.
    judged, alerts = apply_rules(RULES, replace(RULES, thresholds=Thresholds(D(14), D(20))), state)
    assert (judged.dd_level, judged.dd_alert_level) == (Level.NORMAL, Level.NORMAL)
    assert edges(alerts) == [(GuardType.DRAWDOWN, Level.NORMAL, GuardState.CLEARED)]


def test_the_same_rules_change_nothing() -> None:
    rules = replace(RULES, daily_loss_limit_pct=D(5), max_loss_limit_pct=D(10))
    state = walk(rules, [(T, "10000", "10000"), (T + timedelta(minutes=1), "10000", "9000")])
    assert apply_rules(rules, rules, state) == (state, [])


def test_a_new_daily_limit_judges_todays_loss() -> None:
    state = walk(RULES, [(T, "10000", "10000"), (T + timedelta(minutes=1), "10000", "9850")])  # 1.5 %
    # 2 % limit: 150 of 200 used = 75 % → warning (60 %), not critical (80 %).
    judged, alerts = apply_rules(RULES, replace(RULES, daily_loss_limit_pct=D(2)), state)
    assert judged.daily_loss_level is Level.WARNING
    assert edges(alerts) == [(GuardType.DAILY_LOSS, Level.WARNING, GuardState.TRIGGERED)]


def test_a_limit_switched_off_returns_its_level_to_normal_with_an_edge() -> None:
    rules = replace(RULES, daily_loss_limit_pct=D(2), max_loss_limit_pct=D(10))
    state = walk(rules, [(T, "10000", "10000"), (T + timedelta(minutes=1), "10000", "8900")])
    assert (state.daily_loss_level, state.max_loss_level) == (Level.CRITICAL, Level.CRITICAL)
    judged, alerts = apply_rules(
        rules, replace(rules, daily_loss_limit_pct=None, max_loss_limit_pct=None), state
    )
    assert (judged.daily_loss_level, judged.max_loss_level) == (Level.NORMAL, Level.NORMAL)
    assert edges(alerts) == [
        (GuardType.DAILY_LOSS, Level.NORMAL, GuardState.CLEARED),
        (GuardType.MAX_LOSS, Level.NORMAL, GuardState.CLEARED),
    ]
    assert alerts[1].threshold == D("9000.00")  # the floor that no longer applies


def test_a_moved_reset_takes_the_days_start_from_before_the_new_reset() -> None:
    rules = replace(RULES, daily_loss_limit_pct=D(5), daily_loss_basis=DailyLossBasis.SOD_BALANCE)
    # UTC days: the last snapshot (03:00) is in the day that started at 00:00 with balance 10 000.
    points = [(T.replace(hour=1), "10400", "10400"), (T.replace(hour=3), "10400", "10100")]
    points.insert(0, (T.replace(hour=0) - timedelta(hours=2), "10000", "10000"))
    state = walk(rules, points)
    assert state.day_start_at == T.replace(hour=0) and state.day_start_balance == D("10000.00")
    # Reset at 02:00 UTC instead: the 03:00 snapshot's day starts at 02:00, after the 01:00 one.
    later = replace(rules, day_reset_hour=2)
    assert moved_day_start(later, state) == T.replace(hour=2)
    judged, _ = apply_rules(rules, later, state, sod=(D("10400.00"), D("10400.00")))
    assert (judged.day_start_at, judged.day_start_balance) == (T.replace(hour=2), D("10400.00"))
    assert judged.daily_loss_pct == D("2.8846")  # 300 / 10 400
    assert judged.highest_eod_balance == state.highest_eod_balance
    assert moved_day_start(rules, state) is None


def test_nothing_to_judge_before_the_first_snapshot() -> None:
    assert apply_rules(RULES, replace(RULES, thresholds=Thresholds(D(1), D(2))), RiskState()) == (
        RiskState(),
        [],
    )


def test_an_hwm_reset_starts_the_drawdown_again_from_the_current_equity() -> None:
    state = walk(RULES, [(T, "10000", "11500"), (T + timedelta(minutes=1), "10000", "9700")])  # 15.6522 %
    assert (state.dd_level, state.max_drawdown_pct) == (Level.CRITICAL, D("15.6522"))
    at = T + timedelta(minutes=5)
    judged, alerts = reset_hwm(RULES, state, at)
    assert (judged.hwm, judged.hwm_at, judged.drawdown_pct, judged.max_drawdown_pct) == (
        D("9700.00"),
        at,
        D("0.0000"),
        D("0.0000"),
    )
    assert (judged.dd_level, judged.dd_alert_level) == (Level.NORMAL, Level.NORMAL)
    assert edges(alerts) == [(GuardType.DRAWDOWN, Level.NORMAL, GuardState.CLEARED)]
    # The next snapshot continues from the new mark: 9 500 is 2.0619 % below 9 700.
    after, _ = advance(RULES, judged, T + timedelta(minutes=6), D(10000), D(9500))
    assert (after.hwm, after.drawdown_pct) == (D("9700.00"), D("2.0619"))


def test_an_hwm_reset_needs_an_equity() -> None:
    with pytest.raises(DomainError):
        reset_hwm(RULES, RiskState(), T)
