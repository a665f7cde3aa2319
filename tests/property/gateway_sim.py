"""A simulated API Gateway stage in front of the real :class:`~edgeauth.authorizer.Authorizer`.

What it does, in API Gateway's order, for one request ``(token, method, concrete path)`` at a time
``now`` of a simulated clock:

1. selects the resource with the reference selector (:func:`tests.property.model.ref_select`);
   no resource → ``no_route``;
2. identity sources: ``Authorization`` header, ``context.httpMethod``, ``context.resourcePath``;
   a missing header → 401 without calling the authorizer;
3. looks the answer up in its cache, keyed by the identity-source values (or by the token alone
   with ``key="token"``: the well-known bug, kept as a negative control), valid for ``ttl`` seconds;
   otherwise calls the authorizer with the REQUEST event API Gateway sends and caches the answer
   (``Unauthorized`` and errors are not cached);
4. evaluates the policy (fresh or cached) against this request's method ARN with IAM's rules,
   explicit Deny first: with :mod:`edgeauth_local.iam` AND with the reference matcher of
   :mod:`tests.property.model`, and insists that both agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edgeauth.authorizer import Authorizer, Unauthorized
from edgeauth.core.errors import DependencyError
from edgeauth_local.iam import AuthorizerAnswer, validate_answer
from tests.property.model import path_text, ref_evaluate, ref_select

API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123"
STAGE = "prod"

Outcome = Literal["allow", "deny", "unauthorized", "error", "no_route"]


@dataclass
class SimClock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    """What the caller got, and when the answer that decided it was computed."""

    outcome: Outcome
    decided_at: float
    template: str | None = None
    cached: bool = False


@dataclass
class SimGateway:
    authorizer: Authorizer
    routes: Sequence[str]
    clock: SimClock
    ttl: float
    key: Literal["identity_sources", "token"] = "identity_sources"
    cache: dict[tuple[str, ...], tuple[float, float, AuthorizerAnswer]] = field(default_factory=dict)
    authorizer_calls: int = 0
    request_count: int = 0

    def request(self, token: str | None, method: str, path: Sequence[str]) -> Served:
        self.request_count += 1
        now = self.clock()
        template = ref_select(self.routes, path)
        if template is None:
            return Served("no_route", now)
        if not token:
            return Served("unauthorized", now, template)
        header = f"Bearer {token}"
        key = (header, method, template) if self.key == "identity_sources" else (header,)
        entry = self.cache.get(key)
        cached = entry is not None and now < entry[0]
        if cached and entry is not None:
            _, decided_at, answer = entry
        else:
            decided_at = now
            self.authorizer_calls += 1
            try:
                raw = self.authorizer.authorize(self._event(header, method, template, path))
            except Unauthorized:
                return Served("unauthorized", now, template)
            except DependencyError:
                return Served("error", now, template)
            answer = validate_answer(json.loads(json.dumps(raw)))  # crosses the Lambda boundary as JSON
            if self.ttl > 0:
                self.cache[key] = (now + self.ttl, now, answer)
        arn = f"{API_ARN}/{STAGE}/{method}{path_text(path)}"
        product = answer.evaluate(arn)
        reference = ref_evaluate(answer.statements, arn)
        assert product == reference, f"IAM matchers disagree on {answer.statements} vs {arn}"
        return Served("allow" if product == "allow" else "deny", decided_at, template, cached)

    def _event(self, header: str, method: str, template: str, path: Sequence[str]) -> dict[str, Any]:
        p = path_text(path)
        return {
            "type": "REQUEST",
            "methodArn": f"{API_ARN}/{STAGE}/{method}{p}",
            "resource": template,
            "path": p,
            "httpMethod": method,
            "headers": {"Authorization": header},
            "multiValueHeaders": {"Authorization": [header]},
            "queryStringParameters": {},
            "pathParameters": {},
            "stageVariables": {},
            "requestContext": {
                "resourcePath": template,
                "httpMethod": method,
                "path": f"/{STAGE}{p}",
                "stage": STAGE,
                "requestId": f"req-{self.request_count}",
                "apiId": "abc123",
                "accountId": "123456789012",
                "identity": {"sourceIp": "203.0.113.7"},
            },
        }
