"""`/positions`: live table of open positions with filters, sorting, totals per currency, coloured
P&L, a row detail with the position's reconciliation history, and CSV export of the shown rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from nicegui import ui

from components.cards import set_rows, set_text, utc, utc_on_hover
from components.csv_export import to_csv
from components.frame import frame
from components.live import LivePage, live_page
from dashboard.schemas.positions import PositionView
from dashboard.services.errors import NotFound

COLUMNS = [
    {"name": "account", "label": "Account", "field": "account", "align": "left", "sortable": True},
    {"name": "symbol", "label": "Symbol", "field": "symbol", "align": "left", "sortable": True},
    {"name": "side", "label": "Side", "field": "side", "align": "left", "sortable": True},
    {"name": "volume", "label": "Volume", "field": "volume", "sortable": True},
    {"name": "open", "label": "Open price", "field": "open"},
    {"name": "current", "label": "Current", "field": "current"},
    {"name": "sl", "label": "SL", "field": "sl"},
    {"name": "tp", "label": "TP", "field": "tp"},
    {"name": "profit", "label": "P&L", "field": "profit", "sortable": True},
    {"name": "swap", "label": "Swap", "field": "swap"},
    {"name": "currency", "label": "Ccy", "field": "currency", "align": "left"},
    {"name": "opened", "label": "Opened", "field": "opened", "align": "left", "sortable": True},
]
EXPORT_FIELDS = {"opened": "opened_utc"}
PNL_SLOT = """
<q-td :props="props">
  <span :class="props.row.pnl_sign < 0 ? 'text-red-600 font-medium'
               : (props.row.pnl_sign > 0 ? 'text-green-700 font-medium' : '')">
    {{ props.value }}
  </span>
</q-td>
"""


def _num(value: Decimal | None) -> str:
    """Exact, without the storage scale's trailing zeros (40278.10000000 -> 40278.1)."""
    return "–" if value is None else f"{value.normalize():f}"


def row_of(p: PositionView, account_names: dict[int, str], live: LivePage) -> dict[str, Any]:
    return {
        "id": p.id,
        "account": account_names.get(p.account_id, str(p.account_id)),
        "symbol": p.symbol,
        "side": p.side.value,
        "volume": f"{p.volume:.2f}",  # lots: always two decimals (0.10, not 0.1)
        "open": _num(p.price_open),
        "current": _num(p.price_current),
        "sl": _num(p.sl),
        "tp": _num(p.tp),
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


def register(demo: bool) -> None:
    @ui.page("/positions")
    async def positions_page(request: Request) -> None:
        live = live_page(request, "/positions")
        queries, viewer = live.runtime.queries, live.principal.viewer
        listed = await live.initial(lambda: queries.list_accounts(viewer), None)
        accounts = listed.model.accounts if listed is not None else []
        account_names = {a.id: f"{a.name} ({a.broker_login})" for a in accounts}
        with frame("Open positions", live, demo=demo):
            with ui.row().classes("w-full items-end gap-3 flex-wrap"):
                account = ui.select({0: "All accounts", **account_names}, value=0, label="Account")
                account.classes("min-w-48").mark("filter-account")
                symbol = ui.select(["All symbols"], value="All symbols", label="Symbol").classes("min-w-36")
                symbol.mark("filter-symbol")
                side = ui.select({"": "Both sides", "buy": "Buy", "sell": "Sell"}, value="", label="Side")
                side.classes("min-w-32").mark("filter-side")
                ui.space()
                export_button = ui.button("Export CSV", icon="download", on_click=lambda: live.act(export))
                export_button.props("outline").mark("export")
            total = ui.label().classes("font-medium").mark("totals")
            table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=50).classes("w-full")
            table.props("dense flat").mark("positions")
            table.add_slot("body-cell-profit", PNL_SLOT)
            utc_on_hover(table, "opened", "opened_utc")
            table.on("rowClick", lambda e: live.act(lambda: show_detail(e.args[1]["id"])))
            live.panel("positions", lambda: refresh())
            for control in (account, symbol, side):
                control.on_value_change(lambda: refresh_now())

        async def refresh() -> datetime:
            data = (
                await queries.open_positions(
                    viewer,
                    account_id=int(account.value) or None,
                    symbol=None if symbol.value == "All symbols" else str(symbol.value),
                    side=str(side.value) or None,
                )
            ).model
            symbols = [
                "All symbols",
                *sorted({p.symbol for p in data.positions} | ({symbol.value} - {"All symbols"})),
            ]
            if symbol.options != symbols:
                symbol.set_options(symbols, value=symbol.value)
            set_rows(table, [row_of(p, account_names, live) for p in data.positions])
            set_text(total, f"Floating P&L incl. swap: {totals(data.positions)}")
            return data.as_of

        async def refresh_now() -> None:
            await refresh()

        async def export() -> None:
            ui.download(to_csv(COLUMNS, table.rows, EXPORT_FIELDS), "positions.csv", "text/csv")

        async def show_detail(position_id: int) -> None:
            try:
                position = (await queries.position_by_id(viewer, position_id)).model
                history = (await queries.position_incidents(viewer, position_id)).model
            except NotFound:
                ui.notify("That position is no longer visible", type="warning")
                return
            with ui.dialog() as dialog, ui.card().classes("min-w-80 max-w-2xl").mark("position-detail"):
                ui.label(
                    f"{position.symbol} {position.side.value} {position.volume:f} · "
                    f"ticket {position.broker_ticket}"
                )
                ui.label(
                    f"Opened {live.local(position.opened_at, with_date=True)} at {position.price_open:f}; "
                    f"SL {_num(position.sl)} TP {_num(position.tp)}; source {position.source.value}"
                ).classes("text-sm")
                ui.label("Reconciliation history").classes("font-semibold mt-2")
                if not history.incidents:
                    ui.label("No divergences recorded for this position.").classes("text-sm opacity-70")
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

        live.start()
