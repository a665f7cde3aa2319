"""edit_bound: how long a role-table edit can take to reach every answer (hand-computed cases)."""

from __future__ import annotations

import pytest

from edgeauth.core.propagation import (
    MAX_AUTHORIZER_CACHE_TTL,
    SECOND_FLUSH_MARGIN,
    STREAM_ALLOWANCE,
    edit_bound,
)
from edgeauth.core.settings import MAX_REVOCATION_CHECK_SECONDS, MAX_ROLE_CACHE_TTL

S, M = STREAM_ALLOWANCE, SECOND_FLUSH_MARGIN  # 10 s, 1 s


@pytest.mark.parametrize(
    ("role_ttl", "gateway_ttl", "check", "failed", "seconds"),
    [
        # the defaults: stream + the containers' look every 2 s + the margin before the second flush
        (30, 300, 2, False, S + 2 + M),  # 13 s
        (30, 300, 10, False, S + 10 + M),
        # flushing fails: an answer cached just before a container looked lives the whole cache TTL
        (30, 300, 2, True, S + 2 + 300),
        # no gateway cache: the containers alone (they look within 2 s of the change log write)
        (30, 0, 2, False, S + 2),
        (30, 0, 2, True, S + 2),
        # a role cache shorter than stream + look: the TTL bounds the containers
        (5, 0, 2, False, 5),
        # a role cache shorter than the look: the second flush waits the TTL, not the look
        (1, 300, 2, False, S + 1 + M),
        (0, 300, 2, False, S + 0 + M),
        # the gateway cache expires before the second flush
        (30, 1, 2, False, S + 2 + 1),
        # unknown settings: the longest allowed
        (None, None, None, False, S + MAX_REVOCATION_CHECK_SECONDS + M),
        (None, None, None, True, S + MAX_REVOCATION_CHECK_SECONDS + MAX_AUTHORIZER_CACHE_TTL),
    ],
)
def test_bound(
    role_ttl: int | None, gateway_ttl: int | None, check: int | None, failed: bool, seconds: int
) -> None:
    assert edit_bound(role_ttl, gateway_ttl, check, flush_failed=failed).seconds == seconds


@pytest.mark.parametrize(
    ("role_ttl", "gateway_ttl", "failed", "seconds"),
    [
        (30, 300, False, 30 + M + S),  # the role-events second flush, after the role cache
        (30, 300, True, 30 + 300),
        (30, 0, False, 30),
        (30, 5, False, 35),  # the gateway cache expires before the second flush
        (None, None, False, MAX_ROLE_CACHE_TTL + M + S),
    ],
)
def test_a_stack_without_the_change_log_keeps_the_role_cache_bound(
    role_ttl: int | None, gateway_ttl: int | None, failed: bool, seconds: int
) -> None:
    bound = edit_bound(role_ttl, gateway_ttl, None, change_log=False, flush_failed=failed)
    assert bound.seconds == seconds
    assert "(the stack has no change log)" in bound.because


def test_the_reasons_are_named() -> None:
    assert edit_bound(30, 300, 2).because == (
        "up to 10 s for the role table's stream and the role-events function + 2 s until every warm "
        "container has looked at the change log (every 2 s) + 1 s before its second cache flush"
    )
    unknown = edit_bound(None, None, None).because
    assert "every 10 s (the longest allowed; the stack's is unknown)" in unknown
    failed = edit_bound(30, 300, 2, flush_failed=True).because
    assert failed.endswith(
        "API Gateway's cache 300 s (the flush failed, so cached answers expire by themselves)"
    )


def test_effective_by_rounds_up() -> None:
    bound = edit_bound(30, 0, 2)
    assert bound.effective_by(1000.2) == 1000 + S + 2 + 1
    assert bound.effective_by(1000.0) == 1000 + S + 2
