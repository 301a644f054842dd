"""The frame every page shares: header with product name, DEMO badge and navigation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

PRODUCT = "TeleBot Live Dashboard"


@contextmanager
def frame(title: str, *, demo: bool) -> Iterator[None]:
    ui.page_title(f"{title} · {PRODUCT}")
    with ui.header().classes("items-center justify-between bg-slate-900 text-white px-4 py-2"):
        with ui.row().classes("items-center gap-3"):
            ui.label(PRODUCT).classes("text-lg font-bold")
            if demo:
                ui.badge("DEMO", color="orange").props("outline").mark("demo-badge")
        ui.label(title).classes("text-sm opacity-80")
    with ui.column().classes("w-full max-w-6xl mx-auto p-4 gap-4"):
        yield
