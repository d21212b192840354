"""Posture controls: each one passes on a real-shaped object and fails on the same object with
the one field that breaks it (the objects are Falco's k8s_audit trace files' request bodies,
tests/data/security/falco-k8saudit)."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pandas as pd
import pytest

import obskit
from obskit.analysis import posture as pm
from obskit.analysis.posture import (
    CONTROLS,
    blast_radius,
    join_detections,
    pod_checks,
    posture,
    reach,
)
from obskit.errors import InvestigationError
from obskit.sources.kubernetes import objects_to_frames

TRACES = Path(__file__).parent.parent / "data" / "security" / "falco-k8saudit" / "trace_files"


def _body(trace: str, **metadata: str) -> dict:
    """The request body (or, for a get, the response) of a Falco trace file, named and placed
    like a stored object."""
    event = orjson.loads((TRACES / f"{trace}.json").read_bytes().splitlines()[0])
    body = copy.deepcopy(event.get("requestObject") or event["responseObject"])
    ref = event.get("objectRef") or {}
    meta = body.setdefault("metadata", {})
    meta.setdefault("name", metadata.get("name") or ref.get("name") or trace.replace("_", "-"))
    if ref.get("namespace") or metadata.get("namespace"):
        meta["namespace"] = metadata.get("namespace") or ref["namespace"]
    meta["uid"] = f"uid-{meta['name']}"
    meta["creationTimestamp"] = "2018-10-25T13:00:00Z"
    return body


def _inventory(*objects: dict) -> pd.DataFrame:
    return objects_to_frames(list(objects)).inventory


def _controls(objects: list[dict], **options) -> set[str]:
    return set(posture(_inventory(*objects), **options)["control"].astype(str))


def _pod() -> dict:
    """Falco's unprivileged nginx pod."""
    return _body("create_nginx_pod_unprivileged", name="nginx-1")


def _with(mutate) -> dict:
    """The nginx pod with ``mutate(spec, first container)`` applied."""
    pod = _pod()
    mutate(pod["spec"], pod["spec"]["containers"][0])
    return pod


def _sc(c: dict) -> dict:
    return c.setdefault("securityContext", {})


def _restricted(spec: dict, c: dict) -> None:
    """What the restricted level asks of the nginx pod."""
    spec["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    _sc(c).update(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]})


# control -> (mutation that keeps it passing, mutation that makes it fail); both start from
# the restricted nginx pod, so a pass leaves every PSS control quiet.
CASES = {
    "pss.host-process": (
        lambda s, c: _sc(c).update(windowsOptions={"hostProcess": False}),
        lambda s, c: _sc(c).update(windowsOptions={"hostProcess": True}),
    ),
    "pss.host-namespaces": (
        lambda s, c: s.update(hostNetwork=False, hostPID=False),
        lambda s, c: s.update(hostIPC=True),
    ),
    "pss.privileged": (
        lambda s, c: _sc(c).update(privileged=False),
        lambda s, c: _sc(c).update(privileged=True),
    ),
    "pss.capabilities": (
        lambda s, c: _sc(c)["capabilities"].update(add=["NET_BIND_SERVICE"]),
        lambda s, c: _sc(c)["capabilities"].update(add=["SYS_ADMIN"]),
    ),
    "pss.host-path": (
        lambda s, c: s.update(volumes=[{"name": "tmp", "emptyDir": {}}]),
        lambda s, c: s.update(volumes=[{"name": "etc", "hostPath": {"path": "/etc"}}]),
    ),
    "pss.host-ports": (
        lambda s, c: c.update(ports=[{"containerPort": 80, "hostPort": 0}]),
        lambda s, c: c.update(ports=[{"containerPort": 80, "hostPort": 8080}]),
    ),
    "pss.apparmor": (
        lambda s, c: _sc(c).update(appArmorProfile={"type": "RuntimeDefault"}),
        lambda s, c: _sc(c).update(appArmorProfile={"type": "Unconfined"}),
    ),
    "pss.selinux": (
        lambda s, c: _sc(c).update(seLinuxOptions={"type": "container_init_t"}),
        lambda s, c: _sc(c).update(seLinuxOptions={"type": "spc_t"}),
    ),
    "pss.proc-mount": (
        lambda s, c: _sc(c).update(procMount="Default"),
        lambda s, c: _sc(c).update(procMount="Unmasked"),
    ),
    "pss.seccomp-unconfined": (
        lambda s, c: _sc(c).update(seccompProfile={"type": "Localhost"}),
        lambda s, c: _sc(c).update(seccompProfile={"type": "Unconfined"}),
    ),
    "pss.sysctls": (
        lambda s, c: s["securityContext"].update(
            sysctls=[{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]
        ),
        lambda s, c: s["securityContext"].update(
            sysctls=[{"name": "kernel.msgmax", "value": "65536"}]
        ),
    ),
    "pss.volume-types": (
        lambda s, c: s.update(volumes=[{"name": "data", "persistentVolumeClaim": {}}]),
        lambda s, c: s.update(volumes=[{"name": "data", "nfs": {"server": "nas"}}]),
    ),
    "pss.privilege-escalation": (
        lambda s, c: None,
        lambda s, c: _sc(c).pop("allowPrivilegeEscalation"),
    ),
    "pss.run-as-non-root": (
        lambda s, c: _sc(c).update(runAsNonRoot=True),
        lambda s, c: _sc(c).update(runAsNonRoot=False),
    ),
    "pss.run-as-root-user": (
        lambda s, c: _sc(c).update(runAsUser=101),
        lambda s, c: _sc(c).update(runAsUser=0),
    ),
    "pss.seccomp-required": (
        lambda s, c: _sc(c).update(seccompProfile={"type": "RuntimeDefault"}),
        lambda s, c: s["securityContext"].pop("seccompProfile"),
    ),
    "pss.capabilities-drop": (
        lambda s, c: _sc(c)["capabilities"].update(add=["NET_BIND_SERVICE"]),
        lambda s, c: _sc(c)["capabilities"].update(drop=["NET_RAW"]),
    ),
}


def test_every_pod_control_has_a_case():
    assert set(CASES) == {k for k, c in CONTROLS.items() if c.level}


@pytest.mark.parametrize("control", sorted(CASES))
def test_pod_security_control_passes_and_fails(control):
    keep, breaks = CASES[control]

    def passing(s, c):
        _restricted(s, c)
        keep(s, c)

    def failing(s, c):
        _restricted(s, c)
        breaks(s, c)

    assert {k for k, _, _ in pod_checks(_with(passing))} == set()
    assert {k for k, _, _ in pod_checks(_with(failing))} == {control}


def test_falco_pods_as_recorded():
    privileged = pod_checks(_body("create_nginx_pod_privileged"))
    assert ("pss.privileged", "nginx", "securityContext.privileged=true") in privileged
    assert "pss.privileged" not in {c for c, _, _ in pod_checks(_pod())}
    second = _body("create_nginx_pod_privileged_2nd_container")
    assert [n for c, n, _ in pod_checks(second) if c == "pss.privileged"] == ["mysql"]
    host = {c for c, _, _ in pod_checks(_body("create_nginx_pod_hostnetwork"))}
    assert "pss.host-namespaces" in host
    assert "pss.host-namespaces" not in {
        c for c, _, _ in pod_checks(_body("create_nginx_pod_nohostnetwork"))
    }
    mounts = {c: f for c, _, f in pod_checks(_body("create_nginx_pod_sensitive_mount"))}
    assert mounts["pss.host-path"] == "hostPath /etc (sensitive)"
    plain = {c: f for c, _, f in pod_checks(_body("create_nginx_pod_unsensitive_mount"))}
    assert "(sensitive)" not in plain["pss.host-path"]


def test_the_recorded_nginx_pod_fails_restricted_but_passes_baseline():
    levels = {CONTROLS[c].level for c, _, _ in pod_checks(_pod())}
    assert levels == {"restricted"}


def test_a_workload_template_is_checked_and_its_owned_pods_too():
    deployment = _body("create_deployment")
    deployment["spec"]["template"]["spec"]["hostPID"] = True
    pod = _body("create_nginx_pod_hostnetwork", name="nginx-2", namespace="default")
    found = posture(_inventory(deployment, pod))
    hosts = found[found.control == "pss.host-namespaces"]
    assert set(zip(hosts.object_kind.astype(str), hosts.object_name, strict=True)) == {
        ("Deployment", "nginx-deployment"),
        ("Pod", "nginx-2"),
    }
    assert hosts.set_index("object_kind").loc["Deployment", "found"] == "hostPID=true"


def test_an_owned_replicaset_is_left_to_its_deployment():
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "rs",
            "ownerReferences": [
                {"kind": "Deployment", "name": "web", "uid": "d", "controller": True}
            ],
        },
        "spec": {"template": {"spec": {"hostPID": True, "containers": [{"name": "a"}]}}},
    }
    assert "pss.host-namespaces" not in _controls([rs])
    del rs["metadata"]["ownerReferences"]
    assert "pss.host-namespaces" in _controls([rs])


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", {"image.latest"}),
        ("nginx:latest", {"image.latest"}),
        ("nginx:1.25", {"image.no-digest"}),
        ("localhost:5000/nginx:1.25", {"image.no-digest"}),
        ("nginx:1.25@sha256:" + "a" * 64, set()),
        ("nginx@sha256:" + "a" * 64, set()),
    ],
)
def test_image_references(image, expected):
    pod = _pod()
    pod["spec"]["containers"][0]["image"] = image
    assert {c for c, _, _ in pm.image_checks(pod, None)} == expected


def test_registries_outside_the_allow_list():
    pod = _pod()
    allowed = ("registry.example.com", "ghcr.io/acme")
    for image, ok in [
        ("nginx:1", False),  # docker.io
        ("registry.example.com/web:1", True),
        ("ghcr.io/acme/web:1", True),
        ("ghcr.io/other/web:1", False),
        ("registry.example.com.evil.io/web:1", False),
    ]:
        pod["spec"]["containers"][0]["image"] = image
        found = {c for c, _, _ in pm.image_checks(pod, allowed)}
        assert ("image.registry" not in found) is ok, image
    assert "image.registry" not in {c for c, _, _ in pm.image_checks(pod, None)}


def test_registries_as_a_string_is_refused():
    with pytest.raises(InvestigationError, match=r"registries=\['docker.io'\]"):
        posture(_inventory(_pod()), registries="docker.io")


def test_an_inventory_without_raw_objects_is_refused():
    with pytest.raises(InvestigationError, match="no 'raw' column"):
        posture(_inventory(_pod()).drop(columns="raw"))


# --- RBAC ---------------------------------------------------------------------------------------


def _binding(role: str, subject: dict, name: str = "b", namespace: str | None = None) -> dict:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta = {"name": name, "uid": f"uid-{name}"} | ({"namespace": namespace} if namespace else {})
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }


_SA = {"kind": "ServiceAccount", "name": "myacct", "namespace": "default"}


@pytest.mark.parametrize(
    ("role_file", "control"),
    [
        ("create_cluster_role_pod_exec", "rbac.exec"),
        ("create_cluster_role_wildcard_resources", "rbac.wildcard"),
        ("create_cluster_role_wildcard_verbs", "rbac.wildcard"),
    ],
)
def test_a_bound_falco_role_is_found_and_an_unbound_one_is_not(role_file, control):
    role = _body(role_file)
    assert control not in _controls([role])
    found = _controls([role, _binding("some-reader", _SA)])
    assert control in found
    write = _body("create_cluster_role_write_privileges")  # get pods: none of the risky ones
    assert not {c for c in _controls([write, _binding("some-reader", _SA)]) if "rbac" in c}


def test_wildcard_resources_read_secrets_and_wildcard_verbs_create_pods():
    resources = _controls(
        [_body("create_cluster_role_wildcard_resources"), _binding("some-reader", _SA)]
    )
    assert {"rbac.secrets", "rbac.exec"} <= resources  # get on '*' covers pods/exec
    verbs = _controls([_body("create_cluster_role_wildcard_verbs"), _binding("some-reader", _SA)])
    assert "rbac.create-pods" in verbs and "rbac.secrets" not in verbs


def test_falco_cluster_admin_binding():
    found = posture(_inventory(_body("attach_cluster_admin_role")))
    row = found[found.control == "rbac.cluster-admin"].iloc[0]
    assert (row.object_kind, row.object_name, row.severity) == ("User", "minikube", "critical")
    assert "ClusterRoleBinding some-reader-binding -> ClusterRole cluster-admin" in row.found
    assert found["control"].astype(str).tolist() == ["rbac.cluster-admin"]  # not six ways
    harmless = _controls([_body("create_clusterrolebinding")])  # system:basic-user, not loaded
    assert not {c for c in harmless if c.startswith("rbac.")}


def test_bind_escalate_impersonate():
    role = {
        "kind": "Role",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "granter", "namespace": "shop", "uid": "r"},
        "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
    }
    binding = _binding("granter", _SA, namespace="shop")
    binding["roleRef"]["kind"] = "Role"
    found = posture(_inventory(role, binding))
    row = found[found.control == "rbac.bind-escalate"].iloc[0]
    assert (row.namespace, row.object_name) == ("default", "default:myacct")
    assert "in shop" in row.found
    role["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert "rbac.bind-escalate" not in _controls([role, binding])


def test_a_cluster_role_in_a_rolebinding_reaches_only_that_namespace():
    grants = reach(_inventory(_binding("cluster-admin", _SA, namespace="shop")))
    assert set(grants["scope"]) == {"shop"}
    assert "cluster-admin" not in set(grants["capability"])  # not cluster-wide
    assert "wildcard" in set(grants["capability"])


def test_anonymous_bindings_and_system_subjects():
    anonymous = {
        "kind": "User",
        "name": "system:anonymous",
        "apiGroup": "rbac.authorization.k8s.io",
    }
    found = _controls([_binding("cluster-admin", anonymous, name="oops")])
    assert {"rbac.anonymous", "rbac.cluster-admin"} <= found
    system = {"kind": "Group", "name": "system:masters"}
    assert not _controls([_binding("cluster-admin", system, name="cluster-admin")])
    assert "rbac.cluster-admin" in _controls(
        [_binding("cluster-admin", system, name="cluster-admin")], include_system=True
    )
    builtin = _binding("cluster-admin", _SA, name="system:controller:x")
    assert not _controls([builtin])


def test_token_mounted_where_no_binding_grants_anything():
    pod = _body("create_nginx_pod_unprivileged", name="nginx-1", namespace="default")
    pod["spec"]["serviceAccountName"] = "myacct"
    other = _binding("cluster-admin", {"kind": "User", "name": "alice"})
    assert "sa.token-automount" in _controls([pod, other])
    assert "sa.token-automount" not in _controls([pod])  # no RBAC loaded: cannot say
    assert "sa.token-automount" not in _controls([pod, other, _binding("view", _SA, name="v")])
    account = _body("create_serviceaccount")
    account["automountServiceAccountToken"] = False
    assert "sa.token-automount" not in _controls([pod, other, account])
    pod["spec"]["automountServiceAccountToken"] = False
    assert "sa.token-automount" not in _controls([pod, other])


# --- namespaces ---------------------------------------------------------------------------------


def _namespace(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": f"ns-{name}",
            "labels": {f"pod-security.kubernetes.io/{k}": v for k, v in labels.items()},
        },
    }


def test_pod_security_admission_labels_against_what_runs():
    privileged = _body("create_nginx_pod_privileged", name="p", namespace="default")
    found = posture(_inventory(_namespace("default"), privileged))
    row = found[found.control == "psa.no-enforce"].iloc[0]
    assert row.found == "enforce=None; 1 of 1 pods fail baseline"
    found = posture(
        _inventory(_namespace("default", enforce="baseline", warn="restricted"), privileged)
    )
    rows = found[found.control == "psa.violation"].set_index("found")
    assert any(f.startswith("enforce=baseline: p (pss.privileged)") for f in rows.index)
    assert any(f.startswith("warn=restricted: p (") for f in rows.index)
    assert "psa.no-enforce" not in set(found.control)
    plain = _body("create_nginx_pod_unprivileged", name="q", namespace="default")
    quiet = _controls([_namespace("default", enforce="baseline"), plain])
    assert not {c for c in quiet if c.startswith("psa.")}


def test_namespaces_without_network_policy():
    pod = _body("create_nginx_pod_unprivileged", name="q", namespace="default")
    assert "netpol.none" in _controls([pod])
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "default", "uid": "np"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    assert "netpol.none" not in _controls([pod, policy])


# --- the frame and the incident -----------------------------------------------------------------


def test_findings_frame_columns_dtypes_and_order():
    found = posture(
        _inventory(
            _body("create_nginx_pod_privileged", name="p", namespace="default"),
            _body("attach_cluster_admin_role"),
        )
    )
    assert list(found.columns) == pm._COLUMNS
    assert found["severity"].dtype == pm.SEVERITY
    assert found["severity"].is_monotonic_decreasing
    assert set(found["control"].astype(str)) <= set(CONTROLS)
    row = found[found.control == "pss.privileged"].iloc[0]
    assert row.standard == "Pod Security Standards baseline: Privileged Containers"
    assert row.fix.startswith("remove securityContext.privileged")
    assert pm.controls()["control"].tolist() == list(CONTROLS)


def test_detections_show_the_pods_findings_and_the_tokens_reach():
    pod = _body("create_nginx_pod_privileged", name="web-1", namespace="shop")
    pod["spec"]["serviceAccountName"] = "deployer"
    admin = _binding(
        "cluster-admin", {"kind": "ServiceAccount", "name": "deployer", "namespace": "shop"}
    )
    calm = _body("create_nginx_pod_unprivileged", name="web-2", namespace="shop")
    inventory = _inventory(pod, admin, calm)
    detections = pd.DataFrame(
        {
            "rule": ["falco.exec", "falco.exec"],
            "namespace": ["shop", "shop"],
            "pod": ["web-1", "web-2"],
        }
    )
    joined = join_detections(detections, inventory)
    first, second = joined.iloc[0], joined.iloc[1]
    assert "pss.privileged" in first.posture
    assert first.token_account == "shop:deployer"
    assert "cluster-admin (*)" in first.reach
    assert first.escalation.startswith(
        "the node, through pss.privileged; the token of shop:deployer: cluster-admin (*)"
    )
    assert "pss.privileged" not in (second.posture or "")
    assert second.token_account == "shop:default"
    assert pd.isna(second.reach) and pd.isna(second.escalation)


def test_an_audit_detection_without_a_pod_takes_its_actors_reach():
    admin = _binding("cluster-admin", {"kind": "ServiceAccount", "name": "ci", "namespace": "ci"})
    inventory = _inventory(admin)
    detections = pd.DataFrame(
        {
            "rule": ["audit.secrets-list"],
            "namespace": ["shop"],
            "pod": [None],
            "service_account": ["ci:ci"],
        }
    )
    row = join_detections(detections, inventory).iloc[0]
    assert (row.token_account, row.reach) == ("ci:ci", "cluster-admin (*)")
    assert row.escalation == "the token of ci:ci: cluster-admin (*)"


def test_detections_without_inventory_objects_get_the_columns_empty():
    detections = pd.DataFrame({"rule": ["falco.exec"], "namespace": ["shop"], "pod": ["web-1"]})
    bare = _inventory(_body("create_nginx_pod_privileged", name="web-1", namespace="shop"))
    joined = join_detections(detections, bare.drop(columns="raw"))
    assert joined[["posture", "reach", "escalation"]].isna().all().all()
    assert joined["token_account"].isna().all()
    empty = join_detections(detections.iloc[:0], bare)
    assert {"posture", "token_account", "reach", "escalation"} <= set(empty.columns)


def test_cryptominer_posture_and_detections():
    inv = obskit.datasets.load("cryptominer")
    found = inv.posture(registries=["registry.example.com"])
    helper = found[(found.pod == "kube-metrics-helper")]
    assert {"pss.privileged", "pss.host-namespaces"} <= set(helper.control.astype(str))
    detections = inv.detections(baseline="30min")
    on_helper = detections[detections.pod == "kube-metrics-helper"]
    assert len(on_helper) and on_helper["posture"].str.contains("pss.privileged").all()
    assert on_helper["escalation"].str.startswith("the node, through").all()
    # the bundled RBAC: storefront's token has "edit" in web, which the attacker used
    assert on_helper["token_account"].eq("web:storefront").all()
    assert on_helper["escalation"].str.contains("the token of web:storefront: .*create-pods").all()
    rbac = found[found.control.astype(str).str.startswith("rbac.")]
    assert set(rbac.object_name) == {"web:storefront", "ci:deployer", "contractors"}
    assert set(found.loc[found.control == "netpol.none", "namespace"]) >= {"web"}
    assert "api" not in set(found.loc[found.control == "netpol.none", "namespace"])
    violations = found[(found.control == "psa.violation") & (found.namespace == "web")]
    assert violations["found"].str.startswith("warn=baseline: kube-metrics-helper").all()


def test_blast_radius_is_the_pods_in_the_accounts_reach():
    web = _body("create_nginx_pod_unprivileged", name="web-1", namespace="web")
    api = _body("create_nginx_pod_unprivileged", name="api-1", namespace="api")
    role = _body("create_cluster_role_pod_exec")  # some-reader: get pods/exec
    inventory = _inventory(web, api, role, _binding("some-reader", _SA, namespace="web"))
    radius = blast_radius(inventory, "default:myacct")
    assert radius[["pod", "capability", "scope"]].values.tolist() == [["web-1", "exec", "web"]]
    wide = _inventory(web, api, _binding("cluster-admin", _SA))
    assert set(blast_radius(wide, "default:myacct")["pod"]) == {"web-1", "api-1"}
    assert blast_radius(wide, "nobody:else").empty
