"""The cluster hierarchy as a triage map: a tree frame, then a treemap, sunburst or icicle.

:func:`hierarchy_frame` computes one row per node of the tree from metadata alone (the
inventory, completed by the key columns of the signals for objects the inventory does not hold,
such as pods deleted before it was exported); :func:`hierarchy` renders that frame. Three views:

``workload``
    cluster → namespace → workload → pod → container
``node``
    cluster → node → pod → container
``service``
    cluster → namespace → service → pod (pods chosen by the service's selector; a pod behind
    two services appears under both)

Every node carries counts for its whole subtree, computed from the frames on the node's key (the
same rows that ``inv.focus(**row.focus)`` keeps): Warning events, error log lines, restarts,
security alerts by severity and an anomaly score. A node of the cluster (and the cluster) also
counts its ``coverage_gaps``: the times a security collector (Falco, a log shipper) had no pod
running on it while its other pods ran (:func:`obskit.analysis.coverage.coverage_gaps`), so a
quiet node that nobody watched does not read as a safe one, and its ``collector_gaps``: the same
for every monitoring DaemonSet (node-exporter, kube-proxy, the CNI agent too). Given the posture
findings (``inv.posture()``), every node also counts its ``findings`` and its
``worst_finding`` (the most severe: 1 low, 2 medium, 3 high, 4 critical).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from obskit import schema
from obskit._time import as_utc
from obskit.enrich import enrich
from obskit.errors import InvestigationError
from obskit.views import _safe
from obskit.views._select import span

if TYPE_CHECKING:
    from obskit.investigation import Investigation

__all__ = [
    "COLOR_BY",
    "FINDING_SEVERITIES",
    "MEASURES",
    "POSTURE_MEASURES",
    "SECURITY_SOURCES",
    "STYLES",
    "VIEWS",
    "hierarchy",
    "hierarchy_frame",
]

#: The levels under the cluster in each view.
VIEWS: dict[str, tuple[str, ...]] = {
    "workload": ("namespace", "workload", "pod", "container"),
    "node": ("node", "pod", "container"),
    "service": ("namespace", "service", "pod"),
}

STYLES: tuple[str, ...] = ("treemap", "sunburst", "icicle")

#: ``events.source`` values that are security alerts.
SECURITY_SOURCES: tuple[str, ...] = ("falco", "detection")

_ALERT_COLUMNS = tuple(f"alerts_{s}" for s in reversed(schema.SEVERITIES))

#: The per-node measures of :func:`hierarchy_frame`, each for the node's whole subtree.
MEASURES: tuple[str, ...] = (
    "warning_events",
    "error_logs",
    "restarts",
    "alerts",
    *_ALERT_COLUMNS,
    "anomaly_score",
    "coverage_gaps",
    "collector_gaps",
    "findings",
    "worst_finding",
)
#: The measures that come from the posture findings (``inv.posture()``).
POSTURE_MEASURES: tuple[str, ...] = ("findings", "worst_finding")
#: ``worst_finding``'s values: the posture severities, 1 (low) to 4 (critical).
FINDING_SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

#: What :func:`hierarchy` can colour by: ``health`` or any measure.
COLOR_BY: tuple[str, ...] = ("health", *MEASURES)

_RESTART_METRIC = "kube_pod_container_status_restarts_total"
_KEY_OUT = (*schema.KEY, "service")
_NO_CLUSTER = "cluster"


# --- the frame ------------------------------------------------------------------------------


def hierarchy_frame(
    inv: Investigation,
    view: str = "workload",
    at: object = None,
    scores: pd.DataFrame | None = None,
    posture: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per node of the cluster tree, with triage counts for the node's subtree.

    Parameters
    ----------
    inv : Investigation
        The investigation; its inventory gives the tree. Objects that appear only in the
        signals (a pod deleted before the inventory was exported) are added and marked
        ``in_inventory=False``. Without an inventory the tree comes from the signals alone.
    view : {"workload", "node", "service"}
        ``workload``: cluster → namespace → workload → pod → container; ``node``: cluster →
        node → pod → container; ``service``: cluster → namespace → service → pod.
    at : timestamp, optional
        Draw the tree as of this moment: only objects that existed then (created before,
        not deleted before; objects known only from signals: seen before and after). Counts
        still cover the whole investigation window.
    scores : DataFrame, optional
        Per-entity anomaly scores from the analysis: key columns (any subset of
        ``obskit.KEY``) and ``score``. A node's ``anomaly_score`` is the highest score of a
        row on its key; ``NaN`` when no score applies.
    posture : DataFrame, optional
        Posture findings (``inv.posture()``: key columns and ``severity``). A node's
        ``findings`` counts the findings on its key, ``worst_finding`` is the most severe
        (1 low … 4 critical; ``NaN`` when none). Without them both are ``0``/``NaN`` and
        ``frame.attrs["posture"]`` is False.

    Returns
    -------
    DataFrame
        ``id, parent, label, kind, depth``, the key columns (``cluster`` … ``container`` and
        ``service``), ``focus`` (the mapping to pass to ``inv.focus`` / ``inv.timeline``),
        ``in_inventory``, ``created``, ``deleted``, ``first_seen``, ``last_seen``, ``phase``,
        ``status_reason``, ``change`` (``created``, ``deleted``, ``created+deleted``, ``gone``
        for pods seen only in signals, else ``NA``: pods created or deleted inside the
        window), ``labels``, ``leaves`` (leaf count, the treemap size), then the measures
        (:data:`MEASURES`) and ``health``. ``frame.attrs["restarts_source"]`` says where the
        restarts came from.

    Raises
    ------
    InvestigationError
        For an unknown view, a bad ``at``, or a ``scores`` frame without a ``score`` column.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.Investigation(
    ...     logs=pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"], "namespace": ["shop"],
    ...                        "pod": ["web-1"], "container": ["web"], "message": ["ERROR x"]}),
    ...     cluster="prod")
    >>> tree = hierarchy_frame(inv, "workload")
    >>> tree[["id", "parent", "kind", "error_logs"]].values.tolist()
    [['prod', '', 'Cluster', 1], ['prod/shop', 'prod', 'Namespace', 1], ['prod/shop/web-1', 'prod/shop', 'Pod', 1], ['prod/shop/web-1/web', 'prod/shop/web-1', 'Container', 1]]
    """  # noqa: E501
    if view not in VIEWS:
        raise InvestigationError(f"view must be one of {', '.join(map(repr, VIEWS))}, got {view!r}")
    moment = _moment(at)
    pods = _pods(inv)
    frame = _tree_frame(inv, view, pods, moment)
    window = span(inv)
    frame["change"] = _changes(frame, window)
    restarts_source = _measure_signals(frame, inv, pods, scores, window)
    _measure_posture(frame, posture)
    frame["health"] = _health(frame)
    frame = frame.drop(columns=["_pods"])
    frame.attrs["view"] = view
    frame.attrs["restarts_source"] = restarts_source
    frame.attrs["window"] = window
    frame.attrs["posture"] = posture is not None
    return frame


def _tree_frame(
    inv: Investigation, view: str, pods: pd.DataFrame, moment: pd.Timestamp | None
) -> pd.DataFrame:
    """The view's nodes as of ``moment``, a label shared by two siblings told apart by kind."""
    signal_keys = _signal_keys(inv)
    builder = _Tree(inv.cluster)
    if view == "workload":
        _build_workload(builder, inv.inventory, pods, signal_keys, moment)
    elif view == "node":
        _build_node(builder, inv.inventory, pods, signal_keys, moment)
    else:
        _build_service(builder, inv.inventory, pods, moment)
    frame = builder.frame()
    same = frame.duplicated(["parent", "label"], keep=False)  # a Deployment and a CronJob "x"
    frame.loc[same, "label"] = frame.loc[same, "label"] + " (" + frame.loc[same, "kind"] + ")"
    return frame


def _measure_signals(
    frame: pd.DataFrame,
    inv: Investigation,
    pods: pd.DataFrame,
    scores: pd.DataFrame | None,
    window: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> str:
    """Add the signal measures (warnings, errors, restarts, alerts, scores, collector gaps) to
    each node; return where the restarts came from."""
    restarts, restarts_source = _restart_rows(inv, pods)
    _measure(frame, _warning_rows(inv.events), "warning_events", "sum")
    _measure(frame, _error_rows(inv.logs), "error_logs", "sum")
    _measure(frame, restarts, "restarts", "sum")
    alerts = _alert_rows(inv.events)
    for severity in reversed(schema.SEVERITIES):
        column = f"alerts_{severity}"
        _measure(frame, alerts.loc[alerts["severity"] == severity], column, "sum")
    frame["alerts"] = frame[list(_ALERT_COLUMNS)].sum(axis=1)
    _measure(frame, _score_rows(scores, inv), "anomaly_score", "max")
    gaps = _coverage_rows(inv, window)
    _measure(frame, gaps.loc[gaps["security"]], "coverage_gaps", "sum")
    _measure(frame, gaps, "collector_gaps", "sum")
    return restarts_source


def _measure_posture(frame: pd.DataFrame, posture: pd.DataFrame | None) -> None:
    """Add each node's posture findings: how many, and the most severe."""
    findings = _finding_rows(posture)
    _measure(frame, findings.assign(w=1.0), "findings", "sum")
    _measure(frame, findings, "worst_finding", "max")


def _moment(at: object) -> pd.Timestamp | None:
    return None if at is None else as_utc(at, "at", error=InvestigationError)


def _value(v: object) -> str | None:
    """A key part as ``str``, or ``None`` when missing."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v)


def _alive(created: object, deleted: object, moment: pd.Timestamp | None) -> bool:
    if moment is None:
        return True
    if pd.notna(created) and created > moment:
        return False
    return not (pd.notna(deleted) and deleted <= moment)


class _Tree:
    """Nodes by id, in insertion order; each node keeps its key and where it came from."""

    def __init__(self, cluster: str | None) -> None:
        self.default_cluster = cluster
        self.nodes: dict[str, dict] = {}
        self.roots: list[str] = []

    def add(
        self,
        parent: str | None,
        segment: str,
        label: str,
        kind: str,
        key: dict[str, str | None],
        in_inventory: bool,
        **attrs: object,
    ) -> str:
        node_id = segment if parent is None else f"{parent}/{segment}"
        node = self.nodes.get(node_id)
        if node is None:
            node = {
                "id": node_id,
                "parent": parent or "",
                "label": label,
                "kind": kind,
                "key": {k: v for k, v in key.items() if v is not None},
                "in_inventory": in_inventory,
                "_pods": None,
            }
            self.nodes[node_id] = node
            if parent is None:
                self.roots.append(node_id)
        elif in_inventory:
            node["in_inventory"] = True
        for name, value in attrs.items():
            if value is not None and (node.get(name) is None or in_inventory):
                node[name] = value
        return node_id

    def root(self, cluster: str | None, in_inventory: bool) -> str:
        name = cluster or self.default_cluster
        return self.add(
            None,
            name or _NO_CLUSTER,
            name or _NO_CLUSTER,
            "Cluster",
            {"cluster": name},
            in_inventory,
        )

    def frame(self) -> pd.DataFrame:
        nodes = list(self.nodes.values())
        if len(self.roots) > 1:  # several clusters: one tree over them
            top = {
                "id": "all clusters",
                "parent": "",
                "label": "all clusters",
                "kind": "Clusters",
                "key": {},
                "in_inventory": True,
                "_pods": None,
            }
            for node in nodes:
                if node["parent"] == "":
                    node["parent"] = top["id"]
            nodes = [top, *nodes]
        if not nodes:
            nodes = [
                {
                    "id": self.default_cluster or _NO_CLUSTER,
                    "parent": "",
                    "label": self.default_cluster or _NO_CLUSTER,
                    "kind": "Cluster",
                    "key": {"cluster": self.default_cluster} if self.default_cluster else {},
                    "in_inventory": False,
                    "_pods": None,
                }
            ]
        rows = []
        for node in nodes:
            row = {c: node.get(c) for c in ("id", "parent", "label", "kind")}
            row.update({c: node["key"].get(c) for c in _KEY_OUT})
            for name in ("node", "workload"):  # where a pod runs, shown though not in its key
                row[name] = row[name] or node.get(name)
            focus = {c: v for c, v in node["key"].items() if c in schema.KEY}
            if node["_pods"] is not None:
                focus["pod"] = sorted(node["_pods"])
            row["focus"] = focus
            row["_pods"] = node["_pods"]
            row["in_inventory"] = bool(node["in_inventory"])
            for name in ("created", "deleted", "first_seen", "last_seen"):
                row[name] = node.get(name, pd.NaT)
            for name in ("phase", "status_reason"):
                row[name] = node.get(name)
            row["labels"] = node.get("labels")
            rows.append(row)
        frame = pd.DataFrame(rows)
        for name in ("created", "deleted", "first_seen", "last_seen"):
            frame[name] = pd.to_datetime(frame[name], utc=True).astype(schema.TIME)
        frame["depth"] = _depths(frame)
        frame["leaves"] = _leaves(frame)
        front = ["id", "parent", "label", "kind", "depth", *_KEY_OUT, "focus", "in_inventory"]
        rest = [c for c in frame.columns if c not in front]
        return frame[front + rest]


def _depths(frame: pd.DataFrame) -> np.ndarray:
    parent_of = dict(zip(frame["id"], frame["parent"], strict=True))
    out = []
    for node_id in frame["id"]:
        depth, current = 0, parent_of[node_id]
        while current:
            depth, current = depth + 1, parent_of.get(current, "")
        out.append(depth)
    return np.array(out, dtype=np.int64)


def _leaves(frame: pd.DataFrame) -> np.ndarray:
    """Number of leaves under each node (a leaf counts 1): the area a treemap gives it."""
    counts = dict.fromkeys(frame["id"], 0)
    parents = set(frame["parent"])
    parent_of = dict(zip(frame["id"], frame["parent"], strict=True))
    for node_id in frame["id"]:
        if node_id in parents:
            continue
        current = node_id
        while current:
            counts[current] += 1
            current = parent_of.get(current, "")
    return np.array([counts[i] for i in frame["id"]], dtype=np.int64)


# --- what the tree is made of ----------------------------------------------------------------


def _pods(inv: Investigation) -> pd.DataFrame:
    """Inventory pods with what the views show about them (containers as a list)."""
    inventory = inv.inventory
    pods = inventory.loc[inventory["kind"] == "Pod"].copy()
    if "status_reason" not in pods.columns:
        pods["status_reason"] = None
    return pods.reset_index(drop=True)


def _signal_keys(inv: Investigation) -> pd.DataFrame:
    """Distinct keys of the signal rows, with the first and last time each was seen."""
    parts = []
    for name in ("metrics", "events", "logs"):
        frame = getattr(inv, name)
        if not len(frame):
            continue
        grouped = frame.groupby(list(schema.KEY), observed=True, dropna=False, sort=False)
        parts.append(grouped["timestamp"].agg(["min", "max"]).reset_index())
    if not parts:
        return pd.DataFrame(columns=[*schema.KEY, "min", "max"])
    keys = pd.concat([p.astype({c: "object" for c in schema.KEY}) for p in parts])
    keys[list(schema.KEY)] = keys[list(schema.KEY)].astype("object")
    keys = keys.where(keys.notna(), None)
    out = keys.groupby(list(schema.KEY), dropna=False, sort=False).agg(
        min=("min", "min"), max=("max", "max")
    )
    return out.reset_index()


def _records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict]:
    columns = [c for c in columns if c in frame.columns]
    sub = frame[columns].astype("object")
    return sub.where(sub.notna(), None).to_dict("records")


def _seen_alive(row: dict, moment: pd.Timestamp | None) -> bool:
    if moment is None:
        return True
    lo, hi = row.get("min"), row.get("max")
    return not (pd.notna(lo) and lo > moment) and not (pd.notna(hi) and hi < moment)


_POD_ATTRS = ("created", "deleted", "phase", "status_reason", "labels")


def _pod_attrs(pod: dict) -> dict:
    return {name: pod.get(name) for name in _POD_ATTRS}


def _signal_only(signal_keys: pd.DataFrame, pods: pd.DataFrame, moment) -> list[dict]:
    """Signal keys whose pod the inventory does not know (or that have no pod), alive at moment."""
    known = pd.MultiIndex.from_arrays(
        [pods["namespace"].astype("object"), pods["name"].astype("object")]
    )
    keys = pd.MultiIndex.from_arrays(
        [signal_keys["namespace"].astype("object"), signal_keys["pod"].astype("object")]
    )
    # most signal keys are inventory pods': drop those before making a dict of each row
    unknown = ~(signal_keys["pod"].notna().to_numpy() & keys.isin(known))
    rows = _records(signal_keys.loc[unknown], [*schema.KEY, "min", "max"])
    return [row for row in rows if _seen_alive(row, moment)]


def _inventory_rows(inventory: pd.DataFrame, kinds: Iterable[str], moment) -> list[dict]:
    rows = inventory.loc[inventory["kind"].isin(list(kinds))]
    out = []
    for row in _records(
        rows,
        [
            *schema.KEY,
            "kind",
            "name",
            "created",
            "deleted",
            "selector",
            "labels",
            "containers",
            "phase",
            "status_reason",
        ],
    ):
        if _alive(row.get("created"), row.get("deleted"), moment):
            out.append(row)
    return out


def _add_top_level(tree: _Tree, inventory, kind: str, column: str, moment) -> None:
    """The inventory's Namespaces (or Nodes) alive at ``moment``, under their cluster."""
    for row in _inventory_rows(inventory, [kind], moment):
        tree.add(
            tree.root(row["cluster"], True),
            row["name"],
            row["name"],
            kind,
            {"cluster": row["cluster"], column: row["name"]},
            True,
            created=row["created"],
            deleted=row["deleted"],
            labels=row["labels"],
        )


def _build_workload(tree: _Tree, inventory, pods, signal_keys, moment) -> None:
    _add_top_level(tree, inventory, "Namespace", "namespace", moment)
    workload_kinds = {k for k in inventory["workload_kind"].dropna().unique() if k != "Pod"}
    objects = _inventory_rows(inventory, [*workload_kinds, "Pod"], moment)
    for row in objects:
        if row["namespace"] is None or row["workload"] is None:
            continue
        is_pod = row["kind"] == "Pod"
        own = row["kind"] == row["workload_kind"] and row["name"] == row["workload"]
        parent = _workload_path(tree, row, True, attrs=row if own else None)
        if not is_pod:
            continue
        _pod_path(tree, parent, row, True)
    for row in _signal_only(signal_keys, pods, moment):
        if row["namespace"] is None:
            continue
        parent = (
            _workload_path(tree, row, False) if row["workload"] else _namespace(tree, row, False)
        )
        if row["pod"] is not None:
            _pod_path(tree, parent, row, False)


def _namespace(tree: _Tree, row: dict, in_inventory: bool) -> str:
    root = tree.root(row["cluster"], in_inventory)
    ns = row["namespace"]
    return tree.add(
        root, ns, ns, "Namespace", {"cluster": row["cluster"], "namespace": ns}, in_inventory
    )


def _workload_path(tree: _Tree, row: dict, in_inventory: bool, attrs: dict | None = None) -> str:
    parent = _namespace(tree, row, in_inventory)
    kind, name = row["workload_kind"] or "Workload", row["workload"]
    if kind == "Pod":  # an unowned pod is its own workload: hang it under the namespace
        return parent
    key = {
        "cluster": row["cluster"],
        "namespace": row["namespace"],
        "workload_kind": kind,
        "workload": name,
    }
    extra = {}
    if attrs is not None:
        extra = {
            "created": attrs.get("created"),
            "deleted": attrs.get("deleted"),
            "labels": attrs.get("labels"),
        }
    return tree.add(parent, f"{kind}:{name}", name, kind, key, in_inventory, **extra)


def _pod_path(tree: _Tree, parent: str, row: dict, in_inventory: bool, node_level=False) -> str:
    """Add a pod (keyed by cluster, namespace and name) and its containers under ``parent``."""
    pod = row.get("pod") or row.get("name")
    key = {"cluster": row.get("cluster"), "namespace": row.get("namespace"), "pod": pod}
    if in_inventory:
        attrs = _pod_attrs(row)
    else:
        attrs = {"first_seen": row.get("min"), "last_seen": row.get("max")}
    label = f"{row['namespace']}/{pod}" if node_level else pod
    pod_id = tree.add(
        parent,
        pod,
        label,
        "Pod",
        key,
        in_inventory,
        node=row.get("node"),
        workload=row.get("workload"),
        **attrs,
    )
    containers = row.get("containers") if in_inventory else [row.get("container")]
    for container in containers or []:
        if container is None:
            continue
        tree.add(
            pod_id,
            container,
            container,
            "Container",
            {**key, "container": container},
            in_inventory,
            node=row.get("node"),
            workload=row.get("workload"),
        )
    return pod_id


def _build_node(tree: _Tree, inventory, pods, signal_keys, moment) -> None:
    _add_top_level(tree, inventory, "Node", "node", moment)
    for row in _inventory_rows(inventory, ["Pod"], moment):
        parent = _node(tree, row, True)
        row = {**row, "pod": row["name"]}
        _pod_path(tree, parent, row, True, node_level=True)
    for row in _signal_only(signal_keys, pods, moment):
        if row["node"] is None and row["pod"] is None:
            continue
        parent = _node(tree, row, False)
        if row["pod"] is not None and row["namespace"] is not None:
            _pod_path(tree, parent, row, False, node_level=True)


def _node(tree: _Tree, row: dict, in_inventory: bool) -> str:
    root = tree.root(row["cluster"], in_inventory)
    node = row["node"]
    if node is None:  # an unscheduled pod hangs under the cluster
        return root
    return tree.add(
        root, node, node, "Node", {"cluster": row["cluster"], "node": node}, in_inventory
    )


def _build_service(tree: _Tree, inventory, pods, moment) -> None:
    for row in _inventory_rows(inventory, ["Namespace"], moment):
        root = tree.root(row["cluster"], True)
        tree.add(
            root,
            row["name"],
            row["name"],
            "Namespace",
            {"cluster": row["cluster"], "namespace": row["name"]},
            True,
            created=row["created"],
            deleted=row["deleted"],
            labels=row["labels"],
        )
    pod_rows = _inventory_rows(inventory, ["Pod"], moment)
    for svc in _inventory_rows(inventory, ["Service"], moment):
        parent = _namespace(tree, svc, True)
        key = {"cluster": svc["cluster"], "namespace": svc["namespace"], "service": svc["name"]}
        svc_id = tree.add(
            parent,
            f"Service:{svc['name']}",
            svc["name"],
            "Service",
            key,
            True,
            created=svc["created"],
            deleted=svc["deleted"],
            labels=svc["labels"],
        )
        selected = [p for p in pod_rows if _selects(svc, p)]
        tree.nodes[svc_id]["_pods"] = {p["name"] for p in selected}
        for pod in selected:
            pod_key = {"cluster": pod["cluster"], "namespace": pod["namespace"], "pod": pod["name"]}
            tree.add(
                svc_id,
                pod["name"],
                pod["name"],
                "Pod",
                pod_key,
                True,
                node=pod["node"],
                **_pod_attrs(pod),
            )


def _selects(service: dict, pod: dict) -> bool:
    """A Service selects the pods of its namespace whose labels hold its whole selector."""
    selector = service.get("selector")
    if not isinstance(selector, dict) or not selector:
        return False
    if pod["namespace"] != service["namespace"] or pod["cluster"] != service["cluster"]:
        return False
    labels = pod.get("labels") if isinstance(pod.get("labels"), dict) else {}
    return all(labels.get(k) == v for k, v in selector.items())


def _changes(frame: pd.DataFrame, window) -> pd.Series:
    """``created`` / ``deleted`` inside the window, or ``gone`` for pods seen only in signals."""
    out = pd.Series(None, index=frame.index, dtype="object")
    if window is None:
        return out
    lo, hi = window
    pods = frame["kind"] == "Pod"
    created = pods & frame["created"].between(lo, hi)
    deleted = pods & frame["deleted"].between(lo, hi)
    gone = pods & ~frame["in_inventory"]
    out[created] = "created"
    out[deleted] = "deleted"
    out[created & deleted] = "created+deleted"
    out[gone] = "gone"
    return out


# --- the measures ----------------------------------------------------------------------------


def _key_weights(frame: pd.DataFrame, weights: np.ndarray | float = 1.0) -> pd.DataFrame:
    """Key columns + ``w``, one row per distinct key (weights summed)."""
    if not len(frame):
        return pd.DataFrame(columns=[*schema.KEY, "w"])
    sub = frame[list(schema.KEY)].copy()
    sub["w"] = weights
    grouped = sub.groupby(list(schema.KEY), observed=True, dropna=False, sort=False)["w"].sum()
    return grouped.reset_index()


def _warning_rows(events: pd.DataFrame) -> pd.DataFrame:
    keep = (events["severity"] >= "warning") & ~events["source"].isin(SECURITY_SOURCES)
    return _key_weights(events.loc[keep.fillna(False)])


def _error_rows(logs: pd.DataFrame) -> pd.DataFrame:
    keep = (logs["level"] >= "error").fillna(False)
    return _key_weights(logs.loc[keep])


def _alert_rows(events: pd.DataFrame) -> pd.DataFrame:
    alerts = events.loc[events["source"].isin(SECURITY_SOURCES)]
    if not len(alerts):
        return pd.DataFrame(columns=[*schema.KEY, "severity", "w"])
    sub = alerts[[*schema.KEY, "severity"]].copy()
    sub["w"] = 1
    grouped = sub.groupby([*schema.KEY, "severity"], observed=True, dropna=False)["w"].sum()
    out = grouped.reset_index()
    out["severity"] = out["severity"].astype("object")
    return out


def restart_increase(metrics: pd.DataFrame) -> pd.DataFrame:
    """Restarts inside the data per container: the increase of the restart counter series."""
    series = metrics.loc[metrics["metric"] == _RESTART_METRIC]
    if not len(series):
        return pd.DataFrame(columns=[*schema.KEY, "w"])
    ident = [c for c in series.columns if c not in ("timestamp", "value", "key_source", "origin")]
    ident = [c for c in ident if series[c].notna().any()]
    codes = series.groupby(ident, observed=True, dropna=False, sort=False).ngroup().to_numpy()
    order = np.lexsort((series["timestamp"].array.asi8, codes))  # int64 ns, not Timestamps
    values = series["value"].to_numpy()[order]
    codes = codes[order]
    steps = np.diff(values)
    same = codes[1:] == codes[:-1]
    # a counter that drops was reset: count the new value, as Prometheus' increase() does
    rise = np.where(steps >= 0, steps, values[1:])
    gained = np.zeros(len(values))
    gained[1:] = np.where(same & ~np.isnan(rise), rise, 0.0)
    total = np.bincount(codes, weights=gained)
    first = np.unique(codes, return_index=True)[1]
    keys = series.iloc[order[first]][list(schema.KEY)].reset_index(drop=True)
    keys["w"] = total[codes[first]]
    return _key_weights(keys, keys["w"].to_numpy())


def _restart_rows(inv: Investigation, pods: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if (inv.metrics["metric"] == _RESTART_METRIC).any():
        return restart_increase(inv.metrics), f"increase of {_RESTART_METRIC} in the window"
    rows = []
    for pod in _records(pods, [*schema.KEY, "name", "raw", "restarts"]):
        raw = pod.get("raw") if isinstance(pod.get("raw"), dict) else {}
        statuses = (raw.get("status") or {}).get("containerStatuses") or []
        for status in statuses:
            count = status.get("restartCount") or 0
            if count:
                rows.append(
                    {
                        **{c: pod[c] for c in schema.KEY},
                        "pod": pod["name"],
                        "container": status.get("name"),
                        "w": float(count),
                    }
                )
        if not statuses and pod.get("restarts"):
            rows.append(
                {**{c: pod[c] for c in schema.KEY}, "pod": pod["name"], "w": float(pod["restarts"])}
            )
    return pd.DataFrame(rows, columns=[*schema.KEY, "w"]), "pod status restartCount (lifetime)"


def _coverage_rows(inv: Investigation, window) -> pd.DataFrame:
    """One row per collector gap, on its node's key (``w`` = 1), and whether the collector is a
    security one (``security``); found once for both measures."""
    from obskit.analysis.coverage import coverage_gaps

    if window is None:
        return pd.DataFrame(columns=[*schema.KEY, "w", "security"]).astype({"security": bool})
    gaps = coverage_gaps(inv.inventory, window=window, changes=inv.changes, events=inv.events)
    rows = pd.DataFrame({c: None for c in schema.KEY}, index=gaps.index)
    rows["cluster"] = inv.cluster
    rows["node"] = gaps["node"]
    rows["w"] = 1.0
    rows["security"] = gaps["security"].fillna(False).astype(bool)
    return rows


def _finding_rows(posture: pd.DataFrame | None) -> pd.DataFrame:
    """One row per posture finding on its key, ``w`` its severity (1 low … 4 critical)."""
    if posture is None:
        return pd.DataFrame(columns=[*schema.KEY, "w"])
    if not isinstance(posture, pd.DataFrame) or "severity" not in posture.columns:
        raise InvestigationError(
            "posture must be the findings of inv.posture() (key columns and 'severity'), got "
            f"{type(posture).__name__} with columns {list(getattr(posture, 'columns', []))!r}"
        )
    rows = pd.DataFrame(
        {c: posture[c] if c in posture.columns else None for c in schema.KEY},
        index=posture.index,
    )
    rank = {name: i + 1.0 for i, name in enumerate(FINDING_SEVERITIES)}
    rows["w"] = posture["severity"].astype("object").map(rank).to_numpy(dtype=float)
    return rows.reset_index(drop=True)


def _score_rows(scores: pd.DataFrame | None, inv: Investigation) -> pd.DataFrame:
    """Score rows with their key completed from the inventory, as the signals' keys are."""
    if scores is None:
        return pd.DataFrame(columns=[*schema.KEY, "w"])
    if not isinstance(scores, pd.DataFrame) or "score" not in scores.columns:
        raise InvestigationError(
            "scores must be a DataFrame with key columns (any of "
            f"{', '.join(schema.KEY)}) and a 'score' column, got "
            f"{type(scores).__name__} with columns {list(getattr(scores, 'columns', []))!r}"
        )
    keys = pd.DataFrame(
        {c: scores[c].astype("object") if c in scores.columns else None for c in schema.KEY},
        index=scores.index,
    )
    keys = keys.astype("category").assign(key_source="record")
    keys = enrich(keys.reset_index(drop=True), inv.inventory, inv.cluster)
    out = keys[list(schema.KEY)].copy()
    out["w"] = pd.to_numeric(scores["score"], errors="coerce").to_numpy()
    return out


def _measure(frame: pd.DataFrame, rows: pd.DataFrame, column: str, how: str) -> None:
    """Set ``frame[column]``: the sum (or max) of ``rows.w`` over the rows on each node's key."""
    is_max = how == "max"
    result = np.full(len(frame), np.nan if is_max else 0.0)
    if len(rows):
        table = rows[[*schema.KEY, "w"]].copy()
        for c in schema.KEY:
            table[c] = table[c].astype("object").where(table[c].notna(), None)
        by_signature: dict[tuple[str, ...], list[int]] = {}
        focuses = frame["focus"].tolist()
        for i, (focus, pods) in enumerate(zip(focuses, frame["_pods"], strict=True)):
            if pods is None:
                by_signature.setdefault(tuple(sorted(focus)), []).append(i)
            else:
                result[i] = _service_value(table, focus, pods, is_max)
        for signature, positions in by_signature.items():
            if not signature:
                values = table["w"]
                result[positions] = values.max() if is_max else values.sum()
                continue
            sub = table.dropna(subset=list(signature))
            agg = sub.groupby(list(signature), sort=False)["w"].agg("max" if is_max else "sum")
            found = agg.to_dict()  # one dict lookup per node, not one pandas lookup
            for i in positions:
                lookup = tuple(focuses[i][c] for c in signature)
                value = found.get(lookup[0] if len(lookup) == 1 else lookup)
                if value is not None and not (isinstance(value, float) and np.isnan(value)):
                    result[i] = value
    if is_max:
        frame[column] = result
    else:
        frame[column] = np.round(result).astype(np.int64)


def _service_value(table: pd.DataFrame, focus: dict, pods: set, is_max: bool) -> float:
    keep = table["pod"].isin(pods)
    for column, value in focus.items():
        if column != "pod":
            keep &= table[column] == value
    values = table.loc[keep, "w"]
    if is_max:
        return float(values.max()) if len(values) else np.nan
    return float(values.sum())


def _health(frame: pd.DataFrame) -> pd.Series:
    """Sum of log(1+n) over warnings, errors, restarts, 2× alerts ≥ notice, plus anomaly score."""
    severe = frame[["alerts_critical", "alerts_error", "alerts_warning", "alerts_notice"]].sum(
        axis=1
    )
    score = (
        np.log1p(frame["warning_events"])
        + np.log1p(frame["error_logs"])
        + np.log1p(frame["restarts"])
        + 2 * np.log1p(severe)
        + frame["anomaly_score"].fillna(0.0).clip(lower=0)
    )
    return score.round(3)


# --- the figure ------------------------------------------------------------------------------

_SCALE = [
    [0.0, "#e3efe0"],
    [0.25, "#fde68a"],
    [0.55, "#f59e0b"],
    [0.8, "#dc2626"],
    [1.0, "#7f1d1d"],
]
_MEASURE_TEXT = {
    "warning_events": "warning events",
    "error_logs": "error log lines",
    "restarts": "restarts",
    "alerts": "security alerts",
    "anomaly_score": "anomaly score",
    "coverage_gaps": "security collector gaps",
    "collector_gaps": "monitoring collector gaps",
    "findings": "posture findings",
    "worst_finding": "worst posture finding",
    "health": "health (higher is worse)",
}
_CREATED_LINE = "#1d4ed8"
_GONE_LINE = "#7c3aed"


def hierarchy(
    inv: Investigation,
    view: str = "workload",
    style: str = "treemap",
    color_by: str = "health",
    at: object = None,
    scores: pd.DataFrame | None = None,
    posture: pd.DataFrame | None = None,
) -> go.Figure:
    """The cluster tree as a treemap, sunburst or icicle, coloured by a triage measure.

    Parameters
    ----------
    inv : Investigation
        The investigation to draw.
    view : {"workload", "node", "service"}
        Which tree (see :func:`hierarchy_frame`).
    style : {"treemap", "sunburst", "icicle"}
        How to draw it.
    color_by : str
        ``"health"`` (default: log-scaled sum of the measures, higher is worse) or any of
        :data:`MEASURES`. Counts are coloured on a log scale; the scale's top is the highest
        node below the root, so the root does not wash the rest out.
    at : timestamp, optional
        Draw the tree as of this moment (see :func:`hierarchy_frame`).
    scores : DataFrame, optional
        Per-entity anomaly scores (key columns + ``score``) from the analysis.
    posture : DataFrame, optional
        Posture findings (``inv.posture()``); computed here when ``color_by`` is ``findings``
        or ``worst_finding`` and none are given (none when no Kubernetes objects were loaded:
        the counts are then 0 and ``frame.attrs["posture"]`` False).

    Returns
    -------
    plotly.graph_objects.Figure
        One trace with ``ids``/``parents`` equal to the frame's ``id``/``parent``. Each node
        is sized by its number of leaves; a blue border marks pods created inside the window,
        a violet one pods deleted inside it (created in it too or not) or seen only in the
        signals. Hover shows every
        measure. All text from the data is escaped.

    Raises
    ------
    InvestigationError
        For an unknown view, style or ``color_by``.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
    >>> hierarchy(inv, "node", style="sunburst", color_by="restarts")  # doctest: +SKIP
    """
    if style not in STYLES:
        raise InvestigationError(
            f"style must be one of {', '.join(map(repr, STYLES))}, got {style!r}"
        )
    if color_by not in COLOR_BY:
        raise InvestigationError(
            f"color_by must be one of {', '.join(map(repr, COLOR_BY))}, got {color_by!r}"
        )
    if posture is None and color_by in POSTURE_MEASURES:
        try:
            posture = inv.posture()
        except InvestigationError:  # no Kubernetes objects: nothing checked, nothing counted
            posture = None
    frame = hierarchy_frame(inv, view, at=at, scores=scores, posture=posture)
    return figure(frame, style=style, color_by=color_by, title=_title(inv, view, at))


def _title(inv: Investigation, view: str, at: object) -> str:
    path = " → ".join(("cluster", *VIEWS[view]))
    moment = f", as of {_moment(at):%Y-%m-%d %H:%M} UTC" if at is not None else ""
    return f"{_safe.text(inv.cluster or 'cluster')}: {path}{moment}"


def _colour_scale(frame: pd.DataFrame, color_by: str) -> tuple[pd.Series, float, dict]:
    """Each box's colour value, the top of the scale and the colour bar: counts on a log scale
    with round ticks, severities on a scale of their four names, scores as they are."""
    values = frame[color_by].astype(float)
    is_count = color_by not in ("health", "anomaly_score", "worst_finding")
    color = np.log1p(values.fillna(0.0)) if is_count else values.fillna(0.0)
    below_root = color[frame["depth"] > 0] if (frame["depth"] > 0).any() else color
    top = float(below_root.max()) if len(below_root) else 0.0
    top = top if top > 0 else 1.0
    colorbar = {"title": {"text": _MEASURE_TEXT.get(color_by, color_by.replace("_", " "))}}
    if color_by == "worst_finding":  # a scale of four named severities, whatever is found
        top = float(len(FINDING_SEVERITIES))
        colorbar.update(
            tickvals=[float(i) for i in range(len(FINDING_SEVERITIES) + 1)],
            ticktext=["none", *FINDING_SEVERITIES],
        )
    if is_count:
        ticks = [
            v
            for v in (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)
            if np.log1p(v) <= top * 1.0001
        ]
        colorbar.update(
            tickvals=[float(np.log1p(v)) for v in ticks], ticktext=[str(v) for v in ticks]
        )
    return color, top, colorbar


def _borders(frame: pd.DataFrame) -> tuple[list[str], list[int]]:
    """Each box's border colour and width: pods created or gone in the window are marked."""
    line_colors, line_widths = [], []
    for change, in_inventory in zip(frame["change"], frame["in_inventory"], strict=True):
        # a pod created then deleted in the window is drawn as deleted: what happened last
        # (its text says both), so a live map marks a pod that came and went as gone
        if change in ("deleted", "created+deleted", "gone") or not in_inventory:
            line_colors.append(_GONE_LINE)
            line_widths.append(4)
        elif change == "created":
            line_colors.append(_CREATED_LINE)
            line_widths.append(4)
        else:
            line_colors.append("#ffffff")
            line_widths.append(1)
    return line_colors, line_widths


def figure(
    frame: pd.DataFrame,
    style: str,
    color_by: str,
    title: str = "",
    entry: str | None = None,
    depth: int | None = None,
) -> go.Figure:
    """Render a :func:`hierarchy_frame` (compute, then render: no data work happens here).

    Parameters
    ----------
    frame : DataFrame
        A :func:`hierarchy_frame`.
    style, color_by, title
        As for :func:`hierarchy`.
    entry : str, optional
        Zoom to this node (an ``id`` of the frame; the trace's ``level``) and draw only what
        the zoom shows: the node, its descendants ``depth`` levels deep (the node is the
        first), and its ancestors for the path bar. Colours, their scale and box sizes stay
        those of the whole tree, so a part looks as it does in the whole; a browser then
        draws a few hundred boxes, not every container of a large cluster (plotly.js makes
        an element for every box under the zoomed one, drawn or not).
    depth : int, optional
        With ``entry``: how many levels to draw (``maxdepth``); default all.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace whose ``ids`` are the frame's ids (those drawn), in the frame's order.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.Investigation(
    ...     logs=pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"], "namespace": ["shop"],
    ...                        "pod": ["web-1"], "container": ["web"], "message": ["ERROR x"]}),
    ...     cluster="prod")
    >>> tree = hierarchy_frame(inv)
    >>> figure(tree, "treemap", "health", entry="prod/shop", depth=2).data[0].ids
    ('prod', 'prod/shop', 'prod/shop/web-1')
    """
    if entry is not None and entry not in set(frame["id"]):
        raise InvestigationError(f"no node {entry!r} in the hierarchy to zoom to")
    rows = np.arange(len(frame)) if entry is None else _window(frame, entry, depth)
    args = _trace_args(frame, rows, style, color_by)
    args.update(_zoom_args(frame, entry, depth))
    fig = go.Figure(_trace(style, args))
    _lay_out(fig, title, color_by)
    return fig


def _trace_args(frame: pd.DataFrame, rows: np.ndarray, style: str, color_by: str) -> dict:
    """The trace's boxes at positions ``rows``: ids, labels, sizes, badges, hover and colours."""
    color, top, colorbar = _colour_scale(frame, color_by)
    line_colors, line_widths = _borders(frame)
    part = frame.iloc[rows]
    return {
        "ids": part["id"].tolist(),
        "parents": part["parent"].tolist(),
        "labels": list(_safe.texts(part["label"], limit=80)),
        # each box sized by the leaves under it, so a part of the tree keeps its sizes
        "values": part["leaves"].tolist(),
        "branchvalues": "total",
        "text": _badges(part),
        "hovertext": _hover(part),
        "hovertemplate": "%{hovertext}<extra></extra>",
        "marker": {
            "colors": color.iloc[rows].tolist(),
            "colorscale": _SCALE,
            "cmin": 0.0,
            "cmax": top,
            "showscale": True,
            "colorbar": colorbar,
            # a pattern would hatch gone pods, but plotly.js then drops the colour scale
            "line": {
                "color": [line_colors[i] for i in rows],
                "width": _border_widths(line_widths, rows, style),
            },
        },
        "name": style,
    }


def _border_widths(line_widths: list[int], rows: np.ndarray, style: str) -> list[int] | int:
    """The border width of each box drawn (a sunburst), or one for all (a treemap, an icicle)."""
    if style == "sunburst":
        return [line_widths[i] for i in rows]
    # the path bar of a treemap or icicle is offset by the line width, and plotly.js draws no
    # path bar (NaN coordinates) when the width is given per box: one for all, wide enough for
    # a marked box's colour to show when there is one
    return 3 if max(line_widths, default=1) > 1 else 1


def _zoom_args(frame: pd.DataFrame, entry: str | None, depth: int | None) -> dict:
    """The node zoomed to (``level``) and how many levels are drawn (``maxdepth``)."""
    args: dict = {}
    # containers mostly mirror their pod: they show when a pod is clicked, not all at once
    levels = int(frame["depth"].max()) + 1 if len(frame) else 1
    if entry is not None:
        args["level"] = entry
        if depth is not None:
            args["maxdepth"] = depth
    if "maxdepth" not in args and (frame["kind"] == "Container").any() and levels > 3:
        args["maxdepth"] = levels - 1
    return args


def _trace(style: str, args: dict) -> go.Treemap | go.Sunburst | go.Icicle:
    """The trace of the style asked for, with that style's text and tiling."""
    if style == "treemap":
        return go.Treemap(
            **args,
            textinfo="label+text",
            pathbar={"visible": True},
            tiling={"pad": 2},
            root={"color": "#f3f4f6"},
        )
    if style == "sunburst":
        return go.Sunburst(**args, textinfo="label", insidetextorientation="radial")
    return go.Icicle(
        **args, textinfo="label+text", tiling={"orientation": "h"}, root={"color": "#f3f4f6"}
    )


def _lay_out(fig: go.Figure, title: str, color_by: str) -> None:
    """The figure's title, margins and height, and the legend of sizes, colours and borders."""
    legend = (
        "size: containers (leaves) · colour: "
        f"{_MEASURE_TEXT.get(color_by, color_by)} · "
        f"<span style='color:{_CREATED_LINE}'>blue border</span>: pod created in window · "
        f"<span style='color:{_GONE_LINE}'>violet border</span>: pod deleted in window "
        "(created in it too, if it says so) or seen only in signals (not in the inventory)"
    )
    fig.update_layout(
        title={"text": title, "x": 0.01},
        margin={"t": 50, "l": 10, "r": 10, "b": 40},
        height=720,
        annotations=[
            {
                "text": legend,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": -0.02,
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 11, "color": "#4b5563"},
            }
        ],
    )


def _window(frame: pd.DataFrame, entry: str, depth: int | None) -> np.ndarray:
    """Positions, in the frame's order, of ``entry``, its ancestors and its descendants less
    than ``depth`` levels below it."""
    ids = frame["id"].to_numpy(dtype=object)
    parents = frame["parent"].to_numpy(dtype=object)
    position = {node: i for i, node in enumerate(ids)}
    kids = pd.Series(np.arange(len(ids))).groupby(parents, sort=False).indices
    out = []
    parent = parents[position[entry]]
    while parent:
        out.append(position[parent])
        parent = parents[position[parent]]
    level, left = [position[entry]], depth if depth is not None else len(ids)
    while level and left > 0:
        out.extend(level)
        level = [k for i in level for k in kids.get(ids[i], ())]
        left -= 1
    return np.sort(np.array(out, dtype=np.int64))


def _badges(frame: pd.DataFrame) -> list[str]:
    """Short per-node text: the non-zero counts, so the trouble is readable without hovering."""
    out = []
    for row in frame[
        ["warning_events", "error_logs", "restarts", "alerts", "change", "phase", "status_reason"]
    ].itertuples():
        parts = []
        for count, word in (
            (row.alerts, "alert"),
            (row.restarts, "restart"),
            (row.warning_events, "warning"),
            (row.error_logs, "error"),
        ):
            if count:
                parts.append(f"{count} {word}{'' if count == 1 else 's'}")
        if row.phase == "Failed":  # an evicted or crashed pod says so on its tile
            parts.append(
                f"failed ({_safe.text(row.status_reason, 80)})"
                if isinstance(row.status_reason, str)
                else "failed"
            )
        if isinstance(row.change, str):
            parts.append(
                {"gone": "not in inventory", "created+deleted": "created, deleted"}.get(
                    row.change, row.change
                )
            )
        out.append(" · ".join(parts))
    return out


def _fmt_time(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if pd.notna(value) else ""


def _hover(frame: pd.DataFrame) -> list[str]:
    out = []
    restarts_source = frame.attrs.get("restarts_source", "")
    for row in frame.to_dict("records"):
        lines = [f"<b>{_safe.text(row['label'], 120)}</b>  ({_safe.text(row['kind'])})"]
        for name in ("namespace", "workload", "node", "service"):
            if row.get(name) is not None and name != row["kind"].lower():
                lines.append(f"{name}: {_safe.text(row[name])}")
        lines.append(f"warning events: {row['warning_events']}")
        lines.append(f"error log lines: {row['error_logs']}")
        lines.append(
            f"restarts: {row['restarts']}"
            + (f" <i>({_safe.text(restarts_source)})</i>" if row["restarts"] else "")
        )
        severities = [
            f"{row[f'alerts_{s}']} {s}" for s in reversed(schema.SEVERITIES) if row[f"alerts_{s}"]
        ]
        lines.append(
            f"security alerts: {row['alerts']}"
            + (f" ({', '.join(severities)})" if severities else "")
        )
        score = row["anomaly_score"]
        lines.append(f"anomaly score: {score:.2f}" if pd.notna(score) else "anomaly score: n/a")
        lines.append(f"health: {row['health']:.2f} (higher is worse)")
        if frame.attrs.get("posture"):
            worst = row["worst_finding"]
            lines.append(
                f"posture findings: {row['findings']}"
                + (f" (worst: {FINDING_SEVERITIES[int(worst) - 1]})" if pd.notna(worst) else "")
            )
        if row["collector_gaps"] > row["coverage_gaps"]:
            lines.append(f"monitoring collector gaps: {row['collector_gaps']}")
        if row["coverage_gaps"]:
            lines.append(
                f"<b>security collector gaps: {row['coverage_gaps']}</b> (Falco or the log "
                "shipper not running while pods ran: silence here is not safety)"
            )
        if row["kind"] == "Pod":
            if row.get("phase"):
                reason = (
                    f" ({_safe.text(row['status_reason'])})" if row.get("status_reason") else ""
                )
                lines.append(f"phase: {_safe.text(row['phase'])}{reason}")
            if pd.notna(row["created"]):
                lines.append(f"created: {_fmt_time(row['created'])}")
            if pd.notna(row["deleted"]):
                lines.append(f"deleted: {_fmt_time(row['deleted'])}")
            if not row["in_inventory"]:
                lines.append(
                    "<i>not in the inventory</i>: seen in signals "
                    f"{_fmt_time(row['first_seen'])} – {_fmt_time(row['last_seen'])}"
                )
            if isinstance(row.get("change"), str) and row["change"] != "gone":
                lines.append(f"<b>{row['change']} inside the window</b>")
        labels = row.get("labels")
        if isinstance(labels, dict) and labels:
            shown = [
                f"{_safe.text(k, 60)}={_safe.text(v, 60)}" for k, v in list(labels.items())[:6]
            ]
            more = f" … +{len(labels) - 6}" if len(labels) > 6 else ""
            lines.append("labels: " + ", ".join(shown) + more)
        out.append("<br>".join(lines))
    return out
