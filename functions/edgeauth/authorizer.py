"""The authorizer's request path: event → token → roles → decision → answer + audit line.

:class:`Authorizer` holds the injected parts (settings, token verifier, role store, audit sink) and
has no AWS client of its own; ``functions/authorizer/handler.py`` builds it once per container.

Outcomes (API Gateway semantics):

* authentication failure → raises ``Exception("Unauthorized")``: API Gateway answers 401;
* RBAC denial → a Deny policy for the route: 403;
* dependency fault (role table, JWKS, DPoP replay table) or a malformed event → the original error
  propagates: API Gateway answers 500 and caches nothing. A fault never allows and never caches a Deny.

DPoP (RFC 9449, README "DPoP"): only when an issuer has ``dpop`` on does the request path parse the
``DPoP`` scheme and header; otherwise the Bearer path is unchanged but for one dict lookup (a token
with ``cnf`` is never accepted as Bearer if it is DPoP-bound).

Nothing in the answer says why a request was refused; the audit line does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import Grants, RoleStore
from edgeauth.core.audit_line import DecisionRecord, principal_fragment, request_line
from edgeauth.core.dpop import DpopError, ReplayStore, bound_thumbprint, verify_proof
from edgeauth.core.errors import (
    AuthenticationError,
    ConfigError,
    DependencyError,
    ReplayStoreError,
    RequestError,
    TokenClaimError,
)
from edgeauth.core.policy import MethodArn, authorizer_answer
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


@dataclass(slots=True)
class AuthorizerRequest:
    """The parts of a REQUEST-authorizer event the decision uses (never changed once built).

    Not ``frozen``: a frozen dataclass sets each field through ``object.__setattr__``, which made
    building this one of the larger costs of a repeated token (README "Benchmarks").
    """

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
        # other length can lower-case to "authorization"). multiValueHeaders wins when it has one
        # (even with an empty list). Values that are not strings are dropped.
        authorization: list[str] = []
        found = False
        multi = event.get("multiValueHeaders")
        if multi and isinstance(multi, dict):
            for k, v in multi.items():
                if len(k) == 13 and k.lower() == "authorization":
                    found = True
                    for item in v if isinstance(v, list) else (v,):
                        if isinstance(item, str):
                            authorization.append(item)
        if not found:
            single = event.get("headers")
            if single and isinstance(single, dict):
                for k, v in single.items():
                    if len(k) == 13 and k.lower() == "authorization" and isinstance(v, str):
                        authorization.append(v)
        identity = ctx.get("identity") or {}
        path = event.get("path")
        return cls(
            method=method,
            resource=resource,
            path=path if isinstance(path, str) else None,
            method_arn=method_arn,
            authorization=authorization,
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


def authorization_credentials(values: list[str]) -> tuple[bool, str]:
    r"""``(is_dpop, token)`` of the Authorization header(s): scheme ``DPoP`` or ``Bearer``.

    Both schemes any case, one or more spaces, exactly one token: the regex
    ``(?i:dpop|bearer) +([^\s]+)`` (full match), as in :func:`bearer_token`.
    """
    if len(values) == 1:
        value = values[0]
        if value[:4].lower() == "dpop":
            rest = value[4:]
            token = rest.lstrip(" ")
            if len(token) == len(rest) or token.split() != [token]:
                raise AuthenticationError("malformed_authorization", "not 'DPoP <token>'")
            return True, token
    return False, bearer_token(values)


def _is_dpop_scheme(values: list[str]) -> bool:
    try:
        return authorization_credentials(values)[0]
    except AuthenticationError:
        return False


def dpop_proofs(event: Mapping[str, Any]) -> list[str]:
    """Every ``DPoP`` header value of the event (name case-insensitive; multiValueHeaders wins)."""
    values: list[Any] = []
    multi = event.get("multiValueHeaders") or {}
    found = [k for k in multi if len(k) == 4 and k.lower() == "dpop"] if isinstance(multi, dict) else []
    if found:
        for k in found:
            v = multi[k]
            values.extend(v if isinstance(v, list) else [v])
    else:
        single = event.get("headers") or {}
        if isinstance(single, dict):
            values.extend(v for k, v in single.items() if len(k) == 4 and k.lower() == "dpop")
    return [v for v in values if isinstance(v, str)]


def request_url(event: Mapping[str, Any]) -> str:
    """The URL the client called, as DPoP's ``htu`` names it: ``https://`` + domain + path.

    ``requestContext.domainName`` is the host the client used (an ``execute-api`` host or a custom
    domain) and ``requestContext.path`` the path it asked for: the stage included on an
    ``execute-api`` host (``/prod/accounts/42``), the base path included on a custom domain
    (``/v1/accounts/42``). API Gateway serves https only.
    """
    ctx = event.get("requestContext") or {}
    domain = ctx.get("domainName") if isinstance(ctx, dict) else None
    path = ctx.get("path") if isinstance(ctx, dict) else None
    if not isinstance(domain, str) or not domain or not isinstance(path, str) or not path.startswith("/"):
        raise RequestError("event lacks requestContext.domainName/path (needed to check a DPoP proof)")
    if any(c in domain for c in "/?#@\\ ") or any(c in path for c in "?#"):
        raise DpopError("invalid_dpop_proof", "the request URL cannot be compared with htu")
    return f"https://{domain}{path}"


# Bound on remembered answers (token × route), a few KB each; when full the memo is cleared, like
# the role cache (a cleared entry costs one decision and one answer to rebuild, not a verification).
MAX_CACHED_ANSWERS = 2048


@dataclass(frozen=True, slots=True)
class _CachedAnswer:
    """What one verified token gets on one route while its verification and grants stay the same.

    Valid only while ``TokenVerifier.verify`` returns this very ``verified`` object (it re-checks
    ``exp`` and the key on every call and drops the entry when either fails) and ``RoleStore.grants``
    returns this very ``grants`` object (a role-cache refresh builds a new one), so every input of the
    decision, the answer and the line's principal fields is unchanged.
    """

    verified: VerifiedToken
    grants: Grants
    answer: dict[str, Any]
    fragment: str  # audit_line.principal_fragment of the decision's record


def _copy_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of every container of an answer (its values are immutable strings): callers
    (the local gateway, tests) own what they get, so the cached answer is never handed out."""
    out = answer.copy()
    doc = answer["policyDocument"]
    out["policyDocument"] = {**doc, "Statement": [st.copy() for st in doc["Statement"]]}
    if "context" in answer:
        out["context"] = answer["context"].copy()
    return out


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
        replay_store: ReplayStore | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.store = store
        self.replay_store = replay_store
        self._dpop = any(i.dpop != "off" for i in settings.issuers)
        if self._dpop and replay_store is None:
            raise ConfigError(C.ENV_DPOP_REPLAY_TABLE, "an issuer has 'dpop' on but no replay store is set")
        self._emit = emit
        self._warn = warn
        self._clock = clock
        self._first_call = True
        # (id(verified), method, resourcePath, methodArn) -> _CachedAnswer: the repeated-token path.
        # ``id`` rather than the token's text (up to 8 KB, hashed afresh per request): sound because
        # the entry holds ``verified`` alive, so no other object can have that id while it exists,
        # and a hit also requires ``cached.verified is verified``.
        self._answers: dict[tuple[int, str, str, str], _CachedAnswer] = {}

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
        fragment: str | None = None  # set once the decision's principal fields are final
        try:
            arn = MethodArn.parse(request.method_arn)
            template = _template(request.resource)
            if self._dpop:
                is_dpop, token = authorization_credentials(request.authorization)
            else:
                is_dpop = False
                try:
                    token = bearer_token(request.authorization)
                except AuthenticationError as e:
                    if e.reason == "malformed_authorization" and _is_dpop_scheme(request.authorization):
                        raise AuthenticationError("dpop_not_enabled", "no issuer accepts DPoP") from None
                    raise
            verified, _ = self.verifier.verify(token)
            record.iss, record.sub, record.kid = verified.issuer.issuer, verified.sub, verified.kid
            record.jti, record.client_id = verified.jti, verified.client_id
            if self._dpop or "cnf" in verified.claims:
                self._check_dpop(event, request.method, token, verified, is_dpop)
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
            # A repeated token on a route already answered: same verification, same grants, so
            # the same decision, answer and audit fields; only the request's own fields differ.
            key = (id(verified), request.method, request.resource, request.method_arn)
            cached = self._answers.get(key)
            if cached is not None and cached.verified is verified and cached.grants is grants:
                answer = _copy_answer(cached.answer)
                fragment = cached.fragment
                return answer
            decision = self._decide(grants, request.method, template)
            record.roles = list(grants.effective.granting)
            record.decision = "allow" if decision.allowed else "deny"
            record.reason = decision.reason
            record.rule = decision.rule
            answer = self._answer(arn, request.method, template, decision, verified, grants)
            fragment = principal_fragment(record)
            if len(self._answers) >= MAX_CACHED_ANSWERS:
                self._answers.clear()
            self._answers[key] = _CachedAnswer(verified, grants, answer, fragment)
            return _copy_answer(answer)
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
            self._emit(
                request_line(
                    fragment if fragment is not None else principal_fragment(record),
                    record.path,
                    record.source_ip,
                    record.request_id,
                    record.api_id,
                    record.stage,
                    (time.perf_counter() - started) * 1000.0,
                    record.role_cache_hit,
                    record.xray_trace_id,
                    now=self._clock(),
                )
            )

    def _check_dpop(
        self, event: Mapping[str, Any], method: str, token: str, verified: VerifiedToken, is_dpop: bool
    ) -> None:
        """RFC 9449 §7 for a verified token: scheme and binding, then the proof, then its ``jti``."""
        issuer = verified.issuer
        try:
            jkt = bound_thumbprint(verified.claims)
        except DpopError:
            raise TokenClaimError("claim_type", "cnf", "an object with a string jkt", "other") from None
        if not is_dpop:
            if jkt is not None:
                # §7.2: a DPoP-bound token is never accepted as a bearer token (no downgrade).
                raise AuthenticationError("dpop_downgrade", "DPoP-bound token presented as Bearer")
            if issuer.dpop == "required":
                raise AuthenticationError("dpop_required", "this issuer's tokens need the DPoP scheme")
            return
        if issuer.dpop == "off":
            raise AuthenticationError("dpop_not_enabled", "this issuer's tokens are Bearer only")
        if jkt is None:
            raise AuthenticationError("dpop_unbound_token", "DPoP scheme with a token without cnf.jkt")
        proofs = dpop_proofs(event)
        if len(proofs) != 1:
            raise DpopError("invalid_dpop_proof", f"{len(proofs)} DPoP headers (exactly one is required)")
        proof = verify_proof(
            proofs[0],
            method=method,
            url=request_url(event),
            access_token=token,
            algorithms=issuer.dpop_algorithms,
            now=self._clock(),
            max_age_seconds=issuer.dpop_max_age_seconds,
            leeway_seconds=issuer.leeway_seconds,
        )
        if proof.jkt != jkt:
            raise DpopError("invalid_dpop_proof", "the proof's key is not the token's cnf.jkt")
        # Only now, after the signature: unsigned junk never reaches the table. The record lives
        # as long as the proof could be accepted (iat + window), plus the leeway for clock skew.
        expires_at = proof.iat + issuer.dpop_max_age_seconds + issuer.leeway_seconds
        if self.replay_store is None:  # not reached: __init__ requires one when an issuer has DPoP on
            raise ReplayStoreError("no DPoP replay store")
        if not self.replay_store.first_use(proof.replay_key(), expires_at):
            raise AuthenticationError("dpop_replay", "the proof's jti was already used")

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
        return authorizer_answer(
            arn,
            method,
            template,
            decision.allowed,
            sub=verified.sub,
            issuer=verified.issuer.issuer,
            roles=grants.context_roles,
            client_id=verified.client_id,
            usage_key=grants.usage_key or self.settings.default_usage_key,
        )


def _template(resource: str) -> Template:
    try:
        return parse_template(resource)
    except TemplateError as e:
        raise RequestError(f"resourcePath is not a resource template: {e}") from e
