"""Overnight swap: rollovers counted per UTC day, Wednesday triple and no weekend charge for
instruments closed at weekends, every night for 24/7 ones, per lot and side."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from dashboard.domain.enums import Side
from dashboard.domain.swaps import nights_charged, rollovers, swap_for

MONDAY_NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)  # a Monday


def test_rollovers_are_the_daily_instants_inside_the_interval() -> None:
    assert rollovers(MONDAY_NOON, MONDAY_NOON.replace(hour=21), 21) == [MONDAY_NOON.replace(hour=21)]
    assert rollovers(MONDAY_NOON, MONDAY_NOON.replace(hour=20, minute=59), 21) == []
    # Opened exactly at a rollover: that one is not charged (held over it, not at it).
    assert rollovers(MONDAY_NOON.replace(hour=21), MONDAY_NOON.replace(day=24, hour=21), 21) == [
        MONDAY_NOON.replace(day=24, hour=21)
    ]
    assert len(rollovers(MONDAY_NOON, MONDAY_NOON.replace(day=30), 21)) == 7
    assert rollovers(MONDAY_NOON, MONDAY_NOON, 21) == []


def test_wednesday_triple_and_quiet_weekends_unless_the_market_never_closes() -> None:
    week = rollovers(MONDAY_NOON, MONDAY_NOON.replace(day=30), 21)  # Mon..Sun rollovers
    assert [nights_charged(r, trades_weekends=False) for r in week] == [1, 1, 3, 1, 1, 0, 0]
    assert [nights_charged(r, trades_weekends=True) for r in week] == [1] * 7


def test_swap_per_lot_and_side_over_a_week() -> None:
    end = MONDAY_NOON.replace(day=30)
    # EURUSD 2 lots long at -7.50 per lot and night: 7 nights charged (1+1+3+1+1) -> -105.00
    assert swap_for(Side.BUY, Decimal("2.00"), Decimal("-7.50"), Decimal("2.10"), MONDAY_NOON, end,
                    hour_utc=21, trades_weekends=False) == Decimal("-105.00")  # fmt: skip
    # The short side earns its rate: 0.5 lot x 2.10 x 7 = 7.35
    assert swap_for(Side.SELL, Decimal("0.50"), Decimal("-7.50"), Decimal("2.10"), MONDAY_NOON, end,
                    hour_utc=21, trades_weekends=False) == Decimal("7.35")  # fmt: skip
    # BTCUSD every night: 0.1 lot x -15 x 7 = -10.50
    assert swap_for(Side.BUY, Decimal("0.10"), Decimal("-15"), Decimal("-15"), MONDAY_NOON, end,
                    hour_utc=21, trades_weekends=True) == Decimal("-10.50")  # fmt: skip
    before_the_rollover = MONDAY_NOON.replace(hour=20)
    assert swap_for(Side.BUY, Decimal("1"), Decimal("-7.5"), Decimal("2"), MONDAY_NOON, before_the_rollover,
                    hour_utc=21, trades_weekends=False) == Decimal("0.00")  # fmt: skip
