"""Redaction: every kind of secret is replaced, ordinary log lines are not, twice is once."""

from __future__ import annotations

import base64
import json

import pandas as pd
import pytest

import obskit
from obskit.redaction import (
    KINDS,
    RedactionError,
    redact,
    redact_for_sharing,
    redact_markup,
    redaction_enabled,
    set_redaction,
)
from tests.planted import LEAKED


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


SA_TOKEN = (
    _b64({"alg": "RS256", "kid": "k1"})
    + "."
    + _b64(
        {
            "iss": "https://kubernetes.default.svc.cluster.local",
            "sub": "system:serviceaccount:web:storefront",
            "kubernetes.io": {"namespace": "web", "pod": {"name": "storefront-1"}},
        }
    )
    + ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
JWT = (
    _b64({"alg": "HS256", "typ": "JWT"})
    + "."
    + _b64({"sub": "1234567890", "name": "Jane"})
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "-----END RSA PRIVATE KEY-----"
)
AZURE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

# (kind, line with a planted secret, the secret itself)
PLANTED = [
    ("kubernetes-token", f"Authorization: Bearer {SA_TOKEN}", SA_TOKEN),
    ("jwt", f"session={JWT} ok", JWT),
    (
        "bearer-token",
        "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706' /api",
        "9f8e7d6c5b4a39281706",
    ),
    ("basic-auth", "Authorization: Basic YWxpY2U6czNjcjN0LXB3", "YWxpY2U6czNjcjN0LXB3"),
    ("basic-auth", "DATABASE_URL=postgres://app:Tr0ub4dor@db:5432/app", "Tr0ub4dor"),
    ("password", "connecting with password=hunter2 to db", "hunter2"),
    ("password", '{"user": "bob", "db_password": "correct horse"}', "correct horse"),
    ("password", "client_secret: 'x9Y8z7W6'", "x9Y8z7W6"),
    ("aws-access-key", "AWS_ACCESS_KEY_ID AKIAIOSFODNN7EXAMPLE set", "AKIAIOSFODNN7EXAMPLE"),
    (
        "password",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "gcp-key",
        "maps key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    ("gcp-key", "token ya29.a0AfH6SMBx3kVqL2rJvYpQ9 used", "ya29.a0AfH6SMBx3kVqL2rJvYpQ9"),
    ("azure-key", f"AccountName=acct;AccountKey={AZURE_KEY};EndpointSuffix=x", AZURE_KEY),
    (
        "azure-key",
        "https://a.blob.core.windows.net/c?sv=2022-11-02&sig=Zm9vYmFyYmF6cXV4MTIz%3D",
        "Zm9vYmFyYmF6cXV4MTIz",
    ),
    (
        "private-key",
        f"key:\n{PEM}\nend",
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    ),
    (
        "kubernetes-token",
        "kubeadm join 10.0.0.1:6443 --discovery abcdef.0123456789abcxyz",
        "abcdef.0123456789abcxyz",
    ),
    (
        "pypi-token",
        "twine upload -p pypi-AgEIcHlwaS5vcmc" + "CJDZmE4ZTA2LWI5NjMtNDE" * 4 + " dist/*",
        "CJDZmE4ZTA2LWI5NjMtNDE",
    ),
    (
        "secret-data",
        '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"pw":"aHVudGVyMg=="}}',
        "aHVudGVyMg==",
    ),
]


@pytest.mark.parametrize(
    ("kind", "line", "secret"), PLANTED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PLANTED)]
)
def test_each_kind_of_secret_is_redacted(kind, line, secret):
    out, counts = redact(line, return_counts=True)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    ("kind", "line", "secret"), LEAKED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(LEAKED)]
)
def test_each_kind_once_leaked_is_redacted(kind, line, secret):
    out, counts = redact(line, return_counts=True)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert counts == {kind: 1}
    assert redact(out, return_counts=True) == (out, {})  # twice is once


def test_every_kind_is_planted():
    assert {kind for kind, _, _ in PLANTED + LEAKED} == set(KINDS)


def test_vendor_patterns_come_from_detect_secrets():
    from detect_secrets.plugins.github_token import GitHubTokenDetector

    from obskit.redaction import CATALOGUE, _vendor_patterns

    assert CATALOGUE["github-token"] == ("github_token", "GitHubTokenDetector")
    github = next(p for kind, _, p in _vendor_patterns() if kind == "github-token")
    assert GitHubTokenDetector.denylist[0].pattern in github[0].pattern


def test_a_password_in_json_in_a_json_log_line():
    line = r'{"log":"{\"msg\":\"config password=\\\"hunter2\\\"\"}"}'
    assert "hunter2" in line
    out = redact(line)
    assert "hunter2" not in out and "[REDACTED:password]" in out


@pytest.mark.parametrize(
    ("kind", "line", "secret"), LEAKED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(LEAKED)]
)
def test_escaped_markup_is_redacted_as_the_text_it_shows(kind, line, secret):
    import html

    for escaped in (html.escape(line), html.escape(line).replace("&quot;", "&#34;")):
        out = redact_markup(f"<td title='x'>{escaped}</td><br>")
        assert secret not in html.unescape(out)
        assert f"[REDACTED:{kind}]" in out
        assert out.startswith("<td title='x'>") and out.endswith("</td><br>")
        assert redact_markup(out) == out


def test_a_token_is_redacted_to_its_end():
    # detect-secrets' Stripe pattern says 24 characters; real keys are longer
    out = redact("sk_live_" + "a1B2" * 20 + " charged")
    assert out == "[REDACTED:stripe-key] charged"


def test_a_private_key_in_a_json_string_with_escaped_newlines():
    line = json.dumps({"private_key": PEM + "\n", "client_email": "sa@p.iam.gserviceaccount.com"})
    out = redact(line)
    assert "MIIEowIBAAKCAQEA" not in out and "END RSA" not in out
    assert "sa@p.iam.gserviceaccount.com" in out


ORDINARY = [
    "pod web-5d8f6c7b9-x2x9z uid 0d3c6f2e-1c2b-4f1a-9a7e-0b2c3d4e5f60 ready",
    "pulled image nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8, md5 d41d8cd98f00b204e9800998ecf8427e",
    "secret_name=db-creds tokenCount=5 max_tokens=100 keyspace=orders",
    'level=info msg="password reset requested" user=bob',
    "GET /api/v1/namespaces/web/secrets?limit=500 200 12ms",
    "Event kube-metrics-helper.17f3fa667d789e3a: Pulled",
    "curl -sk -H Authorization: Bearer *** https://172.20.0.1/api",
    "authorization failed for user bob: RBAC: forbidden",
    "GET http://api:8080/v1/users/bob@example.com 404",
    "bypass=on compass=north pass: true passive=1",
    "mysql -h db -u root -p shop",
    "kubectl create token --duration=1h --namespace web",
    "cookie consent banner shown",
    "sk-learn 1.5 and npm_config_cache=/tmp/npm set",
    "node ip-10-0-17-16.eu-west-1.compute.internal NotReady since 2024-09-10T19:52:00Z",
    '{"level":"error","msg":"OOMKilled","container":"checkout","restarts":3}',
]


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_log_lines_are_left_alone(line):
    assert redact(line, return_counts=True) == (line, {})


@pytest.mark.parametrize(("kind", "line", "secret"), PLANTED)
def test_redaction_is_idempotent(kind, line, secret):
    once = redact(line)
    twice, counts = redact(once, return_counts=True)
    assert twice == once
    assert counts == {}


def test_a_series_keeps_its_type_index_and_dtype():
    values = pd.Series(["token=abc12345", None, "all fine"], index=[10, 11, 12], dtype="string")
    out, counts = redact(values, return_counts=True)
    assert isinstance(out, pd.Series) and out.dtype == values.dtype
    assert out.index.tolist() == [10, 11, 12]
    assert out.tolist()[0] == "token=[REDACTED:password]" and pd.isna(out[11])
    assert counts == {"password": 1}


def test_a_categorical_series_counts_every_occurrence():
    values = pd.Series(["password=x1y2", "ok", "password=x1y2"], dtype="category")
    out, counts = redact(values, return_counts=True)
    assert isinstance(out.dtype, pd.CategoricalDtype)
    assert out.tolist() == ["password=[REDACTED:password]", "ok", "password=[REDACTED:password]"]
    assert counts == {"password": 2}


def test_a_frame_redacts_text_columns_and_keeps_the_rest():
    frame = pd.DataFrame(
        {
            "message": ["login password=hunter2", "fine"],
            "count": [1, 2],
            "pod": pd.Series(["web-1", "web-2"], dtype="category"),
        }
    )
    out, counts = redact(frame, return_counts=True)
    assert isinstance(out, pd.DataFrame)
    assert out["message"].tolist() == ["login password=[REDACTED:password]", "fine"]
    assert out["count"].tolist() == [1, 2] and out["pod"].tolist() == ["web-1", "web-2"]
    assert out.dtypes.equals(frame.dtypes)
    assert frame["message"][0] == "login password=hunter2"  # the input is not changed
    assert counts == {"password": 1}


def test_only_the_kinds_asked_for():
    line = "password=hunter2 AKIAIOSFODNN7EXAMPLE"
    assert redact(line, kinds=["aws-access-key"]) == "password=hunter2 [REDACTED:aws-access-key]"


def test_no_planted_secret_survives_in_an_investigations_frames():
    inv = obskit.datasets.load("cryptominer")
    logs = inv.logs.head(50).copy()
    planted = [line for _, line, _ in PLANTED]
    logs.loc[: len(planted) - 1, "message"] = planted
    out, counts = redact(logs, return_counts=True)
    text = "\n".join(out["message"].astype(str))
    for _, _, secret in PLANTED:
        assert secret not in text
    assert sum(counts.values()) == len(PLANTED)


def test_sharing_redacts_unless_switched_off():
    assert redaction_enabled() is True
    assert redact_for_sharing("password=hunter2") == "password=[REDACTED:password]"
    previous = set_redaction(False)
    try:
        assert redact_for_sharing("password=hunter2") == "password=hunter2"
    finally:
        set_redaction(previous)
    assert redaction_enabled() is True


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: redact(42), "takes a str, a pandas Series or a DataFrame, got int"),
        (lambda: redact("x", kinds=["ssn"]), "unknown secret kind"),
        (lambda: redact(pd.DataFrame({"a": ["x"]}), columns=["b"]), "no column 'b'"),
        (lambda: set_redaction("no"), "takes True or False"),
        (lambda: redact_markup(b"<td>x</td>"), "takes a str, got bytes; for a frame use redact"),
    ],
)
def test_errors_say_what_to_do(call, message):
    with pytest.raises(RedactionError, match=message):
        call()
