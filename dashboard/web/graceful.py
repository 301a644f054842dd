"""A graceful stop behind a proxy: SIGTERM drains the process before it exits.

uvicorn on SIGTERM closes every connection at once: a tab whose socket closes reconnects, and
until the proxy's health check has seen the process go, the proxy may send it right back here.
Instead the first SIGTERM runs `drain` (report not-ready, wait for the proxy to
notice, ask every open tab to reconnect, which lands it on another process with its session
cookie), then lets uvicorn shut down with a bounded grace period. A second SIGTERM exits at once;
Ctrl+C (SIGINT, someone at a terminal) stops as uvicorn always did.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

Drain = Callable[[], Coroutine[Any, Any, None]]


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Called from the signal handler: only schedule work on the loop."""
        if self.draining or self._loop is None or sig != signal.SIGTERM:
            super().handle_exit(sig, frame)  # a second signal: stop now
            if self.should_exit and sig == signal.SIGTERM:
                self.force_exit = True
            return
        # Not recorded as captured: uvicorn would raise it again after the shutdown, and a
        # process that drained and stopped as asked exits with 0, not "killed by SIGTERM".
        self.draining = True
        self._loop.call_soon_threadsafe(self._start_draining)

    def _start_draining(self) -> None:
        self._drain_task = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            await self.drain()
        except Exception:  # a failed drain must not keep the process alive
            log.exception("draining failed; stopping now")
        finally:
            self.should_exit = True
