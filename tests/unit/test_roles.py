"""Role items and the RBAC decision: deny by default, deny wins, malformed never widens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from edgeauth.core.roles import (
    MAX_INHERITANCE_DEPTH,
    EffectiveRoles,
    Role,
    RoleSource,
    decide,
    parse_role_item,
    parse_role_names,
    resolve_roles,
    valid_role_name,
)
from edgeauth.core.routes import parse_template


def table(items: Mapping[str, Mapping[str, Any]]) -> Any:
    roles = {name: parse_role_item(name, item) for name, item in items.items()}
    calls: list[list[str]] = []

    def fetch(names: Iterable[str]) -> dict[str, Role | None]:
        names = list(names)
        calls.append(names)
        return {n: roles.get(n) for n in names}

    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


def effective(items: Mapping[str, Mapping[str, Any]], *granted: str) -> EffectiveRoles:
    return resolve_roles([RoleSource(g, "subject") for g in granted], table(items))


def allowed(eff: EffectiveRoles, method: str, resource: str) -> bool:
    return decide(method, parse_template(resource), eff).allowed


def test_well_formed_role_parses_lists_and_string_sets() -> None:
    role = parse_role_item("r", {"allow": {"GET /a"}, "deny": ["POST /a"], "inherit": [], "disabled": False})
    assert role.problems == ()
    assert [p.text for p in role.allow] == ["GET /a"]
    assert role.grants


@pytest.mark.parametrize(
    "item",
    [
        {"allow": "GET /a"},
        {"allow": ["GET a"]},
        {"allow": ["FETCH /a"]},
        {"allow": [1]},
        {"disabled": "false"},
        {"inherit": ["bad name"]},
        {"alow": ["GET /a"]},
    ],
)
def test_malformed_role_grants_nothing(item: dict[str, Any]) -> None:
    role = parse_role_item("r", {"allow": ["GET /a"], **item} if "allow" not in item else item)
    assert role.problems
    eff = effective({"r": {"allow": ["GET /a"], **item} if "allow" not in item else item}, "r")
    assert not allowed(eff, "GET", "/a")


def test_malformed_deny_entry_denies_everything_for_the_holder() -> None:
    eff = effective(
        {"broken": {"deny": ["DELETE /accounts/{id"]}, "reader": {"allow": ["GET /accounts"]}},
        "broken",
        "reader",
    )
    d = decide("GET", parse_template("/accounts"), eff)
    assert not d.allowed and d.reason == "explicit_deny"


def test_deny_beats_allow_across_roles() -> None:
    eff = effective({"a": {"allow": ["* /{p+}"]}, "b": {"deny": ["DELETE /{p+}"]}}, "a", "b")
    assert allowed(eff, "GET", "/accounts/{id}")
    d = decide("DELETE", parse_template("/accounts/{id}"), eff)
    assert (d.allowed, d.reason, d.rule) == (False, "explicit_deny", "b:deny:DELETE /{p+}")


def test_deny_by_default() -> None:
    eff = effective({"r": {"allow": ["GET /a"]}}, "r")
    d = decide("GET", parse_template("/b"), eff)
    assert (d.allowed, d.reason) == (False, "no_matching_permission")
    assert decide("GET", parse_template("/a"), effective({})).reason == "no_roles"


def test_inheritance_is_followed_with_provenance() -> None:
    eff = effective(
        {
            "reader": {"allow": ["GET /accounts"]},
            "teller": {"allow": ["POST /t"], "inherit": ["reader"]},
            "lead": {"inherit": ["teller"]},
        },
        "lead",
    )
    assert allowed(eff, "GET", "/accounts")
    assert eff.granting == ("lead", "reader", "teller")
    assert RoleSource("reader", "inherited:teller") in eff.sources


def test_cycle_members_grant_nothing_and_are_reported() -> None:
    eff = effective(
        {
            "a": {"allow": ["GET /a"], "inherit": ["b"]},
            "b": {"allow": ["GET /b"], "inherit": ["a"]},
            "c": {"allow": ["GET /c"]},
        },
        "a",
        "c",
    )
    assert not allowed(eff, "GET", "/a")
    assert not allowed(eff, "GET", "/b")
    assert allowed(eff, "GET", "/c")
    assert any("cycle" in p for p in eff.problems)


def test_missing_parent_grants_nothing_but_the_child_keeps_its_own() -> None:
    eff = effective({"child": {"allow": ["GET /own"], "inherit": ["ghost"]}}, "child")
    assert allowed(eff, "GET", "/own")
    assert any("ghost" in p for p in eff.problems)


def test_disabled_role_grants_nothing_is_not_followed_but_its_denies_apply() -> None:
    eff = effective(
        {
            "off": {"allow": ["GET /a"], "deny": ["GET /b"], "inherit": ["p"], "disabled": True},
            "p": {"allow": ["GET /c"]},
            "on": {"allow": ["GET /b"]},
        },
        "off",
        "on",
    )
    assert not allowed(eff, "GET", "/a")
    assert not allowed(eff, "GET", "/c")
    assert not allowed(eff, "GET", "/b")


def test_inheritance_depth_is_bounded() -> None:
    items: dict[str, dict[str, Any]] = {f"r{i}": {"inherit": [f"r{i + 1}"]} for i in range(20)}
    items["r20"] = {"allow": ["GET /deep"]}
    items["r0"]["allow"] = ["GET /near"]
    eff = effective(items, "r0")
    # Past the limit nothing is read, and every route is refused: what lies beyond is unknown.
    assert set(eff.roles) == {f"r{i}" for i in range(MAX_INHERITANCE_DEPTH + 1)}
    assert eff.too_deep == f"r{MAX_INHERITANCE_DEPTH}:inherit:r{MAX_INHERITANCE_DEPTH + 1}"
    assert eff.beyond_limit == (f"r{MAX_INHERITANCE_DEPTH + 1}",)
    for route in ("/deep", "/near"):
        d = decide("GET", parse_template(route), eff)
        assert (d.allowed, d.reason, d.rule) == (False, "inheritance_too_deep", eff.too_deep)
    assert any("deeper than 8 levels" in p for p in eff.problems)


# -- the issue's example: editor allows DELETE /accounts/{id}; contractor inherits a guard denying it --

GUARDED: dict[str, dict[str, Any]] = {
    "editor": {"allow": ["DELETE /accounts/{id}", "GET /accounts"]},
    "contractor": {"allow": ["GET /reports"], "inherit": ["guard"]},
    "guard": {"deny": ["DELETE /accounts/{id}"]},
}


def _delete_decision(items: dict[str, dict[str, Any]]) -> Any:
    return decide("DELETE", parse_template("/accounts/{id}"), effective(items, "editor", "contractor"))


def test_the_guard_denies_through_the_contractor() -> None:
    d = _delete_decision(GUARDED)
    assert (d.allowed, d.reason, d.rule) == (False, "explicit_deny", "guard:deny:DELETE /accounts/{id}")


@pytest.mark.parametrize(
    "contractor",
    [
        {"allow": ["GET /reports"], "inherit": ["guard"], "disabled": True},
        {"allow": ["GET /reports"], "inherit": ["guard"], "colour": "red"},  # unknown attribute
        {"allow": ["GET /reports", "FETCH /x"], "inherit": ["guard"]},  # a bad permission
        {"allow": ["GET /reports"], "inherit": ["guard"], "disabled": "yes"},  # wrong type
        {"allow": ["GET /reports"], "inherit": ["guard", "contractor"]},  # in a cycle (itself)
        {"allow": ["GET /reports"], "inherit": ["guard", "bad name"]},  # an invalid parent name
    ],
    ids=["disabled", "unknown-attribute", "bad-permission", "disabled-not-a-boolean", "cycle", "bad-parent"],
)
def test_disabling_or_breaking_the_contractor_keeps_the_guards_deny(contractor: dict[str, Any]) -> None:
    # Disabling or breaking a role never widens access: the guard's deny still applies.
    eff = effective({**GUARDED, "contractor": contractor}, "editor", "contractor")
    assert "contractor" not in eff.granting
    assert "guard" in eff.roles
    d = _delete_decision({**GUARDED, "contractor": contractor})
    assert (d.allowed, d.reason, d.rule) == (False, "explicit_deny", "guard:deny:DELETE /accounts/{id}")
    assert allowed(eff, "GET", "/accounts")  # the editor still grants the rest
    assert not allowed(eff, "GET", "/reports")  # the broken contractor grants nothing


def test_a_guard_reached_through_a_cycle_still_denies() -> None:
    items = {
        **GUARDED,
        "contractor": {"inherit": ["temp"]},
        "temp": {"inherit": ["contractor", "guard"]},
    }
    eff = effective(items, "editor", "contractor")
    assert eff.cyclic == {"contractor", "temp"}
    assert _delete_decision(items).reason == "explicit_deny"


def test_a_guard_beyond_the_depth_limit_denies_every_route() -> None:
    # contractor -> c1 -> ... -> cN -> guard: the guard at level N + 1 (the held roles are level 0)
    def chain(links: int) -> dict[str, dict[str, Any]]:
        items = {**GUARDED, "contractor": {"inherit": ["c1"]}}
        for k in range(1, links + 1):
            items[f"c{k}"] = {"inherit": [f"c{k + 1}" if k < links else "guard"]}
        return items

    # Within the limit (guard at level 8): the deny applies, the rest is still allowed.
    within = effective(chain(MAX_INHERITANCE_DEPTH - 1), "editor", "contractor")
    assert within.too_deep is None
    assert _delete_decision(chain(MAX_INHERITANCE_DEPTH - 1)).reason == "explicit_deny"
    assert allowed(within, "GET", "/accounts")
    # One level further (guard at level 9, unread): every route is refused, and says why.
    past = effective(chain(MAX_INHERITANCE_DEPTH), "editor", "contractor")
    assert past.too_deep == f"c{MAX_INHERITANCE_DEPTH}:inherit:guard" and "guard" not in past.roles
    for method, route in (("DELETE", "/accounts/{id}"), ("GET", "/accounts")):
        d = decide(method, parse_template(route), past)
        assert (d.allowed, d.reason, d.rule) == (False, "inheritance_too_deep", past.too_deep)


def test_an_explicit_deny_is_reported_before_the_depth_limit() -> None:
    items: dict[str, dict[str, Any]] = {f"r{i}": {"inherit": [f"r{i + 1}"]} for i in range(12)}
    items["r0"]["deny"] = ["GET /x"]
    eff = effective(items, "r0")
    assert decide("GET", parse_template("/x"), eff).reason == "explicit_deny"
    assert decide("GET", parse_template("/y"), eff).reason == "inheritance_too_deep"


def test_allows_come_only_along_enabled_well_formed_chains() -> None:
    items = {
        "held": {"inherit": ["off", "on"]},
        "off": {"disabled": True, "inherit": ["behind-off"]},
        "behind-off": {"allow": ["GET /a"]},
        "on": {"inherit": ["behind-on"]},
        "behind-on": {"allow": ["GET /b"]},
    }
    eff = effective(items, "held")
    assert eff.granting == ("behind-on", "held", "on")
    assert set(eff.roles) == set(items)  # every role is read: their denies apply
    assert not allowed(eff, "GET", "/a") and allowed(eff, "GET", "/b")
    # ... but a role reachable both ways grants through the enabled chain.
    items["on"]["inherit"] = ["behind-on", "behind-off"]
    assert allowed(effective(items, "held"), "GET", "/a")


def test_roles_are_fetched_one_batch_per_inheritance_level() -> None:
    fetch = table({"a": {"inherit": ["b", "c"]}, "b": {"inherit": ["d"]}, "c": {}, "d": {}})
    resolve_roles([RoleSource("a", "subject")], fetch)
    assert fetch.calls == [["a"], ["b", "c"], ["d"]]


@pytest.mark.parametrize("name", ["viewer,admin", ",", "a,", ",b"])
def test_a_comma_makes_a_role_name_invalid_everywhere_the_authorizer_parses_one(name: str) -> None:
    # The roles context value joins role names with commas: a name with one would read as two.
    assert not valid_role_name(name)
    role = parse_role_item(name, {"allow": ["GET /a"]})
    assert any("invalid role name" in p and "no ','" in p for p in role.problems)
    assert not role.grants
    assert parse_role_names(["reader", name]) == (
        ("reader",),
        (f"roles: invalid role name {name!r} (1-128 printable characters, no '#', no ',', no whitespace)",),
    )
    child = parse_role_item("child", {"inherit": [name]})
    assert child.problems and not child.grants


def test_a_glob_permission_in_a_stored_item_is_malformed_like_any_other() -> None:
    # GIVEN items written by hand with "GET /accounts/*" (a glob; the grammar has none)
    items = {
        "globber": {"allow": ["GET /accounts/*", "GET /own"]},
        "guarded": {"allow": ["* /{proxy+}"], "deny": ["DELETE /accounts/*"]},
    }
    # THEN an allow with it makes the role grant nothing at all, not even its good entries
    eff = effective(items, "globber")
    assert eff.roles["globber"].problems and not eff.granting
    for method, route in (("GET", "/accounts/{id}"), ("GET", "/accounts/*"), ("GET", "/own")):
        assert not allowed(eff, method, route)
    # AND a deny with it denies every route to its holders (what it meant to deny is unknown)
    eff = effective(items, "guarded")
    assert eff.roles["guarded"].deny_all
    for method, route in (("GET", "/accounts"), ("DELETE", "/accounts/{id}"), ("POST", "/other")):
        d = decide(method, parse_template(route), eff)
        assert (d.allowed, d.reason, d.rule) == (False, "explicit_deny", "guarded:deny:<malformed>")
