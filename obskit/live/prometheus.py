"""A live Prometheus (or Thanos, Mimir, VictoriaMetrics: any Prometheus HTTP API) client.

Answers are handed, as bytes, to :func:`obskit.sources.prometheus.parse_prometheus_json`: the
parser that reads ``prometheus-json`` files. A live frame and a file frame of the same data are
the same frame.

Long ranges
-----------
Prometheus refuses a range query of more than 11,000 points per series. A longer range is cut
into chunks of at most :attr:`Prometheus.max_points` steps on the same step grid
(``start + i * step``), so no evaluation time is asked twice or skipped. Chunks are fetched with
at most ``max_workers`` requests in flight, and the series are stitched back together by their
label sets. A chunk that breaks the server's samples budget (``--query.max-samples``, 50 million
by default) is halved and asked again. Long expressions go as a form POST.

The default investigation query set
-----------------------------------
:data:`DEFAULT_QUERIES` is the one place that says what an investigation pulls from Prometheus.
Each entry is ``metric name -> PromQL``; the name labels series whose expression drops
``__name__`` (a ``rate(...)``) the way the file loader names a saved answer by its file name:
a rate is ``<counter>.rate5m`` and never mistaken for the counter itself.
``$ns`` in a selector becomes ``namespace=~"a|b",`` when :func:`obskit.collect` is restricted to
namespaces and disappears otherwise. A query whose metrics the cluster does not have returns no
rows ("where present"). Pass your own mapping as ``collect(..., queries=...)``, or extend this
one: ``{**obskit.live.DEFAULT_QUERIES, "my_metric": "..."}``.

====================================================  =========================================
name                                                  what it answers
====================================================  =========================================
container_cpu_usage_seconds_total.rate5m              CPU cores used per container (rate 5m)
container_memory_working_set_bytes                    memory per container (what OOM acts on)
kube_pod_container_status_restarts_total              restarts per container
kube_pod_container_status_last_terminated_reason      why a container last died (OOMKilled ...)
container_oom_events_total                            OOM kills counted by cAdvisor
kube_pod_status_phase                                 pod phase over time
kube_node_status_condition                            node conditions (Memory/Disk/PIDPressure)
node_cpu_seconds_total.rate5m                         node CPU busy (rate 5m, not idle)
node_memory_MemAvailable_bytes                        node memory available
node_filesystem_avail_bytes                           node root filesystem free
container_network_receive_bytes_total.rate5m          pod network in, bytes/s (rate 5m)
container_network_transmit_bytes_total.rate5m         pod network out, bytes/s (rate 5m)
http_requests_total.rate5m                            request rate by status code (errors: 5xx)
http_request_duration_seconds.p99                     p99 latency from the histogram
====================================================  =========================================
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
import pandas as pd
import requests

from obskit._time import as_duration, as_utc
from obskit.errors import CollectionError, FormatError
from obskit.live._http import MAX_BYTES, TIMEOUT, HttpClient, looks_like_html
from obskit.sources._base import ParseResult
from obskit.sources.prometheus import parse_prometheus_json

__all__ = ["DEFAULT_QUERIES", "DEFAULT_STEP", "Prometheus", "render_query", "step_millis"]

#: Metric name -> PromQL: what :func:`obskit.collect` asks Prometheus (see the module docstring).
DEFAULT_QUERIES: dict[str, str] = {
    "container_cpu_usage_seconds_total.rate5m": (
        "sum by (namespace, pod, container, node) (rate(container_cpu_usage_seconds_total{$ns "
        'container!="", image!=""}[5m]))'
    ),
    "container_memory_working_set_bytes": (
        'container_memory_working_set_bytes{$ns container!="", image!=""}'
    ),
    "kube_pod_container_status_restarts_total": "kube_pod_container_status_restarts_total{$ns}",
    "kube_pod_container_status_last_terminated_reason": (
        "kube_pod_container_status_last_terminated_reason{$ns} == 1"
    ),
    "container_oom_events_total": 'container_oom_events_total{$ns container!=""} > 0',
    "kube_pod_status_phase": "kube_pod_status_phase{$ns} == 1",
    "kube_node_status_condition": 'kube_node_status_condition{status="true"} == 1',
    "node_cpu_seconds_total.rate5m": (
        'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'
    ),
    "node_memory_MemAvailable_bytes": "node_memory_MemAvailable_bytes",
    "node_filesystem_avail_bytes": 'node_filesystem_avail_bytes{mountpoint="/"}',
    "container_network_receive_bytes_total.rate5m": (
        "sum by (namespace, pod, node) (rate(container_network_receive_bytes_total{$ns}[5m]))"
    ),
    "container_network_transmit_bytes_total.rate5m": (
        "sum by (namespace, pod, node) (rate(container_network_transmit_bytes_total{$ns}[5m]))"
    ),
    "http_requests_total.rate5m": (
        "sum by (namespace, pod, code) (rate(http_requests_total{$ns}[5m]))"
    ),
    "http_request_duration_seconds.p99": (
        "histogram_quantile(0.99, sum by (le, namespace, pod) "
        "(rate(http_request_duration_seconds_bucket{$ns}[5m])))"
    ),
}

#: Resolution of range queries when no ``step`` is given: a common scrape interval.
DEFAULT_STEP = pd.Timedelta(seconds=30)
#: Prometheus refuses more points per series than this in one range query.
PROMETHEUS_MAX_POINTS = 11_000

_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_TOO_MANY_SAMPLES = re.compile(r"too many samples|max.?samples|exceeded maximum resolution", re.I)


def render_query(template: str, namespaces: Sequence[str] | None) -> str:
    """Expand ``$ns`` in a query template for the given namespaces (or remove it).

    Examples
    --------
    >>> render_query('up{$ns job="x"}', ["shop", "ops"])
    'up{namespace=~"shop|ops", job="x"}'
    >>> render_query('up{$ns job="x"}', None)
    'up{job="x"}'
    >>> render_query("up{$ns}", ["shop"])
    'up{namespace=~"shop"}'
    """
    if not namespaces:
        return re.sub(r"\$ns,?\s*", "", template)
    bad = [n for n in namespaces if not isinstance(n, str) or not _NAMESPACE.fullmatch(n)]
    if bad:
        raise CollectionError(
            f"{bad[0]!r} is not a Kubernetes namespace name (lower-case letters, digits and "
            f"'-', at most 63 characters); pass namespaces=['shop', ...]"
        )
    matcher = f'namespace=~"{"|".join(namespaces)}"'
    template = re.sub(r"\$ns\s*(?=\})", lambda _: matcher, template)
    return re.sub(r"\$ns,?\s*", lambda _: matcher + ", ", template)


def to_timestamp(value: object, name: str) -> pd.Timestamp:
    """A time argument (RFC3339 text, a Timestamp or epoch seconds) as a UTC Timestamp."""
    return as_utc(value, name, error=CollectionError, epoch_seconds=True)


def step_millis(step: object) -> int:
    """A query step (a duration like ``'30s'``, or seconds) in whole milliseconds;
    :data:`DEFAULT_STEP` for ``None``.

    Examples
    --------
    >>> step_millis("1m"), step_millis(0.5), step_millis(None)
    (60000, 500, 30000)
    """
    if step is None:
        return int(DEFAULT_STEP / pd.Timedelta(milliseconds=1))
    delta = as_duration(step, "step", error=CollectionError, seconds=True)
    ms = int(delta / pd.Timedelta(milliseconds=1))
    if ms < 1:
        raise CollectionError(f"step must be at least 1ms, got {step!r}")
    return ms


def _epoch_ms(ts: pd.Timestamp) -> int:
    return ts.value // 1_000_000


def _seconds(ms: int) -> str:
    """Milliseconds as the decimal seconds Prometheus parses exactly."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}"


@dataclass(frozen=True)
class _Chunk:
    start_ms: int
    steps: int  # evaluation points in this chunk


def chunk_range(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> list[_Chunk]:
    """Cut the evaluation grid ``start + i*step <= end`` into runs of at most ``max_points``.

    Examples
    --------
    >>> [(c.start_ms, c.steps) for c in chunk_range(0, 10_000, 1000, 4)]
    [(0, 4), (4000, 4), (8000, 3)]
    """
    total = (end_ms - start_ms) // step_ms + 1
    return [
        _Chunk(start_ms + i * step_ms, min(max_points, total - i))
        for i in range(0, total, max_points)
    ]


class Prometheus:
    """A Prometheus HTTP API, queried into obskit metrics frames.

    Parameters
    ----------
    url
        Base URL, with any path prefix (``https://thanos.example/prometheus``).
    headers
        Extra headers, e.g. ``{"Authorization": "Bearer <token>"}`` or a tenant header.
    auth
        ``(user, password)`` for basic auth.
    verify
        TLS verification: True (default), or the path of a CA bundle.
    timeout
        Seconds one request may take in all, its retries and their waits included.
    retries
        Retries of a request that failed with 429, 5xx, a connection error or a cut answer.
    max_workers
        Chunk requests in flight at once for one long range.
    max_points
        Points per series per request; Prometheus refuses more than 11,000.
    max_bytes
        Largest answer read (bytes); a longer one fails rather than fill the memory.

    Examples
    --------
    >>> prom = Prometheus("http://127.0.0.1:9090", headers={"Authorization": "Bearer t0ken"})
    >>> prom
    Prometheus('http://127.0.0.1:9090', headers=['Authorization'], verify=True, timeout=60)
    >>> df = prom.query_range("up", "2024-05-14T10:00Z", "2024-05-14T11:00Z")  # doctest: +SKIP
    """

    service = "Prometheus"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | requests.auth.AuthBase | None = None,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
        *,
        retries: int = 3,
        max_workers: int = 4,
        max_points: int = PROMETHEUS_MAX_POINTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if not 1 <= max_points <= PROMETHEUS_MAX_POINTS:
            raise CollectionError(
                f"max_points must be between 1 and {PROMETHEUS_MAX_POINTS:,} (Prometheus' limit "
                f"per series), got {max_points!r}"
            )
        self.http = HttpClient(
            url,
            self.service,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=timeout,
            retries=retries,
            pool=max_workers,
            max_bytes=max_bytes,
        )
        self.url = self.http.url
        self.max_workers = max(1, int(max_workers))
        self.max_points = int(max_points)

    def __repr__(self) -> str:
        inner = repr(self.http).split(", service=")[1].split(", ", 1)[1]
        return f"{type(self).__name__}({self.url!r}, {inner}"

    # --- public queries ---------------------------------------------------------------------

    def query_range(
        self,
        promql: str,
        start: object,
        end: object,
        step: object = None,
        *,
        name: str | None = None,
    ) -> pd.DataFrame:
        """Evaluate ``promql`` at ``start, start+step, ... <= end``: an obskit metrics frame.

        Parameters
        ----------
        promql
            The expression.
        start, end
            The range (RFC3339 strings, datetimes, Timestamps or epoch seconds; naive = UTC).
        step
            Resolution (``"30s"``, ``"1m"``, seconds, a Timedelta); default :data:`DEFAULT_STEP`.
        name
            The ``metric`` of series without ``__name__`` (default: the expression).

        Raises
        ------
        CollectionError
            When Prometheus is unreachable or answers with an error (the message has the URL,
            the query and the error).

        Examples
        --------
        >>> prom = Prometheus("http://127.0.0.1:9090")
        >>> prom.query_range('rate(http_requests_total[5m])', "2024-05-14T10:00Z",
        ...                  "2024-05-14T12:00Z", step="15s")  # doctest: +SKIP
        """
        return self.query_range_result(promql, start, end, step, name=name).metrics

    def query(self, promql: str, time: object = None, *, name: str | None = None) -> pd.DataFrame:
        """Evaluate ``promql`` at one instant (default: the server's now): a metrics frame.

        Examples
        --------
        >>> Prometheus("http://127.0.0.1:9090").query("up")  # doctest: +SKIP
        """
        params = {"query": promql}
        if time is not None:
            params["time"] = _seconds(_epoch_ms(to_timestamp(time, "time")))
        origin = self.origin("query", promql)
        body = self._get("/api/v1/query", params, promql)
        return self._parse(body, origin, name or promql, promql).metrics

    def series(self, match: str | Sequence[str], start: object, end: object) -> pd.DataFrame:
        """The label sets of the series matching ``match`` in ``[start, end]``, one per row.

        Examples
        --------
        >>> Prometheus("http://127.0.0.1:9090").series('up{job="node"}', "2024-05-14T10:00Z",
        ...                                             "2024-05-14T11:00Z")  # doctest: +SKIP
        """
        matches = [match] if isinstance(match, str) else list(match)
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        params = [("match[]", m) for m in matches]
        params += [("start", _seconds(_epoch_ms(lo))), ("end", _seconds(_epoch_ms(hi)))]
        what = f"series {', '.join(matches)!r}"
        body = self._get("/api/v1/series", params, what)
        doc = self._decode(body, what)
        data = doc.get("data") or []
        frame = pd.DataFrame.from_records(data) if data else pd.DataFrame()
        return frame.reindex(sorted(frame.columns), axis=1).astype("category")

    # --- the work --------------------------------------------------------------------------

    def origin(self, endpoint: str, promql: str) -> str:
        """Where rows came from: the endpoint URL (no credentials) and the query."""
        return f"{self.url}/api/v1/{endpoint}?query={promql}"

    def query_range_result(
        self, promql: str, start: object, end: object, step: object = None, *, name=None
    ) -> ParseResult:
        """Like :meth:`query_range`, with the records, rejects and notes of the parser."""
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        if lo > hi:
            raise CollectionError(f"start {lo} is after end {hi}; swap them")
        step_ms = step_millis(step)
        chunks = chunk_range(_epoch_ms(lo), _epoch_ms(hi), step_ms, self.max_points)
        if len(chunks) == 1:
            bodies = self._fetch_chunk(promql, chunks[0], step_ms)
        else:
            workers = min(self.max_workers, len(chunks))
            failed = threading.Event()

            def fetch(chunk: _Chunk) -> list[bytes]:
                # once a chunk has failed, the chunks not started yet are not asked for (they
                # start in order, so the failure is met first when the results are read)
                if failed.is_set():
                    return []
                try:
                    return self._fetch_chunk(promql, chunk, step_ms)
                except BaseException:
                    failed.set()
                    raise

            with ThreadPoolExecutor(workers, thread_name_prefix="obskit-prom") as pool:
                parts = list(pool.map(fetch, chunks))
            bodies = [body for part in parts for body in part]
        origin = self.origin("query_range", promql)
        body = bodies[0] if len(bodies) == 1 else self._stitch(bodies, promql)
        return self._parse(body, origin, name or promql, promql)

    def _fetch_chunk(self, promql: str, chunk: _Chunk, step_ms: int) -> list[bytes]:
        """One chunk's answer(s); a chunk over the samples budget is halved and asked again."""
        params = {
            "query": promql,
            "start": _seconds(chunk.start_ms),
            "end": _seconds(chunk.start_ms + (chunk.steps - 1) * step_ms),
            "step": f"{step_ms}ms",
        }
        try:
            return [self._get("/api/v1/query_range", params, promql, split_ok=chunk.steps > 1)]
        except _TooManySamples:
            half = math.ceil(chunk.steps / 2)
            first = _Chunk(chunk.start_ms, half)
            second = _Chunk(chunk.start_ms + half * step_ms, chunk.steps - half)
            return self._fetch_chunk(promql, first, step_ms) + self._fetch_chunk(
                promql, second, step_ms
            )

    def _get(self, path: str, params, what: str, *, split_ok: bool = False) -> bytes:
        try:
            response = self.http.request(path, params, what=f"query {what!r}")
        except CollectionError as exc:
            if split_ok and _TOO_MANY_SAMPLES.search(str(exc)):
                raise _TooManySamples from exc
            raise
        return response.content

    def _decode(self, body: bytes, what: str) -> dict:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise self.http.unreadable(
                what,
                body,
                f"a body that is not JSON ({exc})",
                "check that the URL is a Prometheus API",
            ) from exc
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise CollectionError(
                self.http.redact(
                    f"{self.service} at {self.url} answered {what} with an error: "
                    f"{orjson.dumps(doc)[:300].decode('utf-8', 'replace')}"
                )
            )
        return doc

    def _stitch(self, bodies: list[bytes], promql: str) -> bytes:
        """One matrix answer from the chunks' answers: series joined by label set, in order.

        Chunks are on one step grid and do not overlap; a sample at or before the last one
        already kept for its series would be a duplicate and is dropped all the same.
        """
        series: dict[bytes, dict] = {}
        warnings: list[str] = []
        infos: list[str] = []
        for body in bodies:
            doc = self._decode(body, f"query {promql!r}")
            data = doc.get("data") or {}
            if data.get("resultType") != "matrix":
                raise CollectionError(
                    f"{self.service} at {self.url} answered a range query {promql!r} with "
                    f"resultType {data.get('resultType')!r}, not 'matrix'"
                )
            warnings += [w for w in doc.get("warnings") or [] if w not in warnings]
            infos += [i for i in doc.get("infos") or [] if i not in infos]
            for item in data.get("result") or []:
                key = orjson.dumps(item.get("metric") or {}, option=orjson.OPT_SORT_KEYS)
                kept = series.get(key)
                if kept is None:
                    series[key] = {
                        k: list(v) if isinstance(v, list) else v for k, v in item.items()
                    }
                    continue
                for field in ("values", "histograms"):
                    new = item.get(field) or []
                    if not new:
                        continue
                    old = kept.setdefault(field, [])
                    last = old[-1][0] if old else -math.inf
                    old.extend(p for p in new if p[0] > last)
        doc = {
            "status": "success",
            "data": {"resultType": "matrix", "result": list(series.values())},
        }
        if warnings:
            doc["warnings"] = warnings
        if infos:
            doc["infos"] = infos
        return orjson.dumps(doc)

    def _parse(self, body: bytes, origin: str, name: str, promql: str) -> ParseResult:
        if looks_like_html(body):  # a proxy's or a sign-in page: say so, not a parser error
            raise self.http.unreadable(f"query {promql!r}", body, "HTML", "")
        try:
            return parse_prometheus_json(body, origin=origin, query=name)
        except FormatError as exc:
            raise CollectionError(
                self.http.redact(
                    f"{self.service} at {self.url} answered query {promql!r} with something "
                    f"obskit cannot read: {exc}"
                )
            ) from exc


class _TooManySamples(Exception):
    """A chunk went over the server's samples budget: ask for it in halves."""
