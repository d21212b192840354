"""Detection with a likely format sniffed first (a kubelet log path's CRI) gives the answer the
full detection gives, on every file the tests and datasets hold, on the many-files benchmark's
folder, and on files under kubelet paths that hold another format."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import re
from pathlib import Path

import pytest

import obskit
from obskit.sources import _base, cri, detect_format, read_file

from ..conftest import benchmark_script

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"
KUBELET = "var/log/pods/shop_web-1_0b1c/web"
DATA = ROOT / "tests" / "data"


def _files() -> list[Path]:
    files = sorted(p for p in (ROOT / "tests" / "data").rglob("*") if p.is_file())
    for name in obskit.datasets.names():
        files += sorted(p for p in obskit.datasets.path(name).rglob("*") if p.is_file())
    return files


def _benchmark_folder(root: Path) -> list[Path]:
    """The many-files benchmark's folder, written by its own generator from the datasets' CRI
    lines (40 files of 250 lines)."""
    run = benchmark_script("run")
    lines = []
    for path in _files():
        if path.suffix == ".log" and cri.path_key(str(path)):
            lines += [ln for ln in path.read_bytes().split(b"\n") if ln]
    assert len(lines) > 250
    run._write_many(root, lines, 40, 250)
    return sorted((root / "many").rglob("*.log"))


def _crafted(root: Path) -> list[Path]:
    """Files under kubelet paths (live, rotated, gzipped) that hold no CRI log, or CRI lines
    that carry another format's record, or CRI lines after a line that is not one."""
    cri_line = "2024-05-14T10:00:00.000000000Z stdout F {}\n"
    bodies = {
        "docker": '{"log":"hello\\n","stream":"stdout","time":"2024-05-14T10:00:00Z"}\n',
        "json": '{"level":"info","msg":"hello","kubernetes":{"pod_name":"web-1"}}\n',
        "text": "plain text, no time at all\n",
        "gke": cri_line.format(
            '{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",'
            '"serviceName":"k8s.io"}}'
        ),
        "aks": cri_line.format('{"category":"kube-audit","properties":{"log":"{}"}}') * 3,
        "mixed": "not cri\n" + cri_line.format("a") * 5,
        "cri": cri_line.format("a") * 5,
        "blank": "",
    }
    paths = []
    for k, (kind, body) in enumerate(bodies.items()):
        folder = root / KUBELET.replace("web-1", f"web-{kind}")
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in (
            (f"{k}.log", body.encode()),
            (f"{k}.log.20240514-100000", body.encode()),
            (f"{k}.log.20240514-100000.gz", gzip.compress(body.encode())),
        ):
            (folder / name).write_bytes(data)
            paths.append(folder / name)
    return paths


@functools.cache
def _heads() -> tuple[tuple[Path, str, str], ...]:
    """(path, head, tail) of every file of :func:`_files`, read once."""
    out = []
    for path in _files():
        data = _base.read_bytes(path)[0]
        out.append((path, _base.decode_head(data), _base.decode_tail(data)))
    return tuple(out)


def _both(path: Path) -> tuple[str | None, str | None]:
    data = _base.read_bytes(path)[0]
    full = detect_format(data, path.name)
    first = detect_format(data, path.name, "cri-log")
    return (full and full.name), (first and first.name)


def test_cri_first_detects_as_the_full_detection(tmp_path: Path) -> None:
    for path, head, tail in _heads():
        full = _base.detect(head, path.name, tail)
        assert _base.detect(head, path.name, tail, "cri-log") is full, path
    files = _benchmark_folder(tmp_path / "bench") + _crafted(tmp_path / "crafted")
    assert len(_heads()) + len(files) > 200
    found = {}
    for path in files:
        full, first = _both(path)
        assert first == full, path
        found[path] = full
    # the crafted files reach the other formats through the shortcut's fall-through
    crafted = {p.parent.parent.name.split("_")[1]: found[p] for p in files if "crafted" in p.parts}
    assert crafted == {
        "web-docker": "docker-json-log",
        "web-json": "jsonl-log",
        "web-text": None,
        "web-gke": "cri-log",  # a container that prints audit records: its log
        "web-aks": "cri-log",
        "web-mixed": "cri-log",
        "web-cri": "cri-log",
        "web-blank": None,
    }


def test_no_sniffer_is_surer_than_its_ceiling() -> None:
    for path, head, tail in _heads():
        for fmt in _base.registry().values():
            assert _base._sniffed(fmt, head, path.name, tail) <= fmt.ceiling, (fmt.name, path)


def test_a_kubelet_file_of_another_format_loads_as_that_format(tmp_path: Path) -> None:
    path = _crafted(tmp_path)[0]  # the Docker json-file line under a kubelet path
    _, note, fmt = read_file(path)
    assert (fmt.name, note) == ("docker-json-log", None)
    inv = obskit.load(path)
    assert inv.files["format"].tolist() == ["docker-json-log"]
    assert inv.logs["message"].tolist() == ["hello"]


def test_any_format_sniffed_first_gives_the_same_answer() -> None:
    names = list(_base.registry())
    for k, (path, head, tail) in enumerate(_heads()[::4]):
        likely = names[k % len(names)]
        assert _base.detect(head, path.name, tail, likely) is _base.detect(head, path.name, tail)


def test_a_container_log_of_cloud_audit_records_is_read_as_the_container_log(
    tmp_path: Path,
) -> None:
    # a log forwarder's container echoing the AKS/GKE records it ships: its kubelet log file,
    # wherever it lies, is CRI lines; every line is a log row, none an audit event or a reject
    aks = (DATA / "aks" / "records.jsonl").read_text().splitlines()
    gke = (DATA / "gke" / "sink-export.jsonl").read_text().splitlines()
    for name, records in (("aks", aks), ("gke", gke)):
        path = tmp_path / f"{name}.log"
        path.write_text(
            "".join(
                f"2024-05-14T10:00:{k:02d}.000000000Z stdout F {r}\n" for k, r in enumerate(records)
            )
        )
        inv = obskit.load(path)
        assert inv.files["format"].tolist() == ["cri-log"], name
        assert len(inv.logs) == len(records) and inv.events.empty and inv.rejects.empty, name
        assert inv.logs["message"].tolist() == records, name


def test_container_log_heads_are_judged_as_by_every_sniffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the formats registered with container_logs=False are not run on a head whose first line
    # is a CRI line: each would have said 0, so the answer is the one all the sniffers give
    files = _benchmark_folder(tmp_path / "bench") + _crafted(tmp_path / "crafted")
    heads = list(_heads())
    for path in files:
        data = _base.read_bytes(path)[0]
        heads.append((path, _base.decode_head(data), _base.decode_tail(data)))
    skipped = [fmt for fmt in _base.registry().values() if not fmt.container_logs]
    assert {fmt.name for fmt in skipped} >= {"audit-log", "aks-audit", "gke-audit", "eks-audit"}
    container_heads = 0
    for path, head, tail in heads:
        if _base.container_log_head(head):
            container_heads += 1
            for fmt in skipped:
                assert _base._sniffed(fmt, head, path.name, tail) == 0.0, (fmt.name, path)
    assert container_heads > 50
    answers = [
        (_base.detect(head, path.name, tail), _base.detect(head, path.name, tail, "cri-log"))
        for path, head, tail in heads
    ]
    every = {
        name: dataclasses.replace(fmt, container_logs=True)
        for name, fmt in _base.registry().items()
    }
    monkeypatch.setattr(_base, "_REGISTRY", every)
    for (path, head, tail), (plain, cri_first) in zip(heads, answers, strict=True):
        expected = _base.detect(head, path.name, tail)
        assert (plain and plain.name) == (expected and expected.name), path
        assert (cri_first and cri_first.name) == (expected and expected.name), path


def test_the_tail_is_decoded_only_for_a_sniffer_that_reads_it() -> None:
    calls = []

    def tail() -> str:
        calls.append(1)
        return "}"

    line = b"2024-05-14T10:00:00.000000000Z stdout F hello\n"
    head = _base.decode_head(line * 30)
    # a kubelet path's CRI file: no sniffer that reads the tail is left to run
    assert _base.detect(head, "0.log", tail, "cri-log").name == "cri-log"
    assert calls == []
    # every sniffer: the tail is made once for all those that read it
    assert _base.detect(head, "0.log", tail).name == "cri-log"
    assert calls == [1]
    record = '{"streams": [{"stream": {"a": "b"}, "values": [["1", "x"]]}]}'
    assert _base.detect(record, "q.json", tail).name == "loki-json"
    assert calls == [1, 1]


def test_the_cri_sniffers_whole_head_match_counts_as_line_by_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a head whose first 20 lines are all CRI lines is matched at once; every other head, and
    # every head with a line break other than \n among those lines, is counted line by line
    line = "2024-05-14T10:00:00.000000000Z stdout F msg {}\n"
    crafted = ["".join(line.format(k) for k in range(n)) for n in (19, 20, 21, 250)]
    crafted += [
        line.format(0).replace("\n", "\r\n") * 25,
        line.format(0) * 5 + "\n" + line.format(1) * 20,  # a blank line among them
        line.format(0) * 5 + "plain\n" + line.format(1) * 20,
        line.format(0) * 5 + "2024-05-14T10:00:00Z stdout F a\x85b\n" + line.format(1) * 20,
        line.format(0) * 5 + "2024-05-14T10:00:00Z stdout F a\u2028b\n" + line.format(1) * 20,
        line.format(0) * 5 + "2024-05-14T10:00:00Z stdout F a\x0cb\n" + line.format(1) * 20,
        line.format(0) * 19 + "2024-05-14T10:00:00Z stdout\x1cF a\n" + line.format(1),
        "\ufeff" + line.format(0) * 25,
        " " + line.format(0) * 25,
        line.format(0) * 19 + "2024-05-14T10:00:00Z stdout F",
    ]
    heads = [head for _, head, _ in _heads()] + crafted
    fast = [cri._sniff_cri(head, "") for head in heads]
    matched = sum(cri._all_cri_lines(head) for head in heads)
    monkeypatch.setattr(cri, "_CRI_HEAD", re.compile(r"(?!)"))  # never matches
    assert fast == [cri._sniff_cri(head, "") for head in heads]
    assert matched >= 10 + 2  # the datasets' container logs and two crafted heads match
    plain = fast[len(_heads()) + 6]  # the head with a plain line among its first 20
    assert plain == 0.9 * 19 / 20 + 0.05


def test_detection_from_the_first_lines_is_the_full_detection() -> None:
    # with CRI sniffed first, a payload whose first 21 lines lie in its head and make the CRI
    # sniffer surer than any other format can be is answered from those lines alone
    line = b"2024-05-14T10:00:00.000000000Z stdout F msg %d\n"
    crafted = [b"".join(line % k for k in range(n)) for n in (20, 21, 22, 300)]
    crafted += [
        b"\n" * 30 + line * 30,  # blank lines first: the first line lies beyond
        line * 10 + b"plain\n" + line * 20,
        line * 10 + b'{"log":"a\\n","stream":"stdout","time":"2024-05-14T10:00:00Z"}\n' * 20,
        b'{"log":"a\\n","stream":"stdout","time":"2024-05-14T10:00:00Z"}\n' * 30,
        line.replace(b"\n", b"\r\n") * 30,
        line * 20 + b"\xe2\x80" + b"\n" + line,  # a cut character right before the 21st newline
        line[:-1] + b"\xe2\x80\xa8" + line * 25,  # a line break that is no newline
        b"x" * 70000 + b"\n" + line * 25,  # the 21 lines end past the head's first bytes
    ]
    payloads = [(path, _base.read_bytes(path)[0]) for path, _, _ in _heads()[::9]]
    payloads += [(Path(f"/var/log/pods/a_b_c/d/{k}.log"), data) for k, data in enumerate(crafted)]
    short = 0
    for path, data in payloads:
        full = detect_format(data, path.name)
        for likely in _base.registry():
            assert detect_format(data, path.name, likely) is full, (path, likely)
        short += _base.detect_first_lines(data, path.name, "cri-log") is not None
    assert short >= 10  # the datasets' container logs and the crafted CRI heads
    assert _base.detect_first_lines(crafted[2], "0.log", "cri-log") is cri_format()
    assert _base.detect_first_lines(crafted[0], "0.log", "cri-log") is None  # 20 lines only


def cri_format() -> _base.Format:
    return _base.registry()["cri-log"]
