"""Views: plotly figures and tables built from an Investigation's frames.

Compute, then render: each view first builds plain frames (``hierarchy_frame``, the tables),
then turns them into a ``plotly.graph_objects.Figure``. Views never import ipywidgets, and the
analysis never sees what they downsample for display. All text from the data is escaped before
it reaches a figure (:mod:`obskit.views._safe`).
"""

from __future__ import annotations

from obskit.views.hierarchies import COLOR_BY, MEASURES, STYLES, VIEWS, hierarchy, hierarchy_frame
from obskit.views.lenses import LENSES, Lens, headline, lens
from obskit.views.tables import (
    events_table,
    latency_table,
    log_patterns_table,
    logs_table,
    readable,
    rejects_table,
    rollouts_table,
)
from obskit.views.timelines import DISPLAY_POINTS, MAX_LINES, timeline

__all__ = [
    "COLOR_BY",
    "DISPLAY_POINTS",
    "LENSES",
    "MAX_LINES",
    "MEASURES",
    "STYLES",
    "VIEWS",
    "Lens",
    "events_table",
    "headline",
    "hierarchy",
    "hierarchy_frame",
    "latency_table",
    "lens",
    "log_patterns_table",
    "logs_table",
    "readable",
    "rejects_table",
    "rollouts_table",
    "timeline",
]
