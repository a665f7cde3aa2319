"""Resource templates, permissions, and API Gateway's route selection."""

from __future__ import annotations

import copy
import json
import pickle
import re

import pytest
import simplejson

from edgeauth.core.policy import MethodArn, read_only, route_policy
from edgeauth.core.routes import (
    RouteTable,
    TemplateError,
    covers,
    overlaps,
    parse_permission,
    parse_template,
    template_arn_suffix,
)


@pytest.mark.parametrize(
    "bad",
    [
        "accounts",
        "/accounts/",
        "//x",
        "/a/{id",
        "/a/{}",
        "/{proxy+}/tail",
        "/a/{id}/{id}",
        "/a b",
        "/a/x{id}",
    ],
)
def test_malformed_templates_are_refused(bad: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(bad)


@pytest.mark.parametrize(
    "bad",
    ["GET", "FETCH /a", "get /a", "GET /a extra", "GET a", "", "* "],
)
def test_malformed_permissions_are_refused(bad: str) -> None:
    with pytest.raises(TemplateError):
        parse_permission(bad)


def test_permission_method_may_be_any() -> None:
    assert parse_permission("*  /a/{b}").method == "*"


@pytest.mark.parametrize(
    ("permission", "segment"),
    [
        ("GET /accounts/*", "*"),
        ("GET /accounts/**", "**"),
        ("* /*", "*"),
        ("GET /accounts/*/transactions", "*"),
        ("GET /acc*", "acc*"),
        ("DELETE /accounts/4?", "4?"),
        ("GET /accounts/[0-9]", "[0-9]"),
    ],
)
def test_a_glob_in_a_permission_is_refused_with_a_hint(permission: str, segment: str) -> None:
    # The grammar has no globs: "GET /accounts/*" would grant only a resource literally named
    # "/accounts/*", never "/accounts/{id}", so it is refused, saying what to write instead.
    with pytest.raises(TemplateError) as e:
        parse_permission(permission)
    message = str(e.value)
    assert repr(segment) in message and repr(permission) in message
    assert "use {id}" in message and "{proxy+}" in message
    # The permissions it suggests are what to write instead, and are accepted.
    suggested = re.findall(r"\((\S+ /[^)]*)\)", message)
    assert suggested and all(parse_permission(p) for p in suggested)


@pytest.mark.parametrize(
    ("permission", "resource", "expected"),
    [
        ("/accounts/{id}", "/accounts/{accountId}", True),
        ("/accounts/{id}", "/accounts/42", True),
        ("/accounts/42", "/accounts/{id}", False),  # the cached answer also serves /accounts/43
        ("/accounts/{id}", "/accounts", False),
        ("/accounts/{id}", "/accounts/{id}/transfers", False),
        ("/{proxy+}", "/accounts/{id}/transfers", True),
        ("/{proxy+}", "/", False),
        ("/accounts/{p+}", "/accounts/{id}", True),
        ("/accounts/{id}", "/{proxy+}", False),  # greedy resource spans more than one segment
        ("/{p+}", "/{proxy+}", True),
        ("/", "/", True),
    ],
)
def test_allow_applies_only_when_the_permission_covers_the_whole_template(
    permission: str, resource: str, expected: bool
) -> None:
    assert covers(parse_template(permission), parse_template(resource)) is expected


@pytest.mark.parametrize(
    ("permission", "resource", "expected"),
    [
        ("/accounts/42", "/accounts/{id}", True),
        ("/admin/config", "/{proxy+}", True),
        ("/accounts/{id}", "/{proxy+}", True),
        ("/admin/{x}", "/accounts/{id}", False),
        ("/a/b/c", "/a/{x}", False),
        ("/{p+}", "/", False),
        ("/", "/", True),
        ("/a", "/{proxy+}", True),
    ],
)
def test_deny_applies_when_the_permission_overlaps_the_template(
    permission: str, resource: str, expected: bool
) -> None:
    assert overlaps(parse_template(permission), parse_template(resource)) is expected


def test_route_table_prefers_literal_then_variable_then_greedy_with_backtracking() -> None:
    table = RouteTable(
        ["/", "/{proxy+}", "/accounts", "/accounts/{id}", "/accounts/{id}/transfers", "/accounts/me"]
    )

    def tmpl(path: str) -> str | None:
        m = table.match(path)
        return m.template.text if m else None

    assert tmpl("/") == "/"
    assert tmpl("/accounts/me") == "/accounts/me"
    assert tmpl("/accounts/7") == "/accounts/{id}"
    assert tmpl("/accounts/7/transfers") == "/accounts/{id}/transfers"
    assert tmpl("/accounts/7/other") == "/{proxy+}"
    m = table.match("/x/y/z")
    assert m is not None and m.params == {"proxy": "x/y/z"}
    assert RouteTable(["/accounts"]).match("/other") is None


def test_policy_resource_is_the_template_with_variables_as_wildcards() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:eu-west-1:111122223333:api1/prod/GET/accounts/42/transfers")
    tmpl = parse_template("/accounts/{id}/transfers")
    assert template_arn_suffix(tmpl) == "/accounts/*/transfers"
    answer = route_policy(arn, "POST", tmpl, True, "carol", {"sub": "carol"}, "key")
    assert answer["policyDocument"]["Statement"][0]["Resource"] == (
        "arn:aws:execute-api:eu-west-1:111122223333:api1/prod/POST/accounts/*/transfers"
    )
    assert answer["usageIdentifierKey"] == "key"
    deny = route_policy(arn, "GET", parse_template("/"), False, "carol", None, "key")
    assert deny["policyDocument"]["Statement"][0]["Resource"].endswith("/prod/GET/")
    assert "usageIdentifierKey" not in deny and "context" not in deny


@pytest.mark.parametrize("bad", ["", "arn:aws:lambda:x:y:z", "arn:aws:execute-api:r:a:api", "x/y/z"])
def test_malformed_method_arn_is_a_request_error(bad: str) -> None:
    from edgeauth.core.errors import RequestError

    with pytest.raises(RequestError):
        MethodArn.parse(bad)


def test_a_read_only_answer_reads_encodes_and_copies_like_the_plain_one() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/accounts/42")
    plain = route_policy(arn, "GET", parse_template("/accounts/{id}"), True, "carol", {"sub": "carol"}, "k")
    frozen = read_only(plain)
    assert frozen == plain and json.dumps(frozen) == json.dumps(plain)
    assert json.dumps(frozen, indent=2) == json.dumps(plain, indent=2)  # the pure-Python encoder too
    # The Lambda runtime marshals a handler's return value with simplejson (C speedups and not).
    assert simplejson.JSONEncoder(use_decimal=False).encode(frozen) == simplejson.dumps(plain)
    assert simplejson.dumps(frozen, indent=2) == simplejson.dumps(plain, indent=2)
    assert pickle.loads(pickle.dumps(frozen)) == plain  # noqa: S301 - our own bytes
    for mine in (copy.deepcopy(frozen), copy.copy(frozen), dict(frozen)):
        mine["principalId"] = "someone"  # copies are the caller's own
    deep = copy.deepcopy(frozen)
    deep["policyDocument"]["Statement"][0]["Effect"] = "Deny"
    assert frozen["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    statements = frozen["policyDocument"]["Statement"]
    for change in (
        lambda: frozen.__setitem__("principalId", "x"),
        lambda: frozen.__delitem__("principalId"),
        lambda: frozen.setdefault("x", 1),
        frozen.popitem,
        lambda: frozen.__ior__({"x": 1}),
        lambda: statements.extend([{}]),
        lambda: statements.insert(0, {}),
        lambda: statements.remove(statements[0]),
        lambda: statements.__delitem__(0),
        lambda: statements.__iadd__([{}]),
        statements.sort,
        lambda: statements[0].__setitem__("Resource", "*"),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert frozen == plain
