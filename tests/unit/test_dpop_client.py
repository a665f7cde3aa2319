"""The DPoP client helper, ``edgeauth dpop`` and the development identity provider's ``dpop_jkt``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from edgeauth.core.dpop import access_token_hash, jwk_thumbprint, verify_proof
from edgeauth.core.settings import parse_issuer
from edgeauth_cli.main import main
from edgeauth_local.dpop_client import DpopKey, gateway_htu
from edgeauth_local.idp import DevIdentityProvider, TokenRequest, _parse_request

URL = "https://api.example.com/v1/accounts/42"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_proofs_of_every_key_type_verify_and_keys_round_trip(alg: str) -> None:
    key = DpopKey.generate(alg)
    again = DpopKey.from_jwk(key.private_jwk())
    assert again.alg == alg and again.thumbprint == key.thumbprint == jwk_thumbprint(key.public_jwk())
    proof = again.proof("GET", URL + "?q=1#x", "tok")
    result = verify_proof(
        proof,
        method="GET",
        url=URL,
        access_token="tok",
        algorithms=frozenset({alg}),
        now=time.time(),
        max_age_seconds=300,
        leeway_seconds=0,
    )
    assert result.jkt == key.thumbprint
    header, claims = jwt.get_unverified_header(proof), jwt.decode(proof, options={"verify_signature": False})
    assert header["typ"] == "dpop+jwt" and "d" not in header["jwk"]
    assert claims["htu"] == URL and claims["ath"] == access_token_hash("tok")


def test_each_proof_is_fresh() -> None:
    key = DpopKey.generate()
    first, second = (
        jwt.decode(key.proof("GET", URL, "t"), options={"verify_signature": False}) for _ in "ab"
    )
    assert first["jti"] != second["jti"]


def test_public_key_refused_as_a_signing_key_and_unknown_alg() -> None:
    with pytest.raises(ValueError):
        DpopKey.from_jwk(DpopKey.generate().public_jwk())
    with pytest.raises(ValueError):
        DpopKey.generate("HS256")


def test_gateway_htu_is_the_https_form() -> None:
    assert (
        gateway_htu("http://127.0.0.1:8080/dev/accounts/42?x=1") == "https://127.0.0.1:8080/dev/accounts/42"
    )


def test_cli_proof_from_a_bare_jwk_with_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = DpopKey.generate()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key.private_jwk()))
    assert (
        main(["dpop", "proof", "--key", str(path), "--method", "POST", "--url", URL, "--token", "abc"]) == 0
    )
    out = capsys.readouterr()
    claims = jwt.decode(out.out.strip(), options={"verify_signature": False})
    assert (claims["htm"], claims["htu"], claims["ath"]) == ("POST", URL, access_token_hash("abc"))
    assert out.err == ""  # an https URL is signed as given


def test_cli_refuses_bad_key_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--method", "GET", "--url", URL]
    assert main(["dpop", "proof", "--key", str(tmp_path / "missing.json"), *args]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    assert main(["dpop", "proof", "--key", str(bad), *args]) == 2
    public = tmp_path / "public.json"
    public.write_text(json.dumps({"key": DpopKey.generate().public_jwk(), "access_token": "t"}))
    assert main(["dpop", "proof", "--key", str(public), *args]) == 2
    assert main(["dpop", "token", "--key", str(bad)]) == 2
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"key": DpopKey.generate().private_jwk()}))
    assert main(["dpop", "proof", "--key", str(ok), "--method", "GET", "--url", "ftp://x/"]) == 2
    capsys.readouterr()


def test_idp_binds_a_token_to_the_given_thumbprint() -> None:
    issuer = parse_issuer(
        {"issuer": "http://127.0.0.1:8081/", "audiences": ["a"], "discovery": True, "algorithms": ["ES256"]}
    )
    idp = DevIdentityProvider(issuer)
    jkt = DpopKey.generate().thumbprint
    token = idp.mint(TokenRequest("bob", dpop_jkt=jkt))
    assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {"jkt": jkt}
    assert "cnf" not in jwt.decode(idp.mint(TokenRequest("bob")), options={"verify_signature": False})
    assert _parse_request(json.dumps({"sub": "bob", "dpop_jkt": jkt}).encode()).dpop_jkt == jkt
    for bad in ("short", 5, "x" * 43 + "=", "é" * 43):
        with pytest.raises(ValueError):
            _parse_request(json.dumps({"sub": "bob", "dpop_jkt": bad}).encode())
