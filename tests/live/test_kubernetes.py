"""The live Kubernetes client against recorded API responses served on loopback.

No real Kubernetes API server can run here (it needs etcd and a control plane), so a loopback
HTTP server answers the real ``kubernetes`` client with API-format Lists recorded from the
objects in ``tests/data/k8s`` (items without ``kind``/``apiVersion``, as the API sends them),
honouring ``limit`` and ``continue`` as the API server does, and injecting the failures a real
one produces: 401, 403, 404, 410 (expired continue token), 429 with Retry-After, 500, cut
bodies and slow answers.
"""

from __future__ import annotations

import copy
import email.utils
import json
import logging
import re
import time
import traceback
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from obskit import schema
from obskit.analysis.posture import posture
from obskit.errors import CollectionError, ObskitError
from obskit.live import Kubernetes, collect
from obskit.live.collection import GAP
from tests.live.conftest import loopback, reply
from tests.live.faults import (
    cut_chunked,
    endless,
    reset_mid_body,
    retry_at_a_date,
    retry_in_an_hour,
    sign_in_echo,
    trickle_body,
    trickle_headers,
)
from tests.live.kube_replay import PATHS as REPLAY_PATHS
from tests.live.kube_replay import kubeconfig as replay_kubeconfig

DATA = Path(__file__).resolve().parents[1] / "data" / "k8s"
TOKEN = "kube-token-Zx81QmPw0dLr"

#: URL path (without namespace) -> (List kind, apiVersion): the replay's kinds, and core/v1
#: Events (the collect tests read both Event APIs)
LISTS = {
    **{path: (f"{kind}List", version) for path, (kind, version) in REPLAY_PATHS.items()},
    "/api/v1/events": ("EventList", "v1"),
}
_NAMESPACED = re.compile(r"^(/apis?/(?:[^/]+/)?v1)/namespaces/([^/]+)/([^/]+)$")


def _strip(item: dict) -> dict:
    item = copy.deepcopy(item)
    item.pop("kind", None)
    item.pop("apiVersion", None)
    return item


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeApiServer:
    """Recorded objects by list path, paged; ``faults[path]`` is a queue of failures."""

    def __init__(self, now: pd.Timestamp) -> None:
        recorded = json.loads((DATA / "kubectl-get-all.json").read_text())["items"]
        by_kind: dict[str, list[dict]] = {}
        for item in recorded:
            by_kind.setdefault(item["kind"], []).append(item)
        pod = by_kind["Pod"][0]
        pods = [_strip(p) for p in by_kind["Pod"]]
        for i in range(7):  # more pods than a page holds
            extra = _strip(pod)
            extra["metadata"]["name"] = f"checkout-7d9f8b6c4-extra{i}"
            extra["metadata"]["uid"] = f"extra-uid-{i}"
            pods.append(extra)
        api_event = json.loads((DATA / "events-v1.json").read_text())["items"][0]
        recent, old = _strip(api_event), _strip(api_event)
        recent["metadata"].update(name="recent.1", uid="ev-recent")
        recent["deprecatedFirstTimestamp"] = _stamp(now - pd.Timedelta("20min"))
        recent["deprecatedLastTimestamp"] = _stamp(now - pd.Timedelta("10min"))
        old["metadata"].update(name="old.1", uid="ev-old")
        old["deprecatedFirstTimestamp"] = _stamp(now - pd.Timedelta("5h"))
        old["deprecatedLastTimestamp"] = _stamp(now - pd.Timedelta("5h"))
        core = [_strip(e) for e in by_kind["Event"]]
        for event in core:
            event["lastTimestamp"] = _stamp(now - pd.Timedelta("15min"))
            event["firstTimestamp"] = _stamp(now - pd.Timedelta("16min"))
        self.objects = {path: [] for path in LISTS}
        self.objects["/api/v1/pods"] = pods
        self.objects["/api/v1/nodes"] = [_strip(n) for n in by_kind["Node"]]
        self.objects["/api/v1/services"] = [_strip(s) for s in by_kind["Service"]]
        self.objects["/apis/apps/v1/replicasets"] = [_strip(r) for r in by_kind["ReplicaSet"]]
        self.objects["/apis/apps/v1/deployments"] = [_strip(d) for d in by_kind["Deployment"]]
        self.objects["/apis/events.k8s.io/v1/events"] = [recent, old]
        self.objects["/api/v1/events"] = core
        self.faults: dict[str, list[str]] = {}
        self.seen: list[tuple[str, dict]] = []

    def handle(self, request) -> None:
        url = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.seen.append((url.path, query))
        path, namespace = url.path, None
        match = _NAMESPACED.match(path)
        if match:
            path, namespace = f"{match.group(1)}/{match.group(3)}", match.group(2)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return reply(request, 401, _status(401, "Unauthorized"))
        queue = self.faults.get(path) or []
        fault = queue.pop(0) if queue else None
        if callable(fault):  # an answer of tests.live.faults
            return fault(request)
        if fault == "401":
            return reply(request, 401, _status(401, f"Unauthorized: token {TOKEN} expired"))
        if fault == "403":
            return reply(request, 403, _status(403, f'{path} is forbidden: User "analyst"'))
        if fault == "404":
            return reply(request, 404, _status(404, "the server could not find the resource"))
        if fault == "410" and query.get("continue"):
            return reply(request, 410, _status(410, "The provided continue parameter is too old"))
        if fault == "429":
            return reply(request, 429, _status(429, "Too many requests"), {"Retry-After": "1"})
        if fault == "500":
            return reply(request, 500, _status(500, "etcdserver: request timed out"))
        if fault == "status-200":  # an error document in a 200, as some proxies answer
            return reply(request, 200, _status(500, "etcdserver: leader changed"))
        if fault == "not-a-list":  # a proxy's own JSON error
            return reply(request, 200, {"error": "upstream connect error"})
        if fault == "403-in-200":
            return reply(request, 200, _status(403, f'{path} is forbidden: User "analyst"'))
        if fault == "slow":
            time.sleep(1.5)
        if path not in LISTS:
            return reply(request, 404, _status(404, "the server could not find the resource"))
        kind, api_version = LISTS[path]
        items = [
            i
            for i in self.objects[path]
            if namespace is None or i["metadata"].get("namespace") == namespace
        ]
        offset = int(query.get("continue") or 0)
        limit = int(query.get("limit") or len(items) or 1)
        page = items[offset : offset + limit]
        meta = {"resourceVersion": "4242"}
        if offset + limit < len(items):
            meta["continue"] = str(offset + limit)
        body = {"kind": kind, "apiVersion": api_version, "metadata": meta, "items": page}
        if fault == "truncated":
            data = json.dumps(body).encode()
            return reply(request, 200, data[: len(data) // 2], content_length=len(data) // 2)
        return reply(request, 200, body)


def _status(code: int, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden" if code == 403 else "",
        "code": code,
    }


@pytest.fixture
def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")


@pytest.fixture
def api(now):
    fake = FakeApiServer(now)
    with loopback(fake.handle) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def kubeconfig(api, tmp_path) -> Path:
    return replay_kubeconfig(api.url, tmp_path, TOKEN)


def kube(kubeconfig: Path, **kwargs) -> Kubernetes:
    return Kubernetes(kubeconfig=kubeconfig, context="recorded", **kwargs)


def test_pods_are_paged_with_limit_and_continue(api, kubeconfig):
    result = kube(kubeconfig, page_size=3).pods()
    pods = result.inventory
    assert len(pods) == 9 and pods["name"].is_unique
    assert result.balanced()
    schema.validate("inventory", pods)
    calls = [q for path, q in api.seen if path == "/api/v1/pods"]
    assert [q.get("continue") for q in calls] == [None, "3", "6"]
    assert all(q["limit"] == "3" for q in calls)
    assert set(pods["kind"]) == {"Pod"}  # the List's kind was given to its items


def test_namespaces_are_pushed_down(api, kubeconfig):
    pods = kube(kubeconfig).pods(namespaces=["ops"]).inventory
    assert pods["name"].tolist() == ["report-28599000-abcde"]
    assert ("/api/v1/namespaces/ops/pods", {"limit": "500"}) in api.seen
    assert not any(path == "/api/v1/pods" for path, _ in api.seen)


def test_inventory_resolves_owner_chain(api, kubeconfig):
    inv = kube(kubeconfig).inventory(["shop"])
    kinds = inv.inventory.groupby("kind", observed=True).size().to_dict()
    assert kinds == {"Deployment": 1, "Node": 1, "Pod": 8, "ReplicaSet": 1, "Service": 1}


def test_inventory_lists_what_posture_reads(api, kubeconfig):
    """Namespaces, RBAC and NetworkPolicies land in the inventory with their objects, cluster-
    scoped ones listed once whatever the namespaces, and posture finds what they say."""
    api.objects["/api/v1/namespaces"] = [
        {"metadata": {"name": "shop", "uid": "ns-shop", "labels": {"team": "shop"}}}
    ]
    api.objects["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"] = [
        {
            "metadata": {"name": "ci-admin", "uid": "crb-1"},
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "shop"}],
        }
    ]
    api.objects["/apis/networking.k8s.io/v1/networkpolicies"] = [
        {"metadata": {"name": "deny", "namespace": "shop", "uid": "np-1"}, "spec": {}}
    ]
    inv = kube(kubeconfig).inventory(["shop"])
    kinds = inv.inventory.groupby("kind", observed=True).size().to_dict()
    assert {"Namespace": 1, "ClusterRoleBinding": 1, "NetworkPolicy": 1}.items() <= kinds.items()
    listed = [path for path, _ in api.seen]
    assert listed.count("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings") == 1
    assert "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings" in listed
    found = posture(inv.inventory)
    assert "shop:ci" in set(found.loc[found.control == "rbac.cluster-admin", "object_name"])
    assert "netpol.none" not in set(found.control)
    assert "psa.no-enforce" in set(found.control)


def test_events_use_events_v1_and_keep_the_window(api, kubeconfig, now):
    result = kube(kubeconfig).events(None, now - pd.Timedelta("1h"), now)
    events = result.events
    assert events["uid"].tolist() == ["ev-recent"]
    assert events["reason"].tolist() == ["Unhealthy"]
    assert events["container"].tolist() == ["checkout"]  # regarding.fieldPath, events.k8s.io
    assert "1 events outside the window were not kept" in result.notes
    assert result.balanced()


def test_events_fall_back_to_core_v1_when_events_v1_is_not_served(api, kubeconfig, now):
    api.faults["/apis/events.k8s.io/v1/events"] = ["404"]
    result = kube(kubeconfig).events(None, now - pd.Timedelta("1h"), now)
    assert len(result.events) == 3
    assert any("core/v1" in n for n in result.notes)


def test_collect_records_the_event_expiry_gap_and_forbidden_lists(api, kubeconfig, now):
    api.faults["/api/v1/nodes"] = ["403"]
    start = now - pd.Timedelta("3h")
    inv = collect(start, now, kubernetes=kube(kubeconfig), cluster="recorded", progress=False)
    gaps = [n for n in inv.notes if n.startswith(GAP)]
    assert any("kubernetes events from" in g and "--event-ttl" in g for g in gaps)
    assert any("nodes" in g and "403" in g for g in gaps)
    assert "Node" not in set(inv.inventory["kind"])
    assert inv.events["uid"].tolist() == ["ev-recent"]
    # the pod's event is keyed through the inventory: pod -> ReplicaSet -> Deployment
    assert inv.events["workload"].tolist() == ["checkout"]
    assert (inv.start, inv.end) == (start, now)


def test_retries_429_and_500_then_succeeds(api, kubeconfig):
    api.faults["/api/v1/pods"] = ["429", "500"]
    t0 = time.monotonic()
    pods = kube(kubeconfig).pods().inventory
    assert len(pods) == 9
    assert time.monotonic() - t0 >= 1.0  # Retry-After: 1 was honoured
    assert sum(1 for path, _ in api.seen if path == "/api/v1/pods") == 3


def test_truncated_body_is_retried(api, kubeconfig):
    api.faults["/api/v1/nodes"] = ["truncated"]
    assert len(kube(kubeconfig).nodes().inventory) == 1
    assert sum(1 for path, _ in api.seen if path == "/api/v1/nodes") == 2


def test_expired_continue_token_restarts_the_list(api, kubeconfig):
    api.faults["/api/v1/pods"] = [None, "410"]
    pods = kube(kubeconfig, page_size=4).pods().inventory
    assert len(pods) == 9 and pods["uid"].is_unique


def test_server_errors_name_the_url_the_list_and_the_fix(api, kubeconfig):
    api.faults["/api/v1/pods"] = ["500"] * 3
    with pytest.raises(CollectionError, match=r"HTTP 500.*listing pods.*etcdserver.*retry later"):
        kube(kubeconfig, retries=2).pods()
    api.faults["/api/v1/pods"] = ["403"]
    with pytest.raises(CollectionError, match=r"403.*listing pods.*RBAC 'list'"):
        kube(kubeconfig).inventory()


def test_timeout(api, kubeconfig):
    api.faults["/api/v1/nodes"] = ["slow"]
    t0 = time.monotonic()
    with pytest.raises(CollectionError, match=r"did not answer within timeout=0.3s"):
        kube(kubeconfig, timeout=0.3).nodes()
    assert time.monotonic() - t0 < 1.4


def test_token_never_shown(api, kubeconfig, caplog):
    caplog.set_level("DEBUG")
    client = kube(kubeconfig, retries=0)
    api.faults["/api/v1/pods"] = ["401"]
    with pytest.raises(CollectionError) as info:
        client.pods()
    shown = [repr(client), str(info.value), repr(info.value), caplog.text]
    shown.append("".join(traceback.format_exception(info.value)))
    assert "401" in str(info.value) and api.url in str(info.value)
    for text in shown:
        assert TOKEN not in text
    assert "***" in str(info.value)  # the server echoed the token; it was redacted


def test_bad_kubeconfig_says_what_to_do(tmp_path):
    with pytest.raises(CollectionError, match=r"cannot load the Kubernetes configuration"):
        Kubernetes(kubeconfig=tmp_path / "missing")


# --- the fault matrix: each ends in an ObskitError that names the server, the list and the fix,
# --- shows no credential, and ends within the timeout (one request, retries included)

FAULTS = {
    "trickled-body": (
        [trickle_body],
        r"did not answer within timeout=1.5s while listing nodes \(its answer came too slowly\)"
        r"; restrict namespaces=, lower page_size= or raise timeout=",
    ),
    "trickled-headers": ([trickle_headers], r"did not answer within timeout=1.5s while listing"),
    "endless-body": (
        [endless],
        r"answered with more than 1,048,576 bytes, over max_bytes=1048576 while listing nodes; "
        r"lower page_size= or raise max_bytes=",
    ),
    "cut-chunked-body": (
        [cut_chunked] * 3,
        r"cut its answer short while listing nodes.*3 attempts",
    ),
    "reset-mid-body": ([reset_mid_body] * 3, r"cut its answer short.*3 attempts.*page_size="),
    "retry-after-3600": (
        [retry_in_an_hour],
        r"HTTP 429.*listing nodes.*retried in 3600s \(after .* UTC\).*raise timeout=",
    ),
    "retry-after-http-date": ([retry_at_a_date], r"HTTP 503.*retried in 3[56]\d\ds \(after "),
    "error-document-in-a-200": (
        ["status-200"],
        r"answered HTTP 200 with a Status error \(500\) while listing nodes: 'etcdserver: "
        r"leader changed'; the API server failed; retry later",
    ),
    "sign-in-page": (
        [sign_in_echo],
        r"answered with an HTML sign-in page titled 'Sign in - Corp SSO', not JSON, while "
        r"listing nodes.*single sign-on",
    ),
    "json-that-is-not-a-list": (
        ["not-a-list"],
        r"answered with a JSON dict, not a Kubernetes List, while listing nodes: "
        r"'\{\"error\":\"upstream connect error\"\}'; check the server URL",
    ),
    "403-in-a-200": (["403-in-200"], r"Status error \(403\) while listing nodes.*RBAC 'list'"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault(api, kubeconfig, name, caplog):
    answers, match = FAULTS[name]
    caplog.set_level(logging.DEBUG)
    api.faults["/api/v1/nodes"] = list(answers)
    client = kube(kubeconfig, timeout=1.5, retries=2, max_bytes=2**20)
    client._api("CoreV1Api")  # its first use imports a large module (~0.5 s), before any request
    t0 = time.monotonic()
    with pytest.raises(CollectionError, match=match) as info:
        client.nodes()
    took = time.monotonic() - t0
    assert isinstance(info.value, ObskitError)
    assert api.url in str(info.value)
    assert took < 1.5 + 1.0, f"{name} took {took:.2f}s"
    shown = [str(info.value), repr(info.value), caplog.text, repr(client)]
    shown.append("".join(traceback.format_exception(info.value)))
    for text in shown:
        assert TOKEN not in text
    # a failure that asking again cannot mend is not asked again
    if name not in ("cut-chunked-body", "reset-mid-body"):
        assert sum(1 for path, _ in api.seen if path == "/api/v1/nodes") == 1


def test_a_cut_answer_is_retried_then_read(api, kubeconfig):
    api.faults["/api/v1/nodes"] = [cut_chunked, reset_mid_body]
    assert len(kube(kubeconfig, retries=2).nodes().inventory) == 1
    assert sum(1 for path, _ in api.seen if path == "/api/v1/nodes") == 3


def test_retry_after_as_a_date_is_honoured(api, kubeconfig):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s

    def later(request):
        reply(request, 429, _status(429, "Too many requests"), {"Retry-After": when})

    api.faults["/api/v1/nodes"] = [later]
    t0 = time.monotonic()
    assert len(kube(kubeconfig, timeout=5).nodes().inventory) == 1
    assert 0.9 <= time.monotonic() - t0 < 3


def test_403_on_events_reads_core_v1_or_says_so(api, kubeconfig, now):
    api.faults["/apis/events.k8s.io/v1/events"] = ["403"]
    result = kube(kubeconfig).events(None, now - pd.Timedelta("1h"), now)
    assert len(result.events) == 3
    assert any("may not be read" in n and "core/v1" in n for n in result.notes)
    api.faults["/apis/events.k8s.io/v1/events"] = ["403"]
    api.faults["/api/v1/events"] = ["403"]
    with pytest.raises(CollectionError, match=r"HTTP 403.*listing events.k8s.io/v1.*RBAC"):
        kube(kubeconfig).events()


def test_collect_notes_forbidden_events_and_refuses_when_nothing_is_readable(api, kubeconfig, now):
    api.faults["/apis/events.k8s.io/v1/events"] = ["403"]
    api.faults["/api/v1/events"] = ["403"]
    inv = collect(now - pd.Timedelta("30min"), now, kubernetes=kube(kubeconfig), progress=False)
    assert any(n.startswith(GAP + "skipped a list") and "events" in n for n in inv.notes)
    assert len(inv.inventory) > 0
    for path in LISTS:
        api.faults[path] = ["403"] * 3
    with pytest.raises(CollectionError, match=r"403.*nothing at all could be listed"):
        collect(now - pd.Timedelta("30min"), now, kubernetes=kube(kubeconfig), progress=False)


def test_tls_failure_is_not_retried_and_names_the_ca(certificate, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with loopback(lambda request: reply(request, 200, {}), tls=certificate) as server:
        path = tmp_path / "kubeconfig"
        path.write_text(
            f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "
            f"{server.url}\nusers:\n- name: u\n  user:\n    token: {TOKEN}\ncontexts:\n- "
            f"name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
        )
        t0 = time.monotonic()
        with pytest.raises(CollectionError) as info:
            Kubernetes(kubeconfig=path, retries=3).nodes()
        assert time.monotonic() - t0 < 1.0
    message = str(info.value)
    assert "TLS failed while listing nodes" in message and "certificate-authority" in message
    assert "VPN" not in message and "retrying" not in caplog.text
    assert TOKEN not in message + caplog.text


def test_credentials_that_cannot_be_refreshed(api, kubeconfig):
    from kubernetes.config import ConfigException

    client = kube(kubeconfig)

    def refresh(configuration):
        raise ConfigException(f"exec plugin failed: token {TOKEN} expired")

    client._client.configuration.refresh_api_key_hook = refresh  # what an exec plugin sets
    with pytest.raises(
        CollectionError, match=r"could not be refreshed while listing nodes"
    ) as info:
        client.nodes()
    assert TOKEN not in str(info.value) and "log in again" in str(info.value)
