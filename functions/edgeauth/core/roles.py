"""The role model and the RBAC decision.

Pure: items arrive as plain Python values (already converted from DynamoDB's attribute-value JSON by
the adapter), and every function here is deterministic.

Safety rules (docs/roles.md), all of which err towards refusing:

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
  inherited along a chain of enabled, well-formed roles (a disabled or malformed role's parents
  grant nothing through it; a cycle member's still do); a missing role grants nothing;
* a malformed role item (an unknown attribute, a wrong type, a bad permission, an invalid name)
  grants nothing; a name that is not a valid role name is still followed to its item (if any) for
  its denies;
* a token claim's value is never itself a role name: groups map to roles only through table items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from edgeauth import constants as C
from edgeauth.core.routes import (
    GREEDY,
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


class Role(NamedTuple):
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


class RoleSource(NamedTuple):
    """Why a subject holds a role: ``subject``, ``group:<value>`` or ``inherited:<role>``."""

    role: str
    source: str


class EffectiveRoles:
    """The roles a principal holds after inheritance, with provenance and what was skipped.

    ``roles``: every role reached through ``inherit`` from a held role, whatever its state (their
    denies apply); ``granting``: those whose allows count; ``cyclic``: those that can reach
    themselves; ``too_deep``: when the chain goes on past :data:`MAX_INHERITANCE_DEPTH`, the first
    link not followed as ``<role>:inherit:<parent>`` (every route is then denied), with
    ``beyond_limit`` the names left unread.

    Treated as immutable once resolved: :func:`decide` builds a :class:`PermissionIndex` on first
    use and keeps it here (rebuilt if ``roles`` or ``granting`` is replaced or resized).

    A plain class, like the authorizer's other records: ``dataclasses`` (and the ``inspect`` it
    imports) would add about 15 ms to every cold start (docs/benchmarks.md).
    """

    __slots__ = ("_index", "beyond_limit", "cyclic", "granting", "problems", "roles", "sources", "too_deep")

    def __init__(
        self,
        roles: dict[str, Role] | None = None,
        granting: tuple[str, ...] = (),
        sources: list[RoleSource] | None = None,
        problems: list[str] | None = None,
        cyclic: frozenset[str] = frozenset(),
        too_deep: str | None = None,
        beyond_limit: tuple[str, ...] = (),
    ) -> None:
        self.roles: dict[str, Role] = {} if roles is None else roles
        self.granting = granting
        self.sources: list[RoleSource] = [] if sources is None else sources
        self.problems: list[str] = [] if problems is None else problems
        self.cyclic = cyclic
        self.too_deep = too_deep
        self.beyond_limit = beyond_limit
        self._index: PermissionIndex | None = None

    def __repr__(self) -> str:
        return (
            f"EffectiveRoles(roles={self.roles!r}, granting={self.granting!r}, sources={self.sources!r}, "
            f"problems={self.problems!r}, cyclic={self.cyclic!r}, too_deep={self.too_deep!r}, "
            f"beyond_limit={self.beyond_limit!r})"
        )

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


# (position in evaluation order, rule text): of the entries that apply, the first one decides.
_Entry = tuple[int, str]
#: Request methods whose tries an index keeps (API Gateway sends one of seven; any other string
#: gets a trie of the ``*`` permissions alone, and the memo is cleared when full).
_MAX_METHOD_TRIES = 16


def _first(a: _Entry | None, b: _Entry | None) -> _Entry | None:
    """The earlier of two entries in evaluation order (``None`` for none)."""
    if a is None:
        return b
    if b is None or a[0] < b[0]:
        return a
    return b


class _Node:
    """One path position in a trie of permission templates (one trie per method and effect).

    ``literals``/``variable``: the children for a literal segment and for any ``{name}`` segment
    (a variable's name never matters); ``greedy``: the first entry whose ``{name+}`` is here;
    ``end``: the first entry whose template ends here; ``below``: the first entry whose template
    has any segment here, greedy or not (set by :meth:`seal` once every template is added).
    """

    __slots__ = ("_merged", "below", "end", "greedy", "literals", "variable")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.variable: _Node | None = None
        self.greedy: _Entry | None = None
        self.end: _Entry | None = None
        self.below: _Entry | None = None
        self._merged: _Node | None = None

    def add(self, template: Template, entry: _Entry) -> None:
        node = self
        for kind, text in template.segments:
            if kind == GREEDY:
                node.greedy = _first(node.greedy, entry)
                return
            if kind == LITERAL:
                child = node.literals.get(text)
                if child is None:
                    child = node.literals[text] = _Node()
            else:
                child = node.variable
                if child is None:
                    child = node.variable = _Node()
            node = child
        node.end = _first(node.end, entry)

    def seal(self) -> _Node:
        """Set ``below`` on every node, children first (no recursion: templates may be long)."""
        order: list[_Node] = []
        todo: list[_Node] = [self]
        while todo:
            node = todo.pop()
            order.append(node)
            todo.extend(node.literals.values())
            if node.variable is not None:
                todo.append(node.variable)
        for node in reversed(order):
            below = node.greedy
            for child in node.literals.values():
                below = _first(below, _first(child.end, child.below))
            if node.variable is not None:
                below = _first(below, _first(node.variable.end, node.variable.below))
            node.below = below
        return self

    def any_child(self) -> _Node | None:
        """Every child merged into one trie: what a variable segment of a route overlaps (any
        literal and the variable alike). Built on first use, for the positions routes take, so
        a variable segment costs one step however many literals the permissions have there."""
        merged = self._merged
        if merged is None and (self.literals or self.variable is not None):
            merged = _Node()
            todo = [
                (merged, child) for child in (*self.literals.values(), self.variable) if child is not None
            ]
            while todo:
                into, source = todo.pop()
                into.end = _first(into.end, source.end)
                into.greedy = _first(into.greedy, source.greedy)
                for text, child in source.literals.items():
                    target = into.literals.get(text)
                    if target is None:
                        target = into.literals[text] = _Node()
                    todo.append((target, child))
                if source.variable is not None:
                    if into.variable is None:
                        into.variable = _Node()
                    todo.append((into.variable, source.variable))
            self._merged = merged.seal()  # assigned once complete: other threads see all or none
        return merged


def _first_overlap(node: _Node, segments: tuple[tuple[int, str], ...], i: int) -> _Entry | None:
    """The first entry under ``node`` whose template overlaps ``segments[i:]`` (what ``overlaps``
    says, segment by segment): a greedy segment on either side overlaps whatever remains."""
    best: _Entry | None = None
    n = len(segments)
    while i < n:
        kind, text = segments[i]
        if kind == GREEDY:  # every template with a segment here overlaps the rest
            return _first(best, node.below)
        best = _first(best, node.greedy)
        if kind == LITERAL:
            literal = node.literals.get(text)
            if literal is not None:
                if node.variable is None:
                    node = literal
                    i += 1
                    continue
                best = _first(best, _first_overlap(literal, segments, i + 1))
        else:  # a variable overlaps every literal and the variable: all children as one
            merged = node.any_child()
            if merged is None:
                return best
            node = merged
            i += 1
            continue
        if node.variable is None:
            return best
        node = node.variable
        i += 1
    return _first(best, node.end)


def _first_cover(node: _Node, segments: tuple[tuple[int, str], ...], i: int) -> _Entry | None:
    """The first entry under ``node`` whose template covers ``segments[i:]`` (what ``covers``
    says): a greedy permission covers one or more remaining segments of any kind; a ``{name}``
    covers a literal or a variable; a literal only the same literal."""
    best: _Entry | None = None
    n = len(segments)
    while i < n:
        kind, text = segments[i]
        best = _first(best, node.greedy)
        if kind == GREEDY:  # only a greedy permission covers a greedy segment
            return best
        if kind == LITERAL:
            literal = node.literals.get(text)
            if literal is not None:
                if node.variable is None:
                    node = literal
                    i += 1
                    continue
                best = _first(best, _first_cover(literal, segments, i + 1))
        if node.variable is None:
            return best
        node = node.variable
        i += 1
    return _first(best, node.end)


class PermissionIndex:
    """A principal's deny and allow entries in tries of their templates, one pair per method.

    Built once per resolved principal (each method's tries on its first decision), so a decision
    walks only the trie paths the route's segments can take, instead of every permission of every
    role: a literal segment follows its literal and the ``{name}`` child, a variable segment the
    ``{name}`` child (and, for denies, every literal), a greedy segment ends the walk with what is
    recorded at that node. Each node keeps the first entry, in evaluation order, of what ends or
    lies below it, so the cost does not grow with the number of permissions, for every route
    kind, greedy ones included (docs/benchmarks.md, "RBAC at scale").

    Exactness: the walks follow the definitions of ``method_matches``, ``overlaps`` and ``covers``
    in ``core/routes.py``; ``tests/unit/test_rbac_index.py`` checks, on random role models and
    routes, that :func:`decide` gives the rule and reason of a full scan.
    """

    __slots__ = ("_allow", "_always", "_deny", "_tries", "granting", "roles", "size")

    def __init__(self, effective: EffectiveRoles) -> None:
        self.roles = effective.roles
        self.size = len(effective.roles)
        self.granting = effective.granting
        self._always: _Entry | None = None  # the first malformed deny list: it denies every route
        # Permission method -> (template, entry), in evaluation order: deny entries of every
        # reached role by sorted name, then allow entries of the granting roles.
        self._deny: dict[str, list[tuple[Template, _Entry]]] = {}
        self._allow: dict[str, list[tuple[Template, _Entry]]] = {}
        self._tries: dict[str, tuple[_Node, _Node]] = {}
        seq = 0
        for name in sorted(self.roles):
            role = self.roles[name]
            if role.deny_all:
                self._always = _first(self._always, (seq, f"{name}:deny:<malformed>"))
                seq += 1
            for perm in role.deny:
                self._deny.setdefault(perm.method, []).append(
                    (perm.template, (seq, f"{name}:deny:{perm.text}"))
                )
                seq += 1
        for name in self.granting:
            for perm in self.roles[name].allow:
                self._allow.setdefault(perm.method, []).append(
                    (perm.template, (seq, f"{name}:allow:{perm.text}"))
                )
                seq += 1

    def first_matches(self, method: str, resource: Template) -> tuple[_Entry | None, _Entry | None]:
        """The first deny that overlaps ``resource`` for ``method``, and the first allow that
        covers it (``None`` where there is none)."""
        tries = self._tries.get(method)
        if tries is None:
            tries = self._build(method)
        deny, allow = tries
        segments = resource.segments
        return _first(self._always, _first_overlap(deny, segments, 0)), _first_cover(allow, segments, 0)

    def _build(self, method: str) -> tuple[_Node, _Node]:
        deny, allow = _Node(), _Node()
        for m in dict.fromkeys((method, "*")):  # a permission's method matches its own and '*'
            for template, entry in self._deny.get(m, ()):
                deny.add(template, entry)
            for template, entry in self._allow.get(m, ()):
                allow.add(template, entry)
        deny.seal()
        allow.seal()
        if len(self._tries) >= _MAX_METHOD_TRIES:
            self._tries.clear()
        self._tries[method] = (deny, allow)
        return deny, allow


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


class Decision(NamedTuple):
    """An RBAC decision: effect, the reason code and the rule that decided (if any)."""

    allowed: bool
    reason: str
    rule: str | None = None
    matched: tuple[str, ...] = ()

    @property
    def effect(self) -> str:
        return "Allow" if self.allowed else "Deny"


def decide(method: str, resource: Template, effective: EffectiveRoles, *, trace: bool = False) -> Decision:
    """Deny by default; any overlapping deny wins (``explicit_deny``); then an inheritance chain too
    deep to follow (``inheritance_too_deep``); otherwise a covering allow of a granting role.

    ``rule`` is the first deny (or allow) in evaluation order: deny entries of every reached role
    by sorted name (a malformed deny list first), then allow entries of the granting roles.
    ``matched`` lists every entry that applies, in that order, only with ``trace`` (``edgeauth
    explain``): the request path needs only the first, which the index finds without visiting
    the others.
    """
    deny, allow = effective.permission_index().first_matches(method, resource)
    matched = matching_rules(method, resource, effective) if trace else ()
    if deny is not None:
        return Decision(False, "explicit_deny", deny[1], matched)
    if effective.too_deep is not None:  # a deny may lie beyond the limit: refuse every route
        return Decision(False, "inheritance_too_deep", effective.too_deep, matched)
    if allow is not None:
        return Decision(True, "allowed", allow[1], matched)
    if not effective.granting and not effective.roles:
        return Decision(False, "no_roles", None, matched)
    return Decision(False, "no_matching_permission", None, matched)


def matching_rules(method: str, resource: Template, effective: EffectiveRoles) -> tuple[str, ...]:
    """Every deny that overlaps and every allow that covers the route, in evaluation order: a
    full scan of every permission (for ``edgeauth explain``, never on the request path)."""
    matched: list[str] = []
    for name in sorted(effective.roles):
        role = effective.roles[name]
        if role.deny_all:
            matched.append(f"{name}:deny:<malformed>")
        for perm in role.deny:
            if method_matches(perm.method, method) and overlaps(perm.template, resource):
                matched.append(f"{name}:deny:{perm.text}")
    for name in effective.granting:
        for perm in effective.roles[name].allow:
            if method_matches(perm.method, method) and covers(perm.template, resource):
                matched.append(f"{name}:allow:{perm.text}")
    return tuple(matched)
