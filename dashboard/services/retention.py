"""Retention: what the database stops keeping, so it does not grow with every minute forever.

Minute equity snapshots older than `equity_raw_retention_days` go (their hourly rollups stay for
the life of the account, and every curve that reaches back that far reads the rollups); sync logs
older than `sync_log_retention_days` go (their hourly counts stay); alerts older than
`alert_retention_days` go with their deliveries and attempts.

On PostgreSQL the equity snapshots and sync logs are partitioned by day (`dashboard.db.partitions`):
each run first drops the partitions wholly past the horizon (no row-by-row delete, no dead tuples),
makes the partitions of today and the days ahead (and moves rows the DEFAULT partition holds for
the kept days into theirs), then deletes the rest in batches: the expired part of the day the
horizon cuts through, and expired rows in the DEFAULT partition. SQLite has plain tables: batches
only. The batched deletes name the time range as well as the ids, so on PostgreSQL they touch only
the partitions that can hold such rows.

Incidents are kept forever, their logs are not: a log an incident points at (`first_log_id`,
`last_log_id`) goes at the horizon like any other, on both backends (on PostgreSQL it goes with its
day's partition, and SQLite does the same so that both behave alike). An incident carries its own
times, values and counts, and nothing reads it through its logs.

Deleted in small batches with a pause between them, each its own short transaction, and partition
changes under a short lock timeout, so ingestion never waits behind a long lock; idempotent and
restartable (a run that stops half-way leaves only less to do). No cached read changes: nothing
reads what is deleted (curves past the horizon read rollups), so nothing is invalidated.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from dashboard.db.models import (
    Alert,
    AlertAttempt,
    AlertDelivery,
    EquitySnapshot,
    ReconciliationLog,
    RefreshToken,
)
from dashboard.db.partitions import drop_partitions_before, ensure_partitions, utc_day
from dashboard.db.session import Database

#: Rows per delete (one short transaction each), and a pause between batches so ingestion keeps
#: its latency while a large backlog goes (bench/retention.py: with 5,000-row batches and no pause
#: the ingest's p99 went from 22 to 192 ms during the run).
BATCH = 1_000
PAUSE_S = 0.02


@dataclass
class RetentionRun:
    #: Rows deleted in batches, by table.
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    batches: int = 0
    #: PostgreSQL only: partitions dropped whole, and how many rows they held, by table.
    dropped: dict[str, list[str]] = field(default_factory=dict)
    dropped_rows: dict[str, int] = field(default_factory=dict)
    #: PostgreSQL only: partitions made (today, days ahead, days rescued from the DEFAULT).
    created: dict[str, list[str]] = field(default_factory=dict)
    #: PostgreSQL only: partition changes left for the next run (a lock not granted in time).
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def removed(self, table: str) -> int:
        """Rows gone from `table`, deleted or dropped with their partition."""
        return self.deleted.get(table, 0) + self.dropped_rows.get(table, 0)


async def maintain_partitions(
    db: Database, table: str, now: datetime, horizon: datetime | None, run: RetentionRun
) -> None:
    """Drop `table`'s partitions wholly older than `horizon`, then make today's and the days ahead
    (rescuing kept rows from the DEFAULT partition). Nothing on SQLite or an unpartitioned table."""
    if db.dialect != "postgresql":
        return
    if horizon is not None:
        dropped = await drop_partitions_before(db, table, horizon)
        if dropped.dropped:
            run.dropped[table] = dropped.dropped
            run.dropped_rows[table] = dropped.dropped_rows
        if dropped.skipped:
            run.skipped.setdefault(table, []).extend(dropped.skipped)
    made = await ensure_partitions(db, table, utc_day(now), rescue_since=horizon)
    if made.created:
        run.created[table] = made.created
    if made.skipped:
        run.skipped.setdefault(table, []).extend(made.skipped)


async def prune_raw_equity(db: Database, cutoff: datetime, run: RetentionRun, batch: int = BATCH) -> None:
    while True:
        async with db.session() as session:
            ids = select(EquitySnapshot.id).where(EquitySnapshot.ts < cutoff).limit(batch).scalar_subquery()
            result = await session.execute(
                delete(EquitySnapshot).where(EquitySnapshot.ts < cutoff, EquitySnapshot.id.in_(ids))
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        run.batches += 1
        run.deleted["equity_snapshots"] = run.deleted.get("equity_snapshots", 0) + count
        if count < batch:
            return
        await asyncio.sleep(PAUSE_S)


async def prune_sync_logs(db: Database, cutoff: datetime, run: RetentionRun, batch: int = BATCH) -> None:
    """Sync logs past the horizon, those incidents point at included (see the module docstring).
    Their hourly counts stay."""
    while True:
        async with db.session() as session:
            ids = (
                select(ReconciliationLog.id)
                .where(ReconciliationLog.created_at < cutoff)
                .limit(batch)
                .scalar_subquery()
            )
            result = await session.execute(
                delete(ReconciliationLog).where(
                    ReconciliationLog.created_at < cutoff, ReconciliationLog.id.in_(ids)
                )
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        run.batches += 1
        run.deleted["reconciliation_logs"] = run.deleted.get("reconciliation_logs", 0) + count
        if count < batch:
            return
        await asyncio.sleep(PAUSE_S)


async def prune_alerts(db: Database, cutoff: datetime, run: RetentionRun, batch: int = BATCH // 5) -> None:
    while True:
        async with db.session() as session:
            ids = list(
                (
                    await session.execute(
                        select(Alert.id).where(Alert.created_at < cutoff).order_by(Alert.id).limit(batch)
                    )
                ).scalars()
            )
            if ids:
                deliveries = select(AlertDelivery.id).where(AlertDelivery.alert_id.in_(ids)).scalar_subquery()
                attempts = await session.execute(
                    delete(AlertAttempt).where(AlertAttempt.delivery_id.in_(deliveries))
                )
                await session.execute(delete(AlertDelivery).where(AlertDelivery.alert_id.in_(ids)))
                await session.execute(delete(Alert).where(Alert.id.in_(ids)))
                run.deleted["alert_attempts"] = run.deleted.get("alert_attempts", 0) + int(
                    getattr(attempts, "rowcount", 0) or 0
                )
        run.batches += 1
        run.deleted["alerts"] = run.deleted.get("alerts", 0) + len(ids)
        if len(ids) < batch:
            return
        await asyncio.sleep(PAUSE_S)


async def prune_refresh_tokens(db: Database, now: datetime, run: RetentionRun, batch: int = BATCH) -> None:
    """Refresh tokens past their expiry: a token that has expired is refused by its signature's
    `exp` whatever its row says, so the row (kept until then to catch a reuse) has no use left, and
    the admin page's session count reads the live ones."""
    while True:
        async with db.session() as session:
            ids = select(RefreshToken.jti).where(RefreshToken.expires_at < now).limit(batch).scalar_subquery()
            result = await session.execute(delete(RefreshToken).where(RefreshToken.jti.in_(ids)))
        count = int(getattr(result, "rowcount", 0) or 0)
        run.batches += 1
        run.deleted["refresh_tokens"] = run.deleted.get("refresh_tokens", 0) + count
        if count < batch:
            return
        await asyncio.sleep(PAUSE_S)


async def run_retention(
    db: Database,
    *,
    raw_equity_kept: timedelta,
    alerts_kept: timedelta,
    sync_logs_kept: timedelta | None = None,
    now: datetime | None = None,
) -> RetentionRun:
    moment = now or datetime.now(UTC)
    run = RetentionRun()
    started = time.perf_counter()
    equity_cutoff = moment - raw_equity_kept
    logs_cutoff = moment - sync_logs_kept if sync_logs_kept is not None else None
    await maintain_partitions(db, "equity_snapshots", moment, equity_cutoff, run)
    await maintain_partitions(db, "reconciliation_logs", moment, logs_cutoff, run)
    await prune_raw_equity(db, equity_cutoff, run)
    if logs_cutoff is not None:
        await prune_sync_logs(db, logs_cutoff, run)
    await prune_alerts(db, moment - alerts_kept, run)
    await prune_refresh_tokens(db, moment, run)
    run.seconds = time.perf_counter() - started
    return run
