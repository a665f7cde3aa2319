"""Lambda SnapStart for the authorizer, an opt-in stage setting (``snapstart``).

One extra synth of the dev stage with ``snapstart: true``; the session synth (``cdk.json`` as shipped)
shows that nothing of it exists by default. SnapStart applies to published versions only, so with
it on, API Gateway must invoke an alias of the current version, never the unpublished function.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template

from edgeauth.core.errors import ConfigError
from infra import bundling
from infra.application import cdk_json_context, create_app
from infra.config import load_config
from infra.constructs.authorizer import SNAPSTART_ALIAS
from tests.infra.conftest import Synth


def snapstart_context(value: Any = True) -> dict[str, Any]:
    context = copy.deepcopy(cdk_json_context())
    context["edgeauth"]["stages"]["dev"]["snapstart"] = value
    context["stage"] = "dev"
    return context


@pytest.fixture(scope="module")
def snap_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out.snapstart")
    # Bundling skipped: the session synth builds (and its tests check) the same asset.
    context = {**snapstart_context(), "aws:cdk:bundling-stacks": []}
    app, stack = create_app(context, outdir=str(outdir), nag=True)
    try:
        app.synth()
        failure = None
    except RuntimeError as e:
        failure = str(e)
    template = json.loads((outdir / stack.template_file).read_text())
    yield Synth(app, stack, Template.from_json(template), outdir, failure)


def authorizer_uri(s: Synth) -> str:
    (authorizer,) = s.resources("AWS::ApiGateway::Authorizer").values()
    return json.dumps(authorizer["Properties"]["AuthorizerUri"])


def test_snapstart_is_off_by_default_and_api_gateway_invokes_the_function(synth: Synth) -> None:
    assert synth.config.snapstart is False
    props = synth.resource(synth.stack.authorizer.function)["Properties"]
    assert "SnapStart" not in props
    assert synth.resources("AWS::Lambda::Alias") == {}
    assert synth.stack.authorizer.handler is synth.stack.authorizer.function
    assert synth.logical_id(synth.stack.authorizer.function) in authorizer_uri(synth)


def test_snapstart_on_applies_to_published_versions_of_the_authorizer_only(snap_synth: Synth) -> None:
    assert snap_synth.validation_failure is None, snap_synth.validation_failure
    authorizer = snap_synth.resource(snap_synth.stack.authorizer.function)["Properties"]
    assert authorizer["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # on the stack's runtime and architecture (Python 3.12+ on arm64 is supported)
    assert authorizer["Runtime"] == bundling.RUNTIME.name == "python3.12"
    assert authorizer["Architectures"] == ["arm64"]
    others = [
        f["Properties"]
        for name, f in snap_synth.resources("AWS::Lambda::Function").items()
        if name != snap_synth.logical_id(snap_synth.stack.authorizer.function)
    ]
    assert others and all("SnapStart" not in f for f in others)


def test_api_gateway_invokes_the_live_alias_of_the_published_version(snap_synth: Synth) -> None:
    function_id = snap_synth.logical_id(snap_synth.stack.authorizer.function)
    (version_id, version), *rest = snap_synth.resources("AWS::Lambda::Version").items()
    assert not rest and version["Properties"]["FunctionName"] == {"Ref": function_id}
    (alias_id, alias), *rest = snap_synth.resources("AWS::Lambda::Alias").items()
    assert not rest
    assert alias["Properties"]["Name"] == SNAPSTART_ALIAS
    assert alias["Properties"]["FunctionName"] == {"Ref": function_id}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    # the authorizer's URI is the alias's ARN, and API Gateway may invoke the alias (not $LATEST)
    uri = authorizer_uri(snap_synth)
    assert alias_id in uri and f'"Fn::GetAtt": ["{function_id}", "Arn"]' not in uri
    invokers = [
        p["Properties"]
        for p in snap_synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert invokers and all(p["FunctionName"] == {"Ref": alias_id} for p in invokers)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_snapstart_must_be_a_boolean(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(snapstart_context(value))
    assert info.value.setting == "edgeauth.stages.dev.snapstart"


def test_the_local_stack_runs_the_aliased_authorizer(snap_synth: Synth) -> None:
    # The local gateway reads the synthesized template: with SnapStart on, the authorizer's URI is
    # the alias's ARN, which must still lead to the authorizer's function.
    from edgeauth_local.template import read_template

    local = read_template(snap_synth.template.to_json(), snap_synth.stack.stack_name)
    (authorizer,) = local.api.authorizers.values()
    assert authorizer.function == snap_synth.logical_id(snap_synth.stack.authorizer.function)
