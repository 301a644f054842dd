"""Acknowledging a guard event: recorded on the event and in the audit log, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from dashboard.db.models import GuardEvent
from dashboard.db.session import Database
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import NotFound
from dashboard.services.touched import Family, Touched
from dashboard.services.viewer import Viewer


@dataclass(frozen=True)
class Acknowledged:
    event_id: int
    touched: Touched


async def acknowledge_guard_event(db: Database, viewer: Viewer, event_id: int) -> Acknowledged:
    """Mark an event seen by `viewer`. A trader may acknowledge events of own accounts and market
    events; risk and admin any. Someone else's event is `NotFound`. Acknowledging twice keeps the
    first acknowledgement."""
    now = datetime.now(UTC)
    async with db.session() as session:
        event = (
            await session.execute(select(GuardEvent).where(GuardEvent.id == event_id))
        ).scalar_one_or_none()
        if event is None or (
            not viewer.sees_all and event.user_id is not None and event.user_id != viewer.user_id
        ):
            raise NotFound(f"guard event {event_id} not found")
        if event.acknowledged_at is None:
            event.acknowledged_by = viewer.user_id
            event.acknowledged_at = now
            audit(
                session,
                AuditAction.GUARD_EVENT_ACKNOWLEDGED,
                actor_user_id=viewer.user_id,
                target=f"guard_event:{event_id}",
                detail={
                    "guard_type": event.guard_type.value,
                    "level": event.level.value,
                    "account_id": event.account_id,
                },
                now=now,
            )
        owner = event.user_id
    touched = Touched().account(owner, Family.GUARD_EVENTS) if owner is not None else Touched()
    if owner is None:  # a market event: everybody's lists
        touched.everyone(Family.GUARD_EVENTS)
    return Acknowledged(event_id, touched)
