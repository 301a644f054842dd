"""The throwaway servers really stop, crash, freeze and come back, on their own port and files only.

Fault-injection tests rely on these helpers to fail in the way they claim (refused vs. hanging), so
each failure mode is checked here against a real server, with tight timeouts to keep it quick.
"""

from __future__ import annotations

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.throwaway import (
    ThrowawayPostgres,
    ThrowawayRedis,
)

SHARED_PG_PORT = 5432
SHARED_REDIS_PORT = 6379


async def _select_one(pg: ThrowawayPostgres, connect_timeout: float = 5) -> int:
    conn = await asyncpg.connect(pg.dsn(), timeout=connect_timeout)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def _redis(server: ThrowawayRedis, timeout: float = 1.0) -> Redis:
    """A client without redis-py's default 10 retries, so a failure surfaces at once."""
    return Redis.from_url(
        server.url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


# ---- PostgreSQL


@pytest.mark.postgres
async def test_postgres_is_private_and_answers(throwaway_postgres: ThrowawayPostgres) -> None:
    pg = throwaway_postgres
    assert pg.port != SHARED_PG_PORT
    assert await _select_one(pg) == 1
    conn = await asyncpg.connect(pg.dsn(), timeout=5)
    try:
        assert await conn.fetchval("SHOW data_directory") == str(pg.data_dir)
        assert await conn.fetchval("SHOW fsync") == "off"
    finally:
        await conn.close()

    url = pg.create_database("fault_db")
    assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/fault_db"
    engine = create_async_engine(url)
    try:
        async with engine.connect() as sa_conn:
            assert (await sa_conn.execute(text("SELECT current_database()"))).scalar_one() == "fault_db"
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_stop_refuses_and_restart_answers(throwaway_postgres: ThrowawayPostgres) -> None:
    pg = throwaway_postgres
    pg.stop()
    assert not pg.is_running
    with pytest.raises(OSError):  # ConnectionRefusedError: nothing listens on the port any more
        await _select_one(pg, connect_timeout=2)

    pg.restart()
    assert pg.is_running
    assert await _select_one(pg) == 1


@pytest.mark.postgres
async def test_postgres_kill_then_start_recovers(throwaway_postgres: ThrowawayPostgres) -> None:
    pg = throwaway_postgres
    # Its own statement: in one query string the CHECKPOINT would run before the COMMIT, which
    # synchronous_commit=off leaves in the WAL buffers that the kill throws away.
    pg.psql("CREATE TABLE survivor (id int); INSERT INTO survivor VALUES (7)")
    pg.psql("CHECKPOINT")
    postmaster = pg.pid
    pg.kill()
    assert not pg.is_running and pg.pid is None
    with pytest.raises(OSError):
        await _select_one(pg, connect_timeout=2)

    pg.start()  # crash recovery on the same data directory
    assert pg.pid != postmaster
    assert pg.psql("SELECT id FROM survivor").strip() == "7"


@pytest.mark.postgres
async def test_postgres_freeze_hangs_and_thaw_resumes(throwaway_postgres: ThrowawayPostgres) -> None:
    pg = throwaway_postgres
    held = await asyncpg.connect(pg.dsn(), timeout=5)
    try:
        pg.freeze()
        try:
            with pytest.raises(TimeoutError):  # the kernel accepts the TCP connection; nobody answers
                await _select_one(pg, connect_timeout=1)
        finally:
            pg.thaw()
        assert await _select_one(pg) == 1
        assert await held.fetchval("SELECT 2") == 2  # a connection made before the freeze survives
    finally:
        await held.close()


# ---- Redis


@pytest.mark.redis
async def test_redis_client_kill_all_drops_connections(throwaway_redis: ThrowawayRedis) -> None:
    server = throwaway_redis
    assert server.port != SHARED_REDIS_PORT
    held = _redis(server)
    try:
        assert await held.ping()
        assert server.client_kill_all() >= 1
        with pytest.raises(RedisConnectionError):  # no retries: the dropped connection surfaces
            await held.ping()
    finally:
        await held.aclose()

    fresh = _redis(server)
    try:
        assert await fresh.ping()
    finally:
        await fresh.aclose()


@pytest.mark.redis
async def test_redis_freeze_kill_and_restart_on_same_port(throwaway_redis: ThrowawayRedis) -> None:
    server = throwaway_redis
    port = server.port

    server.freeze()
    client = _redis(server, timeout=0.2)
    try:
        with pytest.raises(RedisTimeoutError):
            await client.set("k", "v")
    finally:
        await client.aclose()
        server.thaw()

    client = _redis(server)
    try:
        assert await client.set("k", "v")

        server.kill()
        assert not server.is_running
        with pytest.raises(RedisConnectionError):
            await client.get("k")

        server.restart()
        assert server.port == port
        # The same client object reconnects to the same address; the data is gone (no persistence).
        assert await client.get("k") is None
        assert await client.ping()
    finally:
        await client.aclose()
