"""The Explorer, headless: set the controls as a user would, check what the outputs hold."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import plotly.graph_objects as go
import pytest

import obskit
from obskit.widgets import Explorer, ExplorerModel, Selection
from obskit.widgets.explorer import html_table
from tests.views.conftest import XSS


def _metric_traces(explorer: Explorer) -> list[go.Scatter]:
    """The metric series drawn as lines (each names its series in ``meta``; bands do not)."""
    return [t for t in explorer.figure.data if t.type == "scatter" and t.meta]


def _rows(figure: go.FigureWidget) -> int:
    return sum(1 for k in figure.layout.to_plotly_json() if k.startswith("yaxis"))


def _visible(explorer: Explorer) -> list:
    return [d for d in explorer.levels if d.layout.display != "none"]


def _html(explorer: Explorer) -> str:
    values = [explorer.status.value, *(w.value for w in explorer._tables.values())]
    return "\n".join(values)


def _pods(inv: obskit.Investigation, **focus) -> set[str]:
    pods = inv.focus(**focus).inventory
    return set(pods.loc[pods["kind"] == "Pod", "pod"].astype(str))


def test_starts_at_the_cluster_with_its_namespaces_to_pick(model):
    explorer = Explorer(model, anomalies=False)
    assert explorer.node == model.root("workload")
    assert explorer.focus == {}  # the root: everything
    assert "Timeline: whole investigation" in explorer.figure.layout.title.text
    [first] = _visible(explorer)
    assert first.description == "namespace"
    labels = [label for label, _ in first.options]
    assert labels[0] == "(all)"
    assert any(label.startswith("shop") and "errors" in label for label in labels)
    # every suspect involves the whole cluster
    assert len(explorer.outputs.suspects) == len(model.suspects())


def test_picking_a_namespace_filters_timeline_and_tables(model, checkout, ids):
    explorer = Explorer(model, anomalies=False)
    explorer.levels[0].value = ids["shop"]
    assert explorer.focus["namespace"] == "shop"
    assert "namespace=shop" in explorer.figure.layout.title.text
    shop = _pods(checkout, namespace="shop")
    lines = _metric_traces(explorer)
    assert lines and all(t.meta.split("/")[0] in shop for t in lines)
    logs, events = explorer.outputs.logs, explorer.outputs.events
    assert len(logs) and set(logs["namespace"].astype(str)) == {"shop"}
    where = events["where"].dropna()
    assert len(where) and all(w == "shop" or w.startswith("shop/") for w in where)
    # the next dropdown offers the namespace's workloads
    workloads = _visible(explorer)[1]
    assert workloads.description == "workload"
    assert any(label.startswith("checkout (Deployment)") for label, _ in workloads.options)


def test_drilling_down_to_a_pod(model, ids):
    explorer = Explorer(model, anomalies=False)
    explorer.levels[0].value = ids["shop"]
    explorer.levels[1].value = ids["checkout"]
    assert [d.description for d in _visible(explorer)] == ["namespace", "workload", "pod"]
    explorer.levels[2].value = ids["pod"]
    pod = ids["pod_name"]
    assert explorer.focus["pod"] == pod
    assert f"pod={pod}" in explorer.figure.layout.title.text
    lines = _metric_traces(explorer)
    assert lines and all(t.meta.startswith(pod) for t in lines)
    assert set(explorer.outputs.logs["pod"].astype(str)) == {pod}
    # the workload suspect that holds the pod is listed, with its rank in the incident
    suspects = explorer.outputs.suspects
    assert suspects.iloc[0]["workload"] == "checkout" and suspects.iloc[0]["rank"] == 1
    assert "checkout" in explorer._tables["suspects"].value
    assert pod in explorer.status.value
    # going back up: "(all)" at the workload level selects the namespace again
    explorer.levels[1].value = ""
    assert explorer.node == ids["shop"]
    assert len(_visible(explorer)) == 2


def test_time_range_windows_the_timeline_and_the_tables(model, ids):
    explorer = Explorer(model, focus={"namespace": "shop"}, anomalies=False)
    ticks = [t for _, t in explorer.time_range.options]
    explorer.time_range.index = (40, 70)
    lo, hi = ticks[40], ticks[70]
    assert explorer.figure.layout.xaxis.range == (lo.value / 1e6, hi.value / 1e6)
    logs = explorer.outputs.logs
    assert len(logs) and logs["time"].between(lo, hi).all()
    assert f"{lo:%H:%M} – {hi:%H:%M}" in explorer.status.value
    assert explorer.selected().time_span() == (lo, hi)
    explorer._whole.click()
    assert explorer.selection().start is None and explorer.figure.layout.xaxis.range[0] < (
        lo.value / 1e6
    )


def _zoom(explorer: Explorer, data: dict) -> None:
    """What plotly.js sends when the user drags a range on the timeline in the browser."""
    explorer.figure._js2py_relayout = {"relayout_data": data, "source_view_id": "view-1"}


def test_zooming_the_timeline_narrows_the_time_range(model):
    explorer = Explorer(model, focus={"namespace": "shop"}, anomalies=False)
    ticks = [t for _, t in explorer.time_range.options]
    lo, hi = ticks[30] + pd.Timedelta("20s"), ticks[55] - pd.Timedelta("20s")
    # a drag on the third row: plotly.js names that row's axis and sends dates as UTC text
    _zoom(
        explorer,
        {
            "xaxis3.range[0]": f"{lo:%Y-%m-%d %H:%M:%S.%f}",
            "xaxis3.range[1]": f"{hi:%Y-%m-%d %H:%M:%S.%f}",
        },
    )
    assert explorer.time_range.index == (30, 55)  # snapped outward to the ticks
    logs = explorer.outputs.logs
    assert len(logs) and logs["time"].between(ticks[30], ticks[55]).all()
    assert explorer.figure.layout.xaxis.range == (ticks[30].value / 1e6, ticks[55].value / 1e6)
    # epoch milliseconds in a list, as the zoom buttons send them
    _zoom(explorer, {"xaxis.range": [ticks[40].value / 1e6, ticks[41].value / 1e6]})
    assert explorer.time_range.index == (40, 41)
    # a zoom inside one tick step still leaves a range one step wide
    inside = ticks[45] + pd.Timedelta("1s")
    _zoom(
        explorer,
        {"xaxis.range[0]": str(inside), "xaxis.range[1]": str(inside + pd.Timedelta("2s"))},
    )
    assert explorer.time_range.index == (45, 46)
    # what is not an x range changes nothing: a double-click autorange, a legend click
    for data in (
        {"xaxis.autorange": True},
        {"yaxis2.range[0]": 0, "yaxis2.range[1]": 5},
        {"xaxis.range[0]": "not a time", "xaxis.range[1]": "2024"},
    ):
        _zoom(explorer, data)
        assert explorer.time_range.index == (45, 46)


def test_choosing_metrics_sets_the_timeline_rows(model):
    explorer = Explorer(model, focus={"namespace": "shop", "workload": "checkout"}, anomalies=False)
    assert _rows(explorer.figure) == 5  # three default metrics, events, logs
    explorer.metrics.value = ("container_memory_working_set_bytes",)
    assert _rows(explorer.figure) == 3
    titles = [a.text for a in explorer.figure.layout.annotations]
    assert "container_memory_working_set_bytes" in titles
    assert "http_request_duration_seconds.p99" not in titles
    # the layout was replaced whole: no axis or legend of the rows that are gone
    keys = set(explorer.figure.layout.to_plotly_json())
    assert not {"yaxis4", "yaxis5", "legend4", "legend5"} & keys
    explorer.metrics.value = ()
    assert _rows(explorer.figure) == 5


def test_anomaly_windows_toggle(model):
    explorer = Explorer(model, focus={"namespace": "shop", "workload": "checkout"})
    names = [t.name for t in explorer.figure.data]
    assert "anomaly onset" in names
    assert any(s.fillcolor == "rgba(220,38,38,0.10)" for s in explorer.figure.layout.shapes)
    explorer.show_anomalies.value = False
    assert "anomaly onset" not in [t.name for t in explorer.figure.data]
    assert not any(s.fillcolor == "rgba(220,38,38,0.10)" for s in explorer.figure.layout.shapes)


def test_tables_toggle_and_minimum_level(model, ids):
    explorer = Explorer(model, focus={"namespace": "shop"}, anomalies=False)
    assert explorer.tabs.titles == ("suspects", "events", "log lines")
    explorer.show["logs"].value = False
    assert explorer.outputs.logs is None
    assert explorer.tabs.titles == ("suspects", "events")
    explorer.show["logs"].value = True
    explorer.min_level.value = "error"
    levels = set(explorer.outputs.logs["level"].astype(str))
    assert levels and levels <= {"error", "critical"}
    assert set(explorer.outputs.events["severity"].astype(str)) <= {"error", "critical"}
    for name in ("suspects", "events", "logs"):
        explorer.show[name].value = False
    assert explorer.tabs.layout.display == "none"


def test_node_view(model, checkout):
    explorer = Explorer(model, view="node", anomalies=False)
    [first] = _visible(explorer)
    assert first.description == "node"
    node = first.options[1][1]
    first.value = node
    name = explorer.focus["node"]
    assert f"node={name}" in explorer.figure.layout.title.text
    on_node = _pods(checkout, node=name)
    assert set(explorer.outputs.logs["pod"].astype(str)) <= on_node
    assert _visible(explorer)[1].description == "pod"


def test_switching_view_keeps_what_it_can(model, ids):
    explorer = Explorer(model, focus={"namespace": "shop", "workload": "checkout"}, anomalies=False)
    explorer.view.value = "service"
    assert explorer.focus["namespace"] == "shop"  # no workload level in the service view
    explorer.view.value = "workload"
    assert explorer.node == ids["shop"]


def test_starts_at_a_suspect_row(model, ids):
    suspects = model.suspects()
    explorer = Explorer(model, focus=suspects.iloc[0], anomalies=False)
    assert explorer.node == ids["checkout"]
    pod_row = suspects[suspects["entity_kind"] == "pod"].iloc[0]
    explorer.select(pod_row)
    assert explorer.focus["pod"] == pod_row["pod"]
    node_only = pd.Series({"node": pod_row["node"]})
    assert Explorer(model, focus=node_only, anomalies=False).view.value == "node"


def test_wrong_arguments_say_what_to_do(model):
    with pytest.raises(obskit.InvestigationError, match="did you mean 'shop'"):
        Explorer(model, focus={"namespace": "shpo"})
    with pytest.raises(obskit.InvestigationError, match="view must be one of"):
        Explorer(model, view="pods")
    with pytest.raises(obskit.InvestigationError, match="no metric 'memory'"):
        Explorer(model, metrics=["memory"])
    with pytest.raises(obskit.InvestigationError, match="tables must be some of"):
        Explorer(model, tables=["alerts"])
    with pytest.raises(obskit.InvestigationError, match="top must be a positive integer"):
        Explorer(model.inv, top=0)
    with pytest.raises(obskit.InvestigationError, match="empty or reversed"):
        Explorer(model, start="2024-05-14T10:00:00Z", end="2024-05-14T09:00:00Z")


def test_model_is_ui_free(model, ids):
    out = model.outputs(Selection(node=ids["checkout"], anomalies=False, tables=("logs",)))
    assert isinstance(out.figure, go.Figure) and not isinstance(out.figure, go.FigureWidget)
    assert out.path == ["prod-eu-1", "shop", "checkout"]
    assert out.suspects is None and out.events is None
    assert set(out.logs["namespace"].astype(str)) == {"shop"}


def test_data_text_never_becomes_markup(hostile):
    explorer = Explorer(hostile, focus={"namespace": "shop"}, anomalies=False)
    bad = next(v for label, v in _visible(explorer)[1].options if XSS[0] in label)
    explorer.levels[1].value = bad  # the pod named <script>alert(1)</script>
    explorer.levels[0].value = explorer.model.find("workload", {"namespace": "shop"})
    explorer.select({"namespace": "shop", "workload": "web"})
    explorer.tabs.selected_index = 2
    text = _html(explorer)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<script>alert" not in text and "<img" not in text
    explorer.select(bad)
    assert "<script>alert" not in explorer.status.value
    assert "&lt;script&gt;" in explorer.status.value


def test_html_table_escapes_cells_column_names_and_tooltips():
    frame = pd.DataFrame(
        {XSS[0]: ["x"], "message": [XSS[1] + "'\" " * 200], "evidence": [[XSS[0], XSS[1]]]}
    )
    out = html_table(frame, note=XSS[1])
    assert "<script>alert" not in out and "<img" not in out
    assert "title='" in out and "' onerror" not in out


def test_views_never_import_the_widgets():
    code = "import obskit, obskit.views\nimport sys\nprint('obskit.widgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_model_from_an_empty_investigation():
    model = ExplorerModel(obskit.Investigation(cluster="prod"))
    assert model.ticks() == []
    explorer = Explorer(model, anomalies=False, tables=())
    assert "no data" in explorer.figure.layout.title.text
