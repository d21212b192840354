"""Documents as log shippers store them, into obskit's frames.

A log store (Elasticsearch, OpenSearch, Sumo Logic) holds JSON documents written by the agents
that ship to it. Each document is one of:

- a **container log line**: as Fluent Bit writes it (``log``, ``stream``, and ``kubernetes`` with
  ``namespace_name``, ``pod_name``, ``container_name``, ``host``), as Filebeat and Elastic Agent
  write it in ECS (``message``, ``kubernetes.namespace``, ``kubernetes.pod.name``,
  ``kubernetes.node.name``, ``container.name``, ``log.level``, ``stream``), or as Vector writes it
  (``message``, ``kubernetes.pod_namespace``, ``pod_name``, ``container_name``,
  ``pod_node_name``);
- a **Kubernetes Event** (core/v1 or events.k8s.io/v1, or the ``{"type", "object"}`` watch
  event that event exporters write);
- a **Kubernetes audit Event** (``auditID``, ``stage``), as Fluent Bit and Filebeat ship the
  API server's audit log;
- a **Falco alert** (``rule``, ``priority``, ``output``, ``time``), as Falcosidekick's
  Elasticsearch output (``output_fields`` names dotted, or flattened to ``k8s_ns_name``) and
  Falco's own JSON output write it.

:func:`documents_to_frames` sorts the documents by kind and hands each kind to the parser the
file loaders use for it (audit events to :func:`obskit.sources.audit.parse_audit_log`, Falco
alerts to :func:`obskit.sources.falco.parse_falco_json`, Kubernetes Events to
:func:`obskit.sources.kubernetes.objects_to_frames`); container log lines become logs rows here.
A document of none of these kinds is a reject that says why. Every row's ``line`` is the
document's position (1-based) in what was read, so a reject and a row point at the same place.

Field names are looked up both nested (``{"kubernetes": {"pod": {"name": ...}}}``) and dotted
(``{"kubernetes.pod.name": ...}``), as both shapes occur in stored documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import ParseResult, Rejects
from obskit.sources._levels import derive_level, message_format, normalise_level
from obskit.sources.audit import parse_audit_log
from obskit.sources.falco import parse_falco_json
from obskit.sources.kubernetes import objects_to_frames

__all__ = ["classify", "documents_to_frames", "lookup"]

#: Where each key part of a container log line is, by shipper: Fluent Bit, ECS, Vector.
LOG_FIELDS: dict[str, tuple[str, ...]] = {
    "namespace": (
        "kubernetes.namespace_name",
        "kubernetes.namespace",
        "kubernetes.pod_namespace",
    ),
    "pod": ("kubernetes.pod_name", "kubernetes.pod.name"),
    "container": (
        "kubernetes.container_name",
        "container.name",
        "kubernetes.container.name",
    ),
    "node": (
        "kubernetes.host",
        "kubernetes.node.name",
        "kubernetes.pod_node_name",
        "host.name",
    ),
    "cluster": ("kubernetes.cluster", "orchestrator.cluster.name", "cluster"),
}
#: The message of a log line: Fluent Bit's ``log``, ECS's and Vector's ``message``.
MESSAGE_FIELDS = ("log", "message", "MESSAGE", "msg")
#: The time of a log line: the store's ``@timestamp``, else the shipper's own field.
TIME_FIELDS = ("@timestamp", "time", "timestamp", "date")
#: The level of a log line when the shipper parsed it (ECS ``log.level``).
LEVEL_FIELDS = ("log.level", "level", "severity")
#: The stream of a log line: Fluent Bit's and Vector's ``stream``, ECS's ``log.iostream``.
STREAM_FIELDS = ("stream", "log.iostream")
#: Top owners that name a workload, as ECS writes them (``kubernetes.deployment.name``).
WORKLOAD_FIELDS = (
    ("Deployment", "kubernetes.deployment.name"),
    ("StatefulSet", "kubernetes.statefulset.name"),
    ("DaemonSet", "kubernetes.daemonset.name"),
    ("CronJob", "kubernetes.cronjob.name"),
    ("Job", "kubernetes.job.name"),
)

KINDS = ("log", "audit", "falco", "k8s-event")


def lookup(doc: dict, path: str) -> object:
    """The value at a dotted ``path`` of ``doc``, nested or written with dots in its keys.

    Examples
    --------
    >>> lookup({"kubernetes": {"pod": {"name": "web-1"}}}, "kubernetes.pod.name")
    'web-1'
    >>> lookup({"kubernetes.pod.name": "web-1"}, "kubernetes.pod.name")
    'web-1'
    >>> lookup({"kubernetes": {"pod.name": "web-1"}}, "kubernetes.pod.name")
    'web-1'
    """
    if path in doc:
        return doc[path]
    at = path.find(".")
    while at != -1:
        inner = doc.get(path[:at])
        if isinstance(inner, dict):
            found = lookup(inner, path[at + 1 :])
            if found is not None:
                return found
        at = path.find(".", at + 1)
    return None


def _first(doc: dict, paths: Iterable[str]) -> object:
    for path in paths:
        value = lookup(doc, path)
        if value not in (None, ""):
            return value
    return None


def _text(doc: dict, paths: Iterable[str]) -> str | None:
    """The first of ``paths`` that holds text (ECS's ``log`` is an object, not the line)."""
    for path in paths:
        value = lookup(doc, path)
        if isinstance(value, str) and value:
            return value
    return None


def classify(doc: dict) -> str | None:
    """The kind of a stored document (one of :data:`KINDS`), or None when it is none of them.

    Examples
    --------
    >>> classify({"log": "hi\\n", "kubernetes": {"pod_name": "web-1"}})
    'log'
    >>> classify({"rule": "Terminal shell in container", "priority": "Notice",
    ...           "output": "...", "time": "2024-01-01T00:00:00Z"})
    'falco'
    """
    if doc.get("auditID") and doc.get("stage"):
        return "audit"
    if doc.get("kind") == "Event" and (
        isinstance(doc.get("involvedObject"), dict) or isinstance(doc.get("regarding"), dict)
    ):
        return "k8s-event"
    if "rule" in doc and "priority" in doc and "output" in doc:
        return "falco"
    if _text(doc, MESSAGE_FIELDS) is not None:
        return "log"
    return None


def _falco_fields(doc: dict) -> dict:
    """A Falco alert whose ``output_fields`` names are also given in Falco's dotted form.

    Falcosidekick's Elasticsearch output can flatten the names (``k8s.ns.name`` is stored as
    ``k8s_ns_name``, as its index template shows); the Falco parser reads the dotted names.
    """
    fields = doc.get("output_fields")
    if not isinstance(fields, dict) or not any("." not in k and "_" in k for k in fields):
        return doc
    dotted = {k.replace("_", "."): v for k, v in fields.items() if "." not in k and "_" in k}
    return {**doc, "output_fields": {**dotted, **fields}}


def _unwrap(doc: dict) -> dict:
    """The object inside a watch event (``{"type": "ADDED", "object": {...}}``), else ``doc``."""
    inner = doc.get("object")
    if isinstance(inner, dict) and doc.get("type") in ("ADDED", "MODIFIED", "DELETED"):
        return inner
    return doc


def documents_to_frames(
    documents: Sequence[tuple[int, object]], fmt: str, origin: str
) -> ParseResult:
    """Sort stored documents by kind and parse each kind into its frame.

    Parameters
    ----------
    documents
        ``(position, document)`` pairs: the position (1-based) names the document in rejects
        and in the rows' ``line``; a document that is not a JSON object is a reject.
    fmt, origin
        The format name and the origin (file, or URL and query) for provenance and rejects.

    Returns
    -------
    ParseResult
        Logs and events (audit events, Falco alerts and Kubernetes Events); ``records`` is the
        number of documents, and every one is a row or a reject.

    Examples
    --------
    >>> docs = [(1, {"@timestamp": "2024-01-01T00:00:00Z", "message": "boom",
    ...              "log": {"level": "error"}, "kubernetes": {"namespace": "shop",
    ...              "pod": {"name": "web-1"}, "node": {"name": "node-1"}},
    ...              "container": {"name": "web"}}),
    ...         (2, {"unrelated": True})]
    >>> r = documents_to_frames(docs, "es-search", "saved.json")
    >>> r.logs[["namespace", "pod", "container", "node", "level"]].values.tolist()
    [['shop', 'web-1', 'web', 'node-1', 'error']]
    >>> r.rejects["line"].tolist(), r.balanced()
    ([2], True)
    """
    rejects = Rejects(fmt, origin)
    by_kind: dict[str, list[tuple[int, dict]]] = {kind: [] for kind in KINDS}
    for position, doc in documents:
        if not isinstance(doc, dict):
            rejects.add(
                f"document {position} is a JSON {type(doc).__name__}, not an object",
                repr(doc),
                line=position,
            )
            continue
        doc = _unwrap(doc)
        kind = classify(doc)
        if kind is None:
            rejects.add(
                f"document {position} is none of: a container log line (no "
                f"{'/'.join(MESSAGE_FIELDS)} text), a Kubernetes Event, an audit Event (auditID "
                f"and stage), a Falco alert (rule, priority, output); keys: {sorted(doc)[:12]}",
                orjson.dumps(doc, default=str),
                line=position,
            )
            continue
        by_kind[kind].append((position, doc))
    parts = [
        _logs(by_kind["log"], rejects, origin),
        _json_lines(by_kind["audit"], parse_audit_log, origin),
        _json_lines([(p, _falco_fields(d)) for p, d in by_kind["falco"]], parse_falco_json, origin),
        _k8s_events(by_kind["k8s-event"], origin),
    ]
    return _merge(parts, rejects, len(documents), fmt)


def _merge(parts: list[ParseResult], rejects: Rejects, records: int, fmt: str) -> ParseResult:
    """One result of the parts of each kind (their rejects relabelled with ``fmt``)."""
    found = [p.rejects.assign(format=fmt) for p in parts if len(p.rejects)]
    result = ParseResult(
        records=records,
        logs=schema.concat("logs", [p.logs for p in parts if p.logs is not None]),
        events=schema.concat("events", [p.events for p in parts if p.events is not None]),
        rejects=schema.concat("rejects", [rejects.frame(), *found]),
        merged=sum(p.merged for p in parts),
    )
    result.notes = [note for p in parts for note in p.notes]
    return result


def _json_lines(docs: list[tuple[int, dict]], parse: object, origin: str) -> ParseResult:
    """Parse documents with a JSON-lines parser, each on the line of its position (blank lines
    between them), so the parser's line numbers are the documents' positions."""
    if not docs:
        return ParseResult(records=0)
    lines: list[bytes] = []
    for position, doc in docs:
        lines.extend([b""] * (position - 1 - len(lines)))
        lines.append(orjson.dumps(doc))
    return parse(b"\n".join(lines), origin=origin)  # type: ignore[operator]


def _k8s_events(docs: list[tuple[int, dict]], origin: str) -> ParseResult:
    """Kubernetes Events through the inventory parser, each row's ``line`` its position."""
    if not docs:
        return ParseResult(records=0)
    result = objects_to_frames([doc for _, doc in docs], origin)
    if result.events is not None and len(result.events) == len(docs):
        result.events["line"] = pd.array([p for p, _ in docs], dtype="Int64")
        return result
    # some were rejected: parse one by one so that rows and rejects keep their positions
    parts = []
    for position, doc in docs:
        part = objects_to_frames([doc], origin)
        if part.events is not None:
            part.events["line"] = pd.array([position] * len(part.events), dtype="Int64")
        part.rejects["line"] = pd.array([position] * len(part.rejects), dtype="Int64")
        parts.append(part)
    merged = ParseResult(
        records=len(docs),
        events=schema.concat("events", [p.events for p in parts if p.events is not None]),
        inventory=schema.concat(
            "inventory", [p.inventory for p in parts if p.inventory is not None]
        ),
        rejects=schema.concat("rejects", [p.rejects for p in parts]),
    )
    return merged


def _log_row(position: int, doc: dict) -> dict[str, object]:
    row: dict[str, object] = {column: _text(doc, paths) for column, paths in LOG_FIELDS.items()}
    message = _text(doc, MESSAGE_FIELDS) or ""
    row["message"] = message.removesuffix("\n").removesuffix("\r")
    row["stream"] = _text(doc, STREAM_FIELDS)
    row["level"] = normalise_level(_text(doc, LEVEL_FIELDS))
    row["time"] = _first(doc, TIME_FIELDS)
    row["line"] = position
    for kind, path in WORKLOAD_FIELDS:
        name = _text(doc, [path])
        if name:
            row["workload_kind"], row["workload"] = kind, name
            break
    return row


_LOG_COLUMNS = (
    *LOG_FIELDS,
    "message",
    "stream",
    "level",
    "time",
    "line",
    "workload_kind",
    "workload",
)


def _logs(docs: list[tuple[int, dict]], rejects: Rejects, origin: str) -> ParseResult:
    """Container log lines into a logs frame (a line without a readable time is a reject)."""
    if not docs:
        return ParseResult(records=0)
    frame = pd.DataFrame([_log_row(p, d) for p, d in docs], columns=list(_LOG_COLUMNS))
    frame["timestamp"] = parse_times(frame["time"].astype("object")).array
    bad = frame["timestamp"].isna().to_numpy()
    for i in np.flatnonzero(bad):
        position, doc = docs[i]
        rejects.add(
            f"document {position}: no readable time in {'/'.join(TIME_FIELDS)} "
            f"(got {frame['time'].iat[i]!r})",
            orjson.dumps(doc, default=str),
            line=position,
        )
    frame = frame.loc[~bad].drop(columns="time").reset_index(drop=True)
    derived = derive_level(frame["message"])
    frame["level"] = frame["level"].where(frame["level"].notna(), derived.astype("object"))
    frame["format"] = message_format(frame["message"])
    frame["key_source"] = np.where(frame["pod"].notna(), "record", "incomplete")
    logs = schema.conform("logs", frame, origin=origin)
    logs = logs.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return ParseResult(records=len(docs), logs=logs)
