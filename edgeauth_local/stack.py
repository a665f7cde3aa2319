"""The whole system on 127.0.0.1: what ``make local`` starts, and what tests and benchmarks start in-process.

Order (each step is undone by :meth:`LocalStack.stop`, also when a later step fails):

1. the template: synthesized from the CDK app (cached), or given;
2. the moto server (with :mod:`edgeauth_local.moto_fixes`); in it, from the template: the tables
   (with their streams), the Kinesis streams, the log groups and the subscription filters;
3. the development identity provider, playing the template's loopback issuer; the demo backend,
   playing the template's loopback integration origin (when a port differs from the template's,
   the issuer URL in the authorizer's environment and the integration origin are rewritten). An
   ``https`` origin is served over TLS with certificates made at start (:mod:`edgeauth_local.tls`,
   under ``.local/tls/``); when the stage has a client certificate (``backend_auth``
   ``client_certificate``), the backend refuses every connection that does not present the
   gateway's, and the gateway presents it, as API Gateway does;
4. the Lambda functions, in-process, with their template environment pointed at moto;
5. the gateway; the moto server's ``FlushStageAuthorizersCache`` now flushes its cache, and its
   writes to API keys and usage plans make the gateway re-read them (as does a re-read every
   :data:`~edgeauth_local.throttle.KEY_REFRESH_SECONDS`);
6. the demo roles and subjects;
7. the event source mappings (Kinesis → audit consumer, role table stream → role-events handler);
8. the template's outputs (with local values) answered by the moto server to ``DescribeStacks``,
   so that ``edgeauth --endpoint-url … --stack EdgeAuth-dev …`` finds the table, stream and groups.

:func:`start_stack` is the benchmark hook: everything on ephemeral ports, returns the running stack
(``.urls``, ``.stop()``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edgeauth import constants as C
from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import IssuerSettings, is_loopback_host, load_settings
from edgeauth_local import backend, demo, gateway, idp, moto_fixes, state
from edgeauth_local.errors import LocalStackError, TemplateError
from edgeauth_local.lambdas import LOCAL_CREDENTIALS, AuthorizerRuntime, FunctionRuntime, local_environment
from edgeauth_local.logs import LogShipper
from edgeauth_local.moto_server import MotoServer
from edgeauth_local.pollers import DYNAMODB_POLL_SECONDS, StreamPoller, UsagePlanPoller
from edgeauth_local.servers import ServerThread, check_ports
from edgeauth_local.template import (
    ACCOUNT,
    REGION,
    REPO_ROOT,
    ApiKeySpec,
    LocalTemplate,
    UsagePlanSpec,
    load_template_file,
    read_template,
    synthesize,
)
from edgeauth_local.throttle import KEY_REFRESH_SECONDS, plan_from_api
from edgeauth_local.tls import LocalTls

TLS_DIR = REPO_ROOT / ".local" / "tls"
"""Where each start with an https backend makes its certificates (one directory per stack)."""


@dataclass
class StackOptions:
    stage: str = "dev"
    host: str = "127.0.0.1"
    gateway_port: int = 8080
    moto_port: int = 5000
    idp_port: int | None = None
    """``None``: the port of the template's issuer URL."""
    backend_port: int | None = None
    """``None``: the port of the template's integration URIs."""
    template: dict[str, Any] | None = None
    """A synthesized template to use as is (tests synthesize once per session)."""
    template_path: Path | None = None
    stack_name: str | None = None
    dpop: bool = False
    """Synthesize with the stage's loopback issuer set to ``dpop: required`` (:func:`dpop_context`)."""
    client_certificate: bool = False
    """Synthesize with ``backend_auth`` ``client_certificate`` and an https loopback backend
    (:func:`client_certificate_context`)."""
    tls_dir: Path | None = None
    """Parent of the TLS material's directory (default :data:`TLS_DIR`)."""
    provider: str | None = None
    """Synthesize with the stage's loopback issuer as this provider's preset (:func:`provider_context`):
    the development identity provider then issues tokens shaped like that provider's."""
    seed: bool = True
    pollers: bool = True
    authorizer_timeout: float | None = None
    lambda_platform_lines: bool = True
    state_dir: Path | None = None
    """Write ``stack-<gateway port>.json`` here once started (:mod:`edgeauth_local.state`)."""
    log: Callable[[str], None] = field(default=lambda _m: None)


@dataclass(frozen=True)
class StackUrls:
    api: str
    """The stage's invoke URL, ``http://127.0.0.1:8080/dev/`` (the stage prefix is part of it)."""
    gateway: str
    moto: str
    issuer: str
    token_endpoint: str
    backend: str

    def as_dict(self) -> dict[str, str]:
        return {
            k: getattr(self, k) for k in ("api", "gateway", "moto", "issuer", "token_endpoint", "backend")
        }


def dpop_context(stage: str = "dev", mode: str = "required") -> dict[str, Any]:
    """CDK context that turns DPoP on for ``stage``: ``cdk.json``'s ``edgeauth`` settings with every
    loopback issuer of the stage set to ``dpop: mode`` and ``authorizer_cache_ttl`` 0 (required with
    DPoP: docs/authorizer.md "DPoP (RFC 9449)"). ``python -m edgeauth_local --dpop`` and the e2e tests use it."""
    import copy

    root = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {}).get("edgeauth")
    if not isinstance(root, dict) or stage not in root.get("stages", {}):
        raise TemplateError(f"cdk.json defines no stage {stage!r}")
    edgeauth = copy.deepcopy(root)
    settings = edgeauth["stages"][stage]
    for issuer in settings.get("issuers", []):
        if isinstance(issuer, dict) and is_loopback_host(urlsplit(str(issuer.get("issuer"))).hostname):
            issuer["dpop"] = mode
    settings["authorizer_cache_ttl"] = 0
    return {"edgeauth": edgeauth}


def client_certificate_context(stage: str = "dev", base: dict[str, Any] | None = None) -> dict[str, Any]:
    """CDK context that puts ``backend_auth`` ``client_certificate`` on ``stage``, with its loopback
    ``backend_url`` made https (API Gateway presents the certificate only over TLS). ``base`` is a
    context from :func:`dpop_context` to combine with (default: ``cdk.json``'s settings).
    ``python -m edgeauth_local --client-certificate`` and the e2e tests use it."""
    import copy

    if base is None:
        root = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {}).get("edgeauth")
        base = {"edgeauth": root}
    edgeauth = copy.deepcopy(base.get("edgeauth"))
    if not isinstance(edgeauth, dict) or stage not in edgeauth.get("stages", {}):
        raise TemplateError(f"cdk.json defines no stage {stage!r}")
    settings = edgeauth["stages"][stage]
    url = urlsplit(str(settings.get("backend_url")))
    if not is_loopback_host(url.hostname):
        raise TemplateError(f"stage {stage!r} has no loopback backend_url for the local stack to serve")
    settings["backend_url"] = urlunsplit(("https", url.netloc, url.path, url.query, url.fragment))
    settings["backend_auth"] = {"mode": "client_certificate"}
    return {"edgeauth": edgeauth}


LOCAL_PRESETS: dict[str, dict[str, Any]] = {
    "cognito": {
        "provider": "cognito",
        "user_pool_id": "us-east-1_EdgeAuthLocal",
        "client_ids": ["edgeauth-local-app"],
        "token_use": "access",
    },
    "cognito-id": {
        "provider": "cognito",
        "user_pool_id": "us-east-1_EdgeAuthLocal",
        "client_ids": ["edgeauth-local-app"],
        "token_use": "id",
    },
    "entra": {
        "provider": "entra",
        "tenant_id": "00000000-0000-4000-8000-00000000ed9e",
        "application_id": "11111111-0000-4000-8000-00000000ed9e",
        "token_version": 2,
    },
    "okta": {
        "provider": "okta",
        "domain": "edgeauth-local.okta.com",
        "authorization_server": "default",
        "groups_claim": "groups",
    },
    "auth0": {
        "provider": "auth0",
        "domain": "edgeauth-local.us.auth0.com",
        "audiences": ["https://api.edgeauth.local"],
        "groups_claim": "https://edgeauth.local/roles",
    },
    "keycloak": {
        "provider": "keycloak",
        "base_url": "http://127.0.0.1:8081",
        "realm": "edgeauth",
        "client_ids": ["edgeauth-local-app"],
    },
    "github-actions": {
        "provider": "github-actions",
        "audiences": ["https://api.edgeauth.local"],
        "owners": ["octo-org", "edgeauth-local"],
    },
    "kubernetes": {"provider": "kubernetes", "audiences": ["edgeauth-local"]},
}
"""What ``--provider NAME`` makes of the dev stage's loopback issuer: the preset's values (made up,
valid for the preset), with the loopback issuer and discovery kept, so that the development
identity provider plays that provider (``cognito`` issues access tokens, ``cognito-id`` ID tokens)."""


def provider_context(stage: str = "dev", provider: str = "cognito") -> dict[str, Any]:
    """CDK context with ``stage``'s loopback issuers turned into ``provider``'s preset
    (:data:`LOCAL_PRESETS`), issuer URL, discovery and algorithms kept. ``python -m edgeauth_local
    --provider NAME`` and the e2e tests use it. Raises :class:`TemplateError` for an unknown name."""
    import copy

    if provider not in LOCAL_PRESETS:
        raise TemplateError(f"unknown provider {provider!r}; use one of {', '.join(LOCAL_PRESETS)}")
    root = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {}).get("edgeauth")
    if not isinstance(root, dict) or stage not in root.get("stages", {}):
        raise TemplateError(f"cdk.json defines no stage {stage!r}")
    edgeauth = copy.deepcopy(root)
    settings = edgeauth["stages"][stage]
    issuers = settings.get("issuers", [])
    for n, issuer in enumerate(issuers):
        if isinstance(issuer, dict) and is_loopback_host(urlsplit(str(issuer.get("issuer"))).hostname):
            kept = {k: issuer[k] for k in ("issuer", "algorithms", "dpop") if k in issuer}
            issuers[n] = {**LOCAL_PRESETS[provider], **kept, "discovery": True}
    return {"edgeauth": edgeauth}


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{parts.hostname}:{port}", parts.path, parts.query, parts.fragment))


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.template: LocalTemplate | None = None
        self.moto = MotoServer(self.options.host, self.options.moto_port)
        self.idp: idp.DevIdentityProvider | None = None
        self.gateway: gateway.Gateway | None = None
        self.authorizer: AuthorizerRuntime | None = None
        self.functions: dict[str, FunctionRuntime] = {}
        self.pollers: list[StreamPoller] = []
        self.usage_poller: UsagePlanPoller | None = None
        self.shipper: LogShipper | None = None
        self._servers: list[ServerThread] = []
        self._idp_server: ServerThread | None = None
        self._backend_server: ServerThread | None = None
        self._gateway_server: ServerThread | None = None
        self.tls: LocalTls | None = None
        """The backend hop's certificates, when the template's backend is https."""
        self.urls: StackUrls | None = None
        self._issuers_json = ""
        self._clients: dict[str, Any] = {}
        self.queue_urls: dict[str, str] = {}
        """SQS queues of the template (dead-letter queues): URL by ARN."""
        self._stopped = threading.Event()
        self._state_path: Path | None = None

    # -- helpers ------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of the moto server (cached per service)."""
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.moto.url,
                region_name=REGION,
                aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=32),
            )
        return self._clients[service]

    @property
    def spec(self) -> LocalTemplate:
        if self.template is None:
            raise LocalStackError("the stack is not started")
        return self.template

    def token(
        self,
        sub: str,
        *,
        groups: list[str] | None = None,
        ttl: int = 3600,
        scope: str | None = None,
        client_id: str | None = None,
        claims: dict[str, Any] | None = None,
        dpop_jkt: str | None = None,
    ) -> str:
        """A token from the development identity provider (no HTTP round trip); with ``dpop_jkt``,
        bound to that DPoP key (``cnf.jkt``, see :mod:`edgeauth_local.dpop_client`)."""
        if self.idp is None:
            raise LocalStackError("the stack is not started")
        return self.idp.mint(
            idp.TokenRequest(sub, groups or [], ttl, scope, client_id, claims or {}, dpop_jkt)
        )

    def flush_logs(self, timeout: float = 5.0) -> bool:
        return self.shipper.flush(timeout) if self.shipper else True

    # -- start ------------------------------------------------------------------------------------------

    def start(self) -> StackUrls:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _load_template(self) -> LocalTemplate:
        o = self.options
        if o.template is not None:
            raw, stack = o.template, o.stack_name or f"EdgeAuth-{o.stage}"
        elif o.template_path is not None:
            raw, stack = load_template_file(o.template_path), o.stack_name or f"EdgeAuth-{o.stage}"
        else:
            extra = dpop_context(o.stage) if o.dpop else None
            if o.provider is not None:
                if o.dpop:
                    raise TemplateError("--provider and --dpop cannot be combined")
                extra = provider_context(o.stage, o.provider)
            if o.client_certificate:
                extra = client_certificate_context(o.stage, extra)
            variant = [
                v
                for v, on in (
                    ("DPoP required", o.dpop),
                    (f"issuer as {o.provider}", o.provider is not None),
                    ("client certificate", o.client_certificate),
                )
                if on
            ]
            o.log(f"synthesizing the CDK app (stage {o.stage}{''.join(', ' + v for v in variant)}) …")
            stack, raw = synthesize(o.stage, extra_context=extra)
        return read_template(raw, stack)

    def _start(self) -> StackUrls:
        o = self.options
        for k, v in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(k, v)
        t = self.template = self._load_template()
        auth_fn = t.functions[t.authorizer.function]

        # Which issuer the development identity provider plays, and which origin the demo backend.
        try:
            settings = load_settings(auth_fn.environment)
        except ConfigError as e:
            raise TemplateError(f"the authorizer's environment in the template is invalid: {e}") from e
        dev_issuer = next(
            (i for i in settings.issuers if is_loopback_host(urlsplit(i.issuer).hostname)), None
        )
        if dev_issuer is None:
            raise TemplateError(
                f"stage {o.stage!r} trusts no issuer on 127.0.0.1, so the development identity provider "
                "cannot sign its tokens; run the local stack with the dev stage (--stage dev)"
            )
        origins = sorted(
            {
                f"{u.scheme}://{u.netloc}"
                for m in t.api.methods
                if m.integration.type in ("HTTP_PROXY", "HTTP")
                for u in [urlsplit(m.integration.uri)]
                if is_loopback_host(u.hostname)
            }
        )

        idp_port = o.idp_port if o.idp_port is not None else (urlsplit(dev_issuer.issuer).port or 80)
        default_backend_port = urlsplit(origins[0]).port if origins else 8082
        backend_port = o.backend_port if o.backend_port is not None else (default_backend_port or 80)
        check_ports(
            o.host,
            [
                ("gateway", o.gateway_port, "--port"),
                ("moto server", o.moto_port, "--moto-port"),
                ("identity provider", idp_port, "--idp-port"),
                ("demo backend", backend_port, "--backend-port"),
            ],
        )

        o.log(f"starting the moto server on {o.host}:{o.moto_port} …")
        moto_fixes.install()
        self.moto.start()
        self.moto.reset()
        self._create_resources(t)

        self._idp_server = ServerThread(
            "identity provider", idp.IdpHandler, o.host, idp_port, option="--idp-port"
        )
        self._idp_server.start()
        issuer_url = _with_port(dev_issuer.issuer, self._idp_server.port)
        issuers_json = auth_fn.environment[C.ENV_ISSUERS].replace(
            json.dumps(dev_issuer.issuer)[1:-1], json.dumps(issuer_url)[1:-1]
        )
        self._issuers_json = issuers_json
        self.idp = idp.DevIdentityProvider(self._issuer_settings(issuers_json, issuer_url))
        self._idp_server.configure(idp=self.idp)

        integration_tls = None
        backend_tls = None
        if any(urlsplit(origin).scheme == "https" for origin in origins):
            # As API Gateway: the stage's client certificate is presented to HTTPS backends only.
            with_certificate = t.api.stage.client_certificate_id is not None
            self.tls = LocalTls.create(o.tls_dir or TLS_DIR)
            backend_tls = self.tls.server_context(require_client_certificate=with_certificate)
            integration_tls = self.tls.client_context(present_certificate=with_certificate)
        self._backend_server = backend.serve(o.host, backend_port, ssl_context=backend_tls)
        origin_map = {
            origin: _with_port(origin, self._backend_server.port)
            for origin in origins
            if urlsplit(origin).port != self._backend_server.port
        }

        self.shipper = LogShipper(self.client("logs"))
        self.shipper.start()
        shipper = self.shipper

        def log_sink(group: str, stream: str, line: str) -> None:
            shipper.put(group, stream, line)

        try:
            self.authorizer = AuthorizerRuntime(
                auth_fn,
                local_environment(auth_fn, self.moto.url, {C.ENV_ISSUERS: issuers_json}),
                log_sink,
                timeout=o.authorizer_timeout,
                platform_lines=o.lambda_platform_lines,
            )
        except ConfigError as e:
            raise TemplateError(f"the authorizer does not start with the template's environment: {e}") from e
        for es in t.event_sources:
            spec = t.functions[es.function]
            if es.function not in self.functions:
                self.functions[es.function] = FunctionRuntime(
                    spec,
                    local_environment(spec, self.moto.url, {}),
                    log_sink,
                    platform_lines=o.lambda_platform_lines,
                )

        access_group = t.api.stage.access_log_group
        access_stream = f"local-{int(time.time())}"

        def access_log(line: str) -> None:
            if access_group:
                shipper.put(access_group, access_stream, line)

        self.gateway = gateway.Gateway(
            t.api,
            self.authorizer.invoke,
            access_log=access_log,
            integration_origins=origin_map,
            integration_tls=integration_tls,
        )
        self.moto.on_flush = self.gateway.flush_authorizer_cache
        self._mirror_api(t)
        # From here on, API keys and usage plans are what API Gateway's API (moto) says: re-read on
        # every write to them, and every KEY_REFRESH_SECONDS whatever happens.
        usage = self.gateway.usage
        usage.source = self._read_usage_plans
        usage.refresh()
        self.moto.on_usage_change = usage.refresh
        self.usage_poller = UsagePlanPoller(usage.refresh, KEY_REFRESH_SECONDS)
        self.usage_poller.start()
        self._gateway_server = gateway.serve(self.gateway, o.host, o.gateway_port)

        if o.seed:
            demo.seed(self.client("dynamodb"), self._role_table(t), issuer_url)
        if o.pollers:
            self._start_pollers(t)
            if o.seed:
                # The role-events handler flushes the authorizer cache after the seed's stream
                # records: wait for it, so that no flush lands in the middle of the first requests.
                self.wait_for_role_events(timeout=20.0)
        gw = self._gateway_server.url
        self.urls = StackUrls(
            api=f"{gw}/{t.api.stage.name}/",
            gateway=gw,
            moto=self.moto.url,
            issuer=issuer_url,
            token_endpoint=f"{issuer_url.rstrip('/')}/token",
            backend=self._backend_server.url,
        )
        self._register_outputs(t)
        if o.state_dir is not None:
            self._state_path = state.write_state(
                o.state_dir, self._gateway_server.port, t.stack_name, self.urls.as_dict()
            )
        return self.urls

    def _issuer_settings(self, issuers_json: str, issuer_url: str) -> IssuerSettings:
        from edgeauth.core.settings import parse_issuers

        issuers = parse_issuers(json.loads(issuers_json))
        return next(i for i in issuers if i.issuer == issuer_url)

    def _role_table(self, t: LocalTemplate) -> str:
        auth_env = t.functions[t.authorizer.function].environment
        name = auth_env.get(C.ENV_ROLE_TABLE)
        if not name:
            raise TemplateError(f"the authorizer has no {C.ENV_ROLE_TABLE} in its environment")
        return name

    def _create_resources(self, t: LocalTemplate) -> None:
        ddb = self.client("dynamodb")
        for table in t.tables:
            args: dict[str, Any] = {
                "TableName": table.name,
                "KeySchema": table.key_schema,
                "AttributeDefinitions": table.attributes,
                "BillingMode": "PAY_PER_REQUEST",
            }
            if table.stream_view_type:
                args["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": table.stream_view_type,
                }
            if table.global_indexes:
                args["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in g.items() if k in ("IndexName", "KeySchema", "Projection")}
                    for g in table.global_indexes
                ]
            ddb.create_table(**args)
            if table.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )
        kinesis = self.client("kinesis")
        for stream in t.streams:
            kinesis.create_stream(StreamName=stream.name, ShardCount=stream.shards)
        sqs = self.client("sqs")
        for queue in t.queues:
            self.queue_urls[queue.arn] = sqs.create_queue(QueueName=queue.name)["QueueUrl"]
        logs = self.client("logs")
        groups = {g.name for g in t.log_groups} | {f.log_group for f in t.functions.values()}
        if t.api.stage.access_log_group:
            groups.add(t.api.stage.access_log_group)
        for group in sorted(groups):
            logs.create_log_group(logGroupName=group)
        for sub in t.subscriptions:
            logs.put_subscription_filter(
                logGroupName=sub.log_group,
                filterName=sub.filter_name,
                filterPattern=sub.pattern,
                destinationArn=sub.destination_arn,
                roleArn=sub.role_arn,
            )

    def _mirror_api(self, t: LocalTemplate) -> None:
        """The REST API's control plane in moto, with the template's ids.

        The gateway reads its routes, authorizer and integrations from the template; this copy is
        for the tools that ask API Gateway: ``edgeauth explain`` (resources), ``edgeauth clients``
        (API keys on the usage plans of the stack outputs). API keys and usage plans (with their
        API stage and per-method throttles) are then the gateway's too: it meters on what moto
        holds (:meth:`_read_usage_plans`), so changes made through the API reach it.
        """
        api = t.api
        gw = self.client("apigateway")
        gw.create_rest_api(name=api.name, apiKeySource=api.key_source, tags={"_custom_id_": api.id})
        ids = {"/": next(r["id"] for r in gw.get_resources(restApiId=api.id)["items"] if r["path"] == "/")}
        for path in sorted({m.resource_path for m in api.methods}, key=lambda p: p.count("/")):
            parts = [p for p in path.split("/") if p]
            for i in range(1, len(parts) + 1):
                sub_path = "/" + "/".join(parts[:i])
                if sub_path not in ids:
                    parent = ids["/" + "/".join(parts[: i - 1])] if i > 1 else ids["/"]
                    ids[sub_path] = gw.create_resource(
                        restApiId=api.id, parentId=parent, pathPart=parts[i - 1]
                    )["id"]
        for m in api.methods:
            gw.put_method(
                restApiId=api.id,
                resourceId=ids[m.resource_path],
                httpMethod=m.http_method,
                authorizationType=m.authorization_type,
                apiKeyRequired=m.api_key_required,
            )
        from moto.apigateway.utils import ApigwApiKeyIdentifier, ApigwUsagePlanIdentifier
        from moto.utilities.id_generator import moto_id_manager

        for key in api.api_keys.values():
            # API keys take no _custom_id_ tag; the moto server runs in this process: set the id directly.
            ident = ApigwApiKeyIdentifier(ACCOUNT, REGION, key.value)
            moto_id_manager.set_custom_id(ident, key.id)
            try:
                gw.create_api_key(name=key.name, value=key.value, enabled=key.enabled)
            finally:
                moto_id_manager.unset_custom_id(ident)
        for plan in api.usage_plans:
            args: dict[str, Any] = {"name": plan.name}
            if plan.throttle:
                args["throttle"] = {"rateLimit": plan.throttle.rate, "burstLimit": plan.throttle.burst}
            if plan.quota:
                args["quota"] = {
                    "limit": plan.quota.limit,
                    "period": plan.quota.period,
                    "offset": plan.quota.offset,
                }
            stage: dict[str, Any] = {"apiId": api.id, "stage": api.stage.name}
            if plan.method_throttles:
                stage["throttle"] = {
                    m: {"rateLimit": t.rate, "burstLimit": t.burst} for m, t in plan.method_throttles.items()
                }
            args["apiStages"] = [stage] if (api.id, api.stage.name) in plan.stages else []
            # Usage plans ignore the _custom_id_ tag too (moto 5.2): without the template's id, the
            # stack outputs would name plans moto does not have, and keys attached to them would be
            # in no plan that GetUsagePlans lists.
            plan_ident = ApigwUsagePlanIdentifier(ACCOUNT, REGION, plan.name)
            moto_id_manager.set_custom_id(plan_ident, plan.id)
            try:
                created = gw.create_usage_plan(**args)
            finally:
                moto_id_manager.unset_custom_id(plan_ident)
            if created["id"] != plan.id:
                raise TemplateError(
                    f"moto gave usage plan {plan.logical_id} the id {created['id']}, not {plan.id}"
                )
            for key_id in plan.key_ids:
                gw.create_usage_plan_key(usagePlanId=plan.id, keyId=key_id, keyType="API_KEY")

    def _read_usage_plans(self) -> tuple[list[UsagePlanSpec], list[ApiKeySpec]]:
        """The usage plans of this stage (with their keys) and every API key, from moto."""
        gw = self.client("apigateway")
        api = self.spec.api

        def items(operation: str, **args: Any) -> list[dict[str, Any]]:
            return [i for page in gw.get_paginator(operation).paginate(**args) for i in page.get("items", [])]

        plans = [
            plan_from_api(p, [str(k["id"]) for k in items("get_usage_plan_keys", usagePlanId=p["id"])])
            for p in items("get_usage_plans")
            if any(
                s.get("apiId") == api.id and s.get("stage") == api.stage.name
                for s in p.get("apiStages") or []
            )
        ]
        keys = [
            ApiKeySpec(
                str(k["id"]),
                str(k["id"]),
                str(k.get("name") or k["id"]),
                str(k["value"]),
                bool(k.get("enabled")),
            )
            for k in items("get_api_keys", includeValues=True)
            if k.get("value")
        ]
        return plans, keys

    def _start_pollers(self, t: LocalTemplate) -> None:
        for es in t.event_sources:
            if not es.enabled:
                continue
            runtime = self.functions[es.function]
            interval = 0.1
            if es.kind == "kinesis":
                client, arn = self.client("kinesis"), es.source_arn
            else:
                table = es.source_arn.split(":table/", 1)[1].split("/", 1)[0]
                arn = self.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
                client = self.client("dynamodbstreams")
                interval = DYNAMODB_POLL_SECONDS
            url = self.queue_urls.get(es.on_failure or "")
            on_failure = self._sender(url) if url is not None else None
            function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{runtime.spec.name}"
            poller = StreamPoller(
                es,
                runtime.invoke,
                client,
                arn,
                interval=interval,
                on_failure=on_failure,
                function_arn=function_arn,
            )
            poller.start()
            self.pollers.append(poller)

    def _sender(self, queue_url: str) -> Callable[[str], None]:
        """Sends a message to ``queue_url`` in moto (an event source mapping's on-failure destination)."""
        sqs = self.client("sqs")

        def send(body: str) -> None:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)

        return send

    def _register_outputs(self, t: LocalTemplate) -> None:
        """The template's outputs (local values), answered to ``DescribeStacks`` for ``--stack``."""
        if self.urls is None:
            return
        outputs = dict(t.outputs)
        outputs[C.OUTPUT_API_URL] = self.urls.api
        # On AWS, Ref of a queue is its URL (the template reader resolves it to the name).
        by_name = {q.name: self.queue_urls[q.arn] for q in t.queues if q.arn in self.queue_urls}
        outputs = {key: by_name.get(value, value) for key, value in outputs.items()}
        self.moto.stack_outputs[t.stack_name] = outputs
        # GetTemplate: the template as the local stack runs it (the issuers with the local URL).
        import copy

        template = copy.deepcopy(t.raw)
        props = template["Resources"][t.authorizer.function]["Properties"]
        props.setdefault("Environment", {}).setdefault("Variables", {})[C.ENV_ISSUERS] = self._issuers_json
        self.moto.stack_templates[t.stack_name] = json.dumps(template)

    # -- waiting (tests, demo) -------------------------------------------------------------------------------

    def wait_for_role_events(self, timeout: float = 20.0) -> bool:
        """Wait until the role table's stream pollers have delivered everything written so far."""
        deadline = time.monotonic() + timeout
        ddb = [p for p in self.pollers if p.spec.kind == "dynamodb"]
        while time.monotonic() < deadline:
            if all(p.idle.is_set() and p.drained() and p.delivered > 0 for p in ddb):
                return True
            time.sleep(0.05)
        return False

    def wait_for_pipeline(self, timeout: float = 15.0) -> bool:
        """Wait until queued logs are shipped and every poller has drained its stream."""
        deadline = time.monotonic() + timeout
        self.flush_logs(timeout)
        while time.monotonic() < deadline:
            time.sleep(0.3)  # let subscription deliveries land and pollers take a pass
            if all(p.drained() and p.idle.is_set() for p in self.pollers) and self.flush_logs(0.1):
                return True
        return False

    # -- stop -------------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for server in (self._gateway_server,):
            if server is not None:
                server.stop()
        if self.usage_poller is not None:
            self.usage_poller.stop()
        if self.shipper is not None:
            self.shipper.flush(2.0)
        for poller in self.pollers:
            poller.stop()
        if self.shipper is not None:
            self.shipper.stop()
        for server in (self._backend_server, self._idp_server):
            if server is not None:
                server.stop()
        if self.authorizer is not None:
            self.authorizer.close()
        for fn in self.functions.values():
            fn.close()
        self.moto.stop()
        if self.tls is not None:
            self.tls.remove()
        if self._state_path is not None:
            state.remove_state(self._state_path)


def start_stack(
    *,
    template: dict[str, Any] | None = None,
    stage: str = "dev",
    seed: bool = True,
    pollers: bool = True,
    **options: Any,
) -> LocalStack:
    """Benchmark and test hook: the whole stack in-process on ephemeral ports.

    Returns the started :class:`LocalStack`: ``stack.urls.api`` is the stage URL,
    ``stack.token(sub)`` mints a token, ``stack.stop()`` stops everything. ``template`` skips the
    synth (pass one synthesized earlier); other keyword arguments are :class:`StackOptions` fields.
    """
    ports: dict[str, Any] = {"gateway_port": 0, "moto_port": 0, "idp_port": 0, "backend_port": 0}
    ports.update(options)
    opts = StackOptions(stage=stage, template=template, seed=seed, pollers=pollers, **ports)
    stack = LocalStack(opts)
    stack.start()
    return stack
