"""Enrichment's grouping of rows by their key (the distinct keys are completed once each)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obskit.enrich import _key_codes


def _first_appearance(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Each row's group, numbered in order of first appearance, in plain Python."""
    numbers: dict[tuple, int] = {}
    rows = zip(
        *(frame[c].astype(object).where(frame[c].notna(), None) for c in columns), strict=True
    )
    return np.array([numbers.setdefault(key, len(numbers)) for key in rows])


@pytest.mark.parametrize("widths", [(3, 5, 2), (70_000, 3, 40_000)])
def test_key_codes_number_rows_by_their_values_in_order_of_first_appearance(widths):
    """Missing values are values of their own; category and text columns alike; narrow keys
    (every combination fits 32 bits) and wide ones (~10**10 combinations) give the same
    groups."""
    rng = np.random.default_rng(3)
    n = 5_000
    columns = {}
    for k, width in enumerate(widths):
        values = pd.Series([f"v{x}" for x in rng.integers(0, width, n)], dtype=object)
        values[rng.random(n) < 0.2] = None
        if k == 1:
            columns[f"c{k}"] = values  # text: factorised
        else:  # every category declared, seen or not: the width of the key's digit
            columns[f"c{k}"] = pd.Categorical(values, categories=[f"v{x}" for x in range(width)])
    columns["none"] = pd.Categorical([None] * n)  # no value at all: no digit
    frame = pd.DataFrame(columns)
    names = list(columns)
    groups, first = _key_codes(frame, names)
    expected = _first_appearance(frame, names)
    np.testing.assert_array_equal(groups, expected)
    np.testing.assert_array_equal(first, [int(np.argmax(expected == g)) for g in range(len(first))])
