"""The role-events handler on real (moto) DynamoDB stream records, writing to moto CloudWatch Logs
and the role table's change log."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edgeauth import constants as C
from edgeauth.adapters.change_log import ChangeLogWriteError, ChangeLogWriter
from edgeauth.adapters.role_store import item_to_python
from edgeauth.audit.writer import AuditLogWriter
from edgeauth.core.changes import ChangeLog, change_log_key, parse_log
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


def handler_of(logs: Any, ddb: Any, gateway: Any, sink: Any = None, **options: Any) -> RoleEvents:
    """The handler as get_role_events builds it, on moto, without real waits by default."""
    options.setdefault("sleep", lambda s: None)
    options.setdefault("settle_seconds", 3.0)
    return RoleEvents(
        sink or AuditLogWriter(GROUP, logs),
        gateway,
        "api123",
        "prod",
        changes=ChangeLogWriter(TABLE, ddb),
        **options,
    )


def change_log(ddb: Any) -> ChangeLog:
    raw = ddb.get_item(TableName=TABLE, Key=change_log_key(), ConsistentRead=True).get("Item")
    return parse_log(None if raw is None else item_to_python(raw))


ROLE = {"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}}


def test_each_edit_becomes_a_role_change_event_and_the_batch_flushes_twice(env) -> None:
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
    instance = handler_of(logs, ddb, gateway)
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
    # AND the stage's authorizer cache is flushed twice for the batch (at once, and once warm
    # authorizer containers have looked at the change log), never per record
    assert gateway.calls == [{"restApiId": "api123", "stageName": "prod"}] * 2


def test_redelivered_batch_does_not_duplicate_events(env) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    instance = handler_of(logs, ddb, FakeGateway())
    event = stream_event(ddb)
    instance.handle(event, None)
    instance.handle(event, None)
    assert len(audit_events(logs)) == 1


def test_failing_flush_is_retried_then_reported_without_failing_the_batch(env, capsys, caplog) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    gateway = FakeGateway(fail=100)
    delays: list[float] = []
    role_events.set_role_events(handler_of(logs, ddb, gateway, sleep=delays.append, settle_seconds=0.0))
    try:
        # WHEN the flush keeps failing
        response = role_events.handler(stream_event(ddb), None)  # type: ignore[arg-type]
    finally:
        role_events.set_role_events(None)
    # THEN bounded retries with growing bounded delays (for each of the two flushes), the records
    # still succeed, and an error line and the AuthorizerCacheFlushFailed metric are emitted
    assert response == {"batchItemFailures": []}
    assert len(gateway.calls) == 2 * role_events.FLUSH_ATTEMPTS
    first = delays[: role_events.FLUSH_ATTEMPTS - 1]
    assert first == sorted(first) and max(delays) <= role_events.FLUSH_MAX_DELAY
    assert any(
        r.levelname == "ERROR" and "authorizer cache flush failed" in r.getMessage() for r in caplog.records
    )
    assert '"AuthorizerCacheFlushFailed"' in capsys.readouterr().out
    assert len(audit_events(logs)) == 1


def test_permanent_flush_error_is_not_retried(env) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    gateway = FakeGateway(fail=100, code="NotFoundException")
    instance = handler_of(logs, ddb, gateway)
    outcome_response = instance.handle(stream_event(ddb), None)
    assert outcome_response == {"batchItemFailures": []}
    assert len(gateway.calls) == 2  # one attempt per flush


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
    response = handler_of(logs, ddb, gateway, sink=FailSecond()).handle(event, None)
    second = event["Records"][1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": second}]}
    assert len(gateway.calls) == 2


def test_keys_only_record_is_audited_with_keys(env) -> None:
    ddb, logs = env
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
    response = handler_of(logs, ddb, FakeGateway()).handle({"Records": [record]}, None)
    assert response == {"batchItemFailures": []}
    (event,) = audit_events(logs)
    assert event["entity"] == "subject" and event["sub"] == "alice"
    assert event["actor"] == role_events.UNKNOWN_CONSOLE
    assert event["audit_version"] == C.AUDIT_EVENT_VERSION


class Timeline:
    """A monotonic clock that moves only when the handler sleeps or the test says; records events."""

    def __init__(self) -> None:
        self.now = 100.0
        self.events: list[object] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", round(seconds, 3)))
        self.now += seconds


class TimedGateway(FakeGateway):
    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def flush_stage_authorizers_cache(self, *, restApiId: str, stageName: str) -> Any:
        self.timeline.events.append(("flush", self.timeline.now))
        return super().flush_stage_authorizers_cache(restApiId=restApiId, stageName=stageName)


class SlowSink:
    """Audit writes that take ``seconds`` each on the timeline."""

    def __init__(self, timeline: Timeline, writer: AuditLogWriter, seconds: float) -> None:
        self.timeline, self.writer, self.seconds = timeline, writer, seconds

    def write(self, stream: str, events: Any) -> Any:
        self.timeline.now += self.seconds
        return self.writer.write(stream, events)


def test_a_batch_writes_one_generation_listing_every_key_it_changed(env) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    put(ddb, {"pk": {"S": "SUBJECT#https://iss/"}, "sk": {"S": "alice"}, "roles": {"L": [{"S": "reader"}]}})
    put(ddb, {**ROLE, "version": {"N": "2"}, "updated_by": {"S": "ann"}})
    # WHEN the handler gets the three records
    handler_of(logs, ddb, FakeGateway()).handle(stream_event(ddb), None)
    # THEN one generation lists both keys
    log = change_log(ddb)
    assert {key for gen, key in log.recent if gen == log.generation} == {
        ("ROLE#reader", "ROLE"),
        ("SUBJECT#https://iss/", "alice"),
    }
    # AND the change log's own stream record, delivered next, is no edit: nothing is audited,
    # flushed or published for it
    gateway = FakeGateway()
    audited = len(audit_events(logs))
    own = [r for r in stream_event(ddb)["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] == C.CHANGES_PK]
    assert len(own) == 1
    assert handler_of(logs, ddb, gateway).handle({"Records": own}, None) == {"batchItemFailures": []}
    assert (len(audit_events(logs)), gateway.calls, change_log(ddb)) == (audited, [], log)


def test_the_second_flush_waits_for_the_containers_check_not_the_role_cache(env) -> None:
    # GIVEN containers that look at the change log every 2 s (settle 3 s) and quick audit writes
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    t = Timeline()
    instance = handler_of(
        logs, ddb, TimedGateway(t), settle_seconds=3.0, sleep=t.sleep, monotonic=t.monotonic
    )
    # WHEN an edit arrives
    instance.handle(stream_event(ddb), None)
    # THEN a flush at once, and another 3 s after the change log was written: no long sleep
    assert t.events == [("flush", 100.0), ("sleep", 3.0), ("flush", 103.0)]


def test_the_audit_writes_overlap_the_wait(env) -> None:
    ddb, logs = env
    for i in range(4):
        put(ddb, {"pk": {"S": f"ROLE#r{i}"}, "sk": {"S": "ROLE"}, "version": {"N": "1"}})
    t = Timeline()
    sink = SlowSink(t, AuditLogWriter(GROUP, logs), 1.0)
    instance = handler_of(
        logs, ddb, TimedGateway(t), sink=sink, settle_seconds=3.0, sleep=t.sleep, monotonic=t.monotonic
    )
    instance.handle(stream_event(ddb), None)
    # 4 s of audit writes: the second flush follows them at once (no sleep at all)
    assert t.events == [("flush", 100.0), ("flush", 104.0)]


def test_under_a_steady_stream_the_first_flush_is_debounced(env) -> None:
    ddb, logs = env
    t = Timeline()
    gateway = TimedGateway(t)
    instance = handler_of(logs, ddb, gateway, settle_seconds=3.0, sleep=t.sleep, monotonic=t.monotonic)
    # WHEN two batches come back to back (the second one right after the first one's second flush)
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    first = stream_event(ddb)
    instance.handle(first, None)
    put(ddb, {**ROLE, "version": {"N": "2"}, "updated_by": {"S": "ann"}})
    second = {"Records": stream_event(ddb)["Records"][len(first["Records"]) :]}
    t.now += 0.5
    instance.handle(second, None)
    # THEN three flushes, not four: the first batch's second flush did the second batch's first
    assert [e for e in t.events if e[0] == "flush"] == [("flush", 100.0), ("flush", 103.0), ("flush", 106.5)]
    assert change_log(ddb).generation - change_log(ddb).listed_after == 2


class FailingPublisher:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def publish(self, keys: Any, *, unknown: bool = False) -> Any:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise ChangeLogWriteError("change log PutItem failed: ProvisionedThroughputExceededException")
        return None


def test_a_change_log_that_cannot_be_written_fails_the_batch_for_redelivery(env, capsys, caplog) -> None:
    ddb, logs = env
    put(ddb, {**ROLE, "version": {"N": "1"}, "updated_by": {"S": "ann"}})
    put(ddb, {"pk": {"S": "ROLE#other"}, "sk": {"S": "ROLE"}, "version": {"N": "1"}})
    event = stream_event(ddb)
    gateway = FakeGateway()
    delays: list[float] = []
    publisher = FailingPublisher(failures=1)
    instance = RoleEvents(
        AuditLogWriter(GROUP, logs),
        gateway,
        "api123",
        "prod",
        changes=publisher,
        settle_seconds=3.0,
        sleep=delays.append,
    )
    role_events.set_role_events(instance)
    try:
        response = role_events.handler(event, None)  # type: ignore[arg-type]
    finally:
        role_events.set_role_events(None)
    # THEN every record is reported failed (delivered again), the first flush still ran, no wait
    sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": s} for s in sequences]}
    assert len(gateway.calls) == 1 and delays == []
    assert any(r.levelname == "ERROR" and "change log write failed" in r.getMessage() for r in caplog.records)
    assert f'"{C.METRIC_CHANGE_LOG_WRITE_FAILED}"' in capsys.readouterr().out
    # AND the redelivery publishes, and audits nothing twice
    assert instance.handle(event, None) == {"batchItemFailures": []}
    assert publisher.calls == 2 and len(audit_events(logs)) == 2


def test_settle_time_is_the_containers_check_interval_or_their_role_cache_if_shorter(monkeypatch) -> None:
    monkeypatch.delenv("EDGEAUTH_REVOCATION_CHECK_SECONDS", raising=False)
    monkeypatch.delenv("EDGEAUTH_ROLE_CACHE_TTL", raising=False)
    assert role_events.settle_seconds() == 2 + 1  # the defaults: a look every 2 s, + 1 s margin
    monkeypatch.setenv("EDGEAUTH_REVOCATION_CHECK_SECONDS", "5")
    assert role_events.settle_seconds() == 6.0
    monkeypatch.setenv("EDGEAUTH_ROLE_CACHE_TTL", "1")
    assert role_events.settle_seconds() == 2.0  # containers keep nothing longer than 1 s anyway
    monkeypatch.setenv("EDGEAUTH_ROLE_CACHE_TTL", "30")
    monkeypatch.setenv("EDGEAUTH_REVOCATION_CHECK_SECONDS", "bogus")
    assert role_events.settle_seconds() == 10 + 1  # unknown: the longest the authorizer allows


def test_two_writers_at_once_keep_each_others_keys(env) -> None:
    ddb, _ = env
    ChangeLogWriter(TABLE, ddb).publish([("ROLE#a", "ROLE")])
    other = ChangeLogWriter(TABLE, ddb)

    class Interleaved:
        """Between this writer's read and its write, the other writer publishes."""

        def __init__(self) -> None:
            self.raced = False

        def get_item(self, **kwargs: Any) -> Any:
            answer = ddb.get_item(**kwargs)
            if not self.raced:
                self.raced = True
                other.publish([("ROLE#b", "ROLE")])
            return answer

        def put_item(self, **kwargs: Any) -> Any:
            return ddb.put_item(**kwargs)

    written = ChangeLogWriter(TABLE, Interleaved()).publish([("ROLE#c", "ROLE")])
    log = change_log(ddb)
    assert log == written
    assert [key for _, key in log.recent][-2:] == [("ROLE#b", "ROLE"), ("ROLE#c", "ROLE")]
    assert log.recent[-1][0] == log.recent[-2][0] + 1


def test_a_malformed_change_log_is_replaced_by_a_new_era(env) -> None:
    ddb, _ = env
    ddb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": C.CHANGES_PK}, "sk": {"S": C.CHANGES_SK}, "generation": {"S": "seven"}},
    )
    log = ChangeLogWriter(TABLE, ddb, clock=lambda: 1_700_000_000.0).publish([("ROLE#a", "ROLE")])
    assert (log.generation, log.listed_after) == (1_700_000_000_000, 1_699_999_999_999)
    assert change_log(ddb) == log


def test_a_change_log_fault_names_the_error_code_only(env) -> None:
    from botocore.exceptions import ClientError

    class Throttled:
        def get_item(self, **kwargs: Any) -> Any:
            return {}

        def put_item(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutItem")

    with pytest.raises(ChangeLogWriteError, match=r"^change log PutItem failed: ThrottlingException$"):
        ChangeLogWriter(TABLE, Throttled()).publish([("ROLE#a", "ROLE")])
