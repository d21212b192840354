"""Every notebook runs top to bottom on the bundled data, and is committed without outputs.

Each starts with one cell tagged ``parameters`` (papermill-style) that only assigns literals, so
``obskit report`` can inject other values after it.
"""

from __future__ import annotations

import ast
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import obskit

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
#: What a notebook shows that means it really computed something: a table or a figure.
_SHOWN = ("text/html", "application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json")


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_starts_with_a_parameters_cell_of_literals(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "each notebook has one cell tagged 'parameters'"
    assert code[0] is tagged[0], "the parameters cell is the first code cell"
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        ast.literal_eval(statement.value)  # a literal, so it can be replaced by injection


@contextlib.contextmanager
def _live_cluster(nb, folder: Path) -> Iterator[None]:
    """For the live notebook: a replayed cluster on loopback (no API server can run here; see
    tests/live/kube_replay.py) whose kubeconfig is injected after the parameters cell, and a
    pod that is added while the notebook watches."""
    from tests.live.kube_replay import new_pod, replayed_cluster

    with replayed_cluster(folder) as (api, _):
        values = {
            "kubeconfig": str(folder / "kubeconfig"),
            "every": "0.5s",
            "wait_ticks": 2,
            "bundle": str(folder / "bundle"),
            "stop": True,
        }
        injected = "\n".join(f"{k} = {v!r}" for k, v in values.items())
        nb.cells.insert(2, nbformat.v4.new_code_cell(injected))

        def add_a_pod() -> None:
            deadline = time.monotonic() + 60
            while not any(w["path"] == "/api/v1/pods" for w in api.watches):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            api.put(new_pod("checkout-7d9f8b6c4-live1", "uid-live1"))

        thread = threading.Thread(target=add_a_pod, daemon=True)
        thread.start()
        yield
        thread.join(5)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    live = (
        _live_cluster(nb, tmp_path) if path.stem == "05-live-cluster" else contextlib.nullcontext()
    )
    with live:
        NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    if path.stem == "05-live-cluster":  # the pod added while it watched is in its change log
        assert obskit.load(tmp_path / "bundle").changes["name"].tolist() == [
            "checkout-7d9f8b6c4-live1"
        ]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert errors == []
    # it really computed something: tables or figures, and its last code cell shows a result
    assert any(key in o.get("data", {}) for o in outputs for key in _SHOWN)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last.outputs, "the last code cell shows its result"
    if path.stem == "00-quickstart":  # the key sources, from the inventory among others
        assert "inventory" in str(last.outputs)
        rejects = next(c for c in nb.cells if "rejects_table(" in c.source)
        shown = str(rejects.outputs)
        assert "audit/audit.log" in shown and str(path.parents[1]) not in shown
