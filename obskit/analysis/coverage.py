"""Collector coverage: which nodes were watched, by which collector, and when they were not.

Silence is only safety where someone was listening. :func:`coverage` reads the inventory for the
monitoring DaemonSets (node-exporter, Falco, the log shipper, kube-proxy and the CNI agent) and
their pods, and the signal frames for what each node actually sent, and returns one row per
node and *source*:

- ``source="daemonset"``: a collector DaemonSet on the node. ``desired`` (1 when the DaemonSet's
  pod template wants the node: its ``nodeSelector`` matches the node's labels and its required
  node affinity, if any, has a term the node meets), ``desired_by`` (what decided it:
  ``every node``, ``nodeSelector``, ``affinity``, ``excluded by the DaemonSet's affinity`` ...,
  and what the DaemonSet's own ``status.desiredNumberScheduled`` says next to the count of
  nodes wanted here), ``pods`` (its pods seen on the node over the
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
scheduled on a node its DaemonSet should cover. A node the DaemonSet's affinity leaves out is
not the DaemonSet's to cover, unless the audit log shows the DaemonSet changed inside the window:
then the node is excluded by that change (moving Falco off one node with an affinity is the
attack), and its gap says "excluded by the DaemonSet's affinity since <time>".

The inventory is taken once, at the window's end or after it: a collector pod deleted before
then is not in it, so on its own the gap on its node could only start at the window's start.
Given the events, such a gap is dated from the evidence there is, in this order, and its reason
says which: the pod's deletion (the DaemonSet controller's ``SuccessfulDelete`` Event, the
kubelet's ``Killing`` Event on the node, the audit log's ``delete`` of the pod: the first of
them), else the DaemonSet change that excluded the node, else the node's last alert from the
collector (Falco's own alerts); with none, "unknown start: window start".

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
    "desired_by",
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


def _expression_matches(expr: dict, value: str | None) -> bool:
    """One ``matchExpressions``/``matchFields`` requirement against a label or field value."""
    op, values = expr.get("operator"), expr.get("values") or []
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _affinity_terms(template: dict) -> list[dict] | None:
    """The required node affinity's ``nodeSelectorTerms``, or None when there is none."""
    required = (
        ((template.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    return required if isinstance(required, list) and required else None


def _desire(template: dict, node: str, labels: dict | None) -> tuple[bool, str]:
    """Whether the DaemonSet's template wants a pod on ``node``, and what decided it.

    The scheduler's rule: every ``nodeSelector`` label matches, and (with a required node
    affinity) at least one ``nodeSelectorTerm`` has all its expressions true; ``matchFields``
    reads ``metadata.name``. A node with no Node object (known only from its pods) is assumed
    wanted.
    """
    selector = template.get("nodeSelector") or {}
    terms = _affinity_terms(template)
    if labels is None:
        return True, "no Node object: assumed"
    if not all(labels.get(k) == v for k, v in selector.items()):
        return False, "excluded by the DaemonSet's nodeSelector"
    if terms is not None:
        fields = {"metadata.name": node}
        if not any(
            all(
                _expression_matches(e, labels.get(e.get("key")))
                for e in t.get("matchExpressions") or []
            )
            and all(
                _expression_matches(e, fields.get(e.get("key"))) for e in t.get("matchFields") or []
            )
            for t in terms
            if isinstance(t, dict)
        ):
            return False, "excluded by the DaemonSet's affinity"
        return True, "nodeSelector and affinity" if selector else "affinity"
    return True, "nodeSelector" if selector else "every node"


def _status_note(raw: object, wanted: int) -> str:
    """What the DaemonSet's own status says it desires, next to the nodes counted here."""
    status = raw.get("status") if isinstance(raw, dict) else None
    count = (status or {}).get("desiredNumberScheduled")
    if not isinstance(count, int):
        return ""
    if count == wanted:
        return f"; status desires {count}"
    return f"; status desires {count}, the nodes here {wanted}"


_EVIDENCE = (
    "timestamp",
    "source",
    "reason",
    "message",
    "object_name",
    "namespace",
    "node",
    "workload",
    "pod",
    "verb",
    "resource",
    "subresource",
    "response_code",
)


def _evidence_frame(events: pd.DataFrame | None) -> pd.DataFrame:
    """The events' columns that date a gap; a frame from one source lacks the others'."""
    if events is None or events.empty:
        return pd.DataFrame(columns=list(_EVIDENCE))
    missing = [c for c in _EVIDENCE if c not in events.columns]
    return events.assign(**{c: None for c in missing}) if missing else events


def _deletions(
    events: pd.DataFrame, ns: object, name: str, node: str, lo: pd.Timestamp, hi: pd.Timestamp
) -> tuple[pd.Timestamp, str] | None:
    """The first deletion of a ``name`` DaemonSet pod on ``node`` in the events, and its evidence.

    The kubelet's ``Killing`` Event names the node; the DaemonSet controller's
    ``SuccessfulDelete`` Event (``Deleted pod: NAME``) and the audit log's ``delete`` of the pod
    are tied to the node through the pod's name (the enriched ``node`` of the row, or the
    kubelet's Event for the same pod).
    """
    if events.empty or "reason" not in events:
        return None
    inside = events.loc[(events["timestamp"] >= lo) & (events["timestamp"] < hi)]
    same_ns = inside["namespace"].astype("object") == ns
    ours = same_ns & (
        (inside["workload"].astype("object") == name)
        | inside["pod"].astype("object").fillna("").str.startswith(f"{name}-")
    )
    source = inside["source"].astype("object")
    reason = inside["reason"].astype("object")
    on_node = inside["node"].astype("object") == node
    killing = inside.loc[ours & on_node & (source == "kubernetes") & (reason == "Killing")]
    pods = set(killing["pod"].dropna().astype(str))
    audit = inside.loc[
        ours
        & (source == "audit")
        & (inside["verb"].astype("object") == "delete")
        & (inside["resource"].astype("object") == "pods")
        & inside["subresource"].isna()
        & (pd.to_numeric(inside["response_code"], errors="coerce") < 300)
    ]
    audit = audit.loc[on_node.loc[audit.index] | audit["pod"].astype("object").isin(pods)]
    pods |= set(audit["pod"].dropna().astype(str))
    deleted_pod = inside["message"].astype("object").str.extract(r"^Deleted pod: (\S+)$")[0]
    controller = inside.loc[
        same_ns
        & (source == "kubernetes")
        & (reason == "SuccessfulDelete")
        & (inside["object_name"].astype("object") == name)
        & deleted_pod.isin(pods)
    ]
    found = [
        (t, what)
        for frame, what in (
            (controller, "the DaemonSet controller's SuccessfulDelete Event"),
            (killing, "the kubelet's Killing Event"),
            (audit, "the audit log's delete"),
        )
        for t in frame["timestamp"].head(1)
    ]
    if not found:
        return None
    first = min(t for t, _ in found)
    pod = sorted(pods)[0]
    said = ", ".join(what for _, what in sorted(found, key=lambda f: f[0]))
    return first, f"{name} pod {pod} deleted at {first:%H:%M:%S} (from {said})"


def _last_alert(
    events: pd.DataFrame, collector: Collector, node: str, lo: pd.Timestamp, hi: pd.Timestamp
) -> pd.Timestamp | None:
    """The node's last alert from the collector itself (Falco's own alerts) before ``hi``."""
    if events.empty or collector.name != "falco":
        return None
    alerts = events.loc[
        (events["source"].astype("object") == "falco")
        & (events["node"].astype("object") == node)
        & (events["timestamp"] >= lo)
        & (events["timestamp"] < hi)
    ]
    return alerts["timestamp"].max() if len(alerts) else None


def _changed(
    events: pd.DataFrame, ns: object, name: str, lo: pd.Timestamp, hi: pd.Timestamp
) -> pd.Timestamp | None:
    """The last write (patch, update) to the DaemonSet the audit log saw inside the window."""
    if events.empty or "verb" not in events:
        return None
    writes = events.loc[
        (events["source"].astype("object") == "audit")
        & events["verb"].astype("object").isin(["patch", "update"])
        & (events["resource"].astype("object") == "daemonsets")
        & (events["namespace"].astype("object") == ns)
        & (events["object_name"].astype("object") == name)
        & events["subresource"].isna()
        & (pd.to_numeric(events["response_code"], errors="coerce") < 300)
        & (events["timestamp"] >= lo)
        & (events["timestamp"] < hi)
    ]
    return writes["timestamp"].max() if len(writes) else None


def _dated(
    events: pd.DataFrame,
    collector: Collector,
    ns: object,
    name: str,
    node: str,
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    since: pd.Timestamp | None,
) -> tuple[pd.Timestamp, str]:
    """When a gap that the inventory can only start at the window's start really began.

    From the best evidence there is: the deletion of the collector's pod on the node (its
    Events and the audit log), else the DaemonSet's change that excluded the node (``since``),
    else the node's last alert from the collector; with none, the window's start, said so.
    """
    last = _last_alert(events, collector, node, lo, hi)
    heard = f"; last {collector.name} alert from the node at {last:%H:%M:%S}" if last else ""
    deleted = _deletions(events, ns, name, node, lo, hi)
    if deleted is not None:
        return deleted[0], deleted[1] + heard
    if since is not None:
        return since, f"dated from the DaemonSet's change at {since:%H:%M:%S}{heard}"
    if last is not None:
        return last, f"dated from the last {collector.name} alert from the node at {last:%H:%M:%S}"
    return lo, "unknown start: window start"


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
    events: pd.DataFrame | None = None,
) -> tuple[list[dict], list[dict]]:
    """Per collector DaemonSet and node: its summary row, and its gaps."""
    evidence = _evidence_frame(events)
    pods = _daemon_pods(inventory.loc[inventory["kind"] == "Pod"])
    daemon = pods["daemonset"].notna()
    collectors = _collectors(inventory, pods, daemon)
    if not collectors:  # no collector runs as a DaemonSet here: nothing to have a gap
        return [], []
    unready = _not_ready(changes, start, end)
    nodes = _nodes(inventory, pods)
    workloads = _workload_lifetimes(pods, daemon, collectors, start, end)
    dsets = inventory.loc[inventory["kind"] == "DaemonSet"].set_index(["namespace", "name"])
    scope = _Scope(start, end, evidence, unready, workloads, _audited(evidence, start, end))
    rows, gaps = [], []
    for (ns, name), collector in collectors.items():
        mine = pods.loc[daemon & (pods["namespace"] == ns) & (pods["daemonset"] == name)]
        found = _daemonset_coverage(scope, collector, ns, name, dsets, mine, nodes)
        rows += found[0]
        gaps += found[1]
    return rows, gaps


@dataclass(frozen=True)
class _Scope:
    """What every collector's coverage is measured against: the window and its evidence."""

    start: pd.Timestamp
    end: pd.Timestamp
    #: The events that date gaps and DaemonSet changes (:func:`_evidence_frame`).
    evidence: pd.DataFrame
    #: (namespace, pod) -> when the watch saw it not ready (:func:`_not_ready`).
    unready: dict[tuple[object, str], list[tuple[pd.Timestamp, pd.Timestamp, str]]]
    #: Node -> when pods other than the collectors' ran there.
    workloads: dict[str, Intervals]
    #: Whether the audit log has a record inside the window.
    audited: bool


def _collectors(
    inventory: pd.DataFrame, pods: pd.DataFrame, daemon: pd.Series
) -> dict[tuple[object, str], Collector]:
    """(namespace, DaemonSet) -> the collector it is, from the inventory's DaemonSets and the
    DaemonSet pods whose DaemonSet object is not in the inventory, recognised by name."""
    collectors: dict[tuple[object, str], Collector] = {}
    for _, ds in inventory.loc[inventory["kind"] == "DaemonSet"].iterrows():
        found = _daemonset_collector(ds)
        if found is not None:
            collectors[(ds["namespace"], str(ds["name"]))] = found
    for ns, name in (
        pods.loc[daemon, ["namespace", "daemonset"]].drop_duplicates().itertuples(index=False)
    ):
        if isinstance(name, str) and (ns, name) not in collectors:
            found = collector_of(name)
            if found is not None:
                collectors[(ns, name)] = found
    return collectors


def _workload_lifetimes(
    pods: pd.DataFrame,
    daemon: pd.Series,
    collectors: dict[tuple[object, str], Collector],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, Intervals]:
    """Node -> when pods other than the collectors' ran there inside the window."""
    is_collector = pd.Series(False, index=pods.index)
    for ns, name in collectors:
        is_collector |= daemon & (pods["namespace"] == ns) & (pods["daemonset"] == name)
    return {
        n: _lifetimes(p, start, end) for n, p in pods[~is_collector].groupby("node", observed=True)
    }


def _audited(evidence: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether the audit log has a record inside the window."""
    return bool(
        len(evidence)
        and (
            (evidence["source"].astype("object") == "audit")
            & (evidence["timestamp"] >= start)
            & (evidence["timestamp"] <= end)
        ).any()
    )


def _daemonset_coverage(
    scope: _Scope,
    collector: Collector,
    ns: object,
    name: str,
    dsets: pd.DataFrame,
    mine: pd.DataFrame,
    nodes: dict[str, dict],
) -> tuple[list[dict], list[dict]]:
    """One collector DaemonSet: a summary row per node it wants or ran on, and its gaps."""
    template, raw = {}, None
    if (ns, name) in dsets.index:
        raw = dsets.loc[(ns, name), "raw"]
        template = _template(raw)
    by_node = dict(list(mine.groupby("node")))
    desires = {node: _desire(template, node, labels) for node, labels in nodes.items()}
    note = _status_note(raw, sum(wanted for wanted, _ in desires.values()))
    changed = _changed(scope.evidence, ns, name, scope.start, scope.end)
    rows, gaps = [], []
    for node in nodes:
        on_node = by_node.get(node, mine.iloc[:0])
        desired, decided = desires[node]
        excluded = not desired and decided.endswith("affinity")
        # a node the DaemonSet's affinity left out is only the DaemonSet's own choice when
        # it was so before the window: left out by a change inside it (or, for a security
        # collector, with no audit log to tell when), its pods are a gap
        if excluded and changed is None and not (collector.security and not scope.audited):
            excluded = False
        if not desired and on_node.empty and not excluded:
            continue
        running, missing, reasons = _node_gaps(
            scope, collector, ns, name, node, on_node, excluded, changed
        )
        what = {"node": node, "name": name, "namespace": ns, "collector": collector.name}
        what |= {"role": collector.role, "security": collector.security}
        for (lo, hi), reason in zip(missing, reasons, strict=True):
            gaps.append(what | {"start": lo, "end": hi, "duration": hi - lo, "reason": reason})
        summary = _daemonset_summary(desired, decided + note, on_node, running, missing, scope.end)
        rows.append(what | summary)
    return rows, gaps


def _node_gaps(
    scope: _Scope,
    collector: Collector,
    ns: object,
    name: str,
    node: str,
    on_node: pd.DataFrame,
    excluded: bool,
    changed: pd.Timestamp | None,
) -> tuple[Intervals, Intervals, list[str]]:
    """When the collector's pods on the node ran, when other pods ran there without one running,
    and why."""
    start, end = scope.start, scope.end
    down = [s for pod in on_node["name"] for s in scope.unready.get((ns, str(pod)), [])]
    running = _minus(_lifetimes(on_node, start, end), _merge([s[:2] for s in down]))
    missing = _minus(scope.workloads.get(node, []), running)
    reasons = [_reason(on_node, lo, hi, name, down) for lo, hi in missing]
    if missing and missing[0][0] == start and on_node.empty:
        # the inventory has no pod of it on the node (one deleted before the inventory
        # was taken is not in it): date the gap from the evidence there is
        since = changed if excluded else None
        began, how = _dated(scope.evidence, collector, ns, name, node, start, end, since)
        missing = _minus(missing, [(start, began)])
        why = ""
        if excluded:
            when = f"{changed:%H:%M:%S}" if changed is not None else "an unknown time"
            why = f"excluded by the DaemonSet's affinity since {when}; "
        said = how if " deleted at " in how else f"{reasons[0]}; {how}"
        reasons = [f"{why}{said}"] * len(missing)
    return running, missing, reasons


def _daemonset_summary(
    desired: bool,
    desired_by: str,
    on_node: pd.DataFrame,
    running: Intervals,
    missing: Intervals,
    end: pd.Timestamp,
) -> dict:
    """The ``source="daemonset"`` columns of one collector on one node."""
    restarts = pd.to_numeric(on_node["restarts"], errors="coerce").fillna(0)
    return {
        "source": "daemonset",
        "desired": int(desired),
        "desired_by": desired_by,
        "pods": len(on_node),
        "ready": int(bool(running) and running[-1][1] >= end),
        "restarts": int(restarts.sum()),
        "first": running[0][0] if running else pd.NaT,
        "last": running[-1][1] if running else pd.NaT,
        "gap": sum((hi - lo for lo, hi in missing), pd.Timedelta(0)),
    }


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
        are summarised as ``source="signal"`` rows. ``events`` also dates the gaps and the
        changes of a DaemonSet's affinity, as :func:`coverage_gaps` does.
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
    rows, _ = _collector_rows(inventory, start, end, changes, events)
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
    events: pd.DataFrame | None = None,
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
    events : DataFrame, optional
        The events frame (Kubernetes Events, the audit log, Falco alerts): a gap the inventory
        can only start at the window's start (the collector's pod was deleted before the
        inventory was taken) is dated from them, as in the module docstring.

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
    _, gaps = _collector_rows(inventory, start, end, changes, events)
    out = pd.DataFrame(gaps, columns=_GAP_COLUMNS)
    out["security"] = out["security"].astype("boolean")
    if security_only:
        out = out.loc[out["security"].fillna(False).astype(bool)]
    for column in ("start", "end"):
        out[column] = pd.to_datetime(out[column], utc=True)
    out["duration"] = pd.to_timedelta(out["duration"])
    return out.sort_values(["start", "node", "name"], kind="stable").reset_index(drop=True)
