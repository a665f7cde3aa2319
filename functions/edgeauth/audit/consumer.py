"""The audit consumer's logic: one Kinesis record of a log subscription → audit events → the sink.

Pure: the sink (normally :class:`edgeauth.audit.writer.AuditLogWriter`) is injected. The Lambda
handler (``functions/audit_consumer/handler.py``) wraps :meth:`AuditConsumer.process` in Powertools'
``BatchProcessor`` so that a record whose write fails is reported alone (partial batch failure).

What callers may rely on:

* Decoding problems never raise: an undecodable record becomes one ``malformed`` audit event (so it
  is visible and not retried forever), a malformed line inside a good record becomes a ``malformed``
  event, and non-audit lines (Lambda platform lines, other application logs) are counted as skipped.
* Only a failed write raises (:class:`edgeauth.audit.writer.AuditWriteError`); the record is then
  retried by Kinesis, and the writer's per-record log stream makes the retry duplicate-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from edgeauth.audit.schema import (
    ERR_UNDECODABLE_RECORD,
    AuditEvent,
    AuditSources,
    event_id,
    malformed_event,
    normalise_log_event,
)
from edgeauth.audit.subscription import SubscriptionDecodeError, decode_base64_record, decode_record_data
from edgeauth.audit.writer import WriteResult, stream_for_kinesis_record


class AuditSink(Protocol):
    """Where audit events go: idempotent per ``stream`` (see :class:`AuditLogWriter`)."""

    def write(self, stream: str, events: Sequence[AuditEvent]) -> WriteResult: ...


@dataclass(frozen=True, slots=True)
class KinesisSource:
    """The coordinates and data of one Kinesis record as Lambda delivers it."""

    stream_arn: str
    shard_id: str
    sequence_number: str
    data_b64: str
    arrival_ms: int


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What one record produced. ``control`` is True for a skipped control message."""

    control: bool = False
    events: int = 0
    written: int = 0
    duplicates: int = 0
    skipped_lines: int = 0
    malformed: int = 0


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


class AuditConsumer:
    """Processes Kinesis records one at a time into the injected sink."""

    def __init__(self, sink: AuditSink, sources: AuditSources) -> None:
        self.sink = sink
        self.sources = sources

    def process(self, src: KinesisSource) -> RecordOutcome:
        """Normalise ``src`` and write its events to its own log stream.

        Raises only when the write fails (the record must be retried); see the module docstring.
        """
        norm = normalise_record(src, self.sources)
        if norm.control:
            return RecordOutcome(control=True)
        malformed = sum(1 for e in norm.events if e.kind == "malformed")
        if not norm.events:
            return RecordOutcome(skipped_lines=norm.skipped_lines)
        stream = stream_for_kinesis_record(src.stream_arn, src.shard_id, src.sequence_number)
        result = self.sink.write(stream, norm.events)
        return RecordOutcome(
            events=len(norm.events),
            written=result.written,
            duplicates=result.duplicates,
            skipped_lines=norm.skipped_lines,
            malformed=malformed,
        )
