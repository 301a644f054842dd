"""Status cards and small in-place update helpers (send to the browser only what changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui


def card(title: str, marker: str) -> ui.label:
    with ui.card().classes("min-w-40 grow gap-1"):
        ui.label(title).classes("text-xs uppercase opacity-60")
        value = ui.label("–").classes("text-2xl font-semibold").mark(marker)
    return value


def set_text(label: ui.label, text: str) -> bool:
    if label.text == text:
        return False
    label.text = text
    return True


def set_rows(table: ui.table, rows: list[dict[str, Any]]) -> bool:
    """Replace a table's rows only when they differ (a row change resends all rows)."""
    if table.rows == rows:
        return False
    table.rows = rows
    table.update()
    return True


def hover(table: ui.table, column: str, title_field: str) -> None:
    """Show a column's cells with another field of the row as their hover title (the UTC time
    behind a local time, the broker login behind an account name)."""
    table.add_slot(
        f"body-cell-{column}",
        f'<q-td :props="props" :title="props.row.{title_field}">{{{{ props.value }}}}</q-td>',
    )


def utc_on_hover(table: ui.table, column: str, utc_field: str) -> None:
    """Show a table's local-time column with its UTC value as the cell's hover title."""
    hover(table, column, utc_field)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
