"""Per-symbol market guards: price gap, spread blow-out, stale quote (docs/domain.md §2.10).

The state is a small immutable value (last mid, recent |Δmid| for ATR14, recent spreads for the
rolling median, current alert levels) that round-trips through JSON, so a worker can keep it in a
DB JSON column and stay pure: `apply_quote(state, ...) -> (new_state, transitions)`.
Only *edges* are emitted (triggered / cleared) and levels use `alert_level` hysteresis (clear below
80 % of the entry threshold) so a noisy market does not flood `guard_events`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from dashboard.domain.enums import LEVEL_RANK, GuardState, GuardType, Level
from dashboard.domain.instruments import InstrumentSpec, normalise_symbol
from dashboard.domain.levels import alert_level, level_change
from dashboard.domain.numbers import DomainError, pct, require_utc, to_decimal

__all__ = [
    "MARKET_GUARDS",
    "GuardConfig",
    "GuardTransition",
    "SymbolGuardState",
    "apply_quote",
    "check_stale",
    "margin_level_alert",
    "median",
]

MARKET_GUARDS: tuple[GuardType, ...] = (GuardType.PRICE_GAP, GuardType.SPREAD, GuardType.STALE_QUOTE)


@dataclass(frozen=True)
class GuardConfig:
    """§2.10 defaults [A]; tune per deployment without touching the maths."""

    gap_warning: Decimal = Decimal(3)
    gap_critical: Decimal = Decimal(5)
    atr_period: int = 14
    spread_warning: Decimal = Decimal("2.5")
    spread_critical: Decimal = Decimal(4)
    spread_window: int = 200
    min_spreads: int = 20
    stale_warning_s: Decimal = Decimal(30)
    stale_critical_s: Decimal = Decimal(120)
    clear_ratio: Decimal = Decimal("0.8")

    def __post_init__(self) -> None:
        if self.atr_period < 1 or self.spread_window < 1 or not 1 <= self.min_spreads <= self.spread_window:
            raise DomainError("invalid guard window sizes")


DEFAULT_CONFIG = GuardConfig()


def median(values: tuple[Decimal, ...]) -> Decimal:
    """Exact Decimal median (mean of the middle pair for even counts)."""
    if not values:
        raise DomainError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class SymbolGuardState:
    """Everything the guards remember about one symbol between quotes."""

    symbol: str
    last_mid: Decimal | None = None
    last_quote_at: datetime | None = None
    recent_moves: tuple[Decimal, ...] = ()
    recent_spreads: tuple[Decimal, ...] = ()
    levels: Mapping[GuardType, Level] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.last_mid is not None:
            object.__setattr__(self, "last_mid", to_decimal(self.last_mid))
        if self.last_quote_at is not None:
            object.__setattr__(self, "last_quote_at", require_utc(self.last_quote_at))
        object.__setattr__(self, "recent_moves", tuple(to_decimal(m) for m in self.recent_moves))
        object.__setattr__(self, "recent_spreads", tuple(to_decimal(s) for s in self.recent_spreads))
        levels = {g: Level.NORMAL for g in MARKET_GUARDS}
        levels.update({GuardType(k): Level(v) for k, v in self.levels.items()})
        object.__setattr__(self, "levels", MappingProxyType(levels))

    def level(self, guard: GuardType) -> Level:
        return self.levels.get(guard, Level.NORMAL)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict: Decimals as strings (no float round-trip), datetimes as ISO 8601 UTC."""
        return {
            "symbol": self.symbol,
            "last_mid": None if self.last_mid is None else str(self.last_mid),
            "last_quote_at": None if self.last_quote_at is None else self.last_quote_at.isoformat(),
            "recent_moves": [str(m) for m in self.recent_moves],
            "recent_spreads": [str(s) for s in self.recent_spreads],
            "levels": {str(k): str(v) for k, v in self.levels.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SymbolGuardState:
        """Inverse of `to_json`; floats in the payload are refused like everywhere else."""
        try:
            quote_at = data.get("last_quote_at")
            return cls(
                symbol=data["symbol"],
                last_mid=None if data.get("last_mid") is None else to_decimal(data["last_mid"]),
                last_quote_at=None if quote_at is None else datetime.fromisoformat(quote_at),
                recent_moves=tuple(to_decimal(m) for m in data.get("recent_moves", ())),
                recent_spreads=tuple(to_decimal(s) for s in data.get("recent_spreads", ())),
                levels={GuardType(k): Level(v) for k, v in data.get("levels", {}).items()},
            )
        except (KeyError, ValueError) as exc:
            if isinstance(exc, DomainError):
                raise
            raise DomainError(f"invalid guard state payload: {exc}") from exc


@dataclass(frozen=True)
class GuardTransition:
    """One edge, shaped like a `guard_events` row (account_id NULL: market guards are per symbol).

    `threshold` is the entry threshold of the new level when TRIGGERED, and the clear point
    (clear_ratio × the old level's threshold) when CLEARED.
    """

    guard_type: GuardType
    symbol: str
    old: Level
    new: Level
    state: GuardState
    metric: Decimal
    threshold: Decimal
    message: str


_LABELS = {
    GuardType.PRICE_GAP: ("price gap", "x ATR{n}"),
    GuardType.SPREAD: ("spread", "x median"),
    GuardType.STALE_QUOTE: ("stale quote", " s since last tick"),
}


def _evaluate(
    levels: dict[GuardType, Level],
    guard: GuardType,
    symbol: str,
    metric: Decimal,
    warning_at: Decimal,
    critical_at: Decimal,
    config: GuardConfig,
) -> GuardTransition | None:
    old = levels.get(guard, Level.NORMAL)
    new = alert_level(old, metric, warning_at, critical_at, config.clear_ratio, inclusive_critical=True)
    edge = level_change(old, new)
    if edge is None:
        return None
    levels[guard] = new
    entry = {Level.WARNING: warning_at, Level.CRITICAL: critical_at}
    if edge is GuardState.TRIGGERED:
        threshold, relation = entry[new], ">="
    else:
        threshold, relation = config.clear_ratio * entry[old], "<"
    name, unit = _LABELS[guard]
    unit = unit.format(n=config.atr_period)
    value = pct(metric)
    message = f"{symbol} {name} {value}{unit} {relation} {threshold}: {old} -> {new}"
    return GuardTransition(guard, symbol, old, new, edge, value, threshold, message)


def apply_quote(
    state: SymbolGuardState,
    bid: Decimal | int | str,
    ask: Decimal | int | str,
    ts: datetime,
    spec: InstrumentSpec,
    config: GuardConfig = DEFAULT_CONFIG,
) -> tuple[SymbolGuardState, list[GuardTransition]]:
    """Feed one quote; return the new state and any guard edges.

    Gap ratio = |Δmid| / ATR where ATR is the mean of the previous `atr_period` |Δmid| (the current
    move is excluded so a spike cannot dilute its own yardstick); evaluated only with a full ATR
    window and a non-zero ATR. Spread ratio = spread / median of the previous spreads, once
    `min_spreads` are known and the median is > 0. A fresh quote also re-evaluates the stale guard
    at age 0, which clears it.
    """
    b, a = to_decimal(bid), to_decimal(ask)
    if b <= 0:
        raise DomainError(f"{state.symbol}: bid must be > 0, got {b}")
    if a < b:
        raise DomainError(f"{state.symbol}: ask {a} below bid {b}")
    at = require_utc(ts)
    if state.last_quote_at is not None and at < state.last_quote_at:
        raise DomainError(
            f"{state.symbol}: quote at {at.isoformat()} older than last {state.last_quote_at.isoformat()}"
        )
    if normalise_symbol(state.symbol) != normalise_symbol(spec.symbol):
        raise DomainError(f"spec {spec.symbol} does not match guard state {state.symbol}")

    mid, spread = (a + b) / 2, a - b
    levels = dict(state.levels)
    transitions: list[GuardTransition] = []

    moves = state.recent_moves
    if state.last_mid is not None:
        move = abs(mid - state.last_mid)
        if len(moves) >= config.atr_period:
            atr = sum(moves[-config.atr_period :], Decimal(0)) / config.atr_period
            if atr > 0:
                t = _evaluate(
                    levels,
                    GuardType.PRICE_GAP,
                    state.symbol,
                    move / atr,
                    config.gap_warning,
                    config.gap_critical,
                    config,
                )
                transitions.extend([t] if t else [])
        moves = (*moves, move)[-config.atr_period :]

    spreads = state.recent_spreads
    if len(spreads) >= config.min_spreads:
        typical = median(spreads)
        if typical > 0:
            t = _evaluate(
                levels,
                GuardType.SPREAD,
                state.symbol,
                spread / typical,
                config.spread_warning,
                config.spread_critical,
                config,
            )
            transitions.extend([t] if t else [])
    spreads = (*spreads, spread)[-config.spread_window :]

    t = _evaluate(
        levels,
        GuardType.STALE_QUOTE,
        state.symbol,
        Decimal(0),
        config.stale_warning_s,
        config.stale_critical_s,
        config,
    )
    transitions.extend([t] if t else [])

    new_state = SymbolGuardState(state.symbol, mid, at, moves, spreads, levels)
    return new_state, transitions


def check_stale(
    state: SymbolGuardState,
    now: datetime,
    warning_s: Decimal | int = 30,
    critical_s: Decimal | int = 120,
    clear_ratio: Decimal = Decimal("0.8"),
) -> tuple[SymbolGuardState, list[GuardTransition]]:
    """Evaluate quote age at `now` (call it on a timer, in session hours only).

    No quote ever seen -> nothing to judge, no edge. A `now` slightly before the last quote (clock
    skew between feed and checker) counts as age 0 rather than an error.
    """
    at = require_utc(now)
    if state.last_quote_at is None:
        return state, []
    age = max(Decimal(0), Decimal(str((at - state.last_quote_at).total_seconds())))
    config = GuardConfig(
        stale_warning_s=to_decimal(warning_s),
        stale_critical_s=to_decimal(critical_s),
        clear_ratio=clear_ratio,
    )
    levels = dict(state.levels)
    t = _evaluate(
        levels,
        GuardType.STALE_QUOTE,
        state.symbol,
        age,
        config.stale_warning_s,
        config.stale_critical_s,
        config,
    )
    if t is None:
        return state, []
    return SymbolGuardState(
        state.symbol, state.last_mid, state.last_quote_at, state.recent_moves, state.recent_spreads, levels
    ), [t]


def margin_level_alert(
    current: Level,
    margin_level_pct: Decimal | None,
    warning_below: Decimal = Decimal(200),
    critical_below: Decimal = Decimal(120),
    clear_ratio: Decimal = Decimal("0.8"),
) -> Level:
    """Margin-level guard (lower = worse) with the same hysteresis, mirrored.

    Warning when < 200 %, critical when < 120 %; a level clears only once the margin level rises
    above threshold / clear_ratio (250 % / 150 %). No margin in use (None) is always normal.
    """
    if margin_level_pct is None:
        return Level.NORMAL
    ml, w, c, r = (to_decimal(x) for x in (margin_level_pct, warning_below, critical_below, clear_ratio))
    if not 0 < c < w or not 0 < r <= 1:
        raise DomainError("need 0 < critical_below < warning_below and 0 < clear_ratio <= 1")
    if ml < c:
        raw = Level.CRITICAL
    elif ml < w:
        raw = Level.WARNING
    else:
        raw = Level.NORMAL
    current = Level(current)
    if LEVEL_RANK[raw] >= LEVEL_RANK[current]:
        return raw
    entry = {Level.WARNING: w, Level.CRITICAL: c}
    level = current
    while level is not Level.NORMAL and ml * r > entry[level]:
        level = Level.WARNING if level is Level.CRITICAL else Level.NORMAL
    return level if LEVEL_RANK[level] >= LEVEL_RANK[raw] else raw
