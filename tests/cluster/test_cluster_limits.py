"""A limit changed through one process is what the other process serves within one page tick: its
API read (cached in its own memory and in Redis before the change) and a risk user's account page
it serves (`tests/cluster/harness.py`: two processes, one PostgreSQL, one Redis, HAProxy).

Only the bound is asserted, by polling with it as the timeout; the measured time is printed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.cluster.harness import Cluster, wait_for
from tests.cluster.test_cluster import ONE_TICK_S, api_token, cluster, pinned, served_by, steady
from tests.e2e.conftest import browser, login

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]
__all__ = ["browser", "cluster"]  # the shared fixtures: the cluster of this module and chromium


def limits(app_url: str, token: str, account_id: int) -> dict[str, Any]:
    response = httpx.get(
        f"{app_url}/api/v1/accounts/{account_id}/limits",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def change(app_url: str, token: str, account_id: int, current: dict[str, Any], **values: Any) -> None:
    response = httpx.put(
        f"{app_url}/api/v1/accounts/{account_id}/limits",
        json={**current, **values, "reason": "cluster test"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_limit_changed_through_one_process_is_read_on_the_other_within_a_tick(
    cluster: Cluster, browser: Browser
) -> None:
    app1, app2 = cluster.apps["app1"].url, cluster.apps["app2"].url
    token1, token2 = api_token(app1, "risk@demo.local"), api_token(app2, "risk@demo.local")
    account_id = int(cluster.sql("SELECT min(id) AS id FROM trading_accounts")[0]["id"])
    before = limits(app2, token2, account_id)  # cached on app2 (its memory and Redis)
    assert limits(app2, token2, account_id)["limits"] == before["limits"]

    started = time.monotonic()
    change(app1, token1, account_id, before["limits"], dd_warning_pct="7.25", dd_critical_pct="13.75")
    wait_for(
        lambda: limits(app2, token2, account_id)["limits"]["dd_critical_pct"] == "13.7500",
        ONE_TICK_S,
        "app2's API to read the limit app1 changed",
        step=0.05,
    )
    print(f"limit changed on app1: read on app2 after {time.monotonic() - started:.2f} s")

    context = pinned(browser, cluster, "app2")
    try:
        page = context.new_page()
        login(page, cluster.url, "risk@demo.local", f"/accounts/{account_id}")
        expect(page.get_by_role("cell", name="13.75 % of HWM", exact=True)).to_be_visible(timeout=20_000)
        steady(page, context, "app2")  # past the first ticks: the next one is an interval away
        current = limits(app1, token1, account_id)["limits"]
        started = time.monotonic()
        change(app1, token1, account_id, current, dd_critical_pct="14.5")
        expect(page.get_by_role("cell", name="14.5 % of HWM", exact=True)).to_be_visible(
            timeout=ONE_TICK_S * 1000
        )
        print(f"limit changed on app1: on app2's page after {time.monotonic() - started:.2f} s")
        assert served_by(context) == "app2"
    finally:
        context.close()
