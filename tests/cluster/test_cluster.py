"""The service as it runs in production: two processes behind HAProxy, scraped by Prometheus
(`tests/cluster/harness.py`), driven by Debian's chromium through the proxy like a user's browser.

The tests share one cluster and run in file order; a test that stops a process starts it again.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.cluster.harness import REFRESH_S, SIMULATE_S, Cluster, wait_for
from tests.e2e.conftest import browser, login
from tests.process import run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]
__all__ = ["browser"]  # the e2e tests' chromium fixture, shared
COOKIE = "DASHBOARD_SERVER"
SERVICE_PASSWORD = "cluster-bridge-" + "x" * 16
#: "Within one tick": the tab's tick interval, plus the time a page needs to show what it read.
ONE_TICK_S = REFRESH_S + 1.5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        started.start()
        yield started
    finally:
        tracebacks = started.stop()
    assert tracebacks == []


def pinned(browser: Browser, cluster: Cluster, server: str) -> BrowserContext:
    """A browser the proxy has already pinned to `server` (as after its first visit there)."""
    context = browser.new_context()
    context.add_cookies([{"name": COOKIE, "value": server, "url": cluster.url}])
    return context


def served_by(context: BrowserContext) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == COOKIE), None)


def latest_tick(page: Page) -> int | None:
    """Server time (ms) of the latest tick the tab received; None while the page is reloading."""
    try:
        value = page.evaluate("() => document.querySelector('[data-tick]')?.dataset.tick ?? null")
    except PlaywrightError:
        return None
    return int(value) if value else None


def ticks_after(
    page: Page, moment_ms: int, count: int, seconds: float, context: BrowserContext, on: str
) -> float:
    """Seconds until the tab, served by `on`, has received `count` distinct ticks made after
    `moment_ms` (data moving again), still logged in."""
    started = time.monotonic()
    seen: set[int] = set()

    def moving() -> bool:
        tick = latest_tick(page)
        if tick is not None and tick > moment_ms and served_by(context) == on and "/login" not in page.url:
            seen.add(tick)
        return len(seen) >= count

    wait_for(moving, seconds, f"{count} new ticks on {on} (seen {seen}, url {page.url})", step=0.05)
    return time.monotonic() - started


def steady(page: Page, context: BrowserContext, on: str) -> None:
    """Past the page's first ticks: a tab starts its periodic ticks at a random phase (tabs opened
    together must not tick together), so only from the second tick on is the next one an
    interval away."""
    ticks_after(page, now_ms(), 2, 10, context, on)


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def overlay_hidden(page: Page) -> bool:
    """NiceGUI's "connection lost" overlay is not on screen."""
    return bool(page.evaluate("() => document.getElementById('popup')?.ariaHidden !== 'false'"))


def api_token(base: str, email: str, password: str = "demo") -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_both_processes_serve_through_the_proxy_and_preferences_follow_the_user(
    cluster: Cluster, browser: Browser
) -> None:
    first, second = pinned(browser, cluster, "app1"), pinned(browser, cluster, "app2")
    try:
        page = first.new_page()
        login(page, cluster.url, "risk@demo.local", "/risk")
        ticks_after(page, now_ms(), 1, 10, first, "app1")
        page.get_by_role("button", name="Dark mode").click()
        expect(page.locator("body")).to_have_class(re.compile("body--dark"))
        other = second.new_page()
        login(other, cluster.url, "risk@demo.local", "/guards")
        ticks_after(other, now_ms(), 1, 10, second, "app2")
        # The choice made on app1 is shown by app2 (NiceGUI's storage lives in Redis).
        expect(other.locator("body")).to_have_class(re.compile("body--dark"))
        page.get_by_role("button", name="Dark mode").click()  # back, for the tests that follow
        expect(page.locator("body")).not_to_have_class(re.compile("body--dark"))
    finally:
        first.close()
        second.close()


def test_a_tab_whose_process_is_killed_moves_to_the_other_without_a_login(
    cluster: Cluster, browser: Browser
) -> None:
    context = pinned(browser, cluster, "app1")
    try:
        page = context.new_page()
        login(page, cluster.url, "risk@demo.local", "/risk")
        ticks_after(page, now_ms(), 1, 10, context, "app1")
        killed_at = now_ms()
        cluster.apps["app1"].signal(signal.SIGKILL)
        took = ticks_after(page, killed_at, 2, 10, context, "app2")
        assert page.url.endswith("/risk") and overlay_hidden(page)
        print(f"kill -9: data moving again on app2 after {took:.1f} s")
        cluster.apps["app1"].wait_exit(5)
    finally:
        context.close()
        cluster.restart("app1")


def test_sigterm_drains_a_process_its_tabs_move_within_5_s_and_it_exits_within_10_s(
    cluster: Cluster, browser: Browser
) -> None:
    context = pinned(browser, cluster, "app2")
    try:
        page = context.new_page()
        login(page, cluster.url, "risk@demo.local", "/risk")
        ticks_after(page, now_ms(), 1, 10, context, "app2")
        app2 = cluster.apps["app2"]
        stopped_at, started = now_ms(), time.monotonic()
        app2.signal(signal.SIGTERM)
        # Not ready at once (the proxy stops sending it new browsers) while it still answers.
        wait_for(lambda: httpx.get(f"{app2.url}/health/ready", timeout=2).status_code == 503, 1, "not ready")
        took = ticks_after(page, stopped_at, 1, 5, context, "app1")
        assert page.url.endswith("/risk") and overlay_hidden(page)
        assert app2.wait_exit(10 - (time.monotonic() - started)) is not None
        print(
            f"SIGTERM: tab on app1 after {took:.1f} s, process gone after {time.monotonic() - started:.1f} s"
        )
    finally:
        context.close()
        cluster.restart("app2")


def test_a_logout_through_one_process_ends_a_tab_on_the_other_within_a_tick(
    cluster: Cluster, browser: Browser
) -> None:
    context = pinned(browser, cluster, "app2")
    try:
        page = context.new_page()
        login(page, cluster.url, "trader2@demo.local", "/guards")  # gauges move every tick
        steady(page, context, "app2")
        token = api_token(cluster.apps["app1"].url, "trader2@demo.local")
        logout = httpx.post(
            f"{cluster.apps['app1'].url}/api/v1/auth/logout",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert logout.status_code == 204
        expect(page).to_have_url(re.compile(r"/login"), timeout=ONE_TICK_S * 1000)
    finally:
        context.close()


def test_an_ingest_write_sent_to_one_process_shows_on_a_page_served_by_the_other_within_a_tick(
    cluster: Cluster, browser: Browser
) -> None:
    app1 = cluster.apps["app1"]
    created = run_cli(
        "users",
        "create",
        "bridge@ops.local",
        "--role",
        "service",
        input=SERVICE_PASSWORD + "\n",
        **cluster.env,
    )
    assert created.returncode == 0, created.stderr
    service = api_token(app1.url, "bridge@ops.local", SERVICE_PASSWORD)
    trader = api_token(app1.url, "trader3@demo.local")
    accounts = httpx.get(
        f"{app1.url}/api/v1/accounts", headers={"Authorization": f"Bearer {trader}"}, timeout=10
    ).json()["accounts"]
    context = pinned(browser, cluster, "app2")
    try:
        page = context.new_page()
        login(page, cluster.url, "trader3@demo.local", "/positions")
        # Positions change only with syncs (every 30 s), so this tab has no ticks to watch: wait
        # as long as it takes a tab to reach its periodic ticks (first tick, random phase, interval).
        time.sleep(0.5 + 2 * REFRESH_S)
        expect(page.get_by_text("1.01234")).to_have_count(0)
        fill = {
            "account_id": accounts[0]["id"],
            "identifier": 880_000_001,
            "ticket": 880_000_001,
            "symbol": "EURUSD",
            "side": "buy",
            "volume": "0.07",
            "price_open": "1.01234",
            "opened_at": datetime.now(UTC).isoformat(),
        }
        written = httpx.post(
            f"{app1.url}/api/v1/ingest/positions",
            json=fill,
            headers={"Authorization": f"Bearer {service}"},
            timeout=10,
        )
        assert written.status_code == 200, written.text
        # In the table (and in the phone layout's card, hidden on a desktop).
        expect(page.get_by_text("1.01234").first).to_be_attached(timeout=ONE_TICK_S * 1000)
        assert served_by(context) == "app2"
    finally:
        context.close()


def test_when_the_leader_is_killed_exactly_one_other_takes_over_and_the_simulator_never_runs_twice(
    cluster: Cluster,
) -> None:
    token = cluster.metrics_token
    leaders = [name for name, app in cluster.apps.items() if app.leading(token)]
    assert len(leaders) == 1, leaders
    (leader,) = leaders
    (other,) = [name for name in cluster.apps if name != leader]
    # Gaps are measured from the simulator's own ticks: the seed's last history point is written just
    # before the first tick, at whatever distance the start-up happened to leave.
    baseline = cluster.sql("SELECT max(ts) AS ts FROM equity_snapshots")[0]["ts"]
    cluster.apps[leader].signal(signal.SIGKILL)
    killed = time.monotonic()
    cluster.apps[leader].wait_exit(5)
    wait_for(lambda: cluster.apps[other].leading(token), 10, f"{other} leading")
    print(f"leader {leader} killed: {other} leads after {time.monotonic() - killed:.1f} s")
    first_account = cluster.sql("SELECT min(id) AS id FROM trading_accounts")[0]["id"]
    since = cluster.sql("SELECT max(ts) AS ts FROM equity_snapshots WHERE account_id = $1", first_account)[0][
        "ts"
    ]
    wait_for(
        lambda: (
            cluster.sql(
                "SELECT count(*) AS n FROM equity_snapshots WHERE account_id = $1 AND ts > $2",
                first_account,
                since,
            )[0]["n"]
            >= 2
        ),
        10,
        "the simulator writing again",
    )
    cluster.restart(leader)
    time.sleep(3)
    assert not cluster.apps[leader].leading(token) and cluster.apps[other].leading(token)
    # Never two simulators: one snapshot per account per tick. Two simulators at the same interval
    # would interleave, leaving gaps of at most half an interval.
    gaps = cluster.sql(
        """SELECT extract(epoch FROM ts - lag(ts) OVER (PARTITION BY account_id ORDER BY ts)) AS gap
           FROM equity_snapshots WHERE ts >= $1""",
        baseline,
    )
    measured = [float(row["gap"]) for row in gaps if row["gap"] is not None]
    assert len(measured) > 20
    assert min(measured) >= 0.6 * SIMULATE_S, sorted(measured)[:5]


def test_prometheus_scrapes_both_processes_and_one_series_per_account(cluster: Cluster) -> None:
    for _ in range(20):  # some load through the proxy
        httpx.get(f"{cluster.url}/health/ready", timeout=5)
    accounts = cluster.sql("SELECT count(*) AS n FROM trading_accounts")[0]["n"]

    def scraped() -> bool:
        requests = cluster.query("sum by (process) (dashboard_http_request_duration_seconds_count)")
        # Over the module's life: a process restarted by an earlier test starts its counters at 0.
        pushes = cluster.query(
            "sum by (process) (max_over_time(dashboard_push_duration_seconds_count[15m])) > 0"
        )
        pools = cluster.query("dashboard_db_pool_checkouts_total > 0")
        gauges = cluster.query("dashboard_account_drawdown_percent")
        ages = cluster.query("dashboard_account_sync_age_seconds")
        return (
            {r["metric"]["process"] for r in requests} == {"app1", "app2"}
            and {r["metric"]["process"] for r in pushes} == {"app1", "app2"}
            and {r["metric"]["process"] for r in pools} == {"app1", "app2"}
            and len(gauges) == accounts
            and len({r["metric"]["account"] for r in gauges}) == accounts
            and len(ages) == accounts
        )

    wait_for(scraped, 20, "Prometheus to hold both processes' histograms and one series per account")
    levels = cluster.query("dashboard_account_level")
    assert {float(r["value"][1]) for r in levels} <= {0.0, 1.0, 2.0}
    rules = httpx.get(f"{cluster.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {rule["name"] for group in rules for rule in group["rules"]} >= {
        "DashboardProcessDown",
        "DashboardAccountSilent",
        "DashboardAccountCritical",
        "DashboardPushSlow",
    }
