# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""checkout-oom: a feature flag makes checkout leak heap; OOMKilled, crash loops, 503s."""

from __future__ import annotations

import numpy as np

from obskit.datasets import _formats as F
from obskit.datasets._cluster import (
    MI,
    App,
    add_apps,
    add_cron,
    add_nodes,
    add_system,
    human_request,
    long_line,
    make_truth,
    malformed_cri,
    noisy,
    populate_all,
    probe_blip,
    second,
    team_posture,
)
from obskit.datasets._lifecycle import lifecycle_records
from obskit.datasets._world import NS, Pod, Workload, World


def checkout_oom(seed: int, scale: float) -> tuple[World, dict]:
    w = World("checkout-oom", "prod-eu-1", seed, scale, "2024-05-14T08:30:00Z", 2.0)
    add_nodes(w, "eks", 4)
    add_system(w)
    for ns in ("shop", "batch"):
        w.add_namespace(ns, 180)
    apps = _apps(w, scale)
    populate_all(w)
    team_posture(w, ("shop",))
    _report_cron(w)
    w.base_signals()
    pods = {wl: [p for p in w.pods if p.wl.name == wl] for wl in apps}
    fault = w.at(22.0)
    first_oom, down = _leak_and_oom(w, pods, fault)
    ck = pods["checkout"]
    _flag_logs(w, ck, fault)
    _downstream(w, pods, ck, down)
    _file_quirks(w, pods)
    lifecycle_records(w)
    _alice_looks(w, ck)
    _cut_audit_line(w)
    t_oom, pod0 = first_oom
    truth = make_truth(
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


def _apps(w: World, scale: float) -> dict[str, Workload]:
    """The shop: frontend, checkout (512Mi limit), cart, catalog, payment, recommendation, redis."""
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    apps = add_apps(
        w,
        "shop",
        [
            App(
                name="frontend",
                replicas=reps(3),
                image="registry.example.com/shop/frontend:1.42.0",
                port=8080,
                style="json",
                rps=25.0,
                cpu=0.12,
                mem=180 * MI,
            ),
            App(
                name="checkout",
                replicas=reps(2),
                image="registry.example.com/shop/checkout:3.7.1",
                port=8080,
                style="java",
                rps=6.0,
                cpu=0.25,
                mem=260 * MI,
                mem_limit="512Mi",
                log_rate=0.02,
            ),
            App(
                name="cart",
                replicas=reps(2),
                image="registry.example.com/shop/cart:2.3.4",
                port=8080,
                style="logfmt",
                rps=12.0,
                cpu=0.06,
                mem=90 * MI,
            ),
            App(
                name="catalog",
                replicas=reps(2),
                image="registry.example.com/shop/catalog:5.0.2",
                port=8080,
                style="json",
                rps=18.0,
                cpu=0.08,
                mem=140 * MI,
            ),
            App(
                name="payment",
                replicas=reps(2),
                image="registry.example.com/shop/payment:1.9.0",
                port=8080,
                style="logfmt",
                rps=5.0,
                cpu=0.05,
                mem=100 * MI,
            ),
            App(
                name="recommendation",
                replicas=reps(2),
                image="registry.example.com/shop/recommendation:0.14.2",
                port=8080,
                style="json",
                rps=9.0,
                cpu=0.15,
                mem=300 * MI,
            ),
            App(
                name="redis",
                replicas=1,
                image="docker.io/library/redis:7.2.4",
                port=6379,
                style="redis",
                rps=0.0,
                cpu=0.03,
                mem=60 * MI,
                kind="StatefulSet",
                log_rate=0.003,
            ),
        ],
    )
    return apps


def _report_cron(w: World) -> None:
    """batch's report-generator every 15 minutes; the run near minute 38 fails on DNS."""
    add_cron(
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


def _leak_and_oom(
    w: World, pods: dict[str, list[Pod]], fault: int
) -> tuple[tuple[int, Pod], np.ndarray]:
    """From ``fault`` each checkout container's heap grows to its limit and is OOMKilled,
    again faster after each restart (back-off doubling); GC warnings as the heap fills.
    Returns the first OOM kill (time, pod) and how many checkout pods were down at each step."""
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
    return first_oom, down


def _flag_logs(w: World, ck: list[Pod], fault: int) -> None:
    """The cause in checkout's own log: the feature flag turned on at ``fault`` (in its first
    two replicas, or its only one in a small draw)."""
    for k, pod in enumerate(ck[:2]):
        at = fault + 3 * k * NS
        w.log(
            pod,
            at,
            f"{F.ts_java(at)}  INFO 1 --- [config-watcher-1] c.e.shop.config.FeatureFlags             : Feature flag 'order-history-cache' enabled (rollout=100%)",
        )


def _downstream(w: World, pods: dict[str, list[Pod]], ck: list[Pod], down: np.ndarray) -> None:
    """While checkout pods are down the rest take their traffic; frontend and the ingress
    answer 503 and log the upstream errors."""
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


def _file_quirks(w: World, pods: dict[str, list[Pod]]) -> None:
    """Noise and real-world file quirks: a chatty service, a probe blip, containerd-split long
    lines, a cut JSON line, a bad timestamp, non-UTF-8 bytes, a rotated log."""
    noisy(w, pods["recommendation"][0])
    probe_blip(w, pods["catalog"][0], 71.5)
    long_line(w, pods["cart"][0], w.at(44), 130)
    long_line(w, second(pods["frontend"]), w.at(95), 260)
    fe = pods["frontend"][0]
    malformed_cri(w, fe, w.at(63.2), "bad-ts")
    w.log(
        fe,
        w.at(64),
        '{"level":"error","ts":'
        + f"{w.at(64) / NS:.6f}"
        + ',"caller":"server/handler.go:201","msg":"upstream checkout retu',
    )
    ing = next(p for p in w.pods if p.wl.name == "ingress-nginx-controller")
    malformed_cri(w, ing, w.at(80.1), "non-utf8")
    w.rotate.add(("ingress-nginx", ing.name))


def _alice_looks(w: World, ck: list[Pod]) -> None:
    """Minutes 66-67: an SRE lists shop's pods and reads checkout's previous log."""
    human_request(
        w,
        w.at(66),
        "alice@example.com",
        "192.0.2.44",
        "get",
        "/api/v1/namespaces/shop/pods?limit=500",
        "pods",
        "shop",
    )
    human_request(
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


def _cut_audit_line(w: World) -> None:
    """The audit file was copied while the API server was writing: the last line is cut."""
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
