"""The audit trail's read: risk and admin only, newest first, filtered on the server, a keyset page
at a time, the actor's address beside the id."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.db.models import User
from dashboard.db.session import Database
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Forbidden, InvalidInput
from dashboard.services.queries.audit import audit_trail
from tests.services import T0, World, build_world


async def _trail(db: Database) -> World:
    w = await build_world(db)
    async with db.session() as s:
        alice = await s.get(User, w.alice.user_id)
        risk = await s.get(User, w.risk.user_id)
        assert alice is not None and risk is not None
        for n in range(7):
            audit(
                s,
                AuditAction.LOGIN,
                actor_user_id=alice.id,
                target=alice.email,
                now=T0 + timedelta(minutes=n),
            )
        audit(
            s,
            AuditAction.LOGIN_FAILED,
            target="nobody@x",
            client_addr="10.0.0.9",
            now=T0 + timedelta(minutes=3),
        )
        audit(
            s,
            AuditAction.GUARD_EVENT_ACKNOWLEDGED,
            actor_user_id=risk.id,
            target="guard_event:12",
            detail={"via": "page"},
            now=T0 + timedelta(minutes=3),
        )
    return w


async def test_risk_reads_the_trail_newest_first_a_page_at_a_time(database: Database) -> None:
    w = await _trail(database)
    whole = await audit_trail(database, w.risk, limit=500)
    assert len(whole.entries) == 9 and whole.next_cursor is None
    keys = [(e.created_at, e.id) for e in whole.entries]
    assert keys == sorted(keys, reverse=True)
    seen, cursor = [], None
    for _ in range(10):
        page = await audit_trail(database, w.risk, limit=2, cursor=cursor)
        seen.extend(e.id for e in page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [e.id for e in whole.entries]
    acked = next(e for e in whole.entries if e.action == "guard_event_acknowledged")
    assert acked.actor_user_id == w.risk.user_id and acked.actor_email == "rita@x"
    assert acked.detail == {"via": "page"}
    anonymous = next(e for e in whole.entries if e.action == "login_failed")
    assert anonymous.actor_email is None and anonymous.client_addr == "10.0.0.9"


async def test_filters_by_person_action_target_and_time(database: Database) -> None:
    w = await _trail(database)
    by_alice = await audit_trail(database, w.admin, actor="ALICE@x")
    assert len(by_alice.entries) == 7 and {e.action for e in by_alice.entries} == {"login"}
    failed = await audit_trail(database, w.risk, action="login_failed")
    assert [e.target for e in failed.entries] == ["nobody@x"]
    target = await audit_trail(database, w.risk, target="guard_event:12")
    assert [e.action for e in target.entries] == ["guard_event_acknowledged"]
    window = await audit_trail(
        database, w.risk, since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=4)
    )
    assert len(window.entries) == 3  # alice's 4th login, the failed one and the acknowledgement
    with pytest.raises(InvalidInput):
        await audit_trail(database, w.risk, target="x" * 300)


async def test_traders_are_refused(database: Database) -> None:
    w = await _trail(database)
    with pytest.raises(Forbidden):
        await audit_trail(database, w.alice)


async def test_filters_by_the_account_an_action_concerns(database: Database) -> None:
    """The account comes from the target (`account:12`) or the detail's `account_id` (a real guard
    acknowledgement names it), so every change to an account is found under it and no other."""
    from dashboard.services.guard_actions import acknowledge_guard_event
    from tests.services import add_guard_event

    w = await _trail(database)
    async with database.session() as s:
        event_id = (await add_guard_event(s, w.a2, T0)).id
        audit(s, AuditAction.LIMITS_CHANGED, actor_user_id=w.risk.user_id, target=f"account:{w.a1}", now=T0)
        audit(s, AuditAction.HWM_RESET, actor_user_id=w.risk.user_id, target=f"account:{w.b1}", now=T0)
        audit(s, AuditAction.LOGIN, target="account:x", detail={"account_id": True}, now=T0)
    await acknowledge_guard_event(database, w.risk, event_id)
    on_a1 = await audit_trail(database, w.risk, account_id=w.a1)
    assert [(e.action, e.account_id) for e in on_a1.entries] == [("limits_changed", w.a1)]
    on_a2 = await audit_trail(database, w.risk, account_id=w.a2)
    assert [(e.action, e.target) for e in on_a2.entries] == [
        ("guard_event_acknowledged", f"guard_event:{event_id}")
    ]
    everything = await audit_trail(database, w.risk, limit=500)
    assert {e.account_id for e in everything.entries} == {None, w.a1, w.a2, w.b1}
    assert next(e for e in everything.entries if e.target == "account:x").account_id is None
