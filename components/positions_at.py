"""The past view's "Open positions at that moment" table on `/reconciliation`: the positions opened
by then and not yet closed, as `services.queries.as_of.open_positions_at` rebuilds them.

Their P&L, swap and current price at that moment were never stored: the columns say "–" with a
hover that says so, rather than today's figures under a past date (`schemas.as_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nicegui import ui

from components.accounts import label_of, labels_of
from components.cards import MUTED, heading, hover, set_rows, set_text, utc
from components.live import LivePage, LivePanel
from components.positions import number
from dashboard.cache.base_queries import Cached
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.as_of import PositionListAsOf

NOT_STORED = "not stored: the value at that moment was never recorded"
COLUMNS: list[dict[str, Any]] = [
    {"name": "account", "label": "Account", "field": "account", "align": "left", "sortable": True},
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left", "sortable": True},
    {"name": "side", "label": "Side", "field": "side", "align": "left"},
    {"name": "volume", "label": "Volume", "field": "volume"},
    {"name": "open", "label": "Open price", "field": "open"},
    {"name": "sl", "label": "SL", "field": "sl"},
    {"name": "tp", "label": "TP", "field": "tp"},
    {"name": "profit", "label": "P&L", "field": "profit"},
    {"name": "opened", "label": "Opened", "field": "opened", "align": "left", "sortable": True},
]


@dataclass(frozen=True)
class PositionsAt:
    listed: Cached[PositionListAsOf]
    accounts: Cached[AccountList]


class PositionsAtPanel(LivePanel[PositionsAt]):
    name = "positions-at"

    def __init__(self, live: LivePage) -> None:
        super().__init__(live)
        with ui.card().classes("w-full max-sm:px-2"):
            heading("Open positions at that moment")
            self.count = ui.label("–").classes(f"text-sm {MUTED}").mark("positions-at-count")
            self.table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=25).classes("w-full")
            self.table.props("dense flat").mark("positions-at")
            hover(self.table, "account", "login")
            hover(self.table, "opened", "opened_utc")
            hover(self.table, "profit", "profit_note")
            live.add(self)

    async def fetch(self) -> PositionsAt:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        assert self.live.at is not None  # built in the past view only
        return PositionsAt(
            await queries.open_positions_at(viewer, self.live.at), await queries.list_accounts(viewer)
        )

    def show(self, data: PositionsAt) -> None:
        positions = data.listed.model.positions
        labels = labels_of(data.accounts.model)
        rows = []
        for p in positions:
            account = label_of(labels, p.account_id)
            rows.append(
                {
                    "id": p.id,
                    "account": account.name,
                    "login": account.login,
                    "symbol": p.symbol,
                    "side": p.side.value,
                    "volume": f"{p.volume:.2f}",
                    "open": number(p.price_open),
                    "sl": number(p.sl),
                    "tp": number(p.tp),
                    "profit": "–" if p.profit is None else f"{p.profit:,.2f}",
                    "profit_note": NOT_STORED if p.profit is None else "",
                    "opened": self.live.local(p.opened_at, with_date=True),
                    "opened_utc": utc(p.opened_at),
                }
            )
        set_text(self.count, f"{len(positions)} open; P&L at that moment not stored (–)")
        set_rows(self.table, rows)
