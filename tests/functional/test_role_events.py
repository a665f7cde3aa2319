"""The role-events handler on real (moto) DynamoDB stream records, writing to moto CloudWatch Logs."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edgeauth import constants as C
from edgeauth.audit.writer import AuditLogWriter
from role_events import handler as role_events
from role_events.handler import RoleEvents
from tests.support.dynamo import create_role_table

REGION = "us-east-1"
TABLE = "roles"
GROUP = "/edgeauth/audit"


class FakeGateway:
    """Records flushes; fails the first ``fail`` calls (moto does not implement this call)."""

    def __init__(self, fail: int = 0, code: str = "TooManyRequestsException") -> None:
        self.calls: list[dict[str, str]] = []
        self.fail = fail
        self.code = code

    def flush_stage_authorizers_cache(self, *, restApiId: str, stageName: str) -> Any:
        from botocore.exceptions import ClientError

        self.calls.append({"restApiId": restApiId, "stageName": stageName})
        if self.fail:
            self.fail -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "FlushStageAuthorizersCache")
        return {}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_role_table(ddb, TABLE, stream=True)
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName=GROUP)
        yield ddb, logs


def stream_event(ddb: Any) -> dict[str, Any]:
    """Everything on the table's stream so far, shaped as Lambda delivers it."""
    # botocore now targets account-based streams endpoints, which moto 5.2 does not route: pin the
    # classic endpoint.
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
    )
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        for r in streams.get_records(ShardIterator=it["ShardIterator"])["Records"]:
            dyn = dict(r["dynamodb"])
            created = dyn.get("ApproximateCreationDateTime")
            if created is not None and not isinstance(created, int | float):
                dyn["ApproximateCreationDateTime"] = created.timestamp()
            records.append(
                {
                    "eventID": r["eventID"],
                    "eventName": r["eventName"],
                    "eventSource": "aws:dynamodb",
                    "awsRegion": REGION,
                    "eventSourceARN": arn,
                    "dynamodb": dyn,
                }
            )
    return {"Records": records}


def audit_events(logs: Any) -> list[dict[str, Any]]:
    out = []
    for stream in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]:
        for ev in logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"])["events"]:
            out.append(json.loads(ev["message"]))
    return sorted(out, key=lambda e: (e["time"], e.get("action", "")))


def put(ddb: Any, item: dict[str, Any]) -> None:
    ddb.put_item(TableName=TABLE, Item=item)


ROLE = {"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}}


def test_each_edit_becomes_a_role_change_event_and_the_cache_is_flushed_once(env) -> None:
    ddb, logs = env
    # GIVEN a CLI-style create, a CLI-style update, a console edit and a deletion
    put(
        ddb,
        {
            **ROLE,
            "allow": {"L": [{"S": "GET /a"}]},
            "version": {"N": "1"},
            "updated_by": {"S": "arn:aws:iam::1:user/ann"},
        },
    )
    put(
        ddb,
        {
            **ROLE,
            "allow": {"L": [{"S": "GET /a"}, {"S": "GET /b"}]},
            "version": {"N": "2"},
            "updated_by": {"S": "arn:aws:iam::1:user/bob"},
        },
    )
    put(
        ddb,
        {
            **ROLE,
            "allow": {"L": [{"S": "GET /c"}]},
            "version": {"N": "2"},
            "updated_by": {"S": "arn:aws:iam::1:user/bob"},
        },
    )
    ddb.delete_item(TableName=TABLE, Key=ROLE)
    gateway = FakeGateway()
    instance = RoleEvents(AuditLogWriter(GROUP, logs), gateway, "api123", "prod", sleep=lambda s: None)
    # WHEN the handler gets the stream batch (the item no longer exists by now)
    response = instance.handle(stream_event(ddb), None)
    # THEN every record succeeded, one audit event each, with who and a diff
    assert response == {"batchItemFailures": []}
    events = audit_events(logs)
    # (stream records of one second share a timestamp: compare without relying on their order)
    assert sorted((e["action"], e["actor"]) for e in events) == sorted(
        [
            ("insert", "arn:aws:iam::1:user/ann"),
            ("modify", "arn:aws:iam::1:user/bob"),
            ("modify", role_events.UNKNOWN_CONSOLE),
            ("remove", role_events.UNKNOWN_DELETE),
        ]
    )
    assert all(e["kind"] == "role_change" and e["role"] == "reader" for e in events)
    by_actor = {e["actor"]: e for e in events}
    assert by_actor["arn:aws:iam::1:user/bob"]["diff"]["allow"] == {"added": ["GET /b"]}
    # AND the stage's authorizer cache is flushed once for the batch
    assert gateway.calls == [{"restApiId": "api123", "stageName": "prod"}]


def test_redelivered_batch_does_not_duplicate_events(env) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    instance = RoleEvents(AuditLogWriter(GROUP, logs), FakeGateway(), "api123", "prod", sleep=lambda s: None)
    event = stream_event(ddb)
    instance.handle(event, None)
    instance.handle(event, None)
    assert len(audit_events(logs)) == 1


def test_failing_flush_is_retried_then_reported_without_failing_the_batch(env, capsys, caplog) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    gateway = FakeGateway(fail=100)
    delays: list[float] = []
    role_events.set_role_events(
        RoleEvents(AuditLogWriter(GROUP, logs), gateway, "api123", "prod", sleep=delays.append)
    )
    try:
        # WHEN the flush keeps failing
        response = role_events.handler(stream_event(ddb), None)  # type: ignore[arg-type]
    finally:
        role_events.set_role_events(None)
    # THEN bounded retries with growing bounded delays, the records still succeed,
    # and an error line and the AuthorizerCacheFlushFailed metric are emitted
    assert response == {"batchItemFailures": []}
    assert len(gateway.calls) == role_events.FLUSH_ATTEMPTS
    assert delays == sorted(delays) and max(delays) <= role_events.FLUSH_MAX_DELAY
    assert any(
        r.levelname == "ERROR" and "authorizer cache flush failed" in r.getMessage() for r in caplog.records
    )
    assert '"AuthorizerCacheFlushFailed"' in capsys.readouterr().out
    assert len(audit_events(logs)) == 1


def test_permanent_flush_error_is_not_retried(env) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    gateway = FakeGateway(fail=100, code="NotFoundException")
    instance = RoleEvents(AuditLogWriter(GROUP, logs), gateway, "api123", "prod", sleep=lambda s: None)
    outcome_response = instance.handle(stream_event(ddb), None)
    assert outcome_response == {"batchItemFailures": []}
    assert len(gateway.calls) == 1


def test_a_failed_audit_write_fails_only_that_record_and_still_flushes(env) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    put(
        ddb,
        {"pk": {"S": "ROLE#other"}, "sk": {"S": "ROLE"}, "version": {"N": "1"}, "updated_by": {"S": "ann"}},
    )
    event = stream_event(ddb)
    writer = AuditLogWriter(GROUP, logs)

    class FailSecond:
        def __init__(self) -> None:
            self.n = 0

        def write(self, stream: str, events: Any) -> Any:
            self.n += 1
            if self.n == 2:
                raise RuntimeError("logs down")
            return writer.write(stream, events)

    gateway = FakeGateway()
    response = RoleEvents(FailSecond(), gateway, "api123", "prod").handle(event, None)
    second = event["Records"][1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": second}]}
    assert len(gateway.calls) == 1


def test_keys_only_record_is_audited_with_keys(env) -> None:
    _, logs = env
    record = {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"S": "SUBJECT#https://iss/"}, "sk": {"S": "alice"}},
            "SequenceNumber": "1",
            "StreamViewType": "KEYS_ONLY",
            "ApproximateCreationDateTime": 1_700_000_000,
        },
    }
    response = RoleEvents(AuditLogWriter(GROUP, logs), FakeGateway(), "a", "s").handle(
        {"Records": [record]}, None
    )
    assert response == {"batchItemFailures": []}
    (event,) = audit_events(logs)
    assert event["entity"] == "subject" and event["sub"] == "alice"
    assert event["actor"] == role_events.UNKNOWN_CONSOLE
    assert event["audit_version"] == C.AUDIT_EVENT_VERSION


def test_flushes_again_once_authorizer_role_caches_have_expired(env) -> None:
    # GIVEN authorizers that cache roles for 30 s
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    gateway = FakeGateway()
    timeline: list[object] = []

    class Recording(FakeGateway):
        def flush_stage_authorizers_cache(self, **kwargs):  # type: ignore[no-untyped-def]
            timeline.append("flush")
            return gateway.flush_stage_authorizers_cache(**kwargs)

    instance = RoleEvents(
        AuditLogWriter(GROUP, logs), Recording(), "api123", "prod", sleep=timeline.append, settle_seconds=31.0
    )
    # WHEN a role edit arrives
    instance.handle(stream_event(ddb), None)
    # THEN the cache is flushed at once, and again after the role cache time: an answer re-cached from
    # a stale role cache in between is cleared too
    assert timeline == ["flush", 31.0, "flush"]


def test_settle_time_comes_from_the_authorizers_role_cache_ttl(monkeypatch) -> None:
    monkeypatch.setenv("EDGEAUTH_ROLE_CACHE_TTL", "12")
    assert role_events._role_cache_ttl() == 12.0
    monkeypatch.setenv("EDGEAUTH_ROLE_CACHE_TTL", "bogus")
    assert role_events._role_cache_ttl() == 60.0
    monkeypatch.delenv("EDGEAUTH_ROLE_CACHE_TTL")
    assert role_events._role_cache_ttl() == 30.0
