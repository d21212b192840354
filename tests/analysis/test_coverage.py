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
        ["node-a", "log shipper", "no fluent-bit pod on the node; unknown start: window start"]
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


# Real shapes: the kubelet's Killing Event and the DaemonSet controller's SuccessfulDelete Event
# as `kubectl get events -o json` lists them, and the audit log's delete of the pod by the
# daemon-set-controller, as the falco-disabled incident has them (names and times changed).
def _killing(pod: str, node: str, minutes: float) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "count": 1,
        "eventTime": None,
        "firstTimestamp": _at(minutes),
        "lastTimestamp": _at(minutes),
        "involvedObject": {
            "apiVersion": "v1",
            "fieldPath": "spec.containers{falco}",
            "kind": "Pod",
            "name": pod,
            "namespace": "monitoring",
            "uid": f"uid-{pod}",
        },
        "message": "Stopping container falco",
        "metadata": {"name": f"{pod}.1805409ed67a5580", "namespace": "monitoring", "uid": "e1"},
        "reason": "Killing",
        "reportingComponent": "kubelet",
        "reportingInstance": node,
        "source": {"component": "kubelet", "host": node},
        "type": "Normal",
    }


def _successful_delete(pod: str, minutes: float) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "count": 1,
        "eventTime": None,
        "firstTimestamp": _at(minutes),
        "lastTimestamp": _at(minutes),
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "name": "falco",
            "namespace": "monitoring",
            "uid": "uid-ds-falco",
        },
        "message": f"Deleted pod: {pod}",
        "metadata": {"name": "falco.1805409eafaa8cae", "namespace": "monitoring", "uid": "e2"},
        "reason": "SuccessfulDelete",
        "reportingComponent": "daemonset-controller",
        "reportingInstance": "",
        "source": {"component": "daemonset-controller"},
        "type": "Normal",
    }


def _audit(verb: str, uri: str, resource: str, name: str, minutes: float, **extra) -> str:
    import json

    at = (T0 + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": f"id-{verb}-{name}-{minutes}",
            "stage": "ResponseComplete",
            "requestURI": uri,
            "verb": verb,
            "user": {"username": "system:serviceaccount:kube-system:daemon-set-controller"},
            "sourceIPs": ["10.0.1.5"],
            "objectRef": {"resource": resource, "namespace": "monitoring", "name": name, **extra},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": at,
            "stageTimestamp": at,
        }
    )


def _events(objects: list[dict], audit_lines: list[str] = ()) -> pd.DataFrame:
    from obskit.sources.audit import parse_audit_log

    frames = [objects_to_frames(objects).events] if objects else []
    if audit_lines:
        frames.append(parse_audit_log("\n".join(audit_lines).encode() + b"\n").events)
    return pd.concat(frames, ignore_index=True)


def _blinded_a() -> pd.DataFrame:
    # node-a's Falco pod is gone from the inventory (taken at the window's end): deleted inside
    return _cluster()


def test_a_gap_the_inventory_cannot_date_is_dated_from_the_deletion_events():
    inventory = _blinded_a()
    alone = coverage_gaps(inventory, window=WINDOW)
    assert alone[["node", "start", "reason"]].values.tolist() == [
        ["node-a", T0, "no falco pod on the node; unknown start: window start"]
    ]
    delete_uri = "/api/v1/namespaces/monitoring/pods/falco-a9"
    events = _events(
        [_killing("falco-a9", "node-a", 38), _successful_delete("falco-a9", 38)],
        [_audit("delete", delete_uri, "pods", "falco-a9", 38.1)],
    )
    gaps = coverage_gaps(inventory, window=WINDOW, events=events)
    assert gaps[["node", "start", "end"]].values.tolist() == [
        ["node-a", T0 + pd.Timedelta("38min"), WINDOW[1]]
    ]
    assert gaps["reason"].iloc[0] == (
        "falco pod falco-a9 deleted at 19:38:00 (from the DaemonSet controller's "
        "SuccessfulDelete Event, the kubelet's Killing Event, the audit log's delete)"
    )
    table = coverage(inventory, events, window=WINDOW).set_index(["node", "name"])
    assert table.loc[("node-a", "falco"), "gap"] == pd.Timedelta("82min")
    # the audit log's delete alone is tied to the node by nothing: the Killing Event alone is
    only_audit = _events([], [_audit("delete", delete_uri, "pods", "falco-a9", 38.1)])
    assert coverage_gaps(inventory, window=WINDOW, events=only_audit)["start"].tolist() == [T0]
    only_kubelet = _events([_killing("falco-a9", "node-a", 41)])
    dated = coverage_gaps(inventory, window=WINDOW, events=only_kubelet).iloc[0]
    assert dated["start"] == T0 + pd.Timedelta("41min")
    assert dated["reason"].endswith("(from the kubelet's Killing Event)")
    # a Killing Event of node-b's pod does not date node-a's gap
    elsewhere = _events([_killing("falco-b1", "node-b", 50)])
    assert coverage_gaps(inventory, window=WINDOW, events=elsewhere)["start"].tolist() == [T0]


def test_with_no_deletion_seen_the_last_falco_alert_dates_the_gap():
    falco = schema.conform(
        "events",
        pd.DataFrame(
            {
                "timestamp": [T0 + pd.Timedelta("12min"), T0 + pd.Timedelta("25min")],
                "source": ["falco", "falco"],
                "node": ["node-a", "node-b"],
                "reason": ["Terminal shell in container"] * 2,
            }
        ),
    )
    gap = coverage_gaps(_blinded_a(), window=WINDOW, events=falco).iloc[0]
    assert (gap["node"], gap["start"]) == ("node-a", T0 + pd.Timedelta("12min"))
    assert gap["reason"] == (
        "no falco pod on the node; dated from the last falco alert from the node at 19:12:00"
    )


def _affinity_daemonset(terms: list[dict], desired: int = 1) -> dict:
    ds = _daemonset("falco", "docker.io/falcosecurity/falco-no-driver:0.37.1")
    ds["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    }
    ds["status"] = {"desiredNumberScheduled": desired, "numberReady": desired}
    return ds


def _not_on(node: str) -> list[dict]:
    return [
        {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": [node]}
            ]
        }
    ]


def _two_nodes(ds: dict) -> pd.DataFrame:
    return objects_to_frames(
        [
            _node("node-a"),
            _node("node-b", pool="gpu"),
            ds,
            _pod("falco-b1", "node-b", owner=("DaemonSet", "falco")),
            _pod("checkout-7d9f-x1", "node-a", namespace="shop"),
            _pod("checkout-7d9f-x2", "node-b", namespace="shop"),
        ]
    ).inventory


def test_a_node_the_affinity_left_out_before_the_window_is_not_a_gap():
    inventory = _two_nodes(_affinity_daemonset(_not_on("node-a")))
    # the audit log covers the window and shows no change to the DaemonSet: its own choice
    quiet = _events([], [_audit("get", "/api/v1/nodes/node-a", "nodes", "node-a", 5)])
    assert coverage_gaps(inventory, window=WINDOW, events=quiet).empty
    table = coverage(inventory, quiet, window=WINDOW)
    falco = table[(table["source"] == "daemonset") & (table["name"] == "falco")]
    assert falco[["node", "desired", "desired_by"]].values.tolist() == [
        ["node-b", 1, "affinity; status desires 1"]
    ]


def test_a_node_the_affinity_left_out_by_a_patch_in_the_window_is_a_gap():
    inventory = _two_nodes(_affinity_daemonset(_not_on("node-a")))
    patch = _audit(
        "patch",
        "/apis/apps/v1/namespaces/monitoring/daemonsets/falco?fieldManager=kubectl-patch",
        "daemonsets",
        "falco",
        30,
        apiGroup="apps",
    )
    events = _events([_killing("falco-a9", "node-a", 31)], [patch])
    gaps = coverage_gaps(inventory, window=WINDOW, events=events)
    assert gaps[["node", "start", "reason"]].values.tolist() == [
        [
            "node-a",
            T0 + pd.Timedelta("31min"),
            "excluded by the DaemonSet's affinity since 19:30:00; falco pod falco-a9 deleted at "
            "19:31:00 (from the kubelet's Killing Event)",
        ]
    ]
    table = coverage(inventory, events, window=WINDOW).set_index(["node", "name"])
    a = table.loc[("node-a", "falco")]
    assert (a["desired"], a["desired_by"], a["ready"]) == (
        0,
        "excluded by the DaemonSet's affinity; status desires 1",
        0,
    )
    # with no audit log to tell when, a security collector's excluded node is still shown
    blind = coverage_gaps(inventory, window=WINDOW)
    assert blind["reason"].tolist() == [
        "excluded by the DaemonSet's affinity since an unknown time; no falco pod on the node; "
        "unknown start: window start"
    ]


@pytest.mark.parametrize(
    ("expression", "wanted"),
    [
        ({"key": "pool", "operator": "In", "values": ["gpu"]}, {"node-b"}),
        ({"key": "pool", "operator": "NotIn", "values": ["gpu"]}, {"node-a"}),
        ({"key": "pool", "operator": "Exists"}, {"node-b"}),
        ({"key": "pool", "operator": "DoesNotExist"}, {"node-a"}),
        ({"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-a"]}, {"node-a"}),
    ],
)
def test_node_affinity_operators_decide_desired(expression, wanted):
    inventory = _two_nodes(_affinity_daemonset([{"matchExpressions": [expression]}]))
    table = coverage(inventory, window=WINDOW)
    falco = table[(table["source"] == "daemonset") & (table["name"] == "falco")]
    desired = set(falco.loc[falco["desired"] == 1, "node"])
    assert desired == wanted


def test_match_fields_and_a_status_that_disagrees():
    terms = [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-b"]}]},
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["none"]}]},
    ]
    inventory = _two_nodes(_affinity_daemonset(terms, desired=2))
    table = coverage(inventory, window=WINDOW)
    falco = table[(table["source"] == "daemonset") & (table["name"] == "falco")].set_index("node")
    assert falco.loc["node-b", "desired_by"] == "affinity; status desires 2, the nodes here 1"
