"""How long reconciliation incidents stay open: the ages of the open ones and the time the resolved
ones took, as median and 90th percentile per kind and per account (the stats card of
`/reconciliation`). Pure: the query service hands in each incident's times.

Definitions (the numbers a risk desk reads, so they are spelled out):

- An incident's *episode* starts when it was opened: `first_seen_at`, or `reopened_at` when the
  sync reopened it after a person's resolution (the age of a reopened incident is the time since
  the divergence came back, not since it was first seen months ago).
- *Age* of an open incident: `now - opened_at`.
- *Time to resolve* of an incident resolved in the window `[since, now]` (by the sync or by a
  person): `resolved_at - opened_at`. An incident resolved before `since` does not count.
- Durations are seconds as `Decimal`, exact to the microsecond; a negative one (clocks of two
  writers a moment apart) counts as 0.
- Percentiles are **nearest-rank**: the p-th percentile of n sorted values is the value at rank
  `ceil(p * n / 100)` (1-based). It is always a duration that really happened (no interpolated
  value between two incidents); the median of an even count is the lower middle value. Of
  [10, 20, 30, 40] s the median is 20 s and the p90 40 s; of one value, both are that value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from dashboard.domain.enums import DivergenceKind
from dashboard.domain.numbers import DomainError, require_utc

__all__ = [
    "GroupStats",
    "IncidentStatsResult",
    "IncidentTiming",
    "Spread",
    "incident_stats",
    "nearest_rank",
    "seconds",
]

MEDIAN = 50
P90 = 90
_MICRO = Decimal("0.000001")
K = TypeVar("K", bound=Hashable)


def seconds(span: timedelta) -> Decimal:
    """A timedelta as exact Decimal seconds (never through a float)."""
    whole = Decimal(span.days * 86_400 + span.seconds)
    return whole + Decimal(span.microseconds) * _MICRO


def nearest_rank(values: Sequence[Decimal], percentile: int) -> Decimal | None:
    """The nearest-rank `percentile` (1..100) of `values` (any order); None when there are none."""
    if not 1 <= percentile <= 100:
        raise DomainError(f"percentile must be between 1 and 100, got {percentile}")
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-percentile * len(ordered) // 100)  # ceil without floats
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class IncidentTiming:
    """One incident's times, as stored: `opened_at` is `reopened_at` or else `first_seen_at`;
    `resolved_at` is None while it is open."""

    kind: DivergenceKind
    account_id: int
    opened_at: datetime
    resolved_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DivergenceKind(self.kind))
        object.__setattr__(self, "opened_at", require_utc(self.opened_at))
        if self.resolved_at is not None:
            object.__setattr__(self, "resolved_at", require_utc(self.resolved_at))


@dataclass(frozen=True, slots=True)
class Spread:
    """How many durations, and their nearest-rank median and p90 (None when there are none)."""

    count: int
    median_s: Decimal | None
    p90_s: Decimal | None

    @classmethod
    def of(cls, durations: Sequence[Decimal]) -> Spread:
        return cls(len(durations), nearest_rank(durations, MEDIAN), nearest_rank(durations, P90))


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Ages of the open incidents of a group, and the time to resolve of those resolved in the window."""

    open: Spread
    resolved: Spread


@dataclass(frozen=True)
class IncidentStatsResult:
    overall: GroupStats
    by_kind: dict[DivergenceKind, GroupStats] = field(default_factory=dict)
    by_account: dict[int, GroupStats] = field(default_factory=dict)


@dataclass
class _Durations:
    ages: list[Decimal] = field(default_factory=list)
    to_resolve: list[Decimal] = field(default_factory=list)

    def stats(self) -> GroupStats:
        return GroupStats(Spread.of(self.ages), Spread.of(self.to_resolve))


def _grouped(groups: dict[K, _Durations]) -> dict[K, GroupStats]:
    return {key: durations.stats() for key, durations in groups.items()}


def incident_stats(timings: Iterable[IncidentTiming], now: datetime, since: datetime) -> IncidentStatsResult:
    """Ages of the open incidents at `now` and time to resolve of those resolved in `[since, now]`,
    overall, per kind and per account (a group appears when it has at least one of either).
    Incidents resolved outside the window, or opened after `now`, are left out."""
    at, start = require_utc(now), require_utc(since)
    if start > at:
        raise DomainError("since must not be later than now")
    overall = _Durations()
    by_kind: dict[DivergenceKind, _Durations] = defaultdict(_Durations)
    by_account: dict[int, _Durations] = defaultdict(_Durations)
    for timing in timings:
        if timing.opened_at > at:
            continue
        if timing.resolved_at is None:
            age = max(seconds(at - timing.opened_at), Decimal(0))
            for group in (overall, by_kind[timing.kind], by_account[timing.account_id]):
                group.ages.append(age)
        elif start <= timing.resolved_at <= at:
            took = max(seconds(timing.resolved_at - timing.opened_at), Decimal(0))
            for group in (overall, by_kind[timing.kind], by_account[timing.account_id]):
                group.to_resolve.append(took)
    return IncidentStatsResult(overall.stats(), _grouped(by_kind), _grouped(by_account))
