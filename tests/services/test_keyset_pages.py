"""Keyset pagination of the detail lists: incident history, sync events and guard events.

Each list is walked page by page and must give exactly the full list, in order, with ties on the
timestamp broken by id; rows added while paging must not shift a page; filters and visibility
hold on every page; a cursor we did not make is refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.db.session import Database
from dashboard.domain.enums import GuardType, Resolution, Severity, SyncStatus
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.queries.cursor import Cursor, decode_cursor
from dashboard.services.queries.guards import guard_events
from dashboard.services.queries.reconciliation import incident_history, sync_events
from tests.services import T0, add_guard_event, add_incident, add_log, build_world

# Minutes after T0; repeated values tie on the timestamp, so the id must break the tie.
OFFSETS = [5, 1, 3, 3, 7, 1, 9, 3]


async def _walk(read, limit: int) -> tuple[list[int], int]:  # type: ignore[no-untyped-def]
    """Every id over all pages, and how many pages that took."""
    ids: list[int] = []
    cursor = None
    pages = 0
    while pages < 50:
        page = await read(limit=limit, cursor=cursor)
        pages += 1
        rows = next(v for k, v in page if isinstance(v, list))
        ids.extend(row.id for row in rows)
        if page.next_cursor is None:
            return ids, pages
        assert len(rows) == limit
        cursor = page.next_cursor
    raise AssertionError(f"the pages never ended: {ids}")


async def test_incident_history_pages_cover_the_list_once_in_order(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        for n, minutes in enumerate(OFFSETS):
            resolution = Resolution.BROKER_WINS if n % 2 else Resolution.OPEN
            severity = Severity.CRITICAL if n % 3 == 0 else Severity.WARNING
            await add_incident(
                s, w.a1, T0 + timedelta(minutes=minutes), resolution=resolution, severity=severity
            )
        await add_incident(s, w.b1, T0 + timedelta(minutes=4))  # Bob's: never in Alice's pages

    full = await incident_history(database, w.alice, limit=500)
    assert full.next_cursor is None
    assert len(full.incidents) == len(OFFSETS)
    key = [(i.first_seen_at, i.id) for i in full.incidents]
    assert key == sorted(key, reverse=True)

    for limit in (1, 3, 4, 8):
        ids, pages = await _walk(lambda **kw: incident_history(database, w.alice, **kw), limit)
        assert ids == [i.id for i in full.incidents], limit
        assert pages == -(-len(OFFSETS) // limit), limit  # ceil: a full last page ends the list

    # Filters hold on every page.
    open_ids, _ = await _walk(
        lambda **kw: incident_history(database, w.alice, resolution=Resolution.OPEN, **kw), 2
    )
    assert open_ids == [i.id for i in full.incidents if i.resolution == Resolution.OPEN]
    critical = await incident_history(database, w.alice, severity="critical")
    assert {i.severity for i in critical.incidents} == {Severity.CRITICAL}
    assert len((await incident_history(database, w.risk, limit=500)).incidents) == len(OFFSETS) + 1
    with pytest.raises(NotFound):
        await incident_history(database, w.alice, account_id=w.b1)


async def test_a_page_does_not_shift_when_newer_rows_arrive(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        for minutes in OFFSETS:
            await add_log(s, w.a1, T0 + timedelta(minutes=minutes))
    first = await sync_events(database, w.alice, limit=3)
    second = await sync_events(database, w.alice, limit=3, cursor=first.next_cursor)
    async with database.session() as s:
        for minutes in (2, 30, 31):  # newer than the cursor, and one inside the listed span
            await add_log(s, w.a1, T0 + timedelta(minutes=minutes))
    again = await sync_events(database, w.alice, limit=3, cursor=first.next_cursor)
    assert [e.id for e in again.events] == [e.id for e in second.events]
    last = first.events[-1]
    assert decode_cursor(first.next_cursor) == Cursor(last.created_at, last.id)


async def test_sync_events_filter_by_status_and_account(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        for n, minutes in enumerate(OFFSETS):
            status = SyncStatus.FAILED if n % 2 else SyncStatus.OK
            await add_log(s, w.a1 if n < 6 else w.a2, T0 + timedelta(minutes=minutes), status)
        await add_log(s, w.b1, T0)
    everything = await sync_events(database, w.alice, limit=500)
    assert len(everything.events) == len(OFFSETS)
    failed, _ = await _walk(lambda **kw: sync_events(database, w.alice, status="failed", **kw), 1)
    assert failed == [e.id for e in everything.events if e.status == SyncStatus.FAILED]
    a2 = await sync_events(database, w.alice, account_id=w.a2)
    assert {e.account_id for e in a2.events} == {w.a2} and len(a2.events) == 2
    with pytest.raises(NotFound):
        await sync_events(database, w.bob, account_id=w.a1)
    with pytest.raises(InvalidInput) as bad:
        await sync_events(database, w.alice, status="exploded")
    assert bad.value.field == "status"


async def test_guard_events_pages_include_market_events_for_traders(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        for minutes in OFFSETS:
            await add_guard_event(s, w.a1, T0 + timedelta(minutes=minutes))
        await add_guard_event(s, None, T0 + timedelta(minutes=3), GuardType.STALE_QUOTE)
        await add_guard_event(s, w.b1, T0 + timedelta(minutes=3))
    full = await guard_events(database, w.alice, limit=1000)
    assert len(full.events) == len(OFFSETS) + 1 and full.next_cursor is None
    ids, pages = await _walk(lambda **kw: guard_events(database, w.alice, **kw), 2)
    assert ids == [e.id for e in full.events] and pages == 5


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor",
        "x" * 200,
        Cursor(T0, 1).encode()[:-3],  # truncated
        "MjAyNi0wMS0wMXwx",  # a naive timestamp: "2026-01-01|1"
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwtMQ",  # a negative id
    ],
)
async def test_a_cursor_we_did_not_make_is_refused(sqlite_database: Database, cursor: str) -> None:
    w = await build_world(sqlite_database)
    with pytest.raises(InvalidInput) as refused:
        await incident_history(sqlite_database, w.alice, cursor=cursor)
    assert refused.value.field == "cursor"
