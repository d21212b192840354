"""The falco-disabled incident: Falco moved off one node by a stolen token, then a miner there.

What the analyses must find in it: the impair-defences detection on the DaemonSet patch, the
coverage gap on that node (and on no other), the stolen identity's RBAC reach, and the mining
pod, not its node, as the top suspect.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import obskit
from obskit.analysis.coverage import coverage_gaps
from obskit.analysis.posture import blast_radius

NAME = "falco-disabled"


@pytest.fixture(scope="module")
def inv():
    return obskit.datasets.load(NAME)


@pytest.fixture(scope="module")
def truth():
    return obskit.datasets.truth(NAME)


def _items(kind: str) -> list[dict]:
    path = obskit.datasets.path(NAME) / "inventory" / f"{kind}.json"
    return json.loads(path.read_text())["items"]


def test_the_daemonset_patch_is_the_impair_defences_detection(inv, truth):
    found = inv.detections()
    hit = found[found["rule"] == "audit.security-collector-impaired"]
    assert len(hit) == 1
    row = hit.iloc[0]
    assert row["user"] == truth["stolen_identity"] == "system:serviceaccount:ci:deployer"
    assert (row["namespace"], row["workload_kind"], row["workload"]) == (
        "monitoring",
        "DaemonSet",
        "falco",
    )
    assert row["message"].endswith("(falco pod template nodeAffinity changed)")
    assert (row["technique"], row["source_ip"]) == ("T1562.001", truth["attacker_ips"][0])
    assert row["timestamp"].floor("s") == pd.Timestamp(truth["fault_start"])
    # every planted detection is found at its time, on its pod
    for want in truth["expected_detections"]:
        rows = found[
            (found["rule"] == want["id"]) & (found["timestamp"].dt.floor("s") == want["time"])
        ]
        assert len(rows) == 1, want
        assert rows.iloc[0]["user"] == want["subject"]
        if want["pod"]:
            assert rows.iloc[0]["pod"] == want["pod"]


def test_the_daemonset_says_falco_left_one_node():
    falco = next(d for d in _items("daemonsets") if d["metadata"]["name"] == "falco")
    assert falco["spec"]["updateStrategy"] == {"type": "OnDelete"}
    terms = falco["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    (blind,) = terms[0]["matchExpressions"][0]["values"]
    assert blind == obskit.datasets.truth(NAME)["coverage_gap"]["node"]
    status = falco["status"]
    assert status["desiredNumberScheduled"] == status["numberReady"] == 3
    assert status["updatedNumberScheduled"] == 0  # OnDelete: the others kept the old template
    assert falco["metadata"]["generation"] == status["observedGeneration"] == 2
    falco_pods = [p for p in _items("pods") if p["metadata"]["name"].startswith("falco-")]
    assert blind not in {p["spec"]["nodeName"] for p in falco_pods}
    assert len(falco_pods) == 3


def test_coverage_shows_the_gap_on_that_node_only(inv, truth):
    gap = truth["coverage_gap"]
    gaps = inv.coverage_gaps(security_only=True)
    assert gaps["node"].tolist() == [gap["node"]]
    row = gaps.iloc[0]
    assert (row["collector"], row["name"]) == ("falco", "falco")
    # the inventory is the one at the window's end and no longer holds the deleted pod: the gap
    # is dated from the pod's deletion in the Events and the audit log (02:38:02, the delete;
    # the pod stopped within its grace period, by 02:38:05), not from the window's start
    truth_start = pd.Timestamp(gap["start"])
    assert truth_start - pd.Timedelta("5s") <= row["start"] <= truth_start
    assert row["start"] == pd.Timestamp("2024-11-06T02:38:02Z")
    assert row["end"] == pd.Timestamp(gap["end"])
    assert row["reason"] == (
        "excluded by the DaemonSet's affinity since 02:38:00; falco pod falco-p9f9q deleted at "
        "02:38:02 (from the DaemonSet controller's SuccessfulDelete Event, the kubelet's Killing "
        "Event, the audit log's delete); last falco alert from the node at 02:08:00"
    )
    # without the events the inventory alone cannot date it, and says so
    alone = coverage_gaps(inv.inventory, window=inv.time_span(), security_only=True)
    assert alone["start"].tolist() == [pd.Timestamp(truth["window"]["start"])]
    assert alone["reason"].tolist() == [
        "excluded by the DaemonSet's affinity since an unknown time; no falco pod on the node; "
        "unknown start: window start"
    ]
    table = inv.coverage()
    falco = table[(table["source"] == "daemonset") & (table["name"] == "falco")]
    assert falco.set_index("node")["ready"].to_dict() == {
        n: int(n != gap["node"]) for n in falco["node"]
    }
    # the patched affinity leaves the node out: not desired, said why, and still a gap
    desire = falco.set_index("node")[["desired", "desired_by", "gap"]]
    assert desire.loc[gap["node"]].tolist() == [
        0,
        "excluded by the DaemonSet's affinity; status desires 3",
        pd.Timestamp(gap["end"]) - row["start"],
    ]
    others = desire.drop(gap["node"])
    assert others["desired"].tolist() == [1, 1, 1]
    assert set(others["desired_by"]) == {"affinity; status desires 3"}
    # Falco alerts kept coming from the other nodes after the gap began, none from that node
    alerts = inv.events[inv.events["source"] == "falco"]
    after = alerts[alerts["timestamp"] > pd.Timestamp(gap["start"])]
    assert len(after) >= 3 and gap["node"] not in set(after["node"].astype(str))
    before = alerts[alerts["node"].astype(str) == gap["node"]]
    assert len(before) >= 1 and before["timestamp"].max() < pd.Timestamp(gap["start"])


def test_the_mining_pod_has_no_falco_alert_and_its_node_cpu_rises(inv, truth):
    pod, node = truth["root_cause"]["pod"], truth["root_cause"]["node"]
    events = inv.events
    assert not ((events["source"] == "falco") & (events["pod"] == pod)).any()
    cpu = inv.metrics[inv.metrics["metric"] == "node_cpu_seconds_total.rate5m"]
    cpu = cpu[cpu["node"] == node].set_index("timestamp")["value"]
    start = pd.Timestamp(truth["fault_start"])
    assert (
        cpu[cpu.index > start + pd.Timedelta("15min")].median()
        > 2.5 + cpu[cpu.index < start].median()
    )


def test_posture_and_blast_radius_name_the_stolen_identitys_reach(inv, truth):
    account = truth["stolen_identity"].removeprefix("system:serviceaccount:")
    assert account == "ci:deployer"
    found = inv.posture()
    rbac = found[found["object_name"] == account]
    assert {"rbac.create-pods", "rbac.exec"} <= set(rbac["control"])
    reached = blast_radius(inv.inventory, account)
    assert {"exec", "create-pods"} == set(reached["capability"])
    # a ClusterRoleBinding: every namespace that runs pods is in reach, the monitoring one too
    assert {"ci", "web", "api", "monitoring", "kube-system"} <= set(reached["namespace"])
    assert truth["root_cause"]["pod"] in set(reached["pod"])
    patch = inv.detections()
    patch = patch[patch["rule"] == "audit.security-collector-impaired"].iloc[0]
    assert patch["token_account"] == account
    assert "exec (*)" in patch["reach"] and "create-pods (*)" in patch["reach"]


def test_suspects_name_the_mining_pod_not_its_node(inv, truth):
    best = inv.suspects().iloc[0]
    rc = truth["root_cause"]
    assert (best["entity_kind"], best["namespace"], best["pod"]) == (
        "pod",
        rc["namespace"],
        rc["pod"],
    )
    assert "metric" in best["kinds"]
    with_detections = inv.with_detections().suspects()
    assert with_detections.iloc[0]["pod"] == rc["pod"]
