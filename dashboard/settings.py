"""The one settings object. Every knob is an environment variable prefixed `DASHBOARD_`.

Why a single object: pages, API, cache and CLI must agree on the database, cache and secret;
reading `os.environ` in several places is how they drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
DEFAULT_SQLITE_PATH = DATA_DIR / "dashboard.sqlite3"


class Environment(StrEnum):
    DEMO = "demo"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Runtime configuration; defaults are the embedded demo set-up (SQLite, in-process cache)."""

    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", env_file=None, extra="ignore")

    env: Environment = Environment.DEMO
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    redis_url: str | None = None
    jwt_secret: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # How often the in-process simulator (run --demo) produces quotes, equity and syncs.
    simulate_interval_s: float = Field(default=3.0, gt=0)
    # SQL echo for debugging; never on by default.
    sql_echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once. Tests build their own `Settings(...)` instead."""
    return Settings()
