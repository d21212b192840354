"""Log patterns: templates mined from messages, templates new in the incident, error bursts.

The template miner follows Drain (He et al., ICWS 2017): variable parts that look like values
(numbers, hex ids, UUIDs, IP addresses, durations) are masked first, then messages are grouped
by their token count and first token, and inside a group a message joins the most similar
template (share of equal tokens at equal positions, at least ``similarity``) or starts a new
one; tokens where members of a template differ become ``<*>``.

Everything per message runs once per *distinct* message and is broadcast back to the lines
through their codes: extracting the JSON or logfmt message and masking (Arrow regular
expressions over the distinct texts), then the Drain step once per distinct masked message. A
million lines that share a few thousand messages cost a few thousand regex passes and Python
steps, not a million.

On top of the templates:

- :func:`new_templates`: templates first seen at or after the onset, per pod;
- :func:`error_bursts`: per pod, the rate of warning-or-worse lines after the onset against
  the rate before it, scored like a Poisson count; rates are over the minutes the logs cover
  (:func:`covered_minutes`), so a gap in collection does not read as a quiet baseline;
- :func:`template_surges`: the same per warning-or-worse template a pod logged before, so a
  rare error of a pod that surges is not hidden by the pod's chronic warnings;
- :func:`new_exceptions`: exception classes and messages a pod never logged before;
- :func:`peer_errors`: pods with no line before the onset whose share of error lines is far
  above their peers' (the workload's other pods, or every other pod);
- :func:`earlier_incidents`: the lines of error bursts before the onset that began after a
  quiet stretch (an earlier incident, or this one's beginning): not the baseline;
- :func:`error_origins`: in trace-correlated lines, the pod whose error line comes first in a
  trace originates it; the pods that log errors after it in the same trace report it;
- :func:`broken_sequences`: per pod, a step of its code path (a line template) that followed
  another in its traces before the onset and stops following it after: the code between the
  two failed in the pod, when it did not say a call failed (:func:`call_failures`);
- :func:`trace_edges`: caller -> callee workload edges from log lines that carry trace and
  span ids (a span that begins and ends inside another workload's span of the same trace was
  called by it);
- :func:`trace_latency`: per call edge, the time between the caller's line and the callee's
  first line of a trace (and between the callee's last line and the caller's next one), after
  the onset against before it: the call latency seen through trace-correlated logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit._time import as_utc
from obskit.errors import InvestigationError

__all__ = [
    "TemplateMiner",
    "broken_sequences",
    "call_failures",
    "covered_minutes",
    "earlier_incidents",
    "error_bursts",
    "error_origins",
    "log_templates",
    "mask",
    "message_text",
    "new_exceptions",
    "new_templates",
    "peer_errors",
    "template_surges",
    "trace_edges",
    "trace_latency",
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
    codes, uniques = _distinct(messages)
    masked = _mask_distinct(uniques).to_numpy(zero_copy_only=False)
    return pd.Series(masked[codes], index=messages.index, dtype=object)


def _distinct(values: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """The code of every value and the distinct values (an Arrow ``large_string`` array),
    missing values read as ``""``.

    The distinct values are in the order they first appear (Arrow's dictionary encoding), so
    what is computed on them and broadcast back (``result[codes]``) equals what is computed line
    by line. Arrow strings stay in Arrow: no Python object per line is made.
    """
    if isinstance(values.dtype, pd.StringDtype):
        arr = pa.array(values.array)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        arr = pc.fill_null(arr.cast(pa.large_string()), "")
    else:
        filled = values.astype("object").where(values.notna(), "")
        arr = pa.array(filled.to_numpy(dtype=object), type=pa.large_string())
    encoded = pc.dictionary_encode(arr)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp), encoded.dictionary


def _mask_distinct(texts: pa.Array) -> pa.Array:
    """:func:`mask` of an Arrow string array (of distinct texts): an array of the same length."""
    for pattern, replacement in _MASKS:
        texts = pc.replace_substring_regex(texts, pattern, replacement)
    return texts


#: Level words of the usual line layouts (logback, log4j, Python logging, glog-like).
_LEVEL_WORDS = frozenset(
    {"TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "SEVERE", "FATAL", "CRITICAL"}
)


def _head(tokens: list[str]) -> tuple[str, ...]:
    """The key of the group a message is matched in: its first word, after any header.

    Drain groups by the first token, which for lines that start with a time of day (``18:04:13.052
    INFO o.s.OrderServiceImpl#324 ...``) is a masked value shared by every line: all lines of one
    length then fall into one group and merge into a template of wildcards. So leading tokens
    without a letter once masked (times, dates, counters) are skipped; a token that holds a digit
    or a wildcard becomes ``<*>`` (Drain's rule), except the logger after a level word (the
    ``level logger`` header of logback, log4j and Python's logging), which keeps its letters:
    the logger (class and line) is what tells one statement from another there.
    """
    i = 0
    while i < len(tokens) and not any(ch.isalpha() for ch in tokens[i].replace(WILDCARD, "")):
        i += 1
    if i == len(tokens):
        return (WILDCARD,)
    first = tokens[i]
    if first.strip("[]:").upper() in _LEVEL_WORDS and i + 1 < len(tokens):
        logger = tokens[i + 1].replace(WILDCARD, "")
        return (first, logger if any(ch.isalpha() for ch in logger) else WILDCARD)
    if any(ch.isdigit() for ch in first) or WILDCARD in first:
        return (WILDCARD,)
    return (first,)


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
    _groups: dict[tuple[int, tuple[str, ...]], list[int]] = field(default_factory=dict, repr=False)

    def _add(self, tokens: list[str], count: int) -> int:
        group = self._groups.setdefault((len(tokens), _head(tokens)), [])
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

        Messages are de-duplicated and masked (:func:`mask`) once per distinct message; Drain
        runs once per distinct masked message, most frequent first so common shapes form the
        templates.
        """
        codes, uniques = _distinct(messages)
        return self._fit_distinct(codes, uniques, messages.index)

    def _fit_distinct(self, codes: np.ndarray, texts: pa.Array, index: pd.Index) -> pd.Series:
        """:meth:`fit` of the lines ``texts[codes]`` (``texts``: an Arrow string array in the
        order the lines first show them, repeats allowed) on ``index``."""
        encoded = pc.dictionary_encode(_mask_distinct(texts))
        uniques = encoded.dictionary.to_pylist()
        masked_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
        codes = masked_codes[codes] if len(codes) else codes
        counts = np.bincount(codes, minlength=len(uniques)) if len(codes) else np.array([])
        order = np.argsort(-counts, kind="stable")
        assigned = np.empty(len(uniques), dtype=np.int64)
        for i in order:
            assigned[i] = self._add(str(uniques[i]).split(), int(counts[i]))
        return pd.Series(assigned[codes] if len(codes) else [], index=index, dtype=np.int64)

    def templates(self) -> pd.DataFrame:
        """``template_id``, ``template`` and ``count`` of every template mined so far."""
        return pd.DataFrame(
            {
                "template_id": np.arange(len(self._clusters), dtype=np.int64),
                "template": [" ".join(c.tokens) for c in self._clusters],
                "count": np.array([c.count for c in self._clusters], dtype=np.int64),
            }
        )


def message_text(logs: pd.DataFrame) -> pd.Series:
    """The message of each line: the ``msg``/``message`` field of a JSON or logfmt line (or
    fragment), else the whole line: what a template is mined from.

    Examples
    --------
    >>> lines = pd.DataFrame({"message": ['{"level":"error","msg":"db down"}', "plain"]})
    >>> message_text(lines).tolist()
    ['db down', 'plain']
    """
    codes, texts = _message_text_distinct(logs["message"])
    return pd.Series(texts.to_numpy(zero_copy_only=False)[codes], index=logs.index, dtype=object)


def _message_text_distinct(messages: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """:func:`message_text` once per distinct message: the code of every line and the text of
    every distinct message (an Arrow string array; two messages may share a text)."""
    codes, arr = _distinct(messages)
    inner = pc.struct_field(
        pc.extract_regex(arr, r'"(?:msg|message)"\s*:\s*"(?P<m>(?:[^"\\]|\\.)*)"'), [0]
    )
    logfmt = pc.struct_field(pc.extract_regex(arr, r'(?:^|\s)msg="(?P<m>(?:[^"\\]|\\.)*)"'), [0])
    return codes, pc.coalesce(inner, logfmt, arr)


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
    codes, texts = _message_text_distinct(logs["message"])
    ids = miner._fit_distinct(codes, texts, logs.index)
    table = miner.templates()["template"].to_numpy(dtype=object)
    return pd.DataFrame(
        {"template_id": ids, "template": table[ids.to_numpy()] if len(ids) else []},
        index=logs.index,
    )


_ENTITY = ["cluster", "namespace", "node", "workload_kind", "workload", "pod", "container"]


def _at(value: object) -> pd.Timestamp:
    return as_utc(value, "at", error=InvestigationError)


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


#: How many times its rate before a pod's known error template must log after the onset to
#: surge: traffic alone swings a busy service's rates by up to about twice between quiet and
#: busy minutes, so three times is more than the load.
SURGE_RATIO = 3.0


def covered_minutes(timestamps: pd.Series, at: pd.Timestamp) -> tuple[float, float]:
    """Minutes before and after ``at`` in which the logs were collected at all (any line).

    A gap in collection (a log shipper down, logs kept only around alerts) is not a quiet
    period: rates are counts over the minutes that have lines, not over the wall-clock span.
    Each is at least 1.

    >>> t = pd.to_datetime(["2024-01-01T00:00:10Z", "2024-01-01T00:00:50Z",
    ...                     "2024-01-01T01:00:05Z", "2024-01-01T01:01:05Z"])
    >>> covered_minutes(pd.Series(t), pd.Timestamp("2024-01-01T01:00:00Z"))
    (1.0, 2.0)
    """
    minutes = pd.Series(pd.to_datetime(timestamps, utc=True)).dt.floor("min").drop_duplicates()
    at_min = at.floor("min")
    before = float((minutes < at_min).sum())
    after = float((minutes > at_min).sum())
    # the minute of the onset is split between the two by where ``at`` falls in it
    if (minutes == at_min).any():
        cut = (at - at_min).total_seconds() / 60
        before, after = before + cut, after + 1 - cut
    return max(before, 1.0), max(after, 1.0)


#: A stretch without one of a pod's error templates is quiet when the template, at its rate while
#: it was being logged, would have shown this many times in it (plus ln of its number of lines,
#: as every gap between two of its lines is a chance to look quiet): a Poisson count of 3 is
#: zero 5% of the time, so the template had stopped, not paused.
QUIET_EXPECTED = 3.0
#: An episode of an error template still going at the onset that began this long before it is
#: the pod's state by now, not an incident of its own (as a change this old can still be a
#: cause, an error this old is what the pod is like).
STANDING = pd.Timedelta("15min")


#: The grain of the clock of collected logs (:func:`_covered_clock`): a stretch this long with
#: no line at all from any pod was not collected. Finer than a minute, as logs kept around
#: alerts begin and end inside a minute.
CLOCK_GRAIN = pd.Timedelta("10s")


def _covered_clock(timestamps: pd.Series, stamps: pd.Series) -> np.ndarray:
    """Minutes of collected logs before each of ``stamps``: a clock that runs only through the
    :data:`CLOCK_GRAIN` stretches that have a line in ``timestamps``, and stops while the logs
    were not collected."""
    grain = CLOCK_GRAIN.value
    ticks = pd.to_datetime(timestamps, utc=True).to_numpy("datetime64[ns]").view(np.int64)
    bins = np.unique(ticks // grain)
    at = pd.to_datetime(stamps, utc=True).to_numpy("datetime64[ns]").view(np.int64)
    whole = np.searchsorted(bins, at // grain)
    return (whole + (at % grain) / grain) * (grain / 60e9)


def earlier_incidents(
    logs: pd.DataFrame,
    at: object,
    templates: pd.DataFrame | None = None,
    min_level: str = "error",
) -> pd.Series:
    """The lines before ``at`` that belong to an earlier incident: an episode of a pod's
    ``min_level``-or-worse template that began after a quiet stretch.

    A baseline that holds an earlier incident is not normal: when a pod's error came in a
    burst that began (after the pod had logged without it) and ended, its rate in that burst
    is not what the pod normally logs, and a repeat of it (the same fault again; logs kept
    only around alerts) must not read as "as frequent as before". Per pod and template, the
    template's lines are cut into episodes at quiet stretches: stretches of collected logs
    (a clock that runs only through ten-second stretches with a line from any pod) long
    enough that it would have been logged :data:`QUIET_EXPECTED` (plus ln of its number of
    lines) times at its rate before ``at`` (from its first line to its last). The lines
    before ``at`` of every episode that began after a quiet stretch are marked, but for the
    one still going at ``at`` when it began :data:`STANDING` before it (the pod's state by
    then). An episode logged from the pod's first lines on is never marked: the template was
    there from the start.

    Returns
    -------
    Series
        Boolean, on the index of ``logs``: ``True`` for lines of earlier incidents.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01T00:00Z", periods=60, freq="10s")
    >>> level = ["info"] * 10 + ["error"] * 10 + ["info"] * 20 + ["error"] * 20
    >>> logs = schema.conform("logs", pd.DataFrame({"timestamp": t, "pod": "a",
    ...     "message": ["ok" if v == "info" else "db down" for v in level], "level": level}))
    >>> int(earlier_incidents(logs, t[40]).sum())  # the first burst of "db down"
    10
    """
    at_ts = _at(at)
    out = pd.Series(False, index=logs.index)
    if logs.empty or "level" not in logs.columns:
        return out
    if templates is None:
        templates = log_templates(logs)
    stamped = logs["timestamp"].notna()
    bad = stamped & logs["pod"].notna() & logs["level"].notna() & (logs["level"] >= min_level)
    if not bad.any():
        return out
    collected = logs.loc[stamped, "timestamp"]
    frame = logs.loc[bad, ["pod", "timestamp"]].join(templates["template_id"])
    frame = frame.assign(
        pod=frame["pod"].astype("object").astype(str),
        clock=_covered_clock(collected, frame["timestamp"]),
    ).sort_values(["pod", "template_id", "timestamp"], kind="stable")
    first = collected.groupby(logs.loc[stamped, "pod"].astype("object"), sort=False).min()
    start = pd.Series(_covered_clock(collected, first), index=first.index.astype(str))
    keys = [frame["pod"], frame["template_id"]]
    clock = frame["clock"].groupby(keys, sort=False)
    # its rate before ``at`` (lines per collected minute from its first line to its last):
    # what an earlier burst's stop is measured against (a rare error that surges after ``at``
    # did not stop between two rare lines)
    early = frame["clock"].where(frame["timestamp"] < at_ts).groupby(keys, sort=False)
    count = early.transform("count").to_numpy(dtype=float)
    span = (early.transform("max") - early.transform("min")).fillna(0).to_numpy(dtype=float)
    rate = count / np.maximum(span, 1.0)
    previous = clock.shift(1).fillna(frame["pod"].map(start)).to_numpy(dtype=float)
    gap = frame["clock"].to_numpy() - previous
    quiet = gap * rate >= QUIET_EXPECTED + np.log(np.maximum(count, 1.0))
    episode = pd.Series(quiet.astype(np.int64), index=frame.index).groupby(keys).cumsum()
    last = episode.groupby(keys).transform("max")
    began = frame["timestamp"].groupby([*keys, episode], sort=False).transform("min")
    # episode 0 was logged from the pod's first lines on: what the pod is like; a later one
    # began after a quiet stretch: an incident, unless it is still going and began long ago
    standing = (episode == last) & (began < at_ts - STANDING)
    mark = (frame["timestamp"] < at_ts) & (episode > 0) & ~standing
    out.loc[mark[mark].index] = True
    return out


def template_surges(
    logs: pd.DataFrame,
    at: object,
    templates: pd.DataFrame | None = None,
    min_level: str = "warning",
    min_score: float = 3.0,
) -> pd.DataFrame:
    """Per pod, ``min_level``-or-worse templates it logged before ``at`` and logs far more often
    after it: a known error coming back in force (a repeat of a fault, an error that was rare).

    Like :func:`error_bursts` but per template, so one chronic warning flood of a pod does not
    hide a rare error of the same pod that surges; rates are over :func:`covered_minutes`, and
    the rate after must be at least :data:`SURGE_RATIO` times the rate before.
    Templates new to the pod are :func:`new_templates`' and are left out here.

    Returns
    -------
    DataFrame
        The key, ``template_id``, ``template``, ``before``, ``after``, ``score`` (Poisson
        deviation of ``after`` from the rate before, with one line of prior), ``first_seen``
        (first line after ``at``), ``level``; highest score first.
    """
    at_ts = _at(at)
    columns = [
        *_ENTITY,
        "template_id",
        "template",
        "before",
        "after",
        "score",
        "first_seen",
        "level",
    ]
    if logs.empty or "level" not in logs.columns:
        return pd.DataFrame(columns=columns)
    if templates is None:
        templates = log_templates(logs)
    bad = logs["pod"].notna() & logs["level"].notna() & (logs["level"] >= min_level)
    if not bad.any():
        return pd.DataFrame(columns=columns)
    span_before, span_after = covered_minutes(logs["timestamp"], at_ts)
    frame = logs.loc[bad, [*_ENTITY, "timestamp", "level"]].join(templates)
    frame = frame.assign(after=frame["timestamp"] >= at_ts)
    group = [*_ENTITY, "template_id"]
    agg = (
        frame.groupby(group, observed=True, dropna=False, sort=False)
        .agg(
            after=("after", "sum"),
            total=("after", "size"),
            template=("template", "first"),
            level=("level", "max"),
        )
        .reset_index()
    )
    agg["after"] = agg["after"].astype(np.int64)
    agg["before"] = (agg["total"] - agg["after"]).astype(np.int64)
    agg = agg[(agg["before"] > 0) & (agg["after"] > 0)]
    if agg.empty:
        return pd.DataFrame(columns=columns)
    expected = (agg["before"] + 1) * span_after / span_before
    agg["score"] = (agg["after"] - expected) / np.sqrt(expected)
    # a Poisson score grows with the count, so a chronic flood that swings with the traffic
    # would always "surge": the rate must also have grown SURGE_RATIO-fold
    ratio = (agg["after"] / span_after) / (agg["before"] / span_before)
    agg = agg[(agg["score"] >= min_score) & (ratio >= SURGE_RATIO)]
    starts = (
        frame[frame["after"]]
        .groupby(group, observed=True, dropna=False, sort=False)["timestamp"]
        .min()
        .rename("first_seen")
    )
    agg = agg.join(starts, on=group)
    return agg.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)[columns]


#: An exception as Java, Python, Go and .NET name it in a log line: a dotted class name ending in
#: Exception or Error (``java.lang.IllegalStateException``, ``ValueError``), and its message up
#: to the end of the line or a closing bracket.
_EXCEPTION_RE = (
    r"(?P<cls>(?:[A-Za-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error))(?:: *(?P<msg>[^\]\n]{0,120}))?"
)


def new_exceptions(logs: pd.DataFrame, at: object) -> pd.DataFrame:
    """Exceptions (class and message) a pod logs at or after ``at`` that it never logged before.

    A template can stay the same while what it carries changes (a servlet's "Request
    processing failed; nested exception is X: message" holds every exception its handlers
    throw), so exceptions are compared on their own: the class and the message, numbers and
    ids masked (:func:`mask`), per pod against the pod's own lines before ``at``. Only pods
    that logged before ``at`` are compared (a new pod has no past of its own).

    Returns
    -------
    DataFrame
        One row per (pod, exception): the key, ``exception``, ``first_seen``, ``count``,
        ``lines`` (the index labels of its lines in ``logs``); most lines first.

    Examples
    --------
    >>> logs = schema.conform("logs", pd.DataFrame({
    ...     "timestamp": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T00:05Z"]),
    ...     "pod": ["a", "a"], "message": ["java.io.IOException: disk 1 slow",
    ...     "failed: java.lang.IllegalStateException: No instances available for seat"]}))
    >>> new_exceptions(logs, "2024-01-01T00:04Z")["exception"].tolist()
    ['java.lang.IllegalStateException: No instances available for seat']
    """
    at_ts = _at(at)
    columns = [*_ENTITY, "exception", "first_seen", "count", "lines"]
    if logs.empty:
        return pd.DataFrame(columns=columns)
    # only lines that name an exception or error at all go through the full pattern; both
    # patterns run once per distinct message (or text) and are broadcast back to the lines
    codes, raw = _distinct(logs["message"])
    has_name = pc.match_substring_regex(raw, r"\w(?:Exception|Error)\b")
    named = has_name.to_numpy(zero_copy_only=False)[codes] & logs["pod"].notna().to_numpy()
    if not named.any():
        return pd.DataFrame(columns=columns)
    subset = logs[named]
    codes, texts = _message_text_distinct(subset["message"])
    found = pc.extract_regex(texts, _EXCEPTION_RE)
    cls = pc.struct_field(found, [0]).to_numpy(zero_copy_only=False)
    msg = pc.struct_field(found, [1]).to_numpy(zero_copy_only=False)
    found_in = pd.notna(cls)
    has = found_in[codes]
    if not has.any():
        return pd.DataFrame(columns=columns)
    signature = np.array(
        [
            c + (f": {m.strip()}" if isinstance(m, str) and m.strip() else "") if ok else None
            for c, m, ok in zip(cls, msg, found_in, strict=True)
        ],
        dtype=object,
    )
    sig = pd.Series(signature[codes[has]], index=subset.index[has], dtype=object)
    frame = subset.loc[sig.index, [*_ENTITY, "timestamp"]].assign(exception=mask(sig).to_numpy())
    after = (frame["timestamp"] >= at_ts).to_numpy()
    pods = logs.loc[logs["timestamp"] < at_ts, "pod"].astype("object").dropna().unique()
    seen = set(
        zip(frame.loc[~after, "pod"].astype(str), frame.loc[~after, "exception"], strict=True)
    )
    fresh = frame[after & frame["pod"].astype("object").isin(pods).to_numpy()]
    keep = [(str(p), e) not in seen for p, e in zip(fresh["pod"], fresh["exception"], strict=True)]
    fresh = fresh[np.array(keep, dtype=bool)] if len(fresh) else fresh
    if fresh.empty:
        return pd.DataFrame(columns=columns)
    agg = (
        fresh.assign(line=fresh.index)
        .groupby([*_ENTITY, "exception"], observed=True, dropna=False, sort=False)
        .agg(first_seen=("timestamp", "min"), count=("timestamp", "size"), lines=("line", list))
        .reset_index()
    )
    agg["count"] = agg["count"].astype(np.int64)
    return agg.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)[columns]


def error_origins(logs: pd.DataFrame, at: object, lines: pd.Series) -> pd.DataFrame:
    """Where errors that travel begin: per trace, the pod of its first error line.

    An exception thrown in a callee is logged there first, then again by every caller it
    travels up through ("500 from X", "No instances available for X", a servlet's "Request
    processing failed"). Among the ``lines`` given (a boolean mask on ``logs``: error lines
    worth explaining, e.g. of templates new or surging in the incident) at or after ``at``, the
    ones that carry a ``trace_id`` are grouped by trace: the pod with the earliest line
    *originates* the trace's error, the other pods with lines in it *report* it.

    Returns
    -------
    DataFrame
        One row per pod: the key, ``originated`` (traces whose first error is its),
        ``followed`` (of those, traces where another pod logged an error after it),
        ``reported`` (traces it logged an error in after another pod did), ``origins`` (the
        pods that originated the traces it reported, most frequent first); most ``originated``
        first.
    """
    at_ts = _at(at)
    key = ["namespace", "workload", "pod"]
    columns = [*key, "originated", "followed", "reported", "origins"]
    if logs.empty or "trace_id" not in logs.columns:
        return pd.DataFrame(columns=columns)
    sel = (
        lines.reindex(logs.index, fill_value=False).to_numpy(dtype=bool)
        & (logs["timestamp"] >= at_ts).to_numpy()
        & logs["trace_id"].notna().to_numpy()
        & logs["pod"].notna().to_numpy()
    )
    frame = logs.loc[sel, [*key, "timestamp", "trace_id"]].astype(
        {c: "object" for c in [*key, "trace_id"]}
    )
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.sort_values(["trace_id", "timestamp"], kind="stable")
    per_pod = frame.drop_duplicates(["trace_id", "pod"])
    first = per_pod.drop_duplicates("trace_id").set_index("trace_id")["pod"]
    per_pod = per_pod.assign(origin=per_pod["trace_id"].map(first).to_numpy())
    mine = per_pod["origin"].to_numpy() == per_pod["pod"].to_numpy()
    # traces where another pod logged an error after the origin: the error travelled
    travelled = per_pod.groupby("trace_id")["pod"].transform("size").to_numpy() > 1
    per_pod = per_pod.assign(originated=mine, reported=~mine, followed=mine & travelled)
    agg = (
        per_pod.groupby(key, dropna=False, sort=False)
        .agg(
            originated=("originated", "sum"),
            reported=("reported", "sum"),
            followed=("followed", "sum"),
        )
        .reset_index()
    )
    others = per_pod[~mine].groupby("pod")["origin"].agg(lambda s: s.value_counts().index.tolist())
    agg["origins"] = agg["pod"].map(others).apply(lambda v: v if isinstance(v, list) else [])
    agg["originated"] = agg["originated"].astype(np.int64)
    agg["reported"] = agg["reported"].astype(np.int64)
    agg["followed"] = agg["followed"].astype(np.int64)
    return agg.sort_values("originated", ascending=False, kind="stable").reset_index(drop=True)


#: How a line says that a call it made failed (a report of the callee's trouble, not a fault of
#: the pod's own code): Spring's load balancer finding no instance of the callee ("No instances
#: available for ts-seat-service"), the client exception classes of Spring's RestTemplate,
#: Feign, OkHttp and java.net, an HTTP error status as a client prints it ("500 Internal Server
#: Error"), and gRPC's status codes for a callee that could not be reached or answer in time.
CALL_FAILURE_RE = (
    r"No instances available for|HttpServerErrorException|HttpClientErrorException|"
    r"RestClientException|ResourceAccessException|FeignException|RetryableException|"
    r"ConnectException|SocketTimeoutException|UnknownHostException|"
    r"\b[45]\d\d (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b|"
    r"\b(?:UNAVAILABLE|DEADLINE_EXCEEDED)\b"
)


def call_failures(logs: pd.DataFrame) -> pd.Series:
    """The warning-or-worse lines (or lines without a level) that report a failed call
    (:data:`CALL_FAILURE_RE`): the line's pod tells of its callee's trouble.

    >>> logs = schema.conform("logs", pd.DataFrame({"message": [
    ...     "ERROR Servlet.service() threw exception [Request processing failed; nested "
    ...     "exception is java.lang.IllegalStateException: No instances available for "
    ...     "ts-basic-service] with root cause",
    ...     "ERROR [getAllFood][reGetTrainFoodListResult][Get the Get Food Request Failed!]"],
    ...     "level": ["error", "error"]}))
    >>> call_failures(logs).tolist()
    [True, False]
    """
    out = pd.Series(False, index=logs.index)
    if logs.empty:
        return out
    # lines below warning level report nothing: only the others go through the pattern
    worth = np.ones(len(logs), dtype=bool)
    if "level" in logs.columns:
        worth = ~(logs["level"].notna() & (logs["level"] < "warning")).to_numpy()
    if not worth.any():
        return out
    codes, raw = _distinct(logs.loc[worth, "message"])
    said = pc.match_substring_regex(raw, CALL_FAILURE_RE).to_numpy(zero_copy_only=False)[codes]
    out.loc[worth] = said
    return out


#: A step B is bound to a step A of a pod's code path when, in this share of the pod's traces
#: before the onset that log A, B follows at least k times per A (k >= 1): nine in ten, as a
#: branch of the code (a cache hit or miss, a found or not-found) splits requests more evenly,
#: and a few requests of an earlier incident in the baseline do not unbind a step.
BOUND_SHARE = 0.9
#: A break needs at least this many traces that stopped short after the onset: one or two
#: requests that stop early can be clients that hung up.
MIN_BROKEN = 3


def broken_sequences(
    logs: pd.DataFrame,
    at: object,
    templates: pd.DataFrame | None = None,
    min_traces: int = 20,
    min_score: float = 3.0,
) -> pd.DataFrame:
    """Per pod, a step of its own code path that stopped following the step before it.

    A request through a pod logs the same steps each time ("Seat request", "Get Rest tickets
    num", "Calculate distance"). When a step B followed a step A in the pod's traces before
    ``at`` (in :data:`BOUND_SHARE` of the traces with A, at least k B lines per A line, for a
    ``min_traces`` traces or more) and after ``at`` traces with A stop short of B, the pod's
    code between A and B failed: an exception thrown and swallowed, a wrong value that ends the
    request early. Only lines below warning level are steps; a trace in which the pod
    reports a failed call (:func:`call_failures`) is left out, before ``at`` and after it, as
    the step was skipped because the callee failed (its trouble, not the pod's code). The
    shortfall is scored like a Poisson count against the
    share of short traces before ``at`` (with one trace of prior), must be at least
    :data:`~obskit.analysis.logpatterns.SURGE_RATIO` times that share, and hold
    :data:`MIN_BROKEN` traces.

    Returns
    -------
    DataFrame
        One row per pod (its strongest break): the key, ``step`` and ``missing`` (the
        templates A and B), ``per_step`` (k), ``before`` and ``short_before`` (traces with A
        before ``at``, and those short of B), ``after`` and ``short_after``, ``score``,
        ``first_seen`` (the first short trace's A line); highest score first.

    Examples
    --------
    >>> t0 = pd.Timestamp("2024-01-01T00:00Z")
    >>> steps = [["got seat", "priced"]] * 30 + [["got seat"]] * 5
    >>> logs = schema.conform("logs", pd.DataFrame(
    ...     [(t0 + pd.Timedelta(seconds=10 * i), "a", f"t{i}", s, "info")
    ...      for i, trace in enumerate(steps) for s in trace],
    ...     columns=["timestamp", "pod", "trace_id", "message", "level"]))
    >>> out = broken_sequences(logs, t0 + pd.Timedelta(minutes=5))
    >>> out[["pod", "step", "missing", "short_after"]].values.tolist()
    [['a', 'got seat', 'priced', 5]]
    """
    at_ts = _at(at)
    columns = [
        *_ENTITY,
        "step",
        "missing",
        "per_step",
        "before",
        "short_before",
        "after",
        "short_after",
        "score",
        "first_seen",
    ]
    if logs.empty or "trace_id" not in logs.columns:
        return pd.DataFrame(columns=columns)
    if templates is None:
        templates = log_templates(logs)
    traced = logs["trace_id"].notna() & logs["pod"].notna()
    if not traced.any():
        return pd.DataFrame(columns=columns)
    pod_code, pods = pd.factorize(logs.loc[traced, "pod"].astype("object"))
    trace_code, _ = pd.factorize(logs.loc[traced, "trace_id"].astype("object"))
    # one integer per (pod, trace): a request's pass through the pod
    visit = pod_code.astype(np.int64) * (int(trace_code.max()) + 1) + trace_code
    stamps = logs.loc[traced, "timestamp"].to_numpy(dtype="datetime64[ns]")
    first = pd.Series(stamps).groupby(visit, sort=False).transform("min").to_numpy()
    lines = pd.DataFrame(
        {
            "visit": visit,
            "pod": pod_code,
            "template_id": templates.loc[traced, "template_id"].to_numpy(),
            "timestamp": stamps,
            # a visit belongs to the side of ``at`` where the pod's first line of it falls
            "after": first >= at_ts.to_datetime64(),
        }
    )
    reported = call_failures(logs.loc[traced]).to_numpy()
    step = ~np.isin(visit, visit[reported])
    if "level" in logs.columns:
        level = logs.loc[traced, "level"]
        step &= ~(level.notna() & (level >= "warning")).to_numpy()
    lines = lines[step]
    # a bound pair needs its two steps in the same visits: pods with too few visits of two
    # steps or more before ``at`` (or none after it) are left out before the pairs are counted
    shape = lines.groupby("visit", sort=False).agg(
        pod=("pod", "first"),
        after=("after", "first"),
        steps=("template_id", "nunique"),
        at=("timestamp", "min"),
    )
    many = shape[~shape["after"] & (shape["steps"] > 1)].groupby("pod").size()
    later = set(shape.loc[shape["after"], "pod"])
    worth = [p for p in many[many >= BOUND_SHARE * min_traces].index if p in later]
    rows = []
    for code, own in lines[lines["pod"].isin(worth)].groupby("pod", sort=False):
        found = _pod_breaks(own, shape, min_traces, min_score)
        if found is not None:
            rows.append({"pod": pods[code], **found})
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows)
    key = logs.loc[traced, _ENTITY].astype("object").drop_duplicates("pod").set_index("pod")
    for c in _ENTITY:
        if c != "pod":
            out[c] = out["pod"].map(key[c]) if c in key.columns else None
    names = templates.drop_duplicates("template_id").set_index("template_id")["template"]
    out["step"] = out["step"].map(names)
    out["missing"] = out["missing"].map(names)
    out["first_seen"] = pd.to_datetime(out["first_seen"], utc=True)
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)[columns]


def _pod_breaks(
    own: pd.DataFrame, shape: pd.DataFrame, min_traces: int, min_score: float
) -> dict | None:
    """The strongest broken step of one pod's step lines (:func:`broken_sequences`); ``shape``
    holds each visit's side of the onset (``after``) and first line (``at``)."""
    counts = own.groupby(["visit", "template_id"], sort=False).size().unstack(fill_value=0)
    visits = shape.reindex(counts.index)
    after = visits["after"].to_numpy(dtype=bool)
    past, now = counts.to_numpy()[~after], counts.to_numpy()[after]
    if (past.shape[0] < min_traces) or not len(now):
        return None
    now_stamps = visits["at"].to_numpy()[after]
    best = None
    for a in np.flatnonzero((past > 0).sum(axis=0) >= min_traces):
        with_a = past[past[:, a] > 0]
        ratio = with_a / with_a[:, [a]]
        per = np.floor(np.quantile(ratio, 1 - BOUND_SHARE, axis=0))
        per[a] = 0
        hit = now[:, a] > 0
        for b in np.flatnonzero(per >= 1):
            short = hit & (now[:, b] < per[b] * now[:, a])
            k = int(short.sum())
            if k < MIN_BROKEN:
                continue
            n_before, n_after = len(with_a), int(hit.sum())
            k_before = int((with_a[:, b] < per[b] * with_a[:, a]).sum())
            expected = (k_before + 1) * n_after / n_before
            score = (k - expected) / np.sqrt(expected)
            if score < min_score or k / n_after < SURGE_RATIO * (k_before + 1) / n_before:
                continue
            if best is None or score > best["score"]:
                best = {
                    "step": counts.columns[a],
                    "missing": counts.columns[b],
                    "per_step": int(per[b]),
                    "before": n_before,
                    "short_before": k_before,
                    "after": n_after,
                    "short_after": k,
                    "score": float(score),
                    "first_seen": now_stamps[short].min(),
                }
    return best


def error_bursts(
    logs: pd.DataFrame, at: object, min_level: str = "warning", min_score: float = 3.0
) -> pd.DataFrame:
    """Pods (containers) whose rate of ``min_level``-or-worse lines rose after ``at``.

    The rate before ``at`` (with one line of prior, so a pod that never erred still has a rate)
    is the expectation; the score is the Poisson deviation of the count after ``at``,
    ``(observed - expected) / sqrt(expected)``. Only pods that logged before ``at`` are
    scored: a pod with no line before it has no rate of its own to rise from (it is compared
    with its peers by :func:`peer_errors`).

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
    span_before, span_after = covered_minutes(logs["timestamp"], at_ts)
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
    past = logs.loc[logs["timestamp"] < at_ts, "pod"].astype("object").dropna().unique()
    agg = agg[(agg["score"] >= min_score) & agg["pod"].astype("object").isin(past)]
    return agg.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)[columns]


def peer_errors(logs: pd.DataFrame, at: object, min_score: float = 3.0) -> pd.DataFrame:
    """Pods with no line before ``at`` whose share of error-or-worse lines after it is far
    above their peers'.

    A pod with no log baseline (new, or logs collected only from the onset on) cannot be
    compared with its own past; it is compared with its peers in the same window: its
    workload's other pods when it has some that logged after ``at``, else every other pod.
    The expectation is the pod's lines after ``at`` times the peers' share of error lines
    (with one line of prior); the score is the Poisson deviation of its error lines from it.
    Warnings are left out: a chatty service's warnings are its habit, not an error.

    Returns
    -------
    DataFrame
        The key, ``errors``, ``lines`` (after ``at``), ``peer_share``, ``score``,
        ``first_error``; highest score first.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01T00:00Z", periods=40, freq="15s")
    >>> logs = schema.conform("logs", pd.DataFrame({"timestamp": list(t) * 2,
    ...     "pod": ["a"] * 40 + ["b"] * 40, "message": "x",
    ...     "level": ["error", "info"] * 20 + ["info"] * 40}))
    >>> peer_errors(logs, t[0])[["pod", "errors", "lines"]].values.tolist()
    [['a', 20, 40]]
    """
    at_ts = _at(at)
    columns = [*_ENTITY, "errors", "lines", "peer_share", "score", "first_error"]
    if logs.empty or "level" not in logs.columns:
        return pd.DataFrame(columns=columns)
    pod = logs["pod"].astype("object")
    past = set(pod[logs["timestamp"] < at_ts].dropna())
    after = logs[(logs["timestamp"] >= at_ts) & pod.notna()]
    if after.empty:
        return pd.DataFrame(columns=columns)
    worse = (after["level"].notna() & (after["level"] >= "error")).to_numpy()
    frame = (
        after[_ENTITY].astype("object").assign(error=worse, stamp=after["timestamp"].where(worse))
    )
    agg = (
        frame.groupby(_ENTITY, dropna=False, sort=False)
        .agg(errors=("error", "sum"), lines=("error", "size"), first_error=("stamp", "min"))
        .reset_index()
    )
    total_errors, total_lines = agg["errors"].sum(), agg["lines"].sum()
    sums = agg.groupby("workload", dropna=True)[["errors", "lines"]].sum()
    wl_errors = agg["workload"].map(sums["errors"]).fillna(agg["errors"]) - agg["errors"]
    wl_lines = agg["workload"].map(sums["lines"]).fillna(agg["lines"]) - agg["lines"]
    own = wl_lines > 0  # the workload has other pods that logged: they are the peers
    peer_errors_n = np.where(own, wl_errors, total_errors - agg["errors"])
    peer_lines = np.where(own, wl_lines, total_lines - agg["lines"])
    agg["peer_share"] = (peer_errors_n + 1) / (peer_lines + 1)
    expected = agg["lines"] * agg["peer_share"]
    agg["score"] = (agg["errors"] - expected) / np.sqrt(expected)
    agg = agg[(agg["score"] >= min_score) & ~agg["pod"].isin(past) & (agg["errors"] > 0)]
    agg = agg.astype({"errors": np.int64, "lines": np.int64})
    agg["first_error"] = pd.to_datetime(agg["first_error"], utc=True)
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


_GAP_KEY = ["namespace", "workload", "pod"]


def _trace_gaps(logs: pd.DataFrame) -> pd.DataFrame:
    """Every call and return gap between two pods' lines in the same trace.

    Lines are ordered by time within their trace; a *span* is one (trace, span id, pod). A
    span's first line whose previous line belongs to another pod's span still open (its last
    line is later) gives a ``call`` gap; a span's last line whose next line belongs to another
    pod's span that began earlier (the caller resuming) gives a ``return`` gap.

    Returns ``direction``, ``time`` (of the later line), ``gap`` (milliseconds), ``caller``
    (the caller's workload, or pod when it has none), ``caller_workload`` and ``callee`` (pod).
    """
    columns = ["direction", "time", "gap", "caller", "caller_workload", "callee"]
    cols = ["trace_id", "span_id", "workload", "pod", "timestamp"]
    frame = logs[cols].dropna(subset=["trace_id", "span_id", "pod", "timestamp"])
    if len(frame) < 2:
        return pd.DataFrame(columns=columns)
    trace = pd.factorize(frame["trace_id"].astype("object"))[0]
    t = frame["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.lexsort((t, trace))
    trace, t = trace[order], t[order]
    pod_codes, pods = pd.factorize(frame["pod"].astype("object"))
    pod = pod_codes[order]
    span_codes = pd.factorize(frame["span_id"].astype("object"))[0][order]
    span = pd.factorize(
        pd.Series(trace.astype(np.int64) * (span_codes.max() + 1) + span_codes) * len(pods) + pod
    )[0]
    first = np.full(span.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, span, t)
    last = np.full(span.max() + 1, np.iinfo(np.int64).min)
    np.maximum.at(last, span, t)
    first, last = first[span], last[span]
    same = (trace[1:] == trace[:-1]) & (pod[1:] != pod[:-1])
    # row i+1 is a span's first line, row i a line of another pod's span still open: a call
    call = same & (t[1:] == first[1:]) & (last[:-1] >= t[1:]) & (first[:-1] < t[1:])
    # row i is a span's last line, row i+1 the line of a span that began before it: a return
    ret = same & (t[:-1] == last[:-1]) & (first[1:] < first[:-1])
    ci, ri = np.flatnonzero(call), np.flatnonzero(ret)
    caller_row = order[np.r_[ci, ri + 1]]
    callee_row = order[np.r_[ci + 1, ri]]
    workload = frame["workload"].astype("object").to_numpy()
    pod_name = frame["pod"].astype("object").to_numpy()
    caller_wl = workload[caller_row]
    out = pd.DataFrame(
        {
            "direction": np.r_[np.repeat("call", len(ci)), np.repeat("return", len(ri))],
            "time": pd.to_datetime(np.r_[t[ci + 1], t[ri + 1]], utc=True),
            "gap": np.r_[t[ci + 1] - t[ci], t[ri + 1] - t[ri]] / 1e6,
            "caller": np.where(pd.isna(caller_wl), pod_name[caller_row], caller_wl),
            "caller_workload": caller_wl,
            "callee": pod_name[callee_row],
        }
    )
    # two pods of one workload calling each other: not an edge between workloads
    return out[pd.isna(caller_wl) | (caller_wl != workload[callee_row])].reset_index(drop=True)


def trace_latency(
    logs: pd.DataFrame,
    at: object,
    baseline: object = None,
    min_calls: int = 3,
    min_score: float = 3.0,
) -> pd.DataFrame:
    """Call edges whose latency, seen through trace-correlated log lines, rose after ``at``.

    In logs that carry ``trace_id`` and ``span_id`` (the OpenTelemetry log data model's
    names), a call from one workload to another shows as the caller's line followed by the
    callee's first line in the same trace (the **call** gap: the request's trip and the
    callee's work before it logs), and the callee's last line followed by the caller's next
    line (the **return** gap: the response's trip and the caller's work on it). Per edge
    (caller workload, callee pod, direction) the gaps after ``at`` are compared with the gaps
    in the baseline before it: ``score`` is the shift of the median in units of the baseline's
    interquartile range (at least a tenth of the baseline median and 1 ms, so that a steady
    edge's tiny spread does not magnify noise), as BARO scores a metric.

    A slow callee (CPU starved, a delayed network interface) lengthens its edges' gaps though
    it may log nothing unusual and its resource metrics may not move at a low request rate.
    The gaps are differences of two pods' clocks: a constant skew cancels in the comparison.

    Parameters
    ----------
    logs : DataFrame
        A logs frame with ``trace_id`` and ``span_id``; without them, no edges.
    at : timestamp
        The onset.
    baseline : duration, optional
        How far before ``at`` the baseline reaches (default: every line before ``at``, as for
        metrics). An earlier slowdown of the same edge inside the baseline makes a repeat of it
        look normal; a shorter baseline avoids that when the logs hold one.
    min_calls : int
        Fewest gaps on each side of ``at`` for an edge to be scored.
    min_score : float
        Smallest score reported.

    Returns
    -------
    DataFrame
        ``caller`` (workload), ``direction`` (``call`` or ``return``), the callee's key
        (``cluster``, ``namespace``, ``node``, ``workload_kind``, ``workload``, ``pod``,
        ``container``), ``n_before``, ``n_after``, ``median_before``, ``median_after`` and
        ``shift`` (milliseconds), ``ratio``, ``score``, ``began`` (first gap after ``at``
        above the baseline's largest); highest score first.

    Examples
    --------
    >>> t0 = pd.Timestamp("2024-01-01T00:00Z")
    >>> rows = []
    >>> for i in range(40):  # web calls db 10 ms after its line; db slows to 200 ms at 20 min
    ...     start = t0 + pd.Timedelta(minutes=i)
    ...     lag = pd.Timedelta(milliseconds=200 if i >= 20 else 10 + i % 3)
    ...     rows += [(start, "web", f"t{i}", "a"), (start + lag, "db", f"t{i}", "b"),
    ...              (start + lag + pd.Timedelta("5ms"), "web", f"t{i}", "a")]
    >>> logs = pd.DataFrame(rows, columns=["timestamp", "pod", "trace_id", "span_id"])
    >>> logs["workload"] = logs["pod"]
    >>> out = trace_latency(schema.conform("logs", logs), t0 + pd.Timedelta(minutes=20))
    >>> out[["caller", "direction", "pod", "median_before", "median_after"]].values.tolist()
    [['web', 'call', 'db', 11.0, 200.0]]
    """
    gaps = _gaps_around(logs, at, baseline)
    if gaps is None:
        return pd.DataFrame(columns=_LATENCY_COLUMNS)
    stats = _gap_stats(gaps)
    if stats is None:
        return pd.DataFrame(columns=_LATENCY_COLUMNS)
    out = _shifted_edges(stats, min_calls, min_score)
    if out is None:
        return pd.DataFrame(columns=_LATENCY_COLUMNS)
    out["began"] = _slowdown_began(gaps, stats).reindex(out.index)
    return _keyed_by_callee(out, logs)


#: The columns of :func:`trace_latency`'s result, in order.
_LATENCY_COLUMNS = [
    "caller",
    "direction",
    *_ENTITY,
    "n_before",
    "n_after",
    "median_before",
    "median_after",
    "shift",
    "ratio",
    "score",
    "began",
]

#: What identifies a call edge in the gaps and their statistics.
_EDGE = ["caller", "callee", "direction"]


def _gaps_around(logs: pd.DataFrame, at: object, baseline: object) -> pd.DataFrame | None:
    """The trace gaps from the baseline's start on, with ``after`` (at or after ``at``), or None."""
    need = {"trace_id", "span_id", "pod", "timestamp"}
    if logs.empty or not need <= set(logs.columns):
        return None
    at_ts = _at(at)
    lookback = pd.Timedelta(baseline) if baseline is not None else at_ts - logs["timestamp"].min()
    gaps = _trace_gaps(logs)
    gaps = gaps[gaps["time"] >= at_ts - lookback]
    if gaps.empty:
        return None
    return gaps.assign(after=gaps["time"] >= at_ts)


def _gap_stats(gaps: pd.DataFrame) -> pd.DataFrame | None:
    """Quartiles, count and largest gap per edge before and after; None without both sides."""
    grouped = gaps.groupby([*_EDGE, "after"], sort=False)["gap"]
    stats = grouped.quantile([0.25, 0.5, 0.75]).unstack()
    stats["n"] = grouped.size()
    stats["max"] = grouped.max()
    stats = stats.unstack("after")
    if (False not in stats.columns.get_level_values(1)) or (
        True not in stats.columns.get_level_values(1)
    ):
        return None
    return stats


def _shifted_edges(stats: pd.DataFrame, min_calls: int, min_score: float) -> pd.DataFrame | None:
    """The edges with enough gaps whose median shifted by ``min_score`` or more, or None."""
    n_before = stats[("n", False)].fillna(0)
    n_after = stats[("n", True)].fillna(0)
    med = stats[(0.5, False)]
    med_after = stats[(0.5, True)]
    scale = np.maximum(
        np.maximum(stats[(0.75, False)] - stats[(0.25, False)], 0.1 * med.abs()), 1.0
    )
    score = (med_after - med) / scale
    ok = (n_before >= min_calls) & (n_after >= min_calls) & (score >= min_score)
    if not ok.any():
        return None
    return pd.DataFrame(
        {
            "n_before": n_before[ok].astype(np.int64),
            "n_after": n_after[ok].astype(np.int64),
            "median_before": med[ok],
            "median_after": med_after[ok],
            "shift": (med_after - med)[ok],
            "ratio": (med_after / np.maximum(med, 1e-3))[ok],
            "score": score[ok],
        }
    )


def _slowdown_began(gaps: pd.DataFrame, stats: pd.DataFrame) -> pd.Series:
    """Per edge, the first gap after ``at`` longer than any in the baseline."""
    late = gaps[gaps["after"]].join(stats[("max", False)].rename("limit"), on=_EDGE)
    late = late[late["gap"] > late["limit"]]
    return late.groupby(_EDGE, sort=False)["time"].min()


def _keyed_by_callee(out: pd.DataFrame, logs: pd.DataFrame) -> pd.DataFrame:
    """The scored edges as rows with the callee pod's key, highest score first."""
    out = out.reset_index().rename(columns={"callee": "pod"})
    keys = logs.loc[logs["pod"].notna(), _ENTITY].drop_duplicates("pod").astype("object")
    out = out.merge(keys, on="pod", how="left")
    out["began"] = pd.to_datetime(out["began"], utc=True)
    for c in ("n_before", "n_after"):
        out[c] = out[c].astype(np.int64)
    out = out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return out[_LATENCY_COLUMNS]
