"""Behaviours that need a variant of the template: small usage limits, a short integration timeout,
authorizer context mapped to integration headers, a short role cache. The variant is the synthesized
template with a few properties changed, read by the same code as the real one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth_local.demo import role_item
from edgeauth_local.stack import LocalStack, start_stack
from tests.e2e.conftest import call, patched, resources_of, wait_until

pytestmark = pytest.mark.timeout(120)

RATE, BURST, QUOTA = 1, 3, 5
ROLE_CACHE_TTL = 1


def _variant(template: dict[str, Any]) -> None:
    for plan in resources_of(template, "AWS::ApiGateway::UsagePlan"):
        props = plan["Properties"]
        props["Throttle"] = {"RateLimit": RATE, "BurstLimit": BURST}
        props["Quota"] = {"Limit": QUOTA, "Period": "DAY"}
    for method in resources_of(template, "AWS::ApiGateway::Method"):
        integ = method["Properties"].get("Integration") or {}
        integ["TimeoutInMillis"] = 500
        integ.setdefault("RequestParameters", {}).update(
            {
                "integration.request.header.X-Edgeauth-Sub": "context.authorizer.sub",
                "integration.request.header.X-Edgeauth-Roles": "context.authorizer.roles",
                "integration.request.header.X-Edgeauth-Principal": "context.authorizer.principalId",
            }
        )
    for fn in resources_of(template, "AWS::Lambda::Function"):
        env = (fn["Properties"].get("Environment") or {}).get("Variables") or {}
        if C.ENV_ROLE_CACHE_TTL in env:
            env[C.ENV_ROLE_CACHE_TTL] = str(ROLE_CACHE_TTL)


@pytest.fixture(scope="module")
def stack(synthesized: tuple[str, dict[str, Any]]) -> Iterator[LocalStack]:
    name, template = synthesized
    with start_stack(template=patched(template, _variant), stack_name=name) as s:
        yield s


def test_context_mapped_by_the_template_reaches_the_backend(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/3", stack.token("bob"))
    assert answer.status == 200
    seen = answer.json["authorizer"]
    assert seen["sub"] == "bob"
    assert seen["principal"] == "bob"
    assert "teller" in seen["roles"].split(",")


def test_client_cannot_forge_a_mapped_context_header(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/3", stack.token("carol"), headers={"X-Edgeauth-Sub": "alice"})
    assert answer.status == 200
    assert answer.json["authorizer"]["sub"] == "carol"


def test_integration_timeout_is_504(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/3", stack.token("alice"), headers={"X-Demo-Delay": "2"})
    assert answer.status == 504
    assert answer.headers["x-amzn-errortype"] == "InternalServerErrorException"


def test_api_key_required_but_none_is_403_forbidden(stack: LocalStack) -> None:
    assert stack.authorizer is not None

    def without_key(authorize: Callable[..., Any], event: Mapping[str, Any]) -> Any:
        answer = dict(authorize(event))  # the authorizer's answers are read-only
        answer.pop("usageIdentifierKey", None)
        return answer

    stack.authorizer.hook = without_key
    try:
        answer = call(stack, "GET", "/accounts/3", stack.token("alice"))
    finally:
        stack.authorizer.hook = None
    assert answer.status == 403
    assert answer.json["message"] == "Forbidden"
    assert answer.headers["x-amzn-errortype"] == "ForbiddenException"


def test_unknown_usage_key_is_403_forbidden(stack: LocalStack) -> None:
    assert stack.authorizer is not None

    def other_key(authorize: Callable[..., Any], event: Mapping[str, Any]) -> Any:
        answer = dict(authorize(event))  # the authorizer's answers are read-only
        answer["usageIdentifierKey"] = "not-a-key-of-any-usage-plan-0000"
        return answer

    stack.authorizer.hook = other_key
    try:
        assert call(stack, "GET", "/accounts/4", stack.token("alice")).status == 403
    finally:
        stack.authorizer.hook = None


def test_role_edit_changes_the_answer_within_the_bound(stack: LocalStack) -> None:
    # (A full usage-plan bucket first: earlier tests took its tokens, and an allowed request below
    # must not meet the variant's 1 request/s throttle, a 429 that says nothing about roles.)
    time.sleep(BURST / RATE)
    # GIVEN carol (reader) refused on GET /admin/config, that answer cached by the gateway
    token = stack.token("carol")
    assert call(stack, "GET", "/admin/config", token).status == 403
    flushes = stack.gateway.cache.flushes if stack.gateway else 0
    # WHEN the reader role is edited in the table (as any writer would, here boto3)
    table = stack.spec.outputs[C.OUTPUT_ROLE_TABLE]
    item = role_item(
        "reader",
        {C.ATTR_ALLOW: ["GET /accounts", "GET /accounts/{id}", "GET /admin/config"], C.ATTR_VERSION: 2},
    )
    stack.client("dynamodb").put_item(TableName=table, Item=item)
    # THEN the role-events handler flushes the gateway's cache at once (through the apigateway API)
    assert wait_until(lambda: stack.gateway is not None and stack.gateway.cache.flushes > flushes, timeout=15)
    # AND a request right then, while the authorizer may still hold the old roles, may re-cache the old
    # Deny at the gateway...
    assert call(stack, "GET", "/admin/config", token).status in (200, 403)
    # ...which the handler's second flush, once no container can hold the old roles (here its 1 s role
    # cache, shorter than the look at the change log), clears: after it the same token is allowed, well
    # before the gateway's cache TTL (docs/roles.md).
    assert wait_until(
        lambda: stack.gateway is not None and stack.gateway.cache.flushes > flushes + 1, timeout=15
    )
    assert call(stack, "GET", "/admin/config", token).status == 200


def test_backend_down_is_504_integration_failure(stack: LocalStack) -> None:
    # GIVEN the demo backend stopped (the rest of this module runs without it)
    assert stack._backend_server is not None
    stack._backend_server.stop()
    answer = call(stack, "GET", "/accounts", stack.token("alice"))
    # THEN connection refused at the integration: 504, as API Gateway answers it
    assert answer.status == 504
    assert answer.json["message"] == "Network error communicating with endpoint"
    assert answer.headers["x-amzn-errortype"] == "InternalServerErrorException"


# Usage limits last: they exhaust the default key's quota for the rest of the module.


def test_usage_plan_token_bucket_then_quota(stack: LocalStack) -> None:
    token = stack.token("carol")
    time.sleep(BURST / RATE)  # a full bucket (earlier tests took tokens)
    # GIVEN the default key's plan: burst 3, 1 request/s, 5 requests a day (some already used)
    statuses = [call(stack, "GET", "/accounts", token).status for _ in range(BURST + 1)]
    # THEN the burst passes (to the stopped backend: 504) and the next request is throttled
    assert statuses[-1] == 429
    assert len([s for s in statuses if s != 429]) <= BURST
    throttled = call(stack, "GET", "/accounts", token)
    assert throttled.status == 429
    assert throttled.json["message"] in ("Too Many Requests", "Limit Exceeded")
    # WHEN requests keep coming at the plan's rate
    messages: list[str] = []
    for _ in range(QUOTA + 1):
        time.sleep(1.0 / RATE + 0.05)
        answer = call(stack, "GET", "/accounts", token)
        if answer.status == 429:
            messages.append(answer.json["message"])
    # THEN the quota runs out: 429 Limit Exceeded
    assert "Limit Exceeded" in messages
    assert call(stack, "GET", "/accounts", token).json["message"] in ("Limit Exceeded", "Too Many Requests")
