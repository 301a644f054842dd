"""From an ingest to a webhook, in a real app process: an equity snapshot that crosses the
critical line reaches a JSON webhook channel, through the outbox and the leader's delivery."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from tests.alerts.receiver import Receiver
from tests.process import free_port, run_cli, running_app

SECRET = "alerts-process-" + "Vb7nM2qX9rT4wZ6cD1fH8jL3sA5kP0yE"
BRIDGE_PASSWORD = "bridge-password-" + "y" * 12


def bearer(base: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_critical_breach_ingested_through_the_api_reaches_the_webhook(tmp_path: Path) -> None:
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'alerts.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_ALERTS_KEY": Fernet.generate_key().decode(),
        "DASHBOARD_ALERT_POLL_S": "0.2",
    }
    receiver = Receiver(free_port())
    receiver.start()
    try:
        assert run_cli("demo", "seed", **env).returncode == 0
        bridge = run_cli(
            "users", "create", "bridge@ops.local", "--role", "service", input=BRIDGE_PASSWORD + "\n", **env
        )
        assert bridge.returncode == 0, bridge.stderr
        channel = run_cli(
            "alerts", "channels", "add", "desk", "--min-level", "critical", input=receiver.url + "\n", **env
        )
        assert channel.returncode == 0, channel.stderr
        with running_app(log_path=tmp_path / "app.log", **env) as base:  # no simulator: only our write
            bridge_headers = bearer(base, "bridge@ops.local", BRIDGE_PASSWORD)
            risk_headers = bearer(base, "risk@demo.local", "demo")
            wall = httpx.get(f"{base}/api/v1/risk/accounts", headers=risk_headers).json()["accounts"]
            # An account at "normal": the crash below is a new critical raise (one already critical
            # raises nothing new).
            account = next(a for a in wall if a["dd_level"] == "normal" and a["hwm"] is not None)
            crash = str(round(float(account["hwm"]) * 0.5, 2))  # 50 % below the high-water mark
            written = httpx.post(
                f"{base}/api/v1/ingest/equity",
                json={
                    "account_id": account["account_id"],
                    "ts": datetime.now(UTC).isoformat(),
                    "balance": crash,
                    "equity": crash,
                },
                headers=bridge_headers,
            )
            assert written.status_code == 200, written.text
            sent_at = time.monotonic()
            deadline = sent_at + 15
            while time.monotonic() < deadline and not receiver.received:
                time.sleep(0.05)
            took = time.monotonic() - sent_at
            metrics = ""
            for _ in range(50):  # the send is counted right after the receiver answered
                metrics = httpx.get(f"{base}/metrics").text
                if 'dashboard_alert_deliveries_total{result="sent"}' in metrics:
                    break
                time.sleep(0.1)
    finally:
        receiver.stop()
    assert receiver.received, (tmp_path / "app.log").read_text()[-2000:]
    first = receiver.received[0].body
    assert first["title"].startswith("[CRITICAL]") and f"Account: {account['account_id']}" in first["message"]
    assert receiver.received[0].headers["X-Idempotency-Key"].startswith("alert-")
    sent = [
        line
        for line in metrics.splitlines()
        if line.startswith('dashboard_alert_deliveries_total{result="sent"}')
    ]
    assert sent and float(sent[0].split()[-1]) >= 1, metrics[-2000:]
    print(f"ingest -> webhook: {took:.2f} s")
    assert "Traceback" not in (tmp_path / "app.log").read_text()
