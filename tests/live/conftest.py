"""Live-source fixtures: a real Prometheus server, and loopback HTTP servers for the rest.

The Prometheus fixture backfills the bundled ``checkout-oom`` incident's metrics (the same
``prometheus-json`` files the file loader reads) plus one long 1-second series into a fresh TSDB
with ``promtool tsdb create-blocks-from openmetrics``, and starts Debian's ``prometheus`` on
127.0.0.1 on a free port with ``--query.lookback-delta=1s`` so a range query at the samples'
own step returns each stored sample exactly once and nothing in between.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import math
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = ROOT / "datasets" / "checkout-oom"

#: The long series: one sample a second for six hours (21,600 samples, > 11,000 points).
LONG_START = 1_715_500_000
LONG_SAMPLES = 6 * 3600
LONG_METRIC = "obskit_long_series"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric_files() -> list[Path]:
    return sorted(p for p in (INCIDENT / "metrics").iterdir() if p.is_file())


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def file_stem(path: Path) -> str:
    """The metric name the file loader gives a file's unnamed series (``x.rate5m``)."""
    return re.sub(r"(?:\.(?:json|gz))+$", "", path.name)


def series_name(path: Path) -> str:
    """The name the backfill stores a file's unnamed series under (a valid metric name)."""
    return file_stem(path).replace(".", "_")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics() -> str:
    """The incident's series (named as the file loader names them) and the long series."""
    lines: list[str] = []
    for path in metric_files():
        doc = orjson.loads(read_bytes(path))
        for item in doc["data"]["result"]:
            labels = dict(item["metric"])
            name = labels.pop("__name__", None) or series_name(path)
            body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            for ts, value in item["values"]:
                lines.append(f"{name}{{{body}}} {value} {ts}")
    for i in range(LONG_SAMPLES):
        lines.append(f'{LONG_METRIC}{{case="long"}} {i} {LONG_START + i}')
    # OpenMetrics wants each family's samples together
    lines.sort(key=lambda line: line.split("{", 1)[0])
    return "\n".join(lines) + "\n# EOF\n"


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen
    log: Path
    timings: dict[str, float] = field(default_factory=dict)


def _wait_ready(url: str, process: subprocess.Popen, log: Path, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready after {limit}s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        message = (
            "Debian's prometheus package is not installed (no prometheus/promtool on PATH); "
            "install it with: apt-get install -y --no-install-recommends prometheus"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("prometheus")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source = work / "incident.om"
    source.write_text(openmetrics())
    data = work / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    timings["backfill_s"] = time.perf_counter() - t0
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 30s\n")
    t1 = time.perf_counter()
    with running_prometheus(
        binary,
        config,
        data,
        work / "prometheus.log",
        "--storage.tsdb.retention.time=100y",
        "--query.lookback-delta=1s",
        "--query.max-samples=50000000",
    ) as server:
        timings["start_s"] = time.perf_counter() - t1
        server.timings = timings
        yield server


@contextlib.contextmanager
def running_prometheus(
    binary: str, config: Path, data: Path, log: Path, *flags: str
) -> Iterator[PrometheusServer]:
    """Debian's ``prometheus`` on 127.0.0.1 on a free port, ready; stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                *flags,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(url, process, log)
        yield PrometheusServer(url, process, log, {})
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


# --- loopback HTTP servers ---------------------------------------------------------------------


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Loopback:
    """A threaded HTTP server on 127.0.0.1 whose requests go to ``handle(request)``."""

    url: str
    requests: list[dict]
    server: http.server.ThreadingHTTPServer


@contextlib.contextmanager
def loopback(handle: Handler, *, tls: tuple[Path, Path] | None = None) -> Iterator[Loopback]:
    seen: list[dict] = []

    class _Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.body,
                }
            )
            handle(self)

        do_GET = _any
        do_POST = _any
        do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    class _Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            # a client that gave up (a timeout test) closes the socket under a slow answer
            pass

    server = _Server(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield Loopback(f"{scheme}://127.0.0.1:{server.server_address[1]}", seen, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def reply(
    request: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes | dict | list,
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
) -> None:
    """Answer with ``body`` (JSON-encoded when not bytes); ``content_length`` can lie."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header(
        "Content-Length", str(len(data) if content_length is None else content_length)
    )
    for key, value in (headers or {}).items():
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(data)
    if content_length is not None and content_length != len(data):
        request.close_connection = True


def is_close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b
