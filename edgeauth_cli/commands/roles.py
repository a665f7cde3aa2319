"""``edgeauth roles list | show | apply | export | delete | lint``.

``apply`` is declarative: it reads the file and the table, validates everything first (exit 3 and
nothing written when any problem is found, each reported with its place in the file), prints the
difference, and writes only that difference, with confirmation (a prompt on a terminal) or ``--yes``.
Every write is conditional on the version it read (see :mod:`edgeauth_cli.table_writer`): if someone
else edits an item in between, apply stops with a conflict (exit 1) and writes nothing of its batch.

What the file manages: the roles (if it has a ``roles`` section), and the subjects and group mappings
of each issuer it lists. ``--prune`` deletes items of those kinds that the file no longer names, with
one exception: a subject item carrying a ``not_before`` time (a revocation) keeps existing with no
roles, because deleting it would make the subject's revoked tokens valid again.

On subject and group items ``apply`` sets ``roles`` and keeps every other attribute (``not_before``).
On role items it writes the whole definition, so attributes the role model does not know (which make
a role malformed, granting nothing) are removed, and the diff shows it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import Key, group_key, role_key, subject_key
from edgeauth.core.roles import ROLE_ITEM_ATTRS, parse_role_item, parse_role_names
from edgeauth_cli import render
from edgeauth_cli.commands.subjects import subparser
from edgeauth_cli.context import AWS, ROLE_TABLE, CliContext, CliError
from edgeauth_cli.rolefile import (
    Problem,
    RoleFile,
    check_references,
    dump,
    find_cycles,
    load_document,
    parse_role_file,
    read_text,
)
from edgeauth_cli.table_writer import (
    Change,
    content,
    content_diff,
    item_kind,
    item_label,
    read_all,
    writer_for,
)

EXIT_INVALID = 3
EXIT_USAGE = 2

_EPILOG = """examples:
  edgeauth --stack EdgeAuth-dev roles list
  edgeauth roles show reader
  edgeauth roles export > roles.yaml                 # edit, then:
  edgeauth roles apply roles.yaml --dry-run          # validate and show the diff, write nothing
  edgeauth roles apply roles.yaml                    # asks before writing (on a terminal)
  edgeauth roles apply roles.yaml --yes --prune      # CI: write, and delete what the file no longer names
  edgeauth roles lint                                # check items written by hand in the console
  edgeauth roles delete legacy-admin
"""

_FILE_FORMAT = """file format (YAML or JSON; every section optional):
  roles:
    reader:
      description: Read accounts
      allow: ["GET /accounts", "GET /accounts/{id}"]
      deny: ["DELETE /accounts/{id+}"]
      inherit: []
      disabled: false
  subjects:
    https://login.example.com/:
      user-123: [reader]
  groups:
    https://login.example.com/:
      admins: [admin]

  A permission is "METHOD /resource/template" in API Gateway's notation: {name} is one path segment,
  a final {name+} one or more; METHOD is GET POST PUT PATCH DELETE HEAD OPTIONS or *.
"""

ROLE_DEFAULTS: dict[str, Any] = {
    C.ATTR_ALLOW: [],
    C.ATTR_DENY: [],
    C.ATTR_INHERIT: [],
    C.ATTR_DISABLED: False,
}
_STAMPS = (C.ATTR_VERSION, C.ATTR_UPDATED_BY, C.ATTR_UPDATED_AT)
ITEM_ATTRS: dict[str, frozenset[str]] = {
    "role": ROLE_ITEM_ATTRS,
    "subject": frozenset(
        {C.TABLE_PARTITION_KEY, C.TABLE_SORT_KEY, C.ATTR_ROLES, C.ATTR_NOT_BEFORE, *_STAMPS}
    ),
    "group": frozenset({C.TABLE_PARTITION_KEY, C.TABLE_SORT_KEY, C.ATTR_ROLES, *_STAMPS}),
    "client": frozenset(
        {
            C.TABLE_PARTITION_KEY,
            C.TABLE_SORT_KEY,
            C.ATTR_TIER,
            C.ATTR_USAGE_KEY,
            C.ATTR_USAGE_KEY_ID,
            *_STAMPS,
        }
    ),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "roles",
        help="list, show, apply (from a file), export, delete and lint roles",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(needs=(AWS, ROLE_TABLE))
    sub = parser.add_subparsers(dest="roles_command", metavar="ACTION")
    sub.required = True

    list_ = subparser(
        sub, "list", "list roles", "example:\n  edgeauth --output json roles list | jq '.[].name'\n"
    )
    list_.set_defaults(func=cmd_list)

    show = subparser(
        sub,
        "show",
        "show one role: permissions, parents, who holds it, problems",
        "example:\n  edgeauth roles show reader\n",
    )
    show.add_argument("name", metavar="NAME")
    show.set_defaults(func=cmd_show)

    apply = subparser(
        sub,
        "apply",
        "validate a role file, show the diff, and write it",
        _FILE_FORMAT
        + "\nexamples:\n  edgeauth roles apply roles.yaml --dry-run\n  edgeauth roles apply roles.yaml --yes --prune\n"
        "\nexit codes: 0 applied (or nothing to do, or --dry-run); 1 conflict or AWS error;\n"
        "  2 not confirmed in a script (pass --yes); 3 the file has problems (nothing written)\n",
    )
    apply.add_argument("file", metavar="FILE", help="YAML or JSON role file ('-' reads stdin)")
    apply.add_argument("--dry-run", action="store_true", help="validate and print the diff; write nothing")
    apply.add_argument("--yes", "-y", action="store_true", help="write without asking")
    apply.add_argument(
        "--prune",
        action="store_true",
        help="delete roles, and subjects/groups of the file's issuers, that the file no longer names",
    )
    apply.set_defaults(func=cmd_apply)

    export = subparser(
        sub,
        "export",
        "write the table's roles, subjects and group mappings as a file that apply accepts",
        "examples:\n  edgeauth roles export > roles.yaml\n  edgeauth roles export --format json --file roles.json\n",
    )
    export.add_argument("--format", choices=("yaml", "json"), default="yaml", help="default: yaml")
    export.add_argument("--file", metavar="PATH", help="write to PATH instead of stdout")
    export.set_defaults(func=cmd_export)

    delete = subparser(
        sub,
        "delete",
        "delete one role (refused while anything still names it, unless --force)",
        "examples:\n  edgeauth roles delete legacy-admin\n  edgeauth roles delete legacy-admin --yes --force\n",
    )
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    delete.add_argument(
        "--force", action="store_true", help="delete even if roles inherit it or subjects/groups name it"
    )
    delete.set_defaults(func=cmd_delete)

    lint = subparser(
        sub,
        "lint",
        "check every item of the table (e.g. written by hand) and report problems",
        "Problems found: malformed role items (bad permissions, wrong types, unknown attributes),\n"
        "inheritance of missing roles, cycles, subjects and groups naming missing roles, malformed\n"
        "client items and items the authorizer does not recognise. The authorizer never widens access\n"
        "because of them (a malformed role grants nothing), but they usually refuse what was meant.\n"
        "\nexample:\n  edgeauth roles lint || echo 'fix the items above'\n"
        "\nexit codes: 0 clean; 3 problems found; 1 the table could not be read\n",
    )
    lint.set_defaults(func=cmd_lint)


# --- reading -------------------------------------------------------------------------------------------


def role_items(items: Mapping[Key, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        k[0][len(C.ROLE_PK_PREFIX) :]: v
        for k, v in items.items()
        if k[0].startswith(C.ROLE_PK_PREFIX) and k[1] == C.ROLE_SK
    }


def _raw_list(value: Any) -> Any:
    """As stored, sets sorted (export keeps malformed values so that apply reports them)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return value if value is not None else []


def _issuer_entries(items: Mapping[Key, dict[str, Any]], prefix: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (pk, sk), item in items.items():
        if pk.startswith(prefix):
            out.setdefault(pk[len(prefix) :], {})[sk] = _raw_list(item.get(C.ATTR_ROLES))
    return out


# --- list / show -------------------------------------------------------------------------------------


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    items = read_all(ctx.client("dynamodb"), ctx.role_table)
    rows: list[dict[str, Any]] = []
    for name, item in sorted(role_items(items).items()):
        role = parse_role_item(name, item)
        rows.append(
            {
                "name": name,
                "description": item.get(C.ATTR_DESCRIPTION),
                "allow": [p.text for p in role.allow],
                "deny": [p.text for p in role.deny],
                "inherit": list(role.inherit),
                "disabled": role.disabled,
                "problems": list(role.problems),
                "version": item.get(C.ATTR_VERSION),
                "updated_by": item.get(C.ATTR_UPDATED_BY),
                "updated_at": item.get(C.ATTR_UPDATED_AT),
            }
        )
    if ctx.output == "json":
        render.print_json(rows)
    else:
        table = [
            {
                **r,
                "allow": len(r["allow"]),
                "deny": len(r["deny"]),
                "problems": len(r["problems"]) or "-",
            }
            for r in rows
        ]
        render.print_table(
            table, ["name", "allow", "deny", "inherit", "disabled", "problems", "version", "updated_by"]
        )
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    items = read_all(ctx.client("dynamodb"), ctx.role_table)
    roles = role_items(items)
    item = roles.get(args.name)
    if item is None:
        raise CliError(f"no role {args.name!r}")
    role = parse_role_item(args.name, item)
    holders = [
        item_label(k)
        for k, v in sorted(items.items())
        if item_kind(k) in ("subject", "group") and args.name in parse_role_names(v.get(C.ATTR_ROLES))[0]
    ]
    children = sorted(n for n, v in roles.items() if args.name in parse_role_item(n, v).inherit)
    data = {
        "name": args.name,
        "description": item.get(C.ATTR_DESCRIPTION),
        "allow": _raw_list(item.get(C.ATTR_ALLOW)),
        "deny": _raw_list(item.get(C.ATTR_DENY)),
        "inherit": _raw_list(item.get(C.ATTR_INHERIT)),
        "disabled": item.get(C.ATTR_DISABLED, False),
        "inherited_by": children,
        "held_by": holders,
        "problems": list(role.problems),
        "grants": role.grants,
        "version": item.get(C.ATTR_VERSION),
        "updated_by": item.get(C.ATTR_UPDATED_BY),
        "updated_at": item.get(C.ATTR_UPDATED_AT),
    }
    if ctx.output == "json":
        render.print_json(data)
        return 0
    render.print_fields([(k, v) for k, v in data.items() if k not in ("allow", "deny", "problems")])
    for attr in ("allow", "deny"):
        values = data[attr]
        print(f"{attr}:")
        for v in values if isinstance(values, list) else [values]:
            print(f"  {v}")
    for p in role.problems:
        print(f"problem: {p}")
    return 0


# --- apply -----------------------------------------------------------------------------------------------


def plan(rolefile: RoleFile, items: Mapping[Key, dict[str, Any]], prune: bool) -> list[Change]:
    """The changes that make the table say what the file says (roles first, deletions last)."""
    writes: list[Change] = []
    deletes: list[Change] = []
    if rolefile.roles is not None:
        for name, spec in rolefile.roles.items():
            key = role_key(name)
            _add(writes, key, items.get(key), spec.content(), ROLE_DEFAULTS)
        if prune:
            for name, item in sorted(role_items(items).items()):
                if name not in rolefile.roles:
                    deletes.append(Change(role_key(name), item, None))
    for section, assignments, make_key, prefix in (
        ("subjects", rolefile.subjects, subject_key, C.SUBJECT_PK_PREFIX),
        ("groups", rolefile.groups, group_key, C.GROUP_PK_PREFIX),
    ):
        if assignments is None:
            continue
        for issuer, entries in assignments.items():
            for name, roles in entries.items():
                key = make_key(issuer, name)
                old = items.get(key)
                _add(writes, key, old, {**content(old), C.ATTR_ROLES: list(roles)})
            if not prune:
                continue
            for key, item in sorted(items.items()):
                if key[0] != prefix + issuer or key[1] in entries:
                    continue
                if section == "subjects" and C.ATTR_NOT_BEFORE in item:
                    _add(writes, key, item, {**content(item), C.ATTR_ROLES: []})
                else:
                    deletes.append(Change(key, item, None))
    return writes + deletes


def _add(
    changes: list[Change],
    key: Key,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add a change unless the item already says ``new`` (an absent attribute counts as its default,
    so a hand-written role without ``deny`` is not rewritten just to add ``deny: []``)."""
    if old is None or content_diff({**(defaults or {}), **old}, new):
        changes.append(Change(key, old, new))


def _fmt(value: Any) -> str:
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(repr(v) for v in sorted(value, key=str)) + "} (string set)"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(absent)"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def describe(change: Change) -> list[str]:
    """Human-readable diff lines for one change."""
    version = f" (version {change.old_version})" if change.old_version is not None else ""
    sign = {"create": "+", "update": "~", "delete": "-"}[change.action]
    lines = [f"{sign} {change.label}{'' if change.action == 'create' else version}"]
    if change.action == "delete":
        return lines
    for attr, (old, new) in change.diff().items():
        if isinstance(old, list | set | frozenset | type(None)) and isinstance(new, list) and old is not None:
            old_list = list(old)
            added = [v for v in new if v not in old_list]
            removed = [v for v in old_list if v not in new]
            if (added or removed) and not isinstance(old, set | frozenset):
                parts = [f'+ "{v}"' for v in added] + [f'- "{v}"' for v in removed]
                lines.append(f"    {attr}: " + "   ".join(parts))
                continue
        if change.action == "create":
            lines.append(f"    {attr}: {_fmt(new)}")
        else:
            lines.append(f"    {attr}: {_fmt(old)} → {_fmt(new)}")
    return lines


def change_data(change: Change) -> dict[str, Any]:
    return {
        "action": change.action,
        "kind": item_kind(change.key),
        "label": change.label,
        "pk": change.key[0],
        "sk": change.key[1],
        "version": change.old_version,
        "diff": {a: {"old": o, "new": n} for a, (o, n) in change.diff().items()},
    }


def _report_problems(ctx: CliContext, problems: list[Problem], what: str) -> int:
    if ctx.output == "json":
        render.print_json({"problems": [{"where": p.where, "message": p.message} for p in problems]})
    for p in problems:
        render.note(str(p))
    render.note(f"{len(problems)} problem(s) in {what}: nothing written")
    return EXIT_INVALID


def cmd_apply(ctx: CliContext, args: argparse.Namespace) -> int:
    source = "<stdin>" if args.file == "-" else args.file
    try:
        text = read_text(args.file)
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read {source}: {e}", EXIT_USAGE) from e
    data, locate, problems = load_document(text, source)
    if data is None and problems:  # not parseable at all
        return _report_problems(ctx, problems, source)
    rolefile = parse_role_file(data, locate)
    problems.extend(rolefile.problems)

    items = read_all(ctx.client("dynamodb"), ctx.role_table)
    table_graph = {n: parse_role_item(n, v).inherit for n, v in role_items(items).items()}
    problems.extend(check_references(rolefile, table_graph, locate, prune=args.prune))
    if problems:
        return _report_problems(ctx, problems, source)

    changes = plan(rolefile, items, args.prune)
    counts = {a: sum(1 for c in changes if c.action == a) for a in ("create", "update", "delete")}
    summary = f"{counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete"
    result: dict[str, Any] = {
        "changes": [change_data(c) for c in changes],
        "summary": counts,
        "dry_run": args.dry_run,
        "applied": False,
    }
    if ctx.output != "json":
        for c in changes:
            for line in describe(c):
                print(line)
        print(f"Plan: {summary}." if changes else "No changes: the table already says what the file says.")
    if not changes or args.dry_run:
        if args.dry_run and changes:
            render.note("dry run: nothing written")
        if ctx.output == "json":
            render.print_json(result)
        return 0
    if not render.confirm(f"Apply these {len(changes)} change(s) to {ctx.role_table}?", args.yes):
        render.note("nothing written")
        if ctx.output == "json":
            render.print_json(result)
        return 1
    written = writer_for(ctx).write(changes)
    result["applied"] = True
    if ctx.output == "json":
        render.print_json(result)
    else:
        print(f"Applied {written} change(s).")
    return 0


# --- export ----------------------------------------------------------------------------------------------


def cmd_export(ctx: CliContext, args: argparse.Namespace) -> int:
    items = read_all(ctx.client("dynamodb"), ctx.role_table)
    roles: dict[str, dict[str, Any]] = {}
    for name, item in sorted(role_items(items).items()):
        role = parse_role_item(name, item)
        if role.problems:
            render.note(f"warning: role {name!r} is malformed ({'; '.join(role.problems)}); exported as is")
        entry: dict[str, Any] = {}
        if item.get(C.ATTR_DESCRIPTION) is not None:
            entry[C.ATTR_DESCRIPTION] = item[C.ATTR_DESCRIPTION]
        for attr in (C.ATTR_ALLOW, C.ATTR_DENY, C.ATTR_INHERIT):
            entry[attr] = _raw_list(item.get(attr))
        entry[C.ATTR_DISABLED] = item.get(C.ATTR_DISABLED, False)
        roles[name] = entry
    data: dict[str, Any] = {
        "roles": roles,
        "subjects": _issuer_entries(items, C.SUBJECT_PK_PREFIX),
        "groups": _issuer_entries(items, C.GROUP_PK_PREFIX),
    }
    text = dump(data, args.format)
    if args.file:
        try:
            with open(args.file, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise CliError(f"cannot write {args.file}: {e}") from e
        render.note(f"exported {len(roles)} role(s) to {args.file}")
    else:
        print(text, end="")
    return 0


# --- delete ---------------------------------------------------------------------------------------------


def cmd_delete(ctx: CliContext, args: argparse.Namespace) -> int:
    items = read_all(ctx.client("dynamodb"), ctx.role_table)
    key = role_key(args.name)
    item = items.get(key)
    if item is None:
        raise CliError(f"no role {args.name!r}")
    users = [
        f"role {n} inherits it"
        for n, v in sorted(role_items(items).items())
        if args.name in parse_role_item(n, v).inherit
    ] + [
        f"{item_label(k)} names it"
        for k, v in sorted(items.items())
        if item_kind(k) in ("subject", "group") and args.name in parse_role_names(v.get(C.ATTR_ROLES))[0]
    ]
    if users and not args.force:
        for u in users:
            render.note(f"  {u}")
        raise CliError(
            f"role {args.name!r} is still in use ({len(users)} reference(s) above); "
            "remove them first or pass --force (they will then grant nothing for it)",
            EXIT_INVALID,
        )
    change = Change(key, item, None)
    print("\n".join(describe(change)))
    if not render.confirm(f"Delete role {args.name!r}?", args.yes):
        render.note("nothing written")
        return 1
    writer_for(ctx).write([change])
    render.note(f"deleted role {args.name!r}")
    return 0


# --- lint -----------------------------------------------------------------------------------------------


def lint_items(items: Mapping[Key, dict[str, Any]]) -> list[dict[str, str]]:
    """Every problem of every item: ``[{"item": label, "problem": text}]``."""
    found: list[dict[str, str]] = []

    def problem(key: Key, text: str) -> None:
        found.append({"item": item_label(key), "pk": key[0], "sk": key[1], "problem": text})

    roles = role_items(items)
    graph: dict[str, tuple[str, ...]] = {}
    for key, item in sorted(items.items()):
        kind = item_kind(key)
        if kind == "change log":
            continue  # the role-events function's, checked by the authorizer that reads it
        if kind == "unknown":
            problem(key, "unrecognised item: pk must start with ROLE#, SUBJECT#, GROUP# or CLIENT#")
            continue
        _check_stamps(key, item, problem)
        if kind == "role":
            name = key[0][len(C.ROLE_PK_PREFIX) :]
            if key[1] != C.ROLE_SK:
                problem(key, f"a role item's sort key must be {C.ROLE_SK!r}; the authorizer ignores this one")
                continue
            role = parse_role_item(name, item)
            effect = "the role grants nothing" + ("; it denies every route" if role.deny_all else "")
            for p in role.problems:
                problem(key, f"{p} ({effect})")
            graph[name] = role.inherit
            for parent in role.inherit:
                if parent not in roles:
                    problem(key, f"inherits missing role {parent!r} (it grants nothing)")
            continue
        issuer = key[0].split("#", 1)[1]
        if not issuer:
            problem(key, "empty issuer in the partition key")
        unknown = sorted(set(item) - ITEM_ATTRS[kind])
        if unknown:
            problem(key, f"unknown attribute(s) {', '.join(unknown)}")
        if kind in ("subject", "group"):
            if C.ATTR_ROLES not in item and kind == "group":
                problem(key, "no 'roles' attribute: the mapping confers nothing")
            names, bad = parse_role_names(item.get(C.ATTR_ROLES))
            for p in bad:
                problem(key, p)
            for n in names:
                if n not in roles:
                    problem(key, f"names missing role {n!r} (it grants nothing)")
            if kind == "subject" and C.ATTR_NOT_BEFORE in item:
                nb = item[C.ATTR_NOT_BEFORE]
                if not isinstance(nb, int | float) or isinstance(nb, bool):
                    problem(key, "'not_before' is not a number: every token of this subject is refused")
        else:
            uk = item.get(C.ATTR_USAGE_KEY)
            if uk is not None and (not isinstance(uk, str) or not uk):
                problem(key, "'usage_key' must be a non-empty string (the client falls in the default tier)")
            for attr in (C.ATTR_TIER, C.ATTR_USAGE_KEY_ID):
                if attr in item and not isinstance(item[attr], str):
                    problem(key, f"{attr!r} must be a string")
    for cycle in find_cycles(graph):
        problem(
            role_key(cycle[0]),
            "inheritance cycle " + " → ".join([*cycle, cycle[0]]) + " (roles in it grant nothing)",
        )
    return found


def _check_stamps(key: Key, item: Mapping[str, Any], problem: Any) -> None:
    version = item.get(C.ATTR_VERSION)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        problem(key, "'version' must be a whole number (edgeauth's conditional writes rely on it)")
    for attr in (C.ATTR_UPDATED_BY, C.ATTR_UPDATED_AT):
        if attr in item and not isinstance(item[attr], str):
            problem(key, f"{attr!r} must be a string")


def cmd_lint(ctx: CliContext, args: argparse.Namespace) -> int:
    items = read_all(ctx.client("dynamodb"), ctx.role_table)
    found = lint_items(items)
    if ctx.output == "json":
        render.print_json({"items": len(items), "problems": found})
    elif found:
        render.print_table(found, ["item", "problem"])
    else:
        print(f"{len(items)} item(s) checked: no problems.")
    if found:
        render.note(f"{len(found)} problem(s) in {len(items)} item(s)")
        return EXIT_INVALID
    return 0
