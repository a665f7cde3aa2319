"""REST API REQUEST-authorizer events as API Gateway sends them."""

from __future__ import annotations

from typing import Any

API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123"


def authorizer_event(
    method: str = "GET",
    resource: str = "/accounts/{id}",
    path: str = "/accounts/42",
    authorization: str | list[str] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    hdrs: dict[str, str] = dict(headers or {})
    multi: dict[str, list[str]] = {k: [v] for k, v in hdrs.items()}
    if isinstance(authorization, list):
        multi["Authorization"] = authorization
        hdrs["Authorization"] = authorization[-1]
    elif authorization is not None:
        hdrs["Authorization"] = authorization
        multi["Authorization"] = [authorization]
    return {
        "type": "REQUEST",
        "methodArn": f"{API_ARN}/prod/{method}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": multi,
        "queryStringParameters": query or {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "req-1",
            "apiId": "abc123",
            "accountId": "123456789012",
            "identity": {"sourceIp": "203.0.113.7"},
        },
    }
