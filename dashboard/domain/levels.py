"""Gauge classification and alert hysteresis (docs/domain.md §2.6, §2.7, §6.3).

Two different things on purpose: the *gauge* (`classify_drawdown`) is memoryless and must show
exactly the seed levels; *alerts* (`alert_level`) remember their level so a value oscillating around
a threshold produces one `triggered` and one `cleared`, not a storm.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboard.domain.enums import LEVEL_RANK, GuardState, Level
from dashboard.domain.numbers import DomainError, pct, to_decimal

__all__ = ["LevelChange", "Thresholds", "alert_level", "classify_drawdown", "level_change", "raw_level"]


@dataclass(frozen=True)
class Thresholds:
    """Drawdown gauge thresholds in %; per-account columns override the seed 10/15."""

    warning: Decimal = Decimal(10)
    critical: Decimal = Decimal(15)

    def __post_init__(self) -> None:
        object.__setattr__(self, "warning", to_decimal(self.warning))
        object.__setattr__(self, "critical", to_decimal(self.critical))
        if self.warning <= 0 or self.critical <= 0:
            raise DomainError("thresholds must be > 0")
        if self.warning >= self.critical:
            raise DomainError(f"warning ({self.warning}) must be < critical ({self.critical})")


def classify_drawdown(dd_pct: Decimal | int | str, thresholds: Thresholds = Thresholds()) -> Level:
    """normal < warning <= dd <= critical < critical, on the value quantised to 4 dp.

    So 10.0000 and 15.0000 are warning, 15.0001 is critical (§2.6, §6.3). Quantising first makes the
    level agree with the number the UI shows.
    """
    value = pct(dd_pct)
    if value > thresholds.critical:
        return Level.CRITICAL
    if value >= thresholds.warning:
        return Level.WARNING
    return Level.NORMAL


def raw_level(
    value: Decimal | int | str,
    warning_at: Decimal | int | str,
    critical_at: Decimal | int | str,
    inclusive_critical: bool = False,
) -> Level:
    """Memoryless level: warning at >= warning_at; critical above (or at, if inclusive) critical_at."""
    v, w, c = to_decimal(value), to_decimal(warning_at), to_decimal(critical_at)
    if (v >= c) if inclusive_critical else (v > c):
        return Level.CRITICAL
    if v >= w:
        return Level.WARNING
    return Level.NORMAL


def alert_level(
    current: Level,
    value: Decimal | int | str,
    warning_at: Decimal | int | str,
    critical_at: Decimal | int | str,
    clear_ratio: Decimal = Decimal("0.8"),
    inclusive_critical: bool = False,
) -> Level:
    """Next alert level with hysteresis ("higher value = worse" metrics).

    Escalation is immediate: as soon as the memoryless level is above `current`, it wins.
    De-escalation steps down one level at a time, and only leaves a level when the value is below
    `clear_ratio` × that level's entry threshold. Consequence (documented, intended): with
    thresholds close together, a value can fall below warning_at yet stay CRITICAL until it is under
    clear_ratio × critical_at.
    """
    w, c, ratio = to_decimal(warning_at), to_decimal(critical_at), to_decimal(clear_ratio)
    if w <= 0 or c <= 0 or w >= c:
        raise DomainError(f"need 0 < warning_at < critical_at, got {w} / {c}")
    if not 0 < ratio <= 1:
        raise DomainError(f"clear_ratio must be within (0, 1], got {ratio}")
    v = to_decimal(value)
    current = Level(current)
    raw = raw_level(v, w, c, inclusive_critical)
    if LEVEL_RANK[raw] >= LEVEL_RANK[current]:
        return raw
    entry = {Level.WARNING: w, Level.CRITICAL: c}
    level = current
    while level is not Level.NORMAL and v < ratio * entry[level]:
        level = Level.WARNING if level is Level.CRITICAL else Level.NORMAL
    return level if LEVEL_RANK[level] >= LEVEL_RANK[raw] else raw


@dataclass(frozen=True)
class LevelChange:
    """An old -> new level pair, with the edge it represents."""

    old: Level
    new: Level

    @property
    def state(self) -> GuardState | None:
        return level_change(self.old, self.new)


def level_change(old: Level, new: Level) -> GuardState | None:
    """TRIGGERED when the level rises, CLEARED when it falls, None when unchanged (edge-triggered)."""
    before, after = LEVEL_RANK[Level(old)], LEVEL_RANK[Level(new)]
    if after > before:
        return GuardState.TRIGGERED
    if after < before:
        return GuardState.CLEARED
    return None
