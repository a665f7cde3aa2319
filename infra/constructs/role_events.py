"""Role events: every role-table edit goes to the change log, becomes an audit event and flushes the
authorizer cache."""

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

BATCH_SIZE: Final = 100
"""Records per invocation. An invocation holds its shard for its audit writes or the containers'
check interval + 1 s, whichever is longer, so a bulk ``roles apply`` of 1,000 items takes about ten
invocations (docs/roles.md "How fast an edit takes effect")."""
CHANGE_LOG_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem")
"""What the function may do to the role table: read and write the change log item, nothing else."""
RETRY_ATTEMPTS: Final = 3
MAX_RECORD_AGE: Final = Duration.hours(1)
"""A role edit still unprocessed after an hour is dead-lettered rather than holding back later edits
(their cache flushes are what make role changes take effect in seconds)."""
TIMEOUT: Final = Duration.seconds(30)
"""For the batch's audit writes, and again for the change log write and both flushes with retries."""
MEMORY_MB: Final = 256


def authorizer_cache_arn(rest_api_id: str, stage_name: str) -> str:
    """IAM resource of ``FlushStageAuthorizersCache`` (``DELETE …/stages/{stage}/cache/authorizers``)."""
    return f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/{rest_api_id}/stages/{stage_name}/cache/authorizers"


class RoleEvents(Construct):
    """The role-events function (:data:`edgeauth.constants.HANDLER_ROLE_EVENTS`) on the table's stream.

    It may read the stream, read and write the role table's change log item and nothing else of the
    table (:data:`CHANGE_LOG_ACTIONS`, ``dynamodb:LeadingKeys`` = the change log's key), write to the
    audit log group, and flush the authorizer cache of exactly one stage (``apigateway:DELETE`` on
    :func:`authorizer_cache_arn`). Partial batch responses, bisect on error, bounded retries and
    :attr:`dead_letters` keep one bad record from blocking the shard.
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
                C.ENV_ROLE_TABLE: table.table_name,
                # The second cache flush waits for the authorizers' look at the change log (or their
                # role cache, if shorter): the same settings as theirs (see the handler).
                C.ENV_REVOCATION_CHECK_SECONDS: str(config.revocation_check_seconds),
                C.ENV_ROLE_CACHE_TTL: str(config.role_cache_ttl),
            },
            log_retention_days=config.log_retention_days,
            log_level=config.log_level,
            # The audit writes, the wait for the authorizers' look, the change log write and both
            # flushes with their retries.
            timeout=Duration.seconds(
                2 * TIMEOUT.to_seconds() + min(config.revocation_check_seconds, config.role_cache_ttl) + 1
            ),
            memory_size=MEMORY_MB,
        )
        self.function: lambda_.Function = fn.function
        self.log_group: logs.LogGroup = fn.log_group
        self.role: iam.Role = fn.role
        audit_log_group.grant(fn.role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents")
        fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(CHANGE_LOG_ACTIONS),
                resources=[table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [C.CHANGES_PK]}},
            )
        )
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
