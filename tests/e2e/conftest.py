"""What the browser tests share: the app as a subprocess (`run --demo`, simulator every second) on a
throwaway SQLite database, one per test module, and Debian's chromium driven by Playwright
(`executable_path`, never `playwright install`). Screenshots go to `artifacts/screenshots/`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import service_missing
from tests.process import REPO, free_port, run_cli, running_app

CHROMIUM = os.environ.get("DASHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "artifacts" / "screenshots"
SECRET = "e2e-secret-" + "Qm4vX9rT2wZ7bN5cD8fH1jL6sA3kP0yE"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a demo app that the whole test module shares."""
    tmp = tmp_path_factory.mktemp("e2e")
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_SIMULATE_INTERVAL_S": "1",
        "DASHBOARD_SIMULATE_EQUITY_EVERY_S": "0",  # pages that move every tick
    }
    assert run_cli("demo", "seed", **env).returncode == 0
    with running_app("--demo", log_path=tmp / "app.log", **env) as url:
        yield url
    log = (tmp / "app.log").read_text()
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        service_missing("Debian's chromium", FileNotFoundError(CHROMIUM))
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield instance
        instance.close()


def login(page: Page, base: str, email: str, path: str = "/reconciliation") -> None:
    """Open `path`, get sent to the login form, log in with the demo password and land on `path`."""
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill("demo")
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


# A demo whose data stands still (the simulator ticks at start, then once an hour), with a bridge.

BRIDGE_PASSWORD = "a bridge passphrase for the e2e desk"
#: A position the platform never opened, reported by the bridge.
UNKNOWN_POSITION = 990_001


@dataclass(frozen=True)
class Desk:
    url: str
    #: The bridge's token (a service user made with the CLI before the app started).
    bridge: str


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("desk-e2e")
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'desk.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_PORT": str(free_port()),
        "DASHBOARD_SIMULATE_INTERVAL_S": "3600",
        "DASHBOARD_DEMO_ALERT_LOG": str(tmp / "demo-alerts.log"),
    }
    assert run_cli("demo", "seed", **env).returncode == 0
    made = run_cli(
        "users", "create", "bridge@desk.example", "--role", "service", input=BRIDGE_PASSWORD, **env
    )
    assert made.returncode == 0, made.stderr
    issued = run_cli("users", "token", "bridge@desk.example", "--name", "story bridge", "--days", "1", **env)
    assert issued.returncode == 0, issued.stderr
    with running_app("--demo", log_path=tmp / "app.log", **env) as url:
        yield Desk(url, issued.stdout.strip())
    log = (tmp / "app.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def report_unknown_position(desk: Desk, account_id: int) -> int:
    """The bridge's sync of an account holding a position the platform never opened: an open
    incident (unexpected at the broker) that nothing resolves while the test works on it, since
    the simulator of `desk` ticks once an hour. Returns the position's identifier."""
    body = {
        "account_id": account_id,
        "sync_id": f"unknown-{account_id}",
        "taken_at": datetime.now(UTC).isoformat(),
        "positions": [
            {
                "identifier": UNKNOWN_POSITION, "ticket": UNKNOWN_POSITION, "symbol": "EURUSD", "side": "buy",
                "volume": "0.10",
                "price_open": "1.08000", "price_current": "1.08010",
                "opened_at": datetime.now(UTC).isoformat(),
            }
        ],
    }  # fmt: skip
    response = httpx.post(
        f"{desk.url}/api/v1/ingest/syncs",
        json=body,
        headers={"Authorization": f"Bearer {desk.bridge}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return UNKNOWN_POSITION
