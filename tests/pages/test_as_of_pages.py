"""The dashboard as it was, with NiceGUI's simulated user: `/risk`, `/guards` and `/reconciliation`
with `?at=` show the banner and the values of that moment (history written through the real
ingestion services, before and after a drawdown breach), the live pages have no banner, a bad
moment is a message over the live page, a trader still sees only their own accounts, and the time
control's choices change the URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nicegui import ui
from sqlalchemy import func, select

from components.as_of_url import format_at
from dashboard.db.models import GuardEvent
from dashboard.runtime import current_runtime
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.positions import record_position_opened
from dashboard.services.ingestion.sync import record_sync
from tests.factories import T0
from tests.pages.conftest import Web

BREACH = T0 + timedelta(minutes=10)  # equity 8,400 of a 10,000 HWM: 16 %, critical
RECOVERED = T0 + timedelta(minutes=20)  # 9,900: 1 %, normal (what the live page shows)
DURING = T0 + timedelta(minutes=15)
OPENED = T0 + timedelta(minutes=30)  # a new position, missing at the broker's next sync
NOTICED = T0 + timedelta(minutes=40)
AFTER = T0 + timedelta(minutes=45)
NEW_TICKET = 3001


async def breach_and_recovery(web: Web) -> None:
    """Trader A's account: the world's warning (11 % at T0+3m), a breach, a recovery; then a
    position opened that the broker's next sync does not report (a new incident)."""
    runtime = current_runtime()
    own = web.world.account["a"]
    for ts, equity in ((BREACH, "8400.00"), (RECOVERED, "9900.00")):
        body = {"account_id": own, "ts": ts.isoformat(), "balance": "10000.00", "equity": equity}
        await runtime.write(record_equity, body)
    opened = {
        "account_id": own,
        "identifier": NEW_TICKET,
        "ticket": NEW_TICKET,
        "symbol": "GBPUSD",
        "side": "sell",
        "volume": "0.50",
        "price_open": "1.27000",
        "opened_at": OPENED.isoformat(),
    }
    await runtime.write(record_position_opened, opened)
    held = {
        "identifier": 1000 + own,
        "ticket": 1000 + own,
        "symbol": "EURUSD",
        "side": "buy",
        "volume": "1.00",
        "price_open": "1.08500",
        "price_current": "1.08600",
        "sl": "1.07000",
        "opened_at": T0.isoformat(),
    }
    sync = {"account_id": own, "sync_id": "as-of-1", "taken_at": NOTICED.isoformat(), "positions": [held]}
    await runtime.write(record_sync, sync)


def at_param(moment: datetime) -> str:
    return format_at(moment)


def element(web: Web, marker: str) -> Any:
    return web.user.find(marker=marker).elements.pop()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def gauge_value(web: Web, marker: str) -> float | None:
    plot = element(web, marker)
    assert isinstance(plot, ui.plotly)
    data = plot.figure.get("data", []) if isinstance(plot.figure, dict) else []
    return float(data[0]["value"]) if data else None


async def rows(web: Web, marker: str, check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    table = element(web, marker)
    assert isinstance(table, ui.table)
    await until(lambda: check(table.rows), f"{marker} rows as expected (last: {table.rows})")
    return list(table.rows)


async def test_the_risk_wall_shows_the_gauges_of_that_moment_under_a_banner(web: Web) -> None:
    await breach_and_recovery(web)
    own = web.world.account["a"]
    await web.login("risk")

    await web.user.open(f"/risk?at={at_param(DURING)}")
    await web.see("as-of-banner")
    await web.see("as-of-moment", "Not live: the dashboard as it was at 2026-11-02 12:15:00 UTC")
    await web.see(f"wall-line-{own}", "critical")
    await until(lambda: gauge_value(web, f"wall-gauge-{own}") == 16.0, "the breach's 16 % on the gauge")
    await web.see("time-mode", "Past: 2026-11-02T12:15:00Z")

    await web.user.open(f"/risk?at={at_param(T0 + timedelta(minutes=5))}")  # before the breach
    await web.see(f"wall-line-{own}", "warning")
    await until(lambda: gauge_value(web, f"wall-gauge-{own}") == 11.0, "the warning's 11 % on the gauge")

    await web.user.open("/risk")  # live: today's value, no banner
    await web.see(f"wall-line-{own}", "normal")
    await until(lambda: gauge_value(web, f"wall-gauge-{own}") == 1.0, "today's 1 % on the gauge")
    await web.user.should_not_see(marker="as-of-banner")
    await web.see("time-mode", "Live")


async def test_guards_in_the_past_show_the_curve_up_to_the_moment_and_no_acknowledgement(web: Web) -> None:
    await breach_and_recovery(web)
    own, other = web.world.account["a"], web.world.account["b"]
    await web.login("a")
    await web.user.open(f"/guards?account={own}&at={at_param(DURING)}")
    await web.see("as-of-banner")
    await web.see("as-of-note", "were not stored")
    await web.see(f"account-detail-{own}", "equity 8,400.00 USD")
    await web.user.should_not_see(marker=f"dd-gauge-{other}")  # a trader's past is their own too
    await until(lambda: gauge_value(web, f"dd-gauge-{own}") == 16.0, "the breach on the drawdown gauge")

    plot = element(web, "equity")
    await until(lambda: bool(plot.figure.get("data") and plot.figure["data"][0]["x"]), "the equity curve")
    xs = [datetime.fromisoformat(x) for x in plot.figure["data"][0]["x"]]
    assert max(xs) == BREACH and all(x <= DURING for x in xs), xs  # it ends at the moment shown

    events = await rows(web, "guard-events", bool)
    assert all(datetime.fromisoformat(e["at_utc"].replace(" UTC", "+00:00")) <= DURING for e in events)
    web.user.find(marker="guard-events").trigger("ack", {"id": events[0]["id"]})  # no handler in the past
    await asyncio.sleep(0.3)
    async with current_runtime().database.read_session() as s:
        acked = select(func.count()).select_from(GuardEvent).where(GuardEvent.acknowledged_at.is_not(None))
        assert (await s.execute(acked)).scalar_one() == 0
    await web.see("market-not-kept")
    await web.user.should_not_see(marker="guard-events-pager")


async def test_reconciliation_lists_what_was_open_then_and_not_what_came_later(web: Web) -> None:
    await breach_and_recovery(web)
    await web.login("a")

    await web.user.open(f"/reconciliation?at={at_param(DURING)}")
    await web.see("as-of-banner")
    before = await rows(web, "positions-at", bool)
    assert [(r["symbol"], r["profit"]) for r in before] == [("EURUSD", "–")]
    incidents = await rows(web, "incidents", bool)
    assert [r["symbol"] for r in incidents] == ["EURUSD"]  # the world's SL mismatch, open then
    await web.see("history-live-only")
    await web.user.should_not_see(marker="incident-history")

    await web.user.open(f"/reconciliation?at={at_param(AFTER)}")
    after = await rows(web, "positions-at", lambda r: len(r) == 2)
    assert {r["symbol"] for r in after} == {"EURUSD", "GBPUSD"} and {r["profit"] for r in after} == {"–"}
    # The sync at T0+40m resolved the SL mismatch and found the new position missing at the broker.
    await rows(web, "incidents", lambda r: [row["symbol"] for row in r] == ["GBPUSD"])

    await web.login("b")  # the other trader, at the same moment: only their own
    await web.user.open(f"/reconciliation?at={at_param(AFTER)}")
    theirs = await rows(web, "positions-at", bool)
    assert {r["account"] for r in theirs} == {"b main"}


async def test_a_bad_moment_is_a_message_over_the_live_page(web: Web) -> None:
    await breach_and_recovery(web)
    own = web.world.account["a"]
    await web.login("risk")
    cases = {
        "yesterday-ish": "not an ISO 8601",
        "2026-11-02T12:15:00": "no time zone",
        "2999-01-01T00:00:00Z": "in the future",
        format_at(datetime.now(UTC) + timedelta(minutes=5)): "in the future",
        "1960-01-01T00:00:00Z": "before 1970",
    }
    for raw, message in cases.items():
        await web.user.open(f"/risk?at={raw}")
        await web.see("as-of-error", message)
        await web.see("as-of-error", "live page")
        await web.user.should_not_see(marker="as-of-banner")
        await web.see(f"wall-line-{own}", "normal")  # the live value


async def test_a_trader_cannot_open_the_wall_or_another_traders_account_in_the_past(web: Web) -> None:
    await breach_and_recovery(web)
    await web.login("b")
    await web.user.open(f"/risk?at={at_param(DURING)}")
    await web.see("forbidden")
    await web.user.should_not_see(marker=f"wall-{web.world.account['a']}")
    await web.user.open(f"/guards?account={web.world.account['a']}&at={at_param(DURING)}")
    await web.see(f"dd-gauge-{web.world.account['b']}")
    await web.user.should_not_see(marker=f"dd-gauge-{web.world.account['a']}")
    await web.user.should_not_see(content="8,400.00")


async def test_the_time_control_puts_the_moment_in_the_url_and_takes_it_out(web: Web) -> None:
    own = web.world.account["a"]
    await web.login("risk")
    await web.user.open(f"/guards?account={own}")
    await web.see(f"dd-gauge-{own}")
    picked = element(web, "at-input")
    await until(lambda: bool(picked.value), "the field filled in with the current time")
    picked.set_value("2026-11-02T12:15:00")  # the simulated browser's zone is UTC
    web.user.find(marker="at-apply").click()
    await until(lambda: "at=" in web.user.back_history[-1], "the moment in the URL")
    assert web.user.back_history[-1] == f"/guards?account={own}&at=2026-11-02T12:15:00Z"
    await web.see("as-of-banner")

    web.user.find(marker="at-live").click()
    await until(lambda: "at=" not in web.user.back_history[-1], "back to live")
    assert web.user.back_history[-1] == f"/guards?account={own}"
    await web.see("time-mode", "Live")

    web.user.find(marker="at-24h").click()
    await until(lambda: "at=" in web.user.back_history[-1], "a quick choice")
    query = parse_qs(urlsplit(web.user.back_history[-1]).query)
    moment = datetime.fromisoformat(query["at"][0])
    assert query["account"] == [str(own)]
    assert abs(datetime.now(UTC) - timedelta(hours=24) - moment) < timedelta(minutes=1)

    web.user.find(marker="at-input").elements.pop().set_value("2999-01-01T00:00:00")
    before = list(web.user.back_history)
    web.user.find(marker="at-apply").click()
    await web.user.should_see("in the future")
    assert web.user.back_history == before  # refused: no navigation


async def test_the_long_timeline_windows_are_counted_bars(web: Web) -> None:
    """24 h and 7 d draw counts by bucket (never every incident); 1 h and 6 h the incidents."""
    await breach_and_recovery(web)
    await web.login("risk")
    await web.user.open(f"/reconciliation?at={at_param(AFTER)}")
    plot = element(web, "timeline")
    window = element(web, "timeline-window")

    def kinds() -> set[str]:
        return {trace["type"] for trace in plot.figure.get("data", [])}

    def total() -> int:
        return sum(sum(trace["y"]) for trace in plot.figure.get("data", []))

    await until(lambda: kinds() == {"bar"} and total() == 3, "three incidents counted in bars")
    window.set_value("1h")
    await until(lambda: kinds() == {"scatter"}, "the incidents' points")
    points = sum(len(t["x"]) for t in plot.figure["data"])
    assert points == 3  # the two seed incidents and the new one, all first seen within the hour
    window.set_value("7d")
    await until(lambda: kinds() == {"bar"}, "bars again")


async def test_the_first_moment_of_the_calendar_shows_an_empty_past(web: Web) -> None:
    await web.login("risk")
    await web.user.open("/reconciliation?at=1970-01-01T00:00:00Z")
    await web.see("as-of-banner")
    await web.see("total-syncs", "0")
    await web.see("positions-at-count", "0 open")
    plot = element(web, "timeline")
    await until(lambda: [t["type"] for t in plot.figure.get("data", [])] == ["bar"] * 3, "empty bars")
    await web.user.open("/guards?at=1970-01-01T00:00:00Z")
    await web.see("as-of-banner")
    await web.user.should_see("No accounts to show.")
