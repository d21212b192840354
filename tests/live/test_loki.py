"""The live Loki client against a loopback server that answers as Loki does.

No Loki can run here (neither Debian nor PyPI ships it), so a loopback server answers
``/loki/api/v1/query_range`` in Loki's recorded response format (as in
``tests/data/loki/query_range_streams.json``) with Loki's documented semantics: ``start``
inclusive, ``end`` exclusive, ``direction=forward`` oldest first, at most ``limit`` entries
across all streams. Entries that share a nanosecond come back in a different order on every
request, as they may from a real Loki, so a page edge that cuts through them is exercised.
"""

from __future__ import annotations

import random
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import orjson
import pandas as pd
import pytest

from obskit import schema
from obskit.errors import CollectionError
from obskit.live import Loki, collect
from tests.live.conftest import loopback, reply

T0 = 1_715_675_400_000_000_000


def ns(value: int) -> pd.Timestamp:
    return pd.Timestamp(value, unit="ns", tz="UTC")


WEB1 = {"namespace": "shop", "pod": "web-1", "container": "web", "stream": "stdout", "app": "web"}
WEB2 = {"namespace": "shop", "pod": "web-2", "container": "web", "stream": "stderr", "app": "web"}


def entries() -> list[tuple[dict, int, str]]:
    out = []
    for i in range(23):
        out.append((WEB1 if i % 2 else WEB2, T0 + i * 1_000_000, f"level=info msg=tick n={i}"))
    same = T0 + 4_500_000  # seven lines of one nanosecond, cut by the page edge
    out += [(WEB1, same, f"level=error msg=burst k={k}") for k in range(4)]
    out += [(WEB2, same, f"level=error msg=burst k={k}") for k in range(3)]
    out.append((WEB1, same, "identical text"))
    out.append((WEB2, same, "identical text"))  # same line, same ns, another stream
    crowd = T0 + 15_500_000  # more lines of one nanosecond than a page holds
    out += [(WEB1, crowd, f"level=warn msg=crowd k={k}") for k in range(12)]
    return out


class FakeLoki:
    def __init__(self, data) -> None:
        self.data = data
        self.rng = random.Random(7)
        self.calls: list[dict] = []
        self.faults: list[str] = []

    def handle(self, request) -> None:
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        self.calls.append(q)
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "400":
                return reply(request, 400, b"parse error at line 1, col 3: syntax error")
            if fault == "truncated":
                return reply(request, 200, b'{"status":"success","data":{"resultType":"str')
        assert q["direction"] == "forward"
        start, end, limit = int(q["start"]), int(q["end"]), int(q["limit"])
        chosen = [e for e in self.data if start <= e[1] < end]
        self.rng.shuffle(chosen)
        chosen.sort(key=lambda e: e[1])  # ties keep the shuffled order
        chosen = chosen[:limit]
        streams: dict[bytes, dict] = {}
        for labels, ts, line in chosen:
            key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
            streams.setdefault(key, {"stream": labels, "values": []})["values"].append(
                [str(ts), line]
            )
        body = {
            "status": "success",
            "data": {"resultType": "streams", "result": list(streams.values()), "stats": {}},
        }
        reply(request, 200, body)


@pytest.fixture
def loki_server():
    fake = FakeLoki(entries())
    with loopback(fake.handle) as server:
        fake.url = server.url
        yield fake


def seen(logs) -> Counter:
    return Counter(
        zip(
            logs["pod"].astype(str),
            logs["timestamp"].map(lambda t: t.value),
            logs["message"].astype(str),
            strict=True,
        )
    )


def expected(data, lo=None, hi=None) -> Counter:
    return Counter(
        (labels["pod"], ts, line)
        for labels, ts, line in data
        if (lo is None or ts >= lo) and (hi is None or ts <= hi)
    )


def test_paging_loses_and_repeats_nothing_at_page_edges(loki_server):
    loki = Loki(loki_server.url, page_size=5)
    result = loki.query_range_result('{namespace="shop"}', ns(T0), ns(T0 + 10**9))
    logs = result.logs
    schema.validate("logs", logs)
    assert seen(logs) == expected(loki_server.data)
    assert len(logs) == len(loki_server.data) == 44
    assert logs["timestamp"].is_monotonic_increasing
    assert loki.pages > 44 // 5
    # the crowd of 12 lines in one nanosecond needed bigger pages than 5
    assert max(int(c["limit"]) for c in loki_server.calls) > 5
    assert result.balanced()
    assert set(logs.loc[logs["message"].str.contains("burst"), "level"]) == {"error"}


@pytest.mark.parametrize("page_size", [1, 2, 3, 8, 13, 5000])
def test_any_page_size_gives_the_same_lines(loki_server, page_size):
    logs = Loki(loki_server.url, page_size=page_size).query_range("{}", ns(T0), ns(T0 + 10**9))
    assert seen(logs) == expected(loki_server.data)


def test_the_window_end_is_included(loki_server):
    hi = T0 + 4_500_000
    logs = Loki(loki_server.url, page_size=4).query_range("{}", ns(T0 + 1_000_000), ns(hi))
    assert seen(logs) == expected(loki_server.data, T0 + 1_000_000, hi)
    assert int(loki_server.calls[0]["end"]) == hi + 1  # Loki's end is exclusive


def test_limit_stops_early(loki_server):
    logs = Loki(loki_server.url, page_size=4).query_range("{}", ns(T0), ns(T0 + 10**9), limit=10)
    assert len(logs) == 10
    assert logs["timestamp"].is_monotonic_increasing


def test_errors_name_the_query_and_the_fix(loki_server):
    loki_server.faults = ["400"]
    with pytest.raises(CollectionError, match=r"HTTP 400.*'\{app=\}'.*parse error.*fix the query"):
        Loki(loki_server.url).query_range("{app=}", ns(T0), ns(T0 + 10))
    loki_server.faults = ["truncated"]
    with pytest.raises(CollectionError, match=r"not JSON.*cut short"):
        Loki(loki_server.url).query_range("{}", ns(T0), ns(T0 + 10))


def test_collect_pushes_namespaces_into_the_selector(loki_server):
    loki = Loki(loki_server.url, page_size=7)
    inv = collect(ns(T0), ns(T0 + 10**9), loki=loki, namespaces=["shop", "ops"], progress=False)
    assert {c["query"] for c in loki_server.calls} == {'{namespace=~"shop|ops"}'}
    assert len(inv.logs) == 44 and inv.files["balanced"].all()
    assert inv.files["origin"].iloc[0].startswith(loki_server.url + "/loki/api/v1/query_range")
