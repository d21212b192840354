"""The ``obskit`` command line.

``obskit formats``
    List the formats obskit reads.
``obskit load PATH... [--cluster NAME] [--format NAME]``
    Load files, folders or globs and print what was read: rows per frame, time span, key
    coverage per column, rejects by reason, and the files that were skipped.
``obskit datasets``
    List the bundled incidents and where they are.
``obskit demo [--dataset NAME] [--out FILE]``
    Run the post-incident review on a bundled incident and write ``obskit-demo-report.html``
    in the current directory; print its path and a one-paragraph summary.
``obskit report SOURCE --out FILE.html [--notebook NAME] [--start T --end T] [--focus K=V,...]``
    Run a curated notebook on SOURCE (a bundled incident's name, a folder, a file, a glob, an
    evidence bundle, or ``live`` with ``--prometheus``/``--kubernetes``/``--loki``/
    ``--elasticsearch``/``--sumologic``) and write a self-contained, offline, redacted HTML
    report (``--show-code`` keeps the code). The window and ``--where KEY=VALUE`` (repeatable)
    are passed down to the load, which reads only what they keep.
``obskit watch --kubernetes [CTX] --prometheus URL --loki URL --namespace NS --duration 30m``
    Follow a live cluster (:func:`obskit.watch`): print each object change as it is seen, and
    at the end (the duration, or Ctrl-C) what each source did; ``--bundle DIR`` saves what was
    seen, the change log included, as an evidence bundle.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from obskit import datasets, report, schema
from obskit._chars import reveal
from obskit._time import as_utc
from obskit.errors import CollectionError, ObskitError, ReportError
from obskit.investigation import load
from obskit.sources import FORMATS

__all__ = ["main"]


def _say(*parts: object, file: TextIO | None = None) -> None:
    """Print for a terminal: text from the data (a pod name, a log line) may carry escape
    sequences that set the window title or clear the screen; every control and disguising
    character is shown as its escape (``\\x1b``, ``\\u202e``) instead."""
    print(*(reveal(str(p)) for p in parts), file=file or sys.stdout, flush=True)


def _print_formats() -> None:
    width = max(map(len, FORMATS))
    for name, description in FORMATS.items():
        _say(f"{name:<{width}}  {description}")


def _print_summary(paths: Sequence[str], cluster: str | None, fmt: str | None) -> int:
    inv = load(list(paths), cluster=cluster, format=fmt)
    _say(inv)
    _say()
    summary = inv.summary()
    coverage = summary[
        ["rows", "start", "end", *[c for c in summary.columns if c not in ("rows", "start", "end")]]
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        _say(
            "Rows per frame, time span (UTC) and key coverage (share of rows with the column set):"
        )
        _say(coverage.to_string(na_rep="-", float_format=lambda v: f"{v:.0%}"))
        files = inv.files
        loaded = files[files["status"] == "loaded"]
        _say()
        metadata = int((files["status"] == "metadata").sum())
        skipped_n = len(files) - len(loaded) - metadata
        _say(f"Files: {len(loaded)} loaded, {skipped_n} skipped, {metadata} metadata")
        if len(loaded):
            by_format = loaded.groupby("format").agg(
                files=("origin", "size"),
                records=("records", "sum"),
                rows=("rows", "sum"),
                rejects=("rejects", "sum"),
                merged=("merged", "sum"),
            )
            _say(by_format.to_string())
        unbalanced = loaded[~loaded["balanced"].astype(bool)]
        if len(unbalanced):
            _say("\nFiles whose records do not add up (a bug; please report):")
            _say(unbalanced[["origin", "records", "rows", "rejects", "merged"]].to_string())
        if len(inv.rejects):
            _say("\nRejects by reason:")
            reasons = inv.rejects.groupby(["format", "reason"], observed=True).size()
            _say(reasons.sort_values(ascending=False).head(20).to_string())
        skipped = inv.skipped()
        if len(skipped):
            _say("\nSkipped files:")
            for row in skipped.head(30).itertuples():
                _say(f"  {row.origin}: {row.status}")
            if len(skipped) > 30:
                _say(f"  ... and {len(skipped) - 30} more")
    for note in inv.notes[:20]:
        _say(f"note: {note}")
    return 0


#: The incident ``obskit demo`` reviews: it has both root-cause suspects and security detections.
DEMO_DATASET = "cryptominer"
#: The file ``obskit demo`` writes in the current directory.
DEMO_REPORT = "obskit-demo-report.html"


def _focus(text: str | None) -> dict[str, str] | None:
    """``namespace=shop,workload=checkout`` as a focus mapping."""
    if not text:
        return None
    focus = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ReportError(
                f"--focus takes key=value pairs separated by commas, e.g. "
                f"'namespace=shop,workload=checkout', got {text!r}"
            )
        focus[key.strip()] = value.strip()
    return focus


def _where(texts: list[str] | None) -> dict[str, list[str]] | None:
    """Repeated ``--where namespace=shop`` as :func:`obskit.load`'s ``where`` (a key given
    twice keeps both values)."""
    if not texts:
        return None
    where: dict[str, list[str]] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ReportError(
                f"--where takes key=value, e.g. --where namespace=shop (repeat it for more "
                f"keys or values), got {text!r}"
            )
        if key not in schema.KEY:
            raise ReportError(
                f"--where names {key!r}, which is no key column; the key columns are: "
                f"{', '.join(schema.KEY)}"
            )
        where.setdefault(key, []).append(value)
    return where


def _window_flag(text: str | None, flag: str) -> str | None:
    """``--start`` or ``--end`` checked as :func:`obskit.load` reads it (the text is passed
    on as given)."""
    if text is not None:
        as_utc(text, flag, error=ReportError)
    return text


def _live(args: argparse.Namespace) -> dict | None:
    """The live settings from --prometheus, --kubernetes, --loki and --namespace, if any."""
    live: dict[str, object] = {}
    if args.prometheus:
        live["prometheus"] = {"url": args.prometheus}
        if args.prometheus_token_env:
            live["prometheus"]["bearer_token_env"] = args.prometheus_token_env
    if args.loki:
        live["loki"] = {"url": args.loki}
        if args.loki_token_env:
            live["loki"]["bearer_token_env"] = args.loki_token_env
    if args.kubernetes is not None:
        live["kubernetes"] = args.kubernetes or True
    live.update(_stores(args))
    if not live:
        return None
    if args.namespace:
        live["namespaces"] = list(args.namespace)
    return live


def _stores(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """The store settings from --elasticsearch and --sumologic (``obskit report`` only)."""
    stores: dict[str, dict[str, object]] = {}
    if getattr(args, "elasticsearch", None):
        settings: dict[str, object] = {"url": args.elasticsearch}
        for option in ("index", "time_field", "api_key_env", "username_env", "password_env"):
            value = getattr(args, f"elasticsearch_{option}")
            if value:
                settings[option] = value
        stores["elasticsearch"] = settings
    if getattr(args, "sumologic", None):
        stores["sumologic"] = {
            "endpoint": args.sumologic,
            "access_id_env": args.sumologic_access_id_env,
            "access_key_env": args.sumologic_access_key_env,
        }
        if args.sumologic_scope:
            stores["sumologic"]["scope"] = args.sumologic_scope
    return stores


def _print_report(result: report.Report) -> None:
    size = f"{result.size / 1e6:.1f} MB"
    _say(f"Wrote {result.path} ({size}, {result.notebook}, {result.seconds:.0f} s)")
    if result.summary:
        _say()
        _say(textwrap.fill(result.summary, width=100))


def _report(args: argparse.Namespace) -> int:
    live = _live(args)
    source: str | None = args.source
    if source == "live" and not Path("live").exists():
        if live is None:
            raise ReportError(
                "SOURCE 'live' needs at least one of --prometheus URL, --kubernetes [CONTEXT], "
                "--loki URL, --elasticsearch URL, --sumologic ENDPOINT"
            )
        source = None
    elif live is not None:
        raise ReportError(
            f"--prometheus, --kubernetes, --loki, --elasticsearch and --sumologic go with "
            f"SOURCE 'live', not {source!r}"
        )
    result = report.run(
        source,
        args.out,
        notebook=args.notebook,
        live=live,
        start=_window_flag(args.start, "--start"),
        end=_window_flag(args.end, "--end"),
        where=_where(args.where),
        focus=_focus(args.focus),
        cluster=args.cluster,
        baseline=args.baseline,
        bundle_dir=args.bundle,
        show_code=args.show_code,
        progress=not args.quiet,
        lens=args.lens,
    )
    _print_report(result)
    return 0


def _demo(args: argparse.Namespace) -> int:
    _say(f"Reviewing the bundled incident {args.dataset!r} ({report.DEFAULT_NOTEBOOK}) ...")
    result = report.run(args.dataset, args.out, progress=not args.quiet)
    _print_report(result)
    _say()
    _say(f"Open it in any browser (it works offline): {result.path.as_uri()}")
    return 0


def _add_report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="run a curated notebook on your data and write a self-contained HTML report",
        description="Run a curated notebook with parameters and export it as one HTML file: "
        "offline (plotly.js embedded once), interactive charts, code hidden, secrets redacted.",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="a bundled incident's name, a folder, a file, a glob, an evidence bundle, or 'live' "
        "(with --prometheus / --kubernetes / --loki / --elasticsearch / --sumologic)",
    )
    p.add_argument("--out", "-o", required=True, metavar="FILE.html", help="the report to write")
    p.add_argument(
        "--notebook",
        default=report.DEFAULT_NOTEBOOK,
        metavar="NAME",
        help=f"a curated notebook ({', '.join(report.notebooks())}) or the path of your own "
        f".ipynb with a cell tagged 'parameters' (default: {report.DEFAULT_NOTEBOOK})",
    )
    p.add_argument(
        "--start",
        metavar="TIME",
        help="window start, RFC3339 (UTC if no offset); only what lies in the window is read",
    )
    p.add_argument("--end", metavar="TIME", help="window end, RFC3339 (UTC if no offset)")
    p.add_argument(
        "--where",
        action="append",
        metavar="KEY=VALUE",
        help="load only the rows of these key values, e.g. --where namespace=shop --where "
        "node=node-1 (repeatable; namespace, node, workload, pod, container, cluster): log "
        "files of other namespaces and pods are not read",
    )
    p.add_argument(
        "--focus",
        metavar="KEY=VALUE,...",
        help="the entity to look at, e.g. namespace=shop,workload=checkout (default: the top "
        "suspect)",
    )
    p.add_argument("--cluster", help="cluster name for rows that carry none")
    p.add_argument(
        "--baseline",
        metavar="DURATION",
        help="learning period of the security detections, "
        "e.g. 30min (default: everything earlier in the data)",
    )
    p.add_argument(
        "--bundle", metavar="DIR", help="also keep the evidence bundle the review rests on here"
    )
    p.add_argument(
        "--lens",
        choices=["security", "dev", "ops"],
        help="one team's view of the same data: its sections first, the map coloured by what "
        "it looks at, its headline (every section stays in the report)",
    )
    p.add_argument("--show-code", action="store_true", help="keep the code cells in the report")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    live = p.add_argument_group("live sources (SOURCE 'live'; --start and --end required)")
    _add_live_arguments(live)
    _add_store_arguments(live)


def _add_store_arguments(live: argparse._ArgumentGroup) -> None:
    live.add_argument("--elasticsearch", metavar="URL", help="Elasticsearch or OpenSearch URL")
    live.add_argument(
        "--elasticsearch-index",
        metavar="PATTERN",
        help="indices or data streams to search (default '*'), e.g. 'fluent-bit-*,logs-*'",
    )
    live.add_argument(
        "--elasticsearch-time-field", metavar="FIELD", help="the documents' time (@timestamp)"
    )
    live.add_argument(
        "--elasticsearch-api-key-env", metavar="VAR", help="environment variable with an API key"
    )
    live.add_argument(
        "--elasticsearch-username-env", metavar="VAR", help="environment variable with a user"
    )
    live.add_argument(
        "--elasticsearch-password-env", metavar="VAR", help="environment variable with a password"
    )
    live.add_argument(
        "--sumologic",
        metavar="ENDPOINT",
        help="Sumo Logic API endpoint, e.g. https://api.us2.sumologic.com",
    )
    live.add_argument(
        "--sumologic-access-id-env",
        metavar="VAR",
        default="SUMO_ACCESS_ID",
        help="environment variable with the access ID (default SUMO_ACCESS_ID)",
    )
    live.add_argument(
        "--sumologic-access-key-env",
        metavar="VAR",
        default="SUMO_ACCESS_KEY",
        help="environment variable with the access key (default SUMO_ACCESS_KEY)",
    )
    live.add_argument(
        "--sumologic-scope",
        metavar="QUERY",
        help="the search before the namespace condition (default '*'), e.g. 'cluster=prod'",
    )


def _add_live_arguments(live: argparse._ArgumentGroup) -> None:
    live.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    live.add_argument(
        "--prometheus-token-env", metavar="VAR", help="environment variable with a bearer token"
    )
    live.add_argument(
        "--kubernetes",
        nargs="?",
        const="",
        metavar="CONTEXT",
        help="read the Kubernetes API (the kubeconfig's current context, or CONTEXT)",
    )
    live.add_argument("--loki", metavar="URL", help="Loki base URL")
    live.add_argument("--loki-token-env", metavar="VAR", help="environment variable with a token")
    live.add_argument(
        "--namespace", action="append", metavar="NAME", help="only this namespace (repeatable)"
    )


def _add_watch_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watch",
        help="follow a live cluster: print object changes as they come, save what was seen",
        description="Follow a live cluster: the Kubernetes inventory by list and watch, "
        "Prometheus and Loki every tick. Each object change is printed as it is seen; at the end "
        "(--duration, or Ctrl-C) the sources' status is printed and --bundle is written.",
    )
    _add_live_arguments(p.add_argument_group("sources (at least one)"))
    p.add_argument("--duration", metavar="DURATION", help="stop after this long, e.g. 30m")
    p.add_argument("--every", default="15s", metavar="DURATION", help="tick (default: 15s)")
    p.add_argument(
        "--keep", default="2h", metavar="DURATION", help="signal history kept (default: 2h)"
    )
    p.add_argument("--cluster", help="cluster name for rows that carry none")
    p.add_argument("--bundle", metavar="DIR", help="save what was seen here at the end")


def _plain(value: object) -> str:
    """A value from the data on one line, ``-`` when missing (escapes are shown by _say)."""
    return (
        "-" if value is None or value is pd.NA or value != value else str(value).replace("\n", " ")
    )


def _span(delta: pd.Timedelta) -> str:
    """A duration as an analyst writes it: ``0.5s``, ``15s``, ``2min``, ``2h``."""
    seconds = delta.total_seconds()
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _change_line(row: pd.Series) -> str:
    """One change-log row as a line: time, verb, kind, namespace/name, what changed."""
    where = "/".join(_plain(v) for v in (row["namespace"], row["name"]) if pd.notna(v))
    if row["verb"] == "modified" and pd.notna(row["changed"]):
        before = dict(
            part.split("=", 1) for part in str(row["before"] or "").split("; ") if "=" in part
        )
        what = ", ".join(
            f"{field}: {_plain(before.get(field))} -> {_plain(row[field])}"
            for field in str(row["changed"]).split(", ")
        )
    else:
        facts = [f"{k}={_plain(row[k])}" for k in ("node", "phase", "ready") if pd.notna(row[k])]
        what = " ".join(facts)
    return (
        f"{row['timestamp']:%H:%M:%S}  {row['verb']:<12} {_plain(row['kind']):<12} {where}  {what}"
    )


def _watch(args: argparse.Namespace) -> int:
    from obskit._time import as_duration
    from obskit.live.watch import watch

    live = _live(args)
    if live is None:
        raise ReportError(
            "obskit watch needs at least one of --kubernetes [CONTEXT], --prometheus URL, "
            "--loki URL"
        )
    duration = (
        as_duration(args.duration, "--duration", error=CollectionError, seconds=True)
        if args.duration
        else None
    )
    sources = report.live_sources(live)
    w = watch(**sources, every=args.every, keep=args.keep, cluster=args.cluster)
    if w.kubernetes is not None:
        _say("Listing the cluster ...")
        w.listed(timeout=duration.total_seconds() if duration is not None else None)
        objects = w.investigation().inventory
        _say(f"Listed {len(objects):,} objects; watching for changes.")
    _say(f"Every {_span(w.every)}, keeping {_span(w.keep)} of signals; Ctrl-C stops.")
    ends = time.monotonic() + duration.total_seconds() if duration is not None else None
    printed = 0
    try:
        while ends is None or time.monotonic() < ends:
            time.sleep(0.5 if ends is None else max(0.0, min(0.5, ends - time.monotonic())))
            changes = w.changes()
            for _, row in changes.iloc[printed:].iterrows():
                _say(_change_line(row))
            printed = len(changes)
    except KeyboardInterrupt:
        _say("\nStopping.")
    finally:
        w.stop()
    changes = w.changes()
    for _, row in changes.iloc[printed:].iterrows():
        _say(_change_line(row))
    status = w.status()
    _say(f"\n{len(changes)} changes seen in {w.ticks} ticks. Sources:")
    columns = ["source", "what", "state", "last_success", "errors", "relists", "dropped"]
    _say(status[columns].to_string(index=False))
    for _, row in status[status["last_error"].notna()].iterrows():
        _say(f"  {_plain(row['what'])}: {_plain(row['last_error'])}")
    if args.bundle:
        folder = w.save(args.bundle)
        _say(f"Saved what was seen (the change log included) in {folder}")
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
    p_demo = sub.add_parser(
        "demo",
        help=f"review a bundled incident and write {DEMO_REPORT} here",
        description="Run the post-incident review notebook on a bundled incident and write a "
        "self-contained HTML report in the current directory.",
    )
    p_demo.add_argument(
        "--dataset",
        default=DEMO_DATASET,
        choices=datasets.names(),
        help=f"the bundled incident (default: {DEMO_DATASET})",
    )
    p_demo.add_argument("--out", "-o", default=DEMO_REPORT, help=f"default: {DEMO_REPORT}")
    p_demo.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_report_parser(sub)
    _add_watch_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "formats":
            _print_formats()
            return 0
        if args.command == "datasets":
            for name in datasets.names():
                _say(f"{name:<16} {datasets.path(name)}")
            return 0
        if args.command == "demo":
            return _demo(args)
        if args.command == "report":
            return _report(args)
        if args.command == "watch":
            return _watch(args)
        paths = [str(datasets.path(p)) if p in datasets.names() else p for p in args.paths]
        return _print_summary(paths, args.cluster, args.format)
    except ObskitError as exc:
        _say(f"obskit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
