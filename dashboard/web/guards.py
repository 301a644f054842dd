"""The guards every page request passes (the API is served in front of them, see `dashboard.app`).

- `SessionGuard` sends a page request without a valid session to `/login?next=...`. It does not
  authenticate the NiceGUI socket (a refused reconnect leaves a popup that never clears); pages
  re-check the session on every tick instead.
- `OriginGuard` refuses cross-origin socket and state-changing requests: the socket accepts only
  our own origin.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from dashboard.auth.web import (
    SAFE_METHODS,
    clear_session_cookie,
    is_public,
    safe_next,
    same_origin,
    session_token,
)
from dashboard.runtime import NotReady, serving_runtime
from dashboard.services.errors import Unauthenticated

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SessionGuard:
    """Pages need a valid session cookie; without one the browser goes to `/login?next=...`.

    While the process is starting (migrating, seeding the demo) pages answer 503 with a page that
    retries by itself. During a database outage a signed, unexpired session whose user state
    cannot be checked is let through (pages then show cached data with stale banners): nothing
    can revoke a session while the database is down, since revoking is itself a database write.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            runtime = serving_runtime()
        except NotReady as error:
            await _starting_page(str(error))(scope, receive, send)
            return
        request = Request(scope)
        token = session_token(request)
        principal = None
        if token:
            try:
                principal = await runtime.auth.principal(token, tolerate_outage=True)
            except Unauthenticated:
                principal = None
        if principal is None:
            target = scope["path"] + (
                f"?{scope['query_string'].decode()}" if scope.get("query_string") else ""
            )
            response = RedirectResponse(f"/login?next={quote(safe_next(target), safe='')}", status_code=303)
            if token:
                clear_session_cookie(response)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        scope["state"]["session_token"] = token
        await self.app(scope, receive, send)


def _starting_page(reason: str) -> Response:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='2'><title>Starting · TeleBot Live Dashboard</title></head>"
        f"<body><main><h1>TeleBot Live Dashboard</h1><p>{html.escape(reason.capitalize())}; "
        "this page reloads by itself.</p></main></body></html>"
    )
    return HTMLResponse(body, status_code=503, headers={"Retry-After": "2"})


class OriginGuard:
    """Refuse cross-origin websocket/socket.io connections and cross-origin unsafe requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            connection = HTTPConnection(scope)
            socket = scope["path"].startswith("/_nicegui_ws") or scope["type"] == "websocket"
            unsafe = scope["type"] == "http" and scope.get("method", "GET") not in SAFE_METHODS
            if (socket or unsafe) and not same_origin(connection):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse("cross-origin request refused", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
