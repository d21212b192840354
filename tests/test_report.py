"""The HTML report: written, offline, code hidden, redacted, bounded, and inert in a browser.

One real report is made (module fixture) from a copy of the bundled ``cryptominer`` incident into
which attacker-controlled text is planted: a log line, an event and a pod label carry
``<script>alert(1)</script>`` and ``<img src=x onerror=alert(1)>``, and the log line carries a
bearer token and a password; more log lines and an event carry every kind of secret once found
unredacted (:data:`tests.planted.LEAKED`), and an audit request comes from a user whose
name a right-to-left override disguises. The browser test opens it in Debian's Chromium
(Playwright drives it; browsers cannot be downloaded here): it is skipped only when Chromium or
Playwright is missing and ``CI`` is not set.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

import obskit
from obskit import report
from obskit.errors import ReportError
from obskit.views.lenses import REPORT_SECTIONS
from tests.planted import LEAKED

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
TOKEN = "s3cr3tT0kenValue123abc"
PASSWORD = "hunter2hunter2"
POD = "storefront-b6rzdb2j9g-mq658"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

RLO_USER = "system:serviceaccount:kube-system:\u202erellortnoc-tnemyolped\u202c"
#: How the report shows it: the override and the pop as escapes.
RLO_SHOWN = "system:serviceaccount:kube-system:\\u202erellortnoc-tnemyolped\\u202c"
LEAKED_KINDS = sorted({kind for kind, _, _ in LEAKED})
LEAKED_SECRETS = [secret for _, _, secret in LEAKED]


def _lines_of_secrets(width: int = 140) -> list[str]:
    """The planted secrets' lines, a few to a log line (a report shows 600 characters of a cell).

    A ``Cookie:`` value runs to the end of its line, so cookie lines go last.
    """
    out: list[list[str]] = []
    for _, line, _ in sorted(LEAKED, key=lambda k: (k[0] == "cookie", -len(k[1]))):
        for group in out:
            if sum(len(x) + 3 for x in group) + len(line) <= width and "Cookie" not in group[-1]:
                group.append(line)
                break
        else:
            out.append([line])
    return [" | ".join(group) for group in out]


#: Loads a script, font, stylesheet, frame or image from elsewhere: none may be in a report.
_FETCHES = re.compile(
    r"<(?:script|img|iframe|embed|source|audio|video)\b[^>]*\bsrc\s*=|<link\b[^>]*\bhref\s*="
    r"|@import|url\(\s*['\"]?(?:https?:)?//|<object\b",
    re.IGNORECASE,
)


def _plant(folder: Path) -> None:
    """Put attacker-controlled text and secrets into a log line, an event and a pod label."""
    log = next((folder / "logs").rglob(f"*{POD}*/storefront/0.log"))
    with log.open("a", encoding="utf-8") as f:
        f.write(
            f"2024-09-10T20:59:59.900000000Z stderr F ERROR upstream said {SCRIPT} {IMG} "
            f"Authorization: Bearer {TOKEN} password={PASSWORD}\n"
        )
        for i, line in enumerate(_lines_of_secrets()):
            f.write(f"2024-09-10T20:59:59.{i:03d}000000Z stderr F ERROR {line}\n")
    audit = folder / "audit" / "audit.log"
    first = json.loads(audit.read_text().splitlines()[0])
    first.update(auditID="planted-rlo", stage="ResponseComplete", verb="list")
    first["user"]["username"] = RLO_USER
    first["objectRef"] = {"resource": "secrets", "namespace": "web", "apiVersion": "v1"}
    first["requestURI"] = "/api/v1/namespaces/web/secrets"
    with audit.open("a", encoding="utf-8") as f:
        f.write(json.dumps(first) + "\n")
    events_file = folder / "events" / "events.json"
    events = json.loads(events_file.read_text())
    events["items"].append(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "type": "Warning",
            "reason": f"Planted{SCRIPT}",
            "message": f"probe failed: {IMG} {SCRIPT} "
            + " ; ".join(line for kind, line, _ in LEAKED if kind != "cookie"),
            "count": 1,
            "firstTimestamp": "2024-09-10T20:40:00Z",
            "lastTimestamp": "2024-09-10T20:40:00Z",
            "involvedObject": {"kind": "Pod", "name": POD, "namespace": "web"},
            "metadata": {"name": f"{POD}.planted", "namespace": "web", "uid": "planted-event"},
            "source": {"component": "kubelet"},
        }
    )
    events_file.write_text(json.dumps(events))
    pods_file = folder / "inventory" / "pods.json"
    pods = json.loads(pods_file.read_text())
    for pod in pods["items"]:
        if pod["metadata"]["name"] == POD:
            pod["metadata"]["labels"]["planted"] = IMG
    pods_file.write_text(json.dumps(pods))


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("planted") / "incident"
    shutil.copytree(obskit.datasets.path("cryptominer"), folder)
    _plant(folder)
    return folder


@pytest.fixture(scope="module")
def made(planted, tmp_path_factory) -> tuple[report.Report, str]:
    out = tmp_path_factory.mktemp("report") / "review.html"
    # through a lens: it reorders the sections and keeps them all, so every check below holds
    # for every lens (tests/test_report_lenses.py checks the order)
    result = report.run(str(planted), out, progress=False, lens="security")
    return result, out.read_text(encoding="utf-8")


def _without_embedded_scripts(page: str) -> str:
    """The page without the bodies of its inline scripts (plotly.js holds URLs as strings)."""
    return re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", page, flags=re.DOTALL)


# --- the real report ---------------------------------------------------------------------------


def test_report_is_written_with_figures_and_summary(made):
    result, page = made
    assert result.path.is_file() and result.size == len(page.encode())
    assert result.notebook == "04-post-incident-review"
    assert page.count('class="obskit-figure-data"') >= 2  # the cluster map and the timeline
    assert "Top suspect" in result.summary and POD in result.summary
    assert "Security detections: " in result.summary


def test_report_is_offline(made):
    _, page = made
    assert _FETCHES.search(page) is None, _FETCHES.search(page)
    markup = _without_embedded_scripts(page).lower()
    # (data text may say "required": a posture control does; require.js may not be loaded)
    assert "mathjax" not in markup and "mermaid" not in markup
    assert re.search(r"require(?:\.min)?\.js|requirejs", markup) is None
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    assert len(scripts) == 2  # plotly.js once, and the script that draws the figures
    # plotly.js itself may name Plotly.newPlot in a help text (plotly.js 3.0's Mapbox message)
    plotly_js = max(scripts, key=len)
    assert page.replace(plotly_js, "").count("Plotly.newPlot") == 1
    assert "default-src 'none'" in page  # the Content-Security-Policy


def test_show_code_shows_paths_relative_to_the_source(planted, tmp_path):
    out = tmp_path / "quick.html"
    report.run(str(planted), out, notebook="00-quickstart", show_code=True, progress=False)
    text = html.unescape(re.sub(r"<[^>]+>", "", out.read_text(encoding="utf-8")))
    assert str(planted.parent) not in text and str(tmp_path) not in text
    assert "obskit-report-" not in text  # the run's scratch folder
    assert "source = 'incident'" in text  # the parameters cell
    assert "logs/var/log/pods/" in text  # the rejects table, relative to the source


def test_paths_are_shown_relative_to_a_folder_or_a_glob(tmp_path):
    work, bundle = tmp_path / "run", tmp_path / "run" / "bundle"
    for source, shown in (
        ("/home/ana/cases/incident", "incident"),
        ("/home/ana/cases/inc*/logs/*.log", "cases/inc*/logs/*.log"),
    ):
        paths = report._shown_paths(source, bundle, work, named=False)
        cell = {"source": f"source = {source!r}", "outputs": [f"{bundle}/manifest.json"]}
        assert report._relative_paths(cell, paths) == {
            "source": f"source = {shown!r}",
            "outputs": ["bundle/manifest.json"],
        }
    paths = report._shown_paths("/data", bundle, work, named=False)
    assert report._relative_paths("/data/x.log /var/lib/data/y.log", paths) == (
        "data/x.log /var/lib/data/y.log"  # a path inside another name stays
    )
    assert "/" not in report._shown_paths("/*.log", bundle, work, named=False)


def test_report_hides_code_by_default(made):
    _, page = made
    body = page[page.index("<body") :]
    assert "jp-InputArea-editor" not in body and "jp-mod-noInput" in body
    assert "review_summary(inv" not in page and "live_sources" not in page


def test_report_is_redacted(made):
    _, page = made
    assert TOKEN not in page and PASSWORD not in page
    assert "[REDACTED:bearer-token]" in page and "[REDACTED:password]" in page


def _decoded(page: str) -> str:
    """The page as a reader could see it: entities decoded, every figure's JSON decoded."""
    blocks = re.findall(r'class="obskit-figure-data"[^>]*>(.*?)</script>', page, re.DOTALL)
    return (
        html.unescape(page)
        + "\n".join(json.dumps(json.loads(b)) for b in blocks)
        + "\n".join(html.unescape(s) for b in blocks for s in _strings(json.loads(b)))
    )


def _strings(node: object):
    if isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def test_report_redacts_every_kind_of_secret(made):
    _, page = made
    seen = _decoded(page)
    leaked = [secret for secret in LEAKED_SECRETS if secret in seen]
    assert leaked == []
    missing = [kind for kind in LEAKED_KINDS if f"[REDACTED:{kind}]" not in page]
    assert missing == []


def test_a_disguised_user_is_a_detection_and_shown_escaped(made):
    _, page = made
    assert "\u202e" not in page and "\u202c" not in page
    assert RLO_SHOWN in html.unescape(page)
    assert "Name disguised with invisible or direction-changing characters" in page


def test_planted_markup_is_only_text(made):
    _, page = made
    outside = _without_embedded_scripts(page)
    assert SCRIPT not in page and IMG not in page
    # as text only: escaped, whole or as a log pattern (its number masked as <*>)
    shown_as_text = re.sub(r"&lt;img src=x onerror=alert\((?:1|&lt;\*&gt;)\)&gt;", "", outside)
    assert "onerror=alert" not in shown_as_text
    # it is there, as text, in the log table and the events table
    assert outside.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2


def test_report_is_bounded(made):
    result, _ = made
    assert result.size <= report.MAX_REPORT_BYTES


# --- export_html on made-up notebooks ----------------------------------------------------------


def _notebook(*outputs: dict, source: str = "x = 1") -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cell])


def _display(data: dict) -> dict:
    return nbformat.v4.new_output("display_data", data=data)


def test_show_code_keeps_cells_redacted():
    nb = _notebook(source='headers = {"Authorization": "Bearer abcdefghijkl0123"}')
    assert "headers" not in export_html_body(nb)
    shown = report.export_html(nb, show_code=True)
    assert "headers" in shown and "abcdefghijkl0123" not in shown


def export_html_body(nb: nbformat.NotebookNode, **kwargs) -> str:
    page = report.export_html(nb, **kwargs)
    return page[page.index("<body") :]


def _places() -> dict[str, nbformat.NotebookNode]:
    """Every planted secret's line in each place a notebook shows a value, a notebook a place."""
    import pandas as pd
    import plotly.graph_objects as go

    lines = [line for _, line, _ in LEAKED]
    frame = pd.DataFrame({"message": lines, "user": RLO_USER})
    figure = go.Figure(go.Scatter(x=list(range(len(lines))), y=[1] * len(lines)))
    figure.update_traces(hovertext=[html.escape(x) for x in lines], text=lines, name=RLO_USER)
    code = "\n".join(f"# {line}" for line in [*lines, RLO_USER])
    stream = nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + RLO_USER)
    return {
        "code": _notebook(source=code),
        "text": _notebook(_display({"text/plain": frame.to_string()})),
        "table": _notebook(_display({"text/html": frame.to_html()})),
        "markdown": _notebook(_display({"text/markdown": "\n\n".join(lines) + RLO_USER})),
        "stream": _notebook(stream),
        "figure": _notebook(_display({"application/vnd.plotly.v1+json": figure.to_plotly_json()})),
    }


@pytest.mark.parametrize("place", ["code", "text", "table", "markdown", "stream", "figure"])
def test_every_kind_of_secret_is_redacted_in_every_place(place):
    page = report.export_html(_places()[place], show_code=place == "code")
    seen = _decoded(page)
    leaked = [secret for secret in LEAKED_SECRETS if secret in seen]
    assert leaked == []
    shown = re.sub(r"<[^>]*>", "", seen)  # highlighting and autolinks split the text
    assert [kind for kind in LEAKED_KINDS if f"[REDACTED:{kind}]" not in shown] == []
    assert "\u202e" not in seen and "\\u202erellortnoc" in seen


def test_javascript_and_widget_outputs_are_dropped():
    nb = _notebook(
        _display({"application/javascript": "alert(3)", "text/plain": "js"}),
        _display({"application/vnd.jupyter.widget-view+json": {"model_id": "m"}}),
    )
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    page = report.export_html(nb)
    body = page[page.index("<body") :]
    assert "alert(3)" not in page and "model_id" not in page and "widget-state" not in page
    assert "js" in body
    assert "<script" not in page  # no figure: not even plotly.js


def test_a_widget_is_named_and_left_to_the_notebook():
    nb = _notebook(
        _display(
            {
                "application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                "text/plain": "Explorer(children=(VBox(children=(ToggleButtons(",
            }
        ),
        _display(
            {
                "application/vnd.jupyter.widget-view+json": {"model_id": "n"},
                "text/plain": "<script>alert(1)</script>(",
            }
        ),
    )
    body = export_html_body(nb)
    assert "Here the notebook shows the interactive Explorer. It needs a running kernel" in body
    assert "Here the notebook shows an interactive widget." in body
    assert "children=" not in body and "alert(1)" not in body and "model_id" not in body


def test_html_outputs_are_sanitised():
    nb = _notebook(
        _display(
            {
                "text/html": f'<table><tr><td onclick="alert(4)">{SCRIPT}{IMG}<iframe src="x">'
                '</iframe><a href="javascript:alert(5)">l</a></td></tr></table>'
            }
        )
    )
    body = export_html_body(nb)
    for bad in ("onclick", "<script>alert", "<img", "<iframe", "javascript:"):
        assert bad not in body, bad
    assert "<table>" in body


def test_style_blocks_go_with_their_content():
    # a stylesheet from the data could hide rows, overlay the page or fetch from elsewhere
    css = "td{display:none}body{background:url(https://attacker.example/x.png)}"
    nb = _notebook(
        _display({"text/html": f"<style>{css}</style><table><tr><td>kept</td></tr></table>"}),
        _display({"text/html": f'<STYLE type="text/css" >{css}</STYLE >after'}),
    )
    body = export_html_body(nb)
    assert "display:none" not in body and "attacker.example" not in body
    assert "<td>kept</td>" in body and "after" in body


def test_figure_json_cannot_close_its_block():
    fig = {"data": [{"type": "scatter", "x": [1], "y": [1], "name": "</script>" + SCRIPT}]}
    body = export_html_body(_notebook(_display({"application/vnd.plotly.v1+json": fig})))
    block = re.search(r'class="obskit-figure-data"[^>]*>(.*?)</script>', body, re.DOTALL)
    assert block and "<" not in block.group(1)
    assert json.loads(block.group(1))["data"][0]["name"] == "</script>" + SCRIPT


def test_outputs_beyond_the_budget_are_left_out():
    big = "x" * (report.OUTPUT_BYTES + 1)
    nearly = "y" * (report.OUTPUT_BYTES - 1000)
    outputs = [_display({"text/plain": big})] + [
        _display({"text/plain": nearly}) for _ in range(report.CONTENT_BYTES // len(nearly) + 3)
    ]
    page = report.export_html(_notebook(*outputs))
    assert len(page.encode()) <= report.MAX_REPORT_BYTES
    assert big not in page
    assert page.count("was left out of this report") == 2  # the too-large one, then the budget
    assert "output(s) left out (size bound)" in page


def test_inject_parameters_needs_a_parameters_cell():
    with pytest.raises(ReportError, match="no cell tagged 'parameters'"):
        report.inject_parameters(_notebook(), source="x")


def test_parameters_must_be_literals():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["parameters"]})]
    )
    injected = report.inject_parameters(nb, focus={"namespace": "shop"}, end=None)
    lines = injected.cells[1].source.splitlines()
    assert lines[1:] == ["focus = {'namespace': 'shop'}", "end = None"]
    with pytest.raises(ReportError, match="parameter 'source' must be text"):
        report.inject_parameters(nb, source=object())


def test_run_refuses_unusable_parameters(tmp_path):
    with pytest.raises(ReportError, match="neither a bundled incident"):
        report.run("no/such/folder", tmp_path / "r.html")
    with pytest.raises(ReportError, match="need a window"):
        report.run(live={"prometheus": "http://127.0.0.1:9"}, out=tmp_path / "r.html")
    with pytest.raises(ReportError, match="no notebook 'nope'"):
        report.run("checkout-oom", tmp_path / "r.html", notebook="nope")
    out = tmp_path / "r.html"
    with pytest.raises(ReportError, match="start must be a timestamp like"):
        report.run("checkout-oom", out, start="after lunch")
    with pytest.raises(ReportError, match="is after its end"):
        report.run("checkout-oom", out, start="2024-05-14T10:00Z", end="2024-05-14T09:00Z")
    with pytest.raises(ReportError, match="'team', which is no key column"):
        report.run("checkout-oom", out, where={"team": "payments"})
    with pytest.raises(ReportError, match=r"where\['namespace'\] must be a value or a list"):
        report.run("checkout-oom", out, where={"namespace": [3]})
    with pytest.raises(ReportError, match="live sources take their namespaces"):
        report.run(
            live={"prometheus": "http://127.0.0.1:9"}, out=out, start="2024-05-14T10:00Z",
            end="2024-05-14T11:00Z", where={"namespace": "shop"},
        )  # fmt: skip
    assert not out.exists()


def test_the_window_and_key_values_go_to_the_notebooks_load():
    values = report._parameters(
        "checkout-oom", None, {"namespace": "shop", "node": ["n1", "n2"]}, start="10:00Z", end=None
    )
    assert values == {
        "source": "checkout-oom",
        "keys": {"namespace": ["shop"], "node": ["n1", "n2"]},
        "start": "10:00Z",
    }
    for name in report.notebooks():
        if name in ("00-quickstart", "05-live-cluster"):
            continue  # no window: a first look, and a live watch
        text = report.notebook_path(name).read_text(encoding="utf-8")
        assert "keys = None" in text, name
        assert "start=start, end=end, where=keys)" in text, name


def test_an_out_that_cannot_be_written_is_refused_before_the_run(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the notebook ran")

    monkeypatch.setattr(report, "_execute", never)
    with pytest.raises(ReportError, match=r"is a folder; name the HTML file to write in it"):
        report.run("checkout-oom", tmp_path)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ReportError, match=r"cannot write the report to '.*a-file/r\.html': "):
        report.run("checkout-oom", tmp_path / "a-file" / "r.html")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ReportError, match=r"cannot write .*: Permission denied; choose"):
            report.run("checkout-oom", locked / "r.html")


def test_a_report_that_cannot_be_written_at_the_end_is_kept(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(ReportError, match=r"No space left on device; it was kept in '(.*)'") as e:
        report._write(tmp_path / "r.html", "<html>the page</html>")
    kept = Path(re.search(r"kept in '(.*)' instead", str(e.value)).group(1))
    monkeypatch.undo()
    assert kept.read_text(encoding="utf-8") == "<html>the page</html>"
    kept.unlink()


def test_live_sources_from_settings(monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", "tok")
    kwargs = report.live_sources(
        {
            "prometheus": {"url": "http://127.0.0.1:9", "bearer_token_env": "PROM_TOKEN"},
            "namespaces": "shop",
        }
    )
    assert kwargs["namespaces"] == ["shop"] and kwargs["kubernetes"] is None
    assert "Authorization" in repr(kwargs["prometheus"]) and "tok" not in repr(kwargs["prometheus"])
    with pytest.raises(ReportError, match="unknown key"):
        report.live_sources({"grafana": "x"})
    with pytest.raises(ReportError, match="names no source"):
        report.live_sources({"namespaces": ["shop"]})


# --- in a browser ----------------------------------------------------------------------------


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Playwright is not installed: pip install '.[test]'")
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have Debian's chromium at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    return sync_playwright


def test_report_renders_in_chromium_and_nothing_planted_runs(made):
    sync_playwright = _browser_or_skip()
    result, _ = made
    errors: list[str] = []
    failed: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    console: list[str] = []  # a blocked inline script or handler shows here as a CSP error
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.goto(result.path.as_uri(), wait_until="load")
            page.wait_for_selector(".main-svg", timeout=20_000)
            figures = page.locator(".obskit-figure").count()
            drawn = page.locator(".obskit-figure .main-svg").count()
            page.mouse.wheel(0, 20_000)  # scroll through: lazy content, hovers
            page.wait_for_timeout(500)
            text = page.inner_text("body")
            # what plotly holds to draw hover labels: every figure's data and layout
            drawn_data = page.evaluate(
                "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".map(g => JSON.stringify(g.data) + JSON.stringify(g.layout)).join('\\n')"
            )
        finally:
            browser.close()
    assert figures >= 2 and drawn >= figures
    assert errors == [] and failed == [] and dialogs == [] and console == []
    assert requests == [result.path.as_uri()]  # the page itself, nothing else
    assert SCRIPT in text  # shown as text
    assert TOKEN not in text
    assert [secret for secret in LEAKED_SECRETS if secret in text + drawn_data] == []
    assert "\u202e" not in text and RLO_SHOWN in text


# --- lenses and readable tables (the lens itself: tests/test_report_lenses.py) ----------------

_UNREADABLE = re.compile(r"<td>(?:NaN|nan|None|NaT|&lt;NA&gt;)</td>|\d\d:\d\d:\d\d\.\d+\+00:00")


def _h2s(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r"<h2[^>]*>(.*?)<a", page)]


def test_the_security_report_leads_with_detections_and_its_headline(made):
    _, page = made
    headings = _h2s(page)
    assert headings[:3] == [
        "Summary",
        "Security detections and the audit trail",
        "Posture and RBAC reach",
    ]
    assert len(headings) == len(REPORT_SECTIONS) + 4  # summary, looked at, manifest, questions
    assert "<title>Post-incident review: security lens</title>" in page
    assert re.search(r"Security: \d+ detections \(\d+ critical\), \d+ posture findings", page)
    assert "worst posture finding" in page  # the map's colour


def test_report_tables_show_utc_seconds_and_no_nan(made):
    _, security = made
    assert _UNREADABLE.search(security) is None, _UNREADABLE.search(security)
    assert "<th>time (UTC)</th>" in security and "<th>timestamp (UTC)</th>" in security
    assert re.search(r"<td>2024-09-10 \d\d:\d\d:\d\d</td>", security)
    # the message field of the storefront's JSON log lines, not the raw line
    assert "<td>render failed: worker pool saturated</td>" in security
    assert "{&quot;level&quot;:&quot;error&quot;" not in security
    # log patterns: the count column before the example
    head = re.search(r"<th>count</th>\s*<th>level</th>\s*<th>pattern</th>", security)
    assert head is not None


def test_the_summary_names_suspects_and_detections_as_the_rest_of_obskit_does():
    import pandas as pd

    inv = obskit.Investigation(
        metrics=pd.DataFrame(
            {
                "timestamp": pd.date_range("2024-01-01", periods=2, freq="1min", tz="UTC"),
                "metric": "up",
                "value": 1.0,
            }
        )
    )
    key = {"namespace": "shop", "workload_kind": "Deployment", "workload": "api"}
    suspects = pd.DataFrame(
        [
            {"entity_kind": "pod", **key, "pod": "api-1", "score": 9.0, "reason": "r"},
            {"entity_kind": "workload", **key, "score": 5.0, "reason": "r"},
            {"entity_kind": "container", **key, "pod": "db-0", "container": "pg", "score": 2.0},
        ]
    )
    detections = pd.DataFrame(
        [
            {
                "timestamp": pd.Timestamp("2024-01-01T00:01:00Z"),
                "severity": "critical",
                "reason": "Shell in a container",
                **key,
                "pod": "api-1",
                "container": "server",
            }
        ]
    )
    summary = str(report.review_summary(inv, suspects, detections))
    # the kind said as obskit.analysis.rca.conclusion says it, a container named with its pod
    assert "Next: Deployment shop/api; container pg of pod shop/db-0." in summary
    assert "Shell in a container on shop/api-1/server at 2024-01-01 00:01 UTC." in summary


def test_a_review_of_metrics_alone_says_posture_was_not_checked(tmp_path):
    # a folder with one Prometheus export and no Kubernetes object: the review is written,
    # and says why it has no posture finding instead of failing on the missing objects
    folder = tmp_path / "metrics-only"
    folder.mkdir()
    name = "http_request_duration_seconds.p99.json.gz"
    shutil.copy(obskit.datasets.path("checkout-oom") / "metrics" / name, folder / name)
    out = tmp_path / "review.html"
    report.run(str(folder), out, progress=False)
    page = out.read_text(encoding="utf-8")
    said = "No Kubernetes objects were loaded (kubectl get -o json, the API), so posture and RBAC"
    assert page.count(said) == 3  # the findings, the severe ones and the RBAC reach
