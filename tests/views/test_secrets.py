"""Secrets and disguised names in what the views show: hover text, labels and tables.

Every kind of secret once found unredacted in a shared report is planted in an event (its
message, reason and user) and a log line; none may reach a figure's shown strings or a rendered
table, and each must leave its ``[REDACTED:<kind>]`` marker. Names with a right-to-left override
or a zero-width space show those characters as escapes.
"""

from __future__ import annotations

import html

import pandas as pd
import pytest

import obskit
from obskit.views import events_table, hierarchy, logs_table, timeline
from tests.planted import LEAKED

from .test_safety import _shown_strings

T0 = pd.Timestamp("2024-05-01T10:00:00Z")
RLO_USER = "system:serviceaccount:kube-system:\u202erellortnoc-tnemyolped\u202c"
ZWSP_POD = "web\u200b-1"


def _investigation(line: str) -> obskit.Investigation:
    events = pd.DataFrame(
        {
            "timestamp": [str(T0), str(T0 + pd.Timedelta(minutes=20))],
            "source": ["kubernetes", "audit"],
            "severity": ["warning", "warning"],
            "reason": [line[:60], "get"],
            "message": [line, f"audit: {line}"],
            "object_kind": ["Pod", "Pod"],
            "object_name": [ZWSP_POD, ZWSP_POD],
            "namespace": ["shop", "shop"],
            "pod": [ZWSP_POD, ZWSP_POD],
            "user": [None, RLO_USER],
            "verb": [None, "get"],
        }
    )
    logs = pd.DataFrame(
        {
            "timestamp": [str(T0 + pd.Timedelta(minutes=m)) for m in (1, 2)],
            "namespace": "shop",
            "pod": [ZWSP_POD] * 2,
            "container": ["web"] * 2,
            "message": [f"ERROR {line}", "INFO fine"],
        }
    )
    return obskit.Investigation(events=events, logs=logs, cluster="test")


def _shown(fig) -> str:
    """What a reader sees: every shown string of the figure, entities decoded."""
    return html.unescape("\n".join(_shown_strings(fig.to_plotly_json())))


@pytest.mark.parametrize(
    ("kind", "line", "secret"), LEAKED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(LEAKED)]
)
def test_no_secret_in_timeline_hover_text(kind, line, secret):
    shown = _shown(timeline(_investigation(line), anomalies=None))
    assert secret not in shown
    assert f"[REDACTED:{kind}]" in shown


@pytest.mark.parametrize(
    ("kind", "line", "secret"), LEAKED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(LEAKED)]
)
def test_no_secret_in_rendered_tables(kind, line, secret):
    inv = _investigation(line)
    for table in (events_table(inv), logs_table(inv)):
        rendered = obskit.redact(table).to_html()
        assert secret not in html.unescape(rendered)
        assert f"[REDACTED:{kind}]" in rendered


def test_disguised_names_show_their_characters_in_hover_text_and_labels():
    inv = _investigation("fine")
    shown = _shown(timeline(inv, anomalies=None))
    assert "\u202e" not in shown and "\u200b" not in shown
    assert "kube-system:\\u202erellortnoc-tnemyolped\\u202c" in shown
    assert "web\\u200b-1" in shown
    tree = _shown(hierarchy(inv, "workload"))
    assert "\u200b" not in tree and "web\\u200b-1" in tree


def test_disguised_names_show_their_characters_in_tables():
    inv = _investigation("fine")
    events = events_table(inv)
    assert RLO_USER not in events["user"].tolist()
    assert "system:serviceaccount:kube-system:\\u202erellortnoc-tnemyolped\\u202c" in set(
        events["user"]
    )
    assert set(events["object"]) == {"Pod/web\\u200b-1"}
    assert set(logs_table(inv)["pod"]) == {"web\\u200b-1"}


def test_hover_text_follows_the_redaction_setting():
    line = "password='Qu0t3dPw'"
    previous = obskit.set_redaction(False)
    try:
        assert "Qu0t3dPw" in _shown(timeline(_investigation(line), anomalies=None))
    finally:
        obskit.set_redaction(previous)
    assert "Qu0t3dPw" not in _shown(timeline(_investigation(line), anomalies=None))
