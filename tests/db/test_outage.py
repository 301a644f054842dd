"""A database outage, told apart from a bug, on a private PostgreSQL the test stops and freezes:
refused, frozen, pool exhausted and "starting up" are `DatabaseUnavailable`; a bad statement stays
what it is; an outage is logged once when it starts and once, with a count, when it ends; and the
first query after a restart succeeds although every pooled connection died with the old server."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from dashboard.db.limits import PoolLimits
from dashboard.db.outage import DatabaseUnavailable, OutageMonitor, is_outage
from dashboard.db.session import Database
from tests.throwaway import ThrowawayPostgres

pytestmark = pytest.mark.postgres

FAST = PoolLimits(size=2, overflow=0, checkout_timeout_s=0.3, connect_timeout_s=0.5, statement_timeout_s=5)


async def select_one(db: Database) -> int:
    async with db.read_session() as session:
        return int((await session.execute(text("SELECT 1"))).scalar_one())


async def test_stopped_server_is_unavailable_logged_once_and_recovery_counts_what_was_refused(
    throwaway_postgres: ThrowawayPostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database(throwaway_postgres.url(), limits=FAST)
    try:
        assert await select_one(db) == 1
        throwaway_postgres.stop()
        with caplog.at_level(logging.WARNING, logger="dashboard.db"):
            for _ in range(25):
                with pytest.raises(DatabaseUnavailable):
                    await select_one(db)
            with pytest.raises(DatabaseUnavailable):  # writes too, nothing half-done
                async with db.session() as session:
                    await session.execute(text("SELECT 1"))
            throwaway_postgres.start()
            assert await select_one(db) == 1  # the very first query after the restart
        messages = [r.getMessage() for r in caplog.records if r.name == "dashboard.db"]
        assert sum("database unavailable" in m for m in messages) == 1
        assert [m for m in messages if "reachable again" in m] == [
            next(m for m in messages if "reachable again" in m)
        ]
        assert "26 operations were refused" in next(m for m in messages if "reachable again" in m)
        assert not any(r.exc_info for r in caplog.records)  # no tracebacks
    finally:
        await db.dispose()


async def test_pooled_connections_of_a_restarted_server_are_replaced_without_an_error(
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    db = Database(throwaway_postgres.url(), limits=FAST)
    try:
        await asyncio.gather(select_one(db), select_one(db))  # two pooled connections
        throwaway_postgres.restart()
        await asyncio.sleep(0.2)  # the old server's goodbye reaches the idle connections
        assert await asyncio.gather(select_one(db), select_one(db)) == [1, 1]
        assert not db.outage.down and db.outage.outages == 0
    finally:
        await db.dispose()


async def test_a_frozen_server_is_unavailable_within_the_connect_timeout(
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    db = Database(throwaway_postgres.url(), limits=FAST)
    try:
        throwaway_postgres.freeze()
        with pytest.raises(DatabaseUnavailable):
            await select_one(db)
    finally:
        throwaway_postgres.thaw()
        await db.dispose()


async def test_an_exhausted_pool_is_unavailable_not_a_hang(
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    db = Database(throwaway_postgres.url(), limits=PoolLimits(size=1, overflow=0, checkout_timeout_s=0.2))
    release = asyncio.Event()

    async def hold() -> None:
        async with db.read_session() as session:
            await session.execute(text("SELECT 1"))
            await release.wait()

    holder = asyncio.create_task(hold())
    try:
        await asyncio.sleep(0.1)
        with pytest.raises(DatabaseUnavailable):
            await select_one(db)
    finally:
        release.set()
        await holder
        await db.dispose()


async def test_a_wrong_statement_is_not_an_outage(throwaway_postgres: ThrowawayPostgres) -> None:
    db = Database(throwaway_postgres.url(), limits=FAST)
    try:
        with pytest.raises(sa_exc.ProgrammingError):
            async with db.read_session() as session:
                await session.execute(text("SELECT * FROM no_such_table"))
        assert not db.outage.down
    finally:
        await db.dispose()


def test_classification_of_driver_errors() -> None:
    starting = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    shutting = asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")
    too_many = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    wrapped = sa_exc.DBAPIError("SELECT 1", {}, starting)
    for error in (starting, shutting, too_many, wrapped, ConnectionRefusedError(), TimeoutError()):
        assert is_outage(error), error
    for error in (asyncpg.exceptions.UndefinedTableError("no"), ValueError("x"), KeyError("k")):
        assert not is_outage(error), error


def test_the_monitor_logs_edges_only(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    monitor = OutageMonitor(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="dashboard.db"):
        monitor.succeeded()
        for _ in range(3):
            assert isinstance(monitor.failed(ConnectionRefusedError("refused")), DatabaseUnavailable)
        now[0] += 75
        assert monitor.down and monitor.down_for_s == 75
        monitor.succeeded()
        monitor.succeeded()
    assert [r.getMessage().split(" (")[0].split(" after")[0] for r in caplog.records] == [
        "database unavailable",
        "database reachable again",
    ]
    assert "75.0 s; 3 operations" in caplog.records[1].getMessage()
