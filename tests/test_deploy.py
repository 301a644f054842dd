"""The shipped deploy configs are valid: Prometheus's configuration and alert rules, each alert
firing on the series that should raise it (`promtool`, from Debian's `prometheus`), HAProxy's
config (`haproxy -c`) and the compose file's wiring; both tools installed by
scripts/ensure_services.sh. The cluster tests run these same files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: run scripts/ensure_services.sh (apt-get install prometheus)")
    return subprocess.run(
        [tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


def test_prometheus_config_is_valid() -> None:
    # The bearer token file exists only where Prometheus runs: check the syntax, not the mount.
    result = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid_and_fire_as_intended() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_metric_an_alert_uses_is_exported() -> None:
    """A renamed metric would silence its alert without any error: every dashboard_* name in the
    rules must be one the app defines."""
    package = Path(__file__).resolve().parents[1] / "dashboard"
    exported = "".join((package / name).read_text() for name in ("metrics.py", "account_gauges.py"))
    used = set(
        re.findall(
            r"\b(dashboard_[a-z_]+?)(?:_bucket|_count|_sum)?\b", (PROMETHEUS / "alerts.yml").read_text()
        )
    )
    assert used, "no dashboard metric in the rules"
    missing = {name for name in used if f'"{name}"' not in exported}
    assert not missing, missing


def test_haproxy_config_is_valid() -> None:
    """The shipped proxy config, with the addresses the cluster tests and compose give it."""
    addresses = {"PROXY_BIND": "127.0.0.1:1", "APP1_ADDR": "127.0.0.1:2", "APP2_ADDR": "127.0.0.1:3"}
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    result = subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOY / "haproxy" / "haproxy.cfg")],
        env={**os.environ, **addresses},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
