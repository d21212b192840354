"""The public API is what __all__ says, sorted, and every name in it exists."""

from __future__ import annotations

import obskit


def test_all_is_sorted_and_exported():
    assert obskit.__all__ == sorted(obskit.__all__, key=lambda n: (not n.isupper(), n))
    for name in obskit.__all__:
        assert hasattr(obskit, name), name


def test_required_names():
    for name in ("load", "Investigation", "FORMATS", "ObskitError", "datasets"):
        assert name in obskit.__all__


def test_all_errors_subclass_obskit_error():
    for name in obskit.__all__:
        value = getattr(obskit, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, obskit.ObskitError), name


def test_formats_lists_every_spine_format():
    assert set(obskit.FORMATS) >= {
        "prometheus-json",
        "prometheus-text",
        "k8s-json",
        "cluster-info-dump",
        "cri-log",
        "docker-json-log",
        "jsonl-log",
        "loki-json",
        "audit-log",
        "falco-json",
    }
    assert all(isinstance(v, str) and v for v in obskit.FORMATS.values())


def test_import_has_no_side_effects(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    subprocess.run([sys.executable, "-c", "import obskit"], check=True)
    assert list(tmp_path.iterdir()) == []
