"""API load benchmark: Locust (100 users, real JWT login, the three read endpoints, 1-3 s think
time), the same load from a plain asyncio client, and a saturated run against one cached read
endpoint and a bare endpoint of the same app, then of the "floor" (bench/floor_app.py: plain
FastAPI on plain uvicorn serving the same bytes from Redis), one after the other.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/api_load.py [--users 100] [--seconds 60] [--saturate-seconds 10]
                                       [--database postgresql|sqlite] [--no-redis]
                                       [--floor-auth presence|jwt]

The app runs as `python -m dashboard run --demo` (seeded fleet, simulator writing every 3 s, so the
cache is invalidated as in real use) on PostgreSQL and Redis by default, with a fresh database and
cache namespace per run. Goals: Locust and plain-client p50 <= 5 ms, p95 <= 15 ms, p99 <= 30 ms.

The saturated run uses `wrk -t2 -c32` when installed (`apt-get install -y wrk`), else an asyncio
client (which saturates itself before the server; the script says which one it used), on four
targets: the app's bare `GET /api/v1/ping`, the app's cached `GET /api/v1/positions` (real token),
then, with the app stopped so the two never share the 2 cores, the floor's ping and the floor's
cached read (one Redis GET per request + a Bearer header check). It prints app / floor for both
(goal: >= 70 %). The floor's positions bytes are fetched from the running app with a real token.
"""

from __future__ import annotations

import asyncio
import csv
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    LOGINS,
    READS,
    REPO,
    App,
    BenchSetup,
    Server,
    arg_parser,
    bench_setup,
    clean_env,
    free_port,
    main_guard,
    percentile,
    tokens_for,
)


def run_locust(app: App, users: int, seconds: int, workdir: Path) -> None:
    prefix = workdir / "locust"
    tokens = workdir / "tokens.txt"  # logins before the window: it measures reads only
    tokens.write_text("\n".join(asyncio.run(tokens_for(app.base))))
    cpu0, t0 = app.cpu(), time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", str(REPO / "bench" / "locustfile.py"),
         "--headless",
         "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{seconds}s", "--host", app.base,
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
        cwd=REPO, env=clean_env(DASHBOARD_LOAD_TOKENS=str(tokens)), check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    cores = (app.cpu() - cpu0) / (time.monotonic() - t0)
    print(
        f"\n## Locust: {users} users, {seconds} s, think time 1-3 s, logged in before the window "
        f"(server CPU {cores:.2f} cores)"
    )
    print("| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with open(f"{prefix}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            print(
                f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} "
                f"| {float(row['Requests/s']):.1f} "
                f"| {row['50%']} | {row['95%']} | {row['99%']} | {float(row['Max Response Time']):.0f} |"
            )


async def plain_client(app: App, users: int, seconds: int) -> None:
    """The same load shape from a bare asyncio client: Locust's own overhead left out."""
    tokens = await tokens_for(app.base)
    latencies: dict[str, list[float]] = {path: [] for path in READS}
    errors = 0
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=app.base, timeout=10, limits=limits) as client:
        end = time.monotonic() + seconds

        async def user(index: int) -> None:
            nonlocal errors
            rng = random.Random(index)
            headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
            await asyncio.sleep(rng.random() * 2)
            while time.monotonic() < end:
                path = rng.choice(READS)
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies[path].append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200
                await asyncio.sleep(rng.uniform(1, 3))

        cpu0, t0 = app.cpu(), time.monotonic()
        await asyncio.gather(*(user(i) for i in range(users)))
        cores = (app.cpu() - cpu0) / (time.monotonic() - t0)
    print(f"\n## Plain asyncio client: same {users} users, {seconds} s (server CPU {cores:.2f} cores)")
    print("| endpoint | requests | errors | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    everything = [v for values in latencies.values() for v in values]
    for path, values in [*latencies.items(), ("all", everything)]:
        print(
            f"| {path} | {len(values)} | {errors if path == 'all' else '-'} | {percentile(values, 50):.2f} "
            f"| {percentile(values, 95):.2f} | {percentile(values, 99):.2f} |"
        )


def wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, str]:
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        args[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)  # the latency distribution lines,
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)  # not "85.50%" in the thread stats
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (
        rate,
        f"p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}, "
        f"non-2xx {non2xx.group(1) if non2xx else 0}",
    )


async def async_saturate(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, str]:
    count, errors = 0, 0
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=32)) as client:
        end = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal count, errors
            while time.monotonic() < end:
                response = await client.get(url, headers=headers)
                count += 1
                errors += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(32)))
    return count / seconds, f"errors {errors}"


@dataclass
class Target:
    kind: str  # "cached" or "ping"
    name: str
    path: str
    headers: dict[str, str]


@dataclass
class Saturated:
    server: str
    target: Target
    rate: float
    cores: float
    detail: str


def targets(token: str, cached: str) -> list[Target]:
    return [
        Target("cached", cached, "/api/v1/positions", {"Authorization": f"Bearer {token}"}),
        Target("ping", "bare GET /api/v1/ping", "/api/v1/ping", {}),
    ]


def saturate(server: Server, label: str, targets: list[Target], seconds: int) -> list[Saturated]:
    """Each target of `server` at full speed for `seconds`, one after the other."""
    results = []
    for target in targets:
        url = server.base + target.path
        cpu0, t0 = server.cpu(), time.monotonic()
        if shutil.which("wrk"):
            rate, detail = wrk(url, seconds, target.headers)
        else:
            rate, detail = asyncio.run(async_saturate(url, seconds, target.headers))
        cores = (server.cpu() - cpu0) / (time.monotonic() - t0)
        results.append(Saturated(label, target, rate, cores, detail))
    return results


def measure_floor(
    setup: BenchSetup, payload: bytes, token: str, auth: str, seconds: int
) -> tuple[list[Saturated], list[str]]:
    """Store the app's bytes in Redis, start the floor, check it serves them, saturate it."""
    assert setup.redis_url is not None
    key = f"{setup.namespace}:floor:positions"
    redis = Redis.from_url(setup.redis_url)
    redis.set(key, payload)
    port = free_port()
    log = setup.workdir / "floor.log"
    floor = Server(
        [sys.executable, str(REPO / "bench" / "floor_app.py"), "--port", str(port),
         "--redis-url", setup.redis_url, "--key", key, "--auth", auth],
        {"FLOOR_JWT_SECRET": setup.env["DASHBOARD_JWT_SECRET"]},
        f"http://127.0.0.1:{port}",
        log,
    )  # fmt: skip
    try:
        with floor:
            served = httpx.get(f"{floor.base}/api/v1/positions", headers={"Authorization": f"Bearer {token}"})
            notes = [line for line in log.read_text().splitlines() if line.startswith("floor:")]
            notes.append(
                f"floor serves {len(served.content)} bytes, identical to the app's {len(payload)}: "
                f"{'yes' if served.content == payload else 'NO'}"
            )
            cached = f"cached read GET /api/v1/positions (Bearer {auth} + 1 Redis GET)"
            results = saturate(floor, "floor", targets(token, cached), seconds)
    finally:
        redis.delete(key)
        redis.close()
    return results, notes


def jwt_decode_us() -> float:
    """What one PyJWT HS256 decode costs here (the floor's `--auth jwt`), in microseconds."""
    import jwt

    secret = "x" * 64
    token = jwt.encode({"sub": "1", "exp": int(time.time()) + 900}, secret, algorithm="HS256")
    started, n = time.perf_counter(), 5000
    for _ in range(n):
        jwt.decode(token, secret, algorithms=["HS256"])
    return (time.perf_counter() - started) / n * 1e6


def print_saturated(seconds: int, results: list[Saturated], notes: list[str]) -> None:
    tool = (
        "wrk -t2 -c32"
        if shutil.which("wrk")
        else "asyncio client, 32 connections (install wrk for a fair figure)"
    )
    print(
        f"\n## Saturated, {seconds} s each, {tool}; "
        "each server is one process on a 2-core box shared with the load tool; app and floor run one "
        "after the other"
    )
    print("| server | endpoint | req/s | server CPU cores | detail |")
    print("|---|---|---:|---:|---|")
    for r in results:
        print(f"| {r.server} | {r.target.name} | {r.rate:,.0f} | {r.cores:.2f} | {r.detail} |")
    rate = {(r.server, r.target.kind): r.rate for r in results}
    for note in notes:
        print(note)
    if ("app", "cached") in rate:
        print(f"\ncached / bare = {rate['app', 'cached'] / rate['app', 'ping']:.0%} (goal >= 60%)")
    if ("floor", "cached") in rate:
        print(
            f"app cached / floor cached = {rate['app', 'cached'] / rate['floor', 'cached']:.0%} (goal >= 70%)"
        )
        print(f"app ping / floor ping = {rate['app', 'ping'] / rate['floor', 'ping']:.0%} (goal >= 70%)")


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--users", type=int, default=100, help="Locust and plain-client users")
    parser.add_argument("--seconds", type=int, default=60, help="Locust run (plain client: half, >= 20 s)")
    parser.add_argument("--saturate-seconds", type=int, default=10, help="each saturated wrk run")
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite"], default="postgresql", help="app database"
    )
    parser.add_argument("--no-redis", action="store_true", help="in-process cache only (and no floor run)")
    parser.add_argument(
        "--floor-auth",
        choices=["presence", "jwt"],
        default="presence",
        help="the floor checks the Bearer header's presence or also decodes it with PyJWT",
    )
    args = parser.parse_args()
    with bench_setup("api", database=args.database, redis=not args.no_redis) as setup:
        print(f"database {args.database}, cache {'in-process' if args.no_redis else 'redis + in-process'}, "
              f"simulator writing every 3 s; logs in {setup.workdir}")  # fmt: skip
        with App(setup.env, setup.workdir / "app.log") as app:
            run_locust(app, args.users, args.seconds, setup.workdir)
            asyncio.run(plain_client(app, args.users, max(20, args.seconds // 2)))
            token = asyncio.run(tokens_for(app.base, LOGINS[:1]))[0]
            payload = httpx.get(
                f"{app.base}/api/v1/positions", headers={"Authorization": f"Bearer {token}"}
            ).content
            cached = "cached read GET /api/v1/positions (JWT + auth state + cached bytes)"
            results = saturate(app, "app", targets(token, cached), args.saturate_seconds)
        notes = ["floor: not run (it serves its bytes from Redis; --no-redis)"]
        if setup.redis_url is not None:
            floor_results, notes = measure_floor(
                setup, payload, token, args.floor_auth, args.saturate_seconds
            )
            results += floor_results
            check = (
                "Bearer header presence only, no JWT decode"
                if args.floor_auth == "presence"
                else "PyJWT HS256 decode per request"
            )
            notes.append(
                f"floor auth: {check} (one PyJWT decode costs {jwt_decode_us():.0f} us here; "
                "the app caches verified tokens)"
            )
        print_saturated(args.saturate_seconds, results, notes)


if __name__ == "__main__":
    main_guard(main)
