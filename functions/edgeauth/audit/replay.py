"""Re-driving dead-lettered audit records (``edgeauth audit replay``), exactly once.

When the audit consumer's event source mapping gives up on a batch (retries exhausted, or records
older than its maximum record age), Lambda sends the batch's coordinates to the dead-letter queue
(an on-failure destination message with ``KinesisBatchInfo``: the stream, the shard and the first
and last sequence numbers; the records themselves stay in the stream until its retention ends).
:func:`replay` reads that range back from the stream and writes it with the consumer's own
:class:`~edgeauth.audit.shard_writer.ShardWriter`, under a checkpoint of its own
(``<stream>/<shard>/replay/<first>-<last>``): the shard's checkpoint has moved past these records,
and an earlier attempt may have written some of them, so the replay first reads back the window of
their events (``assume_written``) and then writes only what is missing. Replaying the same message
twice writes nothing the second time.

A range the stream no longer holds (its retention ended, or its shard is gone) is refused with
:class:`RangeExpiredError`, naming the range: nothing is written, the message stays in the queue.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from edgeauth.audit.checkpoint import checkpoint_key
from edgeauth.audit.consumer import (
    AuditConsumer,
    BatchOutcome,
    KinesisSource,
    normalise_record,
    sequence_number,
)
from edgeauth.audit.schema import KIND_MALFORMED
from edgeauth.audit.shard_writer import RecordEvents
from edgeauth.audit.writer import error_code

MAX_GET_RECORDS: Final = 10_000
"""Records per ``GetRecords`` call (the API's maximum)."""
MAX_EMPTY_READS: Final = 20
"""Consecutive empty ``GetRecords`` answers before the range is taken as ended (a shard's iterator may
answer empty pages while records follow)."""


class DeadLetterError(ValueError):
    """A dead-letter message that is not a Kinesis on-failure record; the message says what is wrong."""


class RangeExpiredError(Exception):
    """The stream no longer holds (all of) a dead-lettered range: it cannot be replayed."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The coordinates of a dead-lettered batch."""

    stream_arn: str
    shard_id: str
    first: str
    last: str
    batch_size: int | None = None

    @property
    def description(self) -> str:
        return f"shard {self.shard_id} of {self.stream_arn.rsplit('/', 1)[-1]}, records {self.first} to {self.last}"


def parse_dead_letter(body: str) -> DeadLetter:
    """The ``KinesisBatchInfo`` of an on-failure destination message (its JSON body)."""
    try:
        doc: Any = json.loads(body)
    except ValueError as e:
        raise DeadLetterError(f"the message is not JSON: {e}") from e
    info = doc.get("KinesisBatchInfo") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise DeadLetterError("the message has no KinesisBatchInfo object (not a Kinesis on-failure record)")
    values: dict[str, str] = {}
    for key in ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber"):
        value = info.get(key)
        if not isinstance(value, str) or not value:
            raise DeadLetterError(f"KinesisBatchInfo.{key} is missing or not a string")
        values[key] = value
    for key in ("startSequenceNumber", "endSequenceNumber"):
        try:
            sequence_number(values[key])
        except ValueError as e:
            raise DeadLetterError(f"KinesisBatchInfo.{key}: {e}") from e
    if sequence_number(values["startSequenceNumber"]) > sequence_number(values["endSequenceNumber"]):
        raise DeadLetterError("KinesisBatchInfo.startSequenceNumber is after endSequenceNumber")
    size = info.get("batchSize")
    return DeadLetter(
        stream_arn=values["streamArn"],
        shard_id=values["shardId"],
        first=values["startSequenceNumber"],
        last=values["endSequenceNumber"],
        batch_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
    )


def read_range(kinesis: Any, letter: DeadLetter) -> list[KinesisSource]:
    """The records ``first .. last`` of the dead letter's shard, as the consumer sees them.

    Raises :class:`RangeExpiredError` when the stream does not hold the first record any more (the
    first record it answers with is a later one, or none, or the shard is unknown).
    """
    first, last = sequence_number(letter.first), sequence_number(letter.last)
    out: list[KinesisSource] = []
    for record in _records_from(kinesis, letter):
        sequence = sequence_number(str(record["SequenceNumber"]))
        if not out and sequence != first:
            raise RangeExpiredError(
                f"{letter.description}: the stream's oldest record of that shard is {sequence}, after "
                f"{letter.first}: the range has expired (past the stream's retention); nothing was written"
            )
        if sequence > last:
            break
        arrival = record.get("ApproximateArrivalTimestamp")
        arrival_ms = int(arrival.timestamp() * 1000) if isinstance(arrival, datetime) else 0
        out.append(
            KinesisSource(
                stream_arn=letter.stream_arn,
                shard_id=letter.shard_id,
                sequence_number=str(record["SequenceNumber"]),
                data_b64=base64.b64encode(record["Data"]).decode("ascii"),
                arrival_ms=arrival_ms,
            )
        )
        if sequence == last:
            break
    if not out:
        raise RangeExpiredError(
            f"{letter.description}: the stream holds none of these records any more: the range has "
            "expired (past the stream's retention); nothing was written"
        )
    return out


def _records_from(kinesis: Any, letter: DeadLetter) -> Iterator[Mapping[str, Any]]:
    stream = letter.stream_arn.rsplit("/", 1)[-1]
    try:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=letter.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=letter.first,
        )["ShardIterator"]
    except Exception as e:
        if error_code(e) in ("ResourceNotFoundException", "InvalidArgumentException"):
            raise RangeExpiredError(
                f"{letter.description}: the stream does not hold this shard or sequence number any more "
                f"({error_code(e)}): the range has expired; nothing was written"
            ) from e
        raise
    empty = 0
    while iterator and empty < MAX_EMPTY_READS:
        resp = kinesis.get_records(ShardIterator=iterator, Limit=MAX_GET_RECORDS)
        records = resp.get("Records", [])
        yield from records
        empty = 0 if records else empty + 1
        if not records and resp.get("MillisBehindLatest", 0) == 0:
            return
        iterator = resp.get("NextShardIterator")


def replay_key(letter: DeadLetter) -> str:
    """The checkpoint of a replayed range: its own, beside the shard's."""
    return f"{checkpoint_key(letter.stream_arn, letter.shard_id)}/replay/{letter.first}-{letter.last}"


def replay(
    letter: DeadLetter,
    records: list[KinesisSource],
    consumer: AuditConsumer,
    *,
    deadline_ms: int | None = None,
) -> BatchOutcome:
    """Write the events of ``records`` (read by :func:`read_range`) exactly once; see the module doc."""
    out = BatchOutcome(records=len(records))
    normalised = []
    for src in records:
        norm = normalise_record(src, consumer.sources)
        out.control += norm.control
        out.events += len(norm.events)
        out.skipped_lines += norm.skipped_lines
        out.malformed += sum(1 for e in norm.events if e.kind == KIND_MALFORMED)
        normalised.append(RecordEvents(sequence_number(src.sequence_number), norm.events, src.arrival_ms))
    result = consumer.sink.write(
        letter.stream_arn,
        letter.shard_id,
        normalised,
        deadline_ms=deadline_ms,
        key=replay_key(letter),
        assume_written=True,
    )
    out.written, out.duplicates, out.readbacks = result.written, result.duplicates, result.readbacks
    out.throttled, out.waited_ms = result.throttled, result.waited_ms
    if result.failed_from is not None:
        out.failed.append(str(result.failed_from))
        out.errors.append(result.error or "not finished")
    return out
