"""API harness: the real routes, dependencies and error handlers (`mount_api`) on a bare FastAPI
app, driven over ASGI by httpx, on a real database (SQLite and PostgreSQL) and a runtime built the
way the app builds it. Test users share one real argon2 hash (computed once) to keep logins honest
but the suite fast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dashboard.api.router import build_api
from dashboard.auth.passwords import hash_password
from dashboard.auth.tokens import TokenService, TokenType
from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.db.session import Database
from dashboard.domain.enums import Role, Side
from dashboard.runtime import Runtime
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.sync import record_sync
from dashboard.settings import Settings
from tests.factories import T0, make_account, make_instruments, make_position, make_user

SECRET = "test-secret-" + "k3Yq9vX2mP7rT4wZ8bN1cD6fH0jL5sA"  # 40 bytes, random-looking
PASSWORD = "correct horse battery"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class World:
    """Who exists: user ids by name, and trader A's and B's account and position ids."""

    users: dict[str, int] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    account: dict[str, int] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)

    def email(self, name: str) -> str:
        return f"{name}@test.local"


async def build_world(db: Database) -> World:
    world = World()
    async with db.session() as s:
        await make_instruments(s)
        for name, role in (
            ("a", Role.TRADER),
            ("b", Role.TRADER),
            ("risk", Role.RISK),
            ("admin", Role.ADMIN),
            ("bot", Role.SERVICE),
        ):
            user = await make_user(s, world.email(name), role)
            user.password_hash = password_hash()
            world.users[name], world.roles[name] = user.id, role
            if role is Role.TRADER:
                account = await make_account(s, user)
                world.account[name] = account.id
                pos = await make_position(s, account, 1000 + account.id, side=Side.BUY)
                world.position[name] = pos.id
    # Give both traders history in every read model: a sync with a divergence, equity points.
    for name in ("a", "b"):
        account_id = world.account[name]
        await record_sync(
            db,
            {
                "account_id": account_id,
                "sync_id": f"seed-{name}",
                "taken_at": T0 + timedelta(minutes=1),
                "positions": [
                    {
                        "identifier": 1000 + account_id,
                        "ticket": 1000 + account_id,
                        "symbol": "EURUSD",
                        "side": "buy",
                        "volume": "1.00",
                        "price_open": "1.08500",
                        "price_current": "1.08600",
                        "sl": "1.07000",
                        "opened_at": T0,
                    },
                ],
            },
        )
        for minute, equity in ((2, "10000.00"), (3, "8900.00")):
            await record_equity(
                db,
                {
                    "account_id": account_id,
                    "ts": T0 + timedelta(minutes=minute),
                    "balance": "10000.00",
                    "equity": equity,
                },
            )
    return world


def make_runtime(db: Database, cache: QueryCache | None = None, **settings: Any) -> Runtime:
    """A runtime as the app builds it, ready to serve (migrated, nothing to seed)."""
    config = Settings(jwt_secret=SECRET, database_url="sqlite+aiosqlite:///unused", **settings)
    runtime = Runtime(
        settings=config,
        database=db,
        cache=cache or QueryCache(CacheConfig()),
        tokens=TokenService(SECRET, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=7)),
    )
    runtime.readiness.migrated = runtime.readiness.seeded = True
    return runtime


def make_app(runtime: Runtime) -> FastAPI:
    """The production API app (`build_api`), serving `runtime` (several may live in one test)."""
    app = build_api()
    app.state.runtime = runtime
    return app


@dataclass
class Api:
    client: httpx.AsyncClient
    runtime: Runtime
    world: World

    def token(self, name: str, **overrides: Any) -> str:
        """An access token as login would issue it (without paying argon2 for every test)."""
        values: dict[str, Any] = {
            "user_id": self.world.users[name],
            "role": self.world.roles[name],
            "session_version": 0,
            "token_type": TokenType.ACCESS,
        }
        values.update(overrides)
        return self.runtime.tokens.issue(**values).token

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name)}"}

    async def get(self, path: str, as_: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = self.auth(as_) if as_ else {}
        return await self.client.get(path, headers=headers, **kwargs)

    async def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/login", json={"email": self.world.email(name), "password": password}
        )


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    world = await build_world(database)
    runtime = make_runtime(database)
    app = make_app(runtime)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, runtime, world)
    finally:
        await runtime.cache.close()


__all__ = ["PASSWORD", "SECRET", "Api", "World", "build_world", "make_app", "make_runtime"]
