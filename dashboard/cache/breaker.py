"""A circuit breaker for Redis: after a failure, stop asking until a probe says it is back.

Why: with Redis down every request would otherwise pay the socket timeout; with the breaker open,
reads go straight to the in-process tier and the database. Readers never act as the trial call:
a background probe (see `RedisTier`) asks Redis every fraction of a second and closes the breaker,
so recovery is noticed within about a second and nobody's request pays for the probing. The outage
is logged once when the breaker opens and once when it closes, never per request.

A dropped connection is not an outage: redis-py retries it once on a fresh connection before any
error reaches the breaker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger("dashboard.cache")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


class CircuitBreaker:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._opened_at: float | None = None
        self.outages = 0

    @property
    def state(self) -> BreakerState:
        return BreakerState.CLOSED if self._opened_at is None else BreakerState.OPEN

    @property
    def open_for_s(self) -> float:
        """How long the current outage has lasted (0 when closed)."""
        return 0.0 if self._opened_at is None else self._clock() - self._opened_at

    def allow(self) -> bool:
        """May a call go to Redis now?"""
        return self._opened_at is None

    def failure(self, error: BaseException) -> bool:
        """Record a failed call; True when this opens the breaker (the caller starts probing)."""
        if self._opened_at is not None:
            return False
        self._opened_at = self._clock()
        self.outages += 1
        log.warning(
            "redis unavailable (%s: %s); serving from the in-process tier and the database",
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
        )
        return True

    def close(self) -> bool:
        """A probe succeeded and the caller has resynchronised; True when this ends an outage."""
        if self._opened_at is None:
            return False
        lasted = self._clock() - self._opened_at
        self._opened_at = None
        log.warning("redis is reachable again after %.1f s; shared cache tier restored", lasted)
        return True
