"""What a live Explorer sends: the restyle and relayout that turn what is shown into what is new."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from obskit.widgets._delta import relayout_delta, restyle_delta


def _trace(**props) -> dict:
    return go.Treemap(**props).to_plotly_json()


def test_unchanged_traces_send_nothing_nan_and_arrays_included():
    old = {"type": "scatter", "x": np.array([1.0, np.nan]), "y": [1, None], "uid": "a1"}
    new = {"type": "scatter", "x": np.array([1.0, np.nan]), "y": [1, None]}
    assert restyle_delta(old, new) == {}  # a widget's own uid is not the figure's


def test_a_few_changed_items_are_patched_and_many_sent_whole():
    ids = [f"n{i}" for i in range(8)]
    old = _trace(ids=ids, marker={"line": {"color": ["#fff"] * 8}})
    one = _trace(ids=ids, marker={"line": {"color": ["#fff"] * 7 + ["#7c3aed"]}})
    assert restyle_delta(old, one) == {"marker.line.color[7]": "#7c3aed"}
    many = _trace(ids=ids, marker={"line": {"color": ["#000"] * 8}})
    assert restyle_delta(old, many) == {"marker.line.color": [["#000"] * 8]}


def test_items_added_at_the_end_are_patched_and_a_shorter_list_is_sent_whole():
    old = _trace(ids=[f"n{i}" for i in range(8)], values=list(range(8)))
    new = _trace(ids=[f"n{i}" for i in range(9)], values=[*range(8), 1])
    assert restyle_delta(old, new) == {"ids[8]": "n8", "values[8]": 1}
    assert restyle_delta(new, old) == {
        "ids": [[f"n{i}" for i in range(8)]],
        "values": [list(range(8))],
    }


def test_numpy_arrays_are_sent_whole_and_a_property_gone_is_removed():
    old = {"x": np.arange(10.0), "name": "a", "marker": {"color": "red"}}
    new = {"x": np.r_[np.arange(9.0), 99.0], "marker": {"color": "red"}}
    delta = restyle_delta(old, new)
    assert set(delta) == {"x", "name"} and delta["name"] == [None]
    np.testing.assert_array_equal(delta["x"][0], new["x"])


def test_relayout_sends_the_changed_leaves_and_removes_what_is_gone():
    old = {"title": {"text": "a", "x": 0.01}, "yaxis2": {"domain": [0, 0.5]}, "height": 300}
    new = {"title": {"text": "b", "x": 0.01}, "height": 300}
    assert relayout_delta(old, new) == {"title.text": "b", "yaxis2.domain": None}
