"""Construct ids and names of the CDK app, in one place so that tests find resources by them.

Names shared with the Lambda functions, the CLI or the local stack (environment variables, table
keys, output keys) are not here: they live in :mod:`edgeauth.constants`, which ships with the code.
"""

from __future__ import annotations

from typing import Final

from edgeauth import constants as C

# --- Context (cdk.json) ---------------------------------------------------------------------------
CONTEXT_ROOT: Final = "edgeauth"
"""The context key holding every edgeauth setting (``{"stages": {...}}``)."""
CONTEXT_STAGE: Final = "stage"
"""The context key choosing the stage (``cdk deploy -c stage=prod``)."""
DEV_STAGE: Final = "dev"
"""The local stack's stage: the only one that may name loopback or placeholder hosts, run without an
alarm notification target, and leave the backend without authentication unwarned (infra.config)."""
DEFAULT_STAGE: Final = DEV_STAGE


def stack_name(stage: str) -> str:
    """CloudFormation stack name of a stage: ``EdgeAuth-<stage>``."""
    return f"EdgeAuth-{stage}"


# --- Stack-level construct ids ---------------------------------------------------------------------
ROLE_TABLE: Final = "RoleTable"
DPOP_REPLAY_TABLE: Final = "DpopReplayTable"
AUTHORIZER: Final = "Authorizer"
API: Final = "Api"
USAGE_PLANS: Final = "UsagePlans"
AUDIT_PIPELINE: Final = "AuditPipeline"
ROLE_EVENTS: Final = "RoleEvents"
MONITORING: Final = "Monitoring"

# --- Ids inside the constructs ---------------------------------------------------------------------
FUNCTION: Final = "Function"
AUTHORIZER_ALIAS: Final = "LiveAlias"
FUNCTION_LOG_GROUP: Final = "LogGroup"
FUNCTION_ROLE: Final = "Role"
TABLE: Final = "Table"
REST_API: Final = "RestApi"
REQUEST_AUTHORIZER: Final = "RequestAuthorizer"
ACCESS_LOG_GROUP: Final = "AccessLogs"
DEFAULT_API_KEY: Final = "DefaultKey"
AUDIT_KEY: Final = "Key"
AUDIT_STREAM: Final = "Stream"
AUDIT_LOG_GROUP: Final = "AuditLogs"
AUDIT_CONSUMER: Final = "Consumer"
AUDIT_DLQ: Final = "DeadLetters"
AUDIT_CHECKPOINTS: Final = "Checkpoints"
SUBSCRIPTION_ROLE: Final = "SubscriptionRole"
AUTHORIZER_SUBSCRIPTION: Final = "AuthorizerLogsToStream"
ACCESS_SUBSCRIPTION: Final = "AccessLogsToStream"
ROLE_EVENTS_DLQ: Final = "DeadLetters"
DASHBOARD: Final = "Dashboard"
ALARM_TOPIC: Final = "AlarmTopic"
AUTHORIZER_FAULTS_FILTER: Final = "AuthorizerFaultsFilter"
CLIENT_CERTIFICATE: Final = "ClientCertificate"
VPC_LINK: Final = "VpcLink"
EXECUTION_LOG_GROUP: Final = "ExecutionLogs"
WEB_ACL_ASSOCIATION: Final = "WebAclAssociation"


def usage_plan_id(tier: str) -> str:
    """Construct id of the usage plan of a tier (``Plan<PascalTier>``)."""
    return f"Plan{pascal_case(tier)}"


def pascal_case(name: str) -> str:
    """``free-trial`` -> ``FreeTrial`` (tier names are validated as ``[a-z][a-z0-9-]*``)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-") if part)


# --- Alarm ids (Monitoring) ------------------------------------------------------------------------
ALARM_AUTHORIZER_FAULTS: Final = "AuthorizerFaults"
ALARM_AUTHORIZER_THROTTLES: Final = "AuthorizerThrottles"
ALARM_AUTHORIZER_LATENCY: Final = "AuthorizerLatencyP99"
ALARM_API_5XX: Final = "Api5xx"
ALARM_UNAUTHORIZED_RATE: Final = "UnauthorizedRate"
ALARM_FORBIDDEN_RATE: Final = "ForbiddenRate"
ALARM_THROTTLED: Final = "Throttled"
ALARM_CONSUMER_ITERATOR_AGE: Final = "AuditConsumerIteratorAge"
ALARM_ROLE_EVENTS_ITERATOR_AGE: Final = "RoleEventsIteratorAge"
ALARM_AUDIT_DEAD_LETTERS: Final = "AuditDeadLetters"
ALARM_ROLE_EVENTS_DEAD_LETTERS: Final = "RoleEventsDeadLetters"
ALARM_CACHE_FLUSH_FAILED: Final = "AuthorizerCacheFlushFailed"
ALARM_AUDIT_DELIVERY_ERRORS: Final = "AuditDeliveryErrors"
ALARM_AUDIT_DELIVERY_THROTTLING: Final = "AuditDeliveryThrottling"
ALARM_AUDIT_WRITE_THROTTLED: Final = "AuditWriteThrottled"

# Metrics the access log group's metric filters publish (namespace edgeauth.constants.METRICS_NAMESPACE,
# dimension ApiId) and the alarms read.
METRIC_UNAUTHORIZED: Final = "Unauthorized"
METRIC_FORBIDDEN: Final = "Forbidden"
METRIC_THROTTLED: Final = "Throttled"
# ... and the authorizer log group's: its audit lines with decision "error" (the 500 outcomes).
METRIC_AUTHORIZER_FAULTS: Final = "AuthorizerFaults"
METRIC_DIMENSION_API_ID: Final = "ApiId"

# Powertools service names of the other two functions (shared with their code).
AUDIT_CONSUMER_SERVICE: Final = C.AUDIT_CONSUMER_SERVICE
ROLE_EVENTS_SERVICE: Final = C.ROLE_EVENTS_SERVICE
