"""Exceptions raised by obskit.

Every error obskit raises on purpose is an :class:`ObskitError`; third-party errors are caught at
the boundary and chained (``raise SourceError(...) from exc``). Messages say what failed, the
offending value, where (file, line, column) and what to do next.

The tree::

    ObskitError
     ├── SchemaError             a frame does not match the data contract (obskit.schema)
     ├── SourceError             a file or payload could not be read
     │    ├── UnknownFormatError    no registered format recognises the input, or a bad format name
     │    ├── FormatError           the input claims a format but is not valid for it
     │    └── CollectionError       a live source (Prometheus, Kubernetes API, Loki) failed
     │         └── ResponseTooLargeError   an answer longer than the client's max_bytes
     ├── DatasetNotFoundError    no bundled dataset by that name (also a KeyError)
     ├── DatasetError            an incident cannot be generated as asked (also a ValueError)
     ├── InvestigationError      an operation on an Investigation got arguments it cannot use
     ├── RedactionError          redact() got a value or a kind it cannot redact (also a ValueError)
     └── ReportError             a report could not be made (bad parameters, a notebook failed)
"""

from __future__ import annotations

__all__ = [
    "CollectionError",
    "DatasetError",
    "DatasetNotFoundError",
    "FormatError",
    "InvestigationError",
    "ObskitError",
    "RedactionError",
    "ReportError",
    "ResponseTooLargeError",
    "SchemaError",
    "SourceError",
    "UnknownFormatError",
]


class ObskitError(Exception):
    """Base class of every error obskit raises on purpose."""


class SchemaError(ObskitError, ValueError):
    """A frame does not match the data contract (column missing, wrong dtype, naive timestamps)."""


class SourceError(ObskitError):
    """A file or payload could not be read at all (records that fail alone become rejects)."""


class UnknownFormatError(SourceError, ValueError):
    """No registered format recognises the input, or a format name is not registered."""


class FormatError(SourceError, ValueError):
    """The input was read as one format but is not valid for it as a whole."""


class CollectionError(SourceError):
    """A live source did not answer usably: unreachable, refused, timed out, or an error status.

    The message names the URL (never its credentials), the query or resource, the status, and
    what to do next.
    """


class ResponseTooLargeError(CollectionError):
    """A live source's answer is longer than the client's ``max_bytes``.

    ``size`` is its announced length (``None`` when it only grew past the cap while read) and
    ``cap`` the limit. The clients catch it and raise a :class:`CollectionError` that also names
    the source, the URL and the query.
    """

    def __init__(self, size: int | None, cap: int) -> None:
        got = f"{size:,} bytes" if size is not None else f"more than {cap:,} bytes"
        super().__init__(
            f"an answer of {got} is over max_bytes={cap}; narrow the query or the window, "
            f"or raise max_bytes="
        )
        self.size = size
        self.cap = cap


class DatasetNotFoundError(ObskitError, KeyError):
    """No bundled dataset has that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DatasetError(ObskitError, ValueError):
    """A bundled incident cannot be generated as asked (an unknown name, a scale that is not a
    positive number)."""


class InvestigationError(ObskitError, ValueError):
    """An Investigation method got arguments it cannot use (bad window, unknown focus column)."""


class RedactionError(ObskitError, ValueError):
    """:func:`obskit.redaction.redact` got something it cannot redact (a type or a kind it does not
    know), or :func:`obskit.set_redaction` got something other than True or False."""


class ReportError(ObskitError):
    """A report could not be made: an unknown notebook, unusable parameters, a cell that failed.

    The message names the notebook, the cell (its section heading) and what to change.
    """
