"""Locust load test of the REST API: 100 users, real JWT login, the three read endpoints.

    .venv/bin/locust -f bench/locustfile.py --headless -u 100 -r 50 -t 60s --host http://127.0.0.1:8080

Users log in once each (POST /api/v1/auth/login with a demo login and the demo password, so run
it against `python -m dashboard run --demo`), refresh their access token before it expires, and
then poll reconciliation status, open positions and guard status with 1-3 s of think time, as
a dashboard tab or a script would. `DASHBOARD_LOAD_LOGINS` (comma-separated e-mails) and
`DASHBOARD_LOAD_PASSWORD` override the demo credentials. With `DASHBOARD_LOAD_TOKENS` (a file of
access tokens, one per line, issued before the run) users skip the login, so the measured window
holds reads only (a login is ~0.1 s of argon2 by design, and 100 of them saturate a core).
"""

from __future__ import annotations

import itertools
import os
import time

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

LOGINS = os.environ.get(
    "DASHBOARD_LOAD_LOGINS",
    ",".join([f"trader{i}@demo.local" for i in range(1, 8)] + ["risk@demo.local", "risk2@demo.local"]),
).split(",")
PASSWORD = os.environ.get("DASHBOARD_LOAD_PASSWORD", "demo")
_next_login = itertools.cycle(LOGINS)
_TOKEN_FILE = os.environ.get("DASHBOARD_LOAD_TOKENS")
_next_token = itertools.cycle(open(_TOKEN_FILE).read().split()) if _TOKEN_FILE else None


class DashboardReader(FastHttpUser):
    """FastHttpUser (geventhttpclient): the client's own cost stays out of the latencies."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        if _next_token is not None:  # logged in before the run
            self.expires_at = float("inf")
            self.auth = {"Authorization": f"Bearer {next(_next_token)}"}
            return
        self.email = next(_next_login)
        response = self.client.post(
            "/api/v1/auth/login", json={"email": self.email, "password": PASSWORD}, name="POST /auth/login"
        )
        response.raise_for_status()
        self._use(response.json())

    def _use(self, tokens: dict[str, object]) -> None:
        self.refresh_token = str(tokens["refresh_token"])
        self.expires_at = time.monotonic() + float(tokens["expires_in"])  # type: ignore[arg-type]
        self.auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    def _fresh(self) -> None:
        if time.monotonic() > self.expires_at - 60:
            response = self.client.post(
                "/api/v1/auth/refresh", json={"refresh_token": self.refresh_token}, name="POST /auth/refresh"
            )
            response.raise_for_status()
            self._use(response.json())

    @task
    def reconciliation_status(self) -> None:
        self._fresh()
        self.client.get("/api/v1/reconciliation/status", name="GET /reconciliation/status", headers=self.auth)

    @task
    def positions(self) -> None:
        self._fresh()
        self.client.get("/api/v1/positions", name="GET /positions", headers=self.auth)

    @task
    def guards(self) -> None:
        self._fresh()
        self.client.get("/api/v1/guards/status", name="GET /guards/status", headers=self.auth)
