"""Timestamps: RFC3339 with any offset, epoch numbers in s/ms/us/ns, always UTC ns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from obskit import parse_times
from obskit.errors import SourceError

T = pd.Timestamp("2024-05-14T10:00:00.123456Z")


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (1715680800.123456, "s"),
        (1715680800123.456, "ms"),
        (1715680800123456, "us"),
        (1715680800123456000, "ns"),
    ],
)
def test_epoch_units_explicit_and_guessed(value, unit):
    assert parse_times([value], unit=unit)[0] == T
    assert parse_times([value])[0] == T


def test_prometheus_float_seconds_are_exact():
    got = parse_times(np.array([1435781430.781, 1435781445.781]))
    assert [t.value % 1_000_000_000 for t in got] == [781_000_000, 781_000_000]


def test_mixed_offsets_convert_to_utc():
    got = parse_times(
        [
            "2024-05-14T12:00:00.123456+02:00",
            "2024-05-14T05:00:00.123456-05:00",
            "2024-05-14T10:00:00.123456Z",
            "2024-05-14T10:00:00.123456",
        ]
    )
    assert (got == T).all()
    assert str(got.dtype) == "datetime64[ns, UTC]"


def test_unreadable_values_become_nat_not_errors():
    got = parse_times(["yesterday", None, float("nan"), "2024-05-14T10:00:00.123456Z"])
    assert got.isna().tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00.000000Z",
        "2262-04-12T00:00:00Z",
        10**19,  # more than an int64
        1e300,
        -1e300,
    ],
)
def test_moments_beyond_nanosecond_range_become_nat(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = parse_times([value, "2024-05-14T10:00:00.123456Z"])
    assert got.isna().tolist() == [True, False]
    assert str(got.dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize("seconds", [253402300799, 50_000_000_000, -62135596800])
def test_epoch_seconds_beyond_nanosecond_range_become_nat(seconds):
    # 9999-12-31, the year 3554 (whose nanoseconds overflow an int64), 0001-01-01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        as_ints = parse_times([seconds, 1715680800], unit="s")
        as_floats = parse_times(np.array([seconds, 1715680800.0]), unit="s")
    assert as_ints.isna().tolist() == [True, False]
    assert as_floats.isna().tolist() == [True, False]


def test_bad_unit_is_named():
    with pytest.raises(SourceError, match=r"unit must be one of \['ms', 'ns', 's', 'us'\]"):
        parse_times([1], unit="min")
