"""The container's one TLS client context (the JWKS fetcher's and the DynamoDB client's)."""

from __future__ import annotations

import ssl
import threading

_context: ssl.SSLContext | None = None
_lock = threading.Lock()


def client_context() -> ssl.SSLContext:
    """The default client context (certificate and host name checks on, the system's CA store),
    built on first use and shared: loading the CA store costs a few milliseconds and about a
    megabyte, once per container rather than once per client."""
    global _context  # noqa: PLW0603 - one TLS context per container, built on first use
    if _context is None:
        with _lock:
            if _context is None:
                _context = ssl.create_default_context()
    return _context
