"""``edgeauth subjects grant|revoke|show``: the roles granted to one subject (``sub``) of an issuer.

The subject item is ``pk = "SUBJECT#<issuer>"``, ``sk = <sub>``. ``grant`` and ``revoke`` are
read-modify-write with a conditional write on the version read, so two people granting at once never
lose an edit: the second gets a conflict (exit 1) and re-runs. ``revoke`` removes roles; to make a
subject's existing tokens invalid use ``edgeauth revoke --sub`` instead.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import RoleStore, role_key, subject_key
from edgeauth.core.roles import parse_role_names, role_references
from edgeauth_cli import render
from edgeauth_cli.context import (
    AWS,
    ENV_ISSUER,
    ISSUER,
    ISSUER_SETTING,
    ROLE_TABLE,
    CliContext,
    CliError,
    MissingSettingsError,
)
from edgeauth_cli.issuers import add_issuer_name_argument, named_issuer
from edgeauth_cli.table_writer import Change, content, read_item, writer_for

EXIT_INVALID = 3

_EPILOG = """examples:
  edgeauth subjects grant user-123 reader teller --iss https://login.example.com/
  EDGEAUTH_ISSUER=https://login.example.com/ edgeauth subjects revoke user-123 teller
  edgeauth --output json subjects show user-123 --iss https://login.example.com/
"""


def add_issuer_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--iss",
        metavar="ISSUER",
        help=f"token issuer exactly as in the 'iss' claim (default: ${ENV_ISSUER})",
    )


def optional_issuer(args: argparse.Namespace) -> str | None:
    """``--iss`` or ``$EDGEAUTH_ISSUER``, if either is set."""
    issuer: str | None = getattr(args, "iss", None) or os.environ.get(ENV_ISSUER) or None
    return issuer


def issuer_of(args: argparse.Namespace) -> str:
    """``--iss`` or ``$EDGEAUTH_ISSUER``; a usage error (exit 2) when neither is set."""
    issuer = optional_issuer(args)
    if issuer is None:
        raise MissingSettingsError([ISSUER_SETTING])
    return issuer


def issuer_argument(parser: argparse.ArgumentParser) -> None:
    """``--iss`` and ``--issuer-name`` (resolved by :func:`resolved_issuer`)."""
    add_issuer_argument(parser)
    add_issuer_name_argument(parser)


def resolved_issuer(ctx: CliContext, args: argparse.Namespace) -> str:
    """``--issuer-name`` resolved to its issuer, else :func:`issuer_of`."""
    return named_issuer(ctx, args) or issuer_of(args)


def resolved_optional_issuer(ctx: CliContext, args: argparse.Namespace) -> str | None:
    """``--issuer-name`` resolved to its issuer, else :func:`optional_issuer`."""
    return named_issuer(ctx, args) or optional_issuer(args)


def subparser(
    group: Any, name: str, help_text: str, epilog: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A sub-command parser that keeps the examples' layout in ``--help``."""
    parser: argparse.ArgumentParser = group.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def missing_roles(ctx: CliContext, names: list[str]) -> list[str]:
    """The names among ``names`` that have no role item."""
    client = ctx.client("dynamodb")
    return [n for n in names if read_item(client, ctx.role_table, role_key(n)) is None]


def check_role_names(ctx: CliContext, names: list[str]) -> None:
    """Refuse invalid or missing role names (exit 3): a grant of a missing role grants nothing and
    hides a typo."""
    _, bad = parse_role_names(names)
    if bad:
        raise CliError("; ".join(bad), EXIT_INVALID)
    missing = missing_roles(ctx, names)
    if missing:
        raise CliError(
            f"no such role: {', '.join(missing)} (create it with 'edgeauth roles apply')", EXIT_INVALID
        )


def role_list(item: dict[str, Any] | None) -> list[str]:
    """The role names of a subject or group item as the authorizer follows them, kept on rewrite.

    An entry that is not a valid role name (an old ``a,b`` from before commas were refused) is
    kept too when a role item could have it: the authorizer still applies that role's denies, so
    dropping it on an unrelated edit could widen access. Only ``revoke``/``unmap`` naming it
    removes it. Entries that cannot name any item (not strings) are dropped."""
    if item is None:
        return []
    names, _ = role_references(item.get(C.ATTR_ROLES))
    return list(names)


def add_roles(
    ctx: CliContext, key: tuple[str, str], names: list[str]
) -> tuple[dict[str, Any] | None, list[str], bool]:
    """Append ``names`` to the role list of the subject or group item at ``key`` (created if
    absent); every entry already there that names a role stays (:func:`role_list`). Returns the item as it was, the
    names actually added, and whether anything was written (nothing is when nothing changes)."""
    old = read_item(ctx.client("dynamodb"), ctx.role_table, key)
    roles = role_list(old)
    added = [r for r in dict.fromkeys(names) if r not in roles]
    if not added and old is not None and roles == old.get(C.ATTR_ROLES):
        return old, added, False
    writer_for(ctx).write([Change(key, old, {**content(old), C.ATTR_ROLES: roles + added})])
    return old, added, True


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "subjects",
        help="grant roles to a subject, take them away, show them",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(needs=(AWS, ROLE_TABLE, ISSUER))
    sub = parser.add_subparsers(dest="subjects_command", metavar="ACTION")
    sub.required = True

    grant = subparser(
        sub,
        "grant",
        "grant roles to a subject",
        "example:\n  edgeauth subjects grant user-123 reader --iss https://login.example.com/\n",
    )
    grant.add_argument("sub", metavar="SUB", help="the token's 'sub' claim")
    grant.add_argument("roles", metavar="ROLE", nargs="+", help="role names (must exist)")
    issuer_argument(grant)
    grant.set_defaults(func=cmd_grant)

    revoke = subparser(
        sub,
        "revoke",
        "remove roles from a subject (to invalidate its tokens, use 'edgeauth revoke')",
        "example:\n  edgeauth subjects revoke user-123 teller --iss https://login.example.com/\n",
    )
    revoke.add_argument("sub", metavar="SUB", help="the token's 'sub' claim")
    revoke.add_argument("roles", metavar="ROLE", nargs="+", help="role names to remove")
    issuer_argument(revoke)
    revoke.set_defaults(func=cmd_revoke)

    show = subparser(
        sub,
        "show",
        "show a subject's roles, where each comes from, and its not-before time",
        "example:\n  edgeauth subjects show user-123 --iss https://login.example.com/ --groups admins\n",
    )
    show.add_argument("sub", metavar="SUB", help="the token's 'sub' claim")
    show.add_argument(
        "--groups", nargs="*", default=[], metavar="GROUP", help="group claim values to include"
    )
    issuer_argument(show)
    show.set_defaults(func=cmd_show)


def cmd_grant(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = resolved_issuer(ctx, args)
    check_role_names(ctx, args.roles)
    key = subject_key(issuer, args.sub)
    old, added, written = add_roles(ctx, key, args.roles)
    if not written:
        render.note(f"subject {args.sub!r} already holds {', '.join(args.roles)}: nothing to do")
        return _print_subject(ctx, issuer, args.sub, old)
    render.note(f"granted {', '.join(added) or '(none new)'} to {args.sub!r} ({issuer})")
    return _print_subject(ctx, issuer, args.sub, read_item(ctx.client("dynamodb"), ctx.role_table, key))


def cmd_revoke(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = resolved_issuer(ctx, args)
    key = subject_key(issuer, args.sub)
    old = read_item(ctx.client("dynamodb"), ctx.role_table, key)
    if old is None:
        raise CliError(f"subject {args.sub!r} of {issuer} has no item: no roles to remove")
    roles = role_list(old)
    not_held = [r for r in args.roles if r not in roles]
    if not_held:
        render.note(f"subject {args.sub!r} does not hold {', '.join(not_held)}")
    kept = [r for r in roles if r not in args.roles]
    if kept == roles and roles == old.get(C.ATTR_ROLES):
        return _print_subject(ctx, issuer, args.sub, old)
    if not kept and C.ATTR_NOT_BEFORE not in old:
        change = Change(key, old, None)  # nothing left worth keeping
    else:
        # Keep the item when it carries a not-before time: deleting it would un-revoke old tokens.
        change = Change(key, old, {**content(old), C.ATTR_ROLES: kept})
    writer_for(ctx).write([change])
    render.note(f"removed {', '.join(r for r in args.roles if r in roles) or '(none)'} from {args.sub!r}")
    return _print_subject(ctx, issuer, args.sub, read_item(ctx.client("dynamodb"), ctx.role_table, key))


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = resolved_issuer(ctx, args)
    item = read_item(ctx.client("dynamodb"), ctx.role_table, subject_key(issuer, args.sub))
    store = RoleStore(ctx.role_table, ctx.client("dynamodb"), cache_ttl=0)
    grants, _ = store.grants(issuer, args.sub, tuple(sorted(set(args.groups))))
    effective = [
        {
            "role": s.role,
            "source": s.source,
            "grants": s.role in grants.effective.granting,
        }
        for s in grants.effective.sources
    ]
    data = _subject_data(issuer, args.sub, item)
    data["effective_roles"] = effective
    data["problems"] = grants.problems
    if ctx.output == "json":
        render.print_json(data)
    else:
        _print_fields(data)
        print()
        render.print_table(effective, ["role", "source", "grants"], empty="(no roles)")
        for p in grants.problems:
            print(f"problem: {p}")
    return 0 if item is not None or effective else 1


def _subject_data(issuer: str, sub: str, item: dict[str, Any] | None) -> dict[str, Any]:
    item = item or {}
    return {
        "issuer": issuer,
        "sub": sub,
        "exists": bool(item),
        "roles": item.get(C.ATTR_ROLES, []),
        "not_before": item.get(C.ATTR_NOT_BEFORE),
        "version": item.get(C.ATTR_VERSION),
        "updated_by": item.get(C.ATTR_UPDATED_BY),
        "updated_at": item.get(C.ATTR_UPDATED_AT),
    }


def _print_fields(data: dict[str, Any]) -> None:
    render.print_fields([(k, v) for k, v in data.items() if k not in ("effective_roles", "problems")])


def _print_subject(ctx: CliContext, issuer: str, sub: str, item: dict[str, Any] | None) -> int:
    data = _subject_data(issuer, sub, item)
    if ctx.output == "json":
        render.print_json(data)
    else:
        _print_fields(data)
    return 0
