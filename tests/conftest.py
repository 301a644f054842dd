"""Shared fixtures: a throwaway database per test, on SQLite and on the real PostgreSQL.

PostgreSQL databases are cloned from a migrated template (CREATE DATABASE ... TEMPLATE), which is
far cheaper than migrating per test. In CI an unreachable PostgreSQL fails the run; locally it
skips the PostgreSQL half with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nicegui.testing.general_fixtures import get_path_to_main_file
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation
from redis.asyncio import Redis

from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.db.migrate import upgrade
from dashboard.db.session import Database

# tests.throwaway: private PostgreSQL/Redis servers for tests that stop, freeze or kill them.
pytest_plugins = ["nicegui.testing.user_plugin", "tests.throwaway"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_HOST = os.environ.get("DASHBOARD_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DASHBOARD_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DASHBOARD_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("DASHBOARD_TEST_PG_DB", "test")
REDIS_URL = os.environ.get("DASHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_counter = itertools.count()


@pytest.fixture
async def user(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> AsyncIterator[User]:
    """NiceGUI's `user` fixture, with its check for ERROR logs made once the app has shut down.
    NiceGUI's own fails inside the app's lifespan, whose shutdown then never runs (there is no
    try/finally around its yield), so every later page test on that worker failed to start
    ("NiceGUI has already been started"): one error was reported as 27 in CI."""
    async with user_simulation(main_file=get_path_to_main_file(request)) as simulated:
        yield simulated
    if any(record.levelname == "ERROR" for record in caplog.get_records("call")):
        pytest.fail("There were unexpected ERROR logs.", pytrace=False)


def service_missing(what: str, error: BaseException) -> None:
    """A missing service fails the run in CI (it must not pass by skipping) and skips locally."""
    message = f"{what} is not reachable: {error!r}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin() -> asyncpg.Connection:
    return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | BaseException]:
    """Name of a migrated template database, or the error that made PostgreSQL unusable."""
    name = f"tbt_{os.getpid()}_tpl"

    async def create() -> None:
        conn = await _pg_admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await _migrate(pg_url(name))

    async def drop() -> None:
        conn = await _pg_admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        yield error
        return
    yield name
    asyncio.run(drop())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
async def pg_database(pg_template: str | BaseException) -> AsyncIterator[Database]:
    if isinstance(pg_template, BaseException):
        service_missing(f"PostgreSQL at {PG_HOST}:{PG_PORT}", pg_template)
    name = f"tbt_{os.getpid()}_{next(_counter)}"
    conn = await _pg_admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    finally:
        await conn.close()
    db = Database(pg_url(name))
    try:
        yield db
    finally:
        await db.dispose()
        conn = await _pg_admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
async def sqlite_database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    """Every query and ingestion test runs once per backend, each on its own throwaway database."""
    fixture = "sqlite_database" if request.param == "sqlite" else "pg_database"
    return request.getfixturevalue(fixture)


# ---- Redis and cache fixtures (shared by the cache, API and app tests)

_namespaces = itertools.count()


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as error:
        service_missing(f"Redis at {REDIS_URL}", error)
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def namespace(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are removed afterwards (SCAN: maintenance only)."""
    name = f"tbt{os.getpid()}n{next(_namespaces)}"
    yield name
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{name}:*", count=500)]
        if keys:
            await client.unlink(*keys)
    finally:
        await client.aclose()


CacheFactory = Callable[..., QueryCache]


@pytest.fixture
async def make_cache() -> AsyncIterator[CacheFactory]:
    caches: list[QueryCache] = []

    def build(**config: Any) -> QueryCache:
        cache = QueryCache(CacheConfig(**config))
        caches.append(cache)
        return cache

    yield build
    for cache in caches:
        await cache.close()


# ---- markers by need: `make test-fast` runs what needs no PostgreSQL, Redis or browser

_NEEDS = {
    "pg_database": "postgres",
    "pg_template": "postgres",
    "throwaway_postgres": "postgres",
    "redis_url": "redis",
    "namespace": "redis",
    "throwaway_redis": "redis",
}


#: Modules that each start apps, browsers or clusters (tens of seconds to minutes apiece). They run
#: first: xdist hands out modules in collection order, and these at the end left one worker alone
#: with them for the last third of the run while the other had finished.
SLOW_FIRST = ("tests/e2e/", "tests/cluster/", "tests/test_", "tests/alerts/test_alerts_process.py")


def _slow_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return 0 if path.startswith(SLOW_FIRST) else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the services it needs, from its fixtures (and the backend parameter),
    so that `-m "not postgres and not redis and not browser"` selects the quick, local ones; and
    put the slow modules first (a stable sort: each module's tests stay together, in order)."""
    items.sort(key=_slow_first)
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        needs = {mark for fixture, mark in _NEEDS.items() if fixture in names}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgresql":
            needs.add("postgres")
        for mark in needs:
            item.add_marker(getattr(pytest.mark, mark))
