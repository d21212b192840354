"""End to end: the explorer notebook in JupyterLab, in a real browser, driven like a user would.

JupyterLab runs on 127.0.0.1 (a free port, a one-off token, a temporary root folder holding a
copy of ``notebooks/01-cluster-explorer.ipynb``); Debian's Chromium, driven by Playwright, opens
the notebook, runs all cells, picks a pod in the Explorer's dropdowns, and checks that the
timeline's title and traces changed to that pod. Skipped, with the reason, only where Chromium or
Playwright is missing and ``CI`` is not set; under CI it must run.

Set ``OBSKIT_SCREENSHOTS`` to a folder to keep the screenshots it takes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01-cluster-explorer.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The whole test stays under this many seconds (server start, notebook run, interaction).
BUDGET = 90


def _requirements() -> None:
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install playwright)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; under CI it must run")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _jupyterlab(root: Path, deadline: float) -> Iterator[str]:
    """A JupyterLab server on 127.0.0.1; yields its base URL (the token is in the query)."""
    port, token = _free_port(), secrets.token_hex(16)
    state = root.parent / "jupyter-state"
    state.mkdir()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "IPYTHONDIR": str(state / "ipython"),
    }
    # no "get official Jupyter news?" toast over the page
    labconfig = state / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}'
    )
    log = (state / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",  # CI runs as root
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                raise AssertionError(
                    f"JupyterLab exited with {server.returncode}:\n"
                    + (state / "server.log").read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "JupyterLab did not answer in time:\n"
                        + (state / "server.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.25)
        yield f"{base}/lab/tree/{NOTEBOOK.name}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


#: True once the notebook's kernel is idle and every code cell has run (JupyterLab's own model).
_ALL_RUN = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null);
}"""
_KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  return !!(session && session.kernel && session.kernel.status === 'idle'
            && panel.content && panel.content.widgets.length > 0);
}"""
_ERRORS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type=\
"application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.\
stderr"]')).map(e => e.textContent).filter(t => /Error|Traceback/.test(t))"""


def _title(page) -> str:
    return page.locator(".obskit-explorer-timeline .gtitle").first.text_content() or ""


def _drive(page, url: str, left, shots: Path) -> None:
    """Open and run the notebook, pick a pod in the Explorer, check that the outputs followed."""
    page.goto(url, timeout=left())
    page.wait_for_function(_KERNEL_READY, timeout=left(), polling=250)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_ALL_RUN, timeout=left(), polling=250)
    assert page.evaluate(_ERRORS) == []

    explorer = page.locator(".obskit-explorer").first
    title = page.locator(".obskit-explorer-timeline .gtitle").first
    title.wait_for(state="attached", timeout=left())
    explorer.evaluate("e => e.scrollIntoView({block: 'start'})")
    title.wait_for(timeout=left())
    before = _title(page)
    # the notebook starts at the top suspect, the checkout Deployment
    assert "workload=checkout" in before, before
    assert "pod=" not in before
    # the figure fills its cell, not plotly's default 700 px
    svg = explorer.locator(".obskit-explorer-timeline .main-svg").first
    width = svg.evaluate("e => e.getBoundingClientRect().width")
    assert width > 900, width
    page.screenshot(path=str(shots / "explorer-before.png"))

    # the third dropdown (namespace, workload, pod) lists the workload's pods: pick the first
    pods = explorer.locator(".obskit-explorer-level-2 select")
    options = pods.locator("option").all_text_contents()
    assert options[0] == "(all)" and len(options) > 1, options
    pod = options[1].split()[0]  # "name (Pod) · 1 warning, 40 errors", spaces non-breaking
    pods.select_option(index=1)
    page.wait_for_function(
        "pod => Array.from(document.querySelectorAll("
        "'.obskit-explorer-timeline .gtitle')).some(t => t.textContent.includes("
        "'pod=' + pod))",
        arg=pod,
        timeout=left(),
        polling=200,
    )
    after = _title(page)
    assert f"pod={pod}" in after and after != before
    # the legend now names only that pod's series (and the events and log lanes)
    legend = explorer.locator(".legendtext").all_text_contents()
    series = [t for t in legend if "/" in t]
    assert series and all(t.startswith(pod) for t in series), legend
    # the status line and the log lines table followed too
    assert pod in explorer.locator(".obskit-explorer-status").text_content()
    explorer.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(shots / "explorer-after.png"))
    tabs = explorer.locator(".obskit-explorer-tables")
    tabs.get_by_text("log lines", exact=True).click(timeout=left())
    table = tabs.locator(".obskit-table").last
    table.wait_for(timeout=left())
    assert table.locator("tbody tr").count() > 0
    # a column that holds one value in every row is said once, above the table
    assert f"pod={pod}" in tabs.locator(".obskit-note").last.text_content()
    table.scroll_into_view_if_needed(timeout=left())
    page.screenshot(path=str(shots / "explorer-tables.png"))

    # a drag across the middle of the timeline zooms in: the time range follows (the status
    # line names it) and the timeline is drawn again for it
    status = explorer.locator(".obskit-explorer-status")
    assert "whole span" in status.text_content()
    explorer.evaluate("e => e.scrollIntoView({block: 'start'})")
    area = explorer.locator(".obskit-explorer-timeline .nsewdrag").first.bounding_box()
    y = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.5, y, steps=8)
    page.mouse.move(area["x"] + area["width"] * 0.65, y, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "() => !document.querySelector('.obskit-explorer-status').textContent"
        ".includes('whole span')",
        timeout=left(),
        polling=200,
    )
    assert " UTC" in status.text_content() and "–" in status.text_content()
    page.screenshot(path=str(shots / "explorer-zoomed.png"))


def test_explorer_in_jupyterlab(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    deadline = started + BUDGET - 10
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    shots = Path(os.environ.get("OBSKIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def left() -> float:  # milliseconds to the deadline, for Playwright's timeouts
        return max(1000.0, (deadline - time.monotonic()) * 1000)

    with _jupyterlab(root, deadline) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1400})
            page_errors: list[str] = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))

            def on_dialog(dialog) -> None:  # nothing from the data may open one
                page_errors.append(f"a dialog opened: {dialog.message!r}")
                dialog.dismiss()

            page.on("dialog", on_dialog)
            try:
                _drive(page, url, left, shots)
            except Exception:
                page.screenshot(path=str(shots / "failure.png"))
                raise
            assert page_errors == []
        finally:
            browser.close()
    assert time.monotonic() - started < BUDGET
