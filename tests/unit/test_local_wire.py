"""Reading a request within API Gateway's size limits (``edgeauth_local.wire``), from bytes in memory."""

from __future__ import annotations

import io

import pytest

from edgeauth_local import wire
from edgeauth_local.wire import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    Head,
    MalformedRequestError,
    RequestTooLargeError,
    UnsupportedVersionError,
    body_length,
    read_body,
    read_head,
)

REQUEST_LINE = b"GET /dev/accounts/1 HTTP/1.1\r\n"


def head_of(size: int, *, line_ending: bytes = b"\r\n") -> bytes:
    """A request line plus headers of exactly ``size`` bytes (line endings included), then the
    empty line that ends the head."""
    fixed = REQUEST_LINE + b"Host: x" + line_ending + b"X-Pad: " + line_ending
    pad = size - len(fixed)
    assert pad >= 0
    return REQUEST_LINE + b"Host: x" + line_ending + b"X-Pad: " + b"p" * pad + line_ending + line_ending


def test_request_line_plus_headers_of_exactly_the_limit_are_read() -> None:
    raw = head_of(MAX_HEAD_BYTES)
    assert len(raw) == MAX_HEAD_BYTES + 2
    head = read_head(io.BytesIO(raw + b"next"))
    assert head is not None
    assert (head.method, head.target, head.version) == ("GET", "/dev/accounts/1", "HTTP/1.1")
    assert head.headers[0] == ("Host", "x")
    assert head.headers[1][0] == "X-Pad" and len(head.headers[1][1]) > 10_000


@pytest.mark.parametrize("size", [MAX_HEAD_BYTES + 1, MAX_HEAD_BYTES + 2, 20_000, 70_000])
def test_one_byte_over_the_limit_or_far_over_is_too_large(size: int) -> None:
    rfile = io.BytesIO(head_of(size) + b"x" * 1_000_000)
    with pytest.raises(RequestTooLargeError) as e:
        read_head(rfile)
    assert (e.value.method, e.value.target) == ("GET", "/dev/accounts/1")
    # AND no more than the limit (plus a line ending) was read to find out
    assert rfile.tell() <= MAX_HEAD_BYTES + 2


def test_many_small_headers_are_counted_by_their_bytes_not_their_number() -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(300))  # http.server refuses over 100
    head = read_head(io.BytesIO(REQUEST_LINE + headers + b"\r\n"))
    assert head is not None and len(head.headers) == 300
    with pytest.raises(RequestTooLargeError):
        read_head(io.BytesIO(REQUEST_LINE + headers * 5 + b"\r\n"))


def test_a_request_line_over_the_limit_is_too_large_without_reading_it_all() -> None:
    rfile = io.BytesIO(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n")
    with pytest.raises(RequestTooLargeError) as e:
        read_head(rfile)
    assert e.value.method == ""
    assert rfile.tell() == MAX_HEAD_BYTES + 1


def test_bare_lf_line_endings_count_as_sent() -> None:
    raw = head_of(MAX_HEAD_BYTES, line_ending=b"\n")
    assert read_head(io.BytesIO(raw)) is not None
    with pytest.raises(RequestTooLargeError):
        read_head(io.BytesIO(head_of(MAX_HEAD_BYTES + 1, line_ending=b"\n")))


def test_a_closed_connection_before_a_request_is_none() -> None:
    assert read_head(io.BytesIO(b"")) is None
    assert read_head(io.BytesIO(b"\r\n")) is None


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"GET /x\r\n\r\n", "expected 'METHOD TARGET HTTP/1.1'"),
        (b"GET  /x HTTP/1.1\r\n\r\n", "expected 'METHOD TARGET HTTP/1.1'"),
        (b"G(T /x HTTP/1.1\r\n\r\n", "is not a token"),
        (b"GET /x HTTX/1.1\r\n\r\n", "is not HTTP/x.y"),
        (b"GET /x HTTP/1.1\r\nNo colon here\r\n\r\n", "header 1"),
        (b"GET /x HTTP/1.1\r\nA: b\r\nBad Name: c\r\n\r\n", "header 2"),
        (b"GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "folded"),
        (b"GET /x HTTP/1.1\r\nA: b\r\n", "closed inside the headers"),
        (b"GET /x HTT", "closed inside the request line"),
    ],
)
def test_malformed_heads_say_what_is_wrong(raw: bytes, says: str) -> None:
    with pytest.raises(MalformedRequestError, match=None) as e:
        read_head(io.BytesIO(raw))
    assert says in str(e.value)


def test_http2_is_an_unsupported_version() -> None:
    with pytest.raises(UnsupportedVersionError):
        read_head(io.BytesIO(b"GET /x HTTP/2.0\r\n\r\n"))


def test_header_values_are_trimmed_and_a_leading_double_slash_collapsed() -> None:
    head = read_head(io.BytesIO(b"GET //dev/x HTTP/1.0\r\nA:  b c \t\r\nConnection: keep-alive\r\n\r\n"))
    assert head is not None
    assert head.target == "/dev/x"
    assert head.headers[0] == ("A", "b c")
    assert head.keep_alive and not Head("GET", "/", "HTTP/1.1", [("Connection", "close")]).keep_alive


def head(*headers: tuple[str, str]) -> Head:
    return Head("POST", "/dev/x", "HTTP/1.1", list(headers))


def test_a_declared_body_over_10_mb_is_refused_before_it_is_read() -> None:
    assert body_length(head(("Content-Length", str(MAX_BODY_BYTES)))) == MAX_BODY_BYTES
    with pytest.raises(RequestTooLargeError):
        body_length(head(("Content-Length", str(MAX_BODY_BYTES + 1))))


def test_a_body_of_exactly_10_mb_is_read() -> None:
    data = b"x" * MAX_BODY_BYTES
    assert read_body(io.BytesIO(data), head(), MAX_BODY_BYTES) == data


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def test_a_chunked_body_is_read_and_refused_once_over_10_mb() -> None:
    h = head(("Transfer-Encoding", "chunked"))
    assert body_length(h) is None
    assert read_body(io.BytesIO(chunked(b"ab", b"cde")), h, None) == b"abcde"
    big = b"y" * (1024 * 1024)
    rfile = io.BytesIO(chunked(*[big] * 11))
    with pytest.raises(RequestTooLargeError):
        read_body(rfile, h, None)
    # AND what was held stayed within the limit: the 11th chunk was never read
    assert rfile.tell() < MAX_BODY_BYTES + 1024  # (chunk-size lines and CRLFs on top)


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ((("Content-Length", "5"), ("Transfer-Encoding", "chunked")), "together"),
        ((("Transfer-Encoding", "gzip, chunked"),), "only 'chunked'"),
        ((("Content-Length", "-1"),), "not one number"),
        ((("Content-Length", "5"), ("Content-Length", "6")), "not one number"),
        ((("Content-Length", "ten"),), "not one number"),
    ],
)
def test_bad_framing_is_malformed(headers: tuple[tuple[str, str], ...], says: str) -> None:
    with pytest.raises(MalformedRequestError) as e:
        body_length(head(*headers))
    assert says in str(e.value)


def test_a_cut_body_is_malformed() -> None:
    with pytest.raises(MalformedRequestError):
        read_body(io.BytesIO(b"abc"), head(), 5)
    with pytest.raises(MalformedRequestError):
        read_body(io.BytesIO(b"zz\r\n"), head(), None)
    assert wire.MAX_HEAD_BYTES == 10_240
