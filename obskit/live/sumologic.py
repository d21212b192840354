"""A live Sumo Logic client: the Search Job API and the Metrics Query API into obskit frames.

A search runs as a job (``POST /api/v1/search/jobs`` with the query, the window in epoch
milliseconds and ``timeZone`` UTC); its state is polled (``NOT STARTED``, ``GATHERING
RESULTS``, ``DONE GATHERING RESULTS``, ``FORCE PAUSED``, ``CANCELLED``); its messages and, for
an aggregate query, its records are paged with ``offset`` and ``limit`` (at most 10,000 a page);
and the job is deleted at the end, also when anything failed, so that it does not count against
the organisation's 200 concurrent jobs. The job is tied to the cookies of its first answer: one
``requests`` session (per thread) carries them, as the API requires.

What a job could not return is written in :attr:`SumoLogic.gaps`, never lost silently: a job
that Sumo Logic paused at its message limit (``FORCE PAUSED``, around 100,000 messages for a
non-aggregate search; a job searches from the window's end backwards, so the older part of the
window is what is missing), aggregate records at the tier's cap (100,000, or 10 million on the
Continuous tier), a job still gathering when ``job_timeout`` ran out, and the job's warnings.

Rate limits (4 requests a second per user, 10 concurrent per access key, HTTP 429) are retried
with backoff, honouring ``Retry-After``, by :mod:`obskit.live._http`. The access ID and key are
read from environment variables and never shown.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence

import orjson
import pandas as pd

from obskit import schema
from obskit.errors import CollectionError, FormatError
from obskit.live._http import MAX_BYTES, TIMEOUT, HttpClient
from obskit.live.prometheus import to_timestamp
from obskit.sources._base import ParseResult
from obskit.sources.sumologic import parse_sumo_messages, parse_sumo_metrics, parse_sumo_records

__all__ = ["SumoLogic"]

#: Messages or records per page: the Search Job API's largest ``limit``.
MAX_PAGE = 10_000
#: Around this many messages, Sumo Logic pauses a non-aggregate search job (FORCE PAUSED).
MESSAGE_LIMIT = 100_000
#: The most records an aggregate search returns, by data tier (Frequent/Infrequent, Continuous).
RECORD_LIMITS = (100_000, 10_000_000)
#: Job states in which the job gathers no more.
_FINISHED = ("DONE GATHERING RESULTS", "FORCE PAUSED", "CANCELLED")


def _secret(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CollectionError(
            f"Sumo Logic: the {what} is read from the environment variable {name!r}, which is not "
            f"set; export it (an access key made under Administration > Security > Access Keys)"
        )
    return value


class SumoLogic:
    """A Sumo Logic deployment's APIs, queried into obskit frames.

    Parameters
    ----------
    endpoint
        The deployment's API endpoint (``https://api.sumologic.com``,
        ``https://api.us2.sumologic.com`` ...); an HTTP 301 means another deployment.
    access_id_env, access_key_env
        Names of the environment variables holding the access ID and access key.
    scope
        The search's keyword expression before the namespace condition that :func:`collect`
        adds (``_sourceCategory=kubernetes/*``, ``cluster=prod``); ``*`` searches everything.
    metrics
        Metric name -> Sumo Logic metrics query, read by :func:`collect` through the Metrics
        Query API (``{"memory": "metric=container_memory_working_set_bytes namespace=shop"}``).
    quantization
        The metrics' resolution (seconds) and ``rollup`` their aggregation within it.
    page_size
        Messages or records per page (at most 10,000).
    poll_every
        Seconds between two polls of a job's state.
    job_timeout
        Seconds a search job may gather before what it found is read (the rest is a gap).
    verify, timeout, retries, max_bytes
        As for :class:`obskit.Loki` (``timeout`` is per request, its retries included).

    Examples
    --------
    >>> import os
    >>> os.environ["SUMO_ACCESS_ID"], os.environ["SUMO_ACCESS_KEY"] = "suABC", "secret"
    >>> sumo = SumoLogic("https://api.us2.sumologic.com")
    >>> sumo
    SumoLogic('https://api.us2.sumologic.com', scope='*')
    >>> sumo.scoped(["shop", "cart"])
    '* (namespace=shop or namespace=cart)'
    """

    service = "Sumo Logic"

    def __init__(
        self,
        endpoint: str,
        access_id_env: str = "SUMO_ACCESS_ID",
        access_key_env: str = "SUMO_ACCESS_KEY",
        *,
        scope: str = "*",
        metrics: Mapping[str, str] | None = None,
        quantization: float = 60,
        rollup: str = "Avg",
        page_size: int = MAX_PAGE,
        poll_every: float = 2.0,
        job_timeout: float = 600.0,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
        retries: int = 5,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise CollectionError(f"page_size must be a whole number, got {page_size!r}")
        if not 1 <= page_size <= MAX_PAGE:
            raise CollectionError(
                f"page_size must be between 1 and {MAX_PAGE:,} (the Search Job API's largest "
                f"limit), got {page_size!r}"
            )
        if rollup not in ("Avg", "Sum", "Min", "Max", "Count", "None"):
            raise CollectionError(
                f"rollup must be one of Avg, Sum, Min, Max, Count, None, got {rollup!r}"
            )
        if not isinstance(scope, str) or not scope.strip():
            raise CollectionError(f"scope must be a search expression such as '*', got {scope!r}")
        url = endpoint.rstrip("/")
        for suffix in ("/api/v1", "/api"):
            url = url.removesuffix(suffix)
        self.http = HttpClient(
            url,
            self.service,
            auth=(
                _secret(access_id_env, "access ID"),
                _secret(access_key_env, "access key"),
            ),
            verify=verify,
            timeout=timeout,
            retries=retries,
            pool=1,
            max_bytes=max_bytes,
        )
        self.url = self.http.url
        self.scope = scope
        self.metrics = dict(metrics or {})
        self.quantization = quantization
        self.rollup = rollup
        self.page_size = page_size
        self.poll_every = poll_every
        self.job_timeout = job_timeout
        self.pages = 0  # requests of the last search, for progress and tests
        self.gaps: list[str] = []  # what the last search or metrics query could not read

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, scope={self.scope!r})"

    def origin(self, query: str, api: str = "search") -> str:
        """Where rows came from: the endpoint (no credentials), the API and the query."""
        path = "/api/v1/metricsQueries" if api == "metrics" else "/api/v1/search/jobs"
        return f"{self.url}{path}?query={query}"

    def scoped(self, namespaces: Sequence[str] | None) -> str:
        """The search for :func:`collect`: :attr:`scope` and, when given, the namespaces."""
        if not namespaces:
            return self.scope
        for name in namespaces:
            if not isinstance(name, str) or not name.replace("-", "").isalnum():
                raise CollectionError(f"namespace names are letters, digits and '-', got {name!r}")
        either = " or ".join(f"namespace={name}" for name in namespaces)
        return f"{self.scope} ({either})"

    # --- Search Job API ---------------------------------------------------------------------

    def search(self, query: str, start: object, end: object) -> pd.DataFrame:
        """The logs of a search over ``[start, end]``: see :meth:`search_result`.

        Examples
        --------
        >>> SumoLogic("https://api.sumologic.com").search(
        ...     "namespace=shop error", "2024-05-14T10:00Z", "2024-05-14T11:00Z")  # doctest: +SKIP
        """
        return self.search_result(query, start, end).logs

    def search_result(
        self,
        query: str,
        start: object,
        end: object,
        *,
        by_receipt_time: bool = False,
        on_page: Callable[[int], None] | None = None,
    ) -> ParseResult:
        """Run ``query`` as a search job over ``[start, end]``: its messages as logs and events,
        its records (an aggregate query) as metrics, then delete the job.

        Raises
        ------
        CollectionError
            When Sumo Logic refuses the job or a request, the job is cancelled, or it reports
            errors.
        """
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        if lo > hi:
            raise CollectionError(f"start {lo} is after end {hi}; swap them")
        if not isinstance(query, str) or not query.strip():
            raise CollectionError(f"query must be a Sumo Logic search, got {query!r}")
        self.gaps = []
        self.pages = 0
        job = self._create(query, lo, hi, by_receipt_time)
        try:
            status = self._wait(job, query)
            messages = self._page(job, "messages", int(status.get("messageCount") or 0), on_page)
            records = int(status.get("recordCount") or 0)
            rows = self._page(job, "records", records, None) if records else []
        finally:
            self._delete(job)
        return self._frames(query, lo, hi, status, messages, rows)

    def _create(self, query: str, lo: pd.Timestamp, hi: pd.Timestamp, receipt: bool) -> str:
        body = {
            "query": query,
            "from": str(lo.value // 1_000_000),
            # one millisecond past the end: the window's end is kept whether Sumo Logic's "to"
            # is inclusive or not (its documentation does not say)
            "to": str(hi.value // 1_000_000 + 1),
            "timeZone": "UTC",
            "byReceiptTime": receipt,
        }
        answer = self._json("/api/v1/search/jobs", f"create a search job for {query!r}", body)
        job = answer.get("id")
        if not isinstance(job, str) or not job:
            raise CollectionError(
                f"Sumo Logic at {self.url} created no search job (answer keys "
                f"{sorted(answer)[:6]}); check that the endpoint is the API's"
            )
        return job

    def _wait(self, job: str, query: str) -> dict:
        """Poll the job until it gathers no more, or until ``job_timeout`` (a gap)."""
        ends = time.monotonic() + self.job_timeout
        while True:
            status = self._json(f"/api/v1/search/jobs/{job}", "the search job's state", None, "GET")
            errors = status.get("pendingErrors") or []
            if errors:
                raise CollectionError(
                    f"Sumo Logic search job for {query!r} failed: {'; '.join(map(str, errors))}; "
                    f"fix the query"
                )
            self.gaps += [f"Sumo Logic warned: {w}" for w in status.get("pendingWarnings") or []]
            state = status.get("state")
            if state == "CANCELLED":
                raise CollectionError(
                    f"Sumo Logic cancelled the search job for {query!r} (by a user, or for "
                    f"inactivity); run it again, or search a narrower window"
                )
            if state in _FINISHED:
                return status
            if time.monotonic() >= ends:
                self.gaps.append(
                    f"the search job was still {state!r} after job_timeout={self.job_timeout}s "
                    f"with {status.get('messageCount', 0):,} messages found; they were read, "
                    f"and the part of the window not searched yet (its older part) is missing"
                )
                return status
            time.sleep(self.poll_every)

    def _page(self, job: str, what: str, count: int, on_page: Callable[[int], None] | None) -> list:
        """All ``count`` messages or records of the job, a page at a time."""
        items: list = []
        while len(items) < count:
            limit = min(self.page_size, count - len(items))
            answer = self._json(
                f"/api/v1/search/jobs/{job}/{what}",
                f"the search job's {what} from {len(items)}",
                None,
                "GET",
                params={"offset": len(items), "limit": limit},
            )
            page = answer.get(what)
            if not isinstance(page, list):
                raise CollectionError(
                    f"Sumo Logic at {self.url} answered the {what} of a search job without a "
                    f"{what!r} list (keys {sorted(answer)[:6]})"
                )
            self.pages += 1
            if not page:
                self.gaps.append(
                    f"Sumo Logic answered {len(items):,} of the {count:,} {what} its job counted"
                )
                break
            items += page
            if on_page is not None:
                on_page(len(page))
        return items

    def _delete(self, job: str) -> None:
        try:
            self.http.request(
                f"/api/v1/search/jobs/{job}", {}, what="delete the search job", method="DELETE"
            )
        except CollectionError as exc:
            self.gaps.append(
                f"the search job {job} could not be deleted ({exc}); Sumo Logic ends it when it "
                f"is no longer polled"
            )

    def _frames(
        self,
        query: str,
        lo: pd.Timestamp,
        hi: pd.Timestamp,
        status: dict,
        messages: list,
        records: list,
    ) -> ParseResult:
        origin = self.origin(query)
        try:
            result = parse_sumo_messages({"messages": messages}, origin)
            if records:
                aggregate = parse_sumo_records({"records": records}, origin, end=hi)
                result.metrics = aggregate.metrics
                result.records += aggregate.records
                result.rejects = schema.concat("rejects", [result.rejects, aggregate.rejects])
                result.notes += aggregate.notes
                result.stamped.update(aggregate.stamped)
        except FormatError as exc:
            raise CollectionError(self.http.redact(f"Sumo Logic at {self.url}: {exc}")) from exc
        if status.get("state") == "FORCE PAUSED":
            logs = result.logs
            oldest = logs["timestamp"].min() if logs is not None and len(logs) else None
            missing = f"between {lo} and {oldest}" if oldest is not None else "of the window"
            self.gaps.append(
                f"Sumo Logic paused the search job at its message limit (around "
                f"{MESSAGE_LIMIT:,} for a non-aggregate search) with {len(messages):,} messages: "
                f"it searches newest first, so the messages {missing} are missing; collect a "
                f"narrower window or split it"
            )
        if len(records) in RECORD_LIMITS:
            self.gaps.append(
                f"the search returned {len(records):,} records, a Sumo Logic cap on aggregate "
                f"results: more may exist; aggregate more coarsely or narrow the window"
            )
        return result

    # --- Metrics Query API ------------------------------------------------------------------

    def metrics_result(
        self, query: str, start: object, end: object, *, name: str | None = None
    ) -> ParseResult:
        """Run a metrics query over ``[start, end]`` (``POST /api/v1/metricsQueries``): one
        metrics row per point, named ``name`` (default: the series' metric).

        Examples
        --------
        >>> SumoLogic("https://api.sumologic.com").metrics_result(
        ...     "metric=container_memory_working_set_bytes namespace=shop",
        ...     "2024-05-14T10:00Z", "2024-05-14T11:00Z", name="memory")  # doctest: +SKIP
        """
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        if lo > hi:
            raise CollectionError(f"start {lo} is after end {hi}; swap them")
        self.gaps = []
        body = {
            "queries": [
                {
                    "rowId": "A",
                    "query": query,
                    "quantization": int(self.quantization * 1000),
                    "rollup": self.rollup,
                    "timeshift": 0,
                }
            ],
            "timeRange": {
                "type": "BeginBoundedTimeRange",
                "from": {"type": "EpochTimeRangeBoundary", "epochMillis": lo.value // 1_000_000},
                "to": {"type": "EpochTimeRangeBoundary", "epochMillis": hi.value // 1_000_000},
            },
        }
        answer = self._json("/api/v1/metricsQueries", f"metrics query {query!r}", body)
        try:
            result = parse_sumo_metrics(answer, self.origin(query, "metrics"), name=name)
        except FormatError as exc:
            raise CollectionError(self.http.redact(f"Sumo Logic at {self.url}: {exc}")) from exc
        self.gaps += result.notes
        return result

    # --- requests ---------------------------------------------------------------------------

    def _json(
        self,
        path: str,
        what: str,
        body: dict | None,
        method: str | None = None,
        *,
        params: Mapping[str, object] | None = None,
    ) -> dict:
        response = self.http.request(
            path, dict(params or {}), what=what, method=method, json=body, fix=_fix
        )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise self.http.unreadable(
                what,
                response.content,
                f"a body that is not JSON ({exc})",
                "check that the endpoint is the deployment's API (https://api.<deployment>."
                "sumologic.com)",
            ) from exc
        if not isinstance(answer, dict):
            raise CollectionError(
                f"Sumo Logic at {self.url} answered {what} with a JSON {type(answer).__name__}"
            )
        return answer


def _fix(status: int, body: str) -> str | None:
    """Advice for Sumo Logic's error answers, by their codes."""
    if status == 301:
        return "this is not your deployment's endpoint: use the one in the Location header"
    if "jobid.invalid" in body or (status == 404 and "search/jobs" in body):
        return "the search job is gone (cancelled for inactivity, or cookies not kept); run again"
    if status == 429:
        return (
            "Sumo Logic's rate limit (4 requests a second, 10 at once per access key, 200 "
            "search jobs per organisation): wait, or run fewer searches at once"
        )
    if "parse.error" in body or "no.query" in body:
        return "fix the search query"
    return None
