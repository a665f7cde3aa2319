"""The one stack: composes the constructs and declares the outputs. No resource is defined here."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from edgeauth import constants as C
from infra import bundling
from infra import constants as ids
from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.audit_pipeline import SUBSCRIPTION_FILTER_NAME, AuditPipeline
from infra.constructs.authorizer import Authorizer
from infra.constructs.dpop_replay_table import DpopReplayTable
from infra.constructs.monitoring import Monitoring
from infra.constructs.role_events import RoleEvents
from infra.constructs.role_table import RoleTable
from infra.constructs.usage_plans import UsagePlans, default_usage_key_value


class EdgeAuthStack(Stack):
    """``EdgeAuth-<stage>``: the whole system for one stage.

    ``code`` is the Lambda asset of every function (default: :func:`infra.bundling.function_code`).
    The constructs are attributes (:attr:`role_table`, :attr:`dpop_replay_table` (``None`` unless an
    issuer has DPoP on), :attr:`authorizer`, :attr:`api`,
    :attr:`usage_plans`, :attr:`audit`, :attr:`role_events`, :attr:`monitoring`). Outputs are named by
    :mod:`edgeauth.constants` ``OUTPUT_*`` (the CLI's ``--stack`` and the local stack read them).
    """

    def __init__(
        self, scope: Construct, *, config: StageConfig, code: lambda_.Code | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            config.stack_name,
            stack_name=config.stack_name,
            description=f"edgeauth {config.stage}: edge authorizer (API Gateway, Lambda, role table, audit trail)",
            termination_protection=config.termination_protection,
            **kwargs,
        )
        self.config = config
        Tags.of(self).add("edgeauth:stage", config.stage)
        if config.local_only:
            Annotations.of(self).add_warning_v2(
                "edgeauth:local-only",
                f"stage {config.stage!r} has an issuer or backend on a loopback address: it works with the "
                "local stack only; a deployed authorizer could not reach it",
            )
        if config.backend_auth.mode == "none" and config.stage != ids.DEV_STAGE:
            Annotations.of(self).add_warning_v2(
                "edgeauth:backend-auth-none",
                f"stage {config.stage!r} has backend_auth 'none': anyone who can reach {config.backend_url} "
                "can call the backend around the gateway and set the X-Edgeauth-* headers itself; use "
                "'client_certificate' or 'private' (docs/deploying.md, 'Only the gateway reaches the backend')",
            )

        if code is None:
            if self.bundling_required:
                # Install now, so that a missing wheel (or a wrong EDGEAUTH_BYTECODE_PYTHON) is a plain
                # BundlingError rather than an error from inside asset staging. (`cdk ls`/`destroy`
                # skip bundling.)
                bundling.install_requirements(python=bundling.bytecode_python())
            code = bundling.function_code()

        default_key = default_usage_key_value(config.stack_name, config.stage)
        self.role_table = RoleTable(self, ids.ROLE_TABLE)
        self.dpop_replay_table = DpopReplayTable(self, ids.DPOP_REPLAY_TABLE) if config.dpop_enabled else None
        self.authorizer = Authorizer(
            self,
            ids.AUTHORIZER,
            config=config,
            code=code,
            table=self.role_table.table,
            default_usage_key=default_key,
            replay_table=self.dpop_replay_table.table if self.dpop_replay_table else None,
        )
        self.api = Api(self, ids.API, config=config, authorizer_function=self.authorizer.handler)
        self.usage_plans = UsagePlans(
            self,
            ids.USAGE_PLANS,
            config=config,
            rest_api=self.api.rest_api,
            stage=self.api.stage,
            default_key_value=default_key,
        )
        self.audit = AuditPipeline(
            self,
            ids.AUDIT_PIPELINE,
            config=config,
            code=code,
            authorizer_log_group=self.authorizer.log_group,
            access_log_group=self.api.access_log_group,
        )
        self.role_events = RoleEvents(
            self,
            ids.ROLE_EVENTS,
            config=config,
            code=code,
            table=self.role_table.table,
            audit_log_group=self.audit.audit_log_group,
            rest_api=self.api.rest_api,
            stage=self.api.stage,
        )
        self.monitoring = Monitoring(
            self,
            ids.MONITORING,
            settings=config.alarms,
            name_prefix=config.stack_name,
            stage=self.api.stage,
            rest_api_id=self.api.rest_api.rest_api_id,
            access_log_group=self.api.access_log_group,
            authorizer=self.authorizer.function,
            authorizer_log_group=self.authorizer.log_group,
            audit_consumer=self.audit.consumer,
            role_events=self.role_events.function,
            audit_dead_letters=self.audit.dead_letters,
            role_events_dead_letters=self.role_events.dead_letters,
            audit_subscriptions=[(group, SUBSCRIPTION_FILTER_NAME) for group in self.audit.source_log_groups],
        )
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            C.OUTPUT_API_URL: (self.api.rest_api.url, "Invoke URL of the API stage"),
            C.OUTPUT_REST_API_ID: (self.api.rest_api.rest_api_id, "REST API id"),
            C.OUTPUT_STAGE_NAME: (self.api.stage.stage_name, "API stage name"),
            C.OUTPUT_STAGE_ARN: (
                self.api.stage.stage_arn,
                "API stage ARN (what a WAF web ACL is associated with)",
            ),
            C.OUTPUT_ROLE_TABLE: (self.role_table.table.table_name, "DynamoDB role table"),
            C.OUTPUT_AUDIT_STREAM: (self.audit.stream.stream_name, "Kinesis audit stream"),
            C.OUTPUT_AUDIT_LOG_GROUP: (self.audit.audit_log_group.log_group_name, "Normalised audit events"),
            C.OUTPUT_AUDIT_CHECKPOINT_TABLE: (
                self.audit.checkpoints.table_name,
                "Audit consumer checkpoints",
            ),
            C.OUTPUT_AUDIT_DEAD_LETTERS: (self.audit.dead_letters.queue_url, "Audit consumer dead letters"),
            C.OUTPUT_AUTHORIZER_LOG_GROUP: (self.authorizer.log_group.log_group_name, "Authorizer log group"),
            C.OUTPUT_ACCESS_LOG_GROUP: (self.api.access_log_group.log_group_name, "API access log group"),
            C.OUTPUT_ROLE_CACHE_TTL: (str(self.config.role_cache_ttl), "Authorizer role cache, seconds"),
            C.OUTPUT_REVOCATION_CHECK_SECONDS: (
                str(self.config.revocation_check_seconds),
                "How often a warm authorizer reads the role table's change log, seconds",
            ),
            C.OUTPUT_AUTHORIZER_CACHE_TTL: (
                str(self.config.authorizer_cache_ttl),
                "API Gateway authorizer cache TTL, seconds",
            ),
        }
        if self.api.client_certificate is not None:
            outputs[C.OUTPUT_CLIENT_CERTIFICATE_ID] = (
                self.api.client_certificate.ref,
                "Client certificate the stage presents to the backend "
                "(aws apigateway get-client-certificate --client-certificate-id ID)",
            )
        if self.api.next_client_certificate is not None:
            outputs[C.OUTPUT_NEXT_CLIENT_CERTIFICATE_ID] = (
                self.api.next_client_certificate.ref,
                "The next client certificate (backend_auth prepare_next): trust it before moving to it",
            )
        if self.monitoring.topic is not None:
            outputs[C.OUTPUT_ALARM_TOPIC_ARN] = (
                self.monitoring.topic.topic_arn,
                "SNS topic every alarm notifies",
            )
        if self.dpop_replay_table is not None:
            outputs[C.OUTPUT_DPOP_REPLAY_TABLE] = (
                self.dpop_replay_table.table.table_name,
                "DynamoDB table of used DPoP proof ids",
            )
        for tier, plan in self.usage_plans.plans.items():
            outputs[C.OUTPUT_USAGE_PLAN_PREFIX + ids.pascal_case(tier)] = (
                plan.usage_plan_id,
                f"Usage plan id of tier '{tier}'",
            )
        for key, (value, description) in outputs.items():
            CfnOutput(self, key, value=value, description=description)
