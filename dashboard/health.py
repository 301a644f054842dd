"""`GET /health`: is the process up, can it reach its database, which cache does it use.

`?detail=1` adds the cache metrics (hits, misses, loads, stale serves, errors per key family).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlalchemy import text

from dashboard.cache.metrics import CacheMetricsReport
from dashboard.runtime import Runtime


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    database_backend: str
    cache: str
    cache_shared_tier: str
    environment: str
    version: str
    cache_detail: CacheMetricsReport | None = None


async def check_health(runtime: Runtime, *, detail: bool = False) -> HealthReport:
    from dashboard import __version__

    try:
        async with runtime.database.read_session() as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any failure to reach the database is reported, never raised
        database = "unreachable"
    cache = runtime.cache
    # Redis down is "degraded" only in the sense of speed: reads still work, so status stays ok.
    return HealthReport(
        status="ok" if database == "ok" else "degraded",
        database=database,  # type: ignore[arg-type]
        database_backend=runtime.database.dialect,
        cache=cache.backend,
        cache_shared_tier=cache.redis.breaker.state.value if cache.redis else "not configured",
        environment=runtime.settings.env.value,
        version=__version__,
        cache_detail=cache.report() if detail else None,
    )
