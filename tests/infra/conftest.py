"""One synth of the app per test session, shared by every infra test (a synth costs seconds and ~0.5 GB).

The app is built from ``cdk.json``'s own context (stage ``dev``), so the tests also prove that the
shipped settings synthesize. Expectations are derived from the loaded :class:`StageConfig`, not
repeated as literals, so editing ``cdk.json`` does not break them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.application import cdk_json_context, create_app
from infra.config import StageConfig
from infra.stack import EdgeAuthStack

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@dataclass
class Synth:
    app: App
    stack: EdgeAuthStack
    template: Template
    outdir: Path
    validation_failure: str | None

    @property
    def config(self) -> StageConfig:
        return self.stack.config

    def logical_id(self, construct: IConstruct) -> str:
        """Logical id of a construct's CloudFormation resource (its default child for an L2)."""
        target = construct.node.default_child or construct
        return Stack.of(construct).get_logical_id(target)  # type: ignore[arg-type]

    def resource(self, construct: IConstruct) -> dict[str, Any]:
        resources: dict[str, dict[str, Any]] = self.template.to_json()["Resources"]
        return resources[self.logical_id(construct)]

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {name: dict(resource) for name, resource in self.template.find_resources(cfn_type).items()}

    def policy_statements(self, role: IConstruct) -> list[dict[str, Any]]:
        """Every statement of every AWS::IAM::Policy attached to ``role`` (and its inline policies)."""
        role_id = self.logical_id(role)
        statements: list[dict[str, Any]] = []
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"].get("Roles", []):
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        for inline in self.resource(role)["Properties"].get("Policies", []):
            statements += inline["PolicyDocument"]["Statement"]
        return statements


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = cdk_json_context()
    context["stage"] = "dev"
    app, stack = create_app(context, outdir=str(outdir), nag=True)
    # cdk-nag runs as a validation plugin: an unacknowledged finding fails the synth after the
    # template is written. Record the failure for test_nag.py and read the template from disk, so
    # that a finding fails that test with its report rather than every test with this fixture.
    try:
        app.synth()
        validation_failure = None
    except RuntimeError as e:  # jsii's wrapper of the CDK's ValidationFailed
        validation_failure = str(e)
    template_json = json.loads((outdir / stack.template_file).read_text())
    yield Synth(
        app=app,
        stack=stack,
        template=Template.from_json(template_json),
        outdir=outdir,
        validation_failure=validation_failure,
    )


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def resources(statement: dict[str, Any]) -> list[Any]:
    value = statement["Resource"]
    return list(value) if isinstance(value, list) else [value]
