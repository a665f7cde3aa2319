"""Role graphs: the RBAC decision follows the rules, and breaking a role never widens access.

GIVEN random role tables of up to 14 roles (long ``inherit`` chains, so that some reach past the
depth limit; cycles, self-inheritance, missing parents, disabled and malformed roles) read through
:class:`~edgeauth.adapters.role_store.RoleStore`, and a subject holding a few of them:

* the decision on every route and method is the one :func:`tests.property.model.ref_decision`
  derives from the rules of docs/roles.md (written independently of ``core/roles.py``);
* disabling a role, or breaking it (an unknown attribute, a bad allow, a bad deny, inheriting
  itself), or pushing its parents further away (fresh empty roles put on an ``inherit`` link, which
  may carry a deny past the depth limit) never allows a request that was refused before.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import event, given, target
from hypothesis import strategies as st

from edgeauth.adapters.role_store import RoleStore
from edgeauth.core.roles import decide
from edgeauth.core.routes import parse_template
from tests.property.model import (
    MAX_INHERITANCE_DEPTH,
    METHODS,
    MISSING_ROLE,
    RoleSpec,
    held_roles,
    ref_decision,
)
from tests.support.budget import budget
from tests.support.dynamo import DictDynamo
from tests.support.tokens import ISSUER

#: Routes of every kind over the model's literals: the root, literals, variables, greedy tails.
ROUTES = ("/", "/a", "/a/{v1}", "/a/{v1}/b", "/a/b", "/b/{p+}", "/{v0}", "/{v0}/c", "/{p+}")
NAMES = tuple(f"r{i:02d}" for i in range(14))
SUBJECT = "s"


#: Permissions over those routes: the routes themselves, wider ones, narrower ones (a literal where
#: a route has a variable), under ``*`` and single methods. Sampled, so each example is cheap.
PERMISSIONS = (
    "GET /",
    "GET /a",
    "* /a",
    "GET /a/{v1}",
    "DELETE /a/{v1}",
    "* /a/{v1}",
    "GET /a/x",
    "GET /a/b",
    "POST /a/{v1}/b",
    "GET /b/{p+}",
    "* /b/{p+}",
    "GET /b/c",
    "GET /{v0}",
    "DELETE /{v0}/c",
    "GET /{p+}",
    "* /{p+}",
    "HEAD /{p+}",
)
#: Denies are mostly narrow, or they would refuse nearly everything.
DENIES = (
    "DELETE /a/{v1}",
    "GET /a/x",
    "GET /a/b",
    "DELETE /{v0}/c",
    "GET /b/c",
    "* /a",
    "HEAD /{p+}",
    "GET /a/{v1}",
)


@st.composite
def role_graphs(draw: st.DrawFn) -> dict[str, RoleSpec]:
    """Up to 14 roles, often on one long chain (``r00`` inherits ``r01``, which inherits ``r02``...,
    some reaching past the depth limit), with other links now and then (cycles, self-inheritance,
    a missing parent)."""
    count = draw(st.one_of(st.integers(1, 5), st.integers(MAX_INHERITANCE_DEPTH, len(NAMES))))
    names = NAMES[:count]
    out: dict[str, RoleSpec] = {}
    for i, name in enumerate(names):
        inherit: list[str] = []
        if i + 1 < count and draw(st.integers(0, 9)) > 0:
            inherit.append(names[i + 1])
        if draw(st.integers(0, 3)) == 0:
            inherit.append(draw(st.sampled_from((*names, MISSING_ROLE))))
        out[name] = RoleSpec(
            name=name,
            allow=tuple(draw(st.lists(st.sampled_from(PERMISSIONS), max_size=2))),
            deny=tuple(draw(st.lists(st.sampled_from(PERMISSIONS), max_size=1)))
            if draw(st.integers(0, 2)) == 0
            else (),
            bad_allow=draw(st.integers(0, 14)) == 0,
            bad_deny=draw(st.integers(0, 29)) == 0,
            inherit=tuple(dict.fromkeys(inherit)),
            disabled=draw(st.integers(0, 7)) == 0,
            stray_attribute=draw(st.integers(0, 14)) == 0,
            string_sets=draw(st.booleans()),
        )
    return out


def allowed_requests(roles: dict[str, RoleSpec], held: tuple[str, ...]) -> dict[tuple[str, str], bool]:
    """The product's decision on every (method, route), through the role store."""
    dynamo = DictDynamo()
    for spec in roles.values():
        dynamo.put(spec.item())
    dynamo.put(
        {"pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": SUBJECT}, "roles": {"L": [{"S": r} for r in held]}}
    )
    grants, _ = RoleStore("roles", dynamo, cache_ttl=0).grants(ISSUER, SUBJECT)  # type: ignore[arg-type]
    out: dict[tuple[str, str], bool] = {}
    for method in METHODS:
        for route in ROUTES:
            decision = decide(method, parse_template(route), grants.effective)
            if held_roles(held, roles).too_deep:
                assert decision.reason in ("inheritance_too_deep", "explicit_deny"), decision
            out[(method, route)] = decision.allowed
    return out


def expected_requests(roles: dict[str, RoleSpec], held: tuple[str, ...]) -> dict[tuple[str, str], bool]:
    return {(m, r): ref_decision(m, r, held, roles) for m in METHODS for r in ROUTES}


def chain_length(roles: dict[str, RoleSpec], held: tuple[str, ...]) -> int:
    """The longest shortest-path level reached (for steering the search towards deep graphs)."""
    level = {n: 0 for n in held}
    todo = list(held)
    while todo:
        name = todo.pop(0)
        for parent in roles[name].inherit if name in roles else ():
            if parent not in level:
                level[parent] = level[name] + 1
                todo.append(parent)
    return max(level.values(), default=0)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[str, RoleSpec], tuple[str, ...]]:
    roles = draw(role_graphs())
    # Usually the bottom of the chain among them, so that long chains are held from their start.
    first = draw(st.sampled_from(("r00", "r00", *sorted(roles), MISSING_ROLE)))
    more = draw(st.lists(st.sampled_from((*sorted(roles), MISSING_ROLE)), max_size=2))
    held = tuple(dict.fromkeys((first, *more)))
    return roles, held


@budget(80)
@given(world=worlds())
def test_the_decision_is_the_rules_decision_on_deep_graphs(
    world: tuple[dict[str, RoleSpec], tuple[str, ...]],
) -> None:
    roles, held = world
    got = allowed_requests(roles, held)
    assert got == expected_requests(roles, held)
    depth = chain_length(roles, held)
    event("past the depth limit" if depth > MAX_INHERITANCE_DEPTH else "within the depth limit")
    target(float(min(depth, MAX_INHERITANCE_DEPTH + 1)), label="inheritance depth")
    target(float(sum(got.values())), label="allowed requests")


def _interpose(roles: dict[str, RoleSpec], name: str, count: int) -> dict[str, RoleSpec]:
    """``name``'s parents moved ``count`` links further away: ``name`` inherits a fresh empty role,
    which inherits the next, ..., the last inherits ``name``'s former parents."""
    fresh = [f"{name}-via{k}" for k in range(count)]
    out = dict(roles)
    out[name] = replace(roles[name], inherit=(fresh[0],))
    for k, via in enumerate(fresh):
        parents = (fresh[k + 1],) if k + 1 < count else roles[name].inherit
        out[via] = RoleSpec(name=via, inherit=parents)
    return out


BREAKS = ("disable", "unknown attribute", "bad allow", "bad deny", "inherits itself", "parents further away")


def broken(roles: dict[str, RoleSpec], name: str, how: str, links: int = 1) -> dict[str, RoleSpec]:
    """``roles`` with ``name`` broken as ``how`` says (``links``: for "parents further away")."""
    spec = roles[name]
    if how == "disable":
        return {**roles, name: replace(spec, disabled=True)}
    if how == "unknown attribute":
        return {**roles, name: replace(spec, stray_attribute=True)}
    if how == "bad allow":
        return {**roles, name: replace(spec, bad_allow=True)}
    if how == "bad deny":
        return {**roles, name: replace(spec, bad_deny=True)}
    if how == "inherits itself":
        return {**roles, name: replace(spec, inherit=tuple(dict.fromkeys((*spec.inherit, name))))}
    return _interpose(roles, name, links)


@budget(80)
@given(world=worlds(), data=st.data())
def test_disabling_or_breaking_a_role_never_widens_access(
    world: tuple[dict[str, RoleSpec], tuple[str, ...]], data: st.DataObject
) -> None:
    roles, held = world
    holding = held_roles(held, roles)
    # Mostly a role that matters: one that grants, or one whose denies apply.
    name = data.draw(
        st.sampled_from([*sorted(holding.granting) * 3, *sorted(holding.reached), *sorted(roles)]),
        label="role",
    )
    how = data.draw(st.sampled_from(BREAKS), label="how")
    links = data.draw(st.integers(1, MAX_INHERITANCE_DEPTH + 1), label="links added")
    after_roles = broken(roles, name, how, links)
    before = allowed_requests(roles, held)
    after = allowed_requests(after_roles, held)
    widened = sorted(k for k in before if after[k] and not before[k])
    assert widened == [], f"{how} {name}: now allowed {widened}"
    # The model, from the rules, agrees with the product after the change too.
    assert after == expected_requests(after_roles, held)
    event(f"{how}: {'narrowed' if after != before else 'unchanged'}")
    target(float(sum(before.values()) - sum(after.values())), label="requests no longer allowed")


def test_the_issue_example_through_every_kind_of_break() -> None:
    """The reviewers' case: editor allows DELETE /a/{v1}; contractor inherits a guard that denies it."""
    base: dict[str, Any] = {
        "editor": RoleSpec("editor", allow=("DELETE /a/{v1}", "GET /a")),
        "contractor": RoleSpec("contractor", inherit=("guard",)),
        "guard": RoleSpec("guard", deny=("DELETE /a/{v1}",)),
    }
    held = ("editor", "contractor")
    assert allowed_requests(base, held)[("DELETE", "/a/{v1}")] is False
    for how in BREAKS:
        if how == "parents further away":
            continue
        after = broken(base, "contractor", how)
        assert allowed_requests(after, held)[("DELETE", "/a/{v1}")] is False, how
    # The guard pushed just past the limit: every route is refused (what lies beyond is unknown);
    # just within it, the guard's deny and the editor's allow both apply.
    for links, get_allowed in ((MAX_INHERITANCE_DEPTH - 1, True), (MAX_INHERITANCE_DEPTH, False)):
        after = _interpose(base, "contractor", links)
        got = allowed_requests(after, held)
        assert got[("DELETE", "/a/{v1}")] is False
        assert got[("GET", "/a")] is get_allowed, links
