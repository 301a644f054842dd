"""Redis failing for real (a private redis-server the test kills, freezes and restarts): one outage is
one pair of log lines, a dropped connection is no outage at all, recovery is noticed by the probe
within a second or two, and an invalidation made while Redis was unreachable survives the death of
the process that made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.cache.keys import cache_key
from dashboard.db.pending_invalidations import DatabasePendingStore
from dashboard.db.session import Database
from dashboard.services.touched import Family, Touched
from tests.cache.helpers import Box, CountingLoader
from tests.throwaway import ThrowawayRedis

pytestmark = pytest.mark.redis

KEY = cache_key("positions", "u1", Box)
TRADER_WRITE = Touched().account(1, Family.POSITIONS)
Build = Callable[..., QueryCache]


async def eventually(predicate: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def build(throwaway_redis: ThrowawayRedis) -> AsyncIterator[Build]:
    """Caches ("app processes") on the private Redis; closed at the end unless a test killed one."""
    caches: list[QueryCache] = []

    def make(pending: DatabasePendingStore | None = None, **config: object) -> QueryCache:
        settings: dict[str, object] = {"namespace": "faults", "redis_url": throwaway_redis.url, "ttl_s": 60}
        settings.update(config)
        cache = QueryCache(CacheConfig(**settings), pending_store=pending)  # type: ignore[arg-type]
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        with contextlib.suppress(Exception):
            await cache.close()


def outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    messages = [r.getMessage() for r in caplog.records if r.name == "dashboard.cache"]
    return sum("redis unavailable" in m for m in messages), sum("reachable again" in m for m in messages)


async def test_a_restart_is_one_outage_and_is_noticed_within_seconds(
    build: Build,
    throwaway_redis: ThrowawayRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = build(local_ttl_s=0.01)
    await cache.start()
    loader = CountingLoader(1)
    with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
        assert (await cache.get_model(KEY, Box, loader)).n == 1
        throwaway_redis.kill()
        for _ in range(20):  # reads keep working from the database meanwhile
            assert (await cache.get_model(KEY, Box, loader)).n == 1
            await asyncio.sleep(0.02)
        assert cache.report().redis_state == "open"
        throwaway_redis.start()  # same port, empty server
        assert cache.redis is not None
        restarted = time.monotonic()
        await eventually(cache.redis.breaker.allow)  # closed by the background probe
        noticed_after = time.monotonic() - restarted
        loader.value = 2
        await cache.invalidate(TRADER_WRITE)
        for _ in range(30):  # the pooled connections of the old server must not flap the breaker
            assert (await cache.get_model(KEY, Box, loader)).n == 2
            await asyncio.sleep(0.01)
    assert noticed_after < 2.0, f"recovery noticed after {noticed_after:.2f} s"
    assert outage_lines(caplog) == (1, 1)
    assert cache.report().redis_state == "closed"


async def test_connections_closed_by_a_healthy_server_are_no_outage(
    build: Build,
    throwaway_redis: ThrowawayRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = build(local_ttl_s=0.001)
    await cache.start()
    loader = CountingLoader(1)
    await cache.get(KEY, loader)
    with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
        for _ in range(5):
            assert throwaway_redis.client_kill_all() >= 1  # an idle timeout, CLIENT KILL, a failover
            for _ in range(10):
                await asyncio.sleep(0.002)
                assert (await cache.get_model(KEY, Box, loader)).n == 1
    assert outage_lines(caplog) == (0, 0)
    assert loader.calls == 1  # every read after the first was a Redis (or local) hit
    assert cache.metrics["positions"].errors == 0


async def _kill(cache: QueryCache) -> None:
    """Stand-in for `kill -9` of the process: its tasks stop, nothing is flushed or replayed."""
    tasks = [t for t in (cache._listener, cache.redis._prober if cache.redis else None) if t is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_acknowledged_write_survives_the_writer_dying_while_redis_is_frozen(
    build: Build,
    throwaway_redis: ThrowawayRedis,
    database: Database,
) -> None:
    """The exact sequence that once served a 15 s old value: Redis frozen, a process writes (its
    invalidations cannot reach Redis), that process dies, another starts during the freeze, Redis
    resumes. No read after the write may return the value from before it."""
    store = DatabasePendingStore(database)
    loader = CountingLoader(1)  # the database: value 1
    writer = build(store, local_ttl_s=0.01)
    await writer.start()
    assert (await writer.get_model(KEY, Box, loader)).n == 1  # now in Redis, fresh for 60 s

    throwaway_redis.freeze()
    loader.value = 2  # the write commits...
    await writer.invalidate(TRADER_WRITE)  # ...and is acknowledged: Redis could not be told
    _, pending = await store.load()
    assert ("positions", "u1") in pending  # kept where the next process will find it
    await _kill(writer)

    successor = build(store, local_ttl_s=0.01)
    await successor.start()  # during the freeze
    assert (await successor.get_model(KEY, Box, loader)).n == 2
    throwaway_redis.thaw()
    assert successor.redis is not None
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # before, during and after the successor's recovery
        assert (await successor.get_model(KEY, Box, loader)).n == 2
        await asyncio.sleep(0.02)
    assert successor.redis.breaker.allow()  # Redis is in use again, with the old value invalidated
    newcomer = build(store, local_ttl_s=0.01)
    await newcomer.start()
    assert (await newcomer.get_model(KEY, Box, loader)).n == 2
    assert (await store.load())[1] == set()  # replayed and forgotten
