"""Text from the data, made safe to show: escaped so that it is never read as markup.

Log lines, label values, audit fields and Falco output are attacker-controlled. Plotly renders a
subset of HTML in hover text, labels, legend entries and tick labels, so every piece of data text
that reaches a figure goes through :func:`text` (or :func:`texts` for a column): ``<``, ``>``,
``&`` and quotes become entities (numeric ones for quotes: plotly.js decodes ``&#34;``, not
``&quot;``), which plotly shows as the characters themselves. Markup that
obskit adds itself (``<b>``, ``<br>``) is added *after* escaping.

Before it is escaped (and before it is cut to length), the raw text is redacted with
:func:`obskit.redaction.redact_for_sharing` (escaping would hide a quoted password or an ``&sig=``
from the rules), and characters that disguise text (direction overrides, zero-width characters,
controls) are shown as their escapes (``\\u202e``) by :func:`obskit._chars.reveal`.
"""

from __future__ import annotations

import functools
import html
import math

import numpy as np
import pandas as pd

from obskit._chars import reveal
from obskit.redaction import redact_for_sharing, redaction_enabled

__all__ = ["lines", "text", "texts"]

#: Longest piece of data text shown in a hover label; longer text is cut with an ellipsis.
HOVER_CHARS = 300


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def text(value: object, limit: int | None = HOVER_CHARS) -> str:
    r"""``value`` as escaped text, at most ``limit`` characters (missing values give ``""``).

    Examples
    --------
    >>> text("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> text('say "hi"')
    'say &#34;hi&#34;'
    >>> text("password='hunter2' sa:\u202erellortnoc")
    'password=&#x27;[REDACTED:password]&#x27; sa:\\u202erellortnoc'
    >>> text("a" * 10, limit=5)
    'aaaa…'
    """
    if _missing(value):
        return ""
    raw = str(value)
    # names and labels repeat across a figure and across figures: cache them; long messages
    # rarely repeat and would fill the cache
    raw = _shown(raw, redaction_enabled()) if len(raw) <= _CACHED_CHARS else _uncached(raw)
    if limit is not None and len(raw) > limit:
        raw = raw[: max(limit - 1, 0)] + "…"
    # quotes as numeric entities: plotly.js decodes those, not "&quot;" (it would show as is)
    return html.escape(raw, quote=True).replace("&quot;", "&#34;")


#: Text up to this long is cached as shown (names, labels, reasons).
_CACHED_CHARS = 200


@functools.lru_cache(maxsize=16384)
def _shown(raw: str, redacting: bool) -> str:
    """Raw text as it may be shown: redacted (the setting keys the cache), disguises revealed."""
    return _uncached(raw)


def _uncached(raw: str) -> str:
    """Raw text as it may be shown: redacted unless switched off, disguises revealed."""
    return reveal(redact_for_sharing(raw))


def lines(value: object, limit: int | None = HOVER_CHARS, max_lines: int = 6) -> str:
    """Escaped multi-line text with ``<br>`` between its first ``max_lines`` lines."""
    if _missing(value):
        return ""
    parts = str(value).splitlines() or [""]
    shown = [text(p, limit) for p in parts[:max_lines]]
    if len(parts) > max_lines:
        shown.append(f"… {len(parts) - max_lines} more lines")
    return "<br>".join(shown)


def texts(values: pd.Series | np.ndarray | list, limit: int | None = HOVER_CHARS) -> np.ndarray:
    """:func:`text` over a column; computed once per distinct value (columns repeat a lot)."""
    series = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values
    series = series.astype("object")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    escaped = np.array([text(u, limit) for u in uniques] + [""], dtype=object)
    return escaped[codes]  # code -1 (missing) picks the trailing ""
