"""The prop-challenge panel in chromium, on the moving demo: the prop account's owner opens
`/guards` and sees the challenge's badge, target, floors and days, the figures those of the API
for the same account; another trader does not see it; no serious axe violation in either mode."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import service_missing
from tests.e2e.conftest import login, shot
from tests.e2e.test_accessibility import AXE, BLOCKING, DATA_TIMEOUT, WCAG, describe, set_mode, settled

pytestmark = pytest.mark.browser

PROP_OWNER = "trader4@demo.local"  # acc-07: 25 000, 8 % target, 4 of 30 days (data/demo_fleet.toml)


def panel_violations(page: Page, selector: str) -> list[dict[str, Any]]:
    """axe on the panel alone (the rest of `/guards` is `test_accessibility`'s)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async ([selector, tags]) => await axe.run(selector, {runOnly: {type: 'tag', values: tags}})",
        [selector, WCAG],
    )
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def test_the_prop_account_owner_follows_the_challenge(base: str, browser: Browser) -> None:
    if not AXE.exists():
        service_missing("axe-core (`bash scripts/ensure_env.sh` runs `npm ci`)", FileNotFoundError(AXE))
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, PROP_OWNER, "/guards")
    accounts = page.request.get(f"{base}/api/v1/accounts")  # the tab's cookie
    assert accounts.ok, accounts.text()
    (account,) = accounts.json()["accounts"]
    answer = page.request.get(f"{base}/api/v1/accounts/{account['id']}/objectives")
    assert answer.ok, answer.text()
    o = answer.json()["objectives"]
    assert o is not None and o["target_amount"] == "2000.00" and o["min_trading_days"] == 4

    panel = page.get_by_test_id(f"objectives-{account['id']}")
    expect(panel).to_contain_text("Prop challenge", timeout=DATA_TIMEOUT)
    badge = page.get_by_test_id(f"objectives-state-{account['id']}")
    expect(badge).to_have_text(re.compile(r"^(In progress|Passed|Failed: .+)$"), timeout=DATA_TIMEOUT)
    expect(badge).to_have_attribute("role", "status")
    expect(panel).to_contain_text("Profit target 8.00 %")
    expect(panel).to_contain_text("of 2,000.00 USD closed")
    expect(panel).to_contain_text(re.compile(r"Trading days: \d+ of 4"))
    expect(panel).to_contain_text(re.compile(r"\d+ days? left.* · day \d+ of 30"))
    expect(panel).to_contain_text("static floor 22,500.00 USD")  # 25 000 × 90 %
    expect(panel.get_by_role("progressbar", name="Profit target progress")).to_be_visible()
    expect(panel.get_by_role("progressbar", name="Daily loss room left")).to_be_visible()
    settled(page)
    for mode in ("light", "dark"):
        set_mode(page, mode)
        blocking = panel_violations(page, f'[data-testid="objectives-{account["id"]}"]')
        shot(page, f"objectives-guards-{mode}")
        assert not blocking, f"axe on the objectives panel ({mode}):\n" + describe(blocking)
    context.close()

    other = browser.new_context(viewport={"width": 1366, "height": 900})
    page = other.new_page()
    login(page, base, "trader1@demo.local", "/guards")
    expect(page.get_by_text(re.compile(r"^equity [\d,.]+ ")).first).to_be_visible(timeout=DATA_TIMEOUT)
    expect(page.get_by_test_id(f"objectives-{account['id']}")).to_have_count(0)
    assert page.request.get(f"{base}/api/v1/accounts/{account['id']}/objectives").status == 404
    other.close()
