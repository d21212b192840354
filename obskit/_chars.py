"""Characters that disguise text: controls, direction overrides and invisible characters.

A right-to-left override (U+202E) shows ``rellortnoc-tnemyolped`` as ``deployment-controller``;
zero-width characters make two different names look alike; escape sequences in a pod name set
a terminal's title or clear its screen. :func:`reveal` shows each such character as its escape
(``\\u202e``) wherever text from the data is displayed; :func:`disguises` names them, for the
security detection ``audit.disguised-name``.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["disguises", "reveal"]

#: C0 controls but tab and newline, DEL and C1 controls; the soft hyphen, the Arabic letter
#: mark, the Mongolian vowel separator; zero-width characters, direction marks, embeddings,
#: overrides and isolates; line and paragraph separators; invisible operators; the BOM;
#: interlinear annotations; Unicode tag characters (which can hide ASCII text).
_DISGUISING = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def reveal(text: str) -> str:
    r"""``text`` with every disguising character shown as its escape (tab, newline kept).

    Examples
    --------
    >>> reveal("system:serviceaccount:kube-system:\u202erellortnoc-tnemyolped\u202c")
    'system:serviceaccount:kube-system:\\u202erellortnoc-tnemyolped\\u202c'
    >>> reveal("web-1\x1b]0;owned\x07")
    'web-1\\x1b]0;owned\\x07'
    """
    if text.isascii() and text.isprintable():
        return text
    return _DISGUISING.sub(lambda m: _escape(m[0]), text)


def disguises(text: str) -> list[str]:
    r"""The disguising characters in ``text``, each named once, in order of appearance.

    Examples
    --------
    >>> disguises("kube\u200bsystem\u202e")
    ['U+200B ZERO WIDTH SPACE', 'U+202E RIGHT-TO-LEFT OVERRIDE']
    """
    found = dict.fromkeys(_DISGUISING.findall(text))
    return [f"U+{ord(c):04X} {unicodedata.name(c, 'CONTROL CHARACTER')}" for c in found]
