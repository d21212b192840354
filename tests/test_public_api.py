"""The public API is what __all__ says, sorted, and exactly the names obskit exports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

import obskit
import obskit.views
from obskit import errors


def test_all_is_sorted_and_exported():
    assert obskit.__all__ == sorted(obskit.__all__, key=lambda n: (not n.isupper(), n))
    for name in obskit.__all__:
        assert hasattr(obskit, name), name


def _bound_in_init() -> set[str]:
    """The public names obskit/__init__.py binds: what it imports and assigns."""
    tree = ast.parse(Path(obskit.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")} | {"__version__"}


def test_all_is_exactly_the_public_names():
    # like httpx's test_exported_members: a name imported but not exported, or exported but not
    # bound in __init__.py, fails here (missing and extra are both shown)
    exported = set(obskit.__all__)
    bound = _bound_in_init()
    assert (sorted(bound - exported), sorted(exported - bound)) == ([], [])
    assert len(obskit.__all__) == len(exported), "a name is in __all__ twice"
    # every public attribute that is not a submodule loaded along the way is exported
    loose = {
        name
        for name, value in vars(obskit).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert sorted(loose - exported) == []


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def test_every_error_is_in_the_tree_and_exported():
    # every public obskit error (of the modules `import obskit` loads) is one of obskit.errors
    for cls in _subclasses(obskit.ObskitError):
        if not cls.__name__.startswith("_"):
            assert cls.__module__ == "obskit.errors", f"{cls.__module__}.{cls.__name__}"
    assert set(errors.__all__) <= set(obskit.__all__)
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), f"{name} is not drawn in obskit.errors' tree"
    for name in obskit.__all__:
        value = getattr(obskit, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert value.__module__ == "obskit.errors", name


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


def test_modules_and_functions_have_their_own_dotted_names():
    # a function must not share a dotted name with a module: `import obskit.redact as r` used to
    # give the function, so the module could not be reached by its name
    modules = {
        "obskit.redaction": "redact",
        "obskit.views.hierarchies": "hierarchy",
        "obskit.views.timelines": "timeline",
        "obskit.live.collection": "collect",
    }
    for name, function in modules.items():
        module = importlib.import_module(name)
        assert isinstance(module, ModuleType), name
        assert module.__name__ == name
        assert callable(getattr(module, function)), (name, function)
    functions = {
        "obskit.redact": obskit.redact,
        "obskit.views.hierarchy": obskit.views.hierarchy,
        "obskit.views.timeline": obskit.views.timeline,
        "obskit.collect": obskit.collect,
        "obskit.live.collect": obskit.live.collect,
    }
    for dotted, value in functions.items():
        assert callable(value) and not isinstance(value, ModuleType), dotted
        assert f"{value.__module__}.{value.__name__}" != dotted, dotted
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(dotted)
