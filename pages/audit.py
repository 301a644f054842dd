"""`/audit` (risk and admin only): the audit trail with filters, server pages and CSV export."""

from __future__ import annotations

from collections.abc import Mapping

from components.audit import AuditPanel
from components.live import LivePage
from components.page import live_page


@live_page("/audit", "Audit trail", wide_only=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    AuditPanel(live)
