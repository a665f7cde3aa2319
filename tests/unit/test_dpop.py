"""DPoP proof checks (RFC 9449), with the RFC's own examples where it gives them."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from edgeauth.core.dpop import (
    DpopError,
    access_token_hash,
    jwk_thumbprint,
    normalize_htu,
    verify_proof,
)
from edgeauth.core.errors import TokenClaimError
from edgeauth.core.tokens import bound_thumbprint
from tests.support.tokens import b64json, b64url, make_key, rsa_key

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
    jkt = jwk_thumbprint(
        ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    )
    assert bound_thumbprint({"cnf": {"jkt": jkt}}) == jkt
    assert bound_thumbprint({}) is None
    # Any other binding cannot be checked here: refused (tests/unit/test_tokens.py has every shape).
    for cnf in ("abc", {"jkt": 5}, {"jkt": "abc"}, {"jkt": None}, {"x5t#S256": jkt}, None):
        with pytest.raises(TokenClaimError) as info:
            bound_thumbprint({"cnf": cnf})
        assert info.value.reason == "unsupported_binding"


def test_replay_key_is_scoped_by_key() -> None:
    p1, _ = _proof()
    p2, _ = _proof()
    a, b = _verify(p1), _verify(p2)
    assert a.jti == b.jti and a.replay_key() != b.replay_key()
    assert json.dumps(a.replay_key())


# -- every field of a proof comes from the network: refused with a reason, never raising (issue 17) ------


_KEY = ec.generate_private_key(ec.SECP256R1())
_PUBLIC = ECAlgorithm.to_jwk(_KEY.public_key(), as_dict=True)
_ES256 = ECAlgorithm(ECAlgorithm.SHA256)


def _signed(header: dict[str, Any], body: dict[str, Any], key: Any = _KEY, alg: Any = _ES256) -> str:
    """A proof over exactly this header and body (jwt.encode would check or override some of them),
    validly signed, so that what is refused is the field and not the signature."""
    signing_input = f"{b64json(header)}.{b64json(body)}"
    return f"{signing_input}.{b64url(alg.sign(signing_input.encode(), key))}"


def _good_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jti": "p-1",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": access_token_hash(TOKEN),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not _ABSENT}


_ABSENT = object()
HOSTILE_CLAIMS = [
    # htu: urlsplit's ValueErrors (unbalanced or invalid IPv6 brackets, NFKC delimiters), bad ports.
    ("htu", "https://[x/"),
    ("htu", "https://[::1/prod/accounts/42"),
    ("htu", "https://[x]/prod/accounts/42"),
    ("htu", "https://[::1]:99999/"),
    ("htu", "https://api.example.com:port/"),
    ("htu", "https://api.example.com:-1/"),
    ("htu", "https://ex\uff03ample.com/"),
    ("htu", "https://api.example.com\ud800/prod/accounts/42"),
    ("htu", 5),
    ("htu", None),
    ("htu", ["https://api.example.com/prod/accounts/42"]),
    ("htu", {"href": URL}),
    ("htu", _ABSENT),
    # iat: numbers beyond a float (OverflowError from isfinite), wrong types.
    ("iat", 10**400),
    ("iat", -(10**400)),
    ("iat", 10**300),
    ("iat", "1700000000"),
    ("iat", True),
    ("iat", None),
    ("iat", [1]),
    ("iat", {"t": 1}),
    ("iat", _ABSENT),
    # jti: a lone surrogate (UnicodeEncodeError in the replay key), empty, long, wrong types.
    ("jti", "\ud800"),
    ("jti", "a\udfffb"),
    ("jti", ""),
    ("jti", "j" * 257),
    ("jti", 5),
    ("jti", None),
    ("jti", ["p-1"]),
    ("jti", {"id": "p-1"}),
    ("jti", _ABSENT),
    ("htm", 5),
    ("htm", ["GET"]),
    ("htm", "get"),
    ("htm", _ABSENT),
    ("ath", 5),
    ("ath", None),
    ("ath", "\ud800"),
    ("ath", {"h": 1}),
    ("ath", _ABSENT),
]


@pytest.mark.parametrize(
    ("claim", "value"), HOSTILE_CLAIMS, ids=[f"{c}={v!r:.30}" for c, v in HOSTILE_CLAIMS]
)
def test_a_hostile_claim_is_refused_naming_the_claim(claim: str, value: Any) -> None:
    # GIVEN a validly signed proof whose one claim is hostile
    proof = _signed({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUBLIC}, _good_body(**{claim: value}))
    # WHEN it is checked THEN it is a DpopError (401) naming that claim, never another exception
    with pytest.raises(DpopError) as info:
        _verify(proof)
    assert (info.value.reason, info.value.member) == ("invalid_dpop_proof", claim)


def test_the_good_proof_of_the_hostile_cases_verifies() -> None:
    # Control: each case above differs from this proof in its one claim only.
    proof = _signed({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUBLIC}, _good_body())
    assert _verify(proof).jti == "p-1"


def _rsa_jwk(n: int, e: int) -> dict[str, Any]:
    def member(v: int) -> str:
        return b64url(v.to_bytes((v.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "n": member(n), "e": member(e)}


_RSA_N = make_key("RS256", None).private.public_key().public_numbers().n
HOSTILE_HEADERS: list[tuple[str, dict[str, Any]]] = [
    ("typ", {"typ": None}),
    ("typ", {"typ": 5}),
    ("typ", {"typ": "DPoP+JWT "}),
    ("typ", {"typ": {"a": 1}}),
    ("typ", {"typ": ["dpop+jwt"]}),
    ("typ", {"typ": "\ud800"}),
    ("alg", {"alg": 5}),
    ("alg", {"alg": ["ES256"]}),
    ("alg", {"alg": "none"}),
    ("alg", {"alg": "HS256"}),
    ("alg", {"alg": None}),
    ("crit", {"crit": ["htu"]}),
    ("crit", {"crit": []}),
    ("jwk", {"jwk": None}),
    ("jwk", {"jwk": "eyJrdHkiOiJFQyJ9"}),
    ("jwk", {"jwk": [_PUBLIC]}),
    ("jwk", {"jwk": {**_PUBLIC, "kty": ["EC"]}}),
    ("jwk", {"jwk": {**_PUBLIC, "kty": "RSA"}}),
    ("jwk", {"jwk": {**_PUBLIC, "kty": None}}),
    ("jwk", {"jwk": {**_PUBLIC, "crv": {"P-256": 1}}}),
    ("jwk", {"jwk": {**_PUBLIC, "crv": ["P-256"]}}),
    ("jwk", {"jwk": {**_PUBLIC, "crv": "P-384"}}),
    ("jwk", {"jwk": {**_PUBLIC, "x": 10**400}}),
    ("jwk", {"jwk": {**_PUBLIC, "x": None}}),
    ("jwk", {"jwk": {**_PUBLIC, "x": "\ud800"}}),
    ("jwk", {"jwk": {**_PUBLIC, "x": _PUBLIC["x"] + "A"}}),
    ("jwk", {"jwk": {**_PUBLIC, "y": _PUBLIC["x"]}}),  # not on the curve
    ("jwk", {"jwk": {k: v for k, v in _PUBLIC.items() if k != "y"}}),
    ("jwk", {"jwk": {**_PUBLIC, "d": _PUBLIC["x"]}}),
    ("jwk", {"jwk": {"kty": "OKP", "crv": ["Ed25519"], "x": _PUBLIC["x"]}}),
]


@pytest.mark.parametrize(
    ("member", "change"), HOSTILE_HEADERS, ids=[f"{m}={c!r:.40}" for m, c in HOSTILE_HEADERS]
)
def test_a_hostile_header_member_is_refused_naming_it(member: str, change: dict[str, Any]) -> None:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUBLIC, **change}
    with pytest.raises(DpopError) as info:
        _verify(_signed(header, _good_body()))
    assert (info.value.reason, info.value.member) == ("invalid_dpop_proof", member)


@pytest.mark.parametrize(
    ("n", "e", "problem"),
    [
        # OpenSSL allows any exponent below the modulus up to 3072-bit moduli: ~6.5 ms per check.
        (2**3071 + 3, 2**3000 + 1, "exponent"),
        (_RSA_N, 2**64 + 1, "exponent"),
        (2**8191 + 1, 65537, "bits"),
        (2**1023 + 1, 65537, "bits"),
    ],
    ids=["3072-bit-exponent", "65-bit-exponent", "8192-bit-modulus", "1024-bit-modulus"],
)
def test_rsa_proof_keys_are_bounded_in_size_and_exponent(n: int, e: int, problem: str) -> None:
    # The proof's key is the client's choice and is checked before anything ties it to the token:
    # a huge modulus or exponent would make any caller's request cost tens of ES256 checks.
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": _rsa_jwk(n, e)}
    proof = f"{b64json(header)}.{b64json(_good_body())}.{b64url(bytes((n.bit_length() + 7) // 8))}"
    with pytest.raises(DpopError) as info:
        _verify(proof)
    assert info.value.member == "jwk" and problem in str(info.value)


def test_an_rsa_proof_key_of_4096_bits_with_exponent_65537_is_accepted() -> None:
    key = rsa_key(4096)
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": public}
    proof = _signed(header, _good_body(), key, RSAAlgorithm(RSAAlgorithm.SHA256))
    assert _verify(proof).jkt == jwk_thumbprint(public)


@pytest.mark.parametrize("url", ["https://[x/", "https://[::1", "https://[::1/", "https://a:99999/"])
def test_normalize_htu_raises_only_dpop_errors(url: str) -> None:
    with pytest.raises(DpopError) as info:
        normalize_htu(url)
    assert info.value.member == "htu"


def test_an_ipv6_htu_compares_like_the_same_url() -> None:
    assert normalize_htu("HTTPS://[::1]:443/a") == normalize_htu("https://[::1]/a") == "https://[::1]/a"
    assert normalize_htu("https://[::1]:8443/a") != normalize_htu("https://[::1:8443]/a")
