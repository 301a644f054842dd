"""Demo quotes: GBM with jumps plus a spread process (docs/domain.md §5.2).

One `PriceWalker` per (symbol, run) owns its RNG and current mid, so the seeder can walk the history
and the live simulator can keep stepping the very same walker every few seconds: the live tail is a
seamless continuation, and a given seed always yields the same tape. Rare jumps and spread spikes
are built in on purpose so the price-gap and spread guards have something to fire on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dashboard.demo.fleet import FleetInstrument, derive_rng

SECONDS_PER_DAY = 86_400
JUMP_PROB = 1 / 2000
JUMP_SIGMAS = 8.0
SPREAD_LOG_SIGMA = 0.25
SPREAD_SPIKE_PROB = 0.002
SPREAD_SPIKE_FACTOR = 5.0
# FX and index CFDs close from Friday 21:00 to Sunday 21:00 UTC (winter time; good enough for a demo).
WEEKEND_CLOSE_HOUR_UTC = 21


def sigma_step(annual_vol: float, step_seconds: float, trading_days: int) -> float:
    """Per-step log-return σ: σ_annual × √(step / (trading_days × 86 400)) (§6.8: EURUSD 60 s → 1.1620e-4)."""
    if annual_vol < 0 or step_seconds <= 0 or trading_days <= 0:
        raise ValueError("annual_vol must be >= 0, step_seconds and trading_days > 0")
    return annual_vol * math.sqrt(step_seconds / (trading_days * SECONDS_PER_DAY))


def market_closed(ts: datetime) -> bool:
    """Weekend close of FX/index CFDs, so the walker can freeze prices and gap at the reopen."""
    wd, hour = ts.weekday(), ts.hour
    return (
        (wd == 4 and hour >= WEEKEND_CLOSE_HOUR_UTC) or wd == 5 or (wd == 6 and hour < WEEKEND_CLOSE_HOUR_UTC)
    )


@dataclass(frozen=True)
class Quote:
    """A top-of-book quote; prices are Decimals at the instrument's digits and bid < ask always."""

    symbol: str
    ts: datetime
    bid: Decimal
    ask: Decimal

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None or self.ts.utcoffset() != timedelta(0):
            raise ValueError(f"Quote.ts must be an aware UTC datetime, got {self.ts!r}")
        if not self.bid < self.ask:
            raise ValueError(f"{self.symbol}: bid {self.bid} must be below ask {self.ask}")

    @property
    def mid(self) -> Decimal:
        """Exact midpoint (may carry one digit more than the instrument's)."""
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


def _round_price(value: float | Decimal, point: Decimal) -> Decimal:
    return Decimal(value).quantize(point, rounding=ROUND_HALF_UP)


class PriceWalker:
    """Stateful GBM walker for one symbol: `step()` advances the mid and returns a fresh quote.

    The mid is kept as an unrounded float so rounding never accumulates drift; only the emitted quote
    is quantised. `stress` multiplies σ (the §5.2 "stress regime" switch, 2–3 is sensible).
    """

    def __init__(
        self,
        spec: FleetInstrument,
        rng: random.Random,
        *,
        mid: float | None = None,
        stress: float = 1.0,
        weekend_gaps: bool = False,
    ) -> None:
        if stress <= 0:
            raise ValueError(f"stress must be > 0, got {stress}")
        self.spec = spec
        self._rng = rng
        self._mid = float(spec.start) if mid is None else mid
        self._stress = stress
        self._weekend_gaps = weekend_gaps and not spec.trades_weekends
        self._closed = False
        self._last: Quote | None = None

    @classmethod
    def from_seed(
        cls,
        spec: FleetInstrument,
        seed: int,
        *,
        mid: float | None = None,
        stress: float = 1.0,
        weekend_gaps: bool = False,
    ) -> PriceWalker:
        """The canonical walker for (seed, symbol): history and live ticks share this stream."""
        rng = derive_rng(seed, "prices", spec.symbol)
        return cls(spec, rng, mid=mid, stress=stress, weekend_gaps=weekend_gaps)

    @property
    def mid(self) -> float:
        return self._mid

    @property
    def last_quote(self) -> Quote | None:
        return self._last

    def step(self, ts: datetime, step_seconds: float) -> Quote:
        """Advance one step of `step_seconds` ending at `ts` and return the quote at `ts`."""
        if self._weekend_gaps and market_closed(ts):
            self._closed = True
            return self._frozen_quote(ts)
        if self._closed:
            self._closed = False
            self._mid *= math.exp(self._rng.gauss(0.0, self.spec.weekend_gap_sigma))
        self._mid *= math.exp(self._log_return(step_seconds))
        self._last = self._quote(ts)
        return self._last

    def _log_return(self, step_seconds: float) -> float:
        """r = −½σ² + σZ, plus a ±8σ jump with probability 1/2000 (news spike)."""
        sigma = sigma_step(self.spec.annual_vol, step_seconds, self.spec.trading_days) * self._stress
        r = -0.5 * sigma * sigma + sigma * self._rng.gauss(0.0, 1.0)
        if self._rng.random() < JUMP_PROB:
            r += JUMP_SIGMAS * sigma * (1 if self._rng.random() < 0.5 else -1)
        return r

    def _spread(self) -> Decimal:
        """typical × exp(0.25 Z'), ×5 with probability 0.002; at least one point."""
        spread = float(self.spec.typical_spread) * math.exp(SPREAD_LOG_SIGMA * self._rng.gauss(0.0, 1.0))
        if self._rng.random() < SPREAD_SPIKE_PROB:
            spread *= SPREAD_SPIKE_FACTOR
        return max(self.spec.point, _round_price(spread, self.spec.point))

    def _quote(self, ts: datetime) -> Quote:
        point = self.spec.point
        spread = self._spread()
        bid = _round_price(_round_price(self._mid, point) - spread / 2, point)
        return Quote(self.spec.symbol, ts, bid, bid + spread)

    def _frozen_quote(self, ts: datetime) -> Quote:
        """While the market is closed the last quote stands (re-stamped), as a real feed would show."""
        if self._last is None:
            self._last = self._quote(ts)
        return Quote(self.spec.symbol, ts, self._last.bid, self._last.ask)


def price_path(
    spec: FleetInstrument,
    start_ts: datetime,
    step_seconds: float,
    n: int,
    seed: int,
    *,
    stress: float = 1.0,
    weekend_gaps: bool = False,
) -> list[Quote]:
    """`n` quotes at start_ts + k·step (k = 0..n−1), each one step away from the previous mid.

    Equivalent to `PriceWalker.from_seed(spec, seed)` stepped `n` times, so a live simulator that
    rebuilds the walker and replays the history continues exactly where the seed stopped.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    walker = PriceWalker.from_seed(spec, seed, stress=stress, weekend_gaps=weekend_gaps)
    step = timedelta(seconds=step_seconds)
    return [walker.step(start_ts + k * step, step_seconds) for k in range(n)]
