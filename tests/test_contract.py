"""The contract every registered format keeps: schema-valid frames, and no record lost."""

from __future__ import annotations

import pytest

import obskit
from obskit import schema
from obskit.sources import detect_format, load_file
from obskit.sources._base import read_bytes

from .conftest import samples

FORMATS = sorted(obskit.FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_has_samples(fmt):
    assert samples(fmt), f"add a sample of {fmt} to tests/conftest.py FORMAT_SAMPLES"


@pytest.mark.parametrize("fmt", FORMATS)
def test_frames_match_schema_and_records_balance(fmt):
    for path in samples(fmt):
        result, used = load_file(path, fmt)
        assert used == fmt
        for name in ("metrics", "events", "logs", "inventory", "rejects"):
            frame = getattr(result, name)
            if frame is not None:
                schema.validate(name, frame)
        assert result.records == result.rows + len(result.rejects) + result.merged, path
        assert result.records > 0, f"{path} gave no records"


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_is_detected_by_content(fmt):
    for path in samples(fmt):
        data, _ = read_bytes(path)
        found = detect_format(data, "")  # no file name: content alone
        assert found is not None and found.name == fmt, path


@pytest.mark.parametrize("fmt", FORMATS)
def test_signal_rows_carry_utc_timestamps(fmt):
    for path in samples(fmt):
        result, _ = load_file(path, fmt)
        for name in ("metrics", "events", "logs"):
            frame = getattr(result, name)
            if frame is not None and len(frame):
                assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_formats_register_in_their_tie_breaking_order():
    # detection keeps the first registered of equally sure sniffers, so this order is behaviour:
    # obskit/sources/__init__.py imports the source modules in it, unsorted
    assert list(obskit.FORMATS) == [
        *("audit-log", "k8s-json", "gke-audit", "eks-audit", "aks-audit"),
        *("cri-log", "docker-json-log", "jsonl-log"),
        *("cluster-info-dump", "falco-json", "es-search", "loki-json"),
        *("prometheus-json", "prometheus-text"),
    ]
