"""The development identity provider playing each provider (``--provider NAME``): its tokens pass
the preset's checks (so ``make local ARGS="--provider X"`` works for every X), carry the groups where
the provider puts them, and the stage context keeps the loopback issuer and its discovery."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest

from edgeauth.core.jwks import JwksCache
from edgeauth.core.settings import parse_issuer
from edgeauth.core.tokens import TokenVerifier
from edgeauth_local.idp import DevIdentityProvider, TokenRequest
from edgeauth_local.stack import LOCAL_PRESETS, provider_context
from edgeauth_local.template import TemplateError
from tests.support.fakes import FakeKeyEndpoint

ISSUER = "http://127.0.0.1:8081/"
SUBS = {
    "github-actions": "repo:octo-org/octo-repo:ref:refs/heads/main",
    "kubernetes": "system:serviceaccount:payments:ledger",
}


def idp_for(provider: str) -> DevIdentityProvider:
    settings = parse_issuer(
        {**LOCAL_PRESETS[provider], "issuer": ISSUER, "discovery": True, "algorithms": ["RS256"]}
    )
    return DevIdentityProvider(settings)


def verify(idp: DevIdentityProvider, token: str) -> Any:
    base = idp.base
    endpoint = FakeKeyEndpoint(
        {
            f"{base}/.well-known/openid-configuration": json.dumps(idp.discovery()).encode(),
            f"{base}/.well-known/jwks.json": json.dumps(idp.jwks()).encode(),
        }
    )
    settings = idp.settings
    verifier = TokenVerifier({settings.issuer: settings}, {settings.issuer: JwksCache(settings, endpoint)})
    return verifier.verify(token)[0]


@pytest.mark.parametrize("provider", sorted(LOCAL_PRESETS))
def test_every_local_provider_issues_tokens_its_preset_accepts(provider: str) -> None:
    idp = idp_for(provider)
    sub = SUBS.get(provider, "bob")
    groups = [] if provider in SUBS else ["tellers"]
    verified = verify(idp, idp.mint(TokenRequest(sub, groups)))
    assert verified.sub == sub
    assert verified.groups == (
        ("ref=refs/heads/main", "repository=octo-org/octo-repo", "repository_owner=octo-org")
        if provider == "github-actions"
        else ("/kubernetes.io/namespace=payments",)
        if provider == "kubernetes"
        else ("tellers",)
    )


@pytest.mark.parametrize(
    ("provider", "claim", "value"),
    [
        ("cognito", "token_use", "access"),
        ("cognito-id", "token_use", "id"),
        ("entra", "ver", "2.0"),
        ("okta", "cid", "edgeauth-local-app"),
        ("keycloak", "typ", "Bearer"),
    ],
)
def test_the_token_kind_claims_are_the_providers(provider: str, claim: str, value: str) -> None:
    idp = idp_for(provider)
    assert jwt.decode(idp.mint(TokenRequest("bob")), options={"verify_signature": False})[claim] == value


def test_a_sub_the_provider_would_not_issue_is_refused() -> None:
    for provider in SUBS:
        with pytest.raises(ValueError, match="sub looks like"):
            idp_for(provider).mint(TokenRequest("bob"))


def test_provider_context_turns_the_loopback_issuer_into_the_preset() -> None:
    (issuer,) = provider_context("dev", "cognito-id")["edgeauth"]["stages"]["dev"]["issuers"]
    assert issuer["provider"] == "cognito" and issuer["token_use"] == "id"
    assert issuer["issuer"] == "http://127.0.0.1:8081/" and issuer["discovery"] is True
    assert parse_issuer(issuer).issuer == "http://127.0.0.1:8081/"
    with pytest.raises(TemplateError, match="unknown provider"):
        provider_context("dev", "google")
