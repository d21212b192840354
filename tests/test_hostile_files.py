"""Hostile files (bombs, huge lines, binary junk): each becomes a reject, or a clear obskit error
naming the file, and the rest of the investigation goes on.

The bombs are made here, in ``tmp_path``: one compressed 64 MB member written again and again,
so a 4 GB bomb is never held, and each is loaded in a child process under a memory cap.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest
import zstandard

import obskit

from .conftest import DATA

GOOD_EVENTS = DATA / "k8s" / "events-v1.json"


def _event(name: str, when: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "shop", "uid": name},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "type": "Warning",
        "firstTimestamp": when,
        "lastTimestamp": when,
    }


def _folder_with_good_events(tmp_path):
    folder = tmp_path / "incident"
    folder.mkdir()
    shutil.copy(GOOD_EVENTS, folder / "good-events.json")
    return folder


def _status(inv, name: str) -> str:
    files = inv.files.set_index(inv.files["origin"].map(lambda o: o.rsplit("/", 1)[-1]))
    return str(files.at[name, "status"])


def test_an_event_dated_9999_is_a_reject(tmp_path):
    folder = _folder_with_good_events(tmp_path)
    items = [_event("a.1", "9999-12-31T23:59:59Z"), _event("a.2", "2024-05-14T10:05:00Z")]
    (folder / "events.json").write_bytes(orjson.dumps({"kind": "List", "items": items}))
    inv = obskit.load(folder)
    assert inv.files["balanced"].all()
    assert len(inv.events) == 2  # the good file's Event and a.2
    (reject,) = inv.rejects.itertuples()
    assert reject.origin.endswith("events.json") and "9999-12-31" in reject.raw
    assert reject.reason.endswith("series time (RFC3339, in the years 1677-2262)")
    assert inv.events["timestamp"].max() == pd.Timestamp("2024-05-14T10:05:00Z")


def test_an_audit_record_dated_0001_is_a_reject(tmp_path):
    folder = _folder_with_good_events(tmp_path)
    record = orjson.loads((DATA / "audit" / "create_secret.json").read_bytes().splitlines()[0])
    old = {**record, "requestReceivedTimestamp": "0001-01-01T00:00:00.000000Z"}
    old["stageTimestamp"] = "0001-01-01T00:00:00.000000Z"
    (folder / "audit.log").write_bytes(orjson.dumps(old) + b"\n" + orjson.dumps(record) + b"\n")
    inv = obskit.load(folder)
    assert _status(inv, "audit.log") == "loaded" and inv.files["balanced"].all()
    (reject,) = inv.rejects.itertuples()
    assert reject.line == 1 and "'0001-01-01T00:00:00.000000Z'" in reject.reason
    assert (inv.events["source"] == "audit").sum() == 1


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_cri_line_out_of_range_is_a_reject(tmp_path, when):
    log = tmp_path / "0.log"
    log.write_text(f"{when} stdout F far\n2024-05-14T10:00:00Z stdout F near\n")
    inv = obskit.load(log)
    assert inv.logs["message"].tolist() == ["near"]
    assert inv.rejects["line"].tolist() == [1]


# --- decompression bombs, loaded under a memory cap in a child process -----------------------

#: What the child may map beyond what importing obskit took (about 1.4 GB of address space,
#: more with more cores): far less than a bomb's 4 GB, enough for the rest of the load.
ROOM = 2 << 30

_CAPPED_LOAD = """
import json, re, resource, sys
import obskit
mapped = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
cap = mapped * 1024 + int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    inv = obskit.load(sys.argv[1])
except obskit.ObskitError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    files = {o.rsplit("/", 1)[-1]: s for o, s in zip(inv.files["origin"], inv.files["status"])}
    print(json.dumps({"files": files, "events": len(inv.events)}))
"""


capped = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="the memory cap needs Linux (RLIMIT_AS, /proc)"
)


def _load_capped(path) -> dict:
    """``obskit.load(path)`` in a child process capped at :data:`ROOM` beyond its imports,
    and what it made."""
    root = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED_LOAD, str(path), str(ROOM)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def _bomb(path, kind: str, gigabytes: int) -> None:
    """Write ``gigabytes`` of zeros compressed as ``kind``: one 64 MB member written again
    and again (a valid multi-member file), so making it takes a fraction of a second."""
    zeros = b"\0" * (64 << 20)
    member = {
        "gzip": lambda: gzip.compress(zeros, compresslevel=9, mtime=0),
        "xz": lambda: lzma.compress(zeros, preset=0),
        "zstd": lambda: zstandard.ZstdCompressor(level=1).compress(zeros),
    }[kind]()
    with path.open("wb") as out:
        for _ in range(gigabytes * 16):
            out.write(member)


@capped
@pytest.mark.parametrize(("kind", "name"), [("xz", "huge.log.xz"), ("zstd", "huge.log.zst")])
def test_a_decompression_bomb_is_skipped_as_it_streams(tmp_path, kind, name):
    folder = _folder_with_good_events(tmp_path)
    _bomb(folder / name, kind, gigabytes=4)
    assert (folder / name).stat().st_size < 1 << 20  # 4 GB from ~600 kB (xz), ~130 kB (zstd)
    got = _load_capped(folder)
    assert got["files"]["good-events.json"] == "loaded" and got["events"] == 1
    expected = rf"skipped: .*{name}' is [\d,]+ bytes of {kind} that expand past"
    assert re.search(expected, got["files"][name])


@capped
def test_a_gzip_whose_size_trailer_lies_is_skipped_as_it_streams(tmp_path):
    folder = _folder_with_good_events(tmp_path)
    bomb = folder / "huge.log.gz"
    _bomb(bomb, "gzip", gigabytes=4)
    with bomb.open("r+b") as fh:  # the trailer says 100 bytes: the memory pre-check believes it
        fh.seek(-4, os.SEEK_END)
        fh.write((100).to_bytes(4, "little"))
    got = _load_capped(folder)
    assert got["files"]["good-events.json"] == "loaded" and got["events"] == 1
    assert "of gzip that expand past" in got["files"]["huge.log.gz"]


@capped
def test_a_bomb_named_explicitly_is_an_error_naming_it_and_the_way_out(tmp_path):
    bomb = tmp_path / "huge.log.xz"
    _bomb(bomb, "xz", gigabytes=4)
    got = _load_capped(bomb)
    assert got["error"] == "SourceError"
    assert re.match(r"'.*huge\.log\.xz' is [\d,]+ bytes of xz that expand past", got["message"])
    assert "split it (e.g. xz -dc FILE | split" in got["message"]


# --- nesting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"apiVersion": "v1", "kind": "List", "items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        b'{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Event", "x": '
        + b"[" * 200_000
        + b"]" * 200_000
        + b"}]}",
    ],
    ids=["items", "inside-an-event"],
)
def test_json_nested_200000_deep_is_a_reject(tmp_path, body):
    folder = _folder_with_good_events(tmp_path)
    (folder / "deep.json").write_bytes(body)
    inv = obskit.load(folder)
    assert _status(inv, "deep.json") == "loaded" and inv.files["balanced"].all()
    (reason,) = inv.rejects["reason"]
    assert reason.startswith("not valid JSON: depth limit exceeded")
    assert len(inv.events) == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RecursionError, r"'.*0\.log' \(\d+ bytes on disk\) is nested too deep to read"),
        (MemoryError, r"ran out of memory reading '.*0\.log' \(\d+ bytes on disk\); load it alone"),
    ],
)
def test_a_parser_that_overflows_names_the_file_and_the_load_goes_on(
    tmp_path, monkeypatch, error, expected
):
    from obskit.sources import _base

    def overflow(data, origin="<bytes>"):
        raise error()

    cri = _base.get_format("cri-log")
    monkeypatch.setitem(_base._REGISTRY, "cri-log", _base.Format(cri.name, "", cri.sniff, overflow))
    folder = _folder_with_good_events(tmp_path)
    (folder / "0.log").write_text("2024-05-14T10:00:00Z stdout F hello\n")
    inv = obskit.load(folder)
    assert re.match(rf"skipped: {expected}", _status(inv, "0.log"))
    assert len(inv.events) == 1
    with pytest.raises(obskit.SourceError, match=expected):
        obskit.load(folder / "0.log")


# --- YAML aliases ------------------------------------------------------------------------------


def _laughs(levels: int) -> str:
    """A ConfigMap whose ``data`` holds nine aliases of nine aliases ... ``levels`` deep."""
    lines = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n" + "\n".join(lines)


POD_YAML = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  namespace: shop\n"


def test_a_yaml_alias_bomb_in_an_inventory_is_a_reject(tmp_path):
    folder = _folder_with_good_events(tmp_path)
    (folder / "inventory.yaml").write_text(f"{POD_YAML}---\n{_laughs(10)}\n")
    inv = obskit.load(folder)
    assert _status(inv, "inventory.yaml") == "loaded" and inv.files["balanced"].all()
    assert inv.inventory["name"].tolist() == ["web-1"] and len(inv.events) == 1
    (reason,) = inv.rejects["reason"]
    assert re.match(r"document 1: YAML aliases expand it from \d+ nodes by [\d,]+ \(more", reason)


def test_a_yaml_alias_that_holds_itself_is_a_reject(tmp_path):
    path = tmp_path / "pod.yaml"
    path.write_text(f"{POD_YAML}spec: &spec\n  containers: [*spec]\n")
    inv = obskit.load(path)
    (reason,) = inv.rejects["reason"]
    assert reason.startswith("document 0: a YAML alias refers to a node that holds it")
    assert inv.files["balanced"].all()


def test_a_few_yaml_aliases_are_read(tmp_path):
    path = tmp_path / "pod.yaml"
    path.write_text(f"{POD_YAML}  labels: &labels {{app: web}}\nspec:\n  selector: *labels\n")
    inv = obskit.load(path)
    assert inv.inventory["labels"].tolist() == [{"app": "web"}] and not len(inv.rejects)


# --- a timestamp years away from the rest of its file -----------------------------------------

DAY = 1_715_680_800  # 2024-05-14T10:00:00Z
SIX_YEARS = int(6 * 365.25 * 86400)


def _prometheus_day(tmp_path, stray: int):
    """A day of 5-minute samples of one series, and one sample at ``stray`` seconds."""
    values = [[DAY + 300 * i, "1"] for i in range(288)] + [[stray, "9"]]
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"__name__": "up"}, "values": values}],
        },
    }
    path = tmp_path / "up.json"
    path.write_bytes(orjson.dumps(doc))
    return path


def test_a_metric_six_years_in_the_future_is_a_reject(tmp_path):
    inv = obskit.load(_prometheus_day(tmp_path, DAY + SIX_YEARS))
    assert len(inv.metrics) == 288 and inv.files["balanced"].all()
    assert inv.metrics["timestamp"].max() < pd.Timestamp("2024-05-16", tz="UTC")
    (reject,) = inv.rejects.itertuples()
    assert re.match(
        r"timestamp 2030-05-14T\d\d:00:00\+00:00 lies 6\.0 years after the rest of this file "
        r"\(half its rows are between 2024-05-14 16:\d\d and 2024-05-15 04:\d\d UTC\)",
        reject.reason,
    )
    assert "'value': '9.0'" in reject.raw
    assert "dated years away" in inv.files["note"].iloc[0]


def test_a_log_line_from_1970_is_a_reject_and_months_old_lines_stay(tmp_path):
    lines = ["1970-01-01T00:00:00Z stdout F clock reset"]
    lines += ["2024-01-02T09:00:00Z stdout F started"]  # four months before the rest: kept
    lines += [f"2024-05-14T10:{i:02d}:00Z stdout F request {i}" for i in range(60)]
    path = tmp_path / "0.log"
    path.write_text("\n".join(lines) + "\n")
    inv = obskit.load(path)
    assert len(inv.logs) == 61 and inv.logs["message"].iloc[0] == "started"
    (reject,) = inv.rejects.itertuples()
    assert reject.line == 1 and "54.4 years before the rest of this file" in reject.reason
    assert inv.files["balanced"].all()


def test_a_file_spread_evenly_over_years_keeps_every_row(tmp_path):
    # a long range query at one sample a month: its rows are years apart, but none is alone
    values = [[DAY + 30 * 86400 * i, "1"] for i in range(72)]
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"__name__": "up"}, "values": values}],
        },
    }
    path = tmp_path / "up.json"
    path.write_bytes(orjson.dumps(doc))
    inv = obskit.load(path)
    assert len(inv.metrics) == 72 and not len(inv.rejects)


def test_times_a_parser_supplied_are_not_judged(tmp_path):
    # samples stamped in 2014 in a /metrics dump copied today: the others get the file's
    # modification time (today); neither side is a clock error
    text = "# TYPE up gauge\n" + "".join(f'up{{i="{i}"}} 1 1395066363000\n' for i in range(8))
    path = tmp_path / "metrics.txt"
    path.write_text(text + "".join(f'scrape_ok{{i="{i}"}} 1\n' for i in range(2)))
    inv = obskit.load(path)
    assert len(inv.metrics) == 10 and not len(inv.rejects)
    path.write_text(text + 'up{i="late"} 1 1900000000000\n')  # 2030, written in the file
    inv = obskit.load(path)
    assert len(inv.metrics) == 8 and "16.0 years after" in inv.rejects["reason"].iloc[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("kind: Pod\nmetadata: {name: x}\nspec: {containers: [[1]]}", "Pod has the wrong shape"),
        (
            "kind: Pod\nmetadata: {name: x}\nstatus: {containerStatuses: [{restartCount: lots}]}",
            "invalid literal for int()",
        ),
        ("kind: Event\nmetadata: {name: x}\ninvolvedObject: [1]", "Event has the wrong shape"),
        ("kind: Pod\nmetadata: {name: x, ownerReferences: {a: 1}}", "(KeyError: 0)"),
    ],
)
def test_a_kubernetes_object_of_the_wrong_shape_is_a_reject(tmp_path, body, expected):
    path = tmp_path / "objects.yaml"
    path.write_text(f"{POD_YAML}---\napiVersion: v1\n{body}\n")
    inv = obskit.load(path)
    assert inv.inventory["name"].tolist() == ["web-1"] and inv.files["balanced"].all()
    (reason,) = inv.rejects["reason"]
    assert reason.startswith("document 1: a field of this") and expected in reason


@pytest.mark.parametrize("count", ["99999999999999999999", '"lots"', "true", "1.5"])
def test_an_event_count_that_is_no_whole_number_is_na(tmp_path, count):
    event = orjson.dumps(_event("a.1", "2024-05-14T10:00:00Z")).replace(
        b'"kind":"Event"', b'"count":' + count.encode() + b',"kind":"Event"'
    )
    path = tmp_path / "events.json"
    path.write_bytes(b'{"apiVersion": "v1", "kind": "List", "items": [' + event + b"]}")
    inv = obskit.load(path)
    assert len(inv.events) == 1 and inv.events["count"].isna().all() and not len(inv.rejects)


def test_a_value_the_schema_refuses_names_the_file_and_the_load_goes_on(tmp_path, monkeypatch):
    from obskit.sources import _base

    def refused(data, origin="<bytes>"):
        obskit.schema.conform("logs", pd.DataFrame({"severity": ["urgent"], "level": ["urgent"]}))

    cri = _base.get_format("cri-log")
    monkeypatch.setitem(_base._REGISTRY, "cri-log", _base.Format(cri.name, "", cri.sniff, refused))
    folder = _folder_with_good_events(tmp_path)
    (folder / "0.log").write_text("2024-05-14T10:00:00Z stdout F hello\n")
    inv = obskit.load(folder)
    expected = r"skipped: '.*0\.log' could not be read as cri-log: logs\.level has values outside"
    assert re.match(expected, _status(inv, "0.log"))
    assert len(inv.events) == 1


# --- records of an unexpected shape (found by fuzzing the samples) ---------------------------

ALERT = {
    "time": "2024-05-14T10:00:00.000000000Z",
    "rule": "Terminal shell in container",
    "priority": "Notice",
    "output": "A shell was spawned",
    "output_fields": {"k8s.ns.name": "shop", "k8s.pod.name": "web-1"},
}


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("falco.json", [{**ALERT, "output_fields": ["k8s.ns.name"]}, {**ALERT, "tags": [1, 2]}]),
        ("falco.json", [{**ALERT, "rule": {"name": "nested"}}]),
        ("app.log", [{"log": "hi\n", "stream": ["stdout"], "time": "2024-05-14T10:00:00Z"}]),
        ("out.log", [{"date": 1715680800.0, "log": "hi", "kubernetes": {"pod_name": {}}}]),
    ],
)
def test_a_record_of_an_unexpected_shape_is_read_or_rejected(tmp_path, name, lines):
    path = tmp_path / name
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    inv = obskit.load(path)
    assert inv.files["status"].tolist() == ["loaded"] and inv.files["balanced"].all()
    assert len(inv.events) + len(inv.logs) + len(inv.rejects) == len(lines)


def test_an_audit_event_whose_lists_are_not_lists_is_read(tmp_path):
    record = orjson.loads((DATA / "audit" / "create_secret.json").read_bytes().splitlines()[0])
    record["sourceIPs"], record["user"]["groups"] = 7, True
    path = tmp_path / "audit.log"
    path.write_bytes(orjson.dumps(record) + b"\n")
    inv = obskit.load(path)
    assert len(inv.events) == 1 and inv.events["source_ip"].isna().all()


def test_a_list_whose_items_are_not_a_list_is_a_reject(tmp_path):
    path = tmp_path / "pods.json"
    path.write_text('{"apiVersion": "v1", "kind": "PodList", "items": true}')
    inv = obskit.load(path)
    (reason,) = inv.rejects["reason"]
    assert "not a Kubernetes object" in reason and inv.files["balanced"].all()


def test_a_text_column_keeps_a_mapping_as_json():
    frame = obskit.schema.conform("events", pd.DataFrame({"reason": [{"a": 1}, "BackOff"]}))
    assert frame["reason"].tolist() == ['{"a": 1}', "BackOff"]


def test_a_parser_that_meets_a_shape_it_did_not_expect_names_the_file(tmp_path, monkeypatch):
    from obskit.sources import _base

    def surprised(data, origin="<bytes>"):
        return {}["output_fields"]

    cri = _base.get_format("cri-log")
    monkeypatch.setitem(
        _base._REGISTRY, "cri-log", _base.Format(cri.name, "", cri.sniff, surprised)
    )
    folder = _folder_with_good_events(tmp_path)
    (folder / "0.log").write_text("2024-05-14T10:00:00Z stdout F hello\n")
    inv = obskit.load(folder)
    expected = r"skipped: '.*0\.log' could not be read as cri-log: a record of an unexpected shape"
    assert re.match(rf"{expected} \(KeyError: 'output_fields'\)", _status(inv, "0.log"))
    assert len(inv.events) == 1
