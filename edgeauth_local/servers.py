"""Small HTTP servers on 127.0.0.1 (gateway, identity provider, demo backend): bind, serve, stop."""

from __future__ import annotations

import errno
import json
import socket
import ssl
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edgeauth_local.errors import LocalStackError, PortInUseError, ports_in_use_message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        # The TLS handshake runs here, in the connection's own thread (not in the accepting loop,
        # which one slow or refused client would block). A refused handshake raises here, before
        # any handler runs. wrap_socket detaches the accepted socket: this one is closed here.
        tls = self.ssl_context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (the gateway timing out on the backend) is not an error here,
        # nor a TLS handshake refused (no or a wrong client certificate).
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            return
        super().handle_error(request, client_address)


class ServerThread:
    """One ``ThreadingHTTPServer`` in a background thread. ``port=0`` picks a free port."""

    def __init__(
        self,
        name: str,
        handler: type[BaseHTTPRequestHandler],
        host: str = "127.0.0.1",
        port: int = 0,
        option: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self._handler = handler
        self._option = option
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context is not None else 'http'}://{self.host}:{self.port}"

    def start(self, **attrs: Any) -> None:
        """Bind and serve; ``attrs`` are set on the server object (handlers read ``self.server``)."""
        try:
            server = _Server((self.host, self.port), self._handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                # Taken since check_ports looked (or never checked): the same message.
                busy = [(self.name, self.port, self._option or "")]
                free = {self._option: free_port_after(self.host, self.port, set())} if self._option else {}
                args = [part for option, port in free.items() for part in (option, str(port))]
                raise PortInUseError(
                    ports_in_use_message(self.host, busy, args), busy=busy, suggestions=free
                ) from e
            raise LocalStackError(f"{self.name}: cannot bind {self.host}:{self.port}: {e}") from e
        server.ssl_context = self.ssl_context
        for k, v in attrs.items():
            setattr(server, k, v)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, name=self.name, daemon=True)
        self._thread.start()

    def configure(self, **attrs: Any) -> None:
        """Set attributes on the running server (what its handlers read)."""
        for k, v in attrs.items():
            setattr(self._server, k, v)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class QuietHandler(BaseHTTPRequestHandler):
    """No request logging on stderr; JSON helper."""

    # TCP_NODELAY: the handler writes the head and the body separately, and with Nagle's algorithm
    # the body waits for the client's delayed ACK of the head (~40 ms per keep-alive request).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self, limit: int = 10 * 1024 * 1024) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""


def port_free(host: str, port: int) -> bool:
    """Whether ``port`` can be bound on ``host`` now (as the servers bind: ``SO_REUSEADDR``)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(host: str, planned: Sequence[tuple[str, int, str]]) -> None:
    """Raise one :class:`PortInUseError` naming every port of ``planned`` (``(what, port, option)``;
    port 0 picks a free one) that is taken, with a free port to choose for each, before anything
    starts. A bind can still lose a race afterwards: :meth:`ServerThread.start` reports that."""
    seen: set[int] = set()
    busy: list[tuple[str, int, str]] = []
    for what, port, option in planned:
        if port and (port in seen or not port_free(host, port)):
            busy.append((what, port, option))
        seen.add(port)
    if not busy:
        return
    suggestions: dict[str, int] = {}
    for _, port, option in busy:
        suggestions[option] = free = free_port_after(host, port, seen)
        seen.add(free)
    args = [part for option, port in suggestions.items() for part in (option, str(port))]
    raise PortInUseError(ports_in_use_message(host, busy, args), busy=busy, suggestions=suggestions)


def free_port_after(host: str, port: int, taken: set[int]) -> int:
    """The first port above ``port``, not in ``taken``, that is free now (0, any, if none is near)."""
    return next(
        (p for p in range(port + 1, min(port + 200, 65536)) if p not in taken and port_free(host, p)), 0
    )
