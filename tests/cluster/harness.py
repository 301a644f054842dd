"""A production-shaped cluster for tests: two app processes on one PostgreSQL database and one Redis
namespace, behind a real HAProxy (`deploy/haproxy/haproxy.cfg`, unchanged), scraped by a real
Prometheus (`deploy/prometheus/prometheus.yml` and `alerts.yml`, with this cluster's targets).

Everything is its own: a fresh database (the processes migrate and seed it themselves, started
together as `docker compose up` starts them), a Redis key namespace, free ports, a temporary
directory for logs and Prometheus's data; all of it is removed by `stop()`. A process can be
killed (-9) or stopped (SIGTERM) and started again on its port.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import yaml

from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, REDIS_URL, pg_url
from tests.process import REPO, clean_env, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
DEPLOY = REPO / "deploy"
REFRESH_S = 2
SIMULATE_S = 1.0


def wait_for(condition: Callable[[], Any], seconds: float, what: str, step: float = 0.1) -> Any:
    """Poll until `condition()` is truthy and return it; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(step)


@dataclass
class AppProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "run", "--demo"],
            cwd=REPO,
            env=clean_env(**self.env, DASHBOARD_PORT=str(self.port)),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
        return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, seconds: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=seconds)
        finally:
            self.ended()

    def ended(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def metrics(self, token: str) -> str:
        response = httpx.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        response.raise_for_status()
        return response.text

    def leading(self, token: str) -> bool:
        return "dashboard_leader 1.0" in self.metrics(token)


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.database = f"tbt_cluster_{os.getpid()}_{secrets.token_hex(3)}"
        self.namespace = f"tbc{secrets.token_hex(4)}"
        self.metrics_token = secrets.token_urlsafe(24)
        self.proxy_port = free_port()
        self.prometheus_port = free_port()
        env = {
            "DASHBOARD_DATABASE_URL": pg_url(self.database),
            "DASHBOARD_REDIS_URL": REDIS_URL,
            "DASHBOARD_CACHE_NAMESPACE": self.namespace,
            "DASHBOARD_JWT_SECRET": secrets.token_urlsafe(48),
            "DASHBOARD_TRUSTED_PROXIES": "127.0.0.1",
            "DASHBOARD_METRICS_TOKEN": self.metrics_token,
            "DASHBOARD_PAGE_REFRESH_S": str(REFRESH_S),
            "DASHBOARD_SIMULATE_INTERVAL_S": str(SIMULATE_S),
            # A snapshot per account per tick: the leader test counts them to prove one simulator.
            "DASHBOARD_SIMULATE_EQUITY_EVERY_S": "0",
        }
        self.env = env
        self.apps = {
            name: AppProcess(name, free_port(), env, root / f"{name}.log") for name in ("app1", "app2")
        }
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.prometheus: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    # ---- lifecycle

    def start(self) -> None:
        self.started_at = datetime.now(UTC)
        _admin(f'CREATE DATABASE "{self.database}"')
        for app in self.apps.values():  # together, on an empty database
            app.start()
        for app in self.apps.values():
            wait_for(app.ready, 120, f"{app.name} ready")
        self._start_haproxy()
        self._start_prometheus()

    def _start_haproxy(self) -> None:
        env = clean_env(
            PROXY_BIND=f"127.0.0.1:{self.proxy_port}",
            APP1_ADDR=f"127.0.0.1:{self.apps['app1'].port}",
            APP2_ADDR=f"127.0.0.1:{self.apps['app2'].port}",
        )
        config = DEPLOY / "haproxy" / "haproxy.cfg"
        self.haproxy_log = open(self.root / "haproxy.log", "ab")
        self.haproxy = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)], env=env, stdout=self.haproxy_log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200, 20, "haproxy")
        for name in self.apps:
            self.wait_in_rotation(name)

    def _start_prometheus(self) -> None:
        config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        (self.root / "metrics_token").write_text(self.metrics_token)
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["rule_files"] = [str(DEPLOY / "prometheus" / name) for name in config["rule_files"]]
        (job,) = config["scrape_configs"]
        job["authorization"]["credentials_file"] = str(self.root / "metrics_token")
        job["static_configs"] = [
            {"targets": [f"127.0.0.1:{app.port}"], "labels": {"process": name}}
            for name, app in self.apps.items()
        ]
        (self.root / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.prometheus_log = open(self.root / "prometheus.log", "ab")
        self.prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.root / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
            ],
            stdout=self.prometheus_log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: httpx.get(f"{self.prometheus_url}/-/ready", timeout=2).status_code == 200, 30, "prom"
        )

    def stop(self) -> list[str]:
        """Stop everything; return the app logs' lines that show a traceback (none expected)."""
        for process in (self.haproxy, self.prometheus):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        for app in self.apps.values():
            if app.proc is not None and app.proc.poll() is None:
                app.signal(signal.SIGKILL)
                app.wait_exit(10)
        for handle in ("haproxy_log", "prometheus_log"):
            if hasattr(self, handle):
                getattr(self, handle).close()
        _admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"{self.namespace}:*", count=500))
            if keys:
                client.unlink(*keys)
        finally:
            client.close()
        return [
            f"{app.name}: {line}"
            for app in self.apps.values()
            for line in app.log_path.read_text().splitlines()
            if "Traceback" in line
        ]

    # ---- what the tests do to it

    def restart(self, name: str) -> None:
        """Start a stopped process again on its port and wait until the proxy sends it browsers."""
        app = self.apps[name]
        app.start()
        wait_for(app.ready, 60, f"{name} ready again")
        self.wait_in_rotation(name)

    def wait_in_rotation(self, name: str) -> None:
        """HAProxy takes a process after 2 good checks 0.5 s apart: a page load with its cookie
        reaches it (and is not redispatched, which would set the other process's cookie)."""
        wait_for(
            lambda: self.proxied_server("/login", cookie=name) == name,
            20,
            f"haproxy routing to {name}",
        )

    def proxied_server(self, path: str, cookie: str | None = None) -> str | None:
        """Which process the proxy sent a request to (the cookie it sets names it)."""
        cookies = {"DASHBOARD_SERVER": cookie} if cookie else {}
        response = httpx.get(f"{self.url}{path}", cookies=cookies, timeout=5)
        if response.status_code != 200:
            return None
        return response.cookies.get("DASHBOARD_SERVER") or cookie

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def sql(self, statement: str, *args: Any) -> list[Any]:
        return _run_sql(self.database, statement, *args)


def _admin(statement: str) -> None:
    _run_sql(PG_ADMIN_DB, statement)


def _run_sql(database: str, statement: str, *args: Any) -> list[Any]:
    async def go() -> list[Any]:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=5)
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()
