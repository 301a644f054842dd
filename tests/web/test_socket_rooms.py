"""The indexed manager keeps python-socketio's tables exactly as its own manager does."""

from __future__ import annotations

import random
from typing import Any

import pytest
import socketio

from dashboard.web.socket_rooms import IndexedRoomsManager, install

NS = "/"


def tables(manager: socketio.AsyncManager, rename: dict[str, str]) -> dict[str, Any]:
    """The manager's tables with its random socket ids renamed (`rename`), to compare two managers."""

    def name(sid: Any) -> Any:
        return rename.get(sid, sid)

    return {
        "rooms": {
            ns: {
                name(room): {name(sid): eio for sid, eio in members.items()}
                for room, members in rooms.items()
            }
            for ns, rooms in manager.rooms.items()
        },
        "pending_connect": {ns: [name(s) for s in sids] for ns, sids in manager.pending_connect.items()},
        "pending_disconnect": {
            ns: [name(s) for s in sids] for ns, sids in manager.pending_disconnect.items()
        },
    }


async def test_same_tables_and_answers_as_socketios_manager_over_random_traffic() -> None:
    plain, indexed = socketio.AsyncManager(), IndexedRoomsManager()
    for manager in (plain, indexed):
        socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    rng = random.Random(7)
    sockets: list[tuple[str, str]] = []  # (plain sid, indexed sid) of the same socket
    waiting: set[int] = set()  # positions of sockets not yet fully connected
    leaving: set[str] = set()  # plain sids marked for disconnection (the server marks each once)
    rename: dict[str, str] = {}
    for step in range(1500):
        action = rng.random()
        if action < 0.3 or not sockets:
            eio = f"eio{step}"
            pair = (await plain.pre_connect(eio, NS), await indexed.pre_connect(eio, NS))
            rename[pair[1]] = pair[0]
            sockets.append(pair)
            waiting.add(len(sockets) - 1)
            continue
        i = rng.randrange(len(sockets))
        p, x = sockets[i]
        room = f"client{rng.randrange(20)}"
        if action < 0.45 and i in waiting:
            waiting.discard(i)
            assert await plain.connect(p, NS) == p and await indexed.connect(x, NS) == x
        elif action < 0.65:
            await plain.enter_room(p, NS, room)
            await indexed.enter_room(x, NS, room)
        elif action < 0.75:
            await plain.leave_room(p, NS, room)
            await indexed.leave_room(x, NS, room)
        elif action < 0.8 and p not in leaving:
            leaving.add(p)
            assert plain.pre_disconnect(p, NS) == indexed.pre_disconnect(x, NS)
        elif action >= 0.8:
            await plain.disconnect(p, NS)
            await indexed.disconnect(x, NS)
            sockets.pop(i)
            waiting = {j - (j > i) for j in waiting if j != i}
        assert sorted(plain.get_rooms(p, NS)) == sorted(rename.get(r, r) for r in indexed.get_rooms(x, NS))
        assert plain.is_connected(p, NS) == indexed.is_connected(x, NS)
        if step % 50 == 0:
            assert tables(indexed, rename) == tables(plain, {})
    assert tables(indexed, rename) == tables(plain, {})
    assert len(sockets) > 50  # the traffic left a crowd behind


def test_install_replaces_the_manager_of_an_unused_server_only() -> None:
    server = socketio.AsyncServer(async_mode="asgi")
    install(server)
    assert isinstance(server.manager, IndexedRoomsManager) and server.manager.server is server
    manager = server.manager
    install(server)
    assert server.manager is manager  # twice changes nothing
    used = socketio.AsyncServer(async_mode="asgi")
    used.manager.basic_enter_room("sid", NS, None, eio_sid="eio")
    with pytest.raises(RuntimeError):
        install(used)
