"""`/admin` (admins only; risk and traders get the page's refusal and no panel): users with their
sessions and last login, and service tokens, with every action the `users` CLI has (audited with
the admin and the address they act from)."""

from __future__ import annotations

from collections.abc import Mapping

from nicegui import ui

from components.admin_actions import AdminContext
from components.admin_tokens import TokensPanel
from components.admin_users import UsersPanel
from components.live import LivePage
from components.page import live_page
from dashboard.auth.web import client_addr


@live_page("/admin", "Administration", admin_only=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    context = AdminContext.of(live, client_addr(ui.context.client.request))
    UsersPanel(live, context)
    TokensPanel(live, context)
