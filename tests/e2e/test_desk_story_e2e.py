"""The issue's "done when", in Debian's chromium and nothing else: a risk officer takes an incident
from open to resolved, changes an account's limit with a reason, resets its HWM; an admin creates
a trader and revokes a service token; then every one of those actions is on the audit page, and the
account's own trail (`/audit?account=N`, linked from its page) holds exactly its changes and the
work on its incident.

The app runs on its own demo database with the simulator out of the way (one tick an hour, at the
start, which may resolve the seed's open incidents), so a bridge (a service user set up with the
CLI) reports a position the platform does not know: an incident nothing will resolve under the
test. The API is otherwise used only to choose what to act on, never to act.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Desk, login, report_unknown_position, shot
from tests.e2e.test_admin_e2e import new_user

pytestmark = pytest.mark.browser

TIMEOUT = 20_000


def bearer(base: str, email: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": "demo"}, timeout=10)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit_rows(page: Page) -> list[str]:
    """The audit table's rows as text, once it has some."""
    rows = page.locator(".q-table tbody tr")
    expect(rows.first).to_be_visible(timeout=TIMEOUT)
    return rows.all_inner_texts()


def test_a_desk_works_in_the_browser_and_finds_every_action_on_the_audit_page(
    desk: Desk, browser: Browser
) -> None:
    base = desk.url
    risk_api = bearer(base, "risk@demo.local")
    wall = httpx.get(f"{base}/api/v1/risk/accounts", headers=risk_api, timeout=10).json()["accounts"]
    account = next(a for a in wall if a["hwm"] is not None and a["daily_loss_limit_pct"] is None)
    account_path = f"/accounts/{account['account_id']}"
    identifier = report_unknown_position(desk, account["account_id"])
    incident = next(
        i
        for i in httpx.get(
            f"{base}/api/v1/reconciliation/incidents",
            params={"resolution": "open", "account_id": account["account_id"]},
            headers=risk_api,
            timeout=10,
        ).json()["incidents"]
        if i["broker_position_id"] == identifier
    )

    risk = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    # An incident: open -> acknowledged -> resolved with a note.
    login(risk, base, "risk@demo.local")
    risk.get_by_role("button", name=f"Open incident {incident['id']}", exact=True).first.click(
        timeout=TIMEOUT
    )
    state = risk.get_by_test_id("incident-state")
    expect(state).to_have_text("open", timeout=TIMEOUT)
    risk.get_by_role("dialog").get_by_role("button", name="Acknowledge", exact=True).click()
    expect(state).to_have_text("acknowledged", timeout=TIMEOUT)
    risk.get_by_label("Resolution note (required)").fill("story: booked by hand after the broker's answer")
    risk.get_by_role("button", name="Resolve", exact=True).click()
    expect(state).to_have_text("resolved", timeout=TIMEOUT)

    # A limit changed with a reason; the HWM reset with a reason.
    risk.goto(f"{base}{account_path}")
    expect(risk.get_by_text(re.compile(r"^Room measured at the latest equity snapshot"))).to_be_visible(
        timeout=TIMEOUT
    )
    risk.get_by_role("button", name="Edit limits").click()
    form = risk.get_by_role("dialog")
    form.get_by_label("Drawdown critical (% of HWM)").fill("19")
    form.get_by_label("Reason (required)").fill("story: the desk widened the swing book")
    form.get_by_role("button", name="Save").click()
    expect(risk.get_by_role("cell", name="19 % of HWM", exact=True)).to_be_visible(timeout=TIMEOUT)
    risk.get_by_role("button", name="Reset HWM").click()
    dialog = risk.get_by_role("dialog")
    dialog.get_by_label("Reason (required)").fill("story: challenge phase 2")
    dialog.get_by_role("button", name="Reset HWM").click()
    expect(risk.get_by_text(re.compile(r"^HWM reset to "))).to_be_visible(timeout=TIMEOUT)

    # An admin creates a trader and a service user, issues a token and revokes it.
    admin = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    login(admin, base, "admin@demo.local", "/admin")
    new_user(admin, "dana@desk.example", "trader")
    new_user(admin, "feed@desk.example", "service")
    admin.get_by_role("button", name="New token").click()
    token_form = admin.get_by_role("dialog")
    token_form.get_by_label("Service user").click()
    admin.get_by_role("option", name="feed@desk.example", exact=True).click()
    token_form.get_by_label("Name (what it is for)").fill("story feed")
    token_form.get_by_role("button", name="Create").click()
    admin.get_by_role("dialog").filter(has_text="will not be shown again").get_by_role(
        "button", name="I have copied it"
    ).click()
    admin.get_by_role("button", name="Revoke token story feed of feed@desk.example").click(timeout=TIMEOUT)
    admin.get_by_role("dialog").filter(has_text="Revoke token 'story feed'").get_by_role(
        "button", name="Revoke"
    ).click()
    expect(admin.get_by_text("Token 'story feed' revoked")).to_be_visible(timeout=TIMEOUT)
    admin.context.close()

    # Every action on the audit page, with who did it.
    risk.goto(f"{base}/audit")
    expected = {
        "incident_acknowledged": f"incident:{incident['id']}",
        "incident_resolved": f"incident:{incident['id']}",
        "limits_changed": f"account:{account['account_id']}",
        "hwm_reset": f"account:{account['account_id']}",
        "user_created": "dana@desk.example",
        "service_token_issued": "service_token:",
        "service_token_revoked": "service_token:",
    }
    text = "\n".join(audit_rows(risk))
    for action, target in expected.items():
        assert re.search(rf"{action}\s+{re.escape(target)}", text), f"{action} on {target} not on the page"
    shot(risk, "audit", full_page=False)

    # The account's own trail, from the link on its page: its two changes and the work on its
    # incident, nothing else.
    risk.goto(f"{base}{account_path}")
    risk.get_by_role("link", name="This account's audit trail").click()
    expect(risk).to_have_url(re.compile(rf"/audit\?account={account['account_id']}$"))
    expect(risk.locator(".q-table tbody tr")).to_have_count(4, timeout=TIMEOUT)
    own = audit_rows(risk)
    assert sorted(row.split("\t")[2] for row in own) == [
        "hwm_reset",
        "incident_acknowledged",
        "incident_resolved",
        "limits_changed",
    ], own
    assert all("risk@demo.local" in row for row in own)
    risk.context.close()
