"""Acknowledging an alert: it stops the alert's escalation, acknowledges the guard event behind
it, and is audited, in one transaction. From the alerts page, the API, or a signed link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import Alert, GuardEvent
from dashboard.db.session import Database
from dashboard.domain.enums import AlertKind, AlertState
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.touched import Family, Touched
from dashboard.services.viewer import Viewer


@dataclass(frozen=True)
class AlertAcknowledged:
    alert_id: int
    #: False when it had been acknowledged before (by `acknowledged_by`): nothing changed.
    changed: bool
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    touched: Touched


def visible(viewer: Viewer, alert: Alert) -> bool:
    """A trader sees alerts of own accounts and the market guards; risk/admin all."""
    if viewer.sees_all:
        return True
    if alert.account_id is None:
        return alert.kind is AlertKind.GUARD
    return alert.user_id == viewer.user_id


async def acknowledge_alert(
    db: Database, viewer: Viewer, alert_id: int, *, via: str = "dashboard", client_addr: str | None = None
) -> AlertAcknowledged:
    """Mark a raised alert acknowledged by `viewer`; someone else's alert is `NotFound`, a
    recovery cannot be acknowledged, and a second acknowledgement keeps the first."""
    now = datetime.now(UTC)
    async with db.session() as session:
        alert = await session.get(Alert, alert_id)
        if alert is None or not visible(viewer, alert):
            raise NotFound(f"alert {alert_id} not found")
        if alert.state is not AlertState.RAISED:
            raise InvalidInput("only a raised alert can be acknowledged", field="alert_id")
        changed = alert.acknowledged_at is None
        if changed and await _resolved_since(session, alert):
            raise InvalidInput(
                "this alert has resolved since: there is nothing to acknowledge", field="alert_id"
            )
        if changed:
            alert.acknowledged_at, alert.acknowledged_by = now, viewer.user_id
            if alert.guard_event_id is not None:
                event = await session.get(GuardEvent, alert.guard_event_id)
                if event is not None and event.acknowledged_at is None:
                    event.acknowledged_at, event.acknowledged_by = now, viewer.user_id
            audit(
                session,
                AuditAction.ALERT_ACKNOWLEDGED,
                actor_user_id=viewer.user_id,
                target=f"alert:{alert_id}",
                detail={
                    "key": alert.key,
                    "level": alert.level.value,
                    "via": via,
                    "account_id": alert.account_id,
                },
                client_addr=client_addr,
                now=now,
            )
        # The guard event's acknowledgement shows on the guards pages of whoever sees it.
        touched = (
            Touched().account(alert.user_id, Family.GUARD_EVENTS, Family.ALERTS)
            if alert.user_id is not None
            else Touched().everyone(Family.GUARD_EVENTS, Family.ALERTS)
        )
        return AlertAcknowledged(alert_id, changed, alert.acknowledged_by, alert.acknowledged_at, touched)


async def _resolved_since(session: AsyncSession, alert: Alert) -> bool:
    later = await session.execute(
        select(Alert.id)
        .where(Alert.key == alert.key, Alert.id > alert.id, Alert.state == AlertState.RESOLVED)
        .limit(1)
    )
    return later.first() is not None


async def alert_for(db: Database, viewer: Viewer, alert_id: int) -> Alert:
    """One alert the viewer may see (for the link's confirm page)."""
    async with db.read_session() as session:
        alert = (await session.execute(select(Alert).where(Alert.id == alert_id))).scalar_one_or_none()
    if alert is None or not visible(viewer, alert):
        raise NotFound(f"alert {alert_id} not found")
    return alert
