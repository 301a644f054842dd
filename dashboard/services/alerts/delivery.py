"""Deliver the outbox: fan each new alert out to the channels that take it, then send what is
due, one delivery per transaction, with retries, backoff and a dead state.

Runs on the cluster's leader (`dashboard.background`). A delivery is claimed with `FOR UPDATE
SKIP LOCKED` on PostgreSQL, sent, and recorded in the same transaction: a worker killed mid-send
leaves it pending and the next leader sends it again (at least once; the idempotency key lets the
receiver drop the repeat). A sent (alert, channel) is never sent again: its row says so.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import Alert, AlertAttempt, AlertChannel, AlertDelivery
from dashboard.db.outage import DatabaseUnavailable
from dashboard.db.session import Database
from dashboard.domain.alerts import idempotency_key, retry_delay_s
from dashboard.domain.enums import LEVEL_RANK, AlertState, DeliveryStatus, Level
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import Message, Send

DISPATCH_BATCH = 500
SEND_BATCH = 50


def _locked(session: AsyncSession, stmt: Select[Any]) -> Select[Any]:
    """Rows another worker holds are skipped (PostgreSQL); SQLite is one process."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


async def _routing_level(session: AsyncSession, alert: Alert) -> Level:
    """A recovery goes where its raise went: route it by the level of the last raise of its key."""
    if alert.state is AlertState.RAISED:
        return alert.level
    raised = await session.execute(
        select(Alert.level)
        .where(Alert.key == alert.key, Alert.id < alert.id, Alert.state == AlertState.RAISED)
        .order_by(Alert.id.desc())
        .limit(1)
    )
    return raised.scalar_one_or_none() or alert.level


async def dispatch(db: Database, now: datetime | None = None) -> int:
    """Create the deliveries of alerts not yet dispatched; returns how many alerts were."""
    moment = now or datetime.now(UTC)
    async with db.session() as session:
        stmt = select(Alert).where(Alert.dispatched_at.is_(None)).order_by(Alert.id).limit(DISPATCH_BATCH)
        alerts = list((await session.execute(_locked(session, stmt))).scalars())
        if not alerts:
            return 0
        channels = list((await session.execute(select(AlertChannel).where(AlertChannel.enabled))).scalars())
        for alert in alerts:
            level = await _routing_level(session, alert) if channels else alert.level
            for channel in channels:
                if LEVEL_RANK[level] >= LEVEL_RANK[channel.min_level]:
                    session.add(
                        AlertDelivery(
                            alert_id=alert.id,
                            channel_id=channel.id,
                            status=DeliveryStatus.PENDING,
                            attempts=0,
                            next_attempt_at=moment,
                        )
                    )
            alert.dispatched_at = moment
        return len(alerts)


def message_of(alert: Alert, channel_id: int) -> Message:
    key = idempotency_key(alert.id, channel_id)
    head = "RESOLVED" if alert.state is AlertState.RESOLVED else alert.level.value.upper()
    lines = [alert.title, f"When: {alert.created_at.isoformat()}"]
    if alert.account_id is not None:
        lines.append(f"Account: {alert.account_id}")
    lines += [f"Alert: {alert.key} ({alert.state.value})", f"Idempotency-Key: {key}"]
    return Message(f"[{head}] {alert.title}", "\n".join(lines), key, alert.level, alert.state)


async def deliver_due(
    db: Database,
    secrets: ChannelSecrets,
    send: Send,
    *,
    max_attempts: int,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    draw: Callable[[], float] = random.random,
) -> int:
    """Send the deliveries that are due; returns how many were tried."""
    async with db.read_session() as session:
        due = (
            await session.execute(
                select(AlertDelivery.id)
                .where(AlertDelivery.status == DeliveryStatus.PENDING, AlertDelivery.next_attempt_at <= now())
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                .limit(SEND_BATCH)
            )
        ).scalars()
        ids = list(due)
    tried = 0
    for delivery_id in ids:
        async with db.session() as session:
            stmt = select(AlertDelivery).where(
                AlertDelivery.id == delivery_id, AlertDelivery.status == DeliveryStatus.PENDING
            )
            delivery = (await session.execute(_locked(session, stmt))).scalar_one_or_none()
            if delivery is None:
                continue  # sent meanwhile, or held by another worker
            alert = await session.get(Alert, delivery.alert_id)
            channel = await session.get(AlertChannel, delivery.channel_id)
            assert alert is not None and channel is not None
            error = await send(secrets.decrypt(channel.url_encrypted), message_of(alert, channel.id))
            tried += 1
            moment = now()
            delivery.attempts += 1
            session.add(AlertAttempt(delivery_id=delivery.id, at=moment, ok=error is None, error=error))
            if error is None:
                delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, moment, None
            elif delivery.attempts >= max_attempts:
                delivery.status, delivery.last_error = DeliveryStatus.DEAD, error
            else:
                delivery.last_error = error
                delivery.next_attempt_at = moment + timedelta(
                    seconds=retry_delay_s(delivery.attempts, draw())
                )
    return tried


async def deliver_forever(
    db: Database, secrets: ChannelSecrets, *, every_s: float, max_attempts: int, send: Send
) -> None:
    """The leader's job: dispatch and send every `every_s`; an outage waits for the next round
    (the outbox keeps everything meanwhile)."""
    while True:
        try:
            await dispatch(db)
            await deliver_due(db, secrets, send, max_attempts=max_attempts)
        except DatabaseUnavailable:
            pass  # logged once by the database's outage monitor
        await asyncio.sleep(every_s)
