"""Incidents as work items in Debian's chromium: a risk user opens an open incident of the demo on
`/reconciliation`, is told a resolution note is required, writes one and resolves the incident;
the API then shows it resolved by hand, with the note, by that user.

The app runs as `run --demo` with its own settings: the simulator ticks once at start and then
stays out of the way, so no sync resolves or reopens the incident while the test works on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import SECRET, login, shot
from tests.process import free_port, run_cli, running_app

pytestmark = pytest.mark.browser

NOTE = "Broker confirmed the position; booked by hand"


@pytest.fixture(scope="module")
def quiet_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("incident-e2e")
    port = free_port()
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_PORT": str(port),
        "DASHBOARD_SIMULATE_INTERVAL_S": "3600",
        "DASHBOARD_DEMO_ALERT_LOG": str(tmp / "demo-alerts.log"),
    }
    assert run_cli("demo", "seed", **env).returncode == 0
    with running_app("--demo", log_path=tmp / "app.log", **env) as url:
        yield url
    log = (tmp / "app.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def risk_headers(base: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": "risk@demo.local", "password": "demo"})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_risk_resolves_an_incident_with_a_note_in_the_browser(quiet_app: str, browser: Browser) -> None:
    headers = risk_headers(quiet_app)
    listed = httpx.get(
        f"{quiet_app}/api/v1/reconciliation/incidents", params={"resolution": "open"}, headers=headers
    ).json()["incidents"]
    assert listed, "the demo seed leaves open incidents"
    incident = listed[0]
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
