"""Telling a database outage from a bug, and reporting an outage once, not once per request.

An outage (refused, starting up, shutting down, timed out, pool exhausted, connection lost) is
something the callers answer with 503 or stale data; anything else is a bug and stays loud. The
monitor turns thousands of refused operations into two log lines: one when the outage starts and
one, with the count of what was refused, when the database answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import exc as sa_exc

log = logging.getLogger("dashboard.db")

# SQLSTATEs that mean "the server is not there for us right now" (class 08: connection
# exceptions; 57P01-03: admin/crash shutdown and "the database system is starting up";
# 53300: too many connections; 53400: configuration limit exceeded).
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "53400"})
_CLOSED_MARKERS = ("connection is closed", "connection was closed", "underlying connection is closed")


class DatabaseUnavailable(Exception):
    """The database cannot be reached now. `retryable` means a retry on a fresh connection may
    succeed at once (a pooled connection died with a restarted server)."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def _chain(error: BaseException) -> list[BaseException]:
    """The error, the driver error it wraps, and their causes, each once."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending.extend([getattr(current, "orig", None), current.__cause__, current.__context__])
    return seen


def is_outage(error: BaseException) -> bool:
    """True when `error` says the database is unreachable, not that our statement was wrong."""
    for item in _chain(error):
        if isinstance(item, DatabaseUnavailable | sa_exc.TimeoutError):  # pool exhausted
            return True
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return True
        if isinstance(item, OSError | TimeoutError):  # refused, reset, unreachable, timed out
            return True
        state = getattr(item, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _OUTAGE_STATES):
            return True
        if type(item).__name__ in ("InterfaceError", "ConnectionDoesNotExistError") and any(
            marker in str(item) for marker in _CLOSED_MARKERS
        ):
            return True
    return False


def is_retryable(error: BaseException) -> bool:
    """A pooled connection that died (server restarted): a fresh connection may work at once."""
    return any(isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated for item in _chain(error))


def describe(error: BaseException) -> str:
    """`Type: first line of the message` of the innermost telling error, for one log line (a
    timeout's inner `CancelledError` says nothing: the timeout around it is the news)."""
    chain = [item for item in _chain(error) if not isinstance(item, asyncio.CancelledError)] or [error]
    innermost = chain[-1]
    text = str(innermost).strip().splitlines()[0] if str(innermost).strip() else ""
    return f"{type(innermost).__name__}: {text}"[:300] if text else type(innermost).__name__


class OutageMonitor:
    """The state of the database as this process sees it, logged at the edges only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.down_since: float | None = None
        self.refused = 0
        self.outages = 0
        self.last_error: str | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    @property
    def down_for_s(self) -> float:
        return 0.0 if self.down_since is None else self._clock() - self.down_since

    def failed(self, error: BaseException) -> DatabaseUnavailable:
        """Record one refused operation; the first of an outage is logged (without a traceback)."""
        self.last_error = describe(error)
        if self.down_since is None:
            self.down_since = self._clock()
            self.refused = 0
            self.outages += 1
            log.error("database unavailable (%s); answering 503 and serving cached data", self.last_error)
        self.refused += 1
        return DatabaseUnavailable("database unavailable", retryable=is_retryable(error))

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        lasted = self._clock() - self.down_since
        log.warning(
            "database reachable again after %.1f s; %d operations were refused meanwhile",
            lasted,
            self.refused,
        )
        self.down_since = None
