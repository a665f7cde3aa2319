"""What ``edgeauth explain --token`` shows of a token's claims: each of its issuer's checks on its
own, and the verdict. Not on the request path (imported by the CLI only), so a cold start does not
compile it.

Every check is the verifier's own function (:func:`edgeauth.core.tokens.check_claims` calls the
same ones), so this report cannot drift from what the authorizer does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, cast

from edgeauth.core.errors import AuthenticationError, TokenSignatureError
from edgeauth.core.jwks import KeyEntry
from edgeauth.core.settings import IssuerSettings
from edgeauth.core.tokens import (
    check_audience,
    check_claim_value,
    check_claims,
    check_scopes,
    check_token_type,
    client_of,
    group_keys,
)


class CheckOutcome(NamedTuple):
    """One check of :func:`claim_report`: ``passed`` False carries the refusal's reason and detail."""

    check: str
    passed: bool
    detail: str = ""


def claim_report(
    issuer: IssuerSettings, header: Mapping[str, Any], claims: dict[str, Any], now: float
) -> tuple[list[CheckOutcome], AuthenticationError | None]:
    """Each of the issuer's own checks (the ones a preset or the issuer's settings add to
    generic's) evaluated on its own, and the verdict: the first refusal of all claim checks in the
    verifier's order (``None``: accepted). The signature is NOT checked."""
    outcomes: list[CheckOutcome] = []

    def run(name: str, check: Callable[[], object]) -> None:
        try:
            check()
        except AuthenticationError as e:
            outcomes.append(CheckOutcome(name, False, f"{e.reason}: {e.detail}"))
        else:
            outcomes.append(CheckOutcome(name, True))

    def alg() -> None:
        if header.get("alg") not in issuer.algorithms:
            raise TokenSignatureError(
                "alg_not_allowed", f"alg: expected one of {', '.join(sorted(issuer.algorithms))}"
            )

    run("alg", alg)
    if issuer.token_type is not None:
        run(f"typ header is {issuer.token_type}", lambda: check_token_type(issuer, header))
    for c in issuer.claim_checks:
        allowed = "present" if c.allowed is None else "one of " + ", ".join(sorted(c.allowed))
        run(f"{c.path.text} {allowed} ({c.origin})", functools.partial(check_claim_value, c, claims))
    if issuer.audiences:
        run("aud is an accepted audience", lambda: check_audience(issuer, claims))
    if issuer.client_claim:
        within = " in client_ids" if issuer.client_ids else ""
        run(f"client ({issuer.client_claim}){within}", lambda: client_of(issuer, claims))
    if issuer.required_scopes:
        run("required scopes", lambda: check_scopes(issuer, claims))
    if issuer.groups_claims or issuer.mapped_claims:
        run("groups and mapped claims", lambda: group_keys(issuer, claims))
    verdict: AuthenticationError | None = None
    try:
        check_claims(issuer, claims, now, header.get("kid"), cast(KeyEntry, None))
    except AuthenticationError as e:
        verdict = e
    return outcomes, verdict
