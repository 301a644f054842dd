"""Routing rules, ownership, flap control, escalation and acknowledgement of the alert outbox, on
both backends. The channels' far ends are a recording sender (Apprise itself is covered by
test_delivery, test_email and test_rendering): what matters here is which message goes where."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from dashboard.db.models import Alert, AlertDelivery, AlertRule, AuditLog, GuardEvent
from dashboard.db.session import Database
from dashboard.domain.alerts import guard_alert
from dashboard.domain.enums import AlertKind, AlertState, DeliveryStatus, GuardState, GuardType, Level, Role
from dashboard.services.alerts.ack_links import AckLinks
from dashboard.services.alerts.acknowledge import acknowledge_alert
from dashboard.services.alerts.channels import add_channel, remove_channel
from dashboard.services.alerts.delivery import DeliveryConfig, deliver_due, dispatch, escalate_due
from dashboard.services.alerts.rules import RuleSpec, add_rule, list_rules, remove_rule
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import Message
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.viewer import Viewer
from tests.factories import T0, make_account, make_user

SECRETS = ChannelSecrets(Fernet.generate_key().decode())


@dataclass
class Outbox:
    """A recording sender: (channel URL, message) per accepted send."""

    sent: list[tuple[str, Message]] = field(default_factory=list)

    async def __call__(self, url: str, message: Message) -> str | None:
        self.sent.append((url, message))
        return None

    def to(self, url: str) -> list[str]:
        return [m.title for u, m in self.sent if u == url]


@dataclass
class Desk:
    risk: Viewer
    alice: Viewer
    bob: Viewer
    alice_account: int
    bob_account: int


@pytest.fixture
async def desk(database: Database) -> Desk:
    async with database.session() as s:
        risk = await make_user(s, "risk@x", Role.RISK)
        alice = await make_user(s, "alice@x", Role.TRADER)
        bob = await make_user(s, "bob@x", Role.TRADER)
        a = await make_account(s, alice)
        b = await make_account(s, bob)
        return Desk(
            Viewer(risk.id, Role.RISK), Viewer(alice.id, Role.TRADER), Viewer(bob.id, Role.TRADER), a.id, b.id
        )


async def raise_alert(
    db: Database,
    account_id: int | None,
    owner: int | None,
    at: datetime,
    level: Level = Level.CRITICAL,
    state: AlertState = AlertState.RAISED,
    guard: GuardType = GuardType.DRAWDOWN,
) -> int:
    guard_state = GuardState.TRIGGERED if state is AlertState.RAISED else GuardState.CLEARED
    facts = guard_alert(
        guard, guard_state, level, account_id=account_id, symbol=None if account_id else "EURUSD"
    )
    async with db.session() as s:
        alert = Alert(
            key=facts.key,
            kind=facts.kind,
            state=facts.state,
            level=level,
            account_id=account_id,
            user_id=owner,
            title=f"{guard.value} {state.value} {level.value} on {account_id} at {at:%H:%M:%S}",
            created_at=at,
        )
        s.add(alert)
        await s.flush()
        return alert.id


async def run(db: Database, outbox: Outbox, at: datetime) -> None:
    """One round of the leader's delivery at `at`."""
    await dispatch(db, now=at)
    await escalate_due(db, now=at)
    await deliver_due(db, DeliveryConfig(SECRETS, outbox, 3), now=lambda: at)


async def test_a_traders_rule_reaches_only_the_traders_own_accounts(database: Database, desk: Desk) -> None:
    outbox = Outbox()
    await add_channel(database, SECRETS, "alice-phone", "json://alice.example/hook", actor=desk.alice)
    await add_channel(database, SECRETS, "team", "json://team.example/hook", actor=desk.risk)
    await raise_alert(database, desk.alice_account, desk.alice.user_id, T0)
    await raise_alert(database, desk.bob_account, desk.bob.user_id, T0)
    await raise_alert(database, None, None, T0, guard=GuardType.STALE_QUOTE)  # a market guard: everybody's
    await run(database, outbox, T0)
    alice_titles = outbox.to("json://alice.example/hook")
    assert len(alice_titles) == 2 and all("account" not in t for t in alice_titles)
    assert len(outbox.to("json://team.example/hook")) == 3
    async with database.read_session() as s:
        to_alice = (
            await s.execute(
                select(Alert.account_id)
                .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
                .where(AlertDelivery.channel_id == 1)
            )
        ).scalars()
        assert desk.bob_account not in set(to_alice)


async def test_a_trader_cannot_name_another_traders_account_or_channel(
    database: Database, desk: Desk
) -> None:
    await add_channel(database, SECRETS, "alice-phone", "json://alice.example/hook", actor=desk.alice)
    await add_channel(database, SECRETS, "bob-phone", "json://bob.example/hook", actor=desk.bob)
    with pytest.raises(InvalidInput, match="account_ids: no account"):
        await add_rule(
            database, RuleSpec("spy", "alice-phone", account_ids=[desk.bob_account]), actor=desk.alice
        )
    with pytest.raises(InvalidInput, match="channel: no channel named 'bob-phone'"):
        await add_rule(database, RuleSpec("borrow", "bob-phone"), actor=desk.alice)
    with pytest.raises(InvalidInput, match="system"):
        await add_rule(database, RuleSpec("ops", "alice-phone", kinds=["system"]), actor=desk.alice)
    with pytest.raises(NotFound):
        await remove_rule(database, "bob-phone", actor=desk.alice)
    mine = await add_rule(
        database, RuleSpec("mine", "alice-phone", account_ids=[desk.alice_account]), actor=desk.alice
    )
    assert mine.owner_user_id == desk.alice.user_id
    assert [r.name for r in await list_rules(database, desk.alice)] == ["alice-phone", "mine"]
    assert {r.name for r in await list_rules(database, desk.risk)} == {"alice-phone", "bob-phone", "mine"}
    async with database.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(AlertRule))).scalar_one() == 3


async def test_rules_choose_kinds_levels_and_accounts(database: Database, desk: Desk) -> None:
    outbox = Outbox()
    await add_channel(database, SECRETS, "pager", "json://pager.example/", actor=desk.risk, with_rule=False)
    await add_rule(
        database,
        RuleSpec(
            "bob-critical", "pager", kinds=["guard"], account_ids=[desk.bob_account], min_level="critical"
        ),
        actor=desk.risk,
    )
    await raise_alert(database, desk.bob_account, desk.bob.user_id, T0, level=Level.WARNING)
    await raise_alert(database, desk.alice_account, desk.alice.user_id, T0, level=Level.CRITICAL)
    wanted = await raise_alert(database, desk.bob_account, desk.bob.user_id, T0, guard=GuardType.DAILY_LOSS)
    await run(database, outbox, T0)
    async with database.read_session() as s:
        routed = list((await s.execute(select(AlertDelivery.alert_id))).scalars())
    assert routed == [wanted]


async def test_flapping_is_held_for_the_renotify_interval_and_dropped_if_it_resolved(
    database: Database, desk: Desk
) -> None:
    outbox = Outbox()
    url = "json://desk.example/"
    await add_channel(database, SECRETS, "desk", url, actor=desk.risk, renotify_s=300)
    account, owner = desk.alice_account, desk.alice.user_id
    t = T0
    await raise_alert(database, account, owner, t)  # sent
    await raise_alert(database, account, owner, t + timedelta(seconds=10), state=AlertState.RESOLVED)
    await raise_alert(database, account, owner, t + timedelta(seconds=20))  # flap: held
    await raise_alert(database, account, owner, t + timedelta(seconds=30), state=AlertState.RESOLVED)
    last = await raise_alert(database, account, owner, t + timedelta(seconds=40))  # held, stays open
    await run(database, outbox, t + timedelta(seconds=41))
    assert [title.split("] ")[0] for title in outbox.to(url)] == ["[CRITICAL", "[RESOLVED"]
    await run(database, outbox, t + timedelta(seconds=299))
    assert len(outbox.to(url)) == 2  # still within the interval
    await run(database, outbox, t + timedelta(seconds=301))
    titles = outbox.to(url)
    assert len(titles) == 3 and titles[-1].startswith("[CRITICAL]") and "00:00" not in titles[-1]
    async with database.read_session() as s:
        statuses = dict(
            (
                await s.execute(
                    select(AlertDelivery.alert_id, AlertDelivery.status).order_by(AlertDelivery.id)
                )
            ).all()
        )
    assert list(statuses.values()) == [
        DeliveryStatus.SENT,
        DeliveryStatus.SENT,
        DeliveryStatus.SUPPRESSED,  # the held flap, resolved before its time
        DeliveryStatus.SUPPRESSED,  # its recovery: nobody was told of the raise
        DeliveryStatus.SENT,  # the raise that stayed, once the interval had passed
    ]
    assert statuses[last] is DeliveryStatus.SENT


async def test_a_higher_level_is_never_held(database: Database, desk: Desk) -> None:
    outbox = Outbox()
    await add_channel(database, SECRETS, "desk", "json://desk.example/", actor=desk.risk, renotify_s=300)
    account, owner = desk.alice_account, desk.alice.user_id
    await raise_alert(database, account, owner, T0, level=Level.WARNING)
    await raise_alert(database, account, owner, T0 + timedelta(seconds=5), level=Level.CRITICAL)
    await run(database, outbox, T0 + timedelta(seconds=6))
    assert [t.split("]")[0] for t in outbox.to("json://desk.example/")] == ["[WARNING", "[CRITICAL"]


async def test_an_unacknowledged_critical_alert_escalates_and_an_acknowledged_one_does_not(
    database: Database, desk: Desk
) -> None:
    outbox = Outbox()
    await add_channel(database, SECRETS, "desk", "json://desk.example/", actor=desk.risk, with_rule=False)
    await add_channel(database, SECRETS, "duty", "json://duty.example/", actor=desk.risk, with_rule=False)
    await add_rule(
        database,
        RuleSpec("critical", "desk", min_level="critical", escalate_after_s=600, escalation_channel="duty"),
        actor=desk.risk,
    )
    ignored = await raise_alert(database, desk.alice_account, desk.alice.user_id, T0)
    seen = await raise_alert(database, desk.bob_account, desk.bob.user_id, T0)
    await run(database, outbox, T0)
    assert len(outbox.to("json://desk.example/")) == 2
    acked = await acknowledge_alert(database, desk.risk, seen)
    assert acked.changed and acked.acknowledged_by == desk.risk.user_id
    await run(database, outbox, T0 + timedelta(seconds=599))
    assert outbox.to("json://duty.example/") == []  # not yet
    await run(database, outbox, T0 + timedelta(seconds=601))
    await run(database, outbox, T0 + timedelta(seconds=700))  # and only once
    escalated = [m for u, m in outbox.sent if u == "json://duty.example/"]
    assert len(escalated) == 1 and escalated[0].title.startswith("[ESCALATED CRITICAL]")
    assert escalated[0].key == f"alert-{ignored}-channel-2-escalation"
    async with database.read_session() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "alert_acknowledged"))).scalars()
        assert [(a.target, a.actor_user_id) for a in audit] == [(f"alert:{seen}", desk.risk.user_id)]


async def test_a_resolved_alert_does_not_escalate(database: Database, desk: Desk) -> None:
    outbox = Outbox()
    await add_channel(database, SECRETS, "desk", "json://desk.example/", actor=desk.risk, with_rule=False)
    await add_channel(database, SECRETS, "duty", "json://duty.example/", actor=desk.risk, with_rule=False)
    await add_rule(
        database, RuleSpec("all", "desk", escalate_after_s=60, escalation_channel="duty"), actor=desk.risk
    )
    await raise_alert(database, desk.alice_account, desk.alice.user_id, T0)
    await raise_alert(
        database,
        desk.alice_account,
        desk.alice.user_id,
        T0 + timedelta(seconds=30),
        level=Level.NORMAL,
        state=AlertState.RESOLVED,
    )
    await run(database, outbox, T0 + timedelta(seconds=120))
    assert outbox.to("json://duty.example/") == []


async def test_acknowledging_follows_ownership_and_keeps_the_first(database: Database, desk: Desk) -> None:
    bobs = await raise_alert(database, desk.bob_account, desk.bob.user_id, T0)
    with pytest.raises(NotFound):
        await acknowledge_alert(database, desk.alice, bobs)
    first = await acknowledge_alert(database, desk.bob, bobs, via="link")
    again = await acknowledge_alert(database, desk.risk, bobs)
    assert first.changed and not again.changed and again.acknowledged_by == desk.bob.user_id
    async with database.read_session() as s:
        acks = select(AuditLog.detail).where(AuditLog.action == "alert_acknowledged")
        details = (await s.execute(acks)).scalars()
        assert [d["via"] for d in details if d] == ["link"]


async def test_a_recovery_or_a_raise_that_recovered_has_nothing_to_acknowledge(
    database: Database, desk: Desk
) -> None:
    raised = await raise_alert(database, desk.bob_account, desk.bob.user_id, T0)
    recovery = await raise_alert(
        database, desk.bob_account, desk.bob.user_id, T0, level=Level.NORMAL, state=AlertState.RESOLVED
    )
    with pytest.raises(InvalidInput, match="raised"):
        await acknowledge_alert(database, desk.bob, recovery)
    with pytest.raises(InvalidInput, match="resolved since"):
        await acknowledge_alert(database, desk.bob, raised)
    async with database.read_session() as s:
        assert (
            await s.execute(select(AuditLog).where(AuditLog.action == "alert_acknowledged"))
        ).first() is None


async def test_acknowledging_an_alert_acknowledges_its_guard_event(database: Database, desk: Desk) -> None:
    async with database.session() as s:
        event = GuardEvent(
            account_id=desk.alice_account,
            user_id=desk.alice.user_id,
            guard_type=GuardType.DRAWDOWN,
            level=Level.CRITICAL,
            state=GuardState.TRIGGERED,
            message="drawdown critical",
            created_at=T0,
        )
        s.add(event)
        await s.flush()
        alert = Alert(
            key=f"guard:drawdown:account:{desk.alice_account}",
            kind=AlertKind.GUARD,
            state=AlertState.RAISED,
            level=Level.CRITICAL,
            account_id=desk.alice_account,
            user_id=desk.alice.user_id,
            guard_event_id=event.id,
            title="drawdown critical",
            created_at=T0,
        )
        s.add(alert)
        await s.flush()
        alert_id, event_id = alert.id, event.id
    await acknowledge_alert(database, desk.alice, alert_id)
    async with database.read_session() as s:
        stored = await s.get(GuardEvent, event_id)
        assert stored is not None and stored.acknowledged_by == desk.alice.user_id


async def test_removing_a_channel_removes_its_rules_and_stops_escalating_to_it(
    database: Database, desk: Desk
) -> None:
    await add_channel(database, SECRETS, "desk", "json://desk.example/", actor=desk.risk)
    await add_channel(database, SECRETS, "duty", "json://duty.example/", actor=desk.risk)
    await add_rule(
        database, RuleSpec("esc", "desk", escalate_after_s=60, escalation_channel="duty"), actor=desk.risk
    )
    await remove_channel(database, "duty", actor=desk.risk)
    rules = {r.name: r for r in await list_rules(database)}
    assert set(rules) == {"desk", "esc"} and rules["esc"].escalation_channel is None


def test_an_acknowledgement_link_names_its_alert_and_expires() -> None:
    links = AckLinks(b"k" * 32, "https://risk.example.com/")
    url = links.url(42)
    assert url is not None and url.startswith("https://risk.example.com/alerts/ack?token=")
    token = links.token(42, now=T0)
    assert links.alert_id(token, now=T0 + timedelta(hours=23)) == 42
    with pytest.raises(InvalidInput, match="expired"):
        links.alert_id(token, now=T0 + timedelta(hours=25))
    with pytest.raises(InvalidInput, match="not valid"):
        AckLinks(b"x" * 32, None).alert_id(token, now=T0)
    assert AckLinks(b"k" * 32, None).url(42) is None


async def test_deliveries_go_several_at_once_but_a_recovery_never_overtakes_its_raise(
    database: Database, desk: Desk
) -> None:
    sent: list[str] = []
    jitter = random.Random(7)

    async def slow_channel(url: str, message: Message) -> str | None:
        await asyncio.sleep(jitter.uniform(0, 0.02))  # receivers answer in their own time
        sent.append(message.title)
        return None

    await add_channel(database, SECRETS, "desk", "json://desk.example/", actor=desk.risk, renotify_s=0)
    async with database.session() as s:
        owners = []
        for n in range(12):
            user = await make_user(s, f"t{n}@x", Role.TRADER)
            owners.append((user.id, (await make_account(s, user)).id))
    for owner, account in owners:
        await raise_alert(database, account, owner, T0)
        await raise_alert(database, account, owner, T0, level=Level.NORMAL, state=AlertState.RESOLVED)
    await dispatch(database, now=T0)
    assert await deliver_due(database, DeliveryConfig(SECRETS, slow_channel, 3), now=lambda: T0) == 24
    assert len(set(sent)) == 24
    for _, account in owners:
        raised = sent.index(f"[CRITICAL] drawdown raised critical on {account} at 12:00:00")
        resolved = sent.index(f"[RESOLVED] drawdown resolved normal on {account} at 12:00:00")
        assert raised < resolved
