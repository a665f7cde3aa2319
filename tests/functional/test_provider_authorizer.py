"""Provider-shaped tokens through the whole authorizer (moto role table, fake key endpoints).

GIVEN issuers configured with presets and role-table items keyed by what those providers put in
their tokens (subjects with ``:``, ``/`` and ``#``, Cognito groups, GitHub claim mappings), WHEN
API Gateway sends a REQUEST event with such a token, THEN the answer and the audit line are the
ones the role table says, and a token a preset refuses is a 401 whose audit line says why.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.authorizer import Unauthorized
from edgeauth.bootstrap import build_authorizer
from tests.conftest import ROLE_TABLE, put_item, put_role
from tests.support import provider_tokens as P
from tests.support.events import authorizer_event
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import make_key

COGNITO = {
    "provider": "cognito",
    "user_pool_id": P.POOL,
    "client_ids": [P.COGNITO_CLIENT],
    "token_use": "access",
}
GITHUB = {"provider": "github-actions", "audiences": [P.GITHUB_AUD], "owners": ["octo-org"]}
K8S = {"provider": "kubernetes", "issuer": P.K8S_ISS, "audiences": [P.K8S_AUD]}
GENERIC = {
    "issuer": "https://idp.example.com/",
    "audiences": ["api://bank"],
    "jwks_uri": "https://idp.example.com/jwks.json",
    "name": "corp",
}


class Harness:
    def __init__(self, dynamodb: Any) -> None:
        self.key = make_key("RS256", "k1")
        jwks = json.dumps({"keys": [self.key.public_jwk()]}).encode()
        self.endpoint = FakeKeyEndpoint(
            {
                P.COGNITO_JWKS: jwks,
                P.GITHUB_DISCOVERY: json.dumps({"issuer": P.GITHUB_ISS, "jwks_uri": P.GITHUB_KEYS}).encode(),
                P.GITHUB_KEYS: jwks,
                P.K8S_DISCOVERY: json.dumps({"issuer": P.K8S_ISS, "jwks_uri": P.K8S_KEYS}).encode(),
                P.K8S_KEYS: jwks,
                "https://idp.example.com/jwks.json": jwks,
            }
        )
        self.lines: list[str] = []
        self.logged: list[str] = []
        env = {
            C.ENV_ISSUERS: json.dumps([COGNITO, GITHUB, K8S, GENERIC]),
            C.ENV_ROLE_TABLE: ROLE_TABLE,
            C.ENV_DEFAULT_USAGE_KEY: "edgeauth-default-key-0123456789",
            "AWS_REGION": "us-east-1",
        }
        self.authorizer = build_authorizer(
            env,
            emit=self.lines.append,
            fetch=self.endpoint,
            dynamodb_client=dynamodb,
            on_jwks_fetch=None,
            log=self.logged.append,
        )

    def call(self, shaped: tuple[dict[str, Any], dict[str, Any]], **event: Any) -> dict[str, Any]:
        header = {**shaped[0], "kid": "k1"}
        token = P.mint(self.key, (header, shaped[1]))
        return self.authorizer.authorize(authorizer_event(authorization=f"Bearer {token}", **event))

    @property
    def audit(self) -> dict[str, Any]:
        return json.loads(self.lines[-1])


@pytest.fixture
def h(dynamodb: Any) -> Harness:
    put_role(dynamodb, "reader", allow=["GET /accounts", "GET /accounts/{id}"])
    put_role(dynamodb, "deployer", allow=["POST /deployments"])
    return Harness(dynamodb)


def effect(answer: dict[str, Any]) -> str:
    return str(answer["policyDocument"]["Statement"][0]["Effect"])


def now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    "sub",
    [
        "repo:octo-org/octo-repo:ref:refs/heads/main",
        "repo:octo-org/octo-repo:environment:prod",
    ],
)
def test_github_subjects_with_colons_and_slashes_are_role_table_keys(
    h: Harness, dynamodb: Any, sub: str
) -> None:
    # GIVEN a subject item keyed by GitHub's sub, exactly as GitHub spells it
    put_item(dynamodb, f"SUBJECT#{P.GITHUB_ISS}", sub, roles=["reader"])
    env = sub.split(":environment:")[1] if ":environment:" in sub else None
    # WHEN that workflow calls
    answer = h.call(P.github_actions(now(), environment=env))
    # THEN the subject's role decides, and the audit line and context carry the sub unchanged
    assert effect(answer) == "Allow"
    assert answer["principalId"] == sub and answer["context"]["sub"] == sub
    assert h.audit["sub"] == sub and h.audit["roles"] == ["reader"]


def test_kubernetes_service_account_subject(h: Harness, dynamodb: Any) -> None:
    put_item(dynamodb, f"SUBJECT#{P.K8S_ISS}", "system:serviceaccount:payments:ledger", roles=["reader"])
    assert effect(h.call(P.kubernetes_sa(now()))) == "Allow"
    assert effect(h.call(P.kubernetes_sa(now(), name="other"))) == "Deny"


def test_a_subject_with_a_hash_is_its_own_key(h: Harness, dynamodb: Any) -> None:
    put_item(dynamodb, "SUBJECT#https://idp.example.com/", "tenant#42|user-1", roles=["reader"])
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {
        "iss": "https://idp.example.com/",
        "aud": "api://bank",
        "sub": "tenant#42|user-1",
        "iat": now(),
        "exp": now() + 300,
    }
    assert effect(h.call((header, claims))) == "Allow"
    claims["sub"] = "tenant#42"
    assert effect(h.call((header, claims))) == "Deny"


def test_github_claim_mapping_grants_every_branch_without_a_subject_item_each(
    h: Harness, dynamodb: Any
) -> None:
    # GIVEN one claim mapping for the repository (no subject item at all)
    put_item(dynamodb, f"GROUP#{P.GITHUB_ISS}", "repository=octo-org/octo-repo", roles=["deployer"])
    # WHEN workflows on two branches and an environment call
    for shaped in (
        P.github_actions(now()),
        P.github_actions(now(), ref="refs/heads/feature/x"),
        P.github_actions(now(), environment="prod"),
    ):
        answer = h.call(shaped, method="POST", resource="/deployments", path="/deployments")
        # THEN each is allowed through the mapping, and the audit line says where the role came from
        assert effect(answer) == "Allow"
        assert h.audit["roles"] == ["deployer"]
    # AND another repository of the same owner is not
    answer = h.call(
        P.github_actions(now(), repository="octo-org/other"),
        method="POST",
        resource="/deployments",
        path="/deployments",
    )
    assert effect(answer) == "Deny" and h.audit["reason"] == "no_roles"


def test_github_mapping_on_a_branch_and_on_an_environment(h: Harness, dynamodb: Any) -> None:
    put_item(dynamodb, f"GROUP#{P.GITHUB_ISS}", "environment=prod", roles=["deployer"])
    ok = h.call(
        P.github_actions(now(), environment="prod"),
        method="POST",
        resource="/deployments",
        path="/deployments",
    )
    assert effect(ok) == "Allow"
    no = h.call(P.github_actions(now()), method="POST", resource="/deployments", path="/deployments")
    assert effect(no) == "Deny"


def test_github_token_of_an_owner_not_allowed_is_a_401_with_the_reason(h: Harness, dynamodb: Any) -> None:
    put_item(dynamodb, f"GROUP#{P.GITHUB_ISS}", "ref=refs/heads/main", roles=["deployer"])
    with pytest.raises(Unauthorized):
        h.call(P.github_actions(now(), repository="evil-org/octo-repo"))
    assert (h.audit["decision"], h.audit["reason"]) == ("unauthorized", "claim_not_allowed")


def test_cognito_groups_map_to_roles_and_another_app_client_is_refused(h: Harness, dynamodb: Any) -> None:
    put_item(dynamodb, f"GROUP#{P.COGNITO_ISS}", "tellers", roles=["reader"])
    answer = h.call(P.cognito_access(now(), groups=["tellers"]))
    assert effect(answer) == "Allow" and answer["context"]["clientId"] == P.COGNITO_CLIENT
    assert h.audit["client_id"] == P.COGNITO_CLIENT
    with pytest.raises(Unauthorized):
        h.call(P.cognito_access(now(), client_id="other-client", groups=["tellers"]))
    assert h.audit["reason"] == "wrong_client"
    with pytest.raises(Unauthorized):
        h.call(P.cognito_id(now(), groups=["tellers"]))
    assert h.audit["reason"] == "wrong_token_type"


def test_cold_start_logs_every_issuers_expanded_settings_once(h: Harness) -> None:
    # WHEN the authorizer is built (cold start)
    assert len(h.logged) == 1
    record = json.loads(h.logged[0])
    # THEN one INFO line in the Powertools shape lists each issuer as the verifier uses it
    assert (record["level"], record["message"], record["service"]) == (
        "INFO",
        "issuer settings",
        C.AUTHORIZER_SERVICE,
    )
    cognito, github, k8s, generic = record["issuers"]
    assert cognito["issuer"] == P.COGNITO_ISS and cognito["jwks_uri"] == P.COGNITO_JWKS
    assert cognito["client_ids"] == [P.COGNITO_CLIENT] and cognito["groups_claim"] == ["cognito:groups"]
    assert [c["claim"] for c in cognito["claim_checks"]] == ["token_use"]
    assert github["discovery"] == P.GITHUB_DISCOVERY and github["mapped_claims"][0] == "repository"
    assert [c["allowed"] for c in github["claim_checks"]] == [["octo-org"]]
    assert k8s["audiences"] == [P.K8S_AUD] and generic["name"] == "corp" and generic["provider"] == "generic"
