"""An account's page in Debian's chromium (the demo app, its simulator moving the equity every
second): a risk user changes a limit with a reason and resets the HWM, in the browser only; the
API then reads both, the chart marks the reset, and axe finds no serious violation on the page."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import login, shot
from tests.e2e.test_accessibility import AXE, check, settled

pytestmark = pytest.mark.browser
DATA_TIMEOUT = 20_000


def bearer(base: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": "risk@demo.local", "password": "demo"}, timeout=10
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_risk_changes_a_limit_and_resets_the_hwm_on_the_account_page(base: str, browser: Browser) -> None:
    headers = bearer(base)
    wall = httpx.get(f"{base}/api/v1/risk/accounts", headers=headers, timeout=10).json()["accounts"]
    account = next(a for a in wall if a["hwm"] is not None and a["daily_loss_limit_pct"] is None)
    path = f"/accounts/{account['account_id']}"
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, "risk@demo.local", path)
    expect(page.get_by_text(re.compile(r"^Room measured at the latest equity snapshot"))).to_be_visible(
        timeout=DATA_TIMEOUT
    )
    expect(page.get_by_text(f"{account['name']} · login {account['broker_login']}")).to_be_visible()
    if AXE.exists():  # on the page as it opens (a toast's own colours are Quasar's, not the page's)
        settled(page)
        check(page, "account-light")

    page.get_by_role("button", name="Edit limits").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Drawdown warning (% of HWM)").fill("25")
    form.get_by_label("Drawdown critical (% of HWM)").fill("20")
    form.get_by_role("button", name="Save").click()
    # The schema's words under the fields, nothing sent.
    expect(form.get_by_text("must be above the drawdown warning (25 %)")).to_be_visible()
    expect(form.get_by_text("a reason is required")).to_be_visible()
    form.get_by_label("Drawdown warning (% of HWM)").fill("12.5")
    form.get_by_label("Drawdown critical (% of HWM)").fill("20")
    form.get_by_label("Reason (required)").fill("e2e: wider limits for the swing book")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile(r"^Limits saved"))).to_be_visible(timeout=10_000)
    expect(page.get_by_role("cell", name="20 % of HWM", exact=True)).to_be_visible(timeout=10_000)
    limits = httpx.get(f"{base}/api/v1{path}/limits", headers=headers, timeout=10).json()["limits"]
    assert (limits["dd_warning_pct"], limits["dd_critical_pct"]) == ("12.5000", "20.0000")
    wall = httpx.get(f"{base}/api/v1/risk/accounts", headers=headers, timeout=10).json()["accounts"]
    assert next(a for a in wall if a["account_id"] == account["account_id"])["dd_critical_pct"] == "20.0000"

    page.get_by_role("button", name="Reset HWM").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"^The HWM goes from "))).to_be_visible()
    dialog.get_by_label("Reason (required)").fill("e2e: challenge phase 2")
    dialog.get_by_role("button", name="Reset HWM").click()
    expect(page.get_by_text(re.compile(r"^HWM reset to "))).to_be_visible(timeout=10_000)
    resets = httpx.get(f"{base}/api/v1{path}/hwm-resets", headers=headers, timeout=10).json()["resets"]
    assert [r["reason"] for r in resets] == ["e2e: challenge phase 2"]
    # The marker on the chart, within a tick (its legend entry).
    expect(page.locator(".js-plotly-plot .legendtext", has_text="HWM reset")).to_be_attached(
        timeout=DATA_TIMEOUT
    )
    shot(page, "account")
    context.close()
