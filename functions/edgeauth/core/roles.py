"""The role model and the RBAC decision.

Pure: items arrive as plain Python values (already converted from DynamoDB's attribute-value JSON by
the adapter), and every function here is deterministic.

Safety rules (README "The role table"), all of which err towards refusing:

* deny by default; a matching ``deny`` beats any ``allow``;
* every ``deny`` reachable through ``inherit`` from any role the subject holds (through its subject
  item or a group mapping) always applies, whether the roles on the way are disabled, malformed or
  in a cycle: disabling or breaking a role never widens access. A malformed ``deny`` entry denies
  everything, since what it meant to deny is unknown;
* a chain too deep to follow (a role first reached more than :data:`MAX_INHERITANCE_DEPTH` levels
  above a held role) denies every route, reason ``inheritance_too_deep``: what lies beyond the
  limit, a deny included, is unknown;
* allows come only from granting roles. A role grants when it exists, is neither disabled nor
  malformed, cannot reach itself through ``inherit`` (cycle members grant nothing), and is held or
  inherited through a chain of such enabled, well-formed roles (a disabled or malformed role's
  parents grant nothing through it); a missing role grants nothing;
* a malformed role item (an unknown attribute, a wrong type, a bad permission, an invalid name)
  grants nothing; a name that is not a valid role name is still followed to its item (if any) for
  its denies;
* a token claim's value is never itself a role name: groups map to roles only through table items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeauth import constants as C
from edgeauth.core.routes import (
    LITERAL,
    Permission,
    Template,
    TemplateError,
    covers,
    method_matches,
    overlaps,
    parse_permission,
)

MAX_INHERITANCE_DEPTH = 8
_ROLE_NAME_MAX = 128
#: What :func:`valid_role_name` accepts, in words (for problem messages).
ROLE_NAME_RULE = "1-128 printable characters, no '#', no ',', no whitespace"


def valid_role_name(name: object) -> bool:
    """Role names: 1..128 printable characters, no ``#``, no ``,`` and no whitespace.

    No ``,``: the answer's ``roles`` context value is the granting roles joined with commas, so a
    name with one would reach the backend as two roles (``viewer,admin``).
    """
    return (
        isinstance(name, str)
        and 0 < len(name) <= _ROLE_NAME_MAX
        and name.isprintable()
        and "#" not in name
        and "," not in name
        and not any(ch.isspace() for ch in name)
    )


@dataclass(frozen=True, slots=True)
class Role:
    """One role item, parsed. ``problems`` is empty for a well-formed item."""

    name: str
    allow: tuple[Permission, ...] = ()
    deny: tuple[Permission, ...] = ()
    inherit: tuple[str, ...] = ()
    disabled: bool = False
    deny_all: bool = False
    problems: tuple[str, ...] = ()
    version: int | None = None

    @property
    def grants(self) -> bool:
        """Whether this role's allows and parents count at all."""
        return not self.disabled and not self.problems


#: The longest role name a role item's partition key (``ROLE#<name>``, at most 2,048 bytes in
#: DynamoDB) can hold: longer names cannot name any item.
_REFERABLE_NAME_BYTES = 2048 - len(C.ROLE_PK_PREFIX.encode())


def _names_an_item(name: str) -> bool:
    """Whether a role item could have this name (valid or not): its key fits DynamoDB's limits."""
    try:
        return len(name.encode()) <= _REFERABLE_NAME_BYTES
    except UnicodeEncodeError:  # a lone surrogate: DynamoDB holds no such string
        return False


def _string_list(value: Any, attr: str, problems: list[str]) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        for v in items:
            if not isinstance(v, str):
                problems.append(f"'{attr}' must contain only strings, found {type(v).__name__}")
                return [v for v in items if isinstance(v, str)]
        return sorted(items) if isinstance(value, set | frozenset) else items
    problems.append(f"'{attr}' must be a list of strings, found {type(value).__name__}")
    return []


#: Every attribute a role item may carry; any other is a problem (the item then grants nothing).
ROLE_ITEM_ATTRS = frozenset(
    {
        C.TABLE_PARTITION_KEY,
        C.TABLE_SORT_KEY,
        C.ATTR_ALLOW,
        C.ATTR_DENY,
        C.ATTR_INHERIT,
        C.ATTR_DISABLED,
        C.ATTR_DESCRIPTION,
        C.ATTR_VERSION,
        C.ATTR_UPDATED_BY,
        C.ATTR_UPDATED_AT,
    }
)


def parse_role_item(name: str, item: Mapping[str, Any]) -> Role:
    """Parse a role item. Never raises for bad content: problems are recorded on the role."""
    problems: list[str] = []
    if not valid_role_name(name):
        problems.append(f"invalid role name {name!r} ({ROLE_NAME_RULE})")
    unknown = sorted(set(item) - ROLE_ITEM_ATTRS)
    if unknown:
        problems.append(f"unknown attribute(s) {', '.join(unknown)}")

    allow: list[Permission] = []
    for text in _string_list(item.get(C.ATTR_ALLOW), C.ATTR_ALLOW, problems):
        try:
            allow.append(parse_permission(text))
        except TemplateError as e:
            problems.append(f"allow: {e}")

    deny: list[Permission] = []
    deny_all = False
    deny_problems: list[str] = []
    for text in _string_list(item.get(C.ATTR_DENY), C.ATTR_DENY, deny_problems):
        try:
            deny.append(parse_permission(text))
        except TemplateError as e:
            deny_problems.append(f"deny: {e}")
    if deny_problems:
        deny_all = True
        problems.extend(deny_problems)

    inherit, bad_parents = role_references(item.get(C.ATTR_INHERIT), C.ATTR_INHERIT)
    problems.extend(bad_parents)

    disabled_raw = item.get(C.ATTR_DISABLED, False)
    if isinstance(disabled_raw, bool):
        disabled = disabled_raw
    else:
        problems.append(f"'disabled' must be a boolean, found {type(disabled_raw).__name__}")
        disabled = True

    version_raw = item.get(C.ATTR_VERSION)
    version = version_raw if isinstance(version_raw, int) and not isinstance(version_raw, bool) else None

    return Role(
        name=name,
        allow=tuple(allow),
        deny=tuple(deny),
        inherit=inherit,
        disabled=disabled,
        deny_all=deny_all,
        problems=tuple(problems),
        version=version,
    )


def parse_role_names(value: Any, attr: str = C.ATTR_ROLES) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Role names listed on a subject or group item: ``(valid names, problems)``."""
    problems: list[str] = []
    names = _string_list(value, attr, problems)
    good: list[str] = []
    for n in names:
        if valid_role_name(n):
            good.append(n)
        else:
            problems.append(f"{attr}: invalid role name {n!r} ({ROLE_NAME_RULE})")
    return tuple(good), tuple(problems)


def role_references(value: Any, attr: str = C.ATTR_ROLES) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The roles a list names, for following them: ``(names, problems)``.

    Unlike :func:`parse_role_names`, ``names`` keeps a string that is not a valid role name (with a
    problem) as long as a role item could have it: the role it names is malformed and grants
    nothing, but its denies apply (disabling or breaking a role never widens access).
    """
    problems: list[str] = []
    names: list[str] = []
    for n in _string_list(value, attr, problems):
        if not isinstance(n, str):
            continue
        if not valid_role_name(n):
            problems.append(f"{attr}: invalid role name {n!r} ({ROLE_NAME_RULE})")
        if _names_an_item(n):
            names.append(n)
    return tuple(names), tuple(problems)


@dataclass(frozen=True, slots=True)
class RoleSource:
    """Why a subject holds a role: ``subject``, ``group:<value>`` or ``inherited:<role>``."""

    role: str
    source: str


@dataclass(slots=True)
class EffectiveRoles:
    """The roles a principal holds after inheritance, with provenance and what was skipped.

    ``roles``: every role reached through ``inherit`` from a held role, whatever its state (their
    denies apply); ``granting``: those whose allows count; ``cyclic``: those that can reach
    themselves; ``too_deep``: when the chain goes on past :data:`MAX_INHERITANCE_DEPTH`, the first
    link not followed as ``<role>:inherit:<parent>`` (every route is then denied), with
    ``beyond_limit`` the names left unread.

    Treated as immutable once resolved: :func:`decide` builds a :class:`PermissionIndex` on first
    use and keeps it here (rebuilt if ``roles`` or ``granting`` is replaced or resized).
    """

    roles: dict[str, Role] = field(default_factory=dict)
    granting: tuple[str, ...] = ()
    sources: list[RoleSource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cyclic: frozenset[str] = frozenset()
    too_deep: str | None = None
    beyond_limit: tuple[str, ...] = ()
    _index: PermissionIndex | None = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> list[str]:
        return sorted(self.roles)

    def permission_index(self) -> PermissionIndex:
        idx = self._index
        if (
            idx is None
            or idx.roles is not self.roles
            or idx.size != len(self.roles)
            or idx.granting is not self.granting
        ):
            idx = PermissionIndex(self)
            self._index = idx
        return idx


# (position in evaluation order, permission or None for a malformed deny list, rule text)
_Entry = tuple[int, Permission | None, str]
_MAX_LOOKUPS = 1024


def _first_key(template: Template) -> str | None:
    """Index key of a template: its first literal segment, ``""`` for ``/``, ``None`` for a variable."""
    if not template.segments:
        return ""
    kind, text = template.segments[0]
    return text if kind == LITERAL else None


class PermissionIndex:
    """A principal's deny and allow entries bucketed by (method, first path segment).

    Built once per resolved principal, so a decision looks only at the entries that can apply to
    the route instead of every permission of every held role: with 1,000 roles and 10,000
    permissions in the table and a subject holding 20 of those roles (200 permissions), a decision
    costs about what it costs with 10 permissions (README "Benchmarks", RBAC at scale).

    Exactness: a permission whose method is neither ``*`` nor the request's can never match
    (``method_matches``), and one whose first segment is a literal other than the route's literal
    first segment can neither cover nor overlap it (``covers``/``overlaps`` compare literals
    segment by segment); a route whose first segment is a variable gets every entry of its method.
    The candidates are a superset of the entries that can match, visited in the original order
    (deny entries by sorted role name, then allow entries by granting role), and :func:`decide` runs
    the very same checks on them, so rule, reason and ``matched`` are those of a full scan.
    """

    __slots__ = ("_allow", "_always", "_deny", "_lookups", "granting", "roles", "size")

    def __init__(self, effective: EffectiveRoles) -> None:
        self.roles = effective.roles
        self.size = len(effective.roles)
        self.granting = effective.granting
        self._always: list[_Entry] = []  # malformed deny lists: they deny every route
        self._deny: dict[tuple[str, str | None], list[_Entry]] = {}
        self._allow: dict[tuple[str, str | None], list[_Entry]] = {}
        self._lookups: dict[tuple[str, str | None], tuple[list[_Entry], list[_Entry]]] = {}
        seq = 0
        for name in sorted(self.roles):
            role = self.roles[name]
            if role.deny_all:
                self._always.append((seq, None, f"{name}:deny:<malformed>"))
                seq += 1
            for perm in role.deny:
                key = (perm.method, _first_key(perm.template))
                self._deny.setdefault(key, []).append((seq, perm, f"{name}:deny:{perm.text}"))
                seq += 1
        for name in self.granting:
            for perm in self.roles[name].allow:
                key = (perm.method, _first_key(perm.template))
                self._allow.setdefault(key, []).append((seq, perm, f"{name}:allow:{perm.text}"))
                seq += 1

    def candidates(self, method: str, resource: Template) -> tuple[list[_Entry], list[_Entry]]:
        """Deny and allow entries that may apply to ``method`` on ``resource``, in order."""
        first = _first_key(resource)
        hit = self._lookups.get((method, first))
        if hit is None:
            deny_keys: Iterable[tuple[str, str | None]]
            allow_keys: Iterable[tuple[str, str | None]]
            if first is None:  # a variable first segment: any first segment may overlap or cover
                deny_keys = [k for k in self._deny if k[0] == method or k[0] == "*"]
                allow_keys = [k for k in self._allow if k[0] == method or k[0] == "*"]
            else:
                deny_keys = allow_keys = dict.fromkeys(
                    [(method, first), (method, None), ("*", first), ("*", None)]
                )
            deny = sorted(self._always + [e for k in deny_keys for e in self._deny.get(k, ())])
            allow = sorted([e for k in allow_keys for e in self._allow.get(k, ())])
            if len(self._lookups) >= _MAX_LOOKUPS:
                self._lookups.clear()
            hit = self._lookups[(method, first)] = (deny, allow)
        return hit


def resolve_roles(
    direct: Iterable[RoleSource],
    fetch: Callable[[Iterable[str]], Mapping[str, Role | None]],
    max_depth: int = MAX_INHERITANCE_DEPTH,
) -> EffectiveRoles:
    """Follow inheritance from the directly granted roles (the rules at the top of this module).

    Every ``inherit`` link is followed, whatever the state of the role that lists it, so that every
    reachable deny applies; the held roles are level 0 and levels up to ``max_depth`` are read. A
    role first reached at level ``max_depth + 1`` is not read: ``too_deep`` is set and every route
    is denied. ``fetch`` returns the parsed roles for a batch of names (``None`` for a missing one);
    it is called once per inheritance level so the adapter can batch its reads.
    """
    result = EffectiveRoles()
    reached: dict[str, Role | None] = {}
    frontier: list[RoleSource] = []
    seen_names: set[str] = set()
    held: list[str] = []
    for src in direct:
        result.sources.append(src)
        if src.role not in seen_names:
            seen_names.add(src.role)
            frontier.append(src)
            held.append(src.role)

    depth = 0
    while frontier:
        if depth > max_depth:
            first = frontier[0]
            result.too_deep = f"{first.source.removeprefix('inherited:')}:inherit:{first.role}"
            result.beyond_limit = tuple(s.role for s in frontier)
            result.problems.append(
                f"inheritance deeper than {max_depth} levels ({result.too_deep} is not followed): "
                "what lies beyond is unknown, so every route is denied"
            )
            break
        fetched = fetch([s.role for s in frontier])
        next_frontier: list[RoleSource] = []
        for src in frontier:
            role = fetched.get(src.role)
            reached[src.role] = role
            if role is None:
                result.problems.append(f"role {src.role!r} ({src.source}) does not exist")
                continue
            if role.problems:
                result.problems.append(f"role {role.name!r} is malformed: {'; '.join(role.problems)}")
            # Followed even when this role is disabled or malformed: its parents' denies apply.
            for parent in role.inherit:
                if parent not in seen_names:
                    seen_names.add(parent)
                    psrc = RoleSource(parent, f"inherited:{role.name}")
                    result.sources.append(psrc)
                    next_frontier.append(psrc)
        frontier = next_frontier
        depth += 1

    cyclic = _cycle_members(reached)
    for name in sorted(cyclic):
        result.problems.append(f"role {name!r} is in an inheritance cycle and grants nothing")

    # Allows: along chains of enabled, well-formed roles only, starting from the held roles.
    eligible = {name: role for name, role in reached.items() if role is not None and role.grants}
    granting: set[str] = set()
    stack = [name for name in held if name in eligible]
    granting.update(stack)
    while stack:
        for parent in eligible[stack.pop()].inherit:
            if parent in eligible and parent not in granting:
                granting.add(parent)
                stack.append(parent)

    result.roles = {name: role for name, role in reached.items() if role is not None}
    result.granting = tuple(sorted(granting - cyclic))
    result.cyclic = frozenset(cyclic)
    return result


def _cycle_members(roles: Mapping[str, Role | None]) -> set[str]:
    """Names of roles that can reach themselves through ``inherit``: the members of every strongly
    connected component with more than one role, or with a role inheriting itself (Tarjan's
    algorithm, iterative, linear in roles + links: a principal may reach a thousand roles)."""
    graph = {
        name: [p for p in role.inherit if roles.get(p) is not None]
        for name, role in roles.items()
        if role is not None
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    members: set[str] = set()
    for root in graph:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph[root]))]
        while work:
            node, parents = work[-1]
            for parent in parents:
                if parent not in index:
                    index[parent] = low[parent] = len(index)
                    stack.append(parent)
                    on_stack.add(parent)
                    work.append((parent, iter(graph[parent])))
                    break
                if parent in on_stack:
                    low[node] = min(low[node], index[parent])
            else:
                work.pop()
                if work:
                    child = work[-1][0]
                    low[child] = min(low[child], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        members.update(component)
    return members


@dataclass(frozen=True, slots=True)
class Decision:
    """An RBAC decision: effect, the reason code and the rule that decided (if any)."""

    allowed: bool
    reason: str
    rule: str | None = None
    matched: tuple[str, ...] = ()

    @property
    def effect(self) -> str:
        return "Allow" if self.allowed else "Deny"


def decide(method: str, resource: Template, effective: EffectiveRoles) -> Decision:
    """Deny by default; any overlapping deny wins (``explicit_deny``); then an inheritance chain too
    deep to follow (``inheritance_too_deep``); otherwise a covering allow of a granting role."""
    matched: list[str] = []
    deny_rule: str | None = None
    # Only the entries that can apply to this route (see PermissionIndex), in the same order as a
    # full scan: deny entries of every reached role by sorted name, granting or not (disabling never
    # widens access), then allow entries of the granting roles.
    deny_entries, allow_entries = effective.permission_index().candidates(method, resource)
    for _, perm, rule in deny_entries:
        if perm is None or (method_matches(perm.method, method) and overlaps(perm.template, resource)):
            deny_rule = deny_rule or rule
            matched.append(rule)
    allow_rule: str | None = None
    for _, perm, rule in allow_entries:
        if perm is not None and method_matches(perm.method, method) and covers(perm.template, resource):
            allow_rule = allow_rule or rule
            matched.append(rule)
    if deny_rule is not None:
        return Decision(False, "explicit_deny", deny_rule, tuple(matched))
    if effective.too_deep is not None:  # a deny may lie beyond the limit: refuse every route
        return Decision(False, "inheritance_too_deep", effective.too_deep, tuple(matched))
    if allow_rule is not None:
        return Decision(True, "allowed", allow_rule, tuple(matched))
    if not effective.granting and not effective.roles:
        return Decision(False, "no_roles", None, tuple(matched))
    return Decision(False, "no_matching_permission", None, tuple(matched))
