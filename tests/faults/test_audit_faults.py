"""Audit consumer faults: any pattern of CloudWatch Logs throttling over a Kinesis batch, with Lambda's
redelivery (partial batch failures: Kinesis redelivers from the first failed record; a batch whose
records all failed is retried whole), ends with every audit event in the audit log group exactly
once, and each invocation answers within a bound.

Fixed scenarios are already in ``tests/functional/test_audit_consumer.py`` (referenced from
SECURITY.md): one throttled PutLogEvents, a crash between two batches, a missing audit log group,
throttled CreateLogStream, hostile lines. This file generates the fault patterns.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.test_audit_consumer import (  # the moto pipeline and its helpers
    assert_exactly_once,
    client_error,
    env,
    invoke,
    kinesis_event,
    redelivery,
    seed,
)
from tests.support.budget import budget

__all__ = ["env"]  # a fixture, imported so pytest finds it here

BOUND = 5.0
"""Seconds one consumer invocation may take with throttling answered at once (moto): the writer adds
no sleeps of its own on this path. On AWS, botocore's standard retries (5 attempts) add at most
about 15 s of backoff per call, within the consumer's Lambda timeout."""
MAX_DELIVERIES = 30


@settings(
    budget(5), suppress_health_check=[*budget(5).suppress_health_check, HealthCheck.function_scoped_fixture]
)
@given(
    put_faults=st.lists(st.booleans(), min_size=0, max_size=12),
    create_faults=st.lists(st.booleans(), min_size=0, max_size=8),
    code=st.sampled_from(("ThrottlingException", "ServiceUnavailableException", "LimitExceededException")),
)
def test_any_throttling_pattern_ends_with_every_event_exactly_once(
    env: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    put_faults: list[bool],
    create_faults: list[bool],
    code: str,
) -> None:
    logs = env["logs"]
    # The moto backend keeps state between hypothesis examples of one test: start each from scratch.
    for stream in logs.describe_log_streams(logGroupName="edgeauth-audit").get("logStreams", []):
        logs.delete_log_stream(logGroupName="edgeauth-audit", logStreamName=stream["logStreamName"])
    before = len(kinesis_event(env))
    expected = seed(env)
    records = kinesis_event(env)[before:]
    real_put, real_create = logs.put_log_events, logs.create_log_stream
    calls = {"put": 0, "create": 0}

    def flaky_put(**kw: Any) -> Any:
        i = calls["put"]
        calls["put"] += 1
        if i < len(put_faults) and put_faults[i]:
            raise client_error(code, "PutLogEvents")
        return real_put(**kw)

    def flaky_create(**kw: Any) -> Any:
        i = calls["create"]
        calls["create"] += 1
        if i < len(create_faults) and create_faults[i]:
            raise client_error(code, "CreateLogStream")
        return real_create(**kw)

    try:
        monkeypatch.setattr(logs, "put_log_events", flaky_put)
        monkeypatch.setattr(logs, "create_log_stream", flaky_create)
        pending = records
        for _ in range(MAX_DELIVERIES):
            started = time.monotonic()
            try:
                response = invoke(pending)
            except BatchProcessingError:
                response = None  # every record failed: Lambda retries the whole batch
            assert time.monotonic() - started < BOUND
            if response is None:
                continue
            pending = redelivery(pending, response)
            if not pending:
                break
        else:
            pytest.fail("records still failing after the faults ran out")
    finally:
        monkeypatch.undo()
    events = assert_exactly_once(logs, expected)
    assert {e["kind"] for e in events} == {"decision", "access"}
