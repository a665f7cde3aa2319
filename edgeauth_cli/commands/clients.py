"""``edgeauth clients add | list | set-tier | remove``: per-client throttling with usage plans.

``add`` creates an API key with a generated value in API Gateway, attaches it to the tier's usage
plan and records the client item (``pk = "CLIENT#<issuer>"``, ``sk = <client id>``, with ``tier``,
``usage_key`` = the key's value and ``usage_key_id``). The authorizer returns ``usage_key`` as
``usageIdentifierKey`` for tokens of that client (API key source AUTHORIZER): clients never send it,
it is a throttling identifier, not a credential; so two clients of one tier are throttled apart.
Clients without an item fall in the default tier.

The tier's usage plan is the stack output ``UsagePlan<Tier>`` (tier in PascalCase) with ``--stack``,
else the usage plan named like the tier (``gold``, or ``…-gold``), or ``--usage-plan-id``.

Failures are compensated: a key whose plan attachment or item write fails is deleted again; a
set-tier whose item write conflicts moves the key back.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import client_key
from edgeauth_cli import render
from edgeauth_cli.commands.subjects import add_issuer_argument, issuer_of, optional_issuer, subparser
from edgeauth_cli.context import AWS, ISSUER, ROLE_TABLE, CliContext, CliError
from edgeauth_cli.table_writer import (
    Change,
    aws_error_text,
    content,
    read_all,
    read_item,
    read_prefix,
    writer_for,
)

_TIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
EXIT_USAGE = 2

_EPILOG = """examples:
  edgeauth --stack EdgeAuth-dev clients add mobile-app --tier partner --iss https://login.example.com/
  edgeauth --stack EdgeAuth-dev clients set-tier mobile-app standard --iss https://login.example.com/
  edgeauth --output json clients list
  edgeauth --stack EdgeAuth-dev clients remove mobile-app --iss https://login.example.com/ --yes
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "clients",
        help="give clients their own API key in a tier's usage plan",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(needs=(AWS, ROLE_TABLE))
    sub = parser.add_subparsers(dest="clients_command", metavar="ACTION")
    sub.required = True

    add = subparser(
        sub,
        "add",
        "create the client's API key in the tier's usage plan and record it",
        "example:\n  edgeauth --stack EdgeAuth-dev clients add mobile-app --tier partner --iss https://login.example.com/\n",
    )
    add.add_argument("client", metavar="CLIENT", help="client id, as in the token's client claim")
    add.add_argument("--tier", required=True, help="usage tier (e.g. standard, partner)")
    add.add_argument("--usage-plan-id", help="use this usage plan instead of finding the tier's")
    add_issuer_argument(add)
    add.set_defaults(func=cmd_add, needs=(AWS, ROLE_TABLE, ISSUER))

    list_ = subparser(
        sub, "list", "list clients", "example:\n  edgeauth clients list --iss https://login.example.com/\n"
    )
    add_issuer_argument(list_)
    list_.set_defaults(func=cmd_list)

    set_tier = subparser(
        sub,
        "set-tier",
        "move the client's API key to another tier's usage plan",
        "example:\n  edgeauth --stack EdgeAuth-dev clients set-tier mobile-app standard --iss https://login.example.com/\n",
    )
    set_tier.add_argument("client", metavar="CLIENT")
    set_tier.add_argument("tier", metavar="TIER")
    set_tier.add_argument("--usage-plan-id", help="use this usage plan instead of finding the tier's")
    add_issuer_argument(set_tier)
    set_tier.set_defaults(func=cmd_set_tier, needs=(AWS, ROLE_TABLE, ISSUER))

    remove = subparser(
        sub,
        "remove",
        "delete the client's item and API key (it falls back to the default tier)",
        "example:\n  edgeauth --stack EdgeAuth-dev clients remove mobile-app --iss https://login.example.com/ --yes\n",
    )
    remove.add_argument("client", metavar="CLIENT")
    remove.add_argument("--yes", "-y", action="store_true", help="remove without asking")
    add_issuer_argument(remove)
    remove.set_defaults(func=cmd_remove, needs=(AWS, ROLE_TABLE, ISSUER))


def pascal(tier: str) -> str:
    """``gold`` → ``Gold``, ``free-tier`` → ``FreeTier`` (the stack output suffix)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", tier) if part)


def _check_tier(tier: str) -> None:
    if not _TIER.fullmatch(tier):
        raise CliError(f"invalid tier {tier!r}: letters, digits, '-' and '_' (at most 64)", EXIT_USAGE)


def usage_plan_for(ctx: CliContext, tier: str, explicit: str | None = None) -> str:
    """The usage plan id of a tier: ``--usage-plan-id``, stack output, or the plan named like it."""
    if explicit:
        return explicit
    if ctx.stack:
        plan = ctx.stack_outputs().get(C.OUTPUT_USAGE_PLAN_PREFIX + pascal(tier))
        if plan:
            return plan
    from botocore.exceptions import BotoCoreError, ClientError

    plans: list[dict[str, Any]] = []
    try:
        for page in ctx.client("apigateway").get_paginator("get_usage_plans").paginate():
            plans.extend(page.get("items", []))
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot list usage plans: {aws_error_text(e)}") from e
    wanted = tier.lower()
    exact = [p for p in plans if str(p.get("name", "")).lower() == wanted]
    suffixed = [p for p in plans if re.search(rf"[-_.]{re.escape(wanted)}$", str(p.get("name", "")).lower())]
    found = exact or suffixed
    if len(found) == 1:
        return str(found[0]["id"])
    if not found:
        raise CliError(
            f"no usage plan for tier {tier!r} (no stack output {C.OUTPUT_USAGE_PLAN_PREFIX}{pascal(tier)}, "
            "no plan named like it); pass --usage-plan-id"
        )
    names = ", ".join(f"{p.get('name')} ({p.get('id')})" for p in found)
    raise CliError(f"several usage plans match tier {tier!r}: {names}; pass --usage-plan-id")


def cmd_add(ctx: CliContext, args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    issuer = issuer_of(args)
    _check_tier(args.tier)
    key = client_key(issuer, args.client)
    table = ctx.client("dynamodb")
    old = read_item(table, ctx.role_table, key)
    if old is not None:
        raise CliError(
            f"client {args.client!r} of {issuer} already exists (tier {old.get(C.ATTR_TIER)}); use set-tier"
        )
    plan_id = usage_plan_for(ctx, args.tier, args.usage_plan_id)
    writer = writer_for(ctx)
    gateway = ctx.client("apigateway")
    value = secrets.token_hex(24)
    try:
        created = gateway.create_api_key(
            name=f"edgeauth-{args.client}"[:1024],
            description=f"edgeauth client {args.client} of {issuer} (tier {args.tier})"[:1024],
            enabled=True,
            value=value,
        )
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot create the API key: {aws_error_text(e)}") from e
    key_id = str(created["id"])
    try:
        gateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
        writer.write(
            [
                Change(
                    key, None, {C.ATTR_TIER: args.tier, C.ATTR_USAGE_KEY: value, C.ATTR_USAGE_KEY_ID: key_id}
                )
            ]
        )
    except (ClientError, BotoCoreError, CliError) as e:
        _delete_key(gateway, key_id)
        if isinstance(e, CliError):
            raise
        raise CliError(f"cannot attach the API key to usage plan {plan_id}: {aws_error_text(e)}") from e
    render.note(f"client {args.client!r} ({issuer}) added to tier {args.tier!r} (usage plan {plan_id})")
    _print(
        ctx,
        {
            "issuer": issuer,
            "client": args.client,
            "tier": args.tier,
            "usage_key_id": key_id,
            "usage_plan_id": plan_id,
        },
    )
    return 0


def _delete_key(gateway: Any, key_id: str) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        gateway.delete_api_key(apiKey=key_id)
        return None
    except (ClientError, BotoCoreError) as e:
        text = aws_error_text(e)
        render.note(f"warning: could not delete API key {key_id}: {text}; delete it by hand")
        return text


def _rows(items: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "issuer": pk[len(C.CLIENT_PK_PREFIX) :],
            "client": sk,
            "tier": item.get(C.ATTR_TIER),
            "usage_key_id": item.get(C.ATTR_USAGE_KEY_ID),
            "version": item.get(C.ATTR_VERSION),
            "updated_by": item.get(C.ATTR_UPDATED_BY),
            "updated_at": item.get(C.ATTR_UPDATED_AT),
        }
        for (pk, sk), item in sorted(items.items())
    ]


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = optional_issuer(args)
    table = ctx.client("dynamodb")
    if issuer:
        items = read_prefix(table, ctx.role_table, C.CLIENT_PK_PREFIX + issuer)
    else:
        items = {
            k: v for k, v in read_all(table, ctx.role_table).items() if k[0].startswith(C.CLIENT_PK_PREFIX)
        }
    render.emit(
        ctx.output,
        _rows(items),
        columns=["issuer", "client", "tier", "usage_key_id", "version", "updated_by"],
    )
    return 0


def cmd_set_tier(ctx: CliContext, args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    issuer = issuer_of(args)
    _check_tier(args.tier)
    key = client_key(issuer, args.client)
    old = read_item(ctx.client("dynamodb"), ctx.role_table, key)
    if old is None:
        raise CliError(f"no client {args.client!r} of {issuer}; add it with 'edgeauth clients add'")
    key_id = old.get(C.ATTR_USAGE_KEY_ID)
    if not isinstance(key_id, str) or not key_id:
        raise CliError(f"client {args.client!r} has no usage_key_id: remove it and add it again")
    new_plan = usage_plan_for(ctx, args.tier, args.usage_plan_id)
    writer = writer_for(ctx)
    gateway = ctx.client("apigateway")
    try:
        current = [str(p["id"]) for p in gateway.get_usage_plans(keyId=key_id).get("items", [])]
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot read the usage plans of key {key_id}: {aws_error_text(e)}") from e
    moved: list[str] = []
    try:
        # Detach first: API Gateway refuses a key in two plans of the same stage.
        for plan in current:
            if plan != new_plan:
                gateway.delete_usage_plan_key(usagePlanId=plan, keyId=key_id)
                moved.append(plan)
        if new_plan not in current:
            gateway.create_usage_plan_key(usagePlanId=new_plan, keyId=key_id, keyType="API_KEY")
    except (ClientError, BotoCoreError) as e:
        _move_back(gateway, key_id, moved, new_plan if new_plan not in current else None)
        raise CliError(f"cannot move key {key_id} to usage plan {new_plan}: {aws_error_text(e)}") from e
    try:
        writer.write([Change(key, old, {**content(old), C.ATTR_TIER: args.tier})])
    except CliError:
        _move_back(gateway, key_id, moved, new_plan if new_plan not in current else None)
        raise
    render.note(f"client {args.client!r} ({issuer}) moved to tier {args.tier!r} (usage plan {new_plan})")
    _print(
        ctx,
        {
            "issuer": issuer,
            "client": args.client,
            "tier": args.tier,
            "usage_key_id": key_id,
            "usage_plan_id": new_plan,
        },
    )
    return 0


def _move_back(gateway: Any, key_id: str, plans: list[str], attached: str | None) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if attached:
            with contextlib.suppress(ClientError):  # it may never have been attached
                gateway.delete_usage_plan_key(usagePlanId=attached, keyId=key_id)
        for plan in plans:
            gateway.create_usage_plan_key(usagePlanId=plan, keyId=key_id, keyType="API_KEY")
    except (ClientError, BotoCoreError) as e:
        render.note(
            f"warning: could not put key {key_id} back in usage plan(s) {', '.join(plans)}: {aws_error_text(e)}"
        )


def cmd_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = issuer_of(args)
    key = client_key(issuer, args.client)
    old = read_item(ctx.client("dynamodb"), ctx.role_table, key)
    if old is None:
        raise CliError(f"no client {args.client!r} of {issuer}")
    if not render.confirm(f"Remove client {args.client!r} ({issuer}) and its API key?", args.yes):
        render.note("nothing written")
        return 1
    # The item first: from then on the authorizer answers with the default tier's key, so deleting
    # the client's key cannot leave it answering with a key that no longer exists.
    writer_for(ctx).write([Change(key, old, None)])
    key_id = old.get(C.ATTR_USAGE_KEY_ID)
    error = _delete_key(ctx.client("apigateway"), key_id) if isinstance(key_id, str) and key_id else None
    _print(
        ctx,
        {
            "issuer": issuer,
            "client": args.client,
            "removed": True,
            "usage_key_id": key_id,
            "key_deleted": error is None,
        },
    )
    if error is not None:
        raise CliError(f"client item removed, but API key {key_id} was not deleted: {error}")
    return 0


def _print(ctx: CliContext, data: dict[str, Any]) -> None:
    if ctx.output == "json":
        render.print_json(data)
    else:
        render.print_fields(list(data.items()))
