"""The data contract: the metadata key, each frame's columns and dtypes, and ``validate``.

Every signal row carries the same Kubernetes metadata key (:data:`KEY`), stored as pandas
``category`` columns whose missing parts are ``NA`` (never ``""``). Timestamps are
``datetime64[ns, UTC]``, always. Each parser ends with :func:`conform`, the one shared step that
casts what it produced to the contract; :func:`validate` checks a frame without changing it.

Frames
------
metrics
    ``timestamp, metric, value`` + key + provenance; every other label a source sent is kept as a
    ``category`` column of its own (a label that collides with a column name gets ``label_``).
events
    Kubernetes Events, audit entries, Falco alerts, detections: ``timestamp, source, severity,
    reason, message, object_kind, object_name`` + key + source fields (``user``, ``verb``,
    ``rule``, ``count`` ...) + ``raw`` (the original record as JSON, for evidence).
logs
    ``timestamp, stream, level, message`` + key + ``format`` (json, logfmt or text) + provenance
    (``origin`` and ``line``). Structured fields are parsed on demand by
    :func:`obskit.log_fields`, so loading a million lines does not build a million dicts.
inventory
    One row per Kubernetes object: ``kind, name, uid``, the direct owner, the key (a Pod row's
    ``pod`` is its name, a Node row's ``node`` its name), ``labels``, ``selector``,
    ``containers``, ``created``, ``deleted``, ``phase``.
changes
    What a live watch (:func:`obskit.watch`) saw happen to objects, one row per change:
    ``timestamp`` (when it was seen), ``verb`` (``added``, ``modified``, ``deleted``, or
    ``seen-missing`` for an object found gone on a relist, its deletion not seen), ``kind, name,
    uid`` + key + ``changed`` (the fields that changed) and their values after the change
    (``phase, ready, restarts, image, owner, reason``), ``before`` (the changed fields' values
    before it), ``resource_version`` and ``origin``. Empty for investigations loaded from files.
rejects
    What could not be read: ``format, origin, line, offset, reason, raw``.

Beyond the contract columns each source keeps its own fields (``stage_timestamp``, ``rule``,
``proc_cmdline`` ...) in the dtype that fits them: text as ``category`` or string, flags as
``bool``, times as ``datetime64[ns, UTC]``; :func:`validate` checks only the contract columns.

Severity
--------
One ordered scale for event severities and log levels, :data:`SEVERITIES`:
``debug < info < notice < warning < error < critical``, so ``df[df.severity >= "warning"]``
works on both frames.

Names
-----
:func:`entity_name` writes the name of the entity a row is about (``shop/api-1/server``,
``Deployment shop/api``), the one way the report, the timeline, the Explorer and the
root-cause evidence name it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from obskit._time import in_ns_range
from obskit.errors import SchemaError

__all__ = [
    "ENTITY_KINDS",
    "FRAMES",
    "KEY",
    "KEY_SOURCES",
    "SEVERITIES",
    "conform",
    "empty",
    "entity_name",
    "validate",
]

#: The shared metadata key, coarse to fine.
KEY: tuple[str, ...] = (
    "cluster",
    "namespace",
    "node",
    "workload_kind",
    "workload",
    "pod",
    "container",
)

#: Where a row's key came from, weakest link wins (see :mod:`obskit.enrich`).
KEY_SOURCES: tuple[str, ...] = (
    "record",
    "inventory",
    "signals",
    "name-convention",
    "incomplete",
)

#: The kinds of entity :func:`entity_name` names, finest first (the order it guesses a kind in).
ENTITY_KINDS: tuple[str, ...] = ("container", "pod", "workload", "node", "namespace", "cluster")

#: Ordered severity scale shared by ``events.severity`` and ``logs.level``.
SEVERITIES: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical")

TIME = "datetime64[ns, UTC]"
STRING = pd.StringDtype("pyarrow")
SEVERITY = pd.CategoricalDtype(list(SEVERITIES), ordered=True)
STRING_CATS = pd.Index(["x"]).dtype  # the dtype pandas gives text categories

# column -> dtype spec: "time", "category", "severity", "string", "float", "int", "object"
_PROVENANCE = {"key_source": "category", "origin": "category"}
_KEY_SPEC = dict.fromkeys(KEY, "category")

FRAMES: dict[str, dict[str, str]] = {
    "metrics": {
        "timestamp": "time",
        "metric": "category",
        "value": "float",
        **_KEY_SPEC,
        **_PROVENANCE,
    },
    "events": {
        "timestamp": "time",
        "source": "category",
        "severity": "severity",
        "reason": "category",
        "message": "string",
        "object_kind": "category",
        "object_name": "string",
        **_KEY_SPEC,
        "count": "int",
        "user": "category",
        "verb": "category",
        "rule": "category",
        "source_ip": "category",
        "user_agent": "category",
        "response_code": "int",
        "uid": "string",
        **_PROVENANCE,
        "line": "int",
        "raw": "string",
    },
    "logs": {
        "timestamp": "time",
        "stream": "category",
        "level": "severity",
        "message": "string",
        **_KEY_SPEC,
        "format": "category",
        **_PROVENANCE,
        "line": "int",
    },
    "inventory": {
        "kind": "category",
        "name": "string",
        "uid": "string",
        **_KEY_SPEC,
        "owner_kind": "category",
        "owner_name": "string",
        "owner_uid": "string",
        "labels": "object",
        "selector": "object",
        "containers": "object",
        "created": "time",
        "deleted": "time",
        "phase": "category",
        **_PROVENANCE,
    },
    "changes": {
        "timestamp": "time",
        "verb": "category",
        "kind": "category",
        "name": "string",
        "uid": "string",
        **_KEY_SPEC,
        "changed": "string",
        "phase": "category",
        "ready": "string",
        "restarts": "int",
        "image": "string",
        "owner": "string",
        "reason": "string",
        "before": "string",
        "resource_version": "string",
        "origin": "category",
    },
    "rejects": {
        "format": "category",
        "origin": "string",
        "line": "int",
        "offset": "int",
        "reason": "string",
        "raw": "string",
    },
}

# Frames whose label columns beyond the contract are kept as categories.
_EXTRA_AS_CATEGORY = {"metrics"}

_DTYPES = {
    "time": TIME,
    "category": "category",
    "severity": SEVERITY,
    "string": STRING,
    "float": "float64",
    "int": "Int64",
    "object": "object",
}


def _spec(frame: str) -> dict[str, str]:
    try:
        return FRAMES[frame]
    except KeyError:
        raise SchemaError(
            f"unknown frame {frame!r}; the frames are {', '.join(sorted(FRAMES))}"
        ) from None


def empty(frame: str) -> pd.DataFrame:
    """Return an empty frame with every contract column of ``frame`` at its dtype.

    Examples
    --------
    >>> list(empty("logs").columns[:4])
    ['timestamp', 'stream', 'level', 'message']
    """
    return _empty(frame).copy()


@functools.cache
def _empty(frame: str) -> pd.DataFrame:
    """:func:`empty`'s frame, built once (some 40 empty Series cost ~5 ms; a copy ~0.05 ms)."""
    spec = _spec(frame)
    return pd.DataFrame({c: pd.Series([], dtype=_DTYPES[k]) for c, k in spec.items()})


def _to_time(values: pd.Series, column: str, frame: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(TIME)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        raise SchemaError(
            f"{frame}.{column} holds naive timestamps; obskit needs UTC. Localise them first, "
            f"e.g. df[{column!r}] = df[{column!r}].dt.tz_localize('UTC')"
        )
    if values.isna().all():
        return pd.Series(pd.NaT, index=values.index, dtype=TIME)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        parsed = in_ns_range(pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce"))
        bad = parsed.isna() & values.notna()
        if bad.any():
            first = values[bad].iloc[0]
            raise SchemaError(
                f"{frame}.{column} has {int(bad.sum())} value(s) that are not RFC3339 "
                f"timestamps of the years 1677-2262, the first {first!r}; parse them with "
                f"obskit.parse_times(), which makes such values NaT"
            )
        return parsed
    raise SchemaError(
        f"{frame}.{column} has dtype {values.dtype}, not timestamps; convert numbers with "
        f"obskit.parse_times(values, unit='s'|'ms'|'us'|'ns')"
    )


def _cast(values: pd.Series, kind: str, column: str, frame: str) -> pd.Series:
    target = _DTYPES[kind]
    if kind == "time":
        return _to_time(values, column, frame)
    if kind in ("category", "severity"):
        if kind == "category" and isinstance(values.dtype, pd.CategoricalDtype):
            out = values
        else:
            if kind == "severity" and isinstance(values.dtype, pd.CategoricalDtype):
                return _severity_from_categories(values, column, frame)
            if kind == "severity":
                values = values.astype("object").where(values.notna(), None)
                values = values.map(lambda v: v.lower() if isinstance(v, str) else v)
                unknown = set(values.dropna().unique()) - set(SEVERITIES)
                if unknown:
                    raise SchemaError(
                        f"{frame}.{column} has values outside the severity scale: "
                        f"{sorted(map(str, unknown))[:5]!r}; use one of {list(SEVERITIES)}"
                    )
            try:
                out = values.astype(target)
            except TypeError:  # a list or a mapping where text belongs: keep it, as JSON
                out = _as_text(values).astype(target)
        if kind == "category" and "" in out.cat.categories:
            out = out.cat.remove_categories([""])
        return out
    try:
        out = values.astype(target)
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"{frame}.{column} cannot be read as {target}: {exc}; first values "
            f"{values.head(3).tolist()!r}"
        ) from exc
    if kind == "string":
        out = out.mask(out == "", pd.NA) if column in KEY else out
    return out


def _as_text(values: pd.Series) -> pd.Series:
    """Text values as they are; a list or a mapping (a record of an unexpected shape) as its
    JSON text, so a text column holds text and nothing is lost."""
    shaped = values.map(lambda v: isinstance(v, list | dict))
    if not shaped.any():
        return values
    text = values[shaped].map(lambda v: json.dumps(v, default=str, ensure_ascii=False))
    return values.where(~shaped, text)


def _severity_from_categories(values: pd.Series, column: str, frame: str) -> pd.Series:
    """A categorical column on the severity scale, recoded once per category, not per row."""
    if values.dtype == SEVERITY:
        return values
    categories = [c.lower() if isinstance(c, str) else c for c in values.cat.categories]
    used = np.unique(values.cat.codes[values.cat.codes >= 0])
    unknown = {categories[i] for i in used} - set(SEVERITIES)
    if unknown:
        raise SchemaError(
            f"{frame}.{column} has values outside the severity scale: "
            f"{sorted(map(str, unknown))[:5]!r}; use one of {list(SEVERITIES)}"
        )
    scale = {s: i for i, s in enumerate(SEVERITIES)}
    table = np.array([scale.get(c, -1) for c in categories] + [-1], dtype=np.int8)
    codes = table[values.cat.codes.to_numpy()]
    return pd.Series(
        pd.Categorical.from_codes(codes, dtype=SEVERITY), index=values.index, name=values.name
    )


def _missing(
    kind: str, index: pd.Index, default: object = None, column: str = "", frame: str = ""
) -> pd.Series:
    """A column absent from a frame, at the dtype of ``kind``: all NA, or all ``default``.

    The same values and dtype as casting ``[default] * len(index)`` with :func:`_cast`.
    """
    n = len(index)
    if default is not None:
        if kind == "category" and isinstance(default, str) and default != "":
            codes = np.zeros(n, dtype=np.int8)
            return pd.Series(pd.Categorical.from_codes(codes, categories=[default]), index=index)
        if kind == "string" and isinstance(default, str):
            return pd.Series(pd.array([default] * n, dtype=STRING), index=index)
        values = pd.Series([default] * n, index=index, dtype="object")
        return _cast(values, kind, column, frame)
    if kind == "time":
        return pd.Series(pd.NaT, index=index, dtype=TIME)
    if kind == "category":
        codes = np.full(n, -1, dtype=np.int8)
        return pd.Series(
            pd.Categorical.from_codes(codes, categories=pd.Index([], dtype=object)), index=index
        )
    if kind == "severity":
        codes = np.full(n, -1, dtype=np.int8)
        return pd.Series(pd.Categorical.from_codes(codes, dtype=SEVERITY), index=index)
    if kind == "string":
        return pd.Series(pd.array([None] * n, dtype=STRING), index=index)
    if kind == "float":
        return pd.Series(np.full(n, np.nan), index=index)
    if kind == "int":
        values = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
        values[:] = pd.NA
        return pd.Series(values, index=index)
    return pd.Series([None] * n, index=index, dtype="object")


def conform(frame: str, df: pd.DataFrame | None, **defaults: object) -> pd.DataFrame:
    """Cast ``df`` to the contract of ``frame``: add missing columns, fix dtypes, order columns.

    ``defaults`` fill columns that are missing or entirely empty (for example
    ``origin="pods.json"``). Contract columns come first in contract order, then the extra
    columns in their given order (extra metrics labels become categories). Key parts that are
    ``""`` become ``NA``.

    Raises
    ------
    SchemaError
        When a column cannot be converted (text that is not a timestamp, naive datetimes,
        a severity outside :data:`SEVERITIES`).

    Examples
    --------
    >>> df = conform("logs", pd.DataFrame({"message": ["hi"], "namespace": ["shop"]}))
    >>> str(df["timestamp"].dtype), str(df["namespace"].dtype)
    ('datetime64[ns, UTC]', 'category')
    """
    spec = _spec(frame)
    df = pd.DataFrame() if df is None else df
    n = len(df)
    index = df.index if n else pd.RangeIndex(0)
    out: dict[str, pd.Series] = {}
    for column, kind in spec.items():
        default = defaults.get(column)
        if column not in df.columns:
            # built at its dtype at once: casting a million Nones costs more than the parse
            out[column] = _missing(kind, index, default if n else None, column, frame)
            continue
        values = df[column]
        if default is not None and n:
            if isinstance(values.dtype, pd.CategoricalDtype):
                if default not in values.cat.categories:
                    values = values.cat.add_categories([default])
                values = values.fillna(default)
            else:
                values = values.where(values.notna(), default)
        out[column] = _cast(values, kind, column, frame)
    for column in df.columns:
        if column in spec:
            continue
        values = df[column]
        if frame in _EXTRA_AS_CATEGORY and not isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("category")
        out[column] = values
    result = pd.DataFrame(out, index=index, copy=False)
    return result.reset_index(drop=True)


def validate(frame: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the contract of ``frame`` and return it unchanged.

    Raises
    ------
    SchemaError
        Listing every column that is missing or has the wrong dtype, and key parts that are
        ``""`` instead of ``NA``.

    Examples
    --------
    >>> validate("logs", empty("logs")).shape
    (0, 15)
    """
    spec = _spec(frame)
    if not isinstance(df, pd.DataFrame) or type(df) is not pd.DataFrame:
        raise SchemaError(f"{frame} must be a plain pandas DataFrame, got {type(df).__name__}")
    problems: list[str] = []
    for column, kind in spec.items():
        if column not in df.columns:
            problems.append(f"missing column {column!r}")
            continue
        dtype = df[column].dtype
        if not _dtype_matches(dtype, kind):
            problems.append(f"{column!r} is {dtype}, expected {_DTYPES[kind]}")
        elif column in KEY and "" in df[column].cat.categories:
            problems.append(f"{column!r} holds '' where a missing part must be NA")
    if problems:
        raise SchemaError(
            f"{frame} frame does not match the obskit schema: {'; '.join(problems)}. "
            f"obskit.schema.conform({frame!r}, df) fixes dtypes and adds missing columns."
        )
    return df


def _dtype_matches(dtype: object, kind: str) -> bool:
    if kind == "time":
        return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype) == TIME
    if kind == "category":
        return isinstance(dtype, pd.CategoricalDtype)
    if kind == "severity":
        return isinstance(dtype, pd.CategoricalDtype) and list(dtype.categories) == list(SEVERITIES)
    if kind == "string":
        return isinstance(dtype, pd.StringDtype)
    if kind == "float":
        return dtype == np.float64
    if kind == "int":
        return str(dtype) == "Int64"
    return dtype == np.dtype(object)


def entity_name(
    row: Mapping[str, object],
    kind: str | None = None,
    *,
    namespace: bool = True,
    words: bool = False,
) -> str:
    """The name of the entity a row of key columns is about, as obskit writes it everywhere.

    The name is the path down the key to the entity, its missing parts left out:
    ``namespace/workload``, ``namespace/pod``, ``namespace/pod/container``, or the node, the
    namespace or the cluster alone.

    Parameters
    ----------
    row
        A mapping with key columns (a dict, or a frame's row as a ``pd.Series``); missing
        parts may be absent, ``None``, ``NA``, ``NaN`` or ``""``.
    kind
        The kind of entity, one of :data:`ENTITY_KINDS` (a suspect's ``entity_kind``). ``None``
        (or a missing value) takes the finest the row names, in the order of
        :data:`ENTITY_KINDS`: its container (when it names a pod too), pod, workload, node,
        namespace, then cluster.
    namespace
        Whether a namespaced entity's name starts with its namespace (a timeline's legend leaves
        it out: its hover has it).
    words
        Say the kind first, as a sentence names it: ``pod shop/api-1``, ``Deployment
        shop/api`` (the workload's kind), ``container server of pod shop/api-1``, ``node n1``.

    Returns
    -------
    str
        The name; ``""`` when the row names nothing of that kind.

    Raises
    ------
    SchemaError
        ``kind`` is not one of :data:`ENTITY_KINDS`.

    Examples
    --------
    >>> row = {"namespace": "shop", "workload_kind": "Deployment", "workload": "api",
    ...        "pod": "api-1", "container": "server", "node": "n1"}
    >>> entity_name(row)
    'shop/api-1/server'
    >>> entity_name(row, "pod"), entity_name(row, "workload"), entity_name(row, "node")
    ('shop/api-1', 'shop/api', 'n1')
    >>> entity_name(row, namespace=False)
    'api-1/server'
    >>> entity_name(row, "workload", words=True)
    'Deployment shop/api'
    >>> entity_name(row, "container", words=True)
    'container server of pod shop/api-1'
    >>> entity_name({"node": "n1", "cluster": "prod"}), entity_name({"pod": None})
    ('n1', '')
    """
    if _absent(kind):
        for kind in ENTITY_KINDS:  # the finest kind the row names
            if _names(row, kind):
                break
        else:
            return ""
    elif kind not in _ENTITY_PATH:
        raise SchemaError(
            f"entity_name: kind must be one of {', '.join(ENTITY_KINDS)} (or None to take the "
            f"finest the row names), got {kind!r}"
        )
    path = _ENTITY_PATH[kind] if namespace else _ENTITY_PATH_SHORT[kind]
    name = "/".join([str(v) for c in path if not _absent(v := row.get(c))])
    if not words or not name:
        return name
    if kind == "container" and not _absent(container := row.get("container")):
        pod = "/".join(str(v) for c in path[:-1] if not _absent(v := row.get(c)))
        return f"container {container} of pod {pod}"
    if kind == "workload":
        said = row.get("workload_kind")
        return f"{'workload' if _absent(said) else said} {name}"
    return f"{'pod' if kind == 'container' else kind} {name}"


# the key columns that name an entity of each kind, coarse to fine
_ENTITY_PATH: dict[str, tuple[str, ...]] = {
    "container": ("namespace", "pod", "container"),
    "pod": ("namespace", "pod"),
    "workload": ("namespace", "workload"),
    "node": ("node",),
    "namespace": ("namespace",),
    "cluster": ("cluster",),
}
_ENTITY_PATH_SHORT = {
    kind: tuple(c for c in path if c != "namespace") or path for kind, path in _ENTITY_PATH.items()
}


def _names(row: Mapping[str, object], kind: str) -> bool:
    """Whether the row names an entity of ``kind`` (a container needs its pod too)."""
    return not _absent(row.get(kind)) and (kind != "container" or not _absent(row.get("pod")))


def _absent(value: object) -> bool:
    """None, NA, NaN or "": a key part a row does not have."""
    if isinstance(value, str):
        return not value
    return value is None or value is pd.NA or value is pd.NaT or value != value


def key_frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Build a frame of key columns from mappings (missing parts become NA)."""
    return pd.DataFrame.from_records(list(rows), columns=list(KEY))


def concat(frame: str, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack frames of one kind, keeping category columns categorical (categories unioned).

    Examples
    --------
    >>> a = conform("logs", pd.DataFrame({"namespace": ["a"]}))
    >>> b = conform("logs", pd.DataFrame({"namespace": ["b"]}))
    >>> concat("logs", [a, b])["namespace"].cat.categories.tolist()
    ['a', 'b']
    """
    parts = [p for p in parts if p is not None and len(p.columns)]
    if not parts:
        return empty(frame)
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    columns: list[str] = []
    for p in parts:
        columns += [c for c in p.columns if c not in columns]
    out: dict[str, object] = {}
    for column in columns:
        pieces = [
            p[column] if column in p.columns else pd.Series([None] * len(p), dtype="object")
            for p in parts
        ]
        cats = [s for s in pieces if isinstance(s.dtype, pd.CategoricalDtype)]
        if cats and len(cats) == len(pieces) and not any(s.cat.ordered for s in cats):
            # categories of all-missing columns have no dtype of their own: give them str's
            pieces = [
                s.cat.set_categories(pd.Index([], dtype=STRING_CATS))
                if len(s.cat.categories) == 0
                else s
                for s in pieces
            ]
            try:
                out[column] = pd.Series(pd.api.types.union_categoricals(pieces, ignore_order=True))
            except TypeError:  # categories of different dtypes (numbers and text)
                out[column] = pd.concat(
                    [s.astype("object") for s in pieces], ignore_index=True
                ).astype("category")
        elif cats:
            dtype = cats[0].dtype
            if dtype.ordered and len(cats) == len(pieces) and all(s.dtype == dtype for s in cats):
                # one scale (the severities): its codes mean the same in every piece
                codes = np.concatenate([s.cat.codes.to_numpy() for s in cats])
                out[column] = pd.Series(pd.Categorical.from_codes(codes, dtype=dtype))
            elif dtype.ordered:
                out[column] = pd.Series(
                    pd.Categorical(
                        pd.concat([s.astype("object") for s in pieces], ignore_index=True),
                        dtype=dtype,
                    )
                )
            else:
                out[column] = pd.concat(
                    [s.astype("object") for s in pieces], ignore_index=True
                ).astype("category")
        else:
            non_empty = [s for s in pieces if len(s)]
            out[column] = pd.concat(non_empty or pieces, ignore_index=True)
    # every column is new (or, under copy-on-write, shared safely): not copied once more
    return conform(frame, pd.DataFrame(out, copy=False))
