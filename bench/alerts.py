"""Alert delivery benchmark: from the ingest of an equity snapshot that crosses the critical drawdown
line to a JSON webhook receiver getting the alert, in a real app process.

Prints figures; asserts nothing (the exit code is non-zero only when something fails, never for a
missed goal). Usage:
    .venv/bin/python bench/alerts.py [--rounds 40] [--accounts 100] [--cycles 5] [--concurrency 20]
        [--sqlite] [--poll SECONDS] [--timeout 15] [--stall 20] [--skip-burst] [--no-seed] [--quick]

--quick is a smoke run (under a minute): 5 rounds, 10 accounts x 2 cycles, --no-seed.
--renotify-s: the channel's flap control; 0 (default here) makes every alert of the burst a
delivery, which is what the throughput figure is about; with the CLI's default (300) a re-raise
of the same account within 5 min is held, and dropped with its recovery.

Set-up, as tests/alerts/test_alerts_process.py: a fresh database (PostgreSQL `bench_alerts_<pid>`
on 127.0.0.1:5432, dropped afterwards; a SQLite file with --sqlite) and Redis namespace, the demo
seed (`python -m dashboard demo seed`, ~15-20 s; with --no-seed only the schema and one trader
to own our accounts), a service user for the bridge, one JSON webhook channel
(`alerts channels add bench --min-level critical`, its URL a receiver in this script) and
`python -m dashboard run` without `--demo`: no simulator, the only writes are ours. The delivery
settings are the app's defaults (DASHBOARD_ALERT_POLL_S unset: the leader dispatches and sends
every second) unless --poll is given. Before the app starts, `--rounds` + `--accounts` accounts
of our own are written straight into the database (there is no API or CLI that creates trading
accounts, and the demo fleet has 10): 100,000 USD, warning 10 % / critical 15 % drawdown, no
daily or max-loss limit, so each crash raises exactly one alert (critical drawdown) and each
recovery resolves it. Once the app is up, each gets a first snapshot at its balance through the
ingest API (its high-water mark, level normal). The measuring starts once the process leads
background work (`dashboard_leader 1` on /metrics; on PostgreSQL a new leader waits 5 s before it
starts its jobs).

1. Latency, `--rounds` times, each round on an account of its own at normal level: after a random
   pause of 0 to 1 poll period (so the ingests do not stay in step with the leader's loop), ingest
   a snapshot 50 % below the high-water mark, which raises a critical drawdown alert, and time from
   the ingest's response until the receiver has the raise (`Alert: guard:drawdown:account:<id>
   (raised)` in the message). Then ingest a snapshot back at the high-water mark and wait for its
   "resolved", so that nothing is in flight when the next round starts. A fresh account per round:
   each raise is the first of its key, which flap control (a re-raise within a rule's re-notify
   interval is held back) never delays. Printed: p50/p95/max (goal: p95 <= 2 s with the default
   poll settings), and where the time goes, from the outbox rows of the raises read afterwards
   (the alert's `dispatched_at`, taken when the leader's dispatch begins; the delivery's `sent_at`,
   recorded after the send): ingest request, response -> dispatch (waiting for the leader's poll),
   dispatch -> received (fan-out, the send's own transaction, Apprise's POST).
2. Burst: `--accounts` accounts x `--cycles` crash/recover cycles, each account's snapshots in
   order, all accounts at once (httpx.AsyncClient) with at most `--concurrency` requests in flight
   (20, the app's database pool: 10 + 10 overflow; with 100 at once, requests waited out the pool's
   5 s checkout timeout and got 503s; a 503, "nothing was written", is tried again as a bridge
   does, and counted): 2 alerts per cycle, 1,000 by default. Then
   wait until the outbox has routed every alert, nothing is due any more and the receiver holds
   every delivery the outbox counts as sent (or nothing new came for --stall seconds), and two poll
   periods more for repeats. Printed: the ingest's rate (snapshots/s, alerts/s, request p50/p95),
   first ingest -> last delivery, the delivery throughput (alerts/s over that time, and between the
   first and the last delivery), each alert's ingest response -> received p50/p95/max, duplicates
   (an X-Idempotency-Key received more than once; goal 0), and the outbox's deliveries by status at
   the end: a delivery still pending with its time in the future is held back (flap control, or a
   retry's backoff), `suppressed` is flap control's drop of a re-raise that resolved meanwhile.
   Every cycle after an account's first raises the same key again, so with flap control on the
   channel's rule only each account's first cycle goes out at once (the re-raises are held, then
   suppressed with their recoveries); `--accounts 500 --cycles 1` gives 1,000 alerts without a
   re-raise. Also printed: the app's CPU during the ingest, per snapshot; and for the sent alerts,
   from the outbox: created (the snapshot's ts) -> routed (`dispatched_at`) -> sent recorded, and
   the gaps between consecutive sends (the leader sends one after the other: the time one takes).

The receiver is a ThreadingHTTPServer in this process (the idea of tests/alerts/receiver.py) that
records when each POST arrived; it answers 200 at once.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    BenchSetup,
    Server,
    arg_parser,
    bench_setup,
    dashboard_cli,
    free_port,
    main_guard,
    percentile,
)
from dashboard.db.models import Alert, AlertDelivery, TradingAccount, User
from dashboard.db.session import Database
from dashboard.domain.enums import MarginMode, Role
from dashboard.settings import Settings

GOAL_P95_S = 2.0
DEFAULT_POLL_S = float(Settings.model_fields["alert_poll_s"].default)
CRASH = Decimal("0.5")  # a crash snapshot: 50 % below the high-water mark
BRIDGE = "bridge@bench.local"
BRIDGE_PASSWORD = "bench-bridge-" + "q" * 16
CHANNEL = "bench"
OWNER = "trader@bench.local"  # owns our accounts when there is no demo seed (--no-seed)
BALANCE = Decimal("100000.00")  # our accounts' initial balance, and their high-water mark
BENCH_LOGIN = 91_000_000  # broker logins of our accounts (the demo's are 51 000 xxx)
KEY = re.compile(r"^alert-(\d+)-channel-(\d+)")
OUTBOX_EVERY_S = 0.5
RETRIES_503 = 5  # how often the burst reads the outbox while it waits


# --- the webhook receiver --------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the POST's body was read
    wall: float  # time.time() at the same moment (against the outbox's timestamps)
    key: str  # X-Idempotency-Key
    title: str
    account_id: int | None
    alert_key: str  # e.g. guard:drawdown:account:12
    state: str  # raised / resolved
    when: datetime | None  # the alert's created_at: the snapshot's ts

    @property
    def alert_id(self) -> int | None:
        found = KEY.match(self.key)
        return int(found[1]) if found else None


def parse(at: float, wall: float, key: str, body: dict[str, Any]) -> Received:
    """The facts `delivery.message_of` puts in the message's lines (`When:`, `Account:`, `Alert:`)."""
    lines = str(body.get("message", "")).splitlines()
    facts = dict(line.split(": ", 1) for line in lines if ": " in line)
    alert = re.match(r"^(\S+) \((\w+)\)$", facts.get("Alert", ""))
    when: datetime | None = None
    if "When" in facts:
        with_zone = datetime.fromisoformat(facts["When"])
        when = with_zone if with_zone.tzinfo else with_zone.replace(tzinfo=UTC)
    account = facts.get("Account", "")
    return Received(
        at,
        wall,
        key,
        str(body.get("title", "")),
        int(account) if account.isdigit() else None,
        alert[1] if alert else "",
        alert[2] if alert else "",
        when,
    )


@dataclass
class Receiver:
    port: int
    received: list[Received] = field(default_factory=list)
    unreadable: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                at, wall = time.monotonic(), time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    got = parse(at, wall, self.headers.get("X-Idempotency-Key", ""), json.loads(raw or b"{}"))
                except ValueError:
                    with receiver._lock:
                        receiver.unreadable += 1
                    return
                with receiver._lock:
                    receiver.received.append(got)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def since(self, mark: int) -> list[Received]:
        with self._lock:
            return self.received[mark:]

    def __len__(self) -> int:
        with self._lock:
            return len(self.received)

    async def wait_for(
        self, match: Callable[[Received], bool], mark: int, within_s: float
    ) -> Received | None:
        """The first delivery from index `mark` on that `match`es, None after `within_s` seconds."""
        deadline = time.monotonic() + within_s
        while True:
            for got in self.since(mark):
                if match(got):
                    return got
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.005)


# --- set-up ----------------------------------------------------------------------------------


async def add_accounts(url: str, n: int) -> list[int]:
    """`n` trading accounts of our own, dealt over the traders (benchmark fixture data)."""
    db = Database(url)
    try:
        async with db.session() as session:
            traders = list(
                (await session.execute(select(User.id).where(User.role == Role.TRADER).order_by(User.id)))
                .scalars()
                .all()
            )
            if not traders:
                raise SystemExit("no trader in the database")
            now = datetime.now(UTC)
            rows = [
                TradingAccount(
                    user_id=traders[i % len(traders)],
                    name=f"Bench {i + 1:03d}",
                    broker_login=BENCH_LOGIN + i,
                    broker_server="BenchBroker",
                    margin_mode=MarginMode.HEDGING,
                    currency="USD",
                    leverage=100,
                    initial_balance=BALANCE,
                    is_demo=False,
                    dd_warning_pct=Decimal(10),
                    dd_critical_pct=Decimal(15),
                    daily_loss_limit_pct=None,
                    max_loss_limit_pct=None,
                    created_at=now - timedelta(days=1),
                )
                for i in range(n)
            ]
            session.add_all(rows)
            await session.flush()
            return [row.id for row in rows]
    finally:
        await db.dispose()


def prepare(
    setup: BenchSetup, receiver: Receiver, accounts: int, *, seed: bool, renotify_s: int
) -> tuple[list[int], float]:
    """The demo seed (or, without it, the schema and a trader to own our accounts), then at once
    the bridge's service user and the webhook channel; our accounts. Seconds it took."""
    started = time.monotonic()
    calls: list[tuple[tuple[str, ...], str]] = [
        (("users", "create", BRIDGE, "--role", "service"), BRIDGE_PASSWORD + "\n"),
        (
            (
                "alerts",
                "channels",
                "add",
                CHANNEL,
                "--min-level",
                "critical",
                "--renotify-s",
                str(renotify_s),
            ),
            receiver.url + "\n",
        ),
    ]
    if seed:
        dashboard_cli(setup.env, "demo", "seed")
    else:
        calls.append((("users", "create", OWNER, "--role", "trader"), BRIDGE_PASSWORD + "\n"))
        # The first migrates (alone: concurrent first migrations collide on SQLite).
        dashboard_cli(setup.env, *calls[0][0], input=calls.pop(0)[1])
    with ThreadPoolExecutor(len(calls)) as pool:  # each CLI run is a Python start-up and more
        list(pool.map(lambda call: dashboard_cli(setup.env, *call[0], input=call[1]), calls))
    ids = asyncio.run(add_accounts(setup.env["DASHBOARD_DATABASE_URL"], accounts))
    return ids, time.monotonic() - started


async def wait_leader(base: str, within_s: float = 60) -> float:
    """Until the app runs its background work (alert delivery among it); seconds waited."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() - started < within_s:
            response = await client.get("/metrics")
            if response.status_code == 200 and re.search(r"^dashboard_leader 1", response.text, re.M):
                return time.monotonic() - started
            await asyncio.sleep(0.1)
    raise SystemExit(f"the app did not take the lead of background work within {within_s:.0f} s")


async def bearer(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class IngestFailed(Exception):
    pass


class Snapshots:
    """Equity snapshots through the ingest API as the bridge, each account's timestamps strictly
    increasing (an equal one would be a duplicate, an older one is refused), to the millisecond;
    at most `concurrency` requests in flight. A 503 (database unavailable: nothing was written, as
    when every pooled connection stays busy past the pool's checkout timeout) is tried again after
    a pause, as a bridge does, and counted."""

    last: ClassVar[dict[int, datetime]] = {}  # shared by every client of the run

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], concurrency: int) -> None:
        self.client, self.headers = client, headers
        self.slots = asyncio.Semaphore(concurrency)
        self.retried = 0

    @classmethod
    async def of(cls, client: httpx.AsyncClient, concurrency: int = 1) -> Snapshots:
        return cls(client, await bearer(client, BRIDGE, BRIDGE_PASSWORD), concurrency)

    def next_ts(self, account_id: int) -> datetime:
        now = datetime.now(UTC)
        ts = now.replace(microsecond=now.microsecond // 1000 * 1000)
        previous = self.last.get(account_id)
        if previous is not None and ts <= previous:
            ts = previous + timedelta(milliseconds=1)
        self.last[account_id] = ts
        return ts

    async def post(self, account_id: int, equity: Decimal) -> tuple[datetime, float, float, int]:
        """(ts, monotonic at the request, monotonic at the (last) response, alerts it raised or
        resolved)."""
        value = str(equity.quantize(Decimal("0.01")))
        async with self.slots:
            ts = self.next_ts(account_id)
            body = {"account_id": account_id, "ts": ts.isoformat(), "balance": value, "equity": value}
            sent = time.monotonic()
            for attempt in range(1, RETRIES_503 + 2):
                response = await self.client.post("/api/v1/ingest/equity", json=body, headers=self.headers)
                if response.status_code != 503 or attempt > RETRIES_503:
                    break
                self.retried += 1
                await asyncio.sleep(0.2 * attempt)
            answered = time.monotonic()
        if response.status_code != 200:
            raise IngestFailed(
                f"ingest of account {account_id} failed: {response.status_code} {response.text[:300]}"
            )
        return ts, sent, answered, int(response.json()["detail"]["alerts"])


async def first_snapshots(base: str, ids: Sequence[int], concurrency: int) -> None:
    """Each account's first snapshot, at its balance: a high-water mark, level normal, no alert."""
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        snapshots = await Snapshots.of(client, concurrency)
        done = await asyncio.gather(*(snapshots.post(account_id, BALANCE) for account_id in ids))
    raised = sum(alerts for *_, alerts in done)
    if raised:
        raise SystemExit(f"the first snapshots at the balance raised {raised} alerts")


# --- 1. latency ------------------------------------------------------------------------------


@dataclass
class Round:
    account_id: int
    request_s: float  # the ingest request
    latency_s: float | None  # ingest response -> the receiver has the raise; None: never came
    responded_wall: float  # time.time() at the response
    raised: Received | None
    resolved_s: float | None  # the recovery's ingest response -> received


def alert_of(key: str, state: str) -> Callable[[Received], bool]:
    def match(got: Received) -> bool:
        return got.alert_key == key and got.state == state

    return match


async def latency_rounds(base: str, receiver: Receiver, ids: Sequence[int], args: Any) -> list[Round]:
    rng = random.Random(7)
    rounds: list[Round] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        snapshots = await Snapshots.of(client)
        for index, account_id in enumerate(ids):
            key = f"guard:drawdown:account:{account_id}"
            await asyncio.sleep(rng.uniform(0, args.poll_s))
            mark = len(receiver)
            _, sent, answered, alerts = await snapshots.post(account_id, BALANCE * CRASH)
            wall_answered = time.time()
            if alerts != 1:
                raise SystemExit(f"round {index + 1}: the crash of account {account_id} made {alerts} alerts")
            got = await receiver.wait_for(alert_of(key, "raised"), mark, args.timeout)
            latency = None if got is None else got.at - answered
            mark = len(receiver)
            _, _, recovered, _ = await snapshots.post(account_id, BALANCE)
            back = await receiver.wait_for(alert_of(key, "resolved"), mark, args.timeout)
            resolved = None if back is None else back.at - recovered
            rounds.append(Round(account_id, answered - sent, latency, wall_answered, got, resolved))
            shown = "missed" if latency is None else f"{latency:.2f} s"
            print(f"  round {index + 1}/{len(ids)}: ingest -> webhook {shown}", flush=True)
    return rounds


async def stages_of(url: str, rounds: Sequence[Round]) -> dict[str, list[float]]:
    """Where each raise's time went, from its outbox rows (the same machine's clock)."""
    stages: dict[str, list[float]] = {
        "ingest request (send -> response)": [r.request_s for r in rounds],
        "response -> dispatch (waiting for the poll)": [],
        "dispatch -> received (routing, send)": [],
        "dispatch -> sent recorded": [],
    }
    ids = {r.raised.alert_id: r for r in rounds if r.raised is not None and r.raised.alert_id is not None}
    if not ids:
        return stages
    db = Database(url)
    try:
        async with db.read_session() as session:
            rows = (
                await session.execute(
                    select(Alert.id, Alert.dispatched_at, AlertDelivery.sent_at)
                    .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
                    .where(Alert.id.in_(list(ids)))
                )
            ).all()
    finally:
        await db.dispose()
    for alert_id, dispatched_at, sent_at in rows:
        done = ids[alert_id]
        assert done.raised is not None
        if dispatched_at is None:
            continue
        dispatched = dispatched_at.timestamp()
        stages["response -> dispatch (waiting for the poll)"].append(dispatched - done.responded_wall)
        stages["dispatch -> received (routing, send)"].append(done.raised.wall - dispatched)
        if sent_at is not None:
            stages["dispatch -> sent recorded"].append(sent_at.timestamp() - dispatched)
    return stages


# --- 2. burst --------------------------------------------------------------------------------


@dataclass
class Outbox:
    """The outbox as it stands for some accounts' alerts."""

    alerts: int = 0
    undispatched: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    due: int = 0  # pending, due now: the leader will send them at its next round
    held: int = 0  # pending, due later: held by flap control, or a retry's backoff

    def line(self) -> str:
        parts = [f"{status} {n}" for status, n in sorted(self.statuses.items())]
        if self.held:
            parts.append(f"of the pending: {self.held} due later (held)")
        if self.undispatched:
            parts.append(f"{self.undispatched} alerts not routed yet")
        return ", ".join(parts) or "-"


async def outbox(db: Database, account_ids: Sequence[int]) -> Outbox:
    now = datetime.now(UTC)
    ids = list(account_ids)
    async with db.read_session() as session:
        counts = (
            await session.execute(
                select(func.count(), func.count(Alert.dispatched_at)).where(Alert.account_id.in_(ids))
            )
        ).one()
        rows = (
            await session.execute(
                select(AlertDelivery.status, AlertDelivery.next_attempt_at)
                .join(Alert, Alert.id == AlertDelivery.alert_id)
                .where(Alert.account_id.in_(ids))
            )
        ).all()
    state = Outbox(alerts=int(counts[0]), undispatched=int(counts[0]) - int(counts[1]))
    for status, next_attempt_at in rows:
        name = str(getattr(status, "value", status))
        state.statuses[name] += 1
        if name == "pending":
            if next_attempt_at is not None and next_attempt_at > now:
                state.held += 1
            else:
                state.due += 1
    return state


async def sent_stages(db: Database, account_ids: Sequence[int]) -> dict[str, list[float]]:
    """Where the sent alerts' time went, from the outbox: created (the snapshot's ts) -> routed
    (`dispatched_at`) -> sent recorded; the gaps between consecutive sends while the leader was
    busy sending (one after the other: the time each delivery takes); and the leader's rounds that
    routed the burst's alerts (how many each, how far apart: a round dispatches, then sends up to
    a batch, then sleeps a poll period)."""
    async with db.read_session() as session:
        rows = (
            await session.execute(
                select(Alert.created_at, Alert.dispatched_at, AlertDelivery.sent_at)
                .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
                .where(Alert.account_id.in_(list(account_ids)), AlertDelivery.sent_at.is_not(None))
            )
        ).all()
        moments = (
            await session.execute(
                select(Alert.dispatched_at, func.count())
                .where(Alert.account_id.in_(list(account_ids)), Alert.dispatched_at.is_not(None))
                .group_by(Alert.dispatched_at)
                .order_by(Alert.dispatched_at)
            )
        ).all()
    # Each dispatch stamps its alerts with the moment it began: one moment per leader round.
    starts = [moment.timestamp() for moment, _ in moments if moment is not None]
    routed = [(d - c).total_seconds() for c, d, _ in rows if d is not None]
    queued = [(sent - d).total_seconds() for _, d, sent in rows if d is not None and sent is not None]
    sends = sorted(sent.timestamp() for *_, sent in rows if sent is not None)
    gaps = [b - a for a, b in pairwise(sends) if b - a < 0.5]
    return {
        "created -> routed (dispatched_at), s": routed,
        "routed -> sent recorded, s": queued,
        "between consecutive sends (gaps < 0.5 s), s": gaps,
        "alerts routed per leader round (any status)": [float(n) for _, n in moments],
        "between the leader rounds that routed them, s": [b - a for a, b in pairwise(starts)],
    }


@dataclass
class Burst:
    accounts: int
    cycles: int
    snapshots: int
    alerts: int
    ingest_s: float
    request_s: list[float]
    retried: int  # 503s tried again
    app_cpu_s: float  # the app's CPU (user + system) during the ingest
    own_cpu_s: float  # this script's
    delivered: int  # distinct idempotency keys of the burst's alerts
    duplicates: int  # deliveries beyond the first of their key
    foreign: int  # deliveries matching no snapshot of the burst
    first_s: float | None  # first ingest -> first delivery
    last_s: float | None  # first ingest -> last delivery
    latencies: list[float]  # each alert: its ingest response -> received
    stalled: bool
    outbox: Outbox
    stages: dict[str, list[float]]


async def burst(app: Server, url: str, receiver: Receiver, ids: Sequence[int], args: Any) -> Burst:
    answered_at: dict[tuple[int | None, datetime | None], float] = {}
    requests: list[float] = []
    alerts = 0
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=app.base, timeout=60, limits=limits) as client:
        snapshots = await Snapshots.of(client, args.concurrency)

        async def cycles(account_id: int) -> None:
            nonlocal alerts
            for _ in range(args.cycles):
                for equity in (BALANCE * CRASH, BALANCE):
                    ts, sent, answered, made = await snapshots.post(account_id, equity)
                    answered_at[(account_id, ts)] = answered
                    requests.append(answered - sent)
                    alerts += made

        mark = len(receiver)
        cpu, own = app.cpu(), time.process_time()
        started = time.monotonic()
        await asyncio.gather(*(cycles(account_id) for account_id in ids))
        ingest_s = time.monotonic() - started
        cpu, own = app.cpu() - cpu, time.process_time() - own
    print(
        f"  ingested {len(requests)} snapshots ({alerts} alerts) in {ingest_s:.1f} s; waiting for the "
        "deliveries",
        flush=True,
    )

    def ours() -> list[Received]:
        return [r for r in receiver.since(mark) if (r.account_id, r.when) in answered_at]

    db = Database(url)
    try:
        stalled, seen, moved = False, 0, time.monotonic()
        while True:
            state = await outbox(db, ids)
            keys = {r.key for r in ours()}
            if state.undispatched == 0 and state.due == 0 and len(keys) >= state.statuses["sent"]:
                break  # all routed, nothing due, every sent one received: the rest is held back
            if len(receiver) != seen:
                seen, moved = len(receiver), time.monotonic()
            elif time.monotonic() - moved > args.stall:
                stalled = True
                break
            await asyncio.sleep(OUTBOX_EVERY_S)
        await asyncio.sleep(2 * args.poll_s + 0.5)  # repeats, if any
        state = await outbox(db, ids)
        stages = await sent_stages(db, ids)
    finally:
        await db.dispose()
    got = ours()
    counts = Counter(r.key for r in got)
    firsts: dict[str, Received] = {}
    for r in got:
        firsts.setdefault(r.key, r)
    latencies = [r.at - answered_at[(r.account_id, r.when)] for r in firsts.values()]
    arrivals = sorted(r.at for r in firsts.values())
    return Burst(
        accounts=len(ids),
        cycles=args.cycles,
        snapshots=len(requests),
        alerts=alerts,
        ingest_s=ingest_s,
        request_s=requests,
        retried=snapshots.retried,
        app_cpu_s=cpu,
        own_cpu_s=own,
        delivered=len(counts),
        duplicates=sum(n - 1 for n in counts.values()),
        foreign=len(receiver.since(mark)) - len(got),
        first_s=arrivals[0] - started if arrivals else None,
        last_s=arrivals[-1] - started if arrivals else None,
        latencies=latencies,
        stalled=stalled,
        outbox=state,
        stages=stages,
    )


# --- printing --------------------------------------------------------------------------------


def p(values: Sequence[float], q: float) -> str:
    return f"{percentile(values, q):.2f}" if values else "-"


def top(values: Sequence[float]) -> str:
    return f"{max(values):.2f}" if values else "-"


def print_latency(rounds: Sequence[Round], stages: dict[str, list[float]], args: Any) -> None:
    done = [r.latency_s for r in rounds if r.latency_s is not None]
    missed = len(rounds) - len(done)
    resolved = [r.resolved_s for r in rounds if r.resolved_s is not None]
    poll = f"poll {args.poll_s:g} s{' (--poll)' if args.poll is not None else ', the default'}"
    print(f"\n## 1. Ingest of a critical crash -> webhook received ({len(rounds)} rounds; {poll})")
    print("| measure | n | p50 s | p95 s | max s |")
    print("|---|---:|---:|---:|---:|")
    rows: list[tuple[str, list[float]]] = [
        ("**raise: ingest response -> received**", done),
        ("recovery: ingest response -> received", resolved),
        *((f"raise: {label}", values) for label, values in stages.items()),
    ]
    for label, values in rows:
        print(f"| {label} | {len(values)} | {p(values, 50)} | {p(values, 95)} | {top(values)} |")
    p95 = percentile(done, 95) if done else float("nan")
    verdict = "within" if done and p95 <= GOAL_P95_S and not missed else "beyond"
    print(
        f"p95 {p95:.2f} s: {verdict} the goal of {GOAL_P95_S:g} s"
        + (f"; {missed} raise(s) never arrived within {args.timeout:g} s" if missed else "")
    )


def print_burst(b: Burst, args: Any) -> None:
    print(
        f"\n## 2. Burst: {b.accounts} accounts x {b.cycles} crash/recover cycles, all accounts at once, "
        f"at most {args.concurrency} requests in flight (poll {args.poll_s:g} s)"
    )
    rate = b.delivered / b.last_s if b.last_s else float("nan")
    spread = (
        (b.delivered - 1) / (b.last_s - b.first_s)
        if b.first_s is not None and b.last_s is not None and b.last_s > b.first_s
        else float("nan")
    )
    first = "-" if b.first_s is None else f"{b.first_s:.1f} s"
    last = "-" if b.last_s is None else f"{b.last_s:.1f} s"
    after = "-" if b.last_s is None else f"{b.last_s - b.ingest_s:.1f} s"
    held_back = b.outbox.held + b.outbox.statuses["suppressed"]
    lost = b.alerts - b.delivered - held_back - b.outbox.statuses["dead"] - b.outbox.undispatched
    rows = (
        ("snapshots ingested", f"{b.snapshots}"),
        ("alerts raised or resolved (ingest responses)", f"{b.alerts}"),
        ("ingest time", f"{b.ingest_s:.1f} s"),
        ("ingest rate", f"{b.snapshots / b.ingest_s:.0f} snapshots/s = {b.alerts / b.ingest_s:.0f} alerts/s"),
        (
            "ingest request p50 / p95 (503s tried again included)",
            f"{p(b.request_s, 50)} / {p(b.request_s, 95)} s",
        ),
        ("ingest 503s (database unavailable) tried again", f"{b.retried}"),
        (
            "app CPU during the ingest",
            f"{b.app_cpu_s / b.ingest_s:.2f} cores, {b.app_cpu_s / max(1, b.snapshots) * 1000:.0f} ms per "
            f"snapshot (this script: {b.own_cpu_s / b.ingest_s:.2f} cores)",
        ),
        ("**alerts delivered** (distinct idempotency keys)", f"{b.delivered}"),
        (
            "not delivered: held back or suppressed by flap control / dead / not routed / otherwise"
            + (" (delivery stalled)" if b.stalled else ""),
            f"{held_back} / {b.outbox.statuses['dead']} / {b.outbox.undispatched} / {lost}",
        ),
        ("**duplicate idempotency keys** (goal 0)", f"{b.duplicates}"),
        ("first ingest -> first delivery", first),
        ("first ingest -> last delivery", last),
        ("last delivery after the ingest ended", after),
        ("**delivery throughput** (delivered / first ingest -> last delivery)", f"{rate:.1f} alerts/s"),
        ("delivery rate between the first and the last delivery", f"{spread:.1f} alerts/s"),
        (
            "each alert: ingest response -> received, p50 / p95 / max",
            f"{p(b.latencies, 50)} / {p(b.latencies, 95)} / {top(b.latencies)} s",
        ),
        ("outbox deliveries at the end", b.outbox.line()),
    )
    print("| figure | value |")
    print("|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print("\n| sent alerts, from the outbox | n | p50 | p95 | max |")
    print("|---|---:|---:|---:|---:|")
    for label, values in b.stages.items():
        print(f"| {label} | {len(values)} | {p(values, 50)} | {p(values, 95)} | {top(values)} |")
    if b.foreign:
        print(f"{b.foreign} other deliveries arrived meanwhile (not of the burst's snapshots)")


def print_log_summary(log: Path) -> None:
    text = log.read_text(errors="replace") if log.exists() else ""
    tracebacks = text.count("Traceback")
    if tracebacks:
        print(f"\napp log {log}: {tracebacks} tracebacks; its end:\n" + text[-3000:], flush=True)


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="latency rounds (one account each; 0: none)")
    parser.add_argument("--accounts", type=int, default=100, help="accounts of the burst")
    parser.add_argument(
        "--cycles", type=int, default=5, help="crash/recover cycles per account in the burst (2 alerts each)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="burst: ingest requests in flight at most (the app's pool: 10 connections + 10 overflow)",
    )
    parser.add_argument(
        "--renotify-s",
        type=int,
        default=0,
        help="the channel's flap control (0: off, every alert is a delivery; the CLI's default is 300)",
    )
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument(
        "--poll", type=float, default=None, help="DASHBOARD_ALERT_POLL_S for the app (default: unset)"
    )
    parser.add_argument("--timeout", type=float, default=15, help="seconds a latency round waits")
    parser.add_argument(
        "--stall", type=float, default=20, help="burst: give up after this long without a new delivery"
    )
    parser.add_argument("--skip-burst", action="store_true", help="only the latency rounds")
    parser.add_argument(
        "--no-seed", action="store_true", help="no demo data: the schema, one trader, our accounts"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (under a minute): 5 rounds, 10 accounts x 2 cycles, --no-seed",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.accounts, args.cycles, args.no_seed = 5, 10, 2, True
    if args.skip_burst:
        args.accounts = 0
    args.poll_s = args.poll if args.poll is not None else DEFAULT_POLL_S
    extra = {"DASHBOARD_ALERTS_KEY": Fernet.generate_key().decode()}
    if args.poll is not None:
        extra["DASHBOARD_ALERT_POLL_S"] = str(args.poll)
    database: Literal["postgresql", "sqlite"] = "sqlite" if args.sqlite else "postgresql"
    receiver = Receiver(free_port())
    receiver.start()
    started = time.monotonic()
    try:
        with bench_setup("alerts", database=database, **cast(dict[str, Any], extra)) as setup:
            print(
                f"{'SQLite' if args.sqlite else f'PostgreSQL database {setup.database}'} + Redis "
                f"(namespace {setup.namespace}); alert poll {args.poll_s:g} s"
                f"{'' if args.poll is not None else ' (default)'}; logs in {setup.workdir}",
                flush=True,
            )
            ids, prepared_s = prepare(
                setup,
                receiver,
                args.rounds + args.accounts,
                seed=not args.no_seed,
                renotify_s=args.renotify_s,
            )
            print(
                f"{'no seed, a trader' if args.no_seed else 'demo seeded'}; bridge user; webhook channel "
                f"{CHANNEL!r} (min level critical); {len(ids)} accounts of our own: {prepared_s:.0f} s",
                flush=True,
            )
            log = setup.workdir / "app.log"
            url = setup.env["DASHBOARD_DATABASE_URL"]
            run = [sys.executable, "-m", "dashboard", "run"]  # no --demo: no simulator
            result: Burst | None = None
            rounds: list[Round] = []
            stages: dict[str, list[float]] = {}
            try:
                with Server(run, setup.env, setup.base, log) as app:
                    asyncio.run(first_snapshots(app.base, ids, args.concurrency))
                    waited = asyncio.run(wait_leader(app.base))
                    print(
                        f"app ready; first snapshots in; leading background work {waited:.1f} s later",
                        flush=True,
                    )
                    rounds = asyncio.run(latency_rounds(app.base, receiver, ids[: args.rounds], args))
                    stages = asyncio.run(stages_of(url, rounds))
                    if not args.skip_burst:
                        result = asyncio.run(burst(app, url, receiver, ids[args.rounds :], args))
            except IngestFailed as error:
                raise SystemExit(str(error)) from None
            finally:
                print_log_summary(log)
            if rounds:
                print_latency(rounds, stages, args)
            if result is not None:
                print_burst(result, args)
            if receiver.unreadable:
                print(f"{receiver.unreadable} webhook posts could not be read as JSON")
    finally:
        receiver.stop()
    print(f"\ntotal {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main_guard(main)
