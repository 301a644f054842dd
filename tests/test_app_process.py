"""The app started as a user starts it: `python -m dashboard run` in its own process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.conftest import REDIS_URL
from tests.process import run_cli, running_app


def test_run_serves_health_home_and_openapi(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    with running_app(log_path=tmp_path / "app.log", DASHBOARD_DATABASE_URL=url) as base:
        health = httpx.get(f"{base}/health", timeout=5).json()
        live = httpx.get(f"{base}/health/live", timeout=5)
        ready = httpx.get(f"{base}/health/ready", timeout=5)
        home = httpx.get(f"{base}/", timeout=10)
        login = httpx.get(f"{base}/login", timeout=10)
        docs = httpx.get(f"{base}/docs", timeout=5)
        openapi = httpx.get(f"{base}/openapi.json", timeout=5).json()
        socket = pages_socket_handshake(base)
    assert health["status"] == "ok" and health["database"] == "ok" and health["ready"] is True
    assert health["database_backend"] == "sqlite" and health["cache"] == "in-process"
    assert health["cache_shared_tier"] == "not configured" and health["redis"] == "not configured"
    assert health["migrations"] == "applied" and health["demo_seed"] == "not used"
    assert "cache_detail" not in health
    assert live.status_code == 200 and ready.json() == {"ready": True, "reasons": []}
    # No session: every page sends the browser to the login form, which remembers where it was going.
    assert home.status_code == 303 and home.headers["location"].startswith("/login?next=")
    assert (
        login.status_code == 200 and "TeleBot Live Dashboard" in login.text and "/auth/session" in login.text
    )
    assert docs.status_code == 200
    assert {"/health", "/health/live", "/health/ready"} <= set(openapi["paths"])
    assert not any(path.startswith(("/reconciliation", "/login")) for path in openapi["paths"])  # API only
    assert (tmp_path / "app.sqlite3").exists()
    # The pages' socket, offered compression as a browser offers it: engine.io opens, and no
    # compression is agreed (its state per socket cost more than it saves: websocket_protocol.py).
    assert socket.opened.startswith('0{"sid":'), socket.opened
    assert socket.extensions == "", socket.extensions
    assert "deprecat" not in (tmp_path / "app.log").read_text().lower()  # no notice at start-up


@dataclass
class SocketHandshake:
    opened: str
    extensions: str


def pages_socket_handshake(base: str) -> SocketHandshake:
    url = base.replace("http://", "ws://") + "/_nicegui_ws/socket.io/?EIO=4&transport=websocket"
    with connect(url, origin=Origin(base), compression="deflate", open_timeout=10) as socket:
        opened = socket.recv(timeout=10)
        assert socket.response is not None
        return SocketHandshake(str(opened), socket.response.headers.get("Sec-WebSocket-Extensions", ""))


def test_production_refuses_demo_mode(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--demo",
        DASHBOARD_ENV="production",
        DASHBOARD_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite3'}",
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "--demo is refused" in result.stderr


@pytest.mark.redis  # the demo run uses the shared Redis
def test_run_demo_seeds_prints_logins_and_keeps_data_moving(tmp_path: Path) -> None:
    import sqlite3
    import time

    db_file = tmp_path / "demo.sqlite3"
    log = tmp_path / "demo.log"

    def latest() -> tuple[str | None, int]:
        with sqlite3.connect(db_file) as conn:
            ts = conn.execute("SELECT max(ts) FROM equity_snapshots").fetchone()[0]
            syncs = conn.execute("SELECT count(*) FROM reconciliation_logs").fetchone()[0]
        return ts, syncs

    namespace = f"tbtapp{os.getpid()}"
    with running_app(
        "--demo",
        log_path=log,
        DASHBOARD_DATABASE_URL=f"sqlite+aiosqlite:///{db_file}",
        DASHBOARD_SIMULATE_INTERVAL_S="0.5",
        DASHBOARD_SIMULATE_EQUITY_EVERY_S="0",  # a snapshot per tick: this test waits for one
        DASHBOARD_REDIS_URL=REDIS_URL,
        DASHBOARD_CACHE_NAMESPACE=namespace,
    ) as base:
        deadline = time.monotonic() + 60
        while "Demo logins" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        home = httpx.get(f"{base}/login", timeout=10)
        first = latest()
        deadline = time.monotonic() + 30
        while latest()[0] == first[0] and time.monotonic() < deadline:
            time.sleep(0.5)
        second = latest()
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "admin@demo.local", "password": "demo"}, timeout=10
        )
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        health = httpx.get(f"{base}/health", params={"detail": "true"}, headers=admin, timeout=5).json()
    output = log.read_text()
    assert output.count("DASHBOARD_JWT_SECRET") == 1  # said once, in one wording
    assert "random secret generated for this start" in output  # no DASHBOARD_JWT_SECRET in demo
    assert "Demo logins" in output and "trader7@demo.local" in output and "admin@demo.local" in output
    assert home.status_code == 200 and "trader1@demo.local" in home.text  # the demo hint
    assert first[1] >= 7200  # the seeded 6 h of syncs for 10 accounts
    assert second[0] is not None and first[0] is not None and second[0] > first[0]
    # The simulator's writes went through the cache's invalidation, over the real Redis.
    assert health["cache"] == "redis+in-process" and health["cache_shared_tier"] == "closed"
    detail = health["cache_detail"]
    assert detail["subscriber_connected"] is True and detail["invalidations_sent"] > 0


def test_the_demo_reports_ready_and_prints_its_url_only_once_logins_work(tmp_path: Path) -> None:
    """Before: NiceGUI printed its URL 1.6 s after launch while the seed ran for 6 s more, and the
    first logins failed with "invalid email or password"."""
    import subprocess
    import sys
    import time

    from tests.process import REPO, clean_env, free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    env = clean_env(
        DASHBOARD_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}", DASHBOARD_PORT=str(port)
    )
    seen_starting: list[dict[str, object]] = []
    login_answers: list[int] = []
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "run", "--demo"], cwd=REPO, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 90
        while "Dashboard ready" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                ready = httpx.get(f"{base}/health/ready", timeout=2)
                if ready.status_code == 503:
                    seen_starting.append(ready.json())
                    login_answers.append(
                        httpx.post(
                            f"{base}/api/v1/auth/login",
                            json={"email": "trader1@demo.local", "password": "demo"},
                            timeout=5,
                        ).status_code
                    )
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # The moment the URL is printed, a demo login works.
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "trader1@demo.local", "password": "demo"}, timeout=10
        )
        ready_now = httpx.get(f"{base}/health/ready", timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert login.status_code == 200 and ready_now.status_code == 200
    assert seen_starting, "the seed (a few seconds) was never observed as not ready"
    assert any("demo seed running" in str(report["reasons"]) for report in seen_starting)
    # "starting" (or fine, once ready between the two requests), never "invalid email or password".
    assert 503 in login_answers and set(login_answers) <= {200, 503}
    output = log.read_text()
    assert output.index("Dashboard ready") < output.index("Demo logins")


def test_a_user_created_before_the_first_start_does_not_stop_the_demo_seed(tmp_path: Path) -> None:
    env = {"DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'early.sqlite3'}"}
    created = run_cli(
        "users", "create", "ops@example.com", "--role", "admin", input="a good password\n", **env
    )
    assert created.returncode == 0, created.stderr
    with running_app("--demo", log_path=tmp_path / "app.log", **env) as base:
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "risk@demo.local", "password": "demo"}, timeout=10
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        accounts = httpx.get(f"{base}/api/v1/accounts", headers=headers, timeout=10).json()["accounts"]
    assert login.status_code == 200 and len(accounts) == 10  # seeded although a user existed
    listed = run_cli("users", "list", **env).stdout
    assert "ops@example.com" in listed and "admin@demo.local" in listed
