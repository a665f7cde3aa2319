"""DPoP proof checks (RFC 9449), with the RFC's own examples where it gives them."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from edgeauth.core.dpop import (
    DpopError,
    access_token_hash,
    bound_thumbprint,
    jwk_thumbprint,
    normalize_htu,
    verify_proof,
)
from tests.support.tokens import b64json, b64url, make_key

ALGS = frozenset({"ES256", "RS256", "PS256", "EdDSA"})
URL = "https://api.example.com/prod/accounts/42"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYXJvbCJ9.c2ln"


def test_access_token_hash_matches_rfc9449_section_7_1_example() -> None:
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_thumbprint_of_the_rfc9449_example_key() -> None:
    jwk = {
        "kty": "EC",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        "crv": "P-256",
    }
    assert jwk_thumbprint(jwk) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    # Members outside the required set do not change the thumbprint (RFC 7638 §3.3).
    assert jwk_thumbprint({**jwk, "kid": "x", "use": "sig"}) == jwk_thumbprint(jwk)


def _proof(
    key: Any = None, *, header: dict[str, Any] | None = None, **claims: Any
) -> tuple[str, dict[str, Any]]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    offset = claims.pop("iat_offset", 0)
    body = {
        "jti": "p-1",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()) + offset,
        "ath": access_token_hash(TOKEN),
    }
    body.update(claims)
    hdr = {"typ": "dpop+jwt", "jwk": public}
    hdr.update(header or {})
    return jwt.encode(body, key, algorithm="ES256", headers=hdr), public


def _verify(proof: str, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "method": "GET",
        "url": URL,
        "access_token": TOKEN,
        "algorithms": ALGS,
        "now": time.time(),
        "max_age_seconds": 300,
        "leeway_seconds": 5,
    }
    args.update(kw)
    return verify_proof(proof, **args)


def test_a_good_proof_verifies_and_yields_the_key_thumbprint() -> None:
    proof, public = _proof()
    result = _verify(proof)
    assert result.jti == "p-1"
    assert result.jkt == jwk_thumbprint(public)


@pytest.mark.parametrize(
    ("kwargs", "claims"),
    [
        ({"method": "POST"}, {}),
        ({"url": "https://api.example.com/prod/accounts/43"}, {}),
        ({"url": "https://other.example.com/prod/accounts/42"}, {}),
        ({}, {"iat_offset": -3600}),
        ({}, {"iat_offset": 60}),
        ({}, {"iat": "now"}),
        ({}, {"ath": "wrong"}),
        ({}, {"jti": ""}),
    ],
)
def test_each_mismatch_is_refused(kwargs: dict[str, Any], claims: dict[str, Any]) -> None:
    proof, _ = _proof(**claims)
    with pytest.raises(DpopError):
        _verify(proof, **kwargs)


def test_htu_ignores_query_fragment_default_port_and_case() -> None:
    assert normalize_htu("HTTPS://API.Example.com:443/prod/a?x=1#f") == "https://api.example.com/prod/a"
    proof, _ = _proof(htu="https://API.example.com:443/prod/accounts/42?q=1")
    assert _verify(proof).jti == "p-1"


def test_wrong_typ_is_refused() -> None:
    proof, _ = _proof(header={"typ": "JWT"})
    with pytest.raises(DpopError):
        _verify(proof)


def test_private_key_in_the_header_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = ECAlgorithm.to_jwk(key, as_dict=True)
    proof, _ = _proof(key, header={"jwk": private})
    with pytest.raises(DpopError):
        _verify(proof)


def test_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    other = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    proof, _ = _proof(header={"jwk": other})
    with pytest.raises(DpopError):
        _verify(proof)


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_none_and_hmac_proofs_are_refused(alg: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": public}
    payload = {"jti": "p", "htm": "GET", "htu": URL, "iat": int(time.time()), "ath": access_token_hash(TOKEN)}
    sig = b"" if alg == "none" else b"x" * 32
    proof = f"{b64json(header)}.{b64json(payload)}.{b64url(sig)}"
    with pytest.raises(DpopError):
        _verify(proof, algorithms=frozenset(ALGS | {alg}))


def test_rsa_proof_keys_work_and_small_ones_are_refused() -> None:
    key = make_key("RS256", None)
    pub = key.public_jwk()
    body = {"jti": "r", "htm": "GET", "htu": URL, "iat": int(time.time()), "ath": access_token_hash(TOKEN)}
    proof = jwt.encode(body, key.private, algorithm="RS256", headers={"typ": "dpop+jwt", "jwk": pub})
    assert _verify(proof).jkt == jwk_thumbprint(pub)


def test_bound_thumbprint_reads_cnf_jkt() -> None:
    assert bound_thumbprint({"cnf": {"jkt": "abc"}}) == "abc"
    assert bound_thumbprint({}) is None
    with pytest.raises(DpopError):
        bound_thumbprint({"cnf": "abc"})
    with pytest.raises(DpopError):
        bound_thumbprint({"cnf": {"jkt": 5}})


def test_replay_key_is_scoped_by_key() -> None:
    p1, _ = _proof()
    p2, _ = _proof()
    a, b = _verify(p1), _verify(p2)
    assert a.jti == b.jti and a.replay_key() != b.replay_key()
    assert json.dumps(a.replay_key())
