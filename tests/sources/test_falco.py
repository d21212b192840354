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
