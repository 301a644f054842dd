"""The time control of `/guards`, `/risk` and `/reconciliation`: live by default, or the page as it
was at a past moment (`?at=`, see `components.as_of_url`), with a banner that says so.

The person picks a date and time in their browser's zone (`LivePage.tz`) or a quick choice (1 h,
24 h, 7 d ago); applying navigates to the same page with `?at=<UTC>` and its other parameters kept,
so the address is the thing to share in an incident review. "Back to live" removes it.

The past view is read-only and quiet, on purpose:
- no level-change toasts: a toast announces a change happening now; moving between past moments
  would announce changes that are not happening, and in the middle of an incident that is noise
  that looks like news;
- no acknowledgements: acknowledging is an audited action on the present state of an event (it
  stops escalations now); made from a page that shows an older state, the click would be about
  something the person is not looking at.

A bad `at` (not a date, no zone, before 1970, in the future) shows a message and the live page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from nicegui import ui

from components.as_of_url import PARAM, BadMoment, format_at, parse_at, parse_local, url_with
from components.live import LivePage

QUICK = {"1 h ago": timedelta(hours=1), "24 h ago": timedelta(hours=24), "7 d ago": timedelta(days=7)}
QUICK_MARKERS = {"1 h ago": "at-1h", "24 h ago": "at-24h", "7 d ago": "at-7d"}
#: White on indigo-900 (11:1), in light and in dark mode alike: unlike any panel's colours, so the
#: page cannot be mistaken for the live one, and the same to everybody who opens the shared link.
BANNER = "w-full rounded px-3 py-2 gap-1 bg-indigo-900 text-white border-l-8 border-amber-400"
ERROR = "w-full rounded px-3 py-2 text-amber-900 bg-amber-100"
LOCAL_INPUT = "%Y-%m-%dT%H:%M:%S"


def moment_from(live: LivePage, params: Mapping[str, str]) -> str | None:
    """Set `live.at` from the page's `at`; the reader's message when it cannot be shown."""
    raw = params.get(PARAM)
    if raw is None:
        return None
    try:
        live.at = parse_at(raw, datetime.now(UTC))
    except BadMoment as error:
        return f"{error} Showing the live page instead."
    return None


class TimeControl:
    """The control row (and, in the past view, the banner) at the top of a page."""

    def __init__(self, live: LivePage, params: Mapping[str, str]) -> None:
        self.live = live
        self.params = dict(params)
        problem = moment_from(live, params)
        if problem is not None:
            ui.label(problem).classes(ERROR).props('role="alert" data-testid="as-of-error"').mark(
                "as-of-error"
            )
        if live.at is not None:
            self._banner(live.at)
        with ui.row().classes("items-center gap-2 flex-wrap").props('role=group aria-label="Moment shown"'):
            mode = "Live" if live.at is None else f"Past: {format_at(live.at)}"
            ui.label(mode).classes("text-sm font-medium").mark("time-mode")
            self.picked = ui.input("Date and time (your time zone)")
            self.picked.props('type=datetime-local step=1 dense stack-label aria-label="Date and time"')
            self.picked.classes("w-60").mark("at-input")
            ui.button("Show", on_click=lambda: live.act(self.apply)).props("dense no-caps").mark("at-apply")
            for text, ago in QUICK.items():
                button = ui.button(text, on_click=lambda _, ago=ago: live.act(lambda: self.go_back(ago)))
                button.props("dense flat no-caps").mark(QUICK_MARKERS[text])
        live.zone_known.append(self._zone_known)

    def _banner(self, at: datetime) -> None:
        settings = self.live.runtime.settings
        raw_days, log_days = settings.equity_raw_retention_days, settings.sync_log_retention_days
        age = datetime.now(UTC) - at
        hourly = age > timedelta(days=min(raw_days, log_days))
        banner = ui.column().classes(BANNER).props('role="status" data-testid="as-of-banner"')
        with banner.mark("as-of-banner"):
            with ui.row().classes("items-center justify-between w-full gap-2"):
                self.moment = ui.label(self._moment_text(at)).classes("font-semibold").mark("as-of-moment")
                live = ui.button(
                    "Back to live", color=None, on_click=lambda: self.live.act(self.back_to_live)
                )
                live.props("outline dense no-caps").mark("at-live")
            notes = [
                "Approximate: minute equity is kept "
                f"{raw_days} days and sync logs {log_days} days; before that, gauges, equity and sync "
                "totals are hourly values (up to an hour before the moment)"
                + (", as for this moment." if hourly else "."),
                "The P&L, swap and price of positions open then were not stored (shown as –). "
                "Thresholds and limits are those in force then; names are today's.",
                "Level-change toasts and acknowledgements are off in this view.",
            ]
            for note in notes:
                ui.label(note).classes("text-sm").mark("as-of-note")

    def _moment_text(self, at: datetime) -> str:
        """Local time once the browser's zone is known (the page is built before it is asked)."""
        utc = at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if str(self.live.tz) in ("UTC", "Etc/UTC"):
            return f"Not live: the dashboard as it was at {utc}"
        local = self.live.local(at, with_date=True)
        return f"Not live: the dashboard as it was at {local} ({self.live.tz}) · {utc}"

    def _zone_known(self) -> None:
        at = self.live.at
        shown = at if at is not None else datetime.now(UTC)
        self.picked.value = shown.astimezone(self.live.tz).strftime(LOCAL_INPUT)
        if at is not None:
            self.moment.text = self._moment_text(at)

    async def apply(self) -> None:
        """Show the moment picked in the field (the browser's zone)."""
        try:
            at = parse_local(str(self.picked.value or ""), self.live.tz, datetime.now(UTC))
        except BadMoment as error:
            ui.notify(str(error), type="warning")
            return
        self.navigate(at)

    async def go_back(self, ago: timedelta) -> None:
        self.navigate(datetime.now(UTC) - ago)

    async def back_to_live(self) -> None:
        self.navigate(None)

    def navigate(self, at: datetime | None) -> None:
        ui.navigate.to(url_with(self.live.path, self.params, at))
