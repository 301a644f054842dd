"""Day partitions of the append-only tables on PostgreSQL (migration 0009, `dashboard.db.partitions`
and the retention job's use of them), the migration of an existing database, and SQLite's plain
tables. Days are relative to the real date: the migration makes today's partition and the week
ahead from the clock, as it would in production."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from dashboard.background import report_retention
from dashboard.db.migrate import alembic_config, upgrade
from dashboard.db.models import (
    Alert,
    DivergenceIncident,
    EquitySnapshot,
    ReconciliationLog,
)
from dashboard.db.partitions import (
    DAYS_AHEAD,
    PARTITION_KEYS,
    day_start,
    default_partition_name,
    detached_leftovers,
    drop_partitions_before,
    ensure_partitions,
    is_partitioned,
    list_partitions,
    partition_name,
    utc_day,
)
from dashboard.db.session import Database
from dashboard.domain.enums import (
    AlertKind,
    AlertState,
    DivergenceKind,
    Level,
    Resolution,
    Role,
    Severity,
    SyncEventType,
    SyncStatus,
)
from dashboard.metrics import AppMetrics
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.retention import RetentionRun, run_retention
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, pg_url
from tests.factories import legacy_owner, legacy_table, make_account, make_user

TODAY = utc_day(datetime.now(UTC))
MODELS = {"equity_snapshots": EquitySnapshot, "reconciliation_logs": ReconciliationLog}
_sync_ids = iter(range(1, 10**9))


def day(offset: int, hour: float = 12) -> datetime:
    """A moment `offset` days from today (UTC), at `hour`."""
    return day_start(TODAY + timedelta(days=offset)) + timedelta(hours=hour)


def row(table: str, account_id: int, user_id: int, at: datetime) -> dict[str, Any]:
    if table == "equity_snapshots":
        return {
            "account_id": account_id, "ts": at, "balance": Decimal("10000.00"), "equity": Decimal("9990.00"),
            "margin": Decimal(0), "free_margin": Decimal("9990.00"), "hwm": Decimal("10000.00"),
            "drawdown_pct": Decimal("0.1000"),
        }  # fmt: skip
    return {
        "account_id": account_id, "user_id": user_id, "sync_id": f"s{next(_sync_ids)}", "created_at": at,
        "event_type": SyncEventType.SCHEDULED_SYNC, "status": SyncStatus.OK, "duration_ms": 5,
    }  # fmt: skip


async def owner(db: Database) -> tuple[int, int]:
    async with db.session() as s:
        user = await make_user(s, f"p{next(_sync_ids)}@x", Role.TRADER)
        account = await make_account(s, user)
        return account.id, user.id


async def add_rows(db: Database, table: str, moments: list[datetime]) -> list[int]:
    account_id, user_id = await owner(db)
    model = MODELS[table]
    async with db.session() as s:
        result = await s.execute(
            insert(model).returning(model.id), [row(table, account_id, user_id, at) for at in moments]
        )
        return list(result.scalars())


async def where_rows_are(db: Database, table: str) -> dict[int, str]:
    """Each row's id and the partition that holds it."""
    async with db.read_session() as s:
        rows = await s.execute(text(f"SELECT id, tableoid::regclass::text FROM {table}"))
        return {id_: partition for id_, partition in rows.all()}


@pytest.mark.parametrize("table", sorted(PARTITION_KEYS))
async def test_the_migration_makes_today_the_days_ahead_and_a_default(
    pg_database: Database, table: str
) -> None:
    partitions = {p.name: p for p in await list_partitions(pg_database, table)}
    assert await is_partitioned(pg_database, table)
    assert partitions[default_partition_name(table)].is_default
    for offset in range(DAYS_AHEAD):  # (the last one too, unless the day turned since the migration)
        made = partitions[partition_name(table, TODAY + timedelta(days=offset))]
        assert (made.lower, made.upper) == (day(offset, 0), day(offset + 1, 0))
    assert len(partitions) in (DAYS_AHEAD + 2, DAYS_AHEAD + 3)  # no past days: the template had no rows


@pytest.mark.parametrize("table", sorted(PARTITION_KEYS))
async def test_rows_land_in_their_day_or_the_default(pg_database: Database, table: str) -> None:
    moments = [day(0, 0), day(0, 12), day(3, 23.999), day(-1), day(DAYS_AHEAD + 5)]
    ids = await add_rows(pg_database, table, moments)
    found = await where_rows_are(pg_database, table)
    assert [found[i] for i in ids] == [
        partition_name(table, TODAY),
        partition_name(table, TODAY),
        partition_name(table, TODAY + timedelta(days=3)),
        default_partition_name(table),  # yesterday: no partition (nothing is made for past days)
        default_partition_name(table),  # beyond the days made ahead
    ]
    model = MODELS[table]
    async with pg_database.read_session() as s:  # read back through the parent, as the app does
        assert (await s.execute(select(func.count()).select_from(model))).scalar_one() == len(moments)


@pytest.mark.parametrize("table", sorted(PARTITION_KEYS))
async def test_ensure_is_idempotent_and_moves_a_days_rows_out_of_the_default(
    pg_database: Database, table: str
) -> None:
    past, far = (
        await add_rows(pg_database, table, [day(-3, 1), day(-3, 23)]),
        await add_rows(pg_database, table, [day(DAYS_AHEAD + 2)]),
    )
    before = await list_partitions(pg_database, table)
    made = await ensure_partitions(pg_database, table, TODAY, rescue_since=day(-5))
    assert made.created == [partition_name(table, TODAY + timedelta(days=-3))] or made.created == [
        partition_name(table, TODAY + timedelta(days=-3)),
        partition_name(table, TODAY + timedelta(days=DAYS_AHEAD)),  # the day turned since the migration
    ]
    assert made.moved_rows == 2 and made.skipped == []
    found = await where_rows_are(pg_database, table)
    assert {found[i] for i in past} == {partition_name(table, TODAY + timedelta(days=-3))}  # same ids, moved
    assert found[far[0]] == default_partition_name(table)
    after = await list_partitions(pg_database, table)
    assert len(after) == len(before) + len(made.created)

    again = await ensure_partitions(pg_database, table, TODAY, rescue_since=day(-5))
    assert (again.created, again.moved_rows) == ([], 0)
    assert await list_partitions(pg_database, table) == after

    # Two days later (the leader's next day): the days ahead move on, and the row of a day made now
    # leaves the DEFAULT.
    later = await ensure_partitions(pg_database, table, TODAY + timedelta(days=2))
    assert partition_name(table, TODAY + timedelta(days=DAYS_AHEAD + 2)) in later.created
    assert later.moved_rows == 1
    assert (await where_rows_are(pg_database, table))[far[0]] == partition_name(
        table, TODAY + timedelta(days=DAYS_AHEAD + 2)
    )


async def test_retention_drops_whole_expired_days_and_deletes_the_boundary_in_batches(
    pg_database: Database,
) -> None:
    db = pg_database
    hourly = [
        day(offset, hour) for offset in range(-6, 1) for hour in range(24) if day(offset, hour) <= day(0, 10)
    ]
    ids: dict[str, dict[int, datetime]] = {}
    for table in PARTITION_KEYS:
        made = await add_rows(db, table, hourly)
        await ensure_partitions(db, table, TODAY, rescue_since=day(-6, 0))  # the past days get theirs
        old = await add_rows(db, table, [day(-40)])  # older than any partition: in the DEFAULT
        ids[table] = dict(zip(made + old, [*hourly, day(-40)], strict=True))
        assert set((await where_rows_are(db, table)).values()) == {
            *(partition_name(table, TODAY + timedelta(days=n)) for n in range(-6, 1)),
            default_partition_name(table),
        }
    now, kept = day(0, 10), timedelta(days=3)  # the horizon: 10:00 three days ago
    run = await run_retention(
        db, raw_equity_kept=kept, sync_logs_kept=kept, alerts_kept=timedelta(days=180), now=now
    )
    for table in PARTITION_KEYS:
        assert run.dropped[table] == [partition_name(table, TODAY + timedelta(days=n)) for n in (-6, -5, -4)]
        assert run.dropped_rows[table] == 3 * 24
        assert run.deleted[table] == 10 + 1  # 00:00-09:00 of the boundary day, and the DEFAULT's old row
        assert run.removed(table) == 3 * 24 + 11
        left = await where_rows_are(db, table)
        assert set(left) == {i for i, at in ids[table].items() if at >= now - kept}  # newer ones untouched
        names = {p.name for p in await list_partitions(db, table)}
        assert partition_name(table, TODAY + timedelta(days=-3)) in names  # the boundary day stays
        assert partition_name(table, TODAY + timedelta(days=-4)) not in names
    again = await run_retention(
        db, raw_equity_kept=kept, sync_logs_kept=kept, alerts_kept=timedelta(days=180), now=now
    )
    assert again.dropped == {} and again.created == {} and not any(again.deleted.values())


async def test_a_drop_that_cannot_get_its_lock_gives_up_quickly_and_the_rows_still_go(
    pg_database: Database,
) -> None:
    db, table = pg_database, "equity_snapshots"
    old = await add_rows(db, table, [day(-10, 1), day(-10, 2)])
    await ensure_partitions(db, table, TODAY, rescue_since=day(-10, 0))
    async with db.engine.connect() as reader:
        await reader.execute(text("SELECT count(*) FROM equity_snapshots"))  # a long read, in progress
        started = time.perf_counter()
        gave_up = await asyncio.wait_for(drop_partitions_before(db, table, day(-5), attempts=2), timeout=5)
        assert time.perf_counter() - started < 3
        assert gave_up.dropped == [] and gave_up.skipped == [
            partition_name(table, TODAY + timedelta(days=-10))
        ]
        # Nothing was left queued behind the reader: the ingest goes on.
        await asyncio.wait_for(add_rows(db, table, [day(0, 1)]), timeout=2)
        await reader.rollback()
    run = await run_retention(
        db, raw_equity_kept=timedelta(days=5), alerts_kept=timedelta(days=180), now=day(0)
    )
    assert run.dropped[table] == [partition_name(table, TODAY + timedelta(days=-10))]
    assert not set(old) & set(await where_rows_are(db, table))


async def test_sqlite_keeps_plain_tables_and_deletes_in_batches(sqlite_database: Database) -> None:
    db = sqlite_database
    for table in PARTITION_KEYS:
        assert not await is_partitioned(db, table) and await list_partitions(db, table) == []
        nothing = await ensure_partitions(db, table, TODAY, rescue_since=day(-5))
        assert nothing.created == [] and (await drop_partitions_before(db, table, day(0))).dropped == []
        await add_rows(db, table, [day(-10), day(-1), day(0)])
    kept = timedelta(days=3)
    run = await run_retention(db, raw_equity_kept=kept, sync_logs_kept=kept, alerts_kept=kept, now=day(0, 13))
    assert run.dropped == {} and run.created == {}
    assert run.deleted["equity_snapshots"] == run.deleted["reconciliation_logs"] == 1
    async with db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(EquitySnapshot))).scalar_one() == 2


# Migration 0009 on a database that already holds history (0008's plain tables).


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm9.sqlite3'}")
        yield db
        await db.dispose()
        return
    name = f"tbt_m9_{os.getpid()}"
    try:
        admin = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        pytest.skip(f"PostgreSQL is not reachable: {error!r}")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        db = Database(pg_url(name))
        yield db
        await db.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def downgrade(db: Database, revision: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


#: Columns later migrations added (0010's incident work items): not there at revision 0008.
ADDED_AFTER_0009 = {
    "acknowledged_at", "acknowledged_by", "assignee_user_id", "resolved_by", "resolution_note", "reopened_at",
    "reopen_count",
}  # fmt: skip


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables the migration rebuilds or repoints, in id order (in the columns
    revision 0008 had)."""
    out = {}
    async with db.read_session() as s:
        for model in (ReconciliationLog, EquitySnapshot, DivergenceIncident, Alert):
            table = model.__table__
            columns = [c for c in table.columns if c.name not in ADDED_AFTER_0009]
            rows = await s.execute(select(*columns).order_by(table.c.id))
            out[table.name] = [tuple(r) for r in rows.all()]
    return out


async def test_the_migration_keeps_every_row_and_the_ids_continue(empty_database: Database) -> None:
    db = empty_database
    await upgrade(db, "0008")
    account_id, user_id = await legacy_owner(db, f"p{next(_sync_ids)}")
    moments = [day(-45, 3), day(-45, 4), day(-2), day(0, 1), day(30)]  # old, recent, far ahead
    async with db.session() as s:
        logs = list(
            (
                await s.execute(
                    insert(ReconciliationLog).returning(ReconciliationLog.id),
                    [row("reconciliation_logs", account_id, user_id, at) for at in moments],
                )
            ).scalars()
        )
        await s.execute(
            insert(EquitySnapshot), [row("equity_snapshots", account_id, user_id, at) for at in moments]
        )
        incidents = []
        for first, last in ((logs[0], logs[1]), (logs[2], logs[3])):  # an old incident, a recent one
            values = dict(
                user_id=user_id, account_id=account_id, position_id=None, broker_position_id=first,
                symbol="EURUSD", kind=DivergenceKind.VOLUME_MISMATCH, severity=Severity.WARNING,
                local_value=None, broker_value=None, action=Resolution.BROKER_WINS,
                resolution=Resolution.OPEN, first_log_id=first, last_log_id=last, first_seen_at=day(-45),
                last_seen_at=day(-45), occurrences=2, escalated_at=None, resolved_at=None,
            )  # fmt: skip
            legacy = legacy_table(DivergenceIncident, values)  # without 0010's columns
            incident_id = (await s.execute(insert(legacy).returning(text("id")), [values])).scalar_one()
            incidents.append(incident_id)
            s.add(
                Alert(
                    key=f"incident:{incident_id}",
                    kind=AlertKind.INCIDENT,
                    state=AlertState.RAISED,
                    level=Level.WARNING,
                    incident_id=incident_id,
                    title="t",
                    created_at=day(-45),
                )
            )
    before = await snapshot(db)
    await upgrade(db)
    assert await snapshot(db) == before
    if db.dialect == "postgresql":
        for table in PARTITION_KEYS:
            found = await where_rows_are(db, table)
            assert [found[i] for i in sorted(found)] == [
                partition_name(table, TODAY + timedelta(days=-45)),
                partition_name(table, TODAY + timedelta(days=-45)),
                partition_name(table, TODAY + timedelta(days=-2)),
                partition_name(table, TODAY),
                partition_name(table, TODAY + timedelta(days=30)),  # every day with rows gets its own
            ]
            names = {p.name for p in await list_partitions(db, table)}
            assert {partition_name(table, TODAY + timedelta(days=n)) for n in range(DAYS_AHEAD)} <= names
    else:
        async with db.read_session() as s:
            assert (await s.execute(text("PRAGMA foreign_key_check"))).all() == []
            referred = (await s.execute(text("PRAGMA foreign_key_list(reconciliation_divergences)"))).all()
            assert "reconciliation_logs" not in {fk[2] for fk in referred} and "users" in {
                fk[2] for fk in referred
            }

    # New rows continue the ids; the same sync stored twice is still refused.
    async with db.session() as s:
        log = ReconciliationLog(**row("reconciliation_logs", account_id, user_id, day(0, 2)))
        snap = EquitySnapshot(**row("equity_snapshots", account_id, user_id, day(0, 2)))
        s.add_all([log, snap])
        await s.flush()
        assert log.id > max(logs) and snap.id > max(r[0] for r in before["equity_snapshots"])
        repeat = {**row("reconciliation_logs", account_id, user_id, day(0, 2)), "sync_id": log.sync_id}
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            await s.execute(insert(ReconciliationLog), [repeat])

    # Retention takes the logs incidents point at with their day; the incidents and alerts stay.
    run = await run_retention(
        db,
        raw_equity_kept=timedelta(days=30),
        sync_logs_kept=timedelta(days=30),
        alerts_kept=timedelta(days=180),
    )
    assert run.removed("reconciliation_logs") == 2 and run.removed("equity_snapshots") == 2
    after = await snapshot(db)
    assert after["reconciliation_divergences"] == before["reconciliation_divergences"]
    assert after["alerts"] == before["alerts"]
    assert {r[0] for r in after["reconciliation_logs"]} == {*logs[2:], log.id}

    # And back: 0008's plain tables (with the logs the incidents point at, since the downgrade
    # restores their foreign keys), then up again.
    async with db.session() as s:
        await s.execute(delete(Alert).where(Alert.incident_id == incidents[0]))
        await s.execute(delete(DivergenceIncident).where(DivergenceIncident.id == incidents[0]))
    kept = await snapshot(db)
    await downgrade(db, "0008")
    assert await snapshot(db) == kept
    await upgrade(db)
    assert await snapshot(db) == kept


def test_a_run_reports_dropped_partitions_and_their_rows() -> None:
    """`/metrics` says how many day partitions went, and counts their rows with the deleted ones."""
    metrics = AppMetrics()
    run = RetentionRun(
        deleted={"equity_snapshots": 5, "alerts": 1},
        dropped={"equity_snapshots": ["equity_snapshots_p20261101", "equity_snapshots_p20261102"]},
        dropped_rows={"equity_snapshots": 100},
    )
    report_retention(metrics, run)
    exposed = metrics.exposition().decode()
    assert 'dashboard_retention_dropped_partitions_total{table="equity_snapshots"} 2.0' in exposed
    assert 'dashboard_retention_deleted_rows_total{table="equity_snapshots"} 105.0' in exposed
    assert 'dashboard_retention_deleted_rows_total{table="alerts"} 1.0' in exposed


async def test_a_drop_under_a_steady_ingest_that_holds_the_account_lock_goes_through(
    pg_database: Database,
) -> None:
    """An ingest locks its account, then writes equity (with generic plans, which lock every
    partition). A DROP of a partition whose foreign key points at `trading_accounts` needs that
    table too: in the DETACH's transaction the two waited on each other until `lock_timeout`, so
    under a steady ingest nearly every drop gave up (this test failed so)."""
    db, table = pg_database, "equity_snapshots"
    old = await add_rows(db, table, [day(-10, 1)])
    await ensure_partitions(db, table, TODAY, rescue_since=day(-10, 0))
    account_id, _ = await owner(db)
    stop, warmed = asyncio.Event(), asyncio.Event()
    written = 0

    async def ingest() -> None:  # the real write path: account lock, snapshot, rollup, risk state
        nonlocal written
        while not stop.is_set():
            at = day(0, 0) + timedelta(seconds=written)
            await record_equity(
                db, {"account_id": account_id, "ts": at, "balance": "10000.00", "equity": "9990.00"}
            )
            written += 1
            if written == 50:  # past PostgreSQL's switch to generic plans, which lock every partition
                warmed.set()

    writer = asyncio.create_task(ingest())
    await asyncio.wait_for(warmed.wait(), timeout=30)
    try:
        done = await asyncio.wait_for(drop_partitions_before(db, table, day(-5)), timeout=10)
    finally:
        stop.set()
        await writer
    gone = partition_name(table, TODAY + timedelta(days=-10))
    assert done.dropped == [gone] and done.skipped == [] and done.dropped_rows == 1
    assert gone not in {p.name for p in await list_partitions(db, table)}
    assert await detached_leftovers(db, table) == []
    assert not set(old) & set(await where_rows_are(db, table)) and written > 5


async def test_a_partition_detached_but_not_dropped_is_dropped_by_the_next_run(pg_database: Database) -> None:
    db, table = pg_database, "reconciliation_logs"
    await add_rows(db, table, [day(-9, 3)])
    await ensure_partitions(db, table, TODAY, rescue_since=day(-9, 0))
    name = partition_name(table, TODAY + timedelta(days=-9))
    async with db.session() as s:  # as a run whose DROP never got its lock leaves it
        await s.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"'))
    assert await detached_leftovers(db, table) == [name]
    done = await drop_partitions_before(db, table, day(-5))
    assert done.dropped == [] and await detached_leftovers(db, table) == []
    async with db.read_session() as s:
        assert (await s.execute(text("SELECT to_regclass(:n)"), {"n": name})).scalar_one() is None
