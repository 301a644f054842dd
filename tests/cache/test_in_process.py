"""The embedded default: no Redis, the in-process tier alone."""

from __future__ import annotations

import asyncio

import pytest

from dashboard.cache.keys import cache_key
from dashboard.db.outage import DatabaseUnavailable
from dashboard.services.errors import NotFound
from dashboard.services.touched import Family, Touched
from tests.cache.helpers import Box, CountingLoader
from tests.conftest import CacheFactory

KEY = cache_key("positions", "u1", Box)
TRADER_WRITE = Touched().account(1, Family.POSITIONS)


async def test_miss_then_hit_then_expiry(make_cache: CacheFactory) -> None:
    cache = make_cache(ttl_s=0.2)
    loader = CountingLoader(1)
    assert (await cache.get_model(KEY, Box, loader)).n == 1
    loader.value = 2
    assert (await cache.get_model(KEY, Box, loader)).n == 1  # hit: the database is not asked
    assert loader.calls == 1
    await asyncio.sleep(0.25)
    assert (await cache.get_model(KEY, Box, loader)).n == 2  # expired: loaded again
    counters = cache.metrics["positions"]
    assert (counters.misses, counters.local_hits, counters.loads) == (2, 1, 2)


async def test_payload_is_the_encoded_json_and_the_model_is_kept(make_cache: CacheFactory) -> None:
    cache = make_cache()
    value = await cache.get(KEY, CountingLoader(5))
    assert value.payload == b'{"n":5,"note":""}'
    assert value.model(Box) is value.model(Box)


async def test_hundred_concurrent_cold_reads_make_one_load(make_cache: CacheFactory) -> None:
    cache = make_cache()
    loader = CountingLoader(7, delay_s=0.05)
    results = await asyncio.gather(*(cache.get_model(KEY, Box, loader) for _ in range(100)))
    assert loader.calls == 1
    assert {r.n for r in results} == {7}
    assert cache.metrics["positions"].coalesced == 99


async def test_a_reader_that_goes_away_does_not_cancel_the_others(make_cache: CacheFactory) -> None:
    cache = make_cache()
    loader = CountingLoader(3, delay_s=0.05)
    first = asyncio.create_task(cache.get_model(KEY, Box, loader))
    second = asyncio.create_task(cache.get_model(KEY, Box, loader))
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await second).n == 3
    assert loader.calls == 1


async def test_invalidation_is_visible_on_the_next_read(make_cache: CacheFactory) -> None:
    cache = make_cache(ttl_s=60)
    loader = CountingLoader(1)
    other_key = cache_key("positions", "u2", Box)
    other = CountingLoader(10)
    await cache.get(KEY, loader)
    await cache.get(other_key, other)
    loader.value, other.value = 2, 20
    await cache.invalidate(Touched().account(1, Family.POSITIONS))
    assert (await cache.get_model(KEY, Box, loader)).n == 2
    assert (await cache.get_model(other_key, Box, other)).n == 10  # another trader's scope is untouched


async def test_a_write_during_a_load_is_not_hidden_by_that_load(make_cache: CacheFactory) -> None:
    cache = make_cache(ttl_s=60)
    loader = CountingLoader(1, delay_s=0.05)
    reading = asyncio.create_task(cache.get_model(KEY, Box, loader))
    await asyncio.sleep(0.01)
    loader.value = 2  # the write commits while the query is in flight...
    await cache.invalidate(Touched().account(1, Family.POSITIONS))
    await reading  # ...so whatever that query saw must not be kept
    assert (await cache.get_model(KEY, Box, loader)).n == 2


async def test_family_wide_invalidation_for_writes_without_an_owner(make_cache: CacheFactory) -> None:
    cache = make_cache(ttl_s=60)
    market = cache_key("market", "global", Box)
    loader = CountingLoader(1)
    await cache.get(market, loader)
    loader.value = 2
    await cache.invalidate(Touched().everyone(Family.MARKET))
    assert (await cache.get_model(market, Box, loader)).n == 2


async def test_errors_propagate_and_are_not_cached(make_cache: CacheFactory) -> None:
    cache = make_cache()
    loader = CountingLoader(1)
    loader.fail = NotFound("position 9 not found")
    with pytest.raises(NotFound):
        await cache.get(KEY, loader)
    loader.fail = None
    assert (await cache.get_model(KEY, Box, loader)).n == 1
    assert loader.calls == 2


async def test_undecodable_local_value_is_reloaded(make_cache: CacheFactory) -> None:
    cache = make_cache()
    loader = CountingLoader(4)

    async def wrong_shape() -> Box:
        return Box(n=1)

    # A value of another model under this key (a deploy mix-up) fails to decode as the wanted model.
    from dashboard.schemas.accounts import AccountList

    await cache.get(KEY, wrong_shape)
    with pytest.raises(ValueError):
        (await cache.get(KEY, loader)).model(AccountList)

    async def accounts() -> AccountList:
        return AccountList(accounts=[], as_of="2026-11-26T00:00:00Z")  # type: ignore[arg-type]

    result = await cache.get_model(KEY, AccountList, accounts)
    assert result.accounts == []
    assert cache.metrics["positions"].corrupt == 1


async def test_database_down_serves_the_last_value_until_a_write_invalidates_it(
    make_cache: CacheFactory,
) -> None:
    cache = make_cache(ttl_s=0.05)  # no Redis: the family TTL is the local TTL
    loader = CountingLoader(1)
    assert (await cache.get_model(KEY, Box, loader)).n == 1
    await asyncio.sleep(0.06)  # expired
    loader.fail = DatabaseUnavailable("database unavailable")
    assert (await cache.get_model(KEY, Box, loader)).n == 1  # the last value, not an error
    assert cache.metrics["positions"].outage_serves == 1
    await cache.invalidate(TRADER_WRITE)  # a write made it wrong: never served again
    with pytest.raises(DatabaseUnavailable):
        await cache.get_model(KEY, Box, loader)


async def test_a_read_on_a_connection_that_died_with_a_restart_is_retried_once(
    make_cache: CacheFactory,
) -> None:
    cache = make_cache()
    loader = CountingLoader(7)
    original = loader.__call__

    async def fails_once() -> Box:
        if loader.calls == 0:
            loader.calls += 1
            raise DatabaseUnavailable("connection closed", retryable=True)
        return await original()

    assert (await cache.get_model(KEY, Box, fails_once)).n == 7
    refused = CountingLoader(1)
    refused.fail = DatabaseUnavailable("refused")  # not retryable: the database is not there
    with pytest.raises(DatabaseUnavailable):
        await cache.get_model(cache_key("positions", "u2", Box), Box, refused)
    assert refused.calls == 1
