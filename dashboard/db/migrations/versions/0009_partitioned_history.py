"""Partitioned history on PostgreSQL: reconciliation_logs by created_at and equity_snapshots by ts,
one partition per UTC day plus a DEFAULT (`dashboard.db.partitions` says why daily); incidents no
longer hold foreign keys to their logs; (account_id, sync_id, created_at) is the logs' unique key

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

PostgreSQL, per table: the old table gives up its index names and is renamed; the partitioned
parent is created LIKE it (columns, NOT NULLs, CHECKs and the id column's default, i.e. the same
id sequence, whose ownership moves over so new ids continue after the copied ones); a partition
for every day that has rows and for today and `DAYS_AHEAD` days after, and the DEFAULT; the rows
are copied (INSERT … SELECT, each to its day), then the primary key, unique key, indexes and
foreign keys are made (faster after the load than during it); the old table is dropped. The
tables are locked for the migration's length, as any migration of them would.

What partitioning forces, and why the models differ from PostgreSQL in exactly one thing:
- a partitioned table's primary and unique keys must include the partition key. The unique key
  (account_id, sync_id, created_at) is the same on both backends (ingestion finds a repeated sync
  id by (account_id, sync_id) under the account's lock; the key backs that up for the same sync
  sent twice, which carries the same taken_at). The primary key is (id, created_at) / (id, ts) on
  PostgreSQL only: SQLite autoincrements only a single INTEGER PRIMARY KEY, so the models keep
  `id` and tests/db/test_schema.py checks this one difference;
- nothing can reference `reconciliation_logs.id` alone any more, so the incidents' first_log_id /
  last_log_id foreign keys go, on both backends (the logs an incident points at now go with their
  day at the horizon; the incident keeps its own times, values and counts).

SQLite keeps plain tables. Its two changed tables are rebuilt from their stored CREATE TABLE text
(SQLite cannot drop a constraint in place). Alembic's batch mode would rename a new table over
the old one, which with foreign keys enforced (they are, see `dashboard.db.session`) fails for a
table others reference (alerts reference incidents); so the table is dropped and created under its
own name, and its rows re-inserted, with the foreign key checks deferred to the commit.
"""

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from dashboard.db.partitions import DAYS_AHEAD, default_partition_sql, partition_of_sql, utc_day

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_FKS = {
    "first_log_id": "fk_reconciliation_divergences_first_log_id_reconciliation_logs",
    "last_log_id": "fk_reconciliation_divergences_last_log_id_reconciliation_logs",
}
OLD_UNIQUE = ("uq_reconciliation_logs_account_id_sync_id", ["account_id", "sync_id"])
NEW_UNIQUE = ("uq_reconciliation_logs_account_id_sync_id_created_at", ["account_id", "sync_id", "created_at"])


class Shape:
    """What a partitioned table gets back after the copy: the models' keys, indexes and FKs."""

    def __init__(
        self,
        key: str,
        unique: tuple[str, list[str]],
        indexes: dict[str, list[str]],
        fks: dict[str, tuple[str, str]],
    ) -> None:
        self.key, self.unique, self.indexes, self.fks = key, unique, indexes, fks


SHAPES = {
    "reconciliation_logs": Shape(
        "created_at",
        NEW_UNIQUE,
        {
            "ix_reconciliation_logs_user_id_created_at": ["user_id", "created_at"],
            "ix_reconciliation_logs_account_id_created_at": ["account_id", "created_at"],
            "ix_reconciliation_logs_created_at": ["created_at"],
        },
        {
            "fk_reconciliation_logs_user_id_users": ("user_id", "users"),
            "fk_reconciliation_logs_account_id_trading_accounts": ("account_id", "trading_accounts"),
        },
    ),
    "equity_snapshots": Shape(
        "ts",
        ("uq_equity_snapshots_account_id_ts", ["account_id", "ts"]),
        {"ix_equity_snapshots_ts": ["ts"]},
        {"fk_equity_snapshots_account_id_trading_accounts": ("account_id", "trading_accounts")},
    ),
}


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        _sqlite_rebuild(connection, "reconciliation_divergences", _without_log_fks)
        _sqlite_rebuild(connection, "reconciliation_logs", _swap_unique(OLD_UNIQUE, NEW_UNIQUE))
        return
    for name in LOG_FKS.values():
        op.drop_constraint(name, "reconciliation_divergences", type_="foreignkey")
    today = datetime.now(UTC).date()
    for table, shape in SHAPES.items():
        _partition(connection, table, shape, today)


def _names(connection: sa.Connection, sql: str, table: str) -> list[str]:
    return list(connection.execute(sa.text(sql), {"table": table}).scalars())


def _column_list(connection: sa.Connection, table: str) -> str:
    names = _names(
        connection,
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table)"
        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        table,
    )
    return ", ".join(f'"{name}"' for name in names)


def _partition(connection: sa.Connection, table: str, shape: Shape, today: date) -> None:
    old, key = f"{table}_unpartitioned", shape.key
    sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table})
    sequence_name = sequence.scalar_one()
    columns = _column_list(connection, table)
    # Every day that has rows (not the empty days between: rows written for those later go to the
    # DEFAULT and are moved into a day of their own by the leader), today and the days ahead.
    with_rows = connection.execute(
        sa.text(f"SELECT DISTINCT date_trunc('day', \"{key}\", 'UTC') FROM \"{table}\"")
    )
    days = {utc_day(moment) for moment in with_rows.scalars()}
    days |= {today + timedelta(days=n) for n in range(DAYS_AHEAD + 1)}
    # The new table's constraints and indexes take these names: free them.
    for name in _names(
        connection,
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:table) AND contype IN ('p', 'u')",
        table,
    ):
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for name in _names(
        connection,
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = to_regclass(:table)",
        table,
    ):
        op.execute(f"DROP INDEX {name}")
    op.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    op.execute(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'
        f' PARTITION BY RANGE ("{key}")'
    )
    op.execute(f'ALTER SEQUENCE {sequence_name} OWNED BY "{table}".id')
    for day in sorted(days):
        op.execute(partition_of_sql(table, day))
    op.execute(default_partition_sql(table))
    op.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{old}"')
    op.create_primary_key(f"pk_{table}", table, ["id", key])
    op.create_unique_constraint(shape.unique[0], table, shape.unique[1])
    for name, indexed in shape.indexes.items():
        op.create_index(name, table, indexed)
    for name, (column, referred) in shape.fks.items():
        op.create_foreign_key(name, table, referred, [column], ["id"])
    op.execute(f'DROP TABLE "{old}"')


def _without_log_fks(sql: str) -> str:
    for column, name in LOG_FKS.items():
        sql = _replace_once(
            sql,
            rf',\s*CONSTRAINT\s+"?{name}"?\s+FOREIGN KEY\s*\(\s*"?{column}"?\s*\)'
            r'\s*REFERENCES\s+"?reconciliation_logs"?\s*\(\s*"?id"?\s*\)',
            "",
        )
    return sql


def _with_log_fks(sql: str) -> str:
    clauses = "".join(
        f", \n\tCONSTRAINT {name} FOREIGN KEY({column}) REFERENCES reconciliation_logs (id)"
        for column, name in LOG_FKS.items()
    )
    return _replace_once(sql, r"\s*\)\s*$", clauses + "\n)")


def _swap_unique(before: tuple[str, list[str]], after: tuple[str, list[str]]) -> Callable[[str], str]:
    def edit(sql: str) -> str:
        columns = r",\s*".join(f'"?{column}"?' for column in before[1])
        return _replace_once(
            sql,
            rf'CONSTRAINT\s+"?{before[0]}"?\s+UNIQUE\s*\(\s*{columns}\s*\)',
            f"CONSTRAINT {after[0]} UNIQUE ({', '.join(after[1])})",
        )

    return edit


def _replace_once(sql: str, pattern: str, replacement: str) -> str:
    """The edit must apply exactly once: a schema that is not what 0001-0008 made stops the
    migration here rather than being rebuilt wrong."""
    edited, count = re.subn(pattern, lambda _: replacement, sql)
    if count != 1:
        raise RuntimeError(f"0009: expected one match of {pattern!r} in {sql!r}, found {count}")
    return edited


def _sqlite_rebuild(connection: sa.Connection, table: str, edit: Callable[[str], str]) -> None:
    """Rebuild `table` with its CREATE TABLE text edited, keeping its rows and indexes."""
    sql = connection.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"), {"table": table}
    ).scalar_one()
    indexes = _names(
        connection,
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL",
        table,
    )
    new_sql = edit(sql)
    copy = f'temp."_0009_{table}"'
    connection.exec_driver_sql(f'CREATE TEMP TABLE "_0009_{table}" AS SELECT * FROM "{table}" WHERE 0')
    # DML first: Python's sqlite3 opens its transaction at the first INSERT/UPDATE/DELETE, and the
    # DROP below must be inside it (with its foreign key checks deferred to the commit).
    connection.exec_driver_sql(f'INSERT INTO {copy} SELECT * FROM "{table}"')
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    connection.exec_driver_sql(f'DROP TABLE "{table}"')
    connection.exec_driver_sql(new_sql)
    for index in indexes:
        connection.exec_driver_sql(index)
    # Inserting the rows back under the table's own name is what satisfies, before the commit, the
    # rows of other tables that reference them (a rename would not).
    connection.exec_driver_sql(f'INSERT INTO "{table}" SELECT * FROM {copy}')
    connection.exec_driver_sql(f"DROP TABLE {copy}")


def downgrade() -> None:
    """Back to plain tables. The incidents' foreign keys come back NOT VALID on PostgreSQL (logs
    of old incidents may have been dropped with their day); on SQLite that cannot be expressed,
    and the downgrade fails at its commit if an incident points at a log that is gone."""
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        _sqlite_rebuild(connection, "reconciliation_logs", _swap_unique(NEW_UNIQUE, OLD_UNIQUE))
        _sqlite_rebuild(connection, "reconciliation_divergences", _with_log_fks)
        return
    for table, shape in SHAPES.items():
        _unpartition(connection, table, shape)
    for column, name in LOG_FKS.items():
        op.execute(
            f'ALTER TABLE reconciliation_divergences ADD CONSTRAINT "{name}" FOREIGN KEY ({column})'
            " REFERENCES reconciliation_logs (id) NOT VALID"
        )


def _unpartition(connection: sa.Connection, table: str, shape: Shape) -> None:
    old = f"{table}_partitioned"
    sequence_name = connection.execute(
        sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
    ).scalar_one()
    for name in _names(
        connection,
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:table) AND contype IN ('p', 'u')",
        table,
    ):
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for name in _names(
        connection,
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = to_regclass(:table)",
        table,
    ):
        op.execute(f"DROP INDEX {name}")
    op.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    op.execute(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    op.execute(f'ALTER SEQUENCE {sequence_name} OWNED BY "{table}".id')
    columns = _column_list(connection, old)
    op.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{old}"')
    op.create_primary_key(f"pk_{table}", table, ["id"])
    unique = OLD_UNIQUE if shape.unique == NEW_UNIQUE else shape.unique
    op.create_unique_constraint(unique[0], table, unique[1])
    for name, indexed in shape.indexes.items():
        op.create_index(name, table, indexed)
    for name, (column, referred) in shape.fks.items():
        op.create_foreign_key(name, table, referred, [column], ["id"])
    op.execute(f'DROP TABLE "{old}"')
