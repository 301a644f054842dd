"""Retention: what the database stops keeping, so it does not grow with every minute forever.

Minute equity snapshots older than `equity_raw_retention_days` go (their hourly rollups stay for
the life of the account, and every curve that reaches back that far reads the rollups); sync logs
older than `sync_log_retention_days` go (their hourly counts stay, and so do the logs incidents
point at: incidents are kept forever); alerts older than `alert_retention_days` go with their
deliveries and attempts. Deleted in small batches with a pause between them, each its own short
transaction, so ingestion never waits behind a long lock; idempotent and
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
    DivergenceIncident,
    EquitySnapshot,
    ReconciliationLog,
)
from dashboard.db.session import Database

#: Rows per delete (one short transaction each), and a pause between batches so ingestion keeps
#: its latency while a large backlog goes (bench/retention.py: with 5,000-row batches and no pause
#: the ingest's p99 went from 22 to 192 ms during the run).
BATCH = 1_000
PAUSE_S = 0.02


@dataclass
class RetentionRun:
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    batches: int = 0


async def prune_raw_equity(db: Database, cutoff: datetime, run: RetentionRun, batch: int = BATCH) -> None:
    while True:
        async with db.session() as session:
            ids = select(EquitySnapshot.id).where(EquitySnapshot.ts < cutoff).limit(batch).scalar_subquery()
            result = await session.execute(delete(EquitySnapshot).where(EquitySnapshot.id.in_(ids)))
        count = int(getattr(result, "rowcount", 0) or 0)
        run.batches += 1
        run.deleted["equity_snapshots"] = run.deleted.get("equity_snapshots", 0) + count
        if count < batch:
            return
        await asyncio.sleep(PAUSE_S)


async def prune_sync_logs(db: Database, cutoff: datetime, run: RetentionRun, batch: int = BATCH) -> None:
    """Sync logs past the horizon, except those an incident points at (its first and last
    sighting: incidents are kept forever, with their evidence). Their hourly counts stay."""
    referenced = select(DivergenceIncident.first_log_id).union(select(DivergenceIncident.last_log_id))
    while True:
        async with db.session() as session:
            ids = (
                select(ReconciliationLog.id)
                .where(ReconciliationLog.created_at < cutoff, ReconciliationLog.id.not_in(referenced))
                .limit(batch)
                .scalar_subquery()
            )
            result = await session.execute(delete(ReconciliationLog).where(ReconciliationLog.id.in_(ids)))
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
    await prune_raw_equity(db, moment - raw_equity_kept, run)
    if sync_logs_kept is not None:
        await prune_sync_logs(db, moment - sync_logs_kept, run)
    await prune_alerts(db, moment - alerts_kept, run)
    run.seconds = time.perf_counter() - started
    return run
