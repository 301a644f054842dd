"""API load benchmark: Locust (100 users, real JWT login, the three read endpoints, 1-3 s think
time), the same load from a plain asyncio client, and a saturated run against one cached read
endpoint and a bare endpoint of the same app, in one run against one app process.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/api_load.py [--users 100] [--seconds 60] [--saturate-seconds 10]
                                       [--database postgresql|sqlite] [--no-redis]

The app runs as `python -m dashboard run --demo` (seeded fleet, simulator writing every 3 s, so the
cache is invalidated as in real use) on PostgreSQL and Redis by default. The saturated run uses
`wrk` when installed (`apt-get install -y wrk`), else an asyncio client (which saturates itself
before the server; the script says which one it used).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.process import clean_env, free_port  # noqa: E402  (a bench helper shared with the tests)

READS = ["/api/v1/reconciliation/status", "/api/v1/positions", "/api/v1/guards/status"]
LOGINS = [f"trader{i}@demo.local" for i in range(1, 8)] + ["risk@demo.local", "risk2@demo.local"]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def recreate_pg(name: str) -> str:
    conn = await asyncpg.connect(database="test", **PG)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


class App:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = int(env["DASHBOARD_PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> App:
        seeded = subprocess.run(
            [sys.executable, "-m", "dashboard", "demo", "seed"],
            cwd=REPO,
            env=clean_env(**self.env),
            check=False,
        )
        if seeded.returncode:
            raise SystemExit("seeding failed")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard", "run", "--demo"],
                cwd=REPO,
                env=clean_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"app did not start; see {self.log}")

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)


def run_locust(app: App, users: int, seconds: int, workdir: Path) -> None:
    prefix = workdir / "locust"
    cpu0, t0 = app.cpu(), time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", str(REPO / "bench" / "locustfile.py"),
         "--headless",
         "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{seconds}s", "--host", app.base,
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
        cwd=REPO, env=clean_env(), check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    cores = (app.cpu() - cpu0) / (time.monotonic() - t0)
    print(f"\n## Locust: {users} users, {seconds} s, think time 1-3 s (server CPU {cores:.2f} cores)")
    print("| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with open(f"{prefix}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            print(
                f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} "
                f"| {float(row['Requests/s']):.1f} "
                f"| {row['50%']} | {row['95%']} | {row['99%']} | {float(row['Max Response Time']):.0f} |"
            )


async def tokens_for(app: App) -> list[str]:
    async with httpx.AsyncClient(base_url=app.base, timeout=10) as client:
        tokens = []
        for email in LOGINS:
            response = await client.post("/api/v1/auth/login", json={"email": email, "password": "demo"})
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
        return tokens


async def plain_client(app: App, users: int, seconds: int) -> None:
    """The same load shape from a bare asyncio client: Locust's own overhead left out."""
    tokens = await tokens_for(app)
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


def saturate(app: App, seconds: int) -> None:
    token = asyncio.run(tokens_for(app))[0]
    tool = (
        "wrk -t2 -c32"
        if shutil.which("wrk")
        else "asyncio client, 32 connections (install wrk for a fair figure)"
    )
    print(
        f"\n## Saturated, {seconds} s each, {tool}; "
        "server is one process on a 2-core box shared with the load tool"
    )
    print("| endpoint | req/s | server CPU cores | detail |")
    print("|---|---:|---:|---|")
    results = {}
    for name, path, headers in (
        ("cached read GET /api/v1/positions (JWT + auth state + cached bytes)", "/api/v1/positions",
         {"Authorization": f"Bearer {token}"}),
        ("bare GET /api/v1/ping", "/api/v1/ping", {}),
    ):  # fmt: skip
        cpu0, t0 = app.cpu(), time.monotonic()
        if shutil.which("wrk"):
            rate, detail = wrk(app.base + path, seconds, headers)
        else:
            rate, detail = asyncio.run(async_saturate(app.base + path, seconds, headers))
        cores = (app.cpu() - cpu0) / (time.monotonic() - t0)
        results[path] = rate
        print(f"| {name} | {rate:,.0f} | {cores:.2f} | {detail} |")
    ratio = results["/api/v1/positions"] / results["/api/v1/ping"]
    print(f"\ncached / bare = {ratio:.0%} (goal >= 60%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--saturate-seconds", type=int, default=10)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="api-load-"))
    if args.database == "postgresql":
        url = asyncio.run(recreate_pg("bench_api"))
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    env = {
        "DASHBOARD_DATABASE_URL": url,
        "DASHBOARD_JWT_SECRET": secrets.token_urlsafe(48),
        "DASHBOARD_PORT": str(free_port()),
        "DASHBOARD_CACHE_NAMESPACE": f"benchapi{os.getpid()}",
    }
    if not args.no_redis:
        env["DASHBOARD_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    print(f"database {args.database}, cache {'in-process' if args.no_redis else 'redis + in-process'}, "
          f"simulator writing every 3 s; logs in {workdir}")  # fmt: skip
    with App(env, workdir / "app.log") as app:
        run_locust(app, args.users, args.seconds, workdir)
        asyncio.run(plain_client(app, args.users, max(20, args.seconds // 2)))
        saturate(app, args.saturate_seconds)


if __name__ == "__main__":
    main()
