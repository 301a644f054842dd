"""The pages' socket (NiceGUI's socket.io) served straight from the server, past the front app.

A socket.io request (the websocket, or engine.io's long-polling fallback) needs neither the API's
router nor the pages' middleware stack (NiceGUI's request tracking, cache-control and prefix
layers, GZip, the session guard): none of them does anything for it. Measured with
`bench/sessions.py --profile` while 500 tabs reconnect at once, passing through them was about 40 %
of a reconnect's CPU on the one event loop. The socket keeps the one check it needs: the origin.
"""

from __future__ import annotations

from dashboard.web.guards import ASGIApp, OriginGuard, Receive, Scope, Send

#: Where NiceGUI mounts its socket.io app (`nicegui.nicegui.sio_app`).
SOCKET_PREFIX = "/_nicegui_ws"


class SocketRoute:
    """Send socket requests to `socket_app` (origin-checked), everything else to `app`."""

    def __init__(self, app: ASGIApp, socket_app: ASGIApp) -> None:
        self.app = app
        self.socket = OriginGuard(socket_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(SOCKET_PREFIX + "/"):
            # As the mount would: NiceGUI's socket app strips `root_path` from the path.
            scope = {**scope, "root_path": scope.get("root_path", "") + SOCKET_PREFIX}
            await self.socket(scope, receive, send)
            return
        await self.app(scope, receive, send)
