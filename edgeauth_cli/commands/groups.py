"""``edgeauth groups map|unmap|list``: which roles a group claim value confers.

A group mapping is ``pk = "GROUP#<issuer>"``, ``sk = <claim value>``. A token's group claim value is
never a role name by itself: only a mapping item turns it into roles. Writes are conditional on the
version read (a concurrent edit is a conflict, exit 1).
"""

from __future__ import annotations

import argparse
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import group_key
from edgeauth_cli import render
from edgeauth_cli.commands.subjects import (
    add_roles,
    check_role_names,
    issuer_argument,
    resolved_issuer,
    resolved_optional_issuer,
    role_list,
    subparser,
)
from edgeauth_cli.context import AWS, ISSUER, ROLE_TABLE, CliContext, CliError
from edgeauth_cli.table_writer import Change, content, read_all, read_item, read_prefix, writer_for

_EPILOG = """examples:
  edgeauth groups map contractors reader --iss https://login.example.com/
  edgeauth groups map admins admin teller --iss https://login.example.com/
  edgeauth groups unmap admins teller --iss https://login.example.com/
  edgeauth groups unmap contractors --iss https://login.example.com/ --yes   # the whole mapping
  edgeauth --output json groups list
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "groups",
        help="map group claim values to roles",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(needs=(AWS, ROLE_TABLE))
    sub = parser.add_subparsers(dest="groups_command", metavar="ACTION")
    sub.required = True

    map_ = subparser(
        sub,
        "map",
        "add roles to a group's mapping (creates it)",
        "example:\n  edgeauth groups map admins admin teller --iss https://login.example.com/\n",
    )
    map_.add_argument(
        "group",
        metavar="GROUP",
        help="the group claim value, exactly as in tokens, or '<claim>=<value>' for a mapped claim",
    )
    map_.add_argument("roles", metavar="ROLE", nargs="+", help="role names (must exist)")
    issuer_argument(map_)
    map_.set_defaults(func=cmd_map, needs=(AWS, ROLE_TABLE, ISSUER))

    unmap = subparser(
        sub,
        "unmap",
        "remove roles from a group's mapping (all of it when no ROLE is given)",
        "examples:\n  edgeauth groups unmap admins teller --iss https://login.example.com/\n"
        "  edgeauth groups unmap admins --iss https://login.example.com/ --yes\n",
    )
    unmap.add_argument("group", metavar="GROUP", help="the group claim value")
    unmap.add_argument("roles", metavar="ROLE", nargs="*", help="role names to remove (default: all)")
    unmap.add_argument("--yes", action="store_true", help="remove the whole mapping without asking")
    issuer_argument(unmap)
    unmap.set_defaults(func=cmd_unmap, needs=(AWS, ROLE_TABLE, ISSUER))

    list_ = subparser(
        sub,
        "list",
        "list group mappings (of one issuer with --iss, else of all issuers)",
        "example:\n  edgeauth groups list --iss https://login.example.com/\n",
    )
    issuer_argument(list_)
    list_.set_defaults(func=cmd_list)


def cmd_map(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = resolved_issuer(ctx, args)
    check_role_names(ctx, args.roles)
    _, added, written = add_roles(ctx, group_key(issuer, args.group), args.roles)
    if not written:
        render.note(f"group {args.group!r} already maps to {', '.join(args.roles)}: nothing to do")
    else:
        render.note(f"group {args.group!r} ({issuer}) now also confers {', '.join(added)}")
    return _print_one(ctx, issuer, args.group)


def cmd_unmap(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = resolved_issuer(ctx, args)
    key = group_key(issuer, args.group)
    old = read_item(ctx.client("dynamodb"), ctx.role_table, key)
    if old is None:
        raise CliError(f"group {args.group!r} of {issuer} has no mapping")
    roles = role_list(old)
    if args.roles:
        kept = [r for r in roles if r not in args.roles]
        not_held = [r for r in args.roles if r not in roles]
        if not_held:
            render.note(f"group {args.group!r} does not map to {', '.join(not_held)}")
    else:
        if not render.confirm(f"Remove the whole mapping of group {args.group!r} ({issuer})?", args.yes):
            render.note("nothing written")
            return 1
        kept = []
    change = Change(key, old, {**content(old), C.ATTR_ROLES: kept} if kept else None)
    if change.new is not None and not change.diff():
        return _print_one(ctx, issuer, args.group)
    writer_for(ctx).write([change])
    render.note(
        f"group {args.group!r} ({issuer}): " + (f"now {', '.join(kept)}" if kept else "mapping removed")
    )
    return _print_one(ctx, issuer, args.group)


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = resolved_optional_issuer(ctx, args)
    client = ctx.client("dynamodb")
    if issuer:
        items = read_prefix(client, ctx.role_table, C.GROUP_PK_PREFIX + issuer)
    else:
        items = {
            k: v for k, v in read_all(client, ctx.role_table).items() if k[0].startswith(C.GROUP_PK_PREFIX)
        }
    rows = [_row(k[0][len(C.GROUP_PK_PREFIX) :], k[1], v) for k, v in sorted(items.items())]
    render.emit(ctx.output, rows, columns=["issuer", "group", "roles", "version", "updated_by", "updated_at"])
    return 0


def _row(issuer: str, group: str, item: dict[str, Any] | None) -> dict[str, Any]:
    item = item or {}
    return {
        "issuer": issuer,
        "group": group,
        "roles": item.get(C.ATTR_ROLES, []),
        "version": item.get(C.ATTR_VERSION),
        "updated_by": item.get(C.ATTR_UPDATED_BY),
        "updated_at": item.get(C.ATTR_UPDATED_AT),
    }


def _print_one(ctx: CliContext, issuer: str, group: str) -> int:
    item = read_item(ctx.client("dynamodb"), ctx.role_table, group_key(issuer, group))
    row = _row(issuer, group, item)
    row["exists"] = item is not None
    if ctx.output == "json":
        render.print_json(row)
    else:
        render.print_fields(list(row.items()))
    return 0
