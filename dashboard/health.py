"""`GET /health`: is the process up, can it reach its database, which cache does it use."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlalchemy import text

from dashboard.runtime import Runtime


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    database_backend: str
    cache: str
    environment: str
    version: str


async def check_health(runtime: Runtime) -> HealthReport:
    from dashboard import __version__

    try:
        async with runtime.database.read_session() as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any failure to reach the database is reported, never raised
        database = "unreachable"
    return HealthReport(
        status="ok" if database == "ok" else "degraded",
        database=database,  # type: ignore[arg-type]
        database_backend=runtime.database.dialect,
        cache="in-process",
        environment=runtime.settings.env.value,
        version=__version__,
    )
