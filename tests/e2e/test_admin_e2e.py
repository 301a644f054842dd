"""`/admin` end to end in Debian's chromium: the demo's admin creates a trader (who then logs in in
another browser) and a service user, issues that user a token (shown once, and accepted by the
API), and revokes it (refused by the API from then on)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import service_missing
from tests.e2e.conftest import login, shot
from tests.e2e.test_accessibility import AXE, check, set_mode, settled

pytestmark = pytest.mark.browser

PASSPHRASE = "a long passphrase for e2e"


def new_user(page: Page, email: str, role: str) -> None:
    page.get_by_role("button", name="New user").click()
    form = page.get_by_role("dialog")
    form.get_by_label("E-mail").fill(email)
    if role != "trader":  # the default
        form.get_by_label("Role").click()
        page.get_by_role("option", name=role, exact=True).click()
    form.get_by_label("Initial password").fill(PASSPHRASE)
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_text(f"User {email} created")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("cell", name=email, exact=True)).to_be_visible(timeout=10_000)


def me(base: str, token: str) -> int:
    return httpx.get(
        f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def test_an_admin_creates_a_trader_and_revokes_a_service_token(base: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, "admin@demo.local", "/admin")
    expect(page.get_by_role("cell", name="trader1@demo.local", exact=True)).to_be_visible(timeout=15_000)

    new_user(page, "carol@desk.example", "trader")
    other = browser.new_context().new_page()
    other.goto(f"{base}/positions")
    other.get_by_test_id("email").fill("carol@desk.example")
    other.get_by_test_id("password").fill(PASSPHRASE)
    other.get_by_test_id("submit").click()
    expect(other).to_have_url(re.compile(r"/positions$"))
    other.context.close()

    new_user(page, "bridge@desk.example", "service")
    page.get_by_role("button", name="New token").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Service user").click()
    page.get_by_role("option", name="bridge@desk.example", exact=True).click()
    form.get_by_label("Name (what it is for)").fill("mt5 bridge")
    form.get_by_label(re.compile(r"^Lifetime in days")).fill("30")
    form.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog").filter(has_text="will not be shown again")
    expect(shown).to_be_visible(timeout=10_000)
    token = shown.get_by_label("Token").input_value()
    assert token.count(".") == 2
    shot(page, "admin-token-once")
    assert me(base, token) == 200
    shown.get_by_role("button", name="I have copied it").click()
    expect(shown).to_have_count(0)
    expect(page.get_by_role("cell", name="mt5 bridge", exact=True)).to_be_visible(timeout=10_000)

    page.get_by_role("button", name="Revoke token mt5 bridge of bridge@desk.example").click()
    confirm = page.get_by_role("dialog").filter(has_text="Revoke token 'mt5 bridge'")
    confirm.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Token 'mt5 bridge' revoked")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("cell", name=re.compile(r"^revoked .* by admin@demo\.local$"))).to_be_visible(
        timeout=10_000
    )
    assert me(base, token) == 401
    page.wait_for_timeout(500)
    shot(page, "admin")
    context.close()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_the_admin_page_has_no_serious_accessibility_violations(
    base: str, browser: Browser, mode: str
) -> None:
    """axe on `/admin` with its users and tokens, and with the new-user form open, as
    `test_accessibility.py` checks the other pages."""
    if not AXE.exists():
        service_missing("axe-core (`bash scripts/ensure_env.sh` runs `npm ci`)", FileNotFoundError(AXE))
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, "admin@demo.local", "/admin")
    expect(page.get_by_role("cell", name="trader1@demo.local", exact=True)).to_be_visible(timeout=15_000)
    settled(page)
    set_mode(page, mode)
    check(page, f"admin-{mode}")
    page.get_by_role("button", name="New user").click()
    expect(page.get_by_role("dialog").get_by_label("E-mail")).to_be_visible()
    settled(page)
    check(page, f"admin-new-user-{mode}")
    context.close()
