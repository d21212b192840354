"""Reading a time window of a large audit log (:func:`obskit.sources.audit.read_audit_window`)
through ``obskit.load(..., start=, end=)``: the rows are exactly those a full load then
``window()`` keeps, plain (bisected on byte offsets) and gzip (streamed), and the ledger says
what was passed over.

The records are Falco's real k8s_audit trace events (``tests/data/audit``, minikube, see its
SOURCES.md), re-stamped over two hours in the order the log backend writes them (by stage
time); some are long requests (watches) whose last stage comes up to 50 minutes after they
were received, and a few lines are broken, to be rejected with their line numbers.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

import obskit
from obskit.sources import audit
from obskit.sources._base import stream_lines

DATA = Path(__file__).parent.parent / "data" / "audit"
T0 = pd.Timestamp("2024-05-14T10:00:00Z")


def _micro(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _log(seed: int = 3, requests: int = 800) -> bytes:
    """An audit log of ``requests`` requests, lines in stage-time order."""
    events = [
        orjson.loads(line)
        for path in sorted(DATA.glob("*.json"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]
    rng = np.random.default_rng(seed)
    lines: list[tuple[pd.Timestamp, bytes]] = []
    for k in range(requests):
        received = T0 + pd.Timedelta(seconds=float(rng.uniform(0, 7200)))
        event = dict(events[k % len(events)], auditID=f"req-{k}")
        event["requestReceivedTimestamp"] = _micro(received)
        long = rng.random() < 0.05  # a watch: its last stage up to 50 minutes on
        stages = (
            ["RequestReceived", "ResponseComplete"] if rng.random() < 0.5 else ["ResponseComplete"]
        )
        for n, stage in enumerate(stages):
            took = (
                pd.Timedelta(minutes=float(rng.uniform(1, 50)))
                if long and n
                else pd.Timedelta(milliseconds=float(rng.uniform(0, 900)) * n)
            )
            lines.append(
                (
                    received + took,
                    orjson.dumps(dict(event, stage=stage, stageTimestamp=_micro(received + took))),
                )
            )
    lines.sort(key=lambda item: item[0])
    out = [raw for _, raw in lines]
    for at in range(40, len(out), 900):  # truncated records
        out[at] = out[at][:90]
    out.insert(len(out) // 2, b'{"kind":"Event","auditID":"x","stage":"ResponseComplete"}')
    return b"\n".join(out) + b"\n"


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(cats, "object"))


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of 150 kB and probes of 4 kB, so a log of 1.9 MB is read as a large one is."""
    monkeypatch.setattr(audit, "WINDOW_PIECE_BYTES", 150_000)
    monkeypatch.setattr(audit, "_PROBE_BYTES", 4_000)
    monkeypatch.setattr("obskit.investigation.WINDOW_FILE_BYTES", 10_000)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_windowed_audit_log_keeps_what_a_full_load_then_window_keeps(
    tmp_path: Path, small_pieces: None, compressed: bool
) -> None:
    data = _log()
    path = tmp_path / ("audit.log.gz" if compressed else "audit.log")
    path.write_bytes(gzip.compress(data) if compressed else data)
    full = obskit.load(path)
    assert len(full.rejects) == 3 and full.files["balanced"].all()
    for lo, minutes in (("10:40", 20), ("09:00", 70), ("11:50", 5)):
        start = pd.Timestamp(f"2024-05-14T{lo}:00Z")
        end = start + pd.Timedelta(minutes=minutes)
        got = obskit.load(path, start=start, end=end)
        expected = full.window(start, end)
        assert len(got.events) == len(expected.events) > 0
        pd.testing.assert_frame_equal(
            _values(got.events), _values(expected.events), check_exact=True
        )
        row = got.files.iloc[0]
        assert row["status"] == "loaded" and row["format"] == "audit-log" and row["balanced"]
        # rows in = rows out + rejects + what the window left out, read or passed over
        assert row["records"] == row["rows"] + row["rejects"]
        assert "read for the window" in row["note"] and "left out" in row["note"]
        # the rejects read keep their line numbers in the whole file
        assert set(got.rejects["line"]) <= set(full.rejects["line"])


def test_a_window_late_in_a_plain_log_is_found_by_seeking(
    tmp_path: Path, small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.log"
    data = _log()
    path.write_bytes(data)
    parsed: list[int] = []
    real = audit._parse

    def spy(piece: bytes, *args: object) -> tuple:
        parsed.append(len(piece))
        return real(piece, *args)

    monkeypatch.setattr(audit, "_parse", spy)
    result, note = audit.read_audit_window(
        str(path), pd.Timestamp("2024-05-14T11:50:00Z"), pd.Timestamp("2024-05-14T11:55:00Z")
    )
    # bisection passed over the first ~11/12 of the file without parsing it
    assert sum(parsed) < len(data) / 4
    passed = int(note.split("parsed, ")[1].split(" bytes")[0].replace(",", ""))
    assert passed > len(data) * 0.7
    lines_before = data[:passed].count(b"\n")
    assert result.events["line"].min() > lines_before


def test_a_small_audit_log_is_read_whole_and_windowed_after(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(_log(requests=50))
    start, end = T0 + pd.Timedelta("30min"), T0 + pd.Timedelta("60min")
    got = obskit.load(path, start=start, end=end)
    assert got.files.iloc[0]["note"] is None  # read whole, as a load without a window
    assert len(got.events) == len(obskit.load(path).window(start, end).events)


def test_streamed_pieces_are_whole_lines_of_every_member(tmp_path: Path) -> None:
    data = _log(requests=200)
    half = data.index(b"\n", len(data) // 2) + 1
    path = tmp_path / "two-members.gz"  # as `cat a.gz b.gz` makes
    path.write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))
    pieces = list(stream_lines(path, 10_000))
    assert b"".join(pieces) == data and len(pieces) > 5
    assert all(piece.endswith(b"\n") for piece in pieces)
    plain = tmp_path / "plain.log"
    plain.write_bytes(data)
    assert b"".join(stream_lines(plain, 10_000, offset=half)) == data[half:]


def _left_out_by_key(note: str) -> int:
    return int(note.split("; ")[-1].split(" record")[0].replace(",", ""))


@pytest.mark.parametrize(
    ("where", "window"),
    [
        ({"namespace": "foo"}, False),  # the cluster-scoped clusterroles rows (no namespace) go
        ({"namespace": ["default", "foo"], "pod": "nginx-deployment-7998647bdf-phvq7"}, True),
        ({"container": "nginx2"}, False),  # the exec rows into nginx1 go early, the rest after
        ({"node": "minikube"}, True),  # no row names a node: none is left out early, all after
    ],
)
def test_an_audit_log_read_with_where_keeps_what_a_full_load_then_filter_keeps(
    tmp_path: Path,
    small_pieces: None,
    monkeypatch: pytest.MonkeyPatch,
    where: dict,
    window: bool,
) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(_log())
    full = obskit.load(path)
    start, end = (
        (T0 + pd.Timedelta("30min"), T0 + pd.Timedelta("80min")) if window else (None, None)
    )
    built: list[int] = []
    real = audit.AuditRows.add

    def counted(self: audit.AuditRows, event: dict, *args: object, **kw: object) -> bool:
        built.append(1)
        return real(self, event, *args, **kw)

    monkeypatch.setattr(audit.AuditRows, "add", counted)
    got = obskit.load(path, start=start, end=end, where=where)
    expected = (full.window(start, end) if window else full)._matching(
        {k: [v] if isinstance(v, str) else v for k, v in where.items()}
    )
    assert len(got.events) == len(expected.events)
    pd.testing.assert_frame_equal(_values(got.events), _values(expected.events), check_exact=True)
    row = got.files.iloc[0]
    assert row["status"] == "loaded" and row["balanced"]
    assert row["records"] == row["rows"] + row["rejects"]
    by_key = _left_out_by_key(row["note"])
    if "node" in where:
        assert by_key == 0 and len(got.events) == 0
    else:
        assert by_key > 0
        # records whose key cannot match were never made into rows
        assert len(built) == row["records"] - row["rejects"] + 1  # + the Event with no time
    if not window:  # every record read: the ledger balances over the whole file
        whole = full.files.iloc[0]
        assert whole["records"] == row["records"] + by_key
        assert whole["rejects"] == row["rejects"]


def test_a_cluster_scoped_event_is_kept_when_where_names_no_namespace(
    tmp_path: Path, small_pieces: None
) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(_log())
    got = obskit.load(path, where={"pod": "nginx-deployment-5cdcc99dbf-rgw6z"})
    assert len(got.events) > 0 and set(got.events["pod"]) == {"nginx-deployment-5cdcc99dbf-rgw6z"}
    # no namespace in where: the clusterroles rows hold no pod, so the load's filter decides
    # (drops them), never the early skip, which leaves out only rows naming another pod
    full = obskit.load(path)
    roles = full.events["resource"] == "clusterroles"
    assert roles.sum() > 0 and full.events.loc[roles, "namespace"].isna().all()
    note = got.files.iloc[0]["note"]
    other_pods = full.events["pod"].notna() & (
        full.events["pod"] != "nginx-deployment-5cdcc99dbf-rgw6z"
    )
    assert _left_out_by_key(note) == int(other_pods.sum())
