"""The Limits panel of an account's page: every limit and the room left under it (money and %) for
everybody who may see the account, and for risk and admin the "Edit limits" form and the "Reset
HWM" button (`components.hwm_reset`).

The form validates with the very schema the API uses (`AccountLimitsIn`), so each refusal shows
under its field in the API's words before anything is sent; the service validates again and
re-checks the role (a hand-made socket event gets no further than a hidden button would). A saved
change goes through `runtime.write`, which invalidates every family that shows limits or levels,
in every process: the gauges on every page follow within a tick.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import available_timezones

from nicegui import ui
from pydantic import ValidationError

from components.cards import MUTED, heading, set_rows, set_text
from components.hwm_reset import HwmResetButton
from components.live import LivePage, LivePanel
from dashboard.auth.web import client_addr
from dashboard.cache.base_queries import Cached
from dashboard.domain.enums import DailyLossBasis, MaxLossMode
from dashboard.domain.numbers import display_pct
from dashboard.schemas.limits import (
    LIMIT_FIELDS,
    MAX_REASON,
    PERCENTAGES,
    AccountLimits,
    AccountLimitsIn,
    LimitsView,
    RoomView,
    field_errors,
)
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.risk_limits import change_limits

ROOM_COLUMNS: list[dict[str, Any]] = [
    {"name": "rule", "label": "Limit", "field": "rule", "align": "left"},
    {"name": "limit", "label": "Set at", "field": "limit", "align": "left"},
    {"name": "boundary", "label": "Equity at the boundary", "field": "boundary"},
    {"name": "room", "label": "Room left", "field": "room"},
    {"name": "room_pct", "label": "Room left (%)", "field": "room_pct"},
    {"name": "status", "label": "Now", "field": "status", "align": "left"},
]
BASES = {
    DailyLossBasis.MAX_SOD_BALANCE_EQUITY.value: "higher of start-of-day balance and equity",
    DailyLossBasis.SOD_BALANCE.value: "start-of-day balance",
    DailyLossBasis.INITIAL.value: "initial balance",
}
MODES = {
    MaxLossMode.STATIC.value: "static (of the initial balance)",
    MaxLossMode.TRAILING_EOD.value: "trailing",
}
#: The form's fields in people's words (the schema's messages follow them).
LABELS = {
    "dd_warning_pct": "Drawdown warning (% of HWM)",
    "dd_critical_pct": "Drawdown critical (% of HWM)",
    "daily_loss_limit_pct": "Daily loss limit (%; empty: none)",
    "daily_loss_basis": "Daily loss measured from",
    "max_loss_limit_pct": "Max loss (% of initial; empty: none)",
    "max_loss_mode": "Max loss floor",
    "day_reset_tz": "Day resets in zone (IANA)",
    "day_reset_hour": "Day resets at hour (0–23)",
    "silence_timeout_s": "Silent after (seconds)",
    "prop_profit_target_pct": "Prop: profit target (%)",
    "prop_min_trading_days": "Prop: minimum trading days",
    "prop_max_days": "Prop: maximum days",
    "prop_started_at": "Prop: started on (YYYY-MM-DD, UTC)",
}
INTEGERS = ("day_reset_hour", "silence_timeout_s", "prop_min_trading_days", "prop_max_days")
ZONES = sorted(available_timezones())


def number(value: Decimal | None, suffix: str = "") -> str:
    """A stored number without storage zeros (10.0000 → 10)."""
    return "–" if value is None else f"{value.normalize():f}{suffix}"


def amount(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def room_row(key: str, rule: str, room: RoomView | None, limit: str, currency: str) -> dict[str, Any]:
    """One limit's row: its threshold, the equity at its boundary and the room left."""
    if room is None:
        return {"key": key, "rule": rule, "limit": limit, "boundary": "–", "room": "–", "room_pct": "–",
                "status": "no limit" if limit == "off" else "no equity yet"}  # fmt: skip
    return {
        "key": key,
        "rule": rule,
        "limit": limit,
        "boundary": amount(room.boundary, currency),
        "room": amount(room.room, currency),
        "room_pct": f"{display_pct(room.room_pct)} %",
        "status": f"{room.level.value} reached" if room.reached else "within",
    }


def room_rows(view: LimitsView) -> list[dict[str, Any]]:
    limits, currency = view.limits, view.currency
    daily = (
        "off" if limits.daily_loss_limit_pct is None else number(limits.daily_loss_limit_pct, " % of the day")
    )
    maximum = (
        "off"
        if limits.max_loss_limit_pct is None
        else number(limits.max_loss_limit_pct, f" % of initial, {limits.max_loss_mode.value}")
    )
    return [
        room_row("drawdown_warning", "Drawdown warning", view.drawdown_warning,
                 number(limits.dd_warning_pct, " % of HWM"), currency),
        room_row("drawdown_critical", "Drawdown critical", view.drawdown_critical,
                 number(limits.dd_critical_pct, " % of HWM"), currency),
        room_row("daily_loss", "Daily loss", view.daily_loss, daily, currency),
        room_row("max_loss", "Max loss", view.max_loss, maximum, currency),
    ]  # fmt: skip


def settings_text(limits: AccountLimits) -> str:
    text = (
        f"Daily loss measured from the {BASES[limits.daily_loss_basis.value]}; the day starts at "
        f"{limits.day_reset_hour:02d}:00 {limits.day_reset_tz}. Silent after {limits.silence_timeout_s} s "
        "without a sync or an equity snapshot."
    )
    return f"{text} {prop_text(limits)}"


def prop_text(limits: AccountLimits) -> str:
    if limits.prop_profit_target_pct is None:
        return "Not a prop challenge."
    parts = [f"Prop challenge: profit target {number(limits.prop_profit_target_pct)} %"]
    if limits.prop_min_trading_days is not None:
        parts.append(f"at least {limits.prop_min_trading_days} trading days")
    if limits.prop_max_days is not None:
        parts.append(f"at most {limits.prop_max_days} days")
    if limits.prop_started_at is not None:
        parts.append(f"started {limits.prop_started_at.astimezone(UTC):%Y-%m-%d}")
    return ", ".join(parts) + "."


class LimitsPanel(LivePanel[Cached[LimitsView]]):
    """The account's limits and the room under each; edit and HWM-reset controls for risk/admin."""

    name = "limits"

    def __init__(self, live: LivePage, account_id: int) -> None:
        super().__init__(live)
        self.account_id = account_id
        self.current: LimitsView | None = None
        may_edit = live.principal.role.sees_all
        with ui.card().classes("w-full gap-2").mark("limits-panel"):
            with ui.row().classes("items-center gap-3 w-full"):
                heading("Limits and room left")
                if may_edit:
                    self.form = LimitsForm(live, account_id, self.refresh)
                    edit = ui.button("Edit limits", icon="tune", on_click=self.edit).props(
                        "outline dense no-caps"
                    )
                    edit.mark("edit-limits")
                    HwmResetButton(live, account_id, lambda: self.current, self.refresh)
            self.measured = ui.label().classes(f"text-sm {MUTED}").mark("limits-measured")
            self.table = ui.table(columns=ROOM_COLUMNS, rows=[], row_key="key").classes("w-full")
            self.table.props("dense flat hide-pagination").mark("limits")
            self.settings = ui.label().classes("text-sm").mark("limit-settings")
            live.add(self)

    async def fetch(self) -> Cached[LimitsView]:
        return await self.live.runtime.queries.account_limits(self.live.principal.viewer, self.account_id)

    def show(self, data: Cached[LimitsView]) -> None:
        view = self.current = data.model
        if view.updated_at is None or view.equity is None or view.hwm is None:
            measured = "No equity snapshot yet: the room is measured once the first one arrives."
        else:
            at = self.live.local(view.updated_at, with_date=True)
            measured = (
                f"Room measured at the latest equity snapshot ({at}):"
                f" equity {amount(view.equity, view.currency)}, HWM {amount(view.hwm, view.currency)},"
                f" drawdown {display_pct(view.drawdown_pct)} % ({view.dd_level.value})."
            )
        set_text(self.measured, measured)
        set_rows(self.table, room_rows(view))
        set_text(self.settings, settings_text(view.limits))

    def edit(self) -> None:
        if self.current is not None:
            self.form.open(self.current.limits)


class LimitsForm:
    """The "Edit limits" dialog (risk and admin): every limit, a reason, the schema's messages."""

    def __init__(self, live: LivePage, account_id: int, saved: Callable[[], Awaitable[None]]) -> None:
        self.live = live
        self.account_id = account_id
        self.saved = saved
        self.stored: AccountLimits | None = None
        self.addr = client_addr(ui.context.client.request)
        self.fields: dict[str, Any] = {}
        with ui.dialog() as self.dialog, ui.card().classes("w-full max-w-3xl gap-2").mark("limits-form"):
            heading("Edit limits")
            ui.label("Every change is recorded with its reason, and the gauges follow at once.").classes(
                f"text-sm {MUTED}"
            )
            with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1 max-sm:grid-cols-1"):
                for name in LIMIT_FIELDS:
                    self.fields[name] = self._field(name)
            self.reason = ui.textarea("Reason (required)").props(f"maxlength={MAX_REASON} counter autogrow")
            self.reason.classes("w-full").mark("limit-reason")
            self.problem = ui.label().classes("text-sm text-red-700 dark:text-red-300").mark("limits-problem")
            with ui.row().classes("justify-end w-full"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                ui.button("Save", on_click=lambda: live.act(self.save)).props("no-caps").mark("save-limits")

    def _field(self, name: str) -> Any:
        label = LABELS[name]
        if name == "daily_loss_basis":
            element: Any = ui.select(BASES, label=label)
        elif name == "max_loss_mode":
            element = ui.select(MODES, label=label)
        elif name == "day_reset_tz":
            element = ui.input(label, autocomplete=ZONES).props("spellcheck=false")
        elif name == "prop_started_at":
            element = ui.input(label, placeholder="YYYY-MM-DD")
        elif name in INTEGERS:
            element = ui.number(label, step=1)  # no precision: it would round a wrong value silently
        else:
            element = ui.number(label).props("step=any")
        return element.classes("w-full").mark(f"limit-{name}")

    def open(self, limits: AccountLimits) -> None:
        """Fill the form with the stored limits and show it."""
        self.stored = limits
        for name, element in self.fields.items():
            value = getattr(limits, name)
            if name == "prop_started_at":
                element.value = "" if value is None else f"{value.astimezone(UTC):%Y-%m-%d}"
            elif name in PERCENTAGES:
                element.value = None if value is None else float(value)
            else:
                element.value = value.value if isinstance(value, Enum) else value
            element.error = None
        self.reason.value = ""
        self.reason.error = None
        self.problem.text = ""
        self.dialog.open()

    def values(self) -> dict[str, Any]:
        """The form as the schema takes it (numbers as text: no float reaches a Decimal)."""
        values: dict[str, Any] = {}
        for name, element in self.fields.items():
            value = element.value
            if name == "prop_started_at":
                values[name] = self._started(str(value or "").strip())
            elif name in PERCENTAGES:
                values[name] = None if value is None or value == "" else str(value)
            elif name in INTEGERS:
                values[name] = None if value is None or value == "" else value
            else:
                values[name] = value
        values["reason"] = str(self.reason.value or "")
        return values

    def _started(self, text: str) -> datetime | str | None:
        """The start date: the stored moment when the date is unchanged, else midnight UTC."""
        if not text:
            return None
        stored = self.stored.prop_started_at if self.stored is not None else None
        if stored is not None and f"{stored.astimezone(UTC):%Y-%m-%d}" == text:
            return stored
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return text  # refused by the schema, under its field
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, element in [*self.fields.items(), ("reason", self.reason)]:
            element.error = errors.get(name)
        others = [
            f"{name}: {text}" for name, text in errors.items() if name not in self.fields and name != "reason"
        ]
        self.problem.text = "; ".join(others)

    async def save(self) -> None:
        try:
            wanted = AccountLimitsIn.model_validate(self.values())
        except ValidationError as error:
            self.show_errors(field_errors(error))
            return
        self.show_errors({})
        live = self.live
        try:
            done = await live.runtime.write(
                change_limits, live.principal.viewer, self.account_id, wanted, self.addr
            )
        except InvalidInput as error:
            self.show_errors({error.field or "limits": str(error).removeprefix(f"{error.field}: ")})
            return
        except (Forbidden, NotFound) as error:
            ui.notify(str(error), type="warning")
            return
        self.dialog.close()
        if done.after:
            ui.notify(f"Limits saved: {', '.join(LABELS[name] for name in done.after)}", type="positive")
        else:
            ui.notify("Nothing changed", type="info")
        await self.saved()
