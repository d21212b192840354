"""A small simulated cluster: nodes, workloads, pods and their signals, written in real formats.

A scenario (one module per incident, listed in ``_scenarios.py``) builds a :class:`World`,
shapes its pods' lifecycles and signal curves, adds the incident's events/logs/audit/Falco
records, then calls :meth:`World.render`, which turns everything into files (relative path ->
bytes) plus the per-file record counts that go into ``truth.json``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from obskit.datasets import _formats as F

NS = 1_000_000_000
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
STEP = 30


@dataclass
class CSpec:
    """A container in a pod template."""

    name: str
    image: str
    port: int | None = None
    cpu_req: str = "100m"
    mem_req: str = "128Mi"
    mem_limit: str | None = None
    privileged: bool = False
    readiness: str | None = "/healthz"


@dataclass(kw_only=True)
class Workload:
    """A top-level controller (or a bare Pod) and the behaviour of its pods."""

    kind: str
    name: str
    ns: str
    replicas: int
    containers: list[CSpec]
    created: int
    sa: str = "default"
    style: str = "json"
    log_rate: float = 0.05
    rps: float = 0.0
    cpu: float = 0.05
    mem: float = 128e6
    service: bool = True
    schedule: str | None = None
    labels: dict = field(default_factory=dict)
    uid: str = ""
    revisions: list[dict] = field(default_factory=list)
    generation: int = 1
    host_network: bool = False
    # a DaemonSet's pod template affinity, update strategy and desired node count, where they
    # differ from the defaults (no affinity, RollingUpdate, every node)
    affinity: dict | None = None
    update_strategy: dict | None = None
    desired: int | None = None


@dataclass
class Attempt:
    """One run of a container (restart number = its index)."""

    start: int
    end: int | None = None
    reason: str | None = None
    exit_code: int | None = None
    cid: str = ""


@dataclass
class CState:
    spec: CSpec
    attempts: list[Attempt]
    waiting: str | None = None
    ready: bool = True


@dataclass
class Pod:
    name: str
    uid: str
    wl: Workload
    owner_kind: str
    owner_name: str
    owner_uid: str
    node: dict
    ip: str
    created: int
    cstates: list[CState]
    labels: dict
    deleted: int | None = None
    phase: str = "Running"
    reason: str | None = None
    message: str | None = None
    images: dict = field(default_factory=dict)
    cpu: np.ndarray | None = None
    mem: np.ndarray | None = None
    rps: dict = field(default_factory=dict)
    p99: np.ndarray | None = None
    err_frac: np.ndarray | None = None
    log_factor: np.ndarray | None = None
    unready: list = field(default_factory=list)


@dataclass
class LogLine:
    t: int
    stream: str
    text: str
    raw: bytes | None = None
    flag: str | None = None


class World:
    """Everything one incident needs to be rendered."""

    def __init__(self, name: str, cluster: str, seed: int, scale: float, start: str, hours: float):
        self.name = name
        self.cluster = cluster
        self.scale = scale
        self.rng = np.random.default_rng([seed, sum(name.encode())])
        t0 = np.datetime64(start.replace("Z", ""), "s").astype(np.int64)
        self.t0 = int(t0) * NS
        self.t1 = self.t0 + int(hours * 3600) * NS
        self.grid = np.arange(int(t0), int(t0) + int(hours * 3600) + 1, STEP, dtype=np.int64)
        self.nodes: list[dict] = []
        self.namespaces: dict[str, int] = {}
        self.workloads: list[Workload] = []
        self.pods: list[Pod] = []
        self.events: list[dict] = []
        self.audit: list[tuple[int, str]] = []
        self.falco: list[tuple[int, str]] = []
        self.logs: dict[tuple, list[LogLine]] = {}
        self.extra_logs: dict[str, tuple[bytes, dict]] = {}
        self.node_fs: dict[str, np.ndarray] = {}
        self.node_mem_extra: dict[str, np.ndarray] = {}
        self.node_cpu_extra: dict[str, np.ndarray] = {}
        self.node_conditions: dict[str, list] = {}
        self.scrape_gaps: list[tuple[str, int, int]] = []
        self.jobs: list[dict] = []
        self.err_text: dict[str, list[str]] = {}
        self.rotate: set[tuple[str, str]] = set()
        self.human_users: list[dict] = []
        # posture: labels on namespaces, and extra inventory files (RBAC, NetworkPolicies) by
        # file stem; their uids are not drawn from rng, so the other files stay as they were
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.objects: dict[str, list[dict]] = {}
        self.rv = 4_810_000 + int(self.rng.integers(0, 90_000))
        self.malformed: dict[str, int] = {}
        self.non_utf8: dict[str, int] = {}

    # ---------------------------------------------------------------- ids and time
    def uid(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def hexid(self, n: int = 64) -> str:
        return self.rng.bytes(n // 2).hex()

    def suffix(self, n: int = 5) -> str:
        return "".join(SUFFIX_ALPHABET[i] for i in self.rng.integers(0, len(SUFFIX_ALPHABET), n))

    def next_rv(self) -> str:
        self.rv += int(self.rng.integers(3, 400))
        return str(self.rv)

    def at(self, minutes: float) -> int:
        """Nanoseconds ``minutes`` after the window start, with sub-second jitter."""
        return self.t0 + int(minutes * 60 * NS) + int(self.rng.integers(0, NS))

    def idx(self, t_ns: int) -> int:
        return int(np.clip((t_ns // NS - self.grid[0]) // STEP, 0, len(self.grid) - 1))

    def n(self, base: float) -> int:
        return max(1, round(base * self.scale))

    # ---------------------------------------------------------------- topology
    def add_node(
        self,
        name: str,
        ip: str,
        zone: str,
        itype: str,
        cpu: int,
        mem_gi: int,
        disk_gi: int,
        provider: str,
        role: str | None = None,
    ) -> dict:
        node = {
            "name": name,
            "ip": ip,
            "zone": zone,
            "itype": itype,
            "cpu": cpu,
            "mem": mem_gi * 2**30,
            "disk": disk_gi * 2**30,
            "provider": provider,
            "uid": self.uid(),
            "role": role,
            "created": self.t0 - int(self.rng.integers(20, 90)) * 86400 * NS,
            "podcidr": f"10.244.{len(self.nodes)}.0/24",
            "taints": [],
            "kernel": "5.10.215-203.850.amzn2.x86_64",
            "boot": self.uid(),
            "pods_on": 0,
        }
        self.nodes.append(node)
        self.node_conditions[name] = []
        return node

    def add_namespace(self, name: str, age_days: int = 200) -> None:
        self.namespaces[name] = (
            self.t0 - age_days * 86400 * NS - int(self.rng.integers(0, 86400)) * NS
        )

    def add_workload(self, wl: Workload) -> Workload:
        wl.uid = self.uid()
        wl.labels = wl.labels or {"app.kubernetes.io/name": wl.name}
        self.workloads.append(wl)
        return wl

    def add_revision(
        self, wl: Workload, created: int, images: dict[str, str] | None = None
    ) -> dict:
        """A new pod template (Deployment ReplicaSet / controller revision)."""
        images = images or {c.name: c.image for c in wl.containers}
        rev = {
            "hash": self.suffix(10 if self.rng.random() < 0.6 else 9),
            "uid": self.uid(),
            "created": created,
            "images": images,
            "number": len(wl.revisions) + 1,
            "replicas_end": wl.replicas,
        }
        for r in wl.revisions:
            r["replicas_end"] = 0
        wl.revisions.append(rev)
        return rev

    def pick_node(self, exclude: tuple[str, ...] = ()) -> dict:
        cands = [n for n in self.nodes if n["role"] != "control-plane" and n["name"] not in exclude]
        cands.sort(key=lambda n: (n["pods_on"], n["name"]))
        node = cands[0] if self.rng.random() < 0.7 else cands[int(self.rng.integers(0, len(cands)))]
        return node

    def add_pod(
        self,
        wl: Workload,
        created: int,
        node: dict | None = None,
        rev: dict | None = None,
        name: str | None = None,
        owner: tuple[str, str, str] | None = None,
    ) -> Pod:
        node = node or self.pick_node()
        node["pods_on"] += 1
        labels = dict(wl.labels)
        images = {c.name: c.image for c in wl.containers}
        if wl.kind == "Deployment":
            rev = rev or wl.revisions[-1]
            labels["pod-template-hash"] = rev["hash"]
            images = dict(rev["images"])
            rs = f"{wl.name}-{rev['hash']}"
            owner = owner or ("ReplicaSet", rs, rev["uid"])
            name = name or f"{rs}-{self.suffix()}"
        elif wl.kind == "StatefulSet":
            ordinal = sum(1 for p in self.pods if p.wl is wl)
            name = name or f"{wl.name}-{ordinal}"
            labels["statefulset.kubernetes.io/pod-name"] = name
            labels["apps.kubernetes.io/pod-index"] = str(ordinal)
            labels["controller-revision-hash"] = f"{wl.name}-{wl.revisions[-1]['hash']}"
            owner = owner or ("StatefulSet", wl.name, wl.uid)
        elif wl.kind == "DaemonSet":
            name = name or f"{wl.name}-{self.suffix()}"
            labels["controller-revision-hash"] = wl.revisions[-1]["hash"]
            labels["pod-template-generation"] = "1"
            owner = owner or ("DaemonSet", wl.name, wl.uid)
        elif wl.kind == "Pod":
            name = name or wl.name
            owner = ("", "", "")
        assert name is not None and owner is not None
        if wl.host_network:
            ip = node["ip"]
        else:
            node_idx = self.nodes.index(node)
            ip = f"10.244.{node_idx}.{int(self.rng.integers(2, 250))}"
        start = created + int(self.rng.uniform(2, 9) * NS)
        cstates = [
            CState(c, [Attempt(start + i * NS // 5, cid=self.hexid())])
            for i, c in enumerate(wl.containers)
        ]
        pod = Pod(
            name=name,
            uid=self.uid(),
            wl=wl,
            owner_kind=owner[0],
            owner_name=owner[1],
            owner_uid=owner[2],
            node=node,
            ip=ip,
            created=created,
            cstates=cstates,
            labels=labels,
            images=images,
        )
        self.pods.append(pod)
        return pod

    def populate(self, wl: Workload) -> list[Pod]:
        """Create ``wl``'s steady-state pods (created before the window)."""
        if not wl.revisions:
            self.add_revision(wl, wl.created)
        pods = []
        if wl.kind == "DaemonSet":
            for node in self.nodes:
                pods.append(
                    self.add_pod(wl, wl.created + int(self.rng.integers(60, 86400)) * NS, node=node)
                )
        else:
            for _ in range(wl.replicas):
                age = int(self.rng.integers(3600, 6 * 86400))
                pods.append(self.add_pod(wl, max(wl.revisions[-1]["created"], self.t0 - age * NS)))
        return pods

    # ---------------------------------------------------------------- lifecycle helpers
    def alive(self, pod: Pod) -> np.ndarray:
        """Grid mask where the pod object exists and is not terminal."""
        t = self.grid * NS
        end = pod.deleted if pod.deleted is not None else self.t1 + NS
        return (t >= pod.created) & (t < end)

    def running(self, pod: Pod, ci: int = 0) -> np.ndarray:
        t = self.grid * NS
        m = np.zeros(len(t), bool)
        for a in pod.cstates[ci].attempts:
            end = a.end if a.end is not None else (pod.deleted or self.t1 + NS)
            m |= (t >= a.start) & (t < end)
        return m

    def is_running(self, pod: Pod, t: int, ci: int = 0) -> bool:
        """Whether container ``ci`` of ``pod`` is running at instant ``t``."""
        for a in pod.cstates[ci].attempts:
            end = a.end if a.end is not None else (pod.deleted or self.t1 + NS)
            if a.start <= t < end:
                return True
        return False

    def kill(
        self,
        pod: Pod,
        t: int,
        reason: str,
        exit_code: int,
        restart_after: float | None,
        ci: int = 0,
    ) -> None:
        """End container ``ci``'s current attempt at ``t``; restart after N seconds, or never."""
        cs = pod.cstates[ci]
        cur = cs.attempts[-1]
        cur.end, cur.reason, cur.exit_code = t, reason, exit_code
        if restart_after is not None and t + restart_after * NS < self.t1:
            cs.attempts.append(Attempt(t + int(restart_after * NS), cid=self.hexid()))
        elif restart_after is not None:
            cs.waiting = "CrashLoopBackOff"
            cs.ready = False

    def delete_pod(self, pod: Pod, t: int, grace: float = 30.0) -> None:
        for cs in pod.cstates:
            a = cs.attempts[-1]
            if a.end is None:
                a.end, a.reason, a.exit_code = (
                    t + int(self.rng.uniform(0.5, min(grace, 5)) * NS),
                    "Completed",
                    0,
                )
        pod.deleted = t + int(self.rng.uniform(1, 4) * NS)

    # ---------------------------------------------------------------- signals
    def diurnal(self) -> np.ndarray:
        hours = (self.grid % 86400) / 3600.0
        return 1.0 + 0.35 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)

    def noise(self, sigma: float, smooth: int = 6) -> np.ndarray:
        x = self.rng.normal(0, sigma, len(self.grid) + smooth)
        return np.convolve(x, np.ones(smooth) / np.sqrt(smooth), "valid")[: len(self.grid)]

    def base_signals(self) -> None:
        """Default cpu/memory/traffic curves for every pod; scenarios override afterwards."""
        d = self.diurnal()
        for pod in self.pods:
            wl = pod.wl
            load = d * (1 + self.noise(0.05))
            pod.cpu = np.maximum(0.001, wl.cpu * load * (1 + self.noise(0.08)))
            drift = np.cumsum(self.rng.normal(0, 0.002, len(self.grid)))
            pod.mem = wl.mem * (1 + 0.03 * np.tanh(drift) + self.noise(0.004))
            if wl.rps:
                r = wl.rps * load
                pod.rps = {"200": r * 0.97, "201": r * 0.02, "404": r * 0.008, "500": r * 0.0008}
                pod.p99 = 0.08 * (1 + 0.2 * np.abs(self.noise(0.3)))
            pod.err_frac = np.zeros(len(self.grid))
            pod.log_factor = load

    # ---------------------------------------------------------------- records
    def log(
        self,
        pod: Pod,
        t: int,
        text: str,
        stream: str = "stdout",
        ci: int = 0,
        raw: bytes | None = None,
        flag: str | None = None,
    ) -> None:
        if not self.is_running(pod, t, ci):
            return  # a container that is not running writes nothing
        cs = pod.cstates[ci]
        restart = 0
        for i, a in enumerate(cs.attempts):
            if a.start <= t:
                restart = i
        key = (pod.wl.ns, pod.name, pod.uid, cs.spec.name, restart)
        self.logs.setdefault(key, []).append(LogLine(t, stream, text, raw, flag))

    def event(
        self,
        kind: str,
        name: str,
        ns: str | None,
        uid: str,
        reason: str,
        message: str,
        first: int,
        *,
        typ: str = "Normal",
        comp: str = "kubelet",
        host: str | None = None,
        count: int = 1,
        last: int | None = None,
        field_path: str | None = None,
        api_version: str = "v1",
    ) -> None:
        last = last or first
        inv = {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid}
        if ns:
            inv["namespace"] = ns
        if kind != "Node":
            inv["resourceVersion"] = self.next_rv()
        if field_path:
            inv["fieldPath"] = field_path
        ev_ns = ns or "default"
        src = {"component": comp}
        if host:
            src["host"] = host
        obj = {
            "apiVersion": "v1",
            "count": count,
            "eventTime": None,
            "firstTimestamp": F.ts_s(first),
            "involvedObject": inv,
            "kind": "Event",
            "lastTimestamp": F.ts_s(last),
            "message": message,
            "metadata": {
                "creationTimestamp": F.ts_s(first),
                "name": f"{name}.{first:x}",
                "namespace": ev_ns,
                "resourceVersion": self.next_rv(),
                "uid": self.uid(),
            },
            "reason": reason,
            "reportingComponent": comp,
            "reportingInstance": host or "",
            "source": src,
            "type": typ,
        }
        self.events.append(obj)

    def pod_event(
        self,
        pod: Pod,
        reason: str,
        message: str,
        t: int,
        *,
        typ: str = "Normal",
        ci: int | None = 0,
        count: int = 1,
        last: int | None = None,
    ) -> None:
        fp = f"spec.containers{{{pod.cstates[ci].spec.name}}}" if ci is not None else None
        self.event(
            "Pod",
            pod.name,
            pod.wl.ns,
            pod.uid,
            reason,
            message,
            t,
            typ=typ,
            comp="kubelet",
            host=pod.node["name"],
            count=count,
            last=last,
            field_path=fp,
        )

    def audit_event(
        self,
        t: int,
        *,
        user: dict,
        verb: str,
        uri: str,
        resource: str | None,
        ns: str | None = None,
        name: str | None = None,
        code: int = 200,
        sub: str | None = None,
        group: str = "",
        version: str = "v1",
        ips: list[str] | None = None,
        ua: str = "",
        level: str = "Metadata",
        stage: str = "ResponseComplete",
        latency_ms: float | None = None,
        reason: str = "",
        decision: str = "allow",
        extra_ann: dict | None = None,
        request_object: dict | None = None,
        response_object: dict | None = None,
        status: dict | None = None,
        audit_id: str | None = None,
    ) -> str:
        latency_ms = latency_ms if latency_ms is not None else float(self.rng.gamma(2.0, 3.0))
        ev: dict = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": audit_id or self.uid(),
            "stage": stage,
            "requestURI": uri,
            "verb": verb,
            "user": user,
            "sourceIPs": ips or ["10.0.0.10"],
            "userAgent": ua,
        }
        if resource:
            ref: dict = {"resource": resource}
            if ns:
                ref["namespace"] = ns
            if name:
                ref["name"] = name
            if group:
                ref["apiGroup"] = group
            ref["apiVersion"] = version
            if sub:
                ref["subresource"] = sub
            ev["objectRef"] = ref
        ev["responseStatus"] = status or {"metadata": {}, "code": code}
        if request_object is not None:
            ev["requestObject"] = request_object
        if response_object is not None:
            ev["responseObject"] = response_object
        ev["requestReceivedTimestamp"] = F.ts_us(t)
        ev["stageTimestamp"] = F.ts_us(t + int(latency_ms * 1e6))
        ann = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
        if extra_ann:
            ann.update(extra_ann)
        ev["annotations"] = ann
        self.audit.append((t, F.go_json(ev)))
        return ev["auditID"]

    def falco_alert(
        self,
        t: int,
        rule: str,
        priority: str,
        text: str,
        fields: dict,
        tags: list[str],
        hostname: str,
    ) -> None:
        fields = dict(fields)
        fields["evt.time"] = t
        obj = {
            "hostname": hostname,
            "output": f"{F.ts_falco_prefix(t)}: {priority} {text}",
            "output_fields": fields,
            "priority": priority,
            "rule": rule,
            "source": "syscall",
            "tags": sorted(tags),
            "time": F.ts_nano9(t),
        }
        self.falco.append((t, F.falco_json(obj)))

    # ---------------------------------------------------------------- users
    @staticmethod
    def sa_user(ns: str, sa: str, uid: str, pod: Pod | None = None, jti: str | None = None) -> dict:
        u = {
            "username": f"system:serviceaccount:{ns}:{sa}",
            "uid": uid,
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{ns}",
                "system:authenticated",
            ],
        }
        if pod is not None:
            u["extra"] = {
                "authentication.kubernetes.io/credential-id": [f"JTI={jti}"],
                "authentication.kubernetes.io/node-name": [pod.node["name"]],
                "authentication.kubernetes.io/node-uid": [pod.node["uid"]],
                "authentication.kubernetes.io/pod-name": [pod.name],
                "authentication.kubernetes.io/pod-uid": [pod.uid],
            }
        return u

    @staticmethod
    def node_user(node: dict) -> dict:
        return {
            "username": f"system:node:{node['name']}",
            "groups": ["system:nodes", "system:authenticated"],
        }

    # ---------------------------------------------------------------- rendering
    def render(self) -> tuple[dict[str, bytes], dict[str, dict]]:
        from obskit.datasets import _render

        return _render.render(self)
