"""Adversarial tests of :class:`TokenVerifier`: every token is made here, keys come from a fake JWKS.

GIVEN one trusted issuer whose JWKS is served by :class:`FakeKeyEndpoint` and a settable clock,
WHEN a token made by an attacker (or a sloppy issuer) is verified,
THEN it is refused with the expected audit reason, before any key lookup when the check allows it,
and nothing but :class:`AuthenticationError` (401) or :class:`JwksUnavailableError` (500) escapes.

No test here opens a socket (an autouse fixture makes any attempt fail).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm, get_default_algorithms

import edgeauth.core.tokens as tokens_module
from edgeauth.core.errors import AuthenticationError, JwksUnavailableError, TokenClaimError
from edgeauth.core.jwks import JwksCache
from edgeauth.core.settings import IssuerSettings, parse_issuer
from edgeauth.core.tokens import MAX_GROUPS, MAX_TOKEN_BYTES, TokenVerifier, b64url_decode, peek
from tests.support.fakes import Clock, FakeKeyEndpoint
from tests.support.tokens import (
    AUDIENCE,
    DROP,
    ISSUER,
    SigningKey,
    b64json,
    b64url,
    claims,
    forge,
    jwks,
    make_key,
    resign,
    rsa_key,
    sign,
)

JWKS_URL = "https://idp.example.com/jwks.json"
T0 = 1_800_000_000


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# -- harness --------------------------------------------------------------------------------------


class World:
    """One issuer, its fake JWKS endpoint, its key cache and a verifier, all on one clock."""

    def __init__(self, *keys: SigningKey, cache_size: int = 100, **issuer: Any) -> None:
        cfg: dict[str, Any] = {
            "issuer": ISSUER,
            "audiences": [AUDIENCE, "api://other"],
            "jwks_uri": JWKS_URL,
            "algorithms": ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
            "groups_claim": "groups",
        }
        cfg.update(issuer)
        self.issuer: IssuerSettings = parse_issuer(cfg)
        self.clock = Clock(float(T0))
        self.endpoint = FakeKeyEndpoint({JWKS_URL: jwks(*keys)})
        self.keys = JwksCache(self.issuer, self.endpoint, clock=self.clock)
        name = self.issuer.issuer
        self.verifier = TokenVerifier(
            {name: self.issuer}, {name: self.keys}, cache_size=cache_size, clock=self.clock
        )

    @property
    def now(self) -> int:
        return int(self.clock.now)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return claims(**{"iat": self.now, "exp": self.now + 300, **overrides})

    def publish(self, *keys: SigningKey) -> None:
        self.endpoint.documents[JWKS_URL] = jwks(*keys)

    def ok(self, token: str) -> Any:
        verified, _ = self.verifier.verify(token)
        return verified

    def refused(self, token: str, reason: str) -> AuthenticationError:
        with pytest.raises(AuthenticationError) as info:
            self.verifier.verify(token)
        assert info.value.reason == reason, info.value
        return info.value


def sign_raw(key: SigningKey, header_raw: bytes, payload_raw: bytes) -> str:
    """Sign exact header and payload bytes (duplicate members, odd literals, bad UTF-8)."""
    signing_input = f"{b64url(header_raw)}.{b64url(payload_raw)}"
    sig = get_default_algorithms()[key.alg].sign(signing_input.encode(), key.private)
    return f"{signing_input}.{b64url(sig)}"


def sign_unchecked(alg: str, private: Any, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Sign with PyJWT's algorithm object directly, skipping jwt.encode's key/curve checks."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{b64url(get_default_algorithms()[alg].sign(signing_input.encode(), private))}"


def payload_with(w: World, name: str, literal: str) -> bytes:
    """The JSON text of valid claims with ``name`` set to a raw JSON ``literal`` (e.g. NaN)."""
    body = w.claims(**{name: DROP})
    text = json.dumps(body)
    return (text[:-1] + f', "{name}": {literal}}}').encode()


@pytest.fixture
def key() -> SigningKey:
    return make_key("RS256", "k1")


@pytest.fixture
def w(key: SigningKey) -> World:
    return World(key)


# -- positive controls (so that each refusal below is about the one thing changed) ----------------


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES384", "EdDSA"])
def test_a_well_formed_token_of_each_allowed_algorithm_verifies(alg: str) -> None:
    k = make_key(alg, f"key-{alg}")
    w = World(k)
    verified = w.ok(sign(k, w.claims(groups=["tellers"], client_id="app")))
    assert (verified.sub, verified.kid, verified.groups, verified.client_id) == (
        "alice",
        f"key-{alg}",
        ("tellers",),
        "app",
    )
    assert w.endpoint.calls == [JWKS_URL]


# -- algorithm attacks (RFC 8725 §2.1, §3.1) --------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "", " RS256", "rs256", "RS256 "])
@pytest.mark.parametrize("signature", [b"", b"\x00" * 256])
def test_alg_none_and_case_variants_are_refused_before_any_key_lookup(
    w: World, alg: str, signature: bytes
) -> None:
    token = forge({"alg": alg, "kid": "k1", "typ": "JWT"}, w.claims(), signature)
    w.refused(token, "alg_not_allowed")
    assert w.endpoint.calls == []


@pytest.mark.parametrize("alg", [None, 256, ["RS256"], {"RS256": True}, True])
def test_alg_that_is_not_a_string_is_refused(w: World, alg: Any) -> None:
    w.refused(forge({"alg": alg, "kid": "k1"}, w.claims(), b"x" * 256), "alg_not_allowed")


def test_alg_missing_is_refused(w: World, key: SigningKey) -> None:
    header = {"kid": "k1", "typ": "JWT"}
    w.refused(resign(sign(key, w.claims()), key, header=header), "alg_not_allowed")


@pytest.mark.parametrize("hs", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_form", ["pem", "der", "jwk"])
def test_hmac_signed_with_the_rsa_public_key_as_secret_is_refused(
    w: World, key: SigningKey, hs: str, secret_form: str
) -> None:
    # GIVEN the attacker knows the issuer's public key and uses it as an HMAC secret
    pub = key.private.public_key()
    secret = {
        "pem": pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": RSAAlgorithm.to_jwk(pub).encode(),
    }[secret_form]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[hs]
    h, p = b64json({"alg": hs, "kid": "k1", "typ": "JWT"}), b64json(w.claims(sub="admin"))
    token = f"{h}.{p}.{b64url(hmac.new(secret, f'{h}.{p}'.encode(), digest).digest())}"
    # WHEN verified THEN refused on alg, and the key set was not even looked at
    w.refused(token, "alg_not_allowed")
    assert w.endpoint.calls == []


def test_alg_supported_but_not_allowed_for_this_issuer_is_refused_before_key_lookup() -> None:
    rs, es = make_key("RS256", "rs"), make_key("ES256", "es")
    w = World(rs, es, algorithms=["RS256"])
    w.refused(sign(es, w.claims()), "alg_not_allowed")
    # PS256 on the very RSA key the issuer uses for RS256: still not allowed for this issuer
    w.refused(sign(make_key("PS256", "rs"), w.claims()), "alg_not_allowed")
    assert w.endpoint.calls == []
    assert w.ok(sign(rs, w.claims())).kid == "rs"


def test_rs256_token_naming_an_ec_key_is_a_key_mismatch() -> None:
    es = make_key("ES256", "shared")
    w = World(es)
    attacker = make_key("RS256", "shared", slot=1)
    w.refused(sign(attacker, w.claims()), "key_mismatch")


def test_es256_token_naming_an_rsa_key_is_a_key_mismatch(key: SigningKey) -> None:
    w = World(key)
    w.refused(sign(make_key("ES256", "k1"), w.claims()), "key_mismatch")


def test_eddsa_token_naming_an_rsa_key_is_a_key_mismatch(key: SigningKey) -> None:
    w = World(key)
    w.refused(sign(make_key("EdDSA", "k1"), w.claims()), "key_mismatch")


def test_es256_signed_with_a_p384_key_is_refused() -> None:
    # GIVEN the issuer publishes a P-384 key and the token says ES256 (PyJWT signs this happily)
    p384 = make_key("ES384", "ec")
    w = World(p384)
    token = sign_unchecked("ES256", p384.private, {"alg": "ES256", "kid": "ec"}, w.claims())
    w.refused(token, "key_mismatch")
    # and the genuine ES384 token on the same key passes
    assert w.ok(sign(p384, w.claims())).kid == "ec"


def test_es384_token_on_a_p256_key_is_refused() -> None:
    p256 = make_key("ES256", "ec")
    w = World(p256)
    token = sign_unchecked("ES384", p256.private, {"alg": "ES384", "kid": "ec"}, w.claims())
    w.refused(token, "key_mismatch")


@pytest.mark.parametrize(
    ("extra", "fits"),
    [
        ({"alg": "RS256"}, True),
        ({"alg": "RS384"}, False),
        ({"alg": "PS256"}, False),
        ({"alg": "rs256"}, False),
        ({"use": "sig"}, True),
        ({"use": "enc"}, False),
        ({"use": "SIG"}, False),
        ({"key_ops": ["verify"]}, True),
        ({"key_ops": ["sign", "verify"]}, True),
        ({"key_ops": ["encrypt"]}, False),
        ({"key_ops": []}, False),
        ({"key_ops": "verify"}, False),
    ],
)
def test_jwk_alg_use_and_key_ops_must_fit_the_token(extra: dict[str, Any], fits: bool) -> None:
    k = make_key("RS256", "k1")
    k.extra.update(extra)
    w = World(k)
    token = sign(k, w.claims())
    if fits:
        assert w.ok(token).kid == "k1"
    else:
        w.refused(token, "key_mismatch")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_rsa_key_under_2048_bits_is_refused() -> None:
    small = SigningKey("small", "RS256", rsa_key(1024))
    w = World(small)
    w.refused(sign(small, w.claims()), "key_mismatch")


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_jwks_that_publishes_private_key_material_is_not_used(alg: str) -> None:
    k = make_key(alg, "k1")
    private_jwk = json.loads(get_default_algorithms()[alg].to_jwk(k.private))
    assert "d" in private_jwk
    private_jwk["kid"] = "k1"
    w = World()
    w.endpoint.documents[JWKS_URL] = json.dumps({"keys": [private_jwk]}).encode()
    w.refused(sign(k, w.claims()), "key_mismatch")


def test_a_symmetric_k_member_on_an_rsa_jwk_is_refused(key: SigningKey) -> None:
    jwk = key.public_jwk() | {"k": b64url(b"secret")}
    w = World()
    w.endpoint.documents[JWKS_URL] = json.dumps({"keys": [jwk]}).encode()
    w.refused(sign(key, w.claims()), "key_mismatch")


def test_an_oct_key_in_the_jwks_never_verifies_anything(key: SigningKey) -> None:
    w = World()
    oct_jwk = {"kty": "oct", "kid": "k1", "k": b64url(b"0" * 32), "alg": "HS256"}
    w.endpoint.documents[JWKS_URL] = json.dumps({"keys": [oct_jwk]}).encode()
    w.refused(sign(key, w.claims()), "key_mismatch")


# -- kid injection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/dev/null",
        "k1' OR '1'='1",
        'k1"; DROP TABLE keys; --',
        "k1\x00",
        "k1 ",
        "K1",
        "$(curl evil.example)",
        "x" * 256,
    ],
)
def test_injected_kid_is_only_ever_an_unknown_dictionary_key(w: World, key: SigningKey, kid: str) -> None:
    attacker = SigningKey(kid, "RS256", rsa_key(2048, slot=1))
    w.refused(sign(attacker, w.claims()), "unknown_kid")
    # the real key's signature under the injected kid fails the same way
    w.refused(resign(sign(key, w.claims()), key, header={"alg": "RS256", "kid": kid}), "unknown_kid")
    assert w.endpoint.calls == [JWKS_URL]


@pytest.mark.parametrize("kid", ["x" * 257, "x" * 4000, "", 1, 1.5, True, ["k1"], {"kid": "k1"}])
def test_kid_that_is_too_long_empty_or_not_a_string_is_malformed(w: World, key: SigningKey, kid: Any) -> None:
    token = resign(sign(key, w.claims()), key, header={"alg": "RS256", "kid": kid})
    w.refused(token, "malformed_token")
    assert w.endpoint.calls == []


def test_missing_kid_is_accepted_when_the_issuer_has_exactly_one_key() -> None:
    k = make_key("RS256", "only")
    w = World(k)
    verified = w.ok(sign(SigningKey(None, "RS256", k.private), w.claims()))
    assert (verified.kid, verified.key.kid) == (None, "only")


def test_missing_kid_is_refused_when_the_issuer_has_several_keys() -> None:
    k1, k2 = make_key("RS256", "k1"), make_key("RS256", "k2", slot=1)
    w = World(k1, k2)
    w.refused(sign(SigningKey(None, "RS256", k1.private), w.claims()), "missing_kid")
    # and with the kid it is fine
    assert w.ok(sign(k1, w.claims())).kid == "k1"


def test_missing_kid_and_the_single_key_does_not_fit_is_a_mismatch() -> None:
    w = World(make_key("ES256", "only"))
    w.refused(sign(SigningKey(None, "RS256", rsa_key()), w.claims()), "key_mismatch")


# -- header parameters that must never be used to find keys ----------------------------------------


def test_token_signed_by_the_key_embedded_in_its_jwk_header_is_refused(w: World) -> None:
    attacker = make_key("RS256", "k1", slot=1)
    token = sign(attacker, w.claims(sub="admin"), jwk=attacker.public_jwk())
    w.refused(token, "bad_signature")
    attacker_only_kid = make_key("RS256", "attacker", slot=1)
    w.refused(sign(attacker_only_kid, w.claims(), jwk=attacker_only_kid.public_jwk()), "unknown_kid")


@pytest.mark.parametrize(
    "headers",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": [b64url(b"not really a certificate").replace("-", "+")]},
        {"jku": "http://127.0.0.1:1/jwks", "x5u": "file:///etc/passwd"},
    ],
)
def test_jku_x5u_x5c_headers_are_never_fetched_or_used(
    w: World, key: SigningKey, headers: dict[str, Any]
) -> None:
    attacker = make_key("RS256", "k1", slot=1)
    w.refused(sign(attacker, w.claims(), **headers), "bad_signature")
    # a genuine token carrying them still verifies with the issuer's own JWKS, which alone is fetched
    assert w.ok(sign(key, w.claims(), **headers)).kid == "k1"
    assert set(w.endpoint.calls) == {JWKS_URL}


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["jku"], ["kid"], [], "b64", [1], None])
def test_crit_is_refused(w: World, key: SigningKey, crit: Any) -> None:
    token = resign(
        sign(key, w.claims()), key, header={"alg": "RS256", "kid": "k1", "crit": crit, "b64": True}
    )
    w.refused(token, "unknown_crit")


@pytest.mark.parametrize("zip_value", ["DEF", "", None])
def test_zip_header_is_refused(w: World, key: SigningKey, zip_value: Any) -> None:
    token = resign(sign(key, w.claims()), key, header={"alg": "RS256", "kid": "k1", "zip": zip_value})
    w.refused(token, "malformed_token")


# -- claim type games --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value", ["1900000000", "", True, False, None, [1900000000], {"t": 1900000000}], ids=repr
)
def test_time_claims_must_be_json_numbers(w: World, key: SigningKey, name: str, value: Any) -> None:
    err = w.refused(sign(key, w.claims(**{name: value})), "claim_type")
    assert isinstance(err, TokenClaimError) and err.claim == name


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_malformed(w: World, key: SigningKey, name: str, literal: str) -> None:
    w.refused(sign_raw(key, b'{"alg":"RS256","kid":"k1"}', payload_with(w, name, literal)), "malformed_token")


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400, "-1" + "0" * 400])
def test_time_claims_that_overflow_a_float_are_refused_not_crashing(name: str, literal: str) -> None:
    # 1e400 parses to inf (an exp that never expires when no max lifetime is set); 10**400 made
    # float() raise OverflowError, a 500 instead of a 401.
    k = make_key("RS256", "k1")
    w = World(k, max_lifetime_seconds=None)
    token = sign_raw(k, b'{"alg":"RS256","kid":"k1"}', payload_with(w, name, literal))
    err = w.refused(token, "claim_type")
    assert isinstance(err, TokenClaimError) and err.claim == name


def test_exp_missing_is_refused(w: World, key: SigningKey) -> None:
    err = w.refused(sign(key, w.claims(exp=DROP)), "missing_claim")
    assert isinstance(err, TokenClaimError) and err.claim == "exp"


def test_exp_missing_is_refused_even_when_required_claims_are_reduced(key: SigningKey) -> None:
    w = World(key, required_claims=["exp"])
    w.refused(sign(key, w.claims(exp=DROP)), "missing_claim")


def test_a_float_exp_is_a_number_and_accepted(w: World, key: SigningKey) -> None:
    assert w.ok(sign(key, w.claims(exp=w.now + 300.5))).exp == w.now + 300.5


# -- time boundaries (default leeway 30 s) -----------------------------------------------------------


def test_exp_exactly_at_leeway_passes_and_one_second_beyond_fails(w: World, key: SigningKey) -> None:
    now = w.now
    at_edge = sign(key, w.claims(iat=now - 100, exp=now - 30))
    beyond = sign(key, w.claims(iat=now - 100, exp=now - 31))
    assert w.ok(at_edge).exp == now - 30
    w.refused(beyond, "expired")


def test_nbf_exactly_at_leeway_passes_and_one_second_beyond_fails(w: World, key: SigningKey) -> None:
    now = w.now
    assert w.ok(sign(key, w.claims(nbf=now + 30))).sub == "alice"
    w.refused(sign(key, w.claims(nbf=now + 31)), "not_yet_valid")


def test_iat_in_the_future_beyond_leeway_is_refused(w: World, key: SigningKey) -> None:
    now = w.now
    assert w.ok(sign(key, w.claims(iat=now + 30))).iat == now + 30
    w.refused(sign(key, w.claims(iat=now + 31)), "issued_in_future")
    w.refused(sign(key, w.claims(iat=now + 10**6, exp=now + 10**6 + 60)), "issued_in_future")


def test_leeway_zero_is_exact(key: SigningKey) -> None:
    w = World(key, leeway_seconds=0)
    now = w.now
    assert w.ok(sign(key, w.claims(iat=now - 10, exp=now))).exp == now
    w.refused(sign(key, w.claims(iat=now - 10, exp=now - 1)), "expired")
    w.refused(sign(key, w.claims(nbf=now + 1)), "not_yet_valid")
    w.refused(sign(key, w.claims(iat=now + 1)), "issued_in_future")


def test_expiry_follows_the_clock(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims(exp=w.now + 60))
    w.ok(token)
    w.verifier._cache.clear()
    w.clock.advance(90)
    assert w.ok(token).sub == "alice"
    w.verifier._cache.clear()
    w.clock.advance(1)
    w.refused(token, "expired")


def test_maximum_lifetime_boundary(key: SigningKey) -> None:
    w = World(key, max_lifetime_seconds=3600)
    now = w.now
    assert w.ok(sign(key, w.claims(iat=now, exp=now + 3600))).exp == now + 3600
    w.refused(sign(key, w.claims(iat=now, exp=now + 3601)), "lifetime_too_long")
    # without iat the lifetime is counted from now
    assert w.ok(sign(key, w.claims(iat=DROP, exp=now + 3600))).iat is None
    w.refused(sign(key, w.claims(iat=DROP, exp=now + 3601)), "lifetime_too_long")
    # a very old iat does not make a long-lived token acceptable
    w.refused(sign(key, w.claims(iat=now - 10**6, exp=now + 60)), "lifetime_too_long")


def test_default_maximum_lifetime_is_a_day(w: World, key: SigningKey) -> None:
    w.refused(sign(key, w.claims(exp=w.now + 10 * 365 * 86400)), "lifetime_too_long")


def test_no_maximum_lifetime_when_configured_off(key: SigningKey) -> None:
    w = World(key, max_lifetime_seconds=None)
    assert w.ok(sign(key, w.claims(exp=w.now + 10 * 365 * 86400))).sub == "alice"


# -- audience, required claims, type, scopes, groups -------------------------------------------------


@pytest.mark.parametrize("aud", [AUDIENCE, [AUDIENCE], ["api://unrelated", AUDIENCE], "api://other"])
def test_audience_as_string_or_list_containing_an_accepted_value(w: World, key: SigningKey, aud: Any) -> None:
    assert w.ok(sign(key, w.claims(aud=aud))).sub == "alice"


@pytest.mark.parametrize(
    "aud", ["api://unrelated", ["api://unrelated"], "API://BANK", AUDIENCE + "/", " " + AUDIENCE]
)
def test_wrong_audience_is_refused(w: World, key: SigningKey, aud: Any) -> None:
    w.refused(sign(key, w.claims(aud=aud)), "wrong_audience")


@pytest.mark.parametrize("aud", [1, True, None, {"aud": AUDIENCE}, [], [AUDIENCE, 1], [[AUDIENCE]]])
def test_audience_of_the_wrong_type_is_refused(w: World, key: SigningKey, aud: Any) -> None:
    err = w.refused(sign(key, w.claims(aud=aud)), "claim_type")
    assert isinstance(err, TokenClaimError) and err.claim == "aud"


def test_audience_is_required_by_default(w: World, key: SigningKey) -> None:
    err = w.refused(sign(key, w.claims(aud=DROP)), "missing_claim")
    assert isinstance(err, TokenClaimError) and err.claim == "aud"


@pytest.mark.parametrize("name", ["iss", "aud", "exp", "sub"])
def test_default_required_claims(w: World, key: SigningKey, name: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        w.verifier.verify(sign(key, w.claims(**{name: DROP})))
    assert info.value.reason == "missing_claim"


def test_required_claims_are_configurable(key: SigningKey) -> None:
    w = World(key, required_claims=["iss", "exp", "sub", "jti"])
    err = w.refused(sign(key, w.claims(jti=DROP)), "missing_claim")
    assert isinstance(err, TokenClaimError) and err.claim == "jti"
    # aud is no longer required: a token without aud passes, one with a wrong aud still fails
    assert w.ok(sign(key, w.claims(aud=DROP))).sub == "alice"
    w.refused(sign(key, w.claims(aud="api://unrelated")), "wrong_audience")


@pytest.mark.parametrize("sub", ["", 1, None, ["alice"], "x" * 1025])
def test_sub_must_be_a_short_non_empty_string(w: World, key: SigningKey, sub: Any) -> None:
    w.refused(sign(key, w.claims(sub=sub)), "claim_type")


@pytest.mark.parametrize("jti", [1, ["j"], {"j": 1}, True])
def test_jti_must_be_a_string(w: World, key: SigningKey, jti: Any) -> None:
    w.refused(sign(key, w.claims(jti=jti)), "claim_type")


@pytest.mark.parametrize(
    "typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/AT+jwt", "APPLICATION/at+JWT"]
)
def test_token_type_at_jwt_with_optional_application_prefix_any_case(key: SigningKey, typ: str) -> None:
    w = World(key, token_type="at+jwt")
    assert w.ok(sign(key, w.claims(), typ=typ)).sub == "alice"


@pytest.mark.parametrize(
    "typ", ["JWT", "jwt", "application/jwt", "at+jwt ", "xat+jwt", "application/", 1, None]
)
def test_wrong_token_type_is_refused(key: SigningKey, typ: Any) -> None:
    w = World(key, token_type="application/at+jwt")
    token = resign(sign(key, w.claims()), key, header={"alg": "RS256", "kid": "k1", "typ": typ})
    w.refused(token, "wrong_token_type")


def test_missing_typ_is_refused_when_a_token_type_is_required(key: SigningKey) -> None:
    w = World(key, token_type="at+jwt")
    w.refused(resign(sign(key, w.claims()), key, header={"alg": "RS256", "kid": "k1"}), "wrong_token_type")


def test_token_type_is_not_checked_unless_configured(w: World, key: SigningKey) -> None:
    assert w.ok(sign(key, w.claims(), typ="JWT")).sub == "alice"


@pytest.mark.parametrize(
    ("scopes", "ok"),
    [
        ({"scope": "read write"}, True),
        ({"scope": "admin write  read"}, True),
        ({"scope": "read"}, False),
        ({"scope": "readwrite"}, False),
        ({"scope": "read,write"}, False),
        ({"scope": ""}, False),
        ({"scope": ["read", "write"]}, False),  # RFC 9068: scope is a space-separated string
        ({"scp": ["read", "write", "x"]}, True),
        ({"scp": "read write"}, True),
        ({"scp": ["read"]}, False),
        ({"scp": ["read", 1, "write"]}, False),
        ({"scope": "read", "scp": ["read", "write"]}, False),  # no union of the two claims
        ({}, False),
    ],
)
def test_required_scopes(key: SigningKey, scopes: dict[str, Any], ok: bool) -> None:
    w = World(key, required_scopes=["read", "write"])
    token = sign(key, w.claims(**scopes))
    if ok:
        assert w.ok(token).sub == "alice"
    else:
        w.refused(token, "missing_scope")


def test_groups_claim_is_a_list_of_strings_deduplicated(w: World, key: SigningKey) -> None:
    verified = w.ok(sign(key, w.claims(groups=["b", "a", "b"])))
    assert verified.groups == ("a", "b")
    assert w.ok(sign(key, w.claims(groups="solo"))).groups == ("solo",)
    assert w.ok(sign(key, w.claims(groups=DROP))).groups == ()


@pytest.mark.parametrize("groups", [1, True, {"g": 1}, ["a", 1], ["a", None], [""], ["x" * 257], [["a"]]])
def test_groups_claim_of_the_wrong_type_is_refused(w: World, key: SigningKey, groups: Any) -> None:
    err = w.refused(sign(key, w.claims(groups=groups)), "claim_type")
    assert isinstance(err, TokenClaimError) and err.claim == "groups"


def test_groups_claim_size_is_bounded(w: World, key: SigningKey) -> None:
    at_limit = [f"g{i}" for i in range(MAX_GROUPS)]
    assert len(w.ok(sign(key, w.claims(groups=at_limit))).groups) == MAX_GROUPS
    w.refused(sign(key, w.claims(groups=[*at_limit, "one-more"])), "claim_too_large")


def test_groups_are_ignored_unless_a_groups_claim_is_configured(key: SigningKey) -> None:
    w = World(key, groups_claim=None)
    assert w.ok(sign(key, w.claims(groups=["admin"]))).groups == ()


@pytest.mark.parametrize("client", [1, "", "x" * 257, ["app"]])
def test_client_claim_must_be_a_short_string(w: World, key: SigningKey, client: Any) -> None:
    w.refused(sign(key, w.claims(client_id=client)), "claim_type")


# -- malformed JSON and encodings --------------------------------------------------------------------


def test_duplicate_member_names_in_the_payload_are_refused(w: World, key: SigningKey) -> None:
    body = json.dumps(w.claims(sub="alice"))[:-1] + ', "sub": "admin"}'
    w.refused(sign_raw(key, b'{"alg":"RS256","kid":"k1"}', body.encode()), "malformed_token")


def test_duplicate_member_names_in_the_header_are_refused(w: World, key: SigningKey) -> None:
    header = b'{"alg":"none","kid":"k1","alg":"RS256"}'
    w.refused(sign_raw(key, header, json.dumps(w.claims()).encode()), "malformed_token")


def test_duplicate_member_names_in_a_nested_object_are_refused(w: World, key: SigningKey) -> None:
    body = json.dumps(w.claims())[:-1] + ', "cnf": {"x": 1, "x": 2}}'
    w.refused(sign_raw(key, b'{"alg":"RS256","kid":"k1"}', body.encode()), "malformed_token")


@pytest.mark.parametrize(
    "payload",
    [
        b'\xff\xfe{"sub":"alice"}',
        '{"sub":"alice"}'.encode("utf-16"),
        b'{"sub":"\xc0\xaf"}',  # overlong UTF-8
        b'{"sub":"\xed\xa0\x80"}',  # UTF-8-encoded surrogate
    ],
)
def test_non_utf8_payload_is_refused(w: World, key: SigningKey, payload: bytes) -> None:
    w.refused(sign_raw(key, b'{"alg":"RS256","kid":"k1"}', payload), "malformed_token")


@pytest.mark.parametrize("payload", [b"[]", b'"claims"', b"1", b"null", b"", b"{", b'{"a":1} {"b":2}'])
def test_payload_that_is_not_one_json_object_is_refused(w: World, key: SigningKey, payload: bytes) -> None:
    w.refused(sign_raw(key, b'{"alg":"RS256","kid":"k1"}', payload), "malformed_token")


@pytest.mark.parametrize("header", [b"[]", b'"RS256"', b"", b"{'alg':'RS256'}"])
def test_header_that_is_not_a_json_object_is_refused(w: World, header: bytes) -> None:
    w.refused(f"{b64url(header)}.{b64json(w.claims())}.AAAA", "malformed_token")


@pytest.mark.parametrize("part", [0, 1])
def test_deeply_nested_json_is_malformed_not_a_crash(w: World, part: int) -> None:
    # ~6 KB of "[" exceeds the recursion limit of the JSON decoder: it must be a 401, not a 500.
    nested = b"[" * 3000 + b"]" * 3000
    parts = [b64json({"alg": "RS256", "kid": "k1"}), b64json(w.claims()), "AAAA"]
    parts[part] = b64url(nested)
    token = ".".join(parts)
    assert len(token) <= MAX_TOKEN_BYTES
    w.refused(token, "malformed_token")
    assert w.verifier.unverified_hint(token) == (None, None)


@pytest.mark.parametrize("part", [0, 1, 2])
@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda s: s + "=", id="padding"),
        pytest.param(lambda s: s + "==", id="double-padding"),
        pytest.param(lambda s: s[:4] + "+" + s[5:], id="plus"),
        pytest.param(lambda s: s[:4] + "/" + s[5:], id="slash"),
        pytest.param(lambda s: s[:4] + " " + s[4:], id="space"),
        pytest.param(lambda s: s[:4] + "\n" + s[4:], id="newline"),
        pytest.param(lambda s: s[:4] + "\t" + s[4:], id="tab"),
        pytest.param(lambda s: s + "A" * (5 - len(s) % 4 if len(s) % 4 != 1 else 4), id="length-1-mod-4"),
        pytest.param(lambda s: s[:4] + "." + s[4:], id="extra-dot"),
        pytest.param(lambda s: s[:4] + "é" + s[4:], id="non-ascii"),
        pytest.param(lambda s: s[:4] + "\ud800" + s[4:], id="lone-surrogate"),
    ],
)
def test_bad_base64url_in_any_part_is_malformed(w: World, key: SigningKey, part: int, damage: Any) -> None:
    parts = sign(key, w.claims()).split(".")
    parts[part] = damage(parts[part])
    w.refused(".".join(parts), "malformed_token")


@pytest.mark.parametrize(
    ("text", "decoded"),
    [("", b""), ("YQ", b"a"), ("YWI", b"ab"), ("YWJj", b"abc"), ("-_8", b"\xfb\xff")],
)
def test_b64url_decode_accepts_unpadded_base64url(text: str, decoded: bytes) -> None:
    assert b64url_decode(text) == decoded


@pytest.mark.parametrize(
    "text", ["YQ==", "YWI=", "+_8", "/_8", "YW I", " YWI", "YWI\n", "Y", "YWJjZ", "YW=I", "é"]
)
def test_b64url_decode_refuses_anything_else(text: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        b64url_decode(text)
    assert info.value.reason == "malformed_token"


@pytest.mark.parametrize("token", ["", ".", "..", "...", "a.b", "a.b.c.d", "eyJ", "a..b..c"])
def test_wrong_number_of_parts_is_malformed(w: World, token: str) -> None:
    w.refused(token, "malformed_token")


def test_two_and_four_part_versions_of_a_good_token_are_refused(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims())
    h, p, s = token.split(".")
    for bad in (f"{h}.{p}", f"{h}.{p}.{s}.{s}", f"{h}.{p}.{s}.", f".{h}.{p}.{s}"):
        w.refused(bad, "malformed_token")
    assert w.endpoint.calls == []


def test_jwe_shaped_token_is_refused(w: World) -> None:
    jwe = ".".join(
        [b64json({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "k1"}), "AAAA", "AAAA", "AAAA", "AAAA"]
    )
    w.refused(jwe, "malformed_token")
    w.refused(
        ".".join([b64json({"alg": "dir", "enc": "A256GCM"}), "", "AAAA", "AAAA", "AAAA"]), "malformed_token"
    )
    assert w.endpoint.calls == []


def test_token_over_8kb_is_refused_before_decoding_and_nothing_is_fetched(w: World, key: SigningKey) -> None:
    # GIVEN a validly signed token just over 8 KB (padding claim)
    base = sign(key, w.claims())
    pad = "x" * (MAX_TOKEN_BYTES - len(base))
    token = sign(key, w.claims(pad=pad))
    assert len(token) > MAX_TOKEN_BYTES
    # WHEN verified THEN refused as too large, with no key lookup
    w.refused(token, "token_too_large")
    w.refused("A" * (MAX_TOKEN_BYTES + 1), "token_too_large")
    w.refused("." * 10**6, "token_too_large")
    assert w.endpoint.calls == []
    with pytest.raises(AuthenticationError) as info:
        peek(token)
    assert info.value.reason == "token_too_large"


def test_a_token_of_exactly_8kb_is_not_refused_for_size(w: World, key: SigningKey) -> None:
    # base64url lengths are never 1 mod 4, so both header and payload sizes are varied to hit 8192.
    base = sign(key, w.claims(pad=""))
    approx = (MAX_TOKEN_BYTES - len(base)) * 3 // 4  # base64url: 4 characters per 3 bytes
    sized = [
        sign(key, w.claims(pad="x" * n), x="y" * m) for m in range(3) for n in range(approx - 12, approx + 4)
    ]
    token = next(t for t in sized if len(t) == MAX_TOKEN_BYTES)
    assert w.ok(token).sub == "alice"


# -- issuer --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example.com/",
        "https://idp.example.com",  # the configured issuer has a trailing slash
        "https://idp.example.com//",
        "HTTPS://idp.example.com/",
        "https://IDP.example.com/",
        "https://idp.example.com/ ",
        " https://idp.example.com/",
        "https://idp.example.com/\x00",
        "https://idp.example.com.evil.example/",
    ],
)
def test_unknown_or_near_miss_issuer_is_refused_before_any_key_lookup(
    w: World, key: SigningKey, iss: str
) -> None:
    w.refused(sign(key, w.claims(iss=iss)), "unknown_issuer")
    assert w.endpoint.calls == []


@pytest.mark.parametrize("iss", [None, 1, [ISSUER], {"iss": ISSUER}])
def test_issuer_missing_or_not_a_string_is_refused_before_any_key_lookup(
    w: World, key: SigningKey, iss: Any
) -> None:
    body = w.claims(iss=iss if iss is not None else DROP)
    w.refused(sign_unchecked("RS256", key.private, {"alg": "RS256", "kid": "k1"}, body), "missing_claim")
    assert w.endpoint.calls == []


def test_a_near_miss_issuer_matches_only_when_configured_exactly() -> None:
    k = make_key("RS256", "k1")
    w = World(k, issuer="https://idp.example.com")
    assert w.ok(sign(k, w.claims(iss="https://idp.example.com"))).issuer.issuer == "https://idp.example.com"
    w.refused(sign(k, w.claims(iss=ISSUER)), "unknown_issuer")


# -- signatures ------------------------------------------------------------------------------------


def test_signature_of_a_different_token_is_refused(w: World, key: SigningKey) -> None:
    a = sign(key, w.claims(sub="alice"))
    b = sign(key, w.claims(sub="admin"))
    spliced = ".".join([*b.split(".")[:2], a.split(".")[2]])
    w.refused(spliced, "bad_signature")


def test_truncated_or_altered_signature_is_refused(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims())
    h, p, s = token.split(".")
    raw = b64url_decode(s)
    for bad in (raw[:-1], raw[:-32], raw[:1], b"", raw + b"\x00", bytes([raw[0] ^ 1]) + raw[1:]):
        w.refused(f"{h}.{p}.{b64url(bad)}", "bad_signature")
    # Four characters fewer: a wrong signature, or not even canonical base64url (see below).
    w.refused(f"{h}.{p}.{s[:-4]}", "bad_signature" if s[-5] in "AQgw" else "malformed_token")


def test_another_spelling_of_the_same_signature_bytes_is_refused(w: World, key: SigningKey) -> None:
    # RSA-2048 signatures are 342 base64url characters: the last one carries 4 unused bits, so 15
    # other characters decode to the same bytes. Only the canonical spelling is accepted: one
    # token, one text (each spelling would miss the token cache and API Gateway's cache).
    token = sign(key, w.claims())
    h, p, s = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same = [c for c in alphabet if c != s[-1] and alphabet.index(c) >> 4 == alphabet.index(s[-1]) >> 4]
    assert len(same) == 15
    for c in same:
        w.refused(f"{h}.{p}.{s[:-1]}{c}", "malformed_token")
    w.ok(token)


def test_payload_altered_after_signing_is_refused(w: World, key: SigningKey) -> None:
    h, _, s = sign(key, w.claims(sub="alice")).split(".")
    w.refused(f"{h}.{b64json(w.claims(sub='admin'))}.{s}", "bad_signature")


def test_ecdsa_signature_in_der_instead_of_raw_is_refused() -> None:
    k = make_key("ES256", "ec")
    w = World(k)
    h, p = b64json({"alg": "ES256", "kid": "ec"}), b64json(w.claims())
    der = k.private.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    assert len(der) != 64
    w.refused(f"{h}.{p}.{b64url(der)}", "bad_signature")
    # control: the same input signed in the JWS (raw r||s) form verifies
    assert w.ok(resign(f"{h}.{p}.", k, header={"alg": "ES256", "kid": "ec"})).kid == "ec"


def test_rs256_signature_presented_as_ps256_is_refused(key: SigningKey) -> None:
    w = World(key)
    token = sign(key, w.claims())
    _, p, s = token.split(".")
    w.refused(f"{b64json({'alg': 'PS256', 'kid': 'k1'})}.{p}.{s}", "bad_signature")


def test_a_token_verifies_under_either_of_two_rsa_keys_sharing_its_kid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deliberate choice (SECURITY.md): every key under the token's kid that fits its alg is tried.
    What it costs: a token that verifies under neither costs one signature check per such key."""
    old, new = make_key("RS256", "k1"), make_key("RS256", "k1", slot=1)
    w = World(old, new)
    assert w.ok(sign(new, w.claims())).key.jwk["n"] == new.public_jwk()["n"]
    assert w.ok(sign(old, w.claims())).key.jwk["n"] == old.public_jwk()["n"]
    checks: list[int] = []
    real = tokens_module.verifier

    def counting(alg: str) -> Any:
        check = real(alg)
        return lambda *a: checks.append(1) or check(*a)

    monkeypatch.setattr(tokens_module, "verifier", counting)
    w.refused(sign(make_key("RS256", "k1", slot=2), w.claims()), "bad_signature")
    assert len(checks) == 2


def test_key_rotation_with_duplicate_kid_tries_only_fitting_keys() -> None:
    # GIVEN two keys share a kid (rotation in progress): an EC one and the RSA one that signed
    ec_key = make_key("ES256", "k1")
    rsa = make_key("RS256", "k1")
    w = World(ec_key, rsa)
    assert w.ok(sign(rsa, w.claims())).key.jwk["kty"] == "RSA"
    assert w.ok(sign(ec_key, w.claims())).key.jwk["kty"] == "EC"


# -- the verified-token cache ------------------------------------------------------------------------


def cache_key(token: str) -> bytes:
    """The verified-token cache's key: the SHA-256 of the signing input (header.payload)."""
    return hashlib.sha256(token.rsplit(".", 1)[0].encode()).digest()


def test_repeated_token_comes_from_the_cache_keyed_by_its_signing_input(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims())
    first, cached_first = w.verifier.verify(token)
    second, cached_second = w.verifier.verify(token)
    assert (cached_first, cached_second) == (False, True)
    assert second is first
    assert list(w.verifier._cache) == [cache_key(token)]


def test_a_tampered_copy_of_a_cached_token_is_not_served_from_the_cache(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims())
    w.ok(token)
    h, p, s = token.split(".")
    w.refused(f"{h}.{p}.{s[:10]}{'A' if s[10] != 'A' else 'B'}{s[11:]}", "bad_signature")
    w.refused(f"{h}.{b64json(w.claims(sub='admin'))}.{s}", "bad_signature")
    # The forged copies share the real token's cache key or signature; it is still cached.
    assert w.verifier.verify(token)[1] is True


def test_the_cached_signature_is_compared_in_constant_time(
    w: World, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a cached token
    token = sign(key, w.claims())
    w.ok(token)
    compared: list[tuple[str, str]] = []

    def recording(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(tokens_module, "compare_digest", recording)
    # WHEN it and a copy with another signature are presented
    h, p, s = token.split(".")
    forged = f"{h}.{p}.{s[:-2]}{'AA' if s[-2:] != 'AA' else 'BB'}"
    assert w.verifier.verify(token)[1] is True
    w.refused(forged, "bad_signature")
    # THEN each presented signature was compared with the cached one by hmac.compare_digest
    # (timing says nothing about how much of a guessed signature matched), not with ==
    assert compared == [(s, s), (s, forged.rsplit(".", 1)[1])]


def test_a_second_valid_signature_over_the_same_content_is_verified_in_full() -> None:
    # ECDSA signatures are randomised: the issuer can sign the same header and payload twice.
    key = make_key("ES256", "ec-1")
    w = World(key)
    claims_ = w.claims()
    first, second = sign(key, claims_), sign(key, claims_)
    assert first.rsplit(".", 1)[0] == second.rsplit(".", 1)[0] and first != second
    assert [w.verifier.verify(t)[1] for t in (first, first, second, second)] == [False, True, False, True]
    assert w.verifier.verify(first)[1] is False  # the entry now holds the second signature


def test_refused_tokens_are_not_cached(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims(aud="api://unrelated"))
    for _ in range(3):
        w.refused(token, "wrong_audience")
    assert w.verifier._cache == {}


def test_cache_is_bounded_in_size(key: SigningKey) -> None:
    w = World(key, cache_size=8)
    for i in range(50):
        w.ok(sign(key, w.claims(jti=f"j{i}")))
        assert len(w.verifier._cache) <= 8
    last = sign(key, w.claims(jti="j49"))
    assert w.verifier.verify(last)[1] is True


def test_cache_size_zero_caches_nothing(key: SigningKey) -> None:
    w = World(key, cache_size=0)
    token = sign(key, w.claims())
    assert [w.verifier.verify(token)[1] for _ in range(3)] == [False, False, False]


def test_expired_entries_are_evicted_first(key: SigningKey) -> None:
    w = World(key, cache_size=4)
    short = [sign(key, w.claims(jti=f"s{i}", exp=w.now + 60)) for i in range(3)]
    long_lived = sign(key, w.claims(jti="long", exp=w.now + 3600))
    for t in [*short, long_lived]:
        w.ok(t)
    w.clock.advance(120)
    w.ok(sign(key, w.claims(jti="new")))
    assert cache_key(long_lived) in w.verifier._cache
    assert all(cache_key(t) not in w.verifier._cache for t in short)


def test_cached_token_is_refused_once_expired(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims(exp=w.now + 60))
    assert w.verifier.verify(token)[1] is False
    w.clock.advance(60 + 30)
    assert w.verifier.verify(token)[1] is True  # still within leeway
    w.clock.advance(1)
    w.refused(token, "expired")
    assert w.verifier._cache == {}


def test_cached_token_is_refused_after_its_key_is_withdrawn_on_refresh(w: World, key: SigningKey) -> None:
    # GIVEN a cached token signed by k1
    token = sign(key, w.claims(exp=w.now + 600))
    w.ok(token)
    # WHEN the issuer rotates to k2 only and a k2 token makes the cache refresh
    k2 = make_key("RS256", "k2", slot=1)
    w.publish(k2)
    w.clock.advance(w.issuer.jwks_cooldown_seconds)
    assert w.ok(sign(k2, w.claims())).kid == "k2"
    # THEN the cached k1 token is no longer accepted
    w.refused(token, "unknown_kid")
    assert len(w.endpoint.calls) == 2


def test_cached_token_survives_a_refresh_that_keeps_its_key(w: World, key: SigningKey) -> None:
    token = sign(key, w.claims(exp=w.now + 600))
    w.ok(token)
    k2 = make_key("RS256", "k2", slot=1)
    w.publish(key, k2)
    w.clock.advance(w.issuer.jwks_cooldown_seconds)
    w.ok(sign(k2, w.claims()))
    assert w.verifier.verify(token)[1] is True


def test_cached_token_alone_triggers_the_max_age_refresh_and_sees_a_withdrawn_key(key: SigningKey) -> None:
    # GIVEN only one (long-lived) token is in use, served from the cache
    w = World(key, jwks_max_age_seconds=600)
    token = sign(key, w.claims(exp=w.now + 7200))
    w.ok(token)
    w.clock.advance(300)
    assert w.verifier.verify(token)[1] is True
    assert len(w.endpoint.calls) == 1  # warm path: no network
    # WHEN the issuer withdraws the key and the key set passes its max age
    w.publish(make_key("RS256", "k2", slot=1))
    w.clock.advance(301)
    # THEN the repeated token causes a refresh and is refused
    w.refused(token, "unknown_kid")
    assert len(w.endpoint.calls) == 2


def test_cached_token_is_served_stale_during_an_outage_then_fails_closed(key: SigningKey) -> None:
    w = World(key, jwks_max_age_seconds=600, jwks_max_stale_seconds=600)
    token = sign(key, w.claims(exp=w.now + 7200))
    w.ok(token)
    w.endpoint.failing = True
    w.clock.advance(900)
    assert w.ok(token).kid == "k1"  # stale but within bound
    w.clock.advance(301)
    with pytest.raises(JwksUnavailableError):
        w.verifier.verify(token)


# -- one token, one verification: ECDSA's two spellings (s and n - s) ------------------------------------

ES_ALGS = ["ES256", "ES384", "ES512"]
CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
HASHES = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "ES512": hashes.SHA512()}
SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}
ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    "ES512": 0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
}  # fmt: skip


def with_s(token: str, alg: str, s_of: Any) -> str:
    """The token with its ECDSA ``S`` replaced by ``s_of(s, n)`` (same ``R``, same length)."""
    h, p, sig64 = token.split(".")
    size, n = SIZES[alg], ORDERS[alg]
    raw = b64url_decode(sig64)
    s = int.from_bytes(raw[size:], "big")
    return f"{h}.{p}.{b64url(raw[:size] + (s_of(s, n) % 2 ** (8 * size)).to_bytes(size, 'big'))}"


def mirror(token: str, alg: str) -> str:
    """The other valid spelling ``(r, n - s)`` of an ES* token's signature."""
    return with_s(token, alg, lambda s, n: n - s)


def es_world(alg: str) -> tuple[World, SigningKey]:
    key = make_key(alg, "ec")
    return World(key, algorithms=[alg]), key


@pytest.mark.parametrize("alg", ES_ALGS)
def test_the_curve_orders_are_those_of_cryptography(alg: str) -> None:
    from edgeauth.core.jose import EC_CURVES, EC_ORDERS

    assert EC_ORDERS[EC_CURVES[alg]] == ORDERS[alg] == CURVES[alg].group_order


@pytest.mark.parametrize("alg", ES_ALGS)
def test_cryptography_signs_high_s_as_often_as_low_s_so_refusing_high_s_would_break_real_tokens(
    alg: str,
) -> None:
    # The evidence for canonicalising rather than refusing: cryptography (OpenSSL), and so PyJWT and
    # every issuer built on them, does not normalise s. Deterministic signing (RFC 6979) with a fixed
    # key and messages makes this reproducible; random-nonce signing has the same distribution.
    private = ec.derive_private_key(0x1234567890ABCDEF, CURVES[alg])
    high = 0
    for i in range(32):
        der = private.sign(b"m%d" % i, ec.ECDSA(HASHES[alg], deterministic_signing=True))
        high += decode_dss_signature(der)[1] > ORDERS[alg] // 2
    assert 4 <= high <= 28, high


@pytest.mark.parametrize("alg", ES_ALGS)
def test_both_spellings_of_an_ecdsa_signature_verify_in_full(alg: str) -> None:
    # Why the cache may serve both: (r, n - s) is a valid signature of the same token.
    w, key = es_world(alg)
    token = sign(key, w.claims())
    fresh = World(key, algorithms=[alg], cache_size=0)
    fresh.endpoint.documents = w.endpoint.documents
    assert fresh.ok(token).sub == fresh.ok(mirror(token, alg)).sub == "alice"


@pytest.mark.parametrize("alg", ES_ALGS)
@pytest.mark.parametrize("first", ["low", "high"])
def test_alternating_ecdsa_spellings_cost_one_verification(
    alg: str, first: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an ES* token and its other spelling (one low-s, one high-s), either seen first
    w, key = es_world(alg)
    token = sign(key, w.claims())
    other = mirror(token, alg)
    low, high = sorted(
        (token, other), key=lambda t: int.from_bytes(b64url_decode(t.split(".")[2])[SIZES[alg] :])
    )
    spellings = [low, high] if first == "low" else [high, low]
    full: list[str] = []
    real_verify = w.verifier._verify
    monkeypatch.setattr(w.verifier, "_verify", lambda *a: full.append(a[2]) or real_verify(*a))
    # WHEN they alternate
    results = [w.verifier.verify(spellings[i % 2]) for i in range(8)]
    # THEN the first is verified in full, every later one (either spelling) is the cached verification
    assert [cached for _, cached in results] == [False] + [True] * 7
    assert len(full) == 1 and all(v is results[0][0] for v, _ in results)
    assert len(w.verifier._cache) == 1


@pytest.mark.parametrize("alg", ES_ALGS)
@pytest.mark.parametrize(
    "change",
    [
        lambda s, n: n - s + 1,  # near the mirror
        lambda s, n: n + s,  # s + n: out of range (and of the width, for P-256/384)
        lambda s, n: 0,
        lambda s, n: n,
        lambda s, n: s ^ 1,
    ],
    ids=["n-s+1", "s+n", "zero", "n", "flipped-bit"],
)
def test_other_signatures_near_the_mirror_are_verified_in_full_and_refused(alg: str, change: Any) -> None:
    w, key = es_world(alg)
    token = sign(key, w.claims())
    w.ok(token)
    w.refused(with_s(token, alg, change), "bad_signature")
    h, p, s = token.split(".")
    r_changed = b64url(bytes([b64url_decode(s)[0] ^ 1]) + b64url_decode(s)[1:])
    w.refused(f"{h}.{p}.{r_changed}", "bad_signature")
    assert w.verifier.verify(token)[1] is True  # the real token is still the cached one


def test_an_eddsa_or_rsa_token_has_no_second_spelling_in_the_cache(key: SigningKey) -> None:
    # The mirror rule is ECDSA's: for other keys a different signature text is verified in full.
    for k in (key, make_key("EdDSA", "k1")):
        w = World(k)
        token = sign(k, w.claims())
        w.ok(token)
        h, p, s = token.split(".")
        raw = b64url_decode(s)
        w.refused(f"{h}.{p}.{b64url(raw[:-1] + bytes([raw[-1] ^ 1]))}", "bad_signature")


def test_a_pss_signature_without_its_leading_zero_octet_is_refused() -> None:
    # RFC 8017 §8.1.2: the signature is exactly as long as the modulus. OpenSSL accepts a PSS
    # signature with its leading zero octet left out: a second spelling of ~1 PS* token in 256.
    key = make_key("PS256", "k1")
    w = World(key)
    for i in range(20_000):
        token = sign(key, w.claims(jti=f"j{i}"))
        h, p, s = token.split(".")
        if b64url_decode(s)[0] == 0:
            break
    else:
        pytest.fail("no PS256 signature with a leading zero octet in 20,000")
    assert w.ok(token).jti == f"j{i}"
    w.refused(f"{h}.{p}.{b64url(b64url_decode(s)[1:])}", "bad_signature")


# -- cnf: a binding this verifier cannot check refuses the token (RFC 7800, 8705, 9449) ---------------------

THUMBPRINT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 9449's example key's
UNSUPPORTED_CNF: list[Any] = [
    {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},  # mTLS, RFC 8705
    {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},  # RFC 7800 §3.2
    {"jku": "https://client.example/jwks.json", "kid": "k"},
    {"kid": "k"},
    {"jwe": "a.b.c.d.e"},
    {"jkt": None},
    {"jkt": ""},
    {"jkt": 5},
    {"jkt": [THUMBPRINT]},
    {"jkt": {"v": THUMBPRINT}},
    {"jkt": "abc"},
    {"jkt": THUMBPRINT + "="},  # padded
    {"jkt": THUMBPRINT[:-1] + "J"},  # unused low bits set: not canonical
    {"jkt": THUMBPRINT[:-1]},  # 31 bytes and a bit
    {"jkt": "A" * 42 + "\u00e9"},
    {"jkt": b64url(bytes(48))},  # a SHA-384 size
    {"jkt": THUMBPRINT, "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
    {"jkt": THUMBPRINT, "jkt#S384": "x"},
    {},
    None,
    "abc",
    THUMBPRINT,
    5,
    True,
    [THUMBPRINT],
    [{"jkt": THUMBPRINT}],
]


@pytest.mark.parametrize("cnf", UNSUPPORTED_CNF, ids=[repr(c)[:40] for c in UNSUPPORTED_CNF])
def test_a_token_with_a_binding_that_cannot_be_checked_is_refused_and_never_cached(
    w: World, key: SigningKey, cnf: Any
) -> None:
    # GIVEN a genuine token bound by a cnf this authorizer does not understand
    token = sign(key, w.claims(cnf=cnf))
    # WHEN it is verified, twice THEN it is refused as unsupported_binding both times, never cached
    for _ in range(2):
        err = w.refused(token, "unsupported_binding")
        assert isinstance(err, TokenClaimError) and err.claim.startswith("cnf")
    assert w.verifier._cache == {}


def test_a_dpop_binding_is_read_and_the_token_is_no_bearer_token_without_it(
    w: World, key: SigningKey
) -> None:
    assert w.ok(sign(key, w.claims(cnf={"jkt": THUMBPRINT}))).jkt == THUMBPRINT
    assert w.ok(sign(key, w.claims())).jkt is None


def test_the_unsupported_binding_detail_names_what_was_found_not_its_value(w: World, key: SigningKey) -> None:
    secretish = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"
    err = w.refused(sign(key, w.claims(cnf={"x5t#S256": secretish})), "unsupported_binding")
    assert "x5t#S256" in str(err) and secretish not in str(err)
    err = w.refused(sign(key, w.claims(cnf={"jkt": "not-a-thumbprint"})), "unsupported_binding")
    assert "not-a-thumbprint" not in str(err)


# -- JWKS faults seen through the verifier -------------------------------------------------------------


def test_jwks_outage_with_unknown_kid_is_a_dependency_error_not_a_401(key: SigningKey) -> None:
    w = World(key)
    w.endpoint.failing = True
    with pytest.raises(JwksUnavailableError) as info:
        w.verifier.verify(sign(key, w.claims()))
    assert not isinstance(info.value, AuthenticationError)
    assert info.value.reason == "jwks_unavailable"


# -- peek and unverified hints -------------------------------------------------------------------------


def test_peek_returns_header_and_claims_without_verifying(w: World) -> None:
    token = forge({"alg": "none", "kid": "x"}, {"iss": "https://evil.example/", "sub": "admin"})
    header, body = peek(token)
    assert header == {"alg": "none", "kid": "x"} and body["sub"] == "admin"
    assert w.endpoint.calls == []


def test_unverified_hint_is_truncated_and_typed(w: World) -> None:
    token = forge({"alg": "RS256", "kid": "k" * 1000}, {"iss": "i" * 1000})
    iss, kid = w.verifier.unverified_hint(token)
    assert (len(iss or ""), len(kid or "")) == (256, 256)
    assert w.verifier.unverified_hint(forge({"kid": 1}, {"iss": ["x"]})) == (None, None)
    assert w.verifier.unverified_hint("garbage") == (None, None)


# -- properties ----------------------------------------------------------------------------------------

_KEY = make_key("RS256", "k1")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PROPS = hsettings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _fresh_world() -> World:
    return World(_KEY)


@_PROPS
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.text(alphabet=_B64 + "=+/ .", max_size=40), min_size=1, max_size=6).map(".".join),
    )
)
def test_any_string_is_refused_with_an_authentication_error_and_nothing_else(text: str) -> None:
    w = _fresh_world()
    with pytest.raises(AuthenticationError):
        w.verifier.verify(text)


@_PROPS
@given(st.data())
def test_a_one_character_change_never_yields_a_different_verified_token(data: st.DataObject) -> None:
    w = _fresh_world()
    token = sign(_KEY, w.claims())
    i = data.draw(st.integers(0, len(token) - 1))
    c = data.draw(st.sampled_from(_B64 + "."))
    mutated = token[:i] + c + token[i + 1 :]
    try:
        w.ok(mutated)
    except AuthenticationError:
        return
    # Verified: only possible when every part decodes to the same bytes (non-canonical last
    # base64url character), i.e. the very same header, claims and signature.
    assert [b64url_decode(x) for x in mutated.split(".")] == [b64url_decode(x) for x in token.split(".")]


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
)


@_PROPS
@given(
    st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jwk", "jku", "zip", "b64", "x5c", "cty"]),
        st.one_of(_json_scalars, st.lists(_json_scalars, max_size=3)),
        max_size=6,
    )
)
def test_arbitrary_headers_on_a_validly_signed_payload_never_escape_as_other_errors(
    header: dict[str, Any],
) -> None:
    w = _fresh_world()
    token = resign(sign(_KEY, w.claims()), _KEY, header=header)
    try:
        verified = w.ok(token)
    except AuthenticationError:
        return
    assert header.get("alg") == "RS256" and "crit" not in header and "zip" not in header
    assert verified.key.kid == "k1"
