"""Page tests with NiceGUI's `user` fixture: the real app (`tests/pages/app_main.py` calls the
production `configure`) in-process, on a SQLite database holding the API tests' world (traders A
and B, risk, admin, service), logged in through the real login form endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nicegui.testing import User

from dashboard.api.router import build_api
from dashboard.app import served
from dashboard.db.migrate import upgrade
from dashboard.db.session import Database
from dashboard.runtime import NotReady, current_runtime
from tests.api.conftest import PASSWORD, SECRET, World, build_world


@pytest.fixture
async def page_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pages.sqlite3'}"
    db = Database(url)
    await upgrade(db)
    world = await build_world(db)
    await db.dispose()
    for name in [n for n in __import__("os").environ if n.startswith("DASHBOARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", url)
    monkeypatch.setenv("DASHBOARD_JWT_SECRET", SECRET)
    monkeypatch.setenv("DASHBOARD_DEMO_ALERT_LOG", str(tmp_path / "demo-alerts.log"))
    yield world


@dataclass
class Web:
    user: User
    world: World

    async def login(self, name: str, next: str = "/reconciliation", password: str = PASSWORD) -> int:
        response = await self.user.http_client.post(
            "/auth/session", data={"email": self.world.email(name), "password": password, "next": next}
        )
        return response.status_code

    async def see(self, marker: str, content: str | None = None, retries: int = 40) -> None:
        await self.user.should_see(marker=marker, content=content, retries=retries)


@pytest.fixture
async def web(page_world: World, user: User) -> Web:
    """The simulated user, once the app is ready (start-up runs in the background, as in production)."""
    for _ in range(500):
        try:
            if current_runtime().readiness.ready:
                break
        except NotReady:
            pass
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the app did not become ready")
    return Web(user, page_world)


def served_client(trusted_proxies: Sequence[str] = (), client: str = "127.0.0.1") -> httpx.AsyncClient:
    """The API in front of the pages as `serve()` assembles them (`ui.run_with(api, "/")` and
    `served`), reached over ASGI from the address `client`."""
    from nicegui import app as pages

    front = build_api()
    front.mount("/", pages)
    transport = httpx.ASGITransport(app=served(front, trusted_proxies), client=(client, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")
