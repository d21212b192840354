"""Reading Kubernetes pod specs: shared by the audit detections (:mod:`obskit.analysis.security`)
and the posture checks (:mod:`obskit.analysis.posture`), so both judge a spec the same way."""

from __future__ import annotations

__all__ = ["SENSITIVE_PATHS", "containers", "is_sensitive_path", "pod_spec"]

#: Host paths whose mount gives a container the node (its files, its runtime's socket, its kubelet).
SENSITIVE_PATHS: tuple[str, ...] = (
    "/",
    "/etc",
    "/proc",
    "/root",
    "/home/admin",
    "/boot",
    "/dev",
    "/sys",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/crio",
    "/run/crio",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/etc/kubernetes",
)
# Paths below these are as sensitive as the path ("/" and "/dev" only as themselves).
_SENSITIVE_TREES = tuple(p + "/" for p in SENSITIVE_PATHS if p not in ("/", "/dev"))


def pod_spec(body: dict, resource: str) -> dict | None:
    """The pod spec of a Pod (``resource`` ``"pods"``) or of a workload's pod template.

    Examples
    --------
    >>> pod_spec({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"a": 1}}}}}}, "cronjobs")
    {'a': 1}
    """
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else None
    if spec is None:
        return None
    if resource == "pods":
        return spec
    if resource == "cronjobs":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    inner = template.get("spec")
    return inner if isinstance(inner, dict) else None


def containers(spec: dict) -> list[dict]:
    """A pod spec's init, app and ephemeral containers, in that order."""
    out: list[dict] = []
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        out += [c for c in spec.get(kind) or [] if isinstance(c, dict)]
    return out


def is_sensitive_path(path: str) -> bool:
    """Whether mounting host ``path`` hands the node to the container.

    Examples
    --------
    >>> is_sensitive_path("/etc/kubernetes/"), is_sensitive_path("/dev/null")
    (True, False)
    """
    path = path.rstrip("/") or "/"
    return path in SENSITIVE_PATHS or path.startswith(_SENSITIVE_TREES)
