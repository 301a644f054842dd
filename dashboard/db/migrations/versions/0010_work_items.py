"""incidents as work items (acknowledgement, assignee, a person's resolution and its note, reopen,
comments, an index on resolved_at for time-to-resolve), HWM resets, stored service tokens (so they
can be listed and revoked), the prop-challenge objectives of an account, and the account an audit
entry concerns

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import re
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


def _user_column(table: str, column: str) -> None:
    """A nullable column referring to a user. On SQLite an `ALTER TABLE ... ADD COLUMN` with an
    inline reference, never a batch rebuild: rebuilding a table that other tables' rows refer to
    (alerts to incidents, everything to accounts) fails its foreign key check at the commit."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" INTEGER REFERENCES users (id)')
    else:
        op.add_column(table, sa.Column(column, _ID, nullable=True))
        op.create_foreign_key(op.f(f"fk_{table}_{column}_users"), table, "users", [column], ["id"])


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases (no table rebuilt; existing rows get NULL or the default).
    incidents = "reconciliation_divergences"
    op.add_column(incidents, _when("acknowledged_at"))
    _user_column(incidents, "acknowledged_by")
    _user_column(incidents, "assignee_user_id")
    _user_column(incidents, "resolved_by")
    op.add_column(incidents, sa.Column("resolution_note", sa.Text(), nullable=True))
    op.add_column(incidents, _when("reopened_at"))
    op.add_column(incidents, sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(op.f("ix_reconciliation_divergences_resolved_at"), incidents, ["resolved_at"])

    accounts = "trading_accounts"
    op.add_column(
        accounts,
        sa.Column("prop_profit_target_pct", dashboard.db.types.Num(precision=9, scale=4), nullable=True),
    )
    op.add_column(accounts, sa.Column("prop_min_trading_days", sa.Integer(), nullable=True))
    op.add_column(accounts, sa.Column("prop_max_days", sa.Integer(), nullable=True))
    op.add_column(accounts, _when("prop_started_at"))

    op.add_column("audit_log", sa.Column("account_id", _ID, nullable=True))
    op.create_index(op.f("ix_audit_log_account_id_created_at"), "audit_log", ["account_id", "created_at"])

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


#: The columns this revision adds to each table it alters.
ADDED = {
    "reconciliation_divergences": (
        "acknowledged_at", "acknowledged_by", "assignee_user_id", "resolved_by", "resolution_note",
        "reopened_at", "reopen_count",
    ),
    "trading_accounts": (
        "prop_profit_target_pct", "prop_min_trading_days", "prop_max_days", "prop_started_at",
    ),
    "audit_log": ("account_id",),
}  # fmt: skip


def _sqlite_rebuild_without(table: str, columns: tuple[str, ...]) -> None:
    """Drop columns SQLite cannot drop in place (they hold a foreign key): the table is rebuilt from
    its own CREATE TABLE text without them (SQLite appended them at its end; none of their
    definitions holds a comma), its rows copied out
    and back under its own name with the foreign key checks deferred to the commit, as 0009 does,
    so the rows of other tables that refer to it stay valid."""
    connection = op.get_bind()
    sql = connection.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"), {"table": table}
    ).scalar_one()
    indexes = [
        row[0]
        for row in connection.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
            ),
            {"t": table},
        )
    ]
    body = sql.rstrip().removesuffix(")")
    for name in columns:
        body, found = re.subn(rf',\s*"?{name}"?\s[^,]*', "", body)
        if found != 1:
            raise RuntimeError(f"0010 downgrade: column {name} not found once in {table}'s definition")
    kept = ", ".join(
        f'"{row[1]}"'
        for row in connection.exec_driver_sql(f'PRAGMA table_info("{table}")')
        if row[1] not in columns
    )
    copy = f'temp."_0010_{table}"'
    connection.exec_driver_sql(f'CREATE TEMP TABLE "_0010_{table}" AS SELECT {kept} FROM "{table}" WHERE 0')
    connection.exec_driver_sql(f'INSERT INTO {copy} SELECT {kept} FROM "{table}"')
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    connection.exec_driver_sql(f'DROP TABLE "{table}"')
    connection.exec_driver_sql(body + ")")
    for index in indexes:
        connection.exec_driver_sql(index)
    connection.exec_driver_sql(f'INSERT INTO "{table}" ({kept}) SELECT {kept} FROM {copy}')
    connection.exec_driver_sql(f"DROP TABLE {copy}")


def downgrade() -> None:
    op.drop_index(op.f("ix_service_tokens_user_id"), table_name="service_tokens")
    op.drop_table("service_tokens")
    op.drop_index(op.f("ix_hwm_resets_account_id_created_at"), table_name="hwm_resets")
    op.drop_table("hwm_resets")
    op.drop_index(op.f("ix_incident_comments_incident_id_created_at"), table_name="incident_comments")
    op.drop_table("incident_comments")
    op.drop_index(op.f("ix_audit_log_account_id_created_at"), table_name="audit_log")
    op.drop_index(op.f("ix_reconciliation_divergences_resolved_at"), table_name="reconciliation_divergences")
    if op.get_bind().dialect.name == "sqlite":
        # Columns without a foreign key go in place (SQLite >= 3.35); the incidents' need a rebuild.
        for table in ("trading_accounts", "audit_log"):
            for column in ADDED[table]:
                op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        _sqlite_rebuild_without("reconciliation_divergences", ADDED["reconciliation_divergences"])
        return
    for column in ("acknowledged_by", "assignee_user_id", "resolved_by"):
        op.drop_constraint(f"fk_reconciliation_divergences_{column}_users", "reconciliation_divergences")
    for table, columns in ADDED.items():
        for column in columns:
            op.drop_column(table, column)
