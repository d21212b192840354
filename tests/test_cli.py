"""The obskit command line."""

from __future__ import annotations

import html
import re

import pytest

import obskit
from obskit.cli import main

from .conftest import DATA


def test_formats_lists_every_format(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in obskit.FORMATS:
        assert name in out


def test_load_prints_rows_coverage_rejects_and_skipped(capsys):
    assert main(["load", str(DATA / "cri"), str(DATA / "k8s"), "--cluster", "demo"]) == 0
    out = capsys.readouterr().out
    assert "<Investigation cluster='demo'" in out
    assert "key coverage" in out
    assert "Rejects by reason:" in out and "unknown CRI tag 'X'" in out
    assert "Skipped files:" in out and "SOURCES.md" in out
    assert "cri-log" in out


def test_load_error_is_one_line_not_a_traceback(capsys, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    assert main(["load", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("obskit: error: ") and "Traceback" not in err


def test_demo_writes_the_report_here_and_prints_a_summary(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    report = tmp_path / "obskit-demo-report.html"
    assert report.is_file() and report.stat().st_size > 1_000_000
    assert str(report) in out
    said = " ".join(out.split())  # the summary is wrapped at 100 characters
    assert "Top suspect" in said and "storefront-b6rzdb2j9g-mq658" in said
    assert "Security detections: 11" in said


def test_report_runs_another_notebook_with_parameters_and_code(capsys, tmp_path):
    out_file = tmp_path / "sub" / "timeline.html"
    argv = [
        "report", "checkout-oom", "--out", str(out_file), "--notebook", "02-incident-timeline",
        "--start", "2024-05-14T08:45:00Z", "--end", "2024-05-14T10:00:00Z",
        "--where", "namespace=shop", "--where", "namespace=kube-system",
        "--focus", "namespace=shop,workload=frontend", "--show-code", "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    assert str(out_file) in capsys.readouterr().out
    page = out_file.read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page[page.index("<body") :]))
    assert "focus = {'namespace': 'shop', 'workload': 'frontend'}" in text  # injected
    assert "start = '2024-05-14T08:45:00Z'" in text
    assert "keys = {'namespace': ['shop', 'kube-system']}" in text  # --where, passed to load
    assert "obskit.load(path, cluster=cluster, start=start, end=end, where=keys)" in text
    assert "inv.timeline(focus=where" in text  # --show-code keeps the code
    assert "workload=frontend" in page  # the timeline's title names the focus


def test_report_errors_are_one_line(capsys, tmp_path):
    out = str(tmp_path / "r.html")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cases = [
        (["report", "no/such/dir", "--out", out], "neither a bundled incident"),
        (["report", "live", "--out", out], "needs at least one of --prometheus"),
        (["report", "live", "--prometheus", "http://127.0.0.1:9", "--out", out], "need a window"),
        (["report", "checkout-oom", "--loki", "http://127.0.0.1:9", "--out", out], "go with"),
        (["report", "checkout-oom", "--focus", "shop", "--out", out], "key=value pairs"),
        (["report", "checkout-oom", "--start", "noonish", "--out", out], "--start must be a"),
        (["report", "checkout-oom", "--end", "2024-13-01", "--out", out], "--end must be a"),
        (["report", "checkout-oom", "--where", "shop", "--out", out], "--where takes key=value"),
        (["report", "checkout-oom", "--where", "team=a", "--out", out], "no key column"),
        (
            [
                "report",
                "checkout-oom",
                "--start",
                "2024-05-14T10:00Z",
                "--end",
                "2024-05-14T09:00Z",
                "--out",
                out,
            ],
            "is after its end",
        ),
        (["report", "checkout-oom", "--notebook", "nope", "--out", out], "no notebook 'nope'"),
        # --out is checked before the run, not written after it
        (["report", "checkout-oom", "--out", str(tmp_path)], "is a folder; name the HTML file"),
        (["report", "checkout-oom", "--out", f"{a_file}/r.html"], "cannot write the report to"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("obskit: error: ") and message in err, (argv, err)
        assert "Traceback" not in err


#: A pod name that sets the terminal's title, clears its screen and reverses what follows.
EVIL_POD = "web\x1b]0;owned\x07\x1b[2J\u202e1-bew"


def test_load_shows_control_characters_of_a_pod_name_as_escapes(capsys, tmp_path):
    folder = tmp_path / "var" / "log" / "pods" / f"shop_{EVIL_POD}_0d3c6f2e-1c2b-4f1a" / "web"
    folder.mkdir(parents=True)
    (folder / "0.log").write_text("2024-05-01T10:00:00.000000000Z stdout F hello\n")
    (folder / "notes.bin").write_bytes(b"\x00\x01junk")  # skipped, listed with its path
    assert main(["load", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "shop_web\\x1b]0;owned\\x07\\x1b[2J\\u202e1-bew_" in out


def test_the_review_summary_reaches_the_terminal_without_escape_sequences(capsys, tmp_path):
    from obskit.cli import _print_report
    from obskit.report import Report

    summary = f"Top suspect: pod shop/{EVIL_POD} (score 0.9)."
    _print_report(Report(tmp_path / "r.html", 10, "04-post-incident-review", summary, 1.0))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "shop/web\\x1b]0;owned\\x07\\x1b[2J\\u202e1-bew" in out


def test_report_live_passes_the_stores_to_the_notebook(monkeypatch, tmp_path):
    from obskit import report

    seen = {}
    monkeypatch.setattr(report, "run", lambda *a, **kw: seen.update(kw) or 1 / 0)
    monkeypatch.setenv("ES_KEY", "secret-key")
    monkeypatch.setenv("SUMO_ACCESS_ID", "suID")
    monkeypatch.setenv("SUMO_ACCESS_KEY", "suKEY")
    argv = ["report", "live", "--start", "2024-05-14T10:00Z", "--end", "2024-05-14T11:00Z"]
    argv += ["--out", str(tmp_path / "r.html"), "--namespace", "shop"]
    argv += ["--elasticsearch", "https://es.logging:9200", "--elasticsearch-index", "logs-*"]
    argv += ["--elasticsearch-api-key-env", "ES_KEY", "--sumologic", "https://api.sumologic.com"]
    with pytest.raises(ZeroDivisionError):  # the notebook run is not the test's business
        main(argv)
    live = seen["live"]
    assert live["namespaces"] == ["shop"]
    assert live["elasticsearch"] == {
        "url": "https://es.logging:9200",
        "index": "logs-*",
        "api_key_env": "ES_KEY",
    }
    sources = report.live_sources(live)
    assert repr(sources["elasticsearch"]) == (
        "Elasticsearch('https://es.logging:9200', index='logs-*', time_field='@timestamp')"
    )
    assert repr(sources["sumologic"]) == "SumoLogic('https://api.sumologic.com', scope='*')"
    assert "secret-key" not in str(live) and "suKEY" not in str(live)


def test_the_stores_go_with_live_only(capsys, tmp_path):
    argv = ["report", "checkout-oom", "--elasticsearch", "http://127.0.0.1:9"]
    assert main([*argv, "--out", str(tmp_path / "r.html")]) == 2
    assert "go with SOURCE 'live'" in capsys.readouterr().err
