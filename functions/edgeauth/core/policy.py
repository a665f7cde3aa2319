"""The authorizer's answer: an IAM policy for exactly one route, plus context and usage key.

API Gateway caches the answer per identity-source values (token, method, resource template), and
replays it for later requests with the same values. So the policy names the route's template with
every path variable as ``*`` (``…/GET/accounts/*`` for ``/accounts/{id}``), never the literal path:
a literal resource would make the cached answer deny ``/accounts/43`` after allowing
``/accounts/42``. In IAM ``*`` also matches ``/``; that is safe only because the cache key pins the
template, so no cached answer is replayed for another route.

Written by hand rather than with Powertools' ``APIGatewayAuthorizerResponse``: the answer is one
statement, and building it directly keeps the Powertools data-classes import off the cold start.
The shape is the one API Gateway documents for Lambda authorizer output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeauth import constants as C
from edgeauth.core.errors import RequestError
from edgeauth.core.routes import Template, template_arn_suffix

# methodArn text -> its parse, bounded (cleared when full; dict get/set/clear are atomic).
_PARSED: dict[str, MethodArn] = {}
_MAX_PARSED = 1024


@dataclass(frozen=True, slots=True)
class MethodArn:
    """``arn:<partition>:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>``."""

    api_arn: str  # up to and including the API id
    stage: str
    method: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        # Parsed ARNs are remembered (they are immutable): building a frozen dataclass costs more
        # than the checks, and a container sees the same few routes again and again.
        parsed = _PARSED.get(arn)
        if parsed is not None:
            return parsed
        parts = arn.split("/", 3)
        head = parts[0].split(":")
        if (
            len(parts) < 3
            or len(head) != 6
            or head[0] != "arn"
            or head[2] != "execute-api"
            or not head[5]
            or not parts[1]
            or not parts[2]
        ):
            raise RequestError("methodArn is not an execute-api method ARN")
        parsed = cls(parts[0], parts[1], parts[2])
        if len(_PARSED) >= _MAX_PARSED:
            _PARSED.clear()
        _PARSED[arn] = parsed
        return parsed

    def route(self, method: str, template: Template) -> str:
        return f"{self.api_arn}/{self.stage}/{method}{template_arn_suffix(template)}"


def route_policy(
    method_arn: MethodArn,
    method: str,
    template: Template,
    allow: bool,
    principal_id: str,
    context: dict[str, str | int | bool] | None = None,
    usage_key: str | None = None,
) -> dict[str, Any]:
    """The Lambda authorizer output for one route (Allow or Deny)."""
    answer: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allow else "Deny",
                    "Resource": method_arn.route(method, template),
                }
            ],
        },
    }
    if context:
        answer["context"] = context
    if usage_key and allow:
        answer["usageIdentifierKey"] = usage_key
    return answer


def authorizer_answer(
    method_arn: MethodArn,
    method: str,
    template: Template,
    allowed: bool,
    *,
    sub: str,
    issuer: str,
    roles: str,
    client_id: str | None,
    usage_key: str | None,
) -> dict[str, Any]:
    """The authorizer's whole answer for a decision: policy, context and usage key.

    One definition for the authorizer and ``edgeauth explain``, so the explanation is always the
    answer API Gateway would get. The context holds scalars only: ``sub`` and ``iss`` always; for an
    Allow also ``roles`` (comma-separated granting roles) and ``clientId``. Nothing says why a
    request was refused.
    """
    context: dict[str, str | int | bool] = {C.CONTEXT_SUBJECT: sub, C.CONTEXT_ISSUER: issuer}
    if allowed:
        context[C.CONTEXT_ROLES] = roles
        if client_id:
            context[C.CONTEXT_CLIENT_ID] = client_id
    return route_policy(method_arn, method, template, allowed, sub or "anonymous", context, usage_key)
