"""Read model (a): counters per viewer, the last five events, health, timeline and incidents."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard.db.models import TradingAccount
from dashboard.db.session import Database
from dashboard.domain.enums import DivergenceKind, Health, Resolution, Severity, SyncStatus
from dashboard.domain.rollups import EPOCH
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.queries.reconciliation import (
    bucket_size_s,
    divergence_counts,
    divergence_timeline,
    open_incidents,
    position_incidents,
    reconciliation_status,
)
from tests.factories import make_position
from tests.services import T0, World, add_incident, add_log, assert_utc, build_world, set_state

NOW = T0 + timedelta(hours=1)


async def _counters(db: Database) -> World:
    w = await build_world(db)
    async with db.session() as s:
        await set_state(
            s,
            w.a1,
            total_syncs=100,
            failed_syncs=2,
            incidents_total=5,
            open_incidents=1,
            open_critical_incidents=0,
            open_positions=3,
            last_sync_at=NOW - timedelta(seconds=30),
        )
        await set_state(
            s,
            w.a2,
            total_syncs=40,
            failed_syncs=1,
            incidents_total=2,
            open_incidents=0,
            open_critical_incidents=0,
            open_positions=1,
            last_sync_at=NOW - timedelta(seconds=10),
        )
        await set_state(
            s,
            w.b1,
            total_syncs=7,
            failed_syncs=0,
            incidents_total=9,
            open_incidents=2,
            open_critical_incidents=1,
            open_positions=4,
            last_sync_at=NOW - timedelta(seconds=5),
        )
    return w


async def test_counters_are_summed_per_viewer(database: Database) -> None:
    w = await _counters(database)
    alice = await reconciliation_status(database, w.alice, now=NOW)
    assert alice.user_id == w.alice.user_id
    assert (alice.total_syncs, alice.failed_syncs, alice.divergences_detected) == (140, 3, 7)
    assert (alice.open_incidents, alice.open_critical_incidents, alice.open_positions_count) == (1, 0, 4)
    assert alice.last_sync_at == NOW - timedelta(seconds=10)

    bob = await reconciliation_status(database, w.bob, now=NOW)
    assert bob.user_id == w.bob.user_id
    assert (bob.total_syncs, bob.failed_syncs, bob.divergences_detected) == (7, 0, 9)
    assert (bob.open_incidents, bob.open_critical_incidents, bob.open_positions_count) == (2, 1, 4)
    assert bob.last_sync_at == NOW - timedelta(seconds=5)

    for viewer in (w.risk, w.admin):
        everyone = await reconciliation_status(database, viewer, now=NOW)
        assert everyone.user_id is None
        assert (everyone.total_syncs, everyone.failed_syncs, everyone.divergences_detected) == (147, 3, 16)
        assert (everyone.open_incidents, everyone.open_critical_incidents) == (3, 1)
        assert everyone.open_positions_count == 8
        assert everyone.last_sync_at == NOW - timedelta(seconds=5)
        assert isinstance(everyone.total_syncs, int)
        assert_utc(everyone.last_sync_at)
        assert everyone.as_of == NOW


async def test_divergences_detected_counts_incidents_not_per_sync_sum(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        logs = [
            await add_log(s, w.a1, NOW - timedelta(seconds=90 - 30 * i), SyncStatus.DIVERGENT, divergences=1)
            for i in range(3)
        ]
        await add_incident(
            s,
            w.a1,
            logs[0].created_at,
            log=logs[0],
            last_log_id=logs[2].id,
            last_seen_at=logs[2].created_at,
            occurrences=3,
        )
        # What ingestion maintains for those three syncs and one incident.
        await set_state(
            s, w.a1, total_syncs=3, incidents_total=1, open_incidents=1, last_sync_at=logs[2].created_at
        )
    status = await reconciliation_status(database, w.alice, now=NOW)
    assert sum(e.divergences for e in status.recent_events) == 3
    assert status.divergences_detected == 1


async def test_last_five_events_newest_first_ties_broken_by_id(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        ids = {}
        for label, offset in [
            ("t1", 70),
            ("t2", 60),
            ("t3", 50),
            ("t4a", 40),
            ("t4b", 40),
            ("t5", 30),
            ("t6", 20),
        ]:
            ids[label] = (
                await add_log(s, w.a1 if label != "t5" else w.a2, NOW - timedelta(seconds=offset))
            ).id
        ids["bob"] = (await add_log(s, w.b1, NOW - timedelta(seconds=1))).id
        await set_state(s, w.a1, total_syncs=6, last_sync_at=NOW - timedelta(seconds=20))
    status = await reconciliation_status(database, w.alice, now=NOW)
    assert [e.id for e in status.recent_events] == [ids[k] for k in ("t6", "t5", "t4b", "t4a", "t3")]
    assert ids["t4b"] > ids["t4a"]
    everyone = await reconciliation_status(database, w.risk, now=NOW)
    assert [e.id for e in everyone.recent_events] == [ids[k] for k in ("bob", "t6", "t5", "t4b", "t4a")]
    bob = await reconciliation_status(database, w.bob, now=NOW)
    assert [e.id for e in bob.recent_events] == [ids["bob"]]
    for event in status.recent_events:
        assert_utc(event.created_at)


async def test_last_sync_status_comes_from_the_newest_event(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        await add_log(s, w.a1, NOW - timedelta(seconds=20), SyncStatus.OK)
        await add_log(s, w.a2, NOW - timedelta(seconds=10), SyncStatus.FAILED, error="timeout")
        # Counters claim ok on both accounts: the event is the exact source.
        await set_state(
            s, w.a1, total_syncs=1, last_sync_at=NOW - timedelta(seconds=20), last_sync_status=SyncStatus.OK
        )
        await set_state(
            s,
            w.a2,
            total_syncs=1,
            failed_syncs=1,
            last_sync_at=NOW - timedelta(seconds=10),
            last_sync_status=SyncStatus.OK,
        )
    status = await reconciliation_status(database, w.alice, now=NOW)
    assert status.last_sync_status is SyncStatus.FAILED
    assert status.recent_events[0].error == "timeout"
    assert status.health is Health.DEGRADED


async def _health_case(db: Database, case: str) -> tuple[World, datetime]:
    w = await build_world(db)
    async with db.session() as s:
        if case == "unknown":
            return w, NOW
        last = NOW - timedelta(seconds=121 if case == "stale" else 120 if case == "edge" else 10)
        status = SyncStatus.FAILED if case == "failed" else SyncStatus.OK
        await add_log(s, w.a1, last, status)
        counters = {"total_syncs": 1, "last_sync_at": last}
        if case in ("critical", "stale"):
            counters |= {"open_incidents": 1, "open_critical_incidents": 1}
        if case == "degraded":
            counters |= {"open_incidents": 2}
        await set_state(s, w.a1, **counters)
    return w, NOW


@pytest.mark.parametrize(
    ("case", "health"),
    [
        ("unknown", Health.UNKNOWN),
        ("stale", Health.STALE),  # 121 s old, even with a critical incident open
        ("edge", Health.HEALTHY),  # exactly 120 s is not older than 120 s
        ("critical", Health.CRITICAL),
        ("degraded", Health.DEGRADED),
        ("failed", Health.DEGRADED),
        ("healthy", Health.HEALTHY),
    ],
)
async def test_health_states(database: Database, case: str, health: Health) -> None:
    w, now = await _health_case(database, case)
    status = await reconciliation_status(database, w.alice, now=now)
    assert status.health is health
    # Bob has no syncs at all whatever Alice's state.
    assert (await reconciliation_status(database, w.bob, now=now)).health is Health.UNKNOWN


async def test_stale_after_is_a_parameter(database: Database) -> None:
    w, now = await _health_case(database, "healthy")  # last sync 10 s ago
    status = await reconciliation_status(database, w.alice, now=now, stale_after=timedelta(seconds=5))
    assert status.health is Health.STALE


async def test_unknown_has_zero_counters(database: Database) -> None:
    w = await build_world(database)
    status = await reconciliation_status(database, w.risk, now=NOW)
    assert status.total_syncs == 0 and status.divergences_detected == 0 and status.open_positions_count == 0
    assert status.last_sync_at is None and status.last_sync_status is None
    assert status.recent_events == []


# ---------------------------------------------------------------- timeline and incidents


async def test_timeline_window_is_half_open_and_ascending(database: Database) -> None:
    w = await build_world(database)
    since, until = T0, T0 + timedelta(hours=1)
    async with database.session() as s:
        before = await add_incident(s, w.a1, since - timedelta(microseconds=1))
        at_since = await add_incident(s, w.a1, since)
        middle = await add_incident(s, w.a2, since + timedelta(minutes=30))
        last_inside = await add_incident(s, w.a1, until - timedelta(microseconds=1))
        at_until = await add_incident(s, w.a1, until)
        bobs = await add_incident(s, w.b1, since + timedelta(minutes=10))
    timeline = await divergence_timeline(database, w.alice, since, until, now=NOW)
    assert [i.id for i in timeline.incidents] == [at_since.id, middle.id, last_inside.id]
    assert before.id not in {i.id for i in timeline.incidents} and at_until.id not in {
        i.id for i in timeline.incidents
    }
    assert timeline.truncated is False
    assert (timeline.since, timeline.until, timeline.account_id) == (since, until, None)
    assert_utc(timeline.incidents[0].first_seen_at)

    everyone = await divergence_timeline(database, w.risk, since, until)
    assert [i.id for i in everyone.incidents] == [at_since.id, bobs.id, middle.id, last_inside.id]

    only_a2 = await divergence_timeline(database, w.alice, since, until, account_id=w.a2)
    assert [i.id for i in only_a2.incidents] == [middle.id]
    assert only_a2.account_id == w.a2


async def test_counts_match_the_timeline_by_bucket_kind_and_severity(database: Database) -> None:
    """The counted timeline is the same incidents as the listed one, in the same half-open window
    and visibility, bucketed by first sighting."""
    w = await build_world(database)
    since, until = T0, T0 + timedelta(hours=24)
    async with database.session() as s:
        for minute in (0, 5, 14, 15, 16, 700, 1439):
            await add_incident(s, w.a1, since + timedelta(minutes=minute))
        await add_incident(s, w.a2, since + timedelta(minutes=5), severity=Severity.CRITICAL)
        await add_incident(s, w.a2, since + timedelta(minutes=6), kind=DivergenceKind.SL_MISMATCH)
        await add_incident(s, w.b1, since + timedelta(minutes=5))
        await add_incident(s, w.a1, until)  # outside: half-open
        await add_incident(s, w.a1, since - timedelta(seconds=1))  # outside
    for viewer in (w.alice, w.risk):
        counts = await divergence_counts(database, viewer, since, until, now=NOW)
        listed = await divergence_timeline(database, viewer, since, until, now=NOW)
        assert counts.bucket_s == 900 and counts.total == len(listed.incidents)
        expected: dict[tuple[datetime, DivergenceKind, Severity], int] = {}
        for i in listed.incidents:
            start = EPOCH + timedelta(seconds=(i.first_seen_at - EPOCH).total_seconds() // 900 * 900)
            key = (start, i.kind, i.severity)
            expected[key] = expected.get(key, 0) + 1
        assert {(c.at, c.kind, c.severity): c.count for c in counts.counts} == expected
        assert [c.at for c in counts.counts] == sorted(c.at for c in counts.counts)
    alice = await divergence_counts(database, w.alice, since, until, now=NOW)
    assert alice.total == 9 and (await divergence_counts(database, w.risk, since, until)).total == 10
    only_a2 = await divergence_counts(database, w.alice, since, until, account_id=w.a2)
    assert only_a2.total == 2
    with pytest.raises(NotFound):
        await divergence_counts(database, w.alice, since, until, account_id=w.b1)
    week = await divergence_counts(database, w.risk, since, since + timedelta(days=7))
    assert week.bucket_s == 7200 and week.total == 11


def test_a_count_timeline_has_at_most_120_buckets() -> None:
    for span in (
        timedelta(minutes=30),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(days=7),
        timedelta(days=90),
    ):
        size = bucket_size_s(T0, T0 + span)
        assert span.total_seconds() / size <= 120 or size == 86400


async def test_timeline_truncation(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        ids = [(await add_incident(s, w.a1, T0 + timedelta(minutes=m))).id for m in range(3)]
    window = (T0, T0 + timedelta(hours=1))
    cut = await divergence_timeline(database, w.alice, *window, limit=2)
    assert [i.id for i in cut.incidents] == ids[:2] and cut.truncated is True
    exact = await divergence_timeline(database, w.alice, *window, limit=3)
    assert [i.id for i in exact.incidents] == ids and exact.truncated is False


async def test_timeline_input_validation(database: Database) -> None:
    w = await build_world(database)
    naive = datetime(2026, 11, 2, 12, 0)
    with pytest.raises(InvalidInput) as error:
        await divergence_timeline(database, w.alice, naive, T0 + timedelta(hours=1))
    assert error.value.field == "since"
    with pytest.raises(InvalidInput) as error:
        await divergence_timeline(database, w.alice, T0, naive + timedelta(hours=1))
    assert error.value.field == "until"
    for until in (T0, T0 - timedelta(seconds=1)):
        with pytest.raises(InvalidInput):
            await divergence_timeline(database, w.alice, T0, until)
    with pytest.raises(InvalidInput):
        await divergence_timeline(database, w.alice, T0, T0 + timedelta(hours=1), limit=0)


async def test_timeline_for_someone_elses_account_is_not_found(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        await add_incident(s, w.b1, T0 + timedelta(minutes=1))
    window = (T0, T0 + timedelta(hours=1))
    with pytest.raises(NotFound) as invisible:
        await divergence_timeline(database, w.alice, *window, account_id=w.b1)
    with pytest.raises(NotFound) as missing:
        await divergence_timeline(database, w.alice, *window, account_id=999_999)
    assert str(invisible.value) == f"account {w.b1} not found"
    assert str(missing.value) == "account 999999 not found"
    assert len((await divergence_timeline(database, w.risk, *window, account_id=w.b1)).incidents) == 1


async def test_open_incidents_newest_first_and_scoped(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        old = await add_incident(s, w.a1, T0)
        new = await add_incident(s, w.a2, T0 + timedelta(minutes=5), severity=Severity.CRITICAL)
        await add_incident(s, w.a1, T0 + timedelta(minutes=9), resolution=Resolution.BROKER_WINS)
        bobs = await add_incident(s, w.b1, T0 + timedelta(minutes=1))
    alice = await open_incidents(database, w.alice, now=NOW)
    assert [i.id for i in alice.incidents] == [new.id, old.id]
    assert all(i.resolution is Resolution.OPEN for i in alice.incidents)
    assert alice.incidents[0].severity is Severity.CRITICAL
    assert [i.id for i in (await open_incidents(database, w.alice, account_id=w.a1)).incidents] == [old.id]
    assert [i.id for i in (await open_incidents(database, w.bob)).incidents] == [bobs.id]
    assert [i.id for i in (await open_incidents(database, w.admin)).incidents] == [new.id, bobs.id, old.id]
    with pytest.raises(NotFound):
        await open_incidents(database, w.bob, account_id=w.a1)


async def test_position_incidents_history(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        a1 = await s.get(TradingAccount, w.a1)
        b1 = await s.get(TradingAccount, w.b1)
        position = await make_position(s, a1, 1)
        clean = await make_position(s, a1, 2)
        bobs = await make_position(s, b1, 3)
        first = await add_incident(s, w.a1, T0, position_id=position.id, resolution=Resolution.BROKER_WINS)
        second = await add_incident(s, w.a1, T0 + timedelta(minutes=3), position_id=position.id)
        await add_incident(s, w.a1, T0 + timedelta(minutes=4))  # account-level, no position
        await add_incident(s, w.b1, T0, position_id=bobs.id)
    history = await position_incidents(database, w.alice, position.id, now=NOW)
    assert [i.id for i in history.incidents] == [second.id, first.id]
    assert {i.resolution for i in history.incidents} == {Resolution.OPEN, Resolution.BROKER_WINS}
    assert (await position_incidents(database, w.alice, clean.id)).incidents == []
    with pytest.raises(NotFound) as invisible:
        await position_incidents(database, w.alice, bobs.id)
    with pytest.raises(NotFound) as missing:
        await position_incidents(database, w.alice, 999_999)
    assert str(invisible.value) == f"position {bobs.id} not found"
    assert str(missing.value) == "position 999999 not found"
    assert len((await position_incidents(database, w.risk, bobs.id)).incidents) == 1
