"""The frame every page shares: product name, user and role, DEMO badge, navigation, refresh
selector, dark mode and logout; collapses to a drawer at phone width. The page's title is its
`<h1>`; icon-only buttons carry an accessible name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from html import escape

from nicegui import app, ui

from components.cards import heading
from components.live import REFRESH_CHOICES, LivePage
from dashboard.domain.enums import Role

PRODUCT = "TeleBot Live Dashboard"
# Quasar's primary (filled toggles, outline and flat buttons, focused fields): NiceGUI's default
# #5898d4 has 3:1 against white; this blue has 6.7:1 both ways.
PRIMARY = "#1d4ed8"

# (path, label, icon, only for those who see every account)
NAV: list[tuple[str, str, str, bool | str]] = [
    ("/reconciliation", "Reconciliation", "sync_alt", False),
    ("/positions", "Positions", "list_alt", False),
    ("/guards", "Risk guards", "speed", False),
    ("/alerts", "Alerts", "notifications", False),
    ("/risk", "Risk wall", "dashboard", True),
    ("/audit", "Audit", "fact_check", True),
    ("/admin", "Admin", "manage_accounts", "admin"),
]

# Shared by the frame and the login page.
THEME_CSS = """
/* Quasar's notification containers are fixed over the whole viewport (pointer-events: none) even
   when empty: hide them while empty, so nothing lies over the page (axe can then measure the
   contrast of every text in view). */
.q-notifications__list:empty { display: none; }
/* The menus' link to the page on screen is outlined. */
nav a[aria-current="page"] { outline: 1px solid currentColor; }
/* Tooltips: Quasar's grey (#757575) under 10 px white text has 4.4:1; slate and 12 px instead. */
.q-tooltip { background: #1e293b; color: #f8fafc; font-size: 0.75rem; }
/* Dark mode: primary as a text colour (flat and outline buttons, focused fields) in a lighter
   tint; filled primary (white text on it) keeps the darker one. */
body.body--dark .text-primary { --q-primary: #60a5fa; }
body.body--dark .text-negative { --q-negative: #f87171; }
/* Dark mode: Plotly's texts, grid lines and plot area follow the page instead of staying dark
   grey on dark (the figures are the same for both modes). */
body.body--dark .js-plotly-plot :is(.xaxislayer-above, .yaxislayer-above, .legend, .infolayer,
  .indicatorlayer) text { fill: #e2e8f0 !important; }
body.body--dark .js-plotly-plot :is(.gridlayer, .zerolinelayer) path {
  stroke: rgba(148, 163, 184, 0.25) !important; }
body.body--dark .js-plotly-plot .bglayer .bg { fill: transparent !important; }
body.body--dark .js-plotly-plot .modebar { background: transparent !important; }
body.body--dark .js-plotly-plot .modebar-btn path { fill: rgba(226, 232, 240, 0.7) !important; }
/* Touch screens have no hover: Plotly's mode bar would stay over the legend; pinch and drag still
   zoom and pan. */
@media (hover: none) { .js-plotly-plot .modebar-container { display: none; } }
"""


def theme() -> None:
    """The colours and the few CSS rules every page shares (call once per page)."""
    ui.colors(primary=PRIMARY)
    ui.add_css(THEME_CSS)


def may_open(role: Role, who: bool | str) -> bool:
    """A menu entry's audience: everybody (False), risk and admin (True) or admins ("admin")."""
    if who == "admin":
        return role is Role.ADMIN
    return not who or role.sees_all


@contextmanager
def frame(title: str, live: LivePage, *, demo: bool) -> Iterator[None]:
    ui.page_title(f"{title} · {PRODUCT}")
    theme()
    principal = live.principal
    dark = ui.dark_mode(remembered_dark(principal.user_id))
    links = [(path, label, icon) for path, label, icon, who in NAV if may_open(principal.role, who)]
    with ui.left_drawer(value=False).classes("bg-slate-100 dark:bg-slate-800 md:hidden") as drawer:
        nav_links(links, live.path, DRAWER_LINK, label="Menu").classes("column gap-1").mark("nav-menu")
    with ui.header().classes(
        "items-center justify-between bg-slate-900 text-white px-3 py-2 gap-2 flex-wrap"
    ):
        with ui.row().classes("items-center gap-2 no-wrap"):
            menu = ui.button(icon="menu", on_click=lambda: drawer.toggle())
            menu.props('flat round dense color=white aria-label="Menu" aria-expanded=false')
            menu.classes("md:hidden")
            drawer.on_value_change(lambda e: menu.props(f"aria-expanded={'true' if e.value else 'false'}"))
            ui.label(PRODUCT).classes("text-lg font-bold")
            if demo:
                ui.badge("DEMO", color="orange").props("outline").mark("demo-badge")
        nav = nav_links(links, live.path, HEADER_LINK, label="Main")
        nav.classes("row items-center gap-1 max-md:hidden").mark("nav-main")
        with ui.row().classes("items-center gap-2 no-wrap"):
            selector = ui.select(
                {seconds: label for seconds, label in REFRESH_CHOICES.items()},
                value=live.interval_s,
                label="Refresh",
                on_change=lambda e: live.set_interval(int(e.value)),
            )
            selector.props("dense dark options-dense borderless").classes("w-20").mark("refresh-select")
            selector.tooltip("Refresh interval (remembered for you)")
            mode = ui.button(icon="dark_mode").props('flat round dense color=white aria-label="Dark mode"')
            mode.on_click(lambda: _toggle_dark(dark, mode, principal.user_id)).tooltip("Dark mode")
            _show_mode(mode, bool(dark.value))
            with ui.column().classes("gap-0 leading-tight max-sm:hidden"):
                ui.label(principal.display_name).classes("text-sm").mark("user-name")
                ui.label(principal.role.value).classes("text-xs text-slate-300").mark("user-role")
            ui.button(icon="logout", on_click=lambda: live.act(lambda: _logout(live))).props(
                'flat round dense color=white aria-label="Log out everywhere"'
            ).mark("logout").tooltip("Log out everywhere")
    with ui.column().classes("w-full max-w-7xl mx-auto p-2 sm:p-4 gap-4"):
        heading(title, 1).mark("page-title")
        yield


# Links, not buttons: a page is a place (open it in a new tab, copy its address), and one element
# per menu instead of one per entry keeps a tab's element tree (and its memory) small.
LINK = "inline-flex items-center gap-2 rounded px-2 py-1 no-underline focus-visible:outline"
HEADER_LINK = f"{LINK} text-white text-sm hover:bg-white/10"
DRAWER_LINK = f"{LINK} text-slate-900 dark:text-slate-100 hover:bg-slate-200 dark:hover:bg-slate-700"


def nav_links(links: list[tuple[str, str, str]], current: str, link_classes: str, *, label: str) -> ui.html:
    """A `<nav>` of plain links; the current page is marked (`aria-current`) and outlined."""
    anchors = []
    for path, text, icon in links:
        here = ' aria-current="page"' if path == current else ""
        anchors.append(
            f'<a href="{escape(path)}" class="{link_classes}"{here}>'
            f'<i class="q-icon notranslate material-icons" aria-hidden="true">{escape(icon)}</i>'
            f"<span>{escape(text)}</span></a>"
        )
    return ui.html("".join(anchors), sanitize=False, tag="nav").props(f'aria-label="{label}"')


def dark_key(user_id: int) -> str:
    return f"dark:{user_id}"


def remembered_dark(user_id: int) -> bool:
    """The user's last choice (kept like the refresh interval, in the app's shared storage)."""
    return bool(app.storage.general.get(dark_key(user_id), False))


def _show_mode(button: ui.button, on: bool) -> None:
    button.props(f"aria-pressed={'true' if on else 'false'} icon={'light_mode' if on else 'dark_mode'}")


def _toggle_dark(dark: ui.dark_mode, button: ui.button, user_id: int) -> None:
    dark.toggle()
    on = bool(dark.value)
    app.storage.general[dark_key(user_id)] = on
    _show_mode(button, on)


async def _logout(live: LivePage) -> None:
    """Revoke every session of the user (this tab, other tabs, API tokens), then leave."""
    live.ended = True
    if live.timer is not None:
        live.timer.active = False
    await live.runtime.auth.logout(live.principal, None)
    ui.navigate.to("/login?error=logged_out")
