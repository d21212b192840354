# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""node-pressure: a node's root filesystem fills; DiskPressure and evictions."""

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
    long_line,
    make_truth,
    malformed_cri,
    noisy,
    populate_all,
    probe_blip,
    team_posture,
)
from obskit.datasets._lifecycle import lifecycle_records
from obskit.datasets._world import NS, Pod, World


def node_pressure(seed: int, scale: float) -> tuple[World, dict]:
    w = World("node-pressure", "prod-eu-2", seed, scale, "2024-07-22T02:10:00Z", 2.5)
    add_nodes(w, "eks", 4)
    add_system(w)
    for ns in ("media", "analytics", "batch"):
        w.add_namespace(ns, 220)
    _apps(w, scale)
    populate_all(w)
    team_posture(w, ("media", "analytics"))
    bad = _crowd_bad_node(w)
    add_cron(w, "sessionize", "batch", 30, None, [])
    w.base_signals()
    fault, press, fill, fs = _disk_fills(w, bad)
    victims = _evict(w, bad, fault, press)
    _recovery_and_scrape_gap(w, bad, press, fs)
    _host_culprit(w, bad, fault, fill)
    collectors = _collectors_fail(w, bad, press)
    noisy(w, next(p for p in w.pods if p.wl.name == "dashboard"))
    probe_blip(w, [p for p in w.pods if p.wl.name == "upload-api"][-1], 24.0)
    long_line(w, collectors[0], w.at(50), 150)
    malformed_cri(w, collectors[-1], w.at(101.2), "bad-ts")
    lifecycle_records(w)
    _tcpdump_alert(w)
    truth = make_truth(
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


def _apps(w: World, scale: float) -> None:
    """media (thumbnailer, upload-api, cdn-purger), analytics (events-collector, dashboard, clickhouse)."""
    reps = lambda k: max(1, round(k * scale))  # noqa: E731
    add_apps(
        w,
        "media",
        [
            App(
                name="thumbnailer",
                replicas=reps(3),
                image="registry.example.com/media/thumbnailer:4.1.0",
                port=8080,
                style="json",
                rps=6.0,
                cpu=0.3,
                mem=300 * MI,
            ),
            App(
                name="upload-api",
                replicas=reps(3),
                image="registry.example.com/media/upload-api:2.8.1",
                port=8080,
                style="logfmt",
                rps=10.0,
                cpu=0.08,
                mem=140 * MI,
            ),
            App(
                name="cdn-purger",
                replicas=reps(2),
                image="registry.example.com/media/cdn-purger:1.1.0",
                port=8080,
                style="json",
                rps=1.0,
                cpu=0.02,
                mem=60 * MI,
            ),
        ],
    )
    add_apps(
        w,
        "analytics",
        [
            App(
                name="events-collector",
                replicas=reps(3),
                image="registry.example.com/analytics/collector:0.22.0",
                port=8080,
                style="json",
                rps=30.0,
                cpu=0.15,
                mem=200 * MI,
            ),
            App(
                name="dashboard",
                replicas=reps(2),
                image="registry.example.com/analytics/dashboard:3.3.3",
                port=3000,
                style="logfmt",
                rps=2.0,
                cpu=0.05,
                mem=250 * MI,
            ),
            App(
                name="clickhouse",
                replicas=1,
                image="docker.io/clickhouse/clickhouse-server:24.3",
                port=8123,
                style="logfmt",
                rps=0.0,
                cpu=0.4,
                mem=2000 * MI,
                kind="StatefulSet",
                log_rate=0.02,
            ),
        ],
    )


def _crowd_bad_node(w: World) -> dict:
    """The node whose disk will fill, with pods of several workloads moved onto it."""
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
    return bad


def _disk_fills(w: World, bad: dict) -> tuple[int, int, np.ndarray, np.ndarray]:
    """From minute 31 the node's root filesystem fills; at minute 68 it is under pressure.
    Returns both times, the fill fraction and the free bytes over the grid."""
    t_ns = w.grid * NS
    fault = w.at(31.0)
    press = w.at(68.0)
    cap = bad["disk"]
    fill = np.clip((t_ns - fault) / (press - fault), 0, None)
    fs = cap * (0.58 - 0.495 * np.clip(fill, 0, 1)) - np.clip(fill - 1, 0, None) * 0.0
    w.node_fs[bad["name"]] = fs.copy()
    return fault, press, fill, fs


def _evict(w: World, bad: dict, fault: int, press: int) -> list[Pod]:
    """DiskPressure: the node is tainted, the kubelet evicts app pods one by one and their
    ReplicaSets replace them on other nodes. Returns the evicted pods."""
    cap = bad["disk"]
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
    return victims


def _recovery_and_scrape_gap(w: World, bad: dict, press: int, fs: np.ndarray) -> None:
    """Evictions free some space, which stays low; node-exporter there misses scrapes."""
    t_ns = w.grid * NS
    cap = bad["disk"]
    rec = np.clip((t_ns - press) / (40 * 60 * NS), 0, 1)
    fs2 = np.where(t_ns >= press, cap * (0.085 + 0.03 * rec), fs)
    w.node_fs[bad["name"]] = fs2
    # a scrape gap: node-exporter on the bad node starved of IO for a while
    w.scrape_gaps.append((bad["name"], press + 3 * 60 * NS, press + 10 * 60 * NS))


def _host_culprit(w: World, bad: dict, fault: int, fill: np.ndarray) -> None:
    """The cause is on the host, outside any pod: seen only in node signals and node-exporter."""
    # the culprit on the host: a runaway log file outside any pod, visible only via node signals and kubelet
    w.node_cpu_extra[bad["name"]] = 0.35 * (fill > 0) * (fill < 1.3)
    hostlog = next(p for p in w.pods if p.wl.name == "node-exporter" and p.node is bad)
    w.log(
        hostlog,
        fault + 60 * NS,
        f"ts={F.ts_ms_iso(fault + 60 * NS)} caller=collector.go:169 level=error collector=textfile "
        'msg="collector failed" err="failed to read textfile collector directory: open /host/var/lib/node_exporter: too many open files"',
    )


def _collectors_fail(w: World, bad: dict, press: int) -> list[Pod]:
    """events-collector on the node cannot write its spool around the pressure."""
    t_ns = w.grid * NS
    collectors = [p for p in w.pods if p.wl.name == "events-collector"]
    w.err_text["events-collector"] = [
        "failed to flush batch to clickhouse: write /var/spool/collector/batch-0042.tmp: no space left on device"
    ]
    for p in collectors:
        if p.node is bad:
            p.err_frac = 0.08 * ((t_ns > press - 15 * 60 * NS) & (t_ns < press + 5 * 60 * NS))
    return collectors


def _tcpdump_alert(w: World) -> None:
    """Benign Falco noise: someone runs tcpdump in ClickHouse at minute 88."""
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
