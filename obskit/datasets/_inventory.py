# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""``kubectl get -o json`` of every kind the incidents hold: Namespaces, Nodes, Pods, the
workload controllers with their ReplicaSets and Jobs, Services, and the extra objects a
scenario adds (RBAC, NetworkPolicies)."""

from __future__ import annotations

from collections.abc import Callable

from obskit.datasets import _formats as F
from obskit.datasets._world import NS, CState, Pod, Workload, World


def _meta(
    name: str,
    ns: str | None,
    uid: str,
    created: int,
    rv: str,
    labels: dict | None = None,
    owner: tuple | None = None,
    annotations: dict | None = None,
    generation: int | None = None,
) -> dict:
    m: dict = {
        "creationTimestamp": F.ts_s(created),
        "name": name,
        "resourceVersion": rv,
        "uid": uid,
    }
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if generation is not None:
        m["generation"] = generation
    if owner and owner[0]:
        kind, oname, ouid = owner
        api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
        m["ownerReferences"] = [
            {
                "apiVersion": api,
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": kind,
                "name": oname,
                "uid": ouid,
            }
        ]
    return m


def _container_spec(c, image: str, sa_vol: str) -> dict:
    spec: dict = {
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": c.name,
        "resources": {"requests": {"cpu": c.cpu_req, "memory": c.mem_req}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": sa_vol,
                "readOnly": True,
            }
        ],
    }
    if c.mem_limit:
        spec["resources"]["limits"] = {"memory": c.mem_limit}
    if c.port:
        spec["ports"] = [{"containerPort": c.port, "name": "http", "protocol": "TCP"}]
        if c.readiness:
            spec["readinessProbe"] = {
                "failureThreshold": 3,
                "httpGet": {"path": c.readiness, "port": c.port, "scheme": "HTTP"},
                "periodSeconds": 10,
                "successThreshold": 1,
                "timeoutSeconds": 1,
            }
    if c.privileged:
        spec["securityContext"] = {"privileged": True}
    else:
        spec["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 10001,
        }
    return spec


def _template(w: World, wl, images: dict, labels: dict) -> dict:
    template = {
        "metadata": {"creationTimestamp": None, "labels": labels},
        "spec": {
            "containers": [
                _container_spec(c, images.get(c.name, c.image), "kube-api-access")
                for c in wl.containers
            ],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": wl.sa,
            "serviceAccountName": wl.sa,
            "terminationGracePeriodSeconds": 30,
        },
    }
    if wl.affinity:
        template["spec"]["affinity"] = wl.affinity
    return template


def pod_object(w: World, pod: Pod) -> dict:
    """The Pod as the API server returns it at the window's end: spec, container statuses,
    conditions, and the eviction's reason where the kubelet evicted it."""
    wl = pod.wl
    spec = _pod_spec(w, pod)
    first_start = min(cs.attempts[0].start for cs in pod.cstates)
    statuses = []
    all_ready = True
    for cs in pod.cstates:
        st, ready = _container_status(w, pod, cs)
        statuses.append(st)
        all_ready &= ready
    conds, end_t = _pod_conditions(pod, first_start, all_ready)
    status: dict = {
        "conditions": conds,
        "containerStatuses": statuses,
        "hostIP": pod.node["ip"],
        "hostIPs": [{"ip": pod.node["ip"]}],
        "phase": pod.phase,
        "podIP": pod.ip,
        "podIPs": [{"ip": pod.ip}],
        "qosClass": "Burstable",
        "startTime": F.ts_s(pod.created + NS),
    }
    if pod.reason:
        status["reason"] = pod.reason
        status["message"] = pod.message
        status["conditions"].insert(
            0,
            {
                "lastProbeTime": None,
                "lastTransitionTime": F.ts_s(end_t),
                "message": pod.message,
                "reason": "TerminationByKubelet",
                "status": "True",
                "type": "DisruptionTarget",
            },
        )
    annotations = (
        {"kubectl.kubernetes.io/restartedAt": F.ts_s(pod.created - 86400 * NS)}
        if wl.kind == "Deployment" and pod.created < w.t0 - 3 * 86400 * NS
        else None
    )
    meta = _meta(
        pod.name,
        wl.ns,
        pod.uid,
        pod.created,
        w.next_rv(),
        pod.labels,
        (pod.owner_kind, pod.owner_name, pod.owner_uid),
        annotations,
    )
    if pod.owner_kind in ("ReplicaSet", "DaemonSet") or (pod.owner_kind == "Job"):
        meta["generateName"] = pod.name[: pod.name.rfind("-") + 1]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _pod_spec(w: World, pod: Pod) -> dict:
    """The pod's spec: its containers, node, service account token volume and tolerations."""
    wl = pod.wl
    vol = f"kube-api-access-{w.suffix()}"
    spec = {
        "containers": [
            _container_spec(cs.spec, pod.images.get(cs.spec.name, cs.spec.image), vol)
            for cs in pod.cstates
        ],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": pod.node["name"],
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "OnFailure" if pod.owner_kind == "Job" else "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": wl.sa,
        "serviceAccountName": wl.sa,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
        ],
        "volumes": [
            {
                "name": vol,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                "name": "kube-root-ca.crt",
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                        "path": "namespace",
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        ],
    }
    if wl.host_network:
        spec["hostNetwork"] = True
    if any(cs.spec.privileged for cs in pod.cstates) and wl.kind == "Pod":
        spec["hostPID"] = True
    return spec


def _container_status(w: World, pod: Pod, cs: CState) -> tuple[dict, bool]:
    """A container's status (running, waiting in back-off or terminated, with its last
    termination), and whether it is ready."""
    ready = True
    a = cs.attempts[-1]
    image = pod.images.get(cs.spec.name, cs.spec.image)
    repo = image.rsplit(":", 1)[0]
    if repo.count("/") == 0:
        repo = f"docker.io/library/{repo}"
    elif "." not in repo.split("/")[0]:
        repo = f"docker.io/{repo}"
    st: dict = {
        "containerID": f"containerd://{a.cid}",
        "image": repo + ":" + image.rsplit(":", 1)[-1] if ":" in image else repo + ":latest",
        "imageID": f"{repo}@sha256:{_digest(image)}",
        "lastState": {},
        "name": cs.spec.name,
        "restartCount": len(cs.attempts) - 1,
        "started": False,
        "ready": False,
    }
    prev = cs.attempts[-2] if len(cs.attempts) > 1 else None
    if cs.waiting:
        prev = a
        st["state"] = {
            "waiting": {
                "message": f"back-off 5m0s restarting failed container={cs.spec.name} pod={pod.name}_{pod.wl.ns}({pod.uid})",
                "reason": "CrashLoopBackOff",
            }
        }
        ready = False
    elif a.end is not None and a.end <= w.t1:
        st["state"] = {
            "terminated": {
                "containerID": f"containerd://{a.cid}",
                "exitCode": a.exit_code,
                "finishedAt": F.ts_s(a.end),
                "reason": a.reason,
                "startedAt": F.ts_s(a.start),
            }
        }
        ready = False
    else:
        st["state"] = {"running": {"startedAt": F.ts_s(a.start)}}
        st["started"] = True
        st["ready"] = cs.ready
        ready = cs.ready
    if prev is not None and prev.end is not None:
        st["lastState"] = {
            "terminated": {
                "containerID": f"containerd://{prev.cid}",
                "exitCode": prev.exit_code,
                "finishedAt": F.ts_s(prev.end),
                "reason": prev.reason,
                "startedAt": F.ts_s(prev.start),
            }
        }
    return st, ready


def _pod_conditions(pod: Pod, first_start: int, all_ready: bool) -> tuple[list[dict], int]:
    """The pod's conditions, and when its containers last ended (0 if none has)."""
    end_t = max((cs.attempts[-1].end or 0) for cs in pod.cstates)
    ready_t = max(cs.attempts[-1].start for cs in pod.cstates) + 2 * NS
    if not all_ready:
        ready_t = pod.unready[-1] if pod.unready else (end_t or ready_t)
    terminal = pod.phase in ("Failed", "Succeeded")
    conds = [
        {
            "lastProbeTime": None,
            "lastTransitionTime": F.ts_s(end_t if terminal else first_start - NS),
            "status": "False" if terminal else "True",
            "type": "PodReadyToStartContainers",
        },
        {
            "lastProbeTime": None,
            "lastTransitionTime": F.ts_s(pod.created + NS),
            "status": "True",
            "type": "Initialized",
        },
        {
            "lastProbeTime": None,
            "lastTransitionTime": F.ts_s(ready_t),
            "status": "True" if all_ready else "False",
            "type": "Ready",
        },
        {
            "lastProbeTime": None,
            "lastTransitionTime": F.ts_s(ready_t),
            "status": "True" if all_ready else "False",
            "type": "ContainersReady",
        },
        {
            "lastProbeTime": None,
            "lastTransitionTime": F.ts_s(pod.created),
            "status": "True",
            "type": "PodScheduled",
        },
    ]
    if not all_ready:
        names = ",".join(cs.spec.name for cs in pod.cstates if not cs.ready or cs.waiting)
        for c in conds[2:4]:
            c["reason"] = "PodCompleted" if pod.phase == "Succeeded" else "ContainersNotReady"
            if pod.phase != "Succeeded":
                c["message"] = (
                    f"containers with unready status: [{names or pod.cstates[0].spec.name}]"
                )
    return conds, end_t


def _digest(s: str) -> str:
    import hashlib

    return hashlib.sha256(s.encode()).hexdigest()


Inventory = dict[str, list[dict]]
Builder = Callable[[World, Workload, list[Pod], Inventory], None]

#: The manifest builder of each workload kind: it adds the kind's object, and the objects the
#: controller owns (a Deployment's ReplicaSets, a CronJob's Jobs), to the inventory's lists.
WORKLOAD_BUILDERS: dict[str, Builder] = {}

#: The inventory files, in the order their lists are made.
KINDS = (
    "pods",
    "replicasets",
    "deployments",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "services",
    "nodes",
    "namespaces",
)


def builds(*kinds: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the manifest builder of workload ``kinds``."""

    def register(builder: Builder) -> Builder:
        for kind in kinds:
            WORKLOAD_BUILDERS[kind] = builder
        return builder

    return register


def _ready(live: list[Pod]) -> int:
    """Pods running with every container ready."""
    return sum(
        1
        for p in live
        if p.phase == "Running" and all(cs.ready and not cs.waiting for cs in p.cstates)
    )


def render_inventory(w: World, files: dict, meta: dict) -> None:
    """``inventory/<kind>.json`` for every kind, as ``kubectl get <kind> -A -o json`` at the
    window's end: only the pods not yet deleted, the workloads through their builders."""
    end = w.t1
    inv: Inventory = {k: [] for k in KINDS}
    for ns in sorted(w.namespaces):
        inv["namespaces"].append(_namespace(w, ns))
    for node in w.nodes:
        inv["nodes"].append(node_object(w, node))
    for pod in w.pods:
        if pod.deleted is None or pod.deleted > end:
            inv["pods"].append(pod_object(w, pod))
    for wl in w.workloads:
        live = [p for p in w.pods if p.wl is wl and (p.deleted is None or p.deleted > end)]
        build = WORKLOAD_BUILDERS.get(wl.kind)
        if build is not None:
            build(w, wl, live, inv)
        _service(w, wl, inv)
    _kubernetes_service(w, inv)
    for kind, items in {**inv, **w.objects}.items():
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        path = f"inventory/{kind}.json"
        files[path] = F.kubectl_list(items)
        meta[path] = {"records": len(items), "malformed": 0, "format": "k8s-json"}


def _namespace(w: World, ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "creationTimestamp": F.ts_s(w.namespaces[ns]),
            "labels": {
                "kubernetes.io/metadata.name": ns,
                **w.namespace_labels.get(ns, {}),
            },
            "name": ns,
            "resourceVersion": w.next_rv(),
            "uid": w.uid(),
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


@builds("Deployment")
def _deployment(w: World, wl: Workload, live: list[Pod], inv: Inventory) -> None:
    """The Deployment with its status and conditions, then its ReplicaSets."""
    end = w.t1
    ready = _ready(live)
    sel = {"matchLabels": dict(wl.labels)}
    rev = wl.revisions[-1]
    progressing_t = rev["created"] + 40 * NS
    inv["deployments"].append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(
                wl.name,
                wl.ns,
                wl.uid,
                wl.created,
                w.next_rv(),
                wl.labels,
                annotations={"deployment.kubernetes.io/revision": str(rev["number"])},
                generation=wl.generation,
            ),
            "spec": {
                "progressDeadlineSeconds": 600,
                "replicas": wl.replicas,
                "revisionHistoryLimit": 10,
                "selector": sel,
                "strategy": {
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                    "type": "RollingUpdate",
                },
                "template": _template(w, wl, rev["images"], dict(wl.labels)),
            },
            "status": {
                "availableReplicas": ready,
                "conditions": [
                    {
                        "lastTransitionTime": F.ts_s(
                            max(wl.created, end - 3000 * NS)
                            if ready < wl.replicas
                            else wl.created + 30 * NS
                        ),
                        "lastUpdateTime": F.ts_s(
                            max(wl.created, end - 3000 * NS)
                            if ready < wl.replicas
                            else wl.created + 30 * NS
                        ),
                        "message": "Deployment has minimum availability."
                        if ready >= wl.replicas * 0.75
                        else "Deployment does not have minimum availability.",
                        "reason": "MinimumReplicasAvailable"
                        if ready >= wl.replicas * 0.75
                        else "MinimumReplicasUnavailable",
                        "status": "True" if ready >= wl.replicas * 0.75 else "False",
                        "type": "Available",
                    },
                    {
                        "lastTransitionTime": F.ts_s(wl.created + 5 * NS),
                        "lastUpdateTime": F.ts_s(progressing_t),
                        "message": f'ReplicaSet "{wl.name}-{rev["hash"]}" has successfully progressed.',
                        "reason": "NewReplicaSetAvailable",
                        "status": "True",
                        "type": "Progressing",
                    },
                ],
                "observedGeneration": wl.generation,
                "readyReplicas": ready,
                "replicas": len(live),
                **({"unavailableReplicas": len(live) - ready} if len(live) > ready else {}),
                "updatedReplicas": len(live),
            },
        }
    )
    _replicasets(w, wl, live, inv)


def _replicasets(w: World, wl: Workload, live: list[Pod], inv: Inventory) -> None:
    """One ReplicaSet per revision; all but the last scaled to zero."""
    for r in wl.revisions:
        rs_live = [p for p in live if p.labels.get("pod-template-hash") == r["hash"]]
        rs_ready = sum(1 for p in rs_live if all(cs.ready and not cs.waiting for cs in p.cstates))
        labels = {**wl.labels, "pod-template-hash": r["hash"]}
        st = {"observedGeneration": wl.generation, "replicas": len(rs_live)}
        if rs_live:
            st.update(
                {
                    "availableReplicas": rs_ready,
                    "fullyLabeledReplicas": len(rs_live),
                    "readyReplicas": rs_ready,
                }
            )
        inv["replicasets"].append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": _meta(
                    f"{wl.name}-{r['hash']}",
                    wl.ns,
                    r["uid"],
                    r["created"],
                    w.next_rv(),
                    labels,
                    ("Deployment", wl.name, wl.uid),
                    {
                        "deployment.kubernetes.io/desired-replicas": str(wl.replicas),
                        "deployment.kubernetes.io/max-replicas": str(
                            wl.replicas + max(1, wl.replicas // 4)
                        ),
                        "deployment.kubernetes.io/revision": str(r["number"]),
                    },
                    generation=r["number"] + 1,
                ),
                "spec": {
                    "replicas": r["replicas_end"],
                    "selector": {"matchLabels": labels},
                    "template": _template(w, wl, r["images"], labels),
                },
                "status": st,
            }
        )


@builds("StatefulSet", "DaemonSet")
def _statefulset_or_daemonset(w: World, wl: Workload, live: list[Pod], inv: Inventory) -> None:
    """A StatefulSet or DaemonSet with its update strategy and status."""
    ready = _ready(live)
    sel = {"matchLabels": dict(wl.labels)}
    rev = wl.revisions[-1]
    obj = {
        "apiVersion": "apps/v1",
        "kind": wl.kind,
        "metadata": _meta(
            wl.name,
            wl.ns,
            wl.uid,
            wl.created,
            w.next_rv(),
            wl.labels,
            generation=wl.generation,
        ),
        "spec": {
            "selector": sel,
            "template": _template(w, wl, rev["images"], dict(wl.labels)),
            "revisionHistoryLimit": 10,
        },
        "status": {"observedGeneration": wl.generation},
    }
    if wl.kind == "StatefulSet":
        obj["spec"].update(
            {
                "replicas": wl.replicas,
                "serviceName": wl.name,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {
                    "rollingUpdate": {"partition": 0},
                    "type": "RollingUpdate",
                },
            }
        )
        obj["status"].update(
            {
                "availableReplicas": ready,
                "collisionCount": 0,
                "currentReplicas": len(live),
                "currentRevision": f"{wl.name}-{rev['hash']}",
                "readyReplicas": ready,
                "replicas": len(live),
                "updateRevision": f"{wl.name}-{rev['hash']}",
                "updatedReplicas": len(live),
            }
        )
    else:
        obj["spec"]["updateStrategy"] = wl.update_strategy or {
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            "type": "RollingUpdate",
        }
        updated = [p for p in live if p.labels["controller-revision-hash"] == rev["hash"]]
        obj["status"].update(
            {
                "currentNumberScheduled": len(live),
                "desiredNumberScheduled": len(w.nodes) if wl.desired is None else wl.desired,
                "numberAvailable": ready,
                "numberMisscheduled": 0,
                "numberReady": ready,
                "updatedNumberScheduled": len(updated),
            }
        )
    inv["statefulsets" if wl.kind == "StatefulSet" else "daemonsets"].append(obj)


@builds("CronJob")
def _cronjob(w: World, wl: Workload, live: list[Pod], inv: Inventory) -> None:
    """The CronJob with its last schedule and success, then the Jobs it keeps."""
    jobs = [j for j in w.jobs if j["cron"] is wl]
    last = max((j["start"] for j in jobs), default=w.t0 - 3600 * NS)
    last_ok = max((j["end"] for j in jobs if j["ok"]), default=w.t0 - 3600 * NS)
    inv["cronjobs"].append(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _meta(
                wl.name, wl.ns, wl.uid, wl.created, w.next_rv(), wl.labels, generation=1
            ),
            "spec": {
                "concurrencyPolicy": "Forbid",
                "failedJobsHistoryLimit": 1,
                "schedule": wl.schedule,
                "successfulJobsHistoryLimit": 3,
                "suspend": False,
                "jobTemplate": {
                    "metadata": {"creationTimestamp": None},
                    "spec": {
                        "backoffLimit": 0,
                        "template": _template(w, wl, {}, dict(wl.labels)),
                    },
                },
            },
            "status": {
                "lastScheduleTime": F.ts_s(last),
                "lastSuccessfulTime": F.ts_s(last_ok),
            },
        }
    )
    _jobs(w, wl, jobs, inv)


def _jobs(w: World, wl: Workload, jobs: list[dict], inv: Inventory) -> None:
    """The CronJob's Jobs kept by its history limits, complete or failed."""
    for j in jobs:
        labels = {
            "batch.kubernetes.io/controller-uid": j["uid"],
            "batch.kubernetes.io/job-name": j["name"],
            "controller-uid": j["uid"],
            "job-name": j["name"],
        }
        cond_type = "Complete" if j["ok"] else "Failed"
        st = {
            "conditions": [
                {
                    "lastProbeTime": F.ts_s(j["end"]),
                    "lastTransitionTime": F.ts_s(j["end"]),
                    "status": "True",
                    "type": cond_type,
                }
            ],
            "ready": 0,
            "startTime": F.ts_s(j["start"]),
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
        if j["ok"]:
            st.update({"completionTime": F.ts_s(j["end"]), "succeeded": 1})
        else:
            st["conditions"][0].update(
                {
                    "message": "Job has reached the specified backoff limit",
                    "reason": "BackoffLimitExceeded",
                }
            )
            st["failed"] = 1
        inv["jobs"].append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": _meta(
                    j["name"],
                    wl.ns,
                    j["uid"],
                    j["start"],
                    w.next_rv(),
                    labels,
                    ("CronJob", wl.name, wl.uid),
                    {
                        "batch.kubernetes.io/job-tracking": "",
                        "batch.kubernetes.io/cronjob-scheduled-timestamp": F.ts_s(j["start"]),
                    },
                    1,
                ),
                "spec": {
                    "backoffLimit": 0,
                    "completionMode": "NonIndexed",
                    "completions": 1,
                    "parallelism": 1,
                    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": j["uid"]}},
                    "template": _template(w, wl, {}, {**wl.labels, **labels}),
                },
                "status": st,
            }
        )


def _service(w: World, wl: Workload, inv: Inventory) -> None:
    """A ClusterIP Service for a workload that serves on a port (not for bare pods)."""
    if wl.service and wl.containers[0].port and wl.kind != "Pod":
        port = wl.containers[0].port
        inv["services"].append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(wl.name, wl.ns, w.uid(), wl.created, w.next_rv(), wl.labels),
                "spec": {
                    "clusterIP": f"172.20.{int(w.rng.integers(0, 255))}.{int(w.rng.integers(1, 255))}",
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "ports": [
                        {
                            "name": "http",
                            "port": 80 if port in (8080, 3000) else port,
                            "protocol": "TCP",
                            "targetPort": port,
                        }
                    ],
                    "selector": dict(wl.labels),
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
                "status": {"loadBalancer": {}},
            }
        )


def _kubernetes_service(w: World, inv: Inventory) -> None:
    """The API server's ``default/kubernetes`` Service."""
    inv["services"].append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(
                "kubernetes",
                "default",
                w.uid(),
                w.namespaces.get("default", w.t0),
                w.next_rv(),
                {"component": "apiserver", "provider": "kubernetes"},
            ),
            "spec": {
                "clusterIP": "172.20.0.1",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        }
    )


#: The node pressure conditions: type, the kubelet's reason and message when fine, and when not.
_PRESSURES = [
    (
        "MemoryPressure",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    ),
    (
        "DiskPressure",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
    ),
    (
        "PIDPressure",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    ),
]


def _node_conditions(w: World, node: dict) -> list[dict]:
    """The node's pressure conditions (true while a scenario's span of one lasts) and Ready."""
    name = node["name"]
    hb = F.ts_s(w.t1 - int(w.rng.integers(5, 50)) * NS)
    conds = []
    spans = {c: (a, b) for c, a, b in w.node_conditions[name]}
    for ctype, ok_reason, ok_msg, bad_reason, bad_msg in _PRESSURES:
        if ctype in spans:
            a, b = spans[ctype]
            bad = a <= w.t1 < b
            trans = a if bad else b
        else:
            bad, trans = False, node["created"] + 20 * NS
        conds.append(
            {
                "lastHeartbeatTime": hb,
                "lastTransitionTime": F.ts_s(trans),
                "message": bad_msg if bad else ok_msg,
                "reason": bad_reason if bad else ok_reason,
                "status": "True" if bad else "False",
                "type": ctype,
            }
        )
    conds.append(
        {
            "lastHeartbeatTime": hb,
            "lastTransitionTime": F.ts_s(node["created"] + 40 * NS),
            "message": "kubelet is posting ready status",
            "reason": "KubeletReady",
            "status": "True",
            "type": "Ready",
        }
    )
    return conds


def node_object(w: World, node: dict) -> dict:
    name = node["name"]
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": node["itype"],
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": node["itype"],
        "topology.kubernetes.io/region": node["zone"][:-1],
        "topology.kubernetes.io/zone": node["zone"],
    }
    if node["role"]:
        labels[f"node-role.kubernetes.io/{node['role']}"] = ""
    conds = _node_conditions(w, node)
    cpu, mem = node["cpu"], node["mem"]
    spec: dict = {
        "podCIDR": node["podcidr"],
        "podCIDRs": [node["podcidr"]],
        "providerID": node["provider"],
    }
    if node["taints"]:
        spec["taints"] = [
            {"effect": e, "key": k, **({"timeAdded": F.ts_s(t)} if t else {})}
            for k, e, t in node["taints"]
        ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": node["ip"],
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "creationTimestamp": F.ts_s(node["created"]),
            "labels": labels,
            "name": name,
            "resourceVersion": w.next_rv(),
            "uid": node["uid"],
        },
        "spec": spec,
        "status": {
            "addresses": [
                {"address": node["ip"], "type": "InternalIP"},
                {"address": name, "type": "Hostname"},
                {"address": name, "type": "InternalDNS"},
            ],
            "allocatable": {
                "cpu": f"{cpu * 1000 - 90}m",
                "ephemeral-storage": str(int(node["disk"] * 0.9)),
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": f"{(mem - 700 * 2**20) // 1024}Ki",
                "pods": "58",
            },
            "capacity": {
                "cpu": str(cpu),
                "ephemeral-storage": f"{node['disk'] // 1024}Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": f"{mem // 1024}Ki",
                "pods": "58",
            },
            "conditions": conds,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": node["boot"],
                "containerRuntimeVersion": "containerd://1.7.11",
                "kernelVersion": node["kernel"],
                "kubeProxyVersion": "v1.29.3",
                "kubeletVersion": "v1.29.3",
                "machineID": node["uid"].replace("-", ""),
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2",
                "systemUUID": node["uid"].upper(),
            },
        },
    }
