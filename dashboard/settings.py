"""The one settings object. Every knob is an environment variable prefixed `DASHBOARD_`.

Why a single object: pages, API, cache and CLI must agree on the database, cache and secret;
reading `os.environ` in several places is how they drift apart.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dashboard.db.limits import PoolLimits

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
DEFAULT_SQLITE_PATH = DATA_DIR / "dashboard.sqlite3"
DEFAULT_DEMO_ALERT_LOG = DATA_DIR / "demo-alerts.log"


class Environment(StrEnum):
    DEMO = "demo"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Runtime configuration; defaults are the embedded demo set-up (SQLite, in-process cache)."""

    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", env_file=None, extra="ignore")

    env: Environment = Environment.DEMO
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    # Redis for the shared cache tier and cross-process invalidation; unset = in-process cache only.
    redis_url: str | None = None
    # Namespace of every cache key and channel (`<ns>:v1:...`); tests and staging use their own.
    cache_namespace: str = Field(default="tb", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    # Redis tier freshness (seconds) and per key family overrides, e.g. '{"equity": 15}'.
    cache_ttl_s: float = Field(default=5.0, gt=0, le=3600)
    cache_ttl_overrides: dict[str, float] = Field(default_factory=dict)
    # How long past freshness a value may still be served while one process refreshes it.
    cache_stale_s: float = Field(default=30.0, ge=0, le=3600)
    # In-process tier: short TTL when Redis is there (other processes' writes arrive by pub/sub),
    # bounded by entries and bytes so that many distinct keys cannot grow memory without limit.
    cache_local_ttl_s: float = Field(default=1.0, gt=0, le=3600)
    cache_local_max_entries: int = Field(default=10_000, ge=1)
    cache_local_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Redis socket timeouts: a slow Redis must cost a page milliseconds, not seconds.
    redis_timeout_s: float = Field(default=0.2, gt=0, le=5)
    # Database waits: a request is told "unavailable" (503) after these, instead of hanging for
    # the drivers' defaults (60 s to connect, 30 s for a pooled connection, no statement limit).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_s: float = Field(default=5.0, gt=0, le=120)
    db_connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    db_statement_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # HS256 signing secret, at least 32 bytes. Production refuses to start without a good one;
    # demo generates a random one per start when unset.
    jwt_secret: SecretStr | None = None
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    # Default refresh of the live pages until a user picks their own (2, 5, 10 or 30 s).
    page_refresh_s: int = Field(default=5)
    # Browser sessions (HttpOnly cookie): a working day; revocable at once like any token.
    web_session_ttl_s: int = Field(default=12 * 3600, ge=300, le=7 * 86_400)
    refresh_token_ttl_s: int = Field(default=7 * 86_400, ge=300, le=90 * 86_400)
    # Login throttling: failures per account / per client address within the window -> 429.
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_addr: int = Field(default=20, ge=1, le=100_000)
    login_window_s: int = Field(default=900, ge=1, le=86_400)
    # Reverse proxies (IPs or networks, comma-separated) whose X-Forwarded-For/-Proto are believed;
    # empty: the connection's peer is the client and forwarded headers are ignored.
    trusted_proxies: str = ""
    # `GET /metrics` (Prometheus): with a token, only `Authorization: Bearer <token>`; without one,
    # only from this machine (127.0.0.1 / ::1, after trusted proxies are resolved).
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # SIGTERM: seconds to report not-ready before asking the open tabs to reconnect elsewhere. It
    # must cover the proxy's health check noticing (deploy/haproxy: every 0.5 s, down after 2).
    drain_s: float = Field(default=1.5, ge=0, le=5)
    # Encrypts alert channels' URLs at rest (they hold bot tokens and passwords): a Fernet key,
    # `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
    # Without it, channels cannot be added.
    alerts_key: SecretStr | None = None
    # Delivery: tries per (alert, channel) before it is dead, and how often the leader looks.
    alert_max_attempts: int = Field(default=8, ge=1, le=100)
    alert_poll_s: float = Field(default=1.0, gt=0, le=60)
    # Where people open the dashboard (e.g. https://risk.example.com): alert messages then carry a
    # signed link that acknowledges the alert after login. Without it, messages have no link.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Demo mode's built-in alert channel writes here (and the alerts page shows its tail).
    demo_alert_log: Path = DEFAULT_DEMO_ALERT_LOG
    # Retention (run by the leader): minute equity snapshots are kept this many days, then only
    # their hourly rollups (kept for the life of the account); longer curves read the rollups.
    equity_raw_retention_days: int = Field(default=30, ge=2, le=3650)
    # Raw sync logs are kept this many days, then only their hourly counts (and the logs incidents
    # point at); the reconciliation page's counters and incidents do not depend on them.
    sync_log_retention_days: int = Field(default=30, ge=1, le=3650)
    # Alerts (with their deliveries and attempts) are kept this many days.
    alert_retention_days: int = Field(default=180, ge=1, le=3650)
    # How often the leader runs retention (seconds).
    retention_every_s: float = Field(default=600.0, ge=1, le=86_400)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # How often the in-process simulator (run --demo) produces quotes, equity and syncs.
    simulate_interval_s: float = Field(default=3.0, gt=0)
    # How often the simulated bridge reports each account's equity (plus at every fill): a real
    # bridge's minute by default; 0 = every tick (tests that count snapshots per tick).
    simulate_equity_every_s: float = Field(default=60.0, ge=0, le=3600)
    # SQL echo for debugging; never on by default.
    sql_echo: bool = False

    @field_validator("page_refresh_s")
    @classmethod
    def _refresh_choice(cls, value: int) -> int:
        if value not in (2, 5, 10, 30):
            raise ValueError("must be one of 2, 5, 10, 30")
        return value

    @field_validator("alerts_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                Fernet(value.get_secret_value().encode())
            except ValueError:
                raise ValueError("must be a Fernet key (32 url-safe base64-encoded bytes)") from None
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("demo_alert_log")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.absolute()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        return ",".join(parse_trusted(value))

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return parse_trusted(self.trusted_proxies)

    @property
    def pool_limits(self) -> PoolLimits:
        return PoolLimits(
            size=self.db_pool_size,
            overflow=self.db_pool_overflow,
            checkout_timeout_s=self.db_pool_timeout_s,
            connect_timeout_s=self.db_connect_timeout_s,
            statement_timeout_s=self.db_statement_timeout_s,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def parse_trusted(value: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (`10.0.0.5, 172.18.0.0/16`); '' trusts nobody.
    A wildcard is refused: forwarded headers from anyone are worth nothing."""
    entries = tuple(part.strip() for part in value.split(",") if part.strip())
    for entry in entries:
        if entry == "*":
            raise ValueError("'*' would believe forwarded headers from anyone; name the proxies")
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return entries


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once. Tests build their own `Settings(...)` instead."""
    return Settings()
