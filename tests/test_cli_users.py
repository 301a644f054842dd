"""`python -m dashboard users ...` and the production secret policy, as an operator uses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process import run_cli


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'users.sqlite3'}"}


def one_line_error(result: object, fragment: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]


def test_user_lifecycle(env: dict[str, str]) -> None:
    created = run_cli(
        "users", "create", "Ann@Desk.example", "--role", "risk", input="a long passphrase\n", **env
    )
    assert created.returncode == 0, created.stderr
    assert "ann@desk.example\trisk\tactive" in created.stdout
    one_line_error(
        run_cli("users", "create", "ann@desk.example", "--role", "risk", input="another passphrase\n", **env),
        "already exists",
    )
    one_line_error(
        run_cli("users", "create", "bob@x.example", "--role", "boss", input="a long passphrase\n", **env),
        "role",
    )
    one_line_error(
        run_cli("users", "create", "bob@x.example", "--role", "trader", input="short\n", **env), "password"
    )
    one_line_error(run_cli("users", "create", "bob@x.example", "--role", "trader", **env), "no password")
    assert run_cli("users", "set-role", "ann@desk.example", "admin", **env).returncode == 0
    assert run_cli("users", "disable", "ann@desk.example", **env).returncode == 0
    listed = run_cli("users", "list", **env)
    assert "ann@desk.example\tadmin\tdisabled" in listed.stdout
    one_line_error(run_cli("users", "disable", "nobody@x.example", **env), "no user")


def test_the_password_is_never_an_argument(env: dict[str, str]) -> None:
    result = run_cli("users", "create", "c@x.example", "--role", "trader", "--password", "hunter22", **env)
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_service_tokens_need_the_app_secret_and_a_service_user(env: dict[str, str]) -> None:
    assert (
        run_cli(
            "users", "create", "bot@x.example", "--role", "service", input="bridge passphrase\n", **env
        ).returncode
        == 0
    )
    one_line_error(run_cli("users", "token", "bot@x.example", **env), "DASHBOARD_JWT_SECRET")
    secret = {"DASHBOARD_JWT_SECRET": "Zq8wX3vN6mB1kJ4hG7fD2sA9pL5tR0yE-cli"}
    token = run_cli("users", "token", "bot@x.example", "--days", "7", **env, **secret)
    assert token.returncode == 0 and token.stdout.count(".") == 2
    one_line_error(run_cli("users", "token", "bot@x.example", "--days", "9999", **env, **secret), "--days")


def test_service_tokens_are_named_listed_and_revoked_by_prefix(env: dict[str, str]) -> None:
    secret = {"DASHBOARD_JWT_SECRET": "Zq8wX3vN6mB1kJ4hG7fD2sA9pL5tR0yE-cli"}
    for email in ("bot@x.example", "other-bot@x.example"):
        created = run_cli("users", "create", email, "--role", "service", input="bridge passphrase\n", **env)
        assert created.returncode == 0, created.stderr
    named = run_cli("users", "token", "bot@x.example", "--name", "mt5 bridge", "--days", "7", **env, **secret)
    unnamed = run_cli("users", "token", "bot@x.example", **env, **secret)
    other = run_cli("users", "token", "other-bot@x.example", "--name", "spare", **env, **secret)
    tokens = [r.stdout.strip() for r in (named, unnamed, other)]
    assert all(r.returncode == 0 for r in (named, unnamed, other)) and all(t.count(".") == 2 for t in tokens)

    listed = run_cli("users", "tokens", **env)
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    assert [(f[1], f[2], f[5]) for f in lines] == [
        ("spare", "other-bot@x.example", "active"),
        ("cli", "bot@x.example", "active"),
        ("mt5 bridge", "bot@x.example", "active"),
    ]
    assert all(f[3].startswith("created ") and f[4].startswith("expires ") for f in lines)
    assert not any(token in listed.stdout for token in tokens)  # never the token itself
    only_bot = run_cli("users", "tokens", "BOT@x.example", **env)
    assert [line.split("\t")[1] for line in only_bot.stdout.strip().splitlines()] == ["cli", "mt5 bridge"]

    jti = lines[2][0]
    revoked = run_cli("users", "revoke-token", jti[:8], **env)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith(f"{jti}\tmt5 bridge\t") and "\trevoked " in revoked.stdout
    states = {
        f[1]: f[5].split(" ")[0]
        for f in (line.split("\t") for line in run_cli("users", "tokens", **env).stdout.splitlines())
    }
    assert states == {"spare": "active", "cli": "active", "mt5 bridge": "revoked"}
    one_line_error(run_cli("users", "revoke-token", jti, **env), "revoked already")
    one_line_error(run_cli("users", "revoke-token", jti[:7], **env), "8 characters")
    one_line_error(run_cli("users", "revoke-token", "nothing-like-it", **env), "no service token")
    one_line_error(run_cli("users", "token", "bot@x.example", "--name", " ", **env, **secret), "name")


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [(None, "not set"), ("short", "shorter than 32 bytes"), ("changeme" * 5, "known default")],
)
def test_production_refuses_to_start_without_a_good_secret(
    env: dict[str, str], secret: str | None, fragment: str
) -> None:
    extra = {"DASHBOARD_ENV": "production", **({"DASHBOARD_JWT_SECRET": secret} if secret else {})}
    one_line_error(run_cli("run", **env, **extra, timeout=60), fragment)
