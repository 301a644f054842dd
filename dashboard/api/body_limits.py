"""Refuse oversized request bodies before reading them (413, the API's JSON error), per route.

Why before: FastAPI reads and parses a whole body before validation can refuse it; a 10 MB login
body was parsed (754 ms) before its 422, and bodies of 100,000 JSON keys slowed every read served
beside them. Here a declared `Content-Length` over the limit is refused at once, and a body sent
without one is read only up to the limit. (FastAPI's own `max_body_size` was tried: it answers a
declared oversize with a plain-text 413 whatever the app's error shape, and lets an oversized
chunked body through to a route that does not read it. One middleware keeps the whole table here.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
MIB = 1024 * KIB

#: (path prefix, largest body in bytes), most specific first. Documented in the README.
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    # A sync carries up to 1,000 positions and 1,000 exit deals (about 600 KB at most).
    ("/api/v1/ingest/syncs", 1 * MIB),
    # Up to 1,000 quotes (about 150 KB).
    ("/api/v1/ingest/quotes", 256 * KIB),
    # One equity snapshot or one position open.
    ("/api/v1/ingest/", 16 * KIB),
    # Login, refresh and logout.
    ("/api/v1/auth/", 4 * KIB),
    # The pages' login form (e-mail, password and the page to return to).
    ("/auth/session", 8 * KIB),
)
#: Everything else (reads have no body at all).
DEFAULT_LIMIT = 16 * KIB
# NiceGUI's socket (engine.io long-polling posts) enforces its own limit.
EXEMPT_PREFIXES = ("/_nicegui",)


def limit_for(path: str) -> int | None:
    if path.startswith(EXEMPT_PREFIXES):
        return None
    for prefix, limit in ROUTE_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        status_code=413,
        content={"detail": f"request body larger than {limit} bytes", "field": None},
        headers={"Connection": "close"},
    )


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
                # The server holds the body to its declared length: nothing more to check.
                await self.app(scope, receive, send)
                return
        # No declared length (chunked): read up to the limit here, then hand the body on.
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body = message.get("body", b"")
            total += len(body)
            if total > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)
