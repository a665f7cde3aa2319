"""The local gateway's HTTP integration against real sockets and a real resolver: what fails how."""

from __future__ import annotations

import json
import socket

from edgeauth_local.gateway import Gateway, Request
from tests.unit.test_local_gateway import ARN, STAGE, api, policy


def _get(gw: Gateway) -> tuple[int, dict[str, object]]:
    response = gw.handle(Request("GET", f"/{STAGE}/accounts/42", [("Authorization", "Bearer t")]))
    return response.status, json.loads(response.body)


def test_a_port_nothing_listens_on_is_504_network_error() -> None:
    # GIVEN a loopback port that was free a moment ago (nothing listens on it now)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = Gateway(api(f"http://127.0.0.1:{port}/accounts/{{id}}"), lambda _e: policy("Allow", f"{ARN}/*"))
    # THEN connection refused: 504, API Gateway's wording
    assert _get(gw) == (504, {"message": "Network error communicating with endpoint"})


def test_a_host_that_does_not_resolve_is_500() -> None:
    # GIVEN an integration host in .invalid (RFC 2606: never resolves)
    gw = Gateway(api("http://backend.invalid/accounts/{id}"), lambda _e: policy("Allow", f"{ARN}/*"))
    # THEN 500 Internal server error (an invalid endpoint address is a configuration error)
    assert _get(gw) == (500, {"message": "Internal server error"})
