"""Sumo Logic API answers: search job messages and records, and Metrics Query results.

Pure parsers for what :class:`obskit.live.SumoLogic` fetches:

- **messages** (``GET /api/v1/search/jobs/{id}/messages``): ``{"fields": [...], "messages":
  [{"map": {...}}]}``, every value a string, every field name lower case. ``_messagetime`` is the
  time (epoch milliseconds), ``_raw`` the message. A ``_raw`` that is a Kubernetes Event, an audit
  Event or a Falco alert (JSON) becomes an events row through the parsers the file loaders use;
  any other message is a log line, and a ``_raw`` that is a JSON object with a ``log`` field (a
  collector's ``json_merge`` output) gives its ``log`` and ``stream``.
- **records** (``.../records``): aggregate rows (``count by _timeslice, namespace``); each
  numeric value becomes a metrics row named by its field, at ``_timeslice`` (or the window's end
  when the query has no timeslice: a stamped time).
- **metrics** (``POST /api/v1/metricsQueries``): ``{"queryResult": [{"rowId", "timeSeriesList":
  {"timeSeries": [{"metricDefinition": {"metric", "dimensions"}, "points": {"timestamps",
  "values"}}]}}], "errors": ...}``.

The key comes from the metadata fields the Sumo Logic Kubernetes collection attaches (see
:data:`KEY_FIELDS`): ``cluster``, ``namespace``, ``pod``, ``container``, ``node``, and the top owner
from ``deployment``, ``statefulset``, ``daemonset``. Where they are missing, the collection's
default ``_sourceName`` (``<namespace>.<pod>.<container>``) gives namespace, pod and container.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._time import parse_times
from obskit.errors import FormatError
from obskit.sources._base import ParseResult, Rejects
from obskit.sources.shipped import classify, documents_to_frames

__all__ = [
    "KEY_FIELDS",
    "key_of",
    "parse_sumo_messages",
    "parse_sumo_metrics",
    "parse_sumo_records",
]

MESSAGES = "sumologic-search"
METRICS = "sumologic-metrics"

#: Each key part and the Sumo Logic fields (lower case, as search answers write them) that
#: hold it, first found wins: the Kubernetes collection's fields, then common alternatives.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "cluster": ("cluster", "k8s.cluster.name"),
    "namespace": ("namespace", "k8s.namespace.name"),
    "pod": ("pod", "pod_name", "k8s.pod.name"),
    "container": ("container", "container_name", "k8s.container.name"),
    "node": ("node", "k8s.node.name", "host"),
}
#: Top owners, as the collection names their fields.
WORKLOAD_FIELDS = (
    ("Deployment", "deployment"),
    ("StatefulSet", "statefulset"),
    ("DaemonSet", "daemonset"),
    ("CronJob", "cronjob"),
    ("Job", "job"),
)
_SYSTEM = ("_sourcecategory", "_collector", "_source", "_sourcename", "_sourcehost")


def key_of(fields: Mapping[str, object]) -> dict[str, object]:
    """The obskit key of a message's or series' fields (field names in any case).

    Examples
    --------
    >>> key_of({"namespace": "shop", "pod": "cart-7d9f-x2", "container": "cart",
    ...         "node": "ip-10-0-1-2", "deployment": "cart", "_sourcecategory": "kubernetes/shop"})
    {'cluster': None, 'namespace': 'shop', 'pod': 'cart-7d9f-x2', 'container': 'cart', 'node': 'ip-10-0-1-2', 'workload_kind': 'Deployment', 'workload': 'cart'}
    >>> key_of({"_sourcename": "shop.cart-7d9f-x2.cart"})["pod"]
    'cart-7d9f-x2'
    """  # noqa: E501
    lower = {str(k).lower(): v for k, v in fields.items()}

    def text(names: Sequence[str]) -> str | None:
        for name in names:
            value = lower.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    key: dict[str, object] = {part: text(names) for part, names in KEY_FIELDS.items()}
    source_name = text(["_sourcename"])
    if (
        key["pod"] is None
        and source_name
        and source_name.count(".") == 2
        and "/" not in source_name
    ):
        key["namespace"], key["pod"], key["container"] = (
            key["namespace"] or source_name.split(".")[0],
            source_name.split(".")[1],
            key["container"] or source_name.split(".")[2],
        )
    key["workload_kind"] = key["workload"] = None
    for kind, name in WORKLOAD_FIELDS:
        owner = text([name])
        if owner:
            key["workload_kind"], key["workload"] = kind, owner
            break
    return key


def _decoded(payload: object, what: str, origin: str) -> object:
    """``payload`` decoded when it is JSON text; FormatError naming ``origin`` when it is not."""
    if not isinstance(payload, bytes | str):
        return payload
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FormatError(
            f"{origin!r}: a Sumo Logic {what} answer that is not JSON ({exc})"
        ) from exc


def _maps(payload: object, what: str, origin: str) -> list[object]:
    payload = _decoded(payload, what, origin)
    items = payload.get(what) if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise FormatError(
            f"{origin!r} is not a Sumo Logic {what} answer: expected an object with a {what!r} "
            f"list, got {type(payload).__name__}"
        )
    return items


def _log_document(fields: dict, raw: str, inner: object) -> dict:
    """A message that is a log line, as a document of the shape the router reads."""
    key = key_of(fields)
    text, stream = raw, fields.get("stream")
    if isinstance(inner, dict) and isinstance(inner.get("log"), str):
        text, stream = inner["log"], inner.get("stream") or stream
    doc: dict[str, object] = {
        "@timestamp": _time_ms(fields.get("_messagetime")),
        "log": text,
        "stream": stream,
        "kubernetes": {
            "namespace_name": key["namespace"],
            "pod_name": key["pod"],
            "container_name": key["container"],
            "host": key["node"],
            "cluster": key["cluster"],
        },
    }
    if key["workload"]:
        doc[f"kubernetes.{str(key['workload_kind']).lower()}.name"] = key["workload"]
    return doc


def _time_ms(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def parse_sumo_messages(payload: bytes | dict, origin: str = "<bytes>") -> ParseResult:
    """Parse a search job's messages into logs and events.

    Parameters
    ----------
    payload
        The ``/messages`` answer (or several pages' messages in one ``{"messages": [...]}``).
    origin
        The endpoint and query, for provenance and rejects.

    Examples
    --------
    >>> page = {"fields": [], "messages": [{"map": {
    ...     "_messagetime": "1715680800123", "_raw": "level=error msg=\\"payment refused\\"",
    ...     "namespace": "shop", "pod": "cart-7d9f-x2", "container": "cart",
    ...     "node": "ip-10-0-1-2", "deployment": "cart",
    ...     "_sourcecategory": "kubernetes/shop/cart"}}]}
    >>> logs = parse_sumo_messages(page).logs
    >>> logs[["namespace", "pod", "workload", "level"]].values.tolist()
    [['shop', 'cart-7d9f-x2', 'cart', 'error']]
    >>> str(logs["timestamp"][0])
    '2024-05-14 10:00:00.123000+00:00'
    """
    documents: list[tuple[int, object]] = []
    rejects = Rejects(MESSAGES, origin)
    for position, message in enumerate(_maps(payload, "messages", origin), start=1):
        fields = message.get("map") if isinstance(message, dict) else None
        if not isinstance(fields, dict):
            rejects.add(f"message {position} has no 'map' of fields", repr(message), line=position)
            continue
        fields = {str(k).lower(): v for k, v in fields.items()}
        raw = fields.get("_raw")
        if not isinstance(raw, str):
            rejects.add(f"message {position} has no _raw text", repr(fields), line=position)
            continue
        inner = _json_object(raw)
        if isinstance(inner, dict):
            unwrapped = inner.get("object") if isinstance(inner.get("object"), dict) else inner
            if classify(unwrapped) in ("audit", "falco", "k8s-event"):
                documents.append((position, inner))
                continue
        documents.append((position, _log_document(fields, raw, inner)))
    result = documents_to_frames(documents, MESSAGES, origin)
    if len(rejects):
        result.rejects = schema.concat("rejects", [result.rejects, rejects.frame()])
        result.records += len(rejects)
    return result


def _json_object(raw: str) -> object:
    if not raw.startswith("{"):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if not math.isnan(number) else None


def parse_sumo_records(
    payload: bytes | dict, origin: str = "<bytes>", *, end: pd.Timestamp | None = None
) -> ParseResult:
    """Parse a search job's aggregate records into metrics: one row per numeric value.

    ``records`` counts the numeric values (and the records that hold none, which are
    rejects). Records without ``_timeslice`` are stamped with ``end`` (the window's end).

    Examples
    --------
    >>> page = {"fields": [], "records": [{"map": {"_timeslice": "1715680800000",
    ...     "namespace": "shop", "pod": "cart-7d9f-x2", "_count": "42"}}]}
    >>> m = parse_sumo_records(page).metrics
    >>> m[["metric", "value", "namespace", "pod"]].values.tolist()
    [['_count', 42.0, 'shop', 'cart-7d9f-x2']]
    """
    rejects = Rejects(MESSAGES, origin)
    rows: list[dict[str, object]] = []
    records = 0
    for position, record in enumerate(_maps(payload, "records", origin), start=1):
        fields = record.get("map") if isinstance(record, dict) else None
        fields = {str(k).lower(): v for k, v in fields.items()} if isinstance(fields, dict) else {}
        key = key_of(fields)
        labels = _labels(
            {k: str(v) for k, v in fields.items() if k != "_timeslice" and _number(v) is None}
        )
        values = {
            k: _number(v) for k, v in fields.items() if k != "_timeslice" and _number(v) is not None
        }
        if not values:
            records += 1
            rejects.add(
                f"record {position} holds no numeric value to be a metric",
                repr(record),
                line=position,
            )
            continue
        when = fields.get("_timeslice")
        for name, value in values.items():
            records += 1
            rows.append({"metric": name, "value": value, "time": when, **labels, **key})
    frame = pd.DataFrame(rows)
    stamped = np.zeros(len(rows), dtype=bool)
    if rows:
        times = parse_times(frame["time"].astype("object"), unit="ms")
        stamped = times.isna().to_numpy()
        if stamped.any() and end is not None:
            times = times.where(~times.isna(), end)
        frame["timestamp"] = times.array
        frame = frame.drop(columns="time")
        frame["key_source"] = "record"
    result = ParseResult(
        records=records,
        metrics=schema.conform("metrics", frame if rows else None, origin=origin),
        rejects=rejects.frame(),
    )
    if stamped.any():
        result.stamped["metrics"] = stamped
        result.notes.append(
            f"{int(stamped.sum()):,} aggregate value(s) have no _timeslice: stamped with the "
            f"window's end"
        )
    return result


_CONTRACT = set(schema.FRAMES["metrics"])


def _labels(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields that are not key parts, as labels; one named like a column of the metrics
    frame (Sumo Logic repeats the metric's name as a ``metric`` dimension) gets ``sumo_``."""
    return {
        (f"sumo_{k}" if k in _CONTRACT else k): v
        for k, v in fields.items()
        if k.lower() not in KEY_FIELDS
    }


def _dimensions(definition: dict) -> dict[str, str]:
    dims = definition.get("dimensions")
    if isinstance(dims, dict):
        return {str(k): str(v) for k, v in dims.items()}
    if isinstance(dims, list):  # the older answer: [{"key": ..., "value": ...}]
        return {
            str(d.get("key")): str(d.get("value"))
            for d in dims
            if isinstance(d, dict) and d.get("key") is not None
        }
    return {}


def parse_sumo_metrics(
    payload: bytes | dict, origin: str = "<bytes>", *, name: str | None = None
) -> ParseResult:
    """Parse a Metrics Query API answer into metrics: one row per point.

    ``name`` names the metric (default: the series' own ``metric``); the dimensions become the
    key and labels. A point whose value is not a number is a reject.

    Raises
    ------
    FormatError
        When the answer has no ``queryResult`` and reports errors (the errors' messages are in
        the message).

    Examples
    --------
    >>> answer = {"queryResult": [{"rowId": "A", "timeSeriesList": {"timeSeries": [
    ...     {"metricDefinition": {"metric": "container_memory_working_set_bytes",
    ...      "dimensions": {"namespace": "shop", "pod": "cart-7d9f-x2", "container": "cart"}},
    ...      "points": {"timestamps": [1715680800000, 1715680860000],
    ...                 "values": [2.1e8, 2.3e8]}}]}}], "errors": None}
    >>> m = parse_sumo_metrics(answer, name="memory").metrics
    >>> m[["metric", "value", "pod"]].values.tolist()
    [['memory', 210000000.0, 'cart-7d9f-x2'], ['memory', 230000000.0, 'cart-7d9f-x2']]
    """
    payload = _decoded(payload, "Metrics Query", origin)
    if not isinstance(payload, dict):
        raise FormatError(f"{origin!r} is not a Sumo Logic Metrics Query answer")
    rows_in = payload.get("queryResult")
    errors = payload.get("errors")
    messages = _error_messages(errors)
    if not rows_in and messages:
        raise FormatError(f"Sumo Logic refused the metrics query ({origin}): {'; '.join(messages)}")
    rejects = Rejects(METRICS, origin)
    rows: list[dict[str, object]] = []
    records = 0
    for row in rows_in or []:
        series_list = ((row or {}).get("timeSeriesList") or {}).get("timeSeries") or []
        for series in series_list:
            definition = series.get("metricDefinition") or {}
            dims = _dimensions(definition)
            key = key_of(dims)
            labels = _labels(dims)
            metric = name or definition.get("metric") or str(row.get("rowId"))
            points = series.get("points") or {}
            for stamp, value in zip(
                points.get("timestamps") or [], points.get("values") or [], strict=False
            ):
                records += 1
                number = _number(value)
                if number is None:
                    rejects.add(f"point at {stamp} of {metric} is not a number", repr(value))
                    continue
                rows.append({"metric": metric, "value": number, "time": stamp, **labels, **key})
    frame = pd.DataFrame(rows)
    if rows:
        frame["timestamp"] = parse_times(frame["time"].astype("object"), unit="ms").array
        frame = frame.drop(columns="time")
        frame["key_source"] = "record"
    result = ParseResult(
        records=records,
        metrics=schema.conform("metrics", frame if rows else None, origin=origin),
        rejects=rejects.frame(),
    )
    result.notes += [f"Sumo Logic: {m}" for m in messages]
    return result


def _error_messages(errors: object) -> list[str]:
    if not isinstance(errors, dict):
        return []
    return [
        str(e.get("message") or e.get("code"))
        for e in errors.get("errors") or []
        if isinstance(e, dict)
    ]
