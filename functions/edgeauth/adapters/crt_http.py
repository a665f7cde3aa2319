"""HTTP/1.1 on the AWS Common Runtime (``awscrt.http``): the authorizer's HTTP client.

Why not ``http.client``: the DynamoDB client signs with ``awscrt.auth``, which loads
``awscrt.http`` and the runtime's own TLS stack anyway. ``http.client`` would add Python's ``ssl``
(a second OpenSSL), ``email`` for header parsing and their dependencies: about 6.5 MB of peak
memory and 15–20 ms of every cold start, plus tens of milliseconds for ``ssl``'s default context
to parse the CA store where awscrt's context is cheaper (docs/benchmarks.md "Cold start: no boto3 on the request path"). The JWKS fetcher and
the DynamoDB client both use this module.

What a caller may rely on:

* **One event-loop thread** per process, with its host resolver, created on first use and never
  at import (nothing of it is in a SnapStart snapshot, see :mod:`edgeauth.adapters.snapstart`).
* **TLS** for ``https``: 1.2 at least; the peer's certificate is verified against the system's
  trust store and the host name, which is also sent as SNI. Never disabled. A refused negotiation (an untrusted
  certificate) is reported only when the connection is shut down, which s2n delays by several
  seconds (its "blinding" against timing attacks): the caller sees the connect timeout.
* **Timeouts**: opening a connection (TCP and TLS) is bounded by its ``timeout``; an exchange by its
  own ``timeout``, for the whole answer (a server trickling bytes does not extend it). On a timeout
  the connection is closed and :class:`HttpTimeout` raised.
* **Size cap**: with ``max_body``, an answer whose ``Content-Length`` or received body exceeds it
  closes the connection and raises :class:`BodyTooLarge` (a ``Content-Length`` over it is refused
  before the body is read).
* **No redirects** are followed (a 3xx is an answer like any other).
* **Framing**: awscrt reads bodies framed by ``Content-Length`` or chunked encoding only. An answer
  with neither (an HTTP/1.0 server ending the body by closing) comes back with ``framed=False``
  and whatever body awscrt saw (nothing): the caller decides (the JWKS fetcher reads it again
  with ``http.client``; DynamoDB always frames its answers).
* **Errors**: :class:`HttpError` and its subclasses; ``code`` is awscrt's error name
  (``AWS_IO_SOCKET_CONNECTION_REFUSED``), never data from the exchange.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

#: awscrt's error name for an answer its HTTP/1.1 parser refuses.
PROTOCOL_ERROR = "AWS_ERROR_HTTP_PROTOCOL_ERROR"

# awscrt is imported when the first connection is opened (and by the DynamoDB client's signer),
# not with this module: importing it costs ~50 ms (its TLS library seeds its random generator).


class HttpError(Exception):
    """An exchange failed. ``code`` says how (an awscrt error name, or ``Timeout``...);
    ``status`` is the answer's status when one arrived before the failure (a 204 with a body)."""

    def __init__(self, code: str, status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


class Unreachable(HttpError):
    """No connection: refused, unresolvable, TLS negotiation failed (an untrusted certificate)."""


class HttpTimeout(HttpError):
    """The connection or the answer took longer than its timeout."""

    def __init__(self) -> None:
        super().__init__("Timeout")


class BodyTooLarge(HttpError):
    """The answer's body is over ``max_body`` (announced or received)."""

    def __init__(self) -> None:
        super().__init__("BodyTooLarge")


class ConnectionLost(HttpError):
    """The connection failed during the exchange (closed by the server, reset)."""


class Response:
    """An answer: ``headers`` with lower-case names (repeated ones joined with ``", "``);
    ``framed`` is false for a body awscrt did not read (see the module's docstring)."""

    __slots__ = ("body", "framed", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, framed: bool = True) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.framed = framed


class _Runtime:
    """The process's event loop, host resolver and client bootstrap, and the TLS context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bootstrap: Any = None
        self._tls: Any = None

    def bootstrap(self) -> Any:
        if self._bootstrap is None:
            with self._lock:
                if self._bootstrap is None:
                    from awscrt import io

                    loop = io.EventLoopGroup(1)
                    self._bootstrap = io.ClientBootstrap(loop, io.DefaultHostResolver(loop))
        return self._bootstrap

    def tls(self) -> Any:
        if self._tls is None:
            with self._lock:
                if self._tls is None:
                    from awscrt import io

                    options = io.TlsContextOptions()
                    options.verify_peer = True
                    # awscrt's default security policy still offers TLS 1.0; Python's ssl (what
                    # the JWKS fetch used before) and DynamoDB both require 1.2 at least.
                    options.min_tls_ver = io.TlsVersion.TLSv1_2
                    self._tls = io.ClientTlsContext(options)
        return self._tls


_runtime = _Runtime()


def _error_name(error: BaseException) -> str:
    name = getattr(error, "name", None)
    return name if isinstance(name, str) and name else type(error).__name__


def header_map(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Names lower-cased, repeated headers joined with ``", "`` (botocore's ``HTTPHeaders``)."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def new_request(method: str, path: str, headers: list[tuple[str, str]], body: bytes | None = None) -> Any:
    """An ``awscrt.http.HttpRequest`` (what the signer signs and :meth:`Connection.exchange` sends)."""
    import io as _io

    from awscrt import http

    stream = None if body is None else _io.BytesIO(body)
    return http.HttpRequest(method, path, http.HttpHeaders(headers), body_stream=stream)


class Connection:
    """One HTTP/1.1 connection, one exchange at a time."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @classmethod
    def open(cls, host: str, port: int, *, https: bool, timeout: float) -> Connection:
        """Connect (and for ``https``, negotiate TLS) within ``timeout`` seconds. Raises
        :class:`Unreachable` or :class:`HttpTimeout`."""
        from awscrt import http, io

        socket_options = io.SocketOptions()
        socket_options.connect_timeout_ms = max(1, int(timeout * 1000))
        socket_options.keep_alive = True
        tls = None
        if https:
            tls = _runtime.tls().new_connection_options()
            tls.set_server_name(host)
        future: Future[Any] = http.HttpClientConnection.new(
            host_name=host,
            port=port,
            bootstrap=_runtime.bootstrap(),
            socket_options=socket_options,
            tls_connection_options=tls,
        )
        try:
            return cls(future.result(timeout))
        except FutureTimeout:
            # Connected after all, later: nobody will use it.
            future.add_done_callback(_close_if_connected)
            raise HttpTimeout() from None
        except Exception as e:  # awscrt's AwsCrtError: refused, no such host, TLS failure
            raise Unreachable(_error_name(e)) from None

    def is_open(self) -> bool:
        """Whether the connection can carry a request: awscrt's event loop notices a close by the
        server (a keep-alive limit, a container frozen for minutes) as it happens."""
        return bool(self._connection.is_open())

    def close(self) -> None:
        self._connection.close()

    def exchange(self, request: Any, *, timeout: float, max_body: int | None = None) -> Response:
        """Send ``request`` (from :func:`new_request`) and read the whole answer within ``timeout``.
        Raises :class:`HttpTimeout`, :class:`BodyTooLarge` or :class:`ConnectionLost`; after any
        of them the connection is closed."""
        head: list[Any] = []
        chunks: list[bytes] = []
        received = [0]
        too_large = threading.Event()
        connection = self._connection

        def on_response(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            head.append((status_code, headers))
            if max_body is not None:
                for name, value in headers:
                    if name.lower() == "content-length" and value.isdigit() and int(value) > max_body:
                        too_large.set()
                        connection.close()

        def on_body(chunk: Any, **_: Any) -> None:
            if too_large.is_set():
                return
            received[0] += len(chunk)
            if max_body is not None and received[0] > max_body:
                too_large.set()
                connection.close()
                return
            chunks.append(bytes(chunk))

        try:
            stream = connection.request(request, on_response=on_response, on_body=on_body)
            stream.activate()
            status = stream.completion_future.result(timeout)
        except FutureTimeout:
            connection.close()
            raise HttpTimeout() from None
        except Exception as e:
            connection.close()
            if too_large.is_set():
                raise BodyTooLarge() from None
            raise ConnectionLost(_error_name(e), head[0][0] if head else None) from None
        if too_large.is_set():  # the close raced the end of the answer
            connection.close()
            raise BodyTooLarge()
        headers = header_map(head[0][1]) if head else {}
        framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
        return Response(int(status), headers, b"".join(chunks), framed)


def _close_if_connected(future: Future[Any]) -> None:
    if future.exception() is None:
        future.result().close()
