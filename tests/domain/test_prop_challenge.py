"""Prop-challenge objectives against hand-computed cases (the arithmetic is in the comments).

The reference challenge (FTMO-like): initial 100 000, profit target 10 %, daily loss 5 % on
max(SOD balance, SOD equity), max loss 10 % static, reset 00:00 Europe/Prague, at least 4 trading
days within 30 days, started 2026-03-02 08:30Z (09:30 Prague, CET +1). Day 1 is Monday 2026-03-02;
day 31 (the first after the challenge) is 2026-04-01, which begins at 00:00 CEST (+2, DST from
2026-03-29) = 2026-03-31 22:00Z.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard.domain.enums import DailyLossBasis, MaxLossMode
from dashboard.domain.numbers import DomainError
from dashboard.domain.prop_challenge import (
    Breach,
    ChallengeState,
    FailReason,
    PropChallenge,
    broker_day,
    challenge_days,
    evaluate,
    reset_instant,
    trading_days,
)

D = Decimal
PRAGUE = "Europe/Prague"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


START = utc(2026, 3, 2, 8, 30)
REF = PropChallenge(
    initial_balance=D("100000.00"),
    daily_loss_limit_pct=D(5),
    max_loss_limit_pct=D(10),
    profit_target_pct=D(10),
    started_at=START,
    daily_loss_basis=DailyLossBasis.MAX_SOD_BALANCE_EQUITY,
    max_loss_mode=MaxLossMode.STATIC,
    day_reset_tz=PRAGUE,
    day_reset_hour=0,
    min_trading_days=4,
    max_days=30,
)
NOW = utc(2026, 3, 6, 12, 0)  # 13:00 Prague, Friday: day 5
FOUR_DAYS = {date(2026, 3, d) for d in (2, 3, 4, 5)}


def run(challenge: PropChallenge = REF, now: datetime = NOW, **values: object):  # type: ignore[no-untyped-def]
    inputs: dict[str, object] = {
        "balance": D("104250.00"),
        "equity": D("103900.00"),
        "sod_balance": D("104000.00"),
        "sod_equity": D("104400.00"),
        "highest_eod_balance": D("104000.00"),
        "traded_days": {date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 5)},
    }
    inputs.update(values)
    return evaluate(challenge, now, **inputs)  # type: ignore[arg-type]


# --- the reference case, in progress ------------------------------------------------------------


def test_reference_case_in_progress() -> None:
    p = run()
    # target = 100 000 × 10 % = 10 000.00; the balance counts: 104 250 − 100 000 = 4 250.00
    assert (p.target_amount, p.target_balance, p.profit) == (D("10000.00"), D("110000.00"), D("4250.00"))
    assert str(p.progress_pct) == "42.5000"  # 4 250 / 10 000
    assert p.target_reached is False
    # reference = max(104 000, 104 400) = 104 400; allowance 5 % = 5 220.00; floor 99 180.00
    # room = 103 900 − 99 180 = 4 720.00 = 90.42145… % of 5 220
    assert (p.daily_reference, p.daily_allowance, p.daily_floor) == (
        D("104400.00"),
        D("5220.00"),
        D("99180.00"),
    )
    assert (p.daily_room, str(p.daily_room_pct), p.daily_breached) == (D("4720.00"), "90.4215", False)
    # static floor 100 000 × 90 % = 90 000; room 13 900 = 139 % of the 10 000 allowance
    assert (p.max_floor, p.max_allowance, p.max_room) == (D("90000.00"), D("10000.00"), D("13900.00"))
    assert (str(p.max_room_pct), p.max_breached) == ("139.0000", False)
    # 3 of 4 trading days; today is day 5 (Mar 6 − Mar 2 + 1); Apr 1 − Mar 6 = 26 days left
    assert (p.trading_days_done, p.min_trading_days) == (3, 4)
    assert (p.first_day, p.day_number, p.days_left) == (date(2026, 3, 2), 5, 26)
    assert p.ends_at == utc(2026, 3, 31, 22, 0)  # 00:00 CEST on Apr 1
    assert (p.state, p.fail_reason) == (ChallengeState.IN_PROGRESS, None)


def test_the_basis_chooses_the_daily_reference() -> None:
    # sod_balance basis: reference 104 000; allowance 5 200.00; floor 98 800.00; room 5 100.00 (98.0769 %)
    p = run(replace(REF, daily_loss_basis=DailyLossBasis.SOD_BALANCE))
    assert (p.daily_reference, p.daily_floor, p.daily_room) == (D("104000.00"), D("98800.00"), D("5100.00"))
    assert str(p.daily_room_pct) == "98.0769"  # 5 100 / 5 200 = 0.980769…
    # initial basis: reference 100 000; floor 95 000; room 8 900 = 178 % of 5 000
    p = run(replace(REF, daily_loss_basis=DailyLossBasis.INITIAL))
    assert (p.daily_floor, p.daily_room, str(p.daily_room_pct)) == (D("95000.00"), D("8900.00"), "178.0000")


# --- trading days: broker days in the reset zone ------------------------------------------------


def test_trading_days_are_broker_days_in_the_reset_zone() -> None:
    days = challenge_days(REF, NOW)
    assert [d.day for d in days] == [date(2026, 3, n) for n in range(2, 7)]
    # day 1 starts at the challenge's start, not at the reset; day 2 at 00:00 Prague = 23:00Z
    assert (days[0].start, days[0].end) == (START, utc(2026, 3, 2, 23, 0))
    opened = [
        utc(2026, 3, 2, 8, 0),  # 09:00 Prague: before the start, does not count
        utc(2026, 3, 2, 8, 45),  # 09:45 Prague, Mar 2
        utc(2026, 3, 2, 22, 59, 59),  # 23:59:59 Prague, still Mar 2
        utc(2026, 3, 2, 23, 0),  # 00:00 Prague: Mar 3 (same UTC date as the two before)
        utc(2026, 3, 5, 10, 0),  # Mar 5
    ]
    # Prague: {Mar 2, Mar 3, Mar 5} = 3 (UTC dates would give {Mar 2, Mar 5} = 2)
    assert trading_days(opened, days) == {date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 5)}
    assert trading_days([utc(2026, 3, 2, 8, 0)], days) == frozenset()
    assert broker_day(utc(2026, 3, 2, 22, 59, 59), PRAGUE) == date(2026, 3, 2)
    assert broker_day(utc(2026, 3, 2, 23, 0), PRAGUE) == date(2026, 3, 3)


def test_a_day_outside_the_challenge_does_not_count() -> None:
    # Mar 1 is before day 1 and Apr 1 after day 30: only Mar 2, 3, 5 count
    p = run(traded_days={date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 5)})
    assert p.trading_days_done == 3


def test_days_follow_dst() -> None:
    # Mar 29 (DST starts at 02:00 local) lasts 23 h: 00:00 CET = Mar 28 23:00Z to 00:00 CEST = 22:00Z
    days = {d.day: d for d in challenge_days(REF, utc(2026, 4, 10))}
    assert len(days) == 30 and max(days) == date(2026, 3, 31)
    assert (days[date(2026, 3, 29)].start, days[date(2026, 3, 29)].end) == (
        utc(2026, 3, 28, 23, 0),
        utc(2026, 3, 29, 22, 0),
    )
    assert reset_instant(date(2026, 4, 1), PRAGUE) == utc(2026, 3, 31, 22, 0)


# --- the profit target: exactly reached ---------------------------------------------------------


def test_target_exactly_reached_with_the_minimum_days_passes() -> None:
    # 110 000 − 100 000 = 10 000 = the target (>=), equity too; 4 of 4 days
    p = run(balance=D("110000.00"), equity=D("110000.00"), traded_days=FOUR_DAYS)
    assert (p.target_reached, str(p.progress_pct)) == (True, "100.0000")
    assert (p.state, p.fail_reason) == (ChallengeState.PASSED, None)


def test_target_reached_with_too_few_days_is_still_in_progress() -> None:
    p = run(balance=D("110000.00"), equity=D("110000.00"))  # 3 of 4 days
    assert p.target_reached is True and p.state is ChallengeState.IN_PROGRESS


def test_a_floating_loss_or_a_cent_short_does_not_reach_the_target() -> None:
    # closed profit 10 000 but equity 109 999.99: the open loss takes 0.01 off
    p = run(balance=D("110000.00"), equity=D("109999.99"), traded_days=FOUR_DAYS)
    assert p.target_reached is False and p.state is ChallengeState.IN_PROGRESS
    # closed profit 9 999.99 (= 99.9999 %) with floating gains: a floating gain does not count
    p = run(balance=D("109999.99"), equity=D("110500.00"), traded_days=FOUR_DAYS)
    assert (p.target_reached, str(p.progress_pct), p.state) == (False, "99.9999", ChallengeState.IN_PROGRESS)


def test_progress_is_negative_under_water() -> None:
    p = run(balance=D("98750.00"), equity=D("98750.00"), sod_balance=D("99000"), sod_equity=D("99000"))
    # −1 250 / 10 000 = −12.5 %
    assert (p.profit, str(p.progress_pct)) == (D("-1250.00"), "-12.5000")


# --- the floors: equity exactly at a floor is not a breach --------------------------------------


def test_equity_exactly_at_the_daily_floor_is_not_a_breach() -> None:
    # floor 104 400 − 5 220 = 99 180.00
    p = run(equity=D("99180.00"))
    assert (p.daily_room, str(p.daily_room_pct), p.daily_breached) == (D("0.00"), "0.0000", False)
    assert p.state is ChallengeState.IN_PROGRESS


def test_a_cent_below_the_daily_floor_fails() -> None:
    p = run(equity=D("99179.99"))
    assert (p.daily_room, p.daily_breached) == (D("0.00"), True)
    assert (p.state, p.fail_reason) == (ChallengeState.FAILED, FailReason.DAILY_LOSS)


def test_equity_exactly_at_the_static_max_floor_is_not_a_breach() -> None:
    # SOD 94 000: daily allowance 4 700.00, floor 89 300.00; max floor 90 000.00
    low = {"balance": D("94000.00"), "sod_balance": D("94000.00"), "sod_equity": D("94000.00")}
    p = run(equity=D("90000.00"), **low)
    assert (p.max_room, str(p.max_room_pct), p.max_breached) == (D("0.00"), "0.0000", False)
    # 90 000 − 89 300 = 700.00 = 14.89361… % of 4 700
    assert (p.daily_room, str(p.daily_room_pct)) == (D("700.00"), "14.8936")
    assert p.state is ChallengeState.IN_PROGRESS
    p = run(equity=D("89999.99"), **low)
    # 699.99 / 4 700 = 14.89340… %
    assert (p.max_room, p.max_breached, p.daily_room, str(p.daily_room_pct)) == (
        D("0.00"),
        True,
        D("699.99"),
        "14.8934",
    )
    assert (p.state, p.fail_reason) == (ChallengeState.FAILED, FailReason.MAX_LOSS)


def test_trailing_floor_follows_the_highest_end_of_day_balance() -> None:
    trailing = replace(REF, max_loss_mode=MaxLossMode.TRAILING_EOD)
    low = {"balance": D("95000.00"), "sod_balance": D("95000.00"), "sod_equity": D("95000.00")}
    # max(104 000, 100 000) − 10 % × 100 000 = 94 000.00
    p = run(trailing, equity=D("94000.00"), highest_eod_balance=D("104000.00"), **low)
    assert (p.max_floor, p.max_room, p.max_breached) == (D("94000.00"), D("0.00"), False)
    assert p.state is ChallengeState.IN_PROGRESS
    p = run(trailing, equity=D("93999.99"), highest_eod_balance=D("104000.00"), **low)
    assert (p.state, p.fail_reason) == (ChallengeState.FAILED, FailReason.MAX_LOSS)
    # a highest EOD under the initial balance leaves the floor at 90 000; 94 000 − 90 000 = 4 000
    p = run(trailing, equity=D("94000.00"), highest_eod_balance=D("95000.00"), **low)
    assert (p.max_floor, p.max_room, str(p.max_room_pct)) == (D("90000.00"), D("4000.00"), "40.0000")


def test_a_recorded_breach_stays_failed_after_equity_recovered() -> None:
    breach = Breach(FailReason.MAX_LOSS, utc(2026, 3, 4, 15, 0))
    p = run(recorded_breach=breach, balance=D("110000.00"), equity=D("110000.00"), traded_days=FOUR_DAYS)
    assert p.target_reached is True
    assert (p.state, p.fail_reason) == (ChallengeState.FAILED, FailReason.MAX_LOSS)
    # a breach before the start (a previous phase) is not this challenge's
    before = Breach(FailReason.DAILY_LOSS, START - timedelta(seconds=1))
    assert run(recorded_breach=before).state is ChallengeState.IN_PROGRESS


# --- time: the last day, then the end -----------------------------------------------------------


def test_the_last_day_has_one_day_left() -> None:
    # 23:59:59 CEST on Mar 31 = 21:59:59Z: day 30 of 30, 1 day left (today)
    p = run(now=utc(2026, 3, 31, 21, 59, 59))
    assert (p.day_number, p.days_left, p.state) == (30, 1, ChallengeState.IN_PROGRESS)


def test_time_runs_out_at_the_reset_after_the_last_day() -> None:
    at_end = utc(2026, 3, 31, 22, 0)  # 00:00 CEST on Apr 1
    p = run(now=at_end)
    assert (p.days_left, p.state, p.fail_reason) == (0, ChallengeState.FAILED, FailReason.TIME)
    # passing by then is passing
    p = run(now=at_end, balance=D("110000.00"), equity=D("110000.00"), traded_days=FOUR_DAYS)
    assert p.state is ChallengeState.PASSED
    # days after the end do not count: with Mar 2, 3 and Apr 1 only 2 are done
    p = run(now=at_end, traded_days={date(2026, 3, 2), date(2026, 3, 3), date(2026, 4, 1)})
    assert p.trading_days_done == 2
    days = challenge_days(REF, at_end)
    assert days[-1].day == date(2026, 3, 31) and trading_days([at_end], days) == frozenset()


def test_without_limits_on_days() -> None:
    open_ended = replace(REF, min_trading_days=None, max_days=None)
    p = run(open_ended, now=utc(2027, 1, 1), balance=D("110000.00"), equity=D("110000.00"), traded_days=set())
    assert (p.min_trading_days, p.days_left, p.ends_at) == (0, None, None)
    assert p.state is ChallengeState.PASSED
    assert run(open_ended, now=utc(2027, 1, 1)).state is ChallengeState.IN_PROGRESS


def test_before_the_start() -> None:
    p = run(now=START - timedelta(hours=1), traded_days=set())
    assert (p.day_number, p.days_left, p.trading_days_done) == (1, 30, 0)
    assert challenge_days(REF, START - timedelta(hours=1)) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"profit_target_pct": D(0)}, "profit target"),
        ({"initial_balance": D(0)}, "initial balance"),
        ({"min_trading_days": -1}, "min trading days"),
        ({"max_days": 0}, "max days"),
        ({"day_reset_tz": "Mars/Olympus"}, "time zone"),
        ({"started_at": datetime(2026, 3, 2, 8, 30)}, "naive"),
    ],
)
def test_invalid_challenges_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        replace(REF, **change)  # type: ignore[arg-type]


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        run(balance=104250.0)
