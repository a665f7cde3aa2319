"""Provider presets: each expands to the provider's documented issuer and key URL, accepts tokens
shaped exactly as the provider documents them, and refuses the tokens it must (ID tokens where
access tokens are required and the reverse, other clients, other repositories, group overage).

GIVEN an issuer configured with a preset (a few values only) and a fake key endpoint serving a test
key at the provider's JWKS (or discovery) URL, WHEN a provider-shaped token is verified, THEN it is
accepted or refused with the documented audit reason. No test opens a socket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgeauth.core.errors import AuthenticationError, ConfigError
from edgeauth.core.jwks import JwksCache
from edgeauth.core.providers import PROVIDERS
from edgeauth.core.settings import (
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_MAX_AGE,
    DEFAULT_JWKS_MAX_BYTES,
    DEFAULT_JWKS_MAX_STALE,
    DEFAULT_JWKS_TIMEOUT,
    DEFAULT_LEEWAY_SECONDS,
    DEFAULT_MAX_LIFETIME_SECONDS,
    DEFAULT_REQUIRED_CLAIMS,
    SUPPORTED_ALGORITHMS,
    IssuerSettings,
    describe_issuer,
    load_settings,
    parse_issuer,
    parse_issuers,
)
from edgeauth.core.tokens import TokenVerifier, VerifiedToken
from tests.conftest import ROLE_TABLE
from tests.support import provider_tokens as P
from tests.support.fakes import Clock, FakeKeyEndpoint
from tests.support.tokens import make_key

NOW = 1_800_000_000
WHERE = "issuers[0]"

COGNITO_ACCESS = {
    "provider": "cognito",
    "user_pool_id": P.POOL,
    "client_ids": [P.COGNITO_CLIENT],
    "token_use": "access",
}
COGNITO_ID = {**COGNITO_ACCESS, "token_use": "id"}
ENTRA_V2 = {"provider": "entra", "tenant_id": P.TENANT, "application_id": P.ENTRA_API, "token_version": 2}
ENTRA_V1 = {
    "provider": "entra",
    "tenant_id": P.TENANT,
    "application_id_uri": P.ENTRA_API_URI,
    "token_version": 1,
}
OKTA = {"provider": "okta", "domain": P.OKTA_DOMAIN, "authorization_server": "default"}
AUTH0 = {"provider": "auth0", "domain": P.AUTH0_DOMAIN, "audiences": [P.AUTH0_API]}
KEYCLOAK = {
    "provider": "keycloak",
    "base_url": P.KEYCLOAK_BASE,
    "realm": "bank",
    "client_ids": [P.KEYCLOAK_CLIENT],
}
GITHUB = {"provider": "github-actions", "audiences": [P.GITHUB_AUD], "repositories": ["octo-org/octo-repo"]}
K8S = {"provider": "kubernetes", "issuer": P.K8S_ISS, "audiences": [P.K8S_AUD]}

#: The smallest configuration of every preset (what a user writes), for the invariants below.
MINIMAL: dict[str, dict[str, Any]] = {
    "cognito": COGNITO_ACCESS,
    "entra": ENTRA_V2,
    "okta": OKTA,
    "auth0": AUTH0,
    "keycloak": KEYCLOAK,
    "github-actions": GITHUB,
    "kubernetes": K8S,
}
#: Every variant a preset has, each also held to the invariants.
VARIANTS: list[dict[str, Any]] = [
    *MINIMAL.values(),
    COGNITO_ID,
    {**COGNITO_ACCESS, "issuer_type": "UPDATED"},
    ENTRA_V1,
    {**OKTA, "authorization_server": "aus1a2b3c4", "audiences": ["api://bank"]},
    {**AUTH0, "token_profile": "rfc9068"},
    {**KEYCLOAK, "roles_client": "bank-api", "audiences": ["bank-api"]},
    {
        "provider": "github-actions",
        "audiences": [P.GITHUB_AUD],
        "owners": ["octo-org"],
        "enterprise": "octo-ent",
    },
    {**K8S, "namespaces": ["payments"]},
]


class World:
    """One issuer from ``config``, a fake endpoint serving ``key`` at the preset's key URL."""

    def __init__(self, config: dict[str, Any], documents: dict[str, Any] | None = None) -> None:
        self.key = make_key("RS256", None)
        self.issuer: IssuerSettings = parse_issuer(config)
        jwks_doc = json.dumps({"keys": [self.key.public_jwk()]}).encode()
        docs = {
            url: (body if isinstance(body, bytes) else json.dumps(body).encode())
            for url, body in (documents or {}).items()
        }
        if self.issuer.jwks_uri:
            docs.setdefault(self.issuer.jwks_uri, jwks_doc)
        self.endpoint = FakeKeyEndpoint(docs)
        self.jwks_doc = jwks_doc
        self.kids: dict[str | None, dict[str, Any]] = {}
        self.clock = Clock(float(NOW))
        cache = JwksCache(self.issuer, self.endpoint, clock=self.clock)
        self.verifier = TokenVerifier(
            {self.issuer.issuer: self.issuer}, {self.issuer.issuer: cache}, cache_size=0, clock=self.clock
        )

    def serve_discovery(self, discovery_url: str, jwks_url: str) -> None:
        self.endpoint.documents[discovery_url] = json.dumps(
            {"issuer": self.issuer.issuer, "jwks_uri": jwks_url}
        ).encode()
        self.endpoint.documents[jwks_url] = self.jwks_doc

    def token(self, shaped: tuple[dict[str, Any], dict[str, Any]]) -> str:
        """Sign ``shaped``; its ``kid`` (the provider's kid form) is published beside earlier ones
        (mint every token of a test before the first verification: the key set is cached)."""
        header, _ = shaped
        self.key.kid = header.get("kid")
        self.kids.setdefault(self.key.kid, self.key.public_jwk())
        doc = json.dumps({"keys": list(self.kids.values())}).encode()
        self.jwks_doc = doc
        for url, body in list(self.endpoint.documents.items()):
            if "keys" in json.loads(body):
                self.endpoint.documents[url] = doc
        return P.mint(self.key, shaped)

    def ok(self, shaped: tuple[dict[str, Any], dict[str, Any]]) -> VerifiedToken:
        verified, _ = self.verifier.verify(self.token(shaped))
        return verified

    def refused(self, shaped: tuple[dict[str, Any], dict[str, Any]], reason: str) -> AuthenticationError:
        token = self.token(shaped)
        with pytest.raises(AuthenticationError) as info:
            self.verifier.verify(token)
        assert info.value.reason == reason, info.value
        return info.value


def config_error(raw: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_issuers(raw if isinstance(raw, list) else [raw], "issuers")
    return info.value


# -- the strictness invariant -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config", VARIANTS, ids=lambda c: f"{c['provider']}-{json.dumps(c, sort_keys=True)[:60]}"
)
def test_every_preset_is_at_least_as_strict_as_generic_for_every_check_generic_has(
    config: dict[str, Any],
) -> None:
    """Check by check, against the defaults of a generic issuer (docs/configuration.md "Provider presets")."""
    i = parse_issuer(config)
    # Algorithms: asymmetric only, a subset of what generic accepts.
    assert i.algorithms and i.algorithms <= SUPPORTED_ALGORITHMS
    # Time checks: no more leeway, a lifetime bound no longer, never switched off.
    assert i.leeway_seconds <= DEFAULT_LEEWAY_SECONDS
    assert i.max_lifetime_seconds is not None and i.max_lifetime_seconds <= DEFAULT_MAX_LIFETIME_SECONDS
    # Presence: iss, exp, sub as generic (and iat besides); aud wherever audiences are checked.
    assert set(DEFAULT_REQUIRED_CLAIMS) - {"aud"} <= set(i.required_claims)
    assert "iat" in i.required_claims
    # The recipient is always checked: aud against audiences (required), or the client claim
    # against a non-empty allowlist with the token kind pinned by a preset check.
    if i.audiences:
        assert "aud" in i.required_claims
    else:
        assert i.client_ids and i.client_claim
        assert any(c.reason == "wrong_token_type" for c in i.claim_checks)
    # Keys: https (or loopback) from the issuer's own JWKS or discovery; the cache bounds of generic.
    assert (i.jwks_uri or "").startswith("https://") or i.discovery
    assert (i.jwks_max_age_seconds, i.jwks_cooldown_seconds, i.jwks_max_stale_seconds) == (
        DEFAULT_JWKS_MAX_AGE,
        DEFAULT_JWKS_COOLDOWN,
        DEFAULT_JWKS_MAX_STALE,
    )
    assert (i.jwks_timeout_seconds, i.jwks_max_bytes) == (DEFAULT_JWKS_TIMEOUT, DEFAULT_JWKS_MAX_BYTES)
    # Nothing generic refuses is let through: no DPoP downgrade, no typ dropped where generic has one.
    assert i.dpop == "off"
    assert i.issuer.startswith("https://")


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p != "generic"])
def test_every_provider_has_a_minimal_configuration_here(provider: str) -> None:
    # (So that a preset added later is held to the invariant above.)
    assert provider in MINIMAL


def test_a_generic_issuer_without_audiences_needs_a_client_allowlist() -> None:
    base = {
        "issuer": "https://idp.example.com/",
        "jwks_uri": "https://idp.example.com/jwks",
        "required_claims": ["iss", "exp", "sub"],
    }
    assert config_error({**base, "audiences": []}).setting == f"{WHERE}.audiences"
    i = parse_issuer({**base, "audiences": [], "client_ids": ["web"]})
    assert i.client_ids == frozenset({"web"}) and not i.audiences


# -- no preset accepts both token kinds ---------------------------------------------------------------

ACCESS_AND_ID = [
    ("cognito-access", COGNITO_ACCESS, P.cognito_access, P.cognito_id, "access"),
    ("cognito-id", COGNITO_ID, P.cognito_access, P.cognito_id, "id"),
    ("entra", ENTRA_V2, P.entra_access, P.entra_id, "access"),
    ("okta", OKTA, P.okta_access, P.okta_id, "access"),
    ("auth0", AUTH0, P.auth0_access, P.auth0_id, "access"),
    ("keycloak", KEYCLOAK, P.keycloak_token, lambda now: P.keycloak_token(now, typ="ID"), "access"),
]


@pytest.mark.parametrize(
    ("config", "access", "id_token", "accepts"),
    [c[1:] for c in ACCESS_AND_ID],
    ids=[c[0] for c in ACCESS_AND_ID],
)
def test_no_preset_accepts_both_id_and_access_tokens(
    config: dict[str, Any], access: Any, id_token: Any, accepts: str
) -> None:
    w = World(config)
    good, bad = (access, id_token) if accepts == "access" else (id_token, access)
    good_token, bad_token = w.token(good(NOW)), w.token(bad(NOW))
    w.verifier.verify(good_token)
    with pytest.raises(AuthenticationError) as info:
        w.verifier.verify(bad_token)
    assert info.value.reason == w_reason(config, accepts)


def w_reason(config: dict[str, Any], accepts: str) -> str:
    # Auth0's ID tokens are refused by aud (its ID token's aud is the client id), the others by
    # the preset's token-kind check.
    return "wrong_audience" if config["provider"] == "auth0" else "wrong_token_type"


# -- Cognito ------------------------------------------------------------------------------------------


def test_cognito_expands_to_the_user_pool_issuer_and_its_jwks() -> None:
    i = parse_issuer(COGNITO_ACCESS)
    assert i.issuer == P.COGNITO_ISS  # no trailing slash
    assert i.jwks_uri == P.COGNITO_JWKS
    assert i.name == "cognito" and i.provider == "cognito"
    assert not i.audiences and i.client_claim == "client_id" and i.client_ids == frozenset({P.COGNITO_CLIENT})
    updated = parse_issuer({**COGNITO_ACCESS, "issuer_type": "UPDATED"})
    assert updated.issuer == f"https://issuer-cognito-idp.us-east-1.amazonaws.com/{P.POOL}"
    assert (
        updated.jwks_uri
        == f"https://issuer-cognito-idp.us-east-1.amazonaws.com/{P.POOL}/.well-known/jwks.json"
    )


def test_cognito_access_token_is_accepted_with_its_groups_and_client() -> None:
    w = World(COGNITO_ACCESS)
    v = w.ok(P.cognito_access(NOW, groups=["admins", "tellers"]))
    assert v.client_id == P.COGNITO_CLIENT
    assert v.groups == ("admins", "tellers")  # cognito:groups
    assert v.sub == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def test_cognito_access_token_of_another_app_client_is_refused() -> None:
    w = World(COGNITO_ACCESS)
    w.refused(P.cognito_access(NOW, client_id="another-app-client-of-the-pool"), "wrong_client")
    shaped = P.cognito_access(NOW)
    del shaped[1]["client_id"]
    w.refused(shaped, "wrong_client")


def test_cognito_id_token_needs_its_app_client_in_aud() -> None:
    w = World(COGNITO_ID)
    v = w.ok(P.cognito_id(NOW, groups=["admins"]))
    assert v.client_id == P.COGNITO_CLIENT and v.groups == ("admins",)
    w.refused(P.cognito_id(NOW, client_id="another-app-client"), "wrong_audience")


def test_cognito_token_use_must_be_exactly_the_configured_one() -> None:
    w = World(COGNITO_ACCESS)
    for value in ("ACCESS", "id", "", None, ["access"]):
        shaped = P.cognito_access(NOW)
        shaped[1]["token_use"] = value
        w.refused(shaped, "wrong_token_type")
    shaped = P.cognito_access(NOW)
    del shaped[1]["token_use"]
    w.refused(shaped, "wrong_token_type")


def test_cognito_issuer_spelled_with_a_trailing_slash_or_another_region_is_not_the_pool() -> None:
    w = World(COGNITO_ACCESS)
    for iss in (P.COGNITO_ISS + "/", P.COGNITO_ISS.replace("us-east-1.", "us-west-2.")):
        shaped = P.cognito_access(NOW)
        shaped[1]["iss"] = iss
        w.refused(shaped, "unknown_issuer")


def test_cognito_values_are_checked() -> None:
    assert (
        config_error({**COGNITO_ACCESS, "user_pool_id": "us-east-1-Example"}).setting
        == f"{WHERE}.user_pool_id"
    )
    err = config_error({**COGNITO_ACCESS, "region": "eu-west-1"})
    assert err.setting == f"{WHERE}.region" and "us-east-1" in err.problem
    assert config_error({**COGNITO_ACCESS, "token_use": "both"}).setting == f"{WHERE}.token_use"
    assert config_error({**COGNITO_ACCESS, "token_use": None}).setting == f"{WHERE}.token_use"
    assert config_error({**COGNITO_ACCESS, "issuer_type": "updated"}).setting == f"{WHERE}.issuer_type"
    assert config_error({**COGNITO_ACCESS, "client_ids": []}).setting == f"{WHERE}.client_ids"


# -- Entra ID -----------------------------------------------------------------------------------------


def test_entra_v2_and_v1_expand_to_their_issuer_spellings_and_key_urls() -> None:
    v2 = parse_issuer(ENTRA_V2)
    assert (v2.issuer, v2.jwks_uri, v2.client_claim) == (P.ENTRA_V2_ISS, P.ENTRA_V2_KEYS, "azp")
    assert v2.audiences == frozenset({P.ENTRA_API})
    v1 = parse_issuer(ENTRA_V1)
    assert (v1.issuer, v1.jwks_uri, v1.client_claim) == (P.ENTRA_V1_ISS, P.ENTRA_V1_KEYS, "appid")
    assert v1.issuer.endswith("/") and not v2.issuer.endswith("/")
    assert v1.audiences == frozenset({P.ENTRA_API_URI})


def test_entra_v2_access_token_with_scp_string_roles_and_groups() -> None:
    w = World({**ENTRA_V2, "required_scopes": ["accounts.read"]})
    v = w.ok(P.entra_access(NOW, roles=["Accounts.Admin"], groups=["e3f0c1a2-0000-4000-8000-000000000001"]))
    assert v.groups == ("Accounts.Admin", "e3f0c1a2-0000-4000-8000-000000000001")
    assert v.client_id == P.ENTRA_CLIENT
    w.refused(P.entra_access(NOW, scp="profile"), "missing_scope")


def test_entra_v1_access_token_with_x5t_header_and_appid() -> None:
    w = World(ENTRA_V1)
    v = w.ok(P.entra_access(NOW, version=1, aud=P.ENTRA_API_URI))
    assert v.client_id == P.ENTRA_CLIENT


def test_entra_refuses_a_token_of_the_other_version_and_an_id_token() -> None:
    w = World(ENTRA_V2)
    shaped = P.entra_access(NOW, version=1)
    shaped[1]["iss"] = P.ENTRA_V2_ISS  # even under the v2.0 issuer, a v1.0 token is not taken
    w.refused(shaped, "wrong_token_type")
    w.refused(P.entra_id(NOW), "wrong_token_type")


def test_entra_group_overage_is_refused_rather_than_acted_on() -> None:
    w = World(ENTRA_V2)
    err = w.refused(P.entra_access(NOW, roles=["Accounts.Reader"], overage=True), "groups_overage")
    assert "_claim_names" in str(err)
    shaped = P.entra_access(NOW)
    shaped[1]["hasgroups"] = True
    w.refused(shaped, "groups_overage")


def test_entra_values_are_checked() -> None:
    for tenant in ("common", "organizations", "consumers"):
        err = config_error({**ENTRA_V2, "tenant_id": tenant})
        assert err.setting == f"{WHERE}.tenant_id" and "multi-tenant" in err.problem
    assert config_error({**ENTRA_V2, "tenant_id": "contoso.onmicrosoft.com"}).setting == f"{WHERE}.tenant_id"
    assert config_error({**ENTRA_V2, "token_version": "2.0"}).setting == f"{WHERE}.token_version"
    no_app = {k: v for k, v in ENTRA_V2.items() if k != "application_id"}
    assert config_error(no_app).setting == f"{WHERE}.application_id"


# -- Okta -------------------------------------------------------------------------------------------


def test_okta_access_token_with_an_scp_array_and_cid() -> None:
    i = parse_issuer(OKTA)
    assert (i.issuer, i.jwks_uri) == (P.OKTA_ISS, P.OKTA_KEYS)
    w = World(
        {
            **OKTA,
            "required_scopes": ["accounts:read"],
            "client_ids": [P.OKTA_CLIENT],
            "groups_claim": "groups",
        }
    )
    v = w.ok(P.okta_access(NOW, groups=["Everyone", "Tellers"]))
    assert v.client_id == P.OKTA_CLIENT and v.groups == ("Everyone", "Tellers")
    w.refused(P.okta_access(NOW, scp=["openid"]), "missing_scope")
    w.refused(P.okta_access(NOW, cid="0oaOTHERCLIENT"), "wrong_client")


def test_okta_custom_server_needs_its_audience() -> None:
    err = config_error({**OKTA, "authorization_server": "aus1a2b3c4"})
    assert err.setting == f"{WHERE}.audiences"
    assert config_error({**OKTA, "domain": "https://dev-123456.okta.com"}).setting == f"{WHERE}.domain"


# -- Auth0 ------------------------------------------------------------------------------------------


def test_auth0_issuer_keeps_its_trailing_slash_and_a_token_without_it_is_refused() -> None:
    w = World({**AUTH0, "groups_claim": P.AUTH0_ROLES})
    assert w.issuer.issuer == P.AUTH0_ISS and w.issuer.jwks_uri == P.AUTH0_KEYS
    v = w.ok(P.auth0_access(NOW, roles=["teller"]))
    assert v.groups == ("teller",) and v.client_id == P.AUTH0_CLIENT
    shaped = P.auth0_access(NOW)
    shaped[1]["iss"] = P.AUTH0_ISS.rstrip("/")
    w.refused(shaped, "unknown_issuer")


def test_auth0_namespaced_roles_claim_by_name_or_by_json_pointer() -> None:
    for path in (P.AUTH0_ROLES, "/https:~1~1example.com~1roles"):
        w = World({**AUTH0, "groups_claim": path})
        assert w.ok(P.auth0_access(NOW, roles=["admin", "teller"])).groups == ("admin", "teller")


def test_auth0_rfc9068_profile_requires_at_jwt_and_names_the_client_in_client_id() -> None:
    w = World({**AUTH0, "token_profile": "rfc9068"})
    assert w.ok(P.auth0_access(NOW, profile="rfc9068")).client_id == P.AUTH0_CLIENT
    w.refused(P.auth0_access(NOW, profile="auth0"), "wrong_token_type")  # typ JWT


# -- Keycloak -----------------------------------------------------------------------------------------


def test_keycloak_realm_and_client_roles_and_a_generic_aud() -> None:
    w = World({**KEYCLOAK, "roles_client": "bank-api"})
    assert (w.issuer.issuer, w.issuer.jwks_uri) == (P.KEYCLOAK_ISS, P.KEYCLOAK_KEYS)
    v = w.ok(P.keycloak_token(NOW, realm_roles=["teller"], client_roles={"bank-api": {"roles": ["auditor"]}}))
    assert v.groups == ("auditor", "teller")  # not the 'account' client's roles
    assert v.client_id == P.KEYCLOAK_CLIENT


def test_keycloak_refuses_another_client_and_an_id_token() -> None:
    w = World(KEYCLOAK)
    w.refused(P.keycloak_token(NOW, azp="admin-cli"), "wrong_client")
    w.refused(P.keycloak_token(NOW, typ="ID"), "wrong_token_type")


def test_keycloak_with_an_audience_mapper_checks_and_requires_aud() -> None:
    w = World({**KEYCLOAK, "audiences": ["bank-api"]})
    assert "aud" in w.issuer.required_claims
    w.refused(P.keycloak_token(NOW), "wrong_audience")  # aud "account"
    shaped = P.keycloak_token(NOW)
    shaped[1]["aud"] = ["bank-api", "account"]
    w.ok(shaped)


def test_keycloak_roles_of_the_wrong_shape_refuse_the_token() -> None:
    w = World(KEYCLOAK)
    shaped = P.keycloak_token(NOW)
    shaped[1]["realm_access"] = ["teller"]  # not an object: the path cannot be followed
    w.refused(shaped, "claim_type")
    shaped = P.keycloak_token(NOW)
    shaped[1]["realm_access"] = {"roles": [1]}
    w.refused(shaped, "claim_type")
    shaped = P.keycloak_token(NOW)
    del shaped[1]["realm_access"]
    assert w.ok(shaped).groups == ()


# -- GitHub Actions -----------------------------------------------------------------------------------


def test_github_actions_discovers_its_keys_and_maps_repository_owner_ref_environment() -> None:
    w = World(GITHUB)
    assert w.issuer.issuer == P.GITHUB_ISS and w.issuer.discovery
    w.serve_discovery(P.GITHUB_DISCOVERY, P.GITHUB_KEYS)
    v = w.ok(P.github_actions(NOW))
    assert v.sub == "repo:octo-org/octo-repo:ref:refs/heads/main"
    assert v.groups == (
        "ref=refs/heads/main",
        "repository=octo-org/octo-repo",
        "repository_owner=octo-org",
    )
    v = w.ok(P.github_actions(NOW, environment="prod"))
    assert "environment=prod" in v.groups and v.sub == "repo:octo-org/octo-repo:environment:prod"


def test_github_actions_refuses_other_repositories_and_the_default_audience() -> None:
    w = World(GITHUB)
    w.serve_discovery(P.GITHUB_DISCOVERY, P.GITHUB_KEYS)
    w.refused(P.github_actions(NOW, repository="evil-org/octo-repo"), "claim_not_allowed")
    w.refused(P.github_actions(NOW, aud="https://github.com/octo-org"), "wrong_audience")
    owners = World({**{k: v for k, v in GITHUB.items() if k != "repositories"}, "owners": ["octo-org"]})
    owners.serve_discovery(P.GITHUB_DISCOVERY, P.GITHUB_KEYS)
    owners.ok(P.github_actions(NOW, repository="octo-org/other-repo"))
    owners.refused(P.github_actions(NOW, repository="octo-orgx/other-repo"), "claim_not_allowed")


def test_github_actions_needs_an_allowlist_and_an_audience() -> None:
    no_repos = {k: v for k, v in GITHUB.items() if k != "repositories"}
    assert config_error(no_repos).setting == f"{WHERE}.repositories"
    assert config_error({**GITHUB, "owners": ["octo-org"]}).setting == f"{WHERE}.repositories"
    assert config_error({**GITHUB, "repositories": ["octo-repo"]}).setting == f"{WHERE}.repositories[0]"
    no_aud = {k: v for k, v in GITHUB.items() if k != "audiences"}
    assert config_error(no_aud).setting == f"{WHERE}.audiences"


def test_github_enterprise_issuer() -> None:
    i = parse_issuer({**GITHUB, "enterprise": "octo-ent"})
    assert i.issuer == "https://token.actions.githubusercontent.com/octo-ent"


# -- Kubernetes ---------------------------------------------------------------------------------------


def test_kubernetes_service_account_token_and_namespace_allowlist() -> None:
    w = World({**K8S, "namespaces": ["payments"]})
    assert w.issuer.discovery and w.issuer.issuer == P.K8S_ISS
    w.serve_discovery(P.K8S_DISCOVERY, P.K8S_KEYS)
    v = w.ok(P.kubernetes_sa(NOW))
    assert v.sub == "system:serviceaccount:payments:ledger"
    assert v.groups == ("/kubernetes.io/namespace=payments",)
    w.refused(P.kubernetes_sa(NOW, namespace="default"), "claim_not_allowed")
    w.refused(P.kubernetes_sa(NOW, aud="https://kubernetes.default.svc"), "wrong_audience")


def test_kubernetes_needs_the_cluster_issuer_and_an_audience() -> None:
    assert config_error({"provider": "kubernetes", "audiences": ["x"]}).setting == f"{WHERE}.issuer"
    assert config_error({"provider": "kubernetes", "issuer": P.K8S_ISS}).setting == f"{WHERE}.audiences"


# -- explicit settings beside a preset; bad input --------------------------------------------------------


def test_an_explicit_setting_beside_a_preset_wins_and_is_validated_the_same_way() -> None:
    i = parse_issuer(
        {**COGNITO_ACCESS, "leeway_seconds": 5, "algorithms": ["RS256", "PS256"], "name": "users"}
    )
    assert i.leeway_seconds == 5 and i.algorithms == frozenset({"RS256", "PS256"}) and i.name == "users"
    local = parse_issuer({**COGNITO_ACCESS, "issuer": "http://127.0.0.1:8081/", "discovery": True})
    assert local.issuer == "http://127.0.0.1:8081/" and local.discovery and local.jwks_uri is None
    assert local.claim_checks == parse_issuer(COGNITO_ACCESS).claim_checks
    assert config_error({**COGNITO_ACCESS, "leeway_seconds": 301}).setting == f"{WHERE}.leeway_seconds"
    err = config_error({**COGNITO_ACCESS, "jwks_uri": "http://idp.example.com/jwks"})
    assert err.setting == f"{WHERE}.jwks_uri" and "https" in err.problem
    assert config_error({**COGNITO_ACCESS, "algorithms": ["HS256"]}).setting == f"{WHERE}.algorithms"


def test_required_claim_values_cannot_undo_a_presets_own_check() -> None:
    w = World({**COGNITO_ACCESS, "required_claim_values": {"token_use": ["access", "id"]}})
    w.refused(P.cognito_id(NOW), "wrong_token_type")  # the preset's check still holds (both apply)


def test_an_unknown_provider_is_refused_with_the_list() -> None:
    err = config_error({"provider": "google", "issuer": "https://accounts.google.com"})
    assert err.setting == f"{WHERE}.provider" and "cognito" in err.problem and "generic" in err.problem


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({"provider": "cognito", "client_ids": ["a"], "token_use": "access"}, "user_pool_id"),
        ({"provider": "cognito", "user_pool_id": P.POOL, "token_use": "access"}, "client_ids"),
        ({"provider": "cognito", "user_pool_id": P.POOL, "client_ids": ["a"]}, "token_use"),
        ({"provider": "entra", "application_id": P.ENTRA_API, "token_version": 2}, "tenant_id"),
        ({"provider": "entra", "tenant_id": P.TENANT, "application_id": P.ENTRA_API}, "token_version"),
        ({"provider": "okta", "authorization_server": "default"}, "domain"),
        ({"provider": "okta", "domain": P.OKTA_DOMAIN}, "authorization_server"),
        ({"provider": "auth0", "audiences": ["x"]}, "domain"),
        ({"provider": "auth0", "domain": P.AUTH0_DOMAIN}, "audiences"),
        ({"provider": "keycloak", "realm": "bank", "client_ids": ["a"]}, "base_url"),
        ({"provider": "keycloak", "base_url": P.KEYCLOAK_BASE, "client_ids": ["a"]}, "realm"),
        ({"provider": "keycloak", "base_url": P.KEYCLOAK_BASE, "realm": "bank"}, "client_ids"),
    ],
)
def test_a_preset_missing_a_required_value_names_it(config: dict[str, Any], missing: str) -> None:
    err = config_error(config)
    assert err.setting == f"{WHERE}.{missing}", err
    assert config["provider"] in err.problem


def test_a_setting_of_another_preset_is_named_as_such() -> None:
    err = config_error({**OKTA, "user_pool_id": P.POOL})
    assert err.setting == f"{WHERE}.user_pool_id" and "cognito preset" in err.problem


def test_two_presets_for_one_issuer_are_refused() -> None:
    err = config_error([COGNITO_ACCESS, {**COGNITO_ID, "name": "cognito-id"}])
    assert err.setting == "issuers[1].issuer"
    assert "issuers[0]" in err.problem and "cognito" in err.problem


def test_two_issuers_with_one_name_are_refused() -> None:
    other_pool = {**COGNITO_ACCESS, "user_pool_id": "eu-west-1_Other"}
    err = config_error([COGNITO_ACCESS, other_pool])
    assert err.setting == "issuers[1].name" and "'cognito'" in err.problem


def test_a_claim_path_that_cannot_be_parsed_is_refused_at_cold_start_with_its_setting() -> None:
    env = {
        "EDGEAUTH_ISSUERS": json.dumps(
            [{**KEYCLOAK, "groups_claim": ["/realm_access/roles", "/resource_access//roles"]}]
        ),
        "EDGEAUTH_ROLE_TABLE": ROLE_TABLE,
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert info.value.setting == "EDGEAUTH_ISSUERS[0].groups_claim[1]"
    assert "'~1'" in info.value.problem


def test_describe_shows_the_expanded_settings_and_the_presets_checks() -> None:
    d = describe_issuer(parse_issuer(COGNITO_ACCESS))
    assert d["issuer"] == P.COGNITO_ISS and d["jwks_uri"] == P.COGNITO_JWKS
    assert d["client_ids"] == [P.COGNITO_CLIENT] and d["client_claim"] == "client_id"
    assert d["claim_checks"] == [
        {
            "claim": "token_use",
            "allowed": ["access"],
            "reason": "wrong_token_type",
            "origin": "provider cognito",
            "why": "only access tokens (Cognito's ID and access tokens share issuer and keys)",
        }
    ]
    json.dumps(d)  # JSON-ready


def test_a_generic_issuers_cold_start_does_not_load_the_presets() -> None:
    # The presets (and their regexes) cost a cold start only when an issuer names a provider.
    import subprocess
    import sys
    from pathlib import Path

    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "functions")}
    code = (
        "import json, sys; from edgeauth.core.settings import load_settings; "
        "load_settings({'EDGEAUTH_ISSUERS': json.dumps([{'issuer': 'https://i/', 'audiences': ['a'], "
        "'jwks_uri': 'https://i/k', 'groups_claim': '/realm_access/roles'}]), 'EDGEAUTH_ROLE_TABLE': 't'}); "
        "print('edgeauth.core.providers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == "False"
    out = subprocess.run(
        [sys.executable, "-c", code.replace("'groups_claim'", "'provider': 'generic', 'groups_claim'")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == "True"
