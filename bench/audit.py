"""Scenario 7, the audit consumer: CPU per Kinesis record against just decompressing and parsing it.

Measured through the audit package's own benchmark helper, :mod:`edgeauth.audit.bench`: records
shaped like CloudWatch Logs subscription payloads (our decision lines and API Gateway access lines,
gzip JSON, base64 as Lambda hands them over). Its ``consumer`` path is the whole of
``normalise_record`` plus what the writer does before the network (rendering each event, planning
the ``PutLogEvents`` batches); its ``baseline`` is what any consumer must do (base64, gunzip, parse
the document and every line). Both are CPU time (``process_time``), no I/O.

Here each round calls the helper's ``measure`` once (one pass over the records for each path), so
the rounds give a spread and a paired ratio like every other row. While the helper does not exist
the row reads "pending".

:func:`measure_recovery` is row 7c: a redelivered batch of 100 records after its first attempt died
between two ``PutLogEvents`` calls (the exactly-once recovery path of ``edgeauth.audit.shard_writer``),
with in-memory clients that count the calls; ``bench.capacity.recovery_seconds`` turns it into
the time it takes on Lambda.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class AuditSamples:
    consumer_us: list[float]
    baseline_us: list[float]
    ratios: list[float]
    lines_per_record: int


def helper() -> Any | None:
    """``edgeauth.audit.bench`` when it offers ``synthetic_records`` and ``measure``, else ``None``."""
    try:
        mod = importlib.import_module("edgeauth.audit.bench")
    except ImportError:
        return None
    if callable(getattr(mod, "synthetic_records", None)) and callable(getattr(mod, "measure", None)):
        return mod
    return None


def measure(mod: Any, rounds: int, records: int) -> AuditSamples:
    data = mod.synthetic_records(records, 50)
    mod.measure(data[:2], 1)  # warm-up
    out = AuditSamples([], [], [], 0)
    for _ in range(rounds):
        res = mod.measure(data, 1)
        out.consumer_us.append(float(res.consumer_us_per_record))
        out.baseline_us.append(float(res.baseline_us_per_record))
        out.ratios.append(float(res.ratio))
        out.lines_per_record = int(res.lines_per_record)
    return out


# --- recovery: a redelivered batch ------------------------------------------------------------------------


@dataclass(slots=True)
class RecoverySample:
    """One redelivery of a batch whose first attempt died between two ``PutLogEvents`` calls."""

    cpu_s: float
    """CPU of the redelivery (our code; the clients are in memory), on this machine's full core."""
    get_pages: int
    put_calls: int
    checkpoint_calls: int
    readbacks: int
    lease_wait_s: float
    """Waited (on a clock that only counts) for the dead writer's lease and the settle time."""
    events: int
    written: int


def recovery_records(records: int, lines_per_record: int, first: int = 1) -> list[Any]:
    """``RecordEvents`` of ``records`` Kinesis records (their events, as the consumer normalises them),
    each record a few milliseconds after the previous one, as a busy shard delivers them."""
    from edgeauth.audit.bench import SOURCES, synthetic_records
    from edgeauth.audit.consumer import normalise_record
    from edgeauth.audit.schema import AuditEvent
    from edgeauth.audit.shard_writer import RecordEvents

    out = []
    for n, src in enumerate(synthetic_records(records, lines_per_record)):
        norm = normalise_record(src, SOURCES)
        base = 1_700_000_000_000 + (first + n) * 20
        events = tuple(
            AuditEvent(f"{first + n:08x}{i:024x}", e.kind, base + i % 20, e.fields)
            for i, e in enumerate(norm.events)
        )
        out.append(RecordEvents(first + n, events))
    return out


class _Crash(BaseException):
    """The first attempt's process dies (Powertools and our code catch only Exception)."""


def measure_recovery(
    records: int = 100, lines_per_record: int = 50, *, earlier_batches: int = 3
) -> RecoverySample:
    """The first attempt of a batch writes half its ``PutLogEvents`` calls, then dies (its intent is
    left, lease running); Lambda delivers the batch again at once to a new container. Measured: that
    redelivery, from the checkpoint read to the commit. ``earlier_batches`` batches of the same
    shard are in the log stream first, just before it in time, as they would be."""
    from edgeauth.audit.checkpoint import CheckpointStore
    from edgeauth.audit.shard_writer import ShardWriter
    from edgeauth.audit.writer import AuditLogWriter
    from tests.support.checkpoints import DictCheckpointTable
    from tests.support.clock import FakeClock
    from tests.support.memory_logs import MemoryLogs

    arn, shard = "arn:aws:kinesis:us-east-1:123456789012:stream/audit", "shardId-000000000000"
    logs, table = MemoryLogs(groups={"audit": {}}), DictCheckpointTable()
    clock = FakeClock(1_700_000_100.0)

    def writer() -> ShardWriter:
        return ShardWriter(
            AuditLogWriter("audit", logs, clock=clock.time),  # type: ignore[arg-type]
            CheckpointStore("checkpoints", table),  # type: ignore[arg-type]
            clock=clock.time,
            sleep=clock.sleep,
        )

    first = 1
    for _ in range(earlier_batches):
        writer().write(arn, shard, recovery_records(records, lines_per_record, first))
        first += records
    batch = recovery_records(records, lines_per_record, first)
    puts = {"n": 0}

    def die_halfway(op: str) -> None:
        if op == "put_log_events":
            puts["n"] += 1
            if puts["n"] == 2:
                raise _Crash

    logs.fault = die_halfway
    with contextlib.suppress(_Crash):
        writer().write(arn, shard, batch)
    logs.fault = None
    logs.calls.clear()
    table.calls.clear()
    slept = clock.total_slept
    started = time.process_time()
    out = writer().write(arn, shard, batch)
    cpu = time.process_time() - started
    if out.failed_from is not None:
        raise RuntimeError(f"the redelivery did not complete: {out.error}")
    return RecoverySample(
        cpu_s=cpu,
        get_pages=logs.calls["get_log_events"],
        put_calls=logs.calls["put_log_events"],
        checkpoint_calls=sum(table.calls.values()),
        readbacks=out.readbacks,
        lease_wait_s=clock.total_slept - slept,
        events=sum(len(r.events) for r in batch),
        written=out.written,
    )


def recovery_row(rounds: int) -> Any:
    """Row 7c: the time a redelivered batch of 100 records takes in the stack's consumer (its CPU
    measured here, stretched to the consumer's memory; its calls counted, each at the capacity
    model's estimated wall clock; the wait for the dead writer's lease), against 10 % of the
    consumer's timeout."""
    from bench.capacity import Inputs, recovery_seconds
    from bench.common import Row, percentile

    inp = Inputs()
    samples = [measure_recovery() for _ in range(max(1, rounds))]
    took = sorted(
        recovery_seconds(x.cpu_s, x.get_pages, x.put_calls, x.checkpoint_calls, x.lease_wait_s, inp)
        for x in samples
    )
    limit = 0.10 * inp.consumer_timeout_s
    mid = took[len(took) // 2]
    x = samples[0]
    no_wait = mid - x.lease_wait_s
    return Row(
        "7c",
        f"audit recovery: a redelivered batch of 100 records ({x.events:,} events; the first attempt died mid-write)",
        median=f"{mid * 1000:,.0f} ms",
        spread=f"{percentile(took, 10) * 1000:,.0f} – {percentile(took, 90) * 1000:,.0f} ms",
        ratio=f"{mid / inp.consumer_timeout_s:.1%} of the consumer's timeout",
        target=f"≤ 10% ({limit:g} s)",
        met="yes" if mid <= limit else "NO",
        note=(
            f"the redelivery of edgeauth.audit.shard_writer after a crash between two PutLogEvents calls, "
            f"retried at once by a new container: it waits {x.lease_wait_s:g} s for the dead writer's lease "
            f"and the settle time, reads its window back ({x.get_pages} GetLogEvents page(s), {x.readbacks} "
            f"readback), writes the {x.written:,} missing events ({x.put_calls} PutLogEvents call(s)) and "
            f"commits ({x.checkpoint_calls} checkpoint reads and writes, most of them polls of the lease). "
            f"Time on Lambda = CPU measured here × the consumer's memory stretch + each call at "
            f"bench.capacity's estimate ({inp.consumer_read_page_ms:g} ms a page, {inp.consumer_put_ms:g} ms "
            f"a put, {inp.consumer_checkpoint_ms:g} ms a checkpoint call) + the wait. After a timeout or a "
            f"reported failure there is no lease to wait for: about {no_wait * 1000:,.0f} ms."
        ),
    )
