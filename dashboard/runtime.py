"""What one running app process holds: settings and database (and, later, the cache).

Stored on `app.state.runtime` at start-up and handed to routes and pages through one accessor,
instead of module-level singletons, so tests can build as many runtimes as they like.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.db.session import Database
from dashboard.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    database: Database

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(settings=settings, database=Database(settings.database_url, echo=settings.sql_echo))

    async def close(self) -> None:
        await self.database.dispose()
