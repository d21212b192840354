"""Root-cause suspects: the bundled incidents, and time order, hierarchy, rollouts, hints."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import obskit
from obskit.analysis.rca import suspects

T0 = pd.Timestamp("2024-01-01T00:00:00Z")
N = 80  # samples of 30 s


def _series(pod, workload, node, metric="cpu", step_at=None, jump=2.0, seed=0, **labels):
    rng = np.random.default_rng(seed)
    values = 1.0 + 0.05 * rng.standard_normal(N)
    if step_at is not None:
        values[step_at:] += jump
    frame = pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(np.arange(N) * 30, unit="s"),
            "metric": metric,
            "value": values,
            "pod": pod,
            "workload": workload,
            "node": node,
            "namespace": "shop" if pod else None,
            "workload_kind": "Deployment" if pod else None,
        }
    )
    return frame.assign(**labels)


def _quiet_pods(seed=10):
    return [_series(f"quiet-{i}", f"quiet{i}", f"node-{i % 3}", seed=seed + i) for i in range(4)]


# --- bundled incidents ------------------------------------------------------------------------

_TRUTH_KEY = {
    "node": ["node"],
    "workload": ["namespace", "workload"],
    "pod": ["namespace", "pod"],
    "container": ["namespace", "pod", "container"],
}


@pytest.fixture(scope="module", params=obskit.datasets.names())
def incident(request):
    name = request.param
    return name, obskit.datasets.load(name), obskit.datasets.truth(name)


def test_top_suspect_is_the_truth_on_every_bundled_incident(incident):
    name, inv, truth = incident
    out = inv.suspects()
    best = out.iloc[0]
    assert best["entity_kind"] == truth["level"], (name, out.head(3))
    for column in _TRUTH_KEY[truth["level"]]:
        assert best[column] == truth["root_cause"][column], (name, column)
    # finer key columns are empty for a node or a workload
    if truth["level"] in ("node", "workload"):
        assert pd.isna(best["pod"]) and pd.isna(best["container"])
    # the time used is said, and it is near the fault
    assert out.attrs["at_source"].startswith("detected")
    assert (out["at"] == out.attrs["at"]).all()
    assert abs(out.attrs["at"] - pd.Timestamp(truth["fault_start"])) < pd.Timedelta("20min")


def test_given_at_is_used_and_the_answer_holds(incident):
    name, inv, truth = incident
    out = suspects(inv, at=truth["fault_start"])
    assert out.attrs["at"] == pd.Timestamp(truth["fault_start"])
    assert out.attrs["at_source"] == "given"
    best = out.iloc[0]
    assert best["entity_kind"] == truth["level"]
    for column in _TRUTH_KEY[truth["level"]]:
        assert best[column] == truth["root_cause"][column], (name, column)


def test_evidence_is_present_and_explained(incident):
    name, inv, truth = incident
    best = inv.suspects(top=3).iloc[0]
    assert len(best["evidence"]) >= 2
    assert all(isinstance(line, str) and line for line in best["evidence"])
    assert pd.notna(best["first_anomaly"]) and best["score"] > 0
    label = (
        truth["root_cause"]["workload"] or truth["root_cause"]["pod"] or truth["root_cause"]["node"]
    )
    assert label in best["reason"] and best["reason"].endswith(".")
    expected = {
        "checkout-oom": "termination",
        "bad-rollout": "change",
        "cryptominer": "security",
        "falco-disabled": "metric",
        "node-pressure": "event",
    }[name]
    assert expected in best["kinds"]


# --- constructed behaviours -------------------------------------------------------------------


def test_the_entity_that_went_anomalous_first_outranks_its_follower():
    metrics = pd.concat(
        [
            _series("api-1", "api", "node-0", step_at=40, seed=1),
            _series("db-1", "db", "node-1", step_at=46, seed=2),
            *_quiet_pods(),
        ]
    )
    out = suspects(obskit.Investigation(metrics=metrics), at=T0 + pd.Timedelta(seconds=1200))
    assert out["pod"].tolist()[:2] == ["api-1", "db-1"]
    assert "first to go anomalous" in out.iloc[0]["reason"]
    assert out.iloc[0]["first_anomaly"] < out.iloc[1]["first_anomaly"]


def test_a_node_whose_disk_filled_first_explains_its_pods():
    at = T0 + pd.Timedelta(seconds=1200)
    metrics = pd.concat(
        [
            _series(
                None,
                None,
                "node-0",
                metric="node_filesystem_avail_bytes",
                step_at=38,
                jump=-0.9,
                seed=3,
            ),
            _series("a-1", "a", "node-0", step_at=44, seed=4),
            _series("b-1", "b", "node-0", step_at=45, seed=5),
            *_quiet_pods(),
        ]
    )
    events = pd.DataFrame(
        {
            "timestamp": [
                at + pd.Timedelta("2min"),
                at + pd.Timedelta("4min"),
                at + pd.Timedelta("5min"),
            ],
            "source": "kubernetes",
            "severity": ["warning"] * 3,
            "reason": ["NodeHasDiskPressure", "Evicted", "Evicted"],
            "object_kind": ["Node", "Pod", "Pod"],
            "object_name": ["node-0", "a-1", "b-1"],
            "node": "node-0",
            "namespace": [None, "shop", "shop"],
            "pod": [None, "a-1", "b-1"],
            "workload": [None, "a", "b"],
            "message": ["disk pressure", "evicted", "evicted"],
        }
    )
    inv = obskit.Investigation(metrics=metrics, events=events)
    auto = suspects(inv, at=at)
    assert auto.iloc[0]["entity_kind"] == "node" and auto.iloc[0]["node"] == "node-0"
    assert "a-1" not in auto["pod"].astype(str).tolist()  # explained by the node
    pods = suspects(inv, at=at, level="pod")
    assert set(pods["pod"].astype(str)[:2]) == {"a-1", "b-1"}
    assert (pods["entity_kind"] == "pod").all()


def test_a_rollout_explains_its_new_pods():
    at = T0 + pd.Timedelta(seconds=1200)
    old = [_series(f"pay-old-{i}", "pay", "node-0", seed=20 + i) for i in range(2)]
    new = [
        _series(f"pay-new-{i}", "pay", "node-1", metric="latency", seed=30 + i)
        .iloc[40:]
        .assign(value=5.0)
        for i in range(2)
    ]
    peers = [
        _series(f"pay-old-{i}", "pay", "node-0", metric="latency", seed=40 + i).iloc[:40]
        for i in range(2)
    ]
    other = _series("web-1", "web", "node-2", step_at=42, jump=1.0, seed=50)
    metrics = pd.concat([*old, *new, *peers, other, *_quiet_pods()])
    events = pd.DataFrame(
        {
            "timestamp": [at - pd.Timedelta("30s")],
            "source": "kubernetes",
            "severity": ["info"],
            "reason": ["ScalingReplicaSet"],
            "object_kind": ["Deployment"],
            "object_name": ["pay"],
            "namespace": ["shop"],
            "workload": ["pay"],
            "workload_kind": ["Deployment"],
            "message": ["Scaled up replica set pay-7d9f to 2"],
        }
    )
    inventory = pd.DataFrame(
        {
            "kind": "Pod",
            "name": ["pay-new-0", "pay-new-1"],
            "namespace": "shop",
            "workload_kind": "Deployment",
            "workload": "pay",
            "created": [at, at],
        }
    )
    out = suspects(obskit.Investigation(metrics=metrics, events=events, inventory=inventory), at=at)
    best = out.iloc[0]
    assert best["entity_kind"] == "workload" and best["workload"] == "pay"
    assert "rollout" in best["reason"] and "change" in best["kinds"]


def test_callers_errors_naming_a_callee_point_at_the_callee():
    at = T0 + pd.Timedelta(seconds=1200)
    metrics = pd.concat(
        [
            _series("checkout-1", "checkout", "node-0", step_at=41, jump=0.6, seed=60),
            _series("frontend-1", "frontend", "node-1", step_at=41, jump=0.6, seed=61),
            *_quiet_pods(),
        ]
    )
    stamps = T0 + pd.to_timedelta(np.arange(0, 2400, 20), unit="s")
    logs = pd.DataFrame(
        {
            "timestamp": stamps,
            "pod": "frontend-1",
            "namespace": "shop",
            "workload": "frontend",
            "node": "node-1",
            "message": "GET / 200",
        }
    )
    errors = pd.DataFrame(
        {
            "timestamp": stamps[stamps >= at],
            "pod": "frontend-1",
            "namespace": "shop",
            "workload": "frontend",
            "node": "node-1",
            "message": "ERROR upstream checkout returned 503",
        }
    )
    inv = obskit.Investigation(metrics=metrics, logs=pd.concat([logs, errors]))
    out = suspects(inv, at=at, level="pod")
    assert out.iloc[0]["pod"] == "checkout-1"
    assert "dependency" in out.iloc[0]["kinds"]
    follower = out[out["pod"] == "frontend-1"].iloc[0]
    assert "its errors name checkout" in follower["reason"]


def test_level_and_top_are_checked():
    inv = obskit.Investigation(metrics=pd.concat(_quiet_pods()))
    with pytest.raises(obskit.InvestigationError, match="level must be one of"):
        inv.suspects(level="cluster")
    with pytest.raises(obskit.InvestigationError, match="top must be a positive integer"):
        inv.suspects(top=0)


def test_many_series_and_log_lines_take_seconds():
    rng = np.random.default_rng(11)
    n_pods, n = 400, 120  # 2,000 series of 1 hour at 30 s
    stamps = T0 + pd.to_timedelta(np.arange(n) * 30, unit="s")
    pods = np.repeat([f"svc{i % 40}-{i}" for i in range(n_pods)], n * 5)
    frame = pd.DataFrame(
        {
            "timestamp": np.tile(np.tile(stamps, 5), n_pods),
            "metric": np.tile(np.repeat([f"m{k}" for k in range(5)], n), n_pods),
            "value": rng.standard_normal(n_pods * n * 5) + 10,
            "pod": pods,
            "namespace": "shop",
            "workload": pd.Series(pods).str.split("-").str[0].to_numpy(),
        }
    )
    frame.loc[(frame["pod"] == "svc3-3") & (frame["timestamp"] >= stamps[60]), "value"] += 30
    m = 300_000
    logs = pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(rng.integers(0, 3600, m), unit="s"),
            "pod": rng.choice(pods[:: n * 5], m),
            "namespace": "shop",
            "message": rng.choice(["GET /a took 5ms", "cache hit 42", "WARN slow 9ms"], m),
        }
    )
    inv = obskit.Investigation(metrics=frame, logs=logs)
    out = inv.suspects(at=stamps[60], level="pod")  # its time is measured in benchmarks/
    assert out.iloc[0]["pod"] == "svc3-3"


# --- call graph, client-side metrics, metric families -------------------------------------------


def _chain_metrics(caller_jump: float, callee_jump: float) -> pd.DataFrame:
    """A caller whose latency rose more than its callee's, both at the same bin."""
    return pd.concat(
        [
            _series("web-1", "web", "node-0", "latency_seconds.p99", 40, caller_jump, seed=1),
            _series("db-1", "db", "node-1", "latency_seconds.p99", 40, callee_jump, seed=2),
            *_quiet_pods(),
        ]
    )


def test_a_given_call_graph_lets_the_deepest_anomalous_callee_win():
    inv = obskit.Investigation(metrics=_chain_metrics(caller_jump=20.0, callee_jump=8.0))
    at = T0 + pd.Timedelta(seconds=1200)
    plain = suspects(inv, at=at, level="pod")
    assert plain["pod"].tolist()[:2] == ["web-1", "db-1"]
    graph = pd.DataFrame({"caller": ["web"], "callee": ["db"]})
    out = suspects(inv, at=at, level="pod", dependencies=graph)
    assert out["pod"].tolist()[:2] == ["db-1", "web-1"]
    assert "whose own trouble" in out.iloc[1]["reason"]
    # pod names and source/target columns name the same edge
    by_pod = pd.DataFrame({"source": ["web-1"], "target": ["db-1"]})
    assert suspects(inv, at=at, level="pod", dependencies=by_pod)["pod"].iloc[0] == "db-1"
    # the reverse graph does not promote the caller's callee
    reverse = pd.DataFrame({"caller": ["db"], "callee": ["web"]})
    assert suspects(inv, at=at, level="pod", dependencies=reverse)["pod"].iloc[0] == "web-1"


def test_a_callers_own_cpu_trouble_is_not_explained_away_by_its_callee():
    metrics = pd.concat(
        [
            _series("web-1", "web", "node-0", "cpu_usage", 40, 20.0, seed=1),
            _series("db-1", "db", "node-1", "latency_seconds.p99", 40, 8.0, seed=2),
            *_quiet_pods(),
        ]
    )
    graph = pd.DataFrame({"caller": ["web"], "callee": ["db"]})
    out = suspects(
        obskit.Investigation(metrics=metrics),
        at=T0 + pd.Timedelta(seconds=1200),
        level="pod",
        dependencies=graph,
    )
    assert out["pod"].iloc[0] == "web-1"


def test_call_graph_resolves_names_and_rejects_bad_input():
    from obskit.analysis.rca import call_graph
    from obskit.errors import InvestigationError

    inv = obskit.Investigation(metrics=_chain_metrics(2.0, 2.0))
    edges = call_graph(inv, pd.DataFrame({"Source": ["web-1", "nobody"], "Target": ["db", "db"]}))
    assert edges[["caller", "callee", "source"]].values.tolist() == [["web", "db", "given"]]
    with pytest.raises(InvestigationError, match="caller and callee"):
        call_graph(inv, pd.DataFrame({"a": ["web"], "b": ["db"]}))
    with pytest.raises(InvestigationError, match="DataFrame"):
        suspects(inv, at=T0 + pd.Timedelta(seconds=1200), dependencies=[("web", "db")])


def test_call_edges_are_traced_from_log_lines_with_trace_ids():
    from obskit.analysis.rca import call_graph

    rows = []
    for i in range(5):
        start = T0 + pd.Timedelta(seconds=60 * i)
        for offset, pod, workload, span in (
            (0, "web-1", "web", "a"),
            (1, "db-1", "db", "b"),
            (2, "db-1", "db", "b"),
            (3, "web-1", "web", "a"),
        ):
            rows.append(
                {
                    "timestamp": start + pd.Timedelta(milliseconds=100 * offset),
                    "pod": pod,
                    "workload": workload,
                    "namespace": "shop",
                    "message": f"step {offset}",
                    "trace_id": f"t{i}",
                    "span_id": f"{span}{i}",
                }
            )
    inv = obskit.Investigation(logs=pd.DataFrame(rows))
    assert call_graph(inv)[["caller", "callee", "source"]].values.tolist() == [
        ["web", "db", "traces"]
    ]


def test_client_side_latency_counts_less_than_the_server_side():
    metrics = pd.concat(
        [
            _series("web-1", "web", "node-0", "PodClientLatencyP99(s)", 40, 6.0, seed=1),
            _series("db-1", "db", "node-1", "PodServerLatencyP99(s)", 40, 6.0, seed=2),
            *_quiet_pods(),
        ]
    )
    out = suspects(
        obskit.Investigation(metrics=metrics), at=T0 + pd.Timedelta(seconds=1200), level="pod"
    )
    assert out["pod"].tolist()[:2] == ["db-1", "web-1"]
    assert any("client side" in line for line in out.iloc[1]["evidence"])


def test_a_server_latency_rise_its_own_calls_account_for_is_waiting_not_working():
    # api's answers slowed by 2 s and so did its calls out (to db): api was waiting on db.
    # db's own answers slowed by only 1.5 s, but that is db's own time.
    metrics = pd.concat(
        [
            _series("api-1", "api", "node-0", "PodServerLatencyP90(s)", 40, 2.0, seed=1),
            _series("api-1", "api", "node-0", "PodClientLatencyP90(s)", 40, 2.0, seed=2),
            _series("db-1", "db", "node-1", "PodServerLatencyP90(s)", 40, 1.5, seed=3),
            *_quiet_pods(),
        ]
    )
    inv = obskit.Investigation(metrics=metrics)
    out = suspects(inv, at=T0 + pd.Timedelta(seconds=1200), level="pod")
    assert out["pod"].tolist()[:2] == ["db-1", "api-1"]
    api = out.set_index("pod").loc["api-1", "evidence"]
    server = next(line for line in api if line.startswith("PodServerLatencyP90"))
    assert re.search(
        r"its calls out slowed as much \(PodClientLatencyP90\(s\) \+2[\d.]* s\)", server
    )
    # without the calls out, api's own slower answers outrank db's smaller rise
    alone = metrics[metrics["metric"] != "PodClientLatencyP90(s)"]
    out = suspects(obskit.Investigation(metrics=alone), at=T0 + pd.Timedelta(seconds=1200))
    assert out["pod"].iloc[0] == "api-1"


def test_a_series_that_spiked_as_often_before_counts_less_than_a_new_step():
    from obskit.analysis.rca import _metric_evidence

    # cache-1 spikes in a quarter of its samples, before the onset and after it alike
    spiky = _series("cache-1", "cache", "node-0", "latency", seed=4)
    spiky.loc[spiky.index % 4 == 0, "value"] += 3.0
    inv = obskit.Investigation(metrics=pd.concat([spiky, *_quiet_pods()]))
    an = obskit.analysis.anomalies.anomalies(inv, at=T0 + pd.Timedelta(seconds=1200))
    row = an.set_index("pod").loc["cache-1"]
    assert row["share"] == pytest.approx(0.25) and row["base_share"] == pytest.approx(0.25)
    assert row["base_samples"] == 40
    # the same anomaly, had the baseline never spiked, is stronger evidence
    both = pd.concat([an.iloc[[0]], an.iloc[[0]].assign(base_share=0.0)], ignore_index=True)
    ev = _metric_evidence(both)
    assert ev["strength"].iloc[0] < 0.8 * ev["strength"].iloc[1]
    assert "as unusual in 25% of its baseline too" in ev["text"].iloc[0]
    assert "of its baseline too" not in ev["text"].iloc[1]


def test_a_peak_its_baseline_often_reached_is_no_news():
    from obskit.analysis.rca import _metric_evidence

    # cache-1 spiked by 3 four times in its 40 baseline samples and once more after the onset:
    # in 40 samples its baseline would likely have got that far again by chance
    spiky = _series("cache-1", "cache", "node-0", "latency", seed=4)
    spiky.loc[spiky.index.isin([5, 15, 25, 35, 45]), "value"] += 3.0
    inv = obskit.Investigation(metrics=pd.concat([spiky, *_quiet_pods()]))
    an = obskit.analysis.anomalies.anomalies(inv, at=T0 + pd.Timedelta(seconds=1200))
    row = an[an["pod"] == "cache-1"]
    assert row["anomalous"].all() and row["post_samples"].iloc[0] == 40
    assert 0.05 <= row["base_reach"].iloc[0] <= 0.1  # its 4 spikes, less the noise's shortfall
    # the same anomaly, had its baseline never gone that far, is stronger evidence
    both = pd.concat([row, row.assign(base_reach=0.0)], ignore_index=True)
    ev = _metric_evidence(both)
    assert ev["strength"].iloc[0] < 0.75 * ev["strength"].iloc[1]
    told = r"its baseline reached this peak often: \d+% likely by chance"
    assert re.search(told, ev["text"].iloc[0])
    assert "reached this peak" not in ev["text"].iloc[1]


def test_a_move_off_a_flat_baseline_is_told_in_values_not_in_iqrs():
    # a restart counter sat at 0: it has no spread, so "IQRs" would only measure the floor
    flat = _series("api-1", "api", "node-0", "restarts", 40, 3.0).assign(value=0.0)
    flat.loc[flat.index >= 40, "value"] = 3.0
    noisy = _series("db-1", "db", "node-1", "latency", 40, 1.0, seed=5)
    inv = obskit.Investigation(metrics=pd.concat([flat, noisy, *_quiet_pods()]))
    at = T0 + pd.Timedelta(seconds=1200)
    an = obskit.analysis.anomalies.anomalies(inv, at=at).set_index("pod")
    assert an.loc["api-1", "flat"] and not an.loc["db-1", "flat"]
    lines = dict(zip(*suspects(inv, at=at, level="pod")[["pod", "evidence"]].values.T, strict=True))
    assert lines["api-1"][0] == "restarts up from 0, where it sat for most of its baseline, to 3"
    # the values, how far that is against the spread it had, and in standard deviations
    told = (
        r"latency up from 0\.9\d* to 2\.\d+, [\d.]+ times its usual spread "
        r"\([\d.]+ standard deviations\)"
    )
    assert re.fullmatch(told, lines["db-1"][0])


def test_many_series_of_one_metric_family_count_once():
    from obskit.analysis.rca import metric_family

    assert metric_family("PodClientLatencyP99(s)") == metric_family("PodClientLatencyP90(s)")
    assert metric_family("CpuUsageRate(%)") == metric_family("CpuUsage(m)")
    assert metric_family("SyscallRead") != metric_family("SyscallWrite")
    # one pod moves in three percentiles of one latency, another in two distinct signals
    wide = pd.concat(
        [_series("web-1", "web", "node-0", f"latency.p{q}", 40, 3.0, seed=q) for q in (50, 90, 99)]
        + [
            _series("db-1", "db", "node-1", "cpu_usage", 40, 3.0, seed=7),
            _series("db-1", "db", "node-1", "memory_usage", 40, 3.0, seed=8),
            *_quiet_pods(),
        ]
    )
    out = suspects(
        obskit.Investigation(metrics=wide), at=T0 + pd.Timedelta(seconds=1200), level="pod"
    )
    assert out["pod"].iloc[0] == "db-1"


def _traced_calls(slow: dict[str, float], callers: dict[str, list[str]], n: int = 40):
    """One trace a minute per caller: caller line, each callee's line after a lag, caller line.

    ``slow`` maps a callee (or a caller: its answers handled late) to the lag from minute 20.
    """
    rows = []
    for caller, callees in callers.items():
        for i in range(n):
            t = T0 + pd.Timedelta(minutes=i, seconds=len(caller))
            trace = f"{caller}-{i}"
            rows.append((t, caller, trace, "s0"))
            for j, callee in enumerate(callees):
                lag = 10 + (i + j) % 3
                if i >= 20:
                    lag = max(lag, slow.get(callee, 0), slow.get(caller, 0))
                t = t + pd.Timedelta(milliseconds=lag)
                rows.append((t, callee, trace, f"s{j + 1}"))
                t = t + pd.Timedelta(milliseconds=2)
                rows.append((t, caller, trace, "s0"))
    logs = pd.DataFrame(rows, columns=["timestamp", "workload", "trace_id", "span_id"])
    logs["pod"] = logs["workload"] + "-0"
    logs["namespace"] = "shop"
    logs["message"] = "handled request"
    return logs


def test_a_callee_whose_calls_slowed_in_traced_logs_is_suspected():
    logs = _traced_calls({"db": 300}, {"web": ["db", "cache"], "api": ["db"]})
    inv = obskit.Investigation(logs=logs)
    found = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert found.loc[0, "pod"] == "db-0"
    assert "trace" in found.loc[0, "kinds"]
    assert "slowed" in found.loc[0, "evidence"][0]
    assert "trace-correlated logs" in found.loc[0, "reason"]


def test_a_caller_whose_calls_to_several_callees_slowed_is_the_common_cause():
    logs = _traced_calls({"web": 300}, {"web": ["db", "cache", "queue"]})
    inv = obskit.Investigation(logs=logs)
    found = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert found.loc[0, "pod"] == "web-0"


# --- how sure: margin and verdict -------------------------------------------------------------


def test_a_ranking_is_clear_when_its_top_leads_and_ambiguous_between_close_suspects():
    from obskit.analysis.rca import CLEAR_MARGIN, conclusion

    at = T0 + pd.Timedelta(seconds=1200)
    one = pd.concat([_series("db-1", "db", "node-0", step_at=40, jump=3.0, seed=1), *_quiet_pods()])
    out = suspects(obskit.Investigation(metrics=one), at=at, level="pod")
    assert out.attrs["verdict"] == "clear" and out.loc[0, "verdict"] == "clear"
    assert out.loc[0, "margin"] >= CLEAR_MARGIN
    assert conclusion(out).startswith("The top suspect is pod shop/db-1")

    two = pd.concat(
        [
            _series("db-1", "db", "node-0", step_at=40, jump=3.0, seed=1),
            _series("cache-1", "cache", "node-1", step_at=40, jump=3.0, seed=2),
            *_quiet_pods(),
        ]
    )
    out = suspects(obskit.Investigation(metrics=two), at=at, level="pod")
    assert out.attrs["verdict"] == "ambiguous"
    assert out["verdict"].tolist()[:2] == ["ambiguous", "ambiguous"]
    assert out.loc[0, "margin"] < CLEAR_MARGIN
    said = conclusion(out)
    assert said.startswith("Ambiguous between pod shop/") and "db-1" in said and "cache-1" in said
    assert re.search(
        r"their scores are within a third of the top one's \([\d.]+ and [\d.]+\)", said
    )


def test_a_lead_resting_on_spikes_only_one_detector_saw_is_not_called_clear():
    from obskit.analysis.rca import conclusion

    at = T0 + pd.Timedelta(seconds=1200)
    db = _series("db-1", "db", "node-1", "PodServerLatencyP95(s)", 40, 0.1, seed=5)
    families = ["PodServerLatencyP95(s)", "SyscallWrite", "NetworkTransmitBytes"]

    def ads(spiky):
        # ad-1 spiked by 3 four times before the onset, then by 2.5 for three samples: far out
        # in IQRs, not in standard deviations (NSigma), which the earlier spikes widened
        out = []
        for seed, metric in enumerate(families):
            s = _series("ad-1", "ad", "node-0", metric, seed=seed)
            if spiky:
                s.loc[s.index.isin([5, 15, 25, 35]), "value"] += 3.0
            s.loc[s.index.isin([45, 46, 47]), "value"] += 2.5
            out.append(s)
        return out

    inv = obskit.Investigation(metrics=pd.concat([*ads(spiky=True), db, *_quiet_pods()]))
    an = obskit.analysis.anomalies.anomalies(inv, at=at)
    assert not an.loc[an["pod"] == "ad-1", "confirmed"].any()
    out = suspects(inv, at=at, level="pod")
    assert out["pod"].tolist()[:2] == ["ad-1", "db-1"]
    assert out["margin"].iloc[0] >= 1 / 3  # ahead by the score, not on moves NSigma confirms
    assert out["verdict"].tolist()[:2] == ["ambiguous", "ambiguous"]
    said = conclusion(out)
    assert said.startswith("Ambiguous between pod shop/ad-1 and pod shop/db-1: ")
    assert "lead rests on spikes only one of the two detectors saw" in said
    # the same spikes out of a quiet baseline both detectors call out: clear
    inv = obskit.Investigation(metrics=pd.concat([*ads(spiky=False), db, *_quiet_pods()]))
    out = suspects(inv, at=at, level="pod")
    assert out["pod"].iloc[0] == "ad-1" and out.attrs["verdict"] == "clear"


def test_the_review_summary_names_no_single_suspect_when_the_ranking_is_ambiguous():
    from obskit.report import review_summary

    at = T0 + pd.Timedelta(seconds=1200)
    metrics = pd.concat(
        [
            _series("db-1", "db", "node-0", step_at=40, jump=3.0, seed=1),
            _series("cache-1", "cache", "node-1", step_at=40, jump=3.0, seed=2),
            *_quiet_pods(),
        ]
    )
    inv = obskit.Investigation(metrics=metrics)
    found = suspects(inv, at=at, level="pod")
    text = str(review_summary(inv, found, pd.DataFrame(columns=["severity", "timestamp"])))
    assert "Ambiguous between" in text and "Top suspect" not in text
    assert "db-1" in text and "cache-1" in text
    alone = suspects(obskit.Investigation(metrics=metrics[metrics["pod"] != "cache-1"]), at=at)
    text = str(review_summary(inv, alone, pd.DataFrame(columns=["severity", "timestamp"])))
    assert "Top suspect" in text and "clearly ahead" in text and "Ambiguous" not in text


# --- code-level faults from logs ----------------------------------------------------------------


def _traced(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["timestamp", "pod", "trace_id", "span_id", "message"])
    frame["workload"] = frame["pod"].str.replace(r"-\d+$", "", regex=True)
    return frame.assign(namespace="shop")


def _calls(minutes: range, seat_error: bool, travel_reports: bool) -> list[tuple]:
    """travel calls seat in every trace, four a minute; seat may throw, travel may report it."""
    rows = []
    for m in minutes:
        for k in range(4):
            t = T0 + pd.Timedelta(minutes=m, seconds=15 * k)
            tid = f"t{m}-{k}"
            rows.append((t, "travel-1", tid, f"a{tid}", "INFO TravelController#30 [query]"))
            rows.append((t + pd.Timedelta("5ms"), "seat-1", tid, f"b{tid}", "INFO Seat#12 [get]"))
            if seat_error:
                rows.append(
                    (
                        t + pd.Timedelta("8ms"),
                        "seat-1",
                        tid,
                        f"b{tid}",
                        "ERROR Seat#40 java.lang.NullPointerException: seat map is null",
                    )
                )
            if travel_reports:
                rows.append(
                    (
                        t + pd.Timedelta("20ms"),
                        "travel-1",
                        tid,
                        f"a{tid}",
                        "ERROR TravelServiceImpl#88 [query][remote call failed]",
                    )
                )
    return rows


def test_an_error_that_travels_points_at_the_pod_where_it_begins():
    # seat throws a new exception; travel, its caller, reports it in the same traces, louder
    # (two error lines a trace) and without naming seat: only the traces tell that seat's
    # errors come first
    rows = _calls(range(0, 20), False, False) + _calls(range(20, 40), True, True)
    rows += [
        (r[0] + pd.Timedelta("30ms"), "travel-1", r[2], r[3], "ERROR TravelController#31 failed")
        for r in _calls(range(20, 40), False, True)
        if "remote call failed" in r[4]
    ]
    # trace ids without span ids: no call graph to say who calls whom, only the order of the
    # error lines in each trace
    inv = obskit.Investigation(logs=_traced(rows).assign(span_id=None))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert out.loc[0, "pod"] == "seat-1"
    assert "origin" in out.loc[0, "kinds"]
    assert any("its errors come first in 80 traces" in e for e in out.loc[0, "evidence"])
    travel = out[out["pod"] == "travel-1"].iloc[0]
    assert any("follow those of seat-1" in e for e in travel["evidence"])


def test_a_callee_named_in_errors_that_keeps_answering_is_not_blamed():
    # travel's errors name basic ("No instances available for basic"), but basic keeps
    # answering other callers without a new error: the fault is in travel's own call path
    rows = []
    for m in range(40):
        for k in range(4):
            t = T0 + pd.Timedelta(minutes=m, seconds=15 * k)
            tid = f"t{m}-{k}"
            rows.append((t, "travel-1", tid, f"a{tid}", "INFO TravelController#30 [query]"))
            rows.append(
                (t, "basic-1", f"o{tid}", f"c{tid}", "INFO BasicController#7 [queryForTravel]")
            )
            if m >= 20:
                rows.append(
                    (
                        t + pd.Timedelta("3ms"),
                        "travel-1",
                        tid,
                        f"a{tid}",
                        "ERROR dispatcherServlet#175 Request processing failed; nested exception "
                        "is java.lang.IllegalStateException: No instances available for basic",
                    )
                )
    # basic's CPU moved a little too: it is a candidate of its own, which the hint would lift
    metrics = _series("basic-1", "basic", "node-0", step_at=40, jump=0.5, seed=3)
    inv = obskit.Investigation(metrics=metrics, logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert out.loc[0, "pod"] == "travel-1"
    basic = out[out["pod"] == "basic-1"]
    assert basic.empty or basic.iloc[0]["score"] < 0.5 * out.loc[0, "score"]


def test_a_repeat_of_a_known_error_counts_when_its_rate_surges():
    # api logged its payment error now and then before; after the onset it logs it every call
    rows = []
    for m in range(40):
        for k in range(6):
            t = T0 + pd.Timedelta(minutes=m, seconds=10 * k)
            rows.append((t, "api-1", None, None, "INFO Api#1 [pay] handled"))
            rows.append((t, "web-1", None, None, "INFO Web#1 [home] served"))
            if (m >= 20 and k < 4) or (m < 20 and m % 10 == 0 and k == 0):
                rows.append((t, "api-1", None, None, "ERROR PayService#77 [pay][Pay failed]"))
    inv = obskit.Investigation(logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert out.loc[0, "pod"] == "api-1"
    surge = 'log pattern "ERROR PayService#<*> [pay][Pay failed]" 2 before -> 80 after the onset'
    assert any(e.startswith(surge) for e in out.loc[0, "evidence"])
    # the burst reads as rates a minute (its baseline is longer than the window after it) and
    # its score as standard deviations above the earlier rate
    burst = (
        r"warning/error lines rose from 0\.11 to 3\.6 a minute after the onset \(2 before, 80 "
        r"after, 80 of them errors; \d+ standard deviations above its earlier rate\)"
    )
    assert any(re.fullmatch(burst, e) for e in out.loc[0, "evidence"]), out.loc[0, "evidence"]


def _windows(fault_at: list[int], windows: list[range], chronic: str | None = None) -> list:
    """Logs kept only around alerts: api fails its payments from each minute in ``fault_at``
    to the end of that minute's window; web (and a chronic error, if given) log throughout."""
    rows = []
    for window in windows:
        start = next(f for f in fault_at if f in window)
        for m in window:
            for k in range(6):
                t = T0 + pd.Timedelta(minutes=m, seconds=10 * k)
                rows.append((t, "api-1", None, None, "INFO Api#1 [pay] handled"))
                rows.append((t, "web-1", None, None, "INFO Web#1 [home] served"))
                if m >= start and k < 4:
                    rows.append((t, "api-1", None, None, "ERROR PayService#77 [pay][Pay failed]"))
                if chronic and k == 0:
                    rows.append((t, "web-1", None, None, chronic))
    return rows


def test_a_repeat_of_a_fault_is_new_again_against_the_pods_quiet_state():
    # logs kept around alerts: the same payment error in the previous alert's window, which
    # began after api had logged without it and stopped; at the repeat it is as frequent as
    # then, so against a baseline holding the earlier burst it would not stand out at all
    rows = _windows([2, 14], [range(0, 6), range(12, 18)])
    inv = obskit.Investigation(logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=14), level="pod")
    assert out.loc[0, "pod"] == "api-1"
    new = 'new log pattern "ERROR PayService#<*> [pay][Pay failed]"'
    assert any(e.startswith(new) for e in out.loc[0, "evidence"])


def test_an_error_logged_from_the_first_lines_on_is_no_earlier_incident():
    # web's error line every minute from its first line on is what web is like: it
    # stays in the baseline, and only api's repeat stands out
    rows = _windows([2, 14], [range(0, 6), range(12, 18)], chronic="ERROR Web#9 [home] cache miss")
    inv = obskit.Investigation(logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=14), level="pod")
    assert out["pod"].tolist() == ["api-1"]


def test_with_no_log_baseline_errors_are_weighed_against_the_peers_not_warnings():
    # logs begin at the onset: orders warns on half its lines (as it always does), api fails a
    # quarter of its payments; neither has a past, so the error share against peers decides
    rows = []
    for i in range(60):
        t = T0 + pd.Timedelta(minutes=20, seconds=5 * i)
        rows.append((t, "orders-1", None, None, "INFO Orders#1 [list] listed"))
        if i % 2:
            rows.append((t, "orders-1", None, None, "WARN Orders#8 [sold] left ticket info empty"))
        rows.append((t, "api-1", None, None, "INFO Api#1 [pay] handled"))
        if i % 4 == 0:
            rows.append((t, "api-1", None, None, "ERROR PayService#77 [pay][Pay failed]"))
    inv = obskit.Investigation(logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=20, seconds=30), level="pod")
    assert out.loc[0, "pod"] == "api-1"
    assert out.loc[0, "evidence"][0].startswith("no log baseline of its own: 15 of its 75 lines")
    assert out.loc[0, "evidence"][0].endswith("standard deviations above theirs)")
    assert "orders-1" not in out["pod"].tolist()


def test_a_move_shared_by_many_pods_is_the_load_not_a_suspect():
    # received bytes rise in six pods at once (more traffic); one pod's own CPU steps up
    metrics = pd.concat(
        [
            *[
                _series(f"svc{i}-1", f"svc{i}", f"node-{i % 3}", "NetworkReceiveBytes", 40, 4.0, i)
                for i in range(6)
            ],
            _series("svc0-1", "svc0", "node-0", "CpuUsage(m)", 40, 1.5, seed=20),
            *[
                _series(f"svc{i}-1", f"svc{i}", f"node-{i % 3}", "CpuUsage(m)", seed=30 + i)
                for i in range(1, 6)
            ],
            *_quiet_pods(),
        ]
    )
    out = suspects(obskit.Investigation(metrics=metrics), at=T0 + pd.Timedelta(seconds=1200))
    assert out.loc[0, "pod"] == "svc0-1"
    # without the rule the five others, as far off in received bytes, would crowd the top
    assert out.attrs["verdict"] == "clear"
    others = out[out["pod"] != "svc0-1"]
    assert (others["score"] < 0.6 * out.loc[0, "score"]).all()
    assert any("many pods at once" in e for e in others.iloc[0]["evidence"])


def test_a_slow_leak_ending_in_oom_kills_outranks_its_callers_louder_latency():
    # cart's memory creeps up from well before the onset and its container is OOM-killed at
    # it; web, which calls cart, sees its latency jump far more (in IQRs) but only after
    at = T0 + pd.Timedelta(seconds=1200)
    leak = _series("cart-1", "cart", "node-0", "container_memory_working_set_bytes", seed=5)
    leak.loc[20:, "value"] += np.linspace(0, 1.2, N - 20)
    latency = _series("web-1", "web", "node-1", "PodServerLatencyP99(s)", 42, 30.0, seed=6)
    oom = pd.DataFrame(
        {
            "timestamp": [at + pd.Timedelta("30s")],
            "metric": "kube_pod_container_status_last_terminated_reason",
            "value": 1.0,
            "pod": "cart-1",
            "workload": "cart",
            "node": "node-0",
            "namespace": "shop",
            "workload_kind": "Deployment",
            "reason": "OOMKilled",
        }
    )
    inv = obskit.Investigation(metrics=pd.concat([leak, latency, oom, *_quiet_pods()]))
    graph = pd.DataFrame({"caller": ["web"], "callee": ["cart"]})
    out = suspects(inv, at=at, level="pod", dependencies=graph)
    assert out["pod"].tolist()[:2] == ["cart-1", "web-1"]
    assert out.loc[0, "first_anomaly"] < out.loc[1, "first_anomaly"]
    assert "termination" in out.loc[0, "kinds"]
    # the leak's climb is dated from where it began (sample 31, smoothed), not from the onset
    assert out.loc[0, "first_anomaly"] == T0 + pd.Timedelta(seconds=930)
    # without the call graph time order still puts the leak first, but nothing says who waits
    # on whom: the two are called ambiguous, not one of them named
    alone = suspects(inv, at=at, level="pod")
    assert alone["pod"].tolist()[:2] == ["cart-1", "web-1"]
    assert "first to go anomalous (00:15:30)" in alone.loc[0, "reason"]
    assert alone.attrs["verdict"] == "ambiguous"
    assert set(alone.loc[alone["verdict"] == "ambiguous", "pod"]) == {"cart-1", "web-1"}


def test_a_step_or_an_earlier_blip_is_dated_from_the_onset_a_climb_from_its_start():
    from obskit.analysis.anomalies import anomalies

    at = T0 + pd.Timedelta(seconds=1200)
    step = _series("cart-1", "cart", "node-0", "memory", 40, 2.0, seed=5)
    leak = _series("db-1", "db", "node-1", "memory", seed=6)
    leak.loc[30:, "value"] += np.linspace(0, 2.0, N - 30)
    # api spiked 10 minutes before the onset and came back: that was something else
    blip = _series("api-1", "api", "node-2", "memory", 40, 2.0, seed=7)
    blip.loc[20:21, "value"] += 2.0
    inv = obskit.Investigation(metrics=pd.concat([step, leak, blip, *_quiet_pods()]))
    began = anomalies(inv, at=at).set_index("pod")["began"]
    assert began["cart-1"] == at and began["api-1"] == at
    assert T0 + pd.Timedelta(seconds=900) <= began["db-1"] < at - pd.Timedelta("2min")


def test_a_faint_drift_before_the_onset_does_not_date_a_pods_loud_trouble():
    from obskit.analysis.rca import _first

    # web's latency jumps a minute after the onset (strength 5); a traffic series of web
    # sagged a little from 4 minutes before it (strength 1.2): web's trouble began with the jump
    at = T0 + pd.Timedelta(seconds=1200)
    ev = pd.DataFrame(
        {
            "kind": ["metric", "metric"],
            "time": [at + pd.Timedelta("1min"), at - pd.Timedelta("4min")],
            "strength": [5.0, 1.2],
        }
    )
    assert _first(ev, at) == at + pd.Timedelta("1min")
    # a climb as strong as the pod's other moves (a leak's) still dates it from its start
    assert _first(ev.assign(strength=[5.0, 3.0]), at) == at - pd.Timedelta("4min")
    # and a change dates it whatever its strength
    change = pd.DataFrame(
        {"kind": ["change"], "time": [at - pd.Timedelta("9min")], "strength": [0.1]}
    )
    assert _first(pd.concat([ev, change]), at) == at - pd.Timedelta("9min")


# --- newcomers: a pod with no baseline of its own -----------------------------------------------


def _job_on_a_busy_node():
    """node-0's CPU rises at sample 40 because a batch Job pod started there then."""
    at = T0 + pd.Timedelta(seconds=1200)
    node = _series(None, None, "node-0", metric="node_cpu_usage", step_at=40, jump=3.0, seed=1)
    job = _series("report-28391-x7k2p", "report-28391", "node-0", metric="cpu", seed=2)
    job = job.iloc[40:].assign(value=lambda f: f["value"] + 2.0, workload_kind="Job")
    tenants = [
        _series("api-1", "api", "node-0", seed=3),
        _series("db-1", "db", "node-0", seed=4),
    ]
    return obskit.Investigation(metrics=pd.concat([node, job, *tenants, *_quiet_pods()])), at


def test_a_job_started_at_the_onset_takes_its_nodes_rise_and_is_the_suspect():
    inv, at = _job_on_a_busy_node()
    auto = suspects(inv, at=at)
    top = auto.iloc[0]
    assert top["pod"] == "report-28391-x7k2p"
    assert any("of node node-0's cpu rise since it started" in e for e in top["evidence"])
    ranked = auto["pod"].astype(str).tolist()
    assert all(
        ranked.index(p) > 0 for p in ("api-1", "db-1") if p in ranked
    )  # its neighbours are not ahead of it
    pods = suspects(inv, at=at, level="pod")
    assert pods.iloc[0]["pod"] == "report-28391-x7k2p"
    nodes = suspects(inv, at=at, level="node")
    node = nodes[nodes["node"] == "node-0"].iloc[0]
    job_score = top["score"]
    assert node["score"] < job_score
    assert any("report-28391-x7k2p takes" in e for e in node["evidence"])


def test_without_the_job_the_node_keeps_its_rise():
    inv, at = _job_on_a_busy_node()
    metrics = inv.metrics[inv.metrics["pod"].astype(str) != "report-28391-x7k2p"]
    nodes = suspects(obskit.Investigation(metrics=metrics), at=at, level="node")
    node = nodes[nodes["node"] == "node-0"].iloc[0]
    assert not any("takes" in e for e in node["evidence"])


def test_a_new_pod_that_behaves_like_its_workloads_peers_is_not_flagged():
    at = T0 + pd.Timedelta(seconds=1200)
    peers = [_series(f"web-{i}", "web", f"node-{i}", seed=20 + i) for i in range(3)]
    new = _series("web-new", "web", "node-0", seed=30).iloc[40:]
    culprit = _series("cart-1", "cart", "node-1", step_at=40, jump=3.0, seed=31)
    inv = obskit.Investigation(metrics=pd.concat([*peers, new, culprit]))
    ranked = suspects(inv, at=at, level="pod")
    assert ranked.iloc[0]["pod"] == "cart-1"
    assert "web-new" not in ranked["pod"].astype(str).tolist()


# --- what the metrics themselves say about where a fault is -------------------------------------


def test_a_quantile_moving_one_histogram_bucket_does_not_outrank_a_move_measured_inside_one():
    at = T0 + pd.Timedelta(seconds=1200)
    # web's P99 sits on 9.95 ms (every request in the 5-10 ms bucket) and moves to the next
    # bucket's point, 24.8 ms; cart's P99, spread inside its bucket, rises 6 IQRs
    web = _series("web-1", "web", "node-0", "PodServerLatencyP99(s)").assign(value=0.00995)
    web.loc[web.index >= 40, "value"] = 0.0248
    cart = _series("cart-1", "cart", "node-1", "PodServerLatencyP99(s)", 40, 0.4, seed=3)
    out = suspects(obskit.Investigation(metrics=pd.concat([web, cart, *_quiet_pods()])), at=at)
    assert out.loc[0, "pod"] == "cart-1"
    assert "web-1" not in out["pod"].astype(str).tolist()
    # four buckets up (22.7x) is strong evidence, and told in values
    web.loc[web.index >= 40, "value"] = 0.226
    out = suspects(obskit.Investigation(metrics=pd.concat([web, cart, *_quiet_pods()])), at=at)
    lines = out.set_index("pod").loc["web-1", "evidence"]
    assert lines[0].startswith("PodServerLatencyP99(s) up from 0.00995 s, where it sat for most")
    assert "(22.7x)" in lines[0] and "histogram buckets" in lines[0]


def test_a_callee_receiving_more_bytes_is_its_callers_doing_not_its_own_trouble():
    at = T0 + pd.Timedelta(seconds=1200)
    # checkout's memory rose 15 IQRs; email, which checkout calls, received ten times its
    # usual bytes when checkout's delayed calls arrived at once
    memory = _series("checkout-1", "checkout", "node-0", "MemoryUsage(Mi)", 40, 1.0, seed=1)
    received = _series("email-1", "email", "node-1", "NetworkReceiveBytes", 40, 9.0, seed=2)
    inv = obskit.Investigation(metrics=pd.concat([memory, received, *_quiet_pods()]))
    out = suspects(inv, at=at, level="pod")
    assert out["pod"].tolist()[:2] == ["checkout-1", "email-1"]
    assert "what its callers send it" in out.loc[1, "evidence"][0]
    # what a pod sends, and a drop in what it receives, stay its own evidence
    sent = received.assign(metric="NetworkTransmitBytes")
    inv = obskit.Investigation(metrics=pd.concat([memory, sent, *_quiet_pods()]))
    assert suspects(inv, at=at, level="pod").loc[0, "pod"] == "email-1"


def test_a_silent_break_in_a_pods_code_path_outranks_a_neighbours_reported_call_failures():
    # shapes of TrainTicket's lines (Nezha 2023-01-29; MIT): travel's injected exception is
    # swallowed, so "Calculate distance" silently stops following "Get Rest tickets num"; its
    # neighbour travel2 fails calls it cannot make ("No instances available for ts-basic-
    # service"), first in its traces, and logs more errors: reports of a call, not a fault
    rest = "INFO t.s.TravelServiceImpl#469 [getRestTicketNumber][Get Rest tickets num][num is: 1]"
    distance = "INFO t.s.TravelServiceImpl#372 [getTickets][Calculate distance][calculate time 7]"
    failed = (
        "ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 Servlet.service() for servlet "
        "[dispatcherServlet] threw exception [Request processing failed; nested exception is "
        "java.lang.IllegalStateException: No instances available for ts-basic-service] with root "
        "cause"
    )
    rows = []
    for m in range(40):
        for k in range(4):
            t = T0 + pd.Timedelta(minutes=m, seconds=15 * k)
            for pod in ("travel-1", "travel2-1"):
                tid = f"{pod}-{m}-{k}"
                rows.append((t, pod, tid, f"s{tid}", rest))
                broken = m >= 20 and k < 2 and pod == "travel-1"
                if not broken:
                    rows.append((t + pd.Timedelta("2ms"), pod, tid, f"s{tid}", distance))
                if m >= 20 and pod == "travel2-1":
                    rows.append((t + pd.Timedelta("3ms"), pod, tid, f"s{tid}", failed))
    inv = obskit.Investigation(logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert out.loc[0, "pod"] == "travel-1"
    assert "sequence" in out.loc[0, "kinds"]
    # the counts first, then the two steps in the order the code runs them
    broke = (
        r'its code path broke in \d+ of \d+ traces after the onset \(0 of \d+ before\): "[^"]+" '
        r'was not followed by "\[getTickets\]\[Calculate distance\]\[calculate time <\*>\]" '
        r"\(trace-correlated logs\)"
    )
    assert any(re.fullmatch(broke, e) for e in out.loc[0, "evidence"]), out.loc[0, "evidence"]
    assert "a step of its own code stopped running" in out.loc[0, "reason"]


def test_errors_that_only_say_a_call_failed_are_reports_not_origins():
    # travel2 cannot reach seat ("No instances available for ts-seat-service", a line shape of
    # Nezha's TrainTicket 2023-01-29 logs; MIT) and logs it alone in each trace, four a minute;
    # orders throws an error of its own code in one trace a minute: the origin is orders
    failed = (
        "ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 Servlet.service() threw exception "
        "[Request processing failed; nested exception is java.lang.IllegalStateException: No "
        "instances available for ts-seat-service] with root cause"
    )
    own = "ERROR o.s.OrderServiceImpl#88 [create][Order Status Wrong]"
    rows = []
    for m in range(40):
        for k in range(4):
            t = T0 + pd.Timedelta(minutes=m, seconds=15 * k)
            for pod in ("travel2-1", "orders-1"):
                tid = f"{pod}-{m}-{k}"
                rows.append((t, pod, tid, f"s{tid}", "INFO Controller#1 [query] handled"))
            if m >= 20:
                tid = f"travel2-1-{m}-{k}"
                rows.append((t + pd.Timedelta("3ms"), "travel2-1", tid, f"s{tid}", failed))
            if m >= 20 and k == 0:
                tid = f"orders-1-{m}-{k}"
                rows.append((t + pd.Timedelta("3ms"), "orders-1", tid, f"s{tid}", own))
    inv = obskit.Investigation(logs=_traced(rows))
    out = suspects(inv, at=T0 + pd.Timedelta(minutes=20), level="pod")
    assert out.loc[0, "pod"] == "orders-1"
    travel2 = out[out["pod"] == "travel2-1"].iloc[0]
    assert "origin" not in travel2["kinds"]
    assert any(e.endswith("(its errors say calls it made failed)") for e in travel2["evidence"])


# --- how the evidence reads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "unit"),
    [
        ("container_cpu_usage_seconds_total.rate5m", " cores"),
        ("http_request_duration_seconds.p99", " s"),
        ("container_memory_working_set_bytes", " B"),
        ("container_network_receive_bytes_total.rate5m", " B/s"),
        ("http_requests_total.rate5m", "/s"),
        ("PodServerLatencyP99(s)", " s"),
        ("MemoryUsageRate(%)", "%"),
        ("MemoryUsage(Mi)", " MiB"),
        ("kube_pod_container_status_restarts_total", ""),
    ],
)
def test_a_metric_value_is_told_in_the_unit_its_name_says(metric, unit):
    from obskit.analysis.rca import metric_unit

    assert metric_unit(metric) == unit


def test_a_move_reads_as_values_the_spread_it_had_and_standard_deviations():
    from obskit.analysis.rca import _metric_text

    args = dict(name="latency", direction="up", score=12.34, baseline=0.1, peak=0.9, nsigma=4.56)
    plain = dict(flat=False, peers="own", habit=0.0, client=False, waited_on="")
    said = _metric_text(**args, **plain, unit=" s")
    told = "latency up from 0.1 s to 0.9 s, 12.3 times its usual spread (4.6 standard deviations)"
    assert said == told
    # bytes in binary multiples, not in powers of ten
    said = _metric_text(**{**args, "baseline": 2.78e8, "peak": 5.35e8}, **plain, unit=" B")
    assert said.startswith("latency up from 265 MiB to 510 MiB, ")
    # a move only the robust score calls out says the second detector did not
    said = _metric_text(**args, **plain, confirmed=False)
    assert said.endswith("(4.6 standard deviations: too few for the second detector, NSigma)")
    # a series begun just before the onset says what it was measured against
    said = _metric_text(**args, **{**plain, "peers": "peers' change"})
    assert (
        "its series began just before the onset: measured against how far the other pods'" in said
    )


def test_a_reason_quotes_its_strongest_evidence_to_a_words_end():
    from obskit.analysis.rca import REASON_LEAD_CHARS, _clip

    assert _clip("short enough", 20) == "short enough"
    text = "EdgeLatencyP50(s) up from 0.00625 to 0.75 s, 130.5 times its usual spread " * 4
    cut = _clip(text, REASON_LEAD_CHARS)
    assert len(cut) <= REASON_LEAD_CHARS and cut.endswith("…")
    assert text.startswith(cut[:-1]) and text[len(cut) - 1] in " ,"  # at a word's end


def test_new_error_lines_with_no_message_say_so_instead_of_an_empty_pattern():
    # api logs ERROR lines with nothing in them after the onset (a level field, no text)
    rows = []
    for m in range(40):
        t = T0 + pd.Timedelta(minutes=m)
        rows.append((t, "api-1", None, None, "INFO Api#1 [pay] handled"))
        rows.append((t, "web-1", None, None, "INFO Web#1 [home] served"))
        if m >= 20:
            rows += [(t + pd.Timedelta(seconds=k), "api-1", None, None, "") for k in range(1, 4)]
    logs = _traced(rows)
    logs["level"] = np.where(logs["message"] == "", "error", "info")
    out = suspects(obskit.Investigation(logs=logs), at=T0 + pd.Timedelta(minutes=20), level="pod")
    said = out.loc[out["pod"] == "api-1", "evidence"].iloc[0]
    assert "new log lines with an empty message x60 (error)" in said, said
    assert not any('pattern ""' in e for e in said)
