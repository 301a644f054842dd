"""The demo's alert flow end to end in Debian's chromium: a crash equity snapshot ingested through
the API (a bridge's service login) raises a critical alert, the leader delivers it to the demo
channel (a local file the alerts page shows, with the message's acknowledgement link), it shows on
`/alerts` as sent, and a risk user acknowledges it in the browser.

The app runs as `run --demo` with its own settings (the shared `base` fixture's are fixed): the
delivery polls every 0.2 s, the simulator ticks once at start and then stays out of the way (its
next equity would recover the crashed account), and the demo channel writes into the test's
directory, not the repository's `data/`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from dashboard.demo.alerts import read_demo_log
from tests.conftest import service_missing
from tests.e2e.conftest import SECRET, login, shot
from tests.e2e.test_accessibility import AXE, check, set_mode, settled
from tests.process import free_port, run_cli, running_app

pytestmark = pytest.mark.browser

BRIDGE = "bridge@ops.local"
BRIDGE_PASSWORD = "bridge-password-" + "z" * 12


@dataclass(frozen=True)
class DemoApp:
    base: str
    demo_log: Path


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApp]:
    tmp = tmp_path_factory.mktemp("alerts-e2e")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_PORT": str(port),
        "DASHBOARD_PUBLIC_URL": base,  # messages carry the acknowledgement link
        "DASHBOARD_ALERT_POLL_S": "0.2",
        "DASHBOARD_SIMULATE_INTERVAL_S": "3600",
        "DASHBOARD_DEMO_ALERT_LOG": str(tmp / "demo-alerts.log"),
    }
    assert run_cli("demo", "seed", **env).returncode == 0
    bridge = run_cli("users", "create", BRIDGE, "--role", "service", input=BRIDGE_PASSWORD + "\n", **env)
    assert bridge.returncode == 0, bridge.stderr
    with running_app("--demo", log_path=tmp / "app.log", **env) as url:
        assert url == base
        yield DemoApp(url, tmp / "demo-alerts.log")
    log = (tmp / "app.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def bearer(base: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def crash(base: str) -> dict[str, Any]:
    """Ingest an equity snapshot 50 % below a normal account's high-water mark; the critical
    alert it raised, as the API lists it."""
    risk = bearer(base, "risk@demo.local", "demo")
    wall = httpx.get(f"{base}/api/v1/risk/accounts", headers=risk).json()["accounts"]
    # A normal account: the crash is a new critical raise (one already critical raises nothing).
    account = next(a for a in wall if a["dd_level"] == "normal" and a["hwm"] is not None)
    equity = str(round(float(account["hwm"]) * 0.5, 2))
    written = httpx.post(
        f"{base}/api/v1/ingest/equity",
        json={
            "account_id": account["account_id"],
            "ts": datetime.now(UTC).isoformat(),
            "balance": equity,
            "equity": equity,
        },
        headers=bearer(base, BRIDGE, BRIDGE_PASSWORD),
    )
    assert written.status_code == 200, written.text
    alerts = httpx.get(
        f"{base}/api/v1/alerts",
        params={"open": "true", "level": "critical", "account_id": account["account_id"]},
        headers=risk,
    ).json()["alerts"]
    raised = [a for a in alerts if a["state"] == "raised" and a["kind"] == "guard"]
    assert raised, alerts
    return dict(raised[0])


def test_a_breach_reaches_the_demo_channel_shows_on_alerts_and_is_acknowledged(
    demo_app: DemoApp, browser: Browser
) -> None:
    alert = crash(demo_app.base)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, demo_app.base, "risk@demo.local", "/alerts")
    # The demo channel received it (the panel shows the file's newest messages), with its link.
    demo_log = page.get_by_test_id("demo-log")
    expect(demo_log).to_contain_text(f"[CRITICAL] {alert['title']}", timeout=20_000)
    expect(demo_log).to_contain_text(f"Account: {alert['account_id']}")
    expect(demo_log).to_contain_text(f"Acknowledge: {demo_app.base}/alerts/ack?token=")
    row = page.get_by_test_id(f"alert-{alert['id']}")
    status = row.get_by_test_id("alert-status")
    expect(status).to_have_text("sent", timeout=20_000)
    row.get_by_role("button", name="Deliveries").click()
    attempts = page.get_by_test_id(f"deliveries-{alert['id']}")
    expect(attempts).to_contain_text(re.compile(r"demo: sent \(1 attempt"))
    expect(attempts).to_contain_text(": ok")
    shot(page, "alerts")
    row.get_by_role("button", name=re.compile(r"^Acknowledge ")).click()
    # One page-side read of the row: its status and its acknowledgement together.
    expect(status).to_have_text("acknowledged", timeout=15_000)
    cells = row.evaluate("tr => [...tr.cells].map(c => c.innerText.trim())")
    assert cells[1] == "acknowledged" and cells[-1].endswith("by you"), cells
    assert row.get_by_role("button", name=re.compile(r"^Acknowledge ")).count() == 0
    context.close()
    log_text = demo_app.demo_log.read_text()
    assert log_text.count(f"[CRITICAL] {alert['title']}") == 1  # delivered once


def link_in_demo_log(demo_log: Path, alert: dict[str, Any], timeout_s: float = 20) -> str:
    """The acknowledgement link of the message the demo channel wrote for `alert`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in read_demo_log(demo_log, 50):
            if f"Alert: {alert['key']} (raised)" in message:
                found = re.search(r"^Acknowledge: (\S+)$", message, re.MULTILINE)
                assert found, message
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no message for {alert['key']} in {demo_log}")


def test_a_messages_link_goes_through_the_login_and_acknowledges_after_confirming(
    demo_app: DemoApp, browser: Browser
) -> None:
    alert = crash(demo_app.base)
    link = link_in_demo_log(demo_app.demo_log, alert)
    assert link.startswith(f"{demo_app.base}/alerts/ack?token=")
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)  # nobody is logged in in this browser
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("email").fill("risk@demo.local")
    page.get_by_test_id("password").fill("demo")
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(link)  # back on the link, token and all
    expect(page.get_by_role("heading", name=alert["title"])).to_be_visible(timeout=10_000)
    shot(page, "alert-ack")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Acknowledged by you")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    risk = bearer(demo_app.base, "risk@demo.local", "demo")
    listed = httpx.get(f"{demo_app.base}/api/v1/alerts", params={"limit": 500}, headers=risk).json()
    (stored,) = [a for a in listed["alerts"] if a["id"] == alert["id"]]
    assert stored["status"] == "acknowledged" and stored["acknowledged_at"] is not None
    page.goto(link)  # single use: the second visit only says so
    expect(page.get_by_role("status").filter(has_text="does nothing more")).to_be_visible(timeout=10_000)
    context.close()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_alerts_pages_have_no_serious_accessibility_violations(
    demo_app: DemoApp, browser: Browser, mode: str
) -> None:
    """axe on `/alerts` (a row's deliveries open) and on the link's confirm page, as
    `test_accessibility.py` checks the other pages."""
    if not AXE.exists():
        service_missing("axe-core (`bash scripts/ensure_env.sh` runs `npm ci`)", FileNotFoundError(AXE))
    alert = crash(demo_app.base)
    link = link_in_demo_log(demo_app.demo_log, alert)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, demo_app.base, "risk@demo.local", "/alerts")
    row = page.get_by_test_id(f"alert-{alert['id']}")
    expect(row.get_by_test_id("alert-status")).to_have_text("sent", timeout=20_000)
    row.get_by_role("button", name="Deliveries").click()
    expect(page.get_by_test_id("demo-log")).to_contain_text("[CRITICAL]")
    settled(page)
    set_mode(page, mode)
    check(page, f"alerts-{mode}")
    page.goto(link)
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_be_visible(timeout=10_000)
    set_mode(page, mode)
    check(page, f"alert-ack-{mode}")
    context.close()
