"""``decide`` through the permission index gives exactly what a full scan of every permission gives.

The index (``PermissionIndex``) only narrows which permissions are looked at (README "Benchmarks",
RBAC at scale). The reference below is the full scan it replaced; on random role models and routes
(literal, variable and greedy segments, ``*`` methods, the root, malformed deny lists, disabled
roles) both must return the same decision, rule and ``matched`` list.
"""

from __future__ import annotations

import random

import pytest

from edgeauth.core.roles import Decision, EffectiveRoles, Role, decide
from edgeauth.core.routes import Template, covers, method_matches, overlaps, parse_permission, parse_template

METHODS = ["GET", "POST", "DELETE", "*"]
SEGMENTS = ["a", "b", "c", "{x}", "{y}"]


def reference_decide(method: str, resource: Template, effective: EffectiveRoles) -> Decision:
    matched: list[str] = []
    deny_rule: str | None = None
    for name in sorted(effective.roles):
        role = effective.roles[name]
        if role.deny_all:
            deny_rule = deny_rule or f"{name}:deny:<malformed>"
            matched.append(f"{name}:deny:<malformed>")
        for perm in role.deny:
            if method_matches(perm.method, method) and overlaps(perm.template, resource):
                rule = f"{name}:deny:{perm.text}"
                deny_rule = deny_rule or rule
                matched.append(rule)
    allow_rule: str | None = None
    for name in effective.granting:
        for perm in effective.roles[name].allow:
            if method_matches(perm.method, method) and covers(perm.template, resource):
                rule = f"{name}:allow:{perm.text}"
                allow_rule = allow_rule or rule
                matched.append(rule)
    if deny_rule is not None:
        return Decision(False, "explicit_deny", deny_rule, tuple(matched))
    if allow_rule is not None:
        return Decision(True, "allowed", allow_rule, tuple(matched))
    if not effective.granting and not effective.roles:
        return Decision(False, "no_roles", None, tuple(matched))
    return Decision(False, "no_matching_permission", None, tuple(matched))


def _template(rng: random.Random) -> str:
    n = rng.randint(0, 3)
    if n == 0:
        return "/"
    segs = [rng.choice(SEGMENTS) for _ in range(n)]
    seen: set[str] = set()
    out = []
    for i, seg in enumerate(segs):  # path variable names must be unique
        name = "{" + f"v{i}" + "}" if seg.startswith("{") else seg
        if name.startswith("{"):
            if name in seen:
                continue
            seen.add(name)
        out.append(name)
    if rng.random() < 0.25:
        out.append("{rest+}")
    return "/" + "/".join(out)


def _role(rng: random.Random, name: str) -> Role:
    allow = tuple(
        parse_permission(f"{rng.choice(METHODS)} {_template(rng)}") for _ in range(rng.randint(0, 6))
    )
    deny = tuple(
        parse_permission(f"{rng.choice(METHODS)} {_template(rng)}") for _ in range(rng.randint(0, 2))
    )
    return Role(name=name, allow=allow, deny=deny, deny_all=rng.random() < 0.08, disabled=rng.random() < 0.1)


def _effective(rng: random.Random) -> EffectiveRoles:
    roles = {f"r{i}": _role(rng, f"r{i}") for i in rng.sample(range(20), rng.randint(0, 8))}
    granting = tuple(sorted(n for n, r in roles.items() if r.grants and rng.random() < 0.9))
    return EffectiveRoles(roles=roles, granting=granting)


@pytest.mark.parametrize("seed", range(6))
def test_indexed_decide_equals_a_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        effective = _effective(rng)
        for _ in range(25):
            method = rng.choice(["GET", "POST", "DELETE", "PUT", "*"])
            resource = parse_template(_template(rng))
            assert decide(method, resource, effective) == reference_decide(method, resource, effective)


def test_the_index_is_rebuilt_when_the_roles_are_replaced() -> None:
    effective = EffectiveRoles(roles={"r": Role("r", allow=(parse_permission("GET /a"),))}, granting=("r",))
    route = parse_template("/a")
    assert decide("GET", route, effective).allowed
    effective.roles = {"r": Role("r", deny=(parse_permission("GET /a"),))}
    effective.granting = ("r",)
    assert decide("GET", route, effective) == reference_decide("GET", route, effective)
    assert not decide("GET", route, effective).allowed
