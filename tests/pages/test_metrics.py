"""`GET /metrics`: Prometheus text from this process, for this machine or the metrics token only."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from dashboard.account_gauges import export_account_gauges
from dashboard.db.models import AccountRiskState, TradingAccount
from dashboard.domain.enums import Level
from dashboard.runtime import current_runtime
from dashboard.services.errors import ServiceError
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.touched import Family, Touched
from tests.api.conftest import PASSWORD
from tests.factories import T0
from tests.pages.conftest import Web, served_client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_requests_by_route_template_tabs_ticks_and_cache(web: Web) -> None:
    await web.login("a")
    await web.user.open("/reconciliation")
    await web.see("total-syncs", "1")
    async with served_client() as http:
        for _ in range(3):
            assert (await http.get("/api/v1/positions")).status_code == 401
        assert (await http.get("/api/v1/positions/12345")).status_code == 401
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    count = "dashboard_http_request_duration_seconds_count"
    unauthenticated = {labels for name, labels in got if name == count and ("status", "401") in labels}
    positions = frozenset({("route", "/api/v1/positions"), ("method", "GET"), ("status", "401")})
    one = frozenset({("route", "/api/v1/positions/{position_id}"), ("method", "GET"), ("status", "401")})
    assert got[(count, positions)] == 3 and got[(count, one)] == 1  # by template: no series per id
    assert not any(("route", "/api/v1/positions/12345") in labels for labels in unauthenticated)
    assert got[("dashboard_live_tabs", frozenset())] >= 1
    assert got[("dashboard_tick_duration_seconds_count", frozenset())] >= 1
    assert got[("dashboard_push_duration_seconds_count", frozenset())] >= 1
    assert got[("dashboard_ready", frozenset())] == 1
    assert any(name == "dashboard_cache_hits_total" and value > 0 for (name, _), value in got.items())
    assert re.search(r'^dashboard_build_info\{.*version="', response.text, re.MULTILINE)


async def test_metrics_are_for_this_machine_or_the_token_only(web: Web) -> None:
    async with served_client(client="198.51.100.7") as remote:
        refused = await remote.get("/metrics")
    assert refused.status_code == 403 and "DASHBOARD_METRICS_TOKEN" in refused.json()["detail"]
    settings = current_runtime().settings
    settings.metrics_token = SecretStr("s" * 32)
    try:
        async with served_client(client="198.51.100.7") as remote:
            assert (await remote.get("/metrics")).status_code == 401
            wrong = await remote.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
            right = await remote.get("/metrics", headers={"Authorization": "Bearer " + "s" * 32})
        async with served_client() as local:
            assert (await local.get("/metrics")).status_code == 401  # with a token, the token always
    finally:
        settings.metrics_token = None
    assert wrong.status_code == 401 and right.status_code == 200
    assert "dashboard_live_tabs" in right.text


async def test_metrics_count_logins_and_writes_by_outcome(web: Web) -> None:
    async with served_client() as http:
        login = "/api/v1/auth/login"
        wrong = await http.post(login, json={"email": "a@test.local", "password": "nope nope nope"})
        right = await http.post(login, json={"email": "a@test.local", "password": PASSWORD})
        assert wrong.status_code == 401 and right.status_code == 200
        runtime = current_runtime()
        account = web.world.account["a"]
        when = T0 + timedelta(minutes=9)
        good = {"account_id": account, "ts": when, "balance": "10000.00", "equity": "9900.00"}
        await runtime.write(record_equity, good)
        with pytest.raises(ServiceError):
            await runtime.write(record_equity, {**good, "equity": "not a number"})
        got = samples((await http.get("/metrics")).text)
    assert got[("dashboard_logins_total", frozenset({("outcome", "failure")}))] == 1
    assert got[("dashboard_logins_total", frozenset({("outcome", "success")}))] >= 1
    ok = frozenset({("operation", "record_equity"), ("result", "ok")})
    refused = frozenset({("operation", "record_equity"), ("result", "refused")})
    assert got[("dashboard_writes_total", ok)] >= 1 and got[("dashboard_writes_total", refused)] == 1


async def test_the_leader_exports_one_series_per_account_and_none_once_it_stops(web: Web) -> None:
    runtime = current_runtime()
    await runtime.leadership.resign()  # this test plays the leader's job itself
    account = web.world.account["a"]
    synced = datetime.now(UTC) - timedelta(minutes=7)  # a bridge silent for 7 minutes
    async with runtime.database.session() as session:
        state = await session.get(AccountRiskState, account)
        assert state is not None
        state.drawdown_pct, state.daily_loss_pct = Decimal("12.5"), Decimal("1.25")
        state.dd_level, state.last_sync_at = Level.WARNING, synced
        name = (await session.get(TradingAccount, account)).name  # type: ignore[union-attr]
    await runtime.cache.invalidate(Touched().everyone(Family.RISK_WALL))  # written behind its back
    job = asyncio.create_task(export_account_gauges(runtime.queries, runtime.metrics.accounts, every_s=0.05))
    try:
        async with served_client() as http:
            for _ in range(100):
                got = samples((await http.get("/metrics")).text)
                if any(name == "dashboard_account_level" for name, _ in got):
                    break
                await asyncio.sleep(0.05)
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
    labels = frozenset({("account", str(account)), ("name", name)})
    assert got[("dashboard_account_drawdown_percent", labels)] == 12.5
    assert got[("dashboard_account_daily_loss_percent", labels)] == 1.25
    assert got[("dashboard_account_level", labels)] == 1  # warning: the worse of the two gauges
    assert 7 * 60 <= got[("dashboard_account_sync_age_seconds", labels)] < 8 * 60
    accounts = {dict(labels)["account"] for name, labels in got if name == "dashboard_account_level"}
    assert accounts == {str(a) for a in web.world.account.values()}  # one series per account
    async with served_client() as http:
        after = (await http.get("/metrics")).text
    assert "dashboard_account_level{" not in after  # no longer leading: nothing exported
