"""The panel of `/audit` (risk and admin): who did what, when and from where, filtered on the server
by person, action, target, account and time (`?account=` opens it on one account, as the
account page links it), a keyset page of 50 at a time, and CSV export of exactly the
rows shown (times in UTC, the detail as JSON)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel, label_of
from components.cards import PHONE_GRID, set_rows, utc, utc_on_hover
from components.csv_export import to_csv
from components.live import LivePage, LivePanel
from components.pager import KeysetPager
from dashboard.cache.base_queries import Cached
from dashboard.schemas.audit import AuditPage
from dashboard.services.audit import AuditAction

PAGE_SIZE = 50
WINDOWS: dict[str, timedelta | None] = {
    "24 h": timedelta(hours=24),
    "7 d": timedelta(days=7),
    "30 d": timedelta(days=30),
    "all": None,
}
ANY = ""
ACTIONS = {ANY: "Any action", **{a.value: a.value.replace("_", " ") for a in AuditAction}}
COLUMNS: list[dict[str, Any]] = [
    {"name": "at", "label": "Time", "field": "at", "align": "left"},
    {"name": "actor", "label": "Who", "field": "actor", "align": "left"},
    {"name": "action", "label": "Action", "field": "action", "align": "left"},
    {"name": "target", "label": "Target", "field": "target", "align": "left"},
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "client", "label": "From", "field": "client", "align": "left"},
    {"name": "detail", "label": "Detail", "field": "detail", "align": "left"},
]
EXPORT_FIELDS = {"at": "at_utc"}


class AuditPanel(LivePanel[Cached[AuditPage]]):
    name = "audit"

    def __init__(
        self, live: LivePage, labels: dict[int, AccountLabel], account_id: int | None = None
    ) -> None:
        super().__init__(live)
        self.labels = labels
        accounts = {ANY: "Any account", **{str(i): label.long for i, label in labels.items()}}
        with ui.row().classes("w-full items-end gap-3 flex-wrap"):
            self.actor = ui.input("Person (e-mail)").props("dense clearable").classes("min-w-56")
            self.actor.mark("audit-actor")
            self.action = ui.select(ACTIONS, value=ANY, label="Action").classes("min-w-48")
            self.action.mark("audit-action")
            self.target = ui.input("Target (e.g. rule:3)").props("dense clearable").classes("min-w-44")
            self.target.mark("audit-target")
            chosen = str(account_id) if account_id is not None else ANY
            self.account = ui.select(accounts, value=chosen if chosen in accounts else ANY, label="Account")
            self.account.classes("min-w-48").mark("audit-account")
            self.window = ui.toggle(list(WINDOWS), value="7 d").props('dense role=group aria-label="Period"')
            self.window.mark("audit-window")
            ui.space()
            export = ui.button("Export CSV", icon="download", on_click=lambda: live.act(self.export))
            export.props("outline").mark("audit-export")
        self.table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full")
        self.table.props(f"dense flat hide-pagination wrap-cells {PHONE_GRID}").mark("audit")
        self.table.pagination = {"rowsPerPage": 0}
        utc_on_hover(self.table, "at", "at_utc")
        self.pager = KeysetPager("audit-pager", self.refresh)
        live.add(self)
        for control in (self.action, self.account, self.window):
            control.on_value_change(lambda: live.act(self.refilter))
        for text in (self.actor, self.target):  # on Enter or leaving the field, not per keystroke
            text.on("keydown.enter", lambda: live.act(self.refilter))
            text.on("blur", lambda: live.act(self.refilter))

    async def refilter(self) -> None:
        self.pager.reset()
        await self.refresh()

    async def fetch(self) -> Cached[AuditPage]:
        return await self.live.runtime.queries.audit_trail(
            self.live.principal.viewer,
            actor=str(self.actor.value or "") or None,
            action=str(self.action.value or "") or None,
            target=str(self.target.value or "") or None,
            account_id=int(self.account.value) if self.account.value else None,
            window=WINDOWS[str(self.window.value)],
            limit=PAGE_SIZE,
            cursor=self.pager.cursor,
        )

    def show(self, data: Cached[AuditPage]) -> None:
        page = data.model
        live = self.live
        rows = [
            {
                "id": e.id,
                "at": live.local(e.created_at, with_date=True),
                "at_utc": utc(e.created_at),
                "actor": e.actor_email or "–",
                "action": e.action,
                "target": e.target or "",
                "account": label_of(self.labels, e.account_id).long if e.account_id is not None else "",
                "client": e.client_addr or "",
                "detail": json.dumps(e.detail, sort_keys=True) if e.detail else "",
            }
            for e in page.entries
        ]
        set_rows(self.table, rows)
        self.pager.seen(page.next_cursor)

    async def export(self) -> None:
        ui.download(to_csv(COLUMNS, self.table.rows, EXPORT_FIELDS), "audit.csv", "text/csv")
