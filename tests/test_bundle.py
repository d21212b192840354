"""Evidence bundles: written, verified, and read back exactly."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import obskit
from obskit import bundle
from obskit.errors import FormatError, SourceError

FRAMES = ("metrics", "events", "logs", "inventory", "rejects", "files")


@pytest.fixture(scope="module")
def incident() -> obskit.Investigation:
    return obskit.load(obskit.datasets.path("cryptominer"))


@pytest.fixture
def saved(incident, tmp_path):
    return incident.save(tmp_path / "bundle")


def test_round_trip_is_exact(incident, saved):
    back = obskit.load(saved)
    for name in FRAMES:
        pd.testing.assert_frame_equal(
            getattr(back, name), getattr(incident, name), check_exact=True
        )
    assert back.notes == incident.notes
    assert (back.cluster, back.start, back.end) == (incident.cluster, incident.start, incident.end)
    labels = back.inventory["labels"].iloc[0]
    assert isinstance(labels, dict) and labels == incident.inventory["labels"].iloc[0]


def test_a_bundle_written_by_another_pandas_reads_as_this_one_would(incident, saved):
    # pandas before 3 keeps text categories as "object", pandas 3 as "str": a bundle shared
    # between the two reads with this pandas' text categories. Here the manifest says what
    # the other pandas writes for the same frames.
    here = str(pd.Index(["x"]).dtype)
    there = "object" if here == "str" else "str"
    manifest = saved / "manifest.json"
    meta = json.loads(manifest.read_text())
    for frame in meta["columns"].values():
        assert frame["text"] == here
        frame["text"] = there
        frame["categories"] = {
            c: there if d in ("object", "str") else d for c, d in frame["categories"].items()
        }
    manifest.write_text(json.dumps(meta))
    back = obskit.load(saved)
    for name in FRAMES:
        got, want = getattr(back, name), getattr(incident, name)
        pd.testing.assert_frame_equal(got.astype(object), want.astype(object), check_exact=True)
        for column in want.columns:
            if isinstance(want[column].dtype, pd.CategoricalDtype) and len(
                want[column].cat.categories
            ):
                assert got[column].dtype == want[column].dtype, (name, column)


def test_round_trip_keeps_odd_cells_and_the_window(tmp_path):
    inv = obskit.Investigation(
        logs=pd.DataFrame(
            {
                "timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"],
                "pod": ["a", "b"],
                "message": ["x", "y"],
            }
        )
    ).window("2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z")
    inv.logs["odd"] = pd.Series(
        [{"$ts": 1, "nested": [float("nan"), None]}, pd.Timestamp("2024-01-01", tz="UTC")],
        dtype=object,
    )
    back = obskit.load(inv.save(tmp_path / "b"))
    pd.testing.assert_frame_equal(back.logs, inv.logs)
    assert back.logs["odd"].iloc[0]["$ts"] == 1
    assert (back.start, back.end) == (inv.start, inv.end)


def test_a_bundle_of_metrics_alone_keeps_the_severity_scale_of_its_empty_frames(tmp_path):
    # no event and no log line: their severity columns hold no value, and come back on the
    # ordered scale all the same, so a view's "severity >= 'warning'" does not fail
    metrics = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-01T00:00:00Z"]),
            "metric": ["m"],
            "value": [1.0],
            "pod": ["p-1"],
        }
    )
    back = obskit.load(obskit.Investigation(metrics=metrics).save(tmp_path / "b"))
    assert back.events["severity"].dtype == obskit.schema.SEVERITY
    assert back.logs["level"].dtype == obskit.schema.SEVERITY
    assert not (back.events["severity"] >= "warning").any()
    assert len(back.hierarchy("workload").data)


def test_manifest_says_what_the_bundle_is(incident, saved):
    manifest = json.loads((saved / bundle.MANIFEST).read_text())
    assert manifest["format"] == "obskit-evidence-bundle"
    assert manifest["obskit_version"] == obskit.__version__
    assert manifest["cluster"] == incident.cluster
    assert manifest["rows"]["metrics"] == len(incident.metrics)
    assert set(manifest["files"]) == {f"{n}.parquet" for n in FRAMES}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert len(manifest["provenance"]) == len(incident.files)
    assert manifest["coverage_gaps"] == []


def test_a_tampered_bundle_is_refused(saved):
    target = saved / "logs.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"changed after it was written: 'logs.parquet'"):
        obskit.load(saved)


def test_a_missing_file_is_refused(saved):
    (saved / "events.parquet").unlink()
    with pytest.raises(FormatError, match=r"lacks 'events.parquet'.*incomplete"):
        obskit.load(saved)


def test_save_does_not_overwrite_by_accident(incident, saved):
    with pytest.raises(SourceError, match=r"already exists.*overwrite=True"):
        incident.save(saved)
    assert incident.save(saved, overwrite=True) == saved
    (saved.parent / "other").mkdir()
    (saved.parent / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SourceError, match=r"already exists and is not empty"):
        incident.save(saved.parent / "other")


def test_coverage_gaps_go_to_the_manifest(tmp_path):
    inv = obskit.Investigation()
    inv.notes.append(bundle.GAP + "kubernetes events before 10:00 may be missing")
    folder = inv.save(tmp_path / "b")
    manifest = json.loads((folder / bundle.MANIFEST).read_text())
    assert manifest["coverage_gaps"] == ["kubernetes events before 10:00 may be missing"]


def test_credentials_in_notes_are_refused(tmp_path):
    inv = obskit.Investigation()
    inv.notes.append("fetched with Authorization: Bearer abcdefghijkl")
    with pytest.raises(FormatError, match="looks like a credential"):
        inv.save(tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_a_folder_that_is_not_a_bundle_loads_as_files(tmp_path):
    (tmp_path / bundle.MANIFEST).write_text('{"name": "something else"}')
    assert not bundle.is_bundle(tmp_path)


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its categories as plain values (their sets and order left aside)."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(cats, "object"))


def test_a_windowed_read_reads_only_the_row_groups_it_needs(oom, tmp_path, monkeypatch):
    inv = oom
    monkeypatch.setattr(bundle, "ROW_GROUP", 2_000)  # tens of row groups, in time order
    folder = inv.save(tmp_path / "bundle")
    read: dict[str, tuple[int, int]] = {}
    real = bundle._row_groups

    def spy(dataset, condition):
        groups = real(dataset, condition)
        total = sum(f.num_row_groups for f in dataset.get_fragments())
        read[dataset.files[0].rsplit("/", 1)[1]] = (len(groups), total)
        return groups

    monkeypatch.setattr(bundle, "_row_groups", spy)
    lo, hi = pd.Timestamp("2024-05-14T10:00:00Z"), pd.Timestamp("2024-05-14T10:10:00Z")
    where = {"namespace": "shop"}
    got = obskit.load(folder, start=lo, end=hi, where=where)
    groups, total = read["metrics.parquet"]
    assert total >= 20 and 0 < groups <= total // 3
    monkeypatch.setattr(bundle, "_row_groups", real)
    expected = obskit.load(folder).window(lo, hi)._matching({"namespace": ["shop"]})
    for name in ("metrics", "events", "logs", "inventory"):
        frame = getattr(expected, name)
        assert len(getattr(got, name)) == len(frame), name
        if len(frame):
            pd.testing.assert_frame_equal(
                _values(getattr(got, name)), _values(frame), check_exact=True
            )
    assert 0 < len(got.metrics) < len(inv.metrics)
    # key values alone filter every frame as it is read
    alone = obskit.load(folder, where=where)
    assert read["inventory.parquet"][1] >= 1
    assert alone.inventory["namespace"].eq("shop").all() and len(alone.inventory) > 0


@pytest.fixture(scope="module")
def oom() -> obskit.Investigation:
    return obskit.datasets.load("checkout-oom")


@pytest.fixture(scope="module")
def keyed(oom, tmp_path_factory) -> tuple:
    """checkout-oom saved in row groups of 2,000 rows (26 of metrics), and read back whole."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bundle, "ROW_GROUP", 2_000)
        folder = oom.save(tmp_path_factory.mktemp("keyed") / "bundle")
    return folder, obskit.load(folder)


@pytest.fixture
def read_groups(monkeypatch) -> dict[int, tuple[int, int]]:
    """Rows of a Parquet file -> (row groups read, row groups in it), of each filtered read."""
    import pyarrow.parquet as pq

    read: dict[int, tuple[int, int]] = {}
    real = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, *args, **kwargs):
        read[self.metadata.num_rows] = (len(row_groups), self.num_row_groups)
        return real(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    return read


def _filtered_reads_equal_full_reads_filtered(folder, full, where, start=None, end=None) -> None:
    got = obskit.load(folder, start=start, end=end, where=where)
    if start is not None:
        full = full.window(start, end)
    expected = full._matching({k: [v] if isinstance(v, str) else v for k, v in where.items()})
    for name in ("metrics", "events", "logs", "inventory"):
        frame = getattr(expected, name)
        assert len(getattr(got, name)) == len(frame), name
        if len(frame):
            pd.testing.assert_frame_equal(
                _values(getattr(got, name)), _values(frame), check_exact=True
            )


@pytest.mark.parametrize(
    "where",
    [
        {"namespace": "batch"},
        {"node": "ip-10-0-17-11.eu-west-1.compute.internal"},
        {"namespace": ["batch", "monitoring"], "node": "ip-10-0-1-59.eu-west-1.compute.internal"},
    ],
)
def test_key_values_skip_the_row_groups_of_other_keys(oom, keyed, read_groups, where):
    folder, full = keyed
    _filtered_reads_equal_full_reads_filtered(folder, full, where)
    groups, total = read_groups[len(oom.metrics)]
    # rows are grouped by namespace first, then node: a namespace's row groups are few (and
    # a node in it narrows them); a node alone is in most stretches' every row group
    most = total // 2 if "namespace" in where else total
    assert total >= 20 and 0 < groups <= most, (groups, total)
    # and with a window: both prunings apply
    lo, hi = pd.Timestamp("2024-05-14T09:40:00Z"), pd.Timestamp("2024-05-14T10:10:00Z")
    _filtered_reads_equal_full_reads_filtered(folder, full, where, lo, hi)
    assert read_groups[len(oom.metrics)][0] < groups


def test_a_keyed_bundle_keeps_row_places_and_reads_back_in_order(oom, keyed):
    import pyarrow.parquet as pq

    folder, back = keyed
    stored = pq.read_table(folder / "metrics.parquet", columns=[bundle.ROW])[bundle.ROW]
    assert sorted(stored.to_pylist()) == list(range(len(oom.metrics)))
    assert stored.to_pylist() != list(range(len(oom.metrics)))  # grouped by key
    assert json.loads((folder / bundle.MANIFEST).read_text())["version"] == 2
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(oom, name), check_exact=True)


def test_a_bundle_in_the_old_layout_still_reads_and_filters(oom, tmp_path, monkeypatch):
    """Version 1 wrote each frame's rows in their order, with no row-place column."""
    import pyarrow.parquet as pq

    monkeypatch.setattr(bundle, "ROW_GROUP", 2_000)
    monkeypatch.setattr(bundle, "VERSION", 1)
    monkeypatch.setattr(bundle, "_grouped", lambda frame: frame)
    folder = oom.save(tmp_path / "old")
    monkeypatch.undo()
    assert json.loads((folder / bundle.MANIFEST).read_text())["version"] == 1
    assert bundle.ROW not in pq.ParquetFile(folder / "metrics.parquet").schema_arrow.names
    back = obskit.load(folder)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(oom, name), check_exact=True)
    _filtered_reads_equal_full_reads_filtered(folder, back, {"namespace": "batch"})


def test_row_groups_of_missing_key_values_are_skipped_and_unknown_ones_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = [None] * 100 + ["a"] * 100 + ["b"] * 100  # three row groups
    file = tmp_path / "f.parquet"
    pq.write_table(pa.table({"namespace": values}), file, row_group_size=100)
    metadata = pq.ParquetFile(file).metadata
    assert bundle._key_groups(metadata, {"namespace": ["a"]}) == {1}
    assert bundle._key_groups(metadata, {"namespace": ["b", "zz"]}) == {2}
    assert bundle._key_groups(metadata, {"node": ["x"]}) == {0, 1, 2}  # no such column
    bare = tmp_path / "bare.parquet"  # written without statistics: nothing is ruled out
    pq.write_table(
        pa.table({"namespace": values}), bare, row_group_size=100, write_statistics=False
    )
    assert bundle._key_groups(pq.ParquetFile(bare).metadata, {"namespace": ["a"]}) == {0, 1, 2}
