"""The small parts: the in-process tier, the Redis envelope and the circuit breaker."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from dashboard.cache.breaker import BreakerState, CircuitBreaker
from dashboard.cache.envelope import Envelope, pack, unpack
from dashboard.cache.keys import CacheKey
from dashboard.cache.local import CachedValue, LocalTier
from dashboard.schemas.accounts import AccountList


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(family: str = "positions", scope: str = "u1", params: str = "_") -> CacheKey:
    return CacheKey(family, scope, "s1-x", params)


# ---- local tier


def test_local_hit_then_expiry() -> None:
    clock = Clock()
    tier = LocalTier(max_entries=10, max_bytes=10_000, clock=clock)
    k = key()
    assert tier.get(k) is None
    assert tier.put(k, CachedValue(b"{}"), 1.0, tier.generation(k))
    assert tier.get(k) is not None
    clock.now += 1.0
    assert tier.get(k) is None
    # Expired, not forgotten: the last value is what a reader gets during a database outage...
    assert tier.stale(k) is not None and len(tier) == 1
    tier.invalidate([("positions", "u1")])
    # ...unless a write invalidated it.
    assert tier.stale(k) is None and len(tier) == 0 and tier.bytes == 0


def test_local_is_bounded_by_entries_and_bytes_lru_first() -> None:
    tier = LocalTier(max_entries=3, max_bytes=100, clock=Clock())
    keys = [key(params=str(i)) for i in range(5)]
    for k in keys[:3]:
        tier.put(k, CachedValue(b"x" * 10), 60, tier.generation(k))
    tier.get(keys[0])  # most recently used now
    tier.put(keys[3], CachedValue(b"x" * 10), 60, tier.generation(keys[3]))
    assert tier.get(keys[1]) is None and tier.get(keys[0]) is not None
    tier.put(keys[4], CachedValue(b"y" * 90), 60, tier.generation(keys[4]))
    assert tier.bytes <= 100 and tier.get(keys[4]) is not None
    assert not tier.put(key(params="huge"), CachedValue(b"z" * 101), 60, tier.generation(key(params="huge")))


def test_local_invalidation_by_scope_and_by_family() -> None:
    tier = LocalTier(max_entries=10, max_bytes=10_000, clock=Clock())
    a, b, other = key(scope="u1"), key(scope="all"), key(family="market", scope="global")
    for k in (a, b, other):
        tier.put(k, CachedValue(b"1"), 60, tier.generation(k))
    assert tier.invalidate([("positions", "u1")]) == 1
    assert tier.get(a) is None and tier.get(b) is not None
    assert tier.invalidate([("positions", None)]) == 1
    assert tier.get(b) is None and tier.get(other) is not None


def test_a_load_that_raced_an_invalidation_is_not_stored() -> None:
    tier = LocalTier(max_entries=10, max_bytes=10_000, clock=Clock())
    k = key()
    before = tier.generation(k)
    tier.invalidate([("positions", "u1")])  # a write lands while the query runs
    assert not tier.put(k, CachedValue(b"old"), 60, before)
    before = tier.generation(k)
    tier.invalidate([("positions", None)])
    assert not tier.put(k, CachedValue(b"old"), 60, before)
    before = tier.generation(k)
    tier.clear()
    assert not tier.put(k, CachedValue(b"old"), 60, before)


def test_cached_value_decodes_once() -> None:
    original = AccountList(accounts=[], as_of=datetime(2026, 11, 26, 10, tzinfo=UTC))
    value = CachedValue(original.model_dump_json().encode())
    first = value.model(AccountList)
    assert first == original
    assert value.model(AccountList) is first


# ---- envelope


def test_envelope_round_trip_and_corruption() -> None:
    envelope = Envelope(3, 7, 1234.5, b'{"a":1}')
    raw = pack(envelope)
    assert unpack(raw) == envelope
    assert unpack(None) is None
    assert unpack(b"garbage") is None
    assert unpack(raw[:-1]) is None  # truncated payload: CRC mismatch
    assert unpack(raw[:-1] + b"2") is None  # flipped byte
    assert unpack(b"XX1" + raw[3:]) is None  # foreign magic


# ---- breaker


def test_breaker_opens_once_logs_once_and_closes_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    assert breaker.allow() and breaker.state is BreakerState.CLOSED
    with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
        assert breaker.failure(ConnectionError("refused")) is True  # opens: the caller probes
        for _ in range(50):
            assert breaker.failure(ConnectionError("refused")) is False  # one outage, one line
            assert not breaker.allow()  # readers never act as the trial call
        assert breaker.state is BreakerState.OPEN
        clock.now += 3.0
        assert breaker.open_for_s == 3.0 and not breaker.allow()  # only a probe closes it
        assert breaker.close() is True
        assert breaker.state is BreakerState.CLOSED and breaker.allow()
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in warnings) == 1
    assert sum("reachable again after 3.0 s" in m for m in warnings) == 1
    assert breaker.close() is False
