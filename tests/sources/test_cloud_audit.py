"""Managed clusters' audit logs: GKE (Cloud Logging), EKS (CloudWatch Logs), AKS (Azure Monitor).

The samples are in ``tests/data/{gke,eks,aks}``; their ``SOURCES.md`` say which records are
real captures and which were built field by field from the vendors' documentation.
"""

from __future__ import annotations

import copy
import json

import orjson
import pandas as pd
import pytest

from obskit.analysis import security
from obskit.sources import detect_format, get_format, load_file, parse
from obskit.sources._base import decode_head

from ..conftest import DATA

GKE, EKS, AKS = DATA / "gke", DATA / "eks", DATA / "aks"


def _balanced(result) -> None:
    assert result.records == result.rows + len(result.rejects) + result.merged


def _row(events: pd.DataFrame, **match: object) -> pd.Series:
    mask = pd.Series(True, index=events.index)
    for column, value in match.items():
        mask &= events[column].astype("object") == value
    assert mask.sum() == 1, match
    return events.loc[mask].iloc[0]


# --- GKE -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gcloud-read.yaml", "gcloud-read.json"])
def test_gke_gcloud_output_yaml_and_json(name):
    result, used = load_file(GKE / name)
    assert used == "gke-audit"
    _balanced(result)
    ev = result.events
    assert len(ev) == 3 and set(ev["source"]) == {"audit"} and ev["final_stage"].all()
    # the real entry: a pod create Binary Authorization refused (HTTP 400 in the logged Status)
    denied = _row(ev, object_name="nginx")
    assert denied["cluster"] == "my-cluster-1" and denied["namespace"] == "default"
    assert denied["user"] == "student-01-03aeec6f7a0c@qwiklabs.net"
    assert (denied["verb"], denied["object_kind"], denied["response_code"]) == (
        "create",
        "Pod",
        400,
    )
    assert denied["decision"] == "allow"  # GKE writes the audit annotations as entry labels
    assert denied["source_ip"] == "34.143.180.117"
    assert denied["user_agent"].startswith("kubectl/v1.28.9")
    assert denied["uid"] == "5a3a3498-e69a-47f5-a02d-67bcc8f9efae"
    assert denied["timestamp"] == pd.Timestamp("2024-05-12T05:13:08.760303Z")
    assert json.loads(denied["raw"])["requestObject"]["spec"]["containers"][0]["name"] == "nginx"
    exec_ = _row(ev, subresource="exec")
    assert (exec_["namespace"], exec_["pod"], exec_["severity"]) == (
        "shop",
        "checkout-7d9f8b6c4-x2x9z",
        "notice",
    )


def test_gke_yaml_rejects_the_entry_of_another_service_with_its_line():
    result, _ = load_file(GKE / "gcloud-read.yaml")
    assert result.records == 4
    reject = result.rejects.iloc[0]
    assert reject["line"] == 81  # the second document starts after the first one's "---"
    assert "'container.googleapis.com'" in reject["reason"] and "k8s.io" in reject["reason"]
    # the evidence is the entry as gcloud printed it
    assert reject["raw"].startswith("insertId: 19ifmfxdyc4o")
    ev = result.events
    assert ev["cloud_record"].str.startswith("insertId: ").all()


def test_gke_json_lines_export():
    result, used = load_file(GKE / "sink-export.jsonl")
    assert used == "gke-audit"
    assert result.events["line"].tolist() == [1, 2]
    assert set(result.events["cluster"]) == {"shop-prod"}
    _balanced(result)


def _exec_entry() -> dict:
    return json.loads((GKE / "sink-export.jsonl").read_text().split("\n")[0])


def test_gke_status_codes_map_to_http():
    entry = _exec_entry()
    entry["protoPayload"]["status"] = {"code": 7, "message": "PERMISSION_DENIED"}
    ev = parse(orjson.dumps(entry), "gke-audit").events
    assert ev["response_code"].tolist() == [403] and ev["severity"].tolist() == ["warning"]
    del entry["protoPayload"]["status"]
    assert parse(orjson.dumps(entry), "gke-audit").events["response_code"].tolist() == [200]


@pytest.mark.parametrize(
    ("method", "resource", "expected"),
    [
        (
            "io.k8s.core.v1.namespaces.delete",
            "core/v1/namespaces/foo",
            {"resource": "namespaces", "namespace": "foo", "object_name": "foo"},
        ),
        (
            "io.k8s.authorization.rbac.v1.clusterrolebindings.create",
            "rbac.authorization.k8s.io/v1/clusterrolebindings/dev-admin",
            {
                "resource": "clusterrolebindings",
                "api_group": "rbac.authorization.k8s.io",
                "object_kind": "ClusterRoleBinding",
                "object_name": "dev-admin",
            },
        ),
        (
            "io.k8s.core.v1.namespaces.finalize.update",
            "core/v1/namespaces/foo/finalize",
            {"resource": "namespaces", "subresource": "finalize", "object_name": "foo"},
        ),
        (
            "io.k8s.apps.v1.deployments.scale.patch",
            "apps/v1/namespaces/shop/deployments/checkout/scale",
            {"resource": "deployments", "subresource": "scale", "namespace": "shop"},
        ),
        ("io.k8s.core.v1.nodes.list", "core/v1/nodes", {"resource": "nodes", "object_name": None}),
    ],
)
def test_gke_resource_names(method, resource, expected):
    entry = _exec_entry()
    entry["protoPayload"] |= {"methodName": method, "resourceName": resource}
    row = parse(orjson.dumps(entry), "gke-audit").events.iloc[0]
    assert row["verb"] == method.rsplit(".", 1)[-1]
    for column, value in expected.items():
        assert (None if pd.isna(row[column]) else row[column]) == value, column


def test_gke_bad_entries_are_rejects_with_their_lines():
    good = (GKE / "sink-export.jsonl").read_bytes().split(b"\n")[0]
    no_method = _exec_entry()
    del no_method["protoPayload"]["methodName"]
    data = b"\n".join([good, good[:200], orjson.dumps(no_method), b'{"jsonPayload": {}}', good])
    result = parse(data, "gke-audit")
    assert len(result.events) == 2
    reasons = dict(zip(result.rejects["line"], result.rejects["reason"], strict=True))
    assert "truncated" in reasons[2]
    assert "methodName" in reasons[3]
    assert "not a Cloud Audit Logs entry" in reasons[4]
    _balanced(result)
    yaml = (GKE / "gcloud-read.yaml").read_bytes().replace(b"  methodName: io.k8s", b"  - : [", 1)
    broken = parse(yaml, "gke-audit")
    assert broken.rejects["reason"].str.startswith("not valid YAML").sum() == 1
    _balanced(broken)


# --- EKS -------------------------------------------------------------------------------------


def test_eks_filter_log_events_answer():
    result, used = load_file(EKS / "filter-log-events.json")
    assert used == "eks-audit"
    _balanced(result)
    assert result.records == 3
    reject = result.rejects.iloc[0]
    assert reject["line"] == 1 and "authenticator-" in reject["reason"]
    assert "not JSON" in reject["reason"]
    ev = result.events
    exec_ = _row(ev, subresource="exec")
    assert (exec_["user"], exec_["container"], exec_["response_code"]) == (
        "kubernetes-admin",
        "checkout",
        101,
    )
    record = json.loads(exec_["cloud_record"])
    assert record["logStreamName"].startswith("kube-apiserver-audit-") and "message" not in record
    assert json.loads(exec_["raw"])["user"]["extra"]["arn"] == [
        "arn:aws:iam::111122223333:user/mallory"
    ]


def test_eks_answer_with_a_next_token_says_events_were_left():
    answer = json.loads((EKS / "filter-log-events.json").read_text())
    answer["nextToken"] = "AYAP4i0ZnN2dXMzUEFBQUE"
    result = parse(orjson.dumps(answer), "eks-audit")
    assert any("nextToken" in note and "--starting-token" in note for note in result.notes)


def test_eks_get_log_events_answer():
    # aws logs get-log-events reads one stream: its events name no stream, the answer pages
    # with forward and backward tokens
    answer = json.loads((EKS / "filter-log-events.json").read_text())
    events = [{k: v for k, v in e.items() if k != "logStreamName"} for e in answer["events"][1:]]
    payload = {
        "events": events,
        "nextForwardToken": "f/38263494148612039485712039485712039485712039485712039485/s",
        "nextBackwardToken": "b/38263491851230984571203948571230984571230984571230984571/s",
    }
    data = orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    assert detect_format(data).name == "eks-audit"
    result = parse(data, "eks-audit")
    assert len(result.events) == 2 and not result.notes
    _balanced(result)


def test_eks_export_lines_and_subscription_payloads():
    exported, used = load_file(EKS / "export-000000")
    assert used == "eks-audit" and len(exported.events) == 2
    assert exported.events["line"].tolist() == [1, 2]
    delivered, used = load_file(EKS / "subscription.jsonl")
    assert used == "eks-audit"
    assert set(delivered.events["cluster"]) == {"shop-prod"}  # from /aws/eks/shop-prod/cluster
    bad = (EKS / "export-000000").read_bytes() + b"2024-05-14T09:33:00.000Z {not json\nhello\n"
    result = parse(bad, "eks-audit")
    assert result.rejects["line"].tolist() == [3, 4]
    _balanced(result)


# --- AKS -------------------------------------------------------------------------------------


def test_aks_records_one_per_line():
    result, used = load_file(AKS / "records.jsonl")
    assert used == "aks-audit"
    _balanced(result)
    reject = result.rejects.iloc[0]
    assert reject["line"] == 2 and "'kube-controller-manager'" in reject["reason"]
    ev = result.events
    assert set(ev["cluster"]) == {"DEMO-AKS"}
    real = _row(ev, uid="7df19974-f894-454b-a1f2-137258598c45")  # the real record
    assert real["user"] == "system:serviceaccount:kube-system:metrics-server"
    assert real["resource"] == "subjectaccessreviews" and real["response_code"] == 201
    record = json.loads(real["cloud_record"])
    assert record["properties"] == {"stream": "stdout", "pod": "kube-apiserver-6b497d8d5f-rb9qn"}


def test_aks_records_wrapped():
    result, used = load_file(AKS / "records-wrapped.json")
    assert used == "aks-audit"
    assert result.records == 2 and len(result.events) == 2
    _balanced(result)


def test_an_aks_record_is_not_a_docker_json_file_log():
    line = (AKS / "records.jsonl").read_bytes().split(b"\n")[0]
    assert detect_format(line).name == "aks-audit"
    assert get_format("docker-json-log").sniff(decode_head(line), "") == 0.0


def test_aks_record_whose_log_is_not_an_audit_event():
    record = json.loads((AKS / "records.jsonl").read_text().split("\n")[0])
    truncated = copy.deepcopy(record)
    truncated["properties"]["log"] = truncated["properties"]["log"][:300]
    no_id = copy.deepcopy(record)
    no_id["properties"]["log"] = '{"kind":"Event","stage":"ResponseComplete"}'
    result = parse(b"\n".join(orjson.dumps(r) for r in (truncated, no_id)), "aks-audit")
    assert result.rejects["reason"].tolist()[0].startswith("properties.log is not JSON")
    assert "auditID" in result.rejects["reason"].tolist()[1]
    _balanced(result)


# --- the detections run on them unchanged -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rules"),
    [
        (
            GKE / "gcloud-read.yaml",
            {"audit.pod-exec-unusual-subject", "audit.secrets-read-unusual-subject"},
        ),
        (
            EKS / "filter-log-events.json",
            {"audit.pod-exec-unusual-subject", "audit.secrets-read-unusual-subject"},
        ),
        (AKS / "records.jsonl", {"audit.pod-exec-unusual-subject"}),
    ],
)
def test_audit_detections_fire_on_cloud_records(path, rules):
    events = load_file(path)[0].events
    found = security.detect(events)
    assert rules <= set(found["rule"])
    exec_hit = found[found["rule"] == "audit.pod-exec-unusual-subject"].iloc[0]
    assert (exec_hit["namespace"], exec_hit["pod"]) == ("shop", "checkout-7d9f8b6c4-x2x9z")
