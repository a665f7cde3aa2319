"""CloudWatch Logs in memory, as far as the audit writer uses it (``CreateLogStream``, ``PutLogEvents``,
``GetLogEvents``), with the service's limits and paging: for benchmarks and tests that run many
batches (moto costs milliseconds per call). ``calls`` counts calls per operation; ``fault(op)`` is
called before each one (raise from it to inject a fault)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.checkpoints import client_error

PAGE_EVENTS = 10_000
PAGE_BYTES = 1_048_576


@dataclass
class MemoryLogs:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    fault: Callable[[str], None] | None = None

    def _enter(self, op: str) -> None:
        self.calls[op] += 1
        if self.fault is not None:
            self.fault(op)

    def create_log_group(self, *, logGroupName: str) -> None:
        self._enter("create_log_group")
        self.groups.setdefault(logGroupName, {})

    def create_log_stream(self, *, logGroupName: str, logStreamName: str) -> None:
        self._enter("create_log_stream")
        if logGroupName not in self.groups:
            raise client_error("ResourceNotFoundException", "CreateLogStream")
        if logStreamName in self.groups[logGroupName]:
            raise client_error("ResourceAlreadyExistsException", "CreateLogStream")
        self.groups[logGroupName][logStreamName] = []

    def put_log_events(
        self, *, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self._enter("put_log_events")
        stream = self.groups.get(logGroupName, {}).get(logStreamName)
        if stream is None:
            raise client_error("ResourceNotFoundException", "PutLogEvents")
        stamps = [e["timestamp"] for e in logEvents]
        size = sum(len(e["message"].encode()) + 26 for e in logEvents)
        if stamps != sorted(stamps) or len(logEvents) > 10_000 or size > 1_048_576:
            raise client_error("InvalidParameterException", "PutLogEvents")
        stream.extend(logEvents)
        return {}

    def get_log_events(self, **kw: Any) -> dict[str, Any]:
        self._enter("get_log_events")
        stream = self.groups.get(kw["logGroupName"], {}).get(kw["logStreamName"])
        if stream is None:
            raise client_error("ResourceNotFoundException", "GetLogEvents")
        start, end = kw.get("startTime", 0), kw.get("endTime", 2**62)
        matching = sorted((e for e in stream if start <= e["timestamp"] < end), key=lambda e: e["timestamp"])
        offset = int(str(kw.get("nextToken", "f/0")).split("/")[1])
        page: list[dict[str, Any]] = []
        size = 0
        for e in matching[offset:]:
            size += len(e["message"].encode()) + 26
            if len(page) >= PAGE_EVENTS or size > PAGE_BYTES:
                break
            page.append(e)
        return {"events": page, "nextForwardToken": f"f/{offset + len(page)}"}
