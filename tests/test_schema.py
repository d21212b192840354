"""The data contract."""

from __future__ import annotations

import pandas as pd
import pytest

from obskit import schema
from obskit.errors import SchemaError


def test_empty_frames_validate():
    for name in schema.FRAMES:
        schema.validate(name, schema.empty(name))


def test_conform_fixes_dtypes_and_blank_key_parts():
    df = schema.conform(
        "logs",
        pd.DataFrame(
            {
                "timestamp": ["2024-01-01T00:00:00+02:00"],
                "namespace": [""],
                "pod": ["a"],
                "level": ["WARNING"],
                "message": ["m"],
            }
        ),
    )
    schema.validate("logs", df)
    assert df["timestamp"].iloc[0] == pd.Timestamp("2023-12-31T22:00:00Z")
    assert pd.isna(df["namespace"].iloc[0])
    assert df["level"].iloc[0] == "warning"


def test_severity_is_ordered():
    df = schema.conform("events", pd.DataFrame({"severity": ["info", "critical", "warning"]}))
    assert (df["severity"] >= "warning").tolist() == [False, True, True]


def test_validate_lists_every_problem():
    df = schema.empty("logs").drop(columns=["stream"])
    df["pod"] = df["pod"].astype(object)
    with pytest.raises(SchemaError, match=r"missing column 'stream'.*'pod' is object"):
        schema.validate("logs", df)


def test_bad_severity_and_bad_time_are_named():
    with pytest.raises(SchemaError, match="severity scale"):
        schema.conform("events", pd.DataFrame({"severity": ["urgent"]}))
    with pytest.raises(SchemaError, match=r"not RFC3339.*'tuesday'"):
        schema.conform("logs", pd.DataFrame({"timestamp": ["tuesday"]}))
    with pytest.raises(SchemaError, match=r"years 1677-2262, the first '9999-12-31T00:00:00Z'"):
        schema.conform("logs", pd.DataFrame({"timestamp": ["9999-12-31T00:00:00Z"]}))


def test_unknown_frame_lists_frames():
    with pytest.raises(SchemaError, match="unknown frame 'traces'; the frames are changes, events"):
        schema.empty("traces")


def test_metrics_extra_labels_become_categories():
    df = schema.conform("metrics", pd.DataFrame({"value": [1.0], "job": ["kubelet"]}))
    assert isinstance(df["job"].dtype, pd.CategoricalDtype)


def test_subclass_is_refused():
    class Sub(pd.DataFrame):
        pass

    with pytest.raises(SchemaError, match="plain pandas DataFrame"):
        schema.validate("logs", Sub(schema.empty("logs")))


def test_concat_keeps_the_severity_scale_and_its_values():
    levels = [["error", None, "info"], ["debug"], [None], ["critical", "warning"]]
    parts = [
        schema.conform("logs", pd.DataFrame({"level": pd.Series(v, dtype="object")}))
        for v in levels
    ]
    parts.append(pd.DataFrame({"message": pd.array(["no level column"], dtype=schema.STRING)}))
    got = schema.concat("logs", parts)["level"]
    assert got.dtype == schema.SEVERITY
    assert got.astype("object").where(got.notna(), None).tolist() == [
        "error",
        None,
        "info",
        "debug",
        None,
        "critical",
        "warning",
        None,
    ]
    same_scale = schema.concat("logs", parts[:4])["level"]
    assert same_scale.dtype == schema.SEVERITY
    pd.testing.assert_series_equal(same_scale, got.iloc[:7])
    schema.validate("logs", schema.concat("logs", parts))
