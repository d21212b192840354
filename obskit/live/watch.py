"""``watch``: follow a live cluster, keeping one Investigation current as pods come and go.

:func:`watch` starts in the background and returns at once. From then on:

* **Kubernetes** — every kind the inventory holds (nodes, pods, their owners, Services,
  EndpointSlices) and the Events are *listed*, then *watched* from the list's
  ``resourceVersion`` with ``allowWatchBookmarks``: one stream per kind (and namespace, when
  ``namespaces`` is given), each on a thread of its own. A watch that ends (the API server
  closes every watch after a few minutes) resumes from the last ``resourceVersion`` seen. On
  ``410 Gone`` (an ``ERROR`` event with code 410, or an HTTP 410), the stream relists and diffs
  the list against what it knew: objects that vanished meanwhile are recorded as
  ``seen-missing`` (their deletion was not seen, so it is never passed off as one), objects
  that changed as ``modified`` and new ones as ``added``; nothing is recorded twice. A dropped
  connection (a cut in the middle of a line included) reconnects with exponential backoff and
  jitter from the last complete line. A kind the credentials may not list or watch (403) is a
  coverage gap in the notes and the status; the other streams go on.
* **Prometheus** — every ``every``, each query is evaluated over the new interval only, on the
  step grid, re-reading the last two steps (samples scraped late); the re-read samples replace
  what was there, so there is never a gap or a duplicate at a tick's edge. Series of new pods
  appear by themselves: the queries are selectors.
* **Loki** — each tick continues from the last timestamp seen; lines at that nanosecond that
  were already kept are not kept twice.
* **Memory** — samples, lines and Events older than ``keep`` are dropped (and counted in
  :meth:`Watch.status`); the inventory's history (deleted objects keep their row, with the time
  their deletion was seen) and the change log stay.

:meth:`Watch.investigation` is a consistent snapshot: an ordinary
:class:`~obskit.Investigation` (``inv.hierarchy(at=t)`` draws the tree at any moment the watch
saw) whose ``changes`` frame is the change log. :meth:`Watch.save` writes it as an evidence
bundle. Views and widgets read snapshots, never the network.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._time import as_duration
from obskit.errors import CollectionError
from obskit.investigation import Investigation
from obskit.live.collection import GAP, assemble, loki_selector
from obskit.live.kubernetes import INVENTORY, RESOURCES, Kubernetes
from obskit.live.loki import Loki
from obskit.live.prometheus import DEFAULT_QUERIES, Prometheus, render_query, step_millis
from obskit.sources._base import ParseResult, Rejects
from obskit.sources.kubernetes import _frames, _inventory_row, objects_to_frames

__all__ = ["Watch", "watch"]

log = logging.getLogger("obskit.live")

#: The fields of an object whose change is a row of the change log.
TRACKED = ("phase", "ready", "restarts", "node", "image", "owner", "reason")
#: How long the API server may keep one watch open (it closes it earlier, at random).
WATCH_SECONDS = 300
#: What makes a log line the same line when a read returns it again.
_LINE_IDENTITY = ("timestamp", "namespace", "pod", "container", "stream", "message")
#: Seconds a watch may stay silent before it is reopened (bookmarks come about once a minute).
WATCH_READ_TIMEOUT = 90.0
#: Longest wait between reconnects of a failing stream.
MAX_BACKOFF = 30.0


def watch(
    kubernetes: Kubernetes | None = None,
    prometheus: Prometheus | None = None,
    loki: Loki | None = None,
    namespaces: Sequence[str] | None = None,
    every: object = "15s",
    keep: object = "2h",
    queries: Mapping[str, str] | None = None,
    cluster: str | None = None,
    *,
    step: object = None,
    backfill: object = None,
) -> Watch:
    """Follow a live cluster in the background; return the :class:`Watch` at once.

    Parameters
    ----------
    kubernetes, prometheus, loki
        The sources to follow; at least one.
    namespaces
        Restrict everything namespaced to these namespaces (nodes and node metrics are kept).
    every
        How often Prometheus and Loki are read (Kubernetes changes arrive as they happen).
    keep
        How much signal history is kept: samples, log lines and Events older than this are
        dropped. The inventory's history and the change log are kept whole.
    queries
        Metric name -> PromQL, instead of :data:`obskit.live.DEFAULT_QUERIES`.
    cluster
        Cluster name for rows that do not carry one.
    step
        Prometheus resolution (default: ``every``).
    backfill
        How much history the first tick reads (default: ``keep``).

    Examples
    --------
    >>> import obskit
    >>> with obskit.watch(kubernetes=obskit.Kubernetes(), namespaces=["shop"],
    ...                   every="15s") as w:  # doctest: +SKIP
    ...     w.wait(ticks=2)
    ...     w.changes().tail()
    """
    return Watch(
        kubernetes,
        prometheus,
        loki,
        namespaces,
        every=every,
        keep=keep,
        queries=queries,
        cluster=cluster,
        step=step,
        backfill=backfill,
    ).start()


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


@dataclass
class _Health:
    """What :meth:`Watch.status` says of one stream or query."""

    source: str
    what: str
    state: str = "starting"
    last_success: pd.Timestamp | None = None
    errors: int = 0
    last_error: str | None = None
    resource_version: str | None = None
    relists: int = 0
    changes: int = 0
    dropped: int = 0

    def ok(self) -> None:
        self.state, self.last_success = "ok", _now()

    def failed(self, message: str, state: str = "retrying") -> None:
        self.state, self.errors, self.last_error = state, self.errors + 1, message


@dataclass
class _Series:
    """One Prometheus query's kept samples: frames in time order, and where the next read
    starts."""

    chunks: list[pd.DataFrame] = field(default_factory=list)
    end: pd.Timestamp | None = None
    records: int = 0


class Watch:
    """A live cluster followed in the background (made by :func:`obskit.watch`).

    Attributes
    ----------
    ticks : int
        Ticks completed (a tick reads Prometheus and Loki, and publishes a snapshot).
    as_of : Timestamp or None
        When the last tick completed.
    """

    def __init__(
        self,
        kubernetes: Kubernetes | None = None,
        prometheus: Prometheus | None = None,
        loki: Loki | None = None,
        namespaces: Sequence[str] | None = None,
        *,
        every: object = "15s",
        keep: object = "2h",
        queries: Mapping[str, str] | None = None,
        cluster: str | None = None,
        step: object = None,
        backfill: object = None,
    ) -> None:
        if kubernetes is None and prometheus is None and loki is None:
            raise CollectionError(
                "watch needs at least one source: kubernetes=obskit.Kubernetes(), "
                "prometheus=obskit.Prometheus(url) or loki=obskit.Loki(url)"
            )
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        self.namespaces = list(namespaces) if namespaces else None
        self.every = as_duration(every, "every", error=CollectionError, seconds=True)
        self.keep = as_duration(keep, "keep", error=CollectionError, seconds=True)
        self.backfill = (
            self.keep
            if backfill is None
            else as_duration(backfill, "backfill", error=CollectionError, seconds=True)
        )
        self.step = pd.Timedelta(milliseconds=step_millis(self.every if step is None else step))
        self.cluster = cluster
        self.kubernetes, self.prometheus, self.loki = kubernetes, prometheus, loki
        chosen = dict(DEFAULT_QUERIES if queries is None else queries)
        self._queries = {n: render_query(q, self.namespaces) for n, q in chosen.items()}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._tick_done = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._streams: list[_KubeStream] = []
        self._listeners: list[Callable[[Watch], None]] = []
        # state, guarded by _lock
        self._objects: dict[str, dict] = {}  # uid -> inventory row of every object ever seen
        self._dirty: set[str] = set()  # uids whose row changed since the last snapshot
        self._inventory: pd.DataFrame | None = None  # the last snapshot's inventory frame
        self._snapshot_lock = threading.Lock()  # one snapshot at a time (they share _inventory)
        self._facts: dict[str, dict] = {}  # uid -> tracked fields, while the object lives
        self._events: dict[str, tuple[pd.Timestamp, dict, _KubeStream]] = {}  # uid -> Event
        self._expired: set[str] = set()  # Events dropped by keep
        self._changes: list[dict] = []
        self._series = {name: _Series() for name in self._queries} if prometheus else {}
        self._logs: list[pd.DataFrame] = []
        self._log_end: int | None = None  # ns of the last line kept
        self._log_edge: set[int] = set()  # hashes of the lines kept at that nanosecond
        self._rejects: list[pd.DataFrame] = []
        self._notes: list[str] = []
        self._health: dict[tuple[str, str], _Health] = {}
        self.ticks = 0
        self.as_of: pd.Timestamp | None = None
        self.started: pd.Timestamp | None = None
        self.stopped: pd.Timestamp | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Watch:
        """Start following (once); return ``self``."""
        if self.started is not None:
            return self
        self.started = _now()
        if self.kubernetes is not None:
            scopes: list[str | None] = list(self.namespaces) if self.namespaces else [None]
            for resource in (*INVENTORY, "events"):
                namespaced = resource == "events" or RESOURCES[resource][2]
                for namespace in scopes if namespaced else [None]:
                    stream = _KubeStream(self, resource, namespace)
                    self._streams.append(stream)
                    self._spawn(stream.run, f"obskit-watch {stream.what}")
        self._spawn(self._tick_loop, "obskit-watch ticks")
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following; what was seen stays (``investigation()``, ``save()`` still work)."""
        if self._stop.is_set():
            return
        self._stop.set()
        for stream in self._streams:
            stream.interrupt()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stopped = _now()
        with self._lock:
            for health in self._health.values():
                if health.state not in ("forbidden", "failed"):
                    health.state = "stopped"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self.started is not None and not self._stop.is_set()

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        sources = [
            f"{name}={src!r}"
            for name, src in (
                ("kubernetes", self.kubernetes),
                ("prometheus", self.prometheus),
                ("loki", self.loki),
            )
            if src is not None
        ]
        state = "running" if self.running else "stopped" if self.stopped else "not started"
        return (
            f"<Watch {state}, {self.ticks} ticks, as of {self.as_of}, every={self.every}, "
            f"keep={self.keep}: {', '.join(sources)}>"
        )

    def on_tick(self, callback: Callable[[Watch], None]) -> Callable[[], None]:
        """Call ``callback(watch)`` after each tick, on the watch's thread; return a function
        that removes it. A callback that raises is logged and kept."""
        with self._lock:
            self._listeners.append(callback)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    def wait(self, ticks: int = 1, timeout: float | None = None) -> bool:
        """Block until ``ticks`` more ticks have completed; False when ``timeout`` ran out first
        or the watch stopped."""
        with self._tick_done:
            target = self.ticks + ticks
            return (
                self._tick_done.wait_for(
                    lambda: self.ticks >= target or self._stop.is_set(), timeout
                )
                and self.ticks >= target
            )

    def listed(self, timeout: float | None = None) -> bool:
        """Block until every Kubernetes stream has listed its kind once (or been refused);
        False when ``timeout`` ran out first. True at once without Kubernetes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not all(s.listed_once or s.health.state == "forbidden" for s in self._streams):
            left = None if deadline is None else deadline - time.monotonic()
            if (left is not None and left <= 0) or self._stop.wait(
                0.05 if left is None else min(0.05, left)
            ):
                return False
        return True

    # --- what an analyst reads -----------------------------------------------------------------

    def changes(self) -> pd.DataFrame:
        """One row per object change seen (see ``schema.FRAMES["changes"]``), in order."""
        with self._lock:
            rows = list(self._changes)
        return _changes_frame(rows, self.cluster)

    def status(self) -> pd.DataFrame:
        """One row per source stream: ``source, what, state, last_success, lag, errors,
        last_error, resource_version, relists, changes, dropped`` (rows dropped by ``keep``)."""
        now = _now()
        with self._lock:
            rows = [vars(h).copy() for h in self._health.values()]
        frame = pd.DataFrame(
            rows,
            columns=[
                "source",
                "what",
                "state",
                "last_success",
                "errors",
                "last_error",
                "resource_version",
                "relists",
                "changes",
                "dropped",
            ],
        )
        frame["last_success"] = pd.to_datetime(frame["last_success"], utc=True)
        frame.insert(4, "lag", now - frame["last_success"])
        return frame

    def investigation(self) -> Investigation:
        """A consistent snapshot: the inventory now (deleted objects kept, with ``deleted``
        set), the metrics, events and logs of the kept window, and the change log as
        ``inv.changes``."""
        with self._snapshot_lock:  # snapshots share the last inventory frame
            with self._lock:
                changed = [self._objects[uid] for uid in self._dirty]
                dirty, self._dirty = self._dirty, set()
                events = [doc for _, doc, _ in self._events.values()]
                series = {name: list(s.chunks) for name, s in self._series.items()}
                records = {name: s.records for name, s in self._series.items()}
                logs = list(self._logs)
                rejects = list(self._rejects)
                notes = list(self._notes)
                rows = list(self._changes)
                as_of = self.as_of or _now()
            inventory = self._inventory_result(changed, dirty) if self.kubernetes else None
        results: list[tuple[str, str, ParseResult]] = []
        if self.kubernetes is not None:
            results.append(inventory)
            parsed = objects_to_frames(events, origin=self.kubernetes.origin("events (watch)"))
            results.append((self.kubernetes.origin("events (watch)"), "k8s-json", parsed))
        for name, chunks in series.items():
            frame = schema.concat("metrics", chunks)
            assert self.prometheus is not None
            origin = self.prometheus.origin("query_range", self._queries[name])
            results.append((origin, "prometheus-json", ParseResult(records[name], metrics=frame)))
        if self.loki is not None:
            frame = schema.concat("logs", logs)
            origin = self.loki.origin(loki_selector(self.namespaces))
            results.append((origin, "loki-json", ParseResult(len(frame), logs=frame)))
        if rejects:
            frame = schema.concat("rejects", rejects)
            results.append(("watch", "watch", ParseResult(len(frame), rejects=frame)))
        inv = assemble(results, notes, self.cluster, self._window(as_of, events))
        inv.changes = _changes_frame(rows, self.cluster)
        return inv

    def _window(self, as_of: pd.Timestamp, events: list[dict]) -> tuple[pd.Timestamp, pd.Timestamp]:
        """What a snapshot covers: from what the first tick read (``backfill`` before the
        start, for Prometheus and Loki; the start, with the Kubernetes API alone, and the
        Events it listed) or ``keep`` ago, whichever is later, to the last tick."""
        # the API server's times are whole seconds: an object created in the second the watch
        # started was created inside what it covers
        started = (self.started or as_of).floor("s")
        signals = self.prometheus is not None or self.loki is not None
        lo = started - self.backfill if signals else started
        if events:
            lo = min(lo, *(_event_time(e) for e in events))
        return max(lo, as_of - self.keep), as_of

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write what was seen (the change log included) as an evidence bundle; return the
        folder. See :func:`obskit.bundle.save`."""
        return self.investigation().save(path, overwrite=overwrite)

    # --- ticks ---------------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self._tick()
            wait = self.every.total_seconds() - (time.monotonic() - began)
            if self._stop.wait(max(0.0, wait)):
                return

    def _tick(self) -> None:
        now = _now()
        if self.prometheus is not None:
            for name in self._queries:
                self._read_prometheus(name, now)
        if self.loki is not None:
            self._read_loki(now)
        self._trim(now)
        self._finish_tick(now)

    def _finish_tick(self, now: pd.Timestamp) -> None:
        with self._tick_done:
            self.ticks += 1
            self.as_of = now
            listeners = list(self._listeners)
            self._tick_done.notify_all()
        for callback in listeners:
            try:
                callback(self)
            except Exception:  # a view that failed must not stop the watch
                log.exception("obskit watch: an on_tick callback failed")

    def _health_of(self, source: str, what: str) -> _Health:
        with self._lock:
            key = (source, what)
            if key not in self._health:
                self._health[key] = _Health(source, what)
            return self._health[key]

    def _read_prometheus(self, name: str, now: pd.Timestamp) -> None:
        assert self.prometheus is not None
        health = self._health_of("prometheus", name)
        series = self._series[name]
        step = self.step
        end = now.floor(step)
        if series.end is None:
            start = (now - self.backfill).ceil(step)
        else:
            start = max(series.end - 2 * step, (now - self.keep).ceil(step))
        if start > end:
            return
        try:
            result = self.prometheus.query_range_result(
                self._queries[name], start, end, step, name=name
            )
        except CollectionError as exc:
            with self._lock:
                health.failed(str(exc))
            log.warning("obskit watch: %s", exc)
            return
        frame = result.metrics if result.metrics is not None else schema.empty("metrics")
        with self._lock:
            # the re-read steps replace what the last tick had of them (late samples)
            replaced = _cut_tail(series.chunks, start)
            # the rejects are counted in the watch's own ledger row, with the rest of them
            series.records += result.records - len(result.rejects) - replaced
            if len(frame):
                series.chunks.append(frame)
            series.end = end
            if len(result.rejects):
                self._rejects.append(result.rejects)
            health.ok()

    def _read_loki(self, now: pd.Timestamp) -> None:
        assert self.loki is not None
        health = self._health_of("loki", "logs")
        logql = loki_selector(self.namespaces)
        start = (
            pd.Timestamp(self._log_end, tz="UTC")
            if self._log_end is not None
            else now - self.backfill
        )
        try:
            result = self.loki.query_range_result(logql, start, now)
        except CollectionError as exc:
            with self._lock:
                health.failed(str(exc))
            log.warning("obskit watch: %s", exc)
            return
        frame = result.logs if result.logs is not None else schema.empty("logs")
        with self._lock:
            frame = self._fresh_lines(frame)
            if len(frame):
                self._logs.append(frame)
            if len(result.rejects):
                self._rejects.append(result.rejects)
            health.ok()

    def _fresh_lines(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The lines not kept yet (a read starts at the last nanosecond kept, inclusive, so
        lines at that nanosecond may come twice); remember the new edge (under the lock)."""
        if not len(frame):
            return frame
        hashes = pd.util.hash_pandas_object(frame[list(_LINE_IDENTITY)], index=False).to_numpy()
        stamps = frame["timestamp"].array.asi8
        again = (stamps == self._log_end) & np.isin(hashes, list(self._log_edge))
        frame, hashes, stamps = (
            frame.loc[~again].reset_index(drop=True),
            hashes[~again],
            stamps[~again],
        )
        if len(frame):
            last = int(stamps.max())
            edge = set(hashes[stamps == last].tolist())
            self._log_edge = self._log_edge | edge if last == self._log_end else edge
            self._log_end = last
        return frame

    def _trim(self, now: pd.Timestamp) -> None:
        """Drop samples, lines and Events older than ``keep``; count them."""
        cutoff = now - self.keep
        with self._lock:
            for name, series in self._series.items():
                dropped = _cut_head(series.chunks, cutoff)
                series.records -= dropped
                self._health_of("prometheus", name).dropped += dropped
            if self._logs:
                self._health_of("loki", "logs").dropped += _cut_head(self._logs, cutoff)
            old = [uid for uid, (when, _, _) in self._events.items() if when < cutoff]
            for uid in old:
                self._events.pop(uid)[2].health.dropped += 1
            self._expired.update(old)

    # --- kubernetes state (called by the streams) ----------------------------------------------

    def _inventory_result(
        self, changed: list[dict], dirty: set[str]
    ) -> tuple[str, str, ParseResult]:
        """The inventory frame: the last snapshot's, with the rows of the objects changed since
        then made again (a tick changes a few of thousands of objects)."""
        assert self.kubernetes is not None
        origin = self.kubernetes.origin("inventory (watch)")
        fresh = _frames(len(changed), Rejects("k8s-json", origin), changed, [], origin).inventory
        parts = [] if fresh is None else [fresh]
        if self._inventory is not None:
            parts.insert(0, self._inventory.loc[~self._inventory["uid"].isin(dirty)])
        frame = schema.concat("inventory", parts).reset_index(drop=True)
        self._inventory = frame
        return origin, "k8s-json", ParseResult(len(frame), inventory=frame)

    def _apply(self, stream: _KubeStream, verb: str, obj: dict, seen: pd.Timestamp) -> None:
        """One object as a stream saw it: update the state, and the change log when it changed.

        ``verb`` is ``initial`` (the first list: the starting state, not a change), ``listed``
        (a relist: added or modified, by what was known), ``added``, ``modified``, ``deleted``
        or ``seen-missing``.
        """
        meta = obj.get("metadata") or {}
        uid = meta.get("uid") or f"{obj.get('kind')}/{meta.get('namespace')}/{meta.get('name')}"
        if obj.get("kind") == "Event":
            self._apply_event(stream, verb, uid, obj)
            return
        with self._lock:
            before = self._objects.get(uid)
            old = self._facts.get(uid)  # None once its deletion is recorded
            if verb in ("deleted", "seen-missing"):
                if before is None or old is None:
                    return  # never seen alive, or its deletion is already recorded
                self._objects[uid] = {**before, "deleted": seen.isoformat()}
                self._dirty.add(uid)
                del self._facts[uid]
                stream.known.discard(uid)
                self._record(seen, verb, before, old, None, [], meta, stream)
                return
            row = _inventory_row(obj)
            row["deleted"] = None  # a deletionTimestamp asks for deletion; it is not gone yet
            facts = _facts_of(obj)
            self._objects[uid], self._facts[uid] = row, facts
            self._dirty.add(uid)
            stream.known.add(uid)
            if verb == "initial":
                return
            changed = [k for k in TRACKED if old is not None and facts.get(k) != old.get(k)]
            if old is not None and not changed:
                return
            verb = "modified" if old is not None else "added"
            self._record(seen, verb, row, facts, old, changed, meta, stream)

    def _vanished(self, stream: _KubeStream, uid: str, seen: pd.Timestamp) -> None:
        """An object a relist no longer holds: its deletion happened while nobody watched."""
        with self._lock:
            row = self._objects.get(uid)
            event = self._events.get(uid)
        if row is not None:
            self._apply(stream, "seen-missing", row["raw"], seen)
        elif event is not None:
            self._apply(stream, "deleted", event[1], seen)

    def _apply_event(self, stream: _KubeStream, verb: str, uid: str, obj: dict) -> None:
        with self._lock:
            if verb in ("deleted", "seen-missing"):
                self._events.pop(uid, None)  # expired: the API server keeps Events for an hour
                stream.known.discard(uid)
            elif uid not in self._expired:  # a relist brings back what keep dropped
                self._events[uid] = (_event_time(obj), obj, stream)
                stream.known.add(uid)

    def _record(
        self,
        seen: pd.Timestamp,
        verb: str,
        row: dict,
        facts: dict,
        old: dict | None,
        changed: list[str],
        meta: dict,
        stream: _KubeStream,
    ) -> None:
        """Append a change-log row (under the lock)."""
        kind = row.get("kind")
        workload_kind, workload = _workload(row, self._objects) if kind != "Node" else (None, None)
        self._changes.append(
            {
                "timestamp": seen,
                "verb": verb,
                "kind": kind,
                "name": row.get("name"),
                "uid": row.get("uid"),
                "namespace": row.get("namespace"),
                "node": facts.get("node") if kind != "Node" else row.get("name"),
                "workload_kind": workload_kind,
                "workload": workload,
                "pod": row.get("name") if kind == "Pod" else None,
                "changed": ", ".join(changed) or None,
                **{k: facts.get(k) for k in TRACKED if k != "node"},
                "before": "; ".join(f"{k}={old.get(k)}" for k in changed) if old else None,
                "resource_version": meta.get("resourceVersion"),
                "origin": stream.origin,
            }
        )
        stream.health.changes += 1


def _cut_tail(chunks: list[pd.DataFrame], start: pd.Timestamp) -> int:
    """Remove rows at or after ``start`` from time-ordered chunks; return how many."""
    removed = 0
    while chunks:
        last = chunks[-1]
        keep = last["timestamp"] < start
        if keep.all():
            break
        removed += int((~keep).sum())
        if keep.any():
            chunks[-1] = last.loc[keep].reset_index(drop=True)
            break
        chunks.pop()
    return removed


def _cut_head(chunks: list[pd.DataFrame], cutoff: pd.Timestamp) -> int:
    """Remove rows before ``cutoff`` from time-ordered chunks; return how many."""
    removed = 0
    while chunks:
        first = chunks[0]
        keep = first["timestamp"] >= cutoff
        if keep.all():
            break
        removed += int((~keep).sum())
        if keep.any():
            chunks[0] = first.loc[keep].reset_index(drop=True)
            break
        chunks.pop(0)
    return removed


def _facts_of(obj: dict) -> dict:
    """The tracked fields of an object, as the change log shows them."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    refs = meta.get("ownerReferences") or []
    owner = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    facts: dict[str, object] = {
        "owner": f"{owner.get('kind')}/{owner.get('name')}" if owner else None
    }
    if kind == "Pod":
        statuses = status.get("containerStatuses") or []
        ready = sum(1 for s in statuses if s.get("ready"))
        total = len(spec.get("containers") or []) or len(statuses)
        reasons = []
        for s in (status.get("initContainerStatuses") or []) + statuses:
            state = s.get("state") or {}
            for phase in ("waiting", "terminated"):
                reason = (state.get(phase) or {}).get("reason")
                if reason and reason not in ("Completed", "ContainerCreating", "PodInitializing"):
                    reasons.append(f"{s.get('name')}: {reason}")
        if meta.get("deletionTimestamp"):
            reasons.append("Terminating")
        if status.get("reason"):
            reasons.append(str(status["reason"]))
        facts.update(
            phase=status.get("phase"),
            ready=f"{ready}/{total}",
            restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
            node=spec.get("nodeName"),
            image=", ".join(c.get("image") or "" for c in spec.get("containers") or []) or None,
            reason="; ".join(reasons) or None,
        )
    elif kind == "Node":
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        ready = conditions.get("Ready") or {}
        facts.update(
            phase="Ready" if ready.get("status") == "True" else "NotReady",
            reason=(ready.get("reason") if ready.get("status") != "True" else None)
            or ("unschedulable" if spec.get("unschedulable") else None),
        )
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        template = ((spec.get("template") or {}).get("spec")) or {}
        if kind == "DaemonSet":
            want, have = status.get("desiredNumberScheduled"), status.get("numberReady")
        else:
            want, have = spec.get("replicas"), status.get("readyReplicas")
        facts.update(
            ready=f"{int(have or 0)}/{int(want or 0)}",
            image=", ".join(c.get("image") or "" for c in template.get("containers") or []) or None,
        )
    elif kind == "Job":
        facts.update(
            phase="Complete"
            if status.get("succeeded") and not status.get("active")
            else "Failed"
            if status.get("failed") and not status.get("active")
            else "Active"
            if status.get("active")
            else None
        )
    return facts


def _workload(row: dict, objects: dict[str, dict]) -> tuple[str | None, str | None]:
    """The top owner (kind, name) of an inventory row, through the objects known."""
    kind, name, uid = row.get("kind"), row.get("name"), row.get("owner_uid")
    seen = 0
    while uid and seen < 5:
        owner = objects.get(uid)
        if owner is None:
            return row.get("owner_kind"), row.get("owner_name")
        row, kind, name, uid = owner, owner.get("kind"), owner.get("name"), owner.get("owner_uid")
        seen += 1
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"):
        return kind, name
    return ("Pod", name) if kind == "Pod" else (None, None)


def _changes_frame(rows: list[dict], cluster: str | None) -> pd.DataFrame:
    frame = pd.DataFrame(rows) if rows else None
    return schema.conform("changes", frame, cluster=cluster)


class _Gone(Exception):
    """The stream's resourceVersion is too old (HTTP 410 or an ERROR event with code 410)."""


class _KubeStream:
    """List, then watch, one resource in one namespace (or all), for a :class:`Watch`."""

    def __init__(self, owner: Watch, resource: str, namespace: str | None) -> None:
        assert owner.kubernetes is not None
        self.owner = owner
        self.kube: Kubernetes = owner.kubernetes
        self.resource = resource
        self.namespace = namespace
        self.what = resource + (f" -n {namespace}" if namespace else "")
        self.health = owner._health_of("kubernetes", self.what)
        self.origin = self.kube.origin(resource, namespace)
        self.known: set[str] = set()  # uids this stream holds now
        self.version: str | None = None
        self.listed_once = False
        self._response = None
        self._api = resource if resource != "events" else None

    def interrupt(self) -> None:
        """Unblock a read in progress (the watch is stopping)."""
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()

    def run(self) -> None:
        attempt = 0
        while not self.owner._stop.is_set():
            try:
                if self.version is None:
                    self._relist()
                began = time.monotonic()
                self._watch()
                attempt = 0
                # a server that ends watches at once is not hammered
                if time.monotonic() - began < 1 and self.owner._stop.wait(1.0):
                    return
            except _Gone:
                self.version = None  # relist; a server that keeps saying 410 is not hammered
                if attempt and self.owner._stop.wait(_backoff(attempt)):
                    return
                attempt += 1
            except _Forbidden as exc:
                message = str(exc)
                with self.owner._lock:
                    self.health.failed(message, state="forbidden")
                    self.owner._notes.append(GAP + f"cannot watch {self.what}: {message}")
                log.warning("obskit watch: %s", message)
                return
            except Exception as exc:  # a stream must go on: log it, back off, reconnect
                if self.owner._stop.is_set():
                    return
                message = self.kube._redact(f"{self.what}: {_describe(exc)}")
                with self.owner._lock:
                    self.health.failed(message)
                log.warning("obskit watch: %s; reconnecting", message)
                attempt += 1
                if self.owner._stop.wait(_backoff(attempt)):
                    return

    # the events' API: events.k8s.io/v1, or core/v1 where it is not served
    def _resource(self) -> str:
        if self._api is None:
            self._api = (
                "events.k8s.io/v1"
                if self.kube.events_api in ("auto", "events.k8s.io/v1")
                else "core/v1"
            )
        return self._api

    def _relist(self) -> None:
        """List the resource; diff it against what this stream held (a relist after a 410 or a
        lost stream); remember the list's resourceVersion."""
        from obskit.live import kubernetes as live_kube

        resource = self._resource()
        try:
            pages = self.kube._pages(resource, self.namespace)
        except live_kube._NotServed:
            if self.kube.events_api != "auto":
                raise
            self._api = "core/v1"
            pages = self.kube._pages("core/v1", self.namespace)
        except live_kube._Forbidden as exc:
            raise _Forbidden(str(exc)) from None
        seen = _now()
        first = self.version is None and not self.listed_once
        listed: set[str] = set()
        for page in pages:
            for item in page.get("items") or []:
                meta = item.get("metadata") or {} if isinstance(item, dict) else {}
                if not meta.get("name"):
                    continue  # objects_to_frames rejects it when the inventory is built
                listed.add(meta.get("uid") or "")
                self.owner._apply(self, "initial" if first else "listed", item, seen)
        for uid in self.known - listed:
            self.owner._vanished(self, uid, seen)
        self.version = str((pages[-1].get("metadata") or {}).get("resourceVersion") or "") or None
        with self.owner._lock:
            if not first:
                self.health.relists += 1
            self.listed_once = True
            self.health.resource_version = self.version
            self.health.ok()

    def _watch(self) -> None:
        """One watch request from ``self.version``, read until the server ends it."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        call, args = self.kube._list_call(self._resource(), self.namespace)
        try:
            response = call(
                *args,
                watch=True,
                resource_version=self.version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                _preload_content=False,
                _request_timeout=(self.kube.timeout, WATCH_READ_TIMEOUT),
            )
        except ApiException as exc:
            if exc.status == 410:
                raise _Gone from None
            if exc.status == 403:
                raise _Forbidden(self.kube._status_message(exc, f"watching {self.what}")) from None
            raise
        self._response = response
        try:
            self._read(response)
        except urllib3.exceptions.ReadTimeoutError:
            pass  # a quiet watch with no bookmarks: reconnect from where it was
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.release_conn()

    def _read(self, response) -> None:
        """Apply each complete line of the watch; a line cut short is left for the reconnect,
        which resumes after the last complete one."""
        buffer = b""
        for chunk in response.stream(65536, decode_content=True):
            if self.owner._stop.is_set():
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    self._event(line)

    def _event(self, line: bytes) -> None:
        try:
            event = orjson.loads(line)
            kind, obj = event["type"], event["object"]
            meta = obj.get("metadata") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise CollectionError(
                f"{self.origin}: a watch line is not a WatchEvent ({exc}): {line[:200]!r}"
            ) from None
        if kind == "ERROR":
            if obj.get("code") == 410:  # "too old resource version": relist
                raise _Gone
            raise CollectionError(
                f"{self.origin}: the watch ended with an error: {obj.get('message')!r}"
            )
        if kind != "BOOKMARK":
            verb = {"ADDED": "added", "MODIFIED": "modified", "DELETED": "deleted"}.get(kind)
            if verb is None:
                raise CollectionError(f"{self.origin}: unknown watch event type {kind!r}")
            self.owner._apply(self, verb, obj, _now())
        if meta.get("resourceVersion"):
            self.version = str(meta["resourceVersion"])
            with self.owner._lock:
                self.health.resource_version = self.version
                self.health.ok()


class _Forbidden(Exception):
    """A 403: the credentials may not list or watch this kind."""


def _backoff(attempt: int) -> float:
    """Seconds before reconnect ``attempt`` (1-based): exponential, capped, with jitter."""
    return min(MAX_BACKOFF, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def _describe(exc: BaseException) -> str:
    """A failed stream in a line: what it means, then what the client said."""
    import urllib3

    text = str(exc).strip().splitlines()
    said = f"{type(exc).__name__}: {text[-1][:300] if text else ''}"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return f"the connection was cut ({said})"
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return f"the API server could not be reached ({said})"
    return said


def _event_time(obj: dict) -> pd.Timestamp:
    """When an Event last happened, for ``keep`` (its fields by API version, newest first)."""
    series = obj.get("series") or {}
    for value in (
        series.get("lastObservedTime"),
        obj.get("lastTimestamp"),
        obj.get("deprecatedLastTimestamp"),
        obj.get("eventTime"),
        (obj.get("metadata") or {}).get("creationTimestamp"),
    ):
        if value:
            with contextlib.suppress(ValueError, TypeError):
                return pd.Timestamp(value).tz_convert("UTC")
    return _now()
