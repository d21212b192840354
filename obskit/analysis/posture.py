"""Posture: what the inventory says could go wrong, checked against the published standards.

:func:`posture` reads the full objects kept in the inventory's ``raw`` column (pods, workload
templates, Namespaces, ServiceAccounts, Roles, ClusterRoles and their bindings, NetworkPolicies)
and returns one row per *finding*: the key columns, the object (``object_kind``,
``object_name``), ``control`` (a stable id, below), ``severity`` (``low < medium < high <
critical``), ``standard`` (where the control comes from), ``title``, ``found`` (what was found,
naming the container, field and value) and ``fix``.

Controls (:data:`CONTROLS`)
---------------------------
Pod Security Standards (kubernetes.io "Pod Security Standards"; the allowed values are those the
Pod Security admission controller enforces), on every pod and on the pod template of every
top-level workload (a ReplicaSet or Job with an owner is covered by its owner's template):

============================== ===================================================== ==========
control                        check                                                 level
============================== ===================================================== ==========
``pss.host-process``           ``windowsOptions.hostProcess`` true                   baseline
``pss.host-namespaces``        ``hostNetwork``, ``hostPID``, ``hostIPC`` true        baseline
``pss.privileged``             ``securityContext.privileged`` true                   baseline
``pss.capabilities``           ``capabilities.add`` beyond the baseline set          baseline
``pss.host-path``              ``hostPath`` volumes                                  baseline
``pss.host-ports``             ``ports[*].hostPort`` other than 0                    baseline
``pss.apparmor``               AppArmor profile (field or annotation) not            baseline
                               RuntimeDefault/Localhost
``pss.selinux``                ``seLinuxOptions`` type outside the container types,  baseline
                               or a user or role set
``pss.proc-mount``             ``procMount`` other than Default                      baseline
``pss.seccomp-unconfined``     ``seccompProfile.type`` Unconfined                    baseline
``pss.sysctls``                a sysctl outside the safe set                         baseline
``pss.volume-types``           a volume type outside configMap, csi, downwardAPI,    restricted
                               emptyDir, ephemeral, persistentVolumeClaim,
                               projected, secret
``pss.privilege-escalation``   ``allowPrivilegeEscalation`` not false                restricted
``pss.run-as-non-root``        ``runAsNonRoot`` not true (pod or container)          restricted
``pss.run-as-root-user``       ``runAsUser`` 0                                       restricted
``pss.seccomp-required``       no RuntimeDefault/Localhost seccomp profile           restricted
``pss.capabilities-drop``      ``capabilities.drop`` without ALL, or an add other    restricted
                               than NET_BIND_SERVICE
============================== ===================================================== ==========

Pod Security admission, per namespace that runs something: ``psa.no-enforce`` (no
``pod-security.kubernetes.io/enforce`` label, or ``privileged``; CIS 5.2.1) and
``psa.violation`` (pods that fail the level a namespace's ``enforce``, ``audit`` or ``warn``
label names: they were admitted before the label, or by an exemption).

Images (CIS 5.5.1 image provenance, NSA/CISA hardening guidance "immutable images"):
``image.latest`` (``:latest`` or no tag), ``image.no-digest`` (by tag, no ``@sha256:``),
``image.registry`` (a registry outside ``registries=``, checked only when it is given).

Service accounts and RBAC (CIS Kubernetes Benchmark 5.1), from Roles, ClusterRoles and their
bindings (see :func:`reach` for what each subject may do, and where): ``rbac.cluster-admin``
(5.1.1), ``rbac.secrets`` (get/list/watch secrets, 5.1.2), ``rbac.wildcard`` (``*`` in verbs or
resources, 5.1.3), ``rbac.create-pods`` (create pods or workloads, 5.1.4), ``rbac.exec``
(``pods/exec`` or ``pods/attach``), ``rbac.bind-escalate`` (bind, escalate, impersonate, 5.1.8),
``rbac.anonymous`` (a binding to ``system:anonymous`` or ``system:unauthenticated``), and
``sa.token-automount`` (a token mounted for a service account no binding grants anything,
5.1.6). Built-in bindings (named ``system:*``) and ``system:*`` users and groups are left out
unless ``include_system=True``. The RBAC-based controls run only when the inventory holds
bindings (``kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A -o json``).

Network (CIS 5.3.2, NSA/CISA "network separation"): ``netpol.none``, a namespace that runs pods
and has no NetworkPolicy in the inventory.

Findings join the incident: :func:`join_detections` gives each detection the findings of its
pod and the RBAC reach of the pod's (or actor's) service account, and names an ``escalation``
path where a pod that can reach the node carries a powerful token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from obskit import schema
from obskit.analysis._podspec import containers, is_sensitive_path, pod_spec
from obskit.errors import InvestigationError

__all__ = [
    "CONTROLS",
    "SEVERITY",
    "Control",
    "blast_radius",
    "controls",
    "image_checks",
    "join_detections",
    "pod_checks",
    "posture",
    "reach",
]


@dataclass(frozen=True)
class Control:
    """One posture check: its title, severity, where it comes from and how to fix it."""

    title: str
    severity: str
    standard: str
    fix: str
    level: str | None = None  # the Pod Security Standards level it belongs to


_PSS = "Pod Security Standards"
_CIS_PSA = "CIS Kubernetes Benchmark 5.2.1"
_NSA = "NSA/CISA Kubernetes Hardening Guidance"

#: control id -> :class:`Control`.
CONTROLS: dict[str, Control] = {
    "pss.host-process": Control(
        "Windows HostProcess container",
        "critical",
        f"{_PSS} baseline: HostProcess",
        "remove windowsOptions.hostProcess (or set it false)",
        "baseline",
    ),
    "pss.host-namespaces": Control(
        "Host namespaces shared",
        "high",
        f"{_PSS} baseline: Host Namespaces",
        "remove hostNetwork, hostPID and hostIPC (or set them false)",
        "baseline",
    ),
    "pss.privileged": Control(
        "Privileged container",
        "critical",
        f"{_PSS} baseline: Privileged Containers",
        "remove securityContext.privileged (or set it false); add only the capabilities "
        "the container needs",
        "baseline",
    ),
    "pss.capabilities": Control(
        "Capabilities beyond the baseline set",
        "high",
        f"{_PSS} baseline: Capabilities",
        "add only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, "
        "NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID or SYS_CHROOT",
        "baseline",
    ),
    "pss.host-path": Control(
        "hostPath volume",
        "high",
        f"{_PSS} baseline: HostPath Volumes",
        "use a persistentVolumeClaim, configMap, secret or emptyDir instead of hostPath",
        "baseline",
    ),
    "pss.host-ports": Control(
        "Host port",
        "medium",
        f"{_PSS} baseline: Host Ports",
        "remove ports[*].hostPort; expose the port with a Service",
        "baseline",
    ),
    "pss.apparmor": Control(
        "AppArmor disabled or overridden",
        "medium",
        f"{_PSS} baseline: AppArmor",
        "set appArmorProfile.type RuntimeDefault or Localhost (annotation runtime/default "
        "or localhost/<profile>)",
        "baseline",
    ),
    "pss.selinux": Control(
        "Custom SELinux options",
        "medium",
        f"{_PSS} baseline: SELinux",
        "leave seLinuxOptions.user and role unset and use type container_t, "
        "container_init_t, container_kvm_t or container_engine_t",
        "baseline",
    ),
    "pss.proc-mount": Control(
        "Unmasked /proc",
        "medium",
        f"{_PSS} baseline: /proc Mount Type",
        "remove securityContext.procMount (or set it Default)",
        "baseline",
    ),
    "pss.seccomp-unconfined": Control(
        "Seccomp Unconfined",
        "medium",
        f"{_PSS} baseline: Seccomp",
        "set seccompProfile.type RuntimeDefault (or Localhost)",
        "baseline",
    ),
    "pss.sysctls": Control(
        "Unsafe sysctl",
        "medium",
        f"{_PSS} baseline: Sysctls",
        "set only the safe sysctls (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, "
        "...); set node-level ones on the node",
        "baseline",
    ),
    "pss.volume-types": Control(
        "Volume type outside the restricted set",
        "low",
        f"{_PSS} restricted: Volume Types",
        "use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, "
        "projected or secret volumes (a PersistentVolume for the rest)",
        "restricted",
    ),
    "pss.privilege-escalation": Control(
        "Privilege escalation allowed",
        "medium",
        f"{_PSS} restricted: Privilege Escalation",
        "set securityContext.allowPrivilegeEscalation: false on every container",
        "restricted",
    ),
    "pss.run-as-non-root": Control(
        "May run as root",
        "medium",
        f"{_PSS} restricted: Running as Non-root",
        "set securityContext.runAsNonRoot: true (pod or every container)",
        "restricted",
    ),
    "pss.run-as-root-user": Control(
        "Runs as UID 0",
        "medium",
        f"{_PSS} restricted: Running as Non-root user",
        "set runAsUser to a non-zero UID",
        "restricted",
    ),
    "pss.seccomp-required": Control(
        "No seccomp profile",
        "low",
        f"{_PSS} restricted: Seccomp",
        "set spec.securityContext.seccompProfile.type: RuntimeDefault",
        "restricted",
    ),
    "pss.capabilities-drop": Control(
        "Capabilities not dropped",
        "low",
        f"{_PSS} restricted: Capabilities",
        "set capabilities.drop: [ALL] and add at most NET_BIND_SERVICE",
        "restricted",
    ),
    "psa.no-enforce": Control(
        "No Pod Security admission enforced",
        "medium",
        f"{_CIS_PSA}; Pod Security admission",
        "label the namespace pod-security.kubernetes.io/enforce=baseline (or restricted)",
    ),
    "psa.violation": Control(
        "Pods fail the namespace's Pod Security level",
        "high",
        f"{_CIS_PSA}; Pod Security admission",
        "fix the pods' specs (or their templates) so they pass the level, then roll them",
    ),
    "image.latest": Control(
        "Image :latest or untagged",
        "medium",
        f"{_NSA}: immutable container images",
        "pin a version tag, better a digest (image@sha256:...)",
    ),
    "image.no-digest": Control(
        "Image by tag, not digest",
        "low",
        f"CIS Kubernetes Benchmark 5.5.1 (image provenance); {_NSA}",
        "refer to the image by digest (image@sha256:...) so the tag cannot move under it",
    ),
    "image.registry": Control(
        "Registry outside the allow list",
        "high",
        f"CIS Kubernetes Benchmark 5.5.1 (image provenance); {_NSA}",
        "pull from an allowed registry (mirror the image there), or extend registries=",
    ),
    "sa.token-automount": Control(
        "Service-account token mounted but not needed",
        "medium",
        "CIS Kubernetes Benchmark 5.1.6",
        "set automountServiceAccountToken: false on the pod (or its ServiceAccount)",
    ),
    "rbac.cluster-admin": Control(
        "cluster-admin",
        "critical",
        "CIS Kubernetes Benchmark 5.1.1",
        "bind a role with only the verbs and resources needed; keep cluster-admin for "
        "break-glass users",
    ),
    "rbac.bind-escalate": Control(
        "May bind, escalate or impersonate",
        "critical",
        "CIS Kubernetes Benchmark 5.1.8",
        "remove bind, escalate and impersonate from the role",
    ),
    "rbac.wildcard": Control(
        "Wildcard in a role",
        "high",
        "CIS Kubernetes Benchmark 5.1.3",
        "list the verbs and resources instead of '*'",
    ),
    "rbac.secrets": Control(
        "May read secrets",
        "high",
        "CIS Kubernetes Benchmark 5.1.2",
        "remove get, list and watch on secrets, or narrow it with resourceNames",
    ),
    "rbac.create-pods": Control(
        "May create pods",
        "high",
        "CIS Kubernetes Benchmark 5.1.4",
        "remove create on pods and workload controllers from the role",
    ),
    "rbac.exec": Control(
        "May exec into pods",
        "high",
        f"{_NSA}: RBAC; MITRE ATT&CK T1609",
        "remove pods/exec and pods/attach from the role",
    ),
    "rbac.anonymous": Control(
        "Role bound to anonymous users",
        "critical",
        f"{_NSA}: authentication",
        "delete the binding's system:anonymous / system:unauthenticated subject",
    ),
    "netpol.none": Control(
        "No NetworkPolicy",
        "medium",
        f"CIS Kubernetes Benchmark 5.3.2; {_NSA}",
        "add a default-deny NetworkPolicy to the namespace, then allow what is needed",
    ),
}

#: The finding severities, ordered, so ``found[found.severity >= "high"]`` works.
SEVERITY = pd.CategoricalDtype(["low", "medium", "high", "critical"], ordered=True)

_COLUMNS = [
    *schema.KEY,
    "object_kind",
    "object_name",
    "control",
    "severity",
    "standard",
    "title",
    "found",
    "fix",
]
_WORKLOADS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "ReplicationController": "replicationcontrollers",
}
_BINDINGS = ("RoleBinding", "ClusterRoleBinding")
_BASELINE_CAPS = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
_SAFE_SYSCTLS = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ]
)
_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_VOLUME_TYPES = frozenset(
    [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
)
_PROFILES = ("RuntimeDefault", "Localhost")
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_PSA_LABEL = "pod-security.kubernetes.io/"
_ANONYMOUS = ("system:anonymous", "system:unauthenticated")

# What a subject may do: capability -> the (verbs, API group, resources) that grant it.
_GRANTS: dict[str, tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...]] = {
    # kubectl exec over WebSockets (1.30+) is authorised as get on pods/exec
    "exec": ((("create", "get"), "", ("pods/exec", "pods/attach")),),
    "secrets": ((("get", "list", "watch"), "", ("secrets",)),),
    "create-pods": (
        (("create",), "", ("pods",)),
        (("create",), "apps", ("deployments", "statefulsets", "daemonsets", "replicasets")),
        (("create",), "batch", ("jobs", "cronjobs")),
    ),
    "bind-escalate": (
        (("bind", "escalate"), "rbac.authorization.k8s.io", ("roles", "clusterroles")),
        (("impersonate",), "", ("users", "groups", "serviceaccounts")),
    ),
}
_CLUSTER_ADMIN_RULE = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
# Capabilities that turn a stolen token into control of the cluster or its secrets.
_POWERFUL = ("cluster-admin", "bind-escalate", "wildcard", "create-pods", "secrets")
# Pod findings that let a process in the container reach the node.
_ESCAPES = (
    "pss.privileged",
    "pss.host-namespaces",
    "pss.host-path",
    "pss.capabilities",
    "pss.host-process",
)


# --- pod specs ----------------------------------------------------------------------------------


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _spec_of(obj: Mapping) -> dict | None:
    """The pod spec of a Pod or of a workload's pod template (None for other kinds)."""
    if not isinstance(obj, Mapping):  # an inventory row made without its object
        return None
    kind = str(obj.get("kind"))
    return pod_spec(dict(obj), "pods" if kind == "Pod" else _WORKLOADS.get(kind, ""))


def _template_meta(obj: dict) -> dict:
    """The metadata of a Pod, or of a workload's pod template."""
    if obj.get("kind") == "Pod":
        return _dict(obj.get("metadata"))
    spec = _dict(obj.get("spec"))
    if obj.get("kind") == "CronJob":
        spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
    return _dict(_dict(spec.get("template")).get("metadata"))


def _baseline_container(c: dict, sc: dict, annotations: dict) -> list[tuple[str, str]]:
    """Baseline findings of one container: (control, what was found)."""
    out: list[tuple[str, str]] = []
    if _dict(sc.get("windowsOptions")).get("hostProcess") is True:
        out.append(("pss.host-process", "windowsOptions.hostProcess=true"))
    if sc.get("privileged") is True:
        out.append(("pss.privileged", "securityContext.privileged=true"))
    added = [str(a) for a in _dict(sc.get("capabilities")).get("add") or []]
    extra = [a for a in added if a not in _BASELINE_CAPS]
    if extra:
        out.append(("pss.capabilities", f"capabilities.add {', '.join(extra)}"))
    ports = [p.get("hostPort") for p in c.get("ports") or [] if isinstance(p, dict)]
    ports = [str(p) for p in ports if p not in (None, 0)]
    if ports:
        out.append(("pss.host-ports", f"hostPort {', '.join(ports)}"))
    if sc.get("procMount") not in (None, "Default"):
        out.append(("pss.proc-mount", f"procMount={sc.get('procMount')}"))
    out += _profiles(sc, "securityContext")
    note = annotations.get(_APPARMOR_ANNOTATION + str(c.get("name")))
    if note is not None and note != "runtime/default" and not str(note).startswith("localhost/"):
        out.append(("pss.apparmor", f"annotation {_APPARMOR_ANNOTATION}{c.get('name')}={note}"))
    return out


def _profiles(sc: dict, where: str) -> list[tuple[str, str]]:
    """SELinux, seccomp and AppArmor findings of a pod's or a container's securityContext."""
    out: list[tuple[str, str]] = []
    options = _dict(sc.get("seLinuxOptions"))
    bad = [f"{k}={options[k]}" for k in ("user", "role") if options.get(k)]
    if str(options.get("type") or "") not in _SELINUX_TYPES:
        bad.append(f"type={options['type']}")
    if bad:
        out.append(("pss.selinux", f"{where}.seLinuxOptions {', '.join(bad)}"))
    if _dict(sc.get("seccompProfile")).get("type") == "Unconfined":
        out.append(("pss.seccomp-unconfined", f"{where}.seccompProfile.type=Unconfined"))
    apparmor = _dict(sc.get("appArmorProfile")).get("type")
    if apparmor not in (None, *_PROFILES):
        out.append(("pss.apparmor", f"{where}.appArmorProfile.type={apparmor}"))
    return out


def _restricted_container(sc: dict, psc: dict, linux: bool) -> list[tuple[str, str]]:
    """Restricted findings of one container, with the pod's securityContext as default."""
    out: list[tuple[str, str]] = []
    # a privileged container escalates by definition: pss.privileged says it already
    if (
        linux
        and sc.get("allowPrivilegeEscalation") is not False
        and sc.get("privileged") is not True
    ):
        value = sc.get("allowPrivilegeEscalation")
        out.append(("pss.privilege-escalation", f"allowPrivilegeEscalation={value}"))
    non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    if non_root is not True:
        out.append(("pss.run-as-non-root", f"runAsNonRoot={non_root} (pod or container)"))
    if sc.get("runAsUser") == 0:
        out.append(("pss.run-as-root-user", "securityContext.runAsUser=0"))
    seccomp = _dict(sc.get("seccompProfile")).get("type") or _dict(psc.get("seccompProfile")).get(
        "type"
    )
    if linux and seccomp not in (*_PROFILES, "Unconfined"):  # Unconfined: baseline says it
        out.append(("pss.seccomp-required", f"seccompProfile.type={seccomp} (pod or container)"))
    caps = _dict(sc.get("capabilities"))
    added = [str(a) for a in caps.get("add") or []]
    extra = [a for a in added if a in _BASELINE_CAPS and a != "NET_BIND_SERVICE"]
    dropped = "ALL" in (caps.get("drop") or [])
    if linux and (extra or not dropped):
        what = ([] if dropped else ["capabilities.drop lacks ALL"]) + (
            [f"capabilities.add {', '.join(extra)}"] if extra else []
        )
        out.append(("pss.capabilities-drop", "; ".join(what)))
    return out


def _pod_level(spec: dict, psc: dict) -> list[tuple[str, str]]:
    """Findings of the pod spec itself (not of one container)."""
    out: list[tuple[str, str]] = []
    if _dict(psc.get("windowsOptions")).get("hostProcess") is True:
        out.append(("pss.host-process", "spec.securityContext.windowsOptions.hostProcess=true"))
    shared = [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
    if shared:
        out.append(("pss.host-namespaces", ", ".join(f"{f}=true" for f in shared)))
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    paths = [str(_dict(v.get("hostPath")).get("path")) for v in volumes if "hostPath" in v]
    if paths:
        shown = [f"{p} (sensitive)" if is_sensitive_path(p) else p for p in paths]
        out.append(("pss.host-path", f"hostPath {', '.join(shown)}"))
    kinds = sorted({k for v in volumes for k in v if k != "name"} - _VOLUME_TYPES - {"hostPath"})
    if kinds:
        out.append(("pss.volume-types", f"volumes of type {', '.join(kinds)}"))
    sysctls = [str(_dict(s).get("name")) for s in psc.get("sysctls") or []]
    unsafe = [s for s in sysctls if s not in _SAFE_SYSCTLS]
    if unsafe:
        out.append(("pss.sysctls", f"sysctls {', '.join(unsafe)}"))
    out += _profiles(psc, "spec.securityContext")
    if psc.get("runAsUser") == 0:
        out.append(("pss.run-as-root-user", "spec.securityContext.runAsUser=0"))
    return out


def pod_checks(obj: Mapping) -> list[tuple[str, str | None, str]]:
    """The Pod Security Standards findings of a Pod or workload object: (control, container
    or None, what was found).

    Examples
    --------
    >>> pod = {"kind": "Pod", "spec": {"hostPID": True, "containers": [
    ...     {"name": "app", "image": "app:1", "securityContext": {"privileged": True}}]}}
    >>> [(c, n) for c, n, _ in pod_checks(pod) if c in ("pss.privileged", "pss.host-namespaces")]
    [('pss.host-namespaces', None), ('pss.privileged', 'app')]
    """
    spec = _spec_of(obj)
    if spec is None:
        return []
    psc = _dict(spec.get("securityContext"))
    annotations = _dict(_template_meta(dict(obj)).get("annotations"))
    linux = _dict(spec.get("os")).get("name") != "windows"
    out: list[tuple[str, str | None, str]] = [(c, None, f) for c, f in _pod_level(spec, psc)]
    for c in containers(spec):
        sc = _dict(c.get("securityContext"))
        name = str(c.get("name"))
        found = _baseline_container(c, sc, annotations) + _restricted_container(sc, psc, linux)
        out += [(control, name, text) for control, text in found]
    return out


# --- images -------------------------------------------------------------------------------------


def _image_parts(image: str) -> tuple[str, str | None, bool]:
    """(registry, tag or None, has a digest) of an image reference."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else None
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else None
    return registry or "docker.io", tag, bool(digest)


def _allowed(image: str, registry: str, registries: tuple[str, ...]) -> bool:
    return any(registry == r or image.startswith(r.rstrip("/") + "/") for r in registries)


def image_checks(obj: Mapping, registries: tuple[str, ...] | None) -> list[tuple[str, str, str]]:
    """Image findings of a Pod or workload object: (control, container, what was found).

    Examples
    --------
    >>> pod = {"kind": "Pod", "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    >>> [c for c, _, _ in image_checks(pod, ("registry.example.com",))]
    ['image.latest', 'image.registry']
    """
    out: list[tuple[str, str, str]] = []
    for c in containers(_spec_of(obj) or {}):
        image = c.get("image")
        if not isinstance(image, str):
            continue
        name = str(c.get("name"))
        registry, tag, digest = _image_parts(image)
        if not digest and tag in (None, "latest"):
            out.append(("image.latest", name, f"image {image}"))
        elif not digest:
            out.append(("image.no-digest", name, f"image {image} by tag {tag}"))
        if registries is not None and not _allowed(image, registry, registries):
            out.append(("image.registry", name, f"image {image} from {registry}"))
    return out


# --- RBAC ---------------------------------------------------------------------------------------


def _matches(rule: dict, verbs: tuple[str, ...], group: str, resources: tuple[str, ...]) -> bool:
    rv, rg, rr = (rule.get(k) or [] for k in ("verbs", "apiGroups", "resources"))
    return (
        ("*" in rv or any(v in rv for v in verbs))
        and ("*" in rg or group in rg)
        and ("*" in rr or any(r in rr for r in resources))
    )


def _rule_text(rule: dict) -> str:
    names = rule.get("resourceNames")
    text = (
        f"{','.join(rule.get('verbs') or [])} on "
        f"{','.join(rule.get('resources') or rule.get('nonResourceURLs') or [])}"
    )
    return text + (f" (only {','.join(names)})" if names else "")


def _capabilities(rules: list[dict], cluster_wide: bool) -> dict[str, str]:
    """capability -> the rule that grants it."""
    out: dict[str, str] = {}
    for rule in (r for r in rules if isinstance(r, dict)):
        if cluster_wide and all("*" in (rule.get(k) or []) for k in _CLUSTER_ADMIN_RULE):
            out.setdefault("cluster-admin", _rule_text(rule))
            continue  # everything, so the rest would only repeat it
        if "*" in (rule.get("verbs") or []) or "*" in (rule.get("resources") or []):
            out.setdefault("wildcard", _rule_text(rule))
        for capability, grants in _GRANTS.items():
            if any(_matches(rule, *grant) for grant in grants):
                out.setdefault(capability, _rule_text(rule))
    return out


def _subject(subject: dict, namespace: object) -> tuple[str, str, str | None]:
    """(kind, id, namespace) of a binding subject; service accounts as ``namespace:name``."""
    kind = str(subject.get("kind"))
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or (namespace if isinstance(namespace, str) else None)
        return kind, f"{ns}:{subject.get('name')}", ns
    return kind, str(subject.get("name")), None


def _system(binding: str, kind: str, subject: str) -> bool:
    """Built-in bindings and ``system:`` users and groups (not the anonymous ones)."""
    if binding.startswith("system:"):
        return True
    return (
        kind in ("User", "Group")
        and subject.startswith("system:")
        and subject
        not in (
            *_ANONYMOUS,
            "system:authenticated",
        )
    )


def _roles(inventory: pd.DataFrame) -> dict[tuple[str, str | None, str], list]:
    rows = inventory[inventory["kind"].isin(["Role", "ClusterRole"])]
    out: dict[tuple[str, str | None, str], list] = {}
    for kind, namespace, name, raw in zip(
        rows["kind"], rows["namespace"], rows["name"], rows["raw"], strict=True
    ):
        ns = namespace if kind == "Role" and isinstance(namespace, str) else None
        out[(str(kind), ns, str(name))] = list(_dict(raw).get("rules") or [])
    return out


_REACH_COLUMNS = [
    "cluster",
    "subject_kind",
    "subject",
    "subject_namespace",
    "capability",
    "scope",
    "binding",
    "role",
    "rule",
]


def _bindings(inventory: pd.DataFrame) -> pd.DataFrame:
    columns = ["kind", "namespace", "name", "raw", "cluster"]
    rows = inventory.loc[inventory["kind"].isin(_BINDINGS), columns]
    return rows.astype(object).where(rows.notna(), None)


def reach(inventory: pd.DataFrame, *, include_system: bool = False) -> pd.DataFrame:
    """What each RBAC subject may do, and where: one row per subject, capability and binding.

    ``capability`` is one of ``cluster-admin``, ``bind-escalate``, ``wildcard``, ``secrets``,
    ``create-pods``, ``exec`` and ``any`` (the binding grants something else); ``scope`` is
    the namespace it holds in, ``*`` for all (a ClusterRoleBinding). Service accounts are
    ``namespace:name``, as in the detections' ``service_account``. A binding whose role is not
    in the inventory is left out (except ``cluster-admin``, whose rules are known).

    Examples
    --------
    >>> import pandas as pd
    >>> crb = {"kind": "ClusterRoleBinding", "metadata": {"name": "ci"},
    ...        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
    ...        "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}]}
    >>> inv = pd.DataFrame({"kind": ["ClusterRoleBinding"], "namespace": [None],
    ...                     "name": ["ci"], "raw": [crb], "cluster": [None]})
    >>> reach(inv)[["subject", "capability", "scope"]].values.tolist()
    [['ci:runner', 'cluster-admin', '*']]
    """
    roles = _roles(inventory) if len(inventory) else {}
    rows: list[dict] = []
    for binding in _bindings(inventory).to_dict("records"):
        raw = _dict(binding["raw"])
        ref = _dict(raw.get("roleRef"))
        ns = binding["namespace"] if binding["kind"] == "RoleBinding" else None
        key = (
            str(ref.get("kind")),
            ns if ref.get("kind") == "Role" else None,
            str(ref.get("name")),
        )
        rules = roles.get(key)
        if rules is None and key[0] == "ClusterRole" and key[2] == "cluster-admin":
            rules = [_CLUSTER_ADMIN_RULE]
        if rules is None:
            continue
        granted = _capabilities(rules, cluster_wide=ns is None) or {"any": ""}
        where = f"{binding['kind']} {'' if ns is None else ns + '/'}{binding['name']}"
        for subject in (s for s in raw.get("subjects") or [] if isinstance(s, dict)):
            kind, who, sns = _subject(subject, ns)
            if not include_system and _system(str(binding["name"]), kind, who):
                continue
            for capability, rule in granted.items():
                rows.append(
                    dict(
                        cluster=binding["cluster"],
                        subject_kind=kind,
                        subject=who,
                        subject_namespace=sns,
                        capability=capability,
                        scope=ns or "*",
                        binding=where,
                        role=f"{key[0]} {key[2]}",
                        rule=rule,
                    )
                )
    return pd.DataFrame(rows, columns=_REACH_COLUMNS)


def _rbac_findings(grants: pd.DataFrame) -> list[dict]:
    """One finding per subject and risky capability (all its scopes and bindings in one)."""
    out: list[dict] = []
    anonymous = grants[grants["subject"].isin(_ANONYMOUS)]
    risky = grants[grants["capability"] != "any"]
    for (kind, who, capability), rows in risky.groupby(
        ["subject_kind", "subject", "capability"], sort=True
    ):
        scopes = ", ".join(sorted(set(rows["scope"])))
        via = "; ".join(sorted(set(rows["binding"] + " -> " + rows["role"])))
        out.append(
            _rbac_row(
                rows,
                f"rbac.{capability}",
                f"{kind} {who}: {rows['rule'].iloc[0]} in {scopes} (via {via})",
            )
        )
    for who, rows in anonymous.groupby("subject", sort=True):
        via = "; ".join(sorted(set(rows["binding"] + " -> " + rows["role"])))
        out.append(_rbac_row(rows, "rbac.anonymous", f"{who} is bound by {via}"))
    return out


def _rbac_row(rows: pd.DataFrame, control: str, found: str) -> dict:
    first = rows.iloc[0]
    namespace = first["subject_namespace"]
    if namespace is None and rows["scope"].nunique() == 1 and first["scope"] != "*":
        namespace = first["scope"]
    subject = {"cluster": first["cluster"], "namespace": namespace}
    return _finding(
        subject | {"kind": first["subject_kind"], "name": first["subject"]}, control, found
    )


# --- the whole posture --------------------------------------------------------------------------


def _key(row: Mapping) -> dict:
    return {k: row.get(k) for k in schema.KEY if k != "container"}


def _checked(inventory: pd.DataFrame) -> list[dict]:
    """Pods and top-level workloads (an owned ReplicaSet or Job is its owner's template)."""
    kinds = inventory["kind"].astype(object)
    top = kinds.isin(list(_WORKLOADS)) & inventory["owner_kind"].isna()
    rows = inventory[(kinds == "Pod") | top]
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def _object_findings(objects: list[dict], registries: tuple[str, ...] | None) -> list[dict]:
    out = []
    for row in objects:
        found = pod_checks(row["raw"]) + image_checks(_dict(row["raw"]), registries)
        out += [_finding(row, control, text, container) for control, container, text in found]
    return out


def _finding(row: Mapping, control: str, found: str, container: str | None = None) -> dict:
    """A finding on an inventory object (its key, kind and name)."""
    return dict(
        _key(row),
        container=container,
        object_kind=row["kind"],
        object_name=row["name"],
        control=control,
        found=found,
    )


def _service_account(raw: dict) -> str:
    spec = _spec_of(raw) or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def _token_findings(inventory: pd.DataFrame, objects: list[dict]) -> list[dict]:
    """Tokens mounted for service accounts that no binding grants anything."""
    bindings = _bindings(inventory)
    if not len(bindings):
        return []
    bound: set[str] = set()
    for binding in bindings.to_dict("records"):
        for s in _dict(binding["raw"]).get("subjects") or []:
            if isinstance(s, dict):
                bound.add(_subject(s, binding["namespace"])[1])
    accounts = inventory[inventory["kind"] == "ServiceAccount"]
    automount = {
        f"{ns}:{name}": _dict(raw).get("automountServiceAccountToken")
        for ns, name, raw in zip(
            accounts["namespace"], accounts["name"], accounts["raw"], strict=True
        )
    }
    out = []
    for row in objects:
        raw = _dict(row["raw"])
        spec = _spec_of(raw) or {}
        sa = f"{row['namespace']}:{_service_account(raw)}"
        mounted = spec.get("automountServiceAccountToken", automount.get(sa))
        groups = {"system:serviceaccounts", f"system:serviceaccounts:{row['namespace']}"}
        if mounted is not False and sa not in bound and not groups & bound:
            text = f"token of {sa} mounted; no binding grants it anything"
            out.append(_finding(row, "sa.token-automount", text))
    return out


def _namespace_findings(inventory: pd.DataFrame, objects: list[dict], pods: list[dict]) -> list:
    """Pod Security admission labels against what runs, and namespaces with no NetworkPolicy."""
    running = sorted({str(o["namespace"]) for o in objects if o["namespace"]})
    clusters = {str(o["namespace"]): o.get("cluster") for o in objects if o["namespace"]}
    policies = set(inventory.loc[inventory["kind"] == "NetworkPolicy", "namespace"].dropna())
    loaded = "" if policies else " (none in the inventory: were NetworkPolicies collected?)"
    out = [
        dict(
            cluster=clusters[ns],
            namespace=ns,
            object_kind="Namespace",
            object_name=ns,
            control="netpol.none",
            found=f"pods run in {ns} and no NetworkPolicy selects them" + loaded,
        )
        for ns in running
        if ns not in policies
    ]
    namespaces = inventory[inventory["kind"] == "Namespace"]
    labels = {
        str(n): _dict(lab) for n, lab in zip(namespaces["name"], namespaces["labels"], strict=True)
    }
    for ns in (n for n in running if n in labels):
        out += _psa(ns, clusters[ns], labels[ns], [p for p in pods if p["namespace"] == ns])
    return out


def _psa(namespace: str, cluster: object, labels: dict, pods: list[dict]) -> list[dict]:
    failing: dict[str, dict[str, list[str]]] = {"baseline": {}, "restricted": {}}
    for pod in pods:
        found = {c for c, _, _ in pod_checks(pod["raw"])}
        for level, wanted in (
            ("baseline", {"baseline"}),
            ("restricted", {"baseline", "restricted"}),
        ):
            failed = sorted(c for c in found if CONTROLS[c].level in wanted)
            if failed:
                failing[level][pod["name"]] = failed
    base = dict(
        cluster=cluster, namespace=namespace, object_kind="Namespace", object_name=namespace
    )
    out = []
    enforce = labels.get(_PSA_LABEL + "enforce")
    if enforce in (None, "privileged"):
        bad = len(failing["baseline"])
        out.append(
            dict(
                base,
                control="psa.no-enforce",
                found=(f"enforce={enforce}; {bad} of {len(pods)} pods fail baseline"),
            )
        )
    for mode in ("enforce", "audit", "warn"):
        level = labels.get(_PSA_LABEL + mode)
        if failing.get(level):
            names = "; ".join(f"{p} ({', '.join(c)})" for p, c in sorted(failing[level].items()))
            out.append(dict(base, control="psa.violation", found=f"{mode}={level}: {names}"))
    return out


def controls() -> pd.DataFrame:
    """The controls as a frame: ``control, title, severity, standard, level, fix``.

    Examples
    --------
    >>> table = controls()
    >>> table.set_index("control").loc["pss.privileged", "standard"]
    'Pod Security Standards baseline: Privileged Containers'
    """
    rows = [
        dict(
            control=k,
            title=c.title,
            severity=c.severity,
            standard=c.standard,
            level=c.level,
            fix=c.fix,
        )
        for k, c in CONTROLS.items()
    ]
    out = pd.DataFrame(rows)
    out["severity"] = out["severity"].astype(SEVERITY)
    return out


def posture(
    inventory: pd.DataFrame,
    *,
    registries: Iterable[str] | None = None,
    include_system: bool = False,
) -> pd.DataFrame:
    """The posture findings of an inventory: one row per finding (see the module docstring).

    Parameters
    ----------
    inventory
        An inventory frame with the ``raw`` column (every obskit loader and collector keeps it).
    registries
        Allowed registries (``"registry.example.com"``) or repository prefixes
        (``"ghcr.io/acme"``); None skips the ``image.registry`` check. ``docker.io`` is the
        registry of names without one (``nginx``).
    include_system
        Also report built-in ``system:*`` bindings, users and groups.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> found = posture(inv.inventory, registries=["registry.example.com"])  # doctest: +SKIP
    >>> found[found.severity >= "high"][["namespace", "pod", "control", "found"]]  # doctest: +SKIP
    """
    if isinstance(registries, str):
        raise InvestigationError(
            f"registries must be a list of registries, got the string {registries!r}; "
            f"write registries=[{registries!r}]"
        )
    if "raw" not in inventory.columns:
        raise InvestigationError(
            "the inventory has no 'raw' column (the full objects), so there is nothing to "
            "check; load the objects with obskit.load (k8s-json) or obskit.collect"
        )
    allowed = None if registries is None else tuple(registries)
    objects = _checked(inventory)
    pods = [o for o in objects if o["kind"] == "Pod"]
    rows = _object_findings(objects, allowed)
    rows += _token_findings(inventory, objects)
    rows += _namespace_findings(inventory, objects, pods)
    rows += _rbac_findings(reach(inventory, include_system=include_system))
    return _frame(rows)


def _frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(
        rows, columns=[c for c in _COLUMNS if c not in ("severity", "standard", "title", "fix")]
    )
    meta = {
        c: [getattr(CONTROLS[k], c) for k in out["control"]]
        for c in ("severity", "standard", "title", "fix")
    }
    for column, values in meta.items():
        out[column] = values
    out = out[_COLUMNS]
    for column in (*schema.KEY, "object_kind", "control"):
        out[column] = out[column].astype("category")
    out["severity"] = out["severity"].astype(SEVERITY)
    for column in ("object_name", "standard", "title", "found", "fix"):
        out[column] = out[column].astype(schema.STRING)
    order = out.sort_values(
        ["severity", "control", "namespace", "object_kind", "object_name", "container"],
        ascending=[False, True, True, True, True, True],
        kind="stable",
        na_position="first",
    )
    return order.reset_index(drop=True)


# --- findings join the incident -----------------------------------------------------------------


def join_detections(
    detections: pd.DataFrame,
    inventory: pd.DataFrame,
    findings: pd.DataFrame | None = None,
    grants: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Detections with the posture of what they touch.

    Adds ``posture`` (the controls found on the detection's pod, comma-separated),
    ``token_account`` (the service account whose token the pod mounts, else the actor's
    ``service_account``), ``reach`` (that account's capabilities and scopes from
    :func:`reach`) and ``escalation`` (where an attacker in the pod goes next: the node,
    through a privileged, host-namespace, hostPath or added-capability pod; and what the
    token may do when that is cluster-admin, bind/escalate, wildcards, creating pods or
    reading secrets). ``findings`` and ``grants`` are :func:`posture` and :func:`reach` of
    the inventory, computed when not given; an inventory without its objects (no ``raw``)
    adds the columns empty.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> found = inv.detections()  # doctest: +SKIP
    >>> found[["rule", "pod", "posture", "reach", "escalation"]]  # doctest: +SKIP
    """
    if "raw" not in inventory.columns:
        inventory = inventory.assign(raw=None)
    findings = posture(inventory) if findings is None else findings
    grants = reach(inventory) if grants is None else grants
    out = detections.copy()
    by_pod: dict[tuple[object, object], list[str]] = {}
    pod_rows = findings[findings["object_kind"] == "Pod"]
    for (ns, pod), rows in pod_rows.groupby(["namespace", "object_name"], observed=True):
        by_pod[(ns, pod)] = sorted(set(rows["control"].astype(str)))
    accounts = _pod_accounts(inventory)
    capabilities: dict[str, list[str]] = {}
    for subject, rows in grants.groupby("subject"):
        powers = {f"{c} ({s})" for c, s in zip(rows["capability"], rows["scope"], strict=True)}
        admin = {p for p in powers if p.startswith("cluster-admin")}
        capabilities[str(subject)] = sorted(admin or powers)  # cluster-admin implies the rest
    namespaces, pods = _obj(out, "namespace"), _obj(out, "pod")
    actors = _obj(out, "service_account")
    posture_col, token_col, reach_col, path_col = [], [], [], []
    for ns, pod, actor in zip(namespaces, pods, actors, strict=True):
        controls_found = by_pod.get((ns, pod), [])
        token = accounts.get((ns, pod)) or actor
        powers = capabilities.get(str(token), []) if token else []
        posture_col.append(", ".join(controls_found) or None)
        token_col.append(token)
        reach_col.append("; ".join(powers) or None)
        path_col.append(_escalation(controls_found, powers, token))
    out["posture"], out["token_account"] = posture_col, token_col
    out["reach"], out["escalation"] = reach_col, path_col
    return out


def blast_radius(
    inventory: pd.DataFrame, account: str, grants: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The pods a subject's RBAC reaches: one row per pod and capability.

    ``account`` is a subject as :func:`reach` names it (``namespace:name`` for a service
    account, as in a detection's ``token_account``). Each capability holds in its scope (a
    namespace, or ``*`` for all), so with ``exec`` the subject may open a shell in every pod
    listed, with ``create-pods`` it may start pods beside them (mounting any service account
    of their namespace), with ``secrets`` it may read the secrets they use.

    Examples
    --------
    >>> import obskit
    >>> inv = obskit.datasets.load("cryptominer")  # doctest: +SKIP
    >>> blast_radius(inv.inventory, "web:storefront")  # doctest: +SKIP
    """
    grants = reach(inventory) if grants is None else grants
    mine = grants[(grants["subject"] == account) & (grants["capability"] != "any")]
    pods = inventory[inventory["kind"] == "Pod"]
    columns = [*schema.KEY, "capability", "scope", "binding"]
    parts = []
    for capability, scope, binding in zip(
        mine["capability"], mine["scope"], mine["binding"], strict=True
    ):
        inside = pods if scope == "*" else pods[pods["namespace"] == scope]
        part = inside[list(schema.KEY)].copy()
        part["capability"], part["scope"], part["binding"] = capability, scope, binding
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.sort_values(["namespace", "pod", "capability"], kind="stable", ignore_index=True)


def _obj(frame: pd.DataFrame, column: str) -> list:
    if column not in frame.columns:
        return [None] * len(frame)
    values = frame[column].astype(object)
    return values.where(values.notna(), None).tolist()


def _pod_accounts(inventory: pd.DataFrame) -> dict[tuple[object, object], str]:
    """(namespace, pod) -> ``namespace:service-account`` of the pods whose object is known."""
    pods = inventory[inventory["kind"] == "Pod"]
    return {
        (ns, name): f"{ns}:{_service_account(raw)}"
        for ns, name, raw in zip(pods["namespace"], pods["name"], pods["raw"], strict=True)
        if isinstance(raw, dict)
    }


def _escalation(found: list[str], powers: list[str], token: object) -> str | None:
    """Where an attacker in the pod goes next: the node, and/or what its token may do."""
    escapes = [c for c in found if c in _ESCAPES]
    strong = [p for p in powers if p.split(" ", 1)[0] in _POWERFUL]
    paths = [f"the node, through {', '.join(escapes)}"] if escapes else []
    if strong:
        paths.append(f"the token of {token}: {', '.join(strong)}")
    return "; ".join(paths) or None
