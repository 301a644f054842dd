"""The users panel of `/admin`: every user with role, state, active sessions and last login; new
user (with an initial password: the policy's message shows under the form), enable or disable,
change role, set a password, each user's active sessions, and ending them.

Ending sessions ends all of them: a token is revoked by its user's session version, which every
token of the user carries, so there is no ending one session alone. The sessions dialog says so.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components.admin_actions import AdminContext, error_label
from components.cards import MUTED, PHONE_GRID, heading, set_rows, utc
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.domain.enums import Role
from dashboard.schemas.people import UserList, UserRow, UserSessions

ROLES = {role.value: role.value for role in Role}
COLUMNS: list[dict[str, Any]] = [
    {"name": "email", "label": "E-mail", "field": "email", "align": "left", "sortable": True},
    {"name": "name", "label": "Name", "field": "name", "align": "left"},
    {"name": "role", "label": "Role", "field": "role", "align": "left", "sortable": True},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "sessions", "label": "Active sessions", "field": "sessions"},
    {"name": "last_login", "label": "Last login", "field": "last_login", "align": "left"},
    {"name": "actions", "label": "Actions", "field": "id", "align": "left"},
]
# Buttons per row; an admin's own row has no disable or role change (the services refuse them too).
ACTIONS_SLOT = """
<q-td :props="props">
  <q-btn dense flat no-caps color="primary" label="Sessions" :aria-label="'Sessions of ' + props.row.email"
         @click="() => $parent.$emit('sessions', props.row)" />
  <q-btn v-if="!props.row.self" dense flat no-caps color="primary" label="Role"
         :aria-label="'Change the role of ' + props.row.email"
         @click="() => $parent.$emit('role', props.row)" />
  <q-btn dense flat no-caps color="primary" label="Password"
         :aria-label="'Set the password of ' + props.row.email"
         @click="() => $parent.$emit('password', props.row)" />
  <q-btn v-if="!props.row.self" dense flat no-caps :label="props.row.active ? 'Disable' : 'Enable'"
         :class="props.row.active ? 'text-red-700 dark:text-red-300' : 'text-primary'"
         :aria-label="(props.row.active ? 'Disable ' : 'Enable ') + props.row.email"
         @click="() => $parent.$emit('toggle', props.row)" />
  <q-btn dense flat no-caps label="End sessions" class="text-red-700 dark:text-red-300"
         :aria-label="'End sessions of ' + props.row.email"
         @click="() => $parent.$emit('end', props.row)" />
</q-td>
"""
LAST_LOGIN_SLOT = """
<q-td :props="props" :title="props.row.last_login_utc">{{ props.value }}</q-td>
"""
SESSION_COLUMNS: list[dict[str, Any]] = [
    {"name": "via", "label": "Via", "field": "via", "align": "left"},
    {"name": "started", "label": "Since", "field": "started", "align": "left"},
    {"name": "expires", "label": "Ends at the latest", "field": "expires", "align": "left"},
    {"name": "client", "label": "From", "field": "client", "align": "left"},
]
ALL_SESSIONS_NOTE = (
    "Ending sessions ends all of this user's sessions at once (browser, API and service tokens): "
    "tokens are revoked by the user's session version, so one session cannot be ended alone."
)


class UsersPanel(LivePanel[Cached[UserList]]):
    name = "users"

    def __init__(self, live: LivePage, context: AdminContext) -> None:
        super().__init__(live)
        self.context = context
        self.rows: dict[int, UserRow] = {}
        with ui.card().classes("w-full gap-2").mark("admin-users"):
            with ui.row().classes("w-full items-center gap-3"):
                heading("Users")
                ui.space()
                ui.button("New user", icon="person_add", on_click=self.new_user_dialog).mark("new-user")
            self.table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full")
            self.table.props(f'dense flat hide-pagination wrap-cells no-data-label="No users" {PHONE_GRID}')
            self.table.mark("users")
            self.table.pagination = {"rowsPerPage": 0}
            self.table.add_slot("body-cell-actions", ACTIONS_SLOT)
            self.table.add_slot("body-cell-last_login", LAST_LOGIN_SLOT)
            self.table.on("sessions", lambda e: live.act(lambda: self.sessions_dialog(int(e.args["id"]))))
            self.table.on("role", lambda e: self.role_dialog(int(e.args["id"])))
            self.table.on("password", lambda e: self.password_dialog(int(e.args["id"])))
            self.table.on("toggle", lambda e: self.confirm_toggle(int(e.args["id"])))
            self.table.on("end", lambda e: self.confirm_end(int(e.args["id"])))
            live.add(self)

    async def fetch(self) -> Cached[UserList]:
        return await self.live.runtime.queries.users_overview(
            self.live.principal.viewer, browser_ttl=self.context.browser_ttl
        )

    def show(self, data: Cached[UserList]) -> None:
        live = self.live
        self.rows = {u.id: u for u in data.model.users}
        rows = []
        for u in data.model.users:
            last = "–"
            if u.last_login_at is not None:
                last = live.local(u.last_login_at, with_date=True) + (
                    f" from {u.last_login_addr}" if u.last_login_addr else ""
                )
            rows.append(
                {
                    "id": u.id,
                    "email": u.email,
                    "name": u.display_name,
                    "role": u.role.value,
                    "state": ("active" if u.is_active else "disabled") + (" · demo" if u.is_demo else ""),
                    "active": u.is_active,
                    "sessions": u.active_sessions,
                    "last_login": last,
                    "last_login_utc": utc(u.last_login_at) if u.last_login_at else "",
                    "self": u.id == live.principal.user_id,
                }
            )
        set_rows(self.table, rows)

    def _email(self, user_id: int) -> str:
        row = self.rows.get(user_id)
        return row.email if row is not None else f"user {user_id}"

    # ---- new user ------------------------------------------------------------------------------

    def new_user_dialog(self) -> None:
        context = self.context
        with (
            self.context.dialog() as dialog,
            ui.card().classes("w-96 max-w-full gap-2").mark("new-user-form"),
        ):
            heading("New user", 3)
            email = ui.input("E-mail").props("autocomplete=off maxlength=254").classes("w-full")
            email.mark("new-user-email")
            name = ui.input("Display name (optional)").props("maxlength=120").classes("w-full")
            name.mark("new-user-name")
            role = ui.select(ROLES, value=Role.TRADER.value, label="Role").classes("w-full")
            role.mark("new-user-role")
            # The initial password is typed once here and told to the person out of band; it is
            # never shown again, and they may change it with the CLI or an admin here.
            password = ui.input("Initial password", password=True, password_toggle_button=True)
            password.props("autocomplete=new-password maxlength=1024").classes("w-full")
            password.mark("new-user-password")
            shown = error_label("new-user-error")

            async def create() -> None:
                typed = str(password.value or "")
                password.value = ""  # refused or not, it leaves the page
                created = await context.attempt(
                    lambda actor: context.admin.create(
                        str(email.value or ""),
                        str(role.value),
                        typed,
                        str(name.value or "") or None,
                        actor=actor,
                        client_addr=context.addr,
                    ),
                    f"User {str(email.value or '').strip().lower()} created",
                    shown,
                )
                if created is not None:
                    dialog.close()
                    await self.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Create", on_click=lambda: self.live.act(create)).mark("new-user-create")
        dialog.open()

    # ---- per user ------------------------------------------------------------------------------

    def role_dialog(self, user_id: int) -> None:
        context, row = self.context, self.rows.get(user_id)
        with self.context.dialog() as dialog, ui.card().classes("w-96 max-w-full gap-2").mark("role-form"):
            heading(f"Role of {self._email(user_id)}", 3)
            ui.label("Changing the role ends the user's sessions.").classes(f"text-sm {MUTED}")
            role = ui.select(ROLES, value=row.role.value if row else None, label="Role").classes("w-full")
            role.mark("role-select")
            shown = error_label("role-error")

            async def save() -> None:
                changed = await context.attempt(
                    lambda actor: context.admin.set_role(
                        user_id, str(role.value or ""), actor=actor, client_addr=context.addr
                    ),
                    f"{self._email(user_id)} is now {role.value}",
                    shown,
                )
                if changed is not None:
                    dialog.close()
                    await self.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Change role", on_click=lambda: self.live.act(save)).mark("role-save")
        dialog.open()

    def password_dialog(self, user_id: int) -> None:
        context = self.context
        with (
            self.context.dialog() as dialog,
            ui.card().classes("w-96 max-w-full gap-2").mark("password-form"),
        ):
            heading(f"New password for {self._email(user_id)}", 3)
            ui.label("Setting a password ends the user's sessions.").classes(f"text-sm {MUTED}")
            password = ui.input("New password", password=True, password_toggle_button=True)
            password.props("autocomplete=new-password maxlength=1024").classes("w-full")
            password.mark("password-input")
            shown = error_label("password-error")

            async def save() -> None:
                typed = str(password.value or "")
                password.value = ""
                changed = await context.attempt(
                    lambda actor: context.admin.set_password(
                        user_id, typed, actor=actor, client_addr=context.addr
                    ),
                    f"Password of {self._email(user_id)} set",
                    shown,
                )
                if changed is not None:
                    dialog.close()
                    await self.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Set password", on_click=lambda: self.live.act(save)).mark("password-save")
        dialog.open()

    def confirm_toggle(self, user_id: int) -> None:
        row, context = self.rows.get(user_id), self.context
        enable = row is not None and not row.is_active
        email = self._email(user_id)

        async def toggle() -> None:
            if await context.attempt(
                lambda actor: context.admin.set_active(
                    user_id, enable, actor=actor, client_addr=context.addr
                ),
                f"{email} {'enabled' if enable else 'disabled'}",
            ):
                await self.refresh()

        question = (
            f"Enable {email}? They can log in again."
            if enable
            else f"Disable {email}? Every session of theirs ends at once and they cannot log in."
        )
        context.confirm(question, "Enable" if enable else "Disable", toggle, danger=not enable)

    def confirm_end(self, user_id: int) -> None:
        context, email = self.context, self._email(user_id)

        async def end() -> None:
            if await context.attempt(
                lambda actor: context.admin.end_sessions(user_id, actor=actor, client_addr=context.addr),
                f"Every session of {email} ended",
            ):
                await self.refresh()

        context.confirm(f"End every session of {email}? {ALL_SESSIONS_NOTE}", "End sessions", end)

    async def sessions_dialog(self, user_id: int) -> None:
        """The user's active sessions as they are now, with the one way to end them: all."""
        live = self.live
        found: UserSessions = (
            await live.runtime.queries.user_sessions(
                live.principal.viewer, user_id, browser_ttl=self.context.browser_ttl
            )
        ).model
        with (
            self.context.dialog() as dialog,
            ui.card().classes("w-[40rem] max-w-full gap-2").mark("sessions-dialog"),
        ):
            heading(f"Active sessions of {found.email}", 3)
            table = ui.table(columns=SESSION_COLUMNS, rows=[], row_key="started").classes("w-full")
            table.props('dense flat hide-pagination no-data-label="No active session"').mark("sessions")
            table.pagination = {"rowsPerPage": 0}
            table.rows = [
                {
                    "via": s.via.value,
                    "started": live.local(s.started_at, with_date=True),
                    "expires": live.local(s.expires_at, with_date=True),
                    "client": s.client_addr or "–",
                }
                for s in found.sessions
            ]
            if found.last_ended_at is not None:
                ended = live.local(found.last_ended_at, with_date=True)
                ui.label(f"Sessions last ended {ended}.").classes(f"text-sm {MUTED}")
            ui.label(ALL_SESSIONS_NOTE).classes(f"text-sm {MUTED}")

            def end_all() -> None:
                dialog.close()
                self.confirm_end(user_id)

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Close", on_click=dialog.close).props("flat").mark("sessions-close")
                ui.button("End all sessions", on_click=end_all).props("color=negative").mark("sessions-end")
        dialog.open()
