"""What one running app process holds: settings, database, the cache in front of it and auth.

Stored on `app.state.runtime` at start-up and handed to routes and pages through one accessor,
instead of module-level singletons, so tests can build as many runtimes as they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from dashboard.auth.sessions import AuthService, LoginPolicy
from dashboard.auth.tokens import TokenService
from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.cache.queries import CachedQueries
from dashboard.db.session import Database
from dashboard.settings import Environment, Settings


@dataclass
class Runtime:
    settings: Settings
    database: Database
    cache: QueryCache
    tokens: TokenService
    queries: CachedQueries = field(init=False)
    auth: AuthService = field(init=False)

    def __post_init__(self) -> None:
        # Pages and API read only through here; nothing on a hot path queries the database directly.
        self.queries = CachedQueries(self.database, self.cache)
        policy = LoginPolicy(
            max_failures_per_account=self.settings.login_max_failures,
            max_failures_per_address=self.settings.login_max_failures_per_addr,
            window=timedelta(seconds=self.settings.login_window_s),
        )
        self.auth = AuthService(
            self.database,
            self.cache,
            self.tokens,
            policy,
            allow_demo_users=self.settings.env is Environment.DEMO,
        )

    @classmethod
    def from_settings(cls, settings: Settings, jwt_secret: str) -> Runtime:
        return cls(
            settings=settings,
            database=Database(settings.database_url, echo=settings.sql_echo),
            cache=QueryCache(CacheConfig.from_settings(settings)),
            tokens=TokenService(
                jwt_secret,
                access_ttl=timedelta(seconds=settings.access_token_ttl_s),
                refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
            ),
        )

    async def start(self) -> None:
        await self.cache.start()

    async def close(self) -> None:
        await self.cache.close()
        await self.database.dispose()
