"""The Investigation: the four frames an analyst holds, on one key, with what was not read.

:func:`load` reads files, folders (walked recursively), globs or lists of them; each file's
format is detected by its content. Every file gets a row in ``inv.files`` (the ledger: records
read, rows made, rejects, lines merged, and whether it balances); unreadable records are in
``inv.rejects``. The inventory's owner chains are resolved and every signal row's key is
completed from it (:mod:`obskit.enrich`).

A folder may hold an ``obskit.json`` manifest; its ``"cluster"`` names the cluster for rows
whose source does not say. It and a bundled incident's ``truth.json`` are listed in the ledger
as ``metadata``, not as skipped files.
"""

from __future__ import annotations

import dataclasses
import difflib
import glob as globlib
import json
import lzma
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from obskit import schema
from obskit._time import as_utc
from obskit.enrich import enrich, observed_nodes, resolve_workloads
from obskit.errors import InvestigationError, SchemaError, SourceError, UnknownFormatError
from obskit.sources import get_format, parse_file, read_file
from obskit.sources._base import (
    SNIFF_BYTES,
    ParseResult,
    Tally,
    compression,
    decode_head,
    detect,
    first_record,
    may_hold_far_out,
    reject_far_out_times,
    stream_lines,
    taken_text,
)
from obskit.sources.audit import WINDOW_PIECE_BYTES as AUDIT_PIECE_BYTES
from obskit.sources.audit import read_audit_window
from obskit.sources.cri import (
    BATCH_BYTES,
    BATCH_FILE_BYTES,
    WINDOW_PIECE_BYTES,
    CriFiles,
    cri_span,
    parse_cri_files,
    path_key,
    read_cri_window,
)

__all__ = ["Investigation", "load"]

#: The first group of a run of small CRI files sent to be parsed while the next are read:
#: small, so that parsing starts soon after the reading does.
FIRST_GROUP_BYTES = 8 << 20

_SIGNALS = ("metrics", "events", "logs")
_FRAMES = (*_SIGNALS, "inventory")
MANIFEST = "obskit.json"
#: Files in a loaded folder that describe it rather than hold telemetry (listed, not skipped).
METADATA_FILES = frozenset({MANIFEST, "truth.json"})
#: The columns of ``Investigation.files``, the per-file ledger.
FILES_COLUMNS = [
    "origin",
    "format",
    "status",
    "records",
    "rows",
    "rejects",
    "merged",
    "balanced",
    "note",
]

TimeLike = str | pd.Timestamp | None


@dataclass
class _Parts:
    frames: dict[str, list[pd.DataFrame]] = field(
        default_factory=lambda: {name: [] for name in (*_FRAMES, "rejects")}
    )
    files: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The load's window: signal rows outside it are left out as each file is added, so that
    #: memory holds what the window keeps, not every file's rows until the end.
    window: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None)
    #: The load's key values (``where``): signal rows that hold another namespace or pod, or
    #: (when enrichment learns nothing from them) another node or container, are left out
    #: as each file is added too.
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Signal rows left out by the window, by origin (taken off their files' ledger rows).
    left_out: dict[str, int] = field(default_factory=dict)
    #: Signal rows left out by ``where``, by origin (taken off their files' ledger rows).
    other_keys: dict[str, int] = field(default_factory=dict)

    def add(self, path: Path, fmt: str, result: ParseResult) -> None:
        """One file's frames, ledger row and notes."""
        tally = _tally(result)
        self.add_frames(result)
        self.files.append(_ledger(path, fmt, "loaded", tally))
        self.notes += [f"{path}: {note}" for note in result.notes]

    def add_frames(self, result: ParseResult) -> None:
        for name in (*_FRAMES, "rejects"):
            frame = getattr(result, name)
            if frame is not None and len(frame):
                if name in _SIGNALS and (self.window != (None, None) or self.where):
                    frame = self._inside(frame)
                self.frames[name].append(frame)

    def _inside(self, signals: pd.DataFrame) -> pd.DataFrame:
        """A signal frame (logs, events, metrics) without the rows outside the window that
        the load needs nothing from, counted by origin. Rows outside stay when enrichment
        learns where pods ran from them (:func:`obskit.enrich.observed_nodes`: a row naming
        its pod's node itself, a scheduler's ``Scheduled`` Event), and audit rows stay (a
        request's final stage is marked over all its rows, see :func:`_final_audit_stages`);
        the window drops them at the end.

        With ``where``, rows whose namespace or pod is another (never overwritten, and what
        enrichment learns from a row only serves rows of the same namespace and pod) are left
        out too, and so are rows of another node or container that enrichment learns nothing
        from; rows missing the value, and ``Scheduled`` Events, stay, for enrichment to fill
        and learn from and the load to filter."""
        lo, hi = self.window
        stamps = signals["timestamp"]
        keep = np.ones(len(signals), dtype=bool)
        if lo is not None:
            keep &= (stamps >= lo).to_numpy()
        if hi is not None:
            keep &= (stamps <= hi).to_numpy()
        learns = (
            (signals["key_source"] == "record") & signals["pod"].notna() & signals["node"].notna()
        ).to_numpy()
        scheduled = np.zeros(len(signals), dtype=bool)
        if "reason" in signals.columns:  # its message names the pod and node it speaks of
            scheduled = (signals["reason"] == "Scheduled").to_numpy(dtype=bool, na_value=False)
            learns = learns | scheduled
        if not keep.all():
            keep |= learns
            if "source" in signals.columns:
                keep |= (signals["source"] == "audit").to_numpy(dtype=bool, na_value=False)
            self._count(self.left_out, signals, ~keep)
        other = np.zeros(len(signals), dtype=bool)
        for column in ("namespace", "pod", "node", "container"):
            if column in self.where:
                values = signals[column]
                differs = (values.notna() & ~values.isin(list(self.where[column]))).to_numpy()
                other |= differs if column in ("namespace", "pod") else differs & ~learns
        other &= keep & ~scheduled
        if other.any():
            self._count(self.other_keys, signals, other)
            keep &= ~other
        if keep.all():
            return signals
        return signals.loc[keep].reset_index(drop=True)

    @staticmethod
    def _count(counts: dict[str, int], frame: pd.DataFrame, rows: np.ndarray) -> None:
        """Add the ``rows`` of ``frame`` left out to ``counts``, by origin."""
        for origin, n in frame.loc[rows, "origin"].astype(str).value_counts().items():
            counts[origin] = counts.get(origin, 0) + int(n)

    def ledger(self) -> pd.DataFrame:
        """The ledger rows, each file's rows left out by the window taken off its counts."""
        for row in self.files:
            for counts, why in (
                (self.left_out, "outside the window"),
                (self.other_keys, "of other key values (where)"),
            ):
                n = counts.get(row["origin"], 0)
                if n:
                    note = f"{n:,} row(s) {why} left out as read"
                    row["records"] -= n
                    row["rows"] -= n
                    row["note"] = f"{row['note']}; {note}" if row["note"] else note
        return pd.DataFrame(self.files, columns=FILES_COLUMNS)


@dataclass
class _Group:
    """Small CRI log files to parse together: their bytes and origins
    (:class:`obskit.sources.cri.CriFiles`), their paths, and whether each was named."""

    files: CriFiles = field(default_factory=CriFiles)
    paths: list[Path] = field(default_factory=list)
    explicit: list[bool] = field(default_factory=list)

    def add(self, path: Path, data: bytes, explicit: bool) -> None:
        self.files.add(data, str(path))
        self.paths.append(path)
        self.explicit.append(explicit)


@dataclass
class _Buffers:
    """The buffers a load's groups of CRI files are written into as they are read
    (:class:`obskit.sources.cri.CriFiles`), kept from one group to the next: a 64 MB group
    joined into new memory faults in 16k fresh pages, a buffer kept is faulted in once, and
    each file's bytes go as soon as they are in it (a group's first file is moved in when
    the second comes: a file alone keeps its bytes as read). Two are in use at most (the
    group being read while the one before parses on the pool; at the end, the last group
    parsed on the calling thread while the pool parses the one before it)."""

    free: list[bytearray] = field(default_factory=list)

    def take(self) -> bytearray:
        """A kept buffer that nothing holds a view of, else a new (empty) one."""
        while self.free:
            buffer = self.free.pop()
            if _unshared(buffer):
                return buffer
        return bytearray()

    def give(self, buffer: bytearray) -> None:
        """``buffer`` back, for a later group."""
        self.free.append(buffer)


def _unshared(buffer: bytearray) -> bool:
    """Whether nothing holds a view of ``buffer`` (a frame's array, a NumPy view): a
    bytearray cannot be resized while something does, so its last byte is taken off and put
    back. A buffer written over must be unshared, or another group's rows would change."""
    if not buffer:
        return True
    try:
        buffer.append(buffer.pop())  # the last byte: nothing moves, even when refused
    except BufferError:
        return False
    return True


@dataclass
class _Batch:
    """Small CRI log files met one after another, parsed together in one pass
    (:func:`obskit.sources.cri.parse_cri_files`): a node's folder of a few thousand small
    files then costs about what one file of the same lines does, not a parse each.

    A run of files is parsed in groups of up to :data:`BATCH_BYTES`; with a ``pool``, each
    full group is parsed on its thread while the next group's files are read and detected
    (the parse's NumPy and Arrow work leaves the interpreter to the reading). The run's first
    group is small (:data:`FIRST_GROUP_BYTES`), so that parsing starts soon after the reading
    does; the last is parsed on the calling thread while the pool parses the one before it.
    Results reach ``parts`` in file order: a group's only when the one before it is in."""

    pool: ThreadPoolExecutor | None = None
    group: _Group = field(default_factory=_Group)
    buffers: _Buffers = field(default_factory=_Buffers)
    pending: list[tuple[_Group, Future]] = field(default_factory=list)
    #: whether the current run of files has had a group parsed already (a run of one file
    #: alone is parsed as that file, not as a batch)
    split: bool = False

    def takes(self, fmt: str, data: bytes, note: str | None) -> bool:
        return fmt == "cri-log" and note is None and len(data) <= BATCH_FILE_BYTES

    def add(self, path: Path, data: bytes, explicit: bool, parts: _Parts) -> None:
        limit = BATCH_BYTES if self.split else min(FIRST_GROUP_BYTES, BATCH_BYTES)
        if self.group.paths and self.group.files.size + len(data) > limit:
            self._finish(parts)  # one group parsing at a time: the one before goes in first
            group, self.group, self.split = self.group, _Group(), True
            if self.pool is None:
                _add_group(parts, group, _parse_group(group, self.buffers))
            else:
                self.pending.append((group, self.pool.submit(_parse_group, group, self.buffers)))
        if len(self.group.paths) == 1 and self.group.files.buffer is None:
            # a second file: the group goes into a buffer (a file alone is parsed as read)
            first, self.group = self.group, _Group(CriFiles(self.buffers.take()))
            self.group.add(first.paths[0], first.files.file(0), first.explicit[0])
        self.group.add(path, data, explicit)

    def flush(self, parts: _Parts) -> None:
        """Parse the files held, adding their frames and a ledger row each to ``parts``."""
        group, self.group = self.group, _Group()
        split, self.split = self.split, False
        if len(group.paths) == 1 and not split:  # its bytes as read: never in a buffer
            self._finish(parts)
            _parse_alone(parts, group.paths[0], group.files.file(0), group.explicit[0])
            return
        # parsed here while the pool parses the group before them, and added after it
        result = _parse_group(group, self.buffers) if group.paths else None
        self._finish(parts)
        if group.paths:
            _add_group(parts, group, result)

    def _finish(self, parts: _Parts) -> None:
        """Wait for the groups parsing on the pool and add them to ``parts``."""
        pending, self.pending = self.pending, []
        for group, future in pending:
            _add_group(parts, group, future.result())


def _parse_group(group: _Group, buffers: _Buffers) -> tuple[ParseResult, list[Tally]] | None:
    """A group of CRI files parsed as one (None: something the batch did not expect), its
    buffer given back to ``buffers`` once parsed."""
    buffer = group.files.buffer
    try:
        result, tallies = parse_cri_files(group.files)
    except (SourceError, SchemaError, ValueError, TypeError, IndexError):
        group.files.detach()  # each file is read alone instead, from its own bytes
        return None
    finally:
        group.files.buffer = None
        if buffer is not None:
            buffers.give(buffer)
    return _far_out_by_file(result, tallies, group.paths)


def _add_group(
    parts: _Parts, group: _Group, parsed: tuple[ParseResult, list[Tally]] | None
) -> None:
    """A parsed group's frames and ledger rows into ``parts``; a group whose parse failed is
    read file by file, so that each file says whether it was the one."""
    if parsed is None:
        for k, path in enumerate(group.paths):
            _parse_alone(parts, path, group.files.file(k), group.explicit[k])
        return
    result, tallies = parsed
    parts.add_frames(result)
    for path, tally in zip(group.paths, tallies, strict=True):
        parts.files.append(_ledger(path, "cri-log", "loaded", tally))
        parts.notes += [f"{path}: {note}" for note in tally.notes]


def _parse_alone(parts: _Parts, path: Path, data: bytes, explicit: bool) -> None:
    try:
        result = parse_file(path, data, get_format("cri-log"))
    except SourceError as exc:
        if explicit:
            raise
        parts.files.append(_ledger(path, None, f"skipped: {exc}", None))
        return
    parts.add(path, "cri-log", result)


def _far_out_by_file(
    result: ParseResult, tallies: list[Tally], paths: list[Path]
) -> tuple[ParseResult, list[Tally]]:
    """:func:`reject_far_out_times` of each file of a batch, on its own rows (as
    :func:`obskit.sources.load_file` does), for the files whose rows span long enough to
    have any."""
    logs = result.logs
    if logs is None:
        return result, tallies
    ns = logs["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    if not may_hold_far_out(ns):
        return result, tallies  # no file's rows lie that far apart
    where = {str(path): k for k, path in enumerate(paths)}
    origin = logs["origin"].cat
    owner = np.array([where[str(o)] for o in origin.categories], dtype=np.int64)[origin.codes]
    keep = np.ones(len(logs), dtype=bool)
    rejects = [result.rejects]
    tallies = list(tallies)
    for k in np.unique(owner):
        rows = np.flatnonzero(owner == k)
        if not may_hold_far_out(ns[rows]):
            continue
        one = ParseResult(records=len(rows), logs=logs.iloc[rows].reset_index(drop=True))
        one = reject_far_out_times(one, "cri-log", str(paths[k]))
        moved = len(rows) - len(one.logs)
        if not moved:
            continue
        kept = set(one.logs["line"].astype("int64").tolist())
        keep[rows] = logs["line"].iloc[rows].astype("int64").isin(kept).to_numpy()
        rejects.append(one.rejects)
        t = tallies[k]
        tallies[k] = dataclasses.replace(
            t, rows=t.rows - moved, rejects=t.rejects + moved, notes=(*t.notes, *one.notes)
        )
    if keep.all():
        return result, tallies
    result.logs = logs.loc[keep].reset_index(drop=True)
    # file by file, each file's far-out rows after its other rejects (as loading each does)
    stacked = schema.concat("rejects", rejects)
    order = np.argsort(stacked["origin"].astype(str).map(where).to_numpy(), kind="stable")
    result.rejects = stacked.iloc[order].reset_index(drop=True)
    return result, tallies


def _timestamp(value: TimeLike, name: str) -> pd.Timestamp | None:
    return None if value is None else as_utc(value, name, error=InvestigationError)


class Investigation:
    """Metrics, events, logs and inventory of one incident, on one metadata key.

    Built by :func:`obskit.load` from files, or directly from your own frames (a CSV export,
    a query result): each frame is checked against the schema (dtypes fixed, missing columns
    added), and the key of every signal row is completed from the inventory.

    Parameters
    ----------
    metrics, events, logs, inventory : DataFrame, optional
        Frames with at least the columns you have (see :mod:`obskit.schema`); timestamps must
        be timezone-aware or RFC3339 strings.
    cluster : str, optional
        Cluster name for rows that do not carry one.

    Examples
    --------
    >>> import pandas as pd
    >>> logs = pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"], "namespace": ["shop"],
    ...                      "pod": ["web-1"], "message": ["ERROR boom"]})
    >>> inv = Investigation(logs=logs, cluster="prod")
    >>> inv.logs[["cluster", "pod", "level"]].values.tolist()
    [['prod', 'web-1', 'error']]
    """

    def __init__(
        self,
        metrics: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
        logs: pd.DataFrame | None = None,
        inventory: pd.DataFrame | None = None,
        cluster: str | None = None,
    ) -> None:
        frames = {"metrics": metrics, "events": events, "logs": logs, "inventory": inventory}
        conformed = {}
        for name, frame in frames.items():
            if frame is not None and not isinstance(frame, pd.DataFrame):
                raise InvestigationError(
                    f"{name} must be a pandas DataFrame or None, got {type(frame).__name__}"
                )
            conformed[name] = _user_frame(name, frame)
        self._set(conformed, cluster=cluster, rejects=None, files=None, notes=[], enrich_now=True)

    # construction shared by __init__, load and the filters
    def _set(
        self,
        frames: dict[str, pd.DataFrame],
        *,
        cluster: str | None,
        rejects: pd.DataFrame | None,
        files: pd.DataFrame | None,
        notes: list[str],
        enrich_now: bool,
        window: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None),
        changes: pd.DataFrame | None = None,
    ) -> None:
        self.cluster = cluster
        inventory = frames["inventory"]
        if enrich_now:
            if cluster is not None and len(inventory):
                inventory = inventory.assign(
                    cluster=inventory["cluster"].astype("object").fillna(cluster).astype("category")
                )
            inventory = resolve_workloads(inventory)
            seen = observed_nodes(*(frames[name] for name in _SIGNALS))
            for name in _SIGNALS:
                frames[name] = enrich(frames[name], inventory, cluster, seen)
        self.inventory: pd.DataFrame = inventory
        self.metrics: pd.DataFrame = frames["metrics"]
        self.events: pd.DataFrame = frames["events"]
        self.logs: pd.DataFrame = frames["logs"]
        self.rejects: pd.DataFrame = rejects if rejects is not None else schema.empty("rejects")
        self.files: pd.DataFrame = (
            files if files is not None else pd.DataFrame(columns=FILES_COLUMNS)
        )
        self.notes: list[str] = list(notes)
        self.start, self.end = window
        #: What a live watch saw happen to objects (``schema.FRAMES["changes"]``); empty when
        #: the investigation was not watched.
        self.changes: pd.DataFrame = changes if changes is not None else schema.empty("changes")

    @classmethod
    def _from_parts(
        cls,
        frames: dict[str, pd.DataFrame],
        *,
        cluster: str | None,
        rejects: pd.DataFrame,
        files: pd.DataFrame,
        notes: list[str],
        enrich_now: bool = True,
        window: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None),
        changes: pd.DataFrame | None = None,
    ) -> Investigation:
        inv = cls.__new__(cls)
        inv._set(
            frames,
            cluster=cluster,
            rejects=rejects,
            files=files,
            notes=notes,
            enrich_now=enrich_now,
            window=window,
            changes=changes,
        )
        return inv

    def _derive(
        self, frames: dict[str, pd.DataFrame], window=None, changes: pd.DataFrame | None = None
    ) -> Investigation:
        return Investigation._from_parts(
            frames,
            cluster=self.cluster,
            rejects=self.rejects,
            files=self.files,
            notes=self.notes,
            enrich_now=False,
            window=window if window is not None else (self.start, self.end),
            changes=self.changes if changes is None else changes,
        )

    # --- what an analyst calls ---------------------------------------------------------------

    def __repr__(self) -> str:
        start, end = self.time_span()
        span = (
            f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC" if start is not None else "no data"
        )
        return (
            f"<Investigation cluster={self.cluster!r} {span}: {len(self.metrics):,} metric "
            f"samples, {len(self.events):,} events, {len(self.logs):,} log lines, "
            f"{len(self.inventory):,} objects, {len(self.rejects):,} rejects>"
        )

    def time_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """Earliest and latest signal timestamp (or the window, when one was set)."""
        stamps = [f["timestamp"] for f in (self.metrics, self.events, self.logs) if len(f)]
        lo = min((s.min() for s in stamps if s.notna().any()), default=None)
        hi = max((s.max() for s in stamps if s.notna().any()), default=None)
        return self.start or lo, self.end or hi

    def window(self, start: TimeLike = None, end: TimeLike = None) -> Investigation:
        """The same investigation restricted to ``start <= timestamp <= end`` (UTC).

        Timestamps without an offset are taken as UTC. The inventory keeps the objects that
        existed during the window (created before its end, not deleted before its start).

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
        >>> inv.window("2024-05-14T10:00:00Z", "2024-05-14T10:30:00Z")  # doctest: +SKIP
        """
        lo, hi = _timestamp(start, "start"), _timestamp(end, "end")
        if lo is not None and hi is not None and lo > hi:
            raise InvestigationError(f"window start {lo} is after its end {hi}; swap them")
        frames = {}
        for name in _SIGNALS:
            frame = getattr(self, name)
            keep = pd.Series(True, index=frame.index)
            if lo is not None:
                keep &= frame["timestamp"] >= lo
            if hi is not None:
                keep &= frame["timestamp"] <= hi
            frames[name] = frame.loc[keep].reset_index(drop=True)
        inv = self.inventory
        keep = pd.Series(True, index=inv.index)
        if hi is not None:
            keep &= inv["created"].isna() | (inv["created"] <= hi)
        if lo is not None:
            keep &= inv["deleted"].isna() | (inv["deleted"] >= lo)
        frames["inventory"] = inv.loc[keep].reset_index(drop=True)
        changes = self.changes
        keep = pd.Series(True, index=changes.index)
        if lo is not None:
            keep &= changes["timestamp"] >= lo
        if hi is not None:
            keep &= changes["timestamp"] <= hi
        changes = changes.loc[keep].reset_index(drop=True)
        return self._derive(frames, window=(lo or self.start, hi or self.end), changes=changes)

    def focus(
        self,
        namespace: str | Sequence[str] | Mapping | pd.Series | None = None,
        workload: str | Sequence[str] | None = None,
        pod: str | Sequence[str] | None = None,
        node: str | Sequence[str] | None = None,
        container: str | Sequence[str] | None = None,
        cluster: str | Sequence[str] | None = None,
    ) -> Investigation:
        """The same investigation restricted to one entity of the hierarchy (and what is below).

        Each argument is a value or a list of values of that key column; rows must match all
        given columns. Focusing on a node keeps the node's own series and events and the pods
        that ran on it.

        Instead of the columns, the first argument may be a row that names an entity: a row of
        :meth:`suspects`, :meth:`detections`, :meth:`events_table` or a dict. The entity is its
        finest key: a container (namespace, pod, container), a pod (namespace, pod), a workload
        (namespace, workload), a node, or a namespace; a row's ``entity_kind`` says which when
        it has one.

        Raises
        ------
        InvestigationError
            When a value appears nowhere in the investigation (with the closest names).

        Examples
        --------
        >>> inv = Investigation(logs=pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"] * 2,
        ...                     "namespace": ["shop", "ops"], "pod": ["a", "b"],
        ...                     "message": ["x", "y"]}))
        >>> inv.focus(namespace="shop").logs["pod"].tolist()
        ['a']
        >>> inv.focus({"namespace": "ops", "pod": "b", "node": None}).logs["pod"].tolist()
        ['b']
        """
        if isinstance(namespace, Mapping | pd.Series):
            if any(v is not None for v in (workload, pod, node, container, cluster)):
                raise InvestigationError(
                    "give either an entity row or key columns to focus(), not both"
                )
            return self.focus(**entity_focus(namespace))
        wanted = {
            "cluster": cluster,
            "namespace": namespace,
            "workload": workload,
            "pod": pod,
            "node": node,
            "container": container,
        }
        wanted = {
            k: [v] if isinstance(v, str) else list(v) for k, v in wanted.items() if v is not None
        }
        if not wanted:
            return self
        frames = {name: getattr(self, name) for name in _FRAMES}
        for column, values in wanted.items():
            known = set()
            for frame in frames.values():
                known.update(frame[column].dropna().astype(str).unique())
            missing = [v for v in values if v not in known]
            if missing:
                close = difflib.get_close_matches(missing[0], sorted(known), n=3)
                hint = (
                    f"; did you mean {', '.join(map(repr, close))}?"
                    if close
                    else (f"; known values: {', '.join(sorted(known)[:10])}" if known else "")
                )
                raise InvestigationError(f"no {column} {missing[0]!r} in this investigation{hint}")
        return self._matching(wanted)

    def _matching(self, wanted: Mapping[str, Sequence[str]]) -> Investigation:
        """The rows (of every frame) whose key columns hold one of the ``wanted`` values."""
        out = {}
        frames = {name: getattr(self, name) for name in _FRAMES}
        for name, frame in {**frames, "changes": self.changes}.items():
            keep = pd.Series(True, index=frame.index)
            for column, values in wanted.items():
                keep &= frame[column].isin(list(values))
            out[name] = frame.loc[keep].reset_index(drop=True)
        changes = out.pop("changes")
        return self._derive(out, changes=changes)

    def summary(self) -> pd.DataFrame:
        """One row per frame: rows, time span, and the share of rows with each key column set.

        Examples
        --------
        >>> int(Investigation().summary().loc["logs", "rows"])
        0
        """
        rows = []
        for name in _FRAMES:
            frame = getattr(self, name)
            row: dict[str, object] = {"frame": name, "rows": len(frame)}
            stamps = frame["timestamp"] if "timestamp" in frame else frame["created"]
            row["start"] = stamps.min() if len(frame) else pd.NaT
            row["end"] = stamps.max() if len(frame) else pd.NaT
            for column in schema.KEY:
                row[column] = round(float(frame[column].notna().mean()), 3) if len(frame) else None
            rows.append(row)
        rows.append({"frame": "rejects", "rows": len(self.rejects), "start": pd.NaT, "end": pd.NaT})
        return pd.DataFrame(rows).set_index("frame")

    def skipped(self) -> pd.DataFrame:
        """The files that were not loaded (no format recognised them, or they were unreadable)."""
        files = self.files
        skipped = ~files["status"].isin(["loaded", "metadata"])
        return files.loc[skipped].reset_index(drop=True)

    # The methods below are thin doors to the layers above this one (views, analysis, bundles).
    # They import lazily, so this module never imports those layers at import time and the
    # layering (views -> analysis -> investigation) holds.

    # --- views ---

    def hierarchy_frame(
        self,
        view: str = "workload",
        at: TimeLike = None,
        scores: pd.DataFrame | None = None,
        posture: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """One row per node of the cluster tree with triage counts for its subtree.

        See :func:`obskit.views.hierarchy_frame`.

        Examples
        --------
        >>> inv = Investigation(logs=pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"],
        ...                     "namespace": ["shop"], "pod": ["a"], "message": ["ERROR x"]}))
        >>> inv.hierarchy_frame()["error_logs"].tolist()
        [1, 1, 1]
        """
        from obskit.views import hierarchy_frame

        return hierarchy_frame(self, view, at=at, scores=scores, posture=posture)

    def hierarchy(
        self,
        view: str = "workload",
        style: str = "treemap",
        color_by: str = "health",
        at: TimeLike = None,
        scores: pd.DataFrame | None = None,
        posture: pd.DataFrame | None = None,
    ):
        """The cluster tree as a plotly treemap, sunburst or icicle, coloured by a measure.

        See :func:`obskit.views.hierarchy`.

        Examples
        --------
        >>> import obskit
        >>> obskit.datasets.load("checkout-oom").hierarchy("node")  # doctest: +SKIP
        """
        from obskit.views import hierarchy

        return hierarchy(
            self, view, style=style, color_by=color_by, at=at, scores=scores, posture=posture
        )

    def timeline(
        self,
        focus: dict | None = None,
        metrics: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        anomalies: pd.DataFrame | None = None,
    ):
        """Metrics, events and log volume of a focused entity on one shared time axis.

        See :func:`obskit.views.timeline`.

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
        >>> inv.timeline(focus={"namespace": "shop", "workload": "checkout"})  # doctest: +SKIP
        """
        from obskit.views import timeline

        return timeline(self, focus, metrics=metrics, start=start, end=end, anomalies=anomalies)

    def events_table(
        self,
        focus: dict | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        min_severity: str | None = None,
        limit: int | None = 500,
        sources: list[str] | None = None,
        reasons: list[str] | None = None,
    ) -> pd.DataFrame:
        """Events of a focused entity and window, most severe and newest first.

        See :func:`obskit.views.events_table`.

        Examples
        --------
        >>> Investigation().events_table().columns[:3].tolist()
        ['time', 'severity', 'source']
        """
        from obskit.views import events_table

        return events_table(
            self,
            focus,
            start,
            end,
            min_severity=min_severity,
            limit=limit,
            sources=sources,
            reasons=reasons,
        )

    def logs_table(
        self,
        focus: dict | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        min_level: str | None = None,
        limit: int | None = 500,
    ) -> pd.DataFrame:
        """Log lines of a focused entity and window, most severe and newest first.

        See :func:`obskit.views.logs_table`.

        Examples
        --------
        >>> Investigation().logs_table().columns[:2].tolist()
        ['time', 'level']
        """
        from obskit.views import logs_table

        return logs_table(self, focus, start, end, min_level=min_level, limit=limit)

    # --- analysis: anomalies and root-cause suspects ---

    def anomalies(
        self,
        at: TimeLike = None,
        baseline: str | pd.Timedelta | None = None,
        horizon: str | pd.Timedelta | None = None,
        threshold: float = 3.0,
        all_series: bool = False,
    ) -> pd.DataFrame:
        """Metric series that moved after ``at`` against their baseline (robust score, onset, peak).

        See :func:`obskit.analysis.anomalies.anomalies`; ``attrs["at"]`` says which time was
        used (found from the data when ``at`` is not given).

        Examples
        --------
        >>> import obskit
        >>> obskit.datasets.load("checkout-oom").anomalies().head()  # doctest: +SKIP
        """
        from obskit.analysis.anomalies import anomalies

        return anomalies(
            self,
            at=at,
            baseline=baseline,
            horizon=horizon,
            threshold=threshold,
            all_series=all_series,
        )

    def suspects(
        self,
        at: TimeLike = None,
        level: str = "auto",
        top: int = 10,
        dependencies: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Ranked root-cause suspects with their evidence and a one-sentence reason.

        See :func:`obskit.analysis.rca.suspects`; the time used as ``at`` is in the ``at``
        column and ``attrs["at"]`` (with ``attrs["at_source"]``). ``dependencies`` is an
        optional call graph (caller, callee) from a service mesh or traces; edges traced from
        the logs and callers' errors naming a callee are used either way.

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("node-pressure")  # doctest: +SKIP
        >>> inv.suspects().iloc[0]["entity_kind"]  # doctest: +SKIP
        'node'
        """
        from obskit.analysis.rca import suspects

        return suspects(self, at=at, level=level, top=top, dependencies=dependencies)

    # --- security: detections ---

    def detections(self, baseline=None) -> pd.DataFrame:
        """Security detections on this investigation's audit log and Falco alerts.

        One events row per rule, entity and burst (``source="detection"``); see
        :func:`obskit.analysis.security.detect` for the rules and what ``baseline`` takes
        (None, a duration like ``"1h"``, a ``(start, end)`` pair, or earlier history). With
        the inventory's objects at hand, each detection also carries the posture of what it
        touched (:func:`obskit.analysis.posture.join_detections`): ``posture`` (the pod's
        findings), ``token_account`` and ``reach`` (what that service account may do, where)
        and ``escalation`` (the node and/or the cluster, when either is within reach).

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
        >>> found = inv.detections(baseline="30min")  # doctest: +SKIP
        >>> found[["timestamp", "rule", "severity", "pod"]]  # doctest: +SKIP
        """
        from obskit.analysis.posture import join_detections
        from obskit.analysis.security import detect

        return join_detections(detect(self, baseline=baseline), self.inventory)

    def posture(
        self, registries: Iterable[str] | None = None, *, include_system: bool = False
    ) -> pd.DataFrame:
        """Posture findings of this investigation's inventory, one row per finding.

        Pod Security Standards on pods and workload templates, Pod Security admission labels,
        images, service-account tokens, RBAC and NetworkPolicies; see
        :func:`obskit.analysis.posture.posture` for the controls, ``registries`` (the allowed
        registries; None skips that check) and ``include_system``.

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
        >>> found = inv.posture(registries=["registry.example.com"])  # doctest: +SKIP
        >>> found[found.severity >= "high"][["pod", "control", "found"]]  # doctest: +SKIP
        """
        from obskit.analysis.posture import posture

        return posture(self.inventory, registries=registries, include_system=include_system)

    def coverage(self) -> pd.DataFrame:
        """Collector coverage per node: monitoring DaemonSets' pods and the signals received.

        One row per node and collector DaemonSet (Falco, node-exporter, the log shipper,
        kube-proxy, the CNI agent: ``desired``, ``pods``, ``ready``, ``restarts``, when it ran
        and its ``gap``) and per node and signal (metrics, container logs, Falco, audit: rows and
        span received), over this investigation's time span; see
        :func:`obskit.analysis.coverage.coverage`. :meth:`coverage_gaps` lists the gaps.

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
        >>> table = inv.coverage()  # doctest: +SKIP
        >>> table[table.gap > pd.Timedelta(0)][["node", "name", "gap"]]  # doctest: +SKIP
        """
        from obskit.analysis.coverage import coverage

        return coverage(
            self.inventory,
            self.events,
            self.logs,
            self.metrics,
            window=self.time_span(),
            changes=self.changes,
        )

    def coverage_gaps(self, *, security_only: bool = False) -> pd.DataFrame:
        """When a node ran pods while a collector (Falco, the log shipper ...) ran none there.

        One row per node, collector DaemonSet and interval over this investigation's time span;
        ``security_only`` keeps the security collectors' gaps. See
        :func:`obskit.analysis.coverage.coverage_gaps`.

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
        >>> gaps = inv.coverage_gaps(security_only=True)  # doctest: +SKIP
        >>> gaps[["node", "name", "start", "end", "reason"]]  # doctest: +SKIP
        """
        from obskit.analysis.coverage import coverage_gaps

        return coverage_gaps(
            self.inventory,
            window=self.time_span(),
            security_only=security_only,
            changes=self.changes,
            events=self.events,
        )

    def with_detections(self, baseline=None) -> Investigation:
        """The same investigation with its detections added to ``events`` (``source="detection"``).

        The hierarchy's security counts, the timeline's marker rows and the suspects' evidence
        read Falco alerts and detections from ``events``, so this puts the audit-log detections
        on the same picture as the Falco alerts. Detections made from Falco alerts are left
        out (the alerts are there already, and would count twice); detections already present
        are not added twice.

        Examples
        --------
        >>> import obskit
        >>> inv = obskit.datasets.load("cryptominer").with_detections()  # doctest: +SKIP
        >>> inv.hierarchy("workload", color_by="alerts")  # doctest: +SKIP
        """
        events = self.events[self.events["source"] != "detection"]
        found = self.detections(baseline=baseline)
        if "detection_source" in found.columns:
            found = found[found["detection_source"] != "falco"]
        frames = {name: getattr(self, name) for name in _FRAMES}
        merged = schema.concat("events", [events, found])
        frames["events"] = merged.sort_values("timestamp", kind="stable").reset_index(drop=True)
        return self._derive(frames)

    # --- evidence bundles ---

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Save this investigation as an evidence bundle folder (see :mod:`obskit.bundle`).

        ``obskit.load(path)`` reads it back exactly, after checking every file's SHA-256.

        Examples
        --------
        >>> import obskit, tempfile
        >>> folder = Investigation(cluster="prod").save(tempfile.mkdtemp() + "/incident")
        >>> obskit.load(folder).cluster
        'prod'
        """
        from obskit.bundle import save

        return save(self, path, overwrite=overwrite)


def _user_frame(name: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        return schema.empty(name)
    frame = frame.reset_index(drop=True)
    if name == "logs" and "message" in frame.columns:
        from obskit.sources._levels import derive_level, message_format

        message = frame["message"].astype("object")
        if "level" not in frame.columns:
            frame = frame.assign(level=derive_level(message))
        if "format" not in frame.columns:
            frame = frame.assign(format=message_format(message))
    if name != "inventory" and "key_source" not in frame.columns:
        has = frame[[c for c in schema.KEY if c in frame.columns]].notna().any(axis=1)
        frame = frame.assign(key_source=has.map({True: "record", False: "incomplete"}))
    return schema.conform(name, frame, origin="<user frame>")


# --- loading files ----------------------------------------------------------------------------


def _expand(paths: str | Path | Iterable[str | Path]) -> list[tuple[Path, bool, Path | None]]:
    """(file, named explicitly, root folder) for every file the arguments point at."""
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[tuple[Path, bool, Path | None]] = []
    for item in paths:
        text = str(item)
        if any(ch in text for ch in "*?[") and not Path(text).exists():
            matches = sorted(globlib.glob(text, recursive=True))
            if not matches:
                raise SourceError(f"the pattern {text!r} matches no file")
            out += [(Path(m), False, None) for m in matches if Path(m).is_file()]
            continue
        path = Path(item)
        if path.is_dir():
            out += [(path.joinpath(*rel), False, path) for rel in sorted(_walk(str(path), ()))]
        elif path.is_file():
            out.append((path, True, None))
        else:
            raise SourceError(f"{text!r} does not exist; pass a file, a folder or a glob pattern")
    return out


def _walk(folder: str, rel: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The files under ``folder`` (symbolic links to files included) as parts relative to
    the folder walked first, hidden ones and those in hidden or unreadable folders left out,
    symbolic links to folders not followed (as ``Path.rglob`` walks). ``os.scandir`` reads
    each entry's type with its name, where a ``Path`` per entry costs a stat and a parse."""
    try:
        with os.scandir(folder) as entries:
            found = [(entry.name, entry.path, entry.is_symlink(), entry) for entry in entries]
    except PermissionError:
        return
    for name, sub, link, entry in found:
        if name.startswith("."):
            continue
        if entry.is_file():
            yield (*rel, name)
        elif not link and entry.is_dir():
            yield from _walk(sub, (*rel, name))


def _manifest_cluster(files: list[tuple[Path, bool, Path | None]]) -> str | None:
    roots = {root for _, _, root in files if root is not None}
    for root in sorted(roots):
        manifest = root / MANIFEST
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise SourceError(
                    f"{str(manifest)!r} is not valid JSON ({exc}); fix or remove it"
                ) from exc
            if isinstance(data, dict) and data.get("cluster"):
                return str(data["cluster"])
    return None


def load(
    paths: str | Path | Iterable[str | Path],
    cluster: str | None = None,
    format: str | None = None,
    *,
    memory_budget: float | str | None = "auto",
    start: TimeLike = None,
    end: TimeLike = None,
    where: Mapping[str, str | Sequence[str]] | None = None,
) -> Investigation:
    """Load telemetry files into one :class:`Investigation`.

    Parameters
    ----------
    paths : path, glob, or list of them
        Files, folders (walked recursively; hidden files skipped), or glob patterns. Gzip, xz
        and zstd files are decompressed by content.
    cluster : str, optional
        Cluster name for rows whose source does not carry one (default: the ``cluster`` of an
        ``obskit.json`` manifest in a loaded folder).
    format : str, optional
        Read every file as this format instead of detecting it (see ``obskit.FORMATS``).
    memory_budget : bytes, "auto" or None
        Refuse at once, with a message saying what to load instead, a load expected to need
        more memory than this (about 8 bytes per byte of decompressed input). ``"auto"``: 80%
        of the memory available now, or the room left under ``ulimit -v``; None: no check.
        A compressed file that expands past what the budget leaves for it (a decompression
        bomb, a gzip size trailer that lies) is stopped as it streams, and skipped like an
        unreadable file.
    start, end : time, optional
        Keep only the rows of ``start <= timestamp <= end`` (UTC), as :meth:`Investigation.
        window` would, filtering while reading: a CRI log file whose first and last lines both
        lie outside the window is skipped unparsed; an uncompressed CRI log over 1 MB is
        entered by bisection on byte offsets (CRI files are written in time order) and only
        the pieces that reach into the window are parsed (a compressed one is streamed, as it
        cannot seek); an audit log over 1 MB (JSON lines)
        is bisected the same way on its lines' stage times, or streamed when compressed, and
        only its records inside the window become rows; log rows, metric samples and Events
        outside the window are left out as each file is read (but those enrichment learns a
        pod's node from, and audit rows, which are windowed at the end). The lines before a
        window are still read to be counted (rows keep their line numbers in the file), not
        parsed. The budget then applies to what is read at a time and kept, not to the whole
        input. An evidence bundle reads only the Parquet row groups that can hold rows of the
        window.
    where : mapping, optional
        Keep only the rows whose key columns hold these values, e.g. ``{"namespace": "shop",
        "node": ["node-1", "node-2"]}`` (as :meth:`Investigation.focus` would, without
        requiring the values to be present). Log files whose kubelet path names another
        namespace, pod or container are skipped unparsed; an audit log over 1 MB (JSON
        lines) is read in pieces and its records naming another namespace, pod, node or
        container are left out before their rows are built (records naming none are kept
        until enrichment, then filtered); every file's signal rows of another namespace or
        pod, or of another node or container that enrichment learns nothing from, are left
        out as it is read; an evidence bundle's frames are filtered as they are read. Files
        skipped by ``start``, ``end`` or ``where`` are in ``inv.files`` with a ``skipped by
        filter`` status; what a file read for the window passed over and left out is in its
        ledger row's ``note``.

    Raises
    ------
    UnknownFormatError
        When a file named explicitly is in no known format (files inside a folder that no
        format recognises are skipped and listed in ``inv.files`` / ``inv.skipped()``).
    SourceError
        When a named path does not exist or cannot be read.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.load(obskit.datasets.path("checkout-oom"))  # doctest: +SKIP
    >>> inv.summary()  # doctest: +SKIP
    """
    from obskit import bundle  # lazily: bundle builds Investigations

    only = _Filter.of(start, end, where)
    if isinstance(paths, str | Path) and bundle.is_bundle(paths):
        return only.narrow(bundle.read(paths, start=only.start, end=only.end, where=only.where))
    files = _expand(paths)
    budget, why = _budget(memory_budget)
    sizes: dict[Path, int] = {}  # each file's size, looked up once
    need = _need_within(files, only, budget, why, sizes)
    cluster = cluster or _manifest_cluster(files)
    # what the budget leaves beyond the files' expected sizes: a compressed file that expands
    # past its own size and this slack is refused as it streams (a bomb, a lying trailer)
    slack = None if budget is None else max(budget - need, 0) // MEMORY_PER_INPUT_BYTE
    parts = _Parts(window=(only.start, only.end), where=only.where)
    _read_files(parts, files, format, only, slack, sizes)
    inv = _assembled(parts, cluster)
    return only.narrow(inv)


def _budget(memory_budget: float | str | None) -> tuple[int | None, str]:
    """:func:`load`'s ``memory_budget`` as bytes (None: no check) and where it comes from."""
    if memory_budget == "auto":
        budget, why = _memory_budget()
    elif memory_budget is None:
        budget, why = None, ""
    elif isinstance(memory_budget, int | float) and memory_budget > 0:
        budget, why = int(memory_budget), "memory_budget"
    else:
        raise InvestigationError(
            f"memory_budget must be 'auto', None or a number of bytes, got {memory_budget!r}"
        )
    return budget, why


def _need_within(
    files: list[tuple[Path, bool, Path | None]],
    only: _Filter,
    budget: int | None,
    why: str,
    sizes: dict[Path, int],
) -> int:
    """The memory :func:`load` expects to need (:func:`_memory_need`; 0 without a budget),
    refused at once when it is more than the budget."""
    need = _memory_need(files, only, sizes) if budget is not None else 0
    if budget is not None and need > budget:
        size = sum(_payload_size(path) for path, _, _ in files)
        raise InvestigationError(
            f"{'these' if len(files) != 1 else 'this'} {len(files):,} "
            f"file{'s' if len(files) != 1 else ''} hold{'' if len(files) != 1 else 's'} "
            f"{size / 1e9:.2f} GB of telemetry; loading {'them' if len(files) != 1 else 'it'} "
            f"needs about {need / 1e9:.2f} GB of memory, more than the budget of "
            f"{budget / 1e9:.2f} GB ({why}). Load a part: fewer files or a glob (one "
            f"namespace, one node, one rotation), e.g. obskit.load('logs/var/log/pods/shop_*')"
        )
    return need


def _read_files(
    parts: _Parts,
    files: list[tuple[Path, bool, Path | None]],
    format: str | None,
    only: _Filter,
    slack: int | None,
    sizes: dict[Path, int],
) -> None:
    """Read and parse ``files`` one after another into ``parts`` (small CRI logs in batches,
    large ones and audit logs by window when there is one), each with its ledger row."""
    with ThreadPoolExecutor(1) as pool:
        _read_each(parts, files, format, only, slack, sizes, _Batch(pool))


def _read_each(
    parts: _Parts,
    files: list[tuple[Path, bool, Path | None]],
    format: str | None,
    only: _Filter,
    slack: int | None,
    sizes: dict[Path, int],
    batch: _Batch,
) -> None:
    """:func:`_read_files`' loop, small CRI logs gathered in ``batch``."""
    for path, explicit, _root in files:
        if path.name in METADATA_FILES and not explicit:
            batch.flush(parts)
            parts.files.append(_ledger(path, None, "metadata", None))
            continue
        if (why := only.path_reason(path)) is not None or (windowed := only.windowed(path, format)):
            batch.flush(parts)
            if why is not None:
                parts.files.append(_ledger(path, None, why, None))
                continue
            try:
                if windowed == "cri-log":
                    result, note = read_cri_window(str(path), only.start, only.end)
                else:
                    result, note = read_audit_window(str(path), only.start, only.end, only.where)
            except OSError as exc:
                if explicit:
                    raise SourceError(f"cannot read {str(path)!r}: {exc}") from exc
                parts.files.append(_ledger(path, None, f"skipped: cannot read it: {exc}", None))
                continue
            result.notes.append(note)
            parts.add(path, windowed, result)
            continue
        if slack is None:
            limit = None
        else:
            limit = (sizes[path] if path in sizes else _payload_size(path)) + slack
        try:
            data, note, fmt = read_file(path, format, limit=limit)
            if (why := only.span_reason(fmt.name, data)) is not None:
                batch.flush(parts)
                parts.files.append(_ledger(path, fmt.name, why, None))
                continue
            if batch.takes(fmt.name, data, note):
                batch.add(path, data, explicit, parts)
                continue
            batch.flush(parts)
            result = parse_file(path, data, fmt, note)
        except UnknownFormatError:
            if explicit:
                raise
            batch.flush(parts)
            parts.files.append(
                _ledger(path, None, "skipped: no format recognises its content", None)
            )
            continue
        except SourceError as exc:
            if explicit:
                raise
            batch.flush(parts)
            parts.files.append(_ledger(path, None, f"skipped: {exc}", None))
            continue
        finally:
            data = None  # a file's bytes go as soon as they are parsed
        parts.add(path, fmt.name, result)
    batch.flush(parts)


def _assembled(parts: _Parts, cluster: str | None) -> Investigation:
    """The Investigation of what was read: frames joined, the inventory's duplicates dropped,
    signals in time order, audit requests' final stages marked again, enriched. Each file's
    frames are let go once joined, before the time order copies the signals again."""
    frames = {name: schema.concat(name, parts.frames.pop(name)) for name in _FRAMES}
    rejects = schema.concat("rejects", parts.frames.pop("rejects"))
    inventory = frames["inventory"]
    if len(inventory):
        # the same object exported twice (pods.json and all.json) is one object
        has_uid = inventory["uid"].notna()
        dup = has_uid & inventory.duplicated("uid", keep="last")
        frames["inventory"] = inventory.loc[~dup].reset_index(drop=True)
    for name in _SIGNALS:
        frames[name] = _by_time(frames[name])
    frames["events"] = _final_audit_stages(frames["events"])
    inv = Investigation._from_parts(
        frames,
        cluster=cluster,
        rejects=rejects,
        files=parts.ledger(),
        notes=parts.notes,
    )
    return inv


@dataclass(frozen=True)
class _Filter:
    """The window and key values a load keeps (:func:`load`'s ``start``, ``end``, ``where``)."""

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, start: TimeLike, end: TimeLike, where: Mapping | None) -> _Filter:
        lo, hi = _timestamp(start, "start"), _timestamp(end, "end")
        if lo is not None and hi is not None and lo > hi:
            raise InvestigationError(f"window start {lo} is after its end {hi}; swap them")
        if where is not None and not isinstance(where, Mapping):
            raise InvestigationError(
                f"where must be a mapping of key columns to values, e.g. "
                f"{{'namespace': 'shop'}}, got {type(where).__name__}"
            )
        wanted: dict[str, tuple[str, ...]] = {}
        for column, values in (where or {}).items():
            if column not in schema.KEY:
                raise InvestigationError(
                    f"where names {column!r}, which is no key column; the key columns are: "
                    f"{', '.join(schema.KEY)}"
                )
            values = [values] if isinstance(values, str) else list(values)
            if not values or not all(isinstance(v, str) for v in values):
                raise InvestigationError(
                    f"where[{column!r}] must be a value or a list of values (text), got {values!r}"
                )
            wanted[column] = tuple(values)
        return cls(lo, hi, wanted)

    @property
    def active(self) -> bool:
        return self.start is not None or self.end is not None or bool(self.where)

    def path_reason(self, path: Path) -> str | None:
        """Why a log file is skipped unread: its kubelet path names another namespace, pod or
        container (None: read it)."""
        if not self.where:
            return None
        key = path_key(str(path))
        for column in ("namespace", "pod", "container"):
            value = key.get(column)
            if column in self.where and value is not None and value not in self.where[column]:
                return (
                    f"skipped by filter: its path names {column} {key[column]!r}, not "
                    f"{', '.join(map(repr, self.where[column]))}"
                )
        return None

    def windowed(self, path: Path, format: str | None) -> str | None:
        """The format ``path`` is read in for the window, piece by piece (None: it is read
        whole): a CRI log or an audit log in JSON lines larger than
        :data:`WINDOW_FILE_BYTES`, or compressed (streamed: it cannot seek). An audit log is
        read so for ``where`` alone too, its records of other key values left out unbuilt."""
        timed = self.start is not None or self.end is not None
        if not (timed or self.where) or format not in (*_WINDOWED, None):
            return None
        if not timed and format == "cri-log":
            return None
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(SNIFF_BYTES)
            kind = compression(head[:8])
            if kind is not None and format != "cri-log":
                head = next(stream_lines(path, SNIFF_BYTES), b"")
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
            return None  # the reader says what is wrong with it
        if kind is None and size <= WINDOW_FILE_BYTES:
            return None
        fmt = get_format(format) if format else detect(decode_head(head), path.name)
        if fmt is None or fmt.name not in _WINDOWED or (not timed and fmt.name == "cri-log"):
            return None
        if fmt.name == "audit-log" and first_record(decode_head(head)) is None:
            return None  # one EventList document: read whole
        return fmt.name

    def span_reason(self, fmt: str, data: bytes) -> str | None:
        """Why a CRI log read whole is not parsed: its first and last lines (and so, written
        in time order, all of them) lie outside the window (None: parse it)."""
        if fmt != "cri-log" or (self.start is None and self.end is None):
            return None
        span = cri_span(data)
        if span is None:
            return None
        first, last = span
        if self.start is not None and last < self.start:
            side = "before"
        elif self.end is not None and first > self.end:
            side = "after"
        else:
            return None
        return (
            f"skipped by filter: its lines run from {first.isoformat()} to {last.isoformat()}, "
            f"{side} the window"
        )

    def narrow(self, inv: Investigation) -> Investigation:
        """``inv`` restricted to the window and the key values."""
        if not self.active:
            return inv
        if self.start is not None or self.end is not None:
            inv = inv.window(self.start, self.end)
        return inv._matching(self.where) if self.where else inv


#: The formats a load with a window reads piece by piece from large (or compressed) files ...
_WINDOWED = ("cri-log", "audit-log")
#: ... larger than this (smaller ones are read whole, CRI logs parsed in batches).
WINDOW_FILE_BYTES = 1 << 20


def _by_time(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in time order (stable; missing times last): as it is when it already is, as
    one file written in time order mostly is, else sorted."""
    stamps = frame["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64")
    if len(stamps) and stamps.min() > _NAT and (stamps[1:] >= stamps[:-1]).all():
        return frame.reset_index(drop=True)
    if not len(stamps) or stamps.min() == _NAT:  # missing times go last: pandas knows how
        return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    order = np.argsort(stamps, kind="stable")
    if len(order) < _PARALLEL_TAKE_ROWS:
        taken = {column: _taken(frame[column], order) for column in frame.columns}
        return pd.DataFrame(taken, copy=False)
    # the copies release the GIL: the NumPy ones on two threads, the text on this one (Arrow's
    # allocator keeps an arena per thread: text taken on another would not reuse the memory
    # this thread's parse freed, and the peak would grow by the text's size)
    text = [column for column in frame.columns if frame[column].dtype == schema.STRING]
    with ThreadPoolExecutor(2) as pool:
        pending = {
            column: pool.submit(_taken, frame[column], order)
            for column in frame.columns
            if column not in text
        }
        taken = {column: _taken(frame[column], order) for column in text}
        taken.update({column: future.result() for column, future in pending.items()})
    return pd.DataFrame({column: taken[column] for column in frame.columns}, copy=False)


#: Rows from which :func:`_by_time` takes its columns on two threads.
_PARALLEL_TAKE_ROWS = 100_000


def _taken(values: pd.Series, order: np.ndarray) -> pd.Series:
    """``values`` at rows ``order`` (a new RangeIndex). Arrow text is taken by
    :func:`obskit.sources._base.taken_text`: into the loaders' pool for payload-sized buffers,
    runs of consecutive rows copied whole."""
    if values.dtype == schema.STRING:
        taken = taken_text(values.array.__arrow_array__(), order)
        return pd.Series(pd.array(taken, dtype=schema.STRING), name=values.name)
    # the array's own take: Series.take would also check ``order`` and take the index, per column
    data = values.array
    if isinstance(data, pd.arrays.NumpyExtensionArray):
        # the dtype given: pandas would infer one anew from an object column's values
        taken = data.to_numpy().take(order)
        return pd.Series(taken, name=values.name, dtype=values.dtype, copy=False)
    return pd.Series(data.take(order), name=values.name, copy=False)


_NAT = np.iinfo(np.int64).min

#: Peak memory of parsing, joining and enriching, per byte of (decompressed) input, measured
#: with ``benchmarks/run.py`` (CRI logs 6.4x, Events 7x, Prometheus JSON 5.6x) plus headroom.
MEMORY_PER_INPUT_BYTE = 8
#: Share of the available memory a load may plan to use.
MEMORY_SHARE = 0.8


def _payload_size(path: Path) -> int:
    """Bytes of ``path`` once decompressed (gzip records it; xz and zstd are guessed at 10x)."""
    try:
        # a descriptor, not a file object: this runs once per file, thousands in a folder
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0  # unreadable files are reported by the loader, not here
    try:
        size = os.fstat(fd).st_size
        magic = os.read(fd, 6)
        if magic[:2] == b"\x1f\x8b" and size >= 18:
            # ISIZE is the size modulo 2**32: never less than the compressed size
            return max(int.from_bytes(os.pread(fd, 4, size - 4), "little"), size)
        if magic.startswith((b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")):
            return size * 10
    except OSError:
        return 0
    finally:
        os.close(fd)
    return size


def _memory_need(
    files: list[tuple[Path, bool, Path | None]], only: _Filter, sizes: dict[Path, int]
) -> int:
    """Peak memory a load of ``files`` is expected to take: files skipped by the filter take
    none, and the files read in pieces for a window (one after another) two pieces at most.
    The sizes looked up are kept in ``sizes``."""
    need = pieces = 0
    for path, _, _ in files:
        if only.path_reason(path) is not None:
            continue
        size = sizes[path] = _payload_size(path)
        if windowed := only.windowed(path, None):
            piece = WINDOW_PIECE_BYTES if windowed == "cri-log" else AUDIT_PIECE_BYTES
            pieces = max(pieces, min(size, piece * 2))
        else:
            need += size
    return (need + pieces) * MEMORY_PER_INPUT_BYTE


def _memory_budget() -> tuple[int | None, str]:
    """Memory a load may use, and where that number comes from; None where it is unknown."""
    import resource

    budget, why = None, ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                budget = int(int(line.split()[1]) * 1024 * MEMORY_SHARE)
                why = f"{MEMORY_SHARE:.0%} of the memory available now"
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = 0
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        room = max(soft - used, 0)
        if budget is None or room < budget:
            budget, why = room, "this process's address-space limit, ulimit -v"
    return budget, why


def _final_audit_stages(events: pd.DataFrame) -> pd.DataFrame:
    """Mark each audit request's last stage again: rotation can split stages across files."""
    if "final_stage" not in events.columns:
        return events
    audit = events["source"] == "audit"
    if not audit.any():
        return events
    from obskit.sources.audit import final_stages

    events = events.copy()
    events.loc[audit, "final_stage"] = final_stages(events.loc[audit]).to_numpy()
    return events


def _tally(result: ParseResult) -> Tally:
    return Tally(
        records=result.records,
        rows=result.rows,
        rejects=len(result.rejects),
        merged=result.merged,
        notes=tuple(result.notes),
    )


def _ledger(path: Path, fmt: str | None, status: str, result: Tally | None) -> dict:
    if result is None:
        return {
            "origin": str(path),
            "format": fmt,
            "status": status,
            "records": 0,
            "rows": 0,
            "rejects": 0,
            "merged": 0,
            "balanced": True,
            "note": None,
        }
    return {
        "origin": str(path),
        "format": fmt,
        "status": status,
        "records": result.records,
        "rows": result.rows,
        "rejects": result.rejects,
        "merged": result.merged,
        "balanced": result.balanced(),
        "note": "; ".join(result.notes) or None,
    }


#: The key columns that name each kind of entity, finest first in :func:`entity_focus`.
_ENTITY_COLUMNS = {
    "container": ("namespace", "pod", "container"),
    "pod": ("namespace", "pod"),
    "workload": ("namespace", "workload"),
    "node": ("node",),
    "namespace": ("namespace",),
}


def entity_focus(entity: Mapping | pd.Series) -> dict[str, str]:
    """The :meth:`Investigation.focus` arguments that name the entity of a row: its finest key
    (container, pod, workload, node or namespace; ``entity_kind`` says which when present).

    Examples
    --------
    >>> entity_focus({"entity_kind": "pod", "namespace": "shop", "node": "n1",
    ...               "workload": "web", "pod": "web-1", "container": None})
    {'namespace': 'shop', 'pod': 'web-1'}
    >>> entity_focus({"entity_kind": "workload", "namespace": "shop", "workload": "web"})
    {'namespace': 'shop', 'workload': 'web'}
    """
    given = {
        str(k): str(v)
        for k, v in entity.items()
        if k in schema.KEY and v is not None and not (pd.api.types.is_scalar(v) and pd.isna(v))
    }
    kind = entity.get("entity_kind")
    kinds = [str(kind)] if isinstance(kind, str) and kind in _ENTITY_COLUMNS else []
    for name in [*kinds, *_ENTITY_COLUMNS]:
        columns = _ENTITY_COLUMNS[name]
        if all(c in given for c in columns):
            return {c: given[c] for c in columns}
    raise InvestigationError(
        f"this row names no entity to focus on (no namespace, workload, pod, container or node "
        f"in {sorted(map(str, entity.keys()))}); give key columns, e.g. focus(namespace='shop')"
    )
