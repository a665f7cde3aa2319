"""``decide`` through the permission index gives exactly what a full scan of every permission gives.

The index (``PermissionIndex``: tries of templates per method) only finds the first deny and the
first allow that apply without looking at the others (docs/benchmarks.md, "RBAC at scale"). The
reference below is the full scan, written from the definitions of ``covers``/``overlaps``; on
random role models and routes (literal, variable and greedy segments, ``*`` methods, the root,
malformed deny lists, disabled roles, permissions shared by several roles) both must return the
same decision and rule, and with ``trace`` the same ``matched`` list.
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
            expected = reference_decide(method, resource, effective)
            assert decide(method, resource, effective, trace=True) == expected
            assert decide(method, resource, effective) == expected._replace(matched=())


def test_the_index_is_rebuilt_when_the_roles_are_replaced() -> None:
    effective = EffectiveRoles(roles={"r": Role("r", allow=(parse_permission("GET /a"),))}, granting=("r",))
    route = parse_template("/a")
    assert decide("GET", route, effective).allowed
    effective.roles = {"r": Role("r", deny=(parse_permission("GET /a"),))}
    effective.granting = ("r",)
    assert decide("GET", route, effective, trace=True) == reference_decide("GET", route, effective)
    assert not decide("GET", route, effective).allowed


def _large_effective() -> EffectiveRoles:
    """A principal whose 500 roles hold 5,000 permissions, all under /items (deny and allow)."""
    roles: dict[str, Role] = {}
    for i in range(500):
        allow = tuple(
            parse_permission(text)
            for text in (
                f"GET /items/r{i}",
                f"GET /items/r{i}/{{id}}",
                f"* /items/r{i}/admin/{{proxy+}}",
                f"PUT /items/{{id}}/r{i}",
                f"POST /items/r{i}/a/b/c",
                f"GET /items/{{id}}/x{i}/{{part}}",
                f"PATCH /items/r{i}/{{id}}",
                f"GET /items/r{i}/{{id}}/history",
                f"HEAD /items/r{i}",
            )
        )
        deny = (parse_permission(f"DELETE /items/r{i}/{{id}}"),)
        roles[f"r{i:03d}"] = Role(f"r{i:03d}", allow=allow, deny=deny)
    return EffectiveRoles(roles=roles, granting=tuple(sorted(roles)))


@pytest.mark.parametrize(
    ("method", "route", "allowed"),
    [
        ("GET", "/items/r7", True),  # literal
        ("GET", "/items/r7/{id}", True),  # a variable
        ("GET", "/items/{proxy+}", False),  # greedy: overlaps thousands of entries
        ("DELETE", "/items/{proxy+}", False),  # greedy, every DELETE deny overlaps it
        ("DELETE", "/items/r7/admin/{x}", True),  # decided by a '*' method permission
        ("PUT", "/items/{id}/r7", True),  # a variable where other permissions have 500 literals
        ("DELETE", "/{any}/{id}/{rest}", False),  # variables only: every DELETE deny overlaps
    ],
)
def test_a_decision_never_checks_the_permissions_one_by_one(
    method: str, route: str, allowed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a principal with 5,000 permissions, all under /items (docs/benchmarks.md, "RBAC at scale": a greedy
    # route used to check every one of them, ~9x the cost of 10 permissions)
    effective = _large_effective()
    resource = parse_template(route)
    expected = reference_decide(method, resource, effective)
    assert expected.allowed is allowed
    calls: list[str] = []
    import edgeauth.core.roles as roles_module

    for name in ("covers", "overlaps", "method_matches"):
        real = getattr(roles_module, name)
        monkeypatch.setattr(
            roles_module, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a)
        )
    # WHEN the request path decides (no trace)
    decision = decide(method, resource, effective)
    # THEN it is the full scan's decision and rule, found without testing any permission by itself
    # (the tries' walk follows the route's segments only)
    assert decision == expected._replace(matched=())
    assert calls == []
    # AND explain's trace is the full scan (every matching rule, in order)
    assert decide(method, resource, effective, trace=True).matched == expected.matched
