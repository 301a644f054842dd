"""What `/health`, `/health/live` and `/health/ready` report.

- live: the process answers (no database, no cache): restart it only when this fails.
- ready: send it traffic: migrated, the demo seed finished, the database answers, not draining.
- health: which part is down, for people and dashboards; `?detail=1` adds the cache metrics.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from dashboard.cache.metrics import CacheMetricsReport
from dashboard.runtime import Runtime

#: Readiness may reuse a database answer this old (a proxy asks twice a second per process).
READY_PING_AGE_S = 1.0


class ReadyReport(BaseModel):
    ready: bool
    reasons: list[str]


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "down"]
    ready: bool
    database: Literal["ok", "unreachable"]
    database_backend: str
    database_down_for_s: float | None = None
    cache: str
    cache_shared_tier: str
    redis: Literal["ok", "unreachable", "not configured"]
    migrations: Literal["applied", "pending"]
    demo_seed: Literal["done", "running", "not used"]
    environment: str
    version: str
    cache_detail: CacheMetricsReport | None = None


async def check_ready(runtime: Runtime) -> ReadyReport:
    readiness = runtime.readiness
    reasons = []
    if not readiness.migrated:
        reasons.append("migrations pending")
    if not readiness.seeded:
        reasons.append("demo seed running")
    if readiness.draining:
        reasons.append("draining")
    if not await runtime.database.ping(max_age_s=READY_PING_AGE_S):
        reasons.append("database unreachable")
    return ReadyReport(ready=not reasons, reasons=reasons)


async def check_health(runtime: Runtime, *, detail: bool = False) -> HealthReport:
    from dashboard import __version__

    database_ok = await runtime.database.ping()
    cache = runtime.cache
    breaker = cache.redis.breaker.state.value if cache.redis else "not configured"
    redis = "not configured" if cache.redis is None else ("ok" if breaker == "closed" else "unreachable")
    readiness = runtime.readiness
    outage = runtime.database.outage
    # Redis down costs speed, not answers (reads fall back to the database): "degraded".
    status = "down" if not database_ok else ("degraded" if redis == "unreachable" else "ok")
    return HealthReport(
        status=status,
        ready=database_ok and readiness.ready,
        database="ok" if database_ok else "unreachable",
        database_backend=runtime.database.dialect,
        database_down_for_s=round(outage.down_for_s, 1) if outage.down else None,
        cache=cache.backend,
        cache_shared_tier=breaker,
        redis=redis,
        migrations="applied" if readiness.migrated else "pending",
        demo_seed=readiness.demo_seed,
        environment=runtime.settings.env.value,
        version=__version__,
        cache_detail=cache.report() if detail else None,
    )
