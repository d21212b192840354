"""Evidence bundles: an Investigation saved to a folder, read back exactly, with no cluster.

A bundle is a folder holding one Parquet file per frame (``metrics``, ``events``, ``logs``,
``inventory``, ``rejects``, the ``files`` ledger, and a live watch's ``changes`` when it has
them) and a ``manifest.json`` that says what it
is: obskit's version, when it was written, the window, the cluster, the provenance (each query or
file the investigation was made from, with its rows), the notes and the coverage gaps, the row
count and SHA-256 of every file. Credentials are never in it: live sources record their URLs
without credentials, and :func:`save` refuses to write a manifest (provenance, notes) with a
value that looks like one (``Authorization:``, ``Bearer <token>``, a ``user:password@`` URL).
The frames are the evidence and are saved as they are.

:func:`read` (and :func:`obskit.load` given a bundle folder) verifies every hash and refuses a
bundle whose files were changed, added to the manifest's list, or removed, so a post-incident
review works on exactly what was collected.

Layout
------
Each frame's rows over :data:`ROW_GROUP` are written grouped by key: within each stretch of
:data:`STRETCH` row groups, sorted by namespace then node (in their order within), with each
row's place in the frame in the column :data:`ROW`, which a read restores the order from and
drops. A row group then spans few namespaces, so a read for one skips the others' row groups by
their statistics; a window skips the stretches outside it (layout version 2; version 1 kept the
rows in order and is still read).

Exactness
---------
Parquet keeps the dtypes obskit uses (``category`` with its categories and order,
``datetime64[ns, UTC]``, ``string``, ``Int64``, floats, bools). Columns of Python objects (an
inventory's ``labels``, ``containers`` and ``raw``; mixed columns of some sources) are written
as JSON text with a tag for what JSON lacks (timestamps, NaN, NA), and decoded on read. An empty
category column's category dtype is kept in the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit.errors import FormatError, SourceError
from obskit.schema import STRING, STRING_CATS

__all__ = ["MANIFEST", "is_bundle", "read", "save"]

#: The manifest's file name inside a bundle folder.
MANIFEST = "manifest.json"
#: What the manifest's ``"format"`` says, and the layout version this module writes.
FORMAT = "obskit-evidence-bundle"
VERSION = 2
#: The layout versions this module reads: 1 kept each frame's rows in their order; 2 groups
#: them by key (see :data:`ROW`).
READS = (1, 2)
#: Rows a Parquet row group of a bundle holds at most.
ROW_GROUP = 64 * 1024
#: Row groups a stretch of a frame spans whose rows are written grouped by namespace and
#: node, so each row group holds few of them (a frame's stretches follow its order: time).
STRETCH = 4
#: The column of a keyed frame's file that holds each row's place in the frame, which a read
#: puts the rows back in.
ROW = "__obskit_row"
#: The frames written grouped by key, and the key columns, in the order they are sorted by.
KEYED = ("metrics", "events", "logs", "inventory", "changes")
SORT_KEYS = ("namespace", "node")
#: The frames a bundle holds, each in ``<name>.parquet``.
FRAMES = ("metrics", "events", "logs", "inventory", "rejects", "files")
#: Frames a bundle holds when the investigation has them (a watch's change log); a bundle
#: without them reads back with them empty.
OPTIONAL_FRAMES = ("changes",)
#: The prefix of the notes that record a coverage gap (see :mod:`obskit.live.collection`).
GAP = "coverage gap: "

_CREDENTIAL = re.compile(
    r"(?i)(authorization\s*[:=]|bearer\s+[A-Za-z0-9._~+/-]{8,}|://[^/\s:@]+:[^/\s@]+@)"
)


def is_bundle(path: str | Path) -> bool:
    """True when ``path`` is a folder with a bundle manifest.

    Examples
    --------
    >>> is_bundle("no/such/folder")
    False
    """
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        return False
    try:
        return orjson.loads(manifest.read_bytes()).get("format") == FORMAT
    except (orjson.JSONDecodeError, AttributeError, OSError):
        return False


def save(inv, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``inv`` as an evidence bundle in the folder ``path``; return the folder.

    Parameters
    ----------
    inv : Investigation
        What to save.
    path
        A folder that does not exist yet, or is empty (or a bundle, with ``overwrite=True``).
    overwrite
        Replace the bundle already at ``path``.

    Raises
    ------
    SourceError
        When ``path`` holds other files, or is a bundle and ``overwrite`` is False.
    FormatError
        When the provenance or the notes hold something that looks like a credential.

    Examples
    --------
    >>> import obskit, tempfile
    >>> inv = obskit.Investigation()
    >>> folder = save(inv, tempfile.mkdtemp() + "/bundle")
    >>> obskit.load(folder).summary()["rows"].tolist()
    [0, 0, 0, 0, 0]
    """
    notes = list(inv.notes)
    provenance = [{k: _plain(v) for k, v in row.items()} for row in inv.files.to_dict("records")]
    _refuse_text(orjson.dumps([notes, provenance]).decode(), "the notes or the provenance")
    folder = Path(path)
    if folder.exists():
        existing = [p for p in folder.iterdir()] if folder.is_dir() else [folder]
        if existing and not (overwrite and is_bundle(folder)):
            raise SourceError(
                f"{str(folder)!r} already exists and is not empty; choose a new folder"
                + (" or pass overwrite=True" if is_bundle(folder) else "")
            )
        for old in existing:
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict] = {}
    schema_info: dict[str, dict] = {}
    written = [*FRAMES, *(n for n in OPTIONAL_FRAMES if len(getattr(inv, n)))]
    for name in written:
        frame = getattr(inv, name)
        encoded, info = _encode(frame)
        if name in KEYED:
            encoded = _grouped(encoded)
        file = folder / f"{name}.parquet"
        # row groups of a bounded size: a windowed read skips those outside the window
        encoded.to_parquet(
            file, engine="pyarrow", index=False, compression="zstd", row_group_size=ROW_GROUP
        )
        files[file.name] = {"frame": name, "rows": len(frame), "sha256": _sha256(file)}
        schema_info[name] = info
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "obskit_version": _version(),
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "cluster": inv.cluster,
        "window": {"start": _iso(inv.start), "end": _iso(inv.end)},
        "time_span": dict(zip(("start", "end"), map(_iso, inv.time_span()), strict=True)),
        "rows": {name: len(getattr(inv, name)) for name in written},
        "provenance": provenance,
        "coverage_gaps": [n[len(GAP) :] for n in notes if n.startswith(GAP)],
        "notes": notes,
        "files": files,
        "columns": schema_info,
    }
    text = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
    (folder / MANIFEST).write_bytes(text)
    return folder


def read(
    path: str | Path,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
):
    """Read the evidence bundle in folder ``path`` back into the Investigation it was.

    ``start`` and ``end`` (UTC) read only the signal rows of that window, and ``where`` (key
    column -> values) only the rows of every frame whose key columns hold those values: the
    filters are pushed down to the Parquet files, whose row groups are skipped unread when
    their statistics (each column's least and greatest value) show no row can match. A
    bundle's signal frames are written in time order, each stretch of :data:`STRETCH` row
    groups grouped by namespace and node (in time order within), so a window skips the
    stretches outside it and a namespace (or a node in it) most row groups of the rest. Bundles of
    layout version 1 (rows in their order, not grouped) read the same, skipping less. The rows
    come back in the frame's order either way. Rejects and the ledger are read whole; narrow
    the result with :meth:`~obskit.Investigation.window` for the window's inventory.

    Raises
    ------
    FormatError
        When the manifest is unreadable, a file is missing, or a file's SHA-256 differs from
        the manifest's (the bundle was changed after it was written).

    Examples
    --------
    >>> import obskit, tempfile
    >>> folder = obskit.Investigation(cluster="prod").save(tempfile.mkdtemp() + "/b")
    >>> read(folder).cluster
    'prod'
    """
    from obskit.investigation import Investigation

    folder = Path(path)
    manifest_path = folder / MANIFEST
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise FormatError(
            f"{str(manifest_path)!r} is not a readable bundle manifest ({exc}); a bundle is "
            f"written by inv.save(folder)"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise FormatError(f"{str(manifest_path)!r} is not an obskit evidence bundle manifest")
    if manifest.get("version") not in READS:
        raise FormatError(
            f"{str(folder)!r} is a bundle of layout version {manifest.get('version')!r}; this "
            f"obskit reads versions {', '.join(map(str, READS))}: read it with the obskit "
            f"that wrote it "
            f"({manifest.get('obskit_version')})"
        )
    listed = manifest.get("files") or {}
    missing = sorted(set(f"{n}.parquet" for n in FRAMES) - set(listed))
    if missing:
        raise FormatError(f"the manifest of {str(folder)!r} does not list {missing}")
    frames: dict[str, pd.DataFrame] = {}
    for file_name, entry in sorted(listed.items()):
        file = folder / file_name
        if not file.is_file():
            raise FormatError(
                f"bundle {str(folder)!r} lacks {file_name!r}, which its manifest lists; the "
                f"bundle is incomplete: copy it again from where it was written"
            )
        digest = _sha256(file)
        if digest != entry.get("sha256"):
            raise FormatError(
                f"bundle {str(folder)!r} was changed after it was written: {file_name!r} has "
                f"SHA-256 {digest}, its manifest says {entry.get('sha256')}; refusing to read "
                f"it. Use the original bundle"
            )
        name = entry["frame"]
        window = (start, end) if name in ("metrics", "events", "logs") else (None, None)
        keys = where if name not in ("rejects", "files") else None
        frames[name] = _decode(_read_frame(file, *window, keys), manifest["columns"][name], name)
    window = manifest.get("window") or {}
    return Investigation._from_parts(
        {name: frames[name] for name in ("metrics", "events", "logs", "inventory")},
        cluster=manifest.get("cluster"),
        rejects=frames["rejects"],
        files=frames["files"],
        notes=list(manifest.get("notes") or []),
        enrich_now=False,
        window=(_timestamp(window.get("start")), _timestamp(window.get("end"))),
        changes=frames.get("changes"),
    )


# --- helpers -----------------------------------------------------------------------------------


def _read_frame(
    file: Path,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    where: Mapping[str, Sequence[str]] | None,
) -> pd.DataFrame:
    """One frame's Parquet file, its rows in their order in the frame: with a window or key
    values, only the row groups whose statistics allow a matching row (:func:`_row_groups`,
    :func:`_key_groups`), and of them the rows that match."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    dataset = ds.dataset(file, format="parquet")
    names = set(dataset.schema.names)
    terms = []
    stamp = pa.timestamp("ns", tz="UTC")
    if start is not None and "timestamp" in names:
        terms.append(ds.field("timestamp") >= pa.scalar(start.value, type=stamp))
    if end is not None and "timestamp" in names:
        terms.append(ds.field("timestamp") <= pa.scalar(end.value, type=stamp))
    for column, values in (where or {}).items():
        if column in names:
            terms.append(ds.field(column).isin(list(values)))
    if not terms:
        return _in_order(pd.read_parquet(file, engine="pyarrow"))
    condition = terms[0]
    for term in terms[1:]:
        condition = condition & term
    parquet = pq.ParquetFile(file)
    groups = _row_groups(dataset, condition)
    if where:
        keep = _key_groups(parquet.metadata, {c: v for c, v in where.items() if c in names})
        groups = [g for g in groups if g in keep]
    table = parquet.read_row_groups(groups, use_pandas_metadata=True)
    return _in_order(table.filter(condition).to_pandas())


def _grouped(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows grouped by key for writing: within each stretch of :data:`STRETCH`
    row groups, sorted by :data:`SORT_KEYS` (text order, as Parquet's statistics compare),
    then in their order (time, for the signals), with their places in :data:`ROW`. A row
    group then spans few namespaces and nodes, and a read for one skips the others' row
    groups; a window still skips the stretches outside it and, in one namespace's rows of a
    stretch, the row groups outside it."""
    keys = [c for c in SORT_KEYS if c in frame.columns]
    n = len(frame)
    if not keys or n <= ROW_GROUP:
        return frame
    place = np.arange(n, dtype=np.int64)
    levels = [place]  # np.lexsort: the last key sorts first
    for column in reversed(keys):
        levels.append(_text_rank(frame[column]))
    levels.append(place // (ROW_GROUP * STRETCH))
    order = np.lexsort(levels)
    grouped = frame.take(order).reset_index(drop=True)
    grouped[ROW] = order
    return grouped


def _text_rank(values: pd.Series) -> np.ndarray:
    """Each value's rank in text order (missing values last)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories.astype(str)
        rank = np.empty(len(categories) + 1, dtype=np.int64)
        rank[np.argsort(np.asarray(categories, dtype=object), kind="stable")] = np.arange(
            len(categories)
        )
        rank[-1] = len(categories)  # code -1, a missing value
        return rank[values.cat.codes.to_numpy()]
    codes, _ = pd.factorize(values.astype("object"), sort=True)
    return np.where(codes < 0, codes.max() + 1, codes).astype(np.int64)


def _in_order(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame read from its file with its rows back in the frame's order (a file written
    grouped by key holds their places in :data:`ROW`; an older one is in order)."""
    if ROW not in frame.columns:
        return frame
    order = np.argsort(frame[ROW].to_numpy(), kind="stable")
    return frame.drop(columns=ROW).take(order).reset_index(drop=True)


def _key_groups(metadata, where: Mapping[str, Sequence[str]]) -> set[int]:
    """The row groups whose statistics allow a row holding the ``where`` values: a group is
    left out when, for a column ``where`` names, no wanted value lies between the column's
    least and greatest value there, or the column holds no value there.

    pyarrow's own pruning (:func:`_row_groups`) does not do this for category columns: they
    are written dictionary-encoded with their least and greatest values, but the dataset
    reads them as dictionary fields, whose statistics it does not compare with a filter."""
    schema = metadata.schema
    index = {schema.column(i).name: i for i in range(len(schema))}
    keep = set()
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        possible = True
        for column, values in where.items():
            if column not in index:
                continue
            stats = row_group.column(index[column]).statistics
            if stats is None:
                continue  # unknown: read it
            if not stats.has_min_max:
                possible = stats.null_count != row_group.num_rows  # only missing values
            else:
                low, high = stats.min, stats.max
                possible = any(low <= value <= high for value in values)
            if not possible:
                break
        if possible:
            keep.add(group)
    return keep


def _row_groups(dataset, condition) -> list[int]:
    """The row groups of a one-file Parquet dataset whose statistics allow a row matching
    ``condition`` (pyarrow's pruning: those whose least and greatest values rule it out are
    left out)."""
    return [
        group.id
        for fragment in dataset.get_fragments()
        for part in fragment.split_by_row_group(condition)
        for group in part.row_groups
    ]


def _version() -> str:
    from obskit._version import __version__

    return __version__


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None or ts is pd.NaT else pd.Timestamp(ts).isoformat()


def _timestamp(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text)


def _plain(value: object) -> object:
    """A ledger cell as JSON can hold it."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _encode(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The frame with object columns as tagged JSON text, and what it takes to undo that."""
    # "text": this pandas' dtype of text categories ("object" before pandas 3, "str" since)
    info: dict[str, object] = {"json": [], "categories": {}, "text": str(STRING_CATS)}
    columns = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            info["json"].append(column)
            values = pd.Series(
                [orjson.dumps(_tag(v)).decode() for v in values], index=frame.index, dtype=object
            )
        elif isinstance(values.dtype, pd.CategoricalDtype):
            info["categories"][column] = str(values.cat.categories.dtype)
        columns[column] = values
    return pd.DataFrame(columns, index=frame.index), info


_CONTRACT_FRAMES = frozenset({"metrics", "events", "logs", "inventory"})


def _scale(name: str, column: str) -> pd.CategoricalDtype | None:
    """The contract's fixed categories of a frame's column (the severity scale), if any."""
    if name not in _CONTRACT_FRAMES or column not in schema.empty(name).columns:
        return None
    dtype = schema.empty(name)[column].dtype
    has = isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories)
    return dtype if has else None


def _decode(frame: pd.DataFrame, info: dict, name: str = "") -> pd.DataFrame:
    for column in frame.columns:
        # pandas < 3 reads Parquet's text back in its default string storage, python
        if frame[column].dtype == pd.StringDtype("python"):
            frame[column] = frame[column].astype(STRING)
    for column in info.get("json", []):
        frame[column] = pd.Series(
            [_untag(orjson.loads(text)) for text in frame[column]], index=frame.index, dtype=object
        )
    # text categories written by another pandas ("object" before 3, "str" since) are read in
    # this one's, as every frame it makes has them
    here = str(STRING_CATS)
    theirs = info.get("text", here)
    for column, dtype in info.get("categories", {}).items():
        values = frame[column]
        target = here if dtype == theirs else dtype
        scale = _scale(name, column)
        if scale is not None and not values.notna().any():
            # a column of no values comes back without its categories (Parquet's null type,
            # or a dictionary of none): a severity keeps its ordered scale, which
            # "severity >= 'warning'" compares against
            frame[column] = values.astype(scale)
            continue
        if not isinstance(values.dtype, pd.CategoricalDtype):
            # a column of no values is written with Parquet's null type, not as a dictionary
            values = values.astype(pd.CategoricalDtype(pd.Index([], dtype=target)))
            frame[column] = values
        categories = values.cat.categories
        if target != dtype and categories.inferred_type not in ("string", "empty"):
            target = dtype  # the writer's default dtype, but not text: as written
        if str(categories.dtype) != target:
            frame[column] = pd.Categorical.from_codes(
                values.cat.codes,
                categories=pd.Index(list(categories), dtype=target),
                ordered=values.cat.ordered,
            )
    return frame


def _tag(value: object) -> object:
    """A cell as JSON, with tags for what JSON has no value for."""
    if value is None:
        return None
    if value is pd.NA:
        return {"$na": True}
    if value is pd.NaT:
        return {"$nat": True}
    if isinstance(value, pd.Timestamp):
        return {"$ts": value.value, "tz": str(value.tz) if value.tz else None}
    if isinstance(value, dt.datetime):
        return {"$ts": pd.Timestamp(value).value, "tz": str(value.tzinfo) if value.tzinfo else None}
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return {"$float": repr(float(value))}
    if isinstance(value, np.generic):
        return _tag(value.item())
    if isinstance(value, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in value):
            return {"$dict": {k: _tag(v) for k, v in value.items()}}
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tag(v) for v in value]
    return value


def _untag(value: object) -> object:
    if isinstance(value, dict):
        if "$na" in value:
            return pd.NA
        if "$nat" in value:
            return pd.NaT
        if "$ts" in value:
            ts = pd.Timestamp(value["$ts"], unit="ns")
            return ts.tz_localize("UTC").tz_convert(value["tz"]) if value.get("tz") else ts
        if "$float" in value:
            return float(value["$float"])
        if "$dict" in value:
            return {k: _untag(v) for k, v in value["$dict"].items()}
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _refuse_text(text: str, where: str) -> None:
    match = _CREDENTIAL.search(text)
    if match:
        raise FormatError(
            f"{where} would hold what looks like a credential ({match.group(0)[:12]}...); a "
            f"bundle never holds credentials: remove it from the investigation's notes or "
            f"ledger before saving"
        )
