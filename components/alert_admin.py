"""The "Channels & rules" panel of `/alerts`: where alerts are sent, and which go where.

A trader manages only own channels and rules, risk and admin every one (the services enforce it;
this panel only lists what they return). It is not a live panel: nothing cached depends on
channels and rules, so they are read from the database when the page is built and after each
change, never per tick.

A channel's URL carries its credentials: it is typed into a password field, handed to the service
(which stores it encrypted), cleared from the page at once, and never shown or logged again; the
table shows the masked URL the service returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel
from components.alerts import display_names, who
from components.cards import MUTED, heading, set_rows
from components.live import LivePage
from dashboard.domain.enums import AlertKind, Level
from dashboard.services.alerts.channels import (
    ChannelView,
    add_channel,
    list_channels,
    remove_channel,
    send_test_message,
)
from dashboard.services.alerts.rules import RuleSpec, RuleView, add_rule, list_rules, remove_rule
from dashboard.services.alerts.sender import apprise_send
from dashboard.services.errors import Conflict, InvalidInput, NotFound, ServiceError

LEVELS = {level.value: level.value for level in Level}
DEFAULT_RENOTIFY_S = 300
# The services name the offending field in their own words; people read these instead.
FIELD_LABELS = {
    "name": "Name",
    "channel": "Channel",
    "url": "URL",
    "min_level": "Minimum level",
    "renotify_s": "Re-notify after",
    "escalate_after_s": "Escalate after",
    "escalation_channel": "Escalation",
    "kinds": "Kinds",
    "account_ids": "Accounts",
}
CHANNEL_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Channel", "field": "name", "align": "left"},
    {"name": "url", "label": "URL (masked)", "field": "url", "align": "left"},
    {"name": "level", "label": "Minimum level", "field": "level", "align": "left"},
    {"name": "owner", "label": "Owner", "field": "owner", "align": "left"},
    {"name": "tested", "label": "Last test", "field": "tested", "align": "left"},
    {"name": "actions", "label": "Actions", "field": "name", "align": "left"},
]
RULE_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Rule", "field": "name", "align": "left"},
    {"name": "channel", "label": "Channel", "field": "channel", "align": "left"},
    {"name": "kinds", "label": "Kinds", "field": "kinds", "align": "left"},
    {"name": "accounts", "label": "Accounts", "field": "accounts", "align": "left"},
    {"name": "level", "label": "Minimum level", "field": "level", "align": "left"},
    {"name": "renotify", "label": "Re-notify after", "field": "renotify", "align": "left"},
    {"name": "escalation", "label": "Escalation", "field": "escalation", "align": "left"},
    {"name": "owner", "label": "Owner", "field": "owner", "align": "left"},
    {"name": "actions", "label": "Actions", "field": "name", "align": "left"},
]
CHANNEL_ACTIONS = """
<q-td :props="props">
  <q-btn dense flat no-caps color="primary" label="Send test" :aria-label="'Send test to ' + props.row.name"
         @click="() => $parent.$emit('test', props.row)" />
  <q-btn dense flat no-caps label="Remove" class="text-red-700 dark:text-red-300"
         :aria-label="'Remove channel ' + props.row.name"
         @click="() => $parent.$emit('remove', props.row)" />
</q-td>
"""
RULE_ACTIONS = """
<q-td :props="props">
  <q-btn dense flat no-caps label="Remove" class="text-red-700 dark:text-red-300"
         :aria-label="'Remove rule ' + props.row.name"
         @click="() => $parent.$emit('remove', props.row)" />
</q-td>
"""


def problem(error: ServiceError) -> str:
    """A service's refusal as a sentence: what kind of refusal, then the field in people's words."""
    text = str(error)
    if isinstance(error, InvalidInput) and error.field and text.startswith(f"{error.field}: "):
        text = f"{FIELD_LABELS.get(error.field, error.field)}: {text[len(error.field) + 2 :]}"
    if isinstance(error, Conflict):
        return f"Already exists: {text}"
    if isinstance(error, NotFound):
        return f"Not found: {text}"
    if isinstance(error, InvalidInput):
        return f"Invalid: {text}"
    return text


def owner_text(owner_user_id: int | None, names: dict[int, str]) -> str:
    return "team" if owner_user_id is None else who(names, owner_user_id)


def seconds(value: object) -> int | None:
    """A number field's value as whole seconds (empty: None)."""
    return None if value is None or value == "" else round(float(str(value)))


class AlertAdmin:
    """Lists, adds and removes channels and rules, and sends test messages."""

    def __init__(self, live: LivePage, labels: dict[int, AccountLabel]) -> None:
        self.live = live
        self.labels = labels
        self.channels: list[ChannelView] = []
        #: The last test's outcome per channel, shown in the table.
        self.tested: dict[str, str] = {}
        sees_all = live.principal.role.sees_all
        with ui.card().classes("w-full gap-2").mark("alert-admin"):
            heading("Channels & rules")
            scope = "every channel and rule (the team's and traders')" if sees_all else "your own"
            ui.label(f"Where alerts are sent and which go where: {scope}.").classes(f"text-sm {MUTED}")
            heading("Channels", 3)
            self.channel_table = ui.table(columns=CHANNEL_COLUMNS, rows=[], row_key="name").classes("w-full")
            self.channel_table.props('dense flat no-data-label="No channel yet"').mark("channels")
            self.channel_table.add_slot("body-cell-actions", CHANNEL_ACTIONS)
            self.channel_table.on("test", lambda e: live.act(lambda: self.send_test(str(e.args["name"]))))
            self.channel_table.on("remove", lambda e: self.confirm_remove_channel(str(e.args["name"])))
            self._channel_form()
            heading("Rules", 3)
            self.rule_table = ui.table(columns=RULE_COLUMNS, rows=[], row_key="name").classes("w-full")
            self.rule_table.props('dense flat no-data-label="No rule yet"').mark("rules")
            self.rule_table.add_slot("body-cell-actions", RULE_ACTIONS)
            self.rule_table.on("remove", lambda e: self.confirm_remove_rule(str(e.args["name"])))
            self._rule_form(sees_all)

    def _channel_form(self) -> None:
        with ui.row().classes("w-full items-end gap-3 flex-wrap").mark("channel-form"):
            self.channel_name = ui.input("Channel name").props("maxlength=64").mark("channel-name")
            # A password field: the URL holds credentials; nobody reads it over a shoulder, no
            # browser offers to remember it, and the page forgets it once it is stored.
            self.channel_url = ui.input("Apprise URL (e.g. tgram://token/chat)", password=True)
            self.channel_url.props("autocomplete=off spellcheck=false maxlength=2048").classes("min-w-72")
            self.channel_url.mark("channel-url")
            self.channel_level = ui.select(LEVELS, value=Level.WARNING.value, label="Minimum level")
            self.channel_level.classes("min-w-36").mark("channel-level")
            ui.button("Add channel", on_click=lambda: self.live.act(self.add_channel)).mark("add-channel")

    def _rule_form(self, sees_all: bool) -> None:
        kinds = {k.value: k.value for k in AlertKind if sees_all or k is not AlertKind.SYSTEM}
        with ui.row().classes("w-full items-end gap-3 flex-wrap").mark("rule-form"):
            self.rule_name = ui.input("Rule name").props("maxlength=64").mark("rule-name")
            self.rule_channel = ui.select({}, label="Channel").classes("min-w-36").mark("rule-channel")
            self.rule_kinds = ui.select(kinds, multiple=True, value=[], label="Kinds (none: all)")
            self.rule_kinds.classes("min-w-44").props("use-chips").mark("rule-kinds")
            accounts = {i: label.long for i, label in self.labels.items()}
            self.rule_accounts = ui.select(accounts, multiple=True, value=[], label="Accounts (none: all)")
            self.rule_accounts.classes("min-w-52").props("use-chips").mark("rule-accounts")
            self.rule_level = ui.select(LEVELS, value=Level.WARNING.value, label="Minimum level")
            self.rule_level.classes("min-w-36").mark("rule-level")
            self.rule_renotify = ui.number("Re-notify after (s)", value=DEFAULT_RENOTIFY_S, min=0, step=60)
            self.rule_renotify.classes("w-40").mark("rule-renotify")
            self.rule_escalate = ui.number("Escalate after (s)", value=None, min=60, step=60)
            self.rule_escalate.classes("w-40").mark("rule-escalate")
            self.rule_escalation = ui.select({"": "No escalation"}, value="", label="Escalation channel")
            self.rule_escalation.classes("min-w-44").mark("rule-escalation")
            ui.button("Add rule", on_click=lambda: self.live.act(self.add_rule)).mark("add-rule")

    def has_channel(self, name: str) -> bool:
        return any(channel.name == name for channel in self.channels)

    async def reload(self) -> None:
        """Read the channels and rules the viewer manages and show them."""
        live = self.live
        db, viewer = live.runtime.database, live.principal.viewer
        self.channels = await list_channels(db, viewer, enabled_only=True)
        rules = await list_rules(db, viewer)
        names = await display_names(
            live, [c.owner_user_id for c in self.channels] + [r.owner_user_id for r in rules]
        )
        set_rows(self.channel_table, [self._channel_row(c, names) for c in self.channels])
        set_rows(self.rule_table, [self._rule_row(r, names) for r in rules])
        choices = {c.name: c.name for c in self.channels}
        if self.rule_channel.options != choices:
            chosen = self.rule_channel.value if self.rule_channel.value in choices else None
            self.rule_channel.set_options(choices, value=chosen)
            escalation = self.rule_escalation.value if self.rule_escalation.value in choices else ""
            self.rule_escalation.set_options({"": "No escalation", **choices}, value=escalation)

    def _channel_row(self, channel: ChannelView, names: dict[int, str]) -> dict[str, Any]:
        return {
            "name": channel.name,
            "url": channel.url,  # masked by the service: never the stored URL
            "level": channel.min_level.value,
            "owner": owner_text(channel.owner_user_id, names),
            "tested": self.tested.get(channel.name, "–"),
        }

    def _rule_row(self, rule: RuleView, names: dict[int, str]) -> dict[str, Any]:
        accounts = ", ".join(self.labels[i].name if i in self.labels else f"#{i}" for i in rule.account_ids)
        escalation = (
            f"after {rule.escalate_after_s} s to {rule.escalation_channel}"
            if rule.escalate_after_s is not None and rule.escalation_channel
            else "–"
        )
        return {
            "name": rule.name,
            "channel": rule.channel,
            "kinds": ", ".join(k.value for k in rule.kinds) or "all",
            "accounts": accounts or "all",
            "level": rule.min_level.value,
            "renotify": f"{rule.renotify_s} s",
            "escalation": escalation,
            "owner": owner_text(rule.owner_user_id, names),
        }

    async def _attempt(self, change: Callable[[], Awaitable[object]], done: str) -> bool:
        """Run one change; a refusal is a message (never a traceback), success reloads the lists."""
        try:
            await change()
        except ServiceError as error:
            ui.notify(problem(error), type="negative", multi_line=True)
            return False
        ui.notify(done, type="positive")
        await self.reload()
        return True

    async def add_channel(self) -> None:
        live = self.live
        name, url = str(self.channel_name.value or ""), str(self.channel_url.value or "")
        # The URL leaves the page either way: a refused one is typed again, not kept.
        self.channel_url.value = ""
        added = await self._attempt(
            lambda: add_channel(
                live.runtime.database,
                live.runtime.alert_secrets,
                name,
                url,
                min_level=str(self.channel_level.value),
                actor=live.principal.viewer,
            ),
            f"Channel {name.strip()!r} added, with a rule of the same name for every alert you see",
        )
        if added:
            self.channel_name.value = ""

    async def send_test(self, name: str) -> None:
        live = self.live
        try:
            error = await send_test_message(
                live.runtime.database,
                live.runtime.alert_secrets,
                name,
                apprise_send,
                actor=live.principal.viewer,
            )
        except ServiceError as refused:
            ui.notify(problem(refused), type="negative", multi_line=True)
            return
        at = live.local(datetime.now(UTC))
        if error is None:
            self.tested[name] = f"accepted at {at}"
            ui.notify(f"Test message sent to {name!r}", type="positive")
        else:
            self.tested[name] = f"failed at {at}: {error}"
            ui.notify(f"Test message to {name!r} failed: {error}", type="negative", multi_line=True)
        await self.reload()

    def confirm_remove_channel(self, name: str) -> None:
        self._confirm(
            f"Remove channel {name!r}? Its rules are removed with it; its delivery history stays.",
            lambda: self._attempt(
                lambda: remove_channel(self.live.runtime.database, name, actor=self.live.principal.viewer),
                f"Channel {name!r} removed",
            ),
        )

    async def add_rule(self) -> None:
        live = self.live
        escalation = str(self.rule_escalation.value or "") or None
        renotify = seconds(self.rule_renotify.value)
        spec = RuleSpec(
            name=str(self.rule_name.value or ""),
            channel=str(self.rule_channel.value or ""),
            kinds=[str(k) for k in self.rule_kinds.value or []],
            account_ids=[int(i) for i in self.rule_accounts.value or []],
            min_level=str(self.rule_level.value),
            renotify_s=DEFAULT_RENOTIFY_S if renotify is None else renotify,
            escalate_after_s=seconds(self.rule_escalate.value),
            escalation_channel=escalation,
        )
        added = await self._attempt(
            lambda: add_rule(live.runtime.database, spec, actor=live.principal.viewer),
            f"Rule {spec.name.strip()!r} added",
        )
        if added:
            self.rule_name.value = ""

    def confirm_remove_rule(self, name: str) -> None:
        self._confirm(
            f"Remove rule {name!r}?",
            lambda: self._attempt(
                lambda: remove_rule(self.live.runtime.database, name, actor=self.live.principal.viewer),
                f"Rule {name!r} removed",
            ),
        )

    def _confirm(self, question: str, action: Callable[[], Awaitable[object]]) -> None:
        """Ask before removing (a dialog with a text question and two named buttons)."""

        async def confirmed() -> None:
            dialog.close()
            await self.live.act(action)

        with ui.dialog() as dialog, ui.card().classes("max-w-md").mark("confirm"):
            ui.label(question)
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Remove", on_click=confirmed).props("color=negative").mark("confirm-remove")
        dialog.on("hide", dialog.delete)
        dialog.open()
