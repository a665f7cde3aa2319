"""DynamoDB over HTTP for tests of the authorizer's own client, which moto's in-process ``mock_aws``
cannot intercept (it patches botocore; the authorizer speaks HTTP through awscrt).

* :func:`start_moto` — moto's server on 127.0.0.1 (one per test session; :func:`reset` between tests).
* :class:`DynamoProxy` — an HTTP/1.1 server in front of it that forwards every request, or answers
  it with a fault instead (an error document, silence, a dropped connection): what botocore's
  ``before-send`` hooks did for the boto3 client. It counts requests and TCP connections and can
  keep connections alive, so reuse and reconnection can be observed.
* :func:`authorizer_client` — the authorizer's client pointed at the same server as a boto3 client.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from edgeauth.adapters.dynamodb import Credentials, DynamoDBClient, StaticCredentials

REGION = "us-east-1"
TEST_CREDENTIALS = Credentials("testing", "testing")


def start_moto() -> tuple[Any, str]:
    """A started ``ThreadedMotoServer`` on 127.0.0.1 (free port) and its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def reset(url: str) -> None:
    """Forget every table of the moto server at ``url``."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback test server
        answer.read()


def boto3_client(url: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config) if config else None,
    )


def authorizer_client(boto3_dynamodb: Any, **options: Any) -> DynamoDBClient:
    """The authorizer's client for the server ``boto3_dynamodb`` talks to (or ``endpoint_url``)."""
    options.setdefault("endpoint_url", boto3_dynamodb.meta.endpoint_url)
    return DynamoDBClient(REGION, credentials=StaticCredentials(TEST_CREDENTIALS), **options)


def error_document(status: int, code: str, message: str = "injected", **extra: Any) -> Fault:
    """A fault that answers as DynamoDB does: ``{"__type": "...#Code", "message": ...}``."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra})
    return Fault(status=status, body=body.encode())


@dataclass
class Fault:
    """What :class:`DynamoProxy` does instead of forwarding: answer ``status`` with ``body`` and
    ``headers``, stay silent (``hang``) or close the connection without a word (``drop``)."""

    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    drop: bool = False


@dataclass
class Seen:
    target: str
    body: dict[str, Any]
    headers: dict[str, str]


class DynamoProxy:
    """HTTP/1.1 on 127.0.0.1 in front of a DynamoDB endpoint (moto's server).

    ``fault`` — a callable given each request (target and JSON body), returning a :class:`Fault`
    or ``None`` to forward it — decides each answer. ``keep_alive`` keeps connections open after an
    answer (what DynamoDB does); otherwise each answer closes its connection.
    """

    def __init__(self, upstream: str, *, keep_alive: bool = True) -> None:
        self.upstream = upstream
        self.keep_alive = keep_alive
        self.fault: Callable[[Seen], Fault | None] | None = None
        self.requests: list[Seen] = []
        self.connections = 0
        self.release = threading.Event()
        self._sockets: list[socket.socket] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Head and body are written separately: without this, Nagle's algorithm holds the
                # body back until the client's delayed ACK (40 ms per answer on a kept connection).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                outer.connections += 1
                outer._sockets.append(self.connection)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                seen = Seen(
                    self.headers.get("X-Amz-Target", ""),
                    json.loads(raw or b"{}"),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                outer.requests.append(seen)
                fault = outer.fault(seen) if outer.fault is not None else None
                if fault is not None and fault.hang:
                    outer.release.wait(30)
                    self.close_connection = True
                    return
                if fault is not None and fault.drop:
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault is not None:
                    status, body, headers = fault.status, fault.body, fault.headers
                else:
                    status, body, headers = outer._forward(raw, dict(self.headers.items()))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "content-type" not in {n.lower() for n in headers}:
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                if not outer.keep_alive:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request("POST", "/", body, keep)
            answer = conn.getresponse()
            data = answer.read()
            passed = {
                k: v
                for k, v in answer.getheaders()
                if k.lower() in ("x-amzn-requestid", "x-amz-crc32", "content-type")
            }
            return answer.status, data, passed
        finally:
            conn.close()

    def drop_idle_connections(self) -> None:
        """Close every connection from the server side (as DynamoDB does to an idle one, or as a
        frozen container finds them after a while)."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.release.set()
        self.drop_idle_connections()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
