"""Configuration validation: a bad value stops the function at init naming the exact setting.

GIVEN an issuer entry or environment with one wrong value, WHEN it is validated, THEN a
:class:`ConfigError` names that setting (``EDGEAUTH_ISSUERS[i].name``) and says what is wrong; a valid
configuration gives the documented defaults.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import (
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_MAX_AGE,
    DEFAULT_JWKS_MAX_BYTES,
    DEFAULT_JWKS_MAX_STALE,
    DEFAULT_JWKS_TIMEOUT,
    DEFAULT_LEEWAY_SECONDS,
    DEFAULT_MAX_LIFETIME_SECONDS,
    DEFAULT_REQUIRED_CLAIMS,
    SUPPORTED_ALGORITHMS,
    is_loopback_host,
    issuers_to_env,
    load_settings,
    parse_issuer,
    parse_issuers,
    validate_key_url,
)

ISSUER = "https://idp.example.com/"
JWKS_URL = "https://idp.example.com/jwks.json"
WHERE = "EDGEAUTH_ISSUERS[0]"


def base(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"issuer": ISSUER, "audiences": ["api://bank"], "jwks_uri": JWKS_URL}
    for k, v in overrides.items():
        if v is _DROP:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


_DROP = object()


def env(*issuers: dict[str, Any], **extra: str) -> dict[str, str]:
    values = {
        C.ENV_ISSUERS: json.dumps(list(issuers) or [base()]),
        C.ENV_ROLE_TABLE: "roles",
    }
    values.update(extra)
    return values


def config_error(raw: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_issuers([raw])
    return info.value


# -- a valid issuer --------------------------------------------------------------------------------


def test_minimal_issuer_gets_the_documented_defaults() -> None:
    i = parse_issuer(base())
    assert i.issuer == ISSUER and i.audiences == frozenset({"api://bank"}) and i.jwks_uri == JWKS_URL
    assert i.algorithms == frozenset({"RS256"})
    assert i.discovery is False
    assert i.leeway_seconds == DEFAULT_LEEWAY_SECONDS == 30
    assert i.max_lifetime_seconds == DEFAULT_MAX_LIFETIME_SECONDS
    assert i.required_claims == DEFAULT_REQUIRED_CLAIMS == ("iss", "aud", "exp", "sub")
    assert i.token_type is None and i.required_scopes == frozenset() and i.groups_claim is None
    assert i.client_claim == "client_id"
    assert (i.jwks_max_age_seconds, i.jwks_cooldown_seconds, i.jwks_max_stale_seconds) == (
        DEFAULT_JWKS_MAX_AGE,
        DEFAULT_JWKS_COOLDOWN,
        DEFAULT_JWKS_MAX_STALE,
    )
    assert i.jwks_cooldown_seconds >= 10
    assert i.jwks_timeout_seconds == DEFAULT_JWKS_TIMEOUT <= 2.0
    assert i.jwks_max_bytes == DEFAULT_JWKS_MAX_BYTES


def test_every_supported_algorithm_is_accepted_and_all_are_asymmetric() -> None:
    i = parse_issuer(base(algorithms=sorted(SUPPORTED_ALGORITHMS)))
    assert i.algorithms == SUPPORTED_ALGORITHMS
    assert not any(a.startswith("HS") or a.lower() == "none" for a in SUPPORTED_ALGORITHMS)


def test_discovery_issuer_and_its_discovery_url() -> None:
    i = parse_issuer(base(jwks_uri=_DROP, discovery=True))
    assert i.discovery and i.jwks_uri is None
    assert i.discovery_url == "https://idp.example.com/.well-known/openid-configuration"
    no_slash = parse_issuer(base(issuer="https://idp.example.com/tenant", jwks_uri=_DROP, discovery=True))
    assert no_slash.discovery_url == "https://idp.example.com/tenant/.well-known/openid-configuration"


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example.com/jwks.json",
        "https://idp.example.com:8443/keys?x=1",
        "http://127.0.0.1:8080/jwks.json",
        "http://127.9.9.9/jwks.json",
        "http://localhost/jwks.json",
        "http://LOCALHOST:9000/jwks.json",
        "http://[::1]:8080/jwks.json",
    ],
)
def test_key_urls_that_are_accepted(url: str) -> None:
    assert parse_issuer(base(jwks_uri=url)).jwks_uri == url


# -- every invalid value names its setting -------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        # issuer
        ({"issuer": _DROP}, "issuer"),
        ({"issuer": ""}, "issuer"),
        ({"issuer": "   "}, "issuer"),
        ({"issuer": 1}, "issuer"),
        ({"issuer": None}, "issuer"),
        ({"issuer": " https://idp.example.com/"}, "issuer"),
        ({"issuer": "https://idp.example.com/\n"}, "issuer"),
        # audiences
        ({"audiences": _DROP}, "audiences"),
        ({"audiences": []}, "audiences"),
        ({"audiences": "api://bank"}, "audiences"),
        ({"audiences": [""]}, "audiences"),
        ({"audiences": ["api://bank", 1]}, "audiences"),
        ({"audiences": None}, "audiences"),
        # algorithms
        ({"algorithms": []}, "algorithms"),
        ({"algorithms": "RS256"}, "algorithms"),
        ({"algorithms": None}, "algorithms"),
        ({"algorithms": ["RS256", "HS256"]}, "algorithms"),
        ({"algorithms": ["HS384"]}, "algorithms"),
        ({"algorithms": ["HS512"]}, "algorithms"),
        ({"algorithms": ["none"]}, "algorithms"),
        ({"algorithms": ["None"]}, "algorithms"),
        ({"algorithms": ["NONE"]}, "algorithms"),
        ({"algorithms": ["rs256"]}, "algorithms"),
        ({"algorithms": ["RS1"]}, "algorithms"),
        ({"algorithms": ["ES256K"]}, "algorithms"),
        ({"algorithms": ["RSA-OAEP"]}, "algorithms"),
        ({"algorithms": [""]}, "algorithms"),
        # key source: exactly one
        ({"jwks_uri": _DROP}, "jwks_uri"),
        ({"jwks_uri": _DROP, "discovery": False}, "jwks_uri"),
        ({"discovery": True}, "jwks_uri"),
        ({"jwks_uri": _DROP, "discovery": "true"}, "discovery"),
        ({"jwks_uri": _DROP, "discovery": 1}, "discovery"),
        ({"jwks_uri": _DROP, "discovery": True, "issuer": "http://idp.example.com/"}, "issuer"),
        ({"jwks_uri": _DROP, "discovery": True, "issuer": "idp.example.com"}, "issuer"),
        # jwks_uri: https, or http on loopback only
        ({"jwks_uri": "http://idp.example.com/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "http://10.0.0.1/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "http://169.254.169.254/latest/meta-data/"}, "jwks_uri"),
        ({"jwks_uri": "http://localhost.evil.example/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "http://127.0.0.1.nip.io/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "http://127.0.0.1@evil.example/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "http://[::ffff:10.0.0.1]/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "HTTP://idp.example.com/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "ftp://idp.example.com/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "file:///etc/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "https:///jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "//idp.example.com/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "idp.example.com/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "https://idp.example.com:99999/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": "https://idp.example.com:port/jwks.json"}, "jwks_uri"),
        ({"jwks_uri": ""}, "jwks_uri"),
        ({"jwks_uri": 1}, "jwks_uri"),
        ({"jwks_uri": ["https://idp.example.com/jwks.json"]}, "jwks_uri"),
        # claims and times
        ({"required_claims": []}, "required_claims"),
        ({"required_claims": ["iss", "sub"]}, "required_claims"),
        ({"required_claims": "exp"}, "required_claims"),
        ({"required_claims": ["exp", 1]}, "required_claims"),
        ({"leeway_seconds": -1}, "leeway_seconds"),
        ({"leeway_seconds": 301}, "leeway_seconds"),
        ({"leeway_seconds": 1.5}, "leeway_seconds"),
        ({"leeway_seconds": "30"}, "leeway_seconds"),
        ({"leeway_seconds": True}, "leeway_seconds"),
        ({"leeway_seconds": None}, "leeway_seconds"),
        ({"max_lifetime_seconds": 59}, "max_lifetime_seconds"),
        ({"max_lifetime_seconds": 31 * 86400 + 1}, "max_lifetime_seconds"),
        ({"max_lifetime_seconds": "3600"}, "max_lifetime_seconds"),
        ({"max_lifetime_seconds": False}, "max_lifetime_seconds"),
        ({"token_type": ""}, "token_type"),
        ({"token_type": 1}, "token_type"),
        ({"required_scopes": "read"}, "required_scopes"),
        ({"required_scopes": [""]}, "required_scopes"),
        ({"required_scopes": [1]}, "required_scopes"),
        ({"groups_claim": ""}, "groups_claim"),
        ({"groups_claim": []}, "groups_claim"),
        ({"groups_claim": "/realm_access//roles"}, "groups_claim"),
        ({"groups_claim": "/a~2b"}, "groups_claim"),
        ({"groups_claim": ["groups", 1]}, "groups_claim[1]"),
        ({"groups_claim": ["groups", "/groups"]}, "groups_claim[1]"),
        ({"client_claim": "/a/b"}, "client_claim"),
        ({"client_ids": "web"}, "client_ids"),
        ({"client_ids": ["web"], "client_claim": None}, "client_ids"),
        ({"audiences": [], "client_ids": ["web"]}, "required_claims"),
        ({"mapped_claims": ["repository"], "groups_claim": "groups"}, "mapped_claims"),
        ({"mapped_claims": []}, "mapped_claims"),
        ({"mapped_claims": ["a=b"]}, "mapped_claims[0]"),
        ({"required_claim_values": ["token_use"]}, "required_claim_values"),
        ({"required_claim_values": {"token_use": "access"}}, 'required_claim_values["token_use"]'),
        ({"required_claim_values": {"/a//b": ["x"]}}, 'required_claim_values["/a//b"]'),
        ({"name": "Cognito"}, "name"),
        ({"name": ""}, "name"),
        ({"provider": "google"}, "provider"),
        ({"user_pool_id": "us-east-1_abc"}, "user_pool_id"),
        ({"client_claim": ""}, "client_claim"),
        ({"client_claim": 1}, "client_claim"),
        # JWKS cache and fetch
        ({"jwks_max_age_seconds": 59}, "jwks_max_age_seconds"),
        ({"jwks_max_age_seconds": 7 * 86400 + 1}, "jwks_max_age_seconds"),
        ({"jwks_max_age_seconds": None}, "jwks_max_age_seconds"),
        ({"jwks_cooldown_seconds": 9}, "jwks_cooldown_seconds"),
        ({"jwks_cooldown_seconds": 0}, "jwks_cooldown_seconds"),
        ({"jwks_cooldown_seconds": -30}, "jwks_cooldown_seconds"),
        ({"jwks_cooldown_seconds": 3601}, "jwks_cooldown_seconds"),
        ({"jwks_cooldown_seconds": 10.5}, "jwks_cooldown_seconds"),
        ({"jwks_max_stale_seconds": -1}, "jwks_max_stale_seconds"),
        ({"jwks_max_stale_seconds": 7 * 86400 + 1}, "jwks_max_stale_seconds"),
        ({"jwks_timeout_seconds": 0}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": 0.09}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": 2.01}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": 30}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": "1"}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": True}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": math.nan}, "jwks_timeout_seconds"),
        ({"jwks_timeout_seconds": math.inf}, "jwks_timeout_seconds"),
        ({"jwks_max_bytes": 1023}, "jwks_max_bytes"),
        ({"jwks_max_bytes": 1024 * 1024 + 1}, "jwks_max_bytes"),
        ({"jwks_max_bytes": 65536.0}, "jwks_max_bytes"),
    ],
)
def test_invalid_issuer_value_names_the_exact_setting(overrides: dict[str, Any], setting: str) -> None:
    err = config_error(base(**overrides))
    assert err.setting == f"{WHERE}.{setting}", err
    assert err.problem
    assert str(err).startswith(f"{WHERE}.{setting}: ")


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_refusing_hmac_and_none_says_why(alg: str) -> None:
    err = config_error(base(algorithms=[alg]))
    assert alg in err.problem and "asymmetric" in err.problem


@pytest.mark.parametrize("name", ["jwk_uri", "audience", "alg", "Issuer", "leeway", "jku", "x5u", ""])
def test_unknown_issuer_keys_are_refused_by_name(name: str) -> None:
    err = config_error(base(**{name: "x"}))
    assert err.setting == f"{WHERE}.{name}"
    assert "not a known" in err.problem


def test_http_jwks_uri_problem_mentions_https_and_loopback() -> None:
    err = config_error(base(jwks_uri="http://idp.example.com/jwks.json"))
    assert "https" in err.problem and "loopback" in err.problem


@pytest.mark.parametrize(
    ("raw", "setting"),
    [
        (None, "EDGEAUTH_ISSUERS"),
        ({}, "EDGEAUTH_ISSUERS"),
        ([], "EDGEAUTH_ISSUERS"),
        ("https://idp.example.com/", "EDGEAUTH_ISSUERS"),
        (["https://idp.example.com/"], "EDGEAUTH_ISSUERS[0]"),
        ([base(), base(issuer="https://other.example.com/", audiences=[])], "EDGEAUTH_ISSUERS[1].audiences"),
        ([base(), base()], "EDGEAUTH_ISSUERS[1].issuer"),
    ],
)
def test_issuer_list_errors_name_the_index(raw: Any, setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_issuers(raw)
    assert info.value.setting == setting


def test_issuers_differing_only_by_a_trailing_slash_are_distinct() -> None:
    issuers = parse_issuers([base(), base(issuer="https://idp.example.com")])
    assert [i.issuer for i in issuers] == [ISSUER, "https://idp.example.com"]


# -- key URL helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        (None, False),
        ("", False),
        ("localhost.", False),
        ("localhost.example.com", False),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("128.0.0.1", False),
        ("2130706433", False),
        ("127.1", False),
    ],
)
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_validate_key_url_names_the_setting_it_was_given() -> None:
    with pytest.raises(ConfigError) as info:
        validate_key_url("jwks_uri", "http://evil.example/jwks.json")
    assert info.value.setting == "jwks_uri"
    with pytest.raises(ConfigError) as info:
        validate_key_url("jwks_uri", None)  # type: ignore[arg-type]
    assert info.value.setting == "jwks_uri"


# -- the environment -----------------------------------------------------------------------------------


def test_load_settings_of_a_valid_environment() -> None:
    settings = load_settings(
        env(
            base(),
            base(issuer="https://other.example.com/", jwks_uri="https://other.example.com/keys"),
            EDGEAUTH_ROLE_CACHE_TTL="60",
            EDGEAUTH_TOKEN_CACHE_SIZE="0",
            EDGEAUTH_DYNAMODB_TIMEOUT="0.5",
            EDGEAUTH_DEFAULT_USAGE_KEY="k" * 20,
            EDGEAUTH_ENDPOINT_URL="http://localhost:8000",
        )
    )
    assert [i.issuer for i in settings.issuers] == [ISSUER, "https://other.example.com/"]
    assert set(settings.issuer_by_name) == {ISSUER, "https://other.example.com/"}
    assert (settings.role_cache_ttl, settings.token_cache_size, settings.dynamodb_timeout) == (60, 0, 0.5)
    assert settings.default_usage_key == "k" * 20 and settings.endpoint_url == "http://localhost:8000"


def test_defaults_when_optional_variables_are_empty() -> None:
    settings = load_settings(
        env(EDGEAUTH_ROLE_CACHE_TTL="", EDGEAUTH_DEFAULT_USAGE_KEY="", EDGEAUTH_ENDPOINT_URL="")
    )
    assert (
        settings.role_cache_ttl == 30 and settings.default_usage_key is None and settings.endpoint_url is None
    )


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({C.ENV_ISSUERS: ""}, C.ENV_ISSUERS),
        ({C.ENV_ISSUERS: "not json"}, C.ENV_ISSUERS),
        ({C.ENV_ISSUERS: "{"}, C.ENV_ISSUERS),
        ({C.ENV_ISSUERS: "{}"}, C.ENV_ISSUERS),
        ({C.ENV_ISSUERS: "[]"}, C.ENV_ISSUERS),
        ({C.ENV_ISSUERS: json.dumps([base(algorithms=["HS256"])])}, f"{WHERE}.algorithms"),
        ({C.ENV_ROLE_TABLE: ""}, C.ENV_ROLE_TABLE),
        ({C.ENV_ROLE_CACHE_TTL: "abc"}, C.ENV_ROLE_CACHE_TTL),
        ({C.ENV_ROLE_CACHE_TTL: "-1"}, C.ENV_ROLE_CACHE_TTL),
        ({C.ENV_ROLE_CACHE_TTL: "61"}, C.ENV_ROLE_CACHE_TTL),
        ({C.ENV_ROLE_CACHE_TTL: "30.5"}, C.ENV_ROLE_CACHE_TTL),
        ({C.ENV_TOKEN_CACHE_SIZE: "-1"}, C.ENV_TOKEN_CACHE_SIZE),
        ({C.ENV_TOKEN_CACHE_SIZE: "1000001"}, C.ENV_TOKEN_CACHE_SIZE),
        ({C.ENV_TOKEN_CACHE_SIZE: "lots"}, C.ENV_TOKEN_CACHE_SIZE),
        ({C.ENV_DYNAMODB_TIMEOUT: "0"}, C.ENV_DYNAMODB_TIMEOUT),
        ({C.ENV_DYNAMODB_TIMEOUT: "6"}, C.ENV_DYNAMODB_TIMEOUT),
        ({C.ENV_DYNAMODB_TIMEOUT: "nan"}, C.ENV_DYNAMODB_TIMEOUT),
        ({C.ENV_DYNAMODB_TIMEOUT: "inf"}, C.ENV_DYNAMODB_TIMEOUT),
        ({C.ENV_DYNAMODB_TIMEOUT: "fast"}, C.ENV_DYNAMODB_TIMEOUT),
        ({C.ENV_DEFAULT_USAGE_KEY: "short"}, C.ENV_DEFAULT_USAGE_KEY),
        ({C.ENV_ENDPOINT_URL: "localhost:8000"}, C.ENV_ENDPOINT_URL),
        ({C.ENV_ENDPOINT_URL: "ftp://localhost"}, C.ENV_ENDPOINT_URL),
        ({C.ENV_ENDPOINT_URL: "http://"}, C.ENV_ENDPOINT_URL),
    ],
)
def test_invalid_environment_value_names_the_variable(values: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env(**values))
    assert info.value.setting == setting, info.value


def test_missing_issuers_variable_names_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({C.ENV_ROLE_TABLE: "roles"})
    assert info.value.setting == C.ENV_ISSUERS


def test_invalid_json_problem_says_where_without_echoing_the_value() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env(**{C.ENV_ISSUERS: '[{"issuer": "x", "secret": "hunter2"'}))
    assert "position" in info.value.problem and "hunter2" not in str(info.value)


def test_issuers_round_trip_through_the_environment_variable() -> None:
    raw = [base(algorithms=["ES256", "RS256"], token_type="at+jwt", required_scopes=["read"])]
    settings = load_settings(env(**{C.ENV_ISSUERS: issuers_to_env(raw)}))
    assert settings.issuers == (parse_issuer(raw[0], f"{WHERE}"),)
