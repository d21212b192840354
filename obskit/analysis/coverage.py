"""Collector coverage: which nodes were watched, by which collector, and when they were not.

Silence is only safety where someone was listening. :func:`coverage` reads the inventory for the
monitoring DaemonSets (node-exporter, Falco, the log shipper, kube-proxy and the CNI agent) and
their pods, and the signal frames for what each node actually sent, and returns one row per
node and *source*:

- ``source="daemonset"``: a collector DaemonSet on the node. ``desired`` (1 when the DaemonSet's
  ``nodeSelector`` matches the node's labels), ``pods`` (its pods seen on the node over the
  window), ``ready`` (1 when one is running at the window's end), ``restarts`` (their container
  restarts), ``first``/``last`` (when a pod of it was running there) and ``gap`` (how long pods
  other than collectors ran on the node while no pod of this collector did);
- ``source="signal"``: what the node sent: ``metrics`` (series with the node), ``container
  logs``, ``falco`` (Falco alerts) and, once for the cluster (``node`` missing), ``audit``.
  ``rows``, ``first`` and ``last`` are the span received. Falco and the audit log are quiet when
  nothing happens, so a signal row reports, it does not judge.

:func:`coverage_gaps` lists the gaps themselves, one row per node, collector and interval
(``start``, ``end``, ``duration``, ``reason``), with ``security`` set for the collectors whose
silence an attacker wants (Falco and the log shippers). A gap is a time when the node ran pods
and the collector had no pod running there: its pod deleted, not yet created, or never
scheduled on a node its DaemonSet should cover.

Collectors are recognised by :data:`COLLECTORS`, a small table of well-known names, matched on
the DaemonSet's name, its ``app.kubernetes.io/name``, ``k8s-app`` or ``app`` label and its
container images:

========================== ========== ========== ============================================
collector                  role       security   matches
========================== ========== ========== ============================================
falco                      runtime    yes        falco
log shipper                logs       yes        fluent-bit, fluentd, vector, promtail,
                                                 grafana-agent, alloy, filebeat, elastic-agent
datadog-agent              agent      yes        datadog-agent, datadog
node-exporter              metrics    no         node-exporter, prometheus-node-exporter
kube-proxy                 network    no         kube-proxy
cni                        network    no         calico-node, cilium, aws-node, kube-flannel,
                                                 weave-net, antrea-agent
========================== ========== ========== ============================================

A pod's lifetime comes from its ``created`` and ``deleted`` (a live watch keeps deleted pods
with ``deleted`` set); a pod whose last phase is not Running and that has no ``deleted`` is
counted as not running from its creation, the conservative reading. With a watch's change log
(``changes``), the times it saw a collector pod not ready (``ready`` ``"0/1"``) are not running
either. Stopping or deleting a
security collector through the API is a detection: ``audit.security-collector-impaired`` in
:mod:`obskit.analysis.security` (ATT&CK T1562.001, Impair Defenses: Disable or Modify Tools).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from obskit.errors import InvestigationError

__all__ = ["COLLECTORS", "Collector", "collector_of", "coverage", "coverage_gaps"]


@dataclass(frozen=True)
class Collector:
    """One kind of node collector: its name, role, whether it is a defence, and its names."""

    name: str
    role: str
    security: bool
    names: tuple[str, ...]


#: The node collectors :func:`coverage` recognises (matched on whole dash-separated words).
COLLECTORS: tuple[Collector, ...] = (
    Collector("falco", "runtime", True, ("falco",)),
    Collector(
        "log shipper",
        "logs",
        True,
        (
            "fluent-bit",
            "fluentbit",
            "fluentd",
            "vector",
            "promtail",
            "grafana-agent",
            "alloy",
            "filebeat",
            "elastic-agent",
        ),
    ),
    Collector("datadog-agent", "agent", True, ("datadog-agent", "datadog")),
    Collector("node-exporter", "metrics", False, ("prometheus-node-exporter", "node-exporter")),
    Collector("kube-proxy", "network", False, ("kube-proxy",)),
    Collector(
        "cni",
        "network",
        False,
        ("calico-node", "cilium", "aws-node", "kube-flannel", "weave-net", "antrea-agent"),
    ),
)

_LABELS = ("app.kubernetes.io/name", "k8s-app", "app")
_PATTERNS = [
    (c, re.compile(r"(?:^|[-/_.=,])(?:" + "|".join(map(re.escape, c.names)) + r")(?:$|[-:_.@,])"))
    for c in COLLECTORS
]

_COLUMNS = [
    "node",
    "source",
    "name",
    "namespace",
    "collector",
    "role",
    "security",
    "desired",
    "pods",
    "ready",
    "restarts",
    "rows",
    "first",
    "last",
    "gap",
]
_GAP_COLUMNS = [
    "node",
    "name",
    "namespace",
    "collector",
    "role",
    "security",
    "start",
    "end",
    "duration",
    "reason",
]

Intervals = list[tuple[pd.Timestamp, pd.Timestamp]]


def collector_of(*names: object) -> Collector | None:
    """The collector any of ``names`` (an object name, a label value, an image) stands for.

    Examples
    --------
    >>> collector_of("falco").name
    'falco'
    >>> collector_of("my-app", "docker.io/fluent/fluent-bit:3.0").name
    'log shipper'
    >>> collector_of("checkout") is None
    True
    """
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        for collector, pattern in _PATTERNS:
            if pattern.search(name.lower()):
                return collector
    return None


def _template(raw: object) -> dict:
    """A DaemonSet's pod template spec, from its raw object."""
    if not isinstance(raw, dict):
        return {}
    spec = ((raw.get("spec") or {}).get("template") or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _daemonset_collector(row: pd.Series) -> Collector | None:
    labels = row["labels"] if isinstance(row["labels"], dict) else {}
    images = [c.get("image") for c in _template(row["raw"]).get("containers") or []]
    return collector_of(row["name"], *(labels.get(k) for k in _LABELS), *images)


def _merge(spans: Intervals) -> Intervals:
    """Overlapping intervals merged, in order."""
    out: Intervals = []
    for lo, hi in sorted(s for s in spans if s[0] < s[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _minus(spans: Intervals, holes: Intervals) -> Intervals:
    """The parts of ``spans`` outside ``holes`` (both merged)."""
    out: Intervals = []
    for lo, hi in spans:
        for h_lo, h_hi in holes:
            if h_hi <= lo or h_lo >= hi:
                continue
            if h_lo > lo:
                out.append((lo, h_lo))
            lo = max(lo, h_hi)
            if lo >= hi:
                break
        if lo < hi:
            out.append((lo, hi))
    return out


def _lifetimes(pods: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> Intervals:
    """When the pods were running, clipped to the window."""
    spans = []
    for created, deleted, phase in zip(
        pods["created"], pods["deleted"], pods["phase"], strict=True
    ):
        if pd.isna(deleted) and isinstance(phase, str) and phase != "Running":
            continue  # last seen not running: not counted as running at any time
        lo = start if pd.isna(created) else max(created, start)
        hi = end if pd.isna(deleted) else min(deleted, end)
        spans.append((lo, hi))
    return _merge(spans)


def _window(
    window: tuple[object, object] | None, frames: list[pd.DataFrame | None]
) -> tuple[pd.Timestamp, pd.Timestamp]:
    if window is not None and window[0] is not None and window[1] is not None:
        lo, hi = (pd.Timestamp(v) for v in window)
        lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo
        hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi
        if lo >= hi:
            raise InvestigationError(f"coverage window {window!r} ends before it starts")
        return lo, hi
    stamps = [f["timestamp"].dropna() for f in frames if f is not None and len(f)]
    stamps = [s for s in stamps if len(s)]
    if not stamps:
        raise InvestigationError(
            "coverage needs a time window: give window=(start, end), or signals with timestamps"
        )
    return min(s.min() for s in stamps), max(s.max() for s in stamps)


def _nodes(inventory: pd.DataFrame, pods: pd.DataFrame) -> dict[str, dict]:
    """Node name -> its labels, for the Node objects and every node a pod ran on."""
    nodes = {n: {} for n in pods["node"].dropna().astype(str).unique()}
    for _, row in inventory.loc[inventory["kind"] == "Node"].iterrows():
        nodes[str(row["name"])] = row["labels"] if isinstance(row["labels"], dict) else {}
    return nodes


def _daemon_pods(pods: pd.DataFrame) -> pd.DataFrame:
    """The pods with ``daemonset``: their DaemonSet, resolved or (unenriched) their owner."""
    resolved = _text(pods["workload"]).where(_text(pods["workload_kind"]) == "DaemonSet")
    owned = _text(pods["owner_name"]).where(_text(pods["owner_kind"]) == "DaemonSet")
    columns = ["name", "namespace", "created", "deleted", "phase", "restarts"]
    return pods.reindex(columns=columns).assign(
        daemonset=resolved.fillna(owned), node=_text(pods["node"])
    )


def _text(column: pd.Series) -> pd.Series:
    return column.astype("object").where(column.notna(), None)


def _unready(ready: object) -> str | None:
    """``"0/1"`` for a pod with a container not ready (the watch's ``ready`` is ``"n/m"``)."""
    if not isinstance(ready, str) or "/" not in ready:
        return None
    have, _, want = ready.partition("/")
    return ready if have.isdigit() and want.isdigit() and int(have) < int(want) else None


def _not_ready(
    changes: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp
) -> dict[tuple[object, str], list[tuple[pd.Timestamp, pd.Timestamp, str]]]:
    """(namespace, pod) -> when the watch saw it not ready, and its ``ready`` then."""
    if changes is None or changes.empty:
        return {}
    pods = changes.loc[changes["kind"].astype("object") == "Pod"].sort_values("timestamp")
    out: dict[tuple[object, str], list[tuple[pd.Timestamp, pd.Timestamp, str]]] = {}
    keys = [_text(pods["namespace"]), _text(pods["name"])]
    for key, rows in pods.groupby(keys, sort=False, dropna=False):
        spans, down = [], None
        for t, verb, ready in zip(rows["timestamp"], rows["verb"], rows["ready"], strict=True):
            bad = None if verb in ("deleted", "seen-missing") else _unready(ready)
            if bad and down is None:
                down = (t, bad)
            elif not bad and down is not None and (verb != "modified" or pd.notna(ready)):
                spans.append((max(down[0], start), min(t, end), down[1]))
                down = None
        if down is not None:
            spans.append((max(down[0], start), end, down[1]))
        out[key] = [s for s in spans if s[0] < s[1]]
    return out


def _collector_rows(
    inventory: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    changes: pd.DataFrame | None = None,
) -> tuple[list[dict], list[dict]]:
    """Per collector DaemonSet and node: its summary row, and its gaps."""
    pods = _daemon_pods(inventory.loc[inventory["kind"] == "Pod"])
    daemon = pods["daemonset"].notna()
    collectors: dict[tuple[object, str], Collector] = {}
    for _, ds in inventory.loc[inventory["kind"] == "DaemonSet"].iterrows():
        found = _daemonset_collector(ds)
        if found is not None:
            collectors[(ds["namespace"], str(ds["name"]))] = found
    # DaemonSet pods whose DaemonSet object is not in the inventory, recognised by name
    for ns, name in (
        pods.loc[daemon, ["namespace", "daemonset"]].drop_duplicates().itertuples(index=False)
    ):
        if isinstance(name, str) and (ns, name) not in collectors:
            found = collector_of(name)
            if found is not None:
                collectors[(ns, name)] = found
    if not collectors:  # no collector runs as a DaemonSet here: nothing to have a gap
        return [], []
    unready = _not_ready(changes, start, end)
    nodes = _nodes(inventory, pods)
    is_collector = pd.Series(False, index=pods.index)
    for ns, name in collectors:
        is_collector |= daemon & (pods["namespace"] == ns) & (pods["daemonset"] == name)
    workloads = {
        n: _lifetimes(p, start, end) for n, p in pods[~is_collector].groupby("node", observed=True)
    }
    dsets = inventory.loc[inventory["kind"] == "DaemonSet"].set_index(["namespace", "name"])
    rows, gaps = [], []
    for (ns, name), collector in collectors.items():
        selector = {}
        if (ns, name) in dsets.index:
            selector = _template(dsets.loc[(ns, name), "raw"]).get("nodeSelector") or {}
        mine = pods.loc[daemon & (pods["namespace"] == ns) & (pods["daemonset"] == name)]
        by_node = dict(list(mine.groupby("node")))
        for node, labels in nodes.items():
            on_node = by_node.get(node, mine.iloc[:0])
            desired = all(labels.get(k) == v for k, v in selector.items()) if labels else True
            if not desired and on_node.empty:
                continue
            down = [s for pod in on_node["name"] for s in unready.get((ns, str(pod)), [])]
            running = _minus(_lifetimes(on_node, start, end), _merge([s[:2] for s in down]))
            missing = _minus(workloads.get(node, []), running)
            what = {"node": node, "name": name, "namespace": ns, "collector": collector.name}
            what |= {"role": collector.role, "security": collector.security}
            for lo, hi in missing:
                gaps.append(
                    what
                    | {
                        "start": lo,
                        "end": hi,
                        "duration": hi - lo,
                        "reason": _reason(on_node, lo, hi, name, down),
                    }
                )
            restarts = pd.to_numeric(on_node["restarts"], errors="coerce").fillna(0)
            rows.append(
                what
                | {
                    "source": "daemonset",
                    "desired": int(desired),
                    "pods": len(on_node),
                    "ready": int(bool(running) and running[-1][1] >= end),
                    "restarts": int(restarts.sum()),
                    "first": running[0][0] if running else pd.NaT,
                    "last": running[-1][1] if running else pd.NaT,
                    "gap": sum((hi - lo for lo, hi in missing), pd.Timedelta(0)),
                }
            )
    return rows, gaps


def _reason(
    on_node: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp, name: str, down: list
) -> str:
    """Why the collector had no pod running on the node from ``lo`` to ``hi``."""
    if on_node.empty:
        return f"no {name} pod on the node"
    for d_lo, d_hi, ready in down:
        if d_lo <= lo < d_hi:
            return f"{name} pod not ready ({ready}) at {d_lo:%H:%M:%S}"
    gone = on_node.loc[on_node["deleted"].notna() & (on_node["deleted"] <= lo)]
    if len(gone):
        return f"{name} pod {gone['name'].iloc[-1]} deleted at {gone['deleted'].max():%H:%M:%S}"
    later = on_node.loc[on_node["created"].notna() & (on_node["created"] >= hi)]
    if len(later):
        return f"{name} pod {later['name'].iloc[0]} not yet created"
    down = on_node.loc[on_node["deleted"].isna() & (on_node["phase"].astype("object") != "Running")]
    if len(down):
        return f"{name} pod {down['name'].iloc[0]} {down['phase'].iloc[0]}"
    return f"no {name} pod running"


def _signal_rows(
    events: pd.DataFrame | None,
    logs: pd.DataFrame | None,
    metrics: pd.DataFrame | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> list[dict]:
    """Per node and signal: rows received and their span inside the window."""
    parts = []
    if metrics is not None and len(metrics):
        parts.append(("metrics", "node-exporter", metrics))
    if logs is not None and len(logs):
        parts.append(("container logs", "log shipper", logs.loc[logs["container"].notna()]))
    if events is not None and len(events):
        source = events["source"].astype("object")
        parts.append(("falco", "falco", events.loc[source == "falco"]))
        parts.append(("audit", None, events.loc[source == "audit"].assign(node=None)))
    rows = []
    for name, collector, frame in parts:
        inside = frame.loc[(frame["timestamp"] >= start) & (frame["timestamp"] <= end)]
        if name != "audit":
            inside = inside.loc[inside["node"].notna()]
        if inside.empty:
            continue
        node = inside["node"].astype("object").fillna("")
        for key, times in inside["timestamp"].groupby(node.to_numpy()):
            rows.append(
                {
                    "node": key or None,
                    "source": "signal",
                    "name": name,
                    "collector": collector,
                    "rows": len(times),
                    "first": times.min(),
                    "last": times.max(),
                }
            )
    return rows


def coverage(
    inventory: pd.DataFrame,
    events: pd.DataFrame | None = None,
    logs: pd.DataFrame | None = None,
    metrics: pd.DataFrame | None = None,
    *,
    window: tuple[object, object] | None = None,
    changes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Collector coverage per node: the monitoring DaemonSets' pods and the signals received.

    Parameters
    ----------
    inventory : DataFrame
        The inventory frame (DaemonSets, their pods, Nodes).
    events, logs, metrics : DataFrame, optional
        The signal frames; each node's metrics, container logs, Falco alerts and the audit log
        are summarised as ``source="signal"`` rows.
    window : (start, end), optional
        The time to cover; by default the span of the signals given.
    changes : DataFrame, optional
        A live watch's change log (``inv.changes``): a collector pod it saw not ready
        (``ready`` ``"0/1"``) counts as not running until it saw it ready again.

    Returns
    -------
    DataFrame
        One row per node and source; the columns are in the module docstring. ``gap`` is the
        time the node ran other pods while the collector had none running there.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> table = coverage(inv.inventory, inv.events, inv.logs, inv.metrics)  # doctest: +SKIP
    >>> table[table.source == "daemonset"][["node", "name", "ready", "gap"]]  # doctest: +SKIP
    """
    start, end = _window(window, [events, logs, metrics])
    rows, _ = _collector_rows(inventory, start, end, changes)
    rows += _signal_rows(events, logs, metrics, start, end)
    out = pd.DataFrame(rows, columns=_COLUMNS)
    for column in ("desired", "pods", "ready", "restarts", "rows"):
        out[column] = out[column].astype("Int64")
    out["security"] = out["security"].astype("boolean")
    out["gap"] = pd.to_timedelta(out["gap"])
    for column in ("first", "last"):
        out[column] = pd.to_datetime(out[column], utc=True)
    return out.sort_values(
        ["node", "source", "name"], na_position="last", kind="stable"
    ).reset_index(drop=True)


def coverage_gaps(
    inventory: pd.DataFrame,
    *,
    window: tuple[object, object],
    security_only: bool = False,
    changes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The coverage gaps: when a node ran pods while a collector had no pod running there.

    Parameters
    ----------
    inventory : DataFrame
        The inventory frame (DaemonSets, their pods, Nodes).
    window : (start, end)
        The time to look at.
    security_only : bool
        Only the gaps of security collectors (Falco, the log shippers).
    changes : DataFrame, optional
        A live watch's change log, as in :func:`coverage`.

    Returns
    -------
    DataFrame
        ``node, name, namespace, collector, role, security, start, end, duration, reason``, one
        row per node, collector DaemonSet and interval, in time order.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> coverage_gaps(inv.inventory, window=inv.time_span(), security_only=True)  # doctest: +SKIP
    """
    start, end = _window(window, [])
    _, gaps = _collector_rows(inventory, start, end, changes)
    out = pd.DataFrame(gaps, columns=_GAP_COLUMNS)
    out["security"] = out["security"].astype("boolean")
    if security_only:
        out = out.loc[out["security"].fillna(False).astype(bool)]
    for column in ("start", "end"):
        out[column] = pd.to_datetime(out[column], utc=True)
    out["duration"] = pd.to_timedelta(out["duration"])
    return out.sort_values(["start", "node", "name"], kind="stable").reset_index(drop=True)
