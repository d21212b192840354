"""Tables of a focused entity and window: events and log lines, most severe and newest first;
log lines summarised by pattern; the rollouts of the workloads; the latency of each workload
against its baseline; the records that could not be read; and :func:`readable`, which turns
any of them into what an analyst reads in a report.

The tables are plain DataFrames with readable columns; their text stays as it was recorded (a
table is data). pandas escapes it when it renders HTML (``DataFrame.to_html`` and the notebook
display), so markup in a log line shows as text; a ``Styler`` must be given ``escape="html"``.
Names (object, place, user, namespace, pod, container, node) show the characters that disguise
them (a right-to-left override, a zero-width space, a control) as escapes (``\\u202e``): a
name that reads ``deployment-controller`` and is not, must not pass for it.

A log line's ``message`` is its message field (``msg``/``message`` of a JSON or logfmt line,
:func:`obskit.analysis.logpatterns.message_text`); ``inv.logs`` keeps the whole line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from obskit import schema
from obskit._chars import reveal
from obskit._time import as_duration, as_utc
from obskit.analysis.logpatterns import log_templates, message_text
from obskit.errors import InvestigationError
from obskit.views._select import Focus, select

if TYPE_CHECKING:
    from obskit.investigation import Investigation

__all__ = [
    "events_table",
    "latency_table",
    "log_patterns_table",
    "logs_table",
    "readable",
    "rejects_table",
    "rollouts_table",
]

_EVENT_COLUMNS = [
    "time",
    "severity",
    "source",
    "reason",
    "object",
    "where",
    "message",
    "user",
    "verb",
    "count",
]
_LOG_COLUMNS = [
    "time",
    "level",
    "namespace",
    "pod",
    "container",
    "node",
    "message",
    "origin",
    "line",
]


def _shown_names(values: pd.Series) -> pd.Series:
    """Names with their disguising characters revealed, once per distinct value."""
    changed = {v: reveal(v) for v in values.dropna().unique() if isinstance(v, str)}
    changed = {k: v for k, v in changed.items() if k != v}
    if not changed:
        return values
    return values.astype("object").map(lambda v: changed.get(v, v))


def _min_level(value: str | None, name: str) -> str | None:
    if value is None or value in schema.SEVERITIES:
        return value
    raise InvestigationError(f"{name} must be one of {', '.join(schema.SEVERITIES)}, got {value!r}")


def _limit(limit: int | None) -> int | None:
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvestigationError(f"limit must be a positive integer or None, got {limit!r}")
    return limit


def _at_least(frame: pd.DataFrame, column: str, minimum: str | None) -> pd.DataFrame:
    """The rows whose ``column`` (a severity) is at least ``minimum``; all rows for None."""
    return frame if minimum is None else frame.loc[(frame[column] >= minimum).fillna(False)]


def _most_severe_first(frame: pd.DataFrame, level: str, limit: int | None) -> pd.DataFrame:
    rank = frame[level].cat.codes  # ordered scale: higher code = more severe; NA = -1
    # UTC datetime64, not an object array of Timestamps (tens of times slower to make and sort)
    t = frame["timestamp"].to_numpy(dtype="datetime64[ns]")
    order = pd.DataFrame({"rank": rank.to_numpy(), "t": t})
    order = order.sort_values(["rank", "t"], ascending=[False, False], kind="stable")
    picked = frame.iloc[order.index.to_numpy()]
    return picked.head(limit) if limit is not None else picked


def _joined(parts: list[pd.Series], sep: str) -> pd.Series:
    out = pd.Series("", index=parts[0].index, dtype="object")
    for part in parts:
        text = part.astype("object")
        has = text.notna()
        glue = out.where(out == "", out + sep)
        out = out.where(~has, glue + text.astype(str).where(has, ""))
    return out.where(out != "", None)


def events_table(
    inv: Investigation,
    focus: Focus = None,
    start: object = None,
    end: object = None,
    min_severity: str | None = None,
    limit: int | None = 500,
    sources: Sequence[str] | None = None,
    reasons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Events of a focused entity and window, most severe first, then newest first.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    focus : mapping, optional
        Key columns of a hierarchy node, e.g. ``{"namespace": "shop", "pod": "web-1"}``.
    start, end : timestamp, optional
        The window (default: all of it).
    min_severity : str, optional
        Keep events at or above this severity (one of ``obskit.SEVERITIES``).
    limit : int or None
        At most this many rows (default 500); ``None`` for all.
    sources : sequence of str, optional
        Only events of these sources (``kubernetes``, ``audit``, ``falco``, ``detection``).
    reasons : sequence of str, optional
        Only events with one of these reasons (``FailedScheduling``, ``Evicted``, …).

    Returns
    -------
    DataFrame
        ``time, severity, source, reason, object, where, message, user, verb, count``:
        ``reason`` is the Falco rule for Falco alerts, ``object`` is ``kind/name``, ``where``
        is ``namespace/pod/container`` or the node.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.Investigation(events=pd.DataFrame({
    ...     "timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"],
    ...     "source": ["kubernetes"] * 2, "severity": ["info", "warning"],
    ...     "reason": ["Pulled", "BackOff"], "namespace": ["shop"] * 2, "pod": ["web-1"] * 2}))
    >>> events_table(inv)[["severity", "reason", "where"]].values.tolist()
    [['warning', 'BackOff', 'shop/web-1'], ['info', 'Pulled', 'shop/web-1']]
    """
    minimum = _min_level(min_severity, "min_severity")
    limit = _limit(limit)
    events = _at_least(select(inv, focus, start, end).events, "severity", minimum)
    if sources is not None:
        events = events.loc[events["source"].isin(list(sources))]
    if reasons is not None:
        events = events.loc[events["reason"].isin(list(reasons))]
    events = _most_severe_first(events, "severity", limit)
    reason = events["reason"].astype("object")
    if "rule" in events.columns:
        reason = reason.where(reason.notna(), events["rule"].astype("object"))
    where = _joined([events[c] for c in ("namespace", "pod", "container")], "/")
    where = where.where(where.notna(), events["node"].astype("object"))
    table = pd.DataFrame(
        {
            "time": events["timestamp"],
            "severity": events["severity"],
            "source": events["source"],
            "reason": reason,
            "object": _joined([events["object_kind"], events["object_name"]], "/"),
            "where": where,
            "message": events["message"],
            "user": events["user"],
            "verb": events["verb"],
            "count": events["count"],
        }
    )
    for name in ("object", "where", "user"):
        table[name] = _shown_names(table[name])
    return table[_EVENT_COLUMNS].reset_index(drop=True)


def logs_table(
    inv: Investigation,
    focus: Focus = None,
    start: object = None,
    end: object = None,
    min_level: str | None = None,
    limit: int | None = 500,
) -> pd.DataFrame:
    """Log lines of a focused entity and window, most severe first, then newest first.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    focus : mapping, optional
        Key columns of a hierarchy node, e.g. ``{"namespace": "shop", "workload": "checkout"}``.
    start, end : timestamp, optional
        The window (default: all of it).
    min_level : str, optional
        Keep lines at or above this level (one of ``obskit.SEVERITIES``).
    limit : int or None
        At most this many rows (default 500); ``None`` for all.

    Returns
    -------
    DataFrame
        ``time, level, namespace, pod, container, node, message, origin, line`` (``message``
        is the message field of a JSON or logfmt line, else the line; ``origin``
        and ``line`` say where the line was read, for evidence; ``origin`` is shortened to the
        kubelet path or the file and its two parent folders, so a shared report does not show
        the analyst's own folders — ``inv.logs`` keeps the full path).

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.Investigation(logs=pd.DataFrame({
    ...     "timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"],
    ...     "namespace": ["shop"] * 2, "pod": ["web-1"] * 2,
    ...     "message": ["ERROR db down", "INFO ok"]}))
    >>> logs_table(inv)[["level", "message"]].values.tolist()
    [['error', 'ERROR db down'], ['info', 'INFO ok']]
    """
    minimum = _min_level(min_level, "min_level")
    limit = _limit(limit)
    logs = _at_least(select(inv, focus, start, end).logs, "level", minimum)
    logs = _most_severe_first(logs, "level", limit)
    table = logs.rename(columns={"timestamp": "time"})
    table["message"] = _message_field(logs)
    table["origin"] = table["origin"].astype("object").map(_short_origin, na_action="ignore")
    for name in ("namespace", "pod", "container", "node"):
        table[name] = _shown_names(table[name])
    return table[_LOG_COLUMNS].reset_index(drop=True)


def rejects_table(
    inv: Investigation, source: str | os.PathLike | None = None, limit: int | None = 500
) -> pd.DataFrame:
    """The records that could not be read, with where they were: ``format, origin, line,
    reason``.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    source : str or path, optional
        The folder (or file) that was loaded: origins under it are shown relative to it, so a
        shared notebook does not show the analyst's own folders. Other origins (and all, without
        ``source``) are shortened as in :func:`logs_table`.
    limit : int or None
        At most this many rows (default 500); ``None`` for all.

    Returns
    -------
    DataFrame
        ``format, origin, line, reason``, in the order they were read.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.load(obskit.datasets.path("checkout-oom"))
    >>> rejects_table(inv, source=obskit.datasets.path("checkout-oom"))["origin"].iloc[0]
    'audit/audit.log'
    """
    limit = _limit(limit)
    table = inv.rejects[["format", "origin", "line", "reason"]].copy()
    root = Path(source).expanduser().resolve() if source is not None else None

    def shown(origin: str) -> str:
        if root is not None:
            path = Path(origin)
            if path.is_absolute() and path.is_relative_to(root):
                return path.relative_to(root).as_posix() if path != root else root.name
        return _short_origin(origin)

    origins = table["origin"].astype("object")
    distinct = {o: shown(o) for o in origins.dropna().unique()}
    table["origin"] = origins.map(distinct, na_action="ignore").astype("string")
    table = table.reset_index(drop=True)
    return table.head(limit) if limit is not None else table


def _short_origin(origin: str) -> str:
    """Where a line was read, without the analyst's own folders (tables end up in reports):
    the kubelet path from ``var/log/`` on, else the file and the two folders above it."""
    text = str(origin).replace("\\", "/")
    at = text.find("var/log/")
    if at >= 0:
        return text[at:]
    return "/".join(text.split("/")[-3:])


#: A line that is a JSON object or logfmt pairs from its start (``{"msg": …``, ``level=…``).
_STRUCTURED = r"\s*(?:\{|[A-Za-z_][\w.-]*=)"


def _message_field(logs: pd.DataFrame) -> pd.Series:
    """The message field of JSON and logfmt lines; any other line whole (a plain line that
    quotes a JSON fragment keeps all of its text)."""
    raw = logs["message"].astype("object")
    structured = raw.str.match(_STRUCTURED, na=False).to_numpy(dtype=bool)
    field = message_text(logs).where(structured, raw)
    return field.where(raw.notna(), None)


_PATTERN_COLUMNS = ["count", "level", "pattern", "pods", "first", "last", "example"]


def log_patterns_table(
    inv: Investigation,
    focus: Focus = None,
    start: object = None,
    end: object = None,
    min_level: str | None = None,
    limit: int | None = 50,
) -> pd.DataFrame:
    """Log lines of a focused entity and window summarised by pattern: counts before examples.

    The patterns are the templates of :func:`obskit.analysis.logpatterns.log_templates` (numbers,
    ids, addresses and durations masked as ``<*>``), mined from each line's message field.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    focus : mapping, optional
        Key columns of a hierarchy node, e.g. ``{"namespace": "shop", "workload": "checkout"}``.
    start, end : timestamp, optional
        The window (default: all of it).
    min_level : str, optional
        Only lines at or above this level (one of ``obskit.SEVERITIES``).
    limit : int or None
        At most this many patterns (default 50); ``None`` for all.

    Returns
    -------
    DataFrame
        ``count, level, pattern, pods, first, last, example``: one row per pattern and level,
        the most severe level first, then the most frequent; ``pods`` is how many pods logged
        it, ``example`` its newest line's message.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.Investigation(logs=pd.DataFrame({
    ...     "timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z"],
    ...     "namespace": ["shop"] * 3, "pod": ["web-1"] * 3,
    ...     "message": ["ERROR db down after 5 s", "ERROR db down after 7 s", "INFO ok"]}))
    >>> log_patterns_table(inv)[["count", "pattern"]].values.tolist()
    [[2, 'ERROR db down after <*> s'], [1, 'INFO ok']]
    """
    minimum = _min_level(min_level, "min_level")
    limit = _limit(limit)
    logs = _at_least(select(inv, focus, start, end).logs, "level", minimum)
    if logs.empty:
        return pd.DataFrame(columns=_PATTERN_COLUMNS)
    logs = logs.sort_values("timestamp", kind="stable")
    templates = log_templates(logs)
    lines = pd.DataFrame(
        {
            "template_id": templates["template_id"].to_numpy(),
            "pattern": templates["template"].to_numpy(),
            "rank": logs["level"].cat.codes.to_numpy(),
            "time": logs["timestamp"].to_numpy(),
            "pod": logs["pod"].astype("object").to_numpy(),
            "example": message_text(logs).to_numpy(),
        }
    )
    # a pattern per level: a template that INFO and WARN lines share (its level token
    # masked) shows as two rows, each counted apart, each with an example of its own level
    grouped = lines.groupby(["template_id", "rank"], sort=False)
    table = pd.DataFrame(
        {
            "count": grouped.size(),
            "pattern": grouped["pattern"].first(),
            "pods": grouped["pod"].nunique(),
            "first": grouped["time"].min(),
            "last": grouped["time"].max(),
            "example": grouped["example"].last(),
        }
    )
    table = table.reset_index()
    table = table.sort_values(["rank", "count"], ascending=[False, False], kind="stable")
    levels = logs["level"].cat.categories
    table["level"] = pd.Categorical.from_codes(
        table["rank"].to_numpy(), categories=levels, ordered=True
    )
    for column in ("first", "last"):
        table[column] = pd.to_datetime(table[column], utc=True)
    table = table[_PATTERN_COLUMNS].reset_index(drop=True)
    return table.head(limit) if limit is not None else table


_ROLLOUT_COLUMNS = ["created", "namespace", "workload", "replicaset", "revision", "images", "pods"]


def rollouts_table(inv: Investigation, focus: Focus = None) -> pd.DataFrame:
    """The rollouts of the workloads in focus: each ReplicaSet of a Deployment, newest first.

    Parameters
    ----------
    inv : Investigation
        The investigation (its inventory holds the ReplicaSets).
    focus : mapping, optional
        Key columns of a hierarchy node, e.g. ``{"namespace": "shop"}``.

    Returns
    -------
    DataFrame
        ``created, namespace, workload, replicaset, revision, images, pods``: ``revision`` is
        the Deployment's revision annotation, ``images`` the pod template's images (``; ``
        between them), ``pods`` the ReplicaSet's replicas in its status.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("bad-rollout")  # doctest: +SKIP
    >>> rollouts_table(inv, {"namespace": "payments"})[["workload", "revision"]]  # doctest: +SKIP
    """
    inventory = select(inv, focus).inventory
    sets = inventory.loc[inventory["kind"] == "ReplicaSet"]
    rows = []
    for row in sets.to_dict("records"):
        raw = row.get("raw") if isinstance(row.get("raw"), dict) else {}
        meta, spec = raw.get("metadata") or {}, raw.get("spec") or {}
        template = ((spec.get("template") or {}).get("spec")) or {}
        images = [c.get("image") for c in template.get("containers") or [] if c.get("image")]
        rows.append(
            {
                "created": row["created"],
                "namespace": row["namespace"],
                "workload": row["workload"],
                "replicaset": row["name"],
                "revision": (meta.get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision"
                ),
                "images": "; ".join(images) or None,
                "pods": (raw.get("status") or {}).get("replicas"),
            }
        )
    table = pd.DataFrame(rows, columns=_ROLLOUT_COLUMNS)
    table["created"] = pd.to_datetime(table["created"], utc=True)
    table = table.sort_values("created", ascending=False, kind="stable")
    for name in ("namespace", "workload", "replicaset"):
        table[name] = _shown_names(table[name])
    return table.reset_index(drop=True)


_LATENCY_COLUMNS = [
    "namespace",
    "workload",
    "metric",
    "unit",
    "pods",
    "baseline",
    "window",
    "peak",
    "peak_time",
    "change",
]
#: Latency metrics by name: a duration or latency gauge or quantile (``...duration_seconds.p99``),
#: not a histogram's or summary's raw parts (``_bucket``, ``_count``, ``_sum``).
_LATENCY = re.compile(r"duration|latency", re.IGNORECASE)
_HISTOGRAM_PART = re.compile(r"_(?:bucket|count|sum)(?:$|\.)")
#: Units from the metric's name, the first that matches: seconds are shown as milliseconds.
_UNITS = (("milliseconds", "ms", 1.0), ("_ms", "ms", 1.0), ("seconds", "ms", 1000.0))


def _latency_unit(metric: str) -> tuple[str | None, float]:
    for word, unit, scale in _UNITS:
        if word in metric:
            return unit, scale
    return None, 1.0


def latency_table(
    inv: Investigation,
    focus: Focus = None,
    start: object = None,
    end: object = None,
    *,
    at: object = None,
    baseline: object = None,
) -> pd.DataFrame:
    """Each workload's latency in the window against its baseline, the biggest change first.

    The latency metrics are the metrics frame's duration and latency series (a quantile as
    Prometheus's ``histogram_quantile`` writes it, ``http_request_duration_seconds.p99``, or a
    gauge in seconds or milliseconds), per pod; one row per workload and metric sums up its
    pods' samples.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    focus : mapping, optional
        Key columns of a hierarchy node, e.g. ``{"namespace": "shop"}``.
    start, end : timestamp, optional
        The window compared (default: from ``at`` to the end of the data).
    at : timestamp, optional
        Where the baseline ends and the window begins when ``start`` is not given (default:
        the incident onset the suspects use, :func:`obskit.analysis.rca.find_onset`).
    baseline : duration, optional
        How far before the window the baseline reaches (default: everything before it).

    Returns
    -------
    DataFrame
        ``namespace, workload, metric, unit, pods, baseline, window, peak, peak_time, change``:
        ``baseline`` and ``window`` are the median of the workload's samples before and in the
        window, ``peak`` the largest in the window and ``peak_time`` when; values in seconds
        are shown in milliseconds (``unit``); ``change`` is ``window / baseline`` (2.0 is twice
        as slow; missing without a baseline). Sorted by ``change``, the largest first.
        ``attrs["window"]`` holds the window's (start, end).

    Raises
    ------
    InvestigationError
        When ``at`` or ``start`` is not a time, or ``baseline`` not a positive duration.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.Investigation(metrics=pd.DataFrame({
    ...     "timestamp": pd.date_range("2024-01-01", periods=4, freq="1min", tz="UTC"),
    ...     "metric": "http_request_duration_seconds.p99", "value": [0.1, 0.1, 0.3, 0.3],
    ...     "namespace": "shop", "workload": "web", "pod": "web-1"}))
    >>> table = latency_table(inv, at="2024-01-01T00:02:00Z")
    >>> table[["baseline", "window", "change"]].round(3).values.tolist()[0]
    [100.0, 300.0, 3.0]
    """
    metrics = _latency_metrics(inv, focus)
    lo, at_ts, hi = _latency_window(inv, metrics, start, end, at, baseline)
    table = pd.DataFrame(columns=_LATENCY_COLUMNS)
    rows = [] if metrics.empty or at_ts is None else _latency_rows(metrics, lo, at_ts, hi)
    if rows:
        table = pd.DataFrame(rows, columns=_LATENCY_COLUMNS)
        table = table.sort_values("change", ascending=False, na_position="last", kind="stable")
        for name in ("namespace", "workload"):
            table[name] = _shown_names(table[name].astype("object"))
        table = table.reset_index(drop=True)
    table.attrs["window"] = (at_ts, hi)
    return table


def _latency_metrics(inv: Investigation, focus: Focus) -> pd.DataFrame:
    """The focus's latency samples (no histogram parts) that have a workload and a value."""
    metrics = select(inv, focus).metrics
    names = metrics["metric"].astype("object")
    keep = names.str.contains(_LATENCY, na=False) & ~names.str.contains(_HISTOGRAM_PART, na=False)
    return metrics.loc[keep & metrics["workload"].notna() & metrics["value"].notna()]


def _latency_window(
    inv: Investigation,
    metrics: pd.DataFrame,
    start: object,
    end: object,
    at: object,
    baseline: object,
) -> tuple[pd.Timestamp | None, pd.Timestamp | None, pd.Timestamp | None]:
    """The baseline's start, the window's start and its end (each None where open)."""
    if start is not None:
        at_ts = as_utc(start, "start", error=InvestigationError)
    elif at is not None:
        at_ts = as_utc(at, "at", error=InvestigationError)
    elif len(metrics):
        from obskit.analysis.rca import find_onset

        at_ts = find_onset(inv)[0]
    else:
        at_ts = None
    hi = as_utc(end, "end", error=InvestigationError) if end is not None else None
    lo = (
        at_ts - as_duration(baseline, "baseline", error=InvestigationError)
        if baseline is not None and at_ts
        else None
    )
    return lo, at_ts, hi


def _latency_rows(
    metrics: pd.DataFrame,
    lo: pd.Timestamp | None,
    at_ts: pd.Timestamp,
    hi: pd.Timestamp | None,
) -> list[dict]:
    """One row per workload and metric with samples in the window: baseline, window, peak."""
    t = metrics["timestamp"]
    inside = (t >= at_ts) & (t <= hi if hi is not None else True)
    before = (t < at_ts) & (t >= lo if lo is not None else True)
    rows = []
    keys = ["namespace", "workload", "metric"]
    for (ns, workload, metric), group in metrics.groupby(keys, observed=True, sort=True):
        now = group.loc[inside.loc[group.index]]
        if now.empty:
            continue
        past = group.loc[before.loc[group.index], "value"]
        unit, scale = _latency_unit(str(metric))
        peak = now["value"].idxmax()
        base = float(past.median()) * scale if len(past) else math.nan
        median = float(now["value"].median()) * scale
        rows.append(
            {
                "namespace": ns,
                "workload": workload,
                "metric": metric,
                "unit": unit,
                "pods": int(group["pod"].nunique()),
                "baseline": base,
                "window": median,
                "peak": float(now.at[peak, "value"]) * scale,
                "peak_time": now.at[peak, "timestamp"],
                "change": median / base if base > 0 else math.nan,
            }
        )
    return rows


#: What a report shows for a missing value.
MISSING = "—"


def _shown_cell(value: object) -> str:
    """One value as text: times to the second, whole numbers without ``.0``, lists joined."""
    if isinstance(value, list | tuple | np.ndarray):
        parts = [_shown_cell(v) for v in value]
        return "; ".join(p for p in parts if p != MISSING) or MISSING
    if isinstance(value, dict):
        return "; ".join(f"{k}={_shown_cell(v)}" for k, v in value.items()) or MISSING
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if isinstance(value, pd.Timestamp):
        return f"{value.tz_convert('UTC') if value.tzinfo else value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, pd.Timedelta):  # to the second: 00:04:10, or 2d 03:00:00
        seconds = int(value.total_seconds())
        days, seconds = divmod(seconds, 86400)
        clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        return f"{days}d {clock}" if days else clock
    return str(value)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as an analyst reads it in a report: every value as text.

    Times are shown to the second in UTC (their column says ``(UTC)``), a missing value is
    ``—`` (never ``NaN``, ``None`` or ``NaT``), whole numbers have no ``.0``, lists are joined
    with ``; ``. The text itself is unchanged: pandas escapes it when the table is rendered as
    HTML, and :func:`obskit.redact` redacts it (before or after this).

    Examples
    --------
    >>> frame = pd.DataFrame({"time": pd.to_datetime(["2024-09-10 19:34:00.216133432Z"]),
    ...                       "user": [None], "count": [1.0], "ip": [float("nan")]})
    >>> readable(frame).to_dict("records")
    [{'time (UTC)': '2024-09-10 19:34:00', 'user': '—', 'count': '1', 'ip': '—'}]
    """
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        name = column
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC")
            name = f"{column} (UTC)"
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            name = f"{column} (UTC)"  # naive times in obskit's frames are UTC
        out[name] = [_shown_cell(v) for v in values.astype("object")]
    out.index.name = frame.index.name
    return out
