"""The fault matrix of the HTTP live sources (Prometheus, Loki): servers on loopback that trickle,
send without end, cut their answers, ask to be retried in an hour, or answer with a sign-in page.

Each case asserts the error (a :class:`CollectionError` naming the server, what was asked and
the fix), that no credential shows in the message, its traceback or the logs, and that the call
ended within its ``timeout``: one request, retries included, is bounded by it.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from obskit.errors import CollectionError, ObskitError
from obskit.live import Loki, Prometheus
from tests.live.conftest import loopback, reply
from tests.live.faults import (
    busy,
    cut_chunked,
    endless,
    huge,
    reset_mid_body,
    retry_at_a_date,
    retry_in_an_hour,
    sign_in_401,
    sign_in_echo,
    trickle_body,
    trickle_headers,
)

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


@pytest.mark.parametrize(
    ("refusal", "advice"),
    [
        (
            b"max entries limit per query exceeded, limit > max_entries_limit_per_query "
            b"(5000 > 1000)",
            "over Loki's per-query line cap, max_entries_limit_per_query (1000 on this server): "
            "pass a smaller page_size= (at most the cap), or collect a narrower window",
        ),
        (
            b"the query time range exceeds the limit (query length: 721h0m0s, limit: 720h0m0s)",
            "over one of this Loki's limits: collect a narrower window",
        ),
    ],
    ids=["line-cap", "query-length"],
)
def test_loki_limits_say_what_to_change(refusal, advice):
    with (
        loopback(lambda request: reply(request, 400, refusal)) as server,
        pytest.raises(CollectionError) as info,
    ):
        Loki(server.url).query_range("{}", T0, T0 + 60)
    message = str(info.value)
    assert "HTTP 400" in message and server.url in message and advice in message
    assert len(server.requests) == 1


def test_limits_must_be_positive():
    with pytest.raises(CollectionError, match=r"timeout must be a positive number.*got 0"):
        Prometheus("http://127.0.0.1:9", timeout=0)
    with pytest.raises(CollectionError, match=r"max_bytes must be a positive whole number"):
        Loki("http://127.0.0.1:9", max_bytes=-1)


def test_an_instant_query_answered_with_a_sign_in_page(caplog):
    with loopback(sign_in_echo) as server:
        prom = Prometheus(server.url, headers={"Authorization": f"Bearer {TOKEN}"})
        with pytest.raises(CollectionError, match=r"HTML sign-in page.*single sign-on") as info:
            prom.query("up")
    assert_nothing_leaks(info.value, caplog)


def test_a_missing_ca_bundle_is_named():
    with pytest.raises(CollectionError, match=r"verify='/nowhere/ca.pem' is not a CA bundle"):
        Prometheus("https://127.0.0.1:9", verify="/nowhere/ca.pem")


def test_loki_entries_that_are_not_loki_s():
    bad = {
        "status": "success",
        "data": {"resultType": "streams", "result": [{"stream": {}, "values": [["x", "y"]]}]},
    }
    with (
        loopback(lambda request: reply(request, 200, bad)) as server,
        pytest.raises(CollectionError, match=r"streams that are not Loki's.*check that"),
    ):
        Loki(server.url).query_range("{}", T0, T0 + 60)


def test_a_backoff_past_the_deadline_is_not_waited_for():
    with loopback(lambda request: reply(request, 502, b"bad gateway")) as server:
        prom = Prometheus(server.url, timeout=1, retries=10)
        prom.http.backoff = 0.3  # 0.3, 0.6, 1.2 ... s (with jitter): the third cannot fit
        t0 = time.monotonic()
        with pytest.raises(CollectionError) as info:
            prom.query("up")
        assert time.monotonic() - t0 < 1 + SLACK
    message = str(info.value)
    assert "HTTP 502" in message and "retry later" in message
    assert "no time left for another attempt within timeout=1s" in message
    assert 2 <= len(server.requests) < 11
