"""One message per tick per tab, and none while nothing changed, counted on the tab's own socket.

The page with every kind of panel (/reconciliation: counters, a table, the timeline chart that
appends points, the incidents table), a real app process without the demo simulator, so that the
test decides when data changes: first nothing (the tab must receive nothing, however often the
cache reloads), then a sync with new divergences (the counters, the tables and the chart's new
points must reach the tab in one message per tick).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.live_socket import Received, SocketTab
from tests.process import run_cli, running_app

SECRET = "live-messages-" + "Tz4nW8qL1vB6xK3mR9yD2fH7jC5sG0pA"
PASSWORD = "a long enough password"
TICK_S = 2


def per_tick(messages: list[Received]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for message in messages:
        stamp = message.stamp()
        assert stamp is not None, f"a message outside the tick's update: {message.event}"
        counts[stamp] = counts.get(stamp, 0) + 1
    return counts


async def clear_of_a_minute_boundary(span_s: float) -> None:
    """Wait until the next `span_s` seconds hold no minute boundary, with a margin each side. The
    incidents' ages move at the minute, and two panels whose cached reads straddle it (a cache
    TTL apart) move on adjacent ticks: CI once saw the quiet window's ages move in two ticks."""
    now = datetime.now(UTC)
    second = now.second + now.microsecond / 1e6
    if second < 1.5 or second + span_s > 58.5:
        await asyncio.sleep(60 - second + 1.5)


def divergent_sync(account_id: int, sync_id: str) -> dict[str, object]:
    """The broker reports a position the platform never opened: an incident, a timeline point."""
    now = datetime.now(UTC)
    return {
        "account_id": account_id,
        "sync_id": sync_id,
        "taken_at": now.isoformat(),
        "positions": [
            {
                "identifier": 990_001,
                "ticket": 990_001,
                "symbol": "EURUSD",
                "side": "buy",
                "volume": "0.10",
                "price_open": "1.08000",
                "price_current": "1.08100",
                "opened_at": (now - timedelta(minutes=2)).isoformat(),
            }
        ],
    }


def test_a_tab_gets_one_message_per_tick_and_none_when_nothing_changed(tmp_path: Path) -> None:
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'live.sqlite3'}",
        "DASHBOARD_JWT_SECRET": SECRET,
        "DASHBOARD_PAGE_REFRESH_S": str(TICK_S),
        # Every tick finds the cached reads expired and reloaded (a new `as_of` each time): the
        # tab must still receive nothing while what they hold is the same.
        "DASHBOARD_CACHE_TTL_S": "1",
    }
    assert run_cli("demo", "seed", **env).returncode == 0
    for email, role in (("desk@ops.local", "risk"), ("bridge@ops.local", "service")):
        assert run_cli("users", "create", email, "--role", role, input=PASSWORD + "\n", **env).returncode == 0
    with running_app(log_path=tmp_path / "app.log", **env) as base:  # no --demo: no simulator
        session = httpx.post(
            f"{base}/auth/session", data={"email": "desk@ops.local", "password": PASSWORD, "next": "/"}
        )
        bridge = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "bridge@ops.local", "password": PASSWORD}, timeout=10
        ).json()["access_token"]
        tab = SocketTab(base, dict(session.cookies), "/reconciliation")

        async def watch() -> tuple[list[Received], list[Received]]:
            await tab.open()
            await asyncio.sleep(3 * TICK_S)  # first tick, figures drawn
            await clear_of_a_minute_boundary(3.5 * TICK_S + 2)  # the window, a TTL and a tick
            quiet_start = len(tab.received)
            await asyncio.sleep(3.5 * TICK_S)  # three ticks with nothing new
            quiet = tab.received[quiet_start:]
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                answer = await http.post(
                    "/api/v1/ingest/syncs",
                    headers={"Authorization": f"Bearer {bridge}"},
                    json=divergent_sync(1, "live-messages-1"),
                )
                assert answer.status_code == 200, answer.text
            busy_start = len(tab.received)
            await asyncio.sleep(3 * TICK_S)
            busy = tab.received[busy_start:]
            await tab.close()
            return quiet, busy

        quiet, busy = asyncio.run(watch())
    # Nothing changed, and no minute passed for the incidents' ages: nothing, or at most one tick
    # (a figure that moves with the clock alone, such as the health turning stale).
    assert len(per_tick(quiet)) <= 1, [m.event for m in quiet]
    # Changes: every tick's changes in one message (counters, tables and the chart's new points).
    counts = per_tick(busy)
    assert counts and set(counts.values()) == {1}, counts
    # The default 24-h timeline is counted bars: its new figure rides in the tick's one update (a
    # short window's new points would ride as a `batch`).
    assert any(m.has_prop("options") or m.has_prop("batch") for m in busy), (
        "the timeline rode in a tick's update"
    )
