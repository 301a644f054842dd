"""Status cards, headings, and small in-place update helpers (send to the browser only what
changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

# Secondary text (card captions, hints) that keeps a 4.5:1 contrast in light and in dark mode.
MUTED = "text-slate-600 dark:text-slate-300"
# A table's props that show it as cards (its `item` slot) below Quasar's `sm` breakpoint (600 px):
# nobody scrolls sideways on a phone. Quasar's Screen is reactive, so a resize switches the view.
# (NiceGUI evaluates `:` props in the page's global scope, where `$q` does not exist.)
PHONE_GRID = ':grid="Quasar.Screen.lt.sm"'


class Heading(TextElement):
    """A real heading (`<h1>`…`<h3>`) for assistive technology, styled by the caller's classes."""

    def __init__(self, text: str, level: int = 2) -> None:
        super().__init__(tag=f"h{level}", text=text)


def heading(text: str, level: int = 2) -> Heading:
    """A section title: the page's title is the `<h1>` (the frame's), a card's title an `<h2>`."""
    sizes = {1: "text-xl font-semibold", 2: "text-base font-semibold"}
    return Heading(text, level).classes(f"{sizes.get(level, 'text-sm font-semibold')} m-0 tracking-normal")


def card(title: str, marker: str) -> ui.label:
    with ui.card().classes("min-w-40 grow gap-1"):
        ui.label(title).classes(f"text-xs uppercase tracking-wide {MUTED}")
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
