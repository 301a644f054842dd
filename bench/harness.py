"""What the app benchmarks share: a fresh database and cache namespace per run, the app (or any
server) as a subprocess, readiness, demo tokens, and the figures read from /proc, PostgreSQL and
`/health?detail=true`.

Not a benchmark itself. The scripts that use it (api_load.py, sessions.py, db_tx.py, abuse.py) are
run as `.venv/bin/python bench/<script>.py` from the repository root; each inserts the repository
into `sys.path` before importing this module.

Every run gets its own PostgreSQL database (`bench_<tag>_<pid>`, dropped afterwards), its own
Redis cache namespace (`DASHBOARD_CACHE_NAMESPACE`, whose keys are deleted afterwards), its own
port and JWT secret, and its own NiceGUI storage directory (`NICEGUI_STORAGE_PATH` in the work
directory: the refresh interval and dark mode each user picked are kept there, and a run must not
inherit them from the repository's `.nicegui/`), so runs never see each other's data, cache
entries, sessions or remembered choices. Teardown
runs on Ctrl-C too: the server is terminated (then killed) before the database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import asyncpg
import httpx
from redis import Redis

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.process import clean_env, free_port, run_cli  # noqa: E402  (helpers shared with the tests)

__all__ = [
    "ADMIN_LOGIN",
    "LOGINS",
    "PASSWORD",
    "PG",
    "PG_ADMIN_DB",
    "READS",
    "REDIS_URL",
    "REPO",
    "App",
    "BenchSetup",
    "Server",
    "admin_token",
    "arg_parser",
    "bench_setup",
    "cache_detail",
    "clean_env",
    "cpu_seconds",
    "dashboard_cli",
    "drop_pg",
    "free_port",
    "login",
    "main_guard",
    "percentile",
    "pg_transactions",
    "pg_url",
    "read_loop",
    "recreate_pg",
    "rss_mb",
    "tokens_for",
    "wait_ready",
]

# The three read endpoints a dashboard tab or a script polls.
READS = ["/api/v1/reconciliation/status", "/api/v1/positions", "/api/v1/guards/status"]
# The nine non-admin demo logins (7 traders, 2 risk users), and the admin.
LOGINS = [f"trader{i}@demo.local" for i in range(1, 8)] + ["risk@demo.local", "risk2@demo.local"]
ADMIN_LOGIN = "admin@demo.local"
PASSWORD = "demo"
# The PostgreSQL server (trust auth) and the admin database the benchmarks create theirs from.
PG: dict[str, Any] = {
    "host": os.environ.get("DASHBOARD_BENCH_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("DASHBOARD_BENCH_PG_PORT", "5432")),
    "user": os.environ.get("DASHBOARD_BENCH_PG_USER", "postgres"),
}
PG_ADMIN_DB = os.environ.get("DASHBOARD_BENCH_PG_DB", "test")
REDIS_URL = "redis://127.0.0.1:6379/0"

Database = Literal["postgresql", "sqlite"]


# --- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS), NaN when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")


# --- PostgreSQL ------------------------------------------------------------------------------


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


async def recreate_pg(name: str) -> str:
    """Drop (forcing out any session) and create database `name`; return its SQLAlchemy URL."""
    conn = await asyncpg.connect(database=PG_ADMIN_DB, **PG)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return pg_url(name)


async def drop_pg(name: str) -> None:
    conn = await asyncpg.connect(database=PG_ADMIN_DB, **PG)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def pg_transactions(database: str) -> int:
    """xact_commit + xact_rollback of `database` from pg_stat_database, read from the admin
    database on a new connection (so the reading itself is not counted, and no stats snapshot
    of an earlier read is reused). PostgreSQL 15 flushes a busy backend's counts at most once a
    second and an idle one's within ~10 s: callers compare snapshots taken with equal lag."""
    conn = await asyncpg.connect(database=PG_ADMIN_DB, **PG)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1", database
        )
        return int(row["n"]) if row is not None else 0
    finally:
        await conn.close()


# --- one run's database, cache namespace, port and secret ------------------------------------


@dataclass
class BenchSetup:
    env: dict[str, str]  # the DASHBOARD_* variables of the app
    workdir: Path  # logs and the SQLite file
    database: str | None  # the PostgreSQL database name (None on SQLite)
    namespace: str  # the Redis cache namespace
    redis_url: str | None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.env['DASHBOARD_PORT']}"


def purge_redis_namespace(url: str, namespace: str) -> int:
    """Delete every key of `namespace` (`<ns>:*`); return how many."""
    client = Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


@contextmanager
def bench_setup(
    tag: str,
    *,
    database: Database = "postgresql",
    redis: bool = True,
    workdir: Path | None = None,
    **extra: str,
) -> Iterator[BenchSetup]:
    """A fresh database (PostgreSQL `bench_<tag>_<pid>` or a SQLite file in the work directory),
    a unique cache namespace, a free port and a random JWT secret; dropped/purged on exit."""
    import tempfile

    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"bench-{tag}-"))
    pid = os.getpid()
    name = f"bench_{tag}_{pid}" if database == "postgresql" else None
    namespace = f"bench{tag}{pid}"[:32]
    url = asyncio.run(recreate_pg(name)) if name else f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    env = {
        "DASHBOARD_DATABASE_URL": url,
        "DASHBOARD_JWT_SECRET": secrets.token_urlsafe(48),
        "DASHBOARD_PORT": str(free_port()),
        "DASHBOARD_CACHE_NAMESPACE": namespace,
        "NICEGUI_STORAGE_PATH": str(workdir / "nicegui"),
        **extra,
    }
    if redis:
        env["DASHBOARD_REDIS_URL"] = REDIS_URL
    try:
        yield BenchSetup(env, workdir, name, namespace, REDIS_URL if redis else None)
    finally:
        with _no_interrupt():  # a second Ctrl-C must not leave the database behind
            if name:
                asyncio.run(drop_pg(name))
            if redis:
                purge_redis_namespace(REDIS_URL, namespace)


@contextmanager
def _no_interrupt() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def arg_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser whose `--help` shows the script's docstring (what it measures, how to run it) and
    every option's default."""
    return argparse.ArgumentParser(description=doc, formatter_class=_HelpFormatter)


def main_guard(main: Callable[[], None]) -> None:
    """Run a benchmark's `main`; Ctrl-C ends it with exit code 130 and one line instead of a
    traceback (servers are stopped and the database dropped on the way out)."""
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, database dropped, cache namespace purged", file=sys.stderr)
        raise SystemExit(130) from None


# --- servers as subprocesses -----------------------------------------------------------------


def wait_ready(base: str, timeout: float, *, proc: subprocess.Popen[bytes] | None = None) -> str:
    """Poll until the server at `base` is ready; return the path that said so.

    `GET /health/ready` is 200 when ready and 503 while not; a server without it (404) is ready
    when `GET /health` is 200. Raises RuntimeError when `proc` exits or `timeout` passes.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, timeout=2) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
            try:
                status = client.get("/health/ready").status_code
                if status == 200:
                    return "/health/ready"
                if status in (404, 405) and client.get("/health").status_code == 200:
                    return "/health"
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base} not ready after {timeout:.0f} s")
            time.sleep(0.3)


class Server:
    """A server subprocess (stdout and stderr to `log`), ready when `wait_ready` says so, and
    terminated (then killed) on exit, Ctrl-C included."""

    def __init__(
        self, args: Sequence[str], env: dict[str, str], base: str, log: Path, *, ready_timeout: float = 90
    ) -> None:
        self.args = list(args)
        self.env = env
        self.base = base
        self.log = log
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_path = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def start(self) -> None:
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                self.args, cwd=REPO, env=clean_env(**self.env), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self.ready_path = wait_ready(self.base, self.ready_timeout, proc=self.proc)
        except RuntimeError as error:
            self.stop()
            raise SystemExit(f"{error}; see {self.log}") from None
        except BaseException:  # Ctrl-C while waiting: __exit__ will not run, so stop here
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with _no_interrupt():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        return rss_mb(self.pid)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class App(Server):
    """`python -m dashboard run --demo` on `env`, seeded first with `python -m dashboard demo seed`
    (so readiness does not wait for the seed). `quiet_seed` sends the seed's output to
    `<log>.seed` instead of the terminal (for scripts that start several apps)."""

    def __init__(
        self, env: dict[str, str], log: Path, *, ready_timeout: float = 90, quiet_seed: bool = False
    ) -> None:
        super().__init__(
            [sys.executable, "-m", "dashboard", "run", "--demo"],
            env,
            f"http://127.0.0.1:{env['DASHBOARD_PORT']}",
            log,
            ready_timeout=ready_timeout,
        )
        self.quiet_seed = quiet_seed

    def start(self) -> None:
        seed = [sys.executable, "-m", "dashboard", "demo", "seed"]
        if self.quiet_seed:
            seed_log = self.log.with_name(self.log.name + ".seed")
            with open(seed_log, "w") as out:
                seeded = subprocess.run(
                    seed,
                    cwd=REPO,
                    env=clean_env(**self.env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if seeded.returncode:
                raise SystemExit(f"seeding failed; see {seed_log}")
        else:
            seeded = subprocess.run(seed, cwd=REPO, env=clean_env(**self.env), check=False)
            if seeded.returncode:
                raise SystemExit("seeding failed")
        super().start()

    def __enter__(self) -> App:
        self.start()
        return self


def dashboard_cli(env: dict[str, str], *args: str, input: str | None = None) -> str:
    """`python -m dashboard ARGS` on the run's settings; its stdout, SystemExit on failure."""
    done = run_cli(*args, input=input, **env)
    if done.returncode:
        raise SystemExit(f"python -m dashboard {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


# --- tokens and the app's own counters -------------------------------------------------------


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """An access token for `email` (POST /api/v1/auth/login; argon2 makes it ~0.1 s)."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def tokens_for(base: str, emails: Sequence[str] = LOGINS) -> list[str]:
    """One access token per login, in order."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return [await login(client, email) for email in emails]


async def admin_token(base: str) -> str:
    return (await tokens_for(base, [ADMIN_LOGIN]))[0]


async def cache_detail(base: str, token: str) -> dict[str, Any] | None:
    """The app's cache metrics (`GET /health?detail=true`, admin token), None if not available."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        try:
            response = await client.get(
                "/health", params={"detail": "true"}, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError:
            return None
    if response.status_code != 200:
        return None
    detail = response.json().get("cache_detail")
    return detail if isinstance(detail, dict) else None


async def read_loop(
    base: str,
    tokens: Sequence[str],
    clients: int,
    think: tuple[float, float],
    phase: Callable[[], str | None],
    record: Callable[[str, int, float], None],
) -> None:
    """`clients` API readers (tokens dealt round-robin), each GETting one of READS at random, then
    thinking uniform(*think) seconds, while `phase()` is not None; `record(phase, status, ms)`
    gets each response (status 0: transport error or 30 s timeout), the phase being the one its
    request started in.

    aiohttp, not httpx: with 50 concurrent connections httpx costs ~7.6 ms of client CPU per
    request on this box against aiohttp's ~0.2 ms, and a load tool saturating its own core would
    put its queueing into the server's figures."""
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, timeout=timeout, connector=connector) as session:

        async def reader(index: int) -> None:
            rng = random.Random(index)
            headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
            while (current := phase()) is not None:
                started = time.perf_counter()
                try:
                    async with session.get(rng.choice(READS), headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                record(current, status, (time.perf_counter() - started) * 1000)
                await asyncio.sleep(rng.uniform(*think))

        await asyncio.gather(*(reader(i) for i in range(clients)))
