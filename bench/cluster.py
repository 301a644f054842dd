"""Cluster benchmark: N browser tabs through HAProxy (deploy/haproxy/haproxy.cfg, unchanged) over two
app processes sharing one PostgreSQL database, one Redis cache namespace and one JWT secret, at a
2 s tick with the demo simulator writing every 3 s (as bench/sessions.py); then a graceful restart
(SIGTERM) and a kill -9 of one process, the tabs moving to the other one as browsers do.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/cluster.py [--tabs 1000] [--seconds 20] [--page /reconciliation]
        [--victim leader|follower] [--skip-failover] [--no-baseline] [--lost-after 30]

Opening: the tabs open through HAProxy 20 at a time, each as a browser (load the page, connect its
socket; after a failed load or a refused handshake, reload), once HAProxy routes to both processes;
printed: how long it took, the apps' and this script's CPU per tab, reloads, sockets closed
meanwhile, HAProxy's UP/DOWN notices (a burst of page loads can keep a process busy past its
health check's time limit). The first line says which haproxy.cfg ran (its hash, check limit).

Steady state, over --seconds measured once every tab is open and has had its first ticks:
- tabs per process: where HAProxy pinned each tab (its `DASHBOARD_SERVER` cookie; `balance
  leastconn` decides for a new browser);
- cores per process: each app's CPU (user + system, from /proc) / the window's wall time;
- push p50/p95/p99: server tick start -> message received (the `data-tick` stamp a live page puts
  on its updates), over every tab of both processes;
- DB tx/s: xact_commit + xact_rollback of the run's database (pg_stat_database) / seconds; also
  over 10 s before any tab opened (the simulator, the leader's other work, the processes' own
  checks, and for the cluster HAProxy's health checks: 2 a second per process, each a database
  ping);
- cache loads per key per TTL: the database loads of both processes over the window (the `loads`
  of every family in each process's `/health?detail=true`, whose counters are per process) /
  (distinct keys x window / the family's shared-tier TTL), summed over the families (1.0 = each
  key read from the database once per TTL, by one process for the cluster; goal <= 1.2). The report
  counts no keys: the distinct keys are the cache's value keys in Redis (`<ns>:v1:<family>:...`,
  generation and lock keys left out) seen at the start or the end of the window. A value key lives
  TTL + the 30 s stale period after its last load, so this is every key loaded during the window
  or up to ~30 s before it, i.e. the keys the open tabs read. The simulator's writes invalidate
  keys more often than the 5 s TTL (every 3 s), which puts single-process figures above 1 too: the
  baseline row gives the same figure for one process, and the cluster's should not exceed it much
  (2 processes sharing Redis must not load a key twice). Per family below the table;
- the same window for one process with tabs/2 tabs and no proxy (the baseline, unless
  --no-baseline): the cluster's DB tx/s should stay flat against it (the database sees the same
  per-key loads and one simulator, however many processes serve the tabs);
- load tool cores: this script's own CPU over the window; below the table, tabs whose socket
  closed during the window and what the tabs' socket.io clients logged (counted, not printed:
  "packet queue is empty, aborting" = no ping from the server for 13 s, the client gave up).

Failover (unless --skip-failover): the victim is the process that leads background work (the
simulator), or the other one with --victim follower.
1. Graceful restart: SIGTERM to the victim. It turns not-ready, HAProxy's check (every 0.5 s, out
   after 2 failures) takes it out, and after DASHBOARD_DRAIN_S (the app's default) it asks its tabs
   to run `window.location.reload()`. A tab does what a browser does: reload its page through
   HAProxy, which now pins it to the other process with a new cookie, and connect its socket there.
   (NiceGUI's own `try_reconnect`, which fetches the page before reloading it, is still understood.)
   A tab whose socket closes first takes the kill -9 path below.
   Then the victim is started again on its port and waited for until HAProxy sends it browsers
   (its own cookie is kept); the tabs that moved are closed and as many new tabs opened with the
   restarted process's cookie (browsers that were there before; one that lands elsewhere because
   HAProxy took the process out meanwhile is closed and opened again, up to 3 rounds), so that both
   hold about half again.
2. kill -9 of the victim (chosen the same way). The tabs' sockets close; like socket.io's client a
   tab reconnects after 0.5-1.5 s with the same query, which the other process refuses (it does
   not know the client), and then reloads the page and connects as above.
For each: the moved tabs (pinned to the victim when it was signalled), the time from the signal
until each one's socket is up on the other process and until its first push there (the first
`update` carrying a `data-tick` on its new socket; a new page's first tick pushes within ~0.5 s
of connecting, whatever the data), p50/p95/p99/max (goal: p99 <= 3 s), the tabs lost (no push
within --lost-after seconds; goal 0), how they moved (told to reload or closed socket; refused
reconnects; failed page loads or connects, retried every 0.5-2 s), the tabs of the other process
that were disturbed (goal 0), when the victim exited, when the other process took the lead
(the leader's successor waits up to ~7 s), its cores and this script's during the move, the
survivor's own /health/ready times (polled directly), HAProxy's UP/DOWN lines.
At the end: what each app log holds beyond its start-up (tracebacks counted).

Tabs are bench/sessions.py's (socket.io like nicegui.js: handshake query, acks every 3 s,
`javascript_response` answers), each with a cookie jar of its own (the session of one of the 9
demo logins plus whatever the proxy and the app set), sent with the page loads and the socket's
handshake so both reach the same process. Each run has its own PostgreSQL database (dropped
afterwards), Redis namespace (cache and NiceGUI storage; purged) and ports (bench/harness.py);
Ctrl-C stops HAProxy and the processes and drops them as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
import socketio
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    REDIS_URL,
    REPO,
    App,
    BenchSetup,
    Server,
    admin_token,
    arg_parser,
    bench_setup,
    cache_detail,
    clean_env,
    free_port,
    main_guard,
    percentile,
    pg_transactions,
)
from bench.sessions import (
    BATCH,
    PAGE_REFRESH_S,
    SIMULATE_INTERVAL_S,
    WARMUP_S,
    Tab,
    acknowledge,
    login_cookies,
    new_log_lines,
    open_tabs,
    print_log,
    stop,
)
from dashboard.cache.cache import CacheConfig

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
SERVER_COOKIE = "DASHBOARD_SERVER"  # haproxy.cfg: `cookie DASHBOARD_SERVER insert indirect ...`
NAMES = ("app1", "app2")  # haproxy.cfg's servers, and the cookie values that pin a browser to them
RUN = [sys.executable, "-m", "dashboard", "run", "--demo"]
GOAL_MOVE_P99_S = 3.0
GOAL_LOADS_PER_KEY = 1.2
POLL_S = 0.1
OPEN_BATCH = 20  # tabs opening at once through the proxy
IDLE_S = 10.0  # the database's floor before the tabs open (idle backends flush stats within ~10 s)
# haproxy.cfg logs to stdout: "Server dashboard/app1 is DOWN, reason: Layer7 timeout, check duration: ..."
HAPROXY_EVENT = re.compile(r"Server (\S+/\w+) is (UP|DOWN), reason: ([^,]+)(?:, code: (\d+))?")
# A cheap public path the proxy routes like a page (with the pin): whether it keeps a tab's cookie.
ROTATION_PROBE = "/favicon.ico"
HIT_COUNTERS = ("local_hits", "redis_hits", "coalesced", "stale_serves", "outage_serves")  # metrics.py


class ClientErrors(logging.Filter):
    """Counts what the tabs' socket.io/engine.io clients log (errors only, by default to stderr)
    instead of printing it, e.g. "packet queue is empty, aborting": the client sent nothing for
    ping interval + 5 s (13 s; it answers every server ping), i.e. no ping came, and it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        self.counts[record.getMessage()[:80]] += 1
        return False

    def take(self) -> list[str]:
        """What was logged since the last call, as "engine.io client: message xN"."""
        taken = [f"engine.io client: {message!r} x{count}" for message, count in self.counts.most_common(3)]
        self.counts.clear()
        return taken


ENGINEIO = ClientErrors()


def haproxy_summary() -> tuple[str, float]:
    """What the run used of deploy/haproxy/haproxy.cfg (it is edited as findings come in): its
    hash, and the health check's time limit in ms (`timeout check`, else the interval)."""
    text = HAPROXY_CONFIG.read_text()
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:10]
    found = re.search(r"^\s*timeout check\s+(\d+)(ms|s)?\b", text, re.M) or re.search(
        r"\binter\s+(\d+)(ms|s)?\b", text
    )
    limit_ms = float("nan") if found is None else int(found[1]) * (1 if found[2] == "ms" else 1000)
    queued = re.search(r"^\s*default-server .*\bmaxconn (\d+)", text, re.M)
    line = f"haproxy.cfg sha1 {digest}: health check limit {limit_ms:.0f} ms" + (
        f", at most {queued[1]} requests in flight per process (default-server maxconn)" if queued else ""
    )
    return line, limit_ms


def counted(counts: Counter[str], most: int | None = None) -> str:
    return ", ".join(f"{key} x{count}" for key, count in counts.most_common(most))


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def stamp_of(update: dict[str, Any]) -> int | None:
    """The tick stamp (`data-tick`) an update carries, None when it has none."""
    for element in update.values():
        if isinstance(element, dict):
            props = element.get("props")
            if props and "data-tick" in props:
                return int(props["data-tick"])
    return None


class _TabHttp:
    """What `Tab.load` asks of its HTTP client (`get(url, cookies=...)`), for one tab of a shared
    client: the tab's own cookies go in a header of their own (the client's jar, which collects every
    tab's answers, is not sent: an explicit Cookie header wins), and what the answer sets is kept in
    the tab's jar, as a browser does (the proxy's pin above all)."""

    def __init__(self, http: httpx.AsyncClient, tab: ClusterTab) -> None:
        self.http, self.tab = http, tab

    async def get(
        self, url: str, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Cookie": cookie_header(self.tab.cookies), **(headers or {})}
        response = await self.http.get(url, headers=sent)
        self.tab.cookies.update(response.cookies.items())
        self.tab.server = self.tab.cookies.get(SERVER_COOKIE, "")
        return response


class ClusterTab(Tab):
    """A sessions.py tab behind the proxy: a cookie jar of its own, and a browser's behaviour when
    its process goes away (told to reload: reload; `try_reconnect`: fetch the page, reload it; a
    closed socket: socket.io's reconnect after 0.5-1.5 s, then a reload when the other process
    refuses it), timed from the moment the process was signalled (`arm`)."""

    def __init__(
        self, base: str, cookies: dict[str, str], page: str, http: httpx.AsyncClient, lost_after_s: float
    ) -> None:
        super().__init__(base, dict(cookies), page)
        self.http = http
        self.lost_after_s = lost_after_s
        self.server = ""  # the process HAProxy pinned the tab to (its cookie)
        self.closing = False
        self.moving: asyncio.Task[None] | None = None
        self.event_at = 0.0  # wall clock of the signal the move is timed from
        self.moved_by = ""
        self.reconnected_at: float | None = None
        self.first_push_at: float | None = None
        self.awaiting_push = False
        self.dropped: tuple[float, str] | None = None  # (wall clock, reason) its socket closed
        self.refused = 0  # reconnects with the old client id that the other process refused
        self.retries = 0  # page loads or connects that failed during a move, and were tried again
        self.failures: Counter[str] = Counter()

    async def load(self, http: httpx.AsyncClient) -> None:
        await super().load(cast(httpx.AsyncClient, _TabHttp(http, self)))

    async def connect(self) -> float:
        ms = await super().connect()
        sio = self.sio
        assert sio is not None
        # From now on only the events of this socket count: an old page's socket may still talk.
        sio.on("*", partial(self._from, sio))
        sio.on("disconnect", partial(self._dropped, sio))
        return ms

    def arm(self, at: float) -> None:
        self.event_at = at
        self.moved_by = ""
        self.reconnected_at = self.first_push_at = None
        self.awaiting_push = False
        self.dropped = None
        self.refused = self.retries = 0
        self.failures = Counter()

    async def _from(self, sio: socketio.AsyncClient, event: str, *args: Any) -> None:
        if sio is self.sio:
            await self._on_any(event, *args)

    async def _dropped(self, sio: socketio.AsyncClient, *reason: Any) -> None:
        if sio is self.sio and not self.closing:
            self.dropped = (time.time(), str(reason[0]) if reason else "?")
            self._begin_move("socket closed")

    async def _on_any(self, event: str, *args: Any) -> None:
        if event == "try_reconnect":
            self._begin_move("try_reconnect")
            return
        if event == "run_javascript" and args and "location.reload" in str(args[0].get("code", "")):
            self._begin_move("reload")
            return
        if self.awaiting_push and event == "update" and args and isinstance(args[0], dict):
            if stamp_of(args[0]) is not None:
                self.first_push_at = time.time()
                self.awaiting_push = False
        await super()._on_any(event, *args)

    def _begin_move(self, reason: str) -> None:
        if self.closing or self.moving is not None:
            return
        old, self.sio = self.sio, None
        self.moved_by = reason
        self.awaiting_push = True
        self.moving = asyncio.create_task(self._move(reason, old))

    async def _move(self, reason: str, old: socketio.AsyncClient | None) -> None:
        try:
            if old is not None:  # the old page goes away with its socket
                with suppress(Exception):
                    await old.disconnect()
            if reason == "try_reconnect":  # nicegui.js: fetch(window.location.href), then reload
                with suppress(Exception):
                    await _TabHttp(self.http, self).get(
                        self.base + self.page, headers={"NiceGUI-Check": "try_reconnect"}
                    )
            elif reason == "reload":  # the draining process asked for it: one page load
                pass
            else:  # socket.io's reconnection (1 s, randomisation 0.5), with the same query
                await asyncio.sleep(random.uniform(0.5, 1.5))
                try:
                    await self.connect()
                except Exception:
                    self.refused += 1  # "Implicit handshake failed": nicegui.js reloads
                    await self._discard()
                else:
                    self.reconnected_at = time.time()
                    return
            await self.reload()
        finally:
            self.moving = None

    async def reload(self) -> None:
        """Load the page and connect, again after a failure (a browser's user presses F5), until
        the tab counts as lost."""
        delay = 0.5
        deadline = self.event_at + self.lost_after_s if self.event_at else time.time() + self.lost_after_s
        while not self.closing and time.time() < deadline:
            self.document_id = str(uuid.uuid4())  # a new document; the tab id stays
            try:
                await self.load(self.http)
                await self.connect()
            except Exception as error:
                self.retries += 1
                self.failures[f"{type(error).__name__}: {str(error)[:80]}"] += 1
                await self._discard()
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
            else:
                self.reconnected_at = time.time()
                return

    async def open(self) -> bool:
        """Load the page and connect; after a failed load or a refused handshake (the socket reached
        the other process: HAProxy took the pinned one out meanwhile) reload as a browser does,
        until the tab counts as lost. Whether the first try worked."""
        self.event_at = 0.0
        try:
            await self.load(self.http)
            await self.connect()
        except Exception as error:
            self.failures[f"{type(error).__name__}: {str(error)[:80]}"] += 1
            await self._discard()
            await self.reload()
            return False
        return True

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    async def _discard(self) -> None:
        if self.sio is not None:
            with suppress(Exception):
                await self.sio.disconnect()
        self.sio = None

    async def close(self) -> None:
        self.closing = True
        if self.moving is not None:
            await stop(self.moving)
        with suppress(Exception):
            await self.drop()


# --- the cluster -----------------------------------------------------------------------------


class Cluster:
    """Two app processes on `setup`'s database, namespace and secret, behind HAProxy; each process
    can be signalled and started again on its port (a new log file each time)."""

    def __init__(self, setup: BenchSetup, metrics_token: str) -> None:
        self.setup = setup
        self.metrics_token = metrics_token
        self.ports = {"app1": int(setup.env["DASHBOARD_PORT"]), "app2": free_port()}
        self.proxy_port = free_port()
        self.servers: dict[str, Server] = {}
        self.logs: list[tuple[Path, int]] = []  # every app log, with its start-up lines
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.haproxy_log = setup.workdir / "haproxy.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def base(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self, name: str) -> dict[str, str]:
        return {**self.setup.env, "DASHBOARD_PORT": str(self.ports[name])}

    def log(self, name: str) -> Path:
        starts = sum(path.name.startswith(name) for path, _ in self.logs)
        return self.setup.workdir / (f"{name}.log" if not starts else f"{name}.{starts + 1}.log")

    def start(self) -> None:
        """app1 (seeded first), then app2, then HAProxy; until HAProxy routes to both."""
        log = self.log("app1")
        self.servers["app1"] = App(self.env("app1"), log, quiet_seed=True)
        self.servers["app1"].start()
        self.logs.append((log, len(new_log_lines(log, 0))))
        self.launch("app2")
        with open(self.haproxy_log, "w") as out:
            self.haproxy = subprocess.Popen(
                [HAPROXY, "-f", str(HAPROXY_CONFIG), "-db"],
                cwd=REPO,
                env=clean_env(
                    PROXY_BIND=f"127.0.0.1:{self.proxy_port}",
                    APP1_ADDR=f"127.0.0.1:{self.ports['app1']}",
                    APP2_ADDR=f"127.0.0.1:{self.ports['app2']}",
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for name in NAMES:
            asyncio.run(self.wait_in_rotation(name))

    def launch(self, name: str) -> None:
        """Start (again) process `name` on its port and wait until it is ready (blocking)."""
        log = self.log(name)
        self.servers[name] = Server(RUN, self.env(name), self.base(name), log)
        self.servers[name].start()
        self.logs.append((log, len(new_log_lines(log, 0))))

    async def wait_in_rotation(
        self, name: str, within_s: float = 30, http: httpx.AsyncClient | None = None
    ) -> float:
        """Until HAProxy sends a browser pinned to `name` there (it keeps the cookie instead of
        setting another: the server is UP); seconds waited."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=5) if http is None else nullcontext(http) as http:
            while True:
                if self.haproxy is not None and self.haproxy.poll() is not None:
                    raise SystemExit(f"haproxy exited with {self.haproxy.returncode}; see {self.haproxy_log}")
                with suppress(httpx.HTTPError):
                    response = await http.get(
                        self.url + ROTATION_PROBE, headers={"Cookie": f"{SERVER_COOKIE}={name}"}
                    )
                    if response.status_code == 200 and response.cookies.get(SERVER_COOKIE, name) == name:
                        return time.monotonic() - started
                if time.monotonic() - started > within_s:
                    raise SystemExit(f"haproxy does not route to {name} after {within_s:.0f} s")
                await asyncio.sleep(POLL_S)

    async def leader(self) -> str:
        """The process that leads background work, "" when none says so."""
        for name in NAMES:
            if await self.leading(name):
                return name
        return ""

    async def leading(self, name: str) -> bool:
        """Whether `name` leads background work (`dashboard_leader` of its /metrics)."""
        server = self.servers.get(name)
        if server is None or not server.alive():
            return False
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                response = await http.get(
                    self.base(name) + "/metrics", headers={"Authorization": f"Bearer {self.metrics_token}"}
                )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and "\ndashboard_leader 1.0" in response.text

    def haproxy_lines(self) -> list[str]:
        return new_log_lines(self.haproxy_log, 0)

    def haproxy_events(self, skip: int) -> list[str]:
        """HAProxy's UP/DOWN and "no server available" lines after the first `skip`, short."""
        events = []
        for line in self.haproxy_lines()[skip:]:
            if line.startswith("["):  # each notice comes twice: with this prefix (stderr) and without
                continue
            if found := HAPROXY_EVENT.search(line):
                server, state, reason, code = found.groups()
                events.append(f"{server} {state} ({reason}{' ' + code if code else ''})")
            elif "no server available" in line:
                events.append("no server available")
        return events

    def stop(self) -> None:
        """HAProxy, then every app process: SIGTERM to all at once, SIGKILL after 15 s."""
        processes = [self.haproxy] + [server.proc for server in self.servers.values()]
        alive = [proc for proc in processes if proc is not None and proc.poll() is None]
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave any
        try:
            for proc in alive:
                proc.terminate()
            deadline = time.monotonic() + 15
            for proc in alive:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            signal.signal(signal.SIGINT, previous)

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- the measured window ---------------------------------------------------------------------


async def value_keys(namespace: str) -> set[str]:
    """The cache's value keys in Redis (`<ns>:v1:<family>:<scope>:<schema>:<params>`)."""
    client = Redis.from_url(REDIS_URL)
    try:
        keys: set[str] = set()
        async for raw in client.scan_iter(match=f"{namespace}:v1:*", count=1000):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            parts = key.split(":")
            if len(parts) >= 6 and parts[2] not in ("gen", "lock"):
                keys.add(key)
        return keys
    finally:
        await client.aclose()


def family_counts(details: Iterable[dict[str, Any] | None]) -> dict[str, Counter[str]]:
    """{family: its counters summed over the processes' reports}."""
    totals: dict[str, Counter[str]] = {}
    for detail in details:
        for family in (detail or {}).get("families", []):
            counts = totals.setdefault(family["family"], Counter())
            counts.update({k: v for k, v in family.items() if isinstance(v, int)})
    return totals


@dataclass
class FamilyLoads:
    family: str
    loads: int
    keys: int
    ttl_s: float
    hits: int
    misses: int

    def expected(self, window: float) -> float:
        """Loads if every key was loaded exactly once per TTL."""
        return self.keys * window / self.ttl_s

    def per_key(self, window: float) -> float:
        expected = self.expected(window)
        return self.loads / expected if expected else float("nan")


@dataclass
class Window:
    label: str
    seconds: float
    tabs: dict[str, int]  # per process
    cores: dict[str, float]  # per process
    leader: str
    latencies: list[float]
    tx_per_s: float
    families: list[FamilyLoads]
    own_cores: float
    idle_tx_per_s: float = float("nan")  # before any tab was opened

    @property
    def loads_per_key(self) -> float:
        expected = sum(f.expected(self.seconds) for f in self.families)
        return sum(f.loads for f in self.families) / expected if expected else float("nan")

    @property
    def hit_rate(self) -> float:
        hits = sum(f.hits for f in self.families)
        return hits / max(1, hits + sum(f.misses for f in self.families))


async def idle_transactions(database: str | None, seconds: float = IDLE_S) -> float:
    """DB tx/s before any tab is open: the simulator, the leader's other work, the processes' own
    checks and HAProxy's health checks (each `/health/ready` pings the database)."""
    assert database is not None
    tx0, t0 = await pg_transactions(database), time.monotonic()
    await asyncio.sleep(seconds)
    return (await pg_transactions(database) - tx0) / (time.monotonic() - t0)


async def measure(
    label: str,
    tabs: Sequence[Tab],
    servers: Mapping[str, Server],
    setup: BenchSetup,
    token: str,
    seconds: float,
    leader: str,
) -> Window:
    """The steady-state figures of `tabs` on `servers` over `seconds`."""
    assert setup.database is not None
    ttls = CacheConfig()  # the settings' defaults (5 s; `auth` 600 s): no overrides are set here
    for tab in tabs:
        tab.start_window()
    before = await asyncio.gather(*(cache_detail(s.base, token) for s in servers.values()))
    keys = await value_keys(setup.namespace)
    tx0, cpu0, t0, own0 = await pg_transactions(setup.database), {}, time.monotonic(), time.process_time()
    for name, server in servers.items():
        cpu0[name] = server.cpu()
    await asyncio.sleep(seconds)
    for tab in tabs:
        tab.measuring = False
    window = time.monotonic() - t0
    cores = {name: (server.cpu() - cpu0[name]) / window for name, server in servers.items()}
    own_cores = (time.process_time() - own0) / window
    tx_per_s = (await pg_transactions(setup.database) - tx0) / window
    after = await asyncio.gather(*(cache_detail(s.base, token) for s in servers.values()))
    keys |= await value_keys(setup.namespace)
    if None in before or None in after:
        print("  (a process gave no cache detail: loads per key are missing)", flush=True)
    start, end = family_counts(before), family_counts(after)
    keys_per_family = Counter(key.split(":")[2] for key in keys)
    families = []
    for family in sorted(set(end) | set(keys_per_family)):
        delta = end.get(family, Counter())
        delta.subtract(start.get(family, Counter()))
        hits = sum(
            delta[k] for k in ("local_hits", "redis_hits", "coalesced", "stale_serves", "outage_serves")
        )
        families.append(
            FamilyLoads(
                family, delta["loads"], keys_per_family[family], ttls.ttl(family), hits, delta["misses"]
            )
        )
    per_process = Counter(tab.server if isinstance(tab, ClusterTab) else next(iter(servers)) for tab in tabs)
    return Window(
        label,
        window,
        {name: per_process[name] for name in servers},
        cores,
        leader,
        [x for tab in tabs for x in tab.latencies],
        tx_per_s,
        families,
        own_cores,
    )


def print_window_header() -> None:
    print(
        "| run | tabs | tabs per process | cores per process | cores total | pushes | push p50 ms "
        "| p95 ms | p99 ms | DB tx/s | DB tx/s before the tabs | cache loads/key/TTL | cache hit rate "
        "| load tool cores |"
    )
    print("|---|" + "---:|" * 13, flush=True)


def print_window(w: Window) -> None:
    names = list(w.cores)
    per_process = " / ".join(f"{name} {w.tabs[name]}" for name in names)
    cores = " / ".join(f"{name}{'*' if name == w.leader else ''} {w.cores[name]:.2f}" for name in names)
    print(
        f"| {w.label} | {sum(w.tabs.values())} | {per_process} | {cores} | {sum(w.cores.values()):.2f} "
        f"| {len(w.latencies)} | {percentile(w.latencies, 50):.0f} | {percentile(w.latencies, 95):.0f} "
        f"| {percentile(w.latencies, 99):.0f} | {w.tx_per_s:.1f} | {w.idle_tx_per_s:.1f} "
        f"| {w.loads_per_key:.2f} | {w.hit_rate:.3f} "
        f"| {w.own_cores:.2f} |",
        flush=True,
    )


def print_families(w: Window) -> None:
    parts = [
        f"{f.family} {f.loads} loads/{f.keys} keys/{f.ttl_s:g} s = {f.per_key(w.seconds):.2f}"
        for f in w.families
        if f.loads or f.keys
    ]
    print(f"  {w.label}, loads per key per TTL by family: " + "; ".join(parts), flush=True)


# --- failover --------------------------------------------------------------------------------


@dataclass
class Moved:
    """What one tab went through in one failover (a snapshot: the next event re-arms the tab)."""

    moved_by: str  # "" when it never noticed anything
    up_s: float | None  # signal -> its socket was up again
    push_s: float | None  # signal -> its first push on the new socket
    dropped: tuple[float, str] | None  # (seconds after the signal, reason) its socket closed
    refused: int
    retries: int
    failures: Counter[str]
    load_failed: bool  # a page load failed: a browser would show the proxy's error page
    server: str  # where it is pinned now

    @classmethod
    def of(cls, tab: ClusterTab) -> Moved:
        def since(moment: float | None) -> float | None:
            return None if moment is None else moment - tab.event_at

        dropped = None if tab.dropped is None else (tab.dropped[0] - tab.event_at, tab.dropped[1])
        load_failed = any(text.startswith("RuntimeError: page load failed") for text in tab.failures)
        return cls(
            tab.moved_by,
            since(tab.reconnected_at),
            since(tab.first_push_at),
            dropped,
            tab.refused,
            tab.retries,
            Counter(tab.failures),
            load_failed,
            tab.server,
        )


@dataclass
class Failover:
    event: str
    victim: str
    was_leader: bool
    tabs: list[ClusterTab]  # the tabs pinned to the victim when it was signalled
    lost_after_s: float
    moved: list[Moved] = field(default_factory=list)
    others: list[Moved] = field(default_factory=list)  # the other process's tabs
    exit_s: float | None = None
    exit_code: int | None = None
    takeover_s: float | None = None
    survivor_cores: float = float("nan")
    own_cores: float = float("nan")  # this script, over the same time
    ready_ms: list[float] = field(default_factory=list)  # the survivor's /health/ready, directly
    haproxy: list[str] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)


def other(name: str) -> str:
    return NAMES[1 - NAMES.index(name)]


async def pick_victim(cluster: Cluster, role: str) -> str:
    leader = await cluster.leader()
    if not leader:
        print("  (no process says it leads: the victim is app1)", flush=True)
        return "app1"
    return leader if role == "leader" else other(leader)


async def probe_ready(base: str, into: list[float]) -> None:
    """GET /health/ready every 0.2 s (as HAProxy's check, without its time limit): ms each,
    until cancelled."""
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            started = time.perf_counter()
            with suppress(httpx.HTTPError):
                await http.get(base + "/health/ready")
                into.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.2)


async def fail(
    cluster: Cluster, tabs: list[ClusterTab], victim: str, kind: str, lost_after_s: float
) -> Failover:
    """Signal `victim` (SIGTERM or SIGKILL) and wait until every tab pinned to it has its first push
    on the other process, or `lost_after_s` has passed; the victim's exit and the lead's move."""
    survivor = other(victim)
    proc = cluster.servers[victim].proc
    assert proc is not None
    moved = [tab for tab in tabs if tab.server == victim]
    others = [tab for tab in tabs if tab.server != victim]
    result = Failover(
        "graceful restart (SIGTERM)" if kind == "term" else "kill -9",
        victim,
        await cluster.leading(victim),
        moved,
        lost_after_s,
    )
    haproxy_seen = len(cluster.haproxy_lines())
    survivor_cpu0 = cluster.servers[survivor].cpu()
    prober = asyncio.create_task(probe_ready(cluster.base(survivor), result.ready_ms))
    at, t0, own0 = time.time(), time.monotonic(), time.process_time()
    for tab in tabs:
        tab.arm(at)
    if kind == "term":
        proc.send_signal(signal.SIGTERM)
    else:
        proc.kill()
    next_lead_check = 0.0
    while time.monotonic() - t0 < lost_after_s:
        now = time.monotonic() - t0
        if result.exit_s is None and proc.poll() is not None:
            result.exit_s, result.exit_code = now, proc.returncode
        if result.was_leader and result.takeover_s is None and now >= next_lead_check:
            next_lead_check = now + 0.25
            if await cluster.leading(survivor):
                result.takeover_s = time.monotonic() - t0
        if len(lines := cluster.haproxy_lines()) > haproxy_seen:
            result.haproxy += [f"+{now:.1f} s {event}" for event in cluster.haproxy_events(haproxy_seen)]
            haproxy_seen = len(lines)
        pushed = all(tab.first_push_at is not None for tab in moved)
        lead = result.takeover_s is not None or not result.was_leader
        if pushed and result.exit_s is not None and lead and now > 5:  # 5 s: late disturbances
            break
        await asyncio.sleep(POLL_S)
    await stop(prober)
    elapsed = time.monotonic() - t0
    result.survivor_cores = (cluster.servers[survivor].cpu() - survivor_cpu0) / elapsed
    result.own_cores = (time.process_time() - own0) / elapsed
    if proc.poll() is None:  # did not exit in time: reported, then killed
        proc.kill()
        proc.wait()
    result.moved = [Moved.of(tab) for tab in moved]
    result.others = [Moved.of(tab) for tab in others]
    result.client_errors = ENGINEIO.take()
    return result


def print_failover_header() -> None:
    print(
        "| event | victim | moved tabs | moved by reload / socket closed | socket up p50 s "
        "| socket up p99 s | first push p50 s | p95 s | p99 s | max s | lost | other tabs disturbed "
        "| victim exit s | lead taken over s | survivor cores | load tool cores |"
    )
    print("|---|---|" + "---:|" * 14, flush=True)


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def print_failover(f: Failover) -> None:
    up = [m.up_s for m in f.moved if m.up_s is not None]
    pushed = [m.push_s for m in f.moved if m.push_s is not None]
    how = Counter(m.moved_by for m in f.moved)
    disturbed = sum(bool(m.moved_by) for m in f.others)
    exit_text = "did not exit" if f.exit_s is None else f"{f.exit_s:.1f} (code {f.exit_code})"
    takeover = "not the leader" if not f.was_leader else fmt(f.takeover_s, 1) if f.takeover_s else "not seen"
    print(
        f"| {f.event} | {f.victim}{' (leader)' if f.was_leader else ''} | {len(f.moved)} "
        f"| {how['reload'] + how['try_reconnect']} / {how['socket closed']} | {fmt(percentile(up, 50))} "
        f"| {fmt(percentile(up, 99))} | {fmt(percentile(pushed, 50))} | {fmt(percentile(pushed, 95))} "
        f"| {fmt(percentile(pushed, 99))} | {fmt(max(pushed, default=None))} | {len(f.moved) - len(pushed)} "
        f"| {disturbed} | {exit_text} | {takeover} | {fmt(f.survivor_cores)} | {fmt(f.own_cores)} |",
        flush=True,
    )


def print_failover_details(f: Failover) -> None:
    pushed = [m.push_s for m in f.moved if m.push_s is not None]
    lost = len(f.moved) - len(pushed)
    p99 = percentile(pushed, 99) if not lost else float("inf")
    verdict = "met" if p99 <= GOAL_MOVE_P99_S and not lost else "missed"
    print(
        f"  {f.event}: goal (first push p99 <= {GOAL_MOVE_P99_S:g} s, 0 of {len(f.moved)} tabs lost "
        f"within {f.lost_after_s:g} s) {verdict}",
        flush=True,
    )
    disturbed = [m for m in f.others if m.moved_by]
    failures: Counter[str] = Counter()
    for m in [*f.moved, *disturbed]:
        failures.update(m.failures)
    line = (
        f"    reconnects refused (then reloaded): {sum(m.refused for m in f.moved)}; page loads or connects "
        f"retried: {sum(m.retries for m in f.moved)}; tabs with a failed page load (a browser shows the "
        f"proxy's error page until someone reloads it): {sum(m.load_failed for m in f.moved)}"
    )
    if failures:
        line += "; failures: " + "; ".join(f"{text} x{count}" for text, count in failures.most_common(3))
    if not_moved := sum(not m.moved_by for m in f.moved):
        line += f"; {not_moved} tabs never noticed the process go"
    print(line, flush=True)
    drops = Counter(m.dropped[1] for m in f.moved if m.dropped)
    landed = Counter(m.server for m in f.moved if m.push_s is not None)
    print(
        "    moved tabs' sockets closed under them: "
        + (", ".join(f"{k} x{v}" for k, v in drops.most_common()) or "none")
        + "; pushing again on: "
        + (", ".join(f"{k} x{v}" for k, v in landed.most_common()) or "none"),
        flush=True,
    )
    if disturbed:
        times = [m.dropped[0] for m in disturbed if m.dropped]
        why = Counter(f"{m.moved_by} ({m.dropped[1] if m.dropped else '?'})" for m in disturbed)
        print(
            f"    disturbed tabs of the other process: {len(disturbed)}: "
            + ", ".join(f"{k} x{v}" for k, v in why.most_common())
            + (f"; sockets closed {min(times):.1f}-{max(times):.1f} s after the signal" if times else "")
            + f"; socket up again: {sum(m.up_s is not None for m in disturbed)}, "
            f"pushed again: {sum(m.push_s is not None for m in disturbed)}",
            flush=True,
        )
    if f.ready_ms:
        limit = haproxy_summary()[1]
        slow, p50 = sum(ms > limit for ms in f.ready_ms), percentile(f.ready_ms, 50)
        print(
            f"    the survivor's /health/ready (direct, every 0.2 s): p50 {p50:.0f} ms, "
            f"max {max(f.ready_ms):.0f} ms, {slow} of {len(f.ready_ms)} over HAProxy's {limit:.0f} ms limit",
            flush=True,
        )
    if f.haproxy:
        print("    haproxy: " + "; ".join(f.haproxy), flush=True)
    if f.client_errors:
        print("    " + "; ".join(f.client_errors), flush=True)


# --- the runs --------------------------------------------------------------------------------


async def session_jars(base: str) -> list[dict[str, str]]:
    """The 9 demo logins' session cookies, without the proxy's pin (each tab gets its own)."""
    jars = await login_cookies(base)
    return [{k: v for k, v in jar.items() if k != SERVER_COOKIE} for jar in jars]


async def open_cluster_tabs(
    cluster: Cluster,
    jars: list[dict[str, str]],
    n: int,
    args: Any,
    http: httpx.AsyncClient,
    offset: int = 0,
) -> tuple[list[ClusterTab], str]:
    """Open `n` tabs through HAProxy, OPEN_BATCH at a time, each as a browser does (load, connect,
    reload after a failure), both processes in rotation before each batch; the tabs that opened,
    and a line on how it went. Not sessions.open_tabs (every page load, then every connect, 50 at
    a time, no retry): through the proxy on a 2-core machine, 50 page loads at once kept both
    processes busy past HAProxy's check limit (then 500 ms), which took them out: 503s."""
    tabs = [
        ClusterTab(cluster.url, jars[(offset + i) % len(jars)], args.page, http, args.lost_after)
        for i in range(n)
    ]
    alive = {name: server for name, server in cluster.servers.items() if server.alive()}
    cpu0 = {name: server.cpu() for name, server in alive.items()}
    started, own0 = time.monotonic(), time.process_time()
    reloaded = 0
    for start in range(0, n, OPEN_BATCH):
        await in_rotation(cluster, http)
        firsts = await asyncio.gather(*(tab.open() for tab in tabs[start : start + OPEN_BATCH]))
        reloaded += firsts.count(False)
    moving = [tab.moving for tab in tabs if tab.moving is not None]  # their socket closed meanwhile
    if moving:
        await asyncio.wait(moving, timeout=args.lost_after)
    seconds = time.monotonic() - started
    cpu = sum(server.cpu() - cpu0[name] for name, server in alive.items() if server.alive())
    own = time.process_time() - own0
    kept = [tab for tab in tabs if tab.connected]
    failed = [tab for tab in tabs if not tab.connected]
    await asyncio.gather(*(tab.close() for tab in failed), return_exceptions=True)
    failures: Counter[str] = Counter()
    for tab in tabs:
        failures.update(tab.failures)
    dropped = Counter(tab.dropped[1] for tab in tabs if tab.dropped)
    note = (
        f"{len(kept)} of {n} tabs open in {seconds:.0f} s ({cpu / max(1, n) * 1000:.0f} ms of app CPU "
        f"and {own / max(1, n) * 1000:.0f} ms of this script's per tab); {reloaded} reloaded after a "
        "failed first try"
        + (f", {len(failed)} never opened" if failed else "")
        + ("; failures: " + "; ".join(f"{k} x{v}" for k, v in failures.most_common(3)) if failures else "")
        + (
            "; sockets closed meanwhile: " + ", ".join(f"{k} x{v}" for k, v in dropped.items())
            if dropped
            else ""
        )
    )
    return kept, note


@dataclass
class ClusterRun:
    window: Window
    opening: list[str]  # what went wrong while the tabs opened, HAProxy's notices meanwhile
    during_window: list[str]  # tabs that lost their socket, engine.io errors, HAProxy's notices
    failovers: list[Failover] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)


async def in_rotation(cluster: Cluster, http: httpx.AsyncClient | None = None) -> float:
    """Until HAProxy routes to both processes (a burst of page loads can make a health check time
    out twice, which takes a process out for a second or so); seconds waited."""
    started = time.monotonic()
    for name in NAMES:
        await cluster.wait_in_rotation(name, http=http)
    return time.monotonic() - started


async def run_cluster(cluster: Cluster, args: Any) -> ClusterRun:
    setup = cluster.setup
    jars = await session_jars(cluster.url)
    token = await admin_token(cluster.base("app1"))
    idle = await idle_transactions(setup.database)
    limits = httpx.Limits(max_connections=2 * BATCH)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        seen = len(cluster.haproxy_lines())
        tabs, note = await open_cluster_tabs(cluster, jars, args.tabs, args, http)
        acker = asyncio.create_task(acknowledge(tabs))
        try:
            await asyncio.sleep(WARMUP_S)
            await in_rotation(cluster, http)
            opening = [note, *ENGINEIO.take(), *cluster.haproxy_events(seen)]
            seen = len(cluster.haproxy_lines())
            leader = await cluster.leader()
            at = time.time()
            for tab in tabs:
                tab.arm(at)
            window = await measure(
                "2 processes, HAProxy", tabs, cluster.servers, setup, token, args.seconds, leader
            )
            window.idle_tx_per_s = idle
            lost = Counter(
                f"{tab.moved_by} ({tab.dropped[1] if tab.dropped else '?'})" for tab in tabs if tab.moved_by
            )
            during = [f"{k} x{v}" for k, v in lost.items()] + ENGINEIO.take() + cluster.haproxy_events(seen)
            run = ClusterRun(window, opening, during)
            if not args.skip_failover:
                await failovers(cluster, tabs, jars, args, http, run)
        finally:
            await stop(acker)
            await asyncio.gather(*(tab.close() for tab in tabs), return_exceptions=True)
    return run


async def reopen_on(
    cluster: Cluster,
    name: str,
    jars: list[dict[str, str]],
    n: int,
    args: Any,
    http: httpx.AsyncClient,
    offset: int,
) -> tuple[list[ClusterTab], list[str]]:
    """Open `n` tabs pinned to `name` (its cookie: browsers that were there before). A tab that lands
    on the other process (HAProxy took `name` out of rotation meanwhile: a burst of page loads can
    make its health check time out) is closed and opened again, for up to 3 rounds."""
    pinned = [{**jar, SERVER_COOKIE: name} for jar in jars]
    kept: list[ClusterTab] = []
    notes: list[str] = []
    for attempt in range(1, 4):
        fresh, note = await open_cluster_tabs(cluster, pinned, n - len(kept), args, http, offset)
        elsewhere = [tab for tab in fresh if tab.server != name]
        kept += [tab for tab in fresh if tab.server == name]
        notes.append(f"reopening, round {attempt}: {note}")
        if elsewhere:
            notes.append(f"reopening, round {attempt}: {len(elsewhere)} tabs landed on {other(name)}")
            await asyncio.gather(*(tab.close() for tab in elsewhere), return_exceptions=True)
        if len(kept) >= n:
            break
    return kept, notes


async def failovers(
    cluster: Cluster,
    tabs: list[ClusterTab],
    jars: list[dict[str, str]],
    args: Any,
    http: httpx.AsyncClient,
    run: ClusterRun,
) -> None:
    victim = await pick_victim(cluster, args.victim)
    run.failovers.append(await fail(cluster, tabs, victim, "term", args.lost_after))
    # Start the victim again on its port; once HAProxy routes to it, the tabs that moved are closed
    # and as many opened there: both processes hold about half again.
    seen = len(cluster.haproxy_lines())
    started = time.monotonic()
    await asyncio.to_thread(cluster.launch, victim)
    ready_s = time.monotonic() - started
    rotation_s = await cluster.wait_in_rotation(victim)
    movers = run.failovers[0].tabs
    await asyncio.gather(*(tab.close() for tab in movers), return_exceptions=True)
    moved = set(movers)
    tabs[:] = [tab for tab in tabs if tab not in moved]
    fresh, notes = await reopen_on(cluster, victim, jars, len(movers), args, http, offset=len(tabs))
    tabs.extend(fresh)
    await asyncio.sleep(WARMUP_S)
    waited = await in_rotation(cluster)
    spread = Counter(tab.server for tab in tabs)
    run.restart.append(
        f"{victim} ready {ready_s:.1f} s after its start, in HAProxy's rotation {rotation_s:.1f} s later; "
        f"the {len(movers)} moved tabs closed and {len(fresh)} opened on {victim}: tabs now "
        + ", ".join(f"{name} {spread[name]}" for name in NAMES)
        + (f"; waited {waited:.1f} s more for both processes in rotation" if waited > 0.5 else "")
    )
    run.restart += notes + ENGINEIO.take() + cluster.haproxy_events(seen)
    victim = await pick_victim(cluster, args.victim)
    run.failovers.append(await fail(cluster, tabs, victim, "kill", args.lost_after))


async def run_baseline(app: App, setup: BenchSetup, args: Any) -> Window:
    jars = await login_cookies(app.base)
    token = await admin_token(app.base)
    idle = await idle_transactions(setup.database)
    n = max(1, args.tabs // 2)
    tabs = [Tab(app.base, jars[i % len(jars)], args.page) for i in range(n)]
    opened = await open_tabs(tabs)
    if opened.errors:
        print(f"  baseline: {opened.errors} of {n} tabs failed to open ({opened.first_error})", flush=True)
    acker = asyncio.create_task(acknowledge(opened.tabs))
    try:
        await asyncio.sleep(WARMUP_S)
        label, servers = "1 process, no proxy", {"app": app}
        window = await measure(label, opened.tabs, servers, setup, token, args.seconds, "app")
        window.idle_tx_per_s = idle
        return window
    finally:
        await stop(acker)
        await asyncio.gather(*(tab.drop() for tab in opened.tabs), return_exceptions=True)


def print_logs(logs: Sequence[tuple[Path, int]]) -> None:
    for log, banner in logs:
        tracebacks = sum("Traceback" in line for line in new_log_lines(log, banner))
        if tracebacks:
            print(f"  {log.name}: {tracebacks} tracebacks", flush=True)
        print_log(log, banner)


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument(
        "--tabs", type=int, default=1000, help="tabs through HAProxy (the baseline opens half)"
    )
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds of the steady state")
    parser.add_argument("--page", default="/reconciliation", help="the live page the tabs open")
    parser.add_argument(
        "--victim",
        choices=("leader", "follower"),
        default="leader",
        help="which process is restarted and then killed: the one leading background work, or the other",
    )
    parser.add_argument(
        "--lost-after", type=float, default=30, help="seconds after which a moved tab without a push is lost"
    )
    parser.add_argument("--skip-failover", action="store_true", help="no graceful restart and no kill -9")
    parser.add_argument("--no-baseline", action="store_true", help="no 1-process run for the comparison")
    args = parser.parse_args()
    for name in ("engineio.client", "socketio.client"):
        logging.getLogger(name).addFilter(ENGINEIO)
    print(
        f"page {args.page}, {PAGE_REFRESH_S} s tick, PostgreSQL + Redis, simulator every "
        f"{SIMULATE_INTERVAL_S} s; {args.tabs} tabs through HAProxy over 2 processes"
        + ("" if args.no_baseline else f", baseline 1 process with {max(1, args.tabs // 2)} tabs")
        + f"; {args.seconds:g} s measured; {haproxy_summary()[0]}",
        flush=True,
    )
    windows: list[Window] = []
    run: ClusterRun | None = None
    logs: list[tuple[Path, int]] = []
    if not args.no_baseline:
        with bench_setup(
            "clusterbase",
            DASHBOARD_PAGE_REFRESH_S=str(PAGE_REFRESH_S),
            DASHBOARD_SIMULATE_INTERVAL_S=str(SIMULATE_INTERVAL_S),
        ) as setup:
            log = setup.workdir / "app.log"
            with App(setup.env, log, quiet_seed=True) as app:
                banner = len(new_log_lines(log, 0))
                windows.append(asyncio.run(run_baseline(app, setup, args)))
                logs.append((log, banner))
    metrics_token = uuid.uuid4().hex
    with bench_setup(
        "cluster",
        DASHBOARD_PAGE_REFRESH_S=str(PAGE_REFRESH_S),
        DASHBOARD_SIMULATE_INTERVAL_S=str(SIMULATE_INTERVAL_S),
        DASHBOARD_TRUSTED_PROXIES="127.0.0.1",  # HAProxy's address: its X-Forwarded-For is believed
        DASHBOARD_METRICS_TOKEN=metrics_token,
    ) as setup:
        print(f"cluster logs in {setup.workdir}", flush=True)
        with Cluster(setup, metrics_token) as cluster:
            try:
                run = asyncio.run(run_cluster(cluster, args))
                windows.insert(0, run.window)
            finally:
                logs = cluster.logs + logs
    print(flush=True)
    print_window_header()
    for window in windows:
        print_window(window)
    print("  (* leads background work: runs the demo simulator)", flush=True)
    for window in windows:
        print_families(window)
    cluster_window = windows[0]
    if len(windows) > 1:
        base = windows[1]
        tabs, base_tabs = sum(cluster_window.tabs.values()), sum(base.tabs.values())
        print(
            f"  DB tx/s: {cluster_window.tx_per_s:.1f} with 2 processes and {tabs} tabs vs "
            f"{base.tx_per_s:.1f} with 1 process and {base_tabs} tabs "
            f"({cluster_window.tx_per_s / base.tx_per_s:.2f}x); with the tabs minus before them: "
            f"{cluster_window.tx_per_s - cluster_window.idle_tx_per_s:+.1f} vs "
            f"{base.tx_per_s - base.idle_tx_per_s:+.1f}",
            flush=True,
        )
    verdict = "within" if cluster_window.loads_per_key <= GOAL_LOADS_PER_KEY else "beyond"
    print(
        f"  cache loads per key per TTL {cluster_window.loads_per_key:.2f}: {verdict} the "
        f"{GOAL_LOADS_PER_KEY:g} goal",
        flush=True,
    )
    if run is not None:
        if run.opening:
            print("  while the tabs opened: " + "; ".join(run.opening), flush=True)
        if run.during_window:
            print("  during the window: " + "; ".join(run.during_window), flush=True)
    if run is not None and run.failovers:
        print(flush=True)
        print_failover_header()
        for result in run.failovers:
            print_failover(result)
        for index, result in enumerate(run.failovers):
            print_failover_details(result)
            if index == 0:
                print("  then: " + "; ".join(run.restart), flush=True)
    print_logs(logs)


if __name__ == "__main__":
    main_guard(main)
