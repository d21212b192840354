"""Security detections: Falco's labelled audit traces, the bundled incidents, each rule alone."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pandas as pd
import pytest
import yaml

import obskit
from obskit import schema
from obskit.analysis import security
from obskit.analysis.security import FALCO_K8S_AUDIT_RULES, RULES, detect, evidence
from obskit.errors import InvestigationError
from obskit.sources.audit import parse_audit_log

FALCO = Path(__file__).parents[1] / "data" / "security" / "falco-k8saudit"
TRACES = FALCO / "trace_files"

# Falco's "Pod Created in Kube Namespace" fires on pods the replicaset-controller creates in
# kube-system; obskit's rule flags only non-system creators (a controller's pod is not an
# intruder's), so the two rules differ by design and are not mapped. The files are checked below
# for obskit's own behaviour.
DIVERGENT = {"Pod Created in Kube Namespace": "audit.pod-created-in-kube-namespace"}


class _Mux(yaml.SafeLoader):
    """Falco's test file tags its mapping !mux (an avocado test-runner tag)."""


_Mux.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _labels() -> dict[str, dict[str, object]]:
    """Per trace file: Falco rules that must fire (with counts), and whether it must stay quiet.

    Only cases run with Falco's default rules count as "must not fire": a case that adds an
    allow/trust list of its own is about that list, not about the default rules.
    """
    cases = yaml.load((FALCO / "falco_k8s_audit_tests.yaml").read_text(), Loader=_Mux)
    labels: dict[str, dict[str, object]] = {}
    for case in cases["trace_files"].values():
        match = re.search(r"k8s_audit/(\S+)", case.get("addl_cmdline_opts", ""))
        if not match:
            continue
        entry = labels.setdefault(match[1], {"must": {}, "quiet": False})
        for counts in case.get("detect_counts") or []:
            entry["must"].update(counts)
        own_lists = [
            r
            for r in case.get("rules_file", [])
            if not r.endswith(
                ("falco_rules.yaml", "k8s_audit_rules.yaml", "disallow_kactivity.yaml")
            )
        ]
        if not case["detect"] and not own_lists:
            entry["quiet"] = True
    return labels


LABELS = _labels()


def _events(path: Path) -> pd.DataFrame:
    return parse_audit_log(path.read_bytes(), origin=path.name).events


def _mapped(fired: set[str]) -> set[str]:
    return {falco for falco, ids in FALCO_K8S_AUDIT_RULES.items() if ids & fired}


def test_the_labels_cover_every_mapped_rule():
    labelled = {rule for entry in LABELS.values() for rule in entry["must"]}
    assert set(FALCO_K8S_AUDIT_RULES) <= labelled
    assert len(LABELS) == 47


@pytest.mark.parametrize("name", sorted(LABELS))
def test_falco_labels_agree(name):
    label = LABELS[name]
    found = detect(_events(TRACES / name))
    fired = set(found["rule"].astype(str))
    must = {rule for rule in label["must"] if rule in FALCO_K8S_AUDIT_RULES}
    # the Falco rules obskit covers fire exactly when Falco's labels say so
    assert _mapped(fired) == must
    if label["quiet"]:
        covered = set().union(*FALCO_K8S_AUDIT_RULES.values())
        assert not fired & covered
    for rule in must:
        hits = found[found["rule"].isin(FALCO_K8S_AUDIT_RULES[rule])]
        assert int(hits["count"].sum()) == label["must"][rule]


def test_falco_labels_agreement_in_numbers():
    """Every labelled file and every mapped rule agree (45 audit files; one is not audit)."""
    agree = 0
    for name, label in LABELS.items():
        events = _events(TRACES / name)
        fired = set(detect(events)["rule"].astype(str))
        must = {rule for rule in label["must"] if rule in FALCO_K8S_AUDIT_RULES}
        agree += _mapped(fired) == must
    assert agree == len(LABELS) == 47


@pytest.mark.parametrize(
    "name", ["create_pod_kube_system_namespace.json", "create_pod_kube_public_namespace.json"]
)
def test_pods_created_by_controllers_in_kube_namespaces_are_not_flagged(name):
    assert "Pod Created in Kube Namespace" in LABELS[name]["must"]
    assert detect(_events(TRACES / name)).empty


def test_the_invalid_trace_file_makes_no_detection():
    events = _events(TRACES / "fal_01_003.json")
    assert events.empty
    assert detect(events).empty


# --- the bundled incidents ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cryptominer():
    inv = obskit.datasets.load("cryptominer")
    return inv, inv.detections()


def _matches(found: pd.DataFrame, expected: dict, tolerance: str = "2min") -> pd.DataFrame:
    when = pd.Timestamp(expected["time"])
    actors = found[["user", "service_account", "process"]].astype("object")
    subject = expected["subject"]
    by_actor = (actors == subject).any(axis=1) | (
        actors["service_account"].notna()
        & ("system:serviceaccount:" + actors["service_account"].fillna("") == subject)
    )
    return found[
        (found["rule"] == expected["id"])
        & (found["pod"] == expected["pod"])
        & by_actor
        & ((found["timestamp"] - when).abs() <= pd.Timedelta(tolerance))
    ]


def test_cryptominer_expected_detections_are_found(cryptominer):
    _, found = cryptominer
    expected = obskit.datasets.truth("cryptominer")["expected_detections"]
    assert len(expected) == 9
    missing = [e for e in expected if _matches(found, e).empty]
    assert missing == []


def test_cryptominer_nothing_else_is_high_or_critical(cryptominer):
    _, found = cryptominer
    expected = obskit.datasets.truth("cryptominer")["expected_detections"]
    matched = set()
    for e in expected:
        matched.update(_matches(found, e).index)
    severe = found[found["rule_severity"] >= "high"]
    assert set(severe.index) <= matched
    assert len(severe) == 7  # the 9 expected, less the two Falco notices


@pytest.mark.parametrize("name", ["checkout-oom", "bad-rollout", "node-pressure"])
def test_benign_incidents_have_no_high_or_critical_detection(name):
    found = obskit.datasets.load(name).detections()
    assert (found["severity"] >= "error").sum() == 0
    assert (found["rule_severity"] >= "high").sum() == 0


def test_detections_are_events_with_their_rule_technique_and_actor(cryptominer):
    _, found = cryptominer
    schema.validate("events", found)
    assert set(found["source"]) == {"detection"}
    assert (
        found["severity"].astype(str)
        == found["rule_severity"].astype(str).map(security.RULE_SEVERITY)
    ).all()
    assert found["technique"].notna().all() and found["technique_name"].notna().all()
    row = found[found["rule"] == "audit.secrets-list-by-serviceaccount"].iloc[0]
    assert row["service_account"] == "web:storefront"
    assert row["source_ip"] == "10.244.1.156"
    assert row["user_agent"] == "curl/8.5.0"
    assert row["workload"] == "storefront"  # the key is completed from the inventory
    assert row["evidence"] == ["bbc41aef-5d7e-48c0-89b8-53a3e2da9442"]
    assert "subject" in row["first_seen"]


def test_falco_bursts_are_one_detection_with_a_count(cryptominer):
    inv, found = cryptominer
    miner = found[found["rule"] == "falco.miner-pool-connection"].set_index("pod")
    assert miner.loc["storefront-b6rzdb2j9g-mq658", "count"] == 6
    assert miner.loc["kube-metrics-helper", "count"] == 4
    assert miner.loc["kube-metrics-helper", "process"] == "xmrig"
    assert miner.loc["kube-metrics-helper", "end"] == pd.Timestamp("2024-09-10T20:01:49.202888832Z")
    rows = evidence(inv.events, found)
    per = rows.groupby("detection").size()
    assert per[miner.loc["kube-metrics-helper", "uid"]] == 4
    assert set(
        rows.loc[rows["detection"] == miner.loc["kube-metrics-helper", "uid"], "source"]
    ) == {"falco"}


def test_a_token_from_outside_is_one_burst_on_the_tokens_pod(cryptominer):
    _, found = cryptominer
    token = found[found["rule"] == "audit.serviceaccount-token-unusual-source-ip"]
    assert len(token) == 1
    assert token.iloc[0]["pod"] == "storefront-b6rzdb2j9g-mq658"
    assert token.iloc[0]["source_ip"] == "203.0.113.77"
    assert token.iloc[0]["count"] == 3


def test_a_learning_baseline_makes_earlier_subjects_usual():
    inv = obskit.datasets.load("cryptominer")
    # an earlier investigation in which the contractor already exec'd into storefront pods
    history = inv.events[inv.events["user"] == "dev-contractor-7"]
    found = detect(inv, baseline=history)
    rules = set(found["rule"].astype(str))
    assert "audit.pod-exec-unusual-subject" not in rules
    assert "audit.pod-exec" in rules
    # a learning window that covers the exec silences it as unusual too
    window = detect(inv, baseline=("2024-09-10T19:00Z", "2024-09-10T19:52:30Z"))
    assert "audit.pod-exec-unusual-subject" not in set(window["rule"].astype(str))
    # a 30-minute learning window ends before the attack: nothing changes
    assert detect(inv, baseline="30min")["rule"].tolist() == detect(inv)["rule"].tolist()


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ("soon", "not a duration"),
        ("-5min", "positive duration"),
        (("2024-09-10T20:00Z", "2024-09-10T19:00Z"), "after its end"),
        (42, "baseline must be None, a duration"),
    ],
)
def test_bad_baselines_say_what_to_give(baseline, message):
    events = _events(TRACES / "exec_pod.json")
    with pytest.raises(InvestigationError, match=message):
        detect(events, baseline=baseline)


def test_detect_refuses_what_is_not_events():
    with pytest.raises(InvestigationError, match="Investigation or an events DataFrame"):
        detect([1, 2])
    with pytest.raises(InvestigationError, match="burst must be a duration"):
        detect(_events(TRACES / "exec_pod.json"), burst="often")


def test_the_rule_table():
    table = security.rules()
    assert table.index.is_unique and len(table) == len(RULES)
    assert set(table["severity"]) <= {"low", "medium", "high", "critical"}
    assert table["technique_name"].str.len().gt(0).all()
    assert all(ids <= set(RULES) for ids in FALCO_K8S_AUDIT_RULES.values())


# --- each rule on its own (synthetic audit events shaped like the API server's) -----------------

_T0 = pd.Timestamp("2024-03-01T10:00:00Z")
_SYSTEM_IP = "10.0.0.10"


def _audit(
    n: int,
    *,
    verb: str,
    resource: str,
    user: str = "mallory@example.com",
    namespace: str | None = "shop",
    name: str | None = None,
    subresource: str | None = None,
    group: str | None = None,
    code: int = 200,
    ip: str = "198.51.100.9",
    body: dict | None = None,
    extra: dict | None = None,
    decision: str = "allow",
    uri: str | None = None,
) -> dict:
    ref = {"resource": resource, "apiVersion": "v1"}
    for key, value in (
        ("namespace", namespace),
        ("name", name),
        ("subresource", subresource),
        ("apiGroup", group),
    ):
        if value:
            ref[key] = value
    at = (_T0 + pd.Timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse" if body else "Metadata",
        "auditID": f"00000000-0000-0000-0000-{n:012d}",
        "stage": "ResponseComplete",
        "requestURI": uri or f"/api/v1/namespaces/{namespace}/{resource}",
        "verb": verb,
        "user": {
            "username": user,
            "groups": ["system:authenticated"],
            **({"extra": extra} if extra else {}),
        },
        "sourceIPs": [ip],
        "userAgent": "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": at,
        "stageTimestamp": at,
        "annotations": {"authorization.k8s.io/decision": decision},
    }
    if body:
        event["requestObject"] = body
    return event


def _detect(*records: dict, **options: object) -> pd.DataFrame:
    data = b"\n".join(orjson.dumps(r) for r in records)
    return detect(parse_audit_log(data).events, **options)


def _fired(found: pd.DataFrame) -> list[str]:
    return sorted(found["rule"].astype(str))


def _pod(spec: dict) -> dict:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": spec}


def test_exec_by_a_known_subject_is_low_and_by_a_new_one_high():
    found = _detect(
        _audit(1, verb="create", resource="pods", name="web-1", subresource="exec", code=101),
        _audit(60, verb="get", resource="pods", name="web-2", subresource="attach", code=101),
        _audit(4000, verb="create", resource="pods", name="web-1", subresource="exec", code=101),
    )
    # the first session is new; the attach to another pod and the later exec are not
    assert found["rule"].tolist() == [
        "audit.pod-exec-unusual-subject",
        "audit.pod-exec",
        "audit.pod-exec",
    ]
    assert found["pod"].tolist() == ["web-1", "web-2", "web-1"]
    assert found["rule_severity"].tolist() == ["high", "low", "low"]


def test_a_denied_exec_is_not_an_exec():
    found = _detect(
        _audit(
            1,
            verb="create",
            resource="pods",
            name="web-1",
            subresource="exec",
            code=403,
            decision="forbid",
        )
    )
    assert "audit.pod-exec-unusual-subject" not in _fired(found)


def test_port_forward_and_ephemeral_containers():
    found = _detect(
        _audit(1, verb="create", resource="pods", name="db-0", subresource="portforward", code=101),
        _audit(2, verb="patch", resource="pods", name="web-1", subresource="ephemeralcontainers"),
    )
    assert _fired(found) == ["audit.ephemeral-container-added", "audit.pod-portforward"]


def test_secrets_read_by_a_new_person_and_not_by_the_control_plane():
    found = _detect(
        _audit(1, verb="get", resource="secrets", name="db"),
        _audit(2, verb="get", resource="secrets", name="db", user="system:kube-controller-manager"),
        _audit(3, verb="list", resource="secrets", user="system:node:node-1"),
    )
    assert _fired(found) == ["audit.secrets-read-unusual-subject"]
    assert found.iloc[0]["user"] == "mallory@example.com"


def test_token_requests_by_people_but_not_by_kubelets():
    found = _detect(
        _audit(1, verb="create", resource="serviceaccounts", name="default", subresource="token"),
        _audit(
            2,
            verb="create",
            resource="serviceaccounts",
            name="x",
            subresource="token",
            user="system:node:node-1",
        ),
    )
    assert _fired(found) == ["audit.serviceaccount-token-requested"]


def test_a_pod_token_inside_the_cluster_networks_is_quiet():
    extra = {"authentication.kubernetes.io/pod-name": ["web-1"]}
    sa = "system:serviceaccount:shop:web"
    node = {
        "verb": "patch",
        "resource": "nodes",
        "namespace": None,
        "name": "n1",
        "user": "system:node:n1",
        "ip": "10.0.3.4",
    }
    inside = _detect(
        _audit(1, **node),
        _audit(2, verb="get", resource="configmaps", user=sa, extra=extra, ip="10.0.9.9"),
    )
    assert inside.empty
    outside = _detect(
        _audit(1, **node),
        _audit(2, verb="get", resource="configmaps", user=sa, extra=extra, ip="192.0.2.1"),
    )
    assert _fired(outside) == ["audit.serviceaccount-token-unusual-source-ip"]
    assert outside.iloc[0]["pod"] == "web-1"
    # a token without a pod binding (a CI deployer's) is not a pod's token
    ci = _detect(_audit(1, **node), _audit(2, verb="get", resource="configmaps", user=sa))
    assert ci.empty


def test_host_paths_sensitive_or_not():
    sensitive = {"volumes": [{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}]}
    other = {"volumes": [{"name": "d", "hostPath": {"path": "/data/cache"}}]}
    found = _detect(
        _audit(1, verb="create", resource="pods", body=_pod(sensitive)),
        _audit(2, verb="create", resource="pods", body=_pod(other)),
    )
    assert _fired(found) == ["audit.hostpath-pod-created", "audit.sensitive-hostpath-pod-created"]


def test_a_privileged_deployment_template_is_a_privileged_pod():
    template = {
        "spec": {
            "containers": [{"name": "c", "securityContext": {"privileged": True}}],
            "hostPID": True,
        }
    }
    body = {"kind": "Deployment", "metadata": {"name": "miner"}, "spec": {"template": template}}
    found = _detect(
        _audit(1, verb="create", resource="deployments", group="apps", name="miner", body=body)
    )
    assert _fired(found) == ["audit.host-namespace-pod-created", "audit.privileged-pod-created"]
    assert set(found["workload"]) == {"miner"}


def test_pods_and_service_accounts_made_in_kube_system_by_people():
    found = _detect(
        _audit(1, verb="create", resource="pods", namespace="kube-system", name="x"),
        _audit(
            2,
            verb="create",
            resource="pods",
            namespace="kube-system",
            name="y",
            user="system:serviceaccount:kube-system:daemon-set-controller",
        ),
    )
    assert _fired(found) == ["audit.pod-created-in-kube-namespace"]


def test_rbac_bindings_to_anonymous_and_wildcard_roles():
    binding = {
        "kind": "ClusterRoleBinding",
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": "system:unauthenticated"}],
    }
    role = {"kind": "Role", "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]}
    found = _detect(
        _audit(
            1,
            verb="create",
            resource="clusterrolebindings",
            namespace=None,
            name="open",
            group="rbac.authorization.k8s.io",
            body=binding,
        ),
        _audit(
            2,
            verb="create",
            resource="roles",
            name="all",
            group="rbac.authorization.k8s.io",
            body=role,
        ),
    )
    assert _fired(found) == ["audit.rbac-binding-to-anonymous", "audit.rbac-wildcard-role"]
    assert found.set_index("rule").loc["audit.rbac-binding-to-anonymous", "severity"] == "critical"


def test_anonymous_health_checks_are_not_anonymous_access():
    found = _detect(
        _audit(
            1,
            verb="get",
            resource="namespaces",
            user="system:anonymous",
            namespace=None,
            uri="/api/v1/namespaces",
        ),
        _audit(
            2,
            verb="get",
            resource="healthz",
            user="system:anonymous",
            namespace=None,
            uri="/healthz",
        ),
    )
    assert _fired(found) == ["audit.anonymous-request-allowed"]


def test_cronjobs_and_event_deletion():
    found = _detect(
        _audit(1, verb="create", resource="cronjobs", group="batch", name="backup"),
        _audit(2, verb="deletecollection", resource="events"),
        _audit(
            3,
            verb="delete",
            resource="events",
            name="e",
            user="system:serviceaccount:kube-system:namespace-controller",
        ),
    )
    assert _fired(found) == ["audit.cronjob-created", "audit.events-deleted"]


def test_auth_failures_burst_from_one_source():
    probes = [
        _audit(i * 30, verb="list", resource="secrets", code=403, decision="forbid")
        for i in range(5)
    ]
    found = _detect(*probes)
    burst = found[found["rule"] == "audit.auth-failure-burst"]
    assert len(burst) == 1 and burst.iloc[0]["count"] == 5
    assert burst.iloc[0]["source_ip"] == "198.51.100.9"
    # four failures, or five spread wider than the gap, are no burst
    assert "audit.auth-failure-burst" not in _fired(_detect(*probes[:4]))
    spread = [_audit(i * 600, verb="list", resource="secrets", code=401) for i in range(5)]
    assert "audit.auth-failure-burst" not in _fired(_detect(*spread))


def test_hits_further_apart_than_the_burst_are_separate_detections():
    records = [
        _audit(i * 300, verb="create", resource="cronjobs", group="batch", name="b")
        for i in range(3)
    ]
    assert _detect(*records)["count"].tolist() == [3]
    assert _detect(*records, burst="1min")["count"].tolist() == [1, 1, 1]


def test_no_audit_or_falco_rows_no_detections():
    found = detect(schema.empty("events"))
    assert found.empty
    assert {"rule_severity", "technique", "evidence", "end"} <= set(found.columns)


def test_with_detections_adds_audit_detections_once_for_the_pictures():
    inv = obskit.datasets.load("cryptominer")
    falco = int((inv.events["source"] == "falco").sum())
    audit_found = inv.detections()
    audit_found = audit_found[audit_found["detection_source"] == "audit"]
    with_found = inv.with_detections()
    assert int((with_found.events["source"] == "detection").sum()) == len(audit_found) > 0
    assert int((with_found.events["source"] == "falco").sum()) == falco
    assert len(with_found.with_detections().events) == len(with_found.events)
    tree = with_found.hierarchy_frame("workload")
    alerts = tree[[c for c in tree.columns if c.startswith("alerts_")]].sum(axis=1)
    before = inv.hierarchy_frame("workload")
    alerts_before = before[[c for c in before.columns if c.startswith("alerts_")]].sum(axis=1)
    assert alerts.iloc[0] == alerts_before.iloc[0] + len(audit_found)  # the cluster root


def test_a_disguised_name_is_a_detection():
    rlo = "system:serviceaccount:kube-system:\u202erellortnoc-tnemyolped\u202c"
    found = _detect(
        _audit(1, verb="list", resource="secrets", user=rlo),
        _audit(2, verb="get", resource="pods", name="web\u200b-1"),
        _audit(3, verb="get", resource="pods", name="web-1"),
        _audit(4, verb="get", resource="pods", user="system:serviceaccount:kube-system:x"),
    )
    disguised = found[found["rule"] == "audit.disguised-name"]
    assert disguised["technique"].tolist() == ["T1036.002", "T1036.002"]
    assert disguised["rule_severity"].tolist() == ["high", "high"]
    messages = disguised["message"].tolist()
    assert "(user: U+202E RIGHT-TO-LEFT OVERRIDE, U+202C POP DIRECTIONAL FORMATTING)" in messages[0]
    assert "(object_name: U+200B ZERO WIDTH SPACE)" in messages[1]
    assert disguised["user"].iloc[0] == rlo  # the data keeps the name; the views reveal it


# --- a security collector deleted or stopped (T1562.001) ----------------------------------------


def _delete_falco_daemonset() -> dict:
    """Falco's recorded ``kubectl delete deployment`` trace, turned on the falco DaemonSet."""
    event = orjson.loads((TRACES / "delete_deployment.json").read_bytes().splitlines()[0])
    event["objectRef"] = {
        "apiGroup": "apps",
        "apiVersion": "v1",
        "name": "falco",
        "namespace": "falco",
        "resource": "daemonsets",
    }
    event["requestURI"] = "/apis/apps/v1/namespaces/falco/daemonsets/falco"
    return event


def test_deleting_the_falco_daemonset_impairs_defences():
    found = _detect(_delete_falco_daemonset())
    assert _fired(found) == ["audit.security-collector-impaired"]
    hit = found.iloc[0]
    assert (hit["technique"], hit["rule_severity"]) == ("T1562.001", "high")
    assert hit["technique_name"] == "Impair Defenses: Disable or Modify Tools"
    assert (hit["workload_kind"], hit["workload"], hit["user"]) == (
        "DaemonSet",
        "falco",
        "minikube-user",
    )
    assert "falco daemonsets deleted" in hit["message"]
    assert hit["evidence"] == ["8bb19a30-3d68-4fd7-999e-90a9014afac0"]


def test_collector_pods_deleted_moved_off_nodes_or_scaled_to_zero():
    never = {"spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/hostname": "x"}}}}}
    found = _detect(
        _audit(1, verb="delete", resource="pods", name="falco-4v8px", namespace="monitoring"),
        _audit(
            2,
            verb="deletecollection",
            resource="pods",
            namespace="logging",
            uri="/api/v1/namespaces/logging/pods?labelSelector=app.kubernetes.io%2Fname%3Dfluent-bit",
        ),
        _audit(3, verb="patch", resource="daemonsets", group="apps", name="falco", body=never),
        _audit(
            4,
            verb="update",
            resource="deployments",
            subresource="scale",
            group="apps",
            name="datadog-agent",
            body={"kind": "Scale", "spec": {"replicas": 0}},
        ),
    )
    assert _fired(found) == ["audit.security-collector-impaired"] * 4
    assert set(found["message"].str.extract(r"\((.*)\)")[0]) == {
        "falco pods deleted",
        "log shipper pods deleted",
        "falco pod template nodeSelector changed",
        "datadog-agent scaled to 0 replicas",
    }


def test_collectors_left_alone_by_their_controllers_and_other_workloads_are_quiet():
    found = _detect(
        # the DaemonSet controller replaces a Falco pod: a cluster component
        _audit(
            1,
            verb="delete",
            resource="pods",
            name="falco-4v8px",
            user="system:serviceaccount:kube-system:daemon-set-controller",
        ),
        # an image bump of Falco moves it off no node
        _audit(
            2,
            verb="patch",
            resource="daemonsets",
            group="apps",
            name="falco",
            body={"spec": {"template": {"spec": {"containers": [{"name": "falco"}]}}}},
        ),
        # node-exporter is not a defence; a denied delete of Falco did nothing
        _audit(3, verb="delete", resource="daemonsets", group="apps", name="node-exporter"),
        _audit(4, verb="delete", resource="daemonsets", group="apps", name="falco", code=403),
    )
    assert "audit.security-collector-impaired" not in _fired(found)
