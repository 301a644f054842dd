"""A browser tab as the server sees it: the page loaded with the session cookie, then NiceGUI's
socket.io over a websocket, handshake included, answering the page's JavaScript calls as a browser
does; every message it receives is recorded (for counting messages per tick)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

CLIENT_ID = re.compile(r"'client_id': '([0-9a-f-]+)'")


@dataclass
class Received:
    at: float
    event: str
    data: Any

    def stamp(self) -> int | None:
        """The tick stamp a live page puts on the message (None when there is none)."""
        if self.event != "update" or not isinstance(self.data, dict):
            return None
        for element in self.data.values():
            if isinstance(element, dict):
                tick = element.get("props", {}).get("data-tick")
                if tick is not None:
                    return int(tick)
        return None

    def has_prop(self, name: str) -> bool:
        """Some element in this update carries a non-empty prop `name`."""
        return (
            self.event == "update"
            and isinstance(self.data, dict)
            and any(isinstance(e, dict) and e.get("props", {}).get(name) for e in self.data.values())
        )


@dataclass
class SocketTab:
    base: str
    cookies: dict[str, str]
    path: str
    received: list[Received] = field(default_factory=list)
    client_id: str = ""

    async def open(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, cookies=self.cookies, timeout=30) as http:
            page = await http.get(self.path)
        match = CLIENT_ID.search(page.text)
        assert page.status_code == 200 and match is not None, page.status_code
        self.client_id = match.group(1)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._on_any)
        ids = f"client_id={self.client_id}&tab_id={uuid.uuid4()}&document_id={uuid.uuid4()}"
        query = f"{ids}&implicit_handshake=true"
        await self.sio.connect(
            f"{self.base}?{query}",
            socketio_path="/_nicegui_ws/socket.io",
            transports=["websocket"],
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Origin": self.base},
            wait_timeout=10,
        )

    async def _on_any(self, event: str, data: Any = None) -> None:
        self.received.append(Received(time.monotonic(), event, data))
        if event == "run_javascript" and isinstance(data, dict) and data.get("request_id"):
            # As a browser answers the page's questions (its time zone, first of all).
            await self.sio.emit("javascript_response", {"request_id": data["request_id"], "result": "UTC"})

    def since(self, moment: float) -> list[Received]:
        return [r for r in self.received if r.at >= moment]

    async def close(self) -> None:
        await self.sio.disconnect()
