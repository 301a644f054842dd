"""The dashboard as it was (`services.queries.as_of`), on both backends.

The history is written through the real ingestion services (equity snapshots, syncs, a platform
fill, the leader's silence check), in time order, and the live reads are captured at a few
moments while it is written. The as-of reads, asked afterwards, must give what the live reads said
at those moments; the scenarios of the brief are then checked with hand-computed numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from dashboard.db.models import AuditLog, EquityHourly, EquitySnapshot, GuardEvent, User
from dashboard.db.session import Database
from dashboard.domain.enums import DivergenceKind, Health, Level, Resolution, Role, Severity, SyncStatus
from dashboard.services.alerts.silence import mark_silent_accounts
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.positions import record_position_opened
from dashboard.services.ingestion.sync import record_sync
from dashboard.services.queries.as_of import (
    account_guards_at,
    equity_curve_at,
    guard_events_at,
    open_incidents_at,
    open_positions_at,
    reconciliation_status_at,
    risk_wall_at,
)
from dashboard.services.queries.guards import account_guards, equity_curve, guard_events, risk_wall
from dashboard.services.queries.positions import open_positions
from dashboard.services.queries.reconciliation import open_incidents, reconciliation_status
from dashboard.services.retention import run_retention
from dashboard.services.risk_limits import change_limits
from dashboard.services.viewer import Viewer
from tests.factories import DEFAULT_LIMITS, make_account, make_instruments, make_user

DAY = datetime(2026, 11, 2, tzinfo=UTC)  # the trading day shown; the reset is 00:00 UTC
EVE = DAY - timedelta(minutes=5)  # the snapshot before the reset: the day's reference
NOW = DAY + timedelta(days=1)  # "now" for the as-of reads: everything within retention
LATER = DAY + timedelta(days=40)  # "now" once the minute snapshots and sync logs are pruned
RETAINED = timedelta(days=30)


def at(hh: int, mm: int = 0) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm)


# Alice's equity: 10,050 until 10:00, then a drop to 8,400 recovering a unit a minute, then
# 10,000 from 11:00. The HWM is 10,100 (the eve's snapshot) throughout.
def alice_equity(t: datetime) -> int:
    if t < at(10):
        return 10050
    if t < at(11):
        return 8400 + int((t - at(10)).total_seconds() // 60)
    return 10000


EQUITY_TIMES = [EVE] + [at(9) + timedelta(minutes=5 * i) for i in range(37)]  # 09:00 .. 12:00
# Syncs: 501 missing at the broker 09:30-09:45 (one critical incident, escalated at its third
# sighting, resolved at 09:50); a failed sync at 10:05; 501 closed by SL at 10:15 (seen 10:16).
SYNCS: list[tuple[datetime, str]] = [
    (at(9, 1), "held"),
    (at(9, 30), "missing"),
    (at(9, 35), "missing"),
    (at(9, 40), "missing"),
    (at(9, 45), "missing"),
    (at(9, 50), "held"),
    (at(10, 5), "failed"),
    (at(10, 16), "closed"),
    (at(10, 20), "flat"),
]
BOB_CREATED = at(10, 30)
CHECKPOINTS = [at(9, 42), at(10, 6), at(10, 30), at(10, 57), at(11, 30), at(12)]


@dataclass
class History:
    alice: Viewer
    bob: Viewer
    risk: Viewer
    a: int  # Alice's account
    b: int | None = None  # Bob's, created at 10:30
    live: dict[datetime, dict[str, Any]] = field(default_factory=dict)


def broker_501(opened: datetime) -> dict[str, Any]:
    return {
        "identifier": 501,
        "ticket": 501,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": "1.00",
        "price_open": "1.08500",
        "price_current": "1.08600",
        "profit": "100.00",
        "opened_at": opened.isoformat(),
    }


def sync_body(account_id: int, when: datetime, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "sync_id": f"s-{when:%H%M}",
        "taken_at": when.isoformat(),
    }
    if kind == "held":
        body["positions"] = [broker_501(at(9))]
    elif kind == "failed":
        body.update(event_type="sync_failed", error="terminal disconnected")
    elif kind == "closed":
        body["exit_deals"] = [
            {
                "identifier": 501,
                "reason": "sl",
                "price": "1.08000",
                "profit": "-500.00",
                "time": at(10, 15).isoformat(),
            }
        ]
    return body


async def build_history(db: Database, capture: bool = False) -> History:
    """Write the day in time order; with `capture`, keep what the live reads said at each
    checkpoint (after the leader's silence check of that moment)."""
    async with db.session() as s:
        await make_instruments(s)
        alice = await make_user(s, "alice@x", Role.TRADER)
        bob = await make_user(s, "bob@x", Role.TRADER)
        risk = await make_user(s, "rita@x", Role.RISK)
        account = await make_account(
            s, alice, name="Alice", created_at=EVE - timedelta(hours=1), daily_loss_limit_pct=Decimal(5)
        )
        h = History(
            alice=Viewer(alice.id, Role.TRADER),
            bob=Viewer(bob.id, Role.TRADER),
            risk=Viewer(risk.id, Role.RISK),
            a=account.id,
        )
        bob_id = bob.id

    async def create_bob() -> None:
        async with db.session() as s:
            user = await s.get(User, bob_id)
            assert user is not None
            h.b = (await make_account(s, user, name="Bob", created_at=BOB_CREATED)).id

    async def alice_equity_at(t: datetime) -> None:
        balance = "10000.00"
        equity = "10100.00" if t == EVE else f"{alice_equity(t)}.00"
        await record_equity(
            db, {"account_id": h.a, "ts": t.isoformat(), "balance": balance, "equity": equity}
        )

    async def bob_equity_at(t: datetime) -> None:
        assert h.b is not None
        await record_equity(
            db, {"account_id": h.b, "ts": t.isoformat(), "balance": "10000.00", "equity": "10000.00"}
        )

    async def bob_sync_at(t: datetime) -> None:
        assert h.b is not None
        await record_sync(db, {"account_id": h.b, "sync_id": "b-1", "taken_at": t.isoformat()})

    async def fill() -> None:
        await record_position_opened(
            db,
            {
                "account_id": h.a,
                "identifier": 501,
                "ticket": 501,
                "symbol": "EURUSD",
                "side": "buy",
                "volume": "1.00",
                "price_open": "1.08500",
                "opened_at": at(9).isoformat(),
            },
        )

    timeline: list[tuple[datetime, int, Any]] = []
    for t in EQUITY_TIMES:
        timeline.append((t, 1, lambda t=t: alice_equity_at(t)))
    timeline.append((at(9), 0, fill))
    for t, kind in SYNCS:
        timeline.append((t, 2, lambda t=t, kind=kind: record_sync(db, sync_body(h.a, t, kind))))
    timeline.append((BOB_CREATED, 0, create_bob))
    for t in (at(10, 35), at(10, 40)):
        timeline.append((t, 1, lambda t=t: bob_equity_at(t)))
    timeline.append((at(10, 40), 2, lambda: bob_sync_at(at(10, 40))))
    timeline.sort(key=lambda item: (item[0], item[1]))

    pending = list(CHECKPOINTS) if capture else []
    for t, _, write in timeline:
        while pending and pending[0] < t:
            moment = pending.pop(0)
            h.live[moment] = await live_views(db, h, moment)
        await write()
    for moment in pending:
        h.live[moment] = await live_views(db, h, moment)
    return h


async def live_views(db: Database, h: History, moment: datetime) -> dict[str, Any]:
    await mark_silent_accounts(db, watched_since=EVE - timedelta(hours=1), now=moment)
    return {
        "guards": await account_guards(db, h.alice, now=moment),
        "wall": await risk_wall(db, h.risk, now=moment),
        "status": await reconciliation_status(db, h.alice, now=moment),
        "status_all": await reconciliation_status(db, h.risk, now=moment),
        "incidents": await open_incidents(db, h.alice, now=moment),
        "positions": [p.id for p in (await open_positions(db, h.risk, now=moment)).positions],
        "events": (await guard_events(db, h.alice, now=moment)).events,
    }


def one(guards: Any, account_id: int) -> Any:
    (found,) = [g for g in guards.accounts if g.account_id == account_id]
    return found


GAUGE_FIELDS = (
    "balance",
    "equity",
    "hwm",
    "drawdown_pct",
    "max_drawdown_pct",
    "dd_level",
    "day_start_at",
    "daily_loss_pct",
    "daily_loss_level",
    "updated_at",
)


def gauges(state: Any) -> dict[str, Any]:
    return {name: getattr(state, name) for name in GAUGE_FIELDS}


async def test_as_of_reads_give_what_the_live_reads_said_at_that_moment(database: Database) -> None:
    h = await build_history(database, capture=True)
    for moment, live in h.live.items():
        assert await account_guards_at(database, h.alice, moment, now=NOW) == live["guards"], moment
        assert await risk_wall_at(database, h.risk, moment, now=NOW) == live["wall"], moment
        assert await reconciliation_status_at(database, h.alice, moment, now=NOW) == live["status"], moment
        assert await reconciliation_status_at(database, h.risk, moment, now=NOW) == live["status_all"], moment
        assert await open_incidents_at(database, h.alice, moment, now=NOW) == live["incidents"], moment
        positions = await open_positions_at(database, h.risk, moment, now=NOW)
        assert [p.id for p in positions.positions] == live["positions"], moment
        events = await guard_events_at(database, h.alice, moment, now=NOW)
        assert events.events == live["events"], moment
    # The moments chosen do exercise what differs between them.
    assert {len(v["wall"].accounts) for v in h.live.values()} == {1, 2}
    assert {v["status"].health for v in h.live.values()} >= {Health.CRITICAL, Health.DEGRADED, Health.STALE}
    assert any(v["incidents"].incidents for v in h.live.values())
    assert any(g.silent_since is not None for v in h.live.values() for g in v["wall"].accounts)


async def test_a_drawdown_breach_and_its_recovery(database: Database) -> None:
    h = await build_history(database)
    during = one(await risk_wall_at(database, h.risk, at(10, 30), now=NOW), h.a)
    assert during.equity == Decimal("8430.00") and during.hwm == Decimal("10100.00")
    assert during.drawdown_pct == Decimal("16.5347")  # 1,670 / 10,100
    assert during.dd_level is Level.CRITICAL
    assert during.max_drawdown_pct == Decimal("16.8317")  # the 10:00 trough, 1,700 / 10,100
    assert during.updated_at == at(10, 30) and during.day_start_at == DAY
    assert during.daily_loss_pct == Decimal("16.5347")  # from max(10,000 balance, 10,100 equity) at the eve
    assert during.daily_loss_level is Level.CRITICAL  # the limit (505) is breached
    after = one(await risk_wall_at(database, h.risk, at(11, 30), now=NOW), h.a)
    assert after.equity == Decimal("10000.00") and after.drawdown_pct == Decimal("0.9901")
    assert after.dd_level is Level.NORMAL and after.daily_loss_level is Level.NORMAL
    assert after.max_drawdown_pct == Decimal("16.8317")
    before = one(await account_guards_at(database, h.alice, at(9, 59), now=NOW), h.a)
    assert before.dd_level is Level.NORMAL and before.max_drawdown_pct == Decimal("0.4950")
    critical = await risk_wall_at(database, h.risk, at(10, 30), level="critical", now=NOW)
    assert [g.account_id for g in critical.accounts] == [h.a] and critical.as_of == at(10, 30)
    assert (await risk_wall_at(database, h.risk, at(11, 30), level=Level.CRITICAL, now=NOW)).accounts == []
    # Before anything was stored: the state of an account that never reported.
    empty = one(await account_guards_at(database, h.alice, EVE - timedelta(minutes=30), now=NOW), h.a)
    assert (empty.equity, empty.hwm, empty.updated_at, empty.dd_level) == (None, None, None, Level.NORMAL)
    assert empty.drawdown_pct == 0 and empty.open_positions == 0 and empty.last_sync_at is None


async def test_a_position_is_open_between_its_open_and_its_close(database: Database) -> None:
    h = await build_history(database)
    opened = await open_positions_at(database, h.alice, at(10), now=NOW)
    assert [p.broker_position_id for p in opened.positions] == [501]
    p = opened.positions[0]
    # Its P&L at 10:00 was never stored: not today's (the closing deal's -500.00) under a past date.
    assert (p.profit, p.swap, p.price_current, p.commission) == (None, None, None, None)
    assert p.opened_at == at(9) and p.status.value == "open" and opened.as_of == at(10)
    assert (await open_positions_at(database, h.alice, at(10, 20), now=NOW)).positions == []
    assert (await open_positions_at(database, h.alice, at(8, 59), now=NOW)).positions == []
    assert one(await account_guards_at(database, h.alice, at(10, 14), now=NOW), h.a).open_positions == 1
    assert one(await account_guards_at(database, h.alice, at(10, 15), now=NOW), h.a).open_positions == 0


async def test_an_incident_is_open_between_first_seen_and_resolved(database: Database) -> None:
    h = await build_history(database)
    (incident,) = (await open_incidents_at(database, h.alice, at(9, 37), now=NOW)).incidents
    assert incident.kind is DivergenceKind.MISSING_AT_BROKER and incident.severity is Severity.CRITICAL
    assert incident.resolution is Resolution.OPEN and incident.resolved_at is None
    assert incident.first_seen_at == at(9, 30)
    # As it was then: two sightings, not yet escalated (that came with the third, at 09:40).
    assert (incident.occurrences, incident.last_seen_at, incident.escalated_at) == (2, at(9, 35), None)
    (then,) = (await open_incidents_at(database, h.alice, at(9, 40), now=NOW)).incidents
    assert (then.occurrences, then.last_seen_at, then.escalated_at) == (3, at(9, 40), at(9, 40))
    assert (await open_incidents_at(database, h.alice, at(9, 55), now=NOW)).incidents == []
    assert (await open_incidents_at(database, h.alice, at(9, 29), now=NOW)).incidents == []
    assert (await open_incidents_at(database, h.alice, at(9, 40), account_id=h.a, now=NOW)).incidents == [
        then
    ]


async def test_status_totals_as_of_a_moment_are_a_hand_count(database: Database) -> None:
    h = await build_history(database)
    for moment in (at(9, 41), at(10, 6), at(10, 17), at(12)):
        status = await reconciliation_status_at(database, h.alice, moment, now=NOW)
        synced = [t for t, _ in SYNCS if t <= moment]
        assert status.total_syncs == len(synced), moment
        assert status.failed_syncs == sum(kind == "failed" for t, kind in SYNCS if t <= moment), moment
        assert status.last_sync_at == synced[-1] and status.as_of == moment
        assert [e.created_at for e in status.recent_events] == synced[::-1][:5]
    early = await reconciliation_status_at(database, h.alice, at(9, 41), now=NOW)
    assert (early.total_syncs, early.open_incidents, early.open_critical_incidents) == (4, 1, 1)
    assert (early.divergences_detected, early.open_positions_count, early.health) == (1, 1, Health.CRITICAL)
    failed = await reconciliation_status_at(database, h.alice, at(10, 6), now=NOW)
    assert (failed.total_syncs, failed.failed_syncs, failed.last_sync_status) == (7, 1, SyncStatus.FAILED)
    assert failed.health is Health.DEGRADED and failed.open_incidents == 0
    closed = await reconciliation_status_at(database, h.alice, at(10, 17), now=NOW)
    assert (closed.divergences_detected, closed.open_incidents, closed.open_positions_count) == (2, 1, 0)


async def test_beyond_raw_retention_the_gauges_come_from_the_hourly_rollups(database: Database) -> None:
    h = await build_history(database)
    raw_close = await risk_wall_at(database, h.risk, at(10, 57), now=NOW)  # 10:55 closes hour 10
    raw_trough = await risk_wall_at(database, h.risk, at(10), now=NOW)
    raw_status = await reconciliation_status_at(database, h.alice, at(10, 6), now=NOW)
    assert raw_status.total_syncs == 7 and one(raw_close, h.b or 0).silent_since == at(10, 40)

    await run_retention(
        database,
        raw_equity_kept=RETAINED,
        alerts_kept=timedelta(days=180),
        sync_logs_kept=RETAINED,
        now=LATER,
    )
    async with database.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(EquitySnapshot))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(EquityHourly))).scalar_one() > 0

    pruned = await risk_wall_at(database, h.risk, at(10, 57), now=LATER)
    for account_id in (h.a, h.b or 0):
        assert gauges(one(pruned, account_id)) == gauges(one(raw_close, account_id))
    # Hour resolution beyond retention: the last sync is the end of its hour, silence is not judged.
    assert one(pruned, h.a).last_sync_at == at(10) and one(pruned, h.b or 0).silent_since is None
    # Mid-hour, the newest stored snapshot not after 10:30 is the hour's worst moment (10:00).
    mid_hour = one(await risk_wall_at(database, h.risk, at(10, 30), now=LATER), h.a)
    assert gauges(mid_hour) == gauges(one(raw_trough, h.a))
    assert mid_hour.equity == Decimal("8400.00") and mid_hour.dd_level is Level.CRITICAL
    # In a calm hour its worst moment is its first snapshot (equal drawdowns: the earliest); before
    # that, the close of the newest hour with data (the eve).
    calm = one(await account_guards_at(database, h.alice, at(9, 20), now=LATER), h.a)
    assert calm.updated_at == at(9) and calm.equity == Decimal("10050.00")
    night = one(await account_guards_at(database, h.alice, at(8, 30), now=LATER), h.a)
    assert night.updated_at == EVE and night.equity == Decimal("10100.00") and night.drawdown_pct == 0

    # Sync totals: the hours wholly before 10:00 (the part hour's logs are gone); no recent events.
    status = await reconciliation_status_at(database, h.alice, at(10, 6), now=LATER)
    assert (status.total_syncs, status.failed_syncs, status.recent_events) == (6, 0, [])
    assert (status.last_sync_at, status.last_sync_status, status.health) == (at(10), None, Health.STALE)
    assert status.divergences_detected == 1 and status.open_positions_count == 1
    # Sightings beyond the logs' retention: a lower bound (only the first and last sightings' logs stay).
    (incident,) = (await open_incidents_at(database, h.alice, at(9, 42), now=LATER)).incidents
    assert (incident.occurrences, incident.last_seen_at) == (1, at(9, 30))


async def test_the_equity_curve_ends_at_the_moment_shown(database: Database) -> None:
    h = await build_history(database)
    short = await equity_curve_at(database, h.alice, h.a, at(10), at(10, 30), now=NOW)
    assert [p.ts for p in short.points] == [at(10) + timedelta(minutes=5 * i) for i in range(7)]
    assert (short.until, short.as_of, short.downsampled) == (at(10, 30), at(10, 30), False)

    since = DAY - timedelta(days=1)  # 34.5 h: hourly rollups, plus the part hour up to 10:30
    long = await equity_curve_at(database, h.alice, h.a, since, at(10, 30), now=NOW)
    assert long.points[-1].ts == at(10, 30) and long.points[-1].equity == Decimal("8430.00")
    assert max(p.drawdown_pct for p in long.points) == Decimal("16.8317")
    assert all(p.ts <= at(10, 30) for p in long.points) and long.until == at(10, 30)
    # The live read, asked to stop at 10:30, stops at the hour's worst moment (its close is later).
    live = await equity_curve(database, h.alice, h.a, since, at(10, 30), now=NOW)
    assert live.points[-1].ts == at(10)

    pruned = await equity_curve_at(database, h.alice, h.a, since, at(10, 30), now=LATER)
    assert pruned.points[-1].ts == at(10)  # the part hour's rollup: only its worst moment is before 10:30
    assert [p.ts for p in pruned.points if p.ts < at(10)] == [EVE, at(9), at(9, 55)]


async def test_visibility_is_that_of_the_live_reads(database: Database) -> None:
    h = await build_history(database)
    assert h.b is not None
    assert [g.account_id for g in (await account_guards_at(database, h.alice, at(11), now=NOW)).accounts] == [
        h.a
    ]
    assert [g.account_id for g in (await account_guards_at(database, h.bob, at(11), now=NOW)).accounts] == [
        h.b
    ]
    assert {g.account_id for g in (await risk_wall_at(database, h.risk, at(11), now=NOW)).accounts} == {
        h.a,
        h.b,
    }
    # Bob's account did not exist yet at 10:06: left out, and visible-but-not-yet is not "not found".
    assert (await account_guards_at(database, h.bob, at(10, 6), now=NOW)).accounts == []
    assert (await account_guards_at(database, h.bob, at(10, 6), account_id=h.b, now=NOW)).accounts == []
    assert [g.account_id for g in (await risk_wall_at(database, h.risk, at(10, 6), now=NOW)).accounts] == [
        h.a
    ]
    with pytest.raises(NotFound):
        await account_guards_at(database, h.bob, at(11), account_id=h.a, now=NOW)
    with pytest.raises(Forbidden):
        await risk_wall_at(database, h.alice, at(11), now=NOW)
    with pytest.raises(NotFound):
        await open_positions_at(database, h.bob, at(10), account_id=h.a, now=NOW)
    with pytest.raises(NotFound):
        await open_incidents_at(database, h.bob, at(9, 40), account_id=h.a, now=NOW)
    with pytest.raises(NotFound):
        await guard_events_at(database, h.bob, at(11), account_id=h.a, now=NOW)
    with pytest.raises(NotFound):
        await equity_curve_at(database, h.bob, h.a, at(10), at(10, 30), now=NOW)
    assert (await open_positions_at(database, h.bob, at(10), now=NOW)).positions == []
    assert len((await open_positions_at(database, h.alice, at(10), now=NOW)).positions) == 1
    assert (await open_incidents_at(database, h.bob, at(9, 40), now=NOW)).incidents == []
    assert (await guard_events_at(database, h.bob, at(12), now=NOW)).events == []
    assert len((await guard_events_at(database, h.alice, at(12), now=NOW)).events) == 4
    bob_status = await reconciliation_status_at(database, h.bob, at(10, 6), now=NOW)
    assert (bob_status.user_id, bob_status.total_syncs, bob_status.open_positions_count) == (
        h.bob.user_id,
        0,
        0,
    )
    assert bob_status.divergences_detected == 0 and bob_status.health is Health.UNKNOWN
    everyone = await reconciliation_status_at(database, h.risk, at(12), now=NOW)
    assert everyone.user_id is None and everyone.total_syncs == len(SYNCS) + 1


async def test_a_naive_or_future_moment_is_refused(database: Database) -> None:
    h = await build_history(database)
    future = NOW + timedelta(seconds=1)
    naive = at(10).replace(tzinfo=None)
    reads = [
        lambda moment: account_guards_at(database, h.alice, moment, now=NOW),
        lambda moment: risk_wall_at(database, h.risk, moment, now=NOW),
        lambda moment: open_positions_at(database, h.alice, moment, now=NOW),
        lambda moment: open_incidents_at(database, h.alice, moment, now=NOW),
        lambda moment: reconciliation_status_at(database, h.alice, moment, now=NOW),
        lambda moment: guard_events_at(database, h.alice, moment, now=NOW),
        lambda moment: equity_curve_at(database, h.alice, h.a, at(9), moment, now=NOW),
    ]
    for read in reads:
        with pytest.raises(InvalidInput, match="in the future") as too_late:
            await read(future)
        assert too_late.value.field == "at"
        with pytest.raises(InvalidInput, match="timezone-aware") as unzoned:
            await read(naive)
        assert unzoned.value.field == "at"
        await read(NOW)  # now itself is allowed
    # Without `now`, the current time is the limit.
    with pytest.raises(InvalidInput, match="in the future"):
        await account_guards_at(database, h.alice, datetime.now(UTC) + timedelta(minutes=1))


async def test_an_acknowledgement_after_the_moment_had_not_happened_then(database: Database) -> None:
    h = await build_history(database)
    async with database.session() as s:
        await s.execute(
            update(GuardEvent)
            .where(GuardEvent.created_at == at(10))
            .values(acknowledged_by=h.risk.user_id, acknowledged_at=at(10, 20))
        )
    before = (await guard_events_at(database, h.alice, at(10, 10), now=NOW)).events
    after = (await guard_events_at(database, h.alice, at(10, 20), now=NOW)).events
    assert len(before) == len(after) == 2
    assert {(e.acknowledged_by, e.acknowledged_at) for e in before} == {(None, None)}
    assert {(e.acknowledged_by, e.acknowledged_at) for e in after} == {(h.risk.user_id, at(10, 20))}
    daily = await guard_events_at(database, h.alice, at(12), guard_type="daily_loss", now=NOW)
    assert [(e.created_at, e.level) for e in daily.events] == [
        (at(11), Level.NORMAL),
        (at(10), Level.CRITICAL),
    ]


async def test_the_number_of_statements_does_not_grow_with_the_accounts(database: Database) -> None:
    h = await build_history(database)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def counted(read: Any) -> int:
        statements.clear()
        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        try:
            await read()
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", count)
        return len(statements)

    reads = {
        "wall": lambda: risk_wall_at(database, h.risk, at(11, 30), now=NOW),
        "status": lambda: reconciliation_status_at(database, h.risk, at(11, 30), now=NOW),
        "incidents": lambda: open_incidents_at(database, h.risk, at(9, 40), now=NOW),
        "positions": lambda: open_positions_at(database, h.risk, at(10), now=NOW),
    }
    few = {name: await counted(read) for name, read in reads.items()}
    async with database.session() as s:
        owner = await s.get(User, h.alice.user_id)
        assert owner is not None
        extra = [(await make_account(s, owner, name=f"more {n}", created_at=EVE)).id for n in range(8)]
    for account_id in extra:  # each with its own eve and day, as Alice's account
        for t, equity in ((EVE, "10100.00"), (at(9), "9000.00"), (at(11), "9500.00")):
            body = {"account_id": account_id, "ts": t.isoformat(), "balance": "10000.00", "equity": equity}
            await record_equity(database, body)
    many = {name: await counted(read) for name, read in reads.items()}
    assert many == few
    assert len((await risk_wall_at(database, h.risk, at(11, 30), now=NOW)).accounts) == 2 + len(extra)


async def test_the_daily_loss_level_is_the_one_the_page_showed_with_its_hysteresis(
    database: Database,
) -> None:
    h = await build_history(database)
    async with database.session() as s:
        owner = await s.get(User, h.alice.user_id)
        assert owner is not None
        account = await make_account(s, owner, name="Prop", created_at=EVE, daily_loss_limit_pct=Decimal(5))
    # Limit 500 of a 10,000 reference: 325 lost is 65 % of it (warning), 275 is 55 %: a fresh
    # reading would say normal, but the gauge stays warning until under 48 % (80 % of 60 %).
    for t, equity in ((EVE, "10000.00"), (at(9), "9675.00"), (at(9, 5), "9725.00"), (at(9, 10), "9800.00")):
        body = {"account_id": account.id, "ts": t.isoformat(), "balance": "10000.00", "equity": equity}
        await record_equity(database, body)
        if t == at(9, 5):
            live = one(await account_guards(database, h.alice, now=at(9, 7)), account.id)
    then = one(await account_guards_at(database, h.alice, at(9, 7), now=NOW), account.id)
    assert then == live
    assert (then.daily_loss_pct, then.daily_loss_level) == (Decimal("2.7500"), Level.WARNING)
    calm = one(await account_guards_at(database, h.alice, at(9, 12), now=NOW), account.id)
    assert (calm.daily_loss_pct, calm.daily_loss_level) == (Decimal("2.0000"), Level.NORMAL)


async def test_the_gauges_are_judged_by_the_limits_in_force_at_the_moment(database: Database) -> None:
    """Two limit changes after the breach, dated into the day: each moment is judged, and shows,
    the thresholds in force then (the audit rows' `before`), not today's."""
    h = await build_history(database)
    for when, warning, critical in ((at(10, 20), "16", "20"), (at(11), "12", "25")):
        limits = {
            **DEFAULT_LIMITS,
            "daily_loss_limit_pct": "5",  # Alice's own, kept
            "dd_warning_pct": warning,
            "dd_critical_pct": critical,
            "reason": "review",
        }
        await change_limits(database, h.risk, h.a, limits)
        async with database.session() as s:
            newest = select(func.max(AuditLog.id)).where(AuditLog.action == "limits_changed")
            dated = update(AuditLog).where(AuditLog.id == newest.scalar_subquery()).values(created_at=when)
            await s.execute(dated)

    def judged(state: Any) -> tuple[Decimal, Decimal, Decimal, Level]:
        return state.dd_warning_pct, state.dd_critical_pct, state.drawdown_pct, state.dd_level

    # 10:10, before both changes: 10 / 15, and 16.73 % is critical.
    early = one(await account_guards_at(database, h.alice, at(10, 10), now=NOW), h.a)
    assert judged(early) == (Decimal(10), Decimal(15), Decimal("16.7327"), Level.CRITICAL)
    # 10:30, after the first: 16 / 20, and 16.53 % is a warning.
    between = one(await risk_wall_at(database, h.risk, at(10, 30), now=NOW), h.a)
    assert judged(between) == (Decimal(16), Decimal(20), Decimal("16.5347"), Level.WARNING)
    # 11:30, after both: today's 12 / 25; the daily limit, unchanged, is still 5 %.
    late = one(await account_guards_at(database, h.alice, at(11, 30), now=NOW), h.a)
    assert judged(late)[:2] == (Decimal(12), Decimal(25)) and late.daily_loss_limit_pct == Decimal(5)
    live = one(await account_guards(database, h.alice), h.a)
    assert (live.dd_warning_pct, live.dd_critical_pct) == (Decimal(12), Decimal(25))
