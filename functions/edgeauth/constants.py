"""Names shared by the Lambda functions, the CLI, the local gateway and the CDK app.

Only ``functions/`` ships to Lambda, so every name that both sides use is defined here once and
imported by ``infra/``. Changing a value here changes the contract between the deployed
infrastructure and the code: treat it like a schema change.
"""

from __future__ import annotations

import json
from typing import Final

# --- Environment variables read by the authorizer (see docs/configuration.md) ---------------------
ENV_ISSUERS: Final = "EDGEAUTH_ISSUERS"
"""JSON list of trusted issuers (see :mod:`edgeauth.core.settings`)."""
ENV_ROLE_TABLE: Final = "EDGEAUTH_ROLE_TABLE"
"""Name of the DynamoDB role table."""
ENV_ROLE_CACHE_TTL: Final = "EDGEAUTH_ROLE_CACHE_TTL"
"""Seconds a role-table lookup is reused inside one container (default 30, at most 60)."""
ENV_REVOCATION_CHECK_SECONDS: Final = "EDGEAUTH_REVOCATION_CHECK_SECONDS"
"""Seconds between two reads of the role table's change log by one warm container (default 2, 1 to
10): how long a container may keep answering from roles an edit has changed. The role-events
function reads it too, to time its second cache flush (:mod:`edgeauth.core.changes`)."""
ENV_DEFAULT_USAGE_KEY: Final = "EDGEAUTH_DEFAULT_USAGE_KEY"
"""API key value of the default usage tier, returned for clients without a key of their own."""
ENV_TOKEN_CACHE_SIZE: Final = "EDGEAUTH_TOKEN_CACHE_SIZE"  # noqa: S105 - a variable's name, not a secret
"""How many verified tokens one container remembers (by hash, until ``exp``)."""
ENV_DYNAMODB_TIMEOUT: Final = "EDGEAUTH_DYNAMODB_TIMEOUT"
"""Connect/read timeout in seconds for role-table calls (bounded retries on top)."""
ENV_ENDPOINT_URL: Final = "EDGEAUTH_ENDPOINT_URL"
"""Optional AWS endpoint override (the local stack's moto server). Never set on AWS."""
ENV_DPOP_REPLAY_TABLE: Final = "EDGEAUTH_DPOP_REPLAY_TABLE"
"""Name of the DynamoDB table of used DPoP proof ids; required when an issuer has ``dpop`` on."""

# Powertools' own variables, set by the CDK app.
ENV_POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
ENV_LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"

METRICS_NAMESPACE: Final = "EdgeAuth"
AUTHORIZER_SERVICE: Final = "edgeauth-authorizer"
AUDIT_CONSUMER_SERVICE: Final = "edgeauth-audit-consumer"
ROLE_EVENTS_SERVICE: Final = "edgeauth-role-events"
METRIC_CACHE_FLUSH_FAILED: Final = "AuthorizerCacheFlushFailed"
"""Emitted by the role-events handler (dimension ``service``) when the cache flush kept failing."""
METRIC_CHANGE_LOG_WRITE_FAILED: Final = "ChangeLogWriteFailed"
"""Emitted by the role-events handler when the change log could not be written (the batch is retried)."""
METRIC_AUDIT_WRITE_THROTTLED: Final = "AuditWriteThrottled"
"""Emitted by the audit consumer (dimension ``service``): CloudWatch Logs or DynamoDB calls refused by
throttling (each retried, or its records delivered again)."""

# --- Role table (see docs/roles.md) --------------------------------------------------------
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"

ROLE_PK_PREFIX: Final = "ROLE#"
"""Role item: ``pk = "ROLE#<name>"``, ``sk = "ROLE"``."""
ROLE_SK: Final = "ROLE"
SUBJECT_PK_PREFIX: Final = "SUBJECT#"
"""Subject item: ``pk = "SUBJECT#<issuer>"``, ``sk = <sub>``."""
GROUP_PK_PREFIX: Final = "GROUP#"
"""Group mapping: ``pk = "GROUP#<issuer>"``, ``sk = <claim value>``."""
CLIENT_PK_PREFIX: Final = "CLIENT#"
"""Client item: ``pk = "CLIENT#<issuer>"``, ``sk = <client id>``."""
CHANGES_PK: Final = "CHANGES#role-table"
"""The change log item (:mod:`edgeauth.core.changes`): ``pk = "CHANGES#role-table"``, ``sk = "CHANGES"``.
Written by the role-events function only, never by the CLI; not a role, subject, group or client."""
CHANGES_SK: Final = "CHANGES"

# --- DPoP replay table (see docs/authorizer.md "DPoP (RFC 9449)") -----------------------------------------------
DPOP_REPLAY_KEY: Final = "pk"
"""Partition key (string) of the replay table: the proof's replay key (a hash of key and ``jti``)."""
DPOP_REPLAY_EXPIRES_AT: Final = "expires_at"
"""Epoch seconds after which a proof id may be forgotten: the table's TTL attribute."""
DPOP_REPLAY_OWNER: Final = "owner"
"""Random value of the write that recorded the id (recognises a retried write of the same request)."""

# Attribute names on items.
ATTR_ALLOW: Final = "allow"
ATTR_DENY: Final = "deny"
ATTR_INHERIT: Final = "inherit"
ATTR_DISABLED: Final = "disabled"
ATTR_DESCRIPTION: Final = "description"
ATTR_ROLES: Final = "roles"
ATTR_NOT_BEFORE: Final = "not_before"
ATTR_USAGE_KEY: Final = "usage_key"
ATTR_USAGE_KEY_ID: Final = "usage_key_id"
ATTR_TIER: Final = "tier"
ATTR_VERSION: Final = "version"
ATTR_UPDATED_BY: Final = "updated_by"
ATTR_UPDATED_AT: Final = "updated_at"
# Attributes of the change log item.
ATTR_GENERATION: Final = "generation"
ATTR_LISTED_AFTER: Final = "listed_after"
ATTR_RECENT: Final = "recent"

# --- Authorizer answer ---------------------------------------------------------------------------
CONTEXT_SUBJECT: Final = "sub"
CONTEXT_ISSUER: Final = "iss"
CONTEXT_ROLES: Final = "roles"
CONTEXT_CLIENT_ID: Final = "clientId"
CONTEXT_DECISION: Final = "decision"
CONTEXT_REASON: Final = "reason"

# --- Audit --------------------------------------------------------------------------------------------
AUDIT_DECISION_MESSAGE: Final = "authorization decision"
"""``message`` of the authorizer's one JSON audit line per decision."""
AUDIT_SCHEMA_VERSION: Final = 1
"""``audit_version`` of the authorizer's decision line (:mod:`edgeauth.core.audit_line`)."""
AUDIT_DECISION_FAULT: Final = "error"
"""``decision`` of an audit line whose request answered 500 (a dependency fault, a malformed event, an
internal error). The authorizer's fault alarm counts these lines (infra/constructs/monitoring.py)."""
AUDIT_EVENT_VERSION: Final = 2
"""``audit_version`` of the normalised events in the audit log group. Version 2 leaves out what every
event of the group would repeat (docs/audit.md "Event schema"); version 1 events stay readable by the same
saved queries."""

# --- Audit consumer checkpoint table (see docs/audit.md "Exactly once") ----------------------------------------
CHECKPOINT_KEY: Final = "pk"
"""Partition key (string) of the audit consumer's checkpoint table: ``<kinesis stream>/<shard id>``."""

# --- Other functions' environment ------------------------------------------------------------------
ENV_AUDIT_LOG_GROUP: Final = "EDGEAUTH_AUDIT_LOG_GROUP"
"""Audit consumer and role-events handler: the log group that receives normalised audit events."""
ENV_AUTHORIZER_LOG_GROUP: Final = "EDGEAUTH_AUTHORIZER_LOG_GROUP"
"""Audit consumer: the authorizer's log group. Its lines may become ``decision`` events, and only its."""
ENV_ACCESS_LOG_GROUP: Final = "EDGEAUTH_ACCESS_LOG_GROUP"
"""Audit consumer: the stage's access log group. Its lines become ``access`` (or ``malformed``) events."""
ENV_AUDIT_CHECKPOINT_TABLE: Final = "EDGEAUTH_AUDIT_CHECKPOINT_TABLE"
"""Audit consumer: the DynamoDB table of per-shard checkpoints (exactly once, docs/audit.md "Exactly once")."""
ENV_REST_API_ID: Final = "EDGEAUTH_REST_API_ID"
"""Role-events handler: the REST API whose stage authorizer cache is flushed on a role edit."""
ENV_STAGE_NAME: Final = "EDGEAUTH_STAGE_NAME"
"""Role-events handler: the stage whose authorizer cache is flushed."""

FUNCTION_ENVIRONMENT: Final = (
    (ENV_AUDIT_LOG_GROUP, "audit consumer, role events", "the audit log group (required)"),
    (
        ENV_AUTHORIZER_LOG_GROUP,
        "audit consumer",
        "the authorizer's log group: only its lines may become `decision` events (required)",
    ),
    (
        ENV_ACCESS_LOG_GROUP,
        "audit consumer",
        "the stage's access log group: its lines become `access` (or `malformed`) events (required)",
    ),
    (
        ENV_AUDIT_CHECKPOINT_TABLE,
        "audit consumer",
        "the table of per-shard checkpoints that makes delivery exactly once (required)",
    ),
    (ENV_REST_API_ID, "role events", "the REST API whose authorizer cache a role edit flushes (required)"),
    (ENV_STAGE_NAME, "role events", "the stage whose authorizer cache a role edit flushes (required)"),
    (ENV_ROLE_TABLE, "role events", "the role table, whose change log item it writes (required)"),
    (
        ENV_REVOCATION_CHECK_SECONDS,
        "role events",
        "the authorizer's change log check interval: the second flush comes `min(this, role cache "
        "time)` + 1 s after the change log write",
    ),
    (
        ENV_ROLE_CACHE_TTL,
        "role events",
        "the authorizer's role cache time: bounds the wait before the second flush (above)",
    ),
    (ENV_ENDPOINT_URL, "audit consumer, role events", "AWS endpoint override (local stack only)"),
    (ENV_POWERTOOLS_SERVICE_NAME, "all three", "Powertools' service name of the function's log lines"),
    (ENV_POWERTOOLS_METRICS_NAMESPACE, "all three", f"namespace of the metrics (`{METRICS_NAMESPACE}`)"),
    (ENV_LOG_LEVEL, "all three", "Powertools' log level (the stage's `log_level`)"),
)
"""``(variable, functions, meaning)``: what the CDK app sets besides the authorizer's own settings
(:data:`edgeauth.core.settings.ENVIRONMENT`); the documentation's configuration reference lists both."""

# Lambda handler entry points inside the ``functions/`` asset.
HANDLER_AUTHORIZER: Final = "authorizer.handler.handler"
HANDLER_AUDIT_CONSUMER: Final = "audit_consumer.handler.handler"
HANDLER_ROLE_EVENTS: Final = "role_events.handler.handler"

# API Gateway identity sources of the REQUEST authorizer: the token and the route, so that every
# cached policy is about exactly one route (see docs/authorizer.md "Why the route is in the cache key").
IDENTITY_SOURCES: Final = (
    "method.request.header.Authorization",
    "context.httpMethod",
    "context.resourcePath",
)
DPOP_HEADER: Final = "DPoP"
"""Request header carrying the DPoP proof (RFC 9449 §4.1)."""
IDENTITY_SOURCE_DPOP: Final = "method.request.header.DPoP"
"""Added to :data:`IDENTITY_SOURCES` when every issuer has ``dpop`` = ``required`` (docs/authorizer.md "DPoP (RFC 9449)")."""

# CloudFormation output keys of the stack (read by the CLI's --stack and by the local stack).
OUTPUT_API_URL: Final = "ApiUrl"
OUTPUT_REST_API_ID: Final = "RestApiId"
OUTPUT_STAGE_NAME: Final = "StageName"
OUTPUT_STAGE_ARN: Final = "StageArn"
"""The stage's ARN, what a WAF web ACL is associated with."""
OUTPUT_CLIENT_CERTIFICATE_ID: Final = "ClientCertificateId"
"""Only with ``backend_auth`` ``client_certificate``: the certificate the stage presents to the backend."""
OUTPUT_NEXT_CLIENT_CERTIFICATE_ID: Final = "NextClientCertificateId"
"""Only with ``backend_auth`` ``prepare_next``: the certificate the next ``generation`` will present."""
OUTPUT_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
"""Only when the alarms notify a topic (``alarm_topic_arn``, or the one made for ``alarm_emails``)."""
OUTPUT_ROLE_TABLE: Final = "RoleTableName"
OUTPUT_DPOP_REPLAY_TABLE: Final = "DpopReplayTableName"
"""Only when an issuer has ``dpop`` on (the table exists only then)."""
OUTPUT_AUDIT_STREAM: Final = "AuditStreamName"
OUTPUT_AUDIT_LOG_GROUP: Final = "AuditLogGroupName"
OUTPUT_AUDIT_CHECKPOINT_TABLE: Final = "AuditCheckpointTableName"
OUTPUT_AUDIT_DEAD_LETTERS: Final = "AuditDeadLetterQueueUrl"
"""The audit consumer's dead-letter queue (``edgeauth audit replay`` reads it)."""
OUTPUT_AUTHORIZER_LOG_GROUP: Final = "AuthorizerLogGroupName"
OUTPUT_ACCESS_LOG_GROUP: Final = "AccessLogGroupName"
OUTPUT_USAGE_PLAN_PREFIX: Final = "UsagePlan"
"""Usage plan ids are output as ``UsagePlan<Tier>`` (tier name in PascalCase)."""
OUTPUT_ROLE_CACHE_TTL: Final = "RoleCacheTtl"
"""Seconds; with :data:`OUTPUT_AUTHORIZER_CACHE_TTL`, what ``edgeauth revoke``'s bound is made of
(:mod:`edgeauth.core.propagation`)."""
OUTPUT_AUTHORIZER_CACHE_TTL: Final = "AuthorizerCacheTtl"
OUTPUT_REVOCATION_CHECK_SECONDS: Final = "RevocationCheckSeconds"
"""Seconds; the third part of ``edgeauth revoke``'s bound. A stack without it predates the check."""

# API Gateway access log format (JSON, one line per request). The CDK app sets it on the stage, the
# local gateway reproduces it, and the audit consumer normalises it into ``access`` audit events.
ACCESS_LOG_FIELDS: Final = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "apiId": "$context.apiId",
    "stage": "$context.stage",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "apiKeyId": "$context.identity.apiKeyId",
    "principalId": "$context.authorizer.principalId",
    "sub": "$context.authorizer.sub",
    "iss": "$context.authorizer.iss",
    "roles": "$context.authorizer.roles",
    "clientId": "$context.authorizer.clientId",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "authorizerError": "$context.authorizer.error",
    "errorMessage": "$context.error.message",
    "errorResponseType": "$context.error.responseType",
}

ACCESS_LOG_FIELDS_COMPACT: Final = {
    "requestId": "$context.requestId",
    "t": "$context.requestTimeEpoch",
    "apiId": "$context.apiId",
    "m": "$context.httpMethod",
    "res": "$context.resourcePath",
    "p": "$context.path",
    "status": "$context.status",
    "len": "$context.responseLength",
    "lat": "$context.responseLatency",
    "ilat": "$context.integrationLatency",
    "ist": "$context.integration.status",
    "ip": "$context.identity.sourceIp",
    "ua": "$context.identity.userAgent",
    "key": "$context.identity.apiKeyId",
    "sub": "$context.authorizer.sub",
    "iss": "$context.authorizer.iss",
    "rol": "$context.authorizer.roles",
    "cid": "$context.authorizer.clientId",
    "ast": "$context.authorizer.status",
    "alat": "$context.authorizer.latency",
    "aerr": "$context.authorizer.error",
    "err": "$context.error.message",
    "et": "$context.error.responseType",
}
"""The compact access log format: the ``$context`` values of :data:`ACCESS_LOG_FIELDS` that audit events
keep, under short keys: without ``extendedRequestId`` (unused), ``principalId`` (the authorizer sets it
to ``sub``), ``stage`` and ``protocol`` (the same on every line). About 45 % fewer bytes per request
ingested (docs/benchmarks.md "Capacity and cost model"). ``requestId``, ``status`` and ``apiId`` keep their
names: the access log metric filters select on them (``apiId`` is their dimension)."""

ACCESS_LOG_FORMATS: Final = {
    "full": json.dumps(ACCESS_LOG_FIELDS),
    "compact": json.dumps(ACCESS_LOG_FIELDS_COMPACT, separators=(",", ":")),
}
"""The stage's access log format text by the ``access_log_format`` setting. The audit consumer reads
lines of either (a deployment switches formats while lines of the other are still in flight)."""

# Headers the API adds to every request it proxies to the backend, from the authorizer's answer.
# API Gateway sets them itself (a client-sent header of the same name is overwritten), so the backend
# can trust them as long as it is reachable only through the API.
BACKEND_HEADERS: Final = {
    "X-Edgeauth-Sub": "context.authorizer.sub",
    "X-Edgeauth-Iss": "context.authorizer.iss",
    "X-Edgeauth-Roles": "context.authorizer.roles",
    "X-Edgeauth-Client-Id": "context.authorizer.clientId",
    "X-Edgeauth-Principal": "context.authorizer.principalId",
}
