"""The live Prometheus client against a real Prometheus server (Debian's package) on 127.0.0.1.

The server holds the bundled ``checkout-oom`` incident, backfilled from the same files the file
loader reads (see ``conftest.py``), so the live frame must equal the file frame sample for
sample; and a 21,600-sample series for ranges longer than Prometheus' 11,000-points limit.
"""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import obskit
from obskit.errors import CollectionError
from obskit.live import Prometheus, collect
from tests.live.conftest import (
    INCIDENT,
    LONG_METRIC,
    LONG_SAMPLES,
    LONG_START,
    file_stem,
    loopback,
    metric_files,
    reply,
    series_name,
)

WINDOW = ("2024-05-14T08:30:00Z", "2024-05-14T10:30:00Z")


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order, label columns in name order, categories as plain values."""
    frame = frame.drop(columns=["origin"]).dropna(axis=1, how="all")
    frame = frame.reindex(sorted(frame.columns), axis=1)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    keys = [c for c in frame.columns if c not in ("value",)]
    return frame.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


@pytest.fixture(scope="module")
def prom(prometheus_server) -> Prometheus:
    return Prometheus(prometheus_server.url)


def test_collect_returns_exactly_what_the_file_loader_returns(prom):
    """Every sample of the incident, fetched live, equals the file loader's frame.

    A file of an expression's answer (``x.rate5m.json``) has series without ``__name__``; the
    live query ``<stored name> + 0`` answers the same way, so both are named by the query set.
    """
    queries = {}
    for path in metric_files():
        stem, stored = file_stem(path), series_name(path)
        queries[stem] = stem if stem == stored else f"{stored} + 0"
    live = collect(*WINDOW, prometheus=prom, queries=queries, step="30s", progress=False)
    files = obskit.load(INCIDENT / "metrics")
    assert len(live.metrics) == len(files.metrics) == 51_452
    pd.testing.assert_frame_equal(comparable(live.metrics), comparable(files.metrics))
    assert live.files["balanced"].all() and len(live.files) == len(queries)
    assert live.files["origin"].str.startswith(prom.url + "/api/v1/query_range?query=").all()
    assert (live.start, live.end) == tuple(pd.Timestamp(t) for t in WINDOW)


def test_namespaces_are_pushed_down_into_the_selectors(prom):
    queries = {"kube_pod_status_phase": "kube_pod_status_phase{$ns}"}
    live = collect(*WINDOW, prometheus=prom, queries=queries, namespaces=["shop"], progress=False)
    assert 'namespace=~"shop"' in live.files["origin"].iloc[0]
    files = obskit.load(INCIDENT / "metrics").metrics
    expected = files[(files["metric"] == "kube_pod_status_phase") & (files["namespace"] == "shop")]
    assert len(expected) > 0
    # the samples and their labels; not what enrichment adds from the other series
    derived = ["node", "workload_kind", "workload", "key_source"]
    pd.testing.assert_frame_equal(
        comparable(live.metrics.drop(columns=derived)), comparable(expected.drop(columns=derived))
    )


def test_range_over_11000_points_is_chunked_and_stitched(prom, prometheus_server):
    """21,600 one-second steps: two requests, every sample once, nothing missing."""
    calls = []
    request = prom.http.request

    def spy(*args, **kwargs):
        calls.append(args[1])
        return request(*args, **kwargs)

    prom.http.request = spy
    try:
        df = prom.query_range(LONG_METRIC, LONG_START, LONG_START + LONG_SAMPLES - 1, step="1s")
    finally:
        del prom.http.request
    assert len(calls) == 2
    assert len(df) == LONG_SAMPLES
    assert df["timestamp"].is_unique and df["timestamp"].is_monotonic_increasing
    assert df["value"].tolist() == [float(i) for i in range(LONG_SAMPLES)]


@pytest.mark.parametrize(("step", "chunk"), [("1s", 997), ("7s", 13), ("1s", 1)])
def test_chunk_edges_equal_one_query(prometheus_server, step, chunk):
    """Where one request fits, any chunking gives the same frame (rate() included)."""
    whole = Prometheus(prometheus_server.url)
    small = Prometheus(prometheus_server.url, max_points=chunk, max_workers=3)
    end = LONG_START + (10_000 if chunk > 1 else 300)
    for promql in (LONG_METRIC, f"rate({LONG_METRIC}[1m])"):
        expected = whole.query_range(promql, LONG_START + 61, end, step=step)
        got = small.query_range(promql, LONG_START + 61, end, step=step)
        assert len(expected) > 0
        pd.testing.assert_frame_equal(got, expected)


def test_long_selectors_go_as_post(prom, caplog):
    caplog.set_level(logging.DEBUG, logger="obskit.live")
    values = "|".join(["long"] + [f"value-{i:04d}" for i in range(300)])
    promql = f'{LONG_METRIC}{{case=~"{values}"}}'
    assert len(promql) > 2000
    df = prom.query_range(promql, LONG_START, LONG_START + 59, step="1s")
    assert len(df) == 60
    assert any(r.getMessage().startswith("POST ") for r in caplog.records)


def test_instant_query_and_series(prom):
    df = prom.query(LONG_METRIC, time=LONG_START + 100)
    assert df["value"].tolist() == [100.0]
    series = prom.series(LONG_METRIC, LONG_START, LONG_START + 10)
    assert series.to_dict("records") == [{"__name__": LONG_METRIC, "case": "long"}]


def test_bad_query_names_url_query_and_fix(prom):
    with pytest.raises(CollectionError) as info:
        prom.query_range("sum(rate(", *WINDOW)
    message = str(info.value)
    assert prom.url + "/api/v1/query_range" in message
    assert "'sum(rate('" in message and "bad_data" in message and "fix the query" in message


def test_a_chunk_over_the_samples_budget_is_halved():
    """Recorded-format answers on loopback: 422 'too many samples' for chunks over 4 steps."""
    asked = []

    def handle(request):
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        start, end = float(q["start"]), float(q["end"])
        asked.append((start, end))
        if end - start > 3:
            return reply(
                request,
                422,
                {
                    "status": "error",
                    "errorType": "execution",
                    "error": "query processing would load too many samples into memory in "
                    "query execution",
                },
            )
        values = [[start + i, str(start + i)] for i in range(int(end - start) + 1)]
        body = {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"__name__": "x"}, "values": values}],
            },
        }
        return reply(request, 200, body)

    with loopback(handle) as server:
        prom = Prometheus(server.url, max_points=10)
        df = prom.query_range("x", 1000, 1019, step="1s")
    assert df["value"].tolist() == [float(t) for t in range(1000, 1020)]
    assert len(asked) > 2
