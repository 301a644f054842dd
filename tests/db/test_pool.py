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


async def test_a_ping_may_reuse_a_recent_answer_and_only_when_asked(pg_database: Database) -> None:
    pool = pg_database.engine.sync_engine.pool
    assert isinstance(pool, TimedPool)
    assert await pg_database.ping(max_age_s=60)
    before = pool.checkouts
    for _ in range(5):
        assert await pg_database.ping(max_age_s=60)  # readiness: a second-old answer will do
    assert pool.checkouts == before
    assert await pg_database.ping()  # health: always asks
    assert pool.checkouts == before + 1
