"""DPoP settings of an issuer (RFC 9449) and the replay table variable, validated like the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import DEFAULT_DPOP_ALGORITHMS, load_settings, parse_issuer

BASE = {"issuer": "https://idp.example.com/", "audiences": ["api"], "jwks_uri": "https://idp.example.com/j"}


def env(*issuers: dict[str, Any], table: str | None = None) -> dict[str, str]:
    values = {C.ENV_ISSUERS: json.dumps(list(issuers)), C.ENV_ROLE_TABLE: "roles"}
    if table is not None:
        values[C.ENV_DPOP_REPLAY_TABLE] = table
    return values


def test_dpop_is_off_by_default_with_safe_defaults() -> None:
    issuer = parse_issuer(dict(BASE))
    assert issuer.dpop == "off"
    assert issuer.dpop_max_age_seconds == 300
    assert (
        issuer.dpop_algorithms == frozenset(DEFAULT_DPOP_ALGORITHMS) == {"ES256", "PS256", "RS256", "EdDSA"}
    )
    settings = load_settings(env(BASE))
    assert settings.dpop_replay_table is None


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_dpop_on_requires_the_replay_table_variable(mode: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env({**BASE, "dpop": mode}))
    assert info.value.setting == C.ENV_DPOP_REPLAY_TABLE == "EDGEAUTH_DPOP_REPLAY_TABLE"
    assert "https://idp.example.com/" in info.value.problem
    settings = load_settings(env({**BASE, "dpop": mode}, table="replay"))
    assert settings.dpop_replay_table == "replay"
    assert settings.issuers[0].dpop == mode


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dpop", "on", "must be one of off, optional, required"),
        ("dpop", True, "must be one of off, optional, required"),
        ("dpop", None, "must be one of off, optional, required"),
        ("dpop_max_age_seconds", 0, "between 1 and 3600"),
        ("dpop_max_age_seconds", 3601, "between 1 and 3600"),
        ("dpop_max_age_seconds", "300", "must be an integer"),
        ("dpop_max_age_seconds", True, "must be an integer"),
        ("dpop_algorithms", [], "must not be empty"),
        ("dpop_algorithms", "ES256", "must be a list of non-empty strings"),
        ("dpop_algorithms", ["HS256"], "asymmetric algorithms only"),
        ("dpop_algorithms", ["none"], "asymmetric algorithms only"),
        ("dpop_algorithms", ["ES256", "es256"], "asymmetric algorithms only"),
    ],
)
def test_invalid_dpop_setting_names_the_setting(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env(BASE, {**BASE, "issuer": "https://b.example.com/", key: value}, table="t"))
    assert info.value.setting == f"{C.ENV_ISSUERS}[1].{key}"
    assert message in info.value.problem


def test_valid_dpop_settings_are_kept() -> None:
    issuer = parse_issuer(
        {**BASE, "dpop": "required", "dpop_max_age_seconds": 3600, "dpop_algorithms": ["EdDSA"]}
    )
    assert (issuer.dpop, issuer.dpop_max_age_seconds, issuer.dpop_algorithms) == ("required", 3600, {"EdDSA"})
