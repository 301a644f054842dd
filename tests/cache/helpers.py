"""A counting loader: stands in for a query service so the tests can count database loads."""

from __future__ import annotations

import asyncio

from dashboard.schemas.common import ReadModel


class Box(ReadModel):
    n: int
    note: str = ""


class CountingLoader:
    """Each call is one "database load"; `value` is what the database currently holds."""

    def __init__(self, value: int = 1, delay_s: float = 0.0) -> None:
        self.value = value
        self.delay_s = delay_s
        self.calls = 0
        self.finished = 0
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> Box:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        self.finished += 1
        return Box(n=self.value)
