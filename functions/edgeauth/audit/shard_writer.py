"""Exactly once from a Kinesis shard into the audit log group: one log stream per shard, a checkpoint.

The design
----------
``PutLogEvents`` is not idempotent, so something else must remember what was written. Here it is a
checkpoint per Kinesis shard in DynamoDB (:mod:`edgeauth.audit.checkpoint`) and one log stream per
shard (``kinesis/<stream>/<shard>``, created on the shard's first write). For one batch of one shard
(Lambda's Kinesis batches never mix shards), :meth:`ShardWriter.write`:

1. reads the shard's checkpoint (or uses the one it committed last, in this container) and drops
   the records up to ``committed``: a redelivery, a retry after a partial failure, a bisected batch,
   a second invocation after a rebalance: those records are written already;
2. if another writer holds the shard (an intent with a lease that has not run out), waits for the
   lease to end or the intent to go, polling, within the lease (:data:`LEASE_MS`) plus
   :data:`SETTLE_MS`, and starts again from 1 (what the other one committed is then dropped);
3. writes an *intent*, conditional on the version it read: the batch's sequence range, the digest
   of its events, the range of log timestamps it will write and a lease. From here until the
   commit, only it may write to the shard's stream: every later checkpoint write is conditional on
   the version it wrote (a fencing token), and it renews the lease before any ``PutLogEvents``
   attempt that could outlast it (:data:`PUT_ATTEMPT_MS`);
4. only if the checkpoint held a *leftover* intent (its writer crashed, timed out, lost the shard
   or released it after a call whose outcome is unknown) and its lease is over by
   :data:`SETTLE_MS`: reads back that intent's window of the stream (``GetLogEvents`` with the
   intent's time range) and drops the events whose ``id`` is already there. The normal path reads
   nothing back;
5. writes the events in ``PutLogEvents`` calls of at most 1 MB and 10,000 events, filled with whole
   records in sequence order (:func:`edgeauth.audit.batching.plan_calls`). A throttled call (refused,
   so nothing was written) is retried with backoff while the deadline allows; events CloudWatch Logs
   rejects (older than the group's retention, for instance) are written again with the current time
   as their log timestamp (their ``time`` field keeps the truth);
6. commits, conditionally: ``committed`` = the last record whose events are all written, and the
   intent removed, or kept *released* (no owner) when some of its events may be in the stream
   beyond ``committed`` (a call whose outcome is unknown, a record split over calls of which only
   the first went through). The records after ``committed`` are reported as failed, so Lambda
   redelivers exactly those (:attr:`ShardOutcome.failed_from`).

What this guarantees, and what it does not
------------------------------------------
Every line that reaches the shard is one event in the stream, whatever happens on the consumer's
side: retries, partial batch failures, bisection, a crash or timeout between two calls (the next
writer reads the window back), a throttled call (retried, or the rest redelivered), two invocations
on one shard (one waits for the other's lease). Duplicates can still happen in three ways:

* CloudWatch Logs' subscription delivers one log event twice in two Kinesis records (its delivery
  is at least once): same ``id``, two events, in records the checkpoint cannot relate;
* a ``PutLogEvents`` call that CloudWatch Logs applies, or makes visible to ``GetLogEvents``, more
  than :data:`SETTLE_MS` after its writer's lease ended (the writer had given up on it), or clocks of
  two containers that differ by more than that: the readback misses it and its events are written
  again;
* the DynamoDB item deleted by hand while a leftover intent was in it.

All three keep the ``id``: ``dedup id`` in a Logs Insights query removes them (docs/audit.md "Exactly once").

Bounded recovery: a redelivered batch waits at most for a lease plus the settle time (only after a
crash; after a timeout or a reported failure the lease is over already), then reads back one
window (about one batch of events), then writes what is missing. A writer also stops starting calls
when its invocation's deadline is near (:data:`COMMIT_RESERVE_MS` kept for the commit), so a slow
CloudWatch Logs ends in a clean partial failure rather than a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from edgeauth.audit.batching import LogLine, PlannedCall, plan_calls
from edgeauth.audit.checkpoint import (
    Checkpoint,
    CheckpointConflictError,
    CheckpointStore,
    CheckpointStoreError,
    CheckpointThrottledError,
    Intent,
    checkpoint_key,
)
from edgeauth.audit.schema import AuditEvent
from edgeauth.audit.writer import (
    MAX_PAST_MS,
    PUT_CONNECT_TIMEOUT,
    PUT_READ_TIMEOUT,
    AuditLogWriter,
    AuditWriteError,
    AuditWriteThrottledError,
    AuditWriteUncertainError,
    stream_for_shard,
)

LEASE_MS: Final = 3_000
"""How long a writer may write after its last checkpoint write (intent or renewal)."""
SETTLE_MS: Final = 1_000
"""Wait after a leftover intent's lease before reading its window back: a call that ended (client
side) within the lease is then visible to ``GetLogEvents``; also absorbs clock differences."""
PUT_ATTEMPT_MS: Final = int((PUT_CONNECT_TIMEOUT + PUT_READ_TIMEOUT) * 1000)
"""The longest one ``PutLogEvents`` attempt lasts on the client (its timeouts, no retries of botocore)."""
RENEW_MARGIN_MS: Final = 300
COMMIT_RESERVE_MS: Final = 2_500
"""Time kept before the invocation's deadline for the commit (two DynamoDB attempts)."""
POLL_MS: Final = 200
MAX_PUT_ATTEMPTS: Final = 8
BACKOFF_BASE_MS: Final = 100
BACKOFF_CAP_MS: Final = 2_000


@dataclass(frozen=True, slots=True)
class RecordEvents:
    """The events of one Kinesis record (possibly none: a control message, skipped lines)."""

    sequence: int
    events: tuple[AuditEvent, ...]
    arrival_ms: int = 0
    """When Kinesis received the record (epoch ms; 0 when unknown)."""


@dataclass(slots=True)
class ShardOutcome:
    """What one :meth:`ShardWriter.write` did. ``failed_from`` is the first record Lambda must deliver
    again (``None``: the whole batch is done); ``error`` says why it is set."""

    written: int = 0
    duplicates: int = 0
    committed: int | None = None
    failed_from: int | None = None
    error: str | None = None
    readbacks: int = 0
    read_ids: int = 0
    calls: int = 0
    throttled: int = 0
    rejected: int = 0
    waited_ms: int = 0
    """All waiting: for another writer's lease, for a leftover to settle, and backoffs."""
    lease_waited_ms: int = 0
    """The part spent waiting for another writer's lease or a leftover to settle."""
    checkpoint_writes: int = 0
    notes: list[str] = field(default_factory=list)


class _Stop(Exception):
    """Stop writing this batch: ``uncertain`` when the last call's outcome is unknown."""

    def __init__(self, reason: str, *, uncertain: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.uncertain = uncertain


@dataclass(slots=True)
class _Held:
    """The checkpoint as this writer last wrote it (renewals replace it as they go)."""

    cp: Checkpoint


class ShardWriter:
    """Writes batches of one shard's records exactly once (see the module docstring).

    ``logs`` and ``checkpoints`` are the adapters (tests hand them moto or fault-injecting clients);
    ``clock`` returns epoch seconds and ``sleep`` waits (both injectable, so waits can be counted).
    One instance serves a container: it remembers the checkpoint it committed last per shard, so the
    next batch of the shard needs no read (a stale one only costs a conflict and a read).
    """

    def __init__(
        self,
        logs: AuditLogWriter,
        checkpoints: CheckpointStore,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_ms: int = LEASE_MS,
        settle_ms: int = SETTLE_MS,
        put_attempt_ms: int = PUT_ATTEMPT_MS,
        commit_reserve_ms: int = COMMIT_RESERVE_MS,
        max_put_attempts: int = MAX_PUT_ATTEMPTS,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if lease_ms <= put_attempt_ms + RENEW_MARGIN_MS:
            raise ValueError("the lease must outlast one PutLogEvents attempt")
        self.logs = logs
        self.checkpoints = checkpoints
        self._clock = clock
        self._sleep = sleep
        self.lease_ms = lease_ms
        self.settle_ms = settle_ms
        self.put_attempt_ms = put_attempt_ms
        self.commit_reserve_ms = commit_reserve_ms
        self.max_put_attempts = max(1, max_put_attempts)
        self._jitter = jitter
        self._known: dict[str, Checkpoint] = {}

    # --- public ---------------------------------------------------------------------------------------

    def write(
        self,
        stream_arn: str,
        shard_id: str,
        records: Sequence[RecordEvents],
        *,
        deadline_ms: int | None = None,
        key: str | None = None,
        assume_written: bool = False,
    ) -> ShardOutcome:
        """Make every event of ``records`` (one shard, ascending sequence numbers) be in the shard's log
        stream exactly once, and say which records, if any, must be delivered again.

        ``deadline_ms`` (epoch ms) is when the invocation ends. ``key`` and ``assume_written`` are for
        re-driving dead-lettered records (``edgeauth audit replay``): their own checkpoint key, and
        a first readback of their window because an earlier attempt may have written some of them.
        Raises nothing for a failed write: see :attr:`ShardOutcome.failed_from`.
        """
        out = ShardOutcome()
        if not records:
            return out
        records = sorted(records, key=lambda r: r.sequence)
        deadline = deadline_ms if deadline_ms is not None else self._now() + 3_600_000
        cp_key = key or checkpoint_key(stream_arn, shard_id)
        log_stream = stream_for_shard(stream_arn, shard_id)
        try:
            self._write(out, cp_key, log_stream, records, deadline, assume_written)
        except CheckpointStoreError as e:
            # The checkpoint cannot be read or written: nothing more is done; what was committed stays.
            out.error = f"checkpoint: {e}"
            out.throttled += isinstance(e, CheckpointThrottledError)
            self._fail_from(out, records)
        return out

    # --- the protocol ---------------------------------------------------------------------------------

    def _write(
        self,
        out: ShardOutcome,
        cp_key: str,
        log_stream: str,
        records: list[RecordEvents],
        deadline: int,
        assume_written: bool,
    ) -> None:
        cp = self._known.pop(cp_key, None) or self.checkpoints.read(cp_key)
        if cp.version == 0 and assume_written:
            cp = replace(cp, committed=records[0].sequence - 1)
        # 1-3: drop what is committed; wait for another writer; write our intent.
        per_record: list[tuple[int, list[LogLine]]] = []
        while True:
            pending = [r for r in records if cp.committed is None or r.sequence > cp.committed]
            out.committed = cp.committed
            if not pending:
                out.duplicates += sum(len(r.events) for r in records)
                self._known[cp_key] = cp
                return
            now = self._now()
            leftover = cp.intent
            if leftover is not None and now < leftover.lease_until_ms + self.settle_ms:
                ready = leftover.lease_until_ms + self.settle_ms
                if ready > deadline - self.put_attempt_ms - self.commit_reserve_ms:
                    out.error = "shard held by another writer until past this invocation's deadline"
                    self._fail_from(out, records)
                    return
                pause = min(POLL_MS, ready - now) if leftover.owner is not None else ready - now
                self._wait(out, pause)
                out.lease_waited_ms += pause
                cp = self.checkpoints.read(cp_key)
                continue
            per_record = [(r.sequence, self.logs.lines(r.events)) for r in pending]
            if leftover is None and cp.version == 0 and assume_written:
                leftover = self._assumed_window(pending, per_record)
            owner = secrets.token_hex(8)
            intent = self._intent(owner, now, deadline, per_record, leftover)
            try:
                cp = self._checkpoint(out, cp, committed=cp.committed, intent=intent)
            except CheckpointConflictError as e:
                cp = e.current if e.current is not None else self.checkpoints.read(cp_key)
                continue
            break
        pending_sequences = {r.sequence for r in pending}
        out.duplicates += sum(len(r.events) for r in records if r.sequence not in pending_sequences)
        previous = cp.committed

        # 4: read back a leftover's window.
        if leftover is not None:
            try:
                present = self.logs.ids_between(log_stream, leftover.min_ms, leftover.max_ms + 1)
            except AuditWriteError as e:
                out.error = f"readback: {e}"
                self._release(out, cp)
                self._fail_from(out, records)
                return
            out.readbacks += 1
            out.read_ids += len(present)
            kept = []
            for sequence, lines in per_record:
                fresh = [ln for ln in lines if ln.id not in present]
                out.duplicates += len(lines) - len(fresh)
                kept.append((sequence, fresh))
            per_record = kept

        # 5: write the calls, whole records in sequence order.
        calls, head = plan_calls(per_record)
        through = head
        landed: list[PlannedCall] = []
        unknown: PlannedCall | None = None
        stop: _Stop | None = None
        held = _Held(cp)
        for call in calls:
            try:
                self._put(out, held, log_stream, call, deadline)
            except _Stop as s:
                stop = s
                unknown = call if s.uncertain else None
                break
            except CheckpointConflictError:
                # Someone took the shard over (our lease had run out): it reads back our window.
                out.error = "lost the shard to another writer"
                self._fail_from(out, records)
                return
            landed.append(call)
            through = call.through
        else:
            through = pending[-1].sequence
        cp = held.cp

        # 6: commit what is complete; keep a released intent over whatever may lie beyond it.
        committed = previous if through is None else through
        uncertain = [c for c in landed if committed is None or c.last_record > committed]
        if unknown is not None:
            uncertain.append(unknown)
        windows = [(c.min_ms, c.max_ms, c.last_record) for c in uncertain]
        if leftover is not None and (committed is None or leftover.last > committed):
            windows.append((leftover.min_ms, leftover.max_ms, leftover.last))
        after = None
        if windows and cp.intent is not None:
            high = max(w[1] for w in windows)
            if out.rejected:  # lines written again stamped now: the renewals widened the intent to them
                high = max(high, cp.intent.max_ms)
            after = replace(
                cp.intent,
                min_ms=min(w[0] for w in windows),
                max_ms=high,
                last=max(w[2] for w in windows),
            ).released(self._now())
        try:
            cp = self._checkpoint(out, cp, committed=committed, intent=after)
        except CheckpointConflictError:
            out.error = "lost the shard to another writer before the commit"
            self._fail_from(out, records)
            return
        self._known[cp_key] = cp
        out.committed = committed
        if stop is not None:
            out.error = stop.reason
            self._fail_from(out, records)

    # --- steps ----------------------------------------------------------------------------------------

    def _intent(
        self,
        owner: str,
        now: int,
        deadline: int,
        per_record: list[tuple[int, list[LogLine]]],
        leftover: Intent | None,
    ) -> Intent:
        stamps = [ln.timestamp for _, lines in per_record for ln in lines]
        low = min(stamps, default=now)
        high = max(stamps, default=now)
        last = per_record[-1][0]
        if leftover is not None:
            low, high, last = min(low, leftover.min_ms), max(high, leftover.max_ms), max(last, leftover.last)
        digest = hashlib.sha256()
        for sequence, lines in per_record:
            digest.update(f"{sequence}:".encode())
            for ln in lines:
                digest.update(ln.id.encode())
        return Intent(
            owner=owner,
            lease_until_ms=min(now + self.lease_ms, deadline),
            first=per_record[0][0],
            last=last,
            min_ms=low,
            max_ms=high,
            digest=digest.hexdigest()[:32],
        )

    def _put(self, out: ShardOutcome, held: _Held, log_stream: str, call: PlannedCall, deadline: int) -> None:
        """Write one call, retrying refusals (``held`` follows the lease renewals)."""
        lines = list(call.lines)
        attempt = 0
        restamped = False
        while lines:
            held.cp = self._hold(out, held.cp, deadline, lines)
            attempt += 1
            out.calls += 1
            try:
                rejected = self.logs.put_lines(log_stream, lines)
            except AuditWriteThrottledError as e:
                out.throttled += 1
                if attempt >= self.max_put_attempts:
                    raise _Stop(f"throttled {attempt} times: {e}") from e
                delay = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)) * (0.5 + self._jitter() / 2)
                if self._now() + delay > deadline - self.put_attempt_ms - self.commit_reserve_ms:
                    raise _Stop(f"throttled until the deadline: {e}") from e
                self._wait(out, int(delay))
                continue
            except AuditWriteUncertainError as e:
                raise _Stop(str(e), uncertain=True) from e
            except AuditWriteError as e:
                raise _Stop(str(e)) from e
            written = len(lines) - len(rejected)
            out.written += written
            if not rejected:
                return
            # Rejected for their timestamp (older than the group's retention, ...): write them again
            # stamped now, which CloudWatch Logs accepts; the window of the intent grows to cover them.
            out.rejected += len(rejected)
            if restamped:  # rejected even stamped now: give up on this call (the rest of it is written)
                raise _Stop(f"{len(rejected)} events rejected even stamped now", uncertain=True)
            restamped = True
            now = self._now()
            lines = [LogLine(now, lines[i].message, lines[i].id) for i in rejected]
            attempt = 0

    def _hold(self, out: ShardOutcome, cp: Checkpoint, deadline: int, lines: list[LogLine]) -> Checkpoint:
        """Make sure the lease outlasts one attempt (renewing it, conditionally), and the deadline too."""
        now = self._now()
        if now + self.put_attempt_ms + self.commit_reserve_ms > deadline:
            raise _Stop("the invocation's deadline is near")
        intent = cp.intent
        if intent is None or intent.owner is None:  # cannot happen: the intent was written before any call
            raise _Stop("no intent held")
        low, high = min(lines[0].timestamp, intent.min_ms), max(lines[-1].timestamp, intent.max_ms)
        if intent.lease_until_ms - now >= self.put_attempt_ms + RENEW_MARGIN_MS and (low, high) == (
            intent.min_ms,
            intent.max_ms,
        ):
            return cp
        renewed = replace(intent, lease_until_ms=min(now + self.lease_ms, deadline), min_ms=low, max_ms=high)
        return self._checkpoint(out, cp, committed=cp.committed, intent=renewed)

    def _assumed_window(
        self, pending: list[RecordEvents], per_record: list[tuple[int, list[LogLine]]]
    ) -> Intent | None:
        """Where an earlier attempt may have written these records' events (for a replay, which knows
        nothing of it): their log timestamps, and, for events older than CloudWatch Logs accepts
        (their timestamp clamped to the writer's clock), as far back as a clamp at their arrival."""
        lines = [ln for _, lns in per_record for ln in lns]
        if not lines:
            return None
        low = min(ln.timestamp for ln in lines)
        high = max(ln.timestamp for ln in lines)
        clamped = min(ev.time_ms for r in pending for ev in r.events) < low  # some event stamped later
        arrivals = [r.arrival_ms for r in pending if r.arrival_ms > 0]
        if clamped and arrivals:
            low = min(low, min(arrivals) - MAX_PAST_MS)
        return Intent(None, 0, pending[0].sequence, pending[-1].sequence, low, high, "")

    def _release(self, out: ShardOutcome, cp: Checkpoint) -> None:
        """Give the shard up at once (the next writer need not wait for the lease), keeping the window."""
        if cp.intent is None:
            return
        with contextlib.suppress(CheckpointConflictError, CheckpointStoreError):  # else the lease runs out
            self._checkpoint(out, cp, committed=cp.committed, intent=cp.intent.released(self._now()))

    def _checkpoint(
        self, out: ShardOutcome, held: Checkpoint, *, committed: int | None, intent: Intent | None
    ) -> Checkpoint:
        out.checkpoint_writes += 1
        return self.checkpoints.write(held, committed=committed, intent=intent)

    def _fail_from(self, out: ShardOutcome, records: Sequence[RecordEvents]) -> None:
        out.failed_from = next(
            (r.sequence for r in records if out.committed is None or r.sequence > out.committed), None
        )

    def _wait(self, out: ShardOutcome, ms: int) -> None:
        if ms > 0:
            out.waited_ms += ms
            self._sleep(ms / 1000)

    def _now(self) -> int:
        return int(self._clock() * 1000)
