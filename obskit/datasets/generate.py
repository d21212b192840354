"""Deterministic generator for the bundled incidents.

Usage::

    python -m obskit.datasets.generate --out DIR [--seed N] [--scale X] [--only NAME]

Writes one folder per incident (``DIR/<name>/``) holding the incident's telemetry in the real
formats (kubectl JSON, Prometheus query_range JSON, kubelet CRI log files, audit.k8s.io/v1 JSON
lines, Falco json_output) plus ``obskit.json`` and ``truth.json``. The same seed and scale give
byte-identical files; ``--scale`` multiplies replicas, series and log volume for benchmarks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from obskit.errors import DatasetError

DEFAULT_SEED = 20240514


def incident_names() -> list[str]:
    """Names of the incidents this generator knows, sorted."""
    from obskit.datasets._scenarios import SCENARIOS

    return sorted(SCENARIOS)


def build(name: str, seed: int = DEFAULT_SEED, scale: float = 1.0) -> dict[str, bytes]:
    """Build one incident in memory.

    Parameters
    ----------
    name : str
        One of :func:`incident_names`.
    seed : int
        Random seed; the same seed gives the same bytes.
    scale : float
        Volume multiplier (replicas, series, log lines); 1 is the committed size.

    Returns
    -------
    dict of str to bytes
        Relative path inside the incident folder -> file content, including ``truth.json``
        and ``obskit.json``.

    Examples
    --------
    >>> files = build("checkout-oom")  # doctest: +SKIP
    >>> sorted(files)[:2]  # doctest: +SKIP
    ['audit/audit.log', 'events/events.json']
    """
    from obskit.datasets._scenarios import SCENARIOS

    if name not in SCENARIOS:
        valid = ", ".join(sorted(SCENARIOS))
        raise DatasetError(f"unknown incident {name!r}; valid names: {valid}")
    if not scale > 0:
        raise DatasetError(f"scale must be a positive number, got {scale!r}")
    world, truth = SCENARIOS[name](seed, scale)
    files, meta = world.render()
    truth["seed"] = seed
    truth["scale"] = scale
    truth["files"] = {k: meta[k] for k in sorted(meta)}
    files["truth.json"] = (json.dumps(truth, indent=2, sort_keys=False) + "\n").encode()
    files["obskit.json"] = (json.dumps({"cluster": world.cluster}, indent=2) + "\n").encode()
    return files


def write(
    out: Path, seed: int = DEFAULT_SEED, scale: float = 1.0, only: str | None = None
) -> list[Path]:
    """Generate incidents into ``out`` (each folder is replaced), returning the folders written.

    Examples
    --------
    >>> write(Path("/tmp/incidents"), seed=1, only="cryptominer")  # doctest: +SKIP
    [PosixPath('/tmp/incidents/cryptominer')]
    """
    names = incident_names()
    if only is not None and only not in names:
        raise DatasetError(f"--only must be one of {', '.join(names)}, got {only!r}")
    written = []
    for name in names:
        if only is not None and name != only:
            continue
        files = build(name, seed, scale)
        folder = Path(out) / name
        if folder.exists():
            shutil.rmtree(folder)
        for rel in sorted(files):
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[rel])
        written.append(folder)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m obskit.datasets.generate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder to write <name>/ incident folders into"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"random seed (default {DEFAULT_SEED}, the committed one)",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="volume multiplier (default 1, the committed size)"
    )
    parser.add_argument("--only", choices=incident_names(), help="generate only this incident")
    args = parser.parse_args(argv)
    try:
        written = write(args.out, args.seed, args.scale, args.only)
    except DatasetError as exc:
        parser.error(str(exc))
    for folder in written:
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"{folder}: {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
