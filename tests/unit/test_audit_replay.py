"""``edgeauth audit replay``'s logic: dead-letter messages, reading a range back, refusing an expired one."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from edgeauth.audit.checkpoint import CheckpointStore
from edgeauth.audit.consumer import AuditConsumer
from edgeauth.audit.replay import (
    DeadLetter,
    DeadLetterError,
    RangeExpiredError,
    parse_dead_letter,
    read_range,
    replay,
    replay_key,
)
from edgeauth.audit.schema import AuditSources
from edgeauth.audit.shard_writer import ShardWriter
from edgeauth.audit.writer import AuditLogWriter
from edgeauth.core.audit_line import DecisionRecord, decision_line
from tests.support.checkpoints import DictCheckpointTable, client_error
from tests.support.memory_logs import MemoryLogs

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/audit"
MESSAGE = {
    "requestContext": {"requestId": "r", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2024-05-29T16:26:40.000Z",
    "KinesisBatchInfo": {
        "shardId": "shardId-000000000001",
        "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
        "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
        "approximateArrivalOfFirstRecord": "2024-05-29T16:26:38.835Z",
        "approximateArrivalOfLastRecord": "2024-05-29T16:26:39.580Z",
        "batchSize": 3,
        "streamArn": ARN,
    },
}


def test_a_lambda_on_failure_record_is_read() -> None:
    letter = parse_dead_letter(json.dumps(MESSAGE))
    assert (letter.stream_arn, letter.shard_id, letter.batch_size) == (ARN, "shardId-000000000001", 3)
    assert letter.first.startswith("4960118965842235937883629852182") and letter.last.endswith("495186")
    assert replay_key(letter) == f"audit/shardId-000000000001/replay/{letter.first}-{letter.last}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "the message is not JSON"),
        (json.dumps({"DDBStreamBatchInfo": {}}), "no KinesisBatchInfo object"),
        (
            json.dumps({"KinesisBatchInfo": {**MESSAGE["KinesisBatchInfo"], "shardId": 7}}),
            "KinesisBatchInfo.shardId",
        ),
        (
            json.dumps({"KinesisBatchInfo": {**MESSAGE["KinesisBatchInfo"], "startSequenceNumber": "12a"}}),
            "KinesisBatchInfo.startSequenceNumber: not a Kinesis sequence number",
        ),
        (
            json.dumps({"KinesisBatchInfo": {**MESSAGE["KinesisBatchInfo"], "endSequenceNumber": "1"}}),
            "startSequenceNumber is after endSequenceNumber",
        ),
    ],
)
def test_a_message_that_is_not_a_dead_letter_is_refused_naming_what_is_wrong(body: str, message: str) -> None:
    with pytest.raises(DeadLetterError, match=message):
        parse_dead_letter(body)


class FakeKinesis:
    """A shard holding records ``first .. first + count - 1`` (older ones expired)."""

    def __init__(self, first: int, count: int, data: list[bytes] | None = None) -> None:
        self.records = [
            {
                "SequenceNumber": str(first + i),
                "Data": data[i] if data else b"x",
                "ApproximateArrivalTimestamp": datetime.now(UTC),
            }
            for i in range(count)
        ]
        self.missing_shard = False

    def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
        if self.missing_shard:
            raise client_error("ResourceNotFoundException", "GetShardIterator")
        start = int(kw["StartingSequenceNumber"])
        index = next(
            (i for i, r in enumerate(self.records) if int(r["SequenceNumber"]) >= start), len(self.records)
        )
        return {"ShardIterator": str(index)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        i = int(ShardIterator)
        page = self.records[i : i + 2]
        return {"Records": page, "NextShardIterator": str(i + len(page)), "MillisBehindLatest": 0}


def test_a_range_is_read_back_in_order_and_stops_at_its_last_record() -> None:
    records = read_range(FakeKinesis(10, 20), DeadLetter(ARN, "shardId-0", "12", "16"))
    assert [r.sequence_number for r in records] == ["12", "13", "14", "15", "16"]
    assert records[0].data_b64 == base64.b64encode(b"x").decode()


@pytest.mark.parametrize(
    ("kinesis", "first", "detail"),
    [
        (FakeKinesis(10, 20), "5", "the stream's oldest record of that shard is 10, after 5"),
        (FakeKinesis(10, 0), "5", "holds none of these records"),
    ],
)
def test_an_expired_range_is_refused_naming_it(kinesis: FakeKinesis, first: str, detail: str) -> None:
    with pytest.raises(RangeExpiredError, match=detail) as info:
        read_range(kinesis, DeadLetter(ARN, "shardId-0", first, "12"))
    assert "shard shardId-0 of audit, records 5 to 12" in str(info.value)


def test_a_shard_the_stream_no_longer_has_is_an_expired_range() -> None:
    kinesis = FakeKinesis(10, 5)
    kinesis.missing_shard = True
    with pytest.raises(RangeExpiredError, match="ResourceNotFoundException"):
        read_range(kinesis, DeadLetter(ARN, "shardId-9", "10", "12"))


def test_a_replay_reads_back_first_and_twice_writes_once() -> None:
    # GIVEN two dead-lettered records, the first of which an earlier attempt had written
    def payload(record: int) -> bytes:
        lines = [
            decision_line(DecisionRecord(decision="allow", reason="allowed", sub=f"s{i}")) for i in range(3)
        ]
        events = [
            {"id": f"r{record}e{i}", "timestamp": 1_717_000_000_000 + 10 * record + i, "message": m}
            for i, m in enumerate(lines)
        ]
        doc = {"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/authorizer"}
        return gzip.compress(json.dumps({**doc, "logStream": "s", "logEvents": events}).encode())

    kinesis = FakeKinesis(100, 2, [payload(0), payload(1)])
    letter = DeadLetter(ARN, "shardId-0", "100", "101")
    logs, table = MemoryLogs(groups={"audit": {}}), DictCheckpointTable()
    sources = AuditSources(authorizer_log_group="/aws/lambda/authorizer", access_log_group="access")

    def consumer() -> AuditConsumer:
        return AuditConsumer(ShardWriter(AuditLogWriter("audit", logs), CheckpointStore("c", table)), sources)  # type: ignore[arg-type]

    records = read_range(kinesis, letter)
    first = replay(letter, records[:1], consumer())
    table.items.clear()  # the first attempt's checkpoint is not the replay's
    # WHEN replayed twice
    one = replay(letter, records, consumer())
    two = replay(letter, records, consumer())
    # THEN one readback, only the missing record's events written, and nothing the second time
    assert first.written == 3
    assert (one.readbacks, one.written, one.duplicates, one.failed) == (1, 3, 3, [])
    assert (two.written, two.failed) == (0, [])
    ids = [json.loads(e["message"])["id"] for e in logs.groups["audit"]["kinesis/audit/shardId-0"]]
    assert len(ids) == len(set(ids)) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "shardId-0", "--from", "1"], "--shard, --from and --to go together"),
        (["--from", "1", "--to", "2"], "--shard, --from and --to go together"),
        (["--max-messages", "0"], "--max-messages must be at least 1"),
    ],
)
def test_the_replay_command_refuses_incomplete_ranges(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgeauth_cli.main import main

    assert main(["--stack", "EdgeAuth-dev", "audit", "replay", *args]) == 2
    assert message in capsys.readouterr().err
