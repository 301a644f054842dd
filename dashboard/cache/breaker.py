"""A circuit breaker for Redis: after a failure, stop asking for a while, then try once.

Why: with Redis down every request would otherwise pay the socket timeout; with the breaker open,
reads go straight to the in-process tier and the database. The outage is logged once when the
breaker opens and once when Redis answers again, not per request.
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
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 1,
        cooldown_s: float = 1.0,
        max_cooldown_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.base_cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self._clock = clock
        self._failures = 0
        self._cooldown_s = cooldown_s
        self._opened_at: float | None = None
        self._trial_running = False
        self.outages = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go to Redis now? In half-open state exactly one trial call is let through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def success(self) -> bool:
        """Record a successful call; True when this ends an outage (the caller resynchronises)."""
        recovered = self._opened_at is not None
        self._failures = 0
        self._trial_running = False
        if recovered:
            self._opened_at = None
            self._cooldown_s = self.base_cooldown_s
            log.warning("redis is reachable again; shared cache tier restored")
        return recovered

    def failure(self, error: BaseException) -> None:
        self._trial_running = False
        if self._opened_at is not None:
            # A failed trial: stay open, back off further.
            self._opened_at = self._clock()
            self._cooldown_s = min(self._cooldown_s * 2, self.max_cooldown_s)
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self.outages += 1
            log.warning(
                "redis unavailable (%s: %s); serving from the in-process tier and the database",
                type(error).__name__,
                error,
            )
