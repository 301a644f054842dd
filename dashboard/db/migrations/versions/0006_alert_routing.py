"""alert routing rules, flap control, escalation and acknowledgement; incident, silence and
system alerts; per-account silence timeout

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEVELS = ("normal", "warning", "critical")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, dashboard.db.types.UTCDateTime(timezone=True), nullable=nullable)


def _widen(table: str, column: str, name: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    """Let an enum column take new values: its CHECK constraint is replaced (SQLite rebuilds the
    table in batch mode, keeping its other named constraints)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(column, existing_type=_enum(name, *old), type_=_enum(name, *new))


def upgrade() -> None:
    _widen("alerts", "kind", "alert_kind", ("guard",), ("guard", "incident", "silence", "system"))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", _ID, nullable=True))
        batch_op.add_column(_when("acknowledged_at"))
        batch_op.add_column(sa.Column("acknowledged_by", _ID, nullable=True))
        batch_op.add_column(_when("escalated_at"))
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_incident_id_reconciliation_divergences"),
            "reconciliation_divergences",
            ["incident_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_acknowledged_by_users"), "users", ["acknowledged_by"], ["id"]
        )

    with op.batch_alter_table("alert_channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_user_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_channels_owner_user_id_users"), "users", ["owner_user_id"], ["id"]
        )

    _widen(
        "alert_deliveries",
        "status",
        "delivery_status",
        ("pending", "sent", "dead"),
        ("pending", "sent", "dead", "suppressed"),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("deferred", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_constraint("uq_alert_deliveries_alert_id_channel_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_alert_deliveries_alert_id_channel_id_escalation"),
            ["alert_id", "channel_id", "escalation"],
        )
        batch_op.create_index(
            batch_op.f("ix_alert_deliveries_channel_id_alert_id"), ["channel_id", "alert_id"]
        )

    op.create_table(
        "alert_rules",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", _ID, nullable=True),
        sa.Column("channel_id", _ID, nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("min_level", _enum("rule_min_level", *LEVELS), nullable=False),
        sa.Column("renotify_s", sa.Integer(), nullable=False),
        sa.Column("escalate_after_s", sa.Integer(), nullable=True),
        sa.Column("escalation_channel_id", _ID, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_alert_rules_owner_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["alert_channels.id"], name=op.f("fk_alert_rules_channel_id_alert_channels")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_channel_id"],
            ["alert_channels.id"],
            name=op.f("fk_alert_rules_escalation_channel_id_alert_channels"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    # Channels added before rules existed received every alert at or above their level: one
    # team rule each keeps them doing so.
    op.execute(
        "INSERT INTO alert_rules (name, owner_user_id, channel_id, kinds, account_ids, min_level,"
        " renotify_s, escalate_after_s, escalation_channel_id, enabled, created_at)"
        " SELECT name, NULL, id, '[]', '[]', min_level, 300, NULL, NULL, enabled, created_at"
        " FROM alert_channels"
    )

    with op.batch_alter_table("trading_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("silence_timeout_s", sa.Integer(), nullable=False, server_default="300")
        )
    with op.batch_alter_table("account_risk_state", schema=None) as batch_op:
        batch_op.add_column(_when("silent_since"))


def downgrade() -> None:
    with op.batch_alter_table("account_risk_state", schema=None) as batch_op:
        batch_op.drop_column("silent_since")
    with op.batch_alter_table("trading_accounts", schema=None) as batch_op:
        batch_op.drop_column("silence_timeout_s")
    op.drop_table("alert_rules")
    op.execute(
        "DELETE FROM alert_attempts WHERE delivery_id IN (SELECT id FROM alert_deliveries WHERE escalation)"
    )
    op.execute("DELETE FROM alert_deliveries WHERE escalation OR status = 'suppressed'")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_channel_id_alert_id"))
        batch_op.drop_constraint("uq_alert_deliveries_alert_id_channel_id_escalation", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_alert_deliveries_alert_id_channel_id"), ["alert_id", "channel_id"]
        )
        batch_op.drop_column("deferred")
        batch_op.drop_column("escalation")
    _widen(
        "alert_deliveries",
        "status",
        "delivery_status",
        ("pending", "sent", "dead", "suppressed"),
        ("pending", "sent", "dead"),
    )
    with op.batch_alter_table("alert_channels", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alert_channels_owner_user_id_users", type_="foreignkey")
        batch_op.drop_column("owner_user_id")
    op.execute("DELETE FROM alerts WHERE kind <> 'guard'")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alerts_acknowledged_by_users", type_="foreignkey")
        batch_op.drop_constraint("fk_alerts_incident_id_reconciliation_divergences", type_="foreignkey")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("incident_id")
    _widen("alerts", "kind", "alert_kind", ("guard", "incident", "silence", "system"), ("guard",))
