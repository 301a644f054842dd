"""`/reconciliation`: status cards, divergence timeline, last sync events, open incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request
from nicegui import ui

from components.cards import card, set_rows, set_text, utc, utc_on_hover
from components.frame import frame
from components.live import live_page
from components.timeline import DivergenceTimelineChart

WINDOWS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}

EVENT_COLUMNS = [
    {"name": "at", "label": "Time", "field": "at", "align": "left"},
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "type", "label": "Type", "field": "type", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "divergences", "label": "Divergences", "field": "divergences"},
    {"name": "duration", "label": "ms", "field": "duration"},
]
INCIDENT_COLUMNS = [
    {"name": "age", "label": "Age", "field": "age", "align": "left"},
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left"},
    {"name": "kind", "label": "Kind", "field": "kind", "align": "left", "sortable": True},
    {"name": "severity", "label": "Severity", "field": "severity", "align": "left", "sortable": True},
    {"name": "local", "label": "Local", "field": "local"},
    {"name": "broker", "label": "Broker", "field": "broker"},
    {"name": "seen", "label": "Seen", "field": "seen"},
]


def _age(since: datetime, now: datetime) -> str:
    seconds = int((now - since).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600} h"


def register(demo: bool) -> None:
    @ui.page("/reconciliation")
    async def reconciliation(request: Request) -> None:
        live = live_page(request, "/reconciliation")
        queries, viewer = live.runtime.queries, live.principal.viewer
        with frame("Reconciliation", live, demo=demo):
            with ui.row().classes("w-full gap-3 flex-wrap"):
                total = card("Total syncs", "total-syncs")
                positions = card("Open positions", "open-positions")
                divergences = card("Divergences detected", "divergences")
                last_sync = card("Last sync", "last-sync")
                health = card("Health", "health")
            status_panel = live.panel("status", lambda: refresh_status())

            with ui.card().classes("w-full"):
                with ui.row().classes("items-center justify-between w-full"):
                    ui.label("Divergence timeline").classes("font-semibold")
                    window = ui.toggle(list(WINDOWS), value="24h", on_change=lambda: live.act(redraw))
                    window.props("dense")
                    window.mark("timeline-window")
                chart = DivergenceTimelineChart()
                live.panel("timeline", lambda: refresh_timeline(False))

            with ui.card().classes("w-full"):
                ui.label("Last sync events").classes("font-semibold")
                events = (
                    ui.table(columns=EVENT_COLUMNS, rows=[], row_key="id").classes("w-full").mark("events")
                )
                events.props("dense flat")
                utc_on_hover(events, "at", "at_utc")

            with ui.card().classes("w-full"):
                ui.label("Open incidents").classes("font-semibold")
                incidents = ui.table(columns=INCIDENT_COLUMNS, rows=[], row_key="id", pagination=25)
                incidents.classes("w-full").props("dense flat").mark("incidents")
                utc_on_hover(incidents, "age", "since_utc")
                live.panel("incidents", lambda: refresh_incidents())

        async def refresh_status() -> datetime:
            status = (await queries.reconciliation_status(viewer)).model
            set_text(total, f"{status.total_syncs:,}")
            set_text(positions, f"{status.open_positions_count:,}")
            set_text(divergences, f"{status.divergences_detected:,}")
            outcome = status.last_sync_status.value if status.last_sync_status else ""
            last = f"{live.local(status.last_sync_at)} {outcome}"
            set_text(last_sync, last.strip())
            set_text(health, status.health.value)
            set_rows(
                events,
                [
                    {
                        "id": e.id,
                        "at": live.local(e.created_at),
                        "at_utc": utc(e.created_at),
                        "account": e.account_id,
                        "type": e.event_type.value,
                        "status": e.status.value,
                        "divergences": e.divergences,
                        "duration": e.duration_ms,
                    }
                    for e in status.recent_events
                ],
            )
            return status.as_of

        async def refresh_timeline(redraw_all: bool) -> datetime:
            timeline = (await queries.divergence_timeline(viewer, window=WINDOWS[str(window.value)])).model
            chart.show(timeline.incidents, redraw=redraw_all)
            return timeline.as_of

        async def redraw() -> None:
            await refresh_timeline(True)

        async def refresh_incidents() -> datetime:
            now = datetime.now(UTC)
            open_now = (await queries.open_incidents(viewer)).model
            set_rows(
                incidents,
                [
                    {
                        "id": i.id,
                        "age": _age(i.first_seen_at, now),
                        "since_utc": f"since {utc(i.first_seen_at)}",
                        "account": i.account_id,
                        "symbol": i.symbol,
                        "kind": i.kind.value,
                        "severity": i.severity.value,
                        "local": i.local_value or "–",
                        "broker": i.broker_value or "–",
                        "seen": i.occurrences,
                    }
                    for i in open_now.incidents
                ],
            )
            return open_now.as_of

        del status_panel
        live.start()
