"""The authorizer's request path: event → token → roles → decision → answer + audit line.

:class:`Authorizer` holds the injected parts (settings, token verifier, role store, audit sink) and
has no AWS client of its own; ``functions/authorizer/handler.py`` builds it once per container.

Outcomes (API Gateway semantics):

* authentication failure → raises ``Exception("Unauthorized")``: API Gateway answers 401;
* RBAC denial → a Deny policy for the route: 403;
* dependency fault (role table, JWKS, DPoP replay table) or a malformed event → the original error
  propagates: API Gateway answers 500 and caches nothing. A fault never allows and never caches a Deny.

DPoP (RFC 9449, docs/authorizer.md "DPoP (RFC 9449)"): only when an issuer has ``dpop`` on does the request path parse the
``DPoP`` scheme and header; otherwise the Bearer path is unchanged but for one attribute test (a
DPoP-bound token is never accepted as Bearer). A token with a binding that cannot be checked (any
``cnf`` but ``{"jkt": ...}``) never verifies (``TokenVerifier``, reason ``unsupported_binding``).

Nothing in the answer says why a request was refused; the audit line does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import Grants, RoleStore
from edgeauth.core.audit_line import (
    DecisionRecord,
    line_prefix,
    principal_fragment,
    principal_head,
    request_line,
    roles_tail,
    string_list,
    token_fields,
)
from edgeauth.core.dpop import ReplayStore, verify_proof
from edgeauth.core.errors import (
    AuthenticationError,
    ConfigError,
    DependencyError,
    DpopError,
    ReplayStoreError,
    RequestError,
)
from edgeauth.core.policy import MethodArn, authorizer_answer, read_only
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


class AuthorizerRequest:
    """The parts of a REQUEST-authorizer event the decision uses (never changed once built).

    The records of the request path are slotted classes (as cheap to build and read as a slotted
    dataclass; a named tuple costs about 80 ns more to build and 9 ns per field read): not
    ``dataclasses``, whose import (with ``inspect``) and class creation would add about 15 ms to
    every cold start (docs/benchmarks.md).
    """

    __slots__ = (
        "api_id",
        "authorization",
        "method",
        "method_arn",
        "path",
        "request_id",
        "resource",
        "source_ip",
        "stage",
    )

    def __init__(
        self,
        method: str,
        resource: str,
        path: str | None,
        method_arn: str,
        authorization: list[str],
        request_id: str | None,
        source_ip: str | None,
        api_id: str | None,
        stage: str | None,
    ) -> None:
        self.method = method
        self.resource = resource
        self.path = path
        self.method_arn = method_arn
        self.authorization = authorization
        self.request_id = request_id
        self.source_ip = source_ip
        self.api_id = api_id
        self.stage = stage

    @classmethod
    def from_event(
        cls, event: Mapping[str, Any], authorization: list[str] | None = None
    ) -> AuthorizerRequest:
        """The request's parts; ``authorization``, when given, is the event's already looked-up
        ``Authorization`` values (the repeated-token path's :func:`_lone_authorization`)."""
        ctx = event.get("requestContext") or {}
        method = ctx.get("httpMethod") or event.get("httpMethod")
        resource = ctx.get("resourcePath") or event.get("resource")
        method_arn = event.get("methodArn")
        if not isinstance(method, str) or not isinstance(resource, str) or not isinstance(method_arn, str):
            raise RequestError("event lacks requestContext.httpMethod/resourcePath or methodArn")
        if authorization is None:
            authorization = _header_values(event, "authorization")
        path, source_ip, request_id, api_id, stage = _request_fields(event, ctx)
        return cls(method, resource, path, method_arn, authorization, request_id, source_ip, api_id, stage)


def _request_fields(
    event: Mapping[str, Any], ctx: Mapping[str, Any]
) -> tuple[str | None, Any, Any, Any, Any]:
    """The request's own audit fields: ``(path, source_ip, request_id, api_id, stage)``."""
    identity = ctx.get("identity")
    path = event.get("path")
    return (
        path if isinstance(path, str) else None,
        identity.get("sourceIp") if isinstance(identity, dict) else None,
        ctx.get("requestId"),
        ctx.get("apiId"),
        ctx.get("stage"),
    )


def _header_values(event: Mapping[str, Any], name: str) -> list[str]:
    """Every string value of header ``name`` (lower case) in the event, names matched
    case-insensitively; ``multiValueHeaders`` wins when it has the header (even with an empty list).
    """
    multi = event.get("multiValueHeaders")
    if multi and isinstance(multi, dict):
        found = _matching(multi, name)
        if found:
            out: list[str] = []
            for v in found:
                out.extend(item for item in (v if isinstance(v, list) else (v,)) if isinstance(item, str))
            return out
    single = event.get("headers")
    if single and isinstance(single, dict):
        return [v for v in _matching(single, name) if isinstance(v, str)]
    return []


_CAPITALISED = {"authorization": "Authorization", "dpop": "DPoP"}


def _matching(headers: dict[Any, Any], name: str) -> list[Any]:
    """The values of every header in ``headers`` whose name is ``name`` (lower case) in any case.

    Usually done in C: the names are joined and lower-cased once, and when ``name`` occurs in that
    text once, under one of its two usual spellings, that is the only match. Any other case
    (several, another spelling, a longer name containing it, a name that is not a string) takes
    the loop over every name.
    """
    try:
        count = "\n".join(headers).lower().count(name)
    except TypeError:  # a name that is not a string
        count = -1
    if count == 0:
        return []
    if count == 1:
        for spelling in (_CAPITALISED[name], name):
            if spelling in headers:
                return [headers[spelling]]
    # No other length can lower-case to ``name`` (checked over every code point for these names).
    n = len(name)
    return [v for k, v in headers.items() if isinstance(k, str) and len(k) == n and k.lower() == name]


def _lone_authorization(event: Mapping[str, Any]) -> str | None:
    """The event's one ``Authorization`` value when it is the plain case (one name, usual spelling,
    one string value); ``None`` otherwise (then :func:`_header_values` decides). Raises
    AttributeError or TypeError on an event of the wrong shape.

    The same count as :func:`_matching`, written out: this runs on every repeated-token request,
    where going through ``_matching`` measured 0.30× → 0.32× the floor (docs/benchmarks.md).
    ``tests/unit/test_hot_path_parts.py`` checks it never disagrees with :func:`_header_values`."""
    multi = event.get("multiValueHeaders")
    headers = multi if multi else event.get("headers")
    if not headers:
        return None
    n = "\n".join(headers).lower().count("authorization")
    if n == 0 and headers is multi:
        headers = event.get("headers")
        if not headers:
            return None
        n = "\n".join(headers).lower().count("authorization")
    if n != 1:
        return None
    value = headers.get("Authorization")
    if value is None:
        value = headers.get("authorization")
    if headers is multi:
        if value.__class__ is not list or len(value) != 1:
            return None
        value = value[0]
    return value if value.__class__ is str else None


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
    token = _lone_token(value[6:]) if value[:6].lower() == "bearer" else None
    if token is None:
        raise AuthenticationError("malformed_authorization", "not 'Bearer <token>'")
    return token


def _lone_token(rest: str) -> str | None:
    r"""The token when ``rest`` (what follows the scheme) is one or more spaces and then one token
    with no whitespace in it (the regex `` +([^\s]+)``); ``None`` otherwise."""
    token = rest.lstrip(" ")
    if len(token) == len(rest) or not token or _has_space(token):
        return None
    return token


def _has_space(text: str) -> bool:
    r"""Whether ``text`` has a character ``str.split()`` splits on (what the regex's ``\s`` is).

    For ASCII text those are exactly the ten below (checked over every code point), each looked
    for in C: about a third of the cost of ``text.split() != [text]``, which copies the token."""
    if text.isascii():
        return (
            " " in text
            or "\t" in text
            or "\n" in text
            or "\r" in text
            or "\x0b" in text
            or "\x0c" in text
            or "\x1c" in text
            or "\x1d" in text
            or "\x1e" in text
            or "\x1f" in text
        )
    return text.split() != [text]


def authorization_credentials(values: list[str]) -> tuple[bool, str]:
    r"""``(is_dpop, token)`` of the Authorization header(s): scheme ``DPoP`` or ``Bearer``.

    Both schemes any case, one or more spaces, exactly one token: the regex
    ``(?i:dpop|bearer) +([^\s]+)`` (full match), as in :func:`bearer_token`.
    """
    if len(values) == 1:
        value = values[0]
        if value[:4].lower() == "dpop":
            token = _lone_token(value[4:])
            if token is None:
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
    return _header_values(event, "dpop")


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
# the role cache (a cleared entry costs one verified-token cache hit and a line to rebuild).
MAX_CACHED_ANSWERS = 2048
# Bound on one principal's remembered routes (kept with its grants, see _RouteAnswer).
MAX_ROUTE_ANSWERS = 256
# The repeated-token memo is keyed by the last characters of the Authorization value (the end of
# the token's signature), compared in full on a hit: hashing the whole value (~1 KB, a new string
# per event) cost more than the rest of the lookup. A token made to end like another's only
# replaces that memo entry (a cache miss for the other token, never its answer).
MEMO_KEY_CHARS = 32


class _RouteAnswer:
    """What one principal's grants give on one route: the answer and the audit line's principal
    fields but the token's own (``kid``, ``jti``). The same for every token of the principal, so a
    new token of a known principal pays for its signature and claims, not for the answer again."""

    __slots__ = ("answer", "head", "tail")

    def __init__(self, answer: dict[str, Any], head: str, tail: str) -> None:
        self.answer = answer
        self.head = head  # audit_line.line_prefix of audit_line.principal_head
        self.tail = tail  # audit_line.principal_tail (as roles_tail)


class _CachedAnswer:
    """The answer for one ``Authorization`` value on one route, while it stays valid.

    Valid while ``TokenVerifier.still_valid(verified)`` (not expired, key still published) and
    ``RoleStore.still_current(principal, grants)`` (the role cache would return this very
    ``grants``): then every input of the decision, the answer and the line's principal fields is
    unchanged, and only the request's own fields are written afresh. Never changed once built.
    """

    __slots__ = ("answer", "authorization", "grants", "prefix", "principal", "verified")

    def __init__(
        self,
        authorization: str,
        verified: VerifiedToken,
        principal: tuple[str, str, tuple[str, ...], str | None],
        grants: Grants,
        answer: dict[str, Any],
        prefix: str,
    ) -> None:
        self.authorization = (
            authorization  # the whole Authorization value (the memo's key holds only its end)
        )
        self.verified = verified
        self.principal = principal
        self.grants = grants
        self.answer = answer
        self.prefix = prefix  # audit_line.line_prefix of the decision's principal_fragment


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
        # (end of the Authorization value, httpMethod, resourcePath, methodArn) -> _CachedAnswer:
        # the repeated-token path. Only without DPoP, whose every request needs a fresh proof.
        self._answers: dict[tuple[str, str, str, str], _CachedAnswer] = {}

    def authorize(self, event: Mapping[str, Any], trace_id: str | None = None) -> dict[str, Any]:
        started = time.perf_counter()
        value: str | None = None
        if not self._dpop:
            # The repeated token: the same Authorization value on a route it was answered on.
            # An event of any unusual shape misses here and is parsed in full by _authorize.
            try:
                ctx = event["requestContext"]
                value = _lone_authorization(event)
                cached = (
                    None
                    if value is None
                    else self._answers.get(
                        (value[-MEMO_KEY_CHARS:], ctx["httpMethod"], ctx["resourcePath"], event["methodArn"])
                    )
                )
            except (KeyError, TypeError, AttributeError):
                value = cached = None
            if (
                cached is not None
                and cached.authorization == value
                and self.verifier.still_valid(cached.verified)
                and self.store.still_current(cached.principal, cached.grants)
            ):
                # The request's own fields, read as _request_fields reads them, written out
                # for the same reason as _lone_authorization (one call less per request).
                identity = ctx.get("identity")
                path = event.get("path")
                self._emit(
                    request_line(
                        cached.prefix,
                        path if isinstance(path, str) else None,
                        identity.get("sourceIp") if isinstance(identity, dict) else None,
                        ctx.get("requestId"),
                        ctx.get("apiId"),
                        ctx.get("stage"),
                        (time.perf_counter() - started) * 1000.0,
                        True,
                        trace_id,
                        self._clock(),
                    )
                )
                return cached.answer
        return self._authorize(event, trace_id, started, None if value is None else [value])

    def _authorize(
        self, event: Mapping[str, Any], trace_id: str | None, started: float, authorization: list[str] | None
    ) -> dict[str, Any]:
        if self._first_call:
            # Cold start: create the DynamoDB client (it loads awscrt, which the JWKS fetch needs
            # too) before the first token check; no network call. A client that cannot be built
            # fails the first read instead (docs/benchmarks.md "Cold start: no boto3 on the request path").
            self._first_call = False
            self.store.warm()
        request = AuthorizerRequest.from_event(event, authorization)
        token: str | None = None
        verified: VerifiedToken | None = None
        role_cache_hit = False
        prefix: str | None = None  # audit_line.line_prefix of the outcome, once it is known
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
            verified, seen = self.verifier.verify(token)
            if self._dpop or verified.jkt is not None:
                self._check_dpop(event, request.method, token, verified, is_dpop)
            issuer = verified.issuer.issuer
            principal = (issuer, verified.sub, verified.groups, verified.client_id)
            grants, role_cache_hit = self.store.grants(*principal)
            if grants.problems and not role_cache_hit and self._warn:
                self._warn(
                    "role table items are malformed; they grant nothing",
                    {"iss": issuer, "sub": verified.sub, "problems": grants.problems},
                )
            if grants.not_before is not None and (verified.iat is None or verified.iat <= grants.not_before):
                raise AuthenticationError("revoked", "token issued before the subject's not_before")
            route_key = (request.method, request.resource, request.method_arn)
            route = grants.answers.get(route_key)
            if route is None:
                route = self._route_answer(arn, request.method, request.resource, template, verified, grants)
                if len(grants.answers) >= MAX_ROUTE_ANSWERS:
                    grants.answers.clear()
                grants.answers[route_key] = route
            prefix = route.head + token_fields(verified.kid, verified.jti) + route.tail
            if seen and not self._dpop:
                # Remembered from a token's second use on (its first verification was cached): a
                # token used once, the common case of a short-lived client, never fills the memo.
                if len(self._answers) >= MAX_CACHED_ANSWERS:
                    self._answers.clear()
                value = request.authorization[0]
                key = (value[-MEMO_KEY_CHARS:], request.method, request.resource, request.method_arn)
                self._answers[key] = _CachedAnswer(value, verified, principal, grants, route.answer, prefix)
            return route.answer
        except AuthenticationError as e:
            prefix = self._refusal(request, "unauthorized", e.reason, token, verified)
            raise Unauthorized() from None
        except DependencyError as e:
            prefix = self._refusal(request, "error", e.reason, token, verified)
            raise
        except RequestError:
            prefix = self._refusal(request, "error", "bad_event", token, verified)
            raise
        finally:
            self._emit(
                request_line(
                    prefix
                    if prefix is not None
                    else self._refusal(request, "error", "internal_error", token, verified),
                    request.path,
                    request.source_ip,
                    request.request_id,
                    request.api_id,
                    request.stage,
                    (time.perf_counter() - started) * 1000.0,
                    role_cache_hit,
                    trace_id,
                    self._clock(),
                )
            )

    def _refusal(
        self,
        request: AuthorizerRequest,
        decision: str,
        reason: str,
        token: str | None,
        verified: VerifiedToken | None,
    ) -> str:
        """The line's prefix when no answer was given: the token's fields once verified; before
        that only ``iss`` and ``kid`` as presented (never trusted), for the audit (on an error too:
        a JWKS outage's ``kid``s tell a rotation from a flood of random ones)."""
        iss: str | None
        kid: str | None
        sub: str | None = None
        jti: str | None = None
        client_id: str | None = None
        if verified is not None:
            iss, sub, kid = verified.issuer.issuer, verified.sub, verified.kid
            jti, client_id = verified.jti, verified.client_id
        else:
            iss, kid = self.verifier.unverified_hint(token) if token is not None else (None, None)
        record = DecisionRecord(
            decision,
            reason,
            method=request.method,
            resource=request.resource,
            iss=iss,
            sub=sub,
            kid=kid,
            jti=jti,
            client_id=client_id,
        )
        return line_prefix(principal_fragment(record))

    def _route_answer(
        self,
        arn: MethodArn,
        method: str,
        resource: str,
        template: Template,
        verified: VerifiedToken,
        grants: Grants,
    ) -> _RouteAnswer:
        decision = self._decide(grants, method, template)
        issuer = verified.issuer.issuer
        # Read-only: the same answer object is handed to every caller of this principal and route.
        answer = read_only(
            authorizer_answer(
                arn,
                method,
                template,
                decision.allowed,
                sub=verified.sub,
                issuer=issuer,
                roles=grants.context_roles,
                client_id=verified.client_id,
                usage_key=grants.usage_key or self.settings.default_usage_key,
            )
        )
        return _RouteAnswer(
            answer,
            line_prefix(
                principal_head(
                    "allow" if decision.allowed else "deny",
                    decision.reason,
                    decision.rule,
                    issuer,
                    verified.sub,
                )
            ),
            roles_tail(verified.client_id, self._roles_json(grants), method, resource),
        )

    @staticmethod
    def _roles_json(grants: Grants) -> str:
        """The audit line's ``roles`` value for these grants, encoded once per ``Grants``."""
        roles = grants.audit_roles
        if roles is None:
            roles = grants.audit_roles = string_list(list(grants.effective.granting))
        return roles

    def _check_dpop(
        self, event: Mapping[str, Any], method: str, token: str, verified: VerifiedToken, is_dpop: bool
    ) -> None:
        """RFC 9449 §7 for a verified token: scheme and binding, then the proof, then its ``jti``."""
        issuer = verified.issuer
        jkt = verified.jkt
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
            raise DpopError("invalid_dpop_proof", "the proof's key is not the token's cnf.jkt", member="jwk")
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


def _template(resource: str) -> Template:
    try:
        return parse_template(resource)
    except TemplateError as e:
        raise RequestError(f"resourcePath is not a resource template: {e}") from e
