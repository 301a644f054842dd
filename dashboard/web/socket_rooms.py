"""socket.io's room bookkeeping, indexed by socket, for one process with many tabs.

python-socketio's manager answers "which rooms is this socket in?" by scanning every room of the
namespace (and copies the room table on each disconnect); every NiceGUI tab has two rooms of its
own, so with N tabs each connect and disconnect costs O(N) and a desk reconnecting at once costs
O(N^2). Measured with `bench/sessions.py --profile` while 500 tabs dropped and reconnected at once,
those scans (`get_rooms`, `basic_disconnect`, bidict look-ups) were about a third of the socket
handling in the storm. The sockets waiting to finish connecting are a list scanned on every connect
too. This manager keeps the same tables (everything else in python-socketio reads them) plus a
reverse index from socket to rooms, and keeps the waiting sockets in insertion-ordered dicts.
"""

from __future__ import annotations

from typing import Any

import socketio


class _Sids(dict[str, None]):
    """The list API python-socketio uses for its waiting sockets, with O(1) look-up and removal."""

    def __init__(self, sids: Any = ()) -> None:
        super().__init__(dict.fromkeys(sids))

    def append(self, sid: str) -> None:
        self[sid] = None

    def remove(self, sid: str) -> None:
        del self[sid]


class _SidsByNamespace(dict[str, _Sids]):
    """python-socketio stores `[]` for a namespace's first waiting socket: store a `_Sids`."""

    def __setitem__(self, namespace: str, sids: Any) -> None:
        super().__setitem__(namespace, sids if isinstance(sids, _Sids) else _Sids(sids))


class IndexedRoomsManager(socketio.AsyncManager):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.pending_connect = _SidsByNamespace()
        self.pending_disconnect = _SidsByNamespace()
        self._rooms_of: dict[tuple[str, str], set[str | None]] = {}

    def basic_enter_room(
        self, sid: str, namespace: str, room: str | None, eio_sid: str | None = None
    ) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: str | None) -> None:
        super().basic_leave_room(sid, namespace, room)
        rooms = self._rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[(namespace, sid)]

    def get_rooms(self, sid: str, namespace: str) -> list[str]:
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        if namespace not in self.rooms:
            return
        for room in list(self._rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]


def install(server: socketio.AsyncServer) -> None:
    """Give `server` the indexed manager; only before its first connection (the manager is then
    still empty and uninitialised). Installing it twice changes nothing."""
    if isinstance(server.manager, IndexedRoomsManager):
        return
    if server.manager_initialized or server.manager.rooms:
        raise RuntimeError("the socket.io server is already in use")
    manager = IndexedRoomsManager()
    manager.set_server(server)
    server.manager = manager
