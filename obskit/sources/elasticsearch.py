"""Elasticsearch / OpenSearch ``_search`` answers: the hits' documents into logs and events.

A saved answer (``curl .../_search > hits.json``), pages of one saved one per line, or the hits
alone (``jq .hits.hits``) are read; :class:`obskit.live.Elasticsearch` hands the hits it pages
through to the same parser. Each hit's ``_source`` is a document as Fluent Bit, Filebeat,
Elastic Agent, Vector or Falcosidekick wrote it (see :mod:`obskit.sources.shipped`).

What the answer says it does not hold is a note, never a silent loss: shards that failed
(``_shards.failed``), a search that timed out (``timed_out``), and more matching documents than
the answer holds (``hits.total``, a first page of a longer search).

Detection looks at how the answer begins, not at whether a field lies within the first bytes:
Elasticsearch and OpenSearch write ``took``, ``timed_out`` and ``_shards`` before ``hits`` (a PIT
search puts ``pit_id`` first, a scroll ``_scroll_id``), and a key-sorted copy (``jq -S``) begins
with ``_clusters``, ``_scroll_id`` or ``_shards``; a hits list begins with a hit's ``_index`` or
``_id``. However long the hits or the aggregations, the deciding keys are at the start.
"""

from __future__ import annotations

import re

import orjson

from obskit import schema
from obskit.errors import FormatError
from obskit.sources._base import ParseResult, Rejects, cut, json_lines, register
from obskit.sources.shipped import documents_to_frames

__all__ = ["FORMAT", "answer_notes", "parse_es_search"]

FORMAT = "es-search"


def _decode(data: bytes | dict | list, origin: str) -> list[object]:
    """The answers in ``data``: one answer, a hits list, or answers one per line."""
    if isinstance(data, dict | list):
        return [data]
    try:
        return [orjson.loads(data)]
    except orjson.JSONDecodeError as exc:
        if data.lstrip()[:1] != b"{":
            raise FormatError(
                f"{origin!r} is not an Elasticsearch/OpenSearch _search answer: not valid JSON "
                f"({exc}); its first bytes: {cut(data[:80], 80)!r}"
            ) from exc
    bad = Rejects(FORMAT, origin)
    pages, _ = json_lines(data, bad)
    if len(bad):
        first = bad.frame().iloc[0]
        raise FormatError(
            f"{origin!r} is not an Elasticsearch/OpenSearch _search answer: line "
            f"{first['line']} is not valid JSON ({first['reason']}); save the answer whole "
            f"(one answer, or one answer per line)"
        )
    return [page for _, page, _ in pages]


def _hits(answer: object, origin: str) -> list[object]:
    if isinstance(answer, list):
        return answer
    if not isinstance(answer, dict):
        raise FormatError(
            f"{origin!r} is not an Elasticsearch/OpenSearch _search answer: a JSON "
            f"{type(answer).__name__}"
        )
    if "error" in answer and "hits" not in answer:
        error = answer["error"]
        reason = error.get("reason") if isinstance(error, dict) else error
        raise FormatError(
            f"{origin!r} holds an Elasticsearch/OpenSearch error, not hits: {reason!r} "
            f"(status {answer.get('status')}); run the search again"
        )
    hits = answer.get("hits")
    inner = hits.get("hits") if isinstance(hits, dict) else None
    if not isinstance(inner, list):
        raise FormatError(
            f"{origin!r} is not an Elasticsearch/OpenSearch _search answer: no hits.hits list "
            f"(keys {sorted(answer)[:8]!r})"
        )
    return inner


def answer_notes(answer: dict) -> list[str]:
    """What an answer says it is missing: failed shards, a timeout, hits beyond the page.

    Examples
    --------
    >>> answer_notes({"timed_out": False, "_shards": {"total": 5, "successful": 3,
    ...               "failed": 2, "failures": [{"shard": 0, "index": "logs",
    ...               "reason": {"type": "node_not_connected_exception"}}]}})[0]
    '2 of 5 shards failed (node_not_connected_exception on logs): the documents on them are missing'
    """
    notes = []
    shards = answer.get("_shards")
    if isinstance(shards, dict) and int(shards.get("failed") or 0) > 0:
        reasons = []
        for failure in shards.get("failures") or []:
            if not isinstance(failure, dict):
                continue
            reason = failure.get("reason")
            kind = reason.get("type") if isinstance(reason, dict) else reason
            where = failure.get("index")
            text = f"{kind} on {where}" if where else str(kind)
            if text not in reasons:
                reasons.append(text)
        why = f" ({'; '.join(reasons[:3])})" if reasons else ""
        notes.append(
            f"{shards['failed']} of {shards.get('total', '?')} shards failed{why}: the "
            f"documents on them are missing"
        )
    if answer.get("timed_out") is True:
        notes.append(
            "the search timed out: the answer holds only the hits found before its timeout"
        )
    return notes


def _total_note(answer: dict, held: int) -> str | None:
    hits = answer.get("hits")
    total = hits.get("total") if isinstance(hits, dict) else None
    if isinstance(total, dict):
        value, exact = total.get("value"), total.get("relation") == "eq"
    else:
        value, exact = total, True
    if isinstance(value, int) and value > held:
        more = f"{value:,}" if exact else f"at least {value:,}"
        return (
            f"the answer holds {held:,} of the {more} documents that matched (one page of a "
            f"longer search): page with search_after, or use obskit.Elasticsearch, for the rest"
        )
    return None


def parse_es_search(data: bytes | dict | list, origin: str = "<bytes>") -> ParseResult:
    """Parse an Elasticsearch/OpenSearch ``_search`` answer's hits into logs and events.

    Parameters
    ----------
    data
        A ``_search`` answer (bytes or decoded), several answers one per line, or a hits list.
    origin
        Where it came from, for provenance and rejects.

    Returns
    -------
    ParseResult
        ``records`` counts the hits; each is a row or a reject (a hit without ``_source``, a
        document of no known kind). ``notes`` say what the answer is missing.

    Raises
    ------
    FormatError
        When ``data`` is not JSON, is an error answer, or has no ``hits.hits``.

    Examples
    --------
    >>> answer = {"took": 3, "timed_out": False,
    ...           "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
    ...           "hits": {"total": {"value": 1, "relation": "eq"}, "max_score": None,
    ...                    "hits": [{"_index": "fluent-bit", "_id": "a1", "_score": None,
    ...                              "_source": {"@timestamp": "2024-01-01T00:00:00Z",
    ...                                          "log": "GET /cart 500\\n", "stream": "stdout",
    ...                                          "kubernetes": {"namespace_name": "shop",
    ...                                                         "pod_name": "cart-1"}}}]}}
    >>> r = parse_es_search(answer)
    >>> r.logs[["namespace", "pod", "message"]].values.tolist(), r.balanced()
    ([['shop', 'cart-1', 'GET /cart 500']], True)
    """
    answers = _decode(data, origin)
    documents: list[tuple[int, object]] = []
    missing: list[tuple[int, object]] = []
    notes: list[str] = []
    for answer in answers:
        hits = _hits(answer, origin)
        for hit in hits:
            position = len(documents) + len(missing) + 1
            source = hit.get("_source") if isinstance(hit, dict) else None
            if isinstance(source, dict):
                documents.append((position, source))
            else:
                missing.append((position, hit))
        if isinstance(answer, dict):
            notes += [n for n in answer_notes(answer) if n not in notes]
            if len(answers) == 1:
                total = _total_note(answer, len(hits))
                if total:
                    notes.append(total)
    result = documents_to_frames(documents, FORMAT, origin)
    if missing:
        rejects = Rejects(FORMAT, origin)
        for position, hit in missing:
            rejects.add(
                f"hit {position} has no _source document (the search asked for _source: false, "
                f"or only for fields?): search again with _source",
                orjson.dumps(hit, default=str),
                line=position,
            )
        result.rejects = schema.concat("rejects", [result.rejects, rejects.frame()])
        result.records += len(missing)
    result.notes = notes + result.notes
    return result


# an answer's first key (in Elasticsearch's order, or key-sorted), or a hit's first key
_ANSWER_START = re.compile(
    r'^\{\s*"(?:took|pit_id|_scroll_id|_clusters|_shards|timed_out|num_reduce_phases)"\s*:'
)
_HITS_START = re.compile(r'^\[\s*\{\s*"(?:_index|_id)"\s*:\s*"')


def _sniff(head: str, name: str) -> float:
    first = head.lstrip()
    if _ANSWER_START.match(first):
        # above the per-line sniffers: the documents inside hold their keys too
        return 0.995
    if _HITS_START.match(first) and '"_source"' in first:
        return 0.97
    return 0.0


register(
    FORMAT,
    "Elasticsearch / OpenSearch _search answer (hits of Fluent Bit, ECS, audit, Falco documents)",
    _sniff,
    parse_es_search,
    container_logs=False,
)
