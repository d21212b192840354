"""Enrichment: complete every row's metadata key from the inventory.

A loader fills what its source knows (a log path knows namespace/pod/container; a
kube-state-metrics series knows namespace/pod; an audit entry on ``pods/exec`` knows the pod).
This module completes the rest:

- **owner chains** (:func:`resolve_workloads`): Pod → ReplicaSet → Deployment, Pod → Job →
  CronJob, Pod → StatefulSet / DaemonSet, through ``ownerReferences`` (by uid, else by kind
  and name); an unowned pod is its own workload (``workload_kind="Pod"``);
- **pod → node, workload** (:func:`enrich`) for every signal row that names a pod;
- **naming conventions**, only where the inventory has nothing: a pod named
  ``<owner>-<5 characters>`` whose owner ReplicaSet, Job or DaemonSet is in the inventory
  belongs to that owner's workload; otherwise ``<name>-<pod-template-hash>-<suffix>`` is a pod
  of Deployment ``<name>`` and ``<name>-<8 digits>-<suffix>`` a pod of CronJob ``<name>``.

- **other signals**, for pods the inventory no longer holds (deleted in a rollout, evicted): the
  node a pod ran on, as another record says it (a kubelet Event's host, a ``Scheduled`` Event,
  a series labelled with both pod and node) — :func:`observed_nodes`.

``key_source`` says where each row's key came from, weakest link first:
``record`` (the source itself), ``inventory``, ``signals`` (another record),
``name-convention``, ``incomplete`` (a pod-level row whose node or workload stays unknown, or a
row with no key at all). Nothing is guessed silently.

The work is done once per distinct key, not once per row, so a million log rows of a few
hundred containers cost one group-by and one take.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from obskit import schema

__all__ = ["WORKLOAD_KINDS", "enrich", "observed_nodes", "resolve_workloads"]

#: Kinds that are a workload (the top of an owner chain) when nothing owns them.
WORKLOAD_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicaSet",
        "ReplicationController",
    }
)

# Kubernetes' rand.SafeEncodeString alphabet (no vowels, no 0/1/3); older clusters used digits.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
# A ReplicaSet is <deployment>-<pod-template-hash> (9-10 digits before Kubernetes 1.8); a Job
# made by a CronJob is <cronjob>-<scheduled time in minutes since the epoch> (8 digits).
_REPLICASET = re.compile(rf"^(?P<w>.+)-(?:[{_SAFE}]{{6,10}}|\d{{9,10}})$")
_CRONJOB_JOB = re.compile(r"^(?P<w>.+)-\d{8}$")
# a pod made by a ReplicaSet, Job or DaemonSet: <owner>-<5 random characters>
_GENERATED_POD = re.compile(rf"^(?P<owner>.+)-[{_SAFE}]{{5}}$")
_STATEFUL_POD = re.compile(r"^(?P<owner>.+)-\d+$")

_RANK = {s: i for i, s in enumerate(schema.KEY_SOURCES)}


def _weakest(*sources: str | None) -> str:
    known = [s for s in sources if s]
    return max(known, key=_RANK.__getitem__) if known else "incomplete"


def resolve_workloads(inventory: pd.DataFrame) -> pd.DataFrame:
    """Fill ``workload_kind`` and ``workload`` of every inventory row from its owner chain.

    Examples
    --------
    >>> inv = schema.conform("inventory", pd.DataFrame([
    ...     {"kind": "Deployment", "namespace": "shop", "name": "web", "uid": "d"},
    ...     {"kind": "ReplicaSet", "namespace": "shop", "name": "web-5d8f6c7b9", "uid": "r",
    ...      "owner_kind": "Deployment", "owner_name": "web", "owner_uid": "d"},
    ...     {"kind": "Pod", "namespace": "shop", "name": "web-5d8f6c7b9-x2x9z", "uid": "p",
    ...      "owner_kind": "ReplicaSet", "owner_name": "web-5d8f6c7b9", "owner_uid": "r"}]))
    >>> resolve_workloads(inv)[["kind", "workload_kind", "workload"]].values.tolist()
    [['Deployment', 'Deployment', 'web'], ['ReplicaSet', 'Deployment', 'web'], ['Pod', 'Deployment', 'web']]
    """  # noqa: E501
    if inventory.empty:
        return inventory
    records = (
        inventory[["kind", "namespace", "name", "uid", "owner_kind", "owner_name", "owner_uid"]]
        .astype("object")
        .where(
            inventory[
                ["kind", "namespace", "name", "uid", "owner_kind", "owner_name", "owner_uid"]
            ].notna(),
            None,
        )
        .to_dict("records")
    )
    by_uid = {r["uid"]: r for r in records if r["uid"]}
    by_name = {(r["namespace"], r["kind"], r["name"]): r for r in records}
    kinds, names, sources = [], [], []
    for r in records:
        kind, name, source = _top_owner(r, by_uid, by_name)
        kinds.append(kind)
        names.append(name)
        sources.append(source)
    out = inventory.copy()
    out["workload_kind"] = pd.Categorical(kinds)
    out["workload"] = pd.Categorical(names)
    old = out["key_source"].astype("object").where(out["key_source"].notna(), None)
    out["key_source"] = pd.Categorical(
        [_weakest(a, b) for a, b in zip(old.tolist(), sources, strict=True)]
    )
    return out


def _top_owner(row: dict, by_uid: dict, by_name: dict) -> tuple[str | None, str | None, str | None]:
    """(workload kind, workload name, key source) for one inventory object."""
    if row["kind"] not in WORKLOAD_KINDS and row["kind"] != "Pod":
        return None, None, None
    current, source = row, "record"
    for _ in range(8):  # owner chains are short; this bounds a cyclic or corrupt one
        owner_kind, owner_name = current["owner_kind"], current["owner_name"]
        if not owner_kind:
            break
        parent = by_uid.get(current["owner_uid"]) or by_name.get(
            (current["namespace"], owner_kind, owner_name)
        )
        if parent is None:
            # The owner is not in the inventory (deleted, or not exported): name it anyway and
            # take one more step by convention only where Kubernetes' naming makes it certain.
            if owner_kind == "ReplicaSet" and (m := _REPLICASET.match(owner_name or "")):
                return "Deployment", m["w"], "name-convention"
            if owner_kind == "Job" and (m := _CRONJOB_JOB.match(owner_name or "")):
                return "CronJob", m["w"], "name-convention"
            return owner_kind, owner_name, "inventory" if current is not row else "record"
        current, source = parent, "inventory"
    kind = current["kind"] if current["kind"] in WORKLOAD_KINDS else "Pod"
    return kind, current["name"], source


def _pod_table(inventory: pd.DataFrame) -> dict[tuple[str, str], dict]:
    pods = inventory[inventory["kind"] == "Pod"]
    cols = ["cluster", "namespace", "name", "node", "workload_kind", "workload"]
    table = pods[cols].astype("object").where(pods[cols].notna(), None)
    return {(r["namespace"], r["name"]): r for r in table.to_dict("records")}


_SCHEDULED = re.compile(r"^Successfully assigned (?P<ns>[^/\s]+)/(?P<pod>\S+) to (?P<node>\S+)")


def observed_nodes(*frames: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """The node each pod ran on, as the signals themselves say it.

    Taken from rows whose own record names pod and node together (kubelet Events, series with
    a ``node`` label, shipped logs with ``kubernetes.host``) and from the scheduler's
    ``Scheduled`` Events ("Successfully assigned shop/web-1 to node-a").

    Examples
    --------
    >>> ev = schema.conform("events", pd.DataFrame({"reason": ["Scheduled"],
    ...     "message": ["Successfully assigned shop/web-1 to node-a"]}))
    >>> observed_nodes(ev)
    {('shop', 'web-1'): 'node-a'}
    """
    out: dict[tuple[str, str], str] = {}
    for frame in frames:
        if frame is None or frame.empty:
            continue
        for namespace, pod, node in _pod_nodes(frame):
            out.setdefault((namespace, pod), node)
        if "reason" in frame.columns and "message" in frame.columns:
            scheduled = frame.loc[frame["reason"] == "Scheduled", "message"].dropna()
            for message in scheduled.astype(str).unique():
                m = _SCHEDULED.match(message)
                if m:
                    out.setdefault((m["ns"], m["pod"]), m["node"])
    return out


def _infer_pod_workload(
    namespace: str | None, pod: str, owners: dict
) -> tuple[str, str, str] | None:
    """(workload kind, workload, key source) of a pod the inventory does not hold."""
    m = _GENERATED_POD.match(pod)
    if m:
        for kind in ("ReplicaSet", "Job", "DaemonSet"):
            found = owners.get((namespace, kind, m["owner"]))
            if found is not None:
                return (*found, "inventory")
    s = _STATEFUL_POD.match(pod)
    if s and (namespace, "StatefulSet", s["owner"]) in owners:
        return "StatefulSet", s["owner"], "inventory"
    if not m:
        return None
    for pattern, kind in ((_CRONJOB_JOB, "CronJob"), (_REPLICASET, "Deployment")):
        c = pattern.match(m["owner"])
        if c:
            known = (namespace, kind, c["w"]) in owners
            return kind, c["w"], "inventory" if known else "name-convention"
    return None


def _complete(key: dict, pods: dict, owners: dict, cluster: str | None, seen: dict) -> dict:
    """Complete one distinct key; returns the new key with its ``key_source``."""
    out = dict(key)
    source = key.get("key_source") or "record"
    if out.get("cluster") is None and cluster is not None:
        out["cluster"] = cluster
    pod, namespace = out.get("pod"), out.get("namespace")
    if pod is not None:
        found = pods.get((namespace, pod))
        if found is not None:
            filled = False
            for column in ("node", "workload_kind", "workload", "cluster"):
                if out.get(column) is None and found[column] is not None:
                    out[column] = found[column]
                    filled = True
            if filled:
                source = _weakest(source, "inventory")
        else:
            if out.get("node") is None and (namespace, pod) in seen:
                out["node"] = seen[(namespace, pod)]
                source = _weakest(source, "signals")
            inferred = None if out.get("workload") else _infer_pod_workload(namespace, pod, owners)
            if inferred is not None:
                out["workload_kind"], out["workload"], how = inferred
                source = _weakest(source, how)
        if out.get("node") is None or out.get("workload") is None:
            source = "incomplete"
    elif all(out.get(c) is None for c in ("namespace", "node", "workload")):
        source = "incomplete"
    out["key_source"] = source
    return out


def _pod_nodes(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The distinct (namespace, pod, node) of the rows whose own record names them all, in
    the order of a sorted group-by (by category order). Category columns are read through
    their codes: one hash pass over the rows, not a copy of the frame's selected rows."""
    columns = [frame[c] for c in ("namespace", "pod", "node")]
    own = np.array(frame["key_source"] == "record", dtype=bool)
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        rows = frame[own & frame["pod"].notna().to_numpy() & frame["node"].notna().to_numpy()]
        if not len(rows):
            return []
        return list(rows.groupby(["namespace", "pod", "node"], observed=True).size().index)
    cats = [c.cat.categories for c in columns]
    widths = [len(c) for c in cats]
    if widths[0] * widths[1] * widths[2] >= _CODE_BOUND:
        rows = frame[own & frame["pod"].notna().to_numpy() & frame["node"].notna().to_numpy()]
        return list(rows.groupby(["namespace", "pod", "node"], observed=True).size().index)
    codes = [c.cat.codes.to_numpy() for c in columns]
    for part in codes:  # a missing namespace, pod or node: no pair (as group-by drops it)
        own &= part >= 0
    combined = codes[0][own].astype(np.int64) * widths[1] + codes[1][own]
    combined = combined * widths[2] + codes[2][own]
    distinct = np.sort(pd.unique(combined))
    first, node = np.divmod(distinct, widths[2])
    namespace, pod = np.divmod(first, widths[1])
    return list(
        zip(cats[0][namespace].tolist(), cats[1][pod].tolist(), cats[2][node].tolist(), strict=True)
    )


def enrich(
    frame: pd.DataFrame,
    inventory: pd.DataFrame | None,
    cluster: str | None = None,
    seen: dict[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """Complete the key of a metrics, events or logs frame from ``inventory``.

    Rows that name a pod get its node, workload and cluster; events about a workload object
    (a Deployment, a ReplicaSet) get that workload; ``cluster`` fills a missing cluster.
    Values the source gave are never overwritten. ``seen`` maps (namespace, pod) to the node
    other signals saw it on (:func:`observed_nodes`), for pods the inventory no longer holds.

    Examples
    --------
    >>> inv = schema.conform("inventory", pd.DataFrame([{"kind": "Pod", "namespace": "shop",
    ...     "name": "web-1", "node": "node-1", "workload_kind": "StatefulSet",
    ...     "workload": "web"}]))
    >>> logs = schema.conform("logs", pd.DataFrame({"namespace": ["shop"], "pod": ["web-1"],
    ...                                             "key_source": ["record"]}))
    >>> enrich(logs, inv, "prod")[["cluster", "node", "workload", "key_source"]].values.tolist()
    [['prod', 'node-1', 'web', 'inventory']]
    """
    if frame is None or frame.empty:
        return frame
    inventory = inventory if inventory is not None else schema.empty("inventory")
    key_cols = [*schema.KEY, "key_source"]
    extra: list[str] = []
    if "object_kind" in frame.columns:
        extra = ["object_kind", "object_name"]
    addresses = _node_addresses(inventory)
    if "instance" in frame.columns and addresses:
        extra.append("instance")
    group_cols = key_cols + extra
    codes, first = _key_codes(frame, group_cols)
    picked = frame[group_cols].iloc[first]
    columns = [
        picked[c].astype("object").where(picked[c].notna(), None).tolist() for c in group_cols
    ]
    distinct = [dict(zip(group_cols, values, strict=True)) for values in zip(*columns, strict=True)]
    pods = _pod_table(inventory)
    owners = _workload_owners(inventory)
    completed = []
    for key in distinct:
        key = _workload_object(key, owners)
        key = _instance_node(key, addresses)
        completed.append(_complete(key, pods, owners, cluster, seen or {}))
    table = pd.DataFrame(completed, columns=group_cols)
    columns = {}
    for column in key_cols:
        # categories from the distinct keys, then one take: no per-row factorising
        small = pd.Categorical(table[column].to_numpy(dtype=object))
        columns[column] = pd.Categorical.from_codes(small.codes[codes], dtype=small.dtype)
    return frame.assign(**columns)  # the other columns are shared, not copied


#: Group numbers are combined in an int64 below this bound (refactorised when they would pass).
_CODE_BOUND = 1 << 62


def _key_codes(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The group number of each row's values of ``columns`` (groups numbered in order of first
    appearance, a missing value a value of its own) and the first row of each group.

    Category columns give their codes as they are, so a million rows of a few thousand keys
    cost a few integer operations a column and one hash pass, not a sort of the rows.
    """
    n = len(frame)
    digits: list[tuple[np.ndarray, int]] = []
    for column in columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            width = len(values.cat.categories) + 1
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            width = len(uniques) + 1
        if width > 1:  # every value missing: one group whatever the other columns say
            digits.append((codes, width))
    # each row's codes as the digits of one number (a missing value, -1, is a digit like the
    # others: digits from -1 to width - 2 number the rows as uniquely as from 0), in 32 bits
    # when every combination fits: half the memory to run through
    fits = math.prod(width for _, width in digits) < 1 << 31
    combined = np.zeros(n, dtype=np.int32 if fits else np.int64)
    size = 1
    for codes, width in digits:
        if size * width >= _CODE_BOUND:
            dense, uniques = pd.factorize(combined)
            combined, size = dense.astype(np.int64), len(uniques)
        combined *= width
        np.add(combined, codes, out=combined, casting="same_kind")
        size *= width
    groups, _ = pd.factorize(combined)
    if n == 0:
        return groups, np.zeros(0, dtype=np.int64)
    # numbered by first appearance: a group's first row is where the running maximum grows
    running = np.maximum.accumulate(groups)
    grows = np.empty(n, dtype=bool)
    grows[0] = True
    np.greater(running[1:], running[:-1], out=grows[1:])
    return groups, np.flatnonzero(grows)


def _workload_owners(inventory: pd.DataFrame) -> dict[tuple, tuple[str, str]]:
    """(namespace, kind, name) of every workload object -> its (workload kind, workload)."""
    rows = inventory[inventory["kind"].isin(WORKLOAD_KINDS) & inventory["workload"].notna()]
    return {
        (r.namespace, r.kind, r.name): (r.workload_kind, r.workload)
        for r in rows[["namespace", "kind", "name", "workload_kind", "workload"]].itertuples()
    }


def _workload_object(key: dict, owners: dict) -> dict:
    """An event about a workload object (a Deployment, a ReplicaSet or Job of one) is keyed to
    that workload."""
    kind, name = key.get("object_kind"), key.get("object_name")
    if key.get("workload") is not None or kind not in WORKLOAD_KINDS or name is None:
        return key
    key = dict(key)
    found = owners.get((key.get("namespace"), kind, name))
    if found is not None:
        key["workload_kind"], key["workload"] = found
        key["key_source"] = _weakest(key.get("key_source"), "inventory")
    elif kind == "ReplicaSet" and (m := _REPLICASET.match(name)):
        key["workload_kind"], key["workload"] = "Deployment", m["w"]
        key["key_source"] = _weakest(key.get("key_source"), "name-convention")
    elif kind == "Job" and (m := _CRONJOB_JOB.match(name)):
        key["workload_kind"], key["workload"] = "CronJob", m["w"]
        key["key_source"] = _weakest(key.get("key_source"), "name-convention")
    else:
        key["workload_kind"], key["workload"] = kind, name
    return key


def _node_addresses(inventory: pd.DataFrame) -> dict[str, str]:
    """Node address (InternalIP, ExternalIP, Hostname) -> node name, from Node objects."""
    nodes = inventory[inventory["kind"] == "Node"]
    out: dict[str, str] = {}
    if "raw" not in nodes.columns:
        return out
    for name, raw in zip(nodes["name"], nodes["raw"], strict=True):
        status = (raw or {}).get("status") or {} if isinstance(raw, dict) else {}
        for address in status.get("addresses") or []:
            if address.get("address"):
                out[address["address"]] = name
    return out


def _instance_node(key: dict, addresses: dict[str, str]) -> dict:
    """A node-level series scraped at ``<node address>:<port>`` is about that node."""
    instance = key.get("instance")
    if key.get("node") is not None or key.get("pod") is not None or not instance:
        return key
    host = str(instance).rsplit(":", 1)[0].strip("[]")
    node = addresses.get(host)
    if node is None:
        return key
    key = dict(key)
    key["node"] = node
    key["key_source"] = _weakest(key.get("key_source"), "inventory")
    return key
