"""Every live HTTP call: retries, Retry-After, timeouts, TLS verification, hidden credentials.

The servers are loopback HTTP(S) servers in this process answering in Prometheus' recorded
response format (the same shape as ``tests/data/prometheus``).
"""

from __future__ import annotations

import email.utils
import logging
import time
import traceback

import pytest

from obskit.errors import CollectionError
from obskit.live import Loki, Prometheus, collect
from tests.live.conftest import free_port, loopback, reply

TOKEN = "prom-token-9Hq2LxVb7T"
PASSWORD = "s3cret-Pa55word-xyz"
MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [{"metric": {"__name__": "up", "pod": "web-1"}, "values": [[1715675400, "1"]]}],
    },
}


def scripted(*answers):
    """A handler answering with ``answers`` in turn (the last one repeats)."""
    queue = list(answers)

    def handle(request):
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            return answer(request)
        status, body, headers = answer
        reply(request, status, body, headers)

    return handle


def fast(prom: Prometheus) -> Prometheus:
    prom.http.backoff = 0.01
    return prom


def test_503_then_200_is_retried():
    handle = scripted((503, b"upstream unavailable", {}), (200, MATRIX, {}))
    with loopback(handle) as server:
        df = fast(Prometheus(server.url)).query_range("up", 1715675400, 1715675400)
    assert df["value"].tolist() == [1.0]
    assert len(server.requests) == 2


def test_429_retry_after_is_honoured():
    handle = scripted((429, b"slow down", {"Retry-After": "1"}), (200, MATRIX, {}))
    with loopback(handle) as server:
        t0 = time.monotonic()
        fast(Prometheus(server.url)).query_range("up", 1715675400, 1715675400)
        assert time.monotonic() - t0 >= 1.0
    assert len(server.requests) == 2


def test_retry_after_as_an_http_date_is_honoured():
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s
    handle = scripted((503, b"maintenance", {"Retry-After": when}), (200, MATRIX, {}))
    with loopback(handle) as server:
        t0 = time.monotonic()
        df = fast(Prometheus(server.url, timeout=5)).query("up")
        assert 0.9 <= time.monotonic() - t0 < 3
    assert df["value"].tolist() == [1.0]
    assert len(server.requests) == 2


def test_a_long_query_sent_as_post_is_retried_too():
    selector = "up{" + ",".join(f'pod!="web-{i}"' for i in range(300)) + "}"
    handle = scripted((502, b"bad gateway", {}), (200, MATRIX, {}))
    with loopback(handle) as server:
        df = fast(Prometheus(server.url)).query(selector)
    assert [r["method"] for r in server.requests] == ["POST", "POST"]
    assert df["value"].tolist() == [1.0]


def test_a_connection_dropped_before_the_answer_is_retried():
    def drop(request):
        request.close_connection = True  # closes without a word

    with loopback(scripted(drop, (200, MATRIX, {}))) as server:
        df = fast(Prometheus(server.url)).query("up")
    assert df["value"].tolist() == [1.0]
    assert len(server.requests) == 2


def test_5xx_after_every_retry_names_url_query_status_and_fix():
    handle = scripted((500, b'{"status":"error","error":"storage failure"}', {}))
    with loopback(handle) as server:
        prom = fast(Prometheus(server.url, retries=2))
        with pytest.raises(CollectionError) as info:
            prom.query_range("rate(x[5m])", 1715675400, 1715675400)
    message = str(info.value)
    assert f"{server.url}/api/v1/query_range" in message
    assert "'rate(x[5m])'" in message and "HTTP 500" in message and "after 3 attempts" in message
    assert "storage failure" in message and "retry later" in message
    assert len(server.requests) == 3


def test_4xx_is_not_retried():
    handle = scripted((400, {"status": "error", "errorType": "bad_data", "error": "parse"}, {}))
    with (
        loopback(handle) as server,
        pytest.raises(CollectionError, match=r"HTTP 400.*fix the query"),
    ):
        Prometheus(server.url).query("sum(")
    assert len(server.requests) == 1


def test_connection_refused_is_retried_then_explained():
    prom = fast(Prometheus(f"http://127.0.0.1:{free_port()}", retries=1))
    with pytest.raises(CollectionError, match=r"unreachable.*2 attempts.*service is up"):
        prom.query("up")


def test_timeout_is_not_retried():
    def slow(request):
        time.sleep(1.0)
        reply(request, 200, MATRIX)

    with loopback(scripted(slow)) as server:
        t0 = time.monotonic()
        with pytest.raises(CollectionError, match=r"within timeout=0.2s.*raise timeout="):
            Prometheus(server.url, timeout=0.2).query("up")
        assert time.monotonic() - t0 < 0.9
    assert len(server.requests) == 1


def test_tls_is_verified_by_default(certificate):
    with loopback(scripted((200, MATRIX, {})), tls=certificate) as server:
        with pytest.raises(CollectionError, match=r"TLS verification failed.*verify='/path/to"):
            Prometheus(server.url).query("up")
        df = Prometheus(server.url, verify=str(certificate[0])).query("up")
    assert len(df) == 1


def _echo_credentials(request):
    """A 401 whose body repeats what was sent, as some proxies do."""
    reply(request, 401, f"denied: {request.headers.get('Authorization')}".encode())


@pytest.mark.parametrize(
    "make",
    [
        lambda url: Prometheus(url, headers={"Authorization": f"Bearer {TOKEN}"}),
        lambda url: Prometheus(url.replace("://", f"://analyst:{PASSWORD}@")),
        lambda url: Prometheus(url, auth=("analyst", PASSWORD)),
        lambda url: Loki(url, headers={"Authorization": f"Bearer {TOKEN}"}),
    ],
    ids=["bearer", "password-in-url", "basic-auth", "loki-bearer"],
)
def test_credentials_appear_nowhere(make, caplog):
    caplog.set_level(logging.DEBUG)
    with loopback(scripted(_echo_credentials)) as server:
        client = make(server.url)
        with pytest.raises(CollectionError) as info:
            if isinstance(client, Loki):
                client.query_range('{app="x"}', 1715675400, 1715675460)
            else:
                client.query("up")
    sent = server.requests[0]["headers"].get("Authorization", "")
    assert sent.startswith(("Bearer ", "Basic "))  # the credentials were sent ...
    wire = sent.split()[-1]
    shown = [repr(client), str(client.http), str(info.value), repr(info.value), caplog.text]
    shown.append("".join(traceback.format_exception(info.value)))
    for text in shown:  # ... and never shown
        assert TOKEN not in text and PASSWORD not in text and wire not in text
    assert "401" in str(info.value) and server.url in str(info.value)


def test_credentials_never_reach_a_bundle(tmp_path):
    with loopback(scripted((200, MATRIX, {}))) as server:
        prom = Prometheus(
            server.url.replace("://", f"://analyst:{PASSWORD}@"),
            headers={"X-Token": TOKEN},
        )
        inv = collect(1715675400, 1715675400, prometheus=prom, queries={"up": "up"}, progress=False)
    assert len(inv.metrics) == 1
    folder = inv.save(tmp_path / "bundle")
    for file in folder.iterdir():
        data = file.read_bytes()
        assert TOKEN.encode() not in data and PASSWORD.encode() not in data
        assert b"analyst" not in data


def test_an_answer_over_the_cap_is_a_collection_error_with_its_size():
    from obskit import ResponseTooLargeError
    from obskit.live._http import read_capped

    with pytest.raises(ResponseTooLargeError, match=r"10,000 bytes is over max_bytes=100; narrow"):
        read_capped([b"x" * 10], cap=100, length="10000")
    with pytest.raises(CollectionError, match=r"more than 100 bytes") as caught:
        read_capped(iter([b"x" * 60] * 3), cap=100)
    assert (caught.value.size, caught.value.cap) == (None, 100)
    assert read_capped(iter([b"x" * 60] * 3), cap=100, truncate=True) == b"x" * 100
