"""The local event source mapping (edgeauth_local/pollers.py): batch size and batching window as the
template says, as Lambda applies them (a fake stream client and a fake clock; no thread, no sleep)."""

from __future__ import annotations

from typing import Any

import pytest

from edgeauth_local import pollers
from edgeauth_local.pollers import StreamPoller
from edgeauth_local.template import EventSourceSpec


class FakeStream:
    """One DynamoDB stream shard; ``add`` appends records, ``get_records`` reads up to ``Limit``."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.position = 0

    def add(self, n: int) -> None:
        for _ in range(n):
            seq = str(len(self.records) + 1)
            keys = {"pk": {"S": f"ROLE#r{seq}"}, "sk": {"S": "ROLE"}}
            self.records.append(
                {"eventID": seq, "eventName": "INSERT", "dynamodb": {"SequenceNumber": seq, "Keys": keys}}
            )

    def describe_stream(self, StreamArn: str) -> Any:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-0"}]}}

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        return {"ShardIterator": "it"}

    def get_records(self, ShardIterator: str, Limit: int) -> Any:
        out = self.records[self.position : self.position + Limit]
        self.position += len(out)
        return {"Records": out, "NextShardIterator": "it"}


def spec(batch_size: int, window: float) -> EventSourceSpec:
    return EventSourceSpec(
        logical_id="RoleEventsMapping",
        function="RoleEventsFn",
        source_arn="arn:aws:dynamodb:us-east-1:123456789012:table/roles/stream/x",
        kind="dynamodb",
        batch_size=batch_size,
        starting_position="TRIM_HORIZON",
        report_item_failures=True,
        max_retries=3,
        bisect_on_error=True,
        max_batching_window=window,
        enabled=True,
    )


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    clock = [1000.0]
    monkeypatch.setattr(pollers.time, "monotonic", lambda: clock[0])
    return clock


def poller_of(batch_size: int, window: float) -> tuple[StreamPoller, FakeStream, list[int]]:
    stream = FakeStream()
    batches: list[int] = []
    poller = StreamPoller(
        spec(batch_size, window), lambda e: batches.append(len(e["Records"])), stream, "arn"
    )
    for shard_id in poller._list_shards():
        poller._shards[shard_id] = pollers._Shard(shard_id, poller._iterator(shard_id, "TRIM_HORIZON"))
    return poller, stream, batches


def poll(poller: StreamPoller) -> None:
    for shard in poller._shards.values():
        poller._poll_shard(shard)


def test_without_a_window_what_is_there_goes_at_once_in_batches_of_the_batch_size(now: list[float]) -> None:
    poller, stream, batches = poller_of(batch_size=100, window=0)
    stream.add(250)
    for _ in range(3):
        poll(poller)
    assert batches == [100, 100, 50]
    stream.add(1)
    poll(poller)
    assert batches == [100, 100, 50, 1]


def test_a_window_waits_for_a_full_batch_or_its_end(now: list[float]) -> None:
    poller, stream, batches = poller_of(batch_size=10, window=1.0)
    # GIVEN 3 records: within the window, nothing is invoked while more come
    stream.add(3)
    poll(poller)
    now[0] += 0.5
    stream.add(4)
    poll(poller)
    assert batches == []
    # WHEN the window ends, THEN the 7 records go as one batch
    now[0] += 0.5
    poll(poller)
    assert batches == [7]
    # AND a full batch goes at once, without waiting for the window
    stream.add(12)
    poll(poller)
    assert batches == [7, 10]
    poll(poller)
    assert batches == [7, 10] and not poller.drained()  # 2 read, waiting for their window
    now[0] += 1.0
    poll(poller)
    assert batches == [7, 10, 2] and poller.drained()


def test_the_local_stack_polls_a_dynamodb_stream_four_times_a_second() -> None:
    assert pollers.DYNAMODB_POLL_SECONDS == 0.25
