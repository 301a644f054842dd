"""Put the alerts of new guard events in the outbox, in the caller's transaction.

Called by the ingestion services right after they add their guard events: the alert rows commit
or roll back with them, so a delivery worker never announces a write that did not happen and
never misses one that did.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import Alert, GuardEvent
from dashboard.domain.alerts import guard_alert


async def add_guard_alerts(session: AsyncSession, events: Sequence[GuardEvent]) -> list[Alert]:
    if not events:
        return []
    await session.flush()  # the events' ids, which the alerts point at
    alerts = []
    for event in events:
        facts = guard_alert(
            event.guard_type, event.state, event.level, account_id=event.account_id, symbol=event.symbol
        )
        alerts.append(
            Alert(
                key=facts.key,
                kind=facts.kind,
                state=facts.state,
                level=facts.level,
                account_id=event.account_id,
                user_id=event.user_id,
                guard_event_id=event.id,
                title=event.message,
                created_at=event.created_at,
            )
        )
    session.add_all(alerts)
    return alerts
