"""Falco json_output alerts."""

from __future__ import annotations

import pandas as pd

from obskit.sources import load_file
from obskit.sources.falco import parse_falco_json

from ..conftest import DATA


def test_real_falco_output():
    result, fmt = load_file(DATA / "falco/single_rule_with_cat_write.json")
    assert fmt == "falco-json"
    events = result.events
    assert len(events) == 8 and result.balanced()
    assert set(events["severity"]) == {"warning"}
    assert set(events["rule"]) == {"open_from_cat"}
    assert events["timestamp"].iloc[0] == pd.Timestamp("2016-08-04T16:17:57.881781397Z")
    assert events["node"].iloc[0] == "test-falco-hostname"
    assert events["raw"].iloc[0].startswith('{"hostname":"test-falco-hostname"')


def test_k8s_fields_and_priority_mapping():
    line = (
        b'{"hostname":"node-2","output":"x","priority":"Critical","rule":"Mining pool",'
        b'"source":"syscall","time":"2024-05-14T10:00:00.000000001Z","output_fields":'
        b'{"k8s.ns.name":"web","k8s.pod.name":"web-7","container.name":"app",'
        b'"container.id":"abc","proc.cmdline":"xmrig -o pool:3333","fd.sip":"1.2.3.4"}}\n'
        b'{"hostname":"node-2","output":"y"}\n'
    )
    result = parse_falco_json(line)
    row = result.events.iloc[0]
    assert (row["namespace"], row["pod"], row["container"], row["node"]) == (
        "web",
        "web-7",
        "app",
        "node-2",
    )
    assert row["severity"] == "critical" and row["source_ip"] == "1.2.3.4"
    assert row["proc_cmdline"] == "xmrig -o pool:3333"
    assert result.rejects["line"].tolist() == [2]
    assert result.balanced()


def test_real_k8s_audit_alerts_name_the_audited_object_not_the_falco_node():
    result, fmt = load_file(DATA / "falco/k8saudit-ovh-blog.jsonl")
    assert fmt == "falco-json" and result.balanced() and len(result.events) == 4
    e = result.events
    cols = ["object_kind", "object_name", "namespace", "verb", "response_code", "user"]
    rows = [[None if pd.isna(v) else v for v in row] for row in e[cols].values.tolist()]
    assert rows[0][:2] == [
        "volumeattachments",
        "csi-6afb06dce281b86b7bab718b5d966dc261b2b1554941ae449519a128cb2e3fb3",
    ]
    assert rows[0][2:] == [None, "patch", 200, "csi-cinder-controller"]
    # no ka.target.namespace: the namespace is read from the request's URI
    assert rows[1] == ["Event", "my-pool-1.18051c0a88716868", "default", "patch", 403, "yacht"]
    assert rows[3] == ["Pod", "nginx-676b6c5bbc-4xc6t", "hello-app", None, None, "kubernetes-admin"]
    assert e["pod"].iloc[3] == "nginx-676b6c5bbc-4xc6t"
    # the hostname is the node Falco runs on, not where the audited object lives
    assert e["node"].isna().all()
    assert e["timestamp"].iloc[3] == pd.Timestamp("2025-02-10T09:29:46.302906Z")
