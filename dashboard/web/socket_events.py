"""A page's events are taken only from the sockets of that page.

NiceGUI routes a socket's `event` message (a click, a value change) to the client named in the
message itself, whichever socket sent it. A tab's client id is random and only in its own HTML,
but a socket that learned another tab's id (a shared screenshot of the devtools, a leaked log)
could then click that tab's buttons as its user: a trader acting with a risk officer's page. Here
an event is handled only when the socket that sent it completed the handshake of the client it
names. The services check every action's role again behind this; this closes the door in front.
"""

from __future__ import annotations

import logging
from typing import Any

from nicegui.client import Client

log = logging.getLogger(__name__)


def owns(client: Any, sid: str) -> bool:
    """The socket `sid` made this client's handshake (NiceGUI keeps them per client)."""
    return sid in getattr(client, "_socket_to_document_id", {})


def on_event(sid: str, msg: Any) -> None:
    """NiceGUI's own `event` handler, plus the check that the socket belongs to the client."""
    if not isinstance(msg, dict):
        return
    client = Client.instances.get(msg.get("client_id", ""))
    if client is None or not client.has_socket_connection:
        return
    if not owns(client, sid):
        log.warning("socket event refused: the socket is not one of the page it names")
        return
    client.handle_event(msg)


def install(sio: Any) -> None:
    """Replace NiceGUI's `event` handler on its socket.io server (once, at configuration)."""
    sio.on("event", on_event)
