"""Metric anomalies: robust scores against a baseline, onsets, peers, and the onset finder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import obskit
from obskit.analysis.anomalies import anomalies, detect_onset, series_matrix

T0 = pd.Timestamp("2024-01-01T00:00:00Z")


def _metrics(step_at: int = 40, n: int = 60, new_pod: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for pod in ("web-a", "web-b", "db-0"):
        values = 1.0 + 0.05 * rng.standard_normal(n)
        if pod == "web-a":
            values[step_at:] += 2.0
        for i, v in enumerate(values):
            rows.append((T0 + pd.Timedelta(seconds=30 * i), "cpu", v, pod))
    if new_pod:
        for i in range(step_at, n):
            rows.append((T0 + pd.Timedelta(seconds=30 * i), "cpu", 5.0, "web-c"))
    frame = pd.DataFrame(rows, columns=["timestamp", "metric", "value", "pod"])
    frame["namespace"] = "shop"
    frame["workload"] = frame["pod"].str.split("-").str[0]
    return frame


def test_step_is_found_with_onset_direction_and_both_scores():
    inv = obskit.Investigation(metrics=_metrics())
    at = T0 + pd.Timedelta(seconds=30 * 40)
    out = anomalies(inv, at=at)
    assert out["anomalous"].sum() == 1
    row = out.iloc[0]
    assert row["pod"] == "web-a"
    assert row["direction"] == "up"
    assert row["onset"] == at
    assert row["score"] > 10 and row["nsigma"] > 10 and row["confirmed"]
    assert row["baseline"] == pytest.approx(1.0, abs=0.05)
    assert out.attrs["at"] == at and out.attrs["at_source"] == "given"


def test_onset_is_detected_when_at_is_unknown():
    inv = obskit.Investigation(metrics=_metrics(step_at=40))
    out = inv.anomalies()
    assert abs(out.attrs["at"] - (T0 + pd.Timedelta(seconds=1200))) <= pd.Timedelta("1min")
    assert "detected" in out.attrs["at_source"]
    assert out.iloc[0]["pod"] == "web-a"


def test_new_series_is_measured_against_its_peers():
    inv = obskit.Investigation(metrics=_metrics(new_pod=True))
    out = anomalies(inv, at=T0 + pd.Timedelta(seconds=1200))
    new = out[out["pod"] == "web-c"].iloc[0]
    assert new["baseline_from"] == "peers"
    assert new["anomalous"] and new["direction"] == "up"


def test_a_new_pod_with_no_workload_peers_is_measured_against_its_nodes_other_pods():
    metrics = _metrics().assign(node="node-0")
    job = pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(np.arange(40, 60) * 30, unit="s"),
            "metric": "cpu",
            "value": 6.0,
            "pod": "report-28391-x7k2p",
            "namespace": "shop",
            "workload": "report-28391",
            "node": "node-0",
        }
    )
    elsewhere = job.assign(pod="report-28392-q9v4z", workload="report-28392", node="node-1")
    inv = obskit.Investigation(metrics=pd.concat([metrics, job, elsewhere]))
    out = anomalies(inv, at=T0 + pd.Timedelta(seconds=1200))
    row = out[out["pod"] == "report-28391-x7k2p"].iloc[0]
    assert row["baseline_from"] == "node peers"
    assert row["anomalous"] and row["direction"] == "up"
    assert row["baseline"] == pytest.approx(1.0, abs=0.05)
    # a node with no other pods gives no baseline: nothing to compare with
    lone = out[out["pod"] == "report-28392-q9v4z"]
    assert lone.empty or lone.iloc[0]["baseline_from"] not in ("peers", "node peers")


def test_telemetry_begun_just_before_the_onset_is_measured_against_the_other_pods_change():
    # the recording began two samples before the onset: no pod has a baseline of its own. The
    # load rose every pod's cpu by a tenth; web's tripled.
    rng = np.random.default_rng(3)
    rows = []
    levels = {"web-0": 16.0, "ads-0": 4.0, "cart-0": 8.0, "db-0": 30.0, "mail-0": 2.0}
    for pod, level in levels.items():
        for i in range(7):
            after = i >= 2
            value = level * (1.0 + 0.02 * rng.standard_normal()) * (1.1 if after else 1.0)
            value *= 3.0 if after and pod == "web-0" else 1.0
            rows.append((T0 + pd.Timedelta(seconds=60 * i), "CpuUsageRate(%)", value, pod))
    frame = pd.DataFrame(rows, columns=["timestamp", "metric", "value", "pod"])
    frame["namespace"] = "shop"
    frame["workload"] = frame["pod"].str.split("-").str[0]
    out = anomalies(obskit.Investigation(metrics=frame), at=T0 + pd.Timedelta(seconds=120))
    out = out.set_index("pod")
    assert (out["baseline_from"] == "peers' change").all()
    assert out.loc["web-0", "anomalous"] and out.loc["web-0", "direction"] == "up"
    assert out.loc["web-0", "baseline"] == pytest.approx(16.0 * 1.1, rel=0.05)
    assert not out.drop(index="web-0")["anomalous"].any()
    found = obskit.Investigation(metrics=frame).suspects(at=T0 + pd.Timedelta(seconds=120))
    assert found["pod"].iloc[0] == "web-0"
    said = found["evidence"].iloc[0][0]
    assert said.startswith("CpuUsageRate(%) up from 17.6% to 53.2% (")
    assert "its series began just before the onset: measured against how far the other" in said
    # with fewer than three other pods to compare with, there is no baseline at all
    few = frame[frame["pod"].isin(["web-0", "ads-0", "cart-0"])]
    out = anomalies(obskit.Investigation(metrics=few), at=T0 + pd.Timedelta(seconds=120))
    assert (out["direction"] == "new").all() and not out["anomalous"].any()


def test_series_matrix_bins_and_keeps_labels():
    frame = _metrics()
    frame["code"] = "200"
    sm = series_matrix(obskit.Investigation(metrics=frame).metrics)
    assert sm.values.shape == (60, 3)
    assert sm.step == pd.Timedelta("30s")
    assert set(sm.series["labels"]) == {"code=200"}


def test_detect_onset_skips_a_lone_early_blip():
    times = pd.Series(
        pd.to_datetime(
            [
                "2024-01-01T08:00Z",
                "2024-01-01T10:00Z",
                "2024-01-01T10:02Z",
                "2024-01-01T10:06Z",
                "2024-01-01T10:07Z",
            ],
            utc=True,
        )
    )
    assert detect_onset(times) == pd.Timestamp("2024-01-01T10:00Z")
    assert detect_onset(pd.Series([], dtype="datetime64[ns, UTC]")) is None


def test_bad_at_says_what_to_pass():
    inv = obskit.Investigation(metrics=_metrics())
    with pytest.raises(obskit.InvestigationError, match="at must be a timestamp"):
        anomalies(inv, at="yesterday-ish")
    with pytest.raises(obskit.InvestigationError, match="baseline must be a duration"):
        anomalies(inv, at=T0, baseline="a while")


def test_began_goes_back_to_a_build_up_but_not_to_an_old_unrelated_blip():
    n = 240  # two hours at 30 s
    t = T0 + pd.to_timedelta(np.arange(n) * 30, unit="s")
    rng = np.random.default_rng(3)
    leak = 1.0 + 0.02 * rng.standard_normal(n)
    leak[170:] += np.linspace(0, 3, n - 170)  # climbs from 5 min before the onset
    blip = 1.0 + 0.02 * rng.standard_normal(n)
    blip[60:62] += 2.0  # an hour before the onset
    blip[180:] += 2.0
    frame = pd.concat(
        [
            pd.DataFrame({"timestamp": t, "metric": "mem", "value": leak, "pod": "leaky"}),
            pd.DataFrame({"timestamp": t, "metric": "mem", "value": blip, "pod": "blip"}),
        ]
    )
    at = t[180]
    out = anomalies(obskit.Investigation(metrics=frame), at=at).set_index("pod")
    assert at - pd.Timedelta("6min") < out.loc["leaky", "began"] < at
    assert out.loc["blip", "began"] == out.loc["blip", "onset"] == at


def test_a_climb_that_sank_back_before_the_series_own_onset_does_not_date_it():
    n = 240  # two hours at 30 s
    t = T0 + pd.to_timedelta(np.arange(n) * 30, unit="s")
    rng = np.random.default_rng(4)
    # both creep up over the 5 minutes before the onset; "drift" sinks back to its baseline at
    # the onset and only jumps 5 minutes later (something else), "leak" keeps climbing into it
    drift = 1.0 + 0.02 * rng.standard_normal(n)
    drift[170:180] += np.linspace(0.05, 0.3, 10)
    drift[190:] += 3.0
    leak = 1.0 + 0.02 * rng.standard_normal(n)
    leak[170:] += np.linspace(0.05, 4, n - 170)
    frame = pd.concat(
        [
            pd.DataFrame({"timestamp": t, "metric": "mem", "value": drift, "pod": "drift"}),
            pd.DataFrame({"timestamp": t, "metric": "mem", "value": leak, "pod": "leak"}),
        ]
    )
    at = t[180]
    out = anomalies(obskit.Investigation(metrics=frame), at=at).set_index("pod")
    assert out.loc["drift", "onset"] == t[190]
    assert out.loc["drift", "began"] == t[190]
    assert at - pd.Timedelta("6min") < out.loc["leak", "began"] < at


def _bucketed_p99(pod: str, after: float, n: int = 60, step_at: int = 40) -> pd.DataFrame:
    """A P99 read off a histogram: all requests in the 5-10 ms bucket, so it sits on
    5 + 5 * 0.99 = 9.95 ms (now and then one request in the next bucket), then moves."""
    values = np.full(n, 0.00995)
    values[[7, 23, 31]] = 0.0248
    values[step_at:] = after
    return pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(np.arange(n) * 30, unit="s"),
            "metric": "PodServerLatencyP99(s)",
            "value": values,
            "pod": pod,
            "namespace": "shop",
            "workload": pod.split("-")[0],
        }
    )


def test_a_quantile_sitting_on_a_histogram_value_is_scored_in_multiples_of_it():
    one_bucket = _bucketed_p99("web-1", 0.0248)  # to the next bucket's point: 2.5x
    many = _bucketed_p99("cart-1", 0.226)  # four buckets up: 22.7x
    inv = obskit.Investigation(metrics=pd.concat([one_bucket, many]))
    out = anomalies(inv, at=T0 + pd.Timedelta(seconds=1200), all_series=True).set_index("pod")
    assert out["bucketed"].all() and out["flat"].all()
    # against the 5% floor the one-bucket move would be 30 "IQRs"; in its own value it is 1.5
    assert out.loc["web-1", "score"] == pytest.approx(1.49, abs=0.01)
    assert not out.loc["web-1", "anomalous"]
    assert out.loc["cart-1", "score"] == pytest.approx(21.7, abs=0.1)
    assert out.loc["cart-1", "anomalous"]
    # a latency that is not a quantile, sitting as still, keeps the floor
    mean = one_bucket.assign(metric="PodServerLatencyMean(s)")
    plain = anomalies(obskit.Investigation(metrics=mean), at=T0 + pd.Timedelta(seconds=1200))
    assert not plain["bucketed"].any() and plain.loc[0, "score"] > 20
