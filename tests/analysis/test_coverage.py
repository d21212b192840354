"""Collector coverage: real-shaped DaemonSets, their pods and Nodes, as the API sends them."""

from __future__ import annotations

import pandas as pd
import pytest

import obskit
from obskit import schema
from obskit.analysis.coverage import COLLECTORS, collector_of, coverage, coverage_gaps
from obskit.errors import InvestigationError
from obskit.sources.kubernetes import objects_to_frames

T0 = pd.Timestamp("2024-09-10T19:00:00Z")
WINDOW = (T0, T0 + pd.Timedelta("2h"))


def _at(minutes: float) -> str:
    return (T0 + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": "2024-06-22T19:00:00Z",
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def _daemonset(name: str, image: str, node_selector: dict | None = None) -> dict:
    spec = {"containers": [{"name": name, "image": image}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": name,
            "namespace": "monitoring",
            "uid": f"uid-ds-{name}",
            "creationTimestamp": "2024-06-22T19:00:00Z",
            "labels": {"app.kubernetes.io/name": name},
        },
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": spec},
        },
        "status": {"desiredNumberScheduled": 2, "numberReady": 1, "currentNumberScheduled": 2},
    }


def _pod(
    name: str,
    node: str,
    *,
    owner: tuple[str, str] | None = None,
    created: float = -600,
    deleted: float | None = None,
    phase: str = "Running",
    restarts: int = 0,
    namespace: str = "monitoring",
) -> dict:
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "creationTimestamp": _at(created),
        "labels": {"app.kubernetes.io/name": name.rsplit("-", 1)[0]},
    }
    if owner:
        kind, owner_name = owner
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "name": owner_name,
                "uid": f"uid-ds-{owner_name}",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    if deleted is not None:
        meta["deletionTimestamp"] = _at(deleted)
    container = meta["labels"]["app.kubernetes.io/name"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": container, "image": "x"}]},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": container, "restartCount": restarts, "ready": True}],
        },
    }


def _cluster(*extra: dict) -> pd.DataFrame:
    """Two nodes, Falco and node-exporter on both, a shop pod on each; ``extra`` objects added."""
    objects = [
        _node("node-a"),
        _node("node-b"),
        _daemonset("falco", "docker.io/falcosecurity/falco-no-driver:0.37.1"),
        _daemonset("node-exporter", "quay.io/prometheus/node-exporter:v1.8.1"),
        _pod("node-exporter-a1", "node-a", owner=("DaemonSet", "node-exporter")),
        _pod("node-exporter-b1", "node-b", owner=("DaemonSet", "node-exporter")),
        _pod("falco-b1", "node-b", owner=("DaemonSet", "falco"), restarts=2),
        _pod("checkout-7d9f-x1", "node-a", namespace="shop"),
        _pod("checkout-7d9f-x2", "node-b", namespace="shop"),
        *extra,
    ]
    return objects_to_frames(objects).inventory


def _falco_deleted_on_a() -> pd.DataFrame:
    # node-a's Falco pod was deleted 30 minutes in and never came back; checkout kept running
    return _cluster(_pod("falco-a1", "node-a", owner=("DaemonSet", "falco"), deleted=30))


def test_the_collector_table_recognises_names_labels_and_images():
    assert collector_of("falco").security
    assert collector_of("prometheus-node-exporter").name == "node-exporter"
    assert collector_of("logging", "cr.fluentbit.io/fluent/fluent-bit:3.0.7").name == "log shipper"
    assert collector_of("cilium").name == collector_of("aws-node").name == "cni"
    # whole words only: a pod called "vectorize-api" is not the vector log shipper
    assert collector_of("vectorize-api") is None
    assert collector_of("checkout", None, "") is None
    assert {c.name for c in COLLECTORS if c.security} == {"falco", "log shipper", "datadog-agent"}


def test_a_deleted_falco_pod_while_the_node_ran_pods_is_a_gap():
    gaps = coverage_gaps(_falco_deleted_on_a(), window=WINDOW)
    assert len(gaps) == 1
    gap = gaps.iloc[0]
    assert (gap["node"], gap["name"], gap["collector"]) == ("node-a", "falco", "falco")
    assert bool(gap["security"])
    assert gap["start"] == T0 + pd.Timedelta("30min") and gap["end"] == WINDOW[1]
    assert gap["duration"] == pd.Timedelta("90min")
    assert gap["reason"] == "falco pod falco-a1 deleted at 19:30:00"


def test_a_complete_node_has_no_gap_and_its_counts():
    table = coverage(_falco_deleted_on_a(), window=WINDOW)
    daemon = table[table["source"] == "daemonset"].set_index(["node", "name"])
    b = daemon.loc[("node-b", "falco")]
    assert (b["desired"], b["pods"], b["ready"], b["restarts"]) == (1, 1, 1, 2)
    assert b["gap"] == pd.Timedelta(0)
    assert (b["first"], b["last"]) == WINDOW
    a = daemon.loc[("node-a", "falco")]
    assert (a["pods"], a["ready"], a["gap"]) == (1, 0, pd.Timedelta("90min"))
    assert a["last"] == T0 + pd.Timedelta("30min")
    assert daemon.loc[("node-a", "node-exporter"), "gap"] == pd.Timedelta(0)
    assert not bool(daemon.loc[("node-a", "node-exporter"), "security"])


def test_a_node_its_collector_never_reached_and_one_its_selector_leaves_out():
    inventory = objects_to_frames(
        [
            _node("node-a"),
            _node("win-1", **{"kubernetes.io/os": "windows"}),
            _daemonset("fluent-bit", "fluent/fluent-bit:3.0", {"kubernetes.io/os": "linux"}),
            _pod("checkout-7d9f-x1", "node-a", namespace="shop"),
            _pod("iis-5c4d-x1", "win-1", namespace="shop"),
        ]
    ).inventory
    gaps = coverage_gaps(inventory, window=WINDOW, security_only=True)
    # the Windows node is not the linux-only DaemonSet's to cover; node-a is, and had none
    assert gaps[["node", "collector", "reason"]].values.tolist() == [
        ["node-a", "log shipper", "no fluent-bit pod on the node"]
    ]


def test_a_collector_created_after_the_pods_and_a_pending_one():
    inventory = _cluster(
        _pod("falco-a1", "node-a", owner=("DaemonSet", "falco"), created=20),
    )
    gaps = coverage_gaps(inventory, window=WINDOW)
    assert gaps[["start", "end"]].values.tolist() == [[T0, T0 + pd.Timedelta("20min")]]
    assert gaps["reason"].tolist() == ["falco pod falco-a1 not yet created"]
    pending = _cluster(_pod("falco-a1", "node-a", owner=("DaemonSet", "falco"), phase="Pending"))
    assert coverage_gaps(pending, window=WINDOW)["reason"].tolist() == [
        "falco pod falco-a1 Pending"
    ]


def test_an_idle_node_is_no_gap():
    # node-c runs no pods at all: nothing on it went unwatched
    inventory = _cluster(_pod("falco-a1", "node-a", owner=("DaemonSet", "falco")), _node("node-c"))
    assert coverage_gaps(inventory, window=WINDOW).empty
    table = coverage(inventory, window=WINDOW)
    c = table[(table["node"] == "node-c") & (table["name"] == "falco")].iloc[0]
    assert (c["pods"], c["ready"], c["gap"]) == (0, 0, pd.Timedelta(0))


def test_signals_per_node_and_the_audit_log_once():
    inv = obskit.datasets.load("cryptominer")
    table = inv.coverage()
    signals = table[table["source"] == "signal"]
    assert set(signals["name"]) == {"metrics", "container logs", "falco", "audit"}
    audit = signals[signals["name"] == "audit"]
    assert len(audit) == 1 and audit["node"].isna().all()
    assert int(audit["rows"].iloc[0]) == int((inv.events["source"] == "audit").sum())
    falco = signals[signals["name"] == "falco"]
    assert falco["rows"].sum() == (inv.events["source"] == "falco").sum()
    daemon = table[table["source"] == "daemonset"]
    assert set(daemon["name"]) == {"falco", "node-exporter", "kube-proxy"}
    assert daemon.groupby("name")["node"].nunique().eq(4).all()
    assert inv.coverage_gaps().empty


def test_coverage_needs_a_window():
    with pytest.raises(InvestigationError, match=r"needs a time window: give window=\(start"):
        coverage(_cluster())
    with pytest.raises(InvestigationError, match="ends before it starts"):
        coverage_gaps(_cluster(), window=(WINDOW[1], WINDOW[0]))


def _change(minutes: float, verb: str, ready: str | None) -> dict:
    return {
        "timestamp": T0 + pd.Timedelta(minutes=minutes),
        "verb": verb,
        "kind": "Pod",
        "name": "falco-b1",
        "namespace": "monitoring",
        "node": "node-b",
        "phase": "Running",
        "ready": ready,
        "restarts": 2,
    }


def test_the_watch_saw_falco_not_ready_for_ten_minutes():
    changes = schema.conform(
        "changes",
        pd.DataFrame(
            [
                _change(0, "added", "1/1"),
                _change(40, "modified", "0/1"),
                _change(45, "modified", None),  # a change of another field: still not ready
                _change(50, "modified", "1/1"),
            ]
        ),
    )
    inventory = _cluster(_pod("falco-a1", "node-a", owner=("DaemonSet", "falco")))
    gaps = coverage_gaps(inventory, window=WINDOW, changes=changes)
    assert gaps[["node", "start", "end", "reason"]].values.tolist() == [
        [
            "node-b",
            T0 + pd.Timedelta("40min"),
            T0 + pd.Timedelta("50min"),
            "falco pod not ready (0/1) at 19:40:00",
        ]
    ]
    table = coverage(inventory, window=WINDOW, changes=changes).set_index(["node", "name"])
    assert table.loc[("node-b", "falco"), "gap"] == pd.Timedelta("10min")
    assert table.loc[("node-b", "falco"), "ready"] == 1
    assert coverage_gaps(inventory, window=WINDOW).empty  # without the change log: no gap
