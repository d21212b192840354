"""A loopback Kubernetes API that lists and watches as the real one does, for ``obskit.watch``.

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

import contextlib
import copy
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from obskit.live import Kubernetes
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
    "/api/v1/namespaces": ("Namespace", "v1"),
    "/api/v1/serviceaccounts": ("ServiceAccount", "v1"),
    "/apis/rbac.authorization.k8s.io/v1/roles": ("Role", "rbac.authorization.k8s.io/v1"),
    "/apis/rbac.authorization.k8s.io/v1/clusterroles": (
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
    ),
    "/apis/rbac.authorization.k8s.io/v1/rolebindings": (
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
    ),
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": (
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
    ),
    "/apis/networking.k8s.io/v1/networkpolicies": ("NetworkPolicy", "networking.k8s.io/v1"),
}
KIND_PATH = {kind: path for path, (kind, _) in PATHS.items()}


def _namespaced(path: str) -> tuple[str, str | None]:
    parts = path.split("/")
    if "namespaces" in parts[:-1]:  # /api/v1/namespaces itself lists the namespaces
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


def kubeconfig(url: str, folder: Path, token: str = TOKEN) -> Path:
    """A kubeconfig whose current context reaches ``url`` with a bearer token."""
    path = folder / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: recorded
  cluster:
    server: {url}
users:
- name: analyst
  user:
    token: {token}
contexts:
- name: recorded
  context:
    cluster: recorded
    user: analyst
current-context: recorded
"""
    )
    return path


@contextlib.contextmanager
def replayed_cluster(
    folder: Path, watch_seconds: float = 3.0
) -> Iterator[tuple[WatchApiServer, Kubernetes]]:
    """A :class:`WatchApiServer` on loopback and a :class:`Kubernetes` client of it."""
    fake = WatchApiServer(watch_seconds)
    with loopback(fake.handle) as server:
        fake.url = server.url
        try:
            yield fake, Kubernetes(kubeconfig=kubeconfig(server.url, folder), timeout=5)
        finally:
            fake.closing = True


def recorded(kind: str) -> dict:
    """A copy of the first recorded object of ``kind`` in ``tests/data/k8s``."""
    items = json.loads((DATA / "kubectl-get-all.json").read_text())["items"]
    return copy.deepcopy(next(i for i in items if i["kind"] == kind))


def new_pod(name: str, uid: str, phase: str = "Pending") -> dict:
    """A pod of the recorded Deployment ``checkout`` (through ReplicaSet checkout-7d9f8b6c4)."""
    pod = recorded("Pod")
    pod["metadata"].update(name=name, uid=uid, creationTimestamp=iso(pd.Timestamp.now(tz="UTC")))
    pod["status"]["phase"] = phase
    return pod


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def until(condition, timeout: float = 30.0) -> None:
    """Wait for ``condition()`` to hold (a watch works on threads of its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {condition.__doc__ or condition}")
