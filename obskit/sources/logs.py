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
    ``pod_namespace``/``pod_node_name``); Fluent Bit's ``[time, {record}]`` lines too.

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

import re
from pathlib import PurePosixPath

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from obskit import schema
from obskit._time import parse_times
from obskit.sources._base import MAX_LINE, ParseResult, Rejects, json_lines, register

__all__ = [
    "derive_level",
    "log_fields",
    "message_format",
    "normalise_level",
    "parse_cri_log",
    "parse_docker_json_log",
    "parse_jsonl_log",
    "path_key",
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


def _extract_missing(
    word: pa.Array, arr: pa.Array, pattern: str, need: np.ndarray | None = None
) -> pa.Array:
    """``word``, with its nulls (or the ``need`` rows) filled by ``pattern``'s capture.

    The capturing search (slow in RE2) runs only on the rows still missing a word whose text
    the plain match (fast) accepts.
    """
    if need is None:
        need = pc.fill_null(pc.is_null(word), False).to_numpy(zero_copy_only=False)
    if not need.any():
        return word
    rows = np.flatnonzero(need)
    sub = arr.take(pa.array(rows))
    hit = pc.fill_null(pc.match_substring_regex(sub, pattern), False).to_numpy(zero_copy_only=False)
    if not hit.any():
        return word
    found = _extract(sub.filter(pa.array(hit)), pattern)
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows[hit]] = True
    return pc.replace_with_mask(word, pa.array(mask), found.cast(word.type))


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


def derive_level(messages: pd.Series) -> pd.Series:
    """The level each message carries, on :data:`obskit.schema.SEVERITIES`, else NA.

    Looks, in order, for a JSON ``"level"``/``"severity"`` field (names or pino numbers), a
    logfmt ``level=``, a klog header (``E0102 15:04:05``), and a leading level word
    (``ERROR``, ``[WARN]``, ``2024-01-01 12:00:00 INFO``). Vectorised with Arrow; no Python
    loop per line.

    Examples
    --------
    >>> derive_level(pd.Series(['{"level":"warn","msg":"x"}', 'level=error msg=y',
    ...                         'E0102 15:04:05.1 1 x.go:1] boom', '[INFO] up', 'hello'])).tolist()
    ['warning', 'error', 'error', 'info', nan]
    """
    arr = _strings(messages)
    word = _extract(arr, _JSON_LEVEL)
    for pattern in (_LOGFMT_LEVEL, _TEXT_LEVEL):
        word = _extract_missing(word, arr, pattern)
    codes = _codes(pc.utf8_lower(word), {**_LEVEL_WORDS, **_NUMERIC_LEVELS})
    if (codes < 0).any():
        klog = _extract_missing(pa.nulls(len(arr), pa.string()), arr, _KLOG_LEVEL, codes < 0)
        codes = np.where(codes >= 0, codes, _codes(klog, _KLOG))
    # an exception headline is an error even when the runtime printed no level
    for pattern, severity in ((_EXCEPTION, "error"), (_PANIC, "critical")):
        missing = codes < 0
        if not missing.any():
            break
        hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False).to_numpy(
            zero_copy_only=False
        )
        codes = np.where(missing & hit, _SEVERITY_CODE[severity], codes).astype(np.int8)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=schema.SEVERITY), index=messages.index)


def _stream_groups(stream: pd.Series) -> np.ndarray:
    """Group numbers of a stream column, missing streams grouped with ``""``."""
    if isinstance(stream.dtype, pd.CategoricalDtype):
        if "" not in stream.cat.categories:
            stream = stream.cat.add_categories([""])
        return stream.fillna("").cat.codes.to_numpy()
    return pd.factorize(stream.astype("object").where(stream.notna(), ""))[0]


def _inherit_level(frame: pd.DataFrame) -> pd.Series:
    """Stack-trace continuation lines take the level of the line they continue (same stream)."""
    arr = _strings(frame["message"])
    cont = pc.fill_null(pc.match_substring_regex(arr, _CONTINUATION), False).to_numpy(
        zero_copy_only=False
    )
    level = frame["level"]
    if not cont.any():
        return level
    codes = pd.Categorical(level, dtype=schema.SEVERITY).codes
    held = np.where(cont, -1, codes)
    out = codes.copy()
    groups = _stream_groups(frame["stream"])
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        h = held[idx]
        last = np.maximum.accumulate(np.where(h >= 0, np.arange(len(idx)), -1))
        filled = np.where(last >= 0, h[np.maximum(last, 0)], -1)
        out[idx] = np.where(~cont[idx] | (codes[idx] >= 0), codes[idx], filled)
    return pd.Series(
        pd.Categorical.from_codes(out.astype(np.int8), dtype=schema.SEVERITY), index=level.index
    )


_FORMATS = ("json", "logfmt", "text")


def message_format(messages: pd.Series) -> pd.Series:
    """``json``, ``logfmt`` or ``text`` for each message, judged by its shape."""
    arr = _strings(messages)
    is_json = pc.fill_null(pc.starts_with(pc.utf8_ltrim_whitespace(arr), "{"), False)
    is_logfmt = pc.fill_null(pc.match_substring_regex(arr, _LOGFMT), False)
    codes = np.where(
        is_json.to_numpy(zero_copy_only=False),
        0,
        np.where(is_logfmt.to_numpy(zero_copy_only=False), 1, 2),
    ).astype(np.int8)
    present = np.flatnonzero(np.bincount(codes, minlength=3))
    remap = np.full(3, -1, dtype=np.int8)
    remap[present] = np.arange(len(present))
    categorical = pd.Categorical.from_codes(
        remap[codes], categories=pd.Index([_FORMATS[i] for i in present], dtype="str")
    )
    return pd.Series(categorical, index=messages.index)


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
    groups = _stream_groups(frame["stream"])
    group = np.empty(n, dtype=np.int64)
    for s in np.unique(groups):
        idx = np.flatnonzero(groups == s)
        ends = ~partial[idx]
        # a line starts a new record when the line before it (same stream) ended one
        starts = np.concatenate(([True], ends[:-1]))
        group[idx] = idx[np.maximum.accumulate(np.where(starts, np.arange(len(idx)), 0))]
    involved = np.zeros(n, dtype=bool)
    involved[np.flatnonzero(partial)] = True
    involved |= np.isin(group, group[partial])
    keep = ~involved | (group == np.arange(n))
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


def _categorical(arr: pa.Array) -> pd.Categorical:
    """A categorical of Arrow strings, encoded by Arrow (categories sorted, as pandas sorts)."""
    encoded = pc.dictionary_encode(arr)
    order = np.argsort(encoded.dictionary.to_numpy(zero_copy_only=False)).astype(np.int32)
    rank = np.empty(len(order) + 1, dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1
    codes = pc.fill_null(encoded.indices, len(order)).to_numpy(zero_copy_only=False)
    categories = encoded.dictionary.to_numpy(zero_copy_only=False)[order]
    return pd.Categorical.from_codes(rank[codes], categories=pd.Index(categories, dtype="str"))


def _as_string_series(arr: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a ``string[pyarrow]`` Series, without a copy."""
    return pd.Series(
        arr.to_pandas(types_mapper=lambda _: schema.STRING), index=index, dtype=schema.STRING
    )


# --- cri-log -----------------------------------------------------------------------------------

_CRI = r"^(?P<ts>[^ ]+) (?P<stream>stdout|stderr) (?P<tags>[^ ]*)(?: (?P<msg>.*))?$"


def _split_lines(data: bytes) -> pa.Array:
    """The payload's lines (split on ``\\n``) as one Arrow string array; bad UTF-8 replaced."""
    whole = pa.Array.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)],
    )
    lines = pc.split_pattern(whole, "\n").flatten()
    if len(lines) and not len(lines[len(lines) - 1].as_py()):
        lines = lines.slice(0, len(lines) - 1)
    try:
        return lines.cast(pa.large_string())
    except pa.ArrowInvalid:  # invalid UTF-8: the slow path replaces bad bytes by U+FFFD
        return _split_lines(data.decode("utf-8", "replace").encode("utf-8"))


def _lines(data: bytes) -> tuple[pa.Array, np.ndarray]:
    """Non-blank lines of a payload and their 1-based line numbers."""
    arr = _split_lines(data)
    # a line starting with a printable ASCII character is not blank; trim only the others
    keep = pc.match_substring_regex(arr, r"^[!-~]").to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~keep)
    if len(rest):
        blank = pc.equal(pc.utf8_trim_whitespace(arr.take(pa.array(rest))), "")
        keep[rest] = ~blank.to_numpy(zero_copy_only=False)
    numbers = np.flatnonzero(keep) + 1
    if len(numbers) == len(arr):
        return arr, numbers
    return arr.filter(pa.array(keep)), numbers


def _times(ts: pa.Array) -> np.ndarray:
    """RFC3339 strings to UTC ns, NaT where unreadable (Arrow fast path, pandas fallback)."""
    try:
        return (
            pc.cast(ts, pa.timestamp("ns", tz="UTC")).to_pandas().to_numpy(dtype="datetime64[ns]")
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = parse_times(pd.Series(ts.to_pylist(), dtype="object"))
        return parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def _finish_logs(frame: pd.DataFrame, origin: str, key: dict[str, object]) -> pd.DataFrame:
    frame = frame.copy()
    frame["level"] = derive_level(frame["message"])
    frame["level"] = _inherit_level(frame)
    frame["format"] = message_format(frame["message"])
    n = len(frame)
    for column in ("namespace", "pod", "container"):
        if column not in frame and key.get(column) is not None:
            frame[column] = pd.Categorical.from_codes(
                np.zeros(n, dtype=np.int8), categories=[key[column]]
            )
    if "restart" in key:
        frame["restart"] = pd.array(np.full(n, key["restart"], dtype=np.int64), dtype="Int64")
    has_key = bool(key) or ("pod" in frame and frame["pod"].notna().any())
    frame["key_source"] = pd.Categorical.from_codes(
        np.zeros(n, dtype=np.int8), categories=["record" if has_key else "incomplete"]
    )
    return schema.conform("logs", frame, origin=origin)


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
    rejects = Rejects("cri-log", origin)
    arr, numbers = _lines(data)
    records = len(arr)
    ts, stream, tags, message = _cri_fields(arr)
    # what _CRI matches: a non-empty time, the stream, then the tags (the message optional)
    ok = pc.and_(
        pc.and_(pc.greater(pc.binary_length(ts), 0), pc.is_in(stream, _STREAMS)),
        pc.is_valid(tags),
    )
    ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    lengths = pc.binary_length(arr).to_numpy(zero_copy_only=False)
    too_long = lengths > MAX_LINE
    tag = pc.utf8_slice_codeunits(pc.fill_null(tags, ""), 0, 1)
    tag_ok = pc.or_(pc.equal(tag, "P"), pc.equal(tag, "F")).to_numpy(zero_copy_only=False)
    times = np.full(records, np.datetime64("NaT"), dtype="datetime64[ns]")
    if ok.all():
        times = _times(ts)
    elif ok.any():
        times[ok] = _times(pc.filter(ts, pa.array(ok)))
    time_ok = ~np.isnat(times)
    good = ok & ~too_long & tag_ok & time_ok
    bad = np.flatnonzero(~good)
    if len(bad):
        raw = arr.take(pa.array(bad)).to_pylist()
        for i, line in zip(bad, raw, strict=True):
            if too_long[i]:
                reason = f"line of {lengths[i]:,} bytes exceeds the {MAX_LINE:,}-byte limit"
            elif not ok[i]:
                reason = "not a CRI log line: expected '<RFC3339Nano> <stdout|stderr> <P|F> <msg>'"
            elif not time_ok[i]:
                reason = f"unreadable CRI timestamp {line.split(' ', 1)[0]!r}"
            else:
                reason = f"unknown CRI tag {line.split(' ')[2]!r}: expected P or F"
            rejects.add(reason, line, line=int(numbers[i]))
        mask = pa.array(good)
        stream, message, tag = stream.filter(mask), message.filter(mask), tag.filter(mask)
        times = times[good]
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(times).tz_localize("UTC"),
            "stream": _categorical(stream),
            "message": _as_string_series(pc.fill_null(message, "")).array,
            "line": numbers[good],
        }
    )
    partial = pc.equal(tag, "P").to_numpy(zero_copy_only=False)
    frame, merged = _join_partials(frame, partial)
    logs = _finish_logs(frame, origin, path_key(origin))
    return ParseResult(records=records, logs=logs, rejects=rejects.frame(), merged=merged)


_STREAMS = pa.array(["stdout", "stderr"])


def _cri_fields(arr: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Time, stream, tags and message of CRI lines, split on the first three spaces.

    Equivalent to matching :data:`_CRI` (a line with fewer than three fields has a null
    stream or tags; one without a message a null message), without a capturing regex.
    """
    parts = pc.split_pattern(arr, " ", max_splits=3)
    offsets = parts.offsets.to_numpy()
    count = np.diff(offsets)
    start = offsets[:-1] - offsets[0]
    values = parts.flatten()

    def field(k: int) -> pa.Array:
        present = count > k
        if present.all():
            return values.take(pa.array(start + k))
        return values.take(pa.array(np.where(present, start + k, 0), mask=~present))

    return field(0), field(1), field(2), field(3)


def _sniff_cri(head: str, name: str) -> float:
    lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
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
    first = head.lstrip()[:2048]
    if first.startswith('{"log":') or (
        first.startswith("{")
        and '"log"' in first
        and '"stream"' in first
        and '"time"' in first
        and '"kubernetes"' not in first.split("\n", 1)[0]
    ):
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


def parse_jsonl_log(data: bytes, origin: str = "<bytes>") -> ParseResult:
    """Parse log records shipped as JSON lines with a ``kubernetes`` metadata object.

    The message is the record's ``log`` (Fluent Bit, Fluentd) or ``message`` (Vector) field;
    the time is the record's ``time``/``timestamp``/``@timestamp``/``date`` or, for Fluent
    Bit's ``[time, record]`` lines, the first element.

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
        meta = rec.get("kubernetes") if isinstance(rec.get("kubernetes"), dict) else {}
        row = {
            column: next((meta[f] for f in names if meta.get(f)), None)
            for column, names in _K8S_FIELDS.items()
        }
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


def _sniff_jsonl(head: str, name: str) -> float:
    first = head.lstrip().split("\n", 1)[0]
    if '"kubernetes"' in first and ('"log"' in first or '"message"' in first):
        return 0.92
    return 0.0


register(
    "jsonl-log",
    "JSON-lines log records as Fluent Bit, Fluentd or Vector ship them, with kubernetes metadata",
    _sniff_jsonl,
    parse_jsonl_log,
)
