"""What the gateway must do, read from the synthesized CloudFormation template itself.

moto's ``create_stack`` silently skips authorizers, stages, usage plans, API keys and subscription
filters (see ARCHITECTURE), so the local stack never deploys the template: it reads it. This module
turns the template's resources into typed specs (:class:`LocalTemplate`), resolving ``Ref``,
``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` and
``Fn::FindInMap`` to the names and ARNs the local resources get. A resource without an explicit
physical name is named ``<stack>-<LogicalId>`` (CloudFormation would add a random suffix).

Only standard CloudFormation resource types are read, never CDK construct paths, so the reader
works for any template of the same shape. What the gateway cannot honour raises
:class:`~edgeauth_local.errors.TemplateError` with the logical id, never a silent fallback.

:func:`synthesize` runs the CDK app (``app.py``) in a child process, as ``cdk synth`` would, and
caches the template under ``.local/synth/`` keyed by a hash of the app's sources (``app.py``,
``cdk.json``, ``infra/``, and the shared modules of ``functions/edgeauth`` that ``infra`` imports).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeauth_local.errors import SynthError, TemplateError

REGION = "us-east-1"
ACCOUNT = "123456789012"
"""moto's default account: ARNs built here must match the ones moto builds."""
PARTITION = "aws"

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000
DEFAULT_AUTHORIZER_TTL = 300
DEFAULT_LAMBDA_TIMEOUT = 3.0


# --- Specs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Throttle:
    """A token bucket: ``rate`` requests per second refill, ``burst`` capacity."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    period: str  # DAY | WEEK | MONTH
    offset: int = 0


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    environment: dict[str, str]
    timeout: float
    log_group: str


@dataclass(frozen=True, slots=True)
class AuthorizerSpec:
    logical_id: str
    id: str
    name: str
    type: str  # REQUEST | TOKEN
    identity_sources: tuple[str, ...]
    ttl: int
    validation_expression: str | None
    function: str  # logical id of the function


@dataclass(frozen=True, slots=True)
class IntegrationSpec:
    type: str  # HTTP_PROXY | HTTP | MOCK | AWS_PROXY | AWS
    http_method: str
    uri: str
    request_parameters: dict[str, str]
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class MethodSpec:
    logical_id: str
    http_method: str  # GET … or ANY
    resource_path: str
    resource_id: str
    authorization_type: str  # NONE | CUSTOM | AWS_IAM | COGNITO_USER_POOLS
    authorizer: str | None  # logical id
    api_key_required: bool
    integration: IntegrationSpec
    request_parameters: dict[str, bool]


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    method_throttles: dict[tuple[str, str], Throttle]  # (resource path or "*", METHOD or "*")
    access_log_format: str | None
    access_log_group: str | None
    variables: dict[str, str]
    client_certificate_id: str | None = None
    """``ClientCertificateId``: the stage presents a client certificate to HTTPS backends."""


@dataclass(frozen=True, slots=True)
class UsagePlanSpec:
    logical_id: str
    id: str
    name: str
    throttle: Throttle | None
    quota: Quota | None
    stages: tuple[tuple[str, str], ...]  # (api id, stage name)
    method_throttles: dict[str, Throttle]  # "/accounts/{id}/GET" -> throttle
    key_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ApiKeySpec:
    logical_id: str
    id: str
    name: str
    value: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class GatewayResponseSpec:
    type: str
    status: int | None
    headers: dict[str, str]  # header name -> mapping expression ("'static'" or method.request…)
    templates: dict[str, str]


@dataclass(frozen=True, slots=True)
class ApiSpec:
    logical_id: str
    id: str
    name: str
    key_source: str  # HEADER | AUTHORIZER
    methods: tuple[MethodSpec, ...]
    authorizers: dict[str, AuthorizerSpec]
    stage: StageSpec
    usage_plans: tuple[UsagePlanSpec, ...]
    api_keys: dict[str, ApiKeySpec]  # by key id
    gateway_responses: dict[str, GatewayResponseSpec]

    @property
    def resource_paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.resource_path for m in self.methods))


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_id: str
    name: str
    key_schema: list[dict[str, str]]
    attributes: list[dict[str, str]]
    stream_view_type: str | None
    global_indexes: list[dict[str, Any]]
    ttl_attribute: str | None = None
    """``TimeToLiveSpecification.AttributeName`` when TTL is enabled (the DPoP replay table)."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    logical_id: str
    name: str
    shards: int
    arn: str


@dataclass(frozen=True, slots=True)
class LogGroupSpec:
    logical_id: str
    name: str


@dataclass(frozen=True, slots=True)
class QueueSpec:
    logical_id: str
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    logical_id: str
    log_group: str
    filter_name: str
    pattern: str
    destination_arn: str
    role_arn: str


@dataclass(frozen=True, slots=True)
class EventSourceSpec:
    logical_id: str
    function: str  # logical id
    source_arn: str
    kind: str  # kinesis | dynamodb
    batch_size: int
    starting_position: str
    report_item_failures: bool
    max_retries: int  # -1: until the record expires
    bisect_on_error: bool
    max_batching_window: float
    enabled: bool
    on_failure: str | None = None
    """ARN of the on-failure destination (``DestinationConfig.OnFailure``), e.g. an SQS queue's."""


@dataclass(frozen=True, slots=True)
class LocalTemplate:
    """Everything the local stack needs from one stack's template."""

    stack_name: str
    api: ApiSpec
    functions: dict[str, FunctionSpec]
    tables: tuple[TableSpec, ...]
    streams: tuple[StreamSpec, ...]
    log_groups: tuple[LogGroupSpec, ...]
    subscriptions: tuple[SubscriptionSpec, ...]
    event_sources: tuple[EventSourceSpec, ...]
    outputs: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False)
    queues: tuple[QueueSpec, ...] = ()

    @property
    def authorizer(self) -> AuthorizerSpec:
        """The API's one Lambda authorizer (the local stack serves exactly one)."""
        return next(iter(self.api.authorizers.values()))

    def function_by_env(self, name: str) -> FunctionSpec | None:
        """The first function whose environment defines ``name``."""
        return next((f for f in self.functions.values() if name in f.environment), None)


# --- Intrinsic functions ------------------------------------------------------------------------

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Resolves intrinsic functions to the local names and ARNs of the template's resources."""

    def __init__(self, template: Mapping[str, Any], stack_name: str) -> None:
        self.template = template
        self.stack_name = stack_name
        self.resources: dict[str, Any] = dict(template.get("Resources") or {})
        self.parameters: dict[str, Any] = dict(template.get("Parameters") or {})
        self.mappings: dict[str, Any] = dict(template.get("Mappings") or {})
        self.conditions: dict[str, Any] = dict(template.get("Conditions") or {})
        self.api_ids: dict[str, str] = {}

    # names ---------------------------------------------------------------------------------------

    def props(self, logical_id: str) -> dict[str, Any]:
        res = self.resources.get(logical_id)
        if res is None:
            raise TemplateError(f"template references unknown resource {logical_id!r}")
        return dict(res.get("Properties") or {})

    def type_of(self, logical_id: str) -> str:
        return str((self.resources.get(logical_id) or {}).get("Type", ""))

    def generated_name(self, logical_id: str, limit: int = 64) -> str:
        return f"{self.stack_name}-{logical_id}"[:limit]

    def short_id(self, logical_id: str) -> str:
        """A stable 10-character id like API Gateway's (``a1b2c3d4e5``)."""
        return hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:10]

    def ref(self, logical_id: str) -> str:
        if logical_id in self.parameters:
            return str(self.resolve(self.parameters[logical_id].get("Default", "")))
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/local",
            "AWS::NoValue": "",
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        rtype = self.type_of(logical_id)
        if not rtype:
            raise TemplateError(f"Ref to unknown resource {logical_id!r}")
        p = self.props(logical_id)
        name_props = {
            "AWS::DynamoDB::Table": ("TableName", 255),
            "AWS::Kinesis::Stream": ("Name", 128),
            "AWS::Logs::LogGroup": ("LogGroupName", 512),
            "AWS::Lambda::Function": ("FunctionName", 64),
            "AWS::IAM::Role": ("RoleName", 64),
            "AWS::SQS::Queue": ("QueueName", 80),
            "AWS::SNS::Topic": ("TopicName", 256),
        }
        if rtype in name_props:
            prop, limit = name_props[rtype]
            if p.get(prop):
                return str(self.resolve(p[prop]))
            return self.generated_name(logical_id, limit)
        if rtype == "AWS::Lambda::Alias":  # Ref is the alias's ARN: …:function:NAME:ALIAS (SnapStart)
            function = str(self.resolve(p.get("FunctionName")))
            if not function.startswith("arn:"):
                function = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{function}"
            return f"{function}:{self.resolve(p.get('Name'))}"
        if rtype == "AWS::ApiGateway::Stage":
            return str(self.resolve(p.get("StageName", logical_id)))
        if rtype == "AWS::ApiGateway::RestApi":
            return self.api_ids.setdefault(logical_id, self.short_id(logical_id))
        if rtype.startswith("AWS::ApiGateway::"):
            return self.short_id(logical_id)
        return self.generated_name(logical_id)

    def arn(self, logical_id: str) -> str:
        rtype = self.type_of(logical_id)
        name = self.ref(logical_id)
        base = f"arn:{PARTITION}:{{}}:{REGION}:{ACCOUNT}:"
        return {
            "AWS::DynamoDB::Table": base.format("dynamodb") + f"table/{name}",
            "AWS::Kinesis::Stream": base.format("kinesis") + f"stream/{name}",
            "AWS::Logs::LogGroup": base.format("logs") + f"log-group:{name}:*",
            "AWS::Lambda::Function": base.format("lambda") + f"function:{name}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            "AWS::SQS::Queue": base.format("sqs") + name,
            "AWS::SNS::Topic": base.format("sns") + name,
            "AWS::KMS::Key": base.format("kms") + f"key/{name}",
        }.get(rtype, base.format("local") + f"{logical_id}/{name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        rtype = self.type_of(logical_id)
        if attribute == "Arn":
            return self.arn(logical_id)
        if rtype == "AWS::ApiGateway::RestApi" and attribute == "RootResourceId":
            return self.short_id(logical_id + "/root")
        if rtype == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return self.arn(logical_id) + "/stream/local"
        if rtype == "AWS::SQS::Queue" and attribute == "QueueName":
            return self.ref(logical_id)
        if attribute in ("KeyId", "Name", "LogGroupName"):
            return self.ref(logical_id)
        return f"{self.ref(logical_id)}.{attribute}"

    # values --------------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        (key, arg), *_ = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
            return self.get_att(parts[0], str(self.resolve(parts[1])))
        if key == "Fn::Join":
            sep, items = arg
            return str(sep).join(str(self.resolve(i)) for i in self.resolve(items))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if key == "Fn::If":
            cond, yes, no = arg
            return self.resolve(yes if self.condition(cond) else no)
        if key == "Fn::FindInMap":
            name, top, second = (self.resolve(a) for a in arg)
            return self.resolve(self.mappings[name][top][second])
        if key == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        if key == "Fn::ImportValue":
            raise TemplateError("Fn::ImportValue is not supported by the local stack")
        return {key: self.resolve(arg)}

    def condition(self, name: str) -> bool:
        return bool(self._cond(self.conditions[name]))

    def _cond(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            (key, arg), *_ = expr.items()
            if key == "Fn::Equals":
                return self._cond(arg[0]) == self._cond(arg[1])
            if key == "Fn::Not":
                return not self._cond(arg[0])
            if key == "Fn::And":
                return all(self._cond(a) for a in arg)
            if key == "Fn::Or":
                return any(self._cond(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(expr)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                lid, attr = name.split(".", 1)
                return self.get_att(lid, attr)
            return self.ref(name)

        return _SUB_VAR.sub(repl, str(text)).replace("${!", "${")


# --- Reading the template -----------------------------------------------------------------------


def _of_type(resources: Mapping[str, Any], rtype: str) -> list[tuple[str, dict[str, Any]]]:
    return [(lid, dict(r.get("Properties") or {})) for lid, r in resources.items() if r.get("Type") == rtype]


def _logical(value: Any) -> str | None:
    """The logical id a ``Ref`` / ``Fn::GetAtt`` points at (``None`` for anything else)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return str(att.split(".")[0] if isinstance(att, str) else att[0])
    return None


def _bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _throttle(raw: Mapping[str, Any] | None, rate_key: str, burst_key: str) -> Throttle | None:
    if not raw or (raw.get(rate_key) is None and raw.get(burst_key) is None):
        return None
    rate = float(raw.get(rate_key, 10_000))
    burst = int(raw.get(burst_key, 5_000))
    return Throttle(rate, burst)


def read_template(raw: Mapping[str, Any], stack_name: str) -> LocalTemplate:
    """Turn a synthesized template into specs. Raises :class:`TemplateError`."""
    r = Resolver(raw, stack_name)
    res = r.resources

    apis = _of_type(res, "AWS::ApiGateway::RestApi")
    if len(apis) != 1:
        raise TemplateError(f"expected exactly one AWS::ApiGateway::RestApi, found {len(apis)}")
    api_lid, api_props = apis[0]
    api_id = r.ref(api_lid)

    functions: dict[str, FunctionSpec] = {}
    for lid, p in _of_type(res, "AWS::Lambda::Function"):
        env = {k: str(r.resolve(v)) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()}
        name = r.ref(lid)
        logging = p.get("LoggingConfig") or {}
        log_group = str(r.resolve(logging["LogGroup"])) if logging.get("LogGroup") else f"/aws/lambda/{name}"
        functions[lid] = FunctionSpec(
            logical_id=lid,
            name=name,
            handler=str(r.resolve(p.get("Handler", ""))),
            environment=env,
            timeout=float(r.resolve(p.get("Timeout", DEFAULT_LAMBDA_TIMEOUT))),
            log_group=log_group,
        )
    function_by_name = {f.name: lid for lid, f in functions.items()}

    def function_of(uri: str, where: str) -> str:
        m = re.search(r"function:([^/:]+)", uri)
        if m is None or m.group(1) not in function_by_name:
            raise TemplateError(f"{where}: cannot find the Lambda function of {uri!r}")
        return function_by_name[m.group(1)]

    # Resource tree: path of each AWS::ApiGateway::Resource.
    paths: dict[str, str] = {}

    def path_of(ref: Any) -> str:
        lid = _logical(ref)
        if lid is None or lid == api_lid:
            return "/"
        if lid in paths:
            return paths[lid]
        p = r.props(lid)
        parent = path_of(p.get("ParentId"))
        part = str(r.resolve(p.get("PathPart")))
        paths[lid] = (parent.rstrip("/") + "/" + part) if parent != "/" else "/" + part
        return paths[lid]

    for lid, _ in _of_type(res, "AWS::ApiGateway::Resource"):
        path_of({"Ref": lid})

    authorizers: dict[str, AuthorizerSpec] = {}
    for lid, p in _of_type(res, "AWS::ApiGateway::Authorizer"):
        atype = str(p.get("Type", ""))
        if atype not in ("REQUEST", "TOKEN"):
            raise TemplateError(f"{lid}: authorizer type {atype!r} is not emulated (REQUEST and TOKEN are)")
        uri = str(r.resolve(p.get("AuthorizerUri", "")))
        sources = str(r.resolve(p.get("IdentitySource", "")))
        authorizers[lid] = AuthorizerSpec(
            logical_id=lid,
            id=r.ref(lid),
            name=str(r.resolve(p.get("Name", lid))),
            type=atype,
            identity_sources=tuple(s.strip() for s in sources.split(",") if s.strip()),
            ttl=int(r.resolve(p.get("AuthorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL))),
            validation_expression=r.resolve(p.get("IdentityValidationExpression")),
            function=function_of(uri, lid),
        )
    if len(authorizers) != 1:
        raise TemplateError(f"expected exactly one Lambda authorizer, found {len(authorizers)}")

    methods: list[MethodSpec] = []
    for lid, p in _of_type(res, "AWS::ApiGateway::Method"):
        integ = dict(p.get("Integration") or {})
        itype = str(integ.get("Type", "MOCK"))
        methods.append(
            MethodSpec(
                logical_id=lid,
                http_method=str(p.get("HttpMethod", "ANY")).upper(),
                resource_path=path_of(p.get("ResourceId")),
                resource_id=str(r.resolve(p.get("ResourceId"))),
                authorization_type=str(p.get("AuthorizationType", "NONE")),
                authorizer=_logical(p.get("AuthorizerId")),
                api_key_required=_bool(p.get("ApiKeyRequired")),
                integration=IntegrationSpec(
                    type=itype,
                    http_method=str(integ.get("IntegrationHttpMethod", p.get("HttpMethod", "ANY"))).upper(),
                    uri=str(r.resolve(integ.get("Uri", ""))),
                    request_parameters={
                        str(k): str(r.resolve(v)) for k, v in (integ.get("RequestParameters") or {}).items()
                    },
                    timeout_ms=int(integ.get("TimeoutInMillis", DEFAULT_INTEGRATION_TIMEOUT_MS)),
                ),
                request_parameters={str(k): _bool(v) for k, v in (p.get("RequestParameters") or {}).items()},
            )
        )
    if not methods:
        raise TemplateError("the REST API has no methods")

    stages = _of_type(res, "AWS::ApiGateway::Stage")
    if len(stages) != 1:
        raise TemplateError(f"expected exactly one AWS::ApiGateway::Stage, found {len(stages)}")
    stage_lid, sp = stages[0]
    method_throttles: dict[tuple[str, str], Throttle] = {}
    for ms in sp.get("MethodSettings") or []:
        t = _throttle(ms, "ThrottlingRateLimit", "ThrottlingBurstLimit")
        if t is not None:
            rpath = str(ms.get("ResourcePath", "/*")).replace("~1", "/")
            key = ("*" if rpath in ("/*", "*") else rpath, str(ms.get("HttpMethod", "*")).upper())
            method_throttles[key] = t
    access = sp.get("AccessLogSetting") or {}
    access_group: str | None = None
    if access.get("DestinationArn"):
        arn = str(r.resolve(access["DestinationArn"]))
        m = re.search(r":log-group:([^:]+)", arn)
        if m is None:
            raise TemplateError(f"{stage_lid}: access log destination is not a log group ARN: {arn!r}")
        access_group = m.group(1)
    stage = StageSpec(
        name=r.ref(stage_lid),
        method_throttles=method_throttles,
        access_log_format=r.resolve(access.get("Format")) if access else None,
        access_log_group=access_group,
        variables={k: str(r.resolve(v)) for k, v in (sp.get("Variables") or {}).items()},
        client_certificate_id=str(r.resolve(sp["ClientCertificateId"]))
        if sp.get("ClientCertificateId")
        else None,
    )

    api_keys: dict[str, ApiKeySpec] = {}
    for lid, p in _of_type(res, "AWS::ApiGateway::ApiKey"):
        value = r.resolve(p.get("Value"))
        if not value:
            # API Gateway would generate one; the local stack derives a stable value instead.
            value = hashlib.sha256(f"{stack_name}/{lid}/key".encode()).hexdigest()[:40]
        api_keys[r.ref(lid)] = ApiKeySpec(
            logical_id=lid,
            id=r.ref(lid),
            name=str(r.resolve(p.get("Name", lid))),
            value=str(value),
            enabled=_bool(p.get("Enabled"), default=False),
        )

    keys_of_plan: dict[str, list[str]] = {}
    for _lid, p in _of_type(res, "AWS::ApiGateway::UsagePlanKey"):
        plan = _logical(p.get("UsagePlanId"))
        if plan is not None:
            keys_of_plan.setdefault(plan, []).append(str(r.resolve(p.get("KeyId"))))

    plans: list[UsagePlanSpec] = []
    for lid, p in _of_type(res, "AWS::ApiGateway::UsagePlan"):
        stages_of: list[tuple[str, str]] = []
        mthrottles: dict[str, Throttle] = {}
        for st in p.get("ApiStages") or []:
            stages_of.append((str(r.resolve(st.get("ApiId"))), str(r.resolve(st.get("Stage")))))
            for path_method, t in (st.get("Throttle") or {}).items():
                th = _throttle(t, "RateLimit", "BurstLimit")
                if th is not None:
                    mthrottles[str(path_method)] = th
        q = p.get("Quota")
        plans.append(
            UsagePlanSpec(
                logical_id=lid,
                id=r.ref(lid),
                name=str(r.resolve(p.get("UsagePlanName", lid))),
                throttle=_throttle(p.get("Throttle"), "RateLimit", "BurstLimit"),
                quota=Quota(int(q["Limit"]), str(q.get("Period", "DAY")), int(q.get("Offset", 0)))
                if q and q.get("Limit") is not None
                else None,
                stages=tuple(stages_of),
                method_throttles=mthrottles,
                key_ids=tuple(keys_of_plan.get(lid, ())),
            )
        )

    responses: dict[str, GatewayResponseSpec] = {}
    for _lid, p in _of_type(res, "AWS::ApiGateway::GatewayResponse"):
        rtype = str(p.get("ResponseType"))
        headers = {}
        for k, v in (p.get("ResponseParameters") or {}).items():
            if str(k).startswith("gatewayresponse.header."):
                headers[str(k)[len("gatewayresponse.header.") :]] = str(r.resolve(v))
        status = p.get("StatusCode")
        responses[rtype] = GatewayResponseSpec(
            type=rtype,
            status=int(status) if status not in (None, "") else None,
            headers=headers,
            templates={str(k): str(r.resolve(v)) for k, v in (p.get("ResponseTemplates") or {}).items()},
        )

    api = ApiSpec(
        logical_id=api_lid,
        id=api_id,
        name=str(r.resolve(api_props.get("Name", api_lid))),
        key_source=str(api_props.get("ApiKeySourceType", "HEADER")),
        methods=tuple(methods),
        authorizers=authorizers,
        stage=stage,
        usage_plans=tuple(plans),
        api_keys=api_keys,
        gateway_responses=responses,
    )

    tables = []
    for lid, p in _of_type(res, "AWS::DynamoDB::Table"):
        spec = p.get("StreamSpecification") or {}
        ttl = p.get("TimeToLiveSpecification") or {}
        tables.append(
            TableSpec(
                logical_id=lid,
                name=r.ref(lid),
                key_schema=list(p.get("KeySchema") or []),
                attributes=list(p.get("AttributeDefinitions") or []),
                stream_view_type=spec.get("StreamViewType"),
                global_indexes=list(p.get("GlobalSecondaryIndexes") or []),
                ttl_attribute=str(ttl["AttributeName"]) if _bool(ttl.get("Enabled")) else None,
            )
        )
    streams = [
        StreamSpec(lid, r.ref(lid), int(r.resolve(p.get("ShardCount", 1))), r.arn(lid))
        for lid, p in _of_type(res, "AWS::Kinesis::Stream")
    ]
    log_groups = [LogGroupSpec(lid, r.ref(lid)) for lid, _ in _of_type(res, "AWS::Logs::LogGroup")]
    subscriptions = [
        SubscriptionSpec(
            logical_id=lid,
            log_group=str(r.resolve(p.get("LogGroupName"))),
            filter_name=str(r.resolve(p.get("FilterName") or f"{stack_name}-{lid}")),
            pattern=str(r.resolve(p.get("FilterPattern", ""))),
            destination_arn=str(r.resolve(p.get("DestinationArn"))),
            role_arn=str(r.resolve(p.get("RoleArn", ""))),
        )
        for lid, p in _of_type(res, "AWS::Logs::SubscriptionFilter")
    ]
    event_sources = []
    for lid, p in _of_type(res, "AWS::Lambda::EventSourceMapping"):
        fn_ref = p.get("FunctionName")
        fn_lid = _logical(fn_ref)
        if fn_lid is None or fn_lid not in functions:
            fn_lid = function_by_name.get(str(r.resolve(fn_ref)))
        if fn_lid is None:
            raise TemplateError(f"{lid}: cannot find the function of the event source mapping")
        source_arn = str(r.resolve(p.get("EventSourceArn", "")))
        kind = "kinesis" if ":kinesis:" in source_arn else "dynamodb" if ":dynamodb:" in source_arn else ""
        if not kind:
            continue  # SQS and others: nothing of the local stack's concern
        event_sources.append(
            EventSourceSpec(
                logical_id=lid,
                function=fn_lid,
                source_arn=source_arn,
                kind=kind,
                batch_size=int(p.get("BatchSize", 100)),
                starting_position=str(p.get("StartingPosition", "LATEST")),
                report_item_failures="ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
                max_retries=int(p.get("MaximumRetryAttempts", -1)),
                bisect_on_error=_bool(p.get("BisectBatchOnFunctionError")),
                max_batching_window=float(p.get("MaximumBatchingWindowInSeconds", 0)),
                enabled=_bool(p.get("Enabled"), default=True),
                on_failure=_on_failure(r, p),
            )
        )
    queues = [QueueSpec(lid, r.ref(lid), r.arn(lid)) for lid, _ in _of_type(res, "AWS::SQS::Queue")]
    outputs = {}
    for key, out in (raw.get("Outputs") or {}).items():
        try:
            outputs[str(key)] = str(r.resolve(out.get("Value")))
        except (TemplateError, KeyError, IndexError, TypeError):
            continue
    return LocalTemplate(
        stack_name=stack_name,
        api=api,
        functions=functions,
        tables=tuple(tables),
        streams=tuple(streams),
        log_groups=tuple(log_groups),
        subscriptions=tuple(subscriptions),
        event_sources=tuple(event_sources),
        outputs=outputs,
        queues=tuple(queues),
        raw=dict(raw),
    )


def _on_failure(r: Resolver, props: Mapping[str, Any]) -> str | None:
    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return str(r.resolve(destination)) if destination else None


# --- Synthesis ----------------------------------------------------------------------------------


def _sources_hash(root: Path, stage: str, extra_context: Mapping[str, Any]) -> str:
    h = hashlib.sha256(f"{stage}\n{json.dumps(dict(extra_context), sort_keys=True)}\n".encode())
    # What the synthesized template depends on: the CDK app and the shared names and settings it
    # imports from functions/ (not the handlers: bundling is skipped, their code is run in place).
    files: Iterable[Path] = [
        root / "app.py",
        root / "cdk.json",
        root / "functions" / "requirements.txt",
        root / "functions" / "edgeauth" / "constants.py",
        root / "functions" / "edgeauth" / "audit" / "queries.py",
        *sorted((root / "infra").rglob("*.py")),
        *sorted((root / "functions" / "edgeauth" / "core").rglob("*.py")),
    ]
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def stack_name_for(stage: str) -> str:
    try:
        from infra.constants import stack_name

        return stack_name(stage)
    except ImportError:
        return f"EdgeAuth-{stage}"


def synthesize(
    stage: str = "dev",
    *,
    root: Path = REPO_ROOT,
    cache_dir: Path | None = None,
    timeout: float = 300.0,
    extra_context: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Synthesize the CDK app for ``stage`` and return ``(stack name, template)``.

    Runs ``app.py`` in a child process with the context ``cdk synth`` would give it (cdk.json's
    ``context``, ``stage`` and asset bundling skipped: the local stack runs the code in place).
    Raises :class:`SynthError` with the app's own error output when it fails.
    """
    app = root / "app.py"
    if not app.is_file():
        raise SynthError(f"cannot synthesize: {app} does not exist (the CDK app is not there yet)")
    stack = stack_name_for(stage)
    extra = dict(extra_context or {})
    cache_dir = cache_dir or root / ".local" / "synth"
    key = _sources_hash(root, stage, extra)
    # A variant (extra context, e.g. DPoP on) is cached beside the plain template, not instead of it.
    prefix = (
        stack
        if not extra
        else f"{stack}+{hashlib.sha256(json.dumps(extra, sort_keys=True).encode()).hexdigest()[:8]}"
    )
    cached = cache_dir / f"{prefix}.{key}.template.json"
    if cached.is_file():
        return stack, dict(json.loads(cached.read_text()))

    context: dict[str, Any] = {}
    cdk_json = root / "cdk.json"
    if cdk_json.is_file():
        try:
            context.update(json.loads(cdk_json.read_text()).get("context") or {})
        except ValueError as e:
            raise SynthError(f"cdk.json is not valid JSON: {e}") from e
    context.update({"stage": stage, "aws:cdk:bundling-stacks": [], **extra})
    with tempfile.TemporaryDirectory(prefix="edgeauth-synth-") as out:
        env = dict(os.environ)
        env.update(
            {
                "CDK_OUTDIR": out,
                "CDK_CONTEXT_JSON": json.dumps(context),
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
                "CDK_DEFAULT_REGION": env.get("CDK_DEFAULT_REGION", REGION),
                "CDK_DEFAULT_ACCOUNT": env.get("CDK_DEFAULT_ACCOUNT", ACCOUNT),
            }
        )
        try:
            proc = subprocess.run(  # noqa: S603 - our own interpreter running our own app
                [sys.executable, str(app)],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise SynthError(f"the CDK app did not finish synthesizing within {timeout:.0f} s") from e
        except OSError as e:
            raise SynthError(f"cannot run the CDK app: {e}") from e
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise SynthError(f"the CDK app failed to synthesize (exit {proc.returncode}):\n{tail}")
        path = Path(out) / f"{stack}.template.json"
        if not path.is_file():
            found = sorted(p.name for p in Path(out).glob("*.template.json"))
            raise SynthError(
                f"the CDK app produced no stack {stack!r} (templates: {', '.join(found) or 'none'})"
            )
        text = path.read_text()
    try:
        template = dict(json.loads(text))
    except ValueError as e:
        raise SynthError(f"the synthesized template is not JSON: {e}") from e
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob(f"{prefix}.*.template.json"):
        old.unlink(missing_ok=True)
    cached.write_text(text)
    return stack, template


def load_template_file(path: Path) -> dict[str, Any]:
    """A template JSON file given on the command line. Raises :class:`SynthError`."""
    try:
        return dict(json.loads(path.read_text()))
    except OSError as e:
        raise SynthError(f"cannot read template {path}: {e.strerror}") from e
    except ValueError as e:
        raise SynthError(f"template {path} is not JSON: {e}") from e
