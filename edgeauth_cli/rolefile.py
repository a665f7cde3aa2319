"""The role file that ``edgeauth roles apply`` reads and ``edgeauth roles export`` writes.

YAML or JSON, one document::

    roles:                       # role name -> definition (the file manages every role)
      reader:
        description: Read accounts
        allow: ["GET /accounts/{id}", "GET /accounts"]
        deny: []
        inherit: []
        disabled: false
    subjects:                    # issuer -> sub -> role names (the file manages these issuers' subjects)
      https://login.example.com/:
        user-123: [reader]
    groups:                      # issuer -> group claim value -> role names
      https://login.example.com/:
        admins: [admin]

Every section is optional; a section that is absent is not managed (``--prune`` never touches it).

Every problem is reported with its place in the file: ``FILE:LINE:COLUMN`` (from the YAML node
marks of :func:`yaml.compose`; JSON is valid YAML, so ``.json`` files parse the same way and get lines
too) followed by the path inside the document (``roles.reader.allow[1]``). Loading never raises on
bad content: problems are collected, so the user sees all of them at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from edgeauth import constants as C
from edgeauth.core.roles import ROLE_NAME_RULE, valid_role_name
from edgeauth.core.routes import TemplateError, parse_permission

Path = tuple[str | int, ...]

SECTIONS = ("roles", "subjects", "groups")
ROLE_FIELDS = (C.ATTR_DESCRIPTION, C.ATTR_ALLOW, C.ATTR_DENY, C.ATTR_INHERIT, C.ATTR_DISABLED)
#: DynamoDB key limits (bytes): partition key 2048, sort key 1024. The prefixes count too.
_MAX_PK_BYTES = 2048
_MAX_SK_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem and where it is: ``roles.yaml:12:9: roles.reader.allow[1]: unknown method``."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def format_path(path: Path) -> str:
    """``("roles", "reader", "allow", 1)`` → ``roles.reader.allow[1]`` (``$`` for the root)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}" if _plain(part) else f"[{json.dumps(part)}]"
        else:
            text = part if _plain(part) else f"[{json.dumps(part)}]"
    return text or "$"


def _plain(part: str) -> bool:
    return bool(part) and all(ch.isalnum() or ch in "_-" for ch in part)


class Locator:
    """Maps a path inside the document to ``FILE:LINE:COLUMN: path``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}

    def __call__(self, path: Path, *, key: bool = False) -> str:
        marks = self.keys if key else self.values
        probe = tuple(str(p) if not isinstance(p, int) else p for p in path)
        while True:
            if probe in marks:
                line, col = marks[probe]
                return f"{self.source}:{line}:{col}: {format_path(path)}"
            if not probe:
                return f"{self.source}: {format_path(path)}"
            probe = probe[:-1]
            marks = self.values

    def _record(
        self, node: yaml.Node, path: Path, problems: list[Problem], visited: set[int] | None = None
    ) -> None:
        # ``visited``: a YAML alias (``*name``) is the very node object of its anchor. Walking it again at
        # every place it is used made ten lines of nested aliases (a "billion laughs" file) take
        # exponential time (found by tests/fuzz). Each node is walked once; the places an alias is
        # used fall back to the mark of their parent path.
        visited = set() if visited is None else visited
        if id(node) in visited:
            return
        visited.add(id(node))
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                name = str(key_node.value)
                child = (*path, name)
                if name in seen:
                    where = f"{self.source}:{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}"
                    problems.append(Problem(f"{where}: {format_path(child)}", f"duplicate key {name!r}"))
                seen.add(name)
                self.keys.setdefault(child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                self._record(value_node, child, problems, visited)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._record(item, (*path, i), problems, visited)


def load_document(text: str, source: str) -> tuple[Any, Locator, list[Problem]]:
    """Parse YAML or JSON keeping node marks. Never raises for bad content.

    JSON goes through the YAML parser too (for line numbers and duplicate keys), after a strict
    ``json.loads`` that reports JSON syntax errors by line and column; a valid JSON document that
    PyYAML cannot read (tab indentation) falls back to the JSON value with paths only.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: stdin read with ``surrogateescape`` (a C/POSIX locale, or PYTHONUTF8=1)
        # carries undecodable bytes this way, and key length checks then raised (found by atheris).
        return None, Locator(source), [Problem(source, "cannot parse: the text is not valid UTF-8")]
    if _flow_depth(text) > MAX_NESTING:
        # PyYAML's pure-Python scanner costs O(depth) per token in nested flow collections: a 12 KB
        # file of brackets took minutes to refuse (found by tests/fuzz). A role file nests 4 deep.
        return (
            None,
            Locator(source),
            [Problem(source, f"cannot parse: nested deeper than {MAX_NESTING} levels")],
        )
    try:
        if source.endswith(".json") or text.lstrip().startswith(("{", "[")):
            try:
                json_data = json.loads(text)
            except json.JSONDecodeError as e:
                return (
                    None,
                    Locator(source),
                    [Problem(f"{source}:{e.lineno}:{e.colno}", f"not valid JSON: {e.msg}")],
                )
            data, locator, problems = _load_yaml(text, source)
            if problems and data is None:
                return json_data, Locator(source), []
            return data, locator, problems
        return _load_yaml(text, source)
    except RecursionError:
        # ``[[[[…`` a few thousand levels deep: json and PyYAML's composer are recursive, so this
        # escaped as a traceback instead of a problem (found by tests/fuzz).
        return None, Locator(source), [Problem(source, "cannot parse: the document is nested too deeply")]


MAX_NESTING = 64


def _flow_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` (a cheap bound checked before parsing). Brackets inside
    quoted strings count too: tracking YAML's quoting rules here would let a stray quote hide the
    rest of the file from the check, and no sensible role file has 64 unclosed brackets in a string."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def _load_yaml(text: str, source: str) -> tuple[Any, Locator, list[Problem]]:
    locator = Locator(source)
    problems: list[Problem] = []
    try:
        # The reader checks for unprintable characters (a NUL, say) in the constructor: that
        # ReaderError escaped as a traceback while it was outside this ``try`` (found by tests/fuzz).
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:
        problems.append(Problem(source, f"cannot parse: {e}"))
        return None, locator, problems
    try:
        node = loader.get_single_node()
        if node is None:
            return None, locator, problems
        locator._record(node, (), problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        detail = " ".join(p for p in (e.context, e.problem) if p) or "not valid YAML/JSON"
        problems.append(Problem(where, f"cannot parse: {detail}"))
        return None, locator, problems
    except yaml.YAMLError as e:
        problems.append(Problem(source, f"cannot parse: {e}"))
        return None, locator, problems
    finally:
        loader.dispose()
    return data, locator, problems


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """A role as the file defines it. :meth:`content` is what the table item holds (no stamps)."""

    name: str
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    inherit: tuple[str, ...] = ()
    disabled: bool = False
    description: str | None = None

    def content(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            C.ATTR_ALLOW: list(self.allow),
            C.ATTR_DENY: list(self.deny),
            C.ATTR_INHERIT: list(self.inherit),
            C.ATTR_DISABLED: self.disabled,
        }
        if self.description:
            item[C.ATTR_DESCRIPTION] = self.description
        return item

    def to_file(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.description:
            out[C.ATTR_DESCRIPTION] = self.description
        out[C.ATTR_ALLOW] = list(self.allow)
        out[C.ATTR_DENY] = list(self.deny)
        out[C.ATTR_INHERIT] = list(self.inherit)
        out[C.ATTR_DISABLED] = self.disabled
        return out


Assignments = dict[str, dict[str, tuple[str, ...]]]
"""issuer → (sub or group value) → role names."""


@dataclass(slots=True)
class RoleFile:
    """What a file manages. ``None`` for a section means the file does not manage that kind."""

    roles: dict[str, RoleSpec] | None = None
    subjects: Assignments | None = None
    groups: Assignments | None = None
    problems: list[Problem] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """The document (for export): a file that :func:`parse_role_file` accepts unchanged."""
        data: dict[str, Any] = {}
        if self.roles is not None:
            data["roles"] = {name: self.roles[name].to_file() for name in sorted(self.roles)}
        for section, value in (("subjects", self.subjects), ("groups", self.groups)):
            if value is not None:
                data[section] = {iss: {k: list(v[k]) for k in sorted(v)} for iss, v in sorted(value.items())}
        return data


def read_text(path: str) -> str:
    """The file's text (``-`` reads stdin). Raises ``OSError``/``UnicodeDecodeError``."""
    if path == "-":
        import sys

        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def dump(data: Mapping[str, Any], fmt: str) -> str:
    """Serialise a role-file document as ``yaml`` or ``json``."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    text: str = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text


def parse_role_file(data: Any, locate: Callable[..., str]) -> RoleFile:
    """Check the document's shape and every value; collect problems (never raises)."""
    result = RoleFile()
    problems = result.problems

    def bad(path: Path, message: str, *, key: bool = False) -> None:
        problems.append(Problem(locate(path, key=key), message))

    if data is None:
        bad((), "the file is empty: expected a mapping with 'roles', 'subjects' and/or 'groups'")
        return result
    if not isinstance(data, dict):
        bad((), f"expected a mapping with {', '.join(SECTIONS)}, found {_type(data)}")
        return result
    for key in data:
        if key not in SECTIONS:
            bad((key,), f"unknown section {key!r}; expected one of {', '.join(SECTIONS)}", key=True)
    if "roles" in data:
        result.roles = _parse_roles(data["roles"], bad)
    for section in ("subjects", "groups"):
        if section in data:
            parsed = _parse_assignments(section, data[section], bad)
            if section == "subjects":
                result.subjects = parsed
            else:
                result.groups = parsed
    return result


Bad = Callable[..., None]


def _type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _parse_roles(value: Any, bad: Bad) -> dict[str, RoleSpec]:
    roles: dict[str, RoleSpec] = {}
    if value is None:
        return roles
    if not isinstance(value, dict):
        bad(("roles",), f"'roles' must be a mapping of role name to definition, found {_type(value)}")
        return roles
    for name, raw_body in value.items():
        path: Path = ("roles", str(name))
        if not isinstance(name, str) or not valid_role_name(name):
            bad(
                path,
                f"invalid role name {name!r}: {ROLE_NAME_RULE}"
                + ("" if isinstance(name, str) else " (quote it to make it a string)"),
                key=True,
            )
            continue
        body = {} if raw_body is None else raw_body
        if not isinstance(body, dict):
            bad(path, f"role {name!r} must be a mapping of {', '.join(ROLE_FIELDS)}, found {_type(body)}")
            continue
        for key in body:
            if key not in ROLE_FIELDS:
                bad((*path, str(key)), f"unknown field {key!r}; expected {', '.join(ROLE_FIELDS)}", key=True)
        allow = _permissions(body.get(C.ATTR_ALLOW), (*path, C.ATTR_ALLOW), bad)
        deny = _permissions(body.get(C.ATTR_DENY), (*path, C.ATTR_DENY), bad)
        inherit = _role_names(body.get(C.ATTR_INHERIT), (*path, C.ATTR_INHERIT), bad)
        if name in inherit:
            bad((*path, C.ATTR_INHERIT), f"role {name!r} inherits itself")
        disabled = body.get(C.ATTR_DISABLED, False)
        if not isinstance(disabled, bool):
            bad((*path, C.ATTR_DISABLED), f"'disabled' must be true or false, found {_type(disabled)}")
            disabled = True
        description = body.get(C.ATTR_DESCRIPTION)
        if description is not None and not isinstance(description, str):
            bad((*path, C.ATTR_DESCRIPTION), f"'description' must be a string, found {_type(description)}")
            description = None
        roles[name] = RoleSpec(name, allow, deny, inherit, disabled, description or None)
    return roles


def _string_list(value: Any, path: Path, bad: Bad, what: str) -> list[tuple[int, str]]:
    if value is None:
        return []
    if isinstance(value, str):
        bad(path, f"{format_path(path[-1:])} must be a list of {what}; write [{json.dumps(value)}]")
        return []
    if not isinstance(value, list):
        bad(path, f"{format_path(path[-1:])} must be a list of {what}, found {_type(value)}")
        return []
    out: list[tuple[int, str]] = []
    for i, v in enumerate(value):
        if isinstance(v, str):
            out.append((i, v))
        else:
            bad((*path, i), f"must be a string, found {_type(v)}")
    return out


def _permissions(value: Any, path: Path, bad: Bad) -> tuple[str, ...]:
    out: list[str] = []
    for i, text in _string_list(value, path, bad, "'METHOD /resource/template' strings"):
        try:
            parse_permission(text)
        except TemplateError as e:
            bad((*path, i), str(e))
            continue
        normal = " ".join(text.split())
        if normal in out:
            bad((*path, i), f"duplicate permission {normal!r}")
            continue
        out.append(normal)
    return tuple(out)


def _role_names(value: Any, path: Path, bad: Bad) -> tuple[str, ...]:
    out: list[str] = []
    for i, name in _string_list(value, path, bad, "role names"):
        if not valid_role_name(name):
            bad((*path, i), f"invalid role name {name!r}: {ROLE_NAME_RULE}")
        elif name in out:
            bad((*path, i), f"role {name!r} is listed twice")
        else:
            out.append(name)
    return tuple(out)


def _parse_assignments(section: str, value: Any, bad: Bad) -> Assignments:
    what = "sub" if section == "subjects" else "group claim value"
    result: Assignments = {}
    if value is None:
        return result
    if not isinstance(value, dict):
        bad(
            (section,),
            f"'{section}' must be a mapping of issuer to {{{what}: [roles]}}, found {_type(value)}",
        )
        return result
    prefix = C.SUBJECT_PK_PREFIX if section == "subjects" else C.GROUP_PK_PREFIX
    for issuer, raw_entries in value.items():
        ipath: Path = (section, str(issuer))
        if not isinstance(issuer, str) or not issuer.strip():
            bad(ipath, f"issuer must be a non-empty string, found {issuer!r}", key=True)
            continue
        if len((prefix + issuer).encode()) > _MAX_PK_BYTES:
            bad(ipath, "issuer is too long for a DynamoDB partition key", key=True)
            continue
        entries = {} if raw_entries is None else raw_entries
        if not isinstance(entries, dict):
            bad(
                ipath,
                f"issuer {issuer!r} must map each {what} to a list of role names, found {_type(entries)}",
            )
            continue
        parsed: dict[str, tuple[str, ...]] = {}
        for key, roles in entries.items():
            kpath: Path = (*ipath, str(key))
            if not isinstance(key, str) or not key:
                bad(
                    kpath,
                    f"{what} must be a non-empty string, found {key!r} (quote it: YAML reads 123 as a "
                    "number and yes/no as booleans)",
                    key=True,
                )
                continue
            if len(key.encode()) > _MAX_SK_BYTES:
                bad(kpath, f"{what} is too long for a DynamoDB sort key", key=True)
                continue
            parsed[key] = _role_names([] if roles is None else roles, kpath, bad)
        result[issuer] = parsed
    return result


def check_references(
    rolefile: RoleFile,
    table_roles: Mapping[str, Iterable[str]],
    locate: Callable[..., str],
    *,
    prune: bool = False,
) -> list[Problem]:
    """Cross-checks against the state after apply: every named role exists, no inheritance cycle.

    ``table_roles`` maps each role in the table to the roles it inherits. With ``prune`` and a
    ``roles`` section, table roles that the file does not name will be deleted, so they do not count.
    """
    problems: list[Problem] = []
    file_roles = rolefile.roles or {}
    graph: dict[str, tuple[str, ...]] = {}
    if not (prune and rolefile.roles is not None):
        graph.update({n: tuple(p) for n, p in table_roles.items()})
    graph.update({n: spec.inherit for n, spec in file_roles.items()})

    def where_missing(name: str) -> str:
        if name in table_roles and prune and rolefile.roles is not None:
            return f"role {name!r} is not in the file and --prune would delete it from the table"
        return f"role {name!r} does not exist (neither in the file nor in the table)"

    for name, spec in file_roles.items():
        for i, parent in enumerate(spec.inherit):
            if parent not in graph:
                problems.append(
                    Problem(
                        locate(("roles", name, C.ATTR_INHERIT, i)),
                        f"inherits a missing role: {where_missing(parent)}",
                    )
                )
    for section, value in (("subjects", rolefile.subjects), ("groups", rolefile.groups)):
        for issuer, entries in (value or {}).items():
            for key, roles in entries.items():
                for i, role in enumerate(roles):
                    if role not in graph:
                        problems.append(Problem(locate((section, issuer, key, i)), where_missing(role)))

    for cycle in find_cycles(graph, start=file_roles):
        problems.append(
            Problem(
                locate(("roles", cycle[0], C.ATTR_INHERIT)),
                "inheritance cycle: " + " → ".join([*cycle, cycle[0]]) + " (roles in a cycle grant nothing)",
            )
        )
    return problems


def find_cycles(graph: Mapping[str, Iterable[str]], start: Iterable[str] | None = None) -> list[list[str]]:
    """Every elementary inheritance cycle reachable from ``start`` (default: all), each reported once,
    rotated to begin at its smallest name."""
    adjacency = {n: [p for p in parents if p in graph] for n, parents in graph.items()}
    found: dict[tuple[str, ...], list[str]] = {}

    def walk(node: str, trail: list[str], on_trail: set[str], done: set[str]) -> None:
        for parent in adjacency.get(node, ()):
            if parent in on_trail:
                cycle = trail[trail.index(parent) :]
                i = cycle.index(min(cycle))
                rotated = cycle[i:] + cycle[:i]
                found.setdefault(tuple(rotated), rotated)
            elif parent not in done:
                trail.append(parent)
                on_trail.add(parent)
                walk(parent, trail, on_trail, done)
                on_trail.discard(parent)
                trail.pop()
        done.add(node)

    for name in sorted(start if start is not None else adjacency):
        if name in adjacency:
            walk(name, [name], {name}, set())
    return [found[k] for k in sorted(found)]
