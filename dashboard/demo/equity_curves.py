"""Equity curves that land exactly on a target current drawdown (docs/domain.md §5.3).

Simulating trades cannot promise "2 accounts warning, 2 critical", and a demo whose gauges change
colour with every reseed is useless for screenshots and tests. So equity is generated directly:
log-linear interpolation between persona anchors, plus a Brownian bridge pinned to 0 at each anchor
(realistic wiggle without drifting off the story), then the tail after the final high-water mark is
rescaled so the last point sits at exactly HWM × (1 − target) after 2 dp money rounding.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dashboard.demo.fleet import AccountDef, FleetDefinition, derive_rng
from dashboard.domain.drawdown import drawdown_pct

CENT = Decimal("0.01")
PCT_QUANTUM = Decimal("0.0001")
HUNDRED = Decimal(100)
# The HWM is searched before the last 2% of the horizon so the pinned drop is never a one-step cliff.
MIN_TAIL_FRACTION = 0.02


def money(value: float | Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def pinned_equity(hwm: Decimal, target_dd_pct: Decimal) -> Decimal:
    """The 2 dp equity whose drawdown from `hwm`, computed the gauge's way, is exactly the target.

    Rounding the product to cents can move the 4 dp drawdown by one unit, so nearby cents are tried.
    One cent is at most 0.0001% of an HWM ≥ 10 000 (every demo account starts there), so a match is
    then guaranteed; on a smaller HWM an arbitrary 4 dp target may be unreachable (ValueError).
    """
    base = money(hwm * (1 - target_dd_pct / HUNDRED))
    for delta in (0, -1, 1, -2, 2):
        candidate = base + delta * CENT
        if drawdown_pct(hwm, candidate) == target_dd_pct:
            return candidate
    raise ValueError(f"cannot pin drawdown {target_dd_pct}% on HWM {hwm} with 2 dp equity")


def _anchor_indices(anchors: Sequence[tuple[float, float]], n_points: int) -> list[int]:
    indices = [round(frac * (n_points - 1)) for frac, _ in anchors]
    if anchors[0][0] != 0.0 or anchors[-1][0] != 1.0:
        raise ValueError("anchors must start at fraction 0 and end at fraction 1")
    if any(b <= a for a, b in itertools.pairwise(indices)):
        raise ValueError(f"anchors collapse onto the same point with n_points={n_points}")
    return indices


def _bridge(length: int, sigma: float, rng: random.Random) -> list[float]:
    """Brownian bridge over `length` steps (length + 1 points), exactly 0 at both ends."""
    walk = [0.0]
    for _ in range(length):
        walk.append(walk[-1] + sigma * rng.gauss(0.0, 1.0))
    end = walk[-1]
    return [w - end * k / length for k, w in enumerate(walk)]


def _log_path(
    anchors: Sequence[tuple[float, float]], n_points: int, sigma_step: float, rng: random.Random
) -> list[float]:
    """log(E/start): linear between anchors plus a bridge per segment."""
    indices = _anchor_indices(anchors, n_points)
    knots = [(i, math.log(multiple)) for i, (_, multiple) in zip(indices, anchors, strict=True)]
    path = [knots[0][1]]
    for (i0, l0), (i1, l1) in itertools.pairwise(knots):
        length = i1 - i0
        noise = _bridge(length, sigma_step, rng)
        path.extend(l0 + (l1 - l0) * k / length + noise[k] for k in range(1, length + 1))
    return path


def _peak_index(log_eq: Sequence[float]) -> int:
    """Index of the final HWM: the max before the minimum tail (first occurrence)."""
    n = len(log_eq)
    limit = n - max(1, round(n * MIN_TAIL_FRACTION))
    head = log_eq[: max(1, limit)]
    return max(range(len(head)), key=head.__getitem__)


def _pin_tail(log_eq: list[float], target_dd_pct: float) -> list[float]:
    """Rescale the tail after the peak so it ends at log(1 − target) below the peak, never above it.

    The doc's geometric rescale is a linear tilt in log space. It is used to pull the tail down (and
    first, to push any late point above the peak under it). Lifting a tail that ends too deep is
    also a tilt unless that would poke a point above the peak; then the tail's log-drawdown is
    shrunk proportionally instead, which can never cross the peak.
    """
    h = _peak_index(log_eq)
    span = len(log_eq) - 1 - h
    peak = log_eq[h]
    rel = [v - peak for v in log_eq[h + 1 :]]
    fracs = [(k + 1) / span for k in range(span)]
    overshoot = max(0.0, *(r / f for r, f in zip(rel, fracs, strict=True)))
    rel = [r - overshoot * f for r, f in zip(rel, fracs, strict=True)]
    goal = math.log(1 - target_dd_pct / 100)
    tilted = [r + (goal - rel[-1]) * f for r, f in zip(rel, fracs, strict=True)]
    if goal <= rel[-1] or max(tilted[:-1], default=goal) <= 0.0:
        rel = tilted
    else:
        rel = [r * goal / rel[-1] for r in rel]
    return [*log_eq[: h + 1], *(peak + r for r in rel)]


def equity_curve(
    anchors: Sequence[tuple[float, float]],
    n_points: int,
    start: Decimal,
    target_dd_pct: Decimal,
    sigma_step: float,
    rng: random.Random,
) -> list[Decimal]:
    """`n_points` 2 dp equities from `start`; the last one is exactly `target_dd_pct` below the HWM.

    The HWM is the series max (which includes the first point, i.e. the start). The current
    drawdown (HWM − E_last) / HWM × 100 at 4 dp equals the target exactly.
    """
    if n_points < 2:
        raise ValueError("an equity curve needs at least 2 points")
    if not Decimal(0) < target_dd_pct < HUNDRED or target_dd_pct != target_dd_pct.quantize(PCT_QUANTUM):
        raise ValueError(f"target_dd_pct must be in (0, 100) with at most 4 dp, got {target_dd_pct}")
    log_eq = _pin_tail(_log_path(anchors, n_points, sigma_step, rng), float(target_dd_pct))
    curve = [money(start * Decimal(math.exp(v))) for v in log_eq]
    curve[-1] = pinned_equity(max(curve[:-1]), target_dd_pct)
    return curve


def balance_steps(
    equity: Sequence[Decimal],
    rng: random.Random,
    every_hours: tuple[float, float] = (2.0, 8.0),
    step_minutes: int = 5,
) -> list[Decimal]:
    """Balance as a step function that snaps to equity at random "trade close" instants.

    Closes happen every U(every_hours) hours, so between them equity − balance is the floating P&L
    of whatever is open, which is how MT5 accounts actually behave.
    """
    if not equity:
        return []
    lo, hi = every_hours

    def gap() -> int:
        return max(1, round(rng.uniform(lo, hi) * 60 / step_minutes))

    balance, next_close, out = equity[0], gap(), []
    for i, e in enumerate(equity):
        if i >= next_close:
            balance, next_close = e, i + gap()
        out.append(balance)
    return out


@dataclass(frozen=True)
class AccountCurves:
    equity: list[Decimal]
    balance: list[Decimal]


def account_curves(
    fleet: FleetDefinition, account: AccountDef, seed: int, n_points: int | None = None
) -> AccountCurves:
    """Equity and balance for one fleet account, each from its own (seed, account) RNG stream."""
    persona = fleet.personas[account.persona]
    n = fleet.equity.n_points if n_points is None else n_points
    equity = equity_curve(
        persona.anchors,
        n,
        account.initial_balance,
        account.target_dd_pct,
        persona.sigma_step,
        derive_rng(seed, "equity", account.key),
    )
    balance = balance_steps(
        equity,
        derive_rng(seed, "balance", account.key),
        fleet.equity.balance_close_every_hours,
        fleet.equity.step_minutes,
    )
    return AccountCurves(equity, balance)
