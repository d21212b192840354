"""Views load lazily and never pull in ipywidgets; sources never import plotly."""

from __future__ import annotations

import subprocess
import sys

import plotly.graph_objects as go


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(out.stdout.split())


def test_import_obskit_loads_no_views():
    loaded = _modules_after("import obskit")
    assert "obskit.views" not in loaded


def test_views_never_import_ipywidgets():
    loaded = _modules_after("import obskit.views")
    assert "ipywidgets" not in loaded


def test_sources_never_import_plotly():
    loaded = _modules_after("import obskit.sources")
    assert not any(m == "plotly" or m.startswith("plotly.") for m in loaded)


def test_investigation_methods_return_figures(hostile):
    assert isinstance(hostile.hierarchy(view="node", style="icicle"), go.Figure)
    assert isinstance(hostile.timeline(focus={"namespace": "shop"}), go.Figure)
    assert hostile.hierarchy_frame("service")["kind"].iloc[0] == "Cluster"
