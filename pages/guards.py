"""`/guards`: drawdown and daily-loss gauges per account, the chosen account's equity curve and
guard events (acknowledgeable), and the market guards."""

from __future__ import annotations

from collections.abc import Mapping

from components.accounts import AccountLabel, account_labels
from components.guards import AccountPanel, GaugesPanel, MarketPanel
from components.live import LivePage
from components.page import live_page


@live_page("/guards", "Risk guards")
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    listed = await live.initial(lambda: live.runtime.queries.account_guards(live.principal.viewer), None)
    states = listed.model.accounts if listed is not None else []
    labels: dict[int, AccountLabel] = await live.initial(lambda: account_labels(live), {})
    wanted = int(params["account"]) if params.get("account", "").isdigit() else 0
    known = [s.account_id for s in states if s.account_id in labels]
    GaugesPanel(live, [s for s in states if s.account_id in labels], labels)
    AccountPanel(live, labels, wanted if wanted in known else (known[0] if known else 0))
    MarketPanel(live)
