"""Lenses in the report: each team's sections first, its headline, every section still there;
and the report's tables as an analyst reads them (UTC seconds, no NaN, message fields)."""

from __future__ import annotations

import html
import re

import nbformat
import pytest

from obskit import report
from obskit.errors import ReportError
from obskit.views.lenses import LENSES, REPORT_SECTIONS

REVIEW = report.notebook_path("04-post-incident-review")
#: What a missing value or a raw time looks like when a table was not made readable.
_UNREADABLE = re.compile(r"<td>(?:NaN|nan|None|NaT|&lt;NA&gt;)</td>|\d\d:\d\d:\d\d\.\d+\+00:00")


def _sections(nb: nbformat.NotebookNode) -> list[str]:
    return [report._section(c) for c in nb.cells if report._section(c)]


def _headings(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r"<h2[^>]*>(.*?)<a", page)]


def test_the_review_has_every_section_once():
    assert _sections(nbformat.read(REVIEW, as_version=4)) == list(REPORT_SECTIONS)


@pytest.mark.parametrize("name", ["security", "dev", "ops"])
def test_a_lens_puts_its_sections_first_and_keeps_every_cell(name):
    nb = nbformat.read(REVIEW, as_version=4)
    ordered = report.order_sections(nb, name)
    assert _sections(ordered) == list(LENSES[name].sections)
    assert sorted(c.source for c in ordered.cells[1:]) == sorted(c.source for c in nb.cells[1:])
    assert ordered.cells[0].source.startswith(f"# Post-incident review: {name} lens")
    # the summary stays first, what was looked at and the open questions last
    headings = [report._heading(c) for c in ordered.cells if report._heading(c)]
    assert headings[1] == "Summary" and headings[-1] == "Open questions"


def test_lenses_differ_and_none_leaves_the_notebook_as_it_is():
    nb = nbformat.read(REVIEW, as_version=4)
    firsts = {name: _sections(report.order_sections(nb, name))[0] for name in LENSES}
    assert firsts == {"all": "map", "security": "detections", "dev": "suspects", "ops": "nodes"}
    assert report.order_sections(nb, None) == nb
    with pytest.raises(ReportError, match="lens must be one of 'all', 'security', 'dev', 'ops'"):
        report.order_sections(nb, "finance")


def test_cli_report_takes_a_lens(capsys):
    from obskit import cli

    with pytest.raises(SystemExit):
        cli.main(["report", "cryptominer", "--out", "x.html", "--lens", "finance"])
    assert "invalid choice: 'finance'" in capsys.readouterr().err


def test_the_security_lens_on_metrics_alone_says_posture_was_not_checked():
    # metrics and logs hold no Kubernetes objects: the headline says posture was not checked
    # and the cluster map, coloured by the worst finding, counts none instead of failing
    from pathlib import Path

    import obskit
    from obskit.views.lenses import headline

    data = Path(__file__).parent / "data" / "prometheus" / "query_range_up.json"
    inv = obskit.load(data)
    line = headline(inv, "security")
    assert "posture not checked (no Kubernetes objects loaded)" in line, line
    figure = inv.hierarchy("workload", color_by="worst_finding")
    assert figure.data and figure.data[0].ids is not None
