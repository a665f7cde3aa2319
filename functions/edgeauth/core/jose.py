"""JWS signature checks and JWK public keys, on ``cryptography`` directly (RFC 7515, 7517, 7518, 8037).

The same operations as PyJWT's ``jwt.algorithms`` classes (``RSAAlgorithm``, ``RSAPSSAlgorithm``,
``ECAlgorithm``, ``OKPAlgorithm``), for the asymmetric algorithms this project accepts, verification
and public keys only, checked against PyJWT in ``tests/unit/test_jose.py``. Why not PyJWT's classes
themselves on the request path:

* cold start: importing ``jwt.algorithms`` also imports ``cryptography.x509``, the cipher and SSH
  serialization modules and PyJWT's JWKS HTTP client, about 1.4 MB of peak memory that no
  verification uses (docs/benchmarks.md, row 5b);
* per request: their ``verify`` builds a padding and a hash object on every call; here they are
  built once per algorithm (they are immutable descriptions, safe to share between threads).

PyJWT stays the project's JWT library everywhere else (the CLI's and the local identity provider's
signing, the tests, the benchmark's baseline).
"""

from __future__ import annotations

import binascii
import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class Verify(Protocol):
    """A signature check: False when the signature does not verify.

    ``sha256``, when given, must be the SHA-256 digest of ``message`` (the signing input): the
    SHA-256 algorithms (RS256, PS256, ES256) then check the signature over that digest
    (``Prehashed``) instead of hashing the signing input again; the others ignore it.
    """

    def __call__(self, key: Any, message: bytes, signature: bytes, sha256: bytes | None = None) -> bool: ...


# ``cryptography`` is imported on first use, not with this module: at cold start the first token
# check comes after the DynamoDB client exists, so these imports reuse memory botocore freed while
# loading its models instead of raising the peak (docs/benchmarks.md, row 5b).

#: JWS alg -> the JWK curve it needs (RFC 7518 §3.4).
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
#: JWK curves of EdDSA (RFC 8037 §2).
OKP_CURVES = frozenset({"Ed25519", "Ed448"})
#: JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# JWK crv -> coordinate size in bytes (RFC 7518 §6.2.1.1); an ECDSA signature is R || S of that size.
_EC_COORDINATES = {"P-256": 32, "P-384": 48, "P-521": 66}
#: JWK crv -> the order n of the curve's base point (SEC 2 v2 §2.4.2, §2.5.1, §2.6.1).
EC_ORDERS = {
    "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P-384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    "P-521": int(
        "1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")


def b64url_bytes(part: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2). Raises ValueError on anything else.

    Accepts exactly ``[A-Za-z0-9_-]*`` of a length that is not 1 mod 4, in its canonical spelling
    (zero unused bits in the last character). Done in C: the text is
    encoded as ASCII (anything else is refused), mapped to the standard alphabet by
    ``bytes.translate`` with ``+``, ``/`` and ``=`` mapped to ``!`` (so they are refused too), and
    decoded in ``strict_mode``, which refuses every byte outside the alphabet.
    """
    rest = len(part) % 4
    if rest == 1:
        raise ValueError("not base64url")
    # Canonical only (RFC 4648 §3.5): the unused low bits of the last character must be zero, so
    # a value has exactly one spelling. Otherwise one token had up to 16 spellings per part, each
    # a miss in the verified-token cache and in API Gateway's authorizer cache.
    if (rest == 2 and part[-1] not in "AQgw") or (rest == 3 and part[-1] not in "AEIMQUYcgkosw048"):
        raise ValueError("not canonical base64url")
    raw = part.encode("ascii").translate(_TO_STD)  # UnicodeEncodeError is a ValueError
    return binascii.a2b_base64(raw + b"=" * (-len(part) % 4), strict_mode=True)


@functools.cache
def verifier(alg: str) -> Verify:
    """The signature check of JWS algorithm ``alg`` (one of ``SUPPORTED_ALGORITHMS``), built once."""
    # Each family's module is imported by its own branch: an RSA-only issuer's cold start never
    # loads the EC or EdDSA modules (about 2 ms).
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    digests: dict[str, Callable[[], Any]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
    size = alg[2:]
    # The same check over the signing input's SHA-256 digest, for the SHA-256 algorithms only.
    prehashed = Prehashed(hashes.SHA256()) if size == "256" else None
    if alg.startswith("RS"):
        from cryptography.hazmat.primitives.asymmetric import padding

        return _rsa(padding.PKCS1v15(), digests[size](), prehashed)
    if alg.startswith("PS"):
        from cryptography.hazmat.primitives.asymmetric import padding

        digest = digests[size]()
        # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
        return _rsa(padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest, prehashed)
    if alg in EC_CURVES:
        from cryptography.hazmat.primitives.asymmetric import ec

        return _ecdsa(
            _EC_COORDINATES[EC_CURVES[alg]],
            ec.ECDSA(digests[size]()),
            None if prehashed is None else ec.ECDSA(prehashed),
        )
    if alg == "EdDSA":
        return _eddsa
    raise ValueError(f"unsupported algorithm {alg!r}")


def _rsa(pad: Any, digest: Any, prehashed: Any) -> Verify:
    from cryptography.exceptions import InvalidSignature

    def verify(key: Any, message: bytes, signature: bytes, sha256: bytes | None = None) -> bool:
        # RFC 8017 §8.1.2 and §8.2.2, step 1: the signature is exactly k octets, k the modulus's
        # length. OpenSSL checks this for PKCS #1 v1.5 but accepts a PSS signature whose leading
        # zero octets were left out: about 1 PS* signature in 256 had a second spelling, each a
        # miss in the verified-token cache and in API Gateway's authorizer cache.
        if len(signature) != (key.key_size + 7) // 8:
            return False
        try:
            if sha256 is not None and prehashed is not None:
                key.verify(signature, sha256, pad, prehashed)
            else:
                key.verify(signature, message, pad, digest)
        except InvalidSignature:
            return False
        return True

    return verify


def _ecdsa(size: int, algorithm: Any, prehashed: Any) -> Verify:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    def verify(key: Any, message: bytes, signature: bytes, sha256: bytes | None = None) -> bool:
        # R || S, each exactly the curve's size (RFC 7518 §3.4), re-encoded as DER for OpenSSL.
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            if sha256 is not None and prehashed is not None:
                key.verify(encode_dss_signature(r, s), sha256, prehashed)
            else:
                key.verify(encode_dss_signature(r, s), message, algorithm)
        except InvalidSignature:
            return False
        return True

    return verify


def ecdsa_low_s(signature: bytes, crv: str) -> bytes:
    """The low-s spelling ``R || min(S, n − S)`` of a JWS ECDSA signature ``R || S`` on ``crv``.

    ECDSA is malleable: ``(r, s)`` verifies exactly when ``(r, n − s)`` does, so anyone holding a
    signature can write its other spelling, and signers emit either (``cryptography`` and OpenSSL,
    like most JOSE libraries, do not normalise: about half of their signatures are high-s).
    Two signatures with the same low-s spelling are therefore one signature: one verifies exactly
    when the other does. ``signature`` is returned unchanged when it is not ``R || S`` of the curve's
    size or ``S`` is not in 1..n−1 (it verifies in no spelling then).
    """
    size, n = _EC_COORDINATES[crv], EC_ORDERS[crv]
    if len(signature) != 2 * size:
        return signature
    s = int.from_bytes(signature[size:], "big")
    if not 0 < s < n or s <= n // 2:
        return signature
    return signature[:size] + (n - s).to_bytes(size, "big")


def _eddsa(key: Any, message: bytes, signature: bytes, sha256: bytes | None = None) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def public_key(jwk: Mapping[str, Any]) -> Any:
    """The ``cryptography`` public key of a JWK (RSA, EC P-256/384/521, OKP Ed25519/Ed448).

    Raises ValueError (or KeyError, TypeError) when the JWK is not a well-formed public key of
    those types; an EC point not on its curve is refused by ``cryptography``. Private members are
    not looked at (callers refuse JWKs that publish them).
    """
    kty = jwk.get("kty")
    if kty == "RSA":
        from cryptography.hazmat.primitives.asymmetric import rsa

        n, e = _uint(jwk["n"]), _uint(jwk["e"])
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC":
        from cryptography.hazmat.primitives.asymmetric import ec

        crv = jwk["crv"]
        curves: dict[str, Callable[[], Any]] = {
            "P-256": ec.SECP256R1,
            "P-384": ec.SECP384R1,
            "P-521": ec.SECP521R1,
        }
        curve = curves[crv]
        size = _EC_COORDINATES[crv]
        x, y = _member(jwk["x"]), _member(jwk["y"])
        if len(x) != size or len(y) != size:
            raise ValueError("EC coordinates do not fit the curve")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve())
        return numbers.public_key()
    if kty == "OKP":
        from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

        crv, x = jwk["crv"], _member(jwk["x"])
        if crv == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        if crv == "Ed448":
            return ed448.Ed448PublicKey.from_public_bytes(x)
        raise ValueError(f"unsupported OKP curve {crv!r}")
    raise ValueError(f"unsupported key type {kty!r}")


def _member(value: Any) -> bytes:
    """A JWK member's bytes: base64url (trailing ``=`` padding tolerated, as PyJWT does)."""
    if not isinstance(value, str):
        raise TypeError("JWK member is not a string")
    return b64url_bytes(value.rstrip("="))


def _uint(value: Any) -> int:
    data = _member(value)
    if not data:
        raise ValueError("empty JWK integer")
    return int.from_bytes(data, "big")
