"""The alarms the stack creates, as data: what each means, how it fires, what sets its threshold.

:class:`infra.constructs.monitoring.Monitoring` builds the alarms from :data:`ALARMS` (and refuses one
that is not here); the documentation's operations page lists them from it and has a runbook entry for
each (a test checks every alarm of the synthesized template has one). No CDK import: the
documentation build reads this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from infra import constants as ids


@dataclass(frozen=True, slots=True)
class AlarmDefinition:
    """One alarm: what it means (its CloudWatch description), how it fires, what sets its threshold.

    ``kind`` ``fault``: every data point is a failed caller or lost work, so the first breaching
    window alarms and the alarm stays until ``evaluation_periods`` windows in a row are clean.
    ``level``: callers or bursts move the value briefly, so only a value that lasts every evaluated
    window alarms. ``threshold`` names the ``alarms`` setting of ``cdk.json`` (or says it is fixed).
    The documentation's operations page lists these and has a runbook entry for each.
    """

    alarm_id: str
    kind: Literal["fault", "level"]
    threshold: str
    summary: str


ALARMS: Final[tuple[AlarmDefinition, ...]] = (
    AlarmDefinition(
        ids.ALARM_AUTHORIZER_FAULTS,
        "fault",
        "`authorizer_faults`",
        "The authorizer answered 500 (role table, JWKS endpoint or DPoP replay table failing, or an "
        "internal error).",
    ),
    AlarmDefinition(
        ids.ALARM_AUTHORIZER_THROTTLES,
        "fault",
        "1 (fixed)",
        "The authorizer was throttled (clients got 500): raise its reserved concurrency or the "
        "account's Lambda concurrency.",
    ),
    AlarmDefinition(
        ids.ALARM_AUTHORIZER_LATENCY,
        "level",
        "`authorizer_p99_ms`",
        "Authorizer p99 duration is high: JWKS endpoint or role table slow?",
    ),
    AlarmDefinition(
        ids.ALARM_API_5XX,
        "fault",
        "`api_5xx`",
        "The API answered 5xx (authorizer failure, backend error or timeout).",
    ),
    AlarmDefinition(
        ids.ALARM_UNAUTHORIZED_RATE,
        "level",
        "`unauthorized_percent` (once a window has `rate_min_requests`)",
        "Too many requests answered 401: a client misconfigured, a key rotated, or someone probing the "
        "API. Query the audit log group by reason.",
    ),
    AlarmDefinition(
        ids.ALARM_FORBIDDEN_RATE,
        "level",
        "`forbidden_percent` (once a window has `rate_min_requests`)",
        "Too many requests answered 403: a client misconfigured, a role edit, or someone probing the "
        "API. Query the audit log group by reason.",
    ),
    AlarmDefinition(
        ids.ALARM_THROTTLED,
        "level",
        "`throttled`",
        "Many requests answered 429 (usage plan or stage throttle, or quota).",
    ),
    AlarmDefinition(
        ids.ALARM_CONSUMER_ITERATOR_AGE,
        "level",
        "`iterator_age_seconds`",
        "The audit consumer is falling behind its stream.",
    ),
    AlarmDefinition(
        ids.ALARM_ROLE_EVENTS_ITERATOR_AGE,
        "level",
        "`iterator_age_seconds`",
        "The role-events function (role edits not yet effective) is falling behind its stream.",
    ),
    AlarmDefinition(
        ids.ALARM_AUDIT_DEAD_LETTERS,
        "fault",
        "1 (fixed)",
        "Batches of audit records were dead-lettered: their events are not in the audit log group. "
        "'edgeauth audit replay' writes them (exactly once) while the stream still holds the records.",
    ),
    AlarmDefinition(
        ids.ALARM_ROLE_EVENTS_DEAD_LETTERS,
        "fault",
        "1 (fixed)",
        "Batches of role-table events were dead-lettered: their records were not processed. The "
        "messages name the shard and sequence numbers to replay.",
    ),
    AlarmDefinition(
        ids.ALARM_CACHE_FLUSH_FAILED,
        "fault",
        "1 (fixed)",
        "The role-events function could not flush the authorizer cache: role edits and revocations "
        "take effect only when cached answers expire (the authorizer cache TTL).",
    ),
    AlarmDefinition(
        ids.ALARM_AUDIT_DELIVERY_ERRORS,
        "fault",
        "`audit_delivery_errors`",
        "CloudWatch Logs failed to deliver lines of a source log group to the audit stream (it retries "
        "for up to 24 hours, then drops them: they would never reach the audit trail).",
    ),
    AlarmDefinition(
        ids.ALARM_AUDIT_DELIVERY_THROTTLING,
        "level",
        "`audit_delivery_throttling`",
        "The audit stream throttled CloudWatch Logs' deliveries of audit lines (delayed and retried).",
    ),
    AlarmDefinition(
        ids.ALARM_AUDIT_WRITE_THROTTLED,
        "level",
        "`audit_write_throttles`",
        "CloudWatch Logs or DynamoDB throttled the audit consumer's writes (retried, or the records "
        "delivered again: the audit log group falls behind).",
    ),
)
"""Every alarm the stack creates. :class:`Monitoring` refuses to create one that is not here."""
ALARM_DEFINITIONS: Final = {a.alarm_id: a for a in ALARMS}
RUNBOOK: Final = "docs/operations.md"
"""Where each alarm's runbook entry is (an anchor per alarm id, lower-case), named in its description."""
