"""Redaction of secrets in text and frames, before anything is shared.

:func:`redact` replaces what looks like a credential with a marker that names its kind
(``[REDACTED:jwt]``) and keeps everything around it, so a log line, an audit request object or a
Falco command line stays readable:

=====================  ==========================================================================
kind                   what is found
=====================  ==========================================================================
``private-key``        PEM private-key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP),
                       also inside JSON strings with escaped newlines; kubeconfig
                       ``client-key-data``
``kubernetes-token``   JWTs issued by a Kubernetes API server (service-account tokens) and
                       bootstrap tokens (``abcdef.0123456789abcdef``)
``jwt``                any other JSON Web Token
``github-token``       GitHub tokens (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
                       ``github_pat_``)
``gitlab-token``       GitLab tokens (``glpat-`` and the other ``gl…-`` prefixes)
``slack-token``        Slack tokens (``xoxb-``, ``xoxp-``, …) and incoming-webhook URLs
``stripe-key``         Stripe secret and restricted keys (``sk_live_``, ``rk_live_``, …)
``openai-key``         OpenAI API keys (``sk-proj-``, ``sk-svcacct-``, ``sk-…T3BlbkFJ…``)
``sendgrid-key``       SendGrid API keys (``SG.….…``)
``npm-token``          npm access tokens (``npm_``) and ``.npmrc`` ``_authToken`` values
``pypi-token``         PyPI upload tokens (``pypi-AgEIcHlwaS5vcmc…``)
``bearer-token``       ``Authorization: Bearer …`` values that are not JWTs
``basic-auth``         ``Authorization: Basic …`` values, passwords in ``scheme://user:pw@host``
                       (also with ``/``, ``#`` or ``@`` in the password, or no user),
                       ``curl -u user:pw`` and Docker config ``"auth"`` values
``authorization``      any other ``Authorization`` header value (``token …``, no scheme)
``cookie``             ``Cookie:`` and ``Set-Cookie:`` header values
``aws-access-key``     AWS access key ids (``AKIA…``, ``ASIA…``)
``url-signature``      signed-URL signatures and tokens (``X-Amz-Signature=``,
                       ``X-Amz-Security-Token=``, ``X-Goog-Signature=``)
``gcp-key``            Google API keys (``AIza…``) and OAuth access tokens (``ya29.…``)
``azure-key``          ``AccountKey=`` / ``SharedAccessKey=`` in connection strings, SAS ``sig=``
``password``           values of password/secret/token/api-key fields, as ``key=value``,
                       ``key: value`` or JSON ``"key": "value"`` (also with escaped quotes, as
                       in a JSON log line), ``DB_PASS=``, ``SSHPASS=``, ``private_key_id``;
                       command-line passwords (``--password X``, ``mysql -pX``,
                       ``aws configure set aws_secret_access_key X``)
``secret-data``        the values of ``data`` / ``stringData`` in Kubernetes ``Secret`` objects
=====================  ==========================================================================

Where the patterns come from
----------------------------
The vendor tokens (``github-token`` to ``pypi-token``) are found by the regular expressions of
`detect-secrets <https://github.com/Yelp/detect-secrets>`_' plugins (Yelp, Apache-2.0), read
from its plugin classes on first use (:data:`CATALOGUE` names each kind's plugin), so they
follow that catalogue as it is kept up to date. A few formats it lacks are added by patterns
of our own, written from the vendors' documented token formats (also listed, as rule ids
``github-fine-grained-pat``, ``npm-access-token``, ``openai-api-key``, ``stripe-access-token``,
in gitleaks' MIT-licensed rule set): GitHub fine-grained PATs (``github_pat_``), bare npm
tokens, ``sk-proj-`` OpenAI keys without the ``T3BlbkFJ`` marker, and Stripe ``test``/``prod``
keys. A match is extended to the end of its token, so a longer token than the pattern
describes is not half shown. Plugins that need context to avoid false alarms in log text
(high-entropy strings, keywords, Twilio, Mailchimp, Discord, Telegram) are not used: the
context passes below cover keywords.

Redaction is idempotent (markers are never matched again) and returns the type it was given:
a ``str``, a ``Series`` or a ``DataFrame`` (text columns only; dtypes kept). Work on a frame is
done once per distinct value, so a million log lines from a few thousand templates cost a few
thousand regex passes.

Sharing
-------
Everything obskit renders for sharing (the HTML report, the curated notebooks' outputs) goes
through :func:`redact_for_sharing`, which redacts unless the analyst switched it off in their
own session with ``set_redaction(False)``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
import orjson
import pandas as pd

from obskit.errors import RedactionError

__all__ = [
    "CATALOGUE",
    "KINDS",
    "RedactionError",
    "redact",
    "redact_for_sharing",
    "redact_markup",
    "redaction_enabled",
    "set_redaction",
]

T = TypeVar("T", str, pd.Series, pd.DataFrame)

#: The kinds of secret :func:`redact` finds, in the order the passes run.
KINDS: tuple[str, ...] = (
    "secret-data",
    "private-key",
    "kubernetes-token",
    "jwt",
    "github-token",
    "gitlab-token",
    "slack-token",
    "stripe-key",
    "openai-key",
    "sendgrid-key",
    "npm-token",
    "pypi-token",
    "bearer-token",
    "basic-auth",
    "authorization",
    "cookie",
    "aws-access-key",
    "url-signature",
    "gcp-key",
    "azure-key",
    "password",
)

#: Vendor token kinds and the detect-secrets plugin (module, class) whose patterns find them.
CATALOGUE: dict[str, tuple[str, str]] = {
    "github-token": ("github_token", "GitHubTokenDetector"),
    "gitlab-token": ("gitlab_token", "GitLabTokenDetector"),
    "slack-token": ("slack", "SlackDetector"),
    "stripe-key": ("stripe", "StripeDetector"),
    "openai-key": ("openai", "OpenAIDetector"),
    "sendgrid-key": ("sendgrid", "SendGridDetector"),
    "npm-token": ("npm", "NpmDetector"),
    "pypi-token": ("pypi_token", "PypiTokenDetector"),
}


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --- the patterns ---------------------------------------------------------------------------

# A PEM block; a truncated one (no END line) is redacted up to a closing quote or the end.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[^\"']*)",
    re.DOTALL,
)
_CLIENT_KEY_DATA = re.compile(
    r"(?i)((\\?[\"']?)client-key-data\2\s*:\s*\2)(?!\[REDACTED)([A-Za-z0-9+/=]{16,})"
)
# header.payload.signature, header and payload base64url JSON objects ("eyJ" is '{"').
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# A bootstrap token's secret half has letters beyond hex: a Kubernetes Event is named
# "<object>.<16 hex digits>", which must not match.
_BOOTSTRAP_TOKEN = re.compile(
    r"(?<![\w.-])[a-z0-9]{6}\.(?=[a-z0-9]{0,15}[g-z])[a-z0-9]{16}(?![\w.-])"
)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20)(?!\[REDACTED)([A-Za-z0-9\-._~+/]{8,}=*)")
_BASIC = re.compile(r"(?i)\b(basic)(\s+|%20)(?!\[REDACTED)([A-Za-z0-9+/]{8,}={0,2})")
# scheme://user:password@host: the user may be empty, the password may hold "/", "#" or "@"
# (the last "@" followed by a host ends it, as a redaction may take too much, never too
# little); "host:8080/path@x" is a port, not a password.
_URL_PASSWORD = re.compile(
    r"\b([a-z][a-z0-9+.-]*://[^\s:/@\"'<>\[\]]*:)(?!\[REDACTED)(?!\d{1,5}(?:[/?#]|$))"
    r"([^\s\"'<>]+)(@)(?=[A-Za-z0-9\[][A-Za-z0-9.\-\[\]:]*(?:[/?#\s\"'<>,;)]|$))",
    re.IGNORECASE,
)
_CURL_USER = re.compile(
    r"(?<![\w-])(curl\b[^\n|;&]*?\s(?:-u\s*|--user[=\s]\s*)['\"]?[^\s:'\"]*:)"
    r"(?!\[REDACTED)([^\s'\"]+)"
)
_DOCKER_AUTH = re.compile(r'((\\?)"auth\2"\s*:\s*\2")(?!\[REDACTED)([A-Za-z0-9+/=]{4,})(?=\2")')
# Any other Authorization value: after a scheme we know (taken whole, so "Bearer ***" is
# not read as a value "Bearer"), or with no scheme at all.
_AUTH_SCHEMES = (
    r"bearer|basic|token|bot|digest|negotiate|ntlm|hoba|mutual|vapid|apikey|api-key|key|"
    r"sso-key|splunk|ssws|aws4-hmac-sha256|goog4-rsa-sha256|gitlab|otp"
)
_AUTHORIZATION = re.compile(
    rf"(?i)(?<![\w-])((?:proxy-)?authorization(\\?[\"']?)\s*[:=]\s*\2)"
    rf"(?>((?:{_AUTH_SCHEMES})(?:\s+|%20))?)(?!\[REDACTED)(?!\*)"
    r"([A-Za-z0-9\-._~+/=:]{4,})"
)
_COOKIE = re.compile(
    r"(?i)(?<![\w-])((?:set-)?cookie(\\?[\"']?)\s*:\s*\2)(?!\[REDACTED)"
    r"([^\s\"'\\][^\r\n\"'\\]*)"
)
_AWS_KEY_ID = re.compile(
    r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b"
)
_GCP = re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])|\bya29\.[0-9A-Za-z_-]{20,}")
_AZURE = re.compile(
    r"(?i)\b((?:AccountKey|SharedAccessKey|SharedSecretValue)=)(?!\[REDACTED)([A-Za-z0-9+/=]{20,})"
    r"|([?&]sig=)(?!\[REDACTED)([A-Za-z0-9%+/=]{16,})"
)
_URL_SIGNATURE = re.compile(
    r"(?i)([?&](?:X-Amz-Signature|X-Amz-Security-Token|X-Goog-Signature)=)(?!\[REDACTED)"
    r"([A-Za-z0-9%+/=_.-]{8,})"
)
# The name of a field that holds a credential: the sensitive word ends the name, so
# "secret_name", "tokenCount" or "max_tokens" are not credentials but "db_password",
# "aws_secret_access_key" and "clientSecret" are. "pass" counts as a word of its own
# ("DB_PASS", "SSHPASS"), not inside another ("bypass", "compass").
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|secret[_-]?key|"
    r"secret[_-]?access[_-]?key|access[_-]?key|access[_-]?key[_-]?id|api[_-]?key|apikey|"
    r"private[_-]?key|private[_-]?key[_-]?id|token|auth[_-]?token|credentials?|"
    r"(?<![A-Za-z0-9])pass|sshpass)"
)
# A quick test for the password pass: no sensitive word, nothing to look for.
_SECRET_WORD = re.compile(r"(?i)pass|pwd|secret|token|key|credential|mysql|mariadb")
# A value cut short (a truncated line, a label cut to length) has no closing quote.
_JSON_FIELD = re.compile(
    rf'(?i)("{_SECRET_NAME}"\s*:\s*")(?!\[REDACTED)((?:[^"\\]|\\.)+)("|$)'
    rf'|(\\"{_SECRET_NAME}\\"\s*:\s*\\")(?!\[REDACTED)((?:[^"\\]|\\[^"])+)(\\"|$)'
)
# A value in quotes escaped once or more (JSON in a JSON log line: password=\\"x\\"), in quotes,
# or bare.
_KEY_VALUE = re.compile(
    rf"(?i)(?<![A-Za-z0-9_])({_SECRET_NAME})(\s*[=:]\s*)"
    r"(?!\[REDACTED)(?!\\*[\"']?\[REDACTED)(?!\*+(?:\s|$))(?!null\b|none\b|true\b|false\b)"
    r"(\\+\"(?:[^\"\\]|\\+[^\"\\])+\\+\"|\"[^\"]+\"|'[^']+'"
    r"|(?:[^\s,;&\"'<>()\[\]{}\\]|\\(?![\\\"]))+)"
)
_OPENING_QUOTE = re.compile(r"^\\*[\"']")
# Passwords on a command line: "--password X" (a flag named like a secret, then a value),
# "mysql -pX", "aws configure set aws_secret_access_key X".
_FLAG_VALUE = re.compile(
    rf"(?i)(?<![\w-])(--?{_SECRET_NAME})(\s+)(?!-)(?!\[REDACTED)(\"[^\"]*\"|'[^']*'|[^\s'\"]+)"
)
_MYSQL = re.compile(
    r"(?<![\w-])((?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlsh|mariadb)\b[^\n|;&]*?\s-p)"
    r"(?!\[REDACTED)(\"[^\"]*\"|'[^']*'|[^\s'\"]+)"
)
_AWS_CONFIGURE = re.compile(
    r"(?i)(\baws\s+configure\s+set\s+(?:[\w.-]*\.)?"
    r"(?:aws_secret_access_key|aws_session_token|aws_security_token)\s+)(?!\[REDACTED)(\S+)"
)
_SECRET_KIND = re.compile(r'"kind"\s*:\s*"Secret"')
_SECRET_DATA = re.compile(r'("(?:data|stringData)"\s*:\s*\{)([^{}]*)(\})')
_SECRET_DATA_VALUE = re.compile(r'("[^"]+"\s*:\s*")(?!\[REDACTED)((?:[^"\\]|\\.)*)(")')


def _b64json(segment: str) -> dict | None:
    """A base64url JSON object (a JWT part), or None."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _jwt_kind(token: str) -> str:
    """``kubernetes-token`` for a JWT a Kubernetes API server issued, else ``jwt``."""
    payload = _b64json(token.split(".")[1]) or {}
    issuer = str(payload.get("iss", ""))
    claims = " ".join(str(k) for k in payload)
    subject = str(payload.get("sub", ""))
    if (
        "kubernetes" in issuer
        or "kubernetes.io" in claims
        or subject.startswith("system:serviceaccount:")
    ):
        return "kubernetes-token"
    return "jwt"


# --- one pass per kind: text in, text and count out ---------------------------------------

Pass = Callable[[str, Counter], str]


def _secret_data(text: str, counts: Counter) -> str:
    if not _SECRET_KIND.search(text):
        return text

    def values(match: re.Match) -> str:
        def one(inner: re.Match) -> str:
            counts["secret-data"] += 1
            return f"{inner[1]}{_marker('secret-data')}{inner[3]}"

        return f"{match[1]}{_SECRET_DATA_VALUE.sub(one, match[2])}{match[3]}"

    return _SECRET_DATA.sub(values, text)


def _private_key(text: str, counts: Counter) -> str:
    def one(match: re.Match) -> str:
        counts["private-key"] += 1
        return _marker("private-key")

    def key_data(match: re.Match) -> str:
        counts["private-key"] += 1
        return f"{match[1]}{_marker('private-key')}"

    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.sub(one, text)
    if "key-data" in text:
        text = _CLIENT_KEY_DATA.sub(key_data, text)
    return text


def _tokens(text: str, counts: Counter) -> str:
    def jwt(match: re.Match) -> str:
        kind = _jwt_kind(match[0])
        counts[kind] += 1
        return _marker(kind)

    if "eyJ" in text:
        text = _JWT.sub(jwt, text)

    def bootstrap(match: re.Match) -> str:
        counts["kubernetes-token"] += 1
        return _marker("kubernetes-token")

    return _BOOTSTRAP_TOKEN.sub(bootstrap, text)


# --- vendor tokens: detect-secrets' plugins and a few formats of our own ---------------------

#: Text that must be in a string for a kind's patterns to be tried (lower case).
_VENDOR_KEYWORDS: dict[str, tuple[str, ...]] = {
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": (
        *("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "gr1348941", "glcbt-", "glimt-"),
        *("glptt-", "glagent-", "gloas-"),
    ),
    "slack-token": ("xox", "hooks.slack.com"),
    "stripe-key": ("k_live_", "k_test_", "k_prod_"),
    "openai-key": ("sk-",),
    "sendgrid-key": ("sg.",),
    "npm-token": ("npm_", "_authtoken"),
    "pypi-token": ("pypi-",),
}
#: Formats detect-secrets lacks, written from the vendors' token formats (see the docstring).
_OWN_PATTERNS: dict[str, tuple[str, ...]] = {
    "github-token": (r"\bgithub_pat_[A-Za-z0-9_]{22,}",),
    "npm-token": (r"\bnpm_[A-Za-z0-9]{36}",),
    "openai-key": (r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}",),
    "stripe-key": (r"\b[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,}",),
}
# A token goes on to the end of its characters, whatever length its pattern says.
_TOKEN_TAIL = r"[A-Za-z0-9_\-]*"


@functools.cache
def _vendor_patterns() -> tuple[tuple[str, tuple[str, ...], tuple[re.Pattern, ...]], ...]:
    """Per vendor kind: its keywords and its patterns, compiled once on first use."""
    import importlib

    out = []
    for kind, (module, name) in CATALOGUE.items():
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        sources = [(p.pattern, p.flags) for p in plugin.denylist]
        sources += [(pattern, 0) for pattern in _OWN_PATTERNS.get(kind, ())]
        compiled = tuple(
            re.compile(f"(?:{pattern}){_TOKEN_TAIL}", flags & ~re.UNICODE)
            for pattern, flags in sources
        )
        out.append((kind, _VENDOR_KEYWORDS[kind], compiled))
    return tuple(out)


def _vendor(text: str, counts: Counter) -> str:
    lower = text.lower()
    for kind, keywords, patterns in _vendor_patterns():
        if not any(k in lower for k in keywords):
            continue

        def one(match: re.Match, kind: str = kind) -> str:
            # a first group that starts inside the match is the secret (npm's ".npmrc" line),
            # up to a space (its ".+" would take the rest of the line); a group at the start
            # of the match is part of the token (GitHub's prefixes)
            inner = match.re.groups and match[1] and match.start(1) > match.start()
            start, end = match.span(1) if inner else match.span()
            if inner:
                end = start + len(match[1].split(None, 1)[0])
            counts[kind] += 1
            whole = match[0]
            offset = match.start()
            return f"{whole[: start - offset]}{_marker(kind)}{whole[end - offset :]}"

        for pattern in patterns:
            text = pattern.sub(one, text)
    return text


def _keeping(
    kind: str, counts: Counter, before: tuple[int, ...], after: int | None = None
) -> Callable[[re.Match], str]:
    """A replacement: the groups ``before``, the marker, then the group ``after``; counted."""

    def one(match: re.Match) -> str:
        counts[kind] += 1
        kept = "".join(match[i] or "" for i in before)
        return f"{kept}{_marker(kind)}{match[after] if after else ''}"

    return one


def _headers(text: str, counts: Counter) -> str:
    lower = text.lower()
    if "bearer" in lower:
        text = _BEARER.sub(_keeping("bearer-token", counts, (1, 2)), text)
    if "basic" in lower:
        text = _BASIC.sub(_keeping("basic-auth", counts, (1, 2)), text)
    if "://" in text:
        text = _URL_PASSWORD.sub(_keeping("basic-auth", counts, (1,), 3), text)
    if "curl" in lower:
        text = _CURL_USER.sub(_keeping("basic-auth", counts, (1,)), text)
    if '"auth' in lower:
        text = _DOCKER_AUTH.sub(_keeping("basic-auth", counts, (1,)), text)
    if "authorization" in lower:
        text = _AUTHORIZATION.sub(_keeping("authorization", counts, (1, 3)), text)
    if "cookie" in lower:
        text = _COOKIE.sub(_keeping("cookie", counts, (1,)), text)
    return text


def _cloud(text: str, counts: Counter) -> str:
    def aws(match: re.Match) -> str:
        counts["aws-access-key"] += 1
        return _marker("aws-access-key")

    def gcp(match: re.Match) -> str:
        counts["gcp-key"] += 1
        return _marker("gcp-key")

    def azure(match: re.Match) -> str:
        counts["azure-key"] += 1
        prefix = match[1] if match[1] is not None else match[3]
        return f"{prefix}{_marker('azure-key')}"

    text = _AWS_KEY_ID.sub(aws, text)
    if "-signature=" in text.lower() or "-security-token=" in text.lower():
        text = _URL_SIGNATURE.sub(_keeping("url-signature", counts, (1,)), text)
    if "AIza" in text or "ya29." in text:
        text = _GCP.sub(gcp, text)
    return _AZURE.sub(azure, text)


def _password(text: str, counts: Counter) -> str:
    if not _SECRET_WORD.search(text):
        return text

    def json_field(match: re.Match) -> str:
        counts["password"] += 1
        if match[1] is not None:
            return f"{match[1]}{_marker('password')}{match[3]}"
        return f"{match[4]}{_marker('password')}{match[6]}"

    def key_value(match: re.Match) -> str:
        value = match[3]
        counts["password"] += 1
        opening = _OPENING_QUOTE.match(value)
        quote = opening[0] if opening else ""
        return f"{match[1]}{match[2]}{quote}{_marker('password')}{quote}"

    text = _JSON_FIELD.sub(json_field, text)
    text = _KEY_VALUE.sub(key_value, text)
    text = _FLAG_VALUE.sub(_keeping("password", counts, (1, 2)), text)
    if "-p" in text:
        text = _MYSQL.sub(_keeping("password", counts, (1,)), text)
    if "configure" in text:
        text = _AWS_CONFIGURE.sub(_keeping("password", counts, (1,)), text)
    return text


_PASSES: dict[str, Pass] = {
    "secret-data": _secret_data,
    "private-key": _private_key,
    "tokens": _tokens,
    "vendor": _vendor,
    "headers": _headers,
    "cloud": _cloud,
    "password": _password,
}
# Which passes produce which kinds (a pass may find several kinds).
_PASS_KINDS = {
    "secret-data": {"secret-data"},
    "private-key": {"private-key"},
    "tokens": {"kubernetes-token", "jwt"},
    "vendor": set(CATALOGUE),
    "headers": {"bearer-token", "basic-auth", "authorization", "cookie"},
    "cloud": {"aws-access-key", "url-signature", "gcp-key", "azure-key"},
    "password": {"password"},
}


def _passes(kinds: Iterable[str] | None) -> list[Pass]:
    if kinds is None:
        return list(_PASSES.values())
    if isinstance(kinds, str):
        kinds = [kinds]
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise RedactionError(
            f"unknown secret kind(s) {sorted(unknown)!r}; choose from {', '.join(KINDS)}"
        )
    return [p for name, p in _PASSES.items() if _PASS_KINDS[name] & wanted]


def _text(text: str, passes: list[Pass], counts: Counter) -> str:
    for one in passes:
        text = one(text, counts)
    return text


def _is_text_column(values: pd.Series) -> bool:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)


def _series(values: pd.Series, passes: list[Pass], counts: Counter) -> pd.Series:
    """Redact a text Series once per distinct value, keeping its dtype and index."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        occurrences = values.value_counts(dropna=True)
        mapping = {}
        for category in values.cat.categories:
            if not isinstance(category, str):
                mapping[category] = category
                continue
            found: Counter = Counter()
            mapping[category] = _text(category, passes, found)
            for kind, n in found.items():
                counts[kind] += n * int(occurrences.get(category, 0))
        new = [mapping[c] for c in values.cat.categories]
        if new == list(values.cat.categories):
            return values
        codes = values.cat.codes.to_numpy()
        unique = list(dict.fromkeys(new))
        position = {v: i for i, v in enumerate(unique)}
        remap = np.array([position[v] for v in new] + [-1])  # code -1 (missing) stays -1
        cat = pd.Categorical.from_codes(
            remap[codes],
            categories=pd.Index(unique, dtype=values.cat.categories.dtype),
            ordered=values.cat.ordered,
        )
        return pd.Series(cat, index=values.index, name=values.name)
    texts = values[np.fromiter((isinstance(v, str) for v in values), bool, len(values))]
    if texts.empty:
        return values
    occurrences = texts.value_counts()
    mapping = {}
    for text, n in occurrences.items():
        found = Counter()
        redacted = _text(text, passes, found)
        if redacted != text:
            mapping[text] = redacted
            for kind, k in found.items():
                counts[kind] += k * int(n)
    if not mapping:
        return values
    out = values.copy()
    changed = texts.isin(list(mapping))
    out.loc[changed.index[changed]] = texts[changed].map(mapping)
    return out.astype(values.dtype)


def redact(
    obj: T,
    *,
    kinds: Iterable[str] | None = None,
    columns: Iterable[str] | None = None,
    return_counts: bool = False,
) -> T | tuple[T, dict[str, int]]:
    """Replace secrets in text, a Series or a DataFrame with ``[REDACTED:<kind>]`` markers.

    Parameters
    ----------
    obj : str, pandas.Series or pandas.DataFrame
        What to redact. A frame's text columns (object, string or categorical of text) are
        redacted; other columns are returned as they are.
    kinds : iterable of str, optional
        Only these kinds of secret (see :data:`KINDS`); default all.
    columns : iterable of str, optional
        For a DataFrame, only these columns (default: every text column).
    return_counts : bool, default False
        Also return how many secrets of each kind were replaced.

    Returns
    -------
    str, Series or DataFrame
        The same type as ``obj``, with secrets replaced; ``(redacted, counts)`` when
        ``return_counts`` is true, ``counts`` a dict ``kind -> number`` of the kinds found.

    Raises
    ------
    RedactionError
        When ``obj`` is not text, a Series or a DataFrame, a kind is unknown, or a column is
        not in the frame.

    Examples
    --------
    >>> redact("curl -H 'Authorization: Bearer abcdef0123456789' https://api")
    "curl -H 'Authorization: Bearer [REDACTED:bearer-token]' https://api"
    >>> redact('{"user": "bob", "password": "hunter2"}', return_counts=True)
    ('{"user": "bob", "password": "[REDACTED:password]"}', {'password': 1})
    >>> redact(pd.Series(["db_password=s3cr3t", "pod web-1 ready"])).tolist()
    ['db_password=[REDACTED:password]', 'pod web-1 ready']
    """
    passes = _passes(kinds)
    counts: Counter = Counter()
    if isinstance(obj, str):
        out: object = _text(obj, passes, counts)
    elif isinstance(obj, pd.Series):
        out = _series(obj, passes, counts) if _is_text_column(obj) else obj
    elif isinstance(obj, pd.DataFrame):
        if columns is None:
            chosen = [c for c in obj.columns if _is_text_column(obj[c])]
        else:
            chosen = list(columns)
            missing = [c for c in chosen if c not in obj.columns]
            if missing:
                raise RedactionError(
                    f"no column {missing[0]!r} to redact; the frame has "
                    f"{', '.join(map(str, obj.columns))}"
                )
        out = obj.copy()
        for column in chosen:
            if _is_text_column(obj[column]):
                out[column] = _series(obj[column], passes, counts)
    else:
        raise RedactionError(
            f"redact() takes a str, a pandas Series or a DataFrame, got {type(obj).__name__}; "
            "convert it first, e.g. redact(str(value))"
        )
    if return_counts:
        return out, {k: counts[k] for k in KINDS if counts[k]}  # type: ignore[return-value]
    return out  # type: ignore[return-value]


# A tag, or a run of text between tags.
_TAG = re.compile(r"(<[^<>]*>)")


def redact_markup(markup: str) -> str:
    """Redact HTML, or plotly's HTML-like labels, as the text a reader sees.

    Escaping hides what the rules look for (``&quot;password&quot;:``, ``&amp;sig=``), so
    each run of text between tags is unescaped, redacted as raw text, and escaped again when
    something was found; tags (their attribute values) are redacted as they are.

    Examples
    --------
    >>> redact_markup("<td>{&quot;password&quot;: &quot;hunter2&quot;}</td>")
    '<td>{&#34;password&#34;: &#34;[REDACTED:password]&#34;}</td>'
    >>> redact_markup("<b>pod</b> web-1<br>ready")
    '<b>pod</b> web-1<br>ready'
    """
    if not isinstance(markup, str):
        raise RedactionError(
            f"redact_markup() takes a str, got {type(markup).__name__}; for a frame use redact()"
        )
    done: dict[str, str] = {}
    parts = _TAG.split(markup)
    for i, part in enumerate(parts):
        if not part:
            continue
        if part not in done:
            if i % 2:  # a tag
                done[part] = redact(part)
            else:
                raw = html.unescape(part)
                redacted = redact(raw)
                # numeric quotes: plotly.js decodes "&#34;", not "&quot;"
                escaped = html.escape(redacted, quote=True).replace("&quot;", "&#34;")
                done[part] = part if redacted == raw else escaped
        parts[i] = done[part]
    return "".join(parts)


# --- sharing ----------------------------------------------------------------------------------

_ENABLED = True


def set_redaction(enabled: bool) -> bool:
    """Switch redaction of shared output on or off for this session; returns the old setting.

    Redaction is on by default. Switching it off affects only :func:`redact_for_sharing`
    (the report and the curated notebooks), in this Python process.

    Examples
    --------
    >>> previous = set_redaction(False)
    >>> redact_for_sharing("password=hunter2")
    'password=hunter2'
    >>> _ = set_redaction(previous)
    """
    global _ENABLED
    if not isinstance(enabled, bool):
        raise RedactionError(f"set_redaction() takes True or False, got {enabled!r}")
    previous, _ENABLED = _ENABLED, enabled
    return previous


def redaction_enabled() -> bool:
    """Whether :func:`redact_for_sharing` redacts (True unless switched off).

    Examples
    --------
    >>> redaction_enabled()
    True
    """
    return _ENABLED


def redact_for_sharing(obj: T) -> T:
    """:func:`redact` ``obj`` unless redaction was switched off with ``set_redaction(False)``.

    The report and view layers call this on everything they render for sharing.

    Examples
    --------
    >>> redact_for_sharing("password=hunter2")
    'password=[REDACTED:password]'
    """
    return redact(obj) if _ENABLED else obj
