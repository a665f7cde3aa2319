"""Role events: every role-table edit becomes an audit event and flushes the authorizer cache."""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids
from infra.config import StageConfig
from infra.constructs.audit_pipeline import encrypted_dead_letter_queue
from infra.constructs.function import EdgeAuthFunction

BATCH_SIZE: Final = 25
RETRY_ATTEMPTS: Final = 3
MAX_RECORD_AGE: Final = Duration.hours(1)
"""A role edit still unprocessed after an hour is dead-lettered rather than holding back later edits
(their cache flushes are what make role changes take effect in seconds)."""
TIMEOUT: Final = Duration.seconds(30)
MEMORY_MB: Final = 256


def authorizer_cache_arn(rest_api_id: str, stage_name: str) -> str:
    """IAM resource of ``FlushStageAuthorizersCache`` (``DELETE …/stages/{stage}/cache/authorizers``)."""
    return f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/{rest_api_id}/stages/{stage_name}/cache/authorizers"


class RoleEvents(Construct):
    """The role-events function (:data:`edgeauth.constants.HANDLER_ROLE_EVENTS`) on the table's stream.

    It may read the stream, write to the audit log group, and flush the authorizer cache of exactly
    one stage (``apigateway:DELETE`` on :func:`authorizer_cache_arn`). Partial batch responses, bisect
    on error, bounded retries and :attr:`dead_letters` keep one bad record from blocking the shard.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        code: lambda_.Code,
        table: dynamodb.ITable,
        audit_log_group: logs.ILogGroup,
        rest_api: apigw.IRestApi,
        stage: apigw.Stage,
    ) -> None:
        super().__init__(scope, construct_id)
        fn = EdgeAuthFunction(
            self,
            ids.FUNCTION,
            code=code,
            handler=C.HANDLER_ROLE_EVENTS,
            description=f"edgeauth {config.stage}: audits role-table edits and flushes the authorizer cache",
            service=ids.ROLE_EVENTS_SERVICE,
            environment={
                C.ENV_AUDIT_LOG_GROUP: audit_log_group.log_group_name,
                C.ENV_REST_API_ID: rest_api.rest_api_id,
                C.ENV_STAGE_NAME: stage.stage_name,
                # The second cache flush waits out the authorizer's role cache (see the handler).
                C.ENV_ROLE_CACHE_TTL: str(config.role_cache_ttl),
            },
            log_retention_days=config.log_retention_days,
            log_level=config.log_level,
            # Two flushes, role_cache_ttl apart, each with bounded retries.
            timeout=Duration.seconds(config.role_cache_ttl + 2 * TIMEOUT.to_seconds()),
            memory_size=MEMORY_MB,
        )
        self.function: lambda_.Function = fn.function
        self.log_group: logs.LogGroup = fn.log_group
        self.role: iam.Role = fn.role
        audit_log_group.grant(fn.role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents")
        fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=["apigateway:DELETE"],
                resources=[authorizer_cache_arn(rest_api.rest_api_id, stage.stage_name)],
            )
        )
        self.dead_letters = encrypted_dead_letter_queue(self, ids.ROLE_EVENTS_DLQ)
        self.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_SIZE,
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=RETRY_ATTEMPTS,
                max_record_age=MAX_RECORD_AGE,
                on_failure=sources.SqsDlq(self.dead_letters),
            )
        )
