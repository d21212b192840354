"""Filters shared by the views: a focus (any node of the hierarchy) and a time window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from obskit import schema
from obskit.errors import InvestigationError

if TYPE_CHECKING:
    from obskit.investigation import Investigation

Focus = Mapping[str, str | Sequence[str]] | None

_INV_FOCUS = ("cluster", "namespace", "workload", "pod", "node", "container")


def normalise_focus(focus: Focus) -> dict[str, list[str]]:
    """Check a focus mapping and return it as ``{key column: [values]}``."""
    if focus is None:
        return {}
    if not isinstance(focus, Mapping):
        raise InvestigationError(
            f"focus must be a mapping of key columns to values, e.g. "
            f"{{'namespace': 'shop', 'workload': 'checkout'}}, got {focus!r}"
        )
    out: dict[str, list[str]] = {}
    for column, value in focus.items():
        if column not in schema.KEY:
            raise InvestigationError(
                f"focus has no key column {column!r}; use some of {', '.join(schema.KEY)}"
            )
        if value is None:
            continue
        values = [value] if isinstance(value, str) else [str(v) for v in value]
        if not values:
            raise InvestigationError(f"focus {column!r} is an empty list; give at least one value")
        out[column] = values
    return out


def select(
    inv: Investigation,
    focus: Focus = None,
    start: object = None,
    end: object = None,
) -> Investigation:
    """``inv`` restricted to the window and to the focused subtree (every key column matched)."""
    wanted = normalise_focus(focus)
    if start is not None or end is not None:
        inv = inv.window(start, end)
    if not wanted:
        return inv
    inv = inv.focus(**{c: v for c, v in wanted.items() if c in _INV_FOCUS})
    kinds = wanted.get("workload_kind")
    if kinds:
        frames = {}
        for name in ("metrics", "events", "logs", "inventory"):
            frame = getattr(inv, name)
            frames[name] = frame.loc[frame["workload_kind"].isin(kinds)].reset_index(drop=True)
        inv = inv._derive(frames)
    return inv


def span(inv: Investigation) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The time range a view covers: the window when set, else the data's span."""
    lo, hi = inv.time_span()
    if lo is None or hi is None:
        return None
    if lo == hi:
        hi = lo + pd.Timedelta(minutes=1)
    return lo, hi


def describe(focus: Focus) -> str:
    """``namespace=shop, workload=checkout`` (unescaped)."""
    wanted = normalise_focus(focus)
    if not wanted:
        return "whole investigation"
    return ", ".join(f"{c}={'|'.join(v)}" for c, v in wanted.items())
