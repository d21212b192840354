"""Turn a :class:`~obskit.datasets._world.World` into files in the real formats: the
inventory (``_inventory``), the metrics (``_metrics``), the container logs, Events, the audit
log and Falco's alerts."""

from __future__ import annotations

from obskit.datasets import _formats as F
from obskit.datasets._inventory import render_inventory
from obskit.datasets._lifecycle import lifecycle_records
from obskit.datasets._metrics import render_metrics
from obskit.datasets._world import World

CRI_MAX_LINE = 16384  # containerd's default max_container_log_line_size

__all__ = ["lifecycle_records", "render"]


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
