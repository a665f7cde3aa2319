"""The JWKS fetcher against a real HTTP server on 127.0.0.1 (started and stopped by each test).

GIVEN a key endpoint that redirects, fails, stalls, trickles, lies about its size or serves garbage,
WHEN :func:`edgeauth.adapters.jwks_fetcher.fetch` asks it for keys,
THEN it raises :class:`JwksUnavailableError` within the timeout, never follows a redirect, never reads
more than the size cap, and never connects anywhere over plain http except a loopback address.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edgeauth.adapters import crt_http
from edgeauth.adapters.jwks_fetcher import fetch
from edgeauth.core.errors import JwksUnavailableError
from edgeauth.core.jwks import JwksCache
from edgeauth.core.settings import parse_issuer
from edgeauth.core.tokens import TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, claims, jwks, make_key, sign

Handler = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class LocalServer:
    """An HTTP server on 127.0.0.1:<free port>; ``routes`` maps a path (with query) to a handler."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, dict(self.headers.items())))
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                # OSError: the client went away (it gave up or was cut off), which is the point
                with contextlib.suppress(OSError):
                    route(self, outer.stop)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    s = LocalServer()
    try:
        yield s
    finally:
        s.close()


def body(data: bytes, status: int = 200, content_type: str = "application/json") -> Handler:
    def handle(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return handle


def timed_failure(url: str, timeout: float = 2.0, max_bytes: int = 65536) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(JwksUnavailableError) as info:
        fetch(url, timeout, max_bytes)
    return str(info.value), time.monotonic() - started


JWKS = jwks(make_key("RS256", "k1"))


# -- the happy path ----------------------------------------------------------------------------------


def test_a_200_answer_is_returned_byte_for_byte_with_json_accept_header(server: LocalServer) -> None:
    server.routes["/jwks.json?v=2"] = body(JWKS)
    assert fetch(server.url("/jwks.json?v=2"), 2.0, 65536) == JWKS
    path, headers = server.requests[0]
    assert path == "/jwks.json?v=2"
    assert headers["Accept"] == "application/json" and headers["User-Agent"] == "edgeauth"


def test_a_body_of_exactly_the_cap_is_accepted_and_one_byte_more_is_not(server: LocalServer) -> None:
    server.routes["/exact"] = body(b"x" * 2048)
    server.routes["/over"] = body(b"x" * 2049)
    assert len(fetch(server.url("/exact"), 2.0, 2048)) == 2048
    message, _ = timed_failure(server.url("/over"), max_bytes=2048)
    assert "size cap" in message


# -- redirects and status codes ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(server: LocalServer, status: int) -> None:
    def redirect(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(status)
        h.send_header("Location", server.url("/jwks.json"))
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/old"] = redirect
    server.routes["/jwks.json"] = body(JWKS)
    message, _ = timed_failure(server.url("/old"))
    assert str(status) in message
    assert [p for p, _ in server.requests] == ["/old"]


@pytest.mark.parametrize("status", [500, 502, 503, 404, 403, 204, 201])
def test_any_status_but_200_is_a_failure(server: LocalServer, status: int) -> None:
    server.routes["/jwks.json"] = body(JWKS, status=status)
    message, _ = timed_failure(server.url("/jwks.json"))
    assert f"HTTP {status}" in message


# -- time bounds ---------------------------------------------------------------------------------------


def test_an_endpoint_that_never_answers_fails_within_the_timeout(server: LocalServer) -> None:
    def silent(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        stop.wait(10)

    server.routes["/jwks.json"] = silent
    _, elapsed = timed_failure(server.url("/jwks.json"), timeout=0.4)
    assert elapsed < 1.2


def test_a_body_trickled_slower_than_the_timeout_fails_within_the_timeout(server: LocalServer) -> None:
    # GIVEN headers promptly, then one byte every 100 ms (each recv well within the socket timeout)
    def trickle(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.flush()
        for _ in range(40):  # bounded: 4 s at most even if the client never gives up
            if stop.wait(0.1):
                return
            h.wfile.write(b" ")
            h.wfile.flush()

    server.routes["/jwks.json"] = trickle
    # WHEN fetched with a 0.5 s timeout THEN it fails in about 0.5 s, not after the whole trickle
    message, elapsed = timed_failure(server.url("/jwks.json"), timeout=0.5)
    assert "too slow" in message
    assert elapsed < 1.5


def test_a_body_without_length_trickled_slowly_fails_within_the_timeout(server: LocalServer) -> None:
    def trickle(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(200)
        h.end_headers()  # HTTP/1.0, no Content-Length: the body ends when the connection closes
        h.wfile.flush()
        for _ in range(40):
            if stop.wait(0.1):
                return
            h.wfile.write(b"{")
            h.wfile.flush()

    server.routes["/jwks.json"] = trickle
    _, elapsed = timed_failure(server.url("/jwks.json"), timeout=0.5)
    assert elapsed < 1.5


def test_headers_delayed_past_the_timeout_fail_within_the_timeout(server: LocalServer) -> None:
    def late(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if not stop.wait(3):
            body(JWKS)(h, stop)

    server.routes["/jwks.json"] = late
    _, elapsed = timed_failure(server.url("/jwks.json"), timeout=0.4)
    assert elapsed < 1.2


def test_no_watchdog_thread_outlives_a_fetch(server: LocalServer) -> None:
    server.routes["/jwks.json"] = body(JWKS)
    for _ in range(5):
        fetch(server.url("/jwks.json"), 2.0, 65536)
    deadline = time.monotonic() + 2
    while any(isinstance(t, threading.Timer) for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(isinstance(t, threading.Timer) for t in threading.enumerate())


# -- size cap ------------------------------------------------------------------------------------------


def test_a_content_length_over_the_cap_is_refused_without_reading_the_body(server: LocalServer) -> None:
    def liar(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10 * 1024 * 1024))
        h.end_headers()
        h.wfile.write(b"{")
        h.wfile.flush()
        stop.wait(5)  # never sends the rest: reading it would hit the timeout

    server.routes["/jwks.json"] = liar
    message, elapsed = timed_failure(server.url("/jwks.json"), timeout=2.0, max_bytes=65536)
    assert "size cap" in message
    assert elapsed < 1.0


def test_a_huge_body_without_content_length_is_cut_at_the_cap(server: LocalServer) -> None:
    sent = []

    def flood(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(200)
        h.end_headers()
        for _ in range(2048):  # up to 128 MB
            if stop.is_set():
                return
            h.wfile.write(b"A" * 65536)
            sent.append(1)

    server.routes["/jwks.json"] = flood
    message, elapsed = timed_failure(server.url("/jwks.json"), timeout=2.0, max_bytes=65536)
    assert "size cap" in message
    assert elapsed < 1.5


def test_a_huge_chunked_body_is_cut_at_the_cap(server: LocalServer) -> None:
    def chunked(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.protocol_version = "HTTP/1.1"
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"B" * 8192
        for _ in range(1000):
            if stop.is_set():
                return
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")

    server.routes["/jwks.json"] = chunked
    message, _ = timed_failure(server.url("/jwks.json"), timeout=2.0, max_bytes=65536)
    assert "size cap" in message


# -- bad content through the key cache ------------------------------------------------------------------


def issuer_for(url: str, **extra: Any) -> Any:
    return parse_issuer({"issuer": ISSUER, "audiences": [AUDIENCE], "jwks_uri": url, **extra})


@pytest.mark.parametrize(
    "payload",
    [b"<html>502 Bad Gateway</html>", b"", b'{"keys": "none"}', b"[" * 60_000],
    ids=["html", "empty", "keys-not-a-list", "deeply-nested"],
)
def test_invalid_json_from_the_endpoint_is_a_failed_fetch(server: LocalServer, payload: bytes) -> None:
    server.routes["/jwks.json"] = body(payload, content_type="text/html")
    outcomes: list[bool] = []
    cache = JwksCache(
        issuer_for(server.url("/jwks.json"), jwks_max_bytes=65536 * 2),
        fetch,
        on_fetch=lambda _, ok: outcomes.append(ok),
    )
    with pytest.raises(JwksUnavailableError):
        cache.candidates("k1", "RS256")
    assert outcomes == [False]


def test_a_token_verifies_end_to_end_with_keys_from_the_local_endpoint(server: LocalServer) -> None:
    key = make_key("RS256", "k1")
    server.routes["/jwks.json"] = body(jwks(key))
    issuer = issuer_for(server.url("/jwks.json"))
    verifier = TokenVerifier({ISSUER: issuer}, {ISSUER: JwksCache(issuer, fetch)})
    verified, cached = verifier.verify(sign(key, claims()))
    assert (verified.sub, cached) == ("alice", False)
    assert [p for p, _ in server.requests] == ["/jwks.json"]


def test_discovery_through_the_real_fetcher(server: LocalServer) -> None:
    key = make_key("RS256", "k1")
    iss = server.url("/tenant")
    server.routes["/tenant/.well-known/openid-configuration"] = body(
        json.dumps({"issuer": iss, "jwks_uri": server.url("/keys")}).encode()
    )
    server.routes["/keys"] = body(jwks(key))
    issuer = parse_issuer({"issuer": iss, "audiences": [AUDIENCE], "discovery": True})
    cache = JwksCache(issuer, fetch)
    assert [e.kid for e in cache.candidates("k1", "RS256")] == ["k1"]
    assert [p for p, _ in server.requests] == ["/tenant/.well-known/openid-configuration", "/keys"]


# -- https rule and unreachable endpoints ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/jwks.json",
        "http://10.0.0.1/jwks.json",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost.evil.example/jwks.json",
        "http://127.0.0.1@evil.example/jwks.json",
        "ftp://idp.example.com/jwks.json",
        "file:///etc/passwd",
        "https:///jwks.json",
        "/jwks.json",
        "https://idp.example.com:99999/jwks.json",
        "http://127.0.0.1:notaport/jwks.json",
    ],
)
def test_refused_urls_fail_without_any_connection_or_name_lookup(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    attempts: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError("no connection may be attempted")

    monkeypatch.setattr(socket, "create_connection", record)
    monkeypatch.setattr(socket, "getaddrinfo", record)
    monkeypatch.setattr(socket.socket, "connect", record)
    # The fetch connects through awscrt (its own sockets and resolver), so that too:
    monkeypatch.setattr(crt_http.Connection, "open", record)
    with pytest.raises(JwksUnavailableError):
        fetch(url, 2.0, 65536)
    assert attempts == []


def test_a_closed_port_is_a_failed_fetch() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message, elapsed = timed_failure(f"http://127.0.0.1:{port}/jwks.json", timeout=1.0)
    assert "unreachable" in message and elapsed < 1.5


def test_https_to_a_plain_http_server_is_a_failed_fetch(server: LocalServer) -> None:
    server.routes["/jwks.json"] = body(JWKS)
    _, elapsed = timed_failure(server.url("/jwks.json", scheme="https"), timeout=1.0)
    assert elapsed < 2.0


def _self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


def test_an_untrusted_certificate_is_a_failed_fetch_and_no_request_is_sent(tmp_path: Path) -> None:
    tls_server = LocalServer(tls=_self_signed(tmp_path))
    try:
        tls_server.routes["/jwks.json"] = body(JWKS)
        message, _ = timed_failure(tls_server.url("/jwks.json", scheme="https"), timeout=1.0)
        assert "unreachable" in message
        assert tls_server.requests == []
    finally:
        tls_server.close()
