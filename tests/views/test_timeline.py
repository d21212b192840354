"""The timeline: shared x axis, rows, focus, the display bound, coverage gaps, anomalies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obskit import Investigation, InvestigationError
from obskit.views import DISPLAY_POINTS, timeline

FOCUS = {"namespace": "shop", "workload": "checkout"}


def _axis_names(fig) -> list[str]:
    return [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]


def test_rows_share_one_x_axis(checkout):
    fig = timeline(checkout, focus=FOCUS)
    axes = _axis_names(fig)
    assert len(axes) == 5  # three metrics, events, logs
    anchors = {fig.layout[a].matches for a in axes} - {None}
    assert len(anchors) == 1  # every row's x axis matches the same one...
    (anchor,) = anchors
    unmatched = [a for a in axes if fig.layout[a].matches is None]
    assert unmatched == [f"xaxis{anchor[1:]}"]  # ...which is the only free one
    assert {fig.layout[a].type for a in axes} == {"date"}
    assert {t.xaxis for t in fig.data} <= {f"x{i}" if i > 1 else "x" for i in range(1, 6)}


def test_rows_and_trace_names(checkout):
    fig = timeline(checkout, focus=FOCUS, metrics=["container_memory_working_set_bytes"])
    by_axis: dict[str, set[str]] = {}
    for trace in fig.data:
        by_axis.setdefault(trace.yaxis, set()).add(trace.name)
    assert by_axis["y"] == {
        "checkout-bm8jtkshx7-cwjp7/checkout",
        "checkout-bm8jtkshx7-n54r7/checkout",
    }
    assert {"Kubernetes Warning", "Kubernetes Normal"} <= by_axis["y2"]
    assert {"error", "warning", "info"} <= by_axis["y3"]
    ticks = fig.layout.yaxis2.ticktext
    assert ticks[0] == "kubernetes" and "audit" in ticks


def test_focus_filters_every_row(checkout):
    pod = "checkout-bm8jtkshx7-n54r7"
    names = checkout.metrics["metric"].astype(str).unique()
    cpu = next(m for m in names if m.startswith("container_cpu_usage_seconds_total"))
    fig = timeline(checkout, focus={"namespace": "shop", "pod": pod}, metrics=cpu)
    lines = [t for t in fig.data if t.yaxis == "y"]
    assert [t.name for t in lines] == [f"{pod}/checkout"]
    events = [t for t in fig.data if t.yaxis == "y2" and t.hovertext]
    hovers = [h for t in events for h in t.hovertext]
    assert hovers and all(pod in h or "checkout-bm8jtkshx7-cwjp7" not in h for h in hovers)
    bars = [t for t in fig.data if t.type == "bar"]
    focused_lines = checkout.focus(namespace="shop", pod=pod).logs
    assert sum(int(np.sum(b.y)) for b in bars) == len(focused_lines)


def test_default_metrics_follow_the_focus(checkout):
    node = "ip-10-0-17-11.eu-west-1.compute.internal"
    titles = [a.text for a in timeline(checkout, focus={"node": node}).layout.annotations[:3]]
    assert titles[0].startswith("node_")
    titles = [a.text for a in timeline(checkout, focus=FOCUS).layout.annotations[:3]]
    assert titles[0] == "container_memory_working_set_bytes"


def _big(n: int, series: int = 4, hole: tuple[int, int] | None = None) -> Investigation:
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2024-01-01T00:00:00Z")
    per = n // series
    steps = np.arange(per, dtype=np.int64)
    if hole is not None:
        steps = steps[(steps < hole[0]) | (steps >= hole[1])]
    stamps = t0 + pd.to_timedelta(np.tile(steps, series), unit="s")
    values = rng.normal(size=len(stamps)).cumsum()
    values[len(values) // 3] = 1e9  # one spike the display must keep
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "metric": "requests",
            "value": values,
            "namespace": "shop",
            "pod": np.repeat([f"web-{i}" for i in range(series)], len(steps)),
        }
    )
    return Investigation(metrics=frame, cluster="big")


def test_display_bound_holds_on_millions_of_samples():
    inv = _big(2_000_000)
    fig = timeline(inv, metrics="requests")
    assert all(len(t.x) <= DISPLAY_POINTS for t in fig.data if t.x is not None)
    lines = [t for t in fig.data if t.yaxis == "y"]
    assert len(lines) == 4
    assert max(np.nanmax(t.y) for t in lines) == 1e9  # min-max keeps the spike
    assert len(inv.metrics) == 2_000_000  # the frame itself is untouched
    small = timeline(inv, metrics="requests", max_points=300)
    assert all(len(t.x) <= 300 for t in small.data if t.x is not None)


def test_many_series_become_lines_and_one_band():
    inv = _big(40_000, series=20)
    fig = timeline(inv, metrics="requests")
    rows = [t for t in fig.data if t.yaxis == "y"]
    assert sum(1 for t in rows if t.name and "more series" in t.name) == 1
    assert sum(1 for t in rows if t.name and t.name.startswith("web-")) == 8


def test_coverage_gaps_are_drawn():
    inv = _big(8_000, series=2, hole=(1_000, 2_500))  # 25 minutes without samples
    fig = timeline(inv, metrics="requests")
    gaps = [s for s in fig.layout.shapes if s.yref == "y domain"]
    assert len(gaps) == 1
    start = pd.Timestamp("2024-01-01T00:00:00Z").value / 1e6
    assert gaps[0].x0 == pytest.approx(start + 1_000_000, abs=3_000)
    assert gaps[0].x1 == pytest.approx(start + 2_499_000, abs=3_000)
    assert any(a.text == "no data" for a in fig.layout.annotations)
    assert "no data (coverage gap)" in {t.name for t in fig.data}


def test_lines_break_across_gaps():
    inv = _big(8_000, series=2, hole=(1_000, 2_500))
    fig = timeline(inv, metrics="requests")
    line = next(t for t in fig.data if t.name == "web-0")
    assert np.isnan(np.asarray(line.y, dtype=float)).sum() == 1


def test_anomaly_windows_are_shaded(checkout):
    anomalies = pd.DataFrame(
        {
            "namespace": ["shop", "shop", "payments"],
            "workload": ["checkout", None, "ledger"],
            "onset": ["2024-05-14T09:10:00Z", "2024-05-14T09:40:00Z", "2024-05-14T09:00:00Z"],
            "end": ["2024-05-14T09:25:00Z", None, None],
            "peak": [None, "2024-05-14T09:50:00Z", "2024-05-14T09:05:00Z"],
            "score": [3.0, 1.0, 9.0],
        }
    )
    fig = timeline(checkout, focus=FOCUS, anomalies=anomalies)
    shaded = [s for s in fig.layout.shapes if s.yref == "paper"]
    assert len(shaded) == 2  # the other namespace's anomaly is not about this focus
    assert "anomaly" in fig.layout.yaxis4.ticktext
    marker = next(t for t in fig.data if t.name == "anomaly onset")
    assert len(marker.x) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"metrics": "container_memory_working_set"},
            InvestigationError,
            "no metric 'container_memory_working_set'.*did you mean",
        ),
        ({"focus": {"team": "x"}}, InvestigationError, "focus has no key column 'team'"),
        ({"focus": {"namespace": "shpo"}}, InvestigationError, "did you mean 'shop'"),
        (
            {"start": "2024-05-14T11:00Z", "end": "2024-05-14T10:00Z"},
            InvestigationError,
            "swap them",
        ),
        ({"anomalies": pd.DataFrame({"x": [1]})}, InvestigationError, "'onset'"),
        ({"max_points": 3}, InvestigationError, "max_points must be an integer >= 10"),
    ],
)
def test_errors_say_what_to_do(checkout, kwargs, error, match):
    with pytest.raises(error, match=match):
        timeline(checkout, **kwargs)


@pytest.mark.parametrize("library", [True, False])
def test_downsample_bound_with_and_without_tsdownsample(monkeypatch, library):
    from obskit.views import _downsample

    if not library:
        monkeypatch.setattr(_downsample, "MinMaxLTTBDownsampler", None)
    elif _downsample.MinMaxLTTBDownsampler is None:
        pytest.skip("tsdownsample is not installed")
    x = np.arange(2_000_000, dtype=np.int64)
    y = np.sin(x / 5_000.0)
    y[1_234_567] = 10.0
    for bound in (2000, 1999, 10):
        idx = _downsample.downsample(x, y, bound)
        assert len(idx) <= max(bound, 4)
        assert np.all(np.diff(idx) > 0)
    assert y[_downsample.downsample(x, y, 2000)].max() == 10.0


def test_overlapping_anomaly_windows_share_one_band_and_keep_their_markers(checkout):
    anomalies = pd.DataFrame(
        {
            "namespace": ["shop"] * 3,
            "workload": ["checkout"] * 3,
            "onset": ["2024-05-14T09:10:00Z", "2024-05-14T09:20:00Z", "2024-05-14T09:50:00Z"],
            "end": ["2024-05-14T09:25:00Z", "2024-05-14T09:30:00Z", "2024-05-14T09:55:00Z"],
        }
    )
    fig = timeline(checkout, focus=FOCUS, anomalies=anomalies)
    bands = sorted(
        (pd.Timestamp(s.x0, unit="ms"), pd.Timestamp(s.x1, unit="ms"))
        for s in fig.layout.shapes
        if s.yref == "paper"
    )
    assert bands == [
        (pd.Timestamp("2024-05-14T09:10:00"), pd.Timestamp("2024-05-14T09:30:00")),
        (pd.Timestamp("2024-05-14T09:50:00"), pd.Timestamp("2024-05-14T09:55:00")),
    ]
    marker = next(t for t in fig.data if t.name == "anomaly onset")
    assert len(marker.x) == 3


def test_series_entities_at_once_match_one_by_one():
    from obskit.views.timelines import _entities, _entity

    rows = pd.DataFrame(
        {
            "cluster": ["c", "c", "c", None, "c", "c"],
            "namespace": ["shop", "shop", None, None, "shop", "shop"],
            "node": [None, "n1", "n2", None, None, "n1"],
            "workload": ["web", None, None, None, "web", "web"],
            "pod": ["web-1", None, None, None, None, "web-2"],
            "container": ["app", None, None, None, None, None],
        }
    ).astype("category")
    records = rows.astype("object").where(rows.notna(), None).to_dict("records")
    assert _entities(rows).tolist() == [_entity(r) for r in records]
    assert _entities(rows).tolist() == ["web-1/app", "n1", "n2", "all", "web", "web-2"]


def test_a_stopped_falco_greys_the_falco_lane_on_its_node(falco_stopped):
    inv, node = falco_stopped
    label = f"falco not running on {node}"
    fig = timeline(inv, focus={"node": node})
    assert label in {a.text for a in fig.layout.annotations}
    layout = fig.layout.to_plotly_json()
    axis, lanes = next(
        (k, v["ticktext"])
        for k, v in layout.items()
        if k.startswith("yaxis") and "falco" in (v.get("ticktext") or ())
    )
    falco_lane = lanes.index("falco") - 0.42
    shapes = [s for s in fig.layout.shapes if s.yref == "y" + axis[5:] and s.y0 == falco_lane]
    assert [pd.Timestamp(s.x0, unit="ms", tz="UTC") for s in shapes] == [
        pd.Timestamp("2024-09-10T19:30:00Z")
    ]
    others = inv.inventory.loc[inv.inventory["kind"] == "Node", "name"].astype(str)
    other = next(n for n in others if n != node)
    assert label not in {a.text for a in timeline(inv, focus={"node": other}).layout.annotations}
