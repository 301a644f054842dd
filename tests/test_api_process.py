"""The REST API of the real app process (`python -m dashboard run --demo`, SQLite + Redis), as a
bot or script uses it: login over HTTP, reads, a CLI-issued service token for ingestion, and a
schemathesis run over the published OpenAPI schema that must never produce a 5xx."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import IN_CI, REDIS_URL
from tests.process import run_cli, running_app

# The API process uses the shared Redis.
pytestmark = pytest.mark.redis

SECRET = "process-test-" + "Zq8wX3vN6mB1kJ4hG7fD2sA9pL5tR0yE"
SERVICE_PASSWORD = "bridge password 42"
EXAMPLES = int(os.environ.get("DASHBOARD_SCHEMATHESIS_EXAMPLES", "8" if IN_CI else "12"))


class Live:
    def __init__(self, base: str, env: dict[str, str], log_path: Path) -> None:
        self.base = base
        self.log_path = log_path
        self.env = env
        self.tokens: dict[str, str] = {}

    def login(self, email: str, password: str = "demo") -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
        )

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("api-process")
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'api.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_REDIS_URL": REDIS_URL,
        "DASHBOARD_CACHE_NAMESPACE": f"tbtapi{os.getpid()}",
        "DASHBOARD_SIMULATE_INTERVAL_S": "1",
        "DASHBOARD_SIMULATE_EQUITY_EVERY_S": "0",
    }
    seeded = run_cli("demo", "seed", **env)
    assert seeded.returncode == 0, seeded.stderr
    created = run_cli(
        "users", "create", "bot@ops.local", "--role", "service", input=SERVICE_PASSWORD + "\n", **env
    )
    assert created.returncode == 0, created.stderr
    with running_app("--demo", log_path=tmp / "app.log", **env) as base:
        app = Live(base, env, tmp / "app.log")
        for who, email, password in (
            ("trader", "trader1@demo.local", "demo"),
            ("risk", "risk@demo.local", "demo"),
            ("service", "bot@ops.local", SERVICE_PASSWORD),
        ):
            response = app.login(email, password)
            assert response.status_code == 200, response.text
            app.tokens[who] = response.json()["access_token"]
        yield app


def test_a_script_logs_in_and_reads(live: Live) -> None:
    status = httpx.get(
        f"{live.base}/api/v1/reconciliation/status", headers=live.headers("trader"), timeout=10
    )
    assert status.status_code == 200 and status.json()["total_syncs"] > 0
    wall = httpx.get(f"{live.base}/api/v1/risk/accounts", headers=live.headers("risk"), timeout=10).json()
    assert len(wall["accounts"]) == 10
    assert (
        httpx.get(f"{live.base}/api/v1/risk/accounts", headers=live.headers("trader"), timeout=10).status_code
        == 403
    )
    assert live.login("trader1@demo.local", "not the password").status_code == 401


def test_a_cli_service_token_ingests(live: Live) -> None:
    issued = run_cli("users", "token", "bot@ops.local", "--days", "1", **live.env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    for _ in range(3):  # the demo simulator quotes EURUSD too: a quote of its may land in between
        quote = {"symbol": "EURUSD", "bid": "1.08000", "ask": "1.08010", "ts": datetime.now(UTC).isoformat()}
        response = httpx.post(
            f"{live.base}/api/v1/ingest/quotes",
            json={"quotes": [quote]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if "older than last" not in response.text:
            break
    assert response.status_code == 200, response.text
    refused = run_cli("users", "token", "trader1@demo.local", **live.env)
    assert refused.returncode == 2 and "service" in refused.stderr and "Traceback" not in refused.stderr


def test_openapi_documents_every_endpoint(live: Live) -> None:
    spec = httpx.get(f"{live.base}/openapi.json", timeout=10).json()
    paths = set(spec["paths"])
    expected = {
        "/health",
        "/metrics",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/reconciliation/status",
        "/api/v1/reconciliation/timeline",
        "/api/v1/positions",
        "/api/v1/positions/{position_id}",
        "/api/v1/guards/status",
        "/api/v1/guards/events",
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}/equity",
        "/api/v1/risk/accounts",
        "/api/v1/ingest/syncs",
        "/api/v1/ingest/equity",
        "/api/v1/ingest/quotes",
    }
    assert expected <= paths
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert httpx.get(f"{live.base}/docs", timeout=10).status_code == 200


def test_no_input_makes_a_server_error(live: Live) -> None:
    """Schemathesis generates inputs for every operation of the published schema (bounded
    examples); none may answer 5xx, and the server logs no unhandled exception."""
    schema = schemathesis.openapi.from_url(f"{live.base}/openapi.json").include(
        path_regex=r"^/(api/v1/|health)"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    calls = 0
    for operation in operations:
        headers = live.headers("service" if "/ingest/" in operation.path else "trader")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def fuzz(case: schemathesis.Case) -> None:
            nonlocal calls
            response = case.call(headers=headers, timeout=10)  # noqa: B023 (run before the loop moves on)
            calls += 1
            case.validate_response(response, checks=[not_a_server_error])

        fuzz()
    assert calls >= len(operations)
    log = live.log_path.read_text()
    assert "Traceback" not in log and " 500 " not in log
