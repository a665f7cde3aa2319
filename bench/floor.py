"""Scenario 1, the floor: the bare ``cryptography`` signature check of the same tokens.

The least work any verifier must do: split the compact JWS, base64url-decode the signature and call
``verify`` on a key object built once. No claim is looked at. ES256's JWS signature is ``r || s``
and must be DER-encoded for ``cryptography``; that conversion is part of its floor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def rs256_verifier(public: rsa.RSAPublicKey) -> Callable[[str], None]:
    pad, sha = padding.PKCS1v15(), hashes.SHA256()

    def verify(token: str) -> None:
        h, p, s = token.split(".")
        public.verify(_b64(s), f"{h}.{p}".encode(), pad, sha)

    return verify


def es256_verifier(public: ec.EllipticCurvePublicKey) -> Callable[[str], None]:
    algo = ec.ECDSA(hashes.SHA256())

    def verify(token: str) -> None:
        h, p, s = token.split(".")
        raw = _b64(s)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{h}.{p}".encode(), algo)

    return verify


def eddsa_verifier(public: ed25519.Ed25519PublicKey) -> Callable[[str], None]:
    def verify(token: str) -> None:
        h, p, s = token.split(".")
        public.verify(_b64(s), f"{h}.{p}".encode())

    return verify
