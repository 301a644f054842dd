"""`/accounts/{account_id}`: one account: its gauges, its limits and the room left under each (with
the edit form and the HWM reset for risk and admin), its prop-challenge objectives, a link to its
audit trail (risk and admin), its equity curve with the HWM resets marked,
and its guard events. An id that does not exist, or an account the viewer may not see, is the same
"Account not found" (no oracle telling the two apart)."""

from __future__ import annotations

from collections.abc import Mapping

from nicegui import ui

from components.accounts import AccountLabel
from components.cards import MUTED, heading
from components.guards import LINK_COLORS, AccountPanel, GaugesPanel
from components.limits import LimitsPanel
from components.live import LivePage
from components.objectives import ObjectivesPanel
from components.page import live_page
from dashboard.schemas.guards import AccountGuardList
from dashboard.services.errors import NotFound

#: Ids the database can hold (BIGINT); anything else cannot name an account.
MAX_ID = 2**63 - 1


def account_id_of(params: Mapping[str, str]) -> int | None:
    raw = params.get("account_id", "")
    if not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def not_found() -> None:
    with ui.card().classes("w-full"):
        heading("Account not found")
        ui.label("No account with this id is visible to you.").classes(f"text-sm {MUTED}").mark(
            "account-not-found"
        )
        ui.link("Back to the risk guards", "/guards").classes(LINK_COLORS)


@live_page("/accounts/{account_id}", "Account")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    account_id = account_id_of(params)
    if account_id is None:
        not_found()
        return
    try:
        listed: AccountGuardList | None = await live.initial(lambda: _gauges(live, account_id), None)
    except NotFound:
        not_found()
        return
    if listed is None:  # the database is down: the page reloads itself once it is back
        ui.label("The account cannot be read right now; this page reloads when it can.").mark(
            "account-unavailable"
        )
        return
    (state,) = listed.accounts
    label = AccountLabel(state.name, str(state.broker_login))
    heading(f"{state.name} · login {state.broker_login} · {state.broker_server} · {state.currency}").mark(
        "account-heading"
    )
    GaugesPanel(live, [state], {account_id: label}, account_id=account_id)
    if live.principal.role.sees_all:
        ui.link("This account's audit trail", f"/audit?account={account_id}").classes(LINK_COLORS).mark(
            "account-audit"
        )
    LimitsPanel(live, account_id)
    with ui.column().classes("w-full gap-2").mark("account-objectives"):
        ObjectivesPanel(live, account_id)  # says so itself when the account runs no challenge
    AccountPanel(live, {account_id: label}, account_id, choose=False)


async def _gauges(live: LivePage, account_id: int) -> AccountGuardList:
    """The account's gauges: also the check that the viewer may see it (`NotFound` otherwise)."""
    return (await live.runtime.queries.account_guards(live.principal.viewer, account_id=account_id)).model
