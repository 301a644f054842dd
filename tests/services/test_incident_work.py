"""Incidents as work items on both backends: each transition (acknowledge, assign, comment, resolve
with a required note) with its audit rows and counters, the trader's refusals (403 for the risk
desk's actions on their own incidents, 404 for anybody else's), the bulk actions, the reopen of a
person's resolution by a real sync (`record_sync`) of the same divergence, and the reads (detail,
stats, assignable people, state and assignee in the lists)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import (
    AccountRiskState,
    Alert,
    AuditLog,
    DivergenceIncident,
    IncidentComment,
)
from dashboard.db.session import Database
from dashboard.domain.enums import AlertState, DivergenceKind, IncidentState, Resolution, Role, Severity, Side
from dashboard.services.audit import AuditAction
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.incident_work import (
    acknowledge_incident,
    assign_incident,
    bulk_incidents,
    comment_incident,
    resolve_incident,
)
from dashboard.services.ingestion.sync import record_sync
from dashboard.services.queries import incident_work, reconciliation
from dashboard.services.touched import Family
from dashboard.services.viewer import Viewer
from tests.factories import T0, make_account, make_instruments, make_position, make_user
from tests.services import add_incident
from tests.services.test_query_count import count_statements

SYNC_AT = T0 + timedelta(hours=1)


@dataclass(frozen=True)
class Desk:
    alice: Viewer
    bob: Viewer
    risk: Viewer
    admin: Viewer
    account: int  # Alice's
    bob_account: int
    volume: int  # Alice's volume mismatch on 101 (warning; the broker wins, so it goes by itself)
    missing: int  # Alice's position 105 missing at the broker (critical; stays while it is missing)
    bob_incident: int


def snapshot(account_id: int, sync_id: str, at: datetime, volume: str = "0.50") -> dict[str, Any]:
    """Alice's broker: 101 with `volume` (the book says 1.00), 105 gone without an exit deal."""
    return {
        "account_id": account_id,
        "sync_id": sync_id,
        "taken_at": at.isoformat(),
        "positions": [
            {
                "identifier": 101,
                "ticket": 101,
                "symbol": "EURUSD",
                "side": "buy",
                "volume": volume,
                "price_open": "1.08500",
                "price_current": "1.08600",
                "opened_at": T0.isoformat(),
            }
        ],
    }


async def build_desk(db: Database) -> Desk:
    async with db.session() as s:
        await make_instruments(s)
        alice = await make_user(s, "alice@x", Role.TRADER)
        bob = await make_user(s, "bob@x", Role.TRADER)
        risk = await make_user(s, "rita@x", Role.RISK)
        admin = await make_user(s, "adam@x", Role.ADMIN)
        gone = await make_user(s, "gone@x", Role.RISK)
        gone.is_active = False
        account = await make_account(s, alice, name="Alice USD")
        bob_account = await make_account(s, bob, name="Bob USD")
        await make_position(s, account, 101, "EURUSD")
        await make_position(s, account, 105, "USDJPY", side=Side.SELL, price_open=Decimal("155.000"))
        bob_incident = await add_incident(s, bob_account.id, T0)
        ids = (alice.id, bob.id, risk.id, admin.id, account.id, bob_account.id, bob_incident.id)
    await record_sync(db, snapshot(ids[4], "s1", SYNC_AT))
    async with db.read_session() as s:
        rows = {
            i.kind: i.id
            for i in (
                await s.execute(select(DivergenceIncident).where(DivergenceIncident.account_id == ids[4]))
            ).scalars()
        }
    assert set(rows) == {DivergenceKind.VOLUME_MISMATCH, DivergenceKind.MISSING_AT_BROKER}
    return Desk(
        alice=Viewer(ids[0], Role.TRADER),
        bob=Viewer(ids[1], Role.TRADER),
        risk=Viewer(ids[2], Role.RISK),
        admin=Viewer(ids[3], Role.ADMIN),
        account=ids[4],
        bob_account=ids[5],
        volume=rows[DivergenceKind.VOLUME_MISMATCH],
        missing=rows[DivergenceKind.MISSING_AT_BROKER],
        bob_incident=ids[6],
    )


async def incident(db: Database, incident_id: int) -> DivergenceIncident:
    async with db.read_session() as s:
        row = await s.get(DivergenceIncident, incident_id)
    assert row is not None
    return row


async def counters(db: Database, account_id: int) -> tuple[int, int]:
    async with db.read_session() as s:
        state = await s.get(AccountRiskState, account_id)
    assert state is not None
    return state.open_incidents, state.open_critical_incidents


async def audit_rows(db: Database, action: AuditAction | None = None) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.action.like("incident_%")).order_by(AuditLog.id)
    if action is not None:
        stmt = stmt.where(AuditLog.action == action.value)
    async with db.read_session() as s:
        return list((await s.execute(stmt)).scalars())


async def snapshot_of(db: Database) -> list[tuple[Any, ...]]:
    """Everything a work-item write may change, to prove a refused one changed nothing."""
    async with db.read_session() as s:
        incidents = [
            (i.id, i.resolution, i.acknowledged_at, i.assignee_user_id, i.resolved_by, i.resolution_note)
            for i in (await s.execute(select(DivergenceIncident).order_by(DivergenceIncident.id))).scalars()
        ]
        comments = (await s.execute(select(func.count()).select_from(IncidentComment))).scalar_one()
        audits = (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one()
        states = [
            (r.account_id, r.open_incidents, r.open_critical_incidents)
            for r in (
                await s.execute(select(AccountRiskState).order_by(AccountRiskState.account_id))
            ).scalars()
        ]
    return [*incidents, comments, audits, *states]


# ---- acknowledge


async def test_acknowledge_once_audited_and_idempotent(database: Database) -> None:
    desk = await build_desk(database)
    done = await acknowledge_incident(database, desk.risk, desk.missing, client_addr="10.0.0.7")
    assert (done.changed, done.state) == (True, IncidentState.ACKNOWLEDGED)
    assert {(Family.INCIDENTS, "all"), (Family.INCIDENTS, f"u{desk.alice.user_id}")} <= done.touched.items
    again = await acknowledge_incident(database, desk.admin, desk.missing)
    assert (again.changed, again.state) == (False, IncidentState.ACKNOWLEDGED)
    assert not again.touched
    row = await incident(database, desk.missing)
    assert row.acknowledged_by == desk.risk.user_id and row.acknowledged_at is not None
    (entry,) = await audit_rows(database, AuditAction.INCIDENT_ACKNOWLEDGED)
    assert (entry.actor_user_id, entry.target, entry.client_addr) == (
        desk.risk.user_id,
        f"incident:{desk.missing}",
        "10.0.0.7",
    )
    assert entry.detail is not None and entry.detail["account_id"] == desk.account
    assert (entry.detail["from"], entry.detail["to"]) == ("open", "acknowledged")


async def test_a_trader_may_not_acknowledge_own_and_cannot_see_anybody_elses(database: Database) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(Forbidden):
        await acknowledge_incident(database, desk.alice, desk.missing)
    with pytest.raises(NotFound):
        await acknowledge_incident(database, desk.bob, desk.missing)
    with pytest.raises(NotFound):
        await acknowledge_incident(database, desk.risk, 10**9)
    assert await snapshot_of(database) == before


# ---- assign


async def test_assign_reassign_and_unassign_audit_from_and_to(database: Database) -> None:
    desk = await build_desk(database)
    first = await assign_incident(database, desk.risk, desk.volume, "ADAM@x")
    assert (first.changed, first.assignee, first.state) == (True, "adam@x", IncidentState.OPEN)
    same = await assign_incident(database, desk.risk, desk.volume, "adam@x")
    assert not same.changed
    await assign_incident(database, desk.admin, desk.volume, "rita@x")
    gone = await assign_incident(database, desk.risk, desk.volume, None)
    assert (gone.changed, gone.assignee) == (True, None)
    assert (await incident(database, desk.volume)).assignee_user_id is None
    entries = await audit_rows(database, AuditAction.INCIDENT_ASSIGNED)
    moves = [(e.detail or {}).get("from") for e in entries], [(e.detail or {}).get("to") for e in entries]
    assert moves == ([None, "adam@x", "rita@x"], ["adam@x", "rita@x", None])
    assert {(e.detail or {}).get("account_id") for e in entries} == {desk.account}
    assert [e.actor_user_id for e in entries] == [desk.risk.user_id, desk.admin.user_id, desk.risk.user_id]


@pytest.mark.parametrize("email", ["alice@x", "gone@x", "nobody@x"])
async def test_only_an_active_risk_or_admin_user_can_be_the_assignee(database: Database, email: str) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(InvalidInput) as caught:
        await assign_incident(database, desk.risk, desk.volume, email)
    assert caught.value.field == "assignee_email"
    assert await snapshot_of(database) == before


async def test_a_trader_may_not_assign(database: Database) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(Forbidden):
        await assign_incident(database, desk.alice, desk.volume, "rita@x")
    with pytest.raises(NotFound):
        await assign_incident(database, desk.bob, desk.volume, "rita@x")
    assert await snapshot_of(database) == before


# ---- comment


async def test_comments_by_the_owner_and_the_desk_in_order_with_authors(database: Database) -> None:
    desk = await build_desk(database)
    mine = await comment_incident(database, desk.alice, desk.missing, "  I closed it on my phone  ")
    assert mine.touched.items == {(Family.INCIDENTS, "all"), (Family.INCIDENTS, f"u{desk.alice.user_id}")}
    await comment_incident(database, desk.risk, desk.missing, "Checking with the broker")
    detail = await incident_work.incident_detail(database, desk.alice, desk.missing)
    assert [(c.author, c.body) for c in detail.comments] == [
        ("alice@x", "I closed it on my phone"),
        ("rita@x", "Checking with the broker"),
    ]
    entries = await audit_rows(database, AuditAction.INCIDENT_COMMENTED)
    assert [(e.actor_user_id, e.target) for e in entries] == [
        (desk.alice.user_id, f"incident:{desk.missing}"),
        (desk.risk.user_id, f"incident:{desk.missing}"),
    ]
    assert entries[0].detail == {"account_id": desk.account, "comment_id": mine.comment_id, "length": 23}


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 2001, "bell\x07"])
async def test_a_blank_too_long_or_unprintable_comment_is_refused(database: Database, body: str) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(InvalidInput) as caught:
        await comment_incident(database, desk.risk, desk.missing, body)
    assert caught.value.field == "body"
    assert await snapshot_of(database) == before


async def test_a_trader_cannot_comment_on_someone_elses_incident(database: Database) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(NotFound):
        await comment_incident(database, desk.bob, desk.missing, "not mine")
    with pytest.raises(NotFound):
        await comment_incident(database, desk.alice, desk.bob_incident, "not mine either")
    assert await snapshot_of(database) == before


# ---- resolve


@pytest.mark.parametrize("note", ["", "   "])
async def test_resolving_requires_a_note(database: Database, note: str) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(InvalidInput) as caught:
        await resolve_incident(database, desk.risk, desk.missing, note)
    assert caught.value.field == "note" and "required" in str(caught.value)
    assert await snapshot_of(database) == before


async def test_resolving_a_critical_incident_by_hand(database: Database) -> None:
    desk = await build_desk(database)
    assert await counters(database, desk.account) == (2, 1)
    await acknowledge_incident(database, desk.risk, desk.missing)
    done = await resolve_incident(
        database, desk.admin, desk.missing, " Closed at the broker by hand ", client_addr="10.1.1.1"
    )
    assert (done.changed, done.state) == (True, IncidentState.RESOLVED)
    assert {Family.INCIDENTS, Family.RECONCILIATION, Family.TIMELINE, Family.ALERTS} == {
        family for family, _ in done.touched.items
    }
    row = await incident(database, desk.missing)
    assert (row.resolution, row.resolved_by, row.resolution_note) == (
        Resolution.MANUAL,
        desk.admin.user_id,
        "Closed at the broker by hand",
    )
    assert row.resolved_at is not None
    assert await counters(database, desk.account) == (1, 0)
    async with database.read_session() as s:
        alerts = list((await s.execute(select(Alert).where(Alert.incident_id == desk.missing))).scalars())
    # Raised by the sync that opened it, resolved by the person's resolution.
    assert [a.state for a in sorted(alerts, key=lambda a: a.id)] == [AlertState.RAISED, AlertState.RESOLVED]
    (entry,) = await audit_rows(database, AuditAction.INCIDENT_RESOLVED)
    assert (entry.actor_user_id, entry.target, entry.client_addr) == (
        desk.admin.user_id,
        f"incident:{desk.missing}",
        "10.1.1.1",
    )
    assert entry.detail is not None
    assert (entry.detail["account_id"], entry.detail["from"], entry.detail["to"], entry.detail["note"]) == (
        desk.account,
        "acknowledged",
        "resolved",
        "Closed at the broker by hand",
    )
    detail = await incident_work.incident_detail(database, desk.risk, desk.missing)
    assert (detail.state, detail.resolver) == (IncidentState.RESOLVED, "adam@x")
    assert [c.body for c in detail.comments] == ["Resolved: Closed at the broker by hand"]
    # Done is done: no second resolution, no acknowledging or assigning a resolved incident.
    for action in (
        resolve_incident(database, desk.risk, desk.missing, "again"),
        acknowledge_incident(database, desk.risk, desk.missing),
        assign_incident(database, desk.risk, desk.missing, "rita@x"),
    ):
        with pytest.raises(InvalidInput):
            await action
    assert await counters(database, desk.account) == (1, 0)


async def test_a_warning_resolution_leaves_the_critical_counter_and_alerts_alone(database: Database) -> None:
    desk = await build_desk(database)
    async with database.read_session() as s:
        alerts_before = (await s.execute(select(func.count()).select_from(Alert))).scalar_one()
    done = await resolve_incident(database, desk.risk, desk.volume, "fixed the lot size")
    assert Family.ALERTS in {family for family, _ in done.touched.items}  # named, harmlessly
    assert await counters(database, desk.account) == (1, 1)
    async with database.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(Alert))).scalar_one() == alerts_before


async def test_a_trader_may_not_resolve(database: Database) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(Forbidden):
        await resolve_incident(database, desk.alice, desk.missing, "it is fine")
    with pytest.raises(NotFound):
        await resolve_incident(database, desk.bob, desk.missing, "it is fine")
    assert await snapshot_of(database) == before


# ---- reopen by the sync


async def test_a_sync_that_sees_a_person_resolved_divergence_again_reopens_it(database: Database) -> None:
    desk = await build_desk(database)
    await acknowledge_incident(database, desk.risk, desk.missing)
    await assign_incident(database, desk.risk, desk.missing, "rita@x")
    await resolve_incident(database, desk.risk, desk.missing, "Position closed by the broker, booked")
    assert await counters(database, desk.account) == (1, 0)

    # 105 is still missing at the broker; 101's volume was fixed by the first sync (broker wins).
    second_at = SYNC_AT + timedelta(seconds=30)
    result = await record_sync(database, snapshot(desk.account, "s2", second_at))
    assert (result.new_incidents, result.reopened_incidents, result.resolved_incidents) == (0, 1, 1)
    row = await incident(database, desk.missing)
    assert (row.resolution, row.resolved_at, row.resolved_by, row.resolution_note) == (
        Resolution.OPEN,
        None,
        None,
        None,
    )
    assert (row.reopened_at, row.reopen_count, row.acknowledged_at, row.acknowledged_by) == (
        second_at,
        1,
        None,
        None,
    )
    assert row.occurrences == 2 and row.severity is Severity.CRITICAL
    assert row.assignee_user_id == desk.risk.user_id  # still the assignee's to handle
    assert await counters(database, desk.account) == (1, 1)  # 105 open again; 101 went by itself
    async with database.read_session() as s:
        count = (
            await s.execute(
                select(func.count())
                .select_from(DivergenceIncident)
                .where(DivergenceIncident.account_id == desk.account)
            )
        ).scalar_one()
        alerts = list((await s.execute(select(Alert).where(Alert.incident_id == desk.missing))).scalars())
        state = await s.get(AccountRiskState, desk.account)
    assert count == 2  # reopened, not a new incident
    assert state is not None and state.incidents_total == 2
    assert [a.state for a in sorted(alerts, key=lambda a: a.id)] == [
        AlertState.RAISED,
        AlertState.RESOLVED,
        AlertState.RAISED,  # critical again
    ]
    (reopened,) = await audit_rows(database, AuditAction.INCIDENT_REOPENED)
    assert reopened.actor_user_id is None and reopened.target == f"incident:{desk.missing}"
    assert reopened.detail is not None
    assert (
        reopened.detail["account_id"],
        reopened.detail["reopen_count"],
        reopened.detail["previous_note"],
    ) == (
        desk.account,
        1,
        "Position closed by the broker, booked",
    )
    assert reopened.detail["previous_resolved_by"] == desk.risk.user_id
    # The note stays on the record as a comment; the detail says it was reopened.
    detail = await incident_work.incident_detail(database, desk.risk, desk.missing)
    assert detail.state is IncidentState.OPEN and detail.reopen_count == 1 and detail.resolver is None
    assert [c.body for c in detail.comments] == ["Resolved: Position closed by the broker, booked"]

    # Resolved by hand again and seen again: reopened again, the same row.
    await resolve_incident(database, desk.risk, desk.missing, "really booked now")
    third = await record_sync(database, snapshot(desk.account, "s3", second_at + timedelta(seconds=30)))
    assert third.reopened_incidents == 1
    assert (await incident(database, desk.missing)).reopen_count == 2
    assert await counters(database, desk.account) == (1, 1)


async def test_what_the_sync_resolved_comes_back_as_a_new_incident(database: Database) -> None:
    """Today's behaviour for automatic resolutions: 101's volume mismatch was resolved by the
    second sync; the broker then reports another volume: a new incident, nothing reopened."""
    desk = await build_desk(database)
    await record_sync(database, snapshot(desk.account, "s2", SYNC_AT + timedelta(seconds=30)))
    assert (await incident(database, desk.volume)).resolution is Resolution.BROKER_WINS
    result = await record_sync(
        database, snapshot(desk.account, "s3", SYNC_AT + timedelta(seconds=60), volume="0.30")
    )
    assert (result.new_incidents, result.reopened_incidents) == (1, 0)
    async with database.read_session() as s:
        volumes = list(
            (
                await s.execute(
                    select(DivergenceIncident).where(
                        DivergenceIncident.kind == DivergenceKind.VOLUME_MISMATCH,
                        DivergenceIncident.account_id == desk.account,
                    )
                )
            ).scalars()
        )
    assert len(volumes) == 2 and all(v.reopen_count == 0 for v in volumes)
    assert await audit_rows(database, AuditAction.INCIDENT_REOPENED) == []


async def test_a_person_resolution_the_sync_does_not_contradict_stays(database: Database) -> None:
    desk = await build_desk(database)
    await resolve_incident(database, desk.risk, desk.volume, "the broker's lot size is right")
    result = await record_sync(database, snapshot(desk.account, "s2", SYNC_AT + timedelta(seconds=30)))
    assert result.reopened_incidents == 0
    row = await incident(database, desk.volume)
    assert (row.resolution, row.resolved_by, row.reopen_count) == (Resolution.MANUAL, desk.risk.user_id, 0)
    assert await counters(database, desk.account) == (1, 1)  # only 105, still missing


# ---- bulk


async def test_bulk_acknowledge_and_assign_count_what_changed(database: Database) -> None:
    desk = await build_desk(database)
    ids = [desk.missing, desk.volume, desk.bob_incident, desk.missing]  # a repeat counts once
    await acknowledge_incident(database, desk.risk, desk.volume)
    acked = await bulk_incidents(database, desk.risk, ids, "acknowledge", client_addr="10.2.2.2")
    assert (acked.requested, acked.changed) == (3, 2)
    again = await bulk_incidents(database, desk.admin, ids, "acknowledge")
    assert (again.requested, again.changed) == (3, 0) and not again.touched
    assigned = await bulk_incidents(database, desk.risk, ids, "assign", "adam@x")
    assert assigned.changed == 3
    owners = {scope for _, scope in assigned.touched.items}
    assert owners == {"all", f"u{desk.alice.user_id}", f"u{desk.bob.user_id}"}
    acks = await audit_rows(database, AuditAction.INCIDENT_ACKNOWLEDGED)
    assert sorted(e.target or "" for e in acks) == sorted(
        f"incident:{i}" for i in (desk.volume, desk.missing, desk.bob_incident)
    )
    assert {e.client_addr for e in acks[1:]} == {"10.2.2.2"}
    assigns = await audit_rows(database, AuditAction.INCIDENT_ASSIGNED)
    assert len(assigns) == 3 and {(e.detail or {}).get("to") for e in assigns} == {"adam@x"}
    async with database.read_session() as s:
        rows = list((await s.execute(select(DivergenceIncident))).scalars())
    assert {r.assignee_user_id for r in rows if r.resolution is Resolution.OPEN} == {desk.admin.user_id}
    # Resolved incidents are left alone by a bulk action.
    await resolve_incident(database, desk.risk, desk.volume, "done")
    unassigned = await bulk_incidents(database, desk.risk, [desk.volume, desk.missing], "assign", None)
    assert unassigned.changed == 1
    assert (await incident(database, desk.volume)).assignee_user_id == desk.admin.user_id


async def test_bulk_is_all_or_nothing_on_ids_not_visible(database: Database) -> None:
    desk = await build_desk(database)
    before = await snapshot_of(database)
    with pytest.raises(NotFound):
        await bulk_incidents(database, desk.risk, [desk.missing, 10**9], "acknowledge")
    with pytest.raises(NotFound):  # Bob's incident is not Alice's: 404, before any role check
        await bulk_incidents(database, desk.alice, [desk.missing, desk.bob_incident], "acknowledge")
    with pytest.raises(Forbidden):
        await bulk_incidents(database, desk.alice, [desk.missing, desk.volume], "acknowledge")
    with pytest.raises(Forbidden):
        await bulk_incidents(database, desk.alice, [desk.missing], "assign", "rita@x")
    for ids in ([], list(range(1, 202))):
        with pytest.raises(InvalidInput) as caught:
            await bulk_incidents(database, desk.risk, ids, "acknowledge")
        assert caught.value.field == "ids"
    with pytest.raises(InvalidInput):
        await bulk_incidents(database, desk.risk, [desk.missing], "resolve")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as bad:
        await bulk_incidents(database, desk.risk, [desk.missing], "assign", "alice@x")
    assert bad.value.field == "assignee_email"
    assert await snapshot_of(database) == before


# ---- reads


async def test_lists_show_state_and_assignee(database: Database) -> None:
    desk = await build_desk(database)
    await acknowledge_incident(database, desk.risk, desk.missing)
    await assign_incident(database, desk.risk, desk.missing, "rita@x")
    listed = await reconciliation.open_incidents(database, desk.alice)
    by_id = {i.id: i for i in listed.incidents}
    assert (by_id[desk.missing].state, by_id[desk.missing].assignee) == (IncidentState.ACKNOWLEDGED, "rita@x")
    assert (by_id[desk.volume].state, by_id[desk.volume].assignee) == (IncidentState.OPEN, None)
    await resolve_incident(database, desk.risk, desk.volume, "done")
    history = await reconciliation.incident_history(database, desk.risk, account_id=desk.account)
    states = {i.id: (i.state, i.resolution, i.assignee) for i in history.incidents}
    assert states == {
        desk.missing: (IncidentState.ACKNOWLEDGED, Resolution.OPEN, "rita@x"),
        desk.volume: (IncidentState.RESOLVED, Resolution.MANUAL, None),
    }
    assert '"state":"acknowledged"' in listed.model_dump_json()


async def test_detail_is_the_owners_and_the_desks_only(database: Database) -> None:
    desk = await build_desk(database)
    await acknowledge_incident(database, desk.admin, desk.missing)
    for viewer in (desk.alice, desk.risk, desk.admin):
        detail = await incident_work.incident_detail(database, viewer, desk.missing)
        assert (detail.id, detail.account_id, detail.acknowledger) == (desk.missing, desk.account, "adam@x")
        assert detail.kind is DivergenceKind.MISSING_AT_BROKER and detail.comments == []
    with pytest.raises(NotFound):
        await incident_work.incident_detail(database, desk.bob, desk.missing)
    with pytest.raises(NotFound):
        await incident_work.incident_detail(database, desk.risk, 10**9)


async def test_assignable_people_are_active_risk_and_admin_users(database: Database) -> None:
    desk = await build_desk(database)
    people = await incident_work.assignable_users(database, desk.risk)
    assert [(p.email, p.role) for p in people.users] == [("adam@x", Role.ADMIN), ("rita@x", Role.RISK)]
    with pytest.raises(Forbidden):
        await incident_work.assignable_users(database, desk.alice)


async def test_stats_by_kind_and_account_from_stored_times(database: Database) -> None:
    desk = await build_desk(database)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    async with database.session() as s:
        # Alice's account: two open volume incidents (ages 1 h and 3 h) and one resolved in the
        # window after 10 min; one resolved long ago (not counted). Bob's: one reopened 30 min ago.
        for hours in (1, 3):
            await add_incident(s, desk.account, now - timedelta(hours=hours))
        await add_incident(
            s,
            desk.account,
            now - timedelta(days=2),
            resolution=Resolution.BROKER_WINS,
            resolved_at=now - timedelta(days=2) + timedelta(minutes=10),
        )
        await add_incident(
            s,
            desk.account,
            now - timedelta(days=30),
            resolution=Resolution.BROKER_WINS,
            resolved_at=now - timedelta(days=29),
        )
        await add_incident(
            s,
            desk.bob_account,
            now - timedelta(days=20),
            kind=DivergenceKind.SL_MISMATCH,
            reopened_at=now - timedelta(minutes=30),
            reopen_count=1,
        )
        # The desk's own incidents (first seen at SYNC_AT, before the window) stay out of the way.
        for incident_id in (desk.volume, desk.missing, desk.bob_incident):
            row = await s.get(DivergenceIncident, incident_id)
            assert row is not None
            row.resolution, row.resolved_at = Resolution.BROKER_WINS, SYNC_AT
    everyone = await incident_work.incident_stats(database, desk.risk, days=7, now=now)
    # Open ages [1800 (Bob, since the reopen), 3600, 10800]: median 3600, p90 10800.
    assert (everyone.overall.open.count, everyone.overall.open.median_s, everyone.overall.open.p90_s) == (
        3,
        Decimal(3600),
        Decimal(10800),
    )
    assert (everyone.overall.resolved.count, everyone.overall.resolved.median_s) == (1, Decimal(600))
    kinds = {k.kind: k for k in everyone.by_kind}
    assert set(kinds) == {DivergenceKind.VOLUME_MISMATCH, DivergenceKind.SL_MISMATCH}
    assert kinds[DivergenceKind.VOLUME_MISMATCH].open.median_s == Decimal(3600)  # of [3600, 10800]
    assert kinds[DivergenceKind.SL_MISMATCH].open.p90_s == Decimal(1800)
    assert [a.account_id for a in everyone.by_account] == sorted([desk.account, desk.bob_account])
    alices = await incident_work.incident_stats(database, desk.alice, days=7, now=now)
    assert [a.account_id for a in alices.by_account] == [desk.account]
    assert alices.overall.open.count == 2
    for days in (0, 91):
        with pytest.raises(InvalidInput):
            await incident_work.incident_stats(database, desk.risk, days=days, now=now)


async def test_reads_send_the_same_statements_however_many_rows(database: Database) -> None:
    """No N+1: the detail is two statements (the incident with its people, the comments with their
    authors) and the stats one, for 1 comment or 30 and 3 incidents or 40."""
    desk = await build_desk(database)
    await comment_incident(database, desk.risk, desk.missing, "first")

    async def measure() -> tuple[int, int]:
        with count_statements(database) as detail:
            await incident_work.incident_detail(database, desk.risk, desk.missing)
        with count_statements(database) as stats:
            await incident_work.incident_stats(database, desk.risk)
        return len(detail), len(stats)

    small = await measure()
    for n in range(29):
        await comment_incident(database, desk.alice if n % 2 else desk.admin, desk.missing, f"comment {n}")
    async with database.session() as s:
        for n in range(37):
            await add_incident(s, desk.account, datetime.now(UTC) - timedelta(minutes=n))
    assert small == (2, 1) and await measure() == small
    detail = await incident_work.incident_detail(database, desk.risk, desk.missing)
    assert len(detail.comments) == 30
    assert (await incident_work.incident_stats(database, desk.risk)).overall.open.count == 40
