"""A write cancelled while its transaction ends (the app stopping, leadership lost) still ends
cleanly: the commit is whole, the connection goes back to the pool, and nothing is logged as an
error. CI once failed on SQLAlchemy's "Exception during reset or similar" traceback, logged when
a SIGTERM's cancellation landed in the pool's reset of a connection an alert delivery returned."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import event, text

from dashboard.db.session import Database


async def _probe_table(database: Database) -> None:
    async with database.session() as session:
        await session.execute(text("CREATE TABLE cancel_probe (id integer PRIMARY KEY)"))


@pytest.mark.parametrize("moment", ["commit", "reset"])
async def test_a_write_cancelled_as_its_transaction_ends_is_whole_and_logs_no_error(
    database: Database, moment: str, caplog: pytest.LogCaptureFixture
) -> None:
    await _probe_table(database)
    loop = asyncio.get_running_loop()
    writer: list[asyncio.Task[None]] = []
    armed = False

    def cancel_the_writer(*_: Any) -> None:
        """Runs just before the commit (or the pool's reset) awaits the driver: the writer's
        cancellation is delivered while that await is under way."""
        nonlocal armed
        if armed:
            armed = False
            loop.call_soon(writer[0].cancel)

    target: Any = database.engine.sync_engine if moment == "commit" else database.engine.sync_engine.pool
    event.listen(target, moment, cancel_the_writer)

    async def write() -> None:
        nonlocal armed
        async with database.session() as session:
            await session.execute(text("INSERT INTO cancel_probe (id) VALUES (1)"))
            armed = True

    with caplog.at_level(logging.WARNING, logger="sqlalchemy"):
        writer.append(asyncio.create_task(write()))
        with pytest.raises(asyncio.CancelledError):
            await writer[0]
    assert not armed  # the cancellation was delivered at that moment
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with database.read_session() as session:
        assert (await session.execute(text("SELECT count(*) FROM cancel_probe"))).scalar_one() == 1
