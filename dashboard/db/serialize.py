"""Transactions that must not run side by side in two processes (migrations and the demo seed when
two processes start together on an empty database): a PostgreSQL advisory lock held until the
transaction ends. SQLite serializes writers by itself and is one process anyway."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

#: Advisory lock ids of this application (any 64-bit numbers; the leader's is in `leader.py`).
SEED_LOCK_KEY = 0x7E1E_B07D_5EED
MIGRATION_LOCK_KEY = 0x7E1E_B07D_A1E3


async def one_at_a_time(executor: AsyncSession | AsyncConnection, key: int) -> None:
    """Wait until no other transaction holds `key`, then hold it until this one ends."""
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    if bind.dialect.name == "postgresql":
        await executor.execute(select(func.pg_advisory_xact_lock(key)))
