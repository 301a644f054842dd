"""Browser sessions: the HttpOnly cookie, the `next` parameter, and the guard every request passes.

- The session JWT lives only in an HttpOnly, SameSite=Lax cookie (`__Host-` prefixed and Secure
  when served over HTTPS), never in a URL or in localStorage.
- `SessionGuard` sends a page request without a valid session to `/login?next=...` and an `/api`
  request without credentials to 401. It does not authenticate the NiceGUI socket (a refused
  reconnect leaves a popup that never clears); pages re-check the session on every tick instead.
- `OriginGuard` refuses cross-origin socket and state-changing requests: the socket accepts only
  our own origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from dashboard.services.errors import Unauthenticated

COOKIE = "tb_session"
SECURE_COOKIE = "__Host-tb_session"
DEFAULT_NEXT = "/reconciliation"

PUBLIC_PREFIXES = (
    "/login",
    "/auth/session",
    "/_nicegui",
    "/health",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/favicon.ico",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/ping",
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_https(connection: HTTPConnection) -> bool:
    forwarded = connection.headers.get("x-forwarded-proto", "")
    return connection.url.scheme in ("https", "wss") or forwarded.split(",")[0].strip() == "https"


def session_token(connection: HTTPConnection) -> str | None:
    return connection.cookies.get(SECURE_COOKIE) or connection.cookies.get(COOKIE)


def set_session_cookie(response: Response, connection: HTTPConnection, token: str, max_age: int) -> None:
    secure = is_https(connection)
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(SECURE_COOKIE, path="/", secure=True, httponly=True, samesite="lax")


def safe_next(value: str | None) -> str:
    """Only our own absolute paths: no scheme, no host, no `//evil`, no backslash tricks."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/auth/")):
        return DEFAULT_NEXT
    return value


def is_public(path: str) -> bool:
    return path.startswith("/_nicegui") or any(
        path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_PREFIXES
    )


def same_origin(connection: HTTPConnection) -> bool:
    """True when the request carries no Origin (not a browser cross-site request) or our own."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == connection.headers.get("host", "")


class SessionGuard:
    """Pages need a valid session cookie; `/api` needs a bearer token or the cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if scope["path"].startswith("/api/"):
            if request.headers.get("authorization") or session_token(request):
                await self.app(scope, receive, send)
                return
            response: Response = JSONResponse(
                {"detail": "authentication required", "field": None},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        runtime = getattr(request.app.state, "runtime", None)
        token = session_token(request)
        principal = None
        if runtime is not None and token:
            try:
                principal = await runtime.auth.principal(token)
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


class OriginGuard:
    """Refuse cross-origin websocket/socket.io connections and cross-origin unsafe requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            connection = HTTPConnection(scope)
            socket = scope["path"].startswith("/_nicegui_ws") or scope["type"] == "websocket"
            unsafe = scope["type"] == "http" and scope.get("method", "GET") not in ("GET", "HEAD", "OPTIONS")
            if (socket or unsafe) and not same_origin(connection):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse("cross-origin request refused", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
