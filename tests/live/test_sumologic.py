"""The live Sumo Logic client against a loopback server serving the vendor-documented answers.

The bodies are tests/data/sumologic/ (built field by field from Sumo Logic's API documentation;
see its SOURCES.md). The server behaves as the documentation says: creating a job answers 202
with its id and sets a cookie that every later request of the job must carry (a 404 otherwise);
the job's state goes NOT STARTED -> GATHERING RESULTS -> DONE GATHERING RESULTS (or FORCE PAUSED
or CANCELLED); messages and records are paged by ``offset`` and ``limit``; the job is deleted.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import orjson
import pandas as pd
import pytest

from obskit import schema
from obskit.errors import CollectionError
from obskit.live import SumoLogic, collect
from tests.live.conftest import loopback, reply

from ..conftest import DATA

BODIES = DATA / "sumologic"
JOB = "IQ7ZS-AH2M5-XGQJ3"
START, END = "2024-05-14T10:00Z", "2024-05-14T10:05Z"


def body(name: str) -> dict:
    return orjson.loads((BODIES / name).read_bytes())


class FakeSumo:
    def __init__(self) -> None:
        self.states = ["NOT STARTED", "GATHERING RESULTS", "DONE GATHERING RESULTS"]
        self.created: list[dict] = []
        self.deleted: list[str] = []
        self.pages: list[dict] = []
        self.faults: list[str] = []
        self.paging_fails = False
        self.warnings: list[str] = []

    def handle(self, request) -> None:
        url = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.faults and self.faults[0] == "429":
            self.faults.pop(0)
            error = {"status": 429, "id": "0R3X6-1", "code": "rate.limit.exceeded"}
            return reply(
                request, 429, {**error, "message": "Rate limit exceeded."}, {"Retry-After": "0"}
            )
        if request.command == "POST" and url.path == "/api/v1/search/jobs":
            self.created.append(orjson.loads(request.body))
            return reply(request, 202, body("create.json"), {"Set-Cookie": "AWSALB=node-7; Path=/"})
        if request.command == "POST" and url.path == "/api/v1/metricsQueries":
            self.created.append(orjson.loads(request.body))
            return reply(request, 200, body("metrics.json"))
        if "AWSALB=node-7" not in (request.headers.get("Cookie") or ""):
            return reply(
                request,
                404,
                {"status": 404, "code": "jobid.invalid", "message": "Job ID is invalid."},
            )
        if request.command == "DELETE":
            self.deleted.append(url.path.rsplit("/", 1)[1])
            return reply(request, 200, {"id": JOB})
        if url.path == f"/api/v1/search/jobs/{JOB}":
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            status = (
                body("status_done.json")
                if state in ("DONE GATHERING RESULTS", "FORCE PAUSED")
                else body("status_gathering.json")
            )
            status["state"] = state
            status["pendingWarnings"], self.warnings = self.warnings, []
            return reply(request, 200, status)
        what = url.path.rsplit("/", 1)[1]
        self.pages.append({"what": what, **query})
        if self.paging_fails:
            return reply(
                request,
                500,
                {"status": 500, "code": "internal.error", "message": "Internal server error."},
            )
        items = body(f"{what}.json")
        offset, limit = int(query["offset"]), int(query["limit"])
        items[what] = items[what][offset : offset + limit]
        reply(request, 200, items)


@pytest.fixture
def sumo_env(monkeypatch):
    monkeypatch.setenv("SUMO_ACCESS_ID", "suTESTID")
    monkeypatch.setenv("SUMO_ACCESS_KEY", "k3y-Zz9-not-for-eyes")


@pytest.fixture
def sumo(sumo_env):
    fake = FakeSumo()
    with loopback(fake.handle) as server:
        fake.url = server.url
        fake.server = server
        yield fake


def client(url: str, **kwargs) -> SumoLogic:
    return SumoLogic(url, poll_every=0.01, **kwargs)


def test_a_search_job_runs_is_paged_and_deleted(sumo):
    s = client(sumo.url, page_size=3)
    result = s.search_result("namespace=shop", START, END)
    created = sumo.created[0]
    assert created == {
        "query": "namespace=shop",
        "from": "1715680800000",
        "to": "1715681100001",
        "timeZone": "UTC",
        "byReceiptTime": False,
    }
    assert [p["offset"] for p in sumo.pages if p["what"] == "messages"] == ["0", "3", "6"]
    assert [p["limit"] for p in sumo.pages if p["what"] == "messages"] == ["3", "3", "2"]
    assert sumo.deleted == [JOB]
    auth = sumo.server.requests[0]["headers"]["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"suTESTID:k3y-Zz9-not-for-eyes"
    assert result.balanced() and result.records == 8 + 3
    logs, events = result.logs, result.events
    schema.validate("logs", logs)
    assert len(logs) == 6 and logs["timestamp"].is_monotonic_increasing
    cart = logs[logs["pod"] == "cart-7d9f8b6c4-x2x9z"]
    assert cart[["cluster", "namespace", "container", "workload_kind", "workload"]].iloc[
        0
    ].tolist() == [
        "prod-eu",
        "shop",
        "cart",
        "Deployment",
        "cart",
    ]
    assert cart["level"].astype(str).tolist() == ["info", "error"]
    payments = logs[logs["pod"] == "payments-0"].iloc[0]
    assert (payments["message"], payments["stream"]) == (
        "2024-05-14 10:00:02 ERROR connection reset by peer",
        "stderr",
    )
    assert sorted(events["source"].astype(str)) == ["falco", "kubernetes"]
    falco = events[events["source"] == "falco"].iloc[0]
    assert (falco["namespace"], falco["pod"]) == ("shop", "cart-7d9f8b6c4-x2x9z")
    metrics = result.metrics
    assert metrics.set_index("pod")["value"].to_dict() == {
        "cart-7d9f8b6c4-x2x9z": 2.0,
        "coredns-5c98db65d4-8zv7k": 2.0,
        "payments-0": 1.0,
    }


def test_a_force_paused_job_and_its_warnings_are_coverage_gaps(sumo):
    sumo.states = ["GATHERING RESULTS", "FORCE PAUSED"]
    sumo.warnings = ["The query produced a large number of results"]
    s = client(sumo.url, scope="cluster=prod-eu")
    inv = collect(START, END, sumologic=s, namespaces=["shop", "kube-system"], progress=False)
    assert sumo.created[0]["query"] == "cluster=prod-eu (namespace=shop or namespace=kube-system)"
    gaps = [n for n in inv.notes if n.startswith("coverage gap: ")]
    assert any("paused the search job at its message limit" in g for g in gaps)
    assert any("between 2024-05-14 10:00:00+00:00 and 2024-05-14 10:00:00+00:00" in g for g in gaps)
    assert any("large number of results" in g for g in gaps)
    assert inv.files["format"].tolist() == ["sumologic-search"] and inv.files["balanced"].all()
    assert "suTESTID" not in inv.files["origin"].iloc[0] and "k3y" not in " ".join(inv.notes)


def test_rate_limits_are_retried_and_a_failure_still_deletes_the_job(sumo):
    sumo.faults = ["429", "429"]
    assert len(client(sumo.url).search("*", START, END)) == 6
    sumo.paging_fails = True
    sumo.states = ["DONE GATHERING RESULTS"]
    with pytest.raises(CollectionError, match=r"HTTP 500 .* after 2 attempts") as caught:
        client(sumo.url, retries=1).search("*", START, END)
    assert "k3y-Zz9" not in str(caught.value)
    assert sumo.deleted == [JOB, JOB]


def test_a_cancelled_job_is_an_error_and_is_deleted(sumo):
    sumo.states = ["GATHERING RESULTS", "CANCELLED"]
    with pytest.raises(CollectionError, match=r"cancelled the search job for '\*'"):
        client(sumo.url).search("*", START, END)
    assert sumo.deleted == [JOB]


def test_metrics_queries_land_in_the_metrics_frame(sumo):
    s = client(sumo.url, metrics={"memory": "metric=container_memory_working_set_bytes"})
    inv = collect(START, END, sumologic=s, progress=False)
    request = sumo.created[-1]
    assert request["queries"][0]["query"] == "metric=container_memory_working_set_bytes"
    assert request["timeRange"]["from"] == {
        "type": "EpochTimeRangeBoundary",
        "epochMillis": 1715680800000,
    }
    memory = inv.metrics[inv.metrics["metric"] == "memory"]
    assert len(memory) == 6
    assert set(memory["pod"].astype(str)) == {"cart-7d9f8b6c4-x2x9z", "payments-0"}
    assert memory.loc[memory["pod"] == "payments-0", "workload"].astype(str).unique().tolist() == [
        "payments"
    ]
    assert memory["timestamp"].min() == pd.Timestamp("2024-05-14T10:00:00Z")


def test_credentials_are_read_from_the_environment_and_never_shown(sumo_env, monkeypatch):
    s = SumoLogic("https://api.us2.sumologic.com/api/v1/")
    assert repr(s) == "SumoLogic('https://api.us2.sumologic.com', scope='*')"
    monkeypatch.delenv("SUMO_ACCESS_KEY")
    with pytest.raises(CollectionError, match=r"'SUMO_ACCESS_KEY', which is not set"):
        SumoLogic("https://api.sumologic.com")
    with pytest.raises(CollectionError, match=r"page_size must be between 1 and 10,000"):
        SumoLogic("https://api.sumologic.com", access_key_env="SUMO_ACCESS_ID", page_size=0)
