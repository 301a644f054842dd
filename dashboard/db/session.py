"""The one way to get a database session: `Database.session()` (writes) or `read_session()`.

Both turn a database outage into `DatabaseUnavailable` (the API answers 503, pages show stale
data) and report it through one `OutageMonitor`, so an outage is two log lines, not a traceback
per request. Anything else (a bug, a constraint) propagates unchanged.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from dashboard.db.limits import PoolLimits
from dashboard.db.outage import DatabaseUnavailable, OutageMonitor, is_outage


class Database:
    """Owns the engine, the session factory and the outage monitor of one database URL."""

    def __init__(self, url: str, *, echo: bool = False, limits: PoolLimits | None = None) -> None:
        self.url = url
        self.outage = OutageMonitor()
        self.engine: AsyncEngine = _make_engine(url, echo=echo, limits=limits or PoolLimits())
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._last_ping: tuple[float, bool] = (-1e9, False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on any error.

        Begun through the factory, not `session.begin()`: its end (commit or rollback, and the
        connection's return to the pool) then runs to completion even when the task is cancelled
        meanwhile (a stopping app, a lost leadership). Ended by hand, a cancellation could land in
        the middle of the pool's reset: SQLAlchemy logs that as an error with a traceback and
        throws the connection away.
        """
        try:
            async with self._sessions.begin() as session:
                yield session
        except Exception as error:
            self._raise_if_outage(error)
            raise
        self.outage.succeeded()

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads: no commit, closed (and rolled back) at the end."""
        try:
            async with self._sessions() as session:
                yield session
        except Exception as error:
            self._raise_if_outage(error)
            raise
        self.outage.succeeded()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A plain connection (health checks, migrations), with the same outage handling."""
        try:
            async with self.engine.connect() as connection:
                yield connection
        except Exception as error:
            self._raise_if_outage(error)
            raise
        self.outage.succeeded()

    async def ping(self, max_age_s: float = 0.0) -> bool:
        """True when the database answers a trivial query (readiness and health checks).

        `max_age_s`: an answer that recent will do. A proxy checks every process's readiness twice
        a second; each fresh ping is a transaction, and they were half of an idle cluster's
        database transactions (bench/cluster.py).
        """
        checked_at, answered = self._last_ping
        if max_age_s > 0 and time.monotonic() - checked_at < max_age_s:
            return answered
        try:
            async with self.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except DatabaseUnavailable:
            answered = False
        else:
            answered = True
        self._last_ping = (time.monotonic(), answered)
        return answered

    def _raise_if_outage(self, error: Exception) -> None:
        if not isinstance(error, DatabaseUnavailable) and is_outage(error):
            raise self.outage.failed(error) from error

    async def dispose(self) -> None:
        await self.engine.dispose()


def _make_engine(url: str, *, echo: bool, limits: PoolLimits) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.update(
        pool_size=limits.size,
        max_overflow=limits.overflow,
        pool_timeout=limits.checkout_timeout_s,
        poolclass=TimedPool,
        connect_args={"timeout": limits.connect_timeout_s, "command_timeout": limits.statement_timeout_s},
    )
    engine = create_async_engine(url, **kwargs)
    # Instead of `pool_pre_ping` (a round trip and a counted transaction on every checkout):
    # asyncpg knows without asking when the server closed a connection (a restart), so such a
    # connection is swapped for a fresh one at checkout; readers also retry once on a connection
    # that died in use (see the cache's loader).
    event.listen(engine.sync_engine, "checkout", _discard_closed)
    return engine


class TimedPool(AsyncAdaptedQueuePool):
    """The queue pool, counting checkouts and the time spent getting them (`/metrics`: a pool too
    small for the load shows as wait before it shows as 503s)."""

    checkouts: int = 0
    wait_s: float = 0.0

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            self.checkouts += 1
            self.wait_s += time.perf_counter() - started


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    driver = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise sa_exc.DisconnectionError("connection closed by the server")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets the simulator write while pages read; foreign keys are off by default in SQLite."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


__all__ = ["Database", "DatabaseUnavailable", "PoolLimits"]
