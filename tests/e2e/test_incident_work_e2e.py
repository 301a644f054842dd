"""Incidents as work items in Debian's chromium: a risk user opens an open incident of the demo on
`/reconciliation`, is told a resolution note is required, writes one and resolves the incident;
the API then shows it resolved by hand, with the note, by that user.

The app is the e2e `desk` (`run --demo`, the simulator ticking once at start, then once an hour):
its bridge reports a position the platform never opened, an incident that no sync resolves or
reopens while the test works on it (the seed's own open incidents may be resolved by that first
tick).
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Desk, login, report_unknown_position, shot

pytestmark = pytest.mark.browser

NOTE = "Broker confirmed the position; booked by hand"


def risk_headers(base: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": "risk@demo.local", "password": "demo"})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_risk_resolves_an_incident_with_a_note_in_the_browser(desk: Desk, browser: Browser) -> None:
    quiet_app = desk.url
    headers = risk_headers(quiet_app)
    accounts = httpx.get(f"{quiet_app}/api/v1/accounts", headers=headers, timeout=10).json()["accounts"]
    identifier = report_unknown_position(desk, accounts[0]["id"])
    listed = httpx.get(
        f"{quiet_app}/api/v1/reconciliation/incidents", params={"resolution": "open"}, headers=headers
    ).json()["incidents"]
    incident = next(i for i in listed if i["broker_position_id"] == identifier)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, quiet_app, "risk@demo.local")

    page.get_by_role("button", name=f"Open incident {incident['id']}", exact=True).first.click(timeout=20_000)
    state = page.get_by_test_id("incident-state")
    expect(state).to_have_text("open", timeout=10_000)
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_text("A resolution note is required")).to_be_visible(timeout=10_000)
    expect(state).to_have_text("open")

    page.get_by_label("Resolution note (required)").fill(NOTE)
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(state).to_have_text("resolved", timeout=10_000)
    expect(page.get_by_test_id("incident-handled")).to_contain_text(
        re.compile(r"Resolved \(manual\) by risk@demo\.local .*" + re.escape(NOTE))
    )
    expect(page.get_by_text(f"Resolved: {NOTE}")).to_be_visible()  # the note, kept as a comment
    expect(page.get_by_role("button", name="Resolve", exact=True)).to_have_count(0)
    shot(page, "incident-resolved", full_page=False)
    context.close()

    stored = httpx.get(
        f"{quiet_app}/api/v1/reconciliation/incidents/{incident['id']}", headers=headers
    ).json()
    assert (stored["state"], stored["resolution"], stored["resolver"], stored["resolution_note"]) == (
        "resolved",
        "manual",
        "risk@demo.local",
        NOTE,
    )
