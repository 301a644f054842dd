"""One leader for background work: a PostgreSQL advisory lock on a connection of its own."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from dashboard.db.leader import Leadership
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, pg_url

pytestmark = pytest.mark.postgres
RETRY_S = 0.25


class Worker:
    """A process's job: counts its ticks while it runs."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)


class Cluster:
    """Two "processes" competing for one lock (this test's own key: never the app's)."""

    def __init__(self) -> None:
        key = random.getrandbits(62)
        self.changes: list[tuple[str, bool]] = []
        self.leaders = {
            name: Leadership(pg_url(PG_ADMIN_DB), key=key, retry_s=RETRY_S, on_change=self._changed(name))
            for name in ("a", "b")
        }
        self.work = {name: Worker() for name in self.leaders}
        self.runs: dict[str, asyncio.Task[None]] = {}

    def _changed(self, name: str) -> Callable[[bool], None]:
        return lambda leading: self.changes.append((name, leading))

    def start(self, name: str) -> None:
        self.runs[name] = asyncio.create_task(self.leaders[name].run(self.work[name].run))

    async def cut(self, name: str) -> None:
        """The server ends this process's lock session (as when the process dies or is cut off)."""
        where = {"host": PG_HOST, "port": PG_PORT, "user": PG_USER, "database": PG_ADMIN_DB}
        admin = await asyncpg.connect(**where, timeout=5)
        try:
            pid = self.leaders[name]._connection.get_server_pid()
            await admin.execute("SELECT pg_terminate_backend($1)", pid, timeout=5)
        finally:
            await admin.close()

    def never_two_leaders(self) -> None:
        leading: set[str] = set()
        for name, value in self.changes:
            (leading.add if value else leading.discard)(name)
            assert len(leading) <= 1, self.changes

    async def stop(self) -> None:
        for run in self.runs.values():
            run.cancel()
        await asyncio.wait_for(asyncio.gather(*self.runs.values(), return_exceptions=True), timeout=10)
        for leadership in self.leaders.values():
            await leadership.resign()


async def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        if loop.time() - started > seconds:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
    return loop.time() - started


@asynccontextmanager
async def a_leads_b_waits(tries: int) -> AsyncIterator[Cluster]:
    """a leads and b has tried `tries` times; everything is stopped afterwards, within a minute."""
    cluster = Cluster()
    try:
        async with asyncio.timeout(60):
            cluster.start("a")
            await wait_until(lambda: cluster.leaders["a"].leading)
            cluster.start("b")
            await asyncio.sleep(tries * RETRY_S)
            yield cluster
    finally:
        await cluster.stop()


async def test_when_the_leader_dies_another_takes_over_and_the_job_never_runs_twice() -> None:
    async with a_leads_b_waits(tries=4) as cluster:
        a, b = cluster.leaders["a"], cluster.leaders["b"]
        assert a.leading and not b.leading and cluster.work["b"].ticks == 0
        # a dies: its code stops and the server ends its session.
        await cluster.cut("a")
        cluster.runs["a"].cancel()
        took = await wait_until(lambda: b.leading)
        assert took < 10  # the bound; the design's is (1 + 2.5) periods
        ticks = cluster.work["b"].ticks
        await wait_until(lambda: cluster.work["b"].ticks > ticks)  # b's job runs
        cluster.never_two_leaders()


async def test_a_leader_cut_off_but_alive_stops_its_job_before_anyone_starts_theirs() -> None:
    async with a_leads_b_waits(tries=2) as cluster:
        a, b = cluster.leaders["a"], cluster.leaders["b"]
        await cluster.cut("a")  # a lives on and competes again
        await wait_until(lambda: not a.leading)
        stopped_at = cluster.work["a"].ticks
        await wait_until(lambda: a.leading or b.leading)  # one of them leads again
        cluster.never_two_leaders()
        if b.leading:
            assert cluster.work["a"].ticks == stopped_at  # a's job stayed stopped


async def test_a_leader_that_resigns_stops_its_job_and_another_takes_over_without_waiting_for_a_timeout() -> (
    None
):
    async with a_leads_b_waits(tries=2) as cluster:
        a, b = cluster.leaders["a"], cluster.leaders["b"]
        await a.resign()  # a graceful stop: nobody ends a's session from outside
        assert not a.leading and cluster.runs["a"].done()
        stopped_at = cluster.work["a"].ticks
        took = await wait_until(lambda: b.leading)
        assert took < 10
        await asyncio.sleep(4 * RETRY_S)
        assert not a.leading and cluster.work["a"].ticks == stopped_at  # a stopped trying for good
        cluster.never_two_leaders()


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
