"""Typed, validated configuration of the authorizer.

Pure: :func:`load_settings` takes a mapping (``os.environ`` in the handler, a dict in tests) and
either returns :class:`Settings` or raises :class:`ConfigError` naming the setting and the problem.
The same validation runs at ``cdk synth`` (``infra/config.py`` calls :func:`parse_issuer`), so a bad
value is caught before deployment and, should one slip through, stops the function at init.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from edgeauth import constants as C
from edgeauth.core.errors import ConfigError

#: Asymmetric JWS algorithms the authorizer can verify. ``none`` and the HMAC family are never
#: accepted: an API gateway must not hold a secret that can also mint tokens (RFC 8725 §3.1, §3.2).
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip

DEFAULT_REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "aud", "exp", "sub")
DEFAULT_LEEWAY_SECONDS = 30
MAX_LEEWAY_SECONDS = 300
DEFAULT_MAX_LIFETIME_SECONDS = 24 * 3600
DEFAULT_ROLE_CACHE_TTL = 30
MAX_ROLE_CACHE_TTL = 60
DEFAULT_TOKEN_CACHE_SIZE = 10_000
DEFAULT_DYNAMODB_TIMEOUT = 0.5
MAX_DYNAMODB_TIMEOUT = 5.0

DPOP_MODES: tuple[str, ...] = ("off", "optional", "required")
"""Per issuer: ``off`` (Bearer only), ``optional`` (Bearer or DPoP), ``required`` (DPoP only)."""
DEFAULT_DPOP_MAX_AGE = 300
MAX_DPOP_MAX_AGE = 3600
DEFAULT_DPOP_ALGORITHMS: tuple[str, ...] = ("ES256", "PS256", "RS256", "EdDSA")

DEFAULT_JWKS_MAX_AGE = 3600
DEFAULT_JWKS_COOLDOWN = 30
MIN_JWKS_COOLDOWN = 10
DEFAULT_JWKS_MAX_STALE = 6 * 3600
DEFAULT_JWKS_TIMEOUT = 2.0
MAX_JWKS_TIMEOUT = 2.0
DEFAULT_JWKS_MAX_BYTES = 64 * 1024
MAX_JWKS_MAX_BYTES = 1024 * 1024

REQUIRED: Final = object()
"""The default of a setting that must be given."""


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting as its loader reads it and the documentation lists it (docs "Configuration").

    The loaders take the name, default and bounds from here (:func:`load_settings`,
    :func:`parse_issuer`, and ``infra/config.py`` for ``cdk.json``), so the generated reference cannot
    drift from what is accepted. ``kind`` and ``meaning`` are for people (Markdown); ``low``/``high``
    are inclusive bounds of a number (``low_exclusive``: above ``low``), or the shortest/longest length
    of a string; ``choices`` are the
    accepted values; ``default_text`` describes a default that is not a plain value.
    """

    name: str
    kind: str
    meaning: str
    default: Any = None
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[str, ...] = ()
    default_text: str | None = None
    low_exclusive: bool = False
    """The value must be above ``low`` (a rate, a percentage), not at least ``low``."""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def int_range(self) -> tuple[int, int]:
        """``(low, high)`` of an integer setting."""
        if not isinstance(self.low, int) or not isinstance(self.high, int):
            raise TypeError(f"{self.name} has no integer bounds")
        return self.low, self.high

    def default_markdown(self) -> str:
        """The default as the reference shows it: ``required``, ``none``, or the JSON value."""
        if self.default_text is not None:
            return self.default_text
        if self.default is REQUIRED:
            return "required"
        if self.default is None:
            return "none"
        if isinstance(self.default, frozenset):
            return "`" + json.dumps(sorted(self.default)) + "`"
        return "`" + json.dumps(list(self.default) if isinstance(self.default, tuple) else self.default) + "`"

    def bounds_markdown(self) -> str:
        """The accepted values: a range, a length, or the choices; empty when anything of the kind goes."""
        if self.choices:
            return ", ".join(f"`{c}`" for c in self.choices)
        low, high = self.low, self.high
        if low is None and high is None:
            return ""
        if self.low_exclusive:
            return f"above {low:,}, at most {high:,}"
        if "string" in self.kind:
            return f"at least {low} characters" if high is None else f"{low}–{high} characters"
        if high is None:
            return f"≥ {low:,}"
        if low is None:
            return f"≤ {high:,}"
        return f"{low:,}–{high:,}"


#: The keys of one entry of ``EDGEAUTH_ISSUERS`` (and of a stage's ``issuers`` in ``cdk.json``), in the
#: order the reference lists them. :func:`parse_issuer` reads defaults and bounds from here.
ISSUER_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec("issuer", "string", "exact `iss` value (no normalisation)", REQUIRED),
    SettingSpec("audiences", "list of strings", "accepted `aud` values (non-empty)", REQUIRED),
    SettingSpec(
        "jwks_uri",
        "URL",
        "the issuer's JWKS URL; exactly one of `jwks_uri` and `discovery`; https only, plain http only "
        "on loopback",
        default_text="required, unless `discovery`",
    ),
    SettingSpec(
        "discovery",
        "boolean",
        "`true`: find the JWKS through `<issuer>/.well-known/openid-configuration` (whose `issuer` must "
        "equal this one) instead of `jwks_uri`",
        False,
    ),
    SettingSpec(
        "algorithms",
        "list of strings",
        "accepted `alg` values, asymmetric only (`none` and HMAC never)",
        ("RS256",),
        choices=tuple(sorted(SUPPORTED_ALGORITHMS)),
    ),
    SettingSpec(
        "leeway_seconds",
        "integer",
        "clock skew allowed on `exp`/`nbf`/`iat`",
        DEFAULT_LEEWAY_SECONDS,
        0,
        MAX_LEEWAY_SECONDS,
    ),
    SettingSpec(
        "max_lifetime_seconds",
        "integer or null",
        "largest `exp − iat` accepted, or `null` for no limit (an explicit opt-out)",
        DEFAULT_MAX_LIFETIME_SECONDS,
        60,
        31 * 24 * 3600,
    ),
    SettingSpec(
        "required_claims",
        "list of strings",
        "claims that must be present (must include `exp`)",
        DEFAULT_REQUIRED_CLAIMS,
    ),
    SettingSpec("token_type", "string or null", "required `typ` header, e.g. `at+jwt` (RFC 9068)"),
    SettingSpec("required_scopes", "list of strings", "scopes every token must carry (`scope` or `scp`)", ()),
    SettingSpec(
        "groups_claim",
        "string or null",
        "claim whose values map to roles through group items, e.g. `groups`, `cognito:groups`",
    ),
    SettingSpec(
        "client_claim",
        "string or null",
        "claim naming the client for usage keys (`client_id`, `azp`, a tenant claim)",
        "client_id",
    ),
    SettingSpec(
        "jwks_max_age_seconds",
        "integer",
        "refresh the key set after this long",
        DEFAULT_JWKS_MAX_AGE,
        60,
        7 * 24 * 3600,
    ),
    SettingSpec(
        "jwks_cooldown_seconds",
        "integer",
        "at most one fetch per this long for unknown `kid`s",
        DEFAULT_JWKS_COOLDOWN,
        MIN_JWKS_COOLDOWN,
        3600,
    ),
    SettingSpec(
        "jwks_max_stale_seconds",
        "integer",
        "serve known keys this long past max age while the endpoint fails",
        DEFAULT_JWKS_MAX_STALE,
        0,
        7 * 24 * 3600,
    ),
    SettingSpec(
        "jwks_timeout_seconds", "number", "fetch timeout", DEFAULT_JWKS_TIMEOUT, 0.1, MAX_JWKS_TIMEOUT
    ),
    SettingSpec(
        "jwks_max_bytes", "integer", "body size cap", DEFAULT_JWKS_MAX_BYTES, 1024, MAX_JWKS_MAX_BYTES
    ),
    SettingSpec(
        "dpop",
        "string",
        "`off` (Bearer only), `optional` (Bearer or DPoP) or `required` (DPoP only): see "
        "[DPoP](authorizer.md#dpop-rfc-9449)",
        "off",
        choices=DPOP_MODES,
    ),
    SettingSpec(
        "dpop_max_age_seconds",
        "integer",
        "how old a DPoP proof's `iat` may be; its `jti` is remembered as long, plus the leeway",
        DEFAULT_DPOP_MAX_AGE,
        1,
        MAX_DPOP_MAX_AGE,
    ),
    SettingSpec(
        "dpop_algorithms",
        "list of strings",
        "proof algorithms, validated like `algorithms` (asymmetric only)",
        DEFAULT_DPOP_ALGORITHMS,
        choices=tuple(sorted(SUPPORTED_ALGORITHMS)),
    ),
)
_ISSUER = {spec.name: spec for spec in ISSUER_SETTINGS}
_ISSUER_KEYS = frozenset(_ISSUER)

#: The authorizer's environment, in the order the reference lists it. :func:`load_settings` reads
#: names, defaults and bounds from here; the CDK app sets each from ``cdk.json``.
ENVIRONMENT: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        C.ENV_ISSUERS, "JSON list", "trusted issuers, each an object of the issuer settings", REQUIRED
    ),
    SettingSpec(C.ENV_ROLE_TABLE, "string", "role table name", REQUIRED),
    SettingSpec(
        C.ENV_ROLE_CACHE_TTL,
        "integer",
        "seconds role-table reads are reused in a container",
        DEFAULT_ROLE_CACHE_TTL,
        0,
        MAX_ROLE_CACHE_TTL,
    ),
    SettingSpec(C.ENV_DEFAULT_USAGE_KEY, "string", "API key value of the default usage tier", None, low=20),
    SettingSpec(
        C.ENV_TOKEN_CACHE_SIZE,
        "integer",
        "verified tokens remembered per container",
        DEFAULT_TOKEN_CACHE_SIZE,
        0,
        1_000_000,
    ),
    SettingSpec(
        C.ENV_DYNAMODB_TIMEOUT,
        "number",
        "connect/read timeout of role-table calls, seconds; 3 attempts in all (botocore standard "
        "retries), so a role-table outage answers 500 within a few seconds",
        DEFAULT_DYNAMODB_TIMEOUT,
        0.05,
        MAX_DYNAMODB_TIMEOUT,
    ),
    SettingSpec(C.ENV_ENDPOINT_URL, "http(s) URL", "AWS endpoint override (local stack only)"),
    SettingSpec(
        C.ENV_DPOP_REPLAY_TABLE,
        "string",
        "the DPoP replay table's name",
        default_text="none; required when an issuer has `dpop` on",
    ),
)
_ENV = {spec.name: spec for spec in ENVIRONMENT}


@dataclass(frozen=True, slots=True)
class IssuerSettings:
    """One trusted issuer. Tokens are matched to it by exact ``iss`` string comparison."""

    issuer: str
    audiences: frozenset[str]
    algorithms: frozenset[str]
    jwks_uri: str | None = None
    discovery: bool = False
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS
    max_lifetime_seconds: int | None = DEFAULT_MAX_LIFETIME_SECONDS
    required_claims: tuple[str, ...] = DEFAULT_REQUIRED_CLAIMS
    token_type: str | None = None
    required_scopes: frozenset[str] = frozenset()
    groups_claim: str | None = None
    client_claim: str | None = "client_id"
    jwks_max_age_seconds: int = DEFAULT_JWKS_MAX_AGE
    jwks_cooldown_seconds: int = DEFAULT_JWKS_COOLDOWN
    jwks_max_stale_seconds: int = DEFAULT_JWKS_MAX_STALE
    jwks_timeout_seconds: float = DEFAULT_JWKS_TIMEOUT
    jwks_max_bytes: int = DEFAULT_JWKS_MAX_BYTES
    dpop: str = "off"
    """``off``, ``optional`` or ``required`` (:data:`DPOP_MODES`)."""
    dpop_max_age_seconds: int = DEFAULT_DPOP_MAX_AGE
    """How old a DPoP proof's ``iat`` may be; also how long its ``jti`` is remembered."""
    dpop_algorithms: frozenset[str] = frozenset(DEFAULT_DPOP_ALGORITHMS)

    @property
    def discovery_url(self) -> str:
        """The OIDC discovery document of this issuer (OpenID Connect Discovery 1.0 §4)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the authorizer needs, read once at cold start."""

    issuers: tuple[IssuerSettings, ...]
    role_table: str
    role_cache_ttl: int = DEFAULT_ROLE_CACHE_TTL
    default_usage_key: str | None = None
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
    dynamodb_timeout: float = DEFAULT_DYNAMODB_TIMEOUT
    endpoint_url: str | None = None
    dpop_replay_table: str | None = None
    """The DPoP replay table; set (required) when an issuer has ``dpop`` other than ``off``."""
    issuer_by_name: Mapping[str, IssuerSettings] = field(default_factory=dict, compare=False)


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_key_url(setting: str, url: str) -> str:
    """A URL keys (or a discovery document) may be fetched from: https, or http on loopback only."""
    if not isinstance(url, str) or not url:
        raise ConfigError(setting, "must be a non-empty URL string")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        # Accepted before, the URL then failed in the fetcher with a ValueError on every request.
        raise ConfigError(setting, f"has an invalid port, got {url!r}") from None
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    if parts.scheme == "http":
        raise ConfigError(
            setting,
            f"must use https (plain http is allowed only on a loopback address), got {url!r}",
        )
    raise ConfigError(setting, f"must be an https URL, got {url!r}")


def _strings(setting: str, value: Any, *, allow_empty: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(setting, "must be a list of non-empty strings")
    if not value and not allow_empty:
        raise ConfigError(setting, "must not be empty")
    return value


def _algorithms(setting: str, value: Any) -> list[str]:
    algorithms = _strings(setting, value, allow_empty=False)
    for alg in algorithms:
        if alg not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                setting,
                f"{alg!r} is not accepted; use asymmetric algorithms only: "
                + ", ".join(sorted(SUPPORTED_ALGORITHMS)),
            )
    return algorithms


def _int(setting: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(setting, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(setting, f"must be between {low} and {high}, got {value}")
    return value


def _number(setting: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(setting, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(setting, f"must be between {low} and {high}, got {value}")
    return float(value)


def _optional_str(setting: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(setting, "must be a non-empty string or null")
    return value


def parse_issuer(raw: Any, where: str = "issuers[0]") -> IssuerSettings:
    """Validate one issuer entry. ``where`` prefixes every setting name in error messages."""
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be an object")
    unknown = sorted(set(raw) - _ISSUER_KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", "is not a known issuer setting")

    issuer = raw.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip():
        raise ConfigError(f"{where}.issuer", "is required and must be a non-empty string")
    if issuer != issuer.strip():
        raise ConfigError(f"{where}.issuer", "must not have leading or trailing whitespace")

    if "audiences" not in raw:
        raise ConfigError(f"{where}.audiences", "is required (the accepted 'aud' values)")
    audiences = _strings(f"{where}.audiences", raw["audiences"], allow_empty=False)

    algorithms = _algorithms(
        f"{where}.algorithms", raw.get("algorithms", list(_ISSUER["algorithms"].default))
    )
    dpop_modes = _ISSUER["dpop"].choices
    dpop = raw.get("dpop", _ISSUER["dpop"].default)
    if dpop not in dpop_modes:
        raise ConfigError(f"{where}.dpop", f"must be one of {', '.join(dpop_modes)}, got {dpop!r}")
    dpop_algorithms = _algorithms(
        f"{where}.dpop_algorithms", raw.get("dpop_algorithms", list(_ISSUER["dpop_algorithms"].default))
    )

    jwks_uri = raw.get("jwks_uri")
    discovery = raw.get("discovery", _ISSUER["discovery"].default)
    if not isinstance(discovery, bool):
        raise ConfigError(f"{where}.discovery", "must be true or false")
    if jwks_uri is not None:
        validate_key_url(f"{where}.jwks_uri", jwks_uri)
    if discovery:
        validate_key_url(f"{where}.issuer", issuer)
    if (jwks_uri is None) == (not discovery):
        raise ConfigError(
            f"{where}.jwks_uri",
            "give exactly one key source: 'jwks_uri', or 'discovery': true",
        )

    required_claims = tuple(
        _strings(
            f"{where}.required_claims",
            raw.get("required_claims", list(_ISSUER["required_claims"].default)),
            allow_empty=False,
        )
    )
    if "exp" not in required_claims:
        raise ConfigError(f"{where}.required_claims", "must include 'exp'")

    max_lifetime = raw.get("max_lifetime_seconds", _ISSUER["max_lifetime_seconds"].default)
    if max_lifetime is not None:
        max_lifetime = _int_setting(where, _ISSUER["max_lifetime_seconds"], max_lifetime)

    def integer(key: str) -> int:
        spec = _ISSUER[key]
        return _int_setting(where, spec, raw.get(key, spec.default))

    timeout = _ISSUER["jwks_timeout_seconds"]
    return IssuerSettings(
        issuer=issuer,
        audiences=frozenset(audiences),
        algorithms=frozenset(algorithms),
        jwks_uri=jwks_uri,
        discovery=discovery,
        leeway_seconds=integer("leeway_seconds"),
        max_lifetime_seconds=max_lifetime,
        required_claims=required_claims,
        token_type=_optional_str(f"{where}.token_type", raw.get("token_type")),
        required_scopes=frozenset(
            _strings(
                f"{where}.required_scopes",
                raw.get("required_scopes", list(_ISSUER["required_scopes"].default)),
                allow_empty=True,
            )
        ),
        groups_claim=_optional_str(f"{where}.groups_claim", raw.get("groups_claim")),
        client_claim=_optional_str(
            f"{where}.client_claim", raw.get("client_claim", _ISSUER["client_claim"].default)
        ),
        jwks_max_age_seconds=integer("jwks_max_age_seconds"),
        jwks_cooldown_seconds=integer("jwks_cooldown_seconds"),
        jwks_max_stale_seconds=integer("jwks_max_stale_seconds"),
        jwks_timeout_seconds=_number(
            f"{where}.{timeout.name}",
            raw.get(timeout.name, timeout.default),
            float(timeout.low or 0),
            float(timeout.high or 0),
        ),
        jwks_max_bytes=integer("jwks_max_bytes"),
        dpop=dpop,
        dpop_max_age_seconds=integer("dpop_max_age_seconds"),
        dpop_algorithms=frozenset(dpop_algorithms),
    )


def _int_setting(where: str, spec: SettingSpec, value: Any) -> int:
    """``value`` of the integer setting ``spec`` (of the issuer at ``where``), within its bounds."""
    return _int(f"{where}.{spec.name}", value, *spec.int_range())


def parse_issuers(raw: Any, setting: str = C.ENV_ISSUERS) -> tuple[IssuerSettings, ...]:
    """Validate a list of issuers; issuer strings must be unique."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(setting, "must be a non-empty list of issuers")
    issuers = tuple(parse_issuer(item, f"{setting}[{i}]") for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, item in enumerate(issuers):
        if item.issuer in seen:
            raise ConfigError(f"{setting}[{i}].issuer", f"duplicate issuer {item.issuer!r}")
        seen.add(item.issuer)
    return issuers


def _env_int(env: Mapping[str, str], spec: SettingSpec) -> int:
    raw = env.get(spec.name)
    if raw is None or raw == "":
        return int(spec.default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(spec.name, f"must be an integer, got {raw!r}") from None
    return _int(spec.name, value, *spec.int_range())


def _env_float(env: Mapping[str, str], spec: SettingSpec) -> float:
    raw = env.get(spec.name)
    if raw is None or raw == "":
        return float(spec.default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(spec.name, f"must be a number, got {raw!r}") from None
    return _number(spec.name, value, float(spec.low or 0), float(spec.high or 0))


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and validate the authorizer's environment. Raises :class:`ConfigError`."""
    raw_issuers = env.get(C.ENV_ISSUERS)
    if not raw_issuers:
        raise ConfigError(C.ENV_ISSUERS, "is required (a JSON list of trusted issuers)")
    try:
        decoded = json.loads(raw_issuers)
    except json.JSONDecodeError as e:
        raise ConfigError(C.ENV_ISSUERS, f"is not valid JSON ({e.msg} at position {e.pos})") from None
    issuers = parse_issuers(decoded)

    table = env.get(C.ENV_ROLE_TABLE, "")
    if not table:
        raise ConfigError(C.ENV_ROLE_TABLE, "is required (the role table's name)")

    default_key = env.get(C.ENV_DEFAULT_USAGE_KEY) or None
    shortest = int(_ENV[C.ENV_DEFAULT_USAGE_KEY].low or 0)
    if default_key is not None and len(default_key) < shortest:
        raise ConfigError(
            C.ENV_DEFAULT_USAGE_KEY, f"must be at least {shortest} characters (an API key value)"
        )

    endpoint = env.get(C.ENV_ENDPOINT_URL) or None
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(C.ENV_ENDPOINT_URL, f"must be an http(s) URL, got {endpoint!r}")

    replay_table = env.get(C.ENV_DPOP_REPLAY_TABLE) or None
    dpop_issuers = [i.issuer for i in issuers if i.dpop != "off"]
    if dpop_issuers and replay_table is None:
        raise ConfigError(
            C.ENV_DPOP_REPLAY_TABLE,
            f"is required when an issuer has 'dpop' on ({', '.join(dpop_issuers)}): the table of "
            "used DPoP proof ids",
        )

    return Settings(
        issuers=issuers,
        role_table=table,
        dpop_replay_table=replay_table,
        role_cache_ttl=_env_int(env, _ENV[C.ENV_ROLE_CACHE_TTL]),
        default_usage_key=default_key,
        token_cache_size=_env_int(env, _ENV[C.ENV_TOKEN_CACHE_SIZE]),
        dynamodb_timeout=_env_float(env, _ENV[C.ENV_DYNAMODB_TIMEOUT]),
        endpoint_url=endpoint,
        issuer_by_name={i.issuer: i for i in issuers},
    )


def issuers_to_env(issuers: Sequence[Mapping[str, Any]]) -> str:
    """Serialize issuer settings for the ``EDGEAUTH_ISSUERS`` variable (used by the CDK app)."""
    return json.dumps(list(issuers), separators=(",", ":"), sort_keys=True)
