"""Views load lazily; the Investigation's figure methods give figures.

Which layer may import which (views never the widgets, sources never plotly) is
import-linter's contract in pyproject.toml, checked by tests/test_layers.py.
"""

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


def test_investigation_methods_return_figures(hostile):
    assert isinstance(hostile.hierarchy(view="node", style="icicle"), go.Figure)
    assert isinstance(hostile.timeline(focus={"namespace": "shop"}), go.Figure)
    assert hostile.hierarchy_frame("service")["kind"].iloc[0] == "Cluster"
