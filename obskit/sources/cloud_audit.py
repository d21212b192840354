"""Managed clusters' audit logs, as their clouds' logging services hand them out.

Each record becomes the same ``events`` row (``source="audit"``) the Kubernetes audit log's
reader makes (:mod:`obskit.sources.audit`), so the audit detections run on them unchanged. The
ledger counts the cloud's records (a log entry, a CloudWatch event, a diagnostic record); one
that holds no Kubernetes audit Event is a reject that says why, with its line or record number.
Two columns come with every row: ``cluster`` (where the record names it) and ``cloud_record``
(the cloud's record as read, for evidence; ``raw`` holds the audit Event).

Formats
-------
``gke-audit``
    Google Cloud Logging entries whose ``protoPayload`` is an ``AuditLog`` of the Kubernetes
    API (``serviceName: k8s.io``): ``gcloud logging read`` output, YAML by default (documents
    separated by ``---``) or a JSON array with ``--format=json``, and JSON-lines exports (a
    sink to Cloud Storage). GKE logs a request once, when it completes, so every row's stage is
    ``ResponseComplete``. The Event is rebuilt field by field: ``verb`` is the last part of
    ``methodName`` (``io.k8s.core.v1.pods.exec.create``), ``objectRef`` comes from
    ``resourceName`` (``core/v1/namespaces/shop/pods/web-1/exec``) and the resource and
    subresource named in ``methodName``; ``user.username`` is
    ``authenticationInfo.principalEmail``; ``sourceIPs`` and ``userAgent`` are
    ``requestMetadata.callerIp`` and ``callerSuppliedUserAgent``; ``requestObject`` and
    ``responseObject`` are ``request`` and ``response``; ``annotations`` are the entry's
    ``labels`` (where GKE writes ``authorization.k8s.io/decision``); ``auditID`` is
    ``operation.id`` (else ``insertId``); the time is ``timestamp``; ``cluster`` is
    ``resource.labels.cluster_name``. ``responseStatus.code`` is the logged response's own
    ``code`` when it is a ``Status``, else the HTTP code that ``google.rpc.Code`` maps the
    entry's ``status.code`` to (no status, or 0: 200; 7 PERMISSION_DENIED: 403, ...). The
    entry carries neither the request URI nor the user's groups: those stay empty.
``eks-audit``
    Amazon CloudWatch Logs: the answer of ``aws logs filter-log-events`` (or
    ``get-log-events``), ``{"events": [{"logStreamName", "timestamp", "message", ...}]}``; a
    subscription's ``{"logGroup", "logStream", "logEvents": [...]}`` payload (what Firehose
    delivers to S3); and export lines ``<timestamp> <message>`` (what an export task to S3
    writes). Each message is one API-server audit Event as EKS logs it. ``cluster`` comes from
    a log group named ``/aws/eks/<cluster>/cluster`` where the payload holds one; a
    ``nextToken`` in the answer is noted (events were left on the server).
``aks-audit``
    Azure Monitor diagnostic records of category ``kube-audit`` or ``kube-audit-admin``, the
    audit Event as JSON text in ``properties.log``: one record per line, or wrapped in
    ``{"records": [...]}`` (either way as Event Hubs and storage accounts hold them). Records
    of other categories are rejects. ``cluster`` is the last part of ``resourceId``
    (``.../MANAGEDCLUSTERS/<name>``), as Azure writes it (upper case).
"""

from __future__ import annotations

import re

import orjson
import yaml

from obskit.sources._base import (
    ParseResult,
    Rejects,
    container_log_head,
    first_line,
    first_record,
    json_lines,
    register,
)
from obskit.sources._yaml import NoTimestampLoader, alias_bomb, has_anchors
from obskit.sources.audit import AuditRows, _dict, _text

__all__ = ["parse_aks_audit", "parse_eks_audit", "parse_gke_audit"]

_AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
# HTTP codes of google.rpc.Code (google/rpc/code.proto states each one's HTTP mapping)
_RPC_HTTP = {
    0: 200,
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}
_VERSION = re.compile(r"v\d+(?:(?:alpha|beta)\d+)?")
_YAML_SEPARATOR = re.compile(rb"^---[ \t]*\r?$", re.M)
_LEADING_SPACE = re.compile(rb"\s*")


# --- shared -----------------------------------------------------------------------------------


def _expand(
    documents: list[tuple[int, object, bytes]], key: str, count: int, rejects: Rejects
) -> tuple[list[tuple[int, dict, bytes]], int]:
    """Records from JSON values, each wrapper ``{key: [...]}`` replaced by its items (the
    wrapper is no record; its items are)."""
    out: list[tuple[int, dict, bytes]] = []
    for number, value, raw in documents:
        items = value.get(key) if isinstance(value, dict) else None
        if isinstance(items, list):
            count += len(items) - 1
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    out.append((number, item, orjson.dumps(item)))
                else:
                    rejects.add(f"{key}[{i}] is not a JSON object", repr(item), line=number)
        elif isinstance(value, dict):
            out.append((number, value, raw))
        else:
            rejects.add(f"expected a JSON object, got {type(value).__name__}", raw, line=number)
    return out, count


def _first_byte(data: bytes) -> bytes:
    """The payload's first byte that is not white space (without copying the payload)."""
    at = _LEADING_SPACE.match(data).end()
    return data[at : at + 1]


def _one_document(data: bytes) -> object | None:
    """``data`` as one JSON document (pretty-printed), or None when it is not one."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _inner_event(text: object, what: str) -> tuple[dict | None, bytes, str | None]:
    """The audit Event a cloud record carries as JSON text (or, re-serialised, as an object):
    the Event, its raw bytes, and why it is none."""
    if isinstance(text, dict):
        return text, orjson.dumps(text), None
    if not isinstance(text, str):
        return None, b"", f"{what} is not text"
    raw = text.rstrip("\n").encode("utf-8", "replace")
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, raw, f"{what} is not JSON (not an audit Event)"
    if not isinstance(event, dict):
        return None, raw, f"{what} is not a JSON object (not an audit Event)"
    return event, raw, None


# --- GKE: Cloud Logging entries -----------------------------------------------------------------


def parse_gke_audit(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse GKE audit log entries (Cloud Logging ``LogEntry`` with an ``AuditLog`` payload).

    YAML documents (``gcloud logging read``), a JSON array (``--format=json``), one JSON
    entry, or JSON lines; each entry becomes one audit row (see the module docstring).

    Examples
    --------
    >>> entry = (b'{"insertId":"a1","timestamp":"2024-05-12T05:13:08.760303Z",'
    ...     b'"resource":{"type":"k8s_cluster","labels":{"cluster_name":"prod-1"}},'
    ...     b'"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",'
    ...     b'"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.exec.create",'
    ...     b'"resourceName":"core/v1/namespaces/shop/pods/web-1/exec",'
    ...     b'"authenticationInfo":{"principalEmail":"alice@example.com"}}}')
    >>> ev = parse_gke_audit(entry).events
    >>> ev[["cluster", "verb", "namespace", "pod", "subresource"]].iloc[0].tolist()
    ['prod-1', 'create', 'shop', 'web-1', 'exec']
    >>> int(ev.response_code[0])  # no status: google.rpc OK
    200
    """
    rejects = Rejects("gke-audit", origin)
    entries, count = _gke_entries(data, rejects)
    rows = AuditRows(rejects)
    for number, entry, raw in entries:
        event = _gke_event(entry)
        if isinstance(event, str):
            rejects.add(event, raw, line=number)
            continue
        cluster = _text(_dict(_dict(entry.get("resource")).get("labels")).get("cluster_name"))
        rows.add(
            event, number, orjson.dumps(event), cluster=cluster, cloud_record=raw.decode("utf-8")
        )
    return ParseResult(records=count, events=rows.events(origin), rejects=rejects.frame())


def _gke_entries(data: bytes, rejects: Rejects) -> tuple[list[tuple[int, object, bytes]], int]:
    """The entries with their line (JSON lines, YAML) or array position."""
    start = _first_byte(data)
    if start == b"{":
        document = _one_document(data)
        if isinstance(document, dict):
            return [(1, document, data.strip())], 1
    if start in (b"{", b"["):
        return json_lines(data, rejects)
    return _yaml_documents(data, rejects)


def _yaml_documents(data: bytes, rejects: Rejects) -> tuple[list[tuple[int, object, bytes]], int]:
    """``---``-separated YAML documents, each read alone so one bad document is one reject."""
    out: list[tuple[int, object, bytes]] = []
    count = 0
    cuts = [(m.start(), m.end()) for m in _YAML_SEPARATOR.finditer(data)]
    starts = [0, *(end for _, end in cuts)]
    ends = [*(start for start, _ in cuts), len(data)]
    line = 1
    for lo, hi in zip(starts, ends, strict=True):
        text = data[lo:hi]
        first = line + text[: len(text) - len(text.lstrip())].count(b"\n")
        line += text.count(b"\n")
        if not text.strip():
            continue
        count += 1
        try:
            value = yaml.load(text.decode("utf-8"), Loader=NoTimestampLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            rejects.add(f"not valid YAML: {str(exc).splitlines()[0]}", text, line=first)
            continue
        bomb = alias_bomb(value) if has_anchors(text) else None
        if bomb:
            rejects.add(bomb, None, line=first)
            continue
        out.append((first, value, text.strip()))
    return out, count


def _gke_event(entry: object) -> dict | str:
    """The audit Event a GKE log entry records, or why it holds none."""
    if not isinstance(entry, dict):
        return f"expected a log entry (a mapping), got {type(entry).__name__}"
    payload = entry.get("protoPayload")
    if not isinstance(payload, dict) or payload.get("@type") != _AUDIT_LOG_TYPE:
        return f"not a Cloud Audit Logs entry: no protoPayload of type {_AUDIT_LOG_TYPE}"
    if payload.get("serviceName") not in (None, "k8s.io"):
        return (
            f"an audit entry of {payload.get('serviceName')!r} "
            f"({payload.get('methodName')!r}), not of the Kubernetes API (k8s.io)"
        )
    method = _text(payload.get("methodName"))
    if method is None:
        return "the AuditLog names no methodName"
    when = entry.get("timestamp")
    uid = _text(_dict(entry.get("operation")).get("id")) or _text(entry.get("insertId"))
    request, response = payload.get("request"), payload.get("response")
    event: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse" if request or response else "Metadata",
        "auditID": uid,
        "stage": "ResponseComplete",
        "verb": method.rsplit(".", 1)[-1],
        "user": {"username": _dict(payload.get("authenticationInfo")).get("principalEmail")},
        "sourceIPs": [ip] if (ip := _dict(payload.get("requestMetadata")).get("callerIp")) else [],
        "userAgent": _dict(payload.get("requestMetadata")).get("callerSuppliedUserAgent"),
        "objectRef": _gke_object_ref(method, _text(payload.get("resourceName"))),
        "responseStatus": {"code": _gke_code(payload)},
        "requestReceivedTimestamp": when if isinstance(when, str) else None,
        "annotations": {k: v for k, v in _dict(entry.get("labels")).items() if isinstance(v, str)},
    }
    if isinstance(request, dict):
        event["requestObject"] = request
    if isinstance(response, dict):
        event["responseObject"] = response
    return event


def _gke_code(payload: dict) -> int | None:
    """The HTTP code: the logged Status response's own, else ``status.code`` mapped."""
    response = _dict(payload.get("response"))
    code = response.get("code")
    if response.get("kind") == "Status" and isinstance(code, int) and not isinstance(code, bool):
        return code
    rpc = _dict(payload.get("status")).get("code", 0)
    return _RPC_HTTP.get(rpc) if isinstance(rpc, int) else None


def _gke_object_ref(method: str, name: str | None) -> dict | None:
    """``objectRef`` from ``resourceName`` (group/version[/namespaces/ns]/resource[/name[/sub]])
    and the resource and subresource ``methodName`` names
    (``io.k8s.<group>.<version>.<resource>[.<subresource>].<verb>``)."""
    parts = method.split(".")[:-1]
    version_at = next((i for i, p in enumerate(parts) if _VERSION.fullmatch(p)), None)
    named = parts[version_at + 1 :] if version_at is not None else []
    if name is None:
        return {"resource": named[0]} if named else None
    path = name.split("/")
    if len(path) < 3:
        return None
    group, version, rest = path[0], path[1], path[2:]
    resource = named[0] if named else None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and resource != "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = resource or rest[0]
    ref = {
        "resource": resource,
        "namespace": namespace,
        "name": rest[1] if len(rest) > 1 else None,
        "apiGroup": None if group == "core" else group,
        "apiVersion": version,
        "subresource": named[1] if len(named) > 1 else (rest[2] if len(rest) > 2 else None),
    }
    return {k: v for k, v in ref.items() if v is not None}


def _sniff_gke(head: str, name: str, tail: str = "") -> float:
    # a container that prints entries writes its own log, not an export (checked first: it is
    # the cheap test for the many CRI files a node holds)
    if container_log_head(head) or _AUDIT_LOG_TYPE not in head:
        return 0.0
    # the Kubernetes API's entries, or GKE's own (cluster operations) beside them; gcloud sorts
    # an entry's keys, so serviceName and resource follow a request body that may fill the head
    markers = ("k8s.io", "k8s_cluster", "gke_cluster")
    return 0.97 if any(m in head or m in tail for m in markers) else 0.0


register(
    "gke-audit",
    "GKE audit logs: Cloud Logging entries with a k8s.io AuditLog (gcloud logging read YAML or "
    "--format=json, JSON-lines exports)",
    _sniff_gke,
    parse_gke_audit,
    reads_tail=True,
    container_logs=False,
)


# --- EKS: CloudWatch Logs --------------------------------------------------------------------

_EXPORT_LINE = re.compile(rb"^(\d{4}-\d\d-\d\dT\S+) (\{.*)$")
_EKS_GROUP = re.compile(r"^/aws/eks/([^/]+)/cluster$")


def parse_eks_audit(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse EKS audit events from CloudWatch Logs (see the module docstring).

    Examples
    --------
    >>> answer = orjson.dumps({"events": [{"logStreamName": "kube-apiserver-audit-1",
    ...     "timestamp": 1704067200000, "ingestionTime": 1704067201000, "eventId": "1",
    ...     "message": '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    ...         '"auditID":"a1","stage":"ResponseComplete","verb":"get",'
    ...         '"user":{"username":"bob"},"objectRef":{"resource":"secrets",'
    ...         '"namespace":"shop","name":"db"},"responseStatus":{"code":200},'
    ...         '"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z"}'}]})
    >>> parse_eks_audit(answer).events[["user", "verb", "object_name"]].iloc[0].tolist()
    ['bob', 'get', 'db']
    """
    rejects = Rejects("eks-audit", origin)
    rows = AuditRows(rejects)
    notes: list[str] = []
    document = _one_document(data) if _first_byte(data) == b"{" else None
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        count = _cloudwatch_events(document["events"], None, rows, rejects)
        # the API's nextToken; the AWS CLI's own NextToken where --max-items cut the pages
        if document.get("nextToken") or document.get("NextToken"):
            notes.append(
                "the answer carries a nextToken: CloudWatch holds more events for this query "
                "(run it again with --starting-token, or without --max-items)"
            )
    elif isinstance(document, dict) and isinstance(document.get("logEvents"), list):
        count = _subscription(document, 1, rows, rejects)
    else:
        count = _eks_lines(data, rows, rejects)
    return ParseResult(
        records=count, events=rows.events(origin), rejects=rejects.frame(), notes=notes
    )


def _cloudwatch_events(
    events: list, cluster: str | None, rows: AuditRows, rejects: Rejects, line: int | None = None
) -> int:
    """Add each CloudWatch event's audit Event; ``line`` numbers a subscription payload's line,
    else events are numbered by their position."""
    for i, item in enumerate(events):
        number = line if line is not None else i + 1
        if not isinstance(item, dict):
            rejects.add(f"events[{i}] is not a JSON object", repr(item), line=number)
            continue
        stream = item.get("logStreamName") or item.get("logStream")
        event, raw, problem = _inner_event(item.get("message"), f"events[{i}].message")
        if problem:
            rejects.add(f"{problem}; log stream {stream!r}", raw or repr(item), line=number)
            continue
        record = {k: v for k, v in item.items() if k != "message"}
        rows.add(event, number, raw, cluster=cluster, cloud_record=orjson.dumps(record).decode())
    return len(events)


def _subscription(payload: dict, line: int, rows: AuditRows, rejects: Rejects) -> int:
    """A CloudWatch Logs subscription payload: its log group names the cluster."""
    group = payload.get("logGroup")
    match = _EKS_GROUP.match(group) if isinstance(group, str) else None
    events = [
        dict(e, logStream=payload.get("logStream")) if isinstance(e, dict) else e
        for e in payload["logEvents"]
    ]
    return _cloudwatch_events(events, match[1] if match else None, rows, rejects, line)


def _eks_lines(data: bytes, rows: AuditRows, rejects: Rejects) -> int:
    """Export lines (``<timestamp> <message>``) and subscription payloads, one per line."""
    count = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        match = _EXPORT_LINE.match(line)
        if match is None:
            payload = first_record(line.decode("utf-8", "replace"))
            if payload is not None and isinstance(payload.get("logEvents"), list):
                count += _subscription(payload, number, rows, rejects)
                continue
            count += 1
            rejects.add(
                "not a CloudWatch export line ('<timestamp> <audit Event JSON>') nor a "
                "subscription payload",
                line,
                line=number,
            )
            continue
        count += 1
        event, raw, problem = _inner_event(match[2].decode("utf-8", "replace"), "the message")
        if problem:
            rejects.add(problem, line, line=number)
            continue
        record = {"timestamp": match[1].decode()}
        rows.add(event, number, raw, cluster=None, cloud_record=orjson.dumps(record).decode())
    return count


_ESCAPED_AUDIT = '\\"auditID\\"'
_AUDIT_STREAM = "kube-apiserver-audit-"


def _sniff_eks(head: str, name: str, tail: str = "") -> float:
    first = head.lstrip()
    if first.startswith("{"):
        # filter-log-events names each event's stream; get-log-events answers one stream's
        # events with paging tokens; a subscription payload names its group
        events = '"logStreamName"' in first or '"nextForwardToken"' in first
        wrapped = ('"events"' in first and events) or (
            '"logEvents"' in first and '"logGroup"' in first
        )
        # a log group's other streams (the authenticator's) may fill the head
        audit = any(m in first or m in tail for m in (_ESCAPED_AUDIT, _AUDIT_STREAM))
        return 0.97 if wrapped and audit else 0.0
    line = first_line(first)
    if _EXPORT_LINE.match(line.encode()) and '"auditID"' in line:
        return 0.97
    return 0.0


register(
    "eks-audit",
    "EKS audit logs from CloudWatch Logs (aws logs filter-log-events answers, subscription "
    "payloads, export-to-S3 lines)",
    _sniff_eks,
    parse_eks_audit,
    reads_tail=True,
    container_logs=False,
)


# --- AKS: Azure Monitor diagnostic records ---------------------------------------------------

_AKS_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin"})
_AKS_CATEGORY = re.compile(r'"category"\s*:\s*"kube-audit(?:-admin)?"')


def parse_aks_audit(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse AKS ``kube-audit`` / ``kube-audit-admin`` diagnostic records (one per line, or
    wrapped in ``{"records": [...]}``).

    Examples
    --------
    >>> record = orjson.dumps({"category": "kube-audit", "time": "2024-01-01T00:00:00Z",
    ...     "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/"
    ...         "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-AKS",
    ...     "properties": {"stream": "stdout", "pod": "kube-apiserver-1",
    ...         "log": '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    ...             '"auditID":"a1","stage":"ResponseComplete","verb":"delete",'
    ...             '"user":{"username":"carol"},"objectRef":{"resource":"pods",'
    ...             '"namespace":"shop","name":"web-1"},"responseStatus":{"code":200},'
    ...             '"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z"}\\n'}})
    >>> parse_aks_audit(record).events[["cluster", "verb", "pod"]].iloc[0].tolist()
    ['PROD-AKS', 'delete', 'web-1']
    """
    rejects = Rejects("aks-audit", origin)
    document = _one_document(data) if _first_byte(data) == b"{" else None
    if isinstance(document, dict):
        documents, count = [(1, document, data.strip())], 1
    else:
        documents, count = json_lines(data, rejects)
    records, count = _expand(documents, "records", count, rejects)
    rows = AuditRows(rejects)
    for number, record, raw in records:
        category = record.get("category")
        if category not in _AKS_CATEGORIES:
            rejects.add(
                f"diagnostic record of category {category!r}, not kube-audit or kube-audit-admin",
                raw,
                line=number,
            )
            continue
        properties = _dict(record.get("properties"))
        event, inner, problem = _inner_event(properties.get("log"), "properties.log")
        if problem:
            rejects.add(problem, raw, line=number)
            continue
        resource = record.get("resourceId")
        cluster = resource.rstrip("/").rsplit("/", 1)[-1] if isinstance(resource, str) else None
        envelope = dict(record, properties={k: v for k, v in properties.items() if k != "log"})
        rows.add(
            event, number, inner, cluster=cluster, cloud_record=orjson.dumps(envelope).decode()
        )
    return ParseResult(records=count, events=rows.events(origin), rejects=rejects.frame())


def _sniff_aks(head: str, name: str, tail: str = "") -> float:
    # above the Docker json-file and audit sniffers: the record holds "log", "stream" and
    # "time", and its audit Event's own fields, in its properties; records of other categories
    # (a diagnostic setting streams them together) may fill the head
    # a container that prints the records writes its own log, not the export (checked first:
    # it is the cheap test for the many CRI files a node holds)
    if container_log_head(head):
        return 0.0
    # substring tests next: they rule out most files at a fraction of the regex searches
    if '"properties"' not in head or ('"category"' not in head and '"category"' not in tail):
        return 0.0
    category = _AKS_CATEGORY.search(head) or _AKS_CATEGORY.search(tail)
    return 0.98 if category else 0.0


register(
    "aks-audit",
    "AKS audit logs: Azure Monitor kube-audit / kube-audit-admin diagnostic records (JSON lines "
    'or {"records": [...]})',
    _sniff_aks,
    parse_aks_audit,
    reads_tail=True,
    container_logs=False,
)
