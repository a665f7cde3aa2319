"""edit_bound: how long a role-table edit can take to reach every answer (hand-computed cases)."""

from __future__ import annotations

import pytest

from edgeauth.core.propagation import (
    MAX_AUTHORIZER_CACHE_TTL,
    SECOND_FLUSH_MARGIN,
    STREAM_ALLOWANCE,
    edit_bound,
)
from edgeauth.core.settings import MAX_ROLE_CACHE_TTL


@pytest.mark.parametrize(
    ("role_ttl", "gateway_ttl", "failed", "seconds"),
    [
        (30, 300, False, 30 + SECOND_FLUSH_MARGIN + STREAM_ALLOWANCE),  # the role-events second flush
        (30, 300, True, 30 + 300),  # flushing fails: cached answers expire by themselves
        (30, 0, False, 30),  # no gateway cache: the role cache alone
        (30, 0, True, 30),
        (0, 300, False, SECOND_FLUSH_MARGIN + STREAM_ALLOWANCE),
        (30, 5, False, 35),  # the gateway cache expires before the second flush
        (None, None, False, MAX_ROLE_CACHE_TTL + SECOND_FLUSH_MARGIN + STREAM_ALLOWANCE),
        (None, None, True, MAX_ROLE_CACHE_TTL + MAX_AUTHORIZER_CACHE_TTL),
    ],
)
def test_bound(role_ttl: int | None, gateway_ttl: int | None, failed: bool, seconds: int) -> None:
    assert edit_bound(role_ttl, gateway_ttl, flush_failed=failed).seconds == seconds


def test_unknown_settings_are_named() -> None:
    because = edit_bound(None, None).because
    assert "role cache 60 s (the longest allowed; the stack's is unknown)" in because


def test_effective_by_rounds_up() -> None:
    bound = edit_bound(30, 0)
    assert bound.effective_by(1000.2) == 1031
    assert bound.effective_by(1000.0) == 1030
