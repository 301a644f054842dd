"""What one running app process holds: settings, database, the cache in front of it and auth;
and the one way to reach it (`current_runtime()`).

The runtime is built by the start-up hook and installed here; pages, components, guards and the
API all reach it through `current_runtime()`. Tests install their own (`install_runtime`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from dashboard.auth.admin import UserAdmin
from dashboard.auth.sessions import AuthService
from dashboard.auth.tokens import TokenService
from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.cache.queries import CachedQueries
from dashboard.cache.writer import Writer
from dashboard.db.leader import Leadership
from dashboard.db.pending_invalidations import DatabasePendingStore
from dashboard.db.session import Database
from dashboard.metrics import AppMetrics
from dashboard.services.alerts.ack_links import AckLinks
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.login_throttle import LoginPolicy
from dashboard.settings import Environment, Settings


class NotReady(Exception):
    """The process is up but not serving yet (starting, migrating, seeding the demo, or stopped)."""


@dataclass
class Readiness:
    """What `/health/ready` reports: serve traffic only when every part is true."""

    migrated: bool = False
    demo: bool = False
    # True when there is nothing to seed (not demo mode) or the demo seed has finished.
    seeded: bool = False
    draining: bool = False

    @property
    def demo_seed(self) -> Literal["done", "running", "not used"]:
        if not self.demo:
            return "not used"
        return "done" if self.seeded else "running"

    @property
    def serving(self) -> bool:
        """Requests can be answered (a draining process still answers the ones that reach it)."""
        return self.migrated and self.seeded

    @property
    def ready(self) -> bool:
        """The proxy may send new browsers here."""
        return self.serving and not self.draining


@dataclass
class Runtime:
    settings: Settings
    database: Database
    cache: QueryCache
    tokens: TokenService
    queries: CachedQueries = field(init=False)
    write: Writer = field(init=False)
    auth: AuthService = field(init=False)
    users: UserAdmin = field(init=False)
    # Who runs the cluster's background work (`dashboard.background`): one process at a time.
    leadership: Leadership = field(init=False)
    # Opens alert channels' URLs (the settings' key; demo mode's own when none is set).
    alert_secrets: ChannelSecrets = field(init=False)
    ack_links: AckLinks = field(init=False)
    readiness: Readiness = field(default_factory=Readiness)
    metrics: AppMetrics = field(default_factory=AppMetrics)

    def __post_init__(self) -> None:
        # Pages and API read only through `queries` (cached) and write only through `write` (which
        # invalidates what each write touched); nothing on a hot path reaches the database directly.
        self.queries = CachedQueries(
            self.database,
            self.cache,
            raw_equity_kept=timedelta(days=self.settings.equity_raw_retention_days),
            sync_logs_kept=timedelta(days=self.settings.sync_log_retention_days),
        )
        self.write = Writer(
            self.database, self.cache, lambda op, result: self.metrics.writes.labels(op, result).inc()
        )
        policy = LoginPolicy(
            max_failures_per_account=self.settings.login_max_failures,
            max_failures_per_address=self.settings.login_max_failures_per_addr,
            window=timedelta(seconds=self.settings.login_window_s),
        )
        self.auth = AuthService(
            self.cache,
            self.write,
            self.tokens,
            policy,
            allow_demo_users=self.settings.env is Environment.DEMO,
            on_login=lambda outcome: self.metrics.logins.labels(outcome).inc(),
        )
        self.users = UserAdmin(self.write, self.auth)
        self.leadership = Leadership(self.settings.database_url, on_change=self.metrics.leader.set)
        self.alert_secrets = ChannelSecrets.of(self.settings.alerts_key)
        self.ack_links = AckLinks(self.tokens.derive_key("alert-ack-link"), self.settings.public_url)
        self.metrics.watch(self.settings, self.database, self.cache, lambda: self.readiness.ready)

    @classmethod
    def from_settings(cls, settings: Settings, jwt_secret: str) -> Runtime:
        database = Database(settings.database_url, echo=settings.sql_echo, limits=settings.pool_limits)
        return cls(
            settings=settings,
            database=database,
            cache=QueryCache(
                CacheConfig.from_settings(settings), pending_store=DatabasePendingStore(database)
            ),
            tokens=TokenService(
                jwt_secret,
                access_ttl=timedelta(seconds=settings.access_token_ttl_s),
                refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
            ),
        )

    async def start(self) -> None:
        await self.cache.start()

    async def close(self) -> None:
        await self.leadership.resign()
        await self.cache.close()
        await self.database.dispose()


_current: Runtime | None = None


def install_runtime(runtime: Runtime | None) -> None:
    """Make `runtime` the one `current_runtime()` returns (None uninstalls it)."""
    global _current
    _current = runtime


def current_runtime(app: object | None = None) -> Runtime:
    """The runtime of this process, or `NotReady` while it has not been built yet.

    `app` (an ASGI app with a `state`) may carry a runtime of its own: tests run several "processes"
    in one interpreter that way. The production app never does; it uses the installed one.
    """
    own = getattr(getattr(app, "state", None), "runtime", None)
    if isinstance(own, Runtime):
        return own
    if _current is None:
        raise NotReady("the service is starting")
    return _current


def current_metrics() -> AppMetrics | None:
    """The installed runtime's metrics, or None before there is one (requests during start-up)."""
    return _current.metrics if _current is not None else None


def serving_runtime(app: object | None = None) -> Runtime:
    """The runtime, or `NotReady` until it can answer requests (migrated, demo seeded)."""
    runtime = current_runtime(app)
    if not runtime.readiness.serving:
        raise NotReady("the service is starting")
    return runtime
