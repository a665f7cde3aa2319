"""A Lambda function the way every edgeauth function runs: arm64, traced, its own log group and role."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from edgeauth import constants as C
from infra import bundling
from infra import constants as ids
from infra.constructs.retention import retention_days


class EdgeAuthFunction(Construct):
    """A function from the shared ``functions/`` asset.

    What callers may rely on:

    * runtime :data:`infra.bundling.RUNTIME` on :data:`infra.bundling.ARCHITECTURE`, X-Ray active;
    * :attr:`log_group` is the function's own log group (retention as given, retained on deletion);
    * :attr:`role` starts with no permission but writing to that log group (and X-Ray, which Lambda's
      tracing adds): every other permission is granted by the caller, explicitly;
    * Powertools' service name, metrics namespace and log level are set in the environment;
    * ``reserved_concurrency`` (None: none) both guarantees and caps the function's concurrency.
    * ``snap_start`` as given (SnapStart applies to published versions only).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        description: str,
        service: str,
        environment: Mapping[str, str],
        log_retention_days: int,
        log_level: str,
        timeout: Duration,
        memory_size: int,
        reserved_concurrency: int | None = None,
        snap_start: lambda_.SnapStartConf | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            ids.FUNCTION_LOG_GROUP,
            retention=retention_days(log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            ids.FUNCTION_ROLE,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"edgeauth {service}: runs the function; every grant is explicit",
        )
        # Instead of AWSLambdaBasicExecutionRole (logs:CreateLogGroup etc. on every log group): the
        # function writes to its own group only.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            ids.FUNCTION,
            code=code,
            handler=handler,
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            description=description,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            snap_start=snap_start,
            environment={
                C.ENV_POWERTOOLS_SERVICE_NAME: service,
                C.ENV_POWERTOOLS_METRICS_NAMESPACE: C.METRICS_NAMESPACE,
                C.ENV_LOG_LEVEL: log_level,
                **environment,
            },
        )
