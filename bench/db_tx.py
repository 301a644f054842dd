"""Database transactions per 1,000 cached reads, counted by PostgreSQL itself (pg_stat_database),
not by the app: the app on PostgreSQL + Redis with the demo simulator writing every 3 s (each
write invalidates the cache, as in real use).

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/db_tx.py [--window 60] [--clients 50] [--think-ms 0,50] [--warmup 10]

Method: a fresh database is seeded, the app started and waited for (ready) plus a warm-up; the
nine non-admin demo users log in before anything is counted. Then:

* baseline: W seconds without API load (only the simulator and the app's own background work);
* load: W seconds of `--clients` concurrent API clients (tokens spread over the nine users), each
  reading /api/v1/reconciliation/status, /api/v1/positions and /api/v1/guards/status in a loop
  with a random 0-50 ms think time (a few hundred requests per second; the rate is printed).

PostgreSQL 15 flushes a backend's counters at most once a second while it is busy and up to ~10 s
after it goes idle, so every snapshot of xact_commit + xact_rollback is taken `--lag` (12) seconds
after its window's end, and both rates are over windows of equal lag: baseline = snapshot 0 (start)
to snapshot 1 (W + lag later, no load), load = snapshot 1 to snapshot 2 (W of load + lag). Then

    extra tx per 1,000 reads = (load-window tx - baseline tx/s x load-window seconds) / reads x 1000

(goal <= 5). The app's cache counters (`GET /health?detail=true`, admin token) are printed per key
family before and after, when the app exposes them; those two calls fall outside both windows.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    App,
    admin_token,
    arg_parser,
    bench_setup,
    cache_detail,
    main_guard,
    percentile,
    pg_transactions,
    read_loop,
    tokens_for,
)


async def read_load(
    base: str, tokens: list[str], clients: int, seconds: float, think: tuple[float, float]
) -> tuple[int, Counter[int], list[float], float]:
    """`clients` readers for `seconds`; returns (200 reads, status histogram, latencies ms, elapsed)."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []

    def record(_: str, status: int, ms: float) -> None:
        statuses[status] += 1
        latencies.append(ms)

    started = time.monotonic()
    end = started + seconds
    await read_loop(base, tokens, clients, think, lambda: "load" if time.monotonic() < end else None, record)
    return statuses[200], statuses, latencies, time.monotonic() - started


def loads_by_family(detail: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    if detail is None:
        return {}
    keys = ("loads", "misses", "local_hits", "redis_hits", "coalesced", "stale_serves")
    return {f["family"]: {k: int(f.get(k, 0)) for k in keys} for f in detail.get("families", [])}


def print_cache(before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    if after is None:
        print("\ncache counters: not available (GET /health?detail=true gave none)")
        return
    old, new = loads_by_family(before), loads_by_family(after)
    print("\n## App cache counters per key family over the load window (after - before)")
    print("| family | loads | misses | local hits | redis hits | coalesced | stale serves |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total = Counter[str]()
    for family, counters in new.items():
        delta = {k: v - old.get(family, {}).get(k, 0) for k, v in counters.items()}
        total.update(delta)
        print(
            f"| {family} | {delta['loads']} | {delta['misses']} | {delta['local_hits']} "
            f"| {delta['redis_hits']} | {delta['coalesced']} | {delta['stale_serves']} |"
        )
    print(
        f"| all | {total['loads']} | {total['misses']} | {total['local_hits']} | {total['redis_hits']} "
        f"| {total['coalesced']} | {total['stale_serves']} |"
    )
    if "invalidations_received" in after:
        sent = after.get("invalidations_sent", 0) - (before or {}).get("invalidations_sent", 0)
        received = after["invalidations_received"] - (before or {}).get("invalidations_received", 0)
        print(f"invalidations sent {sent}, received {received} (over baseline + load)")


async def measure(app: App, database: str, args: argparse.Namespace) -> None:
    tokens = await tokens_for(app.base)  # logins write (sessions, last login): before counting
    admin = await admin_token(app.base)
    low, high = (float(x) / 1000 for x in args.think_ms.split(","))
    print(f"ready via {app.ready_path}; {len(tokens)} users logged in; warm-up {args.warmup} s", flush=True)
    await asyncio.sleep(args.warmup)
    cache_before = await cache_detail(app.base, admin)
    await asyncio.sleep(args.lag)  # that call's own transaction is flushed before snapshot 0

    tx0, t0 = await pg_transactions(database), time.monotonic()
    print(f"baseline: {args.window} s without API load (+ {args.lag} s lag)...", flush=True)
    await asyncio.sleep(args.window + args.lag)
    tx1, t1 = await pg_transactions(database), time.monotonic()

    print(f"load: {args.window} s of {args.clients} clients (+ {args.lag} s lag)...", flush=True)
    cpu0, own0 = app.cpu(), time.process_time()
    reads, statuses, latencies, load_s = await read_load(
        app.base, tokens, args.clients, args.window, (low, high)
    )
    server_cores, own_cores = (app.cpu() - cpu0) / load_s, (time.process_time() - own0) / load_s
    await asyncio.sleep(args.lag)
    tx2, t2 = await pg_transactions(database), time.monotonic()
    cache_after = await cache_detail(app.base, admin)

    baseline_rate = (tx1 - tx0) / (t1 - t0)
    load_tx = tx2 - tx1
    load_window = t2 - t1
    extra = load_tx - baseline_rate * load_window
    requests = sum(statuses.values())
    print(f"\n## Database transactions per 1,000 cached reads ({database}, pg_stat_database)")
    print("| window | seconds | transactions | tx/s |")
    print("|---|---:|---:|---:|")
    print(
        f"| baseline (no API load, incl. {args.lag} s lag) | {t1 - t0:.1f} | {tx1 - tx0} "
        f"| {baseline_rate:.2f} |"
    )
    print(
        f"| load ({load_s:.1f} s of reads + {args.lag} s lag) | {load_window:.1f} | {load_tx} "
        f"| {load_tx / load_window:.2f} |"
    )
    print(
        f"\nreads: {reads} x 200 of {requests} requests in {load_s:.1f} s = {requests / load_s:.0f} req/s "
        f"({args.clients} clients, think {args.think_ms} ms); statuses {dict(sorted(statuses.items()))}"
    )
    print(
        f"read latency p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms; server CPU {server_cores:.2f} cores, "
        f"load tool {own_cores:.2f} cores"
    )
    print(f"extra transactions during the load window: {extra:.1f}")
    per_1000 = extra / reads * 1000 if reads else float("nan")
    print(f"extra tx per 1,000 reads = {per_1000:.2f} (goal <= 5)")
    print_cache(cache_before, cache_after)


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--window", type=int, default=60, help="seconds of each window")
    parser.add_argument("--clients", type=int, default=50, help="concurrent API clients")
    parser.add_argument("--think-ms", default="0,50", help="think time range in ms")
    parser.add_argument("--warmup", type=float, default=10, help="seconds after ready")
    parser.add_argument("--lag", type=float, default=12, help="seconds from a window's end to its snapshot")
    args = parser.parse_args()
    with bench_setup("dbtx") as setup:
        assert setup.database is not None
        print(
            f"PostgreSQL database {setup.database} + Redis (namespace {setup.namespace}), simulator every "
            f"3 s; logs in {setup.workdir}",
            flush=True,
        )
        with App(setup.env, setup.workdir / "app.log") as app:
            asyncio.run(measure(app, setup.database, args))


if __name__ == "__main__":
    main_guard(main)
