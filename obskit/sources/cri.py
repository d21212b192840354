"""The kubelet's CRI container log files, and the key their paths give.

``cri-log`` is what the container runtime writes under ``/var/log/pods`` for the kubelet:
``<RFC3339Nano> <stdout|stderr> <P|F>[:more tags] <message>``. ``P`` lines (partial: the
runtime split a long line) are joined with the following lines of the same stream up to the
``F`` line, as ``kubectl logs`` shows them; the joined row keeps the first part's time and
line number, and the ledger counts the folded parts as ``merged``.

The key comes from the path the kubelet gives a file (:func:`path_key`):
``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`` or
``/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`` (rotated ``.log.*`` and
compressed copies too). Many small files are parsed in one pass (:func:`parse_cri_logs`), and a
time window of a large file is read without parsing the rest (:func:`read_cri_window`).
Invalid UTF-8 bytes in a message are replaced by U+FFFD and the line is kept: a log line is
evidence, and the runtime accepted those bytes.
"""

from __future__ import annotations

import functools
import itertools
import lzma
import os
import re
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit._time import parse_times
from obskit.sources import _levels
from obskit.sources._base import (
    CRI_LINE,
    CRI_LINE_START,
    MAX_LINE,
    ParseResult,
    Rejects,
    Tally,
    byte_ranges,
    compression,
    is_utf8,
    laid_ranges,
    large_buffer_pool,
    register,
    stream_lines,
)
from obskit.sources._levels import (
    MESSAGE_FORMATS,
    arrow_strings,
    byte_windows,
    continuation_lines,
    distinct_groups,
    format_categorical,
    format_codes,
    inherit_codes,
    level_codes,
    stream_groups,
    string_heads,
    word_of,
    words64,
)

__all__ = [
    "CriFiles",
    "cri_span",
    "finish_logs",
    "join_partials",
    "parse_cri_files",
    "parse_cri_log",
    "parse_cri_logs",
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
    return dict(_path_key(path))


@functools.lru_cache(maxsize=1 << 14)
def _path_key(path: str) -> tuple[tuple[str, object], ...]:
    """:func:`path_key` as pairs, kept for the last files asked about: a load asks about each
    file twice (its format's hint, then its rows' key)."""
    posix = path.replace("\\", "/")
    if "//" in posix or "/./" in posix or posix.startswith("./") or posix.endswith(("/", "/.")):
        posix = str(PurePosixPath(posix))  # only these does PurePosixPath change
    m = _POD_DIR.search(posix)
    if m:
        return (
            ("namespace", m["namespace"]),
            ("pod", m["pod"]),
            ("pod_uid", m["uid"]),
            ("container", m["container"]),
            ("restart", int(m["restart"])),
        )
    m = _CONTAINERS.search(posix)
    if m:
        return (
            ("namespace", m["namespace"]),
            ("pod", m["pod"]),
            ("container", m["container"]),
            ("container_id", m["container_id"]),
        )
    return ()


# --- partial lines -----------------------------------------------------------------------------


def join_partials(frame: pd.DataFrame, partial: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Join each run of partial lines with the next full line of the same stream.

    ``frame`` is in file order with columns ``stream`` and ``message``; ``partial`` flags the
    lines that continue on a later line. Returns the joined frame and how many lines were
    folded into another. Docker's json-file partial lines are joined by it too.
    """
    if not partial.any():
        return frame, 0
    n = len(frame)
    group, involved, keep = _partial_groups(stream_groups(frame["stream"]), partial)
    rows = np.flatnonzero(involved)
    parts = frame["message"].iloc[rows]
    joined = parts.groupby(group[rows], sort=False).agg("".join)
    heads = np.flatnonzero(involved & keep)
    mask = np.zeros(n, dtype=bool)
    mask[heads] = True
    messages = arrow_strings(frame["message"])
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
_STDOUT = word_of(b" stdout ")
_STDERR = word_of(b" stderr ")


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
        heads = byte_windows(data, starts[part], size, _WINDOW)  # zeros past each line's end
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
        word = words64(heads.reshape(-1))[fast * _WINDOW + at]
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
        window = words64(data)[ts_end[rows]]
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


def _cri_piece(
    data: bytes, view: np.ndarray, lo: int, hi: int, checked: bool = False
) -> dict[str, object] | None:
    """The lines of ``data[lo:hi]`` split into their CRI fields, with their times (None when
    the bytes are not valid UTF-8; ``checked``: known to be)."""
    if not checked and not is_utf8(data, lo, hi):
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
    data: bytes, pool: ThreadPoolExecutor | None, workers: int = 1, checked: bool = False
) -> dict[str, object] | None:
    """:func:`_cri_piece` of the whole payload, read in pieces (on ``pool`` and its ``workers``
    threads when there is one); None when the payload is not valid UTF-8 (``checked``: known
    to be)."""
    view = np.frombuffer(data, dtype=np.uint8)
    # pieces of a few MB, at least one a thread; threads done early take the next
    spans = _cuts(data, max(workers, -(-len(data) // _CHUNK_BYTES)))
    if pool is None:
        done = [_cri_piece(data, view, *span, checked) for span in spans]
    else:
        done = list(pool.map(lambda span: _cri_piece(data, view, *span, checked), spans))
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
    if len(distinct_groups(groups[rows[todo]])) > _levels.FEW_GROUPS:
        order = np.argsort(groups, kind="stable")  # each group's rows, in order
        where = np.empty(n, dtype=np.int64)
        where[order] = np.arange(n)
        after = where[rows[todo]] + 1
        inside = after < n
        inside[inside] = groups[order[after[inside]]] == groups[rows[todo[inside]]]
        found[todo[inside]] = order[after[inside]]
        return found
    for g in distinct_groups(groups[rows[todo]]):
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
        heads = string_heads(sub)
        return (
            level_codes(sub, heads),
            continuation_lines(sub, heads[1]),
            format_codes(sub, heads[1]),
        )

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


def finish_logs(
    frame: pd.DataFrame, origin: str, key: dict[str, object], *, annotated: bool = False
) -> pd.DataFrame:
    """Level, format, the path's key and provenance for parsed log lines, conformed.

    The last step of the CRI and Docker json-file parsers alike. ``annotated`` frames already
    carry their ``level`` and ``format``.
    """
    n = len(frame)
    columns: dict[str, object] = {}
    if not annotated:
        codes, cont, formats = _annotate(arrow_strings(frame["message"]))
        codes = inherit_codes(codes, cont, stream_groups(frame["stream"]))
        columns["level"] = pd.Categorical.from_codes(codes, dtype=schema.SEVERITY)
        columns["format"] = format_categorical(formats)
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
    """Files joined into one payload: their origins and the byte each starts at."""

    origins: list[str]
    starts: np.ndarray


def _parse_cri(
    data: bytes,
    origin: str,
    pool: ThreadPoolExecutor | None,
    workers: int,
    files: _Files | None = None,
    checked: bool = False,
) -> tuple[ParseResult, list[Tally]]:
    """:func:`parse_cri_log`, its threads (if any) on ``pool``; with ``files``, the payload is
    several files joined (valid UTF-8 each), and each gets its own line numbers, key, partial
    lines and rejects, as if parsed alone, and its own ledger counts. ``checked``: the payload
    is known to be valid UTF-8."""
    lines = _cri_lines(data, pool, workers, checked)
    if lines is None:  # the slow path replaces invalid UTF-8 bytes by U+FFFD
        data = data.decode("utf-8", "replace").encode("utf-8")
        lines = _cri_lines(data, pool, workers)
    buf = pa.py_buffer(data)
    starts, ends, numbers = lines["starts"], lines["ends"], lines["numbers"]
    stream, tag, msg_start = lines["stream"], lines["tag"], lines["msg_start"]
    records = len(starts)
    if files is None:
        files = _Files([origin], np.zeros(1, dtype=np.int64))
        owner = np.zeros(records, dtype=np.int64)
        groups = stream
    else:
        owner = np.searchsorted(files.starts, starts, side="right") - 1
        numbers = numbers - _lines_before(data, files.starts, starts, numbers, owner)[owner]
        groups = stream.astype(np.int64) + 2 * owner  # streams of different files never join
    count = len(files.origins)
    origin = files.origins[0] if count == 1 else origin
    ok = stream >= 0
    lengths = ends - starts
    too_long = lengths > MAX_LINE
    tag_ok = (tag == ord("P")) | (tag == ord("F"))
    times = _line_times(lines, buf)
    time_ok = ~np.isnat(times)
    good = ok & ~too_long & tag_ok & time_ok
    bad = np.flatnonzero(~good)
    rejects = _cri_rejects(buf, bad, (starts, ends, numbers, owner), files.origins, ok, time_ok)
    # the lines that make rows (the good ones), by their numbers among all lines
    kept = np.flatnonzero(good) if len(bad) else np.arange(records)
    laid = laid_ranges(buf, msg_start, ends)  # every line's message (value 2i), in place
    longest = int(lengths.max()) if records else 0  # no message is longer than its line
    message, kept, merged = _records(laid, kept, longest, tag, groups, owner, count)
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
                inherit_codes(codes, cont, groups), dtype=schema.SEVERITY
            ),
            "message": _as_string_series(message).array,
            "format": _present(formats, MESSAGE_FORMATS, (0, 1, 2), kept_owner),
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
        logs = finish_logs(frame, origin, path_key(origin), annotated=True)
    else:
        logs = _finish_files(frame, files.origins, kept_owner)
    result = ParseResult(
        records=records,
        logs=logs,
        rejects=Rejects.frame_of([rejects[k] for k in sorted(rejects)]),
        merged=int(merged.sum()),
    )
    return result, tallies


def _lines_before(
    data: bytes, file_starts: np.ndarray, starts: np.ndarray, numbers: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """How many lines (blank ones too) of the joined payload come before each file: its first
    non-blank line's number, less one and the blank lines above it in its file (counted only
    for the files that start with some)."""
    count = len(file_starts)
    if not len(owner):
        return np.zeros(count, dtype=np.int64)
    first = np.searchsorted(owner, np.arange(count))  # each file's first line, if it has one
    has = first < len(owner)
    has[has] = owner[first[has]] == np.flatnonzero(has)
    before = np.zeros(count, dtype=np.int64)
    before[has] = numbers[first[has]] - 1
    for k in np.flatnonzero(has & (starts[np.minimum(first, len(owner) - 1)] > file_starts)):
        before[k] -= data.count(b"\n", int(file_starts[k]), int(starts[first[k]]))
    return before


def _line_times(lines: dict[str, object], buf: pa.Buffer) -> np.ndarray:
    """The time of each CRI line (``NaT`` where it has none that reads), from the times
    :func:`_cri_lines` cast, else read line by line as :func:`_times` reads them."""
    starts, ts_end, rows, cast = lines["starts"], lines["ts_end"], lines["rows"], lines["times"]
    records = len(starts)
    if len(rows) == records and cast is not None:
        return cast
    times = np.full(records, np.datetime64("NaT"), dtype="datetime64[ns]")
    if cast is not None:
        times[rows] = cast
    elif len(rows):  # Arrow cannot read one: all of them as _times reads them
        stamps = byte_ranges(buf, starts[rows], ts_end[rows]).view(pa.large_string())
        times[rows] = _times(stamps)
    return times


def _cri_rejects(
    buf: pa.Buffer,
    bad: np.ndarray,
    spans: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    origins: list[str],
    ok: np.ndarray,
    time_ok: np.ndarray,
) -> dict[int, Rejects]:
    """The ``bad`` lines rejected with their reasons, by the number of the file they come from
    (``spans``: each line's start, end, line number and file number); a single file always
    gets its (perhaps empty) rejects."""
    starts, ends, numbers, owner = spans
    rejects = {int(k): Rejects("cri-log", origins[k]) for k in np.unique(owner[bad])}
    if len(origins) == 1:
        rejects.setdefault(0, Rejects("cri-log", origins[0]))
    if not len(bad):
        return rejects
    raw = byte_ranges(buf, starts[bad], ends[bad]).view(pa.large_string()).to_pylist()
    for i, line in zip(bad, raw, strict=True):
        length = ends[i] - starts[i]
        if length > MAX_LINE:
            reason = f"line of {length:,} bytes exceeds the {MAX_LINE:,}-byte limit"
        elif not ok[i]:
            reason = "not a CRI log line: expected '<RFC3339Nano> <stdout|stderr> <P|F> <msg>'"
        elif not time_ok[i]:
            reason = f"unreadable CRI timestamp {line.split(' ', 1)[0]!r}"
        else:
            reason = f"unknown CRI tag {line.split(' ')[2]!r}: expected P or F"
        rejects[owner[i]].add(reason, line, line=int(numbers[i]))
    return rejects


def _records(
    laid: pa.Array,
    kept: np.ndarray,
    longest: int,
    tag: np.ndarray,
    groups: np.ndarray,
    owner: np.ndarray,
    count: int,
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The message of each record the ``kept`` lines make, the lines that head a record, and
    how many lines each of the ``count`` files folded into another: each run of partial (``P``)
    lines joins the next full line of its stream (kubectl logs shows them so)."""
    partial = tag[kept] == ord("P")
    merged = np.zeros(count, dtype=np.int64)
    if not partial.any():
        return _gathered(laid, kept, longest), kept, merged
    group, involved, keep = _partial_groups(groups[kept], partial)
    merged = np.bincount(owner[kept[involved & ~keep]], minlength=count)
    joined = np.flatnonzero(involved & ~keep)  # the lines joined onto the one before
    if (group[joined - 1] == group[joined]).all():  # each record's parts are lines in a row
        message = _gathered(laid, kept, longest, keep)
    else:
        # every line's message in the order of the records they make (a record's parts in a
        # row), gathered once; a record is then the span from its first part to its last
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
    return message, kept[keep], merged


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
    """:func:`finish_logs` for the lines of several files: each row gets its file's key (from
    its path), provenance and ``key_source``."""
    keys = [path_key(origin) for origin in origins]
    # the files that have rows, in order: each column's categories are theirs
    present = np.flatnonzero(np.bincount(owner, minlength=len(origins)))
    # each row's place among them, in the smallest integer that holds it
    rank = np.full(len(origins), -1, dtype=np.int32)
    rank[present] = np.arange(len(present), dtype=np.int32)
    row_rank = rank[owner]
    columns: dict[str, object] = {}
    for column in ("namespace", "pod", "container"):
        values = [key.get(column) for key in keys]
        if any(v is not None for v in values):
            columns[column] = _per_file(values, present, row_rank)
    if any("restart" in key for key in keys):
        restart = pd.array([key.get("restart") for key in keys], dtype="Int64")
        columns["restart"] = restart.take(owner)
    kinds = ["record" if k else "incomplete" for k in keys]
    columns["key_source"] = _per_file(kinds, present, row_rank)
    columns["origin"] = _per_file(origins, present, row_rank)
    return schema.conform("logs", frame.assign(**columns))


def _per_file(values: list[object], present: np.ndarray, row_rank: np.ndarray) -> pd.Categorical:
    """A value per file as a categorical per row: the values of the files that have rows
    (``present``), in the order the files come (as stacking each file's frame would make
    it); ``row_rank`` is each row's file's place among ``present``. The per-file values are
    factorized, and each row's code is found through its file's."""
    codes, uniques = pd.factorize(pd.Series([values[k] for k in present], dtype="object"))
    width = np.int8 if len(uniques) < 128 else np.int16 if len(uniques) < 32768 else np.int32
    table = codes.astype(width)
    return pd.Categorical.from_codes(
        table[row_rank], categories=pd.Index(list(uniques)), validate=False
    )


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
    files = CriFiles()
    for data, origin in payloads:
        files.add(data, origin)
    return parse_cri_files(files)


class CriFiles:
    """CRI log files gathered for one parse (:func:`parse_cri_files`): their bytes joined
    (each file ending with a newline), each file's start in them, and origins.

    Given a ``buffer``, each file is written into it as it is added (over what it held, and
    past its end) and the file's own bytes can go: the buffer, cut to the files' size, is the
    payload. A buffer kept from one group of files to the next is faulted in once, not once
    a group, and the files' bytes are not held twice; nothing may hold a view of it when it
    is written over. Without one, the files' bytes are kept and joined when asked for.

    Examples
    --------
    >>> files = CriFiles(bytearray())
    >>> files.add(b"2024-01-01T00:00:00Z stdout F a", "/var/log/pods/shop_web-1_u1/web/0.log")
    >>> files.add(b"2024-01-01T00:00:01Z stdout F b\\n", "/var/log/pods/shop_db-1_u2/db/0.log")
    >>> (len(files), files.size, files.file(0))
    (2, 64, b'2024-01-01T00:00:00Z stdout F a')
    >>> files.joined()[30:34]
    bytearray(b'a\\n20')
    """

    def __init__(self, buffer: bytearray | None = None) -> None:
        self.parts: list[bytes] = []
        self.lengths: list[int] = []
        self.origins: list[str] = []
        self.starts: list[int] = []
        self.size = 0  # bytes joined, a newline after each file that lacks one
        self.buffer = buffer

    def __len__(self) -> int:
        return len(self.origins)

    def add(self, data: bytes, origin: str) -> None:
        """Add one file's bytes (its last line ends with the file)."""
        at, end = self.size, self.size + len(data)
        self.starts.append(at)
        self.origins.append(origin)
        self.lengths.append(len(data))
        if self.buffer is None:
            self.parts.append(data)
        else:
            self.buffer[at:end] = data  # a copy in place; past the end, it grows the buffer
        self.size = end
        if data and not data.endswith(b"\n"):
            if self.buffer is not None:
                self.buffer[end : end + 1] = b"\n"
            self.size += 1

    def file(self, k: int) -> bytes:
        """The ``k``-th file's bytes, as it was read."""
        if self.buffer is None:
            return self.parts[k]
        start = self.starts[k]
        return bytes(memoryview(self.buffer)[start : start + self.lengths[k]])

    def joined(self) -> bytes | bytearray:
        """The files' bytes in one payload, each file ending with a newline: the buffer (cut
        to the files' size) when there is one."""
        if self.buffer is not None:
            del self.buffer[self.size :]
            return self.buffer
        pieces: list[bytes] = []
        for data in self.parts:
            pieces.append(data)
            if data and not data.endswith(b"\n"):
                pieces.append(b"\n")
        return b"".join(pieces)

    def detach(self) -> None:
        """Copy each file's bytes out of the buffer and let it go (to be written over)."""
        if self.buffer is not None:
            self.parts = [self.file(k) for k in range(len(self))]
            self.buffer = None


def parse_cri_files(files: CriFiles) -> tuple[ParseResult, list[Tally]]:
    """:func:`parse_cri_logs` of files gathered in a :class:`CriFiles`."""
    return _parse_joined(files.joined(), files.starts, files.origins)


def _parse_joined(
    data: bytes | bytearray, file_starts: list[int], origins: list[str]
) -> tuple[ParseResult, list[Tally]]:
    """:func:`parse_cri_logs` of ``data``, files joined (each ending with a newline) that
    start at ``file_starts``; the joined bytes are checked for UTF-8 once."""
    starts = np.array(file_starts, dtype=np.int64)
    if not is_utf8(data):
        # bytes that are no UTF-8 are replaced file by file, as each would be alone (each
        # file ends with a newline, so no bad sequence runs from one file into the next)
        bounds = [*file_starts, len(data)]
        pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
        pieces = [p if is_utf8(p) else p.decode("utf-8", "replace").encode("utf-8") for p in pieces]
        starts = np.cumsum([0] + [len(p) for p in pieces[:-1]], dtype=np.int64)
        data = b"".join(pieces)
    workers = min(os.cpu_count() or 1, 8, max(1, len(data) // _PIECE_BYTES))
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        # the joined bytes are valid UTF-8 now: the parse does not check them again
        return _parse_cri(data, "<files>", pool, workers, _Files(origins, starts), True)
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


#: Lines of a head the CRI sniffer judges.
_SNIFF_LINES = 20
#: A head's first lines when every one starts as a CRI line and ends at a ``\n``: matched at
#: once, where splitting the head and matching line by line costs a kubelet folder of
#: thousands of files more than the rest of its detection.
_CRI_HEAD = re.compile(f"(?:{CRI_LINE_START}[^\n]*\n){{{_SNIFF_LINES}}}")
#: The ASCII characters other than ``\n`` that ``str.splitlines`` breaks a line at.
_ASCII_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e"


def _sniff_cri(head: str, name: str) -> float:
    if _all_cri_lines(head):
        return 0.9 * _SNIFF_LINES / _SNIFF_LINES + 0.05
    lines = _first_lines(head, _SNIFF_LINES)
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return 0.0
    hits = sum(CRI_LINE.match(ln) is not None for ln in lines)
    return 0.9 * hits / len(lines) + (0.05 if hits else 0.0)


def _all_cri_lines(head: str) -> bool:
    """Whether ``head``'s first :data:`_SNIFF_LINES` lines (as ``splitlines`` cuts them) are
    all CRI lines, told without splitting: ASCII lines matched whole, none holding another
    line break (a non-ASCII head may hold one that is no ASCII character: it is split)."""
    found = _CRI_HEAD.match(head)
    if found is None:
        return False
    lines = head[: found.end()]
    return lines.isascii() and not any(mark in lines for mark in _ASCII_BREAKS)


register(
    "cri-log",
    "kubelet container logs in the CRI format (/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log)",
    _sniff_cri,
    parse_cri_log,
    head_lines=_SNIFF_LINES,
)


# --- reading a window of a large CRI file --------------------------------------------------------

#: Bytes of a large CRI file read and parsed at a time by :func:`read_cri_window` (it seeks
#: to the window first, so a piece about the size of a window's lines is enough; each piece's
#: lines are scanned whole).
WINDOW_PIECE_BYTES = 8 << 20
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
    end = len(data)
    while end and data[end - 1] == 10:  # trailing newlines, without copying the payload
        end -= 1
    cut = data.find(b"\n", 0, end)
    first = data[: cut if cut >= 0 else end]
    last = data[data.rfind(b"\n", 0, end) + 1 : end]
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
    """Read a CRI file piece by piece, parsing only the pieces whose lines may fall in
    ``[start, end]`` and keeping only their rows inside it: memory holds one piece and what is
    kept, not the file. An uncompressed file is entered by bisection on byte offsets
    (:func:`_seek_point`); a gzip, xz or zstd one is streamed from its start (a damaged
    stream keeps what came before the damage, and says so in the result's notes).

    CRI files are written in time order, so a piece whose last line is before ``start`` is
    passed over unparsed (its lines counted, for the line numbers after it), and reading stops
    at the first piece whose first line is after ``end``. Pieces end where no stream's partial
    line is open. Returns the result and a note saying what was passed over and left out; the
    result's ``records`` count the records of the rows kept, the rejects and the merged lines
    (the ledger balances over what was taken), and the rows left out are in the note.
    """
    parsed: list[ParseResult] = []
    records = merged = dropped = 0
    size = os.path.getsize(path)
    damage = None
    with open(path, "rb") as fh:
        plain = compression(fh.read(8)) is None
        # seek to the window: what comes before it is counted (for the line numbers) and its
        # end parsed for the levels it hands on, not parsed whole; a compressed file cannot
        # seek, and streams from its start
        offset = 0 if start is None or not plain else _seek_point(fh, size, start)
        lines_before = _count_lines(fh, offset)
        carried = _levels_before(fh, offset, path)
        skipped_bytes = offset
        fh.seek(offset)
        stream = _chunks(fh) if plain else stream_lines(path, WINDOW_PIECE_BYTES)
        carry = b""
        while True:
            try:
                chunk = next(stream, b"")
            except (EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
                damage = (
                    f"the compressed stream is truncated or corrupt ({exc}); read what came before"
                )
                chunk = b""
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
                skipped_bytes += size - offset if plain else len(piece)
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
    of = f"of {size:,} bytes" if plain else "decompressed bytes"
    note = (
        f"read for the window: {skipped_bytes:,} {of} passed over unparsed (outside it"
        f"{'' if plain else '; what follows the window not decompressed'}), {dropped:,} parsed "
        f"row(s) outside the window or keys left out"
    )
    result = ParseResult(records=records, logs=logs, rejects=rejects, merged=merged)
    if damage is not None:
        result.notes.append(damage)
    return result, note


def _chunks(fh) -> Iterator[bytes]:
    """The open file from where it is, :data:`WINDOW_PIECE_BYTES` at a time."""
    while chunk := fh.read(WINDOW_PIECE_BYTES):
        yield chunk


#: Bytes read at a probe of the bisection for a window's start.
_PROBE_BYTES = 64 << 10


def _seek_point(fh, size: int, when: pd.Timestamp) -> int:
    """Where to start reading a CRI file (in time order) for lines at or after ``when``: a
    line start before its first such line where no stream's partial line is open, found by
    bisection on byte offsets (the time of the first whole line after each probe), then
    moved back :data:`_RUN_BYTES` (a partial line's run takes its first part's time) to a
    closed cut. 0 when there is no such place, or the file is small."""
    lo, hi = 0, size  # lo: a line start, the lines before it seen (by order) to be early
    while hi - lo > WINDOW_PIECE_BYTES:
        mid = (lo + hi) // 2
        fh.seek(mid)
        data = fh.read(_PROBE_BYTES)
        begin = data.find(b"\n") + 1
        stamp = None
        while begin and stamp is None:
            end = data.find(b"\n", begin)
            if end < 0:
                break
            stamp = _line_time(data[begin:end])
            begin = end + 1 if stamp is None else begin
        if stamp is None or stamp >= when:
            hi = mid
        else:
            lo = mid + begin
    if lo <= _RUN_BYTES:
        return 0
    fh.seek(lo - _RUN_BYTES)
    data = fh.read(_RUN_BYTES)
    first = data.find(b"\n") + 1
    cut = _closed_cut(data[first:]) if first else 0
    return lo - _RUN_BYTES + first + cut if cut else 0


def _count_lines(fh, end: int) -> int:
    """Newlines in the first ``end`` bytes of the open file, read a piece at a time into one
    buffer."""
    fh.seek(0)
    count = 0
    buf = bytearray(min(end, WINDOW_PIECE_BYTES))
    view = memoryview(buf)
    while end > 0:
        n = fh.readinto(view[: min(end, len(buf))])
        if not n:
            break
        count += buf.count(b"\n", 0, n)
        end -= n
    return count


def _levels_before(fh, offset: int, path: str) -> dict[str, int]:
    """The levels the lines before ``offset`` hand on to continuation lines after it (see
    :func:`_carry_levels`): the pieces before it, last first, until each stream's is found
    or the file's start."""
    carried: dict[str, int] = {}
    end = offset
    while end > 0 and len(carried) < len(_STREAMS):
        begin = max(0, end - WINDOW_PIECE_BYTES)
        fh.seek(begin)
        piece = fh.read(end - begin)
        if begin:
            skip = piece.find(b"\n") + 1
            begin, piece = (begin + skip, piece[skip:]) if skip else (begin, piece)
        found = _levels_after(piece, path, {})
        carried = {**found, **carried}  # later pieces' levels win
        end = begin
    return carried


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
    cont = continuation_lines(arrow_strings(frame["message"]))
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
