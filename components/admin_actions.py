"""What the admin page's panels share: who is acting (checked again before every action), the
address they act from, running one change with its refusal shown as a sentence, and the confirm
dialog.

Every action goes through `UserAdmin` (the same calls as the `users` CLI and the `/admin` API) and
its services re-check that the actor is an admin, so a hand-made socket event gets no further than
a hidden button. The actor is re-read from the session token right before each action: an admin
demoted or disabled in the meantime acts as nobody (their session has ended, the page leaves for
the login), never with the role the page was opened with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from nicegui import ui

from components.live import LivePage
from dashboard.auth.admin import UserAdmin
from dashboard.services.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from dashboard.services.viewer import Viewer

T = TypeVar("T")

# The services name the offending field in their own words; people read these instead.
FIELD_LABELS = {
    "email": "E-mail",
    "password": "Password",
    "role": "Role",
    "active": "Active",
    "name": "Name",
    "days": "Days",
    "jti": "Token",
}
ERROR_CLASSES = "text-sm text-red-700 dark:text-red-300"


def problem(error: ServiceError) -> str:
    """A service's refusal as a sentence: what kind of refusal, then the field in people's words."""
    text = str(error)
    if isinstance(error, InvalidInput) and error.field and text.startswith(f"{error.field}: "):
        text = f"{FIELD_LABELS.get(error.field, error.field)}: {text[len(error.field) + 2 :]}"
    if isinstance(error, Conflict):
        return f"Not done: {text}"
    if isinstance(error, NotFound):
        return f"Not found: {text}"
    if isinstance(error, Forbidden):
        return f"Not allowed: {text}"
    if isinstance(error, InvalidInput):
        return f"Invalid: {text}"
    return text


def error_label(marker: str) -> ui.label:
    """Where a form's refusal is shown, inline under its fields (hidden until there is one)."""
    label = ui.label("").classes(ERROR_CLASSES).mark(marker).props('role="alert"')
    label.set_visibility(False)
    return label


@dataclass
class AdminContext:
    live: LivePage
    admin: UserAdmin
    #: The address the admin's page was opened from (the audit entry's "from").
    addr: str | None
    #: Where dialogs live: a dialog opened from another one must not be its child, or closing the
    #: first (which deletes it) would take the second with it.
    host: ui.element

    @classmethod
    def of(cls, live: LivePage, addr: str | None) -> AdminContext:
        return cls(live, live.runtime.users, addr, ui.element("div"))

    def dialog(self) -> ui.dialog:
        """A dialog on the page's own host, deleted once it is closed."""
        with self.host:
            dialog = ui.dialog()
        dialog.on("hide", dialog.delete)
        return dialog

    @property
    def browser_ttl(self) -> timedelta:
        return timedelta(seconds=self.live.runtime.settings.web_session_ttl_s)

    async def actor(self) -> Viewer:
        """Who is acting, as their session says now (`Unauthenticated` once it has ended)."""
        principal = await self.live.runtime.auth.principal(self.live.token)
        return principal.viewer

    async def attempt(
        self, change: Callable[[Viewer], Awaitable[T]], done: str, shown: ui.label | None = None
    ) -> T | None:
        """Run one change as the current actor. A refusal is a sentence (in `shown` when given,
        else a notification), never a traceback; None then."""
        if shown is not None:
            shown.set_visibility(False)
        try:
            result = await change(await self.actor())
        except ServiceError as error:
            if isinstance(error, Forbidden) or shown is None:
                ui.notify(problem(error), type="negative", multi_line=True)
            if shown is not None:
                shown.text = problem(error)
                shown.set_visibility(True)
            return None
        ui.notify(done, type="positive")
        return result

    def confirm(
        self,
        question: str,
        action_label: str,
        action: Callable[[], Awaitable[object]],
        *,
        danger: bool = True,
    ) -> None:
        """Ask before acting: a dialog with the question and two named buttons."""

        async def confirmed() -> None:
            dialog.close()
            await self.live.act(action)

        with self.dialog() as dialog, ui.card().classes("max-w-md").mark("confirm"):
            ui.label(question)
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat").mark("confirm-cancel")
                ui.button(action_label, on_click=confirmed).props(
                    "color=negative" if danger else "color=primary"
                ).mark("confirm-ok")
        dialog.open()
