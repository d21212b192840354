"""The Explorer: drill into an investigation's hierarchy; timeline, suspects and tables follow.

Two layers, as in plotly-resampler's ``figurewidget_resampler``:

:class:`ExplorerModel`
    UI-free: the hierarchy trees, the time ticks, and :meth:`ExplorerModel.outputs`, which
    turns a :class:`Selection` (view, node, time range, signals) into :class:`Outputs` (the
    timeline figure and the tables) by calling the views and the analysis. No widget in it.
:class:`Explorer`
    The ipywidgets: cascaded dropdowns over the tree and a clickable map of it (a treemap), a
    time-range slider, a metric picker and toggles. A control change or a click on the map
    becomes a :class:`Selection`, the model computes, and the result is applied to a
    ``plotly.graph_objects.FigureWidget`` inside ``batch_update()`` and to the HTML tables.

Text from the data (log lines, labels, audit fields) is attacker-controlled: every value is
escaped before it becomes HTML, and dropdown labels are set as text, never as markup. The tables
are redacted for display (:func:`obskit.redaction.redact_for_sharing`: on unless switched off with
``obskit.set_redaction(False)``); :attr:`Explorer.outputs` keeps the frames as they are.
"""

from __future__ import annotations

import contextlib
import difflib
import html
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import ipywidgets as widgets
import jinja2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.callbacks import Points

from obskit import schema
from obskit._chars import reveal
from obskit._time import as_utc
from obskit.analysis.rca import conclusion
from obskit.errors import InvestigationError, ObskitError
from obskit.redaction import redact_for_sharing
from obskit.views import VIEWS
from obskit.views.hierarchies import COLOR_BY
from obskit.views.hierarchies import figure as hierarchy_figure
from obskit.views.lenses import TABLES, Lens, headline
from obskit.views.lenses import lens as lens_named
from obskit.views.tables import latency_table, log_patterns_table, rollouts_table
from obskit.views.timelines import SEVERITY_COLORS
from obskit.widgets._delta import json_bytes, relayout_delta, restyle_delta, whole

if TYPE_CHECKING:
    from obskit.investigation import Investigation

log = logging.getLogger("obskit.widgets")

__all__ = ["DEFAULT_TABLES", "TABLES", "Explorer", "ExplorerModel", "Outputs", "Selection"]

_TITLES = {
    "suspects": "suspects",
    "events": "events",
    "logs": "log lines",
    "patterns": "log patterns",
    "latency": "latency",
    "detections": "detections",
    "posture": "posture",
    "coverage": "coverage gaps",
    "rollouts": "rollouts",
}
#: The tables an Explorer without a lens computes at first (the others are a checkbox away).
DEFAULT_TABLES: tuple[str, ...] = ("suspects", "events", "logs")
#: How long a live Explorer keeps the suspects and anomaly windows of an earlier snapshot: the
#: whole cluster's suspects take seconds at thousands of pods (9,000 series: ~8 s), the map and
#: the timeline under one, so the map follows every tick and the analysis every minute.
ANALYSIS_EVERY = pd.Timedelta(minutes=1)
#: Positions of the time-range slider: about this many over the investigation's span.
_TICKS = 120
_NICE_STEPS = [
    pd.Timedelta(s)
    for s in (
        "1s",
        "5s",
        "10s",
        "30s",
        "1min",
        "2min",
        "5min",
        "10min",
        "15min",
        "30min",
        "1h",
        "2h",
        "6h",
        "12h",
        "1D",
        "7D",
    )
]
#: The private traits of plotly's FigureWidget the Explorer listens on, named here only: the
#: browser events plotly offers no public hook for. ``_view_count`` (ipywidgets counts the
#: views shown in the page once plotly sets it to 0) goes up when the browser shows a view;
#: ``_js2py_relayout`` holds a relayout made in the browser (a zoom) as plotly.js sent it.
#: plotly's public ``layout.on_change`` is no match for a zoom: it fires for relayouts made in
#: Python too (the Explorer's own redraws and resizes), hands over the values after plotly's
#: validators, and would be attached anew to each x axis of each timeline drawn. A map click
#: uses the public trace ``on_click``. tests/widgets/test_explorer.py fails when plotly
#: changes these traits or the messages read from them.
_PLOTLY_VIEW_COUNT = "_view_count"
_PLOTLY_BROWSER_RELAYOUT = "_js2py_relayout"
#: Longest text shown in a table cell (the whole value is in the cell's tooltip, up to _TIP).
_CELL_CHARS = 400
_TIP_CHARS = 4000
_SEVERITY_COLUMNS = frozenset({"severity", "level"})
_TABLE_CSS = """<style>
.obskit-table-box {max-height: 360px; overflow: auto; border: 1px solid #e5e7eb;}
.obskit-table {border-collapse: collapse; font-size: 12px; width: 100%;}
.obskit-table th {position: sticky; top: 0; background: #f3f4f6; text-align: left;
  padding: 3px 6px; border-bottom: 1px solid #d1d5db; white-space: nowrap;}
.obskit-table td {padding: 2px 6px; border-bottom: 1px solid #f0f1f3; vertical-align: top;
  white-space: nowrap;}
.obskit-table td.obskit-text {font-family: var(--jp-code-font-family, monospace);
  white-space: pre-wrap; word-break: break-word; min-width: 20em;}
.obskit-table td.obskit-time {white-space: nowrap; font-variant-numeric: tabular-nums;}
.obskit-note {color: #4b5563; font-size: 12px; margin: 4px 0;}
</style>"""
_WIDE_TEXT = frozenset({"message", "reason", "evidence", "pattern", "example", "found", "fix"})
#: What the analysis tables say above them, and the columns they show (all when not named).
_ANALYSIS_NOTES = {
    "patterns": "most severe first, then most frequent; counts before an example of each",
    "detections": "security detections on this node's key, in time order",
    "posture": "posture findings on this node's key (a namespace's own are at the namespace)",
    "coverage": "collectors not running on the nodes this node's pods ran on, while pods ran",
    "rollouts": "the ReplicaSets of its workloads and their images, newest first",
    "latency": "its workloads' latency in the time range against before it, biggest change first",
}
_ANALYSIS_COLUMNS = {
    "detections": [
        *("timestamp", "severity", "rule", "reason", "technique", "namespace", "pod"),
        *("user", "source_ip", "count", "escalation"),
    ],
    "posture": [
        *("severity", "control", "title", "object_kind", "object_name", "container"),
        *("found", "fix", "standard"),
    ],
    "coverage": ["node", "name", "collector", "start", "end", "duration", "reason"],
}
#: Levels the map draws from the selected node down: a cluster of thousands of pods shows its
#: namespaces and their workloads, not every pod at once (a click goes deeper).
_MAP_DEPTH = 3
_MAP_HEIGHT = 360
#: Seconds a live Explorer waits for a tick before it looks whether its watch has stopped.
_LIVE_CHECK = 5.0


# --- UI-free: what is selected, what it shows --------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What the Explorer shows: a node of one hierarchy view, a time range and the signals.

    Parameters
    ----------
    view : {"workload", "node", "service"}
        The hierarchy (see :data:`obskit.views.VIEWS`).
    node : str, optional
        The ``id`` of a node of that hierarchy (:meth:`ExplorerModel.tree`); ``None`` is the root.
    start, end : Timestamp, optional
        The time range (default: the whole investigation).
    metrics : tuple of str
        Metric rows of the timeline; empty for the timeline's defaults for the node.
    anomalies : bool
        Shade the anomaly windows of the analysis on the timeline.
    tables : tuple of str
        Which of :data:`TABLES` to compute.
    min_level : str, optional
        Keep events and log lines at or above this severity (one of ``obskit.SEVERITIES``).

    Examples
    --------
    >>> Selection(view="node").tables
    ('suspects', 'events', 'logs')
    """

    view: str = "workload"
    node: str | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    metrics: tuple[str, ...] = ()
    anomalies: bool = True
    tables: tuple[str, ...] = DEFAULT_TABLES
    min_level: str | None = None


@dataclass
class Outputs:
    """What one :class:`Selection` shows: the timeline figure and the tables.

    Attributes
    ----------
    selection : Selection
        The selection these outputs are for (its ``node`` resolved to an id).
    focus : dict
        The node's key columns, as given to the views.
    path : list of str
        Labels from the root of the tree down to the node.
    figure : plotly.graph_objects.Figure
        The correlated timeline (:func:`obskit.views.timeline`).
    suspects, events, logs : DataFrame or None
        The suspects of the incident that involve the node (:meth:`ExplorerModel.suspects_for`),
        and its events and log lines in the time range; ``None`` when not selected.
    patterns, detections, posture, coverage, rollouts : DataFrame or None
        Its log lines by pattern (:func:`obskit.views.log_patterns_table`), the security
        detections and posture findings on its key, the collector gaps of the nodes its pods
        ran on, and the rollouts of its workloads; ``None`` when not selected.
    latency : DataFrame or None
        Its workloads' latency in the time range against before it
        (:func:`obskit.views.latency_table`); ``None`` when not selected.
    """

    selection: Selection
    focus: dict
    path: list[str]
    figure: go.Figure
    suspects: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    logs: pd.DataFrame | None = None
    patterns: pd.DataFrame | None = None
    detections: pd.DataFrame | None = None
    posture: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    rollouts: pd.DataFrame | None = None
    latency: pd.DataFrame | None = None


class LiveSource(Protocol):
    """What a live Explorer follows: an :class:`obskit.live.Watch`, or anything that answers
    as one does."""

    keep: pd.Timedelta
    ticks: int
    as_of: pd.Timestamp | None

    def investigation(self) -> Investigation: ...

    def status(self) -> pd.DataFrame: ...

    def on_tick(self, callback: Callable[[LiveSource], None]) -> Callable[[], None]: ...


def _is_live(source: object) -> bool:
    return all(callable(getattr(source, name, None)) for name in ("investigation", "on_tick"))


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


class ExplorerModel:
    """The Explorer without widgets: trees, time ticks, and the outputs of a selection.

    Everything it shows comes from the views and the analysis of ``inv``; it only selects. The
    anomalies and suspects are computed once, on first use, for the whole investigation.

    Parameters
    ----------
    inv : Investigation
        The investigation to explore.
    top : int
        How many suspects the analysis ranks (default 10).
    limit : int
        At most this many rows in the events and logs tables (default 200).
    lens : {"security", "dev", "ops", "all"}, optional
        The team's lens (:mod:`obskit.views.lenses`): the map's colour and the headline. A lens
        other than ``all`` also counts the posture findings on the map. Never a filter.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
    >>> model = ExplorerModel(inv)  # doctest: +SKIP
    >>> focus = {"namespace": "shop", "workload": "checkout"}
    >>> node = model.find("workload", focus)  # doctest: +SKIP
    >>> out = model.outputs(Selection(node=node))  # doctest: +SKIP
    >>> out.figure.layout.title.text  # doctest: +SKIP
    'Timeline: cluster=prod-eu-1, namespace=shop, workload_kind=Deployment, workload=checkout ...'
    """

    def __init__(
        self,
        inv: Investigation,
        *,
        top: int = 10,
        limit: int = 200,
        lens: str | Lens | None = None,
    ) -> None:
        self.lens = lens_named(lens)
        for name, value in (("top", top), ("limit", limit)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvestigationError(f"{name} must be a positive integer, got {value!r}")
        self.inv = inv
        self.top = top
        self.limit = limit
        #: Of a snapshot of a watch (:meth:`from_watch`): when it was taken, the ticks the
        #: watch had completed and its :meth:`~obskit.live.Watch.status` then; else ``None``.
        self.as_of: pd.Timestamp | None = None
        self.tick: int | None = None
        self.status: pd.DataFrame | None = None
        #: Of a snapshot: the snapshot time the suspects and anomaly windows are of (a live
        #: Explorer carries them from one snapshot to the next for ANALYSIS_EVERY).
        self.analysed_at: pd.Timestamp | None = None
        self._trees: dict[str, pd.DataFrame] = {}
        self._anomalies: pd.DataFrame | None = None
        self._suspects: pd.DataFrame | None = None
        self._detections: pd.DataFrame | None = None
        self._posture: pd.DataFrame | None = None
        self._gaps: pd.DataFrame | None = None

    @classmethod
    def from_watch(
        cls,
        watch: LiveSource,
        *,
        top: int = 10,
        limit: int = 200,
        previous: ExplorerModel | None = None,
        lens: str | Lens | None = None,
    ) -> ExplorerModel:
        """The model of a watch's snapshot now (:meth:`obskit.live.Watch.investigation`).

        A deleted object keeps its row, hence its box on the map (marked deleted), for the
        watch's ``keep``; objects deleted longer ago are left out, as the signals are. The
        suspects and anomaly windows of ``previous`` (the model shown), and its detections,
        posture findings and collector gaps, are kept while they are younger than
        :data:`ANALYSIS_EVERY`: on a large cluster they cost seconds, the map and the timeline
        a fraction of one.

        Examples
        --------
        >>> import obskit
        >>> w = obskit.watch(kubernetes=obskit.Kubernetes())  # doctest: +SKIP
        >>> ExplorerModel.from_watch(w).as_of  # doctest: +SKIP
        Timestamp('2026-12-04 23:41:07.120954+0000', tz='UTC')
        """
        status = watch.status()
        inv = watch.investigation()
        as_of = inv.end if inv.end is not None else watch.as_of
        deleted = inv.inventory["deleted"]
        if as_of is not None and len(deleted):
            inv.inventory = inv.inventory.loc[
                ~(deleted < as_of - pd.Timedelta(watch.keep)).to_numpy(dtype=bool)
            ].reset_index(drop=True)
        model = cls(inv, top=top, limit=limit, lens=lens)
        model.as_of, model.tick, model.status = as_of, watch.ticks, status
        model.analysed_at = as_of
        fresh = (
            previous is not None
            and previous.analysed_at is not None
            and as_of is not None
            and as_of - previous.analysed_at < ANALYSIS_EVERY
        )
        if fresh:
            assert previous is not None
            model._anomalies, model._suspects = previous._anomalies, previous._suspects
            # so do a lens's detections, posture findings and collector gaps (posture: 0.4 s
            # at 3,000 pods)
            model._detections, model._posture = previous._detections, previous._posture
            model._gaps = previous._gaps
            model.analysed_at = previous.analysed_at
        return model

    def problems(self) -> pd.DataFrame:
        """The watch's streams that are not working (retrying, forbidden, failed), from the
        status of the snapshot; empty for an investigation that is not a watch's.

        Examples
        --------
        >>> import obskit
        >>> ExplorerModel(obskit.Investigation()).problems().empty
        True
        """
        if self.status is None or self.status.empty:
            return pd.DataFrame(columns=["source", "what", "state", "errors", "last_error"])
        quiet = self.status["state"].isin(["ok", "starting", "stopped"])
        return self.status.loc[~quiet].reset_index(drop=True)

    def nearest(self, view: str, node: str) -> str:
        """``node`` when the tree of ``view`` holds it, else its nearest ancestor that it
        holds (a pod deleted longer ago than the watch keeps: its workload), else the root.

        Examples
        --------
        >>> import obskit
        >>> ExplorerModel(obskit.Investigation(cluster="prod")).nearest("workload", "prod/x/y")
        'prod'
        """
        tree = self.tree(view)
        while node and node not in tree.index:
            node = node.rpartition("/")[0]
        return node or self.root(view)

    # the tree

    def tree(self, view: str) -> pd.DataFrame:
        """The hierarchy frame of ``view`` (:func:`obskit.views.hierarchy_frame`), cached."""
        if view not in self._trees:
            posture = self.posture() if self.lens.name != "all" else None
            frame = self.inv.hierarchy_frame(view, posture=posture)
            self._trees[view] = frame.set_index("id", drop=False)
        return self._trees[view]

    def root(self, view: str) -> str:
        """The id of the root of ``view``'s tree (the cluster, or ``all clusters``)."""
        tree = self.tree(view)
        return str(tree.loc[tree["parent"] == "", "id"].iloc[0])

    def levels(self, view: str) -> tuple[str, ...]:
        """The names of the levels under the root: ``VIEWS[view]``, after ``cluster`` when the
        investigation holds several clusters.

        Examples
        --------
        >>> import obskit
        >>> ExplorerModel(obskit.Investigation(cluster="prod")).levels("node")
        ('node', 'pod', 'container')
        """
        tree = self.tree(view)
        several = tree.at[self.root(view), "kind"] != "Cluster"
        return ("cluster", *VIEWS[view]) if several else VIEWS[view]

    def children(self, view: str, node: str) -> list[tuple[str, str]]:
        """``(label, id)`` of the children of ``node``, in the tree's order.

        A label is the child's name, its kind where the level does not say it (a Deployment or
        a CronJob at the workload level), then the subtree's warning events, error log lines
        and security alerts when it has any, so the noisy branches stand out in a dropdown.
        """
        tree = self.tree(view)
        levels = self.levels(view)
        kids = tree.loc[tree["parent"] == node]
        out = []
        for row in kids.itertuples(index=False):
            level = levels[min(int(row.depth), len(levels)) - 1]
            kind = str(row.kind)
            name = reveal(str(row.label))  # a name a direction override disguises shows it
            label = name if kind.lower() == level else f"{name} ({kind})"
            counts = (
                (row.warning_events, "warning"),
                (row.error_logs, "error"),
                (row.alerts, "alert"),
            )
            hints = [f"{n:,} {word}{'' if n == 1 else 's'}" for n, word in counts if n]
            out.append((label + (f" · {', '.join(hints)}" if hints else ""), str(row.id)))
        return out

    def focus_of(self, view: str, node: str) -> dict:
        """The key columns of a node, as the views take them; ``{}`` (everything) for the root.

        Examples
        --------
        >>> import obskit
        >>> model = ExplorerModel(obskit.Investigation(cluster="prod"))
        >>> model.focus_of("workload", "prod")
        {}
        """
        if node == self.root(view):
            return {}
        return dict(self.tree(view).at[node, "focus"])

    def lineage(self, view: str, node: str) -> list[str]:
        """Ids from the root's child down to ``node`` (empty for the root)."""
        tree = self.tree(view)
        if node not in tree.index:
            raise InvestigationError(f"no node {node!r} in the {view!r} hierarchy")
        out = []
        while tree.at[node, "parent"]:
            out.append(node)
            node = str(tree.at[node, "parent"])
        return out[::-1]

    def find(self, view: str, focus: Mapping | pd.Series | None) -> str:
        """The node of ``view`` that a focus points at: the deepest whose key it matches.

        ``focus`` maps key columns to values; missing values are ignored, so a suspects row
        (``inv.suspects().iloc[0]``) can be given as it is. A pod named with its node in the
        workload view is found as the pod.

        Raises
        ------
        InvestigationError
            When a value of the focus matches no node of the view (with the closest names).

        Examples
        --------
        >>> import obskit
        >>> model = ExplorerModel(obskit.datasets.load("checkout-oom"))  # doctest: +SKIP
        >>> model.find("workload", {"namespace": "shop"})  # doctest: +SKIP
        'prod-eu-1/shop'
        """
        wanted = _wanted(focus)
        tree = self.tree(view)
        best, best_depth = self.root(view), -1
        for row in tree.itertuples(index=False):
            agrees = all(_agrees(wanted.get(k), k, v) for k, v in row.focus.items())
            if agrees and row.depth > best_depth:
                best, best_depth = str(row.id), int(row.depth)
        covered = set(tree.at[best, "focus"])
        for node in self.lineage(view, best):
            covered |= set(tree.at[node, "focus"])
        levels = set(VIEWS[view]) & set(schema.KEY)
        missing = [k for k in wanted if k in levels and k not in covered]
        if missing:
            column, value = missing[0], wanted[missing[0]]
            known = sorted({str(v) for v in tree[column].dropna()})
            close = difflib.get_close_matches(value, known, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            if value in known:
                hint = f"; name the levels above it too ({', '.join(VIEWS[view])})"
            raise InvestigationError(
                f"no node of the {view!r} hierarchy has {column}={value!r}{hint}"
            )
        return best

    # the map

    def map_figure(
        self, view: str, node: str | None = None, color_by: str | None = None
    ) -> go.Figure:
        """The map of ``view``'s tree zoomed to ``node``: a treemap coloured by ``color_by``
        (default: the lens's, ``health`` without one).

        It is the hierarchy view's figure (:func:`obskit.views.hierarchies.figure`, every label
        and hover text escaped) of :meth:`tree`, drawn ``_MAP_DEPTH`` levels deep from the node
        (the root by default) with the node's ancestors as the path bar; the colours and sizes
        are those of the whole tree. No title (the status line names the selection).

        Returns
        -------
        plotly.graph_objects.Figure
            One treemap trace with ``level`` the node; its ``ids`` are the ids drawn, in the
            tree's order, and the point index of a click on the map is a position in them.

        Examples
        --------
        >>> import obskit
        >>> model = ExplorerModel(obskit.Investigation(cluster="prod"))
        >>> model.map_figure("workload").data[0].ids
        ('prod',)
        """
        node = node or self.root(view)
        color_by = color_by or self.lens.color_by
        if color_by not in COLOR_BY:
            raise InvestigationError(
                f"color_by must be one of {', '.join(map(repr, COLOR_BY))}, got {color_by!r}"
            )
        tree = self.tree(view)
        if color_by in ("findings", "worst_finding") and not tree.attrs.get("posture"):
            self._trees[view] = self.inv.hierarchy_frame(view, posture=self.posture()).set_index(
                "id", drop=False
            )
            tree = self._trees[view]
        fig = hierarchy_figure(
            tree, style="treemap", color_by=color_by, entry=node, depth=_MAP_DEPTH
        )
        return fig.update_layout(
            title=None,
            height=_MAP_HEIGHT,
            autosize=True,
            # the path bar (cluster › namespace › …, a step to click to go up) is drawn above
            # the boxes, in the top margin
            margin={"t": 28, "l": 4, "r": 4, "b": 30},
        )

    def map_target(self, view: str, clicked: str, entry: str | None) -> str:
        """The node a click on the map selects, by the rule plotly.js zooms the treemap by.

        A click on a box selects its node; a click on the node the map is zoomed to (``entry``,
        the box around all the others, or its last step in the path bar) goes up to its parent.

        Examples
        --------
        >>> import obskit
        >>> model = ExplorerModel(obskit.datasets.load("checkout-oom"))  # doctest: +SKIP
        >>> model.map_target("workload", "prod-eu-1/shop", "prod-eu-1")  # doctest: +SKIP
        'prod-eu-1/shop'
        >>> model.map_target("workload", "prod-eu-1/shop", "prod-eu-1/shop")  # doctest: +SKIP
        'prod-eu-1'
        """
        tree = self.tree(view)
        if clicked not in tree.index:
            raise InvestigationError(f"no node {clicked!r} in the {view!r} hierarchy")
        if clicked == (entry or self.root(view)):
            return str(tree.at[clicked, "parent"]) or clicked
        return clicked

    # time

    def ticks(self) -> list[pd.Timestamp]:
        """Positions of the time-range slider: round times covering the investigation's span.

        Examples
        --------
        >>> import obskit
        >>> model = ExplorerModel(obskit.datasets.load("checkout-oom"))  # doctest: +SKIP
        >>> len(model.ticks()), model.ticks()[0]  # doctest: +SKIP
        (121, Timestamp('2024-05-14 08:30:00+0000', tz='UTC'))
        """
        lo, hi = self.inv.time_span()
        if lo is None or hi is None:
            return []
        width = max(hi - lo, pd.Timedelta(seconds=1))
        step = next((s for s in _NICE_STEPS if width / s <= _TICKS), _NICE_STEPS[-1])
        return list(pd.date_range(lo.floor(step), hi.ceil(step), freq=step))

    def metric_names(self) -> list[str]:
        """The metrics the investigation holds, sorted."""
        column = self.inv.metrics["metric"]
        return sorted({str(m) for m in column.dropna().unique()})

    # analysis, once

    def anomalies(self) -> pd.DataFrame:
        """The anomaly windows of the whole investigation (``inv.anomalies()``), cached."""
        if self._anomalies is None:
            self._anomalies = self.inv.anomalies()
        return self._anomalies

    def suspects(self) -> pd.DataFrame:
        """The ranked suspects of the whole investigation (``inv.suspects()``), cached."""
        if self._suspects is None:
            self._suspects = self.inv.suspects(top=self.top)
        return self._suspects

    def detections(self) -> pd.DataFrame:
        """The security detections of the whole investigation (``inv.detections()``), cached."""
        if self._detections is None:
            self._detections = self.inv.detections()
        return self._detections

    def posture(self) -> pd.DataFrame:
        """The posture findings of the whole investigation (``inv.posture()``), cached."""
        if self._posture is None:
            self._posture = self.inv.posture()
        return self._posture

    def gaps(self) -> pd.DataFrame:
        """The collector gaps of the whole investigation (``inv.coverage_gaps()``), cached."""
        if self._gaps is None:
            spanned = None not in self.inv.time_span()
            self._gaps = self.inv.coverage_gaps() if spanned else pd.DataFrame(columns=["node"])
        return self._gaps

    def headline(self) -> str | None:
        """The lens's headline (:func:`obskit.views.lenses.headline`); None without a lens."""
        if self.lens.name == "all":
            return None
        return headline(self.inv, self.lens, detections=self.detections(), posture=self.posture())

    def gaps_for(self, focus: Mapping) -> pd.DataFrame:
        """The collector gaps of the nodes a node's pods ran on (of every node for the root)."""
        gaps = self.gaps()
        if "node" in focus:
            nodes = focus["node"] if isinstance(focus["node"], list | tuple) else [focus["node"]]
        elif not {k for k in focus if k not in ("cluster", "workload_kind")}:
            return gaps.reset_index(drop=True)
        else:
            named = {k: v for k, v in focus.items() if k != "workload_kind"}
            sub = self.inv.focus(**named)
            nodes = pd.concat(
                [sub.inventory["node"], sub.logs["node"], sub.events["node"]], ignore_index=True
            )
            nodes = nodes.astype("object").dropna().unique().tolist()
        return gaps.loc[gaps["node"].isin(nodes)].reset_index(drop=True)

    def suspects_for(self, focus: Mapping) -> pd.DataFrame:
        """The suspects that involve a node: those whose entity shares a row with its subtree.

        A workload suspect involves a node if one of its pods ran there; a node suspect
        involves a namespace if one of the namespace's pods ran on it. The ranks are those of
        the whole incident.
        """
        found = self.suspects()
        named = {k: v for k, v in focus.items() if k not in ("cluster", "workload_kind")}
        if found.empty or not named:
            return found.reset_index(drop=True)
        sub = self.inv.focus(**named)
        columns = [c for c in schema.KEY if c not in ("cluster", "workload_kind")]
        keys = pd.concat(
            [
                getattr(sub, name)[columns].astype("object")
                for name in ("metrics", "events", "logs", "inventory")
            ],
            ignore_index=True,
        ).drop_duplicates()
        keep = []
        for row in found[columns].astype("object").itertuples(index=False):
            mask = np.ones(len(keys), dtype=bool)
            for column, value in zip(columns, row, strict=True):
                if not _missing(value):
                    mask &= (keys[column] == value).fillna(False).to_numpy(dtype=bool)
            keep.append(bool(mask.any()))
        return found.loc[keep].reset_index(drop=True)

    # the outputs of a selection

    def outputs(self, selection: Selection) -> Outputs:
        """Compute what ``selection`` shows (the views and the analysis do the work).

        Raises
        ------
        InvestigationError
            For a node that is not in the view, an unknown table, or what the views reject
            (an unknown metric, a bad time range).
        """
        _check_tables(selection.tables)
        tree = self.tree(selection.view)
        node = selection.node or self.root(selection.view)
        lineage = self.lineage(selection.view, node)
        focus = self.focus_of(selection.view, node)
        selection = replace(selection, node=node)
        start, end = selection.start, selection.end
        figure = self.inv.timeline(
            focus=focus,
            metrics=list(selection.metrics) or None,
            start=start,
            end=end,
            anomalies=self.anomalies() if selection.anomalies else None,
        )
        out = Outputs(
            selection=selection,
            focus=focus,
            path=[str(tree.at[n, "label"]) for n in [self.root(selection.view), *lineage]],
            figure=figure,
        )
        if "suspects" in selection.tables:
            out.suspects = self.suspects_for(focus)
        if "events" in selection.tables:
            out.events = self.inv.events_table(
                focus, start, end, min_severity=selection.min_level, limit=self.limit
            )
        if "logs" in selection.tables:
            out.logs = self.inv.logs_table(
                focus, start, end, min_level=selection.min_level, limit=self.limit
            )
        if "patterns" in selection.tables:
            out.patterns = log_patterns_table(
                self.inv, focus, start, end, min_level=selection.min_level, limit=self.limit
            )
        if "detections" in selection.tables:
            out.detections = _on_key(self.detections(), focus, start, end)
        if "posture" in selection.tables:
            out.posture = _on_key(self.posture(), focus)
        if "coverage" in selection.tables:
            out.coverage = self.gaps_for(focus)
        if "rollouts" in selection.tables:
            out.rollouts = rollouts_table(self.inv, focus)
        if "latency" in selection.tables:
            out.latency = latency_table(self.inv, focus, start, end)
        return out


def _on_key(
    frame: pd.DataFrame, focus: Mapping, start: object = None, end: object = None
) -> pd.DataFrame:
    """The rows of an analysis frame on a node's key (a list in the focus holds several
    values), with a ``timestamp`` in ``[start, end]`` when it has one."""
    keep = np.ones(len(frame), dtype=bool)
    for column, value in focus.items():
        if column in ("cluster", "workload_kind") or column not in frame.columns:
            continue
        wanted = list(value) if isinstance(value, list | tuple) else [value]
        keep &= frame[column].astype("object").isin(wanted).to_numpy(dtype=bool)
    if "timestamp" in frame.columns:
        if start is not None:
            keep &= (frame["timestamp"] >= start).fillna(False).to_numpy(dtype=bool)
        if end is not None:
            keep &= (frame["timestamp"] <= end).fillna(False).to_numpy(dtype=bool)
    return frame.loc[keep].reset_index(drop=True)


def _check_tables(tables: tuple[str, ...]) -> tuple[str, ...]:
    """``tables`` when each is one of :data:`TABLES`."""
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise InvestigationError(
            f"tables must be some of {', '.join(map(repr, TABLES))}, got {unknown[0]!r}"
        )
    return tables


def _wanted(focus: Mapping | pd.Series | None) -> dict[str, str]:
    """Key columns with a value, as strings."""
    if focus is None:
        return {}
    if not isinstance(focus, Mapping | pd.Series):
        raise InvestigationError(
            f"focus must be a mapping of key columns to values (or a suspects row), got {focus!r}"
        )
    items = focus.items()
    return {str(k): str(v) for k, v in items if k in schema.KEY and not _missing(v)}


def _agrees(wanted: str | None, column: str, value: object) -> bool:
    """Whether a tree node's focus value agrees with the wanted one (a list holds it).

    Not naming the cluster or the workload kind agrees with any; not naming a column that
    goes deeper (a namespace, a pod) does not.
    """
    if wanted is None:
        return column in ("cluster", "workload_kind")
    if isinstance(value, list | tuple):
        return wanted in value
    return wanted == str(value)


# --- HTML tables (rendered by jinja2, which escapes every value) ---------------------------

#: One table: the note above it, then the header and the rows, or the ``empty`` line. Every
#: value is escaped by the autoescaping environment; only obskit's own style sheet and the
#: ``<br>`` between a list's items are marked safe.
_TABLE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    "{{ css | safe }}"
    "{% if note %}<div class='obskit-note'>{{ note }}</div>{% endif %}"
    "{% if columns is none %}<div class='obskit-note'>{{ empty }}</div>"
    "{% else %}<div class='obskit-table-box'><table class='obskit-table'><thead><tr>"
    "{% for column in columns %}<th>{{ column }}</th>{% endfor %}"
    "</tr></thead><tbody>"
    "{% for row in rows %}<tr>"
    "{% for cell in row %}<td"
    "{% if cell.css %} class='{{ cell.css }}'{% endif %}"
    "{% if cell.color %} style='border-left: 4px solid {{ cell.color }}'{% endif %}"
    "{% if cell.tip %} title='{{ cell.tip }}'{% endif %}"
    ">{{ cell.parts | join('<br>' | safe) }}</td>{% endfor %}"
    "</tr>{% endfor %}"
    "</tbody></table></div>{% endif %}"
)


@dataclass(frozen=True)
class _Cell:
    """One table cell, unescaped: the lines shown, the tooltip, its CSS class and colour."""

    parts: tuple[str, ...]
    tip: str = ""
    css: str = ""
    color: str = ""


def _cell(value: object, column: str = "") -> tuple[tuple[str, ...], str]:
    """(lines shown, tooltip) of one cell, as text; disguising characters shown as escapes."""
    if isinstance(value, str):
        value = reveal(value)
    if column == "origin" and isinstance(value, str) and value.count("/") > 2:
        # where a line was read: the file's last two parts, the whole path in the tooltip
        return ("…/" + "/".join(value.rsplit("/", 2)[-2:]),), _cut(value, _TIP_CHARS)
    if isinstance(value, list | tuple | np.ndarray):
        parts = [reveal(str(v)) for v in value if not _missing(v)]
        return tuple(_cut(p, _CELL_CHARS) for p in parts), _cut("\n".join(parts), _TIP_CHARS)
    if _missing(value):
        return (), ""
    if isinstance(value, pd.Timestamp):
        return (f"{value:%m-%d %H:%M:%S}",), str(value)
    if isinstance(value, float):
        return (f"{value:.4g}",), ""
    raw = str(value)
    tip = _cut(raw, _TIP_CHARS) if len(raw) > _CELL_CHARS else ""
    return (_cut(raw, _CELL_CHARS),), tip


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(columns: list[str], values: tuple) -> list[_Cell]:
    cells = []
    for column, value in zip(columns, values, strict=True):
        parts, tip = _cell(value, column)
        css, color = "", ""
        if column in _WIDE_TEXT:
            css = "obskit-text"
        elif column == "time" or isinstance(value, pd.Timestamp):
            css = "obskit-time"
        if column in _SEVERITY_COLUMNS and not _missing(value):
            color = SEVERITY_COLORS.get(str(value), SEVERITY_COLORS["unknown"])
        cells.append(_Cell(parts, tip, css, color))
    return cells


def html_table(frame: pd.DataFrame, *, note: str = "", empty: str = "nothing here") -> str:
    """``frame`` as an HTML table in a scrolling box, every value and column name escaped.

    Rendered by a jinja2 template with autoescape: cells, tooltips, column names, the note
    and the empty line are all text, never markup.

    Parameters
    ----------
    frame : DataFrame
        The table; lists in a cell are shown one item a line.
    note : str
        A line of plain text above the table (escaped too).
    empty : str
        What to say when the frame has no rows.

    Examples
    --------
    >>> frame = pd.DataFrame({"level": ["error"], "message": ["<img src=x onerror=alert(1)>"]})
    >>> "&lt;img src=x onerror=alert(1)&gt;" in html_table(frame)
    True
    >>> "<img" in html_table(frame)
    False
    """
    if frame is None or frame.empty:
        return _TABLE.render(css=_TABLE_CSS, note=note, columns=None, rows=(), empty=empty)
    columns = [str(c) for c in frame.columns]
    rows = (_row(columns, values) for values in frame.itertuples(index=False, name=None))
    return _TABLE.render(css=_TABLE_CSS, note=note, columns=columns, rows=rows, empty=empty)


def suspects_display(suspects: pd.DataFrame) -> pd.DataFrame:
    """The suspects as a readable table: rank, what, score, first anomaly, signals, reason.

    Examples
    --------
    >>> suspects_display(pd.DataFrame(columns=["rank"])).columns.tolist()[:3]
    ['rank', 'kind', 'entity']
    """
    columns = ["rank", "kind", "entity", "score", "first anomaly", "signals", "reason", "evidence"]
    if suspects is None or suspects.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for row in suspects.to_dict("records"):
        kind = row.get("entity_kind")
        rows.append(
            {
                "rank": row.get("rank"),
                "kind": kind,
                "entity": schema.entity_name(row, kind),
                "score": row.get("score"),
                "first anomaly": row.get("first_anomaly"),
                "signals": list(row.get("kinds") or []),
                "reason": row.get("reason"),
                "evidence": list(row.get("evidence") or [])[:4],
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _constant_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame without the key columns that hold one value in every row, and those values."""
    if len(frame) < 2:
        return frame, {}
    same = {}
    for column in frame.columns:
        if column in schema.KEY:
            values = frame[column].astype("object")
            if values.notna().all() and values.nunique() == 1:
                same[column] = str(values.iloc[0])
    return frame.drop(columns=list(same)), same


# --- the widget --------------------------------------------------------------------------------


def _tick_label(ts: pd.Timestamp, multi_day: bool) -> str:
    """A slider position as the analyst reads it: the date only when the span has several."""
    if multi_day:
        return f"{ts:%m-%d %H:%M}"
    return f"{ts:%H:%M:%S}" if ts.second else f"{ts:%H:%M}"


class Explorer(widgets.VBox):
    """Explore an investigation: pick a node, a time range and signals; the outputs follow.

    Controls, top to bottom: the hierarchy view (workload, node, service), cascaded dropdowns
    down its tree (cluster → namespace → workload → pod → container in the workload view) and a
    map of the tree, coloured by trouble as :func:`obskit.views.hierarchy` colours it: clicking
    a box selects its node (clicking the box the map is zoomed to goes up a level), and a node
    picked in the dropdowns is zoomed to on the map; the time range (UTC; zooming the timeline
    in on a stretch narrows it to that stretch, and the timeline is drawn again at the finer
    resolution), the metric rows of the timeline and what to show. Below them: a status line,
    the correlated timeline (:func:`obskit.views.timeline`) and tabs with the suspects that
    involve the node, its events and its log lines in the time range.

    Given a watch (:func:`obskit.watch`), the Explorer is live: after each tick of the watch
    it takes a snapshot and shows it, keeping the selection (view, node, time range; a deleted
    pod stays selected while its box remains). The snapshot and its model are computed on a
    thread of the Explorer's own, never on the kernel's; what is sent to the browser is what
    changed: the map's boxes that changed (item by item when few did), the timeline's traces
    that changed. New pods get the blue "created" border as they appear; deleted ones keep
    their box, with the violet border, for the watch's ``keep``. A line above the map says
    "as of HH:MM:SS UTC · tick N · running" (or paused, or stopped); the pause button stops
    following until it is released, which catches up at once; a banner names the watch's
    streams that are failing, with their last error. :meth:`close` stops following.

    Parameters
    ----------
    inv : Investigation, ExplorerModel or Watch
        The investigation to explore, or the model of one: Explorers given the same model
        share its trees, anomalies and suspects (computed once); or a watch to follow.
    focus : mapping or Series, optional
        Where to start: key columns, e.g. ``{"namespace": "shop", "workload": "checkout"}``, or
        a row of ``inv.suspects()``. Default: the whole cluster. Live, a focus the watch has
        not seen yet (it is still listing the cluster) is selected when it appears.
    view : {"workload", "node", "service"}, optional
        The hierarchy to start in (default: ``node`` for a focus on a node alone, else
        ``workload``).
    start, end : timestamp, optional
        The time range to start with (default: all of it); snapped to the slider's ticks.
    metrics : list of str, optional
        Metric rows of the timeline (default: the timeline's choice for each node).
    anomalies : bool
        Shade the analysis' anomaly windows on the timeline (default True).
    tables : sequence of str, optional
        Which of :data:`TABLES` to show (default: the lens's; without a lens ``suspects``,
        ``events`` and ``logs``; the others have a checkbox each).
    min_level : str, optional
        Show events and log lines at or above this severity.
    top : int
        How many suspects the analysis ranks (unless a model is given).
    limit : int
        At most this many rows in the events and logs tables (unless a model is given).
    lens : {"security", "dev", "ops", "all"}, optional
        The team's lens (:mod:`obskit.views.lenses`): which tables come first and are shown,
        the view and colour the map starts with, and a headline above it. A lens changes
        emphasis only: every table stays a tab or a checkbox away, with all its rows.
    color_by : str, optional
        What the map is coloured by (:data:`obskit.views.COLOR_BY`; default: the lens's).

    Attributes
    ----------
    model : ExplorerModel
        The UI-free part: use it to compute outputs without widgets.
    outputs : Outputs
        What is shown now (figure and tables as frames).
    view, levels, time_range, metrics, show_anomalies, show, min_level, color_by
        The controls (``levels`` is the list of dropdowns down the tree, ``show`` maps each
        table name to its checkbox).
    lens : Lens
        The lens (``lens("all")`` without one).
    headline : ipywidgets.HTML
        The lens's headline (hidden without a lens).
    figure : plotly.graph_objects.FigureWidget
        The timeline.
    map : plotly.graph_objects.FigureWidget
        The map of the view's tree (:meth:`ExplorerModel.map_figure`), zoomed to the selected
        node (its trace's ``level``).
    watch : Watch or None
        The watch a live Explorer follows.
    pause : ipywidgets.ToggleButton
        Live: pressed, the Explorer stops following; released, it catches up.
    live, banner : ipywidgets.HTML
        Live: the "as of" line, and the failing streams (hidden when none).
    refreshes : int
        Live: snapshots shown so far.
    sent : dict
        Live: bytes of the figure updates of the last refresh (``map``, ``timeline``) as
        plotly's JSON writes them; the widgets send numeric arrays as binary buffers, so less
        goes to the browser.

    Examples
    --------
    >>> import obskit
    >>> from obskit.widgets import Explorer
    >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
    >>> focus = {"namespace": "shop", "workload": "checkout"}
    >>> explorer = Explorer(inv, focus=focus)  # doctest: +SKIP
    >>> explorer  # doctest: +SKIP
    >>> explorer.outputs.logs.head()  # doctest: +SKIP
    >>> explorer.selected().summary()  # doctest: +SKIP
    >>> live = Explorer(obskit.watch(kubernetes=obskit.Kubernetes()))  # doctest: +SKIP
    """

    def __init__(
        self,
        inv: Investigation | ExplorerModel | LiveSource,
        focus: Mapping | pd.Series | None = None,
        view: str | None = None,
        start: object = None,
        end: object = None,
        metrics: Sequence[str] | None = None,
        anomalies: bool = True,
        tables: Sequence[str] | None = None,
        min_level: str | None = None,
        top: int = 10,
        limit: int = 200,
        lens: str | Lens | None = None,
        color_by: str | None = None,
    ) -> None:
        self.watch: LiveSource | None = None
        self.lens = lens_named(
            lens if lens is not None or not isinstance(inv, ExplorerModel) else inv.lens
        )
        if isinstance(inv, ExplorerModel):
            self.model = inv
        elif _is_live(inv):
            self.watch = inv
            self.model = ExplorerModel.from_watch(inv, top=top, limit=limit, lens=self.lens)
        else:
            self.model = ExplorerModel(inv, top=top, limit=limit, lens=self.lens)
        wanted = _wanted(focus)
        view, tables = self._checked(wanted, view, tables, metrics, min_level, color_by)
        # a watch just started has not listed the cluster yet: a focus it does not hold yet is
        # selected when a snapshot holds it
        self._pending: dict[str, str] | None = None
        try:
            node = self.model.find(view, wanted)
        except InvestigationError:
            if self.watch is None:
                raise
            node, self._pending = self.model.root(view), wanted
        self._holding = 0
        # a live Explorer is refreshed from its own thread: one change of the widgets at a time
        self._lock = threading.RLock()
        self.outputs: Outputs | None = None
        self.refreshes = 0
        self._disposed = False  # set by close(): a refresh then in flight draws nothing
        self.sent: dict[str, int] = {}

        self._make_controls(view, start, end, metrics, anomalies, tables, min_level, color_by)
        self._make_outputs()
        with self._hold():
            self._set_path(node)
        self._wire()
        super().__init__(self._laid_out())
        self.add_class("obskit-explorer")
        self._show_headline()
        self.refresh()
        if self.watch is not None:
            self._follow(self.watch)

    # --- building: check the arguments, make the controls and outputs, wire, lay out ---

    def _checked(
        self,
        wanted: dict[str, str],
        view: str | None,
        tables: Sequence[str] | None,
        metrics: Sequence[str] | None,
        min_level: str | None,
        color_by: str | None,
    ) -> tuple[str, tuple[str, ...]]:
        """Check the arguments against the model; the view to start in and the tables shown."""
        if color_by is not None and color_by not in COLOR_BY:
            raise InvestigationError(
                f"color_by must be one of {', '.join(map(repr, COLOR_BY))}, got {color_by!r}"
            )
        if view is None:
            node_only = "node" in wanted and not {"namespace", "pod"} & set(wanted)
            view = "node" if node_only else "workload" if wanted else self.lens.view
        if view not in VIEWS:
            raise InvestigationError(
                f"view must be one of {', '.join(map(repr, VIEWS))}, got {view!r}"
            )
        tables = _check_tables(tuple(self.lens.shown if tables is None else tables))
        if min_level is not None and min_level not in schema.SEVERITIES:
            raise InvestigationError(
                f"min_level must be one of {', '.join(schema.SEVERITIES)}, got {min_level!r}"
            )
        known = self.model.metric_names()
        for name in metrics or ():
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=3)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise InvestigationError(f"no metric {name!r} in this investigation{hint}")
        return view, tables

    def _make_controls(
        self,
        view: str,
        start: object,
        end: object,
        metrics: Sequence[str] | None,
        anomalies: bool,
        tables: tuple[str, ...],
        min_level: str | None,
        color_by: str | None,
    ) -> None:
        """The controls, set to the (checked) arguments; nothing listens to them yet."""
        known = self.model.metric_names()
        self.view = widgets.ToggleButtons(
            options=list(VIEWS),
            value=view,
            description="hierarchy",
            style={"button_width": "90px"},
        )
        self.levels: list[widgets.Dropdown] = []
        self._path = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._path.add_class("obskit-explorer-path")
        self.time_range = self._slider(start, end)
        self.metrics = widgets.SelectMultiple(
            options=known,
            value=tuple(metrics or ()),
            rows=min(6, max(2, len(known))),
            description="metrics",
            layout=widgets.Layout(width="440px"),
        )
        self.metrics.add_class("obskit-explorer-metrics")
        self.show_anomalies = widgets.Checkbox(
            value=anomalies,
            description="anomaly windows",
            indent=False,
            layout=widgets.Layout(width="150px"),
        )
        self.show = {
            name: widgets.Checkbox(
                value=name in tables,
                description=_TITLES[name],
                indent=False,
                layout=widgets.Layout(width="110px"),
            )
            for name in self.lens.tables
        }
        self.color_by = widgets.Dropdown(
            options=list(COLOR_BY),
            value=color_by or self.lens.color_by,
            description="colour by",
            layout=widgets.Layout(width="240px"),
        )
        self.headline = widgets.HTML(layout=widgets.Layout(display="none"))
        self.headline.add_class("obskit-explorer-headline")
        self.min_level = widgets.Dropdown(
            options=[("all", ""), *((s, s) for s in schema.SEVERITIES)],
            value=min_level or "",
            description="at least",
            layout=widgets.Layout(width="170px"),
        )
        self._whole = widgets.Button(
            description="whole range",
            tooltip="show the investigation's whole time span",
            layout=widgets.Layout(width="110px"),
        )
        self.pause = widgets.ToggleButton(
            value=False,
            description="pause",
            icon="pause",
            tooltip="stop following the watch; release to catch up",
            layout=widgets.Layout(width="100px"),
        )
        self.pause.add_class("obskit-explorer-pause")
        self.live = widgets.HTML()
        self.live.add_class("obskit-explorer-live")
        self.banner = widgets.HTML(layout=widgets.Layout(display="none"))
        self.banner.add_class("obskit-explorer-banner")

    def _make_outputs(self) -> None:
        """The map, the status line, the timeline and the tables' tabs (empty until refreshed)."""
        # the map of the view's tree: a click selects a node, a pick in the dropdowns zooms it
        self.map = go.FigureWidget()
        self.map.add_class("obskit-explorer-map")
        self._map_at: tuple[str, str, ExplorerModel, str] | None = None
        self.status = widgets.HTML()
        self.status.add_class("obskit-explorer-status")
        self.figure = go.FigureWidget()
        self.figure.add_class("obskit-explorer-timeline")
        self._tables = {name: widgets.HTML() for name in self.lens.tables}
        self.tabs = widgets.Tab()
        self.tabs.add_class("obskit-explorer-tables")

    def _wire(self) -> None:
        """Listen to the controls, and to the browser's clicks, zooms and first showing."""
        # a click on the map selects a node: _sync_map attaches _on_map_click to each trace
        # it draws, as plotly's on_click
        self.map.observe(self._on_shown, names=_PLOTLY_VIEW_COUNT)
        self.figure.observe(self._on_shown, names=_PLOTLY_VIEW_COUNT)
        # a zoom in the browser narrows the time range: the tables follow and the timeline
        # is drawn again at the finer resolution
        self.figure.observe(self._on_zoom, names=_PLOTLY_BROWSER_RELAYOUT)
        self.view.observe(self._on_view, names="value")
        self.time_range.observe(self._on_change, names="value")
        self.metrics.observe(self._on_change, names="value")
        self.show_anomalies.observe(self._on_change, names="value")
        self.min_level.observe(self._on_change, names="value")
        for box in self.show.values():
            box.observe(self._on_change, names="value")
        self.color_by.observe(self._on_color, names="value")
        self._whole.on_click(self._on_whole)

    def _laid_out(self) -> list[widgets.Widget]:
        """The Explorer's rows: where (map and path), the controls, status, timeline, tables."""
        signals = widgets.VBox(
            [
                self.show_anomalies,
                widgets.HBox(
                    [widgets.Label("tables:"), *self.show.values()],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                self.min_level,
            ],
            layout=widgets.Layout(margin="0 0 0 16px"),
        )
        where = widgets.VBox(
            [self.headline, widgets.HBox([self.view, self.color_by]), self._path, self.map]
        )
        if self.watch is not None:
            live = widgets.HBox(
                [self.pause, self.live], layout=widgets.Layout(align_items="center")
            )
            where.children = (live, self.banner, *where.children)
        controls = widgets.VBox(
            [
                widgets.HBox([self.time_range, self._whole]),
                widgets.HBox([self.metrics, signals], layout=widgets.Layout(align_items="center")),
            ]
        )
        return [where, controls, self.status, self.figure, self.tabs]

    # --- what is selected ---

    @property
    def node(self) -> str:
        """The id of the selected node in the current view's tree."""
        chosen = [d.value for d in self.levels if d.layout.display != "none" and d.value]
        return chosen[-1] if chosen else self.model.root(self.view.value)

    @property
    def focus(self) -> dict:
        """The key columns of the selected node (what the views filter on)."""
        return self.model.focus_of(self.view.value, self.node)

    def selection(self) -> Selection:
        """The controls' state as a :class:`Selection`."""
        start, end = self.time_range.value
        ticks = self.time_range.options
        whole = self.time_range.index == (0, len(ticks) - 1)
        return Selection(
            view=self.view.value,
            node=self.node,
            start=None if whole else start,
            end=None if whole else end,
            metrics=tuple(self.metrics.value),
            anomalies=self.show_anomalies.value,
            tables=tuple(name for name in self.lens.tables if self.show[name].value),
            min_level=self.min_level.value or None,
        )

    def selected(self) -> Investigation:
        """The investigation restricted to the selected node and time range, to go on in pandas.

        Examples
        --------
        >>> explorer.selected().logs  # doctest: +SKIP
        """
        sel = self.selection()
        named = {k: v for k, v in self.focus.items() if k != "workload_kind"}
        inv = self.model.inv.focus(**named)
        return inv.window(sel.start, sel.end) if sel.start is not None else inv

    def select(self, focus: Mapping | pd.Series | str) -> None:
        """Select a node: a tree id of the current view, key columns, or a suspects row.

        Examples
        --------
        >>> explorer.select({"namespace": "shop", "workload": "checkout"})  # doctest: +SKIP
        """
        with self._lock:
            view = self.view.value
            node = focus if isinstance(focus, str) else self.model.find(view, focus)
            self.model.lineage(view, node)  # raises for an unknown id
            with self._hold():
                self._set_path(node)
            self.refresh()

    # --- compute, then apply ---

    def refresh(self) -> None:
        """Recompute the outputs for the controls' state and show them."""
        with self._lock:
            self._sync_map()
            try:
                outputs = self.model.outputs(self.selection())
            except ObskitError as exc:
                self.status.value = f"<span style='color:#b91c1c'>{html.escape(str(exc))}</span>"
                return
            self._apply(outputs)

    # --- live: follow a watch ---

    def update(self) -> None:
        """Show the watch's newest snapshot, keeping the selection (what each tick does).

        The snapshot and the tree of the view are computed before the widgets are touched;
        then only what changed is sent. Runs in the caller's thread (a live Explorer calls it
        from its own).

        Examples
        --------
        >>> live.update()  # doctest: +SKIP
        """
        if self.watch is None:
            raise InvestigationError("update() follows a watch; this Explorer shows a snapshot")
        model = ExplorerModel.from_watch(
            self.watch,
            top=self.model.top,
            limit=self.model.limit,
            previous=self.model,
            lens=self.model.lens,
        )
        model.tree(self.view.value)  # the heavy part, before taking the widgets
        with self._lock:
            if self._disposed:
                return  # close() came while the snapshot was computed: its widgets are gone
            self._show_model(model)
            self.refreshes += 1

    def close(self) -> None:
        """Stop following the watch (a live Explorer), then close the widgets."""
        self._disposed = True
        self._closed = True
        stop = getattr(self, "_stop_following", None)
        if stop is not None:
            stop()
            self._wake.set()
        super().close()

    def _follow(self, watch: LiveSource) -> None:
        """Refresh after each tick, on a thread of the Explorer's own.

        The watch's callback only wakes that thread, so the watch never waits for a browser.
        Ticks that come while a refresh runs are not queued: the next refresh shows the
        newest snapshot, which holds them.
        """
        self._closed = False
        self._wake = threading.Event()
        self._failed: str | None = None  # why the last refresh failed, for the banner
        remove = watch.on_tick(self._on_tick)
        self._stop_following = remove
        self.pause.observe(self._on_pause, names="value")
        self._show_live()
        threading.Thread(
            target=self._refresh_loop, name="obskit-explorer live", daemon=True
        ).start()

    def _on_tick(self, _watch: LiveSource) -> None:
        self._wake.set()

    def _on_pause(self, change: dict) -> None:
        self.pause.description = "resume" if change["new"] else "pause"
        self.pause.icon = "play" if change["new"] else "pause"
        self._show_live()
        if not change["new"]:
            self._wake.set()  # catch up, off the kernel's thread

    def _refresh_loop(self) -> None:
        while True:
            if not self._wake.wait(_LIVE_CHECK):
                if not self._closed:
                    self._show_live()  # no tick for a while: the watch may have stopped
                continue
            self._wake.clear()
            if self._closed:
                return
            if self.pause.value:
                self._show_live()
                continue
            try:
                self.update()
            except Exception as exc:  # shown in the banner; the next tick tries again
                log.exception("obskit Explorer: the live refresh failed")
                self._failed = f"the Explorer could not show the last snapshot: {exc!r}"
            else:
                self._failed = None
            self._show_live()

    def _show_model(self, model: ExplorerModel) -> None:
        """Show a new snapshot's model, keeping the selection (under the lock)."""
        view = self.view.value
        node = model.nearest(view, self.node)
        if self._pending is not None:
            with contextlib.suppress(InvestigationError):
                node, self._pending = model.find(view, self._pending), None
        whole = self.time_range.index == (0, len(self.time_range.options) - 1)
        start, end = self.time_range.value
        self.model = model
        with self._hold():
            self._set_path(node)
            options = _slider_options(model)
            if self.time_range.options != tuple(options):
                self.time_range.options = options
                ticks = [t for _, t in options]
                last = len(ticks) - 1
                index = (
                    (0, last) if whole else (_nearest(ticks, start, 0), _nearest(ticks, end, last))
                )
                self.time_range.index = index if index[0] < index[1] else (0, last)
            known = tuple(model.metric_names())
            if self.metrics.options != known:
                chosen = tuple(m for m in self.metrics.value if m in known)
                self.metrics.options = known
                self.metrics.value = chosen
        sent = self._sync_map()
        try:
            outputs = model.outputs(self.selection())
        except ObskitError as exc:
            self.status.value = f"<span style='color:#b91c1c'>{html.escape(str(exc))}</span>"
            self.sent = {"map": sent, "timeline": 0}
            return
        self.sent = {"map": sent, "timeline": self._apply(outputs, incremental=True)}

    def _show_live(self) -> None:
        """The "as of" line and the banner of failing streams, from the model shown."""
        model = self.model
        when = f"{model.as_of:%H:%M:%S} UTC" if model.as_of is not None else "not yet"
        running = getattr(self.watch, "running", True)
        state = "paused" if self.pause.value else "running" if running else "stopped"
        # ticks the watch made since the snapshot shown (counted, not tallied by callbacks,
        # which may run after the refresh that already shows their tick)
        ticks = getattr(self.watch, "ticks", None) or 0
        behind = max(0, ticks - (model.tick or 0)) if self.pause.value else 0
        state += f", {behind} tick{'' if behind == 1 else 's'} not shown" if behind else ""
        analysed = model.analysed_at
        if analysed is not None and model.as_of is not None and analysed < model.as_of:
            state += f" · suspects and anomalies as of {analysed:%H:%M:%S}"
        self.live.value = (
            "<span style='font-size:13px;color:#374151'>"
            f"as of <b>{html.escape(when)}</b> · tick {model.tick or 0} · {html.escape(state)}"
            "</span>"
        )
        lines = [_problem_html(row) for row in model.problems().itertuples(index=False)]
        if self._failed:
            lines.append(html.escape(_cut(self._failed, 300)))
        self.banner.value = (
            "<div style='background:#fef2f2;border:1px solid #fca5a5;color:#7f1d1d;"
            "padding:4px 8px;font-size:12px'>" + "<br>".join(lines) + "</div>"
            if lines
            else ""
        )
        self.banner.layout.display = "" if lines else "none"

    def _apply(self, out: Outputs, incremental: bool = False) -> int:
        """Show ``out``; return the bytes of the timeline's update when ``incremental``."""
        new = out.figure
        sent = 0
        if incremental and _same_traces(self.figure.data, new.data):
            sent = self._patch_timeline(new)
        else:
            self._replace_timeline(new)
            sent = json_bytes(new.to_plotly_json()) if incremental else 0
        self._show_tables(out)
        return sent

    def _patch_timeline(self, new: go.Figure) -> int:
        """Send the properties of the timeline's traces and layout that changed, in one
        message (the browser redraws once)."""
        deltas = [
            restyle_delta(old.to_plotly_json(), fresh.to_plotly_json(), patch=False)
            for old, fresh in zip(self.figure.data, new.data, strict=True)
        ]
        layout = relayout_delta(
            self.figure.layout.to_plotly_json(), new.layout.update(autosize=True).to_plotly_json()
        )
        with self.figure.batch_update():
            for trace, delta in zip(self.figure.data, deltas, strict=True):
                for path, value in delta.items():
                    trace[path] = whole(value)
            for path, value in layout.items():
                self.figure.layout[path] = value
        return sum(json_bytes(d) for d in deltas if d) + (json_bytes(layout) if layout else 0)

    def _replace_timeline(self, new: go.Figure) -> None:
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(list(new.data))
            # the new layout replaces the old one whole: axes, legends of rows that are gone
            # are removed in the browser too
            fresh = new.layout.to_plotly_json()
            stale = {k: None for k in self.figure.layout.to_plotly_json() if k not in fresh}
            if stale:
                self.figure.plotly_relayout(stale)
            # autosize in the message makes the browser fit the figure to its cell's width
            self.figure.layout = new.layout.update(autosize=True)

    def _show_tables(self, out: Outputs) -> None:
        shown = [name for name in self.lens.tables if getattr(out, name) is not None]
        for name in shown:
            self._tables[name].value = self._table_html(name, out)
        children = tuple(self._tables[name] for name in shown)
        if self.tabs.children != children:
            selected = self.tabs.selected_index
            self.tabs.children = children
            self.tabs.titles = tuple(_TITLES[name] for name in shown)
            if children:
                self.tabs.selected_index = min(selected or 0, len(children) - 1)
        self.tabs.layout.display = "" if shown else "none"
        self.status.value = self._status_html(out)
        self.outputs = out

    def _sync_map(self) -> int:
        """Show the selected node on the map: the part of the tree around it, zoomed to it.

        Only what a zoom on the node shows is sent (:meth:`ExplorerModel.map_figure`), so the
        browser draws a few hundred boxes however large the cluster; a new snapshot of the
        same place sends only the boxes' properties that changed. The map's ``level`` and
        boxes only go to the browser (plotly.js reports nothing back for them), so this never
        triggers a click or a control change: no loop. Returns the bytes of a changed
        snapshot's update (0 otherwise).
        """
        view, node, color = self.view.value, self.node, self.color_by.value
        if (view, node, self.model, color) == self._map_at:
            return 0
        fig = self.model.map_figure(view, node, color)
        shown = self._map_at is not None and self._map_at[:2] == (view, node)
        shown = shown and self._map_at[3] == color
        sent = 0
        if shown and _same_traces(self.map.data, fig.data):
            delta = restyle_delta(self.map.data[0].to_plotly_json(), fig.data[0].to_plotly_json())
            layout = relayout_delta(self.map.layout.to_plotly_json(), fig.layout.to_plotly_json())
            if delta or layout:  # one message: the browser redraws once
                self.map.plotly_update(restyle_data=delta, relayout_data=layout, trace_indexes=[0])
                sent = json_bytes(delta) + json_bytes(layout)
        else:
            with self.map.batch_update():
                self.map.data = ()
                self.map.add_traces(list(fig.data))
                self.map.layout = fig.layout
            if self.map.data:
                self.map.data[0].on_click(self._on_map_click)
            sent = json_bytes(fig.to_plotly_json()) if self.watch is not None else 0
        self._map_at = (view, node, self.model, color)
        return sent

    def _table_html(self, name: str, out: Outputs) -> str:
        frame = getattr(out, name)
        limit = self.model.limit
        if name == "suspects":
            total = len(self.model.suspects())
            at = self.model.suspects().attrs.get("at")
            when = f", onset {at:%Y-%m-%d %H:%M:%S} UTC" if isinstance(at, pd.Timestamp) else ""
            note = f"{len(frame)} of the incident's {total} top suspects involve this node{when}."
            # how sure the whole ranking is: the top suspect, or whom it cannot tell apart and why
            note += " " + redact_for_sharing(conclusion(self.model.suspects()))
            table = redact_for_sharing(suspects_display(frame))
            return html_table(table, note=note, empty="no suspect involves it")
        if name in _ANALYSIS_NOTES:
            columns = [c for c in _ANALYSIS_COLUMNS.get(name, frame.columns) if c in frame]
            note = f"{len(frame)} {_TITLES[name]}: {_ANALYSIS_NOTES[name]}"
            shown = frame
            if name == "posture":  # the most severe first
                shown = frame.sort_values("severity", ascending=False, kind="stable")
            if len(frame) > limit:  # a bounded page; out.<name> holds every row
                shown = shown.head(limit)
                note += f" (the first {limit}; the Explorer's outputs hold them all)"
            return html_table(
                redact_for_sharing(shown[columns]),
                note=note + ".",
                empty=f"no {_TITLES[name]} here",
            )
        what = "events" if name == "events" else "log lines"
        note = f"{len(frame)} {what}, most severe first, then newest"
        note += f" (the first {limit})" if len(frame) >= limit else ""
        table, same = _constant_columns(redact_for_sharing(frame))
        if same:
            note += "; all with " + ", ".join(f"{k}={v}" for k, v in same.items())
        note += "."
        return html_table(table, note=note, empty=f"no {what} here in this time range")

    def _status_html(self, out: Outputs) -> str:
        sel = out.selection
        lo, hi = self.time_range.value
        when = "whole span" if sel.start is None else f"{lo:%Y-%m-%d %H:%M} – {hi:%H:%M} UTC"
        crumbs = " › ".join(f"<b>{html.escape(reveal(p))}</b>" for p in out.path)
        return (
            f"<div style='font-size:13px;margin:4px 0'>{crumbs}"
            f" <span style='color:#6b7280'>· {html.escape(when)}</span></div>"
        )

    # --- control events ---

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Programmatic control changes inside do not recompute (the caller does, once)."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1

    def _on_change(self, change: dict) -> None:
        if not self._holding:
            self.refresh()

    def _on_color(self, change: dict) -> None:
        with self._lock:
            self._sync_map()

    def _show_headline(self) -> None:
        """The lens's headline above the map (plain text, escaped), or nothing."""
        if self.lens.name == "all":
            return
        model = self.model
        text = headline(
            model.inv, self.lens, detections=model.detections(), posture=model.posture()
        )
        self.headline.value = (
            "<div style='font-size:14px;padding:6px 10px;margin:2px 0 6px 0;background:#f6f8fa;"
            f"border-left:4px solid #0969da'>{html.escape(reveal(text or ''))}</div>"
        )
        self.headline.layout.display = ""

    def _on_view(self, change: dict) -> None:
        if self._holding:
            return
        with self._lock:
            try:
                node = self.model.find(change["new"], self._last_focus())
            except InvestigationError:
                node = self.model.root(change["new"])
            with self._hold():
                self._set_path(node)
            self.refresh()

    def _last_focus(self) -> dict:
        return dict(self.outputs.focus) if self.outputs is not None else {}

    def _on_level(self, change: dict) -> None:
        if self._holding:
            return
        owner = change["owner"]
        depth = self.levels.index(owner)
        chosen = [d.value for d in self.levels[: depth + 1] if d.value]
        with self._lock:
            node = chosen[-1] if chosen else self.model.root(self.view.value)
            with self._hold():
                self._set_path(node)
            self.refresh()

    def _on_shown(self, change: dict) -> None:
        # plotly draws a new view before it is in the page, at its default 700 px: once the
        # view is shown, size it to its cell (as plotly.js' own resize does)
        if (change["new"] or 0) > (change["old"] or 0):
            figure = change["owner"]
            figure.plotly_relayout({"autosize": False})
            figure.plotly_relayout({"autosize": True})

    def _on_map_click(self, trace: go.Treemap, points: Points, _state: object) -> None:
        """Select the node of a box clicked on the map, as if picked in the dropdowns.

        plotly calls this (the map trace's ``on_click``) with the clicked box's index in the
        trace's ``ids``; hovers go to ``on_hover``, which the Explorer does not listen to.
        plotly.js has already zoomed the map to it (or, for the box it was zoomed to, to its
        parent), with the boxes it has: :meth:`ExplorerModel.map_target` follows the same
        rule, so :meth:`_sync_map` then sends the part of the tree around where the map is.
        """
        if self._holding or not points.point_inds:
            return
        index = points.point_inds[0]
        with self._lock:
            ids = trace.ids or ()
            if not isinstance(index, int) or not 0 <= index < len(ids):
                return
            node = self.model.map_target(self.view.value, str(ids[index]), trace.level)
            if node != self.node:
                self.select(node)

    def _on_zoom(self, change: dict) -> None:
        """Snap the time range outward to the slider's ticks around a range zoomed in the
        browser (a drag on the timeline, or its zoom buttons)."""
        message = change["new"] or {}
        zoomed = _zoomed_range(message.get("relayout_data") or {})
        if zoomed is None or self._holding:
            return
        ticks = [t for _, t in self.time_range.options]
        stamps = pd.DatetimeIndex(ticks)
        lo = max(int(stamps.searchsorted(zoomed[0], side="right")) - 1, 0)
        hi = min(int(stamps.searchsorted(zoomed[1], side="left")), len(ticks) - 1)
        if hi <= lo:
            hi = min(lo + 1, len(ticks) - 1)
            lo = hi - 1
        if (lo, hi) != tuple(self.time_range.index):
            self.time_range.index = (lo, hi)

    def _on_whole(self, _button: widgets.Button) -> None:
        self.time_range.index = (0, len(self.time_range.options) - 1)

    def _set_path(self, node: str) -> None:
        """Show dropdowns down to ``node``, and one more below it when it has children."""
        view = self.view.value
        lineage = self.model.lineage(view, node)
        parent = self.model.root(view)
        depth = 0
        while True:
            kids = self.model.children(view, parent)
            if not kids:
                break
            dropdown = self._level(depth)
            levels = self.model.levels(view)
            dropdown.description = levels[min(depth, len(levels) - 1)]
            dropdown.options = [("(all)", ""), *kids]
            value = lineage[depth] if depth < len(lineage) else ""
            dropdown.value = value
            dropdown.layout.display = ""
            depth += 1
            if not value:
                break
            parent = value
        for dropdown in self.levels[depth:]:
            dropdown.layout.display = "none"

    def _level(self, depth: int) -> widgets.Dropdown:
        while len(self.levels) <= depth:
            dropdown = widgets.Dropdown(
                options=[("(all)", "")],
                value="",
                layout=widgets.Layout(width="420px"),
                style={"description_width": "70px"},
            )
            dropdown.add_class("obskit-explorer-level")
            dropdown.add_class(f"obskit-explorer-level-{len(self.levels)}")
            dropdown.observe(self._on_level, names="value")
            self.levels.append(dropdown)
            self._path.children = (*self._path.children, dropdown)
        return self.levels[depth]

    def _slider(self, start: object, end: object) -> widgets.SelectionRangeSlider:
        options = _slider_options(self.model)
        ticks = [t for _, t in options]
        index = (0, len(ticks) - 1)
        if start is not None or end is not None:
            index = (
                _nearest(ticks, start, 0),
                _nearest(ticks, end, len(ticks) - 1),
            )
            if index[0] >= index[1]:
                raise InvestigationError(
                    f"the time range {start!r} – {end!r} is empty or reversed; give start < end"
                )
        slider = widgets.SelectionRangeSlider(
            options=options,
            index=index,
            description="time (UTC)",
            continuous_update=False,
            layout=widgets.Layout(width="640px"),
        )
        slider.add_class("obskit-explorer-time")
        return slider


def _problem_html(row: object) -> str:
    """A failing stream of a watch's status, escaped: what it is, its state, how many errors
    and the last one."""
    out = f"<b>{html.escape(f'{row.source} {row.what}')}</b>: {html.escape(str(row.state))}"
    errors = row.errors
    if not _missing(errors) and errors:
        out += f" ({int(errors)} error{'' if int(errors) == 1 else 's'})"
    if not _missing(row.last_error):
        out += f" — {html.escape(_cut(str(row.last_error), 300))}"
    return out


def _slider_options(model: ExplorerModel) -> list[tuple[str, pd.Timestamp]]:
    """``(label, time)`` of the time slider's positions (a minute from now without data)."""
    ticks = model.ticks()
    if len(ticks) < 2:
        now = pd.Timestamp.now(tz="UTC").floor("min")
        ticks = [now, now + pd.Timedelta(minutes=1)]
    multi_day = ticks[0].normalize() != ticks[-1].normalize()
    return [(_tick_label(t, multi_day), t) for t in ticks]


def _same_traces(shown: Sequence, new: Sequence) -> bool:
    """Whether a figure's traces can be updated in place to ``new`` (same count and types)."""
    return len(shown) == len(new) and all(a.type == b.type for a, b in zip(shown, new, strict=True))


_X_RANGE = re.compile(r"^xaxis\d*\.range(?:\[([01])\])?$")


def _zoomed_range(data: Mapping) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The x range a browser relayout message sets (``xaxis3.range[0]``, ``xaxis.range``),
    as UTC times; None when it sets none (an autorange, a legend click, a resize).

    Plotly.js sends a date axis' range as text (``"2024-05-14 08:52:13.5"``, UTC here since
    the timeline draws UTC) or as epoch milliseconds.
    """
    ends: dict[int, object] = {}
    for key, value in data.items():
        m = _X_RANGE.match(str(key))
        if m is None:
            continue
        if m.group(1) is None and isinstance(value, list | tuple) and len(value) == 2:
            ends.setdefault(0, value[0])
            ends.setdefault(1, value[1])
        elif m.group(1) is not None:
            ends.setdefault(int(m.group(1)), value)
    if len(ends) != 2:
        return None
    out = []
    for i in (0, 1):
        value = ends[i]
        try:
            # plotly sends epoch milliseconds or text
            ms = isinstance(value, int | float)
            out.append(
                as_utc(pd.Timestamp(float(value), unit="ms") if ms else str(value), "x range")
            )
        except (TypeError, ValueError, ObskitError):
            return None
    lo, hi = out
    return (lo, hi) if lo < hi else None


def _nearest(ticks: list[pd.Timestamp], value: object, default: int) -> int:
    if value is None:
        return default
    ts = as_utc(value, "start and end", error=InvestigationError)
    distances = [abs((t - ts).total_seconds()) for t in ticks]
    return int(np.argmin(distances))
