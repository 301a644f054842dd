"""`/alerts`: the alerts the viewer may see with what delivery did for each, acknowledgement, the
demo channel's log (demo mode), and the viewer's channels and routing rules."""

from __future__ import annotations

from collections.abc import Mapping

from nicegui import ui

from components.accounts import AccountLabel, account_labels
from components.alert_admin import AlertAdmin
from components.alerts import AlertFilters, AlertsPanel, DemoChannelPanel
from components.live import LivePage
from components.page import live_page
from dashboard.demo.alerts import DEMO_CHANNEL


@live_page("/alerts", "Alerts")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    labels: dict[int, AccountLabel] = await live.initial(lambda: account_labels(live), {})
    AlertsPanel(live, AlertFilters.of(params))
    demo_place = ui.element("div").classes("w-full")  # above the channels, once they are known
    admin = AlertAdmin(live, labels)
    await live.initial(admin.reload, None)
    # Only those who see the demo channel (a team channel) see what it received: its messages
    # are about every account.
    if admin.has_channel(DEMO_CHANNEL):
        with demo_place:
            DemoChannelPanel(live, live.runtime.settings.demo_alert_log)
    else:
        demo_place.delete()
