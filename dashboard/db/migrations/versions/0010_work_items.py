"""incidents as work items (acknowledgement, assignee, a person's resolution and its note, reopen,
comments), HWM resets, stored service tokens (so they can be listed and revoked), the
prop-challenge objectives of an account, and the account an audit entry concerns

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, dashboard.db.types.UTCDateTime(timezone=True), nullable=nullable)


def _fk(batch_op: object, table: str, column: str) -> None:
    batch_op.create_foreign_key(  # type: ignore[attr-defined]
        batch_op.f(f"fk_{table}_{column}_users"),  # type: ignore[attr-defined]
        "users",
        [column],
        ["id"],
    )


def upgrade() -> None:
    with op.batch_alter_table("reconciliation_divergences", schema=None) as batch_op:
        batch_op.add_column(_when("acknowledged_at"))
        batch_op.add_column(sa.Column("acknowledged_by", _ID, nullable=True))
        batch_op.add_column(sa.Column("assignee_user_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("resolved_by", _ID, nullable=True))
        batch_op.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch_op.add_column(_when("reopened_at"))
        batch_op.add_column(sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
        for column in ("acknowledged_by", "assignee_user_id", "resolved_by"):
            _fk(batch_op, "reconciliation_divergences", column)

    with op.batch_alter_table("trading_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prop_profit_target_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=True)
        )
        batch_op.add_column(sa.Column("prop_min_trading_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prop_max_days", sa.Integer(), nullable=True))
        batch_op.add_column(_when("prop_started_at"))

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", _ID, nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_log_account_id_created_at"), ["account_id", "created_at"])

    op.create_table(
        "incident_comments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("author_user_id", _ID, nullable=False),
        _when("created_at", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["reconciliation_divergences.id"],
            name=op.f("fk_incident_comments_incident_id_reconciliation_divergences"),
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"], ["users.id"], name=op.f("fk_incident_comments_author_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_comments")),
    )
    op.create_index(
        op.f("ix_incident_comments_incident_id_created_at"),
        "incident_comments",
        ["incident_id", "created_at"],
    )

    op.create_table(
        "hwm_resets",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("actor_user_id", _ID, nullable=False),
        _when("created_at", nullable=False),
        sa.Column("previous_hwm", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("new_hwm", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["trading_accounts.id"], name=op.f("fk_hwm_resets_account_id_trading_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_hwm_resets_actor_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hwm_resets")),
    )
    op.create_index(op.f("ix_hwm_resets_account_id_created_at"), "hwm_resets", ["account_id", "created_at"])

    op.create_table(
        "service_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
        _when("revoked_at"),
        sa.Column("revoked_by", _ID, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_service_tokens_user_id_users")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_service_tokens_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_service_tokens_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_service_tokens")),
    )
    op.create_index(op.f("ix_service_tokens_user_id"), "service_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_service_tokens_user_id"), table_name="service_tokens")
    op.drop_table("service_tokens")
    op.drop_index(op.f("ix_hwm_resets_account_id_created_at"), table_name="hwm_resets")
    op.drop_table("hwm_resets")
    op.drop_index(op.f("ix_incident_comments_incident_id_created_at"), table_name="incident_comments")
    op.drop_table("incident_comments")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_account_id_created_at"))
        batch_op.drop_column("account_id")
    with op.batch_alter_table("trading_accounts", schema=None) as batch_op:
        for column in ("prop_started_at", "prop_max_days", "prop_min_trading_days", "prop_profit_target_pct"):
            batch_op.drop_column(column)
    with op.batch_alter_table("reconciliation_divergences", schema=None) as batch_op:
        for column in ("acknowledged_by", "assignee_user_id", "resolved_by"):
            batch_op.drop_constraint(f"fk_reconciliation_divergences_{column}_users", type_="foreignkey")
        for column in (
            "reopen_count",
            "reopened_at",
            "resolution_note",
            "resolved_by",
            "assignee_user_id",
            "acknowledged_by",
            "acknowledged_at",
        ):
            batch_op.drop_column(column)
