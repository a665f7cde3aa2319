"""AuditPipeline: encrypted stream, subscriptions, a consumer that never blocks its shard, saved queries."""

from __future__ import annotations

from aws_cdk.assertions import Match

from edgeauth import constants as C
from edgeauth.audit.queries import SAVED_QUERIES
from infra.constructs import audit_pipeline
from tests.infra.conftest import Synth, actions, resources


def test_stream_is_on_demand_and_encrypted_with_a_rotated_key(synth: Synth) -> None:
    key_id = synth.logical_id(synth.stack.audit.key)
    synth.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
        },
    )
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_subscriptions_are_named_and_spread_over_the_shards(synth: Synth) -> None:
    filters = synth.resources("AWS::Logs::SubscriptionFilter").values()
    assert [f["Properties"]["Distribution"] for f in filters] == ["Random", "Random"]
    assert {f["Properties"]["FilterName"] for f in filters} == {audit_pipeline.SUBSCRIPTION_FILTER_NAME}


def test_audit_log_group_class_is_the_setting(synth: Synth) -> None:
    props = synth.resource(synth.stack.audit.audit_log_group)["Properties"]
    assert props["LogGroupClass"] == synth.config.audit_log_class == "INFREQUENT_ACCESS"


def test_no_saved_query_needs_a_command_infrequent_access_lacks() -> None:
    """Logs Insights on the Infrequent Access class runs every command but these four."""
    import re

    for query in SAVED_QUERIES:
        commands = {m.group(1).lower() for m in re.finditer(r"(?:^|\|)\s*([A-Za-z]+)", query.query)}
        assert not commands & {"pattern", "diff", "filterindex", "unmask"}, query.name
        assert "unmask(" not in query.query.lower()


def test_both_log_groups_subscribe_to_the_stream(synth: Synth) -> None:
    stream = {"Fn::GetAtt": [synth.logical_id(synth.stack.audit.stream), "Arn"]}
    role = {"Fn::GetAtt": [synth.logical_id(synth.stack.audit.subscription_role), "Arn"]}
    synth.template.resource_count_is("AWS::Logs::SubscriptionFilter", 2)
    synth.template.has_resource_properties(
        "AWS::Logs::SubscriptionFilter",
        {
            "LogGroupName": {"Ref": synth.logical_id(synth.stack.authorizer.log_group)},
            "DestinationArn": stream,
            "RoleArn": role,
            "FilterPattern": f'{{ $.message = "{C.AUDIT_DECISION_MESSAGE}" }}',
        },
    )
    synth.template.has_resource_properties(
        "AWS::Logs::SubscriptionFilter",
        {
            "LogGroupName": {"Ref": synth.logical_id(synth.stack.api.access_log_group)},
            "DestinationArn": stream,
            "RoleArn": role,
            "FilterPattern": "",
        },
    )


def test_consumer_knows_which_group_is_which(synth: Synth) -> None:
    """A line's kind comes from its source group (never its content): the consumer is told both."""
    env = synth.resource(synth.stack.audit.consumer)["Properties"]["Environment"]["Variables"]
    assert env[C.ENV_AUTHORIZER_LOG_GROUP] == {"Ref": synth.logical_id(synth.stack.authorizer.log_group)}
    assert env[C.ENV_ACCESS_LOG_GROUP] == {"Ref": synth.logical_id(synth.stack.api.access_log_group)}


def test_subscription_role_may_only_put_records(synth: Synth) -> None:
    role = synth.resource(synth.stack.audit.subscription_role)["Properties"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "logs.amazonaws.com"}
    assert "aws:SourceArn" in statement["Condition"]["StringLike"]
    granted = {a for s in synth.policy_statements(synth.stack.audit.subscription_role) for a in actions(s)}
    assert granted == {"kinesis:PutRecord", "kinesis:PutRecords", "kms:GenerateDataKey"}


def test_consumer_never_blocks_its_shard(synth: Synth) -> None:
    consumer = synth.resource(synth.stack.audit.consumer)["Properties"]
    assert consumer["Handler"] == C.HANDLER_AUDIT_CONSUMER
    assert consumer["Architectures"] == ["arm64"]
    assert consumer["Environment"]["Variables"][C.ENV_AUDIT_LOG_GROUP] == {
        "Ref": synth.logical_id(synth.stack.audit.audit_log_group)
    }
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": synth.logical_id(synth.stack.audit.consumer)},
            "EventSourceArn": {"Fn::GetAtt": [synth.logical_id(synth.stack.audit.stream), "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": audit_pipeline.RETRY_ATTEMPTS,
            "MaximumRecordAgeInSeconds": audit_pipeline.MAX_RECORD_AGE.to_seconds(),
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [synth.logical_id(synth.stack.audit.dead_letters), "Arn"]}
                }
            },
        },
    )
    assert 0 < audit_pipeline.RETRY_ATTEMPTS <= 10
    (stream,) = synth.resources("AWS::Kinesis::Stream").values()
    retention_hours = stream["Properties"]["RetentionPeriodHours"]
    assert retention_hours == synth.config.audit_stream_retention_hours >= 7 * 24
    # a dead letter's records stay readable for days after they were dead-lettered: replayable
    assert audit_pipeline.MAX_RECORD_AGE.to_seconds() <= retention_hours * 3600 - 6 * 86400


def test_dead_letter_queue_is_encrypted_and_tls_only(synth: Synth) -> None:
    queue = synth.resource(synth.stack.audit.dead_letters)["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 86400
    synth.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": synth.logical_id(synth.stack.audit.dead_letters)}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_consumer_writes_only_to_the_audit_log_group(synth: Synth) -> None:
    audit_id = synth.logical_id(synth.stack.audit.audit_log_group)
    statements = synth.policy_statements(synth.stack.audit.consumer.role)  # type: ignore[arg-type]
    own_id = synth.logical_id(synth.stack.audit.consumer_log_group)
    targets = [r for s in statements if "logs:PutLogEvents" in actions(s) for r in resources(s)]
    assert sorted(map(str, targets)) == sorted(
        str({"Fn::GetAtt": [log_group, "Arn"]}) for log_group in (audit_id, own_id)
    )
    readers = [r for s in statements if "logs:GetLogEvents" in actions(s) for r in resources(s)]
    assert [str(r) for r in readers] == [str({"Fn::GetAtt": [audit_id, "Arn"]})]
    granted = {a for s in statements for a in actions(s)}
    assert not {a for a in granted if a.startswith(("kinesis:Put", "apigateway:"))}
    # DynamoDB: its checkpoint table only, read and put
    checkpoints = {"Fn::GetAtt": [synth.logical_id(synth.stack.audit.checkpoints), "Arn"]}
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert [sorted(actions(s)) for s in dynamo] == [["dynamodb:GetItem", "dynamodb:PutItem"]]
    assert [str(r) for r in resources(dynamo[0])] == [str(checkpoints)]
    wildcard = {a for s in statements if "*" in resources(s) for a in actions(s)}
    assert wildcard == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_checkpoint_table_is_keyed_by_shard_on_demand_and_without_point_in_time_recovery(
    synth: Synth,
) -> None:
    table = synth.resource(synth.stack.audit.checkpoints)
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": C.CHECKPOINT_KEY, "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert "PointInTimeRecoverySpecification" not in props  # a restored checkpoint would rewrite events
    env = synth.resource(synth.stack.audit.consumer)["Properties"]["Environment"]["Variables"]
    assert env[C.ENV_AUDIT_CHECKPOINT_TABLE] == {"Ref": synth.logical_id(synth.stack.audit.checkpoints)}


def test_audit_log_group_has_retention_and_is_retained(synth: Synth) -> None:
    log_group = synth.resource(synth.stack.audit.audit_log_group)
    assert log_group["Properties"]["RetentionInDays"] == synth.config.audit_log_retention_days
    assert log_group["DeletionPolicy"] == "Retain"


def test_every_saved_query_is_a_query_definition_on_the_audit_log_group(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Logs::QueryDefinition", len(SAVED_QUERIES))
    audit = {"Ref": synth.logical_id(synth.stack.audit.audit_log_group)}
    for query in SAVED_QUERIES:
        synth.template.has_resource_properties(
            "AWS::Logs::QueryDefinition",
            {
                "Name": f"edgeauth/{synth.config.stage}/{query.name}",
                "QueryString": query.query,
                "LogGroupNames": [audit],
            },
        )


def test_the_capacity_models_defaults_are_the_stacks(synth: Synth) -> None:
    """bench.capacity models this stack: its defaults are what the template deploys."""
    from bench.capacity import Inputs, Limits

    inputs, limits = Inputs(), Limits()
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": synth.logical_id(synth.stack.audit.consumer)}
    ]
    assert mapping["BatchSize"] == inputs.consumer_batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == inputs.consumer_batching_window_s
    assert mapping.get("ParallelizationFactor", 1) == 1  # one batch at a time per shard
    assert synth.resource(synth.stack.audit.consumer)["Properties"]["MemorySize"] == inputs.consumer_memory_mb
    assert synth.resource(synth.stack.audit.consumer)["Properties"]["Timeout"] == inputs.consumer_timeout_s
    assert synth.resource(synth.stack.authorizer.function)["Properties"]["MemorySize"] == inputs.memory_mb
    (stream,) = synth.resources("AWS::Kinesis::Stream").values()
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert limits.kinesis_shards is None  # the model's on-demand stream
    assert stream["Properties"]["RetentionPeriodHours"] == inputs.kinesis_retention_hours
    audit_group = synth.resource(synth.stack.audit.audit_log_group)["Properties"]
    assert audit_group["LogGroupClass"] == inputs.audit_log_class
    assert synth.config.access_log_format == "compact"  # the model's access line size is the compact one
