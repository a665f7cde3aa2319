"""Authorizer: arm64 Python, configuration as environment, read-only access to its items only."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from edgeauth import constants as C
from edgeauth.core.settings import load_settings
from infra import bundling
from infra.constructs.authorizer import ROLE_TABLE_KEY_PREFIXES, ROLE_TABLE_READ_ACTIONS
from infra.constructs.usage_plans import default_usage_key_value
from tests.infra.conftest import Synth, actions, resources


def function_props(synth: Synth) -> dict[str, Any]:
    props: dict[str, Any] = synth.resource(synth.stack.authorizer.function)["Properties"]
    return props


def test_runtime_architecture_handler_and_tracing(synth: Synth) -> None:
    props = function_props(synth)
    assert props["Runtime"] == bundling.RUNTIME.name
    assert props["Runtime"] >= "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == C.HANDLER_AUTHORIZER
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Timeout"] <= 10
    assert props["MemorySize"] >= 512


def test_environment_is_what_the_authorizer_accepts(synth: Synth) -> None:
    env = function_props(synth)["Environment"]["Variables"]
    config = synth.config
    assert env[C.ENV_ISSUERS] == config.issuers_env
    assert env[C.ENV_ROLE_TABLE] == {"Ref": synth.logical_id(synth.stack.role_table.table)}
    assert env[C.ENV_ROLE_CACHE_TTL] == str(config.role_cache_ttl)
    assert env[C.ENV_REVOCATION_CHECK_SECONDS] == str(config.revocation_check_seconds)
    assert env[C.ENV_DEFAULT_USAGE_KEY] == default_usage_key_value(config.stack_name, config.stage)
    assert env[C.ENV_POWERTOOLS_SERVICE_NAME] == C.AUTHORIZER_SERVICE
    assert env[C.ENV_POWERTOOLS_METRICS_NAMESPACE] == C.METRICS_NAMESPACE
    # The function's own settings loader accepts the environment as deployed.
    settings = load_settings({**env, C.ENV_ROLE_TABLE: "role-table"})
    assert [i.issuer for i in settings.issuers] == [i.issuer for i in config.issuers]
    assert settings.role_cache_ttl == config.role_cache_ttl
    assert settings.revocation_check_seconds == config.revocation_check_seconds


def test_own_log_group_with_retention(synth: Synth) -> None:
    props = function_props(synth)
    log_group_id = synth.logical_id(synth.stack.authorizer.log_group)
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}
    log_group = synth.resource(synth.stack.authorizer.log_group)
    assert log_group["Properties"]["RetentionInDays"] == synth.config.log_retention_days
    assert log_group["DeletionPolicy"] == "Retain"


def test_role_reads_only_its_items_of_the_role_table(synth: Synth) -> None:
    statements = synth.policy_statements(synth.stack.authorizer.role)
    table_id = synth.logical_id(synth.stack.role_table.table)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert dynamodb == [
        {
            "Effect": "Allow",
            "Action": sorted(ROLE_TABLE_READ_ACTIONS),
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
            "Condition": {
                "ForAllValues:StringLike": {
                    # the roles, subjects, groups and clients, and the change log item exactly
                    "dynamodb:LeadingKeys": [f"{prefix}*" for prefix in ROLE_TABLE_KEY_PREFIXES]
                    + [C.CHANGES_PK]
                }
            },
        }
    ]
    assert set(ROLE_TABLE_READ_ACTIONS) == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    assert set(ROLE_TABLE_KEY_PREFIXES) == {
        C.ROLE_PK_PREFIX,
        C.SUBJECT_PK_PREFIX,
        C.GROUP_PK_PREFIX,
        C.CLIENT_PK_PREFIX,
    }


def test_role_has_nothing_else(synth: Synth) -> None:
    statements = synth.policy_statements(synth.stack.authorizer.role)
    granted = {a for s in statements for a in actions(s)}
    assert granted == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    wildcard = [s for s in statements if "*" in resources(s)]
    assert {a for s in wildcard for a in actions(s)} == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    role = synth.resource(synth.stack.authorizer.role)["Properties"]
    assert "ManagedPolicyArns" not in role


def test_only_api_gateway_may_invoke_it(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [synth.logical_id(synth.stack.authorizer.function), "Arn"]},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": Match.any_value(),
        },
    )
