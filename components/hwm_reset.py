"""The "Reset HWM" button of an account's page (risk and admin): a dialog that says what happens
and asks for the reason, then `reset_hwm` through the one write path.

Only built for risk and admin; the service checks the role again, so a crafted socket event from
anyone else is refused there (and says so), never acted on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui
from pydantic import ValidationError

from components.cards import MUTED, heading
from components.live import LivePage
from dashboard.auth.web import client_addr
from dashboard.schemas.limits import MAX_REASON, HwmResetIn, LimitsView, field_errors
from dashboard.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from dashboard.services.risk_limits import reset_hwm


class HwmResetButton:
    def __init__(
        self,
        live: LivePage,
        account_id: int,
        current: Callable[[], LimitsView | None],
        done: Callable[[], Awaitable[None]],
    ) -> None:
        """`current`: the limits read the panel shows (for the equity the HWM will be set to);
        `done`: called after a reset (the panel refreshes at once)."""
        self.live = live
        self.account_id = account_id
        self.current = current
        self.done = done
        self.addr = client_addr(ui.context.client.request)
        button = ui.button("Reset HWM", icon="restart_alt", on_click=self.open)
        button.props("outline dense no-caps color=negative").mark("reset-hwm")
        with ui.dialog() as self.dialog, ui.card().classes("w-full max-w-lg gap-2").mark("hwm-reset-form"):
            heading("Reset the high-water mark")
            self.explain = ui.label().classes("text-sm").mark("hwm-reset-explain")
            ui.label("Recorded with its reason and shown as a marker on the equity chart.").classes(
                f"text-sm {MUTED}"
            )
            self.reason = ui.textarea("Reason (required)").props(f"maxlength={MAX_REASON} counter autogrow")
            self.reason.classes("w-full").mark("hwm-reason")
            with ui.row().classes("justify-end w-full"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                confirm = ui.button("Reset HWM", on_click=lambda: live.act(self.confirm)).props("no-caps")
                confirm.props("color=negative").mark("confirm-hwm-reset")

    def open(self) -> None:
        view = self.current()
        if view is not None and view.equity is not None and view.hwm is not None:
            text = (
                f"The HWM goes from {view.hwm:,.2f} to the current equity {view.equity:,.2f} {view.currency}:"
                " drawdown and max drawdown start again from 0, and the next snapshots continue from there."
            )
        else:
            text = "The account has no equity yet: there is nothing to reset the HWM to."
        self.explain.text = text
        self.reason.value = ""
        self.reason.error = None
        self.dialog.open()

    async def confirm(self) -> None:
        try:
            reason = HwmResetIn(reason=str(self.reason.value or "")).reason
        except ValidationError as error:
            self.reason.error = field_errors(error).get("reason")
            return
        live = self.live
        try:
            done = await live.runtime.write(
                reset_hwm, live.principal.viewer, self.account_id, reason, self.addr
            )
        except InvalidInput as error:
            self.reason.error = str(error).removeprefix("reason: ")
            return
        except (Conflict, Forbidden, NotFound) as error:
            ui.notify(str(error), type="warning")
            return
        self.dialog.close()
        ui.notify(f"HWM reset to {done.new_hwm:,.2f}", type="positive")
        await self.done()
