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

import copy
from typing import Any, NamedTuple, NoReturn

from edgeauth import constants as C
from edgeauth.core.errors import RequestError
from edgeauth.core.routes import Template, template_arn_suffix


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("an authorizer answer is read-only; change a copy (copy.deepcopy) instead")


class ReadOnlyDict(dict[str, Any]):
    """A ``dict`` that refuses every change: the authorizer hands out the very answer it keeps.

    JSON-encodes, compares and reads like a plain ``dict`` (what the Lambda runtime and API
    Gateway see is unchanged). ``copy.copy``/``copy.deepcopy`` give plain, changeable copies.
    Copying each answer before handing it out cost about 1 µs per repeated token (docs/benchmarks.md); refusing changes makes sharing it safe instead.
    """

    __slots__ = ()

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class ReadOnlyList(list[Any]):
    """A ``list`` that refuses every change (the policy's ``Statement``); see :class:`ReadOnlyDict`."""

    __slots__ = ()

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


def read_only(value: Any) -> Any:
    """``value`` with every ``dict`` and ``list`` in it made read-only (other values as they are)."""
    if isinstance(value, dict):
        return ReadOnlyDict({k: read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return ReadOnlyList(read_only(v) for v in value)
    return value


# methodArn text -> its parse, bounded (cleared when full; dict get/set/clear are atomic).
_PARSED: dict[str, MethodArn] = {}
_MAX_PARSED = 1024


class MethodArn(NamedTuple):
    """``arn:<partition>:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>``."""

    api_arn: str  # up to and including the API id
    stage: str
    method: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        # Parsed ARNs are remembered (they are immutable): a container sees the same few routes
        # again and again.
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
