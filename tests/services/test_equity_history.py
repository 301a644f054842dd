"""Long equity windows from hourly rollups, kept by ingestion; retention of the minute snapshots
and of old alerts; the migration's backfill. On both backends."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, insert, select

from dashboard.db.migrate import upgrade
from dashboard.db.models import (
    Alert,
    AlertAttempt,
    AlertChannel,
    AlertDelivery,
    DivergenceIncident,
    EquityHourly,
    EquitySnapshot,
    ReconciliationHourly,
    ReconciliationLog,
)
from dashboard.db.session import Database
from dashboard.demo.seed import seed_demo
from dashboard.domain.enums import (
    AlertKind,
    AlertState,
    DeliveryStatus,
    Level,
    Resolution,
    Role,
    SyncEventType,
    SyncStatus,
)
from dashboard.domain.rollups import Bucket, Sample, buckets_of, hour_of
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.rollups import bucket_of, bucket_values
from dashboard.services.ingestion.sync import record_sync
from dashboard.services.queries.guards import equity_curve
from dashboard.services.queries.reconciliation import open_incidents
from dashboard.services.retention import run_retention
from dashboard.services.viewer import Viewer
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, pg_url
from tests.domain.test_rollups import series
from tests.factories import T0, legacy_owner, make_user
from tests.ingestion.test_equity import SERIES, new_account, snap
from tests.ingestion.test_sync import SYNC_AT, broker_snapshot, seed_fixture

SEED_NOW = datetime(2026, 11, 20, 10, 2, 17, tzinfo=UTC)

RISK = Viewer(1, Role.RISK)


async def stored(db: Database, account_id: int) -> tuple[list[Sample], list[Bucket]]:
    async with db.read_session() as s:
        raw = (
            await s.execute(
                select(EquitySnapshot)
                .where(EquitySnapshot.account_id == account_id)
                .order_by(EquitySnapshot.ts)
            )
        ).scalars()
        samples = [Sample(r.ts, r.balance, r.equity, r.hwm, r.drawdown_pct) for r in raw]
        rows = (
            await s.execute(
                select(EquityHourly).where(EquityHourly.account_id == account_id).order_by(EquityHourly.hour)
            )
        ).scalars()
        return samples, [bucket_of(r) for r in rows]


async def test_ingestion_keeps_the_hourly_rollups_of_what_it_stores(database: Database) -> None:
    account_id = await new_account(database)
    for i in range(40):  # 5-minute snapshots over 3 h 20 min, the reference series repeated
        await record_equity(database, snap(account_id, i, SERIES[i % len(SERIES)] + i))
    await record_equity(database, snap(account_id, 39, 1))  # a repeat of a stored one: not counted
    samples, buckets = await stored(database, account_id)
    assert len(buckets) == 4 and buckets == buckets_of(samples)
    assert max(b.close.hwm for b in buckets) == max(s.hwm for s in samples)
    assert max(b.worst.drawdown_pct for b in buckets) == max(s.drawdown_pct for s in samples)


async def history(db: Database, account_id: int, samples: list[Sample]) -> None:
    """Bulk history as the seed writes it: snapshots and their rollups."""
    async with db.session() as s:
        rows = [
            {
                "account_id": account_id,
                "ts": x.ts,
                "balance": x.balance,
                "equity": x.equity,
                "margin": Decimal(0),
                "free_margin": x.equity,
                "hwm": x.hwm,
                "drawdown_pct": x.drawdown_pct,
            }
            for x in samples
        ]
        for start in range(0, len(rows), 5000):
            await s.execute(insert(EquitySnapshot), rows[start : start + 5000])
        await s.execute(insert(EquityHourly), [bucket_values(account_id, b) for b in buckets_of(samples)])


async def test_a_long_window_never_smooths_away_the_worst_moment_and_keeps_the_hwm_exact(
    database: Database,
) -> None:
    account_id = await new_account(database)
    samples = series(20 * 24 * 12, seed=3, step=timedelta(minutes=5))  # 20 days of 5-minute equity
    await history(database, account_id, samples)
    now = samples[-1].ts + timedelta(minutes=1)
    worst = max(samples, key=lambda s: (s.drawdown_pct, -s.ts.timestamp()))
    for days, max_points in ((20, 200), (7, 2000), (3, 50)):
        since = now - timedelta(days=days)
        curve = await equity_curve(database, RISK, account_id, since, now, max_points=max_points, now=now)
        inside = [s for s in samples if since <= s.ts <= now]
        assert curve.downsampled and 2 <= len(curve.points) <= max_points
        assert [p.ts for p in curve.points] == sorted(p.ts for p in curve.points)
        in_window_worst = max(inside, key=lambda s: (s.drawdown_pct, -s.ts.timestamp()))
        assert max(p.drawdown_pct for p in curve.points) == in_window_worst.drawdown_pct
        assert max(p.hwm for p in curve.points) == max(s.hwm for s in inside)
        assert curve.points[-1].ts == inside[-1].ts and curve.points[-1].equity == inside[-1].equity
        by_ts = {s.ts: s for s in samples}
        for point in curve.points:  # every point is a real snapshot, exactly
            raw = by_ts[point.ts]
            assert (point.equity, point.hwm, point.drawdown_pct, point.balance) == (
                raw.equity,
                raw.hwm,
                raw.drawdown_pct,
                raw.balance,
            )
    assert worst.drawdown_pct == max(
        p.drawdown_pct
        for p in (
            await equity_curve(
                database, RISK, account_id, now - timedelta(days=30), now, max_points=100, now=now
            )
        ).points
    )
    short = await equity_curve(database, RISK, account_id, now - timedelta(hours=6), now, now=now)
    assert not short.downsampled and len(short.points) == 6 * 12  # minute data: as stored


async def test_retention_keeps_rollups_and_drops_only_old_minutes_and_old_alerts(database: Database) -> None:
    account_id = await new_account(database)
    samples = series(10 * 24 * 12, seed=4, step=timedelta(minutes=5))  # 10 days
    await history(database, account_id, samples)
    now = samples[-1].ts
    async with database.session() as s:
        channel = AlertChannel(
            name="c", scheme="json", url_encrypted="x", url_masked="json://…", min_level=Level.WARNING,
            enabled=True, created_at=now,
        )  # fmt: skip
        s.add(channel)
        await s.flush()
        for age in (200, 10):
            alert = Alert(
                key=f"k{age}", kind=AlertKind.GUARD, state=AlertState.RAISED, level=Level.CRITICAL,
                title="t", created_at=now - timedelta(days=age),
            )  # fmt: skip
            s.add(alert)
            await s.flush()
            delivery = AlertDelivery(
                alert_id=alert.id, channel_id=channel.id, status=DeliveryStatus.SENT, attempts=1,
                next_attempt_at=alert.created_at, escalation=False, deferred=False,
            )  # fmt: skip
            s.add(delivery)
            await s.flush()
            s.add(AlertAttempt(delivery_id=delivery.id, at=alert.created_at, ok=True))
    buckets_before = (await stored(database, account_id))[1]
    run = await run_retention(
        database, raw_equity_kept=timedelta(days=3), alerts_kept=timedelta(days=180), now=now
    )
    kept, buckets = await stored(database, account_id)
    assert buckets == buckets_before  # rollups are kept for the life of the account
    assert kept and min(s.ts for s in kept) >= now - timedelta(days=3)
    # Deleted in batches, or (PostgreSQL, whose partitions of those days exist) dropped by the day.
    assert run.removed("equity_snapshots") == len(samples) - len(kept) > 0
    assert run.deleted["alerts"] == 1 and run.deleted["alert_attempts"] == 1
    async with database.read_session() as s:
        assert (await s.execute(select(Alert.key))).scalars().all() == ["k10"]
        assert (await s.execute(select(func.count()).select_from(AlertDelivery))).scalar_one() == 1
    again = await run_retention(
        database, raw_equity_kept=timedelta(days=3), alerts_kept=timedelta(days=180), now=now
    )
    assert again.deleted == {"equity_snapshots": 0, "alerts": 0, "refresh_tokens": 0}  # idempotent
    # A day a week ago is past the minute data's horizon: drawn from the rollups.
    day = now - timedelta(days=7)
    old = await equity_curve(
        database, RISK, account_id, day, day + timedelta(hours=24), now=now, raw_kept=timedelta(days=3)
    )
    assert 24 <= len(old.points) <= 48 and old.downsampled


async def test_the_migration_backfills_rollups_from_stored_snapshots(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        await upgrade(db, "0006")
        account_id, _ = await legacy_owner(db, "m")
        samples = series(3 * 24 * 60, seed=5)  # 3 days of minutes
        async with db.session() as s:
            await s.execute(
                insert(EquitySnapshot),
                [
                    {
                        "account_id": account_id, "ts": x.ts, "balance": x.balance, "equity": x.equity,
                        "margin": Decimal(0), "free_margin": x.equity, "hwm": x.hwm,
                        "drawdown_pct": x.drawdown_pct,
                    }
                    for x in samples
                ],
            )  # fmt: skip
        await upgrade(db)
        assert (await stored(db, account_id))[1] == buckets_of(samples)
    finally:
        await db.dispose()


# reconciliation logs: hourly counts and retention


async def counts_by_hour(db: Database) -> dict[tuple[int, int, str, str], tuple[int, int, int]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(ReconciliationHourly))).scalars()
        return {
            (r.account_id, r.hour, r.event_type.value, r.status.value): (
                r.syncs,
                r.divergences,
                r.duration_ms,
            )
            for r in rows
        }


async def counts_from_logs(db: Database) -> dict[tuple[int, int, str, str], tuple[int, int, int]]:
    out: dict[tuple[int, int, str, str], tuple[int, int, int]] = {}
    async with db.read_session() as s:
        for log in (await s.execute(select(ReconciliationLog))).scalars():
            key = (log.account_id, hour_of(log.created_at), log.event_type.value, log.status.value)
            syncs, divergences, duration = out.get(key, (0, 0, 0))
            out[key] = (syncs + 1, divergences + log.divergences, duration + log.duration_ms)
    return out


async def test_ingestion_and_the_seed_keep_hourly_sync_counts(database: Database) -> None:
    account_id = await seed_fixture(database)
    for n in range(5):
        await record_sync(
            database, broker_snapshot(account_id, f"s{n}", at=SYNC_AT + timedelta(minutes=25 * n))
        )
    failed_at = (SYNC_AT + timedelta(hours=3)).isoformat()
    await record_sync(
        database, {"account_id": account_id, "sync_id": "f", "taken_at": failed_at, "error": "timeout"}
    )
    await record_sync(database, broker_snapshot(account_id, "s0"))  # a repeat: counted once
    counted = await counts_by_hour(database)
    assert counted == await counts_from_logs(database)
    assert sum(syncs for syncs, _, _ in counted.values()) == 6 and len({k[1] for k in counted}) == 3


async def test_the_demo_seed_writes_hourly_sync_counts(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'seed.sqlite3'}")
    try:
        await upgrade(db)
        await seed_demo(db, seed=3, now=SEED_NOW, hours_of_syncs=3, equity_days=1)
        counted = await counts_by_hour(db)
        assert counted and counted == await counts_from_logs(db)
    finally:
        await db.dispose()


async def incident_rows(db: Database) -> list[tuple[object, ...]]:
    async with db.read_session() as s:
        table = DivergenceIncident.__table__
        return [tuple(r) for r in (await s.execute(select(*table.columns).order_by(table.c.id))).all()]


async def test_sync_log_retention_keeps_counts_and_incidents_but_not_their_logs(database: Database) -> None:
    """Incidents are kept forever, the logs they point at go at the horizon like any other (on
    PostgreSQL with their day's partition; SQLite does the same): nothing that reads or updates an
    incident needs them."""
    account_id = await seed_fixture(database)
    for n in range(6):  # one every 10 minutes over an hour; 105 stays missing (an open incident)
        await record_sync(
            database, broker_snapshot(account_id, f"s{n}", at=SYNC_AT + timedelta(minutes=10 * n))
        )
    counted = await counts_by_hour(database)
    incidents = await incident_rows(database)
    async with database.read_session() as s:
        pointed = set((await s.execute(select(DivergenceIncident.first_log_id))).scalars())
        still_open = set(
            (
                await s.execute(
                    select(DivergenceIncident.id).where(DivergenceIncident.resolution == Resolution.OPEN)
                )
            ).scalars()
        )
    assert incidents and pointed and still_open
    now = SYNC_AT + timedelta(days=40)
    run = await run_retention(
        database,
        raw_equity_kept=timedelta(days=30),
        alerts_kept=timedelta(days=180),
        sync_logs_kept=timedelta(days=30),
        now=now,
    )
    async with database.read_session() as s:
        assert (await s.execute(select(ReconciliationLog.id))).scalars().all() == []
    assert run.removed("reconciliation_logs") == 6
    assert await counts_by_hour(database) == counted  # the hour's counts outlive the logs
    assert await incident_rows(database) == incidents  # and the incidents, unchanged
    shown = await open_incidents(database, RISK, now=now)
    assert {i.id for i in shown.incidents} == still_open
    # The next sync still finds its open incident and moves its last sighting onto the new log.
    later = await record_sync(database, broker_snapshot(account_id, "later", at=datetime.now(UTC)))
    async with database.read_session() as s:
        open_one = (
            await s.execute(
                select(DivergenceIncident).where(DivergenceIncident.resolution == Resolution.OPEN)
            )
        ).scalar_one()
    assert open_one.last_log_id == later.log_id and open_one.first_log_id in pointed
    assert open_one.occurrences == 7


async def fresh_database(backend: str, tmp_path: Path) -> tuple[Database, str | None]:
    if backend == "sqlite":
        return Database(f"sqlite+aiosqlite:///{tmp_path / 'm8.sqlite3'}"), None
    name = f"tbt_m8_{os.getpid()}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return Database(pg_url(name)), name


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_the_migration_backfills_hourly_sync_counts(backend: str, tmp_path: Path) -> None:
    db, name = await fresh_database(backend, tmp_path)
    try:
        await upgrade(db, "0007")
        account_id, user_id = await legacy_owner(db, "m")
        async with db.session() as s:
            rows = [
                {
                    "account_id": account_id, "user_id": user_id, "sync_id": f"m{n}",
                    "created_at": T0 + timedelta(minutes=7 * n), "event_type": SyncEventType.SCHEDULED_SYNC,
                    "status": SyncStatus.FAILED if n % 5 == 0 else SyncStatus.OK, "duration_ms": n,
                    "divergences": n % 3,
                }
                for n in range(100)
            ]  # fmt: skip
            await s.execute(insert(ReconciliationLog), rows)
        await upgrade(db)
        counted = await counts_by_hour(db)
        assert counted == await counts_from_logs(db) and sum(v[0] for v in counted.values()) == 100
    finally:
        await db.dispose()
        if name is not None:
            admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def test_retention_deletes_expired_refresh_tokens_and_keeps_live_and_used_ones(
    database: Database,
) -> None:
    """An expired refresh token is refused by its own `exp`: its row goes. A used one that has not
    expired stays (presenting it again must still be caught as a reuse)."""
    from dashboard.db.models import RefreshToken
    from dashboard.domain.enums import Role

    async with database.session() as s:
        user = await make_user(s, "t@x", Role.TRADER)
        for jti, expires, used in (
            ("gone", T0 - timedelta(seconds=1), None),
            ("used", T0 + timedelta(days=1), T0),
            ("live", T0 + timedelta(days=1), None),
        ):
            s.add(
                RefreshToken(
                    jti=jti,
                    user_id=user.id,
                    family="f",
                    issued_at=T0 - timedelta(days=2),
                    expires_at=expires,
                    used_at=used,
                )
            )
    run = await run_retention(
        database, raw_equity_kept=timedelta(days=30), alerts_kept=timedelta(days=30), now=T0
    )
    async with database.read_session() as s:
        left = set((await s.execute(select(RefreshToken.jti))).scalars())
    assert left == {"used", "live"} and run.deleted["refresh_tokens"] == 1
