"""Container logs: the kubelet's CRI files, Docker json-file logs, and shipped JSON lines.

Formats
-------
``cri-log``
    What the container runtime writes under ``/var/log/pods`` for the kubelet:
    ``<RFC3339Nano> <stdout|stderr> <P|F>[:more tags] <message>``. ``P`` lines (partial: the
    runtime split a long line) are joined with the following lines of the same stream up to the
    ``F`` line, as ``kubectl logs`` shows them; the joined row keeps the first part's time and
    line number, and the ledger counts the folded parts as ``merged``.
``docker-json-log``
    Docker's json-file driver: ``{"log": "...\\n", "stream": "stdout", "time": "..."}``; a
    ``log`` value without its trailing newline is a partial line, joined the same way.
``jsonl-log``
    One JSON record per line as Fluent Bit, Fluentd or Vector ship them, with a ``kubernetes``
    metadata object (``namespace_name``/``pod_name``/``container_name``/``host``, or Vector's
    ``pod_namespace``/``pod_node_name``); Fluent Bit's ``[time, {record}]`` lines too, and
    the journal entries of its systemd input (``MESSAGE``, ``_HOSTNAME``, ``_SYSTEMD_UNIT``...,
    with or without the ``kubernetes`` object its filter adds).

The key comes from the record or, for files, from the path the kubelet gives them:
``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`` or
``/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`` (rotated ``.log.*`` and
compressed copies too).

Messages are kept whole. :func:`derive_level` finds the level a message carries (a JSON
``level``/``severity``, a logfmt ``level=``, a klog ``E0102`` header, or a leading ``ERROR``/
``[WARN]`` word); the runtime's timestamp is the row's time, never a time inside the message.
Invalid UTF-8 bytes in a message are replaced by U+FFFD and the line is kept: a log line is
evidence, and the runtime accepted those bytes.
"""

from __future__ import annotations

import itertools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import (
    MAX_LINE,
    ParseResult,
    Rejects,
    Tally,
    byte_ranges,
    first_record,
    is_utf8,
    json_lines,
    laid_ranges,
    large_buffer_pool,
    register,
)

__all__ = [
    "derive_level",
    "log_fields",
    "message_format",
    "normalise_level",
    "parse_cri_log",
    "parse_cri_logs",
    "parse_docker_json_log",
    "parse_jsonl_log",
    "path_key",
    "read_cri_window",
]

# --- the key from a kubelet log path ----------------------------------------------------------

_POD_DIR = re.compile(
    r"(?:^|/)(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[^/_]+)/(?P<container>[^/]+)/"
    r"(?P<restart>\d+)\.log(?:\.[^/]*)?$"
)
_CONTAINERS = re.compile(
    r"(?:^|/)(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)-"
    r"(?P<container_id>[0-9a-f]{64})\.log(?:\.[^/]*)?$"
)


def path_key(path: str) -> dict[str, object]:
    """The key parts a kubelet log path encodes, or ``{}`` when it follows no convention.

    Examples
    --------
    >>> path_key("/var/log/pods/shop_checkout-7d9f-x2x9z_0b1c/checkout/2.log")
    {'namespace': 'shop', 'pod': 'checkout-7d9f-x2x9z', 'pod_uid': '0b1c', 'container': 'checkout', 'restart': 2}
    """  # noqa: E501
    posix = str(PurePosixPath(path.replace("\\", "/")))
    m = _POD_DIR.search(posix)
    if m:
        return {
            "namespace": m["namespace"],
            "pod": m["pod"],
            "pod_uid": m["uid"],
            "container": m["container"],
            "restart": int(m["restart"]),
        }
    m = _CONTAINERS.search(posix)
    if m:
        return {
            "namespace": m["namespace"],
            "pod": m["pod"],
            "container": m["container"],
            "container_id": m["container_id"],
        }
    return {}


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


def _strings(values: pd.Series) -> pa.Array:
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


def _windows(
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


def _heads(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The first :data:`_HEAD` bytes of each string, zero-padded past its end, and each
    string's first byte (``-1`` for an empty or null one), read off the Arrow buffers."""
    lo, lengths, data = _spans(arr)
    heads = _windows(data, lo, lengths, _HEAD)
    first = np.full(len(arr), -1, dtype=np.int16)
    first[lengths > 0] = heads[lengths > 0, 0]
    return heads, first


def _first_bytes(arr: pa.Array) -> np.ndarray:
    """The first byte of each string (``-1`` for an empty or null one)."""
    return _heads(arr)[1]


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


def _words64(data: pa.Buffer | bytes) -> np.ndarray:
    """The little-endian 8-byte word at every byte offset of ``data`` (a view, not a copy)."""
    return np.ndarray((max(len(data) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))


def _word(text: bytes) -> int:
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
    ``first`` are :func:`_heads` of the strings.
    """
    width = heads.shape[1]
    words = heads.view(np.uint64)
    at = _words64(heads.reshape(-1))
    found_rows, found_codes = [], []
    for prefix in _JSON_PREFIXES:
        k = len(prefix)
        rest = _word(prefix[8:]) if k > 8 else 0
        mask = (1 << (8 * (k - 8))) - 1
        hit = np.flatnonzero(words[:, 0] == _word(prefix[:8]))
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
        heads = _windows(data, lo[part], lengths[part], _LOGFMT_WIDE, pad=True)
        rows, got = _logfmt_heads(heads, lengths[part])
        rows, sure = b + rows, got >= -1
        found[rows[sure]], codes[rows[sure]] = True, got[sure]
        unsure[rows] = ~sure
    return found, codes, unsure


def _logfmt_heads(heads: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strings whose head decides :data:`_LOGFMT_LEVEL` (as :func:`_logfmt_levels`), and
    for each its code (-1 for a word not on the scale) or -2 when the head cannot tell.

    ``heads`` are :func:`_windows` with ``pad=True``: a zero row before and after the heads.

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
    before = _words64(flat)[at - 8]  # the 8 bytes before the "=", the last one highest
    low = before | np.uint64(0x2020202020202020)  # ASCII letters lower-cased, all exactly
    key_len = np.zeros(len(at), dtype=np.int64)
    for k, key in _LOGFMT_KEYS:
        key_len[(low >> np.uint64(64 - 8 * k)) == _word(key)] = k
    long_s = (
        ((low >> np.uint64(8)) == _word(b"everity"))
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
    words = _words64(flat)
    room = width - (word_at - at + cols)
    run, codes = _word_codes(words[word_at], words[word_at + 8], np.maximum(room, 0))
    # a word that reaches the end of the head may go on past it
    cut = (run >= room) & (lengths[rows] > width) & (run < _SPAN)
    decides = (run > 0) | cut
    rows, codes, cut = rows[decides], codes[decides], cut[decides]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]  # positions run in row order, then left to right
    return rows[first], np.where(cut[first], -2, codes[first])


def _level_codes(arr: pa.Array, heads: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Severity codes (-1 for none) of Arrow strings; see :func:`derive_level` for the rules.

    ``heads`` is :func:`_heads` of ``arr`` when the caller has it. The anchored patterns run
    only on the rows whose first byte can start them; each later rule only on the rows the
    earlier ones left without a level. Most logfmt levels are read off the messages' first
    bytes (:func:`_logfmt_levels`); the regex reads the rest.
    """
    n = len(arr)
    head, first = _heads(arr) if heads is None else heads
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
    codes = _level_codes(_strings(messages))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=schema.SEVERITY), index=messages.index)


def _stream_groups(stream: pd.Series) -> np.ndarray:
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


def _continues(arr: pa.Array, first: np.ndarray | None = None) -> np.ndarray:
    """Whether each message is a stack-trace continuation line (``  at ...``, ``Caused by:``)."""
    if first is None:
        first = _first_bytes(arr)
    cont = np.zeros(len(arr), dtype=bool)
    need = np.flatnonzero(_CAN_CONTINUE[first + 1])
    rows, _ = _rows_matching(arr, need, _CONTINUATION, strings=False, anchored=True)
    cont[rows] = True
    return cont


def _distinct(groups: np.ndarray) -> np.ndarray:
    """The distinct values of small non-negative group numbers, in order."""
    if len(groups) and groups.min() >= 0:
        return np.flatnonzero(np.bincount(groups.astype(np.int64)))
    return np.unique(groups)


#: Up to this many groups, rows are looked up group by group; beyond, in one sorted pass.
_FEW_GROUPS = 8


def _inherit_codes(codes: np.ndarray, cont: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``codes`` with each levelless continuation line taking its stream's last line's level
    (the last line before it in the same group that is no continuation and has one)."""
    if not cont.any():
        return codes
    out = codes.copy()
    targets = np.flatnonzero(cont & (codes < 0))
    source = ~cont & (codes >= 0)
    if len(_distinct(groups[targets])) > _FEW_GROUPS:
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
    for g in _distinct(groups[targets]):
        rows = targets[groups[targets] == g]
        held = np.flatnonzero(source & (groups == g))
        if len(held):
            before = np.searchsorted(held, rows) - 1
            out[rows] = np.where(before >= 0, codes[held[np.maximum(before, 0)]], -1)
    return out.astype(np.int8)


def _inherit_level(frame: pd.DataFrame) -> pd.Series:
    """Stack-trace continuation lines take the level of the line they continue (same stream)."""
    level = frame["level"]
    cont = _continues(_strings(frame["message"]))
    if not cont.any():
        return level
    codes = pd.Categorical(level, dtype=schema.SEVERITY).codes
    out = _inherit_codes(codes, cont, _stream_groups(frame["stream"]))
    return pd.Series(pd.Categorical.from_codes(out, dtype=schema.SEVERITY), index=level.index)


_FORMATS = ("json", "logfmt", "text")


def _format_codes(arr: pa.Array, first: np.ndarray | None = None) -> np.ndarray:
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


def _format_categorical(codes: np.ndarray) -> pd.Categorical:
    present = np.flatnonzero(np.bincount(codes, minlength=3))
    remap = np.full(3, -1, dtype=np.int8)
    remap[present] = np.arange(len(present))
    return pd.Categorical.from_codes(
        remap[codes], categories=pd.Index([_FORMATS[i] for i in present], dtype="str")
    )


def message_format(messages: pd.Series) -> pd.Series:
    """``json``, ``logfmt`` or ``text`` for each message, judged by its shape."""
    codes = _format_codes(_strings(messages))
    return pd.Series(_format_categorical(codes), index=messages.index)


_LOGFMT_PAIR = re.compile(r'([A-Za-z_][\w.-]*)=(?:"((?:[^"\\]|\\.)*)"|(\S*))')


def _logfmt(message: str) -> dict[str, str]:
    return {
        k: (q.encode().decode("unicode_escape") if "\\" in q else q) if q else v
        for k, q, v in _LOGFMT_PAIR.findall(message)
    }


def log_fields(logs: pd.DataFrame) -> pd.DataFrame:
    """Parse the structured fields of JSON and logfmt messages, on demand.

    Returns a frame on the same index as ``logs`` with one column per field found (nested JSON
    flattened with dots); text messages give empty rows. Loading keeps messages whole and
    parses nothing, so this is where the fields come from.

    Examples
    --------
    >>> logs = pd.DataFrame({"message": ['{"a": {"b": 1}}', 'k=v n="x y"', 'plain'],
    ...                      "format": ["json", "logfmt", "text"]})
    >>> log_fields(logs).to_dict("list")
    {'a.b': [1.0, nan, nan], 'k': [nan, 'v', nan], 'n': [nan, 'x y', nan]}
    """
    fmt = (
        logs["format"].astype("object")
        if "format" in logs
        else message_format(logs["message"]).astype("object")
    )
    records: list[dict] = []
    for message, kind in zip(logs["message"].tolist(), fmt.tolist(), strict=True):
        if kind == "json":
            try:
                value = orjson.loads(message)
            except orjson.JSONDecodeError:
                value = {}
            records.append(value if isinstance(value, dict) else {})
        elif kind == "logfmt":
            records.append(_logfmt(message))
        else:
            records.append({})
    out = pd.json_normalize(records)
    out.index = logs.index
    return out


# --- partial lines -----------------------------------------------------------------------------


def _join_partials(frame: pd.DataFrame, partial: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Join each run of partial lines with the next full line of the same stream.

    ``frame`` is in file order with columns ``stream`` and ``message``; ``partial`` flags the
    lines that continue on a later line. Returns the joined frame and how many lines were
    folded into another.
    """
    if not partial.any():
        return frame, 0
    n = len(frame)
    group, involved, keep = _partial_groups(_stream_groups(frame["stream"]), partial)
    rows = np.flatnonzero(involved)
    parts = frame["message"].iloc[rows]
    joined = parts.groupby(group[rows], sort=False).agg("".join)
    heads = np.flatnonzero(involved & keep)
    mask = np.zeros(n, dtype=bool)
    mask[heads] = True
    messages = _strings(frame["message"])
    replaced = pc.replace_with_mask(
        messages, pa.array(mask), pa.array(joined.loc[heads].tolist(), type=messages.type)
    )
    out = frame.assign(message=_as_string_series(replaced, frame.index)).loc[keep]
    return out, int(involved.sum() - len(heads))


def _as_string_series(arr: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a ``string[pyarrow]`` Series, without a copy."""
    return pd.Series(
        arr.to_pandas(types_mapper=lambda _: schema.STRING), index=index, dtype=schema.STRING
    )


# --- cri-log -----------------------------------------------------------------------------------

_CRI = r"^(?P<ts>[^ ]+) (?P<stream>stdout|stderr) (?P<tags>[^ ]*)(?: (?P<msg>.*))?$"
#: Below this many lines a payload is annotated in one piece; above, in parallel pieces.
_PARALLEL_ROWS = 200_000
#: Below this many bytes a CRI payload is split into lines in one thread; above, in parallel.
_PIECE_BYTES = 1 << 24
#: How many bytes of a CRI payload are split into lines at once.
_CHUNK_BYTES = 1 << 22


def _newlines(view: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """Offsets of the ``\\n`` bytes, found a MB at a time (no payload-sized mask)."""
    mask = np.empty(min(step, len(view)), dtype=bool)
    found = []
    for i in range(0, len(view), step):
        part = view[i : i + step]
        np.equal(part, 10, out=mask[: len(part)])
        at = np.flatnonzero(mask[: len(part)])
        at += i
        found.append(at)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _line_spans(view: np.ndarray, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, ...]:
    """Start and end offsets of the lines of ``view[lo:hi]`` (``hi`` the payload's end or just
    after a newline), blank ones too."""
    hi = len(view) if hi is None else hi
    newlines = _newlines(view[lo:hi]) + lo
    starts = np.concatenate(([lo], newlines + 1)).astype(np.int64)
    ends = np.concatenate((newlines, [hi])).astype(np.int64)
    if starts[-1] == hi:  # nothing after the last newline
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _not_blank(data: bytes, starts: np.ndarray, ends: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Which lines are not blank (``first`` is each one's first byte, -1 for an empty one)."""
    # a line starting with a printable ASCII character is not blank; trim only the others
    keep = (first >= 0x21) & (first <= 0x7E)
    rest = np.flatnonzero((first >= 0) & ~keep)
    if len(rest):
        text = byte_ranges(pa.py_buffer(data), starts[rest], ends[rest]).view(pa.large_string())
        blank = pc.equal(pc.utf8_trim_whitespace(text), "").to_numpy(zero_copy_only=False)
        keep[rest] = ~blank
    return keep


def _times(ts: pa.Array) -> np.ndarray:
    """RFC3339 strings to UTC ns, NaT where unreadable (Arrow fast path, pandas fallback)."""
    try:
        return (
            pc.cast(ts, pa.timestamp("ns", tz="UTC")).to_pandas().to_numpy(dtype="datetime64[ns]")
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = parse_times(pd.Series(ts.to_pylist(), dtype="object"))
        return parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


_STREAMS = ("stdout", "stderr")
_STDOUT = _word(b" stdout ")
_STDERR = _word(b" stderr ")


_WINDOW = 48  # bytes of a CRI line read at once: its time, stream and tag, as a rule
_LINE_BLOCK = 1 << 15  # lines read at once


def _cri_fields(
    data: bytes, view: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split CRI lines on their first three spaces, as :data:`_CRI` reads them.

    Returns, per line: where the time ends (the first space), the stream (0 stdout, 1 stderr,
    -1 when the line is no CRI line: no time, no such stream, or no tags), the first byte of
    the tags (-1 when empty), where the message starts and ends (an empty range when the
    line has none), and the line's first byte (-1 when empty). Read with NumPy off each line's
    first :data:`_WINDOW` bytes, a block of lines at a time; lines whose fields do not all lie
    there (a long time, tags other than a single ``P``/``F``) are read by
    :func:`_cri_fields_exact`.
    """
    n = len(starts)
    lengths = ends - starts
    first_space = np.full(n, -1, dtype=np.int64)
    stream = np.full(n, -1, dtype=np.int8)
    tag = np.full(n, -1, dtype=np.int16)
    msg_start = ends.copy()
    first = np.full(n, -1, dtype=np.int16)
    unsure = np.zeros(n, dtype=bool)
    for b in range(0, n, _LINE_BLOCK):
        part = slice(b, b + _LINE_BLOCK)
        size = lengths[part]
        heads = _windows(data, starts[part], size, _WINDOW)  # zeros past each line's end
        first[part] = np.where(size > 0, heads[:, 0].astype(np.int16), -1)
        space = heads == 32
        col = space.argmax(axis=1)
        found = space.reshape(-1)[np.arange(0, len(heads) * _WINDOW, _WINDOW) + col]
        # no space in the window: none in the line when all of it is there
        unsure[part] = (~found & (size > _WINDOW)) | (found & (col + 10 > _WINDOW))
        fast = np.flatnonzero(found & (col + 10 <= _WINDOW))
        at = col[fast]
        first_space[b + fast] = at
        # " stdout " or " stderr " from the first space on (zero padding never matches)
        word = _words64(heads.reshape(-1))[fast * _WINDOW + at]
        kind = np.where(word == _STDOUT, 0, np.where(word == _STDERR, 1, -1))
        kind[at == 0] = -1  # the time is empty
        ok = kind >= 0
        fast, at, kind, size = fast[ok], at[ok], kind[ok], size[fast[ok]]
        stream[b + fast] = kind
        has_tag = at + 8 < size
        flat = heads.reshape(-1)
        letter = np.where(has_tag, flat[fast * _WINDOW + at + 8].astype(np.int16), -1)
        tag[b + fast] = letter
        # the usual line: a one-letter tag, then the end of the line or a space and the message
        simple = (letter == ord("P")) | (letter == ord("F"))
        simple &= (at + 9 >= size) | (flat[fast * _WINDOW + at + 9] == 32)
        msg_start[b + fast] = starts[b + fast] + np.minimum(at + 10, size)
        unsure[b + fast[~simple]] = True
    ts_end = starts + np.maximum(first_space, 0)
    rows = np.flatnonzero(unsure)
    if len(rows):
        exact = _cri_fields_exact(data, view, starts[rows], ends[rows])
        ts_end[rows], stream[rows], tag[rows], msg_start[rows] = exact[:4]
    return ts_end, stream, tag, msg_start, ends, first


def _cri_fields_exact(
    data: bytes, view: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_cri_fields` of any lines, the tags read to their end.

    Returns, per line: where the time ends (the first space), the stream (0 stdout, 1 stderr,
    -1 when the line is no CRI line: no time, no such stream, or no tags), the first byte of
    the tags (-1 when empty), and where the message starts and ends (an empty range when the
    line has none). Found with NumPy on the payload's bytes; only lines whose tags are not a
    single ``P``/``F`` are searched one by one.
    """
    n = len(starts)
    space = pc.find_substring(laid_ranges(pa.py_buffer(data), starts, ends), " ")
    first_space = space.to_numpy(zero_copy_only=False)[0::2].astype(np.int64)
    ts_end = starts + np.maximum(first_space, 0)
    stream = np.full(n, -1, dtype=np.int8)
    # " stdout " or " stderr " from the first space on: the time is not empty, the tags follow
    rows = np.flatnonzero((first_space > 0) & (ends - ts_end >= 8))
    if len(rows):
        window = _words64(data)[ts_end[rows]]
        stream[rows[window == _STDOUT]] = 0
        stream[rows[window == _STDERR]] = 1
    ok = stream >= 0
    tag_at = ts_end + 8
    tag = np.full(n, -1, dtype=np.int16)
    has_tag = ok & (tag_at < ends)
    tag[has_tag] = view[tag_at[has_tag]]
    # the usual line: a one-letter tag, then the end of the line or a space and the message
    after = tag_at + 1
    simple = has_tag & ((tag == ord("P")) | (tag == ord("F")))
    inner = np.flatnonzero(simple & (after < ends))
    simple[inner] = view[after[inner]] == 32
    msg_start = np.minimum(after + 1, ends)
    for i in np.flatnonzero(ok & ~simple):
        third = data.find(b" ", int(tag_at[i]), int(ends[i]))
        msg_start[i] = ends[i] if third < 0 else third + 1
    msg_start[~ok] = ends[~ok]
    return ts_end, stream, tag, msg_start, ends


_EVERY_OTHER = 0x55  # validity bits of the even values only


def _cast_times(buf: pa.Buffer, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """The RFC3339 times at byte ranges ``[lo, hi)`` of ``buf`` as UTC ns, read by Arrow's cast
    in place (the ranges laid over the buffer, the gaps between them null), or None when Arrow
    cannot read one of them."""
    if not len(lo):
        return np.zeros(0, dtype="datetime64[ns]")
    laid = laid_ranges(buf, lo, hi)
    valid = np.full((len(laid) + 7) // 8, _EVERY_OTHER, dtype=np.uint8)
    stamps = pa.Array.from_buffers(
        pa.large_string(), len(laid), [pa.py_buffer(valid), *laid.buffers()[1:]]
    )
    try:
        cast = pc.cast(stamps, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = np.frombuffer(cast.buffers()[1], dtype=np.int64)[cast.offset :][: len(laid)]
    return values[0::2].view("datetime64[ns]")


def _cri_piece(data: bytes, view: np.ndarray, lo: int, hi: int) -> dict[str, object] | None:
    """The lines of ``data[lo:hi]`` split into their CRI fields, with their times (None when
    the bytes are not valid UTF-8)."""
    if not is_utf8(data, lo, hi):
        return None
    starts, ends = _line_spans(view, lo, hi)
    total = len(starts)
    ts_end, stream, tag, msg_start, ends, first = _cri_fields(data, view, starts, ends)
    keep = _not_blank(data, starts, ends, first)
    numbers = np.flatnonzero(keep) + 1
    if len(numbers) < total:
        starts, ends, ts_end, stream, tag, msg_start = (
            a[keep] for a in (starts, ends, ts_end, stream, tag, msg_start)
        )
    rows = np.flatnonzero(stream >= 0)
    times = _cast_times(pa.py_buffer(data), starts[rows], ts_end[rows])
    return {
        "starts": starts,
        "ends": ends,
        "numbers": numbers,
        "total": total,
        "ts_end": ts_end,
        "stream": stream,
        "tag": tag,
        "msg_start": msg_start,
        "rows": rows,
        "times": times,
    }


def _cuts(data: bytes, pieces: int) -> list[tuple[int, int]]:
    """``data`` cut into up to ``pieces`` byte ranges, each but the last ending after a newline."""
    size = len(data)
    bounds = [0]
    for k in range(1, pieces):
        at = data.find(b"\n", max(bounds[-1], size * k // pieces))
        if at < 0 or at + 1 >= size:
            break
        bounds.append(at + 1)
    bounds.append(size)
    return list(itertools.pairwise(bounds))


def _cri_lines(
    data: bytes, pool: ThreadPoolExecutor | None, workers: int = 1
) -> dict[str, object] | None:
    """:func:`_cri_piece` of the whole payload, read in pieces (on ``pool`` and its ``workers``
    threads when there is one); None when the payload is not valid UTF-8."""
    view = np.frombuffer(data, dtype=np.uint8)
    # pieces of a few MB, at least one a thread; threads done early take the next
    spans = _cuts(data, max(workers, -(-len(data) // _CHUNK_BYTES)))
    if pool is None:
        done = [_cri_piece(data, view, *span) for span in spans]
    else:
        done = list(pool.map(lambda span: _cri_piece(data, view, *span), spans))
    if any(d is None for d in done):
        return None
    if len(done) == 1:
        whole = done[0]
    else:
        whole = {k: np.concatenate([d[k] for d in done]) for k in ("starts", "ends", "ts_end")}
        for k in ("stream", "tag", "msg_start"):
            whole[k] = np.concatenate([d[k] for d in done])
        before = np.cumsum([0] + [d["total"] for d in done[:-1]])
        whole["numbers"] = np.concatenate(
            [d["numbers"] + b for d, b in zip(done, before, strict=True)]
        )
        sizes = np.cumsum([0] + [len(d["starts"]) for d in done[:-1]])
        whole["rows"] = np.concatenate([d["rows"] + b for d, b in zip(done, sizes, strict=True)])
        whole["times"] = (
            None
            if any(d["times"] is None for d in done)
            else np.concatenate([d["times"] for d in done])
        )
    return whole


def _next_in_group(groups: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The first row after each of ``rows`` in the same group (-1 when none)."""
    n = len(groups)
    found = np.full(len(rows), -1, dtype=np.int64)
    todo = np.arange(len(rows))
    at = rows + 1
    for _ in range(8):  # as a rule the very next line, or one a few lines on
        todo = todo[at[todo] < n]
        same = groups[at[todo]] == groups[rows[todo]]
        found[todo[same]] = at[todo[same]]
        todo = todo[~same]
        at[todo] += 1
        if not len(todo):
            return found
    if len(_distinct(groups[rows[todo]])) > _FEW_GROUPS:
        order = np.argsort(groups, kind="stable")  # each group's rows, in order
        where = np.empty(n, dtype=np.int64)
        where[order] = np.arange(n)
        after = where[rows[todo]] + 1
        inside = after < n
        inside[inside] = groups[order[after[inside]]] == groups[rows[todo[inside]]]
        found[todo[inside]] = order[after[inside]]
        return found
    for g in _distinct(groups[rows[todo]]):
        mine = todo[groups[rows[todo]] == g]
        lines = np.flatnonzero(groups == g)
        after = np.searchsorted(lines, rows[mine], side="right")
        inside = after < len(lines)
        found[mine[inside]] = lines[after[inside]]
    return found


def _partial_groups(
    groups: np.ndarray, partial: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which rows join (the runs of partial lines and the full line ending each, per stream).

    Returns the record each row belongs to (the row number of its first line), the rows
    involved in a join, and the rows kept (every uninvolved row and each joined record's head).
    Only the partial lines and the lines they continue into are looked at.
    """
    n = len(partial)
    group = np.arange(n, dtype=np.int64)
    lines = np.flatnonzero(partial)
    following = _next_in_group(groups, lines)
    # the partial lines and the lines they continue into: in each group's run of these, a line
    # starts a record when the line before it (the one before it in its stream) is not partial
    rows = np.union1d(lines, following[following >= 0])
    # each group's rows in order, one group after another; a group's first row starts a record
    idx = rows[np.argsort(groups[rows], kind="stable")]
    ends = ~partial[idx]
    starts = np.ones(len(idx), dtype=bool)
    starts[1:] = ends[:-1] | (groups[idx[1:]] != groups[idx[:-1]])
    group[idx] = idx[np.maximum.accumulate(np.where(starts, np.arange(len(idx)), 0))]
    involved = np.zeros(n, dtype=bool)
    involved[rows[np.isin(group[rows], group[lines])]] = True
    keep = ~involved
    keep[rows[group[rows] == rows]] = True
    return group, involved, keep


def _annotate(
    arr: pa.Array, pool: ThreadPoolExecutor | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level codes, continuation flags and format codes of messages, in parallel pieces.

    Arrow's kernels release the GIL, so the pieces of a large payload run on all cores (on
    ``pool`` when the caller has one).
    """

    def one(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sub = arr.slice(span[0], span[1] - span[0])
        heads = _heads(sub)
        return _level_codes(sub, heads), _continues(sub, heads[1]), _format_codes(sub, heads[1])

    n = len(arr)
    workers = min(os.cpu_count() or 1, 8, max(1, n // (_PARALLEL_ROWS // 2)))
    # two pieces a thread: one slowed down (a busy core) leaves the others its second
    pieces = 1 if workers == 1 else 2 * workers
    cuts = np.linspace(0, n, pieces + 1).astype(int)
    spans = list(itertools.pairwise(int(c) for c in cuts))
    if pieces == 1:
        done = [one(spans[0])]
    elif pool is not None:
        done = list(pool.map(one, spans))
    else:
        with ThreadPoolExecutor(workers) as own:
            done = list(own.map(one, spans))
    return tuple(np.concatenate([d[k] for d in done]) for k in range(3))  # type: ignore[return-value]


def _finish_logs(
    frame: pd.DataFrame, origin: str, key: dict[str, object], *, annotated: bool = False
) -> pd.DataFrame:
    """Level, format, the path's key and provenance for parsed log lines, conformed.

    ``annotated`` frames already carry their ``level`` and ``format``.
    """
    n = len(frame)
    columns: dict[str, object] = {}
    if not annotated:
        codes, cont, formats = _annotate(_strings(frame["message"]))
        codes = _inherit_codes(codes, cont, _stream_groups(frame["stream"]))
        columns["level"] = pd.Categorical.from_codes(codes, dtype=schema.SEVERITY)
        columns["format"] = _format_categorical(formats)
    for column in ("namespace", "pod", "container"):
        if column not in frame and key.get(column) is not None:
            columns[column] = pd.Categorical.from_codes(
                np.zeros(n, dtype=np.int8), categories=[key[column]]
            )
    if "restart" in key:
        columns["restart"] = pd.array(np.full(n, key["restart"], dtype=np.int64), dtype="Int64")
    has_key = bool(key) or ("pod" in frame and frame["pod"].notna().any())
    columns["key_source"] = pd.Categorical.from_codes(
        np.zeros(n, dtype=np.int8), categories=["record" if has_key else "incomplete"]
    )
    return schema.conform("logs", frame.assign(**columns), origin=origin)


def _gathered(
    laid: pa.Array, rows: np.ndarray, longest: int, starts: np.ndarray | None = None
) -> pa.Array:
    """The messages of ``laid`` (a :func:`laid_ranges` array, message ``i`` its value ``2i``,
    none longer than ``longest`` bytes) at ``rows`` (ascending) copied into one string array;
    with ``starts``, one string per run of them, each run beginning at a row where ``starts``
    is true (``starts[0]`` must be).

    Arrow's ``binary_slice`` copies the values not nulled out, sized exactly at once (``take``
    sizes its output by the mean length of all the laid values, gaps too, and grows it).
    """
    size = len(laid)
    every = len(rows) * 2 == size
    if every:
        valid = np.full((size + 7) // 8, 0x55, dtype=np.uint8)  # the even values
    else:
        bits = np.zeros(size, dtype=bool)
        bits[2 * rows] = True
        valid = np.packbits(bits, bitorder="little")
    masked = pa.Array.from_buffers(
        pa.large_binary(), size, [pa.py_buffer(valid), *laid.buffers()[1:3]]
    )
    # each value whole (a stop no larger than needed: Arrow multiplies it by the length)
    copied = pc.binary_slice(masked, 0, longest + 1, memory_pool=large_buffer_pool())
    offsets = np.frombuffer(copied.buffers()[1], dtype=np.int64)[copied.offset :][: size + 1]
    if every and starts is None:
        bounds = np.ascontiguousarray(offsets[0::2])  # the even values' starts, and the end
    else:
        at = 2 * (rows if starts is None else rows[starts])
        bounds = np.append(offsets[at], offsets[size])
    return pa.Array.from_buffers(
        pa.large_string(),
        len(bounds) - 1,
        [None, pa.py_buffer(bounds), copied.buffers()[2] or pa.py_buffer(b"")],
    )


def parse_cri_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse a kubelet CRI container log.

    The key (namespace, pod, container, restart) comes from ``origin`` when it is a kubelet log
    path. Lines that are not CRI lines, carry an unreadable time or an unknown tag, or exceed
    the line limit are rejects with their line numbers.

    Examples
    --------
    >>> data = (b"2024-01-01T00:00:00.000000001Z stdout P hello \\n"
    ...         b"2024-01-01T00:00:00.000000002Z stdout F world\\n"
    ...         b"2024-01-01T00:00:01+01:00 stderr F E0101 00:00:01.0 1 x.go:1] boom\\n")
    >>> r = parse_cri_log(data, "/var/log/pods/shop_web-1_u1/web/0.log")
    >>> r.logs[["message", "level", "pod"]].values.tolist()
    [['hello world', nan, 'web-1'], ['E0101 00:00:01.0 1 x.go:1] boom', 'error', 'web-1']]
    >>> (r.records, r.rows, r.merged)
    (3, 2, 1)
    """
    workers = min(os.cpu_count() or 1, 8, max(1, len(data) // _PIECE_BYTES))
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        return _parse_cri(data, origin, pool, workers)[0]
    finally:
        if pool is not None:
            pool.shutdown()


@dataclass
class _Files:
    """Files joined into one payload: their origins, the byte each starts at, and how many
    lines (blank ones too) come before it."""

    origins: list[str]
    starts: np.ndarray
    lines: np.ndarray


def _parse_cri(
    data: bytes,
    origin: str,
    pool: ThreadPoolExecutor | None,
    workers: int,
    files: _Files | None = None,
) -> tuple[ParseResult, list[Tally]]:
    """:func:`parse_cri_log`, its threads (if any) on ``pool``; with ``files``, the payload is
    several files joined (valid UTF-8 each), and each gets its own line numbers, key, partial
    lines and rejects, as if parsed alone, and its own ledger counts."""
    lines = _cri_lines(data, pool, workers)
    if lines is None:  # the slow path replaces invalid UTF-8 bytes by U+FFFD
        data = data.decode("utf-8", "replace").encode("utf-8")
        lines = _cri_lines(data, pool, workers)
    buf = pa.py_buffer(data)
    starts, ends, numbers = lines["starts"], lines["ends"], lines["numbers"]
    ts_end, stream, tag, msg_start = (
        lines["ts_end"],
        lines["stream"],
        lines["tag"],
        lines["msg_start"],
    )
    records = len(starts)
    if files is None:
        files = _Files([origin], np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
        owner = np.zeros(records, dtype=np.int64)
        groups = stream
    else:
        owner = np.searchsorted(files.starts, starts, side="right") - 1
        numbers = numbers - files.lines[owner]
        groups = stream.astype(np.int64) + 2 * owner  # streams of different files never join
    count = len(files.origins)
    origin = files.origins[0] if count == 1 else origin
    ok = stream >= 0
    lengths = ends - starts
    too_long = lengths > MAX_LINE
    tag_ok = (tag == ord("P")) | (tag == ord("F"))
    rows = lines["rows"]
    if len(rows) == records and lines["times"] is not None:
        times = lines["times"]
    else:
        times = np.full(records, np.datetime64("NaT"), dtype="datetime64[ns]")
        if lines["times"] is not None:
            times[rows] = lines["times"]
        elif len(rows):  # Arrow cannot read one: all of them as _times reads them
            stamps = byte_ranges(buf, starts[rows], ts_end[rows]).view(pa.large_string())
            times[rows] = _times(stamps)
    time_ok = ~np.isnat(times)
    good = ok & ~too_long & tag_ok & time_ok
    bad = np.flatnonzero(~good)
    rejects = {int(k): Rejects("cri-log", files.origins[k]) for k in np.unique(owner[bad])}
    if count == 1:
        rejects.setdefault(0, Rejects("cri-log", origin))
    if len(bad):
        raw = byte_ranges(buf, starts[bad], ends[bad]).view(pa.large_string()).to_pylist()
        for i, line in zip(bad, raw, strict=True):
            if too_long[i]:
                reason = f"line of {lengths[i]:,} bytes exceeds the {MAX_LINE:,}-byte limit"
            elif not ok[i]:
                reason = "not a CRI log line: expected '<RFC3339Nano> <stdout|stderr> <P|F> <msg>'"
            elif not time_ok[i]:
                reason = f"unreadable CRI timestamp {line.split(' ', 1)[0]!r}"
            else:
                reason = f"unknown CRI tag {line.split(' ')[2]!r}: expected P or F"
            rejects[owner[i]].add(reason, line, line=int(numbers[i]))
    # the lines that make rows (the good ones), by their numbers among all lines
    kept = np.flatnonzero(good) if len(bad) else np.arange(records)
    laid = laid_ranges(buf, msg_start, ends)  # every line's message (value 2i), in place
    longest = int(lengths.max()) if records else 0  # no message is longer than its line
    # partial lines: each run joins the next full line of its stream (kubectl logs shows them so)
    partial = tag[kept] == ord("P")
    merged = np.zeros(count, dtype=np.int64)
    if partial.any():
        group, involved, keep = _partial_groups(groups[kept], partial)
        merged = np.bincount(owner[kept[involved & ~keep]], minlength=count)
        joined = np.flatnonzero(involved & ~keep)  # the lines joined onto the one before
        if (group[joined - 1] == group[joined]).all():  # each record's parts are lines in a row
            message = _gathered(laid, kept, longest, keep)
        else:
            # every line's message in the order of the records they make (a record's parts
            # in a row), gathered once; a record is then the span from its first part to its
            # last
            order = np.argsort(group, kind="stable")
            parts = laid.take(pa.array(2 * kept[order]))
            offsets = np.frombuffer(parts.buffers()[1], dtype=np.int64)
            bounds = np.append(np.flatnonzero(keep[order]), len(order))
            message = pa.Array.from_buffers(
                pa.large_string(),
                len(bounds) - 1,
                [
                    None,
                    pa.py_buffer(np.ascontiguousarray(offsets[bounds])),
                    parts.buffers()[2] or pa.py_buffer(b""),
                ],
            )
        kept = kept[keep]
    else:
        message = _gathered(laid, kept, longest)
    if len(kept) < records:
        stream, times, numbers = stream[kept], times[kept], numbers[kept]
        groups, kept_owner = groups[kept], owner[kept]
    else:
        kept_owner = owner
    codes, cont, formats = _annotate(message, pool)
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(times).tz_localize("UTC"),
            # the streams present, stderr before stdout (as pandas sorts categories), in the
            # order the files bring them
            "stream": _present(stream, _STREAMS, (1, 0), kept_owner),
            "level": pd.Categorical.from_codes(
                _inherit_codes(codes, cont, groups), dtype=schema.SEVERITY
            ),
            "message": _as_string_series(message).array,
            "format": _present(formats, _FORMATS, (0, 1, 2), kept_owner),
            "line": numbers,
        }
    )
    tallies = [
        Tally(records=int(r), rows=int(w), rejects=len(rejects.get(k, ())), merged=int(m))
        for k, (r, w, m) in enumerate(
            zip(
                np.bincount(owner, minlength=count),
                np.bincount(kept_owner, minlength=count),
                merged,
                strict=True,
            )
        )
    ]
    if count == 1:
        logs = _finish_logs(frame, origin, path_key(origin), annotated=True)
    else:
        logs = _finish_files(frame, files.origins, kept_owner)
    result = ParseResult(
        records=records,
        logs=logs,
        rejects=Rejects.frame_of([rejects[k] for k in sorted(rejects)]),
        merged=int(merged.sum()),
    )
    return result, tallies


def _present(
    codes: np.ndarray, labels: tuple[str, ...], rank: tuple[int, ...], owner: np.ndarray
) -> pd.Categorical:
    """``codes`` (into ``labels``) as a categorical of the labels present: each file's in the
    order of ``rank``, the files' in the order they come (as stacking the files' frames one
    by one would make them)."""
    k = len(labels)
    files = int(owner[-1]) + 1 if len(owner) else 1
    seen = np.bincount(owner * k + codes, minlength=files * k).reshape(files, k) > 0
    present = np.flatnonzero(seen.any(axis=0))
    first = seen[:, present].argmax(axis=0)
    order = present[np.lexsort((np.array(rank)[present], first))]
    remap = np.full(k, -1, dtype=np.int8)
    remap[order] = np.arange(len(order))
    return pd.Categorical.from_codes(
        remap[codes], categories=pd.Index([labels[i] for i in order], dtype="str")
    )


def _finish_files(frame: pd.DataFrame, origins: list[str], owner: np.ndarray) -> pd.DataFrame:
    """:func:`_finish_logs` for the lines of several files: each row gets its file's key (from
    its path), provenance and ``key_source``."""
    keys = [path_key(origin) for origin in origins]
    columns: dict[str, object] = {}
    for column in ("namespace", "pod", "container"):
        values = [key.get(column) for key in keys]
        if any(v is not None for v in values):
            columns[column] = _per_file(values, owner)
    if any("restart" in key for key in keys):
        restart = pd.array([key.get("restart") for key in keys], dtype="Int64")
        columns["restart"] = restart.take(owner)
    columns["key_source"] = _per_file(["record" if k else "incomplete" for k in keys], owner)
    columns["origin"] = _per_file(origins, owner)
    return schema.conform("logs", frame.assign(**columns))


def _per_file(values: list[object], owner: np.ndarray) -> pd.Categorical:
    """A value per file as a categorical per row: the values of the files that have rows,
    in the order the files come (as stacking each file's frame would make it)."""
    present = np.flatnonzero(np.bincount(owner, minlength=len(values)))
    codes, uniques = pd.factorize(pd.Series([values[k] for k in present], dtype="object"))
    table = np.full(len(values), -1, dtype=np.int64)
    table[present] = codes
    return pd.Categorical.from_codes(table[owner], categories=pd.Index(list(uniques)))


#: Files up to this size are parsed together with the others of a batch ...
BATCH_FILE_BYTES = 8 << 20
#: ... in batches of up to this many bytes.
BATCH_BYTES = 64 << 20


def parse_cri_logs(payloads: list[tuple[bytes, str]]) -> tuple[ParseResult, list[Tally]]:
    """Parse many CRI log files at once: one parse of their joined bytes, so a folder of small
    files costs about what one file of the same lines does.

    ``payloads`` are ``(bytes, origin)`` pairs. Returns the files' rows and rejects together
    (each row's ``origin`` and ``line`` say where it was read) and each file's ledger counts,
    the same as :func:`parse_cri_log` of each file.

    Examples
    --------
    >>> result, tallies = parse_cri_logs([
    ...     (b"2024-01-01T00:00:00Z stdout F a\\n", "/var/log/pods/shop_web-1_u1/web/0.log"),
    ...     (b"2024-01-01T00:00:01Z stdout F b\\nbad\\n", "/var/log/pods/shop_db-1_u2/db/0.log")])
    >>> result.logs[["pod", "line", "message"]].values.tolist()
    [['web-1', 1, 'a'], ['db-1', 1, 'b']]
    >>> [(t.records, t.rows, t.rejects) for t in tallies]
    [(1, 1, 0), (2, 1, 1)]
    """
    parts: list[bytes] = []
    starts, lines = [], []
    at = count = 0
    for data, _origin in payloads:
        if not is_utf8(data):  # replaced file by file, as each would be alone
            data = data.decode("utf-8", "replace").encode("utf-8")
        starts.append(at)
        lines.append(count)
        parts.append(data)
        at += len(data)
        count += data.count(b"\n")
        if data and not data.endswith(b"\n"):
            parts.append(b"\n")  # the last line ends with its file
            at += 1
            count += 1
    joined = b"".join(parts)
    files = _Files(
        [origin for _, origin in payloads],
        np.array(starts, dtype=np.int64),
        np.array(lines, dtype=np.int64),
    )
    workers = min(os.cpu_count() or 1, 8, max(1, len(joined) // _PIECE_BYTES))
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        return _parse_cri(joined, "<files>", pool, workers, files)
    finally:
        if pool is not None:
            pool.shutdown()


def _first_lines(text: str, count: int) -> list[str]:
    """``text.splitlines()[:count]``, without splitting all of a long text."""
    for size in (8192, 65536):
        lines = text[:size].splitlines()
        if len(lines) > count:  # the first ``count`` all end inside this part
            return lines[:count]
        if size >= len(text):
            return lines
    return text.splitlines()[:count]


def _sniff_cri(head: str, name: str) -> float:
    lines = _first_lines(head, 20)
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return 0.0
    hits = sum(
        bool(re.match(r"^\d{4}-\d\d-\d\dT\S+ (stdout|stderr) [PF]\S* ?", ln)) for ln in lines
    )
    return 0.9 * hits / len(lines) + (0.05 if hits else 0.0)


register(
    "cri-log",
    "kubelet container logs in the CRI format (/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log)",
    _sniff_cri,
    parse_cri_log,
)


# --- docker-json-log ---------------------------------------------------------------------------


def parse_docker_json_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse a Docker json-file log (``{"log": ..., "stream": ..., "time": ...}`` lines).

    Examples
    --------
    >>> r = parse_docker_json_log(
    ...     b'{"log":"a","stream":"stdout","time":"2024-01-01T00:00:00Z"}\\n'
    ...     b'{"log":"b\\\\n","stream":"stdout","time":"2024-01-01T00:00:01Z"}\\n')
    >>> r.logs["message"].tolist(), r.merged
    (['ab'], 1)
    """
    rejects = Rejects("docker-json-log", origin)
    records, count = json_lines(data, rejects)
    rows, stamps = [], []
    for number, rec, raw in records:
        log = rec.get("log")
        if not isinstance(log, str) or "time" not in rec:
            rejects.add(
                "not a Docker json-file record: needs string 'log' and 'time'", raw, line=number
            )
            continue
        rows.append((rec.get("stream") or "stdout", log, number))
        stamps.append(rec["time"])
    frame = pd.DataFrame(rows, columns=["stream", "message", "line"])
    frame["timestamp"] = parse_times(pd.Series(stamps, dtype="object")).array
    frame = _drop_bad_times(frame, rejects, stamps)
    partial = ~frame["message"].str.endswith("\n").to_numpy(dtype=bool)
    frame["message"] = frame["message"].str.removesuffix("\n").str.removesuffix("\r")
    frame, merged = _join_partials(frame.reset_index(drop=True), partial)
    logs = _finish_logs(frame, origin, path_key(origin))
    return ParseResult(records=count, logs=logs, rejects=rejects.frame(), merged=merged)


def _drop_bad_times(frame: pd.DataFrame, rejects: Rejects, stamps: list) -> pd.DataFrame:
    bad = frame["timestamp"].isna().to_numpy()
    for i in np.flatnonzero(bad):
        rejects.add(
            f"unreadable time {stamps[i]!r}",
            frame["message"].iat[i],
            line=int(frame["line"].iat[i]),
        )
    return frame.loc[~bad].reset_index(drop=True)


def _sniff_docker(head: str, name: str) -> float:
    record = first_record(head)
    if record is None:  # a first line that is no JSON object: judged by how it begins
        return 0.9 if head.lstrip().startswith('{"log":') else 0.0
    # the fields at the record's top level: an Azure diagnostic record holds "log" and
    # "stream" under "properties", a Fluent Bit record adds "kubernetes"
    if isinstance(record.get("log"), str) and "time" in record and "kubernetes" not in record:
        return 0.9
    return 0.0


register(
    "docker-json-log",
    'Docker json-file container logs ({"log", "stream", "time"} lines)',
    _sniff_docker,
    parse_docker_json_log,
)


# --- jsonl-log (Fluent Bit / Fluentd / Vector) ------------------------------------------------

_K8S_FIELDS = {
    "namespace": ("namespace_name", "pod_namespace", "namespace"),
    "pod": ("pod_name", "pod"),
    "container": ("container_name", "container"),
    "node": ("host", "pod_node_name", "node_name", "node"),
}
_MESSAGE_FIELDS = ("log", "message", "msg", "MESSAGE")
_TIME_FIELDS = ("time", "timestamp", "@timestamp", "date", "_p_time")
# journal fields of a record from Fluent Bit's systemd input: the node it was read on, and when
# the program logged it (microseconds since the epoch, as text)
_JOURNAL_FIELDS = ("_HOSTNAME", "_SYSTEMD_UNIT", "_SOURCE_REALTIME_TIMESTAMP")
_JOURNAL_TIMES = ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP")


def parse_jsonl_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse log records shipped as JSON lines with a ``kubernetes`` metadata object.

    The message is the record's ``log`` (Fluent Bit, Fluentd), ``message`` (Vector) or
    ``MESSAGE`` (a journal entry from Fluent Bit's systemd input) field; the time is the
    record's ``time``/``timestamp``/``@timestamp``/``date`` or, for Fluent Bit's
    ``[time, record]`` lines, the first element, else a journal entry's
    ``_SOURCE_REALTIME_TIMESTAMP``. The node is ``kubernetes.host``, else a journal entry's
    ``_HOSTNAME``.

    Examples
    --------
    >>> line = (b'{"log":"boom\\\\n","stream":"stderr","time":"2024-01-01T00:00:00Z",'
    ...         b'"kubernetes":{"namespace_name":"shop","pod_name":"web-1",'
    ...         b'"container_name":"web","host":"node-1"}}')
    >>> parse_jsonl_log(line).logs[["namespace", "pod", "node", "message"]].values.tolist()
    [['shop', 'web-1', 'node-1', 'boom']]
    """
    rejects = Rejects("jsonl-log", origin)
    records, count = json_lines(data, rejects, want=(dict, list))
    rows, stamps = [], []
    for number, rec, raw in records:
        stamp = None
        if isinstance(rec, list):
            if len(rec) != 2 or not isinstance(rec[1], dict):
                rejects.add("expected a [time, record] pair", raw, line=number)
                continue
            stamp, rec = rec
        message = next((rec[f] for f in _MESSAGE_FIELDS if isinstance(rec.get(f), str)), None)
        if message is None:
            rejects.add(f"no message field (one of {', '.join(_MESSAGE_FIELDS)})", raw, line=number)
            continue
        stamp = next((rec[f] for f in _TIME_FIELDS if rec.get(f) not in (None, "")), stamp)
        if stamp is None:
            stamp = _journal_time(rec)
        meta = rec.get("kubernetes") if isinstance(rec.get("kubernetes"), dict) else {}
        row = {
            column: next((meta[f] for f in names if meta.get(f)), None)
            for column, names in _K8S_FIELDS.items()
        }
        if row["node"] is None and isinstance(rec.get("_HOSTNAME"), str):
            row["node"] = rec["_HOSTNAME"] or None
        row.update(
            message=message.removesuffix("\n"),
            stream=rec.get("stream"),
            line=number,
            cluster=rec.get("cluster") or meta.get("cluster"),
        )
        rows.append(row)
        stamps.append(stamp)
    frame = pd.DataFrame(rows, columns=[*_K8S_FIELDS, "message", "stream", "line", "cluster"])
    frame["timestamp"] = parse_times(pd.Series(stamps, dtype="object")).array
    frame = _drop_bad_times(frame, rejects, stamps)
    frame["key_source"] = np.where(frame["pod"].notna(), "record", "incomplete")
    logs = schema.conform(
        "logs",
        frame.assign(level=derive_level(frame["message"]), format=message_format(frame["message"])),
        origin=origin,
    )
    return ParseResult(records=count, logs=logs, rejects=rejects.frame())


def _journal_time(record: dict) -> int | None:
    """A journal entry's own time (integer microseconds since the epoch), or None."""
    for field in _JOURNAL_TIMES:
        value = record.get(field)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _sniff_jsonl(head: str, name: str) -> float:
    line = head.lstrip().split("\n", 1)[0]
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:  # a first line cut or corrupt: judged by its text
        if '"kubernetes"' in line and any(f'"{f}"' in line for f in _MESSAGE_FIELDS):
            return 0.92
        return 0.0
    if isinstance(record, list) and len(record) == 2:
        record = record[1]  # Fluent Bit's [time, record]
    if not isinstance(record, dict):
        return 0.0
    has_message = any(isinstance(record.get(f), str) for f in _MESSAGE_FIELDS)
    if has_message and isinstance(record.get("kubernetes"), dict):
        return 0.92
    if isinstance(record.get("MESSAGE"), str) and any(f in record for f in _JOURNAL_FIELDS):
        return 0.9  # Fluent Bit's systemd input: a journal entry, without Kubernetes metadata
    return 0.0


register(
    "jsonl-log",
    "JSON-lines log records as Fluent Bit, Fluentd or Vector ship them, with kubernetes metadata",
    _sniff_jsonl,
    parse_jsonl_log,
)


# --- reading a window of a large CRI file --------------------------------------------------------

#: Bytes of a large CRI file read and parsed at a time by :func:`read_cri_window`.
WINDOW_PIECE_BYTES = 64 << 20
#: Lines looked back over, at most, for a cut between pieces that leaves no partial line open.
_CUT_LOOKBACK = 1000


def cri_span(data: bytes) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The times of the first and the last CRI line of ``data`` (None when either is no CRI
    line with a readable time). CRI files are written in time order, so these bound the rest.

    Examples
    --------
    >>> cri_span(b"2024-01-01T00:00:00Z stdout F a\\n2024-01-01T00:00:09Z stdout F b\\n")
    (Timestamp('2024-01-01 00:00:00+0000', tz='UTC'), Timestamp('2024-01-01 00:00:09+0000', tz='UTC'))
    """  # noqa: E501
    body = data.rstrip(b"\n")
    first = body[: body.find(b"\n")] if b"\n" in body else body
    last = body[body.rfind(b"\n") + 1 :]
    times = [_line_time(line) for line in (first, last)]
    if times[0] is None or times[1] is None:
        return None
    return times[0], times[1]


def _line_time(line: bytes) -> pd.Timestamp | None:
    stamp, _, rest = line.partition(b" ")
    if not rest.startswith((b"stdout ", b"stderr ")):
        return None
    try:
        return pd.Timestamp(stamp.decode("ascii")).tz_convert("UTC")
    except (ValueError, UnicodeDecodeError, TypeError):
        return None


def _closed_cut(data: bytes) -> int:
    """Where to end a piece of CRI lines (just after a newline) so that no stream's partial
    line (``P``) continues past it: the last such place among the last lines (0: the start of
    ``data``, which is one), else the end."""
    end = len(data)
    for _ in range(_CUT_LOOKBACK):
        if end <= 0:
            return 0
        start = data.rfind(b"\n", 0, max(end - 1, 0)) + 1
        # the cut after the line [start, end) is closed when each stream's last line is full
        open_streams = set()
        at, seen = end, set()
        for _ in range(_CUT_LOOKBACK):
            begin = data.rfind(b"\n", 0, max(at - 1, 0)) + 1
            fields = data[begin:at].split(b" ", 3)
            stream = fields[1] if len(fields) >= 3 else None
            # only the lines the parser keeps join: a P or F tag and a readable time
            if (
                stream in (b"stdout", b"stderr")
                and stream not in seen
                and fields[2][:1] in (b"P", b"F")
                and _line_time(data[begin:at].rstrip(b"\n")) is not None
            ):
                seen.add(stream)
                if fields[2][:1] == b"P":
                    open_streams.add(stream)
            if len(seen) == 2 or begin == 0:
                break
            at = begin
        if not open_streams:
            return end
        end = start
    return len(data)


def read_cri_window(
    path: str, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[ParseResult, str]:
    """Read an uncompressed CRI file piece by piece, parsing only the pieces whose lines may
    fall in ``[start, end]`` and keeping only their rows inside it: memory holds one piece
    and what is kept, not the file.

    CRI files are written in time order, so a piece whose last line is before ``start`` is
    passed over unparsed (its lines counted, for the line numbers after it), and reading stops
    at the first piece whose first line is after ``end``. Pieces end where no stream's partial
    line is open. Returns the result and a note saying what was passed over and left out; the
    result's ``records`` count the records of the rows kept, the rejects and the merged lines
    (the ledger balances over what was taken), and the rows left out are in the note.
    """
    parsed: list[ParseResult] = []
    lines_before = records = merged = dropped = 0
    skipped_bytes = 0
    size = os.path.getsize(path)
    carried: dict[str, int] = {}
    with open(path, "rb") as fh:
        carry = b""
        offset = 0
        while True:
            chunk = fh.read(WINDOW_PIECE_BYTES)
            data = carry + chunk
            if not data:
                break
            whole = data[: data.rfind(b"\n") + 1] or data
            cut = len(data) if not chunk else (_closed_cut(whole) or len(whole))
            piece, carry = data[:cut], data[cut:]
            span = cri_span(piece)
            if span is not None and start is not None and span[1] < start:
                carried = _levels_after(piece, path, carried)
                lines_before += piece.count(b"\n")
                skipped_bytes += len(piece)
                offset += len(piece)
                continue
            if span is not None and end is not None and span[0] > end:
                skipped_bytes += size - offset
                break
            # the lines of the window, found by bisection (the lines are in time order)
            lo, hi = _window_bytes(piece, start, end)
            if lo:
                carried = _levels_after(piece[:lo], path, carried)
                lines_before += piece.count(b"\n", 0, lo)
                skipped_bytes += lo
            part = piece[lo:hi]
            result, _ = parse_cri_logs([(part, path)])
            result = _shifted(result, lines_before)
            result.logs, carried = _carry_levels(result.logs, carried)
            lines_before += part.count(b"\n") + (0 if part.endswith(b"\n") else 1)
            lines_before += piece.count(b"\n", hi)
            skipped_bytes += len(piece) - hi
            offset += len(piece)
            rows = result.logs
            inside = np.ones(len(rows), dtype=bool)
            if start is not None:
                inside &= (rows["timestamp"] >= start).to_numpy()
            if end is not None:
                inside &= (rows["timestamp"] <= end).to_numpy()
            dropped += int((~inside).sum())
            result.logs = rows.loc[inside].reset_index(drop=True)
            records += result.records - int((~inside).sum())
            merged += result.merged
            parsed.append(result)
            if not chunk:
                break
    logs = schema.concat("logs", [r.logs for r in parsed]) if parsed else None
    rejects = schema.concat("rejects", [r.rejects for r in parsed])
    note = (
        f"read for the window: {skipped_bytes:,} of {size:,} bytes passed over unparsed "
        f"(outside it), {dropped:,} parsed row(s) outside the window or keys left out"
    )
    return ParseResult(records=records, logs=logs, rejects=rejects, merged=merged), note


def _shifted(result: ParseResult, lines: int) -> ParseResult:
    """``result`` with its line numbers ``lines`` further on (a piece after others)."""
    if lines:
        result.logs = result.logs.assign(line=result.logs["line"] + lines)
        result.rejects = result.rejects.assign(line=result.rejects["line"] + lines)
    return result


#: Bytes at the end of a piece passed over that are parsed for the levels it hands on.
_TAIL_BYTES = 256 << 10


def _carry_levels(frame: pd.DataFrame, carried: dict[str, int]) -> tuple[pd.DataFrame, dict]:
    """Stack-trace continuation lines at the top of a piece take the level of their stream's
    last line before the piece (``carried``: severity code by stream), as they would in the
    whole file. Returns the frame and the levels handed on to the next piece."""
    if not len(frame):
        return frame, carried
    cont = _continues(_strings(frame["message"]))
    codes = frame["level"].cat.codes.to_numpy().copy()
    streams = frame["stream"].cat
    carried = dict(carried)
    for code, name in enumerate(streams.categories):
        rows = np.flatnonzero(streams.codes.to_numpy() == code)
        source = rows[~cont[rows] & (codes[rows] >= 0)]
        first = source[0] if len(source) else len(frame)
        if name in carried:
            needy = rows[(rows < first) & cont[rows] & (codes[rows] < 0)]
            codes[needy] = carried[name]
        if len(source):
            carried[name] = int(codes[source[-1]])
    level = pd.Categorical.from_codes(codes, dtype=schema.SEVERITY)
    return frame.assign(level=level), carried


def _levels_after(piece: bytes, path: str, carried: dict[str, int]) -> dict[str, int]:
    """The levels a piece passed over hands on to continuation lines after it: its end parsed,
    or all of it when a stream's last line with a level is not in its end."""
    tail = piece
    if len(piece) > _TAIL_BYTES:
        tail = piece[piece.find(b"\n", len(piece) - _TAIL_BYTES) + 1 :]
    for part in (tail, piece):
        frame = parse_cri_logs([(part, path)])[0].logs
        _, found = _carry_levels(frame, {})
        streams = {name for name in _STREAMS if f" {name} ".encode() in piece}
        if streams <= set(found) or part is piece:
            return {**carried, **found}
    return carried


#: Bytes looked past the window's last line for the end of a partial line's run.
_RUN_BYTES = 1 << 20


def _window_bytes(
    piece: bytes, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[int, int]:
    """The byte range of a piece of CRI lines (in time order) that holds its lines of
    ``[start, end]``: found by bisection over the lines' times, and widened to places where
    no stream's partial line is open (a joined row takes its first part's time)."""
    view = np.frombuffer(piece, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(view == 10) + 1))
    starts = starts[starts < len(piece)]
    lo = 0 if start is None else _first_line(piece, starts, start, after=False)
    hi = len(piece) if end is None else _first_line(piece, starts, end, after=True)
    lo = int(starts[lo]) if lo < len(starts) else len(piece)
    hi = int(starts[hi]) if hi < len(starts) else len(piece)
    if lo > 0:
        lo = min(_closed_cut(piece[:lo]), lo)
    if hi < len(piece):
        reach = piece.find(b"\n", min(hi + _RUN_BYTES, len(piece)) - 1)
        reach = len(piece) if reach < 0 else reach + 1
        cut = _closed_cut(piece[:reach])
        hi = cut if cut >= hi else len(piece)
    return lo, max(lo, hi)


def _first_line(piece: bytes, starts: np.ndarray, when: pd.Timestamp, *, after: bool) -> int:
    """The first line whose time is at or after ``when`` (``after``: past it), by bisection;
    a line with no readable time takes the time of the next line that has one."""
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        t = None
        for k in range(mid, min(mid + 64, len(starts))):
            end = int(starts[k + 1]) if k + 1 < len(starts) else len(piece)
            t = _line_time(piece[int(starts[k]) : end].rstrip(b"\n"))
            if t is not None:
                break
        if t is None or (t > when if after else t >= when):
            hi = mid
        else:
            lo = mid + 1
    return lo
