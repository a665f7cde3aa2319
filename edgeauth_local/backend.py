"""The demo bank backend: answers every request with what it received, authorizer context included.

It stands for the protected backend behind the gateway's HTTP proxy integrations, so it shows what
a real backend would see: method, path, query, headers, body, and the authorizer's context under
``authorizer`` (from the ``X-Edgeauth-*`` headers the integration maps, whatever the template
maps). It keeps no state. A little bank flavour (``accounts``, ``transfer``) makes the demo read well.

Test controls, sent as request headers (the HTTP proxy passes them through):

* ``X-Demo-Delay: <seconds>``: answer after a delay (integration timeout → 504);
* ``X-Demo-Crash: 1``: close the connection without answering (a crashed backend → 502);
* ``X-Demo-Status: <code>``: answer with that status.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edgeauth_local import wire
from edgeauth_local.servers import QuietHandler, ServerThread

CONTEXT_HEADER_PREFIX = "x-edgeauth-"
MAX_DELAY = 60.0
_MAX_HEAD_BYTES = 64 * 1024


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def handle_one_request(self) -> None:
        # Read with the gateway's reader, with room for what the gateway adds to a request at its
        # 10,240-byte limit: http.server's own reader refuses over 100 headers with an HTML page,
        # which a request the gateway accepted must not meet here.
        self.close_connection = True
        try:
            head = wire.read_head(self.rfile, _MAX_HEAD_BYTES)
        except wire.MalformedRequestError as e:
            self.send_json(400, {"message": str(e)})
            return
        except wire.RequestTooLargeError as e:
            self.send_json(431, {"message": str(e)})
            return
        if head is None:
            return
        self.command, self.path, self.request_version = head.method, head.target, head.version
        self.requestline = f"{head.method} {head.target} {head.version}"
        self.headers = http.client.HTTPMessage()
        for name, value in head.headers:
            self.headers[name] = value  # (appends: repeated headers stay repeated)
        self.close_connection = not head.keep_alive
        self._answer()
        self.wfile.flush()

    def _answer(self) -> None:
        try:
            body = self.read_body()
        except ValueError:
            self.send_json(413, {"message": "body too large"})
            return
        if self.headers.get("X-Demo-Crash"):
            self.close_connection = True
            self.connection.close()
            return
        delay = self.headers.get("X-Demo-Delay")
        if delay:
            with contextlib.suppress(ValueError):
                time.sleep(min(max(float(delay), 0.0), MAX_DELAY))
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        authorizer = {
            k[len(CONTEXT_HEADER_PREFIX) :]: v
            for k, v in headers.items()
            if k.startswith(CONTEXT_HEADER_PREFIX)
        }
        parts = [p for p in url.path.split("/") if p]
        data: dict[str, Any] = {}
        if parts[:1] == ["accounts"]:
            if len(parts) == 1:
                data = {"accounts": [{"id": "42", "balance": 1200}, {"id": "43", "balance": 5}]}
            elif len(parts) == 2:
                data = {"account": {"id": parts[1], "balance": 1200}}
            elif len(parts) == 3 and parts[2] == "transfers":
                data = {"transfer": {"from": parts[1], "status": "accepted"}}
        elif parts[:2] == ["admin", "config"]:
            data = {"config": {"maintenance": False}}
        status = 201 if self.command == "POST" and data.get("transfer") else 200
        forced = self.headers.get("X-Demo-Status")
        if forced and forced.isdigit() and 200 <= int(forced) <= 599:
            status = int(forced)
        text = body.decode("utf-8", "replace")
        try:
            parsed_body: Any = json.loads(text) if text else None
        except ValueError:
            parsed_body = text
        self.send_json(
            status,
            {
                "service": "demo-bank",
                "method": self.command,
                "path": url.path,
                "query": {k: v if len(v) > 1 else v[0] for k, v in parse_qs(url.query).items()},
                "headers": headers,
                "authorizer": authorizer,
                "body": parsed_body,
                **data,
            },
        )


def serve(host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> ServerThread:
    """Serve on ``host``:``port``; with ``ssl_context`` over TLS only (see :mod:`edgeauth_local.tls`:
    a context that requires a client certificate refuses every connection without one)."""
    server = ServerThread(
        "demo backend", _Handler, host, port, option="--backend-port", ssl_context=ssl_context
    )
    server.start()
    return server
