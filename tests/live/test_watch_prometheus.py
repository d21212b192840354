"""``obskit.watch`` reading a real Prometheus that scrapes a real exporter the test changes.

The test starts a ``prometheus_client`` exporter on 127.0.0.1 whose per-pod gauges it sets, and
Debian's ``prometheus`` scraping it every second; the watch reads Prometheus every second. Each
value the exporter showed must reach the watch once, in order, with no gap and no duplicate at
the ticks' edges, including the series of a pod added in the middle of the test.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator

import pandas as pd
import pytest
import requests

import obskit
from tests.live.conftest import free_port, running_prometheus


@pytest.fixture
def exporter():
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    registry = CollectorRegistry()
    gauge = Gauge(
        "obskit_watch_load", "a per-pod load the test sets", ["namespace", "pod"], registry=registry
    )
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield gauge, port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def scraping_prometheus(exporter, tmp_path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        message = "Debian's prometheus package is not installed (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    _, target = exporter
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target}']\n"
    )
    with running_prometheus(binary, config, tmp_path / "data", tmp_path / "prometheus.log") as p:
        _until_scraped(p.url)
        yield p.url


def _until_scraped(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(f"{url}/api/v1/query", params={"query": "up"}, timeout=5).json()
        if any(r["value"][1] == "1" for r in answer["data"]["result"]):
            return
        time.sleep(0.2)
    raise AssertionError("prometheus did not scrape the exporter")


def _values(w: obskit.Watch, pod: str) -> list[float]:
    metrics = w.investigation().metrics
    series = metrics[metrics["pod"] == pod].sort_values("timestamp")
    return series["value"].tolist()


def _until_value(w: obskit.Watch, pod: str, value: float, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value in _values(w, pod):
            return
        time.sleep(0.1)
    raise AssertionError(f"the watch never saw {pod}={value}; it has {_values(w, pod)[-5:]}")


def test_watch_sees_each_new_value_once_including_pods_added_midway(exporter, scraping_prometheus):
    gauge, _ = exporter
    gauge.labels("shop", "web-a").set(1)
    _until_scraped(scraping_prometheus)
    prom = obskit.Prometheus(scraping_prometheus)
    queries = {"load": "obskit_watch_load"}
    with obskit.watch(
        prometheus=prom, queries=queries, every="1s", step="1s", keep="1h", backfill="3s"
    ) as w:
        _until_value(w, "web-a", 1)
        gauge.labels("shop", "web-a").set(2)
        _until_value(w, "web-a", 2)
        gauge.labels("shop", "web-b").set(5)  # a pod that appears mid-watch
        _until_value(w, "web-b", 5)
        gauge.labels("shop", "web-a").set(3)
        gauge.labels("shop", "web-b").set(6)
        _until_value(w, "web-a", 3)
        _until_value(w, "web-b", 6)
        w.wait(ticks=2, timeout=10)  # ticks that re-read the last steps
        inv = w.investigation()
    status = w.status()
    metrics = inv.metrics
    assert set(metrics["pod"]) == {"web-a", "web-b"}
    assert set(metrics["namespace"]) == {"shop"}
    for pod, expected in (("web-a", [1, 2, 3]), ("web-b", [5, 6])):
        series = metrics[metrics["pod"] == pod].sort_values("timestamp")
        # every value once, in the order the exporter showed them
        changes = series["value"].loc[series["value"].diff() != 0].tolist()
        assert changes == expected
        # no duplicate and no gap at the ticks' edges: one sample per step, on the grid
        steps = series["timestamp"].diff().dropna()
        assert (steps == pd.Timedelta("1s")).all(), steps.value_counts()
        assert (series["timestamp"].dt.microsecond == 0).all()
    assert status.loc[0, "state"] == "stopped" and status.loc[0, "errors"] == 0
    assert w.ticks >= 5
    ledger = inv.files.iloc[0]
    assert ledger["balanced"] and ledger["rows"] == len(metrics)


def test_keep_drops_old_samples_and_counts_them(exporter, scraping_prometheus):
    gauge, _ = exporter
    gauge.labels("shop", "web-a").set(1)
    _until_scraped(scraping_prometheus)
    prom = obskit.Prometheus(scraping_prometheus)
    with obskit.watch(
        prometheus=prom, queries={"load": "obskit_watch_load"}, every="1s", step="1s", keep="3s"
    ) as w:
        assert w.wait(ticks=8, timeout=30)
        inv = w.investigation()
        dropped = int(w.status().loc[0, "dropped"])
    stamps = inv.metrics["timestamp"]
    assert stamps.max() - stamps.min() <= pd.Timedelta("3s")
    assert dropped >= 3
    assert len(inv.metrics) <= 4  # memory stays flat once keep is full
    assert inv.start >= inv.end - pd.Timedelta("3s")
