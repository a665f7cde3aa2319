"""The issuers the authorizer is configured with, as the CLI finds them (``--issuer-name``, explain).

Where from, first found:

1. ``$EDGEAUTH_ISSUERS``: the authorizer's own variable (a JSON list of issuers);
2. ``--stack``: the deployed template (CloudFormation ``GetTemplate``), the ``EDGEAUTH_ISSUERS``
   of the function that has it (the authorizer): exactly what the function runs with.

Either way they are validated by the authorizer's own parser, so a preset is expanded exactly as
at cold start (:func:`edgeauth.core.settings.parse_issuers`).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from edgeauth import constants as C
from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import IssuerSettings, parse_issuers
from edgeauth_cli.context import CliContext, CliError
from edgeauth_cli.table_writer import aws_error_text

EXIT_USAGE = 2


def configured_issuers(ctx: CliContext) -> tuple[IssuerSettings, ...] | None:
    """The configured issuers, or ``None`` when neither source is available."""
    raw = os.environ.get(C.ENV_ISSUERS)
    where = f"${C.ENV_ISSUERS}"
    if not raw:
        if not ctx.stack:
            return None
        raw = _template_issuers(ctx)
        where = f"stack {ctx.stack!r}"
    try:
        return parse_issuers(json.loads(raw))
    except (ValueError, ConfigError) as e:
        raise CliError(f"the issuers of {where} are not valid: {e}") from e


def _template_issuers(ctx: CliContext) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body: Any = ctx.client("cloudformation").get_template(StackName=ctx.stack)["TemplateBody"]
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot read the template of stack {ctx.stack!r}: {aws_error_text(e)}") from e
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as e:
            raise CliError(f"the template of stack {ctx.stack!r} is not JSON") from e
    for resource in (body.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        value = variables.get(C.ENV_ISSUERS)
        if isinstance(value, str):
            return value
    raise CliError(f"stack {ctx.stack!r} has no function with {C.ENV_ISSUERS} (is it an edgeauth stack?)")


def issuer_by_name(ctx: CliContext, name: str) -> IssuerSettings:
    """The configured issuer whose short ``name`` this is (exit 2 when there is none)."""
    issuers = configured_issuers(ctx)
    if issuers is None:
        raise CliError(
            f"--issuer-name needs the configured issuers: pass --stack NAME (read from its template) or "
            f"set ${C.ENV_ISSUERS}; or give the issuer itself with --iss",
            EXIT_USAGE,
        )
    for issuer in issuers:
        if issuer.name == name:
            return issuer
    names = ", ".join(sorted(i.name for i in issuers if i.name)) or "none (no issuer has a 'name')"
    raise CliError(f"no configured issuer is named {name!r}; names: {names}", EXIT_USAGE)


def issuer_for(iss: str, issuers: tuple[IssuerSettings, ...] | None) -> IssuerSettings | None:
    """The configured issuer of a token's ``iss`` (exact match, as the authorizer matches)."""
    return next((i for i in issuers or () if i.issuer == iss), None)


def add_issuer_name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--issuer-name",
        metavar="NAME",
        help="the configured issuer's short name (its 'name', a preset's default: the provider), "
        "instead of --iss; read from --stack's template or $EDGEAUTH_ISSUERS",
    )


def named_issuer(ctx: CliContext, args: argparse.Namespace) -> str | None:
    """The issuer string of ``--issuer-name``, if given (``--iss`` with it is a usage error)."""
    name = getattr(args, "issuer_name", None)
    if not name:
        return None
    if getattr(args, "iss", None):
        raise CliError("give --iss or --issuer-name, not both", EXIT_USAGE)
    return issuer_by_name(ctx, name).issuer
