# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""What every bundled incident shares: nodes, system workloads, apps, CronJobs, and small
record helpers (a probe blip, a human's kubectl request, a malformed CRI line, the truth)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from obskit.datasets import _formats as F
from obskit.datasets._world import NS, CSpec, Pod, Workload, World

MI = 2**20


def add_nodes(w: World, style: str, n: int) -> None:
    zones = ["a", "b", "c"]
    for i in range(n):
        z = zones[i % 3]
        if style == "eks":
            ip = f"10.0.{(i % 3) * 16 + 1}.{int(w.rng.integers(10, 250))}"
            name = f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal"
            w.add_node(
                name,
                ip,
                f"eu-west-1{z}",
                "m5.xlarge",
                4,
                16,
                80,
                f"aws:///eu-west-1{z}/i-0{w.hexid(16)}",
            )
        else:
            ip = f"10.128.0.{int(w.rng.integers(10, 250))}"
            name = f"gke-{w.cluster}-default-pool-{w.hexid(8)}-{w.suffix(4)}"
            w.add_node(
                name,
                ip,
                f"europe-west4-{z}",
                "e2-standard-4",
                4,
                16,
                100,
                f"gce://acme-prod/europe-west4-{z}/{name}",
            )
            w.nodes[-1]["kernel"] = "6.1.75+"


def add_system(w: World) -> None:
    """The namespaces and workloads every cluster has: DNS, kube-proxy, node-exporter,
    kube-state-metrics, Prometheus and the ingress controller."""
    for ns, age in [
        ("default", 400),
        ("kube-system", 400),
        ("kube-public", 400),
        ("kube-node-lease", 400),
        ("monitoring", 300),
        ("ingress-nginx", 300),
    ]:
        w.add_namespace(ns, age)
    old = w.t0 - 120 * 86400 * NS
    for wl in _system_workloads(old):
        w.add_workload(wl)


def _system_workloads(old: int) -> list[Workload]:
    """The system workloads (a data table), created ``old``."""
    return [
        Workload(
            kind="Deployment",
            name="coredns",
            ns="kube-system",
            replicas=2,
            containers=[
                CSpec("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", 53, readiness="/ready")
            ],
            created=old,
            sa="coredns",
            style="klog",
            log_rate=0.004,
            cpu=0.004,
            mem=22 * MI,
            labels={"k8s-app": "kube-dns"},
        ),
        Workload(
            kind="DaemonSet",
            name="kube-proxy",
            ns="kube-system",
            replicas=0,
            containers=[CSpec("kube-proxy", "registry.k8s.io/kube-proxy:v1.29.3")],
            created=old,
            sa="kube-proxy",
            style="klog",
            log_rate=0.002,
            cpu=0.002,
            mem=18 * MI,
            service=False,
            labels={"k8s-app": "kube-proxy"},
            host_network=True,
        ),
        Workload(
            kind="DaemonSet",
            name="node-exporter",
            ns="monitoring",
            replicas=0,
            containers=[
                CSpec(
                    "node-exporter", "quay.io/prometheus/node-exporter:v1.7.0", 9100, readiness=None
                )
            ],
            created=old,
            sa="node-exporter",
            style="logfmt",
            log_rate=0.001,
            cpu=0.01,
            mem=16 * MI,
            service=False,
            labels={"app.kubernetes.io/name": "prometheus-node-exporter"},
            host_network=True,
        ),
        Workload(
            kind="Deployment",
            name="kube-state-metrics",
            ns="monitoring",
            replicas=1,
            containers=[
                CSpec(
                    "kube-state-metrics",
                    "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.10.1",
                    8080,
                )
            ],
            created=old,
            sa="kube-state-metrics",
            style="klog",
            log_rate=0.002,
            cpu=0.01,
            mem=60 * MI,
            labels={"app.kubernetes.io/name": "kube-state-metrics"},
        ),
        Workload(
            kind="StatefulSet",
            name="prometheus",
            ns="monitoring",
            replicas=1,
            containers=[
                CSpec(
                    "prometheus",
                    "quay.io/prometheus/prometheus:v2.51.1",
                    9090,
                    readiness="/-/ready",
                )
            ],
            created=old,
            sa="kube-prometheus-stack-prometheus",
            style="logfmt",
            log_rate=0.01,
            cpu=0.3,
            mem=1400 * MI,
            labels={"app.kubernetes.io/name": "prometheus"},
        ),
        Workload(
            kind="Deployment",
            name="ingress-nginx-controller",
            ns="ingress-nginx",
            replicas=2,
            containers=[
                CSpec("controller", "registry.k8s.io/ingress-nginx/controller:v1.10.0", 80)
            ],
            created=old,
            sa="ingress-nginx",
            style="nginx",
            log_rate=0.045,
            cpu=0.08,
            mem=110 * MI,
            rps=40,
            labels={
                "app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/component": "controller",
            },
        ),
    ]


def add_falco(
    w: World, version: str, age_days: int, update_strategy: dict | None = None
) -> Workload:
    """Falco (the no-driver image at ``version``) as a DaemonSet in monitoring, installed
    ``age_days`` before the window."""
    return w.add_workload(
        Workload(
            kind="DaemonSet",
            name="falco",
            ns="monitoring",
            replicas=0,
            containers=[
                CSpec("falco", f"docker.io/falcosecurity/falco-no-driver:{version}", readiness=None)
            ],
            created=w.t0 - age_days * 86400 * NS,
            sa="falco",
            log_rate=0.001,
            cpu=0.05,
            mem=80 * MI,
            service=False,
            labels={"app.kubernetes.io/name": "falco"},
            update_strategy=update_strategy,
        )
    )


def add_cron(
    w: World, name: str, ns: str, every_min: int, fail_at: float | None, fail_lines: list[str]
) -> Workload:
    """A CronJob every ``every_min`` minutes through the window; the run nearest ``fail_at``
    (minutes into the window) fails and writes ``fail_lines`` to stderr."""
    wl = w.add_workload(
        Workload(
            kind="CronJob",
            name=name,
            ns=ns,
            replicas=0,
            containers=[CSpec("job", f"registry.example.com/batch/{name}:3.2.0", readiness=None)],
            created=w.t0 - 60 * 86400 * NS,
            style="python",
            log_rate=0.3,
            cpu=0.2,
            mem=90 * MI,
            service=False,
            schedule=f"*/{every_min} * * * *",
        )
    )
    wl.revisions.append(
        {"hash": "", "uid": "", "created": wl.created, "images": {}, "number": 1, "replicas_end": 0}
    )
    start_s = (w.t0 // NS // (every_min * 60) + 1) * every_min * 60
    while start_s * NS < w.t1 - 4 * 60 * NS:
        _cron_run(w, wl, start_s, every_min, fail_at, fail_lines)
        start_s += every_min * 60
    _keep_cron_history(w, wl)
    return wl


def _cron_run(
    w: World,
    wl: Workload,
    start_s: int,
    every_min: int,
    fail_at: float | None,
    fail_lines: list[str],
) -> None:
    """One scheduled run: the Job and its pod, its events, and the failing run's traceback."""
    name, ns = wl.name, wl.ns
    t = start_s * NS + int(w.rng.uniform(0.01, 0.5) * NS)
    jname = f"{name}-{start_s // 60}"
    juid = w.uid()
    fail = fail_at is not None and abs((t - w.t0) / 60 / NS - fail_at) < every_min / 2
    dur = float(w.rng.uniform(35, 80))
    node = w.pick_node()
    pod = w.add_pod(
        wl,
        t + int(0.3 * NS),
        node=node,
        name=f"{jname}-{w.suffix()}",
        owner=("Job", jname, juid),
    )
    pod.labels.update(
        {
            "batch.kubernetes.io/controller-uid": juid,
            "batch.kubernetes.io/job-name": jname,
            "controller-uid": juid,
            "job-name": jname,
        }
    )
    end = pod.cstates[0].attempts[0].start + int(dur * NS)
    w.kill(pod, end, "Error" if fail else "Completed", 1 if fail else 0, None)
    pod.phase = "Failed" if fail else "Succeeded"
    w.jobs.append(
        {
            "name": jname,
            "uid": juid,
            "cron": wl,
            "start": t,
            "end": end + NS,
            "ok": not fail,
            "pod": pod,
        }
    )
    w.event(
        "CronJob",
        name,
        ns,
        wl.uid,
        "SuccessfulCreate",
        f"Created job {jname}",
        t,
        comp="cronjob-controller",
        api_version="batch/v1",
    )
    if fail:
        w.event(
            "Job",
            jname,
            ns,
            juid,
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            end + NS,
            typ="Warning",
            comp="job-controller",
            api_version="batch/v1",
        )
        for k, line in enumerate(fail_lines):
            w.log(pod, end - NS + k * 1000, line, "stderr")
    else:
        w.event(
            "Job",
            jname,
            ns,
            juid,
            "Completed",
            "Job completed",
            end + NS,
            comp="job-controller",
            api_version="batch/v1",
        )
    w.event(
        "CronJob",
        name,
        ns,
        wl.uid,
        "SawCompletedJob",
        f"Saw completed job: {jname}, status: {'Failed' if fail else 'Complete'}",
        end + 2 * NS,
        comp="cronjob-controller",
        api_version="batch/v1",
    )


def _keep_cron_history(w: World, wl: Workload) -> None:
    """History limits: the CronJob keeps its last 3 successful Jobs and its last failed one,
    deleting the others (their pods go with them)."""
    name, ns = wl.name, wl.ns
    ok = [j for j in w.jobs if j["cron"] is wl and j["ok"]]
    bad = [j for j in w.jobs if j["cron"] is wl and not j["ok"]]
    drop = ok[:-3] + bad[:-1]
    for j in drop:
        later = [k for k in w.jobs if k["cron"] is wl and k["start"] > j["start"]]
        t_del = (later[2]["end"] if len(later) > 2 else later[-1]["end"]) + 2 * NS
        w.event(
            "CronJob",
            name,
            ns,
            wl.uid,
            "SuccessfulDelete",
            f"Deleted job {j['name']}",
            t_del,
            comp="cronjob-controller",
            api_version="batch/v1",
        )
        j["pod"].deleted = t_del + NS
        w.jobs.remove(j)


def probe_blip(w: World, pod: Pod, minute: float, path: str = "/healthz") -> None:
    t = w.at(minute)
    port = pod.cstates[0].spec.port or 8080
    w.pod_event(
        pod,
        "Unhealthy",
        f'Readiness probe failed: Get "http://{pod.ip}:{port}{path}": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)",
        t,
        typ="Warning",
    )


def noisy(w: World, pod: Pod) -> None:
    """A healthy service that logs warnings all the time (deprecated-API chatter)."""
    t = w.t0 + int(w.rng.uniform(0, 20) * NS)
    while t < w.t1:
        w.log(
            pod,
            t,
            json.dumps(
                {
                    "level": "warn",
                    "ts": round(t / NS, 6),
                    "caller": "client/legacy.go:88",
                    "msg": "deprecated endpoint /v1/recommendations used, migrate to /v2",
                    "client": "frontend",
                },
                separators=(",", ":"),
            ),
            "stderr",
        )
        t += int(w.rng.exponential(20) * NS)


def human_request(
    w: World,
    t: int,
    user: str,
    ip: str,
    verb: str,
    uri: str,
    res: str,
    ns: str | None,
    name: str | None = None,
    sub: str | None = None,
    code: int = 200,
    groups: tuple = ("sre", "system:authenticated"),
) -> str:
    return w.audit_event(
        t,
        user={"username": user, "groups": list(groups)},
        verb=verb,
        uri=uri,
        resource=res,
        ns=ns,
        name=name,
        sub=sub,
        code=code,
        ips=[ip],
        ua="kubectl/v1.29.2 (darwin/arm64) kubernetes/4b8e819",
        reason=f'RBAC: allowed by ClusterRoleBinding "sre-view" of ClusterRole "view" to Group "{groups[0]}"',
    )


def second(pods: list[Pod]) -> Pod:
    """A workload's second replica, or its only one when a small draw gave it one."""
    return pods[min(1, len(pods) - 1)]


def long_line(w: World, pod: Pod, t: int, n_items: int) -> None:
    """A very long JSON line (a dumped cart/config) that containerd splits into P parts."""
    items = [
        {
            "sku": f"SKU-{int(w.rng.integers(10000, 99999))}",
            "qty": int(w.rng.integers(1, 4)),
            "price": round(float(w.rng.uniform(2, 90)), 2),
            "attrs": {"color": "blue", "size": "M", "note": "x" * 40},
        }
        for _ in range(n_items)
    ]
    w.log(
        pod,
        t,
        json.dumps(
            {"level": "debug", "ts": round(t / NS, 6), "msg": "cart snapshot", "items": items},
            separators=(",", ":"),
        ),
    )


def malformed_cri(w: World, pod: Pod, t: int, kind: str) -> None:
    if kind == "bad-ts":
        raw = (
            F.ts_nano(t).replace("T", " ", 1)[:-4].encode()
            + b' stdout F {"level":"info","msg":"request completed"}'
        )
        w.log(pod, t, "", raw=raw, flag="malformed")
    elif kind == "truncated":
        raw = F.ts_nano(t).encode()[:17]
        w.log(pod, t, "", raw=raw, flag="malformed")
    elif kind == "non-utf8":
        raw = (
            F.ts_nano(t).encode()
            + b' stdout F user-agent="Mozilla/5.0 \xff\xfe\xc3(" path=/search q=caf\xe9'
        )
        w.log(pod, t, "", raw=raw, flag="non_utf8")


def make_truth(
    w: World,
    *,
    ns,
    kind,
    wl,
    pod,
    container,
    node,
    level,
    fault_start,
    category,
    description,
    detections=None,
) -> dict:
    return {
        "name": w.name,
        "cluster": w.cluster,
        "root_cause": {
            "namespace": ns,
            "workload_kind": kind,
            "workload": wl,
            "pod": pod,
            "container": container,
            "node": node,
        },
        "level": level,
        "fault_start": F.ts_s(fault_start),
        "window": {"start": F.ts_s(w.t0), "end": F.ts_s(w.t1)},
        "category": category,
        "description": description,
        "expected_detections": detections or [],
    }


@dataclass(frozen=True, kw_only=True)
class App:
    """An application Workload of a scenario, by keyword.

    ``rps`` is requests a second per pod, ``cpu`` cores per pod, ``mem`` bytes per pod,
    ``log_rate`` log lines a second per pod; ``mem_limit`` is the container's memory limit as
    Kubernetes writes it (``"512Mi"``), ``sa`` the service account (the app's name if None).
    """

    name: str
    image: str
    port: int | None
    style: str
    rps: float
    cpu: float
    mem: float
    replicas: int = 1
    kind: str = "Deployment"
    sa: str | None = None
    log_rate: float = 0.022
    mem_limit: str | None = None


def add_apps(w: World, ns: str, apps: list[App]) -> dict[str, Workload]:
    """Add ``apps`` to namespace ``ns`` (each created 20 to 200 days before the window)."""
    out = {}
    for app in apps:
        wl = Workload(
            kind=app.kind,
            name=app.name,
            ns=ns,
            replicas=app.replicas,
            containers=[CSpec(app.name, app.image, app.port, mem_limit=app.mem_limit)],
            created=w.t0 - int(w.rng.integers(20, 200)) * 86400 * NS,
            sa=app.sa or app.name,
            style=app.style,
            log_rate=app.log_rate,
            rps=app.rps,
            cpu=app.cpu,
            mem=app.mem,
            labels={
                "app": app.name,
                "app.kubernetes.io/name": app.name,
                "app.kubernetes.io/part-of": ns,
            },
        )
        w.add_workload(wl)
        out[app.name] = wl
    return out


def populate_all(w: World) -> None:
    for wl in w.workloads:
        if wl.kind in ("Deployment", "StatefulSet", "DaemonSet") and not any(
            p.wl is wl for p in w.pods
        ):
            w.populate(wl)


RBAC = "rbac.authorization.k8s.io"


# The built-in "edit" ClusterRole's rules (Kubernetes 1.29, aggregated), less the read-only
def k8s_object(w: World, api: str, kind: str, name: str, ns: str | None, **fields) -> dict:
    """An RBAC or NetworkPolicy object; its uid from its name, not from ``w.rng``."""
    meta = {
        "creationTimestamp": F.ts_s(w.t0 - 120 * 86400 * NS),
        "name": name,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"obskit/{w.name}/{kind}/{ns}/{name}")),
    }
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": meta, **fields}


def default_deny(w: World, ns: str) -> dict:
    """A NetworkPolicy ``default-deny`` that selects every pod of ``ns`` and allows no ingress."""
    deny = {"podSelector": {}, "policyTypes": ["Ingress"]}
    return k8s_object(w, "networking.k8s.io/v1", "NetworkPolicy", "default-deny", ns, spec=deny)


def pod_security(w: World, ns: str, **modes: str) -> None:
    """Pod Security admission labels on ``ns``: ``pod_security(w, "api", enforce="baseline")``."""
    w.namespace_labels[ns] = {f"pod-security.kubernetes.io/{m}": v for m, v in modes.items()}


def role_binding(w: World, name: str, ns: str, role: str, subject: dict) -> dict:
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}
    return k8s_object(w, f"{RBAC}/v1", "RoleBinding", name, ns, roleRef=ref, subjects=[subject])


#: The rules of Kubernetes' built-in aggregated ClusterRole ``edit`` that matter to posture
#: (exec, attach, port-forward, proxy and secrets among them).
EDIT_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
    {
        "apiGroups": [""],
        "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
        "verbs": ["create", "delete", "deletecollection", "patch", "update"],
    },
    {
        "apiGroups": [""],
        "resources": ["configmaps", "secrets", "serviceaccounts", "services"],
        "verbs": ["create", "delete", "deletecollection", "patch", "update"],
    },
    {
        "apiGroups": ["apps"],
        "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"],
        "verbs": ["create", "delete", "deletecollection", "patch", "update"],
    },
    {
        "apiGroups": ["batch"],
        "resources": ["cronjobs", "jobs"],
        "verbs": ["create", "delete", "deletecollection", "patch", "update"],
    },
    {
        "apiGroups": [""],
        "resources": ["configmaps", "endpoints", "pods", "services", "serviceaccounts"],
        "verbs": ["get", "list", "watch"],
    },
]


def team_posture(w: World, namespaces: tuple[str, ...]) -> None:
    """What an ordinary production cluster holds beside its apps: CI's ``deployer`` service
    account bound to ``edit`` in each app namespace (as the incidents' audit decisions name it),
    a default-deny ingress NetworkPolicy and baseline Pod Security admission there."""
    deployer = {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
    w.objects["rbac"] = [
        k8s_object(w, f"{RBAC}/v1", "ClusterRole", "edit", None, rules=EDIT_RULES),
        *(role_binding(w, "deployer", ns, "edit", deployer) for ns in namespaces),
    ]
    w.objects["networkpolicies"] = [default_deny(w, ns) for ns in namespaces]
    for ns in namespaces:
        pod_security(w, ns, enforce="baseline", warn="restricted")


def retire_old_pod(w, deployment, ns: str, old_hash: str, old, before: int, t: int) -> None:
    """One step of a rolling update's scale-down: the Deployment scales the old ReplicaSet
    from ``before`` to ``before - 1`` at ``t``, the ReplicaSet deletes ``old``, the pod goes."""
    w.event(
        "Deployment",
        deployment.name,
        ns,
        deployment.uid,
        "ScalingReplicaSet",
        f"Scaled down replica set {deployment.name}-{old_hash} to {before - 1} from {before}",
        t,
        comp="deployment-controller",
        api_version="apps/v1",
    )
    w.event(
        "ReplicaSet",
        f"{deployment.name}-{old_hash}",
        ns,
        deployment.revisions[-2]["uid"],
        "SuccessfulDelete",
        f"Deleted pod: {old.name}",
        t + int(0.2 * NS),
        comp="replicaset-controller",
        api_version="apps/v1",
    )
    w.delete_pod(old, t + int(0.3 * NS))
