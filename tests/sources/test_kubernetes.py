"""Kubernetes objects and Events from kubectl output, and kubectl cluster-info dump."""

from __future__ import annotations

import pandas as pd

from obskit import schema
from obskit.sources import load_file
from obskit.sources.cluster_dump import parse_cluster_info_dump
from obskit.sources.kubernetes import parse_k8s_json

from ..conftest import DATA


def test_kubectl_list_splits_into_inventory_and_events():
    result, fmt = load_file(DATA / "k8s/kubectl-get-all.json")
    assert fmt == "k8s-json"
    assert result.records == 9
    assert len(result.inventory) == 6 and len(result.events) == 3
    schema.validate("inventory", result.inventory)
    schema.validate("events", result.events)


def test_inventory_fields():
    inv = load_file(DATA / "k8s/kubectl-get-all.json")[0].inventory.set_index("name")
    pod = inv.loc["checkout-7d9f8b6c4-x2x9z"]
    assert (pod["kind"], pod["node"], pod["pod"]) == ("Pod", "node-a", "checkout-7d9f8b6c4-x2x9z")
    assert (pod["owner_kind"], pod["owner_name"]) == ("ReplicaSet", "checkout-7d9f8b6c4")
    assert pod["containers"] == ["checkout"] and pod["restarts"] == 1
    assert pod["created"] == pd.Timestamp("2024-05-14T09:00:00Z")
    service = inv[inv["kind"] == "Service"].loc["checkout"]
    assert service["selector"] == {"app": "checkout"}
    deployment = inv[inv["kind"] == "Deployment"].loc["checkout"]
    assert deployment["selector"] == {"app": "checkout"}
    assert deployment["containers"] == ["checkout"]
    assert pd.isna(inv.loc["node-a", "namespace"]) and inv.loc["node-a", "node"] == "node-a"


def test_core_v1_event_fields():
    events = load_file(DATA / "k8s/kubectl-get-all.json")[0].events.set_index("reason")
    backoff = events.loc["BackOff"]
    assert backoff["severity"] == "warning" and backoff["count"] == 3
    assert backoff["timestamp"] == pd.Timestamp("2024-05-14T10:05:02Z")  # lastTimestamp
    assert backoff["first_timestamp"] == pd.Timestamp("2024-05-14T10:00:02Z")
    assert (backoff["pod"], backoff["container"], backoff["node"]) == (
        "checkout-7d9f8b6c4-x2x9z",
        "checkout",
        "node-a",
    )
    node_event = events.loc["NodeHasDiskPressure"]
    assert pd.isna(node_event["namespace"]) and node_event["node"] == "node-a"


def test_events_k8s_io_v1():
    events = load_file(DATA / "k8s/events-v1.json")[0].events
    row = events.iloc[0]
    assert row["message"].startswith("Liveness probe failed")
    assert row["count"] == 2 and row["reason"] == "Unhealthy"
    assert row["timestamp"] == pd.Timestamp("2024-05-14T10:03:00Z")
    assert row["container"] == "checkout"


def test_yaml_single_object_and_api_list_without_item_kinds():
    pod = load_file(DATA / "k8s/pod.yaml")[0].inventory
    assert pod["name"].tolist() == ["checkout-7d9f8b6c4-x2x9z"]
    assert pod["created"].iloc[0] == pd.Timestamp("2024-05-14T09:00:00Z")
    api = load_file(DATA / "k8s/podlist-api.json")[0].inventory
    assert api["kind"].tolist() == ["Pod"]


def test_truncated_json_is_one_reject_with_the_fix():
    data = (DATA / "k8s/kubectl-get-all.json").read_bytes()[:500]
    result = parse_k8s_json(data, "pods.json")
    assert result.records == 1 and result.rows == 0
    assert "re-export with kubectl get" in result.rejects["reason"].iloc[0]


def test_item_without_name_is_rejected_and_counted():
    data = (
        b'{"apiVersion":"v1","kind":"List","items":[{"kind":"Pod","metadata":{}},'
        b'{"kind":"Pod","metadata":{"name":"a","namespace":"x"}}]}'
    )
    result = parse_k8s_json(data)
    assert (result.records, result.rows, len(result.rejects)) == (2, 1, 1)
    assert result.rejects["reason"].iloc[0].startswith("items[0]")


def test_cluster_info_dump_logs_txt():
    result, fmt = load_file(DATA / "dump/shop/checkout-7d9f8b6c4-x2x9z/logs.txt")
    assert fmt == "cluster-info-dump"
    logs = result.logs
    assert logs["container"].tolist() == ["checkout", "checkout"]
    assert logs["timestamp"].iloc[0] == pd.Timestamp("2024-05-14T10:00:00.123Z")
    assert pd.isna(logs["timestamp"].iloc[1])
    assert "kubectl could not fetch" in result.rejects["reason"].iloc[0]
    assert any("no time" in n for n in result.notes)
    assert result.balanced()


def test_cluster_info_dump_stdout_with_lists_and_logs():
    lists = (DATA / "k8s/podlist-api.json").read_bytes()
    data = (
        b'{\n    "kind": "NodeList",\n    "apiVersion": "v1",\n    "items": [{"metadata": '
        b'{"name": "node-a"}}]\n}\n' + lists + b"\n"
        b"==== START logs for container report of pod ops/report-28599000-abcde ====\n"
        b"done\n==== END logs for container report of pod ops/report-28599000-abcde ====\n"
    )
    result = parse_cluster_info_dump(data)
    assert sorted(result.inventory["kind"]) == ["Node", "Pod"]
    assert result.logs["pod"].tolist() == ["report-28599000-abcde"]
    assert result.records == 3 and result.balanced()


def _event(i: int, message: bytes = b"ok") -> bytes:
    return (
        b'{"kind":"Event","apiVersion":"v1","metadata":{"name":"e%d","namespace":"shop"},'
        b'"involvedObject":{"kind":"Pod","name":"web-1","namespace":"shop"},"reason":"BackOff",'
        b'"message":"%s","type":"Warning","lastTimestamp":"2024-01-01T00:00:00Z","count":1}'
        % (i, message)
    )


def test_invalid_utf8_is_replaced_and_noted_not_a_crash():
    # a damaged copy: one Event's message holds bytes that are no UTF-8; short Lists go through
    # msgspec, long ones through Arrow's reader: both keep every Event
    for n in (10, 1500):
        items = [_event(i) for i in range(n)]
        items[3] = _event(3, b"bad \xff\xfe byte")
        data = b'{"kind":"List","apiVersion":"v1","items":[' + b",".join(items) + b"]}"
        r = parse_k8s_json(data, "events.json")
        assert r.balanced() and len(r.events) == n and r.rejects.empty
        assert r.events["message"].iloc[3] == "bad \ufffd\ufffd byte"
        at = data.index(b"\xff")
        assert r.notes == [f"invalid UTF-8 at byte {at} (and any after it) replaced by U+FFFD"]
