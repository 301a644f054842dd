"""Appending points to a `ui.plotly` chart inside an element update.

`ui.plotly.run_plot_method("extendTraces", ...)` sends only the new points, but as a message of its
own, so a tick that appends to a chart and changes a label reached the tab as two messages. A feed
is a tiny hidden element whose `batch` prop carries the new points; its change rides the tick's
one `update` message and the browser side (`plot_feed.js`) calls `Plotly.extendTraces` on the chart.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.element import Element


class PlotFeed(Element, component="plot_feed.js"):
    def __init__(self, plot: ui.plotly, *, max_points: int) -> None:
        super().__init__()
        self._props["target"] = plot.id
        self._props["max_points"] = max_points
        self._props["batch"] = None
        self._sequence = 0

    def extend(self, update: dict[str, Any], indices: list[int]) -> None:
        """Append `update` ({"x": [[...] per trace], ...}) to the traces `indices`."""
        self._sequence += 1
        self._props["batch"] = {"seq": self._sequence, "update": update, "indices": indices}
        self.update()

    def reset(self) -> None:
        """The chart was redrawn whole: nothing is pending (and a replay must not append again)."""
        if self._props["batch"] is not None:
            self._props["batch"] = None
            self.update()
