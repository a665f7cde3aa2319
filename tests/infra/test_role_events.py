"""RoleEvents: on the role table's stream, flushes exactly one stage's authorizer cache."""

from __future__ import annotations

from typing import Any

from edgeauth import constants as C
from infra.constructs import role_events
from tests.infra.conftest import Synth, actions, resources


def test_function_environment(synth: Synth) -> None:
    props = synth.resource(synth.stack.role_events.function)["Properties"]
    assert props["Handler"] == C.HANDLER_ROLE_EVENTS
    env = props["Environment"]["Variables"]
    assert env[C.ENV_AUDIT_LOG_GROUP] == {"Ref": synth.logical_id(synth.stack.audit.audit_log_group)}
    assert env[C.ENV_REST_API_ID] == {"Ref": synth.logical_id(synth.stack.api.rest_api)}
    assert env[C.ENV_STAGE_NAME] == {"Ref": synth.logical_id(synth.stack.api.stage)}
    assert env[C.ENV_ROLE_TABLE] == {"Ref": synth.logical_id(synth.stack.role_table.table)}


def test_event_source_is_the_table_stream_and_never_blocks_it(synth: Synth) -> None:
    mappings = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": synth.logical_id(synth.stack.role_events.function)}
    ]
    assert len(mappings) == 1
    mapping = mappings[0]
    assert mapping["EventSourceArn"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.role_table.table), "StreamArn"]
    }
    assert mapping["BatchSize"] == role_events.BATCH_SIZE
    assert "MaximumBatchingWindowInSeconds" not in mapping  # no wait: an edit goes at once
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == role_events.RETRY_ATTEMPTS
    assert mapping["MaximumRecordAgeInSeconds"] == role_events.MAX_RECORD_AGE.to_seconds()
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.role_events.dead_letters), "Arn"]
    }


def flatten(value: Any) -> str:
    """A CloudFormation string expression with every Ref/GetAtt written as ``${id}``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(flatten(v) for v in value["Fn::Join"][1])
    if "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    raise AssertionError(f"unexpected expression {value!r}")


def test_may_flush_only_this_stages_authorizer_cache(synth: Synth) -> None:
    statements = synth.policy_statements(synth.stack.role_events.role)
    flush = [s for s in statements if any(a.startswith("apigateway:") for a in actions(s))]
    assert len(flush) == 1
    assert actions(flush[0]) == ["apigateway:DELETE"]
    api_id = synth.logical_id(synth.stack.api.rest_api)
    stage_id = synth.logical_id(synth.stack.api.stage)
    assert flatten(flush[0]["Resource"]) == (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/"
        f"${{{api_id}}}/stages/${{{stage_id}}}/cache/authorizers"
    )


def test_writes_only_to_the_audit_log_group_and_reads_only_the_stream(synth: Synth) -> None:
    statements = synth.policy_statements(synth.stack.role_events.role)
    granted = {a for s in statements for a in actions(s)}
    assert granted == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:GetLogEvents",  # read back on a redelivered record, so no event is written twice
        "apigateway:DELETE",
        "dynamodb:GetItem",  # the change log item only (below)
        "dynamodb:PutItem",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    wildcard = {a for s in statements if "*" in resources(s) for a in actions(s)}
    assert wildcard == {"dynamodb:ListStreams", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_may_read_and_write_only_the_change_log_item_of_the_role_table(synth: Synth) -> None:
    statements = synth.policy_statements(synth.stack.role_events.role)
    table_id = synth.logical_id(synth.stack.role_table.table)
    on_items = [s for s in statements if set(actions(s)) & {"dynamodb:GetItem", "dynamodb:PutItem"}]
    assert on_items == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [C.CHANGES_PK]}},
        }
    ]


def test_second_flush_waits_for_the_authorizers_look_not_their_role_cache(synth: Synth) -> None:
    fn = synth.resource(synth.stack.role_events.function)["Properties"]
    config = synth.config
    env = fn["Environment"]["Variables"]
    # the authorizers' own settings, so the handler waits exactly for their look
    assert env[C.ENV_REVOCATION_CHECK_SECONDS] == str(config.revocation_check_seconds)
    assert env[C.ENV_ROLE_CACHE_TTL] == str(config.role_cache_ttl)
    # room for the audit writes, the wait, and both flushes with their retries; not the role cache
    wait = min(config.revocation_check_seconds, config.role_cache_ttl) + 1
    assert fn["Timeout"] == 2 * role_events.TIMEOUT.to_seconds() + wait
