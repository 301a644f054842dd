"""No old value after an acknowledged write, across a crash, with real processes.

The sequence an outside fault-injection run once caught serving a value 15 s old although 16
newer writes had been acknowledged: Redis frozen; the bridge writes through app process A (each
write answered 200); A is killed with SIGKILL; process B starts during the freeze; Redis resumes;
B is read from. Every read of B must show the last acknowledged write.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from dashboard.db.session import Database
from tests.process import REPO, clean_env, free_port, run_cli
from tests.throwaway import ThrowawayRedis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET = "crash-test-" + "Vb7nQ2xK9mW4pL8rT3yH6jF1dS5gA0zC"
PASSWORD = "a long enough password"


class App:
    """`python -m dashboard run` as a subprocess we can SIGKILL (tests.process only terminates)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.base = f"http://127.0.0.1:{env['DASHBOARD_PORT']}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard", "run"],
                cwd=REPO,
                env=clean_env(**self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def env(pg_database: Database, throwaway_redis: ThrowawayRedis) -> Iterator[dict[str, str]]:
    values = {
        "DASHBOARD_DATABASE_URL": pg_database.url,
        "DASHBOARD_REDIS_URL": throwaway_redis.url,
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_CACHE_TTL_S": "60",  # a stale value would be served for a long time
        "DASHBOARD_PORT": str(free_port()),
    }
    assert run_cli("demo", "seed", **values).returncode == 0  # accounts and their history
    for email, role in (("bridge@ops.local", "service"), ("desk@ops.local", "risk")):
        created = run_cli("users", "create", email, "--role", role, input=PASSWORD + "\n", **values)
        assert created.returncode == 0, created.stderr
    yield values


def token(base: str, email: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def shown_equity(base: str, headers: dict[str, str], account_id: int) -> Decimal:
    answer = httpx.get(f"{base}/api/v1/guards/status", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    accounts = answer.json()["guards"]["accounts"]
    return next(Decimal(a["equity"]) for a in accounts if a["account_id"] == account_id)


def test_no_read_after_a_crash_shows_a_value_older_than_an_acknowledged_write(
    env: dict[str, str],
    throwaway_redis: ThrowawayRedis,
    tmp_path: Path,
) -> None:
    first = App(env, tmp_path / "a.log")
    second = App(env, tmp_path / "b.log")
    try:
        first.start()
        bridge, desk = token(first.base, "bridge@ops.local"), token(first.base, "desk@ops.local")
        before = shown_equity(first.base, desk, 1)  # now cached in Redis for a minute

        throwaway_redis.freeze()
        start = datetime.now(UTC)
        written = before
        for step in range(1, 6):
            written = before + step
            answer = httpx.post(
                f"{first.base}/api/v1/ingest/equity",
                headers=bridge,
                json={
                    "account_id": 1,
                    "ts": (start + timedelta(seconds=step)).isoformat(),
                    "balance": str(written),
                    "equity": str(written),
                },
                timeout=10,
            )
            assert answer.status_code == 200, answer.text  # acknowledged
        first.kill()

        second.start()  # during the freeze
        throwaway_redis.thaw()
        seen = []
        deadline = time.monotonic() + 4.0  # long enough for B to find Redis again and use it
        while time.monotonic() < deadline:
            seen.append(shown_equity(second.base, desk, 1))
            time.sleep(0.05)
        health = httpx.get(f"{second.base}/health", timeout=5).json()
    finally:
        throwaway_redis.thaw()
        first.stop()
        second.stop()
    assert health["redis"] == "ok"  # the last reads were served with Redis in use again
    assert set(seen) == {written}, f"reads after the crash showed {sorted(set(seen))}, last write {written}"
