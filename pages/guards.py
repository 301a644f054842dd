"""`/guards`: drawdown and daily-loss gauges per account, the prop-challenge objectives of the
accounts that run one, the chosen account's equity curve and guard events (acknowledgeable), and
the market guards; or all of it as it was at `?at=` (the market guards excepted: quotes have no
history; the objectives too: they are computed for now)."""

from __future__ import annotations

from collections.abc import Mapping

from components.accounts import AccountLabel, account_labels
from components.guards import AccountPanel, GaugesPanel, MarketPanel, market_not_kept
from components.live import LivePage
from components.objectives import ObjectivesPanel
from components.page import live_page


@live_page("/guards", "Risk guards", as_of=True)
async def page(live: LivePage, params: Mapping[str, str]) -> None:
    queries, viewer, at = live.runtime.queries, live.principal.viewer, live.at
    listed = await live.initial(
        lambda: queries.account_guards(viewer) if at is None else queries.account_guards_at(viewer, at), None
    )
    states = listed.model.accounts if listed is not None else []
    labels: dict[int, AccountLabel] = await live.initial(lambda: account_labels(live), {})
    wanted = int(params["account"]) if params.get("account", "").isdigit() else 0
    known = [s.account_id for s in states if s.account_id in labels]
    GaugesPanel(live, [s for s in states if s.account_id in labels], labels)
    if at is None:
        challenges = await live.initial(lambda: queries.objective_accounts(viewer), None)
        for account_id in challenges.model.account_ids if challenges is not None else []:
            if account_id in labels:
                ObjectivesPanel(live, account_id, f"Prop challenge · {labels[account_id].long}")
    AccountPanel(live, labels, wanted if wanted in known else (known[0] if known else 0))
    if at is None:
        MarketPanel(live)
    else:
        market_not_kept()
