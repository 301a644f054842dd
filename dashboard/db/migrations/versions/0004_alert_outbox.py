"""alerts: the outbox of alerts, written with the events that raise and resolve them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", _enum("alert_kind", "guard"), nullable=False),
        sa.Column("state", _enum("alert_state", "raised", "resolved"), nullable=False),
        sa.Column("level", _enum("alert_level", "normal", "warning", "critical"), nullable=False),
        sa.Column("account_id", _ID, nullable=True),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("guard_event_id", _ID, nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["trading_accounts.id"], name=op.f("fk_alerts_account_id_trading_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["guard_event_id"], ["guard_events.id"], name=op.f("fk_alerts_guard_event_id_guard_events")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_alerts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_account_id_created_at"), ["account_id", "created_at"])
        batch_op.create_index(batch_op.f("ix_alerts_dispatched_at_id"), ["dispatched_at", "id"])
        batch_op.create_index(batch_op.f("ix_alerts_key_created_at"), ["key", "created_at"])


def downgrade() -> None:
    op.drop_table("alerts")
