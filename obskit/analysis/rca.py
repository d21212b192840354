"""Root-cause suspects: candidates ranked by the evidence against them, each rank explained.

:func:`suspects` gathers evidence after the onset ``at`` from every signal, keyed on the common
metadata key:

- **metrics**: series that moved against their baseline (:func:`~obskit.analysis.anomalies.
  anomalies`, BARO's robust score with NSigma as a cross-check), and kube-state-metrics
  termination reasons (``OOMKilled``) that appear. A series counts less when it was beyond
  the threshold as often in its baseline (it spikes now and then), when its baseline went as
  far as its peak often enough to get there again by chance in as many samples (a spike it
  reaches every few minutes is not news), when it is a client-side
  measurement (a caller's view of what it calls) or a rise in the bytes a pod receives (what
  its callers send it), and when it is a server-side latency whose rise the pod's own calls
  out match (exclusive time: it was waiting, not working). A quantile read off histogram
  buckets moves in whole buckets and is measured in multiples of its value
  (:func:`~obskit.analysis.anomalies.anomalies`, ``bucketed``). A call edge's latency (a
  service mesh's series with ``source_workload`` and ``reporter`` labels, keyed on the callee)
  timed by the caller's proxy rises with the callee's time and with the path between them;
  the part the callee's own proxy did not see is on the path, and goes to the end common to
  the edges that slowed that way (a caller whose other calls slowed too, a callee whose other
  callers' calls did), evenly when neither's did (:func:`_edge_paths`);
- **events**: OOMKilled, BackOff, Unhealthy, Evicted, FailedScheduling, node pressure and
  readiness, rollouts (``ScalingReplicaSet``) and image changes; an event the same object also
  had before the onset counts for less;
- **logs**: templates new in the incident and bursts of warning-or-error lines
  (:mod:`~obskit.analysis.logpatterns`);
- **security**: Falco alerts and detections (events whose ``source`` is ``falco`` or
  ``detection``) and ``exec``/``attach`` into a pod from the audit log;
- **trace latency**: in logs that carry ``trace_id`` and ``span_id``, call edges whose gap
  between the caller's and the callee's lines grew after the onset
  (:func:`~obskit.analysis.logpatterns.trace_latency`); a slowed edge counts for both ends,
  mostly for the one that is common to more slowed edges (the callee when there is one);
- **dependency hints**: a caller's new error lines that name another workload or service
  (``upstream checkout request failed``) count for the one named, and against the caller.

Then what the per-signal anchors (BARO, log anomaly detectors) lack:

- **hierarchy**: a node whose own signals moved (pressure, conditions, node metrics) before its
  pods of several workloads explains them; a workload whose rollout preceded the trouble of its
  new pods, or whose pods are mostly in trouble together, explains them. ``level="auto"`` puts
  each candidate at the level that explains its evidence;
- **who takes a node's rise**: a node's CPU or memory rise is split by the pods on it, and the
  pod that takes most of it (a batch Job started at the onset, with no baseline of its own) is
  the suspect, with the node's rise as its evidence; the node is explained by it;
- **time order**: among strong candidates, the one whose first anomaly came first gets a bonus
  that fades with the lag; followers do not. A metric's climb before the onset dates a
  candidate only when it is one of its strong moves (:data:`CLIMB_SHARE`);
- every row carries its evidence and a one-sentence ``reason``;
- how sure: every row carries its ``margin`` over the next suspect, and the ranking a
  ``verdict``: ``clear`` when the top suspect leads the next by :data:`CLEAR_MARGIN` of its
  score, on its own evidence too (not on a call edge only its caller's proxy timed, nor on
  moves of a series that varied before which NSigma does not confirm), else ``ambiguous``
  between the suspects that close (:func:`conclusion`).

Code-level faults show in logs: templates and exceptions new to a pod, known error templates that
surge, and, in trace-correlated lines, the pod whose error comes first in a trace (the callers that
log it after it only report it), and a step of a pod's own code path that stopped following the
step before it in its traces (a swallowed exception, a wrong value that ends requests early; the
traces where the pod says a call failed are left out). A pod whose incident errors mostly say that
a call it made failed ("No instances available for X", "500 Internal Server Error", a client
exception class), of a callee that did not keep answering others, reports its callees' trouble: its
log evidence counts half, and it begins only the traces its error travelled up from. An error
template a pod logged before the onset only in bursts that began after a quiet stretch (earlier
incidents: a repeat of the same fault, logs kept only around alerts) is new again: the baseline is
the pod's quiet state. A pod with no log line before the onset has no baseline of its own: its
share of error lines is compared with its peers' (the workload's other pods, else every other pod),
and it has no "burst". A metric family that moved the same way in a third or more of the pods moved
with the load, and counts less.

Each candidate is a :class:`Candidate`; every weight the scores use is a module constant with a
comment saying why (``*_WEIGHT``, ``*_SHARE``, ``*_CAP``, :data:`CHANGE_BONUS`, ...). The steps
of :func:`suspects` are small functions called in order: arguments checked, the incident's time,
the evidence (:func:`evidence`), the pod that takes each node's rise (:func:`_rise_takers`),
the pod candidates, what callees explain, the level the
candidates are named at (:func:`_at_level`), the time order, the ranking (:func:`_result`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from obskit import schema
from obskit._time import as_duration, as_utc
from obskit.analysis.anomalies import (
    BUILD_UP,
    anomalies,
    detect_onset,
    metric_onsets,
    series_matrix,
)
from obskit.analysis.logpatterns import (
    broken_sequences,
    call_failures,
    earlier_incidents,
    error_bursts,
    error_origins,
    log_templates,
    new_exceptions,
    new_templates,
    peer_errors,
    template_surges,
    trace_edges,
    trace_latency,
)
from obskit.errors import InvestigationError

__all__ = [
    "CLEAR_MARGIN",
    "LEVELS",
    "call_graph",
    "conclusion",
    "evidence",
    "find_onset",
    "metric_family",
    "suspects",
]

#: The levels a suspect can be named at, coarse to fine, and ``auto``.
LEVELS = ("node", "workload", "pod", "container", "auto")

_KEY = list(schema.KEY)
_EVIDENCE_COLUMNS = [*_KEY, "kind", "signal", "time", "strength", "text"]

#: Kubernetes event reasons and how strongly each implicates the object it is about.
EVENT_WEIGHTS: dict[str, float] = {
    "OOMKilled": 3.0,
    "OOMKilling": 3.0,
    "Evicted": 2.5,
    "BackOff": 2.0,
    "CrashLoopBackOff": 2.0,
    "Failed": 1.5,
    "FailedMount": 1.5,
    "FailedCreatePodSandBox": 1.5,
    "ErrImagePull": 2.0,
    "ImagePullBackOff": 2.0,
    "Unhealthy": 1.5,
    "ProbeWarning": 0.5,
    "FailedScheduling": 1.0,
    "Preempted": 1.0,
    "Killing": 0.3,
    "BackoffLimitExceeded": 1.0,
    "DeadlineExceeded": 1.0,
    "FailedCreate": 1.0,
    "NodeHasDiskPressure": 3.0,
    "NodeHasMemoryPressure": 3.0,
    "NodeHasPIDPressure": 3.0,
    "NodeNotReady": 3.0,
    "NodeNotSchedulable": 1.0,
    "EvictionThresholdMet": 2.5,
    "FreeDiskSpaceFailed": 2.0,
    "ImageGCFailed": 1.5,
    "SystemOOM": 3.0,
    "Rebooted": 3.0,
    "KubeletNotReady": 3.0,
    "NetworkUnavailable": 3.0,
}
#: Reasons that say something about the node itself (not one container on it).
NODE_REASONS = frozenset(
    {
        "NodeHasDiskPressure",
        "NodeHasMemoryPressure",
        "NodeHasPIDPressure",
        "NodeNotReady",
        "EvictionThresholdMet",
        "FreeDiskSpaceFailed",
        "ImageGCFailed",
        "SystemOOM",
        "Rebooted",
        "KubeletNotReady",
        "NetworkUnavailable",
    }
)
#: Reasons that mark a change made to a workload (a rollout, a new image).
CHANGE_REASONS = frozenset({"ScalingReplicaSet", "DeploymentRollback"})
_TERMINATION_WEIGHTS = {
    "OOMKilled": 3.0,
    "Error": 1.0,
    "ContainerCannotRun": 2.0,
    "CrashLoopBackOff": 2.0,
    "ImagePullBackOff": 2.0,
    "ErrImagePull": 2.0,
    "CreateContainerConfigError": 2.0,
}
#: A Kubernetes Warning event whose reason is not in :data:`EVENT_WEIGHTS` still counts this much.
UNKNOWN_WARNING_WEIGHT = 0.5
#: An event on a node (no pod, no workload) whose reason is not about the node itself (not in
#: :data:`NODE_REASONS`) counts this share of its weight: it is about something on the node.
NODE_EVENT_ELSEWHERE_WEIGHT = 0.3
#: A kernel OOM kill reported on the node for a cgroup is about one container, not the node.
CGROUP_OOM_WEIGHT = 0.5
#: A change made to a workload (a rollout, a rollback, a patched Deployment) near the onset.
CHANGE_WEIGHT = 2.0
#: An ``exec`` or ``attach`` into a pod, from the audit log.
EXEC_WEIGHT = 2.0
#: A Falco alert or detection whose severity is not in the severity table.
SECURITY_DEFAULT_WEIGHT = 2.0
#: An event the same object also had before the onset is a chronic condition, not this
#: incident: it counts this share of its weight.
CHRONIC_WEIGHT = 0.3
#: A workload explains its pods when at least two of them, and at least this share of its pods,
#: are in trouble together.
WORKLOAD_TROUBLED_SHARE = 0.5
_SECURITY_SEVERITY = {"critical": 4.0, "error": 3.0, "warning": 2.0, "notice": 1.0}
_KIND_WEIGHTS = {
    "metric": 1.0,
    "event": 1.0,
    "termination": 1.0,
    "log": 1.0,
    "security": 1.3,
    "change": 1.0,
    "dependency": 1.0,
    "trace": 1.0,
    "origin": 1.0,
    "sequence": 1.0,
}
#: Weight of a client-side metric (a caller's view of the latency or errors of what it calls,
#: e.g. ``PodClientLatencyP99``, ``grpc_client_handling_seconds``): a symptom, not a cause.
CLIENT_WEIGHT = 0.4
#: Weight of a rise in the bytes a pod receives (``NetworkReceiveBytes``,
#: ``container_network_receive_bytes_total``): what its callers send it, their doing (more
#: calls, retries, bursts of delayed calls arriving at once) rather than its own, as a
#: client-side measurement is its callees'. A drop in what it receives or sends, and a rise
#: in what it sends, stay its own.
INBOUND_WEIGHT = CLIENT_WEIGHT
#: A caller whose callee (directly or further down the call graph) has at least this share of
#: its own score is explained by it: its score is multiplied by :data:`EXPLAINED_WEIGHT`.
EXPLAINED_SHARE = 0.5
EXPLAINED_WEIGHT = 0.5
#: A metric family that moved the same way in at least this share of the pods that report it
#: (and in at least :data:`COMMON_MIN_PODS` of them) moved with the traffic or the platform, not
#: because of one pod: an SRE who sees every service's received bytes rise at once looks at the
#: load, not at the first service on the list. A third: more than a pod's callers and callees
#: in a typical call graph, less than "everything".
COMMON_SHARE = 1 / 3
COMMON_MIN_PODS = 3
#: Weight of a move shared that widely: a symptom, like a client-side measurement.
COMMON_WEIGHT = 0.4
#: A pod whose error lines mostly come after another pod's in the same traces reports an error
#: that began elsewhere: its log evidence counts this much (as a caller naming its callee).
REPORTED_WEIGHT = 0.5
#: A metric's move of this many IQRs counts 1, and each doubling of (IQRs + this) counts 1 more
#: (:func:`_metric_strength`): a 3-IQR move is a plain signal, a 90-IQR one five times that.
METRIC_IQRS_UNIT = 3.0
#: The most one metric's move counts, however far it went: one broken series cannot outweigh
#: every other kind of evidence.
METRIC_CAP = 5.0
#: A move whose anomaly detector did not confirm it (one method of several saw it) counts this
#: much.
UNCONFIRMED_WEIGHT = 0.6
#: A surge or burst of log lines counts log(1 + Poisson score) / this (:func:`_log_strength`): a
#: score of about 3.5 counts 1 ...
LOG_SCORE_SCALE = 1.5
#: ... and at most this (a score of about 90): below a metric's :data:`METRIC_CAP`, as log lines
#: are often a symptom logged by a caller.
LOG_CAP = 3.0
#: A surging template of warning (or lower) level counts this much of an error one.
WARNING_WEIGHT = 0.5
#: A pod at least this share of whose incident error lines say that a call it made failed
#: ("No instances available for X", "500 Internal Server Error", a client exception class) is
#: reporting its callees' trouble, most of the time: its log evidence counts
#: :data:`REPORTED_WEIGHT`. Half: more of its errors report than do not.
CALL_REPORT_SHARE = 0.5
#: The most a pod's errors that begin traces can count (a metric's move counts at most 5).
ORIGIN_CAP = 4.0
#: A workload named in callers' errors ("No instances available for X") that kept logging after
#: the onset with no new or surging error of its own answered other calls: the name is a weak
#: hint (the caller's own call path may be what fails), worth this much of a plain hint.
HEALTHY_NAMED_WEIGHT = 0.3
#: The most a broken step of a pod's own code path counts (:func:`_sequence_evidence`), on a
#: metric's scale: like an error origin, it is the pod's own doing, and below a metric's cap.
SEQUENCE_CAP = ORIGIN_CAP
_CLIENT_RE = re.compile(r"client", re.IGNORECASE)
_TRACE_IDS_RE = re.compile(r"\b(?:TraceID|SpanID|trace_id|span_id)[:=] ?<\*>\s*", re.IGNORECASE)
_LEVEL_WORDS = frozenset({"TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "FATAL"})
_INBOUND_RE = re.compile(r"receive|rx_bytes", re.IGNORECASE)
_SIDE_RE = re.compile(r"client|server", re.IGNORECASE)
_LATENCY_RE = re.compile(r"latency|duration|response_time|handling_seconds", re.IGNORECASE)
#: Metrics whose trouble travels up a call graph (a slow or failing callee makes its callers
#: slow or failing); resource metrics (CPU, memory, disk, bytes) stay where they are.
_PROPAGATES_RE = re.compile(
    r"latency|duration|response_time|seconds\.p\d|success|error|fail|5xx|status_code|timeout",
    re.IGNORECASE,
)
_FAMILY_SUBS = [
    (re.compile(r"\([^)]*\)"), ""),  # units: CpuUsage(m)
    (re.compile(r"\.rate\w*$|\.p\d+$|\.avg\w*$|\.max\w*$"), ""),  # obskit expression suffixes
    (re.compile(r"(?:_bucket|_sum|_count|_total)$"), ""),
    (re.compile(r"[._]?p\d{2,3}(?:\.\d+)?$"), ""),  # percentiles: LatencyP99, latency_p95
    (re.compile(r"[._]?rate$"), ""),  # CpuUsageRate(%) is CpuUsage(m) as a share
]
#: The top suspect is called ``clear`` when its score leads the next suspect's by at least this
#: share of its own score (1/3: the top is half again as strong as the runner-up, the SRE's "clearly
#: ahead", not a close call that one more piece of evidence could flip). Otherwise the ranking is
#: ``ambiguous`` between the suspects within that share of the top. Not fitted to any data set:
#: ``benchmarks/rca_nezha.py`` reports what this default gives, and what a threshold chosen on
#: one system gives on the other.
CLEAR_MARGIN = 1 / 3
#: Credit for a kind's further pieces of evidence beyond its strongest, per log of their sum:
#: ten weak log lines add to one strong one, but never outweigh a second strong signal.
EXTRA_EVIDENCE_WEIGHT = 0.5
#: A pod or workload whose own errors name another suspect (a caller reporting its callee) keeps
#: this much of its score: its trouble is most likely what it reports, not what it causes.
NAMES_CALLEE_WEIGHT = 0.6
#: A workload's score is its strongest pod's, plus this share of its pods' mean score (trouble
#: in several pods makes the workload more likely than one pod) ...
WORKLOAD_SPREAD_WEIGHT = 0.3
#: ... plus this much when a change (a rollout, a rollback) was made to it around the onset.
CHANGE_BONUS = 2.0
#: Candidates below this share of the best pod's score are too weak to make their node or
#: workload the explanation.
FLOOR_SHARE = 0.25
#: A node's own evidence must score at least this (a clear event or move, not noise) to explain
#: the pods on it.
NODE_MIN_SCORE = 1.5
#: A node's trouble still "came first" when it began within this many sampling steps after its
#: first troubled pod's (samples are scraped at different moments).
NODE_LEAD_STEPS = 2
#: A node that explains its pods gains this share of their summed score, capped at
#: :data:`NODE_PODS_CAP_FACTOR` times its own score plus :data:`NODE_PODS_CAP_OFFSET`, so that
#: many pods in trouble cannot outrank the node's own evidence by themselves.
NODE_PODS_WEIGHT = 0.5
NODE_PODS_CAP_FACTOR = 3
NODE_PODS_CAP_OFFSET = 3
#: A node named only because ``level="node"`` asked for nodes gains this share of its pods' score.
NODE_LISTED_WEIGHT = 0.3
#: Only candidates within this share of the top score take part in the time order: a weak
#: candidate that moved first is not a cause because it moved first.
TIME_ORDER_SHARE = 0.3
#: A metric's climb before the onset dates an entity's trouble only when the move is at least
#: this share of the entity's strongest metric move: a leak's climb is among its pod's strong
#: moves, while a faint drift of one of many series (a traffic rate sagging a little before a
#: caller's errors) is not when the trouble began. The same share as :data:`TIME_ORDER_SHARE`.
CLIMB_SHARE = TIME_ORDER_SHARE
#: The candidate that went anomalous first gains this share of its score; later ones gain less,
#: fading with their lag over :data:`TIME_ORDER_TAU` (or three sampling steps, if longer).
TIME_ORDER_BONUS = 0.3
TIME_ORDER_TAU = pd.Timedelta("5min")
TIME_ORDER_TAU_STEPS = 3
#: A pod that takes at least this share of its node's CPU or memory rise (the rise of the pods
#: on the node, summed) takes most of it: the rise is its, and the node only hosts it.
TAKER_SHARE = 0.5
#: ... and whose rise is at least this share of what the node's pods used before the onset, so
#: that a pod taking most of a rise that is only noise (means that moved by a hair) is not named.
TAKER_MIN_RISE = 0.1
#: The pod taking the rise gets the node's rise evidence scaled by its share; the node keeps
#: this much of the part the pod takes (the node is where the trouble shows, not its cause).
TAKEN_NODE_WEIGHT = 0.2
#: Node metrics whose rise is split into the pods on the node, by resource.
_RESOURCE_RES = {
    "cpu": re.compile(r"cpu", re.IGNORECASE),
    "memory": re.compile(r"mem", re.IGNORECASE),
}
_LEAD = pd.Timedelta("15min")  # changes this long before the onset can still be its cause
_GRACE = pd.Timedelta("2min")  # symptoms this long before the onset are still the incident's


# --- evidence ---------------------------------------------------------------------------------


def _is_client(metric: pd.Series) -> pd.Series:
    """Whether each metric name is a client-side measurement (a caller's view of its callees)."""
    return metric.astype(str).str.contains(_CLIENT_RE)


def metric_family(metric: str) -> str:
    """The family of a metric name: percentiles, units and rate/share variants folded together.

    Series of one family in one pod move together (P90, P95 and P99 of one latency; CPU in
    millicores and as a share of the limit), so a pod's metric evidence counts each family once.

    Examples
    --------
    >>> [metric_family(m) for m in ["PodClientLatencyP99(s)", "CpuUsageRate(%)", "CpuUsage(m)",
    ...     "http_request_duration_seconds.p99", "container_cpu_usage_seconds_total.rate5m"]]
    ['podclientlatency', 'cpuusage', 'cpuusage', 'http_request_duration_seconds', \
'container_cpu_usage_seconds']
    """
    name = str(metric).lower()
    for pattern, repl in _FAMILY_SUBS:
        name = pattern.sub(repl, name)
    return name


def _key_of(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[_KEY].astype("object").where(frame[_KEY].notna(), None)


def _surely(k: np.ndarray, n: np.ndarray, z: float = 1.645) -> np.ndarray:
    """The share ``k / n`` a series surely has: the lower end of its 95% (one-sided) Wilson
    interval, so one spike in ten samples is not read as a 10% habit.

    >>> _surely(np.array([0, 1, 18]), np.array([10, 10, 80])).round(3).tolist()
    [0.0, 0.023, 0.158]
    """
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    p = np.asarray(k, dtype=float) / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.maximum(0.0, (centre - margin) / (1 + z2 / n))


def _latency_twin(metric: str) -> str | None:
    """A latency metric's name with its client/server side left out (``None``: no side).

    ``PodServerLatencyP90(s)`` and ``PodClientLatencyP90(s)``, or
    ``grpc_server_handling_seconds`` and ``grpc_client_handling_seconds``, are one pod's time
    answering calls and its time waiting on the calls it makes.
    """
    if not _LATENCY_RE.search(metric) or not _SIDE_RE.search(metric):
        return None
    return _SIDE_RE.sub("", metric).lower()


def _covered_by_calls(hit: pd.DataFrame, client: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per server-side latency rise, the share of it its pod's calls out rose too.

    A pod whose answers slowed by 220 ms while its calls to others slowed by 220 ms spent no
    more time on its own work: the rise is time spent waiting (exclusive time, as tracing tools
    compute it per span). Compared within one pod, between the server and client side of one
    latency metric (:func:`_latency_twin`), at their peaks after the onset, in the metric's
    own unit. Returns the share (0 to 1) and the twin's name per row ("" when none).
    """
    covered = np.zeros(len(hit))
    twins = [""] * len(hit)
    if hit.empty:
        return covered, twins
    metric = hit["metric"].astype(str).tolist()
    rise = hit["peak_value"].to_numpy(dtype=float) - hit["baseline"].to_numpy(dtype=float)
    up = hit["direction"].eq("up").to_numpy()
    pods = [tuple(map(str, row)) for row in hit[_KEY].itertuples(index=False)]
    calls: dict[tuple, tuple[float, str]] = {}
    for pod, m, r, u, c in zip(pods, metric, rise, up, client, strict=True):
        twin = _latency_twin(m) if c and u and r > 0 else None
        if twin is not None and r > calls.get((pod, twin), (0.0, ""))[0]:
            calls[(pod, twin)] = (r, m)
    for i, (pod, m, r, u, c) in enumerate(zip(pods, metric, rise, up, client, strict=True)):
        twin = _latency_twin(m) if not c and u and r > 0 else None
        if twin is not None and (pod, twin) in calls:
            waited, name = calls[(pod, twin)]
            covered[i] = min(1.0, waited / r)
            twins[i] = f"{name} +{_with_unit(waited, metric_unit(name))}"
    return covered, twins


#: The labels a service mesh puts on its request metrics (Istio's
#: ``istio_request_duration_milliseconds``): the caller's workload, the callee's, and whose
#: proxy measured the call (``source``: the caller's, ``destination``: the callee's).
_EDGE_CALLER, _EDGE_CALLEE, _EDGE_REPORTER = "source_workload", "destination_workload", "reporter"
#: Labels Istio sets differently by reporter on one call edge (the caller's proxy reports
#: ``connection_security_policy="unknown"``, and its own response flags): left out when the
#: caller-side and the callee-side series of an edge are paired.
_EDGE_BY_REPORTER = frozenset({_EDGE_REPORTER, "connection_security_policy", "response_flags"})
#: A call edge whose rise, as the caller's proxy measured it, the callee's own proxy saw less
#: than this share of slowed on the path between them (the network, either end's proxy), not
#: inside the callee: most of the time it gained was spent where the callee cannot see it.
PATH_SHARE = 0.5


def _label_map(text: str) -> dict[str, str]:
    """``{"reporter": "source", ...}`` from a series' ``"reporter=source,..."`` label text."""
    return dict(p.split("=", 1) for p in str(text).split(",") if "=" in p)


def _edge_series(an: pd.DataFrame) -> pd.DataFrame:
    """The call-edge series among ``an``'s rows: ``caller``, ``callee`` (workloads),
    ``reporter`` and ``edge`` (the series' identity with its reporter left out, so one edge's
    caller-side and callee-side series share it), indexed like ``an``."""
    columns = ["caller", "callee", "reporter", "edge"]
    if an.empty or "labels" not in an:
        return pd.DataFrame(columns=columns)
    labels = an["labels"].astype(str)
    maybe = labels.str.contains(_EDGE_CALLER, regex=False) & labels.str.contains(
        _EDGE_REPORTER, regex=False
    )
    rows = []
    for i, text, metric, pod, workload in zip(
        an.index[maybe],
        labels[maybe],
        an.loc[maybe, "metric"].astype(str),
        an.loc[maybe, "pod"].astype("object"),
        an.loc[maybe, "workload"].astype("object"),
        strict=True,
    ):
        found = _label_map(text)
        reporter = found.get(_EDGE_REPORTER)
        callee = found.get(_EDGE_CALLEE) or workload
        if reporter not in ("source", "destination") or not found.get(_EDGE_CALLER) or not callee:
            continue
        rest = ",".join(f"{k}={v}" for k, v in sorted(found.items()) if k not in _EDGE_BY_REPORTER)
        rows.append((i, found[_EDGE_CALLER], str(callee), reporter, f"{metric}|{pod}|{rest}"))
    out = pd.DataFrame(rows, columns=["index", *columns])
    return out.set_index("index").rename_axis(None)


def _edge_paths(an: pd.DataFrame, hit: pd.DataFrame, strength: np.ndarray) -> tuple:
    """Where the time a call edge gained went, by its two ends (the callee, the caller).

    An edge's latency reported by the caller's proxy (``reporter=source``) is the callee's
    time plus the path between them; the callee's proxy (``reporter=destination``) sees only
    the callee's. The share of the caller-side rise the callee-side series rose too (at their
    peaks, in the metric's unit; none when it did not move) is the callee's own; the rest
    is on the path, and its side is the end common to the edges that slowed on the path
    (:func:`_path_side`): a caller whose other calls slowed that way too is where the delay
    is (its network, its pod), a callee whose calls from its other callers did is; an end
    whose other edges stayed fast is not; a single slowed edge between two ends alike is
    split evenly. Path time does not travel up the call graph (a callee's network delay does
    not lengthen its callers' other calls), so whether the callers are related does not
    matter. An edge with no callee-side series is left as it is.

    Returns, per ``hit`` row, the factor its strength keeps, a note ("" when none) and whether
    it rests on the caller's measurement alone (a caller-side series with no callee-side
    twin, or one mostly on a path whose side no other edge decides); and evidence rows for
    the callers (their share of the path time).
    """
    keep = np.ones(len(hit))
    notes = [""] * len(hit)
    alone = np.zeros(len(hit), dtype=bool)
    empty = pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    edges = _edge_series(an)
    if edges.empty:
        return keep, notes, alone, empty
    known = edges[["caller", "callee"]].drop_duplicates()
    fan_out = known.groupby("caller")["callee"].nunique()
    fan_in = known.groupby("callee")["caller"].nunique()
    rise = (an["peak_value"] - an["baseline"]).where(
        an["anomalous"].astype(bool) & an["direction"].eq("up"), 0.0
    )
    callee_side = edges[edges["reporter"] == "destination"]
    seen = dict(zip(callee_side["edge"], rise.loc[callee_side.index], strict=True))
    pos = {ix: j for j, ix in enumerate(hit.index)}
    slowed = []  # (hit position, caller, callee, covered)
    for ix, rec in edges[edges["reporter"] == "source"].iterrows():
        j = pos.get(ix)
        if j is None or rise.loc[ix] <= 0:
            continue
        if rec["edge"] not in seen:  # no callee-side series to tell the path from the callee
            alone[j] = True
            continue
        covered = float(np.clip(seen[rec["edge"]] / rise.loc[ix], 0.0, 1.0))
        slowed.append((j, rec["caller"], rec["callee"], covered))
    on_path = pd.DataFrame(
        [(a, b) for _, a, b, c in slowed if c < PATH_SHARE], columns=["caller", "callee"]
    ).drop_duplicates()
    n_out = on_path.groupby("caller")["callee"].nunique()
    n_in = on_path.groupby("callee")["caller"].nunique()
    callers = []
    for j, caller, callee, covered in slowed:
        this = int(covered < PATH_SHARE)  # this edge among its ends' slowed ones: leave it out
        to_callee = _path_side(
            _others(n_out.get(caller, 0) - this, fan_out.get(caller, 0)),
            _others(n_in.get(callee, 0) - this, fan_in.get(callee, 0)),
        )
        keep[j] = covered + (1.0 - covered) * to_callee
        alone[j] = covered < PATH_SHARE and to_callee == 0.5
        if covered >= 0.95:  # next to nothing on the path: nothing to say or to share
            continue
        notes[j] = (
            f"timed by the caller's proxy; {callee}'s own proxy saw {covered:.0%} of the rise, "
            f"the rest is between the pods (network, proxies): {to_callee:.0%} of it counted "
            f"against {callee}"
        )
        part = strength[j] * (1.0 - covered) * (1.0 - to_callee)
        callers.append((j, caller, callee, part, n_out.get(caller, 0), fan_out[caller]))
    return keep, notes, alone, _caller_rows(an, hit, callers)


def _others(slowed: int, edges: int) -> float | None:
    """The share of an end's other edges (this one left out) that slowed on the path; ``None``
    when it has no other edge, which tells nothing about that end."""
    return slowed / (edges - 1) if edges >= 2 else None


def _path_side(caller_others: float | None, callee_others: float | None) -> float:
    """The share of an edge's path time put on its callee, from the share of the caller's
    other calls and of the callee's other callers' calls that slowed on the path too (``None``:
    that end has no other edge). An end whose other edges stayed fast is not where the delay
    is; both ends alike (or neither known) split it evenly."""
    if caller_others is None and callee_others is None:
        return 0.5
    if caller_others is None:
        return float(callee_others)
    if callee_others is None:
        return 1.0 - float(caller_others)
    if caller_others + callee_others == 0:
        return 0.5
    return float(callee_others / (caller_others + callee_others))


def _caller_rows(an: pd.DataFrame, hit: pd.DataFrame, callers: list[tuple]) -> pd.DataFrame:
    """Evidence for the callers' share of their edges' path time, on the caller's one pod (a
    caller workload of several pods gets none: no single pod to name)."""
    if not callers:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    pods = an.loc[an["pod"].notna(), _KEY].astype("object").drop_duplicates("pod")
    single = pods.dropna(subset=["workload"]).drop_duplicates("workload", keep=False)
    single = single.set_index("workload")
    rows = []
    for j, caller, callee, share, slowed, fan in callers:
        if caller not in single.index or share <= 0:
            continue
        rec = hit.iloc[j]
        key = single.loc[caller].to_dict()
        rows.append(
            {
                **{c: key.get(c) for c in _KEY if c != "workload"},
                "workload": caller,
                "container": None,
                "kind": "metric",
                # its own family, and not one that travels up the call graph: a slow path out
                # of a pod is its network's, not something its callees cause
                "signal": "slow call path",
                "time": rec["began"],
                "strength": share,
                "text": f"its calls to {callee} slowed between the pods: its own proxy timed "
                f"them from {rec['baseline']:.3g} to {rec['peak_value']:.3g}"
                f"{metric_unit(str(rec['metric']))} ({rec['metric']}), {callee}'s own proxy "
                f"saw less of it (its calls to {slowed} of its {fan} callees slowed that way)",
            }
        )
    return pd.DataFrame(rows, columns=_EVIDENCE_COLUMNS)


#: Units told by a metric's name: a Prometheus suffix (before a ``.rate5m`` or ``.p99`` of
#: obskit's), or a unit in parentheses as some exporters write it (``PodServerLatencyP99(s)``).
_NAME_UNITS = (
    (re.compile(r"cpu.*_seconds_total\.rate"), " cores"),
    (re.compile(r"_seconds_total\.rate"), " s/s"),
    (re.compile(r"_bytes_total\.rate"), " B/s"),
    (re.compile(r"_total\.rate"), "/s"),
    (re.compile(r"_seconds(?:\.|$)"), " s"),
    (re.compile(r"_bytes(?:\.|$)"), " B"),
    (re.compile(r"\(s\)$"), " s"),
    (re.compile(r"\(ms\)$"), " ms"),
    (re.compile(r"\(%\)$"), "%"),
    (re.compile(r"\(Mi\)$"), " MiB"),
)


def metric_unit(metric: str) -> str:
    """The unit a value of ``metric`` is in, as a suffix ("" when its name does not say).

    Examples
    --------
    >>> metric_unit("container_cpu_usage_seconds_total.rate5m"), metric_unit("MemoryUsage(Mi)")
    (' cores', ' MiB')
    """
    for pattern, unit in _NAME_UNITS:
        if pattern.search(metric):
            return unit
    return ""


_BINARY = ("B", "KiB", "MiB", "GiB", "TiB")


def _with_unit(value: float, unit: str) -> str:
    """A value with its unit; bytes in KiB, MiB or GiB rather than powers of ten."""
    if unit in (" B", " B/s") and np.isfinite(value):
        step = 0
        while abs(value) >= 1024 and step < len(_BINARY) - 1:
            value, step = value / 1024, step + 1
        return f"{value:.3g} {_BINARY[step]}{unit[2:]}"
    return f"{value:.3g}{unit}"


def _metric_text(
    name: str,
    direction: str,
    score: float,
    baseline: float,
    peak: float,
    nsigma: float,
    flat: bool,
    peers: object,
    habit: float,
    client: bool,
    waited_on: str,
    common: bool = False,
    bucketed: bool = False,
    inbound: bool = False,
    on_path: str = "",
    reached: float = 0.0,
    confirmed: bool = True,
    unit: str = "",
) -> str:
    """One sentence for a series that moved: from what to what, how far that is against the
    spread it had, and what weakens it."""
    before, after = _with_unit(baseline, unit), _with_unit(peak, unit)
    values = f"from {before} to {after}"
    notes = []
    if bucketed:  # its scale is a histogram bucket, not a spread it had
        head = f"{name} {direction} from {before}, where it sat for most of its baseline,"
        head += f" to {after} ({peak / baseline if baseline else np.inf:.1f}x)"
    elif flat and peers == "peers' change":  # the other pods changed alike, to the floor
        head = f"{name} {direction} {values}"
    elif flat:  # no spread of its own: a count of IQRs would only measure the floor
        head = f"{name} {direction} from {before}, where it sat for most of its baseline,"
        head += f" to {after}"
    else:
        head = f"{name} {direction} {values}, {score:.1f} times its usual spread"
        sd = f"{nsigma:.1f} standard deviations"
        notes.append(sd if confirmed else f"{sd}: too few for the second detector, NSigma")
    if peers == "peers":
        notes.append("baseline from peer pods")
    elif peers == "node peers":
        notes.append("baseline from the other pods on its node")
    elif peers == "peers' change":
        notes.append(
            "its series began just before the onset: measured against how far the other "
            "pods' same metric moved"
        )
    if habit >= 0.1:
        notes.append(f"as unusual in {habit:.0%} of its baseline too")
    if reached >= 0.1:
        notes.append(f"its baseline reached this peak often: {reached:.0%} likely by chance")
    if client:
        notes.append("client side: a symptom of what it calls")
    if waited_on:
        notes.append(f"its calls out slowed as much ({waited_on}): waiting on them")
    if common:
        notes.append("it moved the same way in many pods at once: the load, not this pod")
    if bucketed:
        notes.append("a quantile read off histogram buckets: counted in multiples of its value")
    if inbound:
        notes.append("what its callers send it: their doing as much as its own")
    if on_path:
        notes.append(on_path)
    return head + (f" ({'; '.join(notes)})" if notes else "")


def _common_moves(an: pd.DataFrame, hit: pd.DataFrame) -> np.ndarray:
    """Per anomalous series, whether its metric family moved the same way in many pods at once
    (at least :data:`COMMON_SHARE` of the pods that report the family, and at least
    :data:`COMMON_MIN_PODS` of them): a move with the load, not a pod's own trouble. Latency
    and error metrics are left out: they travel up the call graph from one cause."""
    if hit.empty:
        return np.zeros(0, dtype=bool)
    pods = an["pod"].astype("object")
    family = an["metric"].astype(str).map(_family_cached)
    total = pd.Series(pods.to_numpy()).groupby(family.to_numpy()).nunique()
    hit_family = hit["metric"].astype(str).map(_family_cached).to_numpy()
    direction = hit["direction"].astype(str).to_numpy()
    moved = (
        pd.DataFrame({"f": hit_family, "d": direction, "p": hit["pod"].astype("object").to_numpy()})
        .dropna()
        .groupby(["f", "d"])["p"]
        .nunique()
    )
    n_moved = np.array(
        [moved.get((f, d), 0) for f, d in zip(hit_family, direction, strict=True)], dtype=float
    )
    n_total = total.reindex(hit_family).fillna(0).to_numpy(dtype=float)
    # latency and errors travel up the call graph, so many pods move with one callee: that is
    # for the call graph to sort out (the deepest anomalous callee wins), not load
    travels = hit["metric"].astype(str).str.contains(_PROPAGATES_RE).to_numpy()
    return (
        hit["pod"].notna().to_numpy()
        & ~travels
        & (n_moved >= COMMON_MIN_PODS)
        & (n_moved >= COMMON_SHARE * np.maximum(n_total, 1))
    )


def _reached(hit: pd.DataFrame) -> np.ndarray:
    """Per anomalous series, the chance its own baseline would have reached its peak in as many
    samples as it has after the onset: ``1 - (1 - q) ** n``, ``q`` the share of baseline
    samples as far out as the peak (its Wilson lower bound, :func:`_surely`, so an earlier
    incident's few samples are not read as a habit). 0 without a baseline of its own."""
    if "base_reach" not in hit:
        return np.zeros(len(hit))
    n_base = hit["base_samples"].to_numpy(dtype=float)
    k = np.nan_to_num(hit["base_reach"].to_numpy(dtype=float)) * n_base
    q = np.where(n_base > 0, _surely(np.round(k), n_base), 0.0)
    n_post = np.maximum(hit["post_samples"].to_numpy(dtype=float), 1.0)
    return 1.0 - (1.0 - q) ** n_post


def _metric_strength(iqrs: np.ndarray) -> np.ndarray:
    """How much a move of this many IQRs counts: log2(1 + IQRs / 3), at most :data:`METRIC_CAP`."""
    return np.minimum(np.log2(1 + iqrs / METRIC_IQRS_UNIT), METRIC_CAP)


def _log_strength(poisson: np.ndarray) -> np.ndarray:
    """How much a surge or burst with this Poisson score counts, at most :data:`LOG_CAP`."""
    return np.minimum(np.log1p(poisson) / LOG_SCORE_SCALE, LOG_CAP)


def _metric_evidence(an: pd.DataFrame) -> pd.DataFrame:
    """Evidence from the series that moved; ``an`` may hold every series (``all_series``):
    the ones that did not move tell a call edge's callee-side series stayed flat."""
    anomalous = an["anomalous"].astype(bool)
    hit = an[anomalous]
    if hit.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    # the families' spread over pods is counted among the series that moved, appeared or went
    common = _common_moves(an[anomalous | an["direction"].isin(["new", "gone"])], hit)
    score = hit["score"].to_numpy(dtype=float)
    strength = _metric_strength(score)
    strength *= np.where(hit["confirmed"].to_numpy(dtype=bool), 1.0, UNCONFIRMED_WEIGHT)
    # the share of samples after the onset beyond the threshold, above the share the baseline
    # had anyway: spiking once more is weak evidence for a series that spiked before
    base_share = np.nan_to_num(hit["base_share"].to_numpy(dtype=float))
    habit = _surely(base_share * hit["base_samples"].to_numpy(dtype=float), hit["base_samples"])
    excess = np.maximum(0.0, hit["share"].to_numpy(dtype=float) - habit)
    strength *= 0.5 + 0.5 * np.minimum(1.0, excess * 3)
    # and the chance that its baseline, as often as it surely went as far as this peak, would
    # have gone that far in as many samples as it has after the onset: a series that reaches
    # this height every few minutes did so once more, weak evidence (at least half, as above:
    # the fault can be what made it reach that far this time)
    reached = _reached(hit)
    strength *= 1.0 - 0.5 * reached
    bucketed = hit["bucketed"].to_numpy(dtype=bool)
    client = _is_client(hit["metric"].astype(str)).to_numpy()
    strength *= np.where(client, CLIENT_WEIGHT, 1.0)
    inbound = hit["metric"].astype(str).str.contains(_INBOUND_RE) & hit["direction"].eq("up")
    inbound = inbound.to_numpy(dtype=bool)
    strength *= np.where(inbound, INBOUND_WEIGHT, 1.0)
    strength *= np.where(common, COMMON_WEIGHT, 1.0)
    # a server-side latency rise its own calls out account for counts as a client-side one
    covered, twins = _covered_by_calls(hit, client)
    strength *= 1.0 - covered * (1.0 - CLIENT_WEIGHT)
    twins = [tw if cv >= 0.5 else "" for tw, cv in zip(twins, covered, strict=True)]
    # a call edge's rise its callee's own proxy did not see is on the path: its ends share it
    path_keep, on_path, by_caller, callers = _edge_paths(an, hit, strength.copy())
    strength *= path_keep
    labels = hit["labels"].astype(str)
    name = hit["metric"].astype(str) + np.where(labels != "", "{" + labels + "}", "")
    text = [
        _metric_text(*row)
        for row in zip(
            name,
            hit["direction"],
            score,
            hit["baseline"],
            hit["peak_value"],
            hit["nsigma"],
            hit["flat"].to_numpy(dtype=bool),
            hit["baseline_from"],
            base_share,
            client,
            twins,
            common,
            bucketed,
            inbound,
            on_path,
            reached,
            hit["confirmed"].to_numpy(dtype=bool),
            hit["metric"].astype(str).map(metric_unit),
            strict=True,
        )
    ]
    out = _key_of(hit)
    out["kind"] = "metric"
    out["signal"] = hit["metric"].astype(str).to_numpy()
    out["time"] = hit["began"].to_numpy()
    out["strength"] = strength
    out["text"] = text
    # what only another pod measured about this one: a call edge its caller's proxy timed,
    # that neither its own proxy nor its ends' other edges bear out
    out["measured_by"] = np.where(by_caller, "caller", None)
    # a move only one of the two detectors saw (BARO's robust score, not NSigma) on a series
    # that varied before (a flat one's NSigma is no test: it has no spread to measure against)
    out["unconfirmed"] = ~hit["confirmed"].to_numpy(dtype=bool) & ~hit["flat"].to_numpy(dtype=bool)
    return pd.concat([out, callers], ignore_index=True) if len(callers) else out


def _termination_evidence(inv, at: pd.Timestamp, sm) -> pd.DataFrame:
    """kube-state-metrics' last terminated / waiting reason series that turn on after ``at``."""
    metrics = inv.metrics
    if "reason" not in metrics.columns or metrics.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    is_reason = (
        metrics["metric"].astype(str).str.contains(r"_(?:terminated|waiting)_reason$", regex=True)
    )
    rows = metrics[is_reason & (metrics["value"] > 0) & (metrics["timestamp"] >= at - _GRACE)]
    rows = rows[rows["pod"].notna() & rows["reason"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    before = metrics[is_reason & (metrics["value"] > 0) & (metrics["timestamp"] < at - _GRACE)]
    cols = [*_KEY, "reason"]
    first = rows.groupby(cols, observed=True, dropna=False)["timestamp"].min().reset_index()
    if not before.empty:
        old = before.groupby(cols, observed=True, dropna=False).size().reset_index()[cols]
        merged = (
            first.merge(old.astype("object"), how="left", indicator=True, on=cols)
            if len(old)
            else first.assign(_merge="left_only")
        )
        first = merged[merged["_merge"] == "left_only"].drop(columns="_merge")
    if first.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    reason = first["reason"].astype(str)
    out = _key_of(first)
    out["kind"] = "termination"
    out["signal"] = reason.to_numpy()
    out["time"] = first["timestamp"].to_numpy()
    out["strength"] = reason.map(_TERMINATION_WEIGHTS).fillna(1.0).to_numpy()
    out["text"] = ("container last terminated/waiting with reason " + reason).to_numpy()
    return out


def _event_evidence(events: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    if events.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    reason = events["reason"].astype("object").fillna("").astype(str)
    source = events["source"].astype("object").fillna("").astype(str)
    severity = events["severity"].astype("object")
    message = events["message"].astype("object").fillna("").astype(str)
    weight = reason.map(EVENT_WEIGHTS)
    kind = pd.Series("event", index=events.index, dtype=object)
    # unknown Warning events still count a little
    warn = severity.isin(["warning", "error", "critical"]) & source.eq("kubernetes")
    weight = weight.where(weight.notna(), np.where(warn, UNKNOWN_WARNING_WEIGHT, np.nan))
    # a cgroup OOM reported on the node is about one container, not the node
    node_only = events["pod"].isna() & events["workload"].isna() & events["node"].notna()
    cgroup = node_only & reason.eq("OOMKilling") & message.str.contains("cgroup", regex=False)
    elsewhere = node_only & ~reason.isin(NODE_REASONS)
    weight = weight.where(~elsewhere, weight * NODE_EVENT_ELSEWHERE_WEIGHT)
    weight = weight.where(~cgroup, CGROUP_OOM_WEIGHT)
    change = reason.isin(CHANGE_REASONS) | (
        source.eq("audit") & reason.isin(["patch deployments", "update deployments"])
    )
    weight = weight.where(~change, CHANGE_WEIGHT)
    kind = kind.where(~change, "change")
    security = source.isin(["falco", "detection"])
    sec_weight = severity.map(_SECURITY_SEVERITY).astype(float).fillna(SECURITY_DEFAULT_WEIGHT)
    weight = weight.where(~security, sec_weight)
    kind = kind.where(~security, "security")
    exec_ = source.eq("audit") & reason.isin(["create pods/exec", "create pods/attach"])
    weight = weight.where(~exec_, EXEC_WEIGHT)
    kind = kind.where(~exec_, "security")
    lead = np.where(kind.eq("change"), _LEAD, _GRACE)
    t = events["timestamp"]
    recent = (t >= at - pd.to_timedelta(lead)).to_numpy()
    ok = (
        weight.notna().to_numpy()
        & recent
        & events[["node", "workload", "pod"]].notna().any(axis=1).to_numpy()
    )
    if not ok.any():
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    # the same object had the same event before: a chronic condition, not this incident
    past = t < at - pd.to_timedelta(lead)
    obj = events["object_name"].astype("object").fillna("").astype(str) + "\x1f" + reason
    chronic = obj.isin(set(obj[past & weight.notna()]))
    weight = weight.where(~chronic, weight * CHRONIC_WEIGHT)
    sel = events[ok]
    out = _key_of(sel)
    out["kind"] = kind[ok].to_numpy()
    out["signal"] = reason[ok].to_numpy()
    out["time"] = t[ok].to_numpy()
    out["strength"] = weight[ok].to_numpy(dtype=float)
    label = np.where(source[ok].eq("kubernetes"), "event", source[ok])
    short = message[ok].str.slice(0, 140)
    out["text"] = [
        f"{lab} {r}{' (also before the onset)' if c else ''}: {m}"
        for lab, r, c, m in zip(label, reason[ok], chronic[ok], short, strict=True)
    ]
    return out


def _log_evidence(
    logs: pd.DataFrame, at: pd.Timestamp, templates: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Evidence from new and surging templates, error bursts and where traced errors begin;
    also the new and surging error templates themselves, and the error origins per pod."""
    origins = pd.DataFrame(columns=["namespace", "workload", "pod", "originated", "reported"])
    if logs.empty:
        empty = pd.DataFrame(columns=_EVIDENCE_COLUMNS)
        return empty, new_templates(logs, at, templates), origins
    # an error template whose every line before the onset was in earlier incidents (bursts
    # that ended, or this one's beginning) is new again: a repeat of a fault is measured against
    # the pod's quiet state, not against the previous fault's window
    # the sequence of steps is judged on every line: a call that failed in an earlier incident
    # still marks its trace as a report (left out), not as a request that stopped short
    sequence = _sequence_evidence(logs, at, templates)
    past = _returning(logs, at, templates)
    if past.any():
        logs, templates = logs[~past], templates[~past]
    fresh = new_templates(logs, at, templates)
    surges = template_surges(logs, at, templates)
    raised = new_exceptions(logs, at)
    parts = []
    if len(raised):
        ev = _key_of(raised)
        ev["kind"] = "log"
        ev["signal"] = "new exception"
        ev["time"] = raised["first_seen"].to_numpy()
        ev["strength"] = np.minimum(1.0, np.log1p(raised["count"].to_numpy(dtype=float)) / 2)
        ev["text"] = [
            f"new exception for it: {e[:120]} x{c}"
            for e, c in zip(raised["exception"], raised["count"], strict=True)
        ]
        parts.append(ev)
    if len(surges):
        level = surges["level"].astype("object")
        ev = _key_of(surges)
        ev["kind"] = "log"
        ev["signal"] = "error surge"
        ev["time"] = surges["first_seen"].to_numpy()
        ev["strength"] = _log_strength(surges["score"].to_numpy(dtype=float)) * np.where(
            level.isin(["error", "critical"]), 1.0, WARNING_WEIGHT
        )
        ev["text"] = [
            f'log pattern "{t[:110]}" {b} before -> {a} after the onset ({lv}; {sc:.0f} '
            "standard deviations above its earlier rate)"
            for t, b, a, lv, sc in zip(
                surges["template"],
                surges["before"],
                surges["after"],
                level,
                surges["score"],
                strict=True,
            )
        ]
        parts.append(ev)
    lines = (
        _incident_lines(logs, templates, fresh, surges, raised)
        if len(fresh) + len(surges) + len(raised)
        else None
    )
    reporters: set = set()
    if lines is not None:
        reporters = _call_reporters(logs, at, lines, _reports(logs, at, fresh, surges))
    origins, begun = _origin_evidence(logs, at, lines, reporters)
    if begun is not None:
        parts.append(begun)
    parts.append(sequence)
    if len(fresh):
        level = fresh["level"].astype("object")
        per = np.select([level.isin(["error", "critical"]), level.eq("warning")], [1.0, 0.5], 0.15)
        per = per * np.minimum(1.0, np.log1p(fresh["count"].to_numpy(dtype=float)) / 2)
        per = per * np.where(fresh["new_everywhere"].to_numpy(dtype=bool), 1.0, 0.7)
        ev = _key_of(fresh)
        ev["kind"] = "log"
        ev["signal"] = "new template"
        ev["time"] = fresh["first_seen"].to_numpy()
        ev["strength"] = per
        ev["text"] = [
            f'new log pattern "{t[:110]}" x{c} ({lv or "no level"})'
            if str(t).strip()
            else f"new log lines with an empty message x{c} ({lv or 'no level'})"
            for t, c, lv in zip(fresh["template"], fresh["count"], level, strict=True)
        ]
        parts.append(ev)
    bursts = error_bursts(logs, at)
    if len(bursts):
        ev = _key_of(bursts)
        ev["kind"] = "log"
        ev["signal"] = "error burst"
        ev["time"] = bursts["burst_start"].to_numpy()
        ev["strength"] = _log_strength(bursts["score"].to_numpy(dtype=float))
        ev["text"] = [
            f"warning/error lines rose from {rb:.2g} to {ra:.2g} a minute after the onset "
            f"({b} before, {a} after, {e} of them errors; {s:.0f} standard deviations above "
            "its earlier rate)"
            for b, a, rb, ra, e, s in zip(
                bursts["before"],
                bursts["after"],
                bursts["rate_before"],
                bursts["rate_after"],
                bursts["errors_after"],
                bursts["score"],
                strict=True,
            )
        ]
        parts.append(ev)
    peers = peer_errors(logs, at)
    if len(peers):
        ev = _key_of(peers)
        ev["kind"] = "log"
        ev["signal"] = "errors above peers"
        ev["time"] = peers["first_error"].to_numpy()
        ev["strength"] = _log_strength(peers["score"].to_numpy(dtype=float))
        ev["text"] = [
            f"no log baseline of its own: {e} of its {n} lines after the onset are errors, "
            f"against {p:.1%} of its peers' ({sc:.0f} standard deviations above theirs)"
            for e, n, p, sc in zip(
                peers["errors"], peers["lines"], peers["peer_share"], peers["score"], strict=True
            )
        ]
        parts.append(ev)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    if len(out) and lines is not None:
        out = _discount_call_reports(out, reporters)
    if len(surges):
        fresh = pd.concat([fresh, surges.assign(count=surges["after"])], ignore_index=True)
    return out, fresh, origins


def _discount_call_reports(ev: pd.DataFrame, reporters: set) -> pd.DataFrame:
    """Log evidence of pods whose incident errors mostly say a call failed counts
    :data:`REPORTED_WEIGHT`, as a pod whose errors follow another's in its traces does."""
    hit = (ev["kind"].eq("log") & ev["pod"].astype("object").isin(reporters)).to_numpy()
    if not hit.any():
        return ev
    ev = ev.copy()
    ev.loc[hit, "strength"] = ev.loc[hit, "strength"].astype(float) * REPORTED_WEIGHT
    ev.loc[hit, "text"] = ev.loc[hit, "text"] + " (its errors say calls it made failed)"
    return ev


def _sequence_evidence(
    logs: pd.DataFrame, at: pd.Timestamp, templates: pd.DataFrame
) -> pd.DataFrame:
    """Evidence for pods a step of whose own code path stopped following the step before it
    (:func:`~obskit.analysis.logpatterns.broken_sequences`): the code between the two failed
    in the pod itself (an exception swallowed, a wrong value that ends the request early), as
    the traces where it reported a failed call are left out."""
    broken = broken_sequences(logs, at, templates)
    if broken.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    ev = _key_of(broken)
    ev["kind"] = "sequence"
    ev["signal"] = "broken sequence"
    ev["time"] = broken["first_seen"].to_numpy()
    # on a metric's scale: a score of 3 (a plain Poisson signal) counts 1, like 3 IQRs
    score = broken["score"].to_numpy(dtype=float)
    ev["strength"] = np.minimum(np.log2(1 + score / METRIC_IQRS_UNIT), SEQUENCE_CAP)
    ev["text"] = [
        f"its code path broke in {k} of {n} traces after the onset ({kb} of {nb} before): "
        f'"{_step_text(st)}" was not followed by "{_step_text(m)}" (trace-correlated logs)'
        for m, st, k, n, kb, nb in zip(
            broken["missing"],
            broken["step"],
            broken["short_after"],
            broken["after"],
            broken["short_before"],
            broken["before"],
            strict=True,
        )
    ]
    return ev


def _step_text(template: str) -> str:
    """A step's template for a sentence: without the line's leading time, level and logger
    (``12:00:01.5 INFO t.s.TravelServiceImpl#372 TraceID: <*> SpanID: <*>``)."""
    text = _TRACE_IDS_RE.sub("", str(template))
    tokens = text.split()
    while tokens and "<*>" in tokens[0] and "[" not in tokens[0]:
        tokens.pop(0)
    if tokens and tokens[0].upper() in _LEVEL_WORDS:
        tokens.pop(0)
        if len(tokens) > 1 and "[" not in tokens[0] and re.search(r"[.#]", tokens[0]):
            tokens.pop(0)  # the logger after the level word
    return " ".join(tokens)[:90] or text[:90]


def _returning(logs: pd.DataFrame, at: pd.Timestamp, templates: pd.DataFrame) -> pd.Series:
    """The lines before ``at`` of error templates that a pod logged before ``at`` only in
    earlier incidents (:func:`~obskit.analysis.logpatterns.earlier_incidents`): left out, the
    template is new for the pod again. A template also logged outside them keeps all its lines
    (its rate before is what the pod is like)."""
    past = earlier_incidents(logs, at, templates)
    if not past.any():
        return past
    before = (logs["timestamp"] < at) & logs["pod"].notna()
    pair = logs["pod"].astype("object").astype(str) + "\x1f" + templates["template_id"].astype(str)
    kept = set(pair[before & ~past])
    return past & ~pair.isin(kept)


def _origin_evidence(
    logs: pd.DataFrame, at: pd.Timestamp, lines: pd.Series | None, reporters: set
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The error origins per pod in trace-correlated lines, and evidence for the pods whose
    errors begin traces (``None`` when none does). The lines followed are ``lines``, those
    of the new and surging warning/error templates and of the new exceptions
    (:func:`_incident_lines`). A pod whose errors mostly report failed calls
    (``reporters``, :func:`_call_reporters`) begins only the traces its error travelled up
    from (other pods' errors followed it): alone in a trace, its report says that a call
    failed, not where."""
    origins = pd.DataFrame(columns=["namespace", "workload", "pod", "originated", "reported"])
    if "trace_id" not in logs.columns or lines is None:
        return origins, None
    origins = error_origins(logs, at, lines)
    reporting = origins["pod"].astype("object").isin(reporters).to_numpy()
    counted = np.where(reporting, origins["followed"], origins["originated"])
    origins = origins.assign(counted=counted)
    begun = origins[(origins["counted"] > 0) & (origins["originated"] >= origins["reported"])]
    if len(begun):
        ev = begun[["namespace", "workload", "pod"]].copy()
        for c in _KEY:
            if c not in ev:
                ev[c] = None
        ev = _key_of(ev)
        n = begun["counted"].to_numpy(dtype=float)
        m = begun["followed"].to_numpy(dtype=float)
        alone = begun["originated"].to_numpy(dtype=float) - n
        ev["kind"] = "origin"
        ev["signal"] = "error origin"
        ev["time"] = pd.NaT
        # on a metric's scale (log2 of 1 + IQRs / 3): each trace whose error begins here
        # counts like 3 IQRs; capped below a metric's 5, as a trace's first error line can
        # be an early reporter's
        ev["strength"] = np.minimum(np.log2(1 + n), ORIGIN_CAP)
        followed = _followers(origins, begun["pod"])
        ev["text"] = [
            f"its errors come first in {int(k)} trace{'s' if k > 1 else ''} after the onset"
            + (f", {int(j)} of them followed by other pods' errors" if j and j < k else "")
            + (", all followed by other pods' errors" if j and j == k else "")
            + (f" (then reported by {', '.join(f[:3])})" if f else "")
            + (f"; in {int(a)} more only its report of a failed call" if a else "")
            + " (trace-correlated logs)"
            for k, j, f, a in zip(n, m, followed, alone, strict=True)
        ]
        return origins, ev
    return origins, None


def _incident_lines(
    logs: pd.DataFrame,
    templates: pd.DataFrame,
    fresh: pd.DataFrame,
    surges: pd.DataFrame,
    raised: pd.DataFrame,
) -> pd.Series:
    """The lines of the new and surging warning/error templates and of the new exceptions."""
    bad = ["warning", "error", "critical"]
    worth = [
        f.loc[f["level"].astype("object").isin(bad), ["pod", "template_id"]]
        for f in (fresh, surges)
        if len(f)
    ]
    pairs = (
        set(pd.concat(worth).astype({"pod": "object"}).itertuples(index=False, name=None))
        if worth
        else set()
    )
    keys = logs["pod"].astype("object").astype(str) + "\x1f"
    keys = keys + templates["template_id"].astype(str)
    lines = keys.isin({f"{p}\x1f{t}" for p, t in pairs})
    if len(raised):
        lines.loc[[i for ls in raised["lines"] for i in ls]] = True
    return lines


def _reports(
    logs: pd.DataFrame, at: pd.Timestamp, fresh: pd.DataFrame, surges: pd.DataFrame
) -> pd.Series:
    """The lines that report a failed call (:func:`~obskit.analysis.logpatterns.
    call_failures`) of a callee in trouble: a line naming a workload that kept logging after
    ``at`` with no new or surging error of its own (:func:`_healthy_workloads`) is left out,
    as the callee answered others and the caller's own call path (its discovery client, its
    load balancer, its injected exception) is what failed."""
    said = call_failures(logs)
    if not said.any():
        return said
    healthy = {
        str(w) for w in _healthy_workloads(logs, at, pd.concat([fresh, surges])) if len(str(w)) > 2
    }
    if healthy:
        named = re.compile(
            r"(?<![\w.-])(?:"
            + "|".join(sorted(map(re.escape, healthy), key=len, reverse=True))
            + r")(?![\w-])"
        )
        messages = logs.loc[said, "message"].astype("object").astype(str)
        hits = {m: named.search(m) is not None for m in messages.unique()}
        said.loc[said] = ~messages.map(hits).to_numpy(dtype=bool)
    return said


def _call_reporters(
    logs: pd.DataFrame, at: pd.Timestamp, lines: pd.Series, reports: pd.Series
) -> set:
    """Pods at least :data:`CALL_REPORT_SHARE` of whose incident error lines (``lines`` at or
    after ``at``) are ``reports`` of failed calls (:func:`_reports`): they report their
    callees' trouble."""
    mine = lines.to_numpy(dtype=bool) & (logs["timestamp"] >= at).to_numpy()
    if not mine.any():
        return set()
    said = reports.to_numpy(dtype=bool)[mine]
    share = pd.Series(said).groupby(logs.loc[mine, "pod"].astype("object").to_numpy()).mean()
    return set(share[share >= CALL_REPORT_SHARE].index)


def _followers(origins: pd.DataFrame, pods: pd.Series) -> list[list[str]]:
    """Per pod in ``pods``, the workloads whose errors followed its own in the same traces."""
    out = []
    for pod in pods:
        named = origins[origins["origins"].apply(lambda o, p=pod: p in o)]
        out.append(sorted(set(named["workload"].astype(str))))
    return out


def _trace_evidence(logs: pd.DataFrame, at: pd.Timestamp, baseline: object) -> pd.DataFrame:
    """Evidence from call edges that slowed after ``at`` (:func:`trace_latency`).

    An edge's gap is the caller's and the callee's business at once (a callee that answers
    late, a caller slow to send or to resume), so its strength is split between the two pods:
    each end's share is the number of distinct slowed edges it is on over both ends' numbers,
    and a caller on a single slowed edge gets none (the callee, the one being called, is
    blamed; the caller's own latency then reads as a symptom of it). A CPU-starved caller whose
    calls to three callees all slowed takes three quarters of each; a callee that answers
    every caller late takes all of its edges. Edges are keyed on the caller's workload, so a
    caller workload of several pods gets no share (no single pod to name).
    """
    empty = pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    if logs.empty or not {"trace_id", "span_id"} <= set(logs.columns):
        return empty
    lat = trace_latency(logs, at, baseline=baseline)
    if lat.empty:
        return empty
    pods = logs.loc[logs["pod"].notna(), _KEY].drop_duplicates("pod").astype("object")
    by_workload = pods.dropna(subset=["workload"]).drop_duplicates("workload", keep=False)
    callee = lat["pod"].astype(str).to_numpy()
    caller_wl = lat["caller"].astype(str)
    caller_pod = caller_wl.map(by_workload.set_index("workload")["pod"]).to_numpy()
    pairs = pd.DataFrame({"a": callee, "b": caller_pod}).dropna().drop_duplicates()
    degree = pd.concat([pairs["a"], pairs["b"]]).value_counts()
    k_callee = degree.reindex(callee).fillna(1).to_numpy()
    k_caller = degree.reindex(caller_pod).fillna(0).to_numpy()
    # a caller is a better explanation only when it is the common end of several slowed edges
    k_caller = np.where(pd.isna(caller_pod) | (k_caller < 2), 0.0, k_caller)
    base = _metric_strength(lat["score"].to_numpy(dtype=float))
    what = np.where(lat["direction"].eq("call"), "calls from", "answers to")
    text = [
        f"{w} {c} in the same traces slowed: {b:.0f} -> {a:.0f} ms median over {n} calls "
        f"({s:.0f} IQRs; trace-correlated logs)"
        for w, c, b, a, n, s in zip(
            what,
            caller_wl,
            lat["median_before"],
            lat["median_after"],
            lat["n_after"],
            lat["score"],
            strict=True,
        )
    ]
    share = k_callee / (k_callee + k_caller)
    ev = _key_of(lat)
    ev["kind"] = "trace"
    ev["signal"] = "trace latency"
    ev["time"] = lat["began"].to_numpy()
    ev["strength"] = base * share
    ev["text"] = text
    has_caller = k_caller > 0
    if has_caller.any():
        sel = lat[has_caller]
        rows = pods.set_index("pod").loc[caller_pod[has_caller]].reset_index()
        back = _key_of(rows)
        back["kind"] = "trace"
        back["signal"] = "trace latency"
        back["time"] = sel["began"].to_numpy()
        back["strength"] = (base * (1 - share))[has_caller]
        back["text"] = [
            f"its {'calls to' if d == 'call' else 'handling of answers from'} {p} slowed: "
            f"{b:.0f} -> {a:.0f} ms median over {n} calls (trace-correlated logs)"
            for d, p, b, a, n in zip(
                sel["direction"],
                sel["pod"],
                sel["median_before"],
                sel["median_after"],
                sel["n_after"],
                strict=True,
            )
        ]
        ev = pd.concat([ev, back], ignore_index=True)
    return ev


def _service_workloads(inventory: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    """Name a caller may use (workload or Service) -> {(namespace, workload)}."""
    names: dict[str, set[tuple[str, str]]] = {}
    pods = inventory[(inventory["kind"] == "Pod") & inventory["workload"].notna()]
    for ns, wl in (
        pods[["namespace", "workload"]].astype("object").drop_duplicates().itertuples(index=False)
    ):
        names.setdefault(str(wl), set()).add((ns, str(wl)))
    services = inventory[inventory["kind"] == "Service"]
    for ns, name, selector in services[["namespace", "name", "selector"]].itertuples(index=False):
        if not isinstance(selector, dict) or not selector:
            continue
        match = pods[pods["namespace"] == ns]
        for labels, wl in zip(match["labels"], match["workload"], strict=True):
            if isinstance(labels, dict) and all(labels.get(k) == v for k, v in selector.items()):
                names.setdefault(str(name), set()).add((ns, str(wl)))
    return names


def _dependency_evidence(
    fresh: pd.DataFrame, inventory: pd.DataFrame, known_workloads: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evidence for workloads named in callers' new error/warning templates; and the callers."""
    empty = pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    if fresh.empty:
        return empty, pd.DataFrame(columns=["namespace", "pod", "callee"])
    names = _service_workloads(inventory)
    for ns, wl in known_workloads.itertuples(index=False):
        names.setdefault(str(wl), set()).add((ns, str(wl)))
    names = {n: v for n, v in names.items() if len(n) >= 3}
    if not names:
        return empty, pd.DataFrame(columns=["namespace", "pod", "callee"])
    pattern = re.compile(
        r"(?<![\w.-])("
        + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
        + r")(?![\w-])"
    )
    bad = fresh[fresh["level"].astype("object").isin(["warning", "error", "critical"])]
    rows, callers = [], []
    for rec in bad[["namespace", "workload", "pod", "template", "count"]].itertuples(index=False):
        found = {m for m in pattern.findall(str(rec.template)) if m != rec.workload}
        for name in found:
            for ns, wl in names[name]:
                if wl == rec.workload:
                    continue
                rows.append((ns, wl, rec.workload, int(rec.count), str(rec.template)))
                callers.append((rec.namespace, rec.pod, wl))
    if not rows:
        return empty, pd.DataFrame(columns=["namespace", "pod", "callee"])
    hints = pd.DataFrame(rows, columns=["namespace", "workload", "caller", "count", "template"])
    agg = (
        hints.groupby(["namespace", "workload"], sort=False)
        .agg(
            count=("count", "sum"),
            callers=("caller", lambda s: sorted(set(s))),
            template=("template", "first"),
        )
        .reset_index()
    )
    out = pd.DataFrame({c: [None] * len(agg) for c in _KEY})
    out["namespace"] = agg["namespace"].to_numpy()
    out["workload"] = agg["workload"].to_numpy()
    out["kind"] = "dependency"
    out["signal"] = "named by callers"
    out["time"] = pd.NaT
    out["strength"] = np.minimum(1.0 + np.log1p(agg["count"].to_numpy(dtype=float)) / 3, 3.0)
    out["text"] = [
        f'named in {c} new error lines of {", ".join(cs)} ("{t[:90]}")'
        for c, cs, t in zip(agg["count"], agg["callers"], agg["template"], strict=True)
    ]
    return out, pd.DataFrame(callers, columns=["namespace", "pod", "callee"]).drop_duplicates()


def _rollouts(inventory: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """ReplicaSets created near the onset for a Deployment that already had one: rollouts."""
    rs = inventory[(inventory["kind"] == "ReplicaSet") & inventory["workload"].notna()]
    if rs.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    created = rs["created"]
    new = rs[(created >= at - _LEAD) & created.notna()]
    older = rs[created < at - _LEAD]
    new = new[new["workload"].isin(set(older["workload"].astype("object")))]
    if new.empty:
        return pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    out = _key_of(new)
    out["pod"] = None
    out["container"] = None
    out["node"] = None
    out["kind"] = "change"
    out["signal"] = "new ReplicaSet"
    out["time"] = new["created"].to_numpy()
    out["strength"] = CHANGE_WEIGHT
    out["text"] = ("rollout: ReplicaSet " + new["name"].astype(str) + " created").to_numpy()
    return out


def evidence(inv, at: object, baseline: object = None, horizon: object = None) -> pd.DataFrame:
    """Every piece of evidence after ``at``, one row each, on the metadata key.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    at : timestamp
        The onset.
    baseline, horizon : duration, optional
        Passed to :func:`~obskit.analysis.anomalies.anomalies`.

    Returns
    -------
    DataFrame
        The key, ``kind`` (metric, termination, event, change, log, trace, security,
        dependency),
        ``signal`` (metric name, event reason, ...), ``time``, ``strength`` and ``text``;
        ``measured_by`` is ``caller`` for a call edge's series timed by the caller's proxy
        that neither the callee's proxy nor the ends' other edges bear out (what only another
        pod measured about this one), else empty; ``unconfirmed`` is true for a metric's move
        on a series that varied before which NSigma does not confirm.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("node-pressure")  # doctest: +SKIP
    >>> evidence(inv, "2024-07-22T02:41:00Z").groupby("kind").size()  # doctest: +SKIP
    """
    return _evidence(inv, as_utc(at, "at", error=InvestigationError), baseline, horizon)[0]


def _evidence(
    inv, at_ts: pd.Timestamp, baseline: object, horizon: object
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timedelta]:
    """The evidence, the pods whose errors name another workload, and the metrics' time step."""
    # every series, those that stayed put too: a call edge's flat callee-side series says
    # where its caller-side rise was spent (:func:`_edge_paths`)
    an = anomalies(inv, at=at_ts, baseline=baseline, horizon=horizon, all_series=True)
    parts = [_metric_evidence(an), _termination_evidence(inv, at_ts, None)]
    parts.append(_event_evidence(inv.events, at_ts))
    parts.append(_rollouts(inv.inventory, at_ts))
    logs = inv.logs
    templates = (
        log_templates(logs) if len(logs) else pd.DataFrame(columns=["template_id", "template"])
    )
    # an alert fires after its fault began: log lines from _GRACE before it are the incident's
    # (as events and metric onsets are), not the baseline's
    log_ev, fresh, origins = _log_evidence(logs, at_ts - _GRACE, templates)
    parts.append(log_ev)
    parts.append(_trace_evidence(logs, at_ts, baseline))
    known = (
        pd.concat([f[["namespace", "workload"]].astype("object") for f in (inv.metrics, logs)])
        .dropna()
        .drop_duplicates()
    )
    dep, callers = _dependency_evidence(fresh, inv.inventory, known)
    if len(dep) and len(logs):
        # a workload named in callers' errors that kept logging with no new error of its own
        healthy = _healthy_workloads(logs, at_ts, fresh)
        weak = dep["workload"].isin(healthy).to_numpy()
        dep.loc[weak, "strength"] = dep.loc[weak, "strength"] * HEALTHY_NAMED_WEIGHT
        dep.loc[weak, "text"] = dep.loc[weak, "text"] + (
            "; it kept answering after the onset with no new error of its own"
        )
        callers = callers[~callers["callee"].isin(healthy)]
    parts.append(dep)
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_EVIDENCE_COLUMNS)
    if len(origins) and len(out):
        out = _discount_reporters(out, origins)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    out["strength"] = out["strength"].astype(float)
    out = out[out["strength"] > 0].reset_index(drop=True)
    step = an.attrs.get("step", pd.Timedelta("30s"))
    return out, callers, step


def _resource(metric: str) -> str | None:
    """``cpu`` or ``memory`` for a metric of that resource, else ``None``."""
    for resource, pattern in _RESOURCE_RES.items():
        if pattern.search(metric):
            return resource
    return None


def _pod_rises(samples: pd.DataFrame, at: pd.Timestamp) -> tuple[pd.Series, float]:
    """Per pod: its mean after ``at`` minus its mean before (0 before for a pod that started
    after ``at``), containers summed, for the one metric most pods on the node report; and the
    pods' summed mean before ``at``."""
    metric = samples.groupby("metric", observed=True)["pod"].nunique().idxmax()
    samples = samples[samples["metric"] == metric]
    after = samples["timestamp"] >= at
    per = ["pod", "container"]
    post = samples[after].groupby(per, dropna=False, observed=True)["value"].mean()
    pre = samples[~after].groupby(per, dropna=False, observed=True)["value"].mean()
    rise = post.sub(pre.reindex(post.index).fillna(0.0))
    return rise.groupby(level="pod", observed=True).sum(), float(pre.sum())


def _rise_takers(
    inv, ev: pd.DataFrame, at: pd.Timestamp
) -> tuple[pd.DataFrame, dict[str, tuple[str, float]]]:
    """Split a node's CPU or memory rise by the pods on it, and name the pod that takes it.

    A pod with no baseline of its own (a batch Job started at the onset) has no metric
    evidence; the node it runs on does. For every node whose CPU or memory metric rose, the
    rise of each pod on it (mean after the onset minus mean before; 0 before for a pod that
    started later) is summed by pod. The pod that takes at least :data:`TAKER_SHARE` of the
    pods' summed rise, a rise of at least :data:`TAKER_MIN_RISE` of what they used before,
    gets the node's evidence scaled by its share ("takes N% of node X's cpu rise since it
    started at HH:MM"); the node keeps :data:`TAKEN_NODE_WEIGHT` of that part. Returns the
    evidence and, per node, the pod that takes its rise and its share.
    """
    metrics = inv.metrics
    is_node = ev["kind"].eq("metric") & ev["node"].notna() & ev["pod"].isna()
    is_node &= ev["workload"].isna()
    if not is_node.any() or metrics.empty:
        return ev, {}
    resource = ev["signal"].astype(str).map(_resource)
    rows = ev[is_node & resource.notna()]
    pod_metrics = metrics[metrics["pod"].notna() & metrics["node"].isin(set(rows["node"]))]
    if rows.empty or pod_metrics.empty:
        return ev, {}
    pod_resource = pod_metrics["metric"].astype(str).map(_resource)
    ev = ev.copy()
    added: list[dict] = []
    taken: dict[str, tuple[str, float]] = {}
    for (node, res), part in rows.groupby(["node", resource[rows.index]], sort=False):
        samples = pod_metrics[(pod_metrics["node"] == node) & (pod_resource == res)]
        if samples.empty:
            continue
        rises, used = _pod_rises(samples, at)
        total = rises.clip(lower=0).sum()
        if total <= 0 or rises.max() < TAKER_MIN_RISE * used:
            continue
        pod = str(rises.idxmax())
        share = float(rises.max() / total)
        if share < TAKER_SHARE:
            continue
        own = samples[samples["pod"] == pod]
        started = own["timestamp"].min()
        newcomer = started >= at - _GRACE
        since = f"it started at {started:%H:%M}" if newcomer else "the onset"
        key = own.iloc[0]
        strongest = part["strength"].max()
        added.append(
            {
                **{c: key.get(c) for c in _KEY if c != "container"},
                "container": None,
                "kind": "metric",
                "signal": str(part.loc[part["strength"].idxmax(), "signal"]),
                "time": max(started, part["time"].min()),
                "strength": share * strongest,
                "text": f"takes {share:.0%} of node {node}'s {res} rise since {since}",
            }
        )
        ev.loc[part.index, "strength"] *= 1.0 - share * (1.0 - TAKEN_NODE_WEIGHT)
        ev.loc[part.index, "text"] = ev.loc[part.index, "text"] + f"; {pod} takes {share:.0%} of it"
        if share > taken.get(node, ("", 0.0))[1]:
            taken[node] = (pod, share)
    if added:
        ev = pd.concat([ev, pd.DataFrame(added)], ignore_index=True)
        ev["time"] = pd.to_datetime(ev["time"], utc=True)
    return ev, taken


def _taken_nodes(rows: list[Candidate], taken: dict[str, tuple[str, float]]) -> None:
    """Mark a node candidate whose resource rise a pod on it takes as explained by that pod."""
    for cand in rows:
        if cand.entity_kind == "node" and cand.node in taken:
            pod, share = taken[cand.node]
            cand.explained_by = pod
            cand.notes.append(f"{pod} takes {share:.0%} of its resource rise")


def _healthy_workloads(logs: pd.DataFrame, at: pd.Timestamp, fresh: pd.DataFrame) -> set:
    """Workloads that logged after ``at`` and have no new or surging error template."""
    after = logs.loc[logs["timestamp"] >= at, "workload"].astype("object").dropna()
    bad = fresh.loc[fresh["level"].astype("object").isin(["error", "critical"]), "workload"].astype(
        "object"
    )
    return set(after.unique()) - set(bad.dropna().unique())


def _discount_reporters(ev: pd.DataFrame, origins: pd.DataFrame) -> pd.DataFrame:
    """Log evidence of pods whose errors mostly follow another pod's in the same traces counts
    :data:`REPORTED_WEIGHT`: they report an error that began elsewhere."""
    rep = origins[origins["reported"] > origins["originated"]]
    if rep.empty:
        return ev
    source = dict(zip(rep["pod"].astype(str), rep["origins"], strict=True))
    pod = ev["pod"].astype("object")
    hit = (ev["kind"].eq("log") & pod.isin(source)).to_numpy()
    if not hit.any():
        return ev
    ev = ev.copy()
    ev.loc[hit, "strength"] = ev.loc[hit, "strength"] * REPORTED_WEIGHT
    ev.loc[hit, "text"] = [
        f"{t} (these errors follow those of {', '.join(source[p][:2])} in the same traces)"
        for t, p in zip(ev.loc[hit, "text"], pod[hit], strict=True)
    ]
    return ev


# --- call graph ---------------------------------------------------------------------------


def call_graph(inv, dependencies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Caller -> callee edges between workloads: given, and found in the data.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    dependencies : DataFrame, optional
        ``caller`` and ``callee`` columns (``source``/``target`` also accepted): workload,
        Service or pod names. Names that match nothing in the investigation are dropped.

    Returns
    -------
    DataFrame
        ``caller``, ``callee`` (workload names) and ``source`` (``given``, or ``traces`` for
        edges found in log lines that carry trace and span ids, see
        :func:`~obskit.analysis.logpatterns.trace_edges`).

    Raises
    ------
    InvestigationError
        When ``dependencies`` is not a DataFrame with caller and callee columns.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("checkout-oom")  # doctest: +SKIP
    >>> call_graph(inv, pd.DataFrame({"caller": ["frontend"], "callee": ["checkout"]}))
    ... # doctest: +SKIP
    """
    columns = ["caller", "callee", "source"]
    parts = []
    if dependencies is not None:
        parts.append(_given_edges(inv, dependencies))
    logs = inv.logs
    if len(logs) and {"trace_id", "span_id"} <= set(logs.columns):
        traced = trace_edges(logs)
        parts.append(traced[["caller", "callee"]].assign(source="traces"))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out = out[out["caller"] != out["callee"]]
    return out.drop_duplicates(["caller", "callee"]).reset_index(drop=True)[columns]


def _given_edges(inv, dependencies: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(dependencies, pd.DataFrame):
        raise InvestigationError(
            f"dependencies must be a DataFrame with caller and callee columns, got "
            f"{type(dependencies).__name__}"
        )
    lower = {str(c).lower(): c for c in dependencies.columns}
    pick = [
        next((lower[c] for c in names if c in lower), None)
        for names in (("caller", "source", "src", "parent"), ("callee", "target", "dst", "child"))
    ]
    if pick[0] is None or pick[1] is None:
        raise InvestigationError(
            "dependencies needs caller and callee columns (or source and target); got "
            f"{list(dependencies.columns)!r}"
        )
    names: dict[str, set[str]] = {
        n: {wl for _, wl in v} for n, v in _service_workloads(inv.inventory).items()
    }
    for frame in (inv.metrics, inv.logs):
        if len(frame):
            known = frame[["workload", "pod"]].astype("object").dropna(subset=["workload"])
            for wl in known["workload"].unique():
                names.setdefault(str(wl), set()).add(str(wl))
            pods = known.dropna().drop_duplicates("pod")[["pod", "workload"]]
            for pod, wl in pods.itertuples(index=False):
                names.setdefault(str(pod), set()).add(str(wl))
    rows = []
    for a, b in dependencies[pick].astype(str).itertuples(index=False):
        for wa in names.get(a, ()):
            for wb in names.get(b, ()):
                rows.append((wa, wb, "given"))
    return pd.DataFrame(rows, columns=["caller", "callee", "source"])


def _descendants(graph: pd.DataFrame) -> dict[str, set[str]]:
    """Every workload each workload calls, directly or through others (itself left out)."""
    children: dict[str, set[str]] = {}
    for a, b in graph[["caller", "callee"]].itertuples(index=False):
        children.setdefault(a, set()).add(b)
    out: dict[str, set[str]] = {}
    for start in children:
        seen: set[str] = set()
        stack = list(children[start])
        while stack:
            node = stack.pop()
            if node in seen or node == start:
                continue
            seen.add(node)
            stack.extend(children.get(node, ()))
        out[start] = seen
    return out


def _propagating(ev: pd.DataFrame) -> np.ndarray:
    """Evidence a callee's trouble can cause in its caller: latency and error metrics, new or
    bursting log errors, callers' hints; not resource use, events or terminations."""
    kind = ev["kind"].astype(str)
    metric = kind.eq("metric") & ev["signal"].astype(str).str.contains(_PROPAGATES_RE)
    return (metric | kind.isin(["log", "dependency"])).to_numpy()


def _explained_by_callees(cands: dict[tuple, Candidate], graph: pd.DataFrame) -> None:
    """Scale down the part of a caller's score that a callee further down explains.

    The deepest anomalous node wins: a caller slows down or fails when what it calls does. A
    candidate's propagating evidence (latency and error metrics, log errors: what a callee's
    trouble causes upstream) is multiplied by :data:`EXPLAINED_WEIGHT` when a candidate it
    calls, directly or through others, scores at least :data:`EXPLAINED_SHARE` of it; its own
    resource trouble (CPU, memory, events) keeps its full weight. Scores are compared before
    any is scaled.
    """
    if graph.empty or not cands:
        return
    below = _descendants(graph)
    by_workload: dict[str, list[tuple]] = {}
    for ident, cand in cands.items():
        if cand.workload is not None:
            by_workload.setdefault(str(cand.workload), []).append(ident)
    before = {ident: cand.score for ident, cand in cands.items()}
    for ident, cand in cands.items():
        wl = cand.workload
        if wl is None or str(wl) not in below:
            continue
        found = [
            (before[j], cands[j]) for callee in below[str(wl)] for j in by_workload.get(callee, ())
        ]
        if not found:
            continue
        score, best = max(found, key=lambda x: x[0])
        ev = cand.ev
        moves = _propagating(ev)
        travelling = _score(ev[moves])
        if travelling <= 0 or score < EXPLAINED_SHARE * travelling:
            continue
        local = _score(ev[~moves])
        scaled = local + EXPLAINED_WEIGHT * travelling
        if scaled >= before[ident]:
            continue
        cand.score *= scaled / max(_score(ev), 1e-9)
        cand.notes.append(
            f"it calls {best.workload} (directly or through others), whose own trouble "
            f"(score {score:.1f}) explains its latency and errors"
        )
        cand.explained_by = best.workload


# --- onset --------------------------------------------------------------------------------


def find_onset(inv) -> tuple[pd.Timestamp | None, str]:
    """The incident onset from all signals: metric departures, notable events, new log errors.

    Returns the time and a sentence saying how it was found.

    Examples
    --------
    >>> import obskit
    >>> find_onset(obskit.datasets.load("bad-rollout"))  # doctest: +SKIP
    """
    times, weights = [], []
    if len(inv.metrics):
        onsets = metric_onsets(series_matrix(inv.metrics)).dropna()
        times.append(onsets)
        weights.append(np.ones(len(onsets)))
    events = inv.events
    if len(events):
        reason = events["reason"].astype("object")
        w = reason.map(EVENT_WEIGHTS)
        sec = events["source"].isin(["falco", "detection"])
        w = w.where(~sec, 2.0).where(~reason.isin(CHANGE_REASONS), 2.0)
        keep = w.notna()
        times.append(events.loc[keep, "timestamp"])
        weights.append(w[keep].to_numpy(dtype=float))
    logs = inv.logs
    if len(logs):
        bad = logs[logs["level"].notna() & (logs["level"] >= "warning") & logs["pod"].notna()]
        if len(bad):
            start = logs["timestamp"].min()
            span = logs["timestamp"].max() - start
            tpl = log_templates(bad)
            first = (
                bad.assign(t=tpl["template_id"])
                .groupby(["pod", "t"], observed=True)["timestamp"]
                .min()
            )
            first = first[first > start + span * 0.1]
            times.append(pd.Series(first.to_numpy()))
            weights.append(np.ones(len(first)))
    if not times:
        return None, "no signal"
    all_times = pd.concat(
        [pd.Series(pd.to_datetime(t, utc=True)) for t in times], ignore_index=True
    )
    found = detect_onset(all_times, np.concatenate(weights))
    if found is None:
        return None, "no signal left its past"
    return found, "detected: start of the densest burst of metric, event and log anomalies"


# --- candidates ---------------------------------------------------------------------------


def _combine(strengths: pd.Series) -> float:
    """One kind's score: the strongest piece, plus diminishing credit for the rest."""
    values = np.sort(strengths.to_numpy(dtype=float))[::-1]
    return (
        float(values[0] + EXTRA_EVIDENCE_WEIGHT * np.log1p(values[1:].sum()))
        if len(values)
        else 0.0
    )


def _score(ev: pd.DataFrame) -> float:
    """A candidate's score: per kind, the strongest piece plus diminishing credit for the rest.

    Metric evidence counts each metric family (:func:`metric_family`) once, at its strongest
    series, so many correlated series of one pod do not outweigh one clear signal elsewhere.
    """
    if ev.empty:
        return 0.0
    total = 0.0
    for kind, part in ev.groupby("kind", sort=False):
        strength = part["strength"]
        if kind == "metric" and len(part) > 1:
            family = part["signal"].astype(str).map(_family_cached)
            strength = strength.groupby(family.to_numpy(), sort=False).max()
        total += _KIND_WEIGHTS.get(str(kind), 1.0) * _combine(strength)
    return total


_FAMILIES: dict[str, str] = {}


def _family_cached(metric: str) -> str:
    out = _FAMILIES.get(metric)
    if out is None:
        out = _FAMILIES[metric] = metric_family(metric)
    return out


def _pods_table(inv, ev: pd.DataFrame) -> pd.DataFrame:
    """One row per pod seen anywhere: its key (node, workload) and when it was created."""
    frames = [f[_KEY].astype("object") for f in (inv.metrics, inv.logs, inv.events) if len(f)]
    frames.append(ev[_KEY].astype("object"))
    keys = pd.concat(frames, ignore_index=True)
    keys = keys[keys["pod"].notna()]
    pods = (
        keys.drop(columns="container")
        .groupby(["namespace", "pod"], dropna=False, sort=False)
        .first()
        .reset_index()
    )
    inventory = inv.inventory
    created = inventory[inventory["kind"] == "Pod"][["namespace", "name", "created"]]
    created = created.astype({"namespace": "object", "name": "object"}).rename(
        columns={"name": "pod"}
    )
    return pods.merge(created, on=["namespace", "pod"], how="left")


def _first(ev: pd.DataFrame, at: pd.Timestamp) -> pd.Timestamp:
    """When the evidence began: changes from :data:`_LEAD` before the onset, a metric's build-up
    (a leak's climb) from :data:`~obskit.analysis.anomalies.BUILD_UP` before it when the move is
    among the entity's strong ones (:data:`CLIMB_SHARE`), the rest from :data:`_GRACE` before
    it."""
    t = ev["time"]
    kind = ev["kind"]
    metric = kind.eq("metric")
    strong = ev["strength"] >= CLIMB_SHARE * (
        ev.loc[metric, "strength"].max() if metric.any() else 0
    )
    early = (t >= at - BUILD_UP) & metric & strong
    t = t[t.notna() & ((t >= at - _GRACE) | kind.eq("change") | early)]
    return t.min() if len(t) else pd.NaT


@dataclass(eq=False)
class Candidate:
    """One entity suspected of causing the incident, with the evidence that implicates it.

    Made per pod first (:func:`_pod_level`); a workload or node candidate is made from the pod
    candidates it explains. The key fields are :data:`obskit.schema.KEY`'s (``None`` where a
    candidate has no such part). ``score`` changes as the steps of :func:`suspects` weigh it.
    """

    entity_kind: str
    cluster: object
    namespace: object
    node: object
    workload_kind: object
    workload: object
    pod: object
    container: object
    score: float
    first_anomaly: pd.Timestamp
    ev: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: How many pod candidates a workload or node candidate was made from.
    members: int = 0
    #: When the pod was created (from the inventory); pods only.
    created: object = None
    #: The suspect this candidate's own errors name (it reports it rather than causes it).
    callee: object = None
    #: The callee whose own trouble explains this candidate's latency and errors.
    explained_by: object = None
    #: The pod candidates a workload or node explains (they are not listed on their own).
    claims: set = field(default_factory=set)

    def key(self) -> dict:
        """The candidate's key columns, as a dict."""
        return {c: getattr(self, c) for c in _KEY}


def _candidate(
    kind: str,
    key: dict,
    ev: pd.DataFrame,
    at: pd.Timestamp,
    extra: float = 0.0,
    notes: list[str] | None = None,
    members: int = 0,
) -> Candidate:
    return Candidate(
        entity_kind=kind,
        **{c: key.get(c) for c in _KEY},
        score=_score(ev) + extra,
        first_anomaly=_first(ev, at),
        ev=ev,
        notes=list(notes or []),
        members=members,
    )


def _pod_level(
    ev: pd.DataFrame, pods: pd.DataFrame, at: pd.Timestamp, callers: pd.DataFrame
) -> dict[tuple, Candidate]:
    """Candidates per pod: its own and its containers' evidence, and its workload's hints."""
    out: dict[tuple, Candidate] = {}
    pod_ev = ev[ev["pod"].notna()]
    wl_ev = ev[ev["pod"].isna() & ev["workload"].notna() & ev["kind"].eq("dependency")]
    groups = dict(list(pod_ev.groupby(["namespace", "pod"], dropna=False, sort=False)))
    hinted = dict(list(wl_ev.groupby(["namespace", "workload"], dropna=False, sort=False)))
    caller_pods = {(r.namespace, r.pod): r.callee for r in callers.itertuples(index=False)}
    for rec in pods.to_dict("records"):
        ident = (rec["namespace"], rec["pod"])
        own = groups.get(ident)
        hint = hinted.get((rec["namespace"], rec["workload"]))
        parts = [p for p in (own, hint) if p is not None and len(p)]
        if not parts or own is None:
            continue
        evs = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        key = {c: rec.get(c) for c in _KEY if c != "container"}
        cand = _candidate("pod", key, evs, at)
        callee = caller_pods.get(ident)
        if callee is not None:
            cand.score *= NAMES_CALLEE_WEIGHT
            cand.notes.append(f"its errors name {callee}, which is suspected on its own")
            cand.callee = callee
        cand.created = rec.get("created")
        out[ident] = cand
    return out


def _explaining_workloads(
    cands: dict[tuple, Candidate],
    ev: pd.DataFrame,
    at: pd.Timestamp,
    pods: pd.DataFrame,
    floor: float,
) -> dict[tuple, Candidate]:
    """Workloads whose rollout, or whose shared trouble, explains their pods."""
    out: dict[tuple, Candidate] = {}
    changes = ev[ev["kind"].eq("change") & ev["workload"].notna()]
    change_by = dict(list(changes.groupby(["namespace", "workload"], sort=False)))
    hints = ev[ev["kind"].eq("dependency") & ev["pod"].isna()]
    hint_by = dict(list(hints.groupby(["namespace", "workload"], sort=False)))
    size = pods.groupby(["namespace", "workload"], dropna=False).size()
    members: dict[tuple, list] = {}
    for ident, cand in cands.items():
        if cand.workload is not None:
            members.setdefault((cand.namespace, cand.workload), []).append(ident)
    for wl, idents in members.items():
        strong = [i for i in idents if cands[i].score >= floor]
        if not strong:
            continue
        change = change_by.get(wl)
        n_pods = int(size.get(wl, len(idents)))
        notes = []
        explains = False
        if change is not None and len(change):
            t0 = change["time"].min()
            new = [
                i for i in strong if pd.notna(cands[i].created) and cands[i].created >= t0 - _GRACE
            ]
            if new:
                explains = True
                notes.append(
                    f"its rollout at {t0:%H:%M} preceded the trouble of {len(new)} "
                    f"new pod{'s' if len(new) > 1 else ''}"
                )
        if not explains and len(strong) >= 2 and len(strong) >= WORKLOAD_TROUBLED_SHARE * n_pods:
            explains = True
            notes.append(f"{len(strong)} of its {n_pods} pods are in trouble together")
        if not explains:
            continue
        parts = [cands[i].ev for i in strong]
        if change is not None:
            parts.append(change)
        evs = pd.concat(parts, ignore_index=True)
        # hints about the workload were copied into each pod: count them once
        dep = evs["kind"].eq("dependency")
        evs = pd.concat([evs[~dep], hint_by.get(wl, evs[dep].head(0))], ignore_index=True)
        best = max(cands[i].score for i in strong)
        spread = float(np.mean([cands[i].score for i in strong]))
        key = {
            "cluster": cands[strong[0]].cluster,
            "namespace": wl[0],
            "workload_kind": cands[strong[0]].workload_kind,
            "workload": wl[1],
        }
        cand = _candidate("workload", key, evs, at, notes=notes, members=len(strong))
        cand.score = (
            best + WORKLOAD_SPREAD_WEIGHT * spread + (CHANGE_BONUS if change is not None else 0.0)
        )
        cand.claims = set(idents)
        if any(cands[i].callee is not None for i in strong):
            cand.callee = next(cands[i].callee for i in strong if cands[i].callee is not None)
            cand.score *= NAMES_CALLEE_WEIGHT
            cand.notes.append(f"its errors name {cand.callee}")
        out[wl] = cand
    return out


def _explaining_nodes(
    cands: dict[tuple, Candidate],
    ev: pd.DataFrame,
    at: pd.Timestamp,
    floor: float,
    step: pd.Timedelta,
    force: bool = False,
) -> dict[str, Candidate]:
    """Nodes whose own trouble came first and spans pods of several workloads."""
    out: dict[str, Candidate] = {}
    node_ev = ev[ev["node"].notna() & ev["pod"].isna() & ev["workload"].isna()]
    by_node: dict[str, list] = {}
    for ident, cand in cands.items():
        if cand.node is not None:
            by_node.setdefault(cand.node, []).append(ident)
    nodes = set(node_ev["node"].astype(str)) | (set(by_node) if force else set())
    for node in nodes:
        own = node_ev[node_ev["node"] == node]
        own_score = _score(own)
        idents = [i for i in by_node.get(node, []) if cands[i].score >= floor]
        workloads = {cands[i].workload for i in idents}
        first = _first(own, at) if len(own) else pd.NaT
        pod_first = min(
            (cands[i].first_anomaly for i in idents if pd.notna(cands[i].first_anomaly)),
            default=pd.NaT,
        )
        leads = pd.notna(first) and (
            pd.isna(pod_first) or first <= pod_first + NODE_LEAD_STEPS * step
        )
        condition = own["signal"].isin(NODE_REASONS).any() if len(own) else False
        explains = own_score >= NODE_MIN_SCORE and len(workloads) >= 2 and (leads or condition)
        if not (explains or force):
            continue
        notes = []
        if explains:
            notes.append(
                f"its own signals moved first and its {len(idents)} troubled pods "
                f"belong to {len(workloads)} workloads"
            )
        pods_score = sum(cands[i].score for i in idents)
        parts = [own, *[cands[i].ev for i in idents]] if force else [own]
        evs = (
            pd.concat([p for p in parts if len(p)], ignore_index=True)
            if any(len(p) for p in parts)
            else own
        )
        cand = _candidate(
            "node",
            {"cluster": own["cluster"].iloc[0] if len(own) else None, "node": node},
            evs,
            at,
            notes=notes,
            members=len(idents),
        )
        cand.score = own_score + (
            NODE_PODS_WEIGHT
            * min(pods_score, NODE_PODS_CAP_FACTOR * own_score + NODE_PODS_CAP_OFFSET)
            if explains
            else NODE_LISTED_WEIGHT * pods_score
        )
        cand.first_anomaly = first if pd.notna(first) else pod_first
        cand.claims = set(idents) if explains else set()
        out[node] = cand
    return out


def _containers(cand: Candidate, at: pd.Timestamp) -> list[Candidate]:
    """Split a pod candidate by container when its evidence is container-keyed."""
    ev = cand.ev
    named = ev[ev["container"].notna()]
    shared = ev[ev["container"].isna()]
    out = []
    for container, part in named.groupby("container", sort=False):
        evs = pd.concat([part, shared], ignore_index=True)
        key = cand.key()
        key["container"] = container
        c = _candidate("container", key, evs, at, notes=cand.notes)
        c.score *= cand.score / max(_score(ev), 1e-9)
        out.append(c)
    return out or [cand]


def _time_order(rows: list[Candidate], step: pd.Timedelta) -> None:
    """Bonus for the strong candidate that went first, fading with the lag."""
    if not rows:
        return
    top = max(r.score for r in rows)
    strong = [r for r in rows if r.score >= TIME_ORDER_SHARE * top and pd.notna(r.first_anomaly)]
    if len(strong) < 2:
        return
    earliest = min(r.first_anomaly for r in strong)
    tau = max(TIME_ORDER_TAU, TIME_ORDER_TAU_STEPS * step)
    later = sum(1 for r in strong if r.first_anomaly > earliest)
    for r in strong:
        lag = r.first_anomaly - earliest
        bonus = TIME_ORDER_BONUS * float(np.exp(-lag / tau))
        r.score *= 1 + bonus
        if lag == pd.Timedelta(0) and later:
            r.notes.append(
                f"first to go anomalous ({r.first_anomaly:%H:%M:%S}), before "
                f"{later} other strong suspect{'s' if later > 1 else ''}"
            )


#: How much of its strongest evidence a suspect's one-sentence reason quotes (the evidence
#: column has it whole).
REASON_LEAD_CHARS = 240


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word's end, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    cut = cut[: cut.rfind(" ")] if " " in cut else cut
    return cut.rstrip(" ,;:(") + "…"


def _reason(cand: Candidate, key: dict, ev: pd.DataFrame) -> str:
    kinds = ev.groupby("kind")["strength"].max().sort_values(ascending=False)
    words = {
        "metric": "metrics moved",
        "termination": "containers were terminated",
        "event": "Kubernetes warned",
        "log": "new or bursting log errors",
        "security": "security alerts",
        "change": "a change was rolled out",
        "dependency": "callers' errors name it",
        "trace": "its calls slowed (trace-correlated logs)",
        "origin": "traced errors begin here",
        "sequence": "a step of its own code stopped running (trace-correlated logs)",
    }
    what = ", ".join(words.get(k, k) for k in kinds.index[:3])
    lead = ev.sort_values("strength", ascending=False)["text"].iloc[0] if len(ev) else ""
    first = cand.first_anomaly
    when = f" from {first:%H:%M:%S}" if pd.notna(first) else ""
    notes = "; ".join(cand.notes)
    name = schema.entity_name(key, cand.entity_kind, words=True)
    sentence = f"{name}: {what}{when} (strongest: {_clip(lead, REASON_LEAD_CHARS)})"
    return sentence + (f"; {notes}." if notes else ".")


def suspects(
    inv,
    at: object = None,
    level: str = "auto",
    top: int = 10,
    baseline: object = None,
    horizon: object = None,
    dependencies: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rank root-cause suspects with the evidence that implicates each, best first.

    Parameters
    ----------
    inv : Investigation
        The investigation.
    at : timestamp, optional
        The alert or incident time. Without it the onset is found from the data (the start of
        the densest burst of metric departures, notable events and new log errors); either way
        the time used is in the ``at`` column and ``attrs["at"]``.
    level : {"auto", "node", "workload", "pod", "container"}
        The level suspects are named at. ``auto`` names each at the level that explains its
        evidence: a node whose own trouble came first and spans pods of several workloads, a
        workload whose rollout preceded its new pods' trouble or whose pods are mostly in
        trouble together, else the pod (or the one container of a pod that carries the
        evidence).
    top : int
        How many suspects to return.
    baseline, horizon : duration, optional
        How far before and after ``at`` to compare (default: all the data).
    dependencies : DataFrame, optional
        The call graph: ``caller`` and ``callee`` columns of workload, Service or pod names
        (e.g. from a service mesh or tracing backend). Edges traced in log lines that carry
        ``trace_id`` and ``span_id`` are added (:func:`call_graph`). The deepest anomalous
        node wins: a candidate that calls, directly or through others, a candidate with at
        least half its score is scaled down, since its callee's trouble explains its own.
        Callers' errors naming a callee count for the callee with or without it.

    Returns
    -------
    DataFrame
        ``rank``, ``entity_kind``, the key columns (finer ones ``<NA>`` for a node or a
        workload), ``score``, ``first_anomaly``, ``at``, ``evidence`` (list of sentences,
        strongest first), ``kinds`` (which signals implicate it), ``reason`` (one sentence),
        ``margin`` (its lead over the next suspect, as a share of its score) and ``verdict``
        (``clear`` for a top suspect that leads by at least :data:`CLEAR_MARGIN`, else
        ``ambiguous`` for it and the suspects as close to it; ``behind`` for the others;
        :func:`conclusion` says it in a sentence). ``attrs``: ``at``, ``at_source``, ``level``,
        ``verdict``.

    Raises
    ------
    InvestigationError
        When ``level`` is not one of :data:`LEVELS`, ``top`` is not a positive integer, or
        ``at`` is not a timestamp.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("node-pressure")  # doctest: +SKIP
    >>> suspects(inv).loc[0, ["entity_kind", "node"]].tolist()  # doctest: +SKIP
    ['node', 'ip-10-0-33-145.eu-west-1.compute.internal']
    """
    _check_arguments(level, top, baseline)
    at_ts, at_source = _incident_time(inv, at)
    if at_ts is None:
        return _result([], None, at_source, level)
    ev, callers, step = _evidence(inv, at_ts, baseline, horizon)
    ev, taken = _rise_takers(inv, ev, at_ts)
    pods = _pods_table(inv, ev)
    cands = _pod_level(ev, pods, at_ts, callers)
    _explained_by_callees(cands, call_graph(inv, dependencies))
    rows = _at_level(level, cands, inv, ev, pods, at_ts, step)
    _taken_nodes(rows, taken)
    _time_order(rows, step)
    return _result(_ranked(rows)[:top], at_ts, at_source, level)


def _check_arguments(level: str, top: int, baseline: object) -> None:
    """Raise :class:`InvestigationError` for a level, ``top`` or baseline that cannot be used."""
    if level not in LEVELS:
        raise InvestigationError(
            f"level must be one of {', '.join(map(repr, LEVELS))}; got {level!r}"
        )
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise InvestigationError(f"top must be a positive integer, got {top!r}")
    if baseline is not None:
        as_duration(baseline, "baseline", error=InvestigationError)


def _incident_time(inv, at: object) -> tuple[pd.Timestamp | None, str]:
    """The time given (``"given"``), else the onset found in the data (``None`` if none is)."""
    if at is None:
        return find_onset(inv)
    return as_utc(at, "at", error=InvestigationError), "given"


def _at_level(
    level: str,
    cands: dict[tuple, Candidate],
    inv,
    ev: pd.DataFrame,
    pods: pd.DataFrame,
    at: pd.Timestamp,
    step: pd.Timedelta,
) -> list[Candidate]:
    """The pod candidates named at ``level``: as they are, split by container, or gathered by
    workload or node; ``auto`` names each at the level that explains it (:func:`_auto_level`)."""
    if level == "pod":
        return list(cands.values())
    if level == "container":
        return [c for cand in cands.values() for c in _containers(cand, at)]
    if level == "workload":
        return _all_workloads(cands, ev, at)
    if level == "node":
        return list(_explaining_nodes(cands, ev, at, 0.0, step, force=True).values())
    return _auto_level(cands, inv, ev, pods, at, step)


def _auto_level(
    cands: dict[tuple, Candidate],
    inv,
    ev: pd.DataFrame,
    pods: pd.DataFrame,
    at: pd.Timestamp,
    step: pd.Timedelta,
) -> list[Candidate]:
    """Nodes that explain their pods first, then workloads that explain the pods left, then
    the pods left (or the one container of a pod that carries the evidence)."""
    scores = [c.score for c in cands.values()]
    floor = FLOOR_SHARE * max(scores) if scores else 0.0
    nodes = _explaining_nodes(cands, ev, at, floor, step)
    claimed = set().union(*(n.claims for n in nodes.values())) if nodes else set()
    open_cands = {k: v for k, v in cands.items() if k not in claimed}
    workloads = _explaining_workloads(open_cands, ev, at, pods, floor)
    claimed |= set().union(*(w.claims for w in workloads.values())) if workloads else set()
    rows = [n for n in nodes.values() if n.claims] + list(workloads.values())
    for ident, cand in cands.items():
        if ident in claimed:
            continue
        split = _containers(cand, at)
        rows += split if len(split) == 1 and _multi_container(cand, inv) else [cand]
    return rows


def _ranked(rows: list[Candidate]) -> list[Candidate]:
    """Highest score first; between equal scores, the one that went anomalous first."""
    last = pd.Timestamp.max.tz_localize("UTC")
    return sorted(
        rows,
        key=lambda r: (-r.score, r.first_anomaly if pd.notna(r.first_anomaly) else last),
    )


def _multi_container(cand: Candidate, inv) -> bool:
    """Whether the pod runs several containers and only one of them carries evidence."""
    named = cand.ev["container"].dropna().unique()
    if len(named) != 1:
        return False
    metrics = inv.metrics
    pod_rows = metrics[(metrics["pod"] == cand.pod) & metrics["container"].notna()]
    containers = pod_rows["container"].astype("object").unique()
    containers = [c for c in containers if c != "POD"]
    return len(containers) >= 2


def _all_workloads(
    cands: dict[tuple, Candidate], ev: pd.DataFrame, at: pd.Timestamp
) -> list[Candidate]:
    by: dict[tuple, list] = {}
    for ident, cand in cands.items():
        if cand.workload is not None:
            by.setdefault((cand.namespace, cand.workload), []).append(ident)
    changes = ev[ev["kind"].eq("change") & ev["workload"].notna()]
    change_by = dict(list(changes.groupby(["namespace", "workload"], sort=False)))
    rows = []
    for wl, idents in by.items():
        parts = [cands[i].ev for i in idents]
        change = change_by.get(wl)
        if change is not None:
            parts.append(change)
        key = {
            "cluster": cands[idents[0]].cluster,
            "namespace": wl[0],
            "workload_kind": cands[idents[0]].workload_kind,
            "workload": wl[1],
        }
        cand = _candidate(
            "workload", key, pd.concat(parts, ignore_index=True), at, members=len(idents)
        )
        scores = [cands[i].score for i in idents]
        cand.score = (
            max(scores)
            + WORKLOAD_SPREAD_WEIGHT * float(np.mean(scores))
            + (CHANGE_BONUS if change is not None else 0.0)
        )
        rows.append(cand)
    return rows


def _result(
    rows: list[Candidate], at: pd.Timestamp | None, at_source: str, level: str
) -> pd.DataFrame:
    columns = [
        "rank",
        "entity_kind",
        *_KEY,
        "score",
        "first_anomaly",
        "at",
        "evidence",
        "kinds",
        "reason",
        "margin",
        "verdict",
    ]
    records = []
    for i, row in enumerate(rows, start=1):
        ev = row.ev.sort_values("strength", ascending=False, kind="stable")
        ev = ev.drop_duplicates("text")
        kind = row.entity_kind
        key = row.key()
        if kind in ("node", "workload"):
            for c in ("pod", "container") + (
                ("namespace", "workload_kind", "workload") if kind == "node" else ("node",)
            ):
                key[c] = None
        if kind == "pod":
            key["container"] = None
        records.append(
            {
                "rank": i,
                "entity_kind": kind,
                **key,
                "score": round(float(row.score), 3),
                "first_anomaly": row.first_anomaly,
                "at": at,
                "evidence": ev["text"].head(8).tolist(),
                "kinds": sorted(set(ev["kind"])),
                "reason": _reason(row, key, ev),
            }
        )
    scores = [float(r.score) for r in rows]
    margins, verdicts = _margins(scores, _own_share(rows[0]) * scores[0] if rows else None)
    for rec, m, v in zip(records, margins, verdicts, strict=True):
        rec["margin"], rec["verdict"] = m, v
    out = pd.DataFrame.from_records(records, columns=columns)
    for c in _KEY:
        out[c] = out[c].astype("object").where(out[c].notna(), None).astype("category")
    out["rank"] = out["rank"].astype(np.int64)
    out["score"] = out["score"].astype(float)
    out["first_anomaly"] = pd.to_datetime(out["first_anomaly"], utc=True).astype(schema.TIME)
    out["at"] = pd.to_datetime(out["at"], utc=True).astype(schema.TIME)
    out["margin"] = out["margin"].astype(float)
    out["verdict"] = out["verdict"].astype(object)
    out.attrs["verdict"] = verdicts[0] if verdicts else "none"
    out.attrs["unsure"] = _unsure_kinds(rows[0]) if rows else []
    out.attrs["at"] = at
    out.attrs["at_source"] = at_source
    out.attrs["level"] = level
    return out


def _margins(scores: list[float], own_top: float | None = None) -> tuple[list[float], list[str]]:
    """Each suspect's lead over the next one, as a share of its own score, and the verdicts.

    The top suspect is ``clear`` when its lead is at least :data:`CLEAR_MARGIN` (or it is the
    only suspect); otherwise it and every suspect within :data:`CLEAR_MARGIN` of its score are
    ``ambiguous`` (the ranking cannot tell them apart). The others are ``behind``. The last
    suspect's margin is over a score of 0 (nothing came after it among those returned).

    The lead must hold on the top suspect's own, confirmed evidence (``own_top``: its score
    from what it measured itself and both detectors saw, see :func:`_own_share`): a top whose
    lead rests on what other pods measured about it (its callers' proxies timing their calls
    to it, which holds the path between them too) or on spikes of a noisy series that NSigma
    does not call out is not called clear; it is ambiguous with the suspects its sure evidence
    does not lead clearly.
    """
    if not scores:
        return [], []
    margins = []
    for i, s in enumerate(scores):
        nxt = scores[i + 1] if i + 1 < len(scores) else 0.0
        margins.append(round((s - nxt) / s, 3) if s > 0 else 0.0)
    top = scores[0]
    ref = top if own_top is None or len(scores) < 2 else min(top, own_top)
    if margins[0] >= CLEAR_MARGIN and (len(scores) < 2 or (ref - scores[1]) / top >= CLEAR_MARGIN):
        return margins, ["clear"] + ["behind"] * (len(scores) - 1)
    close = [top > 0 and (ref - s) / top < CLEAR_MARGIN for s in scores]
    close[0] = True
    return margins, ["ambiguous" if c else "behind" for c in close]


def _own_share(cand: Candidate) -> float:
    """The share of a candidate's score its own, confirmed measurements make: without the
    evidence only other pods measured about it (``measured_by``: a call edge timed by the
    caller's proxy that nothing else bears out, :func:`_edge_paths`), nor the moves only one
    of the two detectors saw (``unconfirmed``: a spike NSigma does not call out of the ordinary
    is not enough to be sure of)."""
    ev = cand.ev
    unsure = pd.Series(False, index=ev.index)
    if "measured_by" in ev:
        unsure |= ev["measured_by"].notna()
    if "unconfirmed" in ev:
        unsure |= ev["unconfirmed"].eq(True)
    if not unsure.any():
        return 1.0
    return _score(ev[~unsure]) / max(_score(ev), 1e-9)


def _unsure_kinds(cand: Candidate) -> list[str]:
    """What of a candidate's evidence :func:`_own_share` leaves out: ``caller`` (what only its
    callers' proxies measured), ``unconfirmed`` (moves only one of the two detectors saw)."""
    ev = cand.ev
    kinds = []
    if "measured_by" in ev and ev["measured_by"].notna().any():
        kinds.append("caller")
    if "unconfirmed" in ev and ev["unconfirmed"].eq(True).any():
        kinds.append("unconfirmed")
    return kinds


#: How :func:`conclusion` says what a lead rests on that is not the top suspect's own.
_UNSURE_WORDS = {
    "caller": "what its callers' proxies measured (their timing includes the network between "
    "the pods)",
    "unconfirmed": "spikes only one of the two detectors saw (far out against the median, "
    "not against the mean and standard deviation of a baseline that spiked before)",
}


def _why_ambiguous(suspects: pd.DataFrame, close: list[str]) -> str:
    """Why a ranking is ambiguous: its first scores are close, or the top one's lead rests on
    evidence it did not measure itself or that one detector alone saw."""
    if "score" not in suspects or len(suspects) < 2:
        return "no suspect leads the others clearly"
    top, nxt = (float(x) for x in suspects["score"].iloc[:2])
    if top <= 0 or (top - nxt) / top < CLEAR_MARGIN:
        scores = [f"{float(x):.1f}" for x in suspects["score"].iloc[: len(close)]]
        listed = f"{', '.join(scores[:-1])} and {scores[-1]}"
        return (
            f"their scores are within a third of the top one's ({listed}); look at each "
            "before settling on one"
        )
    unsure = suspects.attrs.get("unsure") or list(_UNSURE_WORDS)
    rests = " and on ".join(_UNSURE_WORDS[k] for k in unsure if k in _UNSURE_WORDS)
    return (
        f"{close[0]} scores highest ({top:.1f} against {nxt:.1f}), but that lead rests on "
        f"{rests}; on its own, sure evidence it does not lead by a third"
    )


def conclusion(suspects: pd.DataFrame) -> str:
    """One sentence on what a :func:`suspects` frame concludes, as sure as its verdict is.

    ``clear``: names the top suspect. ``ambiguous``: names the suspects the ranking cannot tell
    apart ("ambiguous between A and B") instead of picking one, and says why: their scores are
    within a third of each other, or the top one's lead rests on what its callers measured or
    on moves only one of the two detectors saw (``attrs["unsure"]``).

    Examples
    --------
    >>> frame = pd.DataFrame({"entity_kind": ["pod", "pod"], "namespace": ["shop", "shop"],
    ...     "pod": ["api-1", "db-0"], "verdict": ["ambiguous", "ambiguous"]})
    >>> conclusion(frame)
    'Ambiguous between pod shop/api-1 and pod shop/db-0: no suspect leads the others clearly.'
    >>> frame["score"] = [4.0, 3.5]
    >>> print(conclusion(frame))  # doctest: +NORMALIZE_WHITESPACE
    Ambiguous between pod shop/api-1 and pod shop/db-0: their scores are within a third of
    the top one's (4.0 and 3.5); look at each before settling on one.
    """
    if suspects is None or not len(suspects):
        return "No root-cause suspect: nothing moved against its baseline."
    names = [
        schema.entity_name(row, row.get("entity_kind"), words=True)
        for _, row in suspects.iterrows()
    ]
    verdict = suspects["verdict"].astype(str).tolist() if "verdict" in suspects else []
    if not verdict or verdict[0] != "ambiguous":
        return f"The top suspect is {names[0]}, clearly ahead of the next."
    close = [n for n, v in zip(names, verdict, strict=True) if v == "ambiguous"][:4]
    listed = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} and {close[-1]}"
    return f"Ambiguous between {listed}: {_why_ambiguous(suspects, close)}."
