"""Incidents as work items on `/reconciliation`: the detail dialog (state, assignee, who acknowledged
and resolved it, the comments and a comment box; for risk and admin Acknowledge, Assign and
Resolve with a required note) and the bulk bar over the open incidents' selection (Acknowledge,
Assign to…).

Every button runs a write service with the viewer (`runtime.write`), and the service checks the
role again: a trader never gets the action buttons, and a hand-made socket event calling a handler
is refused by the service all the same (`Forbidden`), shown as a notice, nothing written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel, label_of
from components.cards import MUTED, set_text
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.domain.enums import IncidentState
from dashboard.schemas.incident_work import AssignableUsers, IncidentDetail
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.incident_work import (
    BulkAction,
    BulkChanged,
    acknowledge_incident,
    assign_incident,
    bulk_incidents,
    comment_incident,
    resolve_incident,
)

#: The assign selects' "nobody" choice.
NOBODY = ""
#: The state badge's colours: dark enough for its white text (4.5:1) in light and dark mode.
STATE_COLOURS = {
    IncidentState.OPEN: "red-9",
    IncidentState.ACKNOWLEDGED: "deep-orange-10",
    IncidentState.RESOLVED: "green-9",
}


def people_choices(people: AssignableUsers | None) -> dict[str, str]:
    """Assignable people by e-mail, with "Nobody" first (unassigns)."""
    choices = {NOBODY: "Nobody"}
    if people is not None:
        choices.update({p.email: f"{p.display_name} ({p.email})" for p in people.users})
    return choices


async def run_action(live: LivePage, action: Callable[[], Awaitable[object]], done: str) -> bool:
    """Run a write for the page: its refusal (role, visibility, a bad value) is a notice naming
    why, never a traceback; True when it went through."""
    try:
        await action()
    except Forbidden:
        ui.notify("Only risk and admin users may do that", type="negative")
        return False
    except NotFound:
        ui.notify("That incident is not visible to you", type="warning")
        return False
    except InvalidInput as error:
        ui.notify(str(error), type="warning")
        return False
    ui.notify(done, type="positive")
    return True


@dataclass(frozen=True)
class DetailView:
    detail: Cached[IncidentDetail]
    people: Cached[AssignableUsers] | None


class IncidentDetailPanel(LivePanel[DetailView | None]):
    """The dialog of one incident, kept up to date by the page's tick while it is open (another
    person's comment or acknowledgement shows without reopening it)."""

    name = "incident-detail"

    def __init__(self, live: LivePage, labels: dict[int, AccountLabel]) -> None:
        super().__init__(live)
        self.labels = labels
        self.incident_id: int | None = None
        self.acts = live.principal.viewer.sees_all and live.at is None
        self.comments_shown: tuple[object, ...] | None = None
        #: Panels that list incidents, refreshed at once after an action here (not a tick later).
        self.listeners: list[LivePanel[Any]] = []
        with ui.dialog() as self.dialog, ui.card().classes("w-full max-w-2xl").mark("incident-detail"):
            with ui.row().classes("items-baseline justify-between w-full no-wrap"):
                self.title = ui.label("").classes("text-base font-semibold").mark("incident-title")
                self.state = ui.badge("").props('role="status" data-testid="incident-state"')
                self.state.mark("incident-state")
            self.facts = ui.label("").classes(f"text-sm {MUTED}").mark("incident-facts")
            self.assignee = ui.label("").classes("text-sm").mark("incident-assignee")
            self.handled = ui.label("").classes("text-sm").mark("incident-handled")
            self.handled.props('data-testid="incident-handled"')
            if self.acts:
                self._actions()
            ui.label("Comments").classes("font-semibold mt-2")
            self.comments = ui.column().classes("w-full gap-1").mark("incident-comments")
            self.body = ui.textarea("Add a comment").props("outlined dense autogrow maxlength=2000")
            self.body.classes("w-full").mark("incident-comment-body")
            with ui.row().classes("w-full justify-end gap-2"):
                comment = ui.button("Comment", on_click=lambda: live.act(self.comment))
                comment.props("outline").mark("incident-comment")
                ui.button("Close", on_click=self.dialog.close).props("flat").mark("incident-close")
            live.add(self)
        self.dialog.on_value_change(self._closed)

    def _closed(self) -> None:
        """A closed dialog reads nothing more (the tick skips it until a row is opened again)."""
        if not self.dialog.value:
            self.incident_id = None

    def _actions(self) -> None:
        live = self.live
        with ui.column().classes("w-full gap-2").mark("incident-actions") as self.actions:
            with ui.row().classes("w-full items-end gap-2 flex-wrap"):
                acknowledge = ui.button("Acknowledge", on_click=lambda: live.act(self.acknowledge))
                self.acknowledge_button = acknowledge.mark("incident-acknowledge")
                self.assign_to = ui.select(people_choices(None), value=NOBODY, label="Assignee")
                self.assign_to.classes("min-w-56").mark("incident-assign-to")
                ui.button("Assign", on_click=lambda: live.act(self.assign)).props("outline").mark(
                    "incident-assign"
                )
            self.note = ui.textarea("Resolution note (required)").props(
                "outlined dense autogrow maxlength=2000"
            )
            self.note.classes("w-full").mark("incident-note")
            with ui.row().classes("w-full justify-end"):
                resolve = ui.button("Resolve", on_click=lambda: live.act(self.resolve)).props(
                    "color=positive"
                )
                resolve.mark("incident-resolve")

    async def open(self, incident_id: int) -> None:
        """Show one incident (from a row's "Open"). It becomes the panel's incident only once it
        was read: an action under way meanwhile (a comment's refresh) keeps reading the incident
        it acted on, never one this viewer may not see."""
        try:
            data = await self._read(incident_id)
        except NotFound:  # the one shown before stays
            ui.notify("That incident is not visible to you", type="warning")
            return
        self.incident_id, self.comments_shown = incident_id, None
        self.show(data)
        self.live.shown(self, data)
        if self.acts:
            self.note.value = ""
        self.dialog.open()

    async def fetch(self) -> DetailView | None:
        incident_id = self.incident_id
        if incident_id is None:
            return None
        try:
            return await self._read(incident_id)
        except NotFound:
            # No longer visible to this viewer (its account changed hands): nothing left to show.
            if self.incident_id == incident_id:
                self.incident_id, self.comments_shown = None, None
            return None

    async def _read(self, incident_id: int) -> DetailView:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        detail = await queries.incident_detail(viewer, incident_id)
        people = await queries.assignable_users(viewer) if self.acts else None
        return DetailView(detail, people)

    def show(self, data: DetailView | None) -> None:
        if data is None:
            if self.incident_id is None:
                self.dialog.close()
            return
        incident = data.detail.model
        live = self.live
        account = label_of(self.labels, incident.account_id)
        set_text(self.title, f"{incident.kind.value} on {incident.symbol} · {account.name}")
        if self.state.text != incident.state.value:
            self.state.text = incident.state.value
            self.state.props(f"color={STATE_COLOURS[incident.state]}")
        reopened = f"; reopened {incident.reopen_count}×" if incident.reopen_count else ""
        set_text(
            self.facts,
            f"{incident.severity.value} · local {incident.local_value or '–'} · broker "
            f"{incident.broker_value or '–'} · first seen "
            f"{live.local(incident.first_seen_at, with_date=True)} · seen {incident.occurrences}×{reopened}",
        )
        set_text(self.assignee, f"Assignee: {incident.assignee or 'nobody'}")
        set_text(self.handled, self._handled(incident))
        self._show_comments(incident)
        if self.acts:
            open_now = incident.state is not IncidentState.RESOLVED
            self.actions.set_visibility(open_now)
            self.acknowledge_button.set_visibility(incident.state is IncidentState.OPEN)
            people = data.people.model if data.people is not None else None
            choices = people_choices(people)
            if self.assign_to.options != choices:
                self.assign_to.set_options(choices, value=incident.assignee or NOBODY)

    def _handled(self, incident: IncidentDetail) -> str:
        live = self.live
        parts = []
        if incident.acknowledged_at is not None:
            parts.append(
                f"Acknowledged by {incident.acknowledger or '–'} at "
                f"{live.local(incident.acknowledged_at, with_date=True)}"
            )
        if incident.state is IncidentState.RESOLVED:
            who = f"by {incident.resolver}" if incident.resolver else "by the sync"
            how = incident.resolution.value.replace("_", " ")
            note = f": {incident.resolution_note}" if incident.resolution_note else ""
            parts.append(
                f"Resolved ({how}) {who} at {live.local(incident.resolved_at, with_date=True)}{note}"
            )
        return ". ".join(parts)

    def _show_comments(self, incident: IncidentDetail) -> None:
        key = tuple((c.id, c.body) for c in incident.comments)
        if key == self.comments_shown:
            return
        self.comments_shown = key
        self.comments.clear()
        with self.comments:
            if not incident.comments:
                ui.label("No comments yet.").classes(f"text-sm {MUTED}")
            for c in incident.comments:
                with ui.column().classes("gap-0 w-full").mark("incident-comment-row"):
                    when = self.live.local(c.created_at, with_date=True)
                    ui.label(f"{c.author} · {when}").classes(f"text-xs {MUTED}")
                    ui.label(c.body).classes("text-sm whitespace-pre-wrap")

    # ---- the actions (each checked again by its service)

    async def _write(self, service: Callable[..., Awaitable[Any]], *args: object, done: str) -> bool:
        if self.live.at is not None:  # no action on the past
            ui.notify("Incidents are handled on the live page", type="warning")
            return False
        incident_id = self.incident_id
        if incident_id is None:
            return False
        live = self.live
        viewer = live.principal.viewer
        ok = await run_action(live, lambda: live.runtime.write(service, viewer, incident_id, *args), done)
        if ok:
            if self.incident_id == incident_id:  # not if another incident was opened meanwhile
                await self.refresh()
            for panel in self.listeners:
                await panel.refresh()
        return ok

    async def acknowledge(self) -> None:
        await self._write(acknowledge_incident, done="Acknowledged")

    async def assign(self, email: str | None = None) -> None:
        """Assign to `email` (the select's choice when not given; "" or None unassigns)."""
        if email is None and self.acts:
            email = str(self.assign_to.value or "")
        await self._write(assign_incident, email or None, done="Assigned" if email else "Unassigned")

    async def comment(self) -> None:
        text = str(self.body.value or "").strip()
        if not text:
            ui.notify("Write a comment first", type="warning")
            return
        if await self._write(comment_incident, text, done="Comment added"):
            self.body.value = ""

    async def resolve(self, note: str | None = None) -> None:
        """Resolve with `note` (the note box's text when not given): a blank note is refused here
        with a clear message, and again by the service."""
        if note is None:
            note = str(self.note.value or "") if self.acts else ""
        if not note.strip():
            ui.notify("A resolution note is required: say why the incident is resolved", type="warning")
            return
        if await self._write(resolve_incident, note, done="Resolved"):
            if self.acts:
                self.note.value = ""


class BulkBar:
    """Acknowledge or assign the selected open incidents at once (risk and admin only)."""

    def __init__(
        self, live: LivePage, selected: Callable[[], list[int]], after: Callable[[], Awaitable[None]]
    ) -> None:
        self.live = live
        self.selected = selected
        self.after = after
        with ui.row().classes("w-full items-end gap-2 flex-wrap").mark("incidents-bulk"):
            self.count = ui.label("0 selected").classes(f"text-sm {MUTED}").mark("incidents-selected")
            ui.button("Acknowledge", on_click=lambda: live.act(self.acknowledge)).props("outline dense").mark(
                "bulk-acknowledge"
            )
            self.assignee = ui.select(people_choices(None), value=NOBODY, label="Assign to…")
            self.assignee.classes("min-w-56").props("dense").mark("bulk-assignee")
            ui.button("Assign", on_click=lambda: live.act(self.assign)).props("outline dense").mark(
                "bulk-assign"
            )

    def people(self, people: AssignableUsers | None) -> None:
        choices = people_choices(people)
        if self.assignee.options != choices:
            value = self.assignee.value if self.assignee.value in choices else NOBODY
            self.assignee.set_options(choices, value=value)

    def counted(self, n: int) -> None:
        set_text(self.count, f"{n} selected")

    async def _bulk(self, action: BulkAction, email: str | None) -> None:
        ids = self.selected()
        if not ids:
            ui.notify("Select incidents first", type="warning")
            return
        live = self.live
        result: list[BulkChanged] = []

        async def write() -> None:
            result.append(await live.runtime.write(bulk_incidents, live.principal.viewer, ids, action, email))

        if await run_action(live, write, "Done"):
            ui.notify(f"{result[0].changed} of {result[0].requested} changed", type="info")
            await self.after()

    async def acknowledge(self) -> None:
        await self._bulk("acknowledge", None)

    async def assign(self) -> None:
        await self._bulk("assign", str(self.assignee.value or "") or None)
