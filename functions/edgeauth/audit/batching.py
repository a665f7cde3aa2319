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


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One ``PutLogEvents`` call of a shard's batch: chronological ``lines``; ``through`` is the last
    record (sequence number) whose lines are all in this call or an earlier one, once this call and
    every earlier one are written (``None`` while no record is complete yet)."""

    lines: tuple[LogLine, ...]
    through: int | None
    last_record: int
    """The highest sequence number of a record with lines in this call."""

    @property
    def min_ms(self) -> int:
        return self.lines[0].timestamp

    @property
    def max_ms(self) -> int:
        return self.lines[-1].timestamp


def plan_calls(
    records: Sequence[tuple[int, Sequence[LogLine]]],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
    max_span_ms: int = MAX_BATCH_SPAN_MS,
) -> tuple[list[PlannedCall], int | None]:
    """``PutLogEvents`` calls for records in sequence order, filled greedily and cut between records.

    ``records`` are ``(sequence number, lines)`` in ascending order. Returns the calls and ``head``:
    the last record that is complete before any call (the leading records without lines; ``None``
    when the first record has lines). Callers may rely on: every line in exactly one call; each call
    within the limits of :func:`plan_batches` and chronological; a record's lines share one call
    unless they alone exceed one (then they span consecutive calls); ``through`` never decreases.
    So when calls ``0 .. k-1`` are written and call ``k`` is not, every record up to
    ``calls[k-1].through`` (``head`` for ``k = 0``) is written and no later record is complete.
    """
    calls: list[list[LogLine]] = []
    last_records: list[int] = []
    current: list[LogLine] = []
    current_last = 0
    size = 0
    low = high = 0
    last_call: list[int] = []  # per record: index of the call holding its last line (-1: no lines)

    def close() -> None:
        nonlocal current, size
        if current:
            calls.append(sorted(current, key=lambda ln: (ln.timestamp, ln.id)))
            last_records.append(current_last)
        current, size = [], 0

    for sequence, lines in records:
        if not lines:
            last_call.append(-1)
            continue
        n = sum(ln.size for ln in lines)
        lo = min(ln.timestamp for ln in lines)
        hi = max(ln.timestamp for ln in lines)
        alone_too_big = len(lines) > max_events or n > max_bytes or hi - lo > max_span_ms
        fits = (
            not alone_too_big
            and len(current) + len(lines) <= max_events
            and size + n <= max_bytes
            and (not current or max(high, hi) - min(low, lo) <= max_span_ms)
        )
        if not fits:
            close()
        if alone_too_big:
            parts = plan_batches(lines, max_events=max_events, max_bytes=max_bytes, max_span_ms=max_span_ms)
            calls.extend(parts[:-1])
            last_records.extend([sequence] * (len(parts) - 1))
            current, size = list(parts[-1]), sum(ln.size for ln in parts[-1])
            low, high = current[0].timestamp, current[-1].timestamp
        else:
            if not current:
                low, high = lo, hi
            current.extend(lines)
            size += n
            low, high = min(low, lo), max(high, hi)
        current_last = sequence
        last_call.append(len(calls))  # `current` becomes this call when it is closed
    close()

    throughs: list[int | None] = [None] * len(calls)
    head: int | None = None
    running = -1
    for (sequence, _), index in zip(records, last_call, strict=True):
        running = max(running, index)
        if running < 0:
            head = sequence
        else:
            throughs[running] = sequence
    planned: list[PlannedCall] = []
    through = head
    for lines_of_call, complete, last_record in zip(calls, throughs, last_records, strict=True):
        if complete is not None:
            through = complete
        planned.append(PlannedCall(tuple(lines_of_call), through, last_record))
    return planned, head
