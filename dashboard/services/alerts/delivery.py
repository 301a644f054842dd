"""Deliver the outbox: route each new alert to the channels its rules name, escalate critical
raises nobody acknowledged, and send what is due, one delivery per transaction, with retries,
backoff and a dead state.

Runs on the cluster's leader (`dashboard.background`). A delivery is claimed with `FOR UPDATE
SKIP LOCKED` on PostgreSQL, sent, and recorded in the same transaction: a worker killed mid-send
leaves it pending and the next leader sends it again (at least once; the idempotency key lets the
receiver drop the repeat). A sent (alert, channel) is never sent again: its row says so.

Flap control: a raise within its rule's re-notify interval of the last raise sent on the same key
and channel is held until the interval has passed and dropped (`suppressed`) if it resolved
meanwhile, with its recovery. A recovery goes to the channels its episode's raises went to.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dashboard.db.models import Alert, AlertAttempt, AlertChannel, AlertDelivery
from dashboard.db.outage import DatabaseUnavailable
from dashboard.db.session import Database
from dashboard.domain.alerts import (
    Rule,
    Subject,
    escalations,
    hold_until,
    idempotency_key,
    retry_delay_s,
    route,
)
from dashboard.domain.enums import AlertState, DeliveryStatus, Level
from dashboard.services.alerts.rules import load_rules
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import Message, Send

DISPATCH_BATCH = 100
SEND_BATCH = 50
#: Deliveries sent at once on PostgreSQL (each holds a connection while its channel answers).
SEND_CONCURRENCY = 4
#: Critical raises older than this are no longer escalated (nobody is waiting for that page).
ESCALATION_HORIZON = timedelta(days=1)
#: Statuses of a delivery that told (or is telling) its channel about a raise.
TOLD = (DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.DEAD)

AckUrl = Callable[[int], str | None]


def _no_link(alert_id: int) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How the leader sends: the secrets to open channel URLs with, the sender, the number of
    tries, and the acknowledgement link of an alert (None without a public URL)."""

    secrets: ChannelSecrets
    send: Send
    max_attempts: int
    ack_url: AckUrl = _no_link
    #: Told each delivery's outcome (sent, retry, dead, suppressed): metrics.
    on_result: Callable[[str], object] = lambda result: None


def _locked(session: AsyncSession, stmt: Select[Any]) -> Select[Any]:
    """Rows another worker holds are skipped (PostgreSQL); SQLite is one process."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def subject_of(alert: Alert) -> Subject:
    return Subject(alert.kind, alert.level, alert.account_id, alert.user_id)


async def _last_notified(
    session: AsyncSession, alert: Alert, channel_id: int
) -> tuple[Level, datetime] | None:
    """The last raise of this key that was (or is being) sent to this channel without delay."""
    row = (
        await session.execute(
            select(Alert.level, Alert.created_at)
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .where(
                Alert.key == alert.key,
                Alert.id < alert.id,
                Alert.state == AlertState.RAISED,
                AlertDelivery.channel_id == channel_id,
                AlertDelivery.escalation.is_(False),
                AlertDelivery.deferred.is_(False),
                AlertDelivery.status.in_(TOLD),
            )
            .order_by(Alert.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def _episode_channels(session: AsyncSession, alert: Alert) -> dict[int, bool]:
    """For a recovery: channel -> whether that channel was told of a raise of this episode (the
    raises of its key since the previous recovery). A raise still held by flap control did not
    tell anyone: its recovery is suppressed with it."""
    previous = (
        await session.execute(
            select(func.max(Alert.id)).where(
                Alert.key == alert.key, Alert.id < alert.id, Alert.state == AlertState.RESOLVED
            )
        )
    ).scalar_one()
    rows = await session.execute(
        select(AlertDelivery.channel_id, AlertDelivery.status, AlertDelivery.deferred, AlertDelivery.attempts)
        .join(Alert, AlertDelivery.alert_id == Alert.id)
        .where(
            Alert.key == alert.key,
            Alert.id < alert.id,
            Alert.id > (previous or 0),
            Alert.state == AlertState.RAISED,
        )
    )
    told: dict[int, bool] = {}
    for channel_id, status, deferred, attempts in rows:
        said = status in TOLD and not (deferred and attempts == 0)
        told[channel_id] = told.get(channel_id, False) or said
    return told


async def dispatch(db: Database, now: datetime | None = None) -> int:
    """Create the deliveries of alerts not yet dispatched; returns how many alerts were."""
    moment = now or datetime.now(UTC)
    async with db.session() as session:
        stmt = select(Alert).where(Alert.dispatched_at.is_(None)).order_by(Alert.id).limit(DISPATCH_BATCH)
        alerts = list((await session.execute(_locked(session, stmt))).scalars())
        if not alerts:
            return 0
        rules = await load_rules(session)
        for alert in alerts:
            if alert.state is AlertState.RAISED:
                await _dispatch_raise(session, alert, rules, moment)
            else:
                for channel_id, told in (await _episode_channels(session, alert)).items():
                    status = DeliveryStatus.PENDING if told else DeliveryStatus.SUPPRESSED
                    session.add(_delivery(alert, channel_id, moment, status=status))
            alert.dispatched_at = moment
            await session.flush()  # the next alert of the same key sees these deliveries
        return len(alerts)


async def _dispatch_raise(session: AsyncSession, alert: Alert, rules: list[Rule], moment: datetime) -> None:
    for channel_id, renotify_s in route(rules, subject_of(alert)).items():
        notified = await _last_notified(session, alert, channel_id) if renotify_s > 0 else None
        until = hold_until(alert.level, alert.created_at, notified, renotify_s)
        session.add(_delivery(alert, channel_id, until or moment, deferred=until is not None))


def _delivery(
    alert: Alert,
    channel_id: int,
    at: datetime,
    *,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    deferred: bool = False,
    escalation: bool = False,
) -> AlertDelivery:
    return AlertDelivery(
        alert_id=alert.id,
        channel_id=channel_id,
        status=status,
        attempts=0,
        next_attempt_at=at,
        escalation=escalation,
        deferred=deferred,
    )


async def escalate_due(db: Database, now: datetime | None = None) -> int:
    """Send critical raises nobody acknowledged on to their rules' escalation channels once the
    rules' time has passed; returns how many escalations were queued."""
    moment = now or datetime.now(UTC)
    later = aliased(Alert)
    async with db.session() as session:
        stmt = (
            select(Alert)
            .where(
                Alert.state == AlertState.RAISED,
                Alert.level == Level.CRITICAL,
                Alert.dispatched_at.is_not(None),
                Alert.acknowledged_at.is_(None),
                Alert.escalated_at.is_(None),
                Alert.created_at >= moment - ESCALATION_HORIZON,
            )
            .order_by(Alert.id)
            .limit(DISPATCH_BATCH)
        )
        candidates = list((await session.execute(_locked(session, stmt))).scalars())
        if not candidates:
            return 0
        rules = await load_rules(session)
        queued = 0
        for alert in candidates:
            superseded = (
                await session.execute(
                    select(exists().where(and_(later.key == alert.key, later.id > alert.id)))
                )
            ).scalar_one()
            due = {} if superseded else escalations(rules, subject_of(alert))
            waiting = False
            for channel_id, after_s in due.items():
                if alert.created_at + timedelta(seconds=after_s) > moment:
                    waiting = True
                    continue
                session.add(_delivery(alert, channel_id, moment, escalation=True))
                queued += 1
            if not waiting:
                alert.escalated_at = moment
        return queued


def message_of(
    alert: Alert, channel_id: int, *, escalation: bool = False, ack_url: str | None = None
) -> Message:
    key = idempotency_key(alert.id, channel_id, escalation=escalation)
    head = "RESOLVED" if alert.state is AlertState.RESOLVED else alert.level.value.upper()
    if escalation:
        head = f"ESCALATED {head}"
    lines = [alert.title, f"When: {alert.created_at.isoformat()}"]
    if alert.account_id is not None:
        lines.append(f"Account: {alert.account_id}")
    lines.append(f"Alert: {alert.key} ({alert.state.value})")
    if escalation:
        lines.append("Not acknowledged in time: sent on to the escalation channel.")
    if ack_url is not None and alert.state is AlertState.RAISED:
        lines.append(f"Acknowledge: {ack_url}")
    lines.append(f"Idempotency-Key: {key}")
    return Message(f"[{head}] {alert.title}", "\n".join(lines), key, alert.level, alert.state)


async def _moot(session: AsyncSession, alert: Alert, delivery: AlertDelivery) -> bool:
    """A held raise that resolved meanwhile, or an escalation acknowledged or resolved since."""
    if delivery.escalation:
        if alert.acknowledged_at is not None:
            return True
    elif not (delivery.deferred and delivery.attempts == 0):
        return False
    later = aliased(Alert)
    return bool(
        (
            await session.execute(
                select(
                    exists().where(
                        later.key == alert.key, later.id > alert.id, later.state == AlertState.RESOLVED
                    )
                )
            )
        ).scalar_one()
    )


async def deliver_due(
    db: Database,
    config: DeliveryConfig,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    draw: Callable[[], float] = random.random,
) -> int:
    """Send the deliveries that are due; returns how many were tried.

    Several at once (a slow channel must not hold up the others, and a burst of alerts is mostly
    waiting on receivers), but the deliveries of one alert key go in order: a recovery never
    overtakes its raise. SQLite takes one writer at a time, so there they go one by one.
    """
    async with db.read_session() as session:
        due = await session.execute(
            select(AlertDelivery.id, Alert.key)
            .join(Alert, Alert.id == AlertDelivery.alert_id)
            .where(AlertDelivery.status == DeliveryStatus.PENDING, AlertDelivery.next_attempt_at <= now())
            .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
            .limit(SEND_BATCH)
        )
        by_key: dict[str, list[int]] = {}
        for delivery_id, key in due:
            by_key.setdefault(key, []).append(delivery_id)
    parallel = SEND_CONCURRENCY if db.engine.dialect.name == "postgresql" else 1
    gate = asyncio.Semaphore(parallel)

    async def in_order(ids: list[int]) -> int:
        async with gate:
            return sum([await _deliver_one(db, config, delivery_id, now, draw) for delivery_id in ids])

    return sum(await asyncio.gather(*(in_order(ids) for ids in by_key.values())))


async def _deliver_one(
    db: Database,
    config: DeliveryConfig,
    delivery_id: int,
    now: Callable[[], datetime],
    draw: Callable[[], float],
) -> int:
    """Claim, send and record one delivery in one transaction; 1 if it was tried."""
    async with db.session() as session:
        stmt = select(AlertDelivery).where(
            AlertDelivery.id == delivery_id, AlertDelivery.status == DeliveryStatus.PENDING
        )
        delivery = (await session.execute(_locked(session, stmt))).scalar_one_or_none()
        if delivery is None:
            return 0  # sent meanwhile, or held by another worker
        alert = await session.get(Alert, delivery.alert_id)
        channel = await session.get(AlertChannel, delivery.channel_id)
        assert alert is not None and channel is not None
        if await _moot(session, alert, delivery):
            delivery.status = DeliveryStatus.SUPPRESSED
            config.on_result("suppressed")
            return 0
        message = message_of(
            alert, channel.id, escalation=delivery.escalation, ack_url=config.ack_url(alert.id)
        )
        error = await config.send(config.secrets.decrypt(channel.url_encrypted), message)
        moment = now()
        delivery.attempts += 1
        session.add(AlertAttempt(delivery_id=delivery.id, at=moment, ok=error is None, error=error))
        if error is None:
            delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, moment, None
            config.on_result("sent")
        elif delivery.attempts >= config.max_attempts:
            delivery.status, delivery.last_error = DeliveryStatus.DEAD, error
            config.on_result("dead")
        else:
            config.on_result("retry")
            delivery.last_error = error
            delivery.next_attempt_at = moment + timedelta(seconds=retry_delay_s(delivery.attempts, draw()))
        return 1


async def deliver_forever(db: Database, config: DeliveryConfig, *, every_s: float) -> None:
    """The leader's job: dispatch, escalate and send, then wait `every_s` unless a batch was full
    (a burst is worked off at once, not 50 a second); an outage waits for the next round (the
    outbox keeps everything meanwhile)."""
    while True:
        busy = False
        try:
            routed = await dispatch(db)
            await escalate_due(db)
            tried = await deliver_due(db, config)
            busy = routed >= DISPATCH_BATCH or tried >= SEND_BATCH
        except DatabaseUnavailable:
            pass  # logged once by the database's outage monitor
        if not busy:
            await asyncio.sleep(every_s)
