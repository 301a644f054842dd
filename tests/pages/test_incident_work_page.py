"""Incidents as work items on `/reconciliation` with NiceGUI's simulated user: risk takes an incident
from open to acknowledged, assigned, commented and resolved (a blank note refused with a clear
message); the bulk bar acts on the filtered selection; the stats card; a trader sees state,
assignee and comments and may comment, never sees an action button, and a hand-made call is
refused by the services with nothing changed.

The world (`tests.api.conftest`): traders A and B, each with one open SL mismatch (a warning)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import ui
from sqlalchemy import func, select

from dashboard.db.models import AuditLog, DivergenceIncident, IncidentComment
from dashboard.domain.enums import Resolution, Role
from dashboard.runtime import current_runtime
from dashboard.services.errors import Forbidden
from dashboard.services.incident_work import (
    acknowledge_incident,
    assign_incident,
    bulk_incidents,
    resolve_incident,
)
from dashboard.services.viewer import Viewer
from tests.pages.conftest import Web

Rows = list[dict[str, Any]]


async def rows_of(web: Web, marker: str, until: Callable[[Rows], bool] = bool) -> Rows:
    for _ in range(100):
        tables = web.user.find(marker=marker).elements
        if tables:
            table = next(iter(tables))
            assert isinstance(table, ui.table)
            if until(table.rows):
                return list(table.rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{marker} rows never as expected")


async def incident_of(web: Web, name: str) -> DivergenceIncident:
    async with current_runtime().database.read_session() as s:
        return (
            await s.execute(
                select(DivergenceIncident).where(DivergenceIncident.account_id == web.world.account[name])
            )
        ).scalar_one()


async def incident_audit(actions: str = "incident_%") -> list[str]:
    async with current_runtime().database.read_session() as s:
        stmt = select(AuditLog.action).where(AuditLog.action.like(actions)).order_by(AuditLog.id)
        return list((await s.execute(stmt)).scalars())


def one(web: Web, marker: str) -> Any:
    (element,) = web.user.find(marker=marker).elements
    return element


async def open_detail(web: Web, incident_id: int) -> None:
    """The row's "Open" button (a table slot) emits "open" with its row."""
    await rows_of(web, "incidents", lambda rows: any(r["id"] == incident_id for r in rows))
    web.user.find(marker="incidents").trigger("open", {"id": incident_id})
    await web.see("incident-title", "sl_mismatch on EURUSD")


async def test_risk_takes_an_incident_from_open_to_resolved(web: Web) -> None:
    incident = await incident_of(web, "a")
    await web.login("risk")
    await web.user.open("/reconciliation")
    rows = await rows_of(web, "incidents", lambda rows: len(rows) == 2)
    assert {(r["state"], r["assignee"]) for r in rows} == {("open", "–")}
    await open_detail(web, incident.id)
    await web.see("incident-state", "open")
    await web.see("incident-assignee", "Assignee: nobody")

    web.user.find(marker="incident-acknowledge").click()
    await web.see("incident-state", "acknowledged")
    await web.see("incident-handled", "Acknowledged by risk@test.local")
    await rows_of(web, "incidents", lambda rows: any(r["state"] == "acknowledged" for r in rows))

    one(web, "incident-assign-to").set_value("admin@test.local")
    web.user.find(marker="incident-assign").click()
    await web.see("incident-assignee", "Assignee: admin@test.local")
    await rows_of(web, "incidents", lambda rows: any(r["assignee"] == "admin@test.local" for r in rows))

    web.user.find(marker="incident-comment-body").type("Asked the trader about the SL")
    web.user.find(marker="incident-comment").click()
    await web.user.should_see("Asked the trader about the SL", retries=40)

    web.user.find(marker="incident-resolve").click()  # no note yet
    await web.user.should_see("A resolution note is required", retries=40)
    assert (await incident_of(web, "a")).resolution is Resolution.OPEN

    web.user.find(marker="incident-note").type("The broker's SL is the one the trader set")
    web.user.find(marker="incident-resolve").click()
    await web.see("incident-state", "resolved")
    await web.see("incident-handled", "Resolved (manual) by risk@test.local")
    await web.user.should_not_see(marker="incident-resolve")  # nothing left to do on it
    await rows_of(web, "incidents", lambda rows: [r["id"] for r in rows] == [web_b_id(rows)])

    stored = await incident_of(web, "a")
    assert (stored.resolution, stored.resolved_by, stored.resolution_note) == (
        Resolution.MANUAL,
        web.world.users["risk"],
        "The broker's SL is the one the trader set",
    )
    assert stored.assignee_user_id == web.world.users["admin"]
    assert await incident_audit() == [
        "incident_acknowledged",
        "incident_assigned",
        "incident_commented",
        "incident_resolved",
    ]
    history = await rows_of(web, "incident-history", lambda rows: any(r["state"] == "resolved" for r in rows))
    resolved = next(r for r in history if r["id"] == incident.id)
    assert (resolved["resolution"], resolved["assignee"]) == ("manual", "admin@test.local")


def web_b_id(rows: Rows) -> int:
    """The one incident left open (B's) once A's is resolved."""
    return int(rows[0]["id"]) if len(rows) == 1 else -1


async def test_bulk_acknowledge_and_assign_act_on_the_filtered_selection(web: Web) -> None:
    a, b = await incident_of(web, "a"), await incident_of(web, "b")
    await web.login("admin")
    await web.user.open("/reconciliation")
    await rows_of(web, "incidents", lambda rows: len(rows) == 2)
    one(web, "incidents-account").set_value(web.world.account["a"])
    await rows_of(web, "incidents", lambda rows: [r["id"] for r in rows] == [a.id])
    web.user.find(marker="incidents-select-all").click()
    await web.see("incidents-selected", "1 selected")
    web.user.find(marker="bulk-acknowledge").click()
    await web.user.should_see("1 of 1 changed", retries=40)
    assert (await incident_of(web, "a")).acknowledged_at is not None
    assert (await incident_of(web, "b")).acknowledged_at is None  # filtered out, so not selected

    one(web, "incidents-account").set_value(0)
    await rows_of(web, "incidents", lambda rows: len(rows) == 2)
    web.user.find(marker="incidents-select-all").click()
    await web.see("incidents-selected", "2 selected")
    one(web, "bulk-assignee").set_value("risk@test.local")
    web.user.find(marker="bulk-assign").click()
    await web.user.should_see("2 of 2 changed", retries=40)
    rows = await rows_of(web, "incidents", lambda rows: all(r["assignee"] == "risk@test.local" for r in rows))
    assert {r["state"] for r in rows} == {"acknowledged", "open"}
    one(web, "incidents-state").set_value("open")
    await rows_of(web, "incidents", lambda rows: [r["id"] for r in rows] == [b.id])
    assert await incident_audit() == ["incident_acknowledged", "incident_assigned", "incident_assigned"]


async def test_the_stats_card_shows_ages_per_kind_and_account(web: Web) -> None:
    await web.login("risk")
    await web.user.open("/reconciliation")
    kinds = await rows_of(web, "incident-stats-kind", lambda rows: len(rows) == 2)
    assert [(r["name"], r["open"]) for r in kinds] == [("All kinds", 2), ("sl mismatch", 2)]
    assert all(r["age_median"] != "–" and r["ttr_median"] == "–" for r in kinds)  # none resolved yet
    accounts = await rows_of(web, "incident-stats-account", lambda rows: len(rows) == 3)
    assert [r["name"] for r in accounts] == ["All accounts", "a main", "b main"]


async def test_a_trader_sees_state_and_comments_but_no_action(web: Web) -> None:
    own, other = await incident_of(web, "a"), await incident_of(web, "b")
    runtime = current_runtime()
    await runtime.write(acknowledge_incident, Viewer(web.world.users["risk"], Role.RISK), own.id)
    await runtime.write(
        assign_incident, Viewer(web.world.users["risk"], Role.RISK), own.id, "risk@test.local"
    )
    await web.login("a")
    await web.user.open("/reconciliation")
    rows = await rows_of(web, "incidents", lambda rows: len(rows) == 1)
    assert (rows[0]["state"], rows[0]["assignee"]) == ("acknowledged", "risk@test.local")
    for marker in ("incidents-bulk", "bulk-acknowledge", "bulk-assign", "incidents-select-all"):
        await web.user.should_not_see(marker=marker)
    await open_detail(web, own.id)
    await web.see("incident-state", "acknowledged")
    for marker in ("incident-acknowledge", "incident-assign", "incident-resolve", "incident-note"):
        await web.user.should_not_see(marker=marker)
    web.user.find(marker="incident-comment-body").type("I set that SL on my phone")
    web.user.find(marker="incident-comment").click()
    await web.user.should_see("I set that SL on my phone", retries=40)

    # A hand-made "open" of someone else's incident shows nothing of it.
    web.user.find(marker="incidents").trigger("open", {"id": other.id})
    await web.user.should_see("That incident is not visible to you", retries=40)
    await web.see("incident-title", "sl_mismatch on EURUSD")  # still A's own

    # What a crafted socket event could reach is the services with A's viewer: all refused.
    trader = Viewer(web.world.users["a"], Role.TRADER)
    for call in (
        lambda: runtime.write(acknowledge_incident, trader, own.id),
        lambda: runtime.write(assign_incident, trader, own.id, None),
        lambda: runtime.write(resolve_incident, trader, own.id, "all fine"),
        lambda: runtime.write(bulk_incidents, trader, [own.id], "acknowledge"),
    ):
        with pytest.raises(Forbidden):
            await call()
    after = await incident_of(web, "a")
    assert (after.resolution, after.assignee_user_id) == (Resolution.OPEN, web.world.users["risk"])
    assert await incident_audit() == ["incident_acknowledged", "incident_assigned", "incident_commented"]
    async with runtime.database.read_session() as s:
        comments = (await s.execute(select(func.count()).select_from(IncidentComment))).scalar_one()
    assert comments == 1


async def test_an_incident_opened_while_a_comment_is_written_never_swaps_the_comments_refresh(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI once caught this race: a hand-made "open" of someone else's incident made it the panel's
    incident while the open was still being read, and the comment's refresh then read that one
    and failed with a traceback. Here the other read is held until the comment is written."""
    own, other = await incident_of(web, "a"), await incident_of(web, "b")
    queries = current_runtime().queries
    held, release = asyncio.Event(), asyncio.Event()
    read = queries.incident_detail

    async def held_for_the_other(viewer: Viewer, incident_id: int) -> Any:
        if incident_id == other.id:
            held.set()
            await release.wait()
        return await read(viewer, incident_id)

    monkeypatch.setattr(queries, "incident_detail", held_for_the_other)
    await web.login("a")
    await web.user.open("/reconciliation")
    await open_detail(web, own.id)
    web.user.find(marker="incidents").trigger("open", {"id": other.id})
    await asyncio.wait_for(held.wait(), 5)
    web.user.find(marker="incident-comment-body").type("written while another opened")
    web.user.find(marker="incident-comment").click()
    await web.user.should_see("Comment added", retries=40)
    release.set()
    await web.user.should_see("That incident is not visible to you", retries=40)
    await web.see("incident-title", "sl_mismatch on EURUSD")
    await web.user.should_see("written while another opened", retries=40)
    assert await incident_audit() == ["incident_commented"]
