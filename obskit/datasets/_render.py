# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""Turn a :class:`~obskit.datasets._world.World` into files in the real formats."""

from __future__ import annotations

import json

import numpy as np

from obskit.datasets import _formats as F
from obskit.datasets._world import NS, STEP, Pod, World

CRI_MAX_LINE = 16384  # containerd's default max_container_log_line_size
GZIP_OVER = 96 * 1024  # metrics responses larger than this are stored gzipped


# =============================================================================== lifecycle
def lifecycle_records(w: World) -> None:
    """Kubelet/controller events, audit entries and background logs implied by the pods' lifecycles."""
    sched_user = {"username": "system:kube-scheduler", "groups": ["system:authenticated"]}
    rs_user = {
        "username": "system:serviceaccount:kube-system:replicaset-controller",
        "uid": w.uid(),
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        ],
    }
    for pod in w.pods:
        node = pod.node["name"]
        if w.t0 <= pod.created < w.t1:
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
        for ci, cs in enumerate(pod.cstates):
            image = pod.images.get(cs.spec.name, cs.spec.image)
            for k, a in enumerate(cs.attempts):
                if not (w.t0 <= a.start < w.t1):
                    continue
                fp_t = a.start - int(w.rng.uniform(0.3, 1.5) * NS)
                if k == 0:
                    pull = int(w.rng.uniform(0.4, 3.0) * 1000)
                    w.pod_event(
                        pod, "Pulling", f'Pulling image "{image}"', fp_t - pull * 1_000_000, ci=ci
                    )
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
                w.pod_event(
                    pod, "Created", f"Created container {cs.spec.name}", fp_t + 40_000_000, ci=ci
                )
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


def background_audit(w: World) -> None:
    """Routine control-plane traffic: node status, controller and monitoring list/watch."""
    cm_ua = "kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625"
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
    periodic = [
        (
            "system:kube-controller-manager",
            "get",
            "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication",
            "configmaps",
            "kube-system",
            600,
            cm_ua,
        ),
        (
            "system:serviceaccount:kube-system:endpointslice-controller",
            "update",
            None,
            "endpointslices",
            None,
            240,
            cm_ua,
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
    ns_list = sorted(w.namespaces)
    for user, verb, uri, res, ns, period, ua in periodic:
        t = w.t0 + int(w.rng.uniform(0, period) * NS)
        while t < w.t1:
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
                else [
                    f"10.244.{int(w.rng.integers(0, len(w.nodes)))}.{int(w.rng.integers(2, 250))}"
                ],
                ua=ua,
                stage=stage,
                latency_ms=float(w.rng.gamma(2, 1.5)),
                reason=f'RBAC: allowed by ClusterRoleBinding "{crb}" of ClusterRole "{crb}" to {subject}',
            )
            t += int(w.rng.normal(period, period * 0.05) * NS)


# =============================================================================== logs
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


def render_logs(w: World, files: dict, meta: dict) -> None:
    for key in sorted(w.logs):
        ns, pod, uid, ctr, restart = key
        lines = sorted(w.logs[key], key=lambda ln: ln.t)
        base = f"logs/var/log/pods/{ns}_{pod}_{uid}/{ctr}"
        chunks: list[tuple[str, list]] = []
        if (ns, pod) in w.rotate and restart == 0 and len(lines) > 50:
            cut = int(len(lines) * 0.45)
            rot_t = lines[cut - 1].t + 1_000_000
            chunks.append((f"{base}/{restart}.log.{F.ts_rotation(rot_t)}.gz", lines[:cut]))
            chunks.append((f"{base}/{restart}.log", lines[cut:]))
        else:
            chunks.append((f"{base}/{restart}.log", lines))
        for path, chunk in chunks:
            out: list[bytes] = []
            partial = malformed = non_utf8 = 0
            for ln in chunk:
                if ln.raw is not None:
                    out.append(ln.raw)
                    malformed += ln.flag == "malformed"
                    non_utf8 += ln.flag == "non_utf8"
                    continue
                body = ln.text.encode("utf-8")
                stamp = F.ts_nano(ln.t).encode()
                while len(body) > CRI_MAX_LINE:
                    out.append(stamp + b" " + ln.stream.encode() + b" P " + body[:CRI_MAX_LINE])
                    body = body[CRI_MAX_LINE:]
                    partial += 1
                out.append(stamp + b" " + ln.stream.encode() + b" F " + body)
            data = b"\n".join(out) + b"\n"
            entry = {
                "records": len(out),
                "malformed": malformed,
                "format": "cri-log",
                "partial": partial,
            }
            if non_utf8:
                entry["non_utf8"] = non_utf8
            if path.endswith(".gz"):
                data = F.gzip_bytes(data)
            files[path] = data
            meta[path] = entry


# =============================================================================== metrics
def _points(
    w: World, values: np.ndarray, mask: np.ndarray, node: str | None = None
) -> list[tuple[int, float]]:
    m = mask & ~np.isnan(values) if values.dtype.kind == "f" else mask
    if node:
        for n, a, b in w.scrape_gaps:
            if n == node:
                t = w.grid * NS
                m = m & ~((t >= a) & (t < b))
    idx = np.nonzero(m)[0]
    return [(int(w.grid[i]) * 1000, float(values[i])) for i in idx]


def _cadvisor_labels(pod: Pod, ci: int, attempt_cid: str, image: str) -> dict:
    node = pod.node
    return {
        "__name__": "container_memory_working_set_bytes",
        "container": pod.cstates[ci].spec.name,
        "endpoint": "https-metrics",
        "id": f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod.uid.replace('-', '_')}.slice/cri-containerd-{attempt_cid}.scope",
        "image": image,
        "instance": f"{node['ip']}:10250",
        "job": "kubelet",
        "metrics_path": "/metrics/cadvisor",
        "name": attempt_cid,
        "namespace": pod.wl.ns,
        "node": node["name"],
        "pod": pod.name,
        "service": "kube-prometheus-stack-kubelet",
    }


def _rolling(x: np.ndarray, n: int = 10) -> np.ndarray:
    k = np.ones(n) / n
    pad = np.concatenate([np.full(n - 1, x[0]), x])
    return np.convolve(pad, k, "valid")


def render_metrics(w: World, files: dict, meta: dict) -> None:
    ksm = next((p for p in w.pods if p.wl.name == "kube-state-metrics"), None)
    ksm_inst = f"{ksm.ip}:8080" if ksm else "10.244.1.9:8080"
    ksm_common = {
        "endpoint": "http",
        "instance": ksm_inst,
        "job": "kube-state-metrics",
        "service": "kube-prometheus-stack-kube-state-metrics",
    }
    t = w.grid * NS
    out: dict[str, tuple[str, list]] = {}

    cpu, mem, restarts, lastterm, phase, http, p99 = [], [], [], [], [], [], []
    for pod in w.pods:
        alive = w.alive(pod)
        for ci, cs in enumerate(pod.cstates):
            run = w.running(pod, ci)
            cname = cs.spec.name
            scale = 1.0 if ci == 0 else 0.08
            vals = _rolling(pod.cpu * scale)
            first = np.argmax(run) if run.any() else 0
            rmask = run.copy()
            rmask[first] = False
            cpu.append(
                (
                    {
                        "container": cname,
                        "namespace": pod.wl.ns,
                        "node": pod.node["name"],
                        "pod": pod.name,
                    },
                    _points(w, vals, rmask, pod.node["name"]),
                )
            )
            image = pod.images.get(cname, cs.spec.image)
            for a in cs.attempts:
                end = a.end if a.end is not None else (pod.deleted or w.t1 + NS)
                am = (t >= a.start) & (t < end)
                mv = pod.mem * (1.0 if ci == 0 else 0.1)
                pts = _points(w, mv, am, pod.node["name"])
                if pts:
                    mem.append((_cadvisor_labels(pod, ci, a.cid, image), pts))
            lbl = {
                "__name__": "kube_pod_container_status_restarts_total",
                "container": cname,
                "namespace": pod.wl.ns,
                "pod": pod.name,
                "uid": pod.uid,
                **ksm_common,
            }
            cnt = np.zeros(len(t))
            for a in cs.attempts[1:]:
                cnt += t >= a.start
            base = 0
            restarts.append((lbl, _points(w, cnt + base, alive)))
            terms = [
                a
                for a in cs.attempts
                if a.end is not None and a.reason not in (None, "Completed") and a.end < w.t1
            ]
            if terms:
                for reason in sorted({a.reason for a in terms}):
                    first_t = min(a.end for a in terms if a.reason == reason)
                    m = alive & (t >= first_t)
                    lbl2 = {
                        "__name__": "kube_pod_container_status_last_terminated_reason",
                        "container": cname,
                        "namespace": pod.wl.ns,
                        "pod": pod.name,
                        "reason": reason,
                        "uid": pod.uid,
                        **ksm_common,
                    }
                    lastterm.append((lbl2, _points(w, np.ones(len(t)), m)))
        # phase
        ph = np.full(len(t), "Running", dtype=object)
        first_start = min(cs.attempts[0].start for cs in pod.cstates)
        ph[t < first_start] = "Pending"
        if pod.phase in ("Failed", "Succeeded"):
            end_t = max((cs.attempts[-1].end or w.t1) for cs in pod.cstates)
            ph[t >= end_t] = pod.phase
        for p in ("Pending", "Running", "Succeeded", "Failed"):
            m = alive & (ph == p)
            if m.any():
                lbl = {
                    "__name__": "kube_pod_status_phase",
                    "namespace": pod.wl.ns,
                    "phase": p,
                    "pod": pod.name,
                    "uid": pod.uid,
                    **ksm_common,
                }
                phase.append((lbl, _points(w, np.ones(len(t)), m)))
        if pod.rps:
            run = w.running(pod, 0)
            for code in sorted(pod.rps):
                vals = _rolling(pod.rps[code])
                pts = _points(w, vals, run, pod.node["name"])
                if pts:
                    http.append(({"code": code, "namespace": pod.wl.ns, "pod": pod.name}, pts))
            if pod.p99 is not None:
                vals = pod.p99.copy()
                tot = sum(pod.rps.values())
                vals[tot <= 0] = np.nan
                pts = [
                    (ts, v)
                    for ts, v in _points(w, np.nan_to_num(vals, nan=-1.0), run, pod.node["name"])
                ]
                pts = [(ts, float("nan") if v == -1.0 else v) for ts, v in pts]
                p99.append(({"namespace": pod.wl.ns, "pod": pod.name}, pts))
    # histogram_quantile over a window with no requests is NaN: the first pod's first minutes
    if p99 and len(p99[0][1]) > 12:
        pts = p99[0][1]
        for i in range(8, 11):
            pts[i] = (pts[i][0], float("nan"))

    out["container_cpu_usage_seconds_total.rate5m.json"] = (
        'sum by (namespace, pod, container, node) (rate(container_cpu_usage_seconds_total{container!="", image!=""}[5m]))',
        cpu,
    )
    out["container_memory_working_set_bytes.json"] = (
        'container_memory_working_set_bytes{container!="", image!=""}',
        mem,
    )
    out["kube_pod_container_status_restarts_total.json"] = (
        "kube_pod_container_status_restarts_total",
        restarts,
    )
    out["kube_pod_container_status_last_terminated_reason.json"] = (
        "kube_pod_container_status_last_terminated_reason == 1",
        lastterm,
    )
    out["kube_pod_status_phase.json"] = ("kube_pod_status_phase == 1", phase)
    out["http_requests_total.rate5m.json"] = (
        "sum by (namespace, pod, code) (rate(http_requests_total[5m]))",
        http,
    )
    out["http_request_duration_seconds.p99.json"] = (
        "histogram_quantile(0.99, sum by (le, namespace, pod) (rate(http_request_duration_seconds_bucket[5m])))",
        p99,
    )

    # nodes
    cond, ncpu, nmem, nfs = [], [], [], []
    d = w.diurnal()
    for node in w.nodes:
        name = node["name"]
        busy = np.full(len(t), node["cpu"] * 0.06) * d + w.noise(0.02) * node["cpu"] * 0.1
        used = np.full(len(t), 1.4 * 2**30) + w.noise(0.002) * 2**30
        for pod in w.pods:
            if pod.node is node:
                r = w.running(pod, 0)
                busy += np.where(r, pod.cpu, 0.0)
                used += np.where(r, pod.mem, 0.0)
        busy += w.node_cpu_extra.get(name, 0.0)
        used += w.node_mem_extra.get(name, 0.0)
        avail = np.maximum(node["mem"] * 0.02, node["mem"] - used - 0.9 * 2**30)
        ncpu.append(
            (
                {"instance": f"{node['ip']}:9100"},
                _points(w, _rolling(np.maximum(busy, 0.01)), np.ones(len(t), bool), name),
            )
        )
        nmem.append(
            (
                {
                    "__name__": "node_memory_MemAvailable_bytes",
                    "instance": f"{node['ip']}:9100",
                    "job": "node-exporter",
                    "node": name,
                },
                _points(w, np.round(avail / 4096) * 4096, np.ones(len(t), bool), name),
            )
        )
        fs = w.node_fs.get(name)
        if fs is None:
            fs = node["disk"] * (0.62 + 0.01 * np.tanh(np.cumsum(w.rng.normal(0, 0.05, len(t)))))
        nfs.append(
            (
                {
                    "__name__": "node_filesystem_avail_bytes",
                    "device": "/dev/nvme0n1p1",
                    "fstype": "xfs",
                    "instance": f"{node['ip']}:9100",
                    "job": "node-exporter",
                    "mountpoint": "/",
                    "node": name,
                },
                _points(w, np.round(fs / 4096) * 4096, np.ones(len(t), bool), name),
            )
        )
        spans = w.node_conditions[name] or []
        ready = np.ones(len(t), bool)
        for c, a, b in spans:
            m = (t >= a) & (t < b)
            if c == "Ready=false":
                ready &= ~m
                continue
            cond.append(
                (
                    {
                        "__name__": "kube_node_status_condition",
                        "condition": c,
                        "node": name,
                        "status": "true",
                        **ksm_common,
                    },
                    _points(w, np.ones(len(t)), m),
                )
            )
        cond.append(
            (
                {
                    "__name__": "kube_node_status_condition",
                    "condition": "Ready",
                    "node": name,
                    "status": "true",
                    **ksm_common,
                },
                _points(w, np.ones(len(t)), ready),
            )
        )
    out["kube_node_status_condition.json"] = (
        'kube_node_status_condition{status="true"} == 1',
        cond,
    )
    out["node_cpu_seconds_total.rate5m.json"] = (
        'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
        ncpu,
    )
    out["node_memory_MemAvailable_bytes.json"] = ("node_memory_MemAvailable_bytes", nmem)
    out["node_filesystem_avail_bytes.json"] = ('node_filesystem_avail_bytes{mountpoint="/"}', nfs)

    for fname in sorted(out):
        query, series = out[fname]
        series = [s for s in series if s[1]]
        series.sort(key=lambda s: json.dumps(sorted(s[0].items())))
        data = F.prom_matrix(series)
        path = f"metrics/{fname}"
        if len(data) > GZIP_OVER:
            path += ".gz"
            data = F.gzip_bytes(data)
        files[path] = data
        meta[path] = {
            "records": sum(len(s[1]) for s in series),
            "malformed": 0,
            "format": "prometheus-json",
            "series": len(series),
            "query": query,
        }


# =============================================================================== inventory
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
    first_start = min(cs.attempts[0].start for cs in pod.cstates)
    statuses = []
    all_ready = True
    for cs in pod.cstates:
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
                    "message": f"back-off 5m0s restarting failed container={cs.spec.name} pod={pod.name}_{wl.ns}({pod.uid})",
                    "reason": "CrashLoopBackOff",
                }
            }
            all_ready = False
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
            all_ready = False
        else:
            st["state"] = {"running": {"startedAt": F.ts_s(a.start)}}
            st["started"] = True
            st["ready"] = cs.ready
            all_ready &= cs.ready
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
        statuses.append(st)
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


def _digest(s: str) -> str:
    import hashlib

    return hashlib.sha256(s.encode()).hexdigest()


def render_inventory(w: World, files: dict, meta: dict) -> None:
    end = w.t1
    inv: dict[str, list] = {
        k: []
        for k in (
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
    }
    for ns in sorted(w.namespaces):
        inv["namespaces"].append(
            {
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
        )
    for node in w.nodes:
        inv["nodes"].append(node_object(w, node))
    for pod in w.pods:
        if pod.deleted is None or pod.deleted > end:
            inv["pods"].append(pod_object(w, pod))
    for wl in w.workloads:
        live = [p for p in w.pods if p.wl is wl and (p.deleted is None or p.deleted > end)]
        ready = sum(
            1
            for p in live
            if p.phase == "Running" and all(cs.ready and not cs.waiting for cs in p.cstates)
        )
        sel = {"matchLabels": dict(wl.labels)}
        if wl.kind == "Deployment":
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
            for r in wl.revisions:
                rs_live = [p for p in live if p.labels.get("pod-template-hash") == r["hash"]]
                rs_ready = sum(
                    1 for p in rs_live if all(cs.ready and not cs.waiting for cs in p.cstates)
                )
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
        elif wl.kind in ("StatefulSet", "DaemonSet"):
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
                        "desiredNumberScheduled": len(w.nodes)
                        if wl.desired is None
                        else wl.desired,
                        "numberAvailable": ready,
                        "numberMisscheduled": 0,
                        "numberReady": ready,
                        "updatedNumberScheduled": len(updated),
                    }
                )
            inv["statefulsets" if wl.kind == "StatefulSet" else "daemonsets"].append(obj)
        elif wl.kind == "CronJob":
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
                                "batch.kubernetes.io/cronjob-scheduled-timestamp": F.ts_s(
                                    j["start"]
                                ),
                            },
                            1,
                        ),
                        "spec": {
                            "backoffLimit": 0,
                            "completionMode": "NonIndexed",
                            "completions": 1,
                            "parallelism": 1,
                            "selector": {
                                "matchLabels": {"batch.kubernetes.io/controller-uid": j["uid"]}
                            },
                            "template": _template(w, wl, {}, {**wl.labels, **labels}),
                        },
                        "status": st,
                    }
                )
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
    for kind, items in {**inv, **w.objects}.items():
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        path = f"inventory/{kind}.json"
        files[path] = F.kubectl_list(items)
        meta[path] = {"records": len(items), "malformed": 0, "format": "k8s-json"}


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
    hb = F.ts_s(w.t1 - int(w.rng.integers(5, 50)) * NS)
    conds = []
    spans = {c: (a, b) for c, a, b in w.node_conditions[name]}
    for ctype, ok_reason, ok_msg, bad_reason, bad_msg in [
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
    ]:
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


# =============================================================================== top level
def render(w: World) -> tuple[dict[str, bytes], dict[str, dict]]:
    files: dict[str, bytes] = {}
    meta: dict[str, dict] = {}
    render_inventory(w, files, meta)
    render_metrics(w, files, meta)
    render_logs(w, files, meta)
    for path, (data, entry) in w.extra_logs.items():
        files[path] = data
        meta[path] = entry
    w.events.sort(key=lambda e: (e["lastTimestamp"], e["metadata"]["name"]))
    files["events/events.json"] = F.kubectl_list(w.events)
    meta["events/events.json"] = {"records": len(w.events), "malformed": 0, "format": "k8s-json"}
    if w.audit:
        lines = [s for _, s in sorted(w.audit, key=lambda x: x[0])]
        mal = w.malformed.get("audit/audit.log", 0)
        files["audit/audit.log"] = ("\n".join(lines) + "\n").encode("utf-8")
        meta["audit/audit.log"] = {"records": len(lines), "malformed": mal, "format": "audit-log"}
    if w.falco:
        lines = [s for _, s in sorted(w.falco, key=lambda x: x[0])]
        mal = w.malformed.get("falco/falco.json", 0)
        files["falco/falco.json"] = ("\n".join(lines) + "\n").encode("utf-8")
        meta["falco/falco.json"] = {"records": len(lines), "malformed": mal, "format": "falco-json"}
    return files, meta
