"""How long a caller may wait for the database before it is told "unavailable"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolLimits:
    """The drivers' defaults (60 s to connect, 30 s for a pooled connection, no statement timeout)
    would hold a request, a page tick or a login for a minute during an outage; these answer in
    seconds so the caller can say 503 or show stale data instead."""

    size: int = 10
    overflow: int = 10
    checkout_timeout_s: float = 5.0
    connect_timeout_s: float = 5.0
    statement_timeout_s: float = 30.0
