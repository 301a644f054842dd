"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("asset_class", sa.String(length=16), nullable=False),
        sa.Column("contract_size", dashboard.db.types.Num(precision=18, scale=4), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("volume_step", dashboard.db.types.Num(precision=12, scale=2), nullable=False),
        sa.Column("quote_ccy", sa.String(length=3), nullable=False),
        sa.Column("typical_spread", dashboard.db.types.Num(precision=20, scale=8), nullable=False),
        sa.Column("annual_vol", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.Column("trading_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_instruments")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "trader",
                "risk",
                "admin",
                "service",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_users_telegram_user_id")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_audit_log_actor_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_actor_user_id_created_at"), ["actor_user_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)

    op.create_table(
        "market_state",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("bid", dashboard.db.types.Num(precision=20, scale=8), nullable=False),
        sa.Column("ask", dashboard.db.types.Num(precision=20, scale=8), nullable=False),
        sa.Column("quoted_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("guard_state", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["symbol"], ["instruments.symbol"], name=op.f("fk_market_state_symbol_instruments")
        ),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_market_state")),
    )
    op.create_table(
        "trading_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("broker_login", sa.BigInteger(), nullable=False),
        sa.Column("broker_server", sa.String(length=80), nullable=False),
        sa.Column(
            "margin_mode",
            sa.Enum(
                "hedging", "netting", name="margin_mode", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("initial_balance", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("dd_warning_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.Column("dd_critical_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.Column("daily_loss_limit_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=True),
        sa.Column("max_loss_limit_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=True),
        sa.Column(
            "daily_loss_basis",
            sa.Enum(
                "initial",
                "sod_balance",
                "max_sod_balance_equity",
                name="daily_loss_basis",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "max_loss_mode",
            sa.Enum(
                "static",
                "trailing_eod",
                name="max_loss_mode",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("day_reset_tz", sa.String(length=64), nullable=False),
        sa.Column("day_reset_hour", sa.Integer(), nullable=False),
        sa.Column(
            "stops_policy",
            sa.Enum(
                "broker_wins",
                "platform_wins",
                name="stops_policy",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("platform_magic", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "disabled",
                name="account_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "day_reset_hour >= 0 AND day_reset_hour < 24", name=op.f("ck_trading_accounts_reset_hour")
        ),
        sa.CheckConstraint(
            "dd_warning_pct > 0 AND dd_warning_pct < dd_critical_pct",
            name=op.f("ck_trading_accounts_dd_thresholds"),
        ),
        sa.CheckConstraint("leverage > 0", name=op.f("ck_trading_accounts_leverage_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_trading_accounts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_accounts")),
        sa.UniqueConstraint(
            "broker_server", "broker_login", name=op.f("uq_trading_accounts_broker_server_broker_login")
        ),
    )
    with op.batch_alter_table("trading_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trading_accounts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "account_risk_state",
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("balance", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("equity", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("margin", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("hwm", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("hwm_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("drawdown_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.Column("max_drawdown_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.Column(
            "dd_level",
            sa.Enum(
                "normal",
                "warning",
                "critical",
                name="dd_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "dd_alert_level",
            sa.Enum(
                "normal",
                "warning",
                "critical",
                name="dd_alert_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("day_start_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("day_start_balance", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("day_start_equity", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("daily_loss_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.Column(
            "daily_loss_level",
            sa.Enum(
                "normal",
                "warning",
                "critical",
                name="daily_loss_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "max_loss_level",
            sa.Enum(
                "normal",
                "warning",
                "critical",
                name="max_loss_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("highest_eod_balance", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column("open_positions", sa.Integer(), nullable=False),
        sa.Column("total_syncs", sa.BigInteger(), nullable=False),
        sa.Column("failed_syncs", sa.BigInteger(), nullable=False),
        sa.Column("incidents_total", sa.BigInteger(), nullable=False),
        sa.Column("open_incidents", sa.Integer(), nullable=False),
        sa.Column("open_critical_incidents", sa.Integer(), nullable=False),
        sa.Column("last_sync_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_sync_status",
            sa.Enum(
                "ok",
                "divergent",
                "failed",
                "skipped",
                name="last_sync_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["trading_accounts.id"],
            name=op.f("fk_account_risk_state_account_id_trading_accounts"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_account_risk_state_user_id_users")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_risk_state")),
    )
    with op.batch_alter_table("account_risk_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_risk_state_drawdown_pct"), ["drawdown_pct"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_risk_state_user_id"), ["user_id"], unique=False)

    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("balance", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("equity", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("margin", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("free_margin", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("hwm", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("drawdown_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["trading_accounts.id"],
            name=op.f("fk_equity_snapshots_account_id_trading_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_snapshots")),
        sa.UniqueConstraint("account_id", "ts", name=op.f("uq_equity_snapshots_account_id_ts")),
    )
    op.create_table(
        "guard_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "guard_type",
            sa.Enum(
                "drawdown",
                "daily_loss",
                "max_loss",
                "price_gap",
                "spread",
                "stale_quote",
                "signal_deviation",
                "margin_level",
                name="guard_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column(
            "level",
            sa.Enum(
                "normal",
                "warning",
                "critical",
                name="guard_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "triggered",
                "cleared",
                name="guard_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("metric_value", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("threshold_value", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("message", sa.String(length=255), nullable=False),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("acknowledged_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["trading_accounts.id"], name=op.f("fk_guard_events_account_id_trading_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_guard_events_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_guard_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_events")),
    )
    with op.batch_alter_table("guard_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guard_events_account_id_created_at"), ["account_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_guard_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_guard_events_guard_type_created_at"), ["guard_type", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guard_events_user_id_created_at"), ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "positions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("broker_ticket", sa.BigInteger(), nullable=False),
        sa.Column("broker_position_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column(
            "side",
            sa.Enum("buy", "sell", name="side", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("volume", dashboard.db.types.Num(precision=12, scale=2), nullable=False),
        sa.Column("price_open", dashboard.db.types.Num(precision=20, scale=8), nullable=False),
        sa.Column("requested_price", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("price_current", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("sl", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("tp", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("swap", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("commission", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column("profit", dashboard.db.types.Num(precision=18, scale=2), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "closed", name="position_status", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("opened_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("close_price", dashboard.db.types.Num(precision=20, scale=8), nullable=True),
        sa.Column("realized_pnl", dashboard.db.types.Num(precision=18, scale=2), nullable=True),
        sa.Column(
            "close_reason",
            sa.Enum(
                "tp",
                "sl",
                "stop_out",
                "manual",
                "signal",
                "reconciliation",
                name="close_reason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "platform",
                "external",
                name="position_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("signal_ref", sa.String(length=64), nullable=True),
        sa.Column("magic", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("synced_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("volume > 0", name=op.f("ck_positions_volume_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["trading_accounts.id"], name=op.f("fk_positions_account_id_trading_accounts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_positions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint(
            "account_id", "broker_position_id", name=op.f("uq_positions_account_id_broker_position_id")
        ),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_positions_account_id_status"), ["account_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_positions_status_closed_at"), ["status", "closed_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_positions_status_symbol"), ["status", "symbol"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_positions_user_id_opened_at"), ["user_id", "opened_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_positions_user_id_status_closed_at"),
            ["user_id", "status", "closed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_positions_user_id_status_symbol"), ["user_id", "status", "symbol"], unique=False
        )

    op.create_table(
        "reconciliation_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "event_type",
            sa.Enum(
                "startup_sync",
                "scheduled_sync",
                "manual_sync",
                "sync_failed",
                name="sync_event_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "ok",
                "divergent",
                "failed",
                "skipped",
                name="sync_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("broker_positions", sa.Integer(), nullable=False),
        sa.Column("local_positions", sa.Integer(), nullable=False),
        sa.Column("matched_positions", sa.Integer(), nullable=False),
        sa.Column("divergences", sa.Integer(), nullable=False),
        sa.Column("auto_resolved", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["trading_accounts.id"],
            name=op.f("fk_reconciliation_logs_account_id_trading_accounts"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_reconciliation_logs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_logs")),
        sa.UniqueConstraint("account_id", "sync_id", name=op.f("uq_reconciliation_logs_account_id_sync_id")),
    )
    with op.batch_alter_table("reconciliation_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_logs_account_id_created_at"),
            ["account_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_reconciliation_logs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reconciliation_logs_user_id_created_at"), ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "reconciliation_divergences",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("broker_position_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "closed_at_broker",
                "missing_at_broker",
                "unexpected_at_broker",
                "volume_mismatch",
                "side_mismatch",
                "price_open_mismatch",
                "sl_mismatch",
                "tp_mismatch",
                "symbol_mismatch",
                "ticket_changed",
                name="divergence_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "info",
                "warning",
                "critical",
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("local_value", sa.String(length=64), nullable=True),
        sa.Column("broker_value", sa.String(length=64), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "open",
                "broker_wins",
                "closed_locally",
                "adopted_external",
                "resent_to_broker",
                "manual",
                "ignored",
                name="divergence_action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "resolution",
            sa.Enum(
                "open",
                "broker_wins",
                "closed_locally",
                "adopted_external",
                "resent_to_broker",
                "manual",
                "ignored",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("first_log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("first_seen_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("escalated_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["trading_accounts.id"],
            name=op.f("fk_reconciliation_divergences_account_id_trading_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["first_log_id"],
            ["reconciliation_logs.id"],
            name=op.f("fk_reconciliation_divergences_first_log_id_reconciliation_logs"),
        ),
        sa.ForeignKeyConstraint(
            ["last_log_id"],
            ["reconciliation_logs.id"],
            name=op.f("fk_reconciliation_divergences_last_log_id_reconciliation_logs"),
        ),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_reconciliation_divergences_position_id_positions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reconciliation_divergences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_divergences")),
    )
    with op.batch_alter_table("reconciliation_divergences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_divergences_account_id_resolution"),
            ["account_id", "resolution"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_divergences_first_log_id"), ["first_log_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_divergences_first_seen_at"), ["first_seen_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_divergences_resolution_first_seen_at"),
            ["resolution", "first_seen_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_divergences_user_id_first_seen_at"),
            ["user_id", "first_seen_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_divergences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_divergences_user_id_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_divergences_resolution_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_divergences_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_divergences_first_log_id"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_divergences_account_id_resolution"))

    op.drop_table("reconciliation_divergences")
    with op.batch_alter_table("reconciliation_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_logs_user_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_logs_created_at"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_logs_account_id_created_at"))

    op.drop_table("reconciliation_logs")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_user_id_status_symbol"))
        batch_op.drop_index(batch_op.f("ix_positions_user_id_status_closed_at"))
        batch_op.drop_index(batch_op.f("ix_positions_user_id_opened_at"))
        batch_op.drop_index(batch_op.f("ix_positions_status_symbol"))
        batch_op.drop_index(batch_op.f("ix_positions_status_closed_at"))
        batch_op.drop_index(batch_op.f("ix_positions_account_id_status"))

    op.drop_table("positions")
    with op.batch_alter_table("guard_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guard_events_user_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_guard_events_guard_type_created_at"))
        batch_op.drop_index(batch_op.f("ix_guard_events_created_at"))
        batch_op.drop_index(batch_op.f("ix_guard_events_account_id_created_at"))

    op.drop_table("guard_events")
    op.drop_table("equity_snapshots")
    with op.batch_alter_table("account_risk_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_risk_state_user_id"))
        batch_op.drop_index(batch_op.f("ix_account_risk_state_drawdown_pct"))

    op.drop_table("account_risk_state")
    with op.batch_alter_table("trading_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trading_accounts_user_id"))

    op.drop_table("trading_accounts")
    op.drop_table("market_state")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor_user_id_created_at"))

    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_table("instruments")
