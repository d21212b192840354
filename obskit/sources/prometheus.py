"""Prometheus metrics: HTTP API query responses (JSON) and the text exposition format.

Both formats give one ``metrics`` row per float sample: ``timestamp, metric, value``, the key,
and one ``category`` column for each other label. A record is one sample, so
``records == rows + rejects``.

``prometheus-json``
    The body of ``/api/v1/query_range`` (``matrix``), ``/api/v1/query`` (``vector``, ``scalar``,
    ``string``) or ``/api/v1/series``. Timestamps are float seconds. They are rounded to the
    microsecond, so Prometheus' milliseconds stay exact (``1435781430.781`` becomes
    ``.781000000``). Sample values are strings, ``"NaN"``, ``"+Inf"`` and ``"-Inf"`` included.

    * ``status: error`` raises :class:`~obskit.errors.FormatError`, naming the origin, the
      ``errorType`` and the ``error``. ``warnings`` and ``infos`` go to ``ParseResult.notes``.
    * Native histogram samples (``histogram`` / ``histograms``) are counted as records and
      rejected, one reject per sample. They are not floats; query ``histogram_count()``,
      ``histogram_sum()`` or ``histogram_quantile()`` to get floats.
    * A ``string`` result (text, not a number) is one rejected record.
    * ``/api/v1/series`` returns label sets without samples. Each label set is one record and is
      rejected, its labels kept as JSON in ``raw``. Nothing is invented and nothing is lost.
      A note says to query ``/api/v1/query_range`` for the values.
    * ``/api/v1/labels``, targets, rules and so on have no samples and raise ``FormatError``.
    * A series without ``__name__`` (the result of an expression such as ``rate(...)``) is
      named, in this order, by the ``query`` argument, by the file name without its
      ``.json``/``.gz``/``.xz``/``.zst`` extensions (``cpu.rate5m.json.gz`` gives
      ``cpu.rate5m``) when ``origin`` is a path, or else ``"<expr>"``. A note says which name
      was used.

    A compact body, as Prometheus writes it, goes through a fast path. The ``values`` arrays are
    cut out of the bytes, converted in one vectorised pass (pyarrow's CSV reader), and the
    rest is given to ``orjson``. This is about as fast as ``orjson.loads`` on the same
    bytes. If anything in the bytes is unusual, the parser falls back to the general path: one
    ``orjson.loads`` and per-series conversion. Both paths give the same frame (this is tested).

    :func:`parse_prometheus_json` gives the samples series by series. The registered format
    (what :func:`obskit.load` reads files with) gives them in time order, series by series at
    one time, which is the order an Investigation holds them in, so the load does not sort
    them again. A payload whose times spread over more than a year stays in series order: the
    load's check for rows dated years away rejects them in that order, then sorts the rest.

``prometheus-text``
    What a ``/metrics`` endpoint serves (kubelet ``/metrics/cadvisor``, kube-state-metrics,
    node-exporter). That is the text exposition format 0.0.4, whose timestamps are integer
    milliseconds, or OpenMetrics 1.0 text, whose timestamps are seconds. A payload is read as
    OpenMetrics when it has a ``# EOF`` or ``# UNIT`` line, or when ``openmetrics=True`` is given.

    * ``# TYPE`` becomes a ``metric_type`` column. The type is also resolved for
      ``_bucket``/``_sum``/``_count``/``_total``/``_created``/``_gsum``/``_gcount``/``_info``
      samples of a family. Sample names are kept as Prometheus stores them, so ``x_bucket`` with
      ``le`` stays ``x_bucket``.
    * ``# HELP`` and ``# UNIT`` describe a family, not a sample, and are not kept. Other comments
      are ignored.
    * OpenMetrics exemplars (``# {trace_id="..."} 1.0 1700000000.1``) go, as text, to an
      ``exemplar`` column. Lines after ``# EOF`` are rejected.
    * Malformed lines, unknown ``TYPE`` lines and invalid escapes are rejected with their line
      numbers. Label values unescape ``\\\\``, ``\\"`` and ``\\n``.
    * A sample without a timestamp is stamped with the scrape time. That time is the
      ``scrape_time`` argument of :func:`parse_prometheus_text`. When the registered format reads
      a file, it is the newest timestamp written in the scrape when any sample has one (a
      cAdvisor scrape stamps its container series), else the file's modification time (which a
      copy can move months away). Otherwise the parser raises ``FormatError`` asking for
      ``scrape_time``, so no time is invented. A note says which time was used, and
      ``ParseResult.stamped`` marks the stamped rows.

The key
-------
Each key part is taken from the first of these labels that is set:

==========  ================================================================
cluster     ``exported_cluster``, ``cluster``
namespace   ``exported_namespace``, ``namespace``, ``kubernetes_namespace``
node        ``exported_node``, ``node``, ``kubernetes_node``
pod         ``exported_pod``, ``pod``, ``pod_name``, ``kubernetes_pod_name``
container   ``exported_container``, ``container``, ``container_name``
==========  ================================================================

``exported_*`` comes first. With ``honor_labels: false``, Prometheus renames a series' own
``namespace`` (for example kube-state-metrics' ``kube_pod_info``) to ``exported_namespace`` and
puts the scrape target's namespace in ``namespace``. The series is about the exported one.
``pod_name``/``container_name`` are cAdvisor's names before Kubernetes 1.16. ``kubernetes_*``
come from the relabelling in the old example configurations. ``instance`` is never used as the
node, because it is usually ``IP:port``. It is kept as a label.

cAdvisor's ``container=""`` series (the pod's own cgroup) and ``container="POD"`` series (the
pause sandbox) are about the pod, not a container of its spec. Their ``container`` is ``<NA>``.
Whenever a key part differs from the label of the same name (``"POD"``, or an ``exported_*``
override), the label's own value is kept in ``label_<part>``. An empty label value is the same as
an absent label in Prometheus, so it becomes ``<NA>``. A label named like a frame column
(:data:`RESERVED_LABELS`) is renamed ``label_<name>``; a label that already begins with
``label_`` is prefixed again when it would collide.

Examples
--------
>>> body = (b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
...         b'{"__name__":"up","pod":"web-1","instance":"10.0.0.7:9100"},'
...         b'"values":[[1435781430.781,"1"],[1435781445.781,"NaN"]]}]}}')
>>> df = parse_prometheus_json(body).metrics
>>> df[["timestamp", "metric", "pod", "instance"]].iloc[0].tolist()
[Timestamp('2015-07-01 20:10:30.781000+0000', tz='UTC'), 'up', 'web-1', '10.0.0.7:9100']
>>> df["value"].tolist()
[1.0, nan]
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from pathlib import PurePath

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from obskit import schema
from obskit._time import as_utc
from obskit.errors import FormatError
from obskit.sources._base import (
    ParseResult,
    Rejects,
    gc_paused,
    json_error,
    may_hold_far_out,
    register,
)

__all__ = ["RESERVED_LABELS", "parse_prometheus_json", "parse_prometheus_text"]

JSON_FORMAT = "prometheus-json"
TEXT_FORMAT = "prometheus-text"

#: Label names that would collide with a frame column; such a label becomes ``label_<name>``.
RESERVED_LABELS: frozenset[str] = frozenset(schema.FRAMES["metrics"]) | {
    "source",
    "format",
    "line",
    "metric_type",
    "exemplar",
}

#: Key part -> the labels it is read from, first set wins (see the module docstring).
KEY_LABELS: dict[str, tuple[str, ...]] = {
    "cluster": ("exported_cluster", "cluster"),
    "namespace": ("exported_namespace", "namespace", "kubernetes_namespace"),
    "node": ("exported_node", "node", "kubernetes_node"),
    "pod": ("exported_pod", "pod", "pod_name", "kubernetes_pod_name"),
    "container": ("exported_container", "container", "container_name"),
}

#: Container label values that name no container of the pod spec (cAdvisor's pause sandbox).
_NOT_A_CONTAINER = frozenset({"POD"})

#: Go ``strconv.ParseFloat`` syntax as Prometheus writes sample values (no hex floats).
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)

_first = itemgetter(0)
_second = itemgetter(1)


# --- shared: labels -> columns ---------------------------------------------------------------


@lru_cache(maxsize=4096)
def _column_name(label: str) -> str:
    """The frame column for a label, prefixed ``label_`` (again) where it would collide."""
    if label in RESERVED_LABELS or (
        label.startswith("label_") and _column_name(label[6:]) != label[6:]
    ):
        return "label_" + label
    return label


def _row_labels(labels: dict[str, str], default_name: str) -> dict[str, str]:
    """One series' labels as ``{column: value}``: metric, key parts, the rest renamed."""
    out: dict[str, str] = {"metric": labels.get("__name__") or default_name}
    for part, sources in KEY_LABELS.items():
        value = None
        for source in sources:
            value = labels.get(source)
            if value:
                break
        if part == "container" and value in _NOT_A_CONTAINER:
            value = None
        if value:
            out[part] = value
        raw = labels.get(part)
        if raw and raw != value:
            out["label_" + part] = raw
    for label, value in labels.items():
        if value and label != "__name__" and label not in KEY_LABELS:
            out[_column_name(label)] = value
    return out


#: Per-series codes -> per-row codes (see :func:`_spread`).
Spread = Callable[[np.ndarray], np.ndarray]


def _spread(counts: np.ndarray) -> Spread:
    """Rows series by series: each series' code repeated for its ``counts`` samples."""
    return lambda codes: np.repeat(codes, counts)


def _one_row_each(codes: np.ndarray) -> np.ndarray:
    """Rows that are the series themselves (a scrape's samples): the codes as they are."""
    return codes


def _categorical(values: list[str | None], spread: Spread) -> pd.Categorical:
    """A categorical of per-series values (text or None), laid over the rows by ``spread``.

    The categories are the sorted distinct values, as ``pd.Categorical(values)`` gives them,
    numbered through a dict: a third of the time of pandas' hashing of a few thousand values,
    for each of a frame's label columns."""
    present = sorted({value for value in values if value is not None})
    if present:
        number = {value: k for k, value in enumerate(present)}
        codes = np.fromiter((number.get(v, -1) for v in values), np.int64, count=len(values))
        # pandas narrows the codes to the categories' count (int8 below 127)
        dtype = pd.CategoricalDtype(pd.Index(present))
        cat = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    else:  # no value at all, or no series: pandas' own empty categories
        cat = pd.Categorical(values)
    if spread is _one_row_each:
        return cat
    return pd.Categorical.from_codes(spread(cat.codes), dtype=cat.dtype, validate=False)


def _constant(value: str | None, n: int) -> pd.Categorical:
    if value is None:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=[])
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])


def _metrics_frame(
    labels: list[dict[str, str]],
    spread: Spread,
    timestamps: pd.api.extensions.ExtensionArray | np.ndarray,
    values: np.ndarray,
    *,
    default_name: str,
    origin: str,
    extra: dict[str, pd.Categorical] | None = None,
) -> pd.DataFrame:
    """Build the metrics frame from per-series labels and per-row samples, then conform it.
    ``spread`` lays a per-series code over the rows."""
    n = len(values)
    rows = [_row_labels(d, default_name) for d in labels]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, object] = {
        "timestamp": timestamps,
        "metric": _categorical([r["metric"] for r in rows], spread),
        "value": values,
    }
    for part in schema.KEY:
        if part in names:
            columns[part] = _categorical([r.get(part) for r in rows], spread)
        else:
            columns[part] = _constant(None, n)
    columns["key_source"] = _constant("record", n)
    columns["origin"] = _constant(origin, n)
    columns.update(extra or {})
    for name in sorted(set(names) - set(columns)):
        columns[name] = _categorical([r.get(name) for r in rows], spread)
    return schema.conform("metrics", pd.DataFrame(columns, copy=False))


#: Sample timestamps must fall in pandas' datetime64[ns] range (years 1677-2262).
_MAX_SECONDS = 9.2e9


def _seconds_to_ns(seconds: np.ndarray) -> np.ndarray:
    """Float epoch seconds to int64 ns, rounded to the microsecond like ``parse_times``: a float64
    of today's epoch seconds carries no finer digits, so Prometheus' milliseconds stay exact."""
    return np.round(seconds * 1e6).astype(np.int64) * 1000


def _dumps(obj: object) -> str:
    return orjson.dumps(obj).decode("utf-8", "replace")


# --- prometheus-json -------------------------------------------------------------------------


def _default_name(query: str | None, origin: str) -> str:
    if query:
        return query
    if origin and not origin.startswith("<"):
        # drop only the container extensions: "cpu.rate5m.json.gz" names "cpu.rate5m", so a
        # rate is never mistaken for the counter it was computed from
        stem = re.sub(r"(?:\.(?:json|gz|xz|zst|zstd))+$", "", PurePath(origin).name)
        if stem:
            return stem
    return "<expr>"


class _Collected:
    """Float samples gathered series by series, and what could not be read."""

    def __init__(self, origin: str) -> None:
        self.labels: list[dict[str, str]] = []
        self.counts: list[int] = []
        self.ts: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.records = 0
        self.histograms = 0
        self.rejects = Rejects(JSON_FORMAT, origin)

    def add(self, labels: dict[str, str], ts: np.ndarray, values: np.ndarray) -> None:
        if len(ts):
            self.labels.append(labels)
            self.counts.append(len(ts))
            self.ts.append(ts)
            self.values.append(values)


def _valid_labels(metric: object) -> bool:
    return type(metric) is dict and set(map(type, metric.values())) <= {str}


def _float_values(strings: list[str]) -> np.ndarray | None:
    """Sample value strings to float64 in one pass (same parser as the fast path), or None."""
    try:
        return pc.cast(pa.array(strings, type=pa.string()), pa.float64()).to_numpy(
            zero_copy_only=False
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _checked_pairs(pairs: object) -> tuple[list, list] | None:
    """Split ``[[ts, "v"], ...]`` into timestamps and value strings when every pair is sound."""
    if type(pairs) is not list:
        return None
    try:
        if not set(map(type, pairs)) <= {list} or not set(map(len, pairs)) <= {2}:
            return None
    except TypeError:
        return None
    ts = list(map(_first, pairs))
    values = list(map(_second, pairs))
    if not set(map(type, ts)) <= {int, float} or not set(map(type, values)) <= {str}:
        return None
    return ts, values


def _pair_problem(pair: object) -> str | None:
    if type(pair) is not list or len(pair) != 2:
        return f'a sample must be [<unix_time>, "<value>"], got {_dumps(pair)[:80]}'
    ts, value = pair
    if type(ts) not in (int, float):
        return f"timestamp {ts!r} is not a number of seconds"
    if not abs(ts) < _MAX_SECONDS:
        return f"timestamp {ts!r} is outside the years 1677-2262"
    if type(value) in (int, float):
        return None  # unquoted: not what Prometheus writes, but a number all the same
    if type(value) is not str:
        return f"sample value {value!r} is not a number"
    if not _GO_FLOAT.fullmatch(value):
        return f"sample value {value!r} is not a number"
    return None


def _series_floats(
    pairs: object, where: str, labels: dict[str, str], out: _Collected, field: str
) -> None:
    """Convert one series' float samples, rejecting the unreadable ones."""
    checked = _checked_pairs(pairs)
    if checked is not None:
        ts, strings = checked
        seconds = np.array(ts, dtype=np.float64)
        values = _float_values(strings)
        if values is not None and (np.abs(seconds) < _MAX_SECONDS).all():
            out.records += len(ts)
            out.add(labels, seconds, values)
            return
    if type(pairs) is not list:
        out.records += 1
        out.rejects.add(
            f"{where}.{field} is not a list of samples", _dumps({"metric": labels, field: pairs})
        )
        return
    good_ts: list[float] = []
    good_values: list[float] = []
    for k, pair in enumerate(pairs):
        out.records += 1
        problem = _pair_problem(pair)
        if problem is None:
            good_ts.append(float(pair[0]))
            good_values.append(float(pair[1]))
        else:
            out.rejects.add(
                f"{where}.{field}[{k}]: {problem}", _dumps({"metric": labels, "value": pair})
            )
    out.add(labels, np.array(good_ts, dtype=np.float64), np.array(good_values, np.float64))


def _reject_histograms(
    series: dict, where: str, labels: dict[str, str], out: _Collected, key: str
) -> None:
    samples = series[key] if key == "histograms" else [series[key]]
    if type(samples) is not list:
        samples = [samples]
    for k, sample in enumerate(samples):
        out.records += 1
        out.histograms += 1
        index = f"[{k}]" if key == "histograms" else ""
        out.rejects.add(
            f"native histogram sample ({where}.{key}{index}): the metrics frame holds float "
            f"samples; query histogram_count(), histogram_sum() or histogram_quantile() to "
            f"get floats",
            _dumps({"metric": labels, "histogram": sample}),
        )


def _collect_series(result: list, kind: str, out: _Collected, fast: np.ndarray | None) -> None:
    """Walk a matrix/vector result. With ``fast`` (samples per ``values`` array), the samples
    themselves are already in the fast path's arrays."""
    field = "values" if kind == "matrix" else "value"
    span = 0
    for i, series in enumerate(result):
        where = f"result[{i}]"
        if not isinstance(series, dict):
            out.records += 1
            out.rejects.add(f"{where} is not a series object", _dumps(series))
            continue
        metric = series.get("metric", {})
        if not _valid_labels(metric):
            samples = series.get(field)
            count = len(samples) if kind == "matrix" and isinstance(samples, list) else 1
            out.records += count
            for _ in range(count):
                out.rejects.add(f"{where}.metric is not an object of string labels", _dumps(series))
            continue
        if fast is not None and field in series:
            # The samples are already in the fast path's arrays, in this order.
            n = int(fast[span])
            out.records += n
            if n:
                out.labels.append(metric)
                out.counts.append(n)
            span += 1
        elif field in series:
            pairs = series[field] if kind == "matrix" else [series[field]]
            _series_floats(pairs, where, metric, out, field)
        for key in ("histograms", "histogram"):
            if key in series:
                _reject_histograms(series, where, metric, out, key)
        if field not in series and "histograms" not in series and "histogram" not in series:
            out.records += 1
            out.rejects.add(f"{where} has neither {field!r} nor native histograms", _dumps(series))


_VALUES = b'"values":['
#: For the fast path: each sample ``[t,"v"]`` becomes the CSV line ``first,gap,t,,v,``: ``[``
#: turns into the comma before ``t``, each quote into a comma (so the quotes make two fields
#: that must be empty: a quoted time or an unquoted value gives the line another shape), ``]``
#: ends the line, and the comma between two samples opens the next line (an empty ``first``).
#: A series' first line is given ``0,`` in front.
_SAMPLE_LINES = bytes.maketrans(b'[]"', b",\n,")
#: The parse on one thread (pyarrow reads the stream of lines on its I/O thread): a second
#: parsing thread saved at most ~0.02 s of wall time on a free core and cost up to 0.03 s of
#: CPU (threads' start and hand-over), and none of either on a busy machine.
_CSV_READ = pacsv.ReadOptions(
    column_names=["first", "gap", "t", "open", "v", "close"],
    block_size=1 << 20,
    use_threads=False,
)
_CSV_PARSE = pacsv.ParseOptions(quote_char=False, ignore_empty_lines=False)
_CSV_CONVERT = pacsv.ConvertOptions(
    column_types={
        "first": pa.int8(),
        "gap": pa.int8(),
        "t": pa.float64(),
        "open": pa.int8(),
        "v": pa.float64(),
        "close": pa.int8(),
    },
    null_values=[""],
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)


def _matrix_fast(data: bytes) -> tuple[dict, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """Parse a compact matrix body without building a Python object per sample, or None.

    Every ``"values":[...]`` array is cut out of the bytes. The rest (status, labels, histograms,
    warnings) is a small document for ``orjson``. The arrays' samples are read as the lines of
    one CSV by pyarrow (:func:`_sample_columns`). Any irregularity returns None, and the general
    path decides.
    """
    keys = []  # where each array's samples begin (bytes.find: 12 ms on 33 MB, a regex 15)
    at = data.find(_VALUES)
    while at >= 0:
        keys.append(at + len(_VALUES))
        at = data.find(_VALUES, at + len(_VALUES))
    if not keys:
        return None
    spans: list[tuple[int, int]] = []
    for start, bound in zip(keys, [*keys[1:], len(data)], strict=True):
        if data[start : start + 1] == b"]":
            spans.append((start, start))
            continue
        # the array ends at its first "]]"; the last one before the next array is found from
        # behind in the few hundred bytes of that series' labels, where a search from the
        # front stops at every sample's "]". A later "]]" (another field's) puts "]]" inside
        # the span, which no sample line can read: the fast path then gives up.
        close = data.rfind(b"]]", start, bound)
        if data[start : start + 1] != b"[" or close < 0:
            return None
        spans.append((start, close + 1))
    view = memoryview(data)
    pieces = []
    prev = 0
    for a, b in spans:
        pieces.append(view[prev:a])
        prev = b
    pieces.append(view[prev:])
    try:
        doc = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    data_part = doc.get("data")
    if (
        doc.get("status") != "success"
        or not isinstance(data_part, dict)
        or data_part.get("resultType") != "matrix"
        or not isinstance(data_part.get("result"), list)
    ):
        return None
    with_values = [s for s in data_part["result"] if isinstance(s, dict) and "values" in s]
    if len(with_values) != len(spans) or any(
        s["values"] != [] or not _valid_labels(s.get("metric", {})) for s in with_values
    ):
        return None
    filled = [k for k, (a, b) in enumerate(spans) if b > a]
    counts = np.zeros(len(spans), dtype=np.int64)
    if filled:
        samples = _sample_columns(view, [spans[k] for k in filled])
        if samples is None:
            return None
        counts[filled], ts, values = samples
    else:
        ts = values = np.empty(0, dtype=np.float64)
    return doc, (counts, ts, values)


class _SampleLines(io.RawIOBase):
    """The arrays at ``spans`` of ``view`` as the CSV lines of :func:`_sample_columns`, made a
    block at a time as the reader asks: the blocks reuse the same memory, where the whole
    body joined and then rewritten would fault in two fresh buffers of its size (~0.02 s of
    CPU for 33 MB)."""

    def __init__(self, view: memoryview, spans: list[tuple[int, int]]) -> None:
        super().__init__()
        self._pieces: list[bytes | memoryview] = []
        for a, b in spans:
            self._pieces += (b"0,", view[a:b])
        self._next = 0  # the piece the next block begins in ...
        self._at = 0  # ... and where in it

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        wanted = size if size is not None and size >= 0 else 1 << 62
        block: list[bytes | memoryview] = []
        while wanted and self._next < len(self._pieces):
            rest = self._pieces[self._next][self._at :]
            part = rest[:wanted]
            block.append(part)
            wanted -= len(part)
            if len(part) == len(rest):
                self._next, self._at = self._next + 1, 0
            else:
                self._at += len(part)
        return b"".join(block).translate(_SAMPLE_LINES)


def _sample_columns(
    view: memoryview, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The samples of the non-empty ``values`` arrays at ``spans``: the count of each array,
    the times and the values; None when any sample is not ``[<number>,"<number>"]``.

    The arrays become one CSV of six fields a line, one line a sample (``_SAMPLE_LINES``),
    read by pyarrow: a line of any other shape, a field that is no number, a ``gap`` or quote
    field that is not empty, or a ``first`` where no array begins, makes the fast path give
    up."""
    try:
        table = pacsv.read_csv(
            _SampleLines(view, spans),
            read_options=_CSV_READ,
            parse_options=_CSV_PARSE,
            convert_options=_CSV_CONVERT,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    first, gap, t, opening, v, closing = table.columns
    n = table.num_rows
    empty = gap.null_count == opening.null_count == closing.null_count == n
    if not empty or t.null_count or v.null_count or n - first.null_count != len(spans):
        return None
    starts = np.flatnonzero(pc.is_valid(first).to_numpy(zero_copy_only=False))
    if starts[0] != 0:
        return None
    ts = t.to_numpy()
    if not (np.abs(ts) < _MAX_SECONDS).all():
        return None
    return np.diff(starts, append=n), ts, v.to_numpy()


def _envelope(doc: object, origin: str) -> object:
    """Check the response envelope; return ``data``. Raises FormatError for error answers.

    A ``data`` object saved alone (``jq .data``, or a Go client's marshalled query value) is
    its own ``data``: ``{"resultType": ..., "result": ...}`` without the envelope."""
    if isinstance(doc, dict) and "status" not in doc and "resultType" in doc and "result" in doc:
        return doc
    if not isinstance(doc, dict) or "status" not in doc:
        raise FormatError(
            f"{origin!r} is not a Prometheus HTTP API response: expected a JSON object with "
            f"'status' and 'data', got {_dumps(doc)[:80]}"
        )
    if doc["status"] != "success":
        raise FormatError(
            f"{origin!r}: Prometheus answered with an error (status {doc['status']!r}), "
            f"errorType {doc.get('errorType')!r}: {doc.get('error')!r}"
        )
    return doc.get("data")


def parse_prometheus_json(
    data: bytes, origin: str = "<bytes>", query: str | None = None
) -> ParseResult:
    """Parse a Prometheus HTTP API response body into a metrics frame.

    Parameters
    ----------
    data
        The body of ``/api/v1/query_range``, ``/api/v1/query`` or ``/api/v1/series``, or its
        ``data`` object saved alone (``{"resultType": ..., "result": ...}``).
    origin
        Where the body came from (a file path or a URL), kept in the ``origin`` column.
    query
        The PromQL expression, used as ``metric`` for series without ``__name__``. When it is
        not given, a path ``origin``'s file name (without ``.json``/``.gz``/``.xz``/``.zst``)
        is used, else ``"<expr>"``.

    Returns
    -------
    ParseResult
        ``metrics`` with one row per float sample; native histogram samples, ``string``
        results and ``/api/v1/series`` label sets as ``rejects``; ``warnings``/``infos`` in
        ``notes``.

    Raises
    ------
    FormatError
        For an error response (naming its ``errorType`` and ``error``), a body that is not
        JSON, or a response without samples (labels, targets, rules ...).

    Examples
    --------
    >>> body = (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
    ...         b'{"namespace":"shop","pod":"web-1"},"value":[1700000000.5,"+Inf"]}]}}')
    >>> r = parse_prometheus_json(body, query="sum by (pod) (rate(x[5m]))")
    >>> r.metrics[["metric", "namespace"]].iloc[0].tolist(), r.metrics["value"].tolist()
    (['sum by (pod) (rate(x[5m]))', 'shop'], [inf])
    >>> r.balanced()
    True
    """
    return _parse_json(data, origin, query, time_order=False)


def _parse_json_source(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """The registered parser: the samples in time order, as an Investigation holds them, so
    that :func:`obskit.load` need not sort them again."""
    return _parse_json(data, origin, None, time_order=True)


@gc_paused()  # the body's thousands of label dicts and their frames hold no cycle
def _parse_json(data: bytes, origin: str, query: str | None, *, time_order: bool) -> ParseResult:
    """:func:`parse_prometheus_json`; ``time_order`` puts the samples in time order (stable:
    series by series at one time) where :func:`_time_ordered` can."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    default_name = _default_name(query, origin)
    out = _Collected(origin)
    doc, arrays = _decoded(data, origin)
    body = _envelope(doc, origin)
    notes = [
        f"Prometheus {label}: {message}"
        for key, label in (("warnings", "warning"), ("infos", "info"))
        for message in doc.get(key) or []
    ]
    if isinstance(body, list):
        notes.append(_series_only(body, origin, out))
    elif isinstance(body, dict) and "resultType" in body:
        _collect_result(body, origin, out, None if arrays is None else arrays[0])
    else:
        shape = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise FormatError(
            f"{origin!r} is a Prometheus response without samples (its data holds {shape!r}); "
            f"obskit reads /api/v1/query, /api/v1/query_range and /api/v1/series bodies"
        )
    if arrays is not None:
        ts, values = arrays[1], arrays[2]
    else:
        ts = np.concatenate(out.ts) if out.ts else np.empty(0, np.float64)
        values = np.concatenate(out.values) if out.values else np.empty(0, np.float64)
    counts = np.array(out.counts, dtype=np.int64)
    if time_order and (timed := _time_ordered(ts, values, counts)) is not None:
        ns, values, spread = timed
    else:
        ns, spread = _seconds_to_ns(ts), _spread(counts)
    timestamps = pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array
    metrics = _metrics_frame(
        out.labels, spread, timestamps, values, default_name=default_name, origin=origin
    )
    unnamed = sum(1 for d in out.labels if not d.get("__name__"))
    if unnamed:
        notes.append(f"{unnamed} series without __name__ are named {default_name!r}")
    if out.histograms:
        notes.append(f"{out.histograms} native histogram samples rejected (not floats)")
    return ParseResult(
        records=out.records, metrics=metrics, rejects=out.rejects.frame(), notes=notes
    )


def _time_ordered(
    seconds: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Spread] | None:
    """The samples' times (as int64 ns, from float ``seconds``) and values, ``counts`` a
    series series by series, in time order (stable: series by series at one time), and the
    spread of per-series codes over them; or None: when they are in order already, or when
    they spread wide enough for the far-out check
    (:func:`obskit.sources._base.reject_far_out_times`), which lists the rows it rejects in
    series order, and the load's own sort then orders the rest.

    The checks read the float seconds: rounding them to nanoseconds keeps their order, their
    smallest and largest, and equal seconds equal."""
    if len(seconds) < 2 or (seconds[1:] >= seconds[:-1]).all():
        return None
    if may_hold_far_out(_seconds_to_ns(np.array([seconds.min(), seconds.max()]))):
        return None
    steps = int(counts[0])
    if (counts == steps).all():
        grid = seconds.reshape(len(counts), steps)
        times = _seconds_to_ns(grid[0])
        if (times[1:] > times[:-1]).all() and (grid == grid[0]).all():
            # every series at the same times, as a range query evaluates them: time order
            # is each time's samples of all the series in turn, no sort needed
            ordered = values.reshape(grid.shape).T.ravel()
            return np.repeat(times, len(counts)), ordered, lambda c: np.tile(c, steps)
    ns = _seconds_to_ns(seconds)
    order = np.argsort(ns, kind="stable")
    series = np.repeat(np.arange(len(counts)), counts).take(order)
    return ns.take(order), values.take(order), lambda codes: codes.take(series)


def _decoded(
    data: bytes, origin: str
) -> tuple[object, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """The response as JSON, and the fast path's sample arrays when it could read them (None:
    the samples are in the document)."""
    fast = _matrix_fast(data)
    if fast is not None:
        return fast
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        raise FormatError(
            f"{origin!r} is not valid JSON, so not a Prometheus API response: "
            f"{json_error(exc, data)}"
        ) from exc


def _series_only(body: list, origin: str, out: _Collected) -> str:
    """An /api/v1/series answer: each label set one rejected record; returns the note."""
    if body and all(isinstance(x, str) for x in body):
        raise FormatError(
            f"{origin!r} is a list of {len(body)} strings (an /api/v1/labels or "
            f"/api/v1/label/<name>/values response), which holds no samples; save a "
            f"/api/v1/query_range response instead"
        )
    for i, labels in enumerate(body):
        out.records += 1
        out.rejects.add(
            f"data[{i}]: series metadata without samples (/api/v1/series); query "
            f"/api/v1/query_range for its values",
            _dumps(labels),
        )
    return (
        f"an /api/v1/series response: {len(body)} label sets and no samples, kept in "
        f"rejects; query /api/v1/query_range for values"
    )


def _collect_result(body: dict, origin: str, out: _Collected, fast: np.ndarray | None) -> None:
    """A query or query_range answer's samples into ``out``, by its ``resultType``."""
    kind, result = body.get("resultType"), body.get("result")
    if kind in ("matrix", "vector"):
        if not isinstance(result, list):
            raise FormatError(
                f"{origin!r}: a {kind} result must be a list of series, got {_dumps(result)[:80]}"
            )
        _collect_series(result, kind, out, fast)
    elif kind == "scalar":
        _series_floats([result], "result", {}, out, "value")
    elif kind == "string":
        out.records += 1
        out.rejects.add(
            "a string result holds text, not a sample value", _dumps({"result": result})
        )
    else:
        raise FormatError(
            f"{origin!r}: unknown resultType {kind!r}; Prometheus answers matrix, vector, "
            f"scalar or string"
        )


_STATUS = re.compile(r'^\{\s*"status"\s*:\s*"(success|error)"')
_RESULT_TYPE = re.compile(r'"resultType"\s*:\s*"(matrix|vector|scalar|string)"')
_BARE_DATA = re.compile(r'^\{\s*"resultType"\s*:\s*"(matrix|vector|scalar|string)"')
_SERIES_DATA = re.compile(r'"data"\s*:\s*\[\s*(?:\{\s*"|\])')


def _sniff_json(head: str, name: str) -> float:
    first = head.lstrip("\ufeff \t\r\n")
    status = _STATUS.match(first)
    if status is None:
        # a data object saved without its envelope: {"resultType": "vector", "result": [...]}
        if _BARE_DATA.match(first) and not ('"summary"' in first and '"stats"' in first):
            return 0.8
        return 0.0
    if status.group(1) == "error":
        # Loki answers errors in the same shape; either parser raises the same FormatError.
        return 0.6 if '"errorType"' in first[:4096] else 0.0
    if _RESULT_TYPE.search(first[:4096]):
        # Loki's metric queries share this shape but add "stats":{"summary":...}.
        return 0.3 if '"summary"' in first and '"stats"' in first else 0.9
    if _SERIES_DATA.search(first[:4096]):
        return 0.7
    return 0.0


register(
    JSON_FORMAT,
    "Prometheus HTTP API response: query_range (matrix), query (vector/scalar), series",
    _sniff_json,
    _parse_json_source,
    ceiling=0.9,
)


# --- prometheus-text -------------------------------------------------------------------------

_SAMPLE = re.compile(
    r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?"
    r'(?:[ \t]*\{(?P<labels>(?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?'
    r"[ \t]+(?P<value>[^ \t#]\S*)"
    r"(?:[ \t]+(?P<ts>[^ \t#]\S*))?"
    r"(?:[ \t]+#(?P<exemplar>.*))?"
    r"[ \t]*"
)
_PAIR = re.compile(
    r'[ \t]*(?:(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)|"(?P<qname>(?:[^"\\]|\\.)*)")[ \t]*'
    r'(?:=[ \t]*"(?P<value>(?:[^"\\]|\\.)*)")?[ \t]*(?:,|$)'
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}
# the family name is bare, or quoted as Prometheus 3 writes a UTF-8 name ("my.dotted.metric")
_TYPE_LINE = re.compile(r'#[ \t]+TYPE[ \t]+(?:"((?:[^"\\]|\\.)*)"|(\S+))[ \t]+(\S+)[ \t]*')
_MS_TS = re.compile(r"-?\d+")
_OM_TS = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
TYPES = frozenset(
    {"counter", "gauge", "histogram", "summary", "untyped"}
    | {"unknown", "gaugehistogram", "stateset", "info"}
)
#: Sample-name suffixes that belong to a family of the given type.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}
_NS_MIN = int(pd.Timestamp.min.value)
_NS_MAX = int(pd.Timestamp.max.value)


class _BadLine(ValueError):
    """A sample line that cannot be read; the message is the reject reason."""


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        try:
            return _UNESCAPE[m.group(1)]
        except KeyError:
            raise _BadLine(
                f"invalid escape sequence '\\{m.group(1)}' in a label value "
                f'(only \\\\, \\" and \\n are allowed)'
            ) from None

    return _ESCAPE.sub(one, text)


def _labels(body: str, name: str | None) -> tuple[str | None, dict[str, str]]:
    labels: dict[str, str] = {}
    pos, end = 0, len(body)
    while pos < end and body[pos:].strip():
        m = _PAIR.match(body, pos)
        if m is None or m.end() == pos:
            raise _BadLine(f"cannot read the labels at {body[pos : pos + 30]!r}")
        pos = m.end()
        label = m.group("name") if m.group("name") is not None else _unescape(m.group("qname"))
        if m.group("value") is None:
            if m.group("qname") is None or name is not None:
                raise _BadLine(f"label {label!r} has no value")
            name = label
            continue
        if label in labels:
            raise _BadLine(f"label {label!r} appears twice")
        labels[label] = _unescape(m.group("value"))
    return name, labels


def _timestamp_ns(token: str, openmetrics: bool) -> int:
    if openmetrics:
        if not _OM_TS.fullmatch(token):
            raise _BadLine(f"timestamp {token!r} is not a number of seconds")
        try:
            ns = int(Decimal(token) * 1_000_000_000)
        except InvalidOperation:
            raise _BadLine(f"timestamp {token!r} is not a number of seconds") from None
    else:
        if not _MS_TS.fullmatch(token):
            raise _BadLine(
                f"timestamp {token!r} is not integer milliseconds (format 0.0.4); if this is "
                f"OpenMetrics, whose timestamps are seconds, pass openmetrics=True"
            )
        ns = int(token) * 1_000_000
    if not _NS_MIN <= ns <= _NS_MAX:
        raise _BadLine(f"timestamp {token!r} is out of range (years 1677-2262)")
    return ns


def _family_type(name: str, types: dict[str, str], cache: dict[str, str | None]) -> str | None:
    if name in cache:
        return cache[name]
    found = types.get(name)
    if found is None:
        found = next(
            (
                kind
                for kind, suffixes in _SUFFIXES.items()
                for suffix in suffixes
                if name.endswith(suffix) and types.get(name[: -len(suffix)]) == kind
            ),
            None,
        )
    cache[name] = found
    return found


def _scrape_ns(scrape_time: object) -> int:
    return int(as_utc(scrape_time, "scrape_time").as_unit("ns").value)


def parse_prometheus_text(
    data: bytes,
    origin: str = "<bytes>",
    scrape_time: pd.Timestamp | str | None = None,
    openmetrics: bool | None = None,
) -> ParseResult:
    """Parse a Prometheus text exposition (0.0.4) or OpenMetrics 1.0 scrape into metrics.

    Parameters
    ----------
    data
        The scrape, as a ``/metrics`` endpoint served it.
    origin
        Where it came from, kept in the ``origin`` column and the rejects.
    scrape_time
        When the scrape was taken. It is used for samples that carry no timestamp of their own.
        A naive time is taken as UTC.
    openmetrics
        Read timestamps as OpenMetrics seconds (True) or 0.0.4 milliseconds (False). When it is
        None, a ``# EOF`` or ``# UNIT`` line decides.

    Returns
    -------
    ParseResult
        ``metrics`` with one row per sample line, a ``metric_type`` column from ``# TYPE``, and
        an ``exemplar`` column for OpenMetrics exemplars. Malformed lines are in ``rejects``
        with their line numbers.

    Raises
    ------
    FormatError
        When samples lack timestamps and no ``scrape_time`` is given.

    Examples
    --------
    >>> text = (b'# TYPE kube_pod_status_ready gauge\\n'
    ...         b'kube_pod_status_ready{namespace="shop",pod="web-1",condition="true"} 1\\n')
    >>> r = parse_prometheus_text(text, scrape_time="2024-01-01T00:00:00Z")
    >>> r.metrics[["timestamp", "metric", "metric_type", "pod", "condition"]].iloc[0].tolist()
    [Timestamp('2024-01-01 00:00:00+0000', tz='UTC'), 'kube_pod_status_ready', 'gauge', \
'web-1', 'true']
    """
    note = None if scrape_time is None else "the scrape_time argument"
    return _parse_text(data, origin, scrape_time, note, openmetrics)


def _parse_text(
    data: bytes,
    origin: str,
    scrape_time: object,
    scrape_time_from: str | None,
    openmetrics: bool | None,
    *,
    own_time_first: bool = False,
) -> ParseResult:
    rejects = Rejects(TEXT_FORMAT, origin)
    lines = data.split(b"\n")
    if openmetrics is None:
        openmetrics = any(
            line.rstrip(b"\r") == b"# EOF" or line.startswith(b"# UNIT ") for line in lines
        )
    types: dict[str, str] = {}
    type_cache: dict[str, str | None] = {}
    names: list[str] = []
    labels: list[dict[str, str]] = []
    values: list[float] = []
    stamps: list[int] = []
    missing: list[int] = []  # row positions without a timestamp
    first_missing = 0
    exemplars: list[str | None] = []
    records = 0
    eof = False
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            records += 1
            rejects.add(f"invalid UTF-8 at byte {exc.start}", raw, line=number)
            continue
        if eof:
            records += 1
            rejects.add(
                "content after '# EOF', which ends an OpenMetrics exposition", line, line=number
            )
            continue
        if line.startswith("#"):
            if line == "# EOF":
                eof = True
            elif line.startswith(("# TYPE ", "#\tTYPE")):
                try:
                    family, kind = _type_line(line, types)
                except _BadLine as exc:
                    records += 1
                    rejects.add(str(exc), line, line=number)
                else:
                    types[family] = kind
            continue
        records += 1
        try:
            name, sample_labels, value, stamp, exemplar = _sample_line(line, openmetrics)
        except _BadLine as exc:
            rejects.add(str(exc), line, line=number)
            continue
        if stamp is None:
            if not missing:
                first_missing = number
            missing.append(len(values))
            stamp = 0
        names.append(name)
        labels.append(sample_labels)
        values.append(value)
        stamps.append(stamp)
        exemplars.append(exemplar)
    notes: list[str] = []
    ns = np.array(stamps, dtype=np.int64)
    if missing:
        if own_time_first and len(missing) < len(values):
            # the scrape's own newest sample time stands closer to when it was taken than a
            # copied file's modification time, which can lie months later
            written = np.ones(len(ns), dtype=bool)
            written[np.array(missing, dtype=np.int64)] = False
            scrape_time = pd.Timestamp(int(ns[written].max()), tz="UTC")
            scrape_time_from = "the newest timestamp written in the scrape itself"
        notes.append(
            _stamp_missing(ns, missing, first_missing, scrape_time, scrape_time_from, origin)
        )
    if openmetrics and not eof:
        notes.append("OpenMetrics exposition without '# EOF': it may be truncated")
    timestamps = pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array
    extra = {
        "metric_type": pd.Categorical([_family_type(n, types, type_cache) for n in names]),
        "exemplar": pd.Categorical(exemplars),
    }
    metrics = _metrics_frame(
        labels,
        _one_row_each,
        timestamps,
        np.array(values, dtype=np.float64),
        default_name="<unnamed>",
        origin=origin,
        extra=extra,
    )
    stamped = np.zeros(len(values), dtype=bool)
    stamped[np.array(missing, dtype=np.int64)] = True
    return ParseResult(
        records=records,
        metrics=metrics,
        rejects=rejects.frame(),
        notes=notes,
        stamped={"metrics": stamped} if missing else {},
    )


def _type_line(line: str, types: Mapping[str, str]) -> tuple[str, str]:
    """A ``# TYPE name type`` line's family and type; :class:`_BadLine` says what is wrong."""
    m = _TYPE_LINE.fullmatch(line)
    if m is None:
        raise _BadLine("a TYPE line needs a metric name and a type")
    family = _unescape(m.group(1)) if m.group(1) is not None else m.group(2)
    kind = m.group(3)
    if kind not in TYPES:
        raise _BadLine(f"unknown metric type {kind!r}; valid: {sorted(TYPES)}")
    if family in types:
        raise _BadLine(f"second TYPE line for {family!r}")
    return family, kind


def _sample_line(
    line: str, openmetrics: bool
) -> tuple[str, dict[str, str], float, int | None, str | None]:
    """One sample line: its name, labels (``__name__`` among them), value, timestamp in ns (None
    when it has none) and exemplar; :class:`_BadLine` says what is wrong."""
    m = _SAMPLE.fullmatch(line)
    if m is None:
        raise _BadLine("not a sample line: expected 'name{labels} value [timestamp]'")
    name, sample_labels = m.group("name"), {}
    if m.group("labels") is not None:
        name, sample_labels = _labels(m.group("labels"), name)
    if not name:
        raise _BadLine("the sample has no metric name")
    token = m.group("value")
    if not _GO_FLOAT.fullmatch(token):
        raise _BadLine(f"sample value {token!r} is not a number")
    ts = m.group("ts")
    stamp = _timestamp_ns(ts, openmetrics) if ts is not None else None
    sample_labels["__name__"] = name
    exemplar = m.group("exemplar")
    return name, sample_labels, float(token), stamp, exemplar.strip() if exemplar else None


def _stamp_missing(
    ns: np.ndarray,
    missing: list[int],
    first_missing: int,
    scrape_time: object,
    scrape_time_from: str | None,
    origin: str,
) -> str:
    """Stamp the samples without a timestamp (positions ``missing`` of ``ns``, in place) with
    the scrape time; the note that says so. Without a scrape time, a FormatError."""
    if scrape_time is None:
        raise FormatError(
            f"{origin!r}: {len(missing):,} of {len(ns):,} samples carry no timestamp "
            f"(the first on line {first_missing}) and no scrape time is known; pass "
            f"scrape_time=... (when the scrape was taken) to "
            f"obskit.sources.prometheus.parse_prometheus_text(), or load the file from "
            f"disk so its modification time is used"
        )
    at = _scrape_ns(scrape_time)
    ns[np.array(missing, dtype=np.int64)] = at
    return (
        f"{len(missing):,} of {len(ns):,} samples carry no timestamp; stamped with "
        f"{pd.Timestamp(at, tz='UTC').isoformat()} ({scrape_time_from})"
    )


def _parse_text_source(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """The registered parser: samples without a timestamp take the newest timestamp written in
    the scrape, else the file's modification time."""
    scrape_time = None
    if origin and not origin.startswith("<"):
        with contextlib.suppress(OSError):
            scrape_time = pd.Timestamp(os.stat(origin).st_mtime_ns, unit="ns", tz="UTC")
    source = "the file's modification time" if scrape_time is not None else None
    return _parse_text(data, origin, scrape_time, source, None, own_time_first=True)


def _not_a_sample(line: str) -> bool:
    """Whether a stripped, non-blank, non-comment line is no sample (value included)."""
    m = _SAMPLE.fullmatch(line)
    return not (m and _GO_FLOAT.fullmatch(m.group("value")))


def _sniff_text(head: str, name: str) -> float:
    # the whole lines of the first 4 kB first: one that is no sample rules the file out, as
    # it would below, without splitting 16 kB of a file of another format
    for line in head[:4096].splitlines()[:-1][:60]:
        line = line.strip()
        if line and not line.startswith("#"):
            if _not_a_sample(line):
                return 0.0
            break  # a sample: the lines below decide
    lines = head[:16384].splitlines()  # the 60 lines looked at, as a rule
    if len(lines) <= 61:
        lines = head.splitlines()
        if len(lines) > 1 and not head.endswith("\n"):
            lines = lines[:-1]  # the head may cut its last line short
    checked = good = 0
    for line in lines[:60]:
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if _TYPE_LINE.fullmatch(line) or line.startswith("# HELP ") or line == "# EOF":
                good += 1
                checked += 1
            continue
        checked += 1
        if _not_a_sample(line):
            return 0.0  # one line that is no sample is enough
        good += 1
    if not checked or good < checked:
        return 0.0
    first = head.lstrip()
    return 0.9 if first.startswith(("# HELP ", "# TYPE ")) else 0.6


register(
    TEXT_FORMAT,
    "Prometheus text exposition 0.0.4 or OpenMetrics 1.0 (a /metrics scrape)",
    _sniff_text,
    _parse_text_source,
    ceiling=0.9,
)
