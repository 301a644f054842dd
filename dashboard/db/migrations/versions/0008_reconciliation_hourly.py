"""reconciliation_hourly: sync counts per account, hour, kind and outcome (kept while the raw logs
are pruned), backfilled from the stored logs; reconciliation_divergences(last_log_id)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


#: Hours since the epoch of a log's time, as each database computes it.
HOUR_SQL = {
    "postgresql": "floor(extract(epoch FROM created_at) / 3600)::bigint",
    "sqlite": "CAST(strftime('%s', created_at) AS INTEGER) / 3600",
}


def upgrade() -> None:
    op.create_table(
        "reconciliation_hourly",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "event_type",
            _enum("hourly_sync_event_type", "startup_sync", "scheduled_sync", "manual_sync", "sync_failed"),
            nullable=False,
        ),
        sa.Column(
            "status", _enum("hourly_sync_status", "ok", "divergent", "failed", "skipped"), nullable=False
        ),
        sa.Column("syncs", sa.Integer(), nullable=False),
        sa.Column("divergences", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["trading_accounts.id"],
            name=op.f("fk_reconciliation_hourly_account_id_trading_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "hour", "event_type", "status", name=op.f("pk_reconciliation_hourly")
        ),
    )
    hour = HOUR_SQL[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO reconciliation_hourly"
        " (account_id, hour, event_type, status, syncs, divergences, duration_ms)"
        f" SELECT account_id, {hour}, event_type, status, count(*), sum(divergences), sum(duration_ms)"
        f" FROM reconciliation_logs GROUP BY account_id, {hour}, event_type, status"
    )
    with op.batch_alter_table("reconciliation_divergences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reconciliation_divergences_last_log_id"), ["last_log_id"])


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_divergences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_divergences_last_log_id"))
    op.drop_table("reconciliation_hourly")
