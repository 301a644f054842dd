"""The shared tier: redis-py asyncio behind short timeouts and the circuit breaker.

Every call either answers within about the socket timeout or raises `RedisUnavailable`; callers
then serve from the in-process tier or the database. No call here ever uses `KEYS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from dashboard.cache.breaker import CircuitBreaker
from dashboard.cache.envelope import Envelope, pack
from dashboard.cache.keys import CacheKey, channel, generation_key, lock_key

T = TypeVar("T")

InvalidationItem = tuple[str, str | None]

_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


# CLOSED_WRITER_RACE: redis-py (8.x) lets a write on a connection closed under it escape as
# AttributeError or TypeError (`'NoneType' object has no attribute 'writelines'`;
# redis/redis-py#4287, #3546), and uvloop as RuntimeError ("unable to perform operation on
# <TCPTransport closed=True>; the handler is closed"): a lost connection like any other, not a
# bug of ours. Seen 1,028 and 168 times on a process that took 500 tabs at once
# (bench/cluster.py), each a traceback in a live tab's tick.


class RedisUnavailable(Exception):
    """Redis did not answer in time, refused, or the breaker is open."""


def encode_invalidation(origin: str, items: Iterable[InvalidationItem]) -> bytes:
    return json.dumps({"o": origin, "i": [list(item) for item in sorted(items, key=str)]}).encode()


def decode_invalidation(data: bytes | str) -> tuple[str, list[InvalidationItem]]:
    """(origin, items); raises ValueError on anything malformed."""
    message = json.loads(data)
    if not isinstance(message, dict) or not isinstance(message.get("o"), str):
        raise ValueError("invalidation message without origin")
    items: list[InvalidationItem] = []
    for item in message.get("i", []):
        family, scope = item
        if not isinstance(family, str) or not (scope is None or isinstance(scope, str)):
            raise ValueError("malformed invalidation item")
        items.append((family, scope))
    return message["o"], items


def make_client(url: str, timeout_s: float, *, max_connections: int = 128) -> Redis:
    """A client whose every command fails within about the timeout.

    The retry lives on the pool's connections: redis-py ignores a client-level `retry` when a pool
    is passed, which left every connection with no retry at all, so one idle connection closed by
    the server (a restart, `CLIENT KILL`, an idle timeout) tripped the breaker. Only a dropped
    connection is retried (once, at once, on a fresh connection); a timeout is not, so a frozen
    Redis costs one timeout, not two.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=max(2.0, timeout_s),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return Redis(connection_pool=pool)


class RedisTier:
    """Redis behind the breaker. Before this process trusts anything Redis holds (at start and
    after every outage) it runs `on_sync`: the cache replays the invalidations that could not
    reach Redis, including those other processes left in the database before they died."""

    PROBE_MIN_S = 0.25
    PROBE_MAX_S = 1.0

    def __init__(
        self,
        url: str,
        namespace: str,
        *,
        timeout_s: float,
        breaker: CircuitBreaker | None = None,
        on_sync: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self.client = make_client(url, timeout_s)
        self.channel = channel(namespace)
        self._on_sync = on_sync
        self._unlock = self.client.register_script(_UNLOCK)
        self.synced = on_sync is None
        self._sync_lock = asyncio.Lock()
        self._prober: asyncio.Task[None] | None = None

    async def _call(self, operation: Callable[[], Awaitable[T]], *, syncing: bool = False) -> T:
        if not syncing and not self.breaker.allow():
            raise RedisUnavailable("circuit open")
        if not self.synced and not syncing:
            await self.ensure_synced()
        try:
            return await operation()
        except (
            RedisError,
            OSError,
            TimeoutError,
            AttributeError,
            TypeError,
            RuntimeError,
        ) as error:  # see CLOSED_WRITER_RACE
            self._trip(error)
            raise RedisUnavailable(str(error)) from error

    def _trip(self, error: BaseException) -> None:
        if self.breaker.failure(error):
            self.synced = self._on_sync is None
            self._prober = asyncio.create_task(self._probe(), name="redis-recovery-probe")

    async def ensure_synced(self) -> None:
        """Resynchronise once (concurrent callers wait for the same run); raises RedisUnavailable
        when that cannot be done now, so the caller does not use Redis meanwhile."""
        if self.synced:
            return
        async with self._sync_lock:
            if self.synced or self._on_sync is None:
                self.synced = True
                return
            try:
                await self._on_sync()
            except RedisUnavailable:
                raise
            except Exception as error:  # the database could not list what is pending: try later
                raise RedisUnavailable(f"not resynchronised yet ({type(error).__name__})") from error
            self.synced = True

    async def _probe(self) -> None:
        """While the breaker is open: ask Redis (a fresh connection each time) until it answers,
        resynchronise, then close the breaker."""
        with contextlib.suppress(Exception):
            await self.client.connection_pool.disconnect()  # connections of the old server are dead
        delay = self.PROBE_MIN_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.PROBE_MAX_S)
            try:
                await self.client.ping()
                async with self._sync_lock:
                    if self._on_sync is not None:
                        await self._on_sync()
                    self.synced = True
            except asyncio.CancelledError:
                raise
            except Exception:
                continue
            self.breaker.close()
            return

    async def fetch(self, key: CacheKey) -> tuple[int, int, bytes | None]:
        """Current family and scope generations and the stored value, in one round trip."""
        names = [
            generation_key(self.namespace, key.family, None),
            generation_key(self.namespace, key.family, key.scope),
            key.redis_key(self.namespace),
        ]
        family_gen, scope_gen, raw = await self._call(lambda: self.client.mget(names))
        return int(family_gen or 0), int(scope_gen or 0), raw if isinstance(raw, bytes) else None

    async def store(self, key: CacheKey, envelope: Envelope, ttl_s: float) -> None:
        name = key.redis_key(self.namespace)
        await self._call(lambda: self.client.set(name, pack(envelope), px=max(1, int(ttl_s * 1000))))

    async def try_lock(self, key: CacheKey, ttl_s: float) -> str | None:
        """Claim the right to load `key` (SET NX PX); the token to release it, or None."""
        token = secrets.token_hex(8)
        name = lock_key(self.namespace, key)
        claimed = await self._call(lambda: self.client.set(name, token, nx=True, px=int(ttl_s * 1000)))
        return token if claimed else None

    async def unlock(self, key: CacheKey, token: str) -> None:
        name = lock_key(self.namespace, key)
        await self._call(lambda: self._unlock(keys=[name], args=[token]))

    async def bump(self, origin: str, items: Iterable[InvalidationItem], *, syncing: bool = False) -> None:
        """Advance the generation of every item and tell every process, in one pipeline."""
        items = list(items)

        async def run() -> Any:
            async with self.client.pipeline(transaction=False) as pipe:
                for family, scope in items:
                    pipe.incr(generation_key(self.namespace, family, scope))
                pipe.publish(self.channel, encode_invalidation(origin, items))
                return await pipe.execute()

        await self._call(run, syncing=syncing)

    def subscriber_client(self) -> Redis:
        """A separate connection for pub/sub: it blocks on reads, so no socket timeout."""
        return Redis.from_url(self.url, socket_connect_timeout=self.timeout_s, socket_timeout=None)

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        await self.client.aclose()
        await self.client.connection_pool.disconnect()
