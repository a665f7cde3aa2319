"""Scenarios 3 and 4: our authorizer, ``Authorizer.authorize`` end to end.

New token: every call presents a token not seen before (signed before timing), so the signature is
checked every time; the issuer's JWKS and the principal's roles are warm, as in a warm container.
Repeated token: the same token on every call (the verified-token cache answers).
Both include the event parsing, the RBAC decision, the policy and the audit line with its EMF
metrics, written to ``/dev/null``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.common import Batch
from bench.world import World, event_for
from edgeauth.authorizer import Authorizer


def check_allows(answer: dict[str, Any]) -> None:
    effect = answer["policyDocument"]["Statement"][0]["Effect"]
    if effect != "Allow":
        raise AssertionError(f"the benchmarked request must be allowed, got {effect}")


def new_token_batch(auth: Authorizer, events: Iterator[dict[str, Any]]) -> Batch:
    def run(n: int) -> None:
        nxt = events.__next__
        authorize = auth.authorize
        for _ in range(n):
            authorize(nxt())

    return run


def repeated_token_batch(auth: Authorizer, world: World) -> Batch:
    event = event_for(world.repeat_token)
    check_allows(auth.authorize(event))

    def run(n: int) -> None:
        authorize = auth.authorize
        for _ in range(n):
            authorize(event)

    return run


def warm(auth: Authorizer, world: World) -> None:
    """JWKS fetched and roles read before timing; the first answer must be an Allow."""
    check_allows(auth.authorize(event_for(world.repeat_token)))
