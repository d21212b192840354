"""End to end: the explorer notebook in JupyterLab, in a real browser, driven like a user would.

JupyterLab runs on 127.0.0.1 (a free port, a one-off token, a temporary root folder holding a
copy of ``notebooks/01-cluster-explorer.ipynb``); Debian's Chromium, driven by Playwright, opens
the notebook, runs all cells, clicks a pod on the Explorer's map and picks another in its
dropdowns, and checks that the timeline's title and traces, the dropdowns and the map followed.
A cell added to the copy draws the map of pods named with plotly's pseudo-HTML, to check that
they show as text. Skipped, with the reason, only where Chromium or
Playwright is missing and ``CI`` is not set; under CI it must run.

Set ``OBSKIT_SCREENSHOTS`` to a folder to keep the screenshots it takes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
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
#: Pods named with markup plotly.js would render (a link, an image), on a map of their own.
MARKED_UP = ('<a href="javascript:alert(1)">x</a>', "<img src=x onerror=alert(1)>")
_MARKED_UP_CELL = f"""import pandas as pd
marked_up = obskit.Investigation(
    logs=pd.DataFrame({{
        "timestamp": ["2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"],
        "namespace": ["shop", "shop"],
        "pod": {list(MARKED_UP)!r},
        "container": ["web", "web"],
        "message": ["ERROR boom", "INFO fine"],
    }}),
    cluster="marked-up",
)
Explorer(marked_up, focus={{"namespace": "shop"}}, anomalies=False, tables=())
"""


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
def _jupyterlab(root: Path, deadline: float, notebook: str = NOTEBOOK.name) -> Iterator[str]:
    """A JupyterLab server on 127.0.0.1; yields the URL of ``notebook`` in it (the token is
    in the query)."""
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
        yield f"{base}/lab/tree/{notebook}?token={token}"
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
_KERNEL_IDLE = """() => {
  const session = window.jupyterapp.shell.currentWidget.sessionContext.session;
  return session.kernel.status === 'idle';
}"""
_ERRORS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type=\
"application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.\
stderr"]')).map(e => e.textContent).filter(t => /Error|Traceback/.test(t))"""


def _title(page) -> str:
    return page.locator(".obskit-explorer-timeline .gtitle").first.text_content() or ""


def _notebook_copy(root: Path) -> None:
    """Notebook 01 in the lab's folder, with the marked-up map's cell at its end."""
    notebook = json.loads(NOTEBOOK.read_text())
    notebook["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": _MARKED_UP_CELL,
        }
    )
    (root / NOTEBOOK.name).write_text(json.dumps(notebook))


def _wait_title(page, text: str, left) -> None:
    page.wait_for_function(
        "text => Array.from(document.querySelectorAll("
        "'.obskit-explorer-timeline .gtitle')).some(t => t.textContent.includes(text))",
        arg=text,
        timeout=left(),
        polling=200,
    )


def _map_box(explorer, label: str):
    """The box of the map labelled ``label`` (its text starts with the label)."""
    boxes = explorer.locator(".obskit-explorer-map g.slice")
    return boxes.filter(has=explorer.page.locator("text.slicetext", has_text=label)).first


def _click_box(page, box, left) -> None:
    """Point at a box of the map, in its title strip, then click it, as a user does.

    The FigureWidget sends hovers and clicks to the kernel in one state field, which the
    browser holds back while an earlier message is in flight, keeping only the newest: a
    click within a round trip of the hover before it can be replaced by the next hover. A
    user's hand is slower than that; the test waits for the kernel to take the hover.
    """
    label = box.locator("text.slicetext").first.bounding_box()
    x, y = label["x"] + 4, label["y"] + label["height"] / 2
    page.mouse.move(x, y, steps=4)
    page.locator(".hoverlayer .hovertext").first.wait_for(timeout=left())
    page.wait_for_timeout(300)
    page.wait_for_function(_KERNEL_IDLE, timeout=left(), polling=50)
    page.mouse.click(x, y)


def _map_entry(explorer) -> str:
    """The label of the box the map is zoomed to (the first, around all the others)."""
    return explorer.locator(".obskit-explorer-map g.slice text.slicetext").first.text_content()


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
    # the map is zoomed to the checkout Deployment: its box holds the pods, the path bar
    # names the way up
    assert _map_entry(explorer) == "checkout"
    pathbar = explorer.locator(".obskit-explorer-map g.pathbar text").all_text_contents()
    assert {t.strip() for t in pathbar} == {"prod-eu-1", "shop"}, pathbar
    page.screenshot(path=str(shots / "explorer-before.png"))

    # the third dropdown (namespace, workload, pod) lists the workload's pods
    pods = explorer.locator(".obskit-explorer-level-2 select")
    options = pods.locator("option").all_text_contents()
    assert options[0] == "(all)" and len(options) > 2, options
    names = [o.split()[0] for o in options[1:]]  # "name (Pod) · 1 warning, 40 errors"

    # a click on the last pod's box on the map selects it: timeline, dropdown, status follow
    clicked = names[-1]
    _click_box(page, _map_box(explorer, clicked), left)
    _wait_title(page, f"pod={clicked}", left)
    assert pods.evaluate("s => s.options[s.selectedIndex].text").startswith(clicked)
    assert clicked in explorer.locator(".obskit-explorer-status").text_content()
    page.wait_for_function(
        "pod => document.querySelector('.obskit-explorer-map g.slice text.slicetext')"
        ".textContent === pod",
        arg=clicked,
        timeout=left(),
        polling=200,
    )
    page.screenshot(path=str(shots / "explorer-map-click.png"))

    # picking the first pod in the dropdown zooms the map to it
    pod = names[0]
    pods.select_option(index=1)
    _wait_title(page, f"pod={pod}", left)
    after = _title(page)
    assert f"pod={pod}" in after and after != before
    page.wait_for_function(
        "pod => document.querySelector('.obskit-explorer-map g.slice text.slicetext')"
        ".textContent === pod",
        arg=pod,
        timeout=left(),
        polling=200,
    )
    pathbar = explorer.locator(".obskit-explorer-map g.pathbar text").all_text_contents()
    assert {t.strip() for t in pathbar} == {"prod-eu-1", "shop", "checkout"}, pathbar
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
    status.evaluate("e => e.scrollIntoView({block: 'start'})")
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

    # the map of pods named with markup: the names are text, no link or image is made
    marked = page.locator(".obskit-explorer").nth(1)
    marked.evaluate("e => e.scrollIntoView({block: 'start'})")
    shown = marked.locator(".obskit-explorer-map g.slice text.slicetext").all_text_contents()
    # shown exactly as named, quotes included
    assert MARKED_UP[0] in shown and MARKED_UP[1] in shown, shown
    _click_box(page, _map_box(marked, "<a href="), left)  # hover, then click: hover text too
    page.wait_for_function(
        "() => document.querySelectorAll('.obskit-explorer-status')[1]"
        ".textContent.includes('javascript:alert(1)')",
        timeout=left(),
        polling=200,
    )
    # in the drawing (boxes, path bar, hover label), not the toolbar's link to plotly.com
    made = marked.locator(".obskit-explorer-map .main-svg").locator("a, image, foreignObject")
    assert made.evaluate_all("els => els.map(e => e.outerHTML)") == []
    assert marked.locator(".obskit-explorer-map img, .obskit-explorer-map script").count() == 0
    assert marked.locator(".obskit-explorer-status a, .obskit-explorer-status img").count() == 0
    page.screenshot(path=str(shots / "explorer-marked-up.png"))


def test_explorer_in_jupyterlab(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    deadline = started + BUDGET - 10
    root = tmp_path / "lab"
    root.mkdir()
    _notebook_copy(root)
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
