"""Live-tab benchmark: N browser tabs that load a page and stay on NiceGUI's socket.io like a
browser, against the app on PostgreSQL and Redis, at a 2 s tick.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/sessions.py [--tabs 50,200,500] [--seconds 20] [--page /reconciliation]

Per N: server CPU (cores, from /proc), server memory per tab (RSS growth / N), push latency
(server tick start -> message received, from the tick stamp every live page carries), database
transactions per second (pg_stat_database) and the cache hit rate (/health?detail=true); then a
reconnect storm: every tab drops its socket and reconnects at once (connect + handshake time), then
the same with the reconnection jitter of a browser's socket.io client (0.5-1.5 s).
The simulator keeps writing every 3 s, so caches are invalidated as in real use. Tabs are spread
over the demo logins (7 traders, 2 risk users). Each run has its own PostgreSQL database (dropped
afterwards) and Redis cache namespace (bench/harness.py).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import time
import uuid
from pathlib import Path

import httpx
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    LOGINS,
    App,
    admin_token,
    arg_parser,
    bench_setup,
    cache_detail,
    main_guard,
    percentile,
    pg_transactions,
    rss_mb,
)

CLIENT_ID = re.compile(r"'client_id': '([0-9a-f-]+)'")


class Tab:
    def __init__(self, base: str, cookies: dict[str, str], page: str) -> None:
        self.base, self.cookies, self.page = base, cookies, page
        self.latencies: list[float] = []
        self.sio: socketio.AsyncClient | None = None
        self.client_id = ""
        self.tab_id = str(uuid.uuid4())
        self.document_id = str(uuid.uuid4())  # a browser keeps it across reconnects
        self.next_message_id: int | None = None
        self.measuring = False

    async def load(self, http: httpx.AsyncClient) -> None:
        response = await http.get(self.base + self.page, cookies=self.cookies)
        match = CLIENT_ID.search(response.text)
        if response.status_code != 200 or match is None:
            raise RuntimeError(f"page load failed: {response.status_code}")
        self.client_id = match.group(1)

    async def connect(self) -> float:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._on_any)
        started = time.perf_counter()
        query = (
            f"client_id={self.client_id}&tab_id={self.tab_id}&document_id={self.document_id}"
            "&implicit_handshake=true"
        )
        if self.next_message_id is not None:  # as the browser does: replay only what was missed
            query += f"&next_message_id={self.next_message_id}"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        await self.sio.connect(
            f"{self.base}?{query}",
            socketio_path="/_nicegui_ws/socket.io",
            transports=["websocket"],
            headers={"Cookie": cookie, "Origin": self.base},
            wait_timeout=10,
        )
        return (time.perf_counter() - started) * 1000

    def _on_any(self, event: str, data: object = None) -> None:
        self._on_message(data)

    def _on_message(self, data: object) -> None:
        """Pick the tick stamp out of an update ({element id: element dict}) without walking or
        printing the whole payload: the load generator must stay cheaper than what it measures."""
        if not isinstance(data, dict):
            return
        if isinstance(data.get("_id"), int):
            self.next_message_id = data["_id"] + 1
        if not self.measuring:
            return
        received = time.time() * 1000
        for element in data.values():
            if isinstance(element, dict):
                stamp = element.get("props", {}).get("data-tick")
                if stamp is not None:
                    self.latencies.append(received - int(stamp))

    async def drop(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()


async def login_cookies(base: str) -> list[dict[str, str]]:
    jars = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for email in LOGINS:
            response = await http.post(
                "/auth/session", data={"email": email, "password": "demo", "next": "/"}
            )
            jars.append({k: v for k, v in response.cookies.items()})
    return jars


async def cache_counters(base: str, token: str) -> tuple[int, int]:
    detail = await cache_detail(base, token)
    if detail is None:
        raise RuntimeError("GET /health?detail=true gave no cache detail")
    hits = sum(
        f["local_hits"] + f["redis_hits"] + f["coalesced"] + f["stale_serves"] for f in detail["families"]
    )
    misses = sum(f["misses"] for f in detail["families"])
    return hits, misses


async def run(app: App, database: str, n: int, seconds: int, page: str) -> None:
    pid = app.pid
    jars = await login_cookies(app.base)
    token = await admin_token(app.base)
    tabs = [Tab(app.base, jars[i % len(jars)], page) for i in range(n)]
    await asyncio.sleep(2)
    rss_before = rss_mb(pid)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        for start in range(0, n, 50):
            await asyncio.gather(*(tab.load(http) for tab in tabs[start : start + 50]))
    connect_ms = []
    for start in range(0, n, 50):
        connect_ms += await asyncio.gather(*(tab.connect() for tab in tabs[start : start + 50]))
    await asyncio.sleep(4)  # first ticks, figures drawn
    for tab in tabs:
        tab.measuring = True
    hits0, misses0 = await cache_counters(app.base, token)
    tx0, cpu0, t0 = await pg_transactions(database), app.cpu(), time.monotonic()
    own0 = time.process_time()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    own_cores = (time.process_time() - own0) / elapsed
    cores = (app.cpu() - cpu0) / elapsed
    tx_rate = (await pg_transactions(database) - tx0) / elapsed
    hits1, misses1 = await cache_counters(app.base, token)
    rss_after = rss_mb(pid)
    for tab in tabs:
        tab.measuring = False
    latencies = [x for tab in tabs for x in tab.latencies]
    hit_rate = (hits1 - hits0) / max(1, (hits1 - hits0) + (misses1 - misses0))
    # Reconnect storm: every socket drops, then all reconnect at once.
    await asyncio.gather(*(tab.drop() for tab in tabs))
    await asyncio.sleep(0.5)
    storm_cpu0, storm_t0 = app.cpu(), time.monotonic()
    storm = await asyncio.gather(*(tab.connect() for tab in tabs), return_exceptions=True)
    storm_wall = time.monotonic() - storm_t0
    storm_server_s = app.cpu() - storm_cpu0
    storm_ms = [x for x in storm if isinstance(x, float)]
    storm_errors = len(storm) - len(storm_ms)
    # The same drop with the reconnection delay a browser's socket.io client uses (1 s with
    # randomisation 0.5, i.e. 0.5-1.5 s): the time of each reconnect itself.
    await asyncio.gather(*(tab.drop() for tab in tabs))
    rng = random.Random(n)

    async def jittered(tab: Tab) -> float:
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        return await tab.connect()

    spread = await asyncio.gather(*(jittered(tab) for tab in tabs), return_exceptions=True)
    spread_ms = [x for x in spread if isinstance(x, float)]
    storm_errors += len(spread) - len(spread_ms)
    print(
        f"| {n} | {cores:.2f} | {(rss_after - rss_before) / n:.3f} | {len(latencies)} "
        f"| {percentile(latencies, 50):.1f} | {percentile(latencies, 95):.1f} "
        f"| {percentile(latencies, 99):.1f} "
        f"| {tx_rate:.1f} | {hit_rate:.3f} | {percentile(connect_ms, 50):.0f} "
        f"| {percentile(storm_ms, 50):.0f} | {percentile(storm_ms, 99):.0f} "
        f"| {percentile(spread_ms, 99):.0f} | {storm_errors} | {own_cores:.2f} |",
        flush=True,
    )
    print(
        f"  storm: {n} reconnects in {storm_wall * 1000:.0f} ms wall, "
        f"{storm_server_s * 1000:.0f} ms of server CPU ({storm_server_s / n * 1000:.2f} ms each)",
        flush=True,
    )
    await asyncio.gather(*(tab.drop() for tab in tabs))
    await asyncio.sleep(4)  # let the server delete the clients before the next size


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--tabs", default="50,200,500", help="comma-separated numbers of tabs, one run each")
    parser.add_argument("--seconds", type=int, default=20, help="measured seconds per number of tabs")
    parser.add_argument("--page", default="/reconciliation", help="the live page the tabs open")
    args = parser.parse_args()
    log = Path(f"/tmp/bench-sessions-{os.getpid()}.log")
    with bench_setup("tabs", DASHBOARD_PAGE_REFRESH_S="2") as setup:
        assert setup.database is not None
        print(
            f"page {args.page}, 2 s tick, PostgreSQL + Redis, simulator every 3 s, "
            f"{args.seconds} s per size; log {log}"
        )
        print(
            "| tabs | server CPU cores | MB per tab | pushes | push p50 ms | p95 ms | p99 ms | DB tx/s "
            "| cache hit rate | connect p50 ms | storm p50 ms | storm p99 ms | jittered storm p99 ms "
            "| storm errors | load tool cores |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        with App(setup.env, log) as app:
            for n in (int(x) for x in args.tabs.split(",")):
                asyncio.run(run(app, setup.database, n, args.seconds, args.page))


if __name__ == "__main__":
    main_guard(main)
