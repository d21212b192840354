"""Error messages say what failed, the value, where, and what to do next."""

from __future__ import annotations

import pytest

import obskit
from obskit.sources import get_format, load_file

from .conftest import DATA


def test_unknown_format_name_lists_the_formats():
    with pytest.raises(obskit.UnknownFormatError, match=r"unknown format 'csv'; the formats are"):
        get_format("csv")


def test_unrecognised_file_names_the_file_and_the_way_out(tmp_path):
    path = tmp_path / "mystery.dat"
    path.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(obskit.UnknownFormatError, match=r"mystery\.dat.*Pass format=") as info:
        load_file(path)
    assert "cri-log" in str(info.value)


def test_content_wins_over_the_file_name(tmp_path):
    misnamed = tmp_path / "pods.json"
    misnamed.write_bytes((DATA / "falco/single_rule_with_cat_write.json").read_bytes())
    result, fmt = load_file(misnamed)
    assert fmt == "falco-json" and len(result.events) == 8


def test_forcing_the_wrong_format_gives_rejects_not_a_traceback(tmp_path):
    result, _ = load_file(DATA / "falco/single_rule_with_cat_write.json", "docker-json-log")
    assert result.rows == 0 and len(result.rejects) == result.records == 8
    assert result.rejects["reason"].str.contains("not a Docker json-file record").all()


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(obskit.SourceError, match=r"cannot read '.*nope\.log'"):
        load_file(tmp_path / "nope.log")


def test_empty_file_is_zero_records(tmp_path):
    empty = tmp_path / "0.log"
    empty.write_bytes(b"")
    result, _ = load_file(empty, "cri-log")
    assert (result.records, result.rows, len(result.rejects)) == (0, 0, 0)


def test_dataset_not_found_lists_names():
    with pytest.raises(obskit.DatasetNotFoundError, match="checkout-oom"):
        obskit.datasets.path("no-such-incident")
