"""The authorizer's request path: event → token → roles → decision → answer + audit line.

:class:`Authorizer` holds the injected parts (settings, token verifier, role store, audit sink) and
has no AWS client of its own; ``functions/authorizer/handler.py`` builds it once per container.

Outcomes (API Gateway semantics):

* authentication failure → raises ``Exception("Unauthorized")``: API Gateway answers 401;
* RBAC denial → a Deny policy for the route: 403;
* dependency fault (role table, JWKS) or a malformed event → the original error propagates:
  API Gateway answers 500 and caches nothing. A fault never allows and never caches a Deny.

Nothing in the answer says why a request was refused; the audit line does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import Grants, RoleStore
from edgeauth.core.audit_line import DecisionRecord, decision_line
from edgeauth.core.errors import AuthenticationError, DependencyError, RequestError
from edgeauth.core.policy import MethodArn, route_policy
from edgeauth.core.roles import Decision, decide
from edgeauth.core.routes import Template, TemplateError, parse_template
from edgeauth.core.settings import Settings
from edgeauth.core.tokens import TokenVerifier, VerifiedToken

# "Bearer" (any case), one or more spaces, exactly one token (no spaces inside, nothing after):
# the regex ``(?i:bearer) +([^\s]+)``, implemented without ``re`` in :func:`bearer_token`.


class Unauthorized(Exception):
    """Raised for a 401. The message must be exactly ``Unauthorized`` for API Gateway."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@dataclass(frozen=True, slots=True)
class AuthorizerRequest:
    """The parts of a REQUEST-authorizer event the decision uses."""

    method: str
    resource: str
    path: str | None
    method_arn: str
    authorization: list[str]
    request_id: str | None
    source_ip: str | None
    api_id: str | None
    stage: str | None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AuthorizerRequest:
        ctx = event.get("requestContext") or {}
        method = ctx.get("httpMethod") or event.get("httpMethod")
        resource = ctx.get("resourcePath") or event.get("resource")
        method_arn = event.get("methodArn")
        if not isinstance(method, str) or not isinstance(resource, str) or not isinstance(method_arn, str):
            raise RequestError("event lacks requestContext.httpMethod/resourcePath or methodArn")
        # Header names match case-insensitively; ``len(k) == 13`` first is only a cheap filter (no
        # other length can lower-case to "authorization"). multiValueHeaders wins when it has one.
        values: list[str] = []
        multi = event.get("multiValueHeaders") or {}
        found = (
            [k for k in multi if len(k) == 13 and k.lower() == "authorization"]
            if isinstance(multi, dict)
            else []
        )
        if found:
            for k in found:
                v = multi[k]
                values.extend(v if isinstance(v, list) else [v])
        else:
            single = event.get("headers") or {}
            if isinstance(single, dict):
                values.extend(v for k, v in single.items() if len(k) == 13 and k.lower() == "authorization")
        identity = ctx.get("identity") or {}
        return cls(
            method=method,
            resource=resource,
            path=event.get("path") if isinstance(event.get("path"), str) else None,
            method_arn=method_arn,
            authorization=[v for v in values if isinstance(v, str)],
            request_id=ctx.get("requestId"),
            source_ip=identity.get("sourceIp") if isinstance(identity, dict) else None,
            api_id=ctx.get("apiId"),
            stage=ctx.get("stage"),
        )


def bearer_token(values: list[str]) -> str:
    """The single Bearer token of the Authorization header(s). Raises AuthenticationError."""
    if not values:
        raise AuthenticationError("missing_token", "no Authorization header")
    if len(values) > 1:
        raise AuthenticationError("multiple_authorization", "more than one Authorization value")
    # Exactly the language of the regex ``(?i:bearer) +([^\s]+)`` (full match), in C-speed string
    # operations: per character, ``c.lower() == x`` is what the case-insensitive match accepts, and
    # ``str.split()`` splits on what ``\s`` matches (both checked over every code point).
    value = values[0]
    rest = value[6:]
    token = rest.lstrip(" ")
    if value[:6].lower() != "bearer" or len(token) == len(rest) or token.split() != [token]:
        raise AuthenticationError("malformed_authorization", "not 'Bearer <token>'")
    return token


class Authorizer:
    """Decides one request. Thread-safe (the local gateway calls it from several threads)."""

    def __init__(
        self,
        settings: Settings,
        verifier: TokenVerifier,
        store: RoleStore,
        *,
        emit: Callable[[str], None],
        warn: Callable[[str, Mapping[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.store = store
        self._emit = emit
        self._warn = warn
        self._clock = clock
        self._first_call = True

    def authorize(self, event: Mapping[str, Any], trace_id: str | None = None) -> dict[str, Any]:
        started = time.perf_counter()
        if self._first_call:
            # Cold start: create the DynamoDB client before the first token check imports PyJWT and
            # cryptography. Those imports then reuse the memory botocore freed while loading its
            # models, instead of raising the peak: about 1.8 MB less peak RSS (README "Benchmarks").
            self._first_call = False
            self.store.warm()
        request = AuthorizerRequest.from_event(event)
        record = DecisionRecord(
            decision="error",
            reason="internal_error",
            method=request.method,
            resource=request.resource,
            path=request.path,
            source_ip=request.source_ip,
            request_id=request.request_id,
            api_id=request.api_id,
            stage=request.stage,
            xray_trace_id=trace_id,
        )
        token: str | None = None
        try:
            arn = MethodArn.parse(request.method_arn)
            template = _template(request.resource)
            token = bearer_token(request.authorization)
            verified, _ = self.verifier.verify(token)
            record.iss, record.sub, record.kid = verified.issuer.issuer, verified.sub, verified.kid
            record.jti, record.client_id = verified.jti, verified.client_id
            grants, record.role_cache_hit = self.store.grants(
                verified.issuer.issuer, verified.sub, verified.groups, verified.client_id
            )
            if grants.problems and not record.role_cache_hit and self._warn:
                self._warn(
                    "role table items are malformed; they grant nothing",
                    {"iss": verified.issuer.issuer, "sub": verified.sub, "problems": grants.problems},
                )
            if grants.not_before is not None and (verified.iat is None or verified.iat <= grants.not_before):
                raise AuthenticationError("revoked", "token issued before the subject's not_before")
            decision = self._decide(grants, request.method, template)
            record.roles = list(grants.effective.granting)
            record.decision = "allow" if decision.allowed else "deny"
            record.reason = decision.reason
            record.rule = decision.rule
            return self._answer(arn, request.method, template, decision, verified, grants)
        except AuthenticationError as e:
            record.decision, record.reason = "unauthorized", e.reason
            if record.iss is None and token is not None:
                record.iss, record.kid = self.verifier.unverified_hint(token)
            raise Unauthorized() from None
        except DependencyError as e:
            record.decision, record.reason = "error", e.reason
            raise
        except RequestError:
            record.decision, record.reason = "error", "bad_event"
            raise
        finally:
            record.latency_ms = (time.perf_counter() - started) * 1000.0
            self._emit(decision_line(record, now=self._clock()))

    def _decide(self, grants: Grants, method: str, template: Template) -> Decision:
        key = (method, template.text)
        decision = grants.decisions.get(key)
        if decision is None:
            decision = decide(method, template, grants.effective)
            grants.decisions[key] = decision
        return decision

    def _answer(
        self,
        arn: MethodArn,
        method: str,
        template: Template,
        decision: Decision,
        verified: VerifiedToken,
        grants: Grants,
    ) -> dict[str, Any]:
        context: dict[str, str | int | bool] = {
            C.CONTEXT_SUBJECT: verified.sub,
            C.CONTEXT_ISSUER: verified.issuer.issuer,
        }
        if decision.allowed:
            context[C.CONTEXT_ROLES] = grants.context_roles
            if verified.client_id:
                context[C.CONTEXT_CLIENT_ID] = verified.client_id
        usage_key = grants.usage_key or self.settings.default_usage_key
        return route_policy(
            arn, method, template, decision.allowed, verified.sub or "anonymous", context, usage_key
        )


def _template(resource: str) -> Template:
    try:
        return parse_template(resource)
    except TemplateError as e:
        raise RequestError(f"resourcePath is not a resource template: {e}") from e
