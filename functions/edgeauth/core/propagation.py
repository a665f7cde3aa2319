"""How long a role-table edit (a revocation, a grant taken away) can take to reach every answer.

Pure: the stack's settings come in as numbers. ``edgeauth revoke`` prints the bound as
``effective by <time>``; the role-events function waits :data:`SECOND_FLUSH_MARGIN` past the
containers' check before its second flush. docs/roles.md "How fast an edit takes effect" states the
same bound.

What can still answer with the state from before an edit written at ``W``:

1. an authorizer container's caches (items, resolved grants, remembered answers): once the
   role-events function has written the edit's key to the role table's change log (at ``P``,
   within :data:`STREAM_ALLOWANCE` of ``W``), a warm container drops it at its next look, at most
   ``revocation_check_seconds`` later (:mod:`edgeauth.core.changes`); and whatever happens, nothing
   outlives ``W + role_cache_ttl`` (:class:`~edgeauth.adapters.role_store.RoleStore` never keeps an
   item longer than one TTL after its read);
2. API Gateway's authorizer cache: an answer cached before ``W`` lives up to the cache TTL; and an
   answer built by a container before its look (1) may be cached then, and live a whole cache TTL.

The role-events function flushes the stage's authorizer cache when the edit reaches it, and again
``min(role_cache_ttl, revocation_check_seconds) + SECOND_FLUSH_MARGIN`` after ``P``, when (1) is
over. So, with the flushes working, nothing old answers after ``W + STREAM_ALLOWANCE +
min(role_cache_ttl, revocation_check_seconds) + SECOND_FLUSH_MARGIN`` (13 s with the defaults; or
after ``W + role_cache_ttl + cache TTL``, if sooner). When flushing is seen to fail, cached answers
expire by themselves: (1) + the cache TTL. With no gateway cache (TTL 0, as DPoP requires) the
bound is (1) alone.

A stack deployed before the change log (its outputs have no ``RevocationCheckSeconds``) has only
the role cache for (1), and waits it out before its second flush: ``change_log=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from edgeauth.core.settings import MAX_REVOCATION_CHECK_SECONDS, MAX_ROLE_CACHE_TTL

SECOND_FLUSH_MARGIN: Final = 1
"""Seconds past the containers' last look (or their role-cache time, if shorter) before the
role-events function flushes the cache again: the time an answer built just before takes to reach
API Gateway's cache."""
STREAM_ALLOWANCE: Final = 10
"""Seconds allowed from the write to the role-events function's change log write (and beyond the
wait, to its second flush): the table stream's delivery (typically under a second, Lambda polls each
shard four times a second), a batch ahead of it on the shard (its wait of a few seconds), a cold
start, the batch's audit writes and both flushes with their retries
(:mod:`edgeauth.adapters.gateway_cache`: at most 1.4 s of backoff each). A backlog (a bulk
``roles apply`` of thousands of items just before) adds its drain time."""
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
    role_cache_ttl: int | None,
    authorizer_cache_ttl: int | None,
    revocation_check_seconds: int | None = None,
    *,
    change_log: bool = True,
    flush_failed: bool = False,
) -> PropagationBound:
    """The bound for a stage with these settings (``None``: unknown, so the longest allowed).

    ``change_log``: the stage's authorizer reads the change log (``False`` for a stack deployed
    before it). ``flush_failed``: flushing the stage's cache was tried after the write and failed,
    so the role-events function's flushes may fail too. A caller that did not flush
    (``--no-flush``) still has the function's flushes: that changes nothing here."""
    if role_cache_ttl is None:
        ttl = MAX_ROLE_CACHE_TTL
        ttl_text = f"role cache {ttl} s (the longest allowed; the stack's is unknown)"
    else:
        ttl, ttl_text = role_cache_ttl, f"role cache {role_cache_ttl} s"
    if not change_log:
        container, container_text = ttl, f"{ttl_text} (the stack has no change log)"
        wait, wait_text = ttl, container_text
    else:
        if revocation_check_seconds is None:
            check = MAX_REVOCATION_CHECK_SECONDS
            check_text = f"every {check} s (the longest allowed; the stack's is unknown)"
        else:
            check, check_text = revocation_check_seconds, f"every {revocation_check_seconds} s"
        looked = f"until every warm container has looked at the change log ({check_text})"
        if STREAM_ALLOWANCE + check < ttl:
            container = STREAM_ALLOWANCE + check
            container_text = f"up to {STREAM_ALLOWANCE} s for the role table's stream + {check} s {looked}"
        else:
            container, container_text = ttl, ttl_text
        if check <= ttl:
            wait, wait_text = check, f"{check} s {looked}"
        else:
            wait, wait_text = ttl, ttl_text
    if authorizer_cache_ttl is None:
        cache_ttl = MAX_AUTHORIZER_CACHE_TTL
        gateway = f"API Gateway's cache {cache_ttl} s (the longest allowed; the stack's is unknown)"
    else:
        cache_ttl, gateway = authorizer_cache_ttl, f"API Gateway's cache {authorizer_cache_ttl} s"
    if cache_ttl == 0:
        return PropagationBound(container, container_text + "; API Gateway caches no answers")
    settle = STREAM_ALLOWANCE + wait + SECOND_FLUSH_MARGIN
    if flush_failed or container + cache_ttl <= settle:
        reason = " (the flush failed, so cached answers expire by themselves)" if flush_failed else ""
        return PropagationBound(container + cache_ttl, f"{container_text} + {gateway}{reason}")
    return PropagationBound(
        settle,
        f"up to {STREAM_ALLOWANCE} s for the role table's stream and the role-events function + "
        f"{wait_text} + {SECOND_FLUSH_MARGIN} s before its second cache flush",
    )
