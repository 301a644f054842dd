"""Alert channels: add, list, remove (audited). Their URLs are stored encrypted and listed masked.

A channel added by risk/admin (or the CLI) is a team channel; a trader's is their own, and only
their own rules may send to it. Adding a channel also adds its catch-all rule (same name: every
alert the owner may receive at or above the channel's level), which `alerts rules` narrows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AlertChannel, AlertRule
from dashboard.db.session import Database
from dashboard.domain.enums import AlertState, Level
from dashboard.services.alerts.secrets import ChannelSecrets, masked, scheme_of
from dashboard.services.alerts.sender import Message, Send
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, InvalidInput, NotFound
from dashboard.services.queries import parse_enum
from dashboard.services.viewer import Viewer


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: int
    name: str
    scheme: str
    url: str  # masked: never the stored URL
    min_level: Level
    enabled: bool
    owner_user_id: int | None = None


def view(channel: AlertChannel) -> ChannelView:
    return ChannelView(
        channel.id,
        channel.name,
        channel.scheme,
        channel.url_masked,
        channel.min_level,
        channel.enabled,
        channel.owner_user_id,
    )


def checked_name(name: str) -> str:
    """A channel's or rule's name: 1 to 64 characters, no "/" (it is a path segment of the API)
    and no control characters."""
    name = name.strip()
    if not 1 <= len(name) <= 64 or "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput('name: 1 to 64 characters, without "/"', field="name")
    return name


def owner_of(actor: Viewer | None) -> int | None:
    """Whose a new channel or rule is: a trader's own, else the team's (NULL)."""
    return None if actor is None or actor.sees_all else actor.user_id


def may_manage(actor: Viewer | None, owner_user_id: int | None) -> bool:
    """Risk/admin (and the CLI, run by an operator) manage every channel and rule; a trader only
    their own."""
    return actor is None or actor.sees_all or owner_user_id == actor.user_id


async def add_channel(
    db: Database,
    secrets: ChannelSecrets,
    name: str,
    url: str,
    *,
    min_level: Level | str = Level.WARNING,
    actor: Viewer | None = None,
    with_rule: bool = True,
    renotify_s: int = 300,
) -> ChannelView:
    name = checked_name(name)
    level = parse_enum(Level, min_level, "min_level") or Level.WARNING
    if not 0 <= renotify_s <= 86_400:
        raise InvalidInput("renotify_s: 0 to 86400 seconds", field="renotify_s")
    scheme = scheme_of(url)
    now = datetime.now(UTC)
    async with db.session() as session:
        if (await session.execute(select(AlertChannel.id).where(AlertChannel.name == name))).first():
            raise Conflict(f"a channel named {name!r} exists")
        if with_rule and (await session.execute(select(AlertRule.id).where(AlertRule.name == name))).first():
            raise Conflict(f"a rule named {name!r} exists")
        channel = AlertChannel(
            name=name,
            owner_user_id=owner_of(actor),
            scheme=scheme,
            url_encrypted=secrets.encrypt(url.strip()),
            url_masked=masked(url),
            min_level=level,
            enabled=True,
            created_at=now,
        )
        session.add(channel)
        await session.flush()
        if with_rule:
            session.add(
                AlertRule(
                    name=name,
                    owner_user_id=channel.owner_user_id,
                    channel_id=channel.id,
                    kinds=[],
                    account_ids=[],
                    min_level=level,
                    renotify_s=renotify_s,
                    enabled=True,
                    created_at=now,
                )
            )
        audit(
            session,
            AuditAction.ALERT_CHANNEL_ADDED,
            actor_user_id=actor.user_id if actor else None,
            target=f"channel:{channel.id}",
            detail={"name": name, "url": channel.url_masked, "min_level": level.value, "rule": with_rule},
        )
        return view(channel)


async def list_channels(
    db: Database, actor: Viewer | None = None, *, enabled_only: bool = False
) -> list[ChannelView]:
    async with db.read_session() as session:
        stmt = select(AlertChannel).order_by(AlertChannel.id)
        if actor is not None and not actor.sees_all:
            stmt = stmt.where(AlertChannel.owner_user_id == actor.user_id)
        if enabled_only:
            stmt = stmt.where(AlertChannel.enabled)
        return [view(channel) for channel in (await session.execute(stmt)).scalars()]


async def enabled_channel(session: AsyncSession, name: str, actor: Viewer | None = None) -> AlertChannel:
    """An enabled channel the actor may manage, by name; someone else's is "not found"."""
    found = await session.execute(select(AlertChannel).where(AlertChannel.name == name, AlertChannel.enabled))
    channel = found.scalar_one_or_none()
    if channel is None or not may_manage(actor, channel.owner_user_id):
        raise NotFound(f"no channel named {name!r}")
    return channel


async def remove_channel(db: Database, name: str, *, actor: Viewer | None = None) -> ChannelView:
    """Disabled rather than deleted: its deliveries and their attempts stay on the record. Its
    rules go with it (they could send nowhere); rules that escalated to it no longer escalate."""
    async with db.session() as session:
        channel = await enabled_channel(session, name, actor)
        channel.enabled = False
        channel.name = f"{channel.name[:40]} (removed {channel.id})"
        rules = await session.execute(
            select(AlertRule).where(
                (AlertRule.channel_id == channel.id) | (AlertRule.escalation_channel_id == channel.id)
            )
        )
        for rule in rules.scalars():
            if rule.channel_id == channel.id:
                await session.delete(rule)
            else:  # it only escalated here: it keeps routing, without escalation
                rule.escalation_channel_id, rule.escalate_after_s = None, None
        audit(
            session,
            AuditAction.ALERT_CHANNEL_REMOVED,
            actor_user_id=actor.user_id if actor else None,
            target=f"channel:{channel.id}",
            detail={"name": name},
        )
        return view(channel)


async def send_test_message(
    db: Database, secrets: ChannelSecrets, name: str, send: Send, *, actor: Viewer | None = None
) -> str | None:
    """Send a test message through a channel now; None when it was accepted, else why not."""
    async with db.read_session() as session:
        channel = await enabled_channel(session, name, actor)
    message = Message(
        title="[TEST] TeleBot dashboard alert channel",
        body=f"A test message for channel {name!r}: if you read this, alerts reach you here.",
        key=f"test-channel-{channel.id}-{int(datetime.now(UTC).timestamp())}",
        level=Level.NORMAL,
        state=AlertState.RAISED,
    )
    return await send(secrets.decrypt(channel.url_encrypted), message)
