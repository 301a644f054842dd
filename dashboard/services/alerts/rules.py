"""Routing rules: which alert kinds, levels and accounts go to which channel, with flap control
and escalation. Added, listed and removed here (audited); loaded by the delivery.

Ownership is the rule of every read: a trader's rule names only the trader's own channels and
accounts, never the dashboard's own (system) alerts, and is checked again at delivery, so a rule
can never reach an account its owner cannot see (an account moved to someone else included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dashboard.db.models import AlertChannel, AlertRule, TradingAccount, User
from dashboard.db.session import Database
from dashboard.domain.alerts import Rule
from dashboard.domain.enums import LEVEL_RANK, AlertKind, Level
from dashboard.services.alerts.channels import checked_name, enabled_channel, may_manage, owner_of
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, InvalidInput, NotFound
from dashboard.services.queries import parse_enum
from dashboard.services.viewer import Viewer

MAX_RENOTIFY_S = 86_400
MAX_ESCALATE_AFTER_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class RuleView:
    id: int
    name: str
    owner_user_id: int | None
    channel: str
    kinds: tuple[AlertKind, ...]
    account_ids: tuple[int, ...]
    min_level: Level
    renotify_s: int
    escalate_after_s: int | None
    escalation_channel: str | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a person asks for; validated by `add_rule`."""

    name: str
    channel: str
    kinds: Sequence[str] = ()
    account_ids: Sequence[int] = ()
    min_level: str = Level.WARNING.value
    renotify_s: int = 300
    escalate_after_s: int | None = None
    escalation_channel: str | None = None


async def load_rules(session: AsyncSession) -> list[Rule]:
    """The rules that can send: enabled, to an enabled channel, owned by the team or by an active
    user. A rule's level is at least its channel's."""
    escalation = aliased(AlertChannel)
    rows = await session.execute(
        select(AlertRule, AlertChannel.min_level, User.role, User.is_active, escalation.enabled)
        .join(AlertChannel, AlertChannel.id == AlertRule.channel_id)
        .outerjoin(User, User.id == AlertRule.owner_user_id)
        .outerjoin(escalation, escalation.id == AlertRule.escalation_channel_id)
        .where(AlertRule.enabled, AlertChannel.enabled)
        .order_by(AlertRule.id)
    )
    rules = []
    for rule, channel_level, role, active, escalation_enabled in rows:
        if rule.owner_user_id is not None and not active:
            continue
        level = max(rule.min_level, channel_level, key=LEVEL_RANK.__getitem__)
        escalates = rule.escalation_channel_id is not None and bool(escalation_enabled)
        rules.append(
            Rule(
                id=rule.id,
                channel_id=rule.channel_id,
                kinds=frozenset(AlertKind(k) for k in rule.kinds),
                account_ids=frozenset(rule.account_ids),
                min_level=level,
                renotify_s=rule.renotify_s,
                owner_user_id=rule.owner_user_id,
                owner_sees_all=rule.owner_user_id is None or bool(role is not None and role.sees_all),
                escalate_after_s=rule.escalate_after_s if escalates else None,
                escalation_channel_id=rule.escalation_channel_id if escalates else None,
            )
        )
    return rules


def _kind(value: str) -> AlertKind:
    kind = parse_enum(AlertKind, value, "kinds")
    assert kind is not None  # a str is never None
    return kind


def _kinds(actor: Viewer | None, values: Sequence[str]) -> list[str]:
    kinds = sorted({AlertKind(_kind(v)).value for v in values})
    if owner_of(actor) is not None and AlertKind.SYSTEM.value in kinds:
        raise InvalidInput("kinds: the dashboard's own (system) alerts are for risk and admin", field="kinds")
    return kinds


async def _accounts(session: AsyncSession, actor: Viewer | None, ids: Sequence[int]) -> list[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    stmt = select(TradingAccount.id).where(TradingAccount.id.in_(wanted))
    owner = owner_of(actor)
    if owner is not None:
        stmt = stmt.where(TradingAccount.user_id == owner)
    found = set((await session.execute(stmt)).scalars())
    missing = [i for i in wanted if i not in found]
    if missing:
        # Someone else's account is "not found", as on every read.
        raise InvalidInput(f"account_ids: no account {missing[0]}", field="account_ids")
    return wanted


async def _named_channel(session: AsyncSession, name: str, actor: Viewer | None, field: str) -> AlertChannel:
    """A channel a rule names: an unknown (or someone else's) one is a bad field of the rule."""
    try:
        return await enabled_channel(session, name, actor)
    except NotFound as error:
        raise InvalidInput(f"{field}: {error}", field=field) from None


async def add_rule(db: Database, spec: RuleSpec, *, actor: Viewer | None = None) -> RuleView:
    name = checked_name(spec.name)
    level = parse_enum(Level, spec.min_level, "min_level") or Level.WARNING
    if not 0 <= spec.renotify_s <= MAX_RENOTIFY_S:
        raise InvalidInput(f"renotify_s: 0 to {MAX_RENOTIFY_S} seconds", field="renotify_s")
    if (spec.escalate_after_s is None) != (spec.escalation_channel is None):
        raise InvalidInput("escalate_after_s and escalation_channel go together", field="escalation_channel")
    if spec.escalate_after_s is not None and not 60 <= spec.escalate_after_s <= MAX_ESCALATE_AFTER_S:
        raise InvalidInput(
            f"escalate_after_s: 60 to {MAX_ESCALATE_AFTER_S} seconds", field="escalate_after_s"
        )
    async with db.session() as session:
        if (await session.execute(select(AlertRule.id).where(AlertRule.name == name))).first():
            raise Conflict(f"a rule named {name!r} exists")
        channel = await _named_channel(session, spec.channel, actor, "channel")
        escalation = (
            await _named_channel(session, spec.escalation_channel, actor, "escalation_channel")
            if spec.escalation_channel
            else None
        )
        rule = AlertRule(
            name=name,
            owner_user_id=owner_of(actor),
            channel_id=channel.id,
            kinds=_kinds(actor, spec.kinds),
            account_ids=await _accounts(session, actor, spec.account_ids),
            min_level=level,
            renotify_s=spec.renotify_s,
            escalate_after_s=spec.escalate_after_s,
            escalation_channel_id=escalation.id if escalation else None,
            enabled=True,
            created_at=datetime.now(UTC),
        )
        session.add(rule)
        await session.flush()
        shown = _view(rule, channel.name, escalation.name if escalation else None)
        audit(
            session,
            AuditAction.ALERT_RULE_ADDED,
            actor_user_id=actor.user_id if actor else None,
            target=f"rule:{rule.id}",
            detail={
                "name": name,
                "channel": channel.name,
                "kinds": list(rule.kinds),
                "account_ids": list(rule.account_ids),
                "min_level": level.value,
                "renotify_s": rule.renotify_s,
                "escalate_after_s": rule.escalate_after_s,
                "escalation_channel": shown.escalation_channel,
            },
        )
        return shown


def _view(rule: AlertRule, channel: str, escalation: str | None) -> RuleView:
    return RuleView(
        id=rule.id,
        name=rule.name,
        owner_user_id=rule.owner_user_id,
        channel=channel,
        kinds=tuple(AlertKind(k) for k in rule.kinds),
        account_ids=tuple(rule.account_ids),
        min_level=rule.min_level,
        renotify_s=rule.renotify_s,
        escalate_after_s=rule.escalate_after_s,
        escalation_channel=escalation,
        enabled=rule.enabled,
    )


async def list_rules(db: Database, actor: Viewer | None = None) -> list[RuleView]:
    escalation = aliased(AlertChannel)
    stmt = (
        select(AlertRule, AlertChannel.name, escalation.name)
        .join(AlertChannel, AlertChannel.id == AlertRule.channel_id)
        .outerjoin(escalation, escalation.id == AlertRule.escalation_channel_id)
        .order_by(AlertRule.id)
    )
    if owner_of(actor) is not None:
        stmt = stmt.where(AlertRule.owner_user_id == owner_of(actor))
    async with db.read_session() as session:
        return [_view(rule, channel, esc) for rule, channel, esc in await session.execute(stmt)]


async def remove_rule(db: Database, name: str, *, actor: Viewer | None = None) -> RuleView:
    escalation = aliased(AlertChannel)
    async with db.session() as session:
        row = (
            await session.execute(
                select(AlertRule, AlertChannel.name, escalation.name)
                .join(AlertChannel, AlertChannel.id == AlertRule.channel_id)
                .outerjoin(escalation, escalation.id == AlertRule.escalation_channel_id)
                .where(AlertRule.name == name)
            )
        ).first()
        if row is None or not may_manage(actor, row[0].owner_user_id):
            raise NotFound(f"no rule named {name!r}")
        rule, channel, esc = row
        shown = _view(rule, channel, esc)
        await session.delete(rule)
        audit(
            session,
            AuditAction.ALERT_RULE_REMOVED,
            actor_user_id=actor.user_id if actor else None,
            target=f"rule:{rule.id}",
            detail={"name": name},
        )
        return shown
