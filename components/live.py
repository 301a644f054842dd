"""The live loop of a page: one timer per tab that re-checks the session, refreshes every panel
from the cached services and marks panels stale when their data stops coming.

Why one timer per page (not per panel): one wake-up per tick per tab, panels refreshed in order,
and a single place that stops everything when the session ends. The first tick is delayed by a
random offset so that tabs opened together do not fire together.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nicegui import app, ui

from dashboard.auth.sessions import Principal
from dashboard.runtime import Runtime
from dashboard.services.errors import Unauthenticated

log = logging.getLogger("dashboard.pages")

REFRESH_CHOICES = {2: "2 s", 5: "5 s", 10: "10 s", 30: "30 s", 0: "pause"}
DEFAULT_REFRESH_S = 5
STALE_AFTER_TICKS = 3
PAUSED_CHECK_S = 30


async def browser_zone() -> tzinfo:
    """The browser's time zone (IANA name from Intl), or UTC when it cannot be asked."""
    try:
        name = await ui.run_javascript("Intl.DateTimeFormat().resolvedOptions().timeZone", timeout=2)
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TimeoutError, RuntimeError, TypeError):
        return UTC


def refresh_key(user_id: int) -> str:
    return f"refresh_s:{user_id}"


def remembered_refresh(user_id: int, default: int = DEFAULT_REFRESH_S) -> int:
    value = app.storage.general.get(refresh_key(user_id), default)
    return value if value in REFRESH_CHOICES else default


@dataclass
class Panel:
    """One refreshable area: its refresh function, its "as of" label and its stale banner."""

    name: str
    refresh: Callable[[], Awaitable[datetime | None]]
    as_of: ui.label
    banner: ui.element
    utc: ui.tooltip
    last_ok: datetime | None = None


@dataclass
class LivePage:
    runtime: Runtime
    principal: Principal
    token: str
    path: str
    panels: list[Panel] = field(default_factory=list)
    interval_s: int = DEFAULT_REFRESH_S
    timer: ui.timer | None = None
    ended: bool = False
    tz: tzinfo = UTC
    stamp: ui.element | None = None

    def local(self, moment: datetime | None, with_date: bool = False) -> str:
        """A time in the browser's zone (the UTC value goes in a tooltip or the CSV)."""
        if moment is None:
            return "–"
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")

    def panel(self, name: str, refresh: Callable[[], Awaitable[datetime | None]]) -> Panel:
        """Register a panel; call inside the panel's container so the labels land there."""
        banner = (
            ui.label().classes("text-amber-800 bg-amber-100 rounded px-2 py-1 text-sm").mark(f"stale-{name}")
        )
        banner.set_visibility(False)
        as_of = ui.label("loading…").classes("text-xs opacity-60").mark(f"as-of-{name}")
        with as_of:
            utc = ui.tooltip("")
        entry = Panel(name, refresh, as_of, banner, utc)
        self.panels.append(entry)
        return entry

    def start(self) -> None:
        # Server time of the latest tick, on a hidden element: lets a load test measure push
        # latency (tick start -> browser) and shows in the DOM how fresh a tab is.
        self.stamp = ui.element("span").classes("hidden")
        offset = random.uniform(0.05, 0.5)
        self.timer = ui.timer(max(self.interval_s, 1), self.tick, active=False)
        ui.timer(offset, self._first, once=True)

    async def _first(self) -> None:
        self.tz = await browser_zone()
        await self.tick(force=True)
        if self.timer is not None and not self.ended:
            self.timer.interval = self.interval_s or PAUSED_CHECK_S
            self.timer.active = True

    def set_interval(self, seconds: int) -> None:
        """0 pauses the panels; the session is still checked (every 30 s) so a paused tab
        still leaves when its session ends."""
        self.interval_s = seconds
        app.storage.general[refresh_key(self.principal.user_id)] = seconds
        if self.timer is not None and not self.ended:
            self.timer.interval = seconds or PAUSED_CHECK_S
            self.timer.active = True

    async def session_valid(self) -> bool:
        try:
            await self.runtime.auth.principal(self.token)
            return True
        except Unauthenticated:
            return False

    async def tick(self, force: bool = False) -> None:
        if self.ended:
            return
        if not await self.session_valid():
            self.end_session()
            return
        if not self.interval_s and not force:  # paused
            return
        now = datetime.now(UTC)
        if self.stamp is not None:
            self.stamp.props(f"data-tick={int(now.timestamp() * 1000)}")
        for panel in self.panels:
            try:
                as_of = await panel.refresh()
                panel.last_ok = now
                panel.as_of.text = f"as of {self.local(as_of)}" if as_of else ""
                if as_of is not None:  # one tooltip per panel, its text updated (never a new element)
                    panel.utc.text = as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            except Unauthenticated:
                self.end_session()
                return
            except Exception:  # the page stays up; the stale banner tells the user
                log.warning("panel %s failed to refresh", panel.name, exc_info=True)
            self._mark_stale(panel, now)

    def _mark_stale(self, panel: Panel, now: datetime) -> None:
        """Stale: no successful refresh for more than three ticks (or never, after a failure)."""
        interval = self.interval_s or DEFAULT_REFRESH_S
        if panel.last_ok is None:
            stale, text = True, "Data is not available yet; retrying"
        else:
            stale = (now - panel.last_ok).total_seconds() > STALE_AFTER_TICKS * interval
            text = f"Data is stale: last update {self.local(panel.last_ok)}; retrying"
        panel.banner.text = text
        panel.banner.set_visibility(stale)

    def end_session(self) -> None:
        """Session expired, logged out elsewhere or disabled: stop and leave for the login page."""
        if self.ended:
            return
        self.ended = True
        if self.timer is not None:
            self.timer.active = False
        ui.navigate.to(f"/login?error=expired&next={quote(self.path, safe='')}")


def live_page(request: Any, path: str) -> LivePage:
    """The live context of a page request that `SessionGuard` has let through."""
    from dashboard.app import get_runtime

    principal: Principal = request.state.principal
    runtime = get_runtime()
    return LivePage(
        runtime=runtime,
        principal=principal,
        token=request.state.session_token,
        path=path,
        interval_s=remembered_refresh(principal.user_id, runtime.settings.page_refresh_s),
    )
