"""Hourly equity rollups: what a year-long curve is drawn from once the minute snapshots are gone.

A bucket keeps the hour's open, high, low and close equity, its close (with HWM and drawdown) and
its worst moment (the snapshot of greatest drawdown, with its HWM). From buckets alone the period's
HWM is the largest close HWM and its maximum drawdown the largest worst drawdown, exactly as from
the raw snapshots: HWM never falls within a period (a reset starts a new one), and the worst moment
is a snapshot, not an average. Pure, so ingestion, the migration's backfill and the tests agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

HOUR_S = 3600
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hour_of(ts: datetime) -> int:
    """Hours since the epoch of the hour `ts` falls in (an integer key both databases divide)."""
    return int((ts - EPOCH).total_seconds() // HOUR_S)


def hour_start(hour: int) -> datetime:
    return EPOCH + timedelta(hours=hour)


@dataclass(frozen=True, slots=True)
class Sample:
    """One equity snapshot as stored by ingestion."""

    ts: datetime
    balance: Decimal
    equity: Decimal
    hwm: Decimal
    drawdown_pct: Decimal


@dataclass(frozen=True, slots=True)
class Bucket:
    hour: int
    open_equity: Decimal
    high_equity: Decimal
    low_equity: Decimal
    close: Sample
    worst: Sample
    samples: int


def fold(bucket: Bucket | None, sample: Sample) -> Bucket:
    """The bucket of `sample`'s hour with `sample` added. Samples arrive in time order (ingestion
    refuses older ones); a sample of another hour starts a new bucket."""
    hour = hour_of(sample.ts)
    if bucket is None or bucket.hour != hour:
        return Bucket(hour, sample.equity, sample.equity, sample.equity, sample, sample, 1)
    # The earliest of equal drawdowns stays the worst moment (as the raw curve's downsampling does).
    worst = sample if sample.drawdown_pct > bucket.worst.drawdown_pct else bucket.worst
    return replace(
        bucket,
        high_equity=max(bucket.high_equity, sample.equity),
        low_equity=min(bucket.low_equity, sample.equity),
        close=sample,
        worst=worst,
        samples=bucket.samples + 1,
    )


def buckets_of(samples: list[Sample]) -> list[Bucket]:
    """The hourly buckets of time-ordered samples (the seed's history, a backfill)."""
    buckets: list[Bucket] = []
    for sample in samples:
        current = buckets[-1] if buckets and buckets[-1].hour == hour_of(sample.ts) else None
        folded = fold(current, sample)
        if current is None:
            buckets.append(folded)
        else:
            buckets[-1] = folded
    return buckets


def merge(buckets: list[Bucket]) -> Bucket:
    """Consecutive buckets as one (a coarser bucket for a long window), keyed by the first hour."""
    first, last = buckets[0], buckets[-1]
    worst = first.worst
    for bucket in buckets[1:]:
        if bucket.worst.drawdown_pct > worst.drawdown_pct:
            worst = bucket.worst
    return Bucket(
        first.hour,
        first.open_equity,
        max(b.high_equity for b in buckets),
        min(b.low_equity for b in buckets),
        last.close,
        worst,
        sum(b.samples for b in buckets),
    )
