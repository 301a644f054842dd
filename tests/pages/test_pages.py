"""Each page and role with NiceGUI's simulated user: what a trader, a risk user and an admin see
and may not see, live refresh, session end, acknowledgement and CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from nicegui import ui
from sqlalchemy import select

from components.live import PAUSED_CHECK_S, LivePage
from dashboard.db.models import AccountRiskState, AuditLog, GuardEvent
from dashboard.runtime import current_runtime
from dashboard.services.alerts.silence import mark_silent_accounts
from dashboard.services.ingestion.equity import record_equity
from tests.factories import T0
from tests.pages.conftest import Web, served_client


async def test_pages_need_a_session_and_login_sends_you_back(web: Web) -> None:
    await web.user.open("/positions")  # redirected
    await web.see("login-form")
    assert await web.login("a", next="/positions") == 303
    await web.user.open("/positions")
    await web.see("positions")


async def test_wrong_password_shows_one_generic_message(web: Web) -> None:
    response = await web.user.http_client.post(
        "/auth/session", data={"email": "a@test.local", "password": "nope", "next": "/risk"}
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login?error=invalid")
    await web.user.open(response.headers["location"])
    await web.user.should_see("Invalid email or password.")


async def test_next_is_limited_to_our_own_paths(web: Web) -> None:
    for evil in ("https://evil.example/x", "//evil.example", "/\\evil", "javascript:alert(1)"):
        response = await web.user.http_client.post(
            "/auth/session", data={"email": "a@test.local", "password": "correct horse battery", "next": evil}
        )
        assert response.headers["location"] == "/reconciliation", evil


def menu_links(web: Web, marker: str) -> str:
    (menu,) = web.user.find(marker=marker).elements
    assert isinstance(menu, ui.html)
    return menu.content


async def test_trader_reconciliation_shows_own_numbers(web: Web) -> None:
    await web.login("a")
    await web.user.open("/reconciliation")
    await web.see("total-syncs", "1")
    await web.see("divergences", "1")
    await web.see("user-role", "trader")
    web.user.find(marker="incidents")
    for menu in ("nav-main", "nav-menu"):  # the header's links and the phone drawer's
        links = menu_links(web, menu)
        assert 'href="/positions"' in links and 'href="/risk"' not in links, links
        assert '<a href="/reconciliation" class="' in links and 'aria-current="page"' in links


async def test_risk_user_sees_every_account_and_the_wall(web: Web) -> None:
    await web.login("risk")
    await web.user.open("/reconciliation")
    await web.see("total-syncs", "2")
    assert 'href="/risk"' in menu_links(web, "nav-main")
    await web.user.open("/risk")
    for name in ("a", "b"):
        await web.see(f"wall-{web.world.account[name]}")
    await web.see("wall-summary", "2 accounts")


async def test_a_silent_account_is_shown_silent_on_the_wall_and_its_gauges(web: Web) -> None:
    """A dead bridge freezes every gauge on its last value: the pages must say so."""
    runtime = current_runtime()
    silent = web.world.account["a"]
    async with runtime.database.session() as s:
        state = await s.get(AccountRiskState, silent)
        assert state is not None
        state.last_sync_at = datetime.now(UTC) - timedelta(hours=1)
    found = await runtime.write(mark_silent_accounts, datetime.now(UTC) - timedelta(hours=1))
    assert silent in found.account_ids
    await web.login("risk")
    await web.user.open("/risk")
    await web.see(f"wall-line-{silent}", "SILENT since")
    await web.see("wall-summary", "silent")
    await web.user.open(f"/guards?account={silent}")
    await web.see(f"account-detail-{silent}", "SILENT since")
    await web.user.should_not_see(marker=f"wall-line-{web.world.account['b']}", content="SILENT")


async def test_trader_is_refused_the_risk_wall(web: Web) -> None:
    await web.login("a")
    await web.user.open("/risk")
    await web.see("forbidden")
    await web.user.should_not_see(marker=f"wall-{web.world.account['b']}")


async def test_positions_show_only_own_rows_and_export_exactly_them(web: Web) -> None:
    await web.login("b")
    await web.user.open("/positions")
    await web.see("totals", "USD")
    table = web.user.find(marker="positions").elements.pop()
    assert isinstance(table, ui.table)
    for _ in range(40):
        if table.rows:
            break
        await web.user.should_see(marker="positions")
    accounts = {row["account"] for row in table.rows}
    assert len(table.rows) == 1 and accounts == {"b main"}  # the name people know, not an id
    assert table.rows[0]["login"]  # the broker login on hover
    web.user.find(marker="export").click()
    download = await web.user.download.next()
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0][:4] == ["Account", "Login", "Symbol", "Side"] and len(rows) == 1 + len(table.rows)
    assert rows[1][0] == "b main" and rows[1][1] == table.rows[0]["login"] and rows[1][2] == "EURUSD"


async def test_guards_trader_sees_own_gauges_and_can_acknowledge(web: Web) -> None:
    await web.login("a")
    own, other = web.world.account["a"], web.world.account["b"]
    await web.user.open("/guards")
    await web.see(f"dd-gauge-{own}")
    await web.user.should_not_see(marker=f"dd-gauge-{other}")
    runtime = current_runtime()
    async with runtime.database.read_session() as s:
        event_id = (
            (await s.execute(select(GuardEvent.id).where(GuardEvent.account_id == own))).scalars().first()
        )
    table = web.user.find(marker="guard-events").elements.pop()
    for _ in range(40):
        if table.rows:
            break
        await web.user.should_see(marker="guard-events")
    # The row's "Acknowledge" button (a table slot) emits "ack" with its row.
    web.user.find(marker="guard-events").trigger("ack", {"id": event_id})
    await web.user.should_see("Acknowledged", retries=40)
    async with runtime.database.read_session() as s:
        event = await s.get(GuardEvent, event_id)
        audit = (
            (await s.execute(select(AuditLog).where(AuditLog.action == "guard_event_acknowledged")))
            .scalars()
            .all()
        )
    assert event is not None and event.acknowledged_by == web.world.users["a"]
    assert len(audit) == 1 and audit[0].target == f"guard_event:{event_id}"


async def test_logout_elsewhere_ends_this_page_within_a_tick(web: Web) -> None:
    await web.login("a")
    await web.user.open("/reconciliation")
    await web.see("total-syncs", "1")
    runtime = current_runtime()
    principal = await runtime.auth.principal(web.user.http_client.cookies["tb_session"])
    await runtime.auth.logout(principal, None)  # "another tab" logs out
    await web.see("login-form", retries=100)


async def fast_refresh(web: Web, name: str) -> None:
    """Pick the 2 s refresh for this user, as the selector would (it is remembered per user)."""
    from nicegui import app

    from components.live import refresh_key

    app.storage.general[refresh_key(web.world.users[name])] = 2


async def test_refresh_choice_is_remembered_per_user(web: Web) -> None:
    await web.login("a")
    await web.user.open("/reconciliation")
    selector = web.user.find(marker="refresh-select").elements.pop()
    assert selector.value == 5  # the default
    web.user.find(marker="refresh-select").click()
    web.user.find("10 s").click()
    assert selector.value == 10
    await web.user.open("/positions")
    assert web.user.find(marker="refresh-select").elements.pop().value == 10


async def test_stale_banner_appears_and_clears_by_itself(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    await fast_refresh(web, "a")
    await web.login("a")
    runtime = current_runtime()
    original = runtime.queries.reconciliation_status

    async def down(*args: object, **kwargs: object) -> object:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(runtime.queries, "reconciliation_status", down)
    await web.user.open("/reconciliation")
    await web.see("stale-status", "retrying", retries=60)
    banner = web.user.find(marker="stale-status").elements.pop()
    elements_before = len(web.user.client.elements)
    monkeypatch.setattr(runtime.queries, "reconciliation_status", original)
    await web.see("total-syncs", "1", retries=60)
    for _ in range(60):
        if not banner.visible:
            break
        await web.user.should_see(marker="total-syncs")
    assert not banner.visible
    await web.user.should_see(marker="total-syncs", retries=30)
    assert len(web.user.client.elements) == elements_before  # ticks update elements, never add them


async def test_the_equity_chart_reaches_back_a_year(web: Web) -> None:
    """The world's equity is weeks old: the 24-h window is empty, a year's (drawn from the hourly
    rollups ingestion keeps) shows it."""
    await web.login("a")
    await web.user.open("/guards")
    await web.see(f"dd-gauge-{web.world.account['a']}")
    plot = web.user.find(marker="equity").elements.pop()
    span = web.user.find(marker="equity-window").elements.pop()
    assert isinstance(plot, ui.plotly) and isinstance(span, ui.toggle)
    assert set(span.options) >= {"30d", "90d", "1y"}

    def points() -> int:
        data = plot.figure.get("data", []) if isinstance(plot.figure, dict) else []
        return len(data[0].get("x", [])) if data else 0

    assert points() == 0  # nothing in the last 24 h
    span.set_value("1y")
    for _ in range(100):
        if points():
            break
        await asyncio.sleep(0.05)
    assert points() > 0


async def test_a_level_change_raises_a_toast(web: Web) -> None:
    await fast_refresh(web, "a")
    await web.login("a")
    await web.user.open("/guards")
    await web.see(f"dd-gauge-{web.world.account['a']}")
    await web.user.should_see("level warning", retries=60)
    runtime = current_runtime()
    result = await record_equity(
        runtime.database,
        {
            "account_id": web.world.account["a"],
            "ts": T0 + timedelta(minutes=9),
            "balance": "10000.00",
            "equity": "8400.00",
        },
    )
    await runtime.cache.invalidate(result.touched)
    await web.user.should_see("drawdown warning → critical", retries=80)


async def test_socket_and_cookie_writes_accept_only_our_origin(web: Web) -> None:
    client = web.user.http_client
    socket = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"
    assert (await client.get(socket, headers={"Origin": "http://evil.example"})).status_code == 403
    assert (await client.get(socket, headers={"Origin": "http://test"})).status_code != 403
    await web.login("a")
    async with served_client() as both:
        # As served, the socket goes straight to socket.io (past the pages' middleware): still
        # only from our origin, and engine.io's handshake answers.
        assert (await both.get(socket, headers={"Origin": "http://evil.example"})).status_code == 403
        handshake = await both.get(socket, headers={"Origin": "http://test"})
        assert handshake.status_code == 200 and handshake.text.startswith('0{"sid":'), handshake.text
        both.cookies = client.cookies
        evil = await both.post("/api/v1/auth/logout", headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        mine = await both.post("/api/v1/auth/logout", headers={"Origin": "http://test"})
        assert mine.status_code == 204  # the cookie session logs out through the API from our origin
    await web.user.open("/reconciliation")
    await web.see("login-form")


async def test_the_api_answers_in_front_of_the_pages(web: Web) -> None:
    async with served_client() as both:
        anonymous = await both.get("/api/v1/positions")
        unknown = await both.get("/api/v1/no-such-thing")
        page = await both.get("/reconciliation")
        ready = await both.get("/health/ready")
    assert anonymous.status_code == 401 and anonymous.json()["detail"] == "authentication required"
    assert unknown.status_code == 404 and unknown.json()["field"] is None  # JSON, never a page
    assert page.status_code == 303 and page.headers["location"].startswith("/login")  # pages behind
    assert ready.status_code == 200 and ready.json() == {"ready": True, "reasons": []}


async def test_a_paused_tab_still_leaves_when_its_session_ends(web: Web) -> None:
    await web.login("a")
    await web.user.open("/reconciliation")
    await web.see("total-syncs", "1")
    web.user.find(marker="refresh-select").click()
    web.user.find("pause").click()
    runtime = current_runtime()
    live = next(
        t.callback.__self__
        for t in web.user.client.elements.values()
        if isinstance(t, ui.timer) and isinstance(getattr(t.callback, "__self__", None), LivePage)
    )
    if live.timer is None:  # the periodic timer starts at a random phase after the first tick
        live._periodic()
    assert live.timer is not None and live.timer.active
    assert live.timer.interval == PAUSED_CHECK_S  # paused: the session check goes on
    principal = await runtime.auth.principal(web.user.http_client.cookies["tb_session"])
    await runtime.auth.logout(principal, None)
    await live.timer.callback()  # the next (30 s) check, without waiting 30 s
    await web.see("login-form")


def test_prices_are_shown_exactly_without_storage_zeros() -> None:
    from decimal import Decimal

    from components.positions import number as _num

    assert _num(Decimal("40278.10000000")) == "40278.1"
    assert _num(Decimal("18187.00000000")) == "18187"
    assert _num(Decimal("1.08512000")) == "1.08512"
    assert _num(None) == "–"
