"""Fetch a JWKS or discovery document over HTTPS: short timeouts, size cap, no redirects.

The exchange goes through :mod:`edgeauth.adapters.crt_http` (awscrt's HTTP client, already loaded
for the DynamoDB client's signer: no ``http.client``/``ssl`` on the authorizer's cold path). It
never follows redirects (a 3xx is a failure), bounds the whole fetch by ``timeout`` and refuses a
body over the size cap, announced or received. Plain http is only ever reached for loopback URLs,
which :func:`edgeauth.core.settings.validate_key_url` enforces at configuration time and again here.

awscrt reads bodies framed by ``Content-Length`` or chunked encoding only; an answer with neither
(an HTTP/1.0 server that ends the body by closing the connection), or one its parser refuses, is
fetched again, once, with ``http.client`` (imported then only), under the same deadline and size
cap, and judged as before.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from edgeauth.adapters import crt_http
from edgeauth.core.errors import JwksUnavailableError
from edgeauth.core.settings import is_loopback_host

HEADERS = [("Accept", "application/json"), ("User-Agent", "edgeauth")]


def fetch(url: str, timeout: float, max_bytes: int) -> bytes:
    """GET ``url`` and return the body of a 200 answer. Raises :class:`JwksUnavailableError`."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise JwksUnavailableError("key URL has no host")
    try:
        port = parts.port
    except ValueError:
        # A port out of range escaped as ValueError (not a JwksUnavailableError) before.
        raise JwksUnavailableError("key URL has an invalid port") from None
    https = parts.scheme == "https"
    if not https and not (parts.scheme == "http" and is_loopback_host(host)):
        raise JwksUnavailableError("key URL must be https (http only on loopback)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    deadline = time.monotonic() + timeout
    netloc = f"[{host}]" if ":" in host else host
    default_port = 443 if https else 80
    host_header = netloc if port in (None, default_port) else f"{netloc}:{port}"
    try:
        conn = crt_http.Connection.open(host, port or default_port, https=https, timeout=timeout)
    except crt_http.HttpError as e:
        # Refused, no such host, TLS refused (an untrusted certificate), or no connection in time.
        raise JwksUnavailableError(f"key endpoint unreachable: {e.code}") from None
    try:
        response = conn.exchange(
            crt_http.new_request("GET", path, [("Host", host_header), *HEADERS]),
            timeout=max(0.0, deadline - time.monotonic()),
            max_body=max_bytes,
        )
    except crt_http.BodyTooLarge:
        raise JwksUnavailableError("key endpoint body exceeds the size cap") from None
    except crt_http.HttpTimeout:
        raise JwksUnavailableError("key endpoint too slow") from None
    except crt_http.HttpError as e:
        if e.status is not None and e.status != 200:  # an answer awscrt could not read to its end
            raise JwksUnavailableError(f"key endpoint answered HTTP {e.status}") from None
        if e.code != crt_http.PROTOCOL_ERROR:
            raise JwksUnavailableError(f"key endpoint unreachable: {e.code}") from None
        # An answer awscrt's parser refuses (a 204 with a body...): http.client judges it.
        return _fetch_unframed(host, port, https, path, deadline, max_bytes)
    finally:
        conn.close()
    if response.status != 200:
        raise JwksUnavailableError(f"key endpoint answered HTTP {response.status}")
    if response.framed:
        return response.body
    return _fetch_unframed(host, port, https, path, deadline, max_bytes)


def _fetch_unframed(
    host: str, port: int | None, https: bool, path: str, deadline: float, max_bytes: int
) -> bytes:
    """The fetch again with ``http.client``, which reads a body that ends when the connection
    closes and answers awscrt's parser refuses. Same deadline (what is left of it) and size cap."""
    import contextlib
    import http.client
    import socket
    import threading

    from edgeauth.adapters.tls import client_context

    timeout = max(0.001, deadline - time.monotonic())
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(host, port, timeout=timeout, context=client_context())
        if https
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    # The socket timeout bounds each blocking call, not the whole exchange: ``resp.read(n)`` loops
    # over recv() until n bytes arrive, so a server trickling a byte per (timeout - ε) held the fetch
    # open for minutes. A watchdog shuts the socket down at the deadline: the whole fetch (after the
    # connect, itself bounded by the socket timeout) then takes about ``timeout`` at most.
    # The socket is captured after connect: http.client drops ``conn.sock`` once the response owns it.
    expired = threading.Event()

    def _expire(sock: socket.socket) -> None:
        expired.set()
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    watchdog: threading.Timer | None = None
    try:
        conn.connect()
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _expire, (conn.sock,))
        watchdog.daemon = True
        watchdog.start()
        conn.request("GET", path, headers=dict(HEADERS))
        resp = conn.getresponse()
        if resp.status != 200:
            raise JwksUnavailableError(f"key endpoint answered HTTP {resp.status}")
        length = resp.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise JwksUnavailableError("key endpoint body exceeds the size cap")
        chunks: list[bytes] = []
        total = 0
        while True:
            if expired.is_set() or time.monotonic() > deadline:
                raise JwksUnavailableError("key endpoint too slow")
            chunk = resp.read(min(16384, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise JwksUnavailableError("key endpoint body exceeds the size cap")
        if expired.is_set():
            raise JwksUnavailableError("key endpoint too slow")  # the body may have been cut short
        return b"".join(chunks)
    except JwksUnavailableError:
        raise
    except (OSError, http.client.HTTPException) as e:
        if expired.is_set():
            raise JwksUnavailableError("key endpoint too slow") from e
        raise JwksUnavailableError(f"key endpoint unreachable: {type(e).__name__}") from e
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()
