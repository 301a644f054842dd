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
import yaml

from dashboard.settings import Settings

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
            r"\b(dashboard_[a-z_]+?)(?:_bucket|_count|_sum|_total)?\b",
            (PROMETHEUS / "alerts.yml").read_text(),
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


def test_the_compose_file_wires_the_parts_as_the_cluster_tests_do() -> None:
    """No Docker here: read the file and check what would break a deployment silently."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "app1", "app2", "haproxy", "prometheus"}
    apps = {name: services[name] for name in ("app1", "app2")}
    settings = set(Settings.model_fields)
    for name, app in apps.items():
        variables = {key for key in app["environment"] if key.startswith("DASHBOARD_")}
        unknown = {key for key in variables - {"DASHBOARD_RUN_ARGS"} if key[10:].lower() not in settings}
        assert not unknown, f"{name}: {unknown}"
        for needed in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "METRICS_TOKEN", "TRUSTED_PROXIES"):
            assert f"DASHBOARD_{needed}" in variables, (name, needed)
        assert app["stop_grace_period"] == "15s"  # longer than a drain
    # The same secret and data in both processes (the anchor gives them one environment).
    assert apps["app1"]["environment"] == apps["app2"]["environment"]
    haproxy = services["haproxy"]
    lines = (DEPLOY / "haproxy" / "haproxy.cfg").read_text().splitlines()
    config = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\$\{(\w+)\}", config)) == set(haproxy["environment"])
    assert {haproxy["environment"][f"APP{n}_ADDR"] for n in (1, 2)} == {"app1:8080", "app2:8080"}
    proxy_address = haproxy["networks"]["backend"]["ipv4_address"]
    assert apps["app1"]["environment"]["DASHBOARD_TRUSTED_PROXIES"] == proxy_address
    assert str(Path("/usr/local/etc/haproxy/haproxy.cfg")) in haproxy["volumes"][0]
    prometheus = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["app1:8080", "app2:8080"]
    secret = job["authorization"]["credentials_file"]
    assert secret == f"/run/secrets/{services['prometheus']['secrets'][0]}"
    assert compose["secrets"]["metrics_token"]["environment"] == "DASHBOARD_METRICS_TOKEN"
    example = (DEPLOY / "env.example").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "docker-compose.yml").read_text()))
    assert required <= set(re.findall(r"^(\w+)=", example, re.MULTILINE))
