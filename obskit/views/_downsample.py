"""Display-only downsampling: at most ``n_out`` points per trace, shape kept (MinMaxLTTB).

Uses ``tsdownsample``'s MinMaxLTTB (min-max preselection, then largest-triangle-three-buckets)
when it is installed, else a numpy min-max: the index range is cut into ``n_out // 2`` equal
buckets and each bucket's lowest and highest point are kept, so spikes and dips survive. Either
way the result holds at most ``n_out`` points, and the analysis never sees it: views call this on
copies of the arrays they draw.
"""

from __future__ import annotations

import numpy as np

try:  # optional speed-up; the numpy fallback keeps the same bound
    from tsdownsample import MinMaxLTTBDownsampler
except ImportError:  # pragma: no cover - depends on the environment
    MinMaxLTTBDownsampler = None

__all__ = ["downsample", "gap_breaks"]


def downsample(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Sorted indices of at most ``n_out`` points of ``(x, y)`` that keep its shape.

    ``x`` must be sorted ascending (int64 nanoseconds or floats) and ``y`` free of NaN.

    Examples
    --------
    >>> x = np.arange(10_000, dtype=np.int64)
    >>> y = np.sin(x / 100.0)
    >>> idx = downsample(x, y, 500)
    >>> len(idx) <= 500, bool(np.all(np.diff(idx) > 0))
    (True, True)
    """
    n = len(x)
    n_out = max(int(n_out), 4)
    if n <= n_out:
        return np.arange(n)
    if MinMaxLTTBDownsampler is not None:
        idx = MinMaxLTTBDownsampler().downsample(x, np.ascontiguousarray(y), n_out=n_out)
        return np.asarray(idx, dtype=np.int64)
    return _minmax(y, n_out)


def _minmax(y: np.ndarray, n_out: int) -> np.ndarray:
    """Lowest and highest point of each of ``n_out // 2`` equal index buckets."""
    buckets = n_out // 2
    edges = np.linspace(0, len(y), buckets + 1).astype(np.int64)
    starts = edges[:-1]
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    bucket_of = np.repeat(np.arange(buckets), np.diff(edges))
    is_lo = y == lo[bucket_of]
    is_hi = y == hi[bucket_of]
    # first index reaching each bucket's min and max
    first_lo = _first_true(is_lo, bucket_of, buckets)
    first_hi = _first_true(is_hi, bucket_of, buckets)
    return np.unique(np.concatenate([first_lo, first_hi]))


def _first_true(mask: np.ndarray, bucket_of: np.ndarray, buckets: int) -> np.ndarray:
    positions = np.flatnonzero(mask)
    _, first = np.unique(bucket_of[positions], return_index=True)
    out = positions[first]
    return out[:buckets]


def gap_breaks(x: np.ndarray, threshold: float, limit: int) -> np.ndarray:
    """Positions ``i`` where ``x[i+1] - x[i] > threshold``: the ``limit`` widest gaps, sorted."""
    if len(x) < 2 or limit <= 0:
        return np.empty(0, dtype=np.int64)
    steps = np.diff(x)
    gaps = np.flatnonzero(steps > threshold)
    if len(gaps) > limit:
        widest = np.argsort(steps[gaps], kind="stable")[-limit:]
        gaps = np.sort(gaps[widest])
    return gaps
