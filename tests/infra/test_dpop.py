"""DPoP on (RFC 9449): the replay table, the authorizer's access to it, identity sources, caching and
the 401 challenge. One extra synth of the dev stage with its issuer set to ``dpop: required``; the
session synth (``cdk.json`` as shipped, DPoP off) shows that nothing of this exists by default."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template

from edgeauth import constants as C
from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import load_settings
from infra.application import cdk_json_context, create_app
from infra.config import load_config
from infra.constructs.api import identity_sources, www_authenticate
from infra.constructs.authorizer import DPOP_REPLAY_ACTIONS
from tests.infra.conftest import Synth, actions, resources


def dpop_context(mode: str = "required", ttl: int = 0, **issuer: Any) -> dict[str, Any]:
    """``cdk.json``'s context with the dev stage's issuer(s) set to ``dpop: mode``."""
    context = copy.deepcopy(cdk_json_context())
    stage = context["edgeauth"]["stages"]["dev"]
    for item in stage["issuers"]:
        item.update({"dpop": mode, **issuer})
    stage["authorizer_cache_ttl"] = ttl
    context["stage"] = "dev"
    return context


@pytest.fixture(scope="module")
def dpop_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out.dpop")
    # Bundling skipped: the session synth builds (and its tests check) the same asset.
    context = {**dpop_context(), "aws:cdk:bundling-stacks": []}
    app, stack = create_app(context, outdir=str(outdir), nag=True)
    try:
        app.synth()
        failure = None
    except RuntimeError as e:
        failure = str(e)
    template = json.loads((outdir / stack.template_file).read_text())
    yield Synth(app, stack, Template.from_json(template), outdir, failure)


def replay_table_id(s: Synth) -> str:
    assert s.stack.dpop_replay_table is not None
    return s.logical_id(s.stack.dpop_replay_table.table)


def test_no_replay_table_or_dpop_setting_when_dpop_is_off(synth: Synth) -> None:
    assert synth.stack.dpop_replay_table is None
    synth.template.resource_count_is("AWS::DynamoDB::Table", 2)  # the role table, the audit checkpoints
    env = synth.resource(synth.stack.authorizer.function)["Properties"]["Environment"]["Variables"]
    assert C.ENV_DPOP_REPLAY_TABLE not in env
    assert C.OUTPUT_DPOP_REPLAY_TABLE not in synth.template.to_json()["Outputs"]


def test_replay_table_is_on_demand_with_ttl_encrypted_and_streamless(dpop_synth: Synth) -> None:
    table = dpop_synth.template.to_json()["Resources"][replay_table_id(dpop_synth)]
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": C.DPOP_REPLAY_KEY, "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": C.DPOP_REPLAY_KEY, "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {
        "AttributeName": C.DPOP_REPLAY_EXPIRES_AT,
        "Enabled": True,
    }
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert "StreamSpecification" not in props
    # Short-lived ids only: destroyed with the stack (the construct's docstring says why).
    assert table["DeletionPolicy"] == "Delete"
    assert C.OUTPUT_DPOP_REPLAY_TABLE in dpop_synth.template.to_json()["Outputs"]


def test_authorizer_may_only_put_items_in_exactly_that_table(dpop_synth: Synth) -> None:
    table_id = replay_table_id(dpop_synth)
    statements = dpop_synth.policy_statements(dpop_synth.stack.authorizer.role)
    on_table = [s for s in statements if {"Fn::GetAtt": [table_id, "Arn"]} in resources(s)]
    assert len(on_table) == 1
    assert actions(on_table[0]) == list(DPOP_REPLAY_ACTIONS) == ["dynamodb:PutItem"]
    assert resources(on_table[0]) == [{"Fn::GetAtt": [table_id, "Arn"]}]
    assert on_table[0]["Effect"] == "Allow"
    put_anywhere = [s for s in statements if "dynamodb:PutItem" in actions(s)]
    assert put_anywhere == on_table


def test_authorizer_environment_names_the_table_and_loads(dpop_synth: Synth) -> None:
    props = dpop_synth.resource(dpop_synth.stack.authorizer.function)["Properties"]
    env = props["Environment"]["Variables"]
    assert env[C.ENV_DPOP_REPLAY_TABLE] == {"Ref": replay_table_id(dpop_synth)}
    settings = load_settings({**env, C.ENV_ROLE_TABLE: "roles", C.ENV_DPOP_REPLAY_TABLE: "replay"})
    assert [i.dpop for i in settings.issuers] == ["required"]
    assert settings.dpop_replay_table == "replay"


def test_dpop_only_api_keys_the_cache_on_the_proof_and_caches_nothing(dpop_synth: Synth) -> None:
    dpop_synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "IdentitySource": ",".join([*C.IDENTITY_SOURCES, C.IDENTITY_SOURCE_DPOP]),
            "AuthorizerResultTtlInSeconds": 0,
        },
    )


def test_401_challenges_dpop_with_the_accepted_algorithms(dpop_synth: Synth) -> None:
    algs = " ".join(sorted(dpop_synth.config.issuers[0].dpop_algorithms))
    dpop_synth.template.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse",
        {
            "ResponseType": "UNAUTHORIZED",
            "ResponseParameters": {"gatewayresponse.header.WWW-Authenticate": f"'DPoP algs=\"{algs}\"'"},
        },
    )


def test_dpop_variant_passes_the_aws_solutions_checks(dpop_synth: Synth) -> None:
    report = json.loads((dpop_synth.outdir / "validation-report.json").read_text())
    (plugin,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert [v["ruleName"] for v in plugin["violations"]] == []
    assert dpop_synth.validation_failure is None


# --- config rules (no synth) -------------------------------------------------------------------------


def test_optional_mode_keeps_bearer_identity_sources_and_challenges_both() -> None:
    config = load_config(dpop_context("optional", dpop_algorithms=["ES256", "EdDSA"]))
    # A Bearer request has no DPoP header: as an identity source, API Gateway would refuse it itself.
    assert identity_sources(config) == list(C.IDENTITY_SOURCES)
    assert www_authenticate(config) == "'Bearer, DPoP algs=\"ES256 EdDSA\"'"
    assert config.dpop_enabled and not config.dpop_only


def test_off_keeps_the_bearer_challenge_and_sources() -> None:
    config = load_config(dpop_context("off", ttl=300))
    assert identity_sources(config) == list(C.IDENTITY_SOURCES)
    assert www_authenticate(config) == "'Bearer'"
    assert not config.dpop_enabled


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_dpop_with_a_cached_authorizer_fails_at_synth_naming_the_setting(mode: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(dpop_context(mode, ttl=300))
    assert info.value.setting == "edgeauth.stages.dev.authorizer_cache_ttl"
    assert "must be 0" in str(info.value) and "replayed DPoP proof" in str(info.value)
    assert "issuers[0]" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dpop", "yes", "must be one of off, optional, required"),
        ("dpop_max_age_seconds", 3601, "between 1 and 3600"),
        ("dpop_max_age_seconds", 0, "between 1 and 3600"),
        ("dpop_algorithms", ["HS256"], "asymmetric algorithms only"),
        ("dpop_algorithms", ["none"], "asymmetric algorithms only"),
        ("dpop_algorithms", [], "must not be empty"),
    ],
)
def test_invalid_dpop_setting_fails_at_synth_with_its_name(key: str, value: Any, message: str) -> None:
    context = dpop_context("off", ttl=300)
    context["edgeauth"]["stages"]["dev"]["issuers"][0][key] = value
    with pytest.raises(ConfigError) as info:
        load_config(context)
    assert info.value.setting == f"edgeauth.stages.dev.issuers[0].{key}"
    assert message in str(info.value)
