"""Start the app as a real subprocess, the way a user does, for smoke and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment without pytest's variables (they crash a NiceGUI child) and
    without any DASHBOARD_* setting of the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DASHBOARD_"))}
    # A demo app's alert channel writes a file: never the developer's data/demo-alerts.log.
    log_name = f"tbt-demo-alerts-{os.getpid()}.log"
    env["DASHBOARD_DEMO_ALERT_LOG"] = os.path.join(tempfile.gettempdir(), log_name)
    env.update(extra)
    return env


def run_cli(
    *args: str, timeout: float = 120, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        cwd=REPO,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


@contextmanager
def running_app(*args: str, log_path: Path, startup_timeout: float = 90, **env: str) -> Iterator[str]:
    """Yield the base URL of `python -m dashboard run ARGS` once it is ready (`/health/ready`)."""
    port = free_port()
    env.setdefault("DASHBOARD_PORT", str(port))
    base = f"http://127.0.0.1:{env['DASHBOARD_PORT']}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "run", *args],
            cwd=REPO,
            env=clean_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"app exited with {proc.returncode}:\n{log_path.read_text()}")
                try:
                    if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"app did not answer in {startup_timeout}s:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
