"""Reference models for the property tests, written independently of the product code.

Nothing here imports :mod:`edgeauth.core.routes` or :mod:`edgeauth.core.roles`: the oracles are
brute force over a small, exhaustive universe of concrete paths, so a disagreement is a bug in one
side or the other, never a shared mistake.

Universe. Templates are drawn over the literals ``a b c`` with at most :data:`MAX_DEPTH` segments.
Templates never relate two variables, and only compare a segment with their own literals, so every
concrete path can be mapped to one over ``a b c`` plus one fresh value (``x``) that no template
names, without changing which templates match it. Lengths up to ``MAX_DEPTH + 1`` are enough: past
a template's fixed prefix, a greedy ``{p+}`` only asks for "at least one more segment". So
"template P matches every path that R matches" over this universe is exactly ``covers(P, R)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

LITERALS = ("a", "b", "c")
FRESH = "x"
ALPHABET = (*LITERALS, FRESH)
MAX_DEPTH = 3
METHODS = ("GET", "POST", "DELETE", "HEAD")
PERMISSION_METHODS = (*METHODS, "*")

LIT, VAR, GREEDY = "lit", "var", "greedy"
Segment = tuple[str, str]  # (kind, literal text or variable name)


# -- templates -------------------------------------------------------------------------------------


def template_text(segments: Sequence[Segment]) -> str:
    if not segments:
        return "/"
    parts = []
    for kind, text in segments:
        parts.append(text if kind == LIT else "{" + text + ("+}" if kind == GREEDY else "}"))
    return "/" + "/".join(parts)


def parse_text(text: str) -> tuple[Segment, ...]:
    """The model's own parser for the templates it generated (never the product's)."""
    if text == "/":
        return ()
    out: list[Segment] = []
    for part in text[1:].split("/"):
        if part.startswith("{") and part.endswith("+}"):
            out.append((GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            out.append((VAR, part[1:-1]))
        else:
            out.append((LIT, part))
    return tuple(out)


@st.composite
def segments(draw: st.DrawFn, max_depth: int = MAX_DEPTH) -> tuple[Segment, ...]:
    """A template: literals and ``{v<i>}`` variables, optionally ending with a greedy ``{p+}``."""
    depth = draw(st.integers(0, max_depth))
    out: list[Segment] = []
    for i in range(depth):
        last = i == depth - 1
        kinds = [LIT, LIT, VAR] + ([GREEDY] if last else [])
        kind = draw(st.sampled_from(kinds))
        if kind == LIT:
            out.append((LIT, draw(st.sampled_from(LITERALS))))
        elif kind == VAR:
            out.append((VAR, f"v{i}"))
        else:
            out.append((GREEDY, "p"))
    return tuple(out)


def api_gateway_resources(candidates: Iterable[tuple[Segment, ...]]) -> list[str]:
    """Keep the templates API Gateway could hold together: under one parent, at most one
    variable child (``{v}`` or ``{p+}``, one name); the parents of a template exist implicitly."""
    var_child: dict[tuple[Segment, ...], Segment] = {}
    kept: list[str] = []
    for segs in candidates:
        ok = True
        for i, seg in enumerate(segs):
            if seg[0] == LIT:
                continue
            parent = segs[:i]
            have = var_child.get(parent)
            if have is not None and have != seg:
                ok = False
                break
        if not ok:
            continue
        for i, seg in enumerate(segs):
            if seg[0] != LIT:
                var_child.setdefault(segs[:i], seg)
        text = template_text(segs)
        if text not in kept:
            kept.append(text)
    return kept


route_tables = st.lists(segments(), min_size=1, max_size=8).map(api_gateway_resources)


# -- concrete paths and brute-force matching -------------------------------------------------------


def template_matches(segs: Sequence[Segment], path: Sequence[str]) -> bool:
    for i, (kind, text) in enumerate(segs):
        if kind == GREEDY:
            return len(path) > i
        if i >= len(path):
            return False
        if kind == LIT and path[i] != text:
            return False
    return len(path) == len(segs)


UNIVERSE: tuple[tuple[str, ...], ...] = tuple(
    p for n in range(MAX_DEPTH + 2) for p in itertools.product(ALPHABET, repeat=n)
)


@lru_cache(maxsize=4096)
def served(text: str) -> frozenset[tuple[str, ...]]:
    """Every path of the universe the template matches (as a pattern, routes aside)."""
    segs = parse_text(text)
    return frozenset(p for p in UNIVERSE if template_matches(segs, p))


def ref_covers(permission: str, resource: str) -> bool:
    return served(resource) <= served(permission)


def ref_overlaps(permission: str, resource: str) -> bool:
    return not served(resource).isdisjoint(served(permission))


def ref_select(templates: Iterable[str], path: Sequence[str]) -> str | None:
    """API Gateway's choice: among the matching resources, literal beats ``{v}`` beats ``{p+}``,
    segment by segment from the left (the most specific resource)."""
    rank = {LIT: 0, VAR: 1, GREEDY: 2}
    matching = [t for t in templates if template_matches(parse_text(t), path)]
    if not matching:
        return None
    return min(matching, key=lambda t: tuple(rank[k] for k, _ in parse_text(t)))


def path_text(path: Sequence[str]) -> str:
    return "/" + "/".join(path)


# -- IAM wildcard matching (reference) -------------------------------------------------------------


def ref_glob(pattern: str, value: str) -> bool:
    """IAM resource matching: ``*`` any run (``/`` included), ``?`` one character, case-sensitive.
    Dynamic programming over (pattern, value) prefixes; no regex."""
    m, n = len(pattern), len(value)
    row = [False] * (n + 1)
    row[0] = True
    for i in range(1, m + 1):
        ch = pattern[i - 1]
        new = [False] * (n + 1)
        if ch == "*":
            new[0] = row[0]
            for j in range(1, n + 1):
                new[j] = row[j] or new[j - 1]
        else:
            for j in range(1, n + 1):
                new[j] = row[j - 1] and (ch == "?" or ch == value[j - 1])
        row = new
    return row[n]


def ref_evaluate(statements: Sequence[Mapping[str, Any]], arn: str) -> str:
    """Explicit Deny first, then Allow, else implicit deny (only Action/Resource, as we answer)."""
    allowed = False
    for stmt in statements:
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
        if not any(ref_glob(a.lower(), "execute-api:invoke") for a in actions):
            continue
        if not any(ref_glob(r, arn) for r in resources):
            continue
        if stmt["Effect"] == "Deny":
            return "deny"
        allowed = True
    return "allow" if allowed else "implicit_deny"


# -- roles -----------------------------------------------------------------------------------------

BAD_PERMISSIONS = ("FETCH /a", "GET a/b", "GET /a//b", "GET /{p+}/a", "GET", "get /a")


@dataclass(frozen=True)
class RoleSpec:
    """A role item as the test means it; malformedness is known by construction."""

    name: str
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    bad_allow: bool = False
    bad_deny: bool = False
    inherit: tuple[str, ...] = ()
    disabled: bool = False
    stray_attribute: bool = False
    string_sets: bool = False

    @property
    def malformed(self) -> bool:
        return self.bad_allow or self.bad_deny or self.stray_attribute

    @property
    def grants(self) -> bool:
        return not self.malformed and not self.disabled

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (attribute-value JSON), as the console or the CLI would write it."""

        def strings(values: Sequence[str]) -> dict[str, Any]:
            if self.string_sets and values:
                return {"SS": sorted(set(values))}
            return {"L": [{"S": v} for v in values]}

        allow = list(self.allow) + (
            [BAD_PERMISSIONS[len(self.name) % len(BAD_PERMISSIONS)]] if self.bad_allow else []
        )
        deny = list(self.deny) + (
            [BAD_PERMISSIONS[(len(self.name) + 1) % len(BAD_PERMISSIONS)]] if self.bad_deny else []
        )
        item: dict[str, Any] = {
            "pk": {"S": f"ROLE#{self.name}"},
            "sk": {"S": "ROLE"},
            "allow": strings(allow),
            "deny": strings(deny),
            "inherit": strings(self.inherit),
            "disabled": {"BOOL": self.disabled},
            "version": {"N": "1"},
        }
        if self.stray_attribute:
            item["allowed"] = {"L": [{"S": "* /{p+}"}]}  # a typo of "allow": must grant nothing
        return item


ROLE_NAMES = ("r0", "r1", "r2", "r3", "r4")
MISSING_ROLE = "ghost"


def _generalise(template: str, data: st.DataObject) -> str:
    """A template that covers ``template``: literals turned into variables, or a greedy tail."""
    segs = list(parse_text(template))
    out: list[Segment] = []
    for i, (kind, text) in enumerate(segs):
        if kind == LIT and data.draw(st.booleans()):
            out.append((VAR, f"v{i}"))
        else:
            out.append((kind, text))
    truncate: bool = data.draw(st.booleans())
    if out and truncate:
        cut = data.draw(st.integers(0, len(out) - 1))
        out = [*out[:cut], (GREEDY, "p")]
    return template_text(out)


def permission_texts(extra_templates: Sequence[str], *, deny: bool = False) -> st.SearchStrategy[str]:
    """``METHOD /template``: the API's own routes, generalisations of them, literal instances of
    them (``GET /a/x`` against the route ``/a/{v1}``, which an allow must never stretch to the whole
    route), and random templates."""
    routes = st.sampled_from(list(extra_templates)) if extra_templates else st.nothing()
    instances = routes.map(
        lambda t: template_text(
            tuple(
                (LIT, FRESH) if k == VAR else (LIT, "a") if k == GREEDY else (k, s) for k, s in parse_text(t)
            )
        )
    )
    general = st.tuples(routes, st.data()).map(lambda td: _generalise(*td))
    if deny:  # denies are mostly narrow, or they would refuse nearly everything
        templates = st.one_of(instances, instances, routes, general, segments().map(template_text))
        methods = st.sampled_from(("GET", "POST", "DELETE", "HEAD", "GET", "*"))
    else:
        templates = st.one_of(routes, routes, general, general, instances, segments().map(template_text))
        methods = st.sampled_from(("GET", "GET", "*", "*", *PERMISSION_METHODS))
    return st.builds(lambda m, t: f"{m} {t}", methods, templates)


@st.composite
def role_specs(draw: st.DrawFn, routes: Sequence[str]) -> dict[str, RoleSpec]:
    names = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=len(ROLE_NAMES), unique=True))
    perms = permission_texts(routes)
    denies = permission_texts(routes, deny=True)
    out: dict[str, RoleSpec] = {}
    for name in names:
        out[name] = RoleSpec(
            name=name,
            allow=tuple(draw(st.lists(perms, max_size=4))),
            deny=tuple(draw(st.lists(denies, max_size=2))) if draw(st.integers(0, 2)) == 0 else (),
            bad_allow=draw(st.integers(0, 9)) == 0,
            bad_deny=draw(st.integers(0, 14)) == 0,
            inherit=tuple(
                draw(st.lists(st.sampled_from((*ROLE_NAMES, MISSING_ROLE)), max_size=2, unique=True))
            ),
            disabled=draw(st.integers(0, 9)) == 0,
            stray_attribute=draw(st.integers(0, 14)) == 0,
            string_sets=draw(st.booleans()),
        )
    return out


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: tuple[str, ...]
    groups: tuple[str, ...] = ()


# -- the RBAC rules (docs/roles.md), written from the rules, not from the product -------

#: docs/roles.md: inheritance is followed at most 8 levels above a held role.
MAX_INHERITANCE_DEPTH = 8


@dataclass(frozen=True)
class Holding:
    """What a principal holds, by the rules.

    ``reached``: every existing role whose denies apply (reachable through ``inherit`` from a held
    role, over any roles, within the depth limit); ``granting``: the roles whose allows count;
    ``too_deep``: some role lies more than :data:`MAX_INHERITANCE_DEPTH` links above every held
    role that reaches it (then what lies beyond is unknown, and every route is denied)."""

    reached: frozenset[str]
    granting: frozenset[str]
    too_deep: bool


def _levels(direct: Iterable[str], roles: Mapping[str, RoleSpec]) -> dict[str, int]:
    """Each name's level: the fewest ``inherit`` links from a held role to it, over every role
    whatever its state (held roles: 0). Brute force: relax until nothing changes; names past the
    limit are recorded, but not followed further (their level alone settles the question)."""
    level = {name: 0 for name in direct}
    changed = True
    while changed:
        changed = False
        for name, lv in list(level.items()):
            spec = roles.get(name)
            if spec is None or lv > MAX_INHERITANCE_DEPTH:
                continue
            for parent in spec.inherit:
                if level.get(parent, lv + 2) > lv + 1:
                    level[parent] = lv + 1
                    changed = True
    return level


def _reaches(start: str, goal: str, roles: Mapping[str, RoleSpec]) -> bool:
    """Whether ``goal`` is reachable from ``start`` in one or more ``inherit`` links (any roles)."""
    todo = [p for p in roles[start].inherit if p in roles]
    visited: set[str] = set()
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in visited:
            visited.add(node)
            todo.extend(p for p in roles[node].inherit if p in roles)
    return False


def held_roles(direct: Iterable[str], roles: Mapping[str, RoleSpec]) -> Holding:
    """The rules, one by one:

    * every deny reachable through ``inherit`` from a held role applies, whatever the roles on the
      way (disabled, malformed, in a cycle): ``reached``;
    * a chain too deep to follow denies every route: ``too_deep``;
    * a role grants when it exists, is enabled and well formed, cannot reach itself, and is held or
      inherited along a chain of enabled, well-formed roles from a held role."""
    direct = list(direct)
    level = _levels(direct, roles)
    reached = frozenset(n for n, lv in level.items() if n in roles and lv <= MAX_INHERITANCE_DEPTH)
    too_deep = any(lv > MAX_INHERITANCE_DEPTH for lv in level.values())

    def sound(name: str) -> bool:
        return name in roles and roles[name].grants

    along: set[str] = {n for n in direct if sound(n)}
    grew = True
    while grew:
        grew = False
        for name in list(along):
            for parent in roles[name].inherit:
                if sound(parent) and parent not in along:
                    along.add(parent)
                    grew = True
    granting = frozenset(n for n in along if not _reaches(n, n, roles))
    return Holding(reached, granting, too_deep)


def _method_ok(permission_method: str, method: str) -> bool:
    return permission_method in ("*", method)


def ref_decision(method: str, template: str, direct: Iterable[str], roles: Mapping[str, RoleSpec]) -> bool:
    """The RBAC decision for (method, resource template), from the rules of docs/roles.md, brute force."""
    holding = held_roles(direct, roles)
    for name in holding.reached:
        spec = roles[name]
        if spec.bad_deny:
            return False  # a malformed deny entry denies everything to its holders
        for perm in spec.deny:
            m, t = perm.split(" ", 1)
            if _method_ok(m, method) and ref_overlaps(t, template):
                return False
    if holding.too_deep:
        return False
    for name in holding.granting:
        for perm in roles[name].allow:
            m, t = perm.split(" ", 1)
            if _method_ok(m, method) and ref_covers(t, template):
                return True
    return False
