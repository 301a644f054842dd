"""A database outage, as an operator sees it: a 503 or stale data, never a 500.

The real app (`python -m dashboard run --demo`) runs on a private PostgreSQL of this test alone
(the shared server on 5432 must never be stopped) and on the shared Redis under a namespace of its
own. PostgreSQL is stopped for longer than every cache horizon while a bot, a risk user's script
and a trader's browser keep using the app; then it comes back. The contract checked:

- during the outage every answer is a 2xx/3xx/4xx or a 503 with the documented JSON body and a
  Retry-After header: never another 5xx, never an HTML error page;
- reads answer cached/stale data or 503, anything needing the database now (a read the cache has
  never seen, an ingest, a login) answers 503, the browser login goes back to the login form with
  `error=unavailable`, and a page with a valid session cookie still renders (with stale banners);
- the health endpoints tell the proxy and the orchestrator the truth (ready: no; live: yes);
- after the restart the very first request works (dead pooled connections are replaced, not
  reported), the simulator writes again and an ingest is accepted;
- the log holds one line when the outage starts and one when it ends, and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL, service_missing
from tests.process import run_cli, running_app
from tests.throwaway import ThrowawayPostgres, ThrowawayUnavailable

DATABASE = "telebot"
SERVICE_EMAIL = "bot@ops.local"
SERVICE_PASSWORD = "bridge password " + secrets.token_hex(4)
RISK_EMAIL = "risk@demo.local"
TRADER_EMAIL = "trader1@demo.local"
DEMO_PASSWORD = "demo"
ACCOUNT_ID = 1
# Cache horizons given to the app (seconds): Redis freshness, stale-while-revalidate window, and the
# in-process tier. The outage must outlast all of them together, plus a margin, so that the test
# also sees what happens once nothing cached may be served any more.
CACHE_TTL_S = 1.0
CACHE_STALE_S = 2.0
CACHE_LOCAL_TTL_S = 1.0
OUTAGE_S = CACHE_TTL_S + CACHE_STALE_S + CACHE_LOCAL_TTL_S + 5.0
LOOP_PERIOD_S = 0.2
REQUEST_TIMEOUT_S = 10.0
RECOVERY_DEADLINE_S = 10.0
UNAVAILABLE_BODY: dict[str, Any] = {"detail": "database unavailable", "field": None}
CACHED_READS = ("/api/v1/reconciliation/status", "/api/v1/positions", "/api/v1/guards/status")


@dataclass(frozen=True)
class Observation:
    """One answer of the app, kept whole so a broken contract can be shown as it was seen."""

    kind: str
    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: str
    at_s: float

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def show(self) -> str:
        wanted = {k: v for k, v in self.headers.items() if k in ("content-type", "retry-after", "location")}
        return (
            f"[t+{self.at_s:.2f}s] {self.kind}: {self.method} {self.url} -> {self.status} "
            f"headers={wanted} body={self.body[:300]!r}"
        )


@dataclass
class Recorder:
    """Every answer of the outage, and the broken rules found in them."""

    started: float = field(default_factory=time.monotonic)
    seen: list[Observation] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def record(self, kind: str, response: httpx.Response) -> Observation:
        body = response.text
        observation = Observation(
            kind=kind,
            method=response.request.method,
            url=str(response.request.url),
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=body,
            at_s=time.monotonic() - self.started,
        )
        self.seen.append(observation)
        return observation

    def expect(self, observation: Observation, ok: bool, rule: str) -> None:
        if not ok:
            self.broken.append(f"{rule}: {observation.show()}")

    def statuses(self) -> dict[str, Counter[int]]:
        out: dict[str, Counter[int]] = {}
        for item in self.seen:
            out.setdefault(item.kind, Counter())[item.status] += 1
        return out


def is_documented_503(observation: Observation) -> bool:
    """The 503 of `dashboard.api.errors.database_unavailable`: JSON body and a Retry-After."""
    return (
        observation.status == 503
        and observation.json() == UNAVAILABLE_BODY
        and observation.headers.get("retry-after", "").isdigit()
    )


def no_other_5xx(recorder: Recorder, observation: Observation) -> None:
    """The core rule: a 5xx is only ever the documented 503."""
    if observation.status >= 500:
        recorder.expect(observation, is_documented_503(observation), "a 5xx that is not the documented 503")


@pytest.fixture
def outage_postgres(tmp_path: Path) -> Iterator[ThrowawayPostgres]:
    """A private cluster with synchronous_commit on: stopping it loses no acknowledged commit, so
    whatever the app answered 200 before the outage is still there after it."""
    try:
        pg = ThrowawayPostgres(tmp_path / "throwaway-postgres", settings={"synchronous_commit": "on"})
    except ThrowawayUnavailable as error:
        service_missing("A throwaway PostgreSQL", error)
        raise  # unreachable: service_missing fails or skips
    with pg:
        yield pg


@pytest.fixture
def cache_namespace() -> Iterator[str]:
    """A namespace of this test alone on the shared Redis (which the test never stops); its keys
    are removed afterwards so repeated runs leave nothing behind."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        service_missing(f"Redis at {REDIS_URL}", error)
    name = f"tbtout{os.getpid()}{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        try:
            keys = list(client.scan_iter(match=f"{name}:*", count=500))
            if keys:
                client.unlink(*keys)
        finally:
            client.close()


def max_equity_ts(pg: ThrowawayPostgres) -> float:
    """Newest equity snapshot (epoch seconds), read straight from the database, not through the app."""
    out = pg.psql("SELECT coalesce(extract(epoch FROM max(ts)), 0) FROM equity_snapshots", database=DATABASE)
    return float(out.strip())


def latest_equity(pg: ThrowawayPostgres, account_id: int) -> tuple[str, str]:
    """Balance and equity of the account's newest snapshot: an ingest that repeats them is valid and
    moves no guard, so the test's own writes do not change what the simulator does next."""
    row = pg.psql(
        f"SELECT balance::text, equity::text FROM equity_snapshots WHERE account_id = {account_id} "
        "ORDER BY ts DESC LIMIT 1",
        database=DATABASE,
    ).strip()
    balance, equity = row.split("|")
    return balance, equity


def wait_for(check: Callable[[], bool], deadline_s: float, what: str, poll_s: float = 0.2) -> None:
    """Poll until `check()` holds: recovery takes as long as it takes, up to a deadline."""
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {deadline_s} s")
        time.sleep(poll_s)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_database_outage_is_a_503_or_stale_data_never_a_500(
    outage_postgres: ThrowawayPostgres, cache_namespace: str, tmp_path: Path
) -> None:
    """An operator's view of one outage: what users get while PostgreSQL is stopped (503 or stale
    data, never a 500), that the app heals by itself when it is back, and that the log tells the
    story in two lines. Short cache horizons and timeouts make the outage outlast every cache tier
    in seconds, so the test also sees what happens when nothing cached may be served any more."""
    pg = outage_postgres
    database_url = pg.create_database(DATABASE)
    env = {
        "DASHBOARD_DATABASE_URL": database_url,
        "DASHBOARD_REDIS_URL": REDIS_URL,
        "DASHBOARD_CACHE_NAMESPACE": cache_namespace,
        "DASHBOARD_JWT_SECRET": secrets.token_urlsafe(30),  # 40 characters
        "DASHBOARD_SIMULATE_INTERVAL_S": "0.5",
        "DASHBOARD_SIMULATE_EQUITY_EVERY_S": "0",  # a snapshot per tick: recovery is seen by them
        "DASHBOARD_CACHE_TTL_S": str(CACHE_TTL_S),
        "DASHBOARD_CACHE_STALE_S": str(CACHE_STALE_S),
        "DASHBOARD_CACHE_LOCAL_TTL_S": str(CACHE_LOCAL_TTL_S),
        "DASHBOARD_DB_CONNECT_TIMEOUT_S": "1",
        "DASHBOARD_DB_POOL_TIMEOUT_S": "1",
    }
    # The service user is created the way an operator does it, before the first start.
    upgraded = run_cli("db", "upgrade", **env)
    assert upgraded.returncode == 0, upgraded.stderr
    created = run_cli(
        "users", "create", SERVICE_EMAIL, "--role", "service", input=SERVICE_PASSWORD + "\n", **env
    )
    assert created.returncode == 0, created.stderr

    log_path = tmp_path / "app.log"
    with (
        running_app("--demo", log_path=log_path, **env) as base,
        httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, follow_redirects=False) as client,
    ):
        log_before_stop = run_outage_scenario(client, pg, log_path)

    log = log_path.read_text()
    # PostgreSQL was up and answering until the test stopped it: an outage reported before that is
    # a false alarm (an operator would be paged for nothing) and is named as such.
    false_alarms = [line for line in log_before_stop.splitlines() if "database unavailable" in line]
    assert not false_alarms, (
        f"the app reported a database outage while PostgreSQL was up (before the test stopped it): "
        f"{false_alarms}\n--- log:\n{log[-6000:]}"
    )
    unavailable = [line for line in log.splitlines() if "database unavailable" in line]
    reachable = [line for line in log.splitlines() if "database reachable again" in line]
    assert len(unavailable) == 1, f"expected one outage line, got {unavailable}\n--- log:\n{log[-6000:]}"
    assert len(reachable) == 1, f"expected one recovery line, got {reachable}\n--- log:\n{log[-6000:]}"
    refused = re.search(r"(\d+) operations were refused", reachable[0])
    assert refused is not None and int(refused.group(1)) > 0, reachable[0]
    assert "Traceback" not in log, log[-8000:]


def run_outage_scenario(client: httpx.Client, pg: ThrowawayPostgres, log_path: Path) -> str:
    """Log in, warm the caches, stop PostgreSQL while every kind of user keeps working, start it
    again. Returns the app's log as it was right before the stop (the outage must not start there)."""

    def api_login(email: str, password: str) -> httpx.Response:
        return client.post("/api/v1/auth/login", json={"email": email, "password": password})

    def browser_login() -> httpx.Response:
        form = {"email": TRADER_EMAIL, "password": DEMO_PASSWORD, "next": "/positions"}
        response = client.post("/auth/session", data=form)
        client.cookies.clear()  # the session cookie is sent explicitly below, never from the jar
        return response

    def equity_body() -> dict[str, Any]:
        return {"account_id": ACCOUNT_ID, "ts": datetime.now(UTC).isoformat(), **equity_values}

    risk_login = api_login(RISK_EMAIL, DEMO_PASSWORD)
    service_login = api_login(SERVICE_EMAIL, SERVICE_PASSWORD)
    assert risk_login.status_code == 200, risk_login.text
    assert service_login.status_code == 200, service_login.text
    risk = {"Authorization": f"Bearer {risk_login.json()['access_token']}"}
    service = {"Authorization": f"Bearer {service_login.json()['access_token']}"}
    session = browser_login()
    assert session.status_code == 303, (session.status_code, session.text)
    session_cookie = session.cookies.get("tb_session")
    assert session_cookie, session.headers
    browser = {"Cookie": f"tb_session={session_cookie}"}
    balance, equity = latest_equity(pg, ACCOUNT_ID)
    equity_values = {"balance": balance, "equity": equity}

    # Warm both cache tiers with what the users are about to ask again during the outage.
    for _ in range(3):
        for path in CACHED_READS:
            warm = client.get(path, headers=risk)
            assert warm.status_code == 200, (path, warm.status_code, warm.text)
        page = client.get("/reconciliation", headers=browser)
        assert page.status_code == 200, (page.status_code, page.headers, page.text[:500])
        time.sleep(0.1)

    recorder = Recorder()
    log_before_stop = log_path.read_text()
    pg.stop()
    stopped = time.monotonic()
    recorder.started = stopped
    unique = 0

    def never_seen_read() -> httpx.Response:
        nonlocal unique
        unique += 1  # a `since` of its own each time: a cache key nobody ever filled
        since = (datetime.now(UTC) - timedelta(hours=2, microseconds=unique)).isoformat()
        return client.get("/api/v1/reconciliation/timeline", params={"since": since}, headers=risk)

    def redirected_to_unavailable(seen: Observation) -> bool:
        return seen.status == 303 and "error=unavailable" in seen.headers.get("location", "")

    # (kind, request, predicate, rule): one round of what every kind of user does.
    round_of_users: list[tuple[str, Callable[[], httpx.Response], Callable[[Observation], bool], str]] = [
        *(
            (
                "cached read",
                partial(client.get, path, headers=risk),
                lambda seen: (seen.status == 200 and seen.json() is not None) or is_documented_503(seen),
                "a read must answer cached data (200) or 503",
            )
            for path in CACHED_READS
        ),
        ("never-seen read", never_seen_read, is_documented_503, "a read the cache never saw must answer 503"),
        (
            "ingest",
            lambda: client.post("/api/v1/ingest/equity", json=equity_body(), headers=service),
            is_documented_503,
            "an ingest must answer 503",
        ),
        (
            "api login",
            lambda: api_login(RISK_EMAIL, DEMO_PASSWORD),
            is_documented_503,
            "an API login must answer 503",
        ),
        (
            "browser login",
            browser_login,
            redirected_to_unavailable,
            "a browser login must go back to the form with error=unavailable",
        ),
        (
            "page load",
            lambda: client.get("/positions", headers=browser),
            lambda seen: seen.status == 200 and "current-password" not in seen.body,
            "a page with a valid session cookie must render (200, not the login form)",
        ),
    ]
    while time.monotonic() - stopped < OUTAGE_S:
        tick = time.monotonic()
        for kind, send, predicate, rule in round_of_users:
            seen = recorder.record(kind, send())
            no_other_5xx(recorder, seen)
            recorder.expect(seen, predicate(seen), rule)
        time.sleep(max(0.0, LOOP_PERIOD_S - (time.monotonic() - tick)))

    # Still down: what a proxy and an orchestrator are told.
    health = recorder.record("health", client.get("/health"))
    body = health.json() or {}
    recorder.expect(
        health,
        health.status == 503 and body.get("database") == "unreachable" and body.get("status") == "down",
        "/health must say 503, database unreachable, status down",
    )
    ready = recorder.record("ready", client.get("/health/ready"))
    reasons = (ready.json() or {}).get("reasons", [])
    recorder.expect(
        ready, ready.status == 503 and "database unreachable" in reasons, "/health/ready must be 503"
    )
    live = recorder.record("live", client.get("/health/live"))
    recorder.expect(live, live.status == 200, "/health/live must stay 200")
    outage_lasted = time.monotonic() - stopped

    if recorder.broken:  # pytest.fail, not assert: the recorder's repr would bury the evidence
        pytest.fail(
            f"{len(recorder.broken)} broken rule(s) during a {outage_lasted:.1f} s outage; statuses "
            f"{recorder.statuses()}; first ones:\n"
            + "\n".join(recorder.broken[:12])
            + f"\n--- app log tail:\n{tail(log_path)}",
            pytrace=False,
        )

    # Back: the very first request after the restart must work (dead pooled connections replaced).
    pg.start()
    since = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    first = client.get("/api/v1/reconciliation/timeline", params={"since": since}, headers=risk)
    assert first.status_code == 200, (
        f"first read after the restart: {first.status_code} {first.text[:300]}\n{tail(log_path)}"
    )
    before = max_equity_ts(pg)
    wait_for(lambda: max_equity_ts(pg) > before, RECOVERY_DEADLINE_S, "the simulator writes again")
    ingested = ingest_after_recovery(client, service, equity_body)
    assert ingested.status_code == 200, (
        f"ingest after the restart: {ingested.status_code} {ingested.text[:300]}\n{tail(log_path)}"
    )
    wait_for(
        lambda: client.get("/health/ready").status_code == 200, RECOVERY_DEADLINE_S, "/health/ready is 200"
    )
    return log_before_stop


def ingest_after_recovery(
    client: httpx.Client, service: dict[str, str], body: Callable[[], dict[str, Any]]
) -> httpx.Response:
    """Ingest one snapshot; retried only when the simulator's snapshot of the same account won the
    race to a later timestamp (a legitimate 422 "older than the last", not an outage symptom)."""
    response = client.post("/api/v1/ingest/equity", json=body(), headers=service)
    for _ in range(3):
        older = response.status_code == 422 and response.json().get("field") == "ts"
        if not older:
            break
        response = client.post("/api/v1/ingest/equity", json=body(), headers=service)
    return response


def tail(path: Path, lines: int = 40) -> str:
    """The end of the app's log, for failure messages."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
