"""Sources: one module per format, each registered in one line beside its parser.

``FORMATS`` maps every registered format name to a one-line description. :func:`load_file`
reads one file (decompressing by content), detects its format by content when none is given,
and hands the bytes to the format's parser.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from obskit import schema
from obskit.errors import SchemaError, SourceError, UnknownFormatError

# each import registers its formats, in the order of these lines: the order breaks ties between
# equally sure sniffers, so it is kept as written, not sorted
# isort: off
from obskit.sources import audit, kubernetes, cloud_audit  # noqa: F401
from obskit.sources import cri, docker, jsonl  # noqa: F401  (container logs)
from obskit.sources import cluster_dump, elasticsearch, falco  # noqa: F401
from obskit.sources import loki, prometheus  # noqa: F401

# isort: on
from obskit.sources._base import (
    Format,
    ParseResult,
    Rejects,
    decode_head,
    decode_tail,
    detect,
    detect_first_lines,
    get_format,
    read_bytes,
    registry,
    reject_far_out_times,
)

__all__ = [
    "FORMATS",
    "Format",
    "ParseResult",
    "Rejects",
    "detect_format",
    "get_format",
    "load_file",
    "parse",
    "parse_file",
    "read_file",
]

#: Every registered format: ``{name: one-line description}``.
FORMATS: dict[str, str] = {name: fmt.description for name, fmt in registry().items()}


def detect_format(data: bytes, name: str = "", likely: str | None = None) -> Format | None:
    """The format of a payload, judged by its content (its first record whole, and its end for
    the formats whose deciding field may come last) and its file name as a tie-breaker.
    ``likely`` names the format sniffed first (see :func:`obskit.sources._base.detect`): the
    answer is the same, found sooner when it is right (from the first lines alone, when the
    likely format is sure of them: :func:`obskit.sources._base.detect_first_lines`)."""
    if likely is not None and (found := detect_first_lines(data, name, likely)) is not None:
        return found
    return detect(decode_head(data), name, lambda: decode_tail(data), likely)


def parse(data: bytes, format: str, origin: str = "<bytes>") -> ParseResult:
    """Parse a payload already in memory with the named format (rows dated years away from
    the rest of the payload become rejects, as in :func:`load_file`)."""
    return reject_far_out_times(get_format(format).parse(data, origin=origin), format, origin)


def load_file(
    path: str | Path, format: str | None = None, *, limit: int | None = None
) -> tuple[ParseResult, str]:
    """Read one file and parse it. Returns the result and the format name used.

    ``limit`` bounds the bytes a compressed file may expand to (None: no bound).

    Raises
    ------
    UnknownFormatError
        When ``format`` is None and no registered format recognises the content; the message
        names the file and lists the formats.
    SourceError
        When the file cannot be read, expands past ``limit``, or runs out of memory.
    """
    path = Path(path)
    data, note, fmt = read_file(path, format, limit=limit)
    return parse_file(path, data, fmt, note), fmt.name


def read_file(
    path: str | Path, format: str | None = None, *, limit: int | None = None
) -> tuple[bytes, str | None, Format]:
    """The first half of :func:`load_file`: read one file (decompressed) and find its format.

    Returns the bytes, a note when a compressed file was damaged (the bytes decoded before the
    damage are kept), and the format. Raises as :func:`load_file` does.
    """
    return _guarded(_as_path(path), _read_file, format, limit)


def parse_file(path: str | Path, data: bytes, fmt: Format, note: str | None = None) -> ParseResult:
    """The second half of :func:`load_file`: parse what :func:`read_file` read.

    Raises
    ------
    SourceError
        Naming the file, when a record of an unexpected shape stops the parser or the file
        runs out of memory.
    """
    return _guarded(_as_path(path), _parse_file, data, fmt, note)


def _as_path(path: str | Path) -> Path:
    """``path`` as a Path (one given is kept: making it anew parses it again, per file)."""
    return path if isinstance(path, Path) else Path(path)


def _guarded(path: Path, step: Callable[..., Any], *args: object) -> Any:
    """``step(path, *args)``, its MemoryError and RecursionError told as a SourceError."""
    try:
        return step(path, *args)
    except MemoryError:  # raised below: its traceback would keep this file's frames alive
        message = (
            f"ran out of memory reading {str(path)!r} ({_size(path)}); load it alone, or a "
            f"part of it, with more memory free"
        )
    except RecursionError:
        message = (
            f"{str(path)!r} ({_size(path)}) is nested too deep to read (Python's recursion "
            f"limit); re-export it, or pass format=... if it was read as the wrong format"
        )
    raise SourceError(message)


def _size(path: Path) -> str:
    try:
        return f"{path.stat().st_size:,} bytes on disk"
    except OSError:
        return "size unknown"


def _read_file(
    path: Path, format: str | None, limit: int | None
) -> tuple[bytes, str | None, Format]:
    data, note = read_bytes(path, limit)
    if format:
        fmt = get_format(format)
    else:
        # a file under a kubelet log path is most likely a CRI log: sniffed first, it spares
        # the sniffers that could not be surer than a head of CRI lines makes it
        likely = "cri-log" if cri.path_key(str(path)) else None
        fmt = detect_format(data, path.name, likely)
    if fmt is None:
        raise UnknownFormatError(
            f"{str(path)!r} is not in any format obskit reads (its first bytes: "
            f"{data[:60]!r}); the formats are: {', '.join(FORMATS)}. Pass format=... if you "
            f"know what it is."
        )
    return data, note, fmt


def _parse_file(path: Path, data: bytes, fmt: Format, note: str | None) -> ParseResult:
    try:
        result = reject_far_out_times(fmt.parse(data, origin=str(path)), fmt.name, str(path))
    except SourceError:
        raise
    except SchemaError as exc:  # a value no record-level check caught: name the file
        raise SourceError(f"{str(path)!r} could not be read as {fmt.name}: {exc}") from exc
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        # a record of a shape the parser did not expect: the file is skipped, not the load
        raise SourceError(
            f"{str(path)!r} could not be read as {fmt.name}: a record of an unexpected shape "
            f"({type(exc).__name__}: {exc}); load the other files without it, and report it"
        ) from exc
    if note:
        result.notes.append(note)
        rejects = Rejects(fmt.name, str(path))
        rejects.add(note, None, offset=len(data))
        result.rejects = schema.concat("rejects", [result.rejects, rejects.frame()])
        result.records += 1  # the damaged tail is one record we could not read
    return result
