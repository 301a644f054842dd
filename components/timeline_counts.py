"""The divergence timeline of long windows (24 h, 7 d) as stacked bars: incidents counted in the
database by time bucket, kind and severity (`DivergenceCounts`), one trace per severity, each bar's
hover listing its kinds.

Why counts and not points: a fleet's week is tens of thousands of incidents, and sending every one
to every tab (then holding them in Plotly) costs the server, the socket and the browser in
proportion; the counts are at most 120 buckets whatever the fleet. Short windows (1 h, 6 h) keep
the individual incidents (`components.timeline`), where each point is worth its hover.

The bars are drawn on the timeline's own chart (one `ui.plotly`): switching windows swaps the
figure, never a hidden second chart that would have been laid out at the wrong size.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from nicegui import ui

from components.timeline import COLORS, SEVERITIES
from dashboard.schemas.reconciliation import DivergenceCounts


def counts_figure(counts: DivergenceCounts) -> dict[str, Any]:
    half = timedelta(seconds=counts.bucket_s / 2)
    totals: dict[tuple[str, str], int] = defaultdict(int)  # (bucket start, severity) -> count
    kinds: dict[tuple[str, str], list[str]] = defaultdict(list)
    starts: dict[str, str] = {}
    for c in counts.counts:
        start = c.at.isoformat()
        starts[start] = (c.at + half).isoformat()  # drawn at the bucket's middle
        totals[start, c.severity.value] += c.count
        kinds[start, c.severity.value].append(f"{c.kind.value} {c.count}")
    traces = []
    for severity in SEVERITIES:
        keys = [start for start in starts if (start, severity) in totals]
        traces.append(
            {
                "type": "bar",
                "name": severity,
                "x": [starts[k] for k in keys],
                "y": [totals[k, severity] for k in keys],
                "text": [f"{severity}: " + ", ".join(kinds[k, severity]) for k in keys],
                "hoverinfo": "text+x",
                "textposition": "none",
                "width": counts.bucket_s * 1000 * 0.9,
                "marker": {"color": COLORS[severity]},
            }
        )
    minutes = counts.bucket_s // 60
    bucket = f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"
    return {
        "data": traces,
        "layout": {
            "height": 300,
            "barmode": "stack",
            "margin": {"l": 60, "r": 10, "t": 30, "b": 40},
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            "xaxis": {"type": "date", "range": [counts.since.isoformat(), counts.until.isoformat()]},
            "yaxis": {"title": {"text": f"incidents per {bucket}"}, "rangemode": "tozero"},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
        },
        "config": {"displaylogo": False, "responsive": True},
    }


class DivergenceCountsChart:
    """Draws counts on a chart it shares with the individual incidents' chart."""

    def __init__(self, plot: ui.plotly) -> None:
        self.plot = plot

    def show(self, counts: DivergenceCounts) -> None:
        """The whole (small) figure: a count that grows changes a bar, which no append can do."""
        self.plot.figure = counts_figure(counts)
        self.plot.update()
