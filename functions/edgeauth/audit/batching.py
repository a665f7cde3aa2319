"""Splitting audit events into ``PutLogEvents`` calls within the CloudWatch Logs limits.

The limits (PutLogEvents API reference): at most 10,000 events and 1,048,576 bytes per call, where
an event counts its UTF-8 message size plus 26 bytes; events in chronological order; one call spans
at most 24 hours; one event at most 256 KB (ours are bounded far lower by the schema).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MAX_BATCH_EVENTS: Final = 10_000
MAX_BATCH_BYTES: Final = 1_048_576
EVENT_OVERHEAD_BYTES: Final = 26
MAX_BATCH_SPAN_MS: Final = 24 * 3600 * 1000 - 1
MAX_EVENT_BYTES: Final = 256 * 1024 - EVENT_OVERHEAD_BYTES


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log event to write: ``timestamp`` in epoch ms, ``message`` the JSON line, ``id`` its audit id."""

    timestamp: int
    message: str
    id: str

    @property
    def size(self) -> int:
        return len(self.message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


def plan_batches(
    lines: Sequence[LogLine],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
    max_span_ms: int = MAX_BATCH_SPAN_MS,
) -> list[list[LogLine]]:
    """Sorted by (timestamp, id), cut into batches that each satisfy every limit.

    Callers may rely on: every line appears in exactly one batch; the concatenation of the batches is
    the sorted input; each batch is chronological, has at most ``max_events`` lines, at most
    ``max_bytes`` bytes (26 per line included) and spans at most ``max_span_ms``. A single line larger
    than ``max_bytes`` raises ``ValueError`` (the schema bounds events far below that).
    """
    ordered = sorted(lines, key=lambda ln: (ln.timestamp, ln.id))
    batches: list[list[LogLine]] = []
    current: list[LogLine] = []
    size = 0
    for line in ordered:
        n = line.size
        if n > max_bytes or n - EVENT_OVERHEAD_BYTES > MAX_EVENT_BYTES:
            raise ValueError(f"log event {line.id} is {n} bytes, over the per-event limit")
        if current and (
            len(current) >= max_events
            or size + n > max_bytes
            or line.timestamp - current[0].timestamp > max_span_ms
        ):
            batches.append(current)
            current, size = [], 0
        current.append(line)
        size += n
    if current:
        batches.append(current)
    return batches
