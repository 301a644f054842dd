"""Prop-challenge objectives (FTMO / The5ers style), computed from stored data (pure, Decimal).

An account runs a challenge when its loss rule is set (daily and max loss limits, §2.8 and §2.9)
and it has a profit target and a start moment. Its objectives are:

- **Profit target** — `target = money(initial × target_pct / 100)`. What counts is the *closed*
  P&L: `profit = balance − initial` (prop firms judge the balance, so a floating gain does not pass
  a challenge). Equity must not hide a floating loss either: the target is *reached* only when
  both `balance − initial >= target` and `equity − initial >= target` (exactly the target counts).
  `progress_pct = pct(profit / target × 100)`, negative while the account is under water.
- **Daily loss room** — the projection's own evaluation (`daily_loss`, limit base = reference,
  §7.9): `floor = reference − money(reference × pct / 100)`; room = `equity − floor` (0 when
  below), in money and in % of the day's allowance. The room exceeds 100 % of the allowance while
  today's equity is above the day's reference: the floor does not move intraday.
- **Max loss room** — `max_loss_floor` (static, or trailing on the highest end-of-day balance);
  room = `equity − floor`, in % of `money(initial × pct / 100)`.
- **Breach** — the same boundary as the gauges and their guard events: `equity < floor`. Equity
  *exactly at* a floor is not a breach (docs/domain.md §2.8, §2.9): the room is 0.00 and the
  challenge goes on. A breach recorded earlier since the start (`recorded_breach`, e.g. a
  `max_loss` guard event) keeps the challenge failed after the equity recovered: a prop firm
  does not give a breached account back.
- **Trading days** — distinct broker days (the account's reset zone and hour, the same
  boundaries as `day_start`) within the challenge on which at least one position was opened.
- **Time** — the challenge's broker days are numbered from the day it started (day 1); with
  `max_days` it ends at the reset that begins day `max_days + 1` (`ends_at`). `days_left` counts
  today: 1 on the last day, 0 from `ends_at` on.
- **State** — `failed` on a breach (now or recorded) or when `ends_at` passed without passing;
  `passed` when the target is reached, the minimum trading days are done and nothing was
  breached; `in_progress` otherwise. The state is computed at every read, not stored: a passed
  challenge whose balance later falls back under the target reads `in_progress` again, and
  after `ends_at` the balance of that moment is judged (trading days only count until then).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.domain.daily_loss import daily_loss, day_reference, day_start, max_loss_floor
from dashboard.domain.enums import DailyLossBasis, MaxLossMode
from dashboard.domain.numbers import DomainError, money, pct, require_utc, to_decimal

__all__ = [
    "Breach",
    "ChallengeDay",
    "ChallengeProgress",
    "ChallengeState",
    "FailReason",
    "PropChallenge",
    "broker_day",
    "challenge_days",
    "evaluate",
    "reset_instant",
    "trading_days",
]


class ChallengeState(StrEnum):
    IN_PROGRESS = "in_progress"
    PASSED = "passed"
    FAILED = "failed"


class FailReason(StrEnum):
    DAILY_LOSS = "daily_loss"
    MAX_LOSS = "max_loss"
    TIME = "time"


@dataclass(frozen=True)
class Breach:
    """A breach recorded before now (from the guard events): which floor, and when."""

    reason: FailReason
    at: datetime


@dataclass(frozen=True)
class PropChallenge:
    """The loss rule and the objectives of one account's challenge."""

    initial_balance: Decimal
    daily_loss_limit_pct: Decimal
    max_loss_limit_pct: Decimal
    profit_target_pct: Decimal
    started_at: datetime
    daily_loss_basis: DailyLossBasis = DailyLossBasis.MAX_SOD_BALANCE_EQUITY
    max_loss_mode: MaxLossMode = MaxLossMode.STATIC
    day_reset_tz: str = "UTC"
    day_reset_hour: int = 0
    min_trading_days: int | None = None
    max_days: int | None = None

    def __post_init__(self) -> None:
        for name in ("initial_balance", "daily_loss_limit_pct", "max_loss_limit_pct", "profit_target_pct"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        object.__setattr__(self, "started_at", require_utc(self.started_at))
        if self.initial_balance <= 0:
            raise DomainError(f"initial balance must be > 0, got {self.initial_balance}")
        if self.profit_target_pct <= 0:
            raise DomainError(f"profit target must be > 0 %, got {self.profit_target_pct}")
        if self.min_trading_days is not None and self.min_trading_days < 0:
            raise DomainError(f"min trading days must be >= 0, got {self.min_trading_days}")
        if self.max_days is not None and self.max_days < 1:
            raise DomainError(f"max days must be >= 1, got {self.max_days}")
        _zone(self.day_reset_tz)

    @property
    def first_day(self) -> date:
        return broker_day(self.started_at, self.day_reset_tz, self.day_reset_hour)

    @property
    def end_day(self) -> date | None:
        """The first broker day after the challenge (None: no time limit)."""
        return None if self.max_days is None else self.first_day + timedelta(days=self.max_days)

    @property
    def ends_at(self) -> datetime | None:
        end = self.end_day
        return None if end is None else reset_instant(end, self.day_reset_tz, self.day_reset_hour)


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"unknown time zone {tz_name!r}") from exc


def broker_day(ts: datetime, tz_name: str, reset_hour: int = 0) -> date:
    """The broker day `ts` falls in, named by the local date of the reset that began it (the same
    boundary as `day_start`, so a trade at 23:59 and one at 00:00 Prague are two days)."""
    return day_start(ts, tz_name, reset_hour).astimezone(_zone(tz_name)).date()


def reset_instant(day: date, tz_name: str, reset_hour: int = 0) -> datetime:
    """The UTC instant broker day `day` begins (as `day_start` constructs it: DST follows)."""
    return require_utc(datetime.combine(day, time(reset_hour), tzinfo=_zone(tz_name)))


@dataclass(frozen=True)
class ChallengeDay:
    """One broker day of a challenge and its UTC span `[start, end)`, clipped to the challenge."""

    day: date
    start: datetime
    end: datetime


def challenge_days(challenge: PropChallenge, now: datetime) -> list[ChallengeDay]:
    """The challenge's broker days from its first up to today (or its last, if over), each with
    the span a position's `opened_at` must fall in to make it a trading day."""
    now = require_utc(now)
    if now < challenge.started_at:
        return []
    tz, hour = challenge.day_reset_tz, challenge.day_reset_hour
    last = broker_day(now, tz, hour)
    if challenge.end_day is not None:
        last = min(last, challenge.end_day - timedelta(days=1))
    days: list[ChallengeDay] = []
    day = challenge.first_day
    while day <= last:
        start = max(reset_instant(day, tz, hour), challenge.started_at)
        end = reset_instant(day + timedelta(days=1), tz, hour)
        if start < end:
            days.append(ChallengeDay(day, start, end))
        day += timedelta(days=1)
    return days


def trading_days(opened_at: Iterable[datetime], days: Collection[ChallengeDay]) -> frozenset[date]:
    """The days among `days` on which at least one of the `opened_at` moments falls."""
    found: set[date] = set()
    spans = sorted(days, key=lambda d: d.start)
    for ts in opened_at:
        moment = require_utc(ts)
        for span in spans:
            if span.start <= moment < span.end:
                found.add(span.day)
                break
    return frozenset(found)


@dataclass(frozen=True)
class ChallengeProgress:
    """Where a challenge stands. Money at 2 dp, percentages at 4 dp (`numbers.money` / `pct`)."""

    state: ChallengeState
    fail_reason: FailReason | None
    # profit target
    target_amount: Decimal
    target_balance: Decimal
    profit: Decimal
    progress_pct: Decimal
    target_reached: bool
    # daily loss
    daily_reference: Decimal
    daily_floor: Decimal
    daily_allowance: Decimal
    daily_room: Decimal
    daily_room_pct: Decimal
    daily_breached: bool
    # max loss
    max_floor: Decimal
    max_allowance: Decimal
    max_room: Decimal
    max_room_pct: Decimal
    max_breached: bool
    # days
    trading_days_done: int
    min_trading_days: int
    first_day: date
    day_number: int
    ends_at: datetime | None
    days_left: int | None


def evaluate(
    challenge: PropChallenge,
    now: datetime,
    *,
    balance: Decimal | int | str,
    equity: Decimal | int | str,
    sod_balance: Decimal | int | str,
    sod_equity: Decimal | int | str,
    highest_eod_balance: Decimal | int | str | None,
    traded_days: Collection[date],
    recorded_breach: Breach | None = None,
) -> ChallengeProgress:
    """The challenge's objectives at `now`, from the latest balance and equity, the day's
    start-of-day values (the reference follows the account's basis), the highest end-of-day
    balance (trailing floor), the broker days with a position opened, and a breach recorded
    earlier (see the module's docstring for every rule and boundary)."""
    now = require_utc(now)
    initial = challenge.initial_balance
    bal, eq = money(to_decimal(balance)), money(to_decimal(equity))

    target = money(initial * challenge.profit_target_pct / 100)
    profit = money(bal - initial)
    reached = profit >= target and eq - initial >= target

    reference = day_reference(challenge.daily_loss_basis, initial, sod_balance, sod_equity)
    daily = daily_loss(eq, reference, challenge.daily_loss_limit_pct)
    daily_room = money(max(Decimal(0), eq - daily.floor))

    high = None if highest_eod_balance is None else to_decimal(highest_eod_balance)
    max_floor = max_loss_floor(challenge.max_loss_mode, initial, challenge.max_loss_limit_pct, high)
    max_allowance = money(initial * challenge.max_loss_limit_pct / 100)
    max_room = money(max(Decimal(0), eq - max_floor))
    max_breached = eq < max_floor

    first, end = challenge.first_day, challenge.end_day
    today = broker_day(now, challenge.day_reset_tz, challenge.day_reset_hour)
    done = sum(1 for d in set(traded_days) if d >= first and (end is None or d < end) and d <= today)
    required = challenge.min_trading_days or 0
    ends_at = challenge.ends_at
    days_left = None
    if end is not None and challenge.max_days is not None:
        days_left = max(0, min(challenge.max_days, (end - today).days))
    day_number = max(1, (today - first).days + 1)

    fail: FailReason | None = None
    if recorded_breach is not None and recorded_breach.at >= challenge.started_at:
        fail = recorded_breach.reason
    elif max_breached:
        fail = FailReason.MAX_LOSS
    elif daily.breached:
        fail = FailReason.DAILY_LOSS
    if fail is not None:
        state = ChallengeState.FAILED
    elif reached and done >= required:
        state = ChallengeState.PASSED
    elif ends_at is not None and now >= ends_at:
        state, fail = ChallengeState.FAILED, FailReason.TIME
    else:
        state = ChallengeState.IN_PROGRESS

    return ChallengeProgress(
        state=state,
        fail_reason=fail,
        target_amount=target,
        target_balance=money(initial + target),
        profit=profit,
        progress_pct=pct(profit / target * 100),
        target_reached=reached,
        daily_reference=daily.reference,
        daily_floor=daily.floor,
        daily_allowance=daily.limit_amount,
        daily_room=daily_room,
        daily_room_pct=pct(daily_room / daily.limit_amount * 100),
        daily_breached=daily.breached,
        max_floor=max_floor,
        max_allowance=max_allowance,
        max_room=max_room,
        max_room_pct=pct(max_room / max_allowance * 100),
        max_breached=max_breached,
        trading_days_done=done,
        min_trading_days=required,
        first_day=first,
        day_number=day_number,
        ends_at=ends_at,
        days_left=days_left,
    )
