"""Keep the hourly equity rollup current: each stored snapshot is folded into its hour's bucket
in the snapshot's own transaction (under the account's lock, so buckets never lose a sample)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import EquityHourly
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
