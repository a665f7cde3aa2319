"""Development identity provider: its own signing key, a JWKS, an OIDC discovery document, tokens.

For the local stack only. It signs a token for whoever asks (``POST /token``), which is the point:
try any subject, group or scope against the authorizer. It plays the issuer of the dev stage,
configured from that issuer's settings in the authorizer's environment (audience, algorithm,
``typ``, groups and client claims, required scopes), so its tokens are ones the authorizer accepts.

Endpoints (``base`` = the issuer without its trailing slash):

* ``GET  {base}/.well-known/openid-configuration``: discovery (``issuer``, ``jwks_uri`` …);
* ``GET  {base}/.well-known/jwks.json``: the public key;
* ``POST {base}/token`` with JSON ``{"sub", "groups", "ttl", "scope", "client_id", "claims",
  "dpop_jkt"}``: ``{"access_token", "token_type": "Bearer", "expires_in"}``. With ``dpop_jkt`` (the
  RFC 7638 thumbprint of the client's DPoP public key, as in RFC 9449 §10) the token is DPoP-bound:
  its ``cnf.jkt`` is that thumbprint and ``token_type`` is ``DPoP``. The client keeps its private key
  (``edgeauth token --dpop`` makes one); a real authorization server would take the key from a DPoP
  proof sent to its token endpoint (RFC 9449 §5), this one trusts what it is told.

Provider-shaped tokens: when the issuer it plays has a ``provider`` preset (``python -m
edgeauth_local --provider cognito``, see :func:`edgeauth_local.stack.provider_context`), the tokens
have that provider's shape, as its documentation shows it (the module docstring of
:mod:`edgeauth.core.providers` lists the sources): Cognito access or ID tokens (``token_use``,
``client_id`` or ``aud``, ``cognito:groups``, no ``typ``), Entra (``ver``, ``azp``/``appid``,
``scp``, ``roles``), Okta (``cid``, ``scp`` as an array), Auth0 (``aud`` with ``/userinfo``,
``azp``), Keycloak (``typ: Bearer``, ``azp``, ``realm_access.roles``), GitHub Actions (the
``repository``, ``ref``... claims read from the asked ``sub``, ``repo:<owner>/<repo>:ref:<ref>``)
and Kubernetes (``kubernetes.io`` from ``sub`` ``system:serviceaccount:<ns>:<name>``). The
requested groups go where the provider puts them; ``claims`` still overrides anything.

The key is made at start and lives in memory: tokens do not survive a restart.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from edgeauth.core.settings import IssuerSettings
from edgeauth_local.servers import QuietHandler, ServerThread

DEFAULT_TTL = 3600
MAX_TTL = 24 * 3600
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")
"""A base64url SHA-256 thumbprint (RFC 7638): 43 characters."""


@dataclass
class TokenRequest:
    sub: str
    groups: Sequence[str] = ()
    ttl: int = DEFAULT_TTL
    scope: str | None = None
    client_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    dpop_jkt: str | None = None
    """Bind the token to this DPoP key thumbprint (``cnf.jkt``)."""


class DevIdentityProvider:
    """Keys, documents and token minting for one issuer."""

    def __init__(self, issuer: IssuerSettings) -> None:
        self.settings = issuer
        self.issuer = issuer.issuer
        alg = next(
            (a for a in ("RS256", "ES256", "PS256", "EdDSA", "RS384", "RS512") if a in issuer.algorithms),
            None,
        )
        if alg is None:
            raise ValueError(f"the dev identity provider cannot sign any of {sorted(issuer.algorithms)}")
        self.alg: str = alg
        self.kid = "edgeauth-local-" + uuid.uuid4().hex[:8]
        if self.alg.startswith(("RS", "PS")):
            self._key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif self.alg == "ES256":
            self._key = ec.generate_private_key(ec.SECP256R1())
        else:
            self._key = ed25519.Ed25519PrivateKey.generate()

    @property
    def base(self) -> str:
        return self.issuer.rstrip("/")

    def jwks(self) -> dict[str, Any]:
        pub = self._key.public_key()
        if self.alg.startswith(("RS", "PS")):
            jwk = RSAAlgorithm.to_jwk(pub, as_dict=True)
        elif self.alg.startswith("ES"):
            jwk = ECAlgorithm.to_jwk(pub, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(pub, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return {"keys": [jwk]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.base}/.well-known/jwks.json",
            "token_endpoint": f"{self.base}/token",
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
        }

    def mint(self, req: TokenRequest) -> str:
        """A signed token for ``req``, shaped like the preset's provider (module docstring).
        Raises ValueError for a request the provider could not have answered (a GitHub Actions
        ``sub`` that is not ``repo:<owner>/<repo>:...``)."""
        now = int(time.time())
        ttl = max(1, min(int(req.ttl), MAX_TTL))
        scope = req.scope if req.scope is not None else " ".join(sorted(self.settings.required_scopes))
        shape = _SHAPES.get(self.settings.provider, _generic)
        typ, claims = shape(self.settings, req, now, ttl, scope)
        if req.dpop_jkt is not None:
            claims["cnf"] = {"jkt": req.dpop_jkt}
        claims.update(req.claims)
        # PyJWT adds typ JWT unless told None (Cognito, Okta and Kubernetes tokens have no typ).
        headers: dict[str, Any] = {"kid": self.kid, "typ": self.settings.token_type or typ}
        return jwt.encode(claims, self._key, algorithm=self.alg, headers=headers)


Shape = Callable[[IssuerSettings, TokenRequest, int, int, str], tuple[str | None, dict[str, Any]]]
"""``(settings, request, now, ttl, scope) -> (header typ, claims)``."""


def _audience(settings: IssuerSettings) -> str | None:
    return sorted(settings.audiences)[0] if settings.audiences else None


def _client(settings: IssuerSettings, req: TokenRequest) -> str:
    if req.client_id:
        return req.client_id
    return sorted(settings.client_ids)[0] if settings.client_ids else "edgeauth-local-app"


def _allowed(settings: IssuerSettings, claim: str, default: str) -> str:
    """The one value a preset check allows for ``claim`` (Cognito's token_use, Entra's ver)."""
    for check in settings.claim_checks:
        if check.path.text == claim and check.allowed:
            return sorted(check.allowed)[0]
    return default


def _put_groups(
    settings: IssuerSettings, claims: dict[str, Any], groups: Sequence[str], default: str
) -> None:
    """The groups at the issuer's first groups claim path (nested objects made as needed)."""
    if not groups:
        return
    path = settings.groups_claims[0].segments if settings.groups_claims else (default,)
    node = claims
    for segment in path[:-1]:
        node = node.setdefault(segment, {})
    node[path[-1]] = list(groups)


def _generic(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": _audience(settings),
        "sub": req.sub,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if claims["aud"] is None:  # an issuer whose recipient check is client_ids
        del claims["aud"]
    if scope:
        claims["scope"] = scope
    _put_groups(settings, claims, req.groups, "groups")
    if req.client_id and settings.client_claim:
        claims[settings.client_claim] = req.client_id
    return "JWT", claims


def _cognito(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    use = _allowed(settings, "token_use", "access")
    event = str(uuid.uuid4())
    claims: dict[str, Any] = {"sub": req.sub}
    if req.groups:
        claims["cognito:groups"] = list(req.groups)
    claims.update(
        {"iss": settings.issuer, "origin_jti": str(uuid.uuid4()), "event_id": event, "token_use": use}
    )
    if use == "access":
        claims.update(
            {
                "version": 2,
                "client_id": _client(settings, req),
                "scope": scope or "aws.cognito.signin.user.admin",
            }
        )
        claims["username"] = req.sub
    else:
        claims.update({"aud": _client(settings, req), "cognito:username": req.sub, "email_verified": True})
    claims.update({"auth_time": now, "exp": now + ttl, "iat": now, "jti": str(uuid.uuid4())})
    return None, claims


def _entra(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    ver = _allowed(settings, "ver", "2.0")
    tenant = settings.jwks_uri.split("/")[3] if settings.jwks_uri else str(uuid.UUID(int=0))
    claims: dict[str, Any] = {
        "aud": _audience(settings),
        "iss": settings.issuer,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, req.sub)),
        "sub": req.sub,
        "tid": tenant,
        "uti": uuid.uuid4().hex[:22],
        "ver": ver,
        ("azp" if ver == "2.0" else "appid"): _client(settings, req),
    }
    if scope:
        claims["scp"] = scope
    if req.groups:
        claims["roles"] = list(req.groups)  # app roles: what Entra puts in an API's tokens
    return "JWT", claims


def _okta(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT." + uuid.uuid4().hex,
        "iss": settings.issuer,
        "aud": _audience(settings),
        "sub": req.sub,
        "iat": now,
        "exp": now + ttl,
        "cid": _client(settings, req),
        "uid": "00u" + uuid.uuid5(uuid.NAMESPACE_URL, req.sub).hex[:17],
        "scp": scope.split() if scope else ["openid"],
        "auth_time": now,
    }
    _put_groups(settings, claims, req.groups, "groups")
    return None, claims


def _auth0(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": req.sub,
        "aud": [_audience(settings), settings.issuer.rstrip("/") + "/userinfo"],
        "iat": now,
        "exp": now + ttl,
        "scope": scope or "openid profile",
        settings.client_claim or "azp": _client(settings, req),
    }
    if settings.client_claim == "client_id":  # the RFC 9068 profile
        claims["jti"] = uuid.uuid4().hex
    _put_groups(settings, claims, req.groups, "https://edgeauth.local/roles")
    return "JWT", claims


def _keycloak(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    claims: dict[str, Any] = {
        "exp": now + ttl,
        "iat": now,
        "jti": "onrtac:" + str(uuid.uuid4()),
        "iss": settings.issuer,
        "aud": _audience(settings) or "account",
        "sub": req.sub,
        "typ": "Bearer",
        "azp": _client(settings, req),
        "sid": str(uuid.uuid4()),
        "scope": scope or "openid profile email",
        "realm_access": {"roles": ["default-roles"]},
        "resource_access": {"account": {"roles": ["view-profile"]}},
        "preferred_username": req.sub,
    }
    _put_groups(settings, claims, req.groups, "groups")
    return "JWT", claims


_GITHUB_SUB = re.compile(
    r"repo:(?P<repo>(?P<owner>[^:/]+)/[^:/]+):(?:ref:(?P<ref>.+)|environment:(?P<env>.+)|pull_request)"
)
_K8S_SUB = re.compile(r"system:serviceaccount:(?P<ns>[^:]+):(?P<name>[^:]+)")


def _github_actions(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    m = _GITHUB_SUB.fullmatch(req.sub)
    if m is None:
        raise ValueError(
            "a GitHub Actions sub looks like repo:<owner>/<repo>:ref:<ref> (or :environment:<name>, :pull_request)"
        )
    ref = m.group("ref") or "refs/heads/main"
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "sub": req.sub,
        "aud": _audience(settings),
        "ref": ref,
        "sha": uuid.uuid4().hex + uuid.uuid4().hex[:8],
        "repository": m.group("repo"),
        "repository_owner": m.group("owner"),
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "event_name": "pull_request" if req.sub.endswith(":pull_request") else "push",
        "job_workflow_ref": f"{m.group('repo')}/.github/workflows/deploy.yml@{ref}",
        "runner_environment": "github-hosted",
        "iss": settings.issuer,
        "nbf": now,
        "exp": now + min(ttl, 21600),
        "iat": now,
    }
    if m.group("env"):
        claims["environment"] = m.group("env")
    return "JWT", claims


def _kubernetes(
    settings: IssuerSettings, req: TokenRequest, now: int, ttl: int, scope: str
) -> tuple[str | None, dict[str, Any]]:
    m = _K8S_SUB.fullmatch(req.sub)
    if m is None:
        raise ValueError(
            "a Kubernetes service account sub looks like system:serviceaccount:<namespace>:<name>"
        )
    claims: dict[str, Any] = {
        "aud": [_audience(settings)],
        "exp": now + ttl,
        "iat": now,
        "iss": settings.issuer,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": m.group("ns"),
            "pod": {"name": f"{m.group('name')}-0", "uid": str(uuid.uuid4())},
            "serviceaccount": {"name": m.group("name"), "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, req.sub))},
        },
        "nbf": now,
        "sub": req.sub,
    }
    return None, claims


_SHAPES: dict[str, Shape] = {
    "generic": _generic,
    "cognito": _cognito,
    "entra": _entra,
    "okta": _okta,
    "auth0": _auth0,
    "keycloak": _keycloak,
    "github-actions": _github_actions,
    "kubernetes": _kubernetes,
}


def _parse_request(body: bytes) -> TokenRequest:
    doc = json.loads(body or b"{}")
    if not isinstance(doc, dict):
        raise ValueError("body must be a JSON object")
    sub = doc.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ValueError("'sub' is required")
    groups = doc.get("groups") or []
    if isinstance(groups, str):
        groups = [g for g in groups.split(",") if g]
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ValueError("'groups' must be a list of strings")
    ttl = doc.get("ttl", DEFAULT_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError("'ttl' must be a positive integer (seconds)")
    scope = doc.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise ValueError("'scope' must be a string")
    client_id = doc.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise ValueError("'client_id' must be a string")
    claims = doc.get("claims") or {}
    if not isinstance(claims, dict):
        raise ValueError("'claims' must be an object")
    dpop_jkt = doc.get("dpop_jkt")
    if dpop_jkt is not None and (not isinstance(dpop_jkt, str) or not _JKT.fullmatch(dpop_jkt)):
        raise ValueError("'dpop_jkt' must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
    return TokenRequest(sub, groups, ttl, scope, client_id, claims, dpop_jkt)


class IdpHandler(QuietHandler):
    protocol_version = "HTTP/1.1"

    @property
    def idp(self) -> DevIdentityProvider:
        idp: DevIdentityProvider = self.server.idp  # type: ignore[attr-defined]
        return idp

    def _path(self) -> str:
        prefix = urlsplit(self.idp.base).path
        path = urlsplit(self.path).path
        return path[len(prefix) :] if prefix and path.startswith(prefix) else path

    def do_GET(self) -> None:
        path = self._path()
        if path == "/.well-known/openid-configuration":
            self.send_json(200, self.idp.discovery(), {"Cache-Control": "max-age=300"})
        elif path == "/.well-known/jwks.json":
            self.send_json(200, self.idp.jwks(), {"Cache-Control": "max-age=300"})
        else:
            self.send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        if self._path() != "/token":
            self.send_json(404, {"error": "not_found"})
            return
        try:
            req = _parse_request(self.read_body(64 * 1024))
        except ValueError as e:
            self.send_json(400, {"error": "invalid_request", "error_description": str(e)})
            return
        try:
            token = self.idp.mint(req)
        except ValueError as e:
            self.send_json(400, {"error": "invalid_request", "error_description": str(e)})
            return
        self.send_json(
            200,
            {
                "access_token": token,
                "token_type": "DPoP" if req.dpop_jkt else "Bearer",
                "expires_in": max(1, min(req.ttl, MAX_TTL)),
            },
            {"Cache-Control": "no-store"},
        )


def serve(idp: DevIdentityProvider, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    server = ServerThread("identity provider", IdpHandler, host, port, option="--idp-port")
    server.start(idp=idp)
    return server
