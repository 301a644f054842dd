"""What a process exports to Prometheus (`GET /metrics`): prometheus-client, one registry per
runtime (not the library's global one, so that tests and several runtimes in one process don't
mix their series).

Two kinds of figures:
- measured where they happen, with the library's own types: request latency by route template and
  status (`RequestMetrics`, an ASGI middleware), live tabs and tick duration (the live pages);
- read at scrape time from what the parts already count (`RuntimeCollector`): cache counters by
  family and tier, the Redis breaker, the database pool, readiness, build info. Nothing is
  counted twice and the hot paths pay nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard import __version__
from dashboard.account_gauges import AccountGauges
from dashboard.cache.cache import QueryCache
from dashboard.db.session import Database, TimedPool
from dashboard.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Any], Callable[[Message], Any]], Any]

#: Latency buckets (seconds): a cached read is a few ms, a page load tens of ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class AppMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "dashboard_http_request_duration_seconds",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.live_tabs = Gauge(
            "dashboard_live_tabs", "Live pages open in this process.", registry=self.registry
        )
        self.leader = Gauge(
            "dashboard_leader",
            "1 in the process that runs the cluster's background work.",
            registry=self.registry,
        )
        self.logins = Counter(
            "dashboard_logins",
            "Login attempts (API and browser) by outcome: success, failure, throttled, unavailable.",
            ["outcome"],
            registry=self.registry,
        )
        self.writes = Counter(
            "dashboard_writes",
            "Writes through the one write path (ingest, acknowledgements, users) by operation and result.",
            ["operation", "result"],
            registry=self.registry,
        )
        self.tick_seconds = Histogram(
            "dashboard_tick_duration_seconds",
            "A live tab's tick: session check, cached reads and element changes (what the push waits for).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.push_seconds = Histogram(
            "dashboard_push_duration_seconds",
            "From a live tab's tick start until its changes were handed to the tab's socket.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.alert_deliveries = Counter(
            "dashboard_alert_deliveries",
            "Alert delivery attempts by the leader, by result: sent, retry (failed, tried again "
            "later), dead (failed for the last time), suppressed (flap control or acknowledged).",
            ["result"],
            registry=self.registry,
        )
        self.retention_deleted = Counter(
            "dashboard_retention_deleted_rows",
            "Rows the leader's retention job removed, by table: deleted in batches, or dropped with "
            "their day's partition (PostgreSQL).",
            ["table"],
            registry=self.registry,
        )
        self.retention_dropped_partitions = Counter(
            "dashboard_retention_dropped_partitions",
            "Day partitions the leader's retention job dropped whole, by table (PostgreSQL).",
            ["table"],
            registry=self.registry,
        )
        self.retention_seconds = Histogram(
            "dashboard_retention_run_seconds",
            "How long one run of the retention job took (it deletes in short batches).",
            buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300),
            registry=self.registry,
        )
        # Filled by the leader only (`dashboard.account_gauges`): one series per account per cluster.
        self.accounts = AccountGauges()
        self.registry.register(self.accounts)

    def watch(
        self, settings: Settings, database: Database, cache: QueryCache, ready: Callable[[], bool]
    ) -> None:
        self.registry.register(RuntimeCollector(settings, database, cache, ready))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RuntimeCollector(Collector):
    """Reads the runtime's own counters when Prometheus scrapes."""

    def __init__(
        self, settings: Settings, database: Database, cache: QueryCache, ready: Callable[[], bool]
    ) -> None:
        self.settings, self.database, self.cache, self.ready = settings, database, cache, ready

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("dashboard_build", "Version and backends of this process.")
        info.add_metric(
            [],
            {
                "version": __version__,
                "database": self.database.dialect,
                "cache": "redis" if self.settings.redis_url else "in-process",
            },
        )
        yield info
        ready = GaugeMetricFamily("dashboard_ready", "1 when the proxy may send new browsers here.")
        ready.add_metric([], 1.0 if self.ready() else 0.0)
        yield ready
        yield from self._cache()
        yield from self._pool()

    def _cache(self) -> Iterator[Metric]:
        cache = self.cache
        hits = CounterMetricFamily(
            "dashboard_cache_hits", "Cached reads answered, by family and tier.", labels=["family", "tier"]
        )
        outcomes = CounterMetricFamily(
            "dashboard_cache_events",
            "Cache misses, loads from the database, stale and outage serves, waits, errors, by family.",
            labels=["family", "event"],
        )
        for family, c in sorted(cache.metrics.families.items()):
            hits.add_metric([family, "local"], c.local_hits)
            hits.add_metric([family, "redis"], c.redis_hits)
            hits.add_metric([family, "coalesced"], c.coalesced)
            for event in ("misses", "loads", "stale_serves", "outage_serves", "waits", "corrupt", "errors"):
                outcomes.add_metric([family, event], getattr(c, event))
        yield hits
        yield outcomes
        breaker = GaugeMetricFamily(
            "dashboard_cache_redis_up",
            "1 while the shared Redis tier is in use (breaker closed).",
            labels=["state"],
        )
        if cache.redis is not None:
            state = cache.redis.breaker.state.value
            breaker.add_metric([state], 1.0 if state == "closed" else 0.0)
        yield breaker

    def _pool(self) -> Iterator[Metric]:
        pool = self.database.engine.sync_engine.pool
        in_use = GaugeMetricFamily("dashboard_db_pool_in_use", "Database connections checked out.")
        size = GaugeMetricFamily("dashboard_db_pool_size", "Database connections held open by the pool.")
        checkouts = CounterMetricFamily("dashboard_db_pool_checkouts", "Connections taken from the pool.")
        wait = CounterMetricFamily(
            "dashboard_db_pool_wait_seconds",
            "Time spent getting connections from the pool (opening new ones included).",
        )
        if isinstance(pool, TimedPool):  # PostgreSQL; SQLite has no queue pool
            in_use.add_metric([], float(pool.checkedout()))
            size.add_metric([], float(pool.size()))
            checkouts.add_metric([], float(pool.checkouts))
            wait.add_metric([], pool.wait_s)
        yield from (in_use, size, checkouts, wait)


class RequestMetrics:
    """Times each HTTP request and labels it with its route's template (`/api/v1/equity/{account_id}`),
    never the raw path: ids in paths would make a series per id."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], AppMetrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(
        self, scope: Scope, receive: Callable[[], Any], send: Callable[[Message], Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "500"

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                route = route_template(scope)
                metrics.requests.labels(route, scope.get("method", ""), status).observe(
                    time.perf_counter() - started
                )


def route_template(scope: Scope) -> str:
    """The matched route's template with the prefixes of the routers it was included under (the
    route only knows its own part: `/positions/{position_id}` under `/api/v1`)."""
    path: str = scope["path"]
    if path.startswith("/_nicegui_ws/"):
        return "/_nicegui_ws/socket.io"
    if path.startswith("/_nicegui/"):
        return "/_nicegui/{asset}"
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return "unmatched"
    regex = getattr(route, "path_regex", None)
    if regex is not None:
        for index, char in enumerate(path):
            if char == "/" and regex.match(path[index:]):
                return path[:index] + template
    return template
