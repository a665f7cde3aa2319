"""One HTTP/1.1 request read off the wire within API Gateway's size limits (REST APIs).

API Gateway refuses, before any route, authorizer or integration sees it:

* a request whose request line plus headers exceed :data:`MAX_HEAD_BYTES` (10,240 bytes, the
  documented quota "total combined size of request line and header values"). Counted here: every
  byte of the request line and of each header line as received, line endings included, the empty
  line that ends the headers not. That is at least what AWS counts (header names and line endings
  on top of the values), so a request that passes here passes there;
* a payload over :data:`MAX_BODY_BYTES` (10 MB), declared by ``Content-Length`` or reached while
  reading a chunked body.

Both raise :class:`RequestTooLargeError` after reading at most the limit (plus one line): nothing
unbounded is held in memory. A request that is not HTTP/1.x raises :class:`MalformedRequestError`
with what was wrong. :mod:`edgeauth_local.gateway` answers both as JSON, never with the HTML pages
of :mod:`http.server` (whose own limits, 65,536-byte lines and 100 headers, no longer apply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

MAX_HEAD_BYTES = 10_240
MAX_BODY_BYTES = 10 * 1024 * 1024
_MAX_CHUNK_LINE = 1024
"""A chunk-size line (size and extensions); longer is malformed."""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")


class Readable(Protocol):
    """What requests are read from: a buffered socket file, or bytes in memory."""

    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...


class RequestTooLargeError(Exception):
    """Over :data:`MAX_HEAD_BYTES` (head) or :data:`MAX_BODY_BYTES` (body).

    ``method`` and ``target`` are the request line's, when it was read whole (else empty)."""

    def __init__(self, what: str, method: str = "", target: str = "") -> None:
        super().__init__(what)
        self.method = method
        self.target = target


class MalformedRequestError(ValueError):
    """Not an HTTP/1.x request; the message says what and where."""


class UnsupportedVersionError(MalformedRequestError):
    """HTTP/2 or later on an HTTP/1.x connection."""


@dataclass
class Head:
    method: str
    target: str
    version: str  # HTTP/1.0 | HTTP/1.1
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may serve another request after this one (RFC 9112 §9.3)."""
        tokens = {t.strip().lower() for v in self.values("Connection") for t in v.split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens

    @property
    def expects_continue(self) -> bool:
        return self.version == "HTTP/1.1" and any(
            v.strip().lower() == "100-continue" for v in self.values("Expect")
        )


def read_head(rfile: Readable, limit: int = MAX_HEAD_BYTES) -> Head | None:
    """The request line and headers; ``None`` when the connection closed before a request began."""
    line = rfile.readline(limit + 1)
    if line in (b"\r\n", b"\n"):  # RFC 9112 §2.2: one empty line before a request is ignored
        line = rfile.readline(limit + 1)
    if not line:
        return None
    used = len(line)
    if used > limit:
        raise RequestTooLargeError(f"request line over {limit} bytes")
    if not line.endswith(b"\n"):
        raise MalformedRequestError("the connection closed inside the request line")
    method, target, version = _request_line(line)
    headers: list[tuple[str, str]] = []
    while True:
        budget = limit - used
        # +2: room for the empty line that ends the head, which is not counted.
        line = rfile.readline(budget + 2)
        if line in (b"\r\n", b"\n"):
            return Head(method, target, version, headers)
        if not line.endswith(b"\n"):
            if len(line) == budget + 2:  # cut by the budget: longer than what is left
                raise RequestTooLargeError(f"request line plus headers over {limit} bytes", method, target)
            raise MalformedRequestError("the connection closed inside the headers")
        used += len(line)
        if used > limit:
            raise RequestTooLargeError(f"request line plus headers over {limit} bytes", method, target)
        headers.append(_header(line, len(headers) + 1))


def _request_line(line: bytes) -> tuple[str, str, str]:
    text = line.rstrip(b"\r\n").decode("latin-1")
    parts = text.split(" ")
    if len(parts) != 3 or not all(parts):
        raise MalformedRequestError(f"request line {text[:80]!r}: expected 'METHOD TARGET HTTP/1.1'")
    method, target, version = parts
    if _TOKEN.fullmatch(method.encode("latin-1")) is None:
        raise MalformedRequestError(f"request line: method {method[:40]!r} is not a token")
    m = _VERSION.fullmatch(version)
    if m is None:
        raise MalformedRequestError(f"request line: version {version[:40]!r} is not HTTP/x.y")
    if m.group(1) != "1":
        raise UnsupportedVersionError(f"request line: {version} is not served here (HTTP/1.0 and 1.1 are)")
    if target.startswith("//"):
        # As http.server does (gh-87389): '//host/x' would read as a network path in a redirect.
        target = "/" + target.lstrip("/")
    return method, target, version


def _header(line: bytes, number: int) -> tuple[str, str]:
    if line[:1] in (b" ", b"\t"):
        raise MalformedRequestError(f"header {number}: a folded line (obsolete line folding is refused)")
    name, colon, value = line.rstrip(b"\r\n").partition(b":")
    if not colon or _TOKEN.fullmatch(name) is None:
        shown = name[:40].decode("latin-1")
        raise MalformedRequestError(f"header {number}: {shown!r} is not 'Name: value'")
    return name.decode("latin-1"), value.strip(b" \t").decode("latin-1")


def body_length(head: Head, limit: int = MAX_BODY_BYTES) -> int | None:
    """The declared body length (0 without one); ``None`` for a chunked body. Refuses a declared
    length over ``limit`` before anything of the body is read."""
    codings = [c.strip().lower() for v in head.values("Transfer-Encoding") for c in v.split(",") if c.strip()]
    lengths = {v.strip() for raw in head.values("Content-Length") for v in raw.split(",")}
    if codings:
        if lengths:  # RFC 9112 §6.1: both is how requests are smuggled
            raise MalformedRequestError("Content-Length and Transfer-Encoding together")
        if codings != ["chunked"]:
            raise MalformedRequestError(f"Transfer-Encoding {', '.join(codings)!r}: only 'chunked' is read")
        return None
    if not lengths:
        return 0
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise MalformedRequestError(f"Content-Length {', '.join(sorted(lengths))!r} is not one number")
    length = int(next(iter(lengths)))
    if length > limit:
        raise RequestTooLargeError(f"body of {length} bytes over {limit}", head.method, head.target)
    return length


def read_body(rfile: Readable, head: Head, length: int | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body: ``length`` bytes, or the chunked body (at most ``limit`` bytes of data held)."""
    if length is not None:
        data = rfile.read(length) if length else b""
        if len(data) < length:
            raise MalformedRequestError(f"the connection closed after {len(data)} of {length} body bytes")
        return data
    parts: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(_MAX_CHUNK_LINE + 1)
        if not line.endswith(b"\n"):
            raise MalformedRequestError("chunked body: a chunk-size line is cut or too long")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise MalformedRequestError(f"chunked body: chunk size {size_text[:20]!r} is not hex") from None
        if size == 0:
            break
        total += size
        if total > limit:
            raise RequestTooLargeError(f"chunked body over {limit} bytes", head.method, head.target)
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise MalformedRequestError("chunked body: a chunk is cut short or not followed by CRLF")
        parts.append(chunk)
    # Trailer fields, up to the empty line; bounded like a head.
    used = 0
    while True:
        line = rfile.readline(MAX_HEAD_BYTES + 1)
        if line in (b"\r\n", b"\n"):
            return b"".join(parts)
        used += len(line)
        if not line.endswith(b"\n") or used > MAX_HEAD_BYTES:
            raise MalformedRequestError("chunked body: the trailer section is cut or too long")
