"""Pages during a database outage: the tab stays on its page with stale banners that say how old
the data is (a stale value served by the cache counts as stale), a page opened during the outage
still shows its frame, nothing is logged per tab or tick, and the page heals itself afterwards."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nicegui import ui

from dashboard.db.outage import DatabaseUnavailable
from dashboard.runtime import Runtime, current_runtime
from tests.pages.conftest import Web
from tests.pages.test_pages import fast_refresh


def take_database_down(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read session fails as it does when PostgreSQL is stopped (the cache still has values)."""

    @contextlib.asynccontextmanager
    async def unreachable() -> AsyncIterator[Any]:
        raise DatabaseUnavailable("database unavailable")
        yield  # pragma: no cover

    monkeypatch.setattr(runtime.database, "read_session", unreachable)


def visible_banner(web: Web, name: str) -> ui.label:
    return next(iter(web.user.find(marker=f"stale-{name}").elements))  # type: ignore[return-value]


async def test_an_outage_marks_old_data_stale_with_its_age_and_keeps_the_tab(
    web: Web, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await fast_refresh(web, "a")  # a 2 s tick
    await web.login("a")
    runtime = current_runtime()
    monkeypatch.setattr(runtime.settings, "cache_ttl_s", 1.0)  # freshness: max(3 ticks, 3 TTL) = 6 s
    await web.user.open("/reconciliation")
    await web.see("total-syncs", "1")
    with caplog.at_level(logging.WARNING):
        take_database_down(runtime, monkeypatch)
        # The cache keeps serving its last values (as_of from before the outage); once they are
        # older than the panel's freshness the banner says so, with their age.
        await web.see("stale-status", "ago", retries=150)
        await web.see("total-syncs", "1")  # the numbers stay on screen
        await web.user.should_not_see(marker="login-form")  # the session re-check failed, the tab stays
    assert "s ago" in visible_banner(web, "status").text and visible_banner(web, "status").visible
    page_logs = [r for r in caplog.records if r.name.startswith(("dashboard.pages", "nicegui"))]
    assert page_logs == []  # no traceback per tab per tick


async def test_a_page_opened_during_an_outage_shows_its_frame_and_heals(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fast_refresh(web, "b")
    await web.login("b")
    runtime = current_runtime()
    runtime.cache.local.clear()  # nothing cached: not even the user's session state
    take_database_down(runtime, monkeypatch)
    await web.user.open("/positions")  # the signed session is enough to show the frame
    await web.see("user-role", "trader")
    await web.see("stale-positions", "not available yet", retries=60)
    monkeypatch.undo()  # the database is back
    await web.see("totals", "USD", retries=100)  # rebuilt with its data, no login needed
    await web.user.should_not_see(marker="login-form")
