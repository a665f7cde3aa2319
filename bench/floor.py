"""Scenario 1, the floor: the bare ``cryptography`` signature check, ``public_key.verify`` alone.

The least work any verifier must do for a token: one ``verify`` call, on a key object built once,
of a signature over a signing input that are already bytes. Everything before that call is done
beforehand, untimed (:func:`signed`, :func:`es256_signed`, :func:`decoded`): splitting the compact
JWS, base64url-decoding the signature, encoding the signing input, and for ES256 turning the JWS
signature (``r || s``) into the DER that ``cryptography`` takes. A verifier does all of that too;
the floor leaves it to the verifier, so a ratio to the floor counts it as the verifier's work.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


class Signed(NamedTuple):
    """What ``verify`` is given: the signature's bytes and the signing input's (``header.payload``)."""

    signature: bytes
    signing_input: bytes


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def signed(token: str) -> Signed:
    """The decoded signature and the signing input of a compact JWS (RS256, EdDSA: as the JWS has it)."""
    h, p, s = token.split(".")
    return Signed(_b64(s), f"{h}.{p}".encode())


def es256_signed(token: str) -> Signed:
    """As :func:`signed`, with the ES256 signature (``r || s``, 32 bytes each) DER-encoded."""
    raw, signing_input = signed(token)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    return Signed(der, signing_input)


def decoded(tokens: Callable[[], str], decode: Callable[[str], Signed] = signed) -> Callable[[], Signed]:
    """Each call decodes the next token of ``tokens`` (a :class:`bench.common.Fresh` input maker)."""
    return lambda: decode(tokens())


def rs256_verifier(public: rsa.RSAPublicKey) -> Callable[[Signed], None]:
    """``verify`` with PKCS#1 v1.5 and SHA-256; raises ``InvalidSignature`` on a bad signature."""
    verify, pad, sha = public.verify, padding.PKCS1v15(), hashes.SHA256()

    def check(s: Signed) -> None:
        verify(s.signature, s.signing_input, pad, sha)

    return check


def es256_verifier(public: ec.EllipticCurvePublicKey) -> Callable[[Signed], None]:
    """``verify`` with ECDSA over SHA-256 (the signature DER-encoded by :func:`es256_signed`)."""
    verify, algo = public.verify, ec.ECDSA(hashes.SHA256())

    def check(s: Signed) -> None:
        verify(s.signature, s.signing_input, algo)

    return check


def eddsa_verifier(public: ed25519.Ed25519PublicKey) -> Callable[[Signed], None]:
    """Ed25519 ``verify``."""
    verify = public.verify

    def check(s: Signed) -> None:
        verify(s.signature, s.signing_input)

    return check
