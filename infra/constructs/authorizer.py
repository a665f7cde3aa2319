"""The authorizer Lambda: verifies the token, reads roles, returns a policy for one route."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids
from infra.config import StageConfig
from infra.constructs.function import EdgeAuthFunction

ROLE_TABLE_READ_ACTIONS: tuple[str, ...] = ("dynamodb:GetItem", "dynamodb:BatchGetItem")
"""Everything the authorizer may do to the role table."""
ROLE_TABLE_KEY_PREFIXES: tuple[str, ...] = (
    C.ROLE_PK_PREFIX,
    C.SUBJECT_PK_PREFIX,
    C.GROUP_PK_PREFIX,
    C.CLIENT_PK_PREFIX,
)
"""Partition-key prefixes of the items the authorizer reads (``dynamodb:LeadingKeys``); and the
change log item's key itself (:data:`~edgeauth.constants.CHANGES_PK`, exactly)."""
DPOP_REPLAY_ACTIONS: tuple[str, ...] = ("dynamodb:PutItem",)
"""Everything the authorizer may do to the DPoP replay table (one conditional write per proof)."""

TIMEOUT = Duration.seconds(5)
"""Above the JWKS fetch (≤ 2 s) plus role reads with retries; well below API Gateway's 29 s."""
MEMORY_MB = 512
"""Lambda's CPU scales with memory; 512 MB keeps RS256 verification and cold start fast."""
SNAPSTART_ALIAS = "live"
"""The alias API Gateway invokes when the stage has ``snapstart`` on."""


class Authorizer(Construct):
    """The REQUEST authorizer's function (the API wires it to the methods).

    Its environment is the authorizer's whole configuration: the issuers (as validated at synth), the
    role table, the role-cache TTL, the change log check interval and the default usage key. Its
    role may call only ``dynamodb:GetItem`` and ``dynamodb:BatchGetItem`` on the role table, and only
    for items whose partition key starts with one of :data:`ROLE_TABLE_KEY_PREFIXES` or is the change
    log's; with a ``replay_table`` (DPoP
    on), also ``dynamodb:PutItem`` on that table, whose name it gets in ``EDGEAUTH_DPOP_REPLAY_TABLE``.
    With ``authorizer_reserved_concurrency``, the function has that reserved concurrency.

    :attr:`handler` is what API Gateway invokes: the function itself, or with the stage's
    ``snapstart`` on, the alias :data:`SNAPSTART_ALIAS` of its current published version (SnapStart
    applies to published versions only; each deploy that changes the function publishes a new
    version, snapshotted before the alias moves to it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        code: lambda_.Code,
        table: dynamodb.ITable,
        default_usage_key: str,
        replay_table: dynamodb.ITable | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        fn = EdgeAuthFunction(
            self,
            ids.FUNCTION,
            code=code,
            handler=C.HANDLER_AUTHORIZER,
            description=f"edgeauth {config.stage}: REQUEST authorizer (JWT, RBAC, usage key, audit line)",
            service=C.AUTHORIZER_SERVICE,
            environment={
                C.ENV_ISSUERS: config.issuers_env,
                C.ENV_ROLE_TABLE: table.table_name,
                C.ENV_ROLE_CACHE_TTL: str(config.role_cache_ttl),
                C.ENV_REVOCATION_CHECK_SECONDS: str(config.revocation_check_seconds),
                C.ENV_DEFAULT_USAGE_KEY: default_usage_key,
                **({C.ENV_DPOP_REPLAY_TABLE: replay_table.table_name} if replay_table is not None else {}),
            },
            log_retention_days=config.log_retention_days,
            log_level=config.log_level,
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            # Optional: keeps other functions of the account from starving the authorizer (and caps
            # it: beyond it, invocations are throttled and clients get 500).
            reserved_concurrency=config.authorizer_reserved_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.snapstart else None,
        )
        fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(ROLE_TABLE_READ_ACTIONS),
                resources=[table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [f"{prefix}*" for prefix in ROLE_TABLE_KEY_PREFIXES]
                        + [C.CHANGES_PK]
                    }
                },
            )
        )
        if replay_table is not None:
            fn.role.add_to_policy(
                iam.PolicyStatement(actions=list(DPOP_REPLAY_ACTIONS), resources=[replay_table.table_arn])
            )
        self.function: lambda_.Function = fn.function
        self.log_group: logs.LogGroup = fn.log_group
        self.role: iam.Role = fn.role
        self.handler: lambda_.IFunction = (
            lambda_.Alias(
                self, ids.AUTHORIZER_ALIAS, alias_name=SNAPSTART_ALIAS, version=fn.function.current_version
            )
            if config.snapstart
            else fn.function
        )
