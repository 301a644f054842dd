"""The live loop of a page: one timer per tab that re-checks the session, fetches every panel's
data from the cached services, then changes the elements, and marks panels stale when their data
is old.

Panels are split in two (`LivePanel.fetch`, which awaits the cached services, and `LivePanel.show`,
which changes elements and never awaits), so a tick first gathers every panel's data and then
changes the elements in one go: the tab gets one message per tick, or none when nothing changed.

Why one timer per page (not per panel): one wake-up per tick per tab and a single place that stops
everything when the session ends. The first tick is delayed by a random offset so that tabs
opened together do not fire together.

Stale means old data, whatever the reason: a panel shows its banner, with the data's age, when the
data it shows is older than its freshness, including a value the cache served from before a
database outage (the read models carry `as_of`, the moment they were read from the database).
During an outage nothing is logged per tab or per tick (the database's monitor logs the outage
once) and the tab stays on its page: only a session that is really over sends it to the login.

A page may show the past (`LivePage.at`, from `?at=`; see `components.time_control`): its panels
then read the as-of services, whose `as_of` is the moment shown rather than when the data was
read, so staleness is judged on the last successful tick instead, and the "updated" line names
the moment shown. The loop itself is the same: the session is still checked every tick, and a
late row about the past (a delayed sync, a correction) still reaches the page.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Generic, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nicegui import Client, app, ui
from nicegui.dependencies import JsComponent
from nicegui.outbox import Outbox

from dashboard.auth.sessions import Principal
from dashboard.cache.base_queries import Cached
from dashboard.db.outage import DatabaseUnavailable
from dashboard.runtime import Runtime, current_runtime
from dashboard.services.errors import Unauthenticated

log = logging.getLogger("dashboard.pages")
T = TypeVar("T")

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


def age_text(seconds: float) -> str:
    """`42 s`, `3 min`, `2 h 5 min`: how old the shown data is, for the stale banner."""
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _parts(data: object) -> tuple[object, ...]:
    """The parts of what a panel fetched: a cached read is one part (not its dataclass fields)."""
    if isinstance(data, Cached):
        return (data,)
    if is_dataclass(data) and not isinstance(data, type):
        return tuple(getattr(data, f.name) for f in fields(data))
    return data if isinstance(data, tuple) else (data,)


class LivePanel(ABC, Generic[T]):
    """One refreshable area of a page. Build its elements in `__init__` (inside the page's frame),
    then `live.add(self)` where its stale banner and "updated" line belong.

    `fetch` returns the cached reads the panel shows (`Cached` values, alone, in a tuple or in a
    dataclass, beside any of the panel's own parameters); `show` changes the elements from them.
    """

    name: str

    def __init__(self, live: LivePage) -> None:
        self.live = live

    @abstractmethod
    async def fetch(self) -> T:
        """Read what the panel shows, from the cached services only."""

    @abstractmethod
    def show(self, data: T) -> None:
        """Change the elements (only those whose content changed). Never awaits: a tick applies
        every panel in one go."""

    def key(self, data: T) -> tuple[object, ...]:
        """What the panel would show: each cached read's content without its `as_of` (computed
        once per cached value for all tabs), and the panel's own parameters. While it is the same,
        a tick does no element work and sends nothing, even when the cache reloaded the data."""
        return tuple(part.content if isinstance(part, Cached) else part for part in _parts(data))

    def as_of(self, data: T) -> datetime | None:
        """When the oldest of the reads was taken from the database (what staleness is judged on).
        None in the past view: there the reads' `as_of` is the moment shown, which is old by
        design, and the page judges staleness on its last successful tick instead."""
        if getattr(self.live, "at", None) is not None:
            return None
        moments = [part.as_of for part in _parts(data) if isinstance(part, Cached) and part.as_of]
        return min(moments) if moments else None

    async def refresh(self) -> None:
        """Fetch and show now (after a filter change or an action), outside the tick."""
        data = await self.fetch()
        self.show(data)
        self.live.shown(self, data)


@dataclass
class PanelState:
    """A panel's place on the page: its stale banner and "updated" line, and what it last showed."""

    panel: LivePanel[Any]
    updated: ui.label
    banner: ui.label
    utc: ui.tooltip
    last_ok: datetime | None = None
    data_as_of: datetime | None = None
    shown_key: tuple[object, ...] | None = None
    failures_logged: set[str] = field(default_factory=set)


@dataclass
class LivePage:
    runtime: Runtime
    principal: Principal
    token: str
    path: str
    panels: list[PanelState] = field(default_factory=list)
    interval_s: int = DEFAULT_REFRESH_S
    timer: ui.timer | None = None
    ended: bool = False
    tick_started: float | None = None
    tz: tzinfo = UTC
    stamp: ui.element | None = None
    client: Client | None = None
    # Set when the page could not be built completely (database down at page load): the first
    # tick that gets data reloads the page so every panel is built.
    incomplete: bool = False
    # The past moment the page shows (`?at=`, aware UTC), None when it is live.
    at: datetime | None = None
    # Called once the browser's zone is known (`tz`): texts that show local times of the page
    # itself rather than of a panel's data (the past view's banner).
    zone_known: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def for_request(cls, request: Any, path: str) -> LivePage:
        """The live context of a page request that the session guard has let through. `path` is the
        page's route; the request's own path (`/accounts/12`, not `/accounts/{account_id}`) is what
        a session that ends sends back to after the login."""
        principal: Principal = request.state.principal
        runtime = current_runtime()
        return cls(
            runtime=runtime,
            principal=principal,
            token=request.state.session_token,
            path=request.url.path if "{" in path else path,
            interval_s=remembered_refresh(principal.user_id, runtime.settings.page_refresh_s),
        )

    @property
    def freshness_s(self) -> float:
        """How old a panel's data may be before it counts as stale: a few ticks, and never less
        than the cache's own horizon (a value may be served up to about two TTLs old while one
        process refreshes it)."""
        interval = self.interval_s or DEFAULT_REFRESH_S
        return max(STALE_AFTER_TICKS * interval, 3 * self.runtime.settings.cache_ttl_s)

    def local(self, moment: datetime | None, with_date: bool = False) -> str:
        """A time in the browser's zone (the UTC value goes in a tooltip or the CSV)."""
        if moment is None:
            return "–"
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")

    def add(self, panel: LivePanel[Any]) -> LivePanel[Any]:
        """Register a panel; its stale banner and "as of" line are placed where this is called."""
        banner = ui.label().classes("text-amber-900 bg-amber-100 rounded px-2 py-1 text-sm")
        banner.mark(f"stale-{panel.name}").props('role="status"')
        banner.set_visibility(False)
        updated = ui.label("loading…").classes("text-xs opacity-80").mark(f"as-of-{panel.name}")
        with updated:
            utc = ui.tooltip("")
        self.panels.append(PanelState(panel, updated, banner, utc))
        return panel

    async def initial(self, read: Callable[[], Awaitable[T]], fallback: T) -> T:
        """A read the page needs to build itself; during a database outage the page is built with
        `fallback` and reloads itself once data comes back."""
        try:
            return await read()
        except DatabaseUnavailable:
            self.incomplete = True
            return fallback

    async def act(self, action: Callable[[], Awaitable[object]]) -> None:
        """Run a user's action (a filter change, an acknowledgement, an export): an ended session
        leaves for the login, a database outage is a short notice, never a traceback."""
        try:
            await action()
        except Unauthenticated:
            self.end_session()
        except DatabaseUnavailable:
            ui.notify("The database is unavailable right now; please try again in a moment.", type="warning")

    def start(self) -> None:
        # Server time of the latest tick, on a hidden element: lets a load test measure push
        # latency (tick start -> browser) and shows in the DOM how fresh a tab is.
        self.stamp = ui.element("span").classes("hidden")
        self.client = ui.context.client
        # The page's HTML imports the components of every element it holds; tell the outbox (it
        # would send a `load_js_components` message of its own at each one's first update).
        outbox = self.client.outbox
        outbox._loaded_components.update(
            e.component.name for e in self.client.elements.values() if isinstance(e.component, JsComponent)
        )
        self.client.on_delete(self.dispose)
        self._time_pushes(outbox)
        self.runtime.metrics.live_tabs.inc()
        ui.timer(random.uniform(0.05, 0.5), self._first, once=True)

    def _time_pushes(self, outbox: Outbox) -> None:
        """Push latency for `/metrics`: from a tick's start until its update message was handed to
        the tab's socket by NiceGUI's outbox (its own loop sends what a tick changed)."""
        emit = outbox._emit

        async def timed(message: Any) -> None:
            await emit(message)
            if message[1] == "update" and self.tick_started is not None:
                self.runtime.metrics.push_seconds.observe(time.perf_counter() - self.tick_started)
                self.tick_started = None

        outbox._emit = timed  # type: ignore[method-assign]

    async def _first(self) -> None:
        """The first data at once; then the periodic ticks, at a random phase of their interval:
        tabs opened (or reconnected) together must not tick together."""
        self.tz = await browser_zone()
        for callback in self.zone_known:
            callback()
        await self.tick(force=True)
        if not self.ended:
            ui.timer(random.uniform(0, self.interval_s or PAUSED_CHECK_S), self._periodic, once=True)

    def _periodic(self) -> None:
        if not self.ended and self.client is not None:
            with self.client:
                self.timer = ui.timer(self.interval_s or PAUSED_CHECK_S, self.tick, immediate=False)

    def dispose(self) -> None:
        """The client is gone: drop what ties the page's objects to each other (panels to the page,
        elements' handlers to panels), so its memory comes back without waiting for a full
        garbage collection, which the tuned thresholds make rare."""
        if self.client is not None:  # started, and not disposed of before
            self.runtime.metrics.live_tabs.dec()
        self.ended = True
        for state in self.panels:
            state.panel.__dict__.clear()
        self.panels.clear()
        self.zone_known.clear()
        self.timer = self.stamp = self.client = None

    def set_interval(self, seconds: int) -> None:
        """0 pauses the panels; the session is still checked (every 30 s) so a paused tab
        still leaves when its session ends."""
        self.interval_s = seconds
        app.storage.general[refresh_key(self.principal.user_id)] = seconds
        if self.timer is not None and not self.ended:
            self.timer.interval = seconds or PAUSED_CHECK_S
            self.timer.active = True

    async def session_valid(self) -> bool:
        """False only when the session is over; a database outage keeps the tab (stale)."""
        try:
            await self.runtime.auth.principal(self.token, tolerate_outage=True)
        except Unauthenticated:
            return False
        return True

    async def tick(self, force: bool = False) -> None:
        if self.ended:
            return
        started = time.perf_counter()
        self.tick_started = started
        await self._tick(force)
        self.runtime.metrics.tick_seconds.observe(time.perf_counter() - started)
        if self.client is None or not self.client.outbox.updates:
            self.tick_started = None  # nothing to push: a later user action is not this tick's push

    async def _tick(self, force: bool) -> None:
        if not await self.session_valid():
            self.end_session()
            return
        if not self.interval_s and not force:  # paused
            return
        now = datetime.now(UTC)
        fetched = await asyncio.gather(
            *(state.panel.fetch() for state in self.panels), return_exceptions=True
        )
        if self.ended:  # the tab closed (or the session ended) while the panels were reading
            return
        # From here on nothing awaits: every element change of this tick goes out in one message.
        complete = True
        for state, data in zip(self.panels, fetched, strict=True):
            if isinstance(data, Unauthenticated):
                self.end_session()
                return
            if isinstance(data, asyncio.CancelledError):
                return  # the process is stopping: its reads were cancelled, nothing failed
            if isinstance(data, BaseException):
                complete = False
                self._failed(state, data)
            else:
                try:
                    self._apply(state, data, now)
                except Exception as error:  # a bug in a panel: the others still update
                    complete = False
                    self._failed(state, error)
            self._mark_stale(state, now)
        self._stamp(now)
        if complete and self.incomplete:
            self.incomplete = False
            ui.navigate.reload()

    def _apply(self, state: PanelState, data: object, now: datetime, *, shown: bool = False) -> None:
        """Show `data` unless the panel shows exactly that already; keep its time either way."""
        panel = state.panel
        key = panel.key(data)
        if not shown and key != state.shown_key:
            panel.show(data)
            shown = True
        if shown:
            state.shown_key = key
            self._updated(state, panel.as_of(data))
        # An unchanged reload still proves the data current: the stale banner is judged on it.
        state.data_as_of = panel.as_of(data) or state.data_as_of
        state.last_ok = now

    def _stamp(self, now: datetime) -> None:
        """Put the tick's server time on the message, when there is one: a load test measures push
        latency (tick start -> browser) from it, and a tick with nothing new sends nothing."""
        if self.stamp is not None and self.client is not None and self.client.outbox.updates:
            self.stamp.props(f"data-tick={int(now.timestamp() * 1000)}")

    def shown(self, panel: LivePanel[Any], data: object) -> None:
        """A panel showed `data` outside the tick (a filter change)."""
        now = datetime.now(UTC)
        for state in self.panels:
            if state.panel is panel:
                self._apply(state, data, now, shown=True)
                self._mark_stale(state, now)

    def _updated(self, state: PanelState, as_of: datetime | None) -> None:
        """The line under a panel: when what it shows was last read as changed (in the past view:
        the moment it shows)."""
        if self.at is not None:
            as_of = self.at
            text = f"as it was at {self.local(as_of, with_date=True)}"
        else:
            text = f"updated {self.local(as_of)}" if as_of else ""
        if state.updated.text != text:
            state.updated.text = text
            if as_of is not None:  # one tooltip per panel, its text updated (never a new element)
                state.utc.text = as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def _failed(self, state: PanelState, error: BaseException) -> None:
        if isinstance(error, DatabaseUnavailable):
            return  # the outage is logged once, by the database's monitor
        kind = type(error).__name__
        if kind not in state.failures_logged:  # a bug: once per panel and kind, the page stays up
            state.failures_logged.add(kind)
            log.warning("panel %s failed to refresh", state.panel.name, exc_info=error)

    def _mark_stale(self, state: PanelState, now: datetime) -> None:
        """Stale: the data shown is older than the panel's freshness, or there is none yet."""
        seen = state.data_as_of or state.last_ok
        age = None if seen is None else (now - seen).total_seconds()
        stale = age is None or age > self.freshness_s
        if stale:  # the banner's text only when it shows (formatting times costs, every tick)
            text = (
                "Data is not available yet; retrying"
                if seen is None or age is None
                else f"Data is stale: last update {self.local(seen)} ({age_text(age)} ago); retrying"
            )
            if state.banner.text != text:
                state.banner.text = text
        if state.banner.visible != stale:
            state.banner.set_visibility(stale)

    def end_session(self) -> None:
        """Session expired, logged out elsewhere or disabled: stop and leave for the login page."""
        if self.ended:
            return
        self.ended = True
        if self.timer is not None:
            self.timer.active = False
        ui.navigate.to(f"/login?error=expired&next={quote(self.path, safe='')}")
