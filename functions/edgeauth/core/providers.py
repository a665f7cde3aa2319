"""Provider presets: an issuer's settings from the few values its identity provider's admin knows.

``provider`` in an issuer's settings names a preset (:data:`PROVIDERS`). The preset reads its own
values (Cognito: the user pool id, the app client ids, ``token_use``...), checks them, and expands
them into the generic settings (``issuer``, key source, ``audiences``, ``required_claims``,
``client_claim``, ``client_ids``, ``groups_claim``...) plus the checks the provider's tokens need
that no generic setting expresses (:class:`~edgeauth.core.claims.ClaimCheck`: Cognito's
``token_use``, Entra's ``ver``, Keycloak's ``typ`` claim, GitHub's repository allowlist...). Then
:func:`edgeauth.core.settings.parse_issuer` validates the result exactly as it validates a generic
issuer. A generic setting given explicitly beside a preset wins over the preset's value for it and
is validated the same way; the preset's own checks cannot be removed that way (only by changing the
preset's values, e.g. ``token_use``).

What every preset guarantees, and ``tests/unit/test_providers.py`` holds for each of them: the
expansion is at least as strict as ``generic``'s defaults for every check ``generic`` makes (the
same asymmetric algorithms, leeway, lifetime bound, key-source rules, ``iss``/``exp``/``sub``
required, ``iat`` required too), and the recipient is always checked: ``aud`` against
``audiences`` or, where the provider's access tokens have no ``aud`` or a generic one (Cognito,
Keycloak), the client claim against ``client_ids`` with the token kind pinned. No preset accepts
both ID and access tokens.

Where each shape comes from (the providers' own documentation):

* Cognito: "Understanding the access token" / "the identity (ID) token" and "Verifying JSON web
  tokens" (Amazon Cognito Developer Guide): ``iss`` ``https://cognito-idp.<region>.amazonaws.com/
  <userPoolId>`` (``IssuerConfigurationType`` ``UPDATED``: ``https://issuer-cognito-idp.<region>
  .amazonaws.com/<userPoolId>``, Cognito API Reference), JWKS ``<iss>/.well-known/jwks.json``,
  header ``kid`` + ``alg`` RS256 (no ``typ``); access tokens carry ``token_use: access`` and
  ``client_id`` and no ``aud``; ID tokens ``token_use: id`` and ``aud`` = the app client id; groups
  in ``cognito:groups``. Amazon Verified Permissions and awslabs/aws-jwt-verify both require the
  client id and the token use.
* Entra ID: "Access token claims reference" (Microsoft identity platform): v2.0 ``iss``
  ``https://login.microsoftonline.com/<tenant>/v2.0``, v1.0 ``https://sts.windows.net/<tenant>/``;
  ``ver`` ``"2.0"``/``"1.0"``; the calling client in ``azp`` (v2.0) / ``appid`` (v1.0), claims
  of access tokens only; ``aud`` the API's client id (v2.0) or App ID URI (v1.0); ``scp`` a
  space-separated string; ``roles`` and ``groups`` arrays; group overage as ``_claim_names``;
  header ``typ: JWT`` with ``kid`` (and ``x5t`` in v1.0). Keys at
  ``https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`` (v1.0: ``/discovery/keys``).
* Okta: custom authorization servers (Okta developer docs): ``iss`` ``https://<domain>/oauth2/
  <authorizationServerId>``, keys at ``<iss>/v1/keys``; access tokens carry ``cid`` (the client) and
  ``scp`` (an array), ID tokens carry neither; the ``default`` server's audience is
  ``api://default``. The org authorization server's tokens (``iss`` without ``/oauth2/``) are for
  Okta's own APIs and cannot be validated by a resource server: not offered.
* Auth0: "Access Token Profiles": ``iss`` ``https://<domain>/`` (trailing slash), keys at
  ``https://<domain>/.well-known/jwks.json``; ``aud`` the API identifier (a list with the
  ``/userinfo`` audience when ``openid`` was asked); the Auth0 profile names the client in ``azp``,
  the RFC 9068 profile in ``client_id`` with ``typ: at+jwt``; roles only through namespaced claims.
* Keycloak: ``iss`` ``<base>/realms/<realm>``, keys at ``<iss>/protocol/openid-connect/certs``;
  access tokens carry the claim ``typ: Bearer`` (ID tokens ``typ: ID``) and the client in ``azp``;
  ``aud`` is often just ``account``; roles in ``realm_access.roles`` and
  ``resource_access.<client>.roles``.
* GitHub Actions: "OpenID Connect reference" (GitHub Docs): ``iss``
  ``https://token.actions.githubusercontent.com`` (no trailing slash; ``/<enterprise>`` with a
  customised issuer), discovery, ``aud`` by default ``https://github.com/<owner>``, ``sub``
  ``repo:<owner>/<repo>:ref:<ref>`` (or ``:environment:<name>``, ``:pull_request``), claims
  ``repository``, ``repository_owner``, ``ref``, ``environment``... Tokens live 6 hours.
  GitHub's issuer is shared by every repository on github.com: a repository allowlist is required.
* Kubernetes: service account token volume projection (Kubernetes docs): the cluster's issuer
  (``--service-account-issuer``; EKS ``https://oidc.eks.<region>.amazonaws.com/id/<id>``) with
  discovery, ``aud`` the audience the pod's projected token asks for, ``sub``
  ``system:serviceaccount:<namespace>:<name>``, ``kubernetes.io.namespace``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from edgeauth.core.claims import ClaimCheck, parse_claim_path
from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import PROVIDERS as SETTING_PROVIDERS

GENERIC: Final = "generic"
PROVIDERS: Final = SETTING_PROVIDERS
"""Every value of an issuer's ``provider`` setting (its choices in the settings table)."""

#: Claims every preset requires (the providers all set them): generic's minus ``aud`` (required
#: where the preset checks ``aud``), plus ``iat``, so the lifetime bound is measured from issuance.
PRESET_REQUIRED_CLAIMS: Final = ("iss", "exp", "sub", "iat")

_USER_POOL_ID = re.compile(r"(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d)_[A-Za-z0-9]+")
_REGION = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-\d")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?"
)
_OKTA_SERVER = re.compile(r"[A-Za-z0-9]{1,64}")
_REALM = re.compile(r"[^/?#\s]{1,255}")
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_GITHUB_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_K8S_NAMESPACE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")


class Expansion(NamedTuple):
    """What a preset contributes: generic settings (raw, validated by ``parse_issuer`` like explicit
    ones) and its own checks."""

    settings: dict[str, Any]
    checks: tuple[ClaimCheck, ...] = ()


class Preset(NamedTuple):
    """One provider: the keys of its own values, and how they expand."""

    name: str
    keys: frozenset[str]
    expand: Callable[[Mapping[str, Any], str], Expansion]
    summary: str
    required: tuple[str, ...] = ()


# -- value checks (each error names the preset's own setting) ------------------------------------------


def _required(raw: Mapping[str, Any], where: str, provider: str, key: str, what: str) -> Any:
    if key not in raw:
        raise ConfigError(f"{where}.{key}", f"is required by the {provider} preset ({what})")
    return raw[key]


def _string(where: str, key: str, value: Any, pattern: re.Pattern[str] | None, example: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}", f"must be a non-empty string, e.g. {example!r}")
    if pattern is not None and not pattern.fullmatch(value):
        raise ConfigError(f"{where}.{key}", f"is not of the expected form (e.g. {example!r}), got {value!r}")
    return value


def _string_list(
    where: str, key: str, value: Any, pattern: re.Pattern[str] | None, example: str
) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}.{key}", f"must be a non-empty list of strings, e.g. [{example!r}]")
    for i, item in enumerate(value):
        _string(where, f"{key}[{i}]", item, pattern, example)
    return list(dict.fromkeys(value))


def _choice(where: str, key: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if isinstance(value, bool) or value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{where}.{key}", f"must be one of {shown}, got {value!r}")
    return value


def _check(path: str, allowed: list[str] | None, reason: str, provider: str, why: str) -> ClaimCheck:
    return ClaimCheck(
        parse_claim_path(path),
        frozenset(allowed) if allowed is not None else None,
        reason,
        f"provider {provider}",
        why,
    )


def _key_source(issuer: Any, suffix: str) -> dict[str, Any]:
    """``jwks_uri`` relative to the effective issuer (explicit or derived)."""
    if isinstance(issuer, str) and issuer:
        return {"jwks_uri": issuer.rstrip("/") + suffix}
    return {}


def _base(issuer: Any, audiences: list[str], client_claim: str | None, **more: Any) -> dict[str, Any]:
    """The generic settings every preset starts from. ``aud`` joins the required claims in
    ``parse_issuer`` whenever the issuer ends up with audiences (the preset's or explicit ones)."""
    required = list(PRESET_REQUIRED_CLAIMS)
    return {
        "issuer": issuer,
        "audiences": audiences,
        "algorithms": ["RS256"],
        "required_claims": required,
        "client_claim": client_claim,
        **more,
    }


# -- the presets -------------------------------------------------------------------------------------------


def _cognito(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "cognito"
    pool = _string(
        where,
        "user_pool_id",
        _required(raw, where, p, "user_pool_id", "the user pool's id, e.g. 'us-east-1_AbCdEf123'"),
        _USER_POOL_ID,
        "us-east-1_AbCdEf123",
    )
    pool_region = pool.split("_", 1)[0]
    if "region" in raw:
        region = _string(where, "region", raw["region"], _REGION, "us-east-1")
        if region != pool_region:
            raise ConfigError(
                f"{where}.region",
                f"is {region!r} but the user pool id {pool!r} is of region {pool_region!r}",
            )
    clients = _string_list(
        where,
        "client_ids",
        _required(raw, where, p, "client_ids", "the app client ids whose tokens are accepted"),
        None,
        "1example23456789",
    )
    token_use = _choice(
        where,
        "token_use",
        _required(raw, where, p, "token_use", "'access' or 'id': which of the pool's tokens this API takes"),
        ("access", "id"),
    )
    issuer_type = _choice(where, "issuer_type", raw.get("issuer_type", "ORIGINAL"), ("ORIGINAL", "UPDATED"))
    host = "cognito-idp" if issuer_type == "ORIGINAL" else "issuer-cognito-idp"
    issuer = raw.get("issuer", f"https://{host}.{pool_region}.amazonaws.com/{pool}")
    uses = _check(
        "token_use",
        [token_use],
        "wrong_token_type",
        p,
        f"only {token_use} tokens (Cognito's ID and access tokens share issuer and keys)",
    )
    if token_use == "access":  # noqa: S105 - a kind of token, not a secret
        # No aud in Cognito access tokens: the app client in client_id is the recipient check.
        settings = _base(issuer, [], "client_id", client_ids=clients)
    else:
        # An ID token's aud is the app client id; client_claim aud names it for usage keys.
        settings = _base(issuer, clients, "aud", client_ids=clients)
    settings.update(_key_source(issuer, "/.well-known/jwks.json"))
    settings["groups_claim"] = "cognito:groups"
    return Expansion(settings, (uses,))


def _entra(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "entra"
    tenant = raw.get("tenant_id")
    if tenant in ("common", "organizations", "consumers"):
        raise ConfigError(
            f"{where}.tenant_id",
            f"must be one tenant's id (a GUID), not {tenant!r}: the multi-tenant endpoints' tokens "
            "name each user's own tenant as issuer, so any Entra tenant could sign in",
        )
    tenant = _string(
        where,
        "tenant_id",
        _required(raw, where, p, "tenant_id", "the directory (tenant) id, a GUID"),
        _GUID,
        "00000000-0000-0000-0000-000000000000",
    ).lower()
    version = _choice(
        where,
        "token_version",
        _required(
            raw,
            where,
            p,
            "token_version",
            "1 or 2: the API app's requestedAccessTokenVersion (null in the manifest means 1)",
        ),
        (1, 2),
    )
    audiences: list[str] = []
    if "application_id" in raw:
        audiences.append(
            _string(
                where, "application_id", raw["application_id"], _GUID, "11111111-2222-3333-4444-555555555555"
            )
        )
    if "application_id_uri" in raw:
        audiences.append(
            _string(where, "application_id_uri", raw["application_id_uri"], None, "api://my-api")
        )
    if not audiences and "audiences" not in raw:
        raise ConfigError(
            f"{where}.application_id",
            "is required by the entra preset (the API's Application (client) ID; with v1 tokens, or "
            "instead, 'application_id_uri', e.g. api://<id>)",
        )
    if version == 2:
        issuer = raw.get("issuer", f"https://login.microsoftonline.com/{tenant}/v2.0")
        client = "azp"
        keys = f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
    else:
        issuer = raw.get("issuer", f"https://sts.windows.net/{tenant}/")
        client = "appid"
        keys = f"https://login.microsoftonline.com/{tenant}/discovery/keys"
    ver = f"{version}.0"
    checks = (
        _check("ver", [ver], "wrong_token_type", p, f"v{ver} tokens only (the API's token version)"),
        _check(
            client,
            None,
            "wrong_token_type",
            p,
            f"access tokens only: '{client}' (the calling app) is not in ID tokens",
        ),
    )
    settings = _base(issuer, audiences, client, jwks_uri=keys, groups_claim=["roles", "groups"])
    return Expansion(settings, checks)


def _okta(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "okta"
    domain = _string(
        where,
        "domain",
        _required(raw, where, p, "domain", "the Okta org's host name, e.g. 'dev-123456.okta.com'"),
        _HOST,
        "dev-123456.okta.com",
    )
    server = _string(
        where,
        "authorization_server",
        _required(
            raw,
            where,
            p,
            "authorization_server",
            "the custom authorization server's id, or 'default' (the org authorization server's "
            "tokens are for Okta's own APIs and cannot be validated by an API)",
        ),
        _OKTA_SERVER,
        "default",
    )
    issuer = raw.get("issuer", f"https://{domain}/oauth2/{server}")
    audiences = ["api://default"] if server == "default" else []
    if not audiences and "audiences" not in raw:
        raise ConfigError(
            f"{where}.audiences",
            "is required by the okta preset for a custom authorization server (its Audience, "
            "Security > API > Authorization Servers)",
        )
    settings = _base(issuer, audiences, "cid", **_key_source(issuer, "/v1/keys"))
    check = _check(
        "cid", None, "wrong_token_type", p, "access tokens only: 'cid' (the client) is not in ID tokens"
    )
    return Expansion(settings, (check,))


def _auth0(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "auth0"
    domain = _string(
        where,
        "domain",
        _required(
            raw,
            where,
            p,
            "domain",
            "the tenant's domain, e.g. 'my-tenant.us.auth0.com', or its custom domain",
        ),
        _HOST,
        "my-tenant.us.auth0.com",
    )
    if "audiences" not in raw:
        raise ConfigError(f"{where}.audiences", "is required by the auth0 preset (the API's Identifier)")
    profile = _choice(where, "token_profile", raw.get("token_profile", "auth0"), ("auth0", "rfc9068"))
    issuer = raw.get("issuer", f"https://{domain}/")
    more: dict[str, Any] = {"token_type": "at+jwt"} if profile == "rfc9068" else {}
    client = "client_id" if profile == "rfc9068" else "azp"
    settings = _base(issuer, [], client, **_key_source(issuer, "/.well-known/jwks.json"), **more)
    return Expansion(settings)


def _keycloak(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "keycloak"
    from edgeauth.core.settings import validate_key_url

    base = _required(
        raw,
        where,
        p,
        "base_url",
        "the server's URL, e.g. 'https://sso.example.com' (with '/auth' before Keycloak 17)",
    )
    validate_key_url(f"{where}.base_url", base)
    realm = _string(where, "realm", _required(raw, where, p, "realm", "the realm's name"), _REALM, "my-realm")
    clients = _string_list(
        where,
        "client_ids",
        _required(
            raw,
            where,
            p,
            "client_ids",
            "the clients (azp) whose tokens are accepted: Keycloak's aud is often just 'account'",
        ),
        None,
        "my-frontend",
    )
    issuer = raw.get("issuer", f"{base.rstrip('/')}/realms/{realm}")
    groups = ["/realm_access/roles"]
    if "roles_client" in raw:
        client_roles = _string(where, "roles_client", raw["roles_client"], None, "my-api")
        groups.append("/resource_access/" + client_roles.replace("~", "~0").replace("/", "~1") + "/roles")
    settings = _base(
        issuer,
        [],
        "azp",
        client_ids=clients,
        groups_claim=groups,
        **_key_source(issuer, "/protocol/openid-connect/certs"),
    )
    check = _check("typ", ["Bearer"], "wrong_token_type", p, "access tokens only (ID tokens have typ 'ID')")
    return Expansion(settings, (check,))


def _github_actions(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "github-actions"
    if "audiences" not in raw:
        raise ConfigError(
            f"{where}.audiences",
            "is required by the github-actions preset (the audience your workflows ask for, e.g. "
            "'https://api.example.com'; GitHub's default is https://github.com/<owner>)",
        )
    if ("repositories" in raw) == ("owners" in raw):
        raise ConfigError(
            f"{where}.repositories",
            "give exactly one of 'repositories' (['owner/repo', ...]) or 'owners' (['owner', ...]): "
            "GitHub's issuer is shared by every repository on github.com",
        )
    if "repositories" in raw:
        allowed = _string_list(where, "repositories", raw["repositories"], _GITHUB_REPO, "octo-org/octo-repo")
        check = _check("repository", allowed, "claim_not_allowed", p, "workflows of these repositories only")
    else:
        allowed = _string_list(where, "owners", raw["owners"], _GITHUB_OWNER, "octo-org")
        check = _check(
            "repository_owner", allowed, "claim_not_allowed", p, "repositories of these owners only"
        )
    issuer = "https://token.actions.githubusercontent.com"
    if "enterprise" in raw:
        issuer += "/" + _string(where, "enterprise", raw["enterprise"], _GITHUB_OWNER, "octo-enterprise")
    settings = _base(
        raw.get("issuer", issuer),
        [],
        None,
        discovery=True,
        mapped_claims=["repository", "repository_owner", "ref", "environment"],
    )
    return Expansion(settings, (check,))


def _kubernetes(raw: Mapping[str, Any], where: str) -> Expansion:
    p = "kubernetes"
    issuer = _required(
        raw,
        where,
        p,
        "issuer",
        "the cluster's service account issuer, e.g. EKS's 'https://oidc.eks.<region>.amazonaws.com/id/<id>'",
    )
    if "audiences" not in raw:
        raise ConfigError(
            f"{where}.audiences",
            "is required by the kubernetes preset (the audience of the pod's projected token; never "
            "the API server's own, which every service account token of the cluster carries)",
        )
    checks: tuple[ClaimCheck, ...] = ()
    if "namespaces" in raw:
        allowed = _string_list(where, "namespaces", raw["namespaces"], _K8S_NAMESPACE, "payments")
        checks = (
            _check(
                "/kubernetes.io/namespace",
                allowed,
                "claim_not_allowed",
                p,
                "service accounts of these namespaces only",
            ),
        )
    settings = _base(issuer, [], None, discovery=True, mapped_claims=["/kubernetes.io/namespace"])
    return Expansion(settings, checks)


def _generic(raw: Mapping[str, Any], where: str) -> Expansion:
    return Expansion({})


PRESETS: Final[Mapping[str, Preset]] = {
    "generic": Preset("generic", frozenset(), _generic, "every setting explicit"),
    "cognito": Preset(
        "cognito",
        frozenset({"user_pool_id", "region", "token_use", "issuer_type"}),
        _cognito,
        "Amazon Cognito user pool: access tokens (client_id) or ID tokens (aud), never both",
        ("user_pool_id", "client_ids", "token_use"),
    ),
    "entra": Preset(
        "entra",
        frozenset({"tenant_id", "application_id", "application_id_uri", "token_version"}),
        _entra,
        "Microsoft Entra ID: one tenant, v1.0 or v2.0 access tokens",
        ("tenant_id", "token_version", "application_id or application_id_uri"),
    ),
    "okta": Preset(
        "okta",
        frozenset({"domain", "authorization_server"}),
        _okta,
        "Okta custom authorization server: access tokens (cid)",
        ("domain", "authorization_server"),
    ),
    "auth0": Preset(
        "auth0",
        frozenset({"domain", "token_profile"}),
        _auth0,
        "Auth0 API: access tokens for the API identifier",
        ("domain", "audiences"),
    ),
    "keycloak": Preset(
        "keycloak",
        frozenset({"base_url", "realm", "roles_client"}),
        _keycloak,
        "Keycloak realm: access tokens (typ Bearer) of allowed clients (azp)",
        ("base_url", "realm", "client_ids"),
    ),
    "github-actions": Preset(
        "github-actions",
        frozenset({"repositories", "owners", "enterprise"}),
        _github_actions,
        "GitHub Actions OIDC: workflows of allowed repositories or owners",
        ("audiences", "repositories or owners"),
    ),
    "kubernetes": Preset(
        "kubernetes",
        frozenset({"namespaces"}),
        _kubernetes,
        "Kubernetes service account tokens (projected, with a dedicated audience)",
        ("issuer", "audiences"),
    ),
}

PRESET_KEYS: Final = frozenset(k for preset in PRESETS.values() for k in preset.keys)
"""Every preset-only setting name (an error names the preset a stray one belongs to)."""


def preset_owning(key: str) -> str | None:
    """The preset whose own setting ``key`` is (the first, by :data:`PROVIDERS` order)."""
    return next((name for name in PROVIDERS if key in PRESETS[name].keys), None)
