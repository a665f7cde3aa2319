"""API key and usage plan changes reach the local gateway (variant: small bursts that barely refill).

A user changes clients with ``edgeauth clients …`` and keys with API Gateway's API (boto3 here, the
AWS CLI alike), against the local stack's moto; the next request is answered on what the change
left, as API Gateway answers once the change has propagated: a disabled key or a key in no plan of
the stage → 403 ``Forbidden``; a moved key is metered on its new plan. The variant's buckets refill
at one token per 1,000 s, so what a request gets depends on the plan alone, not on timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from edgeauth_local.stack import LocalStack, start_stack
from tests.e2e.conftest import call, patched, resources_of

pytestmark = pytest.mark.timeout(120)

RATE = 0.001
BURST = {"standard": 2, "partner": 5}


def _variant(template: dict[str, Any]) -> None:
    for plan in resources_of(template, "AWS::ApiGateway::UsagePlan"):
        props = plan["Properties"]
        tier = next(t for t in BURST if t in json.dumps(props.get("UsagePlanName", "")))
        props["Throttle"] = {"RateLimit": RATE, "BurstLimit": BURST[tier]}
        props["Quota"] = {"Limit": 1000, "Period": "DAY"}


@pytest.fixture(scope="module")
def stack(synthesized: tuple[str, dict[str, Any]]) -> Iterator[LocalStack]:
    name, template = synthesized
    with start_stack(template=patched(template, _variant), stack_name=name) as s:
        yield s


def edgeauth(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """``edgeauth --output json … ARGS`` against the local stack, as a user runs it; its JSON output."""
    from edgeauth_cli.main import main

    assert stack.urls is not None
    capsys.readouterr()
    base = ["--endpoint-url", stack.urls.moto, "--region", "us-east-1", "--stack", stack.spec.stack_name]
    code = main([*base, "--output", "json", *args, "--iss", stack.urls.issuer])
    out = capsys.readouterr().out
    assert code == 0, out
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def statuses(stack: LocalStack, client: str, n: int) -> list[int]:
    token = stack.token("bob", client_id=client)
    return [call(stack, "GET", "/accounts/1", token).status for _ in range(n)]


def plan_id(stack: LocalStack, tier: str) -> str:
    return next(p.id for p in stack.spec.api.usage_plans if p.name.endswith(tier))


def test_set_tier_meters_the_client_on_its_new_plan(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a client of the standard tier that used up its plan's burst
    edgeauth(stack, capsys, "clients", "add", "acme", "--tier", "standard")
    assert statuses(stack, "acme", BURST["standard"] + 1) == [200] * BURST["standard"] + [429]
    # WHEN it moves to the partner tier
    moved = edgeauth(stack, capsys, "clients", "set-tier", "acme", "partner")
    assert moved["usage_plan_id"] == plan_id(stack, "partner")
    # THEN the partner plan's limits apply at once: its whole burst, then 429; nothing of the old bucket
    assert statuses(stack, "acme", BURST["partner"] + 1) == [200] * BURST["partner"] + [429]


def test_a_disabled_key_is_403_forbidden_and_passes_again_once_enabled(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a client whose key has been used
    key_id = edgeauth(stack, capsys, "clients", "add", "beta", "--tier", "partner")["usage_key_id"]
    assert statuses(stack, "beta", 1) == [200]
    apigw = stack.client("apigateway")

    def enabled(value: bool) -> None:
        apigw.update_api_key(
            apiKey=key_id,
            patchOperations=[{"op": "replace", "path": "/enabled", "value": str(value).lower()}],
        )

    # WHEN the key is disabled (aws apigateway update-api-key … /enabled false)
    enabled(False)
    # THEN 403 Forbidden, as API Gateway answers for a disabled key
    answer = call(stack, "GET", "/accounts/1", stack.token("bob", client_id="beta"))
    assert answer.status == 403
    assert answer.json["message"] == "Forbidden"
    assert answer.headers["x-amzn-errortype"] == "ForbiddenException"
    # AND enabled again, the key passes
    enabled(True)
    assert statuses(stack, "beta", 1) == [200]


def test_a_key_removed_from_its_plan_is_403_forbidden(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id = edgeauth(stack, capsys, "clients", "add", "gamma", "--tier", "partner")["usage_key_id"]
    assert statuses(stack, "gamma", 1) == [200]
    # WHEN the key leaves its plan (it still exists, in no plan of the stage)
    stack.client("apigateway").delete_usage_plan_key(usagePlanId=plan_id(stack, "partner"), keyId=key_id)
    # THEN 403 Forbidden
    answer = call(stack, "GET", "/accounts/1", stack.token("bob", client_id="gamma"))
    assert answer.status == 403
    assert answer.json["message"] == "Forbidden"


# Last: it changes the partner plan for the rest of the module.


def test_new_limits_of_a_plan_apply_to_its_keys(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a partner client that took 1 of its burst of 5
    edgeauth(stack, capsys, "clients", "add", "delta", "--tier", "partner")
    assert statuses(stack, "delta", 1) == [200]
    # WHEN the partner plan's burst drops to 2 (aws apigateway update-usage-plan …)
    stack.client("apigateway").update_usage_plan(
        usagePlanId=plan_id(stack, "partner"),
        patchOperations=[{"op": "replace", "path": "/throttle/burstLimit", "value": "2"}],
    )
    # THEN the key holds at most the new burst: 2 more requests, then 429
    assert statuses(stack, "delta", 3) == [200, 200, 429]
