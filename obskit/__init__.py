"""obskit: investigate Kubernetes incidents in notebooks.

Metrics (Prometheus, Sumo Logic), events (Kubernetes Events, the API-server audit log, Falco
alerts) and logs (container logs, Loki, Elasticsearch/OpenSearch, Sumo Logic) load into tidy
pandas frames that share one Kubernetes metadata key (cluster, namespace, node, workload, pod,
container)::

    import obskit
    inv = obskit.load("incident/")          # files, folders, globs; format detected by content
    inv.summary()
    inv.focus(namespace="shop", workload="checkout").window("2024-05-14T10:00Z", None)

See ``obskit.schema`` for the data contract and ``obskit.FORMATS`` for what can be read.
"""

from __future__ import annotations

from obskit import bundle, datasets, live, report, schema
from obskit._time import parse_times
from obskit._version import __version__
from obskit.errors import (
    CollectionError,
    DatasetError,
    DatasetNotFoundError,
    FormatError,
    InvestigationError,
    ObskitError,
    RedactionError,
    ReportError,
    ResponseTooLargeError,
    SchemaError,
    SourceError,
    UnknownFormatError,
)
from obskit.investigation import Investigation, load
from obskit.live import (
    Elasticsearch,
    Kubernetes,
    Loki,
    Prometheus,
    SumoLogic,
    Watch,
    collect,
    watch,
)
from obskit.redaction import redact, set_redaction
from obskit.schema import KEY, SEVERITIES
from obskit.sources import FORMATS
from obskit.sources.logs import log_fields

__all__ = [
    "FORMATS",
    "KEY",
    "SEVERITIES",
    "CollectionError",
    "DatasetError",
    "DatasetNotFoundError",
    "Elasticsearch",
    "FormatError",
    "Investigation",
    "InvestigationError",
    "Kubernetes",
    "Loki",
    "ObskitError",
    "Prometheus",
    "RedactionError",
    "ReportError",
    "ResponseTooLargeError",
    "SchemaError",
    "SourceError",
    "SumoLogic",
    "UnknownFormatError",
    "Watch",
    "__version__",
    "bundle",
    "collect",
    "datasets",
    "live",
    "load",
    "log_fields",
    "parse_times",
    "redact",
    "report",
    "schema",
    "set_redaction",
    "watch",
]
