"""How long a role-table edit (a revocation, a grant taken away) can take to reach every answer.

Pure: the stack's settings come in as numbers. ``edgeauth revoke`` prints the bound as
``effective by <time>``; the role-events function waits :data:`SECOND_FLUSH_MARGIN` past the role
cache before its second flush. docs/roles.md "How fast an edit takes effect" states the same bound.

What can still answer with the state from before an edit written at ``W``:

1. an authorizer container's role cache, and the answers it remembers with it: an item read before
   ``W`` is used until at most ``W + role_cache_ttl`` (:class:`~edgeauth.adapters.role_store.RoleStore`
   never keeps anything longer than one TTL after its read);
2. API Gateway's authorizer cache: an answer cached before ``W`` lives up to the cache TTL; and an
   answer built from a stale role cache (1) may be cached until ``W + role_cache_ttl`` and then
   live a whole cache TTL more.

The role-events function, on the role table's stream, flushes the stage's authorizer cache when
the edit reaches it, and again :data:`SECOND_FLUSH_MARGIN` after the role-cache time, when (1) is
over. So, with the flushes working, nothing old answers after ``W + role_cache_ttl +
SECOND_FLUSH_MARGIN + STREAM_ALLOWANCE`` (or after ``W + role_cache_ttl + cache TTL``, if sooner).
When flushing is seen to fail, cached answers expire by themselves: ``W + role_cache_ttl + cache TTL``.
With no gateway cache (TTL 0, as DPoP requires) the bound is the role-cache time alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from edgeauth.core.settings import MAX_ROLE_CACHE_TTL

SECOND_FLUSH_MARGIN: Final = 1
"""Seconds past the role-cache time before the role-events function flushes the cache again."""
STREAM_ALLOWANCE: Final = 10
"""Seconds allowed from the write to the role-events function's second flush, beyond the role
cache and :data:`SECOND_FLUSH_MARGIN`: the table stream's delivery (typically under a second, Lambda
polls each shard four times a second), a cold start, the batch's audit writes and both flushes
with their retries (:mod:`edgeauth.adapters.gateway_cache`: at most 1.4 s of backoff each)."""
MAX_AUTHORIZER_CACHE_TTL: Final = 3600
"""API Gateway's largest authorizer result TTL (``authorizerResultTtlInSeconds``)."""


@dataclass(frozen=True, slots=True)
class PropagationBound:
    """``seconds`` after the write, nothing answers with the state before it; ``because`` says why."""

    seconds: int
    because: str

    def effective_by(self, written_at: float) -> int:
        """Epoch seconds (rounded up) from which every answer reflects an edit written at ``written_at``."""
        return math.ceil(written_at + self.seconds)


def edit_bound(
    role_cache_ttl: int | None, authorizer_cache_ttl: int | None, *, flush_failed: bool = False
) -> PropagationBound:
    """The bound for a stage with these settings (``None``: unknown, so the longest allowed).

    ``flush_failed``: flushing the stage's cache was tried after the write and failed, so the
    role-events function's flushes may fail too. A caller that did not flush (``--no-flush``) still
    has the function's flushes: that changes nothing here."""
    parts: list[str] = []
    if role_cache_ttl is None:
        role_cache_ttl = MAX_ROLE_CACHE_TTL
        parts.append(f"role cache {role_cache_ttl} s (the longest allowed; the stack's is unknown)")
    else:
        parts.append(f"role cache {role_cache_ttl} s")
    if authorizer_cache_ttl is None:
        authorizer_cache_ttl = MAX_AUTHORIZER_CACHE_TTL
        gateway = (
            f"API Gateway's cache {authorizer_cache_ttl} s (the longest allowed; the stack's is unknown)"
        )
    else:
        gateway = f"API Gateway's cache {authorizer_cache_ttl} s"
    if authorizer_cache_ttl == 0:
        return PropagationBound(role_cache_ttl, parts[0] + "; API Gateway caches no answers")
    settle = SECOND_FLUSH_MARGIN + STREAM_ALLOWANCE
    if flush_failed or authorizer_cache_ttl <= settle:
        reason = " (the flush failed, so cached answers expire by themselves)" if flush_failed else ""
        parts.append(gateway + reason)
        return PropagationBound(role_cache_ttl + authorizer_cache_ttl, " + ".join(parts))
    parts.append(
        f"{SECOND_FLUSH_MARGIN} s + up to {STREAM_ALLOWANCE} s for the role table's stream and the "
        "role-events function's second cache flush"
    )
    return PropagationBound(role_cache_ttl + settle, " + ".join(parts))
