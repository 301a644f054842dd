from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dashboard.domain.daily_loss import (
    daily_floor,
    daily_loss,
    day_reference,
    day_start,
    max_loss_floor,
    next_highest_eod,
)
from dashboard.domain.enums import DailyLossBasis, Level, MaxLossMode
from dashboard.domain.numbers import DomainError, display_pct

D = Decimal
PRAGUE = "Europe/Prague"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- docs/domain.md §6.7 FTMO 2-Step ----------------------------------------------------------------

INITIAL = D(100_000)
SOD_BALANCE = D(104_000)


def test_ftmo_floors():
    assert daily_floor(SOD_BALANCE, INITIAL, D(5)) == D(99_000)
    assert max_loss_floor(MaxLossMode.STATIC, INITIAL, D(10), None) == D(90_000)


# (equity, loss, % of initial, % of SOD balance, breach)
FTMO_TABLE = [
    ("100500", "3500", "3.50", "3.37", False),
    ("99000", "5000", "5.00", "4.81", False),
    ("98900", "5100", "5.10", "4.90", True),
]


@pytest.mark.parametrize(("equity", "loss", "pct_initial", "pct_sod", "breach"), FTMO_TABLE)
def test_ftmo_daily_loss_table(equity, loss, pct_initial, pct_sod, breach):
    ref = day_reference(DailyLossBasis.SOD_BALANCE, INITIAL, SOD_BALANCE, SOD_BALANCE)
    result = daily_loss(D(equity), ref, D(5), limit_base=INITIAL)
    assert result.reference == SOD_BALANCE
    assert result.floor == D(99_000)
    assert result.loss_abs == D(loss)
    assert display_pct(result.loss_pct_of_base) == D(pct_initial)
    assert display_pct(result.loss_pct) == D(pct_sod)
    assert result.breached is breach


def test_ftmo_loss_pct_exact_4dp():
    result = daily_loss(D(100_500), SOD_BALANCE, D(5), limit_base=INITIAL)
    assert str(result.loss_pct) == "3.3654"
    assert str(result.loss_pct_of_base) == "3.5000"
    assert result.limit_amount == D(5000)
    assert result.used_pct_of_limit == D(70)


def test_equity_equal_to_floor_is_not_a_breach_but_critical():
    result = daily_loss(D(99_000), SOD_BALANCE, D(5), limit_base=INITIAL)
    assert result.breached is False
    assert result.level is Level.CRITICAL  # 100 % of the limit used


@pytest.mark.parametrize(
    ("equity", "level"),
    [
        ("104000", Level.NORMAL),
        ("101001", Level.NORMAL),  # 2 999 used = 59.98 %
        ("101000", Level.WARNING),  # 3 000 = 60 %
        ("100001", Level.WARNING),  # 79.98 %
        ("100000", Level.CRITICAL),  # 4 000 = 80 %
        ("98900", Level.CRITICAL),
    ],
)
def test_daily_loss_levels_60_80(equity, level):
    assert daily_loss(D(equity), SOD_BALANCE, D(5), limit_base=INITIAL).level is level


def test_gain_is_zero_loss():
    result = daily_loss(D(110_000), SOD_BALANCE, D(5))
    assert result.loss_abs == 0
    assert result.level is Level.NORMAL


def test_limit_base_defaults_to_reference():
    result = daily_loss(D(100_000), D(100_000), D(5))
    assert result.floor == D(95_000)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit_pct": D(0)},
        {"limit_pct": D(101)},
        {"warning_fraction": D("0.9"), "critical_fraction": D("0.8")},
        {"reference": D(0)},
    ],
)
def test_daily_loss_rejects_invalid(kwargs):
    args = {"equity": D(1), "reference": D(100), "limit_pct": D(5)} | kwargs
    with pytest.raises(DomainError):
        daily_loss(**args)


# --- docs/domain.md §6.7 FTMO 1-Step trailing ---------------------------------------------------------


def test_ftmo_one_step_trailing_floors():
    highest = None
    floors = [max_loss_floor(MaxLossMode.TRAILING_EOD, INITIAL, D(10), highest)]  # day 1
    for eod in (D(104_000), D(103_000)):
        highest = next_highest_eod(highest, eod)
        floors.append(max_loss_floor(MaxLossMode.TRAILING_EOD, INITIAL, D(10), highest))
    assert floors == [D(90_000), D(94_000), D(94_000)]


def test_trailing_floor_never_below_static_even_after_losing_days():
    assert max_loss_floor(MaxLossMode.TRAILING_EOD, INITIAL, D(10), D(95_000)) == D(90_000)


# --- docs/domain.md §6.7 The5ers ----------------------------------------------------------------------


def test_the5ers_reference_and_floor():
    ref = day_reference(DailyLossBasis.MAX_SOD_BALANCE_EQUITY, INITIAL, D(100_000), D(102_000))
    assert ref == D(102_000)
    assert daily_floor(ref, ref, D(5)) == D(96_900)
    assert daily_loss(D(96_900), ref, D(5)).floor == D(96_900)


@pytest.mark.parametrize(
    ("basis", "expected"),
    [
        (DailyLossBasis.INITIAL, 100_000),
        (DailyLossBasis.SOD_BALANCE, 101_000),
        (DailyLossBasis.MAX_SOD_BALANCE_EQUITY, 101_500),
    ],
)
def test_day_reference_bases(basis, expected):
    assert day_reference(basis, D(100_000), D(101_000), D(101_500)) == D(expected)


# --- day_start ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "tz", "hour", "expected"),
    [
        (utc(2024, 1, 15, 10), PRAGUE, 0, utc(2024, 1, 14, 23)),  # CET
        (utc(2024, 7, 15, 10), PRAGUE, 0, utc(2024, 7, 14, 22)),  # CEST
        (utc(2024, 1, 15, 22, 59), PRAGUE, 0, utc(2024, 1, 14, 23)),  # 23:59 local
        (utc(2024, 1, 15, 23), PRAGUE, 0, utc(2024, 1, 15, 23)),  # exactly the reset instant
        (utc(2024, 3, 31, 12), PRAGUE, 0, utc(2024, 3, 30, 23)),  # spring-forward day starts in CET
        (utc(2024, 4, 1, 12), PRAGUE, 0, utc(2024, 3, 31, 22)),  # next day starts in CEST
        (utc(2024, 10, 27, 12), PRAGUE, 0, utc(2024, 10, 26, 22)),  # fall-back day starts in CEST
        (utc(2024, 3, 31, 1, 30), PRAGUE, 2, utc(2024, 3, 31, 1)),  # 02:00 does not exist: the jump
        (utc(2024, 1, 15, 21), "America/New_York", 17, utc(2024, 1, 14, 22)),  # 16:00 EST
        (utc(2024, 1, 15, 22, 30), "America/New_York", 17, utc(2024, 1, 15, 22)),
        (utc(2024, 7, 15, 21, 30), "America/New_York", 17, utc(2024, 7, 15, 21)),  # EDT
    ],
)
def test_day_start(ts, tz, hour, expected):
    result = day_start(ts, tz, hour)
    assert result == expected
    assert result.tzinfo is UTC


def test_day_start_with_minutes_breakout_style():
    assert day_start(utc(2024, 1, 15, 0, 10), "UTC", 0, reset_minute=30) == utc(2024, 1, 14, 0, 30)


def test_day_start_rejects_naive_unknown_zone_and_bad_hour():
    with pytest.raises(DomainError):
        day_start(datetime(2024, 1, 1), PRAGUE)
    with pytest.raises(DomainError):
        day_start(utc(2024, 1, 1), "Mars/Olympus")
    with pytest.raises(DomainError):
        day_start(utc(2024, 1, 1), PRAGUE, 24)
