# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""bad-rollout: a release ships a two-connection database pool; new pods fail readiness."""

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
    retire_old_pod,
    second,
    team_posture,
)
from obskit.datasets._lifecycle import lifecycle_records
from obskit.datasets._world import NS, Pod, Workload, World


def bad_rollout(seed: int, scale: float) -> tuple[World, dict]:
    w = World("bad-rollout", "gke-prod", seed, scale, "2024-06-03T13:00:00Z", 2.0)
    add_nodes(w, "gke", 4)
    add_system(w)
    for ns in ("payments", "orders", "ci", "batch"):
        w.add_namespace(ns, 150)
    pay = _apps(w, scale)
    populate_all(w)
    team_posture(w, ("payments", "orders"))
    _reconcile_cron(w)
    w.base_signals()
    fault, rev, old_hash, old_pods, new_pods, ci_sa = _rollout(w, pay)
    ramp = _pool_exhaustion(w, new_pods, fault)
    _orders_suffer(w, ramp)
    noisy(w, next(p for p in w.pods if p.wl.name == "search"))
    probe_blip(w, next(p for p in w.pods if p.wl.name == "notifications"), 18.3)
    long_line(w, second([p for p in w.pods if p.wl.name == "orders-api"]), w.at(58), 200)
    malformed_cri(w, next(p for p in w.pods if p.wl.name == "orders-api"), w.at(77.7), "truncated")
    lifecycle_records(w)
    _ci_reads(w, ci_sa)
    human_request(
        w,
        w.at(63),
        "oncall@acme.dev",
        "198.51.100.23",
        "get",
        "/apis/apps/v1/namespaces/payments/replicasets?limit=500",
        "replicasets",
        "payments",
    )
    truth = make_truth(
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


def _apps(w: World, scale: float) -> dict[str, Workload]:
    """payments (payment-api, fraud-score, ledger) and orders (orders-api, notifications, search)."""
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    pay = add_apps(
        w,
        "payments",
        [
            App(
                name="payment-api",
                replicas=4,
                image="europe-docker.pkg.dev/acme-prod/payments/payment-api:v2.14.0",
                port=8080,
                style="logfmt",
                rps=14.0,
                cpu=0.1,
                mem=150 * MI,
            ),
            App(
                name="fraud-score",
                replicas=reps(2),
                image="europe-docker.pkg.dev/acme-prod/payments/fraud-score:v0.9.3",
                port=8080,
                style="json",
                rps=10.0,
                cpu=0.2,
                mem=400 * MI,
            ),
            App(
                name="ledger",
                replicas=1,
                image="europe-docker.pkg.dev/acme-prod/payments/ledger:v1.2.0",
                port=5432,
                style="logfmt",
                rps=0.0,
                cpu=0.06,
                mem=500 * MI,
                kind="StatefulSet",
                log_rate=0.01,
            ),
        ],
    )
    add_apps(
        w,
        "orders",
        [
            App(
                name="orders-api",
                replicas=reps(3),
                image="europe-docker.pkg.dev/acme-prod/orders/orders-api:v5.1.2",
                port=8080,
                style="json",
                rps=20.0,
                cpu=0.1,
                mem=160 * MI,
            ),
            App(
                name="notifications",
                replicas=reps(2),
                image="europe-docker.pkg.dev/acme-prod/orders/notifications:v1.0.7",
                port=3000,
                style="json",
                rps=3.0,
                cpu=0.03,
                mem=120 * MI,
            ),
            App(
                name="search",
                replicas=reps(2),
                image="europe-docker.pkg.dev/acme-prod/orders/search:v2.2.0",
                port=8080,
                style="json",
                rps=8.0,
                cpu=0.12,
                mem=350 * MI,
            ),
        ],
    )
    return pay


def _reconcile_cron(w: World) -> None:
    """batch's ledger-reconcile every 20 minutes; the run near minute 97 fails."""
    add_cron(
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


def _rollout(
    w: World, pay: dict[str, Workload]
) -> tuple[int, dict, str, list[Pod], list[Pod], dict]:
    """Minute 41: CI sets payment-api's image to v2.15.0; the Deployment replaces its pods
    one by one. Returns the time, the new revision, the old ReplicaSet's hash, the old and
    new pods, and CI's service-account user."""
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
        retire_old_pod(w, api, "payments", old_hash, old, len(old_pods) - i, ready_t)
        w.audit_event(
            ready_t + int(0.3 * NS),
            user=w.sa_user("kube-system", "replicaset-controller", w.uid()),
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
    return fault, rev, old_hash, old_pods, new_pods, ci_sa


def _pool_exhaustion(w: World, new_pods: list[Pod], fault: int) -> np.ndarray:
    """The new pods' two-connection pool runs dry as traffic reaches them: errors, 503s, slow
    answers and failing readiness probes ramp up over ten minutes from four after ``fault``."""
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
    return ramp


def _orders_suffer(w: World, ramp: np.ndarray) -> None:
    """orders-api, payment-api's caller, fails and slows with it."""
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


def _ci_reads(w: World, ci_sa: dict) -> None:
    """Benign: CI reads the notifications Deployment at minute 12."""
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
