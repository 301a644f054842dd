"""A browser that leaves while its request is still being answered is not a server error.

Starlette's `BaseHTTPMiddleware` (NiceGUI's own middlewares are built on it) raises
`RuntimeError("No response returned.")` when the client disconnects before the app below it has
started its response, and uvicorn logs that as "Exception in ASGI application" with a traceback:
measured in the browser tests, a tab closed while its page's requests were in flight. Here that one
error is dropped when the request's own `receive` has seen the client go; any other error, or the
same one without a disconnect, propagates as before.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from dashboard.web.guards import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

#: What `BaseHTTPMiddleware.call_next` raises when nothing below it responded.
NO_RESPONSE = "No response returned."


class ClientGone:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gone = False

        async def watched() -> MutableMapping[str, Any]:
            nonlocal gone
            message = await receive()
            gone = gone or message.get("type") == "http.disconnect"
            return message

        try:
            await self.app(scope, watched, send)
        except RuntimeError as error:
            if not (gone and str(error) == NO_RESPONSE):
                raise
            log.debug("client left before %s was answered", scope.get("path"))
