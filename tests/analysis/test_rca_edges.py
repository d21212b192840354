"""Root-cause suspects from call edges: where a call's time went, and which end is common."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import obskit
from obskit.analysis.rca import _path_side, suspects

T0 = pd.Timestamp("2024-01-01T00:00:00Z")
N = 80  # samples of 30 s
AT = T0 + pd.Timedelta(seconds=30 * 40)
#: Istio's request duration, as ``histogram_quantile(0.5, sum by (le, reporter,
#: source_workload, destination_workload) (rate(istio_request_duration_milliseconds_bucket)))``
#: gives it, keyed on the callee's pod
METRIC = "istio_request_duration_milliseconds.p50"
PODS = {"frontend": "frontend-1", "checkout": "checkout-1", "currency": "currency-1"}
PODS |= {"ads": "ads-1", "cart": "cart-1", "payment": "payment-1", "shipping": "shipping-1"}
EDGES = [
    ("frontend", "checkout"),
    ("frontend", "currency"),
    ("frontend", "ads"),
    ("frontend", "cart"),
    ("checkout", "currency"),
    ("checkout", "cart"),
    ("checkout", "payment"),
    ("checkout", "shipping"),
]


def _edge(caller, callee, reporter, jump=0.0, seed=0):
    """One edge's median latency in ms, as one reporter measured it; ``jump`` ms from the
    onset on."""
    rng = np.random.default_rng(seed)
    values = 5.0 + 0.3 * rng.standard_normal(N)
    values[40:] += jump
    return pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(np.arange(N) * 30, unit="s"),
            "metric": METRIC,
            "value": values,
            "namespace": "shop",
            "workload_kind": "Deployment",
            "workload": callee,
            "pod": PODS[callee],
            "node": f"node-{len(callee) % 3}",
            "reporter": reporter,
            "source_workload": caller,
            "destination_workload": callee,
            # as Istio sets it: only the callee's proxy knows the connection's mTLS policy
            "connection_security_policy": "unknown" if reporter == "source" else "mutual_tls",
        }
    )


def _mesh(source_jumps: dict, destination_jumps: dict | None = None) -> obskit.Investigation:
    """Every edge of :data:`EDGES` as both proxies report it, with the jumps given per edge."""
    destination_jumps = destination_jumps or {}
    frames = []
    for i, (caller, callee) in enumerate(EDGES):
        frames.append(_edge(caller, callee, "source", source_jumps.get((caller, callee), 0), i))
        jump = destination_jumps.get((caller, callee), 0)
        frames.append(_edge(caller, callee, "destination", jump, 100 + i))
    return obskit.Investigation(metrics=pd.concat(frames, ignore_index=True))


def _without_currencys_own_proxy(inv: obskit.Investigation) -> obskit.Investigation:
    metrics = inv.metrics
    keep = ~((metrics["reporter"] == "destination") & (metrics["workload"] == "currency"))
    return obskit.Investigation(metrics=metrics[keep])


def _evidence_of(out: pd.DataFrame, pod: str) -> list[str]:
    return out.set_index("pod").loc[pod, "evidence"]


def test_a_callee_whose_every_caller_saw_it_slow_on_the_path_is_the_suspect():
    # a delay on currency's network: both callers' proxies see 200 ms more, its own sees none
    slow = {("frontend", "currency"): 200, ("checkout", "currency"): 200}
    out = suspects(_mesh(slow), at=AT, level="pod")
    assert out["pod"].iloc[0] == "currency-1"
    assert out.attrs["verdict"] == "clear"
    line = _evidence_of(out, "currency-1")[0]
    assert (
        "timed by the caller's proxy; currency's own proxy saw 0% of the rise, the rest is "
        "between the pods (network, proxies): 100% of it counted against currency" in line
    )
    # the callers' other calls stayed fast: neither gets a share of the path
    assert "frontend-1" not in set(out["pod"]) and "checkout-1" not in set(out["pod"])


def test_a_caller_whose_every_call_slowed_on_the_path_is_the_suspect_not_its_callees():
    # a delay on checkout's network: its calls out take 200 ms more as its own proxy measures
    # them; the callees' proxies see nothing, and frontend's calls to the same callees are fast
    slow = {("checkout", c): 200 for c in ("currency", "cart", "payment", "shipping")}
    out = suspects(_mesh(slow), at=AT, level="pod")
    assert out["pod"].iloc[0] == "checkout-1"
    assert any(
        "its calls to" in line and "its calls to 4 of its 4 callees slowed that way" in line
        for line in _evidence_of(out, "checkout-1")
    )
    # currency and cart have a fast caller besides checkout: the path is checkout's, not theirs
    scores = out.set_index("pod")["score"]
    assert scores.get("currency-1", 0) < 0.2 * scores["checkout-1"]
    assert scores.get("cart-1", 0) < 0.2 * scores["checkout-1"]


def test_a_rise_the_callees_own_proxy_saw_too_is_the_callees_own_time():
    # currency is slow inside: both proxies see the same 200 ms
    slow = {("checkout", "currency"): 200}
    out = suspects(_mesh(slow, slow), at=AT, level="pod")
    assert out["pod"].tolist() == ["currency-1"]
    assert not any("between the pods" in line for line in _evidence_of(out, "currency-1"))
    # the same rise seen only by the caller's proxy, on an edge whose two ends have other,
    # fast edges: the path is as likely either end's, so currency keeps half of it and
    # checkout takes the other half
    alone = suspects(_mesh(slow), at=AT, level="pod")
    assert alone.attrs["verdict"] == "ambiguous"
    scores = alone.set_index("pod")["score"]
    assert scores["currency-1"] < 0.7 * out["score"].iloc[0]
    assert scores["checkout-1"] == pytest.approx(scores["currency-1"])
    assert any(
        "its calls to currency slowed between the pods" in e
        for e in _evidence_of(alone, "checkout-1")
    )


def test_a_caller_side_rise_with_no_callee_side_series_is_left_as_it_is():
    inv = _without_currencys_own_proxy(_mesh({("checkout", "currency"): 200}))
    out = suspects(inv, at=AT, level="pod")
    assert out["pod"].iloc[0] == "currency-1"
    assert not any("between the pods" in line for line in _evidence_of(out, "currency-1"))


@pytest.mark.parametrize(
    ("caller_others", "callee_others", "to_callee"),
    [
        (None, None, 0.5),  # one edge between two ends that have no other: ambiguous
        (0.0, None, 1.0),  # the caller's other calls stayed fast: the callee's end
        (None, 1.0, 1.0),  # the callee's other callers saw it slow too
        (1.0, 0.0, 0.0),  # the caller's other calls slowed, the callee's other callers' did not
        (0.0, 0.0, 0.5),  # a single slowed edge between two ends with fast other edges
        (0.5, 1.0, 2 / 3),
    ],
)
def test_the_path_time_goes_to_the_end_common_to_the_slowed_edges(
    caller_others, callee_others, to_callee
):
    assert _path_side(caller_others, callee_others) == pytest.approx(to_callee)


def test_a_lead_resting_on_what_only_a_caller_measured_is_not_called_clear():
    # checkout's proxy times its calls to currency 200 ms slower; currency's own proxy reports
    # nothing; ads' own proxy sees its answers slow down, less
    slow = {("checkout", "currency"): 200}
    own = {("frontend", "ads"): 4}
    out = suspects(_without_currencys_own_proxy(_mesh(slow, own)), at=AT, level="pod")
    assert out["pod"].tolist()[:2] == ["currency-1", "ads-1"]
    assert out["margin"].iloc[0] >= 1 / 3  # ahead by the score ...
    assert out["verdict"].tolist()[:2] == ["ambiguous", "ambiguous"]  # ... not by its own
    said = obskit.analysis.rca.conclusion(out)
    assert said.startswith("Ambiguous between pod shop/currency-1 and pod shop/ads-1: ")
    # it says why: the lead is on the callers' measurement, not that the scores are close
    assert "lead rests on what its callers' proxies measured" in said
    assert "within a third" not in said
    # when currency's own proxy saw the same rise, the lead is its own: clear
    out = suspects(_mesh(slow, {**slow, **own}), at=AT, level="pod")
    assert out["pod"].iloc[0] == "currency-1" and out.attrs["verdict"] == "clear"


# --- recorded: Nezha's OnlineBoutique, a network delay on currencyservice ---------------------

NEZHA = Path(__file__).parents[1] / "data" / "nezha"
NEZHA_PODS = [
    "adservice-5f6585d649-fnmft",
    "cartservice-579f59597d-wc2lz",
    "checkoutservice-578fcf4766-9csqn",
    "currencyservice-cf787dd48-vpjrd",
    "emailservice-55fdc5b988-f6xth",
    "paymentservice-9cdb6588f-554sm",
    "productcatalogservice-668d5f85fb-jhwx9",
    "recommendationservice-6cfdd55578-gfj6q",
    "shippingservice-7b598fc7d-lmggd",
]


def _nezha_edges() -> obskit.Investigation:
    """Nezha's per-edge median latency (``<caller>_<callee>`` columns, one file per reporter)
    as series keyed on the callee's pod, the caller in ``source_workload``: what a Prometheus
    query ``by (destination_workload, source_workload, reporter)`` gives."""
    pods = {p.rsplit("-", 2)[0]: p for p in NEZHA_PODS}
    parts = []
    for reporter in ("source", "destination"):
        wide = pd.read_csv(NEZHA / f"{reporter}_50.csv")
        stamps = pd.to_datetime(wide["timestamp"], unit="s", utc=True)
        for column in wide.columns.drop(["time", "timestamp"]):
            caller, callee = column.split("_")
            parts.append(
                pd.DataFrame(
                    {
                        "timestamp": stamps,
                        "metric": "EdgeLatencyP50(s)",
                        "value": wide[column],
                        "namespace": "hipster",
                        "workload_kind": "Deployment",
                        "workload": callee,
                        "pod": pods[callee],
                        "source_workload": caller,
                        "reporter": reporter,
                    }
                ).dropna(subset=["value"])
            )
    return obskit.Investigation(metrics=pd.concat(parts, ignore_index=True))


def test_a_recorded_network_delay_on_a_callee_is_put_on_the_callee_not_its_callers():
    at = pd.Timestamp("2022-08-23T13:37:08Z")
    inv = _nezha_edges().window(None, at + pd.Timedelta("5min"))
    out = suspects(inv, at=at, level="pod")
    assert out["pod"].iloc[0] == "currencyservice-cf787dd48-vpjrd"
    lines = _evidence_of(out, "currencyservice-cf787dd48-vpjrd")
    # both callers' proxies timed the calls far slower than currency's own proxy did
    path = [line for line in lines if "reporter=source" in line and "between the pods" in line]
    assert len(path) == 2
    assert all("100% of it counted against currencyservice" in line for line in path)
