"""Bundled incidents in the real formats, each with its ground truth.

Five small incidents ship with obskit (``checkout-oom``, ``bad-rollout``, ``node-pressure``,
``cryptominer``, ``falco-disabled``). Each is a folder of telemetry exactly as the producing
tools write it (``kubectl get -o json`` inventory and events, Prometheus ``query_range``
responses, kubelet CRI log files, the API server's audit log, Falco ``json_output``), plus
``obskit.json`` (the folder's cluster name) and ``truth.json`` (root cause, fault start, window,
and per-file record counts including the deliberately malformed records). They are produced by
:mod:`obskit.datasets.generate`, deterministically from a seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obskit.errors import DatasetNotFoundError

if TYPE_CHECKING:
    from obskit.investigation import Investigation

__all__ = ["load", "names", "path", "truth"]


def _root() -> Path:
    """Folder holding the incident folders: the wheel's copy first, then the checkout's."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "_datasets", here.parents[2] / "datasets"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "datasets"


def names() -> list[str]:
    """Names of the bundled incidents, sorted.

    Returns
    -------
    list of str
        One name per folder that holds a ``truth.json``.

    Examples
    --------
    >>> import obskit.datasets
    >>> obskit.datasets.names()
    ['bad-rollout', 'checkout-oom', 'cryptominer', 'falco-disabled', 'node-pressure']
    """
    root = _root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "truth.json").is_file())


def path(name: str) -> Path:
    """Folder of the bundled incident ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    pathlib.Path
        The incident folder (inventory/, events/, metrics/, logs/, audit/, ... and truth.json).

    Raises
    ------
    obskit.errors.DatasetNotFoundError
        If ``name`` is not a bundled incident; the message lists the valid names.

    Examples
    --------
    >>> import obskit.datasets
    >>> (obskit.datasets.path("checkout-oom") / "truth.json").is_file()
    True
    """
    valid = names()
    if not isinstance(name, str) or name not in valid:
        listing = ", ".join(valid) or f"(none found under {_root()})"
        raise DatasetNotFoundError(f"no bundled dataset named {name!r}; valid names: {listing}")
    return _root() / name


def truth(name: str) -> dict[str, Any]:
    """Ground truth of the bundled incident ``name``, parsed from its ``truth.json``.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    dict
        Keys: ``root_cause`` (namespace, workload_kind, workload, pod, container, node; ``None``
        where not applicable), ``level``, ``fault_start``, ``window`` (start, end), ``category``,
        ``description``, ``expected_detections`` and ``files`` (relative path -> ``records``,
        ``malformed``, ``format`` and, for some formats, ``partial``, ``non_utf8``, ``series``,
        ``query``); some incidents add their own (``first_oom``, ``rollout``,
        ``evicted_pods``, ``attacker_ips``, and in ``falco-disabled`` ``stolen_identity`` and
        ``coverage_gap``: the node, the collector and when it was gone).

    Examples
    --------
    >>> import obskit.datasets
    >>> obskit.datasets.truth("node-pressure")["level"]
    'node'
    """
    return json.loads((path(name) / "truth.json").read_text(encoding="utf-8"))


def load(name: str) -> Investigation:
    """Load the bundled incident ``name`` as an investigation, ``obskit.load(path(name))``.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    obskit.investigation.Investigation
        Frames for metrics, events, logs and inventory, plus the rejects table.

    Examples
    --------
    >>> import obskit.datasets
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> len(inv.rejects)  # doctest: +SKIP
    2
    """
    folder = path(name)
    from obskit.investigation import load as _load  # loading pulls in every source: on use

    return _load(folder)
