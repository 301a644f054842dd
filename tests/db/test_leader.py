"""One leader for background work: a PostgreSQL advisory lock on a connection of its own."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg
import pytest

from dashboard.db.leader import Leadership
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, pg_url

pytestmark = pytest.mark.postgres
RETRY_S = 0.1


class Worker:
    """A process's job: counts its ticks while it runs."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)


async def wait_until(condition: object, seconds: float = 5.0) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():  # type: ignore[operator]
        if loop.time() - started > seconds:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
    return loop.time() - started


async def test_one_leads_and_another_takes_over_when_its_session_dies() -> None:
    key = random.getrandbits(62)  # this test's own lock: never the app's
    url = pg_url(PG_ADMIN_DB)
    changes: list[tuple[str, bool]] = []
    a, b = (
        Leadership(url, key=key, retry_s=RETRY_S, on_change=lambda v, n=name: changes.append((n, v)))
        for name in ("a", "b")
    )
    work = {"a": Worker(), "b": Worker()}
    runs = [asyncio.create_task(a.run(work["a"].run))]
    await wait_until(lambda: a.leading)
    runs.append(asyncio.create_task(b.run(work["b"].run)))
    await asyncio.sleep(10 * RETRY_S)  # b tries ten times meanwhile
    assert a.leading and not b.leading and work["b"].ticks == 0
    # a's process dies: the server ends its session (here: terminated from outside).
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        pid = a._connection.get_server_pid()
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    took = await wait_until(lambda: b.leading)
    assert took < 10 * RETRY_S + 2  # the bound is 10 s; here within a few retries
    await wait_until(lambda: not a.leading)
    a_ticks = work["a"].ticks
    await asyncio.sleep(5 * RETRY_S)
    assert work["a"].ticks == a_ticks and work["b"].ticks > 0  # a's job stopped, b's runs
    # Never two leaders: every change was a hand-over.
    leading: set[str] = set()
    for name, value in changes:
        (leading.add if value else leading.discard)(name)
        assert len(leading) <= 1, changes
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    await a.close()
    await b.close()


async def test_a_database_that_is_down_is_waited_for() -> None:
    leadership = Leadership("postgresql+asyncpg://nobody@127.0.0.1:1/none", retry_s=RETRY_S)
    run = asyncio.create_task(leadership.run(Worker().run))
    await asyncio.sleep(5 * RETRY_S)
    assert not run.done() and not leadership.leading  # still trying, no traceback
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)


async def test_sqlite_is_one_process_that_leads(tmp_path: Path) -> None:
    leadership = Leadership(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    worker = Worker()
    run = asyncio.create_task(leadership.run(worker.run))
    await wait_until(lambda: worker.ticks > 0)
    assert leadership.single_process and leadership.leading
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
