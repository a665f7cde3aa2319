"""The authorizer's audit line: one JSON object per decision, on stdout.

Shape. The line has the keys of a Powertools Logger record (``level``, ``location``, ``message``,
``timestamp``, ``service``, ``xray_trace_id``) so that it reads like every other log line of the
function, plus the audit fields below at the top level, plus an Embedded Metric Format (EMF) block
(``_aws``) so that CloudWatch extracts the decision metrics from the same line:

=================  ==========================================================================
key                meaning
=================  ==========================================================================
audit_version      :data:`edgeauth.constants.AUDIT_SCHEMA_VERSION`
event              always ``"decision"``
decision           ``allow`` | ``deny`` (RBAC, 403) | ``unauthorized`` (401) | ``error`` (500)
reason             stable reason code (``allowed``, ``explicit_deny``, ``no_matching_permission``,
                   ``no_roles``, ``expired``, ``bad_signature``, ... see README)
rule               the permission that decided (``role:allow:GET /accounts/{id}``), or null
iss, sub, kid,     from the token, only once its signature is verified (null otherwise, except
jti, client_id     ``kid`` and ``iss`` which are recorded as presented when verification failed)
roles              effective role names (list)
method, resource   ``requestContext.httpMethod`` and ``requestContext.resourcePath``
path               the request path
source_ip, request_id, api_id, stage
latency_ms         time spent in the authorizer for this decision
Decisions,         EMF metric values (namespace ``EdgeAuth``, dimensions ``[decision, reason]``)
LatencyMs,
RoleCacheHit
=================  ==========================================================================

Why not ``Logger.info``: Powertools' Logger costs about twice a signature check per line, which
alone would break the authorizer's latency budget (see README "Benchmarks"). This module writes the
same structured shape directly. Powertools stays in use for every other log line and metric.

Strings are emitted with ``json.dumps``, so a value cannot break out of its field (no newline or
quote injection). The token, its signature and any secret are never passed here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from edgeauth import constants as C

_EMF_METRICS = json.dumps(
    [
        {
            "Namespace": C.METRICS_NAMESPACE,
            "Dimensions": [["decision", "reason"]],
            "Metrics": [
                {"Name": "Decisions", "Unit": "Count"},
                {"Name": "LatencyMs", "Unit": "Milliseconds"},
                {"Name": "RoleCacheHit", "Unit": "Count"},
            ],
        }
    ],
    separators=(",", ":"),
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


@dataclass(slots=True)
class DecisionRecord:
    """Everything the audit line says about one decision."""

    decision: str
    reason: str
    method: str | None = None
    resource: str | None = None
    path: str | None = None
    source_ip: str | None = None
    request_id: str | None = None
    api_id: str | None = None
    stage: str | None = None
    rule: str | None = None
    iss: str | None = None
    sub: str | None = None
    kid: str | None = None
    jti: str | None = None
    client_id: str | None = None
    roles: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    role_cache_hit: bool = False
    xray_trace_id: str | None = None


def decision_line(
    record: DecisionRecord, service: str = C.AUTHORIZER_SERVICE, now: float | None = None
) -> str:
    """Render one audit line (no trailing newline)."""
    ts = time.time() if now is None else now
    ms = int(ts * 1000)
    body: dict[str, Any] = {
        "level": "INFO",
        "location": "edgeauth.audit",
        "message": C.AUDIT_DECISION_MESSAGE,
        "timestamp": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ts))}.{ms % 1000:03d}Z",
        "service": service,
        "xray_trace_id": record.xray_trace_id,
        "audit_version": C.AUDIT_SCHEMA_VERSION,
        "event": "decision",
        "decision": record.decision,
        "reason": record.reason,
        "rule": record.rule,
        "iss": record.iss,
        "sub": record.sub,
        "kid": record.kid,
        "jti": record.jti,
        "client_id": record.client_id,
        "roles": record.roles,
        "method": record.method,
        "resource": record.resource,
        "path": record.path,
        "source_ip": record.source_ip,
        "request_id": record.request_id,
        "api_id": record.api_id,
        "stage": record.stage,
        "latency_ms": round(record.latency_ms, 3),
        "Decisions": 1,
        "LatencyMs": round(record.latency_ms, 3),
        "RoleCacheHit": 1 if record.role_cache_hit else 0,
    }
    encoded = _dumps(body)
    return f'{{"_aws":{{"Timestamp":{ms},"CloudWatchMetrics":{_EMF_METRICS}}},{encoded[1:]}'
