"""Batching within PutLogEvents limits, subscription decoding, the consumer and the writer (fake client)."""

from __future__ import annotations

import base64
import gzip
import json
import socket
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeauth.audit.batching import EVENT_OVERHEAD_BYTES, LogLine, plan_batches, plan_calls
from edgeauth.audit.checkpoint import CheckpointStore, checkpoint_key
from edgeauth.audit.consumer import AuditConsumer, KinesisSource, normalise_record, shard_of
from edgeauth.audit.schema import AuditEvent, AuditSources
from edgeauth.audit.shard_writer import LEASE_MS, SETTLE_MS, RecordEvents, ShardWriter
from edgeauth.audit.subscription import SubscriptionDecodeError, decode_record_data
from edgeauth.audit.writer import (
    AuditLogGroupMissingError,
    AuditLogWriter,
    AuditWriteRejectedError,
    AuditWriteThrottledError,
    id_of,
    stream_for_shard,
)
from edgeauth.core.audit_line import DecisionRecord, decision_line
from tests.support.checkpoints import DictCheckpointTable
from tests.support.clock import FakeClock

T0 = 1_700_000_000_000
SOURCES = AuditSources(authorizer_log_group="/aws/lambda/authorizer", access_log_group="api-access")


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def payload(messages: Sequence[str], *, control: bool = False, start_id: int = 0) -> bytes:
    doc = {
        "messageType": "CONTROL_MESSAGE" if control else "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/authorizer",
        "logStream": "s1",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": str(start_id + i), "timestamp": T0 + i, "message": m} for i, m in enumerate(messages)
        ],
    }
    return gzip.compress(json.dumps(doc).encode())


def source(data: bytes, seq: str = "100") -> KinesisSource:
    return KinesisSource(
        stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/audit",
        shard_id="shardId-000000000000",
        sequence_number=seq,
        data_b64=base64.b64encode(data).decode(),
        arrival_ms=T0,
    )


def line(sub: str = "alice") -> str:
    return decision_line(DecisionRecord(decision="allow", reason="allowed", sub=sub))


# --- batching -----------------------------------------------------------------------------------------------


class TestBatching:
    def test_given_many_events_then_count_limit(self) -> None:
        lines = [LogLine(T0, "x", f"{i:05d}") for i in range(25_001)]
        batches = plan_batches(lines)
        assert [len(b) for b in batches] == [10_000, 10_000, 5_001]

    def test_given_large_events_then_byte_limit_counts_overhead(self) -> None:
        msg = "a" * (100_000 - EVENT_OVERHEAD_BYTES)  # 100,000 bytes each with overhead
        batches = plan_batches([LogLine(T0, msg, str(i)) for i in range(21)])
        assert [len(b) for b in batches] == [10, 10, 1]

    def test_given_span_over_24h_then_split_and_sorted(self) -> None:
        day = 24 * 3600 * 1000
        lines = [LogLine(T0 + day + 1, "c", "c"), LogLine(T0, "a", "a"), LogLine(T0 + 5, "b", "b")]
        batches = plan_batches(lines)
        assert [[ln.id for ln in b] for b in batches] == [["a", "b"], ["c"]]

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(0, 3 * 86_400_000), st.integers(0, 3000)),
            max_size=300,
        ),
        st.integers(1, 50),
        st.integers(3100, 20_000),
    )
    def test_property_every_line_once_and_every_batch_within_limits(
        self, spec: list[tuple[int, int]], max_events: int, max_bytes: int
    ) -> None:
        lines = [LogLine(T0 + ts, "m" * size, f"{i}") for i, (ts, size) in enumerate(spec)]
        batches = plan_batches(lines, max_events=max_events, max_bytes=max_bytes)
        flat = [ln for b in batches for ln in b]
        assert sorted(ln.id for ln in flat) == sorted(ln.id for ln in lines)
        assert [ln.timestamp for ln in flat] == sorted(ln.timestamp for ln in lines)
        for b in batches:
            assert 1 <= len(b) <= max_events
            assert sum(ln.size for ln in b) <= max_bytes
            assert b[-1].timestamp - b[0].timestamp < 24 * 3600 * 1000


# --- subscription decoding --------------------------------------------------------------------------------


class TestSubscription:
    def test_given_data_message_then_events(self) -> None:
        p = decode_record_data(payload(["a", "b"]))
        assert not p.is_control and [e.message for e in p.log_events] == ["a", "b"]
        assert p.log_events[1].event_id == "1" and p.log_group == "/aws/lambda/authorizer"

    def test_given_control_message_then_flagged(self) -> None:
        assert decode_record_data(payload([], control=True)).is_control

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"not gzip", "bad_gzip"),
            (gzip.compress(b"{not json"), "bad_json"),
            (gzip.compress(b'{"messageType":"OTHER"}'), "bad_message_type"),
            (gzip.compress(b'{"messageType":"DATA_MESSAGE","logGroup":"g"}'), "bad_payload"),
            (gzip.compress(b"x")[:-4], "bad_gzip"),
        ],
    )
    def test_given_bad_data_then_typed_error(self, data: bytes, reason: str) -> None:
        with pytest.raises(SubscriptionDecodeError) as info:
            decode_record_data(data)
        assert info.value.reason == reason


# --- consumer with a fake sink ------------------------------------------------------------------------------


def consumer(
    logs: FakeLogs | None = None, table: DictCheckpointTable | None = None, **kw: Any
) -> AuditConsumer:
    return AuditConsumer(shard_writer(logs or FakeLogs(), table or DictCheckpointTable(), **kw), SOURCES)


def shard_writer(
    logs: FakeLogs, table: DictCheckpointTable, clock: FakeClock | None = None, **kw: Any
) -> ShardWriter:
    clock = clock or FakeClock(T0 / 1000)
    return ShardWriter(
        AuditLogWriter("audit", logs, clock=clock.time),  # type: ignore[arg-type]
        CheckpointStore("checkpoints", table),  # type: ignore[arg-type]
        clock=clock.time,
        sleep=clock.sleep,
        jitter=lambda: 0.5,
        **kw,
    )


class TestConsumer:
    def test_given_mixed_lines_then_events_skips_and_malformed_counted(self) -> None:
        logs = FakeLogs()
        out = consumer(logs).process_batch([source(payload([line(), "START RequestId: 1", "garbage"]))])
        assert (out.events, out.written, out.skipped_lines, out.malformed, out.failed) == (2, 2, 1, 1, [])
        assert list(logs.groups["audit"]) == ["kinesis/audit/shardId-000000000000"]

    def test_given_control_message_then_nothing_written_but_the_record_committed(self) -> None:
        logs, table = FakeLogs(), DictCheckpointTable()
        out = consumer(logs, table).process_batch([source(payload([], control=True))])
        assert (out.control, out.written, out.failed) == (1, 0, [])
        assert logs.groups["audit"] == {}
        assert table.items[checkpoint_key("audit", "shardId-000000000000")]["committed"] == {"S": "100"}

    def test_given_undecodable_record_then_one_malformed_event_with_stable_id(self) -> None:
        a = normalise_record(source(b"\x00\x01garbage"), SOURCES)
        b = normalise_record(source(b"\x00\x01garbage"), SOURCES)
        assert len(a.events) == 1 and a.events[0].kind == "malformed"
        assert a.events[0].id == b.events[0].id
        assert json.loads(a.events[0].to_json())["error"] == "undecodable_record:bad_gzip"

    def test_given_same_batch_twice_then_written_once(self) -> None:
        c = consumer()
        data = payload([line("a"), line("b")])
        first, second = c.process_batch([source(data)]), c.process_batch([source(data)])
        assert (first.written, second.written, second.duplicates) == (2, 0, 2)

    def test_given_records_of_two_shards_then_each_its_stream_and_checkpoint(self) -> None:
        logs, table = FakeLogs(), DictCheckpointTable()
        other = KinesisSource(
            "arn:aws:kinesis:us-east-1:123456789012:stream/audit",
            "shardId-000000000001",
            "7",
            source(payload([line("z")])).data_b64,
            T0,
        )
        out = consumer(logs, table).process_batch([source(payload([line("a")])), other])
        assert out.written == 2 and out.failed == []
        assert sorted(logs.groups["audit"]) == [
            "kinesis/audit/shardId-000000000000",
            "kinesis/audit/shardId-000000000001",
        ]
        assert sorted(table.items) == ["audit/shardId-000000000000", "audit/shardId-000000000001"]

    def test_shard_of_event_id(self) -> None:
        assert shard_of("shardId-000000000001:4954") == "shardId-000000000001"
        assert stream_for_shard("arn:aws:kinesis:us-east-1:1:stream/audit", "s:1*") == "kinesis/audit/s_1_"


# --- writer with a scripted fake client ---------------------------------------------------------------------


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeLogs:
    """Just enough of CloudWatch Logs for the writer; ``fail`` scripts errors per operation, ``reject``
    scripts ``rejectedLogEventsInfo`` answers of ``PutLogEvents``."""

    def __init__(self, group_exists: bool = True) -> None:
        self.groups: dict[str, dict[str, list[dict[str, Any]]]] = {"audit": {}} if group_exists else {}
        self.fail: dict[str, list[str]] = {}
        self.reject: list[dict[str, int]] = []
        self.calls: list[str] = []

    def _maybe_fail(self, op: str) -> None:
        self.calls.append(op)
        queue = self.fail.get(op)
        if queue:
            raise ClientError(queue.pop(0))

    def create_log_group(self, logGroupName: str) -> None:
        self._maybe_fail("create_log_group")
        self.groups.setdefault(logGroupName, {})

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        self._maybe_fail("create_log_stream")
        if logGroupName not in self.groups:
            raise ClientError("ResourceNotFoundException")
        if logStreamName in self.groups[logGroupName]:
            raise ClientError("ResourceAlreadyExistsException")
        self.groups[logGroupName][logStreamName] = []

    def put_log_events(
        self, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self._maybe_fail("put_log_events")
        ts = [e["timestamp"] for e in logEvents]
        assert ts == sorted(ts), "PutLogEvents needs chronological order"
        if logStreamName not in self.groups.get(logGroupName, {}):
            raise ClientError("ResourceNotFoundException")
        info = self.reject.pop(0) if self.reject else {}
        rejected = set(range(info.get("tooOldLogEventEndIndex", 0)))
        self.groups[logGroupName][logStreamName].extend(
            e for i, e in enumerate(logEvents) if i not in rejected
        )
        return {"rejectedLogEventsInfo": info} if info else {}

    def get_log_events(self, **kw: Any) -> dict[str, Any]:
        self._maybe_fail("get_log_events")
        if kw["logStreamName"] not in self.groups.get(kw["logGroupName"], {}):
            raise ClientError("ResourceNotFoundException")
        events = [
            e
            for e in self.groups[kw["logGroupName"]][kw["logStreamName"]]
            if kw.get("startTime", 0) <= e["timestamp"] < kw.get("endTime", 2**62)
        ]
        token = kw.get("nextToken", "f/0")
        start = int(token.split("/")[1])
        page = events[start : start + 2]  # tiny pages to exercise pagination
        return {"events": page, "nextForwardToken": f"f/{start + len(page)}"}


def events(n: int) -> list[AuditEvent]:
    return [
        AuditEvent(id=f"{i:032x}", kind="decision", time_ms=T0 + n - i, fields={"sub": str(i)})
        for i in range(n)
    ]


def ids_in(logs: FakeLogs, stream: str) -> list[str]:
    return [json.loads(e["message"])["id"] for e in logs.groups["audit"][stream]]


class TestWriter:
    def writer(self, logs: FakeLogs, **kw: Any) -> AuditLogWriter:
        return AuditLogWriter("audit", logs, clock=lambda: T0 / 1000, **kw)  # type: ignore[arg-type]

    def test_given_new_stream_then_all_written_without_readback(self) -> None:
        logs = FakeLogs()
        res = self.writer(logs).write("s", events(5))
        assert (res.written, res.duplicates) == (5, 0)
        assert "get_log_events" not in logs.calls
        assert sorted(ids_in(logs, "s")) == sorted(e.id for e in events(5))

    def test_given_partial_earlier_write_then_retry_completes_without_duplicates(self) -> None:
        # GIVEN a first attempt that wrote only some events (crash between two batches)
        logs = FakeLogs()
        w = self.writer(logs)
        w.write("s", events(5)[:2])
        # WHEN the record is redelivered
        res = w.write("s", events(5))
        # THEN only the missing events are written, each once
        assert (res.written, res.duplicates) == (3, 2)
        ids = ids_in(logs, "s")
        assert len(ids) == len(set(ids)) == 5

    def test_given_throttled_put_then_typed_error_and_retry_is_exact(self) -> None:
        logs = FakeLogs()
        logs.fail["put_log_events"] = ["ThrottlingException"]
        w = self.writer(logs)
        with pytest.raises(AuditWriteThrottledError):
            w.write("s", events(3))
        w.write("s", events(3))
        assert len(ids_in(logs, "s")) == 3

    def test_given_missing_group_then_error_unless_allowed_to_create(self) -> None:
        with pytest.raises(AuditLogGroupMissingError):
            self.writer(FakeLogs(group_exists=False)).write("s", events(1))
        logs = FakeLogs(group_exists=False)
        logs.groups.pop("audit", None)
        res = self.writer(logs, create_missing_group=True).write("s", events(2))
        assert res.written == 2 and "create_log_group" in logs.calls

    def test_given_rejected_events_then_error(self) -> None:
        logs = FakeLogs()
        logs.put_log_events = lambda **kw: {"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 0}}  # type: ignore[method-assign]
        with pytest.raises(AuditWriteRejectedError):
            self.writer(logs).write("s", events(1))

    def test_given_old_or_future_times_then_log_timestamp_clamped_but_time_kept(self) -> None:
        logs = FakeLogs()
        old = AuditEvent(id="a" * 32, kind="decision", time_ms=T0 - 30 * 86_400_000, fields={})
        fut = AuditEvent(id="b" * 32, kind="decision", time_ms=T0 + 5 * 3_600_000, fields={})
        self.writer(logs).write("s", [old, fut])
        stored = logs.groups["audit"]["s"]
        assert stored[0]["timestamp"] > T0 - 14 * 86_400_000 and stored[1]["timestamp"] < T0 + 2 * 3_600_000
        assert json.loads(stored[0]["message"])["time"].startswith("2023-10-15")

    def test_given_settle_then_sleeps_only_on_redelivery(self) -> None:
        logs, slept = FakeLogs(), list[float]()
        w = self.writer(logs, settle_seconds=2.0, sleep=slept.append)
        w.write("s", events(1))
        assert slept == []
        w.write("s", events(1))
        assert slept == [2.0]


# --- exactly once: the shard writer with fakes ----------------------------------------------------------------

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/audit"
SHARD = "shardId-000000000000"
STREAM = "kinesis/audit/shardId-000000000000"


def batch(first: int, count: int, per_record: int = 2) -> list[RecordEvents]:
    return [
        RecordEvents(
            first + r,
            tuple(
                AuditEvent(
                    id=f"{first + r:016x}{i:016x}", kind="decision", time_ms=T0 + r * 10 + i, fields={"r": r}
                )
                for i in range(per_record)
            ),
        )
        for r in range(count)
    ]


def stream_ids(logs: FakeLogs) -> list[str]:
    return [json.loads(e["message"])["id"] for e in logs.groups["audit"].get(STREAM, [])]


def assert_once(logs: FakeLogs, records: list[RecordEvents]) -> None:
    ids = stream_ids(logs)
    assert len(ids) == len(set(ids)), "an event was written twice"
    assert set(ids) == {e.id for r in records for e in r.events}


class TestShardWriter:
    def test_given_events_rejected_for_their_time_then_written_again_stamped_now(self) -> None:
        # GIVEN CloudWatch Logs rejecting the first line as older than the group's retention
        logs, table, clock = FakeLogs(), DictCheckpointTable(), FakeClock(T0 / 1000 + 3600)
        logs.create_log_stream(logGroupName="audit", logStreamName=STREAM)
        logs.reject.append({"tooOldLogEventEndIndex": 1})
        records = batch(1, 2)
        # WHEN
        out = shard_writer(logs, table, clock).write(ARN, SHARD, records)
        # THEN every event once, the rejected one with the current time as its log timestamp (its
        # `time` field unchanged), and the checkpoint committed with no intent left
        assert (out.failed_from, out.rejected, out.written) == (None, 1, 4)
        assert_once(logs, records)
        restamped = logs.groups["audit"][STREAM][-1]
        assert restamped["timestamp"] == int(clock.time() * 1000)
        assert json.loads(restamped["message"])["time"].startswith("2023-11-14T22:13:20")
        item = table.items[checkpoint_key(ARN, SHARD)]
        assert item["committed"] == {"S": "2"} and "last" not in item

    def test_given_the_deadline_near_then_nothing_written_and_the_whole_batch_delivered_again(self) -> None:
        logs, table, clock = FakeLogs(), DictCheckpointTable(), FakeClock(T0 / 1000)
        out = shard_writer(logs, table, clock).write(
            ARN, SHARD, batch(1, 3), deadline_ms=int(clock.time() * 1000) + 1000
        )
        assert (out.failed_from, out.written) == (1, 0)
        assert "deadline" in (out.error or "")
        assert "put_log_events" not in logs.calls
        assert "last" not in table.items[checkpoint_key(ARN, SHARD)]  # nothing can be in the stream

    def test_given_a_record_split_over_calls_and_the_second_refused_then_the_redelivery_reads_back(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # GIVEN calls of at most 2 lines: record 1 (2 lines), record 2 (3 lines: split in 2 calls)
        from edgeauth.audit import shard_writer as mod

        monkeypatch.setattr(mod, "plan_calls", lambda recs: plan_calls(recs, max_events=2))
        logs, table = FakeLogs(), DictCheckpointTable()
        logs.create_log_stream(logGroupName="audit", logStreamName=STREAM)
        records = [*batch(1, 1), *batch(2, 1, per_record=3)]
        calls = {"n": 0}
        real = logs.put_log_events

        def third_refused(**kw: Any) -> dict[str, Any]:
            calls["n"] += 1
            if calls["n"] >= 3:
                raise ClientError("ThrottlingException")
            return real(**kw)

        logs.put_log_events = third_refused  # type: ignore[method-assign]
        w = shard_writer(logs, table, max_put_attempts=1)
        out = w.write(ARN, SHARD, records)
        # THEN record 1 is committed, record 2 delivered again, and the intent stays, released, over
        # the window of record 2's first part (which is in the stream)
        assert (out.committed, out.failed_from) == (1, 2)
        item = table.items[checkpoint_key(ARN, SHARD)]
        assert item["committed"] == {"S": "1"} and "owner" not in item and item["last"] == {"S": "2"}
        # WHEN Lambda delivers record 2 again, and CloudWatch Logs accepts it
        logs.put_log_events = real  # type: ignore[method-assign]
        again = w.write(ARN, SHARD, records[1:])
        # THEN the written part is found by one readback and the rest written once
        assert (again.failed_from, again.readbacks, again.written) == (None, 1, 1)
        assert_once(logs, records)

    def test_given_a_refused_first_call_then_no_intent_left_and_no_readback_next_time(self) -> None:
        logs, table = FakeLogs(), DictCheckpointTable()
        logs.create_log_stream(logGroupName="audit", logStreamName=STREAM)
        logs.fail["put_log_events"] = ["ThrottlingException"]
        w = shard_writer(logs, table, max_put_attempts=1)
        records = batch(1, 2)
        assert w.write(ARN, SHARD, records).failed_from == 1
        assert "last" not in table.items[checkpoint_key(ARN, SHARD)]
        assert w.write(ARN, SHARD, records).readbacks == 0
        assert_once(logs, records)

    def test_given_a_checkpoint_write_applied_but_its_answer_lost_then_the_retry_is_recognised(self) -> None:
        # GIVEN DynamoDB applying the intent but the answer lost, and botocore retrying the write
        logs, table = FakeLogs(), DictCheckpointTable()
        real_put = table.put_item
        lost = {"n": 0}

        def applied_then_retried(**kw: Any) -> dict[str, Any]:
            real_put(**kw)
            if lost["n"] == 0:
                lost["n"] += 1
                return real_put(**kw)  # the retry of the same write: its condition now fails
            return {}

        table.put_item = applied_then_retried  # type: ignore[method-assign]
        records = batch(1, 2)
        out = shard_writer(logs, table).write(ARN, SHARD, records)
        assert out.failed_from is None and out.error is None
        assert_once(logs, records)

    def test_given_someone_takes_the_shard_mid_batch_then_we_stop_and_commit_nothing(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from edgeauth.audit import shard_writer as mod

        monkeypatch.setattr(mod, "plan_calls", lambda recs: plan_calls(recs, max_events=2))
        logs, table, clock = FakeLogs(), DictCheckpointTable(), FakeClock(T0 / 1000)
        logs.create_log_stream(logGroupName="audit", logStreamName=STREAM)
        real = logs.put_log_events
        key = checkpoint_key(ARN, SHARD)

        def slow_then_overtaken(**kw: Any) -> dict[str, Any]:
            result = real(**kw)
            # after our first call, our lease runs out and another writer bumps the version
            clock.advance((LEASE_MS + SETTLE_MS) / 1000)
            item = table.items[key]
            table.items[key] = {**item, "version": {"N": str(int(item["version"]["N"]) + 1)}}
            return result

        logs.put_log_events = slow_then_overtaken  # type: ignore[method-assign]
        out = shard_writer(logs, table, clock).write(ARN, SHARD, batch(1, 3))
        assert out.failed_from == 1 and "lost the shard" in (out.error or "")
        assert "committed" not in table.items[key]
        assert len(stream_ids(logs)) == 2  # one call went out; the second was never started

    def test_given_another_writer_holding_the_shard_past_our_deadline_then_we_give_up_without_writing(
        self,
    ) -> None:
        logs, table, clock = FakeLogs(), DictCheckpointTable(), FakeClock(T0 / 1000)
        now = int(clock.time() * 1000)
        table.items[checkpoint_key(ARN, SHARD)] = {
            "pk": {"S": checkpoint_key(ARN, SHARD)},
            "version": {"N": "3"},
            "owner": {"S": "someone"},
            "lease_until": {"N": str(now + 60_000)},
            "first": {"S": "1"},
            "last": {"S": "3"},
            "min_ms": {"N": str(T0)},
            "max_ms": {"N": str(T0 + 100)},
            "digest": {"S": "x"},
        }
        out = shard_writer(logs, table, clock).write(ARN, SHARD, batch(1, 3), deadline_ms=now + 10_000)
        assert out.failed_from == 1 and "held by another writer" in (out.error or "")
        assert "put_log_events" not in logs.calls and clock.total_slept == 0

    def test_replay_of_dead_lettered_records_reads_back_first_and_writes_only_what_is_missing(self) -> None:
        # GIVEN dead-lettered records of which an earlier attempt wrote the first one
        logs, table = FakeLogs(), DictCheckpointTable()
        records = batch(5, 3)
        w = shard_writer(logs, table)
        w.write(ARN, SHARD, records[:1])
        table.items.clear()  # the earlier attempt's checkpoint says nothing about the replay
        # WHEN they are re-driven under their own checkpoint key
        key = f"{checkpoint_key(ARN, SHARD)}/replay/5-7"
        first = w.write(ARN, SHARD, records, key=key, assume_written=True)
        second = w.write(ARN, SHARD, records, key=key, assume_written=True)
        # THEN once each: the first replay read back and wrote the two missing records, the second none
        assert (first.readbacks, first.written, first.duplicates) == (1, 4, 2)
        assert (second.written, second.duplicates) == (0, 6)
        assert_once(logs, records)


def test_id_of_reads_the_third_key_or_parses() -> None:
    ev = AuditEvent(id="ab" * 16, kind="access", time_ms=T0, fields={"sub": "x"})
    assert id_of(ev.to_json()) == "ab" * 16
    assert id_of('{"id":"zz"}') == "zz" and id_of("not json") is None


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3 * 86_400_000), st.integers(0, 400)), max_size=6), max_size=12
    ),
    st.integers(1, 7),
    st.integers(600, 3000),
)
def test_property_plan_calls_whole_records_and_a_true_through(
    spec: list[list[tuple[int, int]]], max_events: int, max_bytes: int
) -> None:
    records = [
        (100 + r, [LogLine(T0 + ts, "m" * size, f"{r}-{i}") for i, (ts, size) in enumerate(lines)])
        for r, lines in enumerate(spec)
    ]
    calls, head = plan_calls(records, max_events=max_events, max_bytes=max_bytes)
    where = {ln.id: k for k, call in enumerate(calls) for ln in call.lines}
    assert sorted(where) == sorted(ln.id for _, lines in records for ln in lines)  # every line once
    for call in calls:
        assert 1 <= len(call.lines) <= max_events and sum(ln.size for ln in call.lines) <= max_bytes
        assert [ln.timestamp for ln in call.lines] == sorted(ln.timestamp for ln in call.lines)
        assert call.lines[-1].timestamp - call.lines[0].timestamp < 24 * 3600 * 1000
    throughs = [c.through for c in calls]
    assert [t for t in throughs if t is not None] == sorted(t for t in throughs if t is not None)
    for k in range(len(calls) + 1):
        done = head if k == 0 else calls[k - 1].through
        # Once calls 0 .. k-1 are written: every record up to `done` is complete, the next one is not.
        for sequence, lines in records:
            if done is not None and sequence <= done:
                assert all(where[ln.id] < k for ln in lines), (k, sequence)
        after = [lines for sequence, lines in records if done is None or sequence > done]
        if after:
            assert after[0] and not all(where[ln.id] < k for ln in after[0])


def test_events_rejected_even_stamped_now_stop_the_call_and_leave_a_released_window() -> None:
    # GIVEN CloudWatch Logs rejecting the first line of every call, whatever its time
    logs, table = FakeLogs(), DictCheckpointTable()
    logs.create_log_stream(logGroupName="audit", logStreamName=STREAM)
    logs.reject.extend([{"tooOldLogEventEndIndex": 1}] * 2)
    records = batch(1, 2)
    clock = FakeClock(T0 / 1000 + 3600)  # an hour after the events
    w = shard_writer(logs, table, clock)
    # WHEN
    out = w.write(ARN, SHARD, records)
    # THEN the batch is delivered again, and the intent stays released over a window that reaches
    # the lines stamped now (so the redelivery reads back what did land)
    assert out.failed_from == 1 and "rejected even stamped now" in (out.error or "")
    item = table.items[checkpoint_key(ARN, SHARD)]
    assert "owner" not in item and int(item["max_ms"]["N"]) >= int(clock.time() * 1000)
    again = w.write(ARN, SHARD, records)
    assert again.failed_from is None and again.readbacks == 1
    assert_once(logs, records)
