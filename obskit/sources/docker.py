"""Docker's json-file container logs: ``{"log": "...\\n", "stream": "stdout", "time": "..."}``.

A ``log`` value without its trailing newline is a partial line, joined with the following lines
of the same stream as the CRI format's ``P`` lines are; the key comes from the file's path.
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
    rows, stamps = [], []
    for number, rec, raw in records:
        log = rec.get("log")
        if not isinstance(log, str) or "time" not in rec:
            rejects.add(
                "not a Docker json-file record: needs string 'log' and 'time'", raw, line=number
            )
            continue
        rows.append((rec.get("stream") or "stdout", log, number))
        stamps.append(rec["time"])
    frame = pd.DataFrame(rows, columns=["stream", "message", "line"])
    frame["timestamp"] = parse_times(pd.Series(stamps, dtype="object")).array
    frame = drop_bad_times(frame, rejects, stamps)
    partial = ~frame["message"].str.endswith("\n").to_numpy(dtype=bool)
    frame["message"] = frame["message"].str.removesuffix("\n").str.removesuffix("\r")
    frame, merged = join_partials(frame.reset_index(drop=True), partial)
    logs = finish_logs(frame, origin, path_key(origin))
    return ParseResult(records=count, logs=logs, rejects=rejects.frame(), merged=merged)


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
