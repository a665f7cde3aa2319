"""The REST API: an authorizing HTTP proxy in front of the configured backend."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
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

EXECUTION_LOG_GROUP_PREFIX: Final = "API-Gateway-Execution-Logs_"
"""API Gateway writes a stage's execution logs to ``API-Gateway-Execution-Logs_<api id>/<stage>``,
creating the group (with no retention) if it does not exist: the stack creates it first."""

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
      logs in :attr:`execution_log_group` (created before the stage, with ``log_retention_days``),
      JSON access logs in :attr:`access_log_group` with :data:`ACCESS_LOG_FORMAT`;
    * ``backend_auth``: ``client_certificate`` puts :attr:`client_certificate` (its ``generation``)
      on the stage (API Gateway presents it to the backend in every TLS handshake), and with
      ``prepare_next`` makes :attr:`next_client_certificate` too; ``private`` sends every
      integration through :attr:`vpc_link` (``VPC_LINK`` connection) to the network load balancer;
      ``none`` adds nothing. The unused attributes are None;
    * with ``waf_acl_arn``, the web ACL is associated with the stage (:attr:`web_acl_association`);
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
        auth = config.backend_auth
        self.client_certificate: apigw.CfnClientCertificate | None = None
        self.next_client_certificate: apigw.CfnClientCertificate | None = None
        if auth.mode == "client_certificate":
            self.client_certificate = self._client_certificate(config.stage, auth.generation, "presented")
            if auth.prepare_next:
                self.next_client_certificate = self._client_certificate(
                    config.stage, auth.generation + 1, "next: not presented yet"
                )
        self.vpc_link: apigw.IVpcLink | None = None
        if auth.vpc_link_id is not None:
            self.vpc_link = apigw.VpcLink.from_vpc_link_id(self, ids.VPC_LINK, auth.vpc_link_id)
        elif auth.nlb_arn is not None:
            nlb = elbv2.NetworkLoadBalancer.from_network_load_balancer_attributes(
                self, "BackendLoadBalancer", load_balancer_arn=auth.nlb_arn
            )
            self.vpc_link = apigw.VpcLink(
                self,
                ids.VPC_LINK,
                vpc_link_name=f"edgeauth-{config.stage}",
                description=f"edgeauth {config.stage}: API Gateway to the backend's load balancer",
                targets=[nlb],
            )
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
                client_certificate_id=self.client_certificate.ref if self.client_certificate else None,
                metrics_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(
                    C.ACCESS_LOG_FORMATS[config.access_log_format]
                ),
            ),
        )
        self.stage: apigw.Stage = self.rest_api.deployment_stage
        self.execution_log_group = logs.LogGroup(
            self,
            ids.EXECUTION_LOG_GROUP,
            log_group_name=f"{EXECUTION_LOG_GROUP_PREFIX}{self.rest_api.rest_api_id}/{config.stage}",
            retention=retention_days(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Before the stage exists, or API Gateway creates the group itself, without retention, and
        # this one then fails to create.
        self.stage.node.add_dependency(self.execution_log_group)
        self.web_acl_association: wafv2.CfnWebACLAssociation | None = None
        if config.waf_acl_arn is not None:
            self.web_acl_association = wafv2.CfnWebACLAssociation(
                self,
                ids.WEB_ACL_ASSOCIATION,
                resource_arn=self.stage.stage_arn,
                web_acl_arn=config.waf_acl_arn,
            )
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

    def _client_certificate(self, stage: str, generation: int, state: str) -> apigw.CfnClientCertificate:
        # One construct id per generation (the first keeps the plain id): a new generation is a new
        # certificate, and the one no longer named is deleted by the deploy that moves past it.
        return apigw.CfnClientCertificate(
            self,
            ids.CLIENT_CERTIFICATE + (str(generation) if generation > 1 else ""),
            description=f"edgeauth {stage}: client certificate generation {generation} ({state}); "
            "the backend must verify it",
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
                connection_type=apigw.ConnectionType.VPC_LINK if self.vpc_link else None,
                vpc_link=self.vpc_link,
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
