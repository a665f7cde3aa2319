"""Flush a stage's authorizer cache (API Gateway ``FlushStageAuthorizersCache``) with bounded retries.

Shared by the role-events Lambda (after every batch of role edits) and ``edgeauth revoke``, so a
role edit or a revocation takes effect within the role-cache time instead of the gateway's cache TTL.
Never raises: the caller decides how to report a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

FLUSH_ATTEMPTS = 4
FLUSH_BASE_DELAY = 0.2
FLUSH_MAX_DELAY = 2.0
#: Errors that another attempt cannot fix.
PERMANENT_ERRORS = frozenset(
    {"NotFoundException", "BadRequestException", "UnauthorizedException", "AccessDeniedException"}
)


class GatewayClient(Protocol):
    """The one API Gateway call needed (a boto3 ``apigateway`` client)."""

    def flush_stage_authorizers_cache(self, *, restApiId: str, stageName: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class FlushOutcome:
    ok: bool
    attempts: int
    error: str | None = None


def error_code(e: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``None`` for other errors)."""
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def flush_authorizer_cache(
    client: GatewayClient,
    rest_api_id: str,
    stage: str,
    *,
    attempts: int = FLUSH_ATTEMPTS,
    base_delay: float = FLUSH_BASE_DELAY,
    max_delay: float = FLUSH_MAX_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> FlushOutcome:
    """Flush, retrying transient failures with capped exponential backoff; never raises."""
    attempts = max(1, attempts)
    error = "not attempted"
    for attempt in range(1, attempts + 1):
        try:
            client.flush_stage_authorizers_cache(restApiId=rest_api_id, stageName=stage)
            return FlushOutcome(True, attempt)
        except Exception as e:  # any failure is reported to the caller, never raised
            code = error_code(e)
            error = code or type(e).__name__
            if code in PERMANENT_ERRORS:
                return FlushOutcome(False, attempt, error)
        if attempt < attempts:
            sleep(min(max_delay, base_delay * 2 ** (attempt - 1)))
    return FlushOutcome(False, attempts, error)
