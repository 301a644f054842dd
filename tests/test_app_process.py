"""The app started as a user starts it: `python -m dashboard run` in its own process."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.process import run_cli, running_app


def test_run_serves_health_home_and_openapi(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    with running_app(log_path=tmp_path / "app.log", DASHBOARD_DATABASE_URL=url) as base:
        health = httpx.get(f"{base}/health", timeout=5).json()
        home = httpx.get(f"{base}/", timeout=10)
        docs = httpx.get(f"{base}/docs", timeout=5)
        openapi = httpx.get(f"{base}/openapi.json", timeout=5).json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert health["database_backend"] == "sqlite" and health["cache"] == "in-process"
    assert home.status_code == 200 and "TeleBot Live Dashboard" in home.text
    assert docs.status_code == 200
    assert "/health" in openapi["paths"]
    assert (tmp_path / "app.sqlite3").exists()


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
