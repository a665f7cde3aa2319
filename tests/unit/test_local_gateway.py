"""The local gateway's answers (``edgeauth_local.gateway.Gateway.handle``), in-process: no socket.

A one-route API (``GET /accounts/{id}``, REQUEST authorizer on ``Authorization``, TTL 0, HTTP proxy)
with no gateway responses of its own, so API Gateway's default bodies show; the authorizer and the
integration's transport are fakes.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from edgeauth_local.gateway import Gateway, Request, Response
from edgeauth_local.template import (
    ApiSpec,
    AuthorizerSpec,
    IntegrationSpec,
    MethodSpec,
    StageSpec,
)

API_ID, STAGE = "abc123", "dev"
ARN = f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/{STAGE}"
EXPLICIT_DENY = (
    "User is not authorized to access this resource with an explicit deny in an identity-based policy"
)
NO_ALLOW = (
    "User is not authorized to access this resource because no identity-based policy allows the "
    "execute-api:Invoke action"
)


def api(uri: str = "http://backend.example/accounts/{id}") -> ApiSpec:
    method = MethodSpec(
        logical_id="GetAccount",
        http_method="GET",
        resource_path="/accounts/{id}",
        resource_id="r1",
        authorization_type="CUSTOM",
        authorizer="Auth",
        api_key_required=False,
        integration=IntegrationSpec(
            type="HTTP_PROXY",
            http_method="GET",
            uri=uri,
            request_parameters={"integration.request.path.id": "method.request.path.id"},
            timeout_ms=1000,
        ),
        request_parameters={},
    )
    return ApiSpec(
        logical_id="Api",
        id=API_ID,
        name="edgeauth",
        key_source="HEADER",
        methods=(method,),
        authorizers={
            "Auth": AuthorizerSpec(
                logical_id="Auth",
                id="auth1",
                name="edgeauth",
                type="REQUEST",
                identity_sources=("method.request.header.Authorization",),
                ttl=0,
                validation_expression=None,
                function="Fn",
            )
        },
        stage=StageSpec(STAGE, {}, None, None, {}),
        usage_plans=(),
        api_keys={},
        gateway_responses={},
    )


def policy(effect: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": "carol",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}],
        },
    }


def gateway(answer: Mapping[str, Any], send: Callable[..., Any] | None = None) -> Gateway:
    gw = Gateway(api(), lambda _event: answer)

    def ok(*_args: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [("Content-Type", "application/json")], b"{}"

    gw._send = send or ok  # type: ignore[method-assign,assignment]
    return gw


def get(gw: Gateway, path: str = "/accounts/42") -> Response:
    return gw.handle(Request("GET", f"/{STAGE}{path}", [("Authorization", "Bearer t")]))


def body(response: Response) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response.body)
    return parsed


def error_type(response: Response) -> str | None:
    return next((v for k, v in response.headers if k.lower() == "x-amzn-errortype"), None)


def test_an_explicit_deny_is_403_with_api_gateways_wording() -> None:
    response = get(gateway(policy("Deny", f"{ARN}/GET/accounts/*")))
    assert response.status == 403
    assert body(response) == {"Message": EXPLICIT_DENY}
    assert error_type(response) == "AccessDeniedException"


def test_an_allow_that_does_not_cover_the_method_arn_is_403_with_api_gateways_wording() -> None:
    response = get(gateway(policy("Allow", f"{ARN}/GET/accounts/7")))
    assert response.status == 403
    assert body(response) == {"Message": NO_ALLOW}
    assert error_type(response) == "AccessDeniedException"


def test_an_allow_that_covers_the_method_arn_reaches_the_integration() -> None:
    assert get(gateway(policy("Allow", f"{ARN}/GET/accounts/*"))).status == 200


def refusing(error: BaseException) -> Callable[..., Any]:
    def send(*_args: Any) -> Any:
        raise error

    return send


def test_an_integration_that_refuses_the_connection_is_504_network_error() -> None:
    gw = gateway(policy("Allow", f"{ARN}/*"), refusing(ConnectionRefusedError(111, "Connection refused")))
    response = get(gw)
    assert response.status == 504
    assert body(response) == {"message": "Network error communicating with endpoint"}


@pytest.mark.parametrize(
    "error",
    [
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    ],
)
def test_a_backend_host_that_does_not_resolve_is_500(error: socket.gaierror) -> None:
    response = get(gateway(policy("Allow", f"{ARN}/*"), refusing(error)))
    assert response.status == 500
    assert body(response) == {"message": "Internal server error"}
    assert error_type(response) == "InternalServerErrorException"


def test_a_backend_that_drops_the_connection_is_502_and_a_slow_one_504() -> None:
    dropped = get(gateway(policy("Allow", f"{ARN}/*"), refusing(ConnectionResetError(104, "reset"))))
    assert dropped.status == 502
    slow = get(gateway(policy("Allow", f"{ARN}/*"), refusing(TimeoutError("timed out"))))
    assert (slow.status, body(slow)) == (504, {"message": "Endpoint request timed out"})


def test_a_fault_of_the_gateway_itself_is_500_without_its_text(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a gateway whose own code fails while handling a request
    gw = gateway(policy("Allow", f"{ARN}/GET/accounts/*"))

    def broken(_ex: Any) -> Response:
        raise RuntimeError("secret detail of the failure")

    gw._handle = broken  # type: ignore[method-assign]
    # WHEN a request arrives
    response = get(gw)
    # THEN the caller gets API Gateway's own 500, not the exception's text
    assert response.status == 500
    assert body(response) == {"message": "Internal server error"}
    assert b"secret detail" not in response.body
    # AND the developer sees it on stderr
    assert "secret detail of the failure" in capsys.readouterr().err
