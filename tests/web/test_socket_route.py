"""The pages' socket goes straight to socket.io (origin-checked); every other request to the app."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx

from dashboard.web.socket_route import SocketRoute

Scope = MutableMapping[str, Any]


class Recorder:
    """An ASGI app that answers 200 and remembers the scopes it was given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.name.encode()})


def route() -> tuple[SocketRoute, Recorder, Recorder]:
    app, socket = Recorder("app"), Recorder("socket")
    return SocketRoute(app, socket), app, socket


async def get(asgi: SocketRoute, path: str, origin: str = "http://test") -> httpx.Response:
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers={"Origin": origin})


async def test_socket_requests_skip_the_app_and_keep_the_mounts_root_path() -> None:
    asgi, app, socket = route()
    response = await get(asgi, "/_nicegui_ws/socket.io/?EIO=4&transport=polling")
    assert response.text == "socket" and not app.scopes
    assert socket.scopes[0]["root_path"] == "/_nicegui_ws"
    assert socket.scopes[0]["path"] == "/_nicegui_ws/socket.io/"


async def test_other_paths_go_to_the_app() -> None:
    asgi, app, socket = route()
    for path in ("/", "/reconciliation", "/_nicegui_wsx/socket.io/", "/api/v1/positions"):
        assert (await get(asgi, path)).text == "app", path
    assert not socket.scopes and len(app.scopes) == 4


async def test_a_cross_origin_socket_is_refused_on_the_short_path() -> None:
    asgi, app, socket = route()
    response = await get(
        asgi, "/_nicegui_ws/socket.io/?EIO=4&transport=polling", origin="http://evil.example"
    )
    assert response.status_code == 403 and not socket.scopes and not app.scopes
