"""The audit consumer's logic: a batch of Kinesis records of log subscriptions → audit events → the
shard's log stream, exactly once.

Pure: the sink (normally :class:`edgeauth.audit.shard_writer.ShardWriter`) is injected. The Lambda
handler (``functions/audit_consumer/handler.py``) hands it the whole batch and returns the records
the sink could not finish as ``batchItemFailures`` (the first record to deliver again).

What callers may rely on:

* Decoding problems never fail a record: an undecodable record becomes one ``malformed`` audit event
  (visible, and not retried for ever), a malformed line inside a good record becomes a ``malformed``
  event, and non-audit lines of the authorizer's group (Lambda platform lines, other application
  logs) are counted as skipped. A line's kind comes from its record's log group (``sources``).
* Records are grouped by shard (Lambda's Kinesis batches hold one shard); each shard's records go to
  the sink in sequence order, and the sink says from which record, if any, they must be delivered
  again (:class:`BatchOutcome.failed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from edgeauth.audit.schema import (
    ERR_UNDECODABLE_RECORD,
    KIND_MALFORMED,
    AuditEvent,
    AuditSources,
    event_id,
    malformed_event,
    normalise_log_event,
)
from edgeauth.audit.shard_writer import RecordEvents, ShardOutcome
from edgeauth.audit.subscription import SubscriptionDecodeError, decode_base64_record, decode_record_data


class ShardSink(Protocol):
    """Where a shard's events go: exactly once per record (see :class:`~edgeauth.audit.shard_writer.ShardWriter`)."""

    def write(
        self,
        stream_arn: str,
        shard_id: str,
        records: Sequence[RecordEvents],
        *,
        deadline_ms: int | None = None,
        key: str | None = None,
        assume_written: bool = False,
    ) -> ShardOutcome: ...


@dataclass(frozen=True, slots=True)
class KinesisSource:
    """The coordinates and data of one Kinesis record as Lambda delivers it."""

    stream_arn: str
    shard_id: str
    sequence_number: str
    data_b64: str
    arrival_ms: int


@dataclass(slots=True)
class BatchOutcome:
    """What one batch produced. ``failed`` holds, per shard that could not be finished, the sequence
    number (as delivered) of the first record to deliver again: Lambda's ``batchItemFailures``."""

    records: int = 0
    control: int = 0
    events: int = 0
    written: int = 0
    duplicates: int = 0
    skipped_lines: int = 0
    malformed: int = 0
    readbacks: int = 0
    throttled: int = 0
    waited_ms: int = 0
    lease_waited_ms: int = 0
    calls: int = 0
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NormalisedRecord:
    """The audit events of one record and how many lines were not audit data."""

    control: bool
    events: tuple[AuditEvent, ...]
    skipped_lines: int


def shard_of(event_id_: str) -> str:
    """The shard id from a Lambda Kinesis record's ``eventID`` (``shardId-000…:4954…``)."""
    return event_id_.split(":", 1)[0] or "shard"


def normalise_record(src: KinesisSource, sources: AuditSources) -> NormalisedRecord:
    """Decode and normalise one record; never raises for any data.

    Each line's kind comes from the payload's log group (``sources``), never from the line: see
    :func:`edgeauth.audit.schema.normalise_log_event`. Lines of any other group are ``malformed``.
    """
    try:
        payload = decode_record_data(decode_base64_record(src.data_b64))
    except SubscriptionDecodeError as e:
        bad = malformed_event(
            id=event_id("kinesis", src.stream_arn, src.shard_id, src.sequence_number),
            time_ms=src.arrival_ms,
            source="kinesis",
            log_stream=f"{src.shard_id}/{src.sequence_number}",
            error=f"{ERR_UNDECODABLE_RECORD}:{e.reason}",
            excerpt=src.data_b64,
        )
        return NormalisedRecord(control=False, events=(bad,), skipped_lines=0)
    if payload.is_control:
        return NormalisedRecord(control=True, events=(), skipped_lines=0)
    events: list[AuditEvent] = []
    skipped = 0
    kind = sources.kind_of(payload.log_group)
    for line in payload.log_events:
        ev = normalise_log_event(line, kind)
        if ev is None:
            skipped += 1
        else:
            events.append(ev)
    return NormalisedRecord(control=False, events=tuple(events), skipped_lines=skipped)


def sequence_number(text: str) -> int:
    """A Kinesis sequence number (a decimal string of up to 128 digits) as an integer."""
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"not a Kinesis sequence number: {text[:140]!r}")
    return int(text)


class AuditConsumer:
    """Normalises a batch of Kinesis records and writes each shard's events through the injected sink."""

    def __init__(self, sink: ShardSink, sources: AuditSources) -> None:
        self.sink = sink
        self.sources = sources

    def process_batch(
        self, batch: Sequence[KinesisSource], *, deadline_ms: int | None = None
    ) -> BatchOutcome:
        """Normalise every record and write it, shard by shard; never raises for bad data.

        ``deadline_ms`` (epoch ms) is when the invocation ends: the sink stops starting writes in
        time to report what it could not finish (:attr:`BatchOutcome.failed`).
        """
        out = BatchOutcome(records=len(batch))
        shards: dict[tuple[str, str], list[tuple[KinesisSource, RecordEvents]]] = {}
        for src in batch:
            norm = normalise_record(src, self.sources)
            out.control += norm.control
            out.events += len(norm.events)
            out.skipped_lines += norm.skipped_lines
            out.malformed += sum(1 for e in norm.events if e.kind == KIND_MALFORMED)
            record = RecordEvents(sequence_number(src.sequence_number), norm.events, src.arrival_ms)
            shards.setdefault((src.stream_arn, src.shard_id), []).append((src, record))
        for (stream_arn, shard_id), items in shards.items():
            items.sort(key=lambda item: item[1].sequence)
            result = self.sink.write(stream_arn, shard_id, [r for _, r in items], deadline_ms=deadline_ms)
            out.written += result.written
            out.duplicates += result.duplicates
            out.readbacks += result.readbacks
            out.throttled += result.throttled
            out.waited_ms += result.waited_ms
            out.lease_waited_ms += result.lease_waited_ms
            out.calls += result.calls
            if result.failed_from is not None:
                out.failed.append(
                    next(src.sequence_number for src, r in items if r.sequence == result.failed_from)
                )
                out.errors.append(f"{shard_id}: {result.error or 'not finished'}")
        return out
