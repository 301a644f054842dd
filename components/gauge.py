"""Gauges (Plotly indicator) with the account's own bands: green below warning, amber up to
critical, red beyond. Redrawn only when the value or the bands change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nicegui import ui

LEVEL_COLORS = {"normal": "#16a34a", "warning": "#d97706", "critical": "#dc2626"}
# The dial's outline and ticks: at least 3:1 against the page in light and in dark mode (Plotly's
# default #444 disappears on a dark card). Texts follow the theme through the frame's CSS.
OUTLINE = "#64748b"


def gauge_figure(
    title: str, value: Decimal, warning: Decimal | None, critical: Decimal | None, level: str
) -> dict[str, Any]:
    """Numbers become floats only here, for drawing; the label shows the exact Decimal."""
    top = float(max(critical or Decimal(10), value) * Decimal("1.4")) or 1.0
    steps = []
    if warning is not None and critical is not None:
        steps = [
            {"range": [0, float(warning)], "color": "#dcfce7"},
            {"range": [float(warning), float(critical)], "color": "#fef3c7"},
            {"range": [float(critical), top], "color": "#fee2e2"},
        ]
    gauge: dict[str, Any] = {
        "axis": {"range": [0, top], "ticksuffix": "%", "tickcolor": OUTLINE},
        "bar": {"color": LEVEL_COLORS.get(level, "#334155"), "thickness": 0.35},
        "bordercolor": OUTLINE,
        "borderwidth": 1,
        "steps": steps,
    }
    if critical is not None:
        gauge["threshold"] = {
            "line": {"color": "#b91c1c", "width": 3},
            "thickness": 0.8,
            "value": float(critical),
        }
    return {
        "data": [
            {
                "type": "indicator",
                "mode": "gauge+number",
                "value": float(value),
                "number": {"suffix": "%", "valueformat": ".2f"},
                "title": {"text": title, "font": {"size": 13}},
                "gauge": gauge,
            }
        ],
        "layout": {
            "height": 170,
            "margin": {"l": 30, "r": 40, "t": 40, "b": 5},
            "paper_bgcolor": "rgba(0,0,0,0)",
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


class Gauge:
    def __init__(self, marker: str) -> None:
        self.plot = (
            ui.plotly(gauge_figure("", Decimal(0), None, None, "normal")).classes("w-full").mark(marker)
        )
        self.state: tuple[Any, ...] | None = None

    def show(
        self, title: str, value: Decimal, warning: Decimal | None, critical: Decimal | None, level: str
    ) -> bool:
        state = (title, value, warning, critical, level)
        if state == self.state:
            return False
        self.state = state
        self.plot.figure = gauge_figure(title, value, warning, critical, level)
        self.plot.update()
        return True
