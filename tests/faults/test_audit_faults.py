"""Audit consumer faults: any pattern of faults on any CloudWatch Logs or DynamoDB call, with Lambda's
redelivery, ends with every audit event in the audit log group exactly once, and each invocation's
recovery stays bounded.

Each call of the consumer (``PutLogEvents``, ``GetLogEvents``, ``CreateLogStream`` on moto; the
checkpoint table's ``GetItem`` and ``PutItem`` in memory) draws its fate from a generated list:

* ``ok``;
* ``throttle``: refused (ThrottlingException, ProvisionedThroughputExceeded, ServiceUnavailable);
* ``lost``: applied, then the answer lost (a read timeout): the outcome is unknown to the consumer;
* ``crash_before`` / ``crash_after``: the process dies before the call, or after it was applied.

Lambda's part is played as it behaves: a response naming a failed record redelivers from it; a crash
redelivers the whole batch; a second invocation may arrive while the first is still running (a
rebalance) — here, as soon as the first one crashed, before its lease is over. The clock moves only
when the consumer sleeps, so waits are measured, not spent.

Bounds checked per invocation: at most one readback, and no more waiting for leases than one lease
plus the settle time (backoffs of refused calls come on top, bounded by the attempt count).
Fixed scenarios are in ``tests/functional/test_audit_consumer.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_consumer.handler import sources_of
from edgeauth.audit.checkpoint import CheckpointStore
from edgeauth.audit.consumer import AuditConsumer, BatchOutcome
from edgeauth.audit.shard_writer import LEASE_MS, SETTLE_MS, ShardWriter
from edgeauth.audit.writer import AuditLogWriter
from tests.functional.test_audit_consumer import (  # the moto pipeline and its helpers
    AUDIT_GROUP,
    SOURCES,
    Crash,
    assert_exactly_once,
    env,
    kinesis_event,
    seed,
)
from tests.support.budget import budget
from tests.support.checkpoints import DictCheckpointTable, client_error
from tests.support.clock import FakeClock

__all__ = ["env"]  # a fixture, imported so pytest finds it here

MAX_DELIVERIES = 40
FATES = ("ok", "ok", "ok", "throttle", "lost", "crash_before", "crash_after")
THROTTLE = {
    "put_log_events": ("ThrottlingException", 400),
    "get_log_events": ("ThrottlingException", 400),
    "create_log_stream": ("ServiceUnavailableException", 503),
    "get_item": ("ProvisionedThroughputExceededException", 400),
    "put_item": ("ThrottlingException", 400),
}


class Faults:
    """Deals the fates: one list per operation, consumed call by call, then ``ok`` for ever."""

    def __init__(self, plan: dict[str, list[str]]) -> None:
        self.plan = {op: list(fates) for op, fates in plan.items()}
        self.dealt: list[tuple[str, str]] = []

    def fate(self, op: str) -> str:
        fates = self.plan.get(op) or []
        fate = fates.pop(0) if fates else "ok"
        self.dealt.append((op, fate))
        return fate

    def around(self, op: str, call: Any, **kw: Any) -> Any:
        fate = self.fate(op)
        if fate == "throttle":
            code, status = THROTTLE[op]
            raise client_error(code, op, status)
        if fate == "crash_before":
            raise Crash
        result = call(**kw)
        if fate == "crash_after":
            raise Crash
        if fate == "lost":
            raise ReadTimeoutError(endpoint_url=f"https://{op}")
        return result


fates = st.lists(st.sampled_from(FATES), max_size=8)


@settings(
    budget(10), suppress_health_check=[*budget(10).suppress_health_check, HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.fixed_dictionaries(
        {
            op: fates
            for op in ("put_log_events", "get_log_events", "create_log_stream", "get_item", "put_item")
        }
    ),
    split=st.integers(1, 3),
)
def test_any_fault_pattern_ends_with_every_event_exactly_once_and_bounded_recovery(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, plan: dict[str, list[str]], split: int
) -> None:
    logs = env["logs"]
    # moto keeps state between hypothesis examples of one test: start each from scratch.
    for stream in logs.describe_log_streams(logGroupName=AUDIT_GROUP).get("logStreams", []):
        logs.delete_log_stream(logGroupName=AUDIT_GROUP, logStreamName=stream["logStreamName"])
    before = len(kinesis_event(env))
    expected = seed(env)
    records = kinesis_event(env)[before:]
    faults = Faults(plan)
    table = DictCheckpointTable()
    clock = FakeClock()

    class FaultyLogs:
        def __getattr__(self, name: str) -> Any:
            real = getattr(logs, name)
            if name in ("put_log_events", "get_log_events", "create_log_stream"):
                return lambda **kw: faults.around(name, real, **kw)
            return real

    class FaultyTable:
        def get_item(self, **kw: Any) -> Any:
            return faults.around("get_item", table.get_item, **kw)

        def put_item(self, **kw: Any) -> Any:
            return faults.around("put_item", table.put_item, **kw)

    def container() -> AuditConsumer:
        """A fresh container (its own checkpoint cache), as after a crash."""
        return AuditConsumer(
            ShardWriter(
                AuditLogWriter(AUDIT_GROUP, FaultyLogs()),  # type: ignore[arg-type]
                CheckpointStore("checkpoints", FaultyTable()),  # type: ignore[arg-type]
                clock=clock.time,
                sleep=clock.sleep,
                jitter=lambda: 0.5,
            ),
            SOURCES,
        )

    consumer = container()
    # Lambda bisects nothing here but may deliver a shorter first batch: `split` records first.
    pending = records[:split]
    rest = records[split:]
    for _ in range(MAX_DELIVERIES):
        if not pending:
            if not rest:
                break
            pending, rest = rest, []
        try:
            outcome: BatchOutcome = consumer.process_batch(sources_of({"Records": pending}))
        except Crash:
            consumer = container()  # Lambda retries the whole batch, in a new container
            continue
        assert outcome.readbacks <= 1, faults.dealt
        assert outcome.lease_waited_ms <= LEASE_MS + SETTLE_MS, faults.dealt
        if outcome.failed:
            first = int(outcome.failed[0])
            pending = [r for r in pending if int(r["kinesis"]["sequenceNumber"]) >= first]
        else:
            pending = []
    else:
        pytest.fail(f"records still failing after the faults ran out: {faults.dealt}")
    assert not pending and not rest
    events = assert_exactly_once(logs, expected)
    assert {e["kind"] for e in events} == {"decision", "access"}
