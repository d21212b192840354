"""End to end: a live Explorer in JupyterLab, in a real browser, following a cluster that changes.

The test process serves the replayed Kubernetes API (:mod:`tests.live.kube_replay`) on loopback
and writes its kubeconfig; a notebook cell in JupyterLab makes the Kubernetes client from that
kubeconfig, starts :func:`obskit.watch` and shows ``Explorer(w)`` on the checkout Deployment.
Chromium, driven by Playwright, then watches the page while the test creates a pod and deletes
it: the pod's box appears on the map with the "created" border within two ticks of the watch
(counted on the Explorer's own "as of … · tick N" line), and once deleted it keeps its box,
marked deleted, within two ticks too. JupyterLab and Chromium are started as in
:mod:`tests.widgets.test_explorer_e2e`; skipped on the same terms.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from tests.live.kube_replay import new_pod, replayed_cluster
from tests.widgets.test_explorer_e2e import (
    _ALL_RUN,
    _ERRORS,
    _KERNEL_READY,
    CHROMIUM,
    CHROMIUM_ARGS,
    _jupyterlab,
    _requirements,
)

NOTEBOOK = "live-explorer.ipynb"
BUDGET = 90
EVERY = 2.0  # seconds between the watch's ticks
POD = "checkout-7d9f8b6c4-e2e01"
#: The borders of hierarchy.figure, as the browser reports them.
CREATED = "rgb(29, 78, 216)"
DELETED = "rgb(124, 58, 237)"
#: What an analyst writes (the Explorer selects the focus once the watch has listed it).
_CELL = """import obskit
from obskit.widgets import Explorer

kube = obskit.Kubernetes(kubeconfig={kubeconfig!r}, timeout=5)
w = obskit.watch(kubernetes=kube, every="{every}s", cluster="recorded")
Explorer(w, focus={{"namespace": "shop", "workload": "checkout"}}, anomalies=False,
         tables=("events",))
"""
#: The box of a pod on the live map: its border colour as drawn, and its text in the figure's
#: data (a box with boxes inside shows only its label); null when the map has no such box.
_BOX = """pod => {
  for (const slice of document.querySelectorAll('.obskit-explorer-map g.slice')) {
    const label = slice.querySelector('text.slicetext');
    if (label && label.textContent.startsWith(pod)) {
      const trace = slice.closest('.js-plotly-plot').data[0];
      const at = Array.from(trace.ids).findIndex(id => id.endsWith('/' + pod));
      return {stroke: slice.querySelector('path.surface').style.stroke,
              label: label.textContent, text: trace.text[at]};
    }
  }
  return null;
}"""


def _notebook(root: Path, kubeconfig: Path) -> None:
    cell = _CELL.format(kubeconfig=str(kubeconfig), every=EVERY)
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": cell,
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / NOTEBOOK).write_text(json.dumps(notebook))


def _tick(page) -> int:
    """The tick the Explorer shows, from its "as of … · tick N · running" line."""
    text = page.locator(".obskit-explorer-live").first.text_content() or ""
    found = re.search(r"tick (\d+)", text)
    assert found, text
    return int(found.group(1))


def _wait_box(page, left, stroke: str, text: str) -> dict:
    page.wait_for_function(
        f"([pod, stroke, text]) => {{ const box = ({_BOX})(pod);"
        " return box && box.stroke === stroke && box.text.includes(text); }",
        arg=[POD, stroke, text],
        timeout=left(),
        polling=100,
    )
    return page.evaluate(_BOX, POD)


def _drive(page, url: str, api, left, shots: Path) -> None:
    page.goto(url, timeout=left())
    page.wait_for_function(_KERNEL_READY, timeout=left(), polling=250)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_ALL_RUN, timeout=left(), polling=250)
    assert page.evaluate(_ERRORS) == []
    explorer = page.locator(".obskit-explorer").first
    # once listed, the map is zoomed to the checkout Deployment
    page.wait_for_function(
        "() => document.querySelector('.obskit-explorer-map g.slice text.slicetext')"
        "?.textContent === 'checkout'",
        timeout=left(),
        polling=100,
    )
    live = explorer.locator(".obskit-explorer-live")
    assert re.search(r"as of \d\d:\d\d:\d\d UTC · tick \d+ · running", live.text_content())
    assert explorer.locator(".obskit-explorer-banner").is_hidden()
    assert page.evaluate(_BOX, POD) is None
    # the map follows the ticks
    first = _tick(page)
    page.wait_for_function(
        "n => /tick (\\d+)/.exec(document.querySelector('.obskit-explorer-live')"
        ".textContent)[1] > n",
        arg=first,
        timeout=left(),
        polling=100,
    )
    page.screenshot(path=str(shots / "live-before.png"))

    # a pod is created: its box appears with the created border within two ticks
    before, began = _tick(page), time.monotonic()
    api.put(new_pod(POD, "uid-e2e01"))
    box = _wait_box(page, left, CREATED, "created")
    seen, took = _tick(page), time.monotonic() - began
    print(f"\nnew pod on the map after {took:.1f} s, ticks {before} -> {seen}")
    assert seen - before <= 2, (before, seen)
    page.screenshot(path=str(shots / "live-created.png"))

    # deleted: the box stays, marked deleted, within two ticks
    before, began = _tick(page), time.monotonic()
    api.delete("Pod", "uid-e2e01")
    box = _wait_box(page, left, DELETED, "deleted")
    seen, took = _tick(page), time.monotonic() - began
    print(f"deleted pod marked after {took:.1f} s, ticks {before} -> {seen}")
    assert seen - before <= 2, (before, seen)
    assert box["label"].startswith(POD)
    page.screenshot(path=str(shots / "live-deleted.png"))

    # paused, the Explorer stops following; resumed, it follows again
    explorer.locator(".obskit-explorer-pause").click(timeout=left())
    page.wait_for_function(
        "() => document.querySelector('.obskit-explorer-live').textContent.includes('paused')",
        timeout=left(),
        polling=100,
    )
    paused = _tick(page)
    page.wait_for_timeout(EVERY * 1000 * 1.5)
    assert _tick(page) == paused
    explorer.locator(".obskit-explorer-pause").click(timeout=left())
    page.wait_for_function(
        "n => /tick (\\d+) · running/.exec(document.querySelector('.obskit-explorer-live')"
        ".textContent)?.[1] > n",
        arg=paused,
        timeout=left(),
        polling=100,
    )


def test_live_explorer_in_jupyterlab(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    deadline = started + BUDGET - 10
    root = tmp_path / "lab"
    root.mkdir()
    shots = Path(os.environ.get("OBSKIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def left() -> float:
        return max(1000.0, (deadline - time.monotonic()) * 1000)

    with replayed_cluster(tmp_path) as (api, _kube):
        _notebook(root, tmp_path / "kubeconfig")
        with _jupyterlab(root, deadline, NOTEBOOK) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1400})
                page_errors: list[str] = []
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                try:
                    _drive(page, url, api, left, shots)
                except Exception:
                    page.screenshot(path=str(shots / "live-failure.png"))
                    raise
                assert page_errors == []
            finally:
                browser.close()
    assert time.monotonic() - started < BUDGET
