"""Redaction of secrets in text and frames, before anything is shared.

:func:`redact` replaces what looks like a credential with a marker that names its kind
(``[REDACTED:jwt]``) and keeps everything around it, so a log line, an audit request object or a
Falco command line stays readable:

=====================  ==========================================================================
kind                   what is found
=====================  ==========================================================================
``private-key``        PEM private-key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP),
                       also inside JSON strings with escaped newlines
``kubernetes-token``   JWTs issued by a Kubernetes API server (service-account tokens) and
                       bootstrap tokens (``abcdef.0123456789abcdef``)
``jwt``                any other JSON Web Token
``bearer-token``       ``Authorization: Bearer …`` values that are not JWTs
``basic-auth``         ``Authorization: Basic …`` values and passwords in ``scheme://user:pw@host``
``aws-access-key``     AWS access key ids (``AKIA…``, ``ASIA…``)
``gcp-key``            Google API keys (``AIza…``) and OAuth access tokens (``ya29.…``)
``azure-key``          ``AccountKey=`` / ``SharedAccessKey=`` in connection strings, SAS ``sig=``
``password``           values of password/secret/token/api-key fields, as ``key=value``,
                       ``key: value`` or JSON ``"key": "value"``
``secret-data``        the values of ``data`` / ``stringData`` in Kubernetes ``Secret`` objects
=====================  ==========================================================================

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
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
import orjson
import pandas as pd

from obskit.errors import ObskitError

__all__ = [
    "KINDS",
    "RedactionError",
    "redact",
    "redact_for_sharing",
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
    "bearer-token",
    "basic-auth",
    "aws-access-key",
    "gcp-key",
    "azure-key",
    "password",
)


class RedactionError(ObskitError, ValueError):
    """:func:`redact` got something it cannot redact (a type or a kind it does not know)."""


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --- the patterns ---------------------------------------------------------------------------

# A PEM block; a truncated one (no END line) is redacted up to a closing quote or the end.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[^\"']*)",
    re.DOTALL,
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
_URL_PASSWORD = re.compile(
    r"\b([a-z][a-z0-9+.-]*://[^\s:/@\"']+:)(?!\[REDACTED)([^\s@/\"']+)(@)", re.IGNORECASE
)
_AWS_KEY_ID = re.compile(
    r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b"
)
_GCP = re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])|\bya29\.[0-9A-Za-z_-]{20,}")
_AZURE = re.compile(
    r"(?i)\b((?:AccountKey|SharedAccessKey|SharedSecretValue)=)(?!\[REDACTED)([A-Za-z0-9+/=]{20,})"
    r"|([?&]sig=)(?!\[REDACTED)([A-Za-z0-9%+/=]{16,})"
)
# The name of a field that holds a credential: the sensitive word ends the name, so
# "secret_name", "tokenCount" or "max_tokens" are not credentials but "db_password",
# "aws_secret_access_key" and "clientSecret" are.
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|secret[_-]?key|"
    r"secret[_-]?access[_-]?key|access[_-]?key|access[_-]?key[_-]?id|api[_-]?key|apikey|"
    r"private[_-]?key|token|auth[_-]?token|credentials?)"
)
_JSON_FIELD = re.compile(
    rf'(?i)("{_SECRET_NAME}"\s*:\s*")(?!\[REDACTED)((?:[^"\\]|\\.)+)(")'
    rf'|(\\"{_SECRET_NAME}\\"\s*:\s*\\")(?!\[REDACTED)((?:[^"\\]|\\[^"])+)(\\")'
)
_KEY_VALUE = re.compile(
    rf"(?i)(?<![A-Za-z0-9_])({_SECRET_NAME})(\s*[=:]\s*)"
    r"(?!\[REDACTED)(?!\*+(?:\s|$))(?!null\b|none\b|true\b|false\b)"
    r"(\"[^\"]+\"|'[^']+'|[^\s,;&\"'<>()\[\]{}]+)"
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
    if "PRIVATE KEY" not in text:
        return text

    def one(match: re.Match) -> str:
        counts["private-key"] += 1
        return _marker("private-key")

    return _PRIVATE_KEY.sub(one, text)


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


def _headers(text: str, counts: Counter) -> str:
    def bearer(match: re.Match) -> str:
        counts["bearer-token"] += 1
        return f"{match[1]}{match[2]}{_marker('bearer-token')}"

    def basic(match: re.Match) -> str:
        counts["basic-auth"] += 1
        return f"{match[1]}{match[2]}{_marker('basic-auth')}"

    def url(match: re.Match) -> str:
        counts["basic-auth"] += 1
        return f"{match[1]}{_marker('basic-auth')}{match[3]}"

    lower = text.lower()
    if "bearer" in lower:
        text = _BEARER.sub(bearer, text)
    if "basic" in lower:
        text = _BASIC.sub(basic, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(url, text)
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
    if "AIza" in text or "ya29." in text:
        text = _GCP.sub(gcp, text)
    return _AZURE.sub(azure, text)


def _password(text: str, counts: Counter) -> str:
    def json_field(match: re.Match) -> str:
        counts["password"] += 1
        if match[1] is not None:
            return f"{match[1]}{_marker('password')}{match[3]}"
        return f"{match[4]}{_marker('password')}{match[6]}"

    def key_value(match: re.Match) -> str:
        value = match[3]
        if value.strip("\"'").startswith("[REDACTED"):
            return match[0]
        counts["password"] += 1
        quote = value[0] if value[0] in "\"'" else ""
        return f"{match[1]}{match[2]}{quote}{_marker('password')}{quote}"

    text = _JSON_FIELD.sub(json_field, text)
    return _KEY_VALUE.sub(key_value, text)


_PASSES: dict[str, Pass] = {
    "secret-data": _secret_data,
    "private-key": _private_key,
    "tokens": _tokens,
    "headers": _headers,
    "cloud": _cloud,
    "password": _password,
}
# Which passes produce which kinds (a pass may find several kinds).
_PASS_KINDS = {
    "secret-data": {"secret-data"},
    "private-key": {"private-key"},
    "tokens": {"kubernetes-token", "jwt"},
    "headers": {"bearer-token", "basic-auth"},
    "cloud": {"aws-access-key", "gcp-key", "azure-key"},
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
