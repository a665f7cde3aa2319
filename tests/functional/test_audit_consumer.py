"""The audit consumer end to end on moto: log groups → subscription filters → Kinesis → handler → audit group.

moto really forwards subscription filters to Kinesis in the CloudWatch Logs gzip format (it ignores
the filter pattern, which the consumer tolerates by skipping non-audit lines). The checkpoint table
is a moto DynamoDB table built from the same constants as the stack's. Each test injects a fault
(throttling, a crash between two calls, an unknown outcome, a second invocation on the shard),
replays what Lambda would deliver again, and checks that every audit event is in the audit log group
exactly once, and how much the recovery cost (calls, readbacks, waits on a clock that only moves when
the consumer sleeps).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from audit_consumer import handler as consumer_handler
from edgeauth import constants as C
from edgeauth.audit import batching
from edgeauth.audit import shard_writer as shard_writer_mod
from edgeauth.audit.checkpoint import CheckpointStore
from edgeauth.audit.consumer import AuditConsumer
from edgeauth.audit.schema import AuditSources, role_change_event
from edgeauth.audit.shard_writer import LEASE_MS, SETTLE_MS, ShardWriter
from edgeauth.audit.writer import AuditLogWriter, stream_for_role_change
from edgeauth.core.audit_line import DecisionRecord, decision_line
from tests.support.clock import FakeClock

REGION = "us-east-1"
AUTH_GROUP = "/aws/lambda/edgeauth-authorizer"
ACCESS_GROUP = "edgeauth-access"
AUDIT_GROUP = "edgeauth-audit"
STREAM = "edgeauth-audit-stream"
CHECKPOINTS = "edgeauth-audit-checkpoints"
SOURCES = AuditSources(authorizer_log_group=AUTH_GROUP, access_log_group=ACCESS_GROUP)


class Crash(BaseException):
    """The Lambda process dies (timeout, OOM): Powertools does not catch BaseException."""


class FakeContext:
    function_name = "audit-consumer"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:audit-consumer"
    aws_request_id = "req"


def create_checkpoint_table(ddb: Any, name: str = CHECKPOINTS) -> None:
    """The checkpoint table as the stack defines it (key from the same constant)."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": C.CHECKPOINT_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": C.CHECKPOINT_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def make_consumer(env: dict[str, Any], *, create_missing_group: bool = False, **writer: Any) -> AuditConsumer:
    logs_writer = AuditLogWriter(AUDIT_GROUP, env["logs"], create_missing_group=create_missing_group)
    clock: FakeClock = env["clock"]
    shard = ShardWriter(
        logs_writer, CheckpointStore(CHECKPOINTS, env["ddb"]), clock=clock.time, sleep=clock.sleep, **writer
    )
    return AuditConsumer(shard, SOURCES)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", C.METRICS_NAMESPACE)
    with mock_aws():
        logs = boto3.client("logs", region_name=REGION)
        kinesis = boto3.client("kinesis", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_checkpoint_table(ddb)
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        arn = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["StreamARN"]
        for group in (AUTH_GROUP, ACCESS_GROUP, AUDIT_GROUP):
            logs.create_log_group(logGroupName=group)
        for group in (AUTH_GROUP, ACCESS_GROUP):
            logs.create_log_stream(logGroupName=group, logStreamName="src")
            logs.put_subscription_filter(
                logGroupName=group,
                filterName="audit",
                filterPattern="",
                destinationArn=arn,
                roleArn="arn:aws:iam::123456789012:role/cwl-to-kinesis",
            )
        e: dict[str, Any] = {
            "logs": logs,
            "kinesis": kinesis,
            "ddb": ddb,
            "arn": arn,
            "clock": FakeClock(),
            "writer": AuditLogWriter(AUDIT_GROUP, logs),
        }
        e["calls"] = count_calls(monkeypatch, logs, ddb)
        consumer_handler.set_consumer(make_consumer(e))
        yield e
        consumer_handler.set_consumer(None)


def count_calls(monkeypatch: pytest.MonkeyPatch, logs: Any, ddb: Any) -> Counter[str]:
    """Count every call the consumer makes to the audit log group and the checkpoint table (wrapping
    the client methods; a test may wrap them again to inject faults)."""
    calls: Counter[str] = Counter()
    for client, names in (
        (logs, ("put_log_events", "get_log_events", "create_log_stream")),
        (ddb, ("get_item", "put_item")),
    ):
        for name in names:
            real = getattr(client, name)

            def counted(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
                if kw.get("logGroupName", AUDIT_GROUP) == AUDIT_GROUP:
                    calls[_name] += 1
                return _real(*a, **kw)

            monkeypatch.setattr(client, name, counted)
    return calls


_ts = [1]


def put(logs: Any, group: str, messages: list[str]) -> None:
    import time

    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName="src", logEvents=events)


def decision(sub: str, **kw: Any) -> str:
    return decision_line(
        DecisionRecord(
            decision=kw.pop("decision", "allow"), reason=kw.pop("reason", "allowed"), sub=sub, **kw
        )
    )


def access(status: str, **kw: str) -> str:
    body = {k: "-" for k in C.ACCESS_LOG_FIELDS}
    body.update(
        requestId=kw.pop("requestId", "r"),
        httpMethod="GET",
        resourcePath="/accounts/{id}",
        path="/accounts/1",
        status=status,
    )
    body.update(kw)
    return json.dumps(body)


def kinesis_event(env: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record in the stream, shaped as Lambda delivers Kinesis records."""
    kinesis, arn = env["kinesis"], env["arn"]
    shard = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = kinesis.get_records(ShardIterator=it, Limit=10_000)["Records"]
    return [
        {
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{r['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "eventSourceARN": arn,
            "awsRegion": REGION,
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": r["PartitionKey"],
                "sequenceNumber": r["SequenceNumber"],
                "data": base64.b64encode(r["Data"]).decode(),
                "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
            },
        }
        for r in records
    ]


def invoke(records: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = consumer_handler.handler({"Records": records}, FakeContext())
    return result


def redelivery(records: list[dict[str, Any]], response: dict[str, Any]) -> list[dict[str, Any]]:
    """What Lambda redelivers after a partial batch response: from the lowest failed sequence number on."""
    failed = [int(f["itemIdentifier"]) for f in response["batchItemFailures"]]
    if not failed:
        return []
    return [r for r in records if int(r["kinesis"]["sequenceNumber"]) >= min(failed)]


def audit_events(logs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": AUDIT_GROUP}
    while True:
        resp = logs.filter_log_events(**kwargs)
        out += [json.loads(e["message"]) for e in resp["events"]]
        if not resp.get("nextToken"):
            return out
        kwargs["nextToken"] = resp["nextToken"]


def assert_exactly_once(logs: Any, expected: int) -> list[dict[str, Any]]:
    events = audit_events(logs)
    dupes = {k: n for k, n in Counter(e["id"] for e in events).items() if n > 1}
    assert dupes == {}, f"duplicated audit events: {dupes}"
    assert len(events) == expected
    return events


def client_error(code: str, op: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, op
    )


def seed(env: dict[str, Any]) -> int:
    """Four subscription records: two from the authorizer group, two from the access log group."""
    logs = env["logs"]
    put(
        logs,
        AUTH_GROUP,
        [
            decision("alice"),
            "START RequestId: 1 Version: $LATEST",
            decision("bob", decision="deny", reason="no_roles"),
        ],
    )
    put(
        logs,
        ACCESS_GROUP,
        [access("200", apiKeyId="k1", sub="alice"), access("401", errorResponseType="UNAUTHORIZED")],
    )
    put(logs, AUTH_GROUP, [decision("carol")])
    put(
        logs,
        ACCESS_GROUP,
        [
            access("429", errorResponseType="THROTTLED", apiKeyId="k2"),
            access("403", errorResponseType="MISSING_AUTHENTICATION_TOKEN", resourcePath="-"),
        ],
    )
    return 7  # audit events (the START line is not audit data)


def test_given_subscription_records_when_consumed_then_normalised_events_once(env: dict[str, Any]) -> None:
    # GIVEN lines in both source groups, forwarded by the subscription filters to Kinesis
    expected = seed(env)
    records = kinesis_event(env)
    assert len(records) == 4
    # WHEN
    response = invoke(records)
    # THEN
    assert response == {"batchItemFailures": []}
    events = assert_exactly_once(env["logs"], expected)
    kinds = Counter(e["kind"] for e in events)
    assert kinds == {"decision": 3, "access": 4}
    refusals = {(e["status"], e.get("refused_by"), e.get("reason")) for e in events if e["kind"] == "access"}
    assert refusals == {
        (200, None, None),
        (401, "gateway", "missing_token"),
        (429, "gateway", "throttled"),
        (403, "gateway", "unknown_route"),
    }


def test_normal_path_one_stream_per_shard_created_once_one_call_and_no_readback(env: dict[str, Any]) -> None:
    # GIVEN two batches of the same shard
    seed(env)
    first = kinesis_event(env)
    invoke(first)
    put(env["logs"], AUTH_GROUP, [decision("dave")])
    second = kinesis_event(env)[len(first) :]
    # WHEN
    assert invoke(second) == {"batchItemFailures": []}
    # THEN one log stream for the shard; each batch one PutLogEvents call and its checkpoint's intent
    # and commit; the stream created once; nothing read back; the second batch needs no checkpoint read
    streams = env["logs"].describe_log_streams(logGroupName=AUDIT_GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"kinesis/{STREAM}/shardId-000000000000"]
    calls = env["calls"]
    assert calls["put_log_events"] == 3  # the first batch's: refused (no stream yet), then put
    assert (calls["create_log_stream"], calls["get_log_events"]) == (1, 0)
    assert (calls["get_item"], calls["put_item"]) == (1, 4)
    assert_exactly_once(env["logs"], 8)


def test_given_whole_batch_redelivered_then_no_duplicates_and_nothing_written_or_read(
    env: dict[str, Any],
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    invoke(records)
    before = Counter(env["calls"])
    # WHEN Lambda delivers the same batch again (e.g. after a timeout reported as a failure)
    assert invoke(records) == {"batchItemFailures": []}
    # THEN the checkpoint says it is done: no write, no readback
    assert_exactly_once(env["logs"], expected)
    delta = env["calls"] - before
    assert delta["put_log_events"] == delta["get_log_events"] == delta["put_item"] == 0


def test_given_a_bisected_or_partial_redelivery_then_exact(env: dict[str, Any]) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    # Lambda bisects: the first half alone, then the whole batch again, then the second half.
    assert invoke(records[:2]) == {"batchItemFailures": []}
    assert invoke(records) == {"batchItemFailures": []}
    assert invoke(records[2:]) == {"batchItemFailures": []}
    assert_exactly_once(env["logs"], expected)
    assert env["calls"]["get_log_events"] == 0


def test_given_throttled_put_then_retried_with_backoff_within_the_invocation(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    real_put = logs.put_log_events
    thrown: list[int] = []

    def throttled_twice(**kw: Any) -> Any:
        if len(thrown) < 2:
            thrown.append(1)
            raise client_error("ThrottlingException", "PutLogEvents")
        return real_put(**kw)

    monkeypatch.setattr(logs, "put_log_events", throttled_twice)
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)
    assert 0 < env["clock"].total_slept < 1.0  # two backoffs
    assert env["calls"]["get_log_events"] == 0


def test_given_throttling_that_outlasts_the_retries_then_committed_prefix_and_exact_redelivery(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one record per PutLogEvents call, and CloudWatch Logs refusing every call after the first
    monkeypatch.setattr(shard_writer_mod, "plan_calls", lambda recs: batching.plan_calls(recs, max_events=2))
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    real_put = logs.put_log_events
    state = {"ok": 1, "throttle": True}

    def refusing(**kw: Any) -> Any:
        if state["ok"] <= 0 and state["throttle"]:
            raise client_error("ThrottlingException", "PutLogEvents")
        state["ok"] -= 1
        return real_put(**kw)

    monkeypatch.setattr(logs, "put_log_events", refusing)
    state["ok"] = 2  # the first call is refused for want of a stream, then created and written
    # WHEN
    response = invoke(records)
    # THEN the first record is committed and Lambda is told to deliver again from the second
    assert response["batchItemFailures"] == [{"itemIdentifier": records[1]["kinesis"]["sequenceNumber"]}]
    assert len(audit_events(logs)) == 2
    # WHEN the throttling ends and Lambda delivers from the second record on
    state["throttle"] = False
    assert invoke(redelivery(records, response)) == {"batchItemFailures": []}
    # THEN everything once, and no readback was needed: refused calls wrote nothing
    assert_exactly_once(logs, expected)
    assert env["calls"]["get_log_events"] == 0


def test_given_crash_between_two_calls_then_redelivery_waits_out_the_lease_reads_back_once(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one record per call and the process dying during the third call (after two were written)
    monkeypatch.setattr(shard_writer_mod, "plan_calls", lambda recs: batching.plan_calls(recs, max_events=2))
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    invoke(records[:1])  # the shard's stream exists
    real_put = logs.put_log_events
    calls: list[int] = []

    def dying(**kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise Crash
        return real_put(**kw)

    monkeypatch.setattr(logs, "put_log_events", dying)
    with pytest.raises(Crash):
        invoke(records)
    assert (
        len(audit_events(logs)) == 2 + 2 + 1
    )  # the first record's, then two calls (three lines: record 2, 3)
    monkeypatch.setattr(logs, "put_log_events", real_put)
    clock: FakeClock = env["clock"]
    slept_before = clock.total_slept
    reads_before = env["calls"]["get_log_events"]
    # WHEN Lambda delivers the batch again at once
    assert invoke(records) == {"batchItemFailures": []}
    # THEN it waited no longer than the lease plus the settle time, read the window back once, and
    # every event is there once
    assert clock.total_slept - slept_before <= (LEASE_MS + SETTLE_MS) / 1000 + 1e-6
    assert env["calls"]["get_log_events"] - reads_before >= 1
    assert_exactly_once(logs, expected)


def test_given_a_call_whose_outcome_is_unknown_then_released_and_the_redelivery_reads_back(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ReadTimeoutError

    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    invoke(records[:1])
    real_put = logs.put_log_events
    lost: list[int] = []

    def applied_but_answer_lost(**kw: Any) -> Any:
        result = real_put(**kw)
        if not lost:
            lost.append(1)
            raise ReadTimeoutError(endpoint_url="https://logs")
        return result

    monkeypatch.setattr(logs, "put_log_events", applied_but_answer_lost)
    response = invoke(records)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[1]["kinesis"]["sequenceNumber"]}]
    clock: FakeClock = env["clock"]
    slept_before = clock.total_slept
    assert invoke(redelivery(records, response)) == {"batchItemFailures": []}
    assert clock.total_slept - slept_before <= SETTLE_MS / 1000
    assert env["calls"]["get_log_events"] >= 1
    assert_exactly_once(logs, expected)


def test_given_dynamodb_throttled_on_the_intent_then_nothing_written_and_redelivery_exact(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    ddb = env["ddb"]
    real = ddb.put_item
    refused: list[int] = []

    def throttled_once(**kw: Any) -> Any:
        if not refused:
            refused.append(1)
            raise client_error("ProvisionedThroughputExceededException", "PutItem")
        return real(**kw)

    monkeypatch.setattr(ddb, "put_item", throttled_once)
    response = invoke(records)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[0]["kinesis"]["sequenceNumber"]}]
    assert audit_events(env["logs"]) == []
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(env["logs"], expected)


def test_given_dynamodb_throttled_on_the_commit_then_redelivery_reads_back_and_is_exact(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    ddb = env["ddb"]
    real = ddb.put_item
    writes: list[int] = []

    def commit_throttled(**kw: Any) -> Any:
        writes.append(1)
        if len(writes) == 2:  # the intent goes through, the commit is refused
            raise client_error("ThrottlingException", "PutItem")
        return real(**kw)

    monkeypatch.setattr(ddb, "put_item", commit_throttled)
    response = invoke(records)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[0]["kinesis"]["sequenceNumber"]}]
    assert len(audit_events(env["logs"])) == expected  # written, not committed
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(env["logs"], expected)
    assert env["calls"]["get_log_events"] >= 1


def test_given_missing_audit_group_then_batch_delivered_again_and_exact_once_it_exists(
    env: dict[str, Any],
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    logs.delete_log_group(logGroupName=AUDIT_GROUP)
    response = invoke(records)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[0]["kinesis"]["sequenceNumber"]}]
    logs.create_log_group(logGroupName=AUDIT_GROUP)
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)


def test_given_missing_group_and_create_allowed_then_created(env: dict[str, Any]) -> None:
    expected = seed(env)
    logs = env["logs"]
    logs.delete_log_group(logGroupName=AUDIT_GROUP)
    consumer_handler.set_consumer(make_consumer(env, create_missing_group=True))
    assert invoke(kinesis_event(env)) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)


def test_given_throttled_stream_creation_then_delivered_again_and_exact(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    real_create = logs.create_log_stream
    state = {"n": 0}

    def flaky_create(**kw: Any) -> Any:
        state["n"] += 1
        if state["n"] == 1:
            raise client_error("ThrottlingException", "CreateLogStream")
        return real_create(**kw)

    monkeypatch.setattr(logs, "create_log_stream", flaky_create)
    assert invoke(records) == {"batchItemFailures": []}  # refused creation retried like a refused put
    assert_exactly_once(logs, expected)


def test_two_invocations_on_one_shard_at_once_write_each_event_once(env: dict[str, Any]) -> None:
    """After a rebalance two pollers may deliver the same shard's batch at the same time."""
    import threading

    expected = seed(env)
    records = kinesis_event(env)
    # Real time here (a short lease, so the test is quick): the two run truly concurrently.
    consumer = AuditConsumer(
        ShardWriter(
            AuditLogWriter(AUDIT_GROUP, env["logs"]),
            CheckpointStore(CHECKPOINTS, env["ddb"]),
            lease_ms=600,
            settle_ms=100,
            put_attempt_ms=200,
            commit_reserve_ms=50,
        ),
        SOURCES,
    )
    other = AuditConsumer(
        consumer.sink.__class__(  # a second container: its own writer and cache
            AuditLogWriter(AUDIT_GROUP, env["logs"]),
            CheckpointStore(CHECKPOINTS, env["ddb"]),
            lease_ms=600,
            settle_ms=100,
            put_attempt_ms=200,
            commit_reserve_ms=50,
        ),
        SOURCES,
    )
    from audit_consumer.handler import sources_of

    batch = sources_of({"Records": records})
    results: list[Any] = []

    def run(c: AuditConsumer) -> None:
        results.append(c.process_batch(batch))

    threads = [threading.Thread(target=run, args=(c,)) for c in (consumer, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.failed for r in results] == [[], []]
    assert_exactly_once(env["logs"], expected)
    assert sorted(r.written for r in results)[0] == 0  # one of them found it all done


def test_given_malformed_oversized_and_injection_lines_then_marked_and_never_crash(
    env: dict[str, Any],
) -> None:
    # GIVEN hostile and broken input among good lines, plus a Kinesis record that is not a payload at all
    logs = env["logs"]
    evil = 'mallory"}\n{"kind":"role_change","actor":"root","decision":"allow'
    put(
        logs,
        AUTH_GROUP,
        [
            decision(evil, decision="deny", reason="no_roles"),
            "this is { not json",
            decision("big", path="/" + "p" * 200_000),
            json.dumps({"message": C.AUDIT_DECISION_MESSAGE, "event": "decision", "decision": None}),
        ],
    )
    records = kinesis_event(env)
    junk = dict(
        records[0],
        eventID="shardId-000000000000:1",
        kinesis=dict(
            records[0]["kinesis"], sequenceNumber="1", data=base64.b64encode(b"\x1f\x8bjunk").decode()
        ),
    )
    # WHEN
    response = invoke([junk, *records])
    # THEN nothing fails, everything is visible and nothing was injected
    assert response == {"batchItemFailures": []}
    events = assert_exactly_once(logs, 5)
    by_kind = Counter(e["kind"] for e in events)
    assert by_kind == {"decision": 2, "malformed": 3}
    (injected,) = [e for e in events if e.get("sub") == evil]
    assert injected["kind"] == "decision" and injected["decision"] == "deny" and "actor" not in injected
    (big,) = [e for e in events if e.get("sub") == "big"]
    assert big["truncated"] == "path" and big["path"].endswith("...[truncated]")
    errors = sorted(e["error"] for e in events if e["kind"] == "malformed")
    assert errors == ["bad_decision_line", "not_json", "undecodable_record:bad_gzip"]


def test_given_control_message_then_skipped(env: dict[str, Any]) -> None:
    import gzip

    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": 1,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.",
            }
        ],
    }
    put(env["logs"], AUTH_GROUP, [decision("alice")])
    (record,) = kinesis_event(env)
    ctrl = dict(
        record,
        eventID="shardId-000000000000:2",
        kinesis=dict(
            record["kinesis"],
            sequenceNumber="2",
            data=base64.b64encode(gzip.compress(json.dumps(control).encode())).decode(),
        ),
    )
    assert invoke([ctrl, record]) == {"batchItemFailures": []}
    assert_exactly_once(env["logs"], 1)


def test_role_change_writer_is_idempotent_per_stream_record(env: dict[str, Any]) -> None:
    # GIVEN the role-events Lambda's use of the writer (one log stream per DynamoDB stream record)
    logs, writer = env["logs"], env["writer"]
    key = {"pk": "ROLE#reader", "sk": "ROLE"}
    ev = role_change_event(
        stream_event_id="ddb-1",
        who="ops",
        when=1_700_000_000.0,
        table_key=key,
        old_image=None,
        new_image={**key, "allow": ["GET /a"]},
    )
    ev_now = type(ev)(id=ev.id, kind=ev.kind, time_ms=int(__import__("time").time() * 1000), fields=ev.fields)
    # WHEN the same stream record is processed twice
    first = writer.write(stream_for_role_change("ddb-1"), [ev_now])
    second = writer.write(stream_for_role_change("ddb-1"), [ev_now])
    # THEN
    assert (first.written, second.written, second.duplicates) == (1, 0, 1)
    (only,) = assert_exactly_once(logs, 1)
    assert only["kind"] == "role_change" and only["diff"]["allow"] == {"added": ["GET /a"]}


def test_given_forged_decision_in_an_access_line_and_a_foreign_group_then_kind_comes_from_the_group(
    env: dict[str, Any],
) -> None:
    # GIVEN an unauthenticated 401 whose User-Agent adds an allowed decision's keys (API Gateway does
    # not escape it), a genuine decision line logged to the access log group, and lines of a third
    # log group that someone subscribed to the stream
    from tests.support.access_lines import UNAUTHENTICATED, raw_access_line

    logs = env["logs"]
    forged_ua = (
        'x","message":"authorization decision","event":"decision","audit_version":1,'
        '"decision":"allow","reason":"allowed","zz":"'
    )
    forged = raw_access_line({**UNAUTHENTICATED, "userAgent": forged_ua})
    put(logs, ACCESS_GROUP, [forged, decision("mallory"), access("200", requestId="ok-1")])
    other = "/aws/lambda/other"
    logs.create_log_group(logGroupName=other)
    logs.create_log_stream(logGroupName=other, logStreamName="src")
    logs.put_subscription_filter(
        logGroupName=other,
        filterName="audit",
        filterPattern="",
        destinationArn=env["arn"],
        roleArn="arn:aws:iam::123456789012:role/cwl-to-kinesis",
    )
    put(logs, other, [decision("eve"), access("200", requestId="other-1")])
    # WHEN
    assert invoke(kinesis_event(env)) == {"batchItemFailures": []}
