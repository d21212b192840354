"""Falco alerts as Falco writes them with ``json_output: true`` (one JSON object per line).

Each alert becomes one ``events`` row with ``source="falco"``. The key comes from the alert's
``output_fields``: ``k8s.ns.name``, ``k8s.pod.name``, ``container.name`` (or, for the
``k8s_audit`` source, ``ka.target.namespace`` / ``ka.target.name``); the node is the alert's
``hostname``, which is the node the Falco DaemonSet pod runs on.

A ``k8s_audit`` alert is about an API request, not about the node Falco runs on: its object is
the request's target (``ka.target.resource`` as a kind, ``ka.target.name``), its namespace the
target's or the one in ``ka.uri``, with ``verb``, ``response_code`` and ``source_ip`` from
``ka.verb``, ``ka.response.code`` and ``ka.sourceips``; it has no node.
"""

from __future__ import annotations

import re

import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import ParseResult, Rejects, first_record, json_lines, register
from obskit.sources.audit import RESOURCE_KINDS

__all__ = ["PRIORITY_SEVERITY", "parse_falco_json"]

#: Falco priority -> obskit severity (schema.SEVERITIES).
PRIORITY_SEVERITY = {
    "emergency": "critical",
    "alert": "critical",
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "notice": "notice",
    "informational": "info",
    "info": "info",
    "debug": "debug",
}

FORMAT = "falco-json"


def _tags(tags: object) -> str | None:
    """A rule's tags as one comma-separated text (None without any)."""
    if not isinstance(tags, list):
        return None
    return ",".join(str(t) for t in tags) or None


def _field(fields: dict, *names: str) -> object:
    for name in names:
        value = fields.get(name)
        if value not in (None, "", "<NA>", "N/A"):
            return value
    return None


_URI_NAMESPACE = re.compile(r"/namespaces/([^/?]+)/")


def _audit_target(fields: dict) -> dict[str, object]:
    """What a ``k8s_audit`` alert is about: the audited request's object, namespace, verb,
    answer code and client (the alert's hostname is the Falco node, not the object's)."""
    resource = _field(fields, "ka.target.resource")
    namespace = _field(fields, "ka.target.namespace")
    if namespace is None:  # a request under /namespaces/<ns>/... names it only in its URI
        m = _URI_NAMESPACE.search(str(_field(fields, "ka.uri") or ""))
        namespace = m.group(1) if m else None
    code = _field(fields, "ka.response.code")
    ips = fields.get("ka.sourceips")
    return {
        "object_kind": RESOURCE_KINDS.get(resource, resource) if resource else None,
        "object_name": _field(fields, "ka.target.name"),
        "namespace": namespace,
        "verb": _field(fields, "ka.verb"),
        "response_code": int(code) if str(code).isdigit() else None,
        "source_ip": ips[0] if isinstance(ips, list) and ips else None,
    }


def parse_falco_json(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse Falco ``json_output`` alerts into an events frame.

    Examples
    --------
    >>> line = (b'{"hostname":"node-1","output":"shell","priority":"Warning",'
    ...         b'"rule":"Terminal shell in container","source":"syscall",'
    ...         b'"time":"2024-01-01T00:00:00.123456789Z","output_fields":'
    ...         b'{"k8s.ns.name":"shop","k8s.pod.name":"web-1","container.name":"web"}}')
    >>> parse_falco_json(line).events[["severity", "namespace", "pod", "node"]].iloc[0].tolist()
    ['warning', 'shop', 'web-1', 'node-1']
    """
    rejects = Rejects(FORMAT, origin)
    records, count = json_lines(data, rejects)
    rows = []
    times = []
    for number, alert, line in records:
        if "rule" not in alert or "time" not in alert:
            rejects.add("not a Falco alert: no 'rule' or 'time' field", line, line=number)
            continue
        fields = alert.get("output_fields")
        fields = fields if isinstance(fields, dict) else {}
        priority = str(alert.get("priority", "")).lower()
        pod = _field(fields, "k8s.pod.name")
        namespace = _field(fields, "k8s.ns.name", "ka.target.namespace")
        source = alert.get("source") or "syscall"
        if pod is None and source == "k8s_audit" and fields.get("ka.target.resource") == "pods":
            pod = _field(fields, "ka.target.name")
        row = {
            "source": "falco",
            "severity": PRIORITY_SEVERITY.get(priority),
            "reason": alert["rule"],
            "rule": alert["rule"],
            "message": alert.get("output"),
            "object_kind": "Pod"
            if pod
            else ("Container" if fields.get("container.id") not in (None, "host") else "Node"),
            "object_name": pod or _field(fields, "container.name") or alert.get("hostname"),
            "namespace": namespace,
            "pod": pod,
            "container": _field(fields, "k8s.container.name", "container.name") if pod else None,
            "node": alert.get("hostname") if source != "k8s_audit" else None,
            "user": _field(fields, "user.name", "ka.user.name"),
            "source_ip": _field(fields, "fd.sip", "fd.rip"),
            "count": 1,
            "line": number,
            "raw": line.decode("utf-8", "replace"),
            "falco_source": source,
            "tags": _tags(alert.get("tags")),
            "proc_cmdline": _field(fields, "proc.cmdline"),
            "container_id": _field(fields, "container.id"),
            "key_source": "record",
        }
        if source == "k8s_audit":
            row |= _audit_target(fields)
        rows.append(row)
        times.append(alert["time"])
    frame = pd.DataFrame(rows)
    if rows:
        frame["timestamp"] = parse_times(pd.Series(times, dtype="object")).array
        bad = frame["timestamp"].isna()
        if bad.any():
            for i in frame.index[bad]:
                rejects.add(
                    f"unreadable alert time {times[i]!r}",
                    frame.at[i, "raw"],
                    line=int(frame.at[i, "line"]),
                )
            frame = frame[~bad]
    events = schema.conform("events", frame, origin=origin)
    return ParseResult(records=count, events=events, rejects=rejects.frame())


def _sniff(head: str, name: str) -> float:
    record = first_record(head)
    if record is None:  # a first line cut or corrupt: judged by the text of its start
        first = head.lstrip()[:4096]
        fields = ('"rule"', '"priority"', '"output"')
        return 0.95 if first.startswith("{") and all(f in first for f in fields) else 0.0
    # an alert's "output" may run long (a command line), and "rule" comes after it
    return 0.95 if all(f in record for f in ("rule", "priority", "output")) else 0.0


register(
    FORMAT,
    "Falco alerts written with json_output (JSON lines)",
    _sniff,
    parse_falco_json,
    ceiling=0.95,
)
