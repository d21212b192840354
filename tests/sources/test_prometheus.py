"""prometheus-json and prometheus-text: schema, ledger, exact times, keys, rejects, detection."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

import obskit
from obskit import schema
from obskit.errors import FormatError
from obskit.sources import detect_format, load_file, parse
from obskit.sources import prometheus as prom
from obskit.sources.prometheus import parse_prometheus_json, parse_prometheus_text

DATA = Path(__file__).parent.parent / "data" / "prometheus"
CADVISOR = DATA / "cadvisor"
SCRAPE = pd.Timestamp("2024-05-01T12:00:00.250Z")


def check(result):
    """Every parse must give a schema-valid frame and a balanced ledger."""
    schema.validate("metrics", result.metrics)
    schema.validate("rejects", result.rejects)
    assert result.balanced(), (result.records, result.rows, len(result.rejects))
    assert not result.metrics["timestamp"].isna().any()
    return result


def matrix(series, **envelope) -> bytes:
    """A compact query_range body as Prometheus writes it: [(labels, [(ts, "v"), ...]), ...]."""
    result = [{"metric": labels, "values": [list(p) for p in points]} for labels, points in series]
    return orjson.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}, **envelope}
    )


def pretty(body: bytes) -> bytes:
    """The same body re-indented, which the fast path does not take."""
    return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)


# --- prometheus-json: the documentation's examples -----------------------------------------


def test_docs_query_range_keeps_milliseconds_exactly():
    r = check(parse_prometheus_json((DATA / "query_range_up.json").read_bytes()))
    m = r.metrics
    assert r.records == 6 and len(m) == 6
    assert m["timestamp"].iloc[0] == pd.Timestamp("2015-07-01T20:10:30.781000000Z")
    assert m["timestamp"].iloc[0].value == 1_435_781_430_781_000_000
    assert m["timestamp"].iloc[0].nanosecond == 0 and m["timestamp"].iloc[0].microsecond == 781000
    assert m["metric"].unique().tolist() == ["up"]
    assert m["value"].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert m["instance"].tolist()[2:4] == ["localhost:9090", "localhost:9091"]
    assert m["node"].isna().all()  # instance is IP:port, never guessed to be the node
    assert (m["key_source"] == "record").all()


def test_docs_vector():
    r = check(parse_prometheus_json((DATA / "query_up.json").read_bytes(), origin="q.json"))
    assert r.metrics["value"].tolist() == [1.0, 0.0]
    assert (r.metrics["timestamp"] == pd.Timestamp("2015-07-01T20:10:51.781Z")).all()
    assert r.metrics["job"].tolist() == ["prometheus", "node"]
    assert (r.metrics["origin"] == "q.json").all()


def test_a_data_object_saved_without_its_envelope(tmp_path):
    # `curl .../api/v1/query | jq .data`, or a Go client's marshalled query value (promql-sdk's
    # README shows one with "stats"): {"resultType", "result"} without "status"
    data = orjson.loads((DATA / "query_up.json").read_bytes())["data"]
    path = tmp_path / "up.json"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    result, used = load_file(path)
    assert used == "prometheus-json"
    check(result)
    assert result.metrics["value"].tolist() == [1.0, 0.0]
    assert (result.metrics["timestamp"] == pd.Timestamp("2015-07-01T20:10:51.781Z")).all()


def test_series_endpoint_label_sets_are_records_kept_as_rejects():
    r = check(parse_prometheus_json((DATA / "series_up.json").read_bytes()))
    assert r.records == 3 and len(r.metrics) == 0 and len(r.rejects) == 3
    assert r.rejects["reason"].str.contains("without samples").all()
    assert orjson.loads(r.rejects["raw"].iloc[2])["__name__"] == "process_start_time_seconds"
    assert any("/api/v1/series" in n for n in r.notes)


# --- prometheus-json: values, the fast path, the key ---------------------------------------


def test_nan_and_infinities():
    body = matrix(
        [
            (
                {"__name__": "x"},
                [
                    (1700000000, "NaN"),
                    (1700000001.5, "+Inf"),
                    (1700000002, "-Inf"),
                    (1700000003, "1e-7"),
                ],
            )
        ]
    )
    for payload in (body, pretty(body)):
        v = check(parse_prometheus_json(payload)).metrics["value"].to_numpy()
        assert np.isnan(v[0]) and v[1] == np.inf and v[2] == -np.inf and v[3] == 1e-7


def generated(n_series: int = 40, n_points: int = 30) -> bytes:
    rng = np.random.default_rng(7)
    series = []
    for s in range(n_series):
        labels = {"__name__": f"m{s % 3}", "namespace": f"ns{s % 4}", "pod": f"p{s}"}
        if s % 5:
            labels["container"] = "app"
        if s % 7 == 0:
            labels["extra"] = "x"
        t0 = 1_700_000_000_000 + s
        points = []
        for i in range(n_points):
            ms = t0 + 15_000 * i
            value = "NaN" if (s + i) % 13 == 0 else repr(float(rng.normal()))
            points.append((ms / 1000, value))
        series.append((labels, points))
    series.append(({"__name__": "empty"}, []))
    return matrix(series)


def test_fast_path_matches_general_path():
    body = generated()
    assert prom._matrix_fast(body) is not None
    assert prom._matrix_fast(pretty(body)) is None
    fast = check(parse_prometheus_json(body))
    slow = check(parse_prometheus_json(pretty(body)))
    assert fast.records == 40 * 30 == len(fast.metrics)
    pd.testing.assert_frame_equal(fast.metrics, slow.metrics)
    # every timestamp is an exact millisecond
    assert (fast.metrics["timestamp"].astype("int64") % 1_000_000 == 0).all()


@pytest.mark.parametrize(
    "values",
    [
        b'[[1,"2","3"],[4]]',  # as many numbers as two samples, in samples of the wrong shape
        b'[[1,"2"],[3,"4"],[5]]',
        b'[[1,"2"],5,[3,"4"]]',
        b'[[[1,"2"]]]',
        b'[[1,"1,5"]]',
        b'[[1,"]"]]',
        b'[[1,""]]',
        b'[[1,"2"],[3,"4"]]',
        b'[["1","2"]]',  # a quoted time: the general path rejects it
        b'[[1,"2"],["3","4"]]',
        b'[["1",2]]',
    ],
)
def test_fast_path_gives_up_on_samples_of_another_shape(values):
    """Whatever the compact body holds, it reads as the same body pretty-printed (the general
    path, sample by sample) does: the fast path takes only samples of [<number>,"<number>"]."""
    body = (
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
        b'{"__name__":"a"},"values":' + values + b"}]}}"
    )
    fast, slow = parse_prometheus_json(body), parse_prometheus_json(pretty(body))
    assert fast.records == slow.records
    pd.testing.assert_frame_equal(fast.metrics, slow.metrics)
    pd.testing.assert_frame_equal(fast.rejects, slow.rejects)


def test_fast_path_reads_arrays_followed_by_brackets_of_other_fields():
    """Each values array ends at its own first "]]", not at one of native histogram buckets
    after it or of a label value of the next series."""
    hist = {"count": "2", "sum": "3", "buckets": [[0, "0", "1", "2"]]}
    result = [
        {"metric": {"__name__": "h"}, "values": [[1, "2"], [2, "3"]], "histograms": [[3, hist]]},
        {"metric": {"__name__": "x", "note": "a]]b"}, "values": [[1, "4"]]},
        {"metric": {"__name__": "y"}, "values": [[2, "5"]]},
    ]
    body = orjson.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})
    fast, slow = check(parse_prometheus_json(body)), check(parse_prometheus_json(pretty(body)))
    assert fast.records == slow.records == 5 and len(fast.rejects) == 1
    pd.testing.assert_frame_equal(fast.metrics, slow.metrics)
    pd.testing.assert_frame_equal(fast.rejects, slow.rejects)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 10_000])
def test_sample_lines_are_the_same_bytes_read_in_blocks_of_any_size(block):
    """The CSV reader asks for blocks of its own size: cut anywhere, inside a series' marker
    or a sample, they join into the lines read at once."""
    body = generated(n_series=5, n_points=4)
    view = memoryview(body)
    starts = [i + len(prom._VALUES) for i in range(len(body)) if body.startswith(prom._VALUES, i)]
    ends = [*starts[1:], len(body)]
    spans = [(a, body.rfind(b"]]", a, z) + 1) for a, z in zip(starts, ends, strict=True)]
    spans = [(a, z) for a, z in spans if z > a]  # the empty series has no array to read
    whole = prom._SampleLines(view, spans).read()
    assert whole.count(b"\n") == 5 * 4 and whole.startswith(b"0,,1700000000")
    lines = prom._SampleLines(view, spans)
    blocks = iter(lambda: lines.read(block), b"")
    assert b"".join(blocks) == whole


def test_a_compact_body_that_is_not_json_is_refused_like_any_other():
    body = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":'
    with pytest.raises(FormatError, match="not valid JSON"):
        parse_prometheus_json(body + b'[[1,"2",]]}]}}')


def _grid(shift: float | None = None, dup: bool = False) -> bytes:
    """Five series at the same six times (a range query's step grid); ``shift`` moves one
    sample of series 2 by a millisecond (2) or by less than the microsecond the times are
    rounded to (below 1), ``dup`` gives every time twice."""
    series = []
    for i in range(5):
        labels = {"__name__": "g", "pod": f"p{i % 3}", "container": f"c{i}"}
        times = [1.7e9 + 15 * (k // 2 if dup else k) for k in range(6)]
        if shift is not None and i == 2:
            times[3] += 0.001 if shift == 2 else shift
        series.append((labels, [(t, str(i * 10 + k)) for k, t in enumerate(times)]))
    return matrix(series)


@pytest.mark.parametrize(
    "body",
    [generated(), _grid(), _grid(shift=2), _grid(shift=2e-7), _grid(dup=True)],
    ids=["shifted-series", "grid", "one-sample-off-grid", "off-by-less-than-1us", "times-twice"],
)
def test_registered_parser_gives_the_samples_in_time_order(body):
    """What obskit.load reads comes in time order (stable: series by series at one time), so
    the load does not sort it again; the public parser keeps series order. Both hold the same
    rows, and the load's Investigation is the same either way. Series all at the same times
    are interleaved without a sort; any other shape is sorted."""
    for payload in (body, pretty(body)):
        series = check(parse_prometheus_json(payload, origin="m.json")).metrics
        timed = check(parse(payload, "prometheus-json", origin="m.json")).metrics
        stamps = timed["timestamp"].to_numpy()
        assert (stamps[1:] >= stamps[:-1]).all()
        assert not (series["timestamp"].to_numpy()[1:] >= series["timestamp"].to_numpy()[:-1]).all()
        expected = series.sort_values("timestamp", kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(timed, expected)


def test_times_a_year_apart_stay_in_series_order_for_the_far_out_check(tmp_path):
    """Rows years away are rejected in series order, as they were before any time order: the
    registered parser leaves such a payload in series order and the load sorts the rest."""
    day = 86_400
    body = matrix(
        [
            ({"__name__": "y", "pod": "a"}, [(1.7e9 + 15 * k, "1") for k in range(20)]),
            ({"__name__": "y", "pod": "a"}, [(1.7e9 + 5 * 365 * day, "9")]),
            ({"__name__": "y", "pod": "b"}, [(1.7e9 - 6 * 365 * day, "8"), (1.7e9 + 7, "2")]),
        ]
    )
    timed = parse(body, "prometheus-json", origin="far.json")
    assert timed.rejects["reason"].str.contains("5.0 years after").tolist() == [True, False]
    path = tmp_path / "far.json"
    path.write_bytes(body)
    inv = obskit.load(path)
    stamps = inv.metrics["timestamp"].to_numpy()
    assert len(inv.metrics) == 21 and (stamps[1:] >= stamps[:-1]).all()
    assert inv.rejects["reason"].str.contains("years").tolist() == [True, True]


def test_the_cyclic_gc_is_paused_while_a_body_is_parsed_and_restored_after(monkeypatch):
    """A full collection in the middle of a load rescans every object of the process (~0.03 s
    in a benchmark child, more in a notebook); the parse pauses it and gives it back, errors
    included."""
    seen = []
    build = prom._metrics_frame

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return build(*args, **kwargs)

    monkeypatch.setattr(prom, "_metrics_frame", spy)
    assert gc.isenabled()
    parse(generated(), "prometheus-json")
    parse_prometheus_json(pretty(generated()))
    assert seen == [False, False] and gc.isenabled()
    with pytest.raises(FormatError):
        parse_prometheus_json(b'{"status":"error","errorType":"bad_data","error":"x"}')
    assert gc.isenabled()


@pytest.mark.parametrize(
    "values",
    [
        ["web-1", None, "Web-1", "é", "a", "web-1", "", "z" * 3, "10", "9"],
        [f"pod-{i % 200}" for i in range(1000)],  # codes wider than int8
        [None, None],
        [],
    ],
)
def test_label_categoricals_are_those_pandas_builds(values):
    """Label columns are numbered through a dict, not pandas' hashing: the same categories in
    the same order (code points), the same codes and their width, missing values missing."""
    expected = pd.Categorical(values)
    once = prom._categorical(values, prom._one_row_each)
    thrice = prom._categorical(values, prom._spread(np.full(len(values), 3)))
    for got, codes in ((once, expected.codes), (thrice, np.repeat(expected.codes, 3))):
        assert got.categories.tolist() == expected.categories.tolist()
        assert got.categories.dtype == expected.categories.dtype
        assert got.codes.dtype == expected.codes.dtype
        np.testing.assert_array_equal(got.codes, codes)


def test_millisecond_timestamps_survive_float_seconds():
    ms = np.arange(1_700_000_000_000, 1_700_000_000_000 + 5_000 * 997, 997)
    body = matrix([({"__name__": "t"}, [(int(m) / 1000, "1") for m in ms])])
    got = parse_prometheus_json(body).metrics["timestamp"].astype("int64").to_numpy()
    np.testing.assert_array_equal(got, ms * 1_000_000)


def test_key_mapping_and_cadvisor_containers():
    body = matrix(
        [
            (
                {
                    "__name__": "c",
                    "namespace": "shop",
                    "pod": "web-1",
                    "container": "web",
                    "kubernetes_node": "node-3",
                    "cluster": "prod",
                    "instance": "10.0.0.3:10250",
                },
                [(1700000000, "1")],
            ),
            (
                {"__name__": "c", "namespace": "shop", "pod": "web-1", "container": ""},
                [(1700000000, "2")],
            ),
            (
                {"__name__": "c", "namespace": "shop", "pod": "web-1", "container": "POD"},
                [(1700000000, "3")],
            ),
            (
                {
                    "__name__": "c",
                    "namespace": "kube-system",
                    "pod_name": "old-1",
                    "container_name": "legacy",
                    "node": "node-1",
                },
                [(1700000000, "4")],
            ),
            (
                {
                    "__name__": "kube_pod_info",
                    "namespace": "monitoring",
                    "pod": "ksm-0",
                    "exported_namespace": "shop",
                    "exported_pod": "web-2",
                },
                [(1700000000, "5")],
            ),
        ]
    )
    m = check(parse_prometheus_json(body)).metrics.set_index("value")
    assert m.loc[1.0, ["cluster", "namespace", "pod", "container", "node"]].tolist() == [
        "prod",
        "shop",
        "web-1",
        "web",
        "node-3",
    ]
    assert m.loc[1.0, "instance"] == "10.0.0.3:10250"
    assert pd.isna(m.loc[2.0, "container"]) and pd.isna(m.loc[2.0, "label_container"])
    assert pd.isna(m.loc[3.0, "container"]) and m.loc[3.0, "label_container"] == "POD"
    assert m.loc[4.0, ["pod", "container", "node"]].tolist() == ["old-1", "legacy", "node-1"]
    assert m.loc[5.0, ["namespace", "pod"]].tolist() == ["shop", "web-2"]
    assert m.loc[5.0, ["label_namespace", "label_pod"]].tolist() == ["monitoring", "ksm-0"]
    assert "" not in m["container"].cat.categories


def test_labels_that_collide_with_columns_are_prefixed():
    labels = {
        "__name__": "x",
        "value": "v",
        "timestamp": "t",
        "metric": "m",
        "source": "s",
        "origin": "o",
        "key_source": "k",
        "format": "f",
        "line": "l",
        "workload": "w",
        "workload_kind": "wk",
        "label_value": "lv",
        "label_app": "la",
    }
    m = check(parse_prometheus_json(matrix([(labels, [(1700000000, "7")])]))).metrics
    row = m.iloc[0]
    assert row["value"] == 7.0 and row["metric"] == "x" and pd.isna(row["workload"])
    for name in (
        "value",
        "timestamp",
        "metric",
        "source",
        "origin",
        "key_source",
        "format",
        "line",
        "workload",
        "workload_kind",
    ):
        assert row[f"label_{name}"] == labels[name], name
    assert row["label_label_value"] == "lv" and row["label_app"] == "la"
    assert row["origin"] == "<bytes>" and row["key_source"] == "record"


def test_series_without_name_use_query_then_file_stem(tmp_path):
    body = matrix([({"pod": "web-1"}, [(1700000000, "0.5")])])
    assert parse_prometheus_json(body).metrics["metric"].tolist() == ["<expr>"]
    named = parse_prometheus_json(body, query="rate(x[5m])")
    assert named.metrics["metric"].tolist() == ["rate(x[5m])"]
    assert any("rate(x[5m])" in n for n in named.notes)
    path = tmp_path / "cpu_by_pod.json"
    path.write_bytes(body)
    result, used = load_file(path)
    assert used == "prometheus-json"
    assert result.metrics["metric"].tolist() == ["cpu_by_pod"]


def test_error_response_raises_with_type_and_message():
    body = b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\""}'
    with pytest.raises(FormatError, match=r"'err\.json'.*errorType 'bad_data'.*invalid parameter"):
        parse_prometheus_json(body, origin="err.json")


def test_not_a_query_response():
    with pytest.raises(FormatError, match="not valid JSON"):
        parse_prometheus_json(b'{"status":"success","data":{"resultType":"matrix","result":[')
    with pytest.raises(FormatError, match="labels"):
        parse_prometheus_json(b'{"status":"success","data":["__name__","job"]}')
    with pytest.raises(FormatError, match="without samples"):
        parse_prometheus_json(b'{"status":"success","data":{"activeTargets":[]}}')


def test_native_histograms_are_rejected_one_per_sample():
    h = {"count": "3", "sum": "1.5", "buckets": [[0, "0.5", "1", "3"]]}
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "a"},
                    "values": [[1700000000, "1"]],
                    "histograms": [[1700000000, h], [1700000015, h]],
                },
                {"metric": {"__name__": "b"}, "histograms": [[1700000000, h]]},
            ],
        },
    }
    body = orjson.dumps(doc)
    for payload in (body, pretty(body)):
        r = check(parse_prometheus_json(payload))
        assert r.records == 4 and len(r.metrics) == 1 and len(r.rejects) == 3
        assert r.rejects["reason"].str.startswith("native histogram sample").all()
        assert "result[0].histograms[1]" in r.rejects["reason"].iloc[1]
    vector = orjson.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {"__name__": "a"}, "histogram": [1700000000, h]}],
            },
        }
    )
    r = check(parse_prometheus_json(vector))
    assert r.records == 1 and len(r.rejects) == 1 and "histogram_quantile" in r.rejects.reason[0]


def test_warnings_and_infos_become_notes():
    body = matrix(
        [({"__name__": "x"}, [(1700000000, "1")])],
        warnings=["partial data"],
        infos=["metric might not be a counter"],
    )
    notes = check(parse_prometheus_json(body)).notes
    assert "Prometheus warning: partial data" in notes
    assert "Prometheus info: metric might not be a counter" in notes


def test_scalar_and_string_results():
    scalar = b'{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"2"]}}'
    r = check(parse_prometheus_json(scalar, query="1+1"))
    assert r.metrics[["metric", "value"]].iloc[0].tolist() == ["1+1", 2.0]
    string = b'{"status":"success","data":{"resultType":"string","result":[1435781451,"hi"]}}'
    r = check(parse_prometheus_json(string))
    assert r.records == 1 and len(r.rejects) == 1 and len(r.metrics) == 0


def test_unreadable_samples_are_rejected_with_their_place():
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "x"},
                    "values": [
                        [1700000000, "1"],
                        [1700000015, "abc"],
                        [1700000030],
                        [1700000045, "4"],
                    ],
                },
                {"metric": {"__name__": 5}, "values": [[1700000000, "1"], [1700000015, "2"]]},
            ],
        },
    }
    for payload in (orjson.dumps(doc), pretty(orjson.dumps(doc))):
        r = check(parse_prometheus_json(payload))
        assert r.records == 6 and r.metrics["value"].tolist() == [1.0, 4.0]
        reasons = r.rejects["reason"].tolist()
        assert reasons[0] == "result[0].values[1]: sample value 'abc' is not a number"
        assert reasons[1].startswith("result[0].values[2]: a sample must be")
        assert reasons[2:] == ["result[1].metric is not an object of string labels"] * 2


def test_empty_result():
    body = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
    r = check(parse_prometheus_json(body))
    assert r.records == 0 and len(r.metrics) == 0


# --- prometheus-text ----------------------------------------------------------------------


def test_text_with_and_without_timestamps():
    text = (
        b"# HELP up Whether the target is up.\n"
        b"# TYPE up gauge\n"
        b'up{job="kubelet",node="node-1"} 1 1395066363000\n'
        b'up{job="kubelet",node="node-2"} 0\n'
        b"\n"
    )
    r = check(parse_prometheus_text(text, scrape_time=SCRAPE))
    m = r.metrics
    assert m["timestamp"].tolist() == [pd.Timestamp("2014-03-17T14:26:03Z"), SCRAPE]
    assert m["node"].tolist() == ["node-1", "node-2"]
    assert m["metric_type"].tolist() == ["gauge", "gauge"]
    assert any("1 of 2 samples carry no timestamp" in n and "scrape_time" in n for n in r.notes)
    with pytest.raises(FormatError, match=r"1 of 2 samples.*line 4.*scrape_time="):
        parse_prometheus_text(text)
    # read as the registered format, the untimed sample takes the scrape's own newest time
    own = check(parse(text, "prometheus-text"))
    assert own.metrics["timestamp"].tolist() == [pd.Timestamp("2014-03-17T14:26:03Z")] * 2
    assert own.stamped["metrics"].tolist() == [False, True]
    assert any("the newest timestamp written in the scrape itself" in n for n in own.notes)
    with pytest.raises(FormatError, match="scrape_time="):
        # no sample has a time and there is no file, so no modification time to fall back on
        parse(b'up{job="kubelet",node="node-2"} 0\n', "prometheus-text")


def test_a_copied_scrape_is_stamped_with_its_own_newest_sample_time(tmp_path):
    # a cAdvisor scrape (real, from cAdvisor's test data): its container series carry
    # timestamps, its machine series do not; copied months later, the copy's modification
    # time must not spread one scrape over months
    source = DATA / "cadvisor" / "prometheus_metrics"
    path = tmp_path / "copied_scrape"
    path.write_bytes(source.read_bytes())
    os.utime(path, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    result, used = load_file(path)
    assert used == "prometheus-text"
    check(result)
    times = result.metrics["timestamp"]
    stamped = result.stamped["metrics"]
    assert stamped.any() and not stamped.all()
    newest = times[~stamped].max()
    assert (times[stamped] == newest).all()
    assert times.max() - times.min() < pd.Timedelta(days=1)
    assert any(
        "samples carry no timestamp" in n and "the newest timestamp written in the scrape" in n
        for n in result.notes
    )


def test_text_from_a_file_uses_its_modification_time(tmp_path):
    path = tmp_path / "scrape.prom"
    path.write_bytes(b'kube_node_info{node="n1"} 1\n')
    os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    result, used = load_file(path)
    assert used == "prometheus-text"
    check(result)
    assert result.metrics["timestamp"].iloc[0].value == 1_700_000_000_123_456_789
    assert any("modification time" in n for n in result.notes)


def test_escapes_special_values_and_histogram_types():
    text = (
        b"# TYPE rpc_seconds histogram\n"
        b'rpc_seconds_bucket{le="0.5",path="C:\\\\dir\\\\",msg="say \\"hi\\"\\nbye"} 3\n'
        b'rpc_seconds_bucket{le="+Inf",path="x",msg=""} 5\n'
        b"rpc_seconds_sum NaN\n"
        b"rpc_seconds_count +Inf\n"
        b"rpc_seconds_created -Inf\n"
        b"# TYPE q summary\n"
        b'q{quantile="0.99"} 1e-3\n'
        b"q_count 2\n"
        b"other_total 1\n"
    )
    m = check(parse_prometheus_text(text, scrape_time=SCRAPE)).metrics
    assert m["path"].iloc[0] == "C:\\dir\\"
    assert m["msg"].iloc[0] == 'say "hi"\nbye'
    assert pd.isna(m["msg"].iloc[1])  # an empty label value is an absent label
    assert m["metric"].tolist()[:5] == ["rpc_seconds_bucket"] * 2 + [
        "rpc_seconds_sum",
        "rpc_seconds_count",
        "rpc_seconds_created",
    ]
    assert m["le"].tolist()[:2] == ["0.5", "+Inf"]
    v = m["value"].to_numpy()
    assert np.isnan(v[2]) and v[3] == np.inf and v[4] == -np.inf and v[5] == 1e-3
    assert m["metric_type"].tolist()[:7] == ["histogram"] * 5 + ["summary"] * 2
    assert pd.isna(m["metric_type"].iloc[7])  # no TYPE line: not declared


def test_malformed_lines_are_rejected_with_line_numbers():
    text = (
        b"# TYPE good gauge\n"  # 1
        b"good 1\n"  # 2
        b'good{a="x" 2\n'  # 3 unclosed brace
        b'good{a="1",a="2"} 3\n'  # 4 duplicate label
        b'good{a="\\q"} 4\n'  # 5 invalid escape
        b"good five\n"  # 6 value not a number
        b"# TYPE bad nonsense\n"  # 7 unknown type
        b"good 6 1.5\n"  # 8 float timestamp in 0.0.4
        b'good{a="ok"} 7 1700000000000\n'  # 9
        b"good\n"  # 10 no value
        b"good{a=b} 8\n"  # 11 unquoted label value
    )
    r = check(parse_prometheus_text(text, scrape_time=SCRAPE))
    assert r.records == 10 and len(r.metrics) == 2
    assert r.rejects["line"].tolist() == [3, 4, 5, 6, 7, 8, 10, 11]
    reasons = dict(zip(r.rejects["line"], r.rejects["reason"], strict=True))
    assert reasons[4] == "label 'a' appears twice"
    assert reasons[5].startswith("invalid escape sequence '\\q'")
    assert reasons[6] == "sample value 'five' is not a number"
    assert reasons[7].startswith("unknown metric type 'nonsense'")
    assert "integer milliseconds" in reasons[8] and "openmetrics=True" in reasons[8]
    assert r.rejects["raw"].iloc[0] == 'good{a="x" 2'


def test_openmetrics_exemplars_eof_and_seconds():
    r = check(parse_prometheus_text((DATA / "openmetrics.txt").read_bytes(), scrape_time=SCRAPE))
    m = r.metrics
    assert len(m) == 9 and r.records == 9
    first = m.iloc[0]
    assert first["metric"] == "http_request_duration_seconds_bucket"
    assert first["metric_type"] == "histogram"
    assert first["exemplar"] == '{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.054 1700000000.123'
    assert first["timestamp"] == SCRAPE
    assert m["metric_type"].iloc[5] == "histogram"  # _created
    pay = m[m["metric"] == "payments_total"]
    assert pay["metric_type"].tolist() == ["counter", "counter"]
    assert pay["timestamp"].iloc[0] == pd.Timestamp("2023-11-14T22:13:20.5Z")
    assert pay["message"].tolist() == ['card "expired"\nretry later', "C:\\payments"]
    after = parse_prometheus_text(b"a 1 1700000000.123456789\n# EOF\nb 2\n", scrape_time=SCRAPE)
    check(after)
    assert after.metrics["timestamp"].iloc[0].value == 1_700_000_000_123_456_789
    assert after.rejects[["line", "reason"]].values.tolist() == [
        [3, "content after '# EOF', which ends an OpenMetrics exposition"]
    ]


def sample_lines(path: Path) -> int:
    """Count samples independently of the parser: non-empty lines not starting with '#'."""
    lines = path.read_text().splitlines()
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))


@pytest.mark.parametrize("name", ["prometheus_metrics", "prometheus_machine_metrics"])
def test_cadvisor_golden_exposition(name):
    path = CADVISOR / name
    r = check(parse_prometheus_text(path.read_bytes(), origin=name, scrape_time=SCRAPE))
    expected = sample_lines(path)
    assert r.records == expected == len(r.metrics) and len(r.rejects) == 0
    m = r.metrics
    stamped = m["timestamp"] == pd.Timestamp(1395066363000, unit="ms", tz="UTC")
    assert stamped.sum() + (m["timestamp"] == SCRAPE).sum() == expected
    assert m["metric_type"].notna().all()
    if name == "prometheus_metrics":
        cpu = m[m["metric"] == "container_cpu_usage_seconds_total"]
        assert cpu["cpu"].tolist() == ["cpu00", "cpu01", "cpu02", "cpu03"]
        assert cpu["value"].tolist() == [2e-09, 3e-09, 4e-09, 5e-09]
        assert (cpu["metric_type"] == "counter").all()
        assert (cpu["id"] == "testcontainer").all() and cpu["pod"].isna().all()
    else:
        core = m[m["metric"] == "machine_cpu_cache_capacity_bytes"]
        assert core["core_id"].isna().sum() == 1  # core_id="" is an absent label


def test_kube_state_metrics_keys():
    r = check(
        parse_prometheus_text((DATA / "kube-state-metrics.txt").read_bytes(), scrape_time=SCRAPE)
    )
    m = r.metrics
    info = m[m["metric"] == "kube_pod_info"]
    assert info[["namespace", "pod", "node"]].values.tolist() == [
        ["shop", "checkout-7d9f8b6c5d-x2x9z", "node-1"],
        ["shop", "payments-5c6d7f8b9-qq8rt", "node-2"],
    ]
    assert "priority_class" not in m.columns  # only ever "", which Prometheus treats as absent
    reason = m[m["metric"] == "kube_pod_container_status_last_terminated_reason"]
    assert reason[["container", "reason"]].values.tolist() == [["checkout", "OOMKilled"]]
    assert m["value"].iloc[-1] == 268435456.0


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ((DATA / "query_range_up.json").read_bytes(), "prometheus-json"),
        ((DATA / "query_up.json").read_bytes(), "prometheus-json"),
        ((DATA / "series_up.json").read_bytes(), "prometheus-json"),
        (generated(), "prometheus-json"),
        ((CADVISOR / "prometheus_metrics").read_bytes(), "prometheus-text"),
        ((CADVISOR / "prometheus_machine_metrics").read_bytes(), "prometheus-text"),
        ((DATA / "openmetrics.txt").read_bytes(), "prometheus-text"),
        ((DATA / "kube-state-metrics.txt").read_bytes(), "prometheus-text"),
        (b'up{job="x"} 1\nup{job="y"} 0\n', "prometheus-text"),
    ],
)
def test_detection_by_content(payload, expected):
    fmt = detect_format(payload, "")
    assert fmt is not None and fmt.name == expected


def test_other_formats_are_not_claimed():
    falco = (
        b'{"hostname":"node-1","output":"shell","priority":"Warning","rule":"Terminal '
        b'shell in container","source":"syscall","time":"2024-01-01T00:00:00Z",'
        b'"output_fields":{}}\n'
    )
    assert prom._sniff_json(falco.decode(), "") == 0.0
    assert prom._sniff_text(falco.decode(), "") == 0.0
    log = "Starting server on port 8080\nlevel=info msg=ready\n"
    assert prom._sniff_text(log, "") == 0.0
    streams = '{"status":"success","data":{"resultType":"streams","result":[]}}'
    assert prom._sniff_json(streams, "") == 0.0


# --- prometheus-text: real expositions from upstream test data (see data/prometheus/SOURCES.md)


def test_real_utf8_family_name_keeps_its_type():
    # node_exporter's textfile-collector test input: Prometheus 3's quoted UTF-8 names
    data = (DATA / "real/node-exporter-utf8-names.prom").read_bytes()
    r = check(parse_prometheus_text(data, scrape_time=SCRAPE))
    row = r.metrics.iloc[0]
    assert (row["metric"], row["metric_type"], row["value"]) == ("my.dotted.metric", "gauge", 1.0)
    assert row["error.message"] == "Not Found"


def test_real_client_golang_openmetrics_scrape():
    # client_golang's random example scraped as OpenMetrics: negative buckets, exemplars with
    # timestamps, _created series of counters, histograms and summaries
    r = check(
        parse_prometheus_text((DATA / "real/omtestdata.txt").read_bytes(), scrape_time=SCRAPE)
    )
    m = r.metrics
    assert len(m) == 53 and r.records == 53 and len(r.rejects) == 0
    buckets = m[m["metric"] == "rpc_durations_histogram_seconds_bucket"]
    assert buckets["le"].iloc[0] == "-0.00099" and buckets["le"].iloc[-1] == "+Inf"
    assert buckets["exemplar"].iloc[7] == (
        '{dummyID="17783"} -0.0003825067330956884 1.7268398142239082e+09'
    )
    created = m[m["metric"] == "rpc_durations_seconds_created"]
    assert created["metric_type"].tolist() == ["summary"] * 3
    assert created["value"].iloc[0] == 1.7268398130168908e09
    assert (m["timestamp"] == SCRAPE).all()


def test_openmetrics_spec_stateset_and_info_keep_their_types():
    stateset = check(
        parse_prometheus_text((DATA / "real/om-spec-stateset.txt").read_bytes(), scrape_time=SCRAPE)
    ).metrics
    assert set(stateset["metric_type"]) == {"stateset"}
    on = stateset[stateset["value"] == 1.0]
    assert list(zip(on["entity"], on["foo"], strict=True)) == [
        ("controller", "a"),
        ("replica", "a"),
        ("replica", "ccc"),
    ]
    info = check(
        parse_prometheus_text((DATA / "real/om-spec-info.txt").read_bytes(), scrape_time=SCRAPE)
    ).metrics
    assert info["metric"].tolist() == ["foo_info", "foo_info"]
    assert set(info["metric_type"]) == {"info"}
    assert info["version"].tolist() == ["8.2.7", "8.1.9"]
