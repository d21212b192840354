"""Benchmark of ``obskit.watch`` at cluster scale, next to refreshing by re-collecting each tick.

Usage::

    python benchmarks/watch.py [--pods 3000] [--ticks 90] [--keep-ticks 30] [--out FILE]

The cluster is a large one's: 3,000 pods (60 Deployments of 50), 30 pod changes a minute and a
tick of 15 s, so 7.5 pod changes and one new Prometheus step per tick. To see ``keep`` turn over
in minutes rather than hours, time is compressed fifteen-fold: a tick of 1 s, 7.5 pod changes a
second, a step of 1 s and ``keep`` of ``--keep-ticks`` ticks. Per tick, the work is the same as
at 15 s.

The servers run in another process, so the client's CPU time is the client's alone:

* the Kubernetes API: :class:`tests.live.kube_replay.WatchApiServer`, the loopback server the
  watch's tests use (lists and chunked watch streams in the API server's wire format), with the
  generated pods and a thread that adds, modifies and deletes them;
* Prometheus: a loopback server that answers ``query_range`` for every pod's series on the
  requested step grid (four queries: CPU, memory, restarts, phase; 12,000 series).

Two ways to keep an investigation current are measured in the same run, one after the other:

``obskit.watch``
    list once, then watch; each tick reads Prometheus for the new steps only; the live
    Explorer (``Explorer(w)``) takes a snapshot and sends the browser what changed.
``re-collect``
    what a notebook without a watch does (and a dashboard's live refresh): each tick,
    ``obskit.collect`` over the last ``keep`` (every list again, every series again), and a new
    Explorer of it (every figure sent whole).

Columns: CPU seconds of the client per tick (median, and the 95th percentile: for the watch, its
streams and its tick; for re-collecting, the collect), bytes read from the servers per tick,
CPU seconds of a snapshot (``w.investigation()``; re-collecting makes one each tick), CPU
seconds of the Explorer's refresh and the bytes its widgets send to the browser (the comm
messages, recorded), and the client's RSS after the first keep and at the end (flat once
``keep`` is full). Targets: a tick under 1 s of CPU, under 200 kB to the browser,
memory flat.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

QUERIES = {
    "container_cpu_usage_seconds_total.rate5m": "cpu",
    "container_memory_working_set_bytes": "memory",
    "kube_pod_container_status_restarts_total": "restarts",
    "kube_pod_status_phase": "phase",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- the servers (another process) -------------------------------------------------------------


def _pods(n: int) -> list[tuple[str, str, str]]:
    """(deployment, replicaset, pod) names of ``n`` pods, 50 per Deployment."""
    out = []
    for i in range(n):
        dep = f"svc{i // 50:02d}"
        out.append((dep, f"{dep}-5d8f7c9b4", f"{dep}-5d8f7c9b4-{i:05d}"))
    return out


def _serve(pods: int, rate: float, ports: mp.Queue, stop: mp.Event, counters) -> None:
    import orjson

    from tests.live.conftest import loopback, reply
    from tests.live.kube_replay import WatchApiServer, new_pod, recorded

    api = WatchApiServer(watch_seconds=300)
    template_rs, template_dep = recorded("ReplicaSet"), recorded("Deployment")
    names = _pods(pods)
    for dep in sorted({d for d, _, _ in names}):
        d = copy.deepcopy(template_dep)
        d["metadata"].update(name=dep, uid=f"dep-{dep}")
        api.put(d, record=False)
        rs = copy.deepcopy(template_rs)
        rs["metadata"].update(name=f"{dep}-5d8f7c9b4", uid=f"rs-{dep}")
        rs["metadata"]["ownerReferences"][0].update(name=dep, uid=f"dep-{dep}")
        api.put(rs, record=False)
    live: dict[str, dict] = {}

    def pod(dep: str, rs: str, name: str, phase: str = "Running") -> dict:
        p = new_pod(name, f"uid-{name}", phase)
        p["metadata"]["ownerReferences"][0].update(name=rs, uid=f"rs-{dep}")
        p["metadata"]["labels"] = {"app": dep, "pod-template-hash": "5d8f7c9b4"}
        p["spec"]["nodeName"] = f"node-{hash(name) % 30:02d}"
        return p

    for dep, rs, name in names:
        live[name] = api.put(pod(dep, rs, name), record=False)
    base_version = api.version

    def churn() -> None:
        rng = random.Random(7)
        serial = pods
        while not stop.is_set():
            time.sleep(1 / rate)
            action = rng.choice(("add", "modify", "delete"))
            if action == "add":
                dep = f"svc{rng.randrange(pods // 50):02d}"
                name = f"{dep}-5d8f7c9b4-{serial:05d}"
                serial += 1
                live[name] = api.put(pod(dep, f"{dep}-5d8f7c9b4", name, "Pending"))
            elif action == "modify" and live:
                name = rng.choice(list(live))
                p = copy.deepcopy(live[name])
                statuses = p["status"].get("containerStatuses") or [{}]
                statuses[0]["restartCount"] = int(statuses[0].get("restartCount") or 0) + 1
                p["status"]["containerStatuses"] = statuses
                live[name] = api.put(p)
            elif live:
                name = rng.choice(list(live))
                api.delete("Pod", live.pop(name)["metadata"]["uid"])
            with api.changed:  # the log the server replays holds the last minutes only
                if len(api.log) > 5000:
                    del api.log[:1000]
                    api.compacted = api.log[0][0] - 1

    def handle_kube(request) -> None:
        wrote = request.wfile.write

        def counted(data: bytes) -> int:
            counters[0] += len(data)
            return wrote(data)

        request.wfile.write = counted
        api.handle(request)

    def handle_prometheus(request) -> None:
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        start, end = float(q["start"]), float(q["end"])
        step = (
            float(q["step"].rstrip("ms")) / 1000 if q["step"].endswith("ms") else float(q["step"])
        )
        grid = [start + i * step for i in range(round((end - start) / step) + 1)]
        query = q["query"]
        result = []
        for name, p in list(live.items()):
            meta = p["metadata"]
            labels = {"namespace": meta["namespace"], "pod": name, "node": p["spec"]["nodeName"]}
            if "cpu" in query or "memory" in query or "restarts" in query:
                labels["container"] = "checkout"
            if "phase" in query:
                labels["phase"] = "Running"
            seed = hash(name) % 1000
            result.append(
                {"metric": labels, "values": [[t, str((seed + t) % 97 / 10)] for t in grid]}
            )
        body = orjson.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )
        counters[1] += len(body)
        reply(request, 200, body)

    with loopback(handle_kube) as kube_server, loopback(handle_prometheus) as prom_server:
        api.url = kube_server.url
        ports.put((kube_server.url, prom_server.url, base_version))
        thread = threading.Thread(target=churn, daemon=True)
        thread.start()
        stop.wait()
        api.closing = True


# --- the client --------------------------------------------------------------------------------


def _kubeconfig(url: str, folder: Path) -> Path:
    from tests.live.kube_replay import kubeconfig

    return kubeconfig(url, folder)


def _recording_browser() -> list[int]:
    """Widgets made from now on record the size of each message they send to the browser."""
    import json

    import comm
    from comm.base_comm import BaseComm

    sizes: list[int] = []

    class Recorded(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
            sizes.append(len(json.dumps(data, default=str)) + sum(len(b) for b in buffers or ()))

    comm.create_comm = lambda *args, **kwargs: Recorded(*args, **kwargs)
    return sizes


def _explorer_refresh(explorer, sizes: list[int]) -> tuple[float, int]:
    """One refresh of a live Explorer, in this thread: CPU seconds, bytes to the browser."""
    sizes.clear()
    c0 = time.thread_time()
    explorer.update()
    return time.thread_time() - c0, sum(sizes)


def _full_redraw(inv, sizes: list[int]) -> tuple[float, int]:
    """A new Explorer on a re-collected investigation: CPU seconds, bytes to the browser."""
    from obskit.widgets import Explorer

    sizes.clear()
    c0 = time.thread_time()
    explorer = Explorer(inv)
    cpu = time.thread_time() - c0
    sent = sum(sizes)
    explorer.close()
    return cpu, sent


def _run(
    mode: str, kube_url: str, prom_url: str, folder: Path, ticks: int, keep_ticks: int, counters
):
    import pandas as pd

    import obskit
    from obskit.live.prometheus import DEFAULT_QUERIES

    queries = {k: DEFAULT_QUERIES[k] for k in QUERIES}
    kube = obskit.Kubernetes(kubeconfig=_kubeconfig(kube_url, folder), timeout=30)
    prom = obskit.Prometheus(prom_url, timeout=60)
    keep = pd.Timedelta(seconds=keep_ticks)
    cpu, snapshot, refresh, net, fig_bytes, rss = [], [], [], [], [], []
    sizes = _recording_browser()
    if mode == "obskit.watch":
        w = obskit.watch(
            kubernetes=kube, prometheus=prom, queries=queries, every="1s", step="1s", keep=keep
        )
        w.listed(timeout=120)
        w.wait(ticks=1, timeout=120)
        from obskit.widgets import Explorer

        explorer = Explorer(w)
        explorer.pause.value = True  # refreshed below, in this thread, to measure it
        for i in range(ticks):
            # the watch alone: its streams and its tick (Prometheus read, keep trimmed)
            c0, n0, t0 = time.process_time(), counters[0] + counters[1], w.ticks
            w.wait(ticks=1, timeout=60)
            cpu.append((time.process_time() - c0) / max(1, w.ticks - t0))
            net.append((counters[0] + counters[1] - n0) / max(1, w.ticks - t0))
            rss.append(_rss_mb())
            if i % 5 == 0:  # a snapshot, and the live Explorer's refresh, every fifth tick
                c0 = time.process_time()
                w.investigation()
                snapshot.append(time.process_time() - c0)
                cpu_s, sent = _explorer_refresh(explorer, sizes)
                refresh.append(cpu_s)
                fig_bytes.append(sent)
                w.wait(ticks=1, timeout=60)
        changes = len(w.changes())
        explorer.close()
        w.stop()
    else:
        changes = 0
        for _ in range(ticks):
            began = time.monotonic()
            c0, n0 = time.process_time(), counters[0] + counters[1]
            now = pd.Timestamp.now(tz="UTC").floor("s")
            inv = obskit.collect(
                now - keep,
                now,
                prometheus=prom,
                kubernetes=kube,
                queries=queries,
                step="1s",
                progress=False,
            )
            cpu.append(time.process_time() - c0)
            snapshot.append(0.0)  # the collect made it
            net.append(counters[0] + counters[1] - n0)
            cpu_s, sent = _full_redraw(inv, sizes)
            refresh.append(cpu_s)
            fig_bytes.append(sent)
            rss.append(_rss_mb())
            time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
    p95 = sorted(cpu)[int(0.95 * (len(cpu) - 1))]
    return {
        "mode": mode,
        "cpu_median": statistics.median(cpu),
        "cpu_p95": p95,
        "snapshot": statistics.median(snapshot),
        "refresh": statistics.median(refresh),
        "refresh_max": max(refresh),
        "net_kb": statistics.median(net) / 1024,
        "figure_kb": statistics.median(fig_bytes) / 1024,
        "rss_keep": rss[min(keep_ticks, len(rss) - 1)],
        "rss_end": rss[-1],
        "changes": changes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=3000)
    parser.add_argument("--ticks", type=int, default=90)
    parser.add_argument("--keep-ticks", type=int, default=30)
    parser.add_argument("--rate", type=float, default=7.5, help="pod changes per second")
    parser.add_argument("--out", default=str(HERE / "WATCH_RESULTS.md"))
    args = parser.parse_args(argv)
    import tempfile

    ctx = mp.get_context("fork")
    ports, stop = ctx.Queue(), ctx.Event()
    counters = ctx.Array("d", 2)
    server = ctx.Process(target=_serve, args=(args.pods, args.rate, ports, stop, counters))
    server.start()
    kube_url, prom_url, _ = ports.get(timeout=300)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for mode in ("obskit.watch", "re-collect"):
                ticks = args.ticks if mode == "obskit.watch" else max(2, args.ticks // 6)
                rows.append(
                    _run(mode, kube_url, prom_url, Path(folder), ticks, args.keep_ticks, counters)
                )
                print(rows[-1], flush=True)
    finally:
        stop.set()
        server.join(30)
    import pandas as pd

    import obskit

    lines = [
        "# obskit.watch at cluster scale",
        "",
        f"`python benchmarks/watch.py --pods {args.pods} --ticks {args.ticks} --keep-ticks "
        f"{args.keep_ticks}`: {args.pods:,} pods, {args.rate * 60 / 15:g} pod changes a minute "
        f"at a 15 s tick (compressed fifteen-fold: a 1 s tick, {args.rate:g} changes a second), "
        f"four Prometheus queries, keep = {args.keep_ticks} ticks. See the script's docstring.",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}; "
        "shared with other work while measured",
        f"- python {platform.python_version()}, obskit {obskit.__version__}, pandas "
        f"{pd.__version__}",
        "",
        "| way | CPU s per tick (median) | (p95) | read from servers per tick | "
        "snapshot CPU s | Explorer refresh CPU s (median / max) | "
        "sent to the browser per refresh | RSS after keep | "
        "RSS at the end | changes logged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['cpu_median']:.3f} | {r['cpu_p95']:.3f} | {r['net_kb']:,.0f} kB "
            f"| {r['snapshot']:.3f} | {r['refresh']:.3f} / {r['refresh_max']:.3f} "
            f"| {r['figure_kb']:,.0f} kB "
            f"| {r['rss_keep']:,.0f} MB | {r['rss_end']:,.0f} MB "
            f"| {r['changes']:,} |"
        )
    lines += [
        "",
        "Targets: a tick under 1 s of CPU, under 200 kB to the browser, memory flat "
        "once keep is full. The live Explorer (`Explorer(w)`) sends only what changed, and "
        "recomputes the whole cluster's suspects and anomaly windows once a minute "
        "(`explorer.ANALYSIS_EVERY`: the max column), the map and the timeline every tick; "
        "re-collecting draws a new Explorer each time, and sends every figure whole.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
