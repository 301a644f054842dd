"""Alert channels: add, list, remove (audited). Their URLs are stored encrypted and listed masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AlertChannel
from dashboard.db.session import Database
from dashboard.domain.enums import AlertState, Level
from dashboard.services.alerts.secrets import ChannelSecrets, masked, scheme_of
from dashboard.services.alerts.sender import Message, Send
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, InvalidInput, NotFound
from dashboard.services.queries import parse_enum


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: int
    name: str
    scheme: str
    url: str  # masked: never the stored URL
    min_level: Level
    enabled: bool


def view(channel: AlertChannel) -> ChannelView:
    return ChannelView(
        channel.id, channel.name, channel.scheme, channel.url_masked, channel.min_level, channel.enabled
    )


async def add_channel(
    db: Database,
    secrets: ChannelSecrets,
    name: str,
    url: str,
    *,
    min_level: Level | str = Level.WARNING,
    actor_user_id: int | None = None,
) -> ChannelView:
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise InvalidInput("name: 1 to 64 characters", field="name")
    level = parse_enum(Level, min_level, "min_level") or Level.WARNING
    scheme = scheme_of(url)
    async with db.session() as session:
        if (await session.execute(select(AlertChannel.id).where(AlertChannel.name == name))).first():
            raise Conflict(f"a channel named {name!r} exists")
        channel = AlertChannel(
            name=name,
            scheme=scheme,
            url_encrypted=secrets.encrypt(url.strip()),
            url_masked=masked(url),
            min_level=level,
            enabled=True,
            created_at=datetime.now(UTC),
        )
        session.add(channel)
        await session.flush()
        audit(
            session,
            AuditAction.ALERT_CHANNEL_ADDED,
            actor_user_id=actor_user_id,
            target=f"channel:{channel.id}",
            detail={"name": name, "url": channel.url_masked, "min_level": level.value},
        )
        return view(channel)


async def list_channels(db: Database) -> list[ChannelView]:
    async with db.read_session() as session:
        rows = (await session.execute(select(AlertChannel).order_by(AlertChannel.id))).scalars()
        return [view(channel) for channel in rows]


async def _enabled(session: AsyncSession, name: str) -> AlertChannel:
    found = await session.execute(select(AlertChannel).where(AlertChannel.name == name, AlertChannel.enabled))
    channel = found.scalar_one_or_none()
    if channel is None:
        raise NotFound(f"no channel named {name!r}")
    return channel


async def remove_channel(db: Database, name: str, *, actor_user_id: int | None = None) -> ChannelView:
    """Disabled rather than deleted: its deliveries and their attempts stay on the record."""
    async with db.session() as session:
        channel = await _enabled(session, name)
        channel.enabled = False
        channel.name = f"{channel.name[:40]} (removed {channel.id})"
        audit(
            session,
            AuditAction.ALERT_CHANNEL_REMOVED,
            actor_user_id=actor_user_id,
            target=f"channel:{channel.id}",
            detail={"name": name},
        )
        return view(channel)


async def send_test_message(db: Database, secrets: ChannelSecrets, name: str, send: Send) -> str | None:
    """Send a test message through a channel now; None when it was accepted, else why not."""
    async with db.read_session() as session:
        channel = await _enabled(session, name)
    message = Message(
        title="[TEST] TeleBot dashboard alert channel",
        body=f"A test message for channel {name!r}: if you read this, alerts reach you here.",
        key=f"test-channel-{channel.id}-{int(datetime.now(UTC).timestamp())}",
        level=Level.NORMAL,
        state=AlertState.RAISED,
    )
    return await send(secrets.decrypt(channel.url_encrypted), message)
