"""The level and shape of log messages, found at the byte level.

:func:`derive_level` finds the level a message carries (a JSON ``level``/``severity``, a logfmt
``level=``, a klog ``E0102`` header, or a leading ``ERROR``/``[WARN]`` word);
:func:`message_format` tells ``json``, ``logfmt`` and ``text`` messages apart; stack-trace
continuation lines take the level of the line they continue. The regular expressions here
(``_JSON_LEVEL``, ``_LOGFMT_LEVEL``, ``_KLOG_LEVEL``, ``_TEXT_LEVEL``, ``_LOGFMT``,
``_EXCEPTION``, ``_PANIC``, ``_CONTINUATION``) are the reference: the byte-level scanners only
skip the messages a pattern cannot match and read the common prefixes directly, and
tests/test_logs_speed_equivalence.py checks them against a plain regex reader of these patterns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit.sources._base import laid_ranges

__all__ = [
    "FEW_GROUPS",
    "MESSAGE_FORMATS",
    "arrow_strings",
    "byte_windows",
    "continuation_lines",
    "derive_level",
    "distinct_groups",
    "format_categorical",
    "format_codes",
    "inherit_codes",
    "level_codes",
    "message_format",
    "normalise_level",
    "stream_groups",
    "string_heads",
    "word_of",
    "words64",
]


# --- levels and message formats --------------------------------------------------------------

_LEVEL_WORDS = {
    "trace": "debug",
    "debug": "debug",
    "dbg": "debug",
    "dbug": "debug",
    "fine": "debug",
    "info": "info",
    "information": "info",
    "informational": "info",
    "inf": "info",
    "notice": "notice",
    "warn": "warning",
    "warning": "warning",
    "wrn": "warning",
    "error": "error",
    "err": "error",
    "eror": "error",
    "fatal": "critical",
    "critical": "critical",
    "crit": "critical",
    "panic": "critical",
    "emerg": "critical",
    "emergency": "critical",
    "alert": "critical",
    "severe": "critical",
}
# pino / bunyan numeric levels
_NUMERIC_LEVELS = {
    "10": "debug",
    "20": "debug",
    "30": "info",
    "40": "warning",
    "50": "error",
    "60": "critical",
}
_KLOG = {"I": "info", "W": "warning", "E": "error", "F": "critical"}

_JSON_LEVEL = (
    r'"(?i:level|severity|lvl|loglevel|log\.level|levelname|@l)"\s*:\s*"?(?P<w>[A-Za-z]+|\d\d)'
)
_LOGFMT_LEVEL = r'(?:^|\s)(?i:level|lvl|severity)="?(?P<w>[A-Za-z]+)'
_KLOG_LEVEL = r"^(?P<w>[IWEF])\d{4} \d\d:\d\d:\d\d"
_TEXT_LEVEL = (
    r"^(?:\S+\s+){0,3}?[\[(<]?(?P<w>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|"
    r"CRITICAL|CRIT|PANIC|SEVERE|Error|Warning|Fatal)[\])>]?(?:[\s:|,-]|$)"
)


_LOGFMT = r"^[A-Za-z_][\w.-]*=\S*(?:\s+[A-Za-z_][\w.-]*=)"


def normalise_level(word: str | None) -> str | None:
    """A level word or pino number (``WARN``, ``err``, ``50``) on the obskit severity scale.

    Examples
    --------
    >>> normalise_level("WARN"), normalise_level("50"), normalise_level("chatty")
    ('warning', 'error', None)
    """
    if word is None:
        return None
    word = str(word).strip().lower()
    return _LEVEL_WORDS.get(word) or _NUMERIC_LEVELS.get(word)


def _extract(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.struct_field(pc.extract_regex(arr, pattern), [0])


def arrow_strings(values: pd.Series) -> pa.Array:
    """The text of a Series as one Arrow string array (zero-copy when Arrow already holds it)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arr = pa.array(values.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr
    return pa.array(values.astype("object").where(values.notna(), None), type=pa.string())


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    """Whether each string matches ``pattern`` (a null never does), as a NumPy bool array."""
    hit = pc.match_substring_regex(arr, pattern)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


_HEAD = 32  # bytes of each message read at once, for the checks on how it starts


def _spans(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Buffer | None]:
    """Where each string starts in the array's data buffer, its byte length (0 for a null),
    and the data buffer itself (no copy)."""
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), None
    _, offsets, data = arr.buffers()[:3]
    wide = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    offs = np.frombuffer(offsets, dtype=np.int64 if wide else np.int32)
    offs = offs[arr.offset : arr.offset + n + 1].astype(np.int64)
    lo, lengths = offs[:-1], np.diff(offs)
    if arr.null_count:
        lengths[~arr.is_valid().to_numpy(zero_copy_only=False)] = 0
    return lo, lengths, data


def byte_windows(
    data: pa.Buffer | None, lo: np.ndarray, lengths: np.ndarray, width: int, *, pad: bool = False
) -> np.ndarray:
    """The first ``width`` bytes of the strings at ``lo`` of ``lengths`` bytes in ``data``,
    zero-padded past each string's end, one row each (and a zero row before and after them
    when ``pad``, so reads a little before the first or past the last stay in the array)."""
    m = len(lo)
    whole = np.zeros((m + 2 * pad, width), dtype=np.uint8)
    heads = whole[1:-1] if pad else whole
    if m == 0 or data is None or len(data) == 0:
        return whole
    size = len(data)
    if size >= width:
        # every width-byte window of the buffer (a view), gathered at the strings' starts
        windows = np.ndarray(
            (size - width + 1,), dtype=np.dtype((np.void, width)), buffer=data, strides=(1,)
        )
        got = windows[np.minimum(lo, size - width)].view(np.uint8).reshape(m, width)
        if pad:
            heads[:] = got
        else:
            whole = heads = got
    raw = np.frombuffer(data, dtype=np.uint8)
    for i in np.flatnonzero(lo > size - width):  # the strings in the buffer's last bytes
        part = raw[lo[i] : lo[i] + width]
        heads[i, : len(part)] = part
        heads[i, len(part) :] = 0
    short = np.flatnonzero(lengths < width)
    heads[short] *= np.arange(width) < lengths[short, None]
    return whole


def string_heads(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The first :data:`_HEAD` bytes of each string, zero-padded past its end, and each
    string's first byte (``-1`` for an empty or null one), read off the Arrow buffers."""
    lo, lengths, data = _spans(arr)
    heads = byte_windows(data, lo, lengths, _HEAD)
    first = np.full(len(arr), -1, dtype=np.int16)
    first[lengths > 0] = heads[lengths > 0, 0]
    return heads, first


def _first_bytes(arr: pa.Array) -> np.ndarray:
    """The first byte of each string (``-1`` for an empty or null one)."""
    return string_heads(arr)[1]


def _byte_set(chars: str) -> np.ndarray:
    """A 257-entry lookup (index ``byte + 1``; ``-1`` is no byte) of the ASCII ``chars``."""
    table = np.zeros(257, dtype=bool)
    table[[ord(c) + 1 for c in chars]] = True
    return table


_RE2_SPACE = "\t\n\f\r "  # RE2's \s (no \v)
_WORD = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_CAN_JSON = np.ones(257, dtype=bool)  # any text but the empty one
_CAN_JSON[0] = False
_CAN_TEXT = ~_byte_set(_RE2_SPACE)  # the level word (or its bracket) is no \s
_CAN_TEXT[0] = False
_CAN_KLOG = _byte_set("IWEF")
_CAN_EXCEPTION = _byte_set(_WORD + "$")
_CAN_PANIC = _byte_set("pf")
_CAN_CONTINUE = _byte_set(_RE2_SPACE + "C")
_CAN_LOGFMT = _byte_set(_WORD.lstrip("0123456789"))
# what may start a message whose text after Unicode whitespace is "{": ASCII space or non-ASCII
_MAYBE_SPACE = _byte_set("\t\n\v\f\r \x1c\x1d\x1e\x1f")
_MAYBE_SPACE[0x81:] = True


def _rows_matching(
    arr: pa.Array, rows: np.ndarray, pattern: str, *, strings: bool = True, anchored: bool = False
) -> tuple[np.ndarray, pa.Array | None]:
    """The ``rows`` of ``arr`` that match ``pattern``, and their strings (when ``strings``).

    The regex reads the rows in place, with no copy, when they are most of ``arr`` or when
    ``anchored``: the pattern is decided at once on the text laid between the rows (as
    ``^...`` is, failing at the first bytes); otherwise it reads a copy of them.
    """
    if not len(rows):
        return rows, arr.slice(0, 0)
    if 2 * len(rows) >= len(arr):
        hit = _matches(arr, pattern)[rows]
    elif anchored:
        lo, lengths, data = _spans(arr)
        laid = laid_ranges(data, lo[rows], lo[rows] + lengths[rows]).view(pa.large_string())
        hit = _matches(laid, pattern)[0::2]
    else:
        hit = _matches(arr.take(pa.array(rows)), pattern)
    rows = rows[hit]
    if not strings:
        return rows, None
    return rows, arr.take(pa.array(rows))


_SEVERITY_CODE = {s: i for i, s in enumerate(schema.SEVERITIES)}


def _codes(words: pa.Array, mapping: dict[str, str]) -> np.ndarray:
    """Severity codes (-1 for none) of ``words`` via ``mapping``, one lookup per distinct word."""
    encoded = pc.dictionary_encode(words)
    table = np.array(
        [_SEVERITY_CODE.get(mapping.get(w), -1) for w in encoded.dictionary.to_pylist()] + [-1],
        dtype=np.int8,
    )
    indices = pc.fill_null(encoded.indices, len(table) - 1).to_numpy(zero_copy_only=False)
    return table[indices]


_EXCEPTION = (
    r"^(?:Traceback \(most recent call last\)|(?:[\w$]+\.)*[A-Z]\w*(?:Exception|Error)\b"
    r"(?::|$))"
)
_PANIC = r"^(?:panic: |fatal error: )"
_CONTINUATION = r"^(?:\s+at |\s+File \"|\s+\.\.\. \d+ (?:more|common frames)|Caused by: |\s+\^)"
_ALL_WORDS = {**_LEVEL_WORDS, **_NUMERIC_LEVELS}


def words64(data: pa.Buffer | bytes) -> np.ndarray:
    """The little-endian 8-byte word at every byte offset of ``data`` (a view, not a copy)."""
    return np.ndarray((max(len(data) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))


def word_of(text: bytes) -> int:
    return int.from_bytes(text, "little")


# JSON lines that open with their level field ({"level":"info",...}, as zap, logrus and
# structlog write them) have their level read off their bytes; the others go through the regex
_JSON_PREFIXES = (b'{"level":"', b'{"severity":"', b'{"lvl":"')
_SPAN = 16  # bytes read after the prefix (the longest level word, "informational", has 13)
_HASH_BITS = 8


def _slots(first: np.ndarray, second: np.ndarray, mul: np.uint64) -> np.ndarray:
    """A hash slot (0 to 255) of each lower-cased word, given as its first and next 8 bytes."""
    return ((first * np.uint64(0x9E3779B97F4A7C15) + second) * mul) >> np.uint64(64 - _HASH_BITS)


def _known_words() -> tuple[np.uint64, np.ndarray, np.ndarray, np.ndarray]:
    """A perfect hash of the level words: its multiplier, and per slot the word's first and
    next 8 bytes (zero-padded) and its severity code (-1 for an empty slot)."""
    words = [w for w in _ALL_WORDS if w.isalpha() and len(w) < _SPAN]
    pairs = np.frombuffer(b"".join(w.encode().ljust(_SPAN, b"\0") for w in words), "<u8")
    pairs = pairs.reshape(-1, 2)
    mul = np.uint64(0x9E3779B97F4A7C15)
    while len(np.unique(_slots(pairs[:, 0], pairs[:, 1], mul))) < len(words):
        mul += np.uint64(2)
    slots = _slots(pairs[:, 0], pairs[:, 1], mul)
    size = 1 << _HASH_BITS
    first, second = np.zeros(size, np.uint64), np.zeros(size, np.uint64)
    codes = np.full(size, -1, np.int8)
    first[slots], second[slots] = pairs[:, 0], pairs[:, 1]
    codes[slots] = [_SEVERITY_CODE[_ALL_WORDS[w]] for w in words]
    return mul, first, second, codes


_HASH_MUL, _KNOWN_FIRST, _KNOWN_SECOND, _KNOWN_CODES = _known_words()


_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH = np.uint64(0x8080808080808080)
_CASE = np.uint64(0x2020202020202020)
_BYTE_ONES = np.uint64(0x0101010101010101)
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _letters(word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many of the 8 bytes of each little-endian word, from the first, are ASCII letters,
    and the words lower-cased (exact for letters; other bytes are to be masked off)."""
    low = word | _CASE
    seven = low & _LOW7
    # bit 7 of each byte: a letter is "a" to "z" once lower-cased, and ASCII
    letter = (seven + np.uint64(0x1F1F1F1F1F1F1F1F)) & ~(seven + np.uint64(0x0505050505050505))
    stop = ~(letter & ~low) & _HIGH
    # the first stop byte's index: the bytes wholly below its bit 7 (all 8 when there is none),
    # counted by summing their bits 7 into the top byte (np.bitwise_count needs NumPy 2)
    below = ((stop & (~stop + np.uint64(1))) - np.uint64(1)) & _HIGH
    return ((below >> np.uint64(7)) * _BYTE_ONES >> np.uint64(56)).astype(np.uint8), low


def _word_codes(
    first: np.ndarray, second: np.ndarray, room: np.ndarray | int = _SPAN
) -> tuple[np.ndarray, np.ndarray]:
    """The letter run starting each pair of words (``first`` the 8 bytes at the run's start,
    ``second`` the next 8), cut at ``room`` bytes: its length (up to :data:`_SPAN`) and its
    severity code (-1 for a word not on the scale)."""
    run, low0 = _letters(first)
    run = run.astype(np.int64)
    low1 = np.zeros(len(run), dtype=np.uint64)
    long = np.flatnonzero(run == 8)
    if len(long):
        more, low1[long] = _letters(second[long])
        run[long] += more
    run = np.minimum(run, room)
    low0 &= _BYTE_MASKS[np.minimum(run, 8)]
    low1 &= _BYTE_MASKS[np.maximum(run - 8, 0)]
    slot = _slots(low0, low1, _HASH_MUL)
    known = (_KNOWN_FIRST[slot] == low0) & (_KNOWN_SECOND[slot] == low1)
    return run, np.where(known, _KNOWN_CODES[slot], -1)


def _prefixed_levels(heads: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose text opens with one of :data:`_JSON_PREFIXES` and a letter, and their codes.

    What :data:`_JSON_LEVEL` finds there: its leftmost match is the opening field (no ``"``
    comes before it), and the word is the run of letters after the prefix. ``heads`` and
    ``first`` are :func:`string_heads` of the strings.
    """
    width = heads.shape[1]
    words = heads.view(np.uint64)
    at = words64(heads.reshape(-1))
    found_rows, found_codes = [], []
    for prefix in _JSON_PREFIXES:
        k = len(prefix)
        rest = word_of(prefix[8:]) if k > 8 else 0
        mask = (1 << (8 * (k - 8))) - 1
        hit = np.flatnonzero(words[:, 0] == word_of(prefix[:8]))
        hit = hit[(words[hit, 1] & np.uint64(mask)) == rest]
        # the word's letters (zero padding and a quote are no letters)
        run, codes = _word_codes(at[hit * width + k], at[hit * width + k + 8])
        keep = run > 0  # a number or a quote: the regex decides
        found_rows.append(hit[keep])
        found_codes.append(codes[keep])
    return np.concatenate(found_rows), np.concatenate(found_codes)


# logfmt level keys read off the bytes before a "=": (length, lower-cased bytes); RE2's (?i)
# also folds "s" with U+017F (the long s), so "severity" has a second, 9-byte spelling
_LOGFMT_KEYS = ((5, b"level"), (3, b"lvl"), (8, b"severity"))
_LONG_S = b"\xc5\xbf"  # U+017F in UTF-8
_LOGFMT_WIDE = 64  # bytes of a message searched for its logfmt level before the regex is asked
_BLOCK = 1 << 14  # strings read at once by the byte-level checks
_SPACE = _byte_set(_RE2_SPACE)[1:]  # by byte value


def _logfmt_levels(
    data: pa.Buffer | None, lo: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :data:`_LOGFMT_LEVEL` finds in the strings at ``lo`` of ``lengths`` bytes in
    ``data``, read off their first :data:`_LOGFMT_WIDE` bytes, a block of strings at a time.

    Returns, per string: whether a match was found, its severity code (-1 for a word not on
    the scale), and whether the head cannot tell (a string longer than its head with no match
    decided in it), for the regex to read.
    """
    m = len(lo)
    found = np.zeros(m, dtype=bool)
    codes = np.full(m, -1, dtype=np.int8)
    unsure = lengths > _LOGFMT_WIDE
    for b in range(0, m, _BLOCK):
        part = slice(b, b + _BLOCK)
        heads = byte_windows(data, lo[part], lengths[part], _LOGFMT_WIDE, pad=True)
        rows, got = _logfmt_heads(heads, lengths[part])
        rows, sure = b + rows, got >= -1
        found[rows[sure]], codes[rows[sure]] = True, got[sure]
        unsure[rows] = ~sure
    return found, codes, unsure


def _logfmt_heads(heads: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strings whose head decides :data:`_LOGFMT_LEVEL` (as :func:`_logfmt_levels`), and
    for each its code (-1 for a word not on the scale) or -2 when the head cannot tell.

    ``heads`` are :func:`byte_windows` with ``pad=True``: a zero row before and after the heads.

    The regex's match starts at the start or at a ``\\s`` byte, then a key
    (``level``/``lvl``/``severity`` in any case), ``=``, an optional ``"`` and one or more ASCII
    letters. Matches are tried at each ``=`` in turn: a key holds no ``=`` and no space, so an
    earlier match always has an earlier ``=``, and the first ``=`` whose key and word fit is
    the leftmost match.
    """
    width = heads.shape[1]
    flat = heads.reshape(-1)
    at = np.flatnonzero(flat[width:-width] == ord("=")) + width
    # each key ends in "l" or "y" (any case)
    last = flat[at - 1] | np.uint8(0x20)
    at = at[(last == ord("l")) | (last == ord("y"))]
    rows, cols = np.divmod(at - width, width)
    before = words64(flat)[at - 8]  # the 8 bytes before the "=", the last one highest
    low = before | np.uint64(0x2020202020202020)  # ASCII letters lower-cased, all exactly
    key_len = np.zeros(len(at), dtype=np.int64)
    for k, key in _LOGFMT_KEYS:
        key_len[(low >> np.uint64(64 - 8 * k)) == word_of(key)] = k
    long_s = (
        ((low >> np.uint64(8)) == word_of(b"everity"))
        & ((before & np.uint64(0xFF)) == _LONG_S[1])
        & (flat[at - 9] == _LONG_S[0])
    )
    key_len[long_s] = 9
    start = cols - key_len
    # the key lies in the string, and opens it or follows a \s byte
    keyed = (key_len > 0) & (start >= 0)
    keyed[keyed] = (start[keyed] == 0) | _SPACE[flat[at[keyed] - key_len[keyed] - 1]]
    rows, cols, at = rows[keyed], cols[keyed], at[keyed]
    word_at = at + 1 + (flat[at + 1] == ord('"'))
    # the word's letters, up to the end of the head (the next head's bytes follow it)
    words = words64(flat)
    room = width - (word_at - at + cols)
    run, codes = _word_codes(words[word_at], words[word_at + 8], np.maximum(room, 0))
    # a word that reaches the end of the head may go on past it
    cut = (run >= room) & (lengths[rows] > width) & (run < _SPAN)
    decides = (run > 0) | cut
    rows, codes, cut = rows[decides], codes[decides], cut[decides]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]  # positions run in row order, then left to right
    return rows[first], np.where(cut[first], -2, codes[first])


def _bits(mask: np.ndarray) -> np.ndarray:
    """Each row of a ``(rows, 32)`` bool array as a uint32, bit ``j`` its column ``j``."""
    return np.packbits(mask, axis=1, bitorder="little").view("<u4").ravel()


def _lowest(bits: np.ndarray) -> np.ndarray:
    """The lowest set bit of each uint32 (0 when none)."""
    return bits & (~bits + np.uint32(1))


def _within(heads: np.ndarray, first: str, last: str) -> np.ndarray:
    """Which bytes of ``heads`` lie from ``first`` to ``last`` (ASCII; compared, not looked up:
    NumPy compares bytes many at a time)."""
    return (heads - np.uint8(ord(first))) <= np.uint8(ord(last) - ord(first))


_TRACEBACK = (word_of(b"Tracebac"), word_of(b"k ("), np.uint64((1 << 24) - 1))


def _may_be_exception(heads: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Which strings :data:`_EXCEPTION` may match, judged by their first 32 bytes (``heads``,
    zero-padded past each string's end, as :func:`string_heads` reads them; ``lengths`` their
    byte lengths). Every match is a run of word characters, ``$`` and ``.`` from the start, then
    a ``:`` or the end of the string: kept are the strings whose first byte outside such a run
    is a ``:`` or their end or lies past the head, and the ``Traceback (`` ones."""
    run = _within(heads | np.uint8(0x20), "a", "z") | _within(heads, "0", "9")
    run |= (heads == ord("_")) | (heads == ord("$")) | (heads == ord("."))
    stop = _bits(~run)  # zero padding stops the run where the string ends
    at = np.log2(np.maximum(_lowest(stop), 1).astype(np.float64)).astype(np.int64)
    byte = heads[np.arange(len(heads)), at]
    maybe = (stop == 0) | (byte == ord(":")) | (at == lengths)
    words = heads.view("<u8")
    traceback = (words[:, 0] == _TRACEBACK[0]) & ((words[:, 1] & _TRACEBACK[2]) == _TRACEBACK[1])
    return maybe | traceback


_ALL_BITS = np.uint64(0xFFFFFFFF)


def _may_be_text_level(heads: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Which strings :data:`_TEXT_LEVEL` may match, judged by their first 32 bytes (as
    :func:`_may_be_exception`): those where one of the first four space-separated words
    starts with a capital letter (the level words' first letters), perhaps after a bracket,
    and those whose head holds fewer than four words' starts and is not the whole string."""
    size = np.minimum(lengths, 32).astype(np.uint64)
    inside = np.where(lengths >= 32, _ALL_BITS, (np.uint64(1) << size) - np.uint64(1))
    inside = inside.astype(np.uint32)
    # RE2's \s: tab, newline, form feed, carriage return (9, 10, 12, 13; not 11) and space
    space = (heads == ord(" ")) | (_within(heads, "\t", "\r") & (heads != ord("\v")))
    space = _bits(space)
    word = inside & ~space
    # a word starts after a space; the first one only at the string's start, as the pattern
    # reads its words from there
    one = np.uint32(1)
    starts = np.where(word & one, word & ((space << one) | one), 0).astype(np.uint32)
    early = np.zeros(len(heads), dtype=np.uint32)
    low = starts
    for _ in range(4):
        low = _lowest(starts)
        early |= low
        starts ^= low
    capital = _bits(_within(heads, "A", "Z"))
    bracket = _bits((heads == ord("[")) | (heads == ord("(")) | (heads == ord("<")))
    maybe = (early & (capital | (bracket & (capital >> one)))) != 0
    maybe |= (early & bracket & np.uint32(1 << 31)) != 0  # its word lies past the head
    return maybe | ((low == 0) & (lengths > 32))


def level_codes(arr: pa.Array, heads: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Severity codes (-1 for none) of Arrow strings; see :func:`derive_level` for the rules.

    ``heads`` is :func:`string_heads` of ``arr`` when the caller has it. The anchored patterns run
    only on the rows whose first byte can start them; each later rule only on the rows the
    earlier ones left without a level. Most logfmt levels are read off the messages' first
    bytes (:func:`_logfmt_levels`); the regex reads the rest.
    """
    n = len(arr)
    head, first = string_heads(arr) if heads is None else heads
    codes = np.full(n, -1, dtype=np.int8)
    # a JSON level field anywhere, else a logfmt level= anywhere, else a leading level word;
    # a word found but not on the scale stops the search (and leaves the level to klog)
    has_word = np.zeros(n, dtype=bool)
    rows, found = _prefixed_levels(head, first)
    codes[rows], has_word[rows] = found, True
    need = np.flatnonzero(~has_word & _CAN_JSON[first + 1])
    # the text between these rows is empty or opens with a prefixed level, matched at once
    rows, sub = _rows_matching(arr, need, _JSON_LEVEL, anchored=True)
    if len(rows):
        codes[rows] = _codes(pc.utf8_lower(_extract(sub, _JSON_LEVEL)), _ALL_WORDS)
        has_word[rows] = True
    need = np.flatnonzero(~has_word & _CAN_JSON[first + 1])
    lo, lengths, data = _spans(arr)
    found, found_codes, unsure = _logfmt_levels(data, lo[need], lengths[need])
    codes[need[found]], has_word[need[found]] = found_codes[found], True
    # the rest need a "=" somewhere (RE2 finds a literal fast) before the regex reads them
    rows, _ = _rows_matching(arr, need[unsure], "=", strings=False)
    rows, sub = _rows_matching(arr, rows, _LOGFMT_LEVEL)
    if len(rows):
        codes[rows] = _codes(pc.utf8_lower(_extract(sub, _LOGFMT_LEVEL)), _ALL_WORDS)
        has_word[rows] = True
    need = np.flatnonzero(~has_word & _CAN_TEXT[first + 1])
    need = need[_may_be_text_level(head[need], lengths[need])]
    rows, sub = _rows_matching(arr, need, _TEXT_LEVEL, anchored=True)
    if len(rows):
        codes[rows] = _codes(pc.utf8_lower(_extract(sub, _TEXT_LEVEL)), _ALL_WORDS)
        has_word[rows] = True
    need = np.flatnonzero((codes < 0) & _CAN_KLOG[first + 1])
    rows, sub = _rows_matching(arr, need, _KLOG_LEVEL, anchored=True)
    if len(rows):
        codes[rows] = _codes(_extract(sub, _KLOG_LEVEL), _KLOG)
    # an exception headline is an error even when the runtime printed no level
    need = np.flatnonzero((codes < 0) & _CAN_EXCEPTION[first + 1])
    need = need[_may_be_exception(head[need], lengths[need])]
    rows, _ = _rows_matching(arr, need, _EXCEPTION, strings=False, anchored=True)
    codes[rows] = _SEVERITY_CODE["error"]
    need = np.flatnonzero((codes < 0) & _CAN_PANIC[first + 1])
    rows, _ = _rows_matching(arr, need, _PANIC, strings=False, anchored=True)
    codes[rows] = _SEVERITY_CODE["critical"]
    return codes


def derive_level(messages: pd.Series) -> pd.Series:
    """The level each message carries, on :data:`obskit.schema.SEVERITIES`, else NA.

    Looks, in order, for a JSON ``"level"``/``"severity"`` field (names or pino numbers), a
    logfmt ``level=``, a klog header (``E0102 15:04:05``), and a leading level word
    (``ERROR``, ``[WARN]``, ``2024-01-01 12:00:00 INFO``); a message with none that starts with
    an exception headline (``Traceback``, ``java.lang.IllegalStateException:``) is an error, one
    that starts with ``panic:``/``fatal error:`` critical. Vectorised with Arrow; no Python loop
    per line.

    Examples
    --------
    >>> derive_level(pd.Series(['{"level":"warn","msg":"x"}', 'level=error msg=y',
    ...                         'E0102 15:04:05.1 1 x.go:1] boom', '[INFO] up', 'hello'])).tolist()
    ['warning', 'error', 'error', 'info', nan]
    """
    codes = level_codes(arrow_strings(messages))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=schema.SEVERITY), index=messages.index)


def stream_groups(stream: pd.Series) -> np.ndarray:
    """Group numbers of a stream column, missing streams grouped with ``""``."""
    if isinstance(stream.dtype, pd.CategoricalDtype):
        if "" not in stream.cat.categories:
            stream = stream.cat.add_categories([""])
        return stream.fillna("").cat.codes.to_numpy()
    values = stream.astype("object").where(stream.notna(), "")
    try:
        return pd.factorize(values)[0]
    except TypeError:  # a stream of an unexpected shape (a list): grouped by its text
        return pd.factorize(values.map(str))[0]


def continuation_lines(arr: pa.Array, first: np.ndarray | None = None) -> np.ndarray:
    """Whether each message is a stack-trace continuation line (``  at ...``, ``Caused by:``)."""
    if first is None:
        first = _first_bytes(arr)
    cont = np.zeros(len(arr), dtype=bool)
    need = np.flatnonzero(_CAN_CONTINUE[first + 1])
    rows, _ = _rows_matching(arr, need, _CONTINUATION, strings=False, anchored=True)
    cont[rows] = True
    return cont


def distinct_groups(groups: np.ndarray) -> np.ndarray:
    """The distinct values of small non-negative group numbers, in order."""
    if len(groups) and groups.min() >= 0:
        return np.flatnonzero(np.bincount(groups.astype(np.int64)))
    return np.unique(groups)


#: Up to this many groups, rows are looked up group by group; beyond, in one sorted pass (for
#: continuation lines here, and for partial lines in :mod:`obskit.sources.cri`).
FEW_GROUPS = 8


def inherit_codes(codes: np.ndarray, cont: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``codes`` with each levelless continuation line taking its stream's last line's level
    (the last line before it in the same group that is no continuation and has one)."""
    if not cont.any():
        return codes
    out = codes.copy()
    targets = np.flatnonzero(cont & (codes < 0))
    source = ~cont & (codes >= 0)
    if len(distinct_groups(groups[targets])) > FEW_GROUPS:
        # many groups (streams of many files): the last source row before each row of its
        # group, found in one pass over the rows sorted by group
        order = np.argsort(groups, kind="stable")
        marks = np.where(source[order], np.arange(len(order)), -1)
        last = np.maximum.accumulate(marks)
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        held = last[where[targets]]
        held_row = order[np.maximum(held, 0)]
        same = (held >= 0) & (groups[held_row] == groups[targets])
        out[targets] = np.where(same, codes[held_row], -1)
        return out.astype(np.int8)
    for g in distinct_groups(groups[targets]):
        rows = targets[groups[targets] == g]
        held = np.flatnonzero(source & (groups == g))
        if len(held):
            before = np.searchsorted(held, rows) - 1
            out[rows] = np.where(before >= 0, codes[held[np.maximum(before, 0)]], -1)
    return out.astype(np.int8)


def _inherit_level(frame: pd.DataFrame) -> pd.Series:
    """Stack-trace continuation lines take the level of the line they continue (same stream)."""
    level = frame["level"]
    cont = continuation_lines(arrow_strings(frame["message"]))
    if not cont.any():
        return level
    codes = pd.Categorical(level, dtype=schema.SEVERITY).codes
    out = inherit_codes(codes, cont, stream_groups(frame["stream"]))
    return pd.Series(pd.Categorical.from_codes(out, dtype=schema.SEVERITY), index=level.index)


MESSAGE_FORMATS = ("json", "logfmt", "text")


def format_codes(arr: pa.Array, first: np.ndarray | None = None) -> np.ndarray:
    """0 (json), 1 (logfmt) or 2 (text) for each message; see :func:`message_format`."""
    if first is None:
        first = _first_bytes(arr)
    codes = np.full(len(arr), 2, dtype=np.int8)
    is_json = first == ord("{")
    maybe = np.flatnonzero(_MAYBE_SPACE[first + 1])
    if len(maybe):
        sub = arr.take(pa.array(maybe))
        lead = pc.starts_with(pc.utf8_ltrim_whitespace(sub), "{")
        is_json[maybe] = pc.fill_null(lead, False).to_numpy(zero_copy_only=False)
    codes[is_json] = 0
    need = np.flatnonzero(~is_json & _CAN_LOGFMT[first + 1])
    rows, _ = _rows_matching(arr, need, _LOGFMT, strings=False, anchored=True)
    codes[rows] = 1
    return codes


def format_categorical(codes: np.ndarray) -> pd.Categorical:
    present = np.flatnonzero(np.bincount(codes, minlength=3))
    remap = np.full(3, -1, dtype=np.int8)
    remap[present] = np.arange(len(present))
    return pd.Categorical.from_codes(
        remap[codes], categories=pd.Index([MESSAGE_FORMATS[i] for i in present], dtype="str")
    )


def message_format(messages: pd.Series) -> pd.Series:
    """``json``, ``logfmt`` or ``text`` for each message, judged by its shape."""
    codes = format_codes(arrow_strings(messages))
    return pd.Series(format_categorical(codes), index=messages.index)
