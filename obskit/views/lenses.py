"""Lenses: one investigation seen by the security, development and operations teams.

A lens is a choice of emphasis, never a filter of data: the same frames, the same key, every
table and every row; what changes is what comes first (the Explorer's tabs, the report's
sections), the hierarchy view and ``color_by`` the map starts with, and the headline.

``security``
    detections, posture findings and RBAC reach, the audit trail, the security collectors'
    coverage; the map coloured by the worst posture finding.
``dev``
    the suspects, the latency of the workloads against their baseline
    (:func:`obskit.views.latency_table`), log patterns and errors, the rollouts of their
    images; the map coloured by error log lines.
``ops``
    nodes, their pressure and scheduling failures (Events), DaemonSet coverage, rollouts; the
    node view coloured by warning events.
``all`` (or ``None``)
    no emphasis: what the Explorer and the report showed before lenses.

:func:`lens` looks one up by name; :func:`headline` writes the lens's one-line headline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from obskit.errors import InvestigationError

if TYPE_CHECKING:
    from obskit.investigation import Investigation

__all__ = ["LENSES", "REPORT_SECTIONS", "TABLES", "Lens", "headline", "lens"]

#: Every table a lens can show (the Explorer's tabs), in the order of the ``all`` lens.
TABLES: tuple[str, ...] = (
    "suspects",
    "events",
    "logs",
    "patterns",
    "latency",
    "detections",
    "posture",
    "coverage",
    "rollouts",
)
#: The sections of the post-incident review a lens orders (their cells are tagged
#: ``section:<name>``), in the notebook's own order.
REPORT_SECTIONS: tuple[str, ...] = (
    "map",
    "timeline",
    "suspects",
    "detections",
    "posture",
    "coverage",
    "evidence",
    "patterns",
    "latency",
    "rollouts",
    "nodes",
)
#: Event reasons of node pressure and evictions (Kubernetes Events).
PRESSURE_REASONS: tuple[str, ...] = (
    "NodeHasDiskPressure",
    "NodeHasMemoryPressure",
    "NodeHasPIDPressure",
    "EvictionThresholdMet",
    "Evicted",
    "NodeNotReady",
)
#: Event reasons of pods that could not be scheduled.
SCHEDULING_REASONS: tuple[str, ...] = ("FailedScheduling",)


@dataclass(frozen=True)
class Lens:
    """What a team sees first: tables, sections, the map's view and colour, the headline.

    Attributes
    ----------
    name : str
        ``all``, ``security``, ``dev`` or ``ops``.
    title : str
        How the headline names the team.
    view : str
        The hierarchy view the map starts in.
    color_by : str
        The measure the map is coloured by (:data:`obskit.views.COLOR_BY`).
    tables : tuple of str
        Every one of :data:`TABLES`, in the order the Explorer shows them.
    shown : tuple of str
        The tables the Explorer computes at first (all of them, except for ``all``, which
        keeps the three it always had; the others are a checkbox away).
    sections : tuple of str
        Every one of :data:`REPORT_SECTIONS`, in the order the report shows them.
    """

    name: str
    title: str
    view: str
    color_by: str
    tables: tuple[str, ...]
    shown: tuple[str, ...]
    sections: tuple[str, ...]


def _complete(first: Sequence[str], every: tuple[str, ...]) -> tuple[str, ...]:
    """``first``, then the rest of ``every`` in its own order: a lens never leaves one out."""
    return (*first, *(name for name in every if name not in first))


LENSES: dict[str, Lens] = {
    "all": Lens(
        name="all",
        title="All teams",
        view="workload",
        color_by="health",
        tables=TABLES,
        shown=("suspects", "events", "logs"),
        sections=REPORT_SECTIONS,
    ),
    "security": Lens(
        name="security",
        title="Security",
        view="workload",
        color_by="worst_finding",
        tables=_complete(("detections", "posture", "events", "coverage"), TABLES),
        shown=_complete(("detections", "posture", "events", "coverage"), TABLES),
        sections=_complete(
            ("detections", "posture", "coverage", "evidence", "map"), REPORT_SECTIONS
        ),
    ),
    "dev": Lens(
        name="dev",
        title="Development",
        view="workload",
        color_by="error_logs",
        tables=_complete(("suspects", "latency", "patterns", "logs", "rollouts"), TABLES),
        shown=_complete(("suspects", "latency", "patterns", "logs", "rollouts"), TABLES),
        sections=_complete(
            ("suspects", "latency", "patterns", "evidence", "rollouts", "timeline"),
            REPORT_SECTIONS,
        ),
    ),
    "ops": Lens(
        name="ops",
        title="Operations",
        view="node",
        color_by="warning_events",
        tables=_complete(("events", "coverage", "rollouts", "suspects"), TABLES),
        shown=_complete(("events", "coverage", "rollouts", "suspects"), TABLES),
        sections=_complete(
            ("nodes", "coverage", "rollouts", "suspects", "timeline"), REPORT_SECTIONS
        ),
    ),
}


def lens(name: str | Lens | None) -> Lens:
    """The lens called ``name`` (``None`` is ``all``).

    Raises
    ------
    InvestigationError
        For a name that is not a lens (the error lists them).

    Examples
    --------
    >>> lens("ops").view, lens(None).name
    ('node', 'all')
    """
    if isinstance(name, Lens):
        return name
    try:
        return LENSES["all" if name is None else name]
    except (KeyError, TypeError):
        raise InvestigationError(
            f"lens must be one of {', '.join(map(repr, LENSES))} or None, got {name!r}"
        ) from None


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _by_reason(events: pd.DataFrame, reasons: tuple[str, ...]) -> int:
    kube = events["source"].astype("object") != "audit"
    return int((events["reason"].isin(reasons) & kube).sum())


def headline(
    inv: Investigation,
    name: str | Lens | None,
    *,
    detections: pd.DataFrame | None = None,
    posture: pd.DataFrame | None = None,
) -> str | None:
    """The lens's one-line headline: what its team looks at first, in numbers (plain text).

    ``detections`` and ``posture`` are computed when not given (``inv.detections()``,
    ``inv.posture()``). The ``all`` lens has no headline (None).

    Examples
    --------
    >>> import obskit
    >>> headline(obskit.Investigation(), "ops")
    'Operations: 0 nodes, 0 pressure or eviction events, 0 scheduling failures, 0 collector gaps, 0 rollouts in the window.'
    """  # noqa: E501
    from obskit.views.tables import rollouts_table

    chosen = lens(name)
    if chosen.name == "all":
        return None
    if chosen.name == "security":
        found = inv.detections() if detections is None else detections
        critical = int((found["severity"].astype("object") == "critical").sum())
        gaps = _gaps(inv, security_only=True)
        audit = int((inv.events["source"] == "audit").sum())
        parts = [
            f"{_count(len(found), 'detection')} ({critical} critical)",
            _posture_part(inv, posture),
            _count(audit, "audit record"),
            _count(gaps, "security collector gap"),
        ]
    elif chosen.name == "dev":
        errors = inv.logs.loc[(inv.logs["level"] >= "error").fillna(False)]
        workloads = errors["workload"].astype("object").dropna().nunique()
        parts = [
            f"{_count(len(errors), 'error log line')} in {_count(workloads, 'workload')}",
            _count(_rollouts_in_window(inv, rollouts_table(inv)), "rollout") + " in the window",
        ]
    else:
        nodes = int((inv.inventory["kind"] == "Node").sum())
        parts = [
            _count(nodes, "node"),
            _count(_by_reason(inv.events, PRESSURE_REASONS), "pressure or eviction event"),
            _count(_by_reason(inv.events, SCHEDULING_REASONS), "scheduling failure"),
            _count(_gaps(inv, security_only=False), "collector gap"),
            _count(_rollouts_in_window(inv, rollouts_table(inv)), "rollout") + " in the window",
        ]
    return f"{chosen.title}: {', '.join(parts)}."


def _posture_part(inv: Investigation, posture: pd.DataFrame | None) -> str:
    """The security headline's posture count, or that posture was not checked: metrics and
    logs alone hold no Kubernetes objects to check."""
    try:
        findings = inv.posture() if posture is None else posture
    except InvestigationError:
        return "posture not checked (no Kubernetes objects loaded)"
    severe = int((findings["severity"].astype("object").isin(["high", "critical"])).sum())
    return f"{_count(len(findings), 'posture finding')} ({severe} high or critical)"


def _rollouts_in_window(inv: Investigation, rollouts: pd.DataFrame) -> int:
    start, end = inv.time_span()
    if start is None or end is None:
        return 0
    return int(rollouts["created"].between(start, end).sum())


def _gaps(inv: Investigation, security_only: bool) -> int:
    """How many collector gaps: none can be found without a time span."""
    if None in inv.time_span():
        return 0
    return len(inv.coverage_gaps(security_only=security_only))
