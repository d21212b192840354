"""A live Kubernetes API client: the objects and events of a cluster, via the ``kubernetes``
client, into the inventory and events frames.

Every list is paged (``limit`` / ``continue``), restricted to the namespaces asked for (one
namespaced list per namespace, so only those objects travel), and read as the API's own JSON
(``_preload_content=False``): the List's items get the ``kind`` and ``apiVersion`` of their List,
as ``kubectl get -o json`` gives them, and go to
:func:`obskit.sources.kubernetes.objects_to_frames`, the function the ``k8s-json`` file loader
uses.

What is read
------------
pods, nodes, the owners of pods (ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs,
CronJobs), Services and EndpointSlices, and Events. The core/v1 and events.k8s.io/v1 APIs serve
the *same* Event objects (two views of one store), so reading both would double every event:
events.k8s.io/v1 is read, and core/v1 when the cluster does not serve events.k8s.io/v1 (or when
asked for with ``events_api="core/v1"``).

Events expire: the API server keeps them for ``--event-ttl``, one hour by default. A window that
begins before ``now - event_ttl`` cannot be complete; :func:`event_gap` says so, and
:func:`obskit.collect` records it in the investigation's notes and the bundle's manifest.
Likewise the inventory is the cluster *now*: objects deleted before collection are gone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import orjson
import pandas as pd
import urllib3

from obskit import schema
from obskit.errors import CollectionError, ResponseTooLargeError
from obskit.live._http import (
    CHUNK,
    ERROR_BYTES,
    MAX_BYTES,
    RETRY_STATUS,
    TIMEOUT,
    Deadline,
    Retry,
    check_limits,
    cut_at,
    describe_html,
    error_reason,
    excerpt,
    looks_like_html,
    read_capped,
    redact,
    retry_policy,
    retrying,
    secret_forms,
    too_large,
    watch,
)
from obskit.sources._base import ParseResult
from obskit.sources.kubernetes import objects_to_frames

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException

__all__ = ["EVENT_TTL", "RESOURCES", "Kubernetes", "event_gap"]

log = logging.getLogger("obskit.live")

#: The API server's default ``--event-ttl``.
EVENT_TTL = pd.Timedelta(hours=1)

#: name -> (API class, resource in the method names, namespaced?)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "pods": ("CoreV1Api", "pod", True),
    "nodes": ("CoreV1Api", "node", False),
    "replicasets": ("AppsV1Api", "replica_set", True),
    "deployments": ("AppsV1Api", "deployment", True),
    "statefulsets": ("AppsV1Api", "stateful_set", True),
    "daemonsets": ("AppsV1Api", "daemon_set", True),
    "jobs": ("BatchV1Api", "job", True),
    "cronjobs": ("BatchV1Api", "cron_job", True),
    "services": ("CoreV1Api", "service", True),
    "endpointslices": ("DiscoveryV1Api", "endpoint_slice", True),
    "namespaces": ("CoreV1Api", "namespace", False),
    "serviceaccounts": ("CoreV1Api", "service_account", True),
    "roles": ("RbacAuthorizationV1Api", "role", True),
    "clusterroles": ("RbacAuthorizationV1Api", "cluster_role", False),
    "rolebindings": ("RbacAuthorizationV1Api", "role_binding", True),
    "clusterrolebindings": ("RbacAuthorizationV1Api", "cluster_role_binding", False),
    "networkpolicies": ("NetworkingV1Api", "network_policy", True),
    "events.k8s.io/v1": ("EventsV1Api", "event", True),
    "core/v1": ("CoreV1Api", "event", True),
}
#: How to get past a sign-in page that answers in place of the API server.
#: First backoff between two attempts, in seconds (see obskit.live._http.retry_policy).
_BACKOFF = 0.5
_PAST_SSO = (
    "use the kubeconfig user (an exec credential plugin) that the proxy expects, or point the "
    "cluster's server: at the API server behind it"
)
OWNERS = ("replicasets", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")
#: What posture reads (:mod:`obskit.analysis.posture`): namespace labels, service accounts,
#: RBAC and NetworkPolicies.
POSTURE = (
    "namespaces",
    "serviceaccounts",
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
    "networkpolicies",
)
INVENTORY = ("nodes", "pods", *OWNERS, "services", "endpointslices", *POSTURE)


def event_gap(
    start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp, ttl: pd.Timedelta = EVENT_TTL
) -> str | None:
    """Why events of ``[start, end]`` may be missing, or None when the window is recent enough.

    Examples
    --------
    >>> t = pd.Timestamp("2024-05-14T12:00Z")
    >>> event_gap(t - pd.Timedelta("3h"), t - pd.Timedelta("2h"), t)
    'kubernetes events from 2024-05-14 09:00:00+00:00 to 2024-05-14 10:00:00+00:00 may be missing: the API server keeps events for --event-ttl (1h by default, assumed 0 days 01:00:00) and they were read at 2024-05-14 12:00:00+00:00'
    >>> event_gap(t - pd.Timedelta("30min"), t, t) is None
    True
    """  # noqa: E501
    kept_from = now - ttl
    if start >= kept_from:
        return None
    return (
        f"kubernetes events from {start} to {min(end, kept_from)} may be missing: the API "
        f"server keeps events for --event-ttl (1h by default, assumed {ttl}) and they were "
        f"read at {now}"
    )


class Kubernetes:
    """A Kubernetes API server, read through the ``kubernetes`` client.

    Parameters
    ----------
    context
        The kubeconfig context (default: the current one).
    kubeconfig
        The kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``; inside a pod with
        neither, the service account's in-cluster configuration).
    timeout
        Seconds one request (one page of a list) may take in all, its retries and their waits
        included.
    retries
        Retries of a request that failed with 429, 5xx, a broken connection or a cut body.
    page_size
        Objects per list request (``limit``).
    events_api
        ``"auto"`` (events.k8s.io/v1, or core/v1 where that is not served), ``"events.k8s.io/v1"``
        or ``"core/v1"``.
    event_ttl
        How long the API server keeps events (its ``--event-ttl``), for the coverage gap.
    max_bytes
        Largest answer read (bytes); a longer one fails rather than fill the memory.

    Examples
    --------
    >>> kube = Kubernetes(context="prod")  # doctest: +SKIP
    >>> kube.pods(namespaces=["shop"]).inventory[["name", "node"]]  # doctest: +SKIP
    """

    service = "Kubernetes API"

    def __init__(
        self,
        context: str | None = None,
        kubeconfig: str | os.PathLike | None = None,
        *,
        timeout: float = TIMEOUT,
        retries: int = 3,
        page_size: int = 500,
        events_api: str = "auto",
        event_ttl: pd.Timedelta | str = EVENT_TTL,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        from kubernetes import client, config

        check_limits(self.service, timeout, max_bytes)

        if events_api not in ("auto", "events.k8s.io/v1", "core/v1"):
            raise CollectionError(
                f"events_api must be 'auto', 'events.k8s.io/v1' or 'core/v1', got {events_api!r}"
            )
        cfg = client.Configuration()
        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        path = Path(path).expanduser() if path else Path("~/.kube/config").expanduser()
        try:
            if path.is_file() or kubeconfig is not None:
                config.load_kube_config(
                    config_file=str(path),
                    context=context,
                    client_configuration=cfg,
                    persist_config=False,
                )
                self.source = f"kubeconfig {str(path)!r}" + (
                    f", context {context!r}" if context else ""
                )
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=cfg)
                self.source = "in-cluster service account"
            else:
                raise CollectionError(
                    f"no kubeconfig at {str(path)!r} and not running in a cluster; pass "
                    f"kubeconfig='/path/to/kubeconfig' (and context='name')"
                )
        except (config.ConfigException, OSError, ValueError) as exc:
            raise CollectionError(
                f"cannot load the Kubernetes configuration from {str(path)!r}"
                f"{f' (context {context!r})' if context else ''}: {exc}; check the file and the "
                f"context name (kubectl config get-contexts)"
            ) from exc
        # the live sources' one retry policy, kept within each call's deadline (a watch stream,
        # outside any, reconnects on its own and is not retried)
        cfg.retries = retry_policy(int(retries), _BACKOFF)
        # obskit.watch holds one open connection per watched kind (and namespace)
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, 64)
        self._client = client.ApiClient(configuration=cfg)
        watch(self._client.rest_client.pool_manager)  # its sockets are shut at the deadline
        self._apis: dict[str, object] = {}
        self.url = cfg.host.rstrip("/")
        self.context = context
        self.timeout = timeout
        self.retries = int(retries)
        self.page_size = int(page_size)
        self.events_api = events_api
        self.event_ttl = pd.Timedelta(event_ttl)
        self.max_bytes = int(max_bytes)
        self._secrets = [f for v in (cfg.api_key or {}).values() for f in secret_forms(str(v))]
        self._secrets += secret_forms(str(cfg.password)) if cfg.password else []

    def __repr__(self) -> str:
        return f"Kubernetes({self.url!r}, from {self.source}, timeout={self.timeout!r})"

    def __getstate__(self) -> None:
        raise TypeError("Kubernetes holds credentials and cannot be pickled")

    def origin(self, resource: str, namespace: str | None = None) -> str:
        """Where rows came from: the API server (no credentials), resource and namespace."""
        return f"{self.url} {resource}" + (f" -n {namespace}" if namespace else "")

    # --- public lists -----------------------------------------------------------------------

    def pods(self, namespaces: Sequence[str] | None = None) -> ParseResult:
        """The pods (of the namespaces, or all), as an inventory.

        Examples
        --------
        >>> Kubernetes().pods(["shop"]).inventory  # doctest: +SKIP
        """
        return self.list("pods", namespaces)

    def nodes(self) -> ParseResult:
        """The nodes, as an inventory (nodes belong to no namespace)."""
        return self.list("nodes")

    def owners(self, namespaces: Sequence[str] | None = None) -> ParseResult:
        """ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs and CronJobs."""
        return _merge([self.list(name, namespaces) for name in OWNERS])

    def services(self, namespaces: Sequence[str] | None = None) -> ParseResult:
        """Services and EndpointSlices (which pods back which service)."""
        return _merge([self.list(n, namespaces) for n in ("services", "endpointslices")])

    def events(
        self,
        namespaces: Sequence[str] | None = None,
        start: object = None,
        end: object = None,
    ) -> ParseResult:
        """Events (of the namespaces, or all) that were happening in ``[start, end]``.

        An event is kept when its first and last times overlap the window; the others are
        counted in a note. See the module docstring for which API is read and for expiry.

        Examples
        --------
        >>> kube = Kubernetes()  # doctest: +SKIP
        >>> kube.events(["shop"], "2024-05-14T10:00Z", "2024-05-14T11:00Z")  # doctest: +SKIP
        """
        api = "events.k8s.io/v1" if self.events_api == "auto" else self.events_api
        try:
            result = self.list(api, namespaces)
        except _NotServed:
            if self.events_api != "auto":
                raise CollectionError(
                    f"the Kubernetes API at {self.url} does not serve {api} events; pass "
                    f"events_api='auto'"
                ) from None
            result = self.list("core/v1", namespaces)
            result.notes.append("events.k8s.io/v1 is not served here; read core/v1 events")
        except _Forbidden as forbidden:
            # RBAC grants the two event APIs apart (API groups "events.k8s.io" and "")
            if self.events_api != "auto":
                raise
            try:
                result = self.list("core/v1", namespaces)
            except _Forbidden:
                raise forbidden from None
            result.notes.append("events.k8s.io/v1 may not be read here; read core/v1 events")
        frame = result.events
        if frame is None or not len(frame) or (start is None and end is None):
            return result
        from obskit.live.prometheus import to_timestamp

        keep = pd.Series(True, index=frame.index)
        if start is not None:
            keep &= frame["timestamp"] >= to_timestamp(start, "start")
        if end is not None:
            first = frame["first_timestamp"].fillna(frame["timestamp"])
            keep &= first <= to_timestamp(end, "end")
        dropped = int((~keep).sum())
        result.events = frame.loc[keep].reset_index(drop=True)
        result.records -= dropped
        if dropped:
            result.notes.append(f"{dropped} events outside the window were not kept")
        return result

    def inventory(
        self,
        namespaces: Sequence[str] | None = None,
        *,
        on_list: Callable[[str], None] | None = None,
        forbidden: list[str] | None = None,
    ) -> ParseResult:
        """Nodes, pods, their owners, services, endpoint slices and what posture reads
        (namespaces, service accounts, RBAC, NetworkPolicies) in one inventory.

        A list the credentials may not read (HTTP 403) is skipped and named in ``forbidden``
        when that list is given; otherwise it raises a :class:`CollectionError`.
        """
        parts = []
        for name in INVENTORY:
            try:
                parts.append(self.list(name, namespaces if RESOURCES[name][2] else None))
            except _Forbidden as exc:
                if forbidden is None:
                    raise CollectionError(str(exc)) from None
                forbidden.append(str(exc))
            if on_list is not None:
                on_list(name)
        return _merge(parts)

    # --- the work --------------------------------------------------------------------------

    def list(self, resource: str, namespaces: Sequence[str] | None = None) -> ParseResult:
        """Every object of one resource (a key of :data:`RESOURCES`), paged, as frames."""
        if resource not in RESOURCES:
            raise CollectionError(
                f"unknown resource {resource!r}; choose from {', '.join(RESOURCES)}"
            )
        _, _, namespaced = RESOURCES[resource]
        scopes: list[str | None] = list(namespaces) if namespaced and namespaces else [None]
        parts = []
        for namespace in scopes:
            docs = self._pages(resource, namespace)
            parts.append(objects_to_frames(docs, origin=self.origin(resource, namespace)))
        return _merge(parts)

    def _api(self, name: str):
        if name not in self._apis:
            from kubernetes import client

            self._apis[name] = getattr(client, name)(self._client)
        return self._apis[name]

    def _list_call(self, resource: str, namespace: str | None) -> tuple[Callable, tuple]:
        """The client method that lists (or, with ``watch=True``, watches) one resource in one
        namespace (or all), and its positional arguments."""
        api_name, noun, namespaced = RESOURCES[resource]
        api = self._api(api_name)
        if not namespaced:
            return getattr(api, f"list_{noun}"), ()
        if namespace is None:
            return getattr(api, f"list_{noun}_for_all_namespaces"), ()
        return getattr(api, f"list_namespaced_{noun}"), (namespace,)

    def _pages(self, resource: str, namespace: str | None) -> list[dict]:
        """The List pages of one resource in one namespace (or all), items completed."""
        call, args = self._list_call(resource, namespace)
        where = f"listing {resource}" + (f" in namespace {namespace!r}" if namespace else "")
        token: str | None = None
        restarted = False
        pages: list[dict] = []
        while True:
            kwargs = {"limit": self.page_size}
            if token:
                kwargs["_continue"] = token
            try:
                doc = self._call(call, args, kwargs, where)
            except _Expired:
                if restarted:
                    raise CollectionError(
                        f"{self.service} at {self.url}: {where}: the continue token expired "
                        f"twice (HTTP 410); the list changes faster than it can be read: "
                        f"raise page_size= or restrict namespaces="
                    ) from None
                # the snapshot is gone: read the whole list again for a consistent one
                restarted, token, pages = True, None, []
                continue
            pages.append(_complete(doc))
            token = (doc.get("metadata") or {}).get("continue")
            if not token:
                return pages

    def _call(self, call, args: tuple, kwargs: dict, where: str) -> dict:
        """One list request, retried on 429, 5xx, broken connections and cut bodies, all
        within ``timeout``; the decoded List."""
        deadline = Deadline(self.timeout)
        with cut_at(deadline):
            return retrying(
                lambda: self._attempt(call, args, kwargs, where, deadline),
                deadline,
                retries=self.retries,
                backoff=_BACKOFF,
                where=f"{self.service} {self.url} {where}",
                hide=self._redact,
            )

    def _attempt(
        self, call: Callable, args: tuple, kwargs: dict, where: str, deadline: Deadline
    ) -> dict | Retry:
        """One try: the List; a :class:`Retry`; or a CollectionError."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config import ConfigException

        response = None
        done = False
        try:
            left = deadline.left()
            response = call(*args, **kwargs, _preload_content=False, _request_timeout=(left, left))
            body = read_capped(
                response.stream(CHUNK), self.max_bytes, response.headers.get("Content-Length")
            )
            done = True
        except ApiException as exc:
            return self._refused(exc, where, deadline)
        except ConfigException as exc:  # an exec credential plugin that fails on refresh
            raise CollectionError(
                self._redact(
                    f"{self.service} at {self.url}: the credentials of {self.source} could not "
                    f"be refreshed while {where}: {exc}; log in again (kubectl get ns checks it)"
                )
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            return self._broken(exc, where, deadline, started=response is not None)
        except ResponseTooLargeError as exc:
            raise CollectionError(
                f"{self.service} at {self.url} answered {too_large(self.max_bytes, exc.size)} "
                f"while {where}; lower page_size= or raise max_bytes="
            ) from None
        finally:
            if response is not None:
                if not done:
                    response.close()  # a half-read answer must not go back to the pool
                response.release_conn()
        return self._decode(body, where)

    def _refused(self, exc: ApiException, where: str, deadline: Deadline) -> NoReturn:
        """An error answer (``ApiException``), raised; 429 and 5xx after the policy's retries."""
        status = exc.status or 0
        if status == 0:  # the client's way of saying TLS failed
            raise self._tls_error(str(exc.reason).splitlines()[-1], where) from None
        if status == 410:
            raise _Expired from None
        if status == 404 and where.startswith("listing events.k8s.io/v1"):
            raise _NotServed from None
        if status == 403:
            raise _Forbidden(self._status_message(exc, where)) from None
        if status not in RETRY_STATUS:
            raise CollectionError(self._status_message(exc, where)) from None
        message = self._status_message(exc, where, deadline.attempts)
        raise CollectionError(self._redact(deadline.explain(message))) from None

    def _broken(
        self, exc: urllib3.exceptions.HTTPError, where: str, deadline: Deadline, *, started: bool
    ) -> Retry:
        """A request that failed on the way: raised (a timeout, TLS, no answer after the
        policy's retries), or a Retry when its answer was cut short."""
        cause = getattr(exc, "reason", None)
        if (
            deadline.expired
            or isinstance(exc, urllib3.exceptions.ReadTimeoutError)
            or isinstance(cause, urllib3.exceptions.ReadTimeoutError)
        ):
            raise CollectionError(
                f"{self.service} at {self.url} did not answer within timeout={self.timeout}s "
                f"while {where}{' (its answer came too slowly)' if started else ''}; restrict "
                f"namespaces=, lower page_size= or raise timeout="
            ) from exc
        if isinstance(exc, urllib3.exceptions.SSLError) or isinstance(
            cause, urllib3.exceptions.SSLError
        ):
            raise self._tls_error(error_reason(exc), where) from exc
        reason = error_reason(exc)
        if started or isinstance(exc, urllib3.exceptions.ProtocolError):
            return Retry(
                reason=f"the answer was cut short ({reason})",
                final=lambda n: (
                    f"{self.service} at {self.url} cut its answer short while {where}: {reason}, "
                    f"{n} attempts; a proxy or load balancer may drop long answers: retry, or "
                    f"lower page_size="
                ),
                cause=exc,
            )
        # no answer: retried by the policy as long as it could be
        raise CollectionError(
            self._redact(
                deadline.explain(
                    f"{self.service} at {self.url} failed while {where}: {reason}, "
                    f"{deadline.attempts} attempts; check that the API server is reachable "
                    f"(VPN, port-forward) and retry"
                )
            )
        ) from exc

    def _tls_error(self, reason: str, where: str) -> CollectionError:
        return CollectionError(
            self._redact(
                f"{self.service} at {self.url}: TLS failed while {where}: {reason}; check the "
                f"cluster's CA (certificate-authority-data) and server name in {self.source} "
                f"(kubectl config view --minify), and that the URL is the API server's"
            )
        )

    def _decode(self, body: bytes, where: str) -> dict | Retry:
        """A List from an answer; a Retry when it was cut short; a CollectionError when it is
        not a List (an HTML page, a Status error document)."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if looks_like_html(body):
                shown, sign_in = describe_html(body, self.service, _PAST_SSO)
                raise CollectionError(
                    self._redact(
                        f"{self.service} at {self.url} answered with {shown}, not JSON, while "
                        f"{where}: {excerpt(body)[:120]!r}; "
                        + (sign_in or "check the server URL in the kubeconfig (a proxy?)")
                    )
                ) from None
            reason = f"the answer is not complete JSON ({exc}; {len(body)} bytes)"
            return Retry(
                reason=reason,
                final=lambda n: (
                    f"{self.service} at {self.url} failed while {where}: {reason}, {n} "
                    f"attempts; a proxy may cut long answers: retry, or lower page_size="
                ),
            )
        if isinstance(doc, dict) and doc.get("kind") == "Status":
            code = doc.get("code") or 0
            text = self._status_text(code, doc, where, f"HTTP 200 with a Status error ({code})")
            raise _Forbidden(text) if code == 403 else CollectionError(text)
        if not _is_list(doc):
            raise CollectionError(
                self._redact(
                    f"{self.service} at {self.url} answered with a JSON "
                    f"{type(doc).__name__}, not a Kubernetes List, while {where}: "
                    f"{excerpt(body)[:120]!r}; check the server URL in {self.source}"
                )
            )
        return doc

    def _status_message(self, exc: ApiException, where: str, attempts: int = 1) -> str:
        body = exc.body or b""
        body = body.encode() if isinstance(body, str) else body
        try:
            doc = orjson.loads(body[:ERROR_BYTES]) if body else {}
        except orjson.JSONDecodeError:
            doc = body
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        said = f"HTTP {exc.status} {exc.reason or ''}".rstrip() + tries
        return self._status_text(exc.status, doc, where, said)

    def _status_text(self, status: int, doc: dict | bytes, where: str, said: str) -> str:
        """The message of an error answer: its Status message (or an excerpt) and the fix."""
        sign_in = None
        if isinstance(doc, bytes) and looks_like_html(doc):
            message, sign_in = describe_html(doc, self.service, _PAST_SSO)
        elif isinstance(doc, bytes):
            message = repr(excerpt(doc)[:200])
        else:
            message = repr(str((doc if isinstance(doc, dict) else {}).get("message") or ""))
        fixes = {
            401: f"the credentials of {self.source} were refused; log in again (they may "
            f"have expired)",
            403: "the credentials may not do this; ask for RBAC 'list' on it, or restrict "
            "namespaces= to ones you may read",
            404: "the cluster does not serve this API version",
            429: "the API server is rate limiting; wait, or restrict namespaces=",
        }
        fix = sign_in or fixes.get(status, "the API server failed; retry later")
        return self._redact(
            f"{self.service} at {self.url} answered {said} while {where}: {message}; {fix}"
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


class _Expired(Exception):
    """HTTP 410: the continue token's snapshot is gone."""


class _NotServed(Exception):
    """HTTP 404 on events.k8s.io/v1."""


class _Forbidden(CollectionError):
    """HTTP 403: the credentials may not read a list (an error in its own right, which
    :meth:`Kubernetes.inventory` and :func:`obskit.collect` can skip and note)."""


def _is_list(doc: object) -> bool:
    """Whether a decoded answer is a Kubernetes List (``items``, possibly null, or a ``*List``
    kind), not another JSON document a proxy answered with."""
    if not isinstance(doc, dict):
        return False
    if "items" in doc:
        return doc["items"] is None or isinstance(doc["items"], list)
    return str(doc.get("kind") or "").endswith("List")


def _complete(doc: dict) -> dict:
    """Give a List's items the kind and apiVersion the API leaves out, as kubectl does."""
    kind = str(doc.get("kind") or "")
    api_version = doc.get("apiVersion")
    item_kind = kind[:-4] if kind.endswith("List") and kind != "List" else None
    items = []
    for item in doc.get("items") or []:
        if isinstance(item, dict):
            item = {"apiVersion": api_version, "kind": item_kind, **item}
            if item["kind"] is None:
                item.pop("kind")
        items.append(item)
    return {**doc, "items": items}


def _merge(parts: list[ParseResult]) -> ParseResult:
    """One ParseResult from several (frames stacked, counts added)."""
    out = ParseResult(records=sum(p.records for p in parts))
    for name in ("inventory", "events"):
        frames = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        if frames:
            setattr(out, name, schema.concat(name, frames))
    out.rejects = schema.concat("rejects", [p.rejects for p in parts])
    out.notes = [n for p in parts for n in p.notes]
    return out
