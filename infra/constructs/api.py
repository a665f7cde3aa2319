"""The REST API: an authorizing HTTP proxy in front of the configured backend."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids
from infra.config import Route, StageConfig
from infra.constructs.retention import retention_days

ACCESS_LOG_FORMAT: Final = C.ACCESS_LOG_FORMATS["full"]
"""The ``full`` access log format: one JSON object per request (the local gateway writes what the
template says). The stage uses ``C.ACCESS_LOG_FORMATS[config.access_log_format]``."""

ERROR_BODY: Final = '{"message":$context.error.messageString,"requestId":"$context.requestId"}'
"""Body of every gateway response: API Gateway's own message (already a JSON string) and the request
id to quote to support. Never why a token failed: that is in the audit line only."""

WWW_AUTHENTICATE: Final = "'Bearer'"
"""RFC 6750 §3: a 401 names the scheme the client must use (a static value, so single-quoted)."""


def www_authenticate(config: StageConfig) -> str:
    """The 401's challenge: ``Bearer``; with DPoP, ``DPoP algs="…"`` too (RFC 9449 §7.1), alone
    when every issuer requires DPoP. Static: a gateway response cannot vary it per request, so the
    RFC's ``error="invalid_dpop_proof"`` / ``"invalid_token"`` parameters are never sent."""
    if not config.dpop_enabled:
        return WWW_AUTHENTICATE
    dpop = f'DPoP algs="{" ".join(config.dpop_algorithms)}"'
    return f"'{dpop}'" if config.dpop_only else f"'Bearer, {dpop}'"


def identity_sources(config: StageConfig) -> list[str]:
    """:data:`edgeauth.constants.IDENTITY_SOURCES`, plus the ``DPoP`` header when every issuer
    requires DPoP. Not otherwise: API Gateway answers 401 itself when an identity source is missing,
    which would refuse every Bearer request of an ``off`` or ``optional`` issuer."""
    sources = list(C.IDENTITY_SOURCES)
    if config.dpop_enabled and config.dpop_only:
        sources.append(C.IDENTITY_SOURCE_DPOP)
    return sources


# Every response API Gateway itself produces on the paths a client can hit gets a JSON body, so that
# clients parse one error shape. Status codes stay API Gateway's own ("unknown routes answer as API
# Gateway does"); DEFAULT_4XX / DEFAULT_5XX cover the types not listed.
GATEWAY_RESPONSES: Final[tuple[apigw.ResponseType, ...]] = (
    apigw.ResponseType.UNAUTHORIZED,  # 401: no or rejected token
    apigw.ResponseType.ACCESS_DENIED,  # 403: the authorizer's policy denies the route
    apigw.ResponseType.AUTHORIZER_FAILURE,  # 500: the authorizer failed (fails closed)
    apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR,  # 500: the authorizer's answer is malformed
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,  # 403: no such method on a resource
    apigw.ResponseType.INVALID_API_KEY,  # 403: the usage key is in no usage plan
    apigw.ResponseType.THROTTLED,  # 429: usage plan or stage throttle
    apigw.ResponseType.QUOTA_EXCEEDED,  # 429: usage plan quota
    apigw.ResponseType.INTEGRATION_FAILURE,  # 504: backend unreachable
    apigw.ResponseType.INTEGRATION_TIMEOUT,  # 504: backend too slow
    apigw.ResponseType.DEFAULT_4_XX,
    apigw.ResponseType.DEFAULT_5_XX,
)


class Api(Construct):
    """A regional REST API whose every method runs the REQUEST authorizer and needs a usage key.

    What callers may rely on:

    * a method for each route of the settings, plus ``ANY /`` and ``ANY /{proxy+}``, each an
      ``HTTP_PROXY`` integration to the backend with the path variables passed through;
    * every method: authorization ``CUSTOM`` with :attr:`authorizer` (identity sources
      :func:`identity_sources`, result TTL ``authorizer_cache_ttl``, 0 with DPoP) and
      ``apiKeyRequired``; the API's key source is ``AUTHORIZER`` (the authorizer returns the key);
    * :attr:`stage`: throttled as the settings say, X-Ray on, data trace off, error-level execution
      logs, JSON access logs in :attr:`access_log_group` with :data:`ACCESS_LOG_FORMAT`;
    * JSON gateway responses (:data:`GATEWAY_RESPONSES`); a 401 carries ``WWW-Authenticate``
      (:func:`www_authenticate`: ``Bearer``, with DPoP also ``DPoP algs="…"``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        authorizer_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_log_group = logs.LogGroup(
            self,
            ids.ACCESS_LOG_GROUP,
            retention=retention_days(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.rest_api = apigw.RestApi(
            self,
            ids.REST_API,
            rest_api_name=f"edgeauth-{config.stage}",
            description=f"edgeauth {config.stage}: authorizing proxy to {config.backend_url}",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            cloud_watch_role=config.api_cloudwatch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.throttling.rate,
                throttling_burst_limit=config.throttling.burst,
                tracing_enabled=True,
                data_trace_enabled=False,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(
                    C.ACCESS_LOG_FORMATS[config.access_log_format]
                ),
            ),
        )
        self.stage: apigw.Stage = self.rest_api.deployment_stage
        self.authorizer = apigw.RequestAuthorizer(
            self,
            ids.REQUEST_AUTHORIZER,
            authorizer_name=f"edgeauth-{config.stage}",
            handler=authorizer_function,
            identity_sources=identity_sources(config),
            results_cache_ttl=Duration.seconds(config.authorizer_cache_ttl),
        )
        for route in config.routes:
            self._add_route(route, config.backend_url)
        for response_type in GATEWAY_RESPONSES:
            name = response_type.response_type
            # (jsii hands out a new proxy per enum-like access: compare names, not objects.)
            headers = {"WWW-Authenticate": www_authenticate(config)} if name == "UNAUTHORIZED" else None
            self.rest_api.add_gateway_response(
                f"Response{name}",
                type=response_type,
                response_headers=headers,
                templates={"application/json": ERROR_BODY},
            )

    def _add_route(self, route: Route, backend_url: str) -> None:
        root = self.rest_api.root
        resource = root if route.path == "/" else root.resource_for_path(route.path)
        variables = route.path_variables
        integration = apigw.HttpIntegration(
            backend_url + route.integration_path,
            http_method=route.method,
            proxy=True,
            options=apigw.IntegrationOptions(
                request_parameters={
                    **{
                        f"integration.request.path.{name}": f"method.request.path.{name}"
                        for name in variables
                    },
                    # The authorizer's answer, for the backend (a client cannot set these itself).
                    **{f"integration.request.header.{h}": src for h, src in C.BACKEND_HEADERS.items()},
                },
            ),
        )
        resource.add_method(
            route.method,
            integration,
            authorization_type=apigw.AuthorizationType.CUSTOM,
            authorizer=self.authorizer,
            api_key_required=True,
            request_parameters={f"method.request.path.{name}": True for name in variables} or None,
        )
