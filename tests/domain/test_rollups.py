"""Hourly rollups keep what long curves and the risk numbers need: from buckets alone, the HWM and
the maximum drawdown of a period equal those of its raw snapshots."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboard.domain.drawdown import drawdown_pct, next_hwm
from dashboard.domain.rollups import Sample, buckets_of, fold, hour_of, hour_start, merge

T = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)


def series(n: int, seed: int = 1, step: timedelta = timedelta(minutes=1)) -> list[Sample]:
    """A random walk with its HWM and drawdown as ingestion computes them."""
    rng = random.Random(seed)
    equity, hwm = Decimal("10000.00"), Decimal("10000.00")
    samples = []
    for i in range(n):
        equity = (equity * Decimal(1 + rng.gauss(0, 0.004))).quantize(Decimal("0.01"))
        hwm = next_hwm(hwm, equity)
        samples.append(Sample(T + i * step, Decimal("10000.00"), equity, hwm, drawdown_pct(hwm, equity)))
    return samples


def test_an_hour_keeps_open_high_low_close_and_its_worst_moment() -> None:
    samples = series(3)
    bucket = None
    for sample in samples[:2]:
        bucket = fold(bucket, sample)
    assert bucket is not None and bucket.samples == 2 and bucket.hour == hour_of(T)
    assert bucket.open_equity == samples[0].equity and bucket.close == samples[1]
    assert bucket.high_equity == max(s.equity for s in samples[:2])
    assert bucket.low_equity == min(s.equity for s in samples[:2])
    assert bucket.worst == max(samples[:2], key=lambda s: s.drawdown_pct)
    nxt = fold(bucket, samples[2])  # 10:00: a new hour
    assert (
        nxt.hour == bucket.hour + 1 and nxt.samples == 1 and hour_start(nxt.hour) == T + timedelta(minutes=2)
    )


def test_hwm_and_max_drawdown_from_buckets_equal_those_from_raw_data() -> None:
    for seed in range(20):
        samples = series(5_000, seed=seed)
        buckets = buckets_of(samples)
        assert sum(b.samples for b in buckets) == len(samples)
        assert max(b.close.hwm for b in buckets) == max(s.hwm for s in samples)
        assert max(b.worst.drawdown_pct for b in buckets) == max(s.drawdown_pct for s in samples)
        merged = merge(buckets)
        assert merged.worst.drawdown_pct == max(s.drawdown_pct for s in samples)
        assert (merged.high_equity, merged.low_equity) == (
            max(s.equity for s in samples),
            min(s.equity for s in samples),
        )
        assert merged.close == samples[-1] and merged.open_equity == samples[0].equity
