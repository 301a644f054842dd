"""Reads served during abuse: read latency of well-behaved clients while other clients send
malformed and hostile requests as fast as they can, and what the hostile requests got back.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/abuse.py [--baseline 20] [--abuse 30] [--readers 20] [--abusers 8]

The app runs as `python -m dashboard run --demo` on a fresh PostgreSQL database + Redis (simulator
writing every 3 s). A steady read load (`--readers` clients with valid tokens of the nine
non-admin demo users on the three read endpoints, think time 50-150 ms) runs for a baseline window
and then for an abuse window, during which `--abusers` concurrent workers (in a separate process,
so their client-side work does not delay the readers' clock) cycle without pause through:

* login bodies of ~1.7 MB made of 100,000 distinct JSON keys;
* 10 MB bodies to the login and to `POST /api/v1/ingest/syncs|equity|quotes|positions`, without a
  token, with a trader's token and with a service account's token (created for the run);
* timestamps at calendar edges with offsets (`0001-01-01T00:00:00+14:00`,
  `9999-12-31T23:59:59-14:00`, which leave the datetime range once in UTC, and their in-range
  twins) in ingest bodies (`ts`, `taken_at`, `opened_at`) and in `since` / `until` of
  `/api/v1/reconciliation/timeline` and `/api/v1/accounts/{id}/equity`;
* NUL characters in string fields (login e-mail, a sync's `error`, a position's `signal_ref`,
  a query parameter), deeply nested JSON, invalid UTF-8 and wrong content types.

Prints read p50/p95/p99 per window (goal during abuse: p99 <= 100 ms), the hostile requests'
status histogram per case, the count of 5xx responses (0 when the app is correct) with the cases
that produced them, and the server's RSS before, at peak and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import random
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    LOGINS,
    App,
    arg_parser,
    bench_setup,
    dashboard_cli,
    main_guard,
    percentile,
    read_loop,
    tokens_for,
)

LOW = "0001-01-01T00:00:00+14:00"  # before datetime.min once in UTC
HIGH = "9999-12-31T23:59:59-14:00"  # after datetime.max once in UTC
LOW_OK = "0001-01-01T00:00:00-14:00"  # the same calendar edges, still in range in UTC
HIGH_OK = "9999-12-31T23:59:59+14:00"
TEN_MB = 10 * 1024 * 1024
SERVICE_LOGIN = "bench-service@bench.local"
INGEST = ("syncs", "equity", "quotes", "positions")

Body = bytes | Callable[[], bytes] | None


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: Body = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None


# --- the hostile requests (built in the abuse process) ---------------------------------------


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def many_keys(n: int = 100_000) -> bytes:
    """A JSON object of `n` distinct keys (~17 bytes each: ~1.7 MB for 100,000)."""
    return b"{" + b",".join(b'"k%011d":0' % i for i in range(n)) + b"}"


def chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    """`body` in HTTP/1.1 chunked transfer coding."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def ingest_body(kind: str, account_id: int, ids: itertools.count[int], ts: str, **extra: object) -> bytes:
    """A well-formed ingest body of `kind` for `account_id` at `ts`, with fresh identifiers."""
    n = next(ids)
    if kind == "syncs":
        body: dict[str, object] = {"account_id": account_id, "sync_id": f"bench-abuse-{n}", "taken_at": ts}
    elif kind == "equity":
        body = {"account_id": account_id, "ts": ts, "balance": "10000.00", "equity": "10000.00"}
    elif kind == "quotes":
        body = {"quotes": [{"symbol": "EURUSD", "bid": "1.08500", "ask": "1.08510", "ts": ts}]}
    else:
        body = {
            "account_id": account_id, "identifier": n, "ticket": n, "symbol": "EURUSD", "side": "buy",
            "volume": "0.10", "price_open": "1.08500", "opened_at": ts,
        }  # fmt: skip
    body.update(extra)
    return _json(body)


def build_cases(trader: str, service: str, account_id: int) -> list[Case]:
    json_ct = {"Content-Type": "application/json"}
    bearer = {"none": {}, "trader": {"Authorization": f"Bearer {trader}"}}
    bearer["service"] = {"Authorization": f"Bearer {service}"}
    ids = itertools.count(9_000_000_000 + random.randrange(1_000_000_000))
    now = lambda: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())  # noqa: E731
    keys = many_keys()
    ten_mb_login = b'{"email":"' + b"a" * TEN_MB + b'@demo.local","password":"demo"}'
    ten_mb = b'{"account_id":1,"pad":"' + b"A" * TEN_MB + b'"}'
    deep_array = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    login = "/api/v1/auth/login"
    cases = [
        Case("login: 100,000 distinct keys (~1.7 MB)", "POST", login, keys, json_ct),
        Case("login: 10 MB e-mail", "POST", login, ten_mb_login, json_ct),
        Case("login: 10 MB e-mail, chunked (no Content-Length)", "POST", login, chunked(ten_mb_login),
             json_ct | {"Transfer-Encoding": "chunked"}),
        Case("login: NUL in e-mail (\\u0000)", "POST", login,
             _json({"email": "trader1\u0000@demo.local", "password": "demo"}), json_ct),
        Case("login: raw NUL byte in e-mail", "POST", login,
             b'{"email":"trader1\x00@demo.local","password":"demo"}', json_ct),
        Case("login: NUL in password", "POST", login,
             _json({"email": "trader1@demo.local", "password": "de\u0000mo"}), json_ct),
        Case("login: array nested 100,000 deep", "POST", login, deep_array, json_ct),
        Case("login: object nested 50,000 deep", "POST", login, deep_object, json_ct),
        Case("login: invalid UTF-8", "POST", login, b'{"email":"\xff\xfe\xfd@demo.local","password":"demo"}',
             json_ct),
        Case("login: text/plain", "POST", login, _json({"email": "x@demo.local", "password": "x"}),
             {"Content-Type": "text/plain"}),
        Case("login: form-urlencoded", "POST", login, b"email=x%40demo.local&password=x",
             {"Content-Type": "application/x-www-form-urlencoded"}),
        Case("login: multipart garbage", "POST", login, b"--b\r\nnot a part\r\n--b--\r\n",
             {"Content-Type": "multipart/form-data; boundary=b"}),
        Case("login: no content type", "POST", login, _json({"email": "x@demo.local", "password": "x"})),
        Case("login: JSON scalar body", "POST", login, b'"x"', json_ct),
    ]  # fmt: skip
    for kind in INGEST:
        path = f"/api/v1/ingest/{kind}"
        for who, auth in bearer.items():
            cases.append(
                Case(f"ingest {kind}: 10 MB body, {who} token", "POST", path, ten_mb, json_ct | auth)
            )
        for who in ("none", "service"):
            for label, ts in (("LOW", LOW), ("HIGH", HIGH), ("LOW_OK", LOW_OK), ("HIGH_OK", HIGH_OK)):
                body = lambda kind=kind, ts=ts: ingest_body(kind, account_id, ids, ts)  # noqa: E731
                cases.append(Case(f"ingest {kind}: ts {label}, {who} token", "POST", path, body,
                                  json_ct | bearer[who]))  # fmt: skip
        service = json_ct | bearer["service"]
        cases += [
            Case(f"ingest {kind}: array nested 100,000 deep, service", "POST", path, deep_array, service),
            Case(f"ingest {kind}: invalid UTF-8, service", "POST", path,
                 b'{"account_id":1,"x":"\xff\xfe"}', service),
            Case(f"ingest {kind}: text/plain, service", "POST", path,
                 lambda kind=kind: ingest_body(kind, account_id, ids, now()),
                 {"Content-Type": "text/plain"} | bearer["service"]),
        ]  # fmt: skip
    sync_nul = lambda: ingest_body(  # noqa: E731
        "syncs", account_id, ids, now(), event_type="sync_failed", error="broker\u0000down"
    )
    position_nul = lambda: ingest_body("positions", account_id, ids, now(), signal_ref="sig\u0000ref")  # noqa: E731
    cases += [
        Case("ingest syncs: NUL in error, service", "POST", "/api/v1/ingest/syncs", sync_nul,
             json_ct | bearer["service"]),
        Case("ingest positions: NUL in signal_ref, service", "POST", "/api/v1/ingest/positions",
             position_nul, json_ct | bearer["service"]),
        Case("ingest syncs: NUL in error, trader", "POST", "/api/v1/ingest/syncs", sync_nul,
             json_ct | bearer["trader"]),
    ]  # fmt: skip
    for name, path in (
        ("timeline", "/api/v1/reconciliation/timeline"),
        ("equity", f"/api/v1/accounts/{account_id}/equity"),
    ):
        for label, params in (
            ("since LOW", {"since": LOW}),
            ("until HIGH", {"until": HIGH}),
            ("since LOW until HIGH", {"since": LOW, "until": HIGH}),
            ("since LOW_OK until HIGH_OK", {"since": LOW_OK, "until": HIGH_OK}),
            ("since HIGH_OK", {"since": HIGH_OK}),
            ("until LOW_OK", {"until": LOW_OK}),
            ("since NUL", {"since": "\u0000"}),
        ):
            cases.append(Case(f"GET {name}: {label}", "GET", path, None, bearer["trader"], params))
        cases.append(Case(f"GET {name}: since invalid UTF-8 (%FF%FE)", "GET",
                          f"{path}?since=%FF%FE", None, bearer["trader"]))  # fmt: skip
    return cases


async def send(host: str, port: int, case: Case, body: bytes | None, limit_s: float) -> tuple[str, bytes]:
    """One request on its own connection (`Connection: close`) from a raw socket that reads while
    it writes, and keeps reading after a failed write: a server that answers 413 and closes before
    a 10 MB body is sent is recorded with its status, where an HTTP library (or an asyncio stream,
    which drops its transport on the first write error) would only see a reset.
    Returns (status or "error: ...", the first bytes of the response body)."""
    loop = asyncio.get_running_loop()
    target = case.path + ("?" + urlencode(case.params) if case.params else "")
    head = [f"{case.method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in case.headers.items()]
    if body is not None and "Transfer-Encoding" not in case.headers:
        head.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)

    async def write() -> None:
        with contextlib.suppress(OSError):  # the server stopped reading: its answer is still readable
            await loop.sock_sendall(sock, request)

    writing: asyncio.Task[None] | None = None
    response = b""
    try:
        async with asyncio.timeout(limit_s):
            await loop.sock_connect(sock, (host, port))
            writing = asyncio.create_task(write())
            while len(response) < 64 * 1024:
                chunk = await loop.sock_recv(sock, 64 * 1024)
                if not chunk:
                    break
                response += chunk
    except TimeoutError:
        return "error: timeout", b""
    except OSError as error:
        if not response:
            return f"error: {type(error).__name__}", b""
    finally:
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
        sock.close()
    parts = response.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        return ("error: bad status line" if response else "error: closed without a response"), b""
    return parts[1].decode(), response.split(b"\r\n\r\n", 1)[-1][:300]


async def abuse(base: str, cases: list[Case], seconds: float, concurrency: int, ready: Any) -> dict[str, Any]:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    statuses: dict[str, Counter[str]] = {case.name: Counter() for case in cases}
    samples: dict[str, str] = {}
    ready.set()
    end = time.monotonic() + seconds

    async def worker(index: int) -> None:
        position = index * len(cases) // concurrency
        while time.monotonic() < end:
            case = cases[position % len(cases)]
            position += 1
            body = case.body() if callable(case.body) else case.body
            try:
                status, text = await send(host, port, case, body, limit_s=30)
            except (OSError, TimeoutError) as error:
                status, text = f"error: {type(error).__name__}", b""
            statuses[case.name][status] += 1
            if status.startswith("5") and case.name not in samples:
                samples[case.name] = text.decode(errors="replace")

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.monotonic() - started
    return {"statuses": {k: dict(v) for k, v in statuses.items()}, "samples": samples, "elapsed": elapsed}


def control(base: str, trader: str, service: str, account_id: int) -> None:
    """Send each request template once in its valid form (service token, a current timestamp, a
    recent window), so that a 422 in the abuse table is known to come from the hostile part."""
    ids = itertools.count(8_000_000_000 + random.randrange(1_000_000_000))
    now = datetime.now(UTC)
    results = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for kind in INGEST:
            response = client.post(
                f"/api/v1/ingest/{kind}",
                content=ingest_body(kind, account_id, ids, now.isoformat()),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {service}"},
            )
            results.append((f"POST ingest/{kind}", response))
        window = {"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()}
        for name, path in (
            ("GET timeline", "/api/v1/reconciliation/timeline"),
            ("GET equity", f"/api/v1/accounts/{account_id}/equity"),
        ):
            response = client.get(path, params=window, headers={"Authorization": f"Bearer {trader}"})
            results.append((name, response))
    print("control (valid forms of the templates): " + ", ".join(f"{n} {r.status_code}" for n, r in results))
    for name, response in results:
        if response.status_code >= 300:
            print(f"  !! {name} refused its valid form: {response.text[:200]}")


def abuse_process(
    base: str, trader: str, service: str, account_id: int, seconds: float, concurrency: int,
    ready: Any, out: Connection,
) -> None:  # fmt: skip
    """Entry point of the abuse process: the parent handles Ctrl-C and terminates it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cases = build_cases(trader, service, account_id)
    out.send(asyncio.run(abuse(base, cases, seconds, concurrency, ready)) | {"cases": len(cases)})


# --- the readers and the run ------------------------------------------------------------------


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    rss_peak: float = 0.0


async def run(app: App, trader: str, service: str, account_id: int, args: argparse.Namespace) -> None:
    tokens = await tokens_for(app.base, LOGINS)
    phases = {"baseline": Phase(), "abuse": Phase()}
    current = "warm-up"

    def record(phase: str, status: int, ms: float) -> None:
        if phase in phases:  # requests started between the windows are not counted
            phases[phase].latencies.append(ms)
            phases[phase].statuses[status] += 1

    reading = asyncio.create_task(
        read_loop(
            app.base,
            tokens,
            args.readers,
            (0.05, 0.15),
            lambda: None if current == "done" else current,
            record,
        )
    )

    async def sample_rss() -> None:
        while True:
            if current in phases:
                phases[current].rss_peak = max(phases[current].rss_peak, app.rss())
            await asyncio.sleep(0.25)

    sampling = asyncio.create_task(sample_rss())
    await asyncio.sleep(2)  # readers connected, first cache fills
    rss_before = app.rss()
    current = "baseline"
    await asyncio.sleep(args.baseline)
    current = "gap"  # the abuse process starts and builds its payloads
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=abuse_process,
        args=(app.base, trader, service, account_id, args.abuse, args.abusers, ready, send),
        daemon=True,
    )
    process.start()
    try:
        if not await asyncio.to_thread(ready.wait, 120):
            raise SystemExit("the abuse process did not start")
        current = "abuse"
        await asyncio.sleep(args.abuse)
        current = "done"
        await reading
        sampling.cancel()
        if not await asyncio.to_thread(receive.poll, 90):
            raise SystemExit("the abuse process gave no result within 90 s of the window's end")
        result: dict[str, Any] = receive.recv()
    finally:
        current = "done"
        if process.is_alive():
            process.terminate()
        process.join(10)
    await asyncio.sleep(2)
    rss_after = app.rss()
    alive = app.alive()
    health = "n/a"
    if alive:
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                health = str((await client.get(f"{app.base}/health")).status_code)
        except httpx.HTTPError as error:
            health = type(error).__name__
    report(phases, result, args, rss_before, rss_after, alive, health)


def report(
    phases: dict[str, Phase], result: dict[str, Any], args: argparse.Namespace,
    rss_before: float, rss_after: float, alive: bool, health: str,
) -> None:  # fmt: skip
    print(
        f"\n## Reads ({args.readers} clients, think 50-150 ms) without and with abuse "
        f"({args.abusers} workers)"
    )
    print("| window | seconds | reads | req/s | p50 ms | p95 ms | p99 ms | max ms | statuses |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, seconds in (("baseline", args.baseline), ("abuse", args.abuse)):
        phase = phases[name]
        values = phase.latencies
        print(
            f"| {name} | {seconds} | {len(values)} | {len(values) / seconds:.0f} "
            f"| {percentile(values, 50):.1f} | {percentile(values, 95):.1f} | {percentile(values, 99):.1f} "
            f"| {max(values, default=float('nan')):.0f} | {dict(sorted(phase.statuses.items()))} |"
        )
    p99 = percentile(phases["abuse"].latencies, 99)
    print(f"read p99 during abuse: {p99:.1f} ms (goal <= 100 ms)")

    statuses: dict[str, dict[str, int]] = result["statuses"]
    total = Counter[str]()
    for counts in statuses.values():
        total.update(counts)
    sent = sum(total.values())
    print(
        f"\n## Hostile requests: {sent} in {result['elapsed']:.1f} s ({sent / result['elapsed']:.0f}/s), "
        f"{result['cases']} cases"
    )
    print(f"status histogram: {dict(sorted(total.items()))}")
    print("| case | requests | statuses |")
    print("|---|---:|---|")
    for name, counts in statuses.items():
        print(f"| {name} | {sum(counts.values())} | {dict(sorted(counts.items()))} |")

    failures = {
        name: sum(n for status, n in counts.items() if status.isdigit() and int(status) >= 500)
        for name, counts in statuses.items()
    }
    failures = {name: n for name, n in failures.items() if n}
    print(f"\n{'!' * 72}")
    print(f"!!! 5xx responses to hostile requests: {sum(failures.values())} (0 when the app is correct)")
    for name, n in failures.items():
        sample = result["samples"].get(name, "").replace("\n", " ")
        print(f"!!!   {n:6d}  {name}  -> {sample[:160]}")
    print(f"!!! read 5xx: {sum(n for p in phases.values() for s, n in p.statuses.items() if s >= 500)}")
    print("!" * 72)
    print(
        f"\nserver RSS: before {rss_before:.0f} MB, "
        f"peak during baseline {phases['baseline'].rss_peak:.0f} MB, "
        f"peak during abuse {phases['abuse'].rss_peak:.0f} MB, after {rss_after:.0f} MB; "
        f"server {'alive' if alive else 'DEAD'}, GET /health -> {health}"
    )


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--baseline", type=int, default=20, help="seconds of reads alone")
    parser.add_argument("--abuse", type=int, default=30, help="seconds of reads under abuse")
    parser.add_argument("--readers", type=int, default=20, help="concurrent well-behaved readers")
    parser.add_argument("--abusers", type=int, default=8, help="concurrent hostile workers")
    args = parser.parse_args()
    with bench_setup("abuse") as setup:
        print(
            f"PostgreSQL database {setup.database} + Redis (namespace {setup.namespace}), simulator every "
            f"3 s; logs in {setup.workdir}",
            flush=True,
        )
        with App(setup.env, setup.workdir / "app.log") as app:
            dashboard_cli(setup.env, "users", "create", SERVICE_LOGIN, "--role", "service",
                          input="bench-service-password\n")  # fmt: skip
            service = dashboard_cli(setup.env, "users", "token", SERVICE_LOGIN, "--days", "1").strip()
            trader = asyncio.run(tokens_for(app.base, LOGINS[:1]))[0]
            accounts = httpx.get(
                f"{app.base}/api/v1/accounts", headers={"Authorization": f"Bearer {trader}"}, timeout=10
            ).json()["accounts"]
            print(f"ready via {app.ready_path}; service token issued; trader1's account {accounts[0]['id']}")
            control(app.base, trader, service, int(accounts[0]["id"]))
            asyncio.run(run(app, trader, service, int(accounts[0]["id"]), args))


if __name__ == "__main__":
    main_guard(main)
