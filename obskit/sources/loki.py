"""Grafana Loki HTTP API responses: ``/loki/api/v1/query_range`` and ``/loki/api/v1/query``.

A log query answers ``resultType: "streams"``; each entry of each stream becomes one ``logs``
row. A metric query (``rate(...)``, ``count_over_time(...)``) answers ``matrix``, ``vector`` or
``scalar``, exactly as Prometheus does; each sample becomes one ``metrics`` row.

Streams
-------
Each stream is ``{"stream": {labels}, "values": [["<ns epoch>", "<line>"], ...]}``; an entry
may carry a third element: structured metadata as a flat object (the push format), or, when
the query asked for ``X-Loki-Response-Encoding-Flags: categorize-labels``, an object with
``structuredMetadata`` and ``parsed`` label sets. An entry's labels are its stream labels plus
those. Then:

- ``timestamp`` is the nanosecond epoch string read as an integer, exactly (no float).
- The key comes from labels that unambiguously name it: ``cluster``/``k8s_cluster_name``,
  ``namespace``/``k8s_namespace_name``/``namespace_name``, ``node``/``node_name``/
  ``k8s_node_name``, ``pod``/``k8s_pod_name``/``pod_name``, ``container``/
  ``k8s_container_name``/``container_name`` (Promtail, Alloy/OpenTelemetry and Fluent Bit
  names; not ``instance`` or ``host``, which mean different things in different setups).
- ``stream`` is the ``stream`` label; ``level`` the ``level`` or ``detected_level`` label when
  it is a known level word, else derived from the line.
- ``format`` is ``json``, ``logfmt`` or ``text`` by the line's shape.
- Every other label is a ``category`` column of its own, prefixed ``label_`` only when its name
  is a column of the frame (a ``level`` label that is not a level word becomes ``label_level``).
- ``origin`` is where the payload came from and ``line`` is ``NA``: a response has no lines.
  Rejects name the entry as ``result[i].values[j]`` in their reason.

A push body (``/loki/api/v1/push``) or tail frames (``/loki/api/v1/tail``, saved one per line)
hold ``{"streams": [...]}`` without the response envelope: their streams are read the same way,
a line that is no frame is a reject, and a tail's ``dropped_entries`` are counted in a note.

The ledger counts entries (samples for metric queries). A response with ``"status": "error"``
or that is not a Loki query response at all raises :class:`~obskit.errors.FormatError`.
"""

from __future__ import annotations

import re

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.errors import FormatError
from obskit.sources._base import ParseResult, Rejects, cut, register

__all__ = ["KEY_LABELS", "parse_loki_json"]

FORMAT = "loki-json"

#: Key column -> the label names that carry it, first match wins.
KEY_LABELS: dict[str, tuple[str, ...]] = {
    "cluster": ("cluster", "k8s_cluster_name"),
    "namespace": ("namespace", "k8s_namespace_name", "namespace_name"),
    "node": ("node", "node_name", "k8s_node_name"),
    "pod": ("pod", "k8s_pod_name", "pod_name"),
    "container": ("container", "k8s_container_name", "container_name"),
}

_LEVEL_LABELS = ("level", "detected_level")
_INT64_MAX = 2**63 - 1
_METRIC_TYPES = ("matrix", "vector", "scalar")

LabelSet = tuple[tuple[str, str], ...]


def _payload(data: bytes | str | dict, origin: str) -> dict:
    """The decoded response object, or FormatError."""
    if isinstance(data, dict):
        return data
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(
            f"{origin!r} is not a Loki query response: not valid JSON ({exc}); its first bytes: "
            f"{cut(data[:80] if data else data, 80)!r}"
        ) from exc
    if not isinstance(payload, dict):
        raise FormatError(
            f"{origin!r} is not a Loki query response: expected a JSON object with 'status' and "
            f"'data', got a JSON {type(payload).__name__}"
        )
    return payload


def _check_status(payload: dict, origin: str) -> dict:
    """The response's ``data`` object; FormatError for error responses and other JSON."""
    status = payload.get("status")
    if status == "error":
        kind = payload.get("errorType")
        raise FormatError(
            f"Loki query in {origin!r} failed{f' ({kind})' if kind else ''}: "
            f"{payload.get('error', 'no error message')}"
        )
    data = payload.get("data")
    if status != "success" or not isinstance(data, dict):
        raise FormatError(
            f"{origin!r} is not a Loki query response: expected 'status': 'success' and a "
            f"'data' object, got status {status!r} and keys {sorted(payload)[:8]!r}"
        )
    return data


def parse_loki_json(
    data: bytes | str | dict, origin: str = "<bytes>", query: str | None = None
) -> ParseResult:
    """Parse a Loki ``query_range``/``query`` response into logs (streams) or metrics.

    Parameters
    ----------
    data
        The response body, or the already decoded JSON object (as the live client has it).
    origin
        Where the response came from (a file, or the query URL), for provenance and errors.
    query
        The LogQL query, when known: kept in a ``query`` column, and the ``metric`` name of a
        metric query's rows (``"loki_query"`` when unknown).

    Returns
    -------
    ParseResult
        ``logs`` for a streams response, ``metrics`` for matrix/vector/scalar; ``records``
        counts entries (or samples). Loki's ``warnings`` are kept in ``notes``.

    Raises
    ------
    FormatError
        When the payload is an error response (``"status": "error"``), is not valid JSON, or is
        not a Loki query response.

    Examples
    --------
    >>> body = {"status": "success", "data": {"resultType": "streams", "result": [
    ...     {"stream": {"namespace": "shop", "pod": "web-1", "container": "web",
    ...                 "stream": "stderr", "app": "web"},
    ...      "values": [["1704067200123456789", "level=error msg=boom"]]}], "stats": {}}}
    >>> logs = parse_loki_json(body).logs
    >>> logs[["level", "pod", "stream", "format", "app"]].iloc[0].tolist()
    ['error', 'web-1', 'stderr', 'logfmt', 'web']
    >>> logs.timestamp[0].value
    1704067200123456789
    """
    rejects = Rejects(FORMAT, origin)
    frames = _pushed(data, rejects) if isinstance(data, (bytes, str)) else None
    if frames is not None:
        return _frames_result(*frames, rejects, origin, query)
    payload = _payload(data, origin)
    body = _check_status(payload, origin)
    notes = [f"Loki warning: {w}" for w in payload.get("warnings") or [] if isinstance(w, str)]
    result_type = body.get("resultType")
    result = body.get("result")
    if result_type == "streams":
        if not isinstance(result, list):
            raise FormatError(f"{origin!r}: Loki streams 'result' is not a list: {result!r:.80}")
        logs, count = _streams(result, rejects, origin, query)
        return ParseResult(records=count, logs=logs, rejects=rejects.frame(), notes=notes)
    if result_type in _METRIC_TYPES:
        metrics, count = _metrics(result_type, result, rejects, origin, query)
        return ParseResult(records=count, metrics=metrics, rejects=rejects.frame(), notes=notes)
    raise FormatError(
        f"{origin!r}: Loki resultType {result_type!r} is not one obskit reads; expected "
        f"'streams', 'matrix', 'vector' or 'scalar'"
    )


# --- push bodies and tail frames ---------------------------------------------------------------

# {"streams": [...]}: a push body (/loki/api/v1/push) or a tail frame (/loki/api/v1/tail), which
# may put "encodingFlags" first; tail frames saved one per line
_PUSHED = re.compile(r'^\{\s*(?:"encodingFlags"\s*:\s*\[[^\]]*\]\s*,\s*)?"streams"\s*:\s*\[')


def _pushed(data: bytes | str, rejects: Rejects) -> tuple[list, int, int] | None:
    """The streams of a push body or of tail frames (one JSON object per line), their dropped
    entries and the lines that are no frame (rejected); None for a query response."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not _PUSHED.match(text.lstrip("\ufeff \t\r\n")):
        return None
    try:
        documents = [(1, orjson.loads(text), text)]
    except orjson.JSONDecodeError:  # tail frames, one per line
        documents = [(n, _json_or_none(line), line) for n, line in _lines(text)]
    streams: list = []
    dropped = bad = 0
    for number, frame, raw in documents:
        if not isinstance(frame, dict) or not isinstance(frame.get("streams"), list):
            rejects.add("not a Loki push body or tail frame: no 'streams' list", raw, line=number)
            bad += 1
            continue
        streams += frame["streams"]
        dropped += len(frame.get("dropped_entries") or [])
    return streams, dropped, bad


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]


def _json_or_none(line: str) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _frames_result(
    streams: list, dropped: int, bad: int, rejects: Rejects, origin: str, query: str | None
) -> ParseResult:
    """The logs of pushed or tailed streams, read as a query's streams are."""
    logs, count = _streams(streams, rejects, origin, query)
    notes = []
    if dropped:
        notes.append(
            f"Loki's tail dropped {dropped} entries it could not send in time (its "
            f"dropped_entries): query that window with query_range for them"
        )
    return ParseResult(records=count + bad, logs=logs, rejects=rejects.frame(), notes=notes)


# --- streams ---------------------------------------------------------------------------------


def _ns(value: object) -> int | None:
    """A nanosecond epoch (string of digits, or an int) as an int, or None."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return None
    return number if 0 <= number <= _INT64_MAX else None


def _entry_labels(extra: object) -> dict[str, str] | str:
    """The labels an entry's third element adds, or why it cannot be read."""
    if not isinstance(extra, dict):
        return f"third element is not a structured metadata object but {extra!r:.40}"
    if extra and set(extra) <= {"structuredMetadata", "parsed"}:
        merged: dict[str, object] = {}
        for part in ("parsed", "structuredMetadata"):  # structured metadata wins a clash
            group = extra.get(part) or {}
            if not isinstance(group, dict):
                return f"{part!r} is not an object but {group!r:.40}"
            merged.update(group)
        extra = merged
    bad = [k for k, v in extra.items() if not isinstance(v, str)]
    if bad:
        return f"structured metadata {bad[0]!r} is not a string"
    return extra  # type: ignore[return-value]


def _label_set(labels: dict) -> LabelSet:
    return tuple(sorted((str(k), v if isinstance(v, str) else str(v)) for k, v in labels.items()))


def _streams(
    result: list, rejects: Rejects, origin: str, query: str | None
) -> tuple[pd.DataFrame, int]:
    """Validate every entry and build the logs frame."""
    ids: dict[LabelSet, int] = {}
    set_ids: list[int] = []
    stamps: list[int] = []
    lines: list[str] = []
    count = 0
    for i, stream in enumerate(result):
        labels = stream.get("stream", {}) if isinstance(stream, dict) else None
        values = stream.get("values") if isinstance(stream, dict) else None
        if not isinstance(labels, dict) or not isinstance(values, list):
            count += 1  # an unreadable stream is one record: its entries cannot be counted
            rejects.add(
                f"result[{i}] is not a Loki stream (an object with 'stream' labels and a "
                f"'values' list)",
                orjson.dumps(stream),
            )
            continue
        base = _label_set(labels)
        base_id = ids.setdefault(base, len(ids))
        for j, entry in enumerate(values):
            count += 1
            where = f"result[{i}].values[{j}]"
            if not isinstance(entry, list) or len(entry) not in (2, 3):
                rejects.add(f"{where} is not a [timestamp, line] pair", orjson.dumps(entry))
                continue
            ns = _ns(entry[0])
            if ns is None:
                rejects.add(
                    f"{where}: timestamp {entry[0]!r} is not a nanosecond epoch string",
                    orjson.dumps(entry),
                )
                continue
            if not isinstance(entry[1], str):
                rejects.add(
                    f"{where}: log line is not a string but {type(entry[1]).__name__} "
                    f"{entry[1]!r:.40}",
                    orjson.dumps(entry),
                )
                continue
            set_id = base_id
            if len(entry) == 3:
                extra = _entry_labels(entry[2])
                if isinstance(extra, str):
                    rejects.add(f"{where}: {extra}", orjson.dumps(entry))
                    continue
                if extra:
                    set_id = ids.setdefault(_label_set({**extra, **labels}), len(ids))
            set_ids.append(set_id)
            stamps.append(ns)
            lines.append(entry[1])

    from obskit.sources._levels import derive_level, message_format

    frame = _label_frame(list(ids), "logs", query).take(set_ids).reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(np.array(stamps, dtype="int64"), unit="ns", utc=True)
    messages = pd.Series(lines, dtype=schema.STRING)
    frame["message"] = messages
    if len(frame):
        derived = derive_level(messages).astype("object")
        frame["level"] = frame["level"].where(frame["level"].notna(), derived)
    frame["format"] = message_format(messages)
    frame["key_source"] = np.where(frame["pod"].notna(), "record", "incomplete")
    return schema.conform("logs", frame, origin=origin), count


def _level_word(value: str) -> str | None:
    # Loki answers "unknown" when its level detection found none: that is no level, so the
    # line itself is read instead
    from obskit.sources._levels import normalise_level

    return normalise_level(value)


def _label_frame(sets: list[LabelSet], frame: str, query: str | None) -> pd.DataFrame:
    """One row per distinct label set: the key, ``stream``/``level`` (logs) or ``metric``
    (metrics), and every other label as a column."""
    reserved = set(schema.FRAMES[frame]) | {"query"}
    rows = []
    for label_set in sets:
        labels = dict(label_set)
        row: dict[str, object] = {}
        for column, names in KEY_LABELS.items():
            value = next((labels[n] for n in names if labels.get(n)), None)
            row[column] = value
            if value is not None:
                for n in names:
                    if labels.get(n) == value:
                        del labels[n]
        if frame == "logs":
            row["stream"] = labels.pop("stream", None) or None
            row["level"] = None
            for name in _LEVEL_LABELS:
                level = _level_word(labels.get(name, ""))
                if level is not None:
                    row["level"] = row["level"] or level
                    del labels[name]
        else:
            row["metric"] = labels.pop("__name__", None) or query or "loki_query"
        for name, value in labels.items():
            row[f"label_{name}" if name in reserved else name] = value
        rows.append(row)
    base = [*KEY_LABELS, "stream", "level"] if frame == "logs" else [*KEY_LABELS, "metric"]
    out = pd.DataFrame.from_records(rows, columns=None) if rows else pd.DataFrame(columns=base)
    for column in base:
        if column not in out.columns:
            out[column] = None
    out = out.astype("object").where(out.notna(), None)
    for column in out.columns:
        if column not in base:
            out[column] = out[column].astype("category")
    if query is not None:
        out["query"] = pd.Series([query] * len(out), index=out.index, dtype="category")
    return out


# --- metric queries --------------------------------------------------------------------------


def _metrics(
    result_type: str, result: object, rejects: Rejects, origin: str, query: str | None
) -> tuple[pd.DataFrame, int]:
    """Samples of a matrix, vector or scalar answer as metrics rows."""
    if result_type == "scalar":
        series = [({}, [result])]
    elif isinstance(result, list):
        series = []
        for i, item in enumerate(result):
            samples = None
            if isinstance(item, dict) and isinstance(item.get("metric", {}), dict):
                samples = item.get("values") if result_type == "matrix" else [item.get("value")]
            if not isinstance(samples, list):
                series.append((None, [item]))
                rejects.add(
                    f"result[{i}] is not a {result_type} series (an object with 'metric' labels "
                    f"and {'values' if result_type == 'matrix' else 'a value'})",
                    orjson.dumps(item),
                )
                continue
            series.append((item.get("metric") or {}, samples))
    else:
        raise FormatError(f"{origin!r}: Loki {result_type} 'result' is not a list: {result!r:.80}")

    ids: dict[LabelSet, int] = {}
    set_ids: list[int] = []
    stamps: list[float] = []
    values: list[float] = []
    count = 0
    for i, (labels, samples) in enumerate(series):
        if labels is None:
            count += 1
            continue
        set_id = ids.setdefault(_label_set(labels), len(ids))
        for j, sample in enumerate(samples):
            count += 1
            where = f"result[{i}].values[{j}]" if result_type == "matrix" else f"result[{i}]"
            value = _sample(sample)
            if isinstance(value, str):
                rejects.add(f"{where}: {value}", orjson.dumps(sample))
                continue
            set_ids.append(set_id)
            stamps.append(value[0])
            values.append(value[1])
    frame = _label_frame(list(ids), "metrics", query).take(set_ids).reset_index(drop=True)
    frame["timestamp"] = parse_times(np.array(stamps, dtype="float64"), unit="s").array
    frame["value"] = np.array(values, dtype="float64")
    frame["key_source"] = np.where(frame["pod"].notna(), "record", "incomplete")
    return schema.conform("metrics", frame, origin=origin), count


def _sample(sample: object) -> tuple[float, float] | str:
    """``[<seconds>, "<value>"]`` as floats, or why it cannot be read."""
    if not isinstance(sample, list) or len(sample) != 2:
        return "not a [timestamp, value] pair"
    stamp, value = sample
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return f"timestamp {stamp!r} is not a number of seconds"
    try:
        number = float(value) if isinstance(value, str) else None
    except ValueError:
        number = None
    if number is None:
        return f"value {value!r} is not a number in a string"
    return float(stamp), number


# --- detection -------------------------------------------------------------------------------

_RESULT_TYPE = re.compile(r'"resultType"\s*:\s*"(streams|matrix|vector|scalar)"')
# Loki's statistics object has these sections; Prometheus' (stats=all) has timings/samples.
_LOKI_STATS = re.compile(r'"stats"\s*:\s*\{\s*"(summary|querier|ingester|cache|index)"')


def _sniff(head: str, name: str, tail: str = "") -> float:
    first = head.lstrip()
    if not first.startswith("{"):
        return 0.0
    if _PUSHED.match(first):
        return 0.95  # a push body or tail frames: {"streams": [{"stream": ..., "values": ...}]}
    match = _RESULT_TYPE.search(first)
    if match is None:
        return 0.0
    if match.group(1) == "streams":
        # Above the per-line sniffers: a stream's labels can hold the keys of other formats.
        return 0.99
    # A metric query's answer is a Prometheus response but for Loki's statistics, which come
    # after the result: at the file's end when the result is longer than the head.
    return 0.96 if _LOKI_STATS.search(first) or _LOKI_STATS.search(tail) else 0.0


register(
    FORMAT,
    "Grafana Loki query / query_range response (streams as logs, matrix/vector as metrics)",
    _sniff,
    parse_loki_json,
    reads_tail=True,
    container_logs=False,
)
