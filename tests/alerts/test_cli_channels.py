"""`python -m dashboard alerts channels ...` as an operator runs it: the URL from stdin, listed
masked, a test message through the real receiver, one-line errors."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from tests.alerts.receiver import Receiver
from tests.process import free_port, run_cli


def test_add_list_test_and_remove_a_channel(tmp_path: Path) -> None:
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "DASHBOARD_ALERTS_KEY": Fernet.generate_key().decode(),
    }
    receiver = Receiver(free_port())
    secret_url = receiver.url.replace("json://", "json://ops:Hunter2secret@")
    added = run_cli(
        "alerts", "channels", "add", "desk", "--min-level", "critical", input=secret_url + "\n", **env
    )
    assert added.returncode == 0, added.stderr
    assert "desk" in added.stdout and "critical+" in added.stdout
    listed = run_cli("alerts", "channels", "list", **env)
    assert listed.returncode == 0 and "json://127.0.0.1/…" in listed.stdout
    refused = run_cli("alerts", "channels", "test", "desk", **env)  # the receiver is not up yet
    assert refused.returncode == 2 and "did not accept" in refused.stderr
    receiver.start()
    try:
        sent = run_cli("alerts", "channels", "test", "desk", **env)
    finally:
        receiver.stop()
    assert sent.returncode == 0, sent.stderr
    assert [r.body["title"] for r in receiver.received] == ["[TEST] TeleBot dashboard alert channel"]
    removed = run_cli("alerts", "channels", "remove", "desk", **env)
    assert removed.returncode == 0 and "removed" in removed.stdout
    everything = added.stdout + added.stderr + listed.stdout + refused.stderr + sent.stdout + removed.stdout
    assert "Hunter2secret" not in everything and "Traceback" not in everything


def test_in_production_without_a_key_adding_a_channel_is_a_one_line_error(tmp_path: Path) -> None:
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "DASHBOARD_ENV": "production",
    }
    result = run_cli("alerts", "channels", "add", "desk", input="json://127.0.0.1/hook\n", **env)
    assert result.returncode == 2 and "DASHBOARD_ALERTS_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    bad_key = run_cli("alerts", "channels", "list", DASHBOARD_ALERTS_KEY="not-a-key", **env)
    assert bad_key.returncode == 2 and "DASHBOARD_ALERTS_KEY" in bad_key.stderr


def test_in_demo_mode_without_a_key_channels_use_the_demo_databases_own_key(tmp_path: Path) -> None:
    """What `make run` users do: add a channel with no key configured; the app reads it back."""
    env = {"DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"}
    added = run_cli("alerts", "channels", "add", "desk", input="json://127.0.0.1/hook\n", **env)
    assert added.returncode == 0, added.stderr
    listed = run_cli("alerts", "channels", "list", **env)
    assert "desk" in listed.stdout and "json://127.0.0.1/…" in listed.stdout
    refused = run_cli("alerts", "channels", "test", "desk", **env)  # decrypted, then not answered
    assert (
        refused.returncode == 2 and "desk" in refused.stderr and "DASHBOARD_ALERTS_KEY" not in refused.stderr
    )


def test_rules_are_added_listed_and_removed_with_one_line_errors(tmp_path: Path) -> None:
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "DASHBOARD_ALERTS_KEY": Fernet.generate_key().decode(),
    }
    for name, level in (("desk", "warning"), ("duty", "critical")):
        added = run_cli(
            "alerts", "channels", "add", name, "--min-level", level, "--no-rule", input="json://h/x\n", **env
        )
        assert added.returncode == 0, added.stderr
    rule = run_cli(
        "alerts", "rules", "add", "desk-critical", "--channel", "desk", "--kinds", "guard,silence",
        "--min-level", "critical", "--renotify-s", "600",
        "--escalate-after-s", "900", "--escalation-channel", "duty",
        **env,
    )  # fmt: skip
    assert rule.returncode == 0, rule.stderr
    listed = run_cli("alerts", "rules", "list", **env)
    assert listed.returncode == 0
    assert listed.stdout.count("\n") == 1  # --no-rule: only the rule added here
    line = listed.stdout.strip()
    for part in ("desk-critical", "-> desk", "guard,silence", "all accounts", "critical+", "renotify 600s"):
        assert part in line, line
    assert "escalate after 900s to duty" in line
    for bad_args, message in (
        (("--channel", "nowhere"), "no channel named 'nowhere'"),
        (("--channel", "desk", "--kinds", "weather"), "kinds must be one of"),
        (("--channel", "desk", "--accounts", "x"), "--accounts"),
        (("--channel", "desk", "--escalate-after-s", "900"), "go together"),
    ):
        refused = run_cli("alerts", "rules", "add", "bad", *bad_args, **env)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    removed = run_cli("alerts", "rules", "remove", "desk-critical", **env)
    assert removed.returncode == 0 and "desk-critical" in removed.stdout
    assert run_cli("alerts", "rules", "list", **env).stdout == ""
