"""The service-tokens panel of `/admin`: stored tokens with their state (never the tokens), a new
token for a service user (name and lifetime), shown once in a dialog with a copy button, and
revoking one (its user's other tokens keep working).

The token exists on the page only inside that dialog: it is handed from the service to a read-only
field, and the dialog with it is deleted when it closes. It is not stored, listed or logged.
Tokens issued before tokens were stored are not listed: they work until they expire, or until
their user's sessions are ended.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components.admin_actions import AdminContext, error_label
from components.cards import MUTED, PHONE_GRID, heading, set_rows
from components.live import LivePage, LivePanel
from dashboard.auth.admin import NewServiceToken
from dashboard.cache.base_queries import Cached
from dashboard.domain.enums import Role
from dashboard.schemas.people import TOKEN_DAYS_MAX, TOKEN_DAYS_MIN, ServiceTokenList, TokenState

DEFAULT_DAYS = 90
COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "field": "name", "align": "left"},
    {"name": "user", "label": "Service user", "field": "user", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "expires", "label": "Expires", "field": "expires", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "jti", "label": "Id", "field": "short", "align": "left"},
    {"name": "actions", "label": "Actions", "field": "jti", "align": "left"},
]
ACTIONS_SLOT = """
<q-td :props="props">
  <q-btn v-if="props.row.revocable" dense flat no-caps label="Revoke" class="text-red-700 dark:text-red-300"
         :aria-label="'Revoke token ' + props.row.name + ' of ' + props.row.user"
         @click="() => $parent.$emit('revoke', props.row)" />
</q-td>
"""


class TokensPanel(LivePanel[Cached[ServiceTokenList]]):
    name = "tokens"

    def __init__(self, live: LivePage, context: AdminContext) -> None:
        super().__init__(live)
        self.context = context
        self.names: dict[str, tuple[str, str]] = {}
        with ui.card().classes("w-full gap-2").mark("admin-tokens"):
            with ui.row().classes("w-full items-center gap-3"):
                heading("Service tokens")
                ui.space()
                ui.button("New token", icon="key", on_click=lambda: live.act(self.new_token_dialog)).mark(
                    "new-token"
                )
            ui.label(
                "Long-lived access tokens for bridges (users with role service). Tokens issued before "
                "they were stored are not listed; they work until they expire or their user's sessions end."
            ).classes(f"text-sm {MUTED}")
            self.table = ui.table(columns=COLUMNS, rows=[], row_key="jti").classes("w-full")
            self.table.props(
                f'dense flat hide-pagination wrap-cells no-data-label="No service token" {PHONE_GRID}'
            )
            self.table.mark("tokens")
            self.table.pagination = {"rowsPerPage": 0}
            self.table.add_slot("body-cell-actions", ACTIONS_SLOT)
            self.table.on("revoke", lambda e: self.confirm_revoke(str(e.args["jti"])))
            live.add(self)

    async def fetch(self) -> Cached[ServiceTokenList]:
        return await self.live.runtime.queries.service_token_list(self.live.principal.viewer)

    def show(self, data: Cached[ServiceTokenList]) -> None:
        live = self.live
        self.names = {t.jti: (t.name, t.user_email) for t in data.model.tokens}
        rows = []
        for t in data.model.tokens:
            state = t.state.value
            if t.state is TokenState.REVOKED and t.revoked_at is not None:
                by = f" by {t.revoked_by_email}" if t.revoked_by_email else ""
                state = f"revoked {live.local(t.revoked_at, with_date=True)}{by}"
            rows.append(
                {
                    "jti": t.jti,
                    "short": t.jti[:8],
                    "name": t.name,
                    "user": t.user_email,
                    "created": live.local(t.created_at, with_date=True)
                    + (f" by {t.created_by_email}" if t.created_by_email else ""),
                    "expires": live.local(t.expires_at, with_date=True),
                    "state": state,
                    "revocable": t.state in (TokenState.ACTIVE, TokenState.ENDED),
                }
            )
        set_rows(self.table, rows)

    async def new_token_dialog(self) -> None:
        live, context = self.live, self.context
        users = (
            await live.runtime.queries.users_overview(live.principal.viewer, browser_ttl=context.browser_ttl)
        ).model.users
        bridges = {u.email: u.email for u in users if u.role is Role.SERVICE and u.is_active}
        with (
            self.context.dialog() as dialog,
            ui.card().classes("w-96 max-w-full gap-2").mark("new-token-form"),
        ):
            heading("New service token", 3)
            if not bridges:
                ui.label("There is no active user with role service: create one first.").classes("text-sm")
            user = ui.select(bridges, value=next(iter(bridges), None), label="Service user").classes("w-full")
            user.mark("new-token-user")
            name = ui.input("Name (what it is for)").props("maxlength=80").classes("w-full")
            name.mark("new-token-name")
            days = ui.number(
                f"Lifetime in days ({TOKEN_DAYS_MIN}-{TOKEN_DAYS_MAX})",
                value=DEFAULT_DAYS,
                min=TOKEN_DAYS_MIN,
                max=TOKEN_DAYS_MAX,
                step=1,
                precision=0,
            ).classes("w-full")
            days.mark("new-token-days")
            shown = error_label("new-token-error")

            async def create() -> None:
                lifetime = int(days.value) if days.value is not None else 0
                issued = await context.attempt(
                    lambda actor: context.admin.issue_token(
                        str(user.value or ""),
                        str(name.value or ""),
                        lifetime,
                        actor=actor,
                        client_addr=context.addr,
                    ),
                    "Service token issued",
                    shown,
                )
                if issued is not None:
                    dialog.close()
                    self.show_once(issued)
                    await self.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Create", on_click=lambda: live.act(create)).mark("new-token-create")
        dialog.open()

    def show_once(self, issued: NewServiceToken) -> None:
        """The token, this once: copy it now. Closing the dialog deletes it from the page."""
        view = issued.view
        with (
            self.context.dialog().props("persistent") as dialog,
            ui.card().classes("w-[36rem] max-w-full gap-2").mark("token-once"),
        ):
            heading(f"Token {view.name!r} for {view.user_email}", 3)
            ui.label(
                "Copy it now: it is not stored and will not be shown again. Whoever holds it acts as "
                f"{view.user_email} until {self.live.local(view.expires_at, with_date=True)} or until it "
                "is revoked."
            ).classes("text-sm text-amber-900 bg-amber-100 rounded px-2 py-1").mark("token-warning")
            field = ui.input("Token", value=issued.token).props("readonly autocomplete=off spellcheck=false")
            field.classes("w-full font-mono").mark("token-value")

            async def copy() -> None:
                ui.clipboard.write(issued.token)
                ui.notify("Token copied", type="positive")

            def done() -> None:
                # Gone from the page now, not only hidden (a persistent dialog stays in the DOM).
                field.value = ""
                dialog.close()
                dialog.delete()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Copy", icon="content_copy", on_click=copy).mark("token-copy")
                ui.button("I have copied it", on_click=done).props("flat").mark("token-done")
        dialog.open()

    def confirm_revoke(self, jti: str) -> None:
        context = self.context
        name, user = self.names.get(jti, (jti[:8], "its user"))

        async def revoke() -> None:
            if await context.attempt(
                lambda actor: context.admin.revoke_token(jti, actor=actor, client_addr=context.addr),
                f"Token {name!r} revoked",
            ):
                await self.refresh()

        context.confirm(
            f"Revoke token {name!r} of {user}? A bridge using it is refused from its next request; "
            "the user's other tokens keep working.",
            "Revoke",
            revoke,
        )
