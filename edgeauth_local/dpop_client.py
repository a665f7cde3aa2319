"""A DPoP client (RFC 9449): its key pair, and a fresh proof for each request.

For the local stack's demo (``edgeauth token --dpop``, ``edgeauth dpop proof``) and the tests. A
client keeps one key; the identity provider binds tokens to it (``cnf.jkt``, the RFC 7638 thumbprint
of the public key); every request then carries ``Authorization: DPoP <token>`` and a ``DPoP`` header
with a new proof: a JWS of type ``dpop+jwt`` over ``htm`` (the method), ``htu`` (the URL without
query and fragment), ``iat``, a unique ``jti`` and ``ath`` (the hash of the token), signed with the
private key and carrying the public one in its ``jwk`` header.

The URL to sign is the one API Gateway sees: ``https://<domain><path>``. The local gateway speaks
plain http but stands for an https endpoint, so its proofs name ``https://127.0.0.1:8080/dev/…``
(:func:`gateway_htu`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from edgeauth.core.dpop import DPOP_TYP, access_token_hash, jwk_thumbprint

ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")
"""What :class:`DpopKey` can sign with; the default, ES256, is in every issuer's default list."""


@dataclass(frozen=True)
class DpopKey:
    """A client's DPoP key pair."""

    alg: str
    private: Any

    @classmethod
    def generate(cls, alg: str = "ES256") -> DpopKey:
        if alg == "ES256":
            return cls(alg, ec.generate_private_key(ec.SECP256R1()))
        if alg == "EdDSA":
            return cls(alg, ed25519.Ed25519PrivateKey.generate())
        if alg in ("RS256", "PS256"):
            return cls(alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        raise ValueError(f"cannot make a DPoP key for {alg!r}; choose one of {', '.join(ALGORITHMS)}")

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> DpopKey:
        """The key from its private JWK (as :meth:`private_jwk` writes it, with ``alg``)."""
        kty, alg = jwk.get("kty"), jwk.get("alg")
        if "d" not in jwk:
            raise ValueError("the JWK has no private part ('d')")
        text = json.dumps(jwk)
        if kty == "EC":
            return cls(alg or "ES256", ECAlgorithm.from_jwk(text))
        if kty == "OKP":
            return cls(alg or "EdDSA", OKPAlgorithm.from_jwk(text))
        if kty == "RSA":
            return cls(alg or "RS256", RSAAlgorithm.from_jwk(text))
        raise ValueError(f"unsupported key type {kty!r}")

    def _algorithm(self) -> type[Any]:
        return {"ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}.get(self.alg, RSAAlgorithm)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = self._algorithm().to_jwk(self.private.public_key(), as_dict=True)
        return jwk

    def private_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = self._algorithm().to_jwk(self.private, as_dict=True)
        jwk["alg"] = self.alg
        return jwk

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public key: the token's ``cnf.jkt``."""
        return jwk_thumbprint(self.public_jwk())

    def proof(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        iat: float | None = None,
        jti: str | None = None,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        """A fresh proof for one request (``claims``/``header`` override members, for tests)."""
        parts = urlsplit(url)
        body: dict[str, Any] = {
            "jti": jti or uuid.uuid4().hex,
            "htm": method,
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            body["ath"] = access_token_hash(access_token)
        body.update(claims or {})
        headers: dict[str, Any] = {"typ": DPOP_TYP, "jwk": self.public_jwk()}
        headers.update(header or {})
        return jwt.encode(body, self.private, algorithm=self.alg, headers=headers)


def gateway_htu(url: str) -> str:
    """The ``htu`` for a URL of the local gateway: the same URL as https (what API Gateway serves)."""
    parts = urlsplit(url)
    return urlunsplit(("https", parts.netloc, parts.path or "/", "", ""))
