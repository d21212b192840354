"""A live Elasticsearch or OpenSearch client: one window of the shippers' documents, paged.

The window and the Kubernetes keys are pushed down: the search is a ``bool`` filter of a
``range`` on the time field (``@timestamp``) and ``terms`` on the Kubernetes fields the
shippers write (Fluent Bit's ``kubernetes.namespace_name``, ECS's ``kubernetes.namespace``, the
audit event's ``objectRef.namespace``, Falco's ``k8s.ns.name`` ...), so only the answer travels.

Paging is by ``search_after`` over a point in time (Elasticsearch's ``_pit``, OpenSearch's
``_search/point_in_time``), sorted by the time field: every page is read from the same view of
the indices, and no request uses ``from``/``size`` (refused past 10,000 hits). Elasticsearch
adds a tiebreaker to the sort values of a point-in-time search (``_shard_doc``, since 7.12), so
``search_after`` is exact; where the sort values carry none (OpenSearch forked from 7.10,
before that tiebreaker, so obskit does not count on one), the next page starts *at* the last
time read instead and skips the documents already kept there, as the Loki client does, with a
larger page when a whole page shares one millisecond. A point in time
that expires between two pages (``search_context_missing_exception``) is reopened, and paging
resumes at the last time read; the documents already kept at that time are recognised by
``_index`` and ``_id`` and skipped, so none is lost or repeated, and the reopening is written in
:attr:`Elasticsearch.gaps` (the two views of the indices may differ). Shards that fail
(``_shards.failed``) or a search that times out are written there too: coverage gaps, not a
silent loss.

Credentials come from environment variables (an API key, or a user and password) and never
appear in ``repr()``, messages, ledgers or reports.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence

import orjson
import pandas as pd

from obskit.errors import CollectionError, FormatError
from obskit.live._http import MAX_BYTES, TIMEOUT, HttpClient
from obskit.live.prometheus import to_timestamp
from obskit.sources._base import ParseResult
from obskit.sources.elasticsearch import answer_notes, parse_es_search

__all__ = ["KEY_FIELDS", "Elasticsearch"]

#: Hits per page (a search answers at most ``index.max_result_window``, 10,000 by default).
DEFAULT_PAGE = 1000
#: The most hits one page may ask for.
MAX_PAGE = 10_000

#: Where each key part is, in the documents each shipper writes; a filter on a key part matches
#: a document holding the value in any of them. Fluent Bit's fields are text with a ``.keyword``
#: sub-field under Elasticsearch's dynamic mapping, so both are asked.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "namespace": (
        "kubernetes.namespace_name",
        "kubernetes.namespace_name.keyword",
        "kubernetes.namespace",
        "kubernetes.namespace.keyword",
        "kubernetes.pod_namespace",
        "objectRef.namespace",
        "objectRef.namespace.keyword",
        "involvedObject.namespace",
        "regarding.namespace",
        "output_fields.k8s.ns.name",
        "output_fields.k8s_ns_name",
        "output_fields.k8s_ns_name.keyword",
    ),
    "pod": (
        "kubernetes.pod_name",
        "kubernetes.pod_name.keyword",
        "kubernetes.pod.name",
        "output_fields.k8s.pod.name",
        "output_fields.k8s_pod_name",
        "output_fields.k8s_pod_name.keyword",
        "involvedObject.name",
    ),
    "container": (
        "kubernetes.container_name",
        "kubernetes.container_name.keyword",
        "container.name",
    ),
    "node": (
        "kubernetes.host",
        "kubernetes.host.keyword",
        "kubernetes.node.name",
        "kubernetes.pod_node_name",
        "hostname",
    ),
}

_EXPIRED = ("search_context_missing_exception", "No search context found", "SearchContextMissing")


def _iso(ts: pd.Timestamp) -> str:
    """A UTC time as ``strict_date_optional_time_nanos`` text."""
    return f"{ts:%Y-%m-%dT%H:%M:%S}.{ts.value % 10**9:09d}Z"


def _millis(value: object) -> int | None:
    """A time sort value as epoch milliseconds (``date_nanos`` fields sort in nanoseconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = int(value)
    return value // 1_000_000 if abs(value) > 10**14 else value


def _env(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise CollectionError(
            f"Elasticsearch: {what} is read from the environment variable {name!r}, which is "
            f"not set; export it (e.g. `export {name}=...`) before starting the notebook"
        )
    return value


class Elasticsearch:
    """An Elasticsearch or OpenSearch cluster, searched into obskit logs and events frames.

    Parameters
    ----------
    url
        Base URL (``https://es.logging:9200``), with any path prefix.
    index
        Indices, data streams or aliases to search (``"fluent-bit-*,logs-*"``); wildcards and
        commas as Elasticsearch takes them.
    time_field
        The field holding each document's time: ``@timestamp`` as Fluent Bit, Filebeat,
        Elastic Agent and recent Falcosidekick releases write it; ``time`` for indices of
        Falcosidekick releases that wrote only the alert's own ``time``.
    api_key_env
        Name of an environment variable holding an API key (sent as ``ApiKey <key>``).
    username_env, password_env
        Names of environment variables holding a user and password (basic auth).
    flavor
        ``"elasticsearch"`` or ``"opensearch"``; default: asked of the cluster (``GET /``).
    headers, verify, timeout, retries, max_bytes
        As for :class:`obskit.Loki` (``timeout`` is per request, its retries included).
    page_size
        Hits per page, at most 10,000.
    keep_alive
        How long the point in time lives between two pages (``"2m"``).

    Examples
    --------
    >>> es = Elasticsearch("https://127.0.0.1:9200", index="fluent-bit-*")
    >>> es
    Elasticsearch('https://127.0.0.1:9200', index='fluent-bit-*', time_field='@timestamp')
    >>> es.search("2024-05-14T10:00Z", "2024-05-14T10:30Z",
    ...           namespaces=["shop"])  # doctest: +SKIP
    """

    service = "Elasticsearch"

    def __init__(
        self,
        url: str,
        index: str = "*",
        *,
        time_field: str = "@timestamp",
        api_key_env: str | None = None,
        username_env: str | None = None,
        password_env: str | None = None,
        flavor: str | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
        retries: int = 3,
        page_size: int = DEFAULT_PAGE,
        keep_alive: str = "2m",
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise CollectionError(f"page_size must be a whole number, got {page_size!r}")
        if not 1 <= page_size <= MAX_PAGE:
            raise CollectionError(
                f"page_size must be between 1 and {MAX_PAGE:,} (a search answers at most "
                f"{MAX_PAGE:,} hits), got {page_size!r}"
            )
        if flavor not in (None, "elasticsearch", "opensearch"):
            raise CollectionError(
                f"flavor must be 'elasticsearch', 'opensearch' or None (ask the cluster), "
                f"got {flavor!r}"
            )
        if not isinstance(index, str) or not index.strip() or "/" in index:
            raise CollectionError(
                f"index must name indices, data streams or aliases ('logs-*,fluent-bit-*'), "
                f"got {index!r}"
            )
        merged = dict(headers or {})
        key = _env(api_key_env, "the API key")
        if key is not None:
            merged["Authorization"] = f"ApiKey {key}"
        user = _env(username_env, "the user name")
        password = _env(password_env, "the password") if username_env else None
        self.http = HttpClient(
            url,
            self.service,
            headers=merged,
            auth=(user, password or "") if user is not None else None,
            verify=verify,
            timeout=timeout,
            retries=retries,
            pool=1,
            max_bytes=max_bytes,
        )
        self.url = self.http.url
        self.index = index
        self.time_field = time_field
        self.flavor = flavor
        self.page_size = page_size
        self.keep_alive = keep_alive
        self.pages = 0  # requests of the last search, for progress and tests
        self.gaps: list[str] = []  # what the last search could not read
        self.last_origin = self.origin()  # the last search's endpoint, indices and query

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.url!r}, index={self.index!r}, "
            f"time_field={self.time_field!r})"
        )

    def origin(self, query: Mapping[str, object] | None = None) -> str:
        """Where rows came from: the endpoint (no credentials), the indices and the query."""
        shown = orjson.dumps(query).decode() if query else ""
        return f"{self.url}/{self.index}/_search{f'?query={shown}' if shown else ''}"

    def query(
        self,
        start: object,
        end: object,
        *,
        namespaces: Sequence[str] | None = None,
        pods: Sequence[str] | None = None,
        containers: Sequence[str] | None = None,
        nodes: Sequence[str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> dict:
        """The query DSL a search sends: the window and the key filters, all ``filter``s.

        Examples
        --------
        >>> q = Elasticsearch("http://127.0.0.1:9200").query(
        ...     "2024-05-14T10:00Z", "2024-05-14T10:30Z", namespaces=["shop"])
        >>> q["bool"]["filter"][0]
        {'range': {'@timestamp': {'gte': '2024-05-14T10:00:00.000000000Z', 'lte': '2024-05-14T10:30:00.000000000Z', 'format': 'strict_date_optional_time_nanos'}}}
        >>> q["bool"]["filter"][1]["bool"]["should"][0]
        {'terms': {'kubernetes.namespace_name': ['shop']}}
        """  # noqa: E501
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        if lo > hi:
            raise CollectionError(f"start {lo} is after end {hi}; swap them")
        window = {"gte": _iso(lo), "lte": _iso(hi), "format": "strict_date_optional_time_nanos"}
        filters: list[dict] = [{"range": {self.time_field: window}}]
        for part, values in (
            ("namespace", namespaces),
            ("pod", pods),
            ("container", containers),
            ("node", nodes),
        ):
            if values is None:
                continue
            values = [values] if isinstance(values, str) else list(values)
            if not values or not all(isinstance(v, str) and v for v in values):
                raise CollectionError(f"{part} filter must be names (strings), got {values!r}")
            should = [{"terms": {field: values}} for field in KEY_FIELDS[part]]
            filters.append({"bool": {"should": should, "minimum_should_match": 1}})
        if extra:
            filters.append(dict(extra))
        return {"bool": {"filter": filters}}

    def search(
        self,
        start: object,
        end: object,
        *,
        namespaces: Sequence[str] | None = None,
        pods: Sequence[str] | None = None,
        containers: Sequence[str] | None = None,
        nodes: Sequence[str] | None = None,
        extra: Mapping[str, object] | None = None,
        limit: int | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> ParseResult:
        """Every document in ``[start, end]`` matching the filters, in obskit's frames.

        Parameters
        ----------
        start, end
            The window (RFC3339 strings, datetimes, Timestamps or epoch seconds), both included.
        namespaces, pods, containers, nodes
            Keep only documents of these (pushed down as ``terms`` filters).
        extra
            One more query DSL clause, added as a filter (``{"match": {"log": "error"}}``).
        limit
            Stop after this many documents (default: all of them).
        on_page
            Called with the number of hits after each page.

        Returns
        -------
        ParseResult
            Logs and events (audit events, Falco alerts, Kubernetes Events) with rejects;
            :attr:`gaps` lists what could not be read.

        Raises
        ------
        CollectionError
            When the cluster is unreachable, refuses the search, or answers with an error.

        Examples
        --------
        >>> Elasticsearch("http://127.0.0.1:9200").search(
        ...     "2024-05-14T10:00Z", "2024-05-14T10:30Z", namespaces=["shop"])  # doctest: +SKIP
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise CollectionError(f"limit must be a whole number, got {limit!r}")
        query = self.query(
            start,
            end,
            namespaces=namespaces,
            pods=pods,
            containers=containers,
            nodes=nodes,
            extra=extra,
        )
        self.last_origin = self.origin(query)
        return self._collect(query, limit, on_page)

    # --- paging -----------------------------------------------------------------------------

    def _collect(
        self, query: dict, limit: int | None, on_page: Callable[[int], None] | None
    ) -> ParseResult:
        self.pages = 0
        self.gaps = []
        hits: list[dict] = []
        seen_at_edge: set[tuple[str, str]] = set()
        edge: int | None = None  # the time (epoch ms) of the last hit kept
        after: list | None = None
        size = self.page_size
        pit = self._open_pit()
        resumed = query
        try:
            while limit is None or len(hits) < limit:
                want = size if limit is None else min(size, limit - len(hits) + len(seen_at_edge))
                page, pit, expired = self._page(resumed, pit, after, want)
                if expired:
                    pit, resumed, after = self._reopen(query, edge, len(hits))
                    continue
                fresh = [h for h in page if (h.get("_index"), h.get("_id")) not in seen_at_edge]
                fresh = fresh if limit is None else fresh[: limit - len(hits)]
                for hit in fresh:
                    when = _millis((hit.get("sort") or [None])[0])
                    if when != edge:
                        edge, seen_at_edge = when, set()
                    seen_at_edge.add((hit.get("_index"), hit.get("_id")))
                hits.extend(fresh)
                if on_page is not None:
                    on_page(len(fresh))
                if len(page) < want:
                    break
                last = page[-1].get("sort")
                if not last:
                    raise CollectionError(
                        f"{self.service} at {self.url} answered a sorted search without sort "
                        f"values; check that the URL is the cluster's API"
                    )
                if len(last) > 1:  # a tiebreaker (Elasticsearch's _shard_doc): exact paging
                    after = last
                    continue
                # no tiebreaker: search_after would skip documents of the same time as the
                # last one; resume at that time instead and skip the documents kept there
                if not fresh:
                    size = self._grown(size, edge)
                resumed, after = self._from_edge(query, edge), None
        finally:
            self._close_pit(pit)
        return self._parse(hits, query)

    def _grown(self, size: int, edge: int | None) -> int:
        """A larger page, when a whole page holds documents of one millisecond."""
        if size >= MAX_PAGE:
            at = pd.Timestamp(edge, unit="ms", tz="UTC") if edge is not None else "one time"
            raise CollectionError(
                f"{self.service} at {self.url}: more than {MAX_PAGE:,} documents of {self.index!r} "
                f"share the time {at}, and this cluster's sort has no tiebreaker to page them by; "
                f"narrow the search (pods=, containers=) or search the indices apart"
            )
        return min(size * 2, MAX_PAGE)

    def _from_edge(self, query: dict, edge: int | None) -> dict:
        """``query`` starting at the millisecond ``edge`` (the window's start if None)."""
        if edge is None:
            return query
        resumed = orjson.loads(orjson.dumps(query))
        window = resumed["bool"]["filter"][0]["range"][self.time_field]
        window["gte"] = _iso(pd.Timestamp(edge, unit="ms", tz="UTC"))
        return resumed

    def _reopen(self, query: dict, edge: int | None, kept: int) -> tuple[str, dict, list | None]:
        """A new point in time after one expired, and the query resuming at the last time read."""
        at = "" if edge is None else f" at {pd.Timestamp(edge, unit='ms', tz='UTC')}"
        self.gaps.append(
            f"the point in time on {self.index!r} expired after {kept:,} documents{at} (a page "
            f"took longer than keep_alive={self.keep_alive!r}); a new one was opened and "
            f"paging resumed there: documents indexed or deleted between the two views may "
            f"differ. Raise keep_alive= to avoid this"
        )
        if len(self.gaps) > 5:
            raise CollectionError(
                f"{self.service} at {self.url}: the point in time expired again and again; "
                f"raise keep_alive= (now {self.keep_alive!r}) or use a smaller page_size="
            )
        return self._open_pit(), self._from_edge(query, edge), None

    def _page(
        self, query: dict, pit: str, after: list | None, want: int
    ) -> tuple[list[dict], str, bool]:
        """One page of hits, the newest point-in-time id, and whether the PIT had expired."""
        body: dict[str, object] = {
            "size": want,
            "query": query,
            "pit": {"id": pit, "keep_alive": self.keep_alive},
            "sort": [{self.time_field: {"order": "asc", "unmapped_type": "date"}}],
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        expired: list[bool] = []
        try:
            answer = self._json("/_search", body, "search", expired)
        except CollectionError:
            if expired:
                return [], pit, True
            raise
        self.pages += 1
        failures = (answer.get("_shards") or {}).get("failures") or []
        if any(_EXPIRED[0] in orjson.dumps(f).decode() for f in failures):
            return [], pit, True  # some shards lost their context: this page is not whole
        self.gaps += [g for g in answer_notes(answer) if g not in self.gaps]
        hits = (answer.get("hits") or {}).get("hits")
        if not isinstance(hits, list):
            raise CollectionError(
                f"{self.service} at {self.url} answered a search without hits.hits "
                f"(keys {sorted(answer)[:8]}); check that the URL is the cluster's API"
            )
        return hits, str(answer.get("pit_id") or pit), False

    # --- point in time ----------------------------------------------------------------------

    def _ask_flavor(self) -> str:
        if self.flavor is None:
            try:
                about = self._json("/", None, "the cluster's version", [], method="GET")
            except CollectionError as exc:
                raise CollectionError(
                    f"{exc} (obskit asks GET / whether this is Elasticsearch or OpenSearch; "
                    f"pass flavor='elasticsearch' or flavor='opensearch' to skip it)"
                ) from None
            version = about.get("version") or {}
            distribution = version.get("distribution") if isinstance(version, dict) else None
            self.flavor = "opensearch" if distribution == "opensearch" else "elasticsearch"
        return self.flavor

    def _open_pit(self) -> str:
        opensearch = self._ask_flavor() == "opensearch"
        path = "/_search/point_in_time" if opensearch else "/_pit"
        response = self.http.request(
            f"/{self.index}{path}",
            {"keep_alive": self.keep_alive},
            what=f"open a point in time on {self.index!r}",
            method="POST",
            fix=self._fix,
        )
        answer = self._decode(response.content, "open a point in time")
        pit = answer.get("pit_id" if opensearch else "id")
        if not isinstance(pit, str) or not pit:
            raise CollectionError(
                f"{self.service} at {self.url} opened no point in time on {self.index!r} "
                f"(answer keys {sorted(answer)[:8]}); is it Elasticsearch 7.10+ or OpenSearch "
                f"2.4+? Pass flavor= if it was guessed wrong"
            )
        self.gaps += [g for g in answer_notes(answer) if g not in self.gaps]
        return pit

    def _close_pit(self, pit: str) -> None:
        opensearch = self.flavor == "opensearch"
        path = "/_search/point_in_time" if opensearch else "/_pit"
        body = {"pit_id": [pit]} if opensearch else {"id": pit}
        # it closes itself when keep_alive runs out, and the documents are all read: a failure
        # to close it early loses nothing
        with contextlib.suppress(CollectionError):
            self.http.request(path, {}, what="close the point in time", method="DELETE", json=body)

    # --- requests ---------------------------------------------------------------------------

    def _fix(self, status: int, body: str) -> str | None:
        if "index_not_found_exception" in body:
            return (
                f"no index matches {self.index!r}: pass index= the indices or data streams "
                f"that hold the logs (GET /_cat/indices lists them)"
            )
        if "security_exception" in body or status in (401, 403):
            return (
                "check the credentials (api_key_env= or username_env=/password_env=) and that "
                "they may read these indices (privileges read and view_index_metadata)"
            )
        return None

    def _json(
        self,
        path: str,
        body: dict | None,
        what: str,
        expired: list[bool],
        *,
        method: str | None = None,
    ) -> dict:
        def fix(status: int, text: str) -> str | None:
            if any(marker in text for marker in _EXPIRED):
                expired.append(True)
                return "the point in time expired"
            return self._fix(status, text)

        response = self.http.request(path, {}, what=what, method=method, fix=fix, json=body)
        return self._decode(response.content, what)

    def _decode(self, body: bytes, what: str) -> dict:
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise self.http.unreadable(
                what,
                body,
                f"a body that is not JSON ({exc}), {len(body)} bytes",
                "the answer may have been cut short (a proxy timeout?): retry, or search a "
                "shorter window",
            ) from exc
        if not isinstance(answer, dict):
            raise CollectionError(
                f"{self.service} at {self.url} answered {what} with a JSON "
                f"{type(answer).__name__}, not an object; check that the URL is the cluster's API"
            )
        return answer

    def _parse(self, hits: list[dict], query: dict) -> ParseResult:
        try:
            result = parse_es_search(hits, origin=self.origin(query))
        except FormatError as exc:
            raise CollectionError(self.http.redact(f"{self.service} at {self.url}: {exc}")) from exc
        return result
