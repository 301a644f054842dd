"""equity_hourly: hourly equity rollups (open/high/low/close, close and worst moment with HWM),
backfilled from the stored snapshots; equity_snapshots(ts) for the retention job

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

import dashboard.db.types
from dashboard.domain.rollups import Bucket, Sample, fold

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHUNK = 20_000


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, dashboard.db.types.Num(18, 2), nullable=False)


def _when(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, dashboard.db.types.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    hourly = op.create_table(
        "equity_hourly",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        _money("open_equity"),
        _money("high_equity"),
        _money("low_equity"),
        _when("close_ts"),
        _money("close_balance"),
        _money("close_equity"),
        _money("close_hwm"),
        sa.Column("close_drawdown_pct", dashboard.db.types.Num(9, 4), nullable=False),
        _when("worst_ts"),
        _money("worst_balance"),
        _money("worst_equity"),
        _money("worst_hwm"),
        sa.Column("worst_drawdown_pct", dashboard.db.types.Num(9, 4), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["trading_accounts.id"], name=op.f("fk_equity_hourly_account_id_trading_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "hour", name=op.f("pk_equity_hourly")),
    )
    assert hourly is not None
    _backfill(hourly)
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_equity_snapshots_ts"), ["ts"])


def _snapshots(connection: sa.Connection) -> Iterator[tuple[int, Sample]]:
    """Every stored snapshot in (account, time) order, read in chunks by key (no server cursor)."""
    snapshots = sa.table(
        "equity_snapshots",
        sa.column("account_id", _ID),
        sa.column("ts", dashboard.db.types.UTCDateTime(timezone=True)),
        sa.column("balance", dashboard.db.types.Num(18, 2)),
        sa.column("equity", dashboard.db.types.Num(18, 2)),
        sa.column("hwm", dashboard.db.types.Num(18, 2)),
        sa.column("drawdown_pct", dashboard.db.types.Num(9, 4)),
    )
    after: tuple[int, datetime] | None = None
    while True:
        stmt = sa.select(snapshots).order_by(snapshots.c.account_id, snapshots.c.ts).limit(CHUNK)
        if after is not None:
            stmt = stmt.where(
                sa.or_(
                    snapshots.c.account_id > after[0],
                    sa.and_(snapshots.c.account_id == after[0], snapshots.c.ts > after[1]),
                )
            )
        rows = connection.execute(stmt).all()
        for row in rows:
            yield row.account_id, Sample(row.ts, row.balance, row.equity, row.hwm, row.drawdown_pct)
        if len(rows) < CHUNK:
            return
        after = (rows[-1].account_id, rows[-1].ts)


def _row(account_id: int, bucket: Bucket) -> dict[str, Any]:
    close, worst = bucket.close, bucket.worst
    values: dict[str, Decimal | datetime | int] = {
        "account_id": account_id,
        "hour": bucket.hour,
        "open_equity": bucket.open_equity,
        "high_equity": bucket.high_equity,
        "low_equity": bucket.low_equity,
        "close_ts": close.ts,
        "close_balance": close.balance,
        "close_equity": close.equity,
        "close_hwm": close.hwm,
        "close_drawdown_pct": close.drawdown_pct,
        "worst_ts": worst.ts,
        "worst_balance": worst.balance,
        "worst_equity": worst.equity,
        "worst_hwm": worst.hwm,
        "worst_drawdown_pct": worst.drawdown_pct,
        "samples": bucket.samples,
    }
    return values


def _backfill(hourly: sa.Table) -> None:
    connection = op.get_bind()
    pending: list[dict[str, Any]] = []
    current: tuple[int, Bucket] | None = None
    for account_id, sample in _snapshots(connection):
        if current is not None and (current[0] != account_id or current[1].hour != fold(None, sample).hour):
            pending.append(_row(*current))
            current = None
        current = (account_id, fold(current[1] if current else None, sample))
        if len(pending) >= 1000:
            connection.execute(hourly.insert(), pending)
            pending = []
    if current is not None:
        pending.append(_row(*current))
    if pending:
        connection.execute(hourly.insert(), pending)


def downgrade() -> None:
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equity_snapshots_ts"))
    op.drop_table("equity_hourly")
