"""`/alerts/ack?token=...`: where the link in an alert message lands.

The link names one alert; it never logs anyone in. Without a session the session guard sends the
browser to the login page with this address (token included) as `next`, and login brings it back.
Here the signed-in person sees the alert and acknowledges it with a button: a prefetching mail
scanner or a chat preview that follows the link acknowledges nothing. The link is single-use
because acknowledging is: once acknowledged it says by whom and when, and does nothing more.
An expired or forged link, or someone else's alert ("not found", as on every read), is a message.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import Request
from nicegui import ui

from components.accounts import account_labels, label_of
from components.alerts import display_names, who
from components.cards import heading, utc
from components.frame import frame
from components.live import LivePage, browser_zone
from dashboard.auth.web import client_addr
from dashboard.db.models import Alert
from dashboard.db.outage import DatabaseUnavailable
from dashboard.domain.enums import AlertState
from dashboard.services.alerts.acknowledge import acknowledge_alert, alert_for
from dashboard.services.errors import InvalidInput, NotFound

ACK_PATH = "/alerts/ack"
TITLE = "Acknowledge alert"
UNAVAILABLE = "The database is unavailable right now; please reload this page in a moment."


def register(demo: bool) -> None:
    @ui.page(ACK_PATH)
    async def ack(request: Request, token: str = "") -> None:
        # The page's own address (token included) is where an ended session comes back to.
        live = LivePage.for_request(request, f"{ACK_PATH}?{urlencode({'token': token})}")
        with frame(TITLE, live, demo=demo):
            await AckConfirm(live, token, client_addr(request)).build()


def all_alerts_link() -> None:
    # NiceGUI's link blue has 3:1 on white; these tints have 4.5:1 or more in each mode.
    ui.link("All alerts", "/alerts").classes("text-blue-700 dark:text-blue-300 underline")


class AckConfirm:
    """The alert the link names, and the one button that acknowledges it."""

    def __init__(self, live: LivePage, token: str, addr: str | None) -> None:
        self.live = live
        self.token = token
        self.addr = addr
        #: Times shown in UTC until the browser's zone is known, then in it.
        self.moments: list[tuple[ui.label, datetime]] = []

    async def build(self) -> None:
        try:
            alert_id = self.live.runtime.ack_links.alert_id(self.token)
        except InvalidInput as error:
            self._message(f"{str(error).capitalize()}.", "ack-invalid", alerts_link=True)
            return
        try:
            alert = await alert_for(self.live.runtime.database, self.live.principal.viewer, alert_id)
            labels = await account_labels(self.live)
            names = await display_names(self.live, [alert.acknowledged_by])
        except NotFound:
            self._message(
                "Alert not found: it does not exist, or it is not one you can see.", "ack-not-found"
            )
            return
        except DatabaseUnavailable:
            self._message(UNAVAILABLE, "ack-unavailable")
            return
        with ui.card().classes("w-full max-w-2xl gap-2").mark("ack-alert"):
            heading(alert.title).mark("ack-title")
            with ui.grid(columns="auto 1fr").classes("gap-x-4 gap-y-1 text-sm"):
                account = label_of(labels, alert.account_id).long if alert.account_id is not None else "–"
                for name, value in (
                    ("Level", alert.level.value),
                    ("Kind", alert.kind.value),
                    ("Account", account),
                ):
                    ui.label(name).classes("font-medium")
                    ui.label(value).mark(f"ack-{name.lower()}")
                ui.label("Raised at").classes("font-medium")
                self._moment(alert.created_at).mark("ack-time")
            self.outcome = ui.label().props('role="status"').classes("font-medium").mark("ack-outcome")
            self.button = ui.button("Acknowledge", on_click=lambda: self.live.act(self.confirm))
            self.button.mark("ack-confirm")
            self._show(alert, names)
        all_alerts_link()
        ui.timer(0.1, self._localize, once=True)

    def _show(self, alert: Alert, names: dict[int, str]) -> None:
        """What the alert's state allows: nothing to do for a recovery or an acknowledged alert."""
        if alert.state is not AlertState.RAISED:
            self.outcome.text = "This message announced a recovery: there is nothing to acknowledge."
        elif alert.acknowledged_at is not None:
            self.outcome.text = (
                f"Acknowledged by {who(names, alert.acknowledged_by)} at "
                f"{utc(alert.acknowledged_at)}. This link does nothing more."
            )
            self.moments.append((self.outcome, alert.acknowledged_at))
        else:
            return
        self.button.delete()

    async def confirm(self) -> None:
        live = self.live
        try:
            alert_id = live.runtime.ack_links.alert_id(self.token)  # it may have expired meanwhile
            done = await live.runtime.write(
                acknowledge_alert, live.principal.viewer, alert_id, via="link", client_addr=self.addr
            )
        except NotFound:
            self.outcome.text = "Alert not found: it does not exist, or it is not one you can see."
            return
        except InvalidInput as error:
            self.outcome.text = f"Not acknowledged: {error}."
            return
        self.button.delete()
        names = await display_names(live, [done.acknowledged_by])
        at = live.local(done.acknowledged_at, with_date=True)
        if done.changed:
            self.outcome.text = f"Acknowledged by you at {at}."
        else:  # someone was quicker (another tab, another person): theirs stands
            self.outcome.text = f"Already acknowledged by {who(names, done.acknowledged_by)} at {at}."

    def _moment(self, moment: datetime) -> ui.label:
        label = ui.label(utc(moment))
        with label:
            ui.tooltip(utc(moment))
        self.moments.append((label, moment))
        return label

    async def _localize(self) -> None:
        """Show the times in the browser's zone (the UTC value stays in a tooltip)."""
        self.live.tz = await browser_zone()
        for label, moment in self.moments:
            if label.is_deleted:
                continue
            text = utc(moment)
            label.text = label.text.replace(text, self.live.local(moment, with_date=True))

    def _message(self, text: str, marker: str, *, alerts_link: bool = False) -> None:
        with ui.card().classes("w-full max-w-2xl gap-2"):
            ui.label(text).props('role="alert"').classes("font-medium").mark(marker)
            if alerts_link:
                ui.label("The alert can still be acknowledged on the alerts page.").classes("text-sm")
        all_alerts_link()
