"""The benchmark's floor (bench/floor.py): ``public_key.verify`` alone, on input decoded beforehand.

GIVEN a token, WHEN its floor input is made (untimed) and the floor's operation runs on it, THEN the
operation is one ``verify`` call with the signature's and the signing input's bytes as they were
made, nothing split or decoded in it; and the input made from a real token verifies (ES256 with
its signature DER-encoded beforehand) while a changed byte does not.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from bench import floor
from tests.support.tokens import make_key, sign


class RecordingKey:
    """A public key that records its ``verify`` calls (and does nothing else)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def verify(self, *args: Any) -> None:
        self.calls.append(args)


def _raw_signature(token: str) -> bytes:
    s = token.split(".")[2]
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def test_the_rs256_floor_is_one_verify_call_on_the_bytes_it_is_given() -> None:
    key = RecordingKey()
    check = floor.rs256_verifier(key)  # type: ignore[arg-type]
    given = floor.Signed(b"the signature", b"header.payload")
    check(given)
    [(signature, signing_input, pad, algorithm)] = key.calls
    assert signature is given.signature and signing_input is given.signing_input
    assert isinstance(pad, padding.PKCS1v15) and isinstance(algorithm, hashes.SHA256)


def test_the_es256_and_eddsa_floors_are_one_verify_call_on_the_bytes_they_are_given() -> None:
    es, ed = RecordingKey(), RecordingKey()
    given = floor.Signed(b"DER already", b"header.payload")
    floor.es256_verifier(es)(given)  # type: ignore[arg-type]
    floor.eddsa_verifier(ed)(given)  # type: ignore[arg-type]
    [(signature, signing_input, algorithm)] = es.calls
    assert (signature, signing_input) == (b"DER already", b"header.payload")
    assert isinstance(algorithm, ec.ECDSA) and isinstance(algorithm.algorithm, hashes.SHA256)
    assert ed.calls == [(b"DER already", b"header.payload")]


@pytest.mark.parametrize(
    ("alg", "decode", "verifier"),
    [
        ("RS256", floor.signed, floor.rs256_verifier),
        ("ES256", floor.es256_signed, floor.es256_verifier),
        ("EdDSA", floor.signed, floor.eddsa_verifier),
    ],
)
def test_the_input_decoded_from_a_token_verifies_and_a_changed_byte_does_not(
    alg: str, decode: Any, verifier: Any
) -> None:
    key = make_key(alg, "k1")
    token = sign(key, {"sub": "alice"})
    made = floor.decoded(lambda: token, decode)()
    assert made.signing_input == token.rsplit(".", 1)[0].encode()
    check = verifier(key.private.public_key())
    check(made)
    with pytest.raises(InvalidSignature):
        check(floor.Signed(made.signature, made.signing_input + b"x"))


def test_the_es256_input_carries_the_signature_der_encoded() -> None:
    key = make_key("ES256", "k1")
    token = sign(key, {"sub": "alice"})
    raw = _raw_signature(token)
    r, s = decode_dss_signature(floor.es256_signed(token).signature)
    assert (r, s) == (int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert floor.signed(token).signature == raw
