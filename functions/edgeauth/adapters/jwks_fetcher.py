"""Fetch a JWKS or discovery document over HTTPS: short timeouts, size cap, no redirects.

``http.client`` is used directly: it never follows redirects (a 3xx is a failure), it costs less to
import than ``urllib.request`` and it lets the body be read with a hard size cap. Plain http is only
ever reached for loopback URLs, which :func:`edgeauth.core.settings.validate_key_url` enforces at
configuration time and again here.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from edgeauth.core.errors import JwksUnavailableError
from edgeauth.core.settings import is_loopback_host

_ssl_context: ssl.SSLContext | None = None


def _context() -> ssl.SSLContext:
    global _ssl_context  # noqa: PLW0603 - one TLS context per container, built on first use
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


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
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_context())
    elif parts.scheme == "http" and is_loopback_host(host):
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        raise JwksUnavailableError("key URL must be https (http only on loopback)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    deadline = time.monotonic() + timeout
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
        conn.request("GET", path, headers={"Accept": "application/json", "User-Agent": "edgeauth"})
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
