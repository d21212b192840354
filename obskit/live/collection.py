"""``collect``: one window from live sources into an Investigation: Prometheus, the Kubernetes
API, Loki, Elasticsearch/OpenSearch and Sumo Logic.

Filters are pushed down: Prometheus evaluates only the window, at the step asked for, and its
selectors carry the namespaces; the Kubernetes lists are namespaced lists; Loki's stream selector
names the namespaces; Elasticsearch gets a range on the time field and terms on the namespace
fields; a Sumo Logic search job gets the window and a namespace condition. Nothing else travels.

Every query or list becomes a row of ``inv.files`` (the ledger: origin URL and query, records,
rows, rejects), and what the investigation cannot contain is written in ``inv.notes`` as a
note that begins with ``"coverage gap: "`` (events older than the API server keeps, objects
deleted before the collection, lists the credentials may not read, shards of a search that
failed, a Sumo Logic search job stopped at its message limit). An evidence bundle
(:func:`obskit.bundle.save`) lists these gaps in its manifest.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from obskit import schema
from obskit.errors import CollectionError
from obskit.investigation import FILES_COLUMNS, Investigation
from obskit.live.elasticsearch import Elasticsearch
from obskit.live.kubernetes import INVENTORY, Kubernetes, event_gap
from obskit.live.kubernetes import _Forbidden as Forbidden
from obskit.live.loki import Loki
from obskit.live.prometheus import DEFAULT_QUERIES, Prometheus, render_query, to_timestamp
from obskit.live.sumologic import SumoLogic
from obskit.sources._base import ParseResult, reject_far_out_times

__all__ = ["GAP", "assemble", "collect", "loki_selector"]

#: The prefix of the notes that record a coverage gap.
GAP = "coverage gap: "


def collect(
    start: object,
    end: object,
    prometheus: Prometheus | None = None,
    kubernetes: Kubernetes | None = None,
    loki: Loki | None = None,
    namespaces: Sequence[str] | None = None,
    queries: Mapping[str, str] | None = None,
    cluster: str | None = None,
    *,
    step: object = None,
    progress: bool | None = None,
    elasticsearch: Elasticsearch | Sequence[Elasticsearch] | None = None,
    sumologic: SumoLogic | None = None,
) -> Investigation:
    """Pull ``[start, end]`` from live sources into one :class:`~obskit.Investigation`.

    Parameters
    ----------
    start, end
        The window (RFC3339 strings, datetimes, Timestamps, epoch seconds; naive means UTC).
    prometheus, kubernetes, loki
        The sources to read; at least one of these or of the stores below.
    namespaces
        Restrict everything namespaced to these namespaces (nodes and node metrics are kept).
    queries
        Metric name -> PromQL, instead of :data:`obskit.live.DEFAULT_QUERIES`; ``$ns`` in a
        selector becomes the namespace matcher.
    cluster
        Cluster name for rows that do not carry one.
    step
        Prometheus resolution (default 30s).
    progress
        Show a progress bar (default: when running in a terminal or a notebook).
    elasticsearch
        An :class:`~obskit.Elasticsearch` (or several: one per index pattern and time field),
        searched for the window's container logs, Kubernetes Events, audit events and Falco
        alerts of the namespaces.
    sumologic
        A :class:`~obskit.SumoLogic`: a search job for the window's messages of the namespaces
        (within its ``scope``), and its ``metrics`` queries through the Metrics Query API.

    Returns
    -------
    Investigation
        Its window is ``(start, end)``; ``inv.files`` has one row per query or list, and
        ``inv.notes`` the coverage gaps.

    Raises
    ------
    CollectionError
        When a source is unreachable, refuses a query, or answers with an error.

    Examples
    --------
    >>> import obskit
    >>> prom = obskit.Prometheus("http://127.0.0.1:9090")  # doctest: +SKIP
    >>> inv = obskit.collect("2024-05-14T10:00Z", "2024-05-14T11:00Z", prometheus=prom,
    ...                      kubernetes=obskit.Kubernetes(), namespaces=["shop"])  # doctest: +SKIP
    >>> inv.save("incident-4711")  # doctest: +SKIP
    """
    lo, hi = _window(start, end)
    stores = _stores(elasticsearch)
    if prometheus is None and kubernetes is None and loki is None and not stores and not sumologic:
        raise CollectionError(
            "collect needs at least one source: prometheus=obskit.Prometheus(url), "
            "kubernetes=obskit.Kubernetes(), loki=obskit.Loki(url), "
            "elasticsearch=obskit.Elasticsearch(url) or sumologic=obskit.SumoLogic(endpoint)"
        )
    if isinstance(namespaces, str):
        namespaces = [namespaces]
    namespaces = list(namespaces) if namespaces else None
    rendered = _rendered_queries(queries, namespaces)
    steps = (
        (len(rendered) if prometheus else 0)
        + (len(INVENTORY) + 1 if kubernetes else 0)
        + (1 if loki else 0)
        + len(stores)
        + (1 + len(sumologic.metrics) if sumologic is not None else 0)
    )
    run = _Run(lo, hi, namespaces, _Progress(steps, progress))
    try:
        if prometheus is not None:
            _prometheus(prometheus, rendered, step, run)
        if kubernetes is not None:
            _kubernetes(kubernetes, run)
        if loki is not None:
            _loki(loki, run)
        for store in stores:
            _elasticsearch(store, run)
        if sumologic is not None:
            _sumologic(sumologic, run)
    finally:
        run.bar.close()
    return assemble(run.results, run.notes, cluster, (lo, hi))


@dataclass
class _Run:
    """What one collection reads (the window, the namespaces) and gathers (results, notes)."""

    lo: pd.Timestamp
    hi: pd.Timestamp
    namespaces: list[str] | None
    bar: _Progress
    #: (origin, format, result) a query or list, in the order they were made.
    results: list[tuple[str, str, ParseResult]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _window(start: object, end: object) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window's two ends as UTC timestamps, refused when start is after end."""
    lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
    if lo > hi:
        raise CollectionError(f"start {lo} is after end {hi}; swap them")
    return lo, hi


def _rendered_queries(
    queries: Mapping[str, str] | None, namespaces: list[str] | None
) -> dict[str, str]:
    """Metric name -> PromQL with the namespace matcher filled in, after checking each pair."""
    chosen = dict(DEFAULT_QUERIES if queries is None else queries)
    for name, query in chosen.items():
        if not isinstance(name, str) or not isinstance(query, str) or not query.strip():
            raise CollectionError(
                f"queries must map metric names to PromQL strings, got {name!r}: {query!r}"
            )
    return {name: render_query(q, namespaces) for name, q in chosen.items()}


def _prometheus(prometheus: Prometheus, rendered: dict[str, str], step: object, run: _Run) -> None:
    """One range query a metric over the window."""
    for name, promql in rendered.items():
        run.bar.describe(f"Prometheus {name}")
        result = prometheus.query_range_result(promql, run.lo, run.hi, step, name=name)
        run.results.append((prometheus.origin("query_range", promql), "prometheus-json", result))
        run.bar.advance()


def _kubernetes(kubernetes: Kubernetes, run: _Run) -> None:
    """The inventory lists and the window's Events, noting the lists and Events it cannot have."""
    now = pd.Timestamp.now(tz="UTC")
    forbidden: list[str] = []
    run.bar.describe("Kubernetes inventory")
    inventory = kubernetes.inventory(
        run.namespaces, on_list=lambda _: run.bar.advance(), forbidden=forbidden
    )
    run.results.append((kubernetes.origin("inventory"), "k8s-json", inventory))
    run.bar.describe("Kubernetes events")
    try:
        events = kubernetes.events(run.namespaces, run.lo, run.hi)
    except Forbidden as exc:
        if len(forbidden) == len(INVENTORY):
            raise CollectionError(
                f"{exc} (nothing at all could be listed with {kubernetes.source}: "
                f"no {', '.join(INVENTORY)} and no events; check the context)"
            ) from None
        forbidden.append(str(exc))
    else:
        run.results.append((kubernetes.origin("events"), "k8s-json", events))
    run.bar.advance()
    run.notes += [GAP + f"skipped a list: {text}" for text in forbidden]
    gap = event_gap(run.lo, run.hi, now, kubernetes.event_ttl)
    if gap:
        run.notes.append(GAP + gap)
    if run.hi < now:
        run.notes.append(
            GAP + f"the inventory is the cluster at {now}: objects deleted before then "
            f"are missing, and rows of theirs are keyed only by their own labels"
        )


def _loki(loki: Loki, run: _Run) -> None:
    """The window's log lines of the namespaces from Loki."""
    logql = loki_selector(run.namespaces)
    run.bar.describe("Loki logs")
    result = loki.query_range_result(logql, run.lo, run.hi, on_page=run.bar.lines)
    run.results.append((loki.origin(logql), "loki-json", result))
    run.bar.advance()


def _elasticsearch(store: Elasticsearch, run: _Run) -> None:
    """One index pattern's search over the window, noting the shards that failed."""
    run.bar.describe(f"Elasticsearch {store.index}")
    result = store.search(run.lo, run.hi, namespaces=run.namespaces, on_page=run.bar.lines)
    run.results.append((store.last_origin, "es-search", result))
    run.notes += [GAP + f"{store.url} {store.index}: {gap}" for gap in store.gaps]
    run.bar.advance()


def _stores(elasticsearch: object) -> list[Elasticsearch]:
    """The Elasticsearch clients given: none, one, or a sequence of them."""
    if elasticsearch is None:
        return []
    stores = [elasticsearch] if isinstance(elasticsearch, Elasticsearch) else elasticsearch
    if not isinstance(stores, Sequence) or not all(isinstance(s, Elasticsearch) for s in stores):
        raise CollectionError(
            f"elasticsearch must be an obskit.Elasticsearch or a list of them, got "
            f"{elasticsearch!r:.80}"
        )
    return list(stores)


def _sumologic(sumo: SumoLogic, run: _Run) -> None:
    """A Sumo Logic search job for the window's messages, then its metrics queries."""
    query = sumo.scoped(run.namespaces)
    run.bar.describe("Sumo Logic search job")
    result = sumo.search_result(query, run.lo, run.hi, on_page=run.bar.lines)
    run.results.append((sumo.origin(query), "sumologic-search", result))
    run.notes += [GAP + f"{sumo.url}: {gap}" for gap in sumo.gaps]
    run.bar.advance()
    for name, metrics_query in sumo.metrics.items():
        run.bar.describe(f"Sumo Logic {name}")
        result = sumo.metrics_result(metrics_query, run.lo, run.hi, name=name)
        run.results.append((sumo.origin(metrics_query, "metrics"), "sumologic-metrics", result))
        run.notes += [GAP + f"{sumo.url}: {gap}" for gap in sumo.gaps]
        run.bar.advance()


def loki_selector(namespaces: list[str] | None) -> str:
    """The LogQL stream selector of the namespaces (all namespaces for None); names validated."""
    if namespaces:
        render_query("{$ns}", namespaces)  # validates the names
        return '{namespace=~"' + "|".join(namespaces) + '"}'
    return '{namespace=~".+"}'


def assemble(
    results: list[tuple[str, str, ParseResult]],
    notes: list[str],
    cluster: str | None,
    window: tuple[pd.Timestamp, pd.Timestamp],
) -> Investigation:
    """One investigation from the sources' parse results, as ``obskit.load`` builds one from files.

    Each result keeps its origin and format in the ledger; its rows dated far outside the rest
    are rejects; ``notes`` (coverage gaps) come first, then each source's own notes.
    """
    frames: dict[str, list[pd.DataFrame]] = {n: [] for n in ("metrics", "events", "logs")}
    frames["inventory"], rejects, ledger = [], [], []
    for origin, fmt, result in results:
        result = reject_far_out_times(result, fmt, origin)
        for name, parts in frames.items():
            frame = getattr(result, name)
            if frame is not None and len(frame):
                parts.append(frame)
        if len(result.rejects):
            rejects.append(result.rejects)
        ledger.append(
            {
                "origin": origin,
                "format": fmt,
                "status": "loaded",
                "records": result.records,
                "rows": result.rows,
                "rejects": len(result.rejects),
                "merged": result.merged,
                "balanced": result.balanced(),
                "note": "; ".join(result.notes) or None,
            }
        )
        notes = notes + [f"{origin}: {note}" for note in result.notes]
    out = {name: schema.concat(name, parts) for name, parts in frames.items()}
    inventory = out["inventory"]
    if len(inventory):
        dup = inventory["uid"].notna() & inventory.duplicated("uid", keep="last")
        out["inventory"] = inventory.loc[~dup].reset_index(drop=True)
    for name in ("metrics", "events", "logs"):
        out[name] = out[name].sort_values("timestamp", kind="stable").reset_index(drop=True)
    return Investigation._from_parts(
        out,
        cluster=cluster,
        rejects=schema.concat("rejects", rejects),
        files=pd.DataFrame(ledger, columns=FILES_COLUMNS),
        notes=notes,
        window=window,
    )


class _Progress:
    """A progress bar (tqdm's, which draws in JupyterLab and in terminals), or nothing."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() or "ipykernel" in sys.modules
        self._bar = None
        self._lines = 0
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # tqdm is optional: collection works the same without a bar
                return
            self._bar = tqdm(total=total, desc="collect", unit="step", leave=False)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description(text, refresh=True)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def lines(self, count: int) -> None:
        self._lines += count
        if self._bar is not None:
            self._bar.set_postfix(lines=self._lines, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
