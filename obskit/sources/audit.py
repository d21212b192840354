"""Kubernetes API-server audit logs: ``audit.k8s.io/v1`` and ``v1beta1`` ``Event`` records.

Reads what the log backend writes (one ``Event`` JSON object per line) and what the webhook
backend sends (an ``EventList`` object with ``items``, pretty-printed or one per line). Each
audit record becomes one ``events`` row with ``source="audit"``; nothing is merged, so the
ledger balances record for record.

Columns
-------
timestamp
    ``requestReceivedTimestamp``: when the request happened, the same for every stage of one
    request (v1beta1's ``timestamp`` and then ``stageTimestamp`` stand in when it is missing).
    ``stage_timestamp`` keeps ``stageTimestamp``.
severity
    ``error`` for 5xx responses and the ``Panic`` stage; ``warning`` for 401/403 responses and
    ``forbid`` authorization decisions; ``notice`` for writes (``create``, ``update``,
    ``patch``, ``delete``, ``deletecollection``) and for ``exec``/``attach``/``portforward``
    whatever the verb; ``info`` for everything else (reads, watches, non-resource URLs).
reason, message
    ``"<verb> <resource>[/<subresource>]"`` (``"<verb> <path>"`` for non-resource URLs) and a
    one-line summary such as ``"alice create pods/exec default/web-1 → 101"``.
key
    ``namespace`` from ``objectRef.namespace`` (a ``namespaces`` object is its own namespace);
    ``pod`` is the object name when the resource is ``pods`` (subresources included) and
    ``container`` the ``container=`` query parameter of ``exec``/``attach``/``log`` requests;
    ``node`` is the object name when the resource is ``nodes``. The rest is left to enrichment.
final_stage
    One record per request is final: its latest stage in the payload (``ResponseComplete`` or
    ``Panic`` when present, else ``ResponseStarted``, else ``RequestReceived``), so
    ``events[events.final_stage]`` counts each request once. :func:`final_stages` recomputes it
    after frames from several files are concatenated.

Other columns: ``verb``, ``user``, ``user_groups``, ``impersonated_user``, ``source_ip``
(the first of ``source_ips``), ``user_agent``, ``response_code``, ``uid`` (the ``auditID``),
``stage``, ``audit_level``, ``audit_version``, ``resource``, ``subresource``, ``api_group``,
``request_uri``, ``decision`` and ``authz_reason`` (the ``authorization.k8s.io/*``
annotations) and ``raw`` (the record as read).
"""

from __future__ import annotations

import lzma
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_plus, urlsplit

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import (
    ParseResult,
    Rejects,
    compression,
    first_record,
    json_lines,
    register,
    stream_lines,
)

__all__ = [
    "RESOURCE_KINDS",
    "STAGES",
    "AuditRows",
    "final_stages",
    "parse_audit_log",
    "read_audit_window",
]

FORMAT = "audit-log"

#: Audit stages in the order a request goes through them (``Panic`` ends a request too).
STAGES: tuple[str, ...] = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
_STAGE_RANK = {stage: rank for rank, stage in enumerate(STAGES)}
_STAGE_RANK["Panic"] = _STAGE_RANK["ResponseComplete"]

#: Resource (plural, lower case) -> Kind for the built-in resources an investigation meets most;
#: any other resource is reported as its resource name.
RESOURCE_KINDS: dict[str, str] = {
    "pods": "Pod",
    "nodes": "Node",
    "namespaces": "Namespace",
    "services": "Service",
    "endpoints": "Endpoints",
    "endpointslices": "EndpointSlice",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "serviceaccounts": "ServiceAccount",
    "persistentvolumes": "PersistentVolume",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "events": "Event",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "ingresses": "Ingress",
    "networkpolicies": "NetworkPolicy",
    "roles": "Role",
    "rolebindings": "RoleBinding",
    "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding",
    "customresourcedefinitions": "CustomResourceDefinition",
    "leases": "Lease",
    "tokenreviews": "TokenReview",
    "subjectaccessreviews": "SubjectAccessReview",
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "certificatesigningrequests": "CertificateSigningRequest",
}

_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# Subresources that open a session into a container: noteworthy whatever the verb (since
# Kubernetes 1.30 kubectl's WebSocket exec arrives as "get").
_SESSION_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
_CONTAINER_SUBRESOURCES = frozenset({"exec", "attach", "log"})
# API groups of the built-in resources: only there does "pods" mean Pod (metrics.k8s.io has
# "pods" too, for PodMetrics).
_BUILTIN_GROUPS = frozenset(
    {
        "apps",
        "batch",
        "extensions",
        "policy",
        "autoscaling",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "storage.k8s.io",
        "coordination.k8s.io",
        "certificates.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "apiextensions.k8s.io",
    }
)
_LEADING_SPACE = re.compile(rb"\s*")
_CONTAINER_PARAM = re.compile(r"[?&]container=([^&#]*)")
_DECISION = "authorization.k8s.io/decision"
_AUTHZ_REASON = "authorization.k8s.io/reason"

_CATEGORY_EXTRAS = (
    "user_groups",
    "impersonated_user",
    "source_ips",
    "stage",
    "audit_level",
    "audit_version",
    "resource",
    "subresource",
    "api_group",
    "decision",
)
_STRING_EXTRAS = ("request_uri", "authz_reason", "cloud_record")


def _text(value: object) -> str | None:
    """A non-empty string, or None."""
    return value if isinstance(value, str) and value else None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _object_name(event: dict, ref: dict) -> str | None:
    """``objectRef.name``, else the name in the logged response or request object (a create)."""
    name = _text(ref.get("name"))
    if name:
        return name
    for body in ("responseObject", "requestObject"):
        meta = _dict(_dict(event.get(body)).get("metadata"))
        if _text(meta.get("name")) and _text(_dict(event.get(body)).get("kind")) != "Status":
            return meta["name"]
    return None


def _container_param(uri: str | None) -> str | None:
    """The first ``container=`` query parameter of a request URI."""
    match = _CONTAINER_PARAM.search(uri) if uri else None
    return unquote_plus(match[1]) if match and match[1] else None


def _severity(
    verb: str | None,
    subresource: str | None,
    code: int | None,
    stage: str | None,
    decision: str | None,
) -> str:
    """The severity rule of the module docstring."""
    if stage == "Panic" or (code is not None and code >= 500):
        return "error"
    if code in (401, 403) or decision == "forbid":
        return "warning"
    if verb in _WRITE_VERBS or subresource in _SESSION_SUBRESOURCES:
        return "notice"
    return "info"


def _keys(
    event: dict, ref: dict
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """An Event's object name and the key values its row takes from the record: namespace
    (a namespace object's own name), pod, node and container (of a pod's exec, attach or log
    request)."""
    name = _object_name(event, ref) if ref else None
    namespace = _text(ref.get("namespace"))
    resource = _text(ref.get("resource"))
    core = _text(ref.get("apiGroup")) is None
    if resource == "namespaces" and core and namespace is None:
        namespace = name
    pod = name if resource == "pods" and core else None
    node = name if resource == "nodes" and core else None
    uri = _text(event.get("requestURI"))
    subresource = _text(ref.get("subresource"))
    container = _container_param(uri) if pod and subresource in _CONTAINER_SUBRESOURCES else None
    return name, namespace, pod, node, container


#: The key columns an audit row takes from its record alone, which enrichment never changes:
#: a ``where`` on them can leave a record out before its row is built.
RECORD_KEYS = ("namespace", "pod", "node", "container")


def _other_keys(event: dict, where: Mapping[str, Sequence[str]]) -> bool:
    """Whether the row of ``event`` holds, in a column of :data:`RECORD_KEYS` that ``where``
    names, a value ``where`` does not list (a missing value may still be filled, so it is
    kept)."""
    _, namespace, pod, node, container = _keys(event, _dict(event.get("objectRef")))
    values = {"namespace": namespace, "pod": pod, "node": node, "container": container}
    return any(
        values[column] is not None and values[column] not in where[column]
        for column in RECORD_KEYS
        if column in where
    )


def _row(event: dict, number: int, raw: bytes) -> dict[str, object]:
    """One events row from one audit Event."""
    ref = _dict(event.get("objectRef"))
    user = _dict(event.get("user"))
    impersonated = _dict(event.get("impersonatedUser"))
    status = _dict(event.get("responseStatus"))
    annotations = _dict(event.get("annotations"))
    ips = [ip for ip in _list(event.get("sourceIPs")) if isinstance(ip, str)]
    groups = [g for g in _list(user.get("groups")) if isinstance(g, str)]

    verb = _text(event.get("verb"))
    uri = _text(event.get("requestURI"))
    resource = _text(ref.get("resource"))
    subresource = _text(ref.get("subresource"))
    api_group = _text(ref.get("apiGroup"))
    code = status.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    stage = _text(event.get("stage"))
    decision = _text(annotations.get(_DECISION))
    username = _text(user.get("username"))
    as_user = _text(impersonated.get("username"))

    name, namespace, pod, node, container = _keys(event, ref)
    core = api_group is None

    if resource:
        target = f"{resource}/{subresource}" if subresource else resource
        builtin = core or api_group in _BUILTIN_GROUPS
        kind = RESOURCE_KINDS.get(resource, resource) if builtin else resource
    else:  # a non-resource URL such as /healthz or /version
        target = urlsplit(uri).path if uri else None
        kind = None
    reason = f"{verb or '?'} {target}" if target else verb
    # "ns/name"; a namespace object is named once, not as "foo/foo".
    scope = namespace if resource != "namespaces" else None
    where = f"{scope}/{name}" if scope and name else (name or scope)
    who = f"{username or '?'} as {as_user}" if as_user else (username or "?")
    message = " ".join(part for part in (who, reason, where) if part)
    if code is not None:
        message += f" → {code}"
        if _text(status.get("reason")):
            message += f" {status['reason']}"

    return {
        "source": "audit",
        "severity": _severity(verb, subresource, code, stage, decision),
        "reason": reason,
        "message": message,
        "object_kind": kind,
        "object_name": name,
        "namespace": namespace,
        "node": node,
        "pod": pod,
        "container": container,
        "count": 1,
        "user": username,
        "verb": verb,
        "source_ip": ips[0] if ips else None,
        "user_agent": _text(event.get("userAgent")),
        "response_code": code,
        "uid": _text(event.get("auditID")),
        "key_source": "record",
        "line": number,
        "raw": raw.decode("utf-8", "replace"),
        "stage_timestamp": event.get("stageTimestamp"),
        "user_groups": ",".join(groups) or None,
        "impersonated_user": as_user,
        "source_ips": ",".join(ips) or None,
        "stage": stage,
        "audit_level": _text(event.get("level")),
        "audit_version": _text(event.get("apiVersion")),
        "resource": resource,
        "subresource": subresource,
        "api_group": api_group,
        "request_uri": uri,
        "decision": decision,
        "authz_reason": _text(annotations.get(_AUTHZ_REASON)),
    }


def _when(event: dict) -> str | None:
    """The text of a record's row time: ``requestReceivedTimestamp``, else v1beta1's
    ``timestamp``, else ``stageTimestamp``."""
    return next(
        (
            event[field]
            for field in ("requestReceivedTimestamp", "timestamp", "stageTimestamp")
            if _text(event.get(field))
        ),
        None,
    )


def _not_an_event(value: dict) -> str | None:
    """Why a JSON object is not an audit Event, or None when it is one."""
    kind = value.get("kind")
    if kind is not None and kind != "Event":
        return f"not an audit Event: kind is {kind!r}, expected 'Event' (or an 'EventList')"
    if not _text(value.get("auditID")):
        return "not an audit Event: no 'auditID' field"
    if not _text(value.get("stage")):
        return "not an audit Event: no 'stage' field"
    return None


def _documents(data: bytes, rejects: Rejects) -> tuple[list[tuple[int, object, bytes]], int]:
    """The payload as ``(line, object, raw)`` records: one JSON document (a pretty-printed
    EventList, say) or JSON lines."""
    start = _LEADING_SPACE.match(data).end()
    if data[start : start + 1] == b"{":
        try:
            document = orjson.loads(data)  # fails fast on JSON lines: trailing data
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            return [(data.count(b"\n", 0, start) + 1, document, data.strip())], 1
    return json_lines(data, rejects)


def parse_audit_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse Kubernetes audit ``Event`` records (JSON lines or an ``EventList``) into events.

    Every record is one row, whatever its stage; ``final_stage`` marks one row per request.
    Records that are not JSON objects, are not audit Events (no ``auditID``, another
    ``kind``) or carry no readable timestamp go to the rejects with their line number.

    Parameters
    ----------
    data
        The audit log bytes (already decompressed).
    origin
        Where the bytes came from, for provenance and rejects.

    Returns
    -------
    ParseResult
        ``events`` (``source="audit"``) and ``rejects``; ``records`` counts audit records
        (an ``EventList`` counts its items).

    Examples
    --------
    >>> line = (b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    ...         b'"auditID":"a1","stage":"ResponseComplete","requestURI":'
    ...         b'"/api/v1/namespaces/shop/pods/web-1/exec?command=sh&container=app",'
    ...         b'"verb":"create","user":{"username":"alice"},"sourceIPs":["10.0.0.7"],'
    ...         b'"objectRef":{"resource":"pods","namespace":"shop","name":"web-1",'
    ...         b'"apiVersion":"v1","subresource":"exec"},"responseStatus":{"code":101},'
    ...         b'"requestReceivedTimestamp":"2024-01-01T00:00:00.000001Z",'
    ...         b'"stageTimestamp":"2024-01-01T00:00:00.020000Z"}')
    >>> ev = parse_audit_log(line).events
    >>> ev[["severity", "reason", "namespace", "pod", "container"]].iloc[0].tolist()
    ['notice', 'create pods/exec', 'shop', 'web-1', 'app']
    >>> ev.message[0]
    'alice create pods/exec shop/web-1 → 101'
    """
    return _parse(data, origin)[0]


def _parse(
    data: bytes,
    origin: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
) -> tuple[ParseResult, int, int]:
    """:func:`parse_audit_log`, leaving out (unbuilt) the Events whose row time is readable
    and outside ``[start, end]``, and those inside whose row would hold, in a column of
    :data:`RECORD_KEYS`, a value ``where`` does not list; returns the result and how many
    were left out by the window and by ``where`` (not counted in its ``records``)."""
    rejects = Rejects(FORMAT, origin)
    documents, count = _documents(data, rejects)
    by_window = by_key = 0
    keyed = {column: where[column] for column in RECORD_KEYS if where and column in where}
    if start is not None or end is not None or keyed:
        documents, by_window, by_key = _inside(documents, start, end, keyed)
        count -= by_window + by_key
    rows = AuditRows(rejects)
    for number, value, raw in documents:
        if not isinstance(value, dict):
            rejects.add(f"expected a JSON object, got {type(value).__name__}", raw, line=number)
        elif value.get("kind") == "EventList" or (
            "auditID" not in value and isinstance(value.get("items"), list)
        ):
            items = value.get("items")
            if not isinstance(items, list):
                rejects.add("EventList without an 'items' list", raw, line=number)
                continue
            count += len(items) - 1  # the list is not a record; its items are
            for i, item in enumerate(items):
                item_raw = orjson.dumps(item)
                if isinstance(item, dict):
                    rows.add(item, number, item_raw)
                else:
                    rejects.add(f"EventList item {i} is not a JSON object", item_raw, line=number)
        else:
            rows.add(value, number, raw)
    result = ParseResult(records=count, events=rows.events(origin), rejects=rejects.frame())
    return result, by_window, by_key


def _inside(
    documents: list[tuple[int, object, bytes]],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    where: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[tuple[int, object, bytes]], int, int]:
    """The records that may make rows of ``[start, end]`` holding the ``where`` values: all
    but the audit Events whose row time (read as :class:`AuditRows` reads it) lies outside,
    or lies inside while their row would hold another value of a key column :data:`RECORD_KEYS`
    (see :func:`_other_keys`); and how many were left out for each reason. Records that would
    be rejected (no Event, no readable time) are kept, for the parser to say why."""
    at, whens = [], []
    for k, (_, value, _) in enumerate(documents):
        if isinstance(value, dict) and _not_an_event(value) is None:
            when = _when(value)
            if when is not None:
                at.append(k)
                whens.append(when)
    if not at:
        return documents, 0, 0
    times = parse_times(pd.Series(whens, dtype="object"))
    outside = np.zeros(len(times), dtype=bool)
    if start is not None:
        outside |= (times < start).to_numpy()
    if end is not None:
        outside |= (times > end).to_numpy()
    other = np.zeros(len(times), dtype=bool)
    if where:
        readable = times.notna().to_numpy()
        for n, k in enumerate(at):
            if readable[n] and not outside[n]:
                other[n] = _other_keys(documents[k][1], where)
    drop = set(np.asarray(at)[outside | other].tolist())
    kept = [d for k, d in enumerate(documents) if k not in drop]
    return kept, int(outside.sum()), int(other.sum())


class AuditRows:
    """Audit Events made into ``events`` rows one record at a time: the Kubernetes audit log's
    reader and the managed clouds' (whose records wrap or rebuild the same Events) share it.

    A record that is no audit Event, or has no readable time, goes to ``rejects`` with its
    line (or record) number and the reason.
    """

    def __init__(self, rejects: Rejects) -> None:
        self.rejects = rejects
        self._rows: list[dict[str, object]] = []
        self._times: list[object] = []

    def add(self, event: dict, number: int, raw: bytes, **extra: object) -> bool:
        """Add the row for one audit Event (``extra``: more columns, such as ``cluster``), or
        reject it saying why; True when it became a row."""
        problem = _not_an_event(event)
        if problem:
            self.rejects.add(problem, raw, line=number)
            return False
        when = _when(event)
        if when is None:
            self.rejects.add("audit Event has no requestReceivedTimestamp", raw, line=number)
            return False
        self._rows.append(_row(event, number, raw) | extra)
        self._times.append(when)
        return True

    def events(self, origin: str) -> pd.DataFrame:
        """The rows as an ``events`` frame (rows with unreadable times become rejects)."""
        frame = pd.DataFrame(self._rows)
        times = self._times
        if self._rows:
            frame["timestamp"] = parse_times(pd.Series(times, dtype="object")).array
            bad = frame["timestamp"].isna()
            for i in frame.index[bad]:
                self.rejects.add(
                    f"unreadable requestReceivedTimestamp {times[i]!r}",
                    frame.at[i, "raw"],
                    line=int(frame.at[i, "line"]),
                )
            frame = frame[~bad].reset_index(drop=True)
            frame["stage_timestamp"] = parse_times(frame["stage_timestamp"].astype("object"))
            frame["final_stage"] = final_stages(frame)
            for column in _CATEGORY_EXTRAS:
                frame[column] = frame[column].astype("category")
            for column in _STRING_EXTRAS:
                if column in frame.columns:
                    frame[column] = frame[column].astype(schema.STRING)
        return schema.conform("events", frame, origin=origin)


def final_stages(events: pd.DataFrame) -> pd.Series:
    """Mark the one row per request (``uid`` = auditID) that is its latest stage.

    ``ResponseComplete`` and ``Panic`` beat ``ResponseStarted``, which beats
    ``RequestReceived``; among equal stages (a record logged twice) the last row wins. Rows
    without a ``uid`` are each final.

    Parameters
    ----------
    events
        Audit rows with ``uid`` and ``stage`` columns, e.g. several files' frames concatenated.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``events``.

    Examples
    --------
    >>> df = pd.DataFrame({"uid": ["a", "a", "b"],
    ...                    "stage": ["RequestReceived", "ResponseComplete", "ResponseStarted"]})
    >>> final_stages(df).tolist()
    [False, True, True]
    """
    if events.empty:
        return pd.Series([], index=events.index, dtype="bool")
    rank = events["stage"].astype("object").map(_STAGE_RANK).fillna(-1).astype("int64")
    order = pd.DataFrame(
        {"uid": events["uid"].astype("object"), "rank": rank.to_numpy()}, index=events.index
    )
    order["position"] = range(len(order))
    ranked = order.sort_values(["rank", "position"], kind="stable")
    last = ~ranked.duplicated("uid", keep="last") | ranked["uid"].isna()
    return last.reindex(events.index).astype("bool")


def _sniff(head: str, name: str) -> float:
    record = first_record(head)
    if record is not None:  # JSON lines: the first record's own fields, wherever they fall
        if not _text(record.get("auditID")):
            return 0.0
        version = record.get("apiVersion")
        if record.get("kind") == "Event" or (
            isinstance(version, str) and "audit.k8s.io/" in version
        ):
            return 0.97
        return 0.8 if "stage" in record and "requestURI" in record else 0.0
    first = head.lstrip()[:8192]  # one document (an EventList), or a first line cut short
    if first[:1] not in ("{", "[") or '"auditID"' not in first:
        return 0.0
    compact = first.replace(" ", "")
    if '"kind":"Event"' in compact or "audit.k8s.io/" in compact:
        return 0.97
    return 0.8 if '"stage"' in first and '"requestURI"' in first else 0.0


# --- reading a window of a large audit log ---------------------------------------------------

#: Bytes of a large audit log read and parsed at a time by :func:`read_audit_window` (each
#: line of a piece is decoded, a few times its size in memory, before rows are built).
WINDOW_PIECE_BYTES = 16 << 20
#: How far a line's stage time may fall behind the line before it: the log backend writes each
#: stage as it happens, give or take its buffering. Lines are read from this long before the
#: window's start.
ORDER_SLACK = pd.Timedelta(minutes=1)
#: How long after the window's end lines are still read: a request received in the window
#: logs its later stages when it ends, and the API server ends long requests (watches) within
#: twice ``--min-request-timeout`` (1800 s by default).
LONGEST_REQUEST = pd.Timedelta(hours=1)
#: Bytes read at a probe of the bisection, and lines tried there for a readable time.
_PROBE_BYTES = 1 << 20
_PROBE_LINES = 64


def read_audit_window(
    path: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    where: Mapping[str, Sequence[str]] | None = None,
) -> tuple[ParseResult, str]:
    """Read the audit Events of ``[start, end]`` (by row time, ``requestReceivedTimestamp``)
    from a JSON-lines audit log, a piece at a time: memory holds one piece and the rows kept.

    The log is written in the order of its stages' times (``stageTimestamp``), and a request's
    stages come at or after its ``requestReceivedTimestamp``. An uncompressed log is bisected
    on byte offsets (the stage time of the line at each probe) for the first line written
    :data:`ORDER_SLACK` before ``start``; a compressed one cannot seek, so it is streamed and
    the pieces that end before then are passed over unparsed. The lines before are counted
    (for the line numbers) but not parsed. Reading stops at the first piece that begins
    :data:`LONGEST_REQUEST` after ``end``. In the pieces read, records whose row time is
    outside the window are left out before their rows are built, and so are those whose row
    would hold a namespace, pod, node or container that ``where`` (key column -> the values
    kept) does not list; rows without such a value are kept, for the load's own ``where``
    filter to decide after enrichment (a cluster-scoped object has no namespace, for one).

    Returns the result and a note saying what was passed over and left out. The result's
    ``records`` count the rows kept and the rejects (the ledger balances over what was
    taken); the records left out are counted in the note.
    """
    size = os.path.getsize(path)
    after = None if end is None else end + LONGEST_REQUEST
    with open(path, "rb") as fh:
        plain = compression(fh.read(8)) is None
    offset = lines = 0
    if plain and start is not None:
        offset = _first_offset(path, size, start - ORDER_SLACK)
        lines = _count_lines(path, offset)
    passed, read, left_out, other_keys, stopped = offset, 0, 0, 0, False
    parsed: list[ParseResult] = []
    pieces = stream_lines(path, WINDOW_PIECE_BYTES, offset)
    note = None
    try:
        for piece in pieces:
            first, last = _stage_time(piece, first=True), _stage_time(piece, first=False)
            if start is not None and last is not None and last < start - ORDER_SLACK:
                lines += piece.count(b"\n")
                passed += len(piece)
                continue
            if after is not None and first is not None and first > after:
                stopped = True
                break
            result, dropped, other = _parse(piece, path, start, end, where)
            parsed.append(_shifted(result, lines))
            left_out += dropped
            other_keys += other
            lines += piece.count(b"\n")
            read += len(piece)
    except (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as exc:
        note = f"the compressed stream is truncated or corrupt ({exc}); read what came before"
    events = schema.concat("events", [r.events for r in parsed if r.events is not None])
    rejects = schema.concat("rejects", [r.rejects for r in parsed])
    rest = (
        f"{size - passed - read:,} bytes after it not read"
        if plain
        else "the rest of the file not read"
        if stopped
        else "none after it"
    )
    text = (
        f"read for the window: {read:,} bytes parsed, {passed:,} bytes"
        f"{'' if plain else ' (decompressed)'} before it passed over unparsed, {rest}; "
        f"{left_out:,} record(s) read outside the window left out"
    )
    if where:
        text += f"; {other_keys:,} record(s) of other key values (where) left out"
    records = sum(r.records for r in parsed)
    result = ParseResult(records=records, events=events, rejects=rejects)
    if note is not None:
        result.notes.append(note)
    return result, text


def _shifted(result: ParseResult, lines: int) -> ParseResult:
    """``result`` with its line numbers ``lines`` further on (a piece after others)."""
    if lines:
        if result.events is not None and len(result.events):
            result.events = result.events.assign(line=result.events["line"] + lines)
        result.rejects = result.rejects.assign(line=result.rejects["line"] + lines)
    return result


def _line_stage_time(line: bytes) -> pd.Timestamp | None:
    """The time a line of an audit log was written: its ``stageTimestamp`` (else its row
    time); None for a line that is no audit Event with a readable time."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    when = _text(value.get("stageTimestamp")) or _when(value)
    try:
        stamp = pd.Timestamp(when)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _stage_time(piece: bytes, *, first: bool) -> pd.Timestamp | None:
    """The stage time of the first (or last) line of ``piece`` that has one, among its first
    (last) :data:`_PROBE_LINES` lines."""
    lines = piece.split(b"\n", _PROBE_LINES) if first else piece.rsplit(b"\n", _PROBE_LINES)
    for line in lines[:_PROBE_LINES] if first else lines[::-1][:_PROBE_LINES]:
        if line.strip() and (stamp := _line_stage_time(line)) is not None:
            return stamp
    return None


def _first_offset(path: str, size: int, when: pd.Timestamp) -> int:
    """A line start of the (uncompressed) audit log at or before its first line written at
    or after ``when``, found by bisection on byte offsets: each probe reads the stage time of
    the first whole line after it (or the next with one). A probe that finds no time moves
    the bound down, so nothing is passed over that was not seen to be early."""
    lo, hi = 0, size  # lo: a line start, all lines before it seen (by order) to be early
    with open(path, "rb") as fh:
        while hi - lo > _PROBE_BYTES:
            mid = (lo + hi) // 2
            fh.seek(mid)
            data = fh.read(_PROBE_BYTES)
            begin = data.find(b"\n") + 1
            if begin == 0:
                hi = mid
                continue
            stamp = _stage_time(data[begin : data.rfind(b"\n") + 1 or None], first=True)
            if stamp is None or stamp >= when:
                hi = mid
            else:
                lo = mid + begin
    return lo


def _count_lines(path: str, end: int) -> int:
    """Newlines in the first ``end`` bytes of ``path``, read in pieces."""
    count = 0
    with open(path, "rb") as fh:
        while end > 0:
            chunk = fh.read(min(end, WINDOW_PIECE_BYTES))
            if not chunk:
                break
            count += chunk.count(b"\n")
            end -= len(chunk)
    return count


register(
    FORMAT,
    "Kubernetes API-server audit log (audit.k8s.io/v1 or v1beta1 Events, JSON lines or an "
    "EventList)",
    _sniff,
    parse_audit_log,
    ceiling=0.97,
    container_logs=False,
)
