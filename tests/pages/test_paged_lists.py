"""The server-paged lists in the browser (NiceGUI's simulated user): closed positions, the incident
history, sync events and guard events show one page, "Older →" and "← Newer" walk the keyset
pages, and a filter change goes back to the newest page."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from nicegui import ui

from dashboard.db.models import TradingAccount
from dashboard.domain.enums import PositionStatus
from dashboard.runtime import current_runtime
from tests.factories import T0, make_position
from tests.pages.conftest import Web
from tests.services import add_guard_event, add_incident, add_log


async def _rows(web: Web, marker: str, until: Any = bool) -> list[dict[str, Any]]:
    """The table's rows once `until(rows)` holds (the page fills them in on its own tick)."""
    table = web.user.find(marker=marker).elements.pop()
    assert isinstance(table, ui.table)
    for _ in range(100):
        if until(table.rows):
            return list(table.rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{marker}: {len(table.rows)} rows, never what was expected")


async def test_closed_positions_walk_pages_of_25_newest_first(web: Web) -> None:
    runtime = current_runtime()
    async with runtime.database.session() as s:
        for who, count in (("a", 30), ("b", 3)):
            account = await s.get(TradingAccount, web.world.account[who])
            assert account is not None
            for n in range(count):
                await make_position(
                    s,
                    account,
                    7000 + 100 * (who == "b") + n,
                    status=PositionStatus.CLOSED,
                    closed_at=T0 + timedelta(minutes=n),
                    realized_pnl=n,
                )
    await web.login("a")
    await web.user.open("/positions")
    first = await _rows(web, "closed-positions", lambda rows: len(rows) == 25)
    assert {r["account"] for r in first} == {"a main"}
    assert [r["profit"] for r in first[:2]] == ["29.00", "28.00"]  # the newest close first
    await web.see("closed-pager-page", "Page 1")

    web.user.find(marker="closed-pager-older").click()
    second = await _rows(web, "closed-positions", lambda rows: len(rows) == 5)
    assert [r["profit"] for r in second] == ["4.00", "3.00", "2.00", "1.00", "0.00"]
    await web.see("closed-pager-page", "Page 2")

    web.user.find(marker="closed-pager-newer").click()
    again = await _rows(web, "closed-positions", lambda rows: len(rows) == 25)
    assert [r["id"] for r in again] == [r["id"] for r in first]


async def test_incident_history_filters_and_pages_on_the_server(web: Web) -> None:
    runtime = current_runtime()
    own = web.world.account["a"]
    async with runtime.database.session() as s:
        for n in range(27):
            await add_incident(s, own, T0 + timedelta(hours=1, minutes=n), symbol=f"S{n:02d}")
        for n in range(30):
            await add_log(s, own, T0 + timedelta(hours=2, minutes=n), error=f"e{n:02d}" if n % 2 else None)
    await web.login("a")
    await web.user.open("/reconciliation")
    first = await _rows(web, "incident-history", lambda rows: len(rows) == 25)
    assert first[0]["symbol"] == "S26"
    web.user.find(marker="incident-history-pager-older").click()
    # 27 of ours plus the world's one seed incident: three left on page 2.
    rest = await _rows(web, "incident-history", lambda rows: len(rows) == 3)
    assert [r["symbol"] for r in rest[:2]] == ["S01", "S00"]

    # A filter change goes back to page 1 of the filtered list.
    web.user.find(marker="history-resolution").elements.pop().set_value("broker_wins")
    await _rows(web, "incident-history", lambda rows: rows == [])
    await web.see("incident-history-pager-page", "Page 1")

    events = await _rows(web, "sync-events", lambda rows: len(rows) == 25)
    assert events[0]["error"] == "e29"
    web.user.find(marker="sync-status").elements.pop().set_value("failed")
    failed = await _rows(web, "sync-events", lambda rows: len(rows) < 25)
    assert all(r["status"] == "failed" for r in failed)


async def test_guard_events_come_20_at_a_time(web: Web) -> None:
    runtime = current_runtime()
    own = web.world.account["a"]
    async with runtime.database.session() as s:
        for n in range(24):
            await add_guard_event(s, own, T0 + timedelta(hours=3, minutes=n), message=f"m{n:02d}")
    await web.login("a")
    await web.user.open("/guards")
    first = await _rows(web, "guard-events", lambda rows: len(rows) == 20)
    assert first[0]["message"] == "m23"
    web.user.find(marker="guard-events-pager-older").click()
    rest = await _rows(web, "guard-events", lambda rows: 0 < len(rows) < 20)
    assert rest[0]["message"] == "m03" and not {r["id"] for r in rest} & {r["id"] for r in first}
    web.user.find(marker="guard-events-pager-newest").click()
    await _rows(web, "guard-events", lambda rows: len(rows) == 20 and rows[0]["message"] == "m23")
