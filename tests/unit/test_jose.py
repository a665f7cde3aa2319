"""``core/jose.py`` verifies exactly what PyJWT's algorithm classes verify, and parses the same keys.

The request path checks signatures with its own thin wrappers over ``cryptography`` (cold-start
memory, docs/benchmarks.md). GIVEN keys of every accepted family, WHEN signatures made by PyJWT
(and corrupted ones, and ones of the wrong length) are checked, THEN ours answers as PyJWT's
``verify`` does; and a JWK parses to the same public numbers as PyJWT's ``from_jwk``.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from edgeauth.core.jose import b64url_bytes, public_key, verifier
from edgeauth.core.settings import SUPPORTED_ALGORITHMS

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = {
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "ES384": ec.generate_private_key(ec.SECP384R1()),
    "ES512": ec.generate_private_key(ec.SECP521R1()),
}
_OKP = {"Ed25519": ed25519.Ed25519PrivateKey.generate(), "Ed448": ed448.Ed448PrivateKey.generate()}


def private_keys(alg: str) -> list[Any]:
    if alg.startswith(("RS", "PS")):
        return [_RSA]
    if alg in _EC:
        return [_EC[alg]]
    return list(_OKP.values())


def jwk_of(key: Any, alg: str) -> dict[str, Any]:
    algorithm = get_default_algorithms()[alg]
    return json.loads(algorithm.to_jwk(key.public_key()))  # type: ignore[no-any-return]


CASES = [(alg, i) for alg in sorted(SUPPORTED_ALGORITHMS) for i in range(len(private_keys(alg)))]


@pytest.mark.parametrize(("alg", "index"), CASES)
def test_signatures_verify_exactly_when_pyjwt_says_so(alg: str, index: int) -> None:
    rng = random.Random(alg)
    theirs = get_default_algorithms()[alg]
    ours = verifier(alg)
    private = private_keys(alg)[index]
    key = public_key(jwk_of(private, alg))
    for _ in range(25):
        message = rng.randbytes(rng.randrange(0, 200))
        good = theirs.sign(message, private)
        candidates = [
            good,
            good[:-1],
            good + b"\x00",
            b"",
            bytes(len(good)),
            bytes([good[0] ^ 1]) + good[1:],
            theirs.sign(message + b"x", private),
            rng.randbytes(len(good)),
        ]
        digest = hashlib.sha256(message).digest()  # what the verifier passes: the prehashed path
        for signature in candidates:
            expected = theirs.verify(message, key, signature)
            assert ours(key, message, signature) == expected
            assert ours(key, message, signature, digest) == expected
        assert ours(key, message, good)
        assert ours(key, message, good, digest)
        # The digest is the message's: another message's digest never verifies (SHA-256 algorithms
        # check the digest, the others the message; neither accepts a mismatch of the two).
        other = hashlib.sha256(message + b"x").digest()
        assert ours(key, message, good, other) == (not alg.endswith("256") or alg == "EdDSA")


def test_an_rs256_signature_is_not_accepted_as_ps256_or_rs384() -> None:
    message = b"header.payload"
    signature = get_default_algorithms()["RS256"].sign(message, _RSA)
    key = _RSA.public_key()
    assert verifier("RS256")(key, message, signature)
    assert not verifier("PS256")(key, message, signature)
    assert not verifier("RS384")(key, message, signature)


@pytest.mark.parametrize("alg", sorted(SUPPORTED_ALGORITHMS))
def test_a_jwk_parses_to_the_same_public_key_as_pyjwt(alg: str) -> None:
    algorithm = get_default_algorithms()[alg]
    for private in private_keys(alg):
        jwk = jwk_of(private, alg)
        ours = public_key(jwk)
        theirs = algorithm.from_jwk(jwk)
        if hasattr(ours, "public_numbers"):
            assert ours.public_numbers() == theirs.public_numbers()
        else:
            assert ours.public_bytes_raw() == theirs.public_bytes_raw()


def test_padded_jwk_members_are_tolerated_like_pyjwt() -> None:
    jwk = jwk_of(_RSA, "RS256")
    padded = {**jwk, "n": jwk["n"] + "=" * (-len(jwk["n"]) % 4), "e": jwk["e"] + "="}
    assert public_key(padded).public_numbers() == _RSA.public_key().public_numbers()


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "oct"},
        {"kty": None},
        {"crv": "P-256K"},
        {"x": "AAAA"},  # too short for the curve
        {"y": None},
        {"y": "not base64url!"},
        {"x": "A" * 43 + "\u00e9"},
    ],
)
def test_malformed_ec_jwks_are_refused(change: dict[str, Any]) -> None:
    jwk = {**jwk_of(_EC["ES256"], "ES256"), **change}
    with pytest.raises((ValueError, KeyError, TypeError)):
        public_key(jwk)


def test_an_ec_point_off_the_curve_is_refused() -> None:
    jwk = jwk_of(_EC["ES256"], "ES256")
    y = bytearray(b64url_bytes(jwk["y"]))
    y[-1] ^= 1
    from base64 import urlsafe_b64encode

    jwk["y"] = urlsafe_b64encode(bytes(y)).rstrip(b"=").decode()
    with pytest.raises(ValueError):
        public_key(jwk)


@pytest.mark.parametrize(
    "jwk", [{"kty": "OKP", "crv": "X25519", "x": "AAAA"}, {"kty": "RSA", "n": "", "e": "AQAB"}]
)
def test_other_key_types_and_empty_integers_are_refused(jwk: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        public_key(jwk)


def test_the_request_path_never_imports_pyjwt() -> None:
    # Cold-start memory (docs/benchmarks.md): the handler's imports and a first verification
    # must not load jwt.algorithms; checked in a fresh interpreter.
    import subprocess
    import sys
    from pathlib import Path

    functions = Path(__file__).resolve().parents[2] / "functions"
    code = (
        f"import sys; sys.path.insert(0, {str(functions)!r})\n"
        "from edgeauth import bootstrap, authorizer\n"
        "from edgeauth.core import tokens, jwks, jose\n"
        "from cryptography.hazmat.primitives.asymmetric import rsa\n"
        "k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n"
        "jose.verifier('RS256')(k.public_key(), b'm', b'x' * 256)\n"
        "print('jwt' in sys.modules, 'cryptography.x509' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
