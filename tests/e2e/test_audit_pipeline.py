"""The audit pipeline on the local stack (variant: the consumer's event source mapping retries a failed
batch once, so that dead letters come quickly): requests through the gateway become audit events
exactly once; a batch the consumer cannot write is dead-lettered to the template's queue as Lambda
does it, and ``edgeauth audit replay`` re-drives it exactly once; a range the stream no longer holds
is refused, naming it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth_cli import main as cli
from edgeauth_local.stack import LocalStack, start_stack
from tests.e2e.conftest import call, patched, resources_of, wait_until

pytestmark = pytest.mark.timeout(240)


def _retry_once(template: dict[str, Any]) -> None:
    for mapping in resources_of(template, "AWS::Lambda::EventSourceMapping"):
        props = mapping["Properties"]
        if "Consumer" in json.dumps(props.get("FunctionName")):  # the audit consumer's mapping
            props["MaximumRetryAttempts"] = 1


@pytest.fixture(scope="module")
def stack(synthesized: tuple[str, dict[str, Any]]) -> Iterator[LocalStack]:
    name, template = synthesized
    with start_stack(template=patched(template, _retry_once), stack_name=name) as s:
        yield s


def _audit_events(stack: LocalStack) -> list[dict[str, Any]]:
    logs = stack.client("logs")
    group = stack.spec.outputs[C.OUTPUT_AUDIT_LOG_GROUP]
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    while True:
        resp = logs.filter_log_events(**kwargs)
        out += [json.loads(e["message"]) for e in resp.get("events", [])]
        if not resp.get("nextToken"):
            return out
        kwargs["nextToken"] = resp["nextToken"]


def _edgeauth(stack: LocalStack, *args: str) -> int:
    assert stack.urls is not None
    base = ["--endpoint-url", stack.urls.moto, "--region", "us-east-1", "--stack", stack.spec.stack_name]
    return cli.main([*base, "--output", "json", *args])


def _dead_letters(stack: LocalStack) -> int:
    url = stack.queue_urls[next(q.arn for q in stack.spec.queues if q.arn in stack.queue_urls)]
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_requests_become_audit_events_exactly_once(stack: LocalStack) -> None:
    ids = [
        call(stack, "GET", f"/accounts/{i}", stack.token("carol")).headers["x-amzn-requestid"]
        for i in range(5)
    ]
    ids.append(call(stack, "GET", "/accounts/1").headers["x-amzn-requestid"])  # refused before the authorizer

    def all_there() -> bool:
        events = _audit_events(stack)
        return set(ids) <= {e.get("request_id") for e in events if e.get("kind") == "access"}

    assert wait_until(all_there, timeout=30, interval=0.5)
    events = _audit_events(stack)
    access = Counter(
        e["request_id"] for e in events if e.get("kind") == "access" and e.get("request_id") in ids
    )
    assert set(access.values()) == {1}
    decisions = Counter(
        e["request_id"] for e in events if e.get("kind") == "decision" and e.get("request_id") in ids
    )
    assert set(decisions.values()) <= {1} and ids[-1] not in decisions
    assert all(e["audit_version"] == C.AUDIT_EVENT_VERSION for e in events if e.get("request_id") in ids)


def test_a_forged_access_line_is_recorded_as_malformed_never_as_a_decision(stack: LocalStack) -> None:
    # GIVEN a caller with no token whose User-Agent closes the logged value and adds keys, as API
    # Gateway writes $context values into the access line unescaped
    forged = 'x","decision":"allow","sub":"admin","kind":"decision","z":"'
    rid = call(stack, "GET", "/accounts/9", headers={"User-Agent": forged}).headers["x-amzn-requestid"]
    # THEN the access log holds the forged line as written (the gateway does not escape it)
    group = stack.spec.outputs[C.OUTPUT_ACCESS_LOG_GROUP]
    assert stack.wait_for_pipeline(timeout=30)
    lines = [e["message"] for e in stack.client("logs").filter_log_events(logGroupName=group)["events"]]
    assert any(rid in line and forged in line for line in lines)

    # AND the audit trail records it as malformed, with its excerpt, never as a decision or an allow
    def recorded() -> list[dict[str, Any]]:
        return [e for e in _audit_events(stack) if rid in json.dumps(e)]

    assert wait_until(lambda: bool(recorded()), timeout=30, interval=0.5)
    mine = recorded()
    assert [e["kind"] for e in mine] == ["malformed"], mine
    assert rid in mine[0]["excerpt"]
    assert not [e for e in _audit_events(stack) if e.get("kind") == "decision" and e.get("sub") == "admin"]


def test_a_dead_lettered_batch_is_replayed_exactly_once_and_an_expired_range_is_refused(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = stack.client("logs")
    group = stack.spec.outputs[C.OUTPUT_AUDIT_LOG_GROUP]
    assert stack.wait_for_pipeline(timeout=30)
    before = _dead_letters(stack)
    # GIVEN the audit log group gone: the consumer cannot write, retries once, then dead-letters
    logs.delete_log_group(logGroupName=group)
    try:
        rid = call(stack, "GET", "/accounts/77", stack.token("bob")).headers["x-amzn-requestid"]
        assert wait_until(lambda: _dead_letters(stack) > before, timeout=60, interval=0.5)
    finally:
        logs.create_log_group(logGroupName=group)
    assert stack.wait_for_pipeline(timeout=30)
    assert not [e for e in _audit_events(stack) if e.get("request_id") == rid]
    capsys.readouterr()
    # WHEN the operator replays the dead letters
    assert _edgeauth(stack, "audit", "replay") == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed and {o["status"] for o in replayed} <= {"replayed", "already written"}
    # THEN the request's access and decision events are there, once each; the queue is empty
    mine = Counter(e["kind"] for e in _audit_events(stack) if e.get("request_id") == rid)
    assert mine == {"access": 1, "decision": 1}
    assert _dead_letters(stack) == 0
    # WHEN the same range is re-driven again THEN nothing more is written
    shard, span = replayed[0]["range"].split(" ")
    first, last = span.split("..")
    assert _edgeauth(stack, "audit", "replay", "--shard", shard, "--from", first, "--to", last) == 0
    again = json.loads(capsys.readouterr().out)
    assert again[0]["status"] == "already written" and again[0]["written"] == 0
    assert Counter(e["kind"] for e in _audit_events(stack) if e.get("request_id") == rid) == mine
    # AND a range the stream no longer holds (before its oldest record: moto numbers records from 1)
    # is refused, naming it
    assert _edgeauth(stack, "audit", "replay", "--shard", shard, "--from", "0", "--to", "0") == 1
    refused = json.loads(capsys.readouterr().out)
    assert refused[0]["status"] == "expired" and "records 0 to 0" in refused[0]["detail"]
