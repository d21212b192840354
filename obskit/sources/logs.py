"""Container logs: the kubelet's CRI files, Docker json-file logs, and shipped JSON lines.

Each format has its module, and importing this one registers the three in the order detection
breaks ties between them:

``cri-log`` (:mod:`obskit.sources.cri`)
    What the container runtime writes under ``/var/log/pods`` for the kubelet:
    ``<RFC3339Nano> <stdout|stderr> <P|F>[:more tags] <message>``; partial lines joined as
    ``kubectl logs`` shows them, the key from the file's path (:func:`path_key`).
``docker-json-log`` (:mod:`obskit.sources.docker`)
    Docker's json-file driver: ``{"log": "...\\n", "stream": "stdout", "time": "..."}``.
``jsonl-log`` (:mod:`obskit.sources.jsonl`)
    One JSON record per line as Fluent Bit, Fluentd or Vector ship them, with a ``kubernetes``
    metadata object; Fluent Bit's ``[time, {record}]`` lines and journal entries too.

Messages are kept whole. The level a message carries and its shape (``json``, ``logfmt`` or
``text``) are found by :mod:`obskit.sources._levels` (:func:`derive_level`,
:func:`message_format`); the runtime's timestamp is the row's time, never a time inside the
message. :func:`log_fields` parses a message's structured fields, on demand. The names below
stay importable from here for code written against this module.
"""

from __future__ import annotations

import re

import orjson
import pandas as pd

from obskit.sources._levels import derive_level, message_format, normalise_level
from obskit.sources.cri import (
    cri_span,
    parse_cri_log,
    parse_cri_logs,
    path_key,
    read_cri_window,
)
from obskit.sources.docker import parse_docker_json_log
from obskit.sources.jsonl import parse_jsonl_log

__all__ = [
    "cri_span",
    "derive_level",
    "log_fields",
    "message_format",
    "normalise_level",
    "parse_cri_log",
    "parse_cri_logs",
    "parse_docker_json_log",
    "parse_jsonl_log",
    "path_key",
    "read_cri_window",
]


_LOGFMT_PAIR = re.compile(r'([A-Za-z_][\w.-]*)=(?:"((?:[^"\\]|\\.)*)"|(\S*))')


def _logfmt(message: str) -> dict[str, str]:
    return {
        k: (q.encode().decode("unicode_escape") if "\\" in q else q) if q else v
        for k, q, v in _LOGFMT_PAIR.findall(message)
    }


def log_fields(logs: pd.DataFrame) -> pd.DataFrame:
    """Parse the structured fields of JSON and logfmt messages, on demand.

    Returns a frame on the same index as ``logs`` with one column per field found (nested JSON
    flattened with dots); text messages give empty rows. Loading keeps messages whole and
    parses nothing, so this is where the fields come from.

    Examples
    --------
    >>> logs = pd.DataFrame({"message": ['{"a": {"b": 1}}', 'k=v n="x y"', 'plain'],
    ...                      "format": ["json", "logfmt", "text"]})
    >>> log_fields(logs).to_dict("list")
    {'a.b': [1.0, nan, nan], 'k': [nan, 'v', nan], 'n': [nan, 'x y', nan]}
    """
    fmt = (
        logs["format"].astype("object")
        if "format" in logs
        else message_format(logs["message"]).astype("object")
    )
    records: list[dict] = []
    for message, kind in zip(logs["message"].tolist(), fmt.tolist(), strict=True):
        if kind == "json":
            try:
                value = orjson.loads(message)
            except orjson.JSONDecodeError:
                value = {}
            records.append(value if isinstance(value, dict) else {})
        elif kind == "logfmt":
            records.append(_logfmt(message))
        else:
            records.append({})
    out = pd.json_normalize(records)
    out.index = logs.index
    return out
