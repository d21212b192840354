"""Answers of failing servers, for the loopback servers of the live-source tests: trickled,
endless, cut or reset answers, a Retry-After of an hour, sign-in pages that echo credentials."""

from __future__ import annotations

import email.utils
import socket
import struct
import time

from tests.live.conftest import reply


def _write(request, data: bytes) -> bool:
    """Send ``data`` now; False once the client has gone."""
    try:
        request.wfile.write(data)
        request.wfile.flush()
    except OSError:
        return False
    return True


def trickle_body(request) -> None:
    """Headers at once, then the body a byte at a time (never more than a read timeout apart)."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", "1000")
    request.end_headers()
    for _ in range(1000):
        if not _write(request, b" "):
            return
        time.sleep(0.2)


def trickle_headers(request) -> None:
    """Even the status line a byte at a time."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 20:
        if not _write(request, bytes([byte])):
            return
        time.sleep(0.2)


def endless(request) -> None:
    """A chunked answer that never ends."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()
    piece = b"[" * 65536
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _write(request, b"%x\r\n%s\r\n" % (len(piece), piece)):
        pass


def huge(request) -> None:
    """An answer that announces 10 GB."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(10 * 2**30))
    request.end_headers()
    _write(request, b"{")


def cut_chunked(request) -> None:
    """A chunked answer that stops after its first chunk (no last chunk)."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()
    _write(request, b'10\r\n{"status":"succe\r\n')
    request.close_connection = True


def reset_mid_body(request) -> None:
    """Half of the announced body, then a TCP reset."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", "400")
    request.end_headers()
    _write(request, b'{"status":"success",' + b" " * 180)
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.connection.close()
    request.close_connection = True


def retry_in_an_hour(request) -> None:
    reply(request, 429, b"slow down", {"Retry-After": "3600"})


def retry_at_a_date(request) -> None:
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    reply(request, 503, b"maintenance", {"Retry-After": when})


def busy(request) -> None:
    reply(request, 503, b"busy", {"Retry-After": "1"})


def sign_in_echo(request) -> None:
    """An SSO proxy's sign-in page (200) that echoes the request, credentials included."""
    page = (
        "<!DOCTYPE html><html><head><title>Sign in - Corp SSO</title></head><body>"
        f"{request.headers.get('Authorization')} <form action='/login'>Please log in to see "
        f"{request.path}</form></body></html>"
    )
    reply(request, 200, page.encode(), {"Content-Type": "text/html"})


def sign_in_401(request) -> None:
    page = (
        "<html><head><title>Single Sign-On</title></head><body>Session expired for "
        f"{request.headers.get('Authorization')}; sign in again</body></html>"
    )
    reply(request, 401, page.encode(), {"Content-Type": "text/html"})
