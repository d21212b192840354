"""Timestamp parsing shared by every parser: RFC3339 with any offset, or epoch numbers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from obskit.errors import SourceError

__all__ = ["as_utc", "epoch_unit", "parse_times"]

_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def epoch_unit(magnitude: float) -> str:
    """Guess the unit of an epoch number from its size (for dates between 1973 and 5138)."""
    magnitude = abs(magnitude)
    if magnitude < 1e11:
        return "s"
    if magnitude < 1e14:
        return "ms"
    if magnitude < 1e17:
        return "us"
    return "ns"


def parse_times(values: Sequence | pd.Series | np.ndarray, unit: str | None = None) -> pd.Series:
    """Parse timestamps to ``datetime64[ns, UTC]``; what cannot be parsed becomes ``NaT``.

    Strings are read as RFC3339 / ISO 8601, each with its own UTC offset (mixed offsets are
    converted to UTC; a string without an offset is taken as UTC). Numbers are epoch times in
    ``unit`` (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``); without ``unit`` each number's unit is
    guessed from its magnitude. Fractions of float epochs are rounded to the microsecond, so
    Prometheus' millisecond timestamps stay exact.

    Examples
    --------
    >>> [str(t) for t in parse_times(["2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00.5Z"])]
    ['2024-01-01 00:00:00+00:00', '2024-01-01 00:00:00.500000+00:00']
    >>> parse_times([1704067200123], unit="ms")[0]
    Timestamp('2024-01-01 00:00:00.123000+0000', tz='UTC')
    """
    if unit is not None and unit not in _UNITS:
        raise SourceError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    if isinstance(values, pd.Series):
        series = values
    elif isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        series = pd.Series(values)  # keep numbers numeric: no per-element Python below
    else:
        series = pd.Series(values, dtype="object")
    index = series.index
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(_from_epoch(series.to_numpy(dtype="float64"), unit), index=index)
    obj = series.astype("object")
    is_num = obj.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    out = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    if is_num.any():
        nums = obj[is_num]
        ints = nums.map(lambda v: isinstance(v, int)).all()
        if ints:
            arr = np.array(nums.tolist(), dtype="int64")
            out[is_num] = _from_epoch_int(arr, unit)
        else:
            out[is_num] = _from_epoch(nums.astype("float64").to_numpy(), unit)
    is_str = obj.map(lambda v: isinstance(v, str))
    if is_str.any():
        text = obj[is_str].astype(str)
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        out[is_str] = parsed.astype("datetime64[ns, UTC]")
    return out


def _scales(arr: np.ndarray) -> np.ndarray:
    """Nanoseconds per unit for each epoch number, the unit guessed as :func:`epoch_unit` does."""
    magnitude = np.abs(arr)
    return np.select(
        [magnitude < 1e11, magnitude < 1e14, magnitude < 1e17],
        [_UNITS["s"], _UNITS["ms"], _UNITS["us"]],
        default=_UNITS["ns"],
    ).astype("int64")


def _from_epoch(arr: np.ndarray, unit: str | None) -> pd.DatetimeIndex:
    finite = np.isfinite(arr)
    ns = np.zeros(len(arr), dtype="int64")
    if finite.any():
        if unit is None:
            scale = _scales(arr[finite]).astype("float64")
        else:
            scale = np.full(int(finite.sum()), _UNITS[unit], dtype="float64")
        # Split whole and fractional parts, and round the fraction to the microsecond: a float64
        # of today's epoch seconds carries no finer digits, so Prometheus' milliseconds stay exact.
        whole = np.floor(arr[finite])
        frac = arr[finite] - whole
        micro = np.where(scale >= 1000, 1000, 1)
        ns[finite] = whole.astype("int64") * scale.astype("int64") + (
            np.round(frac * scale / micro) * micro
        ).astype("int64")
    result = pd.to_datetime(ns, unit="ns", utc=True)
    return result.where(finite, pd.NaT)


def _from_epoch_int(arr: np.ndarray, unit: str | None) -> pd.DatetimeIndex:
    scale = _scales(arr) if unit is None else np.int64(_UNITS[unit])
    return pd.to_datetime(arr * scale, unit="ns", utc=True)


def as_utc(
    value: object,
    name: str,
    *,
    error: type[Exception] = SourceError,
    epoch_seconds: bool = False,
) -> pd.Timestamp:
    """One moment an analyst typed, as a UTC ``Timestamp`` (text without an offset is UTC).

    ``epoch_seconds`` also accepts a number of seconds since the epoch. Anything unreadable
    raises ``error`` naming the argument, the value and an example of what works.

    Examples
    --------
    >>> as_utc("2024-05-14T12:00:00+02:00", "start")
    Timestamp('2024-05-14 10:00:00+0000', tz='UTC')
    """
    try:
        if epoch_seconds and isinstance(value, int | float) and not isinstance(value, bool):
            ts = pd.Timestamp(value, unit="s")
        else:
            ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        hint = " or epoch seconds" if epoch_seconds else ""
        raise error(
            f"{name} must be a timestamp like '2024-05-14T10:00:00Z'{hint}, got {value!r}"
        ) from exc
    if ts is pd.NaT:
        raise error(f"{name} must be a timestamp like '2024-05-14T10:00:00Z', got {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
