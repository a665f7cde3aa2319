"""Fault-injection helpers: an authorizer wired exactly as in production (the DynamoDB client from
the product's factory, the real JWKS fetcher), servers that misbehave on 127.0.0.1, and a timer."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edgeauth import constants as C
from edgeauth.authorizer import Authorizer, Unauthorized
from edgeauth.bootstrap import build_authorizer
from edgeauth.core.jwks import Fetch
from tests.conftest import issuer_env
from tests.support.events import authorizer_event

HandlerFn = Callable[[BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def elapsed() -> Iterator[list[float]]:
    """``with elapsed() as t: ...`` then ``t[0]`` is the wall time of the block, in seconds."""
    out: list[float] = [0.0]
    started = time.monotonic()
    try:
        yield out
    finally:
        out[0] = time.monotonic() - started


def answer_of(authorizer: Authorizer, token: str, **event: Any) -> tuple[str, BaseException | None]:
    """What API Gateway makes of one call: ``allow``/``deny`` (a policy), ``unauthorized`` (401) or
    ``error`` (any other exception: a 500, never cached)."""
    try:
        answer = authorizer.authorize(authorizer_event(authorization=f"Bearer {token}", **event))
    except Unauthorized as e:
        return "unauthorized", e
    except Exception as e:
        return "error", e
    return answer["policyDocument"]["Statement"][0]["Effect"].lower(), None


def production_authorizer(lines: list[str], fetch: Fetch, *, endpoint_url: str, **issuer: Any) -> Authorizer:
    """``build_authorizer`` as the Lambda handler calls it: the DynamoDB client from the product's
    factory, reaching the role table at ``endpoint_url`` (``EDGEAUTH_ENDPOINT_URL``)."""
    return build_authorizer(
        {**issuer_env(**issuer), C.ENV_ENDPOINT_URL: endpoint_url},
        emit=lines.append,
        fetch=fetch,
        on_jwks_fetch=None,
    )


def last_line(lines: list[str]) -> dict[str, Any]:
    assert lines, "no audit line"
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


@dataclass
class MisbehavingServer:
    """HTTP on 127.0.0.1:<free port>; ``routes[path]`` writes the answer (or misbehaves)."""

    routes: dict[str, HandlerFn] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        outer = self

        class _H(BaseHTTPRequestHandler):
            def _any(self) -> None:
                outer.hits.append(self.path)
                route = outer.routes.get(self.path) or outer.routes.get("*")
                with contextlib.suppress(OSError):
                    if route is None:
                        self.send_error(404)
                    else:
                        route(self)

            do_GET = _any
            do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def send(status: int, body: bytes, headers: dict[str, str] | None = None) -> HandlerFn:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {"Content-Type": "application/json"}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def hang(stop: threading.Event, seconds: float = 30.0) -> HandlerFn:
    """Accept the request, then say nothing (until the test ends)."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        stop.wait(seconds)

    return handle
