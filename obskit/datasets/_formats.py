"""Byte-level serialisers for the real formats the bundled incidents are written in.

Each function mirrors what the producing program emits:

- ``kubectl_list``: ``kubectl get KIND -A -o json`` (Go ``json.MarshalIndent`` of unstructured
  maps: sorted keys, 4-space indent, HTML characters escaped, trailing newline).
- ``prom_matrix``: Prometheus ``/api/v1/query_range`` body (jsoniter, compact, timestamps as
  ``util/jsonutil.MarshalTimestamp``, values as ``MarshalValue``, labels sorted, no newline).
- ``go_json``: compact Go ``encoding/json`` (audit backend), struct field order kept.
- ``falco_json``: Falco ``json_output`` (nlohmann json: sorted keys, compact).
- time helpers for metav1.Time, metav1.MicroTime, RFC3339Nano (containerd's CRI logger) and
  Falco's ``evt.time`` output prefix.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import math
from decimal import Decimal

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _split(t_ns: int) -> tuple[_dt.datetime, int]:
    """Whole-second UTC datetime and the nanosecond remainder."""
    s, ns = divmod(int(t_ns), 1_000_000_000)
    return _EPOCH + _dt.timedelta(seconds=s), ns


def ts_s(t_ns: int) -> str:
    """metav1.Time: RFC3339, second precision, ``Z``."""
    d, _ = _split(t_ns)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_us(t_ns: int) -> str:
    """metav1.MicroTime: RFC3339 with exactly six fractional digits."""
    d, ns = _split(t_ns)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns // 1000:06d}Z"


def ts_nano(t_ns: int) -> str:
    """Go ``time.RFC3339Nano``: up to nine digits, trailing zeros (and a bare dot) trimmed."""
    d, ns = _split(t_ns)
    frac = f"{ns:09d}".rstrip("0")
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def ts_nano9(t_ns: int) -> str:
    """RFC3339 with a fixed nine-digit fraction (Falco's ``time`` field)."""
    d, ns = _split(t_ns)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def ts_falco_prefix(t_ns: int) -> str:
    """Falco's default output prefix, ``%evt.time``: ``HH:MM:SS.nnnnnnnnn``."""
    d, ns = _split(t_ns)
    return d.strftime("%H:%M:%S") + f".{ns:09d}"


def ts_ms_iso(t_ns: int) -> str:
    """Millisecond ISO-8601 timestamp as many application loggers write it."""
    d, ns = _split(t_ns)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns // 1_000_000:03d}Z"


def ts_java(t_ns: int) -> str:
    """Logback's default ``yyyy-MM-dd HH:mm:ss.SSS``."""
    d, ns = _split(t_ns)
    return d.strftime("%Y-%m-%d %H:%M:%S") + f".{ns // 1_000_000:03d}"


def ts_rotation(t_ns: int) -> str:
    """Kubelet's rotated-log suffix layout ``20060102-150405``."""
    d, _ = _split(t_ns)
    return d.strftime("%Y%m%d-%H%M%S")


def prom_ts(t_ms: int) -> str:
    """Prometheus ``MarshalTimestamp``: seconds, with ``.mmm`` only when the millis are non-zero."""
    t_ms = int(t_ms)
    s, frac = divmod(t_ms, 1000)
    return f"{s}.{frac:03d}" if frac else str(s)


def prom_value(v: float) -> str:
    """Prometheus ``MarshalValue``: Go ``strconv.AppendFloat(v, 'f'|'e', -1, 64)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        # Python's repr uses the same shortest digits and a two-digit minimum exponent.
        return repr(float(v))
    s = format(Decimal(repr(float(v))), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _html_escape(s: str) -> str:
    """Go's encoding/json escapes <, > and & (and U+2028/9) inside strings."""
    return (
        s.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_json(obj: object) -> str:
    """Compact Go ``json.Marshal`` of a struct whose field order is the dict order."""
    return _html_escape(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def falco_json(obj: dict) -> str:
    """nlohmann ``json::dump()`` as Falco uses it: keys sorted, compact, UTF-8 kept."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def kubectl_list(items: list[dict]) -> bytes:
    """``kubectl get ... -o json`` output for a list of objects."""
    doc = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
    text = json.dumps(doc, ensure_ascii=False, indent=4, sort_keys=True)
    return (_html_escape(text) + "\n").encode("utf-8")


def prom_matrix(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """A successful query_range response body for ``series`` = [(labels, [(t_ms, value)])]."""
    parts = []
    for labels, points in series:
        metric = json.dumps(dict(sorted(labels.items())), ensure_ascii=False, separators=(",", ":"))
        values = ",".join(f'[{prom_ts(t)},"{prom_value(v)}"]' for t, v in points)
        parts.append(f'{{"metric":{metric},"values":[{values}]}}')
    body = '{"status":"success","data":{"resultType":"matrix","result":[' + ",".join(parts) + "]}}"
    return body.encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with a fixed header (no name, mtime 0) so the bytes are reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as fh:
        fh.write(data)
    return buf.getvalue()
