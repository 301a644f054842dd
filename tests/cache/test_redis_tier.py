"""The shared tier on the real Redis: hits across processes, expiry, stale-while-revalidate, no
stampede across processes, pub/sub invalidation, corrupt values, and Redis failing under us.

Each `make_cache(...)` instance stands for one app process: its own in-process tier, its own
origin, its own connections; they share only Redis (on a namespace of the test's own).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis

from dashboard.cache.keys import cache_key
from dashboard.services.touched import Family, Touched
from tests.cache.helpers import Box, CountingLoader
from tests.cache.proxy import FlakyProxy
from tests.conftest import CacheFactory
from tests.process import free_port

KEY = cache_key("positions", "u1", Box)
TRADER_WRITE = Touched().account(1, Family.POSITIONS)


async def eventually(predicate, timeout_s: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_a_value_loaded_by_one_process_is_a_redis_hit_for_another(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    one = make_cache(namespace=namespace, redis_url=redis_url)
    two = make_cache(namespace=namespace, redis_url=redis_url)
    loader = CountingLoader(1)
    assert (await one.get_model(KEY, Box, loader)).n == 1
    assert (await two.get_model(KEY, Box, loader)).n == 1
    assert loader.calls == 1
    assert two.metrics["positions"].redis_hits == 1
    assert (await two.get_model(KEY, Box, loader)).n == 1
    assert two.metrics["positions"].local_hits == 1


async def test_expiry_of_each_tier(make_cache: CacheFactory, namespace: str, redis_url: str) -> None:
    cache = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=0.4, local_ttl_s=0.1, stale_s=0)
    loader = CountingLoader(1)
    await cache.get(KEY, loader)
    await cache.get(KEY, loader)
    assert cache.metrics["positions"].local_hits == 1
    await asyncio.sleep(0.15)  # local copy expired, Redis still fresh
    await cache.get(KEY, loader)
    assert cache.metrics["positions"].redis_hits == 1 and loader.calls == 1
    await asyncio.sleep(0.35)  # Redis expired too (no stale window)
    loader.value = 2
    assert (await cache.get_model(KEY, Box, loader)).n == 2
    assert loader.calls == 2


async def test_stale_value_is_served_while_exactly_one_process_refreshes(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    caches = [
        make_cache(namespace=namespace, redis_url=redis_url, ttl_s=0.2, local_ttl_s=0.05, stale_s=10)
        for _ in range(4)
    ]
    loader = CountingLoader(1)
    await caches[0].get(KEY, loader)
    await asyncio.sleep(0.25)  # fresh period over; value still valid (no write happened)
    loader.value = 2
    loader.gate = asyncio.Event()  # the refresh query hangs until we let it finish
    results = await asyncio.gather(
        *(cache.get_model(KEY, Box, loader) for cache in caches for _ in range(10))
    )
    # Everybody got the last value while the refresh was still running: nobody waited for it.
    assert {r.n for r in results} == {1}
    assert loader.calls == 2 and loader.finished == 1
    loader.gate.set()
    await eventually(lambda: loader.finished == 2)
    await asyncio.sleep(0.15)
    assert loader.calls == 2  # exactly one refresh across the four processes
    assert sum(c.metrics["positions"].stale_serves for c in caches) == 4
    fresh = make_cache(namespace=namespace, redis_url=redis_url)
    assert (await fresh.get_model(KEY, Box, loader)).n == 2


async def test_cold_key_read_by_four_processes_at_once_is_loaded_once(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    caches = [make_cache(namespace=namespace, redis_url=redis_url) for _ in range(4)]
    loader = CountingLoader(9, delay_s=0.05)
    results = await asyncio.gather(
        *(cache.get_model(KEY, Box, loader) for cache in caches for _ in range(25))
    )
    assert {r.n for r in results} == {9}
    assert loader.calls == 1
    assert sum(c.metrics["positions"].waits for c in caches) == 3


async def test_invalidation_through_one_process_drops_the_copy_of_every_process(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    one = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60, local_ttl_s=60)
    two = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60, local_ttl_s=60)
    for cache in (one, two):
        await cache.start()
        assert await cache.wait_subscribed()
    loader = CountingLoader(1)
    await one.get(KEY, loader)
    await two.get(KEY, loader)
    assert len(two.local) == 1
    loader.value = 2
    await one.invalidate(TRADER_WRITE)
    await eventually(lambda: len(two.local) == 0)
    assert two.metrics.invalidations_received == 1
    assert (await two.get_model(KEY, Box, loader)).n == 2
    assert (await one.get_model(KEY, Box, loader)).n == 2
    assert loader.calls == 2  # reloaded once, then shared through Redis


async def test_generations_make_an_old_value_invisible_even_without_pubsub(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    """A process that missed the message still never reads the old bytes from Redis."""
    one = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60, local_ttl_s=0.05)
    two = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60, local_ttl_s=0.05)
    loader = CountingLoader(1)
    await one.get(KEY, loader)
    loader.value = 2
    await one.invalidate(TRADER_WRITE)  # `two` is not subscribed
    await asyncio.sleep(0.06)
    assert (await two.get_model(KEY, Box, loader)).n == 2


async def test_the_wide_scope_is_invalidated_by_a_trader_write(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    cache = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60)
    wide = cache_key("positions", "all", Box)
    other_trader = cache_key("positions", "u2", Box)
    loaders = {wide: CountingLoader(1), other_trader: CountingLoader(1)}
    for key, loader in loaders.items():
        await cache.get(key, loader)
        loader.value = 2
    await cache.invalidate(TRADER_WRITE)
    assert (await cache.get_model(wide, Box, loaders[wide])).n == 2
    assert (await cache.get_model(other_trader, Box, loaders[other_trader])).n == 1


async def test_a_corrupt_value_in_redis_is_a_miss(
    make_cache: CacheFactory, namespace: str, redis_url: str
) -> None:
    cache = make_cache(namespace=namespace, redis_url=redis_url)
    raw = Redis.from_url(redis_url)
    try:
        await raw.set(KEY.redis_key(namespace), b"\x00not a cached value")
        loader = CountingLoader(3)
        assert (await cache.get_model(KEY, Box, loader)).n == 3
        assert cache.metrics["positions"].corrupt == 1 and loader.calls == 1
        # A valid header with a damaged payload is caught by the checksum.
        stored = await raw.get(KEY.redis_key(namespace))
        await raw.set(KEY.redis_key(namespace), stored[:-3] + b"}}}")
        other = make_cache(namespace=namespace, redis_url=redis_url)
        assert (await other.get_model(KEY, Box, loader)).n == 3
        assert other.metrics["positions"].corrupt == 1 and loader.calls == 2
    finally:
        await raw.aclose()


async def test_unreachable_redis_still_serves_correct_data_and_logs_once(
    make_cache: CacheFactory, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(
        namespace=namespace, redis_url=f"redis://127.0.0.1:{free_port()}/0", ttl_s=60, local_ttl_s=0.01
    )
    await cache.start()
    loader = CountingLoader(1)
    with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
        started = time.monotonic()
        for value in range(1, 30):
            loader.value = value
            await cache.invalidate(TRADER_WRITE)  # never raises
            assert (await cache.get_model(KEY, Box, loader)).n == value
        elapsed = time.monotonic() - started
    assert elapsed < 5.0  # a sanity bound only; the breaker's effect is checked by the log count
    assert cache.report().redis_state == "open"
    outage_logs = [r for r in caplog.records if "redis unavailable" in r.getMessage()]
    assert len(outage_logs) == 1


async def test_redis_going_away_and_coming_back(
    make_cache: CacheFactory, namespace: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = FlakyProxy()
    await proxy.start()
    flaky = make_cache(namespace=namespace, redis_url=proxy.url, ttl_s=60, local_ttl_s=60)
    steady = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60, local_ttl_s=60)
    for cache in (flaky, steady):
        await cache.start()
        assert await cache.wait_subscribed()
    loader = CountingLoader(1)
    try:
        await flaky.get(KEY, loader)
        await steady.get(KEY, loader)
        with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
            await proxy.stop()  # Redis vanishes for `flaky` in the middle of its work
            await eventually(lambda: not flaky.subscriber_connected)
            assert len(flaky.local) == 0  # lost the channel: its copies cannot be trusted
            loader.value = 2
            await flaky.invalidate(TRADER_WRITE)  # remembered, not lost
            for _ in range(5):
                assert (await flaky.get_model(KEY, Box, loader)).n == 2
            assert (await steady.get_model(KEY, Box, loader)).n == 1  # has not heard yet
            await proxy.start()  # Redis is back
            await eventually(lambda: flaky.subscriber_connected, timeout_s=6)
            assert flaky.redis is not None
            await eventually(lambda: flaky.redis.breaker.allow(), timeout_s=3)  # the probe closed it
            assert (await flaky.get_model(KEY, Box, loader)).n == 2
            await eventually(lambda: len(steady.local) == 0)  # the remembered invalidation arrived
            assert (await steady.get_model(KEY, Box, loader)).n == 2
        assert flaky.report().redis_state == "closed"
        messages = [r.getMessage() for r in caplog.records]
        assert sum("redis unavailable" in m for m in messages) == 1
        assert sum("reachable again" in m for m in messages) == 1
    finally:
        await proxy.stop()


async def test_a_frozen_redis_costs_a_read_a_fraction_of_a_second(
    make_cache: CacheFactory, namespace: str
) -> None:
    proxy = FlakyProxy()
    await proxy.start()
    cache = make_cache(namespace=namespace, redis_url=proxy.url, ttl_s=60, local_ttl_s=0.01)
    loader = CountingLoader(1)
    try:
        await cache.get(KEY, loader)
        proxy.frozen = True
        await asyncio.sleep(0.02)
        loader.value = 2
        started = time.monotonic()
        other = cache_key("positions", "u1", Box, page=2)
        assert (await cache.get_model(other, Box, loader)).n == 2
        assert time.monotonic() - started < 2.0  # bounded by the 0.2 s timeouts, not Redis's 60 s
        assert cache.redis is not None
        calls = 0
        original = cache.redis.client.mget

        async def counting_mget(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return await original(*args, **kwargs)

        cache.redis.client.mget = counting_mget  # type: ignore[method-assign]
        assert (await cache.get_model(cache_key("positions", "u1", Box, page=3), Box, loader)).n == 2
        assert calls == 0  # breaker open: straight to the database, Redis not even asked
    finally:
        proxy.frozen = False
        await proxy.stop()


async def test_a_connection_closed_under_a_write_is_an_outage_not_a_traceback(
    make_cache: CacheFactory, namespace: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py lets this race escape as AttributeError (redis/redis-py#4287); a read must still
    be answered, from the database, with the breaker open like for any lost connection."""
    cache = make_cache(namespace=namespace, redis_url=redis_url, ttl_s=60, local_ttl_s=0.01)
    await cache.start()
    assert cache.redis is not None

    async def closed_writer(*_: object, **__: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'writelines'")

    monkeypatch.setattr(cache.redis.client, "mget", closed_writer)
    loader = CountingLoader(7)
    assert (await cache.get_model(KEY, Box, loader)).n == 7
    assert loader.calls == 1 and cache.report().redis_state == "open"
