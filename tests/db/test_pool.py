"""The PostgreSQL pool counts its checkouts and the time spent getting them (for `/metrics`)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from dashboard.db.limits import PoolLimits
from dashboard.db.session import Database, TimedPool


async def test_checkouts_and_waits_are_counted_and_a_full_pool_shows_as_wait(pg_database: Database) -> None:
    small = Database(pg_database.url, limits=PoolLimits(size=1, overflow=0))
    try:
        pool = small.engine.sync_engine.pool
        assert isinstance(pool, TimedPool)

        async def hold() -> None:
            async with small.read_session() as session:
                await session.execute(text("SELECT pg_sleep(0.3)"))

        await asyncio.gather(hold(), hold())  # the second waits for the only connection
        assert pool.checkouts == 2
        assert pool.wait_s >= 0.25
    finally:
        await small.dispose()
