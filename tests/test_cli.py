"""The CLI as a user types it: help for every command, one-line errors, migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.db.migrate import head_revision
from tests.process import run_cli


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("run",),
        ("db",),
        ("db", "upgrade"),
        ("demo",),
        ("demo", "seed"),
        ("demo", "simulate"),
        ("users",),
        ("users", "create"),
        ("users", "token"),
    ],
)
def test_every_command_has_help(args: tuple[str, ...]) -> None:
    result = run_cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: python -m dashboard" in result.stdout


def test_db_upgrade_creates_the_schema_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    first = run_cli("db", "upgrade", DASHBOARD_DATABASE_URL=url)
    again = run_cli("db", "upgrade", DASHBOARD_DATABASE_URL=url)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert f"database at revision {head_revision()}" in again.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DASHBOARD_PORT": "not-a-port"}, "DASHBOARD_PORT"),
        ({"DASHBOARD_ENV": "staging"}, "DASHBOARD_ENV"),
        ({"DASHBOARD_DATABASE_URL": "nosuchdb://x"}, "error:"),
        ({"DASHBOARD_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}, "error:"),
    ],
)
def test_bad_configuration_is_one_line_error(env: dict[str, str], expected: str) -> None:
    result = run_cli("db", "upgrade", timeout=60, **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_unknown_command_is_refused_with_usage() -> None:
    result = run_cli("dance")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr and "Traceback" not in result.stderr
