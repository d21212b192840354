"""Benchmark: a window of an investigation bigger than memory.

Usage::

    python benchmarks/window.py [--size 20GB] [--audit 2GB] [--budget 4GB] [--minutes 30]
        [--check] [--data DIR]

Writes (or reuses) a folder of kubelet CRI logs of ``--size`` bytes under
``benchmarks/_data/window-<size>/`` (git-ignored): files of the four namespaces' pods, each in
time order over one day, some larger than a read piece and most small; then loads the
``--minutes`` around noon of one namespace with ``obskit.load(folder, start=..., end=...,
where={"namespace": "shop"})`` in a fresh process capped at ``--budget`` of address space
(``ulimit -v``), and prints the time (wall and CPU), the bytes read, the peak memory and the
rows kept. ``--check`` also loads the whole folder (only sensible for sizes that fit) and checks
the log rows and audit events are exactly those a full load then ``window()`` and ``focus()``
keep. ``--data`` puts the inputs elsewhere (20 GB: a disk with room; delete them after).

``--audit`` (2GB) adds an API-server audit log, ``audit/audit.log``, its lines in stage-time order
over the same day, a watch in fifty ending up to 50 minutes after it was received.

The issue's target: a 20 GB folder plus a 2 GB audit log loads in under a minute within a 4 GB
budget.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMESPACES = ("shop", "payments", "search", "auth")
DAY = "2024-05-14"
#: One file in this many is large (read in pieces); the others are small (read whole).
LARGE_EVERY = 8
LARGE_BYTES = 256 << 20
SMALL_BYTES = 8 << 20
MESSAGES = (
    '{"level":"info","msg":"request served","path":"/api/cart","status":200,"ms":12}',
    'level=warn msg="slow upstream" upstream=db latency_ms=812',
    "I0514 12:00:00.000000       1 server.go:88] handled request",
    "ERROR java.lang.IllegalStateException: payment provider timed out",
    "    at com.shop.checkout.Payment.charge(Payment.java:142)",
    "GET /healthz 200 0.4ms",
)


def _size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def _write_file(path: Path, size: int, seed: int) -> None:
    """One CRI log of about ``size`` bytes, its lines spread evenly over the day."""
    import numpy as np

    line = 110  # bytes a line, about
    count = max(2, size // line)
    start = np.datetime64(f"{DAY}T00:00:00", "ns").astype(np.int64)
    step = 86_400_000_000_000 // count
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for lo in range(0, count, 200_000):
            n = min(200_000, count - lo)
            stamps = (start + (lo + np.arange(n)) * step).astype("datetime64[ns]")
            text = np.datetime_as_string(stamps, unit="ns")
            picks = rng.integers(0, len(MESSAGES), n)
            streams = np.where(picks == 3, "stderr", "stdout")
            fh.write(
                "".join(
                    f"{t}Z {s} F {MESSAGES[m]}\n"
                    for t, s, m in zip(text, streams, picks, strict=True)
                ).encode()
            )


#: One audit.k8s.io/v1 Event line as the API server's log backend writes it (the struct's
#: field order; see tests/sources/test_audit.py), with the varying fields left as slots.
AUDIT_LINE = (
    '{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":'
    '"{uid}","stage":"{stage}","requestURI":"/api/v1/namespaces/{ns}/pods/{pod}{sub}",'
    '"verb":"{verb}","user":{{"username":"system:serviceaccount:{ns}:deployer","uid":'
    '"5b0b6a3c-1b52-4f0e-9d43-2b1f0e1c9a77","groups":["system:serviceaccounts",'
    '"system:serviceaccounts:{ns}","system:authenticated"]}},"sourceIPs":["10.0.3.17"],'
    '"userAgent":"kubectl/v1.30.2 (linux/amd64) kubernetes/3968350","objectRef":'
    '{{"resource":"pods","namespace":"{ns}","name":"{pod}","apiVersion":"v1"}},'
    '"responseStatus":{{"metadata":{{}},"code":200}},'
    '"requestReceivedTimestamp":"{received}","stageTimestamp":"{staged}",'
    '"annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":'
    '"RBAC: allowed by RoleBinding \\"deployer/{ns}\\" of ClusterRole \\"edit\\" to '
    'ServiceAccount \\"deployer/{ns}\\""}}}}\n'
)
#: One request in this many is a watch, whose last stage comes up to 50 minutes after it was
#: received (the API server ends watches within an hour).
WATCH_EVERY = 50


def _write_audit(path: Path, size: int, seed: int) -> None:
    """An audit log of about ``size`` bytes over the day, its lines in the order of their
    stage times (as the log backend writes them): most requests take milliseconds, one in
    :data:`WATCH_EVERY` is a watch whose ``ResponseComplete`` comes minutes later."""
    import numpy as np

    stamp = f"{DAY}T00:00:00.000000Z"
    sample = AUDIT_LINE.format(
        uid="0" * 52,
        stage="ResponseComplete",
        ns="payments",
        pod="app0-6d4cf56db6-x00000",
        sub="",
        verb="get",
        received=stamp,
        staged=stamp,
    )
    count = max(2, size // len(sample))
    start = np.datetime64(f"{DAY}T00:00:00", "ns").astype(np.int64)
    step = 86_400_000_000_000 // count
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for lo in range(0, count, 100_000):
            n = min(100_000, count - lo)
            staged = start + (lo + np.arange(n)) * step
            watch = rng.integers(0, WATCH_EVERY, n) == 0
            took = np.where(watch, rng.integers(60, 3000, n) * 10**9, rng.integers(0, 10**9, n))
            received = staged - took
            texts = [
                np.datetime_as_string(t.astype("datetime64[ns]"), unit="us")
                for t in (received, staged)
            ]
            ns = rng.integers(0, len(NAMESPACES), n)
            fh.write(
                "".join(
                    AUDIT_LINE.format(
                        uid=f"{seed:04x}{lo + k:012x}-0000-4000-8000-000000000000",
                        stage="ResponseComplete",
                        ns=NAMESPACES[ns[k]],
                        pod=f"app{k % 97}-6d4cf56db6-x{k % 9973:05d}",
                        sub="?watch=true" if watch[k] else "",
                        verb="watch" if watch[k] else "get",
                        received=texts[0][k] + "Z",
                        staged=texts[1][k] + "Z",
                    )
                    for k in range(n)
                ).encode()
            )


def prepare(size: int, data: Path, audit: int = 0) -> Path:
    """The folder of CRI logs of ``size`` bytes and an audit log of ``audit`` bytes (each
    written once, then reused)."""
    folder = data / f"window-{size}"
    done = folder / ".complete"
    if audit and not (folder / f".audit-{audit}").is_file():
        path = folder / "audit" / "audit.log"
        _write_audit(path, audit, 7)
        for old in folder.glob(".audit-*"):
            old.unlink()
        (folder / f".audit-{audit}").write_text(str(path.stat().st_size))
    if done.is_file():
        return folder
    written = k = 0
    while written < size:
        namespace = NAMESPACES[k % len(NAMESPACES)]
        pod = f"app{k // len(NAMESPACES)}-6d4cf56db6-x{k:05d}"
        nbytes = LARGE_BYTES if k % LARGE_EVERY == 0 else SMALL_BYTES
        nbytes = min(nbytes, size - written)
        path = folder / "pods" / f"{namespace}_{pod}_u{k:05d}" / "app" / "0.log"
        _write_file(path, nbytes, k)
        written += path.stat().st_size
        k += 1
    done.write_text(str(written))
    return folder


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_bytes() -> int:
    """Bytes this process has read from files so far (Linux ``/proc/self/io``)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def _child(folder: str, start: str, end: str, budget: int | None, out) -> None:
    if budget is not None:
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    import obskit

    t0, cpu0, read0 = time.perf_counter(), _cpu(), _read_bytes()
    try:
        inv = obskit.load(folder, start=start, end=end, where={"namespace": "shop"})
    except (obskit.ObskitError, MemoryError) as exc:
        out.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    seconds = time.perf_counter() - t0
    files = inv.files
    out.send(
        {
            "seconds": seconds,
            # on a shared machine the CPU time says more than the wall time
            "cpu_seconds": _cpu() - cpu0,
            "read_gb": (_read_bytes() - read0) / 1e9,
            "rows": len(inv.logs),
            "events": len(inv.events),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000,
            "files": len(files),
            "skipped": int(files["status"].str.startswith("skipped by filter").sum()),
        }
    )


def measure(folder: Path, start: str, end: str, budget: int | None) -> dict:
    """One windowed load in a fresh process (imports not timed), under the budget."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "pandas", "pyarrow", "obskit"])
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_child, args=(str(folder), start, end, budget, theirs))
    child.start()
    result = ours.recv()
    child.join()
    return result


def check(folder: Path, start: str, end: str) -> bool:
    """Whether the windowed load keeps exactly the rows of a full load, windowed and focused."""
    import pandas as pd

    import obskit

    got = obskit.load(folder, start=start, end=end, where={"namespace": "shop"})
    full = obskit.load(folder, memory_budget=None).window(start, end)
    expected = full.focus(namespace="shop") if len(full.logs) else full
    same = len(got.logs) > 0 and pd.Timestamp(start) <= got.logs["timestamp"].min()
    for name, columns in (
        ("logs", ["timestamp", "message", "origin", "line"]),
        ("events", ["timestamp", "message", "origin", "line", "uid", "final_stage"]),
    ):
        ours, theirs = getattr(got, name), getattr(expected, name)
        same = same and len(ours) == len(theirs)
        same = same and bool(
            ours[columns]
            .astype({"origin": str})
            .equals(theirs[columns].astype({"origin": str}).reset_index(drop=True))
        )
        print(f"  {name}: {len(ours):,} rows windowed, {len(theirs):,} from the full load")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="20GB", help="bytes of CRI logs (20GB, 500MB ...)")
    parser.add_argument("--audit", default="2GB", help="bytes of the audit log (0: none)")
    parser.add_argument("--budget", default="4GB", help="address-space cap of the load")
    parser.add_argument("--minutes", type=int, default=30, help="the window, around noon")
    parser.add_argument("--check", action="store_true", help="compare with a full load")
    parser.add_argument("--data", type=Path, default=HERE / "_data")
    args = parser.parse_args(argv)
    size = _size(args.size)
    t0 = time.perf_counter()
    folder = prepare(size, args.data, _size(args.audit))
    print(f"inputs in {folder} ({time.perf_counter() - t0:.1f} s)", flush=True)
    noon = f"{DAY}T12:00:00Z"
    half = f"{args.minutes // 2}min"
    import pandas as pd

    start = (pd.Timestamp(noon) - pd.Timedelta(half)).isoformat()
    end = (pd.Timestamp(noon) + pd.Timedelta(half)).isoformat()
    result = measure(folder, start, end, _size(args.budget))
    print(f"window {start} .. {end}, namespace shop, budget {args.budget}: {result}")
    if args.check:
        print(f"exactly the rows of a full load, windowed: {check(folder, start, end)}")
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
