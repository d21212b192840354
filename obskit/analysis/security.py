"""Security detections on the API-server audit log and Falco alerts, in the events schema.

:func:`detect` turns audit requests and Falco alerts into *detections*: one ``events`` row per
rule, entity and burst (``source="detection"``), on the same metadata key and time axis as
everything else, so a detection sits in the timeline beside the pod's OOMKills and error logs.
Each detection carries its rule (``rule`` = rule id, ``reason`` = title), ``severity`` on
obskit's scale and the rule's own ``rule_severity`` (low, medium, high, critical), the MITRE
ATT&CK for Containers ``technique`` and ``technique_name``, the actor (``user``,
``service_account``, ``source_ip``, ``user_agent``, Falco's ``process``), ``timestamp`` (the
burst's first evidence) and ``end`` (its last), ``count`` and ``evidence``: the ids of the rows
it stands on (audit ``auditID``\\s, Falco alerts as ``<origin>:<line>``); :func:`evidence` fetches
those rows back.

The audit rules (:data:`RULES`; ideas from the Microsoft Sentinel AKS hunting notebook and the
SigmaHQ Kubernetes audit rules, code of our own) read what the audit policy logged: the rules on
pod specs, RBAC objects and ConfigMaps need ``Request`` or ``RequestResponse`` level for those
resources; the others work on ``Metadata``. Each audit rule is one small function registered
with its metadata right above it (``@_audit_rule(id, title, severity, technique, description)``),
and :func:`detect` runs every registered rule over the same prepared requests (``_Audit``); a
new rule is one more such function.

What is *unusual* is learned from the investigation's own history, not from a list:

- a subject is *first seen* for an activity (exec into pods, reading secrets) in a namespace
  when it did not do it there earlier in the data, nor in the ``baseline``;
- ``first_seen`` says, for each audit detection, which of subject, source IP and user agent its
  first request was the first of in that namespace;
- the cluster's usual networks are those its own components (nodes, control plane,
  ``kube-system`` service accounts) and, with a baseline, the pod tokens call from; a pod's
  service-account token used from anywhere else is flagged.

Falco alerts keep Falco's rule and priority (``critical``/``alert``/``emergency`` → critical,
``error`` → high, ``warning`` → medium, ``notice`` → low, below → info) and are deduplicated the
same way: one detection per rule and entity per burst, with a count.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import orjson
import pandas as pd

from obskit import schema
from obskit._chars import disguises
from obskit.analysis._podspec import containers, is_sensitive_path, pod_spec
from obskit.errors import InvestigationError
from obskit.redaction import redact

if TYPE_CHECKING:
    from obskit.investigation import Investigation

__all__ = [
    "FALCO_K8S_AUDIT_RULES",
    "RULES",
    "RULE_SEVERITY",
    "TECHNIQUES",
    "Rule",
    "detect",
    "evidence",
    "rules",
]

#: A rule's own severity -> obskit's severity scale (:data:`obskit.schema.SEVERITIES`).
RULE_SEVERITY: dict[str, str] = {
    "info": "info",
    "low": "notice",
    "medium": "warning",
    "high": "error",
    "critical": "critical",
}

#: Falco priority -> rule severity.
_FALCO_PRIORITY = {
    "emergency": "critical",
    "alert": "critical",
    "critical": "critical",
    "error": "high",
    "warning": "medium",
    "notice": "low",
    "informational": "info",
    "info": "info",
    "debug": "info",
}

#: MITRE ATT&CK (Containers matrix and the techniques Falco tags) id -> name.
TECHNIQUES: dict[str, str] = {
    "T1003": "OS Credential Dumping",
    "T1036": "Masquerading",
    "T1036.002": "Masquerading: Right-to-Left Override",
    "T1040": "Network Sniffing",
    "T1046": "Network Service Discovery",
    "T1053.007": "Scheduled Task/Job: Container Orchestration Job",
    "T1059": "Command and Scripting Interpreter",
    "T1059.004": "Command and Scripting Interpreter: Unix Shell",
    "T1068": "Exploitation for Privilege Escalation",
    "T1070": "Indicator Removal",
    "T1078": "Valid Accounts",
    "T1078.001": "Valid Accounts: Default Accounts",
    "T1098": "Account Manipulation",
    "T1098.006": "Account Manipulation: Additional Container Cluster Roles",
    "T1105": "Ingress Tool Transfer",
    "T1110": "Brute Force",
    "T1136": "Create Account",
    "T1190": "Exploit Public-Facing Application",
    "T1204": "User Execution",
    "T1496": "Resource Hijacking",
    "T1528": "Steal Application Access Token",
    "T1548": "Abuse Elevation Control Mechanism",
    "T1552": "Unsecured Credentials",
    "T1552.007": "Unsecured Credentials: Container API",
    "T1555": "Credentials from Password Stores",
    "T1562": "Impair Defenses",
    "T1562.001": "Impair Defenses: Disable or Modify Tools",
    "T1565": "Data Manipulation",
    "T1572": "Protocol Tunneling",
    "T1609": "Container Administration Command",
    "T1610": "Deploy Container",
    "T1611": "Escape to Host",
    "T1612": "Build Image on Host",
    "T1613": "Container and Resource Discovery",
}


@dataclass(frozen=True)
class Rule:
    """One detection rule: short id, title, what it finds, severity and ATT&CK technique.

    ``find`` is the rule's check over the audit requests (None for Falco's rules, whose alerts
    arrive already found): it returns the mask of the requests it flags, or a :class:`_Found`
    with the fields its hits set as well.
    """

    id: str
    title: str
    severity: str
    technique: str
    description: str
    find: Callable[[_Audit], pd.Series | _Found] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def technique_name(self) -> str:
        """The technique's name in ATT&CK."""
        return TECHNIQUES.get(self.technique, self.technique)


#: Every rule :func:`detect` applies, by id (Falco alerts of rules not listed here get the id
#: ``falco.<slug of the Falco rule name>`` and the technique of their ATT&CK tag). Filled below,
#: in "the audit rules" (each rule's metadata beside its check) and "Falco's rules".
RULES: dict[str, Rule] = {}


#: Falco (syscall) rule name -> rule id, for the Falco rules :data:`RULES` names.
_FALCO_IDS: dict[str, str] = {
    "Terminal shell in container": "falco.terminal-shell-in-container",
    "Contact K8S API Server From Container": "falco.contact-k8s-api-from-container",
    "Drop and execute new binary in container": "falco.drop-and-execute-new-binary",
    "Detect outbound connections to common miner pool ports": "falco.miner-pool-connection",
    "Detect crypto miners using the Stratum protocol": "falco.miner-pool-connection",
    "Read sensitive file untrusted": "falco.read-sensitive-file-untrusted",
    "Packet socket created in container": "falco.packet-socket-in-container",
}

#: Falco's k8s_audit rules that obskit's audit rules cover too: Falco rule -> the obskit rule
#: ids that stand for it. Tested against the labels of Falco's own trace files.
FALCO_K8S_AUDIT_RULES: dict[str, frozenset[str]] = {
    "Attach/Exec Pod": frozenset({"audit.pod-exec", "audit.pod-exec-unusual-subject"}),
    "Create Privileged Pod": frozenset({"audit.privileged-pod-created"}),
    "Create HostNetwork Pod": frozenset({"audit.host-namespace-pod-created"}),
    "Create Sensitive Mount Pod": frozenset({"audit.sensitive-hostpath-pod-created"}),
    "Anonymous Request Allowed": frozenset({"audit.anonymous-request-allowed"}),
    "Attach to cluster-admin Role": frozenset({"audit.rbac-cluster-admin-binding"}),
    "ClusterRole With Wildcard Created": frozenset({"audit.rbac-wildcard-role"}),
    "System ClusterRole Modified/Deleted": frozenset({"audit.system-clusterrole-modified"}),
    "Service Account Created in Kube Namespace": frozenset(
        {"audit.serviceaccount-created-in-kube-namespace"}
    ),
    "Create/Modify Configmap With Private Credentials": frozenset(
        {"audit.configmap-with-credentials"}
    ),
}

# --- tunables ---------------------------------------------------------------------------------

#: Detections of one rule and entity closer than this to each other are one burst.
DEFAULT_BURST = pd.Timedelta("10min")
#: audit.auth-failure-burst: this many 401/403 answers from one source IP ...
AUTH_FAILURES = 5
#: ... each within this much of the previous one.
AUTH_FAILURE_GAP = pd.Timedelta("5min")
#: Prefix length that makes an address's network (IPv4, IPv6) for the usual-networks rule.
NETWORK_PREFIX = (16, 64)

_KUBE_NAMESPACES = ("kube-system", "kube-public")
_WORKLOAD_RESOURCES = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "replicationcontrollers": "ReplicationController",
}
_BODY_RESOURCES = frozenset(
    {
        "pods",
        *_WORKLOAD_RESOURCES,
        "roles",
        "clusterroles",
        "rolebindings",
        "clusterrolebindings",
        "configmaps",
    }
)
_WRITES = ("create", "update", "patch")
_HEALTH = re.compile(r"^/(?:healthz|livez|readyz|version)(?:/|$|\?)")
_POD_NAME = "authentication.kubernetes.io/pod-name"
_NODE_NAME = "authentication.kubernetes.io/node-name"
_ANONYMOUS = frozenset({"system:anonymous", "system:unauthenticated"})

#: ``rule_severity`` is ordered, so ``found[found.rule_severity >= "high"]`` works.
_RULE_SEVERITY_DTYPE = pd.CategoricalDtype(list(RULE_SEVERITY), ordered=True)
_CATEGORY_EXTRAS = (
    "technique",
    "technique_name",
    "service_account",
    "process",
    "first_seen",
    "detection_source",
)

_ACTOR_RULES = (
    "audit.secrets-list-by-serviceaccount",
    "audit.secrets-read-unusual-subject",
    "audit.serviceaccount-token-unusual-source-ip",
)

_OUT_EXTRAS = [
    "rule_severity",
    "technique",
    "technique_name",
    "service_account",
    "process",
    "first_seen",
    "end",
    "evidence",
    "detection_source",
]


# --- helpers ------------------------------------------------------------------------------------


def _obj(series: pd.Series) -> pd.Series:
    """A column as Python objects with None for missing, whatever its dtype."""
    out = series.astype("object")
    return out.where(out.notna(), None)


def _service_account(user: pd.Series) -> pd.Series:
    """``namespace:name`` of service-account users, None for others."""
    parts = user.str.extract(r"^system:serviceaccount:([^:]+):([^:]+)$")
    return (parts[0] + ":" + parts[1]).where(parts[0].notna(), None)


def _is_system(user: pd.Series) -> pd.Series:
    """Cluster components: nodes, the control plane, kube-system service accounts."""
    text = user.fillna("")
    component = text.str.startswith("system:") & ~text.str.startswith("system:serviceaccount:")
    component &= ~text.isin(_ANONYMOUS)
    return component | text.str.startswith("system:serviceaccount:kube-system:")


def _network(address: object) -> str | None:
    if not isinstance(address, str):
        return None
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None
    prefix = NETWORK_PREFIX[0] if ip.version == 4 else NETWORK_PREFIX[1]
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _networks(addresses: pd.Series) -> pd.Series:
    """The network of each address, computed once per distinct address."""
    unique = addresses.dropna().unique()
    return addresses.map({a: _network(a) for a in unique})


def _disguised(requests: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Per request, which of ``columns`` hold disguising characters (and which), else None."""
    found = pd.Series(None, index=requests.index, dtype="object")
    for column in columns:
        values = requests[column]
        named = {v: disguises(v) for v in values.dropna().unique() if isinstance(v, str)}
        named = {v: f"{column}: {', '.join(chars)}" for v, chars in named.items() if chars}
        if not named:
            continue
        detail = values.map(named)
        found = found.where(detail.isna(), found.fillna("").str.cat(detail, sep="; "))
    return found.str.strip("; ")


def _loads(raw: object) -> dict:
    if not isinstance(raw, str):
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- baseline ---------------------------------------------------------------------------------


@dataclass
class _Baseline:
    """What the baseline says: a learning window in the data and/or outside history."""

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    history: pd.DataFrame | None = None

    def learning(self, times: pd.Series) -> pd.Series:
        """True for rows inside the learning window (never flagged as unusual)."""
        if self.end is None:
            return pd.Series(False, index=times.index)
        inside = times <= self.end
        if self.start is not None:
            inside &= times >= self.start
        return inside


def _baseline(baseline: object, requests: pd.DataFrame) -> _Baseline:
    if baseline is None:
        return _Baseline()
    if isinstance(baseline, str | pd.Timedelta):
        try:
            span = pd.Timedelta(baseline)
        except ValueError as exc:
            raise InvestigationError(
                f"baseline {baseline!r} is not a duration; give one like '30min' or '2h', a "
                "(start, end) pair, or an events frame / Investigation of earlier history"
            ) from exc
        if span <= pd.Timedelta(0):
            raise InvestigationError(f"baseline must be a positive duration, got {baseline!r}")
        if requests.empty:
            return _Baseline()
        start = requests["timestamp"].min()
        return _Baseline(start=start, end=start + span)
    if isinstance(baseline, tuple) and len(baseline) == 2:
        try:
            lo, hi = (pd.Timestamp(v) if v is not None else None for v in baseline)
        except (ValueError, TypeError) as exc:
            raise InvestigationError(
                f"baseline {baseline!r} must be a (start, end) pair of timestamps like "
                "('2024-01-01T10:00Z', '2024-01-01T11:00Z')"
            ) from exc
        lo = lo.tz_localize("UTC") if lo is not None and lo.tzinfo is None else lo
        hi = hi.tz_localize("UTC") if hi is not None and hi.tzinfo is None else hi
        if lo is not None and hi is not None and lo > hi:
            raise InvestigationError(f"baseline start {lo} is after its end {hi}; swap them")
        return _Baseline(
            start=lo, end=hi if hi is not None else pd.Timestamp.max.tz_localize("UTC")
        )
    events = getattr(baseline, "events", baseline)
    if isinstance(events, pd.DataFrame):
        return _Baseline(history=_requests(schema.conform("events", events)))
    raise InvestigationError(
        f"baseline must be None, a duration ('30min'), a (start, end) pair, or an events "
        f"frame / Investigation of earlier history; got {type(baseline).__name__}"
    )


# --- audit requests ------------------------------------------------------------------------------

_REQUEST_COLUMNS = [
    "timestamp",
    "uid",
    "user",
    "verb",
    "resource",
    "subresource",
    "api_group",
    "namespace",
    "pod",
    "container",
    "node",
    "cluster",
    "workload_kind",
    "workload",
    "object_kind",
    "object_name",
    "source_ip",
    "user_agent",
    "response_code",
    "decision",
    "request_uri",
    "raw",
]


def _requests(events: pd.DataFrame) -> pd.DataFrame:
    """One row per audit request (its final stage), timed by its first stage, as objects."""
    audit = events.loc[events["source"] == "audit"]
    if audit.empty:
        return pd.DataFrame(columns=[*_REQUEST_COLUMNS, "sa", "ns"])
    if "final_stage" in audit.columns:
        final = audit["final_stage"].astype("boolean").fillna(True).astype(bool)
    else:
        from obskit.sources.audit import final_stages

        final = final_stages(audit)
    first = audit.groupby(audit["uid"].astype("object"), dropna=True)["timestamp"].min()
    out = pd.DataFrame(
        {c: _obj(audit[c]) if c in audit.columns else None for c in _REQUEST_COLUMNS},
        index=audit.index,
    ).loc[final.to_numpy()]
    started = out["uid"].map(first)
    out["timestamp"] = audit.loc[out.index, "timestamp"].where(started.isna(), started)
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    out["response_code"] = pd.to_numeric(out["response_code"], errors="coerce")
    user = out["user"].astype("object")
    out["sa"] = _service_account(user.where(user.notna(), ""))
    # the namespace a request acts in: its object's, else the service account's own
    sa_ns = out["sa"].str.split(":").str[0]
    out["ns"] = out["namespace"].where(out["namespace"].notna(), sa_ns)
    return out.sort_values("timestamp", kind="stable")


def _first(requests: pd.DataFrame, columns: list[str], known: pd.DataFrame | None) -> pd.Series:
    """True where a request is the first with its values of ``columns`` (and not in ``known``)."""
    if requests.empty:
        return pd.Series(False, index=requests.index)
    keys = requests[columns].fillna("")
    new = ~keys.duplicated(keep="first")
    if known is not None and not known.empty:
        seen = pd.MultiIndex.from_frame(known[columns].fillna("").drop_duplicates())
        new &= ~pd.MultiIndex.from_frame(keys).isin(seen)
    return new


def _novelty(requests: pd.DataFrame, history: pd.DataFrame | None) -> pd.Series:
    """Which of subject, source IP, user agent each request is the first of in its namespace."""
    parts = []
    for label, column in (
        ("subject", "user"),
        ("source_ip", "source_ip"),
        ("user_agent", "user_agent"),
    ):
        first = _first(requests, ["ns", column], history) & requests[column].notna()
        parts.append(first.map({True: label, False: ""}))
    joined = parts[0].str.cat(parts[1:], sep=",").str.strip(",").str.replace(",,", ",")
    return joined.where(joined != "", None)


def _hits(
    requests: pd.DataFrame, mask: pd.Series | np.ndarray, rule: str, **columns: object
) -> pd.DataFrame:
    """The requests under ``mask`` as hits of ``rule`` (``columns`` override their fields)."""
    part = requests.loc[np.asarray(mask, dtype=bool)].copy()
    part["rule"] = rule
    for name, value in columns.items():
        part[name] = value.loc[part.index] if isinstance(value, pd.Series) else value
    return part


# --- what the audit rules read -----------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """The requests a rule flags (a mask over them) and the fields its hits set."""

    mask: pd.Series
    columns: dict[str, object] = field(default_factory=dict)


class _Audit:
    """The audit requests with what several rules read from them, each computed once."""

    def __init__(self, requests: pd.DataFrame, base: _Baseline) -> None:
        self.r = requests
        self.history = base.history
        self.base = base
        self.verb = requests["verb"]
        self.resource = requests["resource"]
        self.sub = requests["subresource"]
        code = requests["response_code"]
        self.allowed = (requests["decision"] != "forbid") & ~(code >= 400).fillna(False)
        self.system = _is_system(requests["user"])
        self.learning = base.learning(requests["timestamp"])
        self.pods = self.resource == "pods"
        self.none = pd.Series(False, index=requests.index)

    def known(self, activity: pd.Series) -> pd.DataFrame | None:
        """The baseline history's requests of an activity (``activity``: a mask over it)."""
        if self.history is None or self.history.empty:
            return None
        return self.history.loc[activity]

    def first_seen(self, mask: pd.Series, known: pd.DataFrame | None) -> pd.Series:
        """Requests under ``mask`` whose subject never did that in the namespace before."""
        done = self.r.loc[mask]
        unusual = _first(done, ["ns", "user"], known) & ~self.learning.loc[done.index]
        return unusual.reindex(self.r.index, fill_value=False)

    @cached_property
    def bound(self) -> pd.Series:
        """Requests made with a pod-bound service-account token."""
        r = self.r
        return r["sa"].notna() & r["raw"].fillna("").str.contains(_POD_NAME, regex=False)

    @cached_property
    def actor(self) -> dict[str, pd.Series]:
        """Where the caller is: its service account's namespace, its token's pod and node."""
        r, bound = self.r, self.bound
        token_pod = pd.Series(None, index=r.index, dtype="object")
        token_node = pd.Series(None, index=r.index, dtype="object")
        for i in r.index[bound]:
            extra = (_loads(r.at[i, "raw"]).get("user") or {}).get("extra") or {}
            token_pod[i] = (extra.get(_POD_NAME) or [None])[0]
            token_node[i] = (extra.get(_NODE_NAME) or [None])[0]
        namespace = r["sa"].str.split(":").str[0].where(r["sa"].notna(), r["namespace"])
        return {
            "namespace": namespace,
            "pod": token_pod.where(bound, None),
            "node": token_node.where(bound, None),
        }

    @cached_property
    def sessions(self) -> pd.Series:
        """Allowed exec and attach sessions into pods."""
        return self.pods & self.sub.isin(["exec", "attach"]) & self.allowed

    @cached_property
    def unusual_sessions(self) -> pd.Series:
        """Sessions by a subject that never opened one in the namespace before."""
        if not self.sessions.any():
            return self.none
        h = self.history
        known = None
        if h is not None:
            known = self.known(
                (h["resource"] == "pods") & h["subresource"].isin(["exec", "attach"])
            )
        return self.first_seen(self.sessions, known)

    @cached_property
    def secret_reads(self) -> pd.Series:
        """Allowed reads of secrets by subjects that are not cluster components."""
        reads = (self.resource == "secrets") & self.sub.isna()
        return reads & self.verb.isin(["get", "list", "watch"]) & self.allowed & ~self.system

    @cached_property
    def unusual_secret_reads(self) -> pd.Series:
        """Secret reads by a subject that never read secrets in the namespace before."""
        if not self.secret_reads.any():
            return self.none
        h = self.history
        known = None
        if h is not None:
            known = self.known(
                (h["resource"] == "secrets") & h["verb"].isin(["get", "list", "watch"])
            )
        return self.first_seen(self.secret_reads, known)

    @cached_property
    def reader(self) -> dict[str, pd.Series]:
        """Who read the secrets: the actor, in the namespace read, at its token's pod or its own."""
        reader = dict(self.actor)
        reader["namespace"] = self.r["ns"]
        reader["pod"] = reader["pod"].where(reader["pod"].notna(), self.r["pod"])
        return reader

    @cached_property
    def by_serviceaccount(self) -> pd.Series:
        """Lists and watches by service accounts."""
        return self.r["sa"].notna() & self.verb.isin(["list", "watch"])

    @cached_property
    def written(self) -> list[tuple[object, str, dict]]:
        """(request, resource, object) of the pod specs, RBAC objects and ConfigMaps written."""
        r = self.r
        writes = self.verb.isin(_WRITES) & self.resource.isin(_BODY_RESOURCES) & self.sub.isna()
        writes &= r["raw"].fillna("").str.contains('"requestObject"|"responseObject"', regex=True)
        out = []
        for i in r.index[writes]:
            event = _loads(r.at[i, "raw"])
            body = event.get("requestObject")
            if not isinstance(body, dict) or body.get("kind") == "Status":
                body = event.get("responseObject")
            if isinstance(body, dict):
                out.append((i, r.at[i, "resource"], body))
        return out

    @cached_property
    def created_in_kube_namespace(self) -> pd.Series:
        """Creations in kube-system or kube-public by subjects that are not cluster components."""
        kube = self.r["namespace"].isin(_KUBE_NAMESPACES) & (self.verb == "create")
        return kube & self.sub.isna() & ~self.system


_Check = TypeVar("_Check", bound=Callable)


@dataclass(frozen=True)
class _Written:
    """The written objects a rule checks: of which resources, by whom, the object or its pod
    spec. The rule's check takes that one object and returns its hit's detail, or None."""

    resources: frozenset[str]
    people_only: bool = False
    pod_spec: bool = False

    def find(self, check: Callable[[dict], str | None]) -> Callable[[_Audit], _Found]:
        """The rule's find: ``check`` over every object written of these resources."""

        def find(a: _Audit) -> _Found:
            details = {}
            for i, resource, body in a.written:
                if resource not in self.resources or (self.people_only and a.system[i]):
                    continue
                checked = pod_spec(body, resource) if self.pod_spec else body
                detail = check(checked) if checked else None
                if detail:
                    details[i] = detail
            return _written_hits(a.r, details)

        return find


_POD_SPECS = _Written(frozenset({"pods", *_WORKLOAD_RESOURCES}), pod_spec=True)
_BINDINGS = _Written(frozenset({"rolebindings", "clusterrolebindings"}), people_only=True)
_ROLES = _Written(frozenset({"roles", "clusterroles"}), people_only=True)
_CONFIGMAPS = _Written(frozenset({"configmaps"}))


def _written_hits(r: pd.DataFrame, details: dict[object, str]) -> _Found:
    """Requests that wrote a flagged object: their detail, and a workload's kind and name."""
    flagged = pd.Series(r.index.isin(list(details)), index=r.index)
    if not details:
        return _Found(flagged)
    hit = r.loc[flagged]
    workload = hit["resource"].isin(_WORKLOAD_RESOURCES)
    kind = hit["resource"].map(_WORKLOAD_RESOURCES).astype("object")
    columns = {
        "detail": pd.Series(details, dtype="object"),
        "workload_kind": hit["workload_kind"].mask(workload, kind),
        "workload": hit["workload"].mask(workload, hit["object_name"]),
    }
    return _Found(flagged, columns)


def _audit_rule(
    id: str,
    title: str,
    severity: str,
    technique: str,
    description: str,
    *,
    written: _Written | None = None,
) -> Callable[[_Check], _Check]:
    """Register the check below as audit rule ``id`` in :data:`RULES`. It takes the requests
    (:class:`_Audit`) and returns the mask of those it flags, or a :class:`_Found`; with
    ``written``, it takes one written object and returns the hit's detail, or None."""

    def register(check: _Check) -> _Check:
        find = written.find(check) if written is not None else check
        RULES[id] = Rule(id, title, severity, technique, description, find=find)
        return check

    return register


# --- the audit rules (each rule's metadata beside its check) -----------------------------------


@_audit_rule(
    "audit.pod-exec",
    "Exec or attach into a pod",
    "low",
    "T1609",
    "An exec or attach session into a container, by a subject that opened one in this "
    "namespace before.",
)
def _pod_exec(a: _Audit) -> pd.Series:
    return a.sessions & ~a.unusual_sessions


@_audit_rule(
    "audit.pod-exec-unusual-subject",
    "Exec or attach into a pod by a first-seen subject",
    "high",
    "T1609",
    "An exec or attach session into a container by a subject that never opened one in "
    "this namespace before (in the data or the baseline).",
)
def _pod_exec_unusual_subject(a: _Audit) -> pd.Series:
    return a.unusual_sessions


@_audit_rule(
    "audit.pod-portforward",
    "Port-forward to a pod",
    "medium",
    "T1572",
    "A port-forward tunnel to a pod.",
)
def _pod_portforward(a: _Audit) -> pd.Series:
    return a.pods & (a.sub == "portforward") & a.allowed


@_audit_rule(
    "audit.ephemeral-container-added",
    "Ephemeral container added to a pod",
    "medium",
    "T1609",
    "An ephemeral (debug) container added to a running pod (kubectl debug).",
)
def _ephemeral_container_added(a: _Audit) -> pd.Series:
    added = a.pods & (a.sub == "ephemeralcontainers") & a.verb.isin(["update", "patch"])
    return added & a.allowed


@_audit_rule(
    "audit.secrets-list-by-serviceaccount",
    "Secrets listed by a first-seen service account",
    "high",
    "T1552.007",
    "A service account lists or watches secrets in a namespace where it never did before: "
    "typical of a stolen pod token harvesting credentials.",
)
def _secrets_list_by_serviceaccount(a: _Audit) -> _Found:
    return _Found(a.unusual_secret_reads & a.by_serviceaccount, a.reader)


@_audit_rule(
    "audit.secrets-read-unusual-subject",
    "Secrets read by a first-seen subject",
    "medium",
    "T1552.007",
    "A subject (not a cluster component) reads secrets in a namespace where it never did before.",
)
def _secrets_read_unusual_subject(a: _Audit) -> _Found:
    return _Found(a.unusual_secret_reads & ~a.by_serviceaccount, a.reader)


@_audit_rule(
    "audit.serviceaccount-token-unusual-source-ip",
    "Pod service-account token used from outside the cluster's networks",
    "high",
    "T1528",
    "A pod-bound service-account token calls the API from an address outside the networks "
    "the cluster's own components (and, with a baseline, its pods) call from.",
)
def _serviceaccount_token_unusual_source_ip(a: _Audit) -> pd.Series | _Found:
    if not a.bound.any():
        return a.none
    r, history = a.r, a.history
    network = _networks(r["source_ip"])
    usual = set(network[a.system & network.notna()])
    if history is not None and not history.empty:
        calls = _is_system(history["user"]) | history["sa"].notna()
        usual |= set(_networks(history.loc[calls, "source_ip"]).dropna())
    if a.base.end is not None:
        usual |= set(network[a.learning & (a.system | r["sa"].notna())].dropna())
    if not usual:
        return a.none
    outside = a.bound & network.notna() & ~network.isin(usual)
    where = f", outside the cluster's {len(usual)} usual network(s)"
    detail = "from " + r["source_ip"].fillna("?") + where
    return _Found(outside, {"detail": detail, **a.actor})


@_audit_rule(
    "audit.serviceaccount-token-requested",
    "Service-account token requested",
    "medium",
    "T1528",
    "A TokenRequest for a service account by a subject that is not a node or the control plane.",
)
def _serviceaccount_token_requested(a: _Audit) -> pd.Series:
    token = (a.resource == "serviceaccounts") & (a.sub == "token")
    return token & (a.verb == "create") & ~a.system


@_audit_rule(
    "audit.privileged-pod-created",
    "Privileged pod created",
    "high",
    "T1611",
    "A pod (or a workload's pod template) with a privileged container is created.",
    written=_POD_SPECS,
)
def _privileged_pod_created(spec: dict) -> str | None:
    names = [
        str(c.get("name"))
        for c in containers(spec)
        if (c.get("securityContext") or {}).get("privileged") is True
    ]
    return f"privileged container(s) {', '.join(names)}" if names else None


@_audit_rule(
    "audit.host-namespace-pod-created",
    "Pod sharing the host's network, PID or IPC namespace created",
    "medium",
    "T1611",
    "A pod (or pod template) with hostNetwork, hostPID or hostIPC is created.",
    written=_POD_SPECS,
)
def _host_namespace_pod_created(spec: dict) -> str | None:
    shared = [flag for flag in ("hostNetwork", "hostPID", "hostIPC") if spec.get(flag) is True]
    return ", ".join(shared) or None


def _host_paths(spec: dict) -> list[str]:
    return [
        str((v.get("hostPath") or {}).get("path"))
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and isinstance(v.get("hostPath"), dict)
    ]


@_audit_rule(
    "audit.sensitive-hostpath-pod-created",
    "Pod mounting a sensitive host path created",
    "high",
    "T1611",
    "A pod (or pod template) mounts a sensitive host path: /, /etc, /proc, /root, the "
    "container runtime socket, the kubelet's or Kubernetes' configuration.",
    written=_POD_SPECS,
)
def _sensitive_hostpath_pod_created(spec: dict) -> str | None:
    sensitive = [p for p in _host_paths(spec) if is_sensitive_path(p)]
    return f"hostPath {', '.join(sensitive)}" if sensitive else None


@_audit_rule(
    "audit.hostpath-pod-created",
    "Pod mounting a host path created",
    "low",
    "T1611",
    "A pod (or pod template) mounts a host path that is not in the sensitive list.",
    written=_POD_SPECS,
)
def _hostpath_pod_created(spec: dict) -> str | None:
    paths = _host_paths(spec)
    # a pod with a sensitive path is the sensitive rule's hit alone
    if not paths or any(is_sensitive_path(p) for p in paths):
        return None
    return f"hostPath {', '.join(paths)}"


@_audit_rule(
    "audit.pod-created-in-kube-namespace",
    "Pod created in kube-system or kube-public by a non-system subject",
    "medium",
    "T1610",
    "A person or a workload's service account creates a pod in kube-system or "
    "kube-public, where attackers hide workloads among cluster components.",
)
def _pod_created_in_kube_namespace(a: _Audit) -> pd.Series:
    return a.created_in_kube_namespace & a.pods


@_audit_rule(
    "audit.serviceaccount-created-in-kube-namespace",
    "Service account created in kube-system or kube-public by a non-system subject",
    "medium",
    "T1136",
    "A service account is created in kube-system or kube-public by a subject that is not a "
    "cluster component.",
)
def _serviceaccount_created_in_kube_namespace(a: _Audit) -> pd.Series:
    return a.created_in_kube_namespace & (a.resource == "serviceaccounts")


def _binding(body: dict) -> tuple[dict, list[dict]]:
    """A RoleBinding's or ClusterRoleBinding's roleRef and subjects."""
    role = body.get("roleRef") if isinstance(body.get("roleRef"), dict) else {}
    return role, [s for s in body.get("subjects") or [] if isinstance(s, dict)]


@_audit_rule(
    "audit.rbac-cluster-admin-binding",
    "Binding to cluster-admin created or changed",
    "high",
    "T1098.006",
    "A RoleBinding or ClusterRoleBinding to the cluster-admin ClusterRole is created, "
    "updated or patched by a subject that is not a cluster component.",
    written=_BINDINGS,
)
def _rbac_cluster_admin_binding(body: dict) -> str | None:
    role, subjects = _binding(body)
    if role.get("name") != "cluster-admin":
        return None
    who = ", ".join(f"{s.get('kind')} {s.get('name')}" for s in subjects)
    return f"cluster-admin to {who or '?'}"


@_audit_rule(
    "audit.rbac-binding-to-anonymous",
    "Binding granting a role to anonymous or unauthenticated users",
    "critical",
    "T1098.006",
    "A RoleBinding or ClusterRoleBinding names system:anonymous or system:unauthenticated "
    "as a subject.",
    written=_BINDINGS,
)
def _rbac_binding_to_anonymous(body: dict) -> str | None:
    role, subjects = _binding(body)
    anonymous = [s.get("name") for s in subjects if s.get("name") in _ANONYMOUS]
    if not anonymous:
        return None
    return f"{role.get('kind', 'role')} {role.get('name')} to {', '.join(anonymous)}"


@_audit_rule(
    "audit.rbac-wildcard-role",
    "Role or ClusterRole with wildcard rules created or changed",
    "medium",
    "T1098.006",
    "A Role or ClusterRole whose rules grant '*' verbs or '*' resources is written by a "
    "subject that is not a cluster component.",
    written=_ROLES,
)
def _rbac_wildcard_role(body: dict) -> str | None:
    for rule in body.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        wild = [f for f in ("verbs", "resources") if "*" in (rule.get(f) or [])]
        if wild:
            return f"'*' in {' and '.join(wild)}"
    return None


@_audit_rule(
    "audit.system-clusterrole-modified",
    "System ClusterRole modified or deleted",
    "medium",
    "T1098",
    "A ClusterRole named system:* is updated, patched or deleted by a subject that is not "
    "a cluster component.",
)
def _system_clusterrole_modified(a: _Audit) -> pd.Series:
    named = a.r["object_name"].fillna("").str.startswith("system:")
    return (
        (a.resource == "clusterroles")
        & named
        & a.verb.isin(["update", "patch", "delete"])
        & ~a.system
    )


@_audit_rule(
    "audit.anonymous-request-allowed",
    "Anonymous request allowed",
    "high",
    "T1078.001",
    "A request as system:anonymous was authorized (health and version endpoints excepted).",
)
def _anonymous_request_allowed(a: _Audit) -> pd.Series:
    r = a.r
    health = r["request_uri"].fillna("").str.match(_HEALTH)
    return (r["user"] == "system:anonymous") & (r["decision"] == "allow") & ~health


@_audit_rule(
    "audit.cronjob-created",
    "CronJob created",
    "low",
    "T1053.007",
    "A CronJob is created: a way to persist in a cluster.",
)
def _cronjob_created(a: _Audit) -> pd.Series:
    return (a.resource == "cronjobs") & (a.verb == "create") & a.sub.isna()


@_audit_rule(
    "audit.events-deleted",
    "Kubernetes Events deleted",
    "medium",
    "T1070",
    "Events are deleted by a subject that is not a cluster component: covering tracks.",
)
def _events_deleted(a: _Audit) -> pd.Series:
    return (a.resource == "events") & a.verb.isin(["delete", "deletecollection"]) & ~a.system


@_audit_rule(
    "audit.security-collector-impaired",
    "Security collector deleted or stopped",
    "high",
    "T1562.001",
    "A subject that is not a cluster component deletes a security collector (Falco, a log "
    "shipper, the Datadog agent; obskit.analysis.coverage.COLLECTORS) DaemonSet, "
    "Deployment or pods, scales it to zero, or changes its pod template's nodeSelector or "
    "node affinity so that it runs on fewer nodes: the nodes it leaves are unwatched.",
)
def _security_collector_impaired(a: _Audit) -> _Found:
    from urllib.parse import unquote

    from obskit.analysis.coverage import collector_of

    r = a.r
    candidates = a.allowed & ~a.system & r["resource"].isin(_COLLECTOR_RESOURCES)
    candidates &= r["verb"].isin(["delete", "deletecollection", "update", "patch"])
    details = {}
    for i in r.index[candidates]:
        selector = _LABEL_SELECTOR.search(r.at[i, "request_uri"] or "")
        named = collector_of(r.at[i, "object_name"], unquote(selector[1]) if selector else None)
        if named is not None and named.security:
            detail = _impairment(r.loc[i], named.name)
            if detail:
                details[i] = detail
    return _written_hits(r, details)


@_audit_rule(
    "audit.disguised-name",
    "Name disguised with invisible or direction-changing characters",
    "high",
    "T1036.002",
    "The subject, the object or the namespace of a request has a character that changes "
    "how the name reads (a right-to-left override, a zero-width space, a control): "
    "'system:serviceaccount:kube-system:\\u202erellortnoc-tnemyolped' shows as "
    "'...:deployment-controller'. An attacker's disguise; obskit shows such characters "
    "as escapes.",
)
def _disguised_name(a: _Audit) -> _Found:
    disguised = _disguised(a.r, ("user", "object_name", "namespace"))
    return _Found(disguised.notna(), {"detail": disguised})


@_audit_rule(
    "audit.auth-failure-burst",
    "Burst of 401/403 responses from one source",
    "medium",
    "T1110",
    "At least 5 requests from one source IP answered 401 or 403, each within 5 minutes of "
    "the previous one: credential guessing or permission probing.",
)
def _auth_failure_burst(a: _Audit) -> _Found:
    # one burst per source address, whatever the objects: the key says nothing of one entity
    r = a.r
    failures = r["response_code"].isin([401, 403]) & r["source_ip"].notna()
    key = ("namespace", "pod", "container", "node", "workload", "workload_kind")
    unset = dict.fromkeys((*key, "object_kind", "object_name"))
    return _Found(failures, {"group": r["source_ip"], **unset})


@_audit_rule(
    "audit.configmap-with-credentials",
    "ConfigMap with credentials created or changed",
    "medium",
    "T1552",
    "A ConfigMap written with values that look like credentials (passwords, access keys, "
    "tokens, private keys), found by obskit.redact.",
    written=_CONFIGMAPS,
)
def _configmap_with_credentials(body: dict) -> str | None:
    data = {k: body.get(k) for k in ("data", "binaryData") if body.get(k)}
    _, counts = redact(orjson.dumps(data).decode(), return_counts=True)
    return ", ".join(f"{n} {kind}" for kind, n in counts.items()) if counts else None


# --- Falco's rules (found by Falco: metadata only) ---------------------------------------------

RULES.update(
    (rule.id, rule)
    for rule in (
        Rule(
            "falco.terminal-shell-in-container",
            "Terminal shell in container",
            "low",
            "T1059.004",
            "Falco: an interactive shell started in a container.",
        ),
        Rule(
            "falco.contact-k8s-api-from-container",
            "Container contacts the Kubernetes API",
            "low",
            "T1613",
            "Falco: a process in a container connects to the API server.",
        ),
        Rule(
            "falco.drop-and-execute-new-binary",
            "New binary dropped and executed in a container",
            "critical",
            "T1105",
            "Falco: a binary that is not in the image was written and executed.",
        ),
        Rule(
            "falco.miner-pool-connection",
            "Connection to a cryptocurrency mining pool",
            "critical",
            "T1496",
            "Falco: an outbound connection to a common mining-pool port or domain.",
        ),
        Rule(
            "falco.read-sensitive-file-untrusted",
            "Sensitive file read by an untrusted program",
            "medium",
            "T1555",
            "Falco: /etc/shadow or a similar file opened by a program not known to need it.",
        ),
        Rule(
            "falco.packet-socket-in-container",
            "Packet socket created in a container",
            "low",
            "T1040",
            "Falco: a raw packet socket (sniffing) in a container.",
        ),
    )
)


def _audit_hits(requests: pd.DataFrame, base: _Baseline) -> pd.DataFrame:
    """Every audit rule over the requests, as one frame of hits (one row per request and rule)."""
    if requests.empty:
        return pd.DataFrame()
    audit = _Audit(requests, base)
    hits = []
    for rule in RULES.values():
        if rule.find is None:
            continue
        found = rule.find(audit)
        if not isinstance(found, _Found):
            found = _Found(found)
        if found.mask.any():
            hits.append(_hits(requests, found.mask, rule.id, **found.columns))
    if not hits:
        return pd.DataFrame()
    out = pd.concat(hits)
    out["first_seen"] = _novelty(requests, base.history).loc[out.index].to_numpy()
    out["evidence"] = out["uid"]
    out["detection_source"] = "audit"
    out["service_account"] = out["sa"]
    return out.reset_index(drop=True)


_COLLECTOR_RESOURCES = ("daemonsets", "deployments", "pods")
_LABEL_SELECTOR = re.compile(r"[?&]labelSelector=([^&]+)")


def _impairment(request: pd.Series, collector: str) -> str | None:
    """How a request on a security collector's object impairs it, or None if it does not."""
    verb, resource, sub = request["verb"], request["resource"], request["subresource"]
    if verb in ("delete", "deletecollection") and sub is None:
        return f"{collector} {resource} deleted"
    body = _loads(request["raw"]).get("requestObject")
    if not isinstance(body, dict | list):
        return None
    text = orjson.dumps(body).decode()
    if sub == "scale" or resource == "deployments":
        spec = body.get("spec") if isinstance(body, dict) else None
        if isinstance(spec, dict) and spec.get("replicas") == 0:
            return f"{collector} scaled to 0 replicas"
    if resource in ("daemonsets", "deployments") and sub is None:
        moved = [f for f in ("nodeSelector", "nodeAffinity", "nodeName") if f'"{f}"' in text]
        if moved:
            return f"{collector} pod template {' and '.join(moved)} changed"
    return None


# --- Falco -----------------------------------------------------------------------------------


def _falco_hits(events: pd.DataFrame) -> pd.DataFrame:
    falco = events.loc[events["source"] == "falco"]
    if falco.empty:
        return pd.DataFrame()
    out = pd.DataFrame(
        {c: _obj(falco[c]) if c in falco.columns else None for c in _REQUEST_COLUMNS},
        index=falco.index,
    )
    name = _obj(falco["rule"]).fillna(_obj(falco["reason"])).fillna("unknown")
    out["rule"] = name.map(lambda n: _FALCO_IDS.get(n, f"falco.{_slug(n)}"))
    out["falco_rule"] = name
    parsed = [_loads(raw) for raw in out["raw"]]
    fields = [p.get("output_fields") or {} for p in parsed]
    priority = [str(p.get("priority", "")).lower() for p in parsed]
    # the falco source's severity is the fallback where the raw alert is not at hand
    fallback = _obj(falco["severity"]).map(
        {"critical": "critical", "error": "high", "warning": "medium", "notice": "low"}
    )
    out["rule_severity"] = [
        _FALCO_PRIORITY.get(p) or (f if isinstance(f, str) else "info")
        for p, f in zip(priority, fallback, strict=True)
    ]
    out["process"] = [f.get("proc.name") for f in fields]
    cmd = _obj(falco["proc_cmdline"]) if "proc_cmdline" in falco.columns else None
    if cmd is not None:
        first_word = cmd.str.split(" ").str[0]
        out["process"] = out["process"].where(out["process"].notna(), first_word)
    out["source_ip"] = [f.get("fd.rip") or f.get("fd.sip") for f in fields]
    out["tags"] = [p.get("tags") or [] for p in parsed]
    out["detail"] = cmd if cmd is not None else None
    origin = _obj(falco["origin"]).fillna("falco") if "origin" in falco.columns else "falco"
    line = _obj(falco["line"]).astype("object") if "line" in falco.columns else None
    out["evidence"] = (
        origin + ":" + (line.astype(str) if line is not None else out.index.astype(str))
    )
    out["detection_source"] = "falco"
    out["service_account"] = None
    out["first_seen"] = None
    out["group"] = (
        out["rule"]
        + "|"
        + out[["namespace", "pod", "container", "node"]]
        .fillna("")
        .astype(str)
        .agg("|".join, axis=1)
    )
    return out.reset_index(drop=True)


# --- bursts ------------------------------------------------------------------------------------


def _bursts(hits: pd.DataFrame, gap: pd.Timedelta) -> pd.DataFrame:
    """One row per rule, entity and burst: the first hit, with count, end and evidence."""
    if "group" not in hits.columns:
        hits["group"] = None
    entity = hits[["namespace", "pod", "object_name", "user"]].fillna("").astype(str)
    # rules about what an actor does (not to which object) group by the actor's pod alone
    entity.loc[hits["rule"].isin(_ACTOR_RULES), "object_name"] = ""
    default = hits["rule"] + "|" + entity.agg("|".join, axis=1)
    hits["group"] = (hits["rule"] + "|" + hits["group"].astype(str)).where(
        hits["group"].notna(), default
    )
    hits = hits.sort_values(["group", "timestamp"], kind="stable").reset_index(drop=True)
    limit = np.where(hits["rule"] == "audit.auth-failure-burst", AUTH_FAILURE_GAP, gap)
    step = hits.groupby("group", sort=False)["timestamp"].diff()
    new = step.isna() | (step > pd.to_timedelta(limit))
    burst = new.cumsum()
    grouped = hits.groupby(burst, sort=False)
    first = hits.loc[new].set_index(burst[new])
    first["count"] = grouped.size()
    first["end"] = grouped["timestamp"].max()
    first["evidence"] = grouped["evidence"].agg(lambda ids: list(dict.fromkeys(ids.dropna())))
    first = first.loc[
        (first["rule"] != "audit.auth-failure-burst") | (first["count"] >= AUTH_FAILURES)
    ]
    return first.reset_index(drop=True)


def _message(row: pd.Series) -> str:
    where = "/".join(str(v) for v in (row["namespace"], row["pod"] or row["object_name"]) if v)
    actor = row["user"] or row["process"] or "?"
    text = f"{row['title']}: {actor}"
    if where:
        text += f" on {where}"
    if row["source_ip"] and row["detection_source"] == "audit":
        text += f" from {row['source_ip']}"
    if isinstance(row.get("detail"), str) and row["detail"]:
        text += f" ({row['detail']})"
    if row["count"] > 1:
        text += f", {row['count']} times"
    return text


# --- the public functions ----------------------------------------------------------------------


def rules() -> pd.DataFrame:
    """The rule table: id, title, severity, obskit severity, technique, technique name, what.

    Examples
    --------
    >>> table = rules()
    >>> table.loc["audit.privileged-pod-created", ["severity", "technique"]].tolist()
    ['high', 'T1611']
    """
    rows = [
        {
            "id": r.id,
            "title": r.title,
            "severity": r.severity,
            "obskit_severity": RULE_SEVERITY[r.severity],
            "technique": r.technique,
            "technique_name": r.technique_name,
            "description": r.description,
        }
        for r in RULES.values()
    ]
    return pd.DataFrame(rows).set_index("id")


def detect(
    inv_or_events: Investigation | pd.DataFrame,
    baseline: object = None,
    *,
    burst: str | pd.Timedelta = DEFAULT_BURST,
) -> pd.DataFrame:
    """Security detections on an investigation's audit log and Falco alerts.

    Parameters
    ----------
    inv_or_events : Investigation or DataFrame
        An investigation, or an events frame (audit and/or Falco rows in the events schema).
    baseline : None, duration, (start, end), DataFrame or Investigation
        What counts as *usual* for the first-seen rules. ``None``: everything before a request
        in the data (a subject's first exec in a namespace is unusual). A duration such as
        ``"1h"``: the first hour of the audit log is a learning period (nothing in it is flagged
        as unusual; it is history for what follows). A ``(start, end)`` pair: that period is
        the learning period. An events frame or Investigation of earlier history (yesterday's
        audit log, say): what it holds is usual too, and its service accounts' networks are the
        cluster's.
    burst : str or Timedelta, default "10min"
        Hits of one rule on one entity by one actor closer than this to each other are one
        detection, with their ``count``.

    Returns
    -------
    DataFrame
        In the events schema, ``source="detection"``, one row per detection, sorted by time:
        ``rule`` (rule id), ``reason`` (title), ``severity``, ``message``, the key, ``user``,
        ``source_ip``, ``user_agent``, ``count``, ``uid`` (``<rule>:<first evidence>``), and
        ``rule_severity``, ``technique``, ``technique_name``, ``service_account``, ``process``,
        ``first_seen``, ``end``, ``evidence`` (list of evidence ids), ``detection_source``
        (audit or falco).

    Raises
    ------
    InvestigationError
        When ``baseline`` or ``burst`` cannot be used, or the input is neither an Investigation
        nor a DataFrame.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> found = detect(inv, baseline="30min")  # doctest: +SKIP
    >>> found[found.severity >= "error"][["timestamp", "rule", "pod"]]  # doctest: +SKIP
    """
    if isinstance(inv_or_events, pd.DataFrame):
        events = schema.conform("events", inv_or_events)
        inventory, cluster = None, None
    elif hasattr(inv_or_events, "events") and hasattr(inv_or_events, "inventory"):
        events = inv_or_events.events
        inventory, cluster = inv_or_events.inventory, getattr(inv_or_events, "cluster", None)
    else:
        raise InvestigationError(
            "detect() takes an Investigation or an events DataFrame, got "
            f"{type(inv_or_events).__name__}"
        )
    try:
        gap = pd.Timedelta(burst)
    except ValueError as exc:
        raise InvestigationError(f"burst must be a duration like '10min', got {burst!r}") from exc
    if gap < pd.Timedelta(0):
        raise InvestigationError(f"burst must not be negative, got {burst!r}")

    requests = _requests(events)
    base = _baseline(baseline, requests)
    parts = [h for h in (_audit_hits(requests, base), _falco_hits(events)) if len(h)]
    if not parts:
        return _frame(pd.DataFrame(), inventory, cluster)
    hits = pd.concat(parts, ignore_index=True)
    found = _bursts(hits, gap)
    return _frame(found, inventory, cluster)


def _frame(
    found: pd.DataFrame, inventory: pd.DataFrame | None, cluster: str | None
) -> pd.DataFrame:
    """Detections as an events frame."""
    if found.empty:
        out = schema.conform("events", pd.DataFrame(columns=["source"]))
        for column in _OUT_EXTRAS:
            out[column] = pd.Series([], dtype="object")
        out["rule_severity"] = out["rule_severity"].astype(_RULE_SEVERITY_DTYPE)
        out["end"] = out["end"].astype(schema.TIME)
        for column in _CATEGORY_EXTRAS:
            out[column] = out[column].astype("category")
        return out
    meta = found["rule"].map(RULES)
    found["title"] = [
        m.title if isinstance(m, Rule) else str(f)
        for m, f in zip(meta, found.get("falco_rule", found["rule"]), strict=True)
    ]
    own = [m.severity if isinstance(m, Rule) else None for m in meta]
    if "rule_severity" in found.columns:
        found["rule_severity"] = found["rule_severity"].where(
            found["detection_source"] == "falco", own
        )
    else:
        found["rule_severity"] = own
    technique = []
    for m, tags in zip(meta, found.get("tags", pd.Series([None] * len(found))), strict=True):
        if isinstance(m, Rule):
            technique.append(m.technique)
            continue
        tagged = [
            t
            for t in (tags if isinstance(tags, list) else [])
            if re.fullmatch(r"T\d{4}(\.\d{3})?", t)
        ]
        technique.append(tagged[0] if tagged else None)
    found["technique"] = technique
    found["technique_name"] = [TECHNIQUES.get(t) if t else None for t in technique]
    for column in ("process", "detail", "first_seen", "service_account"):
        if column not in found.columns:
            found[column] = None
    found["message"] = found.apply(_message, axis=1)
    found["severity"] = found["rule_severity"].map(RULE_SEVERITY)
    found["uid"] = found["rule"] + ":" + found["evidence"].map(lambda e: e[0] if e else "")
    found["reason"] = found["title"]
    found["source"] = "detection"
    found["key_source"] = "record"
    found["object_kind"] = found["object_kind"].where(found["object_kind"].notna(), None)
    keep = [c for c in schema.FRAMES["events"] if c in found.columns and c != "raw"]
    frame = found[keep + _OUT_EXTRAS].copy()
    frame["raw"] = None
    frame = schema.conform("events", frame)
    frame["rule_severity"] = frame["rule_severity"].astype(_RULE_SEVERITY_DTYPE)
    for column in _CATEGORY_EXTRAS:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
        frame[column] = frame[column].astype("category")
    if inventory is not None and len(inventory):
        from obskit.enrich import enrich

        frame = enrich(frame, inventory, cluster)
    elif cluster is not None:
        frame["cluster"] = frame["cluster"].astype("object").fillna(cluster).astype("category")
    return frame.sort_values(["timestamp", "rule"], kind="stable").reset_index(drop=True)


def evidence(events: pd.DataFrame, detections: pd.DataFrame) -> pd.DataFrame:
    """The events rows the detections stand on, with the ``detection`` (uid) of each.

    Audit evidence is matched by ``uid`` (auditID; every stage of the request is returned),
    Falco evidence by ``origin`` and ``line``.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> evidence(inv.events, detect(inv)).groupby("detection").size()  # doctest: +SKIP
    """
    pairs = detections[["uid", "evidence"]].explode("evidence").dropna()
    if pairs.empty:
        return events.iloc[0:0].assign(detection=pd.Series([], dtype="object"))
    pairs = pairs.rename(columns={"uid": "detection"})
    audit = events.loc[events["source"] == "audit"].assign(_id=lambda f: f["uid"].astype("object"))
    other = events.loc[events["source"] != "audit"]
    origin = other["origin"].astype("object").fillna("falco") if "origin" in other else "falco"
    other = other.assign(_id=origin + ":" + other["line"].astype("object").astype(str))
    both = pd.concat([audit, other])
    out = both.merge(pairs, left_on="_id", right_on="evidence", how="inner")
    return out.drop(columns=["_id", "evidence"]).reset_index(drop=True)
