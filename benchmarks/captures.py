"""Load a folder of real captures, one file at a time, and print what obskit made of each.

Usage::

    python benchmarks/captures.py FOLDER [--show]

``FOLDER`` holds captures as ``<expected format>/<file>`` (``audit/``, ``falco/``, ``k8s/`` ...,
any depth below, so a kubelet ``var/log/pods/...`` tree keeps its path); files named
``SOURCES*`` (where each capture came from) are skipped. For each file the table says the
format detected (and the folder's, to compare), the records, rows and rejects and whether they
balance (rows in = rows out + rejects + merged), each frame's time range and how many rows
have each key column, and the first rejects' reasons. A file obskit cannot read prints its
error instead. ``--show`` also prints each frame's first rows.

It is the check run over public captures that the tests do not hold (see the lead's report of
the captures work); it times nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from obskit.errors import ObskitError
from obskit.sources import ParseResult, load_file

KEY = ("namespace", "pod", "container", "node")
FRAMES = ("metrics", "events", "logs", "inventory")


def describe(result: ParseResult) -> str:
    """One line per capture: each frame's rows, time range and filled key columns."""
    parts = []
    for name in FRAMES:
        frame = getattr(result, name)
        if frame is None or not len(frame):
            continue
        times = frame["timestamp"] if "timestamp" in frame else pd.Series(dtype=object)
        span = f"{times.min()}..{times.max()}" if times.notna().any() else "no time"
        keys = ",".join(f"{k}={int(frame[k].notna().sum())}" for k in KEY if k in frame)
        parts.append(f"{name}={len(frame)} [{span}] {keys}")
    return " | ".join(parts)


def check(root: Path, path: Path, show: bool) -> bool:
    """Load one capture and print its line; False when it could not be read or is unbalanced."""
    expected = path.relative_to(root).parts[0]
    try:
        result, used = load_file(path)
    except ObskitError as exc:
        print(f"FAIL  {path.relative_to(root)}: {type(exc).__name__}: {str(exc)[:300]}")
        return False
    ok = result.balanced()
    print(
        f"{'ok  ' if ok else 'UNBAL'}  {path.relative_to(root)} as {used} (folder {expected}) "
        f"records={result.records} rows={result.rows} rejects={len(result.rejects)} "
        f"merged={result.merged} | {describe(result)}"
    )
    for row in result.rejects.head(3).itertuples():
        print(f"        reject line {row.line}: {str(row.reason)[:150]}")
    if show:
        with pd.option_context("display.width", 250, "display.max_columns", 40):
            for name in FRAMES:
                frame = getattr(result, name)
                if frame is not None and len(frame):
                    print(frame.head(5))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--show", action="store_true", help="print each frame's first rows")
    args = parser.parse_args(argv)
    files = sorted(
        p for p in args.folder.rglob("*") if p.is_file() and not p.name.startswith("SOURCES")
    )
    good = sum(check(args.folder, path, args.show) for path in files)
    print(f"{good} of {len(files)} captures read and balanced")
    return 0 if good == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
