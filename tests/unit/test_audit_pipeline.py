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

from edgeauth.audit.batching import EVENT_OVERHEAD_BYTES, LogLine, plan_batches
from edgeauth.audit.consumer import AuditConsumer, KinesisSource, normalise_record, shard_of
from edgeauth.audit.schema import AuditEvent, AuditSources
from edgeauth.audit.subscription import SubscriptionDecodeError, decode_record_data
from edgeauth.audit.writer import (
    AuditLogGroupMissingError,
    AuditLogWriter,
    AuditWriteRejectedError,
    AuditWriteThrottledError,
    WriteResult,
    stream_for_kinesis_record,
)
from edgeauth.core.audit_line import DecisionRecord, decision_line

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


class FakeSink:
    def __init__(self) -> None:
        self.streams: dict[str, list[AuditEvent]] = {}

    def write(self, stream: str, events: Sequence[AuditEvent]) -> WriteResult:
        have = self.streams.setdefault(stream, [])
        ids = {e.id for e in have}
        new = [e for e in events if e.id not in ids]
        have.extend(new)
        return WriteResult(stream, len(new), len(events) - len(new))


class TestConsumer:
    def test_given_mixed_lines_then_events_skips_and_malformed_counted(self) -> None:
        sink = FakeSink()
        out = AuditConsumer(sink, SOURCES).process(source(payload([line(), "START RequestId: 1", "garbage"])))
        assert (out.events, out.written, out.skipped_lines, out.malformed) == (2, 2, 1, 1)
        (stream,) = sink.streams
        assert stream == "kinesis/audit/shardId-000000000000/100"

    def test_given_control_message_then_nothing_written(self) -> None:
        sink = FakeSink()
        assert AuditConsumer(sink, SOURCES).process(source(payload([], control=True))).control
        assert sink.streams == {}

    def test_given_undecodable_record_then_one_malformed_event_with_stable_id(self) -> None:
        a = normalise_record(source(b"\x00\x01garbage"), SOURCES)
        b = normalise_record(source(b"\x00\x01garbage"), SOURCES)
        assert len(a.events) == 1 and a.events[0].kind == "malformed"
        assert a.events[0].id == b.events[0].id
        assert json.loads(a.events[0].to_json())["error"] == "undecodable_record:bad_gzip"

    def test_given_same_record_twice_then_written_once(self) -> None:
        sink = FakeSink()
        consumer = AuditConsumer(sink, SOURCES)
        data = payload([line("a"), line("b")])
        first, second = consumer.process(source(data)), consumer.process(source(data))
        assert (first.written, second.written, second.duplicates) == (2, 0, 2)

    def test_shard_of_event_id(self) -> None:
        assert shard_of("shardId-000000000001:4954") == "shardId-000000000001"
        assert stream_for_kinesis_record("audit", "s:1", "2*") == "kinesis/audit/s_1/2_"


# --- writer with a scripted fake client ---------------------------------------------------------------------


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeLogs:
    """Just enough of CloudWatch Logs for the writer; ``fail`` scripts errors per operation."""

    def __init__(self, group_exists: bool = True) -> None:
        self.groups: dict[str, dict[str, list[dict[str, Any]]]] = {"audit": {}} if group_exists else {}
        self.fail: dict[str, list[str]] = {}
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
        self.groups[logGroupName][logStreamName].extend(logEvents)
        return {}

    def get_log_events(self, **kw: Any) -> dict[str, Any]:
        self._maybe_fail("get_log_events")
        events = self.groups[kw["logGroupName"]][kw["logStreamName"]]
        start = int(kw.get("nextToken", "f/0").split("/")[1])
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
