"""Reads while Redis goes away and comes back: how soon the app uses Redis again, whether the
return costs a latency burst, and how many log lines an outage makes.

The app (`python -m dashboard run --demo`, PostgreSQL) uses a private redis-server of its own
(tests/throwaway.py), which this script kills and restarts while 20 API clients read. Phases:
`before` (Redis up), `down` (killed), `return` (the first 2 s after the restart), `after`. Then a
healthy Redis closes every client connection (`CLIENT KILL TYPE normal`, as an idle timeout or a
failover would) three times: that must be no outage at all (no log line, no extra database load).

Prints per phase the read latency p50/p95/p99/max, the time from the restart until the app
reports Redis in use (`/health`), and the outage log lines. Asserts nothing. Usage:
    .venv/bin/python bench/redis_recovery.py [--down-seconds 5] [--clients 20]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    App,
    admin_token,
    arg_parser,
    bench_setup,
    cache_detail,
    main_guard,
    percentile,
    read_loop,
    tokens_for,
)
from tests.throwaway import ThrowawayRedis

PHASES = ("before", "down", "return", "after", "kills")


def loads(detail: dict[str, object] | None) -> int:
    families = (detail or {}).get("families", [])
    return sum(int(f["loads"]) for f in families)  # type: ignore[index, union-attr]


async def run(app: App, redis: ThrowawayRedis, down_s: float, clients: int) -> None:
    tokens = await tokens_for(app.base)
    admin = await admin_token(app.base)
    samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
    errors: dict[str, int] = dict.fromkeys(PHASES, 0)
    current: list[str | None] = ["before"]

    def record(phase: str, status: int, ms: float) -> None:
        samples[phase].append(ms)
        errors[phase] += status != 200

    reader = asyncio.create_task(
        read_loop(app.base, tokens, clients, (0.02, 0.06), lambda: current[0], record)
    )
    await asyncio.sleep(5)
    current[0] = "down"
    redis.kill()
    await asyncio.sleep(down_s)
    current[0] = "return"
    redis.start()
    restarted = time.monotonic()
    back_after = None
    async with httpx.AsyncClient(base_url=app.base, timeout=5) as client:
        while back_after is None and time.monotonic() - restarted < 30:
            if (await client.get("/health")).json().get("redis") == "ok":
                back_after = time.monotonic() - restarted
            else:
                await asyncio.sleep(0.05)
    await asyncio.sleep(max(0.0, 2 - (time.monotonic() - restarted)))
    current[0] = "after"
    await asyncio.sleep(5)
    current[0] = "kills"
    before_kills = loads(await cache_detail(app.base, admin))
    killed = 0
    for _ in range(3):
        killed += redis.client_kill_all()
        await asyncio.sleep(1.5)
    after_kills = loads(await cache_detail(app.base, admin))
    current[0] = None
    await reader

    print(f"\n## Reads while Redis is killed for {down_s:.0f} s and restarted ({clients} clients)")
    print("| phase | reads | errors | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for phase in PHASES:
        ms = samples[phase]
        if ms:
            p50, p95, p99 = (percentile(ms, p) for p in (50, 95, 99))
            figures = f"{p50:.1f} | {p95:.1f} | {p99:.1f} | {max(ms):.1f}"
            print(f"| {phase} | {len(ms)} | {errors[phase]} | {figures} |")
    print(
        f"\nRedis in use again {back_after:.2f} s after its restart"
        if back_after
        else "\nRedis NOT back in 30 s"
    )
    log = app.log.read_text()
    down_lines = sum("redis unavailable" in line for line in log.splitlines())
    up_lines = sum("reachable again" in line and "redis" in line for line in log.splitlines())
    print(f"log: {down_lines} 'redis unavailable' line(s), {up_lines} 'reachable again' line(s) (one outage)")
    print(
        f"connections closed by a healthy Redis: {killed} over 3 rounds; database loads meanwhile "
        f"{after_kills - before_kills} (the simulator's invalidations only); log lines unchanged"
    )


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--down-seconds", type=float, default=5.0, help="how long Redis stays down")
    parser.add_argument("--clients", type=int, default=20, help="concurrent API readers")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-redis-recovery-"))
    with ThrowawayRedis(work / "redis") as redis, bench_setup("redisrec", workdir=work) as setup:
        setup.env["DASHBOARD_REDIS_URL"] = redis.url
        with App(setup.env, work / "app.log") as app:
            asyncio.run(run(app, redis, args.down_seconds, args.clients))
        print(f"app log: {work / 'app.log'}")


if __name__ == "__main__":
    main_guard(main)
