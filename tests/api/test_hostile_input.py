"""Hostile input: calendar-edge timestamps, control characters, oversized, chunked, deeply nested
and mis-encoded bodies. Every one must be a 4xx (a 422 naming the field where there is a field),
never a 5xx, and a refused ingest must write nothing.

Hypothesis draws the values (deterministically: `derandomize=True`, no example database written
into the project); pytest-asyncio runs each example on the test's own event loop, so all examples of
one test share one `api` fixture (one throwaway database) and the file stays fast.
"""

from __future__ import annotations

import json
import string
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from dashboard.api.body_limits import DEFAULT_LIMIT, ROUTE_LIMITS
from dashboard.api.schemas import LoginIn
from dashboard.db.models import AuditLog, EquitySnapshot, MarketState, Position, ReconciliationLog
from dashboard.schemas.common import EARLIEST, LATEST
from tests.api.conftest import PASSWORD, Api

# ---- settings and shared checks ---------------------------------------------------------------

#: Examples per generated test (plus the explicit `@example`s): enough to sweep the calendar and the
#: control characters, few enough that the file runs in well under a minute on both backends.
EXAMPLES = 25
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INGEST_TABLES = (ReconciliationLog, EquitySnapshot, Position, MarketState)
ERROR_KEYS = {"detail", "field"}


async def ingest_rows(api: Api) -> dict[str, int]:
    """Rows of every table an ingest writes, counted in one query (run before and after each post)."""
    counts = [select(func.count()).select_from(table).scalar_subquery() for table in INGEST_TABLES]
    async with api.runtime.database.read_session() as s:
        row = (await s.execute(select(*counts))).one()
    return {table.__tablename__: count for table, count in zip(INGEST_TABLES, row, strict=True)}


async def audit_rows(api: Api) -> list[AuditLog]:
    async with api.runtime.database.read_session() as s:
        return list((await s.execute(select(AuditLog))).scalars())


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The API's error body; a 5xx, a non-JSON or a differently shaped body fails here."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    return body


def assert_names(response: httpx.Response, field: str, sent: object) -> None:
    """A 422 whose `field` is exactly `field` (one field, the dotted path for nested ones)."""
    body = error_of(response)
    assert response.status_code == 422, f"sent {sent!r}: {response.status_code} {body}"
    assert body["field"] == field, f"sent {sent!r}: {body}"
    assert field in body["detail"], body


# ---- request bodies: valid as built, so the only thing wrong is what a test puts in -------------


def recent() -> str:
    """A timestamp every ingest accepts: in the past, but newer than the seeded history."""
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def broker_position(account_id: int) -> dict[str, Any]:
    return {
        "identifier": 1000 + account_id,  # the seeded position: the sync matches it
        "ticket": 1000 + account_id,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": "1.00",
        "price_open": "1.08500",
        "price_current": "1.08600",
        "sl": "1.07000",
        "opened_at": "2026-11-02T12:00:00Z",
    }


def sync_body(api: Api) -> dict[str, Any]:
    account_id = api.world.account["a"]
    return {
        "account_id": account_id,
        "sync_id": "hostile-1",
        "taken_at": recent(),
        "positions": [broker_position(account_id)],
    }


def sync_with_exit_body(api: Api) -> dict[str, Any]:
    body = sync_body(api)
    body["exit_deals"] = [
        {"identifier": 9001, "reason": "tp", "price": "1.09000", "profit": "12.50", "time": recent()}
    ]
    return body


def failed_sync_body(api: Api) -> dict[str, Any]:
    return {
        "account_id": api.world.account["a"],
        "sync_id": "hostile-failed-1",
        "event_type": "sync_failed",
        "taken_at": recent(),
        "error": "broker timeout",
    }


def equity_body(api: Api) -> dict[str, Any]:
    return {"account_id": api.world.account["a"], "ts": recent(), "balance": "10000.00", "equity": "9990.00"}


def quotes_body(api: Api) -> dict[str, Any]:
    return {"quotes": [{"symbol": "EURUSD", "bid": "1.08500", "ask": "1.08510", "ts": recent()}]}


def position_opened_body(api: Api) -> dict[str, Any]:
    return {
        "account_id": api.world.account["a"],
        "identifier": 7001,
        "ticket": 7001,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": "1.00",
        "price_open": "1.08500",
        "signal_ref": "signal-42",
        "opened_at": recent(),
    }


def login_body(api: Api) -> dict[str, Any]:
    return {"email": api.world.email("a"), "password": PASSWORD}


def refresh_body(api: Api) -> dict[str, Any]:
    return {"refresh_token": "x" * 40}  # well formed enough to reach the field checks


@dataclass(frozen=True)
class BodyField:
    """One field of one request body: where it goes (`path`, dotted as the API names it) and a
    factory of a body that is valid as it is."""

    route: str
    path: str
    make: Callable[[Api], dict[str, Any]]

    @property
    def ingest(self) -> bool:
        return self.route.startswith("/api/v1/ingest/")

    def body(self, api: Api, value: object) -> dict[str, Any]:
        body = self.make(api)
        *parents, leaf = self.path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[leaf] = value
        return body

    def __str__(self) -> str:
        return f"{self.route.removeprefix('/api/v1/')}:{self.path}"


TIMESTAMP_FIELDS = [
    BodyField("/api/v1/ingest/syncs", "taken_at", sync_body),
    BodyField("/api/v1/ingest/syncs", "positions.0.opened_at", sync_body),
    BodyField("/api/v1/ingest/syncs", "exit_deals.0.time", sync_with_exit_body),
    BodyField("/api/v1/ingest/equity", "ts", equity_body),
    BodyField("/api/v1/ingest/quotes", "quotes.0.ts", quotes_body),
    BodyField("/api/v1/ingest/positions", "opened_at", position_opened_body),
]
STRING_FIELDS = [
    BodyField("/api/v1/auth/login", "email", login_body),
    BodyField("/api/v1/auth/login", "password", login_body),
    BodyField("/api/v1/auth/refresh", "refresh_token", refresh_body),
    BodyField("/api/v1/ingest/syncs", "sync_id", sync_body),
    BodyField("/api/v1/ingest/syncs", "error", failed_sync_body),
    BodyField("/api/v1/ingest/syncs", "positions.0.symbol", sync_body),
    BodyField("/api/v1/ingest/positions", "signal_ref", position_opened_body),
    BodyField("/api/v1/ingest/positions", "symbol", position_opened_body),
    BodyField("/api/v1/ingest/quotes", "quotes.0.symbol", quotes_body),
]
INGEST_BODIES = {
    "/api/v1/ingest/syncs": sync_with_exit_body,
    "/api/v1/ingest/equity": equity_body,
    "/api/v1/ingest/quotes": quotes_body,
    "/api/v1/ingest/positions": position_opened_body,
}


async def post_refused(api: Api, field: BodyField, value: object) -> None:
    """Post `value` in `field`: a 422 naming the field, and (for an ingest) not one row written."""
    before = await ingest_rows(api) if field.ingest else None
    headers = api.auth("bot") if field.ingest else {}
    response = await api.client.post(field.route, json=field.body(api, value), headers=headers)
    assert_names(response, field.path, value)
    if before is not None:
        assert await ingest_rows(api) == before, f"a refused ingest wrote rows (sent {value!r})"


async def test_the_base_bodies_are_valid(api: Api) -> None:
    """Guards every test below against passing vacuously: each body is accepted as built, so a
    refusal after changing one field is caused by that field."""
    for route, make in INGEST_BODIES.items():
        response = await api.client.post(route, json=make(api), headers=api.auth("bot"))
        assert response.status_code == 200, (route, response.text)
    failed = await api.client.post(
        "/api/v1/ingest/syncs", json=failed_sync_body(api), headers=api.auth("bot")
    )
    assert failed.status_code == 200, failed.text
    assert (await api.client.post("/api/v1/auth/login", json=login_body(api))).status_code == 200


# ---- timestamps ---------------------------------------------------------------------------------

#: Aware timestamps at the calendar's edges (shifting them to UTC overflows) and just outside
#: the accepted [1970, 2200) UTC, naive ones, and strings that are no timestamp at all.
EDGE_STAMPS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00+00:01",
    "2200-01-01T00:00:00Z",
    "2199-12-31T23:59:59-00:01",
    "2026-11-02T12:00:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999",
]
NONSENSE_STAMPS = [
    "",
    " ",
    "nonsense",
    "yesterday",
    "NaN",
    "inf",
    "-1e400",
    "2026-13-40T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-11-02T24:00:01Z",
    "2026-11-02T10:00:00+24:00",
    "2026-11-02T10:00:00+99:99",
    "0000-00-00T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "2026-11-02T10:00:00Z\u0000",
    "\u0000",
    "２０２６-11-02T10:00:00Z",
]


def offset_suffix(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def to_utc(local: datetime, minutes: int) -> datetime | None:
    """The instant `local` at that offset denotes, or None where it lies beyond the calendar."""
    try:
        return local.replace(tzinfo=timezone(timedelta(minutes=minutes))).astimezone(UTC)
    except OverflowError:
        return None


def accepted_range(instant: datetime | None) -> bool:
    return instant is not None and EARLIEST <= instant < LATEST


LOCAL_TIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60)
YEARS_IN_RANGE = st.integers(min_value=1970, max_value=2199)
YEARS_OUT_OF_RANGE = st.one_of(
    st.integers(min_value=1, max_value=1969), st.integers(min_value=2200, max_value=9999)
)


@st.composite
def aware_stamps(draw: st.DrawFn, *, in_range: bool) -> str:
    """An ISO 8601 string with an explicit offset from -14:00 to +14:00 (or Z) whose UTC instant
    is inside [1970, 2200) when `in_range`, else outside it (anywhere else in years 1 to 9999)."""
    local, minutes = draw(LOCAL_TIMES), draw(OFFSETS)
    # The year is drawn on the wanted side (`st.datetimes` favours years near 2000, inside the
    # range): only an offset that carries the instant across an edge of the range is rejected.
    year = draw(YEARS_IN_RANGE if in_range else YEARS_OUT_OF_RANGE)
    try:
        local = local.replace(year=year)
    except ValueError:  # 29 February
        local = local.replace(year=year, day=28)
    assume(accepted_range(to_utc(local, minutes)) == in_range)
    suffix = "Z" if minutes == 0 and draw(st.booleans()) else offset_suffix(minutes)
    return local.isoformat() + suffix


#: Strings every timestamp field must refuse: out of range, naive, or nonsense. Random nonsense
#: has no ASCII digit, since a bare number is a valid Unix timestamp to pydantic.
REFUSED_STAMPS = st.one_of(
    aware_stamps(in_range=False),
    LOCAL_TIMES.map(datetime.isoformat),
    st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters=string.digits), max_size=30),
)


def with_examples(name: str, values: Sequence[object]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Explicit examples (run before the generated ones, whatever the seed)."""

    def apply(test: Callable[..., Any]) -> Callable[..., Any]:
        for value in reversed(values):
            test = example(**{name: value})(test)
        return test

    return apply


@pytest.mark.parametrize("field", TIMESTAMP_FIELDS, ids=str)
@FUZZ
@with_examples("stamp", EDGE_STAMPS + NONSENSE_STAMPS)
@given(stamp=REFUSED_STAMPS)
async def test_ingest_timestamps_beyond_the_range_are_refused(api: Api, field: BodyField, stamp: str) -> None:
    """Every timestamp field of every ingest body refuses out-of-range, naive and nonsense values
    with a 422 naming the field (the dotted path when nested), before anything is written."""
    await post_refused(api, field, stamp)


QUERY_STAMPS = [
    ("/api/v1/reconciliation/timeline", "since"),
    ("/api/v1/reconciliation/timeline", "until"),
    ("/api/v1/accounts/{account}/equity", "since"),
    ("/api/v1/accounts/{account}/equity", "until"),
    ("/api/v1/guards/events", "since"),
]


def query_id(case: tuple[str, str]) -> str:
    return f"{case[0].removeprefix('/api/v1/')}?{case[1]}"


class Stamp(NamedTuple):
    """A timestamp query value and whether it must be refused (else it lies inside the range)."""

    text: str
    refused: bool


QUERY_VALUES = st.one_of(
    REFUSED_STAMPS.map(lambda text: Stamp(text, refused=True)),
    aware_stamps(in_range=True).map(lambda text: Stamp(text, refused=False)),
)
IN_RANGE_EDGES = ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00-14:00", "2199-12-31T23:59:59+14:00"]


@pytest.mark.parametrize("case", QUERY_STAMPS, ids=query_id)
@FUZZ
@with_examples("stamp", [Stamp(text, refused=True) for text in EDGE_STAMPS + NONSENSE_STAMPS])
@with_examples("stamp", [Stamp(text, refused=False) for text in IN_RANGE_EDGES])
@given(stamp=QUERY_VALUES)
async def test_query_timestamps_outside_the_range_are_refused_inside_served(
    api: Api, case: tuple[str, str], stamp: Stamp
) -> None:
    """Timestamp query parameters refuse the same values, naming the parameter. Any instant
    inside the range, at any offset, is served, or (`since` after the default `until`) a 422
    naming `since`; never a 5xx."""
    path, name = case
    response = await api.get(path.format(account=api.world.account["a"]), "risk", params={name: stamp.text})
    if stamp.refused:
        assert_names(response, name, stamp.text)
    elif response.status_code != 200:
        assert_names(response, "since", stamp.text)


# ---- control characters -------------------------------------------------------------------------

#: What the contract refuses: C0 controls but tab, newline and carriage return; and DEL.
CONTROL = [chr(code) for code in range(0x20) if chr(code) not in "\t\n\r"] + ["\x7f"]
#: Printable, non-whitespace ends: `str_strip_whitespace` cannot move a control character out of
#: the value (that case, stripping instead of refusing, has its own test below).
ENDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)
FILLER = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=10)  # no surrogate: JSON


@st.composite
def with_control(draw: st.DrawFn) -> str:
    """A string holding at least one control character, somewhere inside it."""
    inner = draw(st.lists(st.tuples(FILLER, st.sampled_from(CONTROL)), min_size=1, max_size=3))
    return draw(ENDS) + "".join(text + char for text, char in inner) + draw(FILLER) + draw(ENDS)


CONTROL_EXAMPLES = ["a\u0000b", "\u0000", "\u0000abc", "abc\u0000", "a\u0001b", "a\u001fb", "a\u007fb"]


@pytest.mark.parametrize("field", STRING_FIELDS, ids=str)
@FUZZ
@with_examples("text", CONTROL_EXAMPLES)
@given(text=with_control())
async def test_control_characters_in_body_strings_are_refused(api: Api, field: BodyField, text: str) -> None:
    """NUL (which PostgreSQL refuses outright) and the other control characters never reach a
    database or a log: a 422 naming the field, nothing written."""
    await post_refused(api, field, text)


#: String query parameters (`{}` marks a path parameter) and the field their error names.
PARAMETERS = [
    ("/api/v1/positions?symbol", "symbol"),
    ("/api/v1/positions?sort", "sort"),
    ("/api/v1/positions?side", "side"),
    ("/api/v1/guards/events?guard_type", "guard_type"),
    ("/api/v1/risk/accounts?level", "level"),
    ("/api/v1/positions/{}", "position_id"),
    ("/api/v1/accounts/{}/equity", "account_id"),
]


async def get_with(api: Api, where: str, text: str) -> httpx.Response:
    if "?" in where:
        path, name = where.split("?")
        return await api.get(path, "risk", params={name: text})
    # A slash, even encoded, would split the segment and reach another route (a 404).
    return await api.get(where.format(quote(text.replace("/", ""), safe="")), "risk")


@settings(FUZZ, max_examples=10 * len(PARAMETERS))  # one request each: cheap
@with_examples(
    "case",
    [(where, field, text) for where, field in PARAMETERS for text in ("\u0000", "1\u0000", "a\u001fb")],
)
@with_examples(
    "case", [(PARAMETERS[1][0], "sort", "opened_at\u0000"), (PARAMETERS[0][0], "symbol", "EURUSD\u0000")]
)
@given(case=st.tuples(st.sampled_from(PARAMETERS), with_control()).map(lambda c: (*c[0], c[1])))
async def test_control_characters_in_query_and_path_parameters_are_refused(
    api: Api, case: tuple[str, str, str]
) -> None:
    """NUL and the other control characters in a string query parameter (or a path parameter) are
    a 422 naming it, whatever else the value holds."""
    where, field, text = case
    assert_names(await get_with(api, where, text), field, text)


async def test_login_with_nul_never_reaches_the_database_or_the_audit_log(api: Api) -> None:
    """PostgreSQL refuses NUL in text: a NUL that got as far as the user lookup or the audit row
    would be a 500. It must be refused (422, or 401 with the generic message) and leave no row."""
    before = len(await audit_rows(api))
    for email, password in (
        ("a\u0000@test.local", PASSWORD),
        ("\u0000a@test.local", PASSWORD),
        ("a@test.local\u0000", "x"),
        ("\u0000\u0000\u0000", "x"),
        (api.world.email("a"), PASSWORD + "\u0000"),
    ):
        response = await api.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        body = error_of(response)
        assert (response.status_code, body["field"]) in (
            (422, "email" if "\u0000" in email else "password"),
            (401, None),
        ), body
        if response.status_code == 401:
            assert body["detail"] == "invalid email or password"
    rows = await audit_rows(api)
    assert not [row for row in rows if "\u0000" in f"{row.target}{row.client_addr}{json.dumps(row.detail)}"]
    assert len(rows) == before


#: Values valid as they are, for the edge test: the control character is added at either end.
VALID_STRINGS: dict[str, str] = {
    "email": "a@test.local",
    "password": PASSWORD,
    "sync_id": "hostile-edge-1",
    "error": "broker timeout",
    "positions.0.symbol": "EURUSD",
    "signal_ref": "signal-42",
    "symbol": "EURUSD",
    "quotes.0.symbol": "EURUSD",
}


async def test_control_characters_at_the_ends_are_refused_not_stripped(api: Api) -> None:
    """VT and FF are control characters the contract refuses, but they are also whitespace to
    `str_strip_whitespace`, which runs before the control-character check: at either end of a
    value they are silently stripped and the request goes through (a login succeeds with
    `password + "\\v"`, an ingest is written). The value must be refused like any other."""
    outcomes = []
    cases = [
        (field, value)
        for field in STRING_FIELDS
        if field.path in VALID_STRINGS
        for value in (VALID_STRINGS[field.path] + "\u000b", "\u000c" + VALID_STRINGS[field.path])
    ]
    for serial, (field, value) in enumerate(cases):
        body = field.body(api, value)
        # A new sync or fill each time (unless that is the field): accepted, not a duplicate.
        if "sync_id" in body and field.path != "sync_id":
            body["sync_id"] = f"hostile-edge-{serial}"
        if "identifier" in body:
            body["identifier"] = body["ticket"] = 7100 + serial
        before = await ingest_rows(api)
        headers = api.auth("bot") if field.ingest else {}
        response = await api.client.post(field.route, json=body, headers=headers)
        assert response.status_code < 500, response.text
        written = await ingest_rows(api) != before
        if response.status_code != 422 or response.json()["field"] != field.path or written:
            outcomes.append(
                f"{field} {value!r} -> {response.status_code} {response.text[:100]} (rows written: {written})"
            )
    assert not outcomes, "accepted instead of refused:\n" + "\n".join(outcomes)


# ---- body size ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A POST route, who calls it, and what a small unknown-field body gets there (not a 413)."""

    path: str
    as_: str | None
    normal: int

    @property
    def limit(self) -> int:
        """The limit `body_limits` documents for the route (its first matching prefix, else the
        default)."""
        for prefix, limit in ROUTE_LIMITS:
            if self.path.startswith(prefix):
                return limit
        return DEFAULT_LIMIT

    def __str__(self) -> str:
        return self.path.removeprefix("/api/v1/")


ROUTES = [
    Route("/api/v1/ingest/syncs", "bot", 422),
    Route("/api/v1/ingest/quotes", "bot", 422),
    Route("/api/v1/ingest/equity", "bot", 422),
    Route("/api/v1/ingest/positions", "bot", 422),
    Route("/api/v1/auth/login", None, 422),
    Route("/api/v1/auth/refresh", None, 422),
    Route("/api/v1/positions", "risk", 404),  # GET only: a POST is the API's unknown-endpoint 404
    Route("/api/v1/no-such-endpoint", "risk", 404),
]


def padded(size: int) -> bytes:
    """A JSON object of exactly `size` bytes with one unknown field."""
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(body) == size
    return body


async def chunked(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """httpx sends an async iterator chunked, without a Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def post_raw(
    api: Api, route: Route, content: bytes | AsyncIterator[bytes], content_type: str = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": content_type, **(api.auth(route.as_) if route.as_ else {})}
    return await api.client.post(route.path, content=content, headers=headers)


def described(response: httpx.Response) -> str:
    return f"{response.status_code} {response.headers.get('content-type')} {response.text[:100]!r}"


def client_error_problem(response: httpx.Response, allowed: tuple[int, ...]) -> str | None:
    """None when `response` has an allowed status and the API's JSON error body, else what it is."""
    if response.status_code not in allowed:
        return described(response)
    if not response.headers.get("content-type", "").startswith("application/json"):
        return described(response)
    body = response.json()
    return None if isinstance(body, dict) and set(body) == ERROR_KEYS else described(response)


def too_large_problem(response: httpx.Response) -> str | None:
    """None when `response` is a 413 with the API's JSON error body, else what it is."""
    return client_error_problem(response, (413,))


def assert_too_large(response: httpx.Response) -> None:
    problem = too_large_problem(response)
    assert problem is None, f"expected a 413 with the JSON error body, got {problem}"


async def test_bodies_over_the_route_limit_are_refused(api: Api) -> None:
    """On every route (each with its own limit), one byte over the limit is a 413 whether the
    length is declared or the body is chunked; exactly at the limit the request is processed as
    usual, declared or chunked. (One test for all routes: the fixture costs more than the checks.)"""
    before = await ingest_rows(api)
    failures = []
    for route in ROUTES:
        over, at = padded(route.limit + 1), padded(route.limit)
        for how, content in (
            ("declared", over),
            ("chunked", chunked(over)),
            ("1 KB chunks", chunked(over, 1000)),
        ):
            if problem := too_large_problem(await post_raw(api, route, content)):
                failures.append(f"{route}, {route.limit + 1} bytes {how}: {problem}")
        for how, content in (("declared", at), ("chunked", chunked(at)), ("1 KB chunks", chunked(at, 1000))):
            response = await post_raw(api, route, content)
            field = response.json().get("field") if response.status_code == 422 else "pad"
            if response.status_code != route.normal or field != "pad":
                failures.append(f"{route}, {route.limit} bytes {how}: {described(response)}")
    assert not failures, "\n".join(failures)
    assert await ingest_rows(api) == before


async def test_a_login_of_100000_keys_is_refused_before_it_is_read(api: Api) -> None:
    """About 1.7 MB of distinct keys: pydantic would build one error per key; it never gets there."""
    login = Route("/api/v1/auth/login", None, 422)
    body = json.dumps({f"key{i}": i for i in range(100_000)}).encode()
    assert len(body) > 1_500_000
    assert_too_large(await post_raw(api, login, body))
    assert_too_large(await post_raw(api, login, chunked(body)))


async def test_unknown_keys_make_one_error_naming_the_first(api: Api) -> None:
    """200 unknown keys under the limit: one error (not 200), naming the first unknown key."""
    unknown = {f"unknown{i:03d}": i for i in range(200)}
    body = {"email": api.world.email("a"), **unknown, "password": "x"}
    encoded = json.dumps(body).encode()
    login = Route("/api/v1/auth/login", None, 422)
    assert len(encoded) < login.limit
    for content in (encoded, chunked(encoded, size=500)):
        response = await post_raw(api, login, content)
        assert_names(response, "unknown000", "200 unknown keys")
        assert error_of(response)["detail"] == "unknown000: Extra inputs are not permitted"
    with pytest.raises(ValidationError) as refused:
        LoginIn.model_validate(body)
    assert refused.value.error_count() == 1
    assert refused.value.errors()[0]["loc"] == ("unknown000",)


# ---- malformed bodies ---------------------------------------------------------------------------

BODY_ROUTES = [
    Route("/api/v1/ingest/syncs", "bot", 422),
    Route("/api/v1/ingest/equity", "bot", 422),
    Route("/api/v1/ingest/quotes", "bot", 422),
    Route("/api/v1/ingest/positions", "bot", 422),
    Route("/api/v1/auth/login", None, 422),
    Route("/api/v1/auth/refresh", None, 422),
]


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]", inner: bytes = b"") -> bytes:
    return open_ * depth + inner + close * depth


#: Bodies that are no valid request anywhere, whether the JSON parser gives up or not.
MALFORMED: list[tuple[str, bytes]] = [
    ("5000 nested arrays", nested(5000)),
    ("1200 nested arrays", nested(1200)),
    ("900 nested arrays", nested(900)),
    ("2000 nested objects", nested(2000, b'{"a":', b"}", b"1")),
    ("900 nested arrays in a field", b'{"pad":' + nested(900) + b"}"),
    ("900 nested objects in a field", b'{"pad":' + nested(900, b'{"a":', b"}", b"1") + b"}"),
    ("invalid UTF-8 in a value", b'{"pad":"\xff\xfe\xc3\x28"}'),
    ("invalid UTF-8 in a key", b'{"\xff\xfe":"x"}'),
    ("overlong UTF-8 NUL", b'{"pad":"\xc0\x80"}'),
    ("UTF-8 encoded surrogate", b'{"pad":"\xed\xa0\x80"}'),
    ("lone surrogate escape in a value", b'{"pad":"\\ud800"}'),
    ("lone surrogate escape in a key", b'{"\\ud800":"x"}'),
    ("UTF-16 without BOM", '{"pad":"x"}'.encode("utf-16-le")),
    ("UTF-16 with BOM", '{"pad":"x"}'.encode("utf-16")),
    ("BOM then JSON", b'\xef\xbb\xbf{"pad":"x"}'),
    ("truncated", b'{"pad":"x'),
    ("empty", b""),
    ("whitespace", b"  \n "),
    ("null", b"null"),
    ("a list", b'[{"pad":"x"}]'),
    ("a string", b'"pad"'),
    ("NaN", b'{"pad":NaN}'),
    ("1e999", b'{"pad":1e999}'),
    ("3000-digit number", b'{"pad":' + b"9" * 3000 + b"}"),
    ("5000-digit number", b'{"pad":' + b"9" * 5000 + b"}"),
    ("NUL byte outside a string", b'{"pad":"x"}\x00'),
    ("trailing garbage", b'{"pad":"x"}{}'),
    ("duplicate keys", b'{"pad":"x","pad":"y"}'),
]
#: Content types that are not JSON (the body is valid JSON with an unknown field: any parse of it
#: is a 422 naming `pad`, no parse a 4xx).
CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/octet-stream",
    "",
    "application/json; charset=utf-16",
    "application/json\u0000",
    "*/*",
]


async def test_malformed_bodies_are_client_errors(api: Api) -> None:
    """Deep nesting (past the parser's recursion limit), invalid UTF-8, odd encodings and wrong
    content types, on every route with a body: a 4xx in the API's error shape, nothing written, no
    audit row."""
    rows, audits = await ingest_rows(api), len(await audit_rows(api))
    failures = []
    cases = [(name, body, "application/json") for name, body in MALFORMED]
    cases += [(f"Content-Type {ctype!r}", b'{"pad":"x"}', ctype) for ctype in CONTENT_TYPES]
    for route in BODY_ROUTES:
        for name, content, content_type in cases:
            response = await post_raw(api, route, content, content_type)
            if problem := client_error_problem(response, (400, 413, 415, 422)):
                failures.append(f"{route}, {name}: {problem}")
    assert not failures, "\n".join(failures)
    assert await ingest_rows(api) == rows
    assert len(await audit_rows(api)) == audits


async def test_a_declared_length_that_is_no_number_is_a_client_error(api: Api) -> None:
    """A `Content-Length` that is no (sane) number: refused as too large or read as it comes, a
    4xx in the API's error shape either way."""
    failures = []
    for declared in ("abc", "1e3", "0x10", "", "99999999999999999999999"):
        response = await api.client.post(
            "/api/v1/auth/login",
            content=b"{}",
            headers={"Content-Type": "application/json", "Content-Length": declared},
        )
        if problem := client_error_problem(response, (400, 411, 413, 422)):
            failures.append(f"Content-Length {declared!r}: {problem}")
    assert not failures, "\n".join(failures)
