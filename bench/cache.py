"""Cache benchmark: N pollers in 1 and in 4 processes, on one shared key and on distinct keys.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/cache.py [--seconds 10] [--ttl 2] [--pollers 10,100,1000] [--redis URL]

What a "database load" is here: a query service stand-in that sleeps 2 ms and returns a 50-row
model (about 9 kB of JSON), so the figures count loads exactly without a database on the box
skewing them. Each poller reads, then thinks 50-150 ms (a busy API client; a page ticks at 2-5 s),
for `--seconds`. Latencies are steady state: each poller's first (cold) read is left out.
Every process is a separate `QueryCache` (its own in-process tier, pub/sub
listener and connections), which is what an app process is.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis.asyncio import Redis

from bench.harness import percentile
from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.cache.keys import cache_key
from dashboard.schemas.common import ReadModel

LOAD_S = 0.002


class Row(ReadModel):
    id: int
    symbol: str
    volume: Decimal
    price: Decimal
    profit: Decimal
    opened_at: datetime


class Page(ReadModel):
    rows: list[Row]
    as_of: datetime


def page() -> Page:
    now = datetime.now(UTC)
    return Page(
        rows=[
            Row(
                id=i,
                symbol="EURUSD",
                volume=Decimal("1.00"),
                price=Decimal("1.08512"),
                profit=Decimal("12.50"),
                opened_at=now,
            )
            for i in range(50)
        ],
        as_of=now,
    )


async def load() -> Page:
    await asyncio.sleep(LOAD_S)
    return page()


async def _process(
    config: CacheConfig, pollers: list[int], distinct: bool, start_at: float, seconds: float
) -> dict[str, object]:
    cache = QueryCache(config)
    await cache.start()
    await cache.wait_subscribed()
    latencies: list[float] = []
    reads = 0

    async def poll(index: int) -> None:
        nonlocal reads
        key = cache_key("bench", f"u{index if distinct else 0}", Page)
        rng = random.Random(index)
        await asyncio.sleep(max(0.0, start_at - time.time()) + rng.random() * 0.1)
        end = start_at + seconds
        first = True
        while time.time() < end:
            t0 = time.perf_counter()
            await cache.get(key, load)
            if not first:  # the cold first read of each poller is warm-up, not steady state
                latencies.append(time.perf_counter() - t0)
            first = False
            reads += 1
            await asyncio.sleep(0.05 + rng.random() * 0.1)

    await asyncio.gather(*(poll(i) for i in pollers))
    counters = cache.metrics["bench"]
    await cache.close()
    return {
        "reads": reads,
        "loads": counters.loads,
        "local": counters.local_hits,
        "redis": counters.redis_hits,
        "stale": counters.stale_serves,
        "coalesced": counters.coalesced,
        "waits": counters.waits,
        "misses": counters.misses,
        "latencies": latencies[:: max(1, len(latencies) // 20000)],
    }


def _run_process(args: tuple[CacheConfig, list[int], bool, float, float]) -> dict[str, object]:
    return asyncio.run(_process(*args))


async def clear(url: str, namespace: str) -> None:
    client = Redis.from_url(url)
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.unlink(*keys)
    await client.aclose()


def scenario(url: str | None, processes: int, n: int, distinct: bool, seconds: float, ttl: float) -> None:
    namespace = f"bench{os.getpid()}"
    if url:
        asyncio.run(clear(url, namespace))
    config = CacheConfig(namespace=namespace, redis_url=url, ttl_s=ttl, local_ttl_s=min(1.0, ttl), stale_s=30)
    shares = [list(range(p, n, processes)) for p in range(processes)]
    start_at = time.time() + 1.5
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(_run_process, [(config, share, distinct, start_at, seconds) for share in shares])
    if url:
        asyncio.run(clear(url, namespace))
    names = ("reads", "loads", "local", "redis", "stale", "coalesced", "waits")
    total = {k: sum(r[k] for r in results) for k in names}  # type: ignore[misc]
    latencies = [x for r in results for x in r["latencies"]]  # type: ignore[union-attr]
    keys = n if distinct else 1
    periods = seconds / ttl
    hits = total["local"] + total["redis"] + total["stale"] + total["coalesced"] + total["waits"]
    print(
        f"| {'redis' if url else 'local'} | {processes} | {n:>5} | {'distinct' if distinct else 'same'} "
        f"| {total['reads']:>7} | {hits / max(1, total['reads']):.4f} | {total['loads']:>6} "
        f"| {total['loads'] / seconds:>7.1f} | {total['loads'] / keys / periods:.2f} "
        f"| {percentile(latencies, 50) * 1000:.3f} | {percentile(latencies, 99) * 1000:.3f} |",
        flush=True,
    )


async def hit_latency(url: str | None, iterations: int) -> None:
    """p50/p99 of a pure in-process hit, and of a pure Redis hit (local tier bypassed)."""
    namespace = f"benchhit{os.getpid()}"
    key = cache_key("bench", "u0", Page)
    local = QueryCache(CacheConfig(namespace=namespace, ttl_s=3600))
    await local.get(key, load)
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        await local.get(key, load)
        samples.append(time.perf_counter() - t0)
    print(
        f"in-process hit: p50 {percentile(samples, 50) * 1e3:.4f} ms, "
        f"p99 {percentile(samples, 99) * 1e3:.4f} ms"
    )
    await local.close()
    if not url:
        return
    writer = QueryCache(CacheConfig(namespace=namespace, redis_url=url, ttl_s=3600))
    await writer.get(key, load)
    reader = QueryCache(CacheConfig(namespace=namespace, redis_url=url, ttl_s=3600, local_ttl_s=1e-9))
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        await reader.get(key, load)
        samples.append(time.perf_counter() - t0)
    redis_hits = reader.metrics["bench"].redis_hits
    print(
        f"redis hit ({redis_hits} of {iterations} reads): p50 {percentile(samples, 50) * 1e3:.4f} ms, "
        f"p99 {percentile(samples, 99) * 1e3:.4f} ms"
    )
    await writer.close()
    await reader.close()
    await clear(url, namespace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ttl", type=float, default=2.0)
    parser.add_argument("--pollers", default="10,100,1000")
    parser.add_argument("--processes", default="1,4")
    parser.add_argument(
        "--redis", default=os.environ.get("DASHBOARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--no-local-only", action="store_true", help="skip the no-Redis comparison rows")
    args = parser.parse_args()
    asyncio.run(hit_latency(args.redis, 20000))
    print(f"\n{args.seconds:g} s per row, TTL {args.ttl:g} s, database load = {LOAD_S * 1000:g} ms stand-in")
    print(
        "| tier | procs | pollers | keys | reads | hit rate | DB loads | loads/s | loads/key/TTL "
        "| p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for processes in (int(p) for p in args.processes.split(",")):
        for n in (int(p) for p in args.pollers.split(",")):
            for distinct in (False, True):
                scenario(args.redis, processes, n, distinct, args.seconds, args.ttl)
    if not args.no_local_only:
        for n in (int(p) for p in args.pollers.split(",")):
            scenario(None, 4, n, False, args.seconds, args.ttl)


if __name__ == "__main__":
    main()
