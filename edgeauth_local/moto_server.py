"""The moto server on 127.0.0.1, started in-process, with two calls answered locally.

Differences from moto's own ``ThreadedMotoServer``: the socket is bound in the calling thread, so
a port in use raises :class:`PortInUseError` at once (``ThreadedMotoServer`` would wait forever for
a thread that died), request logging is off, and ``DELETE /restapis/{id}/stages/{stage}/cache/
authorizers`` (``FlushStageAuthorizersCache``, which moto does not implement) is answered here by
flushing the local gateway's authorizer cache. The role-events handler's ``apigateway`` client
points at this server like every other client of the local stack, so its flush really empties the
gateway's cache. ``DescribeStacks`` of the local stack's name is answered with its outputs (what
``edgeauth --stack`` reads), and ``GetTemplate`` with its template (where ``edgeauth
--issuer-name`` and ``explain`` read the configured issuers), without deploying the template to
moto's CloudFormation. A write to
API keys or usage plans (``/apikeys…``, ``/usageplans…``: create, update, delete, a key added to or
removed from a plan) calls :attr:`MotoServer.on_usage_change` once moto has applied it and before
the caller has its answer, so the local gateway meters the next request on what the write left.
"""

from __future__ import annotations

import errno
import io
import re
import socket
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from edgeauth_local.errors import MotoServerError, PortInUseError

_FLUSH = re.compile(r"^/restapis/([^/]+)/stages/([^/]+)/cache/authorizers/?$")
_USAGE_WRITE = re.compile(r"^/(?:apikeys|usageplans)(?:/|$)")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

FlushCallback = Callable[[str, str], bool]
"""``(rest api id, stage) -> handled``."""
UsageChangeCallback = Callable[[], object]
"""Called after moto applied a write to API keys or usage plans (its result is ignored)."""


class _FlushInterceptor:
    def __init__(self, app: Any, server: MotoServer) -> None:
        self._app = app
        self._server = server

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        m = _FLUSH.match(environ.get("PATH_INFO", ""))
        if m and environ.get("REQUEST_METHOD") == "DELETE":
            callback = self._server.on_flush
            if callback is not None and callback(m.group(1), m.group(2)):
                self._server.flushes += 1
                start_response(
                    "202 Accepted", [("Content-Type", "application/json"), ("Content-Length", "0")]
                )
                return [b""]
            body = b'{"message": "Invalid stage identifier specified"}'
            start_response(
                "404 Not Found",
                [("Content-Type", "application/json"), ("x-amzn-ErrorType", "NotFoundException")],
            )
            return [body]
        if environ.get("REQUEST_METHOD") == "POST" and str(environ.get("CONTENT_TYPE", "")).startswith(
            "application/x-www-form-urlencoded"
        ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            form = parse_qs(body.decode("utf-8", "replace"))
            if form.get("Action") == ["DescribeStacks"]:
                name = (form.get("StackName") or [""])[0]
                outputs = self._server.stack_outputs.get(name)
                if outputs is not None:
                    data = _describe_stacks_xml(name, outputs)
                    start_response(
                        "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))]
                    )
                    return [data]
            if form.get("Action") == ["GetTemplate"]:
                name = (form.get("StackName") or [""])[0]
                template = self._server.stack_templates.get(name)
                if template is not None:
                    data = _get_template_xml(template)
                    start_response(
                        "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))]
                    )
                    return [data]
        result: Iterable[bytes] = self._app(environ, start_response)
        if environ.get("REQUEST_METHOD") in _WRITES and _USAGE_WRITE.match(environ.get("PATH_INFO", "")):
            on_change = self._server.on_usage_change
            if on_change is not None:
                try:
                    on_change()
                except Exception as e:  # the write itself succeeded: its caller gets moto's answer
                    print(f"edgeauth-local: usage plans not re-read after a write: {e}", file=sys.__stderr__)
        return result


def _describe_stacks_xml(name: str, outputs: dict[str, str]) -> bytes:
    members = "".join(
        f"<member><OutputKey>{escape(k)}</OutputKey><OutputValue>{escape(v)}</OutputValue></member>"
        for k, v in outputs.items()
    )
    return (
        '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        "<DescribeStacksResult><Stacks><member>"
        f"<StackName>{escape(name)}</StackName>"
        f"<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/{escape(name)}/local</StackId>"
        "<CreationTime>2024-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>"
        f"<Outputs>{members}</Outputs>"
        "</member></Stacks></DescribeStacksResult>"
        "<ResponseMetadata><RequestId>edgeauth-local</RequestId></ResponseMetadata>"
        "</DescribeStacksResponse>"
    ).encode()


def _get_template_xml(template: str) -> bytes:
    return (
        '<GetTemplateResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        f"<GetTemplateResult><TemplateBody>{escape(template)}</TemplateBody>"
        "<StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>"
        "</GetTemplateResult>"
        "<ResponseMetadata><RequestId>edgeauth-local</RequestId></ResponseMetadata>"
        "</GetTemplateResponse>"
    ).encode()


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.on_flush: FlushCallback | None = None
        self.on_usage_change: UsageChangeCallback | None = None
        self.flushes = 0
        self.stack_outputs: dict[str, dict[str, str]] = {}
        """Answered to ``DescribeStacks`` here (moto's CloudFormation costs seconds to import)."""
        self.stack_templates: dict[str, str] = {}
        """Answered to ``GetTemplate`` here: the template (JSON text) the local stack runs."""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        try:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server
        except ImportError as e:
            raise MotoServerError(f"moto server cannot start: {e} (install moto[server])") from e

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        app = _FlushInterceptor(DomainDispatcherApplication(create_backend_app), self)
        self._check_port()
        try:
            self._server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler)
        except SystemExit as e:  # werkzeug exits on a bind failure instead of raising
            raise MotoServerError(f"moto server cannot bind {self.host}:{self.port}") from e
        except Exception as e:
            raise MotoServerError(f"moto server failed to start: {e}") from e
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        self.wait_ready()

    def _check_port(self) -> None:
        if self.port == 0:
            return
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise PortInUseError(
                        f"moto server: port {self.port} on {self.host} is already in use "
                        "(stop what holds it, or choose another with --moto-port)"
                    ) from e
                raise MotoServerError(f"moto server cannot bind {self.host}:{self.port}: {e}") from e

    def wait_ready(self, timeout: float = 10.0) -> None:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=timeout) as resp:  # noqa: S310
                if resp.status != 200:
                    raise MotoServerError(f"moto server answered HTTP {resp.status} to its health check")
        except OSError as e:
            self.stop()
            raise MotoServerError(f"moto server does not answer on {self.url}: {e}") from e

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(req, timeout=10):  # noqa: S310
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
