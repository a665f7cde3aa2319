"""UsagePlans: one plan per tier on the stage; the default tier holds the shared key."""

from __future__ import annotations

from aws_cdk.assertions import Match

from infra.constructs.usage_plans import default_usage_key_value
from tests.infra.conftest import Synth


def test_one_plan_per_tier_with_its_throttle_and_quota(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::ApiGateway::UsagePlan", len(synth.config.usage_tiers))
    stage_id = synth.logical_id(synth.stack.api.stage)
    for tier in synth.config.usage_tiers:
        expected = {
            "UsagePlanName": f"{synth.config.stack_name}-{tier.name}",
            "Throttle": {"RateLimit": tier.throttle.rate, "BurstLimit": tier.throttle.burst},
            "ApiStages": [Match.object_like({"Stage": {"Ref": stage_id}})],
            "Quota": (
                {"Limit": tier.quota.limit, "Period": tier.quota.period} if tier.quota else Match.absent()
            ),
        }
        synth.template.has_resource_properties("AWS::ApiGateway::UsagePlan", expected)


def test_default_tier_has_a_deterministic_shared_key(synth: Synth) -> None:
    config = synth.config
    value = default_usage_key_value(config.stack_name, config.stage)
    assert value == default_usage_key_value(config.stack_name, config.stage)
    assert value != default_usage_key_value("EdgeAuth-prod", "prod")
    assert len(value) >= 20  # API Gateway's minimum key length
    synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    synth.template.has_resource_properties("AWS::ApiGateway::ApiKey", {"Value": value, "Enabled": True})
    plans = synth.stack.usage_plans.plans
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlanKey",
        {
            "KeyType": "API_KEY",
            "KeyId": {"Ref": synth.logical_id(synth.stack.usage_plans.default_key)},
            "UsagePlanId": {"Ref": synth.logical_id(plans[config.default_tier])},
        },
    )
