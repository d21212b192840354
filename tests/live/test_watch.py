"""``obskit.watch`` against a loopback Kubernetes API that lists and watches as the real one does.

No real Kubernetes API server can run here (it needs etcd and a control plane), so the streams
are replayed: the objects are the recorded ones of ``tests/data/k8s`` (as the API sends them,
items without ``kind``/``apiVersion`` in Lists), and the watch streams are written byte for byte
in the API server's wire format: HTTP/1.1 chunked ``application/json``, one ``WatchEvent`` per
line (``{"type":"ADDED","object":{...}}``), ``BOOKMARK`` events whose object carries only a
``resourceVersion`` (with the empty ``spec``/``status`` and ``"creationTimestamp":null`` the Go
serializer writes), and the ``ERROR`` event with a ``Status`` of code 410 ("too old resource
version: 120 (150)") that an API server sends when a watch's resourceVersion was compacted away.
The real ``kubernetes`` client does the requests. Faults are injected as the API server and the
network produce them: 410 in the stream, a connection cut in the middle of a line, 403 for one
kind.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

import obskit
from obskit import schema
from obskit.live import Kubernetes
from obskit.live.collect import GAP
from tests.live.conftest import loopback, reply

DATA = Path(__file__).resolve().parents[1] / "data" / "k8s"
TOKEN = "kube-watch-token-Q7w2Lr"

#: List path (without namespace) -> (kind, apiVersion)
PATHS = {
    "/api/v1/pods": ("Pod", "v1"),
    "/api/v1/nodes": ("Node", "v1"),
    "/api/v1/services": ("Service", "v1"),
    "/apis/apps/v1/replicasets": ("ReplicaSet", "apps/v1"),
    "/apis/apps/v1/deployments": ("Deployment", "apps/v1"),
    "/apis/apps/v1/statefulsets": ("StatefulSet", "apps/v1"),
    "/apis/apps/v1/daemonsets": ("DaemonSet", "apps/v1"),
    "/apis/batch/v1/jobs": ("Job", "batch/v1"),
    "/apis/batch/v1/cronjobs": ("CronJob", "batch/v1"),
    "/apis/discovery.k8s.io/v1/endpointslices": ("EndpointSlice", "discovery.k8s.io/v1"),
    "/apis/events.k8s.io/v1/events": ("Event", "events.k8s.io/v1"),
}
KIND_PATH = {kind: path for path, (kind, _) in PATHS.items()}


def _namespaced(path: str) -> tuple[str, str | None]:
    parts = path.split("/")
    if "namespaces" in parts:
        i = parts.index("namespaces")
        return "/".join(parts[:i] + parts[i + 2 :]), parts[i + 1]
    return path, None


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _chunk(request, data: bytes) -> None:
    request.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    request.wfile.flush()


class WatchApiServer:
    """A store of objects with a resourceVersion counter and a change log, served as list and
    watch requests; ``faults[path]`` queues failures for the next request of a list path."""

    def __init__(self, watch_seconds: float = 3.0) -> None:
        self.version = 100
        self.store: dict[str, dict[str, dict]] = {path: {} for path in PATHS}
        self.log: list[tuple[int, str, str, dict]] = []  # (rv, path, type, object)
        self.compacted = 0  # a watch from before this resourceVersion gets 410
        self.faults: dict[str, list[str]] = {}
        self.changed = threading.Condition()
        self.watch_seconds = watch_seconds
        self.closing = False
        self.watches: list[dict] = []
        recorded = json.loads((DATA / "kubectl-get-all.json").read_text())["items"]
        for item in recorded:
            if item["kind"] in KIND_PATH:
                self.put(item, record=False)

    # --- the cluster changing ---------------------------------------------------------------

    def put(self, obj: dict, *, record: bool = True) -> dict:
        """Create or update an object (ADDED or MODIFIED in the watch log)."""
        obj = copy.deepcopy(obj)
        path = KIND_PATH[obj["kind"]]
        with self.changed:
            self.version += 1
            obj["metadata"]["resourceVersion"] = str(self.version)
            uid = obj["metadata"]["uid"]
            kind = "MODIFIED" if uid in self.store[path] else "ADDED"
            self.store[path][uid] = obj
            if record:
                self.log.append((self.version, path, kind, copy.deepcopy(obj)))
            self.changed.notify_all()
        return obj

    def delete(self, kind: str, uid: str, *, record: bool = True) -> None:
        path = KIND_PATH[kind]
        with self.changed:
            self.version += 1
            obj = self.store[path].pop(uid)
            obj["metadata"]["resourceVersion"] = str(self.version)
            if record:
                self.log.append((self.version, path, "DELETED", obj))
            self.changed.notify_all()

    def compact(self) -> None:
        """Forget the watch log so far: open watches end with a 410 ERROR event."""
        with self.changed:
            self.compacted = self.version
            self.log.clear()
            self.changed.notify_all()

    # --- serving ----------------------------------------------------------------------------

    def handle(self, request) -> None:
        url = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path, namespace = _namespaced(url.path)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return reply(request, 401, _status(401, "Unauthorized", "Unauthorized"))
        if path not in PATHS:
            return reply(request, 404, _status(404, "NotFound", "the server could not find it"))
        queue = self.faults.get(path) or []
        if queue and queue[0] == "403":
            return reply(
                request,
                403,
                _status(403, "Forbidden", f'{path} is forbidden: User "analyst" cannot list'),
            )
        if query.get("watch") in ("true", "1"):
            return self._watch(request, path, namespace, query)
        kind, api_version = PATHS[path]
        with self.changed:
            items = [
                {k: v for k, v in copy.deepcopy(o).items() if k not in ("kind", "apiVersion")}
                for o in self.store[path].values()
                if namespace is None or o["metadata"].get("namespace") == namespace
            ]
            version = self.version
        body = {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(version)},
            "items": items,
        }
        return reply(request, 200, body)

    def _watch(self, request, path: str, namespace: str | None, query: dict) -> None:
        since = int(query.get("resourceVersion") or 0)
        self.watches.append(
            {"path": path, "since": since, "bookmarks": query.get("allowWatchBookmarks")}
        )
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        kind, api_version = PATHS[path]
        ends = time.monotonic() + self.watch_seconds
        next_bookmark = time.monotonic() + 0.5
        try:
            while time.monotonic() < ends and not self.closing:
                with self.changed:
                    if since < self.compacted:
                        gone = _status(
                            410, "Expired", f"too old resource version: {since} ({self.compacted})"
                        )
                        _chunk(request, _line({"type": "ERROR", "object": gone}))
                        break
                    pending = [
                        (rv, type_, obj)
                        for rv, p, type_, obj in self.log
                        if p == path
                        and rv > since
                        and (namespace is None or obj["metadata"].get("namespace") == namespace)
                    ]
                    horizon = self.version
                    if not pending:
                        self.changed.wait(0.1)
                for rv, type_, obj in pending:
                    line = _line({"type": type_, "object": obj})
                    queue = self.faults.get(path) or []
                    if queue and queue[0] == "cut":
                        queue.pop(0)
                        _chunk(request, line[: len(line) // 2])
                        request.close_connection = True
                        return  # no terminating chunk: the connection is cut mid-line
                    _chunk(request, line)
                    since = rv
                if time.monotonic() >= next_bookmark and query.get("allowWatchBookmarks") == "true":
                    since = max(since, horizon)  # every event of this path up to it was sent
                    _chunk(request, _line(_bookmark(kind, api_version, since)))
                    next_bookmark = time.monotonic() + 0.5
            request.wfile.write(b"0\r\n\r\n")
            request.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def _line(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def _bookmark(kind: str, api_version: str, version: int) -> dict:
    """A BOOKMARK as the API server writes it: the object's kind, only a resourceVersion."""
    return {
        "type": "BOOKMARK",
        "object": {
            "kind": kind,
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(version), "creationTimestamp": None},
            "spec": {"containers": None} if kind == "Pod" else {},
            "status": {},
        },
    }


@pytest.fixture
def api():
    fake = WatchApiServer()
    with loopback(fake.handle) as server:
        fake.url = server.url
        yield fake
        fake.closing = True


@pytest.fixture
def kube(api, tmp_path) -> Kubernetes:
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: recorded
  cluster:
    server: {api.url}
users:
- name: analyst
  user:
    token: {TOKEN}
contexts:
- name: recorded
  context:
    cluster: recorded
    user: analyst
current-context: recorded
"""
    )
    return Kubernetes(kubeconfig=path, timeout=5)


def _recorded(kind: str) -> dict:
    items = json.loads((DATA / "kubectl-get-all.json").read_text())["items"]
    return copy.deepcopy(next(i for i in items if i["kind"] == kind))


def _new_pod(name: str, uid: str, phase: str = "Pending") -> dict:
    pod = _recorded("Pod")  # checkout-7d9f8b6c4-x2x9z, owned by ReplicaSet checkout-7d9f8b6c4
    pod["metadata"].update(name=name, uid=uid, creationTimestamp=_iso(pd.Timestamp.now(tz="UTC")))
    pod["status"]["phase"] = phase
    return pod


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _until(condition, timeout: float = 30.0) -> None:
    """Wait for ``condition()`` to hold (the watch works on its own threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {condition.__doc__ or condition}")


def _listed(w) -> bool:
    status = w.status()
    kube = status[status["source"] == "kubernetes"]
    return len(kube) == 11 and (kube["state"] == "ok").all()


def _changes(w, **match) -> pd.DataFrame:
    frame = w.changes()
    for column, value in match.items():
        frame = frame[frame[column] == value]
    return frame


def test_pods_added_modified_and_deleted_become_change_rows_and_inventory_history(api, kube):
    with obskit.watch(kubernetes=kube, every="0.2s", cluster="recorded") as w:
        _until(lambda: _listed(w))
        assert w.changes().empty  # the first list is the starting state, not a change
        api.put(_new_pod("checkout-7d9f8b6c4-new01", "uid-new01"))
        _until(lambda: len(_changes(w, name="checkout-7d9f8b6c4-new01")) == 1)
        running = _new_pod("checkout-7d9f8b6c4-new01", "uid-new01", phase="Running")
        api.put(running)
        _until(lambda: len(_changes(w, name="checkout-7d9f8b6c4-new01")) == 2)
        before_delete = pd.Timestamp.now(tz="UTC")
        api.delete("Pod", "uid-new01")
        _until(lambda: len(_changes(w, name="checkout-7d9f8b6c4-new01")) == 3)
        inv = w.investigation()
    rows = _changes(w, name="checkout-7d9f8b6c4-new01")
    assert rows["verb"].tolist() == ["added", "modified", "deleted"]
    added, modified, deleted = (rows.iloc[i] for i in range(3))
    # the key comes from the owner chain the watch holds: pod -> ReplicaSet -> Deployment
    assert (added["namespace"], added["workload_kind"], added["workload"], added["cluster"]) == (
        "shop",
        "Deployment",
        "checkout",
        "recorded",
    )
    assert added["node"] == "node-a" and added["owner"] == "ReplicaSet/checkout-7d9f8b6c4"
    assert modified["changed"] == "phase" and modified["phase"] == "Running"
    assert modified["before"] == "phase=Pending"
    assert deleted["phase"] == "Running"
    schema.validate("changes", w.changes())
    # the inventory keeps the deleted pod, with when its deletion was seen
    pods = inv.inventory[inv.inventory["kind"] == "Pod"].set_index("name")
    assert pd.notna(pods.loc["checkout-7d9f8b6c4-new01", "deleted"])
    assert pd.isna(pods.loc["checkout-7d9f8b6c4-x2x9z", "deleted"])
    tree_then = inv.hierarchy_frame(at=before_delete)
    tree_now = inv.hierarchy_frame(at=pd.Timestamp.now(tz="UTC"))
    assert "checkout-7d9f8b6c4-new01" in set(tree_then["pod"].dropna())
    assert "checkout-7d9f8b6c4-new01" not in set(tree_now["pod"].dropna())
    status = w.status().set_index("what")
    assert status.loc["pods", "state"] == "stopped"
    assert status.loc["pods", "changes"] == 3
    assert int(status.loc["pods", "resource_version"]) >= 103
    # every watch asked for bookmarks and resumed from a list's resourceVersion
    assert all(x["bookmarks"] == "true" and x["since"] >= 100 for x in api.watches)


def test_410_relists_and_records_what_vanished_as_seen_missing_without_duplicates(api, kube):
    api.put(_new_pod("checkout-7d9f8b6c4-old01", "uid-old01", phase="Running"), record=False)
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        api.put(_new_pod("checkout-7d9f8b6c4-seen1", "uid-seen1"))  # seen by the watch
        _until(lambda: len(w.changes()) == 1)
        # while the watch is away: one pod deleted, one changed, one created; then the API
        # server compacts its history, so the watch gets "410 too old resource version"
        api.delete("Pod", "uid-old01", record=False)
        api.put(_new_pod("checkout-7d9f8b6c4-seen1", "uid-seen1", phase="Failed"), record=False)
        api.put(_new_pod("checkout-7d9f8b6c4-new02", "uid-new02"), record=False)
        api.compact()
        _until(lambda: len(w.changes()) == 4)
        time.sleep(1.0)  # more bookmarks and reconnects: nothing may be recorded twice
        status = w.status().set_index("what")
    changes = w.changes().set_index("name")
    assert len(changes) == 4
    assert changes.loc["checkout-7d9f8b6c4-old01", "verb"] == "seen-missing"
    assert changes.loc["checkout-7d9f8b6c4-new02", "verb"] == "added"
    seen1 = _changes(w, name="checkout-7d9f8b6c4-seen1")
    assert seen1["verb"].tolist() == ["added", "modified"]
    assert seen1.iloc[1]["before"] == "phase=Pending"
    assert status.loc["pods", "relists"] == 1
    assert status.loc["nodes", "relists"] == 1  # every stream was compacted away
    # an object gone before the relist keeps its row, marked with when its absence was seen
    inv = w.investigation()
    old = inv.inventory.set_index("name").loc["checkout-7d9f8b6c4-old01"]
    assert pd.notna(old["deleted"])


def test_a_connection_cut_mid_line_resumes_after_the_last_complete_line(api, kube):
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        api.faults["/api/v1/pods"] = ["cut"]
        api.put(_new_pod("checkout-7d9f8b6c4-cut01", "uid-cut01"))
        api.put(_new_pod("checkout-7d9f8b6c4-cut01", "uid-cut01", phase="Running"))
        _until(lambda: len(w.changes()) == 2)
        time.sleep(0.5)
        status = w.status().set_index("what")
    assert w.changes()["verb"].tolist() == ["added", "modified"]
    assert status.loc["pods", "errors"] >= 1  # the cut was seen, and said
    assert "the connection was cut" in status.loc["pods", "last_error"]
    assert status.loc["pods", "relists"] == 0  # resumed from the resourceVersion, no relist


def test_a_kind_the_credentials_may_not_list_is_a_coverage_gap_and_the_rest_goes_on(api, kube):
    api.faults["/apis/discovery.k8s.io/v1/endpointslices"] = ["403"]
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: (w.status()["state"] == "ok").sum() == 10)
        api.put(_new_pod("checkout-7d9f8b6c4-new03", "uid-new03"))
        _until(lambda: len(w.changes()) == 1)
        inv = w.investigation()
    status = w.status().set_index("what")
    assert status.loc["endpointslices", "state"] == "forbidden"
    assert "HTTP 403" in status.loc["endpointslices", "last_error"]
    gaps = [n for n in inv.notes if n.startswith(GAP)]
    assert len(gaps) == 1 and "endpointslices" in gaps[0] and "RBAC" in gaps[0]
    assert TOKEN not in " ".join(inv.notes)


def test_events_are_watched_into_the_events_frame(api, kube):
    event = {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "checkout.17d1", "namespace": "shop", "uid": "ev-1"},
        "eventTime": None,
        "reason": "BackOff",
        "note": "Back-off restarting failed container",
        "type": "Warning",
        "regarding": {"kind": "Pod", "namespace": "shop", "name": "checkout-7d9f8b6c4-x2x9z"},
        "deprecatedFirstTimestamp": _iso(pd.Timestamp.now(tz="UTC") - pd.Timedelta("1min")),
        "deprecatedLastTimestamp": _iso(pd.Timestamp.now(tz="UTC")),
        "deprecatedCount": 3,
    }
    with obskit.watch(kubernetes=kube, every="0.2s") as w:
        _until(lambda: _listed(w))
        api.put(event)
        _until(lambda: len(w.investigation().events) == 1)
        inv = w.investigation()
    # the recorded Events are from 2024: older than keep, dropped and counted
    assert w.status().set_index("what").loc["events", "dropped"] == 3
    row = inv.events.iloc[0]
    assert (row["reason"], row["pod"], row["workload"]) == (
        "BackOff",
        "checkout-7d9f8b6c4-x2x9z",
        "checkout",
    )
    assert w.changes().empty  # Events are signals, not object changes


def test_save_writes_a_bundle_with_the_change_log(api, kube, tmp_path):
    with obskit.watch(kubernetes=kube, every="0.2s", cluster="recorded") as w:
        _until(lambda: _listed(w))
        api.put(_new_pod("checkout-7d9f8b6c4-new04", "uid-new04"))
        _until(lambda: len(w.changes()) == 1)
    folder = w.save(tmp_path / "bundle")
    back = obskit.load(folder)
    pd.testing.assert_frame_equal(back.changes, w.changes())
    assert back.cluster == "recorded"
    assert "checkout-7d9f8b6c4-new04" in set(back.inventory["name"])
    assert back.focus(pod="checkout-7d9f8b6c4-new04").changes["verb"].tolist() == ["added"]
