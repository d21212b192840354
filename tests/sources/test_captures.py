"""Real captures that were misread, and formats whose deciding field lies past the first 64 KiB.

Format detection reads a file's first record whole and, for the formats whose deciding field
may come last, the file's last 64 KiB (``SNIFF_BYTES``). Each test here builds a capture the
way the tool writes it (from the real samples in ``tests/data``) and puts the deciding field
past the first 64 KiB.
"""

from __future__ import annotations

import orjson
import pandas as pd

from obskit.sources import detect_format, load_file, parse
from obskit.sources._base import SNIFF_BYTES

from ..conftest import DATA

POD_YAML = (DATA / "k8s" / "pod.yaml").read_text()


def _balanced(result) -> None:
    assert result.records == result.rows + len(result.rejects) + result.merged


def _kubectl_yaml_list(items: int) -> bytes:
    """``kubectl get pods -A -o yaml``: items indented under ``items:``, ``kind: List`` last."""
    out = ["apiVersion: v1", "items:"]
    for i in range(items):
        pod = POD_YAML.replace("checkout-7d9f8b6c4-x2x9z", f"checkout-7d9f8b6c4-{i:05d}")
        lines = pod.rstrip("\n").split("\n")
        out += ["- " + lines[0]] + ["  " + line for line in lines[1:]]
    out += ["kind: List", "metadata:", '  resourceVersion: ""', ""]
    return "\n".join(out).encode()


def test_kubectl_get_pods_yaml_list_larger_than_the_head(tmp_path):
    data = _kubectl_yaml_list(120)
    assert len(data) > SNIFF_BYTES and b"\nkind: List\n" not in data[:SNIFF_BYTES]
    path = tmp_path / "pods.yaml"
    path.write_bytes(data)
    result, used = load_file(path)
    assert used == "k8s-json"
    assert len(result.inventory) == 120 and set(result.inventory["kind"]) == {"Pod"}
    _balanced(result)


def test_a_large_object_whose_kind_comes_after_its_data(tmp_path):
    # kubectl writes a ConfigMap's keys in order: apiVersion, data, kind, metadata
    big = {"apiVersion": "v1", "data": {f"k{i}": "x" * 1000 for i in range(80)}}
    big |= {"kind": "ConfigMap", "metadata": {"name": "big", "namespace": "shop"}}
    for name, data in (
        ("cm.json", orjson.dumps(big, option=orjson.OPT_INDENT_2)),
        ("cm.yaml", _yaml_configmap(big)),
    ):
        assert data.find(b"kind") > SNIFF_BYTES
        path = tmp_path / name
        path.write_bytes(data)
        result, used = load_file(path)
        assert used == "k8s-json", name
        assert result.inventory["kind"].tolist() == ["ConfigMap"], name


def _yaml_configmap(obj: dict) -> bytes:
    lines = ["apiVersion: v1", "data:"]
    lines += [f"  {k}: {v}" for k, v in obj["data"].items()]
    lines += ["kind: ConfigMap", "metadata:", "  name: big", "  namespace: shop", ""]
    return "\n".join(lines).encode()


def test_fluent_bit_systemd_input_records_are_json_lines_logs():
    # real: Fluent Bit's systemd-input test output, a journal entry the kubernetes filter enriched
    result, used = load_file(DATA / "fluentbit/out/systemd_kairosdb-914055854-b63vq.out")
    assert used == "jsonl-log"
    row = result.logs.iloc[0]
    assert row["message"].startswith("08:58:45.839 [qtp151442075-47] DEBUG")
    assert (row["namespace"], row["pod"], row["container"]) == (
        "default",
        "kairosdb-914055854-b63vq",
        "kairosdb",
    )
    assert row["timestamp"] == pd.Timestamp("2018-11-04T19:12:27.464754Z")
    _balanced(result)


def test_a_journal_entry_without_kubernetes_metadata_takes_its_node_and_time(tmp_path):
    raw = (DATA / "fluentbit/out/systemd_kairosdb-914055854-b63vq.out").read_bytes()
    record = orjson.loads(raw)[1]
    record = {k: v for k, v in record.items() if k != "kubernetes" and not k.startswith("CONT")}
    record["_SYSTEMD_UNIT"] = "kubelet.service"
    path = tmp_path / "journal.jsonl"
    path.write_bytes(orjson.dumps(record) + b"\n")
    result, used = load_file(path)
    assert used == "jsonl-log"
    row = result.logs.iloc[0]
    assert row["node"] == "cube" and pd.isna(row["pod"]) and row["key_source"] == "incomplete"
    # _SOURCE_REALTIME_TIMESTAMP: microseconds since the epoch
    assert row["timestamp"] == pd.Timestamp("2018-11-04T19:12:27.464738Z")


def test_a_fluent_bit_record_whose_metadata_lies_past_the_head(tmp_path):
    # Fluent Bit writes the kubernetes object after the log line, which can be long
    line = orjson.loads((DATA / "fluentbit/out/core_base_fluent-bit.out").read_bytes())
    line[1]["log"] = "x" * (SNIFF_BYTES + 10) + "\n"
    path = tmp_path / "fluent-bit.out"
    path.write_bytes(orjson.dumps(line) + b"\n" + orjson.dumps(line) + b"\n")
    result, used = load_file(path)
    assert used == "jsonl-log"
    assert result.logs["pod"].tolist() == ["base", "base"]


def test_a_falco_alert_whose_rule_lies_past_the_head(tmp_path):
    alert = orjson.loads(
        (DATA / "falco/single_rule_with_cat_write.json").read_bytes().split(b"\n")[0]
    )
    alert["output"] += " " + "y" * SNIFF_BYTES  # a long command line in the output
    data = orjson.dumps(alert) + b"\n"
    assert data.find(b'"rule"') > SNIFF_BYTES
    assert detect_format(data).name == "falco-json"


def test_loki_matrix_larger_than_the_head_is_read_as_loki(tmp_path):
    answer = orjson.loads((DATA / "loki/query_range_matrix.json").read_bytes())
    series = answer["data"]["result"][0]
    answer["data"]["result"] = [
        {"metric": {**series["metric"], "pod": f"checkout-{i:04d}"}, "values": series["values"]}
        for i in range(800)
    ]
    data = orjson.dumps(answer)
    assert data.find(b'"stats"') > SNIFF_BYTES
    path = tmp_path / "query_range.json"
    path.write_bytes(data)
    result, used = load_file(path)
    assert used == "loki-json"
    assert len(result.metrics) == 800 * len(series["values"])
    _balanced(result)


def test_a_cluster_info_dump_whose_node_list_fills_the_head(tmp_path):
    node = {"metadata": {"name": "node-0", "labels": {"pad": "z" * 60}}, "status": {}}
    nodes = [dict(node, metadata={**node["metadata"], "name": f"node-{i}"}) for i in range(800)]
    node_list = {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": nodes}
    pods = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}
    data = (
        orjson.dumps(node_list, option=orjson.OPT_INDENT_2)
        + b"\n"
        + orjson.dumps(pods, option=orjson.OPT_INDENT_2)
        + b"\n"
    )
    assert data.find(b"}\n{") > SNIFF_BYTES
    assert detect_format(data).name == "cluster-info-dump"


def test_an_eks_answer_whose_head_holds_only_authenticator_events():
    # filter-log-events over the whole log group interleaves the authenticator's stream
    answer = orjson.loads((DATA / "eks/filter-log-events.json").read_bytes())
    authenticator, audit = answer["events"][0], answer["events"][1:]
    answer["events"] = [dict(authenticator, eventId=str(i)) for i in range(300)] + audit
    data = orjson.dumps(answer, option=orjson.OPT_INDENT_2)
    assert data.find(b"kube-apiserver-audit-") > SNIFF_BYTES
    assert detect_format(data).name == "eks-audit"


def test_an_aks_stream_whose_head_holds_other_categories():
    # a diagnostic setting streams every category it is given into one Event Hub
    lines = (DATA / "aks/records.jsonl").read_bytes().split(b"\n")
    data = b"\n".join([lines[1]] * 60 + [lines[0], lines[2]]) + b"\n"
    assert data.find(b'"kube-audit"') > SNIFF_BYTES
    assert detect_format(data).name == "aks-audit"
    result = parse(data, "aks-audit")
    assert (len(result.events), len(result.rejects)) == (2, 60)
