"""Keys, JWKS documents and tokens made in the tests (no network, no fixtures on disk)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://idp.example.com/"
AUDIENCE = "api://bank"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


_RSA_CACHE: dict[tuple[int, int], rsa.RSAPrivateKey] = {}


def rsa_key(bits: int = 2048, slot: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys are slow to generate: cache a few per size for the whole test session."""
    k = (bits, slot)
    if k not in _RSA_CACHE:
        _RSA_CACHE[k] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _RSA_CACHE[k]


@dataclass
class SigningKey:
    kid: str | None
    alg: str
    private: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def public_jwk(self) -> dict[str, Any]:
        pub = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            jwk = RSAAlgorithm.to_jwk(pub, as_dict=True)
        elif self.alg.startswith("ES"):
            jwk = ECAlgorithm.to_jwk(pub, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(pub, as_dict=True)
        if self.kid is not None:
            jwk["kid"] = self.kid
        jwk.update(self.extra)
        return dict(jwk)


def make_key(alg: str = "RS256", kid: str | None = "k1", slot: int = 0, **extra: Any) -> SigningKey:
    if alg.startswith(("RS", "PS")):
        private: Any = rsa_key(2048, slot)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
    elif alg == "ES512":
        private = ec.generate_private_key(ec.SECP521R1())
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(alg)
    return SigningKey(kid, alg, private, dict(extra))


def jwks(*keys: SigningKey) -> bytes:
    return json.dumps({"keys": [k.public_jwk() for k in keys]}).encode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "jti": "jti-1",
    }
    for k, v in overrides.items():
        if v is _DROP:
            base.pop(k, None)
        else:
            base[k] = v
    return base


_DROP = object()
DROP: Any = _DROP


def sign(key: SigningKey, payload: dict[str, Any] | None = None, **headers: Any) -> str:
    hdrs: dict[str, Any] = {}
    if key.kid is not None:
        hdrs["kid"] = key.kid
    hdrs.update(headers)
    return jwt.encode(
        payload if payload is not None else claims(), key.private, algorithm=key.alg, headers=hdrs
    )


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token with an arbitrary header/payload and signature (for attack tests)."""
    return f"{b64json(header)}.{b64json(payload)}.{b64url(signature)}"


def resign(
    token: str, key: SigningKey, header: dict[str, Any] | None = None, payload_raw: bytes | None = None
) -> str:
    """Sign arbitrary header JSON and raw payload bytes with ``key`` (claim type games)."""
    h = b64json(header if header is not None else {"alg": key.alg, "kid": key.kid, "typ": "JWT"})
    p = b64url(payload_raw) if payload_raw is not None else token.split(".")[1]
    signing_input = f"{h}.{p}".encode()
    from jwt.algorithms import get_default_algorithms

    sig = get_default_algorithms()[key.alg].sign(signing_input, key.private)
    return f"{h}.{p}.{b64url(sig)}"
