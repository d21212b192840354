"""A live Grafana Loki client: ``query_range`` paged forward, into an obskit logs frame.

Loki answers at most ``limit`` entries per request (its ``max_entries_limit_per_query`` is 5,000
by default), oldest first with ``direction=forward``. A window with more lines is read page by
page: the next page starts *at* the last timestamp seen (``start`` is inclusive, ``end``
exclusive), because more entries than the page held can share that nanosecond; the entries at
that timestamp that were already kept are recognised by stream, timestamp and line (Loki itself
keeps one entry per stream, timestamp and line) and skipped. So no line is lost and none is
repeated at a page edge. A page made only of entries of one nanosecond is asked again with a
larger limit.

The pages are merged into one response and handed to
:func:`obskit.sources.loki.parse_loki_json`, the parser that reads ``loki-json`` files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import orjson
import pandas as pd
import requests

from obskit.errors import CollectionError, FormatError
from obskit.live._http import MAX_BYTES, TIMEOUT, HttpClient
from obskit.live.prometheus import to_timestamp
from obskit.sources._base import ParseResult
from obskit.sources.loki import parse_loki_json

__all__ = ["DEFAULT_PAGE", "Loki"]

#: Entries per request: Loki's default ``max_entries_limit_per_query``.
DEFAULT_PAGE = 5000
#: A page of one nanosecond is asked again with its limit doubled at most this many times.
_MAX_GROWTH = 4

# Loki's refusals of a query too big for one request (its limits_config), by what to change.
_LINE_CAP = re.compile(r"max.?entries.?limit", re.I)
_LIMIT = re.compile(r"\((\d+) > (\d+)\)")
_TOO_BIG = re.compile(
    r"time range exceeds|query length|too many bytes|max.?query.?(?:length|bytes|series)|"
    r"maximum of series|too many outstanding",
    re.I,
)


def _fix(status: int, body: str) -> str | None:
    """The advice for Loki's refusal of a query over one of its limits, or None."""
    if _LINE_CAP.search(body):
        found = _LIMIT.search(body)
        cap = f" ({found.group(2)} on this server)" if found else ""
        return (
            f"the page is over Loki's per-query line cap, max_entries_limit_per_query{cap}: "
            f"pass a smaller page_size= (at most the cap), or collect a narrower window"
        )
    if _TOO_BIG.search(body):
        return (
            "the query is over one of this Loki's limits: collect a narrower window, or a more "
            "specific selector (namespaces=)"
        )
    return None


class Loki:
    """A Loki HTTP API, queried into obskit logs frames.

    Parameters
    ----------
    url
        Base URL (``http://loki-gateway.monitoring``), with any path prefix.
    headers
        Extra headers: ``{"X-Scope-OrgID": "tenant"}``, ``{"Authorization": "Bearer ..."}``.
    auth
        ``(user, password)`` for basic auth.
    verify
        TLS verification: True (default), or the path of a CA bundle.
    timeout
        Seconds one request (one page) may take in all, its retries and their waits included.
    retries
        Retries of a request that failed with 429, 5xx, a connection error or a cut answer.
    page_size
        Entries per request; at most the server's ``max_entries_limit_per_query``.
    max_bytes
        Largest answer read (bytes); a longer one fails rather than fill the memory.

    Examples
    --------
    >>> loki = Loki("http://127.0.0.1:3100", headers={"X-Scope-OrgID": "ops"})
    >>> loki
    Loki('http://127.0.0.1:3100', headers=['X-Scope-OrgID'], verify=True, timeout=60)
    >>> loki.query_range('{namespace="shop"} |= "error"', "2024-05-14T10:00Z",
    ...                  "2024-05-14T11:00Z")  # doctest: +SKIP
    """

    service = "Loki"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | requests.auth.AuthBase | None = None,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
        *,
        retries: int = 3,
        page_size: int = DEFAULT_PAGE,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if not isinstance(page_size, int) or page_size < 1:
            raise CollectionError(f"page_size must be a positive number, got {page_size!r}")
        self.http = HttpClient(
            url,
            self.service,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=timeout,
            retries=retries,
            pool=1,
            max_bytes=max_bytes,
        )
        self.url = self.http.url
        self.page_size = page_size
        self.pages = 0  # requests made by the last query_range, for progress and tests

    def __repr__(self) -> str:
        inner = repr(self.http).split(", service=")[1].split(", ", 1)[1]
        return f"{type(self).__name__}({self.url!r}, {inner}"

    def origin(self, logql: str) -> str:
        """Where rows came from: the endpoint URL (no credentials) and the query."""
        return f"{self.url}/loki/api/v1/query_range?query={logql}"

    def query_range(
        self, logql: str, start: object, end: object, *, limit: int | None = None
    ) -> pd.DataFrame:
        """Every log line ``logql`` selects in ``[start, end]`` (both included): a logs frame.

        Parameters
        ----------
        logql
            A log query (``{namespace="shop"} |= "error"``). Metric queries are not paged;
            use :meth:`query_range_result` for them.
        start, end
            The window (RFC3339 strings, datetimes, Timestamps or epoch seconds).
        limit
            Stop after this many lines (default: all of them).

        Raises
        ------
        CollectionError
            When Loki is unreachable, refuses the query, or its answer is not a Loki response.

        Examples
        --------
        >>> Loki("http://127.0.0.1:3100").query_range('{app="web"}', "2024-05-14T10:00Z",
        ...                                            "2024-05-14T10:05Z")  # doctest: +SKIP
        """
        return self.query_range_result(logql, start, end, limit=limit).logs

    def query_range_result(
        self,
        logql: str,
        start: object,
        end: object,
        *,
        limit: int | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> ParseResult:
        """Like :meth:`query_range`, with records, rejects and notes; ``on_page(lines)`` is
        called after each page."""
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        if lo > hi:
            raise CollectionError(f"start {lo} is after end {hi}; swap them")
        end_ns = hi.value + 1  # Loki's end is exclusive; the window's end is included
        cursor = lo.value
        streams: dict[bytes, dict] = {}
        warnings: list[str] = []
        edge: set[tuple[bytes, int, str]] = set()  # entries kept at the cursor's nanosecond
        total = 0
        page_size = self.page_size
        self.pages = 0
        growth = 0
        while True:
            want = page_size if limit is None else min(page_size, limit - total + len(edge))
            doc = self._page(logql, cursor, end_ns, want)
            self.pages += 1
            warnings += [w for w in doc.get("warnings") or [] if w not in warnings]
            data = doc["data"]
            if not isinstance(data, dict) or data.get("resultType") != "streams":
                return self._parse(doc, logql)
            entries = self._entries(data, logql)
            returned = len(entries)
            entries.sort(key=lambda e: e[0])
            fresh = [e for e in entries if (e[1], e[0], e[3][1]) not in edge]
            if limit is not None:
                fresh = fresh[: limit - total]
            for _ts, key, labels, value in fresh:
                stream = streams.get(key)
                if stream is None:
                    stream = streams[key] = {"stream": labels, "values": []}
                stream["values"].append(value)
            total += len(fresh)
            if on_page is not None:
                on_page(len(fresh))
            if returned < want or (limit is not None and total >= limit):
                break
            last = entries[-1][0]
            if last == cursor and not fresh:
                # a full page of one nanosecond: the rest of it can only come in a bigger page
                if growth >= _MAX_GROWTH:
                    raise CollectionError(
                        f"Loki at {self.url}: more than {page_size:,} lines of {logql!r} share "
                        f"the timestamp {pd.Timestamp(last, tz='UTC')}; pass a larger "
                        f"page_size= (up to the server's max_entries_limit_per_query)"
                    )
                page_size *= 2
                growth += 1
                continue
            if last != cursor:
                edge = set()
            edge |= {(k, ts, v[1]) for ts, k, _, v in entries if ts == last}
            cursor = last
        payload = {
            "status": "success",
            "data": {"resultType": "streams", "result": list(streams.values())},
        }
        if warnings:
            payload["warnings"] = warnings
        return self._parse(payload, logql)

    def _entries(self, data: dict, logql: str) -> list[tuple[int, bytes, dict, list]]:
        """A page's entries as ``(ns, stream key, labels, [ns, line])``, for the paging."""
        entries = []
        try:
            for item in data.get("result") or []:
                labels = item.get("stream") or {}
                key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
                for value in item.get("values") or []:
                    entries.append((int(value[0]), key, labels, value))
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CollectionError(
                self.http.redact(
                    f"Loki at {self.url} answered query {logql!r} with streams that are not "
                    f'Loki\'s (each entry a ["<nanoseconds>", "<line>"] pair): {exc}; check '
                    f"that the URL is Loki's API (a proxy or another service in between?)"
                )
            ) from exc
        return entries

    def _page(self, logql: str, start_ns: int, end_ns: int, limit: int) -> dict:
        params = {
            "query": logql,
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(limit),
            "direction": "forward",
        }
        what = f"query {logql!r}"
        response = self.http.request("/loki/api/v1/query_range", params, what=what, fix=_fix)
        body = response.content
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise self.http.unreadable(
                what,
                body,
                f"a body that is not JSON ({exc}), {len(body)} bytes",
                "the answer may have been cut short (a proxy timeout?): retry, or collect a "
                "shorter window",
            ) from exc
        if not isinstance(doc, dict) or doc.get("status") != "success" or "data" not in doc:
            raise CollectionError(
                self.http.redact(
                    f"Loki at {self.url} answered query {logql!r} with an error: "
                    f"{orjson.dumps(doc)[:300].decode('utf-8', 'replace')}; fix the query"
                )
            )
        return doc

    def _parse(self, payload: dict, logql: str) -> ParseResult:
        try:
            result = parse_loki_json(payload, origin=self.origin(logql), query=logql)
        except FormatError as exc:
            raise CollectionError(
                self.http.redact(f"Loki at {self.url}: {exc} (query {logql!r})")
            ) from exc
        if result.logs is not None:  # the parser keeps stream order; an analyst wants time order
            result.logs = result.logs.sort_values("timestamp", kind="stable").reset_index(drop=True)
        return result
