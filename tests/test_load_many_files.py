"""Loading many small files: batched into one parse, with the same result and the same ledger
as loading each file alone; and the per-key shortcuts of the load path (enrichment through
group codes, the time order) give what the plain pandas operations give."""

from __future__ import annotations

import gzip
import itertools
import threading
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import obskit
from obskit import enrich as enrich_module
from obskit import investigation, schema
from obskit.sources import _base as source_base
from obskit.sources import _levels, cri

# CRI lines as the kubelet writes them (time, stream, P/F tag, message), and the kinds of damage
# a node's folder holds: lines that are no CRI lines, bad times, bad tags, blank lines, invalid
# UTF-8, a last line without its newline, partial lines split across a file's end, years-off
# clocks, stack-trace continuation lines that take the level of the line before.
_MESSAGES = [
    '{"level":"error","msg":"payment failed","order":"o-1"}',
    "level=warn msg=slow upstream=db",
    "I0514 10:00:00.000000       1 main.go:10] started",
    "E0514 10:00:01.000000       1 main.go:11] failed to connect",
    "ERROR java.lang.IllegalStateException: boom",
    "    at com.shop.Checkout.pay(Checkout.java:42)",
    "plain text without a level",
    "",
]


def _line(rng: np.random.Generator, t: pd.Timestamp) -> bytes:
    kind = rng.random()
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    stream = "stderr" if rng.random() < 0.3 else "stdout"
    message = _MESSAGES[rng.integers(len(_MESSAGES))]
    if kind < 0.03:
        return b"not a cri line at all"
    if kind < 0.05:
        return f"2024-13-45T99:00:00Z {stream} F {message}".encode()
    if kind < 0.06:
        return f"{stamp} {stream} X {message}".encode()
    if kind < 0.08:
        return b"   "
    if kind < 0.09:
        return f"{stamp} {stream} F caf".encode() + b"\xe9 \xff latin-1"
    if kind < 0.10:
        return f"2031-01-01T00:00:00Z {stream} F clock years off".encode()
    tag = "P" if kind < 0.2 else "F"
    return f"{stamp} {stream} {tag} {message}".encode()


def _folder(root: Path, seed: int, files: int = 24) -> Path:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2024-05-14T10:00:00Z")
    for k in range(files):
        pod, restart = divmod(k, 3)
        folder = root / "pods" / f"shop_web-{pod}-x2x9z_u{pod}" / "web"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for _ in range(int(rng.integers(0, 40))):
            t += pd.Timedelta(milliseconds=int(rng.integers(0, 500)))
            lines.append(_line(rng, t))
        data = b"\n".join(lines)
        if lines and rng.random() < 0.7:
            data += b"\n"
        (folder / f"{restart}.log").write_bytes(data)
    (root / "truth.json").write_text("{}")
    return root


def _unbatched(monkeypatch: pytest.MonkeyPatch, path: Path) -> obskit.Investigation:
    with monkeypatch.context() as m:
        m.setattr(investigation, "BATCH_FILE_BYTES", -1)  # every file parsed alone
        return obskit.load(path)


def _same(a: obskit.Investigation, b: obskit.Investigation) -> None:
    for name in ("metrics", "events", "logs", "inventory", "rejects", "files"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert a.notes == b.notes


@pytest.mark.parametrize("seed", range(2))
def test_a_folder_of_small_files_loads_as_each_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    root = _folder(tmp_path, seed)
    batched = obskit.load(root)
    _same(batched, _unbatched(monkeypatch, root))
    assert len(batched.files) == 25  # every file has its ledger row (truth.json: metadata)
    files = batched.files[batched.files["status"] == "loaded"]
    assert len(files) >= 20 and files["balanced"].all()
    assert (
        files["records"].sum()
        == files["rows"].sum() + files["rejects"].sum() + files["merged"].sum()
    )
    assert len(batched.logs) == files["rows"].sum()
    assert len(batched.rejects) == files["rejects"].sum()
    # each reject names its own file and its line there
    assert set(batched.rejects["origin"]) <= set(files["origin"])
    assert batched.rejects["line"].notna().all()


def test_files_starting_with_blank_lines_keep_their_own_line_numbers() -> None:
    line = b"2024-05-14T10:00:00.000000000Z stdout F {}\n"
    bodies = [
        b"\n\n  \n" + line.replace(b"{}", b"a") + b"bad\n",
        b"",
        b"\n \n\n",
        b"bad first\n\n" + line.replace(b"{}", b"b"),
        b" \t\n" + line.replace(b"{}", b"c").rstrip(b"\n"),
        b"\n" * 5,
        line.replace(b"{}", b"d") * 3,
    ]
    payloads = [(body, f"/var/log/pods/shop_w-{k}_u{k}/w/0.log") for k, body in enumerate(bodies)]
    batched, tallies = cri.parse_cri_logs(payloads)
    alone = [cri.parse_cri_log(body, origin) for body, origin in payloads]
    lines = [r.logs["line"].tolist() for r in alone if r.logs is not None and len(r.logs)]
    assert batched.logs["line"].tolist() == [n for ln in lines for n in ln] == [4, 3, 2, 1, 2, 3]
    rejects = pd.concat([r.rejects for r in alone], ignore_index=True)
    assert batched.rejects[["origin", "line"]].values.tolist() == (
        rejects[["origin", "line"]].values.tolist()
    )
    assert [(t.records, t.rows, t.rejects) for t in tallies] == [
        (r.records, r.rows, len(r.rejects)) for r in alone
    ]


def test_bad_utf8_at_a_files_end_is_replaced_as_in_that_file_alone() -> None:
    # a file cut inside a multi-byte character (no newline after it), followed by files
    # whose first bytes would complete it: each file's bytes are replaced as its own
    line = b"2024-05-14T10:00:00.000000000Z stdout F "
    bodies = [
        line + b"caf\xc3",
        b"\xa9" + line[1:] + b"tail\n",
        line + b"euro \xe2\x82",
        line + b"ok \xe2\x82\xac\n",
        line + b"\xff\n",
    ]
    payloads = [(body, f"/var/log/pods/shop_w-{k}_u{k}/w/0.log") for k, body in enumerate(bodies)]
    joined = cri.CriFiles()
    for body, origin in payloads:
        joined.add(body, origin)
    assert [joined.file(k) for k in range(len(joined))] == bodies
    alone = [cri.parse_cri_log(body, origin) for body, origin in payloads]
    expected = [m for r in alone for m in r.logs["message"].tolist()]
    assert expected == ["caf\ufffd", "euro \ufffd", "ok \u20ac", "\ufffd"]
    for batched, tallies in (cri.parse_cri_logs(payloads), cri.parse_cri_files(joined)):
        assert batched.logs["message"].tolist() == expected
        assert batched.rejects["origin"].tolist() == [payloads[1][1]]  # its first line
        assert [(t.records, t.rows, t.rejects) for t in tallies] == [
            (r.records, r.rows, len(r.rejects)) for r in alone
        ]


def test_batches_split_by_size_give_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path, 7)
    whole = obskit.load(root)
    with monkeypatch.context() as m:
        m.setattr(investigation, "BATCH_BYTES", 2000)  # many batches of a few files
        _same(obskit.load(root), whole)


def test_groups_parsed_while_reading_go_in_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # groups of a few files parse on a thread while the next are read; a file of another
    # format between them, and a group whose batch parse fails (read file by file instead),
    # leave the ledger, rows and rejects in the order of loading each file alone
    root = _folder(tmp_path, 11, files=30)
    (root / "pods" / "shop_web-4-x2x9z_u4" / "web" / "events.json").write_text(
        '{"kind": "EventList", "apiVersion": "v1", "items": []}'
    )
    alone = _unbatched(monkeypatch, root)
    real = cri.parse_cri_files
    calls = []

    def failing_second(files: cri.CriFiles) -> tuple:
        calls.append(len(files))
        if len(calls) == 2:
            raise ValueError("a shape the batch did not expect")
        return real(files)

    with monkeypatch.context() as m:
        m.setattr(investigation, "BATCH_BYTES", 6000)
        m.setattr(investigation, "parse_cri_files", failing_second)
        _same(obskit.load(root), alone)
    assert len(calls) > 4 and max(calls) > 1  # groups of several files, several groups
    assert alone.files["format"].tolist().count("k8s-json") == 1


def test_the_first_group_is_small_and_the_last_is_parsed_on_the_calling_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run's first group is cut early (parsing starts soon after the reading does) and the
    # last is parsed here while the pool parses the one before it; the result is unchanged
    root = _folder(tmp_path, 12, files=30)
    alone = _unbatched(monkeypatch, root)
    real = cri.parse_cri_files
    calls: list[tuple[list[str], int, bool]] = []

    def recording(files: cri.CriFiles) -> tuple:
        here = threading.current_thread() is threading.main_thread()
        calls.append((list(files.origins), files.size, here))
        return real(files)

    with monkeypatch.context() as m:
        m.setattr(investigation, "FIRST_GROUP_BYTES", 1500)
        m.setattr(investigation, "BATCH_BYTES", 6000)
        m.setattr(investigation, "parse_cri_files", recording)
        _same(obskit.load(root), alone)
    assert len(calls) >= 4
    order = alone.files["origin"].tolist()
    calls.sort(key=lambda call: order.index(call[0][0]))  # file order (the last two run at once)
    files, size, _ = calls[0]
    assert size <= 1500 or len(files) == 1
    assert max(size for _, size, _ in calls[1:-1]) > 1500
    assert [here for _, _, here in calls] == [False] * (len(calls) - 1) + [True]
    assert calls[-1][0][-1] == alone.files["origin"].iloc[-2]  # the last log file (then truth.json)


def test_files_written_into_a_kept_buffer_are_the_files_joined() -> None:
    # a buffer longer than the files (written over, then cut), shorter (grown), and files
    # without a last newline; each file's bytes read back from it, and copied out of it
    bodies = [b"a b c\n", b"no newline", b"", b"x" * 5000, b"end"]
    plain = cri.CriFiles()
    for k, body in enumerate(bodies):
        plain.add(body, f"/var/log/pods/shop_w-{k}_u{k}/w/0.log")
    expected = plain.joined()
    assert isinstance(expected, bytes) and len(expected) == plain.size
    for before in (b"", b"?" * 10, b"?" * (plain.size - 1), b"?" * plain.size, b"?" * 9000):
        buffer = bytearray(before)
        files = cri.CriFiles(buffer)
        for origin, body in zip(plain.origins, bodies, strict=True):
            files.add(body, origin)
        assert (files.size, files.starts) == (plain.size, plain.starts)
        assert [files.file(k) for k in range(len(files))] == bodies
        joined = files.joined()
        assert joined is buffer and bytes(joined) == expected
        files.detach()
        buffer[:] = b"written over by the next group"
        assert files.buffer is None and [files.file(k) for k in range(len(files))] == bodies


def test_a_buffer_something_still_views_is_not_written_over() -> None:
    buffers = investigation._Buffers()
    kept = bytearray(b"rows of a group before")
    view = memoryview(kept)  # as an array built over a group's bytes would hold it
    buffers.give(kept)
    taken = buffers.take()
    assert taken is not kept and bytes(view) == b"rows of a group before"
    view.release()
    buffers.give(kept)
    assert buffers.take() is kept


def test_a_group_whose_parse_fails_keeps_its_files_when_its_buffer_is_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffers = investigation._Buffers()
    group = investigation._Group(cri.CriFiles(buffers.take()))
    bodies = [b"2024-05-14T10:00:00Z stdout F a\n", b"2024-05-14T10:00:01Z stdout F b"]
    for k, body in enumerate(bodies):
        group.add(Path(f"/var/log/pods/shop_w-{k}_u{k}/w/0.log"), body, False)

    def failing(files: cri.CriFiles) -> tuple:
        raise ValueError("a shape the batch did not expect")

    monkeypatch.setattr(investigation, "parse_cri_files", failing)
    assert investigation._parse_group(group, buffers) is None
    reused = buffers.take()  # the next group's, written over
    reused[:] = b"x" * len(reused)
    assert [group.files.file(k) for k in range(len(bodies))] == bodies


def test_groups_are_joined_into_buffers_kept_across_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every group's bytes are written into one of two kept buffers (the group being read and
    # the one parsing), and the load is the same as each file's alone
    root = _folder(tmp_path, 13, files=30)
    alone = _unbatched(monkeypatch, root)
    real = cri.parse_cri_files
    used: list[int] = []

    def recording(files: cri.CriFiles) -> tuple:
        # a group of one file keeps its bytes as read; those of several are in a buffer
        assert (files.buffer is None) == (len(files) == 1)
        if files.buffer is not None:
            used.append(id(files.buffer))
        return real(files)

    with monkeypatch.context() as m:
        m.setattr(investigation, "BATCH_BYTES", 4000)
        m.setattr(investigation, "parse_cri_files", recording)
        _same(obskit.load(root), alone)
    assert len(used) > 5 and len(set(used)) <= 2


def test_a_far_out_clock_is_rejected_in_its_own_file_only(tmp_path: Path) -> None:
    ok = tmp_path / "pods" / "shop_a-1_u1" / "a" / "0.log"
    off = tmp_path / "pods" / "shop_b-1_u2" / "b" / "0.log"
    for path in (ok, off):
        path.parent.mkdir(parents=True)
    ok.write_bytes(b"2024-05-14T10:00:00Z stdout F fine\n" * 5)
    off.write_bytes(
        b"2024-05-14T10:00:00Z stdout F fine\n" * 5 + b"2031-01-01T00:00:00Z stdout F x\n"
    )
    inv = obskit.load(tmp_path)
    ledger = inv.files.set_index("origin")
    assert ledger.loc[str(off), ["rows", "rejects"]].tolist() == [5, 1]
    assert ledger.loc[str(ok), ["rows", "rejects"]].tolist() == [5, 0]
    assert "years" in inv.rejects["reason"].iloc[0] and inv.rejects["line"].iloc[0] == 6


def test_many_stream_groups_join_and_inherit_as_a_few_do(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    t = pd.Timestamp("2024-05-14T10:00:00Z")
    payloads = []
    for k in range(30):
        lines = [_line(rng, t + pd.Timedelta(seconds=i)) for i in range(int(rng.integers(1, 30)))]
        payloads.append((b"\n".join(lines) + b"\n", f"/var/log/pods/ns_p{k}_u{k}/c/0.log"))
    few, _ = cri.parse_cri_logs(payloads)
    with monkeypatch.context() as m:
        m.setattr(_levels, "FEW_GROUPS", 10_000)  # group by group, as for one file
        many, _ = cri.parse_cri_logs(payloads)
    pd.testing.assert_frame_equal(few.logs, many.logs, check_exact=True)
    assert few.merged == many.merged > 0


def test_enrich_groups_rows_as_pandas_does() -> None:
    rng = np.random.default_rng(11)
    n = 5000
    frame = schema.conform(
        "events",
        pd.DataFrame(
            {
                "namespace": rng.choice(["shop", "ops", None], n),
                "pod": rng.choice(["a", "b", "c", None], n),
                "node": rng.choice(["n1", None], n),
                "object_kind": rng.choice(["Pod", "Deployment", None], n),
                "object_name": rng.choice(["web", "db", None], n),
                "key_source": "record",
            }
        ),
    )
    columns = [*schema.KEY, "key_source", "object_kind", "object_name"]
    codes, first = enrich_module._key_codes(frame, columns)
    expected = frame[columns].groupby(columns, observed=True, dropna=False, sort=False).ngroup()
    assert (codes == expected.to_numpy()).all()
    _, expected_first = np.unique(expected.to_numpy(), return_index=True)
    assert (first == expected_first).all()


def test_observed_nodes_are_pandas_groupby_pairs() -> None:
    # pods seen on two nodes (the first pair in group-by order wins), categories not in
    # alphabetical order, missing parts, rows whose key did not come from their record
    rng = np.random.default_rng(12)
    n = 5000
    frame = pd.DataFrame(
        {
            "namespace": pd.Categorical(rng.choice(["z", "a", None], n), categories=["z", "a"]),
            "pod": pd.Categorical(rng.choice(["p9", "p1", "p5", None], n), ["p9", "p1", "p5"]),
            "node": pd.Categorical(rng.choice(["n2", "n1", None], n), categories=["n2", "n1"]),
            "key_source": pd.Categorical(rng.choice(["record", "inventory", None], n)),
        }
    )
    for given in (frame, frame.astype("object")):
        own = given[
            (given["key_source"] == "record") & given["pod"].notna() & given["node"].notna()
        ]
        pairs = own.groupby(["namespace", "pod", "node"], observed=True).size().index
        expected: dict[tuple[str, str], str] = {}
        for namespace, pod, node in pairs:
            expected.setdefault((namespace, pod), node)
        assert enrich_module.observed_nodes(given) == expected
    assert enrich_module.observed_nodes(frame)[("z", "p1")] == "n2"


@pytest.fixture(params=["one thread", "two threads"])
def take_threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways :func:`investigation._by_time` takes its columns."""
    rows = 10**12 if request.param == "one thread" else 1
    monkeypatch.setattr(investigation, "_PARALLEL_TAKE_ROWS", rows)


@pytest.mark.usefixtures("take_threads")
def test_time_order_is_pandas_stable_sort() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    frame = schema.conform(
        "logs",
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(rng.integers(0, 50, n), unit="s", utc=True),
                "message": pd.array([f"m{i}" for i in range(n)], dtype=schema.STRING),
                "pod": rng.choice(["a", "b"], n),
            }
        ),
    )
    stacked = schema.concat("logs", [frame.iloc[:700], frame.iloc[700:]])  # text in pieces
    expected = stacked.sort_values("timestamp", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(investigation._by_time(stacked), expected, check_exact=True)
    with_nat = stacked.assign(timestamp=stacked["timestamp"].where(stacked.index % 7 != 0))
    expected = with_nat.sort_values("timestamp", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(investigation._by_time(with_nat), expected, check_exact=True)


@pytest.mark.usefixtures("take_threads")
def test_time_order_keeps_object_columns_as_objects() -> None:
    # an audit Event's stage time is kept as the record gave it: pandas must not infer anew
    stamps = pd.to_datetime([3, 1, 2], unit="s", utc=True)
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "stage_timestamp": pd.Series(list(stamps), dtype="object"),
            "user": pd.Series(["c", None, "b"], dtype="object"),
        }
    )
    got = investigation._by_time(frame)
    expected = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert (got.dtypes == frame.dtypes).all()


@pytest.mark.usefixtures("take_threads")
def test_time_order_of_files_stacked_in_time_order_is_pandas_stable_sort() -> None:
    # each "file" in time order, stacked: long runs of consecutive rows, copied whole
    rng = np.random.default_rng(6)
    # files of overlapping hours, not in time order one after another
    runs = [np.sort(rng.integers(k * 9_800, k * 9_800 + 10_000, 400)) for k in (3, 0, 4, 1, 2)]
    n = sum(map(len, runs))
    texts = [
        None if i % 97 == 0 else "" if i % 89 == 0 else f"line {i} " * (i % 5) for i in range(n)
    ]
    frame = schema.conform(
        "logs",
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(np.concatenate(runs), unit="ms", utc=True),
                "message": pd.array(texts, dtype=schema.STRING),
            }
        ),
    )
    for stacked in (frame, schema.concat("logs", [frame.iloc[:900], frame.iloc[900:]])):
        expected = stacked.sort_values("timestamp", kind="stable").reset_index(drop=True)
        got = investigation._by_time(stacked)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        got["message"].array.__arrow_array__().validate(full=True)


@pytest.mark.parametrize(
    "order",
    [[], [3], [0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0], [2, 3, 4, 0, 1, 5, 6], [5, 6, 0, 1]],
)
def test_taken_text_is_arrows_take(order: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    values = pa.array(["a", None, "ccc", "", "dd", None, "é"], type=pa.large_string())
    rows = np.array(order, dtype=np.int64)
    expected = pc.take(values, pa.array(rows, type=pa.int64()))
    for runs_at_least in (1, 16):  # runs copied whole, and Arrow's take
        monkeypatch.setattr(source_base, "_RUN_ROWS", runs_at_least)
        for given in (values, pa.chunked_array([values.slice(0, 3), values.slice(3)])):
            got = source_base.taken_text(given, rows)
            got.validate(full=True)
            assert got.equals(expected)


@pytest.mark.parametrize("seed", range(3))
def test_taken_text_from_chunks_where_they_lie_is_arrows_take(seed: int) -> None:
    # text in chunks made apart (their bytes anywhere in memory, in any order), empty chunks
    # and strings among them, slices of one array (bytes shared: joined instead), nulls
    rng = np.random.default_rng(seed)
    words = ["", "a", "bb", "é€", "x" * 300, "line with spaces"]
    pieces = [
        pa.array(list(rng.choice(words, size=int(rng.integers(0, 40)))), type=pa.large_string())
        for _ in range(6)
    ]
    whole = pa.array(list(rng.choice(words, size=50)), type=pa.large_string())
    cases = [
        pa.chunked_array(pieces, type=pa.large_string()),
        pa.chunked_array(pieces[::-1], type=pa.large_string()),
        pa.chunked_array([whole.slice(10, 20), whole.slice(0, 15), whole.slice(30)]),
        pa.chunked_array([whole.slice(25), whole.slice(0, 25)]),
        pa.chunked_array([pa.array(["", ""], type=pa.large_string()), whole]),
        pa.chunked_array([pa.array(["a", None], type=pa.large_string()), whole]),
        pa.chunked_array([pieces[0].cast(pa.large_binary()), whole.cast(pa.large_binary())]),
    ]
    for values in cases:
        n = len(values)
        for rows in (rng.permutation(n), rng.permutation(n)[: n // 2], np.arange(n)[::-1]):
            rows = rows.astype(np.int64)
            expected = pc.take(values.combine_chunks(), pa.array(rows, type=pa.int64()))
            got = source_base.taken_text(values, rows)
            got.validate(full=True)
            assert got.type == values.type
            assert got.equals(expected)


# --- windowed loads: filtering while reading keeps exactly what filtering afterwards keeps ---


def _timed_folder(root: Path, seed: int) -> Path:
    """CRI files in time order (as the runtime writes them), over three namespaces, with
    partial lines, bad lines and stack traces; a few big enough to be read in pieces."""
    rng = np.random.default_rng(seed)
    for k in range(9):
        namespace = ("shop", "ops", "db")[k % 3]
        folder = root / "pods" / f"{namespace}_web-{k}-x2x9z_u{k}" / "web"
        folder.mkdir(parents=True)
        t = pd.Timestamp("2024-05-14T10:00:00Z") + pd.Timedelta(minutes=int(rng.integers(0, 60)))
        lines = []
        for _ in range(int(rng.integers(5, 400))):
            t += pd.Timedelta(seconds=int(rng.integers(0, 20)))
            line = _line(rng, t)
            while line.startswith(b"2031"):  # a clock years off is out of time order
                line = _line(rng, t)
            lines.append(line)
        (folder / "0.log").write_bytes(b"\n".join(lines) + b"\n")
    return root


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its categories as plain values (their sets and order left aside)."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(cats, "object"))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_windowed_load_keeps_what_a_full_load_then_filtered_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    root = _timed_folder(tmp_path, seed)
    # pieces of a few kB, so that files are read piece by piece as a large one would be, and
    # entered by seeking (a run of partial lines looked back over for 1.5 kB)
    monkeypatch.setattr(cri, "WINDOW_PIECE_BYTES", 4000)
    monkeypatch.setattr(cri, "_RUN_BYTES", 1500)
    monkeypatch.setattr(investigation, "BATCH_FILE_BYTES", 6000)
    monkeypatch.setattr(investigation, "WINDOW_FILE_BYTES", 6000)
    full = obskit.load(root)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        lo = pd.Timestamp("2024-05-14T10:00:00Z") + pd.Timedelta(minutes=int(rng.integers(0, 90)))
        hi = lo + pd.Timedelta(minutes=int(rng.integers(1, 40)))
        where = {"namespace": ["shop", "db"]} if rng.random() < 0.5 else None
        got = obskit.load(root, start=lo, end=hi, where=where)
        expected = full.window(lo, hi)
        if where:
            expected = expected._matching(where)
        # the same rows and values (categories of what was never read are not there)
        if len(expected.logs):
            pd.testing.assert_frame_equal(
                _values(got.logs), _values(expected.logs), check_exact=True
            )
        assert len(got.logs) == len(expected.logs)
        assert got.start == lo and got.end == hi
        skipped = got.files[got.files["status"].str.startswith("skipped by filter")]
        read = got.files[got.files["status"] == "loaded"]
        assert len(skipped) + len(read) == 9 and read["balanced"].all()
        if where:  # the other namespace's files were not read
            assert skipped["status"].str.contains("namespace 'ops'").sum() == 3


def test_files_outside_the_window_are_listed_as_skipped(tmp_path: Path) -> None:
    early = tmp_path / "pods" / "shop_a-1_u1" / "a" / "0.log"
    late = tmp_path / "pods" / "shop_b-1_u2" / "b" / "0.log"
    for path, hour in ((early, "08"), (late, "10")):
        path.parent.mkdir(parents=True)
        day = f"2024-05-14T{hour}"
        path.write_bytes(f"{day}:00:00Z stdout F one\n{day}:10:00Z stdout F two\n".encode())
    inv = obskit.load(tmp_path, start="2024-05-14T09:30:00Z", end="2024-05-14T10:05:00Z")
    assert inv.logs["message"].tolist() == ["one"]
    status = inv.files.set_index("origin")["status"]
    assert status[str(early)].startswith("skipped by filter: its lines run from")
    assert "before the window" in status[str(early)]
    assert status[str(late)] == "loaded"
    assert str(early) in inv.skipped()["origin"].tolist()


def test_where_names_key_columns_only(tmp_path: Path) -> None:
    with pytest.raises(obskit.InvestigationError, match="no key column; the key columns are"):
        obskit.load(tmp_path, where={"namespaces": "shop"})
    with pytest.raises(obskit.InvestigationError, match="after its end"):
        obskit.load(tmp_path, start="2024-05-14T10:00:00Z", end="2024-05-14T09:00:00Z")


def test_a_windowed_bundle_read_keeps_what_a_full_read_then_window_keeps(tmp_path: Path) -> None:
    inv = obskit.datasets.load("checkout-oom")
    folder = inv.save(tmp_path / "bundle")
    lo, hi = pd.Timestamp("2024-05-14T10:00:00Z"), pd.Timestamp("2024-05-14T10:20:00Z")
    got = obskit.load(folder, start=lo, end=hi, where={"namespace": "shop"})
    expected = obskit.load(folder).window(lo, hi)._matching({"namespace": ["shop"]})
    for name in ("metrics", "events", "logs", "inventory"):
        frame = getattr(expected, name)
        assert len(getattr(got, name)) == len(frame), name
        if len(frame):
            pd.testing.assert_frame_equal(_values(getattr(got, name)), _values(frame))
    assert 0 < len(got.metrics) < len(inv.metrics)


def test_walking_a_folder_lists_what_rglob_lists(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    for rel in ("b/1.log", "a/0.log", "a/10.log", "a/2.log", "a.log", "A/x", ".hidden/1.log"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    (root / "a" / ".swap").write_bytes(b"x")
    (root / "link.log").symlink_to(root / "a" / "0.log")  # a link to a file: listed
    (root / "linked").symlink_to(root / "b")  # a link to a folder: not followed
    (root / "broken.log").symlink_to(root / "missing")
    old = [
        sub
        for sub in sorted(root.rglob("*"))
        if sub.is_file() and not any(p.startswith(".") for p in sub.relative_to(root).parts)
    ]
    new = [path for path, _, _ in investigation._expand(root)]
    assert new == old
    assert [p.relative_to(root).as_posix() for p in new] == [
        "A/x",
        "a/0.log",
        "a/10.log",
        "a/2.log",
        "a.log",
        "b/1.log",
        "link.log",
    ]


def _old_sniff_cri(head: str, name: str) -> float:
    import re

    lines = [ln for ln in cri._first_lines(head, 20) if ln.strip()]
    if not lines:
        return 0.0
    hits = sum(
        bool(re.match(r"^\d{4}-\d\d-\d\dT\S+ (stdout|stderr) [PF]\S* ?", ln)) for ln in lines
    )
    return 0.9 * hits / len(lines) + (0.05 if hits else 0.0)


def _old_sniff_aks(head: str, name: str, tail: str = "") -> float:
    import re

    from obskit.sources.cloud_audit import _AKS_CATEGORY

    if re.match(r"\s*\d{4}-\d\d-\d\dT\S+ (stdout|stderr) [PF]", head):
        return 0.0  # a container's CRI log of the records is its log, not the export
    category = _AKS_CATEGORY.search(head) or _AKS_CATEGORY.search(tail)
    return 0.98 if category and '"properties"' in head else 0.0


def _old_sniff_prometheus_text(head: str, name: str) -> float:
    from obskit.sources.prometheus import _GO_FLOAT, _SAMPLE, _TYPE_LINE

    lines = head[:16384].splitlines()
    if len(lines) <= 61:
        lines = head.splitlines()
        if len(lines) > 1 and not head.endswith("\n"):
            lines = lines[:-1]
    checked = good = 0
    for line in lines[:60]:
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if _TYPE_LINE.fullmatch(line) or line.startswith("# HELP ") or line == "# EOF":
                good += 1
                checked += 1
            continue
        checked += 1
        m = _SAMPLE.fullmatch(line)
        if not (m and _GO_FLOAT.fullmatch(m.group("value"))):
            return 0.0
        good += 1
    if not checked or good < checked:
        return 0.0
    return 0.9 if head.lstrip().startswith(("# HELP ", "# TYPE ")) else 0.6


def _heads() -> list[tuple[str, str, str]]:
    """(head, tail, name) of every file in tests/data and the bundled datasets, and of CRI
    lines that carry other formats' records and of metric lines cut at odd places."""
    from obskit.sources._base import decode_head, decode_tail, read_bytes

    files = sorted(p for p in (Path(__file__).parent / "data").rglob("*") if p.is_file())
    for name in obskit.datasets.names():
        files += sorted(p for p in obskit.datasets.path(name).rglob("*") if p.is_file())
    payloads = [(read_bytes(p)[0], p.name) for p in files]
    for record in (
        '{"category":"kube-audit","properties":{"log":"{}","stream":"stdout"}}',
        '{"protoPayload":{"serviceName":"k8s.io"}}',
        "# HELP x y",
        'x{a="b"} 1',
    ):
        for n in (1, 30):
            lines = [f"2024-05-14T10:00:{i:02d}.000000000Z stdout F {record}" for i in range(n)]
            payloads.append(("\n".join(lines).encode() + b"\n", "0.log"))
    metrics = "# HELP x y\n# TYPE x gauge\n" + "".join(f'x{{i="{i}"}} {i}\n' for i in range(200))
    for cut in (10, 40, 4095, 4096, 4097, 5000, len(metrics)):
        payloads += [
            (metrics[:cut].encode(), "metrics"),
            ((metrics[:cut] + "oops\n").encode(), "m"),
        ]
    payloads.append((("\r\n" * 3000 + 'x{a="b"} 1\r\nnot a sample\r\n').encode(), "m"))
    return [(decode_head(d), decode_tail(d), name) for d, name in payloads]


def test_the_faster_sniffers_judge_as_before() -> None:
    from obskit.sources import cloud_audit, prometheus

    heads = _heads()
    assert len(heads) > 100
    for head, tail, name in heads:
        assert cri._sniff_cri(head, name) == _old_sniff_cri(head, name), head[:200]
        assert cloud_audit._sniff_aks(head, name, tail) == _old_sniff_aks(head, name, tail)
        assert prometheus._sniff_text(head, name) == _old_sniff_prometheus_text(head, name), head[
            :200
        ]


def test_a_windowed_load_streams_compressed_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotated logs, gzipped as the kubelet leaves them: streamed piece by piece (they cannot
    seek), the same rows as a full load then filtered; a damaged one keeps what came first."""
    root = _timed_folder(tmp_path, 4)
    for path in sorted(root.rglob("0.log")):
        path.with_name("0.log.20240514-120000.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    monkeypatch.setattr(cri, "WINDOW_PIECE_BYTES", 4000)
    full = obskit.load(root)
    lo, hi = pd.Timestamp("2024-05-14T10:20:00Z"), pd.Timestamp("2024-05-14T10:50:00Z")
    got = obskit.load(root, start=lo, end=hi)
    expected = full.window(lo, hi)
    assert len(got.logs) == len(expected.logs) > 0
    pd.testing.assert_frame_equal(_values(got.logs), _values(expected.logs), check_exact=True)
    read = got.files[got.files["status"] == "loaded"]
    assert read["note"].str.contains("decompressed bytes passed over").all()
    assert read["balanced"].all()
    damaged = sorted(root.rglob("*.gz"))[0]
    damaged.write_bytes(damaged.read_bytes()[:-40])  # cut short: no end marker
    got = obskit.load(damaged, start=lo, end=hi)
    assert "truncated or corrupt" in got.files.iloc[0]["note"]


def test_path_key_reads_paths_as_their_normal_form() -> None:
    # path_key normalises a path only where PurePosixPath would change it
    segments = ["", ".", "..", "shop_web-1_u1", "web", "0.log", "2.log.gz", "pods", "x/"]
    segments.append("web-1_shop_app-" + "a" * 64 + ".log")
    for k in (1, 2, 3):
        for parts in itertools.product(segments, repeat=k):
            for sep in ("/", "\\", "//", "/./"):
                path = sep.join(parts)
                if path:
                    normal = str(PurePosixPath(path.replace("\\", "/")))
                    assert cri.path_key(path) == cri.path_key(normal), path
    assert cri.path_key("logs//shop_web-1_u1/./web/0.log")["pod"] == "web-1"


@pytest.fixture(scope="module")
def oom_full() -> obskit.Investigation:
    return obskit.load(obskit.datasets.path("checkout-oom"))


def test_metrics_and_events_outside_the_window_are_left_out_as_read(
    oom_full: obskit.Investigation,
) -> None:
    """A folder of every kind of file (Prometheus answers, kubectl Events, an audit log, CRI
    logs, the inventory): each signal frame equals a full load's then windowed, enrichment
    included (108 metric rows of this window take their pod's node from rows outside it),
    while the metric samples and Events outside the window were never kept."""
    folder = obskit.datasets.path("checkout-oom")
    full = oom_full
    start = pd.Timestamp("2024-05-14T09:40:00Z")
    end = start + pd.Timedelta(minutes=20)
    got = obskit.load(folder, start=start, end=end)
    expected = full.window(start, end)
    assert (got.metrics["key_source"] == "signals").sum() > 0
    for name in ("metrics", "events", "logs", "inventory"):
        frame = getattr(expected, name)
        assert len(getattr(got, name)) == len(frame), name
        if len(frame):
            pd.testing.assert_frame_equal(
                _values(getattr(got, name)), _values(frame), check_exact=True
            )
    files = got.files.set_index("origin")
    whole = full.files.set_index("origin")
    assert files["balanced"].all()
    for fmt in ("prometheus-json", "k8s-json"):
        mine = files[files["format"] == fmt]
        dropped = mine["note"].fillna("").str.contains("outside the window left out as read")
        assert dropped.any(), fmt
        for origin in mine.index[dropped]:
            n = int(
                mine.at[origin, "note"].split(" row(s) outside")[0].split("; ")[-1].replace(",", "")
            )
            # rows in = rows kept + rejects + merged + rows left out by the window
            assert whole.at[origin, "records"] == mine.at[origin, "records"] + n
            assert mine.at[origin, "records"] == (
                mine.at[origin, "rows"] + mine.at[origin, "rejects"] + mine.at[origin, "merged"]
            )


@pytest.mark.parametrize(
    ("where", "window"),
    [
        ({"namespace": ["batch", "monitoring"], "pod": "prometheus-0"}, True),
        ({"node": "ip-10-0-1-59.eu-west-1.compute.internal"}, False),
    ],
)
def test_signal_rows_of_other_key_values_are_left_out_as_read(
    oom_full: obskit.Investigation, where: dict, window: bool
) -> None:
    """The same folder with ``where`` (with a window and without): every frame equals a full
    load's then windowed and filtered, while rows that could not match were never kept (a
    node's rows that name a pod stay until enrichment: other rows learn the node from them)."""
    folder = obskit.datasets.path("checkout-oom")
    start = pd.Timestamp("2024-05-14T09:40:00Z") if window else None
    end = start + pd.Timedelta(minutes=20) if window else None
    got = obskit.load(folder, start=start, end=end, where=where)
    assert sum(len(getattr(got, n)) for n in ("metrics", "events", "logs")) > 0
    expected = (oom_full.window(start, end) if window else oom_full)._matching(
        {k: [v] if isinstance(v, str) else v for k, v in where.items()}
    )
    for name in ("metrics", "events", "logs", "inventory"):
        frame = getattr(expected, name)
        assert len(getattr(got, name)) == len(frame), name
        if len(frame):
            pd.testing.assert_frame_equal(
                _values(getattr(got, name)), _values(frame), check_exact=True
            )
    assert got.files["balanced"].all()
    notes = got.files["note"].fillna("")
    assert notes.str.contains("of other key values \\(where\\) left out as read").any()
    loaded = got.files[got.files["status"] == "loaded"]
    assert (loaded["records"] == loaded["rows"] + loaded["rejects"] + loaded["merged"]).all()
