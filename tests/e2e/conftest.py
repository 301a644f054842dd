"""What the browser tests share: the app as a subprocess (`run --demo`, simulator every second) on a
throwaway SQLite database, one per test module, and Debian's chromium driven by Playwright
(`executable_path`, never `playwright install`). Screenshots go to `artifacts/screenshots/`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import service_missing
from tests.process import REPO, run_cli, running_app

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
