"""Typed, validated configuration of the authorizer.

Pure: :func:`load_settings` takes a mapping (``os.environ`` in the handler, a dict in tests) and
either returns :class:`Settings` or raises :class:`ConfigError` naming the setting and the problem.
The same validation runs at ``cdk synth`` (``infra/config.py`` calls :func:`parse_issuer`), so a bad
value is caught before deployment and, should one slip through, stops the function at init.

An issuer may name a provider preset (``provider``, :mod:`edgeauth.core.providers`): it is expanded
here, at cold start, into the same :class:`IssuerSettings` a generic issuer has, plus the preset's
claim checks; nothing of it is left for the request path but a few dict lookups per new token.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from edgeauth import constants as C
from edgeauth.core.claims import ClaimCheck, ClaimPath, ClaimPathError, parse_claim_path
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
#: How often a warm container reads the role table's change log (:mod:`edgeauth.core.changes`):
#: the longest it keeps answering from roles an edit has changed, once the edit is in the log.
DEFAULT_REVOCATION_CHECK_SECONDS = 2
MIN_REVOCATION_CHECK_SECONDS = 1
MAX_REVOCATION_CHECK_SECONDS = 10
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

MAX_MAPPED_CLAIMS = 8
MAX_GROUPS_CLAIMS = 8
MAX_NAME_CHARS = 32

#: Every value of an issuer's ``provider`` setting: ``generic`` (every setting explicit) and the
#: presets of :mod:`edgeauth.core.providers` (imported only for an issuer that names one).
PROVIDERS: Final[tuple[str, ...]] = (
    "generic",
    "cognito",
    "entra",
    "okta",
    "auth0",
    "keycloak",
    "github-actions",
    "kubernetes",
)

REQUIRED: Final = object()
"""The default of a setting that must be given."""


class SettingSpec(NamedTuple):
    """One setting as its loader reads it and the documentation lists it (docs/configuration.md).

    The loaders take the name, default and bounds from here (:func:`load_settings`,
    :func:`parse_issuer`, and ``infra/config.py`` for ``cdk.json``), so the generated reference cannot
    drift from what is accepted. ``kind`` and ``meaning`` are for people (Markdown); ``low``/``high``
    are inclusive bounds of a number (``low_exclusive``: above ``low``), or the shortest/longest length
    of a string; ``choices`` are the
    accepted values; ``default_text`` describes a default that is not a plain value.

    (A named tuple, not a dataclass: this module is imported at every cold start, where a frozen
    dataclass costs about 2 ms to create, a named tuple a tenth of that.)
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
        if "list" in self.kind and low is None:
            return f"at most {high:,} entries"
        if high is None:
            return f"≥ {low:,}"
        if low is None:
            return f"≤ {high:,}"
        return f"{low:,}–{high:,}"


#: The keys of one entry of ``EDGEAUTH_ISSUERS`` (and of a stage's ``issuers`` in ``cdk.json``), in the
#: order the reference lists them. :func:`parse_issuer` reads defaults and bounds from here.
ISSUER_SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "provider",
        "string",
        "a preset that expands the few values the provider's admin knows into the settings below plus "
        "the checks its tokens need (see [Provider presets](#provider-presets))",
        "generic",
        choices=PROVIDERS,
    ),
    SettingSpec(
        "name",
        "string",
        "the issuer's short name (`a-z`, `0-9`, `-`, starting alphanumeric; unique among the issuers): "
        "`edgeauth … --issuer-name`",
        default_text="a preset's provider; none for `generic`",
        low=1,
        high=MAX_NAME_CHARS,
    ),
    SettingSpec("issuer", "string", "exact `iss` value (no normalisation)", REQUIRED),
    SettingSpec(
        "audiences",
        "list of strings",
        "accepted `aud` values; empty only with `client_ids` and `aud` not in `required_claims` (the "
        "client claim is then the recipient check)",
        REQUIRED,
    ),
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
        "claim path, list of them, or null",
        "claims whose values map to roles through group items, e.g. `groups`, `cognito:groups`, "
        "`/realm_access/roles` ([claim paths](#claim-paths))",
        high=MAX_GROUPS_CLAIMS,
    ),
    SettingSpec(
        "mapped_claims",
        "claim path, list of them, or null",
        "claims looked up as group items `<claim>=<value>` ([claim mappings](roles.md#claim-mappings)); "
        "not with `groups_claim`",
        high=MAX_MAPPED_CLAIMS,
    ),
    SettingSpec(
        "client_claim",
        "string or null",
        "top-level claim naming the client for usage keys and `client_ids` (`client_id`, `azp`, a tenant "
        "claim), or null",
        "client_id",
    ),
    SettingSpec(
        "client_ids",
        "list of strings",
        "when not empty, the client claim must be present and one of these (else `wrong_client`)",
        (),
    ),
    SettingSpec(
        "required_claim_values",
        "object",
        '`{"<claim path>": ["allowed", …]}`: each claim present, a string, and one of its values (else '
        "`claim_not_allowed`)",
        default_text="`{}`",
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
_NAME = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{_ISSUER['name'].int_range()[1] - 1}}}")
"""An issuer's ``name``: as long as its table entry allows, ``a-z``, ``0-9`` and ``-``."""

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
    SettingSpec(
        C.ENV_REVOCATION_CHECK_SECONDS,
        "integer",
        "seconds between two reads of the role table's change log by a warm container: the longest it "
        "keeps answering from roles an edit has changed, once the edit is in the log; the role-events "
        "function reads it too, to time its second cache flush",
        DEFAULT_REVOCATION_CHECK_SECONDS,
        MIN_REVOCATION_CHECK_SECONDS,
        MAX_REVOCATION_CHECK_SECONDS,
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
        "connect and answer timeout of role-table (and replay-table) calls, seconds; 3 attempts in all "
        "(botocore's standard-mode rules and backoff; no retry that would not finish before the "
        "invocation's timeout), so a role-table outage answers 500 within a few seconds",
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


class IssuerSettings(NamedTuple):
    """One trusted issuer, as the verifier uses it: a provider preset already expanded.

    Tokens are matched to it by exact ``iss`` string comparison. ``audiences`` is empty only when
    ``client_ids`` is not (the client claim is then the recipient check, ``aud`` is not checked).
    """

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
    groups_claims: tuple[ClaimPath, ...] = ()
    """Claims whose string values are looked up as group mappings (``GROUP#<iss>``, the value)."""
    client_claim: str | None = "client_id"
    """The top-level claim naming the client (usage keys, ``client_ids``)."""
    client_ids: frozenset[str] = frozenset()
    """When not empty, the client claim must be present and one of these."""
    claim_checks: tuple[ClaimCheck, ...] = ()
    """The preset's checks, then ``required_claim_values``' (each refuses with its own reason)."""
    mapped_claims: tuple[ClaimPath, ...] = ()
    """Claims looked up as group mappings keyed ``<claim>=<value>`` (docs/roles.md "Claim mappings")."""
    name: str | None = None
    """The issuer's short name (``edgeauth ... --issuer-name``); a preset's default is its provider."""
    provider: str = "generic"
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
    def groups_claim(self) -> str | None:
        """The first groups claim's canonical path, or ``None`` (what tools that mint one claim use)."""
        return self.groups_claims[0].text if self.groups_claims else None

    @property
    def discovery_url(self) -> str:
        """The OIDC discovery document of this issuer (OpenID Connect Discovery 1.0 §4)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class Settings(NamedTuple):
    """Everything the authorizer needs, read once at cold start."""

    issuers: tuple[IssuerSettings, ...]
    role_table: str
    role_cache_ttl: int = DEFAULT_ROLE_CACHE_TTL
    revocation_check_seconds: int = DEFAULT_REVOCATION_CHECK_SECONDS
    """Seconds between two reads of the change log by a warm container (``EDGEAUTH_REVOCATION_CHECK_SECONDS``)."""
    default_usage_key: str | None = None
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
    dynamodb_timeout: float = DEFAULT_DYNAMODB_TIMEOUT
    endpoint_url: str | None = None
    dpop_replay_table: str | None = None
    """The DPoP replay table; set (required) when an issuer has ``dpop`` other than ``off``."""

    @property
    def issuer_by_name(self) -> dict[str, IssuerSettings]:
        """The issuers by their ``iss`` value (what a token names)."""
        return {i.issuer: i for i in self.issuers}


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
    """Validate one issuer entry, expanding its ``provider`` preset first (:mod:`edgeauth.core.providers`).

    ``where`` prefixes every setting name in error messages. A generic setting given beside a
    preset wins over the preset's value and is validated exactly like the preset's own values.
    """
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be an object")
    # The presets are imported only for an issuer that names one, or a setting generic does not
    # know (whose error may name its preset): a generic issuer's cold start does not load them.
    if "provider" not in raw and _ISSUER_KEYS.issuperset(raw):
        return _parse_expanded(dict(raw), where, "generic", ())
    from edgeauth.core.providers import PRESET_KEYS, PRESETS, preset_owning

    providers = _ISSUER["provider"].choices
    provider = raw.get("provider", _ISSUER["provider"].default)
    if provider not in providers:
        raise ConfigError(
            f"{where}.provider", f"unknown provider {provider!r}; use one of {', '.join(providers)}"
        )
    preset = PRESETS[provider]
    for key in sorted(raw):
        if key in _ISSUER_KEYS or key in preset.keys:
            continue
        if key in PRESET_KEYS:
            raise ConfigError(
                f"{where}.{key}",
                f"is a setting of the {preset_owning(key)} preset, not of provider {provider!r}",
            )
        raise ConfigError(f"{where}.{key}", "is not a known issuer setting")

    expansion = preset.expand(raw, where)
    merged = dict(expansion.settings)
    if "jwks_uri" in raw or raw.get("discovery") is True:
        # An explicit key source replaces the preset's (exactly one key source is allowed).
        merged.pop("jwks_uri", None)
        merged.pop("discovery", None)
    merged.update((k, v) for k, v in raw.items() if k in _ISSUER_KEYS)
    merged.setdefault("name", None if provider == "generic" else provider)
    required = merged.get("required_claims")
    if (
        provider != "generic"
        and "required_claims" not in raw
        and merged.get("audiences")
        and isinstance(required, list)
    ):
        # Audiences (the preset's or explicit: an API identifier, a Keycloak audience mapper, a
        # Cognito resource binding) are checked and, as in generic, required.
        merged["required_claims"] = [required[0], "aud", *required[1:]]
    return _parse_expanded(merged, where, provider, expansion.checks)


def _parse_expanded(
    raw: dict[str, Any], where: str, provider: str, preset_checks: tuple[ClaimCheck, ...]
) -> IssuerSettings:
    """The generic validation, on a generic issuer or a preset's expansion with explicit values."""
    issuer = raw.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip():
        raise ConfigError(f"{where}.issuer", "is required and must be a non-empty string")
    if issuer != issuer.strip():
        raise ConfigError(f"{where}.issuer", "must not have leading or trailing whitespace")

    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
        low, high = _ISSUER["name"].int_range()
        raise ConfigError(
            f"{where}.name",
            f"must be {low}-{high} characters of a-z, 0-9 and '-' (starting alphanumeric), got {name!r}",
        )

    if "audiences" not in raw:
        raise ConfigError(f"{where}.audiences", "is required (the accepted 'aud' values)")
    audiences = _strings(f"{where}.audiences", raw["audiences"], allow_empty=True)

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

    client_claim_raw = raw.get("client_claim", _ISSUER["client_claim"].default)
    client_claim: str | None = None
    if client_claim_raw is not None:
        path = _claim_path(f"{where}.client_claim", client_claim_raw)
        if len(path.segments) != 1:
            raise ConfigError(f"{where}.client_claim", "must name a top-level claim (not a nested path)")
        client_claim = path.top_level
    client_ids = _strings(
        f"{where}.client_ids", raw.get("client_ids", list(_ISSUER["client_ids"].default)), allow_empty=True
    )
    if client_ids and client_claim is None:
        raise ConfigError(f"{where}.client_ids", "needs a 'client_claim' (the claim that names the client)")
    if not audiences:
        # Without an audience, the client claim is the recipient check: never no check at all.
        if not client_ids:
            raise ConfigError(
                f"{where}.audiences",
                "must not be empty (the accepted 'aud' values), unless 'client_ids' lists the accepted "
                "clients (then the client claim, not 'aud', says whom the token is for)",
            )
        if "aud" in required_claims:
            raise ConfigError(f"{where}.required_claims", "requires 'aud' but 'audiences' is empty")

    groups_claims = _claim_paths(where, _ISSUER["groups_claim"], raw.get("groups_claim"))
    mapped_claims = _claim_paths(where, _ISSUER["mapped_claims"], raw.get("mapped_claims"))
    for i, path in enumerate(mapped_claims):
        if "=" in path.text:
            # The mapping key is '<claim>=<value>': a claim spelled with '=' would make it ambiguous.
            raise ConfigError(
                f"{where}.mapped_claims[{i}]", f"cannot name a claim whose path has '=' ({path.text!r})"
            )
    if groups_claims and mapped_claims:
        raise ConfigError(
            f"{where}.mapped_claims",
            "cannot be combined with 'groups_claim': both are looked up as group mappings of the "
            "issuer, and a group value could then be spelled like a claim mapping",
        )
    checks = preset_checks + _required_claim_values(
        f"{where}.required_claim_values", raw.get("required_claim_values", {})
    )

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
        groups_claims=groups_claims,
        client_claim=client_claim,
        client_ids=frozenset(client_ids),
        claim_checks=checks,
        mapped_claims=mapped_claims,
        name=name,
        provider=provider,
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


def _claim_path(setting: str, value: Any) -> ClaimPath:
    try:
        return parse_claim_path(value)
    except ClaimPathError as e:
        raise ConfigError(setting, f"{e}, got {value!r}") from None


def _claim_paths(where: str, spec: SettingSpec, value: Any) -> tuple[ClaimPath, ...]:
    """``None`` (none), one claim path, or a list of at most ``spec.high`` of them (each error names
    its index) for the setting ``spec`` of the issuer at ``where``."""
    setting = f"{where}.{spec.name}"
    if value is None:
        return ()
    if isinstance(value, str):
        return (_claim_path(setting, value),)
    if not isinstance(value, list) or not value:
        raise ConfigError(setting, "must be a claim path or a non-empty list of claim paths (or null)")
    limit = int(spec.high or 0)
    if len(value) > limit:
        raise ConfigError(setting, f"names {len(value)} claims; at most {limit}")
    paths = tuple(_claim_path(f"{setting}[{i}]", v) for i, v in enumerate(value))
    seen: dict[str, int] = {}
    for i, path in enumerate(paths):
        if path.text in seen:
            raise ConfigError(
                f"{setting}[{i}]", f"names the same claim as [{seen[path.text]}] ({path.text!r})"
            )
        seen[path.text] = i
    return paths


def _required_claim_values(setting: str, value: Any) -> tuple[ClaimCheck, ...]:
    """``{"<claim path>": ["allowed", ...]}``: each claim present, a string, one of its values."""
    if not isinstance(value, dict):
        raise ConfigError(setting, 'must be an object {"<claim path>": ["allowed value", ...]}')
    checks = []
    for key, allowed in value.items():
        where = f"{setting}[{json.dumps(key)}]"
        path = _claim_path(where, key)
        values = _strings(where, allowed, allow_empty=False)
        checks.append(
            ClaimCheck(
                path, frozenset(values), "claim_not_allowed", "required_claim_values", "set explicitly"
            )
        )
    return tuple(checks)


def parse_issuers(raw: Any, setting: str = C.ENV_ISSUERS) -> tuple[IssuerSettings, ...]:
    """Validate a list of issuers: issuer strings unique, short names unique.

    Two entries that expand to one issuer (two presets for one Cognito user pool, say) are refused:
    tokens are matched to an issuer by ``iss`` alone, so only one entry's checks could ever apply.
    """
    if not isinstance(raw, list) or not raw:
        raise ConfigError(setting, "must be a non-empty list of issuers")
    issuers = tuple(parse_issuer(item, f"{setting}[{i}]") for i, item in enumerate(raw))
    by_issuer: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for i, item in enumerate(issuers):
        if item.issuer in by_issuer:
            first = issuers[by_issuer[item.issuer]]
            raise ConfigError(
                f"{setting}[{i}].issuer",
                f"duplicate issuer {item.issuer!r} (also {setting}[{by_issuer[item.issuer]}], provider "
                f"{first.provider}): tokens are matched by 'iss' alone, so one issuer takes one entry "
                "(two presets for one issuer cannot both apply)",
            )
        by_issuer[item.issuer] = i
        if item.name is not None:
            if item.name in by_name:
                raise ConfigError(
                    f"{setting}[{i}].name",
                    f"duplicate name {item.name!r} (also {setting}[{by_name[item.name]}]); give each "
                    "issuer its own 'name'",
                )
            by_name[item.name] = i
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
        revocation_check_seconds=_env_int(env, _ENV[C.ENV_REVOCATION_CHECK_SECONDS]),
        default_usage_key=default_key,
        token_cache_size=_env_int(env, _ENV[C.ENV_TOKEN_CACHE_SIZE]),
        dynamodb_timeout=_env_float(env, _ENV[C.ENV_DYNAMODB_TIMEOUT]),
        endpoint_url=endpoint,
    )


def describe_issuer(issuer: IssuerSettings) -> dict[str, Any]:
    """The issuer's settings as the verifier uses them (a preset expanded), JSON-ready: what the
    startup log line and ``edgeauth explain`` show. Never holds a secret (there are none here)."""
    key_source: dict[str, Any] = (
        {"jwks_uri": issuer.jwks_uri} if issuer.jwks_uri else {"discovery": issuer.discovery_url}
    )
    return {
        "name": issuer.name,
        "provider": issuer.provider,
        "issuer": issuer.issuer,
        **key_source,
        "algorithms": sorted(issuer.algorithms),
        "audiences": sorted(issuer.audiences),
        "recipient_check": (
            "aud in audiences"
            if issuer.audiences
            else f"{issuer.client_claim} in client_ids (aud not checked)"
        ),
        "required_claims": list(issuer.required_claims),
        "token_type": issuer.token_type,
        "client_claim": issuer.client_claim,
        "client_ids": sorted(issuer.client_ids),
        "claim_checks": [c.describe() for c in issuer.claim_checks],
        "required_scopes": sorted(issuer.required_scopes),
        "groups_claim": [p.text for p in issuer.groups_claims],
        "mapped_claims": [p.text for p in issuer.mapped_claims],
        "leeway_seconds": issuer.leeway_seconds,
        "max_lifetime_seconds": issuer.max_lifetime_seconds,
        "dpop": issuer.dpop,
    }


def issuers_to_env(issuers: Sequence[Mapping[str, Any]]) -> str:
    """Serialize issuer settings for the ``EDGEAUTH_ISSUERS`` variable (used by the CDK app)."""
    return json.dumps(list(issuers), separators=(",", ":"), sort_keys=True)
