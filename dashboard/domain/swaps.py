"""Overnight swap: what holding a position over the daily rollover costs (or pays).

Brokers charge swap once per rollover (here a fixed UTC hour), per lot, at a rate per side; FX,
metals and indices are closed at weekends, so their Wednesday rollover counts three nights and the
Saturday and Sunday ones none; 24/7 instruments (crypto) pay every night, once. Rates are in the
account currency per lot and night (how brokers publish them for a USD account).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from dashboard.domain.enums import Side
from dashboard.domain.numbers import money

WEDNESDAY, SATURDAY, SUNDAY = 2, 5, 6


def rollovers(start: datetime, end: datetime, hour_utc: int) -> list[datetime]:
    """Every rollover instant in `(start, end]` (aware datetimes)."""
    if end <= start:
        return []
    first = start.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    if first <= start:
        first += timedelta(days=1)
    count = max(0, (end - first) // timedelta(days=1) + 1) if first <= end else 0
    return [first + timedelta(days=n) for n in range(count)]


def nights_charged(rollover: datetime, trades_weekends: bool) -> int:
    """How many nights one rollover charges: 1; for instruments closed at weekends 3 on Wednesday
    and 0 on Saturday and Sunday."""
    if trades_weekends:
        return 1
    day = rollover.weekday()
    if day in (SATURDAY, SUNDAY):
        return 0
    return 3 if day == WEDNESDAY else 1


def swap_for(
    side: Side,
    volume: Decimal,
    long_rate: Decimal,
    short_rate: Decimal,
    start: datetime,
    end: datetime,
    *,
    hour_utc: int,
    trades_weekends: bool,
) -> Decimal:
    """The swap a position accrues between `start` and `end`, in the account currency."""
    rate = long_rate if side is Side.BUY else short_rate
    nights = sum(nights_charged(r, trades_weekends) for r in rollovers(start, end, hour_utc))
    return money(rate * volume * nights)
