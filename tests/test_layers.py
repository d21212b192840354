"""Imports run only downward through the layers of DESIGN.md, with import-linter's contracts.

The contracts are in pyproject.toml (``[tool.importlinter]``): the layers from ``cli`` down to
``errors``, sources without plotly or widgets, views without widgets. Imports inside functions
count too, so a lazy import cannot cross a layer unseen.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).parents[1]


def test_the_import_contracts_are_kept(capsys):
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert "Contracts: 3 kept, 0 broken." in report, report
    assert code == 0, report
