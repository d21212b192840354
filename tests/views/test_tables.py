"""Events and logs tables: most severe first, then newest; readable columns; focus and window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import obskit
from obskit import InvestigationError
from obskit.views import events_table, latency_table, logs_table, readable, rejects_table


def _is_most_severe_then_newest(table: pd.DataFrame, level: str) -> bool:
    rank = table[level].cat.codes.to_numpy()  # ordered scale; missing (-1) sorts last
    pairs = list(zip(-rank, -table["time"].astype("int64").to_numpy(), strict=True))
    return pairs == sorted(pairs)


def test_events_table_order_and_columns(checkout):
    table = events_table(checkout, limit=None)
    assert list(table.columns) == [
        "time",
        "severity",
        "source",
        "reason",
        "object",
        "where",
        "message",
        "user",
        "verb",
        "count",
    ]
    assert len(table) == len(checkout.events)
    assert _is_most_severe_then_newest(table, "severity")
    assert table["severity"].iloc[0] == "warning"


def test_events_table_focus_window_and_floor(checkout):
    focus = {"namespace": "shop", "workload": "checkout"}
    table = events_table(checkout, focus, start="2024-05-14T09:00Z", min_severity="warning")
    assert set(table["severity"]) == {"warning"}
    assert table["where"].str.startswith("shop/checkout-").all()
    assert (table["time"] >= pd.Timestamp("2024-05-14T09:00Z")).all()


def test_events_table_names_falco_rules(hostile):
    table = events_table(hostile)
    assert "Terminal shell in container" in set(table["reason"])
    assert table["object"].iloc[0] == "Pod/web-5d8f6c7b9-x2x9z"


def test_logs_table_order_and_limit(checkout):
    table = logs_table(checkout, {"namespace": "shop", "workload": "checkout"}, limit=50)
    assert len(table) == 50
    assert list(table.columns) == [
        "time",
        "level",
        "namespace",
        "pod",
        "container",
        "node",
        "message",
        "origin",
        "line",
    ]
    assert set(table["level"]) == {"error"}
    assert _is_most_severe_then_newest(logs_table(checkout, limit=None), "level")


def test_tables_through_the_investigation(checkout):
    assert checkout.logs_table(min_level="error", limit=3)["level"].tolist() == ["error"] * 3
    assert len(checkout.events_table(limit=2)) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_level": "loud"}, "min_level must be one of debug, info"),
        ({"limit": 0}, "limit must be a positive integer or None"),
    ],
)
def test_table_errors(checkout, kwargs, match):
    with pytest.raises(InvestigationError, match=match):
        logs_table(checkout, **kwargs)


def test_logs_table_does_not_show_the_analysts_own_folders():
    import obskit

    inv = obskit.load(Path(__file__).parents[1] / "data/cri", cluster="c")
    origins = set(inv.logs_table(limit=None)["origin"])
    assert all(o.startswith("var/log/pods/shop_") for o in origins)
    assert all(str(Path(__file__).parents[1]) in o for o in inv.logs["origin"].astype(str))


def test_rejects_show_origins_relative_to_the_source_never_absolute():
    source = obskit.datasets.path("checkout-oom")
    inv = obskit.load(source)
    relative = rejects_table(inv, source=source)
    assert list(relative.columns) == ["format", "origin", "line", "reason"]
    assert len(relative) == len(inv.rejects)
    assert "audit/audit.log" in set(relative["origin"])
    shortened = rejects_table(inv)  # without the source: the file and two folders above it
    assert "checkout-oom/audit/audit.log" in set(shortened["origin"])
    for table in (relative, shortened):
        assert not table["origin"].str.startswith("/").any()


# --- what an analyst reads: message fields, patterns, rollouts, readable values -------------


@pytest.fixture(scope="module")
def miner() -> obskit.Investigation:
    return obskit.datasets.load("cryptominer")


STOREFRONT = {"namespace": "web", "pod": "storefront-b6rzdb2j9g-mq658"}


def test_logs_table_shows_the_message_field_of_json_lines(miner):
    raw = miner.focus(**STOREFRONT).logs["message"].astype(str)
    assert raw.str.startswith('{"level"').mean() > 0.9  # the container logs JSON
    table = logs_table(miner, STOREFRONT, min_level="error", limit=None)
    assert len(table) == int((miner.focus(**STOREFRONT).logs["level"] >= "error").sum())
    assert not table["message"].str.startswith("{").any()
    assert "render failed: worker pool saturated" in set(table["message"])


def test_log_patterns_count_every_line_and_come_before_examples(miner):
    from obskit.views.tables import log_patterns_table

    lines = miner.focus(**STOREFRONT).logs
    table = log_patterns_table(miner, STOREFRONT, limit=None)
    assert list(table.columns)[:3] == ["count", "level", "pattern"]
    assert list(table.columns)[-1] == "example"
    assert table["count"].sum() == len(lines)  # every line is in one pattern
    assert not table.duplicated(["pattern", "level"]).any()
    # the most severe patterns first, the most frequent first within a level
    ranks = list(zip(-table["level"].cat.codes, -table["count"], strict=True))
    assert ranks == sorted(ranks)
    saturated = table.loc[table["example"] == "render failed: worker pool saturated"]
    assert len(saturated) == 1 and saturated["level"].iloc[0] == "error"
    assert (table["first"] <= table["last"]).all()


def test_rollouts_table_lists_each_replicaset_with_its_images(rollout):
    from obskit.views.tables import rollouts_table

    table = rollouts_table(rollout, {"namespace": "payments", "workload": "payment-api"})
    assert table["replicaset"].tolist() == ["payment-api-tf7r6zptx", "payment-api-xgt56zhxx"]
    assert table["created"].is_monotonic_decreasing
    assert table["images"].notna().all() and table["revision"].notna().all()
    sets = rollout.inventory["kind"] == "ReplicaSet"
    assert len(rollouts_table(rollout)) == int(sets.sum())


def test_readable_shows_utc_seconds_and_no_missing_markers(miner):
    from obskit.views.tables import MISSING, readable

    shown = readable(miner.events_table(limit=None))
    assert shown.columns[0] == "time (UTC)"
    assert shown["time (UTC)"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    html = shown.to_html()
    for marker in ("NaN", "None", "NaT", "<NA>", "nan"):
        assert f">{marker}<" not in html
    assert (shown["user"] == MISSING).any()
    assert not shown["count"].str.endswith(".0").any()
    local = pd.DataFrame({"t": pd.to_datetime(["2024-01-01T10:00:00.9+02:00"])})
    assert readable(local)["t (UTC)"].tolist() == ["2024-01-01 08:00:00"]


def test_a_plain_line_quoting_json_keeps_all_its_text():
    lines = [
        '{"level":"error","msg":"db down"}',
        'level=error msg="pool full" path=/a',
        'ERROR token=abc | {"msg":"only a fragment"}',
    ]
    inv = obskit.Investigation(
        logs=pd.DataFrame(
            {
                "timestamp": ["2024-01-01T00:00:00Z"] * 3,
                "namespace": ["shop"] * 3,
                "pod": ["web-1"] * 3,
                "message": lines,
            }
        )
    )
    shown = set(logs_table(inv)["message"])
    assert shown == {"db down", "pool full", lines[2]}


def test_latency_table_puts_the_bad_rollouts_workload_first(rollout):
    truth = obskit.datasets.truth("bad-rollout")
    onset = pd.Timestamp(truth["fault_start"])
    table = latency_table(rollout, at=onset)
    assert table.attrs["window"] == (onset, None)
    first = table.iloc[0]
    assert (first["namespace"], first["workload"]) == ("payments", truth["root_cause"]["workload"])
    assert (first["metric"], first["unit"]) == ("http_request_duration_seconds.p99", "ms")
    # the p99 in seconds shown in milliseconds: about 83 ms before, over 2 s after
    assert 70 < first["baseline"] < 100 and first["window"] > 1500
    assert first["change"] == pytest.approx(first["window"] / first["baseline"])
    assert first["change"] > 10 and first["peak"] >= first["window"]
    assert first["peak_time"] >= onset
    # the workloads the rollout did not touch stay near their baseline
    calm = table[~table["workload"].isin(["payment-api", "orders-api"])]
    assert len(calm) >= 3 and calm["change"].between(0.8, 1.2).all()
    # without `at` the window starts at the onset the suspects use
    assert latency_table(rollout).attrs["window"][0] == rollout.suspects().attrs["at"]
    shown = readable(table)
    assert "nan" not in shown.to_string().lower() and "peak_time (UTC)" in shown


def test_latency_table_picks_latency_metrics_units_and_missing_baselines():
    t = pd.date_range("2024-01-01T00:00:00Z", periods=6, freq="1min")
    frame = []
    for i, ts in enumerate(t):
        slow = i >= 3
        frame += [
            (ts, "http_request_duration_seconds.p99", "web", "web-1", 0.3 if slow else 0.1),
            (ts, "http_request_duration_seconds.p99", "web", "web-2", 0.5 if slow else 0.1),
            (ts, "rpc_latency_milliseconds", "api", "api-1", 20.0),
            (ts, "http_request_duration_seconds_count", "web", "web-1", 1000.0 * i),
            (ts, "http_request_duration_seconds_bucket", "web", "web-1", 5.0),
            (ts, "container_cpu_usage_seconds_total.rate5m", "web", "web-1", 9.0),
        ]
        if slow:  # a workload that appeared in the window: no baseline
            frame.append((ts, "http_request_duration_seconds.p99", "new", "new-1", 0.2))
    metrics = pd.DataFrame(frame, columns=["timestamp", "metric", "workload", "pod", "value"])
    inv = obskit.Investigation(metrics=metrics.assign(namespace="shop"))
    table = latency_table(inv, at="2024-01-01T00:03:00Z").set_index("workload")
    # histogram parts and other metrics are not latencies
    assert set(table["metric"]) == {"http_request_duration_seconds.p99", "rpc_latency_milliseconds"}
    web = table.loc["web"]
    assert (web["pods"], web["unit"]) == (2, "ms")
    assert web["baseline"] == pytest.approx(100.0) and web["window"] == pytest.approx(400.0)
    assert web["peak"] == pytest.approx(500.0) and web["change"] == pytest.approx(4.0)
    assert web["peak_time"] == pd.Timestamp("2024-01-01T00:03:00Z")
    api = table.loc["api"]
    assert (api["unit"], api["baseline"], api["change"]) == ("ms", 20.0, 1.0)
    assert pd.isna(table.loc["new", "baseline"]) and pd.isna(table.loc["new", "change"])
    assert table.index.tolist() == ["web", "api", "new"]  # the biggest change first
    # a window given by start and end, a baseline of one minute, and a focus
    windowed = latency_table(
        inv,
        {"workload": "web"},
        start="2024-01-01T00:03:00Z",
        end="2024-01-01T00:03:30Z",
        baseline="1min",
    )
    assert windowed["workload"].tolist() == ["web"]
    assert windowed["window"].iloc[0] == pytest.approx(400.0)
    assert windowed["baseline"].iloc[0] == pytest.approx(100.0)
    with pytest.raises(InvestigationError, match="baseline"):
        latency_table(inv, at="2024-01-01T00:03:00Z", baseline="soon")
    assert latency_table(obskit.Investigation()).empty
