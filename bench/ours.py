"""Scenarios 3 and 4: our authorizer, ``Authorizer.authorize`` end to end.

New token: every call presents a token not seen before (signed before timing), so the signature is
checked every time; the issuer's JWKS and the principal's roles are warm, as in a warm container.
Repeated token: the same token on every call, each in a new event (new request id, freshly parsed):
the repeated-token answer memo answers. Both are run by ``bench.__main__`` as
:class:`bench.common.Fresh` cases of ``Authorizer.authorize``.
Both include reading the event, the RBAC decision, the policy and the audit line with its EMF
metrics, written as the handler writes it to Lambda's stdout (:class:`bench.world.NullSink`).
"""

from __future__ import annotations

from typing import Any

from bench.world import World, event_for
from edgeauth.authorizer import Authorizer


def check_allows(answer: dict[str, Any]) -> None:
    effect = answer["policyDocument"]["Statement"][0]["Effect"]
    if effect != "Allow":
        raise AssertionError(f"the benchmarked request must be allowed, got {effect}")


def warm(auth: Authorizer, world: World) -> None:
    """JWKS fetched and roles read before timing; the first answer must be an Allow."""
    check_allows(auth.authorize(event_for(world.repeat_token)))
