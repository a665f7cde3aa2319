"""The repeated-token path answers exactly what a full check would, and nothing it would refuse.

GIVEN a token already answered on a route (twice: the memo admits a token from its second use), WHEN
it comes again, THEN the authorizer answers from its memo (keyed by the end of the Authorization
value and the route) only while the verification and
the principal's grants still hold, and writes a complete audit line for the new request. Values
that share the memo key but differ (another scheme spelling, a forged token ending like a real
one) go the full way.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from edgeauth.authorizer import MEMO_KEY_CHARS, Unauthorized
from edgeauth.bootstrap import build_authorizer
from edgeauth.core.tokens import b64url_decode
from tests.conftest import issuer_env, put_item, put_role
from tests.support.dynamo_server import authorizer_client
from tests.support.events import authorizer_event
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import ISSUER, b64url, claims, jwks, make_key, sign

JWKS_URL = "https://idp.example.com/jwks.json"


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    """The role table on moto's server: the authorizer reads it with its own client, over HTTP."""
    return dynamodb_server


class Harness:
    def __init__(self, dynamodb: Any) -> None:
        self.key = make_key("RS256", "k1")
        self.endpoint = FakeKeyEndpoint({JWKS_URL: jwks(self.key)})
        self.lines: list[str] = []
        self.authorizer = build_authorizer(
            issuer_env(),
            emit=self.lines.append,
            fetch=self.endpoint,
            dynamodb_client=authorizer_client(dynamodb),
            on_jwks_fetch=None,
        )

    def call(self, authorization: str, **event: Any) -> dict[str, Any]:
        return self.authorizer.authorize(authorizer_event(authorization=authorization, **event))

    def remember(self, token: str) -> dict[str, Any]:
        """Call twice: the memo admits a token from its second use on."""
        self.call(f"Bearer {token}")
        answer = self.call(f"Bearer {token}")
        assert self.authorizer._answers, "the token was not remembered"
        return answer

    @property
    def audit(self) -> dict[str, Any]:
        return json.loads(self.lines[-1])  # type: ignore[no-any-return]


@pytest.fixture
def h(dynamodb: Any) -> Harness:
    put_role(dynamodb, "reader", allow=["GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    return Harness(dynamodb)


def effect(answer: dict[str, Any]) -> str:
    return str(answer["policyDocument"]["Statement"][0]["Effect"])


def test_a_repeated_token_gets_the_same_answer_and_a_line_of_its_own(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol", jti="j-1"))
    first = h.remember(token)
    first_line = h.audit
    second = h.call(f"Bearer {token}", path="/accounts/7")
    assert second == first and effect(second) == "Allow"
    line = h.audit
    assert line["path"] == "/accounts/7" and first_line["path"] == "/accounts/42"
    assert line["RoleCacheHit"] == 1
    for field in ("decision", "reason", "rule", "iss", "sub", "kid", "jti", "roles", "method", "resource"):
        assert line[field] == first_line[field], field
    assert line["jti"] == "j-1"


def test_a_remembered_answer_cannot_be_changed_by_a_caller(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    first = h.remember(token)
    with pytest.raises(TypeError):
        first["policyDocument"]["Statement"][0]["Effect"] = "Allow-everything"
    with pytest.raises(TypeError):
        first["context"]["roles"] = "admin"
    second = h.call(f"Bearer {token}")
    assert effect(second) == "Allow" and second["context"]["roles"] == "reader"


def test_a_forged_token_ending_like_a_remembered_one_is_refused(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    h.remember(token)
    head, _, signature = token.split(".")
    forged_payload = sign(h.key, claims(sub="mallory")).split(".")[1]
    forged = f"{head}.{forged_payload}.{signature}"  # carol's signature: same end, other claims
    assert forged[-MEMO_KEY_CHARS:] == token[-MEMO_KEY_CHARS:]
    with pytest.raises(Unauthorized):
        h.call(f"Bearer {forged}")
    assert h.audit["reason"] == "bad_signature"
    # ... and the real token still gets its own answer afterwards.
    assert effect(h.call(f"Bearer {token}")) == "Allow"


def test_another_spelling_of_the_same_value_goes_the_full_way(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    h.remember(token)
    assert effect(h.call(f"bearer {token}")) == "Allow"  # same token: accepted, same key end
    with pytest.raises(Unauthorized):
        h.call(f"Bearer  {token} x")
    assert h.audit["reason"] == "malformed_authorization"


def test_a_second_authorization_header_is_refused_even_for_a_remembered_token(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    h.remember(token)
    event = authorizer_event(authorization=f"Bearer {token}")
    event["multiValueHeaders"]["authorization"] = [f"Bearer {token}"]
    with pytest.raises(Unauthorized):
        h.authorizer.authorize(event)
    assert h.audit["reason"] == "multiple_authorization"


def test_an_expired_token_is_refused_although_its_answer_was_remembered(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    h.remember(token)
    verifier = h.authorizer.verifier
    later = verifier._clock() + 3600
    verifier._clock = lambda: later
    with pytest.raises(Unauthorized):
        h.call(f"Bearer {token}")
    assert h.audit["reason"] == "expired"


def test_a_role_change_takes_effect_once_the_role_cache_is_refreshed(h: Harness, dynamodb: Any) -> None:
    token = sign(h.key, claims(sub="carol"))
    assert effect(h.remember(token)) == "Allow"
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=[])
    h.authorizer.store.invalidate()  # what the role-events flush and the TTL do
    assert effect(h.call(f"Bearer {token}")) == "Deny"
    assert h.audit["reason"] == "no_roles"


def test_a_revocation_refuses_a_remembered_token(h: Harness, dynamodb: Any) -> None:
    token = sign(h.key, claims(sub="carol", iat=int(time.time()) - 10))
    assert effect(h.remember(token)) == "Allow"
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"], not_before=int(time.time()))
    h.authorizer.store.invalidate()
    with pytest.raises(Unauthorized):
        h.call(f"Bearer {token}")
    assert h.audit["reason"] == "revoked"


def test_a_withdrawn_key_ends_remembered_answers(h: Harness) -> None:
    token = sign(h.key, claims(sub="carol"))
    assert effect(h.remember(token)) == "Allow"
    other = make_key("RS256", "k2")
    h.endpoint.documents[JWKS_URL] = jwks(other)
    keys = h.authorizer.verifier._key_sets[ISSUER]
    # The set is due for a refresh, and the fetch cooldown is over.
    keys._fetched_at -= keys.issuer.jwks_max_age_seconds + 1
    keys._last_attempt = None
    with pytest.raises(Unauthorized):
        h.call(f"Bearer {token}")
    assert h.audit["reason"] in {"unknown_kid", "bad_signature"}


def test_a_new_token_of_a_known_principal_gets_its_own_token_fields(h: Harness) -> None:
    a = sign(h.key, claims(sub="carol", jti="j-a"))
    b = sign(h.key, claims(sub="carol", jti="j-b"))
    answer_a = h.call(f"Bearer {a}")
    assert h.audit["jti"] == "j-a"
    answer_b = h.call(f"Bearer {b}")
    assert h.audit["jti"] == "j-b" and answer_a == answer_b


def test_a_token_used_once_is_not_remembered(h: Harness) -> None:
    h.call(f"Bearer {sign(h.key, claims(sub='carol'))}")
    assert not h.authorizer._answers


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_alternating_ecdsa_spellings_of_a_token_cost_one_signature_check(
    dynamodb: Any, alg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an ES* token and its other valid spelling (r, n - s), which anyone holding it can write
    put_role(dynamodb, "reader", allow=["GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    key = make_key(alg, "ec")
    authorizer = build_authorizer(
        issuer_env(algorithms=[alg]),
        emit=[].append,
        fetch=FakeKeyEndpoint({JWKS_URL: jwks(key)}),
        dynamodb_client=dynamodb,
        on_jwks_fetch=None,
    )
    token = sign(key, claims(sub="carol"))
    h, p, s = token.split(".")
    raw = b64url_decode(s)
    size = len(raw) // 2
    n = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg].group_order
    other = f"{h}.{p}.{b64url(raw[:size] + (n - int.from_bytes(raw[size:], 'big')).to_bytes(size, 'big'))}"
    checks: list[str] = []
    real_verify = authorizer.verifier._verify
    monkeypatch.setattr(authorizer.verifier, "_verify", lambda *a: checks.append(a[2]) or real_verify(*a))
    # WHEN they alternate on the route
    answers = [
        authorizer.authorize(authorizer_event(authorization=f"Bearer {(token, other)[i % 2]}"))
        for i in range(10)
    ]
    # THEN every answer is the Allow, and only the first request checked a signature; from their
    # second use on, both spellings are answered from the memo (one entry each)
    assert {effect(a) for a in answers} == {"Allow"}
    assert len(checks) == 1
    assert len(authorizer._answers) == 2
