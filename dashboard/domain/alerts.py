"""Which alert an event makes: pure, so the outbox and its tests agree on keys and states.

A raise and its recovery share one key, so a channel can thread them and a receiver can tell a
repeat from a new alert; a level change of the same guard (warning, then critical) is a new raise
under the same key.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.enums import AlertKind, AlertState, GuardState, GuardType, Level


@dataclass(frozen=True, slots=True)
class AlertFacts:
    key: str
    kind: AlertKind
    state: AlertState
    level: Level


def guard_alert(
    guard_type: GuardType, state: GuardState, level: Level, *, account_id: int | None, symbol: str | None
) -> AlertFacts:
    """A guard event's alert: per account for the account guards, per symbol for the market ones."""
    subject = f"account:{account_id}" if account_id is not None else f"symbol:{symbol}"
    return AlertFacts(
        key=f"guard:{guard_type.value}:{subject}",
        kind=AlertKind.GUARD,
        state=AlertState.RESOLVED if state is GuardState.CLEARED else AlertState.RAISED,
        level=level,
    )


def retry_delay_s(attempt: int, draw: float, *, base_s: float = 2.0, cap_s: float = 600.0) -> float:
    """Seconds before try `attempt + 1` after `attempt` failed ones: exponential (2, 4, 8 … s, at
    most 10 min) with half of it jittered by `draw` in [0, 1), so channels that failed together
    (a receiver that was down) are not all retried in the same instant."""
    ceiling = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + ceiling / 2 * draw


def idempotency_key(alert_id: int, channel_id: int) -> str:
    """One per (alert, channel): a receiver that sees it twice knows the second is a repeat."""
    return f"alert-{alert_id}-channel-{channel_id}"
