"""`QueryCache`: cache-aside over the query services, in-process tier in front of Redis.

Read path (`get`): in-process hit -> single flight per key in this process -> Redis (generations
and value in one MGET) -> fresh: serve; stale but valid: serve it while exactly one process,
the one that wins `SET NX`, refreshes it in the background; missing or invalidated: the lock
winner loads from the database, the others wait briefly for its value.

Write path (`invalidate`): drop the local entries at once, bump the generation counters of the
touched (family, scope) pairs in Redis and publish them, so every process drops its copy.
Values carry the generations they were loaded under, so a value loaded before a write can never
be served after it. With Redis unreachable everything still works from the in-process tier and
the database; invalidations made meanwhile are kept (in memory and in the database) and replayed
before any process trusts Redis again.

Database down: a read that finds no fresh value in any tier gets the last value this process
saw (`outage_serves`); only when there is none does `DatabaseUnavailable` reach the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from pydantic import BaseModel

from dashboard.cache.breaker import CircuitBreaker
from dashboard.cache.envelope import Envelope, unpack
from dashboard.cache.keys import CacheKey
from dashboard.cache.local import CachedValue, Generation, LocalTier
from dashboard.cache.metrics import CacheMetrics, CacheMetricsReport
from dashboard.cache.redis_tier import (
    InvalidationItem,
    RedisTier,
    RedisUnavailable,
    decode_invalidation,
)
from dashboard.db.outage import DatabaseUnavailable
from dashboard.services.touched import Family, Touched
from dashboard.settings import Settings

log = logging.getLogger("dashboard.cache")

Loader = Callable[[], Awaitable[BaseModel]]
M = TypeVar("M", bound=BaseModel)

__all__ = ["CacheConfig", "CachedValue", "QueryCache"]


# Shared-tier freshness per family. Every change of a user's session state (logout, disable,
# role or password change) bumps that user's `auth` generation, so the shared copy may live for
# minutes: a short TTL reloaded every user's state from the database every second, in every
# process, for nothing (the largest share of the database work per cached read). Alerts and the
# audit trail: see `Family.ALERTS` and `Family.AUDIT`.
SHARED_FAMILY_TTLS = {Family.AUTH: 600.0, Family.ALERTS: 2.0, Family.AUDIT: 2.0, Family.PEOPLE: 2.0}
# Without Redis the CLI's session changes cannot reach this process; the TTL bounds how late they
# are seen.
LOCAL_ONLY_FAMILY_TTLS = {Family.AUTH: 1.0, Family.ALERTS: 2.0, Family.AUDIT: 2.0, Family.PEOPLE: 2.0}


class PendingStore(Protocol):
    """Where invalidations that could not reach Redis are kept until they can (the database)."""

    async def save(self, items: Iterable[InvalidationItem]) -> None: ...

    async def load(self) -> tuple[int, set[InvalidationItem]]:
        """(the highest row id, every pending item); (0, set()) when there is none."""
        ...

    async def forget(self, up_to_id: int) -> None: ...


@dataclass(frozen=True)
class CacheConfig:
    namespace: str = "tb"
    redis_url: str | None = None
    ttl_s: float = 5.0
    ttl_overrides: dict[str, float] = field(default_factory=dict)
    stale_s: float = 30.0
    local_ttl_s: float = 1.0
    local_max_entries: int = 10_000
    local_max_bytes: int = 64 * 1024 * 1024
    redis_timeout_s: float = 0.2
    # How long a loader may hold the load lock, and how long others wait for its value.
    lock_ttl_s: float = 5.0
    wait_s: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> CacheConfig:
        return cls(
            namespace=settings.cache_namespace,
            redis_url=settings.redis_url,
            ttl_s=settings.cache_ttl_s,
            ttl_overrides=dict(settings.cache_ttl_overrides),
            stale_s=settings.cache_stale_s,
            local_ttl_s=settings.cache_local_ttl_s,
            local_max_entries=settings.cache_local_max_entries,
            local_max_bytes=settings.cache_local_max_bytes,
            redis_timeout_s=settings.redis_timeout_s,
        )

    def ttl(self, family: str) -> float:
        """Freshness in the shared (Redis) tier."""
        return self.ttl_overrides.get(family, SHARED_FAMILY_TTLS.get(Family(family), self.ttl_s))

    def local_only_ttl(self, family: str) -> float:
        """Freshness in the in-process tier when there is no Redis (this process sees all writes)."""
        return self.ttl_overrides.get(family, LOCAL_ONLY_FAMILY_TTLS.get(Family(family), self.ttl_s))


class QueryCache:
    def __init__(
        self, config: CacheConfig | None = None, *, pending_store: PendingStore | None = None
    ) -> None:
        self.config = config or CacheConfig()
        self.pending_store = pending_store
        self.origin = secrets.token_hex(6)
        self.metrics = CacheMetrics()
        self.local = LocalTier(
            max_entries=self.config.local_max_entries, max_bytes=self.config.local_max_bytes
        )
        self.redis: RedisTier | None = None
        if self.config.redis_url:
            self.redis = RedisTier(
                self.config.redis_url,
                self.config.namespace,
                timeout_s=self.config.redis_timeout_s,
                breaker=CircuitBreaker(),
                on_sync=self._resync,
            )
        self._inflight: dict[CacheKey, asyncio.Task[CachedValue]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._pending: set[InvalidationItem] = set()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.subscriber_connected = False

    @property
    def backend(self) -> str:
        return "redis+in-process" if self.redis else "in-process"

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening for other processes' invalidations (no-op without Redis)."""
        if self.redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="cache-invalidation-listener")
            # Replay what other processes could not deliver before serving anything from Redis.
            with contextlib.suppress(RedisUnavailable):
                await self.redis.ensure_synced()

    async def wait_subscribed(self, timeout_s: float = 5.0) -> bool:
        """For tests and start-up: wait until the pub/sub subscription is live."""
        if self.redis is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout_s)
        return self._subscribed.is_set()

    async def close(self) -> None:
        tasks = [*self._background, *self._inflight.values()]
        if self._listener is not None:
            tasks.append(self._listener)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listener = None
        if self.redis is not None:
            await self.redis.close()

    # ---- reads -----------------------------------------------------------------------------

    async def get(self, key: CacheKey, loader: Loader) -> CachedValue:
        """The cached value of `key`, loading it with `loader` (a query service call) on a miss."""
        value = self.local.get(key)
        if value is not None:
            self.metrics[key.family].local_hits += 1
            return value
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fill(key, loader))
            self._inflight[key] = task
            task.add_done_callback(partial(self._fill_done, key))
        else:
            self.metrics[key.family].coalesced += 1
        # Shielded: a reader that goes away (a closed tab) does not cancel the others' load.
        return await asyncio.shield(task)

    async def get_model(self, key: CacheKey, model: type[M], loader: Callable[[], Awaitable[M]]) -> M:
        """Like `get`, decoded (once per cached value). An undecodable value is dropped and reloaded."""
        value = await self.get(key, loader)
        try:
            return value.model(model)
        except ValueError:
            self.metrics[key.family].corrupt += 1
            self.local.invalidate([(key.family, key.scope)])
            return await loader()

    def _fill_done(self, key: CacheKey, task: asyncio.Task[CachedValue]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so that an unawaited failure is not logged as lost

    async def _fill(self, key: CacheKey, loader: Loader) -> CachedValue:
        try:
            return await self._fill_tiers(key, loader)
        except DatabaseUnavailable:
            # The database is down and no tier holds a fresh value: the last value this process
            # saw is better than nothing. It carries its `as_of`, so pages show how old it is.
            stale = self.local.stale(key)
            if stale is None:
                raise
            self.metrics[key.family].outage_serves += 1
            return stale

    async def _fill_tiers(self, key: CacheKey, loader: Loader) -> CachedValue:
        if self.redis is not None and not self.redis.synced:
            # Resynchronising clears the local tier; do it before this load captures its generation.
            with contextlib.suppress(RedisUnavailable):
                await self.redis.ensure_synced()
        generation = self.local.generation(key)
        if self.redis is not None:
            try:
                return await self._fill_shared(self.redis, key, loader, generation)
            except RedisUnavailable:
                self.metrics[key.family].errors += 1
        self.metrics[key.family].misses += 1
        value = await self._load(key, loader)
        # Alone (no Redis) this process sees every write, so the family TTL is safe here; with
        # Redis down, other processes' writes are invisible, so keep it short.
        ttl = self.config.local_only_ttl(key.family) if self.redis is None else self.config.local_ttl_s
        self.local.put(key, value, ttl, generation)
        return value

    async def _fill_shared(
        self, redis: RedisTier, key: CacheKey, loader: Loader, generation: Generation
    ) -> CachedValue:
        counters = self.metrics[key.family]
        family_gen, scope_gen, raw = await redis.fetch(key)
        envelope = unpack(raw)
        if raw is not None and envelope is None:
            counters.corrupt += 1
        now = time.time()
        if envelope is not None and (envelope.family_gen, envelope.scope_gen) == (family_gen, scope_gen):
            value = CachedValue(envelope.payload)
            if envelope.fresh_until > now:
                counters.redis_hits += 1
                self.local.put(
                    key, value, min(self.config.local_ttl_s, envelope.fresh_until - now), generation
                )
                return value
            # Valid but no longer fresh: serve it; exactly one process refreshes it meanwhile.
            counters.stale_serves += 1
            token = await redis.try_lock(key, self.config.lock_ttl_s)
            if token is not None:
                task = asyncio.create_task(
                    self._refresh(redis, key, loader, (family_gen, scope_gen), generation, token)
                )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            return value
        # Cold or invalidated: one process loads, the others wait a moment for its value.
        counters.misses += 1
        token = await redis.try_lock(key, self.config.lock_ttl_s)
        if token is None:
            waited = await self._wait_for(redis, key)
            if waited is not None:
                counters.waits += 1
                self.local.put(
                    key, waited[0], min(self.config.local_ttl_s, waited[1] - time.time()), generation
                )
                return waited[0]
        return await self._load_and_store(redis, key, loader, (family_gen, scope_gen), generation, token)

    async def _wait_for(self, redis: RedisTier, key: CacheKey) -> tuple[CachedValue, float] | None:
        """Poll (2, 4, 8... ms) until the lock holder has stored a valid, fresh value."""
        deadline = time.monotonic() + self.config.wait_s
        delay = 0.002
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
            family_gen, scope_gen, raw = await redis.fetch(key)
            envelope = unpack(raw)
            if (
                envelope is not None
                and (envelope.family_gen, envelope.scope_gen) == (family_gen, scope_gen)
                and envelope.fresh_until > time.time()
            ):
                return CachedValue(envelope.payload), envelope.fresh_until
        return None

    async def _load_and_store(
        self,
        redis: RedisTier,
        key: CacheKey,
        loader: Loader,
        shared_gen: tuple[int, int],
        generation: Generation,
        token: str | None,
    ) -> CachedValue:
        try:
            value = await self._load(key, loader)
            # No TTL jitter: measured, 10 % jitter raised loads per key per TTL from 1.00 to
            # 1.16-1.20 while readers never wait on a refresh anyway (stale-while-revalidate).
            ttl = self.config.ttl(key.family)
            envelope = Envelope(shared_gen[0], shared_gen[1], time.time() + ttl, value.payload)
            with contextlib.suppress(RedisUnavailable):
                await redis.store(key, envelope, ttl + self.config.stale_s)
            self.local.put(key, value, min(self.config.local_ttl_s, ttl), generation)
            return value
        finally:
            if token is not None:
                with contextlib.suppress(RedisUnavailable):
                    await redis.unlock(key, token)

    async def _refresh(
        self,
        redis: RedisTier,
        key: CacheKey,
        loader: Loader,
        shared_gen: tuple[int, int],
        generation: Generation,
        token: str,
    ) -> None:
        try:
            await self._load_and_store(redis, key, loader, shared_gen, generation, token)
        except Exception:  # the stale value keeps being served; the next read retries
            self.metrics[key.family].errors += 1
            log.debug("background refresh of %s failed", key, exc_info=True)

    async def _load(self, key: CacheKey, loader: Loader) -> CachedValue:
        self.metrics[key.family].loads += 1
        try:
            model = await loader()
        except DatabaseUnavailable as error:
            if not error.retryable:
                raise
            # A pooled connection died with a restarted server; a read is safe to repeat, and the
            # pool has already swapped the dead connections out.
            model = await loader()
        value = CachedValue(model.model_dump_json().encode())
        value._models[type(model)] = model
        return value

    # ---- writes ----------------------------------------------------------------------------

    async def invalidate(self, *touched: Touched) -> None:
        """Make committed writes visible to the next read in every process (one publish for all)."""
        items: set[InvalidationItem] = set().union(*(t.items for t in touched))
        if not items:
            return
        self.local.invalidate(items)
        await self._publish(items)

    async def _publish(self, items: set[InvalidationItem]) -> None:
        """Bump the generations in Redis and tell the other processes. If Redis is unavailable the
        items are kept, in memory and in the database, and replayed before any process trusts
        Redis again, so an acknowledged write is never hidden by an older value, even when this
        process dies before Redis comes back."""
        if self.redis is None:
            return
        try:
            await self.redis.bump(self.origin, items)
            self.metrics.invalidations_sent += 1
            return
        except RedisUnavailable:
            self._pending.update(items)
        if self.pending_store is not None:
            try:
                await self.pending_store.save(items)
            except Exception as error:  # the write itself committed; memory still holds the items
                log.warning("could not keep pending cache invalidations in the database (%s)", error)

    async def _resync(self) -> None:
        """Before trusting Redis (at start, after an outage): forget local copies and replay every
        invalidation that could not be delivered, this process's and those other processes left
        in the database."""
        self.local.clear()
        up_to, stored = (0, set()) if self.pending_store is None else await self.pending_store.load()
        items = self._pending | stored
        if items:
            assert self.redis is not None
            await self.redis.bump(self.origin, items, syncing=True)
            self.metrics.invalidations_sent += 1
        self._pending.difference_update(items)
        if up_to and self.pending_store is not None:
            await self.pending_store.forget(up_to)

    # ---- pub/sub ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Apply other processes' invalidations; clear the local tier on every (re)subscribe."""
        assert self.redis is not None
        backoff = 0.1
        logged = False
        while True:
            client = self.redis.subscriber_client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.redis.channel)
                self.local.clear()
                self.subscriber_connected = True
                self._subscribed.set()
                if logged:
                    log.warning("cache invalidation channel re-subscribed; in-process tier cleared")
                logged, backoff = False, 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:  # connection lost: clear and resubscribe with backoff
                self.subscriber_connected = False
                self._subscribed.clear()
                self.local.clear()
                if not logged:
                    log.warning("cache invalidation channel lost (%s); retrying", type(error).__name__)
                    logged = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()

    def _apply(self, data: bytes | str) -> None:
        try:
            origin, items = decode_invalidation(data)
        except (ValueError, TypeError):
            self.local.clear()  # an unreadable message may have meant anything
            return
        if origin != self.origin:
            self.local.invalidate(items)
            self.metrics.invalidations_received += 1

    # ---- metrics ---------------------------------------------------------------------------

    def report(self) -> CacheMetricsReport:
        return CacheMetricsReport(
            backend=self.backend,
            redis_state=self.redis.breaker.state.value if self.redis else "not configured",
            subscriber_connected=self.subscriber_connected,
            local_entries=len(self.local),
            local_bytes=self.local.bytes,
            invalidations_sent=self.metrics.invalidations_sent,
            invalidations_received=self.metrics.invalidations_received,
            families=self.metrics.family_reports(),
        )
