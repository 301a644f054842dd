"""Closed positions on `/positions`: realised P&L, a server-side page at a time.

Closed positions grow for the life of an account, so the table never holds them all: the server
returns one keyset page (`KeysetPager`), newest close first. Page 1 follows new closes live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel, label_of, labels_of
from components.cards import PHONE_GRID, heading, hover, set_rows, utc, utc_on_hover
from components.live import LivePage, LivePanel
from components.pager import KeysetPager
from components.positions import PNL_SLOT, number
from dashboard.cache.base_queries import Cached
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.positions import ClosedPositionPage, PositionView

PAGE_SIZE = 25
COLUMNS: list[dict[str, Any]] = [
    {"name": "closed", "label": "Closed", "field": "closed", "align": "left"},
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left"},
    {"name": "side", "label": "Side", "field": "side", "align": "left"},
    {"name": "volume", "label": "Volume", "field": "volume"},
    {"name": "open", "label": "Open price", "field": "open"},
    {"name": "close", "label": "Close price", "field": "close"},
    {"name": "profit", "label": "Realised P&L", "field": "profit"},
    {"name": "currency", "label": "Ccy", "field": "currency", "align": "left"},
    {"name": "reason", "label": "Reason", "field": "reason", "align": "left"},
    {"name": "opened", "label": "Opened", "field": "opened", "align": "left"},
]


def closed_row(p: PositionView, account: AccountLabel, live: LivePage) -> dict[str, Any]:
    pnl = p.realized_pnl if p.realized_pnl is not None else p.profit
    return {
        "id": p.id,
        "closed": live.local(p.closed_at, with_date=True),
        "closed_utc": utc(p.closed_at) if p.closed_at else "",
        "account": account.name,
        "login": account.login,
        "symbol": p.symbol,
        "side": p.side.value,
        "volume": f"{p.volume:.2f}",
        "open": number(p.price_open),
        "close": number(p.close_price),
        "profit": f"{pnl:,.2f}",
        "pnl_sign": (pnl > 0) - (pnl < 0),
        "currency": p.currency,
        "reason": p.close_reason.value if p.close_reason else "–",
        "opened": live.local(p.opened_at, with_date=True),
        "opened_utc": utc(p.opened_at),
    }


@dataclass(frozen=True)
class ClosedPage:
    page: Cached[ClosedPositionPage]
    accounts: Cached[AccountList]


class ClosedPositionsPanel(LivePanel[ClosedPage]):
    name = "closed"

    def __init__(self, live: LivePage, labels: dict[int, AccountLabel]) -> None:
        super().__init__(live)
        with ui.card().classes("w-full max-sm:px-2"):
            with ui.row().classes("items-center justify-between w-full gap-3 flex-wrap"):
                heading("Closed positions")
                choices = {0: "All accounts", **{i: label.long for i, label in labels.items()}}
                self.account = ui.select(choices, value=0, label="Account").classes("min-w-48")
                self.account.mark("closed-account")
            self.table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full")
            self.table.props(f"dense flat hide-pagination {PHONE_GRID}").mark("closed-positions")
            self.table.pagination = {"rowsPerPage": 0}
            self.table.add_slot("body-cell-profit", PNL_SLOT)
            utc_on_hover(self.table, "closed", "closed_utc")
            utc_on_hover(self.table, "opened", "opened_utc")
            hover(self.table, "account", "login")
            self.pager = KeysetPager("closed-pager", self.refresh)
            live.add(self)
        self.account.on_value_change(lambda: live.act(self.filter_changed))

    async def filter_changed(self) -> None:
        self.pager.reset()
        await self.refresh()

    async def fetch(self) -> ClosedPage:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        page = await queries.closed_positions(
            viewer, account_id=int(self.account.value) or None, limit=PAGE_SIZE, cursor=self.pager.cursor
        )
        return ClosedPage(page, await queries.list_accounts(viewer))

    def show(self, data: ClosedPage) -> None:
        page = data.page.model
        labels = labels_of(data.accounts.model)
        rows = [closed_row(p, label_of(labels, p.account_id), self.live) for p in page.positions]
        set_rows(self.table, rows)
        self.pager.seen(page.next_cursor)
