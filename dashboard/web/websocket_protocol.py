"""Which websocket implementation uvicorn runs the pages' socket on, and why.

Measured with `bench/sessions.py --tabs 500` (one process, 2 s tick, PostgreSQL + Redis, 2 cores),
same code, only the implementation changed:

| implementation | server cores | push p95 ms | storm p99 ms | CPU per reconnect |
|---|---:|---:|---:|---:|
| wsproto (NiceGUI's choice) | 0.30 | 13 | 1042 | 1.64 ms |
| websockets-sansio | 0.33 | 115 | 857 | 1.30 ms |
| websockets (legacy protocol) | 0.25 | 7 | 606 | 0.94 ms |

uvicorn marks its legacy `websockets` protocol deprecated and says the name `websockets` will
later mean the sans-I/O one, which pushes far slower here. So the class is named directly (not the
string): if uvicorn drops it, the import fails at start-up and in the tests instead of the server
quietly switching to a slower implementation.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # uvicorn's deprecation notice, printed at every start otherwise
    from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

__all__ = ["WebSocketProtocol"]
