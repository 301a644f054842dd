"""Equity drawdown from a high-water mark (docs/domain.md §2.4, §2.5, §6.1–§6.4).

Always computed as (HWM − equity) / HWM, never 1 − equity/HWM: with floats the latter turns an
exact 10 % into 9.999999999999998 % (a "normal" gauge that should read "warning"). With Decimal both
forms are exact, but keeping the robust form costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dashboard.domain.enums import HwmMode
from dashboard.domain.numbers import DomainError, money, pct, to_decimal

__all__ = [
    "DrawdownPoint",
    "MaxDrawdown",
    "drawdown_pct",
    "drawdown_series",
    "max_drawdown",
    "max_drawdown_abs",
    "mt5_absolute_drawdown",
    "next_hwm",
]

_ZERO_PCT = Decimal("0.0000")


def next_hwm(prev_hwm: Decimal | None, equity: Decimal | int | str) -> Decimal:
    """HWM after observing `equity`: the running max of equity (None starts a fresh mark)."""
    e = to_decimal(equity)
    if prev_hwm is None:
        return e
    prev = to_decimal(prev_hwm)
    return e if e > prev else prev


def drawdown_pct(hwm: Decimal | int | str, equity: Decimal | int | str) -> Decimal:
    """Current relative drawdown in % (4 dp). 0 at or above the HWM; may exceed 100 if equity < 0."""
    h, e = to_decimal(hwm), to_decimal(equity)
    if h <= 0:
        raise DomainError(f"high-water mark must be > 0, got {h}")
    if e >= h:
        return _ZERO_PCT
    return pct((h - e) / h * 100)


@dataclass(frozen=True)
class DrawdownPoint:
    """One snapshot's gauge inputs: what `equity_snapshots` stores per row."""

    equity: Decimal
    hwm: Decimal
    dd_abs: Decimal
    dd_pct: Decimal


def drawdown_series(equities: Sequence[Decimal], initial_hwm: Decimal | None = None) -> list[DrawdownPoint]:
    """HWM and drawdown for every snapshot; `initial_hwm` carries a mark from before the series."""
    hwm = None if initial_hwm is None else to_decimal(initial_hwm)
    points: list[DrawdownPoint] = []
    for raw in equities:
        e = to_decimal(raw)
        hwm = next_hwm(hwm, e)
        points.append(DrawdownPoint(e, hwm, money(hwm - e), drawdown_pct(hwm, e)))
    return points


@dataclass(frozen=True)
class MaxDrawdown:
    """Worst drawdown over a window.

    `pct`, the indices and values describe the worst *relative* episode. `abs` is the largest
    *absolute* drawdown in the window, which can be a different episode (MT5's tester reports
    "Relative" and "Maximal" separately); `max_drawdown_abs` returns that episode in full.
    `peak_index` is None when the peak is the carried HWM from before the window.
    """

    pct: Decimal
    abs: Decimal
    peak_index: int | None
    trough_index: int
    peak_value: Decimal
    trough_value: Decimal


@dataclass(frozen=True)
class _Episode:
    dd_pct: Decimal
    dd_abs: Decimal
    peak_index: int | None
    trough_index: int
    peak_value: Decimal
    trough_value: Decimal


def _episodes(equities: Sequence[Decimal], mode: HwmMode, carried_hwm: Decimal | None) -> list[_Episode]:
    values = [to_decimal(e) for e in equities]
    if not values:
        raise DomainError("max drawdown needs at least one equity value")
    mode = HwmMode(mode)
    if mode is HwmMode.CARRIED:
        if carried_hwm is None:
            raise DomainError("carried HWM mode needs carried_hwm")
        hwm: Decimal = to_decimal(carried_hwm)
        peak_index: int | None = None
    else:
        if carried_hwm is not None:
            raise DomainError("carried_hwm given but mode is in_window; pass mode=HwmMode.CARRIED")
        hwm, peak_index = values[0], 0
    episodes = []
    for i, e in enumerate(values):
        if e > hwm:
            hwm, peak_index = e, i
        episodes.append(_Episode(drawdown_pct(hwm, e), money(hwm - e), peak_index, i, hwm, e))
    return episodes


def max_drawdown(
    equities: Sequence[Decimal],
    mode: HwmMode = HwmMode.IN_WINDOW,
    carried_hwm: Decimal | None = None,
) -> MaxDrawdown:
    """Max relative drawdown over the window (first occurrence wins ties).

    IN_WINDOW seeds the HWM with the first value ("worst peak-to-trough inside the window", as
    freqtrade / nautilus / MT5 tester do); CARRIED seeds it with `carried_hwm` ("worst gauge reading
    during the window"). They differ a lot (§2.5, §6.2), so callers must label which one they show.
    With no drawdown at all the result is 0 with peak = trough at the window's first point.
    """
    episodes = _episodes(equities, mode, carried_hwm)
    worst = episodes[0]
    for ep in episodes[1:]:
        if ep.dd_pct > worst.dd_pct:
            worst = ep
    largest_abs = max(ep.dd_abs for ep in episodes)
    return MaxDrawdown(
        worst.dd_pct, largest_abs, worst.peak_index, worst.trough_index, worst.peak_value, worst.trough_value
    )


def max_drawdown_abs(
    equities: Sequence[Decimal],
    mode: HwmMode = HwmMode.IN_WINDOW,
    carried_hwm: Decimal | None = None,
) -> MaxDrawdown:
    """The largest-currency episode ("Maximal" in the MT5 report), with its own % and indices."""
    episodes = _episodes(equities, mode, carried_hwm)
    worst = episodes[0]
    for ep in episodes[1:]:
        if ep.dd_abs > worst.dd_abs:
            worst = ep
    return MaxDrawdown(
        worst.dd_pct, worst.dd_abs, worst.peak_index, worst.trough_index, worst.peak_value, worst.trough_value
    )


def mt5_absolute_drawdown(initial: Decimal | int | str, equities: Sequence[Decimal]) -> Decimal:
    """MT5 "absolute drawdown": initial deposit − lowest value *below* it (not peak-to-trough)."""
    start = to_decimal(initial)
    values = [to_decimal(e) for e in equities]
    if not values:
        return money(0)
    lowest = min(values)
    return money(start - lowest) if lowest < start else money(0)
