"""The settings of one stage, read from ``cdk.json`` context and validated at synth.

Every setting lives under the context key ``edgeauth``::

    {"edgeauth": {"stages": {"dev": {...}, "prod": {...}}}}

and a stage is chosen with ``cdk synth -c stage=NAME`` (default ``dev``). :func:`load_config` returns
a :class:`StageConfig` or raises :class:`ConfigError` whose message names the setting by its full
path (``edgeauth.stages.prod.issuers[0].jwks_uri: must use https ...``). Unknown keys are errors at
every level: a typo must not silently fall back to a default.

Issuers are validated by the authorizer's own code (:func:`edgeauth.core.settings.parse_issuers`),
so ``cdk synth`` accepts exactly what the function will accept at cold start. Route templates are
parsed by :mod:`edgeauth.core.routes`, the parser the authorizer's RBAC uses.

docs/configuration.md "Stack settings (cdk.json)" lists each setting, generated from
:data:`STAGE_SETTINGS` and :data:`ALARM_SETTINGS`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlsplit

from edgeauth.core import propagation
from edgeauth.core.errors import ConfigError
from edgeauth.core.routes import GREEDY, LITERAL, Template, TemplateError, parse_permission, parse_template
from edgeauth.core.settings import (
    DEFAULT_REVOCATION_CHECK_SECONDS,
    DEFAULT_ROLE_CACHE_TTL,
    MAX_REVOCATION_CHECK_SECONDS,
    MAX_ROLE_CACHE_TTL,
    MIN_REVOCATION_CHECK_SECONDS,
    REQUIRED,
    IssuerSettings,
    SettingSpec,
    is_loopback_host,
    issuers_to_env,
    parse_issuers,
    validate_key_url,
)
from infra import constants as ids

__all__ = [
    "AlarmSettings",
    "BackendAuth",
    "ConfigError",
    "Quota",
    "Route",
    "StageConfig",
    "Throttle",
    "UsageTier",
    "load_config",
]

MAX_AUTHORIZER_CACHE_TTL: Final = propagation.MAX_AUTHORIZER_CACHE_TTL
"""API Gateway's upper bound for a Lambda authorizer's result cache."""
DEFAULT_AUTHORIZER_CACHE_TTL: Final = 300

LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
"""Retention periods CloudWatch Logs accepts. "Never expire" is deliberately not offered."""
DEFAULT_LOG_RETENTION_DAYS: Final = 30
DEFAULT_AUDIT_LOG_RETENTION_DAYS: Final = 365

AUDIT_LOG_CLASSES: Final = ("INFREQUENT_ACCESS", "STANDARD")
"""CloudWatch Logs classes for the audit log group (docs/benchmarks.md, "Capacity and cost model", weighs
them)."""
DEFAULT_AUDIT_LOG_CLASS: Final = "INFREQUENT_ACCESS"
MIN_AUDIT_STREAM_RETENTION_HOURS: Final = 168
"""Seven days: dead-lettered records stay readable long enough to be re-driven (``edgeauth audit replay``)."""
MAX_AUDIT_STREAM_RETENTION_HOURS: Final = 8760
ACCESS_LOG_FORMATS: Final = ("compact", "full")
DEFAULT_ACCESS_LOG_FORMAT: Final = "compact"

QUOTA_PERIODS: Final = ("DAY", "WEEK", "MONTH")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")

# Lambda allows 4 KB of environment in total; the other variables of the authorizer take well under
# 512 bytes, so the serialised issuers get the rest.
MAX_ISSUERS_ENV_BYTES: Final = 4096 - 512

ALWAYS_CREATED_ROUTES: Final = (("ANY", "/"), ("ANY", "/{proxy+}"))
"""Routes the API always has: the root and a greedy catch-all, both proxied to the backend."""

_STAGE_NAME = re.compile(r"[a-z][a-z0-9]{0,19}")
_TIER_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
_NLB_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/net/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}"
)
_VPC_LINK_ID = re.compile(r"[a-z0-9]{1,32}")
_WAF_ACL_ARN = re.compile(
    r"arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:(regional|global)/webacl/[A-Za-z0-9_-]{1,128}/[0-9a-f-]{36}"
)
_EMAIL = re.compile(r"[^@\s,;<>()\[\]\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")

BACKEND_AUTH_MODES: Final = ("none", "client_certificate", "private")
"""How the backend knows a request came through the gateway (docs/deploying.md, "Only the gateway reaches
the backend"): nothing, API Gateway's client certificate on the stage, or a VPC link to a network load
balancer in front of a backend in a VPC."""
MAX_ALARM_EMAILS: Final = 20

PLACEHOLDER_DOMAINS: Final = ("example.com", "example.net", "example.org")
"""Reserved for documentation (RFC 2606): a host under one of them is a value left to fill in."""
PLACEHOLDER_TLDS: Final = ("example", "invalid", "test", "localhost")
"""Reserved top-level names (RFC 2606, RFC 6761): never a deployed service."""
PLACEHOLDER_ACCOUNTS: Final = frozenset({"123456789012", "111122223333", "444455556666", "999999999999"})
"""Account ids of the AWS documentation's examples."""

STAGE_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "issuers",
        "list of issuer objects",
        "trusted issuers, each as in the issuer table; sent to the authorizer as `EDGEAUTH_ISSUERS` "
        "(at most ~3.5 KB serialised: Lambda's environment limit)",
        REQUIRED,
    ),
    SettingSpec(
        "backend_url",
        "URL",
        "the protected backend the API proxies to (`HTTP_PROXY`); https, plain http only on a loopback "
        "host; no query, fragment or credentials",
        REQUIRED,
    ),
    SettingSpec(
        "backend_auth",
        "string or object",
        "how the backend knows a request came through the gateway ([Only the gateway reaches the "
        'backend](deploying.md#only-the-gateway-reaches-the-backend)): `"client_certificate"` (the '
        'stage\'s client certificate; needs an https `backend_url`; `{"mode": "client_certificate", '
        '"generation": N, "prepare_next": true}` rotates it), `{"mode": "private", "nlb_arn": ARN}` or '
        '`{"mode": "private", "vpc_link_id": ID}` (a VPC link to a network load balancer), or `"none"` '
        '(a synth warning outside dev); `{"mode": …}` also works for `none`',
        default_text="`client_certificate`; `none` in `dev`",
        choices=BACKEND_AUTH_MODES,
    ),
    SettingSpec(
        "routes",
        "list of strings",
        '`"METHOD /resource/template"` (`*` for any method) or `"/resource/template"` (any method): '
        "resources created explicitly, so that RBAC can tell routes apart (the authorizer decides on the "
        "matched template; behind `/{proxy+}` alone every path is one template). `ANY /` and "
        "`ANY /{proxy+}` always exist. One path variable per level (API Gateway's rule)",
        (),
    ),
    SettingSpec(
        "authorizer_cache_ttl",
        "integer",
        "seconds API Gateway caches a decision per (token, method, route); must be 0 when an issuer "
        "has `dpop` on ([why](authorizer.md#dpop-rfc-9449))",
        DEFAULT_AUTHORIZER_CACHE_TTL,
        0,
        propagation.MAX_AUTHORIZER_CACHE_TTL,
    ),
    SettingSpec(
        "role_cache_ttl",
        "integer",
        "seconds a container reuses role-table reads",
        DEFAULT_ROLE_CACHE_TTL,
        0,
        MAX_ROLE_CACHE_TTL,
    ),
    SettingSpec(
        "revocation_check_seconds",
        "integer",
        "seconds between two reads of the role table's change log by a warm authorizer container: how "
        "long it may keep answering from roles an edit has changed ([How fast an edit takes "
        "effect](roles.md#how-fast-an-edit-takes-effect)); also times the role-events function's second "
        "cache flush. Stack output `RevocationCheckSeconds`",
        DEFAULT_REVOCATION_CHECK_SECONDS,
        MIN_REVOCATION_CHECK_SECONDS,
        MAX_REVOCATION_CHECK_SECONDS,
    ),
    SettingSpec(
        "usage_tiers",
        "object",
        "`{name: {rate, burst, quota?: {limit, period}, description?}}`: one usage plan each; `rate` "
        "requests/s and `burst` are required, `period` is `DAY`, `WEEK` or `MONTH`; names "
        "`[a-z][a-z0-9-]*`",
        REQUIRED,
    ),
    SettingSpec(
        "default_tier",
        "string",
        "the tier whose shared key throttles clients without a key of their own",
        REQUIRED,
    ),
    SettingSpec("throttling", "object", "`{rate, burst}` of the whole stage", {"rate": 100, "burst": 200}),
    SettingSpec(
        "log_retention_days",
        "integer",
        "retention of the functions' and the access log groups (a value CloudWatch Logs offers)",
        DEFAULT_LOG_RETENTION_DAYS,
        choices=tuple(str(d) for d in sorted(LOG_RETENTION_DAYS)),
    ),
    SettingSpec(
        "audit_log_retention_days",
        "integer",
        "retention of the audit log group (a value CloudWatch Logs offers)",
        DEFAULT_AUDIT_LOG_RETENTION_DAYS,
        choices=tuple(str(d) for d in sorted(LOG_RETENTION_DAYS)),
    ),
    SettingSpec(
        "audit_log_class",
        "string",
        "the audit log group's class: `INFREQUENT_ACCESS` (half the ingestion price; Logs Insights without "
        "`pattern`/`diff`/`filterIndex`/`unmask`) or `STANDARD`; fixed once the group exists (a change "
        "replaces it, the old one is retained). See [Capacity and cost "
        "model](benchmarks.md#capacity-and-cost-model)",
        DEFAULT_AUDIT_LOG_CLASS,
        choices=AUDIT_LOG_CLASSES,
    ),
    SettingSpec(
        "audit_stream_retention_hours",
        "integer",
        "how long the audit stream keeps records: how long dead letters stay replayable "
        "([`edgeauth audit replay`](cli.md#cli-edgeauth-audit-replay))",
        MIN_AUDIT_STREAM_RETENTION_HOURS,
        MIN_AUDIT_STREAM_RETENTION_HOURS,
        MAX_AUDIT_STREAM_RETENTION_HOURS,
    ),
    SettingSpec(
        "access_log_format",
        "string",
        "`compact` (short keys, about 460 bytes a line) or `full` (the long keys, about 840): the audit "
        "consumer reads both",
        DEFAULT_ACCESS_LOG_FORMAT,
        choices=ACCESS_LOG_FORMATS,
    ),
    SettingSpec("log_level", "string", "the functions' log level (Powertools)", "INFO", choices=LOG_LEVELS),
    SettingSpec("alarms", "object", "alarm thresholds (the alarm settings below)", default_text="see below"),
    SettingSpec(
        "alarm_topic_arn",
        "SNS topic ARN",
        "SNS topic (same region) every alarm notifies, on ALARM and back to OK",
        default_text="required outside `dev`, unless `alarm_emails`",
    ),
    SettingSpec(
        "alarm_emails",
        "list of strings",
        "addresses the stack subscribes to an alarm topic of its own (each confirms by email); not with "
        "`alarm_topic_arn`",
        low=1,
        high=MAX_ALARM_EMAILS,
    ),
    SettingSpec(
        "waf_acl_arn", "WAFv2 web ACL ARN", "a REGIONAL WAFv2 web ACL (same region) associated with the stage"
    ),
    SettingSpec(
        "authorizer_reserved_concurrency",
        "integer",
        "reserved concurrency of the authorizer: guarantees it that many concurrent invocations and caps "
        "it there (beyond: throttled, 500)",
        None,
        1,
        100_000,
        default_text="none (the account's shared pool)",
    ),
    SettingSpec(
        "api_cloudwatch_role",
        "boolean",
        "create API Gateway's account-level logging role (`AWS::ApiGateway::Account`); set `false` where "
        "the account already has one managed elsewhere",
        True,
    ),
    SettingSpec(
        "termination_protection", "boolean", "CloudFormation termination protection of the stack", False
    ),
    SettingSpec(
        "snapstart",
        "boolean",
        "Lambda SnapStart for the authorizer: published versions, API Gateway invokes the alias `live` "
        "(see [SnapStart](benchmarks.md#snapstart))",
        False,
    ),
)
"""Every key of a stage in ``cdk.json`` (``context.edgeauth.stages.<stage>``), in the order the reference
lists them. :func:`load_config` takes the known keys, the required ones, defaults and bounds from here."""
_STAGE = {spec.name: spec for spec in STAGE_SETTINGS}
_STAGE_KEYS: Final = frozenset(_STAGE)
_REQUIRED_STAGE_KEYS: Final = tuple(spec.name for spec in STAGE_SETTINGS if spec.required)

ALARM_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec("period_seconds", "integer", "window length, a multiple of 60", 300, 60, 86400),
    SettingSpec(
        "evaluation_periods",
        "integer",
        "windows evaluated (sustained alarms need all of them breaching; fault alarms one, and stay "
        "until all are clean)",
        1,
        1,
        100,
    ),
    SettingSpec(
        "authorizer_faults",
        "integer",
        "alarm when authorizer faults (its decisions that answered 500) in a window ≥ this",
        1,
        1,
        1_000_000,
    ),
    SettingSpec("authorizer_p99_ms", "integer", "alarm when authorizer p99 duration > this", 1000, 1, 30_000),
    SettingSpec("api_5xx", "integer", "alarm when API 5xx responses ≥ this", 5, 1, 1_000_000),
    SettingSpec(
        "unauthorized_percent",
        "percentage",
        "alarm when 401 responses > this % of requests…",
        20.0,
        0,
        100,
        low_exclusive=True,
    ),
    SettingSpec(
        "forbidden_percent",
        "percentage",
        "alarm when 403 responses > this % of requests…",
        20.0,
        0,
        100,
        low_exclusive=True,
    ),
    SettingSpec(
        "rate_min_requests",
        "integer",
        "…once the window has at least this many requests",
        100,
        1,
        1_000_000,
    ),
    SettingSpec("throttled", "integer", "alarm when 429 responses ≥ this", 100, 1, 1_000_000),
    SettingSpec(
        "iterator_age_seconds",
        "integer",
        "alarm when the audit consumer or role-events function is behind its stream by more than this",
        300,
        1,
        7 * 86400,
    ),
    SettingSpec(
        "audit_delivery_errors",
        "integer",
        "alarm when the audit subscriptions' `DeliveryErrors`, summed over both source groups, ≥ this "
        "([runbook](operations.md#auditdeliveryerrors))",
        1,
        1,
        1_000_000_000,
    ),
    SettingSpec(
        "audit_delivery_throttling",
        "integer",
        "alarm when the audit subscriptions' `DeliveryThrottling`, summed over both source groups, ≥ this "
        "([runbook](operations.md#auditdeliverythrottling))",
        1,
        1,
        1_000_000_000,
    ),
    SettingSpec(
        "audit_write_throttles",
        "integer",
        "alarm when the audit consumer's throttled writes (`AuditWriteThrottled`) ≥ this "
        "([runbook](operations.md#auditwritethrottled))",
        20,
        1,
        1_000_000_000,
    ),
)
"""The keys of a stage's ``alarms`` (every one optional). ``_alarms`` takes defaults and bounds from
here; a percentage is above ``low`` and at most ``high``."""
_ALARM = {spec.name: spec for spec in ALARM_SETTINGS}
_ALARM_KEYS: Final = frozenset(_ALARM)

TIER_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "rate",
        "number",
        "steady-state requests per second of each key (of the stage, in `throttling`)",
        REQUIRED,
        0,
        1_000_000,
        low_exclusive=True,
    ),
    SettingSpec("burst", "integer", "burst size in requests (token bucket)", REQUIRED, 0, 1_000_000),
    SettingSpec("quota", "object or null", "requests each key may make per period: `{limit, period}`"),
    SettingSpec(
        "description",
        "string",
        "the usage plan's description",
        default_text="`edgeauth usage tier <name>`",
    ),
)
"""The keys of one tier of ``usage_tiers`` (``throttling`` has ``rate`` and ``burst`` only)."""
_TIER = {spec.name: spec for spec in TIER_SETTINGS}

QUOTA_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec("limit", "integer", "requests per period", REQUIRED, 1, 2_000_000_000),
    SettingSpec("period", "string", "the quota's period (UTC)", "DAY", choices=QUOTA_PERIODS),
)
"""The keys of a tier's ``quota``."""
_QUOTA = {spec.name: spec for spec in QUOTA_SETTINGS}

BACKEND_AUTH_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "mode",
        "string",
        "how the backend tells the gateway's requests apart",
        REQUIRED,
        choices=BACKEND_AUTH_MODES,
    ),
    SettingSpec(
        "nlb_arn", "ARN", "`private`: a network load balancer the stack links to with a new VPC link"
    ),
    SettingSpec("vpc_link_id", "string", "`private`: an existing VPC link (instead of `nlb_arn`)"),
    SettingSpec(
        "generation",
        "integer",
        "`client_certificate`: which certificate the stage presents; a deploy with the next one rotates it",
        1,
        1,
        1000,
    ),
    SettingSpec(
        "prepare_next",
        "boolean",
        "`client_certificate`: also create the next generation's certificate (not presented yet)",
        False,
    ),
)
"""The keys of ``backend_auth`` in its object form (``"MODE"`` alone is ``{"mode": "MODE"}``)."""
_BACKEND_AUTH = {spec.name: spec for spec in BACKEND_AUTH_SETTINGS}
_MOVED_ALARM_KEYS: Final = {
    "authorizer_errors": "renamed 'authorizer_faults': the alarm counts the authorizer's 500 outcomes "
    "(dependency faults, internal errors), not Lambda's Errors metric, which counts every 401 too",
    "topic_arn": "moved to the stage setting 'alarm_topic_arn' (or give 'alarm_emails')",
}


@dataclass(frozen=True, slots=True)
class Quota:
    """Requests a key may make per ``period`` (``DAY``, ``WEEK`` or ``MONTH``)."""

    limit: int
    period: str


@dataclass(frozen=True, slots=True)
class Throttle:
    """Steady-state requests per second and burst size (token bucket)."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class UsageTier:
    """One usage plan: a throttle per key and an optional quota."""

    name: str
    throttle: Throttle
    quota: Quota | None
    description: str


@dataclass(frozen=True, slots=True)
class Route:
    """An API method: ``method`` is ``ANY`` or an HTTP method; ``template`` an API Gateway resource path."""

    method: str
    template: Template

    @property
    def path(self) -> str:
        """The resource path as API Gateway writes it (``/accounts/{id}``)."""
        return self.template.text

    @property
    def path_variables(self) -> tuple[str, ...]:
        """Names of the path variables, greedy ones included, in order."""
        return tuple(text for kind, text in self.template.segments if kind != LITERAL)

    @property
    def integration_path(self) -> str:
        """The backend path: the same template with ``{name+}`` written ``{name}`` (HTTP integration URL)."""
        if not self.template.segments:
            return "/"
        parts = [text if kind == LITERAL else "{" + text + "}" for kind, text in self.template.segments]
        return "/" + "/".join(parts)


@dataclass(frozen=True, slots=True)
class BackendAuth:
    """How the backend tells the gateway's requests from anyone else's (``backend_auth``).

    ``client_certificate``: the stage presents an API Gateway client certificate in every TLS
    handshake with the backend, which verifies it. ``private``: the integration goes through a VPC
    link to the network load balancer ``nlb_arn`` (a link the stack creates) or through the existing
    link ``vpc_link_id``. ``none``: nothing; the backend is as reachable as its URL.

    Client certificates expire after 365 days. ``generation`` numbers the one the stage presents;
    with ``prepare_next`` the stack also makes generation + 1 (not presented yet), so the backend
    can trust it before a deploy with ``generation`` + 1 moves the stage to it.
    """

    mode: str
    nlb_arn: str | None = None
    vpc_link_id: str | None = None
    generation: int = 1
    prepare_next: bool = False


@dataclass(frozen=True, slots=True)
class AlarmSettings:
    """Alarm thresholds and where alarms notify; each alarm compares one period's value with its threshold.

    ``topic_arn`` (stage setting ``alarm_topic_arn``) is an existing SNS topic; ``emails`` (stage
    setting ``alarm_emails``) are subscribed to a topic the stack creates. At most one is set.
    """

    period_seconds: int = _ALARM["period_seconds"].default
    evaluation_periods: int = _ALARM["evaluation_periods"].default
    authorizer_faults: int = _ALARM["authorizer_faults"].default
    authorizer_p99_ms: int = _ALARM["authorizer_p99_ms"].default
    api_5xx: int = _ALARM["api_5xx"].default
    unauthorized_percent: float = _ALARM["unauthorized_percent"].default
    forbidden_percent: float = _ALARM["forbidden_percent"].default
    rate_min_requests: int = _ALARM["rate_min_requests"].default
    throttled: int = _ALARM["throttled"].default
    iterator_age_seconds: int = _ALARM["iterator_age_seconds"].default
    audit_delivery_errors: int = _ALARM["audit_delivery_errors"].default
    audit_delivery_throttling: int = _ALARM["audit_delivery_throttling"].default
    audit_write_throttles: int = _ALARM["audit_write_throttles"].default
    topic_arn: str | None = None
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StageConfig:
    """Everything the stack needs for one stage. Built only by :func:`load_config`."""

    stage: str
    issuers: tuple[IssuerSettings, ...]
    issuers_env: str
    """The issuers as the authorizer reads them from ``EDGEAUTH_ISSUERS`` (validated JSON)."""
    backend_url: str
    """Without a trailing slash; https, or http on a loopback host (local stack only)."""
    routes: tuple[Route, ...]
    """Every API method, the always-created ``ANY /`` and ``ANY /{proxy+}`` first."""
    authorizer_cache_ttl: int
    role_cache_ttl: int
    revocation_check_seconds: int
    """How often a warm authorizer container reads the role table's change log (1 to 10 s)."""
    usage_tiers: tuple[UsageTier, ...]
    default_tier: str
    throttling: Throttle
    log_retention_days: int
    audit_log_retention_days: int
    audit_log_class: str
    """``INFREQUENT_ACCESS`` (half the ingestion price; Logs Insights without ``pattern``/``diff``/
    ``filterIndex``/``unmask``) or ``STANDARD``. Fixed once the group exists."""
    audit_stream_retention_hours: int
    access_log_format: str
    """``compact`` (short keys) or ``full`` (:data:`edgeauth.constants.ACCESS_LOG_FORMATS`)."""
    log_level: str
    alarms: AlarmSettings
    api_cloudwatch_role: bool
    termination_protection: bool
    backend_auth: BackendAuth
    waf_acl_arn: str | None
    """A REGIONAL WAFv2 web ACL the stack associates with the stage."""
    authorizer_reserved_concurrency: int | None
    """Reserved concurrency of the authorizer function (None: it shares the account's pool)."""
    snapstart: bool = False
    """Lambda SnapStart for the authorizer: published versions, API Gateway calls the ``live``
    alias (docs/benchmarks.md, "SnapStart"). Off by default: it costs a cache and a restore charge."""

    @property
    def stack_name(self) -> str:
        return ids.stack_name(self.stage)

    @property
    def dpop_enabled(self) -> bool:
        """An issuer has ``dpop`` ``optional`` or ``required``: the replay table exists."""
        return any(i.dpop != "off" for i in self.issuers)

    @property
    def dpop_only(self) -> bool:
        """Every issuer has ``dpop`` ``required``: the ``DPoP`` header is an identity source (a
        request without one is refused by API Gateway itself) and 401s challenge ``DPoP`` only."""
        return all(i.dpop == "required" for i in self.issuers)

    @property
    def dpop_algorithms(self) -> tuple[str, ...]:
        """Proof algorithms accepted by some DPoP issuer, sorted (the ``algs`` of the challenge)."""
        return tuple(sorted({a for i in self.issuers if i.dpop != "off" for a in i.dpop_algorithms}))

    @property
    def local_only(self) -> bool:
        """True when an issuer or the backend is on a loopback host: usable with the local stack only."""
        hosts = [urlsplit(self.backend_url).hostname]
        hosts += [urlsplit(i.jwks_uri or i.issuer).hostname for i in self.issuers]
        return any(is_loopback_host(h) for h in hosts)


def load_config(context: Mapping[str, Any], stage: str | None = None) -> StageConfig:
    """Validate the ``edgeauth`` context and return the settings of ``stage`` (default ``dev``).

    ``context`` is the whole CDK context (``cdk.json``'s ``context`` plus ``-c`` values); the stage is
    ``stage`` if given, else the context value ``stage``, else ``dev``.
    Raises :class:`ConfigError` naming the first invalid setting.
    """
    root_raw = context.get(ids.CONTEXT_ROOT)
    root = ids.CONTEXT_ROOT
    if root_raw is None:
        raise ConfigError(root, "is missing from the CDK context (cdk.json 'context')")
    _object(root, root_raw, frozenset({"stages"}))
    stages = root_raw.get("stages")
    _object(f"{root}.stages", stages, None)
    if not stages:
        raise ConfigError(f"{root}.stages", "must define at least one stage")

    name = stage if stage is not None else context.get(ids.CONTEXT_STAGE, ids.DEFAULT_STAGE)
    if not isinstance(name, str) or name not in stages:
        raise ConfigError(
            ids.CONTEXT_STAGE,
            f"unknown stage {name!r}; {root}.stages defines: {', '.join(sorted(stages))} (to add one, "
            f"copy infra/stage-template.json into cdk.json as {root}.stages.<name>: docs/deploying.md)",
        )
    return _stage(name, stages[name], f"{root}.stages.{name}")


def _stage(name: str, raw: Any, where: str) -> StageConfig:
    if not _STAGE_NAME.fullmatch(name):
        raise ConfigError(
            where, "stage names must match [a-z][a-z0-9]{0,19} (used in stack and API stage names)"
        )
    _object(where, raw, _STAGE_KEYS)
    for key in _REQUIRED_STAGE_KEYS:
        if key not in raw:
            raise ConfigError(f"{where}.{key}", "is required")

    issuers_raw = raw["issuers"]
    issuers = parse_issuers(issuers_raw, f"{where}.issuers")
    issuers_env = issuers_to_env(issuers_raw)
    if len(issuers_env.encode()) > MAX_ISSUERS_ENV_BYTES:
        raise ConfigError(
            f"{where}.issuers",
            f"serialise to {len(issuers_env.encode())} bytes; the authorizer's environment allows "
            f"{MAX_ISSUERS_ENV_BYTES} (Lambda's limit is 4 KB in total)",
        )

    cache_ttl = _stage_int(where, raw, "authorizer_cache_ttl")
    dpop_issuers = [f"issuers[{n}]" for n, i in enumerate(issuers) if i.dpop != "off"]
    if dpop_issuers and cache_ttl != 0:
        # API Gateway answers from its cache without calling the authorizer. A replayed request
        # (same Authorization, DPoP, method and route) or the same proof sent to another path of the
        # route would be allowed from it: jti and htu would go unchecked. Only 0 rules that out.
        raise ConfigError(
            f"{where}.authorizer_cache_ttl",
            f"must be 0 when an issuer has 'dpop' on ({', '.join(dpop_issuers)}): a cached answer "
            "would let API Gateway accept a replayed DPoP proof without calling the authorizer; "
            f"got {cache_ttl}",
        )

    tiers = _usage_tiers(f"{where}.usage_tiers", raw["usage_tiers"])
    default_tier = raw["default_tier"]
    if not isinstance(default_tier, str) or default_tier not in {t.name for t in tiers}:
        raise ConfigError(
            f"{where}.default_tier",
            f"must name one of usage_tiers ({', '.join(t.name for t in tiers)}), got {default_tier!r}",
        )

    backend_url = _backend_url(f"{where}.backend_url", raw["backend_url"])
    deployed = name != ids.DEV_STAGE
    if deployed:
        # Before backend_auth's own checks: a loopback or placeholder backend is the first thing to say.
        _check_deployable_hosts(where, issuers, issuers_raw, backend_url)
    backend_auth = _backend_auth(f"{where}.backend_auth", raw.get("backend_auth"), name, backend_url)
    if deployed and backend_auth.mode != "private":
        _not_private(
            f"{where}.backend_url", backend_url, "a backend in a VPC needs backend_auth mode 'private'"
        )
    alarms = _alarms(f"{where}.alarms", raw.get("alarms", {}))
    alarms = replace(
        alarms,
        topic_arn=_topic_arn(f"{where}.alarm_topic_arn", raw.get("alarm_topic_arn")),
        emails=_emails(f"{where}.alarm_emails", raw.get("alarm_emails")),
    )
    waf_acl_arn = raw.get("waf_acl_arn")
    if waf_acl_arn is not None:
        waf_acl_arn = _waf_acl_arn(f"{where}.waf_acl_arn", waf_acl_arn)
    concurrency = raw.get("authorizer_reserved_concurrency")
    if concurrency is not None:
        # 0 would throttle every invocation: every request would answer 500.
        concurrency = _stage_int(where, raw, "authorizer_reserved_concurrency")
    if deployed:
        _check_deployable_targets(where, backend_auth, alarms, waf_acl_arn)

    return StageConfig(
        stage=name,
        issuers=issuers,
        issuers_env=issuers_env,
        backend_url=backend_url,
        routes=_routes(f"{where}.routes", raw.get("routes", [])),
        authorizer_cache_ttl=cache_ttl,
        role_cache_ttl=_stage_int(where, raw, "role_cache_ttl"),
        revocation_check_seconds=_stage_int(where, raw, "revocation_check_seconds"),
        usage_tiers=tiers,
        default_tier=default_tier,
        throttling=_throttle(f"{where}.throttling", _given(raw, "throttling"), only_keys=True),
        log_retention_days=_retention(f"{where}.log_retention_days", _given(raw, "log_retention_days")),
        audit_log_retention_days=_retention(
            f"{where}.audit_log_retention_days", _given(raw, "audit_log_retention_days")
        ),
        audit_log_class=_choice(
            f"{where}.audit_log_class", _given(raw, "audit_log_class"), _STAGE["audit_log_class"].choices
        ),
        audit_stream_retention_hours=_stage_int(where, raw, "audit_stream_retention_hours"),
        access_log_format=_choice(
            f"{where}.access_log_format",
            _given(raw, "access_log_format"),
            _STAGE["access_log_format"].choices,
        ),
        log_level=_choice(f"{where}.log_level", _given(raw, "log_level"), _STAGE["log_level"].choices),
        alarms=alarms,
        api_cloudwatch_role=_bool(f"{where}.api_cloudwatch_role", _given(raw, "api_cloudwatch_role")),
        termination_protection=_bool(
            f"{where}.termination_protection", _given(raw, "termination_protection")
        ),
        backend_auth=backend_auth,
        waf_acl_arn=waf_acl_arn,
        authorizer_reserved_concurrency=concurrency,
        snapstart=_bool(f"{where}.snapstart", _given(raw, "snapstart")),
    )


def _given(raw: Mapping[str, Any], key: str) -> Any:
    """The stage's value of ``key``, or its default (:data:`STAGE_SETTINGS`)."""
    return raw.get(key, _STAGE[key].default)


def _stage_int(where: str, raw: Mapping[str, Any], key: str) -> int:
    """The stage's integer setting ``key`` (or its default), within its bounds."""
    return _int(f"{where}.{key}", _given(raw, key), *_STAGE[key].int_range())


def _backend_auth(where: str, raw: Any, stage: str, backend_url: str) -> BackendAuth:
    """``"MODE"`` or ``{"mode": MODE, ...}``; absent: ``none`` in the dev stage (the local stack's
    plain-http loopback backend), ``client_certificate`` in every other stage (secure by default)."""
    if raw is None:
        raw = "none" if stage == ids.DEV_STAGE else "client_certificate"
    if isinstance(raw, str):
        raw = {"mode": raw}
    _object(where, raw, frozenset(_BACKEND_AUTH))
    if "mode" not in raw:
        raise ConfigError(f"{where}.mode", f"is required (one of {', '.join(BACKEND_AUTH_MODES)})")
    mode = _choice(f"{where}.mode", raw["mode"], BACKEND_AUTH_MODES)
    extra = sorted(k for k in ("nlb_arn", "vpc_link_id") if k in raw)
    if mode != "private" and extra:
        raise ConfigError(f"{where}.{extra[0]}", f"applies only to mode 'private', not {mode!r}")
    rotation = sorted(k for k in ("generation", "prepare_next") if k in raw)
    if mode != "client_certificate" and rotation:
        raise ConfigError(
            f"{where}.{rotation[0]}", f"applies only to mode 'client_certificate', not {mode!r}"
        )
    if mode == "client_certificate" and urlsplit(backend_url).scheme != "https":
        # API Gateway presents its client certificate only in a TLS handshake.
        raise ConfigError(
            f"{where}.mode",
            f"'client_certificate' needs an https backend_url (the certificate is presented in the "
            f"TLS handshake), got {backend_url!r}",
        )
    if mode == "client_certificate":
        return BackendAuth(
            mode,
            generation=_int(
                f"{where}.generation",
                raw.get("generation", _BACKEND_AUTH["generation"].default),
                *_BACKEND_AUTH["generation"].int_range(),
            ),
            prepare_next=_bool(
                f"{where}.prepare_next", raw.get("prepare_next", _BACKEND_AUTH["prepare_next"].default)
            ),
        )
    if mode != "private":
        return BackendAuth(mode)
    if len(extra) != 1:
        raise ConfigError(
            f"{where}.nlb_arn",
            "mode 'private' needs exactly one of nlb_arn (a network load balancer the stack links to "
            "with a new VPC link) and vpc_link_id (an existing VPC link)",
        )
    value = raw[extra[0]]
    pattern, what = (
        (
            _NLB_ARN,
            "a network load balancer ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/net/NAME/ID)",
        )
        if extra[0] == "nlb_arn"
        else (_VPC_LINK_ID, "an API Gateway VPC link id (lower-case letters and digits)")
    )
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError(f"{where}.{extra[0]}", f"must be {what}, got {value!r}")
    if extra[0] == "nlb_arn":
        return BackendAuth(mode, nlb_arn=value)
    return BackendAuth(mode, vpc_link_id=value)


def _topic_arn(where: str, raw: Any) -> str | None:
    if raw is not None and (not isinstance(raw, str) or not _SNS_ARN.fullmatch(raw)):
        raise ConfigError(where, f"must be an SNS topic ARN or null, got {raw!r}")
    return raw


def _emails(where: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise ConfigError(where, "must be a non-empty list of email addresses, or null")
    if len(raw) > MAX_ALARM_EMAILS:
        raise ConfigError(
            where, f"lists {len(raw)} addresses; at most {MAX_ALARM_EMAILS} (use a mailing list)"
        )
    seen: set[str] = set()
    for i, address in enumerate(raw):
        if not isinstance(address, str) or not _EMAIL.fullmatch(address):
            raise ConfigError(f"{where}[{i}]", f"must be an email address, got {address!r}")
        if address.lower() in seen:
            raise ConfigError(f"{where}[{i}]", f"duplicate address {address!r}")
        seen.add(address.lower())
    return tuple(raw)


def _waf_acl_arn(where: str, raw: Any) -> str:
    m = _WAF_ACL_ARN.fullmatch(raw) if isinstance(raw, str) else None
    if m is None:
        raise ConfigError(
            where,
            "must be a WAFv2 web ACL ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID), "
            f"got {raw!r}",
        )
    if m.group(1) != "regional":
        raise ConfigError(
            where,
            "must be a REGIONAL web ACL: a global (CLOUDFRONT) one cannot be associated with an API stage",
        )
    return str(raw)


def _check_deployable_hosts(
    where: str, issuers: tuple[IssuerSettings, ...], raw_issuers: list[Any], backend_url: str
) -> None:
    """A stage other than dev names real hosts: no placeholder, loopback, link-local or (for an
    issuer) private address; the backend's private address is checked with its backend_auth."""
    for n, issuer in enumerate(issuers):
        setting = f"{where}.issuers[{n}]"
        for name, url, what in (
            ("issuer", issuer.issuer, "your identity provider's issuer (its iss)"),
            ("jwks_uri", issuer.jwks_uri, "your identity provider's JWKS URL"),
        ):
            if url is not None:
                _deployable_url(f"{setting}.{name}", url, what)
                _not_private(f"{setting}.{name}", url, "the authorizer runs outside any VPC")
        # The raw list where the stage gives one (validated by parse_issuers already: its index is
        # the one to name); a provider preset's audiences otherwise, named by the setting itself.
        raw_audiences = raw_issuers[n].get("audiences")
        named = (
            [(f"{setting}.audiences[{i}]", a) for i, a in enumerate(raw_audiences)]
            if isinstance(raw_audiences, list)
            else [(f"{setting}.audiences", a) for a in sorted(issuer.audiences)]
        )
        for name, audience in named:
            if urlsplit(audience).hostname:
                _deployable_url(name, audience, "the audience your tokens carry (aud)")
    _deployable_url(f"{where}.backend_url", backend_url, "your backend's URL")


def _check_deployable_targets(
    where: str, backend_auth: BackendAuth, alarms: AlarmSettings, waf_acl_arn: str | None
) -> None:
    """A stage other than dev names no placeholder account in an ARN and has an alarm target."""
    for setting, arn in (
        (f"{where}.backend_auth.nlb_arn", backend_auth.nlb_arn),
        (f"{where}.alarm_topic_arn", alarms.topic_arn),
        (f"{where}.waf_acl_arn", waf_acl_arn),
    ):
        if arn is not None and arn.split(":")[4] in PLACEHOLDER_ACCOUNTS:
            raise ConfigError(
                setting, f"{arn!r} names a placeholder account ({arn.split(':')[4]}): set yours"
            )
    for i, address in enumerate(alarms.emails):
        if _placeholder_domain(address.rsplit("@", 1)[1].lower()):
            raise ConfigError(
                f"{where}.alarm_emails[{i}]", f"{address!r} is a placeholder: set a real address"
            )
    if alarms.topic_arn is None and not alarms.emails:
        raise ConfigError(
            f"{where}.alarm_topic_arn",
            f"is required outside the {ids.DEV_STAGE} stage (alarms must notify someone): an SNS topic "
            "ARN, or alarm_emails (a list of addresses the stack subscribes to a topic it creates)",
        )
    if alarms.topic_arn is not None and alarms.emails:
        raise ConfigError(
            f"{where}.alarm_emails",
            "set alarm_topic_arn or alarm_emails, not both (subscribe the addresses to your topic)",
        )


def _placeholder_domain(host: str) -> str | None:
    """The reserved name ``host`` is under (``example.com``, ``.test`` ...), or None."""
    for domain in PLACEHOLDER_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return domain
    tld = host.rsplit(".", 1)[-1]
    return f".{tld}" if tld in PLACEHOLDER_TLDS else None


def _deployable_url(setting: str, url: str, what: str) -> None:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    address = _ip_address(host)
    if (
        is_loopback_host(host)
        or host.endswith(".localhost")
        or (address is not None and address.is_unspecified)
    ):
        raise ConfigError(
            setting,
            f"{url!r} is a loopback address: only the {ids.DEV_STAGE} stage (the local stack) may use "
            f"one, a deployed stack cannot reach it; set {what}",
        )
    domain = _placeholder_domain(host)
    if domain is not None:
        raise ConfigError(
            setting, f"{url!r} is a placeholder ({domain} is reserved for examples); set {what}"
        )
    if address is not None and address.is_link_local:
        raise ConfigError(setting, f"{url!r} is a link-local address, which no deployed stack can use")


def _not_private(setting: str, url: str, why: str) -> None:
    address = _ip_address((urlsplit(url).hostname or "").lower())
    if address is not None and address.is_private:
        raise ConfigError(
            setting,
            f"{url!r} is a private address, which neither the authorizer nor API Gateway can reach ({why})",
        )


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _backend_url(where: str, raw: Any) -> str:
    # Same rule as key URLs: the authorizer's token checks are worthless if the hop behind the
    # gateway can be read or rewritten, so plain http is for the local stack's loopback backend only.
    url = validate_key_url(where, raw)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ConfigError(where, f"must not have a query or fragment, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError(where, "must not contain credentials (they would be stored in the template)")
    return url.rstrip("/")


def _routes(where: str, raw: Any) -> tuple[Route, ...]:
    if not isinstance(raw, list):
        raise ConfigError(
            where, "must be a list of 'METHOD /resource/template' or '/resource/template' strings"
        )
    routes = [Route(method, parse_template(path)) for method, path in ALWAYS_CREATED_ROUTES]
    seen = {(r.method, r.path): "always created" for r in routes}
    # API Gateway allows one path-variable child per resource ({id} and {accountId} cannot be siblings,
    # nor {id} and {proxy+}); catch it here rather than as a failed deployment.
    variable_child: dict[str, tuple[str, str]] = {"/": ("{proxy+}", "always created")}
    for i, item in enumerate(raw):
        setting = f"{where}[{i}]"
        if not isinstance(item, str):
            raise ConfigError(setting, f"must be a string, got {item!r}")
        try:
            if item.startswith("/"):
                method, template = "ANY", parse_template(item.strip())
            else:
                permission = parse_permission(item)
                method = "ANY" if permission.method == "*" else permission.method
                template = permission.template
        except TemplateError as e:
            raise ConfigError(setting, str(e)) from None
        key = (method, template.text)
        if key in seen:
            raise ConfigError(setting, f"duplicate route {method} {template.text} ({seen[key]})")
        seen[key] = f"also {setting}"
        parent = ""
        for kind, text in template.segments:
            part = text if kind == LITERAL else "{" + text + ("+}" if kind == GREEDY else "}")
            if kind != LITERAL:
                previous = variable_child.setdefault(parent or "/", (part, setting))
                if previous[0] != part:
                    raise ConfigError(
                        setting,
                        f"{template.text!r} puts {part} beside {previous[0]} ({previous[1]}) under "
                        f"{parent or '/'!r}; API Gateway allows one path variable per level",
                    )
            parent = f"{parent}/{part}"
        routes.append(Route(method, template))
    return tuple(routes)


def _usage_tiers(where: str, raw: Any) -> tuple[UsageTier, ...]:
    _object(where, raw, None)
    if not raw:
        raise ConfigError(where, "must define at least one tier")
    tiers = []
    for name, value in raw.items():
        setting = f"{where}.{name}"
        if not _TIER_NAME.fullmatch(name):
            raise ConfigError(setting, "tier names must match [a-z][a-z0-9-]{0,31}")
        _object(setting, value, frozenset(_TIER))
        throttle = _throttle(setting, value, only_keys=False)
        quota = None
        if value.get("quota") is not None:
            q = value["quota"]
            _object(f"{setting}.quota", q, frozenset(_QUOTA))
            if "limit" not in q:
                raise ConfigError(f"{setting}.quota.limit", "is required (requests per period)")
            quota = Quota(
                limit=_int(f"{setting}.quota.limit", q["limit"], *_QUOTA["limit"].int_range()),
                period=_choice(
                    f"{setting}.quota.period",
                    q.get("period", _QUOTA["period"].default),
                    _QUOTA["period"].choices,
                ),
            )
        description = value.get("description", f"edgeauth usage tier {name}")
        if not isinstance(description, str):
            raise ConfigError(f"{setting}.description", "must be a string")
        tiers.append(UsageTier(name=name, throttle=throttle, quota=quota, description=description))
    return tuple(tiers)


def _throttle(where: str, raw: Any, *, only_keys: bool) -> Throttle:
    """``rate`` and ``burst`` of ``raw``; with ``only_keys`` no other key is allowed."""
    if only_keys:
        _object(where, raw, frozenset(("rate", "burst")))
    for key, meaning in (("rate", "requests per second"), ("burst", "burst size in requests")):
        if key not in raw:
            raise ConfigError(f"{where}.{key}", f"is required ({meaning})")
    rate = raw["rate"]
    low, high = _TIER["rate"].low or 0, _TIER["rate"].high or 0
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not low < rate <= high:
        raise ConfigError(f"{where}.rate", f"must be a number of requests per second above 0, got {rate!r}")
    return Throttle(rate=float(rate), burst=_int(f"{where}.burst", raw["burst"], *_TIER["burst"].int_range()))


def _alarms(where: str, raw: Any) -> AlarmSettings:
    _object(where, raw, None)
    for key in sorted(raw):
        if key in _MOVED_ALARM_KEYS:
            raise ConfigError(f"{where}.{key}", _MOVED_ALARM_KEYS[key])
    _object(where, raw, _ALARM_KEYS)

    def integer(key: str) -> int:
        return _int(f"{where}.{key}", raw.get(key, _ALARM[key].default), *_ALARM[key].int_range())

    def percent(key: str) -> float:
        value = raw.get(key, _ALARM[key].default)
        low, high = _ALARM[key].low or 0, _ALARM[key].high or 100
        if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
            raise ConfigError(
                f"{where}.{key}", f"must be a percentage above 0 and at most 100, got {value!r}"
            )
        return float(value)

    period = integer("period_seconds")
    if period % 60:
        raise ConfigError(f"{where}.period_seconds", f"must be a multiple of 60, got {period}")
    return AlarmSettings(
        period_seconds=period,
        evaluation_periods=integer("evaluation_periods"),
        authorizer_faults=integer("authorizer_faults"),
        authorizer_p99_ms=integer("authorizer_p99_ms"),
        api_5xx=integer("api_5xx"),
        unauthorized_percent=percent("unauthorized_percent"),
        forbidden_percent=percent("forbidden_percent"),
        rate_min_requests=integer("rate_min_requests"),
        throttled=integer("throttled"),
        iterator_age_seconds=integer("iterator_age_seconds"),
        audit_delivery_errors=integer("audit_delivery_errors"),
        audit_delivery_throttling=integer("audit_delivery_throttling"),
        audit_write_throttles=integer("audit_write_throttles"),
    )


def _object(where: str, raw: Any, allowed: frozenset[str] | None) -> None:
    """``raw`` must be a JSON object; with ``allowed``, every key must be one of them."""
    if not isinstance(raw, dict):
        raise ConfigError(where, f"must be an object, got {type(raw).__name__}")
    if allowed is not None:
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}", f"is not a known setting (known: {', '.join(sorted(allowed))})"
            )


def _int(where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(where, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(where, f"must be between {low} and {high}, got {value}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, f"must be true or false, got {value!r}")
    return value


def _choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(where, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _retention(where: str, value: Any) -> int:
    days = _int(where, value, 1, 3653)
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            where,
            f"must be a retention CloudWatch Logs offers ({', '.join(map(str, sorted(LOG_RETENTION_DAYS)))})",
        )
    return days
