"""Views: plotly figures and tables built from an Investigation's frames.

Compute, then render: each view first builds plain frames (``hierarchy_frame``, the tables),
then turns them into a ``plotly.graph_objects.Figure``. Views never import ipywidgets, and the
analysis never sees what they downsample for display. All text from the data is escaped before
it reaches a figure (:mod:`obskit.views._safe`).
"""

from __future__ import annotations

from obskit.views.hierarchy import COLOR_BY, MEASURES, STYLES, VIEWS, hierarchy, hierarchy_frame
from obskit.views.tables import events_table, logs_table, rejects_table
from obskit.views.timeline import DISPLAY_POINTS, MAX_LINES, timeline

__all__ = [
    "COLOR_BY",
    "DISPLAY_POINTS",
    "MAX_LINES",
    "MEASURES",
    "STYLES",
    "VIEWS",
    "events_table",
    "hierarchy",
    "hierarchy_frame",
    "logs_table",
    "rejects_table",
    "timeline",
]
