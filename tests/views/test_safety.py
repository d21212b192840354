"""Markup from the data shows as text: never as tags in hover text, labels or tables."""

from __future__ import annotations

import plotly.io as pio
import pytest

from obskit.views import events_table, hierarchy, logs_table, timeline

from .conftest import XSS

#: Figure attributes that plotly renders as (pseudo-)HTML.
_SHOWN = {"name", "labels", "text", "hovertext", "meta", "ticktext", "title", "customdata"}


def _shown_strings(node: object, key: str = "", shown: bool = False):
    """Every string under a rendered attribute of a figure's JSON."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _shown_strings(v, k, shown or k in _SHOWN or k == "annotations")
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _shown_strings(v, key, shown)
    elif isinstance(node, str) and shown:
        yield node


def _assert_escaped(fig) -> list[str]:
    strings = list(_shown_strings(fig.to_plotly_json()))
    for text in strings:
        assert "<script" not in text.lower(), text
        assert "<img" not in text.lower(), text
    return strings


@pytest.mark.parametrize("view", ["workload", "node", "service"])
@pytest.mark.parametrize("style", ["treemap", "sunburst"])
def test_hierarchy_escapes_names_labels_and_reasons(hostile, view, style):
    strings = _assert_escaped(hierarchy(hostile, view, style=style))
    joined = "\n".join(strings)
    if view != "service":  # the pod named <script> is behind no service
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    if view != "node":
        assert "&lt;img src=x onerror=alert(1)&gt;" in joined  # a pod label value


def test_timeline_escapes_log_lines_reasons_and_labels(hostile):
    fig = timeline(hostile, anomalies=None)
    strings = _assert_escaped(fig)
    joined = "\n".join(strings)
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined  # event reason and metric label
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined  # falco rule, event message


def test_timeline_escapes_a_focus_and_anomaly_text(hostile):
    import pandas as pd

    anomalies = pd.DataFrame(
        {
            "pod": [XSS[0]],
            "namespace": ["shop"],
            "onset": ["2024-05-01T10:05:00Z"],
            "description": [XSS[1]],
        }
    )
    fig = timeline(hostile, focus={"namespace": "shop"}, anomalies=anomalies)
    _assert_escaped(fig)


def test_html_export_has_no_markup_from_data(hostile):
    html = pio.to_html(hierarchy(hostile), include_plotlyjs=False)
    html += pio.to_html(timeline(hostile), include_plotlyjs=False)
    for payload in XSS:
        assert payload not in html


def test_tables_render_data_as_text(hostile):
    events = events_table(hostile).to_html()
    logs = logs_table(hostile).to_html()
    for html in (events, logs):
        for payload in XSS:
            assert payload not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in events
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in logs
    # the table keeps the data as recorded: escaping happens when it is rendered
    assert XSS[0] in logs_table(hostile)["message"].iloc[0]
