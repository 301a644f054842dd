"""The frame every page shares: product name, user and role, DEMO badge, navigation, refresh
selector, dark mode and logout; collapses to a drawer at phone width."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from components.live import REFRESH_CHOICES, LivePage

PRODUCT = "TeleBot Live Dashboard"

# (path, label, icon, only for those who see every account)
NAV = [
    ("/reconciliation", "Reconciliation", "sync_alt", False),
    ("/positions", "Positions", "list_alt", False),
    ("/guards", "Risk guards", "speed", False),
    ("/risk", "Risk wall", "dashboard", True),
]


@contextmanager
def frame(title: str, live: LivePage, *, demo: bool) -> Iterator[None]:
    ui.page_title(f"{title} · {PRODUCT}")
    principal = live.principal
    dark = ui.dark_mode()
    links = [(path, label, icon) for path, label, icon, wide in NAV if not wide or principal.role.sees_all]
    with ui.left_drawer(value=False).classes("bg-slate-100 md:hidden") as drawer:
        for path, label, icon in links:
            ui.button(label, icon=icon, on_click=lambda p=path: ui.navigate.to(p)).props(
                "flat no-caps align=left"
            )
    with ui.header().classes(
        "items-center justify-between bg-slate-900 text-white px-3 py-2 gap-2 flex-wrap"
    ):
        with ui.row().classes("items-center gap-2 no-wrap"):
            ui.button(icon="menu", on_click=lambda: drawer.toggle()).props(
                "flat round dense color=white"
            ).classes("md:hidden")
            ui.label(PRODUCT).classes("text-lg font-bold")
            if demo:
                ui.badge("DEMO", color="orange").props("outline").mark("demo-badge")
        with ui.row().classes("items-center gap-1 max-md:hidden"):
            for path, label, icon in links:
                button = ui.button(label, icon=icon, on_click=lambda p=path: ui.navigate.to(p))
                button.props("flat dense no-caps color=white" + (" outline" if path == live.path else ""))
                button.mark(f"nav-{path.strip('/')}")
        with ui.row().classes("items-center gap-2 no-wrap"):
            selector = ui.select(
                {seconds: label for seconds, label in REFRESH_CHOICES.items()},
                value=live.interval_s,
                on_change=lambda e: live.set_interval(int(e.value)),
            )
            selector.props("dense dark options-dense borderless").classes("w-20").mark("refresh-select")
            selector.tooltip("Refresh interval (remembered for you)")
            ui.button(icon="dark_mode", on_click=dark.toggle).props("flat round dense color=white").tooltip(
                "Dark mode"
            )
            with ui.column().classes("gap-0 leading-tight max-sm:hidden"):
                ui.label(principal.display_name).classes("text-sm").mark("user-name")
                ui.label(principal.role.value).classes("text-xs opacity-70").mark("user-role")
            ui.button(icon="logout", on_click=lambda: live.act(lambda: _logout(live))).props(
                "flat round dense color=white"
            ).mark("logout").tooltip("Log out everywhere")
    with ui.column().classes("w-full max-w-7xl mx-auto p-2 sm:p-4 gap-4"):
        ui.label(title).classes("text-xl font-semibold")
        yield


async def _logout(live: LivePage) -> None:
    """Revoke every session of the user (this tab, other tabs, API tokens), then leave."""
    live.ended = True
    if live.timer is not None:
        live.timer.active = False
    await live.runtime.auth.logout(live.principal, None)
    ui.navigate.to("/login?error=logged_out")
