"""Fuzzing of the parsers that read untrusted or hand-written input (issue 7, part 3; DPoP proofs:
issue 17).

Each target is run on (1) every file of its corpus under ``tests/fuzz/corpus/<target>/``, (2)
mutations of the corpus, (3) structure-aware generated inputs, (4) raw random text. The checks, and
the errors each target may raise, are in :mod:`tests.fuzz.harness`. Example counts follow
:mod:`tests.support.budget` (quick with ``CI=true`` or ``FUZZ_QUICK=1``; ``FUZZ_SCALE=N`` for a soak).

A failing input is printed by hypothesis; save it as ``corpus/<target>/found-<what>`` so it is
replayed on every run from then on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as S
from tests.fuzz.harness import (
    CORPUS,
    CORPUS_KEY,
    DPOP_ALGORITHMS,
    DPOP_MAX_AGE,
    DPOP_TOKEN,
    DPOP_URL,
    NOW,
    check_dpop_proof,
    check_insights,
    check_role_file,
    check_role_item,
    check_subject_item,
    check_token,
    corpus,
    good_proof_parts,
    sign_proof,
)
from tests.support.budget import budget
from tests.support.tokens import AUDIENCE, ISSUER, b64json, b64url


def _files(target: str) -> list[str]:
    return sorted(p.name for p in (CORPUS / target).iterdir() if p.is_file())


TOKENS = corpus("token")
PROOFS = corpus("dpop")
ROLE_FILES = corpus("rolefile")
QUERIES = corpus("insights")


# -- token parser -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _files("token"))
def test_token_corpus(name: str) -> None:
    check_token((CORPUS / "token" / name).read_text(encoding="utf-8", errors="surrogateescape"))


def test_the_token_corpus_still_holds_a_token_that_verifies() -> None:
    # Otherwise the mutations below would only ever exercise refusals.
    from tests.fuzz.harness import token_world

    verified, _ = token_world().verifier.verify((CORPUS / "token" / "seed-valid.jwt").read_text())
    assert verified.sub == "alice"


@budget(150)
@given(S.mutated(TOKENS, S.B64 + "."))
def test_token_mutations_of_the_corpus(text: str) -> None:
    check_token(text)


@budget(150)
@given(S.mutated(TOKENS))
def test_token_mutations_with_noise(text: str) -> None:
    check_token(text)


@budget(150)
@given(
    header=st.fixed_dictionaries(
        {"alg": st.sampled_from(("EdDSA", "EdDSA", "none", "HS256", "RS256", "ES256", "eddsa"))},
        optional={
            "kid": st.one_of(st.just(CORPUS_KEY.kid), S.json_scalars),
            "typ": S.json_scalars,
            "crit": S.json_values,
            "zip": S.json_scalars,
            "jwk": S.json_values,
            "b64": st.booleans(),
        },
    ),
    claims=st.fixed_dictionaries(
        {},
        optional={
            "iss": st.one_of(st.just(ISSUER), S.json_scalars),
            "aud": st.one_of(st.just(AUDIENCE), st.just([AUDIENCE, "x"]), S.json_values),
            "sub": st.one_of(st.just("alice"), S.json_values),
            "exp": st.one_of(st.just(int(NOW) + 60), st.floats(allow_nan=False), S.json_values),
            "iat": st.one_of(st.just(int(NOW) - 60), S.json_values),
            "nbf": st.one_of(st.just(int(NOW)), S.json_values),
            "groups": S.json_values,
            "client_id": S.json_values,
            "jti": S.json_values,
        },
    ),
)
def test_validly_signed_tokens_with_arbitrary_header_and_claims(
    header: dict[str, Any], claims: dict[str, Any]
) -> None:
    """The signature verifies (the fuzzers' key signs whatever was generated), so what is fuzzed is
    every header and claim check behind it."""
    from jwt.algorithms import get_default_algorithms

    h, p = b64json(header), b64url(json.dumps(claims).encode())
    sig = get_default_algorithms()["EdDSA"].sign(f"{h}.{p}".encode(), CORPUS_KEY.private)
    check_token(f"{h}.{p}.{b64url(sig)}")


@budget(150)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(st.text(alphabet=S.B64 + "=+/ ", max_size=60), min_size=1, max_size=5).map(".".join),
    )
)
def test_token_random_text(text: str) -> None:
    check_token(text)


# -- DPoP proof parser --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _files("dpop"))
def test_dpop_corpus(name: str) -> None:
    check_dpop_proof((CORPUS / "dpop" / name).read_text(encoding="utf-8", errors="surrogateescape"))


def test_the_dpop_corpus_still_holds_a_proof_that_verifies() -> None:
    # Otherwise the mutations below would only ever exercise refusals (e.g. once NOW or the
    # token's text changed: regenerate with ``python -m tests.fuzz.make_corpus``).
    from edgeauth.core.dpop import verify_proof

    proof = verify_proof(
        (CORPUS / "dpop" / "seed-valid.jwt").read_text(),
        method="GET",
        url=DPOP_URL,
        access_token=DPOP_TOKEN,
        algorithms=DPOP_ALGORITHMS,
        now=NOW,
        max_age_seconds=DPOP_MAX_AGE,
        leeway_seconds=30,
    )
    assert proof.jti == "seed-proof"


@budget(150)
@given(S.mutated(PROOFS, S.B64 + "."))
def test_dpop_mutations_of_the_corpus(text: str) -> None:
    check_dpop_proof(text)


@budget(100)
@given(S.mutated(PROOFS))
def test_dpop_mutations_with_noise(text: str) -> None:
    check_dpop_proof(text)


@budget(300)
@given(S.dpop_proof_parts(*good_proof_parts()))
def test_validly_signed_proofs_with_hostile_header_members_and_claims(parts: tuple[Any, Any]) -> None:
    """Every header member (``typ``, ``alg``, ``jwk`` and each of its members, ``crit``...) and claim
    (``jti``, ``htm``, ``htu``, ``iat``, ``ath``, ``nonce``) kept, dropped or hostile: huge numbers,
    NaN, lone surrogates, wrong types, nested objects, unparsable URLs. The client's key signs
    whatever was generated, so every check behind the signature is reached."""
    check_dpop_proof(sign_proof(*parts))


@budget(100)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(st.text(alphabet=S.B64 + "=+/ ", max_size=60), min_size=1, max_size=5).map(".".join),
    )
)
def test_dpop_random_text(text: str) -> None:
    check_dpop_proof(text)


# -- role item parser ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _files("role_item"))
def test_role_item_corpus(name: str) -> None:
    item = json.loads((CORPUS / "role_item" / name).read_text(encoding="utf-8", errors="surrogateescape"))
    check_role_item("r", item)
    check_subject_item(
        {"roles": item.get("allow", {"NULL": True}), "not_before": item.get("disabled", {"N": "1"})}
    )


@budget(300)
@given(S.role_names, S.role_items)
def test_role_items_of_any_shape_never_escape_and_never_widen(name: str, item: dict[str, Any]) -> None:
    check_role_item(name, item)


@budget(200)
@given(S.subject_items)
def test_subject_items_of_any_shape_never_escape_and_fail_closed(item: dict[str, Any]) -> None:
    check_subject_item(item)


# -- the CLI's role file loader -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _files("rolefile"))
def test_role_file_corpus(name: str) -> None:
    check_role_file((CORPUS / "rolefile" / name).read_text(encoding="utf-8", errors="surrogateescape"), name)


@budget(150)
@given(S.role_documents, st.booleans())
def test_generated_role_documents(doc: Any, as_json: bool) -> None:
    check_role_file(S.as_json(doc) if as_json else S.as_yaml(doc), "roles.json" if as_json else "roles.yaml")


@budget(150)
@given(S.mutated(ROLE_FILES, ":-[]{}&*!|>'\"#\t\n ,?%@`abc"))
def test_role_file_mutations_of_the_corpus(text: str) -> None:
    check_role_file(text)


@budget(100)
@given(st.text(max_size=200))
def test_role_file_random_text(text: str) -> None:
    check_role_file(text)


# -- Logs Insights evaluator ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _files("insights"))
def test_insights_corpus(name: str) -> None:
    check_insights(
        (CORPUS / "insights" / name).read_text(encoding="utf-8", errors="surrogateescape"),
        ['{"decision": "allow", "sub": "alice", "latency_ms": 3}', "plain"],
    )


@budget(150)
@given(S.insights_queries(), st.lists(S.log_messages, max_size=6))
def test_generated_insights_queries(query: str, messages: list[str]) -> None:
    check_insights(query, messages)


@budget(150)
@given(
    S.mutated(QUERIES, "|()[]\"'/\\*,.=<>!~`#@ \nabcdefin0123456789"), st.lists(S.log_messages, max_size=4)
)
def test_insights_mutations_of_the_corpus(query: str, messages: list[str]) -> None:
    check_insights(query, messages)


@budget(100)
@given(st.text(max_size=120), st.lists(S.log_messages, max_size=3))
def test_insights_random_text(query: str, messages: list[str]) -> None:
    check_insights(query, messages)
