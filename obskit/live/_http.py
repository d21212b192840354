"""One HTTP helper for the live sources: a timeout on every call, retries with backoff, TLS
verification on by default, and credentials that never leave the request.

Credentials (an ``Authorization`` or other header, a basic-auth pair, a ``user:password@`` in the
URL) are kept out of ``repr()``, log records and error messages: the URL shown anywhere is the
base URL without its userinfo, and any secret value that still shows up in a server's answer is
replaced by ``***`` before it is put in a message.

Retried, with exponential backoff: connection errors, HTTP 429 (honouring ``Retry-After``) and
every 5xx. Not retried: a read timeout (the server is working on it; asking again only adds
load) and other 4xx answers (asking again gives the same answer).
"""

from __future__ import annotations

import base64
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from obskit.errors import CollectionError

__all__ = ["HttpClient", "backoff_delay", "redact", "safe_url"]

log = logging.getLogger("obskit.live")

#: Longest wait a ``Retry-After`` header can impose before one retry, in seconds.
MAX_RETRY_AFTER = 60.0
#: Above this length of URL-encoded parameters a request goes as a form POST (long selectors).
POST_OVER = 2000
#: How much of an error body goes into an error message.
BODY_EXCERPT = 300


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


def backoff_delay(attempt: int, base: float, cap: float = 10.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): exponential, capped, with jitter."""
    delay = min(cap, base * 2**attempt)
    return delay * (0.5 + random.random() / 2)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER)


class HttpClient:
    """A ``requests.Session`` bound to one base URL, with timeouts, retries and hidden secrets.

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
        Seconds to wait for the connection and for each read.
    retries
        How many times a retryable failure is retried.
    backoff
        First backoff delay in seconds (doubled at each retry, with jitter).
    pool
        Connections kept open (the concurrency of the callers).

    Examples
    --------
    >>> c = HttpClient("http://u:pw@127.0.0.1:9", "Prometheus", headers={"Authorization": "x y"})
    >>> c
    HttpClient('http://127.0.0.1:9', service='Prometheus', headers=['Authorization'], auth=<hidden>, verify=True, timeout=30)
    """  # noqa: E501

    def __init__(
        self,
        url: str,
        service: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | requests.auth.AuthBase | None = None,
        verify: bool | str = True,
        timeout: float = 30,
        retries: int = 3,
        backoff: float = 0.5,
        pool: int = 4,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise CollectionError(
                f"{service} URL must start with http:// or https://, got {url!r:.80}; "
                f"pass e.g. 'http://prometheus.monitoring:9090'"
            )
        parts = urlsplit(url)
        self.service = service
        self.url = safe_url(url)
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff = backoff
        self.verify = verify
        self._headers = dict(headers or {})
        if parts.username is not None and auth is None:
            from urllib.parse import unquote

            auth = (unquote(parts.username), unquote(parts.password or ""))
        self._auth = auth
        self._secrets: list[str] = list(self._headers.values())
        for value in self._headers.values():
            self._secrets += value.split()  # "Bearer <token>": the token alone too
        if isinstance(auth, tuple):
            self._secrets += [str(a) for a in auth[1:]]
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
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._pool, max_retries=0)
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
        retry_on: Callable[[requests.Response], bool] | None = None,
    ) -> requests.Response:
        """Send one request to ``url + path``, retrying what is retryable; return a 2xx answer.

        ``what`` names the request in messages (the query). ``method`` is GET, or POST when the
        encoded parameters are longer than :data:`POST_OVER`. ``retry_on`` can mark other
        answers retryable.

        Raises
        ------
        CollectionError
            On a non-2xx answer, a timeout, a TLS or connection failure, after the retries.
        """
        url = self.url + path
        encoded = urlencode(params, doseq=True)
        method = method or ("POST" if len(encoded) > POST_OVER else "GET")
        attempts = self.retries + 1
        last: str = ""
        for attempt in range(attempts):
            wait = None
            try:
                if method == "POST":
                    response = self._session().post(
                        url,
                        data=encoded,
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                        timeout=self.timeout,
                    )
                else:
                    response = self._session().get(url, params=encoded, timeout=self.timeout)
            except requests.exceptions.SSLError as exc:
                raise CollectionError(
                    self.redact(
                        f"{self.service} at {url}: TLS verification failed for {what} "
                        f"({_reason(exc)}); pass verify='/path/to/ca.pem' with the CA that "
                        f"signed the server's certificate (verify=False turns the check off, "
                        f"which lets anyone in the middle read the answers)"
                    )
                ) from exc
            except requests.exceptions.ReadTimeout as exc:
                raise CollectionError(
                    self.redact(
                        f"{self.service} at {url} did not answer {what} within "
                        f"timeout={self.timeout}s; narrow the query or the window, or raise "
                        f"timeout="
                    )
                ) from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                last = f"could not connect ({_reason(exc)})"
                log.warning(
                    "%s %s: %s (attempt %d of %d)", self.service, url, last, attempt + 1, attempts
                )
                if attempt + 1 < attempts:
                    time.sleep(backoff_delay(attempt, self.backoff))
                    continue
                raise CollectionError(
                    self.redact(
                        f"{self.service} at {url} is unreachable for {what}: {last}, "
                        f"{attempts} attempts; check the URL and that the service is up and "
                        f"reachable from here (port-forward, VPN)"
                    )
                ) from exc
            status = response.status_code
            if 200 <= status < 300:
                log.debug("%s %s %s -> %d", method, url, what, status)
                return response
            retryable = status == 429 or status >= 500 or (retry_on and retry_on(response))
            last = f"HTTP {status} {response.reason or ''}".rstrip()
            if retryable and attempt + 1 < attempts:
                wait = _retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = backoff_delay(attempt, self.backoff)
                log.warning(
                    "%s %s answered %s for %s; retrying in %.1fs (attempt %d of %d)",
                    self.service,
                    url,
                    last,
                    self.redact(what),
                    wait,
                    attempt + 1,
                    attempts,
                )
                response.close()
                time.sleep(wait)
                continue
            raise CollectionError(self._status_message(url, what, response, attempt + 1))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _status_message(
        self, url: str, what: str, response: requests.Response, attempts: int
    ) -> str:
        status = response.status_code
        body = _excerpt(response)
        if status in (401, 403):
            fix = (
                "check the credentials (headers= or auth=) and that they may read this"
                if status == 401
                else "the credentials are valid but not allowed to read this; ask for access"
            )
        elif status == 429:
            fix = "the server is rate limiting; wait, or collect a shorter window"
        elif status >= 500:
            fix = "the server failed; retry later or narrow the query"
        elif status == 404:
            fix = f"check that the URL points at {self.service}'s API (a path prefix missing?)"
        else:
            fix = "fix the query"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return self.redact(
            f"{self.service} at {url} answered HTTP {status} {response.reason or ''} for "
            f"{what}{tries}: {body!r}; {fix}"
        )


def _excerpt(response: requests.Response) -> str:
    try:
        text = response.text
    except (requests.exceptions.RequestException, UnicodeDecodeError):
        return ""
    return text.strip()[:BODY_EXCERPT]


def _reason(exc: Exception) -> str:
    """The innermost reason of a requests/urllib3 error, without the URL it repeats."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or (inner.args[0] if inner.args else None)
        if isinstance(nxt, BaseException) and nxt is not inner:
            inner = nxt
            continue
        break
    text = str(inner)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
