"""Divergence timeline (Plotly): incidents by kind (y) over time (x), one trace per severity.

New incidents are appended through a `PlotFeed` (only the new points go over the socket, inside
the tick's one update); the whole figure is redrawn only when the window changes or every
`REDRAW_EVERY` appends, which also drops points that slid out of the window, so neither the browser
nor the server grows without bound.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components.plot_feed import PlotFeed
from dashboard.schemas.reconciliation import DivergenceIncidentView

SEVERITIES = ("info", "warning", "critical")
# At least 3:1 against a white and a dark card (amber-500 had 2:1 on white).
COLORS = {"info": "#64748b", "warning": "#d97706", "critical": "#dc2626"}
MAX_POINTS = 5000
REDRAW_EVERY = 60


def _point(incident: DivergenceIncidentView) -> tuple[str, str, str]:
    text = (
        f"#{incident.id} {incident.kind.value} {incident.symbol} acc {incident.account_id}<br>"
        f"local {incident.local_value or '–'} / broker {incident.broker_value or '–'}<br>"
        f"{incident.resolution.value}"
    )
    return incident.first_seen_at.isoformat(), incident.kind.value, text


def figure(incidents: list[DivergenceIncidentView]) -> dict[str, Any]:
    traces = []
    for severity in SEVERITIES:
        points = [_point(i) for i in incidents if i.severity.value == severity]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": severity,
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "text": [p[2] for p in points],
                "hoverinfo": "text+x",
                "marker": {"color": COLORS[severity], "size": 9, "opacity": 0.85},
            }
        )
    return {
        "data": traces,
        "layout": {
            "height": 300,
            "margin": {"l": 140, "r": 10, "t": 30, "b": 40},
            # Above the plot: below it, it ran into the (rotated) date labels on a phone.
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            "xaxis": {"type": "date"},
            "yaxis": {"type": "category", "automargin": True},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
        },
        "config": {"displaylogo": False, "responsive": True},
    }


class DivergenceTimelineChart:
    def __init__(self) -> None:
        self.plot = ui.plotly(figure([])).classes("w-full").mark("timeline")
        self.feed = PlotFeed(self.plot, max_points=MAX_POINTS)
        self.seen: set[int] = set()
        self.appends = 0
        self.drawn = False

    def forget(self) -> None:
        """Something else was drawn on the chart (the counts): the next show redraws it whole."""
        self.feed.reset()
        self.seen, self.drawn = set(), False

    def show(self, incidents: list[DivergenceIncidentView], *, redraw: bool = False) -> int:
        """Draw or append; returns how many points went out."""
        if redraw or not self.drawn or self.appends >= REDRAW_EVERY:
            self.plot.figure = figure(incidents)
            self.plot.update()
            self.feed.reset()
            self.seen = {i.id for i in incidents}
            self.appends, self.drawn = 0, True
            return len(incidents)
        new = [i for i in incidents if i.id not in self.seen]
        if not new:
            return 0
        update: dict[str, list[list[str]]] = {"x": [], "y": [], "text": []}
        for severity in SEVERITIES:
            points = [_point(i) for i in new if i.severity.value == severity]
            update["x"].append([p[0] for p in points])
            update["y"].append([p[1] for p in points])
            update["text"].append([p[2] for p in points])
        self.feed.extend(update, list(range(len(SEVERITIES))))
        self.seen.update(i.id for i in new)
        self.appends += 1
        return len(new)
