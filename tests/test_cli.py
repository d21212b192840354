"""The obskit command line."""

from __future__ import annotations

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
