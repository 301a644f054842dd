"""A page's socket events are handled only when they come from one of that page's own sockets: a
socket that learned another tab's client id (a risk officer's page, say) cannot click its buttons."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui.client import Client

from dashboard.web import socket_events


class Page:
    """A client as NiceGUI's handler sees it: its handshaken sockets and the events it got."""

    def __init__(self, sockets: set[str]) -> None:
        self._socket_to_document_id = dict.fromkeys(sockets, "doc")
        self.has_socket_connection = True
        self.events: list[dict[str, Any]] = []

    def handle_event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)


@pytest.fixture
def risk_page(monkeypatch: pytest.MonkeyPatch) -> Page:
    page = Page({"risk-socket"})
    monkeypatch.setitem(Client.instances, "risk-client", page)  # type: ignore[arg-type]
    return page


def test_an_event_from_the_pages_own_socket_is_handled(risk_page: Page) -> None:
    click = {"client_id": "risk-client", "id": 7, "type": "click", "args": []}
    socket_events.on_event("risk-socket", click)
    assert risk_page.events == [click]


def test_an_event_naming_another_pages_client_is_refused(risk_page: Page) -> None:
    socket_events.on_event(
        "trader-socket", {"client_id": "risk-client", "id": 7, "type": "click", "args": []}
    )
    socket_events.on_event("trader-socket", "not a message")
    socket_events.on_event("trader-socket", {"client_id": "nobody", "id": 7, "type": "click"})
    assert risk_page.events == []
