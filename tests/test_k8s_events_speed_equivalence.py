"""kubectl Event Lists: the fast paths of parse_k8s_json give the frames the general paths give.

A long ``kind: List`` is read by Arrow's JSON reader in pieces on two threads (its ``raw`` the
items' compact bytes, joined end to end); a short one, or one Arrow cannot read, item by item
with msgspec; anything else with orjson, one dict per object. Each is checked against the
others on the real captures and on generated Events of odd shapes.
"""

from __future__ import annotations

import json
import random

import orjson
import pandas as pd
import pytest

from obskit.sources import kubernetes as k8s

from .conftest import DATA

NAMES = ("web", "api", "db", "cache", "façade", "数据", "emoji-🚀")


def _event(rng: random.Random, i: int) -> dict:
    """A core/v1 Event as kubectl prints it, with fields dropped, nulled or emptied at random."""
    name = rng.choice(NAMES)
    kind = rng.choice(("Pod", "Pod", "Pod", "Node", "ReplicaSet", "Deployment"))
    second = 10 + i % 50
    stamp = f"2024-06-03T13:18:{second:02d}Z"
    event: dict = {
        "apiVersion": "v1",
        "count": rng.choice((1, 2, 7, 0, None)),
        "eventTime": rng.choice((None, f"2024-06-03T13:17:{second:02d}.123456Z")),
        "firstTimestamp": rng.choice((stamp, stamp, None, "")),
        "involvedObject": {
            "apiVersion": "v1",
            "fieldPath": rng.choice(("", f"spec.containers{{{name}}}", "spec.initContainers{i}")),
            "kind": kind,
            "name": f"{name}-{i % 7}" if kind != "Node" else f"node-{i % 3}",
            "namespace": rng.choice(("shop", "", None)) if kind != "Node" else "",
            "uid": f"uid-{i % 11}",
        },
        "kind": "Event",
        "lastTimestamp": rng.choice((stamp, stamp, stamp, None, "", "2024-06-03T15:18:10+02:00")),
        "message": rng.choice(
            (
                f"Back-off restarting failed container {name}",
                'probe failed: Get "http://10.0.0.1:80/": EOF\ttab\\slash',
                "<none> & \u00e9\u00e8 \U0001f600",
                "",
                None,
            )
        ),
        "metadata": {
            "creationTimestamp": rng.choice((stamp, None)),
            "name": f"{name}.{i:08x}",
            "namespace": rng.choice(("shop", "default", None)),
            "resourceVersion": str(i),
            "uid": f"e-{i}",
        },
        "reason": rng.choice(("BackOff", "Unhealthy", "Scheduled", "", None)),
        "reportingComponent": rng.choice(("kubelet", "", "default-scheduler", None)),
        "reportingInstance": rng.choice(("node-1", "", None)),
        "source": rng.choice(({"component": "kubelet", "host": "node-2"}, {}, None)),
        "type": rng.choice(("Normal", "Warning", None)),
    }
    if rng.random() < 0.3:
        event["series"] = {
            "count": rng.choice((3, None)),
            "lastObservedTime": rng.choice((f"2024-06-03T13:19:{second:02d}.000001Z", None)),
        }
    for field in ("count", "eventTime", "source", "reportingComponent", "firstTimestamp"):
        if rng.random() < 0.1:
            event.pop(field)
    if rng.random() < 0.05:
        event.pop("involvedObject")
    return event


def _events(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [_event(rng, i) for i in range(n)]


def _kubectl(items: list[dict], kind: str = "List", ascii_only: bool = True) -> bytes:
    """``kubectl get -o json`` bytes (Go escapes <, > and & as \\u003c..., as kubectl does)."""
    doc = {"apiVersion": "v1", "items": items, "kind": kind, "metadata": {"resourceVersion": ""}}
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=4, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "p-1"},
    "spec": {"nodeName": "node-1", "containers": [{"name": "web"}]},
    "status": {"phase": "Running"},
}


def _result(
    data: bytes, monkeypatch: pytest.MonkeyPatch, path: str, arrow_read: list | None = None
) -> k8s.ParseResult:
    """parse_k8s_json with the fast paths allowed down to ``path`` (whether Arrow read the
    List appended to ``arrow_read``)."""
    arrow_list = k8s._arrow_list

    def spy(*args):
        read = arrow_list(*args)
        (arrow_read if arrow_read is not None else []).append(read is not None)
        return read

    with monkeypatch.context() as m:
        m.setattr(k8s, "_ARROW_PIECE", 2000)  # many pieces, both threads
        m.setattr(k8s, "_arrow_list", spy)
        if path in ("typed", "dicts"):
            m.setattr(k8s, "_ARROW_ITEMS", 10**9)
        if path == "dicts":
            m.setattr(k8s, "_parse_list", lambda data, origin: None)
        return k8s.parse_k8s_json(data, "events.json")


def _same(a: k8s.ParseResult, b: k8s.ParseResult) -> None:
    assert (a.records, a.merged) == (b.records, b.merged)
    for name in ("events", "inventory", "rejects"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            pd.testing.assert_frame_equal(x, y, check_exact=True)


CASES = {
    "odd": lambda: _kubectl(_events(1500, 1)),
    "unicode": lambda: _kubectl(_events(1200, 2), ascii_only=False),
    "mixed": lambda: _kubectl([*_events(600, 3), POD, *_events(600, 4), POD]),
    "event-list": lambda: _kubectl(
        [{k: v for k, v in e.items() if k != "kind"} for e in _events(1100, 5)], kind="EventList"
    ),
    "no-name": lambda: _kubectl(
        [*_events(700, 6), {"kind": "Event", "metadata": {}}, *_events(700, 7)]
    ),
    "other-api": lambda: _kubectl(
        _events(1100, 8) + orjson.loads((DATA / "k8s/events-v1.json").read_bytes())["items"]
    ),
    "null-item": lambda: _kubectl([*_events(1100, 9), None]),
    "number-item": lambda: _kubectl([*_events(1100, 10), 5]),
    "metav1-times": lambda: _kubectl(
        [{**e, "lastTimestamp": "2024-06-03T13:18:18Z"} for e in _events(1100, 11)]
    ),
}
#: The cases Arrow reads (the others it hands to msgspec, item by item).
ARROW_CASES = {"odd", "unicode", "mixed", "null-item", "metav1-times"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_paths_give_the_general_frames(case, monkeypatch):
    data = CASES[case]()
    arrow_read: list[bool] = []
    fast = _result(data, monkeypatch, "arrow", arrow_read)
    assert (arrow_read == [True]) == (case in ARROW_CASES)
    assert fast.events is not None and len(fast.events) > 1000
    for path in ("typed", "dicts"):
        _same(fast, _result(data, monkeypatch, path))


@pytest.mark.parametrize("name", ["kubectl-get-all.json", "events-v1.json", "podlist-api.json"])
def test_real_captures_read_alike_every_way(name, monkeypatch):
    data = (DATA / "k8s" / name).read_bytes()
    items = orjson.loads(data)["items"]
    # the capture, and the capture's items repeated past the length Arrow reads
    long = orjson.loads(data)
    long["items"] = [
        {**item, "metadata": {**item["metadata"], "name": f"{item['metadata']['name']}.{n}"}}
        for n in range(1 + k8s._ARROW_ITEMS // len(items))
        for item in items
    ]
    for payload in (data, json.dumps(long, indent=4).encode()):
        fast = _result(payload, monkeypatch, "arrow")
        for path in ("typed", "dicts"):
            _same(fast, _result(payload, monkeypatch, path))


def test_raw_is_each_item_compact():
    events = _events(1100, 12)
    result = k8s.parse_k8s_json(_kubectl(events))
    kept = [e for e in events if e.get("lastTimestamp")]
    assert len(kept) > 500 and len(result.events) >= len(kept)
    raws = set(result.events["raw"])
    assert all(orjson.dumps(e, option=orjson.OPT_SORT_KEYS).decode() in raws for e in kept)
