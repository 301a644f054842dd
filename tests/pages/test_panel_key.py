"""What a panel compares between ticks: its cached reads' content, never the read objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from components.live import LivePanel
from dashboard.cache.queries import Cached
from dashboard.schemas.reconciliation import DivergenceTimeline
from tests.cache.test_content import T0, timeline


class Panel(LivePanel[Any]):
    name = "probe"

    async def fetch(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Pair:
    read: Cached[DivergenceTimeline]
    window: str


def test_a_single_read_is_compared_by_its_content() -> None:
    panel = Panel(live=None)  # type: ignore[arg-type]
    first, reloaded = timeline(T0), timeline(T0 + timedelta(seconds=5))
    assert panel.key(first) == (first.content,)
    assert panel.key(first) == panel.key(reloaded)
    assert panel.as_of(reloaded) == T0 + timedelta(seconds=5)


def test_reads_in_a_dataclass_are_compared_by_content_beside_the_panels_parameters() -> None:
    panel = Panel(live=None)  # type: ignore[arg-type]
    first = Pair(timeline(T0), "1h")
    assert panel.key(first) == panel.key(Pair(timeline(T0 + timedelta(seconds=5)), "1h"))
    assert panel.key(first) != panel.key(Pair(timeline(T0), "24h"))
    assert panel.key(first) != panel.key(Pair(timeline(T0, truncated=True), "1h"))
    assert panel.as_of(Pair(timeline(T0), "1h")) == T0
