"""The panels of `/reconciliation`: status cards with the last sync events, the divergence
timeline (individual incidents over 1 h and 6 h, counted bars over 24 h and 7 d), and the open
incidents. In the past view (`live.at`) each reads the as-of services: the status and the open
incidents at that moment, the timeline's window ending at it, the incidents' ages as they were.

Live, the open incidents are work items: each shows its state and assignee and opens its detail
(`components.incident_work`); risk and admin filter the list and acknowledge or assign the
selected ones at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from nicegui import ui

from components.accounts import AccountLabel, label_of, labels_of
from components.cards import MUTED, PHONE_GRID, card, heading, hover, set_rows, set_text, utc, utc_on_hover
from components.incident_work import BulkBar, IncidentDetailPanel
from components.live import LivePage, LivePanel
from components.timeline import DivergenceTimelineChart
from components.timeline_counts import DivergenceCountsChart
from dashboard.cache.base_queries import Cached
from dashboard.domain.enums import DivergenceKind, IncidentState
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.common import EARLIEST, ReadModel
from dashboard.schemas.incident_work import AssignableUsers
from dashboard.schemas.reconciliation import (
    DivergenceCounts,
    DivergenceTimeline,
    OpenIncidents,
    ReconciliationStatus,
)

M = TypeVar("M", bound=ReadModel)

WINDOWS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
#: Windows drawn as counts by bucket (`components.timeline_counts`): a fleet's day or week of
#: incidents never goes to the browser one by one.
COUNTED = frozenset({"24h", "7d"})
ACCOUNT_COLUMN: dict[str, Any] = {"name": "account", "label": "Account", "field": "account", "align": "left"}
EVENT_COLUMNS: list[dict[str, Any]] = [
    {"name": "at", "label": "Time", "field": "at", "align": "left"},
    ACCOUNT_COLUMN,
    {"name": "type", "label": "Type", "field": "type", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "divergences", "label": "Divergences", "field": "divergences"},
    {"name": "duration", "label": "ms", "field": "duration"},
]
INCIDENT_COLUMNS: list[dict[str, Any]] = [
    {"name": "age", "label": "Age", "field": "age", "align": "left"},
    ACCOUNT_COLUMN,
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left"},
    {"name": "kind", "label": "Kind", "field": "kind", "align": "left", "sortable": True},
    {"name": "severity", "label": "Severity", "field": "severity", "align": "left", "sortable": True},
    {"name": "local", "label": "Local", "field": "local"},
    {"name": "broker", "label": "Broker", "field": "broker"},
    {"name": "seen", "label": "Seen", "field": "seen"},
]
#: Live, an incident is a work item: its state, assignee and a way to open it.
WORK_COLUMNS: list[dict[str, Any]] = [
    {"name": "state", "label": "State", "field": "state", "align": "left", "sortable": True},
    {"name": "assignee", "label": "Assignee", "field": "assignee", "align": "left", "sortable": True},
    {"name": "open", "label": "", "field": "id", "align": "right"},
]
OPEN_SLOT = """
<q-td :props="props">
  <q-btn dense flat no-caps size="sm" color="primary" label="Open"
         :aria-label="'Open incident ' + props.row.id" @click="() => $parent.$emit('open', props.row)" />
</q-td>
"""
# Quasar's selection checkboxes carry no name of their own: give them one (screen readers, axe).
SELECT_ROW_SLOT = """
<q-td auto-width>
  <q-checkbox v-model="props.selected" dense :aria-label="'Select incident ' + props.row.id" />
</q-td>
"""
SELECT_ALL_SLOT = (
    '<q-checkbox v-model="props.selected" dense aria-label="Select every incident on this page" />'
)
ANY = ""
KIND_CHOICES = {ANY: "Any kind", **{k.value: k.value.replace("_", " ") for k in DivergenceKind}}
STATE_CHOICES = {
    ANY: "Any state",
    IncidentState.OPEN.value: "open",
    IncidentState.ACKNOWLEDGED.value: "acknowledged",
}


SEVERITY_CLASS = (
    "{'text-red-700 dark:text-red-400': props.row.severity === 'critical', "
    "'text-amber-800 dark:text-amber-300': props.row.severity === 'warning'}"
)
# Below 600 px (`PHONE_GRID`) each row is a card, the fields that matter first.
EVENT_CARD = f"""
<div class="q-pa-xs col-12">
  <q-card flat bordered data-testid="event-card">
    <q-card-section class="q-py-sm">
      <div class="row items-baseline justify-between no-wrap q-gutter-x-sm">
        <div class="text-subtitle2 ellipsis">{{{{ props.row.account }}}}</div>
        <div class="text-no-wrap" :class="props.row.divergences ? 'text-weight-medium' : ''">
          {{{{ props.row.status }}}}
        </div>
      </div>
      <div class="text-caption {MUTED}">
        {{{{ props.row.at }}}} · {{{{ props.row.type }}}} ·
        <span class="text-no-wrap">
          {{{{ props.row.divergences }}}} {{{{ props.row.divergences === 1 ? "divergence" : "divergences" }}}}
        </span> ·
        <span class="text-no-wrap">{{{{ props.row.duration }}}} ms</span>
      </div>
    </q-card-section>
  </q-card>
</div>
"""
INCIDENT_CARD = f"""
<div class="q-pa-xs col-12">
  <q-card flat bordered data-testid="incident-card">
    <q-card-section class="q-py-sm">
      <div class="row items-baseline justify-between no-wrap q-gutter-x-sm">
        <div class="text-subtitle2 ellipsis">{{{{ props.row.kind }}}}</div>
        <div class="text-no-wrap text-weight-medium" :class="{SEVERITY_CLASS}">
          {{{{ props.row.severity }}}}
        </div>
      </div>
      <div class="row items-baseline justify-between no-wrap q-gutter-x-sm">
        <div class="text-weight-medium">{{{{ props.row.symbol }}}}</div>
        <div class="text-no-wrap">{{{{ props.row.age }}}}</div>
      </div>
      <div class="text-caption {MUTED}">{{{{ props.row.account }}}}</div>
      <div class="text-caption {MUTED}">
        <span class="text-no-wrap">local {{{{ props.row.local }}}}</span> ·
        <span class="text-no-wrap">broker {{{{ props.row.broker }}}}</span> ·
        <span class="text-no-wrap">seen {{{{ props.row.seen }}}}×</span>
      </div>
      <div v-if="props.row.state" class="row items-center justify-between no-wrap q-gutter-x-sm">
        <div class="text-caption">
          <!--select-->{{{{ props.row.state }}}}
          <span v-if="props.row.assignee !== '–'"> · {{{{ props.row.assignee }}}}</span>
        </div>
        <q-btn dense flat no-caps size="sm" color="primary" label="Open"
               :aria-label="'Open incident ' + props.row.id"
               @click="() => $parent.$emit('open', props.row)" />
      </div>
    </q-card-section>
  </q-card>
</div>
"""


#: On a phone (cards), risk and admin select an incident with a checkbox in its card.
CARD_SELECT = (
    '<q-checkbox v-model="props.selected" dense size="sm" class="q-mr-xs" '
    ":aria-label=\"'Select incident ' + props.row.id\" />"
)


def incident_card(selectable: bool) -> str:
    return INCIDENT_CARD.replace("<!--select-->", CARD_SELECT if selectable else "")


def age(since: datetime, now: datetime) -> str:
    seconds = int((now - since).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600} h"


@dataclass(frozen=True)
class Labelled(Generic[M]):
    """A cached read together with the accounts it mentions (their names, for the tables)."""

    read: Cached[M]
    accounts: Cached[AccountList]

    @property
    def model(self) -> M:
        return self.read.model

    @property
    def labels(self) -> dict[int, AccountLabel]:
        return labels_of(self.accounts.model)


class StatusPanel(LivePanel[Labelled[ReconciliationStatus]]):
    """Counters of the visible accounts and their last sync events."""

    name = "status"

    def __init__(self, live: LivePage) -> None:
        super().__init__(live)
        with ui.row().classes("w-full gap-3 flex-wrap"):
            self.total = card("Total syncs", "total-syncs")
            self.positions = card("Open positions", "open-positions")
            self.divergences = card("Divergences detected", "divergences")
            self.last_sync = card("Last sync", "last-sync")
            self.health = card("Health", "health")
        live.add(self)
        with ui.card().classes("w-full max-sm:px-2"):
            heading("Last sync events")
            self.events = ui.table(columns=EVENT_COLUMNS, rows=[], row_key="id").classes("w-full")
            self.events.props(f"dense flat {PHONE_GRID}").mark("events")
            self.events.add_slot("item", EVENT_CARD)
            utc_on_hover(self.events, "at", "at_utc")
            hover(self.events, "account", "login")

    async def fetch(self) -> Labelled[ReconciliationStatus]:
        queries, viewer, at = self.live.runtime.queries, self.live.principal.viewer, self.live.at
        if at is not None:
            return Labelled(
                await queries.reconciliation_status_at(viewer, at), await queries.list_accounts(viewer)
            )
        return Labelled(await queries.reconciliation_status(viewer), await queries.list_accounts(viewer))

    def show(self, data: Labelled[ReconciliationStatus]) -> None:
        status = data.model
        live = self.live
        set_text(self.total, f"{status.total_syncs:,}")
        set_text(self.positions, f"{status.open_positions_count:,}")
        set_text(self.divergences, f"{status.divergences_detected:,}")
        outcome = status.last_sync_status.value if status.last_sync_status else ""
        set_text(self.last_sync, f"{live.local(status.last_sync_at)} {outcome}".strip())
        set_text(self.health, status.health.value)
        labels = data.labels
        rows = []
        for e in status.recent_events:
            account = label_of(labels, e.account_id)
            rows.append(
                {
                    "id": e.id,
                    "at": live.local(e.created_at),
                    "at_utc": utc(e.created_at),
                    "account": account.name,
                    "login": account.login,
                    "type": e.event_type.value,
                    "status": e.status.value,
                    "divergences": e.divergences,
                    "duration": e.duration_ms,
                }
            )
        set_rows(self.events, rows)


Timeline = Cached[DivergenceTimeline] | Cached[DivergenceCounts]


class TimelinePanel(LivePanel[Timeline]):
    """Incidents by kind over time, one trace per severity; new ones are appended to the chart.
    Over 24 h and 7 d, counts by bucket as stacked bars (`COUNTED`)."""

    name = "timeline"

    def __init__(self, live: LivePage) -> None:
        super().__init__(live)
        with ui.card().classes("w-full"):
            with ui.row().classes("items-center justify-between w-full"):
                heading("Divergence timeline")
                self.window = ui.toggle(list(WINDOWS), value="24h", on_change=lambda: live.act(self.redraw))
                self.window.props('dense role=group aria-label="Timeline window"').mark("timeline-window")
            self.chart = DivergenceTimelineChart()
            self.counts = DivergenceCountsChart(self.chart.plot)
            self.redraw_next = False
            live.add(self)

    async def fetch(self) -> Timeline:
        name = str(self.window.value)
        window = WINDOWS[name]
        queries, viewer, at = self.live.runtime.queries, self.live.principal.viewer, self.live.at
        if at is None:
            if name in COUNTED:
                return await queries.divergence_counts(viewer, window=window)
            return await queries.divergence_timeline(viewer, window=window)
        # The window ends at the moment shown, which it includes (`until` is exclusive), and starts
        # no earlier than the calendar the reads accept.
        since, until = max(at - window, EARLIEST), at + timedelta(microseconds=1)
        if name in COUNTED:
            return await queries.divergence_counts(viewer, since=since, until=until)
        return await queries.divergence_timeline(viewer, since=since, until=until)

    def show(self, data: Timeline) -> None:
        model = data.model
        if isinstance(model, DivergenceCounts):
            self.chart.forget()
            self.counts.show(model)
        else:
            self.chart.show(model.incidents, redraw=self.redraw_next)
        self.redraw_next = False

    async def redraw(self) -> None:
        self.redraw_next = True
        await self.refresh()


@dataclass(frozen=True)
class IncidentsView:
    """The open incidents, the accounts they name, and (risk and admin, live) who can be assigned."""

    read: Cached[OpenIncidents]
    accounts: Cached[AccountList]
    people: Cached[AssignableUsers] | None = None


class IncidentsPanel(LivePanel[IncidentsView]):
    """Divergences still open, with their age and both sides' values; live, also their state and
    assignee, a row's "Open" (its detail), and for risk and admin filters, a selection and the bulk
    bar (acknowledge or assign the selected ones)."""

    name = "incidents"

    def __init__(self, live: LivePage, detail: IncidentDetailPanel | None = None) -> None:
        super().__init__(live)
        self.detail = detail
        if detail is not None:
            detail.listeners.append(self)
        self.work = live.at is None
        self.bulk: BulkBar | None = None
        works = self.work and live.principal.viewer.sees_all
        columns = INCIDENT_COLUMNS + WORK_COLUMNS if self.work else INCIDENT_COLUMNS
        with ui.card().classes("w-full max-sm:px-2"):
            with ui.row().classes("items-end justify-between w-full gap-3 flex-wrap"):
                heading("Open incidents" if live.at is None else "Open incidents at that moment")
                with ui.row().classes("gap-3 flex-wrap") as filters:
                    self.account = ui.select({0: "All accounts"}, value=0, label="Account").classes(
                        "min-w-44"
                    )
                    self.account.mark("incidents-account")
                    self.kind = ui.select(KIND_CHOICES, value=ANY, label="Kind").classes("min-w-44")
                    self.kind.mark("incidents-kind")
                    self.state = ui.select(STATE_CHOICES, value=ANY, label="State").classes("min-w-36")
                    self.state.mark("incidents-state")
                filters.set_visibility(self.work)
            if works:
                self.bulk = BulkBar(live, self.selected_ids, self.refresh)
                select_all = ui.button("Select all shown", on_click=lambda: live.act(self.select_all))
                select_all.props("flat dense no-caps").mark("incidents-select-all")
            self.table = ui.table(
                columns=columns,
                rows=[],
                row_key="id",
                pagination=25,
                selection="multiple" if works else None,
                on_select=self._selected_changed if works else None,
            )
            self.table.classes("w-full").props(f"dense flat {PHONE_GRID}").mark("incidents")
            self.table.add_slot("item", incident_card(works))
            utc_on_hover(self.table, "age", "since_utc")
            hover(self.table, "account", "login")
            if self.work:
                self.table.add_slot("body-cell-open", OPEN_SLOT)
                self.table.on("open", lambda e: live.act(lambda: self.open(int(e.args["id"]))))
            if works:
                self.table.add_slot("body-selection", SELECT_ROW_SLOT)
                self.table.add_slot("header-selection", SELECT_ALL_SLOT)
            live.add(self)
        for control in (self.account, self.kind, self.state):
            control.on_value_change(lambda: live.act(self.refresh))

    async def fetch(self) -> IncidentsView:
        queries, viewer, at = self.live.runtime.queries, self.live.principal.viewer, self.live.at
        if at is not None:
            return IncidentsView(
                await queries.open_incidents_at(viewer, at), await queries.list_accounts(viewer)
            )
        people = await queries.assignable_users(viewer) if self.bulk is not None else None
        return IncidentsView(
            await queries.open_incidents(viewer), await queries.list_accounts(viewer), people
        )

    def key(self, data: IncidentsView) -> tuple[object, ...]:
        """The ages move on even when nothing else changed: show again each minute (not in the
        past view, where they are ages at the moment shown); the filters are part of what is shown."""
        if self.live.at is not None:
            return super().key(data)
        filters = (self.account.value, self.kind.value, self.state.value)
        return (*super().key(data), filters, int(time.time() // 60))

    def _shown(self, data: IncidentsView) -> list[Any]:
        """The incidents the filters let through."""
        account, kind, state = (
            int(self.account.value or 0),
            str(self.kind.value or ""),
            str(self.state.value or ""),
        )
        return [
            i
            for i in data.read.model.incidents
            if (not account or i.account_id == account)
            and (not kind or i.kind.value == kind)
            and (not state or i.state.value == state)
        ]

    def show(self, data: IncidentsView) -> None:
        now = self.live.at or datetime.now(UTC)
        labels = labels_of(data.accounts.model)
        if self.work:
            choices = {0: "All accounts", **{i: label.long for i, label in labels.items()}}
            if self.account.options != choices:
                self.account.set_options(
                    choices, value=self.account.value if self.account.value in choices else 0
                )
        rows = []
        for i in self._shown(data) if self.work else data.read.model.incidents:
            account = label_of(labels, i.account_id)
            row = {
                "id": i.id,
                "age": age(i.first_seen_at, now),
                "since_utc": f"since {utc(i.first_seen_at)}",
                "account": account.name,
                "login": account.login,
                "symbol": i.symbol,
                "kind": i.kind.value,
                "severity": i.severity.value,
                "local": i.local_value or "–",
                "broker": i.broker_value or "–",
                "seen": i.occurrences,
            }
            if self.work:
                row["state"] = i.state.value
                row["assignee"] = i.assignee or "–"
            rows.append(row)
        set_rows(self.table, rows)
        if self.bulk is not None:
            self.bulk.people(data.people.model if data.people is not None else None)
            shown = {r["id"] for r in rows}
            kept = [r for r in self.table.selected if r["id"] in shown]
            if len(kept) != len(self.table.selected):
                self.table.selected = kept
                self.table.update()
            self.bulk.counted(len(kept))

    def selected_ids(self) -> list[int]:
        """The selected incidents that are still shown (the filters may have hidden some)."""
        shown = {r["id"] for r in self.table.rows}
        return [int(r["id"]) for r in self.table.selected if r["id"] in shown]

    def _selected_changed(self, _event: object = None) -> None:
        if self.bulk is not None:
            self.bulk.counted(len(self.selected_ids()))

    async def select_all(self) -> None:
        """Select every incident the filters show (every page of the table)."""
        self.table.selected = list(self.table.rows)
        self.table.update()
        self._selected_changed()

    async def open(self, incident_id: int) -> None:
        if self.detail is not None:
            await self.detail.open(incident_id)
