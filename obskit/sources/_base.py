"""What every source module shares: the parse result, the rejects ledger, the format registry,
and reading (possibly compressed) bytes from disk.

A source module defines ``parse_<format>(data, origin=...) -> ParseResult`` (pure: bytes in,
frames and rejects out), a ``sniff`` function that says how sure it is that a file's first bytes
(and, where the deciding field comes last, its last bytes) are its format, and registers both
with :func:`register` in one line beside them.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import itertools
import lzma
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit.errors import SourceError, UnknownFormatError

__all__ = [
    "Format",
    "ParseResult",
    "Rejects",
    "Tally",
    "decode_head",
    "decode_tail",
    "detect",
    "drop_bad_times",
    "first_line",
    "first_record",
    "gc_paused",
    "get_format",
    "may_hold_far_out",
    "read_bytes",
    "register",
    "registry",
    "stream_lines",
]

# --- byte ranges as Arrow strings ---------------------------------------------------------------


def laid_ranges(buf: pa.Buffer | bytes, lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    """Byte ranges ``[lo, hi)`` of ``buf`` and the gaps between them, as one ``large_binary``
    array laid over ``buf`` without a copy (range ``i`` is value ``2i``).

    The ranges must be in order and must not overlap (``lo[i] <= hi[i] <= lo[i + 1]``).
    """
    offsets = np.empty(2 * len(lo) + 1, dtype=np.int64)
    offsets[0:-1:2] = lo
    offsets[1::2] = hi
    offsets[-1] = hi[-1] if len(hi) else 0
    data = buf if isinstance(buf, pa.Buffer) else pa.py_buffer(buf)
    return pa.Array.from_buffers(
        pa.large_binary(), 2 * len(lo), [None, pa.py_buffer(offsets), data]
    )


def byte_ranges(buf: pa.Buffer | bytes, lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    """The byte ranges ``[lo, hi)`` of ``buf`` as one ``large_binary`` array (one copy; the
    ranges in order, not overlapping, as :func:`laid_ranges` needs them)."""
    if len(lo) == 0:
        return pa.array([], type=pa.large_binary())
    return laid_ranges(buf, lo, hi).take(pa.array(np.arange(0, 2 * len(lo), 2, dtype=np.int64)))


#: Rows a run of consecutive rows holds on average, at least, for :func:`taken_text` to copy
#: the runs whole: below it Arrow's ``take``, a copy per value, is as fast.
_RUN_ROWS = 16


def taken_text(values: pa.Array | pa.ChunkedArray, order: np.ndarray) -> pa.Array:
    """The strings of ``values`` at rows ``order`` (each once at most), as one array in
    :func:`large_buffer_pool`.

    Where ``order`` is made of long runs of consecutive rows (files written in time order,
    stacked), each run's bytes are copied in one piece; otherwise Arrow's ``take`` copies each
    value. One chunk is read in place; more are taken from where they lie
    (:func:`_laid_over_chunks`), or else joined first (Arrow takes from pieces at half the
    speed).
    """
    pool = large_buffer_pool()
    n = len(order)
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    wide = values.type in (pa.large_string(), pa.large_binary())
    by_value = not n or not wide or len(breaks) * _RUN_ROWS > n
    if isinstance(values, pa.ChunkedArray):
        laid = _laid_over_chunks(values) if by_value and n and wide else None
        if laid is not None:
            array, place = laid  # no place: the chunks lie in the order of their rows
            at = 2 * (order if place is None else place[order])
            return pc.take(array, pa.array(at), memory_pool=pool).view(values.type)
        values = (
            values.chunk(0) if values.num_chunks == 1 else values.combine_chunks(memory_pool=pool)
        )
    if by_value:
        return pc.take(values, pa.array(order), memory_pool=pool)
    _, offset_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offset_buf, dtype=np.int64)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    first = np.concatenate(([0], breaks))
    last = np.append(breaks, n) - 1
    lo, hi = offsets[order[first]], offsets[order[last] + 1]
    sizes = np.diff(offsets)[order]
    bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    out = pa.allocate_buffer(int(bounds[-1]), memory_pool=pool)
    if out.size:
        target = np.frombuffer(out, dtype=np.uint8)
        source = np.frombuffer(data_buf, dtype=np.uint8)
        for start, a, b in zip(bounds[first].tolist(), lo.tolist(), hi.tolist(), strict=True):
            target[start : start + b - a] = source[a:b]
    valid = None
    if values.null_count:
        mask = values.is_valid().to_numpy(zero_copy_only=False)[order]
        valid = pa.py_buffer(np.packbits(mask, bitorder="little"))
    return pa.Array.from_buffers(values.type, n, [valid, pa.py_buffer(bounds), out])


def _laid_over_chunks(chunks: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray | None] | None:
    """Text in several chunks (a load's groups of files) as one array of their values and
    the gaps between them (as :func:`laid_ranges` lays them) over all their bytes where they
    lie, and the place of each row's value in it (row ``r`` is value ``2 * place[r]``):
    Arrow's ``take`` from it copies the text once, where joining the chunks first copies it
    twice, the second time into 200 MB of fresh memory for a node's folder. The array spans
    the chunks' data buffers from the lowest address to the end of the highest, what lies
    between them never read: only the rows' own ranges are taken. None where the chunks
    hold nulls, or bytes another chunk holds too (slices of one array), or fewer than two
    hold rows: they are joined instead."""
    spans = []  # (first byte's address, the chunk's offsets, its first row)
    rows = 0
    for chunk in chunks.chunks:
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        if chunk.null_count or data is None:
            return None
        bounds = np.frombuffer(offsets, dtype=np.int64)
        bounds = bounds[chunk.offset : chunk.offset + len(chunk) + 1]
        spans.append((data.address + int(bounds[0]), bounds, rows))
        rows += len(chunk)
    if len(spans) < 2:
        return None
    rank = sorted(range(len(spans)), key=lambda k: spans[k][0])
    ordered = [spans[k] for k in rank]
    for (at, bounds, _), (after, _, _) in itertools.pairwise(ordered):
        if at + int(bounds[-1] - bounds[0]) > after:
            return None  # two chunks share bytes (slices of one array)
    base = ordered[0][0]
    # the values' starts and ends, chunk after chunk in address order, written in place
    laid = np.empty(2 * rows + 1, dtype=np.int64)
    place = None if rank == sorted(rank) else np.empty(rows, dtype=np.int64)
    at_value = 0
    for at, bounds, first in ordered:
        n = len(bounds) - 1
        shift = at - base - int(bounds[0])
        np.add(bounds[:-1], shift, out=laid[2 * at_value : 2 * (at_value + n) : 2])
        np.add(bounds[1:], shift, out=laid[2 * at_value + 1 : 2 * (at_value + n) + 1 : 2])
        if place is not None:
            place[first : first + n] = np.arange(at_value, at_value + n)
        at_value += n
    laid[-1] = laid[-2]
    top = max(at + int(bounds[-1] - bounds[0]) for at, bounds, _ in ordered)
    whole = pa.foreign_buffer(base, top - base, base=chunks)  # keeps the chunks alive
    array = pa.Array.from_buffers(pa.large_binary(), 2 * rows, [None, pa.py_buffer(laid), whole])
    return array, place


#: How many characters of an unreadable record the rejects table keeps.
RAW_LIMIT = 500
#: How many bytes of a file the format sniffers look at, at its start (extended to the end of
#: its first record) and at its end.
SNIFF_BYTES = 64 * 1024
#: Longest first line the sniffers get whole (see :func:`decode_head`).
RECORD_BYTES = 1024 * 1024

_FRAMES = ("metrics", "events", "logs", "inventory")


@dataclass
class ParseResult:
    """What a parser made of one payload.

    ``records`` counts the payload's input records in the format's own unit (a line, a sample,
    an item); ``merged`` counts records folded into another row (a CRI partial line). The
    ledger always balances: ``records == rows + len(rejects) + merged``. ``stamped`` marks, by
    frame, the rows whose time the parser supplied because their record had none (a scrape
    time): :func:`reject_far_out_times` judges only the times written in the records.
    """

    records: int
    metrics: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    logs: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None
    rejects: pd.DataFrame = field(default_factory=lambda: schema.empty("rejects"))
    merged: int = 0
    notes: list[str] = field(default_factory=list)
    stamped: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows produced across the four frames."""
        return sum(len(f) for f in (getattr(self, n) for n in _FRAMES) if f is not None)

    def balanced(self) -> bool:
        """True when every input record is a row, a reject, or merged into a row."""
        return self.records == self.rows + len(self.rejects) + self.merged


@dataclass(frozen=True)
class Tally:
    """One file's counts in a result parsed together with other files (its ledger row):
    ``records == rows + rejects + merged`` when it balances."""

    records: int
    rows: int
    rejects: int
    merged: int = 0
    notes: tuple[str, ...] = ()

    def balanced(self) -> bool:
        """True when every input record is a row, a reject, or merged into a row."""
        return self.records == self.rows + self.rejects + self.merged


# --- timestamps far outside their payload ---------------------------------------------------

#: A signal row is far out when its timestamp lies beyond its payload's quartiles by more than
#: this many interquartile ranges (Tukey's "far out") ...
FAR_OUT_IQRS = 3
#: ... and by more than this: a payload's rows may well spread over months (a quiet container's
#: log), but not over years when most of them sit within hours.
FAR_OUT_MIN = pd.Timedelta(days=365)


def reject_far_out_times(result: ParseResult, fmt: str, origin: str) -> ParseResult:
    """Move the signal rows (metrics, events, logs) dated far outside the rest of their payload
    to the rejects: a clock years off, or a corrupt record, would otherwise stretch the whole
    investigation over years.

    The rule uses only the payload's own timestamps: a row is far out when its timestamp lies
    more than ``max(FAR_OUT_IQRS × IQR, FAR_OUT_MIN)`` beyond the payload's quartiles (IQR: the
    span of its middle half). Rows stay balanced: each moved row is a reject that says how far
    off it is.

    Examples
    --------
    >>> import pandas as pd
    >>> times = pd.to_datetime(["2024-05-14T10:00:00Z"] * 4 + ["2030-05-14T10:00:00Z"])
    >>> r = ParseResult(records=5, logs=schema.conform("logs", pd.DataFrame({"timestamp": times})))
    >>> r = reject_far_out_times(r, "cri-log", "0.log")
    >>> (len(r.logs), len(r.rejects), r.balanced())
    (4, 1, True)
    """
    frames = {
        name: frame
        for name in ("metrics", "events", "logs")
        if (frame := getattr(result, name)) is not None and len(frame)
    }
    stamps = {name: _ns(frame["timestamp"]) for name, frame in frames.items()}
    written = {name: _written(ns, result.stamped.get(name)) for name, ns in stamps.items()}
    # a frame whose times are all written is read in place: no copy of a million times
    parts = [ns if written[name].all() else ns[written[name]] for name, ns in stamps.items()]
    known = parts[0] if len(parts) == 1 else np.concatenate(parts or [_NONE])
    if not may_hold_far_out(known):
        return result  # nothing can lie that far from the rest: no quartiles needed
    q1, q3 = np.quantile(known, [0.25, 0.75])
    reach = max(FAR_OUT_IQRS * (q3 - q1), FAR_OUT_MIN.value)
    rejects = Rejects(fmt, origin)
    for name, frame in frames.items():
        ns = stamps[name]
        far = written[name] & ((ns < q1 - reach) | (ns > q3 + reach))
        if far.any():
            for row in frame.loc[far].to_dict("records"):
                rejects.add(_far_reason(row["timestamp"], q1, q3), _evidence(row), line=_line(row))
            setattr(result, name, frame.loc[~far].reset_index(drop=True))
            if name in result.stamped:
                result.stamped[name] = result.stamped[name][~far]
    if len(rejects):
        result.rejects = schema.concat("rejects", [result.rejects, rejects.frame()])
        result.notes.append(
            f"{len(rejects):,} row(s) dated years away from the rest of the file are rejects"
        )
    return result


def may_hold_far_out(ns: np.ndarray) -> bool:
    """Whether written times (int64 ns) spread wide enough for :func:`reject_far_out_times` to
    find a row far out; when they do not, it returns a payload unchanged."""
    return len(ns) >= 2 and int(ns.max()) - int(ns.min()) > FAR_OUT_MIN.value


_NAT = np.iinfo(np.int64).min
_NONE = np.array([], dtype=np.int64)


def _written(ns: np.ndarray, stamped: np.ndarray | None) -> np.ndarray:
    """Which of a frame's times were written in its records (not NaT, not stamped)."""
    known = ns != _NAT
    if stamped is not None and len(stamped) == len(ns):
        known &= ~stamped
    return known


def _ns(times: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds (NaT as the smallest int64)."""
    return times.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _far_reason(when: pd.Timestamp, q1: float, q3: float) -> str:
    lo, hi = (pd.Timestamp(int(q), tz="UTC") for q in (q1, q3))
    side, gap = ("after", when - hi) if when > hi else ("before", lo - when)
    return (
        f"timestamp {when.isoformat()} lies {gap.days / 365.25:.1f} years {side} the rest of "
        f"this file (half its rows are between {lo:%Y-%m-%d %H:%M} and {hi:%Y-%m-%d %H:%M} "
        f"UTC): a clock far off, or a corrupt record"
    )


def _evidence(row: dict) -> str:
    """The row's original record when it kept one, else its values."""
    if isinstance(row.get("raw"), str):
        return row["raw"]
    return str({k: str(v) for k, v in row.items() if k != "origin" and not _missing(v)})


def _missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and pd.isna(value))


def _line(row: dict) -> int | None:
    line = row.get("line")
    return None if _missing(line) else int(line)


class Rejects:
    """Collects the records a parser could not read, with where and why.

    Examples
    --------
    >>> r = Rejects("cri-log", "0.log")
    >>> r.add("no CRI stream field", "garbage", line=3)
    >>> r.frame()[["line", "reason"]].to_dict("records")
    [{'line': 3, 'reason': 'no CRI stream field'}]
    """

    def __init__(self, fmt: str, origin: str) -> None:
        self.format = fmt
        self.origin = origin
        self._rows: list[dict[str, object]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(
        self,
        reason: str,
        raw: str | bytes | None,
        *,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        """Record one unreadable record; ``raw`` is cut to :data:`RAW_LIMIT` characters."""
        self._rows.append({"reason": reason, "raw": cut(raw), "line": line, "offset": offset})

    def extend(self, frame: pd.DataFrame) -> None:
        """Add rows built in bulk (columns ``reason``, ``raw``, and ``line`` or ``offset``)."""
        for row in frame.to_dict("records"):
            self.add(
                str(row["reason"]), row.get("raw"), line=row.get("line"), offset=row.get("offset")
            )

    def frame(self) -> pd.DataFrame:
        """The rejects as a frame that matches ``schema.FRAMES['rejects']``."""
        return Rejects.frame_of([self])

    @staticmethod
    def frame_of(ledgers: list[Rejects]) -> pd.DataFrame:
        """The rejects of several files as one frame, file after file (one conforming step,
        not one a file)."""
        rows = [row for ledger in ledgers for row in ledger._rows]
        df = pd.DataFrame(rows, columns=["line", "offset", "reason", "raw"])
        if len(ledgers) == 1:
            df["format"] = ledgers[0].format
            df["origin"] = ledgers[0].origin
        else:
            df["format"] = [ledger.format for ledger in ledgers for _ in ledger._rows]
            df["origin"] = [ledger.origin for ledger in ledgers for _ in ledger._rows]
        return schema.conform("rejects", df)


def drop_bad_times(frame: pd.DataFrame, rejects: Rejects, stamps: list) -> pd.DataFrame:
    """``frame`` without its rows whose ``timestamp`` could not be read, each added to
    ``rejects`` with the time as written (``stamps``, by row), its ``message`` and ``line``.

    Examples
    --------
    >>> rejects = Rejects("jsonl-log", "app.log")
    >>> frame = pd.DataFrame({"timestamp": [pd.Timestamp("2024-01-01", tz="UTC"), pd.NaT],
    ...                       "message": ["ok", "late"], "line": [1, 2]})
    >>> drop_bad_times(frame, rejects, ["2024-01-01", "yesterday"])["message"].tolist()
    ['ok']
    >>> rejects.frame()[["line", "reason"]].values.tolist()
    [[2, "unreadable time 'yesterday'"]]
    """
    bad = frame["timestamp"].isna().to_numpy()
    for i in np.flatnonzero(bad):
        rejects.add(
            f"unreadable time {stamps[i]!r}",
            frame["message"].iat[i],
            line=int(frame["line"].iat[i]),
        )
    return frame.loc[~bad].reset_index(drop=True)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large body decodes: it would rescan the millions of small
    dicts and lists the body becomes, many times over, and find no cycle in them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def is_utf8(data: bytes, lo: int = 0, hi: int | None = None) -> bool:
    """Whether ``data[lo:hi]`` is valid UTF-8 (checked by Arrow in C++, without a copy)."""
    hi = len(data) if hi is None else hi
    whole = pa.Array.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([lo, hi], dtype=np.int64)), pa.py_buffer(data)],
    )
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


@functools.cache
def large_buffer_pool() -> pa.MemoryPool | None:
    """The Arrow memory pool for a loader's payload-sized buffers: jemalloc's when pyarrow has
    it (else None: the default). The default pool, mimalloc, maps transparent huge pages for
    so large a buffer, and where memory is fragmented (virtual machines) the kernel compacts
    it to fault each one in: a 200 MB copy took 0.06 to 0.6 s in them, ~0.15 s in 4 kB pages.
    jemalloc returns freed memory to the system on its own schedule (seconds), not at once."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return None


def utf8_or_replaced(data: bytes) -> tuple[bytes, str | None]:
    """``data`` when it is valid UTF-8, else a copy with each invalid byte sequence replaced by
    U+FFFD and a note saying where the first one was (Arrow validates the bytes in C++).

    Examples
    --------
    >>> utf8_or_replaced(b"ok")
    (b'ok', None)
    >>> utf8_or_replaced(b"a\\xffb")
    (b'a\\xef\\xbf\\xbdb', 'invalid UTF-8 at byte 1 (and any after it) replaced by U+FFFD')
    """
    if is_utf8(data):
        return data, None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start
    return (
        data.decode("utf-8", "replace").encode("utf-8"),
        f"invalid UTF-8 at byte {at} (and any after it) replaced by U+FFFD",
    )


def cut(raw: str | bytes | None, limit: int = RAW_LIMIT) -> str | None:
    """Shorten ``raw`` for the rejects table, saying how long it was."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    if len(raw) <= limit:
        return raw
    return f"{raw[:limit]}… [{len(raw):,} characters in all]"


# --- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """A registered input format.

    ``sniff(head, name)`` gets the start of the (decompressed) file as text (see
    :func:`decode_head`) and the file name, and returns a confidence from 0 (not this format) to
    1 (certainly). A format whose deciding field may come last (a YAML List's ``kind: List``,
    Loki's statistics) registers with ``reads_tail=True`` and is called as
    ``sniff(head, name, tail)`` with the file's last :data:`SNIFF_BYTES` as well.
    ``parse(data, origin)`` turns the whole payload into a :class:`ParseResult`.
    ``ceiling`` is the highest confidence ``sniff`` ever returns: :func:`detect` leaves a
    sniffer unrun when a likelier format is already surer than it can be. ``container_logs``
    False says the sniffer never claims a head whose first non-blank line is a container
    runtime (CRI) log line (:func:`container_log_head`: a container that prints this format's
    records writes its own log); :func:`detect` does not run it on such a head.
    ``head_lines`` N says the sniffer judges only the head's first N lines
    (``head.splitlines()[:N]``): :func:`detect_first_lines` may then show it those alone.
    """

    name: str
    description: str
    sniff: Callable[..., float]
    parse: Callable[..., ParseResult]
    reads_tail: bool = False
    ceiling: float = 1.0
    container_logs: bool = True
    head_lines: int | None = None


_REGISTRY: dict[str, Format] = {}


def register(
    name: str,
    description: str,
    sniff: Callable[..., float],
    parse: Callable[..., ParseResult],
    *,
    reads_tail: bool = False,
    ceiling: float = 1.0,
    container_logs: bool = True,
    head_lines: int | None = None,
) -> Format:
    """Register a format under ``name`` (one line beside the parser that implements it);
    ``reads_tail`` hands its sniffer the file's last bytes too, ``ceiling`` is the most its
    sniffer ever returns, ``container_logs=False`` says it never claims a head of container
    log lines, ``head_lines`` that it judges a head by its first lines only (see
    :class:`Format`)."""
    fmt = Format(name, description, sniff, parse, reads_tail, ceiling, container_logs, head_lines)
    _REGISTRY[name] = fmt
    return fmt


def registry() -> dict[str, Format]:
    """The registered formats by name, in registration order."""
    return dict(_REGISTRY)


def get_format(name: str) -> Format:
    """Return the format registered as ``name``.

    Raises
    ------
    UnknownFormatError
        Naming the valid formats.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {name!r}; the formats are: {', '.join(sorted(_REGISTRY))} "
            f"(see obskit.FORMATS)"
        ) from None


def detect(
    head: str, name: str = "", tail: str | Callable[[], str] = "", likely: str | None = None
) -> Format | None:
    """The format whose sniffer is most confident about ``head`` (and ``tail``, the file's end,
    for the formats that read it), or None below 0.5; of equally confident ones, the first
    registered.

    ``tail`` may be a function that returns it: it is called only when a sniffer that reads
    the tail runs. A head whose first line is a container runtime (CRI) log line is not shown
    to the formats registered with ``container_logs=False``. ``likely`` names a format to
    sniff first (a kubelet log path's CRI): the sniffers whose ``ceiling`` cannot beat its
    confidence are then not run. The answer is the same, in fewer sniffs."""
    formats = list(_REGISTRY.values())
    if container_log_head(head):
        formats = [fmt for fmt in formats if fmt.container_logs]
    text = _Tail(tail)
    lead = _REGISTRY[likely] if likely is not None else None
    if lead in formats:
        sure = _sniffed(lead, head, name, text)
        formats = _contenders(formats, lead, sure)
    best, score = None, 0.0
    for fmt in formats:
        s = sure if fmt is lead else _sniffed(fmt, head, name, text)
        if s > score:
            best, score = fmt, s
    return best if score >= 0.5 else None


def _contenders(formats: list[Format], lead: Format, sure: float) -> list[Format]:
    """The formats of ``formats`` :func:`detect` still runs once ``lead`` is ``sure``: those
    whose ceiling can beat it, or tie it registered before it (and the lead)."""
    rank = formats.index(lead)
    return [
        fmt
        for k, fmt in enumerate(formats)
        if fmt.ceiling > sure or (fmt.ceiling == sure and k < rank) or fmt is lead
    ]


def detect_first_lines(data: bytes, name: str, likely: str) -> Format | None:
    """:func:`detect`'s answer for ``data`` with ``likely`` sniffed first, found from its first
    lines alone when that suffices, without decoding its head; None when it does not (then
    :func:`detect` must run). It suffices when ``likely`` judges only the first N lines
    (``head_lines``), the first N + 1 newlines lie in the head's first :data:`SNIFF_BYTES`,
    and ``likely`` is then surer than any other format that could run can be: every line it
    judges is whole in those bytes (decoded up to a newline, they are the head's own start),
    and no other sniffer sees them."""
    lead = _REGISTRY[likely]
    if lead.head_lines is None or lead.reads_tail:
        return None
    end = -1
    for _ in range(lead.head_lines + 1):
        end = data.find(b"\n", end + 1, SNIFF_BYTES)
        if end < 0:
            return None
    head = str(memoryview(data)[: end + 1], "utf-8", "replace")
    if "\n" not in head.lstrip():
        return None  # the first non-blank line, which decides the container logs, lies beyond
    formats = list(_REGISTRY.values())
    if container_log_head(head):
        formats = [fmt for fmt in formats if fmt.container_logs]
    if lead not in formats:
        return None
    sure = lead.sniff(head, name)
    if sure < 0.5 or _contenders(formats, lead, sure) != [lead]:
        return None
    return lead


class _Tail:
    """A file's tail for the sniffers, made once, and only when one of them reads it."""

    def __init__(self, tail: str | Callable[[], str]) -> None:
        self._tail = tail

    def __call__(self) -> str:
        if not isinstance(self._tail, str):
            self._tail = self._tail()
        return self._tail


def _sniffed(fmt: Format, head: str, name: str, tail: str | Callable[[], str]) -> float:
    """``fmt``'s confidence about a file's head (and tail, if its sniffer reads it; ``tail``
    may be a function that returns it)."""
    if not fmt.reads_tail:
        return fmt.sniff(head, name)
    return fmt.sniff(head, name, tail if isinstance(tail, str) else tail())


# --- reading bytes --------------------------------------------------------------------------

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def compression(prefix: bytes) -> str | None:
    """The compression a file's first bytes announce (gzip, xz, zstd), or None."""
    for magic, kind in _MAGIC.items():
        if prefix.startswith(magic):
            return kind
    return None


#: Most bytes one decompression step may produce (gzip and xz; zstd: see :data:`_ZSTD_IN`).
_STEP = 1 << 20
#: Compressed bytes fed to gzip and xz at a time.
_IN = 1 << 16
#: Compressed bytes fed to zstd at a time: its decoder takes no output bound, and a 4 kB input
#: expands to at most 128 MB (a block of up to 128 kB for each 4-byte block header).
_ZSTD_IN = 4096


def read_bytes(path: str | Path, limit: int | None = None) -> tuple[bytes, str | None]:
    """Read ``path``, decompressing gzip, xz or zstd by content (not by name).

    Decompression streams, and stops as soon as the content passes ``limit`` bytes (None: no
    bound), so a small file that expands to gigabytes (or whose gzip size trailer lies) is
    refused before it takes the memory. Concatenated members (gzip), streams (xz) and frames
    (zstd) are all read.

    Returns the bytes and, for a truncated or corrupt compressed file, a note saying how much
    was recovered (the records decoded before the damage are kept).

    Raises
    ------
    SourceError
        When the file cannot be opened, naming it and the OS error; or when it expands past
        ``limit``, naming its compressed size, how far it expanded and what to do.
    """
    path = path if isinstance(path, Path) else Path(path)
    try:
        raw = _read_whole(path)
    except OSError as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    kind = compression(raw[:8])
    if kind is None:
        return raw, None
    # grown in place and handed over without a copy: about 1.1 times the content at its peak,
    # where joining pieces (or gzip.decompress) takes twice
    out = io.BytesIO()
    try:
        for piece in _inflate(raw, kind):
            out.write(piece)
            if limit is not None and out.tell() > limit:
                raise SourceError(
                    f"{str(path)!r} is {len(raw):,} bytes of {kind} that expand past "
                    f"{limit:,} bytes (stopped at {out.tell():,}, {out.tell() / len(raw):,.0f}x "
                    f"its size), more than this load's memory budget leaves for it: a "
                    f"decompression bomb, or a size trailer that lies. If it is genuine, load it "
                    f"alone with a larger memory_budget, or split it (e.g. {kind} -dc FILE | "
                    f"split -l 1000000)"
                )
    except (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as exc:
        partial = out.getvalue()
        return partial, (
            f"{kind} stream is truncated or corrupt ({exc}); kept the {len(partial):,} bytes "
            f"decoded before the damage"
        )
    return out.getvalue(), None


#: Files up to this size are read with one ``os.read`` sized by ``fstat``; larger ones by
#: Python's file object, which grows one buffer instead of holding pieces to join.
_ONE_READ_BYTES = 64 << 20


def _read_whole(path: Path) -> bytes:
    """All of ``path``'s bytes, to its end (a file still written to is read as far as it goes).
    A small file takes four system calls and no file object: a folder holds thousands."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if not 0 < size <= _ONE_READ_BYTES:
            with open(fd, "rb", closefd=False) as fh:
                return fh.read()
        parts = [os.read(fd, size)]
        while chunk := os.read(fd, 1 << 20):  # empty at the end, as a rule at once
            parts.append(chunk)
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _inflate(raw: bytes, kind: str) -> Iterator[bytes]:
    """The decompressed bytes of ``raw`` in bounded pieces, member after member.

    Raises EOFError where the input ends inside a member, ValueError where bytes that are no
    member (nor zero padding) follow one, and the codec's own error where the data is corrupt.
    """
    view = memoryview(raw)
    start = 0
    while True:
        decoder = _decoder(kind)
        size = _ZSTD_IN if kind == "zstd" else _IN
        pos = start
        while not decoder.eof:
            if pos >= len(raw):
                raise EOFError(f"the {kind} stream ended before its end marker")
            chunk = view[pos : pos + size]
            pos += len(chunk)
            yield from _feed(decoder, chunk, kind)
        start = _past_zeros(raw, pos - len(decoder.unused_data))  # xz pads streams with zeros
        if start >= len(raw):
            return
        if compression(view[start : start + 8].tobytes()) != kind:
            raise ValueError(f"{len(raw) - start:,} bytes after the {kind} data are not {kind}")


def stream_lines(path: str | Path, piece: int, offset: int = 0) -> Iterator[bytes]:
    """The (decompressed) bytes of ``path`` from ``offset`` on, in pieces of whole lines of
    about ``piece`` bytes (the last may end without a newline): memory holds one piece, not
    the file. Gzip, xz and zstd are decompressed by content as they stream (``offset`` then
    counts decompressed bytes from the start). Raises as the codecs do where the compressed
    data is damaged (the pieces before the damage have been yielded)."""
    with open(path, "rb") as fh:
        kind = compression(fh.read(8))
        fh.seek(0)
        chunks = _chunks(fh, piece) if kind is None else _inflate_file(fh, kind)
        if kind is None:
            fh.seek(offset)
            offset = 0
        carry = bytearray()  # grown in place: decompressed steps are small
        for chunk in chunks:
            if offset:
                skip = min(offset, len(chunk))
                chunk, offset = chunk[skip:], offset - skip
            carry += chunk
            while len(carry) >= piece:
                cut = (carry.rfind(b"\n", 0, piece) + 1) or (carry.find(b"\n", piece) + 1)
                if not cut:
                    break  # a line longer than a piece: read on to its end
                yield bytes(carry[:cut])
                del carry[:cut]
        if carry:
            yield bytes(carry)


def _chunks(fh: Any, size: int) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def _inflate_file(fh: Any, kind: str) -> Iterator[bytes]:
    """:func:`_inflate` of an open file, read :data:`_IN` bytes at a time (not held whole)."""
    pending = b""
    while True:
        decoder = _decoder(kind)
        size = _ZSTD_IN if kind == "zstd" else _IN
        while not decoder.eof:
            chunk, pending = pending or fh.read(size), b""
            if not chunk:
                raise EOFError(f"the {kind} stream ended before its end marker")
            yield from _feed(decoder, memoryview(chunk), kind)
        rest = decoder.unused_data.lstrip(b"\0")  # xz pads streams with zeros
        while len(rest) < 8:
            more = fh.read(_IN)
            if not more:
                break
            rest = (rest + more).lstrip(b"\0")
        if not rest:
            return
        if compression(rest[:8]) != kind:
            raise ValueError(f"bytes after the {kind} data are not {kind}")
        pending = rest


def _past_zeros(raw: bytes, start: int) -> int:
    """Where the first byte at or after ``start`` that is not zero is (``len(raw)``: none)."""
    while start < len(raw):
        piece = raw[start : start + _IN]
        kept = piece.lstrip(b"\0")
        if kept:
            return start + len(piece) - len(kept)
        start += len(piece)
    return start


def _decoder(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "xz":
        return lzma.LZMADecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _feed(decoder: Any, chunk: memoryview, kind: str) -> Iterator[bytes]:
    """What ``decoder`` makes of ``chunk``, at most :data:`_STEP` bytes a piece (gzip, xz)."""
    if kind == "gzip":
        out = decoder.decompress(chunk, _STEP)
        yield out
        while not decoder.eof and (decoder.unconsumed_tail or len(out) == _STEP):
            out = decoder.decompress(decoder.unconsumed_tail, _STEP)
            yield out
    elif kind == "xz":
        yield decoder.decompress(chunk, _STEP)
        while not decoder.needs_input and not decoder.eof:
            yield decoder.decompress(b"", _STEP)
    else:
        import zstandard

        try:
            yield decoder.decompress(chunk)
        except zstandard.ZstdError as exc:
            raise ValueError(str(exc)) from exc


_LEADING_SPACE = re.compile(rb"\s*")


def decode_head(data: bytes) -> str:
    """The first bytes of a payload as text for the sniffers (bad bytes replaced): its first
    :data:`SNIFF_BYTES`, or its whole first line where that ends within :data:`RECORD_BYTES`,
    so that a line-oriented format is judged on a whole first record, not on a cut one (a
    Fluent Bit record puts its ``kubernetes`` object after a message that may be long). A
    longer first line (one-line JSON of megabytes) is cut at :data:`SNIFF_BYTES`, which keeps
    detection as fast as the file is large."""
    start = _LEADING_SPACE.match(data).end()
    end = data.find(b"\n", start, start + RECORD_BYTES)
    if end < 0 and len(data) - start <= RECORD_BYTES:
        end = len(data)  # the whole payload is one line
    # decoded from a view: slicing the bytes first would copy them once more
    return str(memoryview(data)[: max(SNIFF_BYTES, end + 1)], "utf-8", "replace")


def decode_tail(data: bytes) -> str:
    """The last :data:`SNIFF_BYTES` of a payload as text for the sniffers that read it, or ""
    when the head already holds the whole payload."""
    if len(data) <= SNIFF_BYTES:
        return ""
    return str(memoryview(data)[-SNIFF_BYTES:], "utf-8", "replace")


def first_line(text: str) -> str:
    """``text.split("\\n", 1)[0]``, without copying the rest of a long text."""
    end = text.find("\n")
    return text if end < 0 else text[:end]


#: A container runtime (CRI) log line's start: time, stream, tag. A file whose lines start so is
#: a container log whatever its messages hold (a container may print audit records).
CRI_LINE_START = r"\d{4}-\d\d-\d\dT\S+ (stdout|stderr) [PF]"
CRI_LINE = re.compile(CRI_LINE_START + r"\S* ?")


def container_log_head(head: str) -> bool:
    """Whether ``head``'s first non-blank line is a CRI container log line.

    >>> container_log_head('2024-05-01T10:00:00.1Z stdout F {"category": "kube-audit"}')
    True
    >>> container_log_head('{"category": "kube-audit"}')
    False
    """
    return CRI_LINE.match(first_line(head.lstrip())) is not None


def first_record(head: str) -> dict | None:
    """The first non-blank line of ``head`` as a JSON object, or None when it is not one (a
    sniffer judges a JSON-lines record by its fields, not by where they fall in its text)."""
    import orjson

    line = first_line(head.lstrip())
    if not line.startswith("{"):
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# --- JSON lines ------------------------------------------------------------------------------

#: Longest line a line-oriented parser accepts; longer ones become rejects, not memory blow-ups.
MAX_LINE = 8 * 1024 * 1024


def json_lines(
    data: bytes, rejects: Rejects, *, want: type = dict
) -> tuple[list[tuple[int, object, bytes]], int]:
    """Parse newline-delimited JSON. Returns ``[(line number, value, raw line)]`` and the
    record count (the raw line is kept as evidence).

    Blank lines are not records. A line that is not valid JSON (truncated, invalid UTF-8), is
    longer than :data:`MAX_LINE`, or is not a ``want`` goes to ``rejects`` with its line number.
    A payload that is one JSON array (``[{...}, {...}]``) is read element by element.
    """
    import orjson

    stripped = data.lstrip()
    if stripped[:1] == b"[":
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError:
            items = None
        # one JSON array of objects; an array holding anything else is a record of its own
        # (Fluent Bit writes `[time, {record}]` lines)
        if isinstance(items, list) and all(isinstance(i, dict) for i in items):
            out = []
            for i, item in enumerate(items):
                if isinstance(item, want):
                    out.append((i + 1, item, orjson.dumps(item)))
                else:
                    rejects.add(f"array element {i} is not a JSON object", repr(item), line=i + 1)
            return out, len(items)
    out: list[tuple[int, object, bytes]] = []
    records = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        records += 1
        if len(line) > MAX_LINE:
            rejects.add(
                f"line of {len(line):,} bytes exceeds the {MAX_LINE:,}-byte limit",
                line[:RAW_LIMIT],
                line=number,
            )
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejects.add(f"not valid JSON: {json_error(exc, line)}", line, line=number)
            continue
        if not isinstance(value, want):
            rejects.add(f"expected a JSON object, got {type(value).__name__}", line, line=number)
            continue
        out.append((number, value, line))
    return out, records


def json_error(exc: Exception, raw: bytes) -> str:
    """A short reason for a JSON error, naming invalid UTF-8 and truncation plainly."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"invalid UTF-8 at byte {u.start}"
    msg = str(exc)
    if "unexpected end of data" in msg or "EOF" in msg:
        return f"truncated ({msg})"
    return msg
