"""The database side of the cache's pending invalidations (see `PendingInvalidation`).

Rows are written only while Redis is unreachable, so in normal operation this costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select

from dashboard.db.models import PendingInvalidation
from dashboard.db.session import Database

Item = tuple[str, str | None]


class DatabasePendingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, items: Iterable[Item]) -> None:
        now = datetime.now(UTC)
        rows = [{"family": family, "scope": scope, "created_at": now} for family, scope in items]
        if rows:
            async with self.db.session() as session:
                await session.execute(insert(PendingInvalidation), rows)

    async def load(self) -> tuple[int, set[Item]]:
        async with self.db.read_session() as session:
            up_to = (await session.execute(select(func.max(PendingInvalidation.id)))).scalar_one_or_none()
            if up_to is None:
                return 0, set()
            rows = await session.execute(
                select(PendingInvalidation.family, PendingInvalidation.scope)
                .where(PendingInvalidation.id <= up_to)
                .distinct()
            )
            return int(up_to), {(family, scope) for family, scope in rows}

    async def forget(self, up_to_id: int) -> None:
        async with self.db.session() as session:
            await session.execute(delete(PendingInvalidation).where(PendingInvalidation.id <= up_to_id))
