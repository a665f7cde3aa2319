"""Event source mappings: poll a Kinesis stream or a DynamoDB stream and invoke a function (and
:class:`UsagePlanPoller`, the local gateway's periodic re-read of API keys and usage plans).

What the Lambda service does for a stream event source mapping, per shard, in order:

* read up to ``BatchSize`` records and invoke the function with one Lambda stream event
  (``Records`` with ``eventSourceARN``, ``eventID`` …, Kinesis data base64-encoded): at once
  without a ``MaximumBatchingWindowInSeconds``; with one, when the batch is full or the window
  since its first record has passed, whichever comes first. One batch at a time per shard: the
  next is read once the function returned;
* success: move past the batch. With ``ReportBatchItemFailures``, a response naming failed records
  (``batchItemFailures[].itemIdentifier`` = sequence number) checkpoints before the lowest one and
  redelivers from it; an identifier that is not in the batch fails the whole batch;
* a function error or timeout retries the whole batch (halved first when
  ``BisectBatchOnFunctionError``), with backoff, up to ``MaximumRetryAttempts`` (``-1``: forever,
  as on AWS until the records expire); after that the batch is discarded and counted in
  :attr:`StreamPoller.discarded`, and, with an on-failure destination (``DestinationConfig``), its
  coordinates are sent there as Lambda sends them (an invocation record with ``KinesisBatchInfo`` or
  ``DDBStreamBatchInfo``: shard, first and last sequence numbers, the stream's ARN), which is what
  ``edgeauth audit replay`` reads.

Starting position: the local streams are created empty when the stack starts, so the pollers read
from ``TRIM_HORIZON`` whatever the template says, and no record written at start-up is missed.

Polling: a DynamoDB stream's shards every :data:`DYNAMODB_POLL_SECONDS` (Lambda polls them four
times a second), a Kinesis stream's every ``interval`` given (0.1 s by default).
"""

from __future__ import annotations

import base64
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgeauth_local.lambdas import LambdaError
from edgeauth_local.template import REGION, EventSourceSpec

Invoke = Callable[[dict[str, Any]], Any]
OnFailure = Callable[[str], None]
"""Sends one on-failure record (a JSON document) to the mapping's on-failure destination."""
MAX_BACKOFF = 5.0
DYNAMODB_POLL_SECONDS = 0.25
"""Lambda polls each shard of a DynamoDB stream four times a second (AWS Lambda developer guide)."""


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    retries: int = 0
    limit: int = 0
    last_error: str | None = None
    delivered: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)
    window_started: float = 0.0
    """When the first record of the pending batch was read (monotonic)."""


class StreamPoller:
    """One event source mapping (one stream, one function), polled in a background thread."""

    def __init__(
        self,
        spec: EventSourceSpec,
        invoke: Invoke,
        client: Any,
        stream_arn: str,
        *,
        interval: float = 0.1,
        role_arn: str = "",
        on_failure: OnFailure | None = None,
        function_arn: str = "",
    ) -> None:
        self.spec = spec
        self._on_failure = on_failure
        self._function_arn = function_arn
        self._invoke = invoke
        self._client = client
        self.stream_arn = stream_arn
        self._interval = interval
        self._role_arn = role_arn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"esm-{spec.logical_id}", daemon=True)
        self._shards: dict[str, _Shard] = {}
        self.batches = 0
        self.delivered = 0
        self.discarded = 0
        self.retried = 0
        self.idle = threading.Event()
        """Set when a full pass over the shards found nothing to deliver."""
        self.invocations: deque[tuple[int, float]] = deque(maxlen=1000)
        """``(records, seconds)`` of the latest invocations: how long each held its shard."""

    # -- stream access -------------------------------------------------------------------------------

    def _list_shards(self) -> list[str]:
        if self.spec.kind == "kinesis":
            resp = self._client.list_shards(StreamARN=self.stream_arn)
            return [s["ShardId"] for s in resp.get("Shards", [])]
        desc = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in desc.get("Shards", [])]

    def _iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> str:
        args: dict[str, Any] = {"ShardId": shard_id, "ShardIteratorType": kind}
        if sequence is not None:
            args["StartingSequenceNumber"] = sequence
        if self.spec.kind == "kinesis":
            it: str = self._client.get_shard_iterator(StreamARN=self.stream_arn, **args)["ShardIterator"]
        else:
            it = self._client.get_shard_iterator(StreamArn=self.stream_arn, **args)["ShardIterator"]
        return it

    def _read(self, shard: _Shard, limit: int) -> list[dict[str, Any]]:
        if shard.iterator is None:
            return []
        if self.spec.kind == "kinesis":
            resp = self._client.get_records(
                ShardIterator=shard.iterator, Limit=limit, StreamARN=self.stream_arn
            )
        else:
            resp = self._client.get_records(ShardIterator=shard.iterator, Limit=limit)
        shard.iterator = resp.get("NextShardIterator")
        records: list[dict[str, Any]] = resp.get("Records", [])
        return records

    # -- events ----------------------------------------------------------------------------------------

    def _sequence(self, record: dict[str, Any]) -> str:
        if self.spec.kind == "kinesis":
            return str(record["SequenceNumber"])
        return str(record["dynamodb"]["SequenceNumber"])

    def _event_record(self, shard_id: str, record: dict[str, Any]) -> dict[str, Any]:
        if self.spec.kind == "kinesis":
            arrival = record.get("ApproximateArrivalTimestamp")
            ts = arrival.timestamp() if isinstance(arrival, datetime) else float(arrival or time.time())
            return {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.get("PartitionKey", ""),
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(record["Data"]).decode(),
                    "approximateArrivalTimestamp": ts,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{record['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": self._role_arn,
                "awsRegion": REGION,
                "eventSourceARN": self.spec.source_arn,
            }
        out = dict(record)
        dyn = dict(out.get("dynamodb") or {})
        created = dyn.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dyn["ApproximateCreationDateTime"] = int(created.timestamp())
        out["dynamodb"] = dyn
        out["eventSourceARN"] = self.stream_arn
        out.setdefault("awsRegion", REGION)
        return out

    # -- loop --------------------------------------------------------------------------------------------

    def start(self) -> None:
        for shard_id in self._list_shards():
            self._shards[shard_id] = _Shard(shard_id, self._iterator(shard_id, "TRIM_HORIZON"))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                for shard in self._shards.values():
                    if self._stop.is_set():
                        break
                    busy = self._poll_shard(shard) or busy
            except Exception as e:  # a stream read failure must not kill the poller
                print(f"edgeauth-local: {self.spec.logical_id}: stream read failed: {e}", file=sys.__stderr__)
                self._stop.wait(1.0)
            if busy:
                self.idle.clear()
            else:
                self.idle.set()
                self._stop.wait(self._interval)

    def _poll_shard(self, shard: _Shard) -> bool:
        limit = shard.limit or self.spec.batch_size
        window = self.spec.max_batching_window
        if not shard.pending:
            shard.pending = self._read(shard, self.spec.batch_size)
            shard.window_started = time.monotonic()
        elif window > 0 and shard.retries == 0 and len(shard.pending) < self.spec.batch_size:
            shard.pending += self._read(shard, self.spec.batch_size - len(shard.pending))
        if not shard.pending:
            return False
        if (
            window > 0
            and shard.retries == 0
            and len(shard.pending) < limit
            and time.monotonic() - shard.window_started < window
        ):
            return False  # the batching window: wait for a full batch, or the window's end
        batch = shard.pending[:limit]
        event = {"Records": [self._event_record(shard.shard_id, r) for r in batch]}
        self.batches += 1
        started = time.monotonic()
        try:
            result = self._invoke(event)
            failed = self._failed_index(batch, result)
        except LambdaError as e:
            shard.last_error = f"{e.error_type}: {e.error_message}"
            failed = 0
            if self.spec.bisect_on_error and len(batch) > 1:
                shard.limit = max(1, len(batch) // 2)
        self.invocations.append((len(batch), time.monotonic() - started))
        if failed is None:
            shard.pending = shard.pending[len(batch) :]
            shard.retries, shard.limit = 0, 0
            shard.window_started = time.monotonic()  # what is left starts the next window
            shard.delivered += len(batch)
            self.delivered += len(batch)
            return True
        # Redeliver from the first failed record (everything before it is checkpointed).
        self.delivered += failed
        shard.pending = shard.pending[failed:]
        shard.retries += 1
        self.retried += 1
        if self.spec.max_retries >= 0 and shard.retries > self.spec.max_retries:
            dropped = len(batch) - failed
            print(
                f"edgeauth-local: {self.spec.logical_id}: discarding {dropped} record(s) after "
                f"{self.spec.max_retries} retries ({shard.last_error or 'partial batch failure'})",
                file=sys.__stderr__,
            )
            self._send_on_failure(shard, shard.pending[:dropped], shard.retries)
            shard.pending = shard.pending[dropped:]
            self.discarded += dropped
            shard.retries, shard.limit = 0, 0
            return True
        self._stop.wait(min(MAX_BACKOFF, 0.1 * 2 ** min(shard.retries, 6)))
        return True

    def _send_on_failure(self, shard: _Shard, records: list[dict[str, Any]], invocations: int) -> None:
        """The invocation record Lambda sends to an on-failure destination for a discarded batch."""
        if self._on_failure is None or not records:
            return
        import json
        import uuid

        def arrival(record: dict[str, Any]) -> str:
            stamp = record.get("ApproximateArrivalTimestamp") or (record.get("dynamodb") or {}).get(
                "ApproximateCreationDateTime"
            )
            when = (
                stamp if isinstance(stamp, datetime) else datetime.fromtimestamp(float(stamp or time.time()))
            )
            return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"

        info = {
            "shardId": shard.shard_id,
            "startSequenceNumber": self._sequence(records[0]),
            "endSequenceNumber": self._sequence(records[-1]),
            "approximateArrivalOfFirstRecord": arrival(records[0]),
            "approximateArrivalOfLastRecord": arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": self.stream_arn,
        }
        document = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            ("KinesisBatchInfo" if self.spec.kind == "kinesis" else "DDBStreamBatchInfo"): info,
        }
        try:
            self._on_failure(json.dumps(document))
        except Exception as e:  # the destination failing must not stop the poller
            print(f"edgeauth-local: {self.spec.logical_id}: on-failure destination: {e}", file=sys.__stderr__)

    def _failed_index(self, batch: list[dict[str, Any]], result: Any) -> int | None:
        """Index of the first record to redeliver, or ``None`` when the batch succeeded."""
        if not self.spec.report_item_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures")
        if not failures:
            return None
        sequences = [self._sequence(r) for r in batch]
        indexes = []
        for f in failures:
            ident = f.get("itemIdentifier") if isinstance(f, dict) else None
            if not ident or ident not in sequences:
                return 0  # an unknown identifier fails the whole batch
            indexes.append(sequences.index(ident))
        return min(indexes)

    def drained(self) -> bool:
        """True when every record read so far has been delivered (or discarded)."""
        return all(not s.pending for s in self._shards.values())


class UsagePlanPoller:
    """Re-reads API keys and usage plans every ``interval`` seconds in a background thread.

    The local stack also re-reads them on every write through API Gateway's API (see
    :mod:`edgeauth_local.moto_server`); this loop bounds how long any other change takes to reach
    the gateway. ``refresh`` must not raise (:meth:`edgeauth_local.throttle.UsagePlans.refresh`
    reports its own failures)."""

    def __init__(self, refresh: Callable[[], object], interval: float) -> None:
        self._refresh = refresh
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-plans", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._refresh()
