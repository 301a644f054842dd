"""Daily loss and overall (max) loss limits, prop-firm style (docs/domain.md §2.8, §2.9, §6.7).

Two amounts that firms mix up differently are kept apart: the *reference* the loss is measured
from (start-of-day balance, equity, or initial) and the *limit base* the percentage applies to
(FTMO: 5 % of INITIAL capital, subtracted from the previous-midnight balance).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.domain.enums import DailyLossBasis, Level, MaxLossMode
from dashboard.domain.numbers import DomainError, money, pct, require_utc, to_decimal

__all__ = [
    "DailyLoss",
    "daily_floor",
    "daily_loss",
    "day_reference",
    "day_start",
    "max_loss_floor",
    "next_highest_eod",
]


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"unknown time zone {tz_name!r}") from exc


def day_start(ts: datetime, tz_name: str, reset_hour: int = 0, reset_minute: int = 0) -> datetime:
    """The last daily reset instant <= ts, in UTC.

    The reset is a wall-clock time in `tz_name` (e.g. 00:00 Europe/Prague), so its UTC instant moves
    with DST. If the wall time does not exist that day (spring-forward gap) zoneinfo's fold=0 maps it
    to the instant the clocks jump; if it occurs twice (fall-back) the first occurrence is used.
    """
    if not 0 <= reset_hour <= 23 or not 0 <= reset_minute <= 59:
        raise DomainError(f"invalid reset time {reset_hour}:{reset_minute}")
    now = require_utc(ts)
    zone = _zone(tz_name)
    local_date = now.astimezone(zone).date()
    wall = time(reset_hour, reset_minute)
    for days_back in (0, 1, 2):
        candidate = datetime.combine(local_date - timedelta(days=days_back), wall, tzinfo=zone)
        candidate_utc = require_utc(candidate)
        if candidate_utc <= now:
            return candidate_utc
    raise DomainError(f"no reset instant found before {now.isoformat()} in {tz_name}")  # pragma: no cover


def day_reference(
    basis: DailyLossBasis,
    initial: Decimal | int | str,
    sod_balance: Decimal | int | str,
    sod_equity: Decimal | int | str,
) -> Decimal:
    """The amount today's loss is measured from, per the account's configured basis."""
    basis = DailyLossBasis(basis)
    if basis is DailyLossBasis.INITIAL:
        ref = to_decimal(initial)
    elif basis is DailyLossBasis.SOD_BALANCE:
        ref = to_decimal(sod_balance)
    else:
        ref = max(to_decimal(sod_balance), to_decimal(sod_equity))
    if ref <= 0:
        raise DomainError(f"daily reference must be > 0, got {ref}")
    return money(ref)


def _check_pct(limit_pct: Decimal) -> None:
    if not 0 < limit_pct <= 100:
        raise DomainError(f"limit_pct must be within (0, 100], got {limit_pct}")


def daily_floor(
    reference: Decimal | int | str, limit_base: Decimal | int | str, limit_pct: Decimal | int | str
) -> Decimal:
    """Equity floor for the day: reference − limit_pct % of limit_base (breach strictly below)."""
    ref, base, lim = to_decimal(reference), to_decimal(limit_base), to_decimal(limit_pct)
    if ref <= 0 or base <= 0:
        raise DomainError("reference and limit base must be > 0")
    _check_pct(lim)
    return money(ref - money(base * lim / 100))


@dataclass(frozen=True)
class DailyLoss:
    """Today's loss gauge.

    `loss_pct` is against the reference (the gauge value, §2.8); `loss_pct_of_base` is against the
    limit base (FTMO reports the loss as % of initial capital). `used_pct_of_limit` drives the
    level: how much of the allowed loss amount is consumed.
    """

    reference: Decimal
    floor: Decimal
    loss_abs: Decimal
    loss_pct: Decimal
    used_pct_of_limit: Decimal
    breached: bool
    level: Level
    loss_pct_of_base: Decimal
    limit_amount: Decimal


#: A daily-loss limit is WARNING once this share of it is used, CRITICAL at the second (prop-firm
#: practice: 60 % / 80 % / breach at 100 %).
WARNING_FRACTION = Decimal("0.6")
CRITICAL_FRACTION = Decimal("0.8")


def daily_loss_bands(limit_pct: Decimal) -> tuple[Decimal, Decimal]:
    """(warning, critical) of the daily-loss gauge, in % of the day's reference, for a limit."""
    return limit_pct * WARNING_FRACTION, limit_pct * CRITICAL_FRACTION


def daily_loss(
    equity: Decimal | int | str,
    reference: Decimal | int | str,
    limit_pct: Decimal | int | str,
    warning_fraction: Decimal = WARNING_FRACTION,
    critical_fraction: Decimal = CRITICAL_FRACTION,
    limit_base: Decimal | int | str | None = None,
) -> DailyLoss:
    """Evaluate the daily-loss rule at one equity reading.

    A breach is `equity < floor` (FTMO: "drops below"; equal is not a breach). The level is WARNING
    once `warning_fraction` of the limit amount is used, CRITICAL at `critical_fraction` (and always
    when breached), following the §2.8 prop mapping of 60 % / 80 % / 100 %.
    """
    eq, ref = to_decimal(equity), to_decimal(reference)
    base = ref if limit_base is None else to_decimal(limit_base)
    lim, wf, cf = to_decimal(limit_pct), to_decimal(warning_fraction), to_decimal(critical_fraction)
    if ref <= 0 or base <= 0:
        raise DomainError("reference and limit base must be > 0")
    _check_pct(lim)
    if not 0 < wf < cf <= 1:
        raise DomainError(f"need 0 < warning_fraction < critical_fraction <= 1, got {wf} / {cf}")
    limit_amount = money(base * lim / 100)
    floor = money(ref - limit_amount)
    loss = money(max(Decimal(0), ref - eq))
    used = pct(loss / limit_amount * 100)
    breached = eq < floor
    if breached or used >= cf * 100:
        level = Level.CRITICAL
    elif used >= wf * 100:
        level = Level.WARNING
    else:
        level = Level.NORMAL
    return DailyLoss(
        reference=money(ref),
        floor=floor,
        loss_abs=loss,
        loss_pct=pct(loss / ref * 100),
        used_pct_of_limit=used,
        breached=breached,
        level=level,
        loss_pct_of_base=pct(loss / base * 100),
        limit_amount=limit_amount,
    )


def next_highest_eod(prev: Decimal | None, eod_balance: Decimal | int | str) -> Decimal:
    """Running max of end-of-day balances, the input that makes the trailing floor only rise."""
    bal = to_decimal(eod_balance)
    return bal if prev is None or bal > to_decimal(prev) else to_decimal(prev)


def max_loss_floor(
    mode: MaxLossMode,
    initial: Decimal | int | str,
    limit_pct: Decimal | int | str,
    highest_eod_balance: Decimal | None,
) -> Decimal:
    """Overall equity floor.

    STATIC: initial × (1 − pct/100) (FTMO 2-Step 90 %). TRAILING_EOD: max(highest EOD balance,
    initial) − pct % × initial (FTMO 1-Step); intraday floating P&L never moves it and, because the
    input is a running max, it never decreases.
    """
    init, lim = to_decimal(initial), to_decimal(limit_pct)
    if init <= 0:
        raise DomainError(f"initial balance must be > 0, got {init}")
    _check_pct(lim)
    mode = MaxLossMode(mode)
    if mode is MaxLossMode.STATIC:
        return money(init * (1 - lim / 100))
    high = init if highest_eod_balance is None else max(init, to_decimal(highest_eod_balance))
    return money(high - init * lim / 100)
