"""Transactions that must not run side by side in two processes (the demo seed when two processes
start together): a PostgreSQL advisory lock held until the transaction ends. SQLite serializes
writers by itself and is one process anyway."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

#: Advisory lock ids of this application (any 64-bit numbers; the leader's is in `leader.py`).
SEED_LOCK_KEY = 0x7E1E_B07D_5EED


async def one_at_a_time(session: AsyncSession, key: int) -> None:
    """Wait until no other transaction holds `key`, then hold it until this one ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(key)))
