"""Widgets: ipywidgets wiring over the views, for exploring an investigation in a notebook.

:class:`Explorer` picks a node of the cluster hierarchy, a time range and the signals to show;
the timeline, the suspects and the events and logs tables follow. The widgets only wire
controls: what they show is computed by the views and the analysis (through
:class:`ExplorerModel`, which holds no widget and can be used without a browser). Views never
import this package. Given a watch (``Explorer(obskit.watch(...))``) the Explorer is live: it
shows each tick's snapshot, sending the browser only what changed.
"""

from __future__ import annotations

from obskit.widgets.explorer import Explorer, ExplorerModel, Outputs, Selection

__all__ = ["Explorer", "ExplorerModel", "Outputs", "Selection"]
