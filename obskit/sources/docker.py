"""Docker's json-file container logs: ``{"log": "...\\n", "stream": "stdout", "time": "..."}``.

A ``log`` value without its trailing newline is a partial line, joined with the following lines
of the same stream as the CRI format's ``P`` lines are; the key comes from the file's path.

The ``attrs`` object Docker adds when the daemon or container sets ``--log-opt labels=/env=/tag=``
is kept, one ``attrs.<name>`` column per name. The labels dockershim gave a pod's containers
(``io.kubernetes.pod.namespace``, ``io.kubernetes.pod.name``, ``io.kubernetes.container.name``)
fill the key where the file's path does not.
"""

from __future__ import annotations

import pandas as pd

from obskit._time import parse_times
from obskit.sources._base import (
    ParseResult,
    Rejects,
    drop_bad_times,
    first_record,
    json_lines,
    register,
)
from obskit.sources.cri import finish_logs, join_partials, path_key

__all__ = [
    "parse_docker_json_log",
]

#: The container labels dockershim set, as ``--log-opt labels=...`` copies them into ``attrs``.
_KEY_LABELS = {
    "io.kubernetes.pod.namespace": "namespace",
    "io.kubernetes.pod.name": "pod",
    "io.kubernetes.container.name": "container",
}


# --- docker-json-log ---------------------------------------------------------------------------


def parse_docker_json_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse a Docker json-file log (``{"log": ..., "stream": ..., "time": ...}`` lines).

    Examples
    --------
    >>> r = parse_docker_json_log(
    ...     b'{"log":"a","stream":"stdout","time":"2024-01-01T00:00:00Z"}\\n'
    ...     b'{"log":"b\\\\n","stream":"stdout","time":"2024-01-01T00:00:01Z"}\\n')
    >>> r.logs["message"].tolist(), r.merged
    (['ab'], 1)
    """
    rejects = Rejects("docker-json-log", origin)
    records, count = json_lines(data, rejects)
    rows, stamps, attrs = [], [], []
    for number, rec, raw in records:
        log = rec.get("log")
        if not isinstance(log, str) or "time" not in rec:
            rejects.add(
                "not a Docker json-file record: needs string 'log' and 'time'", raw, line=number
            )
            continue
        rows.append((rec.get("stream") or "stdout", log, number))
        stamps.append(rec["time"])
        attrs.append(rec.get("attrs") if isinstance(rec.get("attrs"), dict) else {})
    frame = pd.DataFrame(rows, columns=["stream", "message", "line"])
    key = path_key(origin)
    if any(attrs):
        frame = _with_attrs(frame, attrs, key)
    frame["timestamp"] = parse_times(pd.Series(stamps, dtype="object")).array
    frame = drop_bad_times(frame, rejects, stamps)
    partial = ~frame["message"].str.endswith("\n").to_numpy(dtype=bool)
    frame["message"] = frame["message"].str.removesuffix("\n").str.removesuffix("\r")
    frame, merged = join_partials(frame.reset_index(drop=True), partial)
    logs = finish_logs(frame, origin, key)
    return ParseResult(records=count, logs=logs, rejects=rejects.frame(), merged=merged)


def _with_attrs(frame: pd.DataFrame, attrs: list[dict], key: dict[str, object]) -> pd.DataFrame:
    """``frame`` with each record's ``attrs`` as ``attrs.<name>`` columns, and the key columns
    its dockershim labels name (the path's key where a record has none)."""
    table = pd.DataFrame(attrs, index=frame.index, dtype="object")
    columns = {f"attrs.{name}": table[name] for name in table.columns}
    for label, column in _KEY_LABELS.items():
        if label in table:
            columns[column] = table[label].where(table[label].notna(), key.get(column))
    return frame.assign(**columns)


def _sniff_docker(head: str, name: str) -> float:
    record = first_record(head)
    if record is None:  # a first line that is no JSON object: judged by how it begins
        return 0.9 if head.lstrip().startswith('{"log":') else 0.0
    # the fields at the record's top level: an Azure diagnostic record holds "log" and
    # "stream" under "properties", a Fluent Bit record adds "kubernetes"
    if isinstance(record.get("log"), str) and "time" in record and "kubernetes" not in record:
        return 0.9
    return 0.0


register(
    "docker-json-log",
    'Docker json-file container logs ({"log", "stream", "time"} lines)',
    _sniff_docker,
    parse_docker_json_log,
    ceiling=0.9,
)
