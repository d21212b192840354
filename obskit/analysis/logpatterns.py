"""Log patterns: templates mined from messages, templates new in the incident, error bursts.

The template miner follows Drain (He et al., ICWS 2017): variable parts that look like values
(numbers, hex ids, UUIDs, IP addresses, durations) are masked first, then messages are grouped
by their token count and first token, and inside a group a message joins the most similar
template (share of equal tokens at equal positions, at least ``similarity``) or starts a new
one; tokens where members of a template differ become ``<*>``.

Masking runs vectorised over every line (Arrow regular expressions); the Drain step runs once
per *distinct* masked message, so a million lines that share a few thousand shapes cost a few
thousand Python steps.

On top of the templates:

- :func:`new_templates`: templates first seen at or after the onset, per pod;
- :func:`error_bursts`: per pod, the rate of warning-or-worse lines after the onset against
  the rate before it, scored like a Poisson count;
- :func:`trace_edges`: caller -> callee workload edges from log lines that carry trace and
  span ids (a span that begins and ends inside another workload's span of the same trace was
  called by it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit.errors import InvestigationError

__all__ = [
    "TemplateMiner",
    "error_bursts",
    "log_templates",
    "mask",
    "new_templates",
    "trace_edges",
]

WILDCARD = "<*>"

# Order matters: the longest, most specific shapes first. RE2 has no look-around, so a hex id
# (a run of hex characters holding both a digit and a letter) takes two patterns, and a number
# is masked only when no letter or digit is glued before it (``took 5ms`` yes, ``v1`` no).
_MASKS = [
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", WILDCARD),
    (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?", WILDCARD),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", WILDCARD),
    (r"\b(?:0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b", WILDCARD),
    (r"\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b", WILDCARD),
    (r"(^|[^A-Za-z0-9_<])[-+]?\d+(?:\.\d+)?", r"\1" + WILDCARD),
]


def mask(messages: pd.Series) -> pd.Series:
    """Messages with their variable parts replaced by ``<*>`` (vectorised).

    Numbers not glued to a word (``took 5.3ms`` but not ``v1``), hex ids, UUIDs, IP
    addresses and timestamps are masked.

    Examples
    --------
    >>> mask(pd.Series(["took 5.3ms from 10.0.0.7:8080 id=deadbeef12 v1"])).tolist()
    ['took <*>ms from <*> id=<*> v1']
    """
    arr = pa.array(messages.astype("object").where(messages.notna(), ""), type=pa.large_string())
    for pattern, replacement in _MASKS:
        arr = pc.replace_substring_regex(arr, pattern, replacement)
    return pd.Series(arr.to_numpy(zero_copy_only=False), index=messages.index, dtype=object)


@dataclass
class _Cluster:
    tokens: list[str]
    count: int = 0


@dataclass
class TemplateMiner:
    """A Drain-style template miner.

    Parameters
    ----------
    similarity : float
        Share of equal tokens (at equal positions) from which a message joins a template.
    max_children : int
        Templates kept per (length, first token) group before new shapes fall into the closest.

    Examples
    --------
    >>> miner = TemplateMiner()
    >>> ids = miner.fit(pd.Series(["user alice logged in", "user bob logged in", "disk full"]))
    >>> ids.tolist(), miner.templates()["template"].tolist()
    ([0, 0, 1], ['user <*> logged in', 'disk full'])
    """

    similarity: float = 0.5
    max_children: int = 200
    _clusters: list[_Cluster] = field(default_factory=list, repr=False)
    _groups: dict[tuple[int, str], list[int]] = field(default_factory=dict, repr=False)

    def _add(self, tokens: list[str], count: int) -> int:
        head = tokens[0] if tokens else ""
        if any(ch.isdigit() for ch in head) or head == WILDCARD:
            head = WILDCARD
        group = self._groups.setdefault((len(tokens), head), [])
        best, best_sim, best_wild = -1, -1.0, 0
        for cid in group:
            template = self._clusters[cid].tokens
            same = sum(a == b for a, b in zip(template, tokens, strict=True))
            wild = sum(a == WILDCARD for a in template)
            sim = same / len(tokens) if tokens else 1.0
            # Drain's tie-break: fewer wildcards is a more specific match
            if sim > best_sim or (sim == best_sim and wild < best_wild):
                best, best_sim, best_wild = cid, sim, wild
        if best >= 0 and (best_sim >= self.similarity or len(group) >= self.max_children):
            cluster = self._clusters[best]
            cluster.tokens = [
                a if a == b else WILDCARD for a, b in zip(cluster.tokens, tokens, strict=True)
            ]
            cluster.count += count
            return best
        self._clusters.append(_Cluster(list(tokens), count))
        group.append(len(self._clusters) - 1)
        return len(self._clusters) - 1

    def fit(self, messages: pd.Series) -> pd.Series:
        """Add messages; return the template id of each (on the same index).

        Messages are masked (:func:`mask`) and de-duplicated first; Drain runs once per
        distinct masked message, most frequent first so common shapes form the templates.
        """
        masked = mask(messages)
        codes, uniques = pd.factorize(masked, sort=False)
        counts = np.bincount(codes, minlength=len(uniques)) if len(codes) else np.array([])
        order = np.argsort(-counts, kind="stable")
        assigned = np.empty(len(uniques), dtype=np.int64)
        for i in order:
            assigned[i] = self._add(str(uniques[i]).split(), int(counts[i]))
        return pd.Series(
            assigned[codes] if len(codes) else [], index=messages.index, dtype=np.int64
        )

    def templates(self) -> pd.DataFrame:
        """``template_id``, ``template`` and ``count`` of every template mined so far."""
        return pd.DataFrame(
            {
                "template_id": np.arange(len(self._clusters), dtype=np.int64),
                "template": [" ".join(c.tokens) for c in self._clusters],
                "count": np.array([c.count for c in self._clusters], dtype=np.int64),
            }
        )


def _message_text(logs: pd.DataFrame) -> pd.Series:
    """The text a template is mined from: the ``msg``/``message`` of a JSON or logfmt line."""
    message = logs["message"].astype("object").where(logs["message"].notna(), "")
    arr = pa.array(message, type=pa.large_string())
    inner = pc.struct_field(
        pc.extract_regex(arr, r'"(?:msg|message)"\s*:\s*"(?P<m>(?:[^"\\]|\\.)*)"'), [0]
    )
    logfmt = pc.struct_field(pc.extract_regex(arr, r'(?:^|\s)msg="(?P<m>(?:[^"\\]|\\.)*)"'), [0])
    text = pc.coalesce(inner, logfmt, arr)
    return pd.Series(text.to_numpy(zero_copy_only=False), index=logs.index, dtype=object)


def log_templates(logs: pd.DataFrame, similarity: float = 0.5) -> pd.DataFrame:
    """Mine templates from a logs frame: the template of every line.

    A JSON message is templated on its ``msg``/``message`` field, other messages whole.

    Parameters
    ----------
    logs : DataFrame
        A logs frame (``message`` is needed).
    similarity : float
        See :class:`TemplateMiner`.

    Returns
    -------
    DataFrame
        On the index of ``logs``: ``template_id`` and ``template``.

    Examples
    --------
    >>> logs = pd.DataFrame({"message": ["GET /a took 5ms", "GET /a took 7ms", "boom"]})
    >>> log_templates(logs)["template"].tolist()
    ['GET /a took <*>ms', 'GET /a took <*>ms', 'boom']
    """
    if "message" not in logs.columns:
        raise InvestigationError("log_templates needs a 'message' column in the logs frame")
    miner = TemplateMiner(similarity=similarity)
    ids = miner.fit(_message_text(logs))
    table = miner.templates()["template"].to_numpy(dtype=object)
    return pd.DataFrame(
        {"template_id": ids, "template": table[ids.to_numpy()] if len(ids) else []},
        index=logs.index,
    )


_ENTITY = ["cluster", "namespace", "node", "workload_kind", "workload", "pod", "container"]


def _at(value: object) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvestigationError(
            f"at must be a timestamp like '2024-05-14T09:00:00Z', got {value!r}"
        ) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def new_templates(
    logs: pd.DataFrame, at: object, templates: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Templates a pod (container) logs at or after ``at`` that it never logged before ``at``.

    A template counts as new for a pod when that pod had no line of it before ``at``; it is
    ``new_everywhere`` when no pod had. Only pods that logged something before ``at`` can
    have new templates (a pod that just started has no past to compare with).

    Parameters
    ----------
    logs : DataFrame
        A logs frame.
    at : timestamp
        The onset.
    templates : DataFrame, optional
        The result of :func:`log_templates` for ``logs`` (mined when not given).

    Returns
    -------
    DataFrame
        One row per (pod, container, template): the key, ``template_id``, ``template``,
        ``first_seen``, ``count``, ``level`` (the worst level seen), ``example`` (first line),
        ``new_everywhere``; most lines first.

    Examples
    --------
    >>> logs = schema.conform("logs", pd.DataFrame({
    ...     "timestamp": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T00:05Z",
    ...                                  "2024-01-01T00:06Z"]),
    ...     "pod": ["a", "a", "a"], "message": ["started", "started", "ERROR disk full"],
    ...     "level": [None, None, "error"]}))
    >>> new_templates(logs, "2024-01-01T00:04Z")[["pod", "template", "count"]].values.tolist()
    [['a', 'ERROR disk full', 1]]
    """
    at_ts = _at(at)
    columns = [
        *_ENTITY,
        "template_id",
        "template",
        "first_seen",
        "count",
        "level",
        "example",
        "new_everywhere",
    ]
    if logs.empty:
        return pd.DataFrame(columns=columns)
    if templates is None:
        templates = log_templates(logs)
    frame = logs[[*_ENTITY, "timestamp", "level", "message"]].join(templates)
    frame = frame[frame["pod"].notna()]
    after = (frame["timestamp"] >= at_ts).to_numpy()
    owner = (
        frame.groupby(["namespace", "pod", "container"], observed=True, dropna=False, sort=False)
        .ngroup()
        .to_numpy()
    )
    tid = frame["template_id"].to_numpy(dtype=np.int64)
    pair = owner * (int(tid.max()) + 1 if len(tid) else 1) + tid
    had_past = np.isin(owner, owner[~after])
    old = np.isin(pair, pair[~after])
    seen_anywhere = set(tid[~after].tolist())
    fresh = frame[after & had_past & ~old]
    if fresh.empty:
        return pd.DataFrame(columns=columns)
    group = [*_ENTITY, "template_id"]
    agg = (
        fresh.groupby(group, observed=True, dropna=False, sort=False)
        .agg(
            template=("template", "first"),
            first_seen=("timestamp", "min"),
            count=("timestamp", "size"),
            level=("level", "max"),
            example=("message", "first"),
        )
        .reset_index()
    )
    agg["new_everywhere"] = ~agg["template_id"].isin(seen_anywhere)
    agg["count"] = agg["count"].astype(np.int64)
    return agg.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)[columns]


def error_bursts(
    logs: pd.DataFrame, at: object, min_level: str = "warning", min_score: float = 3.0
) -> pd.DataFrame:
    """Pods (containers) whose rate of ``min_level``-or-worse lines rose after ``at``.

    The rate before ``at`` (with one line of prior, so a pod that never erred still has a rate)
    is the expectation; the score is the Poisson deviation of the count after ``at``,
    ``(observed - expected) / sqrt(expected)``.

    Parameters
    ----------
    logs : DataFrame
        A logs frame with ``level``.
    at : timestamp
        The onset.
    min_level : str
        Lowest level counted, one of :data:`obskit.SEVERITIES`.
    min_score : float
        Smallest score reported.

    Returns
    -------
    DataFrame
        The key, ``before`` and ``after`` (counts), ``rate_before`` and ``rate_after`` (per
        minute), ``ratio``, ``score``, ``burst_start`` (first bad line after ``at``),
        ``errors_after`` (lines at error or worse); highest score first.

    Raises
    ------
    InvestigationError
        When ``min_level`` is not a severity.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01T00:00Z", periods=60, freq="1min")
    >>> logs = schema.conform("logs", pd.DataFrame({"timestamp": t, "pod": "a",
    ...     "message": "x", "level": ["info"] * 30 + ["error"] * 30}))
    >>> error_bursts(logs, t[30])[["pod", "before", "after"]].values.tolist()
    [['a', 0, 30]]
    """
    if min_level not in schema.SEVERITIES:
        raise InvestigationError(
            f"min_level must be one of {list(schema.SEVERITIES)}, got {min_level!r}"
        )
    at_ts = _at(at)
    columns = [
        *_ENTITY,
        "before",
        "after",
        "rate_before",
        "rate_after",
        "ratio",
        "score",
        "burst_start",
        "errors_after",
    ]
    if logs.empty:
        return pd.DataFrame(columns=columns)
    start, end = logs["timestamp"].min(), logs["timestamp"].max()
    span_before = max((at_ts - start).total_seconds() / 60, 1.0)
    span_after = max((end - at_ts).total_seconds() / 60, 1.0)
    bad = logs["level"].notna() & (logs["level"] >= min_level)
    worse = logs["level"].notna() & (logs["level"] >= "error")
    frame = logs.loc[logs["pod"].notna(), [*_ENTITY, "timestamp"]].assign(
        bad=bad, worse=worse, after=logs["timestamp"] >= at_ts
    )
    frame = frame[frame["bad"]]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(_ENTITY, observed=True, dropna=False, sort=False)
    agg = grouped.agg(
        after=("after", "sum"),
        total=("after", "size"),
        errors_after=("worse", lambda s: int((s & frame.loc[s.index, "after"]).sum())),
    ).reset_index()
    starts = (
        frame[frame["after"]]
        .groupby(_ENTITY, observed=True, dropna=False, sort=False)["timestamp"]
        .min()
    )
    agg = agg.join(starts.rename("burst_start"), on=_ENTITY)
    agg["after"] = agg["after"].astype(np.int64)
    agg["before"] = (agg["total"] - agg["after"]).astype(np.int64)
    agg["rate_before"] = agg["before"] / span_before
    agg["rate_after"] = agg["after"] / span_after
    expected = (agg["before"] + 1) * span_after / span_before
    agg["ratio"] = agg["rate_after"] / np.maximum(agg["rate_before"], 1 / span_before)
    agg["score"] = (agg["after"] - expected) / np.sqrt(expected)
    agg = agg[agg["score"] >= min_score]
    return agg.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)[columns]


def trace_edges(
    logs: pd.DataFrame, min_count: int = 3, dominance: float = 2.0, max_traces: int = 20_000
) -> pd.DataFrame:
    """Caller -> callee workload edges from log lines that carry ``trace_id`` and ``span_id``.

    Each (trace, span) is one workload's piece of a request, from its first to its last line. A
    span of workload B that begins and ends inside a span of workload A in the same trace was
    called by A (directly or through others). An edge A -> B is kept when it was seen in at
    least ``min_count`` traces and ``dominance`` times as often as B -> A.

    Parameters
    ----------
    logs : DataFrame
        A logs frame with ``trace_id``, ``span_id`` and ``workload`` columns (the
        OpenTelemetry log data model's names); without them, no edges.
    min_count : int
        Fewest traces that show an edge.
    dominance : float
        How much more often A called B than B called A for A -> B to be kept.
    max_traces : int
        Traces looked at (the most recent), to bound the cost on large logs.

    Returns
    -------
    DataFrame
        ``caller``, ``callee`` (workloads), ``count`` (traces); most seen first.

    Examples
    --------
    >>> t = pd.to_datetime(["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z",
    ...                     "2024-01-01T00:00:02Z", "2024-01-01T00:00:03Z"])
    >>> logs = pd.DataFrame({"timestamp": list(t) * 3, "workload": ["web", "db", "db", "web"] * 3,
    ...     "trace_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
    ...     "span_id": ["1", "2", "2", "1"] * 3, "message": "x"})
    >>> trace_edges(logs).values.tolist()
    [['web', 'db', 3]]
    """
    columns = ["caller", "callee", "count"]
    need = {"trace_id", "span_id", "workload", "timestamp"}
    if logs.empty or not need <= set(logs.columns):
        return pd.DataFrame(columns=columns)
    frame = logs[["trace_id", "span_id", "workload", "timestamp"]].dropna()
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.astype({"trace_id": "object", "span_id": "object", "workload": "object"})
    spans = (
        frame.groupby(["trace_id", "span_id", "workload"], sort=False)["timestamp"]
        .agg(["min", "max"])
        .reset_index()
    )
    last = spans.groupby("trace_id", sort=False)["max"].max().sort_values()
    keep = set(last.index[-max_traces:])
    spans = spans[spans["trace_id"].isin(keep)]
    pairs = spans.merge(spans, on="trace_id", suffixes=("_a", "_b"))
    nested = (
        (pairs["workload_a"] != pairs["workload_b"])
        & (pairs["min_a"] <= pairs["min_b"])
        & (pairs["max_b"] <= pairs["max_a"])
        & ((pairs["min_a"] < pairs["min_b"]) | (pairs["max_b"] < pairs["max_a"]))
    )
    hits = pairs.loc[nested, ["trace_id", "workload_a", "workload_b"]].drop_duplicates()
    if hits.empty:
        return pd.DataFrame(columns=columns)
    counts = hits.groupby(["workload_a", "workload_b"]).size()
    reverse = counts.rename_axis(["workload_b", "workload_a"]).reorder_levels(
        ["workload_a", "workload_b"]
    )
    back = reverse.reindex(counts.index).fillna(0)
    ok = (counts >= min_count) & (counts >= dominance * back)
    out = counts[ok].rename("count").reset_index()
    out.columns = columns
    out["count"] = out["count"].astype(np.int64)
    return out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
