"""Kubernetes API objects as ``kubectl get ... -o json`` or ``-o yaml`` writes them.

A payload is a List (``kind: List`` from kubectl, or ``PodList``/``EventList``... from the API,
whose items carry no ``kind``: it is taken from the list's kind) or a single object, in JSON or
YAML (one or many ``---`` documents). Each item is one record:

- ``Event`` (core/v1) and ``Event`` (events.k8s.io/v1) become ``events`` rows
  (``source="kubernetes"``, ``severity`` warning for ``type: Warning``, else info);
- every other object becomes an ``inventory`` row: kind, name, uid, the controlling owner,
  labels, selector, container names, created/deleted, phase, and the object itself in ``raw``.

The same functions take already-decoded objects (:func:`objects_to_frames`), which is how the
live Kubernetes client hands over what it fetched.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterable, Iterator

import orjson
import pandas as pd
import pyarrow as pa
import yaml

from obskit import schema
from obskit._time import parse_times
from obskit.errors import FormatError
from obskit.sources._base import ParseResult, Rejects, json_error, register

__all__ = ["objects_to_frames", "parse_k8s_json"]

FORMAT = "k8s-json"

_FIELD_CONTAINER = re.compile(r"spec\.(?:initContainers|containers|ephemeralContainers)\{([^}]+)\}")


class _NoTimestampLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that keeps timestamps as text, as the JSON form does."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _controller(meta: dict) -> dict:
    refs = meta.get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else {})


def _template_spec(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if "template" in spec:
        return (spec.get("template") or {}).get("spec") or {}
    return spec


def _inventory_row(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    owner = _controller(meta)
    pod_spec = _template_spec(obj) if kind != "Service" else {}
    containers = [
        c.get("name")
        for c in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])
    ]
    selector = (
        spec.get("selector")
        if kind == "Service"
        else (spec.get("selector") or {}).get("matchLabels")
        if isinstance(spec.get("selector"), dict)
        else None
    )
    row = {
        "kind": kind,
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "namespace": meta.get("namespace"),
        "owner_kind": owner.get("kind"),
        "owner_name": owner.get("name"),
        "owner_uid": owner.get("uid"),
        "labels": dict(meta.get("labels") or {}),
        "selector": dict(selector) if isinstance(selector, dict) else None,
        "containers": containers or None,
        "created": meta.get("creationTimestamp"),
        "deleted": meta.get("deletionTimestamp"),
        "phase": status.get("phase"),
        "status_reason": status.get("reason"),
        "raw": obj,
    }
    if kind == "Pod":
        row["pod"] = meta.get("name")
        row["node"] = spec.get("nodeName")
        statuses = (status.get("containerStatuses") or []) + (
            status.get("initContainerStatuses") or []
        )
        row["restarts"] = sum(int(s.get("restartCount") or 0) for s in statuses)
    elif kind == "Namespace":
        row["namespace"] = meta.get("name")
    elif kind == "Node":
        row["node"] = meta.get("name")
        row["namespace"] = None
    return row


def _event_row(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    new_api = str(obj.get("apiVersion", "")).startswith("events.k8s.io")
    target = (
        obj.get("regarding" if new_api else "involvedObject") or obj.get("involvedObject") or {}
    )
    series = obj.get("series") or {}
    source = obj.get("source") or {}
    if new_api:
        first = obj.get("deprecatedFirstTimestamp") or obj.get("eventTime")
        last = series.get("lastObservedTime") or obj.get("deprecatedLastTimestamp") or first
        count = series.get("count") or obj.get("deprecatedCount") or 1
        message = obj.get("note")
        component = obj.get("reportingController") or (obj.get("deprecatedSource") or {}).get(
            "component"
        )
        host = obj.get("reportingInstance") or (obj.get("deprecatedSource") or {}).get("host")
    else:
        first = obj.get("firstTimestamp") or obj.get("eventTime")
        last = obj.get("lastTimestamp") or series.get("lastObservedTime") or first
        count = obj.get("count") or series.get("count") or 1
        message = obj.get("message")
        component = source.get("component") or obj.get("reportingComponent")
        host = source.get("host") or obj.get("reportingInstance")
    last = last or meta.get("creationTimestamp")
    kind = target.get("kind")
    name = target.get("name")
    container = None
    field_path = target.get("fieldPath") or ""
    m = _FIELD_CONTAINER.search(field_path)
    if m:
        container = m.group(1)
    node = name if kind == "Node" else (host if component == "kubelet" and host else None)
    return {
        "timestamp": last,
        "first_timestamp": first or last,
        "source": "kubernetes",
        "severity": "warning" if obj.get("type") == "Warning" else "info",
        "reason": obj.get("reason"),
        "message": message,
        "object_kind": kind,
        "object_name": name,
        # a Node's events are filed in "default", but a node belongs to no namespace
        "namespace": None if kind == "Node" else target.get("namespace") or meta.get("namespace"),
        "pod": name if kind == "Pod" else None,
        "container": container,
        "node": node,
        "count": count,
        "uid": meta.get("uid"),
        "event_type": obj.get("type"),
        "component": component,
        "reporting_host": host,
        "object_uid": target.get("uid"),
        "raw": orjson.dumps(obj).decode(),
        "key_source": "record",
    }


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a List decodes: it would rescan every new dict many times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_TEXT_COLUMNS = ("message", "object_name", "uid", "raw")


def _arrow_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns straight to ``string[pyarrow]`` (one Arrow conversion, no per-row checks)."""
    for column in _TEXT_COLUMNS:
        if column in frame.columns and frame[column].dtype == object:
            try:
                arr = pa.array(frame[column].to_numpy(), type=pa.large_string(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                continue  # not all text: conform says which value is wrong
            frame[column] = pd.Series(
                arr.to_pandas(types_mapper=lambda _: schema.STRING), index=frame.index
            )
    return frame


def _items(doc: object) -> tuple[list[tuple[int, object]], str | None]:
    """The records of one decoded document: ``[(index, item)]`` and the list's item kind."""
    if not isinstance(doc, dict):
        return [(0, doc)], None
    kind = str(doc.get("kind") or "")
    if "items" in doc and (kind == "List" or kind.endswith("List") or not kind):
        item_kind = kind[:-4] if kind.endswith("List") and kind != "List" else None
        items = doc.get("items") or []
        return list(enumerate(items)), item_kind
    return [(0, doc)], None


def objects_to_frames(
    docs: Iterable[object], origin: str = "<objects>", *, fmt: str = FORMAT
) -> ParseResult:
    """Turn decoded Kubernetes objects or Lists into inventory and events frames.

    Examples
    --------
    >>> pod = {"apiVersion": "v1", "kind": "Pod",
    ...        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
    ...                     "creationTimestamp": "2024-01-01T00:00:00Z",
    ...                     "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d8f",
    ...                                          "uid": "u2", "controller": True}]},
    ...        "spec": {"nodeName": "node-1", "containers": [{"name": "web"}]},
    ...        "status": {"phase": "Running"}}
    >>> r = objects_to_frames([pod])
    >>> r.inventory[["kind", "name", "node", "owner_kind", "owner_name"]].values.tolist()
    [['Pod', 'web-1', 'node-1', 'ReplicaSet', 'web-5d8f']]
    """
    rejects = Rejects(fmt, origin)
    inventory, events = [], []
    records = 0
    for doc_index, doc in enumerate(docs):
        if doc is None:
            continue
        items, item_kind = _items(doc)
        for index, item in items:
            records += 1
            where = f"items[{index}]" if len(items) > 1 or item_kind else f"document {doc_index}"
            if not isinstance(item, dict):
                rejects.add(f"{where}: not a Kubernetes object", repr(item))
                continue
            if item_kind and not item.get("kind"):
                item = {**item, "kind": item_kind}
            meta = item.get("metadata")
            if not item.get("kind") or not isinstance(meta, dict) or not meta.get("name"):
                rejects.add(
                    f"{where}: not a Kubernetes object (needs kind and metadata.name)",
                    orjson.dumps(item).decode(),
                )
                continue
            if item["kind"] == "Event":
                events.append(_event_row(item))
            else:
                inventory.append(_inventory_row(item))
    result = ParseResult(records=records, rejects=rejects.frame())
    if inventory:
        frame = pd.DataFrame(inventory)
        for column in ("created", "deleted"):
            frame[column] = parse_times(frame[column]).array
        frame["key_source"] = "record"
        result.inventory = schema.conform("inventory", frame, origin=origin)
    if events:
        # columns as object arrays: pandas would infer (and convert) every text column itself
        frame = _arrow_text(
            pd.DataFrame(
                {k: pd.Series([row[k] for row in events], dtype=object) for k in events[0]}
            )
        )
        frame["timestamp"] = parse_times(frame["timestamp"]).array
        frame["first_timestamp"] = parse_times(frame["first_timestamp"]).array
        bad = frame["timestamp"].isna()
        for raw in frame.loc[bad, "raw"]:
            rejects.add("event has no readable lastTimestamp, eventTime or series time", raw)
        if bad.any():
            frame = frame.loc[~bad]
            result.rejects = rejects.frame()
        result.events = schema.conform("events", frame, origin=origin)
    return result


def parse_k8s_json(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse ``kubectl get -o json`` or ``-o yaml`` output (a List or single objects).

    A payload that is not valid JSON or YAML at all is one reject (its items cannot be
    counted); re-export it with ``kubectl get ... -o json``.

    Examples
    --------
    >>> r = parse_k8s_json(b'{"apiVersion": "v1", "kind": "List", "items": []}')
    >>> (r.records, r.rows)
    (0, 0)
    """
    text_start = data.lstrip()[:1]
    try:
        if text_start in (b"{", b"["):
            try:
                with _gc_paused():
                    docs: list[object] = [orjson.loads(data)]
            except orjson.JSONDecodeError as exc:
                raise FormatError(f"not valid JSON: {json_error(exc, data)}") from exc
        else:
            try:
                docs = list(yaml.load_all(data.decode("utf-8"), Loader=_NoTimestampLoader))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise FormatError(f"not valid YAML: {str(exc).splitlines()[0]}") from exc
    except FormatError as exc:
        rejects = Rejects(FORMAT, origin)
        rejects.add(f"{exc}; re-export with kubectl get ... -o json", data)
        return ParseResult(records=1, rejects=rejects.frame())
    if len(docs) == 1 and isinstance(docs[0], list):
        docs = docs[0]
    return objects_to_frames(docs, origin)


_KINDS = (
    "List|Pod|Node|Namespace|Deployment|ReplicaSet|StatefulSet|DaemonSet|Job|CronJob|Service|"
    "EndpointSlice|Endpoints|Event|ConfigMap|ServiceAccount|ReplicationController|"
    "PersistentVolumeClaim|PersistentVolume|Ingress|Role|RoleBinding|ClusterRole|"
    "ClusterRoleBinding|NetworkPolicy|Secret|HorizontalPodAutoscaler"
)
_JSON_KIND = re.compile(rf'"kind"\s*:\s*"(?:{_KINDS}|\w+List)"')
_YAML_KIND = re.compile(rf"^kind: (?:{_KINDS}|\w+List)\s*$", re.M)


def _sniff(head: str, name: str) -> float:
    first = head.lstrip()
    if first.startswith("{"):
        if '"auditID"' in first[:4096]:
            return 0.0
        if _JSON_KIND.search(first) and '"apiVersion"' in first:
            return 0.85
        return 0.0
    if _YAML_KIND.search(first) and re.search(r"^apiVersion: ", first, re.M):
        return 0.85
    return 0.0


register(
    FORMAT,
    "Kubernetes objects and Events from kubectl get -o json / -o yaml (List or single object)",
    _sniff,
    parse_k8s_json,
)
