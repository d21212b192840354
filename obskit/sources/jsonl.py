"""Log records shipped as JSON lines by Fluent Bit, Fluentd or Vector.

One JSON record per line with a ``kubernetes`` metadata object
(``namespace_name``/``pod_name``/``container_name``/``host``, or Vector's
``pod_namespace``/``pod_node_name``); Fluent Bit's ``[time, {record}]`` lines too, and the
journal entries of its systemd input (``MESSAGE``, ``_HOSTNAME``, ``_SYSTEMD_UNIT``..., with or
without the ``kubernetes`` object its filter adds). Loki's ``logcli query --output=jsonl``
lines (``{"labels": {...}, "line": "...", "timestamp": "<RFC 3339>"}``) too: their labels give
the key as a Loki answer's stream labels do, and every other label is a column of its own.
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import (
    ParseResult,
    Rejects,
    drop_bad_times,
    first_line,
    json_lines,
    register,
)
from obskit.sources._levels import derive_level, message_format

__all__ = [
    "parse_jsonl_log",
]


# --- jsonl-log (Fluent Bit / Fluentd / Vector) ------------------------------------------------

_K8S_FIELDS = {
    "namespace": ("namespace_name", "pod_namespace", "namespace"),
    "pod": ("pod_name", "pod"),
    "container": ("container_name", "container"),
    "node": ("host", "pod_node_name", "node_name", "node"),
}
_MESSAGE_FIELDS = ("log", "message", "msg", "MESSAGE")
_TIME_FIELDS = ("time", "timestamp", "@timestamp", "date", "_p_time")
# journal fields of a record from Fluent Bit's systemd input: the node it was read on, and when
# the program logged it (microseconds since the epoch, as text)
_JOURNAL_FIELDS = ("_HOSTNAME", "_SYSTEMD_UNIT", "_SOURCE_REALTIME_TIMESTAMP")
#: The logs frame's columns, which a logcli label must not overwrite.
_COLUMNS = frozenset(schema.FRAMES["logs"]) | {"line", "origin", "key_source", "format"}
_JOURNAL_TIMES = ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP")


def parse_jsonl_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse log records shipped as JSON lines with a ``kubernetes`` metadata object.

    The message is the record's ``log`` (Fluent Bit, Fluentd), ``message`` (Vector) or
    ``MESSAGE`` (a journal entry from Fluent Bit's systemd input) field; the time is the
    record's ``time``/``timestamp``/``@timestamp``/``date`` or, for Fluent Bit's
    ``[time, record]`` lines, the first element, else a journal entry's
    ``_SOURCE_REALTIME_TIMESTAMP``. The node is ``kubernetes.host``, else a journal entry's
    ``_HOSTNAME``.

    Examples
    --------
    >>> line = (b'{"log":"boom\\\\n","stream":"stderr","time":"2024-01-01T00:00:00Z",'
    ...         b'"kubernetes":{"namespace_name":"shop","pod_name":"web-1",'
    ...         b'"container_name":"web","host":"node-1"}}')
    >>> parse_jsonl_log(line).logs[["namespace", "pod", "node", "message"]].values.tolist()
    [['shop', 'web-1', 'node-1', 'boom']]
    """
    rejects = Rejects("jsonl-log", origin)
    records, count = json_lines(data, rejects, want=(dict, list))
    rows, stamps = [], []
    for number, rec, raw in records:
        stamp = None
        if _is_logcli(rec):
            rows.append(_logcli_row(rec, number))
            stamps.append(rec["timestamp"])
            continue
        if isinstance(rec, list):
            if len(rec) != 2 or not isinstance(rec[1], dict):
                rejects.add("expected a [time, record] pair", raw, line=number)
                continue
            stamp, rec = rec
        message = next((rec[f] for f in _MESSAGE_FIELDS if isinstance(rec.get(f), str)), None)
        if message is None:
            rejects.add(f"no message field (one of {', '.join(_MESSAGE_FIELDS)})", raw, line=number)
            continue
        stamp = next((rec[f] for f in _TIME_FIELDS if rec.get(f) not in (None, "")), stamp)
        if stamp is None:
            stamp = _journal_time(rec)
        meta = rec.get("kubernetes") if isinstance(rec.get("kubernetes"), dict) else {}
        row = {
            column: next((meta[f] for f in names if meta.get(f)), None)
            for column, names in _K8S_FIELDS.items()
        }
        if row["node"] is None and isinstance(rec.get("_HOSTNAME"), str):
            row["node"] = rec["_HOSTNAME"] or None
        row.update(
            message=message.removesuffix("\n"),
            stream=rec.get("stream"),
            line=number,
            cluster=rec.get("cluster") or meta.get("cluster"),
        )
        rows.append(row)
        stamps.append(stamp)
    columns = [*_K8S_FIELDS, "message", "stream", "line", "cluster"]
    frame = pd.DataFrame(
        rows, columns=list(dict.fromkeys([*columns, *(k for r in rows for k in r)]))
    )
    frame["timestamp"] = parse_times(pd.Series(stamps, dtype="object")).array
    frame = drop_bad_times(frame, rejects, stamps)
    frame["key_source"] = np.where(frame["pod"].notna(), "record", "incomplete")
    logs = schema.conform(
        "logs",
        frame.assign(level=derive_level(frame["message"]), format=message_format(frame["message"])),
        origin=origin,
    )
    return ParseResult(records=count, logs=logs, rejects=rejects.frame())


def _is_logcli(record: object) -> bool:
    """A line of ``logcli query --output=jsonl``: labels, the log line and its time."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("line"), str)
        and isinstance(record.get("labels", {}), dict)
        and isinstance(record.get("timestamp"), str)
    )


def _logcli_row(record: dict, number: int) -> dict[str, object]:
    """A logcli line's row: the key from its labels as Loki's stream labels name it, the
    ``stream`` label, and every other label in a column of its own (``label_`` before a name
    that is already a column)."""
    # imported here: importing loki at the top would register its format before the
    # container-log formats, and the registration order breaks ties between sniffers
    from obskit.sources.loki import KEY_LABELS

    labels = {k: str(v) for k, v in record.get("labels", {}).items()}
    row: dict[str, object] = {
        column: next((labels[n] for n in names if labels.get(n)), None)
        for column, names in KEY_LABELS.items()
    }
    taken = {n for names in KEY_LABELS.values() for n in names} | {"stream"}
    row.update(message=record["line"], stream=labels.get("stream"), line=number)
    for name, value in labels.items():
        if name not in taken:
            row[f"label_{name}" if name in _COLUMNS else name] = value
    return row


def _journal_time(record: dict) -> int | None:
    """A journal entry's own time (integer microseconds since the epoch), or None."""
    for field in _JOURNAL_TIMES:
        value = record.get(field)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _sniff_jsonl(head: str, name: str) -> float:
    line = first_line(head.lstrip())
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:  # a first line cut or corrupt: judged by its text
        if '"kubernetes"' in line and any(f'"{f}"' in line for f in _MESSAGE_FIELDS):
            return 0.92
        return 0.0
    if isinstance(record, list) and len(record) == 2:
        record = record[1]  # Fluent Bit's [time, record]
    if not isinstance(record, dict):
        return 0.0
    if _is_logcli(record) and "labels" in record:
        return 0.9
    has_message = any(isinstance(record.get(f), str) for f in _MESSAGE_FIELDS)
    if has_message and isinstance(record.get("kubernetes"), dict):
        return 0.92
    if isinstance(record.get("MESSAGE"), str) and any(f in record for f in _JOURNAL_FIELDS):
        return 0.9  # Fluent Bit's systemd input: a journal entry, without Kubernetes metadata
    return 0.0


register(
    "jsonl-log",
    "JSON-lines log records as Fluent Bit, Fluentd or Vector ship them, with kubernetes metadata"
    " (and logcli --output=jsonl lines)",
    _sniff_jsonl,
    parse_jsonl_log,
    ceiling=0.92,
)
