"""The Investigation: loading, enrichment onto one key, window, focus, summary."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import obskit
from obskit import schema

from .conftest import DATA

POD = "checkout-7d9f8b6c4-x2x9z"


@pytest.fixture
def inv():
    return obskit.load([DATA / "k8s", DATA / "cri", DATA / "dump"], cluster="demo")


def test_every_frame_matches_the_schema(inv):
    for name in ("metrics", "events", "logs", "inventory"):
        schema.validate(name, getattr(inv, name))
    schema.validate("rejects", inv.rejects)


def test_ledger_balances_for_every_loaded_file(inv):
    loaded = inv.files[inv.files["status"] == "loaded"]
    assert loaded["balanced"].all()
    assert (loaded["records"] == loaded["rows"] + loaded["rejects"] + loaded["merged"]).all()
    assert loaded["rejects"].sum() == len(inv.rejects)


def test_logs_get_node_and_workload_from_the_inventory(inv):
    logs = inv.logs[inv.logs["pod"] == POD]
    assert set(logs["node"]) == {"node-a"}
    assert set(logs["workload_kind"]) == {"Deployment"}
    assert set(logs["workload"]) == {"checkout"}
    assert set(logs["cluster"]) == {"demo"}
    assert set(logs["key_source"]) == {"inventory"}


def test_events_about_a_replicaset_are_keyed_to_its_deployment(inv):
    created = inv.events[inv.events["reason"] == "SuccessfulCreate"].iloc[0]
    assert (created["workload_kind"], created["workload"]) == ("Deployment", "checkout")


def test_owner_chains_and_naming_conventions(inv):
    inventory = inv.inventory.set_index("name")
    assert inventory.loc[POD, "workload"] == "checkout"
    # the Job is not in the inventory: its name says which CronJob made it, and the key says so
    job_pod = inventory.loc["report-28599000-abcde"]
    assert (job_pod["workload_kind"], job_pod["workload"]) == ("CronJob", "report")
    assert job_pod["key_source"] == "name-convention"


def test_pod_missing_from_inventory_gets_workload_by_convention_and_says_so():
    logs = pd.DataFrame(
        {
            "timestamp": ["2024-01-01T00:00:00Z"],
            "namespace": ["shop"],
            "pod": ["cart-5f7d8c9b6d-q2w4x"],
            "message": ["hi"],
        }
    )
    inv = obskit.Investigation(logs=logs)
    row = inv.logs.iloc[0]
    assert (row["workload_kind"], row["workload"]) == ("Deployment", "cart")
    # the node stays unknown, so the key is incomplete and says so
    assert row["key_source"] == "incomplete"


def test_unnamed_pods_are_not_guessed():
    logs = pd.DataFrame(
        {
            "timestamp": ["2024-01-01T00:00:00Z"],
            "namespace": ["shop"],
            "pod": ["redis-0"],
            "message": ["hi"],
        }
    )
    row = obskit.Investigation(logs=logs).logs.iloc[0]
    assert pd.isna(row["workload"]) and row["key_source"] == "incomplete"


def test_window_filters_every_signal_and_the_inventory(inv):
    w = inv.window("2024-05-14T10:00:01Z", "2024-05-14T10:00:03.5Z")
    assert (
        w.logs["timestamp"]
        .between(pd.Timestamp("2024-05-14T10:00:01Z"), pd.Timestamp("2024-05-14T10:00:03.5Z"))
        .all()
    )
    assert len(w.logs) == 5
    assert w.events.empty
    assert (w.start, w.end) == (
        pd.Timestamp("2024-05-14T10:00:01Z"),
        pd.Timestamp("2024-05-14T10:00:03.5Z"),
    )
    assert len(w.inventory) == len(inv.inventory)  # nothing was deleted


def test_window_takes_offsets_and_naive_times_as_utc(inv):
    a = inv.window("2024-05-14T12:00:01+02:00", "2024-05-14T10:00:03.5")
    b = inv.window("2024-05-14T10:00:01Z", "2024-05-14T10:00:03.5Z")
    assert a.logs.equals(b.logs)


def test_window_rejects_reversed_bounds(inv):
    with pytest.raises(obskit.InvestigationError, match="after its end"):
        inv.window("2024-05-14T11:00Z", "2024-05-14T10:00Z")


def test_focus_on_workload_and_node(inv):
    f = inv.focus(namespace="shop", workload="checkout")
    assert set(f.logs["workload"]) == {"checkout"} and len(f.logs) == len(inv.logs)
    assert set(f.inventory["kind"]) == {"Deployment", "ReplicaSet", "Pod"}
    n = inv.focus(node="node-a")
    assert "NodeHasDiskPressure" in set(n.events["reason"])
    assert set(n.inventory["name"]) == {"node-a", POD}


def test_focus_on_a_suspect_or_detection_row():
    inv = obskit.datasets.load("cryptominer")
    suspects = inv.suspects()
    top = suspects.iloc[0]
    by_row = inv.focus(top)
    kind = top["entity_kind"]
    columns = {
        "pod": ["namespace", "pod"],
        "workload": ["namespace", "workload"],
        "node": ["node"],
        "container": ["namespace", "pod", "container"],
    }[kind]
    by_columns = inv.focus(**{c: str(top[c]) for c in columns})
    assert len(by_row.logs) == len(by_columns.logs) > 0
    assert len(by_row.metrics) == len(by_columns.metrics)
    # a pod row also names its node, but a pod's rows whose node is unknown still count
    detection = inv.detections().dropna(subset=["pod"]).iloc[0]
    pod = inv.focus(detection)
    assert set(pod.events["pod"].dropna().astype(str)) == {detection["pod"]}
    assert len(pod.events) == len(
        inv.focus(namespace=detection["namespace"], pod=detection["pod"]).events
    )
    with pytest.raises(obskit.InvestigationError, match="names no entity"):
        inv.focus({"rank": 1, "score": 3.0})
    with pytest.raises(obskit.InvestigationError, match="not both"):
        inv.focus(top, pod="x")


def test_focus_unknown_value_suggests_close_names(inv):
    with pytest.raises(obskit.InvestigationError, match="did you mean 'checkout'"):
        inv.focus(workload="chekout")


def test_summary_counts_rows_and_coverage(inv):
    summary = inv.summary()
    assert summary.loc["logs", "rows"] == len(inv.logs)
    assert summary.loc["logs", "pod"] == 1.0
    assert summary.loc["rejects", "rows"] == len(inv.rejects) == 4


def test_folder_skips_unknown_files_but_a_named_one_raises(tmp_path):
    shutil.copytree(DATA / "cri", tmp_path / "cri")
    (tmp_path / "notes.md").write_text("# not telemetry\n")
    inv = obskit.load(tmp_path)
    skipped = inv.skipped()["origin"].map(lambda p: p.rsplit("/", 1)[-1]).tolist()
    assert sorted(skipped) == ["SOURCES.md", "notes.md"]
    with pytest.raises(obskit.UnknownFormatError, match=r"notes\.md.*the formats are"):
        obskit.load(tmp_path / "notes.md")


def test_manifest_names_the_cluster(tmp_path):
    shutil.copytree(DATA / "cri", tmp_path / "cri")
    (tmp_path / "obskit.json").write_text(json.dumps({"cluster": "prod-eu"}))
    inv = obskit.load(tmp_path)
    assert set(inv.logs["cluster"]) == {"prod-eu"}
    assert obskit.load(tmp_path, cluster="other").logs["cluster"].iloc[0] == "other"


def test_glob_and_list_inputs():
    pattern = str(DATA / "cri/**/*.log")
    assert len(obskit.load(pattern).logs) == 10
    with pytest.raises(obskit.SourceError, match="matches no file"):
        obskit.load(str(DATA / "nothing/*.log"))
    with pytest.raises(obskit.SourceError, match="does not exist"):
        obskit.load(DATA / "missing.log")


def test_investigation_from_user_frames_validates_and_enriches():
    inventory = pd.DataFrame(
        [{"kind": "Pod", "namespace": "shop", "name": "web-1", "node": "node-1"}]
    )
    metrics = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-01T00:00:00Z"], utc=True),
            "metric": ["cpu"],
            "value": [0.5],
            "namespace": ["shop"],
            "pod": ["web-1"],
        }
    )
    inv = obskit.Investigation(metrics=metrics, inventory=inventory, cluster="c1")
    row = inv.metrics.iloc[0]
    assert (row["node"], row["workload_kind"], row["workload"], row["cluster"]) == (
        "node-1",
        "Pod",
        "web-1",
        "c1",
    )
    schema.validate("metrics", inv.metrics)


def test_user_frame_with_naive_times_gets_a_clear_error():
    metrics = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01"]), "value": [1.0]})
    with pytest.raises(obskit.SchemaError, match=r"naive timestamps.*tz_localize"):
        obskit.Investigation(metrics=metrics)


def test_user_frame_with_wrong_type_gets_a_clear_error():
    with pytest.raises(obskit.InvestigationError, match="logs must be a pandas DataFrame"):
        obskit.Investigation(logs=[{"message": "x"}])


def test_repr_is_short_and_informative(inv):
    text = repr(inv)
    assert text.startswith("<Investigation cluster='demo' 2024-05-14")
    assert "log lines" in text and "rejects" in text


def test_deleted_pod_gets_node_from_other_signals_and_workload_from_its_replicaset():
    inventory = pd.DataFrame(
        [
            {"kind": "Deployment", "namespace": "shop", "name": "web", "uid": "d"},
            {
                "kind": "ReplicaSet",
                "namespace": "shop",
                "name": "web-5d8f6c7b9",
                "uid": "r",
                "owner_kind": "Deployment",
                "owner_name": "web",
                "owner_uid": "d",
            },
        ]
    )
    events = pd.DataFrame(
        {
            "timestamp": ["2024-01-01T00:00:00Z"],
            "reason": ["Scheduled"],
            "object_kind": ["Pod"],
            "object_name": ["web-5d8f6c7b9-x2x9z"],
            "namespace": ["shop"],
            "pod": ["web-5d8f6c7b9-x2x9z"],
            "message": ["Successfully assigned shop/web-5d8f6c7b9-x2x9z to node-b"],
        }
    )
    logs = pd.DataFrame(
        {
            "timestamp": ["2024-01-01T00:01:00Z"],
            "namespace": ["shop"],
            "pod": ["web-5d8f6c7b9-x2x9z"],
            "message": ["hi"],
        }
    )
    inv = obskit.Investigation(events=events, logs=logs, inventory=inventory)
    row = inv.logs.iloc[0]
    assert (row["node"], row["workload_kind"], row["workload"]) == ("node-b", "Deployment", "web")
    assert row["key_source"] == "signals"


def test_cronjob_pod_is_not_mistaken_for_a_deployment_pod():
    logs = pd.DataFrame(
        {
            "timestamp": ["2024-01-01T00:00:00Z"],
            "namespace": ["batch"],
            "pod": ["report-28594605-tbzjl"],
            "message": ["done"],
        }
    )
    row = obskit.Investigation(logs=logs).logs.iloc[0]
    assert (row["workload_kind"], row["workload"]) == ("CronJob", "report")


def test_a_load_over_the_memory_budget_is_refused_at_once_with_the_way_out():
    with pytest.raises(obskit.InvestigationError, match=r"more than the budget .*memory_budget"):
        obskit.load(DATA / "cri", memory_budget=1000)
    with pytest.raises(obskit.InvestigationError, match="memory_budget must be"):
        obskit.load(DATA / "cri", memory_budget="lots")
    assert len(obskit.load(DATA / "cri", memory_budget=None).logs) == 10
