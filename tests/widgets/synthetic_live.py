"""A large live cluster without a network: snapshots shaped as ``obskit.watch`` makes them.

:func:`cluster_objects` writes the Kubernetes objects of a cluster of ``pods`` pods (nodes,
Deployments, their ReplicaSets, pods of two containers), as the API server sends them;
:class:`SyntheticWatch` holds such a cluster, changes it tick by tick (pods added, deleted,
error log lines, Prometheus samples) and answers as a :class:`obskit.live.Watch` does
(``investigation()``, ``status()``, ``on_tick``, ``ticks``, ``as_of``, ``keep``), building its
snapshots with the watch's own code (``objects_to_frames`` and the collect step), so the
Explorer's live mode can be measured on thousands of pods.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import numpy as np
import pandas as pd

from obskit import schema
from obskit.live.collection import assemble
from obskit.sources._base import ParseResult
from obskit.sources.kubernetes import objects_to_frames

NAMESPACES = 10
DEPLOYMENTS = 30  # per namespace
NODES = 50
START = pd.Timestamp("2026-01-01T00:00:00Z")


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(name: str, namespace: str | None, uid: str, created: pd.Timestamp, owner=None) -> dict:
    meta = {"name": name, "uid": uid, "creationTimestamp": _iso(created)}
    if namespace:
        meta["namespace"] = namespace
    if owner:
        kind, owner_name, owner_uid = owner
        meta["ownerReferences"] = [
            {"kind": kind, "name": owner_name, "uid": owner_uid, "controller": True}
        ]
    return meta


def pod(index: int, created: pd.Timestamp, per: int) -> dict:
    """Pod ``index`` of the cluster (``per`` pods a Deployment)."""
    deployment = (index // per) % (NAMESPACES * DEPLOYMENTS)
    ns, dep = deployment // DEPLOYMENTS, deployment % DEPLOYMENTS
    namespace, name = f"ns-{ns:02d}", f"app-{dep:02d}"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _meta(
            f"{name}-5d8f-{index:05d}",
            namespace,
            f"pod-{index}",
            created,
            ("ReplicaSet", f"{name}-5d8f", f"rs-{ns}-{dep}"),
        ),
        "spec": {
            "nodeName": f"node-{index % NODES:02d}",
            "containers": [{"name": "app", "image": "app:1"}, {"name": "proxy", "image": "p:1"}],
        },
        "status": {"phase": "Running"},
    }


def cluster_objects(pods: int) -> list[dict]:
    """Nodes, Deployments and ReplicaSets of a cluster of ``pods`` pods (without the pods)."""
    objects = [
        {
            "kind": "Node",
            "apiVersion": "v1",
            "metadata": _meta(f"node-{i:02d}", None, f"node-{i}", START),
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
        for i in range(NODES)
    ]
    for ns in range(NAMESPACES):
        for dep in range(DEPLOYMENTS):
            namespace, name = f"ns-{ns:02d}", f"app-{dep:02d}"
            objects.append(
                {
                    "kind": "Deployment",
                    "apiVersion": "apps/v1",
                    "metadata": _meta(name, namespace, f"dep-{ns}-{dep}", START),
                    "spec": {"replicas": pods // (NAMESPACES * DEPLOYMENTS)},
                }
            )
            objects.append(
                {
                    "kind": "ReplicaSet",
                    "apiVersion": "apps/v1",
                    "metadata": _meta(
                        f"{name}-5d8f",
                        namespace,
                        f"rs-{ns}-{dep}",
                        START,
                        ("Deployment", name, f"dep-{ns}-{dep}"),
                    ),
                }
            )
    return objects


class SyntheticWatch:
    """A cluster of ``pods`` pods followed as :class:`obskit.live.Watch` follows one.

    ``tick(added=, deleted=, errors=)`` changes it and runs the tick's callbacks (on the
    caller's thread, or on a thread of its own with ``thread=True``).
    """

    def __init__(self, pods: int = 3000, *, keep: str = "2h", every: str = "15s") -> None:
        self.keep = pd.Timedelta(keep)
        self.every = pd.Timedelta(every)
        self.per = max(1, pods // (NAMESPACES * DEPLOYMENTS))
        self.base = cluster_objects(pods)
        self.pods = {i: pod(i, START - pd.Timedelta("1D"), self.per) for i in range(pods)}
        self.deleted: dict[int, pd.Timestamp] = {}
        self.next = pods
        self.as_of = START + pd.Timedelta("1h")
        self.started = START
        self.ticks = 0
        self.running = True
        self.logs: list[dict] = []
        self.failing: dict[str, str] = {}  # stream -> last error
        self._listeners: list[Callable] = []
        self._lock = threading.Lock()

    # --- what an Explorer reads --------------------------------------------------------------

    def on_tick(self, callback: Callable) -> Callable[[], None]:
        self._listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    def investigation(self):
        with self._lock:
            docs = [*self.base, *self.pods.values()]
            deleted = dict(self.deleted)
            logs = list(self.logs)
            as_of = self.as_of
        inventory = objects_to_frames(docs).inventory
        gone = inventory["uid"].isin([f"pod-{i}" for i in deleted])
        when = inventory["uid"].map({f"pod-{i}": t for i, t in deleted.items()})
        inventory.loc[gone, "deleted"] = when[gone].astype(schema.TIME)
        parsed = ParseResult(len(docs), inventory=inventory)
        results = [("inventory (synthetic)", "k8s-json", parsed)]
        if logs:
            frame = schema.conform("logs", pd.DataFrame(logs))
            results.append(("logs (synthetic)", "loki-json", ParseResult(len(frame), logs=frame)))
        results.append(("metrics (synthetic)", "prometheus-json", self._metrics(as_of, deleted)))
        lo = max(self.started, as_of - self.keep)
        return assemble(results, [], "synthetic", (lo, as_of))

    def _metrics(self, as_of: pd.Timestamp, deleted: dict[int, pd.Timestamp]) -> ParseResult:
        """Working-set memory of the first namespace's pods over the last hour, or ``keep``
        when shorter (15s steps); a deleted pod's series ends at its deletion."""
        chosen = [i for i in self.pods if i < self.per * DEPLOYMENTS]
        names = [self.pods[i]["metadata"]["name"] for i in chosen]
        start = as_of - min(pd.Timedelta("1h"), self.keep)
        stamps = pd.date_range(start.ceil(self.every), as_of, freq=self.every).as_unit("ns")
        ends = np.array([deleted.get(i, as_of).value for i in chosen])
        frame = pd.DataFrame(
            {
                "timestamp": np.repeat(stamps, len(names)),
                "metric": "container_memory_working_set_bytes",
                # the same sample at the same time in every snapshot, as a real series
                "value": 2e8
                + 1e7 * np.sin(np.add.outer(stamps.asi8 / 6e10, np.arange(len(names)))).ravel(),
                "namespace": "ns-00",
                "pod": np.tile(names, len(stamps)),
                "container": "app",
            }
        )
        frame = frame.loc[np.repeat(stamps.asi8, len(names)) <= np.tile(ends, len(stamps))]
        frame = schema.conform("metrics", frame.reset_index(drop=True))
        return ParseResult(len(frame), metrics=frame)

    def status(self) -> pd.DataFrame:
        rows = [
            {
                "source": "kubernetes",
                "what": what,
                "state": "retrying" if what in self.failing else "ok",
                "last_success": self.as_of,
                "errors": int(what in self.failing),
                "last_error": self.failing.get(what),
            }
            for what in ("pods", "nodes", "deployments", "replicasets")
        ]
        frame = pd.DataFrame(rows)
        frame.insert(4, "lag", pd.Timestamp.now(tz="UTC") - frame["last_success"])
        return frame

    def stop(self) -> None:
        self.running = False

    # --- the cluster changing ----------------------------------------------------------------

    def tick(self, added: int = 0, deleted: int = 0, errors: int = 0) -> None:
        with self._lock:
            self.as_of = self.as_of + self.every
            for _ in range(added):
                self.pods[self.next] = pod(self.next, self.as_of, self.per)
                self.next += 1
            alive = [i for i in self.pods if i not in self.deleted]
            for i in alive[:deleted]:
                self.deleted[i] = self.as_of
            for i in alive[deleted : deleted + errors]:
                name = self.pods[i]["metadata"]
                self.logs.append(
                    {
                        "timestamp": self.as_of,
                        "namespace": name["namespace"],
                        "pod": name["name"],
                        "container": "app",
                        "level": "error",
                        "message": "ERROR upstream timed out",
                    }
                )
            self.ticks += 1
            listeners = list(self._listeners)
        for callback in listeners:
            callback(self)
