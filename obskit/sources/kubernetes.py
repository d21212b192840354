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

import re
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import yaml

try:  # typed decoding of JSON Lists: no dict per item (optional; without it, orjson reads all)
    import msgspec
except ImportError:  # pragma: no cover - exercised by the fallback test
    msgspec = None

from obskit import schema
from obskit._time import parse_times
from obskit.errors import FormatError
from obskit.sources._base import (
    ParseResult,
    Rejects,
    gc_paused,
    json_error,
    large_buffer_pool,
    register,
    utf8_or_replaced,
)
from obskit.sources._yaml import NoTimestampLoader, alias_bomb, has_anchors

__all__ = ["objects_to_frames", "parse_k8s_json"]

FORMAT = "k8s-json"

_FIELD_CONTAINER_NAMED = (
    r"spec\.(?:initContainers|containers|ephemeralContainers)\{(?P<container>[^}]+)\}"
)
_FIELD_CONTAINER = re.compile(_FIELD_CONTAINER_NAMED)


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


def _event_row(obj: dict) -> tuple:
    """An Event's values in :data:`_EVENT_COLUMNS` order."""
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
    node = name if kind == "Node" else (host if component == "kubelet" and host else None)
    return (
        last,
        first or last,
        "warning" if obj.get("type") == "Warning" else "info",
        obj.get("reason"),
        message,
        kind,
        name,
        # a Node's events are filed in "default", but a node belongs to no namespace
        None if kind == "Node" else target.get("namespace") or meta.get("namespace"),
        name if kind == "Pod" else None,
        target.get("fieldPath") or "",  # the container is read off it for all rows at once
        node,
        count,
        meta.get("uid"),
        obj.get("type"),
        component,
        host,
        target.get("uid"),
        orjson.dumps(obj).decode(),
    )


#: The columns of an event row, in order (``container`` holds the fieldPath until
#: :func:`_events_frame` reads the container off it).
_EVENT_COLUMNS = (
    "timestamp",
    "first_timestamp",
    "severity",
    "reason",
    "message",
    "object_kind",
    "object_name",
    "namespace",
    "pod",
    "container",
    "node",
    "count",
    "uid",
    "event_type",
    "component",
    "reporting_host",
    "object_uid",
    "raw",
)


def _containers(field_paths: list | pa.Array) -> list | pa.Array:
    """The container a fieldPath names (``spec.containers{web}``), else None, for each path."""
    if isinstance(field_paths, pa.Array):  # each distinct path read once
        paths = pc.dictionary_encode(field_paths)
        found = pc.extract_regex(paths.dictionary, _FIELD_CONTAINER_NAMED)
        return pc.take(pc.struct_field(found, [0]), paths.indices)
    try:
        paths = pa.array(field_paths, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: Python says what is wrong
        found = [_FIELD_CONTAINER.search(p) if isinstance(p, str) else None for p in field_paths]
        return [m.group(1) if m else None for m in found]
    found = pc.struct_field(pc.extract_regex(paths, _FIELD_CONTAINER_NAMED), [0])
    return found.to_pylist()


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
        if not isinstance(items, list):  # one record, which is no Kubernetes object
            items = [items]
        return list(enumerate(items)), item_kind
    return [(0, doc)], None


def _add_item(
    item: object,
    where: str,
    item_kind: str | None,
    rejects: Rejects,
    inventory: list[dict],
    events: list[tuple],
) -> None:
    """File one decoded List item: an event row, an inventory row, or a reject."""
    if not isinstance(item, dict):
        rejects.add(f"{where}: not a Kubernetes object", repr(item))
        return
    if item_kind and not item.get("kind"):
        item = {**item, "kind": item_kind}
    meta = item.get("metadata")
    if not item.get("kind") or not isinstance(meta, dict) or not meta.get("name"):
        rejects.add(
            f"{where}: not a Kubernetes object (needs kind and metadata.name)",
            orjson.dumps(item).decode(),
        )
        return
    try:
        if item["kind"] == "Event":
            events.append(_event_row(item))
        else:
            inventory.append(_inventory_row(item))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:  # wrong shape
        rejects.add(
            f"{where}: a field of this {item['kind']} has the wrong shape "
            f"({type(exc).__name__}: {exc})",
            orjson.dumps(item, default=str).decode(),
        )


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
    inventory: list[dict] = []
    events: list[tuple] = []
    records = 0
    with gc_paused():
        for doc_index, doc in enumerate(docs):
            if doc is None:
                continue
            items, item_kind = _items(doc)
            for index, item in items:
                records += 1
                many = len(items) > 1 or item_kind
                where = f"items[{index}]" if many else f"document {doc_index}"
                _add_item(item, where, item_kind, rejects, inventory, events)
        return _frames(records, rejects, inventory, events, origin)


def _frames(
    records: int,
    rejects: Rejects,
    inventory: list[dict],
    events: list[tuple] | dict[str, list],
    origin: str,
) -> ParseResult:
    """The inventory and events frames of the filed items (``events`` as rows or as columns
    of :data:`_EVENT_COLUMNS`)."""
    result = ParseResult(records=records, rejects=rejects.frame())
    if inventory:
        frame = pd.DataFrame(inventory)
        for column in ("created", "deleted"):
            frame[column] = parse_times(frame[column]).array
        frame["key_source"] = "record"
        result.inventory = schema.conform("inventory", frame, origin=origin)
    if events:
        result.events = _events_frame(events, rejects, origin)
        result.rejects = rejects.frame()
    return result


_KUBE_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$"


def _times(values: list) -> pd.Series:
    """:func:`obskit.parse_times` of Event times; at once (Arrow) when all are ``metav1.Time``
    text (``2024-06-03T13:18:18Z``) or None."""
    try:
        text = values if isinstance(values, pa.Array) else pa.array(values, type=pa.large_string())
        times = pc.dictionary_encode(text)  # each distinct time read once
        if pc.all(pc.match_substring_regex(times.dictionary, _KUBE_TIME)).as_py() is not False:
            stamps = pc.take(pc.cast(times.dictionary, pa.timestamp("ns", tz="UTC")), times.indices)
            return pd.Series(stamps.to_pandas(), dtype=schema.TIME)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass  # numbers, other shapes, impossible dates: pandas reads them one by one
    return parse_times(values.to_pylist() if isinstance(values, pa.Array) else values)


def _categorical(values: list | pa.Array) -> pd.Categorical | pd.Series:
    """Text values as a categorical (categories sorted, as pandas sorts them), encoded by
    Arrow; an object Series of them when they are not all text or None."""
    try:
        text = values if isinstance(values, pa.Array) else pa.array(values, type=pa.large_string())
        encoded = pc.dictionary_encode(text)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.Series(values, dtype=object)
    words = encoded.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(words).astype(np.int32)
    rank = np.empty(len(order) + 1, dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1
    codes = pc.fill_null(encoded.indices, len(order)).to_numpy(zero_copy_only=False)
    # all missing: no categories, of object dtype (as pandas gives a column of Nones)
    categories = pd.Index(words[order], dtype="str" if len(words) else object)
    return pd.Categorical.from_codes(rank[codes], categories=categories)


_EVENT_CATEGORIES = ("reason", "object_kind", "namespace", "pod", "container", "node")


def _events_frame(
    rows: list[tuple] | dict[str, list | pa.Array], rejects: Rejects, origin: str
) -> pd.DataFrame:
    """The events frame of event rows, or columns (lists or Arrow arrays; the severity as
    ``is Warning`` flags), of :data:`_EVENT_COLUMNS`; rows without a time are rejects. A
    ``raw`` is text, or its UTF-8 bytes."""
    if isinstance(rows, dict):
        values = dict(rows)
    else:
        values = dict(zip(_EVENT_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
    n = len(values["raw"])
    values["container"] = _containers(values["container"])
    raw = values.pop("raw")
    if not isinstance(raw, pa.Array):
        raw = pa.array(raw, type=pa.large_binary())
    # each column built at its dtype at once (object arrays for the others: pandas would infer
    # and convert every text column itself)
    severity = values.pop("severity")
    if isinstance(severity, pa.Array):
        warning = severity.to_numpy(zero_copy_only=False)
        codes = np.where(warning, _SEVERITY["warning"], _SEVERITY["info"]).astype(np.int8)
        severity = pd.Categorical.from_codes(codes, dtype=schema.SEVERITY)
    else:
        severity = pd.Categorical(severity, dtype=schema.SEVERITY)
    stamps = {k: _times(values.pop(k)).array for k in ("timestamp", "first_timestamp")}
    columns = {k: _event_column(k, v) for k, v in values.items()}
    columns = {
        **stamps,
        "source": pd.Categorical.from_codes(np.zeros(n, np.int8), ["kubernetes"]),
        "severity": severity,
        **columns,
        "raw": _string_series(raw),
        "key_source": pd.Categorical.from_codes(np.zeros(n, np.int8), ["record"]),
    }
    frame = _arrow_text(pd.DataFrame(columns))
    bad = frame["timestamp"].isna()
    for text in frame.loc[bad, "raw"]:
        rejects.add(
            "event has no readable lastTimestamp, eventTime or series time (RFC3339, in the "
            "years 1677-2262)",
            text,
        )
    if bad.any():
        frame = frame.loc[~bad].copy()
        # the categories of the rows kept, as casting the kept values would give them
        for column in ("source", "key_source", *_EVENT_CATEGORIES):
            if isinstance(frame[column].dtype, pd.CategoricalDtype):
                kept = frame[column].cat.remove_unused_categories()
                if not len(kept.cat.categories):
                    kept = kept.cat.set_categories(pd.Index([], dtype=object))
                frame[column] = kept
    return schema.conform("events", frame, origin=origin)


_SEVERITY = {s: i for i, s in enumerate(schema.SEVERITIES)}


def _string_series(values: pa.Array) -> pd.Series:
    """Text (or UTF-8 bytes) as a ``string[pyarrow]`` Series."""
    text = values.cast(pa.large_string())
    return pd.Series(text.to_pandas(types_mapper=lambda _: schema.STRING), dtype=schema.STRING)


def _event_column(name: str, values: list | pa.Array) -> object:
    """One events column at the dtype the frame's contract gives it (object for the rest)."""
    if name in _EVENT_CATEGORIES:
        return _categorical(values)
    if isinstance(values, pa.Array):
        if name in _TEXT_COLUMNS:
            return _string_series(values)
        if name == "count" and values.type == pa.int64():  # at its contract's Int64
            return pd.Series(values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        # an object column: one Python object per distinct value
        values = pc.dictionary_encode(values)
        words = np.append(values.dictionary.to_numpy(zero_copy_only=False).astype(object), None)
        return pd.Series(
            words[pc.fill_null(values.indices, len(words) - 1).to_numpy()], dtype=object
        )
    if name == "count":
        return pd.Series(pd.array([_count(v) for v in values], dtype="Int64"))
    return pd.Series(values, dtype=object)


def _count(value: object) -> int | None:
    """An Event's count as a whole number; None (NA) for anything else (text, 1e30, true)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    return None


# --- JSON Lists, fast: items decoded to typed structs, no dict per Event ---------------------

if msgspec is not None:

    class _Meta(msgspec.Struct, gc=False):
        name: Any = None
        namespace: Any = None
        uid: Any = None
        creationTimestamp: Any = None  # the API's names

    class _Target(msgspec.Struct, gc=False):
        kind: Any = None
        name: Any = None
        namespace: Any = None
        uid: Any = None
        fieldPath: Any = None

    class _Source(msgspec.Struct, gc=False):
        component: Any = None
        host: Any = None

    class _Series(msgspec.Struct, gc=False):
        count: Any = None
        lastObservedTime: Any = None

    class _CoreEvent(msgspec.Struct, gc=False):
        """What :func:`_event_row` reads of a core/v1 Event (msgspec skips the rest)."""

        kind: Any = msgspec.UNSET
        apiVersion: Any = None
        metadata: _Meta | None = None
        involvedObject: _Target | None = None
        series: _Series | None = None
        source: _Source | None = None
        firstTimestamp: Any = None
        lastTimestamp: Any = None
        eventTime: Any = None
        count: Any = None
        message: Any = None
        reason: Any = None
        type: Any = None
        reportingComponent: Any = None
        reportingInstance: Any = None

    class _Envelope(msgspec.Struct, gc=False):
        kind: Any = None
        items: list[msgspec.Raw] | msgspec.UnsetType | None = msgspec.UNSET

    _ENVELOPE = msgspec.json.Decoder(_Envelope)
    _EVENT = msgspec.json.Decoder(_CoreEvent)
    _NO_TARGET, _NO_SOURCE, _NO_SERIES = _Target(), _Source(), _Series()

# escapes that orjson writes otherwise (Go writes <>& as \u003c..., \b as \u0008): an item
# holding one has its raw written by orjson, as the dict path writes every raw
_RESPELLED_RE = re.compile(rb"\\[u/bf]")


def _core_event_row(e: Any, raw: bytes) -> tuple:
    """:func:`_event_row` of a core/v1 Event decoded to :class:`_CoreEvent`."""
    meta = e.metadata
    target = e.involvedObject or _NO_TARGET
    series = e.series or _NO_SERIES
    source = e.source or _NO_SOURCE
    first = e.firstTimestamp or e.eventTime
    last = e.lastTimestamp or series.lastObservedTime or first
    component = source.component or e.reportingComponent
    host = source.host or e.reportingInstance
    last = last or meta.creationTimestamp
    kind = target.kind
    name = target.name
    return (
        last,
        first or last,
        "warning" if e.type == "Warning" else "info",
        e.reason,
        e.message,
        kind,
        name,
        None if kind == "Node" else target.namespace or meta.namespace,
        name if kind == "Pod" else None,
        target.fieldPath or "",
        name if kind == "Node" else (host if component == "kubelet" and host else None),
        e.count or series.count or 1,
        meta.uid,
        e.type,
        component,
        host,
        target.uid,
        raw,
    )


def _core_event_columns(events: list[Any], raws: list[bytes]) -> dict[str, list]:
    """:func:`_core_event_row` of every Event, built column by column."""
    metas = [e.metadata for e in events]
    targets = [e.involvedObject or _NO_TARGET for e in events]
    series = [e.series or _NO_SERIES for e in events]
    sources = [e.source or _NO_SOURCE for e in events]
    first = [e.firstTimestamp or e.eventTime for e in events]
    last = [
        e.lastTimestamp or s.lastObservedTime or f or m.creationTimestamp
        for e, s, f, m in zip(events, series, first, metas, strict=True)
    ]
    component = [s.component or e.reportingComponent for e, s in zip(events, sources, strict=True)]
    host = [s.host or e.reportingInstance for e, s in zip(events, sources, strict=True)]
    kind = [t.kind for t in targets]
    name = [t.name for t in targets]
    types = [e.type for e in events]
    return {
        "timestamp": last,
        "first_timestamp": [f or t for f, t in zip(first, last, strict=True)],
        "severity": ["warning" if t == "Warning" else "info" for t in types],
        "reason": [e.reason for e in events],
        "message": [e.message for e in events],
        "object_kind": kind,
        "object_name": name,
        "namespace": [
            None if k == "Node" else t.namespace or m.namespace
            for k, t, m in zip(kind, targets, metas, strict=True)
        ],
        "pod": [n if k == "Pod" else None for k, n in zip(kind, name, strict=True)],
        "container": [t.fieldPath or "" for t in targets],
        "node": [
            n if k == "Node" else (h if c == "kubelet" and h else None)
            for k, n, c, h in zip(kind, name, component, host, strict=True)
        ],
        "count": [e.count or s.count or 1 for e, s in zip(events, series, strict=True)],
        "uid": [m.uid for m in metas],
        "event_type": types,
        "component": component,
        "reporting_host": host,
        "object_uid": [t.uid for t in targets],
        "raw": raws,
    }


def _truthy(values: pa.Array) -> pa.Array:
    """Python's truth of each value (text or a number): not null, not ``""``, not 0."""
    empty = "" if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) else 0
    return pc.fill_null(pc.not_equal(values, empty), False)


def _or(*values: pa.Array | int) -> pa.Array:
    """Python's ``a or b or ...`` of Arrow arrays, row by row."""
    out = values[-1]
    for value in reversed(values[:-1]):
        out = pc.if_else(_truthy(value), value, out)
    return out


_TEXT, _INT = pa.large_string(), pa.int64()
#: Lists this long are read by Arrow's JSON reader (shorter ones item by item).
_ARROW_ITEMS = 1000


def _fields(*names: str, **typed: pa.DataType) -> pa.StructType:
    return pa.struct(
        [pa.field(n, _TEXT) for n in names] + [pa.field(n, t) for n, t in typed.items()]
    )


#: What :func:`_core_event_row` reads, as Arrow's JSON reader types it (a value of another
#: type fails the read, and the List is read item by item instead).
_EVENT_SCHEMA = pa.schema(
    [
        ("kind", _TEXT),
        ("apiVersion", _TEXT),
        ("metadata", _fields("name", "namespace", "uid", "creationTimestamp")),
        ("involvedObject", _fields("kind", "name", "namespace", "uid", "fieldPath")),
        ("series", _fields("lastObservedTime", count=_INT)),
        ("source", _fields("component", "host")),
        *((f, _TEXT) for f in ("firstTimestamp", "lastTimestamp", "eventTime")),
        ("count", _INT),
        *((f, _TEXT) for f in ("message", "reason", "type")),
        *((f, _TEXT) for f in ("reportingComponent", "reportingInstance")),
    ]
)


#: Arrow's JSON reader reads a long List in pieces of about this many bytes (whole items, end
#: to end), on two threads.
_ARROW_PIECE = 4 << 20
#: The longest piece Arrow reads as one block (its block size is a 32-bit int).
_ARROW_BLOCK = 2**31 - 2


class _ArrowRead:
    """Items laid end to end in ``buf`` (item ``i`` ends at ``ends[i]``) being read by Arrow's
    JSON reader against :data:`_EVENT_SCHEMA`, one row each.

    The reader takes pieces of whole items, each one block, so it needs no newline between
    items and finds no boundary. A worker thread starts on them at once (the reader runs
    without the GIL); :meth:`table` has the calling thread take pieces too, and waits.
    """

    def __init__(self, buf: pa.Buffer, ends: np.ndarray) -> None:
        cuts = [0]
        while cuts[-1] < ends[-1]:
            i = min(int(np.searchsorted(ends, cuts[-1] + _ARROW_PIECE)), len(ends) - 1)
            cuts.append(int(ends[i]))
        self._buf, self._cuts = buf, cuts
        self._tables: list[pa.Table | None] = [None] * (len(cuts) - 1)
        self._errors: list[BaseException] = []
        self._pending = iter(range(len(self._tables)))  # next() on it is atomic (the GIL)
        self._worker: threading.Thread | None = None
        if len(self._tables) > 1:
            self._worker = threading.Thread(target=self._work, daemon=True)
            try:
                self._worker.start()
            except RuntimeError:  # no threads here: the caller reads every piece
                self._worker = None

    def _work(self) -> None:
        parse_options = pajson.ParseOptions(
            explicit_schema=_EVENT_SCHEMA, unexpected_field_behavior="ignore"
        )
        for i in self._pending:
            if self._errors:
                return
            lo, hi = self._cuts[i], self._cuts[i + 1]
            try:
                if hi - lo >= _ARROW_BLOCK:
                    raise pa.ArrowInvalid("an item too long for one block")
                self._tables[i] = pajson.read_json(
                    pa.BufferReader(self._buf.slice(lo, hi - lo)),
                    read_options=pajson.ReadOptions(use_threads=False, block_size=hi - lo + 1),
                    parse_options=parse_options,
                    memory_pool=large_buffer_pool(),
                )
            except BaseException as exc:  # table() raises it, or says None
                self._errors.append(exc)

    def table(self) -> pa.Table | None:
        """The items' table; None when they do not fit :data:`_EVENT_SCHEMA`."""
        try:
            self._work()
        except BaseException as exc:  # an interrupt: the worker stops after its piece
            self._errors.append(exc)
            raise
        finally:
            if self._worker is not None:
                self._worker.join()
        if self._errors:
            if isinstance(self._errors[0], (pa.ArrowInvalid, pa.ArrowNotImplementedError)):
                return None
            raise self._errors[0]
        return pa.concat_tables(self._tables)


def _arrow_list(items: list, origin: str) -> ParseResult | None:
    """A ``kind: List`` of core/v1 Events (and other objects) read by Arrow's JSON reader.

    The items' compact bytes, laid end to end, are the Events' ``raw`` and what Arrow reads
    in C++ into columns (:class:`_ArrowRead`); :func:`_core_event_row`'s rules run on the
    columns. Only the items that are no Event are decoded one by one (by orjson, as before).
    None when the items do not fit :data:`_EVENT_SCHEMA`, or an Event needs the general rules
    (another API, no name).
    """
    # the items end to end, one copy of exactly their bytes: the raw column, and Arrow's input
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, items), np.int64, len(items)), out=offsets[1:])
    text = pa.py_buffer(b"".join(items))
    laid = pa.Array.from_buffers(pa.large_binary(), len(items), [None, pa.py_buffer(offsets), text])
    table = _ArrowRead(text, offsets[1:]).table()
    if table is None or table.num_rows != len(items):
        return None
    pool = large_buffer_pool()
    t = {name: table[name].combine_chunks(memory_pool=pool) for name in table.column_names}
    meta, target = t["metadata"], t["involvedObject"]
    series, source = t["series"], t["source"]
    is_event = pc.fill_null(pc.equal(t["kind"], "Event"), False)
    other_api = pc.fill_null(pc.starts_with(t["apiVersion"], "events.k8s.io"), False)
    named = _truthy(pc.struct_field(meta, "name"))
    fast = pc.and_(is_event, pc.and_(pc.invert(other_api), named))
    if not pc.all(pc.equal(is_event, fast)).as_py():
        return None  # an Event of another API, or without a name
    rejects = Rejects(FORMAT, origin)
    inventory: list[dict] = []
    rest = np.flatnonzero(~is_event.to_numpy(zero_copy_only=False))
    for index in rest:
        where = f"items[{index}]" if len(items) > 1 else "document 0"
        _add_item(orjson.loads(bytes(items[index])), where, None, rejects, inventory, [])
    if len(rest) == len(items):
        return _frames(len(items), rejects, inventory, [], origin)
    raw = laid.filter(is_event) if len(rest) else laid
    # the Events whose raw holds an escape orjson spells otherwise: written by orjson
    hit = pc.match_substring_regex(raw, _RESPELLED_RE.pattern.decode())
    # pc.any, not hit.true_count: pyarrow < 16 crashes counting a kernel's output that has no
    # validity bitmap (apache/arrow#41016)
    if pc.any(hit).as_py():
        texts = pc.filter(raw, hit).to_pylist()
        respelled = pa.array([orjson.dumps(orjson.loads(t)) for t in texts], pa.large_binary())
        raw = pc.replace_with_mask(raw, hit, respelled)
    if len(rest):
        keep = pa.array(is_event)
        t = {name: column.filter(keep) for name, column in t.items()}
    meta, target = t["metadata"], t["involvedObject"]
    series, source = t["series"], t["source"]

    def field(struct: pa.Array, name: str) -> pa.Array:
        return pc.struct_field(struct, name)

    first = _or(t["firstTimestamp"], t["eventTime"])
    last = _or(
        t["lastTimestamp"],
        field(series, "lastObservedTime"),
        first,
        field(meta, "creationTimestamp"),
    )
    component = _or(field(source, "component"), t["reportingComponent"])
    host = _or(field(source, "host"), t["reportingInstance"])
    kind, name = field(target, "kind"), field(target, "name")
    none = pa.nulls(len(kind), _TEXT)
    is_node = pc.fill_null(pc.equal(kind, "Node"), False)
    by_kubelet = pc.and_(pc.fill_null(pc.equal(component, "kubelet"), False), _truthy(host))
    columns = {
        "timestamp": last,
        "first_timestamp": _or(first, last),
        "severity": pc.fill_null(pc.equal(t["type"], "Warning"), False),
        "reason": t["reason"],
        "message": t["message"],
        "object_kind": kind,
        "object_name": name,
        "namespace": pc.if_else(
            is_node, none, _or(field(target, "namespace"), field(meta, "namespace"))
        ),
        "pod": pc.if_else(pc.fill_null(pc.equal(kind, "Pod"), False), name, none),
        "container": pc.fill_null(field(target, "fieldPath"), ""),
        "node": pc.if_else(is_node, name, pc.if_else(by_kubelet, host, none)),
        "count": _or(t["count"], field(series, "count"), pa.scalar(1, _INT)),
        "uid": field(meta, "uid"),
        "event_type": t["type"],
        "component": component,
        "reporting_host": host,
        "object_uid": field(target, "uid"),
        "raw": raw,
    }
    result = _frames(len(items), rejects, inventory, columns, origin)
    return result


def _parse_list(data: bytes, origin: str) -> ParseResult | None:
    """A JSON List holding Events, read without a dict per Event; None when the payload is
    no such List (or msgspec is missing): the caller then decodes it with orjson.

    msgspec compacts the payload and splits it into its items' bytes, which are their ``raw``
    (as ``orjson.dumps`` writes them). A long ``kind: List`` goes to :func:`_arrow_list`;
    otherwise each core/v1 Event is decoded to :class:`_CoreEvent`. Any other item (or an
    Event of another shape) is decoded with orjson and filed as before.
    """
    if msgspec is None:
        return None
    try:
        compact = msgspec.json.format(data, indent=-1)
        envelope = _ENVELOPE.decode(compact)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None  # the orjson path says what is wrong (nested too deep: its depth limit)
    kind = str(envelope.kind or "")
    if envelope.items is msgspec.UNSET or not (kind == "List" or kind.endswith("List") or not kind):
        return None
    item_kind = kind[:-4] if kind.endswith("List") and kind != "List" else None
    if item_kind != "Event" and b'"kind":"Event"' not in compact:
        return None  # no Events: orjson reads the objects as fast
    items = envelope.items or []
    rejects = Rejects(FORMAT, origin)
    inventory: list[dict] = []
    events: list[tuple | None] = []  # None: the next of the typed Events
    typed: list[Any] = []
    raws: list[bytes] = []
    if item_kind is None and len(items) >= _ARROW_ITEMS:
        with gc_paused():
            read = _arrow_list(items, origin)
        if read is not None:
            return read
    respelled = _respelled(compact)
    many = len(items) > 1 or item_kind
    listed_kind = msgspec.UNSET if item_kind == "Event" else "Event"
    try:
        with gc_paused():
            for index, item in enumerate(items):
                text = bytes(item)
                try:
                    event = _EVENT.decode(text)
                except msgspec.ValidationError:
                    event = None
                if (
                    event is not None
                    and (event.kind == "Event" or event.kind is listed_kind)
                    and event.metadata is not None
                    and event.metadata.name
                    and not str(event.apiVersion).startswith("events.k8s.io")
                ):
                    if event.kind is msgspec.UNSET:  # an EventList item: the list gives the kind
                        text = text[:-1] + b',"kind":"Event"}'
                    if respelled and _respelled(text):
                        text = orjson.dumps(orjson.loads(text))
                    events.append(None)
                    typed.append(event)
                    raws.append(text)
                    continue
                where = f"items[{index}]" if many else "document 0"
                _add_item(orjson.loads(text), where, item_kind, rejects, inventory, events)
            if len(typed) == len(events):
                columns: list[tuple] | dict[str, list] = _core_event_columns(typed, raws)
            else:  # Events of both kinds: rows, in the List's order
                rest = iter(zip(typed, raws, strict=True))
                columns = [row or _core_event_row(*next(rest)) for row in events]
            return _frames(len(items), rejects, inventory, columns if events else [], origin)
    except (
        orjson.JSONDecodeError,
        msgspec.DecodeError,
        UnicodeDecodeError,
        pa.ArrowInvalid,
        RecursionError,
    ):
        return None  # invalid JSON or UTF-8, or too deep, somewhere: the orjson path says where


def _respelled(text: bytes) -> bool:
    """Whether ``text`` may hold an escape orjson spells otherwise (``\\u``, ``\\/``, ``\\b``,
    ``\\f``)."""
    return _RESPELLED_RE.search(text) is not None


def parse_k8s_json(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse ``kubectl get -o json`` or ``-o yaml`` output (a List or single objects).

    A payload that is not valid JSON or YAML at all is one reject (its items cannot be
    counted); re-export it with ``kubectl get ... -o json``. Invalid UTF-8 bytes (a damaged
    copy) are replaced by U+FFFD, and a note says where.

    Examples
    --------
    >>> r = parse_k8s_json(b'{"apiVersion": "v1", "kind": "List", "items": []}')
    >>> (r.records, r.rows)
    (0, 0)
    """
    data, note = utf8_or_replaced(data)
    result = _parse_document(data, origin)
    if note is not None:
        result.notes.append(note)
    return result


def _parse_document(data: bytes, origin: str) -> ParseResult:
    text_start = data.lstrip()[:1]
    if text_start == b"{":
        fast = _parse_list(data, origin)
        if fast is not None:
            return fast
    try:
        if text_start in (b"{", b"["):
            try:
                with gc_paused():
                    docs: list[object] = [orjson.loads(data)]
            except orjson.JSONDecodeError as exc:
                raise FormatError(f"not valid JSON: {json_error(exc, data)}") from exc
        else:
            try:
                docs = list(yaml.load_all(data.decode("utf-8"), Loader=NoTimestampLoader))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise FormatError(f"not valid YAML: {str(exc).splitlines()[0]}") from exc
    except FormatError as exc:
        rejects = Rejects(FORMAT, origin)
        rejects.add(f"{exc}; re-export with kubectl get ... -o json", data)
        return ParseResult(records=1, rejects=rejects.frame())
    bombs = Rejects(FORMAT, origin)
    if text_start not in (b"{", b"[") and has_anchors(data):
        for index, doc in enumerate(docs):
            reason = alias_bomb(doc)
            if reason is not None:
                bombs.add(
                    f"document {index}: {reason}; re-export with kubectl get ... -o json", None
                )
                docs[index] = None  # skipped below, counted here
    if len(docs) == 1 and isinstance(docs[0], list):
        docs = docs[0]
    result = objects_to_frames(docs, origin)
    if len(bombs):
        result.records += len(bombs)
        result.rejects = schema.concat("rejects", [result.rejects, bombs.frame()])
    return result


_KINDS = (
    "List|Pod|Node|Namespace|Deployment|ReplicaSet|StatefulSet|DaemonSet|Job|CronJob|Service|"
    "EndpointSlice|Endpoints|Event|ConfigMap|ServiceAccount|ReplicationController|"
    "PersistentVolumeClaim|PersistentVolume|Ingress|Role|RoleBinding|ClusterRole|"
    "ClusterRoleBinding|NetworkPolicy|Secret|HorizontalPodAutoscaler"
)
_JSON_KIND = re.compile(rf'"kind"\s*:\s*"(?:{_KINDS}|\w+List)"')
_YAML_KIND = re.compile(rf"^kind: (?:{_KINDS}|\w+List)\s*$", re.M)
# a List's items, as kubectl writes them: "items:" at the top, each item's kind indented under
# it ("- kind: Pod" or "  kind: Pod"); kubectl puts the List's own "kind: List" last
_YAML_ITEMS = re.compile(r"^items:\s*$", re.M)
_YAML_ITEM_KIND = re.compile(rf"^(?:- |  )kind: (?:{_KINDS})\s*$", re.M)
_YAML_API_VERSION = re.compile(r"^apiVersion: ", re.M)


def _sniff(head: str, name: str, tail: str = "") -> float:
    """kubectl's JSON or YAML, judged by a known kind at its top level or in its items; the
    top-level kind may come last (after a List's items, after a large object's data), so the
    file's end is read too."""
    first = head.lstrip()
    if first.startswith("{"):
        if '"auditID"' in first[:4096]:
            return 0.0
        if '"apiVersion"' in first and (_JSON_KIND.search(first) or _JSON_KIND.search(tail)):
            return 0.85
        return 0.0
    # substring tests first: a multi-line regex search costs more than the rest of a sniff
    if "apiVersion: " not in first or not _YAML_API_VERSION.search(first):
        return 0.0
    if ("kind: " in first and _YAML_KIND.search(first)) or (
        "kind: " in tail and _YAML_KIND.search(tail)
    ):
        return 0.85
    if _YAML_ITEMS.search(first) and _YAML_ITEM_KIND.search(first):
        return 0.85
    return 0.0


register(
    FORMAT,
    "Kubernetes objects and Events from kubectl get -o json / -o yaml (List or single object)",
    _sniff,
    parse_k8s_json,
    reads_tail=True,
    ceiling=0.85,
)
