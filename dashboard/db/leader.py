"""One leader per cluster for background work (the demo simulator; later retention and alert
delivery): a PostgreSQL session-level advisory lock held on a connection of its own.

Why a lock on a dedicated connection: PostgreSQL releases it when that session ends, and a process
that dies (kill -9, a crashed machine) ends its sessions when the server sees the socket close or
time out, so nobody has to expire a lease. The other processes try for the lock every `retry_s`;
the leader checks its connection as often and stops its job when it is gone (the server may have
released the lock), and a new leader waits out that check before it starts, so the job never runs
in two processes at once. On SQLite there is one process by
construction (a file database is not shared by a cluster): the process leads and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

#: The advisory lock id of the dashboard's leader (any 64-bit number unique to this application).
LEADER_LOCK_KEY = 0x7E1E_B07D_A5B0_A4D
RETRY_S = 2.0
#: Periods a new leader waits before starting its job (see `run`): a takeover takes at most
#: RETRY_S * (1 + HANDOVER_PERIODS) = 7 s after the old leader's session ends.
HANDOVER_PERIODS = 2.5

Job = Callable[[], Coroutine[Any, Any, None]]


class Leadership:
    def __init__(
        self,
        database_url: str,
        *,
        key: int = LEADER_LOCK_KEY,
        retry_s: float = RETRY_S,
        on_change: Callable[[bool], object] = lambda leading: None,
    ) -> None:
        url = make_url(database_url)
        self.single_process = url.get_backend_name() == "sqlite"
        self.dsn = None if self.single_process else url.set(drivername="postgresql").render_as_string(False)
        self.key = key
        self.retry_s = retry_s
        self.on_change = on_change
        self.leading = False
        self._connection: Any = None
        self._task: asyncio.Task[Any] | None = None

    async def run(self, job: Job) -> None:
        """Forever: wait to lead, run `job` while leading, start over when leadership is lost.
        Ends only when cancelled (`resign`)."""
        self._task = asyncio.current_task()
        if self.single_process:
            log.warning("SQLite: a single process, which leads background work")
            self._set(True)
            await job()
            return
        while True:
            await self._acquire()
            # A leader that lost its session notices within two periods (a check every period,
            # each bounded by a period) and stops its job: start ours only after that, so the job
            # never runs twice, even when the old leader is alive but cut off.
            await asyncio.sleep(HANDOVER_PERIODS * self.retry_s)
            log.warning("this process leads background work")
            self._set(True)
            task: asyncio.Task[None] = asyncio.create_task(job(), name="leader-job")
            try:
                await self._hold(task)
            finally:
                self._set(False)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await self._drop()
            log.warning("leadership of background work lost; trying again")

    async def _acquire(self) -> None:
        """Until the lock is ours: a database outage or another leader means wait and retry."""
        while True:
            try:
                if self._connection is None:
                    # Every statement on it is bounded (`command_timeout`): a lock query that never
                    # answers must not stall leadership, it counts as a lost connection.
                    self._connection = await asyncpg.connect(
                        self.dsn, timeout=self.retry_s * 2, command_timeout=self.retry_s * 2
                    )
                if await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                    return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                await self._drop()
            await asyncio.sleep(self.retry_s)

    async def _hold(self, task: asyncio.Task[None]) -> None:
        """While the job runs, check that the lock's session is alive."""
        while not task.done():
            await asyncio.wait({task}, timeout=self.retry_s)
            if task.done():
                break
            try:
                await asyncio.wait_for(self._connection.fetchval("SELECT 1"), timeout=self.retry_s)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                return  # the session (and with it the lock) may be gone: stop leading

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=self.retry_s)

    def _set(self, leading: bool) -> None:
        self.leading = leading
        self.on_change(leading)

    async def resign(self) -> None:
        """Stop the job and give the lock up for good (a graceful stop): another process takes over
        at its next try instead of waiting for this one's session to end."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._drop()
