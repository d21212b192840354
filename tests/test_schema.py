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


_POD_ROW = {
    "cluster": "prod",
    "namespace": "shop",
    "node": "n1",
    "workload_kind": "StatefulSet",
    "workload": "db",
    "pod": "db-0",
    "container": "postgres",
}


@pytest.mark.parametrize(
    ("row", "kind", "options", "name"),
    [
        # the finest entity a row names, as the report's summary and the Explorer write it
        (_POD_ROW, None, {}, "shop/db-0/postgres"),
        ({**_POD_ROW, "container": None}, None, {}, "shop/db-0"),
        ({"namespace": "shop", "workload": "db", "container": "x"}, None, {}, "shop/db"),
        ({"node": "n1", "cluster": "prod"}, None, {}, "n1"),
        ({"namespace": "shop", "cluster": "prod"}, None, {}, "shop"),
        ({"cluster": "prod"}, None, {}, "prod"),
        ({}, None, {}, ""),
        # a timeline's legend leaves the namespace out, but not a namespace's own name
        (_POD_ROW, None, {"namespace": False}, "db-0/postgres"),
        ({"namespace": "shop"}, None, {"namespace": False}, "shop"),
        # a suspect's kind picks the entity out of a row that names finer ones
        (_POD_ROW, "workload", {}, "shop/db"),
        (_POD_ROW, "node", {}, "n1"),
        (_POD_ROW, "pod", {}, "shop/db-0"),
        # sentences (root-cause evidence and the report's summary) say the kind first
        (_POD_ROW, "workload", {"words": True}, "StatefulSet shop/db"),
        ({**_POD_ROW, "workload_kind": pd.NA}, "workload", {"words": True}, "workload shop/db"),
        (_POD_ROW, "container", {"words": True}, "container postgres of pod shop/db-0"),
        (_POD_ROW, "pod", {"words": True}, "pod shop/db-0"),
        (_POD_ROW, "node", {"words": True}, "node n1"),
        # missing parts in any spelling a frame row has are left out
        (pd.Series({"namespace": float("nan"), "pod": "db-0"}), None, {}, "db-0"),
        (pd.Series({"namespace": "", "node": "n1", "pod": pd.NA}), None, {}, "n1"),
        ({"pod": "db-0", "entity_kind": pd.NA}, pd.NA, {}, "db-0"),
    ],
)
def test_entity_name(row, kind, options, name):
    assert schema.entity_name(row, kind, **options) == name


def test_entity_name_refuses_an_unknown_kind():
    with pytest.raises(SchemaError, match=r"kind must be one of container, pod, .* got 'service'"):
        schema.entity_name(_POD_ROW, "service")


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
