"""Live-tab benchmark: N browser tabs that load a page and stay on NiceGUI's socket.io like a
browser, against the app on PostgreSQL and Redis, at a 2 s tick (DASHBOARD_PAGE_REFRESH_S=2) with
the simulator writing every 3 s, so caches are invalidated as in real use.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/sessions.py [--tabs 50,200,500,1000] [--seconds 20] [--page /reconciliation]
    .venv/bin/python bench/sessions.py --soak 10 [--soak-tabs 500]

Sizes (default): a fresh app process, database and cache namespace per number of tabs N, one
table row each:
- server cores: the app's CPU (user + system, from /proc) over the measured window;
- MB per tab: marginal memory, (RSS with the N tabs connected, at the end of the window - RSS of
  the fresh process before any tab) / N;
- messages per tab per tick: every socket.io event a tab receives in the window (updates, run
  JavaScript, notifications, ...) / the ticks in the window at the tab's interval (read from the
  page's refresh selector); and the share of ticks with 0, 1 or 2+ messages (a tab's messages are
  grouped into one tick when they arrive within half an interval of the group's first one);
- push p50/p95/p99: server tick start -> message received, from the `data-tick` stamp a live page
  puts on a hidden element when it sends changes;
- DB tx/s (pg_stat_database), cache hit rate (/health?detail=true), connect p50 (handshake);
- reconnect storm: every tab drops its socket and all reconnect at once (p50/p99, errors), then
  the same with the reconnection delay of a browser's socket.io client (0.5-1.5 s, p99);
- load tool cores: this script's own CPU over the window (it must stay well below one core).
Under each row: the message types, updates that carried nothing but the stamp, what a few tabs
(--check-tabs) saw re-sent unchanged, the JavaScript calls answered, and the app log's new lines.

Soak (--soak CYCLES): one app process; each cycle opens --soak-tabs tabs (load + connect), keeps
them for --soak-hold seconds, closes them all and waits until the server has deleted them
(NiceGUI deletes a client 3 s after its socket closes; a probe tab closed last tells when: its
reconnect is refused once its client is gone), then records the app's RSS, then checks that a
sample of the closed tabs is gone as well. Prints RSS per cycle and the growth of the last cycle
against the first (goal: within 10 %).

Tabs act like a browser: the page's socket.io query (client, tab and document ids, old_tab_id,
next_message_id, implicit handshake), an `ack` of the next message id every 3 s, replayed messages
ignored, and `javascript_response` answers to the page's JavaScript calls (the time-zone request
gets a fixed IANA name; any other call gets null and is listed). Tabs are spread over the demo
logins (7 traders, 2 risk users). Each run has its own PostgreSQL database (dropped afterwards),
Redis cache namespace and NiceGUI storage (bench/harness.py); Ctrl-C stops the app and drops them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
)
from bench.profile import record, summary
from dashboard.gc_tuning import COLLECT_EVERY_S

PAGE_REFRESH_S = 2  # DASHBOARD_PAGE_REFRESH_S of every run
SIMULATE_INTERVAL_S = 3  # DASHBOARD_SIMULATE_INTERVAL_S
RECONNECT_TIMEOUT_S = 10.0  # dashboard.app.RECONNECT_TIMEOUT_S
BROWSER_ZONE = "Europe/Zurich"  # what `Intl.DateTimeFormat().resolvedOptions().timeZone` answers
ACK_EVERY_S = 3.0  # nicegui.js: setInterval(() => ack(), 3000)
WARMUP_S = 4.0  # after the last connect: first ticks, figures drawn
BATCH = 50  # page loads / connects in flight at once

CLIENT_ID = re.compile(r"'client_id': '([0-9a-f-]+)'")
NEXT_MESSAGE_ID = re.compile(r"'next_message_id': (\d+)")
ELEMENTS = re.compile(r"parseElements\(String\.raw`(.*?)`\)", re.S)
# The refresh selector: {"model-value":{"value":0,"label":"2 s"},...,"label":"Refresh",...}
REFRESH = re.compile(
    r'"model-value":\{"value":\d+,"label":"([^"]*)"\},(?:(?!"model-value").){0,800}?"label":"Refresh"'
)
UNESCAPE = [("&#36;", "$"), ("&#96;", "`"), ("&gt;", ">"), ("&lt;", "<"), ("&amp;", "&")]  # nicegui.js


class Tab:
    """One browser tab: the page load (with the session cookie), then NiceGUI's socket.io."""

    def __init__(self, base: str, cookies: dict[str, str], page: str, *, check: bool = False) -> None:
        self.base, self.cookies, self.page = base, cookies, page
        self.sio: socketio.AsyncClient | None = None
        self.client_id = ""
        self.tab_id = str(uuid.uuid4())
        self.document_id = str(uuid.uuid4())  # a browser keeps it across reconnects
        self.next_message_id = 0  # from the page, then the last message's `_id` + 1
        self.acked_message_id = -1
        self.interval_s = float(PAGE_REFRESH_S)
        self.interval_from_page = False
        # A few tabs keep every element as last received and flag an update that re-sends one
        # unchanged (a dict comparison per element: too dear for every tab of a big run).
        self.check = check
        self.elements: dict[str, Any] = {}
        self.measuring = False
        # Counted while measuring:
        self.arrivals: list[float] = []  # ms (wall clock) of every event received
        self.events: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.updates = 0
        self.stamp_only = 0  # updates whose only element is the stamp: nothing else changed
        self.unchanged = 0  # (check tabs) updates whose elements, stamp aside, were all unchanged
        self.resent = 0  # (check tabs) elements re-sent unchanged
        self.update_bytes: list[int] = []  # (check tabs) size of each update as JSON
        # Counted always (anomalies show up outside the window too):
        self.zone_answers = 0
        self.other_js: Counter[str] = Counter()
        self.navigations: Counter[str] = Counter()
        self.duplicates = 0

    async def load(self, http: httpx.AsyncClient) -> None:
        response = await http.get(self.base + self.page, cookies=self.cookies)
        match = CLIENT_ID.search(response.text)
        if response.status_code != 200 or match is None:
            raise RuntimeError(f"page load failed: {response.status_code}")
        self.client_id = match.group(1)
        if found := NEXT_MESSAGE_ID.search(response.text):
            self.next_message_id = int(found.group(1))
        if found := REFRESH.search(response.text):
            label = found.group(1)
            self.interval_s = float(label.split()[0]) if label.endswith(" s") else 0.0  # "pause"
            self.interval_from_page = True
        if self.check and (found := ELEMENTS.search(response.text)):
            raw = found.group(1)
            for escaped, char in UNESCAPE:
                raw = raw.replace(escaped, char)
            self.elements = json.loads(raw)

    async def connect(self) -> float:
        """Connect and hand-shake like nicegui.js (implicit handshake in the query); ms taken."""
        # handle_sigint=False: python-socketio's own Ctrl-C handler would cancel every task and stop
        # the loop, and asyncio.run would then raise CancelledError instead of KeyboardInterrupt.
        # A browser offers permessage-deflate on every websocket; so does each simulated tab, so
        # that the server's per-connection compression state is counted as it is with browsers.
        self.sio = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, websocket_extra_options={"compress": 15}
        )
        self.sio.on("*", self._on_any)
        started = time.perf_counter()
        # The browser's query: the page's socket_io_js_query_params plus document_id, tab_id and
        # old_tab_id (null for a new tab, which engine.io sends as "null"); on a reconnect
        # next_message_id is the next one it expects, so the server replays only what was missed.
        query = (
            f"client_id={self.client_id}&next_message_id={self.next_message_id}&implicit_handshake=true"
            f"&document_id={self.document_id}&tab_id={self.tab_id}&old_tab_id=null"
        )
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        await self.sio.connect(
            f"{self.base}?{query}",
            socketio_path="/_nicegui_ws/socket.io",
            transports=["websocket"],
            headers={"Cookie": cookie, "Origin": self.base},
            wait_timeout=10,
        )
        return (time.perf_counter() - started) * 1000

    def start_window(self) -> None:
        self.arrivals, self.events, self.latencies = [], Counter(), []
        self.updates = self.stamp_only = self.unchanged = self.resent = 0
        self.measuring = True

    async def _on_any(self, event: str, *args: Any) -> None:
        """Count the event, pick the tick stamp out of an update and answer JavaScript calls,
        without walking or printing whole payloads: the load generator must stay cheaper than what
        it measures."""
        received = time.time() * 1000
        data = args[0] if args else None
        if self.measuring:
            self.arrivals.append(received)
            self.events[event] += 1
        if not isinstance(data, dict):
            return
        message_id = data.get("_id")
        if isinstance(message_id, int):
            if message_id < self.next_message_id:  # replayed after a reconnect: a browser drops it
                self.duplicates += 1
                return
            self.next_message_id = message_id + 1
        if event == "update":
            self._on_update(data, received)
        elif event == "run_javascript":
            await self._answer(data)
        elif event == "open":
            self.navigations[str(data.get("path"))] += 1

    def _on_update(self, data: dict[str, Any], received: float) -> None:
        """An update is {element id: element dict (None when deleted), '_id': message id}."""
        stamp_key = None
        for key, element in data.items():
            if isinstance(element, dict):
                props = element.get("props")
                if props and "data-tick" in props:
                    stamp_key = key
                    if self.measuring:
                        self.latencies.append(received - int(props["data-tick"]))
                    break
        if self.check:
            if self.measuring:  # what a socket carries uncompressed (the server sends no deflate)
                self.update_bytes.append(len(json.dumps(data, separators=(",", ":"))))
            changed = False
            for key, element in data.items():
                if key == "_id" or key == stamp_key:
                    continue
                if element is not None and self.elements.get(key) == element:
                    if self.measuring:
                        self.resent += 1
                else:
                    changed = True
                    self.elements[key] = element
            if self.measuring and not changed:
                self.unchanged += 1
        if self.measuring:
            self.updates += 1
            if stamp_key is not None and len(data) == 2:
                self.stamp_only += 1

    async def _answer(self, data: dict[str, Any]) -> None:
        """As nicegui.js's runJavascript: a request id asks for the result ('javascript_response')."""
        code = str(data.get("code", ""))
        if "location.reload" in code:
            self.navigations["reload"] += 1
        request_id = data.get("request_id")
        if not request_id or self.sio is None:
            return
        if "timeZone" in code:
            result: str | None = BROWSER_ZONE
            self.zone_answers += 1
        else:
            result = None
            self.other_js[code[:80]] += 1
        response = {"request_id": request_id, "client_id": self.client_id, "result": result}
        try:
            await self.sio.emit("javascript_response", response)
        except socketio.exceptions.SocketIOError:
            pass

    async def ack(self) -> None:
        """As nicegui.js's ack(): tell the server the next message id expected, when it moved."""
        if self.sio is None or not self.sio.connected or self.acked_message_id >= self.next_message_id:
            return
        try:
            await self.sio.emit("ack", {"client_id": self.client_id, "next_message_id": self.next_message_id})
        except socketio.exceptions.SocketIOError:
            return
        self.acked_message_id = self.next_message_id

    async def drop(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()

    def tick_counts(self, window_s: float) -> tuple[float, Counter[str]]:
        """(ticks in the window, ticks with 0 / 1 / 2+ messages): messages arriving within half an
        interval of a group's first one count as one tick."""
        if not self.interval_s:
            return 0.0, Counter()
        ticks = window_s / self.interval_s
        gap = self.interval_s * 500
        sizes: list[int] = []
        first = -1e18
        for at in sorted(self.arrivals):
            if at - first > gap:
                first = at
                sizes.append(0)
            sizes[-1] += 1
        shares = Counter("1" if size == 1 else "2+" for size in sizes)
        shares["0"] = max(0, round(ticks) - len(sizes))
        return ticks, shares


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


@dataclass
class Opened:
    tabs: list[Tab]  # loaded and connected
    connect_ms: list[float]
    load_errors: int = 0
    connect_errors: int = 0
    first_error: str = ""
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return self.load_errors + self.connect_errors


async def open_tabs(tabs: list[Tab]) -> Opened:
    """Load every page, then connect every socket, BATCH at a time; failed tabs are left out."""
    started = time.monotonic()
    opened = Opened([], [])
    loaded: list[Tab] = []
    limits = httpx.Limits(max_connections=BATCH)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        for start in range(0, len(tabs), BATCH):
            batch = tabs[start : start + BATCH]
            results = await asyncio.gather(*(tab.load(http) for tab in batch), return_exceptions=True)
            for tab, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    opened.load_errors += 1
                    opened.first_error = opened.first_error or f"load: {result!r}"
                else:
                    loaded.append(tab)
    for start in range(0, len(loaded), BATCH):
        batch = loaded[start : start + BATCH]
        results = await asyncio.gather(*(tab.connect() for tab in batch), return_exceptions=True)
        for tab, result in zip(batch, results, strict=True):
            if isinstance(result, float):
                opened.tabs.append(tab)
                opened.connect_ms.append(result)
            else:
                opened.connect_errors += 1
                opened.first_error = opened.first_error or f"connect: {result!r}"
    opened.seconds = time.monotonic() - started
    return opened


async def acknowledge(tabs: Sequence[Tab]) -> None:
    """Every tab acks every ACK_EVERY_S like a browser, the tabs spread over the period."""
    slices = 30
    while True:
        for index in range(slices):
            await asyncio.gather(*(tab.ack() for tab in tabs[index::slices]))
            await asyncio.sleep(ACK_EVERY_S / slices)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def new_log_lines(log: Path, skip: int) -> list[str]:
    """The app log's lines after the first `skip` (its start-up banner)."""
    try:
        return log.read_text(errors="replace").splitlines()[skip:]
    except FileNotFoundError:
        return []


def pct(part: float, whole: float) -> float:
    return 100 * part / whole if whole else float("nan")


async def measure(app: App, database: str, n: int, args: Any) -> None:
    jars = await login_cookies(app.base)
    token = await admin_token(app.base)
    await asyncio.sleep(2)
    rss_before = app.rss()
    banner = len(new_log_lines(app.log, 0))
    tabs = [Tab(app.base, jars[i % len(jars)], args.page, check=i < args.check_tabs) for i in range(n)]
    opened = await open_tabs(tabs)
    tabs = opened.tabs
    acker = asyncio.create_task(acknowledge(tabs))
    await asyncio.sleep(WARMUP_S)
    for tab in tabs:
        tab.start_window()
    hits0, misses0 = await cache_counters(app.base, token)
    tx0, cpu0, t0 = await pg_transactions(database), app.cpu(), time.monotonic()
    own0 = time.process_time()
    sampler = record(app.pid, args.seconds, args.profile) if args.profile else None
    await asyncio.sleep(args.seconds)
    for tab in tabs:
        tab.measuring = False
    window = time.monotonic() - t0
    own_cores = (time.process_time() - own0) / window
    cores = (app.cpu() - cpu0) / window
    tx_rate = (await pg_transactions(database) - tx0) / window
    hits1, misses1 = await cache_counters(app.base, token)
    rss_after = app.rss()
    hit_rate = (hits1 - hits0) / max(1, (hits1 - hits0) + (misses1 - misses0))
    latencies = [x for tab in tabs for x in tab.latencies]
    messages = sum(len(tab.arrivals) for tab in tabs)
    ticks = 0.0
    shares: Counter[str] = Counter()
    for tab in tabs:
        tab_ticks, tab_shares = tab.tick_counts(window)
        ticks += tab_ticks
        shares.update(tab_shares)
    counted = sum(shares.values())

    # Reconnect storm: every socket drops, then all reconnect at once.
    await asyncio.gather(*(tab.drop() for tab in tabs))
    if sampler is not None:
        sampler.wait()
        sampler = record(app.pid, 3, args.profile.with_suffix(".storm"))
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
    spread_errors = len(spread) - len(spread_ms)
    failures = [x for x in [*storm, *spread] if isinstance(x, BaseException)]
    await asyncio.sleep(1)  # answers to the replays, before the log is read
    await stop(acker)
    if sampler is not None:
        sampler.wait()

    print(
        f"| {n} | {cores:.2f} | {(rss_after - rss_before) / n:.3f} | {messages / ticks if ticks else 0:.2f} "
        f"| {pct(shares['0'], counted):.0f}/{pct(shares['1'], counted):.0f}/{pct(shares['2+'], counted):.0f} "
        f"| {len(latencies)} | {percentile(latencies, 50):.0f} | {percentile(latencies, 95):.0f} "
        f"| {percentile(latencies, 99):.0f} | {tx_rate:.1f} | {hit_rate:.3f} "
        f"| {percentile(opened.connect_ms, 50):.0f} | {percentile(storm_ms, 50):.0f} "
        f"| {percentile(storm_ms, 99):.0f} | {storm_errors}/{spread_errors} "
        f"| {percentile(spread_ms, 99):.0f} | {own_cores:.2f} |",
        flush=True,
    )
    details(app, tabs, opened, window, banner, rss_before, rss_after)
    print(
        f"  storm: {len(tabs)} reconnects in {storm_wall * 1000:.0f} ms wall, {storm_server_s * 1000:.0f} ms "
        f"of server CPU ({storm_server_s / max(1, len(tabs)) * 1000:.2f} ms each)"
        + (f"; first failed reconnect: {failures[0]!r}" if failures else ""),
        flush=True,
    )
    if args.profile:
        print("\n".join(summary(args.profile) + summary(args.profile.with_suffix(".storm"))), flush=True)
    await asyncio.gather(*(tab.drop() for tab in tabs), return_exceptions=True)


def details(
    app: App, tabs: list[Tab], opened: Opened, window: float, banner: int, rss0: float, rss1: float
) -> None:
    """What the row's figures come from, and what looks wrong."""
    intervals = Counter(tab.interval_s for tab in tabs)
    assumed = sum(not tab.interval_from_page for tab in tabs)
    events: Counter[str] = Counter()
    for tab in tabs:
        events.update(tab.events)
    updates = sum(tab.updates for tab in tabs)
    stamp_only = sum(tab.stamp_only for tab in tabs)
    print(
        f"  window {window:.1f} s; intervals "
        + ", ".join(f"{k:g} s x{v}" for k, v in sorted(intervals.items()))
        + (f" ({assumed} not found on the page, {PAGE_REFRESH_S} s assumed)" if assumed else "")
        + f"; RSS {rss0:.0f} -> {rss1:.0f} MB"
        + (f"; {opened.errors} tabs failed to open ({opened.first_error})" if opened.errors else "")
    )
    print(
        "  messages in the window: "
        + (", ".join(f"{name} {count}" for name, count in events.most_common()) or "none")
        + f"; updates carrying only the stamp (nothing else changed): {stamp_only} of {updates}"
    )
    checked = [tab for tab in tabs if tab.check]
    if checked:
        print(
            f"  {len(checked)} checked tabs: {sum(tab.unchanged for tab in checked)} of "
            f"{sum(tab.updates for tab in checked)} updates changed nothing but the stamp; "
            f"{sum(tab.resent for tab in checked)} elements re-sent unchanged"
        )
        sizes = [size for tab in checked for size in tab.update_bytes]
        if sizes:
            per_tab_s = sum(sizes) / len(checked) / window
            print(
                f"  update size (JSON): p50 {percentile(sizes, 50) / 1000:.1f} KB, max "
                f"{max(sizes) / 1000:.1f} KB; {per_tab_s / 1000:.2f} KB/s per tab"
            )
    other: Counter[str] = Counter()
    navigations: Counter[str] = Counter()
    for tab in tabs:
        other.update(tab.other_js)
        navigations.update(tab.navigations)
    zone = sum(tab.zone_answers for tab in tabs)
    line = f"  JavaScript calls answered: time zone {zone}"
    if other:
        line += "; other calls answered null: " + "; ".join(f"{c!r} x{k}" for c, k in other.most_common(3))
    if navigations:
        line += "; navigations: " + ", ".join(f"{p} x{k}" for p, k in navigations.most_common(3))
    duplicates = sum(tab.duplicates for tab in tabs)
    if duplicates:
        line += f"; {duplicates} replayed messages dropped"
    print(line)
    print_log(app.log, banner)


def print_log(log: Path, banner: int) -> None:
    lines = [line for line in new_log_lines(log, banner) if line.strip()]
    if not lines:
        print(f"  app log: nothing new ({log})", flush=True)
        return
    distinct = list(dict.fromkeys(line.strip()[:160] for line in lines))
    print(f"  app log: {len(lines)} new lines ({log}), e.g.:", flush=True)
    for line in distinct[:5]:
        print(f"    {line}", flush=True)


async def deleted(tab: Tab) -> bool | None:
    """Whether the server has deleted the tab's client: a reconnect is refused ("failed to connect":
    the handshake found no client). None when the connect failed otherwise. A tab that is still
    there is closed again, which restarts its deletion delay."""
    try:
        await tab.connect()
    except socketio.exceptions.ConnectionError as error:
        return True if "failed to connect" in str(error) else None
    await tab.drop()
    return False


async def wait_deleted(probe: Tab, attempts: int = 5) -> float:
    """Seconds until the server has deleted the probe, NaN if it never was."""
    started = time.monotonic()
    for _ in range(attempts):
        await asyncio.sleep(RECONNECT_TIMEOUT_S + 1.5)
        if await deleted(probe):
            return time.monotonic() - started
    return float("nan")


async def soak(app: App, args: Any) -> None:
    jars = await login_cookies(app.base)
    await asyncio.sleep(2)
    banner = len(new_log_lines(app.log, 0))
    rss_fresh = app.rss()
    print(f"fresh process: RSS {rss_fresh:.1f} MB", flush=True)
    print(
        "| cycle | tabs | open s | errors | deleted after s | sample deleted | RSS MB when closed "
        "| RSS MB after the app's collection | cycle s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    rss: list[float] = []
    for cycle in range(1, args.soak + 1):
        started = time.monotonic()
        tabs = [Tab(app.base, jars[i % len(jars)], args.page) for i in range(args.soak_tabs + 1)]
        opened = await open_tabs(tabs)
        probe = opened.tabs.pop() if opened.tabs else None
        acker = asyncio.create_task(acknowledge(opened.tabs))
        await asyncio.sleep(args.soak_hold)
        await stop(acker)
        await asyncio.gather(*(tab.drop() for tab in opened.tabs), return_exceptions=True)
        deleted_s = float("nan")
        if probe is not None:  # closed last: once it is gone, so are the others
            await probe.drop()
            deleted_s = await wait_deleted(probe)
        rss_closed = app.rss()
        # The app collects (and releases) what closed tabs left at its next period.
        await asyncio.sleep(COLLECT_EVERY_S + 2)
        rss.append(app.rss())
        cycle_s = time.monotonic() - started
        # After the reading: a sample of the closed tabs must be gone too (one still there is
        # revived by the check and closed again).
        sample = await asyncio.gather(
            *(deleted(tab) for tab in opened.tabs[:: max(1, len(opened.tabs) // 10)])
        )
        gone = sum(result is True for result in sample)
        print(
            f"| {cycle} | {len(opened.tabs)} | {opened.seconds:.1f} | {opened.errors} | {deleted_s:.1f} "
            f"| {gone}/{len(sample)} | {rss_closed:.1f} | {rss[-1]:.1f} | {cycle_s:.1f} |",
            flush=True,
        )
        if opened.errors:
            print(f"  first error: {opened.first_error}", flush=True)
    growth = pct(rss[-1] - rss[0], rss[0])
    verdict = "within" if abs(growth) <= 10 else "beyond"
    per_tab = (rss[-1] - rss[0]) / max(1, (len(rss) - 1) * args.soak_tabs) * 1024
    print(
        f"RSS growth, cycle {len(rss)} vs cycle 1: {rss[-1] - rss[0]:+.1f} MB ({growth:+.1f} %, "
        f"{verdict} the 10 % goal; {per_tab:+.0f} kB per closed tab after cycle 1); "
        f"vs the fresh process {rss[-1] - rss_fresh:+.1f} MB",
        flush=True,
    )
    print_log(app.log, banner)


def settings() -> dict[str, str]:
    return {
        "DASHBOARD_PAGE_REFRESH_S": str(PAGE_REFRESH_S),
        "DASHBOARD_SIMULATE_INTERVAL_S": str(SIMULATE_INTERVAL_S),
    }


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument(
        "--tabs", default="50,200,500,1000", help="comma-separated numbers of tabs, a fresh app process each"
    )
    parser.add_argument("--seconds", type=int, default=20, help="measured seconds per number of tabs")
    parser.add_argument("--page", default="/reconciliation", help="the live page the tabs open")
    parser.add_argument(
        "--check-tabs",
        type=int,
        default=5,
        help="tabs that keep the elements they received and count updates re-sending them unchanged",
    )
    parser.add_argument(
        "--soak",
        type=int,
        default=0,
        metavar="CYCLES",
        help="run the soak instead of the sizes: CYCLES cycles",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample the app with py-spy over the measured window (sizes only) into this file",
    )
    parser.add_argument("--soak-tabs", type=int, default=500, help="tabs opened and closed per soak cycle")
    parser.add_argument(
        "--soak-hold", type=float, default=3 * PAGE_REFRESH_S, help="seconds the soak keeps its tabs open"
    )
    args = parser.parse_args()
    common = (
        f"page {args.page}, {PAGE_REFRESH_S} s tick, PostgreSQL + Redis, "
        f"simulator every {SIMULATE_INTERVAL_S} s"
    )
    if args.soak:
        log = Path(f"/tmp/bench-sessions-{os.getpid()}-soak.log")
        print(
            f"soak: {common}; {args.soak} cycles of {args.soak_tabs} tabs "
            f"held {args.soak_hold:g} s; log {log}",
            flush=True,
        )
        with bench_setup("tabs", **settings()) as setup, App(setup.env, log, quiet_seed=True) as app:
            asyncio.run(soak(app, args))
        return
    sizes = [int(x) for x in args.tabs.split(",")]
    print(
        f"{common}; {args.seconds} s per size, a fresh app process each; "
        f"logs /tmp/bench-sessions-{os.getpid()}-N.log"
    )
    print(
        "| tabs | server cores | MB per tab | msgs per tab per tick | ticks with 0/1/2+ msgs % | pushes "
        "| push p50 ms | p95 ms | p99 ms | DB tx/s | cache hit rate | connect p50 ms | storm p50 ms "
        "| storm p99 ms | storm errors (at once/jittered) | jittered storm p99 ms | load tool cores |"
    )
    print("|" + "---:|" * 17, flush=True)
    for n in sizes:
        log = Path(f"/tmp/bench-sessions-{os.getpid()}-{n}.log")
        with bench_setup("tabs", **settings()) as setup, App(setup.env, log, quiet_seed=True) as app:
            assert setup.database is not None
            asyncio.run(measure(app, setup.database, n, args))


if __name__ == "__main__":
    main_guard(main)
