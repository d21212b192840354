"""The ``obskit`` command line.

``obskit formats``
    List the formats obskit reads.
``obskit load PATH... [--cluster NAME] [--format NAME]``
    Load files, folders or globs and print what was read: rows per frame, time span, key
    coverage per column, rejects by reason, and the files that were skipped.
``obskit datasets``
    List the bundled incidents and where they are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from obskit import datasets
from obskit.errors import ObskitError
from obskit.investigation import load
from obskit.sources import FORMATS

__all__ = ["main"]


def _print_formats() -> None:
    width = max(map(len, FORMATS))
    for name, description in FORMATS.items():
        print(f"{name:<{width}}  {description}")


def _print_summary(paths: Sequence[str], cluster: str | None, fmt: str | None) -> int:
    inv = load(list(paths), cluster=cluster, format=fmt)
    print(inv)
    print()
    summary = inv.summary()
    coverage = summary[
        ["rows", "start", "end", *[c for c in summary.columns if c not in ("rows", "start", "end")]]
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(
            "Rows per frame, time span (UTC) and key coverage (share of rows with the column set):"
        )
        print(coverage.to_string(na_rep="-", float_format=lambda v: f"{v:.0%}"))
        files = inv.files
        loaded = files[files["status"] == "loaded"]
        print()
        metadata = int((files["status"] == "metadata").sum())
        skipped_n = len(files) - len(loaded) - metadata
        print(f"Files: {len(loaded)} loaded, {skipped_n} skipped, {metadata} metadata")
        if len(loaded):
            by_format = loaded.groupby("format").agg(
                files=("origin", "size"),
                records=("records", "sum"),
                rows=("rows", "sum"),
                rejects=("rejects", "sum"),
                merged=("merged", "sum"),
            )
            print(by_format.to_string())
        unbalanced = loaded[~loaded["balanced"].astype(bool)]
        if len(unbalanced):
            print("\nFiles whose records do not add up (a bug; please report):")
            print(unbalanced[["origin", "records", "rows", "rejects", "merged"]].to_string())
        if len(inv.rejects):
            print("\nRejects by reason:")
            reasons = inv.rejects.groupby(["format", "reason"], observed=True).size()
            print(reasons.sort_values(ascending=False).head(20).to_string())
        skipped = inv.skipped()
        if len(skipped):
            print("\nSkipped files:")
            for row in skipped.head(30).itertuples():
                print(f"  {row.origin}: {row.status}")
            if len(skipped) > 30:
                print(f"  ... and {len(skipped) - 30} more")
    for note in inv.notes[:20]:
        print(f"note: {note}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``obskit`` command; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="obskit",
        description="Investigate Kubernetes incidents: metrics, events and logs "
        "on one metadata key.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("formats", help="list the formats obskit reads")
    p_load = sub.add_parser("load", help="load files or folders and print what was read")
    p_load.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files, folders or glob patterns (a bundled dataset's name works too)",
    )
    p_load.add_argument("--cluster", help="cluster name for rows that carry none")
    p_load.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="read every file as this format instead of detecting it",
    )
    sub.add_parser("datasets", help="list the bundled incidents")
    args = parser.parse_args(argv)
    try:
        if args.command == "formats":
            _print_formats()
            return 0
        if args.command == "datasets":
            for name in datasets.names():
                print(f"{name:<16} {datasets.path(name)}")
            return 0
        paths = [str(datasets.path(p)) if p in datasets.names() else p for p in args.paths]
        return _print_summary(paths, args.cluster, args.format)
    except ObskitError as exc:
        print(f"obskit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
