"""Imports run only downward through the layers of DESIGN.md, with import-linter's contracts.

The contracts are in pyproject.toml (``[tool.importlinter]``): the layers from ``cli`` down to
``errors``, sources without plotly or widgets, views without widgets. Imports inside functions
count too, so a lazy import cannot cross a layer unseen.
"""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).parents[1]


def test_the_import_contracts_are_kept(capsys):
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert "Contracts: 3 kept, 0 broken." in report, report
    assert code == 0, report


# --- no module reaches into another's private names ---------------------------------------------

PACKAGE = ROOT / "obskit"

# (importing module, imported module) -> why it may still use that module's underscore names
PRIVATE_IMPORTS_ALLOWED = {
    ("obskit.live.collection", "obskit.live.kubernetes"): (
        "_Forbidden (a 403 from the API) is a private CollectionError: public errors live in "
        "obskit.errors, and collect() catches it to note the missing RBAC grant and go on"
    ),
    ("obskit.live.watch", "obskit.live.kubernetes"): (
        "the same _Forbidden: the watch turns a refused list into its own note"
    ),
    ("obskit.live.watch", "obskit.sources.kubernetes"): (
        "the watch builds inventory rows of changed objects with the parser's own _frames and "
        "_inventory_row, so a watched object reads as a loaded one"
    ),
    ("obskit.sources.cloud_audit", "obskit.sources.audit"): (
        "the audit record helpers (_dict, _text) of the format whose rows cloud audit yields"
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    where = ROOT.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def _private_uses(path: Path) -> set[tuple[str, str, str]]:
    """(importing module, imported module, name) for each underscore name ``path`` takes from
    another obskit module: ``from obskit.x import _name`` or ``x._name`` on an imported module."""
    here = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: dict[str, str] = {}  # local name -> obskit module it is bound to
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("obskit.") and alias.asname:
                    modules[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("obskit"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _is_module(full):
                    modules[alias.asname or alias.name] = full
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add((here, node.module, alias.name))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.add((here, modules[node.value.id], node.attr))
    return {(a, b, name) for a, b, name in found if a != b}


def test_no_module_imports_another_modules_private_names():
    # a helper two modules share lives where both may import it under a public name (a shared
    # private module such as sources/_base.py, or its owner's public API); the exceptions
    # above say why they still reach in
    uses = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        uses |= _private_uses(path)
    unexplained = sorted(u for u in uses if u[:2] not in PRIVATE_IMPORTS_ALLOWED)
    assert unexplained == [], "import these under public names: " + "; ".join(
        f"{a} uses {b}.{name}" for a, b, name in unexplained
    )
    stale = sorted(set(PRIVATE_IMPORTS_ALLOWED) - {u[:2] for u in uses})
    assert stale == [], f"these exceptions are no longer needed: {stale}"


def test_the_private_import_check_sees_both_spellings(monkeypatch):
    module = PACKAGE / "sources" / "cri.py"
    monkeypatch.setattr(
        Path,
        "read_text",
        lambda self, encoding=None: (
            "from obskit.sources._base import _missing, Rejects\n"
            "from obskit.analysis import anomalies as an\n"
            "import obskit.sources.docker as dk\n"
            "an._ns(x); dk._sniff_docker(h, n); an.public(x)\n"
        ),
    )
    assert _private_uses(module) == {
        ("obskit.sources.cri", "obskit.sources._base", "_missing"),
        ("obskit.sources.cri", "obskit.analysis.anomalies", "_ns"),
        ("obskit.sources.cri", "obskit.sources.docker", "_sniff_docker"),
    }
