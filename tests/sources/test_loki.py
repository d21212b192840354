"""Tests for the Loki query response parser (format ``loki-json``).

The payloads in ``tests/data/loki`` are hand-written to match Loki's encoder
(``pkg/util/marshal/query.go``) and HTTP API reference; see ``tests/data/loki/SOURCES.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from obskit import schema
from obskit.errors import FormatError
from obskit.sources import detect_format, load_file, parse
from obskit.sources._levels import derive_level
from obskit.sources.loki import parse_loki_json

DATA = Path(__file__).parent.parent / "data" / "loki"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def listed(column: pd.Series) -> list:
    """The column's values with every missing value as None."""
    return [None if pd.isna(v) else v for v in column]


def streams(*result: object, **data: object) -> dict:
    return {"status": "success", "data": {"resultType": "streams", "result": list(result), **data}}


def logs_of(payload: bytes | dict, origin: str = "loki.json", query: str | None = None):
    result = parse_loki_json(payload, origin=origin, query=query)
    assert result.balanced(), (result.records, result.rows, len(result.rejects))
    schema.validate("logs", result.logs)
    schema.validate("rejects", result.rejects)
    assert result.metrics is None and result.events is None
    return result


# --- streams ---------------------------------------------------------------------------------


def test_streams_file_conforms_and_balances():
    result = logs_of(read("query_range_streams.json"))
    assert (result.records, len(result.logs), len(result.rejects)) == (5, 5, 0)
    assert result.notes == []


def test_nanosecond_timestamps_are_exact():
    logs = logs_of(read("query_range_streams.json")).logs
    # 1704067385999999999 is not representable as a float64 (it would round to ...6000000000).
    assert logs["timestamp"].map(lambda t: t.value).tolist() == [
        1704067385999999999,
        1704067380123456789,
        1704067379000000001,
        1704067378500000000,
        1704067378400000000,
    ]
    assert str(logs["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_promtail_labels_fill_the_key():
    logs = logs_of(read("query_range_streams.json")).logs
    first = logs.iloc[0]
    assert (first["namespace"], first["pod"], first["container"], first["node"]) == (
        "shop",
        "checkout-7d9f8b6c5d-x2x9z",
        "checkout",
        "worker-2",  # from node_name
    )
    assert logs["pod"].tolist()[3:] == ["payments-5c6d7f8b9-qq8rt"] * 2
    assert logs["cluster"].isna().all() and logs["workload"].isna().all()
    assert (logs["key_source"] == "record").all()
    assert logs["stream"].tolist() == ["stderr", "stderr", "stdout", "stderr", "stderr"]
    # Labels used for the key or the frame's columns are not repeated as extra columns.
    for consumed in ("namespace_name", "node_name", "pod_name", "label_stream"):
        assert consumed not in logs.columns
    for label in ("app", "filename", "job", "service_name"):
        assert isinstance(logs[label].dtype, pd.CategoricalDtype), label
    assert logs["job"].iloc[0] == "shop/checkout"
    assert (logs["origin"] == "loki.json").all()
    assert logs["line"].isna().all()


def test_levels_formats_and_html_escaped_lines():
    logs = logs_of(read("query_range_streams.json")).logs
    # detected_level labels; "unknown" is no level, so the level is derived from the line by
    # the shared derive_level, and the label is kept as a column.
    assert listed(logs["level"])[:3] == ["error", "error", "info"]
    assert logs["level"].iloc[3] == "error"  # klog "E0101 ..." header
    derived = derive_level(logs["message"].iloc[3:])
    assert listed(logs["level"].iloc[3:]) == listed(derived)
    assert listed(logs["detected_level"]) == [None, None, None, "unknown", "unknown"]
    assert logs["format"].tolist() == ["json", "json", "logfmt", "text", "text"]
    # Loki writes lines with HTML escaping (\u003c); the message is the line itself.
    assert logs["message"].iloc[4].endswith("nil pointer dereference <nil>")
    assert logs["message"].iloc[2].startswith('time=2024-01-01T00:02:59Z level=info msg="order')


def test_categorized_labels_structured_metadata_and_otel_names():
    result = logs_of(read("query_range_categorized.json"), query='{service_name="api"}')
    logs = result.logs
    assert (result.records, len(logs)) == (3, 3)
    row = logs.iloc[2]
    assert (row["cluster"], row["namespace"], row["node"], row["pod"], row["container"]) == (
        "prod-eu",
        "shop",
        "worker-3",
        "api-6b7c8d9f-abcde",
        "api",
    )
    assert listed(logs["trace_id"]) == [
        None,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7a3ce929d0e0e4736",
    ]
    # parsed labels (from "| logfmt" in the query) become columns too
    assert listed(logs["table"]) == [None, None, "orders"]
    # the empty {} third element adds nothing; its level comes from the line (none there)
    assert listed(logs["level"]) == [None, "warning", "error"]
    assert logs["format"].tolist() == ["text", "logfmt", "logfmt"]
    assert set(logs["query"]) == {'{service_name="api"}'}
    assert "k8s_pod_name" not in logs.columns and "detected_level" not in logs.columns


def test_flat_structured_metadata_third_element():
    payload = streams(
        {
            "stream": {"namespace": "shop", "pod": "web-1"},
            "values": [
                ["1704067200000000000", "hello", {"trace_id": "abc", "level": "WARN"}],
                ["1704067200000000001", "hello again"],
            ],
        }
    )
    logs = logs_of(payload).logs
    assert listed(logs["trace_id"]) == ["abc", None]
    assert listed(logs["level"]) == ["warning", None]


def test_labels_that_collide_with_columns_are_prefixed():
    payload = streams(
        {
            "stream": {
                "pod": "web-1",
                "k8s_pod_name": "web-2",  # disagrees with pod: kept as a column
                "message": "m",
                "format": "f",
                "origin": "o",
                "line": "7",
                "level": "I",  # not a level word
                "timestamp": "t",
                "query": "q",
            },
            "values": [["1", "plain text"]],
        }
    )
    row = logs_of(payload, origin="o.json").logs.iloc[0]
    assert row["pod"] == "web-1" and row["k8s_pod_name"] == "web-2"
    assert (row["message"], row["format"], row["origin"]) == ("plain text", "text", "o.json")
    assert pd.isna(row["line"]) and pd.isna(row["level"])
    assert row["timestamp"] == pd.Timestamp(1, tz="UTC")
    for name, value in [
        ("message", "m"),
        ("format", "f"),
        ("origin", "o"),
        ("line", "7"),
        ("level", "I"),
        ("timestamp", "t"),
        ("query", "q"),
    ]:
        assert row[f"label_{name}"] == value
    assert row["key_source"] == "record"


def test_no_pod_label_means_incomplete_key():
    payload = streams({"stream": {"job": "varlogs"}, "values": [["1", "x"]]})
    row = logs_of(payload).logs.iloc[0]
    assert row["key_source"] == "incomplete" and pd.isna(row["namespace"])


def test_bad_entries_are_rejects_and_the_ledger_balances():
    payload = streams(
        {
            "stream": {"pod": "web-1"},
            "values": [
                ["1704067200000000000", "good"],
                ["17040672OO", "letter O"],
                [1704067200.5, "float seconds"],
                ["99999999999999999999", "beyond int64"],
                ["1704067200000000001", 42],
                ["1704067200000000002"],
                ["1704067200000000003", "x", ["not", "an", "object"]],
                ["1704067200000000004", "x", {"structuredMetadata": {"n": 1}}],
                "not a pair",
                ["1704067200000000005", "also good"],
            ],
        },
        {"stream": {"pod": "web-2"}},
        "not a stream",
    )
    result = logs_of(payload)
    assert (result.records, len(result.logs), len(result.rejects)) == (12, 2, 10)
    assert result.logs["message"].tolist() == ["good", "also good"]
    reasons = result.rejects["reason"].tolist()
    assert reasons == [
        "result[0].values[1]: timestamp '17040672OO' is not a nanosecond epoch string",
        "result[0].values[2]: timestamp 1704067200.5 is not a nanosecond epoch string",
        "result[0].values[3]: timestamp '99999999999999999999' is not a nanosecond epoch string",
        "result[0].values[4]: log line is not a string but int 42",
        "result[0].values[5] is not a [timestamp, line] pair",
        "result[0].values[6]: third element is not a structured metadata object but "
        "['not', 'an', 'object']",
        "result[0].values[7]: structured metadata 'n' is not a string",
        "result[0].values[8] is not a [timestamp, line] pair",
        "result[1] is not a Loki stream (an object with 'stream' labels and a 'values' list)",
        "result[2] is not a Loki stream (an object with 'stream' labels and a 'values' list)",
    ]
    assert result.rejects["raw"].iloc[1] == '[1704067200.5,"float seconds"]'
    assert result.rejects["line"].isna().all()


def test_empty_result():
    result = logs_of(streams())
    assert (result.records, len(result.logs)) == (0, 0)


def test_bytes_and_decoded_payload_give_the_same_frame():
    data = read("query_range_categorized.json")
    from_bytes = logs_of(data).logs
    from_dict = logs_of(json.loads(data)).logs
    pd.testing.assert_frame_equal(from_bytes, from_dict)


def test_warnings_become_notes():
    payload = streams({"stream": {}, "values": [["1", "x"]]})
    payload["warnings"] = ["query timeout may be too short"]
    assert logs_of(payload).notes == ["Loki warning: query timeout may be too short"]


# --- errors ----------------------------------------------------------------------------------


def test_error_response_raises():
    with pytest.raises(
        FormatError,
        match=r"Loki query in 'query_error.json' failed \(bad_data\): parse error at line 1",
    ):
        parse_loki_json(read("invalid/query_error.json"), origin="query_error.json")


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b'{"status":"success","data":{"resultType":"streams"', r"'r.json' .*not valid JSON"),
        (b"[1, 2]", r"'r.json' is not a Loki query response: .* got a JSON list"),
        # {"streams": [...]} is a push body or a tail frame, read as streams (tests below)
        (b'{"data": {"streams": []}}', r"'r.json' is not a Loki query response: expected 'status'"),
        (
            b'{"status":"success","data":{"resultType":"streams","result":{}}}',
            r"'r.json': Loki streams 'result' is not a list",
        ),
        (
            b'{"status":"success","data":{"resultType":"string","result":[1,"x"]}}',
            r"resultType 'string' is not one obskit reads; expected 'streams', 'matrix'",
        ),
    ],
)
def test_payloads_that_are_not_loki_responses_raise(payload, match):
    with pytest.raises(FormatError, match=match):
        parse_loki_json(payload, origin="r.json")


# --- metric queries --------------------------------------------------------------------------


def metrics_of(payload: bytes | dict, query: str | None = None):
    result = parse_loki_json(payload, origin="m.json", query=query)
    assert result.balanced()
    schema.validate("metrics", result.metrics)
    assert result.logs is None
    return result


def test_matrix_file_gives_metrics():
    query = 'sum by (namespace, pod) (count_over_time({namespace="shop"} |= "error" [1m]))'
    result = metrics_of(read("query_range_matrix.json"), query=query)
    metrics = result.metrics
    assert (result.records, len(metrics)) == (5, 5)
    assert set(metrics["metric"]) == {query}
    assert metrics["value"].tolist() == [3.0, 17.0, 41.0, 1.0, 2.0]
    assert metrics["timestamp"].iloc[2] == pd.Timestamp("2024-01-01T00:03:00.5Z")
    assert metrics["pod"].iloc[3] == "payments-5c6d7f8b9-qq8rt"
    assert (metrics["namespace"] == "shop").all()


def test_vector_scalar_and_bad_samples():
    vector = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {
                    "metric": {"level": "warn", "__name__": "lines"},
                    "value": [1568404331.324, "37.7"],
                },
                {"metric": {}, "value": [1568404331.324, "NaN"]},
                {"metric": {}, "value": [1568404331.324, "many"]},
                {"metric": {}},
            ],
        },
    }
    result = metrics_of(vector)
    metrics = result.metrics
    assert (result.records, len(metrics), len(result.rejects)) == (4, 2, 2)
    assert metrics["metric"].tolist() == ["lines", "loki_query"]
    # A "level" label of a metric is just a label in the metrics frame.
    assert listed(metrics["level"]) == ["warn", None]
    assert metrics["timestamp"].iloc[0] == pd.Timestamp("2019-09-13T19:52:11.324Z")
    assert pd.isna(metrics["value"].iloc[1])
    assert result.rejects["reason"].tolist() == [
        "result[2]: value 'many' is not a number in a string",
        "result[3]: not a [timestamp, value] pair",
    ]
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1704067200, "2"]}}
    metrics = metrics_of(scalar, query="vector(2)").metrics
    assert metrics[["metric", "value"]].values.tolist() == [["vector(2)", 2.0]]


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["query_range_streams.json", "query_range_categorized.json", "query_range_matrix.json"]
)
def test_detect_format_picks_loki(name):
    fmt = detect_format(read(name))
    assert fmt is not None and fmt.name == "loki-json"
    pretty = json.dumps(json.loads(read(name)), indent=2).encode()
    assert detect_format(pretty).name == "loki-json"
    keys_sorted = json.dumps(json.loads(read(name)), sort_keys=True).encode()
    assert detect_format(keys_sorted).name == "loki-json"


def test_detect_format_leaves_prometheus_responses_alone():
    prometheus = (
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":'
        b'"up","job":"node"},"values":[[1704067200,"1"]]}]}}'
    )
    fmt = detect_format(prometheus)
    assert fmt is None or fmt.name != "loki-json"
    # Prometheus' own statistics (stats=all) are not Loki's.
    with_stats = prometheus[:-2] + b',"stats":{"timings":{"evalTotalTime":0.01}}}}'
    fmt = detect_format(with_stats)
    assert fmt is None or fmt.name != "loki-json"


def test_streams_holding_other_formats_keys_are_still_loki():
    # `| json` on Falco or audit lines turns their keys into labels.
    payload = streams(
        {
            "stream": {"rule": "Terminal shell", "priority": "Notice", "output": "x"},
            "values": [["1", '{"rule":"Terminal shell","priority":"Notice","output":"x"}']],
        },
        {
            "stream": {"auditID": "a1", "kind": "Event", "stage": "ResponseComplete"},
            "values": [["2", '{"kind":"Event","auditID":"a1"}']],
        },
    )
    data = json.dumps(payload, separators=(",", ":")).encode()
    assert detect_format(data).name == "loki-json"


def test_load_file(tmp_path):
    path = tmp_path / "loki.json"
    path.write_bytes(read("query_range_streams.json"))
    result, name = load_file(path)
    assert name == "loki-json" and len(result.logs) == 5
    assert set(result.logs["origin"]) == {str(path)}


def test_logcli_jsonl_lines_are_json_lines_logs():
    # logcli query --output=jsonl: labels, line and an RFC 3339 time in the chosen zone
    result, fmt = load_file(DATA / "logcli-jsonl-test.jsonl")
    assert fmt == "jsonl-log" and result.balanced()
    logs = result.logs
    assert logs["message"].tolist() == ["Hello", ""]
    assert logs["type"].tolist() == ["test", "test"]
    # 10:04:05+02:00 is 08:04:05 UTC
    assert (logs["timestamp"] == pd.Timestamp("2006-01-02T08:04:05Z")).all()


def test_logcli_labels_give_the_key_as_stream_labels_do():
    line = (
        b'{"labels":{"namespace":"shop","pod":"web-1","container":"web","node_name":"n1",'
        b'"level":"loud","stream":"stderr"},"line":"boom","timestamp":"2024-01-01T00:00:00Z"}\n'
    )
    logs = parse(line, "jsonl-log").logs
    row = logs.iloc[0]
    assert [row[c] for c in ("namespace", "pod", "container", "node", "stream")] == [
        "shop",
        "web-1",
        "web",
        "n1",
        "stderr",
    ]
    assert row["label_level"] == "loud" and row["key_source"] == "record"


def test_a_push_body_is_read_as_streams():
    # Loki's HTTP API reference: the body of its /loki/api/v1/push example
    result, fmt = load_file(DATA / "push-docs.json")
    assert fmt == "loki-json" and result.balanced() and result.records == 1
    row = result.logs.iloc[0]
    assert (row["message"], row["foo"]) == ("fizzbuzz", "bar2")
    assert row["timestamp"] == pd.Timestamp(1570818238000000000, tz="UTC")


def test_tail_frames_one_per_line_with_dropped_entries_and_a_bad_line(tmp_path):
    frame = json.loads((DATA / "push-docs.json").read_bytes())
    second = {"streams": frame["streams"], "dropped_entries": [{"labels": {"foo": "bar2"}}]}
    path = tmp_path / "tail.jsonl"
    path.write_text(json.dumps(frame) + "\n" + json.dumps(second) + "\nnot a frame\n")
    result, fmt = load_file(path)
    assert fmt == "loki-json" and result.balanced()
    assert result.records == 3 and len(result.logs) == 2
    assert result.rejects["line"].tolist() == [3]
    assert "dropped 1 entries" in result.notes[0]
