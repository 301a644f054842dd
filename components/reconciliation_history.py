"""The history tables of `/reconciliation`: every incident (open or resolved) and every sync event,
each filtered on the server and read a keyset page at a time (`KeysetPager`).

Incidents are kept for the life of an account and sync events by the thousand a day, so neither
table ever asks for the whole list. Page 1 follows new rows live; an older page stays put. Each
incident shows its work state and assignee, and opens its detail (comments, the resolution note).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel, label_of, labels_of
from components.cards import PHONE_GRID, heading, hover, set_rows, utc, utc_on_hover
from components.incident_work import IncidentDetailPanel
from components.live import LivePage, LivePanel
from components.pager import KeysetPager
from dashboard.cache.base_queries import Cached
from dashboard.domain.enums import Resolution, Severity, SyncStatus
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.reconciliation import IncidentPage, SyncEventPage

PAGE_SIZE = 25
ACCOUNT: dict[str, Any] = {"name": "account", "label": "Account", "field": "account", "align": "left"}
HISTORY_COLUMNS: list[dict[str, Any]] = [
    {"name": "first", "label": "First seen", "field": "first", "align": "left"},
    ACCOUNT,
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left"},
    {"name": "kind", "label": "Kind", "field": "kind", "align": "left"},
    {"name": "severity", "label": "Severity", "field": "severity", "align": "left"},
    {"name": "resolution", "label": "Resolution", "field": "resolution", "align": "left"},
    {"name": "resolved", "label": "Resolved", "field": "resolved", "align": "left"},
    {"name": "seen", "label": "Seen", "field": "seen"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "assignee", "label": "Assignee", "field": "assignee", "align": "left"},
]
OPEN_COLUMN: dict[str, Any] = {"name": "open", "label": "", "field": "id", "align": "right"}
OPEN_SLOT = """
<q-td :props="props">
  <q-btn dense flat no-caps size="sm" color="primary" label="Open"
         :aria-label="'Open incident ' + props.row.id" @click="() => $parent.$emit('open', props.row)" />
</q-td>
"""
EVENT_COLUMNS: list[dict[str, Any]] = [
    {"name": "at", "label": "Time", "field": "at", "align": "left"},
    ACCOUNT,
    {"name": "type", "label": "Type", "field": "type", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "matched", "label": "Matched", "field": "matched"},
    {"name": "divergences", "label": "Divergences", "field": "divergences"},
    {"name": "duration", "label": "ms", "field": "duration"},
    {"name": "error", "label": "Error", "field": "error", "align": "left"},
]
ANY = ""
RESOLUTIONS = {ANY: "Any resolution", **{r.value: r.value.replace("_", " ") for r in Resolution}}
SEVERITIES = {ANY: "Any severity", **{s.value: s.value for s in Severity}}
STATUSES = {ANY: "Any status", **{s.value: s.value for s in SyncStatus}}


def account_choices(labels: dict[int, AccountLabel]) -> dict[int, str]:
    return {0: "All accounts", **{i: label.long for i, label in labels.items()}}


def paged_table(columns: list[dict[str, Any]], marker: str) -> ui.table:
    """A table that shows exactly the server's page (no client-side pages of its own)."""
    table = ui.table(columns=columns, rows=[], row_key="id").classes("w-full")
    table.props(f"dense flat hide-pagination {PHONE_GRID}").mark(marker)
    table.pagination = {"rowsPerPage": 0}
    return table


@dataclass(frozen=True)
class Page:
    page: Cached[Any]
    accounts: Cached[AccountList]


class _PagedPanel(LivePanel[Page]):
    """Filters above a server-paged table; any filter change goes back to the newest page."""

    def _filters_changed(self, live: LivePage, *controls: ui.select) -> None:
        for control in controls:
            control.on_value_change(lambda: live.act(self._refilter))

    async def _refilter(self) -> None:
        self.pager.reset()
        await self.refresh()

    pager: KeysetPager


class IncidentHistoryPanel(_PagedPanel):
    name = "incident-history"

    def __init__(
        self, live: LivePage, labels: dict[int, AccountLabel], detail: IncidentDetailPanel | None = None
    ) -> None:
        super().__init__(live)
        self.detail = detail
        if detail is not None:
            detail.listeners.append(self)
        with ui.card().classes("w-full max-sm:px-2"):
            with ui.row().classes("items-end justify-between w-full gap-3 flex-wrap"):
                heading("Incident history")
                with ui.row().classes("gap-3 flex-wrap"):
                    self.account = ui.select(account_choices(labels), value=0, label="Account")
                    self.account.classes("min-w-44").mark("history-account")
                    self.resolution = ui.select(RESOLUTIONS, value=ANY, label="Resolution")
                    self.resolution.classes("min-w-40").mark("history-resolution")
                    self.severity = ui.select(SEVERITIES, value=ANY, label="Severity")
                    self.severity.classes("min-w-36").mark("history-severity")
            columns = [*HISTORY_COLUMNS, OPEN_COLUMN] if detail is not None else HISTORY_COLUMNS
            self.table = paged_table(columns, "incident-history")
            utc_on_hover(self.table, "first", "first_utc")
            hover(self.table, "account", "login")
            if detail is not None:
                self.table.add_slot("body-cell-open", OPEN_SLOT)
                self.table.on("open", lambda e: live.act(lambda: detail.open(int(e.args["id"]))))
            self.pager = KeysetPager("incident-history-pager", self.refresh)
            live.add(self)
        self._filters_changed(live, self.account, self.resolution, self.severity)

    async def fetch(self) -> Page:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        page = await queries.incident_history(
            viewer,
            account_id=int(self.account.value) or None,
            resolution=str(self.resolution.value) or None,
            severity=str(self.severity.value) or None,
            limit=PAGE_SIZE,
            cursor=self.pager.cursor,
        )
        return Page(page, await queries.list_accounts(viewer))

    def show(self, data: Page) -> None:
        page: IncidentPage = data.page.model
        labels = labels_of(data.accounts.model)
        live = self.live
        rows = []
        for i in page.incidents:
            account = label_of(labels, i.account_id)
            rows.append(
                {
                    "id": i.id,
                    "first": live.local(i.first_seen_at, with_date=True),
                    "first_utc": utc(i.first_seen_at),
                    "account": account.name,
                    "login": account.login,
                    "symbol": i.symbol,
                    "kind": i.kind.value,
                    "severity": i.severity.value,
                    "resolution": i.resolution.value.replace("_", " "),
                    "resolved": live.local(i.resolved_at, with_date=True),
                    "seen": i.occurrences,
                    "state": i.state.value,
                    "assignee": i.assignee or "–",
                }
            )
        set_rows(self.table, rows)
        self.pager.seen(page.next_cursor)


class SyncEventsPanel(_PagedPanel):
    name = "sync-events"

    def __init__(self, live: LivePage, labels: dict[int, AccountLabel]) -> None:
        super().__init__(live)
        with ui.card().classes("w-full max-sm:px-2"):
            with ui.row().classes("items-end justify-between w-full gap-3 flex-wrap"):
                heading("Sync events")
                with ui.row().classes("gap-3 flex-wrap"):
                    self.account = ui.select(account_choices(labels), value=0, label="Account")
                    self.account.classes("min-w-44").mark("sync-account")
                    self.status = ui.select(STATUSES, value=ANY, label="Status")
                    self.status.classes("min-w-36").mark("sync-status")
            self.table = paged_table(EVENT_COLUMNS, "sync-events")
            utc_on_hover(self.table, "at", "at_utc")
            hover(self.table, "account", "login")
            self.pager = KeysetPager("sync-events-pager", self.refresh)
            live.add(self)
        self._filters_changed(live, self.account, self.status)

    async def fetch(self) -> Page:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        page = await queries.sync_events(
            viewer,
            account_id=int(self.account.value) or None,
            status=str(self.status.value) or None,
            limit=PAGE_SIZE,
            cursor=self.pager.cursor,
        )
        return Page(page, await queries.list_accounts(viewer))

    def show(self, data: Page) -> None:
        page: SyncEventPage = data.page.model
        labels = labels_of(data.accounts.model)
        live = self.live
        rows = []
        for e in page.events:
            account = label_of(labels, e.account_id)
            rows.append(
                {
                    "id": e.id,
                    "at": live.local(e.created_at, with_date=True),
                    "at_utc": utc(e.created_at),
                    "account": account.name,
                    "login": account.login,
                    "type": e.event_type.value.replace("_", " "),
                    "status": e.status.value,
                    "matched": f"{e.matched_positions}/{e.broker_positions}",
                    "divergences": e.divergences,
                    "duration": e.duration_ms,
                    "error": e.error or "",
                }
            )
        set_rows(self.table, rows)
        self.pager.seen(page.next_cursor)
