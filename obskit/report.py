"""The shareable report: run a curated notebook with parameters and export it as one HTML file.

:func:`run` copies a notebook (by default ``04-post-incident-review``), injects the parameters
after its cell tagged ``parameters`` (as papermill does), executes it in a fresh kernel with a
progress bar, and writes the result with :func:`export_html`. ``obskit report`` and
``obskit demo`` are this function on the command line.

What the HTML is
----------------
- **Self-contained and offline.** plotly.js is embedded once; every figure is drawn from its
  JSON by one small script, without a kernel, and stays interactive (zoom, hover, legend).
  nbconvert's references to require.js, MathJax, Mermaid and the widget manager on CDNs are
  removed, and a Content-Security-Policy allows only the two embedded scripts (by hash): no
  script, font, stylesheet or image is fetched from anywhere.
- **Nothing from the data executes.** Log lines, labels, audit fields and Falco output are
  attacker-controlled. Outputs keep only plain text, HTML, Markdown, PNG/JPEG and plotly
  figures; JavaScript outputs are dropped, a live widget (the Explorer) becomes a sentence
  naming it and pointing to the notebook; every HTML and Markdown output is
  sanitised with nh3 (tables, text formatting and links survive; ``<script>``, event
  handlers, ``<img>``, ``<iframe>``, ``<style>`` do not); figure JSON is embedded as a data block
  with ``<``, ``>`` and ``/`` escaped; the views escape data text before plotly sees it; and the
  policy blocks any inline script or handler that slipped through all of that. (The notebook's
  own markdown cells are its author's text, rendered as written; the policy holds there too.)
- **Redacted.** Every output (text, HTML, Markdown, figure strings) and, with ``show_code``,
  every code cell goes through :func:`obskit.redaction.redact_for_sharing` (on unless switched
  off with ``obskit.set_redaction(False)``); HTML, Markdown and figure strings are redacted as
  the text they show (:func:`obskit.redaction.redact_markup`: entities decoded first, so an
  escaped ``&quot;password&quot;`` or ``&amp;sig=`` is found).
- **No disguised names.** Characters that disguise text (direction overrides, zero-width
  characters, controls) show as their escapes (``\\u202e``) in every output and code cell.
- **Code hidden** by default (``show_code=True`` keeps the cells).
- **No analyst's folders.** :func:`run` shows the source, the bundle folder and the paths under
  them relative to the source (``incident/logs/…``, not ``/home/you/cases/incident/logs/…``),
  in the code cells and the outputs alike.
- **Bounded.** One output holds at most :data:`OUTPUT_BYTES` and all outputs together at most
  :data:`CONTENT_BYTES`; outputs beyond that are replaced by a note that says how to see them.
  With plotly.js (about 4.8 MB) and the page's stylesheet, a report is at most
  :data:`MAX_REPORT_BYTES` (12 MB); the bundled incidents give 5.2-5.4 MB.

**A lens** (``lens="security"``, ``"dev"`` or ``"ops"``; ``obskit report --lens``) is injected
as the notebook's ``lens`` parameter (the map's view and colour, a headline), and puts the lens's
sections first: :func:`order_sections` moves the cells of each section (from its heading cell
tagged ``section:<name>`` to the next section or untagged heading) into the lens's order; the
sections before and after (the summary; what was looked at, the manifest) stay where they are.
Every section is in every lens.

The notebooks call a few helpers of this module too: :func:`live_sources` turns the ``live``
parameter into source objects for :func:`obskit.collect`, :func:`suspect_focus` turns a suspect
into a focus, :func:`table` shows a table as an analyst reads it (or says it is empty), and
:func:`review_summary` writes the one-paragraph summary that ``obskit demo`` prints.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obskit import schema
from obskit._chars import reveal
from obskit._time import as_utc
from obskit.errors import InvestigationError, ReportError
from obskit.redaction import redact_for_sharing, redact_markup, redaction_enabled

if TYPE_CHECKING:
    import nbformat
    import pandas as pd

    from obskit.investigation import Investigation

__all__ = [
    "CONTENT_BYTES",
    "DEFAULT_NOTEBOOK",
    "MAX_REPORT_BYTES",
    "OUTPUT_BYTES",
    "PARAMETERS",
    "Report",
    "ReviewSummary",
    "export_html",
    "inject_parameters",
    "live_sources",
    "notebook_path",
    "notebooks",
    "order_sections",
    "review_summary",
    "run",
    "suspect_focus",
    "table",
]

#: The notebook ``obskit report`` runs unless told otherwise.
DEFAULT_NOTEBOOK = "04-post-incident-review"
#: The names a curated notebook's ``parameters`` cell defines, which :func:`run` can set.
PARAMETERS = (
    *("source", "live", "start", "end", "focus", "cluster", "baseline", "bundle_dir"),
    "lens",
)
#: At most this many bytes of one output reach the HTML (a larger one is replaced by a note).
OUTPUT_BYTES = 1_000_000
#: At most this many bytes of all outputs together reach the HTML.
CONTENT_BYTES = 6_000_000
#: The bound on a report's size: plotly.js, the stylesheet, the content budget and markup.
MAX_REPORT_BYTES = 12_000_000

#: Output types that can reach the report; everything else (JavaScript, widgets) is dropped
#: (a widget leaves a sentence in its place).
_KEPT_MIMETYPES = (
    "application/vnd.plotly.v1+json",
    "text/html",
    "text/markdown",
    "image/png",
    "image/jpeg",
    "text/plain",
)
_PLOTLY = "application/vnd.plotly.v1+json"
_WIDGET = "application/vnd.jupyter.widget-view+json"
_WIDGET_NAME = re.compile(r"[A-Z][A-Za-z]{0,40}(?=\()")
#: What survives in HTML and Markdown outputs: tables, text formatting, lists, links.
_TAGS = frozenset(
    {
        *("a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd"),
        *("details", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i"),
        *("kbd", "li", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub"),
        *("summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"),
        "var",
    }
)
_ATTRIBUTES = {
    "*": ["class", "title"],
    "a": ["href", "title"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan"],
    "table": ["border"],
}
_TEMPLATES = Path(__file__).parent / "templates"
#: Run first in the report's kernel: tables show whole sentences (a suspect's reason and its
#: evidence run to a few hundred characters), not 50 characters.
_SETUP = """# Display settings of obskit report
import pandas as pd

pd.set_option("display.max_colwidth", 600)
pd.set_option("display.max_rows", 60)"""
_SETUP_TAG = "obskit-report-setup"
_TEMPLATE = "obskit-report.html.j2"
#: Draws every figure from its JSON data block; the only script besides plotly.js.
_RENDER_JS = """(function () {
  "use strict";
  var blocks = document.querySelectorAll("script.obskit-figure-data");
  for (var i = 0; i < blocks.length; i++) {
    var block = blocks[i];
    var target = document.getElementById(block.getAttribute("data-target"));
    if (!target || !window.Plotly) { continue; }
    var fig = JSON.parse(block.textContent);
    var config = {displaylogo: false, responsive: true, showLink: false, showSendToCloud: false,
                  showEditInChartStudio: false, typesetMath: false, topojsonURL: ""};
    window.Plotly.newPlot(target, fig.data || [], fig.layout || {}, config);
  }
})();"""


# --- the notebooks ---------------------------------------------------------------------------


def _notebooks_root() -> Path:
    """The curated notebooks: the wheel's copy first, then the checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_notebooks", here.parent / "notebooks"):
        if candidate.is_dir():
            return candidate
    return here.parent / "notebooks"


def notebooks() -> list[str]:
    """Names of the curated notebooks :func:`run` can execute, sorted.

    Examples
    --------
    >>> "04-post-incident-review" in notebooks()
    True
    """
    root = _notebooks_root()
    return sorted(p.stem for p in root.glob("*.ipynb")) if root.is_dir() else []


def notebook_path(name: str | os.PathLike) -> Path:
    """The file of a curated notebook (``"04-post-incident-review"``) or of your own ``.ipynb``.

    Raises
    ------
    ReportError
        When ``name`` is neither a curated notebook nor an existing ``.ipynb`` file.

    Examples
    --------
    >>> notebook_path("04-post-incident-review").name
    '04-post-incident-review.ipynb'
    """
    text = str(name)
    stem = text[:-6] if text.endswith(".ipynb") else text
    if stem in notebooks():
        return _notebooks_root() / f"{stem}.ipynb"
    path = Path(text).expanduser()
    if path.suffix == ".ipynb" and path.is_file():
        return path
    raise ReportError(
        f"no notebook {text!r}: name one of {', '.join(notebooks()) or '(none installed)'}, "
        f"or give the path of an .ipynb file"
    )


# --- parameters --------------------------------------------------------------------------------


def _literal(value: object, name: str) -> str:
    """``value`` as Python source, for the values a parameters cell can hold."""
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{_literal(k, name)}: {_literal(v, name)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v, name) for v in value) + "]"
    if hasattr(value, "isoformat"):  # a Timestamp or datetime: as RFC3339 text
        return repr(value.isoformat())
    raise ReportError(
        f"parameter {name!r} must be text, a number, None, or a list or dict of those, got "
        f"{type(value).__name__}: pass it as text, e.g. {str(value)!r}"
    )


def inject_parameters(nb: nbformat.NotebookNode, **values: object) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a cell setting ``values`` after its cell tagged ``parameters``.

    The new cell is tagged ``injected-parameters``, as papermill tags it.

    Raises
    ------
    ReportError
        When the notebook has no cell tagged ``parameters``, or a value is not a literal.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "source = 'checkout-oom'", metadata={"tags": ["parameters"]})])
    >>> inject_parameters(nb, source="cryptominer").cells[1].source.splitlines()[-1]
    "source = 'cryptominer'"
    """
    import nbformat

    out = copy.deepcopy(nb)
    tagged = [i for i, c in enumerate(out.cells) if "parameters" in c.metadata.get("tags", [])]
    if not tagged:
        raise ReportError(
            "the notebook has no cell tagged 'parameters'; tag the cell that sets its "
            "parameters (JupyterLab: the property inspector, 'Cell Tags')"
        )
    lines = ["# Parameters injected by obskit report"]
    lines += [f"{name} = {_literal(value, name)}" for name, value in values.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    out.cells.insert(tagged[0] + 1, cell)
    return out


def _section(cell: nbformat.NotebookNode) -> str | None:
    """The section a heading cell opens (its ``section:<name>`` tag), if any."""
    for tag in cell.metadata.get("tags", []):
        if tag.startswith("section:"):
            return tag.split(":", 1)[1]
    return None


def order_sections(nb: nbformat.NotebookNode, lens: object) -> nbformat.NotebookNode:
    """A copy of ``nb`` with its tagged sections in the order of ``lens``, which also names its
    first heading (``# Post-incident review: security lens``).

    A section is its heading cell tagged ``section:<name>`` and the cells after it, up to the
    next such cell or the next untagged heading. Sections the lens does not name keep their
    order after those it names; cells outside sections stay where they are. ``None`` or
    ``"all"`` leaves the notebook as it is.

    Raises
    ------
    ReportError
        For a lens that is not one (the error lists them).

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_markdown_cell("# Review"),
    ...     nbformat.v4.new_markdown_cell("## Map", metadata={"tags": ["section:map"]}),
    ...     nbformat.v4.new_markdown_cell("## Nodes", metadata={"tags": ["section:nodes"]}),
    ...     nbformat.v4.new_markdown_cell("## Open questions")])
    >>> [c.source for c in order_sections(nb, "ops").cells]
    ['# Review: ops lens', '## Nodes', '## Map', '## Open questions']
    """
    from obskit.errors import InvestigationError
    from obskit.views.lenses import lens as lens_named

    try:
        chosen = lens_named(lens)  # type: ignore[arg-type]
    except InvestigationError as exc:
        raise ReportError(str(exc)) from None
    out = copy.deepcopy(nb)
    if chosen.name == "all":
        return out
    head: list = []
    sections: dict[str, list] = {}
    tail: list = []
    current: list | None = None
    for cell in out.cells:
        name = _section(cell)
        if name is not None:
            current = sections.setdefault(name, [])
        elif _heading(cell) is not None and current is not None:
            current = tail
        (head if current is None else current).append(cell)
    if not sections:  # a notebook without sections: nothing to order, nothing to name
        return copy.deepcopy(nb)
    first = [n for n in chosen.sections if n in sections]
    rest = [n for n in sections if n not in first]
    out.cells = head + [c for n in (*first, *rest) for c in sections[n]] + tail
    for cell in out.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            title, _, body = cell.source.partition("\n")
            cell.source = f"{title}: {chosen.name} lens" + (f"\n{body}" if body else "")
            break
    return out


# --- helpers the notebooks call ---------------------------------------------------------------


def _source_settings(value: object, name: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"url": value}
    if isinstance(value, Mapping):
        settings = dict(value)
        token_env = settings.pop("bearer_token_env", None)
        if token_env is not None:
            token = os.environ.get(str(token_env))
            if not token:
                raise ReportError(
                    f"live[{name!r}] reads its bearer token from ${token_env}, which is not "
                    f"set; export it before running"
                )
            headers = dict(settings.get("headers") or {})
            settings["headers"] = {**headers, "Authorization": f"Bearer {token}"}
        return settings
    raise ReportError(
        f"live[{name!r}] must be a URL or a dict of settings, e.g. {{'url': "
        f"'http://127.0.0.1:9090', 'bearer_token_env': 'PROM_TOKEN'}}, got {value!r}"
    )


def _store_sources(live: Mapping[str, object]) -> dict[str, Any]:
    """The Elasticsearch and Sumo Logic clients of ``live`` (only the keys given, so that
    :func:`obskit.watch`, which reads neither, takes the same settings)."""
    from obskit.live import Elasticsearch, SumoLogic

    out: dict[str, Any] = {}
    for name, cls, first in (
        ("elasticsearch", Elasticsearch, "url"),
        ("sumologic", SumoLogic, "endpoint"),
    ):
        value = live.get(name)
        if not value:
            continue
        if isinstance(value, str):
            value = {first: value}
        if not isinstance(value, Mapping):
            raise ReportError(
                f"live[{name!r}] must be a URL or a dict of settings, e.g. {{{first!r}: "
                f"'https://...'}}, got {value!r}"
            )
        out[name] = cls(**dict(value))
    return out


def live_sources(live: Mapping[str, object]) -> dict[str, Any]:
    """The ``live`` parameter of a notebook as keyword arguments for :func:`obskit.collect`.

    Parameters
    ----------
    live : mapping
        ``"prometheus"`` and ``"loki"``: a URL, or a dict of the source's settings (``url``,
        ``headers``, ``verify``, ``timeout``, …, and ``bearer_token_env``: the name of an
        environment variable holding a bearer token, so that no token is written in the
        notebook); ``"kubernetes"``: ``True`` for the current kubeconfig context, a context
        name, or a dict (``context``, ``kubeconfig``); ``"elasticsearch"``: a URL or the
        settings of :class:`obskit.Elasticsearch` (``url``, ``index``, ``api_key_env`` ...);
        ``"sumologic"``: an endpoint or the settings of :class:`obskit.SumoLogic` (``endpoint``,
        ``access_id_env``, ``access_key_env``, ``scope``); ``"namespaces"``: a list of names.

    Returns
    -------
    dict
        ``prometheus``, ``kubernetes``, ``loki`` (source objects or None), ``elasticsearch`` and
        ``sumologic`` when given, and ``namespaces``.

    Raises
    ------
    ReportError
        When no source is given, a key is unknown, or a setting is of the wrong kind.

    Examples
    --------
    >>> kwargs = live_sources({"prometheus": "http://127.0.0.1:9090", "namespaces": ["shop"]})
    >>> kwargs["prometheus"], kwargs["namespaces"]
    (Prometheus('http://127.0.0.1:9090', verify=True, timeout=60), ['shop'])
    """
    from obskit.live import Kubernetes, Loki, Prometheus

    if not isinstance(live, Mapping):
        raise ReportError(
            f"live must be a dict such as {{'prometheus': 'http://127.0.0.1:9090', "
            f"'kubernetes': True}}, got {live!r}"
        )
    known = {"prometheus", "kubernetes", "loki", "elasticsearch", "sumologic", "namespaces"}
    unknown = sorted(set(live) - known)
    if unknown:
        raise ReportError(f"live has unknown key(s) {unknown}; use {', '.join(sorted(known))}")
    out: dict[str, Any] = {"prometheus": None, "kubernetes": None, "loki": None}
    if live.get("prometheus"):
        out["prometheus"] = Prometheus(**_source_settings(live["prometheus"], "prometheus"))
    if live.get("loki"):
        out["loki"] = Loki(**_source_settings(live["loki"], "loki"))
    kube = live.get("kubernetes")
    if kube is True:
        out["kubernetes"] = Kubernetes()
    elif isinstance(kube, str):
        out["kubernetes"] = Kubernetes(context=kube)
    elif isinstance(kube, Mapping):
        out["kubernetes"] = Kubernetes(**dict(kube))
    elif kube not in (None, False):
        raise ReportError(
            f"live['kubernetes'] must be True, a context name or a dict, got {kube!r}"
        )
    out.update(_store_sources(live))
    if not any(out.values()):
        raise ReportError(
            "live names no source; give at least one of prometheus, kubernetes, loki, "
            "elasticsearch, sumologic"
        )
    namespaces = live.get("namespaces")
    out["namespaces"] = [namespaces] if isinstance(namespaces, str) else namespaces
    return out


def suspect_focus(suspects: pd.DataFrame, rank: int = 1) -> dict[str, str] | None:
    """The focus of the suspect ranked ``rank`` for the views: its entity's finest key
    (:func:`obskit.investigation.entity_focus`); None when there is no such suspect.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"rank": [1], "entity_kind": ["workload"], "namespace": ["shop"],
    ...                       "workload": ["checkout"], "pod": [pd.NA]})
    >>> suspect_focus(table)
    {'namespace': 'shop', 'workload': 'checkout'}
    """
    from obskit.investigation import entity_focus

    rows = suspects.loc[suspects["rank"] == rank] if "rank" in suspects else suspects.iloc[:0]
    if rows.empty:
        return None
    try:
        return entity_focus(rows.iloc[0])
    except InvestigationError:
        return None


@dataclass(frozen=True)
class ReviewSummary:
    """The one-paragraph summary of a review: plain text, shown as a paragraph in a notebook."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f'<p class="obskit-summary">{html.escape(self.text)}</p>'


def table(frame: pd.DataFrame, empty: str = "Nothing here.") -> pd.DataFrame | ReviewSummary:
    """A table as a report shows it (:func:`obskit.views.readable`: times to the second in UTC,
    no ``NaN``; rows numbered from 1 in the order shown, so a review can say "row 3", not the
    frame's own index), or the sentence ``empty`` when it has no rows (not a bare header).

    Examples
    --------
    >>> import pandas as pd
    >>> table(pd.DataFrame({"node": []}), empty="No collector gaps.")
    No collector gaps.
    """
    import pandas as pd

    from obskit.views import readable

    if not len(frame):
        return ReviewSummary(empty)
    shown = readable(frame)
    shown.index = pd.RangeIndex(1, len(shown) + 1)
    return shown


def _when(value: object) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return "?"
    return f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def review_summary(
    inv: Investigation, suspects: pd.DataFrame, detections: pd.DataFrame
) -> ReviewSummary:
    """One paragraph: what was looked at, the top suspect and why, and the detections.

    When the suspects' verdict is ``ambiguous`` (the top suspect does not lead the next clearly,
    see :func:`obskit.analysis.rca.conclusion`) it says "ambiguous between A and B" and gives
    each one's reason instead of naming one.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> review_summary(inv, inv.suspects(), inv.detections())  # doctest: +SKIP
    """
    import pandas as pd

    start, end = inv.time_span()
    parts = [
        f"Cluster {inv.cluster or '(unnamed)'}, {_when(start)} to {_when(end)}: "
        f"{len(inv.metrics):,} metric samples, {len(inv.events):,} events, "
        f"{len(inv.logs):,} log lines."
    ]
    at = suspects.attrs.get("at")
    if at is not None and pd.notna(at):
        parts.append(f"Onset {_when(at)} ({suspects.attrs.get('at_source', 'found')}).")
    ambiguous = (
        len(suspects) > 1
        and "verdict" in suspects.columns
        and str(suspects["verdict"].iloc[0]) == "ambiguous"
    )
    if ambiguous:
        # the ranking cannot tell its first suspects apart: say so instead of naming one
        from obskit.analysis.rca import conclusion

        parts.append(conclusion(suspects))
        close = suspects[suspects["verdict"].astype(str) == "ambiguous"].head(3)
        for _, row in close.iterrows():
            reason = str(row["reason"]).rstrip(". ")
            parts.append(f"Score {float(row['score']):.1f}: {reason}.")
    elif len(suspects):
        top = suspects.iloc[0]
        reason = str(top["reason"]).rstrip(". ")
        sure = ", clearly ahead of the next" if "verdict" in suspects.columns else ""
        parts.append(f"Top suspect (score {float(top['score']):.1f}{sure}): {reason}.")
        if len(suspects) > 1:
            others = [
                schema.entity_name(row, row["entity_kind"], words=True)
                for _, row in suspects.iloc[1:3].iterrows()
            ]
            parts.append(f"Next: {'; '.join(others)}.")
    else:
        parts.append("No root-cause suspect: nothing moved against its baseline.")
    if len(detections):
        counts = detections["severity"].astype("object").value_counts()
        by_severity = ", ".join(
            f"{int(counts[s])} {s}" for s in reversed(schema.SEVERITIES) if s in counts
        )
        worst = detections.sort_values(
            ["severity", "timestamp"], ascending=[False, True], kind="stable"
        ).iloc[0]
        where = schema.entity_name(worst) or "the cluster"
        parts.append(
            f"Security detections: {len(detections)} ({by_severity}); the first of the most "
            f"severe: {worst['reason']} on {where} at {_when(worst['timestamp'])}."
        )
    else:
        parts.append("No security detections in the audit log and Falco alerts.")
    return ReviewSummary(redact_for_sharing(" ".join(parts)))


# --- executing ---------------------------------------------------------------------------------


def _heading(cell: nbformat.NotebookNode) -> str | None:
    if cell.cell_type != "markdown":
        return None
    for line in cell.source.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None


def _execute(
    nb: nbformat.NotebookNode, name: str, cwd: Path, timeout: int, progress: bool
) -> nbformat.NotebookNode:
    """Execute ``nb`` in a fresh kernel, cell by cell, with a progress bar on stderr."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    # figures as plotly JSON (drawn by the report's own script), whatever the user's default
    env = {**os.environ, "PLOTLY_RENDERER": "plotly_mimetype"}
    from traitlets.config import Config

    # IPC sockets where there are Unix sockets: no TCP port, and no warning about one
    config = Config()
    if os.name != "nt":
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(cwd / "kernel")
    client = NotebookClient(
        nb,
        config=config,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        store_widget_state=False,
    )
    section = "start"
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    bar = tqdm(total=code_cells, desc=name, unit="cell", disable=not progress, leave=False, delay=0)
    try:
        with client.setup_kernel(env=env, cwd=str(cwd)):
            for index, cell in enumerate(nb.cells):
                section = _heading(cell) or section
                if cell.cell_type != "code":
                    continue
                bar.set_postfix_str(section[:40], refresh=True)
                client.execute_cell(cell, index)
                bar.update(1)
    except CellExecutionError as exc:
        error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
        what = f"{error.ename}: {error.evalue}" if error is not None else str(exc).splitlines()[-1]
        raise ReportError(
            f"notebook {name!r} failed in the section {section!r}: {redact_for_sharing(what)}; "
            f"check the parameters (source, window, focus), or open the notebook in JupyterLab "
            f"with them to see the whole traceback"
        ) from None
    except (CellTimeoutError, TimeoutError) as exc:
        raise ReportError(
            f"notebook {name!r} took longer than {timeout} s in the section {section!r}; "
            f"narrow the window (--start/--end) or raise the timeout"
        ) from exc
    except DeadKernelError as exc:
        raise ReportError(
            f"the kernel running {name!r} died in the section {section!r} (out of memory?); "
            f"narrow the window or the namespaces"
        ) from exc
    finally:
        bar.close()
    return nb


# --- exporting -----------------------------------------------------------------------------------


def _sanitize(markup: str) -> str:
    """Only the allowed tags and attributes; ``<script>`` and ``<style>`` go with their content."""
    import nh3

    return nh3.clean(
        markup,
        tags=_TAGS,
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        # no rel="noopener noreferrer" added: links cannot open a new window (no target)
        link_rel=None,
    )


def _shared_text(text: str) -> str:
    """Plain text as it may be shared: redacted, disguising characters revealed."""
    return reveal(redact_for_sharing(text))


def _shared_markup(markup: str) -> str:
    """HTML, Markdown or a figure string as it may be shared: its text redacted, revealed."""
    return reveal(redact_markup(markup) if redaction_enabled() else markup)


def _redact_strings(value: object) -> object:
    """Every string inside a figure's JSON, redacted as the text it shows."""
    if isinstance(value, str):
        return _shared_markup(value)
    if isinstance(value, list):
        return [_redact_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_strings(v) for k, v in value.items()}
    return value


def _figure_html(figure: Mapping, index: int) -> str:
    """A figure as a target div and a JSON data block (no script of its own)."""
    import plotly.io as pio

    payload = pio.to_json(_redact_strings(dict(figure)), validate=False)  # escapes < > /
    layout = figure.get("layout") or {}
    height = layout.get("height") if isinstance(layout.get("height"), int | float) else 480
    target = f"obskit-figure-{index}"
    return (
        f'<div class="obskit-figure"><div id="{target}" class="plotly-graph-div" '
        f'style="height:{int(height)}px; width:100%;"></div>'
        f'<script type="application/json" class="obskit-figure-data" data-target="{target}">'
        f"{payload}</script></div>"
    )


def _note(text: str) -> dict:
    import nbformat

    return nbformat.v4.new_output(
        "display_data", data={"text/html": f'<p class="obskit-note">{html.escape(text)}</p>'}
    )


def _safe_output(output: dict, index: int) -> dict | None:
    """One output with only what may reach the report: redacted, sanitised, figures rendered."""
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = _shared_text(output.get("text", ""))
        return output
    if kind == "error":
        output["evalue"] = _shared_text(str(output.get("evalue", "")))
        output["traceback"] = [_shared_text(line) for line in output.get("traceback", [])]
        return output
    data = output.get("data", {})
    if _PLOTLY in data:
        output["data"] = {"text/html": _figure_html(data[_PLOTLY], index)}
        output["metadata"] = {}
        return output
    if _WIDGET in data:
        # a live widget (the Explorer) needs its kernel: say so instead of its text repr
        plain = data.get("text/plain", "")
        name = _WIDGET_NAME.match("".join(plain) if isinstance(plain, list) else str(plain))
        what = f"the interactive {name.group(0)}" if name else "an interactive widget"
        return _note(
            f"Here the notebook shows {what}. It needs a running kernel, so a shared report "
            "cannot show it: open the notebook in JupyterLab to use it."
        )
    kept = {}
    for mimetype in _KEPT_MIMETYPES:
        if mimetype not in data:
            continue
        value = data[mimetype]
        if isinstance(value, list):
            value = "".join(value)
        if mimetype in ("text/html", "text/markdown"):
            value = _sanitize(_shared_markup(value))
        elif mimetype == "text/plain":
            value = _shared_text(value)
        kept[mimetype] = value
    if not kept:
        return None
    output["data"] = kept
    output["metadata"] = {k: v for k, v in output.get("metadata", {}).items() if k in kept}
    return output


def _size(output: dict) -> int:
    if output.get("output_type") == "stream":
        return len(output.get("text", "").encode())
    if output.get("output_type") == "error":
        return sum(len(line.encode()) for line in output.get("traceback", []))
    data = output.get("data", {})
    for mimetype in _KEPT_MIMETYPES:  # what the exporter shows: the first present
        if mimetype in data:
            return len(str(data[mimetype]).encode())
    return 0


def _prepare(nb: nbformat.NotebookNode, show_code: bool) -> tuple[nbformat.NotebookNode, dict]:
    """A copy of ``nb`` whose outputs are safe, redacted and within the budget."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    budget = CONTENT_BYTES
    figures = elided = 0
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "raw":
            continue
        if cell.cell_type == "code":
            if show_code:
                cell.source = _shared_text(cell.source)
            outputs = []
            for output in cell.outputs:
                safe = _safe_output(output, figures)
                if safe is None:
                    continue
                if budget <= 0:  # the budget is spent: one note said so, the rest are counted
                    elided += 1
                    continue
                size = _size(safe)
                if size > OUTPUT_BYTES or size > budget:
                    elided += 1
                    reason = (
                        f"larger than the report's limit of {OUTPUT_BYTES:,} bytes per output"
                        if size > OUTPUT_BYTES
                        else f"past the report's budget of {CONTENT_BYTES:,} bytes of output "
                        f"(so are the outputs after it)"
                    )
                    safe = _note(
                        f"An output of {size:,} bytes was left out of this report: {reason}. "
                        f"Run the notebook in JupyterLab to see it, or narrow the window."
                    )
                    budget = budget if size > OUTPUT_BYTES else 0
                elif "obskit-figure-data" in str(safe.get("data", {}).get("text/html", "")):
                    figures += 1
                budget -= _size(safe)
                outputs.append(safe)
            cell.outputs = outputs
            if not outputs and not show_code:
                continue  # a hidden cell that showed nothing would only leave a gap
        cells.append(cell)
    nb.cells = cells
    return nb, {"figures": figures, "elided": elided}


def _relative_paths(value: object, paths: Mapping[str, str]) -> object:
    """``value`` (a notebook or any part of it) with each absolute path in ``paths`` replaced
    by what to show for it where it stands as a whole path (not inside another name), longest
    first (a folder inside another is replaced first)."""
    if isinstance(value, str):
        for absolute, shown in paths.items():
            if absolute in value:
                value = re.sub(rf"(?<![\w.~-]){re.escape(absolute)}(?![\w.~-])", shown, value)
        return value
    if isinstance(value, list):
        return [_relative_paths(v, paths) for v in value]
    if isinstance(value, dict):
        return type(value)({k: _relative_paths(v, paths) for k, v in value.items()})
    return value


def _shown_paths(source: str | None, folder: Path, workdir: Path, named: bool) -> dict[str, str]:
    """The absolute paths a run puts in its notebook (the source, a bundled incident's folder
    when ``named``, the bundle folder, the run's scratch folder) and what the report shows for
    each, longest first. A glob's folder is the one above its first wildcard."""
    from obskit import datasets

    paths = {str(workdir): ".", str(folder): folder.name}
    if source is not None and named:
        paths[str(datasets.path(source))] = source
    elif source is not None:
        wildcards = [source.index(ch) for ch in "*?[" if ch in source]
        root = Path(source[: min(wildcards)]).parent if wildcards else Path(source)
        if len(root.parts) > 1:  # never the file system's root
            paths[str(root)] = root.name
    return dict(sorted(paths.items(), key=lambda item: -len(item[0])))


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def export_html(
    nb: nbformat.NotebookNode, *, show_code: bool = False, title: str | None = None
) -> str:
    """An executed notebook as one self-contained, offline, redacted HTML page.

    Parameters
    ----------
    nb : NotebookNode
        An executed notebook (nbformat 4).
    show_code : bool
        Keep the code cells (redacted); by default only the narrative and the outputs show.
    title : str, optional
        The page title (default: the notebook's first heading).

    Returns
    -------
    str
        The page; at most :data:`MAX_REPORT_BYTES` bytes as UTF-8.

    Raises
    ------
    ReportError
        When the page would exceed :data:`MAX_REPORT_BYTES` (it cannot, by the budgets, unless
        the notebook's own markdown is that large).

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Review")])
    >>> page = export_html(nb)
    >>> "<title>Review</title>" in page and "cdn" not in page.split("<body")[0].lower()
    True
    """
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    prepared, info = _prepare(nb, show_code)
    if title is None:
        title = next((h for h in map(_heading, prepared.cells) if h), "obskit report")
    prepared.metadata["title"] = title
    plotly_js = get_plotlyjs() if info["figures"] else ""
    scripts = [s for s in (plotly_js, _RENDER_JS if info["figures"] else "") if s]
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src " + (" ".join(f"'{_sha256(s)}'" for s in scripts) or "'none'"),
            "style-src 'unsafe-inline'",
            "img-src data:",
            "font-src data:",
            "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(_TEMPLATES)],
        template_file=_TEMPLATE,
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    resources = {
        "obskit": {
            "csp": csp,
            "plotly_js": plotly_js,
            "render_js": _RENDER_JS if info["figures"] else "",
            "elided": info["elided"],
            "redacted": redaction_enabled(),
            "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
    }
    page, _ = exporter.from_notebook_node(prepared, resources=resources)
    size = len(page.encode())
    if size > MAX_REPORT_BYTES:
        raise ReportError(
            f"the report would be {size:,} bytes, over the bound of {MAX_REPORT_BYTES:,}; "
            f"the notebook's own text is too large: shorten its markdown cells"
        )
    return page


# --- the whole job -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What :func:`run` wrote: the file, its size, the notebook, and the review's summary."""

    path: Path
    size: int
    notebook: str
    summary: str | None
    seconds: float


def _summary_of(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "code" and "summary" in cell.metadata.get("tags", []):
            for output in cell.outputs:
                text = output.get("data", {}).get("text/plain")
                if text:
                    return redact_for_sharing("".join(text) if isinstance(text, list) else text)
    return None


def _writable(out: str | os.PathLike) -> Path:
    """The report's path, once it is known that a file can be written there (before the run,
    not after it)."""
    target = Path(out).expanduser()
    if target.is_dir():
        raise ReportError(
            f"out {str(target)!r} is a folder; name the HTML file to write in it, e.g. "
            f"--out {str(target / 'report.html')!r}"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".obskit-", suffix=".html"):
            pass
        if target.exists() and not os.access(target, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {str(target)!r}: {exc.strerror or exc}; choose an "
            f"out (--out) in a folder you can write"
        ) from exc
    return target


def _write(target: Path, page: str) -> Path:
    """Write the report to ``target``; where that fails after all (a full disk), keep it in a
    temporary file and say where, rather than lose the run."""
    try:
        target.write_text(page, encoding="utf-8")
        return target
    except OSError as exc:
        error = exc
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", prefix="obskit-report-", suffix=".html", delete=False
        ) as kept:
            kept.write(page)
        fallback = f"it was kept in {kept.name!r} instead"
    except OSError:
        fallback = "no temporary file could hold it either; free some space and run it again"
    raise ReportError(
        f"cannot write the report to {str(target)!r}: {error.strerror or error}; {fallback}"
    ) from error


def run(
    source: str | os.PathLike | None = None,
    out: str | os.PathLike = "report.html",
    *,
    notebook: str | os.PathLike = DEFAULT_NOTEBOOK,
    live: Mapping[str, object] | None = None,
    start: object = None,
    end: object = None,
    where: Mapping[str, str | Sequence[str]] | None = None,
    focus: Mapping[str, str] | None = None,
    cluster: str | None = None,
    baseline: object = None,
    bundle_dir: str | os.PathLike | None = None,
    show_code: bool = False,
    progress: bool = True,
    timeout: int = 600,
    lens: str | None = None,
) -> Report:
    """Execute a curated notebook with parameters and write it as a self-contained HTML report.

    Parameters
    ----------
    source : str or path, optional
        A bundled incident's name, a folder, a file, a glob or an evidence bundle (relative
        paths are taken from the current directory). Not with ``live``.
    out : str or path
        The HTML file to write (its folder is created).
    notebook : str or path
        A curated notebook's name (see :func:`notebooks`) or the path of your own ``.ipynb``
        with a cell tagged ``parameters``.
    live : mapping, optional
        Live sources instead of files (see :func:`live_sources`); needs ``start`` and ``end``.
    start, end : timestamp, optional
        The window (RFC3339 text; naive means UTC), passed down to :func:`obskit.load`, which
        then reads only what lies in it (large CRI and audit logs by seeking, bundles by row
        group).
    where : mapping, optional
        Key values the files are loaded for, e.g. ``{"namespace": "shop", "node": ["n1"]}``
        (:func:`obskit.load`'s ``where``; the notebook's ``keys`` parameter). Not with ``live``.
    focus : mapping, optional
        The entity to focus on, e.g. ``{"namespace": "shop", "workload": "checkout"}``
        (default: the top suspect).
    cluster : str, optional
        Cluster name for rows that carry none.
    baseline : optional
        The learning period for the security detections (``"30min"``; see
        :func:`obskit.analysis.security.detect`).
    bundle_dir : str or path, optional
        Where the post-incident review saves its evidence bundle (default: a temporary
        folder). Must not exist yet.
    show_code : bool
        Keep the code cells in the HTML.
    progress : bool
        Show a progress bar on stderr while the notebook runs.
    timeout : int
        Seconds one cell may take.
    lens : {"security", "dev", "ops"}, optional
        The team's lens: its sections first (:func:`order_sections`), and the notebook's
        ``lens`` parameter set (the map's view and colour, the headline). Every section stays.

    Returns
    -------
    Report
        The file written, its size, the notebook's name, the review's one-paragraph summary
        (None for a notebook without a cell tagged ``summary``) and the seconds it took.

    Raises
    ------
    ReportError
        For an unknown notebook, parameters that cannot be used, an ``out`` that is a folder
        or cannot be written (before the notebook runs), or a cell that failed (with the
        section it failed in and the error).

    Examples
    --------
    >>> import obskit
    >>> report = obskit.report.run("cryptominer", "review.html")  # doctest: +SKIP
    >>> print(report.summary)  # doctest: +SKIP
    """
    import nbformat

    from obskit import datasets

    began = time.monotonic()
    _check_inputs(source, live, start, end, where)
    values = _parameters(
        source, live, where, start=start, end=end, focus=focus, cluster=cluster,
        baseline=baseline, lens=lens,
    )  # fmt: skip
    path = notebook_path(notebook)
    nb = order_sections(nbformat.read(path, as_version=4), lens)
    target = _writable(out)
    with tempfile.TemporaryDirectory(prefix="obskit-report-") as workdir:
        # the review's evidence bundle goes where asked, else into this run's scratch folder
        folder = Path(bundle_dir).expanduser().resolve() if bundle_dir else Path(workdir) / "bundle"
        nb = inject_parameters(nb, **values, bundle_dir=str(folder))
        nb.cells.insert(0, nbformat.v4.new_code_cell(_SETUP, metadata={"tags": [_SETUP_TAG]}))
        executed = _execute(nb, path.stem, Path(workdir), timeout, progress)
        named = source is not None and str(source) in datasets.names()
        shown = _shown_paths(values["source"], folder, Path(workdir), named)
        executed = _relative_paths(executed, shown)
    page = export_html(executed, show_code=show_code)
    target = _write(target, page)
    return Report(
        path=target.resolve(),
        size=len(page.encode()),
        notebook=path.stem,
        summary=_summary_of(executed),
        seconds=time.monotonic() - began,
    )


def _check_inputs(
    source: object, live: Mapping | None, start: object, end: object, where: Mapping | None
) -> None:
    """:func:`run`'s source, window and key values checked before anything runs."""
    if (source is None) == (live is None):
        raise ReportError(
            "give either a source (a bundled incident's name, a folder, a file or a bundle) or "
            "live settings, not both and not neither"
        )
    if live is not None and (start is None or end is None):
        raise ReportError(
            "live sources need a window: give start and end, e.g. --start 2024-05-14T10:00:00Z "
            "--end 2024-05-14T11:00:00Z"
        )
    if live is not None and where:
        raise ReportError(
            "where (--where) narrows files read from disk; live sources take their namespaces "
            "from the live settings (--namespace)"
        )
    window = [
        as_utc(value, name, error=ReportError)
        for name, value in (("start", start), ("end", end))
        if value is not None
    ]
    if len(window) == 2 and window[0] > window[1]:
        raise ReportError(f"the window's start {start!r} is after its end {end!r}; swap them")
    if where is not None and not isinstance(where, Mapping):
        raise ReportError(
            f"where must be a mapping of key columns to values, e.g. {{'namespace': 'shop'}}, "
            f"got {type(where).__name__}"
        )
    for column, values in (where or {}).items():
        if column not in schema.KEY:
            raise ReportError(
                f"where names {column!r}, which is no key column; the key columns are: "
                f"{', '.join(schema.KEY)}"
            )
        values = [values] if isinstance(values, str) else values
        if (
            not isinstance(values, Sequence)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise ReportError(
                f"where[{column!r}] must be a value or a list of values (text), got {values!r}"
            )


def _parameters(
    source: object, live: Mapping | None, where: Mapping | None, **given: object
) -> dict[str, object]:
    """The notebook's parameters: the source (or the live settings), the key values as
    ``keys`` (lists of values) and the ``given`` values that are not None."""
    values: dict[str, object] = {"source": None if source is None else _source_text(source)}
    if live is not None:
        values["live"] = dict(live)
    if where is not None:
        values["keys"] = {k: [v] if isinstance(v, str) else list(v) for k, v in where.items()}
    return values | {name: value for name, value in given.items() if value is not None}


def _source_text(source: str | os.PathLike) -> str:
    """A bundled incident's name as it is, else the path (or glob) made absolute: the
    notebook's kernel runs elsewhere, so relative paths are taken from here."""
    from obskit import datasets

    text = str(source)
    if text in datasets.names():
        return text
    is_glob = any(ch in text for ch in "*?[") and not Path(text).exists()
    if not is_glob and not Path(text).expanduser().exists():
        raise ReportError(
            f"source {text!r} is neither a bundled incident "
            f"({', '.join(datasets.names())}) nor an existing file or folder"
        )
    path = Path(text).expanduser()
    text = str(path if path.is_absolute() else Path.cwd() / path)
    return text if is_glob else str(Path(text).resolve())
