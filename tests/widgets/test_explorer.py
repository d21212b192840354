"""The Explorer, headless: set the controls as a user would, check what the outputs hold."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import plotly.graph_objects as go
import pytest

import obskit
from obskit.widgets import Explorer, ExplorerModel, Selection
from obskit.widgets.explorer import _PLOTLY_BROWSER_RELAYOUT, _PLOTLY_VIEW_COUNT, html_table
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
    # above the table, how sure the incident's whole ranking is
    assert "The top suspect is Deployment shop/checkout, clearly ahead of the next." in (
        explorer._tables["suspects"].value
    )
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


def test_html_table_cells_and_tooltips_read_back_as_the_values():
    """A browser's parse of the table gives back the hostile values as text, each in its cell."""
    long = XSS[1] + "'\" &amp; " * 100
    frame = pd.DataFrame(
        {XSS[0]: ["a&b"], "message": [long], "evidence": [[XSS[0], "it's"]], "level": ["error"]}
    )

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.heads: list[str] = []
            self.cells: list[list[str]] = []
            self.attrs: list[dict] = []
            self.into: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag in ("th", "td"):
                self.into = [] if tag == "td" else self.heads
                if tag == "td":
                    self.cells.append(self.into)
                    self.attrs.append(dict(attrs))
            assert tag in ("style", "div", "table", "thead", "tbody", "tr", "th", "td", "br")

        def handle_data(self, data: str) -> None:
            if self.into is not None:
                self.into.append(data)

        def handle_endtag(self, tag: str) -> None:
            if tag in ("th", "td"):
                self.into = None

    parser = Cells()
    parser.feed(html_table(frame))
    assert parser.heads == [XSS[0], "message", "evidence", "level"]
    assert parser.cells == [["a&b"], [long[:399] + "…"], [XSS[0], "it's"], ["error"]]
    assert parser.attrs[1] == {"class": "obskit-text", "title": long}  # under the tooltip limit
    assert parser.attrs[2] == {"class": "obskit-text", "title": f"{XSS[0]}\nit's"}
    assert parser.attrs[3]["style"].startswith("border-left: 4px solid #")


def test_disguised_names_show_their_characters_in_dropdowns_status_and_tables():
    pod = "web\u202e1-bew"
    inv = obskit.Investigation(
        logs=pd.DataFrame(
            {
                "timestamp": ["2024-05-01T10:00:00Z"],
                "namespace": ["shop"],
                "pod": [pod],
                "container": ["c\u200b"],
                "message": ["ERROR boom"],
            }
        ),
        cluster="test",
    )
    explorer = Explorer(inv, anomalies=False)
    labels = [label for d in _visible(explorer) for label, _ in d.options]
    explorer.select({"namespace": "shop", "pod": pod})
    explorer.tabs.selected_index = 2
    shown = "\n".join([*labels, *(label for d in _visible(explorer) for label, _ in d.options)])
    shown += _html(explorer)
    assert "\u202e" not in shown and "\u200b" not in shown
    assert "web\\u202e1-bew" in shown and "c\\u200b" in shown
    assert "web\\u202e1-bew" in explorer.status.value


def test_model_from_an_empty_investigation():
    model = ExplorerModel(obskit.Investigation(cluster="prod"))
    assert model.ticks() == []
    explorer = Explorer(model, anomalies=False, tables=())
    assert "no data" in explorer.figure.layout.title.text


# --- the map -----------------------------------------------------------------------------------


def _click(explorer: Explorer, node: str, event: str = "plotly_click") -> None:
    """What the browser sends when the user clicks (or hovers) a box of the map.

    plotly's FigureWidget JavaScript (``_send_points_callback_message`` in plotly's
    ``package_data/widgetbundle.js``) sends this as the ``_js2py_pointsCallback`` state; it was
    recorded from a click on the map in JupyterLab. A treemap box's point index is its
    position in the trace's ``ids``; it has no x or y, which JavaScript sends as undefined and
    the wire as ``"_undefined_"``. ``set_state`` is what ipywidgets calls with a browser
    message: it runs plotly's deserializer, then the observers.
    """
    index = list(explorer.map.data[0].ids).index(node)
    message = {
        "event_type": event,
        "points": {
            "trace_indexes": [0],
            "point_indexes": [index],
            "xs": ["_undefined_"],
            "ys": ["_undefined_"],
        },
        "device_state": {
            "alt": False,
            "ctrl": False,
            "meta": False,
            "shift": False,
            "button": 0,
            "buttons": 0,
        },
        "selector": None,
    }
    explorer.map.set_state({"_js2py_pointsCallback": message})


def test_the_private_plotly_traits_the_explorer_listens_on_still_carry_browser_events():
    """The Explorer observes two private traits of plotly's FigureWidget (it names them in one
    place); this fails when plotly renames them or changes what the browser writes there."""
    figure = go.FigureWidget(go.Scatter(x=["2024-05-14 08:00", "2024-05-14 10:00"], y=[1, 2]))
    for name in (_PLOTLY_VIEW_COUNT, _PLOTLY_BROWSER_RELAYOUT):
        assert figure.has_trait(name) and figure.trait_metadata(name, "sync")
    # plotly turns ipywidgets' count of the views shown on (None: not counted)
    assert figure._view_count == 0
    seen: list = []
    figure.observe(lambda change: seen.append(change["new"]), names=_PLOTLY_BROWSER_RELAYOUT)
    # what plotly's widget JavaScript sends after a drag-zoom on a date axis
    message = {
        "relayout_data": {
            "xaxis.range[0]": "2024-05-14 08:30:00",
            "xaxis.range[1]": "2024-05-14 09:00:00",
        },
        "source_view_id": "view-1",
    }
    figure.set_state({_PLOTLY_BROWSER_RELAYOUT: message})
    assert message in seen  # the shape _on_zoom reads (plotly then clears the trait: None)
    assert figure.layout.xaxis.range == ("2024-05-14 08:30:00", "2024-05-14 09:00:00")


def test_a_click_selects_on_a_redrawn_map(model, ids):
    """The map's trace is replaced when the view changes: the click handler follows it."""
    explorer = Explorer(model, anomalies=False)
    explorer.view.value = "node"
    explorer.view.value = "workload"
    _click(explorer, ids["shop"])
    assert explorer.node == ids["shop"]
    _click(explorer, ids["checkout"])
    assert explorer.focus["workload"] == "checkout"


def _sent(figure: go.FigureWidget) -> list[dict]:
    """Records the traces the widget sends to the browser (one dict per trace)."""
    sent: list[dict] = []
    figure.observe(
        lambda change: change["new"] and sent.extend(change["new"]["trace_data"]),
        "_py2js_addTraces",
    )
    return sent


def _counting(explorer: Explorer) -> list[Selection]:
    """Records each selection the model computes outputs for (a loop would compute twice)."""
    computed: list[Selection] = []
    compute = explorer.model.outputs

    def outputs(selection: Selection):
        computed.append(selection)
        return compute(selection)

    explorer.model.outputs = outputs  # the instance only: the shared model is not touched
    return computed


def test_the_map_is_the_views_tree_coloured_by_health(model, checkout):
    explorer = Explorer(model, anomalies=False)
    [trace] = explorer.map.data
    tree = model.tree("workload")
    assert trace.type == "treemap" and trace.level == model.root("workload")
    # zoomed to the cluster: its namespaces and their workloads are drawn, not every container
    drawn = tree.loc[tree["depth"] < 3, "id"].tolist()
    assert list(trace.ids) == drawn and len(drawn) < len(tree)
    assert list(trace.parents) == tree.loc[drawn, "parent"].tolist()
    assert trace.maxdepth == 3
    # the hierarchy view's colours and sizes: the whole tree's, box for box
    whole = checkout.hierarchy("workload").data[0]
    position = {node: i for i, node in enumerate(whole.ids)}
    assert list(trace.marker.colors) == [whole.marker.colors[position[i]] for i in drawn]
    assert trace.marker.cmax == whole.marker.cmax
    assert list(trace.values) == tree.loc[drawn, "leaves"].tolist()
    assert trace.marker.colorbar.title.text == "health (higher is worse)"
    assert explorer.map.layout.height <= 400


def test_the_map_draws_what_a_zoom_shows(model, ids):
    explorer = Explorer(model, focus={"namespace": "shop"}, anomalies=False)
    [trace] = explorer.map.data
    tree = model.tree("workload")
    # the namespace, its workloads and their pods; the cluster above it for the path bar
    below = tree.loc[list(trace.ids)]
    assert set(below["parent"]) - set(trace.ids) == {""}
    assert set(below.loc[below["depth"] > 0, "namespace"]) == {"shop"}
    assert set(below["kind"]) >= {"Cluster", "Namespace", "Deployment", "Pod"}
    assert "Container" not in set(below["kind"])
    explorer.select(ids["pod"])
    kinds = model.tree("workload").loc[list(explorer.map.data[0].ids), "kind"]
    assert kinds.tolist()[-1] == "Container" and "Namespace" in kinds.tolist()


def test_clicking_the_map_selects_the_node(model, checkout, ids):
    explorer = Explorer(model, anomalies=False)
    computed = _counting(explorer)
    _click(explorer, ids["shop"])
    assert explorer.node == ids["shop"]
    assert explorer.levels[0].value == ids["shop"]  # the dropdowns show the path
    assert "namespace=shop" in explorer.figure.layout.title.text
    assert set(explorer.outputs.logs["namespace"].astype(str)) == {"shop"}
    assert explorer.map.data[0].level == ids["shop"]
    _click(explorer, ids["checkout"])
    assert [d.value for d in _visible(explorer)] == [ids["shop"], ids["checkout"], ""]
    _click(explorer, ids["pod"])
    assert explorer.focus["pod"] == ids["pod_name"]
    assert f"pod={ids['pod_name']}" in explorer.figure.layout.title.text
    assert set(explorer.outputs.logs["pod"].astype(str)) == {ids["pod_name"]}
    assert ids["pod_name"] in explorer.status.value
    assert [d.value for d in _visible(explorer)][:3] == [ids["shop"], ids["checkout"], ids["pod"]]
    # one computation a click: selecting from the map does not echo back as a control change
    assert [s.node for s in computed] == [ids["shop"], ids["checkout"], ids["pod"]]


def test_clicking_the_box_the_map_is_zoomed_to_goes_up(model, ids):
    explorer = Explorer(model, focus={"namespace": "shop", "workload": "checkout"}, anomalies=False)
    assert explorer.map.data[0].level == ids["checkout"]
    # plotly.js zooms out to the parent when the entry box (or its step in the path bar) is
    # clicked; the selection goes up with it
    _click(explorer, ids["checkout"])
    assert explorer.node == ids["shop"] and explorer.map.data[0].level == ids["shop"]
    assert len(_visible(explorer)) == 2
    _click(explorer, ids["shop"])
    assert explorer.node == model.root("workload") and explorer.focus == {}
    # at the root there is nowhere to go up to
    _click(explorer, model.root("workload"))
    assert explorer.node == model.root("workload")


def test_picking_in_the_dropdowns_zooms_the_map(model, ids):
    explorer = Explorer(model, anomalies=False)
    sent = _sent(explorer.map)
    computed = _counting(explorer)
    explorer.levels[0].value = ids["shop"]
    explorer.levels[1].value = ids["checkout"]
    assert explorer.map.data[0].level == ids["checkout"]
    # the browser is sent the map zoomed to each pick, once a pick
    assert [t["level"] for t in sent] == [ids["shop"], ids["checkout"]]
    container = f"{ids['pod']}/checkout"  # drawn zoomed to its workload, not to its namespace
    assert container in sent[-1]["ids"] and container not in sent[0]["ids"]
    assert len(computed) == 2
    # a control that does not move the selection does not move the map
    explorer.show_anomalies.value = True
    assert len(sent) == 2 and len(computed) == 3
    explorer.select(ids["pod"])
    assert explorer.map.data[0].level == ids["pod"] and len(sent) == 3


def test_hovering_the_map_selects_nothing(model, ids):
    explorer = Explorer(model, anomalies=False)
    computed = _counting(explorer)
    for event in ("plotly_hover", "plotly_unhover"):
        _click(explorer, ids["shop"], event=event)
    # a double-click deselects: plotly sends no points
    explorer.map.set_state(
        {
            "_js2py_pointsCallback": {
                "event_type": "plotly_deselect",
                "points": {"trace_indexes": [], "point_indexes": [], "xs": [], "ys": []},
                "device_state": None,
                "selector": None,
            }
        }
    )
    assert explorer.node == model.root("workload") and computed == []
    assert explorer.map.data[0].level == model.root("workload")


def test_the_map_follows_the_view(model, ids):
    explorer = Explorer(model, focus={"namespace": "shop", "workload": "checkout"}, anomalies=False)
    explorer.view.value = "node"
    tree = model.tree("node")
    assert set(explorer.map.data[0].ids) <= set(tree["id"])
    assert explorer.map.data[0].level == explorer.node == model.root("node")
    assert set(tree.loc[list(explorer.map.data[0].ids), "kind"]) == {"Cluster", "Node", "Pod"}
    node = tree.loc[tree["kind"] == "Node", "id"].iloc[0]
    _click(explorer, node)
    assert explorer.focus["node"] == tree.at[node, "node"]
    assert _visible(explorer)[0].value == node
    explorer.view.value = "service"
    assert set(explorer.map.data[0].ids) <= set(model.tree("service")["id"])
    assert "Service" in set(model.tree("service").loc[list(explorer.map.data[0].ids), "kind"])


def test_explorers_sharing_a_model_zoom_on_their_own(model):
    first, second = Explorer(model, anomalies=False), Explorer(model, anomalies=False)
    _click(first, model.find("workload", {"namespace": "shop"}))
    assert first.map.data[0].level == model.find("workload", {"namespace": "shop"})
    assert second.map.data[0].level == model.root("workload")


@pytest.fixture
def marked_up() -> obskit.Investigation:
    """Pods and a container whose names are plotly's pseudo-HTML: a link, an image, bold."""
    pods = ['<a href="javascript:alert(1)">x</a>', "<img src=x onerror=alert(1)>"]
    return obskit.Investigation(
        logs=pd.DataFrame(
            {
                "timestamp": ["2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"],
                "namespace": ["shop", "shop"],
                "pod": pods,
                "container": ["<b>c</b>", "web"],
                "message": ["ERROR boom", "INFO fine"],
            }
        ),
        cluster="test",
    )


def test_map_labels_from_the_data_are_text_not_markup(marked_up):
    explorer = Explorer(marked_up, anomalies=False, tables=())
    [trace] = explorer.map.data
    # everything plotly.js parses for tags: the box labels (also the path bar), their text and
    # the hover text; obskit's own markup (<b>, <i>, <br>) is all that is left in them
    shown = [*trace.labels, *trace.text, *trace.hovertext]
    for value in shown:
        stripped = re.sub(r"</?(?:b|i|br)>", "", value)
        assert "<" not in stripped and ">" not in stripped, value
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;x&lt;/a&gt;" in trace.labels
    assert "&lt;img src=x onerror=alert(1)&gt;" in trace.labels
    # clicking the hostile pod selects it and shows its container; the status line shows its
    # name as text
    link = next(i for i in trace.ids if "javascript" in i)
    _click(explorer, link)
    assert explorer.focus["pod"] == '<a href="javascript:alert(1)">x</a>'
    assert "&lt;b&gt;c&lt;/b&gt;" in explorer.map.data[0].labels
    assert not any("<b>c" in label for label in explorer.map.data[0].labels)
    assert "<a href" not in explorer.status.value
    assert "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;" in explorer.status.value


def test_a_zoom_reads_epoch_milliseconds_and_offsets_as_utc():
    from obskit.widgets.explorer import _zoomed_range

    zoom = _zoomed_range({"xaxis2.range": [1715676000000, "2024-05-14T11:00:00+02:00"]})
    assert zoom == (pd.Timestamp("2024-05-14T08:40:00Z"), pd.Timestamp("2024-05-14T09:00:00Z"))
    assert _zoomed_range({"xaxis.range": ["NaT", "2024-05-14"]}) is None
    assert _zoomed_range({"xaxis.range": [None, "2024-05-14"]}) is None
