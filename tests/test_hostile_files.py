"""Hostile files (issue 20, section 3): each becomes a reject, or a clear obskit error naming
the file, and the rest of the investigation goes on.

The bombs are made here, in ``tmp_path``, streaming: no test holds more than a few MB.
"""

from __future__ import annotations

import shutil

import orjson
import pandas as pd
import pytest

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
