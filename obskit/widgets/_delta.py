"""What changed between two states of a figure, as the restyle and relayout a browser needs.

A live Explorer draws a new snapshot every tick; most of the map and the timeline is what the
browser already has. :func:`restyle_delta` and :func:`relayout_delta` compare the plotly JSON
of what is shown with what should be, and return only the properties that differ, in the form
``plotly_restyle`` / ``plotly_relayout`` take: a property set whole (its value wrapped in a
list, as ``plotly_restyle`` wants for arrays), or, when a few items of a long list changed or
were added at its end (new pods come last in the tree), those items alone
(``"hovertext[12]": "..."``; plotly.js and plotly.py set them in place). No widget here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from plotly.io.json import to_json_plotly

__all__ = ["json_bytes", "relayout_delta", "restyle_delta", "whole"]

#: An array is patched item by item when at most this share of its items changed.
PATCH_SHARE = 0.25
#: Trace properties that are the widget's own, not the figure's (a FigureWidget gives every
#: trace a ``uid``; a figure built anew has none).
_OWN = frozenset({"uid"})


def restyle_delta(old: Mapping, new: Mapping, *, patch: bool = True) -> dict[str, object]:
    """The ``plotly_restyle`` data that turns trace ``old`` into trace ``new`` (plotly JSON);
    with ``patch=False`` every changed property is set whole.

    Examples
    --------
    >>> old = {"type": "treemap", "ids": ["a", "b", "c", "d"], "text": ["", "", "", ""]}
    >>> new = {"type": "treemap", "ids": ["a", "b", "c", "d"], "text": ["", "", "x", ""]}
    >>> restyle_delta(old, new)
    {'text[2]': 'x'}
    >>> restyle_delta({"ids": ["a", "b", "c", "d"]}, {"ids": ["a", "b", "c", "d", "e"]})
    {'ids[4]': 'e'}
    >>> restyle_delta({"name": "a", "x": [1, 2]}, {"x": [1, 2, 3]})
    {'x': [[1, 2, 3]], 'name': [None]}
    """
    delta: dict[str, object] = {}
    before, after = _flat(old), _flat(new)
    for path in _OWN:
        before.pop(path, None)
        after.pop(path, None)
    for path, value in after.items():
        if path in before and _equal(before[path], value):
            continue
        patches = _patches(before.get(path), value) if patch else None
        if patches is not None:
            delta.update({f"{path}[{i}]": item for i, item in patches})
        else:
            delta[path] = [value] if _is_array(value) else value
    for path in before.keys() - after.keys():
        delta[path] = [None]
    return delta


def whole(value: object) -> object:
    """A value of :func:`restyle_delta` as a property takes it (arrays and removals unwrapped).

    Examples
    --------
    >>> whole([[1, 2]]), whole([None]), whole("red")
    ([1, 2], None, 'red')
    """
    return value[0] if isinstance(value, list) else value


def relayout_delta(old: Mapping, new: Mapping) -> dict[str, object]:
    """The ``plotly_relayout`` data that turns layout ``old`` into layout ``new``.

    Examples
    --------
    >>> relayout_delta({"title": {"text": "a"}, "height": 300}, {"title": {"text": "b"}})
    {'title.text': 'b', 'height': None}
    """
    before, after = _flat(old), _flat(new)
    delta = {p: v for p, v in after.items() if p not in before or not _equal(before[p], v)}
    delta.update(dict.fromkeys(before.keys() - after.keys()))
    return delta


def json_bytes(value: object) -> int:
    """Bytes of ``value`` as plotly serialises it (what a figure update costs on the wire).

    Examples
    --------
    >>> json_bytes({"text[2]": "x"})
    15
    """
    return len(to_json_plotly(value).encode())


def _flat(value: Mapping, prefix: str = "") -> dict[str, object]:
    """Dotted paths to the leaves of nested dicts (arrays and lists are leaves)."""
    out: dict[str, object] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(_flat(item, path + "."))
        else:
            out[path] = item
    return out


def _is_array(value: object) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _patches(old: object, new: object) -> list[tuple[int, object]] | None:
    """The items of list ``new`` that differ from list ``old`` (the same length, or longer:
    its items past the old end are new), when few enough; a numpy array, which plotly sends
    packed, is sent whole."""
    if not (isinstance(old, list | tuple) and _is_array(new)) or len(new) < len(old):
        return None
    old_items, new_items = list(old), list(new)
    if not new_items or any(isinstance(v, Mapping | list | tuple | np.ndarray) for v in new_items):
        return None
    pairs = enumerate(zip(old_items, new_items[: len(old_items)], strict=True))
    changed = [i for i, (a, b) in pairs if not _equal(a, b)]
    changed += range(len(old_items), len(new_items))
    if len(changed) > PATCH_SHARE * len(new_items):
        return None
    return [(i, _scalar(new_items[i])) for i in changed]


def _scalar(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _equal(a: object, b: object) -> bool:
    """Equality of plotly JSON values: arrays item by item, NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return all(_equal(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, Sequence) and isinstance(b, Sequence) and not isinstance(a, str | bytes):
        if isinstance(b, str | bytes) or len(a) != len(b):
            return False
        return all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
