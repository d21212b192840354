"""``obskit.watch`` against a loopback Kubernetes API that lists and watches as the real one does.

No real Kubernetes API server can run here (it needs etcd and a control plane): the list and
watch streams are replayed by :mod:`tests.live.kube_replay`, byte for byte in the API server's
wire format (see its docstring), to the real ``kubernetes`` client.
"""

from __future__ import annotations

import re
import threading
import time

import pandas as pd
import pytest

import obskit
from obskit import schema
from obskit.live.collection import GAP
from tests.live.kube_replay import TOKEN, iso, new_pod, replayed_cluster
from tests.live.kube_replay import until as _until


@pytest.fixture
def cluster(tmp_path):
    with replayed_cluster(tmp_path) as (api, kube):
        yield api, kube


@pytest.fixture
def api(cluster):
    return cluster[0]


@pytest.fixture
def kube(cluster):
    return cluster[1]


def _listed(w) -> bool:
    """Every kube stream listed: one per inventory kind (nodes, pods, six owners, services,
    endpoint slices, seven posture kinds) and the events."""
    status = w.status()
    kube = status[status["source"] == "kubernetes"]
    return len(kube) == 18 and (kube["state"] == "ok").all()


def _changes(w, **match) -> pd.DataFrame:
    frame = w.changes()
    for column, value in match.items():
        frame = frame[frame[column] == value]
    return frame


def test_pods_added_modified_and_deleted_become_change_rows_and_inventory_history(api, kube):
    with obskit.watch(kubernetes=kube, every="0.2s", cluster="recorded") as w:
        _until(lambda: _listed(w))
        assert w.changes().empty  # the first list is the starting state, not a change
        api.put(new_pod("checkout-7d9f8b6c4-new01", "uid-new01"))
        _until(lambda: len(_changes(w, name="checkout-7d9f8b6c4-new01")) == 1)
        running = new_pod("checkout-7d9f8b6c4-new01", "uid-new01", phase="Running")
        api.put(running)
        _until(lambda: len(_changes(w, name="checkout-7d9f8b6c4-new01")) == 2)
        before_delete = pd.Timestamp.now(tz="UTC")
        api.delete("Pod", "uid-new01")
        _until(lambda: len(_changes(w, name="checkout-7d9f8b6c4-new01")) == 3)
        inv = w.investigation()
    rows = _changes(w, name="checkout-7d9f8b6c4-new01")
    assert rows["verb"].tolist() == ["added", "modified", "deleted"]
    added, modified, deleted = (rows.iloc[i] for i in range(3))
    # the key comes from the owner chain the watch holds: pod -> ReplicaSet -> Deployment
    assert (added["namespace"], added["workload_kind"], added["workload"], added["cluster"]) == (
        "shop",
        "Deployment",
        "checkout",
        "recorded",
    )
    assert added["node"] == "node-a" and added["owner"] == "ReplicaSet/checkout-7d9f8b6c4"
    assert modified["changed"] == "phase" and modified["phase"] == "Running"
    assert modified["before"] == "phase=Pending"
    assert deleted["phase"] == "Running"
    schema.validate("changes", w.changes())
    # the inventory keeps the deleted pod, with when its deletion was seen
    pods = inv.inventory[inv.inventory["kind"] == "Pod"].set_index("name")
    assert pd.notna(pods.loc["checkout-7d9f8b6c4-new01", "deleted"])
    assert pd.isna(pods.loc["checkout-7d9f8b6c4-x2x9z", "deleted"])
    tree_then = inv.hierarchy_frame(at=before_delete)
    tree_now = inv.hierarchy_frame(at=pd.Timestamp.now(tz="UTC"))
    assert "checkout-7d9f8b6c4-new01" in set(tree_then["pod"].dropna())
    assert "checkout-7d9f8b6c4-new01" not in set(tree_now["pod"].dropna())
    status = w.status().set_index("what")
    assert status.loc["pods", "state"] == "stopped"
    assert status.loc["pods", "changes"] == 3
    assert int(status.loc["pods", "resource_version"]) >= 103
    # every watch asked for bookmarks and resumed from a list's resourceVersion
    assert all(x["bookmarks"] == "true" and x["since"] >= 100 for x in api.watches)


def test_410_relists_and_records_what_vanished_as_seen_missing_without_duplicates(api, kube):
    api.put(new_pod("checkout-7d9f8b6c4-old01", "uid-old01", phase="Running"), record=False)
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        api.put(new_pod("checkout-7d9f8b6c4-seen1", "uid-seen1"))  # seen by the watch
        _until(lambda: len(w.changes()) == 1)
        # while the watch is away: one pod deleted, one changed, one created; then the API
        # server compacts its history, so the watch gets "410 too old resource version"
        api.delete("Pod", "uid-old01", record=False)
        api.put(new_pod("checkout-7d9f8b6c4-seen1", "uid-seen1", phase="Failed"), record=False)
        api.put(new_pod("checkout-7d9f8b6c4-new02", "uid-new02"), record=False)
        api.compact()
        _until(lambda: len(w.changes()) == 4)
        time.sleep(1.0)  # more bookmarks and reconnects: nothing may be recorded twice
        status = w.status().set_index("what")
    changes = w.changes().set_index("name")
    assert len(changes) == 4
    assert changes.loc["checkout-7d9f8b6c4-old01", "verb"] == "seen-missing"
    assert changes.loc["checkout-7d9f8b6c4-new02", "verb"] == "added"
    seen1 = _changes(w, name="checkout-7d9f8b6c4-seen1")
    assert seen1["verb"].tolist() == ["added", "modified"]
    assert seen1.iloc[1]["before"] == "phase=Pending"
    assert status.loc["pods", "relists"] == 1
    assert status.loc["nodes", "relists"] == 1  # every stream was compacted away
    # an object gone before the relist keeps its row, marked with when its absence was seen
    inv = w.investigation()
    old = inv.inventory.set_index("name").loc["checkout-7d9f8b6c4-old01"]
    assert pd.notna(old["deleted"])


def test_a_connection_cut_mid_line_resumes_after_the_last_complete_line(api, kube):
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        api.faults["/api/v1/pods"] = ["cut"]
        api.put(new_pod("checkout-7d9f8b6c4-cut01", "uid-cut01"))
        api.put(new_pod("checkout-7d9f8b6c4-cut01", "uid-cut01", phase="Running"))
        _until(lambda: len(w.changes()) == 2)
        time.sleep(0.5)
        status = w.status().set_index("what")
    assert w.changes()["verb"].tolist() == ["added", "modified"]
    assert status.loc["pods", "errors"] >= 1  # the cut was seen, and said
    assert "the connection was cut" in status.loc["pods", "last_error"]
    assert status.loc["pods", "relists"] == 0  # resumed from the resourceVersion, no relist


def test_a_kind_the_credentials_may_not_list_is_a_coverage_gap_and_the_rest_goes_on(api, kube):
    api.faults["/apis/discovery.k8s.io/v1/endpointslices"] = ["403"]
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: (w.status()["state"] == "ok").sum() == 17)
        api.put(new_pod("checkout-7d9f8b6c4-new03", "uid-new03"))
        _until(lambda: len(w.changes()) == 1)
        inv = w.investigation()
    status = w.status().set_index("what")
    assert status.loc["endpointslices", "state"] == "forbidden"
    assert "HTTP 403" in status.loc["endpointslices", "last_error"]
    gaps = [n for n in inv.notes if n.startswith(GAP)]
    assert len(gaps) == 1 and "endpointslices" in gaps[0] and "RBAC" in gaps[0]
    assert TOKEN not in " ".join(inv.notes)


def test_events_are_watched_into_the_events_frame(api, kube):
    event = {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "checkout.17d1", "namespace": "shop", "uid": "ev-1"},
        "eventTime": None,
        "reason": "BackOff",
        "note": "Back-off restarting failed container",
        "type": "Warning",
        "regarding": {"kind": "Pod", "namespace": "shop", "name": "checkout-7d9f8b6c4-x2x9z"},
        "deprecatedFirstTimestamp": iso(pd.Timestamp.now(tz="UTC") - pd.Timedelta("1min")),
        "deprecatedLastTimestamp": iso(pd.Timestamp.now(tz="UTC")),
        "deprecatedCount": 3,
    }
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        api.put(event)
        _until(lambda: len(w.investigation().events) == 1)
        inv = w.investigation()
    # the recorded Events are from 2024: older than keep, dropped and counted
    assert w.status().set_index("what").loc["events", "dropped"] == 3
    row = inv.events.iloc[0]
    assert (row["reason"], row["pod"], row["workload"]) == (
        "BackOff",
        "checkout-7d9f8b6c4-x2x9z",
        "checkout",
    )
    assert w.changes().empty  # Events are signals, not object changes


def test_save_writes_a_bundle_with_the_change_log(api, kube, tmp_path):
    with obskit.watch(kubernetes=kube, every="0.2s", cluster="recorded") as w:
        _until(lambda: _listed(w))
        api.put(new_pod("checkout-7d9f8b6c4-new04", "uid-new04"))
        _until(lambda: len(w.changes()) == 1)
    folder = w.save(tmp_path / "bundle")
    back = obskit.load(folder)
    pd.testing.assert_frame_equal(back.changes, w.changes())
    assert back.cluster == "recorded"
    assert "checkout-7d9f8b6c4-new04" in set(back.inventory["name"])
    assert back.focus(pod="checkout-7d9f8b6c4-new04").changes["verb"].tolist() == ["added"]


def test_cli_watch_prints_changes_as_they_come_and_writes_the_bundle(
    api, kube, tmp_path, monkeypatch, capsys
):
    from obskit.cli import main

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    hostile = "checkout-7d9f8b6c4-\x1b]0;pwned\x07"  # a name that would set the window title

    def change_the_cluster() -> None:
        _until(lambda: any(w["path"] == "/api/v1/pods" for w in api.watches))  # listed
        api.put(new_pod("checkout-7d9f8b6c4-cli01", "uid-cli01"))
        api.put(new_pod("checkout-7d9f8b6c4-cli01", "uid-cli01", phase="Running"))
        api.put(new_pod(hostile, "uid-cli02"))

    changer = threading.Thread(target=change_the_cluster)
    changer.start()
    code = main(
        [
            "watch",
            "--kubernetes",
            "--duration",
            "4s",
            "--every",
            "0.5s",
            "--bundle",
            str(tmp_path / "b"),
        ]
    )
    changer.join()
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if "cli01" in line]
    assert "added" in lines[0] and "shop/checkout-7d9f8b6c4-cli01" in lines[0]
    assert "modified" in lines[1] and "phase: Pending -> Running" in lines[1]
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned\\x07" in out
    assert re.search(r"Listed \d+ objects; watching for changes.", out)
    assert "Every 0.5s, keeping 2h of signals" in out
    assert "3 changes seen" in out
    assert TOKEN not in out
    back = obskit.load(tmp_path / "b")
    assert back.changes["name"].tolist()[:2] == ["checkout-7d9f8b6c4-cli01"] * 2


def test_loki_continues_from_the_last_line_without_losing_or_doubling_the_edge():
    from obskit.live import Loki
    from tests.live.conftest import loopback as serve
    from tests.live.test_loki import WEB1, WEB2, FakeLoki

    t0 = pd.Timestamp.now(tz="UTC").value - 2_000_000_000
    data = [(WEB1 if i % 2 else WEB2, t0 + i * 1_000_000, f"msg=tick n={i}") for i in range(20)]
    fake = FakeLoki(data)
    with (
        serve(fake.handle) as server,
        obskit.watch(loki=Loki(server.url), every="0.3s", backfill="1min") as w,
    ):
        _until(lambda: len(w.investigation().logs) == 20)
        edge = t0 + 19 * 1_000_000  # the last nanosecond kept: more lines arrive at it
        data.append((WEB1, edge, "msg=late at the edge"))
        data.append((WEB2, pd.Timestamp.now(tz="UTC").value, "msg=new"))
        _until(lambda: len(w.investigation().logs) == 22)
        w.wait(ticks=3, timeout=10)  # ticks that read the edge again
        logs = w.investigation().logs
    assert len(logs) == 22
    assert not logs.duplicated(["timestamp", "pod", "message"]).any()
    assert {"msg=late at the edge", "msg=new"} <= set(logs["message"])
    assert logs["timestamp"].is_monotonic_increasing
    assert len(fake.calls) >= 5  # each tick asked only from the last line on
    assert all(int(c["start"]) >= edge for c in fake.calls[-3:])


def test_each_snapshot_inventory_is_the_whole_state_though_only_changed_rows_are_made(api, kube):
    from obskit.sources._base import Rejects
    from obskit.sources.kubernetes import _frames

    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        first = w.investigation().inventory
        for i in range(5):
            api.put(new_pod(f"checkout-7d9f8b6c4-inc{i}", f"uid-inc{i}"))
        api.delete("Pod", "uid-inc0")
        api.put(new_pod("checkout-7d9f8b6c4-inc1", "uid-inc1", phase="Running"))
        _until(lambda: len(w.changes()) == 7)
        second = w.investigation().inventory
        whole = _frames(
            len(w._objects), Rejects("k8s-json", "x"), list(w._objects.values()), [], "x"
        )
    columns = ["kind", "name", "uid", "phase", "deleted", "node", "workload"]
    by_uid = second.set_index("uid").sort_index()
    assert len(second) == len(first) + 5 and second["uid"].is_unique
    assert (
        pd.notna(by_uid.loc["uid-inc0", "deleted"]) and by_uid.loc["uid-inc1", "phase"] == "Running"
    )
    expected = whole.inventory.set_index("uid").sort_index()
    pd.testing.assert_frame_equal(
        by_uid[[c for c in columns if c in expected and c != "uid" and c != "workload"]],
        expected[[c for c in columns if c in expected and c != "uid" and c != "workload"]],
        check_categorical=False,
    )


def test_rbac_created_while_watching_shows_in_the_snapshots_posture(api, kube):
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "oops-admin", "uid": "uid-crb-oops"},
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "checkout", "namespace": "shop"}],
    }
    with obskit.watch(kubernetes=kube, every="0.2s", cluster="recorded") as w:
        _until(lambda: _listed(w))
        assert "rbac.cluster-admin" not in set(w.investigation().posture()["control"])
        api.put(binding)
        _until(lambda: len(_changes(w, name="oops-admin")) == 1)
        found = w.investigation().posture()
    admin = found[found["control"] == "rbac.cluster-admin"]
    assert admin["object_name"].tolist() == ["shop:checkout"]
    assert _changes(w, name="oops-admin")["kind"].tolist() == ["ClusterRoleBinding"]


def test_cli_watch_writes_the_bundle_on_ctrl_c(api, kube, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig")}
    command = [sys.executable, "-m", "obskit.cli", "watch", "--kubernetes", "--every", "0.5s"]
    process = subprocess.Popen(
        [*command, "--bundle", str(tmp_path / "b")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stdout:  # wait until it has listed the cluster
            if "watching for changes" in line:
                break
        api.put(new_pod("checkout-7d9f8b6c4-int01", "uid-int01"))
        _until(lambda: any(w["path"] == "/api/v1/pods" for w in api.watches))
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)  # a loaded machine stops it slowly
    finally:
        process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "Stopping." in out and "Saved what was seen" in out
    back = obskit.load(tmp_path / "b")
    assert "checkout-7d9f8b6c4-int01" in set(back.changes["name"])
