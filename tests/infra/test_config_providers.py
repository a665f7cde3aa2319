"""Provider presets at synth: ``infra.config.load_config`` (what ``cdk synth`` runs first) expands
and validates them with the authorizer's own parser, and refuses bad ones naming the setting by its
full path in ``cdk.json``."""

from __future__ import annotations

from typing import Any

import pytest

from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import load_settings
from infra.config import load_config

W = "edgeauth.stages.prod.issuers"
COGNITO = {
    "provider": "cognito",
    "user_pool_id": "eu-west-1_Abc123",
    "client_ids": ["app"],
    "token_use": "access",
}
GITHUB = {"provider": "github-actions", "audiences": ["https://api.acme-bank.net"], "repositories": ["o/r"]}


def context(issuers: list[Any]) -> dict[str, Any]:
    stage = {
        "issuers": issuers,
        "backend_url": "https://backend.acme-bank.net/",
        "alarm_emails": ["platform-oncall@acme-bank.net"],
        "usage_tiers": {"standard": {"rate": 10, "burst": 20}},
        "default_tier": "standard",
    }
    return {"edgeauth": {"stages": {"prod": stage}}, "stage": "prod"}


def error_of(issuers: list[Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(context(issuers))
    return info.value


def test_a_stage_with_presets_synthesizes_the_environment_the_authorizer_expands_alike() -> None:
    config = load_config(context([COGNITO, GITHUB]))
    assert [i.issuer for i in config.issuers] == [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123",
        "https://token.actions.githubusercontent.com",
    ]
    # The function gets the presets as written and expands them at cold start to the same settings.
    at_cold_start = load_settings({"EDGEAUTH_ISSUERS": config.issuers_env, "EDGEAUTH_ROLE_TABLE": "t"})
    assert at_cold_start.issuers == config.issuers
    assert '"provider":"cognito"' in config.issuers_env
    assert not config.local_only


@pytest.mark.parametrize(
    ("issuers", "setting", "words"),
    [
        ([{"provider": "ping", "issuer": "https://x"}], f"{W}[0].provider", "cognito"),
        ([{**COGNITO, "token_use": None}], f"{W}[0].token_use", "'access', 'id'"),
        (
            [{k: v for k, v in COGNITO.items() if k != "user_pool_id"}],
            f"{W}[0].user_pool_id",
            "cognito preset",
        ),
        ([GITHUB, {**COGNITO, "tenant_id": "x"}], f"{W}[1].tenant_id", "entra preset"),
        ([COGNITO, {**COGNITO, "token_use": "id", "name": "ids"}], f"{W}[1].issuer", "issuers[0]"),
        ([{**GITHUB, "mapped_claims": ["repository", "/a//b"]}], f"{W}[0].mapped_claims[1]", "'~1'"),
        ([{**COGNITO, "groups_claim": "/a~9"}], f"{W}[0].groups_claim", "RFC 6901"),
        (
            [{**COGNITO, "required_claim_values": {"/custom:tier//x": ["gold"]}}],
            f'{W}[0].required_claim_values["/custom:tier//x"]',
            "empty reference token",
        ),
    ],
)
def test_synth_refuses_bad_presets_naming_the_setting(issuers: list[Any], setting: str, words: str) -> None:
    err = error_of(issuers)
    assert err.setting == setting, err
    assert words in err.problem


def test_a_deployed_stage_refuses_a_placeholder_audience_beside_a_preset() -> None:
    # GIVEN a prod stage whose GitHub Actions preset still carries an example audience
    error = error_of([{**GITHUB, "audiences": ["https://api.example.com"]}])
    # THEN the synth refuses it, naming the setting (not a KeyError for a preset without the key)
    assert error.setting == f"{W}[0].audiences[0]"
    assert "placeholder" in str(error)
    # AND a preset that gives no audiences of its own (Cognito access tokens) is accepted
    assert load_config(context([COGNITO])).issuers[0].audiences == frozenset()
