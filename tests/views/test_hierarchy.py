"""The hierarchy: tree structure equals the inventory, counts equal the frames, figure data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import obskit
from obskit import KEY, InvestigationError
from obskit.enrich import WORKLOAD_KINDS
from obskit.views import MEASURES, hierarchy, hierarchy_frame

VIEWS = ("workload", "node", "service")


def _s(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _describe(row: dict) -> tuple:
    """A node as (kind, names...), independent of how ids are spelled."""
    kind = row["kind"]
    if kind == "Cluster":
        return (kind, row["cluster"])
    if kind == "Namespace":
        return (kind, row["namespace"])
    if kind == "Node":
        return (kind, row["node"])
    if kind == "Service":
        return (kind, row["namespace"], row["service"])
    if kind == "Pod":
        return (kind, row["namespace"], row["focus"]["pod"])
    if kind == "Container":
        return (kind, row["namespace"], row["focus"]["pod"], row["container"])
    return (kind, row["namespace"], row["workload"])


def _edges(frame: pd.DataFrame, inventory_only: bool = True) -> set[tuple]:
    by_id = {r["id"]: r for r in frame.to_dict("records")}
    out = set()
    for row in by_id.values():
        if inventory_only and not row["in_inventory"]:
            continue
        parent = by_id.get(row["parent"])
        out.add((_describe(row), _describe(parent) if parent else None))
    return out


def _expected_edges(inventory: pd.DataFrame, view: str) -> set[tuple]:
    """The tree computed straight from the inventory rows."""
    rows = inventory.astype("object").where(inventory.notna(), None).to_dict("records")
    cluster = ("Cluster", rows[0]["cluster"])
    edges = {(cluster, None)}
    pods = [r for r in rows if r["kind"] == "Pod"]

    def add_pod(pod: dict, parent: tuple) -> None:
        me = ("Pod", pod["namespace"], pod["name"])
        edges.add((me, parent))
        if view != "service":
            for container in pod["containers"] or []:
                edges.add((("Container", pod["namespace"], pod["name"], container), me))

    if view in ("workload", "service"):
        for r in rows:
            if r["kind"] == "Namespace":
                edges.add((("Namespace", r["name"]), cluster))
    if view == "workload":
        for r in rows:
            if r["kind"] in (*WORKLOAD_KINDS, "Pod") and r["workload"] and r["namespace"]:
                ns = ("Namespace", r["namespace"])
                edges.add((ns, cluster))
                if r["workload_kind"] != "Pod":
                    edges.add(((r["workload_kind"], r["namespace"], r["workload"]), ns))
        for pod in pods:
            if pod["workload_kind"] == "Pod":
                add_pod(pod, ("Namespace", pod["namespace"]))
            else:
                add_pod(pod, (pod["workload_kind"], pod["namespace"], pod["workload"]))
    elif view == "node":
        for r in rows:
            if r["kind"] == "Node":
                edges.add((("Node", r["name"]), cluster))
        for pod in pods:
            parent = ("Node", pod["node"]) if pod["node"] else cluster
            edges.add((parent, cluster)) if pod["node"] else None
            add_pod(pod, parent)
    else:
        for svc in (r for r in rows if r["kind"] == "Service"):
            me = ("Service", svc["namespace"], svc["name"])
            edges.add((me, ("Namespace", svc["namespace"])))
            selector = svc["selector"] or {}
            for pod in pods:
                labels = pod["labels"] or {}
                if (
                    selector
                    and pod["namespace"] == svc["namespace"]
                    and all(labels.get(k) == v for k, v in selector.items())
                ):
                    add_pod(pod, me)
    return edges


@pytest.mark.parametrize("view", VIEWS)
def test_tree_equals_the_inventory(checkout, view):
    frame = hierarchy_frame(checkout, view)
    assert frame["id"].is_unique
    assert set(frame["parent"]) - {""} <= set(frame["id"])
    assert (frame["parent"] == "").sum() == 1
    assert _edges(frame) == _expected_edges(checkout.inventory, view)


@pytest.mark.parametrize("view", VIEWS)
def test_tree_equals_the_inventory_of_a_small_cluster(hostile, view):
    frame = hierarchy_frame(hostile, view)
    assert _edges(frame) == _expected_edges(hostile.inventory, view)


def test_pods_only_in_signals_are_added_and_marked(rollout):
    frame = hierarchy_frame(rollout, "workload")
    pods = frame.loc[frame["kind"] == "Pod"]
    inventory = rollout.inventory
    known = set(inventory.loc[inventory["kind"] == "Pod", "name"])
    seen = set()
    for name in ("metrics", "events", "logs"):
        seen |= set(getattr(rollout, name)["pod"].dropna().astype(str))
    extra = pods.loc[~pods["in_inventory"], "focus"].map(lambda f: f["pod"])
    assert set(extra) == seen - known
    # the rollout's old pods were deleted before the inventory was exported
    assert "payment-api-xgt56zhxx-5hlkw" in set(extra)
    assert (pods.loc[~pods["in_inventory"], "change"] == "gone").all()


def _matching(frame: pd.DataFrame, focus: dict) -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    for column, value in focus.items():
        values = value if isinstance(value, list) else [value]
        keep &= frame[column].astype("object").isin(values)
    return keep


def _restarts(metrics: pd.DataFrame) -> float:
    series = metrics.loc[metrics["metric"] == "kube_pod_container_status_restarts_total"]
    total = 0.0
    labels = [c for c in series.columns if c not in ("timestamp", "value", "origin", "key_source")]
    for _, one in series.groupby(labels, observed=True, dropna=False):
        values = one.sort_values("timestamp")["value"].to_numpy()
        steps = np.diff(values)
        total += float(np.where(steps >= 0, steps, values[1:]).sum())
    return total


@pytest.mark.parametrize("view", VIEWS)
def test_counts_equal_counts_from_the_frames(checkout, view):
    frame = hierarchy_frame(checkout, view)
    events, logs, metrics = checkout.events, checkout.logs, checkout.metrics
    security = events["source"].isin(["falco", "detection"])
    warning = (events["severity"] >= "warning") & ~security
    error = logs["level"] >= "error"
    for row in frame.to_dict("records"):
        focus = row["focus"]
        assert row["warning_events"] == int((warning & _matching(events, focus)).sum()), row["id"]
        assert row["error_logs"] == int((error & _matching(logs, focus)).sum()), row["id"]
        for severity in ("critical", "error", "warning", "notice"):
            expected = security & (events["severity"] == severity) & _matching(events, focus)
            assert row[f"alerts_{severity}"] == int(expected.sum())
        if row["kind"] in ("Cluster", "Namespace", "Deployment", "Pod", "Node", "Service"):
            assert row["restarts"] == _restarts(metrics.loc[_matching(metrics, focus)]), row["id"]
    is_checkout = frame["focus"].map(lambda f: str(f.get("pod", "")).startswith("checkout-"))
    checkout_pods = frame.loc[is_checkout & (frame["kind"] == "Pod")]
    assert sorted(checkout_pods["restarts"]) == [4, 7]


def test_security_alerts_by_severity(hostile):
    frame = hierarchy_frame(hostile, "workload").set_index("kind")
    pod = frame.loc["Pod"].iloc[0]
    assert (pod["alerts"], pod["alerts_critical"], pod["alerts_notice"]) == (2, 1, 1)


def test_counts_match_investigation_focus(checkout):
    frame = hierarchy_frame(checkout, "node")
    for row in frame.loc[frame["kind"].isin(["Node", "Pod"])].head(12).to_dict("records"):
        focused = checkout.focus(**row["focus"])
        assert row["error_logs"] == int((focused.logs["level"] >= "error").sum())


def test_scores_give_the_subtree_maximum(hostile):
    scores = pd.DataFrame(
        {
            "namespace": ["shop", "shop"],
            "pod": ["web-5d8f6c7b9-x2x9z", "web-5d8f6c7b9-q7w8k"],
            "score": [0.4, 2.5],
        }
    )
    frame = hierarchy_frame(hostile, "workload", scores=scores)
    frame = frame.loc[frame["kind"] != "Container"].set_index("label")
    assert frame.loc["web", "anomaly_score"] == 2.5  # the Deployment: the max of its pods
    assert frame.loc["shop", "anomaly_score"] == 2.5
    assert frame.loc["web-5d8f6c7b9-x2x9z", "anomaly_score"] == 0.4
    assert np.isnan(frame.loc["gone-abc12", "anomaly_score"])
    assert np.isnan(hierarchy_frame(hostile)["anomaly_score"]).all()


def test_at_draws_the_tree_as_of_a_moment(hostile):
    before = hierarchy_frame(hostile, "workload", at="2024-05-01T10:10:00Z")
    after = hierarchy_frame(hostile, "workload", at="2024-05-01T10:40:00Z")
    new = "web-5d8f6c7b9-q7w8k"
    assert new not in set(before["label"])
    assert new in set(after["label"])
    marked = hierarchy_frame(hostile).set_index("label")
    assert marked.loc[new, "change"] == "created"
    assert pd.isna(marked.loc["web-5d8f6c7b9-x2x9z", "change"])


def test_without_inventory_the_tree_comes_from_the_signals(hostile):
    from obskit import Investigation

    bare = Investigation(logs=hostile.logs, cluster="test")
    frame = hierarchy_frame(bare, "workload")
    assert set(frame.loc[frame["kind"] == "Pod", "label"]) == set(hostile.logs["pod"].astype(str))
    assert not frame.loc[frame["kind"] == "Pod", "in_inventory"].any()


@pytest.mark.parametrize("style", ["treemap", "sunburst", "icicle"])
@pytest.mark.parametrize("view", VIEWS)
def test_figure_ids_and_parents_are_the_frame(checkout, view, style):
    frame = hierarchy_frame(checkout, view)
    fig = hierarchy(checkout, view, style=style, color_by="error_logs")
    assert isinstance(fig, go.Figure)
    (trace,) = fig.data
    assert trace.type == style
    assert list(trace.ids) == frame["id"].tolist()
    assert list(trace.parents) == frame["parent"].tolist()
    assert len(trace.hovertext) == len(frame)
    assert np.allclose(trace.marker.colors, np.log1p(frame["error_logs"]))


def test_measure_columns(checkout):
    frame = checkout.hierarchy_frame()
    assert set(MEASURES) <= set(frame.columns)
    assert {"id", "parent", "label", "kind", "focus", "health", *KEY} <= set(frame.columns)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"view": "namespace"}, "view must be one of 'workload', 'node', 'service'"),
        ({"style": "pie"}, "style must be one of 'treemap', 'sunburst', 'icicle'"),
        ({"color_by": "cpu"}, "color_by must be one of 'health'"),
        ({"at": "yesterday-ish"}, "at must be a timestamp"),
    ],
)
def test_errors_say_what_to_do(hostile, kwargs, match):
    with pytest.raises(InvestigationError, match=match):
        hierarchy(hostile, **kwargs)


def test_scores_without_score_column(hostile):
    with pytest.raises(InvestigationError, match="'score' column"):
        hierarchy_frame(hostile, scores=pd.DataFrame({"pod": ["x"]}))


def test_a_failed_pods_reason_on_its_tile_is_text(hostile):
    # a pod's status reason is shown on its tile ("failed (Evicted)"): escaped like the labels
    inventory = hostile.inventory.astype({"phase": "object"})
    pod = inventory["kind"] == "Pod"
    inventory.loc[pod, "phase"] = "Failed"
    inventory.loc[pod, "status_reason"] = '<a href="javascript:alert(1)">Evicted</a>'
    inv = type(hostile)(inventory=inventory, cluster="test")
    [trace] = hierarchy(inv, "workload").data
    failed = [t for t in trace.text if t.startswith("failed")]
    assert failed and all(
        t == "failed (&lt;a href=&#34;javascript:alert(1)&#34;&gt;Evicted&lt;/a&gt;)"
        for t in failed
    )
    assert not any("<a" in t for t in [*trace.text, *trace.hovertext])


@pytest.mark.parametrize("style", ["treemap", "icicle", "sunburst"])
def test_border_widths_leave_the_path_bar_drawable(rollout, style):
    # plotly.js offsets a treemap's or icicle's path bar by the border width and draws none
    # when widths are given per box; a sunburst has no path bar and keeps them per box
    [trace] = hierarchy(rollout, "workload", style=style).data
    colors = set(trace.marker.line.color)
    assert {"#1d4ed8", "#ffffff"} <= colors  # pods created in the window are marked
    width = trace.marker.line.width
    if style == "sunburst":
        assert set(width) == {1, 4}
    else:
        assert width == 3


def test_the_node_view_counts_security_collector_gaps(falco_stopped):
    inv, node = falco_stopped
    frame = hierarchy_frame(inv, "node").set_index("label")
    assert frame.loc[node, "coverage_gaps"] == 1
    assert frame.loc[frame["kind"] == "Node", "coverage_gaps"].sum() == 1
    assert frame.loc[frame["kind"] == "Cluster", "coverage_gaps"].item() == 1
    fig = hierarchy(inv, "node", color_by="coverage_gaps")
    hover = dict(zip(fig.data[0].labels, fig.data[0].hovertext, strict=True))
    assert "security collector gaps: 1" in hover[node]
    # every collector's gaps hold the security ones (and here, Falco's is the only one)
    assert (frame["collector_gaps"] >= frame["coverage_gaps"]).all()
    assert frame.loc[node, "collector_gaps"] == 1
    # the same incident as recorded has none
    recorded = hierarchy_frame(obskit.datasets.load("cryptominer"), "node")
    assert recorded["coverage_gaps"].eq(0).all()


def test_posture_findings_colour_the_tree():
    inv = obskit.datasets.load("cryptominer")
    findings = inv.posture()
    frame = hierarchy_frame(inv, "workload", posture=findings)
    root = frame.loc[frame["depth"] == 0].iloc[0]
    assert root["findings"] == len(findings)
    assert root["worst_finding"] == 4  # a critical finding somewhere
    web = frame.set_index("id").loc[f"{inv.cluster}/web"]
    in_web = findings["namespace"] == "web"
    assert web["findings"] == int(in_web.sum())
    quiet = frame.set_index("id").loc[f"{inv.cluster}/kube-public"]
    assert quiet["findings"] == 0 and pd.isna(quiet["worst_finding"])
    fig = hierarchy(inv, color_by="worst_finding")  # computes the findings itself
    assert fig.data[0].marker.colorbar.ticktext == ("none", "low", "medium", "high", "critical")
    assert "posture findings: " in fig.data[0].hovertext[0]
    without = hierarchy_frame(inv, "workload")
    assert not without.attrs["posture"] and (without["findings"] == 0).all()
    with pytest.raises(obskit.InvestigationError, match=r"findings of inv\.posture\(\)"):
        hierarchy_frame(inv, posture=pd.DataFrame({"x": [1]}))
