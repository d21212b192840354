# ruff: noqa: E501  (message templates stay on one line, as they appear in the files)
"""The Prometheus ``query_range`` responses: cAdvisor, kube-state-metrics, node-exporter and
the apps' own series over the window, one file per query."""

from __future__ import annotations

import json

import numpy as np

from obskit.datasets import _formats as F
from obskit.datasets._world import NS, CState, Pod, World

GZIP_OVER = 96 * 1024  # metrics responses larger than this are stored gzipped


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


Series = list[tuple[dict, list[tuple[int, float]]]]

#: file -> the PromQL query it answers, and the list of series it holds (filled per pod/node)
_POD_QUERIES = {
    "container_cpu_usage_seconds_total.rate5m.json": (
        'sum by (namespace, pod, container, node) (rate(container_cpu_usage_seconds_total{container!="", image!=""}[5m]))',
        "cpu",
    ),
    "container_memory_working_set_bytes.json": (
        'container_memory_working_set_bytes{container!="", image!=""}',
        "mem",
    ),
    "kube_pod_container_status_restarts_total.json": (
        "kube_pod_container_status_restarts_total",
        "restarts",
    ),
    "kube_pod_container_status_last_terminated_reason.json": (
        "kube_pod_container_status_last_terminated_reason == 1",
        "lastterm",
    ),
    "kube_pod_status_phase.json": ("kube_pod_status_phase == 1", "phase"),
    "http_requests_total.rate5m.json": (
        "sum by (namespace, pod, code) (rate(http_requests_total[5m]))",
        "http",
    ),
    "http_request_duration_seconds.p99.json": (
        "histogram_quantile(0.99, sum by (le, namespace, pod) (rate(http_request_duration_seconds_bucket[5m])))",
        "p99",
    ),
}
_NODE_QUERIES = {
    "kube_node_status_condition.json": ('kube_node_status_condition{status="true"} == 1', "cond"),
    "node_cpu_seconds_total.rate5m.json": (
        'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
        "ncpu",
    ),
    "node_memory_MemAvailable_bytes.json": ("node_memory_MemAvailable_bytes", "nmem"),
    "node_filesystem_avail_bytes.json": ('node_filesystem_avail_bytes{mountpoint="/"}', "nfs"),
}


def render_metrics(w: World, files: dict, meta: dict) -> None:
    """One ``metrics/<query>.json`` (gzipped when large) per query: the pods' series, then the
    nodes', each a Prometheus ``query_range`` response."""
    by_name: dict[str, Series] = {
        name: [] for _, name in (*_POD_QUERIES.values(), *_NODE_QUERIES.values())
    }
    _pod_series(w, by_name)
    _node_series(w, by_name)
    out = {
        f: (query, by_name[name]) for f, (query, name) in {**_POD_QUERIES, **_NODE_QUERIES}.items()
    }
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


def _ksm_common(w: World) -> dict:
    """The labels kube-state-metrics' scrape adds to its series."""
    ksm = next((p for p in w.pods if p.wl.name == "kube-state-metrics"), None)
    ksm_inst = f"{ksm.ip}:8080" if ksm else "10.244.1.9:8080"
    ksm_common = {
        "endpoint": "http",
        "instance": ksm_inst,
        "job": "kube-state-metrics",
        "service": "kube-prometheus-stack-kube-state-metrics",
    }
    return ksm_common


def _pod_series(w: World, s: dict[str, Series]) -> None:
    """Each pod's containers' CPU, memory, restarts and last termination, its phase, and the
    app's HTTP rate and p99 where it serves."""
    ksm_common = _ksm_common(w)
    for pod in w.pods:
        alive = w.alive(pod)
        for ci, cs in enumerate(pod.cstates):
            _container_series(w, pod, ci, cs, alive, ksm_common, s)
        _phase_series(w, pod, alive, ksm_common, s["phase"])
        if pod.rps:
            _http_series(w, pod, s["http"], s["p99"])
    p99 = s["p99"]
    # histogram_quantile over a window with no requests is NaN: the first pod's first minutes
    if p99 and len(p99[0][1]) > 12:
        pts = p99[0][1]
        for i in range(8, 11):
            pts[i] = (pts[i][0], float("nan"))


def _container_series(
    w: World,
    pod: Pod,
    ci: int,
    cs: CState,
    alive: np.ndarray,
    ksm_common: dict,
    s: dict[str, Series],
) -> None:
    """cAdvisor's CPU and working set per container attempt, kube-state-metrics' restarts and
    last terminated reason."""
    t = w.grid * NS
    cpu, mem, restarts, lastterm = s["cpu"], s["mem"], s["restarts"], s["lastterm"]
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


def _phase_series(w: World, pod: Pod, alive: np.ndarray, ksm_common: dict, phase: Series) -> None:
    """kube_pod_status_phase: Pending before the first container starts, then Running, then
    the terminal phase."""
    t = w.grid * NS
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


def _http_series(w: World, pod: Pod, http: Series, p99: Series) -> None:
    """The app's request rate by status code and its p99 latency (NaN where idle)."""
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
            (ts, v) for ts, v in _points(w, np.nan_to_num(vals, nan=-1.0), run, pod.node["name"])
        ]
        pts = [(ts, float("nan") if v == -1.0 else v) for ts, v in pts]
        p99.append(({"namespace": pod.wl.ns, "pod": pod.name}, pts))


def _node_series(w: World, s: dict[str, Series]) -> None:
    """Per node: busy CPU, available memory and root filesystem, and its conditions."""
    d = w.diurnal()
    for node in w.nodes:
        _node_usage(w, node, d, s["ncpu"], s["nmem"], s["nfs"])
        _node_condition_series(w, node, s["cond"])


def _node_usage(
    w: World, node: dict, d: np.ndarray, ncpu: Series, nmem: Series, nfs: Series
) -> None:
    """node-exporter's busy CPU (the pods' and the host's), MemAvailable and root filesystem."""
    t = w.grid * NS
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


def _node_condition_series(w: World, node: dict, cond: Series) -> None:
    """kube_node_status_condition: the scenario's condition spans, and Ready."""
    t = w.grid * NS
    ksm_common = _ksm_common(w)
    name = node["name"]
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
