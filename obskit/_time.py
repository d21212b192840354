"""Timestamp parsing shared by every parser (RFC3339 with any offset, or epoch numbers), and the
moments and durations an analyst types as arguments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from obskit.errors import SourceError

__all__ = ["as_duration", "as_utc", "epoch_unit", "parse_times"]

_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
#: The moments a ``datetime64[ns]`` can hold (1677-09-21 to 2262-04-11); any other is ``NaT``.
_NS_RANGE = (pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC"))
#: Epoch nanoseconds as float64 must stay below this to fit an int64.
_NS_LIMIT = float(np.iinfo(np.int64).max)


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
    Prometheus' millisecond timestamps stay exact. A moment outside the years 1677-2262 (the
    range of ``datetime64[ns]``), such as ``9999-12-31`` or ``0001-01-01``, is ``NaT`` too.

    Examples
    --------
    >>> [str(t) for t in parse_times(["2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00.5Z"])]
    ['2024-01-01 00:00:00+00:00', '2024-01-01 00:00:00.500000+00:00']
    >>> parse_times([1704067200123], unit="ms")[0]
    Timestamp('2024-01-01 00:00:00.123000+0000', tz='UTC')
    >>> parse_times(["9999-12-31T23:59:59Z"])[0]
    NaT
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
        if ints and nums.map(lambda v: -(2**63) < v < 2**63).all():
            arr = np.array(nums.tolist(), dtype="int64")
            out[is_num] = _from_epoch_int(arr, unit)
        else:
            out[is_num] = _from_epoch(nums.astype("float64").to_numpy(), unit)
    is_str = obj.map(lambda v: isinstance(v, str))
    if is_str.any():
        text = obj[is_str].astype(str)
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        out[is_str] = in_ns_range(parsed)
    return out


def in_ns_range(parsed: pd.Series) -> pd.Series:
    """UTC times parsed at any resolution as ``datetime64[ns, UTC]``, ``NaT`` where they fall
    outside its range (pandas 3 parses ``9999-12-31`` at a coarser unit; a cast would raise)."""
    if str(parsed.dtype) != "datetime64[ns, UTC]":
        parsed = parsed.where((parsed >= _NS_RANGE[0]) & (parsed <= _NS_RANGE[1]))
    return parsed.astype("datetime64[ns, UTC]")


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
    if unit is None:
        scales = np.where(finite, _scales(np.where(finite, arr, 0)), 1).astype("float64")
    else:
        scales = np.full(len(arr), _UNITS[unit], dtype="float64")
    with np.errstate(invalid="ignore", over="ignore"):
        finite &= np.abs(arr * scales) < _NS_LIMIT  # beyond the years 1677-2262: NaT
    ns = np.zeros(len(arr), dtype="int64")
    if finite.any():
        scale = scales[finite]
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
    scale = _scales(arr) if unit is None else np.full(len(arr), _UNITS[unit], dtype="int64")
    fits = np.abs(arr) <= np.iinfo(np.int64).max // scale  # beyond the years 1677-2262: NaT
    result = pd.to_datetime(np.where(fits, arr, 0) * scale, unit="ns", utc=True)
    return result.where(fits, pd.NaT)


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
        ts = (
            pd.Timestamp(value, unit="s")
            if epoch_seconds and _number(value)
            else pd.Timestamp(value)
        )
    except (TypeError, ValueError) as exc:
        hint = " or epoch seconds" if epoch_seconds else ""
        raise error(
            f"{name} must be a timestamp like '2024-05-14T10:00:00Z'{hint}, got {value!r}"
        ) from exc
    if ts is pd.NaT:
        raise error(f"{name} must be a timestamp like '2024-05-14T10:00:00Z', got {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def as_duration(
    value: object,
    name: str,
    *,
    error: type[Exception] = SourceError,
    seconds: bool = False,
) -> pd.Timedelta:
    """A positive length of time an analyst typed (``'10min'``, ``'30s'``, a ``Timedelta``).

    ``seconds`` also accepts a number of seconds. Anything unreadable, zero or negative raises
    ``error`` naming the argument, the value and an example of what works.

    Examples
    --------
    >>> as_duration("90s", "every"), as_duration(90, "every", seconds=True)
    (Timedelta('0 days 00:01:30'), Timedelta('0 days 00:01:30'))
    >>> as_duration("-5min", "baseline")
    Traceback (most recent call last):
    ...
    obskit.errors.SourceError: baseline must be a positive duration like '10min' or '30s', got '-5min'
    """  # noqa: E501
    try:
        delta = pd.Timedelta(seconds=value) if seconds and _number(value) else pd.Timedelta(value)
    except (TypeError, ValueError) as exc:
        hint = " (or seconds)" if seconds else ""
        raise error(
            f"{name} must be a duration like '10min' or '30s'{hint}, got {value!r}"
        ) from exc
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise error(f"{name} must be a positive duration like '10min' or '30s', got {value!r}")
    return delta


def _number(value: object) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)
