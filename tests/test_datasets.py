"""Bundled incidents: presence, ground truth, counts, determinism, and the loader's rejects."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

import obskit
import obskit.datasets
from obskit.datasets import generate
from obskit.errors import DatasetNotFoundError

NAMES = ["bad-rollout", "checkout-oom", "cryptominer", "falco-disabled", "node-pressure"]
ROOT_FIELDS = ["namespace", "workload_kind", "workload", "pod", "container", "node"]
WORKLOAD_FILES = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _items(folder: Path, kind: str) -> list[dict]:
    return json.loads((folder / "inventory" / f"{kind}.json").read_text())["items"]


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def test_names_lists_the_five_incidents():
    assert obskit.datasets.names() == NAMES


def test_unknown_name_lists_valid_names():
    with pytest.raises(
        DatasetNotFoundError,
        match=r"'nope'.*bad-rollout, checkout-oom, cryptominer, falco-disabled, node-pressure",
    ):
        obskit.datasets.path("nope")
    with pytest.raises(KeyError):
        obskit.datasets.truth("nope")


@pytest.mark.parametrize("name", NAMES)
def test_truth_has_required_keys(name):
    t = obskit.datasets.truth(name)
    for key in (
        "root_cause",
        "level",
        "fault_start",
        "window",
        "category",
        "description",
        "expected_detections",
        "files",
    ):
        assert key in t, key
    assert set(t["root_cause"]) == set(ROOT_FIELDS)
    assert t["level"] in ("container", "pod", "workload", "node")
    assert t["window"]["start"] < t["fault_start"] < t["window"]["end"]
    assert (
        json.loads((obskit.datasets.path(name) / "obskit.json").read_text())["cluster"]
        == t["cluster"]
    )
    assert bool(t["expected_detections"]) == (name in ("cryptominer", "falco-disabled"))
    for entry in t["expected_detections"]:
        assert set(entry) == {"id", "subject", "pod", "time"}
        assert t["window"]["start"] <= entry["time"] <= t["window"]["end"]
    # every file is listed, and every listed file exists
    listed = set(t["files"])
    present = {
        k for k in _files(obskit.datasets.path(name)) if k not in ("truth.json", "obskit.json")
    }
    assert listed == present
    assert sum(e["malformed"] for e in t["files"].values()) >= 1


@pytest.mark.parametrize("name", NAMES)
def test_root_cause_exists_in_inventory_and_in_two_signals(name):
    folder = obskit.datasets.path(name)
    rc = obskit.datasets.truth(name)["root_cause"]
    if rc["namespace"]:
        assert rc["namespace"] in {o["metadata"]["name"] for o in _items(folder, "namespaces")}
    if rc["node"]:
        assert rc["node"] in {o["metadata"]["name"] for o in _items(folder, "nodes")}
    if rc["workload"]:
        objs = _items(folder, WORKLOAD_FILES[rc["workload_kind"]])
        assert (rc["namespace"], rc["workload"]) in {
            (o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs
        }
    pods = {o["metadata"]["name"]: o for o in _items(folder, "pods")}
    if rc["pod"]:
        pod = pods[rc["pod"]]
        assert pod["metadata"]["namespace"] == rc["namespace"]
        if rc["node"]:
            assert pod["spec"]["nodeName"] == rc["node"]
        if rc["container"]:
            assert rc["container"] in {c["name"] for c in pod["spec"]["containers"]}

    # the most specific entity must show up in at least two kinds of signal
    if rc["pod"]:
        needle, log_needle = f'"{rc["pod"]}"', f"_{rc['pod']}_"
    elif rc["workload"]:
        needle, log_needle = f'"{rc["workload"]}', f"{rc['namespace']}_{rc['workload']}-"
    else:
        needle, log_needle = f'"{rc["node"]}"', None
    kinds = set()
    for rel, path in _files(folder).items():
        top = rel.split("/")[0]
        if top in ("inventory", "truth.json", "obskit.json") or top in kinds:
            continue
        if top == "logs":
            if log_needle and log_needle in rel:
                kinds.add(top)
        elif needle in _read(path).decode("utf-8", "replace"):
            kinds.add(top)
    assert len(kinds) >= 2, kinds


def _count(path: Path, fmt: str) -> dict:
    data = _read(path)
    if fmt == "k8s-json":
        return {"records": len(json.loads(data)["items"])}
    if fmt == "prometheus-json":
        result = json.loads(data)["data"]["result"]
        return {"records": sum(len(s["values"]) for s in result), "series": len(result)}
    lines = [ln for ln in data.split(b"\n") if ln.strip()]
    out = {"records": len(lines)}
    if fmt == "cri-log":
        out["partial"] = sum(1 for ln in lines if ln.split(b" ", 3)[2:3] == [b"P"])
    return out


@pytest.mark.parametrize("name", NAMES)
def test_record_counts_match_files(name):
    folder = obskit.datasets.path(name)
    for rel, entry in obskit.datasets.truth(name)["files"].items():
        counted = _count(folder / rel, entry["format"])
        for key, value in counted.items():
            assert entry[key] == value, (rel, key)
        assert 0 <= entry["malformed"] <= entry["records"]


def test_formats_include_real_world_quirks():
    folder = obskit.datasets.path("checkout-oom")
    files = obskit.datasets.truth("checkout-oom")["files"]
    assert any(e.get("partial") for e in files.values())
    assert any(e.get("non_utf8") for e in files.values())
    assert any(rel.endswith(".log.gz") or ".log." in rel for rel in files)  # a rotated log
    assert any(
        '"NaN"' in _read(folder / rel).decode() for rel in files if rel.startswith("metrics/")
    )
    statuses = [c for p in _items(folder, "pods") for c in p["status"].get("containerStatuses", [])]
    assert any(c["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" for c in statuses)
    assert any(c["lastState"].get("terminated", {}).get("reason") == "OOMKilled" for c in statuses)


def test_bad_rollout_keeps_old_replicaset_scaled_to_zero():
    folder = obskit.datasets.path("bad-rollout")
    rollout = obskit.datasets.truth("bad-rollout")["rollout"]
    rs = {o["metadata"]["name"]: o for o in _items(folder, "replicasets")}
    assert rs[rollout["old_replicaset"]]["spec"]["replicas"] == 0
    assert rs[rollout["new_replicaset"]]["spec"]["replicas"] == 4
    pods = {o["metadata"]["name"] for o in _items(folder, "pods")}
    assert not pods & set(rollout["old_pods"])
    assert set(rollout["new_pods"]) <= pods


def test_node_pressure_evicted_pods_stay_failed():
    folder = obskit.datasets.path("node-pressure")
    evicted = obskit.datasets.truth("node-pressure")["evicted_pods"]
    pods = {o["metadata"]["name"]: o for o in _items(folder, "pods")}
    assert (
        len({pods[p]["metadata"]["ownerReferences"][0]["name"].rsplit("-", 1)[0] for p in evicted})
        >= 2
    )
    for p in evicted:
        assert (pods[p]["status"]["phase"], pods[p]["status"]["reason"]) == ("Failed", "Evicted")


def _digests(folder: Path) -> dict[str, str]:
    # .gz members are compared on their content so a different zlib build cannot fail the test
    return {rel: hashlib.sha256(_read(p)).hexdigest() for rel, p in _files(folder).items()}


def test_regenerating_with_the_committed_seed_is_byte_identical(tmp_path):
    generate.write(tmp_path, seed=generate.DEFAULT_SEED, scale=1.0)
    for name in NAMES:
        committed = obskit.datasets.path(name)
        assert _digests(tmp_path / name) == _digests(committed), name
        for rel, p in _files(committed).items():
            if not rel.endswith(".gz"):
                assert (tmp_path / name / rel).read_bytes() == p.read_bytes(), rel


def test_another_seed_gives_other_bytes_and_gzip_is_reproducible():
    a = generate.build("cryptominer", seed=1)
    b = generate.build("cryptominer", seed=2)
    assert a["truth.json"] != b["truth.json"]
    assert a["inventory/pods.json"] != b["inventory/pods.json"]
    again = generate.build("cryptominer", seed=1)
    assert a == again  # includes the gzipped members


def test_scale_multiplies_volume():
    small = generate.build("node-pressure", scale=1.0)
    big = generate.build("node-pressure", scale=2.0)
    n_small = sum(len(v) for k, v in small.items() if k.startswith("logs/"))
    n_big = sum(len(v) for k, v in big.items() if k.startswith("logs/"))
    assert n_big > 1.6 * n_small
    assert len(json.loads(big["inventory/pods.json"])["items"]) > len(
        json.loads(small["inventory/pods.json"])["items"]
    )


@pytest.mark.parametrize("name", generate.incident_names())
def test_every_incident_builds_at_any_seed_and_a_small_scale(name):
    # a small draw may give a workload one replica, or place no app pod on a node
    for seed in range(1, 11):
        files = generate.build(name, seed=seed, scale=0.1)
        truth = json.loads(files["truth.json"])
        assert truth["root_cause"] and any(k.startswith("logs/") for k in files), (name, seed)


def test_generator_rejects_bad_arguments():
    with pytest.raises(obskit.DatasetError, match="unknown incident 'nope'; valid names: bad-rol"):
        generate.build("nope")
    with pytest.raises(obskit.DatasetError, match="scale must be a positive number, got 0"):
        generate.build("cryptominer", scale=0)
    with pytest.raises(obskit.DatasetError, match="--only must be one of bad-rollout, "):
        generate.write(Path("unused"), only="nope")


@pytest.mark.parametrize("name", NAMES)
def test_loader_rejects_exactly_the_planted_records(name):
    inv = obskit.datasets.load(name)
    assert isinstance(inv, obskit.Investigation)
    folder = obskit.datasets.path(name).resolve()
    got: dict[str, int] = {}
    for origin in inv.rejects["origin"].astype(str):
        rel = Path(origin).resolve().relative_to(folder).as_posix()
        got[rel] = got.get(rel, 0) + 1
    expected = {
        rel: e["malformed"]
        for rel, e in obskit.datasets.truth(name)["files"].items()
        if e["malformed"]
    }
    assert got == expected


@pytest.mark.parametrize("name", NAMES)
def test_loader_reads_every_file_in_the_format_and_count_truth_states(name):
    inv = obskit.datasets.load(name)
    folder = obskit.datasets.path(name).resolve()
    ledger = {
        Path(row.origin).resolve().relative_to(folder).as_posix(): row
        for row in inv.files.itertuples()
    }
    for rel, expected in obskit.datasets.truth(name)["files"].items():
        row = ledger[rel]
        assert row.status == "loaded", rel
        assert row.format == expected["format"], rel
        assert row.records == expected["records"], rel
        assert row.balanced, rel
    # every signal row of a bundled incident has its key filled from the inventory or the record
    for frame in (inv.logs, inv.metrics):
        assert frame["cluster"].notna().all()


@pytest.mark.parametrize("name", obskit.datasets.names())
def test_every_incident_carries_what_posture_and_coverage_read(name):
    # RBAC, NetworkPolicies, Pod Security labels and monitoring DaemonSets with their status:
    # without them a security lens would show an empty RBAC reach and no collector coverage
    inv = obskit.datasets.load(name)
    kinds = set(inv.inventory["kind"])
    assert {"ClusterRole", "NetworkPolicy", "DaemonSet", "Namespace"} <= kinds, kinds
    assert kinds & {"RoleBinding", "ClusterRoleBinding"}, kinds
    posture = inv.posture()
    assert posture["control"].str.startswith("rbac.").any()
    namespaces = inv.inventory[inv.inventory["kind"] == "Namespace"]
    labels = namespaces["labels"].astype(str)
    assert labels.str.contains("pod-security.kubernetes.io/enforce").any()
    assert len(inv.coverage()) > 0
