"""The live Elasticsearch/OpenSearch client against a loopback server that answers as they do.

No Elasticsearch or OpenSearch server can run here (see tests/data/elasticsearch/SOURCES.md),
so a loopback server answers the calls the client makes in their documented formats: ``GET /``
(``version.distribution`` is ``opensearch`` on OpenSearch), opening a point in time
(Elasticsearch ``POST /<index>/_pit`` -> ``{"id"}``; OpenSearch ``POST
/<index>/_search/point_in_time`` -> ``{"pit_id", "_shards", "creation_time"}``), ``POST /_search``
with ``pit``, ``sort`` and ``search_after`` (hits sorted by ``@timestamp`` then a shard-doc
tiebreaker, each with its ``sort`` values; ``pit_id`` in the answer), closing the point in time,
and an expired point in time's 404 ``search_context_missing_exception``. Its documents are the
hits of tests/data/elasticsearch/search_mixed.json plus generated Fluent Bit records, several of
them in one millisecond so that page edges and a resumed search cut through them.
"""

from __future__ import annotations

import re
import time
from fnmatch import fnmatch
from urllib.parse import unquote

import orjson
import pandas as pd
import pytest

from obskit import schema
from obskit.errors import CollectionError
from obskit.live import Elasticsearch, collect
from obskit.sources.shipped import lookup
from tests.live.conftest import loopback, reply

from ..conftest import DATA

T0 = pd.Timestamp("2024-05-14T10:00:00Z")
EXPIRED = {
    "error": {
        "root_cause": [
            {
                "type": "search_context_missing_exception",
                "reason": "No search context found for id [91]",
            }
        ],
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "phase": "query",
        "grouped": True,
    },
    "status": 404,
}


def documents() -> list[dict]:
    docs = []
    for i in range(30):
        ms = i * 100 if i < 20 else 2000  # the last ten share one millisecond
        docs.append(
            {
                "_index": "fluent-bit-2024.05.14",
                "_id": f"fb-{i:02d}",
                "_source": {
                    "@timestamp": (T0 + pd.Timedelta(milliseconds=ms)).isoformat(),
                    "log": f"level=info msg=tick n={i}\n",
                    "stream": "stdout",
                    "kubernetes": {
                        "namespace_name": "shop" if i % 5 else "kube-system",
                        "pod_name": f"cart-{i % 3}",
                        "container_name": "cart",
                        "host": "node-1",
                    },
                },
            }
        )
    mixed = orjson.loads((DATA / "elasticsearch" / "search_mixed.json").read_bytes())
    docs += [h for h in mixed["hits"]["hits"] if "_source" in h]
    return docs


def _time_ms(doc: dict) -> int:
    source = doc["_source"]
    stamp = source.get("@timestamp") or source.get("time")
    return int(pd.Timestamp(stamp).value // 1_000_000)


def _matches(source: dict, clause: dict) -> bool:
    if "range" in clause:
        ((field, window),) = clause["range"].items()
        value = lookup(source, field)
        if value is None:
            return False
        at = pd.Timestamp(value)
        return pd.Timestamp(window["gte"]) <= at <= pd.Timestamp(window["lte"])
    if "terms" in clause:
        ((field, values),) = clause["terms"].items()
        return lookup(source, field.removesuffix(".keyword")) in values
    if "bool" in clause:
        inner = clause["bool"]
        if "filter" in inner and not all(_matches(source, c) for c in inner["filter"]):
            return False
        return "should" not in inner or any(_matches(source, c) for c in inner["should"])
    raise AssertionError(f"the fake does not know {clause}")


class FakeCluster:
    def __init__(self, flavor: str = "elasticsearch") -> None:
        self.flavor = flavor
        self.docs = sorted(documents(), key=_time_ms)
        self.searches: list[dict] = []
        self.opened = 0
        self.closed: list[dict] = []
        self.pits: set[str] = set()
        self.indices: dict[str, list[str]] = {}
        self.faults: list[str] = []
        self.shard_failure = False

    def handle(self, request) -> None:
        path, body = request.path.split("?")[0], request.body
        if request.command == "GET" and path == "/":
            version = {"number": "8.13.4", "build_flavor": "default"}
            if self.flavor == "opensearch":
                version = {"distribution": "opensearch", "number": "2.13.0"}
            return reply(
                request, 200, {"name": "node-1", "cluster_name": "logs", "version": version}
            )
        if request.command == "POST" and path.endswith(("/_pit", "/_search/point_in_time")):
            assert path.endswith("/_pit") == (self.flavor == "elasticsearch"), path
            self.opened += 1
            pit = f"pit-{self.opened}"
            self.pits.add(pit)
            self.indices[pit] = unquote(path.split("/")[1]).split(",")
            shards = {"total": 2, "successful": 2, "skipped": 0, "failed": 0}
            if self.flavor == "opensearch":
                return reply(request, 200, {"pit_id": pit, "_shards": shards, "creation_time": 1})
            return reply(request, 200, {"id": pit, "_shards": shards})
        if request.command == "DELETE":
            self.closed.append(orjson.loads(body))
            return reply(request, 200, {"succeeded": True, "num_freed": 1})
        assert request.command == "POST" and path == "/_search", (request.command, path)
        return self.search(request, orjson.loads(body))

    def search(self, request, body: dict) -> None:
        self.searches.append(body)
        assert "from" not in body and body["size"] <= 10_000
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "expire":
                self.pits.clear()
            elif fault == "429":
                return reply(request, 429, {"status": 429}, {"Retry-After": "0"})
            elif fault == "hang":
                time.sleep(3)
                return reply(request, 200, {})
        if body["pit"]["id"] not in self.pits:
            return reply(request, 404, EXPIRED)
        patterns = self.indices[body["pit"]["id"]]
        chosen = [
            (_time_ms(d), n, d)
            for n, d in enumerate(self.docs)
            if any(fnmatch(d["_index"], p) for p in patterns)
            and _matches(d["_source"], body["query"])
        ]
        after = body.get("search_after")
        if after is not None:  # strictly after: equal sort values are skipped
            chosen = [c for c in chosen if (c[0], c[1])[: len(after)] > tuple(after)]
        # Elasticsearch adds its _shard_doc tiebreaker to a PIT search's sort values; the
        # OpenSearch stand-in answers the time alone, the case the client must page without it
        tiebreak = self.flavor == "elasticsearch"
        hits = [
            {**d, "_score": None, "sort": [ms, n] if tiebreak else [ms]}
            for ms, n, d in chosen[: body["size"]]
        ]
        shards = {"total": 2, "successful": 2, "skipped": 0, "failed": 0}
        if self.shard_failure:
            shards = {
                "total": 2,
                "successful": 1,
                "skipped": 0,
                "failed": 1,
                "failures": [
                    {
                        "shard": 1,
                        "index": "fluent-bit-2024.05.14",
                        "node": "n2",
                        "reason": {"type": "node_not_connected_exception", "reason": "gone"},
                    }
                ],
            }
        answer = {
            "pit_id": body["pit"]["id"],
            "took": 3,
            "timed_out": False,
            "_shards": shards,
            "hits": {"total": {"value": len(chosen), "relation": "eq"}, "max_score": None},
        }
        answer["hits"]["hits"] = hits
        reply(request, 200, answer)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def cluster(request):
    fake = FakeCluster(request.param)
    with loopback(fake.handle) as server:
        fake.url = server.url
        yield fake


def shop(fake: FakeCluster, lo: pd.Timestamp, hi: pd.Timestamp) -> set[str]:
    return {
        d["_id"]
        for d in fake.docs
        if _matches(d["_source"], Elasticsearch(fake.url).query(lo, hi, namespaces=["shop"]))
    }


def test_pages_through_a_point_in_time_and_closes_it(cluster):
    es = Elasticsearch(cluster.url, index="fluent-bit-*", page_size=4)
    lo, hi = T0, T0 + pd.Timedelta(seconds=3)
    result = es.search(lo, hi, namespaces=["shop"])
    logs = result.logs
    schema.validate("logs", logs)
    want = shop(cluster, lo, hi)
    assert len(want) == 24 and len(logs) == 24 and result.balanced()
    assert set(logs["namespace"].astype(str)) == {"shop"}
    assert logs["timestamp"].is_monotonic_increasing
    assert cluster.opened == 1
    assert all(s["pit"]["id"] == "pit-1" for s in cluster.searches)
    if cluster.flavor == "elasticsearch":  # exact paging on the tiebreaker
        assert es.pages == 24 // 4 + 1
        assert "search_after" in cluster.searches[1]
    else:  # no tiebreaker: each page starts at the last time read; 8 share one millisecond
        assert all("search_after" not in s for s in cluster.searches)
        assert max(s["size"] for s in cluster.searches) > 8  # grown past the crowd
    assert len(cluster.closed) == 1 and es.gaps == []
    query = cluster.searches[0]["query"]["bool"]["filter"]
    assert query[0]["range"]["@timestamp"]["gte"] == "2024-05-14T10:00:00.000000000Z"
    assert {"terms": {"kubernetes.namespace_name.keyword": ["shop"]}} in query[1]["bool"]["should"]


def test_an_expired_point_in_time_is_reopened_and_nothing_is_lost_or_repeated(cluster):
    es = Elasticsearch(cluster.url, page_size=7, flavor=cluster.flavor)
    # the fourth page finds its point in time gone; the third ended inside the ten documents
    # of one millisecond, five of them kept: the resumed search must skip exactly those
    cluster.faults = ["ok", "ok", "ok", "expire"]
    lo, hi = T0, T0 + pd.Timedelta(seconds=3)
    result = es.search(lo, hi, namespaces=["shop"])
    ids = [f"fb-{int(m.split('n=')[1]):02d}" for m in result.logs["message"]]
    assert sorted(ids) == sorted(shop(cluster, lo, hi))
    assert len(ids) == len(set(ids))
    assert cluster.opened == 2
    assert len(es.gaps) == 1
    assert re.search(
        r"point in time .* expired after \d+ documents at 2024-05-14 10:00:02", es.gaps[0]
    )
    resumed = cluster.searches[4]["query"]["bool"]["filter"][0]["range"]["@timestamp"]["gte"]
    assert resumed == "2024-05-14T10:00:02.000000000Z"  # where the last page ended


def test_every_kind_of_document_and_the_shard_failures_reach_the_investigation(cluster):
    cluster.shard_failure = True
    shippers = Elasticsearch(
        cluster.url, index="fluent-bit-*,k8s-*,.ds-logs-*,metricbeat-*", page_size=5
    )
    # this Falcosidekick document carries its time in "time" only (older releases wrote no
    # "@timestamp")
    falco = Elasticsearch(cluster.url, index="falco-*", time_field="time")
    inv = collect(
        "2019-04-01T17:50Z", "2019-04-01T18:00Z", elasticsearch=[shippers, falco], progress=False
    )
    assert sorted(inv.events["source"].astype(str)) == ["audit", "falco", "kubernetes"]
    assert len(inv.logs) == 4 and len(inv.rejects) == 1  # the Metricbeat document
    assert len(inv.files) == 2 and inv.files["balanced"].all()
    assert inv.files["records"].sum() == 8 and set(inv.files["format"]) == {"es-search"}
    assert "_search?query=" in inv.files["origin"].iloc[0]
    gaps = [n for n in inv.notes if n.startswith("coverage gap: ")]
    assert any("1 of 2 shards failed" in g and "node_not_connected" in g for g in gaps)


def test_rate_limits_are_waited_out_and_a_hung_server_hits_the_deadline():
    fake = FakeCluster()
    with loopback(fake.handle) as server:
        fake.faults = ["429"]
        logs = Elasticsearch(server.url, page_size=50).search(T0, T0 + pd.Timedelta(seconds=3)).logs
        assert len(logs) == 30
        fake.faults = ["hang"]
        started = time.monotonic()
        with pytest.raises(CollectionError, match=r"did not answer .* within timeout=0.5"):
            Elasticsearch(server.url, timeout=0.5, retries=0).search(T0, T0 + pd.Timedelta(1, "s"))
        assert time.monotonic() - started < 2


def test_credentials_come_from_the_environment_and_never_show(monkeypatch):
    fake = FakeCluster()
    monkeypatch.setenv("ES_KEY", "c2VjcmV0LWtleQ==")
    with loopback(fake.handle) as server:
        es = Elasticsearch(server.url, api_key_env="ES_KEY")
        es.search(T0, T0 + pd.Timedelta(seconds=1))
        assert server.requests[0]["headers"]["Authorization"] == "ApiKey c2VjcmV0LWtleQ=="
        assert "c2VjcmV0" not in repr(es) and "c2VjcmV0" not in es.last_origin
    monkeypatch.delenv("ES_KEY")
    with pytest.raises(CollectionError, match=r"'ES_KEY', which is not set"):
        Elasticsearch("http://127.0.0.1:9", api_key_env="ES_KEY")


def test_options_are_checked():
    with pytest.raises(CollectionError, match=r"page_size must be between 1 and 10,000"):
        Elasticsearch("http://127.0.0.1:9", page_size=20_000)
    with pytest.raises(CollectionError, match=r"flavor must be 'elasticsearch', 'opensearch'"):
        Elasticsearch("http://127.0.0.1:9", flavor="solr")
    with pytest.raises(CollectionError, match=r"namespace filter must be names"):
        Elasticsearch("http://127.0.0.1:9").query(T0, T0, namespaces=[""])


def test_pods_are_pushed_down_and_limit_stops_early(cluster):
    es = Elasticsearch(cluster.url, page_size=2, flavor=cluster.flavor)
    logs = es.search(T0, T0 + pd.Timedelta(seconds=3), pods=["cart-1"], limit=5).logs
    assert len(logs) == 5 and set(logs["pod"].astype(str)) == {"cart-1"}
    assert logs["timestamp"].is_monotonic_increasing
    should = cluster.searches[0]["query"]["bool"]["filter"][1]["bool"]["should"]
    assert {"terms": {"kubernetes.pod.name": ["cart-1"]}} in should
