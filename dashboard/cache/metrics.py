"""Per key-family counters: what the benchmarks read and `/health?detail=1` shows.

Plain integers on one event loop: no locks, no cost worth measuring on the hot path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from pydantic import BaseModel


@dataclass
class FamilyCounters:
    local_hits: int = 0
    redis_hits: int = 0
    misses: int = 0
    loads: int = 0
    coalesced: int = 0
    stale_serves: int = 0
    # Database down and no fresh value anywhere: the last value this process saw was served.
    outage_serves: int = 0
    waits: int = 0
    corrupt: int = 0
    errors: int = 0


class FamilyMetrics(BaseModel):
    family: str
    local_hits: int
    redis_hits: int
    misses: int
    loads: int
    coalesced: int
    stale_serves: int
    outage_serves: int
    waits: int
    corrupt: int
    errors: int
    hit_rate: float


class CacheMetricsReport(BaseModel):
    backend: str
    redis_state: str
    subscriber_connected: bool
    local_entries: int
    local_bytes: int
    invalidations_sent: int
    invalidations_received: int
    families: list[FamilyMetrics]


class CacheMetrics:
    def __init__(self) -> None:
        self.families: defaultdict[str, FamilyCounters] = defaultdict(FamilyCounters)
        self.invalidations_sent = 0
        self.invalidations_received = 0

    def __getitem__(self, family: str) -> FamilyCounters:
        return self.families[family]

    def family_reports(self) -> list[FamilyMetrics]:
        reports = []
        for family in sorted(self.families):
            counters = self.families[family]
            hits = (
                counters.local_hits
                + counters.redis_hits
                + counters.coalesced
                + counters.stale_serves
                + counters.outage_serves
            )
            total = hits + counters.misses
            reports.append(
                FamilyMetrics(
                    family=family, hit_rate=round(hits / total, 4) if total else 0.0, **asdict(counters)
                )
            )
        return reports

    def reset(self) -> None:
        self.families.clear()
        self.invalidations_sent = 0
        self.invalidations_received = 0
