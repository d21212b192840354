"""The fault matrix of the HTTP live sources (Prometheus, Loki): servers on loopback that trickle,
send without end, cut their answers, ask to be retried in an hour, or answer with a sign-in page.

Each case asserts the error (a :class:`CollectionError` naming the server, what was asked and
the fix), that no credential shows in the message, its traceback or the logs, and that the call
ended within its ``timeout``: one request, retries included, is bounded by it.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import struct
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from obskit.errors import CollectionError, ObskitError
from obskit.live import Loki, Prometheus
from tests.live.conftest import loopback, reply

TOKEN = "fault-token-Qm7Zr2Xw9Kp"
T0 = 1_715_675_400
MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [{"metric": {"__name__": "up", "pod": "web-1"}, "values": [[T0, "1"]]}],
    },
}
STREAMS = {
    "status": "success",
    "data": {
        "resultType": "streams",
        "result": [
            {"stream": {"namespace": "shop", "pod": "web-1"}, "values": [[f"{T0}000000000", "hi"]]}
        ],
    },
}
#: Seconds a case may run past its timeout (thread start-up, a loaded machine).
SLACK = 1.0


def _write(request, data: bytes) -> bool:
    """Send ``data`` now; False once the client has gone."""
    try:
        request.wfile.write(data)
        request.wfile.flush()
    except OSError:
        return False
    return True


def trickle_body(request) -> None:
    """Headers at once, then the body a byte at a time (never more than a read timeout apart)."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", "1000")
    request.end_headers()
    for _ in range(1000):
        if not _write(request, b" "):
            return
        time.sleep(0.2)


def trickle_headers(request) -> None:
    """Even the status line a byte at a time."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 20:
        if not _write(request, bytes([byte])):
            return
        time.sleep(0.2)


def endless(request) -> None:
    """A chunked answer that never ends."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()
    piece = b"[" * 65536
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _write(request, b"%x\r\n%s\r\n" % (len(piece), piece)):
        pass


def huge(request) -> None:
    """An answer that announces 10 GB."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(10 * 2**30))
    request.end_headers()
    _write(request, b"{")


def cut_chunked(request) -> None:
    """A chunked answer that stops after its first chunk (no last chunk)."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()
    _write(request, b'10\r\n{"status":"succe\r\n')
    request.close_connection = True


def reset_mid_body(request) -> None:
    """Half of the announced body, then a TCP reset."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", "400")
    request.end_headers()
    _write(request, b'{"status":"success",' + b" " * 180)
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.connection.close()
    request.close_connection = True


def retry_in_an_hour(request) -> None:
    reply(request, 429, b"slow down", {"Retry-After": "3600"})


def retry_at_a_date(request) -> None:
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    reply(request, 503, b"maintenance", {"Retry-After": when})


def busy(request) -> None:
    reply(request, 503, b"busy", {"Retry-After": "1"})


def sign_in_echo(request) -> None:
    """An SSO proxy's sign-in page (200) that echoes the request, credentials included."""
    page = (
        "<!DOCTYPE html><html><head><title>Sign in - Corp SSO</title></head><body>"
        f"{request.headers.get('Authorization')} <form action='/login'>Please log in to see "
        f"{request.path}</form></body></html>"
    )
    reply(request, 200, page.encode(), {"Content-Type": "text/html"})


def sign_in_401(request) -> None:
    page = (
        "<html><head><title>Single Sign-On</title></head><body>Session expired for "
        f"{request.headers.get('Authorization')}; sign in again</body></html>"
    )
    reply(request, 401, page.encode(), {"Content-Type": "text/html"})


@dataclass(frozen=True)
class Case:
    handle: Callable
    match: str  # what the message must say (after the server's URL)
    timeout: float = 1.5
    max_bytes: int = 2**20
    retries: int = 2
    requests: int | None = None  # how many requests the server must have seen


CASES = {
    "trickled-body": Case(trickle_body, r"did not answer .* within timeout=1.5s.*raise timeout="),
    "trickled-headers": Case(trickle_headers, r"did not answer .* within timeout=1.5s"),
    "endless-body": Case(
        endless, r"with more than 1,048,576 bytes, over max_bytes=1048576.*narrow"
    ),
    "announced-10GB": Case(huge, r"with 10,737,418,240 bytes, over max_bytes=.*raise max_bytes="),
    "cut-chunked-body": Case(
        cut_chunked, r"its answer was cut short.*3 attempts.*retry", requests=3
    ),
    "reset-mid-body": Case(reset_mid_body, r"its answer was cut short.*3 attempts", requests=3),
    "retry-after-3600": Case(
        retry_in_an_hour,
        r"HTTP 429.*retried in 3600s \(after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\).*raise timeout=",
        requests=1,
    ),
    "retry-after-http-date": Case(
        retry_at_a_date, r"HTTP 503.*retried in 3[56]\d\ds \(after .* UTC\)", requests=1
    ),
    "503-until-the-deadline": Case(busy, r"HTTP 503.*after 2 attempts.*retry later", retries=9),
    "sign-in-page-200": Case(
        sign_in_echo, r"HTML sign-in page titled 'Sign in - Corp SSO'.*proxy or single sign-on"
    ),
    "sign-in-page-401": Case(sign_in_401, r"HTTP 401.*HTML sign-in page.*single sign-on"),
}


def prometheus(url: str, case: Case) -> Callable[[], object]:
    # max_points=2 over 4 steps: a split query_range, two chunk requests in flight
    prom = Prometheus(
        url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=case.timeout,
        retries=case.retries,
        max_points=2,
        max_workers=1,
        max_bytes=case.max_bytes,
    )
    prom.http.backoff = 0.01
    return lambda: prom.query_range("up", T0, T0 + 90, step="30s")


def loki(url: str, case: Case) -> Callable[[], object]:
    client = Loki(
        url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=case.timeout,
        retries=case.retries,
        max_bytes=case.max_bytes,
    )
    client.http.backoff = 0.01
    return lambda: client.query_range('{namespace="shop"}', T0, T0 + 60)


def series(url: str, case: Case) -> Callable[[], object]:
    prom = Prometheus(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=case.timeout)
    return lambda: prom.series("up", T0, T0 + 60)


def assert_nothing_leaks(error: BaseException, caplog) -> None:
    shown = [str(error), repr(error), caplog.text, "".join(traceback.format_exception(error))]
    for text in shown:
        assert TOKEN not in text


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("source", [prometheus, loki], ids=["prometheus", "loki"])
def test_fault(source, name, caplog):
    case = CASES[name]
    caplog.set_level(logging.DEBUG)
    with loopback(case.handle) as server:
        call = source(server.url, case)
        t0 = time.monotonic()
        with pytest.raises(CollectionError) as info:
            call()
        took = time.monotonic() - t0
    assert isinstance(info.value, ObskitError)
    message = str(info.value)
    assert server.url in message
    assert ("'up'" if source is prometheus else "namespace") in message  # what was asked
    assert __import__("re").search(case.match, message), message
    assert took < case.timeout + SLACK, f"{name} took {took:.2f}s"
    if case.requests is not None:
        assert len(server.requests) == case.requests
    assert_nothing_leaks(info.value, caplog)


@pytest.mark.parametrize("name", ["sign-in-page-200", "trickled-body", "retry-after-3600"])
def test_series_reads_answers_the_same_way(name, caplog):
    case = CASES[name]
    caplog.set_level(logging.DEBUG)
    with loopback(case.handle) as server:
        t0 = time.monotonic()
        with pytest.raises(CollectionError, match=case.match) as info:
            series(server.url, case)()
        assert time.monotonic() - t0 < case.timeout + SLACK
    assert "series 'up'" in str(info.value)
    assert_nothing_leaks(info.value, caplog)


def test_a_cut_answer_is_retried_then_read():
    answers = [cut_chunked, reset_mid_body, lambda r: reply(r, 200, STREAMS)]

    def handle(request):
        answers.pop(0)(request)

    with loopback(handle) as server:
        client = Loki(server.url, retries=2)
        client.http.backoff = 0.01
        logs = client.query_range("{}", T0, T0 + 60)
    assert logs["message"].tolist() == ["hi"]
    assert len(server.requests) == 3


def test_a_short_retry_after_is_waited_for_within_the_deadline():
    answers = [busy, lambda r: reply(r, 200, MATRIX)]

    def handle(request):
        answers.pop(0)(request)

    with loopback(handle) as server:
        t0 = time.monotonic()
        df = Prometheus(server.url, timeout=3).query("up")
        assert 1.0 <= time.monotonic() - t0 < 2.5
    assert df["value"].tolist() == [1.0]


def test_loki_line_cap_says_to_lower_page_size():
    def handle(request):
        reply(
            request,
            400,
            b"max entries limit per query exceeded, limit > max_entries_limit_per_query "
            b"(5000 > 1000)",
        )

    with loopback(handle) as server, pytest.raises(CollectionError) as info:
        Loki(server.url).query_range("{}", T0, T0 + 60)
    message = str(info.value)
    assert "HTTP 400" in message and server.url in message
    assert "max_entries_limit_per_query (1000 on this server)" in message
    assert "smaller page_size=" in message and "narrower window" in message
    assert len(server.requests) == 1


def test_limits_must_be_positive():
    with pytest.raises(CollectionError, match=r"timeout must be a positive number.*got 0"):
        Prometheus("http://127.0.0.1:9", timeout=0)
    with pytest.raises(CollectionError, match=r"max_bytes must be a positive whole number"):
        Loki("http://127.0.0.1:9", max_bytes=-1)
