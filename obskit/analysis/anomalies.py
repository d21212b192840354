"""Metric anomalies: every series scored against its own baseline, with onset and peak.

The method is BARO's (RCAEval): each series is scaled robustly by the median and spread of a
*baseline* window before the onset, and its score is the largest absolute scaled deviation
after the onset. The mean/standard-deviation score (NSigma) is computed beside it as a
cross-check: an anomaly both agree on is ``confirmed``.

Beyond BARO:

- the spread is twice the median absolute deviation (MAD), not the inter-quartile range: the
  two are equal for symmetric noise, so scores still read "in IQRs", but the MAD holds while up
  to half of the baseline is disturbed (an earlier incident on the same pod, a deploy) where the
  IQR is blown up once a quarter of it is;

- a series with no baseline of its own (a pod created by a rollout, a container restarted with
  a new id) is measured against the baseline of its *peers*: the same metric and labels in the
  other pods of its workload, else (a batch Job's pod, the only one of its workload) in the other
  pods on its node; a series seen only a few samples before the onset with no such peer (the
  recording began just before it) is measured against those few samples moved as far as the
  same metric moved in the other pods at the same time (``peers' change``);
- when the onset is not known, :func:`detect_onset` finds it: each series is scored against its
  own past (an expanding baseline), and the onset is the start of the densest burst of series
  that left their past behaviour;
- the scale is floored (5% of the median, 0.1% of the series' largest value) so a flat series
  that moves a little is not scored as infinitely anomalous;
- a quantile that sat on one value through its baseline is read off a histogram (``bucketed``):
  its resolution is a bucket, so its scale is its own value and a move to the next bucket
  scores about one IQR, where the floor would make hundreds of it.

All of it runs on one (time bins x series) matrix, so thousands of series cost one pass of
numpy, not one Python loop per series.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from obskit import schema
from obskit._time import as_duration, as_utc
from obskit.errors import InvestigationError

__all__ = ["SeriesMatrix", "anomalies", "detect_onset", "metric_onsets", "series_matrix"]

#: Labels that name one scrape target or container instance rather than what is measured: a
#: series keeps its identity across a restart (new container id) or a new scrape endpoint.
INSTANCE_LABELS = frozenset(
    {
        "origin",
        "key_source",
        "id",
        "name",
        "instance",
        "endpoint",
        "job",
        "service",
        "metrics_path",
        "uid",
        "image",
        "pod_uid",
        "container_id",
        "prometheus",
        "prometheus_replica",
    }
)
_MAX_BINS = 4000
#: A climb into the onset (:func:`_climbs`) is a build-up from this many bins on (two and a
#: half minutes at 30 s, five at a minute): fewer are a blip, the tail of an earlier move, or
#: the first samples of the fault itself.
CLIMB_MIN_BINS = 5
#: ... and only in a series that was beyond the threshold in less than this share of its
#: baseline (the share from which a move is told as "as unusual in N% of its baseline too").
CLIMB_MAX_HABIT = 0.1
#: A climb's bins are at least this many IQRs beyond the baseline's median, in the direction
#: the series moved: outside the middle half of its baseline.
CLIMB_IQRS = 1.0
#: A quantile metric (``LatencyP99``, ``latency.p95``, a ``quantile`` label): estimated from the
#: requests of each interval, it varies with them, unless it is read off a histogram.
_QUANTILE_RE = re.compile(r"P\d{2,3}(?!\d)|[._]p\d{2,3}(?!\d)|quantile")
#: How long before the onset a series' departure from its own past can be the start of the
#: anomaly (a leak or a filling disk building up): ``began`` goes back at most this far.
BUILD_UP = pd.Timedelta("30min")
_COLUMNS = [
    "series",
    "metric",
    *schema.KEY,
    "labels",
    "onset",
    "began",
    "peak",
    "score",
    "nsigma",
    "direction",
    "baseline",
    "peak_value",
    "share",
    "base_share",
    "base_samples",
    "base_reach",
    "post_samples",
    "flat",
    "bucketed",
    "anomalous",
    "confirmed",
    "baseline_from",
]


@dataclass(frozen=True)
class SeriesMatrix:
    """Metrics as one matrix: ``values[bin, series]``, mean per time bin, NaN where absent."""

    values: np.ndarray
    times: pd.DatetimeIndex
    series: pd.DataFrame
    step: pd.Timedelta


def _timedelta(value: object, name: str) -> pd.Timedelta:
    return as_duration(value, name, error=InvestigationError)


def _timestamp(value: object, name: str) -> pd.Timestamp:
    return as_utc(value, name, error=InvestigationError)


def _ns(stamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds."""
    return pd.DatetimeIndex(stamps).as_unit("ns").asi8


def _label_columns(metrics: pd.DataFrame) -> list[str]:
    skip = {"timestamp", "value", *INSTANCE_LABELS}
    return [c for c in metrics.columns if c not in skip]


def series_matrix(metrics: pd.DataFrame, step: object = None) -> SeriesMatrix:
    """Pivot a metrics frame to a (time bins x series) matrix.

    A series is one metric with one set of labels, leaving out labels that only name an
    instance (container id, scrape endpoint: :data:`INSTANCE_LABELS`). Samples are averaged
    per bin of ``step`` (default: the median sampling interval of the series).

    Parameters
    ----------
    metrics : DataFrame
        A metrics frame (see :mod:`obskit.schema`).
    step : duration, optional
        Bin width, e.g. ``"30s"``.

    Returns
    -------
    SeriesMatrix
        ``values`` (bins x series), ``times`` (bin starts), ``series`` (one row per series:
        ``metric``, the key, ``labels`` as ``"code=503,verb=GET"``) and ``step``.

    Examples
    --------
    >>> m = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01T00:00:00Z",
    ...     "2024-01-01T00:00:30Z", "2024-01-01T00:00:00Z"]), "metric": ["cpu", "cpu", "mem"],
    ...     "value": [1.0, 2.0, 5.0], "pod": ["a", "a", "a"]})
    >>> sm = series_matrix(schema.conform("metrics", m))
    >>> sm.values.shape, sm.series["metric"].tolist()
    ((2, 2), ['cpu', 'mem'])
    """
    labels = _label_columns(metrics)
    if metrics.empty:
        return SeriesMatrix(
            np.empty((0, 0)),
            pd.DatetimeIndex([], tz="UTC"),
            pd.DataFrame(columns=labels),
            pd.Timedelta("30s"),
        )
    frame = metrics[[*labels, "timestamp", "value"]]
    frame = frame[frame["timestamp"].notna()]
    codes = frame.groupby(labels, observed=True, dropna=False, sort=False).ngroup().to_numpy()
    n_series = int(codes.max()) + 1 if len(codes) else 0
    ns = _ns(frame["timestamp"])
    if step is None:
        order = np.lexsort((ns, codes))
        diffs = np.diff(ns[order])
        same = np.diff(codes[order]) == 0
        diffs = diffs[same & (diffs > 0)]
        step_ns = int(np.median(diffs)) if len(diffs) else 30 * 10**9
    else:
        step_ns = _timedelta(step, "step").value
    t0 = int(ns.min())
    span = int(ns.max()) - t0
    step_ns = max(step_ns, span // _MAX_BINS + 1, 1)
    n_bins = span // step_ns + 1
    bins = (ns - t0) // step_ns
    flat = bins * n_series + codes
    values = frame["value"].to_numpy(dtype=float)
    ok = np.isfinite(values)
    total = np.bincount(flat[ok], weights=values[ok], minlength=n_bins * n_series)
    count = np.bincount(flat[ok], minlength=n_bins * n_series)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = (total / count).reshape(n_bins, n_series)
    first = pd.Series(np.arange(len(frame))).groupby(codes).first().to_numpy()
    series = frame.iloc[first][labels].reset_index(drop=True)
    extra = [c for c in labels if c not in ("metric", *schema.KEY)]
    series["labels"] = _label_text(series, extra)
    series = series[["metric", *schema.KEY, "labels"]]
    times = pd.DatetimeIndex(pd.to_datetime(t0 + np.arange(n_bins) * step_ns, utc=True))
    return SeriesMatrix(matrix, times, series, pd.Timedelta(step_ns, unit="ns"))


def _label_text(series: pd.DataFrame, extra: list[str]) -> pd.Series:
    """``"code=503,verb=GET"`` per series from the extra label columns (empty when none)."""
    out = pd.Series("", index=series.index, dtype=object)
    for column in extra:
        values = series[column].astype("object")
        has = values.notna()
        if not has.any():
            continue
        piece = column + "=" + values[has].astype(str)
        out[has] = np.where(out[has] == "", piece, out[has] + "," + piece)
    return out


def _quiet(func, *args, **kwargs):
    """Call a numpy nan-reduction; all-NaN columns give NaN without a RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(*args, **kwargs)


def _floor(center: np.ndarray, spread: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """Spread floored at 5% of the centre and 0.1% of the series' largest absolute value."""
    floor = np.maximum(0.05 * np.abs(center), 1e-3 * magnitude)
    return np.fmax(np.fmax(spread, floor), 1e-12)


def _peer_keys(series: pd.DataFrame) -> np.ndarray:
    """Series of the same metric, workload, container and labels, whichever pod they are in."""
    cols = ["metric", "cluster", "namespace", "workload_kind", "workload", "container", "labels"]
    parts = series[cols].astype("object").where(series[cols].notna(), "")
    key = parts.astype(str).agg("\x1f".join, axis=1)
    has_pod = series["pod"].notna() & series["workload"].notna()
    return np.where(has_pod.to_numpy(), key.to_numpy(), None)


def _node_peer_keys(series: pd.DataFrame) -> np.ndarray:
    """Series of the same metric and labels in the other pods on the same node."""
    cols = ["metric", "cluster", "node", "labels"]
    parts = series[cols].astype("object").where(series[cols].notna(), "")
    key = parts.astype(str).agg("\x1f".join, axis=1)
    has_pod = series["pod"].notna() & series["node"].notna()
    return np.where(has_pod.to_numpy(), key.to_numpy(), None)


def _pool_peers(
    base: np.ndarray,
    keys: np.ndarray,
    own: np.ndarray,
    lacking: np.ndarray,
    min_baseline: int,
) -> dict[int, np.ndarray]:
    """For each lacking series, the pooled baseline samples of the series sharing its key that
    have a baseline of their own (only where there are at least ``min_baseline`` of them)."""
    wanted = {keys[i] for i in lacking if keys[i] is not None}
    groups: dict[str, list[int]] = {}
    for i in np.flatnonzero(own):
        if keys[i] in wanted:
            groups.setdefault(keys[i], []).append(i)
    out: dict[int, np.ndarray] = {}
    for i in lacking:
        cols = groups.get(keys[i]) if keys[i] is not None else None
        if not cols:
            continue
        pooled = base[:, cols].ravel()
        pooled = pooled[np.isfinite(pooled)]
        if len(pooled) >= min_baseline:
            out[i] = pooled
    return out


#: Pods whose same metric's change at the same time a series with only a few samples before
#: the onset is measured against: fewer is no spread to measure against.
MIN_CHANGE_PEERS = 3


def _changes_of_peers(
    base: np.ndarray, post: np.ndarray, series: pd.DataFrame, short: np.ndarray
) -> dict[int, tuple[float, np.ndarray]]:
    """For each short series, its own level before the onset (the median of its few samples)
    and the ratios of the other pods' same metric after the onset to their own level before
    it (only where at least :data:`MIN_CHANGE_PEERS` pods have a positive level)."""
    if not len(short):
        return {}
    center = _quiet(np.nanmedian, base[:, short], axis=0)
    metric = series["metric"].astype(str).to_numpy()[short]
    labels = series["labels"].astype(str).to_numpy()[short] if "labels" in series else None
    out: dict[int, tuple[float, np.ndarray]] = {}
    for j, i in enumerate(short):
        same = (metric == metric[j]) & (center > 0) & (np.arange(len(short)) != j)
        if labels is not None:
            same &= labels == labels[j]
        if same.sum() < MIN_CHANGE_PEERS or not center[j] > 0:
            continue
        ratios = (post[:, short[same]] / center[same]).ravel()
        ratios = ratios[np.isfinite(ratios)]
        if len(ratios):
            out[int(i)] = (float(center[j]), ratios)
    return out


def _scores(
    sm: SeriesMatrix,
    at: pd.Timestamp,
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    threshold: float,
    min_baseline: int,
) -> pd.DataFrame:
    times = sm.times
    before = (times >= lo) & (times < at)
    after = (times >= at) & (times <= hi)
    base = sm.values[before]
    post = sm.values[after]
    n_base = np.sum(np.isfinite(base), axis=0)
    n_post = np.sum(np.isfinite(post), axis=0)
    magnitude = _quiet(np.nanmax, np.abs(sm.values), axis=0) if len(times) else np.array([])
    magnitude = np.nan_to_num(magnitude)
    median = _quiet(np.nanmedian, base, axis=0)
    # twice the median absolute deviation: the IQR of symmetric noise, with a 50% breakdown
    # point where the IQR's is 25% (a baseline holding an earlier incident keeps its scale)
    spread = 2.0 * _quiet(np.nanmedian, np.abs(base - median), axis=0)
    mean = _quiet(np.nanmean, base, axis=0)
    std = _quiet(np.nanstd, base, axis=0)
    own = n_base >= min_baseline
    baseline_from = np.where(own, "own", None).astype(object)
    # series without a baseline of their own: the baseline of their peers (the other pods of
    # their workload), else of the other pods on their node (a Job's pod has no workload peers)
    lacking = np.flatnonzero(~own & (n_post > 0) & sm.series["pod"].notna().to_numpy())
    found = _pool_peers(base, _peer_keys(sm.series), own, lacking, min_baseline)
    rest = np.array([i for i in lacking if i not in found], dtype=int)
    tenants = _pool_peers(base, _node_peer_keys(sm.series), own, rest, min_baseline)
    for source, pools in (("peers", found), ("node peers", tenants)):
        for i, pooled in pools.items():
            median[i] = np.median(pooled)
            spread[i] = 2.0 * np.median(np.abs(pooled - median[i]))
            mean[i], std[i] = pooled.mean(), pooled.std()
            baseline_from[i] = source
    # series seen only a few samples before the onset (telemetry that began just before it),
    # with no peer that has more: their level is those few samples, and how far they may move
    # is how far every pod's same metric moved from its own few samples at the same time (the
    # load changes them all alike; the pod whose change stands out among them is news)
    short = np.array([i for i in rest if i not in tenants and n_base[i] > 0], dtype=int)
    for i, (center, ratios) in _changes_of_peers(base, post, sm.series, short).items():
        median[i] = center * np.median(ratios)
        spread[i] = center * 2.0 * np.median(np.abs(ratios - np.median(ratios)))
        mean[i], std[i] = center * ratios.mean(), center * ratios.std()
        baseline_from[i] = "peers' change"
    scale = _floor(median, spread, magnitude)
    sd = _floor(mean, std, magnitude)
    flat = spread < scale  # no spread of its own: the score is measured against the floor
    # a quantile that sat on one value (exactly, in half its baseline samples or more) is read
    # off a histogram, interpolated to a fixed point inside one bucket: its resolution is a
    # bucket, and latency buckets are laid out about twice as far apart each (5, 10, 25, 50
    # ms ...), so its scale is its own value: moving to the next bucket is about one IQR, not
    # the hundreds the 5% floor would make of it
    with np.errstate(invalid="ignore"):
        sits = np.sum(np.abs(base - median) <= 1e-9 * np.abs(median), axis=0)
    bucketed = own & (sits >= 0.5 * n_base) & (median != 0) & _is_quantile(sm.series)
    scale = np.where(bucketed, np.fmax(scale, np.abs(median)), scale)
    sd = np.where(bucketed, np.fmax(sd, np.abs(median)), sd)
    usable = (baseline_from != None) & (n_post > 0)  # noqa: E711
    robust = (post - median) / scale
    nsig = np.abs(post - mean) / sd
    abs_robust = np.abs(robust)
    filled = np.where(np.isfinite(abs_robust), abs_robust, -1.0)
    peak_idx = np.argmax(filled, axis=0) if len(post) else np.zeros(len(median), dtype=int)
    score = _quiet(np.nanmax, abs_robust, axis=0) if len(post) else np.full(len(median), np.nan)
    nsigma = _quiet(np.nanmax, nsig, axis=0) if len(post) else np.full(len(median), np.nan)
    exceed = abs_robust >= threshold
    first_idx = np.argmax(exceed, axis=0) if len(post) else np.zeros(len(median), dtype=int)
    any_exceed = exceed.any(axis=0) if len(post) else np.zeros(len(median), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = exceed.sum(axis=0) / np.maximum(n_post, 1)
        # how often the baseline itself was beyond the threshold: a series that spikes now
        # and then is not anomalous for spiking once more
        base_exceed = np.abs(base - median) / scale >= threshold
        base_share = base_exceed.sum(axis=0) / np.maximum(n_base, 1)
    post_times = times[after]
    cols = np.arange(len(median))
    peak_value = post[peak_idx, cols] if len(post) else np.full(len(median), np.nan)
    signed = robust[peak_idx, cols] if len(post) else np.full(len(median), np.nan)
    # how often the baseline went as far as the peak, the same way: a series that reaches this
    # height every few minutes did nothing new by reaching it once more after the onset
    with np.errstate(invalid="ignore", divide="ignore"):
        toward = np.where(signed >= 0, 1.0, -1.0) * (base - median) / scale
        base_reach = np.sum(toward >= np.abs(signed), axis=0) / np.maximum(n_base, 1)
    out = sm.series.copy()
    out.insert(0, "series", np.arange(len(out)))
    nat = pd.Series(pd.NaT, index=out.index, dtype=schema.TIME)
    out["onset"] = nat
    out["peak"] = nat
    if len(post):
        onset = pd.Series(post_times[first_idx], index=out.index)
        out["onset"] = onset.where(any_exceed & usable)
        out["peak"] = pd.Series(post_times[peak_idx], index=out.index).where(usable)
    out["score"] = np.where(usable, score, np.nan)
    out["nsigma"] = np.where(usable, nsigma, np.nan)
    direction = np.where(signed >= 0, "up", "down").astype(object)
    direction = np.where(usable, direction, None)
    direction = np.where((n_post > 0) & (baseline_from == None), "new", direction)  # noqa: E711
    direction = np.where(own & (n_post == 0), "gone", direction)
    out["direction"] = direction
    out["baseline"] = np.where(usable, median, np.nan)
    out["peak_value"] = np.where(usable, peak_value, np.nan)
    out["share"] = np.where(usable, share, np.nan)
    out["base_share"] = np.where(usable, base_share, np.nan)
    out["base_samples"] = np.where(baseline_from == "own", n_base, 0)
    out["base_reach"] = np.where(usable & (baseline_from == "own"), base_reach, np.nan)
    out["post_samples"] = n_post
    out["flat"] = usable & flat
    out["bucketed"] = usable & bucketed
    out["anomalous"] = usable & (np.nan_to_num(score) >= threshold)
    out["confirmed"] = out["anomalous"] & (np.nan_to_num(nsigma) >= threshold)
    out["baseline_from"] = baseline_from
    # a series that never first appeared in this window (first sample after the onset)
    if len(post):
        first_seen = np.argmax(np.isfinite(post), axis=0)
        new_onset = pd.Series(post_times[first_seen], index=out.index)
        is_new = out["direction"].eq("new").to_numpy()
        out.loc[is_new, "onset"] = new_onset[is_new]
    return out


def _climbs(sm: SeriesMatrix, at: pd.Timestamp, scored: pd.DataFrame) -> pd.Series:
    """Per series, when a climb that ran into the onset began (NaT when none did).

    A leak or a filling disk rises steadily for a while before it crosses the threshold, and
    its own past (an expanding baseline) rises with it, so it never "leaves" it. Walking back
    from the onset over the last :data:`BUILD_UP`, the climb is the run of bins (smoothed over
    three) that stayed at least :data:`CLIMB_IQRS` beyond the baseline's median, in the
    direction the series moved, and went further that way from each third of the run to the
    next; it counts from :data:`CLIMB_MIN_BINS` bins, and only when the series stayed beyond
    the baseline that way from the onset until its own (:func:`_held_until`).
    """
    times = sm.times
    pre = (times >= at - BUILD_UP) & (times < at)
    out = pd.Series(pd.NaT, index=scored.index, dtype=schema.TIME)
    if pre.sum() < CLIMB_MIN_BINS or scored.empty:
        return out
    cols = scored["series"].to_numpy()
    values = pd.DataFrame(sm.values[pre][:, cols])
    smooth = values.rolling(3, center=True, min_periods=1).median().to_numpy()
    sign = np.where(scored["direction"].eq("up").to_numpy(), 1.0, -1.0)
    base = scored["baseline"].to_numpy(dtype=float)
    scale = np.abs(base - scored["peak_value"].to_numpy(dtype=float)) / np.fmax(
        scored["score"].to_numpy(dtype=float), 1e-12
    )
    with np.errstate(invalid="ignore"):
        beyond = sign * (smooth - base) >= CLIMB_IQRS * scale
    # the trailing run of bins beyond, counted back from the last bin before the onset
    run = np.cumprod(beyond[::-1], axis=0).sum(axis=0)
    n = len(smooth)
    first = np.clip(n - run, 0, n - 1)
    cols_idx = np.arange(len(cols))
    ok = run >= CLIMB_MIN_BINS
    onsets = scored["onset"].to_numpy()
    for j in np.flatnonzero(ok):
        thirds = np.array_split(sign[j] * smooth[first[j] :, cols_idx[j]], 3)
        means = [part.mean() for part in thirds]
        ok[j] = means[0] < means[1] < means[2]  # a steady climb, not a plateau or a tail
        ok[j] &= _held_until(sm, cols[j], at, onsets[j], sign[j], CLIMB_IQRS * scale[j], base[j])
    out[ok] = times[pre][first[ok]]
    return out


def _held_until(
    sm: SeriesMatrix,
    col: int,
    at: pd.Timestamp,
    onset: object,
    sign: float,
    beyond: float,
    base: float,
) -> bool:
    """Whether series ``col`` stayed ``beyond`` its baseline's median ``base`` in the direction
    ``sign`` (smoothed over three bins) from ``at`` until its own onset: a climb runs without a
    break into the move, while a series that sat back at its baseline between them did
    something else before it."""
    if pd.isna(onset):
        return True
    span = (sm.times >= at) & (sm.times < pd.Timestamp(onset))
    if not span.any():
        return True
    values = pd.Series(sm.values[span, col]).rolling(3, center=True, min_periods=1).median()
    gap = sign * (values - base) < beyond
    return not bool(gap.fillna(False).any())


def _is_quantile(series: pd.DataFrame) -> np.ndarray:
    """Whether each series is a quantile (its name or its labels say so)."""
    text = series["metric"].astype(str) + " " + series["labels"].astype(str)
    return text.str.contains(_QUANTILE_RE).to_numpy()


def _expanding_onsets(sm: SeriesMatrix, threshold: float, min_periods: int) -> pd.Series:
    """Per series, the first bin that leaves the series' own past for two bins in a row."""
    if sm.values.size == 0:
        return pd.Series([], dtype=schema.TIME)
    frame = pd.DataFrame(sm.values)
    past = frame.shift(1).expanding(min_periods=min_periods)
    median = past.median().to_numpy()
    q25 = past.quantile(0.25).to_numpy()
    q75 = past.quantile(0.75).to_numpy()
    magnitude = np.nan_to_num(_quiet(np.nanmax, np.abs(sm.values), axis=0))
    scale = _floor(median, q75 - q25, magnitude[None, :])
    with np.errstate(invalid="ignore"):
        away = np.abs(sm.values - median) / scale >= threshold
    away &= np.isfinite(median)
    held = away[:-1] & away[1:]
    idx = np.argmax(held, axis=0)
    found = held.any(axis=0)
    onsets = pd.Series(sm.times[idx], dtype=schema.TIME)
    return onsets.where(found)


def detect_onset(
    times: pd.Series,
    weights: pd.Series | np.ndarray | None = None,
    window: object = "10min",
    gap: object = "5min",
) -> pd.Timestamp | None:
    """The start of the densest burst of anomaly times.

    The burst is the ``window`` holding the most weight; its start is walked back through
    earlier anomalies while each is within ``gap`` of the next, so a fault that builds up
    slowly is dated from its first sign, and a lone blip long before it is not.

    Parameters
    ----------
    times : Series of timestamps
        When each anomaly (series onset, event, log burst) began.
    weights : array-like, optional
        Weight of each anomaly (default 1).
    window, gap : duration
        Width of the burst and the largest pause inside one.

    Returns
    -------
    Timestamp or None
        ``None`` when there is no anomaly at all.

    Examples
    --------
    >>> t = pd.to_datetime(["2024-01-01T09:00Z", "2024-01-01T10:00Z", "2024-01-01T10:03Z",
    ...                     "2024-01-01T10:04Z", "2024-01-01T10:05Z"])
    >>> detect_onset(pd.Series(t))
    Timestamp('2024-01-01 10:00:00+0000', tz='UTC')
    """
    stamps = pd.Series(times).reset_index(drop=True)
    w = np.ones(len(stamps)) if weights is None else np.asarray(weights, dtype=float)
    keep = stamps.notna().to_numpy() & np.isfinite(w) & (w > 0)
    if not keep.any():
        return None
    ns = _ns(stamps[keep])
    w = w[keep]
    order = np.argsort(ns, kind="stable")
    ns, w = ns[order], w[order]
    width = _timedelta(window, "window").value
    pause = _timedelta(gap, "gap").value
    cum = np.concatenate(([0.0], np.cumsum(w)))
    ends = np.searchsorted(ns, ns + width, side="right")
    mass = cum[ends] - cum[np.arange(len(ns))]
    i = int(np.argmax(mass))
    while i > 0 and ns[i] - ns[i - 1] <= pause:
        i -= 1
    return pd.Timestamp(ns[i], tz="UTC")


def metric_onsets(sm: SeriesMatrix, threshold: float = 6.0) -> pd.Series:
    """Per series, when it first left its own past (NaT when it never did)."""
    min_periods = max(5, len(sm.times) // 10)
    return _expanding_onsets(sm, threshold, min_periods)


def anomalies(
    inv,
    at: object = None,
    baseline: object = None,
    horizon: object = None,
    threshold: float = 3.0,
    step: object = None,
    all_series: bool = False,
) -> pd.DataFrame:
    """Score every metric series after ``at`` against its baseline before it (BARO, NSigma).

    Parameters
    ----------
    inv : Investigation
        The investigation whose ``metrics`` are scored.
    at : timestamp, optional
        The alert or incident time. Without it the onset is found from the data
        (:func:`detect_onset` over the times the series left their own past).
    baseline : duration, optional
        How far before ``at`` the baseline reaches (default: everything before ``at``).
    horizon : duration, optional
        How far after ``at`` to look (default: to the end of the data).
    threshold : float
        Robust score (deviations in IQR-equivalent spreads: twice the baseline's median
        absolute deviation) from which a series is anomalous.
    step : duration, optional
        Time bin (default: the median sampling interval).
    all_series : bool
        Return every series, not only the anomalous ones (and the new and gone ones).

    Returns
    -------
    DataFrame
        One row per series, most anomalous first: ``series``, ``metric``, the key,
        ``labels``, ``onset`` (first time beyond the threshold, or first sample of a new
        series), ``began`` (when its climb into the onset began, which for a fault that builds
        up can be before ``at``, by up to :data:`BUILD_UP`; see :func:`_climbs`), ``peak``
        (time of the largest deviation), ``score`` (robust), ``nsigma``,
        ``direction`` (``up``, ``down``, ``new``: no baseline even from peers, ``gone``: no
        sample after ``at``), ``baseline`` (median), ``peak_value``, ``share`` (of samples
        after ``at`` beyond the threshold), ``base_share`` (of baseline samples beyond it: how
        often the series did this before), ``base_samples`` (how many baseline samples it
        has of its own; 0 when measured against its peers), ``base_reach`` (of its own
        baseline samples, the share as far out as the peak, the same way: how often it went
        this far before), ``post_samples`` (how many samples it has after ``at``), ``flat``
        (the baseline did not vary more than the floor: ``score`` is measured against the
        floor, 5% of the median or 0.1% of the series' largest value), ``bucketed`` (a
        quantile that sat on one value, exactly, for at least half its baseline: the point a
        histogram's quantile is interpolated to inside one bucket, so its scale is a bucket,
        taken as its own value: ``score`` counts its move in multiples of it), ``anomalous``,
        ``confirmed`` (NSigma agrees), ``baseline_from`` (``own``, ``peers``: the workload's
        other pods, ``node peers``: the other pods on its node, or ``peers' change``: its few
        samples before ``at`` times the other pods' change of the same metric at the same
        time). ``attrs["at"]`` and
        ``attrs["at_source"]`` say which time was used.

    Raises
    ------
    InvestigationError
        When ``at`` is not a timestamp, or a duration is not a positive duration.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
    >>> anomalies(inv, at="2024-05-14T08:52:00Z").head(3)  # doctest: +SKIP
    """
    sm = series_matrix(inv.metrics, step)
    if at is None:
        onsets = metric_onsets(sm)
        found = detect_onset(onsets)
        at_source = "detected from metric onsets"
        if found is None:
            start, end = inv.time_span()
            if start is None:
                return _empty_result(None, "no data")
            found = start + (end - start) / 2
            at_source = "middle of the data: no series left its past"
        at_ts = found
    else:
        at_ts = _timestamp(at, "at")
        at_source = "given"
    if sm.values.size == 0:
        return _empty_result(at_ts, at_source)
    lo = sm.times[0] if baseline is None else at_ts - _timedelta(baseline, "baseline")
    hi = sm.times[-1] if horizon is None else at_ts + _timedelta(horizon, "horizon")
    min_baseline = 3
    out = _scores(sm, at_ts, lo, hi, threshold, min_baseline)
    # a fault that builds up (a leak, a filling disk) climbs for a while before it crosses the
    # threshold: date it from the start of that climb, when it ran without a break into the
    # onset (a series that left its past and came back before the onset did something else);
    # a series beyond the threshold in a tenth of its baseline or more rises now and then, so a
    # rise before the onset is its habit, not a build-up
    steady = out["anomalous"] & (out["base_share"] < CLIMB_MAX_HABIT)
    climb = _climbs(sm, at_ts, out).where(steady)
    began = pd.concat([out["onset"], climb], axis=1).min(axis=1)
    out.insert(out.columns.get_loc("onset") + 1, "began", began)
    if not all_series:
        keep = out["anomalous"] | out["direction"].isin(["new", "gone"])
        out = out[keep]
    out = out.sort_values(["anomalous", "score"], ascending=[False, False], kind="stable")
    out = out.reset_index(drop=True)
    out.attrs["at"] = at_ts
    out.attrs["at_source"] = at_source
    out.attrs["step"] = sm.step
    return out


def _empty_result(at: pd.Timestamp | None, source: str) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series([], dtype=object) for c in _COLUMNS})
    out.attrs["at"] = at
    out.attrs["at_source"] = source
    return out
