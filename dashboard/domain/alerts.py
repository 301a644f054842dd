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
