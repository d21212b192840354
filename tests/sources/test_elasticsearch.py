"""Saved Elasticsearch/OpenSearch ``_search`` answers (``es-search``): the shippers' documents
in their frames, what the answer says it lacks, and detection that does not hang on 64 KiB."""

from __future__ import annotations

import orjson
import pytest

import obskit
from obskit import schema
from obskit.errors import FormatError
from obskit.sources import detect_format, load_file
from obskit.sources._base import SNIFF_BYTES
from obskit.sources.elasticsearch import parse_es_search

from ..conftest import DATA

MIXED = DATA / "elasticsearch" / "search_mixed.json"


def answer(hits: list[dict], **extra: object) -> dict:
    return {
        "took": 5,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": None, "hits": hits},
        **extra,
    }


def fluent_bit_hit(i: int, message: str = "GET /cart 200") -> dict:
    return {
        "_index": "fluent-bit-2024.05.14",
        "_id": f"id-{i}",
        "_score": None,
        "_source": {
            "@timestamp": f"2024-05-14T10:00:{i % 60:02d}.000Z",
            "log": f"{message} {i}\n",
            "stream": "stdout",
            "kubernetes": {
                "namespace_name": "shop",
                "pod_name": "cart-7d9f-x2",
                "container_name": "cart",
                "host": "node-1",
            },
        },
        "sort": [1715680800000 + i * 1000],
    }


def test_each_document_lands_in_its_frame():
    result, fmt = load_file(MIXED)
    assert fmt == "es-search"
    assert result.records == 9 and result.balanced()
    logs, events = result.logs, result.events
    schema.validate("logs", logs)
    schema.validate("events", events)
    key = logs.set_index("pod")[["namespace", "container", "node", "workload"]].astype(object)
    # Fluent Bit's kubernetes filter record, as its es output stores it
    assert key.loc["base"].tolist()[:3] == [
        "core",
        "fluent-bit",
        "ip-10-49-18-80.eu-west-1.compute.internal",
    ]
    # Filebeat's nested ECS and Elastic Agent's dotted ECS
    assert key.loc["coredns-5c98db65d4-8zv7k"].tolist() == [
        "kube-system",
        "coredns",
        "minikube",
        "coredns",
    ]
    assert key.loc["checkout-7d9f8b6c4-x2x9z"].tolist() == [
        "shop",
        "checkout",
        "minikube",
        "checkout",
    ]
    levels = dict(zip(logs["pod"].astype(str), logs["level"].astype(str), strict=True))
    assert levels["coredns-5c98db65d4-8zv7k"] == "error"  # read off the klog line
    assert levels["checkout-7d9f8b6c4-x2x9z"] == "warning"  # ECS log.level "warn"
    assert logs.loc[logs["pod"] == "base", "message"].tolist() == ["Fluent Bit is logging"]
    assert sorted(events["source"].astype(str)) == ["audit", "falco", "kubernetes"]
    audit = events[events["source"] == "audit"].iloc[0]
    assert (audit["reason"], audit["pod"]) == (
        "create pods/exec",
        "nginx-deployment-7998647bdf-phvq7",
    )
    assert events.set_index("source")["line"].to_dict() == {"kubernetes": 1, "audit": 5, "falco": 9}


def test_what_the_answer_lacks_is_said():
    result, _ = load_file(MIXED)
    assert sorted(result.rejects["line"].tolist()) == [7, 8]
    reasons = " ".join(result.rejects["reason"])
    assert "none of: a container log line" in reasons and "no _source" in reasons
    assert any("1 of 4 shards failed" in n and "node_not_connected" in n for n in result.notes)
    inv = obskit.load(MIXED)
    assert any("shards failed" in n for n in inv.notes)


def test_a_first_page_of_a_longer_search_says_so():
    page = answer([fluent_bit_hit(i) for i in range(3)])
    page["hits"]["total"] = {"value": 10000, "relation": "gte"}
    result = parse_es_search(orjson.dumps(page), "page1.json")
    assert len(result.logs) == 3
    assert any("3 of the at least 10,000 documents" in n for n in result.notes)


def test_pages_one_per_line_and_a_hits_list_are_read(tmp_path):
    pages = [answer([fluent_bit_hit(i) for i in range(k, k + 2)]) for k in (0, 2, 4)]
    lines = tmp_path / "pages.json"
    lines.write_bytes(b"\n".join(orjson.dumps(p) for p in pages) + b"\n")
    result, fmt = load_file(lines)
    assert fmt == "es-search" and len(result.logs) == 6 and result.balanced()
    hits = tmp_path / "hits.json"
    hits.write_bytes(
        orjson.dumps([fluent_bit_hit(i) for i in range(4)], option=orjson.OPT_INDENT_2)
    )
    result, fmt = load_file(hits)
    assert fmt == "es-search" and len(result.logs) == 4
    assert result.logs["line"].tolist() == [1, 2, 3, 4]


def test_detection_does_not_need_the_deciding_field_in_the_first_64_kib(tmp_path):
    # jq -S: keys sorted, so a large aggregations object comes before hits
    big = answer(
        [fluent_bit_hit(i, "x" * 2000) for i in range(60)],
        aggregations={"by_pod": {"buckets": [{"key": f"pod-{i}" * 20} for i in range(2000)]}},
    )
    sorted_copy = orjson.dumps(big, option=orjson.OPT_SORT_KEYS)
    assert sorted_copy.index(b'"hits"') > SNIFF_BYTES
    assert detect_format(sorted_copy).name == "es-search"
    # Elasticsearch's own order with documents that look like Fluent Bit's JSON lines
    ordered = orjson.dumps(answer([fluent_bit_hit(i, "y" * 3000) for i in range(40)]))
    assert len(ordered) > SNIFF_BYTES
    assert detect_format(ordered).name == "es-search"
    path = tmp_path / "sorted.json"
    path.write_bytes(sorted_copy)
    result, fmt = load_file(path)
    assert fmt == "es-search" and len(result.logs) == 60


def test_an_error_answer_or_other_json_is_refused_with_the_file_named():
    error = {
        "error": {"root_cause": [], "type": "index_not_found_exception", "reason": "no such index"},
        "status": 404,
    }
    with pytest.raises(FormatError, match=r"'x.json' holds an Elasticsearch/OpenSearch error"):
        parse_es_search(orjson.dumps(error), "x.json")
    with pytest.raises(FormatError, match=r"'y.json' is not .* no hits.hits"):
        parse_es_search(b'{"took": 1, "_shards": {}}', "y.json")
    with pytest.raises(FormatError, match=r"'z.json' is not .* line 2 is not valid JSON"):
        parse_es_search(b'{"took": 1}\n{"took": \n', "z.json")


def test_falcosidekick_flattened_output_fields_keep_the_key():
    alert = {
        "@timestamp": "2024-05-14T10:00:07.123Z",
        "time": "2024-05-14T10:00:07.123456789Z",
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "output": "A shell was spawned in a container with an attached terminal",
        "source": "syscall",
        "hostname": "node-1",
        "output_fields": {
            "k8s_ns_name": "shop",
            "k8s_pod_name": "cart-7d9f-x2",
            "container_id": "3ad7ba5c1b2e",
            "proc_cmdline": "sh",
            "user_name": "root",
        },
    }
    hit = {"_index": "falco-2024.05.14", "_id": "x", "_score": None, "_source": alert}
    events = parse_es_search(answer([hit])).events
    row = events.iloc[0]
    assert (row["namespace"], row["pod"], row["user"], row["source"]) == (
        "shop",
        "cart-7d9f-x2",
        "root",
        "falco",
    )
