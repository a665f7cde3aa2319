"""DPoP (RFC 9449) through the whole authorizer: real signatures, moto role and replay tables.

GIVEN an issuer with ``dpop`` on, WHEN API Gateway sends a REQUEST event with ``Authorization: DPoP``
and a ``DPoP`` proof, THEN a good proof is allowed once, and every refusal is a 401 whose audit line
names the reason; a fault of the replay table is a 500 (the error propagates), never a 401 or Allow.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from edgeauth import constants as C
from edgeauth.authorizer import Unauthorized
from edgeauth.bootstrap import build_authorizer
from edgeauth.core.errors import ConfigError, DependencyError, ReplayStoreError
from edgeauth.core.tokens import b64url_decode
from edgeauth_local.dpop_client import DpopKey
from tests.conftest import issuer_env, put_item, put_role
from tests.support.dynamo_server import authorizer_client
from tests.support.events import authorizer_event
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import ISSUER, b64json, b64url, claims, jwks, make_key, sign

JWKS_URL = "https://idp.example.com/jwks.json"
REPLAY_TABLE = "edgeauth-dpop-replay-test"
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
URL = f"https://{DOMAIN}/prod/accounts/42"  # execute-api host: the stage is in the path


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    """The role table on moto's server: the authorizer reads it with its own client, over HTTP."""
    return dynamodb_server


def create_replay_table(client: Any) -> None:
    client.create_table(
        TableName=REPLAY_TABLE,
        KeySchema=[{"AttributeName": C.DPOP_REPLAY_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": C.DPOP_REPLAY_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class Harness:
    def __init__(self, dynamodb: Any, mode: str = "required", **issuer: Any) -> None:
        self.key = make_key("RS256", "k1")
        self.client_key = DpopKey.generate("ES256")
        self.endpoint = FakeKeyEndpoint({JWKS_URL: jwks(self.key)})
        self.lines: list[str] = []
        self.dynamodb = dynamodb
        env = issuer_env(dpop=mode, **issuer)
        env[C.ENV_DPOP_REPLAY_TABLE] = REPLAY_TABLE
        self.authorizer = build_authorizer(
            env,
            emit=self.lines.append,
            fetch=self.endpoint,
            dynamodb_client=authorizer_client(dynamodb),
            on_jwks_fetch=None,
        )

    def token(self, sub: str = "carol", bound: bool = True, **extra: Any) -> str:
        cnf = {"cnf": {"jkt": self.client_key.thumbprint}} if bound else {}
        return sign(self.key, claims(sub=sub, **cnf, **extra))

    def proof(self, token: str, method: str = "GET", url: str = URL, **kw: Any) -> str:
        return self.client_key.proof(method, url, token, **kw)

    def event(
        self,
        token: str,
        proofs: list[str] | None,
        *,
        scheme: str = "DPoP",
        method: str = "GET",
        domain: str = DOMAIN,
        context_path: str = "/prod/accounts/42",
    ) -> dict[str, Any]:
        event = authorizer_event(method=method, authorization=f"{scheme} {token}")
        if proofs:
            event["headers"]["DPoP"] = proofs[-1]
            event["multiValueHeaders"]["DPoP"] = list(proofs)
        event["requestContext"]["domainName"] = domain
        event["requestContext"]["path"] = context_path
        return event

    def call(self, token: str, proofs: list[str] | None, **kw: Any) -> dict[str, Any]:
        return self.authorizer.authorize(self.event(token, proofs, **kw))

    def refused(self, token: str, proofs: list[str] | None, **kw: Any) -> str:
        with pytest.raises(Unauthorized):
            self.call(token, proofs, **kw)
        line = self.audit
        assert line["decision"] == "unauthorized"
        return str(line["reason"])

    @property
    def audit(self) -> dict[str, Any]:
        assert self.lines, "no audit line written"
        return json.loads(self.lines[-1])


@pytest.fixture
def tables(dynamodb: Any) -> Any:
    create_replay_table(dynamodb)
    put_role(dynamodb, "reader", allow=["GET /accounts", "GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    return dynamodb


@pytest.fixture
def h(tables: Any) -> Harness:
    return Harness(tables, "required")


def effect(answer: dict[str, Any]) -> str:
    return str(answer["policyDocument"]["Statement"][0]["Effect"])


# --- accepted ---------------------------------------------------------------------------------------


def test_good_proof_is_allowed_and_its_id_recorded_with_an_expiry(h: Harness) -> None:
    token = h.token()
    assert effect(h.call(token, [h.proof(token)])) == "Allow"
    assert (h.audit["decision"], h.audit["reason"]) == ("allow", "allowed")
    items = h.dynamodb.scan(TableName=REPLAY_TABLE)["Items"]
    assert len(items) == 1
    expires_at = int(items[0][C.DPOP_REPLAY_EXPIRES_AT]["N"])
    # iat + window (300) + leeway (30): as long as the proof could be accepted, and no longer.
    assert time.time() + 300 <= expires_at <= time.time() + 300 + 30 + 2


def test_scheme_is_case_insensitive_and_each_request_needs_its_own_proof(h: Harness) -> None:
    token = h.token()
    assert effect(h.call(token, [h.proof(token)], scheme="dpop")) == "Allow"
    assert effect(h.call(token, [h.proof(token)], scheme="DPOP  ")) == "Allow"


def test_custom_domain_with_a_base_path_is_the_url_the_client_called(h: Harness) -> None:
    # Custom domain api.example.com, base path mapping "v1" → this stage: requestContext.path is
    # "/v1/accounts/42" (no stage), domainName the custom domain.
    token = h.token()
    url = "https://api.example.com/v1/accounts/42"
    answer = h.call(
        token, [h.proof(token, url=url)], domain="api.example.com", context_path="/v1/accounts/42"
    )
    assert effect(answer) == "Allow"
    # The execute-api URL of the same route is another URL: a proof for it does not fit here.
    reason = h.refused(token, [h.proof(token)], domain="api.example.com", context_path="/v1/accounts/42")
    assert reason == "invalid_dpop_proof"


def test_custom_domain_without_base_path_and_stage_url_shapes(h: Harness) -> None:
    token = h.token()
    url = "https://api.example.com/accounts/42"
    answer = h.call(token, [h.proof(token, url=url)], domain="api.example.com", context_path="/accounts/42")
    assert effect(answer) == "Allow"
    # On the execute-api host the stage is part of the path the client called: without it, refused.
    no_stage = f"https://{DOMAIN}/accounts/42"
    assert h.refused(token, [h.proof(token, url=no_stage)]) == "invalid_dpop_proof"


def test_htu_query_fragment_default_port_and_host_case_do_not_matter(h: Harness) -> None:
    token = h.token()
    url = f"https://{DOMAIN.upper()}:443/prod/accounts/42?x=1#f"
    proof = h.client_key.proof("GET", url, token, claims={"htu": url})
    assert effect(h.call(token, [proof])) == "Allow"


def test_optional_mode_accepts_unbound_bearer_tokens_and_dpop(tables: Any) -> None:
    h = Harness(tables, "optional")
    assert effect(h.call(h.token(bound=False), None, scheme="Bearer")) == "Allow"
    token = h.token()
    assert effect(h.call(token, [h.proof(token)])) == "Allow"


# --- refused: the proof -----------------------------------------------------------------------------


def test_replayed_proof_is_refused(h: Harness) -> None:
    token = h.token()
    proof = h.proof(token)
    assert effect(h.call(token, [proof])) == "Allow"
    assert h.refused(token, [proof]) == "dpop_replay"


def test_replay_through_another_container_is_refused(h: Harness, tables: Any) -> None:
    # The table is shared: a second authorizer (another Lambda container) sees the first's record.
    token = h.token()
    proof = h.proof(token)
    assert effect(h.call(token, [proof])) == "Allow"
    other = Harness(tables, "required")
    other.key, other.client_key = h.key, h.client_key
    other.endpoint.documents[JWKS_URL] = jwks(h.key)
    assert other.refused(token, [proof]) == "dpop_replay"


def test_same_jti_from_another_key_is_not_a_replay(h: Harness, tables: Any) -> None:
    token = h.token()
    assert effect(h.call(token, [h.proof(token, jti="same")])) == "Allow"
    h.client_key = DpopKey.generate("ES256")
    token = h.token()
    assert effect(h.call(token, [h.proof(token, jti="same")])) == "Allow"


@pytest.mark.parametrize(
    ("proof_method", "proof_url"),
    [
        ("POST", URL),
        ("get", URL),
        ("GET", f"https://{DOMAIN}/prod/accounts/43"),
        ("GET", f"https://{DOMAIN}/prod/accounts"),
        ("GET", f"http://{DOMAIN}/prod/accounts/42"),
        ("GET", "https://evil.example.com/prod/accounts/42"),
        ("GET", f"https://{DOMAIN}:8443/prod/accounts/42"),
    ],
)
def test_wrong_method_or_url_is_refused(h: Harness, proof_method: str, proof_url: str) -> None:
    token = h.token()
    proof = h.client_key.proof(proof_method, proof_url, token)
    assert h.refused(token, [proof]) == "invalid_dpop_proof"


@pytest.mark.parametrize("offset", [-301 - 5, 31 + 5, -3600])
def test_stale_or_future_iat_is_refused(h: Harness, offset: int) -> None:
    # Window 300 s, leeway 30 s (the issuer's).
    token = h.token()
    assert h.refused(token, [h.proof(token, iat=time.time() + offset)]) == "invalid_dpop_proof"


def test_iat_within_window_and_leeway_is_accepted(h: Harness) -> None:
    token = h.token()
    assert effect(h.call(token, [h.proof(token, iat=time.time() - 290)])) == "Allow"
    assert effect(h.call(token, [h.proof(token, iat=time.time() + 20)])) == "Allow"


def test_window_is_the_issuers_dpop_max_age(tables: Any) -> None:
    h = Harness(tables, "required", dpop_max_age_seconds=60)
    token = h.token()
    assert h.refused(token, [h.proof(token, iat=time.time() - 120)]) == "invalid_dpop_proof"


def test_ath_mismatch_is_refused(h: Harness) -> None:
    token, other = h.token(), h.token(sub="bob")
    assert h.refused(token, [h.proof(other)]) == "invalid_dpop_proof"
    assert h.refused(token, [h.proof(token, claims={"ath": None})]) == "invalid_dpop_proof"
    no_ath = h.client_key.proof("GET", URL, None)
    assert h.refused(token, [no_ath]) == "invalid_dpop_proof"


def test_thumbprint_mismatch_is_refused(h: Harness) -> None:
    # The token is bound to the client's key; a valid proof from another key (a thief's) is refused.
    token = h.token()
    thief = DpopKey.generate("ES256")
    assert h.refused(token, [thief.proof("GET", URL, token)]) == "invalid_dpop_proof"
    assert h.dynamodb.scan(TableName=REPLAY_TABLE)["Count"] == 0


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_proof_signed_with_none_or_hmac_is_refused(h: Harness, alg: str) -> None:
    token = h.token()
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": h.client_key.public_jwk()}
    body = {"jti": "x", "htm": "GET", "htu": URL, "iat": int(time.time())}
    if alg == "none":
        proof = f"{b64json(header)}.{b64json(body)}."
    else:
        proof = jwt.encode(body, "secret-of-at-least-32-bytes-0123456789", algorithm="HS256", headers=header)
    assert h.refused(token, [proof]) == "invalid_dpop_proof"


def test_proof_with_a_private_key_in_its_header_is_refused(h: Harness) -> None:
    token = h.token()
    proof = h.proof(token, header={"jwk": h.client_key.private_jwk()})
    assert h.refused(token, [proof]) == "invalid_dpop_proof"


def test_proof_algorithm_outside_the_issuers_dpop_algorithms_is_refused(tables: Any) -> None:
    h = Harness(tables, "required", dpop_algorithms=["EdDSA"])
    token = h.token()
    assert h.refused(token, [h.proof(token)]) == "invalid_dpop_proof"


def test_proof_of_wrong_type_or_signed_by_another_key_is_refused(h: Harness) -> None:
    token = h.token()
    assert h.refused(token, [h.proof(token, header={"typ": "JWT"})]) == "invalid_dpop_proof"
    other = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    assert h.refused(token, [h.proof(token, header={"jwk": other})]) == "invalid_dpop_proof"


@pytest.mark.parametrize("junk", ["", "a.b", "a.b.c", "x" * 9000, "é.é.é", b64url(b"{}") * 3])
def test_malformed_proof_is_a_401_invalid_dpop_proof(h: Harness, junk: str) -> None:
    token = h.token()
    assert h.refused(token, [junk]) == "invalid_dpop_proof"


HOSTILE_PROOF_CLAIMS: list[dict[str, Any]] = [
    {"htu": "https://[x/"},  # ValueError from urlsplit: was a 500
    {"htu": f"https://[{DOMAIN}/prod/accounts/42"},
    {"htu": "https://[::1]:99999/prod/accounts/42"},
    {"htu": "https://ex\uff03ample.com/prod/accounts/42"},
    {"htu": None},
    {"htu": {"u": URL}},
    {"iat": 10**400},  # OverflowError from isfinite: was a 500
    {"iat": -(10**400)},
    {"iat": "now"},
    {"iat": [1]},
    {"jti": "\ud800"},  # UnicodeEncodeError in the replay key: was a 500
    {"jti": 12},
    {"jti": {"id": "x"}},
    {"htm": ["GET"]},
    {"ath": 7},
]


@pytest.mark.parametrize("thief", [False, True], ids=["client-key", "any-key"])
@pytest.mark.parametrize("change", HOSTILE_PROOF_CLAIMS, ids=[repr(c)[:40] for c in HOSTILE_PROOF_CLAIMS])
def test_a_proof_with_a_hostile_claim_is_a_401_with_its_reason_not_a_500(
    h: Harness, change: dict[str, Any], thief: bool
) -> None:
    # GIVEN a genuine bound token and a signed proof with one hostile claim, signed by the client's
    # key or by any key at all (a captured token is enough to send one)
    token = h.token()
    signer = DpopKey.generate("ES256") if thief else h.client_key
    proof = signer.proof("GET", URL, token, claims=change)
    # WHEN the authorizer checks it THEN 401 (Unauthorized), the audit line says why, nothing recorded
    assert h.refused(token, [proof]) == "invalid_dpop_proof"
    assert h.dynamodb.scan(TableName=REPLAY_TABLE)["Count"] == 0


HOSTILE_PROOF_HEADERS: list[dict[str, Any]] = [
    {"typ": None},
    {"typ": ["dpop+jwt"]},
    {"jwk": None},
    {"jwk": "x"},
    {"jwk": {"kty": ["EC"], "crv": "P-256", "x": "AA", "y": "AA"}},
    {"jwk": {"kty": "OKP", "crv": {"a": 1}, "x": "AA"}},
    {"jwk": {"kty": "EC", "crv": "P-256", "x": 10**400, "y": "\ud800"}},
    {"jwk": {"kty": "RSA", "n": "AQAB", "e": []}},
    {"crit": ["htu"]},
]


@pytest.mark.parametrize("change", HOSTILE_PROOF_HEADERS, ids=[repr(c)[:40] for c in HOSTILE_PROOF_HEADERS])
def test_a_proof_with_a_hostile_header_member_is_a_401_with_its_reason(
    h: Harness, change: dict[str, Any]
) -> None:
    token = h.token()
    assert h.refused(token, [h.proof(token, header=change)]) == "invalid_dpop_proof"


def test_a_proof_replayed_in_its_other_ecdsa_spelling_is_a_replay(h: Harness) -> None:
    # ECDSA's (r, n - s) is a valid signature of the same proof; the replay key is (key, jti), not
    # the signature text, so the re-spelled proof is the same proof: a replay.
    token = h.token()
    proof = h.proof(token)
    p_h, p_p, p_s = proof.split(".")
    raw = b64url_decode(p_s)
    n = ec.SECP256R1().group_order
    respelled = f"{p_h}.{p_p}.{b64url(raw[:32] + (n - int.from_bytes(raw[32:], 'big')).to_bytes(32, 'big'))}"
    assert effect(h.call(token, [proof])) == "Allow"
    assert h.refused(token, [respelled]) == "dpop_replay"


def test_missing_or_two_dpop_headers_are_refused(h: Harness) -> None:
    token = h.token()
    assert h.refused(token, None) == "invalid_dpop_proof"
    assert h.refused(token, [h.proof(token), h.proof(token)]) == "invalid_dpop_proof"
    # Two header names differing in case (single-value headers only) count as two as well.
    event = h.event(token, None)
    event["multiValueHeaders"] = {}
    event["headers"].update({"DPoP": h.proof(token), "dpop": h.proof(token)})
    with pytest.raises(Unauthorized):
        h.authorizer.authorize(event)
    assert h.audit["reason"] == "invalid_dpop_proof"


# --- refused: scheme and binding ----------------------------------------------------------------------


def test_bound_token_as_bearer_is_a_downgrade_in_every_mode(tables: Any) -> None:
    for mode in ("required", "optional", "off"):
        h = Harness(tables, mode)
        assert h.refused(h.token(), None, scheme="Bearer") == "dpop_downgrade"


def test_bound_token_as_bearer_is_refused_even_when_no_issuer_has_dpop(tables: Any) -> None:
    # The Bearer-only hot path (no replay store at all) still refuses a DPoP-bound token.
    key = make_key("RS256", "k1")
    lines: list[str] = []
    auth = build_authorizer(
        issuer_env(),
        emit=lines.append,
        fetch=FakeKeyEndpoint({JWKS_URL: jwks(key)}),
        dynamodb_client=authorizer_client(tables),
        on_jwks_fetch=None,
    )
    assert auth.replay_store is None
    token = sign(key, claims(sub="carol", cnf={"jkt": DpopKey.generate().thumbprint}))
    with pytest.raises(Unauthorized):
        auth.authorize(authorizer_event(authorization=f"Bearer {token}"))
    assert json.loads(lines[-1])["reason"] == "dpop_downgrade"
    # A DPoP scheme where no issuer accepts it says so.
    with pytest.raises(Unauthorized):
        auth.authorize(authorizer_event(authorization=f"DPoP {token}"))
    assert json.loads(lines[-1])["reason"] == "dpop_not_enabled"
    # Another confirmation method (mTLS's x5t#S256) or a malformed cnf cannot be checked: refused.
    for cnf in ({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, "abc"):
        bound = sign(key, claims(sub="carol", cnf=cnf))
        with pytest.raises(Unauthorized):
            auth.authorize(authorizer_event(authorization=f"Bearer {bound}"))
        assert json.loads(lines[-1])["reason"] == "unsupported_binding"


UNSUPPORTED_CNF: list[Any] = [
    {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
    {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},
    {"jkt": None},
    {"jkt": "abc"},
    {},
    None,
    [],
    "abc",
]


@pytest.mark.parametrize("cnf", UNSUPPORTED_CNF, ids=[repr(c)[:30] for c in UNSUPPORTED_CNF])
@pytest.mark.parametrize(
    ("scheme", "mode"),
    # (With every issuer's dpop off the DPoP scheme is refused before the token is looked at.)
    [
        ("Bearer", "off"),
        ("Bearer", "optional"),
        ("Bearer", "required"),
        ("DPoP", "optional"),
        ("DPoP", "required"),
    ],
)
def test_a_token_whose_binding_cannot_be_checked_is_a_401_unsupported_binding(
    tables: Any, cnf: Any, mode: str, scheme: str
) -> None:
    # GIVEN a genuine token of a subject allowed on the route, bound by a cnf the authorizer cannot
    # check (RFC 8705 mTLS, a jwk, a null jkt...), with or without a good DPoP proof
    h = Harness(tables, mode)
    token = h.token(bound=False, cnf=cnf)
    proofs = [h.proof(token)] if scheme == "DPoP" else None
    # WHEN it is presented, twice (a cache must not serve the second)
    # THEN both are 401 with reason unsupported_binding, and no proof id was recorded
    for _ in range(2):
        assert h.refused(token, proofs, scheme=scheme) == "unsupported_binding"
    assert h.dynamodb.scan(TableName=REPLAY_TABLE)["Count"] == 0


def test_a_token_whose_binding_cannot_be_checked_is_refused_on_the_bearer_only_path(tables: Any) -> None:
    # The Bearer-only authorizer (no issuer with DPoP, the repeated-token memo on): refused on every
    # use, so the token never reaches the memo (admitted from a token's second use on).
    key = make_key("RS256", "k1")
    lines: list[str] = []
    auth = build_authorizer(
        issuer_env(),
        emit=lines.append,
        fetch=FakeKeyEndpoint({JWKS_URL: jwks(key)}),
        dynamodb_client=tables,
        on_jwks_fetch=None,
    )
    token = sign(key, claims(sub="carol", cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}))
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.authorize(authorizer_event(authorization=f"Bearer {token}"))
        assert (json.loads(lines[-1])["decision"], json.loads(lines[-1])["reason"]) == (
            "unauthorized",
            "unsupported_binding",
        )
    assert auth._answers == {}
    # control: the same subject's unbound token is allowed
    assert (
        effect(auth.authorize(authorizer_event(authorization=f"Bearer {sign(key, claims(sub='carol'))}")))
        == "Allow"
    )


def test_required_mode_refuses_a_plain_bearer_token(h: Harness) -> None:
    assert h.refused(h.token(bound=False), None, scheme="Bearer") == "dpop_required"


def test_dpop_scheme_for_an_issuer_with_dpop_off_is_refused(tables: Any) -> None:
    # A second issuer has DPoP on, so the replay store exists; this one's tokens are Bearer only.
    second = {
        "issuer": "https://other.example.com/",
        "audiences": ["x"],
        "jwks_uri": "https://other.example.com/jwks.json",
        "dpop": "required",
    }
    h = Harness(tables, "off")
    env = issuer_env(dpop="off")
    env[C.ENV_ISSUERS] = json.dumps([*json.loads(env[C.ENV_ISSUERS]), second])
    env[C.ENV_DPOP_REPLAY_TABLE] = REPLAY_TABLE
    h.authorizer = build_authorizer(
        env,
        emit=h.lines.append,
        fetch=h.endpoint,
        dynamodb_client=authorizer_client(tables),
        on_jwks_fetch=None,
    )
    token = h.token()
    assert h.refused(token, [h.proof(token)]) == "dpop_not_enabled"
    assert effect(h.call(h.token(bound=False), None, scheme="Bearer")) == "Allow"


def test_dpop_scheme_with_an_unbound_token_is_refused(h: Harness) -> None:
    token = h.token(bound=False)
    assert h.refused(token, [h.proof(token)]) == "dpop_unbound_token"


def test_malformed_dpop_authorization_is_refused(h: Harness) -> None:
    token = h.token()
    for value in ("DPoP", f"DPoP{token}", f"DPoP {token} x", f"DPoPx {token}"):
        event = h.event(token, [h.proof(token)])
        event["headers"]["Authorization"] = value
        event["multiValueHeaders"]["Authorization"] = [value]
        with pytest.raises(Unauthorized):
            h.authorizer.authorize(event)
        assert h.audit["reason"] == "malformed_authorization", value


def test_audit_line_never_contains_the_proof(h: Harness) -> None:
    token = h.token()
    proof = h.proof(token)
    h.call(token, [proof])
    with pytest.raises(Unauthorized):
        h.call(token, [proof])
    for line in h.lines:
        assert proof.split(".")[1] not in line and proof.split(".")[2][:20] not in line


# --- faults -----------------------------------------------------------------------------------------


def _failing_put(error: Exception) -> Any:
    def put_item(**kwargs: Any) -> Any:
        raise error

    return put_item


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "PutItem"),
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"}}, "PutItem"),
        ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
)
def test_replay_store_fault_is_a_500_not_a_401(h: Harness, error: Exception, monkeypatch: Any) -> None:
    assert h.authorizer.replay_store is not None
    monkeypatch.setattr(h.authorizer.store.client, "put_item", _failing_put(error))
    token = h.token()
    with pytest.raises(ReplayStoreError) as info:
        h.call(token, [h.proof(token)])
    assert isinstance(info.value, DependencyError)
    assert (h.audit["decision"], h.audit["reason"]) == ("error", "dpop_replay_store_unavailable")


def test_missing_replay_table_fails_closed(h: Harness, tables: Any) -> None:
    tables.delete_table(TableName=REPLAY_TABLE)
    token = h.token()
    with pytest.raises(ReplayStoreError):
        h.call(token, [h.proof(token)])


def test_event_without_domain_name_is_a_wiring_fault(h: Harness) -> None:
    token = h.token()
    event = h.event(token, [h.proof(token)])
    del event["requestContext"]["domainName"]
    with pytest.raises(Exception) as info:
        h.authorizer.authorize(event)
    assert str(info.value) != "Unauthorized"
    assert (h.audit["decision"], h.audit["reason"]) == ("error", "bad_event")


def test_dpop_on_without_a_replay_table_stops_init_naming_the_setting(tables: Any) -> None:
    with pytest.raises(ConfigError) as info:
        build_authorizer(issuer_env(dpop="optional"), emit=print, dynamodb_client=authorizer_client(tables))
    assert info.value.setting == C.ENV_DPOP_REPLAY_TABLE
