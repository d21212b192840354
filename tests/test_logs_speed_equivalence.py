"""The CRI parser's fast paths read exactly what the documented regexes read.

Levels, message formats and stack-trace continuations are found by byte-level shortcuts
(prefixed JSON levels, logfmt levels read off a message's head, first-byte prefilters, regexes
run in place over the candidate rows) with the regexes behind them. Here each is checked
against a straightforward reference: every documented pattern run over every message, in the
order :func:`obskit.sources._levels.derive_level` documents, with no shortcut. The CRI line split,
the times and the parallel pieces are checked against the exact one-line-at-a-time readers.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from obskit import schema
from obskit.datasets.generate import build
from obskit.sources import _levels, cri
from obskit.sources._base import byte_ranges, is_utf8

from .conftest import DATA

# --- the reference: every documented pattern over every message ------------------------------

_CODE = {s: i for i, s in enumerate(schema.SEVERITIES)}


def _found(arr: pa.Array, pattern: str) -> tuple[np.ndarray, list[str | None]]:
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False).to_numpy(zero_copy_only=False)
    words = (
        pc.struct_field(pc.extract_regex(arr, pattern), [0]).to_pylist() if "?P<" in pattern else []
    )
    return hit, words


def reference_levels(messages: list[str | None]) -> np.ndarray:
    arr = pa.array(messages, type=pa.large_string())
    codes = np.full(len(messages), -1, dtype=np.int8)
    has_word = np.zeros(len(messages), dtype=bool)
    for pattern in (_levels._JSON_LEVEL, _levels._LOGFMT_LEVEL, _levels._TEXT_LEVEL):
        hit, words = _found(arr, pattern)
        for i in np.flatnonzero(hit & ~has_word):
            codes[i] = _CODE.get(_levels._ALL_WORDS.get(words[i].lower()), -1)
            has_word[i] = True
    hit, words = _found(arr, _levels._KLOG_LEVEL)
    for i in np.flatnonzero(hit & (codes < 0)):
        codes[i] = _CODE[_levels._KLOG[words[i]]]
    for pattern, severity in ((_levels._EXCEPTION, "error"), (_levels._PANIC, "critical")):
        hit, _ = _found(arr, pattern)
        codes[hit & (codes < 0)] = _CODE[severity]
    return codes


def reference_formats(messages: list[str | None]) -> np.ndarray:
    arr = pa.array(messages, type=pa.large_string())
    is_json = pc.fill_null(pc.starts_with(pc.utf8_ltrim_whitespace(arr), "{"), False)
    logfmt, _ = _found(arr, _levels._LOGFMT)
    return np.where(is_json.to_numpy(zero_copy_only=False), 0, np.where(logfmt, 1, 2))


def reference_continues(messages: list[str | None]) -> np.ndarray:
    return _found(pa.array(messages, type=pa.large_string()), _levels._CONTINUATION)[0]


def reference_inherit(codes: np.ndarray, cont: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = codes.copy()
    for i in np.flatnonzero(cont & (codes < 0)):
        before = [j for j in range(i) if groups[j] == groups[i] and not cont[j] and codes[j] >= 0]
        out[i] = codes[before[-1]] if before else -1
    return out


def check(messages: list[str | None]) -> None:
    arr = pa.array(messages, type=pa.large_string())
    heads = _levels.string_heads(arr)
    np.testing.assert_array_equal(_levels.level_codes(arr, heads), reference_levels(messages))
    np.testing.assert_array_equal(_levels.format_codes(arr, heads[1]), reference_formats(messages))
    np.testing.assert_array_equal(
        _levels.continuation_lines(arr, heads[1]), reference_continues(messages)
    )
    # the same through pieces that start at an offset into the buffers
    codes, cont, formats = cri._annotate(arr.slice(1), None) if len(arr) > 1 else (None,) * 3
    if codes is not None:
        np.testing.assert_array_equal(codes, reference_levels(messages[1:]))
        np.testing.assert_array_equal(formats, reference_formats(messages[1:]))
        np.testing.assert_array_equal(cont, reference_continues(messages[1:]))


# --- generated messages ------------------------------------------------------------------------

_KEYS = [
    *("level", "LEVEL", "Level", "lEvEl", "lvl", "LVL", "severity", "Severity", "SEVERITY"),
    *("\u017feverity", "\u017fEVERITY", "loglevel", "log.level", "levelname", "@l", "msg", "ts"),
    *("time", "caller", "xlevel", "levels"),
]
_WORDS = [
    *("info", "INFO", "Info", "warn", "WARNING", "error", "Err", "debug", "trace", "fatal"),
    *("critical", "panic", "notice", "informational", "chatty", "30", "50", "7", ""),
    *("x" * 20, "INFORMATIONALLY", "\u00ednfo", "\u00e9"),
]
_TEXT = [
    *("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL"),
    *("CRITICAL", "CRIT", "PANIC", "SEVERE", "Error", "Warning", "Fatal", "[WARN]", "(ERROR)"),
    *("<INFO>", "ERROR:", "INFO|", "2024-01-01", "12:00:00,123", "[main]", "hello", "\u00e9"),
    *("\u65e5\u672c\u8a9e", "-", "10.244.1.60", '"GET', "/metrics"),
]
_HEADS = [
    "Traceback (most recent call last):",
    "java.lang.IllegalStateException: bad",
    "ReconcileMismatch: 3 rows",
    "a.b.CError",
    "com.x.FooException",
    "1.Foo.BarError:",
    "panic: runtime error",
    "fatal error: all goroutines",
    "E0102 15:04:05.000 1 x.go:1] x",
    "I0603 13:03:06.350002       1 reflector.go:204] ok",
    "W0102 15:04",
    "F9999 99:99:99",
    "\tat com.shop.Cart.add(Cart.java:42)",
    '  File "/app/x.py", line 7, in run',
    "Caused by: java.io.IOException",
    "    ... 12 more",
    "   ^",
    " at x",
    "\u2003{",
]
_SEPS = [" ", "  ", "\t", "", "=", '="', '":"', '": ', '":', ",", '"', " \u00a0", "\r"]


@st.composite
def json_message(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.tuples(st.sampled_from(_KEYS), st.sampled_from(_WORDS)), max_size=4))
    colons = st.sampled_from([":", ": ", " : "])
    body = ",".join(
        f'"{k}":{w}' if w.isdigit() and draw(st.booleans()) else f'"{k}"{draw(colons)}"{w}"'
        for k, w in fields
    )
    pad = draw(st.sampled_from(["", " ", "\t", "\u2003"]))
    return pad + "{" + body + draw(st.sampled_from(["}", "", ',"n":1}']))


@st.composite
def logfmt_message(draw: st.DrawFn) -> str:
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(_KEYS),
                st.sampled_from(["=", '="', "= ", "=\t"]),
                st.sampled_from([*_WORDS, "2024-06-03T13:15:58.656Z", "api.go:102", '"x y"']),
            ),
            max_size=6,
        )
    )
    lead = draw(st.sampled_from(["", " ", "x" * draw(st.integers(0, 80)) + " "]))
    seps = draw(st.lists(st.sampled_from([" ", "  ", "\t", "\n", "\f", "\v", ""]), min_size=6))
    return lead + "".join(f"{k}{eq}{w}{s}" for (k, eq, w), s in zip(pairs, seps, strict=False))


@st.composite
def mixed_message(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(_TEXT + _HEADS + _KEYS + _WORDS),
                st.text(
                    alphabet='lLeEvVsSyY="{} :\t[]()<>.$_-IWEFTpf0123456789é\u017f', max_size=12
                ),
            ),
            max_size=8,
        )
    )
    seps = draw(st.lists(st.sampled_from(_SEPS), min_size=len(parts), max_size=len(parts)))
    return "".join(p + s for p, s in zip(parts, seps, strict=True))


messages = st.lists(
    st.one_of(
        json_message(),
        logfmt_message(),
        mixed_message(),
        st.sampled_from([*_HEADS, "", " ", "\t"]),
        st.text(max_size=40),
        st.none(),
    ),
    min_size=1,
    max_size=40,
)


_TRICKY = [
    "LEVEL=info msg=x",
    "ts=1 LVL=WARN",
    "time=x SEVERITY=Error",
    "a=b\tLevel=debug",
    "xlevel=info level=error",
    "level=info=x",
    'level="info" lvl=error',
    "\u017feverity=error",
    'msg="a level=warn inside quotes"',
    '{"msg":"x","level":"warn"}',
    '{"level":50}',
    '{"level":"INFORMATIONAL"}',
    '{"level":"x","severity":"error"}',
    '{"severity":"","level":"info"}',
    '   {"level":"info"}',
    "\u2003{not json",
    "[ERROR] x",
    "2024-01-01 12:00:00,123 WARNING [main] x",
    "a b c d ERROR too far",
    "E0102 15:04:05.000000 1 x.go:1] boom",
    "level=chatty E0102 15:04:05.0",
    '10.244.1.60 - - [03/Jun/2024:13:00:13 +0000] "GET /metrics HTTP/1.1" 200',
    "java.lang.IllegalStateException: x",
    "1.Foo.BarError:",
    "panic: boom",
    "\tat com.x.Y(Y.java:1)",
    "Caused by: x",
    "",
    None,
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
@example(_TRICKY)
def test_levels_formats_continuations_match_the_plain_regexes(batch: list[str | None]) -> None:
    check(batch)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 5), st.booleans(), st.integers(0, 2)), max_size=40))
def test_continuations_inherit_as_the_plain_loop(rows: list[tuple[int, bool, int]]) -> None:
    codes = np.array([r[0] for r in rows], dtype=np.int8)
    cont = np.array([r[1] for r in rows], dtype=bool)
    groups = np.array([r[2] for r in rows], dtype=np.int64)
    np.testing.assert_array_equal(
        _levels.inherit_codes(codes, cont, groups), reference_inherit(codes, cont, groups)
    )


def reference_partial_groups(
    groups: np.ndarray, partial: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(partial)
    group = np.arange(n, dtype=np.int64)
    for s in np.unique(groups):
        idx = np.flatnonzero(groups == s)
        starts = np.concatenate(([True], ~partial[idx][:-1]))
        group[idx] = idx[np.maximum.accumulate(np.where(starts, np.arange(len(idx)), 0))]
    involved = partial | np.isin(group, group[partial])
    return group, involved, ~involved | (group == np.arange(n))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0, 0, 0, 1, 2]), st.sampled_from([True, False, False])),
        max_size=60,
    )
)
def test_partial_groups_match_the_plain_loop(rows: list[tuple[int, bool]]) -> None:
    groups = np.array([r[0] for r in rows], dtype=np.int8)
    partial = np.array([r[1] for r in rows], dtype=bool)
    for got, want in zip(
        cri._partial_groups(groups, partial),
        reference_partial_groups(groups, partial),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


def test_heads_longer_than_the_window_fall_back_to_the_regex() -> None:
    pad = "x" * (_levels._LOGFMT_WIDE - 8)
    batch = [
        pad + " level=info",  # the word runs past the head
        pad + " lvl=warning and more",
        pad + "   severity=" + "e" * 30,
        pad + "level=x" + "y" * 100 + " level=error",
        "a" * 200 + " level=error",  # no "=" in the head
        "level=" + "x" * 15 + "y level=info",  # a 16-letter word is no level, and ends the search
        "\u017feverity=error msg=x",
        'ts=1 level="warn" level=error',
        "level= lvl=error",
        'level="" severity=critical',
    ]
    check(batch)


def _around_the_head(parts: list[str]) -> list[str]:
    """``parts`` joined after fillers that put them at each byte from 24 to 36."""
    return [
        filler + part
        for part in parts
        for k in range(24, 37)
        for filler in ("x" * k, "a " * (k // 2))
    ]


def test_leading_level_words_and_exception_headlines_near_the_head_s_end() -> None:
    # the text-level and exception prefilters read 32 bytes: words, brackets, colons and ends
    # that fall just inside, on and just past that edge are all decided as the regex decides
    parts = ["ERROR x", "[WARN] x", "(", "<INFO", "Error", "E", " INFO", "\vINFO", "\fWARN"]
    parts += ["Exception", "Exception:", "Error: x", ".FooError", "$Error", "\u00e9Error"]
    batch = _around_the_head(parts)
    batch += ["a b c " + "d" * k + " ERROR" for k in range(20, 30)]
    batch += ["a b " + "c" * k + " [ERROR] x" for k in range(20, 30)]
    batch += ["w" * k + "Exception" for k in range(15, 30)]
    batch += ["com.x.BadError" + ":" * (k % 2) + "x" * k for k in range(10, 30)]
    batch += ["Traceback (", "Traceback (most recent call last):", "Traceback(x", "Foo\x00Error:"]
    check(batch)


# --- real captures ---------------------------------------------------------------------------


def _capture_messages() -> list[str]:
    found: list[str] = []
    for path in sorted(DATA.rglob("*")):
        if path.suffix in {".log", ".txt", ".out", ".json"} and path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            found += text.splitlines()[:400]
            if path.suffix == ".log" and "cri" in path.parts:
                result = cri.parse_cri_log(path.read_bytes(), str(path))
                found += result.logs["message"].tolist()
            if path.suffix in {".log", ".out"} and "fluentbit" in path.parts:
                for line in text.splitlines():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and isinstance(record.get("log"), str):
                        found.append(record["log"].rstrip("\n"))
    return found


def test_real_captures_match_the_plain_regexes() -> None:
    found = _capture_messages()
    assert len(found) > 100
    check(found)


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    files = build("bad-rollout", scale=0.5)
    return {
        name: gzip.decompress(data) if name.endswith(".gz") else data
        for name, data in files.items()
        if name.startswith("logs/") and ".log" in name
    }


def test_generated_incident_logs_match_the_plain_regexes(generated: dict[str, bytes]) -> None:
    found: list[str] = []
    for name, data in generated.items():
        found += cri.parse_cri_log(data, name).logs["message"].tolist()
    assert len(found) > 1000
    check(found)


# --- the CRI line split, the times and the pieces ---------------------------------------------

_STAMPS = ["2024-06-03T13:20:06.21071138Z", "2024-06-03T13:20:06Z", "2024-05-14T12:00:05+02:00",
           "2024-13-45T99:00:00Z", "2024-06-03T13:20:06.123456789012Z", "x", "",
           "2024-06-03T13:20:06." + "1" * 30 + "Z", "2024-02-29T00:00:00.5Z"]  # fmt: skip


@st.composite
def cri_line(draw: st.DrawFn) -> bytes:
    stamp = draw(st.sampled_from(_STAMPS))
    stream = draw(st.sampled_from(["stdout", "stderr", "stdin", "", "stdoutx"]))
    tag = draw(st.sampled_from(["F", "P", "P:x", "X", "", "F:a:b", "FF"]))
    message = draw(st.one_of(st.sampled_from(_HEADS + _TEXT), st.text(max_size=30)))
    seps = draw(st.lists(st.sampled_from([" ", "  ", "", "\t"]), min_size=3, max_size=3))
    parts = [stamp, seps[0], stream, seps[1], tag, seps[2], message]
    cut = draw(st.integers(1, len(parts)))
    return "".join(parts[:cut]).encode() + draw(st.sampled_from([b"", b"\xff", b" \xc3\xa9"]))


_EDGE_LINES = [
    b" stdout F no time",
    b"2024-06-03T13:20:06Z stdout",
    b"2024-06-03T13:20:06Z stdout ",
    b"2024-06-03T13:20:06Z stderr F",
    b"2024-06-03T13:20:06Z stderr F ",
    b"2024-06-03T13:20:06Z stdout P:x:y message",
    b"2024-06-03T13:20:06Z stdout Fx message",
    b"2024-06-03T13:20:06.123456789+02:00 stdout F offset",
    b"2024-06-03T13:20:06.1234567890123456789012345Z stdout F long time",
    b"2024-06-03T13:20:06Z  stdout F two spaces",
    b"",
    b"\t",
    b"2024-06-03T13:20:06Z stdout F \xff",
]


@settings(max_examples=40, deadline=None)
@given(st.lists(cri_line(), max_size=30))
@example(_EDGE_LINES)
def test_cri_fields_match_the_exact_reader(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    view = np.frombuffer(data, dtype=np.uint8)
    starts, ends = cri._line_spans(view)
    fast = cri._cri_fields(data, view, starts, ends)
    exact = cri._cri_fields_exact(data, view, starts, ends)
    for got, want in zip(fast[:5], exact, strict=True):
        np.testing.assert_array_equal(got, want)
    first = np.array([data[s] if e > s else -1 for s, e in zip(starts, ends, strict=True)])
    np.testing.assert_array_equal(fast[5], first)
    if is_utf8(data):
        rows = np.flatnonzero(fast[1] >= 0)
        buf = pa.py_buffer(data)
        cast = cri._cast_times(buf, starts[rows], fast[0][rows])
        stamps = byte_ranges(buf, starts[rows], fast[0][rows]).view(pa.large_string())
        try:
            want = pc.cast(stamps, pa.timestamp("ns", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            assert cast is None
        else:
            np.testing.assert_array_equal(cast, cri._times(stamps))
            assert len(want) == len(cast)


def _frames_equal(a: cri.ParseResult, b: cri.ParseResult) -> None:
    pd.testing.assert_frame_equal(a.logs, b.logs, check_exact=True)
    pd.testing.assert_frame_equal(a.rejects, b.rejects, check_exact=True)
    assert (a.records, a.rows, a.merged) == (b.records, b.rows, b.merged)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.one_of(cri_line(), st.sampled_from([b"", b"  ", b"\t"])), max_size=30),
    st.booleans(),
)
@example(_EDGE_LINES, True)
def test_payload_read_in_pieces_as_in_one(
    monkeypatch: pytest.MonkeyPatch, lines: list[bytes], newline: bool
) -> None:
    data = b"\n".join(lines) + (b"\n" if newline else b"")
    origin = "/var/log/pods/shop_web-1_u1/web/0.log"
    with monkeypatch.context() as m:
        m.setattr(cri, "_PIECE_BYTES", 1 << 40)
        whole = cri.parse_cri_log(data, origin)
    with monkeypatch.context() as m:
        m.setattr(cri, "_PIECE_BYTES", 1)
        m.setattr(cri.os, "cpu_count", lambda: 3)
        pieces = cri.parse_cri_log(data, origin)
    _frames_equal(whole, pieces)
    assert whole.balanced()


def test_generated_incident_logs_in_pieces_as_in_one(
    monkeypatch: pytest.MonkeyPatch, generated: dict[str, bytes]
) -> None:
    data = b"".join(generated.values())
    whole = cri.parse_cri_log(data)
    monkeypatch.setattr(cri, "_PIECE_BYTES", 1)
    monkeypatch.setattr(cri, "_PARALLEL_ROWS", 2)
    monkeypatch.setattr(cri.os, "cpu_count", lambda: 4)
    _frames_equal(whole, cri.parse_cri_log(data))


def test_cri_capture_in_pieces_as_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in sorted((DATA / "cri").rglob("*.log")):
        data = Path(path).read_bytes()
        whole = cri.parse_cri_log(data, str(path))
        with monkeypatch.context() as m:
            m.setattr(cri, "_PIECE_BYTES", 1)
            m.setattr(cri.os, "cpu_count", lambda: 2)
            _frames_equal(whole, cri.parse_cri_log(data, str(path)))
