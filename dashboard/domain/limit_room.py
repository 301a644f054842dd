"""The room left under each limit: how far equity may still fall, in money and in %, before a gauge
reaches its next level (docs/domain.md §2.6, §2.8, §2.9).

Room is measured to the *boundary* of each level, with the same boundaries the gauges use, so a
trader reads one number and the gauge agrees with it:

| limit | boundary equity | % of | the level holds |
|---|---|---|---|
| drawdown warning | `HWM × (1 − warning/100)` | HWM | at the boundary and below |
| drawdown critical | `HWM × (1 − critical/100)` | HWM | only below the boundary |
| daily loss limit | the day's floor (`reference × (1 − limit/100)`) | the reference | below the floor |
| max loss | the max-loss floor (static or trailing) | initial balance | below the floor |

`room = equity − boundary` (never negative), `room_pct = room / base × 100` (4 dp), computed from
the exact boundary so that `room_pct` for a drawdown is exactly `threshold − drawdown`. `reached`
is decided by the gauges' own classification (`classify_drawdown` on the 4-dp value, `daily_loss`,
`equity < floor`), never by comparing the rounded room: on the boundary itself a drawdown warning
is reached with 0.00 room, while a critical level or a loss limit still has 0.00 room left and is
not reached. Once reached, the room is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboard.domain.daily_loss import daily_loss, day_reference, max_loss_floor
from dashboard.domain.drawdown import drawdown_pct
from dashboard.domain.enums import LEVEL_RANK, Level
from dashboard.domain.levels import Thresholds, classify_drawdown
from dashboard.domain.numbers import DomainError, money, pct, to_decimal
from dashboard.domain.risk_state import AccountRules, RiskState

__all__ = ["LimitRoom", "Room", "daily_loss_room", "drawdown_room", "limit_room", "max_loss_room"]

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Room:
    """The distance from the current equity to one level's boundary."""

    #: The level reached beyond the boundary (warning or critical; a loss limit's breach is critical).
    level: Level
    #: The configured threshold in % (of `base`).
    limit_pct: Decimal
    #: What the percentages are of: the HWM, the day's reference, the initial balance.
    base: Decimal
    #: The equity at the level's boundary, to the cent.
    boundary: Decimal
    #: Money equity may still lose before the boundary (0 once the level is reached).
    room: Decimal
    #: `room` in % of `base`, 4 dp.
    room_pct: Decimal
    #: The level holds now (by the gauges' own classification).
    reached: bool


def _room(
    level: Level, limit_pct: Decimal, base: Decimal, exact_boundary: Decimal, equity: Decimal, reached: bool
) -> Room:
    if base <= 0:
        raise DomainError(f"the base of a limit must be > 0, got {base}")
    distance = _ZERO if reached else max(_ZERO, equity - exact_boundary)
    return Room(
        level=level,
        limit_pct=limit_pct,
        base=money(base),
        boundary=money(exact_boundary),
        room=money(distance),
        room_pct=pct(distance / base * 100),
        reached=reached,
    )


def drawdown_room(
    hwm: Decimal | int | str, equity: Decimal | int | str, thresholds: Thresholds
) -> tuple[Room, Room]:
    """Room to the drawdown warning and to the drawdown critical level, from the lifetime HWM."""
    h, e = to_decimal(hwm), to_decimal(equity)
    current = LEVEL_RANK[classify_drawdown(drawdown_pct(h, e), thresholds)]
    rooms = []
    for level, threshold in ((Level.WARNING, thresholds.warning), (Level.CRITICAL, thresholds.critical)):
        boundary = h * (1 - threshold / 100)
        rooms.append(_room(level, threshold, h, boundary, e, current >= LEVEL_RANK[level]))
    return rooms[0], rooms[1]


def daily_loss_room(equity: Decimal | int | str, reference: Decimal | int | str, limit_pct: Decimal) -> Room:
    """Room to the day's floor (the limit is a % of the day's reference, as the projection applies
    it: docs/domain.md §7.9). Breached only below the floor."""
    e, ref = to_decimal(equity), to_decimal(reference)
    daily = daily_loss(e, ref, limit_pct)
    return _room(Level.CRITICAL, to_decimal(limit_pct), ref, daily.floor, e, daily.breached)


def max_loss_room(
    equity: Decimal | int | str, rules: AccountRules, highest_eod_balance: Decimal | None
) -> Room:
    """Room to the overall floor (static or trailing on end-of-day balances)."""
    if rules.max_loss_limit_pct is None:
        raise DomainError("the account has no max-loss limit")
    e = to_decimal(equity)
    floor = max_loss_floor(
        rules.max_loss_mode, rules.initial_balance, rules.max_loss_limit_pct, highest_eod_balance
    )
    return _room(Level.CRITICAL, rules.max_loss_limit_pct, rules.initial_balance, floor, e, e < floor)


@dataclass(frozen=True)
class LimitRoom:
    """Every room of one account; None where the limit is off or nothing was measured yet."""

    drawdown_warning: Room | None
    drawdown_critical: Room | None
    daily_loss: Room | None
    max_loss: Room | None


def limit_room(rules: AccountRules, state: RiskState) -> LimitRoom:
    """The rooms at the account's latest equity snapshot (the projection's state)."""
    if state.equity is None or state.hwm is None:
        return LimitRoom(None, None, None, None)
    warning, critical = drawdown_room(state.hwm, state.equity, rules.thresholds)
    daily = None
    if (
        rules.daily_loss_limit_pct is not None
        and state.day_start_balance is not None
        and state.day_start_equity is not None
    ):
        reference = day_reference(
            rules.daily_loss_basis, rules.initial_balance, state.day_start_balance, state.day_start_equity
        )
        daily = daily_loss_room(state.equity, reference, rules.daily_loss_limit_pct)
    maximum = (
        max_loss_room(state.equity, rules, state.highest_eod_balance)
        if rules.max_loss_limit_pct is not None
        else None
    )
    return LimitRoom(warning, critical, daily, maximum)
