"""Builds the CDK app: reads the context, validates the settings, creates the stack, adds cdk-nag."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from infra import bundling
from infra import constants as ids
from infra.acknowledgments import acknowledge_findings
from infra.config import StageConfig, load_config
from infra.stack import EdgeAuthStack

CDK_JSON = bundling.REPO_ROOT / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` object of ``cdk.json`` (feature flags and the edgeauth settings)."""
    context = json.loads(path.read_text()).get("context", {})
    if not isinstance(context, dict):
        raise ValueError(f"{path}: 'context' must be an object")
    return context


def create_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    code: lambda_.Code | None = None,
    nag: bool = True,
) -> tuple[App, EdgeAuthStack]:
    """The app with the stack of the stage the context selects (``stage``, default ``dev``).

    ``context`` defaults to ``cdk.json``'s. Context the CDK CLI passes (``-c stage=prod``, and
    ``cdk.json`` itself) overrides it, so ``python app.py`` and ``cdk synth`` build the same app.
    With ``nag`` (the default) cdk-nag's AwsSolutions checks run at synth and an unacknowledged
    finding fails it. Raises :class:`infra.config.ConfigError` for invalid settings, before any
    construct exists.
    """
    app = App(context=dict(cdk_json_context() if context is None else context), outdir=outdir)
    config: StageConfig = load_config(_all_context(app))
    stack = EdgeAuthStack(app, config=config, code=code)
    acknowledge_findings(stack)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def _all_context(app: App) -> dict[str, Any]:
    # The settings are read through the node so that CLI context (-c) wins over cdk.json's.
    return {
        ids.CONTEXT_ROOT: app.node.try_get_context(ids.CONTEXT_ROOT),
        ids.CONTEXT_STAGE: app.node.try_get_context(ids.CONTEXT_STAGE) or ids.DEFAULT_STAGE,
    }
