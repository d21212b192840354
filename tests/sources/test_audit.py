"""Tests for the Kubernetes audit log parser (format ``audit-log``).

Real data: ``tests/data/audit/*.json`` are Falco's k8s_audit trace files (minikube, 2018-2020,
audit.k8s.io/v1beta1 and v1; see ``tests/data/audit/SOURCES.md``).

Hand-written v1 events below follow ``audit.k8s.io/v1`` ``Event`` field by field, in the
struct's order (which is the order Go's encoding/json writes them), from
kubernetes/kubernetes ``staging/src/k8s.io/apiserver/pkg/apis/audit/v1/types.go``:
``TypeMeta`` (``kind``, ``apiVersion``), ``level``, ``auditID``, ``stage``, ``requestURI``,
``verb``, ``user`` (authentication/v1 ``UserInfo``: ``username``, ``uid``, ``groups``),
``impersonatedUser``, ``sourceIPs``, ``userAgent``, ``objectRef`` (``ObjectReference``:
``resource``, ``namespace``, ``name``, ``uid``, ``apiGroup``, ``apiVersion``,
``resourceVersion``, ``subresource``), ``responseStatus`` (meta/v1 ``Status``),
``requestObject``, ``responseObject``, ``requestReceivedTimestamp`` and ``stageTimestamp``
(``metav1.MicroTime``: six fractional digits) and ``annotations``; the stages are the
``Stage`` constants ``RequestReceived``, ``ResponseStarted``, ``ResponseComplete``, ``Panic``.
v1beta1 differs by also having ``metadata`` (ObjectMeta) and ``timestamp`` (``metav1.Time``,
whole seconds), both deprecated, as the trace files show.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from obskit import schema
from obskit.sources import detect_format, load_file
from obskit.sources.audit import final_stages, parse_audit_log

DATA = Path(__file__).parent.parent / "data" / "audit"
# Falco's fal_01_003.json, kept out of the audit samples the contract tests glob.
NOT_AN_EVENT = DATA / "invalid" / "fal_01_003.txt"

# A kubectl exec as the log backend writes it: three records for one request, one per stage.
EXEC_STAGES = [
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    '"auditID":"3f6c2a8e-6f3b-4c5e-9d43-2b1f0e1c9a77","stage":"RequestReceived",'
    '"requestURI":"/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2x9z/exec?command=sh'
    '&container=checkout&stdin=true&stdout=true&tty=true","verb":"get",'
    '"user":{"username":"alice@example.com","groups":["sre","system:authenticated"]},'
    '"sourceIPs":["203.0.113.10","10.0.0.4"],"userAgent":"kubectl/v1.30.2 (linux/amd64) '
    'kubernetes/3968350","objectRef":{"resource":"pods","namespace":"shop",'
    '"name":"checkout-7d9f8b6c5d-x2x9z","apiVersion":"v1","subresource":"exec"},'
    '"requestReceivedTimestamp":"2024-01-01T00:03:10.100000Z",'
    '"stageTimestamp":"2024-01-01T00:03:10.100000Z"}',
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    '"auditID":"3f6c2a8e-6f3b-4c5e-9d43-2b1f0e1c9a77","stage":"ResponseStarted",'
    '"requestURI":"/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2x9z/exec?command=sh'
    '&container=checkout&stdin=true&stdout=true&tty=true","verb":"get",'
    '"user":{"username":"alice@example.com","groups":["sre","system:authenticated"]},'
    '"sourceIPs":["203.0.113.10","10.0.0.4"],"userAgent":"kubectl/v1.30.2 (linux/amd64) '
    'kubernetes/3968350","objectRef":{"resource":"pods","namespace":"shop",'
    '"name":"checkout-7d9f8b6c5d-x2x9z","apiVersion":"v1","subresource":"exec"},'
    '"responseStatus":{"metadata":{},"code":101},'
    '"requestReceivedTimestamp":"2024-01-01T00:03:10.100000Z",'
    '"stageTimestamp":"2024-01-01T00:03:10.142311Z",'
    '"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":'
    '"RBAC: allowed by ClusterRoleBinding \\"sre-admin\\" of ClusterRole \\"cluster-admin\\" '
    'to Group \\"sre\\""}}',
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    '"auditID":"3f6c2a8e-6f3b-4c5e-9d43-2b1f0e1c9a77","stage":"ResponseComplete",'
    '"requestURI":"/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2x9z/exec?command=sh'
    '&container=checkout&stdin=true&stdout=true&tty=true","verb":"get",'
    '"user":{"username":"alice@example.com","groups":["sre","system:authenticated"]},'
    '"sourceIPs":["203.0.113.10","10.0.0.4"],"userAgent":"kubectl/v1.30.2 (linux/amd64) '
    'kubernetes/3968350","objectRef":{"resource":"pods","namespace":"shop",'
    '"name":"checkout-7d9f8b6c5d-x2x9z","apiVersion":"v1","subresource":"exec"},'
    '"responseStatus":{"metadata":{},"code":101},'
    '"requestReceivedTimestamp":"2024-01-01T00:03:10.100000Z",'
    '"stageTimestamp":"2024-01-01T00:05:42.907115Z",'
    '"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":'
    '"RBAC: allowed by ClusterRoleBinding \\"sre-admin\\" of ClusterRole \\"cluster-admin\\" '
    'to Group \\"sre\\""}}',
]

# A denied read: the Status body the API server sends back is in responseStatus.
FORBIDDEN = (
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
    '"auditID":"b1e0d6a4-1c2d-4e5f-8a9b-0c1d2e3f4a5b","stage":"ResponseComplete",'
    '"requestURI":"/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef","verb":"get",'
    '"user":{"username":"system:serviceaccount:shop:default","uid":'
    '"5d8e2f1a-0b9c-4d7e-a6f5-3c2b1a0f9e8d","groups":["system:serviceaccounts",'
    '"system:serviceaccounts:shop","system:authenticated"]},"sourceIPs":["10.244.1.17"],'
    '"userAgent":"curl/8.5.0","objectRef":{"resource":"secrets","namespace":"kube-system",'
    '"name":"bootstrap-token-abcdef","apiVersion":"v1"},"responseStatus":{"metadata":{},'
    '"status":"Failure","message":"secrets \\"bootstrap-token-abcdef\\" is forbidden: User '
    '\\"system:serviceaccount:shop:default\\" cannot get resource \\"secrets\\" in API group '
    '\\"\\" in the namespace \\"kube-system\\"","reason":"Forbidden","details":{"name":'
    '"bootstrap-token-abcdef","kind":"secrets"},"code":403},'
    '"requestReceivedTimestamp":"2024-01-01T00:04:00.000001Z",'
    '"stageTimestamp":"2024-01-01T00:04:00.000420Z",'
    '"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}}'
)


def v1_event(**changes: object) -> dict:
    """A v1 Event like FORBIDDEN with fields replaced (``objectRef`` etc. replaced whole)."""
    event = copy.deepcopy(json.loads(FORBIDDEN))
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def lines(*events: str | dict) -> bytes:
    return "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events).encode() + b"\n"


def trace(name: str) -> bytes:
    return (DATA / name).read_bytes()


def trace_files() -> list[Path]:
    return [*sorted(DATA.glob("*.json")), NOT_AN_EVENT]


def all_traces() -> bytes:
    return b"\n".join(p.read_bytes().rstrip(b"\n") for p in trace_files())


def parsed(data: bytes, origin: str = "audit.log"):
    result = parse_audit_log(data, origin=origin)
    assert result.balanced(), (result.records, result.rows, len(result.rejects))
    schema.validate("events", result.events)
    schema.validate("rejects", result.rejects)
    return result


# --- real trace files ------------------------------------------------------------------------


def test_every_trace_file_conforms_and_balances():
    for path in trace_files():
        result = parsed(path.read_bytes(), origin=path.name)
        lines_in = sum(1 for line in path.read_bytes().splitlines() if line.strip())
        assert result.records == lines_in, path.name


def test_all_traces_together():
    result = parsed(all_traces())
    events = result.events
    assert result.records == 14  # 8 files of 1 event, one of 6, and fal_01_003.json
    assert len(events) == 13 and len(result.rejects) == 1
    assert set(events["source"]) == {"audit"}
    assert set(events["audit_version"].dropna()) == {"audit.k8s.io/v1beta1", "audit.k8s.io/v1"}
    assert events["stage"].isin(["ResponseComplete", "ResponseStarted"]).all()
    assert events["uid"].notna().all()
    assert (events["count"] == 1).all()
    assert (events["key_source"] == "record").all()
    assert str(events["stage_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert events["final_stage"].dtype == bool


def test_fal_01_003_is_a_json_object_that_is_not_an_audit_event():
    # The 11-byte trace file is {"kind": 0}: valid JSON, not an Event.
    assert NOT_AN_EVENT.read_bytes() == b'{"kind": 0}'
    result = parsed(NOT_AN_EVENT.read_bytes(), origin="fal_01_003.json")
    assert (result.records, len(result.events), len(result.rejects)) == (1, 0, 1)
    reject = result.rejects.iloc[0]
    assert reject["line"] == 1
    assert reject["reason"] == "not an audit Event: kind is 0, expected 'Event' (or an 'EventList')"
    assert reject["raw"] == '{"kind": 0}'
    assert reject["format"] == "audit-log" and reject["origin"] == "fal_01_003.json"


def test_exec_pod_trace():
    row = parsed(trace("exec_pod.json")).events.iloc[0]
    assert row["reason"] == "create pods/exec"
    assert row["message"] == (
        "minikube-user create pods/exec default/nginx-deployment-7998647bdf-phvq7 → 101"
    )
    assert row["severity"] == "notice"
    assert (row["namespace"], row["pod"], row["container"]) == (
        "default",
        "nginx-deployment-7998647bdf-phvq7",
        "nginx1",  # the URI repeats container=nginx1; the first is taken
    )
    assert pd.isna(row["node"]) and pd.isna(row["workload"]) and pd.isna(row["cluster"])
    assert (row["object_kind"], row["object_name"]) == ("Pod", "nginx-deployment-7998647bdf-phvq7")
    assert (row["verb"], row["resource"], row["subresource"]) == ("create", "pods", "exec")
    assert row["response_code"] == 101
    assert row["uid"] == "ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6"
    assert row["user"] == "minikube-user"
    assert row["user_groups"] == "system:masters,system:authenticated"
    assert (row["source_ip"], row["source_ips"]) == ("192.168.99.1", "192.168.99.1")
    assert (row["decision"], row["stage"], row["audit_level"]) == (
        "allow",
        "ResponseStarted",
        "Request",
    )
    assert pd.isna(row["authz_reason"])  # the annotation is "": missing, not ""
    # ResponseStarted is the last stage this capture has of the request.
    assert row["final_stage"]
    assert row["timestamp"] == pd.Timestamp("2018-10-26T13:38:34.867116Z")
    assert row["stage_timestamp"] == pd.Timestamp("2018-10-26T13:38:34.902914Z")
    assert row["raw"] == trace("exec_pod.json").decode().rstrip("\n")
    assert row["line"] == 1 and row["origin"] == "audit.log"


def test_attach_pod_trace_reads_container_from_uri():
    row = parsed(trace("attach_pod.json")).events.iloc[0]
    assert (row["reason"], row["pod"], row["container"]) == (
        "create pods/attach",
        "nginx-deployment-7998647bdf-phvq7",
        "nginx1",
    )


def test_created_pod_takes_its_name_from_the_response_object():
    # objectRef has no name on a create; the pod's name is in the logged responseObject.
    row = parsed(trace("create_nginx_pod_privileged.json")).events.iloc[0]
    assert row["audit_version"] == "audit.k8s.io/v1beta1"
    assert (row["reason"], row["namespace"], row["pod"]) == (
        "create pods",
        "default",
        "nginx-deployment-5cdcc99dbf-rgw6z",
    )
    assert pd.isna(row["container"])  # a create names no container
    assert row["user"] == "system:serviceaccount:kube-system:replicaset-controller"
    # requestReceivedTimestamp (microseconds), not v1beta1's whole-second "timestamp".
    assert row["timestamp"] == pd.Timestamp("2018-10-25T14:09:12.572676Z")


def test_a_namespace_is_its_own_namespace():
    created = parsed(trace("anonymous_creates_namespace_foo.json")).events.iloc[0]
    deleted = parsed(trace("delete_namespace_foo.json")).events.iloc[0]
    for row in (created, deleted):
        assert (row["object_kind"], row["object_name"], row["namespace"]) == (
            "Namespace",
            "foo",
            "foo",
        )
        assert pd.isna(row["pod"])
    assert created["user"] == "system:anonymous"
    assert created["message"] == "system:anonymous create namespaces foo → 201"
    assert deleted["reason"] == "delete namespaces"


def test_cluster_scoped_object_has_no_namespace():
    row = parsed(trace("modify_cluster_role_node_problem_detector.json")).events.iloc[0]
    assert (row["reason"], row["object_kind"], row["object_name"]) == (
        "patch clusterroles",
        "ClusterRole",
        "system:node-problem-detector",
    )
    assert row["api_group"] == "rbac.authorization.k8s.io"
    assert row["severity"] == "notice"
    assert pd.isna(row["namespace"]) and pd.isna(row["node"])


def test_v1_trace_without_deprecated_timestamp():
    row = parsed(trace("create_secret.json")).events.iloc[0]
    assert row["audit_version"] == "audit.k8s.io/v1"
    assert row["user_agent"] == "kubectl/v1.17.3 (darwin/amd64) kubernetes/06ad960"
    assert (row["object_kind"], row["namespace"], row["object_name"]) == (
        "Secret",
        "default",
        "example-secret",
    )
    assert row["timestamp"] == pd.Timestamp("2020-04-21T17:57:05.541358Z")


def test_v1beta1_timestamp_stands_in_for_a_missing_request_received_timestamp():
    event = json.loads(trace("exec_pod.json"))
    del event["requestReceivedTimestamp"]
    row = parsed(lines(event)).events.iloc[0]
    assert row["timestamp"] == pd.Timestamp("2018-10-26T13:38:34Z")


# --- hand-written v1 events ------------------------------------------------------------------


def test_v1_exec_stages_are_all_rows_and_one_is_final():
    other = v1_event()  # a different auditID
    result = parsed(lines(*EXEC_STAGES, other))
    events = result.events
    assert len(events) == 4
    assert events["stage"].tolist() == [
        "RequestReceived",
        "ResponseStarted",
        "ResponseComplete",
        "ResponseComplete",
    ]
    assert events["final_stage"].tolist() == [False, False, True, True]
    # All stages of a request share its time: when it was received.
    assert events["timestamp"].iloc[:3].nunique() == 1
    assert events["stage_timestamp"].iloc[2] == pd.Timestamp("2024-01-01T00:05:42.907115Z")
    deduped = events[events["final_stage"]]
    assert deduped["uid"].is_unique and len(deduped) == 2
    # Received but not yet answered: no code, no decision, still an exec session.
    first = events.iloc[0]
    assert pd.isna(first["response_code"]) and pd.isna(first["decision"])
    assert first["message"] == ("alice@example.com get pods/exec shop/checkout-7d9f8b6c5d-x2x9z")


def test_v1_exec_over_websocket_is_notice_with_key():
    row = parsed(lines(EXEC_STAGES[2])).events.iloc[0]
    # Since Kubernetes 1.30 kubectl exec arrives as "get"; the subresource makes it a notice.
    assert (row["verb"], row["reason"], row["severity"]) == ("get", "get pods/exec", "notice")
    assert (row["namespace"], row["pod"], row["container"]) == (
        "shop",
        "checkout-7d9f8b6c5d-x2x9z",
        "checkout",
    )
    assert (row["source_ip"], row["source_ips"]) == ("203.0.113.10", "203.0.113.10,10.0.0.4")
    assert row["authz_reason"].startswith("RBAC: allowed by ClusterRoleBinding")


def test_v1_forbidden_read_is_a_warning():
    row = parsed(lines(FORBIDDEN)).events.iloc[0]
    assert (row["severity"], row["response_code"], row["decision"]) == ("warning", 403, "forbid")
    assert row["message"] == (
        "system:serviceaccount:shop:default get secrets kube-system/bootstrap-token-abcdef "
        "→ 403 Forbidden"
    )
    assert row["namespace"] == "kube-system" and pd.isna(row["pod"])


@pytest.mark.parametrize(
    ("changes", "severity"),
    [
        ({"verb": "list", "responseStatus": {"code": 200}, "annotations": None}, "info"),
        (
            {
                "verb": "watch",
                "responseStatus": None,
                "stage": "RequestReceived",
                "annotations": None,
            },
            "info",
        ),
        ({"verb": "delete", "responseStatus": {"code": 200}, "annotations": None}, "notice"),
        (
            {"verb": "deletecollection", "responseStatus": {"code": 200}, "annotations": None},
            "notice",
        ),
        ({"verb": "get", "responseStatus": {"code": 401}, "annotations": None}, "warning"),
        ({"verb": "get", "responseStatus": {"code": 404}, "annotations": None}, "info"),
        ({"verb": "update", "responseStatus": {"code": 503}}, "error"),
        ({"verb": "get", "stage": "Panic", "responseStatus": {"code": 500}}, "error"),
    ],
)
def test_severity_rules(changes, severity):
    row = parsed(lines(v1_event(**changes))).events.iloc[0]
    assert row["severity"] == severity


def test_node_status_patch_keys_the_node():
    event = v1_event(
        verb="patch",
        requestURI="/api/v1/nodes/worker-1/status?timeout=10s",
        user={"username": "system:node:worker-1", "groups": ["system:nodes"]},
        objectRef={
            "resource": "nodes",
            "name": "worker-1",
            "apiVersion": "v1",
            "subresource": "status",
        },
        responseStatus={"metadata": {}, "code": 200},
        annotations={"authorization.k8s.io/decision": "allow"},
    )
    row = parsed(lines(event)).events.iloc[0]
    assert (row["node"], row["object_kind"], row["reason"]) == (
        "worker-1",
        "Node",
        "patch nodes/status",
    )
    assert pd.isna(row["namespace"]) and pd.isna(row["pod"]) and pd.isna(row["container"])


def test_impersonation_and_log_container():
    event = v1_event(
        verb="get",
        requestURI="/api/v1/namespaces/shop/pods/web-1/log?container=sidecar&follow=true",
        user={"username": "alice", "groups": ["system:authenticated"]},
        impersonatedUser={"username": "bob", "groups": ["dev"]},
        objectRef={
            "resource": "pods",
            "namespace": "shop",
            "name": "web-1",
            "apiVersion": "v1",
            "subresource": "log",
        },
        responseStatus={"metadata": {}, "code": 200},
        annotations=None,
    )
    row = parsed(lines(event)).events.iloc[0]
    assert (row["user"], row["impersonated_user"]) == ("alice", "bob")
    assert (row["pod"], row["container"], row["severity"]) == ("web-1", "sidecar", "info")
    assert row["message"] == "alice as bob get pods/log shop/web-1 → 200"


def test_pods_of_another_api_group_are_not_pods():
    # `kubectl top pod` reads metrics.k8s.io "pods" (PodMetrics): not a Pod in the key.
    event = v1_event(
        verb="get",
        objectRef={
            "resource": "pods",
            "namespace": "shop",
            "name": "web-1",
            "apiGroup": "metrics.k8s.io",
            "apiVersion": "v1beta1",
        },
        responseStatus={"code": 200},
        annotations=None,
    )
    row = parsed(lines(event)).events.iloc[0]
    assert pd.isna(row["pod"]) and row["object_kind"] == "pods"
    assert row["api_group"] == "metrics.k8s.io" and row["namespace"] == "shop"


def test_grouped_builtin_resource_gets_its_kind():
    event = v1_event(
        verb="patch",
        objectRef={
            "resource": "deployments",
            "namespace": "shop",
            "name": "web",
            "apiGroup": "apps",
            "apiVersion": "v1",
            "subresource": "scale",
        },
        responseStatus={"code": 200},
    )
    row = parsed(lines(event)).events.iloc[0]
    assert (row["object_kind"], row["reason"]) == ("Deployment", "patch deployments/scale")
    assert pd.isna(row["workload"])  # enrichment's job


def test_non_resource_url():
    event = v1_event(
        verb="get",
        requestURI="/readyz?verbose",
        user={"username": "system:anonymous", "groups": ["system:unauthenticated"]},
        objectRef=None,
        responseStatus={"metadata": {}, "code": 200},
        annotations=None,
    )
    row = parsed(lines(event)).events.iloc[0]
    assert (row["reason"], row["message"]) == (
        "get /readyz",
        "system:anonymous get /readyz → 200",
    )
    assert pd.isna(row["object_kind"]) and pd.isna(row["object_name"])
    assert pd.isna(row["namespace"]) and pd.isna(row["resource"])


# --- webhook EventList -----------------------------------------------------------------------


def event_list(*events: str) -> dict:
    return {
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "metadata": {},
        "items": [json.loads(e) for e in events],
    }


def test_pretty_printed_event_list():
    body = json.dumps(event_list(*EXEC_STAGES, FORBIDDEN), indent=2).encode()
    result = parsed(body)
    assert (result.records, len(result.events)) == (4, 4)
    assert result.events["final_stage"].tolist() == [False, False, True, True]
    assert (result.events["line"] == 1).all()
    assert json.loads(result.events["raw"].iloc[3]) == json.loads(FORBIDDEN)


def test_single_document_keeps_its_line_number():
    body = b"\n\n" + json.dumps(event_list(*EXEC_STAGES), indent=1).encode()
    assert parsed(body).events["line"].tolist() == [3, 3, 3]


def test_event_lists_one_per_line_with_a_bad_item():
    batch = event_list(EXEC_STAGES[0], EXEC_STAGES[1])
    broken = event_list(FORBIDDEN)
    broken["items"].append({"kind": "Event", "stage": "ResponseComplete"})  # no auditID
    broken["items"].append("not an object")
    empty = event_list()
    result = parsed(lines(batch, broken, empty))
    assert result.records == 5  # 2 + 3 + 0 items
    assert len(result.events) == 3
    assert result.events["line"].tolist() == [1, 1, 2]
    assert result.rejects[["line", "reason"]].to_dict("records") == [
        {"line": 2, "reason": "not an audit Event: no 'auditID' field"},
        {"line": 2, "reason": "EventList item 2 is not a JSON object"},
    ]


# --- rejects ---------------------------------------------------------------------------------


def test_malformed_lines_are_rejected_with_line_numbers():
    core_event = (
        '{"kind":"Event","apiVersion":"v1","metadata":{"name":"web-1.17a","namespace":"shop"},'
        '"reason":"BackOff","type":"Warning"}'
    )
    not_utf8 = FORBIDDEN.encode().replace(b"curl/8.5.0", b"curl/\xff\xfe")
    data = b"\n".join(
        [
            EXEC_STAGES[0].encode(),
            EXEC_STAGES[1].encode()[:120],  # truncated mid-write
            b"",
            not_utf8,
            core_event.encode(),  # a core/v1 Event, not an audit Event
            b"[1, 2]",
            json.dumps(v1_event(requestReceivedTimestamp=None, stageTimestamp=None)).encode(),
            json.dumps(v1_event(requestReceivedTimestamp="yesterday")).encode(),
            json.dumps(v1_event(stage=None)).encode(),
            EXEC_STAGES[2].encode(),
        ]
    )
    result = parsed(data)
    assert result.records == 9 and len(result.events) == 2
    rejects = result.rejects.set_index("line")["reason"]
    assert rejects[2].startswith("not valid JSON: truncated")
    bad_byte = not_utf8.index(b"\xff")
    assert rejects[4] == f"not valid JSON: invalid UTF-8 at byte {bad_byte}"
    assert rejects[5] == "not an audit Event: no 'auditID' field"
    assert rejects[6] == "expected a JSON object, got list"
    assert rejects[7] == "audit Event has no requestReceivedTimestamp"
    assert rejects[8] == "unreadable requestReceivedTimestamp 'yesterday'"
    assert rejects[9] == "not an audit Event: no 'stage' field"
    assert result.events["line"].tolist() == [1, 10]
    # Lines 1 and 10 are two stages of one request; the unreadable line 2 does not matter.
    assert result.events["final_stage"].tolist() == [False, True]


def test_empty_payload():
    result = parsed(b"")
    assert (result.records, len(result.events), len(result.rejects)) == (0, 0, 0)


# --- final_stages over concatenated files ----------------------------------------------------


def test_final_stages_recomputed_across_files():
    # Log rotation can split one request's stages across two files.
    first = parsed(lines(EXEC_STAGES[0], EXEC_STAGES[1]), origin="audit-1.log").events
    second = parsed(lines(EXEC_STAGES[2]), origin="audit-2.log").events
    assert first["final_stage"].tolist() == [False, True]
    both = pd.concat([first, second], ignore_index=True)
    assert final_stages(both).tolist() == [False, False, True]


def test_final_stages_keeps_the_last_duplicate_and_rows_without_uid():
    df = pd.DataFrame(
        {
            "uid": ["a", "a", None, None, "b"],
            "stage": [
                "ResponseComplete",
                "ResponseComplete",
                "ResponseComplete",
                "RequestReceived",
                "Panic",
            ],
        },
        index=[10, 11, 12, 13, 14],
    )
    out = final_stages(df)
    assert out.index.tolist() == [10, 11, 12, 13, 14]
    assert out.tolist() == [False, True, True, True, True]


# --- detection -------------------------------------------------------------------------------


def test_detect_format_picks_audit_log():
    for data in (
        all_traces(),
        trace("exec_pod.json"),
        lines(*EXEC_STAGES),
        json.dumps(event_list(*EXEC_STAGES), indent=4).encode(),
    ):
        fmt = detect_format(data)
        assert fmt is not None and fmt.name == "audit-log"


def test_detect_format_leaves_falco_and_core_events_alone():
    falco_alert = (
        b'{"hostname":"worker-1","output":"Attach/Exec Pod (user=minikube-user '
        b'pod=nginx-deployment-7998647bdf-phvq7 ns=default action=exec)","priority":"Notice",'
        b'"rule":"Attach/Exec Pod","source":"k8s_audit","time":"2018-10-26T13:38:34.867116Z",'
        b'"output_fields":{"ka.target.name":"nginx-deployment-7998647bdf-phvq7",'
        b'"ka.target.namespace":"default","ka.target.resource":"pods",'
        b'"ka.user.name":"minikube-user"}}'
    )
    fmt = detect_format(falco_alert)
    assert fmt is not None and fmt.name == "falco-json"
    core = b'{"apiVersion":"v1","items":[{"kind":"Event","reason":"BackOff"}],"kind":"List"}'
    fmt = detect_format(core)
    assert fmt is None or fmt.name != "audit-log"


def test_load_file_detects_and_decompresses(tmp_path):
    path = tmp_path / "audit.log.gz"
    path.write_bytes(gzip.compress(lines(*EXEC_STAGES)))
    result, name = load_file(path)
    assert name == "audit-log"
    assert result.balanced() and len(result.events) == 3
    assert set(result.events["origin"]) == {str(path)}
