"""EdgeAuthStack: name, outputs (read by the CLI and the local stack), the local-only warning."""

from __future__ import annotations

from edgeauth import constants as C
from infra import constants as ids
from tests.infra.conftest import Synth


def test_stack_name(synth: Synth) -> None:
    assert synth.stack.stack_name == f"EdgeAuth-{synth.config.stage}" == ids.stack_name(synth.config.stage)


def test_outputs_are_named_by_the_shared_constants(synth: Synth) -> None:
    outputs = synth.template.to_json()["Outputs"]
    expected = {
        C.OUTPUT_API_URL,
        C.OUTPUT_REST_API_ID,
        C.OUTPUT_STAGE_NAME,
        C.OUTPUT_ROLE_TABLE,
        C.OUTPUT_AUDIT_STREAM,
        C.OUTPUT_AUDIT_LOG_GROUP,
        C.OUTPUT_AUTHORIZER_LOG_GROUP,
        C.OUTPUT_ACCESS_LOG_GROUP,
    } | {C.OUTPUT_USAGE_PLAN_PREFIX + ids.pascal_case(t.name) for t in synth.config.usage_tiers}
    assert expected <= set(outputs)
    plans = synth.stack.usage_plans.plans
    for tier in synth.config.usage_tiers:
        key = C.OUTPUT_USAGE_PLAN_PREFIX + ids.pascal_case(tier.name)
        assert outputs[key]["Value"] == {"Ref": synth.logical_id(plans[tier.name])}
    assert outputs[C.OUTPUT_ROLE_TABLE]["Value"] == {"Ref": synth.logical_id(synth.stack.role_table.table)}
    assert outputs[C.OUTPUT_REST_API_ID]["Value"] == {"Ref": synth.logical_id(synth.stack.api.rest_api)}


def test_outputs_carry_the_cache_times_edgeauth_revoke_bounds_with(synth: Synth) -> None:
    # edgeauth revoke reads them to say when a revocation is effective everywhere
    outputs = synth.template.to_json()["Outputs"]
    assert outputs[C.OUTPUT_ROLE_CACHE_TTL]["Value"] == str(synth.config.role_cache_ttl)
    assert outputs[C.OUTPUT_AUTHORIZER_CACHE_TTL]["Value"] == str(synth.config.authorizer_cache_ttl)
    assert outputs[C.OUTPUT_REVOCATION_CHECK_SECONDS]["Value"] == str(synth.config.revocation_check_seconds)


def test_loopback_settings_warn_that_the_stage_is_local_only(synth: Synth) -> None:
    assert synth.config.local_only
    # (Read from the construct's metadata: Annotations.from_stack would synthesize again.)
    warnings = [str(m.data) for m in synth.stack.node.metadata if m.type == "aws:cdk:warning"]
    assert any("local stack only" in w for w in warnings), warnings


def test_pascal_case_of_tier_names() -> None:
    assert ids.pascal_case("free-trial") == "FreeTrial"
    assert ids.usage_plan_id("standard") == "PlanStandard"
