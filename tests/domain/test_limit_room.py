"""The room under each limit, against hand-computed numbers (docs/domain.md §6.1, §6.7), with the
gauges' own boundaries: a drawdown warning holds on its boundary, a critical level and a loss limit
only beyond theirs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dashboard.domain.enums import DailyLossBasis, Level, MaxLossMode
from dashboard.domain.levels import Thresholds
from dashboard.domain.limit_room import Room, daily_loss_room, drawdown_room, limit_room, max_loss_room
from dashboard.domain.numbers import DomainError
from dashboard.domain.risk_state import AccountRules, RiskState

D = Decimal
DEFAULT = Thresholds()  # 10 / 15


def brief(room: Room) -> tuple[Decimal, Decimal, Decimal, bool]:
    return room.boundary, room.room, room.room_pct, room.reached


# §6.1: HWM 11 000. Warning boundary 11 000 × 0.90 = 9 900, critical 11 000 × 0.85 = 9 350.
@pytest.mark.parametrize(
    ("equity", "warning", "critical"),
    [
        # 200 / 11 000 = 1.81818 %; 750 / 11 000 = 6.81818 %
        ("10100", ("9900.00", "200.00", "1.8182", False), ("9350.00", "750.00", "6.8182", False)),
        # dd 10.0000: warning holds on its boundary (no room left); 550 / 11 000 = 5 %
        ("9900", ("9900.00", "0.00", "0.0000", True), ("9350.00", "550.00", "5.0000", False)),
        # dd 15.0000 is still warning: no room left before critical, not reached
        ("9350", ("9900.00", "0.00", "0.0000", True), ("9350.00", "0.00", "0.0000", False)),
        # one cent below: 15.0001 → critical
        ("9349.99", ("9900.00", "0.00", "0.0000", True), ("9350.00", "0.00", "0.0000", True)),
        # at the HWM: the whole 10 % (1 100) and 15 % (1 650)
        ("11000", ("9900.00", "1100.00", "10.0000", False), ("9350.00", "1650.00", "15.0000", False)),
    ],
)
def test_drawdown_room_from_the_hwm(equity: str, warning: tuple, critical: tuple) -> None:
    to_warning, to_critical = drawdown_room(D("11000"), D(equity), DEFAULT)
    assert brief(to_warning) == (D(warning[0]), D(warning[1]), D(warning[2]), warning[3])
    assert brief(to_critical) == (D(critical[0]), D(critical[1]), D(critical[2]), critical[3])
    assert (to_warning.level, to_critical.level) == (Level.WARNING, Level.CRITICAL)
    assert (to_warning.limit_pct, to_critical.limit_pct, to_warning.base) == (D(10), D(15), D("11000.00"))


def test_drawdown_room_in_prop_thresholds() -> None:
    # 6 / 8 on HWM 25 000, equity 24 000 (dd 4 %): boundaries 23 500 and 23 000.
    to_warning, to_critical = drawdown_room(D("25000"), D("24000"), Thresholds(D(6), D(8)))
    assert brief(to_warning) == (D("23500.00"), D("500.00"), D("2.0000"), False)
    assert brief(to_critical) == (D("23000.00"), D("1000.00"), D("4.0000"), False)


def test_drawdown_reached_follows_the_gauge_after_rounding() -> None:
    # HWM 10 000.33: the exact warning boundary is 9 000.297. At 9 000.30 the drawdown is 9.99997 %,
    # shown (and classified) as 10.0000: warning, no room. At 9 000.31 (9.99987 → 9.9999) it is
    # normal with 0.013 left: 0.01 in money, 0.013 / 10 000.33 = 0.00013 % → 0.0001.
    on, _ = drawdown_room(D("10000.33"), D("9000.30"), DEFAULT)
    assert brief(on) == (D("9000.30"), D("0.00"), D("0.0000"), True)
    above, _ = drawdown_room(D("10000.33"), D("9000.31"), DEFAULT)
    assert brief(above) == (D("9000.30"), D("0.01"), D("0.0001"), False)


@pytest.mark.parametrize(
    ("equity", "expected"),
    [
        # The5ers (§6.7): reference max(100 000, 102 000) = 102 000, 5 % → floor 96 900.
        ("100000", ("96900.00", "3100.00", "3.0392", False)),  # 3 100 / 102 000 = 3.03922 %
        ("103000", ("96900.00", "6100.00", "5.9804", False)),  # up on the day: more room than 5 %
        ("96900", ("96900.00", "0.00", "0.0000", False)),  # on the floor: not a breach
        ("96899.99", ("96900.00", "0.00", "0.0000", True)),  # below it: breached
    ],
)
def test_daily_loss_room_to_the_floor(equity: str, expected: tuple) -> None:
    room = daily_loss_room(D(equity), D("102000"), D(5))
    assert brief(room) == (D(expected[0]), D(expected[1]), D(expected[2]), expected[3])
    assert (room.level, room.base, room.limit_pct) == (Level.CRITICAL, D("102000.00"), D(5))


@pytest.mark.parametrize(
    ("mode", "highest_eod", "equity", "expected"),
    [
        (MaxLossMode.STATIC, None, "94500", ("90000.00", "4500.00", "4.5000", False)),
        (MaxLossMode.STATIC, None, "90000", ("90000.00", "0.00", "0.0000", False)),
        (MaxLossMode.STATIC, None, "89999.99", ("90000.00", "0.00", "0.0000", True)),
        # FTMO 1-Step trailing: highest EOD 104 000 → floor 94 000; 500 / 100 000 = 0.5 %
        (MaxLossMode.TRAILING_EOD, D("104000"), "94500", ("94000.00", "500.00", "0.5000", False)),
        (MaxLossMode.TRAILING_EOD, D("104000"), "93900", ("94000.00", "0.00", "0.0000", True)),
    ],
)
def test_max_loss_room_to_the_floor(
    mode: MaxLossMode, highest_eod: Decimal | None, equity: str, expected: tuple
) -> None:
    rules = AccountRules(D(100000), max_loss_limit_pct=D(10), max_loss_mode=mode)
    room = max_loss_room(D(equity), rules, highest_eod)
    assert brief(room) == (D(expected[0]), D(expected[1]), D(expected[2]), expected[3])
    assert room.base == D("100000.00")


def test_max_loss_room_needs_a_limit() -> None:
    with pytest.raises(DomainError):
        max_loss_room(D(1), AccountRules(D(100)), None)


def test_every_room_of_an_account_at_its_latest_snapshot() -> None:
    rules = AccountRules(
        D(25000),
        thresholds=Thresholds(D(6), D(8)),
        daily_loss_limit_pct=D(5),
        max_loss_limit_pct=D(10),
        daily_loss_basis=DailyLossBasis.SOD_BALANCE,
    )
    state = RiskState(
        updated_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
        balance=D("25500"),
        equity=D("25000"),
        hwm=D("26000"),
        day_start_balance=D("25600"),
        day_start_equity=D("25800"),
    )
    room = limit_room(rules, state)
    assert room.drawdown_warning is not None and room.drawdown_critical is not None
    # 26 000 × 0.94 = 24 440 → 560 (560 / 26 000 = 2.15385 %); × 0.92 = 23 920 → 1 080 (4.15385 %)
    assert brief(room.drawdown_warning) == (D("24440.00"), D("560.00"), D("2.1538"), False)
    assert brief(room.drawdown_critical) == (D("23920.00"), D("1080.00"), D("4.1538"), False)
    # SOD balance 25 600, 5 % = 1 280 → floor 24 320; 680 / 25 600 = 2.65625 %
    assert room.daily_loss is not None
    assert brief(room.daily_loss) == (D("24320.00"), D("680.00"), D("2.6563"), False)
    # static 10 % of 25 000 → floor 22 500; 2 500 / 25 000 = 10 %
    assert room.max_loss is not None
    assert brief(room.max_loss) == (D("22500.00"), D("2500.00"), D("10.0000"), False)


def test_no_room_without_a_limit_or_before_the_first_snapshot() -> None:
    rules = AccountRules(D(10000))
    nothing = limit_room(rules, RiskState())
    assert nothing == type(nothing)(None, None, None, None)
    state = RiskState(
        updated_at=datetime(2026, 11, 2, tzinfo=UTC),
        balance=D(10000),
        equity=D(9500),
        hwm=D(10000),
        day_start_balance=D(10000),
        day_start_equity=D(10000),
    )
    room = limit_room(rules, state)
    assert room.drawdown_warning is not None and room.drawdown_warning.room == D("500.00")
    assert room.daily_loss is None and room.max_loss is None
