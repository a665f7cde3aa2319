"""CPU cost of the audit consumer per record, beside the cost of merely decompressing and parsing.

Usable from the benchmark suite (``bench/``) or a shell::

    python -c "from edgeauth.audit.bench import run; print(run())"

``baseline`` is what any consumer must do: base64-decode, gunzip, parse the subscription JSON and
parse each line's JSON. ``consumer`` is the whole of :func:`edgeauth.audit.consumer.normalise_record`
plus what the shard writer does per record before the network (each event as a log line: rendered,
timestamp clamped; the record planned into ``PutLogEvents`` calls). Both are CPU time
(``time.process_time``), no I/O. The per-batch work (two checkpoint writes, one call per megabyte)
is I/O, modelled in ``bench/capacity.py``.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from edgeauth import constants as C
from edgeauth.audit.batching import plan_calls
from edgeauth.audit.consumer import KinesisSource, normalise_record
from edgeauth.audit.schema import AuditSources
from edgeauth.audit.subscription import decode_base64_record, decode_record_data
from edgeauth.audit.writer import AuditLogWriter
from edgeauth.core.audit_line import DecisionRecord, decision_line


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Per-record CPU microseconds (best of ``repeat``) and the consumer/baseline ratio."""

    records: int
    lines_per_record: int
    baseline_us_per_record: float
    consumer_us_per_record: float
    consumer_us_per_line: float
    ratio: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


SOURCES = AuditSources(authorizer_log_group="/aws/lambda/authorizer", access_log_group="api-access")
"""The source log groups of :func:`synthetic_records` (a record's kind comes from its group)."""


def synthetic_records(
    records: int = 200, lines_per_record: int = 50, seed_ms: int = 1_700_000_000_000
) -> list[KinesisSource]:
    """Kinesis records shaped like CloudWatch Logs subscription payloads: even records carry decision
    lines from the authorizer's log group, odd ones access lines from the access log group (one
    payload holds the lines of one log group, as CloudWatch Logs sends them)."""
    out: list[KinesisSource] = []
    access = {k: "-" for k in C.ACCESS_LOG_FIELDS_COMPACT}  # the stack's default format
    access.update({"requestId": "r", "m": "GET", "res": "/accounts/{id}", "p": "/accounts/1"})
    access.update({"status": "200", "lat": "12", "key": "k"})
    for r in range(records):
        events = []
        for i in range(lines_per_record):
            if r % 2:
                msg = json.dumps(access, separators=(",", ":"))
            else:
                msg = decision_line(
                    DecisionRecord(
                        decision="allow",
                        reason="allowed",
                        sub=f"user-{i}",
                        iss="https://idp.example",
                        method="GET",
                        resource="/accounts/{id}",
                        path="/accounts/1",
                        roles=["reader"],
                        latency_ms=0.8,
                    ),
                    now=(seed_ms + i) / 1000,
                )
            events.append({"id": f"{r:08d}{i:08d}", "timestamp": seed_ms + i, "message": msg})
        doc = {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": SOURCES.access_log_group if r % 2 else SOURCES.authorizer_log_group,
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": events,
        }
        data = base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()
        out.append(KinesisSource("arn:aws:kinesis:us-east-1:1:stream/s", "shardId-0", str(r), data, seed_ms))
    return out


def _baseline(src: KinesisSource) -> int:
    payload = decode_record_data(decode_base64_record(src.data_b64))
    for ev in payload.log_events:
        json.loads(ev.message)
    return len(payload.log_events)


_WRITER = AuditLogWriter("audit", client=None)  # lines() renders and clamps; it calls nothing


def _consumer(src: KinesisSource) -> int:
    norm = normalise_record(src, SOURCES)
    lines = _WRITER.lines(norm.events)
    plan_calls([(int(src.sequence_number), lines)])
    return len(lines)


def _best(fn: Callable[[KinesisSource], int], records: Sequence[KinesisSource], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for src in records:
            fn(src)
        best = min(best, time.process_time() - t0)
    return best


def measure(records: Sequence[KinesisSource], repeat: int = 3) -> BenchResult:
    """Measure both paths over ``records`` (best of ``repeat`` runs each)."""
    if not records:
        raise ValueError("no records to measure")
    lines = _baseline(records[0])
    base = _best(_baseline, records, repeat)
    full = _best(_consumer, records, repeat)
    n = len(records)
    return BenchResult(
        records=n,
        lines_per_record=lines,
        baseline_us_per_record=base / n * 1e6,
        consumer_us_per_record=full / n * 1e6,
        consumer_us_per_line=full / (n * max(lines, 1)) * 1e6,
        ratio=full / base if base > 0 else float("inf"),
    )


def run(records: int = 200, lines_per_record: int = 50, repeat: int = 3) -> dict[str, float]:
    """Synthesise records and measure; returns a flat dict for reports."""
    return measure(synthetic_records(records, lines_per_record), repeat).as_dict()
