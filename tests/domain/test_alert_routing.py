"""Routing, flap control and an alert's shown status: the pure rules the delivery applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.domain.alerts import (
    Rule,
    Subject,
    alert_status,
    escalations,
    hold_until,
    matches,
    route,
    silent_since,
)
from dashboard.domain.enums import AlertKind, AlertState, DeliveryStatus, Level

T = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def rule(channel: int = 1, **kw: object) -> Rule:
    values: dict[str, object] = {
        "id": channel,
        "channel_id": channel,
        "kinds": frozenset(),
        "account_ids": frozenset(),
        "min_level": Level.WARNING,
        "renotify_s": 300,
    }
    values.update(kw)
    return Rule(**values)  # type: ignore[arg-type]


ALICE_ACCOUNT = Subject(AlertKind.GUARD, Level.CRITICAL, 7, 100)
BOB_ACCOUNT = Subject(AlertKind.GUARD, Level.CRITICAL, 8, 200)
MARKET = Subject(AlertKind.GUARD, Level.CRITICAL, None, None)
SYSTEM = Subject(AlertKind.SYSTEM, Level.CRITICAL, None, None)


def test_a_traders_rule_takes_own_accounts_and_the_market_never_the_system() -> None:
    alices = rule(owner_user_id=100, owner_sees_all=False)
    assert matches(alices, ALICE_ACCOUNT) and matches(alices, MARKET)
    assert not matches(alices, BOB_ACCOUNT) and not matches(alices, SYSTEM)
    # Naming an account does not widen it: ownership is checked on every alert.
    assert not matches(rule(owner_user_id=100, owner_sees_all=False, account_ids=frozenset({8})), BOB_ACCOUNT)
    team = rule()
    assert all(matches(team, s) for s in (ALICE_ACCOUNT, BOB_ACCOUNT, MARKET, SYSTEM))


def test_kinds_levels_and_accounts_narrow_a_rule() -> None:
    assert not matches(rule(kinds=frozenset({AlertKind.SILENCE})), ALICE_ACCOUNT)
    assert not matches(rule(min_level=Level.CRITICAL), Subject(AlertKind.GUARD, Level.WARNING, 7, 100))
    assert matches(rule(account_ids=frozenset({7})), ALICE_ACCOUNT)
    assert not matches(rule(account_ids=frozenset({7})), MARKET)


def test_a_channel_of_several_rules_gets_one_delivery_with_the_shortest_interval() -> None:
    assert route([rule(1, renotify_s=300), rule(1, renotify_s=60), rule(2, renotify_s=0)], ALICE_ACCOUNT) == {
        1: 60,
        2: 0,
    }


def test_only_critical_raises_escalate_at_the_earliest_rules_time() -> None:
    rules = [
        rule(1, escalate_after_s=900, escalation_channel_id=9),
        rule(2, escalate_after_s=300, escalation_channel_id=9),
        rule(3),
    ]
    assert escalations(rules, ALICE_ACCOUNT) == {9: 300}
    assert escalations(rules, Subject(AlertKind.GUARD, Level.WARNING, 7, 100)) == {}


def test_flap_control_holds_a_repeat_but_never_a_worse_level() -> None:
    assert hold_until(Level.CRITICAL, T, None, 300) is None
    assert hold_until(Level.CRITICAL, T + timedelta(seconds=20), (Level.CRITICAL, T), 300) == T + timedelta(
        seconds=300
    )
    assert hold_until(Level.WARNING, T + timedelta(seconds=20), (Level.CRITICAL, T), 300) is not None
    assert hold_until(Level.CRITICAL, T + timedelta(seconds=20), (Level.WARNING, T), 300) is None
    assert hold_until(Level.CRITICAL, T + timedelta(seconds=301), (Level.CRITICAL, T), 300) is None
    assert hold_until(Level.CRITICAL, T + timedelta(seconds=1), (Level.CRITICAL, T), 0) is None


def test_silence_needs_the_whole_timeout_since_the_later_of_heard_and_watched() -> None:
    assert silent_since(None, T, 300, T + timedelta(hours=1)) is None
    assert silent_since(T, T, 300, T + timedelta(seconds=299)) is None
    assert silent_since(T, T, 300, T + timedelta(seconds=300)) == T + timedelta(seconds=300)
    watched = T + timedelta(hours=1)
    assert silent_since(T, watched, 300, watched + timedelta(seconds=10)) is None


def test_an_alerts_status_says_the_most_important_thing_first() -> None:
    def status(state: AlertState = AlertState.RAISED, *statuses: DeliveryStatus, **kw: bool) -> str:
        flags = {"acknowledged": False, "resolved_since": False, "dispatched": True, **kw}
        return alert_status(state, deliveries=statuses, **flags)

    assert status(AlertState.RESOLVED, DeliveryStatus.SENT) == "resolved"
    assert status(AlertState.RAISED, DeliveryStatus.DEAD, resolved_since=True) == "resolved"
    assert status(AlertState.RAISED, DeliveryStatus.DEAD, acknowledged=True) == "acknowledged"
    assert status(AlertState.RAISED, DeliveryStatus.SENT, DeliveryStatus.DEAD) == "failed"
    assert status(AlertState.RAISED, DeliveryStatus.SENT, DeliveryStatus.PENDING) == "pending"
    assert status(AlertState.RAISED, DeliveryStatus.SUPPRESSED) == "suppressed"
    assert status(AlertState.RAISED, DeliveryStatus.SENT, DeliveryStatus.SUPPRESSED) == "sent"
    assert status(AlertState.RAISED) == "unrouted"
    assert status(AlertState.RAISED, dispatched=False) == "pending"
