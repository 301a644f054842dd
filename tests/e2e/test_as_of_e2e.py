"""The dashboard as it was, in chromium: a risk user opens `/risk?at=<10 minutes ago>` on the moving
demo, sees the banner and, on the worst account's gauge, the drawdown the API gives for that
moment; the page has no serious axe violation in light and dark mode; "Back to live" leaves the
past view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import service_missing
from tests.e2e.conftest import login
from tests.e2e.test_accessibility import AXE, DATA_TIMEOUT, check, set_mode, settled

pytestmark = pytest.mark.browser


def test_the_risk_wall_as_it_was_ten_minutes_ago(base: str, browser: Browser) -> None:
    if not AXE.exists():
        service_missing("axe-core (`bash scripts/ensure_env.sh` runs `npm ci`)", FileNotFoundError(AXE))
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, "risk@demo.local", "/risk")
    at = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = page.request.get(f"{base}/api/v1/risk/accounts", params={"at": at})  # the tab's cookie
    assert answer.ok, answer.text()
    worst = answer.json()["accounts"][0]
    expected = f"{float(worst['drawdown_pct']):.2f}%"

    page.goto(f"{base}/risk?at={at}")
    banner = page.get_by_test_id("as-of-banner")
    expect(banner).to_be_visible(timeout=DATA_TIMEOUT)
    expect(banner).to_have_attribute("role", "status")
    expect(banner).to_contain_text("Not live: the dashboard as it was at")
    expect(banner).to_contain_text(at.replace("T", " ").replace("Z", " UTC"))
    card = page.locator(".q-card", has_text=f"{worst['name']} ({worst['broker_login']})")
    expect(card.locator(".indicatorlayer .number")).to_have_text(expected, timeout=DATA_TIMEOUT)
    settled(page)
    for mode in ("light", "dark"):
        set_mode(page, mode)
        check(page, f"risk-as-of-{mode}")

    page.get_by_role("button", name="Back to live").click()
    expect(page).to_have_url(re.compile(r"/risk$"))
    expect(page.get_by_test_id("as-of-banner")).to_have_count(0)
    context.close()
