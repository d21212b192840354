"""Live collection: Prometheus, the Kubernetes API, Loki, Elasticsearch/OpenSearch and Sumo Logic
into one :class:`Investigation`.

Each client does the network work (auth, TLS, timeouts, retries, paging, splitting long ranges)
and hands what it fetched to the same parser the file loaders use, so a live investigation and
one loaded from files of the same data are the same. :func:`collect` pulls one window from any
of them; only the window and the namespaces asked for travel. :func:`watch` follows them
continuously: the inventory kept current by list and watch, the signals read each tick, every
object change a row of a change log.
"""

from __future__ import annotations

from obskit.live.collection import collect
from obskit.live.elasticsearch import Elasticsearch
from obskit.live.kubernetes import Kubernetes
from obskit.live.loki import Loki
from obskit.live.prometheus import DEFAULT_QUERIES, Prometheus
from obskit.live.sumologic import SumoLogic
from obskit.live.watch import Watch, watch

__all__ = [
    "DEFAULT_QUERIES",
    "Elasticsearch",
    "Kubernetes",
    "Loki",
    "Prometheus",
    "SumoLogic",
    "Watch",
    "collect",
    "watch",
]
