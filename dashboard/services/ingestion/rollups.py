"""Keep the hourly rollups current: each stored equity snapshot is folded into its hour's bucket,
each sync log counted in its hour's counts, in the write's own transaction (under the account's
lock, so nothing is lost or counted twice)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import EquityHourly, ReconciliationHourly, ReconciliationLog
from dashboard.domain.rollups import Bucket, Sample, fold, hour_of


def bucket_of(row: EquityHourly) -> Bucket:
    return Bucket(
        hour=row.hour,
        open_equity=row.open_equity,
        high_equity=row.high_equity,
        low_equity=row.low_equity,
        close=Sample(
            row.close_ts, row.close_balance, row.close_equity, row.close_hwm, row.close_drawdown_pct
        ),
        worst=Sample(
            row.worst_ts, row.worst_balance, row.worst_equity, row.worst_hwm, row.worst_drawdown_pct
        ),
        samples=row.samples,
    )


def store_bucket(row: EquityHourly, bucket: Bucket) -> None:
    row.open_equity, row.high_equity, row.low_equity = (
        bucket.open_equity,
        bucket.high_equity,
        bucket.low_equity,
    )
    close, worst = bucket.close, bucket.worst
    row.close_ts, row.close_balance, row.close_equity = close.ts, close.balance, close.equity
    row.close_hwm, row.close_drawdown_pct = close.hwm, close.drawdown_pct
    row.worst_ts, row.worst_balance, row.worst_equity = worst.ts, worst.balance, worst.equity
    row.worst_hwm, row.worst_drawdown_pct = worst.hwm, worst.drawdown_pct
    row.samples = bucket.samples


def bucket_values(account_id: int, bucket: Bucket) -> dict[str, Any]:
    """A bucket as the column values of its row (bulk inserts)."""
    row = EquityHourly(account_id=account_id, hour=bucket.hour)
    store_bucket(row, bucket)
    return {column.key: getattr(row, column.key) for column in EquityHourly.__table__.columns}


async def roll_up_equity(session: AsyncSession, account_id: int, sample: Sample) -> None:
    row = await session.get(EquityHourly, (account_id, hour_of(sample.ts)))
    if row is None:
        row = EquityHourly(account_id=account_id, hour=hour_of(sample.ts))
        store_bucket(row, fold(None, sample))
        session.add(row)
    else:
        store_bucket(row, fold(bucket_of(row), sample))


async def roll_up_sync(session: AsyncSession, log: ReconciliationLog) -> None:
    key = (log.account_id, hour_of(log.created_at), log.event_type, log.status)
    row = await session.get(ReconciliationHourly, key)
    if row is None:
        row = ReconciliationHourly(
            account_id=key[0],
            hour=key[1],
            event_type=key[2],
            status=key[3],
            syncs=0,
            divergences=0,
            duration_ms=0,
        )
        session.add(row)
    row.syncs += 1
    row.divergences += log.divergences or 0
    row.duration_ms += log.duration_ms or 0


def hourly_counts(account_id: int, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hourly counts of sync log rows (the seed's bulk history)."""
    counts: dict[tuple[int, Any, Any], dict[str, Any]] = {}
    for log in logs:
        key = (hour_of(log["created_at"]), log["event_type"], log["status"])
        row = counts.setdefault(
            key,
            {
                "account_id": account_id,
                "hour": key[0],
                "event_type": key[1],
                "status": key[2],
                "syncs": 0,
                "divergences": 0,
                "duration_ms": 0,
            },
        )
        row["syncs"] += 1
        row["divergences"] += log.get("divergences") or 0
        row["duration_ms"] += log.get("duration_ms") or 0
    return list(counts.values())
