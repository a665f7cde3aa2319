"""Fuzz targets: one function per parser, each taking one input and checking that nothing escapes but
the parser's defined errors (and the invariants that must hold when it accepts the input).

The hypothesis tests in this directory drive them, starting from the corpus in ``corpus/``; the
same functions can be driven by atheris for coverage-guided runs (``python -m tests.fuzz.atheris_main``).

Defined errors:

* token path: :class:`AuthenticationError` (``TokenVerifier.verify``, ``bearer_token``), only
  :class:`TokenParseError` from ``peek`` and ``b64url_decode``; through the whole authorizer, only
  ``Unauthorized`` (the keys and the role table are healthy here, so no ``DependencyError``);
* DPoP proofs: only :class:`DpopError` from ``verify_proof`` (naming the member refused); through
  the whole authorizer (a genuine DPoP-bound token, the fuzzed proof), only ``Unauthorized`` with
  reason ``invalid_dpop_proof`` or ``dpop_replay`` (the replay table is healthy here);
* role items: nothing at all (``item_to_python`` on any attribute value DynamoDB can return,
  ``parse_role_item``, ``RoleStore.grants``): bad content becomes ``problems``;
* role file: nothing at all (``load_document``, ``parse_role_file``, ``check_references``);
* Logs Insights: :class:`InsightsError` (syntax or unsupported construct).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm

from edgeauth import constants as C
from edgeauth.adapters.role_store import RoleStore, item_to_python
from edgeauth.authorizer import Authorizer, Unauthorized, bearer_token
from edgeauth.core.dpop import access_token_hash, jwk_thumbprint, normalize_htu, verify_proof
from edgeauth.core.errors import AuthenticationError, DpopError, TokenParseError
from edgeauth.core.jwks import JwksCache
from edgeauth.core.roles import Role, decide, parse_role_item
from edgeauth.core.routes import parse_template
from edgeauth.core.settings import load_settings
from edgeauth.core.tokens import MAX_TOKEN_BYTES, TokenVerifier, b64url_decode, peek
from tests.conftest import issuer_env
from tests.support.dynamo import DictDynamo
from tests.support.events import authorizer_event
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import AUDIENCE, ISSUER, SigningKey, b64json, b64url, jwks, sign

CORPUS = Path(__file__).parent / "corpus"
NOW = 1_900_000_000.0
"""The fuzzers' fixed clock: corpus tokens are issued at ``NOW - 60`` and live an hour."""

# A key for the fuzzers only, derived from a public constant so that corpus tokens stay validly signed
# from one run to the next (claims checks are then fuzzed, not only the signature). Trusted by nothing
# but the verifier built below.
CORPUS_KEY = SigningKey(
    "fuzz-1", "EdDSA", ed25519.Ed25519PrivateKey.from_private_bytes(b"edgeauth-fuzz-corpus-key-32-byte")
)


def corpus(target: str) -> list[str]:
    """The corpus files of one target, as text (sorted by name, so runs are reproducible)."""
    folder = CORPUS / target
    return [
        p.read_text(encoding="utf-8", errors="surrogateescape")
        for p in sorted(folder.iterdir())
        if p.is_file()
    ]


# -- tokens -------------------------------------------------------------------------------------------


@dataclass
class _TokenWorld:
    verifier: TokenVerifier
    authorizer: Authorizer
    lines: list[str]


@cache
def token_world() -> _TokenWorld:
    settings = load_settings(
        issuer_env(
            jwks_uri="https://idp.example.com/jwks.json",
            algorithms=["EdDSA", "RS256", "ES256"],
            groups_claim="groups",
        )
    )
    issuer = settings.issuers[0]
    clock = lambda: NOW  # noqa: E731 - a fixed clock
    endpoint = FakeKeyEndpoint({"https://idp.example.com/jwks.json": jwks(CORPUS_KEY)})
    key_sets = {issuer.issuer: JwksCache(issuer, endpoint, clock=clock)}
    verifier = TokenVerifier(settings.issuer_by_name, key_sets, clock=clock, cache_size=0)
    dynamo = DictDynamo()
    dynamo.put(
        {"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}, "allow": {"L": [{"S": "GET /accounts/{id}"}]}}
    )
    dynamo.put({"pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": "alice"}, "roles": {"L": [{"S": "reader"}]}})
    store = RoleStore(settings.role_table, dynamo, cache_ttl=0, clock=clock)  # type: ignore[arg-type]
    lines: list[str] = []
    return _TokenWorld(verifier, Authorizer(settings, verifier, store, emit=lines.append, clock=clock), lines)


def check_b64url(part: str) -> None:
    try:
        raw = b64url_decode(part)
    except TokenParseError:
        return
    # Accepted: exactly the unpadded base64url alphabet, and the same bytes as the standard decoder.
    assert part.isascii() and len(part) % 4 != 1
    assert all(c.isalnum() or c in "-_" for c in part), part
    assert raw == base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_token(text: str) -> None:
    """``verify``, ``peek``, ``b64url_decode``, ``bearer_token`` and the authorizer on one token."""
    world = token_world()
    try:
        verified, _ = world.verifier.verify(text)
    except AuthenticationError:
        pass
    else:
        # Accepted: only a token signed by the trusted key, with claims that pass every rule.
        header, claims = peek(text)
        assert header.get("alg") == "EdDSA" and verified.key.kid == CORPUS_KEY.kid
        assert claims["iss"] == ISSUER and verified.issuer.issuer == ISSUER
        aud = claims["aud"]
        assert aud == AUDIENCE or (isinstance(aud, list) and AUDIENCE in aud)
        assert isinstance(verified.sub, str) and 0 < len(verified.sub) <= 1024
        assert math.isfinite(verified.exp) and verified.exp + 30 >= NOW
        assert "crit" not in header and "zip" not in header
        assert len(text) <= MAX_TOKEN_BYTES
    with contextlib.suppress(TokenParseError):
        peek(text)
    for part in text.split(".")[:4]:
        check_b64url(part)
    for value in (f"Bearer {text}", text, f"bearer  {text}"):
        try:
            got = bearer_token([value])
        except AuthenticationError:
            continue
        assert got and got.split() == [got] and value.endswith(got)
    answer: dict[str, Any] | None = None
    with contextlib.suppress(Unauthorized):
        answer = world.authorizer.authorize(authorizer_event(authorization=f"Bearer {text}"))
    if answer is not None:
        # Allowed only for a verified token of alice (reader) on GET /accounts/{id}.
        assert answer["principalId"], answer
        effect = answer["policyDocument"]["Statement"][0]["Effect"]
        assert effect in ("Allow", "Deny")
        if effect == "Allow":
            assert answer["context"]["sub"] == "alice"
    assert world.lines, "no audit line"
    line = json.loads(world.lines.pop())
    world.lines.clear()
    if len(text) >= 40 and text.count(".") == 2:
        assert text not in json.dumps(line), "the token leaked into the audit line"


# -- DPoP proofs --------------------------------------------------------------------------------------

#: The client's DPoP key of the fuzzers (P-256, derived from a public constant like CORPUS_KEY), so
#: that corpus proofs verify on every run; the corpus token is bound to it.
CORPUS_DPOP_KEY = ec.derive_private_key(
    int.from_bytes(b"edgeauth-fuzz-dpop-proof-key-32b", "big"), ec.SECP256R1()
)
CORPUS_DPOP_JWK: dict[str, Any] = ECAlgorithm.to_jwk(CORPUS_DPOP_KEY.public_key(), as_dict=True)
DPOP_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
DPOP_URL = f"https://{DPOP_DOMAIN}/prod/accounts/42"  # what authorizer_event's requestContext names
DPOP_ALGORITHMS = frozenset({"ES256", "RS256", "PS256", "EdDSA"})
DPOP_MAX_AGE, DPOP_LEEWAY = 300, 30
#: The access token the fuzzed proofs go with: alice's, bound to CORPUS_DPOP_KEY (EdDSA: the same
#: text on every run, so the corpus proofs' ``ath`` stays right).
DPOP_TOKEN = sign(
    CORPUS_KEY,
    {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 3600,
        "jti": "dpop-seed",
        "cnf": {"jkt": jwk_thumbprint(CORPUS_DPOP_JWK)},
    },
)


def sign_proof(header: Any, claims: Any, key: Any = CORPUS_DPOP_KEY) -> str:
    """A proof of exactly this header and claims (any JSON values), ES256-signed by ``key`` with
    RFC 6979 nonces, so the same inputs give the same proof on every run."""
    h, p = b64json(header), b64url(json.dumps(claims).encode())
    der = key.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return f"{h}.{p}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def good_proof_parts() -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a proof that passes every check for :data:`DPOP_TOKEN`."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dict(CORPUS_DPOP_JWK)}
    claims = {
        "jti": "seed-proof",
        "htm": "GET",
        "htu": DPOP_URL,
        "iat": int(NOW) - 5,
        "ath": access_token_hash(DPOP_TOKEN),
    }
    return header, claims


class MemoryReplayStore:
    """The DPoP replay table in a dict (healthy: never a DependencyError)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def first_use(self, key: str, expires_at: float) -> bool:
        if key in self.seen:
            return False
        self.seen[key] = expires_at
        return True


@dataclass
class _DpopWorld:
    authorizer: Authorizer
    lines: list[str]


@cache
def dpop_world() -> _DpopWorld:
    env = issuer_env(
        jwks_uri="https://idp.example.com/jwks.json",
        algorithms=["EdDSA"],
        dpop="required",
        dpop_algorithms=sorted(DPOP_ALGORITHMS),
        dpop_max_age_seconds=DPOP_MAX_AGE,
    )
    env[C.ENV_DPOP_REPLAY_TABLE] = "replay"
    settings = load_settings(env)
    issuer = settings.issuers[0]
    clock = lambda: NOW  # noqa: E731 - a fixed clock
    endpoint = FakeKeyEndpoint({"https://idp.example.com/jwks.json": jwks(CORPUS_KEY)})
    verifier = TokenVerifier(
        settings.issuer_by_name, {issuer.issuer: JwksCache(issuer, endpoint, clock=clock)}, clock=clock
    )
    dynamodb = DictDynamo()
    dynamodb.put(
        {"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}, "allow": {"L": [{"S": "GET /accounts/{id}"}]}}
    )
    dynamodb.put({"pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": "alice"}, "roles": {"L": [{"S": "reader"}]}})
    store = RoleStore(settings.role_table, dynamodb, cache_ttl=0, clock=clock)  # type: ignore[arg-type]
    lines: list[str] = []
    authorizer = Authorizer(
        settings, verifier, store, emit=lines.append, clock=clock, replay_store=MemoryReplayStore()
    )
    return _DpopWorld(authorizer, lines)


def check_dpop_proof(text: str) -> None:
    """``verify_proof`` and the whole authorizer on one proof (with the genuine bound token)."""
    try:
        proof = verify_proof(
            text,
            method="GET",
            url=DPOP_URL,
            access_token=DPOP_TOKEN,
            algorithms=DPOP_ALGORITHMS,
            now=NOW,
            max_age_seconds=DPOP_MAX_AGE,
            leeway_seconds=DPOP_LEEWAY,
        )
    except DpopError as e:
        assert e.reason == "invalid_dpop_proof" and isinstance(e.member, str), e
        accepted = None
    else:
        # Accepted: a compact JWS of type dpop+jwt, signed by the key in its header, for this
        # request and this token, issued within the window.
        header, claims = peek(text)
        assert header["typ"] == "dpop+jwt" and header["alg"] in DPOP_ALGORITHMS and "crit" not in header
        assert proof.jkt == jwk_thumbprint(header["jwk"])
        assert proof.jti == claims["jti"] and 0 < len(proof.jti) <= 256
        assert NOW - DPOP_MAX_AGE <= proof.iat <= NOW + DPOP_LEEWAY
        assert claims["htm"] == "GET" and normalize_htu(claims["htu"]) == normalize_htu(DPOP_URL)
        assert claims["ath"] == access_token_hash(DPOP_TOKEN)
        assert len(proof.replay_key()) == 64
        accepted = proof
    world = dpop_world()
    event = authorizer_event(authorization=f"DPoP {DPOP_TOKEN}", headers={"DPoP": text})
    event["requestContext"]["domainName"] = DPOP_DOMAIN
    answer: dict[str, Any] | None = None
    with contextlib.suppress(Unauthorized):
        answer = world.authorizer.authorize(event)
    assert world.lines, "no audit line"
    line = json.loads(world.lines.pop())
    world.lines.clear()
    if answer is not None:
        # Allowed only for a proof that verifies, made with the key the token is bound to.
        assert accepted is not None and accepted.jkt == jwk_thumbprint(CORPUS_DPOP_JWK), text
        assert line["decision"] == "allow" and answer["context"]["sub"] == "alice"
    else:
        assert line["decision"] == "unauthorized", line
        assert line["reason"] in {"invalid_dpop_proof", "dpop_replay"}, line
    signature = text.rsplit(".", maxsplit=1)[-1]
    if len(signature) >= 16:
        assert signature not in json.dumps(line), "the proof leaked into the audit line"


# -- role items ---------------------------------------------------------------------------------------


def check_role_item(name: str, av_item: Mapping[str, Any]) -> Role:
    """One role item as DynamoDB returns it: converted, parsed, then used for a decision."""
    item = item_to_python(av_item)
    role = parse_role_item(name, item)
    assert isinstance(role.problems, tuple)
    if role.deny_all:
        assert role.problems, "a malformed deny list must be reported"
    extra = set(item) - {
        "pk",
        "sk",
        "allow",
        "deny",
        "inherit",
        "disabled",
        "description",
        "version",
        "updated_by",
        "updated_at",
    }
    if extra:
        assert not role.grants, "an unknown attribute must make the role grant nothing"
    # Through the role store: the subject holds this role only; nothing escapes, and the decision
    # is never an allow unless the role is well formed, enabled and has an allow that covers.
    dynamo = DictDynamo()
    dynamo.put({**dict(av_item), "pk": {"S": f"ROLE#{name}"}, "sk": {"S": "ROLE"}})
    dynamo.put({"pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": "s"}, "roles": {"L": [{"S": name}]}})
    store = RoleStore("t", dynamo, cache_ttl=0)  # type: ignore[arg-type]
    grants, _ = store.grants(ISSUER, "s")
    for method, resource in (("GET", "/accounts/{id}"), ("DELETE", "/{proxy+}"), ("GET", "/")):
        decision = decide(method, parse_template(resource), grants.effective)
        if decision.allowed:
            assert (
                role.grants
                and not role.deny_all
                and decision.rule
                and decision.rule.startswith(f"{name}:allow:")
            )
    return role


def check_subject_item(av_item: Mapping[str, Any]) -> None:
    """A subject item of any shape: never raises, never grants a role it does not name as a string,
    and a ``not_before`` that is not a number revokes (fail closed)."""
    dynamo = DictDynamo()
    dynamo.put({**dict(av_item), "pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": "s"}})
    dynamo.put({"pk": {"S": "ROLE#r"}, "sk": {"S": "ROLE"}, "allow": {"L": [{"S": "* /{proxy+}"}]}})
    grants, _ = RoleStore("t", dynamo, cache_ttl=0).grants(ISSUER, "s")  # type: ignore[arg-type]
    item = item_to_python(av_item)
    roles = item.get("roles")
    if grants.effective.granting:
        assert isinstance(roles, list | set) and "r" in roles
    if "not_before" in item:
        nb = item["not_before"]
        if not isinstance(nb, int | float) or isinstance(nb, bool):
            assert grants.not_before == math.inf


# -- role file ----------------------------------------------------------------------------------------


def check_role_file(text: str, source: str = "roles.yaml") -> None:
    from edgeauth_cli.rolefile import check_references, dump, load_document, parse_role_file

    data, locate, problems = load_document(text, source)
    for p in problems:
        assert str(p).startswith(source)
    if data is None and problems:
        return
    rolefile = parse_role_file(data, locate)
    refs = check_references(rolefile, {"reader": ()}, locate)
    for p in [*rolefile.problems, *refs]:
        assert str(p).startswith(source), str(p)
    if problems or rolefile.problems:
        return
    # A file without problems survives export → apply unchanged, in both formats.
    exported = rolefile.to_data()
    for fmt, name in (("yaml", "export.yaml"), ("json", "export.json")):
        again_data, again_locate, again_problems = load_document(dump(exported, fmt), name)
        assert again_problems == [], again_problems
        again = parse_role_file(again_data, again_locate)
        assert again.problems == [] and again.to_data() == exported


# -- Logs Insights --------------------------------------------------------------------------------------


def check_insights(query: str, messages: list[str]) -> None:
    from edgeauth_local.insights import MAX_ROWS, InsightsError, LogRecord, run_query

    records = [LogRecord(1_700_000_000_000 + i * 1000, m, "stream", "group") for i, m in enumerate(messages)]
    try:
        outcome = run_query(query, records)
    except InsightsError:
        return
    assert len(outcome.rows) <= MAX_ROWS
    assert outcome.records_scanned == len(records)
    for row in outcome.rows:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in row.items()), row
