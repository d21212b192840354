"""The correlated timeline: metrics, events, log volume and anomalies on one shared time axis.

:func:`timeline` stacks rows that share one x axis (zooming one zooms all):

1. one row per chosen metric, a line per series (entity, plus the labels that tell its series
   apart), the :data:`MAX_LINES` series that move most drawn as lines and the rest as one
   shaded min–max band;
2. events as markers in one lane per source: Kubernetes Warning vs Normal, audit, Falco and
   detections coloured by severity, the reason or rule and the message in the hover;
3. log volume per time bucket, stacked by level.

Anomaly windows from the analysis are shaded across all rows. Coverage gaps are drawn: where a
row has no data (Events expired, a scrape gap, a page cap) it is greyed and says ``no data``, so
an empty stretch is never read as "nothing happened". So is a security collector's absence
(:func:`obskit.analysis.coverage.coverage_gaps`): while Falco had no pod running on a node the
focus ran on, the Falco lane is greyed and says ``falco not running on <node>``; a log shipper's
absence greys the log row the same way.

Display only is downsampled: every trace holds at most ``max_points`` points
(:data:`DISPLAY_POINTS` by default; MinMaxLTTB, see :mod:`obskit.views._downsample`), so a
figure over millions of samples stays small. The frames are not changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from obskit import schema
from obskit.errors import InvestigationError
from obskit.views import _safe
from obskit.views._downsample import downsample, gap_breaks
from obskit.views._select import Focus, describe, normalise_focus, select, span

if TYPE_CHECKING:
    from obskit.investigation import Investigation

__all__ = ["DISPLAY_POINTS", "INSTANCE_LABELS", "MAX_LINES", "SEVERITY_COLORS", "timeline"]

#: The bound: at most this many points in any one trace of a timeline (by default).
DISPLAY_POINTS = 2000

#: Series drawn as lines in one metric row; the others are summarised as a min–max band.
MAX_LINES = 8

#: Default metrics, first three present in the focused data, by what the focus is.
_POD_METRICS = (
    "container_memory_working_set_bytes",
    "container_cpu_usage_seconds_total",
    "http_request_duration_seconds",
    "http_requests_total",
    "kube_pod_container_status_restarts_total",
)
_NODE_METRICS = (
    "node_memory_MemAvailable_bytes",
    "node_filesystem_avail_bytes",
    "node_cpu_seconds_total",
    "kube_node_status_condition",
)
_DEFAULT_ROWS = 3

SEVERITY_COLORS: dict[str, str] = {
    "debug": "#9ca3af",
    "info": "#60a5fa",
    "notice": "#8b5cf6",
    "warning": "#f59e0b",
    "error": "#dc2626",
    "critical": "#7f1d1d",
    "unknown": "#c8b99c",
}
_LANE_ORDER = ("kubernetes", "audit", "falco", "detection")
_ALERT_SOURCES = ("falco", "detection")
_SYMBOLS = {"kubernetes": "circle", "audit": "square", "falco": "diamond", "detection": "star"}
_GAP_FILL = "rgba(107,114,128,0.16)"
_ANOMALY_FILL = "rgba(220,38,38,0.10)"
_NICE_BUCKETS = [
    pd.Timedelta(s)
    for s in (
        "1s",
        "2s",
        "5s",
        "10s",
        "15s",
        "30s",
        "1min",
        "2min",
        "5min",
        "10min",
        "15min",
        "30min",
        "1h",
        "2h",
        "3h",
        "6h",
        "12h",
        "1D",
        "2D",
        "7D",
    )
]
_TARGET_BUCKETS = 120
_LEGEND_CHARS = 42
_PROVENANCE = ("timestamp", "value", "metric", "key_source", "origin")
#: Labels that name one instance of an entity (a container's cgroup, a scrape target), not a
#: dimension of it: series that differ only in these are one line (a restarted container).
INSTANCE_LABELS = frozenset(
    {
        "id",
        "name",
        "image",
        "image_id",
        "uid",
        "pod_uid",
        "container_id",
        "instance",
        "endpoint",
        "job",
        "metrics_path",
        "service",
    }
)


@dataclass
class _Row:
    """One row of the figure, computed before anything is drawn."""

    kind: str
    title: str
    traces: list[go.Scatter | go.Bar] = field(default_factory=list)
    gaps: list[tuple[int, int, float | None, float | None, str]] = field(default_factory=list)
    lanes: list[str] = field(default_factory=list)
    note: str = ""
    height: float = 1.0


def timeline(
    inv: Investigation,
    focus: Focus = None,
    metrics: str | Sequence[str] | None = None,
    start: object = None,
    end: object = None,
    anomalies: pd.DataFrame | None = None,
    max_points: int = DISPLAY_POINTS,
) -> go.Figure:
    """Metrics, events and log volume of a focused entity, stacked on one shared time axis.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    focus : mapping, optional
        Any node of the hierarchy as key columns, e.g. ``{"namespace": "shop", "workload":
        "checkout"}`` (values may be lists); every row is filtered to that subtree. The
        ``focus`` column of :func:`obskit.views.hierarchy_frame` gives it for any node.
    metrics : str or list of str, optional
        Metric names, one row each. Default: for a node, the first three of node memory,
        filesystem, CPU; otherwise of container memory, CPU, request latency and rate; else
        the three metrics with most samples.
    start, end : timestamp, optional
        The time range (default: the investigation's window, else its data).
    anomalies : DataFrame, optional
        Anomaly windows from the analysis: key columns (any of ``obskit.KEY``), ``onset``, and
        ``end`` or ``peak``; optional ``score``, ``metric``, ``description``. Windows on the
        focused entity, inside it or around it are shaded across all rows.
    max_points : int
        The display bound: no trace holds more points (default :data:`DISPLAY_POINTS`).

    Returns
    -------
    plotly.graph_objects.Figure
        Rows share one x axis (type ``date``, x values are milliseconds since the epoch, UTC).
        Trace names, hover text and tick labels from the data are escaped.

    Raises
    ------
    InvestigationError
        For a focus or metric the investigation does not have (with the closest names), a bad
        time range, or an ``anomalies`` frame without ``onset``.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
    >>> inv.timeline(focus={"namespace": "shop", "workload": "checkout"})  # doctest: +SKIP
    """
    if not isinstance(max_points, int | np.integer) or max_points < 10:
        raise InvestigationError(f"max_points must be an integer >= 10, got {max_points!r}")
    # coverage of events and logs is the sources' (did they record anything then?), so it is
    # read from the whole window; a quiet entity under a recording source is not a gap
    whole = select(inv, None, start, end)
    sub = select(whole, focus)
    names = _metric_names(inv, sub, metrics, focus)
    window = span(sub)
    if window is None:
        fig = go.Figure()
        fig.update_layout(title={"text": f"Timeline: {_safe.text(describe(focus))}: no data"})
        return fig
    lo, hi = (int(t.value) for t in window)
    windows = _anomaly_windows(anomalies, focus, lo, hi)
    rows = [_metric_row(sub.metrics, name, lo, hi, max_points) for name in names]
    unwatched = _collector_gaps(whole, sub, focus, lo, hi)
    rows.append(_events_row(sub.events, whole.events, windows, lo, hi, max_points, unwatched))
    logs = _logs_row(sub.logs, whole.logs, lo, hi, max_points)
    for gap in unwatched.loc[unwatched["role"] == "logs"].itertuples():
        logs.gaps.append((gap.start.value, gap.end.value, None, None, _unwatched(gap)))
    rows.append(logs)
    return _render(rows, windows, lo, hi, focus)


def _collector_gaps(whole: Investigation, sub: Investigation, focus: Focus, lo: int, hi: int):
    """Falco's and the log shippers' coverage gaps on the nodes the focus ran on."""
    from obskit.analysis.coverage import coverage_gaps

    window = (pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC"))
    gaps = coverage_gaps(
        whole.inventory,
        window=window,
        security_only=True,
        changes=whole.changes,
        events=whole.events,
    )
    if focus is not None and len(gaps):
        nodes = set(sub.inventory["node"].dropna().astype(str))
        nodes |= set(normalise_focus(focus).get("node") or [])
        gaps = gaps.loc[gaps["node"].isin(nodes)]
    return gaps.loc[gaps["collector"].isin(["falco", "log shipper"])]


def _unwatched(gap) -> str:
    return f"{gap.name} not running on {gap.node}"


# --- choosing metrics ------------------------------------------------------------------------


def _names(column: pd.Series) -> set[str]:
    """Distinct values of a text column, without converting millions of rows."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        used = np.unique(column.cat.codes.to_numpy())
        return {str(column.cat.categories[c]) for c in used if c >= 0}
    return set(column.dropna().astype(str).unique())


def _rows_of(column: pd.Series, value: str) -> np.ndarray:
    """Boolean mask of ``column == value``, on the codes when the column is categorical."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if value not in categories:
            return np.zeros(len(column), dtype=bool)
        return column.cat.codes.to_numpy() == categories.get_loc(value)
    return (column == value).fillna(False).to_numpy(dtype=bool)


def _metric_names(
    inv: Investigation, sub: Investigation, metrics: str | Sequence[str] | None, focus: Focus
) -> list[str]:
    available = _names(inv.metrics["metric"])
    if metrics is not None:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        for name in names:
            if name not in available:
                close = difflib.get_close_matches(str(name), sorted(available), n=3)
                hint = (
                    f"; did you mean {', '.join(map(repr, close))}?"
                    if close
                    else f"; available: {', '.join(sorted(available)[:12]) or 'none'}"
                )
                raise InvestigationError(f"no metric {name!r} in this investigation{hint}")
        return names
    present = sub.metrics["metric"].value_counts()
    present = present[present > 0]
    wanted = normalise_focus(focus)
    node_only = "node" in wanted and not ({"namespace", "workload", "pod"} & set(wanted))
    preferred = _NODE_METRICS if node_only else _POD_METRICS
    # a series named after its query keeps a suffix ("...seconds_total.rate5m", "....p99")
    names = []
    for base in preferred:
        names += [str(m) for m in present.index if m == base or str(m).startswith(base + ".")][:1]
    names = names[:_DEFAULT_ROWS]
    if not names:
        names = [str(m) for m in present.index[:_DEFAULT_ROWS]]
    return names


# --- metric rows -----------------------------------------------------------------------------


def _ns(times: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC)."""
    return np.asarray(times.array.as_unit("ns").asi8)


def _ms(ns: np.ndarray | float) -> np.ndarray:
    return np.asarray(ns, dtype=np.float64) / 1e6


def _codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per distinct combination of ``columns`` (NA is a value)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    span = 1
    for column in columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy().astype(np.int64) + 1
            size = len(values.cat.categories) + 1
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            codes, size = codes.astype(np.int64) + 1, len(uniques) + 1
        if span * size >= 2**62:  # renumber before the product could overflow
            combined, span = _dense(combined)
        combined = combined * size + codes
        span *= size
    return combined if len(columns) == 1 and span < 2**15 else _dense(combined)[0]


def _dense(codes: np.ndarray) -> tuple[np.ndarray, int]:
    dense, uniques = pd.factorize(codes)
    return dense.astype(np.int64), len(uniques)


def _varies(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return len(codes) > 0 and codes.min() != codes.max()
    return values.nunique(dropna=False) > 1


def _metric_row(metrics: pd.DataFrame, name: str, lo: int, hi: int, max_points: int) -> _Row:
    row = _Row("metric", name)
    mask = _rows_of(metrics["metric"], name) & metrics["value"].notna().to_numpy()
    if not mask.any():
        row.note = f"no {name} samples here"
        row.gaps.append((lo, hi, None, None, "no data"))
        return row
    frame = metrics if mask.all() else metrics.loc[mask]
    t = _ns(frame["timestamp"])
    v = frame["value"].to_numpy(dtype=np.float64)
    ident = [
        c
        for c in frame.columns
        if c not in _PROVENANCE and c not in INSTANCE_LABELS and _varies(frame[c])
    ]
    codes = _codes(frame, ident) if ident else np.zeros(len(frame), dtype=np.int64)
    # loaded frames are in time order, so a stable sort on the series keeps each series sorted
    # (_line sorts a series that is not); small codes sort by radix
    order = np.argsort(codes.astype(np.int16) if codes.max() < 2**15 else codes, kind="stable")
    t, v, codes = t[order], v[order], codes[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1])
    ends = np.concatenate([starts[1:], [len(codes)]])
    step = _typical_step(t, codes)
    threshold = 3 * step
    row.gaps += [(a, b, None, None, "no data") for a, b in _metric_gaps(t, codes, lo, hi, step)]
    lows, highs = np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts)
    rank = np.lexsort((-highs, -(highs - lows)))  # most movement first, then highest
    shown, rest = rank[:MAX_LINES], rank[MAX_LINES:]
    labels = _series_labels(frame.iloc[order[starts]], ident, shown)
    for position, full in zip(shown, labels, strict=True):
        a, b = starts[position], ends[position]
        x, y = _line(t[a:b], v[a:b], threshold, max_points)
        row.traces.append(
            go.Scatter(
                x=_ms(x),
                y=y,
                mode="lines",
                name=_short(full),
                meta=full,
                line={"width": 1.6},
                connectgaps=False,
                hovertemplate="%{meta}<br>%{x|%Y-%m-%d %H:%M:%S} UTC<br>%{y:.4~s}<extra></extra>",
            )
        )
    if len(rest):
        keep = np.zeros(len(codes), dtype=bool)
        for position in rest:
            keep[starts[position] : ends[position]] = True
        row.traces += _band(t[keep], v[keep], len(rest), lo, hi, max_points)
    return row


def _typical_step(t: np.ndarray, codes: np.ndarray) -> float:
    """Median spacing of consecutive samples of one series (a sample of them when many)."""
    steps = np.diff(t)
    steps = steps[(codes[1:] == codes[:-1]) & (steps > 0)]
    if not len(steps):
        return 60e9
    if len(steps) > 200_000:
        steps = steps[:: len(steps) // 200_000]
    return float(np.median(steps))


def _metric_gaps(t, codes, lo: int, hi: int, step: float) -> list[tuple[int, int]]:
    """Stretches of [lo, hi] that no series covers (a series covers ±1.5 steps around it)."""
    reach = 1.5 * step
    steps = np.diff(t)
    breaks = (codes[1:] != codes[:-1]) | (steps > 2 * reach)
    seg_start = np.concatenate([[0], np.flatnonzero(breaks) + 1])
    seg_end = np.concatenate([np.flatnonzero(breaks), [len(t) - 1]])
    intervals = np.stack([t[seg_start] - reach, t[seg_end] + reach], axis=1)
    return _complement(intervals, lo, hi, min_width=2 * step)


def _complement(intervals: np.ndarray, lo: int, hi: int, min_width: float) -> list[tuple]:
    """The parts of [lo, hi] outside the union of ``intervals``, at least ``min_width`` wide."""
    if not len(intervals):
        return [(lo, hi)]
    intervals = intervals[np.argsort(intervals[:, 0], kind="stable")]
    reach = np.maximum.accumulate(intervals[:, 1])
    gaps = []
    cursor = lo
    for start, stop in zip(intervals[:, 0], reach, strict=True):
        if start > cursor and start - cursor >= min_width:
            gaps.append((int(cursor), int(min(start, hi))))
        cursor = max(cursor, stop)
        if cursor >= hi:
            break
    if hi - cursor >= min_width:
        gaps.append((int(cursor), int(hi)))
    return [(a, b) for a, b in gaps if b > a]


def _line(t: np.ndarray, v: np.ndarray, threshold: float, max_points: int):
    """At most ``max_points`` points of one series, broken (NaN) across its widest gaps."""
    if not np.all(t[1:] >= t[:-1]):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    breaks = gap_breaks(t, threshold, limit=max_points // 10)
    idx = downsample(t, v, max_points - len(breaks))
    x = t[idx].astype(np.float64)
    y = v[idx]
    if len(breaks):
        x = np.concatenate([x, (t[breaks].astype(np.float64) + t[breaks + 1]) / 2])
        y = np.concatenate([y, np.full(len(breaks), np.nan)])
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return x, y


def _band(t, v, count: int, lo: int, hi: int, max_points: int) -> list[go.Scatter]:
    """The other series as one min–max envelope per time bucket."""
    buckets = max(min(max_points, 1000), 2)
    width = (hi - lo) / buckets
    bucket = np.clip(((t - lo) / width).astype(np.int64), 0, buckets - 1)
    low = np.full(buckets, np.inf)
    high = np.full(buckets, -np.inf)
    np.minimum.at(low, bucket, v)
    np.maximum.at(high, bucket, v)
    empty = ~np.isfinite(low)
    low[empty], high[empty] = np.nan, np.nan
    x = _ms(lo + (np.arange(buckets) + 0.5) * width)
    name = f"{count} more series (min–max)"
    style = {
        "mode": "lines",
        "line": {"width": 0, "color": "rgba(107,114,128,0.5)"},
        "connectgaps": False,
        "legendgroup": name,
    }
    return [
        go.Scatter(x=x, y=low, showlegend=False, hoverinfo="skip", **style),
        go.Scatter(
            x=x,
            y=high,
            name=name,
            fill="tonexty",
            fillcolor="rgba(107,114,128,0.22)",
            hovertemplate=f"{name}<br>%{{x|%H:%M:%S}} UTC: up to %{{y:.4~s}}<extra></extra>",
            **style,
        ),
    ]


def _series_labels(first_rows: pd.DataFrame, ident: list[str], shown: np.ndarray) -> list[str]:
    """Escaped name of each ``shown`` series (positions in ``first_rows``, a row per series):
    its entity, plus the labels that tell it apart from the other series of that entity."""
    everyone = _entities(first_rows)
    # only the shown series and the series that share their entity are read row by row: a
    # cluster's timeline shows a few of thousands
    related = np.flatnonzero(np.isin(everyone, everyone[shown]))
    first_rows = first_rows.iloc[related]
    records = first_rows.astype("object").where(first_rows.notna(), None).to_dict("records")
    entities = [_entity(r) for r in records]
    extra = [c for c in ident if c not in schema.KEY]
    by_entity: dict[str, list[int]] = {}
    for i, entity in enumerate(entities):
        by_entity.setdefault(entity, []).append(i)
    out = list(entities)
    for members in by_entity.values():
        if len(members) < 2:
            continue
        varying = [c for c in extra if len({records[i].get(c) for i in members}) > 1]
        for i in members:
            parts = [f"{c}={records[i].get(c)}" for c in varying if records[i].get(c) is not None]
            if parts:
                out[i] = f"{entities[i]} {' '.join(parts)}"
    where = {position: i for i, position in enumerate(related)}
    return [_safe.text(out[where[position]], 160) for position in shown]


def _entities(rows: pd.DataFrame) -> np.ndarray:
    """:func:`_entity` of every row, reading columns rather than making a dict of each row."""
    columns = {
        c: rows[c].astype("object").to_numpy() if c in rows.columns else np.full(len(rows), None)
        for c in ("pod", "container", "node", "workload", "namespace", "cluster")
    }

    def one(i: int) -> str:
        # entity_name reads NaN and NA as missing: no per-cell isna needed
        return _entity({c: v[i] for c, v in columns.items()})

    return np.array([one(i) for i in range(len(rows))], dtype=object)


def _entity(record: dict) -> str:
    """The name a series or anomaly is shown by: its entity without the namespace, or "all"."""
    return schema.entity_name(record, namespace=False) or "all"


def _short(escaped: str) -> str:
    """A legend-sized name (the full one is in the hover)."""
    import html

    raw = html.unescape(escaped)
    return escaped if len(raw) <= _LEGEND_CHARS else _safe.text(raw, _LEGEND_CHARS)


# --- events ----------------------------------------------------------------------------------


def _events_row(
    events: pd.DataFrame,
    recorded: pd.DataFrame,
    windows: pd.DataFrame,
    lo: int,
    hi: int,
    max_points: int,
    unwatched: pd.DataFrame,
) -> _Row:
    """Event markers, one lane per source; a lane is grey where its source recorded nothing,
    and the Falco lane where Falco was not running on a node the focus ran on."""
    row = _Row("events", "events")
    sources = [str(s) for s in recorded["source"].dropna().unique()]
    falco_gaps = unwatched.loc[unwatched["collector"] == "falco"]
    if len(falco_gaps) and "falco" not in sources:
        sources.append("falco")
    lanes = [s for s in _LANE_ORDER if s in sources] + sorted(set(sources) - set(_LANE_ORDER))
    if len(windows):
        lanes.append("anomaly")
    if not lanes:
        row.note = "no events here"
        row.gaps.append((lo, hi, None, None, "no events"))
        row.lanes = ["events"]
        return row
    row.lanes = lanes
    row.height = 0.45 + 0.2 * len(lanes)
    severity = events["severity"].astype("object").fillna("unknown").to_numpy()
    source = events["source"].astype("object").to_numpy()
    recorded_t = _ns(recorded["timestamp"])
    recorded_source = recorded["source"].astype("object").to_numpy()
    for lane_index, lane in enumerate(lanes):
        if lane == "anomaly":
            row.traces.append(_anomaly_markers(windows, lane_index))
            continue
        in_lane = source == lane
        # an alert source is silent when nothing fires: its silence is not missing data
        gaps = (
            []
            if lane in _ALERT_SOURCES
            else _sparse_gaps(np.sort(recorded_t[recorded_source == lane]), lo, hi)
        )
        for a, b in gaps:
            row.gaps.append((a, b, lane_index - 0.42, lane_index + 0.42, f"no {lane} events"))
        if lane == "falco":
            for gap in falco_gaps.itertuples():
                where = (gap.start.value, gap.end.value, lane_index - 0.42, lane_index + 0.42)
                row.gaps.append((*where, _unwatched(gap)))
        groups = _event_groups(lane, severity[in_lane])
        positions = np.flatnonzero(in_lane)
        for group_name, group_mask, color, size in groups:
            picked = events.iloc[positions[group_mask]]
            row.traces.append(
                _event_trace(picked, group_name, lane, lane_index, color, size, lo, hi, max_points)
            )
    return row


def _event_groups(lane: str, severity: np.ndarray):
    """(name, mask, colour, size) per trace of a lane: Warning/Normal, or per severity."""
    if lane == "kubernetes":
        warning = np.isin(severity, ["warning", "error", "critical"])
        return [
            (name, mask, color, size)
            for name, mask, color, size in (
                ("Kubernetes Warning", warning, SEVERITY_COLORS["warning"], 10),
                ("Kubernetes Normal", ~warning, SEVERITY_COLORS["info"], 6),
            )
            if mask.any()
        ]
    out = []
    for level in (*reversed(schema.SEVERITIES), "unknown"):
        mask = severity == level
        if mask.any():
            size = 6 + 2 * (schema.SEVERITIES.index(level) if level in schema.SEVERITIES else 0)
            out.append((f"{lane} {level}", mask, SEVERITY_COLORS[level], min(size, 14)))
    return out


def _event_trace(
    picked: pd.DataFrame,
    name: str,
    lane: str,
    lane_index: int,
    color: str,
    size: int,
    lo: int,
    hi: int,
    max_points: int,
) -> go.Scatter:
    t = _ns(picked["timestamp"])
    counts = np.ones(len(picked), dtype=np.int64)
    hover_rows = picked
    if len(picked) > max_points:  # one marker per time bin, with how many it stands for
        width = (hi - lo + 1) / max_points
        bins = np.clip(((t - lo) / width).astype(np.int64), 0, max_points - 1)
        _, first, counts = np.unique(bins, return_index=True, return_counts=True)
        hover_rows = picked.iloc[first]
        t = t[first]
    hover = _event_hover(hover_rows)
    if (counts > 1).any():
        hover = np.array(
            [
                (
                    f"<b>{n} {_safe.text(name)} events in this bin</b>, the first:<br>"
                    if n > 1
                    else ""
                )
                + h
                for n, h in zip(counts, hover, strict=True)
            ],
            dtype=object,
        )
    symbol = _SYMBOLS.get(lane, "circle")
    if name == "Kubernetes Warning":
        symbol = "triangle-up"
    return go.Scatter(
        x=_ms(t),
        y=np.full(len(t), lane_index, dtype=np.float64),
        mode="markers",
        name=_safe.text(name, _LEGEND_CHARS),
        marker={
            "color": color,
            "size": size,
            "symbol": symbol,
            "line": {"width": 0.5, "color": "#1f2937"},
        },
        hovertext=list(hover),
        hovertemplate="%{hovertext}<extra></extra>",
    )


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype="object")


def _event_hover(rows: pd.DataFrame) -> list[str]:
    """Hover text per event; every value escaped."""
    times = rows["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    reason = _safe.texts(_column(rows, "reason"), 160)
    rule = _safe.texts(_column(rows, "rule"), 160)
    source = _safe.texts(_column(rows, "source"))
    severity = _safe.texts(_column(rows, "severity"))
    kind = _safe.texts(_column(rows, "object_kind"))
    obj = _safe.texts(_column(rows, "object_name"))
    ns = _safe.texts(_column(rows, "namespace"))
    pod = _safe.texts(_column(rows, "pod"))
    node = _safe.texts(_column(rows, "node"))
    user = _safe.texts(_column(rows, "user"))
    verb = _safe.texts(_column(rows, "verb"))
    count = _column(rows, "count").astype("object").to_numpy()
    messages = rows["message"].astype("object").to_numpy() if "message" in rows else []
    out = []
    for i in range(len(rows)):
        title = reason[i] or rule[i] or "(no reason)"
        lines = [f"<b>{title}</b>", f"{times[i]} UTC · {source[i]} · {severity[i]}"]
        if rule[i] and rule[i] != reason[i]:
            lines.append(f"rule: {rule[i]}")
        if obj[i]:
            lines.append(f"object: {kind[i]}/{obj[i]}" if kind[i] else f"object: {obj[i]}")
        where = "/".join(p for p in (ns[i], pod[i]) if p) or node[i]
        if where:
            lines.append(f"on: {where}")
        if user[i]:
            lines.append(f"user: {user[i]}" + (f" · verb: {verb[i]}" if verb[i] else ""))
        if count[i] is not None and not pd.isna(count[i]) and int(count[i]) > 1:
            lines.append(f"count: {int(count[i])}")
        if len(messages):
            message = _safe.lines(messages[i], 200, max_lines=4)
            if message:
                lines.append(message)
        out.append("<br>".join(lines))
    return out


def _sparse_gaps(t: np.ndarray, lo: int, hi: int) -> list[tuple[int, int]]:
    """No-data stretches of an irregular signal (sorted ``t``).

    Before its first and after its last record (Events expired, collection started late) when
    that is longer than 5 mean spacings, and silences inside longer than 50 mean spacings: a
    source that records bursts has long quiet stretches that are not gaps.
    """
    if not len(t):
        return [(lo, hi)]
    width = hi - lo
    mean = (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else width
    edge = max(5 * mean, 0.02 * width)
    inside = max(50 * mean, 0.1 * width)
    gaps = []
    if t[0] - lo > edge:
        gaps.append((lo, int(t[0])))
    steps = np.diff(t)
    for i in np.flatnonzero(steps > inside):
        gaps.append((int(t[i]), int(t[i + 1])))
    if hi - t[-1] > edge:
        gaps.append((int(t[-1]), hi))
    return [(max(a, lo), min(b, hi)) for a, b in gaps if min(b, hi) > max(a, lo)]


# --- anomalies -------------------------------------------------------------------------------


def _anomaly_windows(anomalies: pd.DataFrame | None, focus: Focus, lo: int, hi: int):
    columns = [*schema.KEY, "onset", "end", "score", "metric", "description"]
    if anomalies is None:
        return pd.DataFrame(columns=columns)
    if not isinstance(anomalies, pd.DataFrame) or "onset" not in anomalies.columns:
        raise InvestigationError(
            "anomalies must be a DataFrame with key columns, 'onset', and 'end' or 'peak'; got "
            f"columns {list(getattr(anomalies, 'columns', []))!r}"
        )
    frame = anomalies.copy()
    try:
        onset = pd.to_datetime(frame["onset"], utc=True)
        stop = pd.to_datetime(frame["end"], utc=True) if "end" in frame else None
        peak = pd.to_datetime(frame["peak"], utc=True) if "peak" in frame else None
    except (TypeError, ValueError) as exc:
        raise InvestigationError(f"anomalies onset/end/peak must be timestamps: {exc}") from exc
    end = stop if stop is not None else pd.Series(pd.NaT, index=frame.index, dtype=schema.TIME)
    if peak is not None:
        end = end.fillna(peak)
    minimum = pd.Timedelta(int((hi - lo) / 200), "ns")
    end = end.where(end.notna() & (end > onset), onset + minimum)
    frame["onset"], frame["end"] = onset, end
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    keep = frame["onset"].notna()
    for column, values in normalise_focus(focus).items():
        keep &= frame[column].isna() | frame[column].astype("object").isin(values)
    keep &= (_ns_series(frame["end"]) >= lo) & (_ns_series(frame["onset"]) <= hi)
    frame = frame.loc[keep, columns]
    if "score" in frame and frame["score"].notna().any():
        frame = frame.sort_values("score", ascending=False, na_position="last")
    return frame.head(200).reset_index(drop=True)


def _ns_series(times: pd.Series) -> pd.Series:
    return pd.Series(_ns(times.astype(schema.TIME)), index=times.index)


def _anomaly_markers(windows: pd.DataFrame, lane_index: int) -> go.Scatter:
    hover = []
    for row in windows.to_dict("records"):
        entity = _safe.text(
            _entity({k: v if pd.notna(v) else None for k, v in row.items() if k in schema.KEY})
        )
        lines = [
            f"<b>anomaly: {entity}</b>",
            f"{row['onset']:%H:%M:%S} – {row['end']:%H:%M:%S} UTC",
        ]
        if pd.notna(row.get("metric")) and row.get("metric") is not None:
            lines.append(f"metric: {_safe.text(row['metric'])}")
        if row.get("score") is not None and pd.notna(row.get("score")):
            lines.append(f"score: {float(row['score']):.2f}")
        if row.get("description") is not None and pd.notna(row.get("description")):
            lines.append(_safe.lines(row["description"], 200, max_lines=3))
        hover.append("<br>".join(lines))
    return go.Scatter(
        x=_ms(_ns(windows["onset"])),
        y=np.full(len(windows), lane_index, dtype=np.float64),
        mode="markers",
        name="anomaly onset",
        marker={
            "color": "#dc2626",
            "size": 11,
            "symbol": "x-thin-open",
            "line": {"width": 2, "color": "#dc2626"},
        },
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    )


# --- logs ------------------------------------------------------------------------------------


def _bucket(lo: int, hi: int) -> int:
    """A round bucket width (ns) giving about ``_TARGET_BUCKETS`` buckets over [lo, hi]."""
    wanted = (hi - lo) / _TARGET_BUCKETS
    for width in _NICE_BUCKETS:
        if width.value >= wanted:
            return int(width.value)
    return int(np.ceil(wanted))


def _logs_row(
    logs: pd.DataFrame, recorded: pd.DataFrame, lo: int, hi: int, max_points: int
) -> _Row:
    """Log volume per bucket stacked by level; grey where no log line was collected at all."""
    row = _Row("logs", "log lines per bucket", height=0.8)
    collected = np.sort(_ns(recorded["timestamp"]))
    row.gaps += [
        (a, b, None, None, "no log lines collected") for a, b in _sparse_gaps(collected, lo, hi)
    ]
    if not len(logs):
        row.note = "no log lines for this focus"
        return row
    width = _bucket(lo, hi)
    while (hi - lo) / width > max_points:
        width *= 2
    start = lo - lo % width
    t = _ns(logs["timestamp"])
    buckets = int((hi - start) // width) + 1
    bucket = np.clip((t - start) // width, 0, buckets - 1)
    levels = [*schema.SEVERITIES, "unknown"]
    level = logs["level"].cat.codes.to_numpy().astype(np.int64)
    level[level < 0] = len(levels) - 1
    counts = np.bincount(bucket * len(levels) + level, minlength=buckets * len(levels))
    counts = counts.reshape(buckets, len(levels))
    x = _ms(start + (np.arange(buckets) + 0.5) * width)
    for index in reversed(range(len(levels))):  # most severe at the bottom of the stack
        column = counts[:, index]
        if not column.any():
            continue
        name = levels[index]
        row.traces.append(
            go.Bar(
                x=x,
                y=column,
                name=name,
                marker={"color": SEVERITY_COLORS[name], "line_width": 0},
                width=width / 1e6 * 0.92,
                hovertemplate=f"{name}: %{{y}} lines<br>%{{x|%H:%M:%S}} UTC<extra></extra>",
            )
        )
    row.title = f"log lines per {_duration(width)}"
    return row


def _unit(metric: str) -> str:
    """Tick suffix from the metric's name (Prometheus naming): bytes and seconds, not rates."""
    metric = metric.split(".")[0]
    if metric.endswith("_bytes"):
        return "B"
    if metric.endswith("_seconds"):
        return "s"
    return ""


def _duration(ns: int) -> str:
    seconds = ns / 1e9
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


# --- rendering -------------------------------------------------------------------------------


def _render(rows: list[_Row], windows: pd.DataFrame, lo: int, hi: int, focus: Focus):
    """The figure: one subplot a row on a shared time axis, anomaly bands through them all."""
    fig = _subplots(rows)
    for index, row in enumerate(rows, start=1):
        _add_row(fig, row, index, lo, hi)
    _add_anomaly_bands(fig, windows)
    _add_gap_legend(fig, len(rows))
    _lay_out(fig, rows, lo, hi, focus)
    return fig


def _subplots(rows: list[_Row]) -> go.Figure:
    """Empty stacked subplots sharing their x axis, each with its row's (escaped) title."""
    titles = [
        _safe.text(r.title, 90) + (f"  ({_safe.text(r.note)})" if r.note else "") for r in rows
    ]
    fig = make_subplots(
        rows=len(rows),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.045,
        row_heights=[r.height for r in rows],
        subplot_titles=titles,
    )
    fig.update_annotations(font_size=12, xanchor="left", x=0)  # the row titles, left-aligned
    return fig


def _add_row(fig: go.Figure, row: _Row, index: int, lo: int, hi: int) -> None:
    """One row's traces with a legend beside it, its y axis and its coverage gaps."""
    legend = "legend" if index == 1 else f"legend{index}"
    for trace in row.traces:
        trace.legend = legend
        fig.add_trace(trace, row=index, col=1)
    axis = fig.layout["yaxis" if index == 1 else f"yaxis{index}"]
    top = axis.domain[1]
    fig.layout[legend] = {
        "y": top,
        "yanchor": "top",
        "x": 1.01,
        "xanchor": "left",
        "font": {"size": 10},
        "tracegroupgap": 0,
        "bgcolor": "rgba(255,255,255,0)",
    }
    if row.kind == "events":
        fig.update_yaxes(
            row=index,
            col=1,
            tickmode="array",
            tickvals=list(range(len(row.lanes))),
            ticktext=[_safe.text(s) for s in row.lanes],
            range=[len(row.lanes) - 0.5, -0.5],
            showgrid=False,
            zeroline=False,
        )
    elif row.kind == "logs":
        fig.update_yaxes(row=index, col=1, rangemode="tozero")
    else:
        fig.update_yaxes(
            row=index, col=1, exponentformat="SI", tickformat="~s", ticksuffix=_unit(row.title)
        )
    _draw_gaps(fig, row, index, lo, hi)


def _add_anomaly_bands(fig: go.Figure, windows: pd.DataFrame) -> None:
    """One band through every row per stretch of overlapping anomaly windows."""
    # each window keeps its own marker and hover in the anomaly lane; the bands are set in one
    # layout update: adding shapes one by one costs plotly quadratic time, and stacked
    # translucent bands turn into a solid block
    bands = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "x0": _ms(a).item(),
            "x1": _ms(b).item(),
            "fillcolor": _ANOMALY_FILL,
            "line": {"width": 1, "color": "rgba(220,38,38,0.45)"},
            "layer": "below",
        }
        for a, b in (_merged(_ns(windows["onset"]), _ns(windows["end"])) if len(windows) else [])
    ]
    if bands:
        fig.update_layout(shapes=[*fig.layout.shapes, *bands])


def _add_gap_legend(fig: go.Figure, n_rows: int) -> None:
    """A legend entry, in the last row's legend, for the grey coverage-gap shading."""
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="no data (coverage gap)",
            marker={"symbol": "square", "size": 12, "color": _GAP_FILL, "line": {"width": 0}},
            legend=f"legend{n_rows}" if n_rows > 1 else "legend",
        ),
        row=n_rows,
        col=1,
    )


def _lay_out(fig: go.Figure, rows: list[_Row], lo: int, hi: int, focus: Focus) -> None:
    """The shared time axis over ``[lo, hi]``, the title with the focus and the range, the
    height from the rows' heights, margins, grid and hover."""
    fig.update_xaxes(
        type="date",
        range=[_ms(lo).item(), _ms(hi).item()],
        showspikes=True,
        spikemode="across",
        spikethickness=1,
        spikecolor="#9ca3af",
    )
    fig.update_xaxes(title_text="time (UTC)", row=len(rows), col=1)
    start, end = pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC")
    title = (
        f"Timeline: {_safe.text(describe(focus), 160)}"
        f"  <span style='font-size:12px;color:#6b7280'>{start:%Y-%m-%d %H:%M} – "
        f"{end:%H:%M} UTC</span>"
    )
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=int(120 + 230 * sum(r.height for r in rows)),
        margin={"l": 70, "r": 280, "t": 70, "b": 50},
        barmode="stack",
        bargap=0,
        hovermode="closest",
        showlegend=True,
        hoverlabel={"namelength": -1, "align": "left"},
        plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eef0f3", linecolor="#d1d5db")
    fig.update_yaxes(gridcolor="#eef0f3", linecolor="#d1d5db")


def _merged(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """The union of ``[start, end]`` intervals, as sorted disjoint intervals."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(zip(starts.tolist(), ends.tolist(), strict=True)):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _draw_gaps(fig: go.Figure, row: _Row, index: int, lo: int, hi: int) -> None:
    suffix = "" if index == 1 else str(index)
    for a, b, y0, y1, label in row.gaps:
        whole = y0 is None
        fig.add_shape(
            type="rect",
            xref=f"x{suffix}",
            x0=_ms(a).item(),
            x1=_ms(b).item(),
            yref=f"y{suffix} domain" if whole else f"y{suffix}",
            y0=0 if whole else y0,
            y1=1 if whole else y1,
            fillcolor=_GAP_FILL,
            line_width=0,
            layer="below",
        )
        if (b - a) >= 0.06 * (hi - lo):
            fig.add_annotation(
                x=_ms((a + b) / 2).item(),
                xref=f"x{suffix}",
                y=0.5 if whole else (y0 + y1) / 2,
                yref=f"y{suffix} domain" if whole else f"y{suffix}",
                text=_safe.text(label),
                showarrow=False,
                font={"size": 10, "color": "#4b5563"},
            )
