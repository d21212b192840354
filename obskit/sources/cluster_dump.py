"""``kubectl cluster-info dump``: its stdout stream, and the ``logs.txt`` files of a dump folder.

With ``--output-directory`` kubectl writes ``nodes.json`` and, per namespace, ``events.json``,
``pods.json``, ``deployments.json`` ... (read by the ``k8s-json`` format) and
``<namespace>/<pod>/logs.txt``. Without it, everything goes to stdout: the JSON Lists one after
the other, then the logs. Both hold log blocks framed by kubectl::

    ==== START logs for container <container> of pod <namespace>/<pod> ====
    ...
    ==== END logs for container <container> of pod <namespace>/<pod> ====

kubectl fetches these logs without ``--timestamps``, so a line has no runtime time: it gets
the time written at the start of the message when there is one (RFC3339, or ``YYYY-MM-DD
HH:MM:SS``), else ``NaT`` and ``time_source`` says so. Such rows fall outside any time window;
the ledger note counts them. ``Request log error`` lines (kubectl could not fetch a log) are
rejects, so the gap is visible.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import ParseResult, Rejects, register
from obskit.sources._levels import derive_level, message_format
from obskit.sources.kubernetes import objects_to_frames

__all__ = ["parse_cluster_info_dump"]

FORMAT = "cluster-info-dump"
_START = re.compile(r"^==== START logs for container (\S+) of pod ([^/\s]+)/(\S+) ====$")
_END = re.compile(r"^==== END logs for container (\S+) of pod ([^/\s]+)/(\S+) ====$")
_LEADING_TIME = re.compile(
    r"^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
)
_FETCH_ERROR = ("Request log error:", "Create log request error:")


def parse_cluster_info_dump(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse the stdout of ``kubectl cluster-info dump`` or one of its ``logs.txt`` files.

    Examples
    --------
    >>> data = (b"==== START logs for container web of pod shop/web-1 ====\\n"
    ...         b"2024-01-01T00:00:00Z ERROR boom\\n"
    ...         b"no time here\\n"
    ...         b"==== END logs for container web of pod shop/web-1 ====\\n")
    >>> r = parse_cluster_info_dump(data)
    >>> r.logs[["pod", "container", "level", "time_source"]].values.tolist()
    [['web-1', 'web', 'error', 'message'], ['web-1', 'web', nan, 'none']]
    """
    text = data.decode("utf-8", "replace")
    rejects = Rejects(FORMAT, origin)
    docs: list[object] = []
    rows: list[dict] = []
    records = 0
    decoder = json.JSONDecoder()
    block: tuple[str, str, str] | None = None
    lines = text.split("\n")
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if block is None and line.startswith("{"):
            # a JSON List printed by kubectl: decode it whole, then go on after it
            rest = "\n".join(lines[number - 1 :])
            try:
                doc, end = decoder.raw_decode(rest)
            except json.JSONDecodeError as exc:
                records += 1
                rejects.add(f"JSON object cut short: {exc.msg}", rest[:500], line=number)
                break
            docs.append(doc)
            number += rest[:end].count("\n")
            continue
        m = _START.match(line)
        if m:
            block = (m.group(2), m.group(3), m.group(1))
            continue
        if _END.match(line):
            block = None
            continue
        if not line.strip():
            continue
        records += 1
        if line.startswith(_FETCH_ERROR):
            rejects.add(f"kubectl could not fetch this log: {line}", line, line=number)
            continue
        if block is None:
            rejects.add("text outside a '==== START logs' block", line, line=number)
            continue
        namespace, pod, container = block
        rows.append(
            {
                "namespace": namespace,
                "pod": pod,
                "container": container,
                "message": line,
                "line": number,
            }
        )
    result = objects_to_frames(docs, origin, fmt=FORMAT) if docs else ParseResult(records=0)
    frame = pd.DataFrame(rows, columns=["namespace", "pod", "container", "message", "line"])
    stamps = frame["message"].str.extract(_LEADING_TIME, expand=False)
    times = parse_times(stamps.str.replace(",", ".", regex=False).astype("object"))
    frame["timestamp"] = times.array
    frame["time_source"] = times.notna().map({True: "message", False: "none"})
    untimed = int(times.isna().sum())
    frame["level"] = derive_level(frame["message"])
    frame["format"] = message_format(frame["message"])
    frame["key_source"] = "record"
    logs = schema.conform("logs", frame, origin=origin)
    notes = list(result.notes)
    if untimed:
        notes.append(
            f"{untimed:,} log lines have no time (kubectl cluster-info dump does not record "
            "one); they are kept with timestamp NaT and fall outside time windows"
        )
    return ParseResult(
        records=records + result.records,
        inventory=result.inventory,
        events=result.events,
        logs=logs,
        rejects=schema.concat("rejects", [result.rejects, rejects.frame()]),
        notes=notes,
    )


_NEXT_DOCUMENT = re.compile(r"^\}\s*\n\{", re.M)


def _sniff(head: str, name: str, tail: str = "") -> float:
    if "==== START logs for container " in head:
        return 0.95
    first = head.lstrip()
    # stdout of the dump: kubectl prints a NodeList first, then more Lists and the pods' logs;
    # a NodeList longer than the head shows the documents after it only at the file's end
    if (
        first.startswith("{")
        and re.search(r'"kind":\s*"NodeList"', first[:200])
        and (
            _NEXT_DOCUMENT.search(first)
            or _NEXT_DOCUMENT.search(tail)
            or "==== END logs for container " in tail
        )
    ):
        return 0.9
    return 0.0


register(
    FORMAT,
    "kubectl cluster-info dump: its stdout, and the <namespace>/<pod>/logs.txt of a dump folder",
    _sniff,
    parse_cluster_info_dump,
    reads_tail=True,
    ceiling=0.95,
)
