"""The one write path: run a write service, then make what it touched visible everywhere.

Every write (ingestion, acknowledgements, user administration, logout) goes through a `Writer`,
so no caller can commit a write and forget to invalidate the cached reads it changed. A batch
(`async with writer.batch() as write:`) defers the invalidations to its end and sends them once:
the demo simulator's tick makes a dozen writes, and each invalidating the all-seeing scope on its
own reloaded the risk users' views a dozen times a tick.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from dashboard.cache.cache import QueryCache
from dashboard.db.outage import DatabaseUnavailable
from dashboard.db.session import Database
from dashboard.services.errors import ServiceError
from dashboard.services.touched import Touched


class Written(Protocol):
    """What every write service returns: at least what it touched."""

    @property
    def touched(self) -> Touched: ...


P = ParamSpec("P")
W = TypeVar("W", bound=Written)


class Writer:
    def __init__(
        self,
        db: Database,
        cache: QueryCache,
        on_write: Callable[[str, str], object] = lambda op, result: None,
    ) -> None:
        self.db = db
        self.cache = cache
        self._deferred: list[Touched] | None = None
        # Told each write's operation and outcome ("ok" or the error's kind): metrics.
        self.on_write = on_write

    async def __call__(
        self,
        operation: Callable[Concatenate[Database, P], Awaitable[W]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> W:
        """`operation(db, *args, **kwargs)`, committed, then its invalidation sent (or deferred to
        the end of the batch this writer is in)."""
        name = getattr(operation, "__name__", "write")
        try:
            result = await operation(self.db, *args, **kwargs)
        except Exception as error:
            self.on_write(name, write_outcome(error))
            raise
        self.on_write(name, "ok")
        await self.touched(result.touched)
        return result

    async def touched(self, touched: Touched) -> None:
        """Invalidate what a committed write touched (for writes made outside `__call__`)."""
        if not touched:
            return
        if self._deferred is not None:
            self._deferred.append(touched)
        else:
            await self.cache.invalidate(touched)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Writer]:
        """A writer whose invalidations are sent once, when the block ends (also when it fails:
        what committed must become visible)."""
        batch = Writer(self.db, self.cache, self.on_write)
        batch._deferred = []
        try:
            yield batch
        finally:
            if batch._deferred:
                await self.cache.invalidate(*batch._deferred)


def write_outcome(error: BaseException) -> str:
    """A bounded label for a failed write: refused input, database down, or a bug."""
    if isinstance(error, DatabaseUnavailable):
        return "unavailable"
    if isinstance(error, ServiceError):
        return "refused"
    return "error"
