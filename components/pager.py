"""Older / newer buttons over a keyset-paginated list (see `dashboard.services.queries.cursor`).

The server hands out a cursor for the page after the one shown; going back is remembering the
cursors that led here. Page 1 has no cursor, so it keeps following the live data; an older page
stays put while new rows arrive, because its cursor names the row it starts after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from components.cards import MUTED


class KeysetPager:
    """`cursor` is what the panel's next fetch asks for; `seen(next_cursor)` after each fetch."""

    def __init__(self, marker: str, on_change: Callable[[], Awaitable[None]]) -> None:
        self.cursor: str | None = None
        self._back: list[str | None] = []
        self._next: str | None = None
        self._on_change = on_change
        with ui.row().classes("items-center gap-2").mark(marker):
            self.newest = ui.button("Newest", on_click=self._first).props("flat dense no-caps")
            self.newer = ui.button("← Newer", on_click=self._newer).props("flat dense no-caps")
            self.label = ui.label("Page 1").classes(f"text-sm {MUTED}").props('aria-live="polite"')
            self.older = ui.button("Older →", on_click=self._older).props("flat dense no-caps")
        self.newest.mark(f"{marker}-newest")
        self.newer.mark(f"{marker}-newer")
        self.label.mark(f"{marker}-page")
        self.older.mark(f"{marker}-older")
        self._draw()

    @property
    def page(self) -> int:
        return len(self._back) + 1

    def seen(self, next_cursor: str | None) -> None:
        """The page just fetched says whether there is an older one."""
        if next_cursor != self._next:
            self._next = next_cursor
            self._draw()

    def reset(self) -> None:
        """Back to page 1 without fetching (a filter changed: the old cursors mean nothing now)."""
        self.cursor, self._back, self._next = None, [], None
        self._draw()

    def _draw(self) -> None:
        self.newest.set_enabled(bool(self._back))
        self.newer.set_enabled(bool(self._back))
        self.older.set_enabled(self._next is not None)
        self.label.set_text(f"Page {self.page}")

    async def _older(self) -> None:
        if self._next is None:
            return
        self._back.append(self.cursor)
        self.cursor = self._next
        self._draw()
        await self._on_change()

    async def _newer(self) -> None:
        if not self._back:
            return
        self.cursor = self._back.pop()
        self._draw()
        await self._on_change()

    async def _first(self) -> None:
        self.reset()
        await self._on_change()
