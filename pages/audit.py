"""`/audit` (risk and admin only): the audit trail with filters, server pages and CSV export;
`?account=ID` opens it filtered to one account."""

from __future__ import annotations

from collections.abc import Mapping

from components.accounts import AccountLabel, account_labels
from components.audit import AuditPanel
from components.live import LivePage
from components.page import live_page


@live_page("/audit", "Audit trail", wide_only=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    none: dict[int, AccountLabel] = {}
    labels = await live.initial(lambda: account_labels(live), none)
    account = params.get("account", "")
    AuditPanel(live, labels, int(account) if account.isdigit() else None)
