"""The panel of `/positions`: open positions with filters, sorting, totals per currency, coloured
P&L, a row detail with the position's reconciliation history, and CSV export of the rows shown.

On a phone the table turns into cards (symbol, side, volume and P&L first): a trader must not
scroll sideways to read P&L."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nicegui import ui

from components.accounts import AccountLabel, label_of, labels_of
from components.cards import MUTED, PHONE_GRID, hover, set_rows, set_text, utc, utc_on_hover
from components.csv_export import to_csv
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.positions import PositionList, PositionView
from dashboard.services.errors import NotFound

COLUMNS: list[dict[str, Any]] = [
    {"name": "account", "label": "Account", "field": "account", "align": "left", "sortable": True},
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left", "sortable": True},
    {"name": "side", "label": "Side", "field": "side", "align": "left", "sortable": True},
    {"name": "volume", "label": "Volume", "field": "volume", "sortable": True},
    {"name": "profit", "label": "P&L", "field": "profit", "sortable": True},
    {"name": "open", "label": "Open price", "field": "open"},
    {"name": "current", "label": "Current", "field": "current"},
    {"name": "sl", "label": "SL", "field": "sl"},
    {"name": "tp", "label": "TP", "field": "tp"},
    {"name": "swap", "label": "Swap", "field": "swap"},
    {"name": "currency", "label": "Ccy", "field": "currency", "align": "left"},
    {"name": "opened", "label": "Opened", "field": "opened", "align": "left", "sortable": True},
]
# CSV: the login beside the name, and UTC times behind local ones.
EXPORT_COLUMNS: list[dict[str, Any]] = [
    COLUMNS[0],
    {"name": "login", "label": "Login", "field": "login"},
    *COLUMNS[1:],
]
EXPORT_FIELDS = {"opened": "opened_utc"}
PNL_CLASS = (
    "props.row.pnl_sign < 0 ? 'text-red-700 dark:text-red-400 font-medium' "
    ": (props.row.pnl_sign > 0 ? 'text-green-800 dark:text-green-400 font-medium' : '')"
)
PNL_SLOT = f"""
<q-td :props="props"><span :class="{PNL_CLASS}">{{{{ props.value }}}}</span></q-td>
"""
# Below 600 px (`PHONE_GRID`) each row is a card: symbol, side, volume and P&L on the first line.
CARD_SLOT = f"""
<div class="q-pa-xs col-12">
  <q-card flat bordered class="cursor-pointer" tabindex="0" data-testid="position-card"
          @click="() => $parent.$emit('rowClick', null, props.row)"
          @keyup.enter="() => $parent.$emit('rowClick', null, props.row)">
    <q-card-section class="q-py-sm">
      <div class="row items-baseline justify-between no-wrap q-gutter-x-sm">
        <div class="text-subtitle2 ellipsis">
          {{{{ props.row.symbol }}}} <span class="text-uppercase">{{{{ props.row.side }}}}</span>
          {{{{ props.row.volume }}}}
        </div>
        <div class="text-subtitle1 text-no-wrap" :class="{PNL_CLASS}" data-testid="position-pnl">
          {{{{ props.row.profit }}}} {{{{ props.row.currency }}}}
        </div>
      </div>
      <div class="row justify-between q-gutter-x-sm text-caption {MUTED}">
        <span>{{{{ props.row.account }}}}</span><span class="text-no-wrap">{{{{ props.row.opened }}}}</span>
      </div>
      <div class="text-caption {MUTED}">
        <span class="text-no-wrap">open {{{{ props.row.open }}}}</span> ·
        <span class="text-no-wrap">now {{{{ props.row.current }}}}</span> ·
        <span class="text-no-wrap">swap {{{{ props.row.swap }}}}</span>
      </div>
    </q-card-section>
  </q-card>
</div>
"""


def number(value: Decimal | None) -> str:
    """Exact, without the storage scale's trailing zeros (40278.10000000 -> 40278.1)."""
    return "–" if value is None else f"{value.normalize():f}"


def row_of(p: PositionView, account: AccountLabel, live: LivePage) -> dict[str, Any]:
    return {
        "id": p.id,
        "account": account.name,
        "login": account.login,
        "symbol": p.symbol,
        "side": p.side.value,
        "volume": f"{p.volume:.2f}",  # lots: always two decimals (0.10, not 0.1)
        "open": number(p.price_open),
        "current": number(p.price_current),
        "sl": number(p.sl),
        "tp": number(p.tp),
        "profit": f"{p.profit:,.2f}",
        "pnl_sign": (p.profit > 0) - (p.profit < 0),
        "swap": f"{p.swap:,.2f}",
        "currency": p.currency,
        "opened": live.local(p.opened_at, with_date=True),
        "opened_utc": utc(p.opened_at),
    }


def totals(positions: list[PositionView]) -> str:
    by_currency: defaultdict[str, Decimal] = defaultdict(Decimal)
    for p in positions:
        by_currency[p.currency] += p.profit + p.swap
    if not by_currency:
        return "no open positions"
    return " · ".join(f"{ccy} {value:+,.2f}" for ccy, value in sorted(by_currency.items()))


@dataclass(frozen=True)
class Positions:
    listed: Cached[PositionList]
    accounts: Cached[AccountList]


ALL_SYMBOLS = "All symbols"


class PositionsPanel(LivePanel[Positions]):
    name = "positions"

    def __init__(self, live: LivePage, labels: dict[int, AccountLabel]) -> None:
        super().__init__(live)
        with ui.row().classes("w-full items-end gap-3 flex-wrap"):
            choices = {0: "All accounts", **{i: label.long for i, label in labels.items()}}
            self.account = ui.select(choices, value=0, label="Account").classes("min-w-48 max-sm:w-full")
            self.account.mark("filter-account")
            self.symbol = ui.select([ALL_SYMBOLS], value=ALL_SYMBOLS, label="Symbol")
            self.symbol.classes("min-w-36 grow sm:grow-0").mark("filter-symbol")
            self.side = ui.select({"": "Both sides", "buy": "Buy", "sell": "Sell"}, value="", label="Side")
            self.side.classes("min-w-32 grow sm:grow-0").mark("filter-side")
            ui.space()
            export = ui.button("Export CSV", icon="download", on_click=lambda: live.act(self.export))
            export.props("outline").mark("export")
        self.total = ui.label().classes("font-medium").mark("totals")
        self.table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=50).classes("w-full")
        self.table.props(f"dense flat {PHONE_GRID}").mark("positions")
        self.table.add_slot("body-cell-profit", PNL_SLOT)
        self.table.add_slot("item", CARD_SLOT)
        utc_on_hover(self.table, "opened", "opened_utc")
        hover(self.table, "account", "login")
        self.table.on("rowClick", lambda e: live.act(lambda: self.show_detail(int(e.args[1]["id"]))))
        live.add(self)
        for control in (self.account, self.symbol, self.side):
            control.on_value_change(lambda: live.act(self.refresh))

    async def fetch(self) -> Positions:
        live = self.live
        chosen = str(self.symbol.value)
        listed = await live.runtime.queries.open_positions(
            live.principal.viewer,
            account_id=int(self.account.value) or None,
            symbol=None if chosen == ALL_SYMBOLS else chosen,
            side=str(self.side.value) or None,
        )
        return Positions(listed, await live.runtime.queries.list_accounts(live.principal.viewer))

    def show(self, data: Positions) -> None:
        positions = data.listed.model.positions
        chosen = str(self.symbol.value)
        symbols = [ALL_SYMBOLS, *sorted({p.symbol for p in positions} | ({chosen} - {ALL_SYMBOLS}))]
        if self.symbol.options != symbols:
            self.symbol.set_options(symbols, value=chosen)
        labels = labels_of(data.accounts.model)
        set_rows(self.table, [row_of(p, label_of(labels, p.account_id), self.live) for p in positions])
        set_text(self.total, f"Floating P&L incl. swap: {totals(positions)}")

    async def export(self) -> None:
        ui.download(to_csv(EXPORT_COLUMNS, self.table.rows, EXPORT_FIELDS), "positions.csv", "text/csv")

    async def show_detail(self, position_id: int) -> None:
        live = self.live
        viewer = live.principal.viewer
        try:
            position = (await live.runtime.queries.position_by_id(viewer, position_id)).model
            history = (await live.runtime.queries.position_incidents(viewer, position_id)).model
        except NotFound:
            ui.notify("That position is no longer visible", type="warning")
            return
        with ui.dialog() as dialog, ui.card().classes("min-w-80 max-w-2xl").mark("position-detail"):
            heading = f"{position.symbol} {position.side.value} {position.volume:f}"
            ui.label(f"{heading} · ticket {position.broker_ticket}").classes("font-semibold")
            ui.label(
                f"Opened {live.local(position.opened_at, with_date=True)} at {position.price_open:f}; "
                f"SL {number(position.sl)} TP {number(position.tp)}; source {position.source.value}"
            ).classes("text-sm")
            ui.label("Reconciliation history").classes("font-semibold mt-2")
            if not history.incidents:
                ui.label("No divergences recorded for this position.").classes("text-sm")
            for incident in history.incidents:
                ui.label(
                    f"{live.local(incident.first_seen_at, with_date=True)} {incident.kind.value} "
                    f"({incident.severity.value}): local {incident.local_value or '–'}, broker "
                    f"{incident.broker_value or '–'} → {incident.resolution.value}, "
                    f"seen {incident.occurrences}×"
                ).classes("text-sm")
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.on("hide", dialog.delete)
        dialog.open()
