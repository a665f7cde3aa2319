"""The local API Gateway: a REST API stage served over HTTP, as the template defines it.

Request path, in API Gateway's order:

0. size limits, as the HTTP server reads the request (:mod:`edgeauth_local.wire`): request line
   plus headers over 10,240 bytes or a body over 10 MB → 413 ``Request Too Long``
   (``REQUEST_TOO_LARGE``), never forwarded; a request that is not HTTP/1.x → 400 (JSON);
1. the stage prefix (``/<stage>/…``) and route selection (:class:`edgeauth.core.routes.RouteTable`:
   literal beats ``{var}`` beats ``{var+}``; ``ANY`` stands for the seven standard methods); no
   resource or no method → 403 ``Missing Authentication Token``;
2. stage method throttling (``MethodSettings``) → 429 ``Too Many Requests``;
3. the Lambda authorizer (``CUSTOM`` methods): identity sources read from the request; one missing
   or empty → 401 without calling the authorizer; TOKEN authorizers also check the validation
   expression. The answer is cached per identity-source values for the authorizer's TTL, and the
   policy (fresh or cached) is evaluated against this request's method ARN with IAM rules
   (:mod:`edgeauth_local.iam`): explicit Deny → 403 ``…with an explicit deny in an identity-based
   policy``, no matching Allow → 403 ``…because no identity-based policy allows the
   execute-api:Invoke action``. ``Unauthorized`` → 401; any other error, a timeout or a malformed
   answer → 500, never cached;
4. API key (``ApiKeyRequired``): the key comes from the authorizer's ``usageIdentifierKey`` when the
   API's key source is ``AUTHORIZER`` (else the ``x-api-key`` header); unknown, disabled or in no
   plan of this stage → 403 ``Forbidden``; then the key's usage plan: token buckets (plan and
   per-method) → 429 ``Too Many Requests``, quota → 429 ``Limit Exceeded``;
5. the integration: ``HTTP_PROXY`` to the URI with path, query and header parameters mapped from
   ``RequestParameters`` (``method.request.*``, ``context.authorizer.*``, ``'static'``); integration
   timeout → 504 ``Endpoint request timed out``, connection refused (or no route) → 504 ``Network
   error communicating with endpoint``, a host that does not resolve → 500 ``Internal server
   error``, backend crash or bad answer → 502;
6. every refusal is a gateway response: status, headers and body template from the template's
   ``AWS::ApiGateway::GatewayResponse`` of that type (or ``DEFAULT_4XX``/``DEFAULT_5XX``), else
   API Gateway's defaults;
7. one access log line per request, in the stage's format, to the access log group.
"""

from __future__ import annotations

import errno
import http.client
import json
import re
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from edgeauth.core.routes import RouteTable
from edgeauth_local import wire
from edgeauth_local.iam import AuthorizerAnswer, MalformedAnswerError, validate_answer
from edgeauth_local.lambdas import LambdaError, LambdaTimeoutError
from edgeauth_local.servers import QuietHandler, ServerThread
from edgeauth_local.template import ACCOUNT, REGION, ApiSpec, AuthorizerSpec, MethodSpec
from edgeauth_local.throttle import StageThrottle, UsagePlans

# type -> (default status, default message, x-amzn-ErrorType)
RESPONSE_DEFAULTS: dict[str, tuple[int, str | None, str]] = {
    "ACCESS_DENIED": (
        403,
        "User is not authorized to access this resource because no identity-based policy allows the "
        "execute-api:Invoke action",
        "AccessDeniedException",
    ),
    "API_CONFIGURATION_ERROR": (500, "Internal server error", "InternalServerErrorException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None, "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, None, "AuthorizerFailureException"),
    "BAD_REQUEST_BODY": (400, "Invalid request body", "BadRequestException"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters", "BadRequestException"),
    "EXPIRED_TOKEN": (403, "Expired token", "ExpiredTokenException"),
    "INTEGRATION_FAILURE": (504, "Network error communicating with endpoint", "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out", "InternalServerErrorException"),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "INVALID_SIGNATURE": (403, "Invalid signature", "InvalidSignatureException"),
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded", "LimitExceededException"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long", "RequestTooLongException"),
    "RESOURCE_NOT_FOUND": (404, "Resource not found", "ResourceNotFoundException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "UNAUTHORIZED": (401, "Unauthorized", "UnauthorizedException"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type", "UnsupportedMediaTypeException"),
    "WAF_FILTERED": (403, "Forbidden", "WAFFilteredException"),
}
EXPLICIT_DENY = (
    "User is not authorized to access this resource with an explicit deny in an identity-based policy"
)
"""ACCESS_DENIED's message when a Deny statement matches (without one, the type's default: no Allow
matched the method ARN). API Gateway's wording for Lambda authorizer policies since 2024."""
BAD_GATEWAY = "BAD_GATEWAY"
"""Not an API Gateway response type: a backend that crashed mid-request (502, DEFAULT_5XX)."""

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length", "expect"}
)  # fmt: skip
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_ANY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
"""What an ``ANY`` method stands for (another method, ``TRACE`` or ``FOO``, matches no method)."""
_CONTEXT_VAR = re.compile(r"\$(?:\{context\.([A-Za-z0-9_.-]+)\}|context\.([A-Za-z0-9_.-]*[A-Za-z0-9_-]))")
_STAGE_VAR = re.compile(r"\$(?:\{stageVariables\.([A-Za-z0-9_]+)\}|stageVariables\.([A-Za-z0-9_]+))")
_URI_PARAM = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")
MAX_CACHE_ENTRIES = 100_000
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 64 * 1024 * 1024
"""A refused request's rest is read and dropped for at most this long without data and this much."""


@dataclass
class Request:
    method: str
    target: str  # path and query as received
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def header_values(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class _Exchange:
    """What one request went through (feeds the access log and the gateway responses)."""

    request: Request
    request_id: str
    started: float
    epoch_ms: int
    path: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    method: MethodSpec | None = None
    resource_path: str = ""
    path_params: dict[str, str] = field(default_factory=dict)
    answer: AuthorizerAnswer | None = None
    authorizer_status: int | None = None
    authorizer_latency: int | None = None
    authorizer_error: str | None = None
    api_key_id: str | None = None
    api_key: str | None = None
    integration_status: int | None = None
    integration_latency: int | None = None
    error_message: str | None = None
    error_type: str | None = None


class AuthorizerCache:
    """Authorizer answers by identity-source values, for the authorizer's TTL. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, AuthorizerAnswer]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.flushes = 0

    def get(self, key: tuple[str, ...]) -> AuthorizerAnswer | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            with self._lock:
                self.hits += 1
            return entry[1]
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: tuple[str, ...], answer: AuthorizerAnswer, ttl: float) -> None:
        now = self._clock()
        with self._lock:
            if len(self._entries) >= MAX_CACHE_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= MAX_CACHE_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (now + ttl, answer)

    def flush(self) -> None:
        with self._lock:
            self._entries.clear()
            self.flushes += 1

    def __len__(self) -> int:
        return len(self._entries)


class _Refusal(Exception):
    def __init__(self, response_type: str, message: str | None = None, status: int | None = None) -> None:
        super().__init__(response_type)
        self.response_type = response_type
        self.message = (
            message if message is not None else RESPONSE_DEFAULTS.get(response_type, (0, None, ""))[1]
        )
        self.status = status


AuthorizerCall = Callable[[Mapping[str, Any]], Any]
AccessLogSink = Callable[[str], None]


class Gateway:
    """One REST API stage. :meth:`handle` is thread-safe and is what the HTTP server calls."""

    def __init__(
        self,
        api: ApiSpec,
        invoke_authorizer: AuthorizerCall,
        *,
        access_log: AccessLogSink | None = None,
        integration_origins: Mapping[str, str] | None = None,
        integration_tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.stage = api.stage.name
        self._invoke_authorizer = invoke_authorizer
        self._access_log = access_log
        self._origins = dict(integration_origins or {})
        # HTTPS integrations: which backends to trust and, with the stage's client certificate,
        # the certificate to present (edgeauth_local.tls). None: the system's default context.
        self._integration_tls = integration_tls
        self.routes = RouteTable(api.resource_paths)
        self.methods: dict[tuple[str, str], MethodSpec] = {
            (m.resource_path, m.http_method): m for m in api.methods
        }
        self.cache = AuthorizerCache(clock)
        self.usage = UsagePlans(api.usage_plans, api.api_keys.values(), api.id, self.stage, clock=clock)
        self.stage_throttle = StageThrottle(api.stage.method_throttles, clock)
        self._connections = threading.local()
        self.requests = 0
        self._count_lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------------

    def flush_authorizer_cache(self, api_id: str | None = None, stage: str | None = None) -> bool:
        """``FlushStageAuthorizersCache``: True when ``api_id``/``stage`` name this stage."""
        if (api_id is not None and api_id != self.api.id) or (stage is not None and stage != self.stage):
            return False
        self.cache.flush()
        return True

    def handle(self, request: Request) -> Response:
        ex = self._exchange(request)
        try:
            response = self._handle(ex)
        except _Refusal as r:
            response = self._gateway_response(ex, r)
        except Exception:
            # A bug of the local gateway: answered as API Gateway answers its own faults (500
            # "Internal server error"), never with the exception's text; the developer sees it on stderr.
            print(f"edgeauth local gateway: error on {request.method} {request.target}", file=sys.stderr)
            traceback.print_exc()
            response = self._gateway_response(ex, _Refusal("API_CONFIGURATION_ERROR"))
        return self._finish(ex, response)

    def refuse(self, request: Request, response_type: str) -> Response:
        """The gateway response of ``response_type`` for a request refused before its route is
        looked up (``REQUEST_TOO_LARGE``: over a size limit), with its access log line."""
        ex = self._exchange(request)
        ex.path = urlsplit(request.target).path
        return self._finish(ex, self._gateway_response(ex, _Refusal(response_type)))

    def _exchange(self, request: Request) -> _Exchange:
        with self._count_lock:
            self.requests += 1
        return _Exchange(
            request=request,
            request_id=str(uuid.uuid4()),
            started=time.perf_counter(),
            epoch_ms=int(time.time() * 1000),
        )

    def _finish(self, ex: _Exchange, response: Response) -> Response:
        response.headers.append(("x-amzn-RequestId", ex.request_id))
        response.headers.append(("x-amz-apigw-id", ex.request_id[:8] + "="))
        self._log_access(ex, response)
        return response

    # -- request path ---------------------------------------------------------------------------------

    def _handle(self, ex: _Exchange) -> Response:
        req = ex.request
        url = urlsplit(req.target)
        ex.query = parse_qsl(url.query, keep_blank_values=True)
        prefix = f"/{self.stage}"
        if url.path != prefix and not url.path.startswith(prefix + "/"):
            ex.path = url.path
            raise _Refusal("MISSING_AUTHENTICATION_TOKEN")
        path = url.path[len(prefix) :] or "/"
        ex.path = path
        match = self.routes.match(path)
        if match is None:
            raise _Refusal("MISSING_AUTHENTICATION_TOKEN")
        ex.resource_path = match.template.text
        ex.path_params = match.params
        method = self.methods.get((ex.resource_path, req.method))
        if method is None and req.method in _ANY_METHODS:
            method = self.methods.get((ex.resource_path, "ANY"))
        if method is None:
            raise _Refusal("MISSING_AUTHENTICATION_TOKEN")
        ex.method = method

        if not self.stage_throttle.admit(ex.resource_path, req.method):
            raise _Refusal("THROTTLED")

        if method.authorization_type == "CUSTOM" and method.authorizer:
            ex.answer = self._authorize(ex, self.api.authorizers[method.authorizer])

        if method.api_key_required:
            self._check_usage(ex)

        return self._integrate(ex)

    # -- authorizer -------------------------------------------------------------------------------------

    def method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api.id}/{self.stage}/{method}{path}"

    def _identity_values(self, ex: _Exchange, auth: AuthorizerSpec) -> list[str | None]:
        return [self._mapping_value(ex, source) for source in auth.identity_sources]

    def _authorize(self, ex: _Exchange, auth: AuthorizerSpec) -> AuthorizerAnswer:
        values = self._identity_values(ex, auth)
        # Refused before the authorizer runs: $context.authorizer.* stays empty ("-" in the access log).
        if any(v is None or v == "" for v in values):
            raise _Refusal("UNAUTHORIZED")
        if (
            auth.type == "TOKEN"
            and auth.validation_expression
            and re.fullmatch(auth.validation_expression, values[0] or "") is None
        ):
            raise _Refusal("UNAUTHORIZED")
        key = (auth.id, *[v or "" for v in values])
        answer = self.cache.get(key) if auth.ttl > 0 else None
        if answer is None:
            answer = self._call_authorizer(ex, auth)
            if auth.ttl > 0:
                self.cache.put(key, answer, auth.ttl)
        else:
            ex.authorizer_latency = 0
        arn = self.method_arn(ex.request.method, ex.path)
        outcome = answer.evaluate(arn)
        if outcome != "allow":
            ex.authorizer_status = 403
            raise _Refusal("ACCESS_DENIED", EXPLICIT_DENY if outcome == "deny" else None)
        ex.authorizer_status = 200
        return answer

    def _call_authorizer(self, ex: _Exchange, auth: AuthorizerSpec) -> AuthorizerAnswer:
        event = self._authorizer_event(ex, auth)
        started = time.perf_counter()
        try:
            raw = self._invoke_authorizer(event)
            # The answer crosses the Lambda boundary as JSON.
            answer = validate_answer(json.loads(json.dumps(raw)))
        except LambdaTimeoutError as e:
            ex.authorizer_status, ex.authorizer_error = 500, e.error_message
            raise _Refusal("AUTHORIZER_CONFIGURATION_ERROR") from None
        except LambdaError as e:
            if e.error_message == "Unauthorized":
                ex.authorizer_status = 401
                raise _Refusal("UNAUTHORIZED") from None
            ex.authorizer_status, ex.authorizer_error = 500, f"{e.error_type}: {e.error_message}"[:200]
            raise _Refusal("AUTHORIZER_CONFIGURATION_ERROR") from None
        except (MalformedAnswerError, TypeError, ValueError) as e:
            ex.authorizer_status, ex.authorizer_error = 500, f"malformed answer: {e}"[:200]
            raise _Refusal("AUTHORIZER_CONFIGURATION_ERROR") from None
        finally:
            ex.authorizer_latency = int((time.perf_counter() - started) * 1000)
        return answer

    def _authorizer_event(self, ex: _Exchange, auth: AuthorizerSpec) -> dict[str, Any]:
        req = ex.request
        arn = self.method_arn(req.method, ex.path)
        if auth.type == "TOKEN":
            token = self._mapping_value(ex, auth.identity_sources[0]) if auth.identity_sources else None
            return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for k, v in req.headers:
            headers[k] = v
            multi_headers.setdefault(k, []).append(v)
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for k, v in ex.query:
            query[k] = v
            multi_query.setdefault(k, []).append(v)
        return {
            "type": "REQUEST",
            "methodArn": arn,
            "resource": ex.resource_path,
            "path": ex.path,
            "httpMethod": req.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": {k: unquote(v) for k, v in ex.path_params.items()},
            "stageVariables": dict(self.api.stage.variables),
            "requestContext": {
                "resourceId": ex.method.resource_id if ex.method else "",
                "resourcePath": ex.resource_path,
                "httpMethod": req.method,
                "extendedRequestId": ex.request_id[:8] + "=",
                "requestTime": _request_time(ex.epoch_ms),
                "path": f"/{self.stage}{ex.path}",
                "accountId": ACCOUNT,
                "protocol": req.protocol,
                "stage": self.stage,
                "domainPrefix": "127",
                "requestTimeEpoch": ex.epoch_ms,
                "requestId": ex.request_id,
                "identity": {"sourceIp": req.source_ip, "userAgent": req.header("User-Agent")},
                "domainName": req.header("Host") or "127.0.0.1",
                "apiId": self.api.id,
            },
        }

    # -- usage plans --------------------------------------------------------------------------------------

    def _check_usage(self, ex: _Exchange) -> None:
        if self.api.key_source == "AUTHORIZER":
            value = ex.answer.usage_key if ex.answer else None
        else:
            value = ex.request.header("x-api-key")
        ex.api_key = value
        key = self.usage.key(value)
        if key is None:
            raise _Refusal("INVALID_API_KEY")
        ex.api_key_id = key.id
        verdict = self.usage.admit(key.id, ex.resource_path, ex.request.method)
        if verdict == "forbidden":
            raise _Refusal("INVALID_API_KEY")
        if verdict == "throttled":
            raise _Refusal("THROTTLED")
        if verdict == "quota_exceeded":
            raise _Refusal("QUOTA_EXCEEDED")

    # -- mapping expressions ----------------------------------------------------------------------------------

    def _context_value(self, ex: _Exchange, name: str) -> str | None:
        """``$context.<name>`` for this request (``None`` when it has no value)."""
        req = ex.request
        answer = ex.answer
        if name.startswith("authorizer."):
            sub = name[len("authorizer.") :]
            if sub == "status":
                return None if ex.authorizer_status is None else str(ex.authorizer_status)
            if sub in ("latency", "integrationLatency"):
                return None if ex.authorizer_latency is None else str(ex.authorizer_latency)
            if sub == "integrationStatus":
                return None if ex.authorizer_status is None else "200"
            if sub == "error":
                return ex.authorizer_error
            if answer is None:
                return None
            if sub == "principalId":
                return answer.principal_id
            return answer.context.get(sub)
        values: dict[str, Any] = {
            "requestId": ex.request_id,
            "extendedRequestId": ex.request_id[:8] + "=",
            "requestTimeEpoch": ex.epoch_ms,
            "requestTime": _request_time(ex.epoch_ms),
            "apiId": self.api.id,
            "accountId": ACCOUNT,
            "stage": self.stage,
            "httpMethod": req.method,
            "resourcePath": ex.resource_path or None,
            "resourceId": ex.method.resource_id if ex.method else None,
            "path": f"/{self.stage}{ex.path}" if ex.resource_path else ex.path,
            "protocol": req.protocol,
            "domainName": req.header("Host"),
            "identity.sourceIp": req.source_ip,
            "identity.userAgent": req.header("User-Agent"),
            "identity.apiKey": ex.api_key if ex.api_key_id else None,
            "identity.apiKeyId": ex.api_key_id,
            "integration.status": ex.integration_status,
            "integrationStatus": ex.integration_status,
            "integration.latency": ex.integration_latency,
            "integrationLatency": ex.integration_latency,
            "error.message": ex.error_message,
            "error.responseType": ex.error_type,
            "authorize.status": ex.authorizer_status,
            "authorize.latency": ex.authorizer_latency,
            "authorize.error": ex.authorizer_error,
        }
        if name == "error.messageString":
            return json.dumps(ex.error_message)
        v = values.get(name)
        return None if v is None else str(v)

    def _mapping_value(self, ex: _Exchange, expr: str) -> str | None:
        """Value of a mapping expression: ``method.request.*``, ``context.*``, ``stageVariables.*``, ``'x'``."""
        expr = expr.strip()
        if len(expr) >= 2 and expr[0] == "'" and expr[-1] == "'":
            return expr[1:-1]
        req = ex.request
        if expr.startswith("method.request.header."):
            values = req.header_values(expr[len("method.request.header.") :])
            return ",".join(values) if values else None
        if expr.startswith("method.request.multivalueheader."):
            values = req.header_values(expr[len("method.request.multivalueheader.") :])
            return ",".join(values) if values else None
        if expr.startswith("method.request.querystring."):
            name = expr[len("method.request.querystring.") :]
            qv = [v for k, v in ex.query if k == name]
            return qv[-1] if qv else None
        if expr.startswith("method.request.path."):
            return ex.path_params.get(expr[len("method.request.path.") :])
        if expr.startswith("stageVariables."):
            return self.api.stage.variables.get(expr[len("stageVariables.") :])
        if expr.startswith("context."):
            return self._context_value(ex, expr[len("context.") :])
        return None

    # -- integration ------------------------------------------------------------------------------------------

    def _integrate(self, ex: _Exchange) -> Response:
        if ex.method is None:
            raise _Refusal("MISSING_AUTHENTICATION_TOKEN")
        integ = ex.method.integration
        if integ.type == "MOCK":
            ex.integration_status = 200
            return Response(200, [("Content-Type", "application/json")], b"")
        if integ.type not in ("HTTP_PROXY", "HTTP"):
            raise _Refusal(
                "API_CONFIGURATION_ERROR", f"integration type {integ.type} is not emulated locally"
            )
        req = ex.request
        params = integ.request_parameters
        path_exprs = {
            k[len("integration.request.path.") :]: v.strip()
            for k, v in params.items()
            if k.startswith("integration.request.path.")
        }

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            expr = path_exprs.get(name, f"method.request.path.{name}")
            if expr.startswith("method.request.path."):
                # Path parameters go to the backend as the client sent them (still URL-encoded).
                return ex.path_params.get(expr[len("method.request.path.") :], "")
            return quote(self._mapping_value(ex, expr) or "", safe="")

        uri = _URI_PARAM.sub(fill, integ.uri)
        for origin, actual in self._origins.items():
            if uri.startswith(origin):
                uri = actual + uri[len(origin) :]
                break
        target = urlsplit(uri)
        query = list(ex.query)
        for k, v in params.items():
            if k.startswith("integration.request.querystring."):
                value = self._mapping_value(ex, v)
                if value is not None:
                    name = k[len("integration.request.querystring.") :]
                    query = [(qk, qv) for qk, qv in query if qk != name] + [(name, value)]
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        if query:
            from urllib.parse import urlencode

            path += ("&" if "?" in path else "?") + urlencode(query)
        headers: dict[str, str] = {}
        for k, v in req.headers:
            if k.lower() not in _HOP_BY_HOP:
                headers[k] = f"{headers[k]},{v}" if k in headers else v
        forwarded = req.header("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {req.source_ip}" if forwarded else req.source_ip
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Amzn-Trace-Id"] = f"Root=1-{int(time.time()):08x}-{ex.request_id.replace('-', '')[:24]}"
        for k, v in params.items():
            if k.startswith("integration.request.header."):
                name = k[len("integration.request.header.") :]
                value = self._mapping_value(ex, v)
                for existing in [h for h in headers if h.lower() == name.lower()]:
                    del headers[existing]
                if value is not None:
                    headers[name] = value
        method = req.method if integ.type == "HTTP_PROXY" or integ.http_method == "ANY" else integ.http_method
        timeout = integ.timeout_ms / 1000.0
        started = time.perf_counter()
        try:
            status, resp_headers, body = self._send(target, method, path, headers, req.body, timeout)
        except (OSError, http.client.HTTPException) as e:
            ex.integration_latency = int((time.perf_counter() - started) * 1000)
            raise _integration_refusal(e) from None
        ex.integration_latency = int((time.perf_counter() - started) * 1000)
        ex.integration_status = status
        out = [(k, v) for k, v in resp_headers if k.lower() not in _HOP_BY_HOP]
        return Response(status, out, body)

    def _send(
        self, target: Any, method: str, path: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = target.hostname or "127.0.0.1", target.port or (443 if target.scheme == "https" else 80)
        pool: dict[tuple[str, int], http.client.HTTPConnection] = (
            getattr(self._connections, "pool", None) or {}
        )
        self._connections.pool = pool
        reuse = method in _IDEMPOTENT
        for attempt in (0, 1):
            conn = pool.pop((host, port), None) if reuse else None
            fresh = conn is None
            if conn is None:
                if target.scheme == "https":
                    conn = http.client.HTTPSConnection(
                        host, port, timeout=timeout, context=self._integration_tls
                    )
                else:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
            else:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
            try:
                conn.request(method, path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if fresh or attempt == 1:
                    raise
                continue  # a stale keep-alive connection: retry once on a new one
            except TimeoutError as e:
                conn.close()
                raise TimeoutError(str(e)) from e
            except BaseException:
                conn.close()
                raise
            if reuse and not resp.will_close:
                pool[(host, port)] = conn
            else:
                conn.close()
            return resp.status, resp.getheaders(), data
        raise http.client.HTTPException("unreachable")

    # -- gateway responses ---------------------------------------------------------------------------------------

    def _gateway_response(self, ex: _Exchange, refusal: _Refusal) -> Response:
        rtype = refusal.response_type
        default_status, _, error_type = RESPONSE_DEFAULTS.get(
            rtype, (refusal.status or 500, None, "InternalServerErrorException")
        )
        status = refusal.status or default_status
        specs = self.api.gateway_responses
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        spec = specs.get(rtype)
        if spec is not None and spec.status is not None:
            status = spec.status
        elif spec is None and family in specs and specs[family].status is not None:
            status = int(specs[family].status or status)
        ex.error_message = refusal.message
        ex.error_type = rtype if rtype in RESPONSE_DEFAULTS else family
        headers: list[tuple[str, str]] = [("x-amzn-ErrorType", error_type)]
        header_specs: dict[str, str] = {}
        template: str | None = None
        for s in (specs.get(family), spec):
            if s is None:
                continue
            header_specs.update(s.headers)
            if s.templates:
                template = s.templates.get("application/json") or next(iter(s.templates.values()))
        for name, expr in header_specs.items():
            value = self._mapping_value(ex, expr)
            if value is not None:
                headers.append((name, value))
        if template is None:
            key = "Message" if rtype == "ACCESS_DENIED" else "message"
            template = '{"' + key + '":$context.error.messageString}'
        body = self._render(ex, template, json_escape=False)
        headers.insert(0, ("Content-Type", "application/json"))
        return Response(status, headers, body.encode())

    def _render(self, ex: _Exchange, template: str, *, json_escape: bool, missing: str = "") -> str:
        def ctx(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            value = self._context_value(ex, name)
            if value is None:
                return missing
            return json.dumps(value)[1:-1] if json_escape else value

        def stage_var(m: re.Match[str]) -> str:
            return self.api.stage.variables.get(m.group(1) or m.group(2), "")

        return _STAGE_VAR.sub(stage_var, _CONTEXT_VAR.sub(ctx, template))

    # -- access log ------------------------------------------------------------------------------------------------

    def _log_access(self, ex: _Exchange, response: Response) -> None:
        fmt = self.api.stage.access_log_format
        if not fmt or self._access_log is None:
            return
        latency = int((time.perf_counter() - ex.started) * 1000)
        extra = {
            "status": str(response.status),
            "responseLength": str(len(response.body)),
            "responseLatency": str(latency),
        }

        def ctx(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            value = extra.get(name)
            if value is None:
                value = self._context_value(ex, name)
            # As API Gateway: the value as it is, not escaped for the format's JSON. A caller's
            # quote in a header it logs (User-Agent) can add keys to the line or break it; the
            # audit consumer reads such a line as malformed, never as anything else.
            return "-" if value is None or value == "" else value

        self._access_log(_CONTEXT_VAR.sub(ctx, fmt))


_UNREACHABLE = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})


def _integration_refusal(error: OSError | http.client.HTTPException) -> _Refusal:
    """API Gateway's answer when the HTTP integration's request failed with ``error``."""
    if isinstance(error, TimeoutError):  # connecting or waiting past TimeoutInMillis
        return _Refusal("INTEGRATION_TIMEOUT")
    if isinstance(error, socket.gaierror):
        # The endpoint's host does not resolve: an invalid endpoint address, which API Gateway
        # answers as a configuration error (500), not as an integration failure.
        return _Refusal("API_CONFIGURATION_ERROR")
    if isinstance(error, ConnectionRefusedError) or (
        isinstance(error, OSError) and error.errno in _UNREACHABLE
    ):
        # Nothing listens there, or no route to it.
        return _Refusal("INTEGRATION_FAILURE")
    # Connected, then the backend dropped the connection or answered something that is not HTTP.
    return _Refusal(BAD_GATEWAY, "Internal server error", 502)


def _request_time(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


# --- HTTP server ------------------------------------------------------------------------------------------


class _Handler(QuietHandler):
    """Reads each request itself (:mod:`edgeauth_local.wire`), within API Gateway's size limits:
    :class:`http.server.BaseHTTPRequestHandler`'s reader has other limits and answers with HTML."""

    protocol_version = "HTTP/1.1"

    def handle_one_request(self) -> None:
        gateway: Gateway = self.server.gateway  # type: ignore[attr-defined]
        self.close_connection = True
        self.command, self.request_version, self.requestline = "", "HTTP/1.1", ""
        try:
            head = wire.read_head(self.rfile)
            if head is None:
                return
            self.command, self.path, self.request_version = head.method, head.target, head.version
            self.requestline = f"{head.method} {head.target} {head.version}"
            request = Request(
                method=head.method,
                target=head.target,
                headers=head.headers,
                source_ip=self.client_address[0],
                protocol=head.version,
            )
            length = wire.body_length(head)
            if head.expects_continue:
                self.send_response_only(100)
                self.end_headers()
            request.body = wire.read_body(self.rfile, head, length)
        except wire.RequestTooLargeError as e:
            # Refused as API Gateway refuses it: never forwarded, a gateway response (413).
            partial = Request(e.method or "-", e.target, [], source_ip=self.client_address[0])
            self._answer(gateway.refuse(partial, "REQUEST_TOO_LARGE"), close=True)
            self._linger()
            return
        except wire.MalformedRequestError as e:
            # Not HTTP/1.x: what a front end answers before API Gateway sees anything.
            status = 505 if isinstance(e, wire.UnsupportedVersionError) else 400
            message = "HTTP Version Not Supported" if status == 505 else "Bad Request"
            body = json.dumps({"message": message}).encode()
            self._answer(Response(status, [("Content-Type", "application/json")], body), close=True)
            self._linger()
            return
        except (TimeoutError, ConnectionError):
            return
        self._answer(gateway.handle(request), close=not head.keep_alive)

    def _answer(self, response: Response, *, close: bool) -> None:
        # send_response_only: the answer's own headers (the backend's Date and Server included) are
        # sent once; BaseHTTPRequestHandler.send_response would add a second Date and Server.
        self.send_response_only(response.status)
        names = {k.lower() for k, _ in response.headers}
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        for k, v in response.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()
        self.close_connection = close

    def _linger(self) -> None:
        """After answering a request not read to its end: stop sending, then read and discard
        what the client still sends (bounded), so that closing does not reset the connection
        before the client has read the answer (a reset discards it on the client's side)."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_SECONDS)
            left = _LINGER_BYTES
            while left > 0:
                data = self.connection.recv(min(65_536, left))
                if not data:
                    break
                left -= len(data)
        except OSError:
            pass


def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    server = ServerThread("gateway", _Handler, host, port, option="--port")
    server.start(gateway=gateway)
    return server
