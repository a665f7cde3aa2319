"""cdk-nag (AwsSolutions) findings this app accepts, each on the construct that causes it, with the reason.

Every acknowledgment names one finding (``AwsSolutions-IAM5[Resource::*]``, not the whole rule), so
a new wildcard in the same policy is still reported. ``tests/infra/test_nag.py`` fails on any finding
not acknowledged here.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_sns as sns
from constructs import IConstruct

from infra.stack import EdgeAuthStack

_PREFIX = "AwsSolutions::"

XRAY_WILDCARD = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; the role "
    "has no other wildcard resource (asserted by tests/infra)."
)
STREAM_LIST_WILDCARD = (
    "Lambda's DynamoDB event source needs dynamodb:ListStreams, which supports no resource-level "
    "permission; X-Ray likewise (PutTraceSegments, PutTelemetryRecords)."
)
RUNTIME = (
    "Pinned to Python 3.12: the bundle's wheels are installed for exactly this version "
    "(infra.bundling.PYTHON_VERSION). Move both together, after the tests pass on the new version."
)


def _ack(construct: IConstruct, finding: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=_PREFIX + finding, reason=reason))


def acknowledge_findings(stack: EdgeAuthStack) -> None:
    """Acknowledge every finding the design accepts; anything else fails ``cdk synth``."""
    for fn, reason in (
        (stack.authorizer.function, XRAY_WILDCARD),
        (stack.audit.consumer, XRAY_WILDCARD),
        (stack.role_events.function, STREAM_LIST_WILDCARD),
    ):
        _ack(fn.role or fn, "AwsSolutions-IAM5[Resource::*]", reason)
        _ack(fn, "AwsSolutions-L1", RUNTIME)

    rest_api = stack.api.rest_api
    _ack(
        rest_api,
        "AwsSolutions-COG4",
        "Methods use the edgeauth Lambda REQUEST authorizer, which verifies JWTs of any configured OIDC "
        "issuer and applies RBAC per route; a Cognito user pool authorizer would do neither.",
    )
    _ack(
        rest_api,
        "AwsSolutions-APIG2",
        "The API is an HTTP proxy: the backend owns its request schemas. Request validation without "
        "models would validate nothing; the authorizer rejects requests without a token.",
    )
    if stack.config.waf_acl_arn is None:
        _ack(
            rest_api,
            "AwsSolutions-APIG3",
            "A WAF web ACL is an account-level choice (rules, cost): the stage setting waf_acl_arn "
            "associates one (docs/deploying.md). Throttling and usage plans apply regardless.",
        )
    if stack.config.api_cloudwatch_role:
        _ack(
            rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role, with the managed policy AWS documents for it; "
            "it exists only so that the stage can write access and execution logs.",
        )

    _ack(
        stack.audit.stream,
        "AwsSolutions-KDS3",
        "The audit stream uses a customer-managed, rotated key instead of aws/kinesis so that reading "
        "audit records needs an explicit key grant (only the consumer has one).",
    )
    if stack.dpop_replay_table is not None:
        _ack(
            stack.dpop_replay_table.table,
            "AwsSolutions-DDB3",
            "The DPoP replay table holds only hashes of proof ids that expire within about an hour "
            "(dpop_max_age_seconds + leeway); a point-in-time restore would bring back nothing of use.",
        )
    topic = stack.monitoring.topic
    if isinstance(topic, sns.Topic):  # created for alarm_emails (an imported topic is not ours)
        _ack(
            topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry alarm names, states and metric values, no request data. SSE "
            "would need a customer-managed key whose policy lets CloudWatch publish (aws/sns does not).",
        )
    _ack(
        stack.audit.checkpoints,
        "AwsSolutions-DDB3",
        "The audit consumer's checkpoints must never go back in time: a point-in-time restore would "
        "make it write again events it had committed (duplicates). Lost, only a batch in flight at "
        "that moment can be written twice (docs/audit.md, 'Exactly once').",
    )
    for queue in (stack.audit.dead_letters, stack.role_events.dead_letters):
        _ack(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the on-failure destination of a stream event source mapping.",
        )
