"""Tokens shaped exactly as each identity provider documents them, signed by test keys.

Each function returns ``(header, claims)``; :func:`mint` signs them. The shapes, with the source
each follows (the sample tokens of the providers' own documentation):

* Cognito, "Understanding the access token" / "the identity (ID) token": header ``kid`` and
  ``alg`` only (no ``typ``; the ``kid`` is standard base64, ``+``, ``/`` and ``=`` padding
  included); access:
  ``sub``, ``cognito:groups``, ``iss``, ``version: 2``, ``client_id``, ``origin_jti``,
  ``event_id``, ``token_use: access``, ``scope``, ``auth_time``, ``exp``, ``iat``, ``jti``,
  ``username``, no ``aud``; ID: ``aud`` (the app client id), ``token_use: id``,
  ``cognito:username``, ``email``...
* Entra ID, "Access token claims reference": header ``typ: JWT``, ``kid`` and (v1.0) ``x5t`` equal
  to it; ``ver``, ``iss`` (v2.0 ``…/v2.0``, v1.0 ``https://sts.windows.net/<tid>/``), ``aud``,
  ``azp`` (v2.0) / ``appid`` (v1.0), ``scp`` (space separated), ``roles``, ``groups``, ``oid``,
  ``tid``, ``uti``, ``aio``, ``rh``; group overage as ``_claim_names``/``_claim_sources``.
* Okta custom authorization server: header ``kid``, ``alg``; ``ver: 1``, ``jti: "AT.…"``, ``cid``,
  ``uid``, ``scp`` (an array), ``auth_time``; the ID token has ``aud`` = client id, ``amr``,
  ``idp``, ``at_hash``, no ``cid``/``scp``.
* Auth0 "Access Token Profiles": ``iss`` with a trailing slash, ``aud`` a list with the
  ``/userinfo`` audience, ``azp`` (Auth0 profile) or ``client_id`` + ``jti`` + ``typ: at+jwt``
  (RFC 9068 profile), ``scope``; roles in a namespaced claim.
* Keycloak: header ``typ: JWT``; ``typ: Bearer`` (``ID`` in ID tokens), ``azp``, ``aud:
  "account"``, ``realm_access.roles``, ``resource_access.<client>.roles``, ``scope``, ``sid``.
* GitHub Actions "OpenID Connect reference": header ``typ: JWT``, ``kid``, ``x5t``; ``sub``
  ``repo:<owner>/<repo>:ref:<ref>``, ``repository``, ``repository_owner``(``_id``), ``ref``,
  ``environment``..., lifetime 6 hours.
* Kubernetes projected service account token: ``aud`` a list, ``sub``
  ``system:serviceaccount:<ns>:<name>``, ``kubernetes.io`` with ``namespace``, ``pod``,
  ``serviceaccount``.
"""

from __future__ import annotations

from typing import Any

import jwt

from tests.support.tokens import SigningKey

POOL = "us-east-1_Example1"
COGNITO_ISS = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
COGNITO_JWKS = f"{COGNITO_ISS}/.well-known/jwks.json"
COGNITO_CLIENT = "1example23456789abcdefghij"

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ENTRA_V2_ISS = f"https://login.microsoftonline.com/{TENANT}/v2.0"
ENTRA_V1_ISS = f"https://sts.windows.net/{TENANT}/"
ENTRA_V2_KEYS = f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
ENTRA_V1_KEYS = f"https://login.microsoftonline.com/{TENANT}/discovery/keys"
ENTRA_API = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
ENTRA_API_URI = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
ENTRA_CLIENT = "0f12a4bb-3e06-4c1e-9d6a-5b3f1c9e2d11"

OKTA_DOMAIN = "dev-123456.okta.com"
OKTA_ISS = f"https://{OKTA_DOMAIN}/oauth2/default"
OKTA_KEYS = f"{OKTA_ISS}/v1/keys"
OKTA_CLIENT = "0oa1b2c3d4e5f6g7h8i9"

AUTH0_DOMAIN = "my-tenant.us.auth0.com"
AUTH0_ISS = f"https://{AUTH0_DOMAIN}/"
AUTH0_KEYS = f"https://{AUTH0_DOMAIN}/.well-known/jwks.json"
AUTH0_API = "https://api.example.com"
AUTH0_CLIENT = "xQz7pLmN4oRsTuVwXyZa1b2C3d4E5f6G"
AUTH0_ROLES = "https://example.com/roles"

KEYCLOAK_BASE = "https://sso.example.com"
KEYCLOAK_ISS = f"{KEYCLOAK_BASE}/realms/bank"
KEYCLOAK_KEYS = f"{KEYCLOAK_ISS}/protocol/openid-connect/certs"
KEYCLOAK_CLIENT = "bank-frontend"

GITHUB_ISS = "https://token.actions.githubusercontent.com"
GITHUB_DISCOVERY = f"{GITHUB_ISS}/.well-known/openid-configuration"
GITHUB_KEYS = f"{GITHUB_ISS}/.well-known/jwks"
GITHUB_AUD = "https://api.example.com"

K8S_ISS = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
K8S_DISCOVERY = f"{K8S_ISS}/.well-known/openid-configuration"
K8S_KEYS = f"{K8S_ISS}/keys"
K8S_AUD = "bank-api"


def mint(key: SigningKey, shaped: tuple[dict[str, Any], dict[str, Any]]) -> str:
    """Sign ``(header, claims)`` with exactly that header (``typ`` only where the shape has one)."""
    header, claims = shaped
    headers: dict[str, Any] = {"typ": None, **header}
    return jwt.encode(claims, key.private, algorithm=key.alg, headers=headers)


def cognito_access(
    now: int,
    *,
    client_id: str = COGNITO_CLIENT,
    groups: list[str] | None = None,
    kid: str = "Lt3OVBH/gxCPW+6t5S2Ia/0nGw7mpbv9QM1hStWKy0s=",
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims: dict[str, Any] = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "device_key": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "iss": COGNITO_ISS,
        "version": 2,
        "client_id": client_id,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "token_use": "access",
        "scope": "phone openid profile resourceserver.1/appclient2 email",
        "auth_time": now - 60,
        "exp": now + 3600,
        "iat": now,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "username": "my-test-user",
    }
    if groups is not None:
        claims = {"cognito:groups": groups, **claims}
    return {"kid": kid, "alg": "RS256"}, claims


def cognito_id(
    now: int,
    *,
    client_id: str = COGNITO_CLIENT,
    groups: list[str] | None = None,
    kid: str = "abcdefghijklmnopqrsexample=",
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims: dict[str, Any] = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "email_verified": True,
        "iss": COGNITO_ISS,
        "cognito:username": "my-test-user",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "aud": client_id,
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "token_use": "id",
        "auth_time": now - 60,
        "exp": now + 3600,
        "iat": now,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "email": "my-test-user@example.com",
    }
    if groups is not None:
        claims = {"cognito:groups": groups, **claims}
    return {"kid": kid, "alg": "RS256"}, claims


def entra_access(
    now: int,
    *,
    version: int = 2,
    aud: str = ENTRA_API,
    client: str = ENTRA_CLIENT,
    scp: str | None = "accounts.read accounts.write",
    roles: list[str] | None = None,
    groups: list[str] | None = None,
    overage: bool = False,
    kid: str = "nOo3ZDrODXEK1jKWhXslHR_KXEg",
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims: dict[str, Any] = {
        "aud": aud,
        "iss": ENTRA_V2_ISS if version == 2 else ENTRA_V1_ISS,
        "iat": now,
        "nbf": now,
        "exp": now + 4000,
        "aio": "AXQAi/8TAAAAr8/Xv4Z9kLKuD6BZ8MrjgpJoe9Ip3SNnSSY+VkpmFsRv6f8GN0qBZA5eNEOwdiP",
        "name": "Abe Lincoln",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "rh": "I",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": TENANT,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": f"{version}.0",
    }
    if version == 2:
        claims["azp"] = client
        claims["azpacr"] = "0"
        claims["preferred_username"] = "abeli@microsoft.com"
    else:
        claims["appid"] = client
        claims["appidacr"] = "0"
        claims["unique_name"] = "abeli@microsoft.com"
    if scp is not None:
        claims["scp"] = scp
    if roles is not None:
        claims["roles"] = roles
    if groups is not None:
        claims["groups"] = groups
    if overage:
        claims["_claim_names"] = {"groups": "src1"}
        claims["_claim_sources"] = {
            "src1": {"endpoint": f"https://graph.windows.net/{TENANT}/users/{claims['oid']}/getMemberObjects"}
        }
    header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": kid}
    if version == 1:
        header["x5t"] = kid
    return header, claims


def entra_id(
    now: int, *, aud: str = ENTRA_API, kid: str = "nOo3ZDrODXEK1jKWhXslHR_KXEg"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A v2.0 ID token (ID token claims reference): no ``azp``, no ``scp``; ``aud`` the app's id."""
    claims = {
        "aud": aud,
        "iss": ENTRA_V2_ISS,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "aio": "Df2UVXL1ix!lMCWMSOJBcFatzcGfvFGhjKv8q5g0x732dR5MB5BisvGQO7YWByjd8iQDLq!eGbIDakyp5mnOrcdqHeYSnltepQmRp6AIZ8jY",
        "name": "Abe Lincoln",
        "nonce": "123523",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "abeli@microsoft.com",
        "rh": "I",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": TENANT,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0",
    }
    return {"typ": "JWT", "alg": "RS256", "kid": kid}, claims


def okta_access(
    now: int, *, cid: str = OKTA_CLIENT, scp: list[str] | None = None, groups: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT.MNAoEQ_jbKqoinrQo1D0XKjMX28U5d7ZszBceot7-Ts",
        "iss": OKTA_ISS,
        "aud": "api://default",
        "sub": "alice@example.com",
        "iat": now,
        "exp": now + 3600,
        "cid": cid,
        "uid": "00u1a2b3c4d5e6f7g8h9",
        "scp": scp if scp is not None else ["openid", "profile", "accounts:read"],
        "auth_time": now - 30,
    }
    if groups is not None:
        claims["groups"] = groups
    return {"kid": "ZkvelLN_seik7w4pc_prCcfUf-h2hFfiwkDeCrs0iUc", "alg": "RS256"}, claims


def okta_id(now: int) -> tuple[dict[str, Any], dict[str, Any]]:
    claims = {
        "sub": "00u1a2b3c4d5e6f7g8h9",
        "name": "Alice",
        "email": "alice@example.com",
        "ver": 1,
        "iss": OKTA_ISS,
        "aud": OKTA_CLIENT,
        "iat": now,
        "exp": now + 3600,
        "jti": "ID.radCQMOQUmyvcTBmmIL0J6BaS60apUEiC7-vI7pOmkw",
        "amr": ["pwd"],
        "idp": "00o1a2b3c4d5e6f7g8h9",
        "preferred_username": "alice@example.com",
        "auth_time": now - 30,
        "at_hash": "fPlsvVszI29LU2UhDyJ9vg",
    }
    return {"kid": "fAomAvsWyAWDlnBuJbHoqqCRcRdmsg4vri0OICxbIgs", "alg": "RS256"}, claims


def auth0_access(
    now: int, *, profile: str = "auth0", roles: list[str] | None = None, azp: str = AUTH0_CLIENT
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims: dict[str, Any] = {
        "iss": AUTH0_ISS,
        "sub": "auth0|123456",
        "aud": [AUTH0_API, f"https://{AUTH0_DOMAIN}/userinfo"],
        "iat": now,
        "exp": now + 86400,
        "scope": "openid profile read:accounts",
    }
    header: dict[str, Any] = {
        "alg": "RS256",
        "typ": "JWT",
        "kid": "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg",
    }
    if profile == "auth0":
        claims["azp"] = azp
    else:
        claims["client_id"] = azp
        claims["jti"] = "73WakrfVbNJBaAmhQtEeDv"
        header["typ"] = "at+jwt"
    if roles is not None:
        claims[AUTH0_ROLES] = roles
    return header, claims


def auth0_id(now: int) -> tuple[dict[str, Any], dict[str, Any]]:
    claims = {
        "iss": AUTH0_ISS,
        "sub": "auth0|123456",
        "aud": AUTH0_CLIENT,
        "iat": now,
        "exp": now + 36000,
        "nonce": "n-0S6_WzA2Mj",
        "name": "Alice",
        "email": "alice@example.com",
    }
    return {
        "alg": "RS256",
        "typ": "JWT",
        "kid": "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg",
    }, claims


def keycloak_token(
    now: int,
    *,
    typ: str = "Bearer",
    azp: str = KEYCLOAK_CLIENT,
    realm_roles: list[str] | None = None,
    client_roles: dict[str, list[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims: dict[str, Any] = {
        "exp": now + 300,
        "iat": now,
        "auth_time": now - 10,
        "jti": "onrtac:4b5f7c1e-8d3a-4b6e-9c2f-1a2b3c4d5e6f",
        "iss": KEYCLOAK_ISS,
        "aud": "account" if typ == "Bearer" else azp,
        "sub": "f:6c0e4b9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b:alice",
        "typ": typ,
        "azp": azp,
        "sid": "1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b8",
        "scope": "openid profile email",
        "email_verified": True,
        "preferred_username": "alice",
    }
    if typ == "Bearer":
        claims["realm_access"] = {"roles": realm_roles if realm_roles is not None else ["default-roles-bank"]}
        claims["resource_access"] = {
            "account": {"roles": ["manage-account", "view-profile"]},
            **(client_roles or {}),
        }
    return {"alg": "RS256", "typ": "JWT", "kid": "nnniBrxL0qhG79pkF3ccQj_l0jDmxKrYYy2YLlEe1s"}, claims


def github_actions(
    now: int,
    *,
    repository: str = "octo-org/octo-repo",
    ref: str = "refs/heads/main",
    aud: str = GITHUB_AUD,
    environment: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    owner = repository.split("/", 1)[0]
    sub = f"repo:{repository}:environment:{environment}" if environment else f"repo:{repository}:ref:{ref}"
    claims: dict[str, Any] = {
        "jti": "example-id",
        "sub": sub,
        "aud": aud,
        "ref": ref,
        "sha": "example-sha",
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": "65",
        "actor_id": "12",
        "repository_visibility": "private",
        "repository_id": "74",
        "run_id": "example-run-id",
        "run_number": "10",
        "run_attempt": "2",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "workflow": "example-workflow",
        "head_ref": "",
        "base_ref": "",
        "event_name": "workflow_dispatch",
        "ref_type": "branch",
        "job_workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}",
        "iss": GITHUB_ISS,
        "nbf": now - 300,
        "exp": now + 21600 - 300,
        "iat": now - 300,
    }
    if environment:
        claims["environment"] = environment
    header = {"typ": "JWT", "alg": "RS256", "x5t": "example-thumbprint", "kid": "example-key-id"}
    return header, claims


def kubernetes_sa(
    now: int, *, namespace: str = "payments", name: str = "ledger", aud: str = K8S_AUD
) -> tuple[dict[str, Any], dict[str, Any]]:
    claims = {
        "aud": [aud],
        "exp": now + 3600,
        "iat": now,
        "iss": K8S_ISS,
        "jti": "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": "ip-10-0-1-23.ec2.internal", "uid": "9e1c5d0e-6b2a-4d3f-8e7a-1b2c3d4e5f60"},
            "pod": {"name": f"{name}-7c9d8f6b5-x2x4z", "uid": "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"},
            "serviceaccount": {"name": name, "uid": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"},
        },
        "nbf": now,
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    return {"alg": "RS256", "kid": "Ab3xk9Qd2Zr7Lm5Np1Ty8Wv6Us4Hq0Je2Gf9Cd7Bb5a"}, claims
