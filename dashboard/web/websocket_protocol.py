"""Which websocket implementation uvicorn runs the pages' socket on, and why without compression.

Measured with `bench/sessions.py --tabs 500` (one process, 2 s tick, PostgreSQL + Redis, 2 cores),
same code, only the implementation changed (one run each, simulated tabs not offering compression):

| implementation | server cores | push p95 ms | storm p99 ms | CPU per reconnect |
|---|---:|---:|---:|---:|
| wsproto (NiceGUI's choice) | 0.30 | 13 | 1042 | 1.64 ms |
| websockets-sansio | 0.33 | 115 | 857 | 1.30 ms |
| websockets (legacy protocol) | 0.25 | 7 | 606 | 0.94 ms |

Repeated runs of the final code (legacy protocol) spread widely with what the simulator happens to
change: 0.24-0.31 cores, push p95 7-19 ms, storm p99 760-1140 ms; the push-latency gap to the
sans-I/O protocol is the one difference far outside that spread.

uvicorn marks its legacy `websockets` protocol deprecated and says the name `websockets` will
later mean the sans-I/O one, which pushes far slower here. So the class is named directly (not the
string): if uvicorn drops it, the import fails at start-up and in the tests instead of the server
quietly switching to a slower implementation.

Compression (`ws_per_message_deflate=False` where the server starts): every browser offers
permessage-deflate and uvicorn accepts it with zlib's defaults, about 300 KB of compressor state
per socket. With the simulated tabs offering it as a browser does, 500 tabs cost 0.76 MB per tab and
2.1 ms of CPU per reconnect; with the small window websockets recommends for servers (4 KiB,
memLevel 5) 0.63 MB and 1.6 ms; without compression 0.58 MB and 1.3-1.7 ms. What the socket carries
is small (updates of 4-8 KB as JSON, about 0.25 KB/s per tab at a 2 s tick; pages themselves come
gzipped over HTTP), so the memory and CPU buy nothing worth having.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # uvicorn's deprecation notice, printed at every start otherwise
    from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

__all__ = ["WebSocketProtocol"]
