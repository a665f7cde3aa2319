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

The key is made at start and lives in memory: tokens do not survive a restart.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
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
        now = int(time.time())
        ttl = max(1, min(int(req.ttl), MAX_TTL))
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": sorted(self.settings.audiences)[0],
            "sub": req.sub,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        scope = req.scope if req.scope is not None else " ".join(sorted(self.settings.required_scopes))
        if scope:
            claims["scope"] = scope
        if req.groups:
            claims[self.settings.groups_claim or "groups"] = list(req.groups)
        if req.client_id and self.settings.client_claim:
            claims[self.settings.client_claim] = req.client_id
        if req.dpop_jkt is not None:
            claims["cnf"] = {"jkt": req.dpop_jkt}
        claims.update(req.claims)
        headers = {"kid": self.kid, "typ": self.settings.token_type or "JWT"}
        return jwt.encode(claims, self._key, algorithm=self.alg, headers=headers)


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
        token = self.idp.mint(req)
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
