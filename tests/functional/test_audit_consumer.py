"""The audit consumer end to end on moto: log groups → subscription filters → Kinesis → handler → audit group.

moto really forwards subscription filters to Kinesis in the CloudWatch Logs gzip format (it ignores
the filter pattern, which the consumer tolerates by skipping non-audit lines). Each test injects a
fault, replays what Lambda would redeliver, and checks that every audit event is in the audit log
group exactly once.
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
from edgeauth.audit import writer as writer_mod
from edgeauth.audit.batching import plan_batches
from edgeauth.audit.consumer import AuditConsumer
from edgeauth.audit.schema import AuditSources, role_change_event
from edgeauth.audit.writer import AuditLogWriter, stream_for_role_change
from edgeauth.core.audit_line import DecisionRecord, decision_line

REGION = "us-east-1"
AUTH_GROUP = "/aws/lambda/edgeauth-authorizer"
ACCESS_GROUP = "edgeauth-access"
AUDIT_GROUP = "edgeauth-audit"
STREAM = "edgeauth-audit-stream"
SOURCES = AuditSources(authorizer_log_group=AUTH_GROUP, access_log_group=ACCESS_GROUP)


class Crash(BaseException):
    """The Lambda process dies (timeout, OOM): Powertools does not catch BaseException."""


class FakeContext:
    function_name = "audit-consumer"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:audit-consumer"
    aws_request_id = "req"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", C.METRICS_NAMESPACE)
    with mock_aws():
        logs = boto3.client("logs", region_name=REGION)
        kinesis = boto3.client("kinesis", region_name=REGION)
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
        writer = AuditLogWriter(AUDIT_GROUP, logs)
        consumer_handler.set_consumer(AuditConsumer(writer, SOURCES))
        yield {"logs": logs, "kinesis": kinesis, "arn": arn, "writer": writer}
        consumer_handler.set_consumer(None)


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


def client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


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


def test_given_whole_batch_redelivered_then_no_duplicates(env: dict[str, Any]) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    invoke(records)
    # WHEN Lambda delivers the same batch again (e.g. after a timeout reported as a failure)
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(env["logs"], expected)


def test_given_throttled_record_then_only_it_is_reported_and_redelivery_is_exact(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN CloudWatch Logs throttles the write of the second record once
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    real_put = logs.put_log_events
    target = writer_mod.stream_for_kinesis_record(
        env["arn"], "shardId-000000000000", records[1]["kinesis"]["sequenceNumber"]
    )
    thrown: list[int] = []

    def flaky_put(**kw: Any) -> Any:
        if kw["logStreamName"] == target and not thrown:
            thrown.append(1)
            raise client_error("ThrottlingException", "PutLogEvents")
        return real_put(**kw)

    monkeypatch.setattr(logs, "put_log_events", flaky_put)
    # WHEN
    response = invoke(records)
    # THEN only that record is reported, the others are written
    assert response["batchItemFailures"] == [{"itemIdentifier": records[1]["kinesis"]["sequenceNumber"]}]
    assert len(audit_events(logs)) == expected - 2
    # WHEN Lambda redelivers from the failed record on (records 2..4, of which 3 and 4 were written)
    again = redelivery(records, response)
    assert len(again) == 3
    assert invoke(again) == {"batchItemFailures": []}
    # THEN every event exactly once
    assert_exactly_once(logs, expected)


def test_given_crash_mid_record_then_redelivery_completes_without_duplicates(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one PutLogEvents call per event (so a record needs several calls) and a crash on the 4th call
    monkeypatch.setattr(writer_mod, "plan_batches", lambda lines: plan_batches(lines, max_events=1))
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    real_put = logs.put_log_events
    calls: list[str] = []

    def dying_put(**kw: Any) -> Any:
        calls.append(kw["logStreamName"])
        if len(calls) == 4:
            raise Crash
        return real_put(**kw)

    monkeypatch.setattr(logs, "put_log_events", dying_put)
    # WHEN the process dies in the middle of the second record's writes
    with pytest.raises(Crash):
        invoke(records)
    assert 0 < len(audit_events(logs)) < expected
    # THEN Lambda redelivers the whole batch, and afterwards every event is there exactly once
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)


def test_given_missing_audit_group_then_records_fail_and_succeed_once_it_exists(env: dict[str, Any]) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    logs.delete_log_group(logGroupName=AUDIT_GROUP)
    # WHEN every record fails, Powertools raises so Lambda retries the batch (nothing is dropped)
    with pytest.raises(BatchProcessingError):
        invoke(records)
    # THEN once the group is back (the stack restores it), the retry writes everything once
    logs.create_log_group(logGroupName=AUDIT_GROUP)
    assert invoke(records) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)


def test_given_missing_group_and_create_allowed_then_created(env: dict[str, Any]) -> None:
    expected = seed(env)
    logs = env["logs"]
    logs.delete_log_group(logGroupName=AUDIT_GROUP)
    consumer_handler.set_consumer(
        AuditConsumer(AuditLogWriter(AUDIT_GROUP, logs, create_missing_group=True), SOURCES)
    )
    assert invoke(kinesis_event(env)) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)


def test_given_throttled_stream_creation_then_record_reported_alone(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = seed(env)
    records = kinesis_event(env)
    logs = env["logs"]
    real_create = logs.create_log_stream
    state = {"n": 0}

    def flaky_create(**kw: Any) -> Any:
        state["n"] += 1
        if state["n"] == 3:
            raise client_error("ThrottlingException", "CreateLogStream")
        return real_create(**kw)

    monkeypatch.setattr(logs, "create_log_stream", flaky_create)
    response = invoke(records)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[2]["kinesis"]["sequenceNumber"]}]
    assert invoke(redelivery(records, response)) == {"batchItemFailures": []}
    assert_exactly_once(logs, expected)


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
    # THEN no decision event at all; the access log group's bad lines and every foreign line are
    # malformed events (with their text), and the honest access line is an access event
    events = assert_exactly_once(logs, 5)
    assert [e for e in events if e["kind"] == "decision"] == []
    (real,) = [e for e in events if e["kind"] == "access"]
    assert real["request_id"] == "ok-1"
    errors = Counter((e["source"], e["error"]) for e in events if e["kind"] == "malformed")
    assert errors == {(ACCESS_GROUP, "not_access_log_format"): 2, (other, "unknown_source"): 2}
    (kept,) = [e for e in events if e.get("error") == "not_access_log_format" and "401" in e["excerpt"]]
    assert UNAUTHENTICATED["requestId"] in kept["excerpt"]
