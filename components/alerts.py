"""The live panels of `/alerts`: the alerts table (state, level, kind, account, title, time, and per
channel what delivery did, expandable to every attempt) with its acknowledgement, and the demo
channel's log.

Filters (open only, kind, level) live in the URL query (`?open=1&kind=guard&level=critical`) so a
reload, a bookmark or a link from a message keeps them; the page reads them once when it is built
and rewrites the address in place (no history entry) when they change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components.accounts import AccountLabel, label_of, labels_of
from components.cards import heading, set_rows, set_text, utc
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.demo.alerts import read_demo_log
from dashboard.domain.enums import AlertKind, AlertState, DeliveryStatus, Level
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.alerts import AlertDeliveryView, AlertList, AlertView
from dashboard.services.alerts.acknowledge import acknowledge_alert
from dashboard.services.errors import InvalidInput, NotFound

PATH = "/alerts"
MAX_ALERTS = 200
DEMO_MESSAGES = 20

KINDS = {"": "All kinds", **{k.value: k.value for k in AlertKind}}
LEVELS = {"": "All levels", **{lv.value: lv.value for lv in Level}}
# Dark text on a light tint (or white on a dark one): 4.5:1 or more in both colour modes.
STATUS_CLASSES = {
    "pending": "bg-slate-200 text-slate-900",
    "sent": "bg-blue-100 text-blue-900",
    "failed": "bg-red-700 text-white",
    "suppressed": "bg-slate-200 text-slate-900",
    "acknowledged": "bg-green-100 text-green-900",
    "resolved": "bg-green-100 text-green-900",
    "unrouted": "bg-amber-100 text-amber-900",
}
LEVEL_CLASSES = {
    Level.CRITICAL: "text-red-700 dark:text-red-400 font-medium",
    Level.WARNING: "text-amber-800 dark:text-amber-300 font-medium",
    Level.NORMAL: "",
}
# What a person calls a delivery's state ("dead" is the outbox's word for "gave up").
DELIVERY_WORDS = {
    DeliveryStatus.PENDING: "pending",
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.DEAD: "failed",
    DeliveryStatus.SUPPRESSED: "suppressed",
}

COLUMNS: list[dict[str, Any]] = [
    {"name": "details", "label": "Details", "field": "id", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "level", "label": "Level", "field": "level", "align": "left"},
    {"name": "kind", "label": "Kind", "field": "kind", "align": "left"},
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "title", "label": "Alert", "field": "title", "align": "left"},
    {"name": "at", "label": "Time", "field": "at", "align": "left"},
    {"name": "channels", "label": "Delivery", "field": "channels", "align": "left"},
    {"name": "ack", "label": "Acknowledged", "field": "acked", "align": "left"},
]
# One row per alert and, when expanded, one below it with every channel's attempts. Texts go
# through Vue's interpolation (escaped); the buttons carry the alert in their accessible name.
BODY_SLOT = """
<q-tr :props="props" :data-testid="'alert-' + props.row.id">
  <q-td key="details" :props="props" auto-width>
    <q-btn dense flat no-caps size="sm" color="primary" label="Deliveries"
           :icon="props.expand ? 'expand_less' : 'expand_more'"
           :aria-expanded="props.expand ? 'true' : 'false'"
           :aria-label="'Deliveries of ' + props.row.title + ', ' + props.row.at"
           @click="props.expand = !props.expand" />
  </q-td>
  <q-td key="status" :props="props">
    <span :class="'rounded px-2 py-0.5 text-xs font-medium ' + props.row.status_class"
          data-testid="alert-status">{{ props.row.status }}</span>
  </q-td>
  <q-td key="level" :props="props"><span :class="props.row.level_class">{{ props.row.level }}</span></q-td>
  <q-td key="kind" :props="props">{{ props.row.kind }}</q-td>
  <q-td key="account" :props="props" :title="props.row.login">{{ props.row.account }}</q-td>
  <q-td key="title" :props="props" class="whitespace-normal min-w-48">{{ props.row.title }}</q-td>
  <q-td key="at" :props="props" :title="props.row.at_utc">{{ props.row.at }}</q-td>
  <q-td key="channels" :props="props" class="whitespace-normal">{{ props.row.channels }}</q-td>
  <q-td key="ack" :props="props">
    <q-btn v-if="props.row.ackable" dense outline color="primary" label="Acknowledge"
           :aria-label="'Acknowledge ' + props.row.title + ', ' + props.row.at"
           @click="() => $parent.$emit('ack', props.row)" />
    <span v-else>{{ props.row.acked }}</span>
  </q-td>
</q-tr>
<q-tr v-show="props.expand" :props="props">
  <q-td colspan="100%" class="whitespace-normal" :data-testid="'deliveries-' + props.row.id">
    <div v-if="props.row.deliveries.length === 0" class="text-sm">{{ props.row.no_delivery }}</div>
    <div v-for="d in props.row.deliveries" :key="d.key" class="text-sm q-mb-sm">
      <div class="font-medium">{{ d.summary }}</div>
      <div v-if="d.error" class="text-red-700 dark:text-red-400">last error: {{ d.error }}</div>
      <ul class="m-0 pl-5">
        <li v-for="(a, i) in d.history" :key="i" :title="a.at_utc">{{ a.at }}: {{ a.result }}</li>
      </ul>
    </div>
  </q-td>
</q-tr>
"""


@dataclass(frozen=True)
class AlertFilters:
    open_only: bool = False
    kind: str = ""
    level: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> AlertFilters:
        """From the URL query; anything unknown is ignored (a hand-edited link still opens)."""
        kind, level = params.get("kind", ""), params.get("level", "")
        return cls(
            open_only=params.get("open", "") in ("1", "true"),
            kind=kind if kind in KINDS else "",
            level=level if level in LEVELS else "",
        )

    def url(self) -> str:
        """The page's address with these filters (the defaults left out)."""
        query = {
            key: value
            for key, value in (
                ("open", "1" if self.open_only else ""),
                ("kind", self.kind),
                ("level", self.level),
            )
            if value
        }
        return f"{PATH}?{urlencode(query)}" if query else PATH


async def display_names(live: LivePage, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Who people are by id ("you" for the viewer), from the cached session state that every
    request reads anyway; a user that no longer exists is "user #id"."""
    names: dict[int, str] = {}
    for user_id in {i for i in user_ids if i is not None}:
        if user_id == live.principal.user_id:
            names[user_id] = "you"
            continue
        state = await live.runtime.auth.session_state(user_id)
        names[user_id] = state.display_name if state is not None else f"user #{user_id}"
    return names


def who(names: Mapping[int, str], user_id: int | None) -> str:
    return names.get(user_id, f"user #{user_id}") if user_id is not None else "someone"


def account_of(alert: AlertView, labels: dict[int, AccountLabel]) -> AccountLabel:
    """The account's name; a market guard's or the dashboard's own alert has none."""
    if alert.account_id is None:
        return AccountLabel("market" if alert.kind is AlertKind.GUARD else "dashboard", "")
    return label_of(labels, alert.account_id)


def ackable(alert: AlertView) -> bool:
    """Only a raise that is still open and nobody acknowledged yet gets the button."""
    return alert.state is AlertState.RAISED and alert.open and alert.acknowledged_at is None


def delivery_row(delivery: AlertDeliveryView, live: LivePage) -> dict[str, Any]:
    word = DELIVERY_WORDS.get(delivery.status, delivery.status.value)
    tries = f"{delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
    extra = [tries]
    if delivery.escalation:
        extra.append("escalation")
    if delivery.status is DeliveryStatus.PENDING and delivery.attempts:
        extra.append(f"next try {live.local(delivery.next_attempt_at)}")
    if delivery.sent_at is not None:
        extra.append(f"sent {live.local(delivery.sent_at, with_date=True)}")
    return {
        "key": f"{delivery.channel}-{delivery.escalation}",
        "summary": f"{delivery.channel}: {word} ({', '.join(extra)})",
        "error": delivery.last_error or "",
        "history": [
            {
                "at": live.local(a.at, with_date=True),
                "at_utc": utc(a.at),
                "result": "ok" if a.ok else f"error: {a.error or 'unknown'}",
            }
            for a in delivery.history
        ],
    }


def channels_text(alert: AlertView) -> str:
    """One line per alert: each channel with its delivery state and attempts."""
    if not alert.deliveries:
        return "–"
    return ", ".join(
        f"{d.channel}{' (escalation)' if d.escalation else ''}: "
        f"{DELIVERY_WORDS.get(d.status, d.status.value)} ×{d.attempts}"
        for d in alert.deliveries
    )


def row_of(
    alert: AlertView, labels: dict[int, AccountLabel], names: Mapping[int, str], live: LivePage
) -> dict[str, Any]:
    account = account_of(alert, labels)
    acked = ""
    if alert.acknowledged_at is not None:
        acked = f"{live.local(alert.acknowledged_at, with_date=True)} by {who(names, alert.acknowledged_by)}"
    return {
        "id": alert.id,
        "status": alert.status,
        "status_class": STATUS_CLASSES.get(alert.status, ""),
        "level": alert.level.value,
        "level_class": LEVEL_CLASSES.get(alert.level, ""),
        "kind": alert.kind.value,
        "account": account.name,
        "login": account.login,
        "title": alert.title,
        "at": live.local(alert.created_at, with_date=True),
        "at_utc": utc(alert.created_at),
        "channels": channels_text(alert),
        "ackable": ackable(alert),
        "acked": acked,
        "no_delivery": "Not routed yet." if alert.status == "pending" else "No channel takes this alert.",
        "deliveries": [delivery_row(d, live) for d in alert.deliveries],
    }


@dataclass(frozen=True)
class AlertsShown:
    alerts: Cached[AlertList]
    accounts: Cached[AccountList]
    #: Who acknowledged, by id (sorted pairs: part of what the panel shows).
    names: tuple[tuple[int, str], ...]


class AlertsPanel(LivePanel[AlertsShown]):
    """Open and recent alerts the viewer may see (the query applies who sees what)."""

    name = "alerts"

    def __init__(self, live: LivePage, filters: AlertFilters) -> None:
        super().__init__(live)
        with ui.row().classes("w-full items-center gap-3 flex-wrap"):
            self.open_only = ui.switch("Open only", value=filters.open_only).mark("filter-open")
            self.kind = ui.select(KINDS, value=filters.kind, label="Kind").classes("min-w-36")
            self.kind.mark("filter-kind")
            self.level = ui.select(LEVELS, value=filters.level, label="Level").classes("min-w-36")
            self.level.mark("filter-level")
            ui.space()
            self.summary = ui.label().classes("text-sm").mark("alerts-summary")
        self.table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=25).classes("w-full")
        self.table.props('dense flat no-data-label="No alerts in the last 7 days"').mark("alerts")
        self.table.add_slot("body", BODY_SLOT)
        self.table.on("ack", lambda e: live.act(lambda: self.acknowledge(int(e.args["id"]))))
        live.add(self)
        for control in (self.open_only, self.kind, self.level):
            control.on_value_change(lambda: live.act(self.refilter))

    @property
    def filters(self) -> AlertFilters:
        return AlertFilters(
            bool(self.open_only.value), str(self.kind.value or ""), str(self.level.value or "")
        )

    async def fetch(self) -> AlertsShown:
        live, filters = self.live, self.filters
        viewer = live.principal.viewer
        listed = await live.runtime.queries.alerts(
            viewer,
            open_only=filters.open_only,
            kind=filters.kind or None,
            level=filters.level or None,
            limit=MAX_ALERTS,
        )
        accounts = await live.runtime.queries.list_accounts(viewer)
        names = await display_names(live, (a.acknowledged_by for a in listed.model.alerts))
        return AlertsShown(listed, accounts, tuple(sorted(names.items())))

    def show(self, data: AlertsShown) -> None:
        alerts = data.alerts.model.alerts
        labels = labels_of(data.accounts.model)
        names = dict(data.names)
        set_rows(self.table, [row_of(a, labels, names, self.live) for a in alerts])
        waiting = sum(1 for a in alerts if ackable(a))
        set_text(self.summary, f"{len(alerts)} shown · {waiting} waiting for acknowledgement")

    async def refilter(self) -> None:
        ui.navigate.history.replace(self.filters.url())
        await self.refresh()

    async def acknowledge(self, alert_id: int) -> None:
        try:
            done = await self.live.runtime.write(
                acknowledge_alert, self.live.principal.viewer, alert_id, via="dashboard"
            )
        except NotFound:
            ui.notify("That alert is not visible to you", type="warning")
            return
        except InvalidInput as error:
            ui.notify(f"Not acknowledged: {error}", type="warning")
            return
        ui.notify("Acknowledged" if done.changed else "It had been acknowledged already", type="positive")
        await self.refresh()


class DemoChannelPanel(LivePanel[tuple[str, ...]]):
    """What the demo's built-in channel received (a local file): a new user sees a breach travel
    all the way to a channel without configuring one. The file is read in a thread."""

    name = "demo-channel"

    def __init__(self, live: LivePage, path: Path) -> None:
        super().__init__(live)
        self.path = path
        with ui.card().classes("w-full"):
            heading("Demo channel")
            ui.label(f"The newest messages the demo channel wrote to {path.name}, newest first.").classes(
                "text-sm"
            )
            self.log = ui.label("No message yet.").classes("whitespace-pre-wrap font-mono text-xs w-full")
            self.log.style("overflow-wrap: anywhere")  # a link's long token wraps too
            self.log.props('data-testid="demo-log"').mark("demo-log")
            live.add(self)

    async def fetch(self) -> tuple[str, ...]:
        return tuple(await asyncio.to_thread(read_demo_log, self.path, DEMO_MESSAGES))

    def show(self, data: tuple[str, ...]) -> None:
        set_text(self.log, "\n\n".join(data) if data else "No message yet.")
