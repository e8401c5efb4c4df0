"""A fault-injecting HTTP proxy in front of the moto S3 server, for the storage faults (issue 17).

The lake's ``TWEETLAKE_S3_ENDPOINT`` points at the proxy (``http://127.0.0.1:<port>``); every request goes on
to moto unchanged (same path, headers and body, so SigV4 signatures stay valid) unless a scripted
:class:`Fault` matches it. A fault answers the way S3 does when it is in trouble:

- ``status``: an HTTP 500/503 with S3's XML error body (``<Error><Code>SlowDown</Code>...``), the request
  never reaching moto (nothing is stored, as with a real 503);
- ``delay``: the answer held back for that many seconds (slow S3): a client with a shorter read timeout
  gives up first; the request then goes on to moto;
- ``drop``: moto's answer, its headers saying the whole length but only half the body sent before the
  connection is closed (a connection drop mid-body).

Faults match on the method (``PUT``, ``GET``, ...; ``POST`` too for multipart uploads and bulk deletes) and a
regular expression searched in the path and query; ``skip`` lets that many matching requests through first,
``times`` faults that many (``0``: every one after the skipped, a storm until :meth:`S3Proxy.clear`).
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

REASONS = {500: "Internal Server Error", 503: "Service Unavailable"}
MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "expect", "te", "upgrade"}


@dataclass
class Fault:
    method: str | None = None  # None: any method
    path: str = ""  # a regex searched in "<path>?<query>"
    status: int = 0  # 500 / 503: answer with an S3 error
    code: str = "SlowDown"  # the S3 error code in the body
    delay: float = 0.0  # seconds to hold the answer back
    drop: bool = False  # send half of moto's body, then close the connection
    skip: int = 0  # matching requests let through first
    times: int = 1  # requests faulted after those; 0: every one (a storm)
    matched: int = field(default=0, init=False)
    injected: int = field(default=0, init=False)

    def take(self, method: str, path: str) -> bool:
        """Whether this request gets the fault (counts it)."""
        if self.method is not None and method != self.method:
            return False
        if self.path and not re.search(self.path, path):
            return False
        self.matched += 1
        if self.matched <= self.skip or (self.times and self.injected >= self.times):
            return False
        self.injected += 1
        return True


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    fault: str  # "" when forwarded untouched


class S3Proxy:
    """A ThreadingHTTPServer on 127.0.0.1 forwarding to ``upstream`` (moto), injecting the scripted faults."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.proxy = self
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="s3-proxy", daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        """No faults any more (the storm is over); what was seen is kept."""
        with self.lock:
            self.faults.clear()

    @contextmanager
    def faulting(self, *faults: Fault) -> Iterator[list[Fault]]:
        self.inject(*faults)
        try:
            yield list(faults)
        finally:
            self.clear()

    def choose(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.take(method, path):
                    return fault
            return None

    def record(self, method: str, path: str, fault: str) -> None:
        with self.lock:
            self.seen.append(Seen(method, path, fault))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def error_body(code: str, path: str) -> bytes:
    request_id = uuid.uuid4().hex[:16].upper()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{MESSAGES.get(code, code)}</Message>"
        f"<Resource>{path.split('?', 1)[0]}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()


class _Server(ThreadingHTTPServer):
    proxy: S3Proxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as clients expect of S3
    timeout = 60  # a client gone quiet does not hold a thread forever

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        method, path = self.command, self.path
        body = self._body()  # read whole first: the client sent it, whatever we answer
        fault = self.server.proxy.choose(method, path)
        if fault is not None and fault.status:
            self.server.proxy.record(method, path, f"{fault.status} {fault.code}")
            self._error(fault.status, fault.code, path)
            return
        if fault is not None and fault.delay:
            self.server.proxy.record(method, path, f"delay {fault.delay}s")
            time.sleep(fault.delay)
        status, reason, headers, data = self._forward(method, path, body)
        if fault is not None and fault.drop:
            self.server.proxy.record(method, path, "drop")
            self._send(status, reason, headers, data, cut=True)
            return
        if fault is None:
            self.server.proxy.record(method, path, "")
        self._send(status, reason, headers, data)

    def _forward(self, method: str, path: str, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or method in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _send(
        self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes, cut: bool = False
    ) -> None:
        try:
            self.send_response(status, reason)
            length = None
            for key, value in headers:
                low = key.lower()
                if low == "content-length":
                    length = value
                elif low not in HOP_BY_HOP:
                    self.send_header(key, value)
            if self.command == "HEAD" or status in (204, 304):
                if length is not None:  # a HEAD's length is the object's: keep it
                    self.send_header("Content-Length", length)
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if cut:  # the length promised, half sent, the connection gone
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (a timeout): nothing to answer

    def _error(self, status: int, code: str, path: str) -> None:
        data = error_body(code, path)
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", uuid.uuid4().hex[:16])]
        if status == 503:
            headers.append(("Retry-After", "0"))
        self._send(status, REASONS.get(status, "Error"), headers, b"" if self.command == "HEAD" else data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle
