"""Measure obskit's root-cause suspects on the generated incidents, across seeds and scales.

The bundled incidents (OOM kills, a bad rollout, node pressure, a cryptominer, a disabled Falco)
are each one draw of :mod:`obskit.datasets.generate`. A rule tuned on one draw (or on Nezha's
days, ``benchmarks/rca_nezha.py``) can lose on the next; this script draws each incident at
several seeds and scales and scores every draw the way a report reads it:

1. ``build(name, seed, scale)`` writes the incident's files into a temporary folder, and
   ``obskit.load`` reads the folder (``truth.json`` names the culprit and the level it is
   named at: ``node``, ``workload`` or ``pod``);
2. ``inv.suspects()`` runs as the report and the notebooks run it: the onset found from the
   data, ``level="auto"``, the default ``top``;
3. the truth's rank is the first suspect of the truth's level whose key columns are the
   truth's (a pod of the culprit workload does not count for a workload-level truth); the
   verdict is the ranking's (``clear`` / ``ambiguous``); ``at off`` is how far the onset found
   is from the fault's start (the table gives its median and largest size).

It prints a table per incident and overall (top-1, top-3, clear share, clear@1 = top-1
accuracy of the rankings called clear, wrong clear calls, suspects() time), then every draw
where the truth was not first, with the top suspect's evidence. A draw the generator cannot
build (it needs enough replicas: some incidents refuse scales below 0.75) is listed, not
scored.

Run by hand from the repository root: ``python benchmarks/rca_scenarios.py`` (10 seeds, scales
0.75 and 1.5: a few minutes on two cores). ``--seeds N``, ``--scales 0.75,1``, ``--only NAME``
(repeatable) and ``--out FILE.md`` (Markdown, like ``rca_nezha.py``'s; default: nowhere).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import obskit
from obskit.datasets.generate import build, incident_names

#: The seeds drawn: the committed one is 20240514; these are others, fixed so runs compare.
FIRST_SEED = 1
_KEYS = {
    "node": ["node"],
    "workload": ["namespace", "workload"],
    "pod": ["namespace", "pod"],
    "container": ["namespace", "pod", "container"],
}
NOT_FOUND = 10**6


def _write(files: dict[str, bytes], folder: Path) -> None:
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def truth_rank(found: pd.DataFrame, truth: dict) -> int:
    """The 1-based rank of the first suspect at the truth's level naming the truth's entity."""
    level = truth["level"]
    root = truth["root_cause"]
    if not len(found):
        return NOT_FOUND
    match = found["entity_kind"].astype(str) == level
    for column in _KEYS[level]:
        match &= found[column].astype(object).eq(root[column]).fillna(False).astype(bool)
    hits = np.flatnonzero(match.to_numpy())
    return int(hits[0]) + 1 if len(hits) else NOT_FOUND


def _name(row: pd.Series) -> str:
    """A suspect's name at its own level."""
    kind = str(row["entity_kind"])
    key = {"node": "node", "workload": "workload"}.get(kind, "pod")
    return f"{kind} {row[key]}"


def score_one(name: str, seed: int, scale: float, scratch: Path) -> dict:
    """Build, load and rank one draw; its truth's rank, the verdict and the time taken."""
    row: dict = {"incident": name, "seed": seed, "scale": scale}
    try:
        files = build(name, seed=seed, scale=scale)
    except Exception as exc:  # the generator's own limit (too few replicas), listed not scored
        row["error"] = f"not generated: {type(exc).__name__}: {exc}"
        return row
    truth = json.loads(files["truth.json"])
    folder = scratch / f"{name}-{seed}-{scale}"
    _write(files, folder)
    inv = obskit.load(folder)
    t0 = time.perf_counter()
    found = inv.suspects()
    row["seconds"] = time.perf_counter() - t0
    row["level"] = truth["level"]
    row["rank"] = truth_rank(found, truth)
    verdict = found.attrs.get("verdict", "none")
    row["verdict"] = verdict
    row["margin"] = float(found["margin"].iloc[0]) if "margin" in found and len(found) else None
    at = found.attrs.get("at")
    start = pd.Timestamp(truth["fault_start"])
    row["at off (min)"] = round((at - start).total_seconds() / 60, 1) if at is not None else None
    if len(found):
        lead = found.iloc[0]
        row["top1"] = _name(lead)
        row["top1 evidence"] = (list(lead["evidence"]) or [""])[0][:160]
        row["top1 score"] = round(float(lead["score"]), 2)
        hit = found.iloc[row["rank"] - 1] if row["rank"] <= len(found) else None
        row["truth score"] = round(float(hit["score"]), 2) if hit is not None else None
    return row


def summarise(result: pd.DataFrame) -> pd.DataFrame:
    """Top-1/top-3, clear share, clear@1, wrong clear calls and time, per incident and overall."""
    scored = result[result["rank"].notna()] if "rank" in result else result.iloc[:0]
    groups = [(name, part) for name, part in scored.groupby("incident")]
    groups.append(("all", scored))
    lines = []
    for name, part in groups:
        clear = part["verdict"].eq("clear")
        lines.append(
            {
                "incident": name,
                "n": len(part),
                "top1": round(float((part["rank"] == 1).mean()), 2),
                "top3": round(float((part["rank"] <= 3).mean()), 2),
                "clear share": round(float(clear.mean()), 2),
                "clear@1": round(float((part.loc[clear, "rank"] == 1).mean()), 2)
                if clear.any()
                else None,
                "wrong clear": int((clear & (part["rank"] != 1)).sum()),
                # how far the onset found from the data is from the fault's start
                "at off median min": round(float(part["at off (min)"].abs().median()), 1),
                "at off max min": round(float(part["at off (min)"].abs().max()), 1),
                "median s": round(float(part["seconds"].median()), 2),
                "max s": round(float(part["seconds"].max()), 2),
            }
        )
    return pd.DataFrame(lines)


_MISS_COLUMNS = [
    "incident",
    "seed",
    "scale",
    "rank",
    "verdict",
    "at off (min)",
    "truth score",
    "top1",
    "top1 score",
    "top1 evidence",
]


def _markdown(frame: pd.DataFrame) -> list[str]:
    """A Markdown table of ``frame`` (pandas needs tabulate for its own)."""
    rows = [[str(v).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
    return [
        "| " + " | ".join(map(str, frame.columns)) + " |",
        "|" + "---|" * len(frame.columns),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def run(names: list[str], seeds: list[int], scales: list[float]) -> pd.DataFrame:
    """Every draw's row (see :func:`score_one`), in incident, scale, seed order."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="rca-scenarios-") as scratch:
        for name in names:
            for scale in scales:
                for seed in seeds:
                    rows.append(score_one(name, seed, scale, Path(scratch)))
                    print(_progress(rows[-1]), file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def _progress(row: dict) -> str:
    head = f"{row['incident']} seed {row['seed']} scale {row['scale']}"
    if "error" in row:
        return f"{head}: {row['error']}"
    return f"{head}: rank {row['rank']}, {row['verdict']}, {row['seconds']:.2f}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds (default 10)")
    parser.add_argument(
        "--scales", default="0.75,1.5", help="comma-separated volume multipliers (default 0.75,1.5)"
    )
    parser.add_argument(
        "--only", action="append", choices=incident_names(), help="only this incident (repeatable)"
    )
    parser.add_argument("--out", default="-", help="write the tables as Markdown here ('-': no)")
    args = parser.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    seeds = list(range(FIRST_SEED, FIRST_SEED + args.seeds))
    result = run(args.only or incident_names(), seeds, scales)
    table = summarise(result)
    misses = result[result["rank"].fillna(1) > 1] if "rank" in result else result.iloc[:0]
    failed = result[result["error"].notna()] if "error" in result else result.iloc[:0]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 100)
    print(table.to_string(index=False))
    if len(misses):
        print("\ntruth not first (rank 1000000: not among the suspects):")
        print(misses[_MISS_COLUMNS].to_string(index=False))
    if len(failed):
        print(f"\n{len(failed)} draws not generated:")
        print(failed[["incident", "seed", "scale", "error"]].to_string(index=False))
    if args.out != "-":
        _write_markdown(Path(args.out), table, misses, failed, argv)
    return 0


def _write_markdown(
    path: Path,
    table: pd.DataFrame,
    misses: pd.DataFrame,
    failed: pd.DataFrame,
    argv: list[str] | None,
) -> None:
    command = " ".join(["python benchmarks/rca_scenarios.py", *(argv or sys.argv[1:])]).strip()
    lines = [
        "# Root-cause suspects on the generated incidents, across seeds and scales",
        "",
        f"`{command}`, {pd.Timestamp.now(tz='UTC'):%Y-%m-%d}, obskit {obskit.__version__}. "
        "`top1`/`top3`: the share of draws whose culprit (truth.json, at its level) is among "
        "the first k suspects of `inv.suspects()` run as the report runs it; `clear share`: "
        "the share called clear; `clear@1`: the top-1 accuracy of those; `wrong clear`: clear "
        "calls whose first suspect is not the culprit.",
        "",
        *_markdown(table),
        "",
        "Draws whose culprit was not first:",
        "",
        *(_markdown(misses[_MISS_COLUMNS]) if len(misses) else ["(none)"]),
        "",
    ]
    if len(failed):
        lines += [
            "Draws the generator could not build:",
            "",
            *_markdown(failed[["incident", "seed", "scale", "error"]]),
            "",
        ]
    path.write_text("\n".join(lines))
    print(f"written to {path}")


if __name__ == "__main__":
    raise SystemExit(main())
