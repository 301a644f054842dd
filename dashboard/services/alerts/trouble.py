"""The dashboard's own trouble, as the leader sees it: the database unreachable for more than a
minute, the cache's breaker (Redis) open for more than five.

The cache's trouble goes through the outbox like any alert (the database is there). The
database's cannot: the outbox is in it, and on PostgreSQL leadership itself ends with the
database (`dashboard.db.leader`). So the process that led when the database was last seen is the
one that speaks: it sends straight to the channels the rules give the system alerts, as it last
read them, and once the database is back sends the recovery and writes both alerts down, with
their deliveries, so the alerts page has the whole story.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dashboard.db.models import Alert, AlertAttempt, AlertChannel, AlertDelivery
from dashboard.db.session import Database
from dashboard.domain.alerts import Subject, route, system_alert
from dashboard.domain.enums import AlertKind, AlertState, DeliveryStatus, Level
from dashboard.services.alerts.rules import load_rules
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import Message, Send
from dashboard.services.touched import Family, Touched

log = logging.getLogger(__name__)

DATABASE_DOWN_AFTER = timedelta(minutes=1)
BREAKER_OPEN_AFTER = timedelta(minutes=5)
SYSTEM = Subject(AlertKind.SYSTEM, Level.CRITICAL, None, None)
TITLES = {
    AlertState.RAISED: "Dashboard database unreachable for over a minute: pages show their last data",
    AlertState.RESOLVED: "Dashboard database reachable again",
}


@dataclass
class SystemAlertWritten:
    changed: bool
    touched: Touched = field(default_factory=Touched)


async def set_system_alert(db: Database, trouble: str, troubled: bool, title: str) -> SystemAlertWritten:
    """Raise the trouble's alert if it is not open, resolve it if it is and the trouble is over.
    Judged from the outbox, so a new leader carries on where the last one was."""
    raised = system_alert(trouble, resolved=False)
    async with db.session() as session:
        last = (
            await session.execute(
                select(Alert.state).where(Alert.key == raised.key).order_by(Alert.id.desc()).limit(1)
            )
        ).scalar_one_or_none()
        is_open = last is AlertState.RAISED
        if troubled == is_open:
            return SystemAlertWritten(False)
        facts = system_alert(trouble, resolved=not troubled)
        session.add(
            Alert(
                key=facts.key,
                kind=facts.kind,
                state=facts.state,
                level=facts.level,
                title=title,
                created_at=datetime.now(UTC),
            )
        )
    return SystemAlertWritten(True, Touched().everyone(Family.ALERTS))


async def system_channels(db: Database) -> list[tuple[int, str]]:
    """(channel id, encrypted URL) of the channels the rules send system alerts to."""
    async with db.read_session() as session:
        targets = route(await load_rules(session), SYSTEM)
        if not targets:
            return []
        rows = await session.execute(
            select(AlertChannel.id, AlertChannel.url_encrypted).where(AlertChannel.id.in_(targets))
        )
        return [(channel_id, url) for channel_id, url in rows]


@dataclass
class _Outage:
    since: datetime
    raised_at: datetime | None = None
    sent: list[tuple[int, bool]] = field(default_factory=list)  # (channel, raise accepted)


class TroubleWatch:
    def __init__(
        self,
        db: Database,
        breaker_open_for_s: Callable[[], float],
        leading: Callable[[], bool],
        secrets: ChannelSecrets,
        send: Send,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        # Seconds the cache's breaker has been open (0 when closed, or without Redis).
        self.breaker_open_for_s = breaker_open_for_s
        self.leading = leading
        self.secrets = secrets
        self.send = send
        self.clock = clock
        self._led_when_last_seen = False
        self._channels: list[tuple[int, str]] = []
        self._outage: _Outage | None = None

    async def check(self) -> SystemAlertWritten | None:
        """One look; returns the cache alert's write when this process leads (for invalidation)."""
        now = self.clock()
        if not await self.db.ping():
            if self._led_when_last_seen:
                await self._database_down(now)
            return None
        if self._outage is not None:
            await self._database_back(now)
        self._led_when_last_seen = self.leading()
        if not self._led_when_last_seen:
            return None
        self._channels = await system_channels(self.db)
        open_for = self.breaker_open_for_s()
        troubled = open_for >= BREAKER_OPEN_AFTER.total_seconds()
        title = (
            f"Dashboard cache (Redis) unreachable for {int(open_for // 60)} min: pages read the database"
            if troubled
            else "Dashboard cache (Redis) reachable again"
        )
        return await set_system_alert(self.db, "cache", troubled, title)

    def _message(self, state: AlertState, channel_id: int, title: str, outage: _Outage) -> Message:
        key = f"system-database-{int(outage.since.timestamp())}-{state.value}-channel-{channel_id}"
        head = "RESOLVED" if state is AlertState.RESOLVED else "CRITICAL"
        body = f"{title}\nSince: {outage.since.isoformat()}\nAlert: system:database ({state.value})\n"
        return Message(f"[{head}] {title}", body + f"Idempotency-Key: {key}", key, Level.CRITICAL, state)

    async def _database_down(self, now: datetime) -> None:
        outage = self._outage = self._outage or _Outage(since=now)
        if outage.raised_at is not None or now - outage.since < DATABASE_DOWN_AFTER:
            return
        outage.raised_at = now
        title = TITLES[AlertState.RAISED]
        log.error(
            "the database has been unreachable since %s: telling the system alert channels", outage.since
        )
        for channel_id, url in self._channels:
            error = await self.send(
                self.secrets.decrypt(url), self._message(AlertState.RAISED, channel_id, title, outage)
            )
            outage.sent.append((channel_id, error is None))

    async def _database_back(self, now: datetime) -> None:
        outage, self._outage = self._outage, None
        assert outage is not None
        if outage.raised_at is None:
            return  # shorter than a minute: nothing was said, nothing to take back
        title = TITLES[AlertState.RESOLVED]
        resolved_ok: dict[int, bool] = {}
        for channel_id, url in self._channels:
            if any(c == channel_id for c, _ in outage.sent):
                message = self._message(AlertState.RESOLVED, channel_id, title, outage)
                resolved_ok[channel_id] = await self.send(self.secrets.decrypt(url), message) is None
        await self._record(outage, now, resolved_ok)

    async def _record(self, outage: _Outage, now: datetime, resolved_ok: dict[int, bool]) -> None:
        """Write the outage's raise and recovery down, as they were sent."""
        assert outage.raised_at is not None
        async with self.db.session() as session:
            for state, at, sent in (
                (AlertState.RAISED, outage.raised_at, dict(outage.sent)),
                (AlertState.RESOLVED, now, resolved_ok),
            ):
                facts = system_alert("database", resolved=state is AlertState.RESOLVED)
                alert = Alert(
                    key=facts.key,
                    kind=facts.kind,
                    state=facts.state,
                    level=facts.level,
                    title=TITLES[state],
                    created_at=at,
                    dispatched_at=at,
                )
                session.add(alert)
                await session.flush()
                for channel_id, ok in sent.items():
                    delivery = AlertDelivery(
                        alert_id=alert.id,
                        channel_id=channel_id,
                        status=DeliveryStatus.SENT if ok else DeliveryStatus.DEAD,
                        attempts=1,
                        next_attempt_at=at,
                        sent_at=at if ok else None,
                        last_error=None if ok else "not accepted while the database was down",
                        escalation=False,
                        deferred=False,
                    )
                    session.add(delivery)
                    await session.flush()
                    session.add(
                        AlertAttempt(delivery_id=delivery.id, at=at, ok=ok, error=delivery.last_error)
                    )
        log.warning("the database is back (down since %s); the outage's alerts are recorded", outage.since)
