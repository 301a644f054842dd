"""SIGTERM drains a real app process: not ready at once while it still answers, then it exits;
a second SIGTERM stops it without waiting (the cluster tests show the tabs moving)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cluster.harness import wait_for
from tests.process import REPO, clean_env, free_port

SECRET = "graceful-secret-" + "Zq8vX2rT6wN4bM7cD1fH5jL9sA3kP0yE"


def start(tmp_path: Path, drain_s: float) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = tmp_path / "app.log"
    env = clean_env(
        DASHBOARD_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}",
        DASHBOARD_JWT_SECRET=SECRET,
        DASHBOARD_PORT=str(port),
        DASHBOARD_DRAIN_S=str(drain_s),
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{base}/health/ready", timeout=2).status_code == 200, 90, "ready")
    return proc, base, log_path


def not_ready(base: str) -> dict[str, object] | None:
    response = httpx.get(f"{base}/health/ready", timeout=2)
    return response.json() if response.status_code == 503 else None  # type: ignore[no-any-return]


def test_sigterm_reports_not_ready_while_still_answering_then_exits(tmp_path: Path) -> None:
    proc, base, log_path = start(tmp_path, drain_s=3)
    try:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        ready = wait_for(
            lambda: (r := httpx.get(f"{base}/health/ready", timeout=2)).status_code == 503 and r.json(),
            2,
            "503",
        )
        assert "draining" in ready["reasons"]
        assert httpx.get(f"{base}/health/live", timeout=2).status_code == 200  # still answering
        assert proc.wait(timeout=10) == 0  # stopped as asked: a clean exit
        assert time.monotonic() - started >= 3  # the drain was waited out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = log_path.read_text()
    assert "draining" in log and "Traceback" not in log


def test_a_second_sigterm_stops_at_once(tmp_path: Path) -> None:
    proc, base, log_path = start(tmp_path, drain_s=5)
    try:
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: httpx.get(f"{base}/health/ready", timeout=2).status_code == 503, 2, "draining")
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - stopped < 4  # not the 5 s drain
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log_path.read_text()
