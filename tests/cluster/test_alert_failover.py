"""Alert delivery across a leader's death: the leader is killed (-9) in the middle of a webhook
send, the other process takes leadership and finishes the outbox. Delivery is at least once
(`dashboard/services/alerts/delivery.py`): the sends in flight when the leader died (the held one,
and at most the few it had under way at once) are sent again, and nothing the dead leader had
recorded as sent is.

The alerts come from real ingests through the proxy (equity crashes past the critical drawdown
line, as a bridge sends them); the webhook is a real local HTTP receiver that holds one response
open, so the leader is provably mid-send when it is killed.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from dashboard.services.alerts.delivery import SEND_CONCURRENCY
from tests.alerts.receiver import Received, Receiver
from tests.cluster.harness import Cluster, wait_for
from tests.process import free_port, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
SERVICE_PASSWORD = "failover-bridge-" + "z" * 16
CRASHED_ACCOUNTS = 8
#: The request the receiver holds open: the ones before it are answered (and recorded as sent by
#: the leader that is about to die, so the new leader must not send them again).
HOLD_AT = 3
#: Apprise's webhook read timeout (4 s by default) raised on the channel URL, so the held send is
#: still waiting for its answer whenever the test gets round to the kill.
READ_TIMEOUT_S = 30


@dataclass
class HoldingReceiver(Receiver):
    """A `Receiver` that keeps the response to its `hold_at`-th request open until `release()`
    (or `hold_s`): the sender is mid-send for as long as the test wants."""

    hold_at: int = HOLD_AT
    hold_s: float = 20.0
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each request
    held: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{super().url}?rto={READ_TIMEOUT_S}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) or b"{}"
                with receiver._lock:
                    receiver.received.append(Received(dict(self.headers.items()), _json(body)))
                    receiver.arrived.append(time.monotonic())
                    hold = len(receiver.received) == receiver.hold_at
                if hold:
                    receiver.held.set()
                    receiver._release.wait(receiver.hold_s)
                try:
                    self.send_response(receiver.status)
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed while we held its answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self.release()
        super().stop()

    def held_key(self) -> str:
        return self.received[self.hold_at - 1].headers.get("X-Idempotency-Key", "")


def _json(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    return value if isinstance(value, dict) else {"value": value}


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("alert_failover"))
    # The processes get the cluster's env dict itself (`AppProcess.env is Cluster.env`): what is
    # added before `start()` reaches both processes and the CLI runs below.
    started.env["DASHBOARD_ALERTS_KEY"] = Fernet.generate_key().decode()
    started.env["DASHBOARD_ALERT_POLL_S"] = "0.2"
    try:
        started.start()
        yield started
    finally:
        tracebacks = started.stop()
    assert tracebacks == []


def bearer(base: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def crash(cluster: Cluster, headers: dict[str, str], account: dict[str, Any]) -> None:
    """Ingest a snapshot 50 % below the account's high-water mark (a critical drawdown raise).

    Its time is just after the account's latest snapshot, not the wall clock: the demo simulator
    (the cluster runs `--demo`) is this account's bridge too, and a snapshot of ours stamped after
    the tick it is writing would make its own older write be refused. Stamped this way, ours is
    the one refused when the simulator gets there first, and it is sent again on a fresh latest.
    """
    value = str(round(float(account["hwm"]) * 0.5, 2))
    for _ in range(10):
        (latest,) = cluster.sql(
            "SELECT max(ts) AS ts FROM equity_snapshots WHERE account_id = $1", account["account_id"]
        )
        ts = latest["ts"] + timedelta(milliseconds=1)
        written = httpx.post(
            f"{cluster.url}/api/v1/ingest/equity",
            json={
                "account_id": account["account_id"],
                "ts": ts.isoformat(),
                "balance": value,
                "equity": value,
            },
            headers=headers,
            timeout=10,
        )
        if written.status_code == 200:
            return
        assert written.status_code == 422 and "older" in written.text, written.text
    raise AssertionError(f"account {account['account_id']}: the crash was refused 10 times")


def channel_state(cluster: Cluster, channel: int) -> tuple[set[str], Counter[str]]:
    """The idempotency keys of the channel's deliveries, and how many of them are in each status."""
    rows = cluster.sql(
        "SELECT alert_id, status::text AS status FROM alert_deliveries WHERE channel_id = $1", channel
    )
    return {f"alert-{r['alert_id']}-channel-{channel}" for r in rows}, Counter(r["status"] for r in rows)


def test_a_leader_killed_mid_delivery_is_finished_by_the_other_without_a_duplicate_beyond_those_in_flight(
    cluster: Cluster,
) -> None:
    env: dict[str, Any] = cluster.env  # with the alerts key
    receiver = HoldingReceiver(free_port())
    receiver.start()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # two CLI processes at once
            user = ("users", "create", "bridge@ops.local", "--role", "service")
            desk = ("alerts", "channels", "add", "desk", "--min-level", "critical")
            created = pool.submit(lambda: run_cli(*user, input=SERVICE_PASSWORD + "\n", **env))
            added = pool.submit(lambda: run_cli(*desk, input=receiver.url + "\n", **env))
            for done in (created.result(), added.result()):
                assert done.returncode == 0, done.stderr
        (channel,) = [row["id"] for row in cluster.sql("SELECT id FROM alert_channels WHERE name = 'desk'")]

        token = cluster.metrics_token
        leader = wait_for(
            lambda: next((name for name, app in cluster.apps.items() if app.leading(token)), None),
            20,
            "a leader",
        )
        (other,) = [name for name in cluster.apps if name != leader]

        bridge = bearer(cluster.url, "bridge@ops.local", SERVICE_PASSWORD)
        risk = bearer(cluster.url, "risk@demo.local", "demo")
        wall = httpx.get(f"{cluster.url}/api/v1/risk/accounts", headers=risk, timeout=10).json()["accounts"]
        # At "normal": the crash is a new critical raise (an account already critical raises nothing).
        accounts = [a for a in wall if a["dd_level"] == "normal" and a["hwm"] is not None][:CRASHED_ACCOUNTS]
        assert len(accounts) >= HOLD_AT + 2, wall
        # All at once, as a busy bridge sends them: the leader finds several due in one round.
        with ThreadPoolExecutor(max_workers=len(accounts)) as pool:
            list(pool.map(lambda account: crash(cluster, bridge, account), accounts))

        assert receiver.held.wait(15), f"{len(receiver.received)} requests, none held"
        before = len(receiver.received)  # the held one last: the leader sends one at a time
        cluster.apps[leader].signal(signal.SIGKILL)
        killed = time.monotonic()
        cluster.apps[leader].wait_exit(5)
        receiver.release()  # to a dead sender: its delivery stays pending in the database
        wait_for(lambda: cluster.apps[other].leading(token), 15, f"{other} leading")
        took_over = time.monotonic() - killed

        seen: dict[str, Any] = {}

        def finished() -> bool:
            keys, statuses = channel_state(cluster, channel)
            undispatched = cluster.sql("SELECT count(*) AS n FROM alerts WHERE dispatched_at IS NULL")[0]["n"]
            counts = Counter(receiver.keys())
            seen.update(
                statuses=dict(statuses),
                undispatched=undispatched,
                missing=sorted(keys - set(counts)),
                requests=sum(counts.values()),
                repeated=sum(n > 1 for n in counts.values()),
            )
            return bool(keys) and undispatched == 0 and set(statuses) == {"sent"} and not seen["missing"]

        try:
            wait_for(finished, 30, "every delivery sent and received", step=0.2)
        except AssertionError as error:
            raise AssertionError(f"{error}; last seen {seen}") from None
        took = time.monotonic() - killed
    finally:
        receiver.stop()

    expected, statuses = channel_state(cluster, channel)
    counts = Counter(receiver.keys())
    duplicates = {key: n for key, n in counts.items() if n > 1}
    held = receiver.held_key()
    after_kill = {
        r.headers["X-Idempotency-Key"]
        for r, at in zip(receiver.received, receiver.arrived, strict=True)
        if at > killed
    }
    crashed = {
        row["alert_id"]
        for row in cluster.sql(
            """SELECT d.alert_id FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
               WHERE d.channel_id = $1 AND a.state::text = 'raised' AND a.level::text = 'critical'
                 AND a.key LIKE 'guard:drawdown:account:%' AND a.account_id = ANY($2::bigint[])""",
            channel,
            [a["account_id"] for a in accounts],
        )
    }
    print(
        f"\nalert failover: {len(expected)} alerts to the channel ({len(crashed)} from the {len(accounts)}"
        f" crashes), {before} requests before the kill of {leader}, {len(receiver.received)} in all,"
        f" duplicates {duplicates or 'none'}; {other} led after {took_over:.1f} s, all sent"
        f" {took:.1f} s after the kill"
    )
    # Every crash raised its critical drawdown alert, and every alert of the channel arrived.
    assert len(crashed) == len(accounts)
    assert set(counts) == expected
    # At least once, and no more than that: only sends in flight at the kill arrive twice (never
    # recorded, so the new leader sends them again): the held one, and at most the others the
    # leader had under way at once (a request already on the wire may land just after the kill).
    # What the dead leader recorded as sent is not sent again.
    assert held in duplicates and len(duplicates) <= SEND_CONCURRENCY, duplicates
    assert set(duplicates.values()) == {2}, duplicates
    # The new leader did the rest: the held one again, and what was still pending.
    assert held in after_kill and len(after_kill) > 1, after_kill
    assert statuses == Counter({"sent": len(expected)})
    attempts = cluster.sql(
        """SELECT d.attempts, (SELECT count(*) FROM alert_attempts t WHERE t.delivery_id = d.id) AS tries
           FROM alert_deliveries d WHERE d.channel_id = $1""",
        channel,
    )
    # The killed send left no trace in the database: one recorded attempt per delivery.
    assert {(row["attempts"], row["tries"]) for row in attempts} == {(1, 1)}
