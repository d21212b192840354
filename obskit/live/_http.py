"""One HTTP helper for the live sources: a deadline on every call, retries with backoff, a cap on
the size of answers, TLS verification on by default, and credentials that never leave the request.

One request, its retries and the reading of its answer end within its ``timeout`` (a total
deadline, not a time per read): a server that trickles its answer a byte a second, sends without
end, or asks to be retried later than the deadline allows does not hold the caller past it. The
deadline is kept by :func:`cut_at`, which shuts the sockets of the request when it passes (the
``(connect, read)`` timeouts of ``requests`` and urllib3 bound one wait for bytes, not an answer),
and an answer is read in pieces up to ``max_bytes``.

Credentials (an ``Authorization`` or other header, a basic-auth pair, a ``user:password@`` in the
URL) are kept out of ``repr()``, log records and error messages: the URL shown anywhere is the
base URL without its userinfo, and any secret value that still shows up in a server's answer is
replaced by ``***`` before it is put in a message.

Retried, with exponential backoff and jitter, while the deadline allows: connection errors,
connections dropped before the answer, HTTP 429 and every 5xx (honouring ``Retry-After``, in
seconds or as an HTTP date), and answers cut short. Not retried: a read timeout (the server is
working on it; asking again only adds load), a TLS failure and other 4xx answers (asking again
gives the same answer). One urllib3 :class:`RetryPolicy` (:func:`retry_policy`) does it, in
requests' sessions and in the Kubernetes client's configuration alike; only an answer cut short
while its body is read (after urllib3 has handed it over) is asked again by :func:`retrying`,
which counts and waits with the same policy.

The Kubernetes client (:mod:`obskit.live.kubernetes`) shares the deadline, the retry policy and
the body reading; only how a request is sent differs.
"""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import math
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from obskit.errors import CollectionError, ResponseTooLargeError

__all__ = [
    "Deadline",
    "HttpClient",
    "Retry",
    "RetryPolicy",
    "backoff_delay",
    "cut_at",
    "error_reason",
    "read_capped",
    "redact",
    "retry_after",
    "retry_policy",
    "safe_url",
]

log = logging.getLogger("obskit.live")

#: Default total time of one request, its retries included, in seconds.
TIMEOUT = 60
#: Default largest answer read, in bytes (a decoded body; a range query of a few hundred series
#: at a fine step is tens of MB).
MAX_BYTES = 256 * 2**20
#: Above this length of URL-encoded parameters a request goes as a form POST (long selectors).
POST_OVER = 2000
#: How much of an error body goes into an error message.
BODY_EXCERPT = 300
#: How much of an error answer is read to make that excerpt.
ERROR_BYTES = 64 * 2**10
#: Size of the pieces an answer is read in.
CHUNK = 64 * 2**10
#: Answers asked again: rate limiting and every server error (another try may be answered).
RETRY_STATUS = frozenset({429, *range(500, 600)})
#: Longest backoff between two attempts, in seconds: a server still failing after that long is
#: down, not busy, and waiting longer only uses up the request's timeout. A ``Retry-After``
#: has no cap of its own but the deadline: a wait past it is not waited for, and the error says
#: when the server asked to be asked again.
BACKOFF_MAX = 10.0

T = TypeVar("T")


def safe_url(url: str) -> str:
    """``url`` without ``user:password@``, without query string or fragment, no trailing ``/``.

    Examples
    --------
    >>> safe_url("https://admin:s3cret@prom.example:9090/prometheus/?x=1")
    'https://prom.example:9090/prometheus'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``.

    Examples
    --------
    >>> redact("401 for token abc123", ["abc123"])
    '401 for token ***'
    """
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def secret_forms(value: str) -> list[str]:
    """A secret as a server may echo it: as is, each word (``Bearer <token>``), URL-encoded."""
    forms = [value, *value.split()]
    return forms + [quote(f, safe="") for f in forms if quote(f, safe="") != f]


def backoff_delay(attempt: int, base: float, cap: float = BACKOFF_MAX) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): exponential, capped, with jitter
    (half the delay to the whole of it, so that clients that failed together spread out)."""
    delay = min(cap, base * 2**attempt)
    return delay * (0.5 + random.random() / 2)


def retry_after(value: object) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None; read by
    urllib3's parser, as :class:`RetryPolicy` reads it.

    Examples
    --------
    >>> retry_after("120")
    120.0
    >>> retry_after("Wed, 21 Oct 2015 07:28:00 GMT")  # a date in the past: at once
    0.0
    >>> retry_after("soon") is None
    True
    """
    if not value:
        return None
    try:
        return float(_PARSER.parse_retry_after(str(value).strip()))
    except urllib3.exceptions.InvalidHeader:
        return None


@dataclass
class Deadline:
    """The moment one request, its retries included, must be over (``time.monotonic``).

    Examples
    --------
    >>> d = Deadline(60)
    >>> 59 < d.left() <= 60 and not d.expired
    True
    """

    timeout: float
    at: float = field(init=False)
    cut: bool = field(default=False, init=False)  # set when cut_at shut the sockets
    #: attempts made so far (counted by :class:`RetryPolicy`)
    attempts: int = field(default=1, init=False)
    #: the wait that did not fit before the deadline, and whether the server asked for it
    gave_up: tuple[float, bool] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.at = time.monotonic() + self.timeout

    def left(self) -> float:
        """Seconds left, never below a millisecond (urllib3 refuses a timeout of 0)."""
        return max(0.001, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed (or its sockets were shut)."""
        return self.cut or time.monotonic() >= self.at

    def explain(self, message: str) -> str:
        """``message`` with why no other attempt was made, when the deadline stopped it."""
        if self.gave_up is None:
            return message
        wait, asked = self.gave_up
        if asked:
            return f"{message}; {self.retry_after_message(wait)}"
        return f"{message} (no time left for another attempt within timeout={self.timeout}s)"

    def retry_after_message(self, wait: float) -> str:
        """Why a retry ``wait`` seconds away cannot happen, and when to try again."""
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=wait)
        return (
            f"it asks to be retried in {wait:.0f}s (after {when:%Y-%m-%d %H:%M:%S} UTC), more "
            f"than the {self.left():.1f}s left of timeout={self.timeout}s; collect again after "
            f"that time, or raise timeout= above {wait:.0f}"
        )


# --- the deadline on sockets -------------------------------------------------------------------

_local = threading.local()


class _Cutter:
    """Shuts the sockets registered by one request when its deadline passes."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.connections: list[Any] = []
        self.lock = threading.Lock()
        self.done = False

    def add(self, connection: Any) -> None:
        with self.lock:
            self.connections.append(connection)

    def cut(self) -> None:
        with self.lock:
            if self.done:
                return
            self.deadline.cut = True
            for connection in self.connections:
                sock = getattr(connection, "sock", None)
                with contextlib.suppress(OSError, AttributeError):
                    # shutdown (not close) wakes a thread blocked reading this socket
                    sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self.lock:
            self.done = True


@contextlib.contextmanager
def cut_at(deadline: Deadline) -> Iterator[None]:
    """Shut the sockets this thread sends requests on (through pools set up by :func:`watch`)
    when ``deadline`` passes, so that no read outlives it; a read then fails at once."""
    cutter = _Cutter(deadline)
    outer = getattr(_local, "cutter", None)
    _local.cutter = cutter
    timer = threading.Timer(max(0.0, deadline.at - time.monotonic()), cutter.cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        cutter.finish()
        timer.cancel()
        _local.cutter = outer


def current_deadline() -> Deadline | None:
    """The deadline of the :func:`cut_at` this thread runs in, if any."""
    cutter = getattr(_local, "cutter", None)
    return cutter.deadline if cutter is not None else None


@cache
def _watched(pool_cls: type) -> type:
    """A subclass of a urllib3 pool whose connections register with the running :func:`cut_at`."""
    base = pool_cls.ConnectionCls

    def request(self, *args: Any, **kwargs: Any) -> None:
        cutter = getattr(_local, "cutter", None)
        if cutter is not None:
            cutter.add(self)
        base.request(self, *args, **kwargs)

    connection = type(f"Watched{base.__name__}", (base,), {"request": request})
    return type(f"Watched{pool_cls.__name__}", (pool_cls,), {"ConnectionCls": connection})


def watch(manager: urllib3.PoolManager) -> None:
    """Make the connections of ``manager`` (requests', or the kubernetes client's) register with
    the :func:`cut_at` of the thread that uses them."""
    manager.pool_classes_by_scheme = {
        scheme: _watched(cls) for scheme, cls in manager.pool_classes_by_scheme.items()
    }


class _Adapter(HTTPAdapter):
    """requests' adapter with pools under :func:`cut_at`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        watch(self.poolmanager)


# --- reading answers and retrying ---------------------------------------------------------------


def read_capped(
    pieces: Iterable[bytes], cap: int, length: object = None, *, truncate: bool = False
) -> bytes:
    """The answer read from ``pieces``; :class:`ResponseTooLargeError` past ``cap`` bytes (or, with
    ``truncate``, its first ``cap`` bytes). ``length`` is its ``Content-Length``, if any."""
    announced = int(length) if str(length or "").isdigit() else None
    if announced is not None and announced > cap and not truncate:
        raise ResponseTooLargeError(announced, cap)
    body = bytearray()
    for piece in pieces:
        body += piece
        if len(body) > cap:
            if truncate:
                return bytes(body[:cap])
            raise ResponseTooLargeError(announced, cap)
    return bytes(body)


def too_large(cap: int, size: int | None) -> str:
    """The part of a message for an answer over ``max_bytes``."""
    got = f"{size:,} bytes" if size is not None else f"more than {cap:,} bytes"
    return f"with {got}, over max_bytes={cap}"


@dataclass(frozen=True)
class Retry:
    """A failed attempt that may be tried again: ``reason`` for the log, ``final(attempts)`` the
    error message when it is not, ``wait`` a delay the server asked for (Retry-After)."""

    reason: str
    final: Callable[[int], str]
    wait: float | None = None
    cause: BaseException | None = None


class RetryPolicy(urllib3.util.Retry):
    """urllib3's ``Retry``, kept within the deadline of the request it retries.

    It runs inside :func:`cut_at`: each failed attempt is counted on that
    :class:`Deadline` (``attempts``), and a retry whose wait (the server's ``Retry-After``,
    else :func:`backoff_delay`) would end past the deadline is not made: the attempt's own
    error or answer is what the caller gets, and ``Deadline.gave_up`` says why. A read timeout
    is not retried (the server is working on it). Outside a deadline (a watch stream, which
    reconnects on its own) nothing is retried.
    """

    #: the wait this retry sleeps before its attempt, fixed when it was made
    planned: float | None = None

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> RetryPolicy:
        deadline = current_deadline()
        if deadline is not None and isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise error
        if deadline is None or deadline.expired:
            return _NO_RETRY.increment(method, url, response, error, _pool, _stacktrace)
        deadline.attempts = len(self.history) + 1
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        wait, asked = retry._wait(response)
        if wait >= deadline.left():
            deadline.gave_up = (wait, asked)
            reason = error or urllib3.exceptions.ResponseError(f"no time left to wait {wait:.1f}s")
            raise urllib3.exceptions.MaxRetryError(_pool, url, reason) from error
        retry.planned = wait
        left = retry.total if isinstance(retry.total, int) else 0
        failed = f"HTTP {response.status}" if response is not None else str(error)
        log.warning(
            "%s: %s; retrying in %.1fs (attempt %d of %d)",
            url,
            failed,
            wait,
            deadline.attempts,
            deadline.attempts + 1 + left,
        )
        return retry

    def _wait(self, response: Any) -> tuple[float, bool]:
        """Seconds before the next attempt, and whether the server asked for them."""
        if self.respect_retry_after_header and response is not None:
            asked = retry_after(response.headers.get("Retry-After"))
            if asked is not None:
                return asked, True
        return self.get_backoff_time(), False

    def get_backoff_time(self) -> float:
        """:func:`backoff_delay` for the failures in a row so far (the first retry waits too)."""
        return backoff_delay(max(0, len(self.history) - 1), self.backoff_factor, self.backoff_max)

    def sleep(self, response: Any = None) -> None:
        """Wait the time fixed when this retry was made."""
        time.sleep(self.planned if self.planned is not None else self._wait(response)[0])


#: What a request outside any deadline gets: no retry (the error, or the answer, as it is).
_NO_RETRY = urllib3.util.Retry(0, raise_on_status=False)
#: Reads ``Retry-After`` values for :func:`retry_after` (urllib3's parser, seconds or a date).
_PARSER = urllib3.util.Retry(retry_after_max=2**31)


def retry_policy(retries: int, backoff: float) -> RetryPolicy:
    """The retry policy of the live sources: ``retries`` more attempts at most, the first
    ``backoff`` seconds later (doubled each time, with jitter, at most :data:`BACKOFF_MAX`).

    Retried: connection errors, connections dropped before an answer, :data:`RETRY_STATUS`
    answers (after their ``Retry-After``), for every method (obskit's POSTs are queries). Not
    retried: read timeouts, TLS failures and other errors.

    Examples
    --------
    >>> policy = retry_policy(3, 0.5)
    >>> policy.total, policy.is_retry("POST", 503), policy.is_retry("GET", 404)
    (3, True, False)
    """
    return RetryPolicy(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUS,
        backoff_factor=backoff,
        backoff_max=BACKOFF_MAX,
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
    )


def retrying(
    attempt: Callable[[], T | Retry],
    deadline: Deadline,
    *,
    retries: int,
    backoff: float,
    where: str,
    hide: Callable[[str], str],
) -> T:
    """Run ``attempt`` until it returns a result, at most ``retries`` more times, within
    ``deadline``, counting and waiting with :func:`retry_policy`: for what urllib3 cannot ask
    again itself (an answer cut short while its body is read). A retry that cannot start
    before the deadline is not waited for: the last failure is raised at once (with when to
    retry, when the server asked for a wait). ``hide`` takes the secrets out of messages."""
    policy = retry_policy(retries, backoff)
    with contextlib.ExitStack() as stack:
        if current_deadline() is not deadline:
            stack.enter_context(cut_at(deadline))
        while True:
            outcome = attempt()
            if not isinstance(outcome, Retry):
                return outcome
            asked, error = None, urllib3.exceptions.ProtocolError(hide(outcome.reason))
            if outcome.wait is not None:  # the server's Retry-After, as urllib3 reads it
                asked = urllib3.HTTPResponse(
                    status=503, headers={"Retry-After": str(math.ceil(outcome.wait))}
                )
                error = None
            deadline.gave_up = None
            try:
                policy = policy.increment("GET", hide(where), response=asked, error=error)
            except urllib3.exceptions.MaxRetryError:
                message = hide(outcome.final(deadline.attempts))
                raise CollectionError(deadline.explain(message)) from outcome.cause
            policy.sleep()


_SIGN_IN = re.compile(
    r"sign[ -]?in|log[ -]?in|single sign|\bsso\b|oauth|openid|saml|password|authenticat", re.I
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def looks_like_html(body: bytes) -> bool:
    """Whether an answer is an HTML page (a proxy's, a sign-in page, a web UI), not an API's."""
    head = body[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta"))


def describe_html(body: bytes, service: str, how: str | None = None) -> tuple[str, str | None]:
    """What an HTML answer is (``an HTML sign-in page titled '...'``), and the fix when it is a
    sign-in page (a proxy or SSO in the way); ``how`` says how to get past it."""
    found = _TITLE.search(body[:ERROR_BYTES])
    title = html.unescape(found.group(1).decode("utf-8", "replace")).strip()[:80] if found else ""
    titled = f" titled {title!r}" if title else ""
    if not _SIGN_IN.search(body[:ERROR_BYTES].decode("utf-8", "replace")):
        return f"an HTML page{titled}", None
    how = how or (
        f"pass the credentials it expects (headers={{'Authorization': ...}}), or point the URL "
        f"at {service}'s API behind it"
    )
    return (
        f"an HTML sign-in page{titled}",
        f"a proxy or single sign-on (SSO) gate stands in front of {service}: {how}",
    )


def excerpt(body: bytes) -> str:
    """The start of an answer, as text for a message."""
    return body.decode("utf-8", "replace").strip()[:BODY_EXCERPT]


class HttpClient:
    """A ``requests.Session`` bound to one base URL, with a deadline, retries and hidden secrets.

    Parameters
    ----------
    url
        Base URL of the service (``https://prometheus.example:9090``); a ``user:password@`` in
        it is used as basic auth and removed from the URL.
    service
        What the service is, for messages (``"Prometheus"``, ``"Loki"``).
    headers
        Extra request headers (``Authorization``, ``X-Scope-OrgID`` ...). Their values are
        treated as secrets.
    auth
        ``(user, password)`` for basic auth, or any ``requests`` auth object.
    verify
        TLS verification: True (default), a CA bundle path, or False (not recommended).
    timeout
        Seconds one request may take in all: connecting, waiting, reading the answer, and the
        retries with their waits.
    retries
        How many times a retryable failure is retried (within ``timeout``).
    backoff
        First backoff delay in seconds (doubled at each retry, with jitter; see
        :func:`retry_policy`).
    pool
        Connections kept open (the concurrency of the callers).
    max_bytes
        Largest answer read; a longer one fails (it would only fill the memory).

    Examples
    --------
    >>> c = HttpClient("http://u:pw@127.0.0.1:9", "Prometheus", headers={"Authorization": "x y"})
    >>> c
    HttpClient('http://127.0.0.1:9', service='Prometheus', headers=['Authorization'], auth=<hidden>, verify=True, timeout=60)
    """  # noqa: E501

    def __init__(
        self,
        url: str,
        service: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | requests.auth.AuthBase | None = None,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
        retries: int = 3,
        backoff: float = 0.5,
        pool: int = 4,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise CollectionError(
                f"{service} URL must start with http:// or https://, got {url!r:.80}; "
                f"pass e.g. 'http://prometheus.monitoring:9090'"
            )
        check_limits(service, timeout, max_bytes)
        if isinstance(verify, str) and not os.path.exists(verify):
            raise CollectionError(
                f"{service}: verify={verify!r} is not a CA bundle file or folder that exists; "
                f"pass the path of the CA that signed the server's certificate (a .pem file)"
            )
        parts = urlsplit(url)
        self.service = service
        self.url = safe_url(url)
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff = backoff
        self.verify = verify
        self.max_bytes = int(max_bytes)
        self._headers = dict(headers or {})
        if parts.username is not None and auth is None:
            from urllib.parse import unquote

            auth = (unquote(parts.username), unquote(parts.password or ""))
        self._auth = auth
        self._secrets: list[str] = []
        for value in self._headers.values():
            self._secrets += secret_forms(value)  # "Bearer <token>": the token alone too
        if isinstance(auth, tuple):
            for value in auth[1:]:
                self._secrets += secret_forms(str(value))
            # what goes on the wire: "Basic base64(user:password)"
            pair = ":".join(str(a) for a in auth).encode("latin-1", "replace")
            self._secrets.append(base64.b64encode(pair).decode())
        elif auth is not None:
            self._secrets += [str(v) for v in vars(auth).values() if isinstance(v, str | bytes)]
        if parts.password:
            self._secrets.append(parts.password)
        self._pool = pool
        self._local = threading.local()

    def __repr__(self) -> str:
        headers = f", headers={sorted(self._headers)!r}" if self._headers else ""
        auth = ", auth=<hidden>" if self._auth is not None else ""
        return (
            f"HttpClient({self.url!r}, service={self.service!r}{headers}{auth}, "
            f"verify={self.verify!r}, timeout={self.timeout!r})"
        )

    def __getstate__(self) -> None:
        raise TypeError(f"{type(self).__name__} holds credentials and cannot be pickled")

    @property
    def secrets(self) -> list[str]:
        """The secret values to keep out of messages (for other modules' messages)."""
        return list(self._secrets)

    def _session(self) -> requests.Session:
        # One session per thread: requests does not promise that a Session is thread-safe.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = _Adapter(pool_connections=1, pool_maxsize=self._pool)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(self._headers)
            session.auth = self._auth
            session.verify = self.verify
            session.trust_env = False  # no netrc credentials or proxies picked up silently
            self._local.session = session
        return session

    def redact(self, text: str) -> str:
        """``text`` without any of this client's secret values."""
        return redact(text, self._secrets)

    def request(
        self,
        path: str,
        params: Mapping[str, Any] | list[tuple[str, Any]],
        *,
        what: str,
        method: str | None = None,
        fix: Callable[[int, str], str | None] | None = None,
        json: object = None,
    ) -> requests.Response:
        """Send one request to ``url + path``, retrying what is retryable; return a 2xx answer
        whose body is read (``.content``), all within ``timeout``.

        ``what`` names the request in messages (the query). ``method`` is GET, or POST when the
        encoded parameters are longer than :data:`POST_OVER`. ``fix(status, body)`` can give
        the advice for an error answer. ``json``, when given, is sent as the JSON body
        (``method`` defaults to POST then; the parameters stay in the URL), as search APIs such
        as Elasticsearch's take their query.

        Raises
        ------
        CollectionError
            On a non-2xx answer, a timeout, an answer over ``max_bytes``, a TLS or connection
            failure, after the retries.
        """
        url = self.url + path
        encoded = urlencode(params, doseq=True)
        body = None if json is None else _json_body(json)
        if body is not None:
            method = method or "POST"
            url += f"?{encoded}" if encoded else ""
            encoded = body
        method = method or ("POST" if len(encoded) > POST_OVER else "GET")
        deadline = Deadline(self.timeout)
        with cut_at(deadline):
            return retrying(
                lambda: self._attempt(method, url, encoded, what, deadline, fix, body is not None),
                deadline,
                retries=self.retries,
                backoff=self.backoff,
                where=f"{self.service} {url} {what}",
                hide=self.redact,
            )

    def _send(
        self, method: str, url: str, encoded: str, left: float, is_json: bool = False
    ) -> requests.Response:
        session = self._session()
        # this thread's own session: the policy is set per request, with today's settings
        session.get_adapter(url).max_retries = retry_policy(self.retries, self.backoff)
        if is_json or method not in ("GET", "POST"):
            headers = {"Content-Type": "application/json"} if is_json else {}
            if not is_json and encoded:
                url += f"?{encoded}"
            return session.request(
                method,
                url,
                data=encoded if is_json else None,
                headers=headers,
                timeout=(left, left),
                stream=True,
            )
        if method == "POST":
            return session.post(
                url,
                data=encoded,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=(left, left),
                stream=True,
            )
        return session.get(url, params=encoded, timeout=(left, left), stream=True)

    def _attempt(
        self,
        method: str,
        url: str,
        encoded: str,
        what: str,
        deadline: Deadline,
        fix: Callable[[int, str], str | None] | None,
        is_json: bool = False,
    ) -> requests.Response | Retry:
        """One try (urllib3 retries the sending, :data:`RETRY_STATUS` answers included): the
        answer, read; a :class:`Retry` when it was cut short; or a CollectionError."""
        response = None
        try:
            response = self._send(method, url, encoded, deadline.left(), is_json)
            ok = 200 <= response.status_code < 300
            body = read_capped(
                response.iter_content(CHUNK),
                self.max_bytes if ok else ERROR_BYTES,
                response.headers.get("Content-Length"),
                truncate=not ok,
            )
        except requests.exceptions.SSLError as exc:
            raise CollectionError(
                self.redact(
                    f"{self.service} at {url}: TLS verification failed for {what} "
                    f"({error_reason(exc)}); pass verify='/path/to/ca.pem' with the CA that "
                    f"signed the server's certificate (verify=False turns the check off, "
                    f"which lets anyone in the middle read the answers)"
                )
            ) from exc
        except ResponseTooLargeError as exc:
            raise CollectionError(
                self.redact(
                    f"{self.service} at {url} answered {what} "
                    f"{too_large(self.max_bytes, exc.size)}; narrow the query or the window "
                    f"(or use a coarser step), or raise max_bytes="
                )
            ) from None
        except requests.exceptions.RequestException as exc:
            return self._broken(exc, url, what, deadline, started=response is not None)
        finally:
            if response is not None:
                response.close()
        response._content = body  # read here, under the deadline; .content/.text/.json() work
        status = response.status_code
        if 200 <= status < 300:
            log.debug("%s %s %s -> %d", method, url, self.redact(what), status)
            return response
        message = self._status_message(url, what, response, body, fix)
        if status in RETRY_STATUS:  # retried by the policy as long as it could be
            raise CollectionError(self.redact(deadline.explain(message(deadline.attempts))))
        raise CollectionError(self.redact(message(1)))

    def _broken(
        self,
        exc: requests.exceptions.RequestException,
        url: str,
        what: str,
        deadline: Deadline,
        *,
        started: bool,
    ) -> Retry:
        """A request that failed on the way: no answer (raised), or an answer cut short."""
        if deadline.expired or isinstance(exc, requests.exceptions.ReadTimeout):
            raise CollectionError(
                self.redact(
                    f"{self.service} at {url} did not answer {what} within timeout="
                    f"{self.timeout}s{' (its answer came too slowly)' if started else ''}; "
                    f"narrow the query or the window, or raise timeout="
                )
            ) from exc
        if started:  # a reset or a cut chunked body in the middle of the answer
            reason = f"its answer was cut short ({error_reason(exc)})"
            return Retry(
                reason=reason,
                final=lambda n: (
                    f"{self.service} at {url} answered {what} but {reason}, {n} attempts; a "
                    f"proxy or load balancer may drop long answers: retry, or narrow the "
                    f"query or the window"
                ),
                cause=exc,
            )
        # retried by the policy as long as it could be
        raise CollectionError(
            self.redact(
                deadline.explain(
                    f"{self.service} at {url} is unreachable for {what}: could not connect "
                    f"({error_reason(exc)}), {deadline.attempts} attempts; check the URL and "
                    f"that the service is up and reachable from here (port-forward, VPN)"
                )
            )
        ) from exc

    def _status_message(
        self,
        url: str,
        what: str,
        response: requests.Response,
        body: bytes,
        fix: Callable[[int, str], str | None] | None,
    ) -> Callable[[int], str]:
        """The message of an error answer, given the attempts made."""
        status = response.status_code
        shown = repr(excerpt(body))
        advice = fix(status, body.decode("utf-8", "replace")) if fix is not None else None
        if looks_like_html(body):
            shown, sign_in = describe_html(body, self.service)
            advice = advice or sign_in
        advice = advice or _status_fix(status, self.service)
        head = f"{self.service} at {url} answered HTTP {status} {response.reason or ''} for {what}"
        return lambda n: f"{head}{f' after {n} attempts' if n > 1 else ''}: {shown}; {advice}"

    def unreadable(self, what: str, body: bytes, problem: str, fix: str) -> CollectionError:
        """The error for a 2xx answer that is not the API's JSON: an HTML page (a proxy, a
        sign-in page) gets its own advice; otherwise ``problem`` and ``fix`` are used."""
        if looks_like_html(body):
            shown, sign_in = describe_html(body, self.service)
            problem = f"{shown}, not JSON"
            fix = sign_in or (
                f"check that the URL points at {self.service}'s API and not at a web UI or a "
                f"proxy's page (a path prefix missing?)"
            )
        return CollectionError(
            self.redact(
                f"{self.service} at {self.url} answered {what} with {problem}: "
                f"{excerpt(body)[:120]!r}; {fix}"
            )
        )


def _json_body(value: object) -> str:
    """``value`` as the text of a JSON request body."""
    import orjson

    return orjson.dumps(value).decode()


def check_limits(service: str, timeout: object, max_bytes: object) -> None:
    """Refuse a ``timeout`` or ``max_bytes`` that is not a positive number."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise CollectionError(
            f"{service}: timeout must be a positive number of seconds (the whole request, "
            f"retries included), got {timeout!r}"
        )
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise CollectionError(
            f"{service}: max_bytes must be a positive whole number of bytes, got {max_bytes!r}"
        )


def _status_fix(status: int, service: str) -> str:
    """What to do about an error status, when the answer says nothing more useful."""
    if status == 401:
        return "check the credentials (headers= or auth=) and that they may read this"
    if status == 403:
        return "the credentials are valid but not allowed to read this; ask for access"
    if status == 429:
        return "the server is rate limiting; wait, or collect a shorter window"
    if status >= 500:
        return "the server failed; retry later or narrow the query"
    if status == 404:
        return f"check that the URL points at {service}'s API (a path prefix missing?)"
    return "fix the query"


def error_reason(exc: Exception) -> str:
    """The innermost reason of a requests/urllib3 error, without the URL it repeats."""
    inner: BaseException = exc
    while True:
        causes = [a for a in inner.args if isinstance(a, BaseException)]
        nxt = getattr(inner, "reason", None) or (causes[0] if causes else None)
        if isinstance(nxt, BaseException) and nxt is not inner:
            inner = nxt
            continue
        break
    text = str(inner)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
