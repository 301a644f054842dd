"""`/accounts/{account_id}`: one account (to be written)."""

from __future__ import annotations

from collections.abc import Mapping

from nicegui import ui

from components.live import LivePage
from components.page import live_page


@live_page("/accounts/{account_id}", "Account")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    ui.label(f"account {params.get('account_id')}")
