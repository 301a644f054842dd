"""`/admin` (admins only): users, service tokens and sessions (to be written)."""

from __future__ import annotations

from collections.abc import Mapping

from nicegui import ui

from components.live import LivePage
from components.page import live_page


@live_page("/admin", "Administration", admin_only=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    ui.label("admin")
