"""Usage plans: one per tier, and the default tier's shared key."""

from __future__ import annotations

import hashlib

from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from infra import constants as ids
from infra.config import StageConfig

DEFAULT_KEY_PREFIX = "edgeauth-default-"


def default_usage_key_value(stack_name: str, stage: str) -> str:
    """The API key value of the default tier: deterministic and not a secret.

    With key source ``AUTHORIZER`` a client never sends an API key: the authorizer returns this value
    for clients without a key of their own, and API Gateway uses it only to find the usage plan that
    throttles them. So it needs to be unique per stack (API key values are unique per region), stable
    across deployments (the authorizer's environment holds it), and nothing more.
    """
    digest = hashlib.sha256(f"{stack_name}\0{stage}".encode()).hexdigest()
    return DEFAULT_KEY_PREFIX + digest[:24]


class UsagePlans(Construct):
    """A usage plan per tier on the API's stage, and the default tier's shared API key.

    :attr:`plans` maps tier name to plan; :attr:`default_key` is in the default tier's plan and its
    value is ``default_key_value``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        rest_api: apigw.IRestApi,
        stage: apigw.Stage,
        default_key_value: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.plans: dict[str, apigw.UsagePlan] = {}
        for tier in config.usage_tiers:
            quota = (
                apigw.QuotaSettings(limit=tier.quota.limit, period=apigw.Period[tier.quota.period])
                if tier.quota
                else None
            )
            self.plans[tier.name] = apigw.UsagePlan(
                self,
                ids.usage_plan_id(tier.name),
                name=f"{config.stack_name}-{tier.name}",
                description=tier.description,
                throttle=apigw.ThrottleSettings(
                    rate_limit=tier.throttle.rate, burst_limit=tier.throttle.burst
                ),
                quota=quota,
                api_stages=[apigw.UsagePlanPerApiStage(api=rest_api, stage=stage)],
            )
        self.default_key = apigw.ApiKey(
            self,
            ids.DEFAULT_API_KEY,
            api_key_name=f"{config.stack_name}-default",
            description=(
                f"edgeauth {config.stage}: usage identifier of the '{config.default_tier}' tier for clients "
                "without their own key (not a secret: clients never send API keys)"
            ),
            value=default_key_value,
            enabled=True,
        )
        self.plans[config.default_tier].add_api_key(self.default_key)
