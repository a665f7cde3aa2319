"""The Lambda invocation being served, for adapters that must finish before the function's timeout."""

from __future__ import annotations

from typing import Any


class CurrentInvocation:
    """Holds the Lambda ``context`` of the invocation in progress (the handler sets
    :attr:`context` on every call: one attribute store). :meth:`seconds_left` is what the DynamoDB
    client asks before a retry, so that a retry that cannot finish in time is not started and the
    answer (a 500) and its audit line are still written before Lambda's timeout."""

    __slots__ = ("context",)

    def __init__(self) -> None:
        self.context: Any = None

    def seconds_left(self) -> float | None:
        """Seconds until the invocation times out; ``None`` outside an invocation or with a
        context that does not tell (tests, the local gateway)."""
        context = self.context
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return None
        try:
            return float(remaining()) / 1000.0
        except (TypeError, ValueError):
            return None
