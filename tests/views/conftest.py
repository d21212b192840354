"""Fixtures for the views: one bundled incident (loaded once) and a small hostile one."""

from __future__ import annotations

import pandas as pd
import pytest

import obskit

XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")


@pytest.fixture(scope="session")
def checkout() -> obskit.Investigation:
    return obskit.datasets.load("checkout-oom")


@pytest.fixture(scope="session")
def rollout() -> obskit.Investigation:
    return obskit.datasets.load("bad-rollout")


def _pod(
    name: str,
    namespace: str,
    node: str,
    labels: dict,
    containers: list[str],
    owner: tuple[str, str] | None,
    created: str,
) -> dict:
    return {
        "kind": "Pod",
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "pod": name,
        "node": node,
        "labels": labels,
        "containers": containers,
        "owner_kind": owner[0] if owner else None,
        "owner_name": owner[1] if owner else None,
        "owner_uid": f"uid-{owner[1]}" if owner else None,
        "created": created,
        "phase": "Running",
    }


@pytest.fixture
def hostile() -> obskit.Investigation:
    """A tiny cluster whose data carries markup in a label, a log line and an event reason."""
    inventory = pd.DataFrame(
        [
            {
                "kind": "Namespace",
                "name": "shop",
                "namespace": "shop",
                "uid": "uid-ns",
                "created": "2024-01-01T00:00:00Z",
            },
            {
                "kind": "Node",
                "name": "node-1",
                "node": "node-1",
                "uid": "uid-node",
                "created": "2024-01-01T00:00:00Z",
            },
            {
                "kind": "Deployment",
                "name": "web",
                "namespace": "shop",
                "uid": "uid-web",
                "created": "2024-01-01T00:00:00Z",
            },
            {
                "kind": "ReplicaSet",
                "name": "web-5d8f6c7b9",
                "namespace": "shop",
                "uid": "uid-web-5d8f6c7b9",
                "owner_kind": "Deployment",
                "owner_name": "web",
                "owner_uid": "uid-web",
                "created": "2024-01-01T00:00:00Z",
            },
            _pod(
                "web-5d8f6c7b9-x2x9z",
                "shop",
                "node-1",
                {"app": "web", "team": XSS[1]},
                ["web", "sidecar"],
                ("ReplicaSet", "web-5d8f6c7b9"),
                "2024-01-01T00:00:00Z",
            ),
            _pod(
                "web-5d8f6c7b9-q7w8k",
                "shop",
                "node-1",
                {"app": "web"},
                ["web", "sidecar"],
                ("ReplicaSet", "web-5d8f6c7b9"),
                "2024-05-01T10:30:00Z",
            ),
            _pod(XSS[0], "shop", "node-1", {"app": "other"}, ["c"], None, "2024-01-01T00:00:00Z"),
            {
                "kind": "Service",
                "name": "web",
                "namespace": "shop",
                "uid": "uid-svc",
                "selector": {"app": "web"},
                "labels": {"note": XSS[0]},
                "created": "2024-01-01T00:00:00Z",
            },
        ]
    )
    t0 = pd.Timestamp("2024-05-01T10:00:00Z")
    logs = pd.DataFrame(
        {
            "timestamp": [str(t0 + pd.Timedelta(minutes=m)) for m in range(0, 60, 5)],
            "namespace": "shop",
            "pod": ["web-5d8f6c7b9-x2x9z"] * 6 + ["web-5d8f6c7b9-q7w8k"] * 4 + ["gone-abc12"] * 2,
            "container": ["web"] * 12,
            "message": [f"ERROR {XSS[0]} {XSS[1]}"] * 3 + ["INFO fine"] * 9,
        }
    )
    events = pd.DataFrame(
        {
            "timestamp": [str(t0 + pd.Timedelta(minutes=m)) for m in (1, 2, 3, 4)],
            "source": ["kubernetes", "kubernetes", "falco", "falco"],
            "severity": ["warning", "info", "critical", "notice"],
            "reason": [XSS[1], "Pulled", "Terminal shell in container", XSS[0]],
            "rule": [None, None, "Terminal shell in container", XSS[0]],
            "message": [XSS[0], "pulled", "shell", "x"],
            "object_kind": ["Pod"] * 4,
            "object_name": ["web-5d8f6c7b9-x2x9z"] * 4,
            "namespace": "shop",
            "pod": ["web-5d8f6c7b9-x2x9z"] * 4,
        }
    )
    metrics = pd.DataFrame(
        {
            "timestamp": [str(t0 + pd.Timedelta(seconds=30 * i)) for i in range(120)] * 2,
            "metric": "container_memory_working_set_bytes",
            "value": [float(i) for i in range(240)],
            "namespace": "shop",
            "pod": ["web-5d8f6c7b9-x2x9z"] * 120 + ["web-5d8f6c7b9-q7w8k"] * 120,
            "container": "web",
            "code": [XSS[1]] * 240,
        }
    )
    return obskit.Investigation(
        metrics=metrics, events=events, logs=logs, inventory=inventory, cluster="test"
    )


@pytest.fixture(scope="session")
def falco_stopped():
    """The cryptominer incident with one node's Falco pod deleted at 19:30, its pods running."""
    inv = obskit.datasets.load("cryptominer")
    inventory = inv.inventory.copy()
    falco = inventory.index[(inventory["workload"] == "falco") & (inventory["kind"] == "Pod")]
    inventory.loc[falco[0], "deleted"] = pd.Timestamp("2024-09-10T19:30:00Z")
    node = str(inventory.loc[falco[0], "node"])
    stopped = obskit.Investigation(
        inv.metrics, inv.events, inv.logs, inventory, cluster=inv.cluster
    )
    return stopped, node
