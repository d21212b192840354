# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""What the pods' lifecycles imply: kubelet and controller events, the audit entries of the
control plane's routine traffic, and each container's background log lines."""

from __future__ import annotations

import json

import numpy as np

from obskit.datasets import _formats as F
from obskit.datasets._world import NS, STEP, CState, Pod, World


def lifecycle_records(w: World) -> None:
    """Kubelet/controller events, audit entries and background logs implied by the pods' lifecycles."""
    sched_user = {"username": "system:kube-scheduler", "groups": ["system:authenticated"]}
    rs_user = w.sa_user("kube-system", "replicaset-controller", w.uid())
    for pod in w.pods:
        if w.t0 <= pod.created < w.t1:
            _pod_created(w, pod, rs_user, sched_user)
        for ci, cs in enumerate(pod.cstates):
            _container_starts(w, pod, ci, cs)
        if pod.deleted is not None and pod.deleted <= w.t1:
            for ci, cs in enumerate(pod.cstates):
                w.pod_event(
                    pod,
                    "Killing",
                    f"Stopping container {cs.spec.name}",
                    pod.deleted - 3 * NS,
                    ci=ci,
                )
        background_logs(w, pod)
    background_audit(w)


def _pod_created(w: World, pod: Pod, rs_user: dict, sched_user: dict) -> None:
    """A pod created in the window: its controller's SuccessfulCreate (event and audit), the
    scheduler's Scheduled event and binding."""
    node = pod.node["name"]
    if pod.owner_kind in ("ReplicaSet", "DaemonSet", "StatefulSet", "Job"):
        comp = {
            "ReplicaSet": "replicaset-controller",
            "DaemonSet": "daemonset-controller",
            "StatefulSet": "statefulset-controller",
            "Job": "job-controller",
        }[pod.owner_kind]
        api = "batch/v1" if pod.owner_kind == "Job" else "apps/v1"
        msg = f"Created pod: {pod.name}"
        if pod.owner_kind == "StatefulSet":
            msg = f"create Pod {pod.name} in StatefulSet {pod.owner_name} successful"
        w.event(
            pod.owner_kind,
            pod.owner_name,
            pod.wl.ns,
            pod.owner_uid,
            "SuccessfulCreate",
            msg,
            pod.created,
            comp=comp,
            api_version=api,
        )
        w.audit_event(
            pod.created,
            user=rs_user
            if comp == "replicaset-controller"
            else {**rs_user, "username": f"system:serviceaccount:kube-system:{comp}"},
            verb="create",
            uri=f"/api/v1/namespaces/{pod.wl.ns}/pods",
            resource="pods",
            ns=pod.wl.ns,
            code=201,
            ips=["10.0.0.10"],
            ua="kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625/system:serviceaccount:kube-system:"
            + comp,
            reason=f'RBAC: allowed by ClusterRoleBinding "system:controller:{comp}" of ClusterRole "system:controller:{comp}" to ServiceAccount "{comp}/kube-system"',
            extra_ann={"pod-security.kubernetes.io/enforce-policy": "privileged:latest"},
        )
    ts = pod.created + int(w.rng.uniform(0.05, 0.6) * NS)
    w.event(
        "Pod",
        pod.name,
        pod.wl.ns,
        pod.uid,
        "Scheduled",
        f"Successfully assigned {pod.wl.ns}/{pod.name} to {node}",
        ts,
        comp="default-scheduler",
    )
    w.audit_event(
        ts,
        user=sched_user,
        verb="create",
        uri=f"/api/v1/namespaces/{pod.wl.ns}/pods/{pod.name}/binding",
        resource="pods",
        ns=pod.wl.ns,
        name=pod.name,
        sub="binding",
        code=201,
        ips=["10.0.0.10"],
        ua="kube-scheduler/v1.29.3 (linux/amd64) kubernetes/6813625/scheduler",
        reason='RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole "system:kube-scheduler" to User "system:kube-scheduler"',
    )


def _container_starts(w: World, pod: Pod, ci: int, cs: CState) -> None:
    """Pulling/Pulled, Created and Started for each attempt in the window, and the
    aggregated BackOff event of a crash loop."""
    image = pod.images.get(cs.spec.name, cs.spec.image)
    for k, a in enumerate(cs.attempts):
        if not (w.t0 <= a.start < w.t1):
            continue
        fp_t = a.start - int(w.rng.uniform(0.3, 1.5) * NS)
        if k == 0:
            pull = int(w.rng.uniform(0.4, 3.0) * 1000)
            w.pod_event(pod, "Pulling", f'Pulling image "{image}"', fp_t - pull * 1_000_000, ci=ci)
            w.pod_event(
                pod,
                "Pulled",
                f'Successfully pulled image "{image}" in {pull}ms '
                f"({pull + 12}ms including waiting). Image size: {int(w.rng.integers(20, 400)) * 1048576 + 8812} bytes.",
                fp_t,
                ci=ci,
            )
        else:
            w.pod_event(
                pod,
                "Pulled",
                f'Container image "{image}" already present on machine',
                fp_t,
                ci=ci,
            )
        w.pod_event(pod, "Created", f"Created container {cs.spec.name}", fp_t + 40_000_000, ci=ci)
        w.pod_event(pod, "Started", f"Started container {cs.spec.name}", a.start, ci=ci)
    # aggregated BackOff events for crash loops
    backoffs = [a for a in cs.attempts[1:] if w.t0 <= a.start]
    gaps = [
        (cs.attempts[i].end, cs.attempts[i + 1].start)
        for i in range(len(cs.attempts) - 1)
        if cs.attempts[i].end and cs.attempts[i + 1].start - cs.attempts[i].end > 15 * NS
    ]
    if cs.waiting == "CrashLoopBackOff" and cs.attempts[-1].end:
        gaps.append((cs.attempts[-1].end, w.t1 - 20 * NS))
    if gaps and backoffs is not None:
        first = gaps[0][0] + 2 * NS
        last = gaps[-1][1] - NS
        n = sum(max(1, int((b - a) / NS / 10)) for a, b in gaps)
        w.pod_event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {cs.spec.name} in pod "
            f"{pod.name}_{pod.wl.ns}({pod.uid})",
            first,
            typ="Warning",
            ci=ci,
            count=n,
            last=last,
        )


_CM_UA = "kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625"
#: The control plane's routine requests: user, verb, URI (``{rv}``/``{ns}`` filled in; None
#: for an EndpointSlice update), resource, namespace (``*`` for any), period in seconds, agent.
_PERIODIC = [
    (
        "system:kube-controller-manager",
        "get",
        "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication",
        "configmaps",
        "kube-system",
        600,
        _CM_UA,
    ),
    (
        "system:serviceaccount:kube-system:endpointslice-controller",
        "update",
        None,
        "endpointslices",
        None,
        240,
        _CM_UA,
    ),
    (
        "system:serviceaccount:monitoring:kube-prometheus-stack-prometheus",
        "watch",
        "/api/v1/pods?allowWatchBookmarks=true&resourceVersion={rv}&timeout=8m36s&timeoutSeconds=516&watch=true",
        "pods",
        None,
        516,
        "Prometheus/2.51.1",
    ),
    (
        "system:serviceaccount:monitoring:kube-prometheus-stack-prometheus",
        "watch",
        "/api/v1/namespaces/{ns}/endpoints?allowWatchBookmarks=true&resourceVersion={rv}&timeout=7m12s&timeoutSeconds=432&watch=true",
        "endpoints",
        "*",
        432,
        "Prometheus/2.51.1",
    ),
    (
        "system:serviceaccount:monitoring:kube-state-metrics",
        "watch",
        "/api/v1/pods?allowWatchBookmarks=true&resourceVersion={rv}&timeout=9m2s&timeoutSeconds=542&watch=true",
        "pods",
        None,
        542,
        "v2.10.1",
    ),
    (
        "system:serviceaccount:kube-system:coredns",
        "watch",
        "/apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true&resourceVersion={rv}&timeout=6m40s&timeoutSeconds=400&watch=true",
        "endpointslices",
        None,
        400,
        "coredns/v1.11.1 (linux/amd64) kubernetes/ae2bbc2",
    ),
]


def background_audit(w: World) -> None:
    """Routine control-plane traffic: node status, controller and monitoring list/watch."""
    for node in w.nodes:
        t = w.t0 + int(w.rng.uniform(0, 300) * NS)
        while t < w.t1:
            w.audit_event(
                t,
                user=w.node_user(node),
                verb="patch",
                uri=f"/api/v1/nodes/{node['name']}/status?timeout=10s",
                resource="nodes",
                name=node["name"],
                sub="status",
                ips=[node["ip"]],
                ua="kubelet/v1.29.3 (linux/amd64) kubernetes/6813625",
            )
            t += int(w.rng.normal(300, 2) * NS)
    ns_list = sorted(w.namespaces)
    for entry in _PERIODIC:
        period = entry[5]
        t = w.t0 + int(w.rng.uniform(0, period) * NS)
        while t < w.t1:
            _periodic_request(w, t, entry, ns_list)
            t += int(w.rng.normal(period, period * 0.05) * NS)


def _periodic_request(w: World, t: int, entry: tuple, ns_list: list[str]) -> None:
    """One audit entry of a routine request at ``t``."""
    user, verb, uri, res, ns, _period, ua = entry
    nsx = ns
    if ns == "*":
        nsx = ns_list[int(w.rng.integers(0, len(ns_list)))]
    group = "discovery.k8s.io" if res == "endpointslices" else ""
    if uri is None:
        svc = [x for x in w.workloads if x.service and x.containers[0].port]
        wl = svc[int(w.rng.integers(0, len(svc)))]
        nsx = wl.ns
        name = f"{wl.name}-{w.suffix()}"
        u = f"/apis/discovery.k8s.io/v1/namespaces/{nsx}/endpointslices/{name}"
    else:
        name = None
        u = uri.format(rv=w.next_rv(), ns=nsx)
    parts = user.split(":")
    if parts[1] == "serviceaccount":
        usr = w.sa_user(parts[2], parts[3], w.uid())
    else:
        usr = {"username": user, "groups": ["system:authenticated"]}
    stage = "ResponseStarted" if verb == "watch" else "ResponseComplete"
    if (
        parts[1] == "serviceaccount"
        and parts[2] == "kube-system"
        and parts[3].endswith("-controller")
    ):
        crb = f"system:controller:{parts[3]}"
    elif parts[1] == "serviceaccount" and parts[3] == "coredns":
        crb = "system:coredns"
    else:
        crb = parts[-1] if parts[1] == "serviceaccount" else user
    subject = (
        f'ServiceAccount "{parts[3]}/{parts[2]}"'
        if parts[1] == "serviceaccount"
        else f'User "{user}"'
    )
    w.audit_event(
        t,
        user=usr,
        verb=verb,
        uri=u,
        resource=res,
        ns=nsx,
        name=name,
        group=group,
        ips=["10.0.0.10"]
        if "controller" in user
        else [f"10.244.{int(w.rng.integers(0, len(w.nodes)))}.{int(w.rng.integers(2, 250))}"],
        ua=ua,
        stage=stage,
        latency_ms=float(w.rng.gamma(2, 1.5)),
        reason=f'RBAC: allowed by ClusterRoleBinding "{crb}" of ClusterRole "{crb}" to {subject}',
    )


_PATHS = [
    "/api/v1/items",
    "/api/v1/cart",
    "/healthz",
    "/api/v1/orders",
    "/api/v1/search",
    "/metrics",
]


def _bg_text(w: World, pod: Pod, t: int, level: str, ci: int) -> tuple[str, str]:
    wl = pod.wl
    style = wl.style if ci == 0 else "json"
    r = w.rng
    path = _PATHS[int(r.integers(0, len(_PATHS)))]
    lat = float(r.gamma(2.0, 8.0))
    rid = r.bytes(8).hex()
    if level == "error" and w.err_text.get(wl.name):
        msgs = w.err_text[wl.name]
        msg = msgs[int(r.integers(0, len(msgs)))]
    elif level == "warn":
        msg = [
            "slow request",
            "retrying request",
            "cache miss storm",
            "connection pool near capacity",
        ][int(r.integers(0, 4))]
    elif level == "error":
        msg = "request failed"
    else:
        msg = [
            "request completed",
            "request completed",
            "request completed",
            "cache refreshed",
            "health check ok",
        ][int(r.integers(0, 5))]
    if style == "json":
        rec = {
            "level": level,
            "ts": round(t / NS, 6),
            "caller": f"server/{['handler', 'router', 'store'][int(r.integers(0, 3))]}.go:{int(r.integers(40, 400))}",
            "msg": msg,
            "method": "GET",
            "path": path,
            "status": 500 if level == "error" else 200,
            "latency_ms": round(lat, 3),
            "request_id": rid,
        }
        return ("stderr" if level == "error" else "stdout"), json.dumps(rec, separators=(",", ":"))
    if style == "logfmt":
        q = f'"{msg}"' if " " in msg else msg
        return (
            "stdout",
            f"ts={F.ts_ms_iso(t)} level={level} caller=api.go:{int(r.integers(20, 300))} msg={q} path={path} duration={lat:.1f}ms request_id={rid}",
        )
    if style == "java":
        lvl = {"info": " INFO", "warn": " WARN", "error": "ERROR"}[level]
        thread = f"http-nio-8080-exec-{int(r.integers(1, 11))}"
        logger = {
            "info": "c.e.shop.web.RequestLogger",
            "warn": "c.e.shop.service.OrderService",
            "error": "c.e.shop.service.OrderService",
        }[level]
        return (
            "stdout",
            f"{F.ts_java(t)} {lvl} 1 --- [{thread:>15}] {logger:<40} : {msg} path={path} took={int(lat)}ms",
        )
    if style == "nginx":
        d = np.datetime64(t // NS, "s").astype(object)
        stamp = d.strftime("%d/%b/%Y:%H:%M:%S +0000")
        code = 502 if level == "error" else 200
        ip = f"10.244.{int(r.integers(0, 4))}.{int(r.integers(2, 250))}"
        return "stdout", (
            f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {code} {int(r.integers(200, 9000))} "-" '
            f'"Mozilla/5.0 (X11; Linux x86_64)" {int(r.integers(300, 900))} {lat / 1000:.3f} '
            f"[{wl.ns}-{wl.name}-80] [] {pod.ip}:8080 {int(r.integers(200, 9000))} {lat / 1000:.3f} {code} {rid}"
        )
    if style == "python":
        d = np.datetime64(t // NS, "s").astype(object)
        return (
            "stderr",
            f"{d.strftime('%Y-%m-%d %H:%M:%S')},{(t // 1_000_000) % 1000:03d} {level.upper()} [worker] {msg} job_id={rid[:8]}",
        )
    if style == "klog":
        d = np.datetime64(t // NS, "s").astype(object)
        lv = {"info": "I", "warn": "W", "error": "E"}[level]
        return (
            "stderr",
            f"{lv}{d.strftime('%m%d %H:%M:%S')}.{(t // 1000) % 1_000_000:06d}       1 reflector.go:{int(r.integers(200, 400))}] {msg}",
        )
    if style == "redis":
        d = np.datetime64(t // NS, "s").astype(object)
        return (
            "stdout",
            f"1:M {d.strftime('%d %b %Y %H:%M:%S')}.{(t // 1_000_000) % 1000:03d} * {int(r.integers(10, 5000))} changes in 60 seconds. Saving...",
        )
    return "stdout", msg


def background_logs(w: World, pod: Pod) -> None:
    """Poisson background lines for every running container attempt, errors from ``err_frac``."""
    wl = pod.wl
    for ci, cs in enumerate(pod.cstates):
        rate = wl.log_rate * w.scale * (1.0 if ci == 0 else 0.2)
        for k, a in enumerate(cs.attempts):
            end = a.end if a.end is not None else (pod.deleted or w.t1)
            s, e = max(a.start, w.t0), min(end, w.t1)
            if e <= s:
                continue
            i0, i1 = w.idx(s), w.idx(e)
            for i in range(i0, i1 + 1):
                lo = max(s, int(w.grid[i]) * NS)
                hi = min(e, lo + STEP * NS)
                if hi <= lo:
                    continue
                frac = (hi - lo) / (STEP * NS)
                lf = float(pod.log_factor[i]) if pod.log_factor is not None else 1.0
                n_info = int(w.rng.poisson(rate * STEP * frac * lf))
                ef = float(pod.err_frac[i]) if (pod.err_frac is not None and ci == 0) else 0.0
                n_err = int(w.rng.poisson(ef * STEP * frac * w.scale)) if ef > 0 else 0
                n_warn = int(w.rng.poisson(rate * STEP * frac * 0.02))
                levels = ["info"] * n_info + ["warn"] * n_warn + ["error"] * n_err
                ts = np.sort(w.rng.integers(lo, hi, len(levels))) if levels else []
                order = w.rng.permutation(len(levels)) if levels else []
                for t, j in zip(ts, order, strict=False):
                    stream, text = _bg_text(w, pod, int(t), levels[int(j)], ci)
                    w.log(pod, int(t), text, stream, ci=ci)
            if (k == 0 and a.start >= w.t0) or k > 0:
                w.log(pod, a.start + 200_000_000, _startup_line(pod, ci, k), "stdout", ci=ci)


def _startup_line(pod: Pod, ci: int, k: int) -> str:
    style = pod.wl.style if ci == 0 else "json"
    port = pod.cstates[ci].spec.port or 8080
    if style == "java":
        return f"{F.ts_java(pod.cstates[ci].attempts[k].start + 200_000_000)}  INFO 1 --- [           main] c.e.shop.Application                     : Started Application in 6.412 seconds (process running for 7.03)"
    if style == "logfmt":
        return f'ts={F.ts_ms_iso(pod.cstates[ci].attempts[k].start + 200_000_000)} level=info msg="listening" addr=:{port}'
    return json.dumps(
        {
            "level": "info",
            "ts": round((pod.cstates[ci].attempts[k].start + 200_000_000) / NS, 6),
            "msg": "server listening",
            "addr": f":{port}",
            "restart": k,
        },
        separators=(",", ":"),
    )
