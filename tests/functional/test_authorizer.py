"""The authorizer end to end in-process: real PyJWT signatures, moto DynamoDB, fake JWKS endpoint.

GIVEN a role table and an issuer, WHEN API Gateway sends a REQUEST event, THEN the answer is the one
API Gateway needs (401 by exception, Deny/Allow policy for the route, 500 by exception on faults),
and exactly one audit line is written with the reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edgeauth.authorizer import Unauthorized
from edgeauth.bootstrap import build_authorizer
from edgeauth.core.errors import ConfigError, RoleStoreError
from tests.conftest import issuer_env, put_item, put_role
from tests.support.dynamo_server import authorizer_client
from tests.support.events import API_ARN, authorizer_event
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import ISSUER, claims, make_key, sign

JWKS_URL = "https://idp.example.com/jwks.json"


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    """The role table on moto's server: the authorizer reads it with its own client, over HTTP."""
    return dynamodb_server


class Harness:
    def __init__(self, dynamodb: Any, **issuer: Any) -> None:
        self.key = make_key("RS256", "k1")
        from tests.support.tokens import jwks

        self.endpoint = FakeKeyEndpoint({JWKS_URL: jwks(self.key)})
        self.lines: list[str] = []
        self.authorizer = build_authorizer(
            issuer_env(**issuer),
            emit=self.lines.append,
            fetch=self.endpoint,
            dynamodb_client=authorizer_client(dynamodb),
            on_jwks_fetch=None,
        )

    def call(self, token: str | None, **event: Any) -> dict[str, Any]:
        auth = f"Bearer {token}" if token is not None else None
        return self.authorizer.authorize(authorizer_event(authorization=auth, **event))

    @property
    def audit(self) -> dict[str, Any]:
        assert self.lines, "no audit line written"
        return json.loads(self.lines[-1])


@pytest.fixture
def h(dynamodb: Any) -> Harness:
    put_role(dynamodb, "reader", allow=["GET /accounts", "GET /accounts/{id}"])
    put_role(
        dynamodb,
        "teller",
        allow=["POST /accounts/{id}/transfers"],
        inherit=["reader"],
    )
    put_role(dynamodb, "admin", allow=["* /{proxy+}", "* /"], deny=["DELETE /admin/config"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "bob", roles=["teller"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "alice", roles=["admin"])
    return Harness(dynamodb)


def test_allow_returns_a_policy_for_the_route_template_with_context_and_usage_key(h: Harness) -> None:
    # WHEN carol (reader) calls GET /accounts/42
    answer = h.call(sign(h.key, claims(sub="carol")))
    # THEN the policy allows exactly the route's template, with path variables as *
    stmt = answer["policyDocument"]["Statement"]
    assert stmt == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{API_ARN}/prod/GET/accounts/*"}
    ]
    assert answer["principalId"] == "carol"
    assert answer["context"] == {"sub": "carol", "iss": ISSUER, "roles": "reader"}
    assert answer["usageIdentifierKey"] == "edgeauth-default-key-0123456789"
    line = h.audit
    assert (line["decision"], line["reason"], line["rule"]) == (
        "allow",
        "allowed",
        "reader:allow:GET /accounts/{id}",
    )
    assert line["sub"] == "carol" and line["roles"] == ["reader"] and line["path"] == "/accounts/42"


def test_inherited_role_grants_parent_permissions(h: Harness) -> None:
    answer = h.call(sign(h.key, claims(sub="bob")), method="GET", resource="/accounts", path="/accounts")
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert h.audit["roles"] == ["reader", "teller"]


def test_rbac_denial_is_a_deny_policy_that_says_nothing_about_why(h: Harness) -> None:
    answer = h.call(
        sign(h.key, claims(sub="carol")),
        method="POST",
        resource="/accounts/{id}/transfers",
        path="/accounts/42/transfers",
    )
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == f"{API_ARN}/prod/POST/accounts/*/transfers"
    assert "usageIdentifierKey" not in answer
    assert "reason" not in json.dumps(answer) and "no_matching" not in json.dumps(answer)
    assert (h.audit["decision"], h.audit["reason"]) == ("deny", "no_matching_permission")


def test_explicit_deny_beats_allow(h: Harness) -> None:
    answer = h.call(
        sign(h.key, claims(sub="alice")), method="DELETE", resource="/{proxy+}", path="/admin/config"
    )
    # /{proxy+} overlaps DELETE /admin/config: the whole template must be denied for DELETE.
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert h.audit["reason"] == "explicit_deny"
    assert h.audit["rule"] == "admin:deny:DELETE /admin/config"


def test_head_is_not_get_and_override_headers_are_ignored(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    answer = h.call(token, method="HEAD", resource="/accounts/{id}")
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    answer = h.call(
        token,
        method="POST",
        resource="/accounts/{id}/transfers",
        path="/accounts/1/transfers",
        headers={"X-HTTP-Method-Override": "GET"},
        query={"_method": "GET"},
    )
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_unknown_subject_has_no_roles_and_is_denied(h: Harness) -> None:
    answer = h.call(sign(h.key, claims(sub="mallory")))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert h.audit["reason"] == "no_roles"


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing_token"),
        ("Basic dXNlcjpwYXNz", "malformed_authorization"),
        ("Bearer", "malformed_authorization"),
        ("Bearer a b", "malformed_authorization"),
        ("Bearer not-a-jwt", "malformed_token"),
    ],
)
def test_authentication_failures_raise_unauthorized(
    h: Harness, authorization: str | None, reason: str
) -> None:
    with pytest.raises(Unauthorized) as info:
        h.authorizer.authorize(authorizer_event(authorization=authorization))
    assert str(info.value) == "Unauthorized"
    assert (h.audit["decision"], h.audit["reason"]) == ("unauthorized", reason)


def test_bearer_scheme_is_case_insensitive_and_allows_several_spaces(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    answer = h.authorizer.authorize(authorizer_event(authorization=f"bEaReR   {token}"))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_header_name_is_case_insensitive(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    event = authorizer_event(headers={"authorization": f"Bearer {token}"})
    event["multiValueHeaders"] = {}
    assert h.authorizer.authorize(event)["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_two_authorization_values_are_refused(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    with pytest.raises(Unauthorized):
        h.authorizer.authorize(authorizer_event(authorization=[f"Bearer {token}", f"Bearer {token}"]))
    assert h.audit["reason"] == "multiple_authorization"
    event = authorizer_event(headers={"authorization": f"Bearer {token}", "Authorization": f"Bearer {token}"})
    event["multiValueHeaders"] = {}
    with pytest.raises(Unauthorized):
        h.authorizer.authorize(event)


def test_audit_line_never_contains_the_token_or_its_signature(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    h.call(token)
    with pytest.raises(Unauthorized):
        h.call(token[:-4] + "AAAA")
    for line in h.lines:
        assert token not in line
        assert token.split(".")[2][:20] not in line
        assert token.split(".")[1] not in line


def test_audit_line_is_emf_with_decision_metrics(h: Harness) -> None:
    h.call(sign(h.key, claims(sub="carol")))
    line = h.audit
    metrics = line["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == "EdgeAuth"
    assert metrics["Dimensions"] == [["decision", "reason"]]
    assert line["Decisions"] == 1 and line["LatencyMs"] >= 0
    assert line["message"] == "authorization decision" and line["level"] == "INFO"


def test_role_table_fault_fails_closed_with_an_error_not_a_deny(dynamodb: Any) -> None:
    h = Harness(dynamodb)

    def throttle(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "BatchGetItem",
        )

    h.authorizer.store._client = type(
        "C", (), {"batch_get_item": staticmethod(throttle), "get_item": staticmethod(throttle)}
    )()
    with pytest.raises(RoleStoreError):
        h.call(sign(h.key, claims(sub="carol")))
    assert (h.audit["decision"], h.audit["reason"]) == ("error", "role_store_unavailable")


def test_missing_table_fails_closed(dynamodb: Any) -> None:
    dynamodb.delete_table(TableName="edgeauth-roles-test")
    h = Harness(dynamodb)
    with pytest.raises(RoleStoreError):
        h.call(sign(h.key, claims(sub="carol")))


def test_jwks_unreachable_for_unknown_key_is_an_error(dynamodb: Any) -> None:
    h = Harness(dynamodb)
    h.endpoint.failing = True
    from edgeauth.core.errors import JwksUnavailableError

    with pytest.raises(JwksUnavailableError):
        h.call(sign(h.key, claims(sub="carol")))
    assert h.audit["decision"] == "error"


def test_an_unknown_kid_during_a_jwks_outage_is_a_500_an_operator_can_tell_apart(h: Harness) -> None:
    """Deliberate choice (SECURITY.md): an unknown kid while the issuer's JWKS endpoint fails is a
    500, not a 401 (it may be a key rotated in during the outage). Its reason, in the audit line and
    as the EMF metric's dimension, is its own, and the line carries the kid as presented."""
    from edgeauth.core.errors import JwksUnavailableError, JwksUnknownKidError
    from tests.support.fakes import Clock

    # GIVEN the issuer's keys were fetched, then its endpoint fails and the cooldown has passed
    clock = Clock(10_000.0)
    h.authorizer.verifier._key_sets[ISSUER]._clock = clock
    known = sign(h.key, claims(sub="carol"))
    assert h.call(known)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    h.endpoint.failing = True
    clock.advance(31)
    # WHEN a token names a kid the cached keys lack
    stranger = sign(make_key("RS256", "random-kid-7f3a", slot=1), claims(sub="carol"))
    with pytest.raises(JwksUnknownKidError) as info:
        h.call(stranger)
    # THEN it is a JWKS outage (500, nothing cached) with its own reason and metric dimension
    assert isinstance(info.value, JwksUnavailableError) and str(info.value) != "Unauthorized"
    line = h.audit
    assert (line["decision"], line["reason"]) == ("error", "jwks_unavailable_unknown_kid")
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["decision", "reason"]]
    assert (line["kid"], line["iss"]) == ("random-kid-7f3a", ISSUER)  # as presented, never trusted
    # ... while a token of a known key is still allowed (keys served stale within the bound)
    assert h.call(known)["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_revoked_subject_tokens_issued_before_not_before_are_refused(h: Harness, dynamodb: Any) -> None:
    token = sign(h.key, claims(sub="carol", iat=1_700_000_000, exp=1_700_000_300))
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"], not_before=1_700_000_100)
    h.authorizer.verifier._clock = lambda: 1_700_000_200.0  # type: ignore[method-assign]
    with pytest.raises(Unauthorized):
        h.call(token)
    assert h.audit["reason"] == "revoked"


def test_group_claim_maps_to_roles_only_through_table_items(h: Harness, dynamodb: Any) -> None:
    # A group literally named like a role grants nothing without a mapping item.
    token = sign(h.key, claims(sub="dave", groups=["admin"]))
    assert h.call(token)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    put_item(dynamodb, f"GROUP#{ISSUER}", "tellers", roles=["teller"])
    token = sign(h.key, claims(sub="erin", groups=["tellers"]))
    answer = h.call(token, method="POST", resource="/accounts/{id}/transfers", path="/accounts/1/transfers")
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_client_with_its_own_key_gets_it_as_usage_identifier(h: Harness, dynamodb: Any) -> None:
    put_item(dynamodb, f"CLIENT#{ISSUER}", "mobile-app", tier="gold", usage_key="key-of-mobile-app-000000")
    answer = h.call(sign(h.key, claims(sub="carol", client_id="mobile-app")))
    assert answer["usageIdentifierKey"] == "key-of-mobile-app-000000"
    assert answer["context"]["clientId"] == "mobile-app"


def test_repeated_token_is_served_from_the_cache_without_reverifying(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    h.call(token)
    verified_first = h.authorizer.verifier.verify(token)
    assert verified_first[1] is True
    assert len(h.endpoint.calls) == 1


def test_repeated_token_on_a_route_gets_the_same_read_only_answer_and_its_own_audit_line(h: Harness) -> None:
    # The second answer comes from the authorizer's per-token, per-route memo: the very object it
    # keeps, so no caller can change it (a change would reach the next caller's answer).
    token = sign(h.key, claims(sub="carol"))
    first = h.call(token)
    first_line = h.audit
    changes: list[Callable[[], object]] = [
        lambda: first["context"].__setitem__("roles", "admin"),
        lambda: first["policyDocument"]["Statement"][0].__setitem__("Effect", "Allow-everything"),
        lambda: first["policyDocument"]["Statement"].append({"Effect": "Allow"}),
        lambda: first.pop("context"),
        lambda: first.update(principalId="root"),
        first["policyDocument"].clear,
        lambda: first["policyDocument"]["Statement"].__setitem__(0, {}),
    ]
    for change in changes:
        with pytest.raises(TypeError, match="read-only"):
            change()
    mine = copy.deepcopy(first)  # a caller that needs to change it gets a plain copy
    mine["context"]["roles"] = "admin"
    mine["policyDocument"]["Statement"].append({"Effect": "Allow"})
    assert type(mine) is dict and type(mine["policyDocument"]["Statement"]) is list
    assert json.loads(json.dumps(first)) == first  # what the Lambda runtime sends: unchanged
    event = authorizer_event(authorization=f"Bearer {token}")
    event["requestContext"]["requestId"] = "req-2"
    second = h.authorizer.authorize(event)
    third = h.call(token)
    assert second == third == first
    assert second["context"]["roles"] == "reader"
    assert second["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{API_ARN}/prod/GET/accounts/*"}
    ]
    second_line = json.loads(h.lines[-2])
    assert second_line["request_id"] == "req-2"
    for field in ("decision", "reason", "rule", "iss", "sub", "kid", "jti", "roles", "method", "resource"):
        assert second_line[field] == first_line[field]


def test_a_role_change_reaches_a_repeated_token_once_the_role_cache_refreshes(
    h: Harness, dynamodb: Any
) -> None:
    token = sign(h.key, claims(sub="carol"))
    assert h.call(token)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["nobody"])
    later = h.authorizer.store._clock() + h.authorizer.store.cache_ttl + 1
    h.authorizer.store._clock = lambda: later  # type: ignore[method-assign]
    assert h.call(token)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert (h.audit["decision"], h.audit["roles"]) == ("deny", [])


def test_malformed_event_raises(h: Harness) -> None:
    with pytest.raises(Exception) as info:
        h.authorizer.authorize({"headers": {}})
    assert str(info.value) != "Unauthorized"


def test_bad_configuration_stops_init_naming_the_setting(dynamodb: Any) -> None:
    env = issuer_env(jwks_uri="http://idp.example.com/jwks.json")
    with pytest.raises(ConfigError) as info:
        build_authorizer(env, emit=print)
    assert info.value.setting == "EDGEAUTH_ISSUERS[0].jwks_uri"
    assert "https" in info.value.problem


def test_a_role_named_with_a_comma_never_reaches_the_roles_context(h: Harness, dynamodb: Any) -> None:
    # GIVEN a role whose name has a comma (written by hand: the CLI refuses it), held by dave with
    # reader. The answer's ``roles`` context is the granting roles joined with commas, so the name
    # would reach the backend as two roles, ``viewer`` and ``admin``.
    put_role(dynamodb, "viewer,admin", allow=["GET /accounts", "DELETE /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "dave", roles=["viewer,admin", "reader"])
    token = sign(h.key, claims(sub="dave"))
    # WHEN dave calls a route only the comma-named role allows, and one reader allows
    denied = h.call(token, method="DELETE", resource="/accounts/{id}", path="/accounts/42")
    allowed = h.call(token, method="GET", resource="/accounts", path="/accounts")
    # THEN the comma-named role is malformed (an invalid name): it grants nothing and is not in
    # the context, where every comma separates two real roles
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert allowed["context"]["roles"] == "reader"
    assert h.audit["roles"] == ["reader"]


def test_a_disabled_roles_inherited_deny_and_a_chain_past_the_limit_are_403s_with_their_reason(
    h: Harness, dynamodb: Any
) -> None:
    # GIVEN erin holds teller (allows via reader) and a disabled contractor inheriting a guard
    put_role(dynamodb, "contractor", inherit=["guard"], disabled=True)
    put_role(dynamodb, "guard", deny=["GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "erin", roles=["teller", "contractor"])
    token = sign(h.key, claims(sub="erin"))
    # WHEN erin reads an account THEN the disabled contractor's guard still denies it (403)
    answer = h.call(token)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert (h.audit["reason"], h.audit["rule"]) == ("explicit_deny", "guard:deny:GET /accounts/{id}")
    assert answer["context"] == {"sub": "erin", "iss": ISSUER}
    # GIVEN the guard nine levels above erin's contractor, past the limit, for a new principal
    put_role(dynamodb, "contractor", inherit=["c1"], disabled=True)
    for k in range(1, 9):
        put_role(dynamodb, f"c{k}", inherit=[f"c{k + 1}" if k < 8 else "guard"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "fay", roles=["teller", "contractor"])
    h.authorizer.store.invalidate()  # the container's role cache still holds the old contractor
    # WHEN fay calls a route teller allows THEN a Deny (403, cached like any deny), never a 500,
    # and the audit line names the reason and the link not followed; the answer says nothing
    answer = h.call(sign(h.key, claims(sub="fay")), method="GET", resource="/accounts", path="/accounts")
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert (h.audit["decision"], h.audit["reason"]) == ("deny", "inheritance_too_deep")
    assert h.audit["rule"] == "c8:inherit:guard"
    assert "inheritance" not in json.dumps(answer)


def test_a_principals_roles_are_encoded_for_the_audit_line_once_not_on_every_new_route(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A principal may hold hundreds of roles: encoding their names for every new route cost more
    # than the rest of the route's answer (docs/benchmarks.md, "RBAC at scale").
    import edgeauth.authorizer as authorizer_module

    encoded: list[Any] = []
    real = authorizer_module.string_list
    monkeypatch.setattr(authorizer_module, "string_list", lambda v: encoded.append(v) or real(v))
    token = sign(h.key, claims(sub="bob"))
    routes = [
        ("GET", "/accounts", "/accounts"),
        ("GET", "/accounts/{id}", "/accounts/1"),
        ("POST", "/accounts/{id}/transfers", "/accounts/1/transfers"),
        ("DELETE", "/accounts/{id}", "/accounts/1"),
    ]
    for method, resource, path in routes:
        h.call(token, method=method, resource=resource, path=path)
        assert h.audit["roles"] == ["reader", "teller"]
        assert h.audit["resource"] == resource
    assert encoded == [["reader", "teller"]]
