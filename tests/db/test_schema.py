"""The migrated schema behaves the same on both backends for the things SQLite gets wrong."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from dashboard.db.migrate import current_revision, head_revision, upgrade
from dashboard.db.models import Base, User
from dashboard.db.partitions import PARTITION_KEYS, list_partitions
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, pg_url


async def test_migrations_reach_head_and_are_idempotent(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    await upgrade(database)
    assert await current_revision(database) == head_revision()


async def test_timestamps_come_back_aware_utc(database: Database) -> None:
    prague = timezone(timedelta(hours=1))
    written = datetime(2026, 1, 2, 3, 4, 5, tzinfo=prague)
    async with database.session() as s:
        s.add(User(email="a@x", display_name="A", role=Role.TRADER, created_at=written))
    async with database.read_session() as s:
        user = (await s.execute(select(User))).scalar_one()
    assert user.created_at.tzinfo is not None
    assert user.created_at == written
    assert user.created_at.utcoffset() == timedelta(0)


async def test_naive_timestamp_is_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with database.session() as s:
            s.add(User(email="b@x", display_name="B", role=Role.TRADER, created_at=datetime(2026, 1, 1)))


async def test_enum_check_constraint_rejects_unknown_role(database: Database) -> None:
    from sqlalchemy import text

    with pytest.raises(IntegrityError):
        async with database.session() as s:
            await s.execute(
                text(
                    "INSERT INTO users (email, display_name, role, session_version, is_active, is_demo,"
                    " created_at) VALUES ('c@x', 'C', 'pirate', 0, true, false, :ts)"
                ),
                {"ts": datetime.now(UTC).replace(tzinfo=None)},
            )


async def test_float_is_refused_for_money(database: Database) -> None:
    from tests.factories import make_account, make_user

    async with database.session() as s:
        user = await make_user(s, "t@x", Role.TRADER)
        account = await make_account(s, user)
    assert account.initial_balance == Decimal("10000.00")
    with pytest.raises(StatementError, match="float refused"):
        async with database.session() as s:
            await make_account(s, user, broker_login=2, initial_balance=1.5)  # type: ignore[arg-type]


async def partitions_of_the_database(database: Database) -> set[str]:
    """Names of every table partition (PostgreSQL): tables the models do not declare, by design."""
    found: set[str] = set()
    for table in PARTITION_KEYS:
        found |= {p.name for p in await list_partitions(database, table)}
    return found


async def test_models_and_migrations_agree(database: Database) -> None:
    """A model change without a migration (or the reverse) shows up here, not in production.
    PostgreSQL's day partitions are left out (the models declare their parents); the primary keys,
    which this comparison does not look at, are checked below."""
    await upgrade(database)
    partitions = await partitions_of_the_database(database)
    assert (database.dialect == "postgresql") == bool(partitions)

    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return not (type_ == "table" and name in partitions)

    async with database.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": False, "include_name": include_name}),
                Base.metadata,
            )
        )
    assert diff == []


async def test_primary_keys_are_the_models_but_hold_the_partition_key_on_postgresql(
    database: Database,
) -> None:
    """The one way the migrated schema may differ from the models: on PostgreSQL the partitioned
    tables' primary keys also hold their partition key (PostgreSQL requires it; SQLite needs a
    single INTEGER PRIMARY KEY to autoincrement). Nothing else is partitioned, and on SQLite
    nothing is."""
    expected = {
        table.name: [c.name for c in table.primary_key.columns] for table in Base.metadata.sorted_tables
    }
    partitioned: dict[str, str] = {}
    if database.dialect == "postgresql":
        for table, key in PARTITION_KEYS.items():
            expected[table] = [*expected[table], key]
            partitioned[table] = f"RANGE ({key})"
    async with database.engine.connect() as conn:
        reflected = await conn.run_sync(
            lambda sync: {
                name: inspect(sync).get_pk_constraint(name)["constrained_columns"] for name in expected
            }
        )
        found: dict[str, str] = {}
        if database.dialect == "postgresql":
            rows = await conn.execute(
                text(
                    "SELECT partrelid::regclass::text, pg_get_partkeydef(partrelid) FROM pg_partitioned_table"
                )
            )
            found = {name: definition for name, definition in rows.all()}
    assert reflected == expected
    assert found == partitioned


@pytest.mark.postgres
async def test_two_processes_migrating_an_empty_database_together_both_succeed() -> None:
    """Two app processes started together (docker compose up) both migrate at start-up: they take
    turns instead of one failing on a table the other is creating."""
    name = f"tbt_migrate_{os.getpid()}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        first, second = Database(pg_url(name)), Database(pg_url(name))
        try:
            await asyncio.gather(upgrade(first), upgrade(second))
            assert await current_revision(first) == head_revision()
        finally:
            await first.dispose()
            await second.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
