"""The audit pipeline: decision and access log lines → Kinesis → consumer → the audit log group."""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration, Names, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from edgeauth import constants as C
from edgeauth.audit.queries import SAVED_QUERIES
from infra import constants as ids
from infra.config import StageConfig
from infra.constructs.function import EdgeAuthFunction
from infra.constructs.retention import retention_days

MAX_RECORD_AGE: Final = Duration.hours(6)
"""Records older than this go to the dead-letter queue instead of blocking the shard. The stream keeps
records ``audit_stream_retention_hours`` (at least 7 days), so a dead letter's sequence numbers still
point at readable records for days: ``edgeauth audit replay`` re-drives them."""
RETRY_ATTEMPTS: Final = 5
"""Bounded: after bisecting down to the failing record and retrying it this often, it is dead-lettered."""
BATCH_SIZE: Final = 100
MAX_BATCHING_WINDOW: Final = Duration.seconds(1)

CONSUMER_TIMEOUT: Final = Duration.seconds(60)
CONSUMER_MEMORY_MB: Final = 1024
"""1.7 s of CPU per second of wall clock below 1,769 MB, so a batch of 100 records takes about 0.3 s of
CPU: the consumer keeps up with 20,000 rps on the stream's 4 shards (docs/benchmarks.md "Capacity and cost
model"). CPU-bound work costs the same GB-seconds at any memory size."""

CONSUMER_STREAM_ACTIONS: Final = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:ListStreams",
)
"""What Lambda's polling of the stream (shared-throughput iterators) needs: the stream's read set
without ``kinesis:SubscribeToShard`` and ``kinesis:DescribeStreamConsumer``, which only an
enhanced fan-out consumer uses."""

AUTHORIZER_LOG_FILTER: Final = logs.FilterPattern.string_value("$.message", "=", C.AUDIT_DECISION_MESSAGE)
"""Only the authorizer's audit lines go to the stream (not START/END/REPORT or diagnostics)."""
SUBSCRIPTION_FILTER_NAME: Final = "edgeauth-audit"
"""Each source group's one subscription filter (named, so that its CloudWatch Logs metrics can be found)."""
SUBSCRIPTION_DISTRIBUTION: Final = "Random"
"""Spread each group's lines over the stream's shards (the default, ``ByLogStream``, sends a log
stream's lines to one shard: hot shards under load)."""


def encrypted_dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """An SQS queue for on-failure destinations: SSE, TLS only, 14 days to inspect and replay."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


class AuditPipeline(Construct):
    """Everything between the two source log groups and the audit log group.

    What callers may rely on:

    * :attr:`stream`: on-demand Kinesis stream encrypted with :attr:`key` (customer-managed, rotated);
    * subscription filters from each of ``source_log_groups`` (decision lines only from the
      authorizer's) into the stream, through :attr:`subscription_role`, which may only put records;
    * :attr:`consumer`: the audit consumer (:data:`edgeauth.constants.HANDLER_AUDIT_CONSUMER`) on the
      stream with partial batch responses, bisect on error, :data:`RETRY_ATTEMPTS` retries,
      :data:`MAX_RECORD_AGE`, and :attr:`dead_letters` as on-failure destination; one batch at a
      time per shard (the per-shard checkpoint relies on it);
    * :attr:`checkpoints`: the consumer's per-shard checkpoint table (exactly once, see
      :mod:`edgeauth.audit.shard_writer`), which only the consumer reads and writes;
    * :attr:`audit_log_group` (retention ``audit_log_retention_days``, class ``audit_log_class``,
      retained on deletion), which the consumer writes to and every
      :data:`edgeauth.audit.queries.SAVED_QUERIES` entry queries.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        code: lambda_.Code,
        authorizer_log_group: logs.ILogGroup,
        access_log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            ids.AUDIT_KEY,
            description=f"edgeauth {config.stage}: encrypts the audit stream",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.stream = kinesis.Stream(
            self,
            ids.AUDIT_STREAM,
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            retention_period=Duration.hours(config.audit_stream_retention_hours),
        )
        # The class is fixed at creation: changing it replaces the group (the old one is retained).
        self.audit_log_group = logs.LogGroup(
            self,
            ids.AUDIT_LOG_GROUP,
            retention=retention_days(config.audit_log_retention_days),
            log_group_class=logs.LogGroupClass(config.audit_log_class),
            removal_policy=RemovalPolicy.RETAIN,
        )

        # One role for both filters. The SourceArn condition stops another account's log group from
        # using it through CloudWatch Logs (confused deputy).
        self.subscription_role = iam.Role(
            self,
            ids.SUBSCRIPTION_ROLE,
            assumed_by=iam.ServicePrincipal(
                "logs.amazonaws.com",
                conditions={
                    "StringLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    }
                },
            ),
            description=f"edgeauth {config.stage}: CloudWatch Logs puts audit lines into the stream",
        )
        # Exactly what CloudWatch Logs needs to deliver (not grant_write, which adds key wildcards).
        self.subscription_role.add_to_policy(
            iam.PolicyStatement(
                actions=["kinesis:PutRecord", "kinesis:PutRecords"], resources=[self.stream.stream_arn]
            )
        )
        self.subscription_role.add_to_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[self.key.key_arn])
        )
        # L1 filters: the L2 destination would grant the role the stream's full write set (with key
        # wildcards) and iam:PassRole on itself; the statements above are all delivery needs.
        self.source_log_groups = (authorizer_log_group, access_log_group)
        self.subscription_filters = tuple(
            self._subscription(construct_id, log_group, pattern)
            for construct_id, log_group, pattern in (
                (ids.AUTHORIZER_SUBSCRIPTION, authorizer_log_group, AUTHORIZER_LOG_FILTER),
                (ids.ACCESS_SUBSCRIPTION, access_log_group, logs.FilterPattern.all_events()),
            )
        )

        # Per-shard checkpoints of the consumer. No point-in-time recovery on purpose: restoring an
        # older checkpoint would make the consumer write again what it had committed.
        self.checkpoints = dynamodb.Table(
            self,
            ids.AUDIT_CHECKPOINTS,
            partition_key=dynamodb.Attribute(name=C.CHECKPOINT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,
        )

        consumer = EdgeAuthFunction(
            self,
            ids.AUDIT_CONSUMER,
            code=code,
            handler=C.HANDLER_AUDIT_CONSUMER,
            description=f"edgeauth {config.stage}: normalises audit lines into the audit log group",
            service=ids.AUDIT_CONSUMER_SERVICE,
            environment={
                C.ENV_AUDIT_LOG_GROUP: self.audit_log_group.log_group_name,
                C.ENV_AUDIT_CHECKPOINT_TABLE: self.checkpoints.table_name,
                # A line's kind comes from the group it was logged to, never from its content.
                C.ENV_AUTHORIZER_LOG_GROUP: authorizer_log_group.log_group_name,
                C.ENV_ACCESS_LOG_GROUP: access_log_group.log_group_name,
            },
            log_retention_days=config.log_retention_days,
            log_level=config.log_level,
            timeout=CONSUMER_TIMEOUT,
            memory_size=CONSUMER_MEMORY_MB,
        )
        self.consumer: lambda_.Function = consumer.function
        self.consumer_log_group: logs.LogGroup = consumer.log_group
        # GetLogEvents: only to read back the window of a batch whose writer did not finish.
        self.audit_log_group.grant(
            consumer.role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents"
        )
        self.checkpoints.grant(consumer.role, "dynamodb:GetItem", "dynamodb:PutItem")

        self.dead_letters = encrypted_dead_letter_queue(self, ids.AUDIT_DLQ)
        # The mapping KinesisEventSource would make, under the same id (no replacement), without
        # its grant: Stream.grantRead adds the enhanced fan-out actions too (CONSUMER_STREAM_ACTIONS).
        self.consumer.add_event_source_mapping(
            f"KinesisEventSource:{Names.node_unique_id(self.stream.node)}",
            event_source_arn=self.stream.stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            max_batching_window=MAX_BATCHING_WINDOW,
            report_batch_item_failures=True,
            bisect_batch_on_error=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            on_failure=sources.SqsDlq(self.dead_letters),
        )
        self.stream.grant(consumer.role, *CONSUMER_STREAM_ACTIONS)
        self.key.grant_decrypt(consumer.role)

        self.query_definitions = tuple(
            logs.CfnQueryDefinition(
                self,
                f"Query{ids.pascal_case(query.name)}",
                name=f"edgeauth/{config.stage}/{query.name}",
                query_string=query.query,
                log_group_names=[self.audit_log_group.log_group_name],
            )
            for query in SAVED_QUERIES
        )

    def _subscription(
        self, construct_id: str, log_group: logs.ILogGroup, pattern: logs.IFilterPattern
    ) -> logs.CfnSubscriptionFilter:
        subscription = logs.CfnSubscriptionFilter(
            self,
            construct_id,
            filter_name=SUBSCRIPTION_FILTER_NAME,
            log_group_name=log_group.log_group_name,
            filter_pattern=pattern.log_pattern_string,
            destination_arn=self.stream.stream_arn,
            role_arn=self.subscription_role.role_arn,
            distribution=SUBSCRIPTION_DISTRIBUTION,
        )
        # CloudWatch Logs test-delivers when the filter is created: the role's policy must exist first.
        subscription.node.add_dependency(self.subscription_role)
        return subscription
