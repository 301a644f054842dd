"""Which alert an event makes: pure, so the outbox and its tests agree on keys and states.

A raise and its recovery share one key, so a channel can thread them and a receiver can tell a
repeat from a new alert; a level change of the same guard (warning, then critical) is a new raise
under the same key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.domain.enums import (
    LEVEL_RANK,
    AlertKind,
    AlertState,
    DeliveryStatus,
    GuardState,
    GuardType,
    Level,
)


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


def incident_alert(incident_id: int, *, resolved: bool) -> AlertFacts:
    """A critical reconciliation incident, and its resolution."""
    return AlertFacts(
        key=f"incident:{incident_id}",
        kind=AlertKind.INCIDENT,
        state=AlertState.RESOLVED if resolved else AlertState.RAISED,
        level=Level.CRITICAL,
    )


def silence_alert(account_id: int, *, resolved: bool) -> AlertFacts:
    """An account that stopped syncing: critical, because every gauge of it froze."""
    return AlertFacts(
        key=f"silence:account:{account_id}",
        kind=AlertKind.SILENCE,
        state=AlertState.RESOLVED if resolved else AlertState.RAISED,
        level=Level.CRITICAL,
    )


def system_alert(trouble: str, *, resolved: bool) -> AlertFacts:
    """The dashboard's own trouble (`database`, `cache`), as the leader sees it."""
    return AlertFacts(
        key=f"system:{trouble}",
        kind=AlertKind.SYSTEM,
        state=AlertState.RESOLVED if resolved else AlertState.RAISED,
        level=Level.CRITICAL,
    )


def silent_since(
    last_heard: datetime | None, watched_since: datetime, timeout_s: int, now: datetime
) -> datetime | None:
    """When an account became silent, or None if it is not: nothing heard for `timeout_s`. The
    watcher judges only what it watched: after a restart (or a new leader) an account gets the
    whole timeout from `watched_since`, so a dashboard that was itself down does not call every
    account silent at once. An account never heard from is not silent (nothing to miss yet)."""
    if last_heard is None:
        return None
    since = max(last_heard, watched_since) + timedelta(seconds=timeout_s)
    return since if now >= since else None


@dataclass(frozen=True, slots=True)
class Rule:
    """A routing rule as the pure routing sees it. `owner_sees_all` is False for a trader's rule,
    which then reaches that trader's accounts only (and the market guards, which concern all)."""

    id: int
    channel_id: int
    kinds: frozenset[AlertKind]
    account_ids: frozenset[int]
    min_level: Level
    renotify_s: int
    owner_user_id: int | None = None
    owner_sees_all: bool = True
    escalate_after_s: int | None = None
    escalation_channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """What routing needs of an alert: its kind, level and whose account it is about."""

    kind: AlertKind
    level: Level
    account_id: int | None
    account_owner_id: int | None


def matches(rule: Rule, subject: Subject) -> bool:
    if rule.kinds and subject.kind not in rule.kinds:
        return False
    if LEVEL_RANK[subject.level] < LEVEL_RANK[rule.min_level]:
        return False
    if not rule.owner_sees_all:
        if subject.kind is AlertKind.SYSTEM:
            return False
        if subject.account_id is not None and subject.account_owner_id != rule.owner_user_id:
            return False
    return not rule.account_ids or subject.account_id in rule.account_ids


def route(rules: Iterable[Rule], subject: Subject) -> dict[int, int]:
    """Channel id -> re-notify interval (the shortest among the rules that send there)."""
    channels: dict[int, int] = {}
    for rule in rules:
        if matches(rule, subject):
            channels[rule.channel_id] = min(rule.renotify_s, channels.get(rule.channel_id, rule.renotify_s))
    return channels


def escalations(rules: Iterable[Rule], subject: Subject) -> dict[int, int]:
    """Escalation channel id -> seconds after the raise (the earliest among matching rules); only a
    critical raise escalates."""
    due: dict[int, int] = {}
    if subject.level is not Level.CRITICAL:
        return due
    for rule in rules:
        if rule.escalation_channel_id is None or rule.escalate_after_s is None or not matches(rule, subject):
            continue
        channel = rule.escalation_channel_id
        due[channel] = min(rule.escalate_after_s, due.get(channel, rule.escalate_after_s))
    return due


def hold_until(
    level: Level, raised_at: datetime, last_notified: tuple[Level, datetime] | None, renotify_s: int
) -> datetime | None:
    """Flap control: None to send a raise now, else when it may go. A raise within `renotify_s`
    of the last one notified on the same key and channel waits for the interval to pass, unless
    it is a higher level than that one (a warning becoming critical is news)."""
    if last_notified is None or renotify_s <= 0:
        return None
    notified_level, notified_at = last_notified
    if LEVEL_RANK[level] > LEVEL_RANK[notified_level]:
        return None
    until = notified_at + timedelta(seconds=renotify_s)
    return until if until > raised_at else None


def alert_status(
    state: AlertState,
    *,
    acknowledged: bool,
    resolved_since: bool,
    dispatched: bool,
    deliveries: Iterable[DeliveryStatus],
) -> str:
    """The one word the alerts page shows: a recovery, or a raise its recovery followed, is
    `resolved`, then `acknowledged`; else what its deliveries say: not yet routed or any pending
    one `pending`, any dead one `failed`, all suppressed `suppressed`, else `sent`; routed to no
    channel at all is `unrouted` (no rule takes it: worth knowing)."""
    if state is AlertState.RESOLVED or resolved_since:
        return "resolved"
    if acknowledged:
        return "acknowledged"
    statuses = list(deliveries)
    if not dispatched:
        return "pending"
    if not statuses:
        return "unrouted"
    if DeliveryStatus.DEAD in statuses:
        return "failed"
    if DeliveryStatus.PENDING in statuses:
        return "pending"
    if all(s is DeliveryStatus.SUPPRESSED for s in statuses):
        return "suppressed"
    return "sent"


def retry_delay_s(attempt: int, draw: float, *, base_s: float = 2.0, cap_s: float = 600.0) -> float:
    """Seconds before try `attempt + 1` after `attempt` failed ones: exponential (2, 4, 8 … s, at
    most 10 min) with half of it jittered by `draw` in [0, 1), so channels that failed together
    (a receiver that was down) are not all retried in the same instant."""
    ceiling = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + ceiling / 2 * draw


def idempotency_key(alert_id: int, channel_id: int, *, escalation: bool = False) -> str:
    """One per (alert, channel[, escalation]): a receiver that sees it twice knows the second is
    a repeat."""
    return f"alert-{alert_id}-channel-{channel_id}" + ("-escalation" if escalation else "")
