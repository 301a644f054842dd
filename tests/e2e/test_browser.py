"""End to end in Debian's chromium (Playwright, `executable_path`, never `playwright install`):
the app as a subprocess (`run --demo`, simulator every second), a user logs in, opens every page,
sees a value change, exports CSV, and watches the session end when another tab logs out.
Screenshots go to `artifacts/screenshots/`."""

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
pytestmark = pytest.mark.browser
SECRET = "e2e-secret-" + "Qm4vX9rT2wZ7bN5cD8fH1jL6sA3kP0yE"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("e2e")
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_SIMULATE_INTERVAL_S": "1",
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
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill("demo")
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_risk_user_opens_every_page_and_sees_data_move(base: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, "risk@demo.local")
    total = page.locator(".text-2xl").first  # the first status card: total syncs
    expect(total).to_have_text(re.compile(r"^[\d,]+$"), timeout=15_000)
    first = total.inner_text()
    expect(total).not_to_have_text(first, timeout=30_000)  # the simulator keeps syncing
    expect(page.get_by_text("Divergence timeline")).to_be_visible()
    shot(page, "reconciliation")
    for path, text in (("/positions", "Floating P&L"), ("/guards", "Market guards"), ("/risk", "accounts:")):
        page.goto(f"{base}{path}")
        expect(page.get_by_text(text).first).to_be_visible(timeout=15_000)
        page.wait_for_timeout(1500)  # let the gauges draw before the picture
        shot(page, path.strip("/"))
    page.goto(f"{base}/risk")
    page.locator(".cursor-pointer").first.click()  # a wall card opens that account's guards
    expect(page).to_have_url(re.compile(r"/guards\?account=\d+"))
    context.close()


def test_csv_export_downloads_the_rows_shown(base: str, browser: Browser) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    login(page, base, "risk@demo.local", "/positions")
    expect(page.get_by_text("Floating P&L")).to_be_visible(timeout=15_000)
    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    content = Path(info.value.path()).read_text()
    lines = content.strip().splitlines()
    assert lines[0].startswith("Account,Login,Symbol,Side,Volume,P&L")
    assert len(lines) >= 2 and not lines[1].split(",")[0].isdigit()  # an account's name, not its id
    context.close()


def test_logout_in_another_tab_ends_this_tab(base: str, browser: Browser) -> None:
    context = browser.new_context()
    watching = context.new_page()
    login(watching, base, "trader1@demo.local")
    other = context.new_page()
    other.goto(f"{base}/positions")
    expect(other.get_by_text("Floating P&L")).to_be_visible(timeout=15_000)
    other.get_by_role("button").filter(has_text="logout").click()
    expect(other).to_have_url(re.compile(r"/login"), timeout=15_000)
    # The first tab's next tick notices the revoked session and leaves for the login page.
    expect(watching).to_have_url(re.compile(r"/login\?error=expired"), timeout=20_000)
    shot(watching, "session-ended")
    context.close()


def test_phone_width_is_usable(base: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    login(page, base, "trader1@demo.local")
    expect(page.get_by_text("Total syncs")).to_be_visible(timeout=15_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"horizontal scrolling at phone width: {width}px"
    shot(page, "phone")
    context.close()
